"""Golden cases of Shape, Gather, Slice, Range, ConstantOfShape, Where from ONNX Runtime."""

import numpy as np
from onnx import numpy_helper

from golden import case, ort_run, randf, write

cases = []


def add(name, op, inputs, onnx_attrs=None, ir_attrs=None):
    outputs = ort_run(op, inputs, onnx_attrs)
    cases.append(case(name, op, ir_attrs if ir_attrs is not None else (onnx_attrs or {}), inputs,
                      outputs))


def i64(*v):
    return np.array(v, np.int64)


x = randf([2, 3, 4], 90)
big = 2**63 - 1
# Shape
add("Shape_all", "Shape", [x])
add("Shape_start", "Shape", [x], {"start": 1})
add("Shape_start_end", "Shape", [x], {"start": 0, "end": 2})
add("Shape_negative", "Shape", [x], {"start": -2, "end": -1})
add("Shape_clamped", "Shape", [x], {"start": -10, "end": 10})
add("Shape_empty_range", "Shape", [x], {"start": 2, "end": 1})
add("Shape_scalar", "Shape", [np.array(1.0, np.float32)])
# Gather
add("Gather_axis0", "Gather", [x, i64(1, 0, 1)])
add("Gather_axis1_negative_indices", "Gather", [x, i64(-1, 0)], {"axis": 1})
add("Gather_scalar_index", "Gather", [x, np.array(2, np.int64)], {"axis": 2})
add("Gather_2d_indices", "Gather", [x, np.array([[0, 2], [1, 1]], np.int32)], {"axis": -2})
add("Gather_shape_vector", "Gather", [i64(1, 3, 224, 224), np.array(0, np.int64)])
add("Gather_empty_indices", "Gather", [x, np.zeros([0], np.int64)], {"axis": 1})
# Slice
add("Slice_basic", "Slice", [x, i64(0, 1), i64(2, 3)])
add("Slice_axes", "Slice", [x, i64(1), i64(3), i64(2)])
add("Slice_negative_starts_ends", "Slice", [x, i64(-3), i64(-1), i64(-1)])
add("Slice_clamped_ends", "Slice", [x, i64(1), i64(big), i64(1)])
add("Slice_clamped_starts", "Slice", [x, i64(-100), i64(2), i64(2)])
add("Slice_steps", "Slice", [x, i64(0, 3), i64(4, 0), i64(2, 1), i64(2, -1)])
add("Slice_negative_step_to_start", "Slice", [x, i64(-1), i64(-big - 1), i64(2), i64(-1)])
add("Slice_negative_step_big", "Slice", [x, i64(3), i64(0), i64(2), i64(-2)])
add("Slice_empty", "Slice", [x, i64(2), i64(1), i64(1)])
add("Slice_int64_shape_tail", "Slice", [i64(1, 3, 224, 224), i64(2), i64(big)])
add("Slice_all_axes_negative", "Slice", [x, i64(1, 1, 1), i64(2, 3, 4), i64(-3, -2, -1)])
# Range
add("Range_float", "Range", [np.float32(0.5), np.float32(3.0), np.float32(0.75)])
add("Range_float_negative_delta", "Range", [np.float32(1.0), np.float32(-2.0), np.float32(-0.5)])
add("Range_int64", "Range", [np.int64(2), np.int64(11), np.int64(3)])
add("Range_int32_negative", "Range", [np.int32(10), np.int32(4), np.int32(-2)])
add("Range_empty", "Range", [np.int64(5), np.int64(1), np.int64(1)])
add("Range_float64", "Range", [np.float64(-1.0), np.float64(1.0), np.float64(0.25)])
# ConstantOfShape
add("ConstantOfShape_default", "ConstantOfShape", [i64(2, 3)])
for value in [np.array([1.5], np.float32), np.array([7], np.int64), np.array([3], np.int32),
              np.array([True])]:
    tensor = numpy_helper.from_array(value)
    add(f"ConstantOfShape_{value.dtype.name}", "ConstantOfShape", [i64(2, 2)], {"value": tensor},
        {"value": value})
add("ConstantOfShape_scalar", "ConstantOfShape", [np.zeros([0], np.int64)],
    {"value": numpy_helper.from_array(np.array([2.0], np.float32))},
    {"value": np.array([2.0], np.float32)})
add("ConstantOfShape_zero_dim", "ConstantOfShape", [i64(0, 3)])
# Where
cond = np.array([[True, False, True], [False, False, True]])
add("Where_same_shape", "Where", [cond, randf([2, 3], 91), randf([2, 3], 92)])
add("Where_broadcast", "Where", [np.array([True, False, True]), randf([2, 1], 93), np.float32(0.0)])
add("Where_cond_broadcast", "Where", [np.array([[True], [False]]), randf([2, 3], 94),
                                      randf([2, 3], 95)])
add("Where_int64", "Where", [cond, i64(1, 2, 3), i64(-1)])
add("Where_uint8", "Where", [cond, np.array([7], np.uint8), np.array([9, 8, 1], np.uint8)])

write("indexing", "make_indexing_cases.py", cases)
