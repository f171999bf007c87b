"""Packaged image sets, user folders and deterministic variants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convmend.errors import ConvmendError
from convmend.images import (
    ImageItem,
    default_images,
    foolbox_images,
    load_image_dir,
    load_rgb,
    make_variants,
    skimage_images,
    sklearn_images,
)


def test_foolbox_has_twenty_labeled_imagenet_photos_in_index_order() -> None:
    items = foolbox_images()
    assert len(items) == 20
    assert items[0].name == "foolbox/imagenet_00_243" and items[0].label == 243
    assert items[19].name == "foolbox/imagenet_19_305" and items[19].label == 305
    pixels = items[0].load()
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3


def test_skimage_uses_only_files_shipped_in_the_wheel() -> None:
    items = skimage_images()
    names = {item.name for item in items}
    assert {"skimage/astronaut", "skimage/chelsea", "skimage/coffee"} <= names
    assert all(Path(item.source).is_file() for item in items)
    assert all(item.label is None for item in items)
    camera = next(item for item in items if item.name == "skimage/camera").load()
    assert camera.shape == (512, 512, 3)
    # A grayscale photo becomes three equal channels.
    assert np.array_equal(camera[:, :, 0], camera[:, :, 2])


def test_sklearn_photos() -> None:
    items = {item.name: item for item in sklearn_images()}
    assert set(items) == {"sklearn/china", "sklearn/flower"}
    assert items["sklearn/china"].load().shape == (427, 640, 3)


def test_default_set_puts_labeled_images_first_and_has_no_variants() -> None:
    images = default_images()
    assert images.num_variants == 0
    assert len(images) == 20 + 2 + len(skimage_images())
    assert all(label is not None for label in images.labels[:20])
    assert all(label is None for label in images.labels[20:])


def test_variants_fill_up_deterministically_and_keep_labels() -> None:
    first = default_images(30, sources=("foolbox",), seed=3)
    again = default_images(30, sources=("foolbox",), seed=3)
    assert len(first) == 30 and first.num_variants == 10
    for a, b in zip(first.items[20:], again.items[20:], strict=True):
        assert a.name == b.name
        assert np.array_equal(a.load(), b.load())
    variant = first[20]
    assert variant.variant_of == "foolbox/imagenet_00_243"
    assert variant.label == 243
    assert variant.load().shape != first[0].load().shape  # a crop
    other_seed = default_images(30, sources=("foolbox",), seed=4)
    assert not np.array_equal(other_seed[20].load(), variant.load())


def test_every_variant_kind_changes_the_pixels() -> None:
    base = [ImageItem("tiny", np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3), 7)]
    variants = make_variants(base, 4, seed=0)
    assert [v.name.split("~")[1] for v in variants] == ["crop0", "flip1", "bright2", "rotate3"]
    original = base[0].load()
    assert np.array_equal(variants[1].load(), original[:, ::-1])
    for variant in variants:
        assert variant.label == 7
        assert variant.load().dtype == np.uint8
        assert not np.array_equal(variant.load(), original) or variant.load().shape != (48, 64, 3)


def test_count_smaller_than_the_set_truncates() -> None:
    images = default_images(5)
    assert len(images) == 5 and images.num_variants == 0
    with pytest.raises(ConvmendError, match="positive"):
        default_images(0)


def test_unknown_source_is_a_clear_error() -> None:
    with pytest.raises(ConvmendError, match="unknown image source 'imagenet'"):
        default_images(sources=("imagenet",))


def test_load_image_dir_reads_sorted_images_with_labels(tmp_path: Path) -> None:
    Image.new("RGB", (8, 6), (10, 20, 30)).save(tmp_path / "b.png")
    Image.new("L", (5, 5), 200).save(tmp_path / "a.jpg")
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "c.png")
    (tmp_path / "notes.txt").write_text("not an image")
    images = load_image_dir(tmp_path, labels={"b.png": 3})
    assert images.names == ["a.jpg", "b.png", "c.png"]
    assert images.labels == [None, 3, None]
    assert images[1].load()[0, 0].tolist() == [10, 20, 30]
    assert images[0].load().shape == (5, 5, 3)
    # Fully transparent pixels are composited on white, not left black.
    assert images[2].load()[0, 0].tolist() == [255, 255, 255]


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(ConvmendError, match="no images in"):
        load_image_dir(tmp_path)
    with pytest.raises(ConvmendError, match="not found"):
        load_image_dir(tmp_path / "missing")


def test_corrupt_image_names_the_file(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "good.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    with pytest.raises(ConvmendError, match=r"broken\.jpg"):
        load_image_dir(tmp_path)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes((tmp_path / "good.png").read_bytes()[:40])
    with pytest.raises(ConvmendError, match=r"truncated\.png"):
        load_rgb(truncated)
