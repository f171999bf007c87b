"""Input contracts: recorded in sidecars, handed on between layouts, overridden, guessed,
and applied to photos with known numbers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from convmend.contract import GUESSED, InputContract, contract_of, write_contract
from convmend.errors import ConvmendError
from convmend.preprocess import CAFFE_MEAN_BGR, IMAGENET_MEAN, preset
from convmend.runners import OnnxRuntimeRunner

TORCHVISION = InputContract(preset("torchvision"), "input", (1, 3, 224, 224), "zoo: torchvision")


def identity_onnx(path: Path, shape: list[int | None]) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_contract_round_trips_through_dict_and_sidecar(tmp_path: Path) -> None:
    assert InputContract.from_dict(json.loads(json.dumps(TORCHVISION.to_dict()))) == TORCHVISION
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not read: the sidecar answers")
    sidecar = tmp_path / "model.onnx.json"
    sidecar.write_text(json.dumps({"key": {"task": "mine"}, "sha256": "abc"}))
    write_contract(model, TORCHVISION)
    data = json.loads(sidecar.read_text())
    assert data["key"] == {"task": "mine"} and data["sha256"] == "abc"  # merged, not replaced
    assert contract_of(model) == TORCHVISION
    changed = TORCHVISION.for_input("input", (1, 3, 160, 160), "recorded by convmend convert")
    write_contract(model, changed)
    assert contract_of(model) == changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.json"]


def test_for_input_adapts_layout_and_size_and_keeps_normalization() -> None:
    nhwc = TORCHVISION.for_input("image", [1, 299, 299, 3], "converted")
    assert (nhwc.input_name, nhwc.input_shape, nhwc.origin) == (
        "image",
        (1, 299, 299, 3),
        "converted",
    )
    assert nhwc.spec.layout == "nhwc" and nhwc.spec.size == 299
    for field in ("scale", "mean", "std", "order", "crop", "method", "antialias", "dtype"):
        assert getattr(nhwc.spec, field) == getattr(TORCHVISION.spec, field), field
    assert nhwc.spec.resize_to == 342  # the crop fraction is kept: 224 of 256 -> 299 of 342
    back = nhwc.for_input("input", (None, 3, 224, 224), "back")
    assert back.spec == TORCHVISION.spec and back.input_shape == (None, 3, 224, 224)
    # Dynamic sizes (None, or -1 as some formats write them) keep the contract's size.
    dynamic = preset_contract("keras-caffe").for_input("x", (-1, 3, -1, -1), "d")
    assert dynamic.spec.layout == "nchw" and dynamic.spec.size == 224
    assert dynamic.input_shape == (None, 3, None, None)
    assert dynamic.spec.order == "bgr" and dynamic.spec.mean == CAFFE_MEAN_BGR
    with pytest.raises(ConvmendError, match="4-D"):
        TORCHVISION.for_input("x", (1, 1000), "o")
    with pytest.raises(ConvmendError, match="square"):
        TORCHVISION.for_input("x", (1, 3, 224, 160), "o")


def test_a_converter_that_swaps_height_and_width_hands_on_its_layout() -> None:
    """An input [1, 224, 3, 224] has its channels in the middle; the shape alone cannot tell
    height from width (nhcw is the guess), the converter's own layout (onnx2tf makes nwch of
    an NHWC input) wins where it agrees with the shape, and loses where it does not."""
    keras = preset_contract("keras-tf")
    assert keras.for_input("x", [1, 224, 3, 224], "guessed").spec.layout == "nhcw"
    handed = keras.for_input("x", [1, 224, 3, 224], "onnx2tf", layout="nwch")
    assert handed.spec.layout == "nwch" and handed.spec.size == 224
    assert handed.batch([np.zeros((50, 60, 3), np.uint8)]).shape == (1, 224, 3, 224)
    assert keras.for_input("x", [1, 3, 224, 224], "o", layout="nwch").spec.layout == "nchw"
    with pytest.raises(ConvmendError, match="square"):
        keras.for_input("x", [1, 224, 3, 160], "o", layout="nwch")


def preset_contract(name: str) -> InputContract:
    spec = preset(name)
    return InputContract(spec, "x", (1, *spec.input_shape), f"zoo: {name}")


def test_guessed_from_the_input_shape(tmp_path: Path) -> None:
    nchw = contract_of(identity_onnx(tmp_path / "nchw.onnx", [1, 3, 32, 32]))
    assert nchw.origin == GUESSED and nchw.input_name == "x"
    assert nchw.spec == dataclasses.replace(preset("torchvision"), size=32)
    nhwc_path = identity_onnx(tmp_path / "nhwc.onnx", ["n", 48, 48, 3])
    runner = OnnxRuntimeRunner(nhwc_path)
    nhwc = contract_of(nhwc_path, runner=runner)
    assert nhwc.origin == GUESSED and nhwc.input_shape == (None, 48, 48, 3)
    assert nhwc.spec.to_dict() == {**preset("keras-tf").to_dict(), "size": 48}


def test_override_beats_the_recorded_contract_and_adapts_only_an_implicit_size(
    tmp_path: Path,
) -> None:
    path = identity_onnx(tmp_path / "m.onnx", [1, 3, 160, 160])
    write_contract(path, TORCHVISION.for_input("x", (1, 3, 160, 160), "recorded"))
    assert contract_of(path).origin == "recorded"
    over = contract_of(path, override="torchvision,crop=none")
    assert over.origin == "user: torchvision,crop=none"
    assert over.spec.size == 160 and over.spec.crop is None and over.input_shape == (1, 3, 160, 160)
    assert contract_of(path, override="size=160,scale=1/255").spec.scale == 1 / 255
    with pytest.raises(ConvmendError, match="size=224 does not fit"):
        contract_of(path, override="torchvision,size=224")
    with pytest.raises(ConvmendError, match="160 channels, not 3"):
        contract_of(path, override="keras-caffe")  # NHWC spec on an NCHW input
    with pytest.raises(ConvmendError, match="unknown preprocess preset"):
        contract_of(path, override="no-such-preset")


def test_zoo_knowledge_for_a_sidecar_without_a_contract(tmp_path: Path) -> None:
    model = tmp_path / "keras.keras"
    model.write_bytes(b"never opened: the notes give the input")
    meta = {
        "key": {"name": "resnet101", "task": "keras_model"},
        "notes": {"input": {"name": "input_layer", "shape": [None, 224, 224, 3]}},
    }
    (tmp_path / "keras.keras.json").write_text(json.dumps(meta))
    found = contract_of(model)
    assert found.origin == "zoo: keras-caffe" and found.spec == preset("keras-caffe")
    assert found.input_name == "input_layer" and found.input_shape == (None, 224, 224, 3)

    from convmend.zoo.build import zoo_preset

    label, spec = zoo_preset("inception_v3", "onnx_from_torch")
    assert "torchvision" in label and spec.size == 299 and spec.resize_to == 342
    assert spec.mean == IMAGENET_MEAN and spec.layout == "nchw"
    assert zoo_preset("inception_v3", "tflite_from_saved_model")[1] == preset("inception")
    assert zoo_preset("mobilenet_v2", "keras_model")[1] == preset("keras-tf")


def test_batch_values_match_a_hand_computation() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    # No crop and the image already at the input size: no resampling, so pixel (2, 5) is
    # exactly the photo's pixel, normalized.
    spec = dataclasses.replace(preset("torchvision"), crop=None, size=8)
    torch_like = InputContract(spec, "input", (1, 3, 8, 8), "test")
    batch = torch_like.batch([image, other])
    assert batch.shape == (2, 3, 8, 8) and batch.dtype == np.float32
    r, g, b = (float(v) for v in image[2, 5])
    expected = [(r / 255 - 0.485) / 0.229, (g / 255 - 0.456) / 0.224, (b / 255 - 0.406) / 0.225]
    np.testing.assert_allclose(batch[0, :, 2, 5], expected, rtol=1e-6)

    caffe = preset_contract("keras-caffe").for_input("x", (None, 8, 8, 3), "test")
    batch = caffe.batch([image])
    assert batch.shape == (1, 8, 8, 3)
    np.testing.assert_allclose(batch[0, 2, 5], [b - 103.939, g - 116.779, r - 123.68], rtol=1e-6)
    with pytest.raises(ConvmendError, match="no images"):
        caffe.batch([])


def test_zoo_models_record_their_contract() -> None:
    from convmend.zoo import build

    torch_path = build.torch_module("mobilenet_v2")
    recorded = build.read_sidecar(torch_path)["contract"]
    assert InputContract.from_dict(recorded) == contract_of(torch_path)
    assert contract_of(torch_path).spec == preset("torchvision")
    assert contract_of(torch_path).origin == "zoo: torchvision"
    onnx_contract = contract_of(build.onnx_from_torch("mobilenet_v2"))
    assert onnx_contract.spec == preset("torchvision")
    assert onnx_contract.input_shape == (1, 3, 224, 224)
    assert onnx_contract.origin == "zoo: torchvision, handed on from torch.pth"
    for fmt in ("keras", "saved_model", "tflite-saved_model", "onnx-tf2onnx"):
        found = contract_of(build.build_format("mobilenet_v2", fmt))
        assert found.spec == preset("keras-tf"), fmt
        assert found.origin.startswith("zoo: keras-tf"), fmt
        assert found.input_shape[1:] == (224, 224, 3), fmt
