"""Deterministic, cached builds of the zoo models and their conversions.

Every artifact is made in a subprocess with a timeout (see ``tasks.py``), written to a temp
name and renamed into place, and described by a JSON sidecar: what made it, from which
source file, with which package versions, and its sha256. An artifact whose sidecar matches
the request and whose bytes match the hash is reused; anything else is rebuilt.

Every artifact's sidecar also records its input contract (``convmend.contract``): how a
photo becomes its input. Source models get the zoo's own knowledge (torchvision for the
torch models; keras.applications' ``preprocess_input`` mode for the Keras ones) and each
conversion hands its source's contract on, adapted to the input it wrote.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convmend.errors import ConvmendError
from convmend.fileio import remove_model, sha256_of
from convmend.zoo.tasks import RESULT_PREFIX

MODEL_NAMES = ("mobilenet_v2", "resnet101", "inception_v3")
RECIPE_VERSION = 3  # bump when a recipe in tasks.py changes what it writes
DEFAULT_TIMEOUT = 1200.0
TFLITE_MODES = ("float32", "dynamic_int8", "float16")
TORCH_EXPORTERS = ("torchscript", "dynamo")
FORMATS = (
    "torch",
    "onnx-torchscript",
    "onnx-dynamo",
    "keras",
    "saved_model",
    "tflite-float32",
    "tflite-dynamic_int8",
    "tflite-float16",
    "tflite-saved_model",
    "onnx-tf2onnx",
    "onnx-tf2onnx-saved_model",
)

# keras.applications' preprocess_input mode of each model, as a convmend.preprocess preset.
KERAS_PRESETS = {
    "mobilenet_v2": "keras-tf",
    "resnet101": "keras-caffe",
    "inception_v3": "inception",
}
_TORCH_TASKS = ("torch_module", "onnx_from_torch")

_TORCH_PACKAGES = ("torch", "numpy")
_KERAS_PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "numpy")


def cache_dir() -> Path:
    """``$CONVMEND_CACHE`` or ``~/.cache/convmend``; created on first use."""
    root = Path(os.environ.get("CONVMEND_CACHE") or Path.home() / ".cache" / "convmend")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _versions(packages: Sequence[str]) -> dict[str, str]:
    found = {}
    for package in packages:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def _sha256(path: Path) -> str:
    return sha256_of(path)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar of a cached artifact (raises ConvmendError when absent or unreadable)."""
    sidecar = _sidecar(Path(path))
    try:
        return json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ConvmendError(f"no readable sidecar for {path}: {exc}") from exc


def _is_valid(path: Path, key: dict[str, Any]) -> bool:
    if not path.exists():
        return False
    try:
        meta = read_sidecar(path)
    except ConvmendError:
        return False
    return meta.get("key") == key and meta.get("sha256") == _sha256(path)



def _last_lines(text: str, count: int = 15) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def _run_subprocess(command: list[str], what: str, timeout: float) -> str:
    """Run one build step; its stdout is returned, its failure becomes a ConvmendError."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("CUDA_VISIBLE_DEVICES", "")
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        log = (
            (exc.stderr or b"").decode(errors="replace")
            if isinstance(exc.stderr, bytes)
            else (exc.stderr or "")
        )
        raise ConvmendError(f"{what} timed out after {timeout:.0f}s\n{_last_lines(log)}") from exc
    if proc.returncode != 0:
        raise ConvmendError(
            f"{what} failed (exit {proc.returncode}):\n{_last_lines(proc.stdout + proc.stderr)}"
        )
    return proc.stdout


def _build(path: Path, key: dict[str, Any], what: str, command_for: Any, timeout: float) -> Path:
    """Make ``path`` unless a valid copy exists; ``command_for(tmp)`` gives the command."""
    if _is_valid(path, key):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # The suffix is kept: Keras refuses to save to a name that does not end in ".keras".
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    start = time.monotonic()
    try:
        stdout = _run_subprocess(command_for(tmp), what, timeout)
        if not tmp.exists():
            raise ConvmendError(f"{what} reported success but wrote no {path.name}")
        notes: dict[str, Any] = {}
        for line in stdout.splitlines():
            if line.startswith(RESULT_PREFIX):
                notes = json.loads(line[len(RESULT_PREFIX) :])
        sha = _sha256(tmp)
        remove_model(path)
        os.replace(tmp, path)
    finally:
        remove_model(tmp)
    meta = {
        "artifact": path.name,
        "what": what,
        "key": key,
        "notes": notes,
        "sha256": sha,
        "seconds": round(time.monotonic() - start, 2),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    sidecar_tmp = path.with_name(f".{path.name}.json.tmp-{os.getpid()}")
    sidecar_tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    os.replace(sidecar_tmp, _sidecar(path))
    return path


def _task(
    job: dict[str, Any],
    what: str,
    path: Path,
    packages: Sequence[str],
    source: Path | None,
    timeout: float,
) -> Path:
    key = {
        "recipe": RECIPE_VERSION,
        **{k: v for k, v in job.items() if k != "src"},
        "versions": _versions(packages),
    }
    if source is not None:
        key["source"] = source.name
        key["source_sha256"] = read_sidecar(source)["sha256"]

    def command(tmp: Path) -> list[str]:
        full = dict(job, out=str(tmp))
        if source is not None:
            full["src"] = str(source)
        return [sys.executable, "-m", "convmend.zoo.tasks", json.dumps(full)]

    path = _build(path, key, what, command, timeout)
    _record_contract(path, job, source, timeout)
    return path


def zoo_preset(name: str, task: str) -> tuple[str, Any]:
    """(label, PreprocessSpec) the zoo knows for a model made by ``task``: torchvision's
    eval transform for the torch models (Resize 342 + CenterCrop 299 for InceptionV3),
    keras.applications' ``preprocess_input`` mode for the Keras ones and their exports."""
    import dataclasses

    from convmend import preprocess

    _check_name(name)
    if task in _TORCH_TASKS:
        spec = preprocess.preset("torchvision")
        if name == "inception_v3":
            spec = dataclasses.replace(spec, size=299, crop=299 / 342)
            return "torchvision (resize 342, crop 299)", spec
        return "torchvision", spec
    label = KERAS_PRESETS[name]
    return label, preprocess.preset(label)


CALIBRATION_IMAGES = 16
# Logit spread of a seeded classifier after calibration, about that of a trained model.
CALIBRATED_LOGIT_STD = 3.0
# gamma/beta of a seeded BatchNorm that closes a residual branch, relative to the others.
RESIDUAL_GAMMA_SCALE = 0.1


def calibration_batch(name: str, task: str) -> Any:
    """The first ``CALIBRATION_IMAGES`` packaged images, preprocessed as the zoo feeds the
    model that ``task`` makes: where seeded models take their BatchNorm statistics from."""
    from convmend.images import default_images

    _label, spec = zoo_preset(name, task)
    return spec.apply_batch(default_images(CALIBRATION_IMAGES).load_all())


def _model_input(path: Path, meta: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The first input's name and shape: from the build's notes, or (for an artifact cached
    before the notes carried it) by opening the artifact in a subprocess."""
    found = meta.get("notes", {}).get("input")
    if found:
        return found
    command = [
        sys.executable,
        "-m",
        "convmend.zoo.tasks",
        json.dumps({"task": "describe_input", "src": str(path)}),
    ]
    stdout = _run_subprocess(command, f"reading the input of {path.name}", timeout)
    for line in stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])["input"]
    raise ConvmendError(f"reading the input of {path.name} printed no result")


def _record_contract(path: Path, job: dict[str, Any], source: Path | None, timeout: float) -> None:
    """Write the artifact's input contract into its sidecar unless it is there already."""
    from convmend.contract import InputContract, write_contract

    meta = read_sidecar(path)
    if "contract" in meta:
        return
    model_input = _model_input(path, meta, timeout)
    shape = tuple(model_input["shape"])
    recorded = read_sidecar(source).get("contract") if source is not None else None
    if recorded is not None:
        base = InputContract.from_dict(recorded)
        first = base.origin.split(", handed on from ")[0]
        origin = f"{first}, handed on from {source.name}"
    else:
        label, spec = zoo_preset(job["name"], job["task"])
        origin = f"zoo: {label}"
        base = InputContract(spec, model_input["name"], shape, origin)
    write_contract(path, base.for_input(model_input["name"], shape, origin))


def _check_name(name: str) -> None:
    if name not in MODEL_NAMES:
        raise ConvmendError(f"unknown zoo model {name!r}; known: {', '.join(MODEL_NAMES)}")


def torch_module(name: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """State dict of the torch model (pretrained MobileNetV2, seeded random otherwise);
    load it with ``load_torch_module``."""
    _check_name(name)
    return _task(
        {"task": "torch_module", "name": name},
        f"torch build of {name}",
        cache_dir() / name / "torch.pth",
        _TORCH_PACKAGES,
        None,
        timeout,
    )


def load_torch_module(path: str | Path) -> Any:
    """Rebuild the architecture named in the sidecar and load the cached weights (eval)."""
    import torch

    from convmend.zoo.torch_models import torch_architecture

    meta = read_sidecar(path)
    model = torch_architecture(meta["key"]["name"])
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def onnx_from_torch(
    name: str,
    exporter: str = "torchscript",
    opset: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """``torch.onnx.export`` with a static 1x3xSxS input named ``input``.

    The dynamo exporter writes opset 18 at least: lower requests are recorded in the
    sidecar's notes rather than honored (onnx's version converter fails on its output).
    """
    _check_name(name)
    if exporter not in TORCH_EXPORTERS:
        raise ConvmendError(f"unknown torch exporter {exporter!r}; use torchscript or dynamo")
    opset = opset or (18 if exporter == "dynamo" else 17)
    source = torch_module(name, timeout)
    packages = (*_TORCH_PACKAGES, "onnx") + (("onnxscript",) if exporter == "dynamo" else ())
    return _task(
        {"task": "onnx_from_torch", "name": name, "exporter": exporter, "opset": opset},
        f"torch.onnx.export({exporter}, opset {opset}) of {name}",
        cache_dir() / name / f"torch-{exporter}-opset{opset}.onnx",
        packages,
        source,
        timeout,
    )


def keras_model(name: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """keras.applications model, weights=None, seed 0, ending in logits (no softmax, as the
    torch models: a softmax turns a logit's absolute rounding error into a relative one, so
    a faithful float32 conversion would read 1e-4 off), calibrated on the packaged images
    (random BatchNorm gamma/beta with statistics of those images, classifier centered)."""
    _check_name(name)
    return _task(
        {"task": "keras_model", "name": name},
        f"keras build of {name}",
        cache_dir() / name / "keras.keras",
        _KERAS_PACKAGES,
        None,
        timeout,
    )


def saved_model_from_keras(name: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """TF SavedModel directory written by ``keras.Model.export``."""
    source = keras_model(name, timeout)
    return _task(
        {"task": "saved_model_from_keras", "name": name},
        f"keras export of {name} to SavedModel",
        cache_dir() / name / "keras-saved_model",
        _KERAS_PACKAGES,
        source,
        timeout,
    )


def tflite_from_keras(name: str, mode: str = "float32", timeout: float = DEFAULT_TIMEOUT) -> Path:
    """TFLiteConverter.from_keras_model: plain float32, dynamic-range int8 or float16."""
    if mode not in TFLITE_MODES:
        raise ConvmendError(f"unknown tflite mode {mode!r}; use {', '.join(TFLITE_MODES)}")
    source = keras_model(name, timeout)
    return _task(
        {"task": "tflite_from_keras", "name": name, "mode": mode},
        f"TFLiteConverter({mode}) of {name}",
        cache_dir() / name / f"keras-{mode}.tflite",
        _KERAS_PACKAGES,
        source,
        timeout,
    )


def tflite_from_saved_model(name: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """TFLiteConverter.from_saved_model on the SavedModel directory, plain float32."""
    source = saved_model_from_keras(name, timeout)
    return _task(
        {"task": "tflite_from_saved_model", "name": name},
        f"TFLiteConverter.from_saved_model (float32) of {name}",
        cache_dir() / name / "saved_model-float32.tflite",
        _KERAS_PACKAGES,
        source,
        timeout,
    )


def source_models(name: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Path]:
    """The four source models of a zoo model, by framework: the torch state dict, the
    ``.keras`` file, the SavedModel directory exported from it and the float32 ``.tflite``
    converted from that SavedModel."""
    _check_name(name)
    return {
        "torch": torch_module(name, timeout),
        "keras": keras_model(name, timeout),
        "tf": saved_model_from_keras(name, timeout),
        "tflite": tflite_from_saved_model(name, timeout),
    }


def onnx_from_keras(
    name: str, opset: int = 17, method: str = "from_keras", timeout: float = DEFAULT_TIMEOUT
) -> Path:
    """tf2onnx: ``from_keras`` (static 1xSxSx3 input named ``input``) or ``saved_model``
    (its CLI on the exported SavedModel, dynamic batch). Both work with Keras 3."""
    if method == "from_keras":
        source = keras_model(name, timeout)
        task = "onnx_from_keras"
    elif method == "saved_model":
        source = saved_model_from_keras(name, timeout)
        task = "onnx_from_saved_model"
    else:
        raise ConvmendError(f"unknown tf2onnx method {method!r}; use from_keras or saved_model")
    suffix = "" if method == "from_keras" else "-saved_model"
    return _task(
        {"task": task, "name": name, "opset": opset},
        f"tf2onnx {method} (opset {opset}) of {name}",
        cache_dir() / name / f"keras-tf2onnx{suffix}-opset{opset}.onnx",
        (*_KERAS_PACKAGES, "tf2onnx", "onnx"),
        source,
        timeout,
    )


def build_format(name: str, fmt: str, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """One (model, format) cell of the zoo, by the names in ``FORMATS``."""
    if fmt == "torch":
        return torch_module(name, timeout)
    if fmt.startswith("onnx-") and fmt.removeprefix("onnx-") in TORCH_EXPORTERS:
        return onnx_from_torch(name, fmt.removeprefix("onnx-"), timeout=timeout)
    if fmt == "keras":
        return keras_model(name, timeout)
    if fmt == "saved_model":
        return saved_model_from_keras(name, timeout)
    if fmt == "tflite-saved_model":
        return tflite_from_saved_model(name, timeout)
    if fmt.startswith("tflite-"):
        return tflite_from_keras(name, fmt.removeprefix("tflite-"), timeout)
    if fmt == "onnx-tf2onnx":
        return onnx_from_keras(name, timeout=timeout)
    if fmt == "onnx-tf2onnx-saved_model":
        return onnx_from_keras(name, method="saved_model", timeout=timeout)
    raise ConvmendError(f"unknown zoo format {fmt!r}; known: {', '.join(FORMATS)}")


def build_all(
    models: Sequence[str] = MODEL_NAMES,
    formats: Sequence[str] = FORMATS,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[tuple[str, str], Path | ConvmendError]:
    """Build every cell, going on past failures; each value is a path or the error."""
    results: dict[tuple[str, str], Path | ConvmendError] = {}
    for name in models:
        for fmt in formats:
            try:
                results[(name, fmt)] = build_format(name, fmt, timeout)
            except ConvmendError as exc:
                results[(name, fmt)] = exc
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m convmend.zoo.build", description="Build the convmend model zoo cache."
    )
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    args = parser.parse_args(argv)
    failed = 0
    for name in args.models:
        for fmt in args.formats:
            start = time.monotonic()
            try:
                path = build_format(name, fmt, args.timeout)
                status = str(path)
            except ConvmendError as exc:
                failed += 1
                lines = str(exc).splitlines()
                status = "FAILED: " + " | ".join(lines[:1] + lines[-1:])
            print(f"{name:14s} {fmt:26s} {time.monotonic() - start:7.1f}s  {status}", flush=True)
    print(f"cache: {cache_dir()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
