"""Golden cases of the broadcasting ops (Add ... Greater) from ONNX Runtime; fused activations
(TFLite's, which ONNX lacks) from numpy on ONNX Runtime's result."""

import numpy as np

from golden import case, ort_run, randf, write

cases = []


def add(name, op, inputs, onnx_attrs=None, ir_attrs=None):
    outputs = ort_run(op, inputs, onnx_attrs)
    cases.append(case(name, op, ir_attrs if ir_attrs is not None else (onnx_attrs or {}), inputs,
                      outputs))


a = randf([2, 3, 4], 10)
b = randf([2, 3, 4], 11)
shapes = {
    "same": ([2, 3, 4], [2, 3, 4]),
    "scalar": ([2, 3, 4], []),
    "scalar_first": ([], [2, 3, 4]),
    "channel": ([2, 3, 4], [3, 1]),          # NCHW-style per-channel
    "last_dim": ([2, 3, 4], [4]),            # NHWC-style per-channel
    "middle_block": ([2, 3, 4, 2], [3, 4, 1]),
    "both_ways": ([2, 1, 4], [3, 1]),        # both operands broadcast
    "rank_up": ([3, 1], [2, 1, 4]),
    "zero_size": ([0, 3], [3]),
}
for op in ["Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less", "Greater"]:
    for tag, (sa, sb) in shapes.items():
        x = randf(sa, 20 + len(tag))
        y = randf(sb, 40 + len(tag))
        if op in ("Equal", "Less", "Greater"):  # small integers, so that ties occur
            x, y = np.round(x), np.round(y)
        if op == "Div":
            y = np.where(np.abs(y) < 0.1, 0.5, y).astype(np.float32)
        add(f"{op}_{tag}", op, [x, y])
for op in ["Add", "Mul", "Max"]:
    add(f"{op}_float64", op, [a.astype(np.float64), b[0].astype(np.float64)])
ia = np.array([[7, -7, 5, -5, 0, 9]], dtype=np.int64)
ib = np.array([[2, 2, -3, -3, 4, 9]], dtype=np.int64)
for op in ["Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less", "Greater"]:
    add(f"{op}_int64", op, [ia, ib])
    add(f"{op}_int32_broadcast", op, [ia.astype(np.int32).reshape(2, 3), np.array([3], np.int32)])
add("Equal_bool", "Equal", [np.array([True, False, True]), np.array([True, True, False])])
add("Pow_float", "Pow", [randf([2, 3], 12, 0.1, 3.0), randf([2, 3], 13)])
add("Pow_square_broadcast", "Pow", [a, np.float32(2.0)])
add("Pow_int_exponent", "Pow", [randf([2, 3], 14), np.array([2, 3, 0], dtype=np.int64)])
add("Pow_int64", "Pow", [np.array([1, 2, 3, -2], np.int64), np.array([4, 5, 2, 3], np.int64)])
add("Pow_negative_base_fraction", "Pow", [np.array([-2.0, 4.0], np.float32), np.float32(0.5)])
add("Max_nan", "Max", [np.array([np.nan, 1.0, 2.0], np.float32), np.array([0.0, np.nan, 1.0], np.float32)])
# Variadic Max/Min/Sum: one input, and three with the largest shape last.
for op in ["Max", "Min", "Sum"]:
    add(f"{op}_one_input", op, [a])
    add(f"{op}_three_inputs", op, [randf([4], 30), randf([3, 1], 31), randf([2, 3, 4], 32)])
    add(f"{op}_two_inputs", op, [randf([3, 1], 33), randf([2, 1, 4], 34)])
    if op == "Sum":  # ONNX Sum is float-only
        continue
    add(f"{op}_three_int32", op, [np.array([1, 5, -3], np.int32), np.array([[2], [-1]], np.int32),
                                  np.array([4, 0, 4], np.int32)])

# Fused activations (TFLite ADD/SUB/MUL/DIV): ONNX Runtime's op, then the activation in numpy.
activations = {
    "RELU": lambda v: np.maximum(v, 0),
    "RELU6": lambda v: np.clip(v, 0, 6),
    "RELU_N1_TO_1": lambda v: np.clip(v, -1, 1),
    "TANH": np.tanh,
    "SIGN_BIT": lambda v: np.signbit(v).astype(np.float32),
}
big_a, big_b = randf([2, 3, 4], 15, -8, 8), randf([4], 16, -8, 8)
for op in ["Add", "Sub", "Mul", "Div"]:
    for name, fn in activations.items():
        (y,) = ort_run(op, [big_a, big_b])
        cases.append(case(f"{op}_fused_{name}", op, {"fused_activation": name}, [big_a, big_b],
                          [fn(y).astype(np.float32)]))

write("binary", "make_binary_cases.py", cases)
