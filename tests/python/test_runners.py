"""Native runners on tiny models whose every value is known from numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convmend.errors import ConvmendError
from convmend.runners import (
    KerasRunner,
    LiteRtRunner,
    OnnxRuntimeRunner,
    SavedModelRunner,
    TorchRunner,
    open_runner,
)

RNG = np.random.default_rng(0)
WEIGHT = RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)
BIAS = RNG.standard_normal(3).astype(np.float32)


def conv_same(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """NCHW 3x3 convolution with padding 1, written out as the reference."""
    n, _, h, wd = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd), np.float64)
    for i in range(h):
        for j in range(wd):
            patch = padded[:, :, i : i + 3, j : j + 3]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w)
    return out + b[None, :, None, None]


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(WEIGHT, "w"), numpy_helper.from_array(BIAS, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, str(path))
    return path


def test_onnx_run_matches_numpy_and_splits_a_fixed_batch(tiny_onnx: Path) -> None:
    runner = open_runner(tiny_onnx, num_threads=1)
    assert isinstance(runner, OnnxRuntimeRunner)
    assert [(i.name, i.shape, i.dtype) for i in runner.inputs()] == [("x", (1, 2, 4, 4), "float32")]
    x = RNG.standard_normal((3, 2, 4, 4)).astype(np.float32)
    (y,) = runner.run(x)
    expected = np.maximum(conv_same(x, WEIGHT, BIAS), 0).mean(axis=(2, 3))
    assert y.shape == (3, 3)
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_onnx_intermediates_are_every_node_output(tiny_onnx: Path) -> None:
    runner = open_runner(tiny_onnx)
    assert runner.intermediate_names() == ["conv", "relu", "pool", "y"]
    x = RNG.standard_normal((2, 2, 4, 4)).astype(np.float32)
    values = runner.run_with_intermediates({"x": x})
    assert list(values) == ["conv", "relu", "pool", "y"]
    conv = conv_same(x, WEIGHT, BIAS)
    np.testing.assert_allclose(values["conv"], conv, atol=1e-5)
    np.testing.assert_allclose(values["relu"], np.maximum(conv, 0), atol=1e-5)
    assert values["pool"].shape == (2, 3, 1, 1)
    only = runner.run_with_intermediates(x[:1], names=["relu"])
    assert list(only) == ["relu"]
    with pytest.raises(ConvmendError, match="no tensors named nope"):
        runner.run_with_intermediates(x[:1], names=["nope"])


def test_onnx_input_errors_are_clear(tiny_onnx: Path) -> None:
    runner = open_runner(tiny_onnx)
    with pytest.raises(ConvmendError, match=r"expects shape \(1, 2, 4, 4\)"):
        runner.run(np.zeros((1, 4, 4, 2), np.float32))
    with pytest.raises(ConvmendError, match="missing input 'x'"):
        runner.run({"image": np.zeros((1, 2, 4, 4), np.float32)})


def test_open_runner_rejects_unknown_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConvmendError, match="model not found"):
        open_runner(tmp_path / "absent.onnx")
    (tmp_path / "model.bin").write_bytes(b"x")
    with pytest.raises(ConvmendError, match=r"no native runner for model\.bin"):
        open_runner(tmp_path / "model.bin")
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(ConvmendError, match=r"Keras cannot load .*model\.h5"):
        open_runner(tmp_path / "model.h5")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ConvmendError, match="not a SavedModel"):
        open_runner(tmp_path / "folder")
    (tmp_path / "broken.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(ConvmendError, match=r"broken\.onnx"):
        open_runner(tmp_path / "broken.onnx")
    (tmp_path / "broken.tflite").write_bytes(b"not a flatbuffer")
    with pytest.raises(ConvmendError, match=r"broken\.tflite"):
        open_runner(tmp_path / "broken.tflite")


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tf = pytest.importorskip("tensorflow")

    # A tf.function (not Keras) keeps this fixture cheap and the graph exactly known.
    kernel = tf.constant(WEIGHT.transpose(2, 3, 1, 0))  # OIHW -> HWIO

    @tf.function(input_signature=[tf.TensorSpec([1, 4, 4, 2], tf.float32, name="x")])
    def model(x: tf.Tensor) -> tf.Tensor:
        conv = tf.nn.conv2d(x, kernel, 1, "SAME") + BIAS
        return tf.reduce_mean(tf.nn.relu(conv), axis=[1, 2])

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [model.get_concrete_function()], model
    )
    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    path.write_bytes(converter.convert())
    return path


def test_litert_run_and_all_tensors(tiny_tflite: Path) -> None:
    runner = open_runner(tiny_tflite, num_threads=1)
    assert isinstance(runner, LiteRtRunner)
    (info,) = runner.inputs()
    assert info.shape == (1, 4, 4, 2) and info.dtype == "float32"
    x = RNG.standard_normal((2, 4, 4, 2)).astype(np.float32)
    (y,) = runner.run(x)
    conv = conv_same(x.transpose(0, 3, 1, 2), WEIGHT, BIAS)
    np.testing.assert_allclose(y, np.maximum(conv, 0).mean(axis=(2, 3)), atol=1e-5)

    values = runner.run_with_intermediates(x)
    names = runner.intermediate_names()
    assert list(values) == names
    assert names[0] == info.name and names[-1] == runner.outputs()[0].name
    # Conv+ReLU fuse into one op in TFLite; its output is the ReLU'd convolution.
    fused = [v for v in values.values() if v.shape == (2, 4, 4, 3)]
    assert len(fused) == 1
    np.testing.assert_allclose(fused[0], np.maximum(conv, 0).transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(values[names[-1]], y, atol=1e-6)
    assert runner.quantization(names[-1]) is None


def test_torch_runner_hooks_every_leaf_module() -> None:
    torch = pytest.importorskip("torch")

    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
    )
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(WEIGHT))
        model[0].bias.copy_(torch.from_numpy(BIAS))
    runner = TorchRunner(Path("inline"), module=model, input_shape=(1, 2, 4, 4))
    x = RNG.standard_normal((2, 2, 4, 4)).astype(np.float32)
    values = runner.run_with_intermediates(x)
    assert list(values) == ["0", "1", "2", "3"]
    np.testing.assert_allclose(values["0"], conv_same(x, WEIGHT, BIAS), atol=1e-5)
    np.testing.assert_allclose(values["3"], runner.run(x)[0], atol=0)


def tiny_torch_model():  # -> torch.nn.Module
    import torch

    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Flatten())
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(WEIGHT))
        model[0].bias.copy_(torch.from_numpy(BIAS))
    return model.eval()


@pytest.mark.parametrize("dynamic", [False, True])
def test_torch_export_program_gives_its_own_input_shape(tmp_path: Path, dynamic: bool) -> None:
    torch = pytest.importorskip("torch")
    # Not the 1x3x224x224 a guess would give: the runner must read the program.
    example = torch.zeros(2 if dynamic else 1, 2, 4, 5)
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    program = torch.export.export(tiny_torch_model(), (example,), dynamic_shapes=shapes)
    path = tmp_path / "tiny.pt2"
    torch.export.save(program, str(path))
    runner = open_runner(path)
    assert isinstance(runner, TorchRunner)
    assert runner.inputs()[0].shape == ((None,) if dynamic else (1,)) + (2, 4, 5)
    x = RNG.standard_normal((3, 2, 4, 5)).astype(np.float32)
    (y,) = runner.run(x)  # a fixed batch of 1 is run sample by sample
    expected = conv_same(x, WEIGHT, BIAS).reshape(3, -1)
    np.testing.assert_allclose(y, expected, atol=1e-5)


def test_h5_keras_file_opens_in_keras(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    inputs = keras.Input((4, 4, 2), name="pixels")
    outputs = keras.layers.Dense(3, name="dense")(keras.layers.Flatten(name="flat")(inputs))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "tiny.h5"
    model.save(str(path))
    runner = open_runner(path)
    assert isinstance(runner, KerasRunner)
    x = RNG.standard_normal((2, 4, 4, 2)).astype(np.float32)
    (y,) = runner.run(x)
    np.testing.assert_allclose(y, np.asarray(model(x)), atol=1e-6)
    assert {"flat", "dense"} <= set(runner.intermediate_names())


def test_tf_keras_file_with_inline_weights_opens_as_written(tmp_path: Path) -> None:
    """A Keras 2 file of TFOpLambda layers whose weights are inline constants, as onnx2tf
    writes: KerasRunner opens it with tf_keras (skipping the config JSON its state walk
    builds for nothing) and gives the saved model's own outputs and layers."""
    tf = pytest.importorskip("tensorflow")
    tfk = pytest.importorskip("tf_keras")
    from tf_keras.src.saving import saving_lib

    inp = tfk.Input(shape=(6, 6, 2), batch_size=1, name="pixels")
    x = tf.nn.convolution(inp, filters=RNG.standard_normal((3, 3, 2, 4)).astype(np.float32),
                          padding="SAME")
    x = tf.math.add(x, RNG.standard_normal(4).astype(np.float32))
    model = tfk.Model(inp, tf.math.reduce_mean(tf.nn.relu(x), axis=[1, 2]))
    path = tmp_path / "o2t_like.keras"
    model.save(str(path), save_format="keras_v3")
    runner = open_runner(path)
    assert isinstance(runner, KerasRunner)
    assert "_tracking_metadata" in saving_lib.ATTR_SKIPLIST
    batch = RNG.standard_normal((1, 6, 6, 2)).astype(np.float32)
    (y,) = runner.run(batch)
    np.testing.assert_array_equal(y, np.asarray(model(batch)))
    assert runner.intermediate_names() == [layer.name for layer in model.layers]


@pytest.fixture(scope="module")
def keras_photos() -> np.ndarray:
    from convmend.images import default_images
    from convmend.preprocess import preset

    return preset("keras-tf").apply_batch([item.load() for item in default_images(count=3)])


def test_saved_model_runner_matches_keras_with_named_intermediates(keras_photos) -> None:
    pytest.importorskip("tensorflow")
    from convmend.zoo import build

    path = build.saved_model_from_keras("mobilenet_v2")
    runner = open_runner(path, num_threads=2)
    assert isinstance(runner, SavedModelRunner) and runner.format == "saved_model"
    assert [(i.name, i.shape, i.dtype) for i in runner.inputs()] == [
        ("input_layer", (None, 224, 224, 3), "float32")
    ]
    assert [(o.name, o.shape) for o in runner.outputs()] == [("output_0", (None, 1000))]
    keras_runner = open_runner(build.keras_model("mobilenet_v2"))
    (expected,) = keras_runner.run(keras_photos)
    (probs,) = runner.run(keras_photos)
    assert probs.shape == (3, 1000)
    # logits of the seeded model, which carry a few 1e-6 of their scale in float32 rounding
    np.testing.assert_allclose(probs, expected, atol=1e-5 * float(np.abs(expected).max()))
    assert runner.run({"input_layer": keras_photos})[0].tobytes() == probs.tobytes()

    names = runner.intermediate_names()
    assert names == runner.intermediate_names()  # stable
    assert names[0] == "input_layer" and len(names) > 150
    values = runner.run_with_intermediates(keras_photos[:2])
    assert list(values) == names
    np.testing.assert_allclose(values[names[-1]], probs[:2],
                               atol=1e-5 * float(np.abs(probs).max()))
    (relu,) = [n for n in names if n.endswith("/Conv1_relu_1/Relu6")]
    keras_relu = keras_runner.run_with_intermediates(keras_photos[:2], names=["Conv1_relu"])
    np.testing.assert_allclose(values[relu], keras_relu["Conv1_relu"], atol=1e-5)
    only = runner.run_with_intermediates(keras_photos[:1], names=[relu])
    assert list(only) == [relu] and only[relu].shape == (1, 112, 112, 32)
    with pytest.raises(ConvmendError, match="no tensors named nope"):
        runner.run_with_intermediates(keras_photos[:1], names=["nope"])
