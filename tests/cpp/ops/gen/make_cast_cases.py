"""Golden cases of Cast, DequantizeLinear and QuantizeLinear from ONNX Runtime."""

import numpy as np
from onnx import TensorProto, helper

from golden import case, ort_run, randf, write

cases = []
IR_NAMES = {"float32": "f32", "float64": "f64", "float16": "f16", "int8": "i8", "uint8": "u8",
            "int16": "i16", "int32": "i32", "int64": "i64", "bool": "bool"}


def add(name, op, inputs, onnx_attrs=None, ir_attrs=None):
    outputs = ort_run(op, inputs, onnx_attrs)
    cases.append(case(name, op, ir_attrs if ir_attrs is not None else (onnx_attrs or {}), inputs,
                      outputs))


def cast(name, x, to):
    to = np.dtype(to)
    add(name, "Cast", [x], {"to": helper.np_dtype_to_tensor_dtype(to)}, {"to": IR_NAMES[to.name]})


f = np.array([-2.7, -1.5, -0.2, 0.0, 0.4, 1.5, 2.5, 100.9], np.float32)
cast("Cast_f32_to_i32_truncates", f, np.int32)
cast("Cast_f32_to_i64", f, np.int64)
cast("Cast_f32_to_bool", f, np.bool_)
cast("Cast_f32_to_f16", np.array([0.1, -3.14159, 65504.0, 1e-5], np.float32), np.float16)
cast("Cast_f32_to_f64", f, np.float64)
cast("Cast_f32_to_u8", np.array([0.0, 1.9, 200.5, 255.0], np.float32), np.uint8)
cast("Cast_f32_to_i8", np.array([-128.0, -1.9, 3.7, 127.0], np.float32), np.int8)
cast("Cast_f16_to_f32", np.array([0.1, -2.5, 1000.0], np.float16), np.float32)
cast("Cast_f64_to_f32", np.array([0.1, 1.0 / 3.0, -1e10], np.float64), np.float32)
cast("Cast_i64_to_f32", np.array([1, -7, 2**40], np.int64), np.float32)
cast("Cast_i64_to_i32_wraps", np.array([1, -7, 2**31 + 5, -(2**31) - 1], np.int64), np.int32)
cast("Cast_i64_large_to_f64", np.array([2**53 + 1, -3], np.int64), np.float64)
cast("Cast_i32_to_i64", np.array([[-5, 2147483647]], np.int32), np.int64)
cast("Cast_bool_to_f32", np.array([True, False]), np.float32)
cast("Cast_bool_to_i64", np.array([True, False]), np.int64)
cast("Cast_u8_to_f32", np.array([0, 128, 255], np.uint8), np.float32)
cast("Cast_i8_to_i32", np.array([-128, 0, 127], np.int8), np.int32)
cast("Cast_i64_to_bool", np.array([0, 3, -1], np.int64), np.bool_)
cast("Cast_same_dtype", f, np.float32)

# DequantizeLinear (ONNX inputs)
q8 = np.array([[-128, -3, 0, 5, 127], [1, 2, 3, 4, 5]], np.int8)
add("DequantizeLinear_int8_per_tensor", "DequantizeLinear",
    [q8, np.float32(0.05), np.int8(-3)])
add("DequantizeLinear_uint8", "DequantizeLinear",
    [np.array([0, 1, 128, 255], np.uint8), np.float32(0.0235), np.uint8(128)])
add("DequantizeLinear_no_zero_point", "DequantizeLinear",
    [np.array([0, 1, 128, 255], np.uint8), np.float32(0.5)])
add("DequantizeLinear_int32_bias", "DequantizeLinear",
    [np.array([-100000, 0, 12345], np.int32), np.float32(1.7e-4)])
add("DequantizeLinear_int16", "DequantizeLinear",
    [np.array([-32768, 7, 32767], np.int16), np.float32(0.001), np.int16(5)])
add("DequantizeLinear_per_axis1", "DequantizeLinear",
    [np.arange(-12, 12, dtype=np.int8).reshape(2, 3, 4), np.array([0.1, 0.2, 0.3], np.float32),
     np.array([0, 1, -1], np.int8)])
add("DequantizeLinear_per_axis0", "DequantizeLinear",
    [q8, np.array([0.1, 0.02], np.float32), np.array([0, 4], np.int8)], {"axis": 0})
add("DequantizeLinear_per_axis_negative", "DequantizeLinear",
    [q8, np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)], {"axis": -1})

# QuantizeLinear
x = randf([2, 3, 4], 100, -4, 4)
add("QuantizeLinear_uint8_default", "QuantizeLinear", [x, np.float32(0.05)])
add("QuantizeLinear_int8", "QuantizeLinear", [x, np.float32(0.031), np.int8(-5)])
add("QuantizeLinear_uint8_zero_point", "QuantizeLinear", [x, np.float32(0.03), np.uint8(128)])
ties = np.array([1.25, 1.75, -1.25, -1.75, 0.25, 0.75, 100.0, -100.0], np.float32)
add("QuantizeLinear_ties_to_even_and_saturation", "QuantizeLinear",
    [ties, np.float32(0.5), np.int8(0)])
add("QuantizeLinear_per_axis", "QuantizeLinear",
    [x, np.array([0.02, 0.05, 0.1], np.float32), np.array([0, 10, -10], np.int8)])
add("QuantizeLinear_per_axis0", "QuantizeLinear",
    [x, np.array([0.02, 0.05], np.float32), np.array([3, 250], np.uint8)], {"axis": 0})
add("QuantizeLinear_int16", "QuantizeLinear", [x, np.float32(0.0003), np.int16(7)])
add("QuantizeLinear_output_dtype_int8", "QuantizeLinear", [x, np.float32(0.04)],
    {"output_dtype": TensorProto.INT8}, {"to": "i8"})

write("cast", "make_cast_cases.py", cases)
