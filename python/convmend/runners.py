"""Run a model in its own framework's runtime, optionally returning every intermediate.

The native runtime is the ground truth for labels and for proving a repair, so these
runners add nothing of their own: ONNX Runtime and LiteRT (the TFLite interpreter) run the
file as it is. Intermediates are exposed the way each runtime allows it: extra graph outputs
for ONNX Runtime, preserved tensors for LiteRT, a pruned frozen graph for TF SavedModels,
sub-models for Keras and forward hooks for PyTorch.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convmend.errors import ConvmendError

Batch = Mapping[str, np.ndarray] | np.ndarray


@dataclass(frozen=True)
class TensorInfo:
    """Name, shape (None for a dynamic dimension) and numpy dtype name of a model I/O."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


class Runner(abc.ABC):
    """One model opened in its native runtime."""

    format: str = ""

    def __init__(self, path: Path):
        self.path = path

    @abc.abstractmethod
    def inputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def outputs(self) -> list[TensorInfo]: ...

    @abc.abstractmethod
    def intermediate_names(self) -> list[str]:
        """Every name ``run_with_intermediates`` can return, in execution order."""

    @abc.abstractmethod
    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...

    @abc.abstractmethod
    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]: ...

    def run(self, batch: Batch) -> list[np.ndarray]:
        """Outputs in the model's order. A batch larger than a fixed batch of 1 is run
        sample by sample and concatenated, since converted models often fix the batch."""
        return [
            np.concatenate(parts) if len(parts) > 1 else parts[0]
            for parts in zip(*(self._run_once(f) for f in self._split(batch)), strict=True)
        ]

    def run_with_intermediates(
        self, batch: Batch, names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Map tensor name -> value for ``names`` (all of ``intermediate_names()`` if None)."""
        if names is not None:
            missing = sorted(set(names) - set(self.intermediate_names()))
            if missing:
                raise ConvmendError(f"{self.path}: no tensors named {', '.join(missing[:10])}")
        chunks = [self._intermediates_once(f, names) for f in self._split(batch)]
        if len(chunks) == 1:
            return chunks[0]
        return {key: _join([c[key] for c in chunks]) for key in chunks[0]}

    def _feeds(self, batch: Batch) -> dict[str, np.ndarray]:
        infos = self.inputs()
        if isinstance(batch, np.ndarray):
            if len(infos) != 1:
                raise ConvmendError(
                    f"{self.path}: model has {len(infos)} inputs; pass a dict "
                    f"keyed by {', '.join(i.name for i in infos)}"
                )
            batch = {infos[0].name: batch}
        feeds = {}
        for info in infos:
            if info.name not in batch:
                raise ConvmendError(f"{self.path}: missing input {info.name!r}")
            value = np.asarray(batch[info.name])
            if len(value.shape) != len(info.shape) or any(
                want is not None and got != want
                for got, want in zip(value.shape[1:], info.shape[1:], strict=True)
            ):
                raise ConvmendError(
                    f"{self.path}: input {info.name!r} expects shape "
                    f"{info.shape}, got {value.shape}"
                )
            feeds[info.name] = value.astype(info.dtype, copy=False)
        extra = sorted(set(batch) - set(feeds))
        if extra:
            raise ConvmendError(f"{self.path}: unknown inputs {', '.join(extra)}")
        return feeds

    def _split(self, batch: Batch) -> list[dict[str, np.ndarray]]:
        feeds = self._feeds(batch)
        fixed_one = all(info.shape and info.shape[0] == 1 for info in self.inputs())
        count = {v.shape[0] for v in feeds.values()}
        if fixed_one and len(count) == 1 and (n := count.pop()) > 1:
            return [{k: v[i : i + 1] for k, v in feeds.items()} for i in range(n)]
        return [feeds]


def _join(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate per-sample values; a value that does not depend on the sample (a shape
    or constant tensor) is returned once."""
    first = parts[0]
    per_sample = (
        first.ndim >= 1
        and first.shape[0] == 1
        and (first.ndim >= 2 or any(not np.array_equal(first, p) for p in parts[1:]))
    )
    return np.concatenate(parts) if per_sample else first


# --------------------------------------------------------------------------- ONNX Runtime


class OnnxRuntimeRunner(Runner):
    """ONNX Runtime on CPU. Intermediates come from a copy of the model whose graph outputs
    include the requested values; that copy keeps those nodes unfused, so its numbers are
    those of the unfused graph."""

    format = "onnx"

    def __init__(self, path: Path, num_threads: int | None = None, optimization: str = "all"):
        super().__init__(path)
        import onnx
        import onnxruntime as ort

        self._ort = ort
        self._options = ort.SessionOptions()
        if num_threads is not None:
            self._options.intra_op_num_threads = num_threads
            self._options.inter_op_num_threads = 1
        levels = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        if optimization not in levels:
            raise ConvmendError(f"unknown ORT optimization level {optimization!r}")
        self._options.graph_optimization_level = levels[optimization]
        try:
            self._model = onnx.load(str(path))
            self._session = self._session_for(self._model.SerializeToString())
        except ConvmendError:
            raise
        except Exception as exc:  # onnx and ORT raise several unrelated types
            raise ConvmendError(f"onnxruntime cannot load {path}: {exc}") from exc
        self._node_outputs = [o for n in self._model.graph.node for o in n.output if o]
        self._probe: tuple[tuple[str, ...], object] | None = None

    def _session_for(self, model_bytes: bytes):  # -> ort.InferenceSession
        return self._ort.InferenceSession(
            model_bytes, self._options, providers=["CPUExecutionProvider"]
        )

    @staticmethod
    def _info(arg) -> TensorInfo:
        dtype = arg.type.removeprefix("tensor(").removesuffix(")")
        dtype = {"float": "float32", "double": "float64", "float16": "float16"}.get(dtype, dtype)
        shape = tuple(d if isinstance(d, int) else None for d in arg.shape)
        return TensorInfo(arg.name, shape, dtype)

    def inputs(self) -> list[TensorInfo]:
        return [self._info(i) for i in self._session.get_inputs()]

    def outputs(self) -> list[TensorInfo]:
        return [self._info(o) for o in self._session.get_outputs()]

    def intermediate_names(self) -> list[str]:
        return list(self._node_outputs)

    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return list(self._session.run(None, feeds))

    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        wanted = tuple(self._node_outputs if names is None else names)
        if self._probe is None or self._probe[0] != wanted:
            self._probe = (wanted, self._session_for(self._with_outputs(wanted)))
        session = self._probe[1]
        values = session.run(list(wanted), feeds)  # type: ignore[attr-defined]
        return dict(zip(wanted, values, strict=True))

    def _with_outputs(self, names: Sequence[str]) -> bytes:
        import onnx

        model = onnx.ModelProto()
        model.CopyFrom(self._model)
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:  # a model ORT runs can still defeat onnx's shape inference
            inferred = model
        typed = {vi.name: vi for vi in inferred.graph.value_info}
        typed.update({vi.name: vi for vi in inferred.graph.output})
        existing = {o.name for o in model.graph.output}
        for name in names:
            if name in existing:
                continue
            # ORT accepts an output with no type when inference could not give one.
            model.graph.output.append(typed.get(name, onnx.ValueInfoProto(name=name)))
        return model.SerializeToString()


# --------------------------------------------------------------------------- LiteRT


class LiteRtRunner(Runner):
    """The LiteRT interpreter. ``run`` uses the default resolver (XNNPACK, as users get it);
    intermediates come from a second interpreter on the builtin reference kernels with
    ``experimental_preserve_all_tensors``, where every op output keeps its value and no
    delegate hides a tensor. Intermediates are raw: quantized tensors stay integers."""

    format = "tflite"

    def __init__(self, path: Path, num_threads: int | None = None):
        super().__init__(path)
        self._num_threads = num_threads
        self._interp = self._open(debug=False)
        self._debug = None
        self._details = {d["index"]: d for d in self._interp.get_tensor_details()}
        self._names = self._unique_names()
        self._index = {name: index for index, name in self._names.items()}
        self._order: list[int] | None = None

    def _open(self, debug: bool):  # -> Interpreter
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        extra = {}
        if debug:
            extra = {
                "experimental_preserve_all_tensors": True,
                "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            }
        try:
            interp = Interpreter(model_path=str(self.path), num_threads=self._num_threads, **extra)
            interp.allocate_tensors()
        except Exception as exc:  # LiteRT raises ValueError/RuntimeError with its log
            raise ConvmendError(f"LiteRT cannot load {self.path}: {exc}") from exc
        return interp

    def _debug_interp(self):  # -> Interpreter
        if self._debug is None:
            self._debug = self._open(debug=True)
        return self._debug

    def _unique_names(self) -> dict[int, str]:
        """Tensor names, suffixed with ``#index`` where a converter reused a name."""
        seen: dict[str, int] = {}
        for detail in self._details.values():
            seen[detail["name"]] = seen.get(detail["name"], 0) + 1
        return {
            i: d["name"] if seen[d["name"]] == 1 else f"{d['name']}#{i}"
            for i, d in self._details.items()
        }

    def _execution_order(self) -> list[int]:
        """Model inputs, then every op output in op order (constants are left out)."""
        if self._order is None:
            interp = self._debug_interp()
            order = [d["index"] for d in interp.get_input_details()]
            for op in interp._get_ops_details():  # private, but the only op-level view
                order.extend(int(i) for i in op["outputs"] if int(i) >= 0 and int(i) not in order)
            self._order = order
        return self._order

    @staticmethod
    def _info(detail: Mapping) -> TensorInfo:
        signature = detail.get("shape_signature", detail["shape"])
        shape = tuple(None if int(d) < 0 else int(d) for d in signature)
        return TensorInfo(detail["name"], shape, np.dtype(detail["dtype"]).name)

    def inputs(self) -> list[TensorInfo]:
        return [self._info(d) for d in self._interp.get_input_details()]

    def outputs(self) -> list[TensorInfo]:
        return [self._info(d) for d in self._interp.get_output_details()]

    def intermediate_names(self) -> list[str]:
        return [self._names[i] for i in self._execution_order()]

    def quantization(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(scales, zero points) of a quantized tensor, None for a float one."""
        params = self._details[self._index[name]]["quantization_parameters"]
        return None if len(params["scales"]) == 0 else (params["scales"], params["zero_points"])

    @staticmethod
    def _invoke(interp, feeds: dict[str, np.ndarray]) -> None:
        resized = False
        for detail in interp.get_input_details():
            value = feeds[detail["name"]]
            if tuple(detail["shape"]) != value.shape:
                interp.resize_tensor_input(detail["index"], value.shape, strict=True)
                resized = True
        if resized:
            interp.allocate_tensors()
        for detail in interp.get_input_details():
            interp.set_tensor(detail["index"], feeds[detail["name"]])
        interp.invoke()

    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self._invoke(self._interp, feeds)
        return [
            self._interp.get_tensor(d["index"]).copy() for d in self._interp.get_output_details()
        ]

    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        interp = self._debug_interp()
        self._invoke(interp, feeds)
        wanted = self.intermediate_names() if names is None else list(names)
        return {name: interp.get_tensor(self._index[name]).copy() for name in wanted}


# --------------------------------------------------------------------------- Keras


class KerasRunner(Runner):
    """A ``.keras`` (or legacy ``.h5``) model run by Keras itself. Intermediates come from
    a sub-model whose outputs are the requested layers' outputs, keyed by layer name."""

    format = "keras"

    def __init__(self, path: Path):
        super().__init__(path)
        import keras

        from convmend import loaded

        self._keras = keras
        try:
            self._model = loaded.keras_model(path)  # shared with the Keras frontend
        except Exception as exc:  # Keras raises ValueError/TypeError/OSError alike
            legacy = keras2_version(path)
            if legacy is None:
                raise ConvmendError(f"Keras cannot load {path}: {exc}") from exc
            # Written by Keras 2 (tf_keras), as nobuco and onnx2tf do: Keras 3 cannot
            # read it, the tf_keras package can (safe mode: no embedded code is run).
            try:
                import tf_keras
            except ImportError:
                raise ConvmendError(f"{path} was written by Keras {legacy}; install tf_keras "
                                    "to run it") from exc
            try:
                self._model = load_tf_keras(path, safe_mode=True)
            except Exception as exc2:
                raise ConvmendError(f"tf_keras cannot load {path} (Keras {legacy} file): "
                                    f"{str(exc2).splitlines()[0][:300]}") from exc2
            self._keras = tf_keras
        self._layers = {
            layer.name: layer
            for layer in self._model.layers
            if not isinstance(layer.output, (list, tuple, dict))
        }
        self._probe: tuple[tuple[str, ...], object] | None = None

    @staticmethod
    def _info(tensor) -> TensorInfo:
        shape = tuple(None if d is None else int(d) for d in tensor.shape)
        dtype = getattr(tensor.dtype, "as_numpy_dtype", tensor.dtype)  # tf.DType in tf_keras
        return TensorInfo(tensor.name, shape, np.dtype(dtype).name)

    def inputs(self) -> list[TensorInfo]:
        return [self._info(t) for t in self._model.inputs]

    def outputs(self) -> list[TensorInfo]:
        return [self._info(t) for t in self._model.outputs]

    def intermediate_names(self) -> list[str]:
        return list(self._layers)

    def _ordered(self, feeds: dict[str, np.ndarray]) -> np.ndarray | list[np.ndarray]:
        ordered = [feeds[info.name] for info in self.inputs()]
        return ordered[0] if len(ordered) == 1 else ordered  # Keras warns on a 1-item list

    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        out = self._model(self._ordered(feeds), training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        return [np.asarray(o) for o in out]

    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        wanted = tuple(self._layers if names is None else names)
        if self._probe is None or self._probe[0] != wanted:
            # ``model.input`` keeps the model's own input structure, as ``_ordered`` does.
            inputs = self._model.inputs
            probe = self._keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                                      [self._layers[n].output for n in wanted])
            self._probe = (wanted, probe)
        values = self._probe[1](self._ordered(feeds), training=False)  # type: ignore[operator]
        values = values if isinstance(values, (list, tuple)) else [values]
        return {n: np.asarray(v) for n, v in zip(wanted, values, strict=True)}


def tf_keras_walks_fast() -> None:
    """Make tf_keras's ``.keras`` load and save skip a property that only costs time.

    Its state walk (``saving_lib._walk_trackable``) reads every attribute of every layer
    and of the model, and ``_tracking_metadata`` is a JSON string of the object's whole
    config: for onnx2tf's files, whose layer configs hold the weights as nested lists, that
    is seconds to minutes of JSON nobody reads (a string is never a child to restore).
    Measured on onnx2tf's MobileNetV2 file: load 76.5 s -> 37.1 s, same outputs."""
    from tf_keras.src.saving import saving_lib

    skip = getattr(saving_lib, "ATTR_SKIPLIST", None)
    if isinstance(skip, frozenset) and "_tracking_metadata" not in skip:
        saving_lib.ATTR_SKIPLIST = skip | {"_tracking_metadata"}


def load_tf_keras(path: str | Path, **kwargs: Any) -> Any:
    """``tf_keras.models.load_model(path, compile=False, **kwargs)`` with the fast walk."""
    import tf_keras

    tf_keras_walks_fast()
    return tf_keras.models.load_model(str(path), compile=False, **kwargs)


def keras2_version(path: str | Path) -> str | None:
    """The Keras version that wrote a ``.keras`` zip, when it is a 2.x (tf_keras) file."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("metadata.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    version = str(meta.get("keras_version", ""))
    return version if version.startswith("2.") else None


# --------------------------------------------------------------------------- TF SavedModel


class SavedModelRunner(Runner):
    """A TensorFlow SavedModel directory, run through its ``serving_default`` signature.

    Inputs and outputs are the signature's keyword arguments and result keys, sorted by
    name so that the order is stable. Intermediates come from a frozen copy of the serving
    function (variables turned into constants, nested function calls inlined): every op
    whose value depends on an input and whose output is floating point, keyed by the op's
    name in that flat graph (``name:i`` for an op's output ``i`` > 0), in topological order.
    The frozen graph computes the same ops on the same values as the signature.
    """

    format = "saved_model"
    SIGNATURE = "serving_default"

    def __init__(self, path: Path, num_threads: int | None = None):
        super().__init__(path)
        import tensorflow as tf

        self._tf = tf
        if num_threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(num_threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # TF's runtime is already up; its thread pools are fixed
                pass
        from convmend import loaded

        try:
            self._model = loaded.saved_model(path)  # shared with the TF frontend
        except Exception as exc:  # TF raises OSError/ValueError/its own errors alike
            raise ConvmendError(f"TensorFlow cannot load SavedModel {path}: {exc}") from exc
        signatures = self._model.signatures
        if self.SIGNATURE not in signatures:
            raise ConvmendError(
                f"{path}: SavedModel has no {self.SIGNATURE!r} signature "
                f"(has: {', '.join(signatures) or 'none'})"
            )
        self._fn = signatures[self.SIGNATURE]
        args, kwargs = self._fn.structured_input_signature
        if args:
            raise ConvmendError(f"{path}: signature {self.SIGNATURE!r} takes positional inputs")
        self._input_specs = sorted(kwargs.items())
        outputs = self._fn.structured_outputs
        if not isinstance(outputs, Mapping):
            raise ConvmendError(f"{path}: signature {self.SIGNATURE!r} does not return a dict")
        self._output_specs = sorted(outputs.items())
        self._graph: tuple[object, list[object], dict[str, object]] | None = None
        self._names: list[str] | None = None
        self._probe: tuple[tuple[str, ...], object] | None = None

    @staticmethod
    def _info(name: str, spec) -> TensorInfo:
        shape = () if spec.shape.rank is None else tuple(spec.shape.as_list())
        return TensorInfo(name, shape, np.dtype(spec.dtype.as_numpy_dtype).name)

    def inputs(self) -> list[TensorInfo]:
        return [self._info(k, v) for k, v in self._input_specs]

    def outputs(self) -> list[TensorInfo]:
        return [self._info(k, v) for k, v in self._output_specs]

    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        tf = self._tf
        out = self._fn(**{k: tf.constant(v) for k, v in feeds.items()})
        return [np.asarray(out[k]) for k, _ in self._output_specs]

    def _flat_graph(self) -> tuple[object, list[object], dict[str, object]]:
        """(wrapped function of the frozen graph, its input tensors in ``inputs()`` order,
        intermediate name -> tensor in topological order)."""
        if self._graph is not None:
            return self._graph
        import heapq

        from convmend.frontends.tf import freeze_function

        tf = self._tf
        graph_def, frozen_inputs, _ = freeze_function(self._fn)

        def imported() -> None:
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(imported, [])
        # The inputs follow the flattened signature: dict keys sorted, as ours are.
        input_ops = [t.name.split(":")[0] for t in frozen_inputs]
        feeds = [wrapped.graph.get_tensor_by_name(t.name) for t in frozen_inputs]
        nodes = {n.name: (i, n) for i, n in enumerate(graph_def.node)}
        sources = {
            n.name: [x.split(":")[0] for x in n.input if not x.startswith("^")]
            for n in graph_def.node
        }
        live = set(input_ops)
        changed = True
        while changed:  # the graph def's order is not guaranteed topological
            changed = False
            for name, srcs in sources.items():
                if name not in live and any(src in live for src in srcs):
                    live.add(name)
                    changed = True
        pending = {n: sum(1 for src in sources[n] if src in live) for n in live}
        users: dict[str, list[str]] = {n: [] for n in live}
        for name in live:
            for src in sources[name]:
                if src in live:
                    users[src].append(name)
        ready = [(nodes[n][0], n) for n in live if pending[n] == 0]
        heapq.heapify(ready)
        tensors: dict[str, object] = {}
        while ready:
            _, name = heapq.heappop(ready)
            for index, tensor in enumerate(wrapped.graph.get_operation_by_name(name).outputs):
                if tensor.dtype.is_floating:
                    tensors[name if index == 0 else f"{name}:{index}"] = tensor
            for user in users[name]:
                pending[user] -= 1
                if pending[user] == 0:
                    heapq.heappush(ready, (nodes[user][0], user))
        self._graph = (wrapped, feeds, tensors)
        return self._graph

    def intermediate_names(self) -> list[str]:
        if self._names is None:
            self._names = list(self._flat_graph()[2])
        return list(self._names)

    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        wrapped, inputs, tensors = self._flat_graph()
        wanted = tuple(tensors if names is None else names)
        if self._probe is None or self._probe[0] != wanted:
            pruned = wrapped.prune(  # type: ignore[attr-defined]
                feeds=inputs, fetches=[tensors[n] for n in wanted]
            )
            self._probe = (wanted, pruned)
        tf = self._tf
        args = [tf.constant(feeds[k]) for k, _ in self._input_specs]
        values = self._probe[1](*args)  # type: ignore[operator]
        return {n: np.asarray(v) for n, v in zip(wanted, values, strict=True)}


# --------------------------------------------------------------------------- PyTorch


class TorchRunner(Runner):
    """A PyTorch module in eval mode; intermediates are forward-hook outputs keyed by the
    module path (``features.3.conv.1``), leaf modules only so nothing is counted twice."""

    format = "torch"

    def __init__(self, path: Path, module=None, input_shape: tuple[int, ...] | None = None):
        super().__init__(path)
        import torch

        self._torch = torch
        # An exported program knows its input shape; a state dict needs the zoo's sidecar.
        self._exported_shape: tuple[int | None, ...] | None = None
        if module is None and path.suffix == ".pt2":
            module, self._exported_shape = self._load_exported(path)
        if module is None:
            module = self._load(path)
        # An exported program's module refuses eval(): its mode was fixed at export time.
        self._module = module if self._exported_shape is not None else module.eval()
        self._shape: tuple[int | None, ...] = (
            input_shape or self._exported_shape or self._guess_shape(path)
        )
        self._leaves = [
            name
            for name, m in self._module.named_modules()
            if name and not any(True for _ in m.children())
        ]

    @staticmethod
    def _load_exported(path: Path):  # -> (torch.nn.Module, shape)
        """A ``torch.export`` program and the shape of its first user input, read from the
        placeholder's recorded value (a symbolic dimension becomes None), else from the
        example inputs saved with the program."""
        from convmend import loaded

        try:
            program = loaded.torch_program(path)  # shared with the PyTorch frontend
            module = program.module()
        except Exception as exc:  # torch raises RuntimeError/zip errors alike
            raise ConvmendError(f"cannot load {path} as a torch.export program: {exc}") from exc
        user_inputs = list(program.graph_signature.user_inputs)
        shape: tuple[int | None, ...] | None = None
        for node in program.graph.nodes:
            if node.op == "placeholder" and user_inputs and node.name == user_inputs[0]:
                value = node.meta.get("val")
                if value is not None and hasattr(value, "shape"):
                    shape = tuple(d if isinstance(d, int) else None for d in value.shape)
                break
        if shape is None and program.example_inputs:
            args = program.example_inputs[0]
            if args and hasattr(args[0], "shape"):
                shape = tuple(int(d) for d in args[0].shape)
        if shape is None:
            raise ConvmendError(f"{path}: the exported program records no input shape")
        return module, shape

    @staticmethod
    def _load(path: Path):  # -> torch.nn.Module
        import torch

        from convmend import loaded

        try:
            if Path(str(path) + ".json").exists():
                return loaded.torch_module(path)  # shared with the PyTorch frontend
            return torch.jit.load(str(path), map_location="cpu")
        except ConvmendError:
            raise
        except Exception as exc:  # torch raises RuntimeError/pickle errors alike
            raise ConvmendError(
                f"cannot load {path} as a PyTorch model (supported: zoo state dicts with "
                f"their sidecar, TorchScript, torch.export .pt2): {exc}"
            ) from exc

    @staticmethod
    def _guess_shape(path: Path) -> tuple[int, ...]:
        try:
            from convmend.zoo.build import read_sidecar
            from convmend.zoo.tasks import input_size

            size = input_size(read_sidecar(path)["key"]["name"])
        except (ConvmendError, KeyError):
            size = 224
        return (1, 3, size, size)

    def inputs(self) -> list[TensorInfo]:
        if self._exported_shape is not None:  # an exported program may fix its batch
            return [TensorInfo("input", self._exported_shape, "float32")]
        return [TensorInfo("input", (None, *self._shape[1:]), "float32")]

    def outputs(self) -> list[TensorInfo]:
        return [TensorInfo("output", (None,), "float32")]

    def intermediate_names(self) -> list[str]:
        return list(self._leaves)

    def _run_once(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._torch.no_grad():
            out = self._module(self._torch.from_numpy(feeds["input"]))
        out = out if isinstance(out, (list, tuple)) else [out]
        return [o.numpy() for o in out]

    def _intermediates_once(
        self, feeds: dict[str, np.ndarray], names: Sequence[str] | None
    ) -> dict[str, np.ndarray]:
        wanted = list(self._leaves if names is None else names)
        modules = dict(self._module.named_modules())
        values: dict[str, np.ndarray] = {}

        def keep(name: str):
            def hook(_module, _inputs, output) -> None:
                if isinstance(output, self._torch.Tensor):
                    values[name] = output.detach().numpy().copy()

            return hook

        handles = [modules[n].register_forward_hook(keep(n)) for n in wanted]
        try:
            self._run_once(feeds)
        finally:
            for handle in handles:
                handle.remove()
        return {n: values[n] for n in wanted if n in values}


# --------------------------------------------------------------------------- dispatch


def is_saved_model(path: str | Path) -> bool:
    """A directory holding ``saved_model.pb`` (or its text form)."""
    path = Path(path)
    return path.is_dir() and any(
        (path / name).is_file() for name in ("saved_model.pb", "saved_model.pbtxt")
    )


def open_runner(path: str | Path, num_threads: int | None = None) -> Runner:
    """Open a model file (or SavedModel directory) in the runtime its format calls for."""
    path = Path(path)
    if not path.exists():
        raise ConvmendError(f"model not found: {path}")
    if path.is_dir():
        if is_saved_model(path):
            return SavedModelRunner(path, num_threads=num_threads)
        raise ConvmendError(f"{path} is a directory but not a SavedModel (no saved_model.pb)")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxRuntimeRunner(path, num_threads=num_threads)
    if suffix == ".tflite":
        return LiteRtRunner(path, num_threads=num_threads)
    if suffix in (".keras", ".h5", ".hdf5"):
        return KerasRunner(path)
    if suffix in (".pth", ".pt", ".pt2"):
        return TorchRunner(path)
    raise ConvmendError(
        f"no native runner for {path.name}; supported: .onnx, .tflite, .keras, .h5, "
        ".pth/.pt/.pt2, SavedModel directories"
    )
