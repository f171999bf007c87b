// Helpers shared by the elementwise, reduction and data-movement kernels: the dtype switch
// (dispatch over a list of C++ types) and an odometer over broadcast strides.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend {

// float16 elements as stored (bits); converted explicitly where an op supports them.
struct Half {
  uint16_t bits;
};

template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::kFloat32;
  else if constexpr (std::is_same_v<T, double>) return DType::kFloat64;
  else if constexpr (std::is_same_v<T, Half>) return DType::kFloat16;
  else if constexpr (std::is_same_v<T, int8_t>) return DType::kInt8;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::kUInt8;
  else if constexpr (std::is_same_v<T, int16_t>) return DType::kInt16;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::kInt32;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::kInt64;
  else {
    static_assert(std::is_same_v<T, bool>);
    return DType::kBool;
  }
}

inline Status unsupported_dtype(const Node& node, DType dtype) {
  return error(StatusCode::kUnsupported, node.op_name(), " does not support dtype ",
               dtype_name(dtype));
}

// The one dtype switch of a kernel: calls f(T{}) for the C++ type T of `dtype` among Ts.
template <typename... Ts, typename F>
Status dispatch(const Node& node, DType dtype, F&& f) {
  Status result = unsupported_dtype(node, dtype);
  ((dtype == dtype_of<Ts>() ? (result = f(Ts{}), true) : false) || ...);
  return result;
}

// Data movement only needs the element size: calls f(U{}) with an unsigned type of that size.
template <typename F>
Status dispatch_by_size(DType dtype, F&& f) {
  switch (dtype_size(dtype)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    default: return error(StatusCode::kInternal, "element size ", dtype_size(dtype));
  }
}

// Converts a double to the integer type T, saturating (NaN becomes 0) instead of overflowing.
template <typename T>
T saturate_cast(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v)) return T(0);
    if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) {
      return std::numeric_limits<T>::lowest();
    }
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  }
  return static_cast<T>(v);
}

// Row-major strides of `shape`.
inline std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

// Strides of `in`, right-aligned to `out`, with 0 where `in` is broadcast.
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  const std::vector<int64_t> own = contiguous_strides(in);
  const size_t lead = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) strides[lead + i] = in[i] == 1 ? 0 : own[i];
  return strides;
}

// Walks `shape` in row-major order, keeping the offset of each operand given by its strides.
class StridedWalker {
 public:
  StridedWalker(const Shape& shape, std::vector<std::vector<int64_t>> strides)
      : shape_(shape), strides_(std::move(strides)), index_(shape.size(), 0),
        offsets_(strides_.size(), 0) {}

  int64_t offset(size_t operand) const { return offsets_[operand]; }

  void next() {
    for (size_t d = shape_.size(); d-- > 0;) {
      if (++index_[d] < shape_[d]) {
        for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] += strides_[k][d];
        return;
      }
      index_[d] = 0;
      for (size_t k = 0; k < strides_.size(); ++k) {
        offsets_[k] -= strides_[k][d] * (shape_[d] - 1);
      }
    }
  }

 private:
  Shape shape_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> index_;
  std::vector<int64_t> offsets_;
};

// Product of shape[begin, end).
inline int64_t dims_product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) n *= shape[i];
  return n;
}

// Copies the bytes of `in` into `out` (same element count): Reshape, Identity and friends.
inline Status copy_bytes(const Tensor& in, Tensor& out) {
  if (in.byte_size() != out.byte_size()) {
    return error(StatusCode::kInternal, "copy of ", in.byte_size(), " bytes into ",
                 out.byte_size());
  }
  if (in.byte_size() != 0) std::memcpy(out.raw(), in.raw(), in.byte_size());
  return Status::ok();
}

}  // namespace convmend
