"""Conversion tasks of the two older converters the research used, each run by the Python of
its own side environment (made by ``scripts/converter_envs.sh`` from ``envs/<name>.txt``):

    .venv-converters/onnx-tf/bin/python     python/convmend/convert/legacy.py '<json job>'
    .venv-converters/onnxmltools/bin/python python/convmend/convert/legacy.py '<json job>'

convmend is not installed there: this module imports only the standard library and
``protocol`` (its own directory is ``sys.path[0]``); the frameworks are imported inside each
task.

Tasks:

``onnx_tf``
    ``src`` an ``.onnx`` file; ``out`` a directory to create as a TF SavedModel, written by
    ``onnx_tf.backend.prepare(model).export_graph(out)`` (onnx-tf 1.10.0, TF 2.15).

``onnxmltools``
    ``src`` a Keras 3 ``.keras`` file (as the main env's keras 3.15 writes it); ``out`` an
    ``.onnx`` file, written by ``onnxmltools.convert_keras(model, target_opset=opset)``
    (onnxmltools 1.16.0, which for TF >= 2 hands the model to ``tf2onnx.convert.from_keras``).
    The side env has TF 2.15, whose ``tf.keras`` is Keras 2. Keras 2 cannot deserialize a
    Keras 3 config (new node format, dtype policies, new layer arguments), so the model is
    rebuilt here: the Keras 3 ``config.json`` is translated to the Keras 2 functional config
    (same layers, same names, same order, same arguments; arguments Keras 2 does not know are
    dropped only when they hold their neutral value, else the task fails), built with
    ``tf.keras.Model.from_config``, and every variable is then set from the Keras 3
    ``model.weights.h5`` by the path Keras 3 gave it (``layers/<snake_case class>[_<n>]/vars/<i>``,
    numbered in ``model.layers`` order), checking that every layer and every array is used
    exactly once with its shape. The input artifact is therefore the same ``.keras`` file, no
    extra export from the main env is needed. Options: ``{"opset": int}`` (absent: tf2onnx's
    default).
"""

from __future__ import annotations

import inspect
import json
import re
import sys
import time
import zipfile
from typing import Any

import protocol


def _versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _quiet_tf() -> None:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")


def _signature_io(saved_model_dir: str) -> dict[str, Any]:
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model_dir)
    signature = loaded.signatures["serving_default"]
    inputs = {
        name: spec.shape.as_list() for name, spec in signature.structured_input_signature[1].items()
    }
    outputs = {name: spec.shape.as_list() for name, spec in signature.structured_outputs.items()}
    return {"signature": "serving_default", "inputs": inputs, "outputs": outputs}


def _onnx_io(model: Any) -> dict[str, Any]:
    def dims(value: Any) -> list[Any]:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    initializers = {init.name for init in model.graph.initializer}
    return {
        "inputs": {v.name: dims(v) for v in model.graph.input if v.name not in initializers},
        "outputs": {v.name: dims(v) for v in model.graph.output},
        "opset": {(op.domain or "ai.onnx"): op.version for op in model.opset_import},
    }


# ---------------------------------------------------------------- onnx-tf: ONNX -> SavedModel


def onnx_tf(job: dict[str, Any]) -> dict[str, Any]:
    _quiet_tf()
    import onnx
    from onnx_tf.backend import prepare

    start = time.monotonic()
    model = onnx.load(job["src"])
    source = _onnx_io(model)
    prepare(model).export_graph(job["out"])
    seconds = time.monotonic() - start
    return {
        "api": "onnx_tf.backend.prepare(onnx.load(src)).export_graph(out)",
        "versions": _versions(
            "onnx-tf",
            "onnx",
            "tensorflow-cpu",
            "tensorflow-addons",
            "tensorflow-probability",
            "numpy",
        ),
        "source": source,
        "result": _signature_io(job["out"]),
        "convert_seconds": round(seconds, 2),
    }


# ------------------------------------------------------- onnxmltools: Keras 3 file -> ONNX

# Arguments every Keras 2 layer takes through **kwargs (keras.layers.Layer.__init__).
_BASE_LAYER_KWARGS = {
    "name",
    "trainable",
    "dtype",
    "dynamic",
    "input_dim",
    "input_shape",
    "batch_input_shape",
    "batch_size",
    "weights",
    "activity_regularizer",
    "autocast",
    "implementation",
}
_NEUTRAL = (None, False, 0, "", (), [], {})


def _snake_case(name: str) -> str:
    # keras.src.utils.naming.to_snake_case, as Keras 3 names the saved variables.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _accepted_arguments(cls: Any) -> set[str]:
    # A subclass may pass arguments on to its bases through **kwargs (BatchNormalization's
    # renorm_momentum): every __init__ along the MRO counts.
    accepted: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            accepted |= set(inspect.signature(klass.__init__).parameters)
    return accepted


def _drop_unknown(
    cls: Any, config: dict[str, Any], where: str, dropped: dict[str, Any], extra: set[str]
) -> dict[str, Any]:
    """``config`` less the arguments Keras 2's ``cls`` does not take; those must be neutral."""
    config = dict(config)
    for key in sorted(set(config) - _accepted_arguments(cls) - extra):
        value = config.pop(key)
        if value not in _NEUTRAL:
            raise ValueError(
                f"{where} ({cls.__name__}): Keras 2 has no argument {key!r}, "
                f"and its value {value!r} matters"
            )
        dropped.setdefault(cls.__name__, set()).add(key)
    return config


def _k2_object(value: Any, module: Any, where: str, dropped: dict[str, Any]) -> Any:
    """A Keras 3 serialized initializer/regularizer/constraint as Keras 2 takes it."""
    if not (isinstance(value, dict) and "class_name" in value):
        return value
    cls = getattr(module, value["class_name"], None)
    if cls is None:
        raise ValueError(f"{where}: Keras 2 has no {value['class_name']!r}")
    config = _drop_unknown(cls, value.get("config") or {}, where, dropped, set())
    return {"class_name": value["class_name"], "config": config}


def _k2_dtype(value: Any) -> Any:
    if isinstance(value, dict) and value.get("class_name") in ("DTypePolicy", "FloatDTypePolicy"):
        return value["config"]["name"]
    if isinstance(value, dict):
        raise ValueError(f"unsupported Keras 3 dtype policy {value.get('class_name')!r}")
    return value


def _k2_node(node: dict[str, Any]) -> list[list[Any]]:
    """A Keras 3 inbound node ({"args": [...], "kwargs": {...}}) in Keras 2's list form."""
    kwargs = {k: v for k, v in (node.get("kwargs") or {}).items() if v is not None}
    tensors: list[list[Any]] = []

    def collect(value: Any) -> None:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            layer, node_index, tensor_index = value["config"]["keras_history"]
            tensors.append([layer, node_index, tensor_index, {}])
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)
        else:
            raise ValueError(f"unsupported positional call argument {value!r}")

    collect(node.get("args") or [])
    if tensors and kwargs:
        tensors[0][3] = kwargs
    return tensors


def _k2_layer_config(cls: Any, config: dict[str, Any], dropped: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    config = dict(config)
    if "batch_shape" in config:
        config["batch_input_shape"] = config.pop("batch_shape")
    if "dtype" in config:
        config["dtype"] = _k2_dtype(config["dtype"])
    where = f"layer {config.get('name')!r}"
    for key, value in list(config.items()):
        for suffix, module in (
            ("_initializer", tf.keras.initializers),
            ("_regularizer", tf.keras.regularizers),
            ("_constraint", tf.keras.constraints),
        ):
            if key.endswith(suffix):
                config[key] = _k2_object(value, module, f"{where} {key}", dropped)
    return _drop_unknown(cls, config, where, dropped, _BASE_LAYER_KWARGS)


def _k2_functional_config(config: dict[str, Any], keras: Any) -> tuple[dict[str, Any], dict]:
    if config.get("class_name") not in ("Functional", "Model"):
        raise ValueError(f"only functional models are supported, not {config.get('class_name')}")
    inner = config["config"]
    dropped: dict[str, Any] = {}
    layers = []
    for layer in inner["layers"]:
        layer_cls = getattr(keras.layers, layer["class_name"], None)
        if layer_cls is None:
            raise ValueError(f"Keras 2 has no layer class {layer['class_name']!r}")
        layers.append(
            {
                "class_name": layer["class_name"],
                "name": layer["name"],
                "config": _k2_layer_config(layer_cls, layer["config"], dropped),
                "inbound_nodes": [_k2_node(node) for node in layer.get("inbound_nodes", [])],
            }
        )

    def refs(value: Any) -> list[Any]:
        # [name, node, tensor] or a list of them
        if value and isinstance(value[0], str):
            return [value]
        return [list(v) for v in value]

    return (
        {
            "name": inner["name"],
            "layers": layers,
            "input_layers": refs(inner["input_layers"]),
            "output_layers": refs(inner["output_layers"]),
        },
        {k: sorted(v) for k, v in dropped.items()},
    )


def _load_keras3_weights(model: Any, h5_path: str) -> dict[str, Any]:
    """Set every variable of ``model`` from a Keras 3 ``model.weights.h5``: the arrays of
    the n-th layer of a class are at ``layers/<snake_case class>[_<n>]/vars/<i>``."""
    import h5py

    used_names: dict[str, int] = {}
    assigned = arrays = 0
    with h5py.File(h5_path, "r") as h5:
        groups = h5["layers"]
        unused = set(groups.keys())
        for layer in model.layers:
            name = _snake_case(type(layer).__name__)
            if name in used_names:
                used_names[name] += 1
                name = f"{name}_{used_names[name]}"
            else:
                used_names[name] = 0
            weights = layer.weights
            group = groups.get(name)
            stored = group.get("vars") if group is not None else None
            count = len(stored) if stored is not None else 0
            if count != len(weights):
                raise ValueError(
                    f"layer {layer.name!r}: {len(weights)} variables in Keras 2, "
                    f"{count} arrays at layers/{name}/vars in the Keras 3 file"
                )
            if group is not None:
                unused.discard(name)
                if len(group.keys() - {"vars"}):
                    raise ValueError(f"layers/{name} has nested state this loader does not map")
            values = []
            for index, variable in enumerate(weights):
                array = stored[str(index)][()]
                if tuple(array.shape) != tuple(variable.shape):
                    raise ValueError(
                        f"layer {layer.name!r} variable {variable.name}: shape "
                        f"{tuple(variable.shape)} vs {array.shape} in layers/{name}/vars/{index}"
                    )
                values.append(array)
            if values:
                layer.set_weights(values)
                assigned += 1
                arrays += len(values)
        leftover = sorted(n for n in unused if len(groups[n].get("vars", {})))
        if leftover:
            raise ValueError(f"arrays in the Keras 3 file matched no layer: {leftover[:5]}")
    return {"layers_with_weights": assigned, "arrays": arrays}


def _keras_model_from_keras3_file(path: str) -> tuple[Any, dict[str, Any]]:
    import tempfile

    import tensorflow as tf

    keras = tf.keras
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if not {"config.json", "model.weights.h5"} <= names:
            raise ValueError(f"{path} is not a Keras 3 .keras archive (has {sorted(names)})")
        config = json.loads(archive.read("config.json"))
        metadata = json.loads(archive.read("metadata.json")) if "metadata.json" in names else {}
        with tempfile.TemporaryDirectory() as tmp:
            h5_path = archive.extract("model.weights.h5", tmp)
            k2_config, dropped = _k2_functional_config(config, keras)
            model = keras.Model.from_config(k2_config)
            loaded = _load_keras3_weights(model, h5_path)
    notes = {
        "keras_file_version": metadata.get("keras_version"),
        "rebuilt_with": f"tf.keras {_versions('keras').get('keras')}:"
        " Model.from_config(translated config) + weights set by Keras 3 variable path",
        "dropped_neutral_arguments": dropped,
        **loaded,
    }
    return model, notes


def _keras_file_version(path: str) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            return str(json.loads(archive.read("metadata.json")).get("keras_version", ""))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return ""


def onnxmltools(job: dict[str, Any]) -> dict[str, Any]:
    _quiet_tf()
    import onnxmltools as omt

    opset = (job.get("options") or {}).get("opset")
    start = time.monotonic()
    version = _keras_file_version(job["src"])
    if version.startswith("2."):  # a Keras 2 file (nobuco, onnx2tf): this Keras reads it
        import tensorflow as tf

        model = tf.keras.models.load_model(job["src"], compile=False)
        rebuild: dict[str, Any] = {"keras_file_version": version,
                                   "rebuilt_with": "tf.keras.models.load_model"}
    else:
        model, rebuild = _keras_model_from_keras3_file(job["src"])
    rebuilt = time.monotonic()
    onnx_model = omt.convert_keras(model, name=model.name, target_opset=opset)
    omt.utils.save_model(onnx_model, job["out"])
    done = time.monotonic()
    return {
        "api": "onnxmltools.convert_keras(model, target_opset=opset) -> tf2onnx.convert.from_keras",
        "versions": _versions("onnxmltools", "tf2onnx", "onnx", "tensorflow-cpu", "numpy"),
        "source": {"input_shape": [t.shape.as_list() for t in model.inputs]},
        "keras": rebuild,
        "result": _onnx_io(onnx_model),
        "rebuild_seconds": round(rebuilt - start, 2),
        "convert_seconds": round(done - rebuilt, 2),
    }


TASKS = {"onnx_tf": onnx_tf, "onnxmltools": onnxmltools}

if __name__ == "__main__":
    sys.exit(protocol.main(TASKS, sys.argv))
