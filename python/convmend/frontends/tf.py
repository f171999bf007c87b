"""TensorFlow SavedModel frontend: the frozen serving function, op by op, into the IR.

``load`` opens a SavedModel directory, takes one signature's concrete function, freezes its
variables into constants (``convert_variables_to_constants_v2``, which also inlines nested
function calls) and walks the frozen ``GraphDef`` in topological order:

- Nodes that do not depend on a graph input (weights, the batch-norm arithmetic of Keras
  layers on them, shape constants) are evaluated **by TensorFlow itself**, in one session run,
  and become constant values. So are ``Shape`` of a tensor whose static shape TF knows and
  everything computed only from such shapes.
- Every other node becomes one IR node (a few become two or three, e.g. ``Rsqrt`` ->
  ``Sqrt`` + ``Reciprocal``, ``MatMul`` with ``transpose_a`` -> ``Transpose`` + ``MatMul``)
  whose output value is named exactly like the TF node (``name:1`` for output 1), so a value
  of the IR run can be compared with the same tensor of the TF run (see ``native_trace``).
  Helper nodes are named ``<tf name>/<role>`` and carry the TF node as provenance.
- Pass-through ops (``Identity``, ``IdentityN``, ``StopGradient``, ...) are not nodes: their
  users read the forwarded value.

Layouts stay TF's own: ``data_format`` NHWC ops are NHWC in the IR, Conv2D filters (HWIO) are
stored OHWI (OIHW for NCHW convolutions), depthwise filters ``[kh, kw, in, mult]`` 1HWO.
Unsupported ops are all collected before ``UnsupportedLayers`` is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.frontends import UnsupportedLayers

SOURCE = "tf"
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min

# Ops that forward their input unchanged (output i = input i).
PASS_THROUGH = {
    "Identity", "IdentityN", "StopGradient", "PreventGradient", "Snapshot", "EnsureShape",
    "CheckNumerics",
}
# Nodes without data outputs that matter for inference.
IGNORED = {"NoOp", "Assert", "Print", "PrintV2"}
# Stateful or input-like ops that must never be constant-folded.
NOT_FOLDABLE = {"Placeholder", "PlaceholderWithDefault", "VarHandleOp", "ReadVariableOp",
                "RandomUniform", "RandomStandardNormal", "TruncatedNormal",
                "StatefulPartitionedCall", "PartitionedCall"}
UNARY = {
    "Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Elu": "Elu", "Softplus": "Softplus",
    "Erf": "Erf", "Neg": "Neg", "Abs": "Abs", "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log",
    "Reciprocal": "Reciprocal", "Inv": "Reciprocal", "Floor": "Floor", "Ceil": "Ceil",
}
BINARY = {
    "Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul", "RealDiv": "Div",
    "Maximum": "Max", "Minimum": "Min", "Pow": "Pow", "Equal": "Equal", "Less": "Less",
    "Greater": "Greater",
}
REDUCE = {"Mean": "ReduceMean", "Sum": "ReduceSum", "Max": "ReduceMax", "Min": "ReduceMin"}
_IR_DTYPE = {"float32": "f32", "float16": "f16", "float64": "f64", "int32": "i64",
             "int64": "i64", "bool": "bool", "int8": "i8", "uint8": "u8"}


class _Unsupported(Exception):
    """One node cannot be mapped; ``kind`` is what the report lists (op type or detail)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Skipped(Exception):
    """A node reads the output of a node that could not be mapped (not listed again)."""


# --------------------------------------------------------------------------- freezing


@dataclass
class Frozen:
    """A signature's function with variables frozen, imported into a plain ``tf.Graph``."""

    path: Path
    signature: str
    graph_def: Any
    inputs: list[tuple[str, str]]  # (signature key, placeholder node name), keys sorted
    outputs: list[tuple[str, str]]  # (signature key, tensor name), keys sorted
    _graph: Any = None
    _session: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def graph(self) -> Any:
        """A tf.Graph holding graph_def, for session runs (imported on first use: 2 s of
        ResNet101's weights copied into TensorFlow)."""
        with self._lock:
            if self._graph is None:
                self._graph = _imported(self.graph_def)
            return self._graph

    def session(self) -> Any:
        import tensorflow as tf

        graph = self.graph
        with self._lock:
            if self._session is None:
                self._session = tf.compat.v1.Session(graph=graph)
            return self._session


def const_behind(nodes: dict[str, Any], tensor: str) -> Any:
    """The Const node of a GraphDef (``nodes`` by name) whose value ``tensor`` is, through
    Identity nodes (a frozen variable read), or None."""
    for _ in range(16):
        if ":" in tensor and not tensor.endswith(":0"):
            return None
        node = nodes.get(_node_of(tensor))
        if node is None:
            return None
        if node.op == "Const":
            return node
        data = [i for i in node.input if not i.startswith("^")]
        if node.op != "Identity" or len(data) != 1:
            return None
        tensor = data[0]
    return None


def _imported(graph_def: Any) -> Any:
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    return graph


_FROZEN: dict[tuple[str, str], Frozen] = {}


def _is_saved_model(path: Path) -> bool:
    return path.is_dir() and any(
        (path / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")
    )


def freeze(path: str | Path, signature: str = "serving_default") -> Frozen:
    """Load the SavedModel and freeze ``signature`` (no caching)."""
    path = Path(path)
    if not path.exists():
        raise ConvmendError(f"SavedModel not found: {path}")
    if not _is_saved_model(path):
        raise ConvmendError(
            f"{path} is not a TensorFlow SavedModel directory (no saved_model.pb)"
        )

    from convmend import loaded

    try:
        model = loaded.saved_model(path)  # shared with the native runner
    except Exception as exc:  # TF raises OSError/ValueError/its own errors alike
        raise ConvmendError(f"TensorFlow cannot load SavedModel {path}: {exc}") from exc
    signatures = model.signatures
    if signature not in signatures:
        raise ConvmendError(
            f"{path}: SavedModel has no {signature!r} signature "
            f"(has: {', '.join(signatures) or 'none'})"
        )
    fn = signatures[signature]
    try:
        graph_def, frozen_inputs, frozen_outputs = freeze_function(fn)
    except Exception as exc:  # conversion raises ValueError/TypeError/InvalidArgument
        raise ConvmendError(f"{path}: cannot freeze signature {signature!r}: {exc}") from exc
    if any(n.op in ("StatefulPartitionedCall", "PartitionedCall") for n in graph_def.node):
        graph_def = _inline_calls(graph_def, [t.name for t in frozen_outputs])
    _, kwargs = fn.structured_input_signature
    keys = sorted(kwargs)
    placeholders = [t.name.split(":")[0] for t in frozen_inputs]
    if len(placeholders) != len(keys):
        raise ConvmendError(
            f"{path}: signature {signature!r} has {len(keys)} inputs but the frozen graph "
            f"{len(placeholders)} placeholders"
        )
    outputs = fn.structured_outputs
    if isinstance(outputs, Mapping):
        out_keys = sorted(outputs)
    else:
        out_keys = [f"output_{i}" for i in range(len(frozen_outputs))]
    out_names = [t.name for t in frozen_outputs]
    return Frozen(path, signature, graph_def, list(zip(keys, placeholders, strict=True)),
                  list(zip(out_keys, out_names, strict=True)))


def freeze_function(fn: Any) -> tuple[Any, list[Any], list[Any]]:
    """``fn`` (a ConcreteFunction) with its captured variables made constants: the GraphDef,
    and ``fn``'s input tensors that are still fed (no resource left) and its output tensors,
    in ``fn``'s order (the GraphDef keeps their names).

    These are the steps of ``convert_variables_to_constants_v2`` without its last, which wraps
    the GraphDef in a new ConcreteFunction only to be read back as a GraphDef here: 2.3 s of
    its 3.0 s on MobileNetV2. Where TensorFlow no longer has those steps, the public function."""
    import tensorflow as tf

    try:
        from tensorflow.python.framework.convert_to_constants import (
            _FunctionConverterDataInEager,
            _replace_variables_by_constants,
        )
    except ImportError:
        from tensorflow.python.framework.convert_to_constants import (
            convert_variables_to_constants_v2,
        )

        frozen = convert_variables_to_constants_v2(fn)
        return (frozen.graph.as_graph_def(),
                [t for t in frozen.inputs if t.dtype != tf.resource], list(frozen.outputs))
    data = _FunctionConverterDataInEager(func=fn, lower_control_flow=True,
                                         aggressive_inlining=False)
    graph_def, converted = _replace_variables_by_constants(converter_data=data)
    captures = fn.graph.internal_captures
    constant = {id(captures[i]) for i in converted}
    fed = [t for t in fn.inputs if id(t) not in constant and t.dtype != tf.resource]
    return graph_def, fed, list(fn.outputs)


def _inline_calls(graph_def: Any, outputs: Sequence[str]) -> Any:
    """Run grappler's function inliner once more on a graph that still holds calls."""
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.framework import ops
    from tensorflow.python.grappler import tf_optimizer

    meta = meta_graph_pb2.MetaGraphDef()
    meta.graph_def.CopyFrom(graph_def)
    fetch = meta.collection_def[ops.GraphKeys.TRAIN_OP]
    for name in outputs:
        fetch.node_list.value.append(name)
    config = config_pb2.ConfigProto()
    rewrite = config.graph_options.rewrite_options
    rewrite.min_graph_nodes = -1
    rewrite.optimizers.append("function")
    return tf_optimizer.OptimizeGraph(config, meta)


def frozen_signature(path: str | Path, signature: str = "serving_default") -> Frozen:
    """``freeze``, kept per path and signature (``load`` leaves its result here)."""
    key = (str(Path(path).resolve()), signature)
    if key not in _FROZEN:
        _FROZEN[key] = freeze(path, signature)
    return _FROZEN[key]


def native_trace(
    path: str | Path,
    batch: np.ndarray | Mapping[str, np.ndarray],
    names: Sequence[str],
    signature: str = "serving_default",
) -> dict[str, np.ndarray]:
    """TF's own values of tensors of the frozen graph (``node`` or ``node:i``), computed by a
    session run of that graph on ``batch`` (one array, or a dict keyed by signature key or
    placeholder name). The frozen graph is cached per path and signature."""
    frozen = frozen_signature(path, signature)
    if isinstance(batch, np.ndarray):
        if len(frozen.inputs) != 1:
            raise ConvmendError(f"{path}: {len(frozen.inputs)} inputs; pass a dict")
        feeds = {frozen.inputs[0][1] + ":0": batch}
    else:
        by_key = dict(frozen.inputs)
        feeds = {by_key.get(k, k) + ":0": v for k, v in batch.items()}
    fetches = [n if ":" in n else n + ":0" for n in names]
    try:
        values = frozen.session().run(fetches, feed_dict=feeds)
    except Exception as exc:  # KeyError/ValueError/InvalidArgumentError from the session
        raise ConvmendError(f"{path}: TF cannot fetch the requested tensors: {exc}") from exc
    return {n: np.asarray(v) for n, v in zip(names, values, strict=True)}


# --------------------------------------------------------------------------- graph building


def load(path: Path, trust: bool = False, signature: str = "serving_default") -> Any:
    """A SavedModel's ``signature`` as a verified IR graph with shapes inferred.

    ``trust`` is accepted for symmetry with the other frontends: a SavedModel's graph is data,
    and loading it runs no Python code of the model's author."""
    del trust
    import time

    started = time.perf_counter()
    frozen = freeze(path, signature)
    frozen_at = time.perf_counter()
    graph = _Builder(frozen).build()
    LAST_TIMINGS.clear()
    LAST_TIMINGS.update(freeze_s=frozen_at - started, build_s=time.perf_counter() - frozen_at)
    _FROZEN[(str(Path(path).resolve()), signature)] = frozen
    return graph


# Seconds spent by the last ``load`` freezing (SavedModel load + freeze) and building the IR.
LAST_TIMINGS: dict[str, float] = {}


def _attr_str(node: Any, key: str, default: str = "") -> str:
    if key not in node.attr:
        return default
    value = node.attr[key].s
    return value.decode() if isinstance(value, bytes) else str(value)


def _attr_ints(node: Any, key: str) -> list[int]:
    return [int(i) for i in node.attr[key].list.i] if key in node.attr else []


def _attr_bool(node: Any, key: str) -> bool:
    return bool(node.attr[key].b) if key in node.attr else False


def _tensor_name(ref: str) -> str:
    """``node:0`` -> ``node``; ``node:k`` stays; the IR value name of a TF tensor."""
    return ref[:-2] if ref.endswith(":0") else ref


def _node_of(ref: str) -> str:
    name = ref.lstrip("^")
    head, _, tail = name.rpartition(":")
    return head if head and tail.isdigit() else name


class _Builder:
    def __init__(self, frozen: Frozen) -> None:
        from convmend import _core

        self.frozen = frozen
        self.nodes = {n.name: n for n in frozen.graph_def.node}
        self.order_index = {n.name: i for i, n in enumerate(frozen.graph_def.node)}
        self.g = _core.Graph(frozen.path.name)
        self.consts: dict[str, np.ndarray] = {}  # TF tensor name -> folded value
        self.live: set[str] = set()  # nodes that depend on an input (set by build)
        self._shape_graph: Any = None
        self.ir: dict[str, str] = {}  # TF tensor name -> IR value name
        self.ir_consts: set[str] = set()
        self.unsupported: dict[str, list[str]] = {}
        self.failed: set[str] = set()  # TF nodes without IR values (unsupported or downstream)
        self.space_to_batch: dict[str, tuple[str, list[int], np.ndarray]] = {}
        self.pending_conv: dict[str, tuple[Any, int, str, list[int], np.ndarray]] = {}
        self.node = None  # the TF node being mapped
        self.index = -1

    # ---- helpers

    def data_inputs(self, node: Any) -> list[str]:
        return [_tensor_name(i) for i in node.input if not i.startswith("^")]

    def static_shape(self, tensor: str) -> list[int | None] | None:
        if tensor in self.consts:
            return list(self.consts[tensor].shape)
        ref = tensor if ":" in tensor else tensor + ":0"
        try:
            shape = self.shape_graph().get_tensor_by_name(ref).shape
        except (KeyError, ValueError):
            return None
        return None if shape.rank is None else list(shape.as_list())

    def rank(self, tensor: str) -> int:
        if tensor in self.consts:
            return self.consts[tensor].ndim
        shape = self.static_shape(tensor)
        if shape is None:
            raise _Unsupported(f"{self.node.op}(unknown rank)")
        return len(shape)

    def const_value(self, tensor: str) -> np.ndarray:
        if tensor not in self.consts:
            raise _Unsupported(f"{self.node.op}(non-constant {self.role(tensor)})")
        return self.consts[tensor]

    def role(self, tensor: str) -> str:
        ins = self.data_inputs(self.node)
        return f"input {ins.index(tensor)}" if tensor in ins else "input"

    def add_const(self, name: str, value: np.ndarray, layout: str = "") -> str:
        value = np.asarray(value)
        if value.dtype == np.int32:
            value = value.astype(np.int64)
        if name in self.ir_consts:
            return name
        base, k = name, 1
        while self.g_has(name):
            name = f"{base}/{k}"
            k += 1
        self.g.add_constant(name, np.ascontiguousarray(value), layout)
        self.ir_consts.add(name)
        return name

    def g_has(self, name: str) -> bool:
        return name in self.ir.values() or name in self.ir_consts

    def value(self, tensor: str) -> str:
        """The IR value of a TF tensor, adding it as a constant when it was folded."""
        if tensor in self.ir:
            return self.ir[tensor]
        if tensor in self.consts:
            name = self.add_const(tensor, self.consts[tensor])
            self.ir[tensor] = name
            return name
        if _node_of(tensor) in self.failed:
            raise _Skipped(tensor)
        source = self.nodes[_node_of(tensor)].op if _node_of(tensor) in self.nodes else "?"
        raise _Unsupported(f"{self.node.op}(reads {source} output {tensor})")

    def i64(self, tensor: str, name_suffix: str = "") -> str:
        """An integer operand as an int64 IR value (a constant converted if needed)."""
        if tensor in self.consts:
            arr = np.asarray(self.consts[tensor]).astype(np.int64)
            return self.add_const(tensor + name_suffix, arr)
        return self.value(tensor)

    def scalar(self, role: str, value: float, dtype: Any = np.float32) -> str:
        return self.add_const(f"{self.node.name}/{role}", np.asarray(value, dtype=dtype))

    def emit(self, op: str, inputs: Sequence[str], attrs: Mapping[str, Any] | None = None,
             out: str | None = None, role: str | None = None) -> str:
        """Add one IR node for the current TF node. Without ``role`` its output is the TF
        node's output 0 (``out`` overrides); with ``role`` it is the helper
        ``<tf name>/<role>``."""
        node = self.node
        name = out or (node.name if role is None else f"{node.name}/{role}")
        self.g.add_node(op, name, list(inputs), [name], dict(attrs or {}),
                        source_format=SOURCE, source_name=node.name, source_op=node.op,
                        source_index=self.index)
        return name

    # ---- driver

    def build(self) -> Any:
        frozen = self.frozen
        placeholders = {name for _, name in frozen.inputs}
        needed = self.ancestors([_node_of(t) for _, t in frozen.outputs])
        live = self.live_nodes(placeholders, needed)
        self.fold_frontier(live, needed)
        self.live = live
        for key, name in frozen.inputs:
            node = self.nodes[name]
            dtype = np.dtype(_np_dtype(node.attr["dtype"].type)).name
            shape = self.static_shape(name)
            if shape is None:
                raise ConvmendError(f"{frozen.path}: input {key!r} has an unknown rank")
            dims = [-1 if d is None else int(d) for d in shape]
            self.g.add_input(name, dtype, dims, "NHWC" if len(dims) == 4 else "")
            self.ir[name] = name
        for index, name in self.topological(live):
            node = self.nodes[name]
            if name in placeholders:
                continue
            self.node, self.index = node, index
            try:
                self.map_node(node)
            except _Unsupported as exc:
                self.unsupported.setdefault(exc.kind, []).append(name)
                self.failed.add(name)
            except _Skipped:
                self.failed.add(name)
        if self.unsupported:
            raise UnsupportedLayers("tf", self.unsupported)
        used: set[str] = set()
        for _, tensor in frozen.outputs:
            name = _tensor_name(tensor)
            value = self.ir.get(name)
            if value is None and name in self.consts:
                value = self.value(name)
            if value is None:
                raise ConvmendError(f"{frozen.path}: output {tensor} is not computed")
            if value in used or value in placeholders:  # an output needs its own value
                self.node = self.nodes[_node_of(tensor)]
                value = self.emit("Identity", [value], out=f"{name}/output")
            used.add(value)
            self.g.add_output(value)
        self.g.set_metadata("tf.signature", frozen.signature)
        self.g.set_metadata("tf.inputs", ",".join(f"{k}={n}" for k, n in frozen.inputs))
        self.g.set_metadata("tf.outputs", ",".join(f"{k}={n}" for k, n in frozen.outputs))
        self.g.verify()
        self.g.infer_shapes()
        return self.g

    def ancestors(self, roots: Sequence[str]) -> set[str]:
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            stack.extend(_node_of(i) for i in self.nodes[name].input if not i.startswith("^"))
        return seen

    def live_nodes(self, placeholders: set[str], needed: set[str]) -> set[str]:
        """Needed nodes that depend on a graph input (the rest is folded)."""
        live = set(placeholders)
        for _, name in self.topological(needed):
            node = self.nodes[name]
            stateful = node.op in NOT_FOLDABLE and node.op != "Placeholder"
            if stateful or any(_node_of(i) in live for i in node.input if not i.startswith("^")):
                live.add(name)
        return live & (needed | placeholders)

    def topological(self, names: set[str]) -> list[tuple[int, str]]:
        import heapq

        pending: dict[str, int] = {}
        users: dict[str, list[str]] = {n: [] for n in names}
        for n in names:
            srcs = {_node_of(i) for i in self.nodes[n].input if not i.startswith("^")}
            srcs &= names
            pending[n] = len(srcs)
            for s in srcs:
                users[s].append(n)
        ready = [(self.order_index[n], n) for n in names if pending[n] == 0]
        heapq.heapify(ready)
        out = []
        while ready:
            item = heapq.heappop(ready)
            out.append(item)
            for user in users[item[1]]:
                pending[user] -= 1
                if pending[user] == 0:
                    heapq.heappush(ready, (self.order_index[user], user))
        if len(out) != len(names):
            raise ConvmendError(f"{self.frozen.path}: the frozen graph has a cycle")
        return out

    def fold_frontier(self, live: set[str], needed: set[str]) -> None:
        """Evaluate, in one TF session run, every constant tensor a live node reads."""
        wanted: set[str] = set()
        for name in live:
            for ref in self.nodes[name].input:
                if ref.startswith("^") or _node_of(ref) in live:
                    continue
                wanted.add(_tensor_name(ref))
        fetch = []
        for tensor in sorted(wanted):
            node = const_behind(self.nodes, tensor)
            if node is not None:
                self.consts[tensor] = _const_array(node)
            else:
                fetch.append(tensor)
        if fetch:
            try:
                values = self.run_constant_part(fetch)
            except Exception as exc:  # InvalidArgumentError etc.: a non-constant subgraph
                raise ConvmendError(
                    f"{self.frozen.path}: cannot evaluate the constant part of the graph: {exc}"
                ) from exc
            for tensor, value in zip(fetch, values, strict=True):
                self.consts[tensor] = np.asarray(value)

    def run_constant_part(self, fetch: list[str]) -> list[Any]:
        """``fetch`` evaluated in a session over their ancestors only: the whole frozen graph
        would copy every weight into TensorFlow's runtime first (9 of ResNet101's 9.4 s of
        IR build), while the tensors fetched here (BatchNorm's folded scale and offset, a
        variable read's Identity) read a few small constants."""
        import tensorflow as tf

        keep = self.ancestors([_node_of(t) for t in fetch])
        ops = _eager_ops()
        if all(self.nodes[n].op in ops for n in keep) and all(
                ":" not in t or t.endswith(":0") for t in fetch):
            return self.run_eagerly(keep, fetch, ops)
        sub = tf.compat.v1.GraphDef()
        sub.versions.CopyFrom(self.frozen.graph_def.versions)
        sub.node.extend(n for n in self.frozen.graph_def.node if n.name in keep)
        with tf.compat.v1.Session(graph=_imported(sub)) as session:
            return session.run([t if ":" in t else t + ":0" for t in fetch])

    def shape_graph(self) -> Any:
        """The live nodes, imported into a tf.Graph for TensorFlow's static shapes, each
        constant they read stubbed (a large one as a Placeholder of its shape, a small one as
        its value, which shapes may depend on): the whole frozen graph would take seconds to
        import (ResNet101: 1 s of op bookkeeping, 2 s with its weights copied)."""
        if self._shape_graph is not None:
            return self._shape_graph
        import tensorflow as tf

        light = tf.compat.v1.GraphDef()
        light.versions.CopyFrom(self.frozen.graph_def.versions)
        stubs: dict[str, str] = {}
        for _, name in self.topological(self.live):
            copy = light.node.add()
            copy.CopyFrom(self.nodes[name])
            del copy.input[:]
            for ref in self.nodes[name].input:
                if ref.startswith("^"):
                    continue
                if _node_of(ref) in self.live:
                    copy.input.append(ref)
                    continue
                tensor = _tensor_name(ref)
                if tensor not in stubs:
                    stubs[tensor] = f"convmend_shape_stub/{tensor.replace(':', '_')}"
                    value = self.consts[tensor]
                    stub = light.node.add()
                    stub.name = stubs[tensor]
                    stub.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
                    if value.size < 4096:
                        stub.op = "Const"
                        stub.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
                    else:
                        stub.op = "Placeholder"
                        stub.attr["shape"].shape.CopyFrom(
                            tf.TensorShape(value.shape).as_proto())
                copy.input.append(stubs[tensor])
        self._shape_graph = _imported(light)
        return self._shape_graph

    def run_eagerly(self, keep: set[str], fetch: list[str], ops: dict[str, Any]
                    ) -> list[Any]:
        """The same ops run one by one, arithmetic in TensorFlow's eager mode (the same CPU
        kernels as a session), data movement in numpy, without importing a graph (1 s of
        ResNet101's BatchNorm folding)."""
        values: dict[str, Any] = {}
        for _, name in self.topological(keep):
            node = self.nodes[name]
            args = [values[_node_of(i)] for i in node.input if not i.startswith("^")]
            if node.op == "Const":
                values[name] = _const_array(node)
            else:
                values[name] = np.asarray(ops[node.op](node, *args))
        return [values[_node_of(t)] for t in fetch]

    def fold_node(self, node: Any) -> bool:
        """Evaluate a node whose data inputs are all constant, with TF itself."""
        ins = self.data_inputs(node)
        if node.op in NOT_FOLDABLE or not all(i in self.consts for i in ins):
            return False
        if node.op in PASS_THROUGH:
            for k, i in enumerate(ins):
                self.consts[node.name if k == 0 else f"{node.name}:{k}"] = self.consts[i]
            return True
        values = _evaluate(node, [self.consts[i] for i in ins])
        for k, v in enumerate(values):
            self.consts[node.name if k == 0 else f"{node.name}:{k}"] = v
        return True

    def map_node(self, node: Any) -> None:
        op = node.op
        if op in IGNORED:
            return
        if op in ("Shape", "Size", "Rank") and self.fold_shape(node):
            return
        if self.fold_node(node):
            return
        if op in PASS_THROUGH:
            for k, i in enumerate(self.data_inputs(node)):
                if i in self.consts:
                    self.consts[node.name if k == 0 else f"{node.name}:{k}"] = self.consts[i]
                else:
                    self.ir[node.name if k == 0 else f"{node.name}:{k}"] = self.value(i)
            return
        handler = _HANDLERS.get(op)
        if handler is None:
            raise _Unsupported(op)
        result = handler(self, node)
        if result is not None:
            self.ir[node.name] = result

    def fold_shape(self, node: Any) -> bool:
        shape = self.static_shape(self.data_inputs(node)[0])
        if shape is None or any(d is None for d in shape):
            return False
        out = _np_dtype(node.attr["out_type"].type) if "out_type" in node.attr else np.int32
        if node.op == "Shape":
            self.consts[node.name] = np.asarray(shape, dtype=out)
        elif node.op == "Size":
            self.consts[node.name] = np.asarray(int(np.prod(shape)), dtype=out)
        else:
            self.consts[node.name] = np.asarray(len(shape), dtype=np.int32)
        return True


def _np_dtype(enum: int) -> Any:
    import tensorflow as tf

    return tf.dtypes.as_dtype(enum).as_numpy_dtype


def _const_array(node: Any) -> np.ndarray:
    import tensorflow as tf

    return np.asarray(tf.make_ndarray(node.attr["value"].tensor))


def _evaluate(node: Any, values: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run one TF node on constant inputs in a throwaway graph."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    for i, v in enumerate(values):
        c = graph_def.node.add()
        c.name, c.op = f"in{i}", "Const"
        c.attr["dtype"].type = tf.as_dtype(v.dtype).as_datatype_enum
        c.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(v))
    copy = graph_def.node.add()
    copy.CopyFrom(node)
    copy.name = "op"
    copy.device = ""
    del copy.input[:]
    copy.input.extend(f"in{i}" for i in range(len(values)))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    outputs = graph.get_operation_by_name("op").outputs
    with tf.compat.v1.Session(graph=graph) as session:
        return [np.asarray(v) for v in session.run(list(outputs))]


def _eager_ops() -> dict[str, Any]:
    """Ops of a constant frontier that ``run_eagerly`` knows (single output, attributes
    inferred from the inputs or read from the node)."""
    import tensorflow as tf

    raw = tf.raw_ops
    return {
        "Const": None,
        "Identity": lambda n, x: x,  # data movement in numpy, arithmetic in TF's kernels
        "Mul": lambda n, x, y: raw.Mul(x=x, y=y),
        "Sub": lambda n, x, y: raw.Sub(x=x, y=y),
        "AddV2": lambda n, x, y: raw.AddV2(x=x, y=y),
        "Add": lambda n, x, y: raw.Add(x=x, y=y),
        "RealDiv": lambda n, x, y: raw.RealDiv(x=x, y=y),
        "Rsqrt": lambda n, x: raw.Rsqrt(x=x),
        "Sqrt": lambda n, x: raw.Sqrt(x=x),
        "Reshape": lambda n, x, shape: np.reshape(x, [int(d) for d in np.ravel(shape)]),
        "Squeeze": lambda n, x: (np.squeeze(x, axis=tuple(n.attr["squeeze_dims"].list.i))
                                 if n.attr["squeeze_dims"].list.i else np.squeeze(x)),
        "ExpandDims": lambda n, x, axis: np.expand_dims(x, int(np.ravel(axis)[0])),
        "Transpose": lambda n, x, perm: np.transpose(x, [int(p) for p in np.ravel(perm)]),
    }


# --------------------------------------------------------------------------- op handlers


def _spatial(node: Any, key: str) -> tuple[list[int], bool]:
    """[h, w] of a 4-entry NHWC/NCHW attribute, and whether the layout is NCHW."""
    nchw = _attr_str(node, "data_format", "NHWC") == "NCHW"
    values = _attr_ints(node, key) or [1, 1, 1, 1]
    return ([values[2], values[3]] if nchw else [values[1], values[2]]), nchw


def _padding(b: _Builder, node: Any, nchw: bool) -> dict[str, Any]:
    padding = _attr_str(node, "padding", "VALID")
    if padding == "SAME":
        return {"auto_pad": "SAME_UPPER"}
    if padding == "VALID":
        return {"auto_pad": "VALID"}
    if padding == "EXPLICIT":
        ep = _attr_ints(node, "explicit_paddings")
        h, w = (2, 3) if nchw else (1, 2)
        return {"pads": [ep[2 * h], ep[2 * w], ep[2 * h + 1], ep[2 * w + 1]]}
    raise _Unsupported(f"{node.op}(padding {padding})")


def _conv(b: _Builder, node: Any) -> str | None:
    x = b.data_inputs(node)[0]
    if x in b.space_to_batch:  # tf.nn.convolution's dilation: SpaceToBatchND, conv, back
        source, block, paddings = b.space_to_batch[x]
        if _attr_str(node, "data_format", "NHWC") != "NHWC" or _attr_str(node, "padding") != (
                "VALID") or _spatial(node, "strides")[0] != [1, 1] or _spatial(
                node, "dilations")[0] != [1, 1]:
            raise _Unsupported(f"{node.op}(after SpaceToBatchND)")
        b.pending_conv[node.name] = (node, b.index, source, block, paddings)
        return None
    return _emit_conv(b, node, x)


def _emit_conv(b: _Builder, node: Any, x: str, out: str | None = None,
               dilated: tuple[list[int], list[int]] | None = None) -> str:
    f = b.data_inputs(node)[1]
    strides, nchw = _spatial(node, "strides")
    dilations, _ = _spatial(node, "dilations")
    attrs: dict[str, Any] = {"strides": strides, "dilations": dilations,
                             "data_layout": "NCHW" if nchw else "NHWC"}
    if dilated is None:
        attrs.update(_padding(b, node, nchw))
    else:
        attrs["dilations"], attrs["pads"] = dilated
    depthwise = node.op == "DepthwiseConv2dNative"
    if f not in b.consts:
        if depthwise:
            raise _Unsupported(f"{node.op}(non-constant filter)")
        perm = [3, 2, 0, 1] if nchw else [3, 0, 1, 2]
        w = b.emit("Transpose", [b.value(f)], {"perm": perm}, role="filter")
        attrs["weight_layout"] = "OIHW" if nchw else "OHWI"
    else:
        hwio = b.consts[f]
        if depthwise:
            kh, kw, cin, mult = hwio.shape
            flat = hwio.reshape(kh, kw, cin * mult)
            attrs["group"] = int(cin)
            if nchw:
                w = b.add_const(f + "/OIHW", flat.transpose(2, 0, 1)[:, None], "OIHW")
                attrs["weight_layout"] = "OIHW"
            else:
                w = b.add_const(f + "/1HWO", flat[None], "1HWO")
                attrs["weight_layout"] = "1HWO"
        elif nchw:
            w = b.add_const(f + "/OIHW", hwio.transpose(3, 2, 0, 1), "OIHW")
            attrs["weight_layout"] = "OIHW"
        else:
            w = b.add_const(f + "/OHWI", hwio.transpose(3, 0, 1, 2), "OHWI")
            attrs["weight_layout"] = "OHWI"
            shape = b.static_shape(x)
            cin = hwio.shape[2]
            if shape and shape[-1] is not None and shape[-1] != cin:  # grouped Conv2D
                attrs["group"] = int(shape[-1] // cin)
    return b.emit("Conv", [b.value(x), w, ""], attrs, out=out)


def _space_to_batch(b: _Builder, node: Any) -> None:
    x, block_t, pads_t = b.data_inputs(node)
    block = [int(v) for v in np.asarray(b.const_value(block_t)).reshape(-1)]
    paddings = np.asarray(b.const_value(pads_t)).astype(np.int64).reshape(-1, 2)
    if len(block) != 2 or b.rank(x) != 4:
        raise _Unsupported("SpaceToBatchND(not 2-D)")
    b.space_to_batch[node.name] = (x, block, paddings)
    return None


def _batch_to_space(b: _Builder, node: Any) -> str:
    """Closes SpaceToBatchND -> Conv -> BatchToSpaceND into one dilated Conv named like
    this node (the inner conv's own tensor is in the batch-folded layout, not comparable)."""
    y, block_t, crops_t = b.data_inputs(node)
    if y not in b.pending_conv:
        raise _Unsupported("BatchToSpaceND(not after a SpaceToBatchND convolution)")
    conv, index, source, block, paddings = b.pending_conv[y]
    crops = np.asarray(b.const_value(crops_t)).astype(np.int64).reshape(-1, 2)
    if [int(v) for v in np.asarray(b.const_value(block_t)).reshape(-1)] != block:
        raise _Unsupported("BatchToSpaceND(block differs from SpaceToBatchND)")
    ends = paddings[:, 1] - crops[:, 1]
    begins = paddings[:, 0] - crops[:, 0]
    if (ends < 0).any() or (begins < 0).any():
        raise _Unsupported("BatchToSpaceND(crops beyond the padding)")
    b.node, b.index = conv, index
    return _emit_conv(b, conv, source, out=node.name,
                      dilated=(block, [int(begins[0]), int(begins[1]), int(ends[0]),
                                       int(ends[1])]))


def _pool(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    if node.op in ("MaxPoolV2",):
        n = b.const_value(ins[1]).tolist()
        s = b.const_value(ins[2]).tolist()
        nchw = _attr_str(node, "data_format", "NHWC") == "NCHW"
        kernel = [n[2], n[3]] if nchw else [n[1], n[2]]
        strides = [s[2], s[3]] if nchw else [s[1], s[2]]
    else:
        kernel, nchw = _spatial(node, "ksize")
        strides, _ = _spatial(node, "strides")
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": strides,
                             "data_layout": "NCHW" if nchw else "NHWC"}
    attrs.update(_padding(b, node, nchw))
    if node.op == "AvgPool":
        attrs["count_include_pad"] = 0  # TF averages over the cells inside the input
        return b.emit("AveragePool", [b.value(ins[0])], attrs)
    return b.emit("MaxPool", [b.value(ins[0])], attrs)


def _bias_add(b: _Builder, node: Any) -> str:
    x, bias = b.data_inputs(node)
    if _attr_str(node, "data_format", "NHWC") == "NCHW" and b.rank(x) > 2:
        extra = b.rank(x) - 2
        if bias in b.consts:
            arr = b.consts[bias]
            bias_v = b.add_const(bias + "/NCHW", arr.reshape(arr.shape + (1,) * extra))
        else:
            shape = b.add_const(f"{node.name}/bias_shape", np.asarray([-1] + [1] * extra))
            bias_v = b.emit("Reshape", [b.value(bias), shape], role="bias")
        return b.emit("Add", [b.value(x), bias_v])
    return b.emit("Add", [b.value(x), b.value(bias)])


def _batch_norm(b: _Builder, node: Any) -> str:
    if node.attr["is_training"].b if "is_training" in node.attr else True:  # TF default: True
        raise _Unsupported(f"{node.op}(is_training)")
    x, scale, offset, mean, var = b.data_inputs(node)[:5]
    nchw = _attr_str(node, "data_format", "NHWC") in ("NCHW", "NCDHW")
    eps = float(node.attr["epsilon"].f) if "epsilon" in node.attr else 1e-4
    return b.emit("BatchNormalization",
                  [b.value(x), b.value(scale), b.value(offset), b.value(mean), b.value(var)],
                  {"epsilon": eps, "data_layout": "NCHW" if nchw else "NHWC"})


def _unary(b: _Builder, node: Any) -> str:
    return b.emit(UNARY[node.op], [b.value(b.data_inputs(node)[0])])


def _binary(b: _Builder, node: Any) -> str:
    x, y = b.data_inputs(node)
    return b.emit(BINARY[node.op], [b.value(x), b.value(y)])


def _div(b: _Builder, node: Any) -> str:
    x, y = b.data_inputs(node)
    if np.dtype(_np_dtype(node.attr["T"].type)).kind != "f":
        raise _Unsupported(f"{node.op}(integer)")
    return b.emit("Div", [b.value(x), b.value(y)])


def _squared_difference(b: _Builder, node: Any) -> str:
    x, y = b.data_inputs(node)
    d = b.emit("Sub", [b.value(x), b.value(y)], role="sub")
    return b.emit("Mul", [d, d])


def _square(b: _Builder, node: Any) -> str:
    x = b.value(b.data_inputs(node)[0])
    return b.emit("Mul", [x, x])


def _rsqrt(b: _Builder, node: Any) -> str:
    s = b.emit("Sqrt", [b.value(b.data_inputs(node)[0])], role="sqrt")
    return b.emit("Reciprocal", [s])


def _relu6(b: _Builder, node: Any) -> str:
    dtype = _np_dtype(node.attr["T"].type)
    return b.emit("Clip", [b.value(b.data_inputs(node)[0]), b.scalar("min", 0, dtype),
                           b.scalar("max", 6, dtype)])


def _leaky_relu(b: _Builder, node: Any) -> str:
    alpha = float(node.attr["alpha"].f) if "alpha" in node.attr else 0.2
    return b.emit("LeakyRelu", [b.value(b.data_inputs(node)[0])], {"alpha": alpha})


def _add_n(b: _Builder, node: Any) -> str:
    return b.emit("Sum", [b.value(i) for i in b.data_inputs(node)])


def _select(b: _Builder, node: Any) -> str:
    c, x, y = b.data_inputs(node)
    if node.op == "Select" and b.rank(c) == 1 and b.rank(x) > 1:
        raise _Unsupported("Select(vector condition)")
    return b.emit("Where", [b.value(c), b.value(x), b.value(y)])


def _reduce(b: _Builder, node: Any) -> str:
    x, axes = b.data_inputs(node)
    arr = np.asarray(b.const_value(axes)).astype(np.int64).reshape(-1)
    keep = int(_attr_bool(node, "keep_dims"))
    if arr.size == 0:
        return b.emit("Identity", [b.value(x)])
    ax = b.add_const(axes + "/i64", arr)
    return b.emit(REDUCE[node.op], [b.value(x), ax], {"keepdims": keep})


def _matmul(b: _Builder, node: Any) -> str:
    a, w = b.data_inputs(node)
    batched = node.op != "MatMul"
    ta = _attr_bool(node, "adj_x" if batched else "transpose_a")
    tb = _attr_bool(node, "adj_y" if batched else "transpose_b")

    def operand(t: str, transpose: bool, role: str) -> str:
        if not transpose:
            return b.value(t)
        rank = b.rank(t)
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        if t in b.consts:
            return b.add_const(t + "/T", np.ascontiguousarray(b.consts[t].transpose(perm)))
        return b.emit("Transpose", [b.value(t)], {"perm": perm}, role=role)

    return b.emit("MatMul", [operand(a, ta, "transpose_a"), operand(w, tb, "transpose_b")])


def _softmax(b: _Builder, node: Any) -> str:
    x = b.value(b.data_inputs(node)[0])
    if node.op == "LogSoftmax":  # x - max - log(sum(exp(x - max))), stable like TF's
        axes = b.add_const(f"{node.name}/axes", np.asarray([-1], np.int64))
        m = b.emit("ReduceMax", [x, axes], {"keepdims": 1}, role="max")
        shifted = b.emit("Sub", [x, m], role="shifted")
        e = b.emit("Exp", [shifted], role="exp")
        total = b.emit("ReduceSum", [e, axes], {"keepdims": 1}, role="sum")
        return b.emit("Sub", [shifted, b.emit("Log", [total], role="log")])
    return b.emit("Softmax", [x], {"axis": -1})


def _pad(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    pads = np.asarray(b.const_value(ins[1])).astype(np.int64)
    flat = b.add_const(ins[1] + "/onnx", pads.T.reshape(-1))
    inputs = [b.value(ins[0]), flat]
    attrs = {"mode": "constant"}
    if node.op == "PadV2":
        inputs.append(b.value(ins[2]))
    elif node.op == "MirrorPad":
        mode = _attr_str(node, "mode", "REFLECT")
        if mode != "REFLECT":
            raise _Unsupported(f"MirrorPad({mode})")
        attrs["mode"] = "reflect"
    return b.emit("Pad", inputs, attrs)


def _axis(b: _Builder, axis: int, rank_of: str, extra: int = 0) -> int:
    if axis >= 0:
        return int(axis)
    try:
        return int(axis + b.rank(rank_of) + extra)
    except _Unsupported:
        return int(axis)


def _concat(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    if node.op == "ConcatV2":
        values, axis_t = ins[:-1], ins[-1]
    else:
        axis_t, values = ins[0], ins[1:]
    axis = _axis(b, int(b.const_value(axis_t)), values[0])
    return b.emit("Concat", [b.value(v) for v in values], {"axis": axis})


def _reshape(b: _Builder, node: Any) -> str:
    x, shape = b.data_inputs(node)
    return b.emit("Reshape", [b.value(x), b.i64(shape, "/i64")])


def _squeeze(b: _Builder, node: Any) -> str:
    x = b.data_inputs(node)[0]
    dims = _attr_ints(node, "squeeze_dims")
    if not dims:
        return b.emit("Squeeze", [b.value(x), ""])
    axes = b.add_const(f"{node.name}/axes", np.asarray(dims, np.int64))
    return b.emit("Squeeze", [b.value(x), axes])


def _expand_dims(b: _Builder, node: Any) -> str:
    x, dim = b.data_inputs(node)
    axes = np.asarray(b.const_value(dim)).astype(np.int64).reshape(-1)
    return b.emit("Unsqueeze", [b.value(x), b.add_const(dim + "/axes", axes)])


def _transpose(b: _Builder, node: Any) -> str:
    x, perm = b.data_inputs(node)
    return b.emit("Transpose", [b.value(x)],
                  {"perm": [int(p) for p in np.asarray(b.const_value(perm)).reshape(-1)]})


def _shape(b: _Builder, node: Any) -> str:
    if node.op != "Shape":
        raise _Unsupported(f"{node.op}(dynamic)")
    return b.emit("Shape", [b.value(b.data_inputs(node)[0])])


def _cast(b: _Builder, node: Any) -> str:
    x = b.data_inputs(node)[0]
    dst = np.dtype(_np_dtype(node.attr["DstT"].type)).name
    if dst not in _IR_DTYPE:
        raise _Unsupported(f"Cast(to {dst})")
    return b.emit("Cast", [b.value(x)], {"to": _IR_DTYPE[dst]})


def _strided_slice(b: _Builder, node: Any) -> str:
    x, begin_t, end_t, strides_t = b.data_inputs(node)
    if node.attr["new_axis_mask"].i:
        raise _Unsupported("StridedSlice(new_axis_mask)")
    begin = np.asarray(b.const_value(begin_t)).astype(np.int64).tolist()
    end = np.asarray(b.const_value(end_t)).astype(np.int64).tolist()
    steps = np.asarray(b.const_value(strides_t)).astype(np.int64).tolist()
    bm, em, sm, ell = (int(node.attr[k].i) for k in
                       ("begin_mask", "end_mask", "shrink_axis_mask", "ellipsis_mask"))
    if ell:  # expand the ellipsis into full slices of the dims it stands for
        j = (ell & -ell).bit_length() - 1
        fill = b.rank(x) - (len(begin) - 1)
        full = (1 << fill) - 1

        def spread(mask: int) -> int:
            low = mask & ((1 << j) - 1)
            return low | (full << j) | ((mask >> (j + 1)) << (j + fill))

        bm, em = spread(bm), spread(em)
        sm = (sm & ((1 << j) - 1)) | ((sm >> (j + 1)) << (j + fill))
        begin = begin[:j] + [0] * fill + begin[j + 1:]
        end = end[:j] + [0] * fill + end[j + 1:]
        steps = steps[:j] + [1] * fill + steps[j + 1:]
    starts, ends, axes, shrink = [], [], [], []
    for i, (s, e, st) in enumerate(zip(begin, end, steps, strict=True)):
        if sm >> i & 1:
            starts.append(s)
            ends.append(INT64_MAX if s == -1 else s + 1)
            steps[i] = 1
            shrink.append(i)
        else:
            starts.append((0 if st > 0 else INT64_MAX) if bm >> i & 1 else s)
            ends.append((INT64_MAX if st > 0 else INT64_MIN) if em >> i & 1 else e)
        axes.append(i)
    name = node.name
    inputs = [b.value(x),
              b.add_const(f"{name}/starts", np.asarray(starts, np.int64)),
              b.add_const(f"{name}/ends", np.asarray(ends, np.int64)),
              b.add_const(f"{name}/axes", np.asarray(axes, np.int64)),
              b.add_const(f"{name}/steps", np.asarray(steps, np.int64))]
    if not shrink:
        return b.emit("Slice", inputs)
    sliced = b.emit("Slice", inputs, role="slice")
    return b.emit("Squeeze", [sliced, b.add_const(f"{name}/squeeze_axes",
                                                  np.asarray(shrink, np.int64))])


def _slice(b: _Builder, node: Any) -> str:
    x, begin_t, size_t = b.data_inputs(node)
    begin = np.asarray(b.const_value(begin_t)).astype(np.int64)
    size = np.asarray(b.const_value(size_t)).astype(np.int64)
    ends = np.where(size < 0, INT64_MAX, begin + size)
    return b.emit("Slice", [b.value(x), b.add_const(f"{node.name}/starts", begin),
                            b.add_const(f"{node.name}/ends", ends)])


def _pack(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    axis = int(node.attr["axis"].i)
    if axis < 0:
        axis = _axis(b, axis, ins[0], extra=1)
    axes = b.add_const(f"{node.name}/axes", np.asarray([axis], np.int64))
    parts = []
    for k, t in enumerate(ins):
        if t in b.consts:
            arr = np.expand_dims(b.consts[t], axis)
            parts.append(b.add_const(f"{node.name}/in{k}", arr))
        else:
            parts.append(b.emit("Unsqueeze", [b.value(t), axes], role=f"unsqueeze{k}"))
    if len(parts) == 1:
        return b.emit("Identity", parts)
    return b.emit("Concat", parts, {"axis": axis})


def _gather(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    if int(node.attr["batch_dims"].i) if "batch_dims" in node.attr else 0:
        raise _Unsupported("GatherV2(batch_dims)")
    axis = int(b.const_value(ins[2])) if node.op == "GatherV2" else 0
    return b.emit("Gather", [b.value(ins[0]), b.i64(ins[1], "/i64")],
                  {"axis": _axis(b, axis, ins[0])})


def _split(b: _Builder, node: Any) -> str:
    ins = b.data_inputs(node)
    n = int(node.attr["num_split"].i)
    if node.op == "Split":
        axis_t, x = ins
        inputs = [b.value(x)]
    else:
        x, sizes_t, axis_t = ins
        sizes = np.asarray(b.const_value(sizes_t)).astype(np.int64)
        if (sizes < 0).any():
            dim = (b.static_shape(x) or [None] * 64)[int(b.const_value(axis_t))]
            if dim is None:
                raise _Unsupported("SplitV(inferred size)")
            sizes[sizes < 0] = dim - sizes[sizes >= 0].sum()
        inputs = [b.value(x), b.add_const(f"{node.name}/split", sizes)]
    axis = _axis(b, int(b.const_value(axis_t)), x)
    outs = [node.name] + [f"{node.name}:{k}" for k in range(1, n)]
    attrs = {"axis": axis} if len(inputs) == 2 else {"axis": axis, "num_outputs": n}
    b.g.add_node("Split", node.name, inputs, outs, attrs,
                 source_format=SOURCE, source_name=node.name, source_op=node.op,
                 source_index=b.index)
    for k in range(1, n):
        b.ir[outs[k]] = outs[k]
    return node.name


def _tile(b: _Builder, node: Any) -> str:
    x, reps = b.data_inputs(node)
    return b.emit("Tile", [b.value(x), b.i64(reps, "/i64")])


def _broadcast_to(b: _Builder, node: Any) -> str:
    x, shape = b.data_inputs(node)
    return b.emit("Expand", [b.value(x), b.i64(shape, "/i64")])


def _resize(b: _Builder, node: Any) -> str:
    x, size_t = b.data_inputs(node)
    size = np.asarray(b.const_value(size_t)).astype(np.int64).tolist()
    align = _attr_bool(node, "align_corners")
    half = _attr_bool(node, "half_pixel_centers")
    attrs: dict[str, Any] = {"data_layout": "NHWC"}
    if node.op == "ResizeBilinear":
        attrs["mode"] = "linear"
        attrs["coordinate_transformation_mode"] = (
            "align_corners" if align else "half_pixel" if half else "asymmetric")
    else:
        attrs["mode"] = "nearest"
        if align:
            attrs.update(coordinate_transformation_mode="align_corners",
                         nearest_mode="round_prefer_ceil")
        elif half:
            attrs.update(coordinate_transformation_mode="tf_half_pixel_for_nn",
                         nearest_mode="floor")
        else:
            attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    shape = b.static_shape(x)
    if shape is None or len(shape) != 4:
        raise _Unsupported(f"{node.op}(unknown rank)")
    if shape[0] is not None and shape[3] is not None:
        sizes = b.add_const(f"{node.name}/sizes", np.asarray([shape[0], *size, shape[3]]))
        return b.emit("Resize", [b.value(x), "", "", sizes], attrs)
    if shape[1] is None or shape[2] is None:
        raise _Unsupported(f"{node.op}(dynamic spatial size)")
    scales = np.asarray([1.0, size[0] / shape[1], size[1] / shape[2], 1.0], np.float32)
    return b.emit("Resize", [b.value(x), "", b.add_const(f"{node.name}/scales", scales)], attrs)


def _fill_like(b: _Builder, node: Any) -> str:
    """ZerosLike / OnesLike / Fill on a runtime shape: Shape (for *Like) + ConstantOfShape."""
    ins = b.data_inputs(node)
    if node.op == "Fill":
        value = np.asarray(b.const_value(ins[1])).reshape(1)
        shape = b.i64(ins[0], "/i64")
    else:
        dtype = _np_dtype(node.attr["T"].type)
        value = np.asarray([0 if node.op == "ZerosLike" else 1], dtype=dtype)
        shape = b.emit("Shape", [b.value(ins[0])], role="shape")
    if value.dtype == np.int32:
        value = value.astype(np.int64)
    return b.emit("ConstantOfShape", [shape], {"value": value})


_HANDLERS: dict[str, Callable[[_Builder, Any], str | None]] = {
    "Conv2D": _conv, "DepthwiseConv2dNative": _conv,
    "MaxPool": _pool, "MaxPoolV2": _pool, "AvgPool": _pool,
    "BiasAdd": _bias_add, "BiasAddV1": _bias_add,
    "FusedBatchNorm": _batch_norm, "FusedBatchNormV2": _batch_norm,
    "FusedBatchNormV3": _batch_norm,
    **{op: _unary for op in UNARY},
    **{op: _binary for op in BINARY},
    "RealDiv": _div, "Div": _div,
    "SquaredDifference": _squared_difference, "Square": _square, "Rsqrt": _rsqrt,
    "Relu6": _relu6, "LeakyRelu": _leaky_relu, "AddN": _add_n,
    "Select": _select, "SelectV2": _select,
    **{op: _reduce for op in REDUCE},
    "MatMul": _matmul, "BatchMatMul": _matmul, "BatchMatMulV2": _matmul,
    "BatchMatMulV3": _matmul,
    "Softmax": _softmax, "LogSoftmax": _softmax,
    "Pad": _pad, "PadV2": _pad, "MirrorPad": _pad,
    "ConcatV2": _concat, "Concat": _concat,
    "Reshape": _reshape, "Squeeze": _squeeze, "ExpandDims": _expand_dims,
    "Transpose": _transpose, "Shape": _shape, "Size": _shape, "Rank": _shape,
    "Cast": _cast, "StridedSlice": _strided_slice, "Slice": _slice, "Pack": _pack,
    "GatherV2": _gather, "Gather": _gather, "Split": _split, "SplitV": _split,
    "Tile": _tile, "BroadcastTo": _broadcast_to,
    "ResizeBilinear": _resize, "ResizeNearestNeighbor": _resize,
    "SpaceToBatchND": _space_to_batch, "BatchToSpaceND": _batch_to_space,
    "ZerosLike": _fill_like, "OnesLike": _fill_like, "Fill": _fill_like,
}


def supported_ops() -> list[str]:
    """TF op types the frontend maps (pass-through ops included)."""
    return sorted(set(_HANDLERS) | PASS_THROUGH | {"Const", "Placeholder"})


# --------------------------------------------------------------------------- checking


def compare_with_tf(
    path: str | Path,
    graph: Any,
    batch: np.ndarray,
    exact: bool = False,
    signature: str = "serving_default",
) -> dict[str, Any]:
    """Run the IR graph and the frozen TF graph on ``batch`` and compare every IR value that
    is named like a TF tensor. ``traced`` errors are end to end (the IR run on its own
    values); ``local`` errors run each IR node alone on TF's values of its inputs, so they
    show what one node adds. Errors are max|ir - tf| / max|tf|."""
    from convmend import _core

    frozen = frozen_signature(path, signature)
    tf_names = {n.name for n in frozen.graph_def.node}
    nodes = graph.nodes()
    produced = [o for n in nodes for o in n["outputs"]]
    checked = [v for v in produced if _node_of(v) in tf_names]
    native = native_trace(path, batch, checked, signature)
    interp = _core.Interpreter(graph, exact=exact)
    outputs, traced = interp.run_traced([batch], checked)

    def rel(a: np.ndarray, ref: np.ndarray) -> float:
        if a.shape != ref.shape:
            return float("inf")
        if ref.dtype == bool or a.dtype == bool:
            return float(np.any(a != ref))
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        diff = float(np.abs(a.astype(np.float64) - ref.astype(np.float64)).max()) if ref.size else 0
        return diff / scale if scale > 0 else diff

    traced_err = {v: rel(traced[v], native[v]) for v in checked}
    local_err: dict[str, float] = {}
    known: dict[str, np.ndarray] = {graph.inputs()[0]["name"]: batch}
    # TF's int32 shape tensors are int64 in the IR: feed them in the IR's dtype.
    known.update({k: v.astype(traced[k].dtype, copy=False) if k in traced else v
                  for k, v in native.items()})
    for n in nodes:
        given = {i: known[i] for i in n["inputs"] if i and i in known}
        outs = interp.run_node(n["name"], given)
        for name, value in zip(n["outputs"], outs, strict=True):
            if name in native:
                local_err[name] = rel(value, native[name])
            else:
                known[name] = value
    out_names = [_tensor_name(t) for _, t in frozen.outputs]
    ref = native_trace(path, batch, out_names, signature)
    out_err = [rel(o, ref[n]) for o, n in zip(outputs, out_names, strict=True)]
    top1 = all(
        np.array_equal(o.argmax(-1), ref[n].argmax(-1))
        for o, n in zip(outputs, out_names, strict=True)
        if o.ndim >= 1 and o.dtype.kind == "f"
    )
    worst_traced = max(traced_err.items(), key=lambda kv: kv[1], default=("", 0.0))
    worst_local = max(local_err.items(), key=lambda kv: kv[1], default=("", 0.0))
    return {
        "ir_nodes": len(nodes),
        "checked_nodes": len({_node_of(v) for v in checked}),
        "checked_values": len(checked),
        "checked_share": len({n["name"] for n in nodes if any(o in native for o in n["outputs"])})
        / max(1, len(nodes)),
        "output_rel_error": max(out_err, default=0.0),
        "top1_equal": bool(top1),
        "worst_traced": worst_traced,
        "worst_local": worst_local,
        "traced_over_1e-5": sum(1 for e in traced_err.values() if e > 1e-5),
        "local_over_1e-5": sum(1 for e in local_err.values() if e > 1e-5),
        "out_names": out_names,
        "traced": traced_err,
        "local": local_err,
    }
