"""Conversion tasks of the converters that live in the main environment and ship with the
frameworks: TFLiteConverter, Keras' SavedModel export, tf2onnx and ``torch.onnx.export``.

Run as a script inside a conversion subprocess (see ``protocol.py``); frameworks are
imported inside each task so that a task pays only for what it uses.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from typing import Any

import protocol


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _static_shape(job: dict[str, Any]) -> list[int]:
    """The source's input shape with the batch fixed to 1 (a converter needs a static one)."""
    shape = [1 if not d or d < 0 else int(d) for d in job["model"]["input_shape"]]
    shape[0] = 1
    return shape


def _load_keras(path: str) -> Any:
    """Keras 3, or tf_keras for a file Keras 2 wrote (nobuco's and onnx2tf's output):
    what a user of those converters does to go on with the model."""
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception:
        from convmend.runners import keras2_version

        if keras2_version(path) is None:
            raise
    from convmend.runners import load_tf_keras

    return load_tf_keras(path)


def tflite_converter(job: dict[str, Any]) -> dict[str, Any]:
    """``tf.lite.TFLiteConverter`` from a ``.keras`` model or a SavedModel directory;
    ``mode``: float32, dynamic_int8 (``Optimize.DEFAULT``) or float16."""
    import tensorflow as tf

    options = job["options"]
    if options["from"] == "keras":
        converter = tf.lite.TFLiteConverter.from_keras_model(_load_keras(job["src"]))
        api = "tf.lite.TFLiteConverter.from_keras_model"
    else:
        converter = tf.lite.TFLiteConverter.from_saved_model(job["src"])
        api = "tf.lite.TFLiteConverter.from_saved_model"
    mode = options.get("mode", "float32")
    if mode in ("dynamic_int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with open(job["out"], "wb") as handle:
        handle.write(converter.convert())
    return {"api": api, "mode": mode, "tensorflow": tf.__version__}


def keras_export(job: dict[str, Any]) -> dict[str, Any]:
    """``keras.Model.export(format="tf_saved_model")``: Keras to a SavedModel."""
    import keras

    model = _load_keras(job["src"])
    if type(model).__module__.startswith("tf_keras"):  # Keras 2 writes SavedModels only
        model.export(job["out"])
        return {"api": "tf_keras Model.export", "keras": keras.__version__}
    model.export(job["out"], format="tf_saved_model")
    return {"api": "keras.Model.export(format='tf_saved_model')", "keras": keras.__version__}


def _tf2onnx_cli(arguments: list[str]) -> None:
    from tf2onnx import convert

    saved_argv = sys.argv
    sys.argv = ["tf2onnx.convert", *arguments]
    try:
        convert.main()
    finally:
        sys.argv = saved_argv


def tf2onnx(job: dict[str, Any]) -> dict[str, Any]:
    """tf2onnx from a Keras model (``from_keras`` with a static batch-1 signature), a
    SavedModel or a TFLite file (its command line, ``--saved-model`` / ``--tflite``)."""
    options = job["options"]
    opset = int(options["opset"])
    source = options["from"]
    if source == "keras":
        import tensorflow as tf
        import tf2onnx as package

        model = _load_keras(job["src"])
        name = model.inputs[0].name.split(":")[0] if model.inputs else "input"
        signature = (tf.TensorSpec(_static_shape(job), tf.float32, name=name),)
        package.convert.from_keras(
            model, input_signature=signature, opset=opset, output_path=job["out"]
        )
        api = "tf2onnx.convert.from_keras"
    else:
        flag = "--saved-model" if source == "saved_model" else "--tflite"
        _tf2onnx_cli([flag, job["src"], "--output", job["out"], "--opset", str(opset)])
        api = f"python -m tf2onnx.convert {flag}"
    if not os.path.exists(job["out"]):
        raise RuntimeError("tf2onnx finished without writing a model (see its log)")
    return {"api": api, "opset": opset, "tf2onnx": _version("tf2onnx")}


def torch_onnx(job: dict[str, Any]) -> dict[str, Any]:
    """``torch.onnx.export`` with the TorchScript-based or the dynamo-based exporter, a
    static input named ``input`` of the source's shape."""
    import onnx
    import torch

    from convmend.convert.torch_source import load_module

    options = job["options"]
    module = load_module(job["src"])
    dynamo = options["exporter"] == "dynamo"
    extra = {"external_data": False} if dynamo else {}
    with torch.no_grad():
        torch.onnx.export(
            module,
            (torch.zeros(*_static_shape(job)),),
            job["out"],
            dynamo=dynamo,
            opset_version=int(options["opset"]),
            input_names=["input"],
            output_names=["logits"],
            **extra,
        )
    written = onnx.load(job["out"], load_external_data=False)
    actual = max(o.version for o in written.opset_import if o.domain in ("", "ai.onnx"))
    notes: dict[str, Any] = {
        "api": f"torch.onnx.export(dynamo={dynamo})",
        "torch": torch.__version__,
        "opset_written": actual,
    }
    if actual != int(options["opset"]):
        notes["warning"] = f"exporter ignored opset {options['opset']} and wrote opset {actual}"
    return notes


TASKS: dict[str, protocol.Task] = {
    "tflite_converter": tflite_converter,
    "keras_export": keras_export,
    "tf2onnx": tf2onnx,
    "torch_onnx": torch_onnx,
}

if __name__ == "__main__":
    sys.exit(protocol.main(TASKS, sys.argv))
