"""Golden cases of the elementwise unary ops (Relu ... Identity, Clip, PRelu) from ONNX Runtime."""

import numpy as np

from golden import case, ort_run, randf, write

cases = []


def add(name, op, inputs, onnx_attrs=None, ir_attrs=None, tolerance=None, opset=None):
    kwargs = {"opset": opset} if opset else {}
    outputs = ort_run(op, inputs, onnx_attrs, **kwargs)
    cases.append(case(name, op, ir_attrs if ir_attrs is not None else (onnx_attrs or {}), inputs,
                      outputs, tolerance))


x = randf([2, 3, 4], 1)
edge = np.array([-20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0], dtype=np.float32)
positive = randf([2, 5], 2, 0.05, 8.0)
for op in ["Relu", "Sigmoid", "HardSwish", "Tanh", "Erf", "Neg", "Abs", "Exp", "Floor", "Ceil",
           "Softplus", "Identity"]:
    add(f"{op}_random", op, [x])
    add(f"{op}_edges", op, [edge])
for op in ["Sqrt", "Log", "Reciprocal"]:
    add(f"{op}_positive", op, [positive])
add("Relu_float64", "Relu", [x.astype(np.float64)])
add("Exp_float64", "Exp", [x.astype(np.float64)])
add("Relu_int32", "Relu", [np.array([[-3, 0, 7]], dtype=np.int32)])
add("Neg_int64", "Neg", [np.array([-3, 0, 7], dtype=np.int64)])
add("Abs_int32", "Abs", [np.array([-3, 0, 7], dtype=np.int32)])
add("Identity_int8", "Identity", [np.array([-3, 0, 7], dtype=np.int8)])
add("Identity_bool", "Identity", [np.array([True, False], dtype=np.bool_)])
add("LeakyRelu_default", "LeakyRelu", [x])
add("LeakyRelu_alpha", "LeakyRelu", [x], {"alpha": 0.3})
add("HardSigmoid_default", "HardSigmoid", [edge])
add("HardSigmoid_alpha_beta", "HardSigmoid", [x], {"alpha": 0.5, "beta": 0.6})
add("Elu_default", "Elu", [x])
add("Elu_alpha", "Elu", [x], {"alpha": 2.0})
add("Gelu_erf", "Gelu", [x])
add("Gelu_erf_edges", "Gelu", [edge], {"approximate": "none"})
add("Gelu_tanh", "Gelu", [x], {"approximate": "tanh"})
add("Clip_min_max", "Clip", [x, np.float32(-1.0), np.float32(0.5)])
add("Clip_min_only", "Clip", [x, np.float32(-1.0)])
add("Clip_max_only", "Clip", [x, None, np.float32(0.5)])
add("Clip_none", "Clip", [x])
add("Clip_min_above_max", "Clip", [edge, np.float32(2.0), np.float32(1.0)])
add("Clip_int64", "Clip", [np.array([-5, 0, 2, 9], dtype=np.int64), np.int64(-1), np.int64(3)])
add("PRelu_per_channel", "PRelu", [x, np.array([[0.1], [0.2], [-0.3]], dtype=np.float32)])
add("PRelu_scalar", "PRelu", [x, np.array([0.25], dtype=np.float32)])
add("PRelu_full", "PRelu", [x, randf([2, 3, 4], 3)])

write("unary", "make_unary_cases.py", cases)
