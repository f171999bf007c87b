"""The third-party converters of the main environment (onnx2torch, onnx2tf, nobuco,
litert-torch), each run as a subprocess task of ``thirdparty.py`` on the zoo's
MobileNetV2, its output loaded back in a fresh process by its native runtime and compared
with the source on a seeded random input."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convmend.convert import protocol
from convmend.zoo import build

# Each converter alone; `make test` covers them through the reduced matrix.
pytestmark = pytest.mark.heavy

ROOT = Path(__file__).resolve().parents[2]
THIRDPARTY = ROOT / "python" / "convmend" / "convert" / "thirdparty.py"
MAX_REL_ERR = 1e-4
TIMEOUT = 900
NCHW = [1, 3, 224, 224]
NHWC = [1, 224, 224, 3]

# Runs in a fresh process: TensorFlow, tf_keras and the converters stay out of pytest's.
# The reference is the source itself: the ONNX file in onnxruntime, or the torch module.
CHECK = r"""
import json, sys
import numpy as np

kind, src, out = sys.argv[1:4]
x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
if src.endswith(".onnx"):
    import onnxruntime as ort
    ref = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
else:
    import torch
    from convmend.convert.torch_source import load_module
    with torch.no_grad():
        ref = load_module(src)(torch.from_numpy(x)).numpy()
extra = {}
if kind == "pt2":
    import torch
    with torch.no_grad():
        got = torch.export.load(out).module()(torch.from_numpy(x)).numpy()
    shape = list(x.shape)
elif kind == "tflite":
    from ai_edge_litert.interpreter import Interpreter
    interpreter = Interpreter(model_path=out)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    shape = [int(d) for d in inp["shape"]]
    extra["dtype"] = np.dtype(inp["dtype"]).name
    interpreter.set_tensor(inp["index"], x if shape == list(x.shape) else nhwc)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
elif kind == "saved_model":
    import tensorflow as tf
    signature = tf.saved_model.load(out).signatures["serving_default"]
    ((name, spec),) = signature.structured_input_signature[1].items()
    shape = spec.shape.as_list()
    got = signature(**{name: tf.constant(x if shape == list(x.shape) else nhwc)})
    got = np.asarray(next(iter(got.values())))
elif kind == "tf_keras":
    import keras
    try:
        keras.models.load_model(out)
        extra["keras3_loads"] = True
    except Exception as exc:
        extra["keras3_loads"] = False
        extra["keras3_error"] = str(exc)[:200]
    import tf_keras
    model = tf_keras.models.load_model(out)
    shape = [int(d) for d in model.inputs[0].shape]
    got = np.asarray(model(x if shape == list(x.shape) else nhwc))
diff = float(np.abs(got - ref).max())
print(json.dumps({"input_shape": shape, "shape": list(got.shape), "max_abs": diff,
                  "rel": diff / float(np.abs(ref).max()),
                  "same_top1": bool(got.argmax() == ref.argmax()), **extra}))
"""


def _installed(*packages: str) -> None:
    for package in packages:
        try:
            importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{package} not installed (requirements-converters*.txt)")


@pytest.fixture(scope="module", autouse=True)
def zoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache unless CONVMEND_CACHE points at one to reuse across runs."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("CONVMEND_CACHE"):
            patch.setenv("CONVMEND_CACHE", str(tmp_path_factory.mktemp("zoo")))
        yield build.cache_dir()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        check=False,
    )


def run_task(task: str, src: Path, out: Path, options: dict[str, Any] | None = None) -> dict:
    job = {
        "task": task,
        "src": str(src),
        "out": str(out),
        "options": options or {},
        "model": {"input_shape": NCHW, "input_layout": "nchw"},
    }
    proc = _run([sys.executable, str(THIRDPARTY), json.dumps(job)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(protocol.RESULT_PREFIX)]
    assert len(lines) == 1, proc.stdout[-2000:]
    return json.loads(lines[0][len(protocol.RESULT_PREFIX) :])


def compare(kind: str, src: Path, out: Path) -> dict[str, Any]:
    proc = _run([sys.executable, "-c", CHECK, kind, str(src), str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _agrees(result: dict[str, Any]) -> None:
    assert result["shape"] == [1, 1000]
    assert result["rel"] <= MAX_REL_ERR, result
    assert result["same_top1"]


def test_onnx2torch_mobilenet_v2_pt2_matches_onnx(tmp_path: Path) -> None:
    _installed("onnx2torch")
    src = build.onnx_from_torch("mobilenet_v2")
    out = tmp_path / "model.pt2"
    notes = run_task("onnx2torch", src, out)
    assert notes["version"] == "1.5.15"
    assert notes["input_shape"] == NCHW
    # Measured: max abs 1.0e-5 on logits of magnitude ~7.8 (rel 1.3e-6).
    result = compare("pt2", src, out)
    assert result["input_shape"] == NCHW
    _agrees(result)


def test_onnx2tf_mobilenet_v2_saved_model_is_nhwc_and_matches_onnx(tmp_path: Path) -> None:
    _installed("onnx2tf", "tf_keras")
    src = build.onnx_from_torch("mobilenet_v2")
    out = tmp_path / "saved_model"
    notes = run_task("onnx2tf", src, out, {"output": "saved_model"})
    assert notes["version"] == "1.29.24"
    # onnx2tf turns the NCHW ONNX input into NHWC.
    assert notes["input_shape"] == NHWC and notes["input_layout"] == "nhwc"
    assert (out / "saved_model.pb").exists()
    assert not list(tmp_path.glob(".onnx2tf-*"))  # its work dir is gone
    # Measured: max abs 1.1e-5.
    result = compare("saved_model", src, out)
    assert result["input_shape"] == NHWC
    _agrees(result)


def test_onnx2tf_mobilenet_v2_tflite_float32_matches_onnx(tmp_path: Path) -> None:
    _installed("onnx2tf", "tf_keras")
    src = build.onnx_from_torch("mobilenet_v2")
    out = tmp_path / "model.tflite"
    notes = run_task("onnx2tf", src, out, {"output": "tflite"})
    assert notes["input_shape"] == NHWC
    # Measured: max abs 1.2e-5.
    result = compare("tflite", src, out)
    assert result["input_shape"] == NHWC and result["dtype"] == "float32"
    _agrees(result)


@pytest.mark.slow  # about 3 min: tf_keras takes ~100 s to deserialize onnx2tf's layers
def test_onnx2tf_mobilenet_v2_keras_loads_only_with_tf_keras(tmp_path: Path) -> None:
    _installed("onnx2tf", "tf_keras")
    src = build.onnx_from_torch("mobilenet_v2")
    out = tmp_path / "model.keras"
    notes = run_task("onnx2tf", src, out, {"output": "keras"})
    assert notes["input_shape"] == NHWC
    result = compare("tf_keras", src, out)
    # onnx2tf builds a tf_keras (Keras 2) model: Keras 3 cannot find its classes.
    assert result["keras3_loads"] is False
    assert result["input_shape"] == NHWC
    _agrees(result)


@pytest.mark.slow  # about 1 min to convert + 15 s to load
def test_nobuco_mobilenet_v2_keras_is_nhwc_and_matches_torch(tmp_path: Path) -> None:
    _installed("nobuco", "tf_keras")
    src = build.torch_module("mobilenet_v2")
    out = tmp_path / "model.keras"
    notes = run_task("nobuco", src, out)
    assert notes["version"] == "0.17.0"
    assert notes["input_shape"] == NHWC and notes["input_layout"] == "nhwc"
    result = compare("tf_keras", src, out)
    # nobuco 0.17 is Keras 2 only: the file is tf_keras's and Keras 3 cannot load it.
    assert result["keras3_loads"] is False
    assert result["input_shape"] == NHWC
    _agrees(result)


def test_litert_torch_mobilenet_v2_tflite_float32_matches_torch(tmp_path: Path) -> None:
    _installed("litert-torch")
    src = build.torch_module("mobilenet_v2")
    out = tmp_path / "model.tflite"
    notes = run_task("litert_torch", src, out)
    assert notes["version"] == "0.10.0"
    # Measured: max abs 1.1e-5; the input stays NCHW as the torch module takes it.
    result = compare("tflite", src, out)
    assert result["input_shape"] == NCHW and result["dtype"] == "float32"
    _agrees(result)


def test_unknown_task_is_refused() -> None:
    proc = _run([sys.executable, str(THIRDPARTY), json.dumps({"task": "nope"})])
    assert proc.returncode == 2
    assert "onnx2torch" in proc.stderr and "litert_torch" in proc.stderr
