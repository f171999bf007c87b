"""Keras 3 models (``.keras`` files, legacy ``.h5`` files Keras can read, live
``keras.Model`` objects) into the IR.

The functional graph is walked node by node (Keras ``Node``: one call of a layer), in
Keras' own execution order. Every layer becomes one IR node, or a short chain of nodes when
the IR has no single op for it (an activation after a Conv, Rescaling's scale and offset);
the value a layer produces is named exactly as the layer, so a traced IR run and
``KerasRunner.run_with_intermediates`` share their keys. The model's layout is kept: NHWC
activations, Conv weights as ``OHWI`` (Conv2D's ``HWIO`` kernel transposed) or ``1HWO``
(DepthwiseConv2D), Dense weights as ``[out, in]`` for FullyConnected.

``keras.ops`` calls recorded in a functional graph (``x * 2``, ``ops.relu``) are handled too,
named by their operation name. tf_keras (Keras 2) files made of ``TFOpLambda`` layers, as
onnx2tf writes them, cannot be loaded by Keras 3; they are read from their config, where
onnx2tf keeps the weights inline (``_TfKerasConfig``).

Files whose layers run embedded Python code (``Lambda``) are refused unless
``trust=True``; Keras is always called with ``safe_mode=not trust``. Unsupported layers are
all collected before ``UnsupportedLayers`` is raised.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.frontends import UnsupportedLayers

FORMAT = "keras"

# Layers whose config carries Python code (marshalled bytecode or a lambda's source).
CODE_LAYERS = frozenset({"Lambda"})
# tf_keras (Keras 2) layers that Keras 3 cannot rebuild; onnx2tf writes models made of them.
KERAS2_ONLY = frozenset({"TFOpLambda", "SlicingOpLambda"})

# Layers that are identities at inference.
IDENTITY_LAYERS = frozenset({
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout",
    "GaussianDropout", "GaussianNoise", "ActivityRegularization", "Identity", "Masking",
})

# keras.activations names -> how to write them. Fusable ones may go on Conv/Dense.
_FUSABLE = {"relu": "RELU", "relu6": "RELU6", "tanh": "TANH"}
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class RefusedCode(ConvmendError):
    """The model holds layers that run embedded Python code and ``trust`` was not given."""


# --------------------------------------------------------------------------- entry points


def load(path: Path, trust: bool = False) -> Any:
    """A ``.keras`` or legacy ``.h5`` file into an IR graph (verified, shapes inferred)."""
    path = Path(path)
    if not path.exists():
        raise ConvmendError(f"model file not found: {path}")
    cfg, keras2 = _checked_config(path, trust)
    if keras2 and cfg is not None and cfg.get("class_name") in ("Functional", "Model"):
        return _from_tf_keras_config(cfg, path.stem, path)  # onnx2tf's, nobuco's tf_keras
    return from_model(_keras_load(path, trust, keras2), trust=trust)


def _checked_config(path: Path, trust: bool) -> tuple[dict[str, Any] | None,
                                                     dict[str, list[str]]]:
    """The file's model config and its Keras-2-only layers; refuses layers that carry code
    unless ``trust``."""
    cfg = _model_config(path)
    if not trust:
        code = _layers_in(cfg, CODE_LAYERS)
        if code:
            raise RefusedCode(_refusal(path.name, code))
    return cfg, _layers_in(cfg, KERAS2_ONLY)


def _keras_load(path: Path, trust: bool, keras2: dict[str, list[str]],
                fresh: bool = False) -> Any:
    """The ``keras.Model`` of ``path``: shared with the native runner (``loaded``), or a copy
    of its own when ``fresh`` (a caller that changes it)."""
    import keras

    from convmend import loaded

    try:
        if fresh:
            return keras.models.load_model(str(path), compile=False, safe_mode=not trust)
        return loaded.keras_model(path, safe_mode=not trust)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError alike
        if keras2:  # say which layers, not only Keras' first complaint
            raise UnsupportedLayers(FORMAT, keras2) from exc
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConvmendError(f"Keras cannot load {path}: {first}") from exc


def load_model_object(path: Path, trust: bool = False) -> Any:
    """The ``keras.Model`` of a Keras 3 file, with the same refusals as ``load`` (code layers
    without trust); Keras 2 files (tf_keras) are refused: they cannot be saved back here."""
    path = Path(path)
    _, keras2 = _checked_config(path, trust)
    if keras2:
        raise ConvmendError(f"{path} was written by Keras 2 (tf_keras layers "
                            f"{', '.join(sorted(keras2))}); writing it back is not supported")
    return _keras_load(path, trust, keras2, fresh=True)


def from_model(model: Any, name: str | None = None, trust: bool = False) -> Any:
    """A live ``keras.Model`` (functional or built Sequential) into an IR graph."""
    builder = _Builder(model, name or model.name, trust)
    return builder.build()


def _refusal(where: str, code: dict[str, list[str]]) -> str:
    listed = "; ".join(f"{kind} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                       for kind, names in sorted(code.items()))
    return (f"{where}: refusing layers that run embedded Python code: {listed}; "
            f"pass trust=True (--trust) only if you trust this model")


def _model_config(path: Path) -> dict[str, Any] | None:
    """The model config JSON of a ``.keras`` zip or a legacy ``.h5`` file, None if unreadable."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                return json.loads(zf.read("config.json"))
        import h5py

        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                return None
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except Exception:  # not ours to diagnose: Keras' own load reports it
        return None


def _layers_in(cfg: dict[str, Any] | None, kinds: frozenset[str]) -> dict[str, list[str]]:
    """{class name: [layer names]} of the layers of ``kinds`` in a model config."""
    found: dict[str, list[str]] = {}

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            kind = obj.get("class_name")
            if isinstance(kind, str) and kind in kinds:
                cfg = obj.get("config") or {}
                found.setdefault(kind, []).append(str(cfg.get("name", "?")))
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list) and obj and isinstance(obj[0], dict):
            for v in obj:  # lists of layers; never the (inline) weights
                walk(v)

    walk(cfg)
    return found


# --------------------------------------------------------------------------- the builder


def _np(variable: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable))


def _pair(v: Any) -> list[int]:
    if isinstance(v, int):
        return [v, v]
    return [int(x) for x in v]


_INNER = "inner layers unsupported"


def _unique_name(used: set[str], base: str) -> str:
    """``base``, or ``base_1``, ``base_2``... : the first name not in ``used`` (then added)."""
    name, k = base, 1
    while name in used:
        name = f"{base}_{k}"
        k += 1
    used.add(name)
    return name


class _Skip(Exception):
    """A layer the frontend cannot express: recorded, the walk goes on."""

    def __init__(self, why: str = ""):
        super().__init__(why)
        self.why = why


class _Builder:
    def __init__(self, model: Any, name: str, trust: bool):
        from convmend import _core

        self._state(model, _core.Graph(name), set(), trust)
        self.g.set_metadata("keras.name", str(model.name))

    @classmethod
    def emitting_into(cls, graph: Any, used: set[str]) -> _Builder:
        """A builder with no model of its own that emits layers into ``graph``, sharing the
        names in ``used`` (the tf_keras config walker's ordinary layers)."""
        builder = cls.__new__(cls)
        builder._state(None, graph, used, False)
        return builder

    def _state(self, model: Any, graph: Any, used: set[str], trust: bool) -> None:
        from convmend import _core

        self.core = _core
        self.model = model
        self.trust = trust
        self.g = graph
        self.names: dict[int, str] = {}  # id(KerasTensor) -> IR value name
        self.shapes: dict[str, list[int]] = {}  # IR value name -> static shape (batch 1)
        self.used: set[str] = used
        self.unsupported: dict[str, list[str]] = {}
        self.code: dict[str, list[str]] = {}
        self.index: dict[int, int] = {}
        self.produced: set[str] = set()  # layer names already given to a value
        self.call_rank: dict[int, int] = {}  # id(Keras Node) -> which call of its layer
        # per-layer context while emitting
        self.layer: Any = None
        self.layer_name = ""

    # ---- helpers -------------------------------------------------------------------------

    def unique(self, base: str) -> str:
        return _unique_name(self.used, base)

    def const(self, suffix: str, array: np.ndarray, layout: str = "") -> str:
        name = self.unique(f"{self.layer_name}/{suffix}")
        self.g.add_constant(name, np.ascontiguousarray(array), layout)
        return name

    def scalar(self, suffix: str, value: float) -> str:
        return self.const(suffix, np.array(value, dtype=np.float32))

    def ints(self, suffix: str, values: list[int]) -> str:
        return self.const(suffix, np.array(values, dtype=np.int64))

    def node(self, op: str, inputs: list[str], out: str | None = None,
             attrs: dict[str, Any] | None = None, suffix: str = "") -> str:
        """Adds one node; its output is ``out`` (already reserved) or a fresh internal name."""
        if out is None:
            out = self.unique(f"{self.layer_name}/{suffix or op}")
        self.g.add_node(op, out, inputs, [out], attrs or {}, source_format=FORMAT,
                        source_name=self.layer.name, source_op=type(self.layer).__name__,
                        source_index=self.index.get(id(self.layer), -1))
        return out

    def activation(self, kind: str, x: str, out: str) -> str:
        """``out = kind(x)`` as one or more nodes, the last one writing ``out``."""
        n = self.node
        if kind in ("linear", None):
            return n("Identity", [x], out)
        if kind == "relu":
            return n("Relu", [x], out)
        if kind == "relu6":
            return n("Clip", [x, self.scalar("min", 0.0), self.scalar("max", 6.0)], out)
        if kind == "hard_tanh":
            return n("Clip", [x, self.scalar("min", -1.0), self.scalar("max", 1.0)], out)
        simple = {"sigmoid": "Sigmoid", "tanh": "Tanh", "exponential": "Exp",
                  "softplus": "Softplus", "hard_silu": "HardSwish", "hard_swish": "HardSwish"}
        if kind in simple:
            return n(simple[kind], [x], out)
        if kind == "elu":
            return n("Elu", [x], out, {"alpha": 1.0})
        if kind == "selu":
            e = n("Elu", [x], None, {"alpha": _SELU_ALPHA})
            return n("Mul", [e, self.scalar("scale", _SELU_SCALE)], out)
        if kind == "leaky_relu":
            return n("LeakyRelu", [x], out, {"alpha": 0.2})
        if kind == "hard_sigmoid":
            return n("HardSigmoid", [x], out, {"alpha": 1.0 / 6.0, "beta": 0.5})
        if kind == "gelu":
            return n("Gelu", [x], out, {"approximate": "none"})
        if kind in ("silu", "swish"):
            s = n("Sigmoid", [x], None)
            return n("Mul", [x, s], out)
        if kind == "mish":
            t = n("Tanh", [n("Softplus", [x], None)], None)
            return n("Mul", [x, t], out)
        if kind == "softsign":
            d = n("Add", [n("Abs", [x], None), self.scalar("one", 1.0)], None)
            return n("Div", [x, d], out)
        if kind == "softmax":
            return n("Softmax", [x], out, {"axis": -1})
        if kind == "log_softmax":
            return n("Log", [n("Softmax", [x], None, {"axis": -1})], out)
        raise _Skip(f"activation {kind!r}")

    @staticmethod
    def activation_name(layer: Any) -> str:
        act = layer.get_config().get("activation", "linear")
        if isinstance(act, dict):  # a serialized function
            act = act.get("config", act.get("class_name"))
        if not isinstance(act, str):
            import keras

            act = keras.activations.serialize(layer.activation)
            act = act if isinstance(act, str) else str(act)
        return act

    def with_activation(self, op: str, inputs: list[str], out: str, attrs: dict[str, Any],
                        act: str) -> None:
        """Conv/Dense followed by ``act``: fused when the IR can, else a separate node."""
        if act in ("linear", None):
            self.node(op, inputs, out, attrs)
        elif act in _FUSABLE:
            self.node(op, inputs, out, {**attrs, "fused_activation": _FUSABLE[act]})
        else:
            pre = self.node(op, inputs, None, attrs, suffix="pre_activation")
            self.activation(act, pre, out)

    # ---- graph walk ----------------------------------------------------------------------

    def build(self) -> Any:
        model = self.model
        if type(model).__name__ == "Sequential":
            func = getattr(model, "_functional", None)
            if func is None:
                raise ConvmendError(f"Sequential model {model.name!r} is not built with an "
                                    "Input; build it before converting")
            graph_model = func
        else:
            graph_model = model
        if not hasattr(graph_model, "_nodes_by_depth"):
            raise ConvmendError(f"{model.name!r} is a subclassed keras.Model; only functional "
                                "and Sequential models have a graph to walk")
        for i, layer in enumerate(model.layers):
            self.index[id(layer)] = i
        self.used.update(layer.name for layer in _all_operations(graph_model))
        self.check_code(graph_model)

        for t in graph_model.inputs:
            layer = t._keras_history.operation
            self.layer, self.layer_name = layer, layer.name
            shape = [1 if d is None else int(d) for d in t.shape]
            dtype = np.dtype(t.dtype).name
            layout = "NHWC" if len(shape) == 4 else ""
            self.g.add_input(layer.name, dtype, shape, layout)
            self.names[id(t)] = layer.name
            self.shapes[layer.name] = shape
        self.walk(graph_model, prefix="")
        if self.unsupported:
            raise UnsupportedLayers(FORMAT, self.unsupported)
        for t in graph_model.outputs:
            self.g.add_output(self.names[id(t)])
        self.g.verify()
        self.g.infer_shapes()
        return self.g

    def check_code(self, graph_model: Any) -> None:
        for op in _all_operations(graph_model):
            kind = type(op).__name__
            if kind in CODE_LAYERS:
                self.code.setdefault(kind, []).append(op.name)
        if self.code and not self.trust:
            raise RefusedCode(_refusal(f"model {self.model.name!r}", self.code))

    def walk(self, graph_model: Any, prefix: str) -> None:
        by_depth = graph_model._nodes_by_depth
        calls: dict[int, list[Any]] = {}
        for nodes in by_depth.values():
            for knode in nodes:
                if knode.operation and not knode.is_input:
                    calls.setdefault(id(knode.operation), []).append(knode)
        for knodes in calls.values():  # k-th call in Keras' own order of calls
            order = {id(n): i for i, n in enumerate(knodes[0].operation._inbound_nodes)}
            knodes.sort(key=lambda n: order.get(id(n), len(order)))
            for k, n in enumerate(knodes):
                self.call_rank[id(n)] = k
        for depth in sorted(by_depth, reverse=True):
            for knode in by_depth[depth]:
                if not knode.operation or knode.is_input:
                    continue
                self.emit(knode, prefix)

    def out_name(self, op: Any, knode: Any, prefix: str, i: int) -> str:
        """The layer's name for its first call in this graph (Keras may hold stale calls in
        ``_inbound_nodes``, e.g. after loading a Sequential), ``<name>_call<k>`` after."""
        k = self.call_rank.get(id(knode), 0)
        base = prefix + op.name + (f"_call{k}" if k else "") + (f":{i}" if i else "")
        if base == prefix + op.name and base not in self.produced:
            self.used.add(base)  # reserved up front; it is the layer's own name
            self.produced.add(base)
            return base
        return self.unique(base)

    def emit(self, knode: Any, prefix: str) -> None:
        op = knode.operation
        kind = type(op).__name__
        ins = [self.names.get(id(t), "") for t in knode.input_tensors]
        if any(not i for i in ins):  # fed by an unsupported layer: nothing to build on,
            for t in knode.outputs:  # but a layer kind the frontend lacks is still listed
                self.names[id(t)] = ""
            if not _is_layer(op):
                if kind not in _KERAS_OPS:
                    self.unsupported.setdefault(f"ops.{kind}", []).append(prefix + op.name)
            elif kind in CODE_LAYERS or not (
                    kind in IDENTITY_LAYERS or hasattr(self, f"op_{kind}")
                    or kind == "Sequential" or hasattr(op, "_nodes_by_depth")):
                self.unsupported.setdefault(kind, []).append(prefix + op.name)
            return
        outs = [self.out_name(op, knode, prefix, i) for i in range(len(knode.outputs))]
        self.layer, self.layer_name = op, outs[0]
        for t, o in zip(knode.outputs, outs, strict=True):
            self.shapes[o] = [1 if d is None else int(d) for d in t.shape]
        handler: Callable[..., None] | None = getattr(self, f"op_{kind}", None)
        if kind in IDENTITY_LAYERS:
            handler = self.op_identity
        if kind == "Sequential" or hasattr(op, "_nodes_by_depth"):
            handler = self.nested
        if not _is_layer(op):  # a keras.ops call on symbolic tensors (x * 2, ops.relu(x))
            kind = f"ops.{kind}"
            handler = self.keras_op
        why = ""
        if kind not in CODE_LAYERS and handler is not None:
            try:
                handler(op, knode, ins, outs)
                for t, o in zip(knode.outputs, outs, strict=True):
                    self.names[id(t)] = o
                return
            except _Skip as skip:
                why = skip.why
        label = f"{kind}[{why}]" if why else kind
        if why != _INNER:  # else its own unsupported layers are listed already
            self.unsupported.setdefault(label, []).append(prefix + op.name)
        for t in knode.outputs:
            self.names[id(t)] = ""

    def nested(self, op: Any, knode: Any, ins: list[str], outs: list[str]) -> None:
        """A functional model or Sequential used as a layer: its layers are walked in place,
        named ``<outer name>/<inner layer>``; an Identity gives its output the outer name."""
        inner = getattr(op, "_functional", None) if type(op).__name__ == "Sequential" else op
        if inner is None or not hasattr(inner, "_nodes_by_depth"):
            raise _Skip("not built")
        prefix = f"{outs[0]}/"
        self.used.update(prefix + lay.name for lay in _all_operations(inner))
        for t, name in zip(inner.inputs, ins, strict=True):
            self.names[id(t)] = name
        self.walk(inner, prefix)
        for t, out in zip(inner.outputs, outs, strict=True):
            inner_name = self.names.get(id(t))
            if inner_name:
                self.layer, self.layer_name = op, out
                self.node("Identity", [inner_name], out)
            else:
                raise _Skip(_INNER)

    def keras_op(self, op, knode, ins, outs) -> None:
        """keras.ops calls recorded in a functional graph: elementwise arithmetic with
        tensors or constants, activations, reshape/transpose/concatenate."""
        kind = type(op).__name__
        if kind not in _KERAS_OPS:
            raise _Skip()
        tensors = iter(ins)

        def operand(arg: Any) -> str:
            if _is_symbolic(arg):
                return next(tensors)
            value = np.asarray(arg)
            if value.dtype.kind in "fiub" and value.dtype != np.float32:
                value = value.astype(np.float32)  # Keras casts to the float tensor's dtype
            return self.const("constant", value)

        target = _KERAS_OPS[kind]
        args = list(knode.arguments.args)
        if kind in _BINARY_OPS:
            if len(args) != 2 or knode.arguments.kwargs:
                raise _Skip("arguments")
            self.node(target, [operand(args[0]), operand(args[1])], outs[0])
        elif kind == "Concatenate":
            rank = len(self.shapes[ins[0]])
            self.node("Concat", ins, outs[0], {"axis": int(op.axis) % rank})
        elif kind == "Reshape":
            self.node("Reshape", [ins[0], self.ints("shape", self.shapes[outs[0]])], outs[0])
        elif kind == "Transpose":
            rank = len(self.shapes[ins[0]])
            perm = list(range(rank))[::-1] if op.axes is None else [int(a) for a in op.axes]
            self.node("Transpose", [ins[0]], outs[0], {"perm": perm})
        elif kind == "Softmax":
            axis = op.axis if isinstance(op.axis, int) else None
            if axis is None:
                raise _Skip("axis")
            self.node("Softmax", [ins[0]], outs[0], {"axis": axis})
        elif kind == "Gelu":
            self.node("Gelu", [ins[0]], outs[0],
                      {"approximate": "tanh" if op.approximate else "none"})
        elif target.islower():  # a keras.activations name
            self.activation(target, ins[0], outs[0])
        else:
            self.node(target, [ins[0]], outs[0])

    # ---- layers --------------------------------------------------------------------------

    def op_identity(self, layer, knode, ins, outs) -> None:
        self.node("Identity", [ins[0]], outs[0])

    def _conv_common(self, layer) -> dict[str, Any]:
        cfg = layer.get_config()
        pad = cfg["padding"]
        if pad not in ("same", "valid"):
            raise _Skip(f"padding {pad}")
        nhwc = cfg.get("data_format", "channels_last") == "channels_last"
        strides, dil = _pair(cfg["strides"]), _pair(cfg.get("dilation_rate", 1))
        if dil != [1, 1] and strides != [1, 1]:
            raise _Skip("strides and dilation")
        return {"strides": strides, "dilations": dil,
                "auto_pad": "SAME_UPPER" if pad == "same" else "VALID",
                "data_layout": "NHWC" if nhwc else "NCHW"}

    def _check_rank(self, ins: list[str], rank: int) -> None:
        if len(self.shapes[ins[0]]) != rank:
            raise _Skip(f"rank {len(self.shapes[ins[0]])} input")

    def _bias(self, layer, ins: list[str]) -> str:
        if getattr(layer, "use_bias", False) and getattr(layer, "bias", None) is not None:
            return self.const("bias", _np(layer.bias).astype(np.float32))
        return ""

    def op_Conv2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        attrs = self._conv_common(layer)
        kernel = _np(layer.kernel)  # [kh, kw, in/groups, out]
        if attrs["data_layout"] == "NHWC":
            w = self.const("kernel", kernel.transpose(3, 0, 1, 2), "OHWI")
            attrs["weight_layout"] = "OHWI"
        else:
            w = self.const("kernel", kernel.transpose(3, 2, 0, 1), "OIHW")
            attrs["weight_layout"] = "OIHW"
        attrs["group"] = int(getattr(layer, "groups", 1) or 1)
        self.with_activation("Conv", [ins[0], w, self._bias(layer, ins)], outs[0], attrs,
                             self.activation_name(layer))

    def op_DepthwiseConv2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        attrs = self._conv_common(layer)
        kernel = _np(layer.kernel)  # [kh, kw, in, multiplier]
        kh, kw, cin, mult = kernel.shape
        if attrs["data_layout"] == "NHWC":
            w = self.const("depthwise_kernel", kernel.reshape(1, kh, kw, cin * mult), "1HWO")
            attrs["weight_layout"] = "1HWO"
        else:
            w = self.const("depthwise_kernel",
                           kernel.reshape(kh, kw, cin * mult, 1).transpose(2, 3, 0, 1), "OIHW")
            attrs["weight_layout"] = "OIHW"
        attrs["group"] = int(cin)
        self.with_activation("Conv", [ins[0], w, self._bias(layer, ins)], outs[0], attrs,
                             self.activation_name(layer))

    def op_SeparableConv2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        attrs = self._conv_common(layer)
        if attrs["data_layout"] != "NHWC":
            raise _Skip("channels_first")
        dk = _np(layer.depthwise_kernel)
        kh, kw, cin, mult = dk.shape
        w1 = self.const("depthwise_kernel", dk.reshape(1, kh, kw, cin * mult), "1HWO")
        mid = self.node("Conv", [ins[0], w1, ""], None,
                        {**attrs, "weight_layout": "1HWO", "group": int(cin)}, suffix="depthwise")
        pk = _np(layer.pointwise_kernel)  # [1, 1, cin*mult, out]
        w2 = self.const("pointwise_kernel", pk.transpose(3, 0, 1, 2), "OHWI")
        self.with_activation(
            "Conv", [mid, w2, self._bias(layer, ins)], outs[0],
            {"data_layout": "NHWC", "weight_layout": "OHWI", "group": 1, "auto_pad": "VALID"},
            self.activation_name(layer))

    def _to_2d(self, x: str) -> str:
        """``[N, L, C]`` -> ``[N, 1, L, C]``: 1-D layers run as 2-D ones over a unit height."""
        return self.node("Unsqueeze", [x, self.ints("axes", [1])], None, suffix="as_2d")

    def _from_2d(self, x: str, out: str) -> None:
        self.node("Squeeze", [x, self.ints("axes", [1])], out)

    def op_Conv1D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 3)
        cfg = layer.get_config()
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise _Skip("channels_first")
        kernel = _np(layer.kernel)  # [k, in/groups, out]
        k = kernel.shape[0]
        stride, dil = _pair(cfg["strides"])[0], _pair(cfg.get("dilation_rate", 1))[0]
        x = self._to_2d(ins[0])
        pad = cfg["padding"]
        if pad == "causal":  # pad the start of the sequence, then a valid conv
            x = self.node("Pad", [x, self.ints("pads", [0, 0, (k - 1) * dil, 0, 0, 0, 0, 0])],
                          None, {"mode": "constant"}, suffix="causal_pad")
            pad = "valid"
        if pad not in ("same", "valid"):
            raise _Skip(f"padding {pad}")
        w = self.const("kernel", kernel.transpose(2, 0, 1)[:, None], "OHWI")
        attrs = {"strides": [1, stride], "dilations": [1, dil], "data_layout": "NHWC",
                 "weight_layout": "OHWI", "group": int(getattr(layer, "groups", 1) or 1),
                 "auto_pad": "SAME_UPPER" if pad == "same" else "VALID"}
        mid = self.unique(f"{self.layer_name}/conv_2d")
        self.with_activation("Conv", [x, w, self._bias(layer, ins)], mid, attrs,
                             self.activation_name(layer))
        self._from_2d(mid, outs[0])

    def _pool1d(self, layer, ins, outs, op: str) -> None:
        self._check_rank(ins, 3)
        if layer.data_format == "channels_first":
            raise _Skip("channels_first")
        if layer.padding not in ("same", "valid"):
            raise _Skip(f"padding {layer.padding}")
        pool = _pair(layer.pool_size)[0]
        stride = _pair(layer.strides)[0] if layer.strides is not None else pool
        attrs: dict[str, Any] = {
            "kernel_shape": [1, pool], "strides": [1, stride], "data_layout": "NHWC",
            "auto_pad": "SAME_UPPER" if layer.padding == "same" else "VALID"}
        if op == "AveragePool":
            attrs["count_include_pad"] = 0
        mid = self.node(op, [self._to_2d(ins[0])], None, attrs)
        self._from_2d(mid, outs[0])

    def op_MaxPooling1D(self, layer, knode, ins, outs) -> None:
        self._pool1d(layer, ins, outs, "MaxPool")

    def op_AveragePooling1D(self, layer, knode, ins, outs) -> None:
        self._pool1d(layer, ins, outs, "AveragePool")

    def op_LayerNormalization(self, layer, knode, ins, outs) -> None:
        """mean and variance over the axes, then (x - mean) / sqrt(var + eps) * gamma + beta,
        as Keras' moments; composed, as the IR has no LayerNormalization op."""
        if getattr(layer, "rms_scaling", False):
            raise _Skip("rms_scaling")
        rank = len(self.shapes[ins[0]])
        axes = [layer.axis] if isinstance(layer.axis, int) else list(layer.axis)
        axes = sorted(int(a) % rank for a in axes)
        if axes != list(range(rank - len(axes), rank)):
            raise _Skip("axes not trailing")
        n, x = self.node, ins[0]
        mean = n("ReduceMean", [x, self.ints("axes", axes)], None, {"keepdims": 1},
                 suffix="mean")
        d = n("Sub", [x, mean], None, suffix="centered")
        var = n("ReduceMean", [n("Mul", [d, d], None, suffix="squared"),
                               self.ints("axes", axes)], None, {"keepdims": 1},
                suffix="variance")
        std = n("Sqrt", [n("Add", [var, self.scalar("epsilon", float(layer.epsilon))], None)],
                None, suffix="std")
        has_gamma = layer.scale and layer.gamma is not None
        has_beta = layer.center and layer.beta is not None
        y = n("Div", [d, std], None if (has_gamma or has_beta) else outs[0], suffix="normed")
        if has_gamma:
            y = n("Mul", [y, self.const("gamma", _np(layer.gamma).astype(np.float32))],
                  None if has_beta else outs[0])
        if has_beta:
            n("Add", [y, self.const("beta", _np(layer.beta).astype(np.float32))], outs[0])

    def op_Embedding(self, layer, knode, ins, outs) -> None:
        table = self.const("embeddings", _np(layer.embeddings).astype(np.float32))
        ids = self.node("Cast", [ins[0]], None, {"to": "i64"})
        self.node("Gather", [table, ids], outs[0], {"axis": 0})

    def op_Dense(self, layer, knode, ins, outs) -> None:
        if getattr(layer, "quantization_mode", None):
            raise _Skip(f"quantized {layer.quantization_mode}")
        kernel = _np(layer.kernel)  # [in, out]
        w = self.const("kernel", kernel.T.astype(np.float32))
        rank = len(self.shapes[ins[0]])
        attrs = {"keep_num_dims": 1 if rank > 2 else 0}
        self.with_activation("FullyConnected", [ins[0], w, self._bias(layer, ins)], outs[0],
                             attrs, self.activation_name(layer))

    def op_BatchNormalization(self, layer, knode, ins, outs) -> None:
        rank = len(self.shapes[ins[0]])
        axis = layer.axis if isinstance(layer.axis, int) else list(layer.axis)
        if isinstance(axis, list):
            if len(axis) != 1:
                raise _Skip("several axes")
            axis = axis[0]
        axis = axis % rank
        if axis == rank - 1:
            layout = "NHWC"
        elif axis == 1:
            layout = "NCHW"
        else:
            raise _Skip(f"axis {axis}")
        if getattr(layer, "renorm", False):
            raise _Skip("renorm")
        mean = _np(layer.moving_mean).astype(np.float32)
        var = _np(layer.moving_variance).astype(np.float32)
        gamma = _np(layer.gamma) if layer.scale else np.ones_like(mean)
        beta = _np(layer.beta) if layer.center else np.zeros_like(mean)
        inputs = [ins[0], self.const("gamma", gamma.astype(np.float32)),
                  self.const("beta", beta.astype(np.float32)),
                  self.const("moving_mean", mean), self.const("moving_variance", var)]
        self.node("BatchNormalization", inputs, outs[0],
                  {"epsilon": float(layer.epsilon), "data_layout": layout})

    def op_Activation(self, layer, knode, ins, outs) -> None:
        self.activation(self.activation_name(layer), ins[0], outs[0])

    def op_ReLU(self, layer, knode, ins, outs) -> None:
        max_value = None if layer.max_value is None else float(layer.max_value)
        slope, threshold = float(layer.negative_slope), float(layer.threshold)
        x = ins[0]
        last = max_value is None
        if threshold != 0.0:
            less = self.node("Less", [x, self.scalar("threshold", threshold)], None)
            shifted = self.node("Sub", [x, self.scalar("threshold", threshold)], None)
            below = self.node("Mul", [shifted, self.scalar("slope", slope)], None)
            y = self.node("Where", [less, below, x], outs[0] if last else None)
        elif slope != 0.0:
            y = self.node("LeakyRelu", [x], outs[0] if last else None, {"alpha": slope})
        elif max_value is not None:
            self.node("Clip", [x, self.scalar("min", 0.0), self.scalar("max", max_value)],
                      outs[0])
            return
        else:
            y = self.node("Relu", [x], outs[0])
        if max_value is not None:
            self.node("Clip", [y, "", self.scalar("max", max_value)], outs[0])

    def op_LeakyReLU(self, layer, knode, ins, outs) -> None:
        slope = getattr(layer, "negative_slope", None)
        if slope is None:
            slope = getattr(layer, "alpha", 0.3)
        self.node("LeakyRelu", [ins[0]], outs[0], {"alpha": float(slope)})

    def op_PReLU(self, layer, knode, ins, outs) -> None:
        alpha = _np(layer.alpha).astype(np.float32)
        self.node("PRelu", [ins[0], self.const("alpha", alpha)], outs[0])

    def op_ELU(self, layer, knode, ins, outs) -> None:
        self.node("Elu", [ins[0]], outs[0], {"alpha": float(layer.alpha)})

    def op_Softmax(self, layer, knode, ins, outs) -> None:
        axis = layer.axis
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise _Skip("several axes")
            axis = axis[0]
        if len(knode.input_tensors) > 1:
            raise _Skip("mask")
        self.node("Softmax", [ins[0]], outs[0], {"axis": int(axis)})

    def _merge(self, op: str, ins: list[str], out: str) -> str:
        acc = ins[0]
        for i, x in enumerate(ins[1:], start=1):
            acc = self.node(op, [acc, x], out if i == len(ins) - 1 else None)
        return acc

    def op_Add(self, layer, knode, ins, outs) -> None:
        self._merge("Add", ins, outs[0])

    def op_Subtract(self, layer, knode, ins, outs) -> None:
        self.node("Sub", ins, outs[0])

    def op_Multiply(self, layer, knode, ins, outs) -> None:
        self._merge("Mul", ins, outs[0])

    def op_Maximum(self, layer, knode, ins, outs) -> None:
        self._merge("Max", ins, outs[0])

    def op_Minimum(self, layer, knode, ins, outs) -> None:
        self._merge("Min", ins, outs[0])

    def op_Average(self, layer, knode, ins, outs) -> None:
        total = self._merge("Add", ins, None) if len(ins) > 1 else ins[0]
        self.node("Div", [total, self.scalar("count", float(len(ins)))], outs[0])

    def op_Concatenate(self, layer, knode, ins, outs) -> None:
        rank = len(self.shapes[ins[0]])
        self.node("Concat", ins, outs[0], {"axis": int(layer.axis) % rank})

    def _global_pool(self, layer, ins, outs, op: str, spatial: int) -> None:
        self._check_rank(ins, spatial + 2)
        cf = layer.data_format == "channels_first"
        axes = list(range(2, spatial + 2)) if cf else list(range(1, spatial + 1))
        keep = 1 if getattr(layer, "keepdims", False) else 0
        self.node(op, [ins[0], self.ints("axes", axes)], outs[0], {"keepdims": keep})

    def op_GlobalAveragePooling2D(self, layer, knode, ins, outs) -> None:
        if len(knode.input_tensors) > 1:
            raise _Skip("mask")
        self._global_pool(layer, ins, outs, "ReduceMean", 2)

    def op_GlobalMaxPooling2D(self, layer, knode, ins, outs) -> None:
        self._global_pool(layer, ins, outs, "ReduceMax", 2)

    def op_GlobalAveragePooling1D(self, layer, knode, ins, outs) -> None:
        if len(knode.input_tensors) > 1:
            raise _Skip("mask")
        self._global_pool(layer, ins, outs, "ReduceMean", 1)

    def op_GlobalMaxPooling1D(self, layer, knode, ins, outs) -> None:
        self._global_pool(layer, ins, outs, "ReduceMax", 1)

    def _pool(self, layer, ins, outs, op: str) -> None:
        self._check_rank(ins, 4)
        pool = _pair(layer.pool_size)
        strides = _pair(layer.strides) if layer.strides is not None else pool
        if layer.padding not in ("same", "valid"):
            raise _Skip(f"padding {layer.padding}")
        attrs: dict[str, Any] = {
            "kernel_shape": pool, "strides": strides,
            "auto_pad": "SAME_UPPER" if layer.padding == "same" else "VALID",
            "data_layout": "NCHW" if layer.data_format == "channels_first" else "NHWC"}
        if op == "AveragePool":
            attrs["count_include_pad"] = 0
        self.node(op, [ins[0]], outs[0], attrs)

    def op_MaxPooling2D(self, layer, knode, ins, outs) -> None:
        self._pool(layer, ins, outs, "MaxPool")

    def op_AveragePooling2D(self, layer, knode, ins, outs) -> None:
        self._pool(layer, ins, outs, "AveragePool")

    def op_ZeroPadding2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        (t, b), (left, r) = layer.padding
        if layer.data_format == "channels_first":
            pads = [0, 0, t, left, 0, 0, b, r]
        else:
            pads = [0, t, left, 0, 0, b, r, 0]
        self.node("Pad", [ins[0], self.ints("pads", pads)], outs[0], {"mode": "constant"})

    def op_Cropping2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        (t, b), (left, r) = layer.cropping
        shape = self.shapes[ins[0]]
        h_axis, w_axis = (2, 3) if layer.data_format == "channels_first" else (1, 2)
        starts, ends = [t, left], [shape[h_axis] - b, shape[w_axis] - r]
        self.node("Slice", [ins[0], self.ints("starts", starts), self.ints("ends", ends),
                            self.ints("axes", [h_axis, w_axis])], outs[0])

    def op_UpSampling2D(self, layer, knode, ins, outs) -> None:
        self._check_rank(ins, 4)
        sh, sw = _pair(layer.size)
        cf = layer.data_format == "channels_first"
        scales = [1.0, 1.0, float(sh), float(sw)] if cf else [1.0, float(sh), float(sw), 1.0]
        attrs: dict[str, Any] = {"data_layout": "NCHW" if cf else "NHWC"}
        if layer.interpolation == "nearest":
            attrs.update(mode="nearest", coordinate_transformation_mode="asymmetric",
                         nearest_mode="floor")
        elif layer.interpolation == "bilinear":
            attrs.update(mode="linear", coordinate_transformation_mode="half_pixel")
        else:
            raise _Skip(f"interpolation {layer.interpolation}")
        s = self.const("scales", np.array(scales, dtype=np.float32))
        self.node("Resize", [ins[0], "", s], outs[0], attrs)

    def op_Flatten(self, layer, knode, ins, outs) -> None:
        x = ins[0]
        rank = len(self.shapes[x])
        if layer.data_format == "channels_first" and rank > 2:
            x = self.node("Transpose", [x], None,
                          {"perm": [0, *range(2, rank), 1]})
        self.node("Flatten", [x], outs[0], {"axis": 1})

    def op_Reshape(self, layer, knode, ins, outs) -> None:
        target = [int(d) for d in self.shapes[outs[0]]]
        self.node("Reshape", [ins[0], self.ints("shape", target)], outs[0])

    def op_Permute(self, layer, knode, ins, outs) -> None:
        self.node("Transpose", [ins[0]], outs[0], {"perm": [0, *[int(d) for d in layer.dims]]})

    def op_Rescaling(self, layer, knode, ins, outs) -> None:
        scale = np.asarray(layer.scale, dtype=np.float32)
        offset = np.asarray(layer.offset, dtype=np.float32)
        y = self.node("Mul", [ins[0], self.const("scale", scale)], None)
        self.node("Add", [y, self.const("offset", offset)], outs[0])

    def op_Normalization(self, layer, knode, ins, outs) -> None:
        import keras

        if layer.mean is None:
            raise _Skip("not adapted")
        mean = _np(layer.mean).astype(np.float32)
        var = _np(layer.variance).astype(np.float32)
        denom = np.maximum(np.sqrt(var), np.float32(keras.config.epsilon())).astype(np.float32)
        if layer.invert:
            y = self.node("Mul", [ins[0], self.const("std", denom)], None)
            self.node("Add", [self.const("mean", mean), y], outs[0])
        else:
            y = self.node("Sub", [ins[0], self.const("mean", mean)], None)
            self.node("Div", [y, self.const("std", denom)], outs[0])


_BINARY_OPS = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Divide": "Div",
               "TrueDivide": "Div", "Maximum": "Max", "Minimum": "Min", "Power": "Pow"}
_KERAS_OPS = {**_BINARY_OPS, "Relu": "relu", "Relu6": "relu6", "Sigmoid": "sigmoid",
              "Silu": "silu", "Tanh": "Tanh", "Exp": "Exp", "Sqrt": "Sqrt", "Abs": "Abs",
              "Absolute": "Abs", "Negative": "Neg", "Softplus": "Softplus",
              "HardSigmoid": "hard_sigmoid", "HardSilu": "hard_silu", "Gelu": "Gelu",
              "Softmax": "Softmax", "Concatenate": "Concat", "Reshape": "Reshape",
              "Transpose": "Transpose"}


def _is_layer(op: Any) -> bool:
    import keras

    return isinstance(op, keras.layers.Layer)


def _is_symbolic(arg: Any) -> bool:
    import keras

    return isinstance(arg, keras.KerasTensor)


def _all_operations(graph_model: Any) -> list[Any]:
    ops = getattr(graph_model, "operations", None)
    if ops is None:
        ops = graph_model.layers
    return list(ops)


# --------------------------------------------------------------------------- tf_keras configs
# onnx2tf writes tf_keras (Keras 2) models made of TFOpLambda layers, one per TF function
# call, with the weights inline in the config as call arguments. nobuco writes tf_keras
# models of ordinary layers (Conv2D, BatchNormalization...) whose weights sit in the file's
# weights store, mixed with TFOpLambda layers (tf.clip_by_value, tf.reshape of a computed
# shape). Keras 3 cannot load either; they are read here from the config: a TF function per
# TFOpLambda, and each ordinary layer rebuilt as its Keras 3 twin, given its stored weights
# and emitted by the Keras 3 frontend's own handler. Shape arithmetic (tf.shape, slicing
# it) is folded into constants, the batch being fixed.

# Config keys that only matter for training; Keras 3 cannot deserialize tf_keras' versions.
_TRAINING_KEYS = ("_initializer", "_regularizer", "_constraint")


def _from_tf_keras_config(cfg: dict[str, Any], name: str, path: Path | None = None) -> Any:
    builder = _TfKerasConfig(cfg, name, path)
    return builder.build()


def _snake_case(class_name: str) -> str:
    """``DepthwiseConv2D`` -> ``depthwise_conv2d``, ``PReLU`` -> ``p_re_lu``: a word starts
    at a capital followed by lower-case letters or digits, and after a lower-case letter."""
    text = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", text).lower()


def _store_keys(layers: list[dict[str, Any]]) -> dict[str, str]:
    """Layer name -> its group in a ``.keras`` zip's weights store. The store does not use
    the layers' names: the k-th layer of a class (in the config's order) is stored as the
    class name in snake case, suffixed ``_k`` from the second one on."""
    seen: dict[str, int] = {}
    keys: dict[str, str] = {}
    for layer in layers:
        base = _snake_case(layer["class_name"])
        count = seen.get(base, 0)
        seen[base] = count + 1
        keys[layer["name"]] = base if count == 0 else f"{base}_{count}"
    return keys


class _WeightStore:
    """The weights of a tf_keras file, opened once for the whole walk: a ``.keras`` zip's
    ``model.weights.h5`` (group ``layers/<store key>/vars/<i>``, see ``_store_keys``) or a
    legacy ``.h5`` file (``model_weights/<layer>``, in the order of its ``weight_names``)."""

    def __init__(self, path: Path | None, layers: list[dict[str, Any]]):
        self.path = path
        self.keys = _store_keys(layers)
        self.file: Any = None
        self.zipped = False

    def _open(self) -> Any:
        import io

        import h5py

        if self.file is None:
            self.zipped = zipfile.is_zipfile(self.path)
            if self.zipped:
                with zipfile.ZipFile(self.path) as zf:
                    self.file = h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r")
            else:
                self.file = h5py.File(self.path, "r")
        return self.file

    def weights(self, layer: str) -> list[np.ndarray]:
        """The layer's weights in their stored order; an empty list when it has none."""
        if self.path is None:
            return []
        try:
            f = self._open()
            if self.zipped:
                group = f.get(f"layers/{self.keys[layer]}/vars")
                if group is None:
                    return []
                order = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
                return [np.asarray(group[k][()]) for k in order]
            group = f.get(f"model_weights/{layer}")
            if group is None:
                return []
            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in group.attrs.get("weight_names", [])]
            return [np.asarray(group[n][()]) for n in names]
        except (OSError, KeyError, ValueError) as exc:
            raise _Skip(f"weights unreadable: {exc}") from exc

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _TfKerasConfig:
    def __init__(self, cfg: dict[str, Any], name: str, path: Path | None = None):
        from convmend import _core

        self.g = _core.Graph(name)
        self.g.set_metadata("keras.name", str(cfg.get("config", {}).get("name", name)))
        self.g.set_metadata("keras.source", "tf_keras config")
        self.conf = cfg["config"]
        self.layer_names = {la["name"] for la in self.conf["layers"]}
        self.values: dict[tuple[str, int, int], str] = {}
        self.unsupported: dict[str, list[str]] = {}
        self.layer: dict[str, Any] = {}
        self.index = 0
        self.used: set[str] = set(self.layer_names)
        self.folded: dict[str, np.ndarray] = {}  # IR constants known while building
        self.keras3: _Builder | None = None  # emits ordinary layers (see keras_layer)
        self.store = _WeightStore(path, self.conf["layers"])

    # ---- helpers
    def unique(self, base: str) -> str:
        return _unique_name(self.used, base)

    def const(self, suffix: str, value: Any, dtype: Any = np.float32, layout: str = "") -> str:
        name = self.unique(f"{self.layer['name']}/{suffix}")
        self.g.add_constant(name, np.ascontiguousarray(np.asarray(value, dtype=dtype)), layout)
        return name

    def node(self, op: str, inputs: list[str], out: str | None = None,
             attrs: dict[str, Any] | None = None) -> str:
        if out is None:
            out = self.unique(f"{self.layer['name']}/{op}")
        fn = self.layer["config"].get("function")
        self.g.add_node(op, out, inputs, [out], attrs or {}, source_format=FORMAT,
                        source_name=self.layer["name"],
                        source_op=f"{self.layer['class_name']}"
                                  + (f"({_tf_name(fn)})" if fn else ""),
                        source_index=self.index)
        return out

    def ref(self, x: Any) -> str | None:
        """The IR value a ``[layer, node, tensor]`` reference names, None if not one."""
        if (isinstance(x, list) and len(x) >= 3 and isinstance(x[0], str)
                and x[0] in self.layer_names and isinstance(x[1], int)
                and isinstance(x[2], int)):
            return self.values.get((x[0], x[1], x[2]))
        return None

    def operand(self, x: Any, suffix: str) -> str:
        got = self.ref(x)
        if got is not None:
            return got
        if isinstance(x, list) and len(x) >= 3 and isinstance(x[0], str):
            raise _Skip("unknown reference")
        return self.const(suffix, x)

    def g_shape(self, name: str) -> list[int] | None:
        self.g.infer_shapes()
        for v in self.g.values():
            if v["name"] == name:
                return list(v["shape"]) if v["shape"] is not None else None
        return None

    # ---- walk
    def build(self) -> Any:
        try:
            return self.walk()
        finally:
            self.store.close()

    def walk(self) -> Any:
        for i, layer in enumerate(self.conf["layers"]):
            self.layer, self.index = layer, i
            kind = layer["class_name"]
            if kind == "InputLayer":
                c = layer["config"]
                shape = c.get("batch_input_shape") or c.get("batch_shape")
                dims = [1 if d is None else int(d) for d in shape]
                self.g.add_input(layer["name"], c.get("dtype", "float32"), dims,
                                 "NHWC" if len(dims) == 4 else "")
                self.values[(layer["name"], 0, 0)] = layer["name"]
                continue
            for k, call in enumerate(layer.get("inbound_nodes", [])):
                out = layer["name"] if k == 0 else self.unique(f"{layer['name']}_call{k}")
                entries = call if call and isinstance(call[0], list) else [call]
                args: list[Any] = []
                kwargs: dict[str, Any] = {}
                for entry in entries:
                    if entry[0] == "_CONSTANT_VALUE":
                        args.append(entry[2])
                    else:
                        src = self.values.get((entry[0], entry[1], entry[2]))
                        args.append(src)
                    if len(entry) > 3 and isinstance(entry[3], dict):
                        kwargs.update(entry[3])
                if any(a is None for a in args) or any(
                        self.ref(v) is None and isinstance(v, list) and v
                        and isinstance(v[0], str) and v[0] in self.layer_names
                        for v in kwargs.values()):
                    self.record(kind, layer, "", quiet=True)
                    continue
                try:
                    self.emit(kind, layer["config"], args, kwargs, out)
                    self.values[(layer["name"], k, 0)] = out
                except _Skip as skip:
                    self.record(kind, layer, skip.why)
        if self.unsupported:
            raise UnsupportedLayers(FORMAT, self.unsupported)
        for o in self.conf["output_layers"]:
            self.g.add_output(self.values[(o[0], o[1], o[2])])
        self.g.verify()
        self.g.infer_shapes()
        return self.g

    def keras_layer(self, kind: str, cfg: dict[str, Any], args: list[Any], out: str) -> None:
        """An ordinary tf_keras layer: its Keras 3 twin, built on the input's shape and given
        the stored weights, emitted by the Keras 3 frontend's handler for that class."""
        import inspect
        import types

        import keras

        if not hasattr(_Builder, f"op_{kind}"):
            raise _Skip()
        clean = {k: v for k, v in cfg.items()
                 if not k.endswith(_TRAINING_KEYS) and k not in ("batch_input_shape",)}
        if isinstance(clean.get("axis"), list) and len(clean["axis"]) == 1:
            clean["axis"] = clean["axis"][0]
        if kind == "DepthwiseConv2D":
            clean.pop("groups", None)  # tf_keras inherits it from Conv; implied by the channels
        cls = getattr(keras.layers, kind, None)
        if cls is None:
            raise _Skip()
        accepted = set(inspect.signature(cls.__init__).parameters) | {"name", "trainable", "dtype"}
        unknown = sorted(set(clean) - accepted)
        if unknown:
            raise _Skip(f"arguments {', '.join(unknown)}")
        try:
            layer = keras.layers.deserialize(
                {"class_name": kind, "config": clean, "module": "keras.layers"})
        except Exception as exc:  # Keras raises TypeError/ValueError for unknown arguments
            raise _Skip(f"config: {_first_line(exc)}") from exc
        ins = [a for a in args if isinstance(a, str)]
        if len(ins) != len(args) or not ins:
            raise _Skip("constant operand")
        shapes = [self.g_shape(i) for i in ins]
        if any(sh is None for sh in shapes):
            raise _Skip("unknown input shape")
        in_shape = tuple(shapes[0]) if len(shapes) == 1 else [tuple(sh) for sh in shapes]
        try:
            layer.build(in_shape)
            weights = self.store.weights(self.layer["name"])
            if len(weights) != len(layer.weights):
                raise _Skip(f"{len(weights)} stored weights for {len(layer.weights)}")
            if weights:
                layer.set_weights(weights)
            out_shape = layer.compute_output_shape(in_shape)
        except _Skip:
            raise
        except Exception as exc:
            raise _Skip(f"rebuild: {_first_line(exc)}") from exc
        b = self.keras3
        if b is None:
            b = self.keras3 = _Builder.emitting_into(self.g, self.used)
        b.layer, b.layer_name = layer, out
        b.index[id(layer)] = self.index
        for name, shape in zip(ins, shapes, strict=True):
            b.shapes[name] = list(shape)
        b.shapes[out] = [1 if d is None else int(d) for d in out_shape]
        knode = types.SimpleNamespace(input_tensors=ins, outputs=[out])
        getattr(b, f"op_{kind}")(layer, knode, ins, [out])

    def record(self, kind: str, layer: dict[str, Any], why: str, quiet: bool = False) -> None:
        fn = layer["config"].get("function")
        label = f"{kind}({_tf_name(fn)})" if fn else kind
        if quiet and (fn in _TF_FUNCTIONS or kind in ("Flatten", "Reshape", "Permute")):
            return  # only fed by an unsupported layer
        self.unsupported.setdefault(label + (f"[{why}]" if why else ""), []).append(
            layer["name"])

    def emit(self, kind: str, cfg: dict[str, Any], args: list[Any],
             kwargs: dict[str, Any], out: str) -> None:
        if kind == "Flatten":
            self.node("Flatten", [args[0]], out, {"axis": 1})
            return
        if kind == "Reshape":
            self.node("Reshape", [args[0], self.const("shape", [1, *cfg["target_shape"]],
                                                      np.int64)], out)
            return
        if kind in IDENTITY_LAYERS:
            self.node("Identity", [args[0]], out)
            return
        if kind not in ("TFOpLambda", "SlicingOpLambda"):
            self.keras_layer(kind, cfg, args, out)
            return
        fn = cfg.get("function", "")
        handler = _TF_FUNCTIONS.get(fn)
        if handler is None:
            raise _Skip()
        handler(self, args, kwargs, out)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _tf_name(fn: str) -> str:
    return fn if fn.startswith("tf.") else f"tf.{fn}"


def _x(self: _TfKerasConfig, args: list[Any], kwargs: dict[str, Any], *keys: str) -> str:
    """The first operand: a positional input or one of the keyword names."""
    if args and isinstance(args[0], str):
        return args[0]
    for k in keys:
        if k in kwargs:
            return self.operand(kwargs[k], k)
    if args:
        return self.const("x", args[0])
    raise _Skip("no input")


def _tf_spatial(kwargs: dict[str, Any], key: str, default: int = 1) -> list[int]:
    v = kwargs.get(key)
    if v is None:
        return [default, default]
    if isinstance(v, int):
        return [v, v]
    v = [int(a) for a in v]
    if len(v) == 4:
        return v[1:3]
    if len(v) == 1:
        return v * 2
    return v


def _tf_padding(kwargs: dict[str, Any]) -> dict[str, Any]:
    pad = kwargs.get("padding", "VALID")
    if isinstance(pad, str):
        return {"auto_pad": "SAME_UPPER" if pad.upper() == "SAME" else "VALID"}
    p = [[int(a) for a in pair] for pair in pad]  # explicit [[0,0],[t,b],[l,r],[0,0]]
    return {"pads": [p[1][0], p[2][0], p[1][1], p[2][1]]}


def _tf_nhwc(kwargs: dict[str, Any]) -> None:
    if kwargs.get("data_format") not in (None, "NHWC"):
        raise _Skip(f"data_format {kwargs.get('data_format')}")


def _tf_conv(self, args, kwargs, out) -> None:
    _tf_nhwc(kwargs)
    w = np.asarray(kwargs.get("filters", kwargs.get("filter")), dtype=np.float32)
    if w.ndim != 4:
        raise _Skip(f"{w.ndim - 2}-D")
    x = _x(self, args, kwargs, "input")
    attrs = {"strides": _tf_spatial(kwargs, "strides"),
             "dilations": _tf_spatial(kwargs, "dilations"), "data_layout": "NHWC",
             "weight_layout": "OHWI", **_tf_padding(kwargs)}
    cin = w.shape[2]
    shape = self.g_shape(x)
    attrs["group"] = int(shape[-1] // cin) if shape and shape[-1] > 0 else 1
    weight = self.const("filters", w.transpose(3, 0, 1, 2), layout="OHWI")
    self.node("Conv", [x, weight, ""], out, attrs)


def _tf_depthwise(self, args, kwargs, out) -> None:
    _tf_nhwc(kwargs)
    w = np.asarray(kwargs.get("filter", kwargs.get("depthwise_filter")), dtype=np.float32)
    kh, kw, cin, mult = w.shape
    x = _x(self, args, kwargs, "input")
    rate = kwargs.get("rate", kwargs.get("dilations"))
    attrs = {"strides": _tf_spatial(kwargs, "strides"),
             "dilations": _tf_spatial({"d": rate}, "d"), "data_layout": "NHWC",
             "weight_layout": "1HWO", "group": int(cin), **_tf_padding(kwargs)}
    weight = self.const("filter", w.reshape(1, kh, kw, cin * mult), layout="1HWO")
    self.node("Conv", [x, weight, ""], out, attrs)


def _tf_binary(op: str) -> Callable[..., None]:
    def emit(self, args, kwargs, out) -> None:
        if len(args) >= 2:
            a, b = args[0], args[1]
            a = a if isinstance(a, str) else self.const("x", a)
            b = b if isinstance(b, str) else self.const("y", b)
        else:
            a = _x(self, args, kwargs, "x")
            b = self.operand(kwargs["y"], "y")
        self.node(op, [a, b], out)
    return emit


def _tf_unary(op: str, **attrs: Any) -> Callable[..., None]:
    def emit(self, args, kwargs, out) -> None:
        self.node(op, [_x(self, args, kwargs, "x", "features", "logits", "input")], out,
                  dict(attrs))
    return emit


def _tf_relu6(self, args, kwargs, out) -> None:
    x = _x(self, args, kwargs, "features", "x")
    self.node("Clip", [x, self.const("min", 0.0), self.const("max", 6.0)], out)


def _tf_leaky(self, args, kwargs, out) -> None:
    self.node("LeakyRelu", [_x(self, args, kwargs, "features")], out,
              {"alpha": float(kwargs.get("alpha", 0.2))})


def _tf_softmax(self, args, kwargs, out) -> None:
    axis = kwargs.get("axis", -1)
    self.node("Softmax", [_x(self, args, kwargs, "logits")], out,
              {"axis": -1 if axis is None else int(axis)})


def _tf_reduce(op: str) -> Callable[..., None]:
    def emit(self, args, kwargs, out) -> None:
        x = _x(self, args, kwargs, "input_tensor")
        axis = kwargs.get("axis")
        keep = int(bool(kwargs.get("keepdims", False)))
        if axis is None:
            self.node(op, [x], out, {"keepdims": keep})
        else:
            axes = [int(axis)] if isinstance(axis, int) else [int(a) for a in axis]
            self.node(op, [x, self.const("axes", axes, np.int64)], out, {"keepdims": keep})
    return emit


def _tf_transpose(self, args, kwargs, out) -> None:
    x = _x(self, args, kwargs, "a")
    perm = kwargs.get("perm")
    attrs = {} if perm is None else {"perm": [int(p) for p in perm]}
    self.node("Transpose", [x], out, attrs)


def _tf_reshape(self, args, kwargs, out) -> None:
    x = _x(self, args, kwargs, "tensor")
    shape = kwargs.get("shape")
    if shape is None:
        raise _Skip("computed shape")
    if self.ref(shape) is not None:  # a whole shape tensor: only if folded
        shape = self.folded.get(self.ref(shape))
        if shape is None:
            raise _Skip("computed shape")
        shape = [int(v) for v in np.asarray(shape).reshape(-1)]
    dims: list[int] = []
    for dim in shape:  # nobuco: [tf.shape(x)[0], -1]
        got = self.ref(dim)
        if got is not None:
            if got not in self.folded or np.asarray(self.folded[got]).size != 1:
                raise _Skip("computed shape")
            dims.append(int(np.asarray(self.folded[got]).reshape(-1)[0]))
        else:
            dims.append(int(dim))
    self.node("Reshape", [x, self.const("shape", dims, np.int64)], out)


def _tf_shape(self, args, kwargs, out) -> None:
    """tf.shape of a value whose shape is static here: folded into a constant."""
    x = _x(self, args, kwargs, "input")
    shape = self.g_shape(x)
    if shape is None or any(d < 0 for d in shape):
        raise _Skip("dynamic shape")
    dtype = np.int64 if "64" in str(kwargs.get("out_type", "int32")) else np.int32
    value = np.asarray(shape, dtype=dtype)
    self.g.add_constant(out, value, "")
    self.folded[out] = value


def _tf_getitem(self, args, kwargs, out) -> None:
    """Slicing. Of a folded constant (``tf.shape(x)[:1][0]``): a folded constant. Of a computed
    tensor (onnx2tf's ``x[:, 0:1]``): a Slice, then a Squeeze of the axes an integer indexes."""
    x = args[0] if args and isinstance(args[0], str) else None
    if x is None:
        raise _Skip("slicing something that is not a tensor")
    spec = kwargs.get("slice_spec")
    items = spec if isinstance(spec, list) else [spec]
    for item in items:
        if not isinstance(item, dict) and (isinstance(item, bool) or not isinstance(item, int)):
            raise _Skip(f"slice {item!r}")
    if x in self.folded:
        key = tuple(slice(i.get("start"), i.get("stop"), i.get("step")) if isinstance(i, dict)
                    else i for i in items)
        value = np.asarray(self.folded[x][key if isinstance(spec, list) else key[0]])
        self.g.add_constant(out, np.ascontiguousarray(value), "")
        self.folded[out] = value
        return
    shape = self.g_shape(x)
    if shape is None or len(items) > len(shape):
        raise _Skip("slicing a tensor of unknown or smaller rank")
    end_of = np.iinfo(np.int64).max
    starts, ends, axes, steps, dropped = [], [], [], [], []
    for axis, item in enumerate(items):
        if isinstance(item, int):  # x[..., 2]: one element, then the axis goes
            starts.append(item)
            ends.append(item + 1 if item != -1 else end_of)
            steps.append(1)
            axes.append(axis)
            dropped.append(axis)
            continue
        start, stop, step = item.get("start"), item.get("stop"), item.get("step")
        step = 1 if step is None else int(step)
        if step == 0:
            raise _Skip("slice step 0")
        if start is None and stop is None and step == 1:
            continue  # the whole axis
        starts.append(int(start) if start is not None else (0 if step > 0 else -1))
        ends.append(int(stop) if stop is not None else (end_of if step > 0 else -end_of))
        steps.append(step)
        axes.append(axis)
    sliced = out if not dropped else self.unique(f"{self.layer['name']}/sliced")
    if axes:
        self.node("Slice", [x, self.const("starts", starts, np.int64),
                            self.const("ends", ends, np.int64), self.const("axes", axes, np.int64),
                            self.const("steps", steps, np.int64)], sliced)
    else:
        self.node("Identity", [x], sliced)
    if dropped:
        self.node("Squeeze", [sliced, self.const("squeeze_axes", dropped, np.int64)], out)


def _tf_clip(self, args, kwargs, out) -> None:
    x = _x(self, args, kwargs, "t")
    low = self.operand(kwargs.get("clip_value_min", args[1] if len(args) > 1 else None), "min")
    high = self.operand(kwargs.get("clip_value_max", args[2] if len(args) > 2 else None), "max")
    self.node("Clip", [x, low, high], out)


def _tf_concat(self, args, kwargs, out) -> None:
    values = [a for a in args if isinstance(a, str)]
    if "values" in kwargs:
        values = [self.operand(v, "value") for v in kwargs["values"]]
    self.node("Concat", values, out, {"axis": int(kwargs.get("axis", 0))})


def _tf_cast(self, args, kwargs, out) -> None:
    to = str(kwargs.get("dtype", "float32"))
    x = _x(self, args, kwargs, "x")
    if to in ("float32", "tf.float32"):
        self.node("Identity", [x], out)  # onnx2tf casts float32 to float32
    else:
        raise _Skip(f"cast to {to}")


def _tf_matmul(self, args, kwargs, out) -> None:
    a = _x(self, args, kwargs, "a")
    if kwargs.get("transpose_a") or kwargs.get("adjoint_a"):
        raise _Skip("transpose_a")
    b_arg = kwargs.get("b")
    b = self.operand(b_arg, "b")
    if kwargs.get("transpose_b") or kwargs.get("adjoint_b"):
        b = self.node("Transpose", [b], None, {"perm": [1, 0]})
    self.node("MatMul", [a, b], out)


def _tf_pool(op: str) -> Callable[..., None]:
    def emit(self, args, kwargs, out) -> None:
        _tf_nhwc(kwargs)
        x = _x(self, args, kwargs, "input", "value")
        attrs: dict[str, Any] = {"kernel_shape": _tf_spatial(kwargs, "ksize"),
                                 "strides": _tf_spatial(kwargs, "strides"),
                                 "data_layout": "NHWC", **_tf_padding(kwargs)}
        if op == "AveragePool":
            attrs["count_include_pad"] = 0
        self.node(op, [x], out, attrs)
    return emit


def _tf_pad(self, args, kwargs, out) -> None:
    x = _x(self, args, kwargs, "tensor")
    paddings = [[int(a) for a in pair] for pair in kwargs["paddings"]]
    mode = str(kwargs.get("mode", "CONSTANT")).upper()
    if mode not in ("CONSTANT", "REFLECT"):
        raise _Skip(f"mode {mode}")
    pads = [p[0] for p in paddings] + [p[1] for p in paddings]
    inputs = [x, self.const("paddings", pads, np.int64)]
    value = float(kwargs.get("constant_values", 0) or 0)
    if value != 0.0:
        inputs.append(self.const("constant_values", value))
    self.node("Pad", inputs, out, {"mode": mode.lower()})


def _tf_bias_add(self, args, kwargs, out) -> None:
    _tf_nhwc(kwargs)
    x = _x(self, args, kwargs, "value")
    self.node("Add", [x, self.operand(kwargs["bias"], "bias")], out)


_TF_FUNCTIONS: dict[str, Callable[..., None]] = {
    "compat.v1.pad": _tf_pad, "pad": _tf_pad,
    "nn.convolution": _tf_conv, "nn.conv2d": _tf_conv, "compat.v1.nn.conv2d": _tf_conv,
    "compat.v1.nn.depthwise_conv2d": _tf_depthwise, "nn.depthwise_conv2d": _tf_depthwise,
    "math.add": _tf_binary("Add"), "__operators__.add": _tf_binary("Add"),
    "math.subtract": _tf_binary("Sub"), "math.multiply": _tf_binary("Mul"),
    "math.divide": _tf_binary("Div"), "math.truediv": _tf_binary("Div"),
    "math.maximum": _tf_binary("Max"), "math.minimum": _tf_binary("Min"),
    "math.pow": _tf_binary("Pow"),
    "nn.relu": _tf_unary("Relu"), "nn.relu6": _tf_relu6, "nn.leaky_relu": _tf_leaky,
    "math.sigmoid": _tf_unary("Sigmoid"), "nn.sigmoid": _tf_unary("Sigmoid"),
    "math.tanh": _tf_unary("Tanh"), "nn.tanh": _tf_unary("Tanh"), "nn.elu": _tf_unary("Elu"),
    "math.exp": _tf_unary("Exp"), "math.sqrt": _tf_unary("Sqrt"),
    "math.abs": _tf_unary("Abs"), "math.negative": _tf_unary("Neg"),
    "identity": _tf_unary("Identity"), "nn.softmax": _tf_softmax,
    "math.reduce_mean": _tf_reduce("ReduceMean"), "math.reduce_max": _tf_reduce("ReduceMax"),
    "math.reduce_sum": _tf_reduce("ReduceSum"), "math.reduce_min": _tf_reduce("ReduceMin"),
    "compat.v1.transpose": _tf_transpose, "transpose": _tf_transpose,
    "reshape": _tf_reshape, "compat.v1.reshape": _tf_reshape,
    "concat": _tf_concat, "cast": _tf_cast, "linalg.matmul": _tf_matmul,
    "nn.max_pool2d": _tf_pool("MaxPool"), "nn.avg_pool2d": _tf_pool("AveragePool"),
    "nn.max_pool": _tf_pool("MaxPool"), "nn.avg_pool": _tf_pool("AveragePool"),
    "compat.v1.nn.max_pool": _tf_pool("MaxPool"),
    "compat.v1.nn.avg_pool": _tf_pool("AveragePool"),
    "nn.bias_add": _tf_bias_add,
    "compat.v1.shape": _tf_shape, "shape": _tf_shape, "__operators__.getitem": _tf_getitem,
    "clip_by_value": _tf_clip, "compat.v1.clip_by_value": _tf_clip,
}
