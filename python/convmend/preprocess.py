"""The input contract of an image model, written down so that it can be compared.

Preprocessing mismatches (RGB vs BGR, [0,1] vs [-1,1], a forgotten mean, NCHW vs NHWC,
crop vs squash) are the most common reason a converted model "predicts wrong", so the
contract is an explicit value: a ``PreprocessSpec`` that applies itself, prints as a compact
string and round-trips through JSON. numpy + PIL only, and deterministic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from PIL import Image

from convmend.errors import ConvmendError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

_METHODS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
}
_DTYPES = ("float32", "float16", "float64", "uint8", "int8")


# The batch axis first, then height, width and channels in any order: nchw (PyTorch, ONNX),
# nhwc (TensorFlow, TFLite, Keras), and the others a converter makes when it mistakes one
# for the other (onnx2tf reading an NHWC input as NCHW feeds it as nwch).
LAYOUTS = ("nchw", "nhwc", "nhcw", "nwch", "ncwh", "nwhc")
STANDARD_LAYOUTS = LAYOUTS[:2]  # what frameworks use; the rest only a converter's mistake makes


def layout_permutation(source: str, target: str) -> np.ndarray:
    """The axes ``p`` with ``x.transpose(p)`` in ``target`` layout for ``x`` in ``source``."""
    return np.asarray([source.index(axis) for axis in target])


@dataclass(frozen=True)
class PreprocessSpec:
    """How a uint8 RGB photo becomes one model input (without the batch axis).

    Geometry: with ``crop`` set, the shorter side is resized to ``round(size / crop)`` and
    the center ``size`` x ``size`` is cut out (torchvision's Resize + CenterCrop); with
    ``crop=None`` the image is resized straight to ``size`` x ``size``. ``antialias=True``
    uses PIL's area-aware filters (what torchvision does on PIL images); ``False`` samples
    the filter at pixel centers without widening it on downscale (TF/OpenCV style).

    Values: ``x * scale``, then ``(x - mean) / std`` per channel, where ``mean`` and ``std``
    are given in the model's channel ``order`` (so BGR means for ``order="bgr"``).
    """

    size: int = 224
    crop: float | None = 0.875
    method: str = "bilinear"
    antialias: bool = True
    scale: float = 1.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    order: str = "rgb"
    layout: str = "nchw"
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ConvmendError(f"preprocess size must be positive, got {self.size}")
        if self.crop is not None and not 0.0 < self.crop <= 1.0:
            raise ConvmendError(f"preprocess crop must be in (0, 1], got {self.crop}")
        if self.method not in _METHODS:
            raise ConvmendError(f"unknown resize method {self.method!r}; use {', '.join(_METHODS)}")
        if self.order not in ("rgb", "bgr"):
            raise ConvmendError(f"channel order must be rgb or bgr, got {self.order!r}")
        if self.layout not in LAYOUTS:
            raise ConvmendError(f"layout must be one of {', '.join(LAYOUTS)} (n first, then h, "
                                f"w and c in the input's order), got {self.layout!r}")
        if self.dtype not in _DTYPES:
            raise ConvmendError(f"dtype must be one of {', '.join(_DTYPES)}, got {self.dtype!r}")
        for label, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) not in (1, 3):
                raise ConvmendError(f"{label} needs 1 or 3 values, got {len(values)}")
        if self.std is not None and any(v == 0 for v in self.std):
            raise ConvmendError("std must not contain zero")

    @property
    def resize_to(self) -> int | None:
        """Target of the shorter side before the center crop, or None for a direct resize."""
        return None if self.crop is None else round(self.size / self.crop)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one preprocessed image (no batch axis)."""
        sizes = {"h": self.size, "w": self.size, "c": 3}
        return tuple(sizes[axis] for axis in self.layout[1:])  # type: ignore[return-value]

    def apply(self, image: np.ndarray) -> np.ndarray:
        """uint8 RGB HxWx3 -> one model input, CHW or HWC, in ``dtype``."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ConvmendError(
                f"preprocess expects uint8 HxWx3 RGB, got {image.dtype} {image.shape}"
            )
        pixels = self._geometry(image).astype(np.float64)
        if self.order == "bgr":
            pixels = pixels[:, :, ::-1]
        pixels = pixels * self.scale
        if self.mean is not None:
            pixels = pixels - np.asarray(self.mean, np.float64)
        if self.std is not None:
            pixels = pixels / np.asarray(self.std, np.float64)
        if self.layout != "nhwc":
            pixels = pixels.transpose(layout_permutation("nhwc", self.layout)[1:] - 1)
        if np.issubdtype(np.dtype(self.dtype), np.integer):
            info = np.iinfo(self.dtype)
            pixels = np.clip(np.round(pixels), info.min, info.max)
        return np.ascontiguousarray(pixels.astype(self.dtype))

    def apply_batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Stack several preprocessed images on a new leading batch axis."""
        return np.stack([self.apply(image) for image in images])

    def _geometry(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        shorter = self.resize_to
        if shorter is None:
            return _resize(image, self.size, self.size, self.method, self.antialias)
        # torchvision keeps the aspect ratio by truncating the longer side.
        if height <= width:
            new_h, new_w = shorter, int(shorter * width / height)
        else:
            new_h, new_w = int(shorter * height / width), shorter
        resized = _resize(image, new_h, new_w, self.method, self.antialias)
        if new_h < self.size or new_w < self.size:
            raise ConvmendError(f"resized image {new_h}x{new_w} is smaller than crop {self.size}")
        top = round((new_h - self.size) / 2.0)
        left = round((new_w - self.size) / 2.0)
        return resized[top : top + self.size, left : left + self.size]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; ``from_dict`` inverts it exactly."""
        out = dataclasses.asdict(self)
        for key in ("mean", "std"):
            out[key] = None if out[key] is None else list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreprocessSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConvmendError(f"unknown preprocess keys: {', '.join(unknown)}")
        values = dict(data)
        for key in ("mean", "std"):
            if values.get(key) is not None:
                values[key] = tuple(float(v) for v in values[key])
        return cls(**values)

    def to_string(self) -> str:
        """The compact CLI form that ``parse_spec`` reads back."""
        parts = [
            f"size={self.size}",
            f"crop={'none' if self.crop is None else self.crop}",
            f"method={self.method}",
            f"antialias={'yes' if self.antialias else 'no'}",
            f"scale={_fmt_float(self.scale)}",
        ]
        for key, values in (("mean", self.mean), ("std", self.std)):
            parts.append(f"{key}={'none' if values is None else ':'.join(map(str, values))}")
        parts += [f"order={self.order}", f"layout={self.layout}", f"dtype={self.dtype}"]
        return ",".join(parts)


def _fmt_float(value: float) -> str:
    """Print 1/255-style scales as fractions so the string stays readable and exact."""
    frac = Fraction(value).limit_denominator(1000)
    if frac.numerator == 1 and frac.denominator > 1 and float(frac) == value:
        return f"1/{frac.denominator}"
    return repr(value)


def _resize(image: np.ndarray, height: int, width: int, method: str, antialias: bool) -> np.ndarray:
    if (height, width) == image.shape[:2]:
        return image
    if antialias or method == "nearest":
        img = Image.fromarray(image).resize((width, height), _METHODS[method])
        return np.asarray(img)
    out = _resample_axis(image.astype(np.float64), height, 0, method)
    out = _resample_axis(out, width, 1, method)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _resample_axis(data: np.ndarray, size: int, axis: int, method: str) -> np.ndarray:
    """Half-pixel-center interpolation along one axis, edges clamped, no antialiasing."""
    length = data.shape[axis]
    centers = (np.arange(size) + 0.5) * (length / size) - 0.5
    base = np.floor(centers).astype(np.int64)
    frac = centers - base
    if method == "bilinear":
        offsets, weights = (0, 1), (1.0 - frac, frac)
    else:  # bicubic, Keys kernel with a = -0.5 (TF and OpenCV use a = -0.5 / -0.75)
        offsets = (-1, 0, 1, 2)
        weights = tuple(_keys_cubic(frac - k) for k in offsets)
    out = np.zeros((*data.shape[:axis], size, *data.shape[axis + 1 :]), np.float64)
    shape = [1] * data.ndim
    shape[axis] = size
    for offset, weight in zip(offsets, weights, strict=True):
        index = np.clip(base + offset, 0, length - 1)
        out += np.take(data, index, axis=axis) * weight.reshape(shape)
    return out


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


PRESETS: dict[str, PreprocessSpec] = {
    # torchvision ImageNet eval: Resize(256) + CenterCrop(224), [0,1], ImageNet mean/std.
    "torchvision": PreprocessSpec(
        size=224,
        crop=0.875,
        scale=1 / 255,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        order="rgb",
        layout="nchw",
    ),
    # keras.applications preprocess_input modes; Keras examples resize the photo directly.
    "keras-caffe": PreprocessSpec(
        size=224, crop=None, scale=1.0, mean=CAFFE_MEAN_BGR, order="bgr", layout="nhwc"
    ),
    "keras-tf": PreprocessSpec(
        size=224, crop=None, scale=1 / 127.5, mean=(1.0,), order="rgb", layout="nhwc"
    ),
    "keras-torch": PreprocessSpec(
        size=224,
        crop=None,
        scale=1 / 255,
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        order="rgb",
        layout="nhwc",
    ),
    "inception": PreprocessSpec(
        size=299, crop=None, scale=1 / 127.5, mean=(1.0,), order="rgb", layout="nhwc"
    ),
}


def preset(name: str) -> PreprocessSpec:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConvmendError(
            f"unknown preprocess preset {name!r}; known: {', '.join(PRESETS)}"
        ) from None


def _parse_number(text: str) -> float:
    try:
        return float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConvmendError(f"not a number: {text!r}") from exc


def _parse_values(text: str) -> tuple[float, ...] | None:
    if text.lower() == "none":
        return None
    return tuple(_parse_number(v) for v in text.split(":"))


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConvmendError(f"not a yes/no value: {text!r}")


def parse_spec(text: str) -> PreprocessSpec:
    """Parse ``[preset,]key=value,...``; e.g. ``torchvision,size=160`` or
    ``size=224,crop=0.875,scale=1/255,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,
    order=rgb,layout=nchw``. Keys left out keep the preset's (or the default) value;
    ``resize=256`` is accepted as the shorter-side target instead of a crop fraction.
    """
    tokens = [t.strip() for t in text.split(",") if t.strip()]
    spec = PreprocessSpec()
    if tokens and "=" not in tokens[0]:
        spec = preset(tokens.pop(0))
    changes: dict[str, Any] = {}
    resize_to: int | None = None
    for token in tokens:
        key, sep, value = token.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            raise ConvmendError(f"preprocess option {token!r} is not key=value")
        if key == "size":
            changes["size"] = int(_parse_number(value))
        elif key == "crop":
            changes["crop"] = None if value.lower() == "none" else _parse_number(value)
        elif key == "resize":
            resize_to = int(_parse_number(value))
        elif key == "method":
            changes["method"] = value.lower()
        elif key == "antialias":
            changes["antialias"] = _parse_bool(value)
        elif key == "scale":
            changes["scale"] = _parse_number(value)
        elif key in ("mean", "std"):
            changes[key] = _parse_values(value)
        elif key in ("order", "layout", "dtype"):
            changes[key] = value.lower()
        else:
            raise ConvmendError(f"unknown preprocess option {key!r}")
    if resize_to is not None:
        size = changes.get("size", spec.size)
        changes["crop"] = size / resize_to
    return dataclasses.replace(spec, **changes)
