// Tensor: a dtype, a shape and a reference-counted, 64-byte aligned buffer.
// Copies of a Tensor share the buffer (cheap to pass around); clone() copies the data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/status.h"

namespace convmend {

using Shape = std::vector<int64_t>;  // -1 marks a dimension unknown before run time

// Product of the dims; fails on negative dims or overflow past 2^62 elements.
Result<int64_t> shape_num_elements(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "[1,3,224,224]", "?" for -1
bool shape_is_static(const Shape& shape);

// Affine quantization as ONNX and TFLite define it: real = scale * (q - zero_point).
// One scale per tensor, or one per slice along `axis` (per-channel).
struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t axis = 0;

  bool empty() const { return scale.empty(); }
  bool per_channel() const { return scale.size() > 1; }
  bool operator==(const QuantParams&) const = default;
};

class Tensor {
 public:
  Tensor() = default;
  // Zero-filled tensor; fails on a negative dim or an overflowing size.
  static Result<Tensor> create(DType dtype, const Shape& shape);
  // Copies `byte_count` bytes, which must equal num_elements * dtype_size.
  static Result<Tensor> from_bytes(DType dtype, const Shape& shape, const void* bytes,
                                   size_t byte_count);
  template <typename T>
  static Tensor from_vector(DType dtype, const Shape& shape, const std::vector<T>& values);
  static Tensor scalar_f32(float v);
  static Tensor vector_i64(const std::vector<int64_t>& values);

  bool defined() const { return storage_ != nullptr || num_elements_ == 0; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int axis) const { return shape_[static_cast<size_t>(axis)]; }
  int64_t num_elements() const { return num_elements_; }
  size_t byte_size() const { return static_cast<size_t>(num_elements_) * dtype_size(dtype_); }

  template <typename T>
  T* data() { return reinterpret_cast<T*>(storage_.get()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(storage_.get()); }
  std::byte* raw() { return storage_.get(); }
  const std::byte* raw() const { return storage_.get(); }

  const QuantParams& quant() const { return quant_; }
  void set_quant(QuantParams q) { quant_ = std::move(q); }

  // Same data, other shape with the same element count.
  Result<Tensor> reshaped(const Shape& shape) const;
  Tensor clone() const;
  // Numeric conversion (float16 handled; no dequantization, see dequantized()).
  Result<Tensor> cast(DType to) const;
  // real = scale * (q - zero_point) into `to` (f32 or f64); f16 inputs are widened.
  Result<Tensor> dequantized(DType to) const;
  // Every element as double / int64, whatever the dtype (for small tensors: shapes, axes).
  std::vector<double> to_doubles() const;
  std::vector<int64_t> to_int64s() const;

  bool same_data(const Tensor& other) const;  // dtype, shape and bytes equal

 private:
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::shared_ptr<std::byte[]> storage_;
  QuantParams quant_;
};

template <typename T>
Tensor Tensor::from_vector(DType dtype, const Shape& shape, const std::vector<T>& values) {
  Result<Tensor> t = from_bytes(dtype, shape, values.data(), values.size() * sizeof(T));
  return t.is_ok() ? std::move(t).value() : Tensor();
}

}  // namespace convmend
