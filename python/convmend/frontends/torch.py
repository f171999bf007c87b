"""PyTorch frontend: a ``torch.export`` program into the IR.

``from_module`` exports an eval-mode ``nn.Module`` with ``torch.export.export``;
``from_program`` walks an ``ExportedProgram``'s ATen graph and builds the IR through
``convmend._core.Graph``; ``load`` opens a file (``.pt2`` programs, zoo state dicts with
their sidecar, and, only with ``trust=True``, TorchScript or pickled modules).

The program is converted as exported (``aten.conv2d``, ``aten.batch_norm``,
``aten.linear``...). When it holds ops this frontend does not know, the program's core-ATen
decomposition is tried next (``decompose``: ``run_decompositions()`` keeping the ops mapped
here). The core-ATen spellings (``aten.convolution``,
``aten._native_batch_norm_legit_no_training`` + ``getitem``, ``aten.addmm`` of a
``permute``d weight...) are mapped too, so a program decomposed elsewhere converts.

Provenance: ``source_format="torch"``, ``source_name`` = the innermost module path of the
node (``features.3.conv.1``), ``source_op`` = the ATen target (``aten.conv2d.default``),
``source_index`` = the node's position in the FX graph. The IR value of the last node of
each leaf module is named exactly the module path, so that ``run_traced([x], [path])``
gives the tensor a forward hook on that module sees (``runners.TorchRunner``).
Parameters, buffers and lifted constants become IR constants named by their FQN.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.frontends import UnsupportedLayers

SOURCE_FORMAT = "torch"

# --------------------------------------------------------------------------- entry points


def from_module(module: Any, example_inputs: Any, name: str | None = None) -> Any:
    """Export ``module`` (put in eval mode) on ``example_inputs`` and convert the program."""
    import torch

    module = module.eval()
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    try:
        with torch.no_grad():
            program = torch.export.export(module, example_inputs)
    except Exception as exc:  # torch raises many kinds of tracing errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConvmendError(f"torch.export.export failed on {type(module).__name__}: "
                            f"{first}") from exc
    return from_program(program, name=name or type(module).__name__)


def from_program(ep: Any, name: str | None = None) -> Any:
    """Convert an ``ExportedProgram``; raises ``UnsupportedLayers`` listing every ATen op
    (with the FX nodes using it) that has no IR mapping."""
    unsupported = _Converter(ep).unsupported()
    if unsupported:
        try:
            decomposed = decompose(ep)
        except Exception:  # noqa: BLE001 - a decomposition failure leaves the first list
            decomposed = None
        if decomposed is None or _Converter(decomposed).unsupported():
            raise UnsupportedLayers("torch", unsupported)
        ep = decomposed
    return _Converter(ep).build(name or "torch_model")


def decompose(ep: Any) -> Any:
    """``ep.run_decompositions()`` keeping the ops this frontend maps as they are (so a
    reflection pad stays one op instead of index arithmetic)."""
    import torch

    table = torch.export.default_decompositions()
    for op in list(table.keys()):
        if str(op) in _HANDLERS:
            table.pop(op)
    return ep.run_decompositions(table)


def load(path: Path, trust: bool = False) -> Any:
    """A PyTorch model file into the IR.

    ``.pt2``: a ``torch.export`` program (``torch.export.load``; no code is unpickled).
    ``.pth``/``.pt`` with a zoo sidecar (``<path>.json``): the architecture named in the
    sidecar with the state dict loaded ``weights_only=True``, exported at the zoo's input
    size. Other ``.pt``/``.pth`` files (TorchScript archives, pickled modules) run code when
    loaded and are refused unless ``trust=True``.
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise ConvmendError(f"model file not found: {path}")
    from convmend import loaded

    if path.suffix == ".pt2":
        try:
            program = loaded.torch_program(path)  # shared with the native runner
        except Exception as exc:  # zip/pickle/version errors alike
            raise ConvmendError(f"cannot load {path} as a torch.export program: {exc}") from exc
        return from_program(program, name=path.stem)
    if Path(str(path) + ".json").exists():
        from convmend.zoo.build import read_sidecar
        from convmend.zoo.tasks import input_size

        model_name = read_sidecar(path)["key"]["name"]
        module = loaded.torch_module(path)  # shared with the native runner
        size = input_size(model_name)
        return from_module(module, (torch.zeros(1, 3, size, size),), name=model_name)
    if not trust:
        _refuse_untrusted(path)
    return _load_trusted(path)


def _refuse_untrusted(path: Path) -> None:
    """Raise the reason ``path`` cannot be opened without trust (``weights_only`` probe)."""
    import torch

    try:
        content = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - TorchScript archive or a pickle with code
        kind = "a TorchScript archive" if "TorchScript" in str(exc) else "a pickled module"
        raise ConvmendError(
            f"{path} is {kind}: loading it runs code from the file; refused without "
            "trust=True (--trust), or give a .pt2 torch.export program") from None
    raise ConvmendError(
        f"{path} holds {type(content).__name__} (weights only) without a zoo sidecar naming "
        "its architecture; build the module and use frontends.torch.from_module")


def _load_trusted(path: Path) -> Any:
    import torch

    try:
        module = torch.jit.load(str(path), map_location="cpu")
    except Exception:  # noqa: BLE001 - not TorchScript: try a pickled module
        try:
            module = torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as exc:
            raise ConvmendError(f"cannot load {path} as TorchScript or a pickled module: "
                                f"{exc}") from exc
    if not isinstance(module, torch.nn.Module):
        raise ConvmendError(f"{path} holds {type(module).__name__}, not a module; a state "
                            "dict needs its architecture (use from_module)")
    example = (torch.zeros(*_guess_input_shape(module)),)
    if isinstance(module, torch.jit.ScriptModule):
        try:
            from torch._export.converter import TS2EPConverter

            program = TS2EPConverter(module, example).convert()
        except Exception as exc:  # the converter covers common TorchScript only
            raise ConvmendError(f"cannot convert TorchScript {path} to torch.export: "
                                f"{str(exc).strip().splitlines()[0]}") from exc
        return from_program(program, name=path.stem)
    return from_module(module, example, name=path.stem)


def _guess_input_shape(module: Any) -> tuple[int, ...]:
    """An image input for a loaded module: channels from its first conv, 224x224."""
    for _, m in module.named_modules():
        kind = getattr(m, "original_name", type(m).__name__)
        weight = getattr(m, "weight", None)
        if kind == "Conv2d" and weight is not None and weight.dim() == 4:
            return (1, int(weight.shape[1]) * int(getattr(m, "groups", 1)), 224, 224)
    raise ConvmendError("cannot tell the input shape of a loaded module without a Conv2d; "
                        "use from_module with example inputs")


# --------------------------------------------------------------------------- helpers

_NUMPY_OF_TORCH = {
    "torch.float32": "float32", "torch.float64": "float64", "torch.float16": "float16",
    "torch.int8": "int8", "torch.uint8": "uint8", "torch.int16": "int16",
    "torch.int32": "int32", "torch.int64": "int64", "torch.bool": "bool",
}
_IR_DTYPE = {"float32": "f32", "float64": "f64", "float16": "f16", "int8": "i8", "uint8": "u8",
             "int16": "i16", "int32": "i32", "int64": "i64", "bool": "bool"}


def _target_name(node: Any) -> str:
    target = node.target
    if target is operator.getitem:
        return "getitem"
    if isinstance(target, str):
        return target
    text = str(target)
    if text.startswith("<"):
        return getattr(target, "__name__", text)
    return text


def _module_path(node: Any) -> str:
    """The innermost module path in the node's ``nn_module_stack`` ("" at the top)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return re.sub(r"@\d+$", "", str(path))


def _all_paths(node: Any) -> list[str]:
    stack = node.meta.get("nn_module_stack") or {}
    return [re.sub(r"@\d+$", "", str(v[0])) for v in stack.values()]


def _val(arg: Any) -> Any:
    return arg.meta.get("val") if hasattr(arg, "meta") else None


def _shape(arg: Any) -> list[int | None]:
    v = _val(arg)
    if v is None or not hasattr(v, "shape"):
        raise ConvmendError(f"no recorded shape for {arg}")
    return [int(d) if _is_static(d) else None for d in v.shape]


def _is_static(d: Any) -> bool:
    return isinstance(d, int)  # a SymInt (dynamic dimension) is not


def _dtype(arg: Any) -> str:
    v = _val(arg)
    return _NUMPY_OF_TORCH.get(str(getattr(v, "dtype", "torch.float32")), "float32")


def _pair(v: Any, default: int) -> list[int]:
    if v is None:
        return [default, default]
    if isinstance(v, int):
        return [v, v]
    v = [int(x) for x in v]
    if not v:
        return [default, default]
    return v * 2 if len(v) == 1 else v


def _arg(node: Any, index: int, name: str, default: Any = None) -> Any:
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


class _Transposed:
    """A 2-D constant's transpose (``aten.t``/``permute`` of a weight) folded into Gemm."""

    def __init__(self, node: Any) -> None:
        self.node = node


class _Skip:
    """An FX node with no IR counterpart (assertions, symbolic sizes)."""


# --------------------------------------------------------------------------- converter

# Ops whose tuple result keeps only output 0 in the IR (reached through getitem[0]).
_FIRST_OUTPUT_ONLY = {
    "aten._native_batch_norm_legit_no_training.default",
    "aten.native_batch_norm.default",
    "aten._native_batch_norm_legit.no_stats",
    "aten.max_pool2d_with_indices.default",
    "aten.adaptive_max_pool2d.default",
    "aten.native_dropout.default",
}
_SPLIT_OPS = {"aten.split.Tensor", "aten.split_with_sizes.default", "aten.chunk.default",
              "aten.unbind.int"}
_SKIPPED = {
    "aten._assert_tensor_metadata.default", "aten._assert_scalar.default",
    "aten._assert_async.msg", "aten.sym_constrain_range_for_size.default",
    "aten.sym_constrain_range.default", "aten.sym_size.int", "aten.sym_numel.default",
}
_TRANSPOSE_2D = {"aten.t.default", "aten.permute.default", "aten.transpose.int",
                 "aten.numpy_T.default"}


class _Converter:
    def __init__(self, ep: Any) -> None:
        import torch

        self.torch = torch
        self.ep = ep
        self.graph = ep.graph
        self.sig = ep.graph_signature
        self.calls = [n for n in self.graph.nodes if n.op == "call_function"]
        self.index = {n: i for i, n in enumerate(self.graph.nodes)}
        # placeholder name -> (kind, fqn)
        self.lifted: dict[str, tuple[str, str]] = {}
        for spec in self.sig.input_specs:
            kind = spec.kind.name
            arg_name = getattr(spec.arg, "name", None)
            if arg_name is not None and kind != "USER_INPUT":
                self.lifted[arg_name] = (kind, spec.target)

    # ---------------------------------------------------------------- validation

    def unsupported(self) -> dict[str, list[str]]:
        """Every op (with reason) the IR cannot express, with the FX nodes using it."""
        found: dict[str, list[str]] = {}
        for node in self.calls:
            name = _target_name(node)
            handler = _HANDLERS.get(name)
            reason = None
            if handler is None and name not in _SKIPPED and name != "getitem":
                reason = name
            elif name == "getitem":
                reason = self._check_getitem(node)
            elif handler is not None:
                check = _CHECKS.get(name)
                why = check(self, node) if check is not None else None
                if why:
                    reason = f"{name} ({why})"
            if reason is not None:
                found.setdefault(reason, []).append(node.name)
        for node in self.graph.nodes:
            if node.op in ("call_module", "call_method"):
                found.setdefault(f"{node.op} {node.target}", []).append(node.name)
            if node.op == "placeholder" and node.name not in self.lifted:
                v = _val(node)
                if v is not None and not isinstance(v, self.torch.Tensor):
                    found.setdefault("non-tensor input", []).append(node.name)
        return found

    def _check_getitem(self, node: Any) -> str | None:
        src, index = node.args
        if not hasattr(src, "op"):
            return "getitem of a non-node"
        src_name = _target_name(src)
        if src_name in _FIRST_OUTPUT_ONLY and index != 0 and node.users:
            return f"{src_name} output {index}"
        if src_name not in _FIRST_OUTPUT_ONLY and src_name not in _SPLIT_OPS:
            return f"getitem of {src_name}"
        return None

    # ---------------------------------------------------------------- planning

    def _plan(self) -> None:
        """Pick the IR node that names each leaf module's output, and name all values."""
        paths: set[str] = set()
        for node in self.graph.nodes:
            paths.update(p for p in _all_paths(node) if p)
        for entry in getattr(self.ep, "module_call_graph", []) or []:
            if entry.fqn:
                paths.add(entry.fqn)
        parents = {p.rsplit(".", 1)[0] for p in paths if "." in p}
        parents |= {q for p in paths for q in paths if q != p and p.startswith(q + ".")}
        self.leaves = {p for p in paths if p not in parents}
        self.folded: set[Any] = set()
        for node in self.calls:  # transposes of 2-D constants consumed only as Gemm's B
            if _target_name(node) in _TRANSPOSE_2D and self._is_constant_2d_transpose(node):
                users = list(node.users)
                if users and all(self._gemm_b(u) is node for u in users):
                    self.folded.add(node)
        last: dict[str, Any] = {}
        for node in self.calls:
            name = _target_name(node)
            if name in _SKIPPED or node in self.folded:
                continue
            rep = node
            if name == "getitem" and _target_name(node.args[0]) in _FIRST_OUTPUT_ONLY:
                if node.args[1] != 0:
                    continue
                rep = node.args[0]
            path = _module_path(node)
            if path in self.leaves:
                last[path] = rep
        self.final_name = {node: path for path, node in last.items()}
        self.reserved = set(self.final_name.values()) | {fqn for _, fqn in self.lifted.values()}
        self.used: set[str] = set()

    def _is_constant_2d_transpose(self, node: Any) -> bool:
        src = node.args[0]
        if not (hasattr(src, "op") and src.op == "placeholder" and src.name in self.lifted):
            return False
        if len(_shape(src)) != 2:
            return False
        name = _target_name(node)
        if name == "aten.permute.default":
            return list(node.args[1]) == [1, 0]
        return True

    def _gemm_b(self, user: Any) -> Any:
        name = _target_name(user)
        if name == "aten.addmm.default" and len(user.args) > 2:
            return user.args[2]
        if name == "aten.mm.default":
            return user.args[1]
        return None

    def unique(self, base: str) -> str:
        name = base
        i = 0
        while name in self.used or name in self.reserved:
            i += 1
            name = f"{base}:{i}"
        self.used.add(name)
        return name

    # ---------------------------------------------------------------- building

    def build(self, name: str) -> Any:
        from convmend import _core

        unsupported = self.unsupported()
        if unsupported:
            raise UnsupportedLayers("torch", unsupported)
        self._plan()
        self.g = _core.Graph(name)
        self.g.set_metadata("torch.version", str(self.torch.__version__))
        self.env: dict[Any, Any] = {}
        self.constants: dict[str, str] = {}  # placeholder name -> IR constant name
        user_inputs = [n for n in self.graph.nodes
                       if n.op == "placeholder" and n.name not in self.lifted]
        for node in user_inputs:
            ir_name = "input" if len(user_inputs) == 1 else node.name
            ir_name = self.unique(ir_name)
            shape = [-1 if d is None else d for d in _shape(node)]
            self.g.add_input(ir_name, _dtype(node), shape, "NCHW" if len(shape) == 4 else "")
            self.env[node] = ir_name
        for node in self.calls:
            self.node = node
            name = _target_name(node)
            if name in _SKIPPED:
                self.env[node] = _Skip()
                continue
            if node in self.folded:
                self.env[node] = _Transposed(node.args[0])
                continue
            if name == "getitem":
                self._getitem(node)
                continue
            self.emitted = 0
            try:
                result = _HANDLERS[name](self, node)
            except ConvmendError as exc:
                raise ConvmendError(f"torch node {node.name} ({name}): {exc}") from exc
            self.env[node] = result
            if name.split(".")[1].endswith("_") and node.args and hasattr(node.args[0], "op"):
                self.env[node.args[0]] = result  # in place: later readers see the new value
        outputs = [n for n in self.graph.nodes if n.op == "output"][0].args[0]
        kinds = [spec.kind.name for spec in self.sig.output_specs]
        for i, out in enumerate(outputs):
            if i < len(kinds) and kinds[i] != "USER_OUTPUT":
                continue
            self.g.add_output(self.value(out))
        self.g.verify()
        self.g.infer_shapes()
        return self.g

    def _getitem(self, node: Any) -> None:
        src, index = node.args
        value = self.env[src]
        if isinstance(value, list):
            self.env[node] = value[index]
        else:  # ops whose IR node keeps output 0 only; other outputs are unused
            self.env[node] = value if index == 0 else _Skip()

    # values --------------------------------------------------------------

    def value(self, arg: Any, layout: str = "") -> str:
        """The IR value name of an FX node argument (adding lifted constants on first use)."""
        if not hasattr(arg, "op"):
            raise ConvmendError(f"expected a tensor, got {arg!r}")
        if arg.op == "placeholder" and arg.name in self.lifted:
            if arg.name not in self.constants:
                self.constants[arg.name] = self._add_lifted(arg, layout)
            return self.constants[arg.name]
        if arg.op == "get_attr":
            if arg not in self.env:
                self.env[arg] = self._add_constant(arg.target, self._attr(arg.target), layout)
            return self.env[arg]
        ref = self.env.get(arg)
        if isinstance(ref, _Transposed):
            out = self.unique(arg.name)
            self._add("Transpose", [self.value(ref.node)], {"perm": [1, 0]}, out, node=arg)
            self.env[arg] = out
            return out
        if not isinstance(ref, str):
            raise ConvmendError(f"{arg.name} has no tensor value in the IR")
        return ref

    def _attr(self, target: str) -> Any:
        obj = self.ep.graph_module
        for part in target.split("."):
            obj = getattr(obj, part)
        return obj

    def _add_lifted(self, arg: Any, layout: str) -> str:
        kind, fqn = self.lifted[arg.name]
        if fqn in self.ep.state_dict:
            tensor = self.ep.state_dict[fqn]
        elif fqn in self.ep.constants:
            tensor = self.ep.constants[fqn]
        else:
            raise ConvmendError(f"{kind.lower()} {fqn} not found in the program")
        return self._add_constant(fqn, tensor, layout)

    def _add_constant(self, fqn: str, tensor: Any, layout: str = "") -> str:
        if not isinstance(tensor, self.torch.Tensor):
            raise ConvmendError(f"{fqn} is not a tensor ({type(tensor).__name__})")
        array = tensor.detach().cpu().contiguous().numpy()
        name = fqn if fqn not in self.used else self.unique(fqn)
        self.used.add(name)
        self.g.add_constant(name, np.ascontiguousarray(array), layout)
        return name

    def const(self, array: Any, hint: str) -> str:
        """A new literal constant (scalars of binary ops, shapes, axes, clip bounds)."""
        name = self.unique(f"{hint}")
        self.g.add_constant(name, np.ascontiguousarray(array), "")
        return name

    def scalar(self, v: Any, dtype: str, hint: str) -> str:
        return self.const(np.array(v, dtype=dtype), hint)

    def int64s(self, values: Sequence[int], hint: str) -> str:
        return self.const(np.array(list(values), dtype=np.int64), hint)

    # nodes ----------------------------------------------------------------

    def out_name(self, node: Any) -> str:
        final = self.final_name.get(node)
        if final is not None and final not in self.used:
            self.used.add(final)
            return final
        return self.unique(node.name)

    def _add(self, op: str, inputs: list[str], attrs: dict[str, Any], out: str | list[str],
             node: Any = None) -> None:
        node = node if node is not None else self.node
        outs = out if isinstance(out, list) else [out]
        path = _module_path(node)
        self.g.add_node(op, outs[0], inputs, outs, attrs, source_format=SOURCE_FORMAT,
                        source_name=path or node.name, source_op=_target_name(node),
                        source_index=self.index[node])

    def emit(self, op: str, inputs: list[str], attrs: dict[str, Any] | None = None) -> str:
        """The node's (last) IR node: its output gets the node's planned name."""
        out = self.out_name(self.node)
        self._add(op, inputs, attrs or {}, out)
        return out

    def step(self, op: str, inputs: list[str], attrs: dict[str, Any] | None = None,
             suffix: str = "") -> str:
        """An intermediate IR node of a multi-node expansion."""
        out = self.unique(f"{self.node.name}.{suffix or op.lower()}")
        self._add(op, inputs, attrs or {}, out)
        return out

    def tensor_or_scalar(self, arg: Any, like: Any, hint: str) -> str:
        if hasattr(arg, "op"):
            return self.value(arg)
        return self.scalar(arg, _dtype(like), hint)

    def cast_to(self, name: str, arg: Any, dtype: str) -> str:
        if not hasattr(arg, "op") or _dtype(arg) == dtype:
            return name
        return self.step("Cast", [name], {"to": _IR_DTYPE[dtype]}, suffix="cast")


# --------------------------------------------------------------------------- handlers

_HANDLERS: dict[str, Callable[[_Converter, Any], Any]] = {}
_CHECKS: dict[str, Callable[[_Converter, Any], str | None]] = {}


def _handles(*names: str, check: Callable[[_Converter, Any], str | None] | None = None):
    def register(fn):
        for name in names:
            _HANDLERS[name] = fn
            if check is not None:
                _CHECKS[name] = check
        return fn
    return register


def _rank4(c: _Converter, node: Any) -> str | None:
    v = _val(node.args[0])
    if v is None or len(v.shape) != 4:
        return f"input rank {None if v is None else len(v.shape)}, only 2-D spatial ops"
    return None


def _check_conv(c: _Converter, node: Any) -> str | None:
    if _target_name(node) == "aten.convolution.default" and node.args[6]:
        return "transposed convolution"
    return _rank4(c, node)


def _conv_padding(node: Any, x_shape: list[int | None], w_shape: list[int | None],
                  stride: list[int], dilation: list[int], padding: Any) -> list[int]:
    if isinstance(padding, str):
        if padding == "valid":
            return [0, 0, 0, 0]
        totals = [d * (k - 1) for d, k in zip(dilation, w_shape[2:], strict=True)]
        return [totals[0] // 2, totals[1] // 2, totals[0] - totals[0] // 2,
                totals[1] - totals[1] // 2]
    ph, pw = _pair(padding, 0)
    return [ph, pw, ph, pw]


@_handles("aten.conv2d.default", "aten.conv2d.padding", "aten.convolution.default",
          "aten._convolution.default", check=_check_conv)
def _conv(c: _Converter, node: Any) -> str:
    name = _target_name(node)
    x, w = node.args[0], node.args[1]
    b = _arg(node, 2, "bias")
    if name in ("aten.convolution.default", "aten._convolution.default"):
        stride, padding, dilation, groups = node.args[3], node.args[4], node.args[5], node.args[8]
    else:
        stride = _arg(node, 3, "stride", 1)
        padding = _arg(node, 4, "padding", 0)
        dilation = _arg(node, 5, "dilation", 1)
        groups = _arg(node, 6, "groups", 1)
    stride, dilation = _pair(stride, 1), _pair(dilation, 1)
    pads = _conv_padding(node, _shape(x), _shape(w), stride, dilation, padding)
    inputs = [c.value(x), c.value(w, "OIHW"), c.value(b) if b is not None else ""]
    return c.emit("Conv", inputs, {"strides": stride, "dilations": dilation, "pads": pads,
                                   "group": int(groups)})


def _check_bn(c: _Converter, node: Any) -> str | None:
    name = _target_name(node)
    if name in ("aten.batch_norm.default", "aten.native_batch_norm.default") and node.args[5]:
        return "training mode"
    if name == "aten._native_batch_norm_legit.no_stats":
        return "no running statistics"
    v = _val(node.args[0])
    if v is None or len(v.shape) < 2:
        return "input rank < 2"
    return None


@_handles("aten.batch_norm.default", "aten._native_batch_norm_legit_no_training.default",
          "aten.native_batch_norm.default", "aten._native_batch_norm_legit.no_stats",
          check=_check_bn)
def _batch_norm(c: _Converter, node: Any) -> str:
    name = _target_name(node)
    x, w, b, mean, var = node.args[:5]
    eps = node.args[6] if name == "aten._native_batch_norm_legit_no_training.default" \
        else node.args[7]
    channels = _shape(x)[1]
    dtype = _dtype(x)
    scale = c.value(w) if w is not None else c.const(np.ones(channels, dtype), f"{node.name}.w")
    bias = c.value(b) if b is not None else c.const(np.zeros(channels, dtype), f"{node.name}.b")
    return c.emit("BatchNormalization", [c.value(x), scale, bias, c.value(mean), c.value(var)],
                  {"epsilon": float(eps)})


def _unary(op: str, **attrs: Any):
    def handler(c: _Converter, node: Any) -> str:
        return c.emit(op, [c.value(node.args[0])], dict(attrs))
    return handler


for _names, _op, _attrs in [
    (("relu", "relu_"), "Relu", {}),
    (("sigmoid", "sigmoid_"), "Sigmoid", {}),
    (("tanh", "tanh_"), "Tanh", {}),
    (("hardswish", "hardswish_"), "HardSwish", {}),
    (("hardsigmoid", "hardsigmoid_"), "HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
    (("exp",), "Exp", {}),
    (("log",), "Log", {}),
    (("sqrt",), "Sqrt", {}),
    (("neg",), "Neg", {}),
    (("abs",), "Abs", {}),
    (("erf",), "Erf", {}),
    (("reciprocal",), "Reciprocal", {}),
    (("floor",), "Floor", {}),
    (("ceil",), "Ceil", {}),
    (("clone", "contiguous", "alias", "detach", "lift_fresh_copy"), "Identity", {}),
]:
    for _n in _names:
        _handles(f"aten.{_n}.default")(_unary(_op, **_attrs))


def _check_dropout(c: _Converter, node: Any) -> str | None:
    train = _arg(node, 2, "train", False)
    return "training mode" if train else None


@_handles("aten.dropout.default", "aten.dropout_.default", "aten.feature_dropout.default",
          "aten.alpha_dropout.default", "aten.feature_alpha_dropout.default",
          "aten.native_dropout.default", check=_check_dropout)
def _dropout(c: _Converter, node: Any) -> str:
    return c.emit("Identity", [c.value(node.args[0])])


def _check_to(c: _Converter, node: Any) -> str | None:
    v = _val(node)
    if v is None or str(v.dtype) not in _NUMPY_OF_TORCH:
        return "unknown dtype"
    return None


@_handles("aten._to_copy.default", "aten.to.dtype", "aten.to.dtype_layout",
          "aten.type_as.default", check=_check_to)
def _to(c: _Converter, node: Any) -> str:
    x = node.args[0]
    target = _dtype(node)
    if _dtype(x) == target:
        return c.emit("Identity", [c.value(x)])
    return c.emit("Cast", [c.value(x)], {"to": _IR_DTYPE[target]})


@_handles("aten.silu.default", "aten.silu_.default")
def _silu(c: _Converter, node: Any) -> str:
    x = c.value(node.args[0])
    s = c.step("Sigmoid", [x])
    return c.emit("Mul", [x, s])


def _check_gelu(c: _Converter, node: Any) -> str | None:
    approximate = _arg(node, 1, "approximate", "none")
    return None if approximate in ("none", "tanh") else f"approximate={approximate}"


@_handles("aten.gelu.default", "aten.gelu_.default", check=_check_gelu)
def _gelu(c: _Converter, node: Any) -> str:
    return c.emit("Gelu", [c.value(node.args[0])],
                  {"approximate": _arg(node, 1, "approximate", "none")})


@_handles("aten.leaky_relu.default", "aten.leaky_relu_.default")
def _leaky_relu(c: _Converter, node: Any) -> str:
    return c.emit("LeakyRelu", [c.value(node.args[0])],
                  {"alpha": float(_arg(node, 1, "negative_slope", 0.01))})


# clip family ---------------------------------------------------------------


def _clip(c: _Converter, node: Any, low: Any, high: Any) -> str:
    x = node.args[0]
    dtype = _dtype(x)
    bounds = []
    for value, label in ((low, "min"), (high, "max")):
        if value is None:
            bounds.append("")
        elif hasattr(value, "op"):
            bounds.append(c.value(value))
        else:
            bounds.append(c.scalar(value, dtype, f"{node.name}.{label}"))
    while bounds and bounds[-1] == "":
        bounds.pop()
    return c.emit("Clip", [c.value(x), *bounds])


@_handles("aten.hardtanh.default", "aten.hardtanh_.default")
def _hardtanh(c: _Converter, node: Any) -> str:
    return _clip(c, node, _arg(node, 1, "min_val", -1.0), _arg(node, 2, "max_val", 1.0))


@_handles("aten.relu6.default", "aten.relu6_.default")
def _relu6(c: _Converter, node: Any) -> str:
    return _clip(c, node, 0.0, 6.0)


@_handles("aten.clamp.default", "aten.clamp_.default", "aten.clamp.Tensor")
def _clamp(c: _Converter, node: Any) -> str:
    return _clip(c, node, _arg(node, 1, "min"), _arg(node, 2, "max"))


@_handles("aten.clamp_min.default", "aten.clamp_min_.default")
def _clamp_min(c: _Converter, node: Any) -> str:
    return _clip(c, node, node.args[1], None)


@_handles("aten.clamp_max.default", "aten.clamp_max_.default")
def _clamp_max(c: _Converter, node: Any) -> str:
    return _clip(c, node, None, node.args[1])


# elementwise binary --------------------------------------------------------


def _binary_operands(c: _Converter, node: Any) -> tuple[str, str]:
    a, b = node.args[0], node.args[1]
    out_dtype = _dtype(node)
    names = []
    for arg, label in ((a, "a"), (b, "b")):
        if hasattr(arg, "op"):
            names.append(c.cast_to(c.value(arg), arg, out_dtype))
        else:
            names.append(c.scalar(arg, out_dtype, f"{node.name}.{label}"))
    return names[0], names[1]


def _check_binary(c: _Converter, node: Any) -> str | None:
    if not any(hasattr(a, "op") for a in node.args[:2]):
        return "no tensor operand"
    mode = node.kwargs.get("rounding_mode", node.args[2] if len(node.args) > 2 and
                           _target_name(node).startswith("aten.div") else None)
    if mode is not None:
        return f"rounding_mode={mode}"
    if _dtype(node) not in _IR_DTYPE:
        return "dtype"
    return None


def _binary(op: str):
    def handler(c: _Converter, node: Any) -> str:
        a, b = _binary_operands(c, node)
        alpha = node.kwargs.get("alpha", 1)
        if op in ("Add", "Sub") and alpha != 1:
            b = c.step("Mul", [b, c.scalar(alpha, _dtype(node), f"{node.name}.alpha")],
                       suffix="alpha")
        return c.emit(op, [a, b])
    return handler


for _op, _base in (("Add", "add"), ("Sub", "sub"), ("Mul", "mul"), ("Div", "div")):
    for _overload in ("Tensor", "Scalar"):
        for _suffix in ("", "_"):
            _handles(f"aten.{_base}{_suffix}.{_overload}", check=_check_binary)(_binary(_op))
_handles("aten.div.Tensor_mode", "aten.div_.Tensor_mode", check=_check_binary)(_binary("Div"))
_handles("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", check=_check_binary)(_binary("Pow"))
_handles("aten.maximum.default", check=_check_binary)(_binary("Max"))
_handles("aten.minimum.default", check=_check_binary)(_binary("Min"))


@_handles("aten.rsub.Scalar", "aten.rsub.Tensor", check=_check_binary)
def _rsub(c: _Converter, node: Any) -> str:
    a, b = _binary_operands(c, node)  # rsub(x, other) = other - alpha * x
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        a = c.step("Mul", [a, c.scalar(alpha, _dtype(node), f"{node.name}.alpha")],
                   suffix="alpha")
    return c.emit("Sub", [b, a])


# reductions and pools ------------------------------------------------------


def _axes(dims: Any, rank: int) -> list[int]:
    if dims is None:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    dims = [int(d) % rank for d in dims]
    return dims or list(range(rank))


def _reduce(op: str):
    def handler(c: _Converter, node: Any) -> str:
        x = node.args[0]
        rank = len(_shape(x))
        dims = _arg(node, 1, "dim", None)
        keepdim = bool(_arg(node, 2, "keepdim", False))
        axes = c.int64s(_axes(dims, rank), f"{node.name}.axes")
        return c.emit(op, [c.value(x), axes], {"keepdims": int(keepdim)})
    return handler


def _check_reduce_dtype(c: _Converter, node: Any) -> str | None:
    dtype = node.kwargs.get("dtype")
    if dtype is not None and _NUMPY_OF_TORCH.get(str(dtype)) != _dtype(node.args[0]):
        return "dtype conversion"
    return None


_handles("aten.mean.dim", "aten.mean.default", check=_check_reduce_dtype)(_reduce("ReduceMean"))
_handles("aten.sum.dim_IntList", "aten.sum.default", check=_check_reduce_dtype)(
    _reduce("ReduceSum"))
_handles("aten.amax.default")(_reduce("ReduceMax"))
_handles("aten.amin.default")(_reduce("ReduceMin"))


def _check_adaptive(c: _Converter, node: Any) -> str | None:
    why = _rank4(c, node)
    if why:
        return why
    h, w = _shape(node.args[0])[2:]
    oh, ow = _pair(node.args[1], 1)
    if (oh, ow) == (1, 1):
        return None
    if h is None or w is None or h % oh or w % ow:
        return f"output {oh}x{ow} from {h}x{w}"
    return None


@_handles("aten.adaptive_avg_pool2d.default", "aten._adaptive_avg_pool2d.default",
          check=_check_adaptive)
def _adaptive_avg_pool(c: _Converter, node: Any) -> str:
    x = node.args[0]
    oh, ow = _pair(node.args[1], 1)
    if (oh, ow) == (1, 1):
        return c.emit("GlobalAveragePool", [c.value(x)])
    h, w = _shape(x)[2:]
    kernel = [h // oh, w // ow]
    return c.emit("AveragePool", [c.value(x)], {"kernel_shape": kernel, "strides": kernel})


@_handles("aten.adaptive_max_pool2d.default", check=_check_adaptive)
def _adaptive_max_pool(c: _Converter, node: Any) -> str:
    x = node.args[0]
    oh, ow = _pair(node.args[1], 1)
    if (oh, ow) == (1, 1):
        return c.emit("GlobalMaxPool", [c.value(x)])
    h, w = _shape(x)[2:]
    kernel = [h // oh, w // ow]
    return c.emit("MaxPool", [c.value(x)], {"kernel_shape": kernel, "strides": kernel})


def _check_avg_pool(c: _Converter, node: Any) -> str | None:
    if _arg(node, 6, "divisor_override") is not None:
        return "divisor_override"
    return _rank4(c, node)


@_handles("aten.avg_pool2d.default", check=_check_avg_pool)
def _avg_pool(c: _Converter, node: Any) -> str:
    kernel = _pair(node.args[1], 1)
    stride = _pair(_arg(node, 2, "stride", None), 0)
    stride = kernel if stride == [0, 0] else stride
    ph, pw = _pair(_arg(node, 3, "padding", 0), 0)
    return c.emit("AveragePool", [c.value(node.args[0])], {
        "kernel_shape": kernel, "strides": stride, "pads": [ph, pw, ph, pw],
        "ceil_mode": int(bool(_arg(node, 4, "ceil_mode", False))),
        "count_include_pad": int(bool(_arg(node, 5, "count_include_pad", True)))})


@_handles("aten.max_pool2d.default", "aten.max_pool2d_with_indices.default", check=_rank4)
def _max_pool(c: _Converter, node: Any) -> str:
    kernel = _pair(node.args[1], 1)
    stride = _pair(_arg(node, 2, "stride", None), 0)
    stride = kernel if stride == [0, 0] else stride
    ph, pw = _pair(_arg(node, 3, "padding", 0), 0)
    return c.emit("MaxPool", [c.value(node.args[0])], {
        "kernel_shape": kernel, "strides": stride, "pads": [ph, pw, ph, pw],
        "dilations": _pair(_arg(node, 4, "dilation", 1), 1),
        "ceil_mode": int(bool(_arg(node, 5, "ceil_mode", False)))})


# linear algebra ------------------------------------------------------------


@_handles("aten.linear.default")
def _linear(c: _Converter, node: Any) -> str:
    x, w = node.args[0], node.args[1]
    b = _arg(node, 2, "bias")
    bias = c.value(b) if b is not None else ""
    if len(_shape(x)) == 2:
        return c.emit("Gemm", [c.value(x), c.value(w), bias], {"transB": 1})
    wt = c.step("Transpose", [c.value(w)], {"perm": [1, 0]})
    if not bias:
        return c.emit("MatMul", [c.value(x), wt])
    y = c.step("MatMul", [c.value(x), wt])
    return c.emit("Add", [y, bias])


def _gemm_b(c: _Converter, arg: Any) -> tuple[str, int]:
    ref = c.env.get(arg)
    if isinstance(ref, _Transposed):
        return c.value(ref.node), 1
    return c.value(arg), 0


def _check_2d(c: _Converter, node: Any) -> str | None:
    args = node.args[1:3] if _target_name(node) == "aten.addmm.default" else node.args[:2]
    if any(len(_shape(a)) != 2 for a in args):
        return "operands not 2-D"
    return None


@_handles("aten.addmm.default", check=_check_2d)
def _addmm(c: _Converter, node: Any) -> str:
    bias, a, b = node.args[:3]
    b_name, trans_b = _gemm_b(c, b)
    return c.emit("Gemm", [c.value(a), b_name, c.value(bias)], {
        "transB": trans_b, "beta": float(node.kwargs.get("beta", 1.0)),
        "alpha": float(node.kwargs.get("alpha", 1.0))})


@_handles("aten.mm.default", check=_check_2d)
def _mm(c: _Converter, node: Any) -> str:
    b_name, trans_b = _gemm_b(c, node.args[1])
    if trans_b:
        return c.emit("Gemm", [c.value(node.args[0]), b_name, ""], {"transB": 1})
    return c.emit("MatMul", [c.value(node.args[0]), b_name])


@_handles("aten.matmul.default", "aten.bmm.default")
def _matmul(c: _Converter, node: Any) -> str:
    return c.emit("MatMul", [c.value(node.args[0]), c.value(node.args[1])])


@_handles("aten.t.default", "aten.numpy_T.default")
def _t(c: _Converter, node: Any) -> str:
    rank = len(_shape(node.args[0]))
    return c.emit("Transpose", [c.value(node.args[0])], {"perm": list(range(rank))[::-1]})


@_handles("aten.permute.default")
def _permute(c: _Converter, node: Any) -> str:
    rank = len(_shape(node.args[0]))
    return c.emit("Transpose", [c.value(node.args[0])],
                  {"perm": [int(d) % rank for d in node.args[1]]})


@_handles("aten.transpose.int")
def _transpose(c: _Converter, node: Any) -> str:
    rank = len(_shape(node.args[0]))
    perm = list(range(rank))
    d0, d1 = int(node.args[1]) % rank, int(node.args[2]) % rank
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return c.emit("Transpose", [c.value(node.args[0])], {"perm": perm})


# shapes --------------------------------------------------------------------


def _static_or_minus_one(c: _Converter, node: Any, dims: Sequence[Any]) -> list[int]:
    out = _shape(node)
    result = []
    for i, d in enumerate(dims):
        if isinstance(d, int):
            result.append(d)
        elif i < len(out) and out[i] is not None:
            result.append(out[i])
        else:
            result.append(-1)
    if result.count(-1) > 1:
        raise ConvmendError(f"shape {list(dims)} has more than one dynamic dimension")
    return result


def _check_reshape(c: _Converter, node: Any) -> str | None:
    dims = node.args[1]
    unknown = sum(1 for i, d in enumerate(dims)
                  if not isinstance(d, int) and _shape(node)[i] is None)
    unknown += sum(1 for d in dims if isinstance(d, int) and d == -1)
    return "more than one dynamic dimension" if unknown > 1 else None


@_handles("aten.view.default", "aten._unsafe_view.default", "aten.reshape.default",
          check=_check_reshape)
def _reshape(c: _Converter, node: Any) -> str:
    shape = _static_or_minus_one(c, node, node.args[1])
    return c.emit("Reshape", [c.value(node.args[0]), c.int64s(shape, f"{node.name}.shape")])


@_handles("aten.flatten.using_ints")
def _flatten(c: _Converter, node: Any) -> str:
    x = node.args[0]
    rank = len(_shape(x))
    start = int(_arg(node, 1, "start_dim", 0)) % max(rank, 1)
    end = int(_arg(node, 2, "end_dim", -1)) % max(rank, 1)
    if rank > 1 and start == 1 and end == rank - 1:
        return c.emit("Flatten", [c.value(x)], {"axis": 1})
    out = _shape(node)
    if out.count(None) > 1:
        raise ConvmendError("flatten with more than one dynamic dimension")
    shape = [-1 if d is None else d for d in out]
    return c.emit("Reshape", [c.value(x), c.int64s(shape, f"{node.name}.shape")])


@_handles("aten.unsqueeze.default", "aten.unsqueeze_.default")
def _unsqueeze(c: _Converter, node: Any) -> str:
    rank = len(_shape(node))
    axis = int(node.args[1]) % rank
    return c.emit("Unsqueeze", [c.value(node.args[0]), c.int64s([axis], f"{node.name}.axes")])


@_handles("aten.squeeze.dim", "aten.squeeze.dims", "aten.squeeze.default")
def _squeeze(c: _Converter, node: Any) -> str:
    x = node.args[0]
    shape = _shape(x)
    rank = len(shape)
    dims = node.args[1] if len(node.args) > 1 else [i for i, d in enumerate(shape) if d == 1]
    dims = [dims] if isinstance(dims, int) else list(dims)
    dims = [int(d) % rank for d in dims if shape[int(d) % rank] == 1]  # torch skips non-1 dims
    if not dims:
        return c.emit("Identity", [c.value(x)])
    return c.emit("Squeeze", [c.value(x), c.int64s(dims, f"{node.name}.axes")])


@_handles("aten.expand.default")
def _expand(c: _Converter, node: Any) -> str:
    shape = _shape(node)
    if None in shape:
        raise ConvmendError("expand to a dynamic shape")
    return c.emit("Expand", [c.value(node.args[0]), c.int64s(shape, f"{node.name}.shape")])


@_handles("aten.slice.Tensor")
def _slice(c: _Converter, node: Any) -> str:
    x = node.args[0]
    rank = len(_shape(x))
    dim = int(_arg(node, 1, "dim", 0)) % rank
    start = _arg(node, 2, "start", None)
    end = _arg(node, 3, "end", None)
    step = int(_arg(node, 4, "step", 1))
    start = 0 if start is None else int(start)
    end = np.iinfo(np.int64).max if end is None else int(end)
    inputs = [c.value(x), c.int64s([start], f"{node.name}.starts"),
              c.int64s([end], f"{node.name}.ends"), c.int64s([dim], f"{node.name}.axes"),
              c.int64s([step], f"{node.name}.steps")]
    return c.emit("Slice", inputs)


@_handles("aten.select.int")
def _select(c: _Converter, node: Any) -> str:
    x = node.args[0]
    rank = len(_shape(x))
    dim = int(node.args[1]) % rank
    index = c.const(np.array(int(node.args[2]), dtype=np.int64), f"{node.name}.index")
    return c.emit("Gather", [c.value(x), index], {"axis": dim})


@_handles("aten.cat.default", "aten.concat.default")
def _cat(c: _Converter, node: Any) -> str:
    tensors = [t for t in node.args[0] if not (_val(t) is not None and _val(t).numel() == 0
                                                 and len(_val(t).shape) == 1)]
    rank = len(_shape(node))
    axis = int(_arg(node, 1, "dim", 0)) % rank
    return c.emit("Concat", [c.value(t) for t in tensors], {"axis": axis})


@_handles("aten.split.Tensor", "aten.split_with_sizes.default", "aten.chunk.default",
          "aten.unbind.int")
def _split(c: _Converter, node: Any) -> list[str]:
    x = node.args[0]
    name = _target_name(node)
    outs_meta = _val(node)
    rank = len(_shape(x))
    default_dim = 0
    dim = int(_arg(node, 2 if name != "aten.unbind.int" else 1, "dim", default_dim)) % rank
    sizes = [int(o.shape[dim]) if name != "aten.unbind.int" else 1 for o in outs_meta]
    getitems = {u.args[1]: u for u in node.users if _target_name(u) == "getitem"}
    outs = [c.out_name(getitems[i]) if i in getitems else c.unique(f"{node.name}.{i}")
            for i in range(len(sizes))]
    split_in = [c.value(x), c.int64s(sizes, f"{node.name}.split")]
    if name != "aten.unbind.int":
        c._add("Split", split_in, {"axis": dim}, outs)
        return outs
    parts = [c.unique(f"{node.name}.part{i}") for i in range(len(sizes))]
    c._add("Split", split_in, {"axis": dim}, parts)
    for part, out in zip(parts, outs, strict=True):
        c._add("Squeeze", [part, c.int64s([dim], f"{node.name}.axes")], {}, out)
    return outs


def _check_softmax(c: _Converter, node: Any) -> str | None:
    if _target_name(node) == "aten._softmax.default" and node.args[2]:
        return "half_to_float"
    dtype = _arg(node, 2, "dtype") if _target_name(node) == "aten.softmax.int" else None
    if dtype is not None and _NUMPY_OF_TORCH.get(str(dtype)) != _dtype(node.args[0]):
        return "dtype conversion"
    return None


@_handles("aten.softmax.int", "aten._softmax.default", check=_check_softmax)
def _softmax(c: _Converter, node: Any) -> str:
    rank = len(_shape(node.args[0]))
    return c.emit("Softmax", [c.value(node.args[0])], {"axis": int(node.args[1]) % rank})


# padding -------------------------------------------------------------------

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge"}


def _check_pad(c: _Converter, node: Any) -> str | None:
    name = _target_name(node)
    if name == "aten.pad.default":
        mode = _arg(node, 2, "mode", "constant")
        if mode not in _PAD_MODES:
            return f"mode={mode}"
    pads = node.args[1]
    if any(not isinstance(p, int) for p in pads):
        return "dynamic pads"
    if any(p < 0 for p in pads):
        return "negative pads"
    return None


@_handles("aten.constant_pad_nd.default", "aten.pad.default", "aten.reflection_pad2d.default",
          "aten.replication_pad2d.default", "aten.reflection_pad1d.default",
          "aten.replication_pad1d.default", check=_check_pad)
def _pad(c: _Converter, node: Any) -> str:
    name = _target_name(node)
    x = node.args[0]
    rank = len(_shape(x))
    torch_pads = [int(p) for p in node.args[1]]
    begins, ends = [0] * rank, [0] * rank
    for i in range(len(torch_pads) // 2):  # pairs from the last dimension backwards
        begins[rank - 1 - i] = torch_pads[2 * i]
        ends[rank - 1 - i] = torch_pads[2 * i + 1]
    if name == "aten.pad.default":
        mode = _PAD_MODES[_arg(node, 2, "mode", "constant")]
        value = _arg(node, 3, "value", None)
    elif name == "aten.constant_pad_nd.default":
        mode, value = "constant", _arg(node, 2, "value", 0)
    else:
        mode, value = ("reflect" if "reflection" in name else "edge"), None
    inputs = [c.value(x), c.int64s(begins + ends, f"{node.name}.pads")]
    if mode == "constant" and value:
        inputs.append(c.scalar(value, _dtype(x), f"{node.name}.value"))
    return c.emit("Pad", inputs, {"mode": mode})
