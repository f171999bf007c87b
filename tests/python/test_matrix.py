"""The reduced conversion matrix of `make test`: MobileNetV2 only, a few images, the
preferred chain of each cell, real converters and real runtimes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from convmend import matrix
from convmend.convert import registry

IMAGES = 3


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("matrix")
    proc = subprocess.run(
        [sys.executable, "-m", "convmend.cli", "matrix", "--models", "mobilenet_v2",
         "--images", str(IMAGES), "--one-chain", "--jobs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=3600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("matrix.json", "matrix.md", "matrix.html"):
        assert (out / name).stat().st_size > 0
    return json.loads((out / "matrix.json").read_text())


def _cell(document: dict, src: str, dst: str) -> dict:
    found = [c for c in document["cells"] if c["source"] == src and c["target"] == dst]
    assert len(found) == 1, (src, dst, found)
    return found[0]


def test_every_cell_has_a_recorded_outcome(document: dict) -> None:
    expected = {(s, t) for s in matrix.SOURCES for t in matrix.TARGETS
                if s != t and registry.chains(s, t)}
    got = {(c["source"], c["target"]) for c in document["cells"]}
    assert got == expected
    allowed = {"faithful", "disagrees", "declared_lossy", "input_mismatch", "converter_error",
               "crash", "timeout", "out_of_memory", "no_output", "load_failed", "run_failed",
               "unavailable"}
    for cell in document["cells"]:
        assert cell["outcome"] in allowed, cell
        if cell["outcome"] in ("faithful", "disagrees"):
            assert cell["diff"]["images"] == IMAGES


def test_direct_tensorflow_converters_are_faithful(document: dict) -> None:
    """TFLiteConverter and tf2onnx on the Keras MobileNetV2 agree with it on every image,
    with logits within float32 noise (measured: max |diff| ~1e-7 on probabilities)."""
    for src, dst in (("keras", "tflite"), ("keras", "onnx"), ("keras", "tf"), ("tf", "tflite"),
                     ("tf", "onnx")):
        cell = _cell(document, src, dst)
        assert cell["outcome"] == "faithful", cell
        assert cell["diff"]["top1_agreement"] == 1.0
        assert cell["diff"]["max_relative_error"] < 1e-4


def test_torch_export_is_faithful(document: dict) -> None:
    cell = _cell(document, "torch", "onnx")
    assert cell["outcome"] == "faithful", cell
    assert cell["diff"]["max_relative_error"] < 1e-4


def test_reports_render_every_cell(document: dict) -> None:
    text = matrix.to_markdown(document)
    for cell in document["cells"]:
        assert cell["chain"] in text
    assert "| **torch** |" in text and "<table>" in matrix.to_html(document)
