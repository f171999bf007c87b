"""Graph alignment (convmend._core.align) on real converter pairs from the zoo cache.

MobileNetV2 from one Keras model: tf2onnx ONNX (NCHW convs behind a Transpose, BatchNorm of the
depthwise convs left as Mul/Add), TFLite (NHWC, BatchNorm folded, Relu6 fused) and dynamic-range
int8 TFLite. Ground truth comes from the Keras layer names that both converters keep in node or
tensor names; the comparison points are checked by running both graphs in the IR interpreter.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from convmend import _core
from convmend.errors import ConvmendError
from convmend.zoo import build

# Keras layer of a conv / dense op: ".../block_1_expand_1/convolution", ".../predictions_1/MatMul"
# (".../predictions_1/BiasAdd" when the dense layer is the output and its int8 weight was
# dequantized under the output's name).
LAYER = re.compile(r"/([A-Za-z0-9_]+?)_1/(?:convolution|depthwise|MatMul|BiasAdd)")


@pytest.fixture(scope="module")
def mobilenet() -> dict[str, _core.Graph]:
    return {
        "onnx": _core.load(build.onnx_from_keras("mobilenet_v2")),
        "tflite": _core.load(build.tflite_from_keras("mobilenet_v2")),
        "int8": _core.load(build.tflite_from_keras("mobilenet_v2", "dynamic_int8")),
    }


@pytest.fixture(scope="module")
def torch_onnx() -> _core.Graph:
    return _core.load(build.onnx_from_torch("mobilenet_v2"))


def node_table(graph: _core.Graph) -> dict[int, dict]:
    return {n["id"]: n for n in graph.nodes()}


def keras_layers(graph: _core.Graph, table: dict[int, dict], nodes: list[dict]) -> set[str]:
    """Keras layer names in the names of the weighted nodes of a match and of their inputs."""
    found: set[str] = set()
    for n in nodes:
        node = table[n["id"]]
        if node["op"] not in ("Conv", "MatMul", "Gemm", "FullyConnected"):
            continue
        for text in [node["name"], *[i for i in node["inputs"] if i]]:
            found.update(LAYER.findall(text))
    return found


def weighted(graph_table: dict[int, dict]) -> list[int]:
    return [i for i, n in graph_table.items() if n["op"] in ("Conv", "FullyConnected", "Gemm")
            or (n["op"] == "MatMul")]


def check_layer_names(source, target, alignment) -> int:
    """Every weighted node of both graphs is in an anchor match whose two sides name the same
    Keras layer. Returns the number of anchor matches."""
    st, tt = node_table(source), node_table(target)
    anchors = [m for m in alignment["matches"] if m["anchor"]]
    matched_s = {n["id"] for m in anchors for n in m["source_nodes"]}
    matched_t = {n["id"] for m in anchors for n in m["target_nodes"]}
    assert set(weighted(st)) <= matched_s
    assert set(weighted(tt)) <= matched_t
    for m in anchors:
        a = keras_layers(source, st, m["source_nodes"])
        b = keras_layers(target, tt, m["target_nodes"])
        assert a and a & b, (a, b)
    return len(anchors)


def comparison_errors(source, target, alignment, x_source, x_target) -> list[float]:
    """Relative error max|s' - t| / max|t| at every comparison point, s' = s permuted."""
    pairs = [(m["comparison"]["source_value"]["name"], m["comparison"]["target_value"]["name"],
              m["comparison"]) for m in alignment["matches"]]
    _, traced_s = _core.Interpreter(source).run_traced([x_source], [p[0] for p in pairs])
    _, traced_t = _core.Interpreter(target).run_traced([x_target], [p[1] for p in pairs])
    errors = []
    for s_name, t_name, comparison in pairs:
        s, t = traced_s[s_name], traced_t[t_name]
        if comparison["transform"] == "permute":
            s = np.transpose(s, comparison["permutation"])
        elif comparison["transform"] == "reshape":
            s = s.reshape(t.shape)
        assert comparison["transform"] != "incomparable"
        assert s.shape == t.shape, (s_name, t_name)
        errors.append(float(np.max(np.abs(s - t)) / max(float(np.max(np.abs(t))), 1e-12)))
    return errors


def test_keras_onnx_against_tflite(mobilenet) -> None:
    source, target = mobilenet["onnx"], mobilenet["tflite"]
    alignment = _core.align(source, target)
    assert alignment["schema"] == "convmend.alignment/1"
    assert check_layer_names(source, target, alignment) == 53  # 52 convs and the classifier
    assert alignment["unmatched_source"] == []
    assert alignment["unmatched_target"] == []
    kinds = {m["kind"] for m in alignment["matches"]}
    assert "fused" in kinds  # depthwise Conv + Mul + Add + Clip -> one TFLite conv
    convs = [m for m in alignment["matches"] if m["anchor"] and
             m["comparison"]["source_value"]["shape"][1:2] != [1000]]
    assert all(m["comparison"]["permutation"] == [0, 2, 3, 1] for m in convs[:-1])
    # Both models take the same NHWC image.
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    errors = comparison_errors(source, target, alignment, x, x)
    assert len(errors) == len(alignment["matches"]) == 64
    assert max(errors) < 1e-4, max(errors)


def test_int8_tflite_aligns_with_float(mobilenet) -> None:
    source, target = mobilenet["tflite"], mobilenet["int8"]
    alignment = _core.align(source, target)
    assert alignment["unmatched_source"] == [] and alignment["unmatched_target"] == []
    for m in alignment["matches"]:
        # The same converter: the data-path nodes keep their names.
        s = [n["name"] for n in m["source_nodes"] if n["op"] != "DequantizeLinear"]
        t = [n["name"] for n in m["target_nodes"] if n["op"] != "DequantizeLinear"]
        assert s == t
        if m["anchor"]:
            assert m["scores"]["weights"] > 0.9
    # And with the ONNX of the same Keras model, through quantization and layout changes.
    alignment = _core.align(mobilenet["onnx"], target)
    assert check_layer_names(mobilenet["onnx"], target, alignment) == 53
    assert alignment["unmatched_source"] == [] and alignment["unmatched_target"] == []


def test_traced_activations_are_scored(mobilenet) -> None:
    source, target = mobilenet["onnx"], mobilenet["tflite"]
    x = np.random.default_rng(1).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    _, traced_s = _core.Interpreter(source).run_traced([x], None)
    _, traced_t = _core.Interpreter(target).run_traced([x], None)
    plain = _core.align(source, target)
    alignment = _core.align(source, target, traced_s, traced_t)
    assert [m["comparison"] for m in alignment["matches"]] == [
        m["comparison"] for m in plain["matches"]]
    scores = [m["scores"]["activation"] for m in alignment["matches"]]
    assert all(s is not None and s > 0.99 for s in scores), min(s or 0 for s in scores)


def test_torch_onnx_against_itself_and_a_changed_weight(torch_onnx) -> None:
    alignment = _core.align(torch_onnx, torch_onnx)
    assert alignment["unmatched_source"] == [] and alignment["unmatched_target"] == []
    identity = [([n["id"] for n in m["source_nodes"]], [n["id"] for n in m["target_nodes"]])
                for m in alignment["matches"]]
    assert all(s == t for s, t in identity)
    assert sum(m["anchor"] for m in alignment["matches"]) == 53
    assert all(m["comparison"]["transform"] == "identity" for m in alignment["matches"])

    # Replace the weight of a middle 3x3 conv by noise of the same shape.
    changed = torch_onnx.clone()
    convs = [n for n in changed.nodes() if n["op"] == "Conv"]
    victim = convs[20]
    weight = changed.constant(victim["inputs"][1])
    rng = np.random.default_rng(2)
    changed.set_constant(victim["inputs"][1], rng.standard_normal(weight.shape).astype(np.float32))
    alignment = _core.align(torch_onnx, changed)
    assert [([n["id"] for n in m["source_nodes"]], [n["id"] for n in m["target_nodes"]])
            for m in alignment["matches"]] == identity
    by_victim = [m for m in alignment["matches"]
                 if any(n["id"] == victim["id"] for n in m["target_nodes"])]
    assert len(by_victim) == 1 and by_victim[0]["scores"]["weights"] < 0.8
    others = [m["scores"]["weights"] for m in alignment["matches"]
              if m["anchor"] and m is not by_victim[0]]
    assert min(others) > 0.99


def test_align_errors_are_convmend_errors(mobilenet) -> None:
    with pytest.raises(ConvmendError):
        _core.align(mobilenet["onnx"], mobilenet["tflite"], {"x": "not an array"}, None)


def cached(path_fn, *args) -> Path | None:
    """A cached zoo artifact, built only when CONVMEND_SLOW asks (a ResNet101 build takes
    minutes)."""
    cache = Path(os.environ.get("CONVMEND_CACHE") or Path.home() / ".cache" / "convmend")
    names = {build.onnx_from_keras: "keras-tf2onnx-opset17.onnx",
             build.tflite_from_keras: "keras-float32.tflite"}
    path = cache / args[0] / names[path_fn]
    if path.exists() or os.environ.get("CONVMEND_SLOW"):
        return Path(path_fn(*args))
    return None


def test_resnet101_pair_is_fast_and_complete() -> None:
    onnx_path = cached(build.onnx_from_keras, "resnet101")
    tflite_path = cached(build.tflite_from_keras, "resnet101")
    if onnx_path is None or tflite_path is None:
        pytest.skip("ResNet101 not in the zoo cache; set CONVMEND_SLOW=1 to build it")
    source, target = _core.load(onnx_path), _core.load(tflite_path)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        alignment = _core.align(source, target)
        best = min(best, time.perf_counter() - start)
    assert best < 1.0, best
    assert check_layer_names(source, target, alignment) == 105  # 104 convs and the classifier
    assert alignment["unmatched_source"] == [] and alignment["unmatched_target"] == []
    assert all(m["in_order"] for m in alignment["matches"])


def test_bad_traced_value_is_refused(mobilenet) -> None:
    with pytest.raises(ConvmendError):
        _core.align(mobilenet["onnx"], mobilenet["tflite"], None, [1, 2])
