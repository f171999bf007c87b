"""Generates the tiny TFLite golden files used by tests/cpp/tflite_model_test.cpp.

Run from anywhere with a Python that has tensorflow and ai-edge-litert:
    python tests/cpp/data/make_tflite_cases.py
Writes tests/cpp/data/tflite/<case>.tflite and <case>.expect.tsv; the .tsv lists what the LiteRT
interpreter itself reports about each operator and tensor, so the C++ parser is checked against
the runtime rather than against itself.
"""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

OUT_DIR = pathlib.Path(__file__).resolve().parent / "tflite"
MAX_FILE_BYTES = 20 * 1024


def build_keras_model() -> tf.keras.Model:
    # Big enough that the converter's dynamic-range quantizer (>= 1024 weights) touches the
    # second conv and the first dense layer, small enough to commit.
    tf.keras.utils.set_random_seed(7)
    inputs = tf.keras.Input(shape=(8, 8, 3), batch_size=1, name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu6", name="conv_a")(inputs)
    y = tf.keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = tf.keras.layers.Concatenate(axis=-1, name="concat")([x, y])
    x = tf.keras.layers.Conv2D(8, 3, padding="same", name="conv_b")(x)
    x = tf.keras.layers.AveragePooling2D(pool_size=2, name="pool")(x)
    x = tf.keras.layers.Reshape((-1,), name="flatten")(x)
    x = tf.keras.layers.Dense(16, activation="relu", name="dense_a")(x)
    x = tf.keras.layers.Dense(5, name="dense_b")(x)
    outputs = tf.keras.layers.Softmax(name="probs")(x)
    return tf.keras.Model(inputs, outputs)


def convert(model: tf.keras.Model, mode: str) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("dynamic_int8", "float16"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def expectations(path: pathlib.Path) -> str:
    """One line per operator and per model tensor, as the interpreter reports them."""
    interpreter = Interpreter(model_path=str(path))
    lines = []
    for op in interpreter._get_ops_details():  # noqa: SLF001 - only public view of op codes
        ins = ",".join(str(i) for i in op["inputs"])
        outs = ",".join(str(i) for i in op["outputs"])
        lines.append(f"op\t{op['index']}\t{op['op_name']}\t{ins}\t{outs}")
    for t in interpreter.get_tensor_details():
        shape = ",".join(str(d) for d in t["shape"])
        q = t["quantization_parameters"]
        scales = ",".join(repr(float(s)) for s in q["scales"])
        zero_points = ",".join(str(int(z)) for z in q["zero_points"])
        dtype = np.dtype(t["dtype"]).name
        lines.append(
            f"tensor\t{t['index']}\t{t['name']}\t{shape}\t{dtype}\t{scales}\t{zero_points}"
            f"\t{q['quantized_dimension']}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    model = build_keras_model()
    for mode in ("float32", "dynamic_int8", "float16"):
        path = OUT_DIR / f"small_cnn_{mode}.tflite"
        data = convert(model, mode)
        if len(data) > MAX_FILE_BYTES:
            raise SystemExit(f"{path.name} is {len(data)} bytes, over the {MAX_FILE_BYTES} limit")
        path.write_bytes(data)
        path.with_suffix(".expect.tsv").write_text(expectations(path))
        print(f"wrote {path.name} ({len(data)} bytes)")


if __name__ == "__main__":
    main()
