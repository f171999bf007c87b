// Element types of IR tensors. float64 exists for the interpreter's exact mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace convmend {

enum class DType : uint8_t {
  kFloat32,
  kFloat16,
  kFloat64,
  kInt8,
  kUInt8,
  kInt16,
  kInt32,
  kInt64,
  kBool,
};

inline constexpr int kNumDTypes = 9;

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "f16", ... as in the text dump
bool parse_dtype(std::string_view name, DType* out);
bool is_float(DType dtype);    // f16, f32, f64
bool is_integer(DType dtype);  // signed or unsigned integers, not bool

// Minimal IEEE half conversions (round to nearest even), used for float16 weights.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace convmend
