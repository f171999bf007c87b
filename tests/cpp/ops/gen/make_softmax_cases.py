"""Golden cases of Softmax: ONNX Runtime for opset 13 (axis) and opset 11 (coerce_2d semantics);
numpy for TFLite's beta, which ONNX lacks."""

import numpy as np

from golden import case, ort_run, randf, write

cases = []
x = randf([2, 3, 4], 60, -5, 5)
for axis in [-1, 0, 1, 2]:
    cases.append(case(f"Softmax_axis{axis}", "Softmax", {"axis": axis}, [x],
                      ort_run("Softmax", [x], {"axis": axis})))
cases.append(case("Softmax_default_axis", "Softmax", {}, [x], ort_run("Softmax", [x])))
for axis in [0, 1, 2]:  # opset 11 flattens to 2-D at axis
    cases.append(case(f"Softmax_coerce_2d_axis{axis}", "Softmax", {"axis": axis, "coerce_2d": 1},
                      [x], ort_run("Softmax", [x], {"axis": axis}, opset=11)))
big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1e30]], np.float32)
cases.append(case("Softmax_large_values", "Softmax", {}, [big], ort_run("Softmax", [big])))
cases.append(case("Softmax_float64", "Softmax", {"axis": 1}, [x.astype(np.float64)],
                  ort_run("Softmax", [x.astype(np.float64)], {"axis": 1})))
for beta in [0.5, 2.0]:
    logits = x.astype(np.float64) * beta
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cases.append(case(f"Softmax_beta{beta}", "Softmax", {"beta": beta}, [x],
                      [(e / e.sum(axis=-1, keepdims=True)).astype(np.float32)]))

write("softmax", "make_softmax_cases.py", cases)
