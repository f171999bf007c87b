"""Generates the tiny ONNX files that tests/cpp/onnx_proto_test.cpp reads.

The C++ test asserts exact values, so the values here are simple formulas that the test
repeats; change both together. Files are written with the onnx package (protobuf), checked
with onnx.checker and onnxruntime, and are small enough to commit.

    python tests/cpp/data/make_onnx_proto_cases.py            # write tests/cpp/data/onnx/
    python tests/cpp/data/make_onnx_proto_cases.py --roundtrip-tool BIN
        # BIN IN OUT must parse IN with convmend and write serialize_model to OUT; checks that
        # onnx parses OUT to a proto equal to IN's and that the checker and onnxruntime accept it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

OUT_DIR = Path(__file__).resolve().parent / "onnx"
OPSET = [helper.make_opsetid("", 17)]


def weights(count: int) -> np.ndarray:
    # Multiples of 0.25 in [-0.75, 0.75]: exact in float32, so the C++ test compares with ==.
    return np.array([(i % 7 - 3) * 0.25 for i in range(count)], dtype=np.float32)


def make_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="convmend-tests")
    model.ir_version = 8  # what onnxruntime releases of the last years all read
    model.producer_version = "1"
    model.doc_string = "golden file for onnx_proto_test"
    helper.set_model_props(model, {"purpose": "test"})
    return model


def conv_relu(raw: bool) -> onnx.ModelProto:
    w = weights(4 * 3 * 3 * 3)
    b = np.array([0.5, -0.5, 1.0, 0.0], dtype=np.float32)
    initializers = [
        helper.make_tensor("conv1.weight", TensorProto.FLOAT, [4, 3, 3, 3], w, raw=raw),
        helper.make_tensor("conv1.bias", TensorProto.FLOAT, [4], b, raw=raw),
    ]
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "conv1.weight", "conv1.bias"],
            ["conv1_out"],
            name="conv1",
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[1, 1],
        ),
        helper.make_node("Relu", ["conv1_out"], ["y"], name="relu1"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])],
        initializers,
    )
    return make_model(graph)


def typed_fields() -> onnx.ModelProto:
    """Initializers in float_data, int64_data and int32_data (float16, int8, bool)."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, -1])
    scale = helper.make_tensor("scale", TensorProto.FLOAT, [2, 3], [1.5, -2.0, 0.25, 0, 3, -0.5])
    half = helper.make_tensor(
        "half", TensorProto.FLOAT16, [3], np.array([1.0, -2.0, 0.5], np.float16)
    )
    small = helper.make_tensor("small", TensorProto.INT8, [4], [-128, -1, 0, 127])
    flags = helper.make_tensor("flags", TensorProto.BOOL, [3], [True, False, True])
    nodes = [
        helper.make_node("Mul", ["x", "scale"], ["scaled"], name="mul"),
        helper.make_node("Reshape", ["scaled", "shape"], ["y"], name="reshape"),
    ]
    graph = helper.make_graph(
        nodes,
        "typed_fields",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [shape, scale, half, small, flags],
    )
    return make_model(graph)


def external_data(directory: Path) -> None:
    w = weights(8 * 4).reshape(4, 8)
    b = np.arange(8, dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "fc.weight"], ["mm"], name="fc"),
            helper.make_node("Add", ["mm", "fc.bias"], ["y"], name="fc_bias"),
        ],
        "external_data",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [
            onnx.numpy_helper.from_array(w, "fc.weight"),
            onnx.numpy_helper.from_array(b, "fc.bias"),
        ],
    )
    model = make_model(graph)
    # onnx appends to an existing data file; start fresh so reruns write identical files.
    (directory / "external_data.bin").unlink(missing_ok=True)
    onnx.save_model(
        model,
        directory / "external_data.onnx",
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="external_data.bin",
        size_threshold=0,
    )


def attributes() -> onnx.ModelProto:
    """Every scalar and list attribute kind, negative ints included."""
    c = helper.make_node
    nodes = [
        c("Constant", [], ["c_int"], name="c_int", value_int=-7),
        c("Constant", [], ["c_float"], name="c_float", value_float=0.0),
        c("Constant", [], ["c_string"], name="c_string", value_string="hello"),
        c("Constant", [], ["c_ints"], name="c_ints", value_ints=[3, -1, 0, 1 << 40]),
        c("Constant", [], ["c_floats"], name="c_floats", value_floats=[1.5, -0.25]),
        c("Constant", [], ["c_strings"], name="c_strings", value_strings=["a", "", "bc"]),
        c(
            "Constant",
            [],
            ["c_tensor"],
            name="c_tensor",
            value=helper.make_tensor("v", TensorProto.INT32, [2], [5, -6]),
        ),
        c("ArgMax", ["x"], ["argmax"], name="argmax", axis=-1, keepdims=0),
        c("LeakyRelu", ["x"], ["leaky"], name="leaky", alpha=0.125),
        c("Transpose", ["x"], ["transposed"], name="transpose", perm=[1, 0]),
    ]
    outputs = [
        helper.make_tensor_value_info("c_int", TensorProto.INT64, []),
        helper.make_tensor_value_info("c_float", TensorProto.FLOAT, []),
        helper.make_tensor_value_info("c_string", TensorProto.STRING, []),
        helper.make_tensor_value_info("c_ints", TensorProto.INT64, [4]),
        helper.make_tensor_value_info("c_floats", TensorProto.FLOAT, [2]),
        helper.make_tensor_value_info("c_strings", TensorProto.STRING, [3]),
        helper.make_tensor_value_info("c_tensor", TensorProto.INT32, [2]),
        helper.make_tensor_value_info("argmax", TensorProto.INT64, [2]),
        helper.make_tensor_value_info("leaky", TensorProto.FLOAT, [2, 3]),
        helper.make_tensor_value_info("transposed", TensorProto.FLOAT, [3, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "attributes",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        outputs,
    )
    return make_model(graph)


def subgraph() -> onnx.ModelProto:
    """An If whose branches are graph attributes, one with its own initializer."""
    then_graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["then_out"], name="then_add")],
        "then_branch",
        [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [2])],
        [helper.make_tensor("one", TensorProto.FLOAT, [2], [1.0, 1.0])],
    )
    else_graph = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["else_out"], name="else_neg")],
        "else_branch",
        [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [2])],
    )
    graph = helper.make_graph(
        [
            helper.make_node(
                "If", ["cond"], ["y"], name="if", then_branch=then_graph, else_branch=else_graph
            )
        ],
        "subgraph",
        [
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    return make_model(graph)


def accept(path: Path) -> None:
    onnx.checker.check_model(str(path), full_check=True)
    import onnxruntime

    onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cases = {
        "conv_relu_raw.onnx": conv_relu(raw=True),
        "conv_relu_float_data.onnx": conv_relu(raw=False),
        "typed_fields.onnx": typed_fields(),
        "attributes.onnx": attributes(),
        "subgraph.onnx": subgraph(),
    }
    paths = []
    for name, model in cases.items():
        path = directory / name
        onnx.save_model(model, path)
        paths.append(path)
    external_data(directory)
    paths.append(directory / "external_data.onnx")
    for path in paths:
        accept(path)
    sizes = {p.name: p.stat().st_size for p in directory.iterdir()}
    for name, size in sorted(sizes.items()):
        assert size < 10 * 1024, f"{name} has {size} bytes; golden files must stay tiny"
        print(f"{name}: {size} bytes")
    return paths


def check_roundtrip(tool: str, paths: list[Path]) -> bool:
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            out = Path(scratch) / path.name
            subprocess.run([tool, str(path), str(out)], check=True)
            original = onnx.load(str(path))  # loads external data too
            written = onnx.load(str(out))
            # External tensors come back inline: compare the loaded forms.
            equal = original == written
            accept(out)
            print(f"{path.name}: convmend round trip {'equal' if equal else 'DIFFERS'}")
            ok &= equal
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--roundtrip-tool", help="binary: TOOL IN OUT serializes IN's parse to OUT")
    args = parser.parse_args()
    paths = write_all(args.out_dir)
    if args.roundtrip_tool and not check_roundtrip(args.roundtrip_tool, paths):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
