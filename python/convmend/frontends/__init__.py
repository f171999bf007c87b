"""Framework frontends: Keras, TensorFlow SavedModel and PyTorch models into the IR.

Each frontend walks the framework's own objects (Keras layers and weights, the frozen graph
of a SavedModel's serving function, a ``torch.export`` program) and builds the IR through
the C++ graph builder (``convmend._core.Graph().add_input/add_constant/add_node``), giving
every node the name it has in its framework as provenance. ONNX and TFLite files are read
by the C++ readers directly.

``load_graph`` dispatches by format. Files that can carry code (Keras Lambda layers,
pickled PyTorch modules) are refused unless ``trust=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convmend.errors import ConvmendError


class UnsupportedLayers(ConvmendError):
    """A model uses layers or ops the frontend cannot express in the IR; all are listed."""

    def __init__(self, framework: str, names: dict[str, list[str]]) -> None:
        listed = "; ".join(f"{kind} ({', '.join(where[:3])}{', ...' if len(where) > 3 else ''})"
                           for kind, where in sorted(names.items()))
        super().__init__(f"unsupported {framework} layers/ops ({len(names)}): {listed}")
        self.framework = framework
        self.names = names


def load_graph(path: str | Path, trust: bool = False) -> Any:
    """Any of the five formats into an IR graph (``convmend._core.Graph``), verified."""
    from convmend import _core
    from convmend.convert.check import model_format

    fmt = model_format(path)
    if fmt in ("onnx", "tflite"):
        return _core.load(str(path))
    if fmt == "keras":
        from convmend.frontends import keras as frontend
    elif fmt == "tf":
        from convmend.frontends import tf as frontend
    else:
        from convmend.frontends import torch as frontend
    return frontend.load(Path(path), trust=trust)
