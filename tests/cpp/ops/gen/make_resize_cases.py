"""Golden Resize cases from ONNX Runtime (opset 19): every mode, coordinate transformation and
nearest mode convmend supports, from scales and from sizes; NHWC by transposing."""

import numpy as np
from golden import case, ort_run, rng, write

g = rng(6)
cases = []
EMPTY_F32 = np.zeros([0], dtype=np.float32)


def add(name, x, attrs, scales=None, sizes=None, nhwc=False):
    roi = EMPTY_F32 if (scales is not None or sizes is not None) else None
    sc = None if scales is None else np.array(scales, dtype=np.float32)
    sz = None if sizes is None else np.array(sizes, dtype=np.int64)
    onnx_inputs = [x, roi, sc, sz]
    y = ort_run("Resize", onnx_inputs, attrs, opset=19)[0]
    ir = dict(attrs)
    ir_inputs = [x, None, sc, sz]
    if nhwc:
        perm = [0, 2, 3, 1]
        x = np.ascontiguousarray(x.transpose(perm))
        y = np.ascontiguousarray(y.transpose(perm))
        ir["data_layout"] = "NHWC"
        ir_inputs = [x, None, None if sc is None else sc[perm], None if sz is None else sz[perm]]
    while ir_inputs and ir_inputs[-1] is None:
        ir_inputs.pop()
    cases.append(case(name, "Resize", ir, ir_inputs, [y], 1e-5))


x = g.uniform(-1, 1, (1, 2, 3, 4)).astype(np.float32)
up2 = [1, 1, 2, 2]
for nearest in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
    for coords in ["half_pixel", "asymmetric", "align_corners"]:
        add(f"nearest_{nearest}_{coords}", x,
            {"mode": "nearest", "nearest_mode": nearest,
             "coordinate_transformation_mode": coords}, sizes=[1, 2, 5, 7])
add("nearest_asymmetric_x2", x, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                 "nearest_mode": "floor"}, scales=up2)
add("nearest_tf_half_pixel_for_nn", x,
    {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn"},
    sizes=[1, 2, 5, 6])
add("nearest_pytorch_half_pixel_down", g.uniform(-1, 1, (1, 1, 6, 5)).astype(np.float32),
    {"mode": "nearest", "coordinate_transformation_mode": "pytorch_half_pixel"},
    sizes=[1, 1, 1, 3])
add("nearest_fractional_scale", x, {"mode": "nearest"}, scales=[1, 1, 1.7, 1.3])
for coords in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
    add(f"linear_{coords}_x2", x, {"mode": "linear", "coordinate_transformation_mode": coords},
        scales=up2)
    add(f"linear_{coords}_sizes", x, {"mode": "linear", "coordinate_transformation_mode": coords},
        sizes=[1, 2, 4, 7])
add("linear_downscale", g.uniform(-1, 1, (1, 1, 7, 8)).astype(np.float32), {"mode": "linear"},
    scales=[1, 1, 0.5, 0.4])
add("linear_pytorch_half_pixel_to_1", g.uniform(-1, 1, (1, 1, 4, 4)).astype(np.float32),
    {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel"},
    sizes=[1, 1, 1, 3])
add("linear_nhwc", x, {"mode": "linear"}, sizes=[1, 2, 5, 6], nhwc=True)
add("nearest_nhwc_scales", x, {"mode": "nearest"}, scales=up2, nhwc=True)
add("cubic_half_pixel", x, {"mode": "cubic"}, scales=up2)
add("cubic_align_corners_a05", x, {"mode": "cubic", "coordinate_transformation_mode":
                                   "align_corners", "cubic_coeff_a": -0.5}, sizes=[1, 2, 5, 6])
add("cubic_exclude_outside", x, {"mode": "cubic", "exclude_outside": 1}, sizes=[1, 2, 5, 7])
add("cubic_asymmetric_down", g.uniform(-1, 1, (1, 1, 6, 6)).astype(np.float32),
    {"mode": "cubic", "coordinate_transformation_mode": "asymmetric"}, scales=[1, 1, 0.5, 0.75])
add("cubic_nhwc", x, {"mode": "cubic"}, sizes=[1, 2, 4, 5], nhwc=True)

write("resize", "make_resize_cases.py", cases)
