"""A corpus of converted models with known faults, planted by editing the IR.

For every FAULTS.md code that can live in a model file, faults are planted into ONNX and
TFLite targets of the zoo models (tf2onnx and TFLiteConverter conversions of the Keras
model, and torch.onnx.export of the torch module), at early, middle and late layers, with
magnitudes from subtle to gross. Each planted file is written by the IR writers
(``graph.save``), checked to load and run in its own runtime (onnxruntime, LiteRT), and
carries the clean target's input contract in its sidecar, so that it is fed exactly as the
clean file would be. ``manifest.json`` lists every planted file and what was planted, and
says which codes cannot be planted in which target and why.

    python -m convmend.faults.plant --out DIR [--models ...] [--formats onnx tflite]

Files go to ``convmend.zoo.build.cache_dir() / "planted"`` by default, never into git.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError

POSITIONS = ("early", "middle", "late")
POSITION_FRACTION = {"early": 0.12, "middle": 0.5, "late": 0.88}
MAGNITUDES = ("subtle", "moderate", "gross")
MANIFEST_SCHEMA = "convmend.planted/1"

# Codes that are not a property of one model file.
NOT_IN_A_FILE = {
    "converter.crash": "a converter failure leaves no target file to plant into",
    "converter.choice": "a property of the conversion tool, not of one target file",
    "runtime.numeric": "runtime noise is not a fault; clean targets are its examples",
}
# (code, variants): each variant is (position, magnitude).
PLAN: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("param.value", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("param.layout", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("param.declared_lossy", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("hparam.padding", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("hparam.stride_dilation", (("early", "moderate"), ("middle", "moderate"),
                                ("late", "gross"))),
    ("hparam.norm", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("hparam.pooling", (("early", "moderate"), ("middle", "moderate"), ("late", "gross"))),
    ("hparam.activation", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("hparam.resize", (("middle", "moderate"),)),
    ("hparam.axis", (("late", "gross"),)),
    ("graph.missing_op", (("early", "moderate"), ("middle", "moderate"), ("late", "moderate"))),
    ("graph.extra_op", (("early", "subtle"), ("middle", "moderate"), ("late", "gross"))),
    ("graph.wrong_op", (("middle", "subtle"), ("all", "gross"))),
    ("graph.outputs", (("late", "subtle"), ("late", "gross"))),
    ("input.preprocess", (("input", "subtle"), ("input", "moderate"), ("input", "gross"))),
    ("input.layout", (("input", "moderate"),)),
)
PLANTABLE_CODES = tuple(code for code, _ in PLAN)
TARGET_KINDS = ("onnx-keras", "tflite-keras", "onnx-torch")
CONV_OUT_AXIS = {"OIHW": 0, "OHWI": 0, "1HWO": 3}
CONV_SPATIAL_AXES = {"OIHW": (2, 3), "OHWI": (1, 2), "1HWO": (1, 2)}


class NotPlantable(ConvmendError):
    """This fault cannot be planted into this target; the message says why."""


@dataclasses.dataclass
class Target:
    """A clean converted model and the source model it was converted from."""

    model: str
    kind: str  # onnx-keras, tflite-keras, onnx-torch
    path: Path
    source: Path

    @property
    def format(self) -> str:
        return self.kind.split("-", 1)[0]

    @property
    def source_framework(self) -> str:
        return self.kind.split("-", 1)[1]


@dataclasses.dataclass
class Planted:
    """What one recipe did: the nodes it planted into (as they are named in the planted
    file) and a sentence saying what changed."""

    nodes: list[dict[str, str]]
    description: str
    changes_output: bool = True
    contract_shape: list[int | None] | None = None  # a changed input shape (input.layout)
    post_save: Callable[[Path], None] | None = None


# ---------------------------------------------------------------- graph helpers


class View:
    """Read-only facts about a graph in its current state: nodes in topological order,
    values by name and the consumers of each value."""

    def __init__(self, graph: Any) -> None:
        self.graph = graph
        self.nodes = graph.nodes()
        self.by_name = {n["name"]: n for n in self.nodes}
        self.values = {v["name"]: v for v in graph.values()}
        self.consumers: dict[str, list[tuple[dict[str, Any], int]]] = {}
        for n in self.nodes:
            for i, name in enumerate(n["inputs"]):
                if name:
                    self.consumers.setdefault(name, []).append((n, i))
        self.outputs = [v["name"] for v in graph.outputs()]
        self.inputs = [v["name"] for v in graph.inputs()]

    def is_const(self, name: str | None) -> bool:
        return bool(name) and self.values.get(name, {}).get("constant", False)

    def producer(self, value: str) -> dict[str, Any] | None:
        for n in self.nodes:
            if value in n["outputs"]:
                return n
        return None

    def index(self, node: dict[str, Any]) -> int:
        return next(i for i, n in enumerate(self.nodes) if n["id"] == node["id"])

    def pick(self, candidates: Sequence[dict[str, Any]], position: str) -> dict[str, Any]:
        """The candidate nearest to the position's fraction of the graph's depth."""
        if not candidates:
            raise NotPlantable("no candidate node")
        if position == "early":
            pool = candidates[: max(1, len(candidates) // 3)]
        elif position == "late":
            pool = candidates[-max(1, len(candidates) // 3):]
        else:
            pool = candidates
        want = POSITION_FRACTION.get(position, 0.5) * len(self.nodes)
        return min(pool, key=lambda n: abs(self.index(n) - want))


def node_ref(node: dict[str, Any]) -> dict[str, str]:
    return {"name": node["name"], "op": node["op"], "output": node["outputs"][0],
            "provenance_name": node["provenance"]["name"],
            "provenance_op": node["provenance"]["op_type"]}


_counter = [0]


def fresh(view: View, base: str) -> str:
    """A value/node name not yet in the graph."""
    while True:
        _counter[0] += 1
        name = f"{base}__planted{_counter[0]}"
        if name not in view.values and name not in view.by_name:
            return name


def own_constant(view: View, node: dict[str, Any], index: int) -> str:
    """The name of the constant at input ``index`` of ``node``, copied first when other
    nodes read it too, so that an edit stays local to this node."""
    name = node["inputs"][index]
    if not view.is_const(name):
        raise NotPlantable(f"input {index} of {node['name']} is not a constant")
    if len(view.consumers.get(name, [])) == 1 and name not in view.outputs:
        return name
    copy = fresh(view, name)
    view.graph.add_constant(copy, view.graph.constant(name), view.values[name]["layout"])
    view.graph.set_input(node["name"], index, copy)
    return copy


def insert_after(view: View, value: str, op: str, extra_inputs: Sequence[str],
                 attrs: dict[str, Any] | None, label: str, source_format: str) -> str:
    """A new ``op`` node reading ``value`` (plus ``extra_inputs``); every other consumer of
    ``value`` reads its output instead. Returns the new node's name."""
    node = fresh(view, label)
    out = fresh(view, label + "_out")
    view.graph.add_node(op, node, [value, *extra_inputs], [out], attrs or {},
                        source_format=source_format, source_name=node, source_op=op)
    view.graph.replace_uses(value, out, node)
    return node


def replace_with(view: View, node: dict[str, Any], op: str, inputs: Sequence[str],
                 attrs: dict[str, Any]) -> None:
    """Replace ``node`` by an ``op`` node on other inputs, keeping its name, its output's
    name and its provenance (``Graph.replace_op`` keeps the old inputs, which the new op may
    not take). ``view`` must describe the graph before any edit touched ``node``."""
    g = view.graph
    prov = node["provenance"]
    out = node["outputs"][0]
    users = view.consumers.get(out, [])
    outputs = list(view.outputs)
    g.bypass_node(node["name"], 0)  # frees the node's and its output's names
    g.add_node(op, node["name"], list(inputs), [out], attrs, source_format=prov["format"],
               source_name=prov["name"], source_op=prov["op_type"])
    for user, index in users:
        g.set_input(user["name"], index, out)
    if out in outputs:
        g.set_outputs(outputs)


def weighted_convs(view: View, pred: Callable[[dict[str, Any]], bool] | None = None
                   ) -> list[dict[str, Any]]:
    out = []
    for n in view.nodes:
        if n["op"] == "Conv" and view.is_const(n["inputs"][1]) and (pred is None or pred(n)):
            out.append(n)
    return out


def weight_layout(node: dict[str, Any]) -> str:
    return str(node["attrs"].get("weight_layout", "OIHW"))


def kernel_hw(view: View, node: dict[str, Any]) -> tuple[int, int]:
    shape = view.values[node["inputs"][1]]["shape"]
    a, b = CONV_SPATIAL_AXES[weight_layout(node)]
    return int(shape[a]), int(shape[b])


def is_depthwise(view: View, node: dict[str, Any]) -> bool:
    return int(node["attrs"].get("group", 1)) > 1


def activation_nodes(view: View, fmt: str) -> list[tuple[dict[str, Any], str]]:
    """(node, kind) for every activation that can be edited: an ONNX Clip/Relu node, or a
    TFLite op with a fused RELU/RELU6."""
    found = []
    for n in view.nodes:
        if fmt == "tflite":
            act = n["attrs"].get("fused_activation", "NONE")
            if act in ("RELU", "RELU6"):
                found.append((n, act))
        elif n["op"] == "Clip":
            found.append((n, "Clip"))
        elif n["op"] == "Relu":
            found.append((n, "Relu"))
    return found


def clip_bounds(view: View, node: dict[str, Any]) -> tuple[float | None, float | None]:
    def read(i: int) -> float | None:
        if len(node["inputs"]) <= i or not node["inputs"][i]:
            return None
        return float(np.asarray(view.graph.constant(node["inputs"][i])).reshape(-1)[0])

    return read(1), read(2)


def input_spatial(view: View, node: dict[str, Any]) -> tuple[int, int]:
    shape = view.values[node["inputs"][0]]["shape"]
    if node["attrs"].get("data_layout", "NCHW") == "NHWC":
        return int(shape[1]), int(shape[2])
    return int(shape[2]), int(shape[3])


def same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF SAME (= ONNX SAME_UPPER) padding of one axis: (begin, end)."""
    eff = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + eff - size, 0)
    return total // 2, total - total // 2


def conv_pads(view: View, node: dict[str, Any]) -> list[int]:
    """[top, left, bottom, right] as the node computes them now."""
    attrs = node["attrs"]
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", "") or auto is None:
        return [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
    if auto == "VALID":
        return [0, 0, 0, 0]
    if node["op"] == "Conv":
        kh, kw = kernel_hw(view, node)
    else:
        kh, kw = (int(k) for k in attrs["kernel_shape"])
    sh, sw = (int(s) for s in attrs.get("strides", [1, 1]))
    dh, dw = (int(d) for d in attrs.get("dilations", [1, 1]))
    h, w = input_spatial(view, node)
    th, bh = same_pads(h, kh, sh, dh)
    tw, bw = same_pads(w, kw, sw, dw)
    if auto == "SAME_LOWER":
        th, bh, tw, bw = bh, th, bw, tw
    return [th, tw, bh, bw]


def set_explicit_pads(view: View, fmt: str, node: dict[str, Any], pads: Sequence[int]) -> str:
    """Make ``node`` pad with ``pads`` [top, left, bottom, right]: the pads attribute in
    ONNX, an explicit Pad node + VALID in TFLite (whose convs only know SAME/VALID).
    Returns a phrase for the description."""
    g = view.graph
    if fmt == "onnx":
        g.set_attr(node["name"], "pads", [int(p) for p in pads])
        g.set_attr(node["name"], "auto_pad", "NOTSET")
        return f"pads={list(pads)}"
    top, left, bottom, right = (int(p) for p in pads)
    nhwc = node["attrs"].get("data_layout", "NCHW") == "NHWC"
    full = ([0, top, left, 0, 0, bottom, right, 0] if nhwc
            else [0, 0, top, left, 0, 0, bottom, right])
    pad_const = fresh(view, node["name"] + "_pads")
    g.add_constant(pad_const, np.asarray(full, np.int64))
    insert_pad = fresh(view, node["name"] + "_pad")
    pad_out = fresh(view, node["name"] + "_padded")
    g.add_node("Pad", insert_pad, [node["inputs"][0], pad_const], [pad_out], {"mode": "constant"},
               source_format="tflite", source_name=insert_pad, source_op="PAD")
    g.set_input(node["name"], 0, pad_out)
    g.set_attr(node["name"], "auto_pad", "VALID")
    g.remove_attr(node["name"], "pads")
    return f"explicit PAD {[top, left, bottom, right]} + VALID"


# ---------------------------------------------------------------- the recipes


class Context:
    """What the recipes need beyond the graph: the target and its source model."""

    def __init__(self, target: Target, batch: np.ndarray | None = None,
                 rng_seed: int = 0) -> None:
        self.target = target
        self.batch = batch  # the check images in the target's input layout
        self.rng = np.random.default_rng(rng_seed)
        self._bn: dict[str, dict[str, Any]] | None = None
        self._torch: Any = None
        self._maxima: dict[str, float] | None = None

    def activation_max(self, graph: Any, value: str) -> float:
        """Largest value the clean graph computes at ``value`` on the check images (an
        activation bound below it changes the output; one above it changes nothing)."""
        if self._maxima is None:
            from convmend import engine

            self._maxima = {}
            if self.batch is not None:
                interp = engine.Interpreter(graph)
                for row in self.batch:
                    _, traced = interp.run_traced([row[None]], None)
                    for k, v in traced.items():
                        if np.issubdtype(v.dtype, np.floating) and v.size:
                            self._maxima[k] = max(self._maxima.get(k, -np.inf), float(v.max()))
        return self._maxima.get(value, np.inf)

    @property
    def fmt(self) -> str:
        return self.target.format

    # BatchNorm statistics of the source, for a wrong fold (hparam.norm).
    def keras_bn(self, layer: str) -> dict[str, np.ndarray] | None:
        if self._bn is None:
            import keras

            model = keras.saving.load_model(self.target.source, compile=False)
            self._bn = {}
            for lay in model.layers:
                if type(lay).__name__ == "BatchNormalization":
                    mean = np.asarray(lay.moving_mean)
                    self._bn[lay.name] = {
                        "gamma": np.asarray(lay.gamma) if lay.scale else np.ones_like(mean),
                        "beta": np.asarray(lay.beta) if lay.center else np.zeros_like(mean),
                        "mean": mean, "var": np.asarray(lay.moving_variance),
                        "eps": float(lay.epsilon), "name": lay.name}
        return self._bn.get(layer)

    def torch_bn_for(self, weight: np.ndarray) -> dict[str, Any] | None:
        """The torch BatchNorm that was folded into an exported conv weight: the conv with
        the same shape whose weight times the BN scale gives ``weight``."""
        if self._torch is None:
            from convmend.zoo.build import load_torch_module

            module = load_torch_module(self.target.source)
            mods = list(module.named_modules())
            pairs = []
            for k, (name, mod) in enumerate(mods):
                if type(mod).__name__ != "Conv2d":
                    continue
                bn = next(((n, m) for n, m in mods[k + 1:]
                           if type(m).__name__ == "BatchNorm2d"), None)
                if bn is None:
                    continue
                b = bn[1]
                pairs.append({"conv": name, "name": bn[0],
                              "w": mod.weight.detach().numpy(),
                              "gamma": b.weight.detach().numpy(),
                              "beta": b.bias.detach().numpy(),
                              "mean": b.running_mean.numpy(), "var": b.running_var.numpy(),
                              "eps": float(b.eps)})
            self._torch = pairs
        for p in self._torch:
            if p["w"].shape != weight.shape:
                continue
            s = p["gamma"] / np.sqrt(p["var"] + p["eps"])
            if np.allclose(weight, p["w"] * s.reshape(-1, 1, 1, 1), rtol=1e-3, atol=1e-5):
                return p
        return None


MAG_NOISE = {"subtle": 0.02, "moderate": 0.15, "gross": 0.6}


def plant_param_value(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    node = view.pick(weighted_convs(view), position)
    name = own_constant(view, node, 1)
    w = np.asarray(view.graph.constant(name))
    rel = MAG_NOISE[magnitude]
    noise = ctx.rng.standard_normal(w.shape).astype(w.dtype) * (rel * float(w.std()))
    view.graph.set_constant(name, (w + noise).astype(w.dtype))
    return Planted([node_ref(node)],
                   f"gaussian noise of {rel:.0%} of the weight's std added to the weight of "
                   f"{node['provenance']['name']}")


def plant_param_layout(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    g = view.graph
    if magnitude == "moderate":  # a transposed kernel: needs a non-symmetric 3x3 or larger
        convs = weighted_convs(view, lambda n: kernel_hw(view, n)[0] > 1
                               and kernel_hw(view, n)[0] == kernel_hw(view, n)[1])
        node = view.pick(convs, position)
        name = own_constant(view, node, 1)
        w = np.asarray(g.constant(name))
        a, b = CONV_SPATIAL_AXES[weight_layout(node)]
        axes = list(range(w.ndim))
        axes[a], axes[b] = b, a
        g.set_constant(name, np.ascontiguousarray(np.transpose(w, axes)))
        return Planted([node_ref(node)], f"kernel of {node['provenance']['name']} transposed "
                                         "(kh <-> kw)")
    convs = weighted_convs(view, lambda n: not is_depthwise(view, n))
    node = view.pick(convs, position)
    name = own_constant(view, node, 1)
    w = np.asarray(g.constant(name))
    axis = CONV_OUT_AXIS[weight_layout(node)]
    count = w.shape[axis]
    if magnitude == "subtle":
        perm = np.arange(count)
        perm[[0, count - 1]] = perm[[count - 1, 0]]
        what = f"output channels 0 and {count - 1} swapped"
    else:
        perm = ctx.rng.permutation(count)
        what = f"all {count} output channels permuted"
    g.set_constant(name, np.ascontiguousarray(np.take(w, perm, axis=axis)))
    if len(node["inputs"]) > 2 and node["inputs"][2]:
        bname = own_constant(view, node, 2)
        g.set_constant(bname, np.ascontiguousarray(np.asarray(g.constant(bname))[perm]))
    return Planted([node_ref(node)], f"{what} in the weight and bias of "
                                     f"{node['provenance']['name']}")


def _int8_per_channel(w: np.ndarray, axis: int, per_channel: bool
                      ) -> tuple[np.ndarray, np.ndarray]:
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    if per_channel:
        scale = np.maximum(np.abs(moved).max(axis=1), 1e-12) / 127.0
    else:
        scale = np.full(w.shape[axis], max(float(np.abs(w).max()), 1e-12) / 127.0)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def plant_param_declared_lossy(view: View, ctx: Context, position: str, magnitude: str
                               ) -> Planted:
    g = view.graph
    node = view.pick(weighted_convs(view), position)
    wname = node["inputs"][1]
    w = np.asarray(g.constant(wname)).astype(np.float32)
    layout = view.values[wname]["layout"]
    if magnitude == "subtle" or ctx.fmt == "tflite":
        # float16 weights + DEQUANTIZE: TFLite's own float16 mode; Cast in ONNX.
        half = fresh(view, wname + "_f16")
        g.add_constant(half, w.astype(np.float16), layout if layout != "?" else "")
        deq = fresh(view, wname + "_dequant")
        deq_out = fresh(view, wname + "_f32")
        if ctx.fmt == "tflite":
            g.add_node("DequantizeLinear", deq, [half], [deq_out], {},
                       source_format="tflite", source_name=deq, source_op="DEQUANTIZE")
        else:
            g.add_node("Cast", deq, [half], [deq_out], {"to": "f32"},
                       source_format="onnx", source_name=deq, source_op="Cast")
        g.set_input(node["name"], 1, deq_out)
        what = "stored as float16 with a dequantizing cast"
        if ctx.fmt == "tflite" and magnitude != "subtle":
            what += (" (TFLite: int8 constants need quantization parameters, which the graph "
                     "edit API cannot attach; float16 instead)")
    else:
        axis = CONV_OUT_AXIS[weight_layout(node)]
        per_channel = magnitude == "moderate"
        q, scale = _int8_per_channel(w, axis, per_channel)
        qname, sname, zname = (fresh(view, wname + s) for s in ("_int8", "_scale", "_zp"))
        g.add_constant(qname, q)
        g.add_constant(sname, scale if per_channel else scale[:1].reshape(()))
        g.add_constant(zname, np.zeros(scale.shape if per_channel else (), np.int8))
        deq = fresh(view, wname + "_dequant")
        deq_out = fresh(view, wname + "_f32")
        g.add_node("DequantizeLinear", deq, [qname, sname, zname], [deq_out], {"axis": axis},
                   source_format="onnx", source_name=deq, source_op="DequantizeLinear")
        g.set_input(node["name"], 1, deq_out)
        what = f"quantized to int8 ({'per channel' if per_channel else 'per tensor'}) with a " \
               "DequantizeLinear"
    return Planted([node_ref(node)], f"weight of {node['provenance']['name']} {what}")


def plant_hparam_padding(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    convs = weighted_convs(view, lambda n: kernel_hw(view, n)[0] > 1)
    # A Pad node feeding the conv (tf2onnx's stride-2 blocks) keeps the conv's own pads at 0.
    convs = [n for n in convs if (p := view.producer(n["inputs"][0])) is None or p["op"] != "Pad"]
    node = view.pick(convs, position)
    pads = conv_pads(view, node)
    top, left, bottom, right = pads
    if top + bottom == 0:
        raise NotPlantable(f"{node['name']} has no padding")
    new = [top, left, bottom, right]
    if magnitude == "subtle":  # shift the width padding only
        new[1], new[3] = (left + right, 0) if right >= left else (0, left + right)
    else:  # both axes: all padding at the start (SAME -> explicit asymmetric); gross
        # differs from moderate by where it is planted (late layers have smaller maps)
        new = [top + bottom, left + right, 0, 0]
    if new == pads:
        new = [0, 0, top + bottom, left + right]
    phrase = set_explicit_pads(view, ctx.fmt, node, new)
    return Planted([node_ref(node)], f"padding of {node['provenance']['name']} changed from "
                                     f"{pads} to {phrase}")


def plant_hparam_stride_dilation(view: View, ctx: Context, position: str, magnitude: str
                                 ) -> Planted:
    def fits(n: dict[str, Any]) -> bool:
        kh, kw = kernel_hw(view, n)
        strides = [int(s) for s in n["attrs"].get("strides", [1, 1])]
        return kh == kw == 3 and strides == [1, 1]

    node = view.pick(weighted_convs(view, fits), position)
    d = 2 if magnitude != "gross" else 3
    g = view.graph
    g.set_attr(node["name"], "dilations", [d, d])
    if ctx.fmt == "onnx":  # keep the output size: pad (k-1)*d/2 on each side
        pads = conv_pads(view, node)
        g.set_attr(node["name"], "pads", [d if p else 0 for p in pads])
        g.set_attr(node["name"], "auto_pad", "NOTSET")
    return Planted([node_ref(node)], f"dilation of {node['provenance']['name']} 1 -> {d} "
                                     "(padding adjusted so that shapes still fit)")


NORM_DELTA = {"subtle": 0.05, "moderate": 0.5, "gross": 5.0}


def _bn_layer_name(view: View, node: dict[str, Any]) -> str | None:
    names = [node["name"], *(i for i in node["inputs"] if i)]
    for c, _ in view.consumers.get(node["outputs"][0], []):
        names.append(c["name"])
    for text in names:
        m = re.search(r"/([^/;]+?)_1/batchnorm/", text)
        if m:
            return m.group(1)
    return None


def plant_hparam_norm(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    """A wrong BatchNorm fold: the source's BN refolded with a larger epsilon."""
    g = view.graph
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for n in weighted_convs(view):
        if ctx.target.source_framework == "keras":
            layer = _bn_layer_name(view, n)
            bn = ctx.keras_bn(layer) if layer else None
        else:
            w = np.asarray(g.constant(n["inputs"][1]))
            bn = ctx.torch_bn_for(w) if w.ndim == 4 else None
        if bn is not None:
            found.append((n, bn))
    if not found:
        raise NotPlantable("no conv whose BatchNorm could be traced back to the source")
    node = view.pick([n for n, _ in found], position)
    bn = next(b for n, b in found if n["id"] == node["id"])
    delta = NORM_DELTA[magnitude] * float(np.median(bn["var"]))
    eps2 = bn["eps"] + delta
    r = np.sqrt((bn["var"] + bn["eps"]) / (bn["var"] + eps2)).astype(np.float32)
    beta = bn["beta"].astype(np.float32)
    consumers = view.consumers.get(node["outputs"][0], [])
    mul = consumers[0][0] if len(consumers) == 1 and consumers[0][0]["op"] == "Mul" else None
    touched = [node_ref(node)]
    if mul is not None and any(view.is_const(i) for i in mul["inputs"]):
        # tf2onnx keeps a depthwise conv's BN as Mul + Add by constants.
        k = next(i for i, v in enumerate(mul["inputs"]) if view.is_const(v))
        name = own_constant(view, mul, k)
        m = np.asarray(g.constant(name))
        g.set_constant(name, (m * r.reshape(m.shape)).astype(m.dtype))
        adds = view.consumers.get(mul["outputs"][0], [])
        if len(adds) == 1 and adds[0][0]["op"] == "Add":
            add = adds[0][0]
            k = next(i for i, v in enumerate(add["inputs"]) if view.is_const(v))
            aname = own_constant(view, add, k)
            a = np.asarray(g.constant(aname))
            b = beta.reshape(a.shape)
            g.set_constant(aname, (b + (a - b) * r.reshape(a.shape)).astype(a.dtype))
            touched.append(node_ref(add))
        touched.insert(1, node_ref(mul))
    else:
        if len(node["inputs"]) < 3 or not node["inputs"][2]:
            raise NotPlantable(f"{node['name']} has no bias to refold")
        wname = own_constant(view, node, 1)
        w = np.asarray(g.constant(wname))
        axis = CONV_OUT_AXIS[weight_layout(node)]
        shape = [1] * w.ndim
        shape[axis] = -1
        g.set_constant(wname, (w * r.reshape(shape)).astype(w.dtype))
        bname = own_constant(view, node, 2)
        b = np.asarray(g.constant(bname))
        g.set_constant(bname, (beta + (b - beta) * r).astype(b.dtype))
    return Planted(touched, f"BatchNorm {bn['name']} folded with epsilon {eps2:.4g} instead of "
                            f"{bn['eps']:.4g} (channel scale {r.min():.3f}..{r.max():.3f})")


def plant_hparam_pooling(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    pools = [n for n in view.nodes if n["op"] in ("MaxPool", "AveragePool")]
    if not pools:
        raise NotPlantable("no windowed pooling op (only a global average pool, which has no "
                           "window, padding or count_include_pad)")
    g = view.graph
    avg = [n for n in pools if n["op"] == "AveragePool" and any(conv_pads(view, n))]
    if magnitude == "gross" and avg and ctx.fmt == "onnx":
        node = view.pick(avg, position)
        flag = 1 - int(node["attrs"].get("count_include_pad", 0))
        g.set_attr(node["name"], "count_include_pad", flag)
        return Planted([node_ref(node)], f"count_include_pad of {node['provenance']['name']} "
                                         f"{1 - flag} -> {flag}")
    if magnitude == "gross" and avg and ctx.fmt == "tflite":
        node = view.pick(avg, position)
        pads = conv_pads(view, node)
        phrase = set_explicit_pads(view, "tflite", node, pads)
        return Planted([node_ref(node)], f"average pool {node['provenance']['name']} padded by "
                                         f"an {phrase}: border windows count the zero padding")
    fits = [n for n in pools if [int(s) for s in n["attrs"].get("strides", [1, 1])] != [0, 0]]
    node = view.pick(fits, position)
    k = [int(x) for x in node["attrs"]["kernel_shape"]]
    if ctx.fmt == "onnx" and node["attrs"].get("auto_pad", "NOTSET") in ("NOTSET", ""):
        pads = conv_pads(view, node)
        g.set_attr(node["name"], "pads", [p + 1 for p in pads])
    elif node["attrs"].get("auto_pad") == "VALID":
        raise NotPlantable(f"{node['name']} is VALID: a larger window changes its shape")
    g.set_attr(node["name"], "kernel_shape", [k[0] + 2, k[1] + 2])
    return Planted([node_ref(node)], f"window of {node['provenance']['name']} {k} -> "
                                     f"{[k[0] + 2, k[1] + 2]} (padding adjusted)")


# New Clip upper bound as a fraction of the largest activation seen there (capped by 6).
CLIP_FRACTION = {"subtle": 0.8, "moderate": 0.5, "gross": 0.2}


def plant_hparam_activation(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    g = view.graph
    if ctx.fmt == "tflite":
        acts = [n for n, kind in activation_nodes(view, "tflite") if kind == "RELU6"]
        if not acts:
            raise NotPlantable("no fused RELU6; RELU has no parameter to change")
        node = view.pick(acts, position)
        g.set_attr(node["name"], "fused_activation", "RELU_N1_TO_1")
        return Planted([node_ref(node)], f"fused activation of {node['provenance']['name']} "
                                         "RELU6 -> RELU_N1_TO_1 (bounds [0,6] -> [-1,1])")
    clips = [n for n, kind in activation_nodes(view, "onnx") if kind == "Clip"
             and clip_bounds(view, n)[1] is not None]
    if not clips:
        raise NotPlantable("no Clip; Relu has no parameter to change")
    node = view.pick(clips, position)
    name = own_constant(view, node, 2)
    old = clip_bounds(view, node)[1]
    seen = min(ctx.activation_max(g, node["outputs"][0]), old)
    new = round(CLIP_FRACTION[magnitude] * seen, 3)
    g.set_constant(name, np.asarray(new, np.asarray(g.constant(name)).dtype).reshape(
        np.asarray(g.constant(name)).shape))
    return Planted([node_ref(node)], f"Clip max of {node['provenance']['name']} {old:g} -> "
                                     f"{new:g}")


def plant_hparam_resize(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    if not any(n["op"] == "Resize" for n in view.nodes):
        raise NotPlantable("no Resize in this model")
    raise NotPlantable("Resize planting is not implemented")


def plant_hparam_axis(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    soft = [n for n in view.nodes if n["op"] == "Softmax"]
    if not soft:
        raise NotPlantable("no Softmax (the model outputs logits) and no other op whose axis "
                           "can change without changing shapes")
    if ctx.fmt == "tflite":
        raise NotPlantable("TFLite SOFTMAX always works on the last axis (no axis option)")
    node = soft[-1]
    view.graph.set_attr(node["name"], "axis", 0)
    return Planted([node_ref(node)], f"softmax axis of {node['provenance']['name']} -1 -> 0 "
                                     "(over the batch)")


def plant_graph_missing_op(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    acts = activation_nodes(view, ctx.fmt)
    if not acts:
        raise NotPlantable("no activation")
    node = view.pick([n for n, _ in acts], position)
    kind = dict((n["name"], k) for n, k in acts)[node["name"]]
    if ctx.fmt == "tflite":
        view.graph.set_attr(node["name"], "fused_activation", "NONE")
        return Planted([node_ref(node)], f"fused {kind} of {node['provenance']['name']} dropped")
    view.graph.bypass_node(node["name"], 0)
    return Planted([node_ref(node)], f"{kind} {node['provenance']['name']} removed")


EXTRA_SCALE = {"subtle": 1.1, "moderate": 2.0}


def plant_graph_extra_op(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    node = view.pick(weighted_convs(view), position)
    # After the conv's block (its activation), as a stray op between layers would be.
    value = node["outputs"][0]
    cons = view.consumers.get(value, [])
    if len(cons) == 1 and cons[0][0]["op"] in ("Clip", "Relu"):
        value = cons[0][0]["outputs"][0]
    g = view.graph
    if magnitude == "gross":
        new = insert_after(view, value, "Neg", [], {}, node["name"] + "_neg", ctx.fmt)
        what = "Neg"
    else:
        const = fresh(view, node["name"] + "_scale")
        g.add_constant(const, np.asarray(EXTRA_SCALE[magnitude], np.float32).reshape(()))
        new = insert_after(view, value, "Mul", [const], {}, node["name"] + "_mul", ctx.fmt)
        what = f"Mul by {EXTRA_SCALE[magnitude]}"
    created = View(g).by_name[new]
    return Planted([node_ref(created)],
                   f"extra {what} inserted after {node['provenance']['name']}")


def plant_graph_wrong_op(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    acts = activation_nodes(view, ctx.fmt)
    g = view.graph
    if ctx.fmt == "tflite":
        kinds = {k for _, k in acts}
        src = "RELU6" if "RELU6" in kinds else "RELU"
        dst = "RELU" if src == "RELU6" else "RELU6"
        chosen = [n for n, k in acts if k == src]
        if position != "all":
            reach = [n for n in chosen if ctx.activation_max(g, n["outputs"][0]) >= 6.0]
            chosen = [view.pick(reach or chosen, position)]
        for n in chosen:
            g.set_attr(n["name"], "fused_activation", dst)
        return Planted([node_ref(n) for n in chosen],
                       f"fused {src} -> {dst} on {len(chosen)} op(s)")
    clips = [n for n, k in acts if k == "Clip"]
    relus = [n for n, k in acts if k == "Relu"]
    if clips:
        if position != "all":  # a ReLU6 whose input reaches 6, else the swap changes nothing
            reach = [n for n in clips if ctx.activation_max(g, n["inputs"][0]) > 6.0] or clips
            clips = [view.pick(reach, position)]
        chosen = clips
        for n in chosen:
            replace_with(view, n, "Relu", [n["inputs"][0]], {})
        what = "Clip(0,6) (ReLU6) -> Relu"
    elif relus:
        if position != "all":  # a ReLU whose input passes 6, else the swap changes nothing
            reach = [n for n in relus if ctx.activation_max(g, n["inputs"][0]) > 6.0] or relus
            relus = [view.pick(reach, position)]
        chosen = relus
        lo, hi = fresh(view, "relu6_min"), fresh(view, "relu6_max")
        g.add_constant(lo, np.asarray(0.0, np.float32).reshape(()))
        g.add_constant(hi, np.asarray(6.0, np.float32).reshape(()))
        for n in chosen:
            replace_with(view, n, "Clip", [n["inputs"][0], lo, hi], {})
        what = "Relu -> Clip(0,6) (ReLU6)"
    else:
        raise NotPlantable("no activation node")
    return Planted([node_ref(n) for n in chosen], f"{what} on {len(chosen)} node(s)")


def plant_graph_outputs(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    node = view.pick(weighted_convs(view), "late")
    outs = list(view.outputs)
    extra = node["outputs"][0]
    if magnitude == "subtle":
        view.graph.set_outputs([*outs, extra])
        what = f"extra output {extra} appended"
        changes = False
    else:
        view.graph.set_outputs([extra, *outs])
        what = f"intermediate {extra} added as the first output (outputs reordered)"
        changes = True
    return Planted([node_ref(node)], what, changes_output=changes)


def _channel_axis(view: View) -> int:
    shape = view.values[view.inputs[0]]["shape"]
    return 1 if shape[1] == 3 else 3


def plant_input_preprocess(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    g = view.graph
    x = view.inputs[0]
    if magnitude == "moderate":
        axis = _channel_axis(view)
        idx = fresh(view, "channel_swap_indices")
        g.add_constant(idx, np.asarray([2, 1, 0], np.int32 if ctx.fmt == "tflite" else np.int64))
        new = insert_after(view, x, "Gather", [idx], {"axis": axis}, "input_bgr", ctx.fmt)
        what = f"channel order swapped (RGB <-> BGR) by a Gather on axis {axis} at the input"
    else:
        value = 0.25 if magnitude == "subtle" else 255.0
        op = "Add" if magnitude == "subtle" else "Mul"
        const = fresh(view, "input_" + op.lower())
        g.add_constant(const, np.asarray(value, np.float32).reshape(()))
        new = insert_after(view, x, op, [const], {}, "input_" + op.lower(), ctx.fmt)
        what = (f"input shifted by +{value} (another mean)" if op == "Add"
                else f"input multiplied by {value:g} (0-255 pixels where the model expects "
                     "its own scale)")
    return Planted([node_ref(View(g).by_name[new])], what)


def plant_input_layout(view: View, ctx: Context, position: str, magnitude: str) -> Planted:
    if ctx.fmt == "tflite":
        raise NotPlantable("the IR edit API cannot replace a graph input, and a TFLite file is "
                           "not edited outside the IR")
    x = view.values[view.inputs[0]]
    shape = list(x["shape"])
    if shape[1] == 3:
        perm_in, new_shape = [0, 3, 1, 2], [shape[0], shape[2], shape[3], 3]
        label = "NCHW -> NHWC"
    else:
        perm_in, new_shape = [0, 2, 3, 1], [shape[0], 3, shape[1], shape[2]]
        label = "NHWC -> NCHW"
    input_name = x["name"]

    def rewrite(path: Path) -> None:
        # The IR cannot swap a graph input, so the ONNX file is edited with the onnx package:
        # a new input in the other layout, transposed back into the old input's consumers.
        import onnx
        from onnx import helper

        model = onnx.load(str(path))
        graph = model.graph
        old = next(i for i in graph.input if i.name == input_name)
        elem = old.type.tensor_type.elem_type
        renamed = input_name + "__original_layout"
        for node in graph.node:
            for k, name in enumerate(node.input):
                if name == input_name:
                    node.input[k] = renamed
        graph.node.insert(0, helper.make_node("Transpose", [input_name], [renamed],
                                              name="planted_input_transpose", perm=perm_in))
        new = helper.make_tensor_value_info(input_name, elem, new_shape)
        graph.input.remove(old)
        graph.input.insert(0, new)
        onnx.checker.check_model(model)
        tmp = path.with_name(path.name + ".tmp")
        onnx.save(model, str(tmp))
        tmp.replace(path)

    return Planted([{"name": "planted_input_transpose", "op": "Transpose",
                     "provenance_name": "planted_input_transpose",
                     "provenance_op": "Transpose"}],
                   f"input layout {label}: input {input_name} now {new_shape}, transposed "
                   f"back with perm {perm_in}", contract_shape=new_shape, post_save=rewrite)


RECIPES: dict[str, Callable[[View, Context, str, str], Planted]] = {
    "param.value": plant_param_value,
    "param.layout": plant_param_layout,
    "param.declared_lossy": plant_param_declared_lossy,
    "hparam.padding": plant_hparam_padding,
    "hparam.stride_dilation": plant_hparam_stride_dilation,
    "hparam.norm": plant_hparam_norm,
    "hparam.pooling": plant_hparam_pooling,
    "hparam.activation": plant_hparam_activation,
    "hparam.resize": plant_hparam_resize,
    "hparam.axis": plant_hparam_axis,
    "graph.missing_op": plant_graph_missing_op,
    "graph.extra_op": plant_graph_extra_op,
    "graph.wrong_op": plant_graph_wrong_op,
    "graph.outputs": plant_graph_outputs,
    "input.preprocess": plant_input_preprocess,
    "input.layout": plant_input_layout,
}


# ---------------------------------------------------------------- native checks


def native_outputs(path: Path, contract: Any, pixels: list[np.ndarray]) -> list[np.ndarray]:
    """Run a file in its own runtime on images preprocessed by ``contract``."""
    from convmend.runners import open_runner

    runner = open_runner(path)
    batch = contract.batch(pixels)
    try:
        return [np.asarray(o, np.float64) for o in runner.run({contract.input_name: batch})]
    except ConvmendError:
        raise
    except Exception as exc:  # the runtime refused the planted file
        raise ConvmendError(f"{path} does not run in its runtime: {type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:300]}") from exc


def is_observable(effect: dict[str, Any], clean_outputs: int) -> bool:
    """Whether a planted fault changes what the file computes on the check images by more
    than float noise (an activation bound above every value it sees changes nothing)."""
    return bool(effect["first_output_shape_changed"] or effect["outputs"] != clean_outputs
                or (effect.get("relative_diff") or 0.0) > 1e-6)


def _compare(clean: list[np.ndarray], planted: list[np.ndarray]) -> dict[str, Any]:
    a = clean[0].reshape(len(clean[0]), -1)
    same_shape = planted[0].size == clean[0].size
    if not same_shape:
        return {"first_output_shape_changed": True, "max_abs_diff": None,
                "top1_changed": None, "outputs": len(planted)}
    b = planted[0].reshape(a.shape)
    return {"first_output_shape_changed": False, "outputs": len(planted),
            "max_abs_diff": float(np.abs(a - b).max()),
            "relative_diff": float(np.abs(a - b).max() / max(np.abs(a).max(), 1e-30)),
            "top1_changed": int(np.sum(a.argmax(1) != b.argmax(1)))}


# ---------------------------------------------------------------- the driver


def _rename_as_written(refs: list[dict[str, str]], written: Any) -> None:
    """Node names as the planted file spells them (TFLite ops have no names of their own:
    the reader names them after their output tensor); a node the recipe removed keeps its
    old name and is marked ``removed``."""
    by_output = {}
    for n in written.nodes():
        for out in n["outputs"]:
            by_output[out] = n
    names = {n["name"] for n in written.nodes()}
    for ref in refs:
        n = by_output.get(ref.get("output", ""))
        if n is not None:
            ref.update(name=n["name"], op=n["op"], provenance_name=n["provenance"]["name"],
                       provenance_op=n["provenance"]["op_type"])
        elif ref["name"] not in names:
            ref["removed"] = True


def targets_for(model: str, formats: Sequence[str],
                kinds: Sequence[str] = TARGET_KINDS) -> list[Target]:
    """Clean targets of one zoo model (built and cached by the zoo when missing)."""
    from convmend.zoo import build

    out = []
    formats = [f for f in formats if any(k.startswith(f) for k in kinds)]
    if "onnx" in formats and "onnx-keras" in kinds:
        out.append(Target(model, "onnx-keras", build.onnx_from_keras(model),
                          build.keras_model(model)))
    if "tflite" in formats and "tflite-keras" in kinds:
        out.append(Target(model, "tflite-keras", build.tflite_from_keras(model),
                          build.keras_model(model)))
    if "onnx" in formats and "onnx-torch" in kinds:
        out.append(Target(model, "onnx-torch", build.onnx_from_torch(model),
                          build.torch_module(model)))
    return out


def plant_one(target: Target, base: Any, code: str, position: str, magnitude: str,
              out_dir: Path, contract: Any, pixels: list[np.ndarray],
              clean_out: list[np.ndarray], ctx: Context) -> dict[str, Any]:
    """Plant one fault, write it with its sidecar, check it natively; the manifest entry.
    Raises NotPlantable."""
    from convmend import engine
    from convmend.contract import write_contract
    from convmend.fileio import sha256_of, write_json

    g = base.clone()
    view = View(g)
    planted = RECIPES[code](view, ctx, position, magnitude)
    try:
        g.remove_dead()  # constants an edit left unused
        g.verify()
        g.infer_shapes()
    except ConvmendError as exc:
        raise NotPlantable(f"the edited graph does not verify: {exc}") from exc
    suffix = ".onnx" if target.format == "onnx" else ".tflite"
    path = out_dir / f"{code}__{position}__{magnitude}{suffix}"
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        g.save(tmp)
        if planted.post_save is not None:
            planted.post_save(tmp)
        written = engine.load(tmp)  # the IR reads back what it wrote
    except ConvmendError as exc:
        tmp.unlink(missing_ok=True)
        raise NotPlantable(f"the writer refused the edit: {exc}") from exc
    except Exception as exc:  # onnx checker
        tmp.unlink(missing_ok=True)
        raise NotPlantable(f"the edited file is invalid: {type(exc).__name__}: {exc}") from exc
    tmp.replace(path)
    _rename_as_written(planted.nodes, written)
    feed = contract
    if planted.contract_shape is not None:
        feed = contract.for_input(contract.input_name, planted.contract_shape,
                                  "planted: " + contract.origin)
    sidecar = Path(str(path) + ".json")
    sidecar.unlink(missing_ok=True)
    write_json(sidecar, {"planted": {"code": code, "position": position,
                                     "magnitude": magnitude, "clean": str(target.path)}})
    # A changed input layout is recorded as a fault would reach a user: the sidecar keeps the
    # clean target's contract, which no longer fits the input (an undeclared change; a layout
    # change the converter hands on with its contract is what conversions to TFLite do).
    write_contract(path, contract if planted.contract_shape is not None else feed)
    try:
        outputs = native_outputs(path, feed, pixels)
    except ConvmendError as exc:
        path.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        raise NotPlantable(f"does not run natively: {exc}") from exc
    effect = _compare(clean_out, outputs)
    observable = is_observable(effect, len(clean_out)) or planted.contract_shape is not None
    return {
        "model": target.model, "format": target.format, "target_kind": target.kind,
        "source": str(target.source), "clean_target": str(target.path),
        "clean_sha256": sha256_of(target.path), "target": str(path),
        "sha256": sha256_of(path), "code": code, "position": position,
        "magnitude": magnitude, "nodes": planted.nodes, "description": planted.description,
        "expect_output_change": planted.changes_output, "native_effect": effect,
        "observable": observable,
    }


def plant_target(target: Target, out_root: Path, codes: Sequence[str],
                 pixels: list[np.ndarray], log: Callable[[str], None]
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every planned fault into one target: (manifest entries, not-plantable entries)."""
    from convmend import engine
    from convmend.contract import contract_of

    base = engine.load(target.path)
    contract = contract_of(target.path)
    clean_out = native_outputs(target.path, contract, pixels)
    out_dir = out_root / target.model / target.kind
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(target, contract.batch(pixels))
    entries, skipped = [], []
    for code, variants in PLAN:
        if code not in codes:
            continue
        reasons = []
        for position, magnitude in variants:
            try:
                entry = plant_one(target, base, code, position, magnitude, out_dir, contract,
                                  pixels, clean_out, ctx)
            except NotPlantable as exc:
                reasons.append(f"{position}/{magnitude}: {exc}")
                log(f"  - {target.kind} {code} {position}/{magnitude}: not plantable: {exc}")
                continue
            entries.append(entry)
            eff = entry["native_effect"]
            log(f"  + {target.kind} {code} {position}/{magnitude}: "
                f"{entry['description'][:90]} | max|d| {eff.get('max_abs_diff')} "
                f"top1 changed {eff.get('top1_changed')}")
        if reasons:
            skipped.append({"model": target.model, "format": target.format,
                            "target_kind": target.kind, "code": code,
                            "variants_planted": len(variants) - len(reasons),
                            "reason": "; ".join(dict.fromkeys(r.split(": ", 1)[1]
                                                              for r in reasons))})
    return entries, skipped


def build_corpus(out_root: Path, models: Sequence[str], formats: Sequence[str],
                 codes: Sequence[str] = PLANTABLE_CODES, images: int = 4,
                 log: Callable[[str], None] = print,
                 kinds: Sequence[str] = TARGET_KINDS) -> dict[str, Any]:
    from convmend import __version__
    from convmend.images import default_images

    out_root.mkdir(parents=True, exist_ok=True)
    pixels = default_images(images).load_all()
    entries: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    done: list[tuple[str, str]] = []
    start = time.perf_counter()
    manifest: dict[str, Any] = {}
    for model in models:
        for target in targets_for(model, formats, kinds):
            log(f"{model} {target.kind}: {target.path}")
            e, s = plant_target(target, out_root, codes, pixels, log)
            entries += e
            skipped += s
            done.append((model, target.kind))
            # After every target: a run that fails later (a model that cannot be converted,
            # memory) keeps what it planted.
            manifest = _write_manifest(out_root, done, codes, formats, images, entries,
                                       skipped, time.perf_counter() - start, __version__)
    return manifest or _write_manifest(out_root, done, codes, formats, images, entries,
                                       skipped, time.perf_counter() - start, __version__)


def _write_manifest(out_root: Path, done: Sequence[tuple[str, str]], codes: Sequence[str],
                    formats: Sequence[str], images: int, entries: list[dict[str, Any]],
                    skipped: list[dict[str, Any]], seconds: float, version: str
                    ) -> dict[str, Any]:
    """manifest.json with this run's entries for the (model, kind) targets ``done`` and
    what earlier runs planted for other models, kinds and codes."""
    from convmend.fileio import write_json

    redone = {(m, k, c) for m, k in done for c in codes}
    models = sorted({m for m, _ in done})
    previous = out_root / "manifest.json"
    if previous.is_file():
        try:
            old = json.loads(previous.read_text())
            entries = [e for e in old.get("faults", []) if (e["model"], e["target_kind"],
                                                            e["code"]) not in redone] + entries
            skipped = [e for e in old.get("not_plantable", [])
                       if (e["model"], e["target_kind"], e["code"]) not in redone] + skipped
            models = sorted({e["model"] for e in entries} | set(models))
        except (OSError, ValueError, KeyError):
            pass
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "tool": f"convmend {version}",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "root": str(out_root),
        "models": list(models), "formats": list(formats),
        "check_images": images,
        "seconds": round(seconds, 1),
        "not_in_a_file": NOT_IN_A_FILE,
        "not_plantable": skipped,
        "faults": entries,
    }
    write_json(out_root / "manifest.json", manifest)
    return manifest


def ensure_corpus(model: str, kinds: Sequence[str], root: Path | None = None) -> dict[str, Any]:
    """The corpus manifest, with ``model``'s faults in ``kinds`` planted again when they are
    missing or were planted into another clean target than the zoo's current one (the zoo
    was rebuilt since)."""
    from convmend.fileio import sha256_of

    root = root or default_root()
    path = root / "manifest.json"
    for target in targets_for(model, ["onnx", "tflite"], kinds):
        try:
            faults = json.loads(path.read_text())["faults"] if path.is_file() else []
        except (OSError, ValueError, KeyError):
            faults = []
        sha = sha256_of(target.path)
        mine = [e for e in faults if (e["model"], e["target_kind"]) == (model, target.kind)]
        if not mine or any(e.get("clean_sha256") != sha for e in mine):
            build_corpus(root, [model], [target.format], log=lambda _line: None,
                         kinds=[target.kind])
    return json.loads(path.read_text())


def default_root() -> Path:
    from convmend.zoo.build import cache_dir

    return cache_dir() / "planted"


def main(argv: Sequence[str] | None = None) -> int:
    from convmend.zoo.build import MODEL_NAMES

    parser = argparse.ArgumentParser(prog="python -m convmend.faults.plant",
                                     description="Plant known faults into zoo conversions.")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="corpus folder (default: <zoo cache>/planted)")
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--formats", nargs="+", default=["onnx", "tflite"],
                        choices=["onnx", "tflite"])
    parser.add_argument("--codes", nargs="+", default=list(PLANTABLE_CODES),
                        choices=list(PLANTABLE_CODES))
    parser.add_argument("--kinds", nargs="+", default=list(TARGET_KINDS), choices=TARGET_KINDS,
                        help="which conversions to plant into")
    parser.add_argument("--images", type=int, default=4, help="images for the native check")
    args = parser.parse_args(argv)
    try:
        out = Path(args.out) if args.out else default_root()
        manifest = build_corpus(out, args.models, args.formats, args.codes, args.images,
                                log=lambda line: print(line, flush=True), kinds=args.kinds)
    except ConvmendError as exc:
        print(f"convmend: error: {exc}", file=sys.stderr)
        return 2
    print(f"planted {len(manifest['faults'])} faults; manifest {out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
