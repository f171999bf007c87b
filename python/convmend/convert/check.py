"""Open a model in its native runtime and run it once: the load check of a conversion.

Run in a subprocess (``python -m convmend.convert.check MODEL``) because a broken model can
abort the runtime that loads it. Prints one ``CONVMEND_RESULT`` line: the model's format,
inputs, outputs and input contract, and the output shape of one run on a zero batch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULT_PREFIX = "CONVMEND_RESULT "


def model_format(path: str | Path) -> str:
    """The framework a model file belongs to, from its name (a SavedModel is a folder)."""
    from convmend.errors import ConvmendError

    p = Path(path)
    if not p.exists():
        raise ConvmendError(f"model not found: {p}")
    if p.is_dir():
        if (p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists():
            return "tf"
        raise ConvmendError(f"{p} is a directory without saved_model.pb, so not a TF "
                           "SavedModel")
    suffix = p.suffix.lower()
    for fmt, suffixes in (("onnx", (".onnx",)), ("tflite", (".tflite",)),
                          ("keras", (".keras", ".h5", ".hdf5")),
                          ("torch", (".pt", ".pth", ".pt2"))):
        if suffix in suffixes:
            return fmt
    raise ConvmendError(f"unknown model format for {p.name}: expected .onnx, .tflite, .keras, "
                        ".h5, .pt/.pth/.pt2 or a SavedModel folder")


def probe(path: str | Path) -> dict[str, Any]:
    """Load and run once; what ``convmend convert`` records about a model."""
    import numpy as np

    from convmend import contract as contracts
    from convmend.errors import ConvmendError
    from convmend.runners import open_runner

    fmt = model_format(path)
    runner = open_runner(path, num_threads=1)
    inputs = runner.inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise RuntimeError(f"the model has {len(inputs)} inputs ({names}); an image model has one")
    info = inputs[0]
    shape = [1 if i == 0 or d is None or d < 0 else int(d) for i, d in enumerate(info.shape)]
    out = runner.run({info.name: np.zeros(shape, dtype=np.float32)})
    try:
        contract: dict[str, Any] | None = contracts.contract_of(path, runner).to_dict()
        contract_error = None
    except ConvmendError as exc:  # loads and runs, but photos cannot be fed as it is
        contract, contract_error = None, str(exc)
    return {
        "format": fmt,
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype} for i in inputs],
        "outputs": [{"name": o.name, "shape": list(o.shape), "dtype": o.dtype}
                    for o in runner.outputs()],
        "output_shape": list(np.asarray(out[0]).shape),
        "contract": contract,
        "contract_error": contract_error,
    }


def main(argv: list[str]) -> int:
    try:
        result = probe(argv[1])
    except Exception as exc:  # any failure to load or run is the finding, reported upward
        message = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        print(RESULT_PREFIX + json.dumps({"error": message}), flush=True)
        return 3
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
