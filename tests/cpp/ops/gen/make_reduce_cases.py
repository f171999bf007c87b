"""Golden cases of ReduceMean, ReduceSum, ReduceMax, ReduceMin from ONNX Runtime (opset 18+:
axes as an input)."""

import numpy as np

from golden import case, ort_run, randf, reference_run, write

cases = []


def add(name, op, inputs, onnx_attrs=None):
    outputs = ort_run(op, inputs, onnx_attrs)
    cases.append(case(name, op, onnx_attrs or {}, inputs, outputs))


x = randf([2, 3, 4], 50)
for op in ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"]:
    add(f"{op}_all_default", op, [x])
    add(f"{op}_all_no_keepdims", op, [x], {"keepdims": 0})
    add(f"{op}_axis1", op, [x, np.array([1], np.int64)])
    add(f"{op}_axes_neg_no_keepdims", op, [x, np.array([-1, 0], np.int64)], {"keepdims": 0})
    add(f"{op}_spatial", op, [randf([1, 2, 3, 3], 51), np.array([2, 3], np.int64)])
    add(f"{op}_empty_axes_reduces_all", op, [x, np.array([], np.int64)])
    add(f"{op}_empty_axes_noop", op, [x, np.array([], np.int64)], {"noop_with_empty_axes": 1})
    add(f"{op}_float64", op, [x.astype(np.float64), np.array([2], np.int64)])
for op in ["ReduceSum", "ReduceMax", "ReduceMin"]:
    add(f"{op}_int64", op, [np.array([[3, -1, 7], [2, 9, -4]], np.int64), np.array([1], np.int64)],
        {"keepdims": 0})
    add(f"{op}_int32", op, [np.array([[3, -1, 7], [2, 9, -4]], np.int32), np.array([0], np.int64)])
for op in ["ReduceMax", "ReduceMin"]:
    add(f"{op}_bool", op, [np.array([[True, False, False], [False, False, False]]),
                           np.array([1], np.int64)], {"keepdims": 0})
add("ReduceSum_zero_size", "ReduceSum", [np.zeros([2, 0, 3], np.float32), np.array([1], np.int64)])
# NaN propagates (numpy, the ONNX reference); ONNX Runtime returns NaN only when it comes first.
for op in ["ReduceMax", "ReduceMin"]:
    nan_in = [np.array([[1.0, np.nan, 3.0], [2.0, 0.0, 5.0]], np.float32), np.array([1], np.int64)]
    cases.append(case(f"{op}_nan_propagates", op, {}, nan_in, reference_run(op, nan_in)))

write("reduce", "make_reduce_cases.py", cases)
