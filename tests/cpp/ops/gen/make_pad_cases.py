"""Golden Pad cases from ONNX Runtime (opset 21: pads, constant_value and axes are inputs)."""

import numpy as np
from golden import case, ort_run, rng, write

g = rng(4)
cases = []


def add(name, x, pads, mode=None, value=None, axes=None):
    attrs = {} if mode is None else {"mode": mode}
    inputs = [x, np.array(pads, dtype=np.int64),
              None if value is None else np.array(value, dtype=x.dtype),
              None if axes is None else np.array(axes, dtype=np.int64)]
    y = ort_run("Pad", inputs, attrs)[0]
    cases.append(case(name, "Pad", attrs, inputs, [y]))


x = g.uniform(-1, 1, (1, 2, 3, 4)).astype(np.float32)
add("constant_zero", x, [0, 0, 1, 2, 0, 0, 2, 1])
add("constant_value", x, [0, 1, 1, 0, 0, 0, 0, 1], value=1.5)
add("constant_negative_crop", x, [0, 0, -1, 1, 0, 0, 1, -2], value=-2.0)
add("reflect", x, [0, 0, 2, 3, 0, 0, 2, 3], mode="reflect")
add("edge", x, [0, 0, 2, 1, 0, 0, 1, 3], mode="edge")
add("edge_with_crop", x, [0, 0, -1, 2, 0, 0, 2, -1], mode="edge")
add("reflect_with_crop", x, [0, 0, 1, -1, 0, 0, -1, 2], mode="reflect")
add("axes_nhwc_spatial", g.uniform(-1, 1, (1, 3, 3, 2)).astype(np.float32), [1, 0, 1, 2],
    axes=[1, 2])
add("negative_axes_edge", g.uniform(-1, 1, (2, 3, 4)).astype(np.float32), [1, 2], mode="edge",
    axes=[-1])
add("rank1", np.array([1, 2, 3], dtype=np.float32), [2, 1], mode="reflect")
add("int64_constant", np.array([[1, 2], [3, 4]], dtype=np.int64), [1, 0, 0, 1], value=7)

write("pad", "make_pad_cases.py", cases)
