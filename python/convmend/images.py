"""Image sets that work offline: photos shipped inside installed wheels, or a user folder.

Only files already on disk are used. The foolbox package is located, never imported (its
``__init__`` needs eagerpy), and scikit-image's fetcher is never called, because it would
try to download the photos that the wheel does not carry.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, UnidentifiedImageError

from convmend.errors import ConvmendError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")

# Natural photos among scikit-image's data; only those present in the wheel are used.
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "moon.png",
    "coins.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "cell.png",
    "clock_motion.png",
    "microaneurysms.png",
    "eagle.png",
    "lily.png",
    "kidney.tif",
)
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
DEFAULT_SOURCES = ("foolbox", "sklearn", "skimage")

_FOOLBOX_NAME = re.compile(r"^imagenet_(\d+)_(\d+)\.jpg$")


@dataclass(frozen=True)
class ImageItem:
    """One image: a file or an in-memory array, with its ImageNet-1k label when known.

    ``variant_of`` names the original image when this one is a derived variant.
    """

    name: str
    source: Path | np.ndarray
    label: int | None = None
    variant_of: str | None = None

    def load(self) -> np.ndarray:
        """Return the pixels as uint8 RGB, HxWx3."""
        if isinstance(self.source, np.ndarray):
            return _as_rgb_array(self.source, self.name)
        return load_rgb(self.source)


@dataclass(frozen=True)
class ImageSet:
    """An ordered image set; ``num_variants`` says how many items are derived variants."""

    items: tuple[ImageItem, ...]
    num_variants: int = 0

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[ImageItem]:
        return iter(self.items)

    def __getitem__(self, index: int) -> ImageItem:
        return self.items[index]

    @property
    def names(self) -> list[str]:
        return [item.name for item in self.items]

    @property
    def labels(self) -> list[int | None]:
        return [item.label for item in self.items]

    def load_all(self) -> list[np.ndarray]:
        return [item.load() for item in self.items]


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode an image file fully into uint8 RGB HxWx3, naming the file on failure."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                # Composite on white so that transparent areas do not turn black.
                rgba = img.convert("RGBA")
                canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                rgb = Image.alpha_composite(canvas, rgba).convert("RGB")
            else:
                rgb = img.convert("RGB")
    except FileNotFoundError as exc:
        raise ConvmendError(f"image not found: {path}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ConvmendError(f"cannot read image {path}: {exc}") from exc
    return np.asarray(rgb, dtype=np.uint8).copy()


def _as_rgb_array(array: np.ndarray, name: str) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ConvmendError(f"image {name}: expected uint8 pixels, got {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    if array.ndim == 3 and array.shape[2] == 4:
        return array[:, :, :3].copy()
    raise ConvmendError(f"image {name}: expected HxW, HxWx3 or HxWx4, got {array.shape}")


def _package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def foolbox_images() -> list[ImageItem]:
    """foolbox's 20 labeled ImageNet photos, ordered by their index in the file name."""
    root = _package_dir("foolbox")
    if root is None:
        return []
    found = []
    for path in (root / "data").glob("imagenet_*.jpg"):
        match = _FOOLBOX_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), int(match.group(2)), path))
    return [ImageItem(f"foolbox/{p.stem}", p, label) for _, label, p in sorted(found)]


def skimage_images() -> list[ImageItem]:
    """scikit-image's natural photos that ship inside the installed wheel."""
    root = _package_dir("skimage")
    if root is None:
        return []
    data = root / "data"
    return [
        ImageItem(f"skimage/{Path(n).stem}", data / n)
        for n in SKIMAGE_PHOTOS
        if (data / n).is_file()
    ]


def sklearn_images() -> list[ImageItem]:
    """scikit-learn's two sample photos (china, flower)."""
    root = _package_dir("sklearn")
    if root is None:
        return []
    images = root / "datasets" / "images"
    return [
        ImageItem(f"sklearn/{Path(n).stem}", images / n)
        for n in SKLEARN_PHOTOS
        if (images / n).is_file()
    ]


_SOURCES = {"foolbox": foolbox_images, "skimage": skimage_images, "sklearn": sklearn_images}


def default_images(
    count: int | None = None, sources: Sequence[str] = DEFAULT_SOURCES, seed: int = 0
) -> ImageSet:
    """The packaged images, labeled ones first; variants fill up to ``count`` if needed."""
    items: list[ImageItem] = []
    for source in sources:
        if source not in _SOURCES:
            raise ConvmendError(f"unknown image source {source!r}; known: {', '.join(_SOURCES)}")
        items.extend(_SOURCES[source]())
    if not items:
        raise ConvmendError(
            f"no packaged images found for {', '.join(sources)}; install "
            "`foolbox==3.3.4` (--no-deps), scikit-image or scikit-learn"
        )
    return fit_to_count(items, count, seed)


def load_image_dir(
    path: str | Path,
    labels: Mapping[str, int] | None = None,
    count: int | None = None,
    seed: int = 0,
) -> ImageSet:
    """Every image file directly in ``path`` (sorted by name), each checked to decode.

    ``labels`` maps a file name to its class index; files missing from it are unlabeled.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ConvmendError(f"image folder not found: {folder}")
    files = sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise ConvmendError(f"no images in {folder} (looked for {', '.join(IMAGE_SUFFIXES)})")
    labels = labels or {}
    items = []
    for file in files:
        load_rgb(file)  # fail now, naming the file, rather than mid-run
        items.append(ImageItem(file.name, file, labels.get(file.name)))
    return fit_to_count(items, count, seed)


def fit_to_count(items: Sequence[ImageItem], count: int | None, seed: int = 0) -> ImageSet:
    """Truncate to ``count`` or extend with deterministic variants; count variants."""
    if count is None or count == len(items):
        return ImageSet(tuple(items))
    if count <= 0:
        raise ConvmendError(f"image count must be positive, got {count}")
    if count < len(items):
        return ImageSet(tuple(items[:count]))
    variants = make_variants(items, count - len(items), seed)
    return ImageSet(tuple(items) + tuple(variants), num_variants=len(variants))


_VARIANT_KINDS = ("crop", "flip", "bright", "rotate")


def make_variants(items: Sequence[ImageItem], count: int, seed: int = 0) -> list[ImageItem]:
    """``count`` label-preserving variants, cycling over ``items`` and the variant kinds.

    The same (items, count, seed) always yields the same pixels.
    """
    rng = np.random.default_rng(seed)
    variants = []
    for k in range(count):
        base = items[k % len(items)]
        kind = _VARIANT_KINDS[(k // len(items)) % len(_VARIANT_KINDS)]
        pixels = _variant_pixels(base.load(), kind, rng)
        variants.append(ImageItem(f"{base.name}~{kind}{k}", pixels, base.label, base.name))
    return variants


def _variant_pixels(pixels: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    img = Image.fromarray(pixels)
    width, height = img.size
    if kind == "crop":
        frac = rng.uniform(0.7, 0.95)
        cw, ch = max(1, int(width * frac)), max(1, int(height * frac))
        left = int(rng.integers(0, width - cw + 1))
        top = int(rng.integers(0, height - ch + 1))
        img = img.crop((left, top, left + cw, top + ch))
    elif kind == "flip":
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif kind == "bright":
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.7, 1.3))
    else:
        angle = rng.uniform(-10.0, 10.0)
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
    return np.asarray(img, dtype=np.uint8).copy()
