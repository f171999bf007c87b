"""Native runners on tiny models whose every value is known from numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from convmend.errors import ConvmendError
from convmend.runners import LiteRtRunner, OnnxRuntimeRunner, open_runner

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
    (tmp_path / "model.h5").write_bytes(b"x")
    with pytest.raises(ConvmendError, match=r"no native runner for model\.h5"):
        open_runner(tmp_path / "model.h5")
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
    from convmend.runners import TorchRunner

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
