"""Localization (convmend._core.localize) on real converter pairs from the zoo cache.

MobileNetV2 from one Keras model: the tf2onnx ONNX (NHWC input) is the source, the TFLite of the
same weights the target. The clean float32 pair must give nothing but runtime.numeric, the
dynamic-range int8 TFLite only param.declared_lossy; then one fault at a time is planted into a
clone of the float32 TFLite graph and the right code and node must rank first, confirmed by the
causal check. The batch is eight of the default images through the model's input contract.
"""

from __future__ import annotations

import numpy as np
import pytest

from convmend import _core
from convmend.contract import contract_of
from convmend.errors import ConvmendError
from convmend.images import default_images
from convmend.zoo import build


@pytest.fixture(scope="module")
def pair() -> dict:
    onnx_path = build.onnx_from_keras("mobilenet_v2")
    source = _core.load(onnx_path)
    target = _core.load(build.tflite_from_keras("mobilenet_v2"))
    batch = contract_of(onnx_path).batch([i.load() for i in default_images(count=8)])
    return {
        "source": source,
        "target": target,
        "int8": _core.load(build.tflite_from_keras("mobilenet_v2", "dynamic_int8")),
        "batch": batch,
        "alignment": _core.align(source, target),
    }


def localize(pair: dict, target: _core.Graph, alignment: dict | None = None) -> dict:
    batch = pair["batch"]  # both models take NHWC pixels
    return _core.localize(pair["source"], target, [batch], [batch],
                          alignment=alignment if alignment is not None else pair["alignment"])


def convs(graph: _core.Graph, depthwise: bool) -> list[dict]:
    return [n for n in graph.nodes()
            if n["op"] == "Conv" and (n["attrs"].get("group", 1) > 1) == depthwise]


def assert_top(result: dict, code: str, node: str) -> dict:
    summary = [(f["code"], [n["name"] for n in f["target_nodes"]][:2], f["confirmed"],
                round(f["confidence"], 2)) for f in result["findings"][:4]]
    top = result["findings"][0]
    assert top["code"] == code, summary
    assert node in [n["name"] for n in top["target_nodes"]], summary
    assert top["confirmed"], summary
    assert top["discrepancy_after_patch"] < 0.5 * top["discrepancy_before"]
    assert top["disagreeing_after_patch"] <= top["disagreeing_before"]
    assert top["patch"]
    assert top["target_nodes"][0]["provenance"]["format"] == "tflite"
    return top


def test_clean_pair_only_numeric(pair):
    # Alignment computed inside, with the batch's activations.
    result = _core.localize(pair["source"], pair["target"], [pair["batch"]], [pair["batch"]])
    assert [f["code"] for f in result["findings"]] == ["runtime.numeric"]
    numeric = result["findings"][0]
    assert numeric["discrepancy_before"] < 1e-4
    assert numeric["disagreeing_before"] == 0
    assert len(result["alignment"]["matches"]) == len(pair["alignment"]["matches"])
    errors = result["errors"]
    assert len(errors) >= 60
    for e in errors:
        assert e["isolated"] <= e["tolerance"], e
        assert e["propagated"] < 1e-3, e
    assert {"match", "source_value", "target_value", "propagated", "isolated", "tolerance",
            "op_class"} <= set(errors[0])


def test_int8_is_declared_lossy_only(pair):
    alignment = _core.align(pair["source"], pair["int8"])
    result = localize(pair, pair["int8"], alignment)
    assert [f["code"] for f in result["findings"]] == ["param.declared_lossy"]
    lossy = result["findings"][0]
    assert len(lossy["target_nodes"]) >= 40  # every quantized conv / dense layer
    # The IR quantizes activations per image as LiteRT's builtin hybrid kernels do (0.57 on
    # this model): a cost, not a broken model.
    assert 0 < lossy["discrepancy_before"] < 0.8
    # The causal check restores float weights (repair's --restore-precision edit): the cost
    # is the quantization's.
    assert lossy["confirmed"]
    assert lossy["discrepancy_after_patch"] < 0.1 * lossy["discrepancy_before"]


def test_weight_changed_is_param_value(pair):
    node = convs(pair["target"], depthwise=False)[10]
    g = pair["target"].clone()
    w = g.constant(node["inputs"][1]).copy()
    w[3] *= 1.3
    g.set_constant(node["inputs"][1], w)
    top = assert_top(localize(pair, g), "param.value", node["name"])
    assert "channel 3" in top["evidence"]["weight rel. diff"]


def test_transposed_kernel_is_param_layout(pair):
    node = convs(pair["target"], depthwise=False)[0]  # 3x3 OHWI
    g = pair["target"].clone()
    w = g.constant(node["inputs"][1])
    g.set_constant(node["inputs"][1], np.ascontiguousarray(w.transpose(0, 2, 1, 3)))
    top = assert_top(localize(pair, g), "param.layout", node["name"])
    assert "transposed" in top["evidence"]["permutation found"]


def test_dilation_is_stride_dilation(pair):
    node = convs(pair["target"], depthwise=True)[3]
    g = pair["target"].clone()
    g.set_attr(node["name"], "dilations", [2, 2])
    top = assert_top(localize(pair, g), "hparam.stride_dilation", node["name"])
    assert top["evidence"]["dilation"] == "source [1,1] target [2,2]"


def test_padding_changed_is_hparam_padding(pair):
    node = convs(pair["target"], depthwise=True)[3]
    g = pair["target"].clone()
    g.set_attr(node["name"], "auto_pad", "NOTSET")
    g.set_attr(node["name"], "pads", [1, 1, 1, 1])
    assert_top(localize(pair, g), "hparam.padding", node["name"])


def test_relu6_to_relu_is_wrong_op(pair):
    node = [n for n in convs(pair["target"], depthwise=True)
            if n["attrs"].get("fused_activation") == "RELU6"][5]
    g = pair["target"].clone()
    g.set_attr(node["name"], "fused_activation", "RELU")
    assert_top(localize(pair, g), "graph.wrong_op", node["name"])


def test_dropped_activation_is_missing_op(pair):
    node = [n for n in convs(pair["target"], depthwise=False)
            if n["attrs"].get("fused_activation") == "RELU6"][4]
    g = pair["target"].clone()
    g.set_attr(node["name"], "fused_activation", "NONE")
    assert_top(localize(pair, g), "graph.missing_op", node["name"])


def test_errors_are_convmend_errors(pair):
    with pytest.raises(ConvmendError):
        _core.localize(pair["source"], pair["target"], [pair["batch"]], [pair["batch"][:2]],
                       alignment=pair["alignment"])
    with pytest.raises(ConvmendError):
        _core.localize(pair["source"], pair["target"], [pair["batch"]], [pair["batch"]],
                       alignment={"matches": 3})


def test_unconfirmed_suspicions_are_kept_apart_when_outputs_agree():
    """A faithful conversion (outputs agree on every image) lists no unconfirmed fault; the
    suspicions stay in `suppressed` with the reason. Disagreeing outputs keep everything."""
    from convmend.localize import split_on_agreement

    rng = np.random.default_rng(0)
    source = rng.normal(size=(6, 10)).astype(np.float32)
    findings = [{"code": "graph.missing_op", "confirmed": False, "rank": 1},
                {"code": "runtime.numeric", "confirmed": False, "rank": 2},
                {"code": "param.value", "confirmed": True, "rank": 3}]
    kept, apart = split_on_agreement([dict(f) for f in findings], source, source + 1e-7)
    assert [f["code"] for f in kept] == ["runtime.numeric", "param.value"]
    assert [f["rank"] for f in kept] == [1, 2]
    assert [f["code"] for f in apart] == ["graph.missing_op"] and "agree" in apart[0]["suppressed"]
    wrong = source.copy()
    wrong[:, 0] += 100.0
    kept, apart = split_on_agreement([dict(f) for f in findings], source, wrong)
    assert len(kept) == 3 and apart == []


def test_interpreter_lists_folded_dequantized_weights(pair):
    """The values the interpreter folds at prepare (exactness checks a node reading them
    alone): every dynamic-range weight's DequantizeLinear output, never a computed value."""
    graph = pair["int8"]
    folded = set(_core.Interpreter(graph).constant_values())
    dequantized = [n["outputs"][0] for n in graph.nodes() if n["op"] == "DequantizeLinear"]
    assert len(dequantized) >= 40
    assert set(dequantized) <= folded
    computed = {n["outputs"][0] for n in graph.nodes() if n["op"] in ("Conv", "Add")}
    assert not computed & folded
    assert graph.inputs()[0]["name"] not in folded
