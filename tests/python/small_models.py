"""Small real models built in code, shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tiny_onnx(path: Path, nhwc: bool = False) -> Path:
    """Conv 3->4 (3x3), global average pool, flatten: a real image model, 32x32 NCHW (or
    NHWC with a Transpose in front, as tf2onnx writes Keras models)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    front = [helper.make_node("Transpose", ["input"], ["nchw"], perm=[0, 3, 1, 2])] if nhwc else []
    graph = helper.make_graph(
        front + [helper.make_node("Conv", ["nchw" if nhwc else "input", "w"], ["c"],
                                  pads=[1, 1, 1, 1]),
                 helper.make_node("GlobalAveragePool", ["c"], ["g"]),
                 helper.make_node("Flatten", ["g"], ["logits"])],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       [1, 32, 32, 3] if nhwc else [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path
