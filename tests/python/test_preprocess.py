"""Preprocessing specs: exact values of every preset on tiny synthetic images."""

from __future__ import annotations

import json

import numpy as np
import pytest

from convmend.errors import ConvmendError
from convmend.preprocess import PRESETS, PreprocessSpec, parse_spec, preset

RGB = (255, 128, 0)


def uniform(height: int, width: int, color: tuple[int, int, int] = RGB) -> np.ndarray:
    return np.broadcast_to(np.array(color, np.uint8), (height, width, 3)).copy()


def test_torchvision_preset_values_and_layout() -> None:
    out = preset("torchvision").apply(uniform(300, 400))
    assert out.shape == (3, 224, 224) and out.dtype == np.float32
    expected = [(1.0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]
    for channel, value in enumerate(expected):
        np.testing.assert_allclose(out[channel], value, rtol=0, atol=1e-6)


def test_keras_caffe_is_bgr_mean_subtracted_without_scaling() -> None:
    out = preset("keras-caffe").apply(uniform(50, 60, (10, 20, 30)))
    assert out.shape == (224, 224, 3)
    np.testing.assert_allclose(out[0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-5)


def test_keras_tf_maps_to_minus_one_one() -> None:
    image = uniform(4, 4, (0, 51, 255))
    out = preset("keras-tf").apply(image)
    np.testing.assert_allclose(out[100, 7], [-1.0, -0.6, 1.0], atol=1e-6)


def test_keras_torch_is_torchvision_values_in_nhwc() -> None:
    out = preset("keras-torch").apply(uniform(10, 10))
    assert out.shape == (224, 224, 3)
    reference = preset("torchvision").apply(uniform(10, 10))[:, 0, 0]
    np.testing.assert_allclose(out[3, 3], reference, atol=1e-6)


def test_inception_is_299_in_minus_one_one() -> None:
    out = preset("inception").apply(uniform(20, 30, (255, 0, 255)))
    assert out.shape == (299, 299, 3)
    np.testing.assert_allclose(out[0, 0], [1.0, -1.0, 1.0], atol=1e-6)


def test_center_crop_takes_the_middle() -> None:
    image = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    spec = PreprocessSpec(size=4, crop=0.5, method="nearest", layout="nhwc")
    assert spec.resize_to == 8
    np.testing.assert_array_equal(spec.apply(image), image[2:6, 2:6].astype(np.float32))


def test_shorter_side_resize_keeps_aspect_like_torchvision() -> None:
    # 300x400 -> 256x341, then the 224 crop starts at row 16, column round(58.5) = 58.
    image = np.zeros((300, 400, 3), np.uint8)
    image[:, 200:] = 255
    out = PreprocessSpec(size=224, crop=0.875, layout="nhwc").apply(image)
    column = out[0, :, 0]
    # The edge at x=200 of 400 lands at 170.5 of 341, i.e. at 112.5 inside the crop.
    assert column[110] == 0 and column[115] == 255


def test_bilinear_without_antialias_uses_half_pixel_centers() -> None:
    image = np.zeros((1, 2, 3), np.uint8)
    image[0, 1] = 255
    out = PreprocessSpec(size=4, crop=None, antialias=False, layout="nhwc").apply(
        np.repeat(image, 4, axis=0)
    )
    np.testing.assert_array_equal(out[0, :, 0], [0, 64, 191, 255])


def test_antialias_changes_a_strong_downscale() -> None:
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::2] = 255
    smooth = PreprocessSpec(size=8, crop=None, layout="nhwc").apply(stripes)
    aliased = PreprocessSpec(size=8, crop=None, antialias=False, layout="nhwc").apply(stripes)
    assert abs(float(smooth.mean()) - 127.5) < 2  # area-aware filter averages the stripes
    assert not np.allclose(smooth, aliased)


def test_bicubic_without_antialias_is_exact_on_constant_images() -> None:
    spec = PreprocessSpec(size=5, crop=None, method="bicubic", antialias=False, layout="nhwc")
    np.testing.assert_array_equal(spec.apply(uniform(3, 7))[..., 1], 128.0)


def test_compact_string_matches_the_torchvision_preset() -> None:
    spec = parse_spec(
        "size=224,crop=0.875,scale=1/255,mean=0.485:0.456:0.406,"
        "std=0.229:0.224:0.225,order=rgb,layout=nchw"
    )
    assert spec == PRESETS["torchvision"]


def test_preset_with_overrides_and_resize_alias() -> None:
    spec = parse_spec("torchvision, size=160")
    assert spec.size == 160 and spec.resize_to == 183 and spec.layout == "nchw"
    assert parse_spec("resize=342,size=299").resize_to == 342
    assert parse_spec("keras-tf,crop=none,dtype=float16").apply(uniform(2, 2)).dtype == np.float16


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_string_and_dict_round_trips(name: str) -> None:
    spec = PRESETS[name]
    assert parse_spec(spec.to_string()) == spec
    assert PreprocessSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@pytest.mark.parametrize(
    "text, message",
    [
        ("size=224,colour=rgb", "unknown preprocess option 'colour'"),
        ("vgg", "unknown preprocess preset 'vgg'"),
        ("scale=1/0", "not a number"),
        ("order=rbg", "channel order"),
        ("crop=1.5", "crop must be in"),
        ("mean=1:2", "mean needs 1 or 3 values"),
        ("torchvision,size", "not key=value"),
    ],
)
def test_bad_strings_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ConvmendError, match=message):
        parse_spec(text)


def test_wrong_pixels_are_rejected() -> None:
    with pytest.raises(ConvmendError, match="uint8 HxWx3"):
        preset("torchvision").apply(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ConvmendError, match="unknown preprocess keys"):
        PreprocessSpec.from_dict({"size": 3, "colour": "x"})


@pytest.mark.parametrize("layout", ["nchw", "nhcw", "nwch", "ncwh", "nwhc"])
def test_every_layout_is_the_nhwc_image_with_its_axes_permuted(layout: str) -> None:
    """Height, width and channels in the order the layout names (nwch: what onnx2tf makes
    of an NHWC input it reads as NCHW)."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    base = preset("keras-torch")  # nhwc, non-trivial mean and std
    spec = parse_spec(base.to_string().replace("layout=nhwc", f"layout={layout}"))
    hwc = base.apply(image)
    want = hwc.transpose(["hwc".index(axis) for axis in layout[1:]])
    got = spec.apply(image)
    assert got.shape == spec.input_shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec


def test_a_layout_without_the_batch_axis_first_is_refused() -> None:
    for bad in ("hwcn", "nhw", "nhhw"):
        with pytest.raises(ConvmendError, match="layout must be one of"):
            parse_spec(f"layout={bad}")
