"""Golden cases of Concat, Split, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Expand, Tile
from ONNX Runtime (Concat's fused activation, from TFLite, by numpy on its result)."""

import numpy as np

from golden import case, ort_run, randf, write

cases = []


def add(name, op, inputs, onnx_attrs=None, num_outputs=1, opset=None):
    kwargs = {"opset": opset} if opset else {}
    outputs = ort_run(op, inputs, onnx_attrs, num_outputs=num_outputs, **kwargs)
    cases.append(case(name, op, onnx_attrs or {}, inputs, outputs))


def i64(*v):
    return np.array(v, np.int64)


x = randf([2, 3, 4], 70)
# Concat
add("Concat_axis0", "Concat", [x, randf([1, 3, 4], 71)], {"axis": 0})
add("Concat_axis1_three", "Concat", [x, randf([2, 1, 4], 72), randf([2, 2, 4], 73)], {"axis": 1})
add("Concat_axis_neg1", "Concat", [x, randf([2, 3, 2], 74)], {"axis": -1})
add("Concat_one_input", "Concat", [x], {"axis": 1})
add("Concat_empty_part", "Concat", [x, np.zeros([2, 0, 4], np.float32)], {"axis": 1})
add("Concat_int64_shapes", "Concat", [i64(1, 3), i64(-1), i64(7, 7)], {"axis": 0})
add("Concat_uint8", "Concat", [np.array([[1, 2]], np.uint8), np.array([[3, 4]], np.uint8)], {"axis": 0})
add("Concat_float64", "Concat", [x.astype(np.float64), x.astype(np.float64)], {"axis": 2})
big = randf([2, 2], 75, -9, 9)
(joined,) = ort_run("Concat", [big, big], {"axis": 1})
cases.append(case("Concat_fused_RELU6", "Concat", {"axis": 1, "fused_activation": "RELU6"},
                  [big, big], [np.clip(joined, 0, 6)]))
# Split
add("Split_equal_default_axis", "Split", [randf([4, 3], 76)], {}, num_outputs=2, opset=13)
add("Split_sizes_input", "Split", [x, i64(1, 3)], {"axis": 2}, num_outputs=2)
add("Split_num_outputs_uneven", "Split", [randf([2, 7], 77)], {"axis": 1, "num_outputs": 3},
    num_outputs=3)
add("Split_negative_axis", "Split", [x], {"axis": -2, "num_outputs": 3}, num_outputs=3)
add("Split_zero_size_part", "Split", [x, i64(0, 2, 1)], {"axis": 1}, num_outputs=3)
add("Split_int32", "Split", [np.arange(6, dtype=np.int32)], {"num_outputs": 2}, num_outputs=2)
# Reshape
add("Reshape_basic", "Reshape", [x, i64(4, 6)])
add("Reshape_infer", "Reshape", [x, i64(-1, 2)])
add("Reshape_copy_zero", "Reshape", [x, i64(0, -1)])
add("Reshape_copy_zero_middle", "Reshape", [x, i64(2, 0, 2, 2)])
add("Reshape_to_scalar", "Reshape", [np.array([5.0], np.float32), np.zeros([0], np.int64)])
add("Reshape_allowzero_empty", "Reshape", [np.zeros([0, 3], np.float32), i64(3, 0)],
    {"allowzero": 1})
add("Reshape_int64", "Reshape", [np.arange(6, dtype=np.int64), i64(3, 2)])
add("Reshape_bool", "Reshape", [np.array([True, False, True, True]), i64(2, 2)])
# Flatten
for axis in [0, 1, 2, 3, -1, -3]:
    add(f"Flatten_axis{axis}", "Flatten", [x], {"axis": axis})
add("Flatten_default", "Flatten", [randf([2, 3, 2, 2], 78)])
# Squeeze / Unsqueeze
y = randf([1, 3, 1, 2], 79)
add("Squeeze_all", "Squeeze", [y])
add("Squeeze_axes", "Squeeze", [y, i64(2)])
add("Squeeze_negative_axes", "Squeeze", [y, i64(-4, -2)])
add("Squeeze_int64", "Squeeze", [i64(5).reshape(1, 1), i64(0)])
add("Unsqueeze_front", "Unsqueeze", [x, i64(0)])
add("Unsqueeze_several", "Unsqueeze", [x, i64(1, 4)])
add("Unsqueeze_negative", "Unsqueeze", [x, i64(-1)])
add("Unsqueeze_unsorted", "Unsqueeze", [x, i64(3, 0)])
add("Unsqueeze_scalar", "Unsqueeze", [np.array(7, np.int64), i64(0)])
# Transpose
add("Transpose_default", "Transpose", [x])
add("Transpose_perm", "Transpose", [x], {"perm": [1, 2, 0]})
add("Transpose_nchw_to_nhwc", "Transpose", [randf([1, 3, 2, 2], 80)], {"perm": [0, 2, 3, 1]})
add("Transpose_int8", "Transpose", [np.arange(6, dtype=np.int8).reshape(2, 3)])
add("Transpose_identity", "Transpose", [x], {"perm": [0, 1, 2]})
# Expand
add("Expand_broadcast", "Expand", [randf([3, 1], 81), i64(2, 3, 4)])
add("Expand_keep_dims_with_1", "Expand", [randf([3, 4], 82), i64(1, 1)])
add("Expand_smaller_shape", "Expand", [randf([2, 1, 4], 83), i64(3, 1)])
add("Expand_int64", "Expand", [i64(1, 2), i64(3, 1)])
# Tile
add("Tile_basic", "Tile", [randf([2, 3], 84), i64(2, 2)])
add("Tile_one_axis", "Tile", [x, i64(1, 1, 3)])
add("Tile_zero", "Tile", [x, i64(1, 0, 1)])
add("Tile_int32", "Tile", [np.array([[1, 2]], np.int32), i64(3, 1)])

write("tensor_ops", "make_tensor_ops_cases.py", cases)
