"""The older converters (onnx-tf, onnxmltools), each run by the Python of its own side
environment (``scripts/converter_envs.sh``) on the zoo's MobileNetV2, their output loaded
back in the main environment and compared with the source on a seeded random input."""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[2]
LEGACY = ROOT / "python" / "convmend" / "convert" / "legacy.py"
MAX_REL_ERR = 1e-4
TIMEOUT = 900

# Runs in a fresh main-env process: TensorFlow and Keras stay out of the pytest process.
CHECK = r"""
import json, sys
import numpy as np
kind, src, out = sys.argv[1:4]
rng = np.random.default_rng(0)
import onnxruntime as ort
if kind == "saved_model":
    import tensorflow as tf
    x = rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    ref = ort.InferenceSession(src, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    signature = tf.saved_model.load(out).signatures["serving_default"]
    inputs = {k: v.shape.as_list() for k, v in signature.structured_input_signature[1].items()}
    got = signature(**{next(iter(inputs)): tf.constant(x)})
    got = np.asarray(next(iter(got.values())))
else:
    import keras
    x = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    ref = np.asarray(keras.models.load_model(src)(x))
    session = ort.InferenceSession(out, providers=["CPUExecutionProvider"])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    got = session.run(None, {next(iter(inputs)): x})[0]
diff = float(np.abs(got - ref).max())
print(json.dumps({"inputs": inputs, "shape": list(got.shape), "max_abs": diff,
                  "rel": diff / float(np.abs(ref).max()),
                  "same_top1": bool(got.argmax() == ref.argmax())}))
"""


def side_python(name: str) -> Path:
    python = ROOT / ".venv-converters" / name / "bin" / "python"
    if not python.exists():
        pytest.skip(f"side env {name} not created: run scripts/converter_envs.sh {name}")
    return python


@pytest.fixture(scope="module", autouse=True)
def zoo_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private cache unless CONVMEND_CACHE points at one to reuse across runs."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get("CONVMEND_CACHE"):
            patch.setenv("CONVMEND_CACHE", str(tmp_path_factory.mktemp("zoo")))
        yield build.cache_dir()


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    return env


def run_task(python: Path, job: dict[str, Any]) -> dict[str, Any]:
    # No PYTHONPATH: the side env must manage with legacy.py and protocol.py alone.
    proc = subprocess.run(
        [str(python), str(LEGACY), json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(protocol.RESULT_PREFIX)]
    assert len(lines) == 1, proc.stdout[-2000:]
    return json.loads(lines[0][len(protocol.RESULT_PREFIX) :])


def compare(kind: str, src: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, kind, str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_onnx_tf_mobilenet_v2_saved_model_matches_onnx(tmp_path: Path) -> None:
    python = side_python("onnx-tf")
    src = build.onnx_from_torch("mobilenet_v2")
    out = tmp_path / "saved_model"
    notes = run_task(python, {"task": "onnx_tf", "src": str(src), "out": str(out), "options": {}})
    assert notes["versions"]["onnx-tf"] == "1.10.0"
    assert notes["result"]["inputs"] == {"input": [1, 3, 224, 224]}
    assert (out / "saved_model.pb").exists()
    # Measured: max abs 7.6e-6 on logits of magnitude ~6.7 (rel 1.1e-6).
    result = compare("saved_model", src, out)
    assert result["inputs"] == {"input": [1, 3, 224, 224]}
    assert result["shape"] == [1, 1000]
    assert result["rel"] <= MAX_REL_ERR, result
    assert result["same_top1"]


def test_onnxmltools_mobilenet_v2_onnx_matches_keras(tmp_path: Path) -> None:
    python = side_python("onnxmltools")
    src = build.keras_model("mobilenet_v2")
    out = tmp_path / "model.onnx"
    job = {"task": "onnxmltools", "src": str(src), "out": str(out), "options": {"opset": 17}}
    notes = run_task(python, job)
    assert notes["versions"]["onnxmltools"] == "1.16.0"
    assert notes["result"]["opset"]["ai.onnx"] == 17
    # Every variable of the Keras 3 file went into the rebuilt Keras 2 model.
    assert notes["keras"]["arrays"] == 262
    # Measured: max abs 1.1e-6 on softmax outputs peaking at ~0.13 (rel 8.7e-6).
    result = compare("onnx", src, out)
    ((name, shape),) = result["inputs"].items()
    assert shape[1:] == [224, 224, 3]  # batch stays symbolic (tf2onnx names it unk__N)
    assert result["shape"] == [1, 1000]
    assert result["rel"] <= MAX_REL_ERR, result
    assert result["same_top1"]


def test_unknown_task_is_refused() -> None:
    # Runs with the main env's Python: legacy.py imports only the standard library on top.
    proc = subprocess.run(
        [sys.executable, str(LEGACY), json.dumps({"task": "nope", "src": "", "out": ""})],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )
    assert proc.returncode == 2
    assert "onnx_tf" in proc.stderr and "onnxmltools" in proc.stderr
