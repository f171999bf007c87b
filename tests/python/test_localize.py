"""`convmend localize`: the input-contract stage on a wrongly recorded contract, the CLI's
refusals, the report's documented shape, and (once the C++ stages are built) the findings
on a clean pair and on planted faults."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from convmend import _core
from convmend.cli import main

pytest.importorskip("ai_edge_litert")

COUNT = 6
REPORT_KEYS = {"schema", "tool", "seconds", "inputs", "images", "labels", "core",
               "input_stage", "alignment", "findings", "errors"}
FINDING_KEYS = {"code", "stage", "target_nodes", "source_nodes", "evidence", "confirmed",
                "discrepancy_after_patch", "confidence", "rank"}
needs_core = pytest.mark.skipif(
    not hasattr(_core, "localize"),
    reason="convmend._core.localize (the C++ parameter/hparam/graph stages) is not built yet")


@pytest.fixture(scope="module")
def pair():
    from convmend.zoo import build

    root = build.cache_dir() / "mobilenet_v2"
    src, dst = root / "keras.keras", root / "keras-float32.tflite"
    if not (src.exists() and dst.exists()):
        pytest.skip("MobileNetV2 Keras/TFLite zoo artifacts not built (`convmend zoo build`)")
    return src, dst


def _with_contract(dst: Path, tmp_path: Path, **changes) -> Path:
    """A byte copy of ``dst`` whose sidecar records another preprocessing."""
    from convmend.contract import contract_of, write_contract

    copy = tmp_path / dst.name
    shutil.copyfile(dst, copy)
    contract = contract_of(dst)
    write_contract(copy, dataclasses.replace(
        contract, spec=dataclasses.replace(contract.spec, **changes), origin="test: wrong"))
    return copy


@pytest.mark.parametrize("changes, field", [
    ({"order": "bgr"}, "order"),
    ({"scale": 1.0, "mean": (103.939, 116.779, 123.68), "order": "bgr"}, "mean"),
])
def test_wrong_recorded_contract_is_input_preprocess(pair, tmp_path, changes, field):
    from convmend import localize

    src, dst = pair
    target = _with_contract(dst, tmp_path, **changes)
    report = localize.localize(src, target, count=COUNT)
    top = report["findings"][0]
    assert top["code"] == "input.preprocess" and top["stage"] == "input"
    assert top["confirmed"]
    assert field in top["evidence"]["differences"]
    # The transformation that restores agreement is the source's own preprocessing.
    assert "order=rgb" in top["evidence"]["transformation"]
    assert top["discrepancy_after_patch"] < 1e-3 < top["discrepancy_before"]


def test_input_op_baked_into_the_model_is_probed(pair):
    """A model multiplying its input by 255 (a planted input.preprocess): neither contract
    works; the probe finds that dividing the input by 255 restores agreement."""
    from convmend import localize

    planted = Path(_planted("input.preprocess", "tflite-keras", "gross")["target"])
    assert planted.name == "input.preprocess__input__gross.tflite"
    report = localize.localize(pair[0], planted, count=COUNT)
    top = report["findings"][0]
    assert top["code"] == "input.preprocess"
    assert top["evidence"]["transformation"] == "input divided by 255"
    assert top["target_nodes"][0]["op"] == "Mul"


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("convmend: error: ")
    return err[0]


def test_cli_unknown_file(tmp_path, capsys):
    assert main(["localize", str(tmp_path / "no.onnx"), str(tmp_path / "no.tflite")]) == 2
    assert "not found" in _one_error_line(capsys)


def test_cli_empty_image_folder(pair, tmp_path, capsys):
    empty = tmp_path / "images"
    empty.mkdir()
    assert main(["localize", str(pair[0]), str(pair[1]), "--images", str(empty)]) == 2
    assert "no images" in _one_error_line(capsys)


@pytest.mark.parametrize("flag", ["--json", "--html"])
def test_cli_output_equal_to_an_input(pair, capsys, flag):
    before = pair[1].stat().st_mtime_ns
    assert main(["localize", str(pair[0]), str(pair[1]), flag, str(pair[1])]) == 2
    assert "also an input" in _one_error_line(capsys)
    assert pair[1].stat().st_mtime_ns == before


def test_cli_writes_documented_json_and_html(pair, tmp_path, capsys):
    out_json, out_html = tmp_path / "report.json", tmp_path / "report.html"
    assert main(["localize", str(pair[0]), str(pair[1]), "--count", str(COUNT),
                 "--json", str(out_json), "--html", str(out_html)]) == 0
    printed = capsys.readouterr().out
    assert "images: top-1 differs on" in printed
    report = json.loads(out_json.read_text())
    assert set(report) >= REPORT_KEYS
    assert report["schema"] == "convmend.localize/1"
    for side in ("source", "target"):
        assert set(report["inputs"][side]) >= {"path", "format", "sha256", "contract"}
    assert report["images"]["count"] == COUNT == len(report["images"]["names"])
    assert len(report["labels"]["images"]) == COUNT
    assert report["alignment"]["matches"]
    assert report["errors"] and {"match", "propagated", "isolated"} <= set(report["errors"][0])
    for finding in report["findings"]:
        assert set(finding) >= FINDING_KEYS
    page = out_html.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "<polyline" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


# ---------------------------------------------------------------- with the C++ stages


def _planted(code: str, kind: str, magnitude: str) -> dict:
    """The planted MobileNetV2 fault, planted (again) if the corpus lacks it or is older
    than the zoo's clean target."""
    from convmend.faults.plant import ensure_corpus

    manifest = ensure_corpus("mobilenet_v2", [kind])
    for entry in manifest["faults"]:
        if (entry["model"], entry["code"], entry["target_kind"], entry["magnitude"]) == (
                "mobilenet_v2", code, kind, magnitude):
            return entry
    raise AssertionError(f"the corpus plants no {code} {magnitude} in {kind}")


@needs_core
def test_clean_pair_has_no_fault_findings(pair):
    from convmend import localize
    from convmend.faults import BENIGN_CODES

    report = localize.localize(pair[0], pair[1], count=COUNT)
    assert report["core"]["available"]
    faults = [f["code"] for f in report["findings"] if f["code"] not in BENIGN_CODES]
    assert faults == []


@needs_core
@pytest.mark.parametrize("code, magnitude", [("param.value", "gross"),
                                             ("graph.wrong_op", "subtle")])
def test_planted_fault_ranks_first_on_the_right_node(pair, code, magnitude):
    from convmend import localize

    entry = _planted(code, "tflite-keras", magnitude)
    report = localize.localize(pair[0], entry["target"], count=COUNT)
    top = report["findings"][0]
    assert top["code"] == code, [f["code"] for f in report["findings"][:3]]
    planted = {n["name"] for n in entry["nodes"]}
    assert planted & {n["name"] for n in top["target_nodes"]}


@needs_core
def test_outputs_on_every_image_come_from_the_core_runs(pair):
    """More images than the input stage decides on: the label table and the input stage's
    whole-batch measures cover every image, and equal plain IR runs of both models on them."""
    import numpy as np

    from convmend import images as imgs
    from convmend import localize

    count = localize.INPUT_STAGE_IMAGES + 4
    report = localize.localize(pair[0], pair[1], count=count)
    assert report["input_stage"]["images"] == localize.INPUT_STAGE_IMAGES
    rows = report["labels"]["images"]
    assert len(rows) == count
    pixels = imgs.default_images(count).load_all()
    source_graph, target_graph, _, target_contract, x_source, source_out = localize.load_pair(
        pair[0], pair[1], pixels, False, None, None, "test", lambda line: None)
    target_out = localize.run_ir(target_graph, target_contract.batch(pixels))
    assert [r["source_top1"] for r in rows] == [int(v) for v in source_out.argmax(1)]
    assert [r["target_top1"] for r in rows] == [int(v) for v in target_out.argmax(1)]
    own = report["input_stage"]["target_fed_own_contract"]
    # a faithful pair's discrepancy is float32 rounding (~2e-5), which moves by a few 1e-6
    # with how the batch is split between the interpreter's threads
    assert own["discrepancy"] == pytest.approx(localize.discrepancy(source_out, target_out),
                                               rel=1e-3, abs=1e-5)
    assert own["disagreeing"] == localize.disagreeing(source_out, target_out)
    assert np.isfinite(own["discrepancy"])
