"""The Keras frontend: every layer type it handles, compared layer by layer with Keras
itself; MobileNetV2 from the zoo on real images; unsupported and code-carrying layers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from convmend import _core  # noqa: E402
from convmend.errors import ConvmendError  # noqa: E402
from convmend.frontends import UnsupportedLayers  # noqa: E402
from convmend.frontends import keras as frontend  # noqa: E402
from convmend.runners import KerasRunner  # noqa: E402

L = keras.layers
TOL = 1e-5


def rel(native: np.ndarray, ours: np.ndarray) -> float:
    scale = float(np.max(np.abs(native)))
    diff = float(np.max(np.abs(native.astype(np.float64) - ours)))
    return diff / scale if scale > 0 else diff


def randomize(model: keras.Model, seed: int = 0) -> None:
    """Random weights everywhere, BN statistics included (variance kept positive)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        new = []
        for var, w in zip(layer.weights, weights, strict=True):
            if "variance" in var.path:
                new.append(rng.uniform(0.5, 2.0, w.shape).astype(w.dtype))
            else:
                new.append((rng.standard_normal(w.shape) * 0.3).astype(w.dtype))
        layer.set_weights(new)


def native_layers(path: Path, batch: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """{layer name: output} for every single-output layer, and the model's output, by Keras.
    (``KerasRunner`` needs ``model.input``, which a Sequential does not define.)"""
    model = keras.models.load_model(path, compile=False)
    layers = [la for la in model.layers if not isinstance(la.output, (list, tuple, dict))]
    probe = keras.Model(model.inputs, [la.output for la in layers])
    values = probe(batch, training=False)
    native = {la.name: np.asarray(v) for la, v in zip(layers, values, strict=True)}
    return native, np.asarray(model(batch, training=False))


def compare_file(path: Path, batch: np.ndarray, tol: float = TOL) -> dict[str, float]:
    """IR (through ``load``) against Keras on ``path``: every layer, every sample."""
    graph = frontend.load(path)
    native, final = native_layers(path, batch)
    produced = {o for n in graph.nodes() for o in n["outputs"]}
    names = [k for k in native if k in produced]
    inputs = {i["name"] for i in graph.inputs()}
    missing = set(native) - set(names) - inputs
    assert not missing, f"layers without an IR value: {sorted(missing)}"
    for node in graph.nodes():
        prov = node["provenance"]
        assert prov["format"] == "keras" and prov["name"] and prov["op_type"], node
    interp = _core.Interpreter(graph)
    errors: dict[str, float] = {}
    for i in range(batch.shape[0]):
        outs, traced = interp.run_traced([batch[i : i + 1]], names)
        for k in names:
            errors[k] = max(errors.get(k, 0.0), rel(native[k][i : i + 1], traced[k]))
        assert rel(final[i : i + 1], outs[0]) <= tol
    bad = {k: e for k, e in errors.items() if e > tol}
    assert not bad, f"layers over {tol}: {bad}"
    return errors


def compare(model: keras.Model, tmp_path: Path, batch: np.ndarray, seed: int = 0,
            ext: str = "keras") -> tuple[dict[str, float], object]:
    randomize(model, seed)
    path = tmp_path / f"{model.name}.{ext}"
    model.save(path)
    errors = compare_file(path, batch)
    return errors, frontend.from_model(model)


def kinds(graph) -> set[str]:
    return {n["provenance"]["op_type"] for n in graph.nodes()}


def images(shape: tuple[int, ...], count: int = 2, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, *shape)).astype(np.float32)


# --------------------------------------------------------------------------- small models


def test_convolutions_and_activations(tmp_path):
    x = inp = keras.Input((17, 23, 5), name="image")
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c_same_s2")(x)
    a = L.Conv2D(8, (3, 2), padding="valid", use_bias=False, activation="sigmoid",
                 name="c_valid_nobias")(x)
    a = L.ZeroPadding2D(((2, 0), (0, 1)), name="zpad")(a)
    b = L.Conv2D(8, 3, dilation_rate=2, padding="same", activation="swish", name="c_dil")(x)
    x = L.Add(name="add2")([a, b])
    x = L.Conv2D(12, 3, groups=4, padding="same", activation="gelu", name="c_groups")(x)
    x = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same",
                          activation="relu6", name="dw_s2_mult2")(x)
    x = L.DepthwiseConv2D(2, padding="valid", use_bias=False, activation="tanh",
                          name="dw_valid")(x)
    x = L.SeparableConv2D(6, 3, padding="same", activation="elu", name="sep")(x)
    x = L.Conv2D(6, 1, activation="selu", name="c_selu")(x)
    x = L.Conv2D(6, 1, activation="softplus", name="c_softplus")(x)
    x = L.Conv2D(6, 1, activation="hard_sigmoid", name="c_hsig")(x)
    x = L.Conv2D(6, 1, activation="hard_silu", name="c_hsilu")(x)
    x = L.Conv2D(6, 1, activation="mish", name="c_mish")(x)
    x = L.Conv2D(6, 1, activation="softsign", name="c_softsign")(x)
    x = L.Conv2D(6, 1, activation="leaky_relu", name="c_leaky")(x)
    x = L.Conv2D(6, 1, activation="exponential", name="c_exp")(x)
    x = L.Conv2D(6, 1, activation="log_softmax", name="c_logsoftmax")(x)
    model = keras.Model(inp, x, name="convs")
    errors, graph = compare(model, tmp_path, images((17, 23, 5)))
    assert len(errors) == len(model.layers) - 1
    assert {"Conv2D", "DepthwiseConv2D", "SeparableConv2D", "ZeroPadding2D", "Add"} <= kinds(graph)
    # the layer's own layout: OHWI conv weights, 1HWO depthwise weights
    values = {v["name"]: v for v in graph.values()}
    assert values["c_same_s2/kernel"]["shape"] == [8, 3, 3, 5]
    assert values["dw_s2_mult2/depthwise_kernel"]["shape"] == [1, 3, 3, 24]
    assert graph.inputs()[0]["shape"] == [1, 17, 23, 5]


def test_normalization_pooling_and_merges(tmp_path):
    inp = keras.Input((15, 13, 4), name="image")
    x = L.Rescaling(1 / 127.5, offset=-1, name="rescale")(inp)
    norm = L.Normalization(mean=[0.1, -0.2, 0.3, 0.0], variance=[1.5, 0.5, 2.0, 1.0],
                           name="norm")
    x = norm(x)
    x = L.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(x)
    x = L.BatchNormalization(epsilon=1.001e-5, name="bn")(x)
    x = L.Activation("relu", name="relu")(x)
    p1 = L.MaxPooling2D(3, strides=2, padding="same", name="maxpool_same")(x)
    p2 = L.AveragePooling2D(3, strides=2, padding="same", name="avgpool_same")(x)
    p3 = L.MaxPooling2D(2, padding="same", name="maxpool_2")(x)
    x = L.Concatenate(axis=-1, name="concat")([p1, p2, p3])
    y = L.BatchNormalization(scale=False, name="bn_noscale")(x)
    z = L.BatchNormalization(center=False, name="bn_nocenter")(x)
    x = L.Add(name="add3")([x, y, z])
    m = L.Multiply(name="mul")([x, y])
    s = L.Subtract(name="sub")([x, z])
    mx = L.Maximum(name="max")([m, s])
    mn = L.Minimum(name="min")([m, s])
    x = L.Average(name="avg")([mx, mn, x])
    x = L.Concatenate(axis=1, name="concat_h")([x, mx])
    x = L.AveragePooling2D((3, 2), padding="valid", name="avgpool_valid")(x)
    x = L.MaxPooling2D(2, strides=1, padding="valid", name="maxpool_valid")(x)
    x = L.ReLU(max_value=6.0, name="relu6")(x)
    x = L.ReLU(negative_slope=0.1, name="relu_slope")(x)
    x = L.ReLU(threshold=0.5, negative_slope=0.2, max_value=4.0, name="relu_thr")(x)
    x = L.LeakyReLU(negative_slope=0.3, name="leaky")(x)
    x = L.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = L.ELU(alpha=0.7, name="elu")(x)
    x = L.Dropout(0.5, name="dropout")(x)
    g1 = L.GlobalAveragePooling2D(name="gap")(x)
    g2 = L.GlobalAveragePooling2D(keepdims=True, name="gap_keep")(x)
    g3 = L.GlobalMaxPooling2D(name="gmp")(x)
    g2 = L.Flatten(name="flat_keep")(g2)
    x = L.Concatenate(name="concat_g")([g1, g2, g3])
    x = L.BatchNormalization(name="bn_1d")(x)
    x = L.Dense(16, activation="tanh", name="fc")(x)
    x = L.Dense(10, name="logits")(x)
    x = L.Softmax(name="softmax")(x)
    model = keras.Model(inp, x, name="norm_pool_merge")
    batch = images((15, 13, 4)) * 100 + 127
    errors, graph = compare(model, tmp_path, batch)
    assert len(errors) == len(model.layers) - 1
    nodes = {n["name"]: n for n in graph.nodes()}
    assert nodes["avgpool_same"]["attrs"]["count_include_pad"] == 0
    assert nodes["bn"]["attrs"]["epsilon"] == pytest.approx(1.001e-5)


def test_reshapes_sequences_nested_and_shared(tmp_path):
    inp = keras.Input((9, 10, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    x = L.Cropping2D(((1, 2), (0, 3)), name="crop")(x)
    x = L.UpSampling2D(2, name="up_nearest")(x)
    x = L.UpSampling2D((1, 2), interpolation="bilinear", name="up_bilinear")(x)
    x = L.Permute((2, 1, 3), name="permute")(x)
    block = keras.Sequential([keras.Input((28, 12, 4)), L.Conv2D(4, 1, name="inner_conv"),
                              L.ReLU(name="inner_relu")], name="block")
    x = block(x)
    shared = L.Conv2D(4, 3, padding="same", name="shared")
    first = shared(L.ReLU(name="relu_b")(x))  # the first call is the deeper one
    x = L.Add(name="twice")([first, shared(x)])
    x = L.Reshape((28 * 12, 4), name="to_seq")(x)
    x = L.Dense(5, activation="relu", name="fc_seq")(x)  # Dense on a rank-3 tensor
    x = L.GlobalAveragePooling1D(name="gap1d")(x)
    x = L.Reshape((-1,), name="reshape_flat")(x)
    x = L.Dense(3, activation="softmax", name="probs")(x)
    model = keras.Model(inp, x, name="shapes")
    errors, graph = compare(model, tmp_path, images((9, 10, 3)))
    assert {"Cropping2D", "UpSampling2D", "Permute", "Reshape", "GlobalAveragePooling1D",
            "Dense"} <= kinds(graph)
    assert "block" in errors  # the nested model's output carries its name
    assert "shared" in errors  # the first call of a shared layer


def test_sequence_layers(tmp_path):
    inp = keras.Input((19, 6), name="seq")
    x = L.Conv1D(8, 3, strides=2, padding="same", activation="relu", name="conv1d_same")(inp)
    x = L.Conv1D(8, 3, dilation_rate=2, padding="causal", name="conv1d_causal")(x)
    x = L.Conv1D(6, 2, padding="valid", use_bias=False, activation="tanh", name="c1d_v")(x)
    x = L.LayerNormalization(epsilon=1e-3, name="ln")(x)
    x = L.MaxPooling1D(2, padding="same", name="maxpool1d")(x)
    x = L.AveragePooling1D(3, strides=1, padding="same", name="avgpool1d")(x)
    x = L.LayerNormalization(axis=[1, 2], center=False, name="ln_2axes")(x)
    x = L.GlobalMaxPooling1D(name="gmp1d")(x)
    model = keras.Model(inp, x, name="sequence")
    compare(model, tmp_path, images((19, 6)))

    ids = keras.Input((7,), dtype="int32", name="ids")
    e = L.Embedding(50, 4, name="embed")(ids)
    e = L.GlobalAveragePooling1D(name="gap")(e)
    emb = keras.Model(ids, e, name="embedding")
    randomize(emb)
    token_ids = np.random.default_rng(0).integers(0, 50, (1, 7)).astype(np.int32)
    want = np.asarray(emb(token_ids))
    got = _core.Interpreter(frontend.from_model(emb)).run([token_ids])[0]
    assert rel(want, got) <= TOL


def test_sequential(tmp_path):
    model = keras.Sequential([
        keras.Input((12, 12, 3), name="image"),
        L.Conv2D(6, 3, strides=2, padding="valid", activation="relu", name="conv"),
        L.BatchNormalization(name="bn"),
        L.Flatten(name="flatten"),
        L.Dense(4, activation="sigmoid", name="out"),
    ], name="seq")
    errors, graph = compare(model, tmp_path, images((12, 12, 3)))
    assert set(errors) == {"conv", "bn", "flatten", "out"}


def test_legacy_h5(tmp_path):
    inp = keras.Input((12, 12, 3), name="image")
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv")(inp)
    x = L.BatchNormalization(name="bn")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dense(4, activation="softmax", name="out")(x)
    model = keras.Model(inp, x, name="legacy")
    errors, graph = compare(model, tmp_path, images((12, 12, 3)), ext="h5")
    assert set(errors) == {"conv", "bn", "gap", "out"}


def test_channels_first_conv(tmp_path):
    inp = keras.Input((3, 11, 9), name="image")
    x = L.Conv2D(4, 3, strides=2, padding="same", data_format="channels_first", name="c")(inp)
    x = L.BatchNormalization(axis=1, name="bn")(x)
    x = L.MaxPooling2D(2, data_format="channels_first", name="pool")(x)
    x = L.Flatten(data_format="channels_first", name="flat")(x)
    model = keras.Model(inp, x, name="nchw")
    if _tf_runs_nchw_conv():
        compare(model, tmp_path, images((3, 11, 9)))
        return
    # TensorFlow runs NCHW convolutions on the CPU only with oneDNN (on by default on Intel
    # CPUs, off on this one): the reference is a channels_last twin with the same weights.
    randomize(model)
    path = tmp_path / "nchw.keras"
    model.save(path)
    t = keras.Input((11, 9, 3))
    y = L.Conv2D(4, 3, strides=2, padding="same", name="c")(t)
    y = L.BatchNormalization(axis=-1, name="bn")(y)
    twin = keras.Model(t, L.MaxPooling2D(2, name="pool")(y))
    for name in ("c", "bn"):
        twin.get_layer(name).set_weights(model.get_layer(name).get_weights())
    batch = images((3, 11, 9))
    # Flatten(data_format="channels_first") flattens in channels_last order, as the twin does
    want = np.asarray(twin(batch.transpose(0, 2, 3, 1))).reshape(len(batch), -1)
    interp = _core.Interpreter(frontend.load(path))
    got = np.concatenate([interp.run([batch[i:i + 1]])[0] for i in range(len(batch))])
    assert rel(want, got) <= TOL


def _tf_runs_nchw_conv() -> bool:
    import tensorflow as tf

    try:
        tf.nn.conv2d(tf.zeros((1, 3, 4, 4)), tf.zeros((1, 1, 3, 2)), 1, "SAME",
                     data_format="NCHW")
    except Exception:  # UnimplementedError: NHWC only on this CPU
        return False
    return True


def test_two_inputs_and_keras_ops(tmp_path):
    a = keras.Input((6, 7, 3), name="left")
    b = keras.Input((6, 7, 2), name="right")
    x = L.Concatenate(name="cat")([a, b])
    x = L.Conv2D(4, 3, padding="same", name="conv")(x)
    y = keras.ops.relu(x * 0.5 + 1)  # keras.ops calls become graph nodes too
    y = keras.ops.sigmoid(y) - x / 3.0
    y = keras.ops.concatenate([y, keras.ops.tanh(x)], axis=-1)
    y = keras.ops.transpose(keras.ops.reshape(y, (-1, 6 * 7, 8)), (0, 2, 1))
    out = L.Flatten(name="flat")(y)
    model = keras.Model([a, b], out, name="two_inputs")
    randomize(model)
    path = tmp_path / "two_inputs.keras"
    model.save(path)
    graph = frontend.load(path)
    assert [i["name"] for i in graph.inputs()] == ["left", "right"]
    xa, xb = images((6, 7, 3), count=1), images((6, 7, 2), count=1, seed=2)
    want = np.asarray(model([xa, xb], training=False))
    got = _core.Interpreter(graph).run([xa, xb])[0]
    assert rel(want, got) <= TOL
    ops = {n["provenance"]["op_type"] for n in graph.nodes()}
    assert {"Multiply", "Add", "Relu", "Sigmoid", "Subtract", "TrueDivide", "Tanh",
            "Reshape", "Transpose"} <= ops


def test_tf_keras_tfoplambda_model_as_onnx2tf_writes(tmp_path):
    """onnx2tf writes tf_keras models of TFOpLambda layers with inline weights; Keras 3
    cannot load them, the frontend reads their config."""
    tf = pytest.importorskip("tensorflow")
    tfk = pytest.importorskip("tf_keras")
    rng = np.random.default_rng(0)
    w = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(np.float32)  # noqa: E731
    inp = tfk.Input(shape=(11, 13, 3), batch_size=1, name="input.1")
    x = tf.compat.v1.pad(inp, [[0, 0], [1, 1], [1, 1], [0, 0]])
    x = tf.nn.convolution(x, filters=w(3, 3, 3, 8), strides=[2, 2], padding="VALID")
    x = tf.math.add(x, w(8))
    x = tf.nn.relu(x)
    y = tf.compat.v1.nn.depthwise_conv2d(x, w(3, 3, 8, 1), strides=[1, 1, 1, 1],
                                         padding="SAME")
    y = tf.nn.relu6(y)
    x = tf.math.add(x, y)
    x = tf.nn.max_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    x = tf.nn.avg_pool2d(x, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding="SAME")
    # onnx2tf's InceptionV3 pools with the v1 functions (padding excluded from the average)
    x = tf.compat.v1.nn.avg_pool(x, ksize=[1, 3, 3, 1], strides=[1, 1, 1, 1], padding="SAME")
    x = tf.compat.v1.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 1, 1, 1], padding="SAME")
    x = tf.concat([x, tf.math.sigmoid(x)], axis=3)
    x = tf.math.reduce_mean(x, axis=[1, 2], keepdims=False)
    x = tf.linalg.matmul(x, w(16, 5))
    out = tf.nn.softmax(x, axis=-1)
    model = tfk.Model(inp, out, name="o2t_like")
    path = tmp_path / "o2t_like.h5"
    model.save(path)
    graph = frontend.load(path)
    layers = [la for la in model.layers if type(la).__name__ != "InputLayer"]
    assert {n["provenance"]["name"] for n in graph.nodes()} == {la.name for la in layers}
    probe = tfk.Model(model.inputs, [la.output for la in layers])
    batch = images((11, 13, 3), count=1)
    native = {la.name: np.asarray(v) for la, v in zip(layers, probe(batch), strict=True)}
    outs, traced = _core.Interpreter(graph).run_traced([batch], list(native))
    for name, value in native.items():
        assert rel(value, traced[name]) <= TOL, name
    # a TF function the frontend does not know is listed by name
    bad = tfk.Model(inp, tf.math.cumsum(tf.math.erf(inp), axis=1), name="o2t_bad")
    bad.save(tmp_path / "bad.h5")
    with pytest.raises(UnsupportedLayers, match=r"tf\.math\.(cumsum|erf)") as info:
        frontend.load(tmp_path / "bad.h5")
    assert set(info.value.names) == {"TFOpLambda(tf.math.cumsum)", "TFOpLambda(tf.math.erf)"}


def test_tf_keras_slicing_of_computed_tensors(tmp_path):
    """onnx2tf slices computed tensors with ``x[...]`` (SlicingOpLambda; its InceptionV3 takes
    each input channel apart): ranges, steps, negative bounds and integer indices."""
    tf = pytest.importorskip("tensorflow")
    tfk = pytest.importorskip("tf_keras")
    inp = tfk.Input(shape=(11, 13, 3), batch_size=1, name="x")
    scaled = tf.math.multiply(inp, 2.0)
    first = scaled[:, :, :, 0:1]                 # a channel kept as an axis of one
    rest = scaled[:, :, :, 1:]                   # open stop
    joined = tf.concat([tf.math.add(first, 1.0), rest], axis=3)
    strided = joined[:, ::2, 1:-1, :]            # step 2, negative stop
    plane = tf.math.add(joined[:, :, :, 2], 0.5)  # an integer index drops the axis
    model = tfk.Model(inp, [strided, plane], name="o2t_slices")
    path = tmp_path / "o2t_slices.h5"
    model.save(path)
    graph = frontend.load(path)
    layers = [la for la in model.layers if type(la).__name__ != "InputLayer"]
    probe = tfk.Model(model.inputs, [la.output for la in layers])
    batch = images((11, 13, 3), count=1)
    native = {la.name: np.asarray(v) for la, v in zip(layers, probe(batch), strict=True)}
    outs, traced = _core.Interpreter(graph).run_traced([batch], list(native))
    assert "SlicingOpLambda" in {n["provenance"]["op_type"].split("(")[0]
                                 for n in graph.nodes()}
    for name, value in native.items():
        assert traced[name].shape == value.shape, name
        assert rel(value, traced[name]) <= TOL, name


def test_tf_keras_layers_with_stored_weights_as_nobuco_writes(tmp_path):
    """nobuco writes tf_keras models of ordinary layers (weights in the file's store, which
    names them by class and order, not by layer name) mixed with TF functions, and reshapes
    to a shape computed with tf.shape; Keras 3 cannot load them."""
    tf = pytest.importorskip("tensorflow")
    tfk = pytest.importorskip("tf_keras")
    layers = tfk.layers
    tf.random.set_seed(0)
    inp = tfk.Input(shape=(12, 12, 3), batch_size=1, name="input_1")
    # named against their class order, so that a lookup by name finds the wrong weights
    x = layers.ZeroPadding2D(((1, 0), (0, 1)), name="pad_z")(inp)
    x = layers.Conv2D(8, 3, strides=2, use_bias=True, name="conv2d_1")(x)
    x = layers.BatchNormalization(epsilon=1e-3, name="batch_normalization_1")(x)
    x = tf.clip_by_value(x, clip_value_min=0.0, clip_value_max=6.0)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="depthwise_b")(x)
    y = layers.BatchNormalization(name="batch_normalization")(y)
    y = layers.ReLU(name="relu_a")(y)
    x = x + y
    x = layers.Conv2D(6, 1, use_bias=False, name="conv2d")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.GlobalAveragePooling2D(keepdims=True, name="gap")(x)
    x = tf.transpose(x, perm=[0, 3, 1, 2])
    x = tf.reshape(x, [tf.shape(x)[:1][0], -1])
    x = layers.Dense(5, name="dense")(x)
    out = layers.Identity(name="identity")(x)
    model = tfk.Model(inp, out, name="nobuco_like")
    for layer in model.layers:  # non-trivial BatchNorm statistics
        if isinstance(layer, layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(np.linspace(-0.5, 0.5, n).astype(np.float32))
            layer.moving_variance.assign(np.linspace(0.5, 2.0, n).astype(np.float32))
            layer.gamma.assign(np.linspace(0.8, 1.2, n).astype(np.float32))
    named = [la for la in model.layers if type(la).__name__ not in ("InputLayer",)]
    probe = tfk.Model(model.inputs, [la.output for la in named])
    batch = images((12, 12, 3), count=1)
    native = {la.name: np.asarray(v) for la, v in zip(named, probe(batch), strict=True)}
    compared = [n for n, v in native.items() if v.dtype == np.float32]
    for suffix in (".keras", ".h5"):  # the weights store of a zip, and a legacy HDF5 file
        path = tmp_path / f"nobuco_like{suffix}"
        model.save(path)
        graph = frontend.load(path)
        outs, traced = _core.Interpreter(graph).run_traced([batch], compared)
        for name in compared:
            assert rel(native[name], traced[name]) <= TOL, (suffix, name)
        assert rel(np.asarray(model(batch)), outs[0]) <= TOL
    kinds = {n["provenance"]["op_type"] for n in graph.nodes()}
    assert {"Conv2D", "DepthwiseConv2D", "BatchNormalization", "Dense", "ZeroPadding2D",
            "GlobalAveragePooling2D", "TFOpLambda(tf.reshape)"} <= kinds


# --------------------------------------------------------------------------- zoo model


def test_mobilenet_v2_layer_by_layer():
    from convmend.images import default_images
    from convmend.zoo import build

    path = build.keras_model("mobilenet_v2")
    imgs = [item.load() for item in default_images(count=4)]
    try:
        from convmend.contract import contract_of

        batch = contract_of(path).batch(imgs)
    except Exception:  # the contract module is another worker's; fall back to the preset
        from convmend import preprocess

        batch = preprocess.preset("keras-tf").apply_batch(imgs)
    # Deep layers differ from Keras by up to ~6e-5 because float32 rounding accumulates on
    # both sides (the float64 IR run differs from Keras as much); each layer alone is exact
    # to ~1e-6, which the local check below holds at 1e-5.
    graph = frontend.load(path)
    runner = KerasRunner(path)
    native = runner.run_with_intermediates(batch)
    consts = {v["name"] for v in graph.values() if v["constant"]}
    interp = _core.Interpreter(graph)
    exact_interp = _core.Interpreter(graph, exact=True)
    checked = 0
    worst_chain = 0.0
    for node in graph.nodes():
        out = node["outputs"][0]
        if out not in native:
            continue
        feeds = [v for v in node["inputs"] if v and v not in consts]
        if not all(v in native for v in feeds):
            continue
        for i in range(batch.shape[0]):
            got = interp.run_node(out, {v: native[v][i : i + 1] for v in feeds})[0]
            assert rel(native[out][i : i + 1], got) <= TOL, out
        checked += 1
    assert checked >= 150
    names = [k for k in native if k != "input_layer"]
    top = np.argmax(runner.run(batch)[0], axis=-1)
    for i in range(batch.shape[0]):
        outs, traced = interp.run_traced([batch[i : i + 1]], names)
        assert int(np.argmax(outs[0])) == int(top[i])
        worst_chain = max(worst_chain, *(rel(native[k][i : i + 1], traced[k]) for k in names))
        # The seeded model's float32 rounding reaches a few 1e-5 at the logits (its torch
        # twin: 6e-6 against float64), so where we differ from Keras by more than TOL, the
        # float64 run arbitrates: ours is no further from it than Keras is.
        gap = rel(native["predictions"][i : i + 1], outs[0])
        if gap > TOL:
            exact = exact_interp.run([batch[i : i + 1]])[0]
            assert rel(exact, outs[0]) <= 1.5 * rel(exact, native["predictions"][i : i + 1])
            assert gap <= 1e-4
    assert worst_chain <= 2e-4


# --------------------------------------------------------------------------- refusals


def test_unsupported_layers_listed_all_at_once(tmp_path):
    inp = keras.Input((8, 8, 3), name="image")
    x = L.Conv2DTranspose(4, 3, name="deconv_a")(inp)
    x = L.Conv2DTranspose(4, 3, name="deconv_b")(x)
    y = L.Reshape((12 * 12, 4), name="seq")(x)
    y = L.LSTM(5, name="lstm")(y)
    z = L.Conv2D(2, 3, name="fine")(inp)
    z = L.Flatten(name="flat")(z)
    out = L.Concatenate(name="cat")([y, z])
    model = keras.Model(inp, out, name="unsupported")
    path = tmp_path / "unsupported.keras"
    model.save(path)
    with pytest.raises(UnsupportedLayers) as info:
        frontend.load(path)
    assert info.value.names == {"Conv2DTranspose": ["deconv_a", "deconv_b"], "LSTM": ["lstm"]}
    assert "Conv2DTranspose" in str(info.value) and "LSTM" in str(info.value)


def test_lambda_refused_without_trust(tmp_path):
    inp = keras.Input((4,), name="x")
    out = L.Lambda(lambda t: t * 2.0, name="double")(L.Dense(3, name="fc")(inp))
    model = keras.Model(inp, out, name="with_lambda")
    path = tmp_path / "with_lambda.keras"
    model.save(path)
    with pytest.raises(frontend.RefusedCode) as info:
        frontend.load(path)
    message = str(info.value)
    assert "\n" not in message and "Lambda (double)" in message and "trust" in message
    with pytest.raises(frontend.RefusedCode):
        frontend.from_model(model)
    # trusted, the file loads; the Lambda itself still has no IR form
    with pytest.raises(UnsupportedLayers) as unsupported:
        frontend.load(path, trust=True)
    assert unsupported.value.names == {"Lambda": ["double"]}


def test_missing_file(tmp_path):
    with pytest.raises(ConvmendError, match="not found"):
        frontend.load(tmp_path / "nope.keras")


def test_model_object_shared_with_the_runner_and_reloaded_when_the_file_changes(tmp_path):
    """The native runner and the frontend read one loaded model (``convmend.loaded``); a file
    rewritten in between is loaded again, and a caller that changes weights (writeback) gets
    its own copy, so the shared one is never modified."""
    import time

    from convmend import loaded

    def small(units: int) -> keras.Model:
        inp = keras.Input((8, 8, 3), name="image")
        x = L.Conv2D(4, 3, name="conv")(inp)
        x = L.GlobalAveragePooling2D(name="gap")(x)
        return keras.Model(inp, L.Dense(units, name="out")(x))

    path = tmp_path / "m.keras"
    small(5).save(path)
    loaded.clear()
    runner = KerasRunner(path)
    assert loaded.keras_model(path) is runner._model
    graph = frontend.load(path)
    assert loaded.keras_model(path) is runner._model  # still the one object
    assert graph.outputs()[0]["shape"][-1] == 5
    own = frontend.load_model_object(path)
    assert own is not runner._model
    own.get_layer("conv").weights[0].assign(np.zeros((3, 3, 3, 4), np.float32))
    assert np.abs(runner._model.get_layer("conv").weights[0].numpy()).max() > 0
    time.sleep(0.01)
    small(7).save(path)
    assert frontend.load(path).outputs()[0]["shape"][-1] == 7
    assert loaded.keras_model(path) is not runner._model
    loaded.clear()
