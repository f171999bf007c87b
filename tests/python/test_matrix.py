"""The reduced conversion matrix of `make test`: MobileNetV2 only, a few images, the
preferred chain of each cell, real converters and real runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    allowed = {"faithful", "disagrees", "declared_lossy", "input_mismatch", "input_relayout",
               "converter_error",
               "crash", "timeout", "out_of_memory", "no_output", "load_failed", "run_failed",
               "unavailable"}
    for cell in document["cells"]:
        assert cell["outcome"] in allowed, cell
        if cell["outcome"] in ("faithful", "disagrees", "input_relayout"):
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


def test_report_grows_from_an_earlier_document(document: dict, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache that holds nothing reports the finished cells of an earlier matrix.json
    (`--with`), except one whose converter versions differ from this installation's and one
    that does not name the zoo recipe of its source."""
    earlier = json.loads(json.dumps(document))
    stale = next(c for c in earlier["cells"] if c["outcome"] == "faithful")
    changed = stale["chain"].split(" > ")[0]
    for converter in earlier["converters"]:
        if converter["name"] == changed:
            converter["versions"] = {"somepackage": "0.0.1"}
    # a cell that does not name its source's zoo recipe may be of an older zoo: not taken
    unnamed = next(c for c in earlier["cells"] if c["outcome"] == "faithful"
                   and changed not in c["chain"].split(" > "))
    del unnamed["source_recipe"]
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps(earlier))
    monkeypatch.setenv("CONVMEND_CACHE", str(tmp_path / "empty-cache"))
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "convmend.cli", "matrix", "--models", "mobilenet_v2",
         "--images", str(IMAGES), "--one-chain", "--report-only", "--with", str(path),
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    grown = {(c["source"], c["target"]): c for c in json.loads(
        (out / "matrix.json").read_text())["cells"]}
    uses_changed = {(c["source"], c["target"]) for c in document["cells"]
                    if changed in c["chain"].split(" > ") or c["outcome"] == "input_mismatch"}
    uses_changed.add((unnamed["source"], unnamed["target"]))
    for cell in document["cells"]:
        mine = grown[(cell["source"], cell["target"])]
        if (cell["source"], cell["target"]) in uses_changed:
            assert mine["outcome"] == "not_run", mine
        else:
            assert mine["outcome"] == cell["outcome"] and mine["earlier"] == str(path)
            assert mine.get("diff") == cell.get("diff")
    # the same document asked for with other image counts stands for nothing
    proc = subprocess.run(
        [sys.executable, "-m", "convmend.cli", "matrix", "--models", "mobilenet_v2",
         "--images", str(IMAGES + 1), "--one-chain", "--report-only", "--with", str(path),
         "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {c["outcome"] for c in json.loads((out / "matrix.json").read_text())["cells"]} == {
        "not_run"}


def test_onnx2tf_reading_an_nhwc_input_as_nchw_is_fed_and_localized(document: dict) -> None:
    """TFLite -> tf2onnx -> onnx2tf: the ONNX model takes NHWC, onnx2tf reads its input as
    NCHW and makes it [1, 224, 3, 224] (height and width swapped, channels between them).
    The converted model is fed in that layout and agrees with its source (the matrix says
    input_relayout), and localization names the input layout, with the permutation from the
    source's input."""
    from convmend.localize import localize

    cell = _cell(document, "tflite", "keras")
    assert cell["chain"].endswith("onnx2tf.keras"), cell["chain"]
    assert cell["outcome"] == "input_relayout", cell
    assert cell["contracts"]["target"]["spec"]["layout"] == "nwch"
    assert cell["contracts"]["target"]["input_shape"][1:] == [224, 3, 224]
    report = localize(cell["source_path"], cell["output"], count=IMAGES)
    first = report["findings"][0]
    assert first["code"] == "input.layout" and first["confirmed"], first
    assert first["patch"]["permutation"] == [0, 2, 3, 1]
    assert report["labels"]["summary"]["ir_disagreeing"] == 0


def test_the_faithful_bound_scales_with_the_source_rounding() -> None:
    from convmend.errors import ConvmendError

    def cell(error: float, changed: int = 0) -> dict:
        return {"diff": {"max_relative_error": error, "disagreeing_images": changed}}

    asked = []

    def rounding() -> float:
        asked.append(1)
        return 4e-5

    within = cell(1.5e-4)
    matrix.classify(within, False, rounding)
    assert within["outcome"] == "faithful" and within["faithful_bound"] == pytest.approx(1.6e-4)
    beyond = cell(2e-4)
    matrix.classify(beyond, False, rounding)
    assert beyond["outcome"] == "disagrees" and beyond["source_float32_error"] == 4e-5
    asked.clear()
    for changed, lossy, outcome in ((1, False, "disagrees"), (0, True, "declared_lossy")):
        other = cell(1.5e-4, changed)
        matrix.classify(other, lossy, rounding)
        assert other["outcome"] == outcome and other["faithful_bound"] == 1e-4
    small = cell(5e-5)
    matrix.classify(small, False, rounding)
    assert small["outcome"] == "faithful" and not asked  # measured only when it matters

    def fails() -> float:
        raise ConvmendError("no frontend")

    failed = cell(1.5e-4)
    matrix.classify(failed, False, fails)
    assert failed["outcome"] == "disagrees" and "no frontend" in failed["bound_error"]


def test_source_float32_error_is_measured_against_float64(document: dict) -> None:
    from convmend import diff, images

    source = _cell(document, "torch", "onnx")["source_path"]
    error = diff.float32_error(source, images.default_images(count=2))
    assert 0.0 < error < 1e-5  # MobileNetV2 in float32: a few ulps of its logits


def test_the_swapped_input_layout_is_baked_back_into_the_model(document: dict) -> None:
    """repair --input-fix bake on that model: its input takes the source's NHWC images again
    and a Transpose after it feeds the layers what they were converted for; same outputs."""
    import numpy as np

    from convmend import engine, images
    from convmend.contract import contract_of
    from convmend.repair import bake_transpose

    cell = _cell(document, "tflite", "keras")
    graph = engine.load(cell["output"])
    baked = graph.clone()
    edits = bake_transpose(baked, [0, 2, 3, 1])
    assert baked.inputs()[0]["shape"][1:] == [224, 224, 3] and "Transpose" in edits[0]
    pixels = [item.load() for item in images.default_images(count=2)]
    own = contract_of(cell["output"]).batch(pixels)
    nhwc = contract_of(cell["source_path"]).batch(pixels)
    np.testing.assert_array_equal(own, nhwc.transpose(0, 2, 3, 1))
    want = engine.Interpreter(graph).run([own[:1]])[0]
    got = engine.Interpreter(baked).run([nhwc[:1]])[0]
    np.testing.assert_array_equal(got, want)
    with pytest.raises(Exception, match="permutation"):
        bake_transpose(graph.clone(), [0, 1, 2])


def test_earlier_cells_of_a_rebuilt_source_are_taken_on_its_recipe() -> None:
    """A TFLite source rebuilt on another machine from the same seeded Keras model names
    another parent hash (Keras writes its save date into the file); the recipe, task and
    package versions decide whether an earlier cell still holds."""
    key = {"name": "mobilenet_v2", "recipe": 3, "source": "keras-saved_model",
           "source_sha256": "739d", "task": "tflite_from_saved_model",
           "versions": {"keras": "3.15.1", "tensorflow-cpu": "2.21.0"}}
    assert matrix._same_recipe(key, dict(key, source_sha256="6b87"))
    assert not matrix._same_recipe(key, dict(key, recipe=4))
    assert not matrix._same_recipe(key, dict(key, versions={"keras": "3.16.0",
                                                            "tensorflow-cpu": "2.21.0"}))
    assert not matrix._same_recipe("garbage", key)


def test_quantized_nhwc_target_of_an_nchw_source_is_declared_lossy_only(document: dict) -> None:
    """PyTorch (NCHW) -> nobuco -> dynamic-range int8 TFLite (NHWC): the outputs differ by
    the quantization, and the input changed layout as the converter meant it to (the
    target's contract feeds the source's very pixels). Localization names the declared
    quantization and not the layout."""
    from convmend.convert import execute
    from convmend.localize import localize

    cell = _cell(document, "torch", "keras")
    if cell["chain"] != "nobuco" or cell["outcome"] not in ("faithful", "disagrees"):
        pytest.skip(f"torch->keras went through {cell['chain']} ({cell['outcome']})")
    keras_file = Path(cell["output"])
    chain = registry.parse_chain("tflite_converter.keras.optimize_default")
    result = execute.convert_chain(chain, keras_file, execute.probe_model(keras_file),
                                   execute.DEFAULT_TIMEOUT, 8.0)
    assert result.status == execute.OK, result.to_dict()
    report = localize(cell["source_path"], result.output, count=IMAGES)
    codes = [f["code"] for f in report["findings"]]
    assert "param.declared_lossy" in codes, codes
    assert set(codes) <= {"param.declared_lossy", "runtime.numeric"}, codes
    assert report["input_stage"]["layout_change"]["note"].startswith(
        "handled by the target's contract"), report["input_stage"]
