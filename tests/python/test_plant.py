"""The fault planter on MobileNetV2 (tf2onnx and TFLiteConverter conversions of the Keras
model): every planted file loads and runs in its own runtime, differs from the clean file
as the manifest says, and the manifest names nodes that are (or were) in the file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convmend.errors import ConvmendError

pytest.importorskip("onnxruntime")
pytest.importorskip("ai_edge_litert")

# hparam.norm is left out here: it needs the Keras model's BatchNorm statistics, whose
# loading (TensorFlow) alone takes half a minute; the corpus build exercises it.
CODES = ["param.value", "param.layout", "param.declared_lossy", "hparam.padding",
         "hparam.stride_dilation", "hparam.pooling", "hparam.activation", "hparam.resize",
         "hparam.axis", "graph.missing_op", "graph.extra_op", "graph.wrong_op",
         "graph.outputs", "input.preprocess", "input.layout"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from convmend.faults import plant
    from convmend.zoo import build

    for path in (build.cache_dir() / "mobilenet_v2" / "keras-float32.tflite",
                 build.cache_dir() / "mobilenet_v2" / "keras-tf2onnx-opset17.onnx"):
        if not path.exists():
            pytest.skip(f"zoo artifact {path} not built (run `convmend zoo build`)")
    out = tmp_path_factory.mktemp("planted")
    manifest = plant.build_corpus(out, ["mobilenet_v2"], ["onnx", "tflite"], CODES, images=2,
                                  log=lambda line: None, kinds=["onnx-keras", "tflite-keras"])
    return out, manifest


def _entries(manifest, kind, code):
    return [e for e in manifest["faults"] if e["target_kind"] == kind and e["code"] == code]


def test_manifest_is_written_and_complete(corpus):
    out, manifest = corpus
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["schema"] == "convmend.planted/1"
    assert len(on_disk["faults"]) == len(manifest["faults"])
    assert set(on_disk["not_in_a_file"]) == {"converter.crash", "converter.choice",
                                             "runtime.numeric"}
    for entry in manifest["faults"]:
        for key in ("model", "format", "source", "target", "code", "nodes", "position",
                    "magnitude", "description", "native_effect"):
            assert key in entry, key
        assert entry["position"] in ("early", "middle", "late", "all", "input")
        assert entry["magnitude"] in ("subtle", "moderate", "gross")
        assert entry["nodes"] and all(n["provenance_name"] for n in entry["nodes"])
    planted = {(e["target_kind"], e["code"]) for e in manifest["faults"]}
    for kind in ("onnx-keras", "tflite-keras"):
        for code in ("param.value", "param.layout", "param.declared_lossy", "hparam.padding",
                     "hparam.stride_dilation", "hparam.activation", "graph.missing_op",
                     "graph.extra_op", "graph.wrong_op", "graph.outputs", "input.preprocess"):
            assert (kind, code) in planted, (kind, code)
    assert ("onnx-keras", "input.layout") in planted
    skipped = {(s["target_kind"], s["code"]): s["reason"] for s in manifest["not_plantable"]}
    assert "Resize" in skipped[("tflite-keras", "hparam.resize")]
    # The zoo's models end in logits: no Softmax whose axis could change (ONNX) and TFLite's
    # SOFTMAX has no axis at all.
    assert "no Softmax" in skipped[("onnx-keras", "hparam.axis")]
    assert "no Softmax" in skipped[("tflite-keras", "hparam.axis")]
    assert "input" in skipped[("tflite-keras", "input.layout")]
    assert "pool" in skipped[("onnx-keras", "hparam.pooling")]


def test_each_planted_file_runs_natively_and_changes_as_intended(corpus):
    from convmend import engine
    from convmend.contract import contract_of
    from convmend.faults.plant import native_outputs
    from convmend.images import default_images

    _, manifest = corpus
    pixels = default_images(2).load_all()
    clean = {}
    for entry in manifest["faults"]:
        if entry["clean_target"] not in clean:
            c = contract_of(entry["clean_target"])
            clean[entry["clean_target"]] = native_outputs(entry["clean_target"], c, pixels)
        before = clean[entry["clean_target"]]
        graph = engine.load(entry["target"])
        feed = contract_of(entry["target"])
        if entry["code"] == "input.layout":  # the sidecar keeps the old, now unfitting layout
            shape = graph.inputs()[0]["shape"]
            assert list(feed.input_shape) != shape
            feed = feed.for_input(feed.input_name, shape, "test: the new layout")
        after = native_outputs(entry["target"], feed, pixels)
        names = {n["name"] for n in graph.nodes()}
        for node in entry["nodes"]:
            if node.get("removed"):
                assert node["name"] not in names
            else:
                assert node["name"] in names, (entry["code"], node["name"])
        if entry["code"] == "graph.outputs":
            assert len(after) == 2
            if entry["magnitude"] == "subtle":  # appended: the first output is unchanged
                scale = float(np.abs(before[0]).max())  # up to the runtime's own rounding
                assert float(np.abs(after[0] - before[0]).max()) <= 1e-5 * scale
            else:
                assert after[0].shape != before[0].shape
        elif entry["code"] == "input.layout":  # fed in its new layout: same outputs
            np.testing.assert_allclose(after[0], before[0], rtol=1e-4, atol=1e-5)
        elif entry["code"] != "param.declared_lossy":
            assert np.abs(after[0] - before[0]).max() > 1e-6, (entry["target"],
                                                                entry["description"])


def test_planted_edits_are_the_ones_described(corpus):
    from convmend import engine

    _, manifest = corpus
    [gross] = [e for e in _entries(manifest, "onnx-keras", "graph.wrong_op")
               if e["position"] == "all"]
    ops = [n["op"] for n in engine.load(gross["target"]).nodes()]
    assert "Clip" not in ops and ops.count("Relu") == len(gross["nodes"]) == 35
    for e in _entries(manifest, "tflite-keras", "hparam.activation"):
        graph = engine.load(e["target"])
        node = next(n for n in graph.nodes() if n["name"] == e["nodes"][0]["name"])
        assert node["attrs"]["fused_activation"] == "RELU_N1_TO_1"
    for e in _entries(manifest, "onnx-keras", "param.declared_lossy"):
        ops = [n["op"] for n in engine.load(e["target"]).nodes()]
        assert "DequantizeLinear" in ops or "Cast" in ops
    [value] = [e for e in _entries(manifest, "tflite-keras", "param.value")
               if e["magnitude"] == "gross"]
    planted_graph, clean_graph = engine.load(value["target"]), engine.load(value["clean_target"])
    name = value["nodes"][0]["name"]
    planted_node = next(n for n in planted_graph.nodes() if n["name"] == name)
    clean_node = next(n for n in clean_graph.nodes() if n["name"] == name)
    planted_w = planted_graph.constant(planted_node["inputs"][1])
    clean_w = clean_graph.constant(clean_node["inputs"][1])
    assert planted_w.shape == clean_w.shape and np.abs(planted_w - clean_w).max() > 0


def test_plant_cli_rejects_unknown_model(capsys):
    from convmend.faults import plant

    with pytest.raises(SystemExit):
        plant.main(["--models", "vgg"])
    assert isinstance(plant.NotPlantable("x"), ConvmendError)
