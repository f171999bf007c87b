"""The C++ engine as Python sees it: IR graphs loaded from .onnx/.tflite files, and the
interpreter that runs them on numpy arrays with optional per-node tracing.

Everything heavy (reading, verifying, running, comparing) happens in ``convmend._core``;
this module only adds conveniences that need numpy.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError

try:
    from convmend import _core
except ImportError as exc:  # the extension is built by `make setup` / `pip install -e .`
    raise ConvmendError(
        f"the convmend C++ extension is not built ({exc}); run `make setup`"
    ) from exc

Graph = _core.Graph
Interpreter = _core.Interpreter
ENGINE_FORMATS = (".onnx", ".tflite")
FRONTEND_SUFFIXES = (".keras", ".h5", ".hdf5", ".pt", ".pth", ".pt2")


def load(path: str | Path, trust: bool = False) -> Any:
    """Read a model into an IR graph (verified on the way in): .onnx and .tflite by the C++
    readers, Keras, TF SavedModel and PyTorch files by the frontends. ``trust`` allows files
    that carry code (Keras Lambda layers, pickled PyTorch modules)."""
    p = Path(path)
    if not p.exists():
        raise ConvmendError(f"model file not found: {p}")
    if not p.is_dir() and p.suffix.lower() not in FRONTEND_SUFFIXES:
        return _core.load(str(p))  # ONNX or TFLite, told apart by content
    from convmend.frontends import load_graph

    return load_graph(p, trust=trust)


def structurally_equal(a: Any, b: Any) -> tuple[bool, str]:
    """(equal, first difference) comparing ops, attributes, wiring, shapes and weights."""
    return _core.structurally_equal(a, b)


def summarize(graph: Any) -> dict[str, Any]:
    """What `convmend inspect` shows: I/O, op counts, parameters by dtype, quantization."""
    nodes = graph.nodes()
    values = graph.values()
    consts = [v for v in values if v["constant"]]
    params_by_dtype: Counter[str] = Counter()
    for v in consts:
        params_by_dtype[v["dtype"]] += int(np.prod(v["shape"], dtype=np.int64)) if v["shape"] else 1
    quantized = [v for v in consts if "quant" in v]
    layouts = Counter(v["layout"] for v in values if v["layout"] != "?")
    return {
        "name": graph.name,
        "metadata": dict(graph.metadata),
        "inputs": graph.inputs(),
        "outputs": graph.outputs(),
        "node_count": len(nodes),
        "ops": dict(sorted(Counter(n["op"] for n in nodes).items(), key=lambda kv: -kv[1])),
        "source_ops": dict(sorted(Counter(n["provenance"]["op_type"] for n in nodes).items(),
                                  key=lambda kv: -kv[1])),
        "parameters": dict(params_by_dtype),
        "parameter_count": int(sum(params_by_dtype.values())),
        "quantized_tensors": len(quantized),
        "per_channel_quantized": sum(1 for v in quantized if len(v["quant"]["scale"]) > 1),
        "layouts": dict(layouts),
    }
