"""Generates the bad-input corpus that tests/python/test_bad_inputs.py feeds to the CLI.

    python scripts/make_bad_inputs.py OUT_DIR

Every file is derived deterministically from small valid models: a tiny ONNX CNN built here
with the onnx package, the committed tests/cpp/data/{onnx,tflite} files, and a small TFLite
model converted here with an op convmend does not support. Writes OUT_DIR/manifest.json: a
list of {file, kind, mention_all, mention_any} saying what the one error line must contain.
"""

from __future__ import annotations

import json
import os
import random
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parent.parent
ONNX_SEEDS = REPO / "tests" / "cpp" / "data" / "onnx"
TFLITE_SEED = REPO / "tests" / "cpp" / "data" / "tflite" / "small_cnn_float32.tflite"
BITFLIPS_PER_FORMAT = 30
TRUNCATION_WORDS = ["truncated", "too small", "too short", "offset", "end of", "past the end",
                    "out of range", "outside", "byte"]


def tiny_onnx_cnn() -> onnx.ModelProto:
    """Conv+Relu+GlobalAveragePool+Flatten+Gemm+Softmax on a 1x3x32x32 input."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "conv_b"),
        numpy_helper.from_array(rng.standard_normal((5, 4)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["conv"], name="conv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 5])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="make_bad_inputs")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def unsupported_onnx() -> onnx.ModelProto:
    """LSTM, NonMaxSuppression and a custom-domain op in one model: all must be listed."""
    rng = np.random.default_rng(1)
    inits = [
        numpy_helper.from_array(rng.standard_normal((1, 16, 4)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal((1, 16, 4)).astype(np.float32), "R"),
        numpy_helper.from_array(np.array([1], np.int64), "max_boxes"),
    ]
    nodes = [
        helper.make_node("LSTM", ["seq", "W", "R"], ["lstm_y"], name="lstm", hidden_size=4),
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max_boxes"], ["selected"],
                         name="nms"),
        helper.make_node("FancyWarp", ["lstm_y"], ["warped"], name="warp",
                         domain="com.example.vendor"),
    ]
    graph = helper.make_graph(
        nodes, "unsupported_ops",
        [helper.make_tensor_value_info("seq", TensorProto.FLOAT, [2, 1, 4]),
         helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [1, 3, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 1, 3])],
        [helper.make_tensor_value_info("warped", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("com.example.vendor", 1)])
    model.ir_version = 8
    return model


def unsupported_tflite() -> bytes:
    """A small TFLite model with CUMSUM (a builtin convmend lacks) and a Flex (select TF) op."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def f(x):
        return tf.linalg.det(tf.reshape(tf.math.cumsum(x, axis=1), [2, 2, 2]))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                           tf.lite.OpsSet.SELECT_TF_OPS]
    return converter.convert()


# --- minimal FlatBuffer navigation, enough to aim corruptions at known fields -------------

def _u32(b: bytes | bytearray, at: int) -> int:
    return struct.unpack_from("<I", b, at)[0]


def _field_pos(b: bytes | bytearray, table: int, field: int) -> int | None:
    """Absolute position of a table field, or None when the vtable omits it."""
    vtable = table - struct.unpack_from("<i", b, table)[0]
    vt_size = struct.unpack_from("<H", b, vtable)[0]
    slot = 4 + 2 * field
    if slot + 2 > vt_size:
        return None
    off = struct.unpack_from("<H", b, vtable + slot)[0]
    return table + off if off else None


def _deref(b: bytes | bytearray, pos: int) -> int:
    return pos + _u32(b, pos)


def _vector(b: bytes | bytearray, table: int, field: int) -> list[int]:
    """Absolute positions of the tables in a vector-of-tables field."""
    pos = _field_pos(b, table, field)
    if pos is None:
        return []
    vec = _deref(b, pos)
    return [_deref(b, vec + 4 + 4 * i) for i in range(_u32(b, vec))]


def tflite_buffer_index_out_of_range(data: bytes) -> bytes:
    b = bytearray(data)
    root = _u32(b, 0)
    subgraph = _vector(b, root, 2)[0]
    for tensor in _vector(b, subgraph, 0):
        pos = _field_pos(b, tensor, 2)  # Tensor.buffer
        if pos is not None and _u32(b, pos) > 0:
            struct.pack_into("<I", b, pos, 7777)
            return bytes(b)
    raise RuntimeError("no tensor with a buffer field")


def tflite_opcode_index_out_of_range(data: bytes) -> bytes:
    b = bytearray(data)
    root = _u32(b, 0)
    subgraph = _vector(b, root, 2)[0]
    for op in _vector(b, subgraph, 3):
        pos = _field_pos(b, op, 0)  # Operator.opcode_index
        if pos is not None:
            struct.pack_into("<I", b, pos, 999)
            return bytes(b)
    raise RuntimeError("no operator with an opcode_index field")


def tflite_vtable_outside(data: bytes) -> bytes:
    b = bytearray(data)
    root = _u32(b, 0)
    # The root table's soffset now points its vtable far past the end of the file.
    struct.pack_into("<i", b, root, -(len(b) * 4))
    return bytes(b)


# --- ONNX hand corruptions --------------------------------------------------------------

def onnx_raw_data_too_short(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    init = next(i for i in m.graph.initializer if i.name == "conv_w")
    init.raw_data = init.raw_data[:10]
    return m.SerializeToString()


def onnx_negative_dims(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    init = next(i for i in m.graph.initializer if i.name == "fc_w")
    init.dims[0] = -5
    return m.SerializeToString()


def onnx_missing_value(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    node = next(n for n in m.graph.node if n.name == "relu")
    node.input[0] = "ghost_tensor"
    return m.SerializeToString()


def onnx_cycle(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    # relu reads flat, which (through pool and flatten) depends on relu itself.
    next(n for n in m.graph.node if n.name == "relu").input[0] = "flat"
    return m.SerializeToString()


def onnx_no_opset(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.opset_import[:]
    return m.SerializeToString()


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def onnx_huge_length(model: onnx.ModelProto) -> bytes:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    graph = m.graph.SerializeToString()
    m.ClearField("graph")
    # Field 7 (graph), wire type 2, declaring 2^40 bytes where only the real graph follows.
    return m.SerializeToString() + b"\x3a" + _varint(1 << 40) + graph


def bad_utf8(data: bytes, name: bytes) -> bytes:
    """The first occurrence of `name` with two bytes that are not UTF-8, same length."""
    at = data.index(name)
    return data[:at + 1] + b"\xff\xfe" + data[at + 3:]


# --- generic damage ----------------------------------------------------------------------

def truncation_points(size: int, full: bool = True) -> list[int]:
    """Cuts in the header, mid-graph and mid-weights; `full` adds more for the main seeds."""
    points = {4, 16, size // 2, size - 1}
    if full:
        points |= {1, 7, size // 10, size // 4, (3 * size) // 4, (9 * size) // 10}
    return sorted(p for p in points if 0 < p < size)


def bit_flip(data: bytes, seed: int) -> bytes:
    rng = random.Random(seed)
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
    return bytes(b)


def main(out_dir: Path) -> list[dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: list[dict] = []

    def add(name: str, data: bytes, kind: str, mention_all=(), mention_any=()) -> None:
        (out_dir / name).write_bytes(data)
        manifest.append({"file": name, "kind": kind, "mention_all": list(mention_all),
                         "mention_any": list(mention_any)})

    model = tiny_onnx_cnn()
    onnx_bytes = model.SerializeToString()
    tflite_bytes = TFLITE_SEED.read_bytes()
    add("valid_tiny_cnn.onnx", onnx_bytes, "valid")
    add("valid_small_cnn.tflite", tflite_bytes, "valid")

    seeds = [("tiny", ".onnx", onnx_bytes), ("small_cnn", ".tflite", tflite_bytes)]
    seeds += [(p.stem, ".onnx", p.read_bytes()) for p in sorted(ONNX_SEEDS.glob("*.onnx"))
              if p.stem != "external_data"]
    for k, (stem, ext, data) in enumerate(seeds):
        for cut in truncation_points(len(data), full=k < 2):
            add(f"truncated_{stem}_{cut}{ext}", data[:cut], "truncated",
                mention_any=TRUNCATION_WORDS)

    for stem, ext, data in seeds[:2]:
        for seed in range(BITFLIPS_PER_FORMAT):
            add(f"bitflip_{stem}_{seed:02d}{ext}", bit_flip(data, seed), "bitflip")

    add("onnx_raw_data_too_short.onnx", onnx_raw_data_too_short(model), "corrupt",
        mention_all=["conv_w"])
    add("onnx_negative_dims.onnx", onnx_negative_dims(model), "corrupt",
        mention_all=["fc_w", "-5"])
    add("onnx_missing_value.onnx", onnx_missing_value(model), "corrupt",
        mention_all=["ghost_tensor"])
    add("onnx_cycle.onnx", onnx_cycle(model), "corrupt", mention_all=["cycle", "relu", "flat"])
    add("onnx_bad_utf8_name.onnx", bad_utf8(onnx_bytes, b"softmax"), "corrupt",
        mention_all=["UTF-8", "name"])
    add("tflite_bad_utf8_name.tflite", bad_utf8(tflite_bytes, b"serving_default_image"),
        "corrupt", mention_all=["UTF-8", "name"])
    add("onnx_no_opset.onnx", onnx_no_opset(model), "corrupt", mention_any=["opset"])
    add("onnx_huge_length.onnx", onnx_huge_length(model), "corrupt",
        mention_any=TRUNCATION_WORDS + ["length"])
    add("tflite_buffer_out_of_range.tflite", tflite_buffer_index_out_of_range(tflite_bytes),
        "corrupt", mention_all=["7777"])
    add("tflite_opcode_out_of_range.tflite", tflite_opcode_index_out_of_range(tflite_bytes),
        "corrupt", mention_all=["999"])
    wrong_id = bytearray(tflite_bytes)
    wrong_id[4:8] = b"XYZ9"
    add("tflite_wrong_identifier.tflite", bytes(wrong_id), "corrupt",
        mention_any=["identifier", "TFL3"])
    add("tflite_vtable_outside.tflite", tflite_vtable_outside(tflite_bytes), "corrupt",
        mention_any=["vtable", "outside", "offset", "out of range", "past the end"])

    add("unsupported_ops.onnx", unsupported_onnx().SerializeToString(), "unsupported",
        mention_all=["LSTM", "NonMaxSuppression", "FancyWarp"])
    add("unsupported_ops.tflite", unsupported_tflite(), "unsupported",
        mention_all=["CUMSUM", "FlexMatrixDeterminant"])

    add("zero_bytes.onnx", b"", "empty", mention_any=["empty", "0 bytes", "too small"])
    add("zero_bytes.tflite", b"", "empty", mention_any=["empty", "0 bytes", "too small"])
    add("random_bytes.pb", bytes(random.Random(5).randbytes(512)), "unknown_format",
        mention_any=["unknown model format"])
    add("random_bytes.onnx", bytes(random.Random(6).randbytes(512)), "corrupt")
    add("random_bytes.tflite", bytes(random.Random(7).randbytes(512)), "corrupt")
    # Mislabelled files: the format is detected by content, so these load and run.
    add("really_tflite.onnx", tflite_bytes, "mislabelled")
    add("really_onnx.tflite", onnx_bytes, "mislabelled")
    add("really_onnx.bin", onnx_bytes, "mislabelled")

    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_inputs.py OUT_DIR")
    entries = main(Path(sys.argv[1]))
    kinds: dict[str, int] = {}
    for e in entries:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    print(f"wrote {len(entries)} files: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
