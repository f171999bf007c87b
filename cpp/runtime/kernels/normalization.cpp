#include <cmath>
#include <vector>

#include "runtime/kernel.h"

namespace convmend {
namespace {

template <typename T>
void batch_norm(KernelContext& ctx, double epsilon, int64_t outer, int64_t channels,
                int64_t inner) {
  const T* x = ctx.inputs[0]->data<T>();
  const T* scale = ctx.inputs[1]->data<T>();
  const T* shift = ctx.inputs[2]->data<T>();
  const T* mean = ctx.inputs[3]->data<T>();
  const T* var = ctx.inputs[4]->data<T>();
  T* y = ctx.outputs[0]->data<T>();
  if (ctx.options.reference_only) {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) {
        const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[c]) + epsilon);
        for (int64_t i = 0; i < inner; ++i) {
          const int64_t at = (o * channels + c) * inner + i;
          y[at] = static_cast<T>((static_cast<double>(x[at]) - mean[c]) * inv_std * scale[c] +
                                 shift[c]);
        }
      }
    }
    return;
  }
  // y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a, folded in double.
  std::vector<T> a(static_cast<size_t>(channels)), b(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double ac = static_cast<double>(scale[c]) / std::sqrt(static_cast<double>(var[c]) + epsilon);
    a[c] = static_cast<T>(ac);
    b[c] = static_cast<T>(static_cast<double>(shift[c]) - static_cast<double>(mean[c]) * ac);
  }
  for (int64_t o = 0; o < outer; ++o) {
    if (inner == 1) {
      const T* xr = x + o * channels;
      T* yr = y + o * channels;
      for (int64_t c = 0; c < channels; ++c) yr[c] = xr[c] * a[c] + b[c];
      continue;
    }
    for (int64_t c = 0; c < channels; ++c) {
      const T* xp = x + (o * channels + c) * inner;
      T* yp = y + (o * channels + c) * inner;
      const T ac = a[c], bc = b[c];
      for (int64_t i = 0; i < inner; ++i) yp[i] = xp[i] * ac + bc;
    }
  }
}

}  // namespace

Status run_BatchNormalization(KernelContext& ctx) {
  const Tensor& x = *ctx.inputs[0];
  const DType dtype = x.dtype();
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) {
    return error(StatusCode::kUnsupported, "BatchNormalization does not support dtype ",
                 dtype_name(dtype), " (f32 and f64 only)");
  }
  for (size_t i = 1; i < 5; ++i) {
    if (ctx.inputs[i]->dtype() != dtype) {
      return error(StatusCode::kUnsupported, "BatchNormalization input ", i, " is ",
                   dtype_name(ctx.inputs[i]->dtype()), " but X is ", dtype_name(dtype));
    }
  }
  ASSIGN_OR_RETURN(double epsilon, ctx.node.attrs().get_float("epsilon", 1e-5));
  ASSIGN_OR_RETURN(DataLayout layout, ctx.node.attrs().get_data_layout());
  const Shape& s = x.shape();
  int64_t outer = 1, channels = 0, inner = 1;
  if (layout == DataLayout::kNHWC) {
    channels = s.back();
    for (size_t i = 0; i + 1 < s.size(); ++i) outer *= s[i];
  } else {
    outer = s[0];
    channels = s[1];
    for (size_t i = 2; i < s.size(); ++i) inner *= s[i];
  }
  for (size_t i = 1; i < 5; ++i) {
    if (ctx.inputs[i]->num_elements() != channels) {
      return error(StatusCode::kInvalidModel, "BatchNormalization input ", i, " ",
                   shape_to_string(ctx.inputs[i]->shape()), " does not match the ", channels,
                   " channels of X ", shape_to_string(s));
    }
  }
  if (dtype == DType::kFloat64) {
    batch_norm<double>(ctx, epsilon, outer, channels, inner);
  } else {
    batch_norm<float>(ctx, epsilon, outer, channels, inner);
  }
  return Status::ok();
}

}  // namespace convmend
