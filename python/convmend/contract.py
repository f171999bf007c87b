"""A model's input contract: which input the photos go to and how they are preprocessed.

The contract is a ``PreprocessSpec`` bound to one model input, plus where that knowledge
came from. It is recorded in the model's sidecar (``<model>.json``, key ``"contract"``) by
the zoo and by ``convmend convert``; a converter hands its source's contract on with
``for_input``, which keeps the normalization and adapts layout and size to the converted
model's input. ``contract_of`` finds the best contract a model has, in this order:

1. an explicit override (a preset name or a ``preprocess.parse_spec`` string),
2. the contract recorded in the model's sidecar,
3. the zoo's own knowledge of a zoo artifact whose sidecar predates recorded contracts,
4. a guess from the input shape: NCHW -> torchvision, NHWC -> keras-tf.

numpy + PIL only: nothing here imports a framework unless a runner must be opened to learn
the model's input shape.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from convmend.errors import ConvmendError
from convmend.preprocess import PreprocessSpec, parse_spec, preset

if TYPE_CHECKING:
    from convmend.runners import Runner

SIDECAR_KEY = "contract"
GUESSED = "guessed from input shape"


def _dims(shape: Sequence[int | None]) -> tuple[int | None, ...]:
    """Shape with every unknown dimension (None, or a negative/zero placeholder) as None."""
    return tuple(None if d is None or int(d) <= 0 else int(d) for d in shape)


def layout_of(shape: Sequence[int | None], fallback: str) -> str:
    """The layout of a 4-D image input from where its 3-channel axis is: ``fallback`` when
    that axis is ``fallback``'s channel axis or cannot be told (a dynamic or a 3x3 image),
    else nchw, nhcw or nhwc for a channel axis 1, 2 or 3 (a shape cannot tell height from
    width; a converter that swapped them says so through ``fallback``)."""
    shape = _dims(shape)
    axes = [k for k in (1, 2, 3) if shape[k] == 3]
    if len(axes) != 1 or fallback.index("c") == axes[0]:
        return fallback
    return {1: "nchw", 2: "nhcw", 3: "nhwc"}[axes[0]]


def _image_size(shape: tuple[int | None, ...], layout: str) -> int | None:
    height, width = shape[layout.index("h")], shape[layout.index("w")]
    if height is not None and width is not None and height != width:
        raise ConvmendError(
            f"input shape {shape} takes {height}x{width} images; convmend's preprocessing "
            "makes square images only"
        )
    return height if height is not None else width


def _check_image_input(input_name: str, shape: tuple[int | None, ...]) -> None:
    if len(shape) != 4:
        raise ConvmendError(
            f"input {input_name!r} has shape {list(shape)}; images need a 4-D input"
        )


@dataclass(frozen=True)
class InputContract:
    """How photos become the input ``input_name`` of shape ``input_shape`` (None for a
    dynamic dimension), and where that was learned (``origin``)."""

    spec: PreprocessSpec
    input_name: str
    input_shape: tuple[int | None, ...]
    origin: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", _dims(self.input_shape))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict`` inverts it exactly."""
        return {
            "spec": self.spec.to_dict(),
            "spec_string": self.spec.to_string(),
            "input_name": self.input_name,
            "input_shape": list(self.input_shape),
            "origin": self.origin,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputContract:
        try:
            return cls(
                spec=PreprocessSpec.from_dict(data["spec"]),
                input_name=str(data["input_name"]),
                input_shape=tuple(data["input_shape"]),
                origin=str(data["origin"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConvmendError(f"malformed input contract {dict(data)!r}: {exc}") from exc

    def for_input(
        self, input_name: str, input_shape: Sequence[int | None], origin: str,
        layout: str | None = None,
    ) -> InputContract:
        """Same normalization (scale/mean/std/order/resize/crop), layout and size adapted to
        another model's input, what a converter hands on. The layout is decided from where
        the 3-channel axis is; ``layout`` is what the converter is known to make of this
        contract's layout and wins where the shape agrees with it. An unknown (dynamic)
        image size keeps this contract's size; the crop fraction is kept, so a crop 224 of
        256 becomes a crop 299 of 342."""
        shape = _dims(input_shape)
        _check_image_input(input_name, shape)
        layout = layout_of(shape, layout or self.spec.layout)
        size = _image_size(shape, layout) or self.spec.size
        spec = dataclasses.replace(self.spec, layout=layout, size=size)
        return InputContract(spec, input_name, shape, origin)

    def batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """A batch in the model's layout from HxWx3 uint8 RGB images, in the spec's dtype
        (float32 unless the contract says otherwise)."""
        if len(images) == 0:
            raise ConvmendError("no images to batch")
        return self.spec.apply_batch(images)


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    sidecar = _sidecar(path)
    if not sidecar.is_file():
        return None
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ConvmendError(f"unreadable sidecar {sidecar}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConvmendError(f"sidecar {sidecar} is not a JSON object")
    return data


def write_contract(path: str | Path, contract: InputContract) -> None:
    """Record in the sidecar ``<path>.json`` under key "contract", merging with an existing
    sidecar, written atomically."""
    path = Path(path)
    data = _read_sidecar(path) or {}
    data[SIDECAR_KEY] = contract.to_dict()
    sidecar = _sidecar(path)
    tmp = sidecar.with_name(f".{sidecar.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, sidecar)
    finally:
        if tmp.exists():
            tmp.unlink()


def _first_input(path: Path, runner: Runner | None) -> tuple[str, tuple[int | None, ...]]:
    if runner is None:
        from convmend.runners import open_runner

        runner = open_runner(path)
    infos = runner.inputs()
    if len(infos) != 1:
        raise ConvmendError(
            f"{path} has {len(infos)} inputs ({', '.join(i.name for i in infos)}); an image "
            "contract binds one input"
        )
    return infos[0].name, _dims(infos[0].shape)


def _override(text: str, input_name: str, shape: tuple[int | None, ...]) -> InputContract:
    """The user's spec, its size adapted to the model unless given explicitly (as
    ``convmend run --preprocess`` does); its layout is taken as given and checked."""
    _check_image_input(input_name, shape)
    spec = parse_spec(text)
    explicit_size = any(t.strip().lower().startswith("size=") for t in text.split(","))
    channels = shape[spec.layout.index("c")]
    if channels is not None and channels != 3:
        raise ConvmendError(
            f"input {input_name!r} has shape {list(shape)}; with layout {spec.layout} that is "
            f"{channels} channels, not 3 (set layout= in the preprocess spec)"
        )
    size = _image_size(shape, spec.layout)
    if size is not None and size != spec.size:
        if explicit_size:  # the user asked for it; adapting silently would hide the mistake
            raise ConvmendError(
                f"preprocess size={spec.size} does not fit input {input_name!r} "
                f"{list(shape)}, which takes {size}x{size} images; use size={size} or "
                "leave size= out"
            )
        spec = dataclasses.replace(spec, size=size)
    return InputContract(spec, input_name, shape, f"user: {text}")


def _zoo_contract(
    meta: Mapping[str, Any], path: Path, runner: Runner | None
) -> InputContract | None:
    """The zoo's knowledge of one of its artifacts, from the sidecar's build key."""
    key = meta.get("key")
    if not isinstance(key, Mapping) or "name" not in key or "task" not in key:
        return None
    from convmend.zoo.build import MODEL_NAMES, zoo_preset

    if key["name"] not in MODEL_NAMES:
        return None
    label, spec = zoo_preset(key["name"], key["task"])
    noted = meta.get("notes", {}).get("input") if isinstance(meta.get("notes"), Mapping) else None
    if noted and runner is None:
        name, shape = noted["name"], _dims(noted["shape"])
    else:
        name, shape = _first_input(path, runner)
    origin = f"zoo: {label}"
    return InputContract(spec, name, shape, origin).for_input(name, shape, origin)


def contract_of(
    path: str | Path, runner: Runner | None = None, override: str | None = None
) -> InputContract:
    """override (a preset name or a spec string as preprocess.parse_spec accepts; size
    adapted to the model unless given explicitly, as cli._spec_for does) > the contract
    recorded in the model's sidecar > the zoo's own knowledge > guessed from the input
    shape (nchw: torchvision, nhwc: keras-tf), with origin saying which.

    ``runner`` (the model already open) saves opening it to learn the input; it is opened
    only when neither the sidecar nor the zoo says what the input is."""
    path = Path(path)
    meta = _read_sidecar(path)
    recorded = None
    if meta is not None and isinstance(meta.get(SIDECAR_KEY), Mapping):
        recorded = InputContract.from_dict(meta[SIDECAR_KEY])
    if override:
        if recorded is not None and runner is None:
            name, shape = recorded.input_name, recorded.input_shape
        else:
            name, shape = _first_input(path, runner)
        return _override(override, name, shape)
    if recorded is not None:
        return recorded
    if meta is not None:
        zoo = _zoo_contract(meta, path, runner)
        if zoo is not None:
            return zoo
    name, shape = _first_input(path, runner)
    _check_image_input(name, shape)
    guess = preset("torchvision" if shape[1] == 3 else "keras-tf")
    return InputContract(guess, name, shape, GUESSED).for_input(name, shape, GUESSED)
