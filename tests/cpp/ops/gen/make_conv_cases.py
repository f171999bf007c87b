"""Golden Conv cases: ONNX layouts from ONNX Runtime, TFLite layouts (NHWC) from TensorFlow.

Run with the probe venv: python tests/cpp/ops/gen/make_conv_cases.py
"""

import numpy as np
import tensorflow as tf
from golden import case, ort_run, rng, write

g = rng(1)


def rand(gen, *shape):
    return gen.uniform(-1.0, 1.0, size=shape).astype(np.float32)


cases = []


def onnx_conv(name, x, w, b, attrs, ir_attrs=None, activation=None, weight_layout=None):
    onnx_attrs = dict(attrs)
    y = ort_run("Conv", [x, w, b], onnx_attrs)[0]
    if activation == "RELU6":
        y = np.clip(y, 0, 6)
    ir = dict(ir_attrs if ir_attrs is not None else attrs)
    w_ir = w
    if weight_layout == "OHWI":
        w_ir = np.ascontiguousarray(w.transpose(0, 2, 3, 1))
        ir["weight_layout"] = "OHWI"
    if activation:
        ir["fused_activation"] = activation
    cases.append(case(name, "Conv", ir, [x, w_ir, b], [y], 1e-5))


x = rand(g, 1, 2, 5, 5)
onnx_conv("basic_pad1", x, rand(g, 3, 2, 3, 3), rand(g, 3), {"pads": [1, 1, 1, 1]})
onnx_conv("stride2_asymmetric_pads", rand(g, 1, 2, 6, 5), rand(g, 2, 2, 3, 3), rand(g, 2),
          {"strides": [2, 2], "pads": [0, 1, 2, 0]})
onnx_conv("dilation2_no_bias", rand(g, 1, 1, 7, 7), rand(g, 2, 1, 3, 3), None,
          {"dilations": [2, 2], "pads": [1, 2, 1, 0]})
onnx_conv("rect_kernel_strides", rand(g, 2, 2, 5, 6), rand(g, 2, 2, 2, 3), rand(g, 2),
          {"strides": [1, 2], "pads": [0, 1, 1, 1]})
onnx_conv("group2", rand(g, 1, 4, 4, 4), rand(g, 4, 2, 3, 3), rand(g, 4),
          {"group": 2, "pads": [1, 1, 1, 1]})
onnx_conv("depthwise_mult2_same_upper_s2", rand(g, 1, 3, 6, 6), rand(g, 6, 1, 3, 3), rand(g, 6),
          {"group": 3, "strides": [2, 2], "auto_pad": "SAME_UPPER"})
onnx_conv("depthwise_same_lower_s2", rand(g, 1, 2, 6, 6), rand(g, 2, 1, 3, 3), rand(g, 2),
          {"group": 2, "strides": [2, 2], "auto_pad": "SAME_LOWER"})
onnx_conv("same_lower_even_kernel", rand(g, 1, 2, 5, 5), rand(g, 2, 2, 2, 2), None,
          {"auto_pad": "SAME_LOWER"})
onnx_conv("valid_stride2", rand(g, 1, 2, 7, 6), rand(g, 3, 2, 3, 3), rand(g, 3),
          {"auto_pad": "VALID", "strides": [2, 2]})
onnx_conv("pointwise_relu6", rand(g, 1, 4, 3, 3) * 8, rand(g, 3, 4, 1, 1), rand(g, 3), {},
          activation="RELU6")
onnx_conv("pointwise_stride2", rand(g, 1, 3, 5, 5), rand(g, 2, 3, 1, 1), rand(g, 2),
          {"strides": [2, 2]})
onnx_conv("nchw_with_ohwi_weight", rand(g, 1, 2, 4, 4), rand(g, 2, 2, 3, 3), rand(g, 2),
          {"pads": [1, 0, 0, 1]}, weight_layout="OHWI")


# TFLite layouts: data NHWC; CONV_2D weight OHWI, DEPTHWISE_CONV_2D weight [1, kh, kw, C*mult].
def tf_conv(name, x, w_ohwi, b, strides, padding, dilations=(1, 1), activation=None):
    y = tf.nn.conv2d(x, w_ohwi.transpose(1, 2, 3, 0), strides=[1, *strides, 1],
                     padding=padding, dilations=[1, *dilations, 1]).numpy()
    if b is not None:
        y = y + b
    attrs = {"data_layout": "NHWC", "weight_layout": "OHWI", "strides": list(strides),
             "dilations": list(dilations), "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}
    if activation == "RELU":
        y = np.maximum(y, 0)
        attrs["fused_activation"] = "RELU"
    cases.append(case(name, "Conv", attrs, [x, w_ohwi, b], [y.astype(np.float32)], 1e-5))


def tf_depthwise(name, x, w_1hwo, b, strides, padding, mult, activation=None):
    kh, kw, c = w_1hwo.shape[1], w_1hwo.shape[2], x.shape[3]
    y = tf.nn.depthwise_conv2d(x, w_1hwo.reshape(kh, kw, c, mult), strides=[1, *strides, 1],
                               padding=padding).numpy()
    if b is not None:
        y = y + b
    attrs = {"data_layout": "NHWC", "weight_layout": "1HWO", "group": c,
             "strides": list(strides), "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}
    if activation == "RELU6":
        y = np.clip(y, 0, 6)
        attrs["fused_activation"] = "RELU6"
    cases.append(case(name, "Conv", attrs, [x, w_1hwo, b], [y.astype(np.float32)], 1e-5))


tf_conv("tf_nhwc_same_s2", rand(g, 1, 5, 5, 3), rand(g, 4, 3, 3, 3), rand(g, 4), (2, 2), "SAME")
tf_conv("tf_nhwc_valid_relu", rand(g, 1, 4, 5, 2), rand(g, 3, 2, 2, 2), rand(g, 3), (1, 1),
        "VALID", activation="RELU")
tf_conv("tf_nhwc_dilated_same", rand(g, 1, 6, 6, 2), rand(g, 2, 3, 3, 2), None, (1, 1), "SAME",
        dilations=(2, 2))
tf_conv("tf_nhwc_pointwise", rand(g, 2, 3, 3, 4), rand(g, 3, 1, 1, 4), rand(g, 3), (1, 1), "VALID")
tf_depthwise("tf_depthwise_same_s2_relu6", rand(g, 1, 6, 6, 3) * 8, rand(g, 1, 3, 3, 3),
             rand(g, 3), (2, 2), "SAME", 1, activation="RELU6")
tf_depthwise("tf_depthwise_mult2_same", rand(g, 1, 4, 4, 2), rand(g, 1, 3, 3, 4), rand(g, 4),
             (1, 1), "SAME", 2)
tf_depthwise("tf_depthwise_valid_s1", rand(g, 1, 5, 4, 3), rand(g, 1, 3, 3, 3), None, (1, 1),
             "VALID", 1)

write("conv", "make_conv_cases.py", cases)
