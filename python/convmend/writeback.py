"""Writing a repaired IR back into a framework's own file: Keras (``.keras``, ``.h5``),
PyTorch (a ``torch.export`` program ``.pt2``, or a state dict ``.pth``/``.pt``) and a
TensorFlow SavedModel (its serving signature, frozen).

The frontends keep every weight as a constant named after its framework variable (Keras:
``<layer>/<weight>``; PyTorch: the parameter's qualified name), possibly transposed or
reshaped into the IR's layout. A repair that only changed weights is written back by finding,
for each changed constant, the framework variable whose value the *original* constant is a
transposition or reshape of, and assigning the repaired values through the same transform.
A repair that changed the graph itself (attributes, ops, outputs, the input) has no such
mapping: it is refused with the list of what changed, and nothing is written.

A SavedModel is read frozen (``frontends.tf.freeze``: variables made constants), so it is
written frozen: the serving GraphDef with each changed constant replaced, wrapped in a
``tf.function`` under the same signature name, input and output keys, and saved with
``tf.saved_model.save``. Its weights become constants of the graph (as in the SavedModels
onnx2tf writes); other signatures and the variables for training are not carried over. An
input prefix that repair inserted (``convmend_input/*``: Transpose, Gather, Mul, Add) is
applied in TensorFlow ops before the frozen graph, so a SavedModel can take a baked input fix.

The output is written to a temporary file beside it and renamed into place
(``fileio.save_atomically``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.fileio import save_atomically, save_folder_atomically

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
TORCH_SUFFIXES = (".pt2", ".pth", ".pt")


def structure_changes(original: Any, repaired: Any,
                      alias: dict[str, str] | None = None) -> list[str]:
    """What differs between the graphs besides constant values (empty: weights only).
    ``alias`` renames values of ``repaired`` before comparing (an inserted input prefix's
    output read as the input it replaced)."""
    alias = alias or {}

    def key(n: dict[str, Any], names: dict[str, str]) -> tuple:
        return (n["op"], tuple(names.get(i, i) for i in n["inputs"]), tuple(n["outputs"]),
                repr(sorted(n["attrs"].items())))

    a = {n["name"]: key(n, {}) for n in original.nodes()}
    b = {n["name"]: key(n, alias) for n in repaired.nodes()}
    out = [f"node {name} removed" for name in a if name not in b]
    out += [f"node {name} added" for name in b if name not in a]
    out += [f"node {name} changed" for name in a if name in b and a[name] != b[name]]
    if [v["name"] for v in original.outputs()] != [v["name"] for v in repaired.outputs()]:
        out.append("graph outputs changed")
    if original.inputs() != repaired.inputs():
        out.append("graph input changed")
    return out


def changed_constants(original: Any, repaired: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (original value, repaired value) of every constant whose value changed."""
    out = {}
    kept = {v["name"] for v in repaired.values() if v.get("constant")}
    for v in original.values():
        if not v.get("constant") or v["name"] not in kept:
            continue
        old, new = np.asarray(original.constant(v["name"])), np.asarray(
            repaired.constant(v["name"]))
        if old.shape != new.shape or not np.array_equal(old, new):
            out[v["name"]] = (old, new)
    return out


def _transform_to(ir_value: np.ndarray, framework_value: np.ndarray
                  ) -> Callable[[np.ndarray], np.ndarray] | None:
    """The transposition or reshape that maps the IR's copy onto the framework's variable."""
    if ir_value.shape == framework_value.shape and np.array_equal(ir_value, framework_value):
        return lambda x: x
    if ir_value.size != framework_value.size:
        return None
    for perm in itertools.permutations(range(ir_value.ndim)):
        t = np.transpose(ir_value, perm)
        if t.shape == framework_value.shape and np.array_equal(t, framework_value):
            return lambda x, p=perm: np.transpose(x, p)
    if np.array_equal(ir_value.reshape(framework_value.shape), framework_value):
        return lambda x, s=framework_value.shape: x.reshape(s)
    return None


def _refuse_structure(dst: Path, changes: list[str]) -> None:
    if changes:
        shown = "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6
                                           else "")
        raise ConvmendError(
            f"the repair of {dst} changes the graph ({shown}), which cannot be written back "
            "into a framework file yet (only weight repairs can); nothing written")


def write_keras(dst: Path, original: Any, repaired: Any, out: Path, trust: bool) -> list[str]:
    """The Keras model of ``dst`` with the repaired weights, saved to ``out``; the variables
    assigned."""
    from convmend.frontends import keras as keras_frontend

    _refuse_structure(dst, structure_changes(original, repaired))
    changed = changed_constants(original, repaired)
    model = keras_frontend.load_model_object(dst, trust)
    done, missing = [], []
    for name, (old, new) in changed.items():
        layer_name, _, weight = name.rpartition("/")
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            missing.append(name)
            continue
        for var in layer.weights:
            value = np.asarray(var.numpy())
            transform = _transform_to(old, value)
            base = var.path.rsplit("/", 1)[-1] if hasattr(var, "path") else var.name
            if transform is not None and weight.startswith(base.split(":")[0]):
                var.assign(transform(new).astype(value.dtype))
                done.append(f"{layer_name}/{base}")
                break
        else:
            missing.append(name)
    if missing:
        raise ConvmendError(f"repaired weights with no Keras variable to hold them: "
                            f"{', '.join(missing[:6])}; nothing written")
    save_atomically(out, lambda tmp: model.save(tmp))
    return done


def write_torch(dst: Path, original: Any, repaired: Any, out: Path) -> list[str]:
    """``dst`` with the repaired weights: a ``.pt2`` program saved again with its state dict
    updated, or a state dict file (loaded ``weights_only``) saved with the new tensors."""
    import torch

    _refuse_structure(dst, structure_changes(original, repaired))
    changed = changed_constants(original, repaired)
    if dst.suffix == ".pt2":
        program = torch.export.load(str(dst))
        state = program.state_dict
    else:
        state = torch.load(str(dst), map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise ConvmendError(f"{dst} holds {type(state).__name__}, not a state dict; "
                                "nothing written")
        program = None
    done, missing = [], []
    for name, (old, new) in changed.items():
        tensor = state.get(name)
        if tensor is None or not hasattr(tensor, "detach"):
            missing.append(name)
            continue
        value = tensor.detach().cpu().numpy()
        transform = _transform_to(old, value)
        if transform is None:
            missing.append(name)
            continue
        with torch.no_grad():
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(transform(new))).to(tensor.dtype))
        done.append(name)
    if missing:
        raise ConvmendError(f"repaired weights with no PyTorch tensor to hold them: "
                            f"{', '.join(missing[:6])}; nothing written")
    if program is not None:
        save_atomically(out, lambda tmp: torch.export.save(program, tmp))
    else:
        save_atomically(out, lambda tmp: torch.save(state, tmp))
    return done


INPUT_PREFIX = "convmend_input/"


def _input_prefix(repaired: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The nodes repair inserted at the image input, in order, and the alias that reads the
    last one's output as the input it replaced."""
    nodes = [n for n in repaired.nodes() if n["name"].startswith(INPUT_PREFIX)]
    if not nodes:
        return [], {}
    return nodes, {nodes[-1]["outputs"][0]: repaired.inputs()[0]["name"]}


def _apply_prefix(tf: Any, x: Any, nodes: list[dict[str, Any]], repaired: Any) -> Any:
    """The inserted input ops in TensorFlow (the IR's semantics: numpy broadcasting)."""
    for node in nodes:
        operand = node["inputs"][1] if len(node["inputs"]) > 1 else None
        const = (np.asarray(repaired.constant(operand)) if operand is not None else None)
        if node["op"] == "Transpose":
            x = tf.transpose(x, [int(k) for k in node["attrs"]["perm"]])
        elif node["op"] == "Gather":
            x = tf.gather(x, const.astype(np.int64), axis=int(node["attrs"].get("axis", 0)))
        elif node["op"] == "Mul":
            x = x * tf.constant(const, dtype=x.dtype)
        elif node["op"] == "Add":
            x = x + tf.constant(const, dtype=x.dtype)
        else:
            raise ConvmendError(f"input op {node['op']} ({node['name']}) has no TensorFlow "
                                "counterpart in the SavedModel writer; nothing written")
    return x


def _graph_const(name: str, old: np.ndarray, nodes: dict[str, Any], tf: Any
                 ) -> tuple[Any, Callable[[np.ndarray], np.ndarray]] | None:
    """The GraphDef Const node the IR constant ``name`` was read from, with the transform
    from the IR's layout to it: the node of that name or of a parent name (the frontend
    suffixes constants it re-lays out), through Identity nodes (a frozen variable read),
    else the only Const whose value maps onto it."""
    from convmend.frontends.tf import const_behind

    parts = name.split("/")
    for k in range(len(parts), 0, -1):
        node = const_behind(nodes, "/".join(parts[:k]))
        if node is not None:
            transform = _transform_to(old, tf.make_ndarray(node.attr["value"].tensor))
            if transform is not None:
                return node, transform
    found = []
    for node in (n for n in nodes.values() if n.op == "Const"):
        shape = [d.size for d in node.attr["value"].tensor.tensor_shape.dim]
        if int(np.prod(shape)) != old.size:
            continue
        transform = _transform_to(old, tf.make_ndarray(node.attr["value"].tensor))
        if transform is not None:
            found.append((node, transform))
    return found[0] if len(found) == 1 else None


def write_saved_model(dst: Path, original: Any, repaired: Any, out: Path) -> list[str]:
    """``dst``'s serving signature, frozen, with the repaired constants and any inserted input
    prefix, saved as a new SavedModel folder at ``out`` (built beside it, then renamed); what
    was written."""
    import copy

    import tensorflow as tf

    from convmend.frontends import tf as tf_frontend

    prefix, alias = _input_prefix(repaired)
    changes = [c for c in structure_changes(original, repaired, alias)
               if not c.startswith(f"node {INPUT_PREFIX}")
               and not (prefix and c == "graph input changed")]
    _refuse_structure(dst, changes)
    signature = dict(repaired.metadata).get("tf.signature", "serving_default")
    frozen = tf_frontend.frozen_signature(dst, signature)
    graph_def = copy.deepcopy(frozen.graph_def)
    nodes = {n.name: n for n in graph_def.node}
    done, missing = [], []
    for name, (old, new) in changed_constants(original, repaired).items():
        hit = _graph_const(name, old, nodes, tf)
        if hit is None:
            missing.append(name)
            continue
        node, transform = hit
        dtype = tf.make_ndarray(node.attr["value"].tensor).dtype
        node.attr["value"].tensor.CopyFrom(
            tf.make_tensor_proto(np.ascontiguousarray(transform(new)).astype(dtype)))
        done.append(f"SavedModel constant {node.name}"
                    + ("" if node.name == name else f" (read as {name})"))
    if missing:
        raise ConvmendError(f"repaired weights with no constant of the frozen SavedModel to hold "
                            f"them: {', '.join(missing[:6])}; nothing written")

    def body() -> None:
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(body, [])
    get = wrapped.graph.get_tensor_by_name
    feeds = [get(f"{placeholder}:0") for _, placeholder in frozen.inputs]
    pruned = wrapped.prune(feeds=feeds, fetches={k: get(t) for k, t in frozen.outputs})
    image_input = repaired.inputs()[0]["name"] if prefix else None
    shapes = {v["name"]: v["shape"] for v in repaired.inputs()}
    specs = []
    for (key, placeholder), tensor in zip(frozen.inputs, feeds, strict=True):
        shape = shapes.get(placeholder)
        dims = ([None if d < 1 else int(d) for d in shape] if shape is not None
                else tensor.shape)
        specs.append(tf.TensorSpec(dims, tensor.dtype, name=key))

    def serve(*args: Any) -> Any:
        xs = [_apply_prefix(tf, x, prefix, repaired) if placeholder == image_input else x
              for x, (_, placeholder) in zip(args, frozen.inputs, strict=True)]
        return pruned(*xs)

    module = tf.Module()
    module.serve = tf.function(serve, input_signature=specs)
    module.pruned = pruned
    save_folder_atomically(out, lambda tmp: tf.saved_model.save(
        module, tmp, signatures={signature: module.serve.get_concrete_function()}))
    if prefix:
        done.insert(0, "the frozen serving graph with "
                    + ", ".join(n["op"] for n in prefix) + " at its input")
    return done or ["the frozen serving graph"]
