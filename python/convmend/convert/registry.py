"""The converters convmend knows, what each reads and writes, and the chains they compose.

A converter is data: a name, the formats it reads and writes, the task that runs it (a
function in one of the task modules, run as a script in a subprocess), its options, the
packages whose versions identify it, and the environment whose Python runs it. Formats are
framework names: ``torch``, ``keras``, ``tf`` (a SavedModel), ``tflite`` and ``onnx``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import subprocess
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from convmend.errors import ConvmendError

FORMATS = ("torch", "keras", "tf", "tflite", "onnx")
SUFFIX = {"torch": ".pt2", "keras": ".keras", "tf": "", "tflite": ".tflite", "onnx": ".onnx"}
MAIN_ENV = "main"
TASK_DIR = Path(__file__).resolve().parent
REPO_ROOT = TASK_DIR.parents[2]
SIDE_ENV_ROOT = REPO_ROOT / ".venv-converters"


ONNX2TF_INPUT = (0, 2, 3, 1)


@dataclasses.dataclass(frozen=True)
class Converter:
    name: str
    reads: str
    writes: str
    module: str  # task module in this package, run as a script: builtin, thirdparty, legacy
    task: str
    options: tuple[tuple[str, Any], ...] = ()
    packages: tuple[str, ...] = ()
    env: str = MAIN_ENV
    lossy: str | None = None  # why the output is lossy by declaration (quantization, ...)
    variant: bool = False  # an alternative setting: used alone or as a chain's last step
    description: str = ""
    # How the converter permutes a 4-D image input's axes whatever its layout: onnx2tf reads
    # every 4-D ONNX input as NCHW and makes it NHWC, so an NHWC input comes out as NWCH.
    input_permutation: tuple[int, ...] | None = None

    def handed_layout(self, layout: str) -> str | None:
        """The input layout this converter makes of a source input in ``layout``."""
        if self.input_permutation is None or len(layout) != len(self.input_permutation):
            return None
        return "".join(layout[k] for k in self.input_permutation)

    @property
    def option_dict(self) -> dict[str, Any]:
        return dict(self.options)

    def python(self) -> Path:
        """The interpreter that runs this converter's task."""
        if self.env == MAIN_ENV:
            import sys

            return Path(sys.executable)
        return SIDE_ENV_ROOT / self.env / "bin" / "python"

    def script(self) -> Path:
        """A task module of this package by name, or a user's own script by path."""
        if self.module.endswith(".py"):
            return Path(self.module)
        return TASK_DIR / f"{self.module}.py"

    def available(self) -> str | None:
        """None when the converter can run here, else why not."""
        if self.env != MAIN_ENV and not self.python().exists():
            return (f"its environment {self.python().parent.parent} does not exist "
                    "(scripts/converter_envs.sh creates it)")
        missing = [p for p in self.packages if _version(self.env, p) is None]
        if missing:
            return f"package(s) not installed in the {self.env} environment: {', '.join(missing)}"
        return None

    def versions(self) -> dict[str, str]:
        return {p: _version(self.env, p) or "missing" for p in self.packages}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reads": self.reads,
            "writes": self.writes,
            "options": self.option_dict,
            "versions": self.versions(),
            "env": self.env,
            "lossy": self.lossy,
            "description": self.description,
        }


@cache
def _version(env: str, package: str) -> str | None:
    if env == MAIN_ENV:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return None
    python = SIDE_ENV_ROOT / env / "bin" / "python"
    if not python.exists():
        return None
    probe = (
        "import importlib.metadata as m, sys\n"
        "try: print(m.version(sys.argv[1]))\n"
        "except m.PackageNotFoundError: pass\n"
    )
    try:
        out = subprocess.run([str(python), "-c", probe, package], capture_output=True,
                             text=True, timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out or None


_TF = ("tensorflow-cpu", "keras")
_INT8 = "weights quantized to int8 (TFLiteConverter Optimize.DEFAULT, dynamic range)"


def _builtin() -> list[Converter]:
    found = []
    for src in ("keras", "tf"):
        origin = "keras" if src == "keras" else "saved_model"
        found += [
            Converter(f"tflite_converter.{origin}", src, "tflite", "builtin", "tflite_converter",
                      (("from", origin), ("mode", "float32")), _TF,
                      description=f"tf.lite.TFLiteConverter.from_{origin}_model".replace(
                          "saved_model_model", "saved_model")),
            Converter(f"tflite_converter.{origin}.optimize_default", src, "tflite", "builtin",
                      "tflite_converter", (("from", origin), ("mode", "dynamic_int8")), _TF,
                      lossy=_INT8, variant=True,
                      description="TFLiteConverter with optimizations=[Optimize.DEFAULT]"),
        ]
    found.append(Converter("keras.export", "keras", "tf", "builtin", "keras_export", (), _TF,
                           description="keras.Model.export(format='tf_saved_model')"))
    for src, origin in (("keras", "keras"), ("tf", "saved_model"), ("tflite", "tflite")):
        for opset, variant in ((13, True), (18, False)):
            found.append(Converter(
                f"tf2onnx.{origin}.opset{opset}", src, "onnx", "builtin", "tf2onnx",
                (("from", origin), ("opset", opset)), ("tf2onnx", *_TF), variant=variant,
                description=f"tf2onnx from {origin}, opset {opset}"))
    found += [
        Converter("torch.onnx.torchscript", "torch", "onnx", "builtin", "torch_onnx",
                  (("exporter", "torchscript"), ("opset", 17)), ("torch", "onnx"),
                  description="torch.onnx.export(dynamo=False), TorchScript-based, opset 17"),
        Converter("torch.onnx.dynamo", "torch", "onnx", "builtin", "torch_onnx",
                  (("exporter", "dynamo"), ("opset", 18)), ("torch", "onnx", "onnxscript"),
                  description="torch.onnx.export(dynamo=True), opset 18"),
    ]
    return found


def _thirdparty() -> list[Converter]:
    return [
        Converter("onnx2torch", "onnx", "torch", "thirdparty", "onnx2torch", (),
                  ("onnx2torch", "torch"), description="onnx2torch.convert, saved as torch.export"),
        Converter("onnx2tf.saved_model", "onnx", "tf", "thirdparty", "onnx2tf",
                  (("output", "saved_model"),), ("onnx2tf",), description="onnx2tf to SavedModel",
                  input_permutation=ONNX2TF_INPUT),
        Converter("onnx2tf.keras", "onnx", "keras", "thirdparty", "onnx2tf",
                  (("output", "keras"),), ("onnx2tf",), description="onnx2tf to Keras (.keras)",
                  input_permutation=ONNX2TF_INPUT),
        Converter("onnx2tf.tflite", "onnx", "tflite", "thirdparty", "onnx2tf",
                  (("output", "tflite"),), ("onnx2tf",),
                  description="onnx2tf to TFLite float32", input_permutation=ONNX2TF_INPUT),
        Converter("nobuco", "torch", "keras", "thirdparty", "nobuco", (), ("nobuco", "torch"),
                  description="nobuco.pytorch_to_keras"),
        Converter("litert_torch", "torch", "tflite", "thirdparty", "litert_torch", (),
                  ("litert-torch", "torch"), description="litert_torch.convert"),
    ]


def _legacy() -> list[Converter]:
    return [
        Converter("onnx_tf", "onnx", "tf", "legacy", "onnx_tf", (), ("onnx-tf",), env="onnx-tf",
                  description="onnx-tf backend.prepare(...).export_graph (older TensorFlow)"),
        Converter("onnxmltools", "keras", "onnx", "legacy", "onnxmltools", (),
                  ("onnxmltools",), env="onnxmltools",
                  description="onnxmltools.convert_keras (older TensorFlow)"),
    ]


def _user_converters(path: str) -> list[Converter]:
    """Converters a user registers in a JSON file (``$CONVMEND_CONVERTERS``): a list of
    objects with name, reads, writes, script (a Python file following protocol.py), task,
    and optionally options, lossy and description. Run by the main environment's Python."""
    try:
        entries = json.loads(Path(path).read_text())
        if not isinstance(entries, list):
            raise ValueError("the top level must be a list")
        found = []
        for entry in entries:
            script = Path(entry["script"]).resolve()
            if not script.is_file():
                raise ValueError(f"script not found: {script}")
            found.append(Converter(
                str(entry["name"]), check_format(entry["reads"]), check_format(entry["writes"]),
                str(script), str(entry["task"]), tuple(sorted(entry.get("options", {}).items())),
                lossy=entry.get("lossy"), description=entry.get("description", "user converter")))
        return found
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConvmendError(f"cannot read converters from {path} ($CONVMEND_CONVERTERS): "
                            f"{exc}") from exc


@cache
def _all(user_file: str | None) -> tuple[Converter, ...]:
    found = _builtin() + _thirdparty() + _legacy()
    if user_file:
        known = {c.name for c in found}
        for extra in _user_converters(user_file):
            if extra.name in known:
                raise ConvmendError(f"converter {extra.name!r} in {user_file} is already "
                                    "registered")
            found.append(extra)
    return tuple(found)


def converters() -> tuple[Converter, ...]:
    """Every registered converter: convmend's own, then those of ``$CONVMEND_CONVERTERS``."""
    return _all(os.environ.get("CONVMEND_CONVERTERS") or None)


def get(name: str) -> Converter:
    for converter in converters():
        if converter.name == name:
            return converter
    raise ConvmendError(
        f"unknown converter {name!r}; known: {', '.join(c.name for c in converters())}")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ConvmendError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return fmt


Chain = tuple[Converter, ...]


def chains(src: str, dst: str, max_steps: int = 2,
           pool: Iterable[Converter] | None = None) -> list[Chain]:
    """Every chain of converters from ``src`` to ``dst`` with at most ``max_steps`` steps,
    never passing a format twice. A variant converter (an older opset, a lossy option)
    appears only as the last step, so chains differ in the converters they use and not
    in every combination of options. Ordered by length, then by name."""
    check_format(src)
    check_format(dst)
    pool = tuple(pool if pool is not None else converters())
    found: list[Chain] = []

    def walk(fmt: str, path: Chain, seen: frozenset[str]) -> None:
        for conv in pool:
            if conv.reads != fmt or conv.writes in seen:
                continue
            if conv.writes == dst:
                found.append((*path, conv))
            elif len(path) + 1 < max_steps and not conv.variant:
                walk(conv.writes, (*path, conv), seen | {conv.writes})

    if src != dst:
        walk(src, (), frozenset({src}))
    return sorted(found, key=lambda c: (len(c), [x.name for x in c]))


def chain_name(chain: Sequence[Converter]) -> str:
    return " > ".join(c.name for c in chain)


def parse_chain(text: str) -> Chain:
    """``a > b`` or ``a,b`` into converters, checking that each step reads what the last
    one wrote."""
    names = [n.strip() for n in text.replace(">", ",").split(",") if n.strip()]
    chain = tuple(get(n) for n in names)
    for first, second in zip(chain, chain[1:], strict=False):
        if first.writes != second.reads:
            raise ConvmendError(f"{first.name} writes {first.writes} but {second.name} reads "
                                f"{second.reads}")
    return chain


def preference(chain: Sequence[Converter]) -> tuple[Any, ...]:
    """Sort key for trying chains: faithful options first (no lossy or variant step), then
    converters of the main environment, then fewer steps, then by name."""
    return (any(c.lossy for c in chain), any(c.variant for c in chain),
            any(c.env != MAIN_ENV for c in chain), len(chain), [c.name for c in chain])


def preferred_chains(src: str, dst: str, max_steps: int = 2) -> list[Chain]:
    return sorted(chains(src, dst, max_steps), key=preference)
