"""`convmend repair` on the pretrained MobileNetV2: two faults planted in its ONNX export are
fixed and the written file agrees with PyTorch in ONNX Runtime; a wrongly recorded input
contract is emitted or baked into a TFLite file; weights are written back into Keras, PyTorch
and SavedModel targets, and onnx2tf's swapped input layout is baked into a SavedModel; and the
refusals (output over an input, a
missing folder, a format with no writer, a target nothing can repair) leave no file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from convmend import _core
from convmend.cli import main

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")
if not hasattr(_core, "repair"):
    pytest.skip("convmend._core.repair is not built", allow_module_level=True)

COUNT = 8


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def torch_pair():
    from convmend.zoo import build

    dst = build.onnx_from_torch("mobilenet_v2")
    return dst.parent / "torch.pth", dst


@pytest.fixture(scope="module")
def keras_pair():
    from convmend.zoo import build

    dst = build.tflite_from_keras("mobilenet_v2", mode="float32")
    return dst.parent / "keras.keras", dst


@pytest.fixture(scope="module")
def two_faults(torch_pair, tmp_path_factory):
    """The ONNX export with the demo's faults: one output channel of a middle 1x1 conv
    scaled by 3 and the padding of a late depthwise conv shifted to the top-left."""
    from convmend.demo import plant_demo_faults

    _, dst = torch_pair
    out = tmp_path_factory.mktemp("planted") / "two_faults.onnx"
    (_, pointwise, _), (_, depthwise, _) = plant_demo_faults(dst, out)
    return out, pointwise, depthwise


def test_two_planted_faults_are_repaired_and_proven_in_onnxruntime(torch_pair, two_faults,
                                                                   tmp_path):
    from convmend import repair

    src, _ = torch_pair
    target, pointwise, depthwise = two_faults
    before = _sha(target)
    out = tmp_path / "fixed.onnx"
    report = repair.repair(src, target, out, count=COUNT)
    assert report["status"] == "repaired", repair.summary_lines(report)
    native = report["native"]
    assert native["target"]["max_relative_error"] > 1e-2
    assert native["repaired"]["disagreeing"] == 0
    assert native["repaired"]["max_relative_error"] <= 1e-4
    kept = {(s["code"], s["target_nodes"][0]["name"]) for s in report["steps"] if s["kept"]}
    assert ("param.value", pointwise) in kept, report["steps"]
    assert ("hparam.padding", depthwise) in kept, report["steps"]
    assert report["ir"]["after"]["relative_error"] <= 1e-4
    # The input is untouched; the output and its contract sidecar exist.
    assert _sha(target) == before
    assert out.exists() and Path(str(out) + ".json").exists()
    assert report["output"]["sha256"] == _sha(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_native_goal_allows_the_sources_own_rounding_only(torch_pair):
    """A file that changes a label is held to 1e-4; one that changes none but misses 1e-4 is
    held to 4x the source's own float32 error on the same images (measured once, kept beside
    its outputs), never looser than 1e-4: MobileNetV2 rounds far less, so the goal stays 1e-4
    and 5e-4 does not pass."""
    from convmend import images, repair
    from convmend.diff import float32_error

    src, _ = torch_pair
    image_set = images.default_images(count=2)
    changed = {"disagreeing": 1, "max_relative_error": 5e-4}
    assert repair._native_goal(src, image_set, changed) == {"relative_error": 1e-4,
                                                             "basis": "fixed"}
    close = {"disagreeing": 0, "max_relative_error": 5e-4}
    goal = repair._native_goal(src, image_set, close)
    own = goal["source_float32_error"]
    assert 0 < own < 1e-5 and goal["relative_error"] == 1e-4
    assert own == pytest.approx(float32_error(src, image_set), rel=1e-6)
    assert not repair._agrees(close, goal)
    assert repair._agrees({"disagreeing": 0, "max_relative_error": 3e-4},
                          {"relative_error": 4 * 1e-4})
    saved = repair._source_outputs_path(src, image_set)
    assert json.loads(saved.with_name(saved.stem + "-float32-error.json").read_text())[
        "float32_error"] == own


def test_cli_writes_json_and_html(torch_pair, two_faults, tmp_path, capsys):
    src, _ = torch_pair
    target, _, _ = two_faults
    out, js, page = tmp_path / "fixed.onnx", tmp_path / "r.json", tmp_path / "r.html"
    code = main(["repair", str(src), str(target), "-o", str(out), "--count", "4",
                 "--json", str(js), "--html", str(page)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "status: repaired" in printed
    doc = json.loads(js.read_text())
    assert doc["schema"] == "convmend.repair/1"
    assert {"inputs", "output", "ir", "native", "steps", "remaining"} <= set(doc)
    for step in doc["steps"]:
        assert {"code", "kept", "reason", "edits", "target_nodes"} <= set(step)
    assert "Edits tried" in page.read_text()


def test_wrong_contract_is_emitted_or_baked(keras_pair, tmp_path):
    """The TFLite file's sidecar says BGR: emit writes the same bytes with an RGB contract;
    bake builds the channel swap into the model so that its (BGR) contract works."""
    from convmend import engine, repair
    from convmend.contract import contract_of, write_contract

    src, dst = keras_pair
    wrong = tmp_path / "wrong.tflite"
    shutil.copyfile(dst, wrong)
    contract = contract_of(dst)
    write_contract(wrong, dataclasses.replace(
        contract, spec=dataclasses.replace(contract.spec, order="bgr"), origin="test: wrong"))

    emitted = tmp_path / "emitted.tflite"
    report = repair.repair(src, wrong, emitted, count=COUNT, input_fix="emit")
    assert report["status"] == "repaired", repair.summary_lines(report)
    assert report["steps"][0]["code"] == "input.preprocess" and report["steps"][0]["kept"]
    assert emitted.read_bytes() == wrong.read_bytes()
    assert contract_of(emitted).spec.order == "rgb"

    baked = tmp_path / "baked.tflite"
    report = repair.repair(src, wrong, baked, count=COUNT, input_fix="bake")
    assert report["status"] == "repaired", repair.summary_lines(report)
    assert contract_of(baked).spec.order == "bgr"
    gathers = [n for n in engine.load(baked).nodes() if n["op"] == "Gather"]
    assert any(n["name"].startswith("convmend_input/gather") for n in gathers)
    assert report["native"]["repaired"]["disagreeing"] == 0


def test_fit_input_transform_finds_order_scale_and_shift():
    from convmend.repair import fit_input_transform

    rng = np.random.default_rng(0)
    own = rng.uniform(0, 255, size=(2, 3, 5, 5))
    wanted = own[:, ::-1] / 127.5 - 1.0
    order, a, b = fit_input_transform(own, wanted, "nchw")
    assert order == [2, 1, 0]
    np.testing.assert_allclose(a, 1 / 127.5)
    np.testing.assert_allclose(b, -1.0)
    resized = own.copy()
    resized[:, :, 0, 0] += 50  # not a per-channel map of the input
    assert fit_input_transform(own, resized, "nchw") is None


def test_refusals_leave_no_file(torch_pair, keras_pair, two_faults, tmp_path, capsys):
    src, dst = torch_pair
    target, _, _ = two_faults
    # Output equal to an input.
    assert main(["repair", str(src), str(target), "-o", str(target)]) == 2
    assert "is also an input" in capsys.readouterr().err
    # A folder that does not exist.
    assert main(["repair", str(src), str(target), "-o", str(tmp_path / "no" / "x.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # No writer: a folder that is not a SavedModel, an unknown extension.
    saved = tmp_path.parent / f"{tmp_path.name}-saved_model"
    saved.mkdir(exist_ok=True)
    assert main(["repair", str(src), str(saved), "-o", str(tmp_path / "x")]) == 2
    assert "is a folder but not a TensorFlow SavedModel" in capsys.readouterr().err
    other = tmp_path.parent / f"{tmp_path.name}-model.bin"
    other.write_bytes(b"\0" * 16)
    assert main(["repair", str(src), str(other), "-o", str(tmp_path / "x.bin")]) == 2
    assert "cannot write a repaired .bin model" in capsys.readouterr().err
    # Another extension than the target's.
    assert main(["repair", str(src), str(target), "-o", str(tmp_path / "x.tflite")]) == 2
    assert "extension" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unrelated_target_cannot_be_repaired(torch_pair, tmp_path, capsys):
    """A model that shares nothing with the source: nothing to align, no edit to try; one
    error line, nothing written."""
    src, dst = torch_pair
    target = tmp_path / "unrelated.onnx"
    _unrelated(dst, target)
    out = tmp_path / "fixed.onnx"
    assert main(["repair", str(src), str(target), "-o", str(out), "--count", "4",
                 "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert "could not be repaired" in err and "nothing written" in err
    assert len(err.strip().splitlines()[-1]) > 0
    assert not out.exists() and not Path(str(out) + ".json").exists()


def test_reconvert_replaces_what_the_ir_cannot_repair(torch_pair, tmp_path, capsys):
    """converter.choice: the unrelated model above cannot be repaired in the IR; with
    --reconvert the source is converted again through the registered chains and the first
    output that agrees natively on every image is written, with every attempt reported."""
    src, dst = torch_pair
    target = tmp_path / "unrelated.onnx"
    _unrelated(dst, target)
    before = _sha(target)
    out, report = tmp_path / "fixed.onnx", tmp_path / "r.json"
    assert main(["repair", str(src), str(target), "-o", str(out), "--count", "4",
                 "--reconvert", "--json", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "converter.choice" in printed and "status: repaired" in printed
    doc = json.loads(report.read_text())
    assert doc["status"] == "repaired" and "could not be repaired" in doc["ir"]["error"]
    kept = [s for s in doc["steps"] if s["kept"]]
    assert len(kept) == 1 and kept[0]["code"] == "converter.choice"
    after = doc["native"]["repaired"]
    assert after["disagreeing"] == 0 and after["max_relative_error"] <= 1e-4
    assert doc["native"]["target"]["disagreeing"] > 0
    assert out.is_file() and Path(str(out) + ".json").is_file() and _sha(target) == before


def _unrelated(contract_from: Path, target: Path) -> None:
    """A model that takes the same images and gives 1000 logits but shares nothing with the
    source (a global pool and a random dense layer), with ``contract_from``'s contract."""
    from convmend.contract import contract_of, write_contract

    g = _core.Graph("unrelated")
    g.add_input("input", "float32", [1, 3, 224, 224])
    g.add_node("GlobalAveragePool", "gap", ["input"], ["gap:0"])
    g.add_node("Flatten", "flat", ["gap:0"], ["flat:0"], {"axis": 1})
    rng = np.random.default_rng(1)
    g.add_constant("w", rng.normal(size=(1000, 3)).astype(np.float32))
    g.add_constant("b", np.zeros(1000, np.float32))
    g.add_node("Gemm", "fc", ["flat:0", "w", "b"], ["logits"], {"transB": 1})
    g.add_output("logits")
    g.infer_shapes()
    g.save(str(target))
    write_contract(target, contract_of(contract_from))


def test_declared_lossy_is_kept_unless_restore_precision(torch_pair, tmp_path, capsys):
    """Six convolutions quantized to int8 (per tensor, ONNX QDQ): repair declines by default
    and says why; --restore-precision brings the float weights back and agrees in ONNX
    Runtime."""
    from convmend import engine
    from convmend.contract import contract_of, write_contract

    src, dst = torch_pair
    graph = engine.load(dst)
    convs = [n for n in graph.nodes() if n["op"] == "Conv"][10:40:5]
    for k, node in enumerate(convs):
        w = graph.constant(node["inputs"][1]).astype(np.float32)
        scale = np.float32(np.abs(w).max() / 127.0)
        graph.add_constant(f"q{k}", np.clip(np.round(w / scale), -127, 127).astype(np.int8))
        graph.add_constant(f"s{k}", np.asarray(scale, np.float32))
        graph.add_constant(f"z{k}", np.asarray(0, np.int8))
        graph.add_node("DequantizeLinear", f"dq{k}", [f"q{k}", f"s{k}", f"z{k}"], [f"dq{k}:0"])
        graph.set_input(node["name"], 1, f"dq{k}:0")
    graph.remove_dead()
    graph.infer_shapes()
    target = tmp_path / "int8.onnx"
    graph.save(str(target))
    write_contract(target, contract_of(dst))

    out = tmp_path / "fixed.onnx"
    assert main(["repair", str(src), str(target), "-o", str(out), "--count", "4"]) == 2
    err = capsys.readouterr().err
    assert "declared-lossy" in err and "--restore-precision" in err and not out.exists()
    assert main(["repair", str(src), str(target), "-o", str(out), "--count", "4",
                 "--restore-precision", "--json", str(tmp_path / "r.json")]) == 0
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [s["code"] for s in doc["steps"] if s["kept"]] == ["param.declared_lossy"]
    assert doc["native"]["repaired"]["max_relative_error"] <= 1e-4
    assert not any(n["op"] == "DequantizeLinear" for n in engine.load(out).nodes())


def test_restore_precision_is_honoured_in_a_target_that_already_agrees(torch_pair, tmp_path):
    """One depthwise convolution's weights stored as float16 behind a Cast: within 1e-4 of the
    source, so plain repair finds nothing to do; --restore-precision still brings the float
    weights back (the user asked for them) and the file gets closer to the source."""
    from convmend import engine
    from convmend.contract import contract_of, write_contract

    src, dst = torch_pair
    graph = engine.load(dst)
    node = [n for n in graph.nodes() if n["op"] == "Conv"][40]
    w = np.asarray(graph.constant(node["inputs"][1])).astype(np.float32)
    graph.add_constant("w_f16", w.astype(np.float16))
    graph.add_node("Cast", "w_cast", ["w_f16"], ["w_f32"], {"to": "f32"})
    graph.set_input(node["name"], 1, "w_f32")
    graph.remove_dead()
    graph.infer_shapes()
    target = tmp_path / "f16.onnx"
    graph.save(str(target))
    write_contract(target, contract_of(dst))

    plain, restored = tmp_path / "plain.onnx", tmp_path / "restored.onnx"
    assert main(["repair", str(src), str(target), "-o", str(plain), "--count", "4",
                 "--json", str(tmp_path / "plain.json")]) == 0
    doc = json.loads((tmp_path / "plain.json").read_text())
    assert doc["status"] == "already_faithful"
    assert not any(s["kept"] for s in doc["steps"])
    before = doc["native"]["target"]["max_relative_error"]
    assert 1e-6 < before <= 1e-4

    assert main(["repair", str(src), str(target), "-o", str(restored), "--count", "4",
                 "--restore-precision", "--json", str(tmp_path / "restored.json")]) == 0
    doc = json.loads((tmp_path / "restored.json").read_text())
    assert doc["status"] == "repaired"
    assert [s["code"] for s in doc["steps"] if s["kept"]] == ["param.declared_lossy"]
    assert doc["native"]["repaired"]["max_relative_error"] < 0.5 * before
    assert not any(n["op"] == "Cast" for n in engine.load(restored).nodes())


def _keras_with_tripled_channel(src: Path, target: Path, save) -> Path:
    """The Keras source with output channel 3 of block_6_project's kernel tripled, saved by
    ``save(model, target)`` with the source's input contract."""
    import keras

    from convmend.contract import contract_of, write_contract

    model = keras.models.load_model(src, compile=False)
    kernel = model.get_layer("block_6_project").weights[0]
    w = kernel.numpy()
    w[..., 3] *= 3.0
    kernel.assign(w)
    save(model, target)
    write_contract(target, contract_of(src))
    return target


def test_keras_target_weights_written_back(keras_pair, tmp_path):
    """A .keras target with one kernel channel tripled: the repaired .keras (written through
    Keras, only that variable assigned) agrees with the source in Keras itself."""
    from convmend import repair

    src, _ = keras_pair
    target = _keras_with_tripled_channel(src, tmp_path / "faulty.keras",
                                         lambda model, path: model.save(path))
    report = repair.repair(src, target, tmp_path / "fixed.keras", count=COUNT)
    assert report["status"] == "repaired", repair.summary_lines(report)
    assert report["output"]["written"] == ["Keras variable block_6_project/kernel"]
    assert report["native"]["target"]["max_relative_error"] > 1e-2
    assert report["native"]["repaired"]["max_relative_error"] <= 1e-4


def test_torch_program_weights_written_back(torch_pair, tmp_path):
    """A torch.export program (.pt2) with one output channel tripled: the repaired .pt2 has
    the state-dict tensor fixed and agrees with the source module in PyTorch."""
    import torch

    from convmend import repair
    from convmend.contract import contract_of, write_contract
    from convmend.convert.torch_source import load_module

    src, _ = torch_pair
    program = torch.export.export(load_module(src).eval(), (torch.zeros(1, 3, 224, 224),))
    with torch.no_grad():
        program.state_dict["features.7.conv.2.weight"][5] *= 3.0
    target = tmp_path / "faulty.pt2"
    torch.export.save(program, str(target))
    write_contract(target, contract_of(src))
    report = repair.repair(src, target, tmp_path / "fixed.pt2", count=COUNT)
    assert report["status"] == "repaired", repair.summary_lines(report)
    assert report["output"]["written"] == ["PyTorch tensor features.7.conv.2.weight"]
    assert report["native"]["repaired"]["max_relative_error"] <= 1e-4


def test_saved_model_target_weights_written_back(keras_pair, tmp_path):
    """A SavedModel exported from Keras with one kernel channel tripled: the repaired SavedModel
    (the frozen serving graph with that constant fixed, same signature) agrees with the source
    in TensorFlow itself; a second repair into the same folder is refused."""
    import tensorflow as tf

    from convmend import repair
    from convmend.errors import ConvmendError

    src, _ = keras_pair
    target = _keras_with_tripled_channel(src, tmp_path / "faulty_saved_model",
                                         lambda model, path: model.export(str(path),
                                                                          verbose=False))
    fixed = tmp_path / "fixed_saved_model"
    report = repair.repair(src, target, fixed, count=COUNT)
    assert report["status"] == "repaired", repair.summary_lines(report)
    [written] = report["output"]["written"]
    assert written.startswith("SavedModel constant ") and "block_6_project" in written
    assert report["native"]["target"]["max_relative_error"] > 1e-2
    assert report["native"]["repaired"]["max_relative_error"] <= 1e-4
    before = tf.saved_model.load(str(target)).signatures["serving_default"]
    after = tf.saved_model.load(str(fixed)).signatures["serving_default"]
    assert after.structured_input_signature == before.structured_input_signature
    assert list(after.structured_outputs) == list(before.structured_outputs)
    with pytest.raises(ConvmendError, match="already exists"):
        repair.repair(src, target, fixed, count=COUNT)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "faulty_saved_model", "faulty_saved_model.json", "fixed_saved_model",
        "fixed_saved_model.json"]


def test_saved_model_relayout_is_baked(tmp_path):
    """onnx2tf reads an NHWC ONNX input as NCHW and writes a SavedModel taking [1, 32, 3, 32];
    --input-fix bake writes a SavedModel that takes the source's [1, 32, 32, 3] (a Transpose
    before the frozen graph) and agrees with the ONNX source natively."""
    import importlib.util
    import subprocess
    import sys

    import tensorflow as tf

    from convmend import repair
    from convmend.contract import contract_of
    from small_models import tiny_onnx

    if importlib.util.find_spec("onnx2tf") is None:
        pytest.skip("onnx2tf is not installed")
    src = tiny_onnx(tmp_path / "tiny.onnx", nhwc=True)
    target = tmp_path / "onnx2tf_saved_model"
    # In a subprocess: importing onnx2tf sets TF_USE_LEGACY_KERAS=1 for the whole process.
    proc = subprocess.run([sys.executable, "-m", "convmend.cli", "convert", str(src), "--to",
                           "tf", "--via", "onnx2tf.saved_model", "-o", str(target),
                           "--timeout", "600"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert list(contract_of(target).input_shape) == [1, 32, 3, 32]
    fixed = tmp_path / "fixed_saved_model"
    report = repair.repair(src, target, fixed, count=COUNT, input_fix="bake")
    assert report["status"] == "repaired", repair.summary_lines(report)
    step = report["steps"][0]
    assert step["code"] == "input.layout" and step["kept"] and step["fix"] == "bake"
    assert report["output"]["written"] == ["the frozen serving graph with Transpose at its input"]
    assert report["native"]["repaired"]["disagreeing"] == 0
    assert report["native"]["repaired"]["max_relative_error"] <= 1e-4
    assert contract_of(fixed).spec.layout == "nhwc"
    served = tf.saved_model.load(str(fixed)).signatures["serving_default"]
    [spec] = served.structured_input_signature[1].values()
    assert spec.shape.as_list() == [1, 32, 32, 3]
