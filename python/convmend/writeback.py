"""Writing a repaired IR back into a framework's own file: Keras (``.keras``, ``.h5``) and
PyTorch (a ``torch.export`` program ``.pt2``, or a state dict ``.pth``/``.pt``).

The frontends keep every weight as a constant named after its framework variable (Keras:
``<layer>/<weight>``; PyTorch: the parameter's qualified name), possibly transposed or
reshaped into the IR's layout. A repair that only changed weights is written back by finding,
for each changed constant, the framework variable whose value the *original* constant is a
transposition or reshape of, and assigning the repaired values through the same transform.
A repair that changed the graph itself (attributes, ops, outputs, the input) has no such
mapping: it is refused with the list of what changed, and nothing is written.

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
from convmend.fileio import save_atomically

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
TORCH_SUFFIXES = (".pt2", ".pth", ".pt")


def structure_changes(original: Any, repaired: Any) -> list[str]:
    """What differs between the graphs besides constant values (empty: weights only)."""
    def key(n: dict[str, Any]) -> tuple:
        return (n["op"], tuple(n["inputs"]), tuple(n["outputs"]), repr(sorted(n["attrs"].items())))

    a = {n["name"]: key(n) for n in original.nodes()}
    b = {n["name"]: key(n) for n in repaired.nodes()}
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
