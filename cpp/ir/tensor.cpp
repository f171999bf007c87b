#include "ir/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

namespace convmend {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 62;
constexpr size_t kAlignment = 64;

std::shared_ptr<std::byte[]> allocate(size_t bytes) {
  const size_t rounded = ((bytes + kAlignment - 1) / kAlignment) * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (p == nullptr) return nullptr;
  std::memset(p, 0, rounded == 0 ? kAlignment : rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
}

template <typename T>
double element_as_double(const std::byte* base, int64_t i) {
  T v;
  std::memcpy(&v, base + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return static_cast<double>(v);
}

double read_as_double(DType dtype, const std::byte* base, int64_t i) {
  switch (dtype) {
    case DType::kFloat32: return element_as_double<float>(base, i);
    case DType::kFloat64: return element_as_double<double>(base, i);
    case DType::kFloat16: {
      uint16_t h;
      std::memcpy(&h, base + i * 2, 2);
      return half_to_float(h);
    }
    case DType::kInt8: return element_as_double<int8_t>(base, i);
    case DType::kUInt8: return element_as_double<uint8_t>(base, i);
    case DType::kInt16: return element_as_double<int16_t>(base, i);
    case DType::kInt32: return element_as_double<int32_t>(base, i);
    case DType::kInt64: return element_as_double<int64_t>(base, i);
    case DType::kBool: return element_as_double<uint8_t>(base, i) != 0 ? 1.0 : 0.0;
  }
  return 0;
}

template <typename T>
void store(std::byte* base, int64_t i, T v) {
  std::memcpy(base + i * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}

}  // namespace

Result<int64_t> shape_num_elements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return error(StatusCode::kInvalidArgument, "shape ", shape_to_string(shape),
                            " has a negative or unknown dimension");
    if (d != 0 && n > kMaxElements / d) {
      return error(StatusCode::kInvalidArgument, "shape ", shape_to_string(shape), " is too large");
    }
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out << ',';
    if (shape[i] < 0) {
      out << '?';
    } else {
      out << shape[i];
    }
  }
  out << ']';
  return out.str();
}

bool shape_is_static(const Shape& shape) {
  for (int64_t d : shape) {
    if (d < 0) return false;
  }
  return true;
}

Result<Tensor> Tensor::create(DType dtype, const Shape& shape) {
  ASSIGN_OR_RETURN(int64_t n, shape_num_elements(shape));
  if (static_cast<uint64_t>(n) > (uint64_t{1} << 40) / dtype_size(dtype)) {
    return error(StatusCode::kInvalidArgument, "tensor ", shape_to_string(shape), " ",
                 dtype_name(dtype), " exceeds 1 TiB");
  }
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.num_elements_ = n;
  t.storage_ = allocate(t.byte_size());
  if (t.storage_ == nullptr) {
    return error(StatusCode::kInvalidArgument, "cannot allocate ", t.byte_size(), " bytes for ",
                 shape_to_string(shape), " ", dtype_name(dtype));
  }
  return t;
}

Result<Tensor> Tensor::from_bytes(DType dtype, const Shape& shape, const void* bytes,
                                  size_t byte_count) {
  ASSIGN_OR_RETURN(Tensor t, create(dtype, shape));
  if (t.byte_size() != byte_count) {
    return error(StatusCode::kInvalidArgument, "tensor ", shape_to_string(shape), " ",
                 dtype_name(dtype), " needs ", t.byte_size(), " bytes, got ", byte_count);
  }
  if (byte_count) std::memcpy(t.raw(), bytes, byte_count);
  return t;
}

Tensor Tensor::scalar_f32(float v) { return from_vector<float>(DType::kFloat32, {}, {v}); }

Tensor Tensor::vector_i64(const std::vector<int64_t>& values) {
  return from_vector<int64_t>(DType::kInt64, {static_cast<int64_t>(values.size())}, values);
}

Result<Tensor> Tensor::reshaped(const Shape& shape) const {
  ASSIGN_OR_RETURN(int64_t n, shape_num_elements(shape));
  if (n != num_elements_) {
    return error(StatusCode::kInvalidArgument, "cannot reshape ", shape_to_string(shape_), " to ",
                 shape_to_string(shape));
  }
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = *this;
  t.storage_ = allocate(byte_size());
  if (byte_size()) std::memcpy(t.storage_.get(), storage_.get(), byte_size());
  return t;
}

Result<Tensor> Tensor::cast(DType to) const {
  if (to == dtype_) return clone();
  ASSIGN_OR_RETURN(Tensor out, create(to, shape_));
  const std::byte* src = raw();
  std::byte* dst = out.raw();
  for (int64_t i = 0; i < num_elements_; ++i) {
    const double v = read_as_double(dtype_, src, i);
    switch (to) {
      case DType::kFloat32: store<float>(dst, i, static_cast<float>(v)); break;
      case DType::kFloat64: store<double>(dst, i, v); break;
      case DType::kFloat16: store<uint16_t>(dst, i, float_to_half(static_cast<float>(v))); break;
      case DType::kInt8: store<int8_t>(dst, i, static_cast<int8_t>(v)); break;
      case DType::kUInt8: store<uint8_t>(dst, i, static_cast<uint8_t>(v)); break;
      case DType::kInt16: store<int16_t>(dst, i, static_cast<int16_t>(v)); break;
      case DType::kInt32: store<int32_t>(dst, i, static_cast<int32_t>(v)); break;
      case DType::kInt64: {
        // int64 to int64 through double would lose precision; handled above by clone.
        int64_t iv = dtype_ == DType::kInt32 ? static_cast<int64_t>(data<int32_t>()[i])
                                             : static_cast<int64_t>(v);
        store<int64_t>(dst, i, iv);
        break;
      }
      case DType::kBool: store<uint8_t>(dst, i, v != 0 ? 1 : 0); break;
    }
  }
  return out;
}

Result<Tensor> Tensor::dequantized(DType to) const {
  if (to != DType::kFloat32 && to != DType::kFloat64) {
    return error(StatusCode::kInvalidArgument, "dequantize target must be f32 or f64, not ",
                 dtype_name(to));
  }
  if (quant_.empty()) return cast(to);
  const size_t channels = quant_.scale.size();
  int64_t inner = 1;
  int64_t axis_dim = 1;
  if (channels > 1) {
    if (quant_.axis < 0 || quant_.axis >= rank()) {
      return error(StatusCode::kInvalidModel, "quantization axis ", quant_.axis,
                   " out of range for ", shape_to_string(shape_));
    }
    axis_dim = shape_[static_cast<size_t>(quant_.axis)];
    if (static_cast<int64_t>(channels) != axis_dim) {
      return error(StatusCode::kInvalidModel, "quantization has ", channels, " scales, axis ",
                   quant_.axis, " of ", shape_to_string(shape_), " has ", axis_dim);
    }
    for (int a = quant_.axis + 1; a < rank(); ++a) inner *= shape_[static_cast<size_t>(a)];
  }
  if (!quant_.zero_point.empty() && quant_.zero_point.size() != channels) {
    return error(StatusCode::kInvalidModel, "quantization has ", channels, " scales and ",
                 quant_.zero_point.size(), " zero points");
  }
  ASSIGN_OR_RETURN(Tensor out, create(to, shape_));
  for (int64_t i = 0; i < num_elements_; ++i) {
    const size_t c = channels > 1 ? static_cast<size_t>((i / inner) % axis_dim) : 0;
    const double zp = quant_.zero_point.empty() ? 0.0 : static_cast<double>(quant_.zero_point[c]);
    const double v = static_cast<double>(quant_.scale[c]) * (read_as_double(dtype_, raw(), i) - zp);
    if (to == DType::kFloat32) {
      out.data<float>()[i] = static_cast<float>(v);
    } else {
      out.data<double>()[i] = v;
    }
  }
  return out;
}

std::vector<double> Tensor::to_doubles() const {
  std::vector<double> out(static_cast<size_t>(num_elements_));
  for (int64_t i = 0; i < num_elements_; ++i) out[static_cast<size_t>(i)] = read_as_double(dtype_, raw(), i);
  return out;
}

std::vector<int64_t> Tensor::to_int64s() const {
  std::vector<int64_t> out(static_cast<size_t>(num_elements_));
  for (int64_t i = 0; i < num_elements_; ++i) {
    if (dtype_ == DType::kInt64) {
      out[static_cast<size_t>(i)] = data<int64_t>()[i];
    } else {
      out[static_cast<size_t>(i)] = static_cast<int64_t>(read_as_double(dtype_, raw(), i));
    }
  }
  return out;
}

bool Tensor::same_data(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (byte_size() == 0) return true;
  return std::memcmp(raw(), other.raw(), byte_size()) == 0;
}

}  // namespace convmend
