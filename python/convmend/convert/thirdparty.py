"""Conversions by third-party converters, each run in its own subprocess.

Run as a script by the main environment's Python::

    .venv/bin/python python/convmend/convert/thirdparty.py '<json job>'

so only ``protocol`` (beside this file) and the standard library are imported at the top;
each task imports its converter lazily. Tasks and what they write to ``job["out"]``:

``onnx2torch``
    ONNX -> ``torch.export`` program (``.pt2``) via ``onnx2torch.convert`` then
    ``torch.export.export`` of the resulting ``fx.GraphModule``.
``onnx2tf``
    ONNX -> one of a SavedModel directory, a ``.keras`` file or a float32 ``.tflite``
    (``options["output"]``). onnx2tf builds a **tf_keras (Keras 2)** model with NHWC
    inputs; its ``.keras`` file loads with ``tf_keras.models.load_model``, not Keras 3.
``nobuco``
    PyTorch -> ``.keras`` written by tf_keras: nobuco 0.17 only works with Keras 2 (it
    imports ``keras.src.engine``), so inside this subprocess ``keras`` is aliased to
    ``tf_keras``. The file loads with ``tf_keras.models.load_model``, not Keras 3.
``litert_torch``
    PyTorch -> float32 ``.tflite`` via ``litert_torch.convert(...).export``; input stays
    NCHW as the torch module takes it.

Quirks handled here (see each task): the PyPI torchvision wheel cannot load its native ops
beside the CPU torch wheel, but onnx2torch and nobuco import it at import time, so a stub
``torchvision`` module stands in (only detection ops such as NMS/RoIAlign need the real
one); onnx2tf downloads sample images from the network for its self-check, which is
replaced by deterministic random images.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import protocol

# The tflite runtime and TF print a lot of C++ log lines on import; keep stderr readable.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _ensure_torchvision() -> str:
    """Import torchvision, or register a stub of the few names onnx2torch and nobuco
    import at module level. Returns what was done, for the notes."""
    try:
        import torchvision  # noqa: F401

        return "torchvision " + str(_version("torchvision"))
    except Exception:  # noqa: BLE001 - missing, or a wheel whose native ops fail to load
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]

    def unavailable(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("torchvision is not installed in this environment (stubbed)")

    class _Unavailable:
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            unavailable()

    names = ("torchvision", "torchvision.ops", "torchvision.ops.boxes",
             "torchvision.ops.poolers", "torchvision.transforms",
             "torchvision.transforms.functional", "torchvision.utils")
    modules = {name: types.ModuleType(name) for name in names}
    for name, module in modules.items():
        module.__dict__["__convmend_stub__"] = True
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(modules[parent], child, module)
        sys.modules[name] = module
    ops = modules["torchvision.ops"]
    for fn in ("nms", "batched_nms", "roi_align", "roi_pool", "box_convert", "deform_conv2d"):
        setattr(ops, fn, unavailable)
    ops.StochasticDepth = type("StochasticDepth", (_Unavailable,), {})
    ops.FrozenBatchNorm2d = type("FrozenBatchNorm2d", (_Unavailable,), {})
    modules["torchvision.ops.boxes"]._upcast = unavailable
    modules["torchvision"]._is_tracing = lambda: False
    # nobuco registers a converter for torch.ops.torchvision.nms: declare the op's schema
    # (no kernel) so that the attribute exists.
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018
    except (AttributeError, RuntimeError):
        lib = torch.library.Library("torchvision", "DEF")  # noqa: TOR901
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        modules["torchvision"].__dict__["_convmend_lib"] = lib  # keep the definition alive
    return "stub (torchvision cannot load beside the CPU torch wheel; detection ops fail)"


def _alias_keras_to_tf_keras() -> None:
    """Make ``import keras`` / ``keras.src...`` resolve to tf_keras (Keras 2) in this
    process, for nobuco, which is written against Keras 2."""
    import importlib
    import importlib.abc
    import importlib.util

    class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
            if name == "keras" or name.startswith("keras."):
                return importlib.util.spec_from_loader(name, self)
            return None

        def create_module(self, spec: Any) -> Any:
            return importlib.import_module("tf_keras" + spec.name[len("keras"):])

        def exec_module(self, module: Any) -> None:
            pass

    loaded = [m for m in sys.modules if m == "keras" or m.startswith("keras.")]
    if loaded:
        raise RuntimeError("keras (3) was imported before the tf_keras alias was set up")
    sys.meta_path.insert(0, _Alias())


def _input_shape_of(job: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in job["model"]["input_shape"])


# --- onnx2torch -------------------------------------------------------------------------


def onnx2torch(job: dict[str, Any]) -> dict[str, Any]:
    """ONNX -> ``.pt2``: ``onnx2torch.convert(path)`` gives an ``fx.GraphModule`` made of
    ordinary ``nn.Module`` s, which ``torch.export.export`` takes as is."""
    torchvision_note = _ensure_torchvision()
    import onnx2torch as o2t
    import torch

    from convmend.convert.torch_source import save_exported

    started = time.perf_counter()
    module = o2t.convert(job["src"]).eval()
    converted = time.perf_counter() - started
    with torch.no_grad():
        saved = save_exported(module, _input_shape_of(job), job["out"])
    return {
        "api": "onnx2torch.convert + torch.export.export",
        "package": "onnx2torch",
        "version": _version("onnx2torch"),
        "torch": torch.__version__,
        "torchvision": torchvision_note,
        "input_shape": list(_input_shape_of(job)),
        "input_layout": job["model"].get("input_layout", "nchw"),
        "convert_seconds": round(converted, 2),
        **saved,
    }


# --- onnx2tf ----------------------------------------------------------------------------

_SAVED_MODEL_PARTS = ("saved_model.pb", "fingerprint.pb", "variables", "assets")


def onnx2tf(job: dict[str, Any]) -> dict[str, Any]:
    """ONNX -> SavedModel dir, ``.keras`` (tf_keras) or float32 ``.tflite``.

    ``onnx2tf.convert(..., disable_model_save=True)`` returns the tf_keras model it built;
    the one requested artifact is then written the way onnx2tf itself writes it (its
    ``output_signaturedefs`` SavedModel, its ``output_keras_v3`` file, its
    ``*_float32.tflite`` converter settings), into a temp dir beside ``out`` and moved.
    Letting onnx2tf save everything costs about 3x the time (it always writes a
    SavedModel and float32 + float16 .tflite).
    """
    output = (job.get("options") or {}).get("output", "saved_model")
    if output not in ("saved_model", "keras", "tflite"):
        raise ValueError(f"onnx2tf: options.output is saved_model|keras|tflite, not {output!r}")
    import numpy as np
    import onnx2tf as o2tf
    import onnx2tf.onnx2tf as o2tf_core
    import tensorflow as tf
    import tf_keras

    # onnx2tf's accuracy self-check downloads 20 sample images (20x128x128x3 float32 in
    # [0, 1]) from the network; offline that raises. Use seeded random images instead.
    def sample_images() -> Any:
        return np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32)

    o2tf_core.download_test_image_data = sample_images

    out = Path(job["out"])
    if out.exists():
        raise FileExistsError(f"{out} exists")
    work = Path(tempfile.mkdtemp(prefix=".onnx2tf-", dir=out.parent))
    cwd = os.getcwd()
    try:
        os.chdir(work)  # onnx2tf drops helper files into the working directory
        started = time.perf_counter()
        model = o2tf.convert(
            input_onnx_file_path=str(Path(job["src"]).resolve()),
            output_folder_path=str(work / "onnx2tf"),
            disable_model_save=True,
            non_verbose=True,
        )
        converted = time.perf_counter() - started
        notes: dict[str, Any] = {
            "package": "onnx2tf",
            "version": _version("onnx2tf"),
            "tf_keras": _version("tf_keras"),
            "tensorflow": tf.__version__,
            "options": {"output": output},
            "input_shape": [d for d in model.inputs[0].shape],
            "input_layout": "nhwc" if len(model.inputs[0].shape) == 4 else "as-source",
            "output_shape": [d for d in model.outputs[0].shape],
            "convert_seconds": round(converted, 2),
            "warnings": ["onnx2tf's sample images replaced by seeded random data (offline)"],
        }
        started = time.perf_counter()
        if output == "keras":
            from convmend.runners import tf_keras_walks_fast

            target = work / "model.keras"
            tf_keras_walks_fast()  # the save walks the same attributes as the load
            model.save(str(target), save_format="keras_v3")
            notes["api"] = "onnx2tf.convert(disable_model_save=True); tf_keras Model.save(keras_v3)"
            notes["load_with"] = "tf_keras.models.load_model (Keras 3 cannot: tf_keras classes)"
        elif output == "saved_model":
            target = work / "saved_model"
            archive = tf_keras.export.ExportArchive()
            archive.track(model)
            archive.add_endpoint(
                name="serving_default",
                fn=lambda *inputs: model(inputs),
                input_signature=[tf.TensorSpec(t.shape, t.dtype, t.name) for t in model.inputs],
            )
            archive.write_out(str(target))
            notes["api"] = "onnx2tf.convert(disable_model_save=True); tf_keras ExportArchive"
            notes["signature"] = "serving_default"
        else:
            target = work / "model_float32.tflite"
            try:
                converter = tf.lite.TFLiteConverter.from_keras_model(model)
                notes["api"] = "onnx2tf.convert; tf.lite.TFLiteConverter.from_keras_model"
            except Exception:  # noqa: BLE001 - onnx2tf's own fallback
                run = tf.function(
                    lambda *inputs: model(inputs),
                    input_signature=[tf.TensorSpec(t.shape, t.dtype, t.name)
                                     for t in model.inputs],
                )
                converter = tf.lite.TFLiteConverter.from_concrete_functions(
                    [run.get_concrete_function()])
                notes["api"] = "onnx2tf.convert; tf.lite.TFLiteConverter.from_concrete_functions"
            converter.target_spec.supported_ops = [
                tf.lite.OpsSet.TFLITE_BUILTINS,
                tf.lite.OpsSet.SELECT_TF_OPS,
            ]
            target.write_bytes(converter.convert())
        notes["save_seconds"] = round(time.perf_counter() - started, 2)
        os.replace(target, out)
    finally:
        os.chdir(cwd)
        shutil.rmtree(work, ignore_errors=True)
    return notes


# --- nobuco -----------------------------------------------------------------------------


def nobuco(job: dict[str, Any]) -> dict[str, Any]:
    """PyTorch -> ``.keras`` (tf_keras). Input and output in TensorFlow channel order
    (NHWC input), via ``nobuco.pytorch_to_keras(..., ChannelOrder.TENSORFLOW)``."""
    _alias_keras_to_tf_keras()
    torchvision_note = _ensure_torchvision()
    import nobuco as nb
    import tf_keras
    import torch

    from convmend.convert.torch_source import load_module

    module = load_module(job["src"]).eval()
    shape = _input_shape_of(job)
    example = torch.zeros(*shape)
    started = time.perf_counter()
    keras_model = nb.pytorch_to_keras(
        module,
        args=[example],
        inputs_channel_order=nb.ChannelOrder.TENSORFLOW,
        outputs_channel_order=nb.ChannelOrder.TENSORFLOW,
        # Validating every nested module triples the time (about 95 s against 30 s for
        # MobileNetV2); the whole model's outputs are still compared with PyTorch's.
        full_validation=False,
    )
    converted = time.perf_counter() - started
    started = time.perf_counter()
    target = Path(job["out"])
    keras_model.save(str(target))
    return {
        "api": "nobuco.pytorch_to_keras(inputs/outputs_channel_order=ChannelOrder.TENSORFLOW)",
        "package": "nobuco",
        "version": _version("nobuco"),
        "tf_keras": tf_keras.__version__,
        "torchvision": torchvision_note,
        "source_input_shape": list(shape),
        "input_shape": [d for d in keras_model.inputs[0].shape],
        "input_layout": "nhwc",
        "options": {"full_validation": False},
        "convert_seconds": round(converted, 2),
        "save_seconds": round(time.perf_counter() - started, 2),
        "load_with": "tf_keras.models.load_model (nobuco builds a Keras 2 model; Keras 3 "
                     "cannot load it)",
        "warnings": ["keras aliased to tf_keras in the converter process (nobuco needs Keras 2)"],
    }


# --- litert_torch -----------------------------------------------------------------------


def litert_torch(job: dict[str, Any]) -> dict[str, Any]:
    """PyTorch -> float32 ``.tflite``: ``litert_torch.convert(module, sample_args).export``."""
    import torch

    try:
        import litert_torch as lt

        package = "litert-torch"
    except ImportError:  # the package's name before 0.8
        import ai_edge_torch as lt

        package = "ai-edge-torch"
    from convmend.convert.torch_source import load_module

    module = load_module(job["src"]).eval()
    shape = _input_shape_of(job)
    started = time.perf_counter()
    edge_model = lt.convert(module, (torch.zeros(*shape),))
    converted = time.perf_counter() - started
    edge_model.export(str(job["out"]))
    return {
        "api": f"{package.replace('-', '_')}.convert(module, sample_args).export(out)",
        "package": package,
        "version": _version(package),
        "torch": torch.__version__,
        "input_shape": list(shape),
        "input_layout": job["model"].get("input_layout", "nchw"),
        "convert_seconds": round(converted, 2),
    }


TASKS = {
    "onnx2torch": onnx2torch,
    "onnx2tf": onnx2tf,
    "nobuco": nobuco,
    "litert_torch": litert_torch,
}

if __name__ == "__main__":
    sys.exit(protocol.main(TASKS, sys.argv))
