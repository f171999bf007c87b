"""What runs inside the builder's subprocesses: one model build or one conversion each.

Kept apart from ``build.py`` so that the parent never imports TensorFlow or torch: a
converter that hangs, aborts or leaks memory takes only its own process down. Invoked as
``python -m convmend.zoo.tasks '<json job>'``; the job writes to ``job["out"]`` (a temp
path the parent renames) and prints one ``CONVMEND_RESULT <json>`` line of notes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "CONVMEND_RESULT "
SEED = 0

KERAS_APPS = {
    "mobilenet_v2": "MobileNetV2",
    "resnet101": "ResNet101",
    "inception_v3": "InceptionV3",
}


def input_size(name: str) -> int:
    return 299 if name == "inception_v3" else 224


def _input_of(path: str) -> dict[str, Any]:
    """Name and shape of the model's first input as convmend's native runner sees it;
    recorded in the notes so that the parent can write the input contract without
    importing a framework."""
    from convmend.runners import open_runner

    info = open_runner(path).inputs()[0]
    return {"name": info.name, "shape": list(info.shape)}


def torch_module(job: dict[str, Any]) -> dict[str, Any]:
    import torch

    from convmend.zoo.torch_models import build_torch_model

    model = build_torch_model(job["name"])
    # Saved through a file object: given a path, torch names the archive's folder after the
    # (temporary, random) file name, and the zoo would not be byte-identical across builds.
    with open(job["out"], "wb") as stream:
        torch.save(model.state_dict(), stream)
    size = input_size(job["name"])
    # What TorchRunner reports for a zoo state dict (it needs the sidecar to open one).
    return {
        "pretrained": job["name"] == "mobilenet_v2",
        "input": {"name": "input", "shape": [None, 3, size, size]},
    }


def onnx_from_torch(job: dict[str, Any]) -> dict[str, Any]:
    import onnx
    import torch

    from convmend.zoo.torch_models import torch_architecture

    model = torch_architecture(job["name"])
    model.load_state_dict(torch.load(job["src"], map_location="cpu", weights_only=True))
    model.eval()
    size = input_size(job["name"])
    example = (torch.zeros(1, 3, size, size),)
    dynamo = job["exporter"] == "dynamo"
    extra = {"external_data": False} if dynamo else {}
    with torch.no_grad():
        torch.onnx.export(
            model,
            example,
            job["out"],
            dynamo=dynamo,
            opset_version=job["opset"],
            input_names=["input"],
            output_names=["logits"],
            **extra,
        )
    written = onnx.load(job["out"], load_external_data=False)
    actual = max(o.version for o in written.opset_import if o.domain in ("", "ai.onnx"))
    notes: dict[str, Any] = {"opset_written": actual, "nodes": len(written.graph.node)}
    if actual != job["opset"]:
        notes["warning"] = f"exporter ignored opset {job['opset']} and wrote opset {actual}"
    notes["input"] = _input_of(job["out"])
    return notes


def _randomize_keras_batchnorm(model: Any, name: str) -> None:
    """Non-trivial BN parameters, with statistics of real images, so that folding mistakes
    show and the model still tells images apart: gamma/beta are drawn from a seeded
    generator, then one training-mode pass over the calibration images with momentum 0 sets
    every moving mean/variance to that batch's. A BatchNorm closing a residual branch gets
    smaller gamma/beta (see ``torch_models.randomize_batchnorm`` for why)."""
    import keras
    import numpy as np

    from convmend.zoo.build import RESIDUAL_GAMMA_SCALE, calibration_batch

    rng = np.random.default_rng(SEED)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [layer.momentum for layer in norms]
    for layer in norms:
        channels = layer.moving_mean.shape[0]
        scale = RESIDUAL_GAMMA_SCALE if _closes_residual(layer) else 1.0
        if layer.scale:
            layer.gamma.assign((rng.uniform(0.5, 1.5, channels) * scale).astype("float32"))
        if layer.center:
            layer.beta.assign((rng.standard_normal(channels) * 0.1 * scale).astype("float32"))
        layer.momentum = 0.0
    batch = calibration_batch(name, "keras_model").astype("float32")
    model(batch, training=True)
    for layer, momentum in zip(norms, saved, strict=True):
        layer.momentum = momentum
    _center_keras_classifier(model, batch)


def _closes_residual(layer: Any) -> bool:
    """Whether the layer's output goes straight into an Add (the end of a residual branch)."""
    import keras

    return any(
        isinstance(node.operation, keras.layers.Add) for node in layer._outbound_nodes
    )


def _center_keras_classifier(model: Any, batch: Any) -> None:
    """The last Dense layer's bias cancels the calibration batch's mean feature and the
    layer is scaled to logits of std 3 (see ``torch_models._center_classifier``)."""
    import keras
    import numpy as np

    from convmend.zoo.build import CALIBRATED_LOGIT_STD

    last = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    features = np.asarray(keras.Model(model.inputs, last.input)(batch, training=False))
    kernel = np.asarray(last.kernel)
    bias = -(features.mean(0) @ kernel)
    logits = features @ kernel + bias
    factor = CALIBRATED_LOGIT_STD / max(float(logits.std()), 1e-12)
    last.kernel.assign((kernel * factor).astype("float32"))
    last.bias.assign((bias * factor).astype("float32"))


def keras_model(job: dict[str, Any]) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    model = getattr(keras.applications, KERAS_APPS[job["name"]])(
        weights=None, classifier_activation=None
    )
    _randomize_keras_batchnorm(model, job["name"])
    model.save(job["out"])
    return {
        "layers": len(model.layers),
        "classifier_activation": None,
        "input": _input_of(job["out"]),
    }


def saved_model_from_keras(job: dict[str, Any]) -> dict[str, Any]:
    import keras

    model = keras.models.load_model(job["src"])
    model.export(job["out"], format="tf_saved_model")
    return {"api": "keras.Model.export(format='tf_saved_model')", "input": _input_of(job["out"])}


def tflite_from_keras(job: dict[str, Any]) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    model = keras.models.load_model(job["src"])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if job["mode"] in ("dynamic_int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if job["mode"] == "float16":
        converter.target_spec.supported_types = [tf.float16]
    with open(job["out"], "wb") as handle:
        handle.write(converter.convert())
    return {"api": "tf.lite.TFLiteConverter.from_keras_model", "input": _input_of(job["out"])}


def tflite_from_saved_model(job: dict[str, Any]) -> dict[str, Any]:
    """Plain float32 conversion of the SavedModel directory (its serving signature)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(job["src"])
    with open(job["out"], "wb") as handle:
        handle.write(converter.convert())
    return {
        "api": "tf.lite.TFLiteConverter.from_saved_model",
        "input": _input_of(job["out"]),
    }


def onnx_from_keras(job: dict[str, Any]) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    import tf2onnx

    model = keras.models.load_model(job["src"])
    size = input_size(job["name"])
    signature = (tf.TensorSpec((1, size, size, 3), tf.float32, name="input"),)
    tf2onnx.convert.from_keras(
        model, input_signature=signature, opset=job["opset"], output_path=job["out"]
    )
    return {"api": "tf2onnx.convert.from_keras", "input": _input_of(job["out"])}


def onnx_from_saved_model(job: dict[str, Any]) -> dict[str, Any]:
    """tf2onnx's own command line (``python -m tf2onnx.convert --saved-model``), run
    in this process; the input keeps the SavedModel's dynamic batch."""
    from tf2onnx import convert

    saved_argv = sys.argv
    sys.argv = [
        "tf2onnx.convert",
        "--saved-model",
        job["src"],
        "--output",
        job["out"],
        "--opset",
        str(job["opset"]),
    ]
    try:
        convert.main()
    finally:
        sys.argv = saved_argv
    return {"api": "python -m tf2onnx.convert --saved-model", "input": _input_of(job["out"])}


def describe_input(job: dict[str, Any]) -> dict[str, Any]:
    """For an artifact cached before its notes carried the input: open it and say."""
    return {"input": _input_of(job["src"])}


TASKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "torch_module": torch_module,
    "onnx_from_torch": onnx_from_torch,
    "keras_model": keras_model,
    "saved_model_from_keras": saved_model_from_keras,
    "tflite_from_keras": tflite_from_keras,
    "tflite_from_saved_model": tflite_from_saved_model,
    "onnx_from_keras": onnx_from_keras,
    "onnx_from_saved_model": onnx_from_saved_model,
    "describe_input": describe_input,
}


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    notes = TASKS[job["task"]](job)
    print(RESULT_PREFIX + json.dumps(notes), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
