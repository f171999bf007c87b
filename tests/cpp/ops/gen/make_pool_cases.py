"""Golden pooling cases: ONNX Runtime for the ONNX attributes, TensorFlow for TFLite's NHWC
pools with SAME padding (whose average excludes the padding)."""

import numpy as np
import tensorflow as tf
from golden import case, ort_run, rng, write

g = rng(5)
cases = []


def rand(*shape):
    return g.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def onnx_pool(name, op, x, attrs, nhwc=False, activation=None):
    y = ort_run(op, [x], attrs)[0]
    ir = dict(attrs)
    if activation == "RELU6":
        y = np.clip(y, 0, 6)
        ir["fused_activation"] = "RELU6"
    if nhwc:  # the same pool on the transposed tensor, in the IR's NHWC layout
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        y = np.ascontiguousarray(y.transpose(0, 2, 3, 1))
        ir["data_layout"] = "NHWC"
    cases.append(case(name, op, ir, [x], [y], 1e-5))


x = rand(1, 2, 6, 7)
onnx_pool("max_3x3_s2", "MaxPool", x, {"kernel_shape": [3, 3], "strides": [2, 2]})
onnx_pool("max_pads_asymmetric", "MaxPool", x,
          {"kernel_shape": [3, 2], "pads": [1, 0, 2, 1], "strides": [2, 1]})
onnx_pool("max_ceil_mode", "MaxPool", x,
          {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1})
onnx_pool("max_dilated", "MaxPool", rand(1, 2, 7, 7),
          {"kernel_shape": [2, 3], "dilations": [2, 2], "pads": [1, 1, 1, 1]})
onnx_pool("max_same_upper", "MaxPool", x,
          {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"})
onnx_pool("max_nhwc_relu6", "MaxPool", rand(1, 3, 5, 5) * 8,
          {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, nhwc=True,
          activation="RELU6")
onnx_pool("avg_3x3_s2", "AveragePool", x, {"kernel_shape": [3, 3], "strides": [2, 2]})
onnx_pool("avg_pads_exclude", "AveragePool", x,
          {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]})
onnx_pool("avg_pads_include", "AveragePool", x,
          {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1})
onnx_pool("avg_ceil_include_pad", "AveragePool", x,
          {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1,
           "count_include_pad": 1})
onnx_pool("avg_ceil_exclude_pad", "AveragePool", rand(1, 1, 6, 6),
          {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1})
onnx_pool("avg_same_lower", "AveragePool", x,
          {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_LOWER"})
onnx_pool("avg_nhwc_pads", "AveragePool", rand(1, 3, 5, 4),
          {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, nhwc=True)
onnx_pool("global_avg", "GlobalAveragePool", rand(2, 3, 4, 5), {})
onnx_pool("global_max", "GlobalMaxPool", rand(2, 3, 4, 5), {})
onnx_pool("global_avg_nhwc", "GlobalAveragePool", rand(1, 4, 3, 5), {}, nhwc=True)
onnx_pool("global_max_nhwc", "GlobalMaxPool", rand(2, 3, 3, 2), {}, nhwc=True)


def tf_pool(name, op, x, ksize, strides, padding):
    fn = tf.nn.avg_pool2d if op == "AveragePool" else tf.nn.max_pool2d
    y = fn(x, ksize=ksize, strides=strides, padding=padding).numpy()
    attrs = {"kernel_shape": list(ksize), "strides": list(strides), "data_layout": "NHWC",
             "auto_pad": "SAME_UPPER" if padding == "SAME" else "VALID"}
    cases.append(case(name, op, attrs, [x], [y], 1e-5))


tf_pool("tf_avg_same_s2", "AveragePool", rand(1, 5, 6, 3), (3, 3), (2, 2), "SAME")
tf_pool("tf_avg_same_s1", "AveragePool", rand(1, 4, 4, 2), (3, 3), (1, 1), "SAME")
tf_pool("tf_max_same_s2", "MaxPool", rand(1, 5, 5, 3), (3, 3), (2, 2), "SAME")
tf_pool("tf_avg_valid", "AveragePool", rand(1, 5, 5, 2), (2, 2), (2, 2), "VALID")

write("pool", "make_pool_cases.py", cases)
