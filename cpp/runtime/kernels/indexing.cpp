// Kernels of Shape, Gather, Slice, Range, ConstantOfShape and Where.
#include <algorithm>
#include <cmath>

#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {

Status run_Shape(KernelContext& ctx) {
  const Shape& shape = ctx.inputs[0]->shape();
  const auto rank = static_cast<int64_t>(shape.size());
  ASSIGN_OR_RETURN(int64_t start, ctx.node.attrs().get_int("start", 0));
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  Tensor& out = *ctx.outputs[0];
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    out.data<int64_t>()[i] = shape[static_cast<size_t>(start + i)];
  }
  return Status::ok();
}

Status run_Gather(KernelContext& ctx) {
  const Tensor& data = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, data.rank()));
  if (!is_integer(ctx.inputs[1]->dtype())) return unsupported_dtype(ctx.node, ctx.inputs[1]->dtype());
  std::vector<int64_t> indices = ctx.inputs[1]->to_int64s();
  const auto a = static_cast<size_t>(axis);
  const int64_t dim = data.shape()[a];
  for (int64_t& i : indices) {
    if (i < -dim || i >= dim) {
      return error(StatusCode::kInvalidArgument, "Gather index ", i, " is out of range for axis ",
                   axis, " of ", shape_to_string(data.shape()));
    }
    if (i < 0) i += dim;
  }
  const int64_t outer = dims_product(data.shape(), 0, a);
  const size_t chunk = static_cast<size_t>(dims_product(data.shape(), a + 1, data.shape().size())) *
                       dtype_size(data.dtype());
  std::byte* y = out.raw();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i : indices) {
      if (chunk == 0) continue;
      std::memcpy(y, data.raw() + static_cast<size_t>(o * dim + i) * chunk, chunk);
      y += chunk;
    }
  }
  return Status::ok();
}

Status run_Slice(KernelContext& ctx) {
  const Tensor& data = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  auto optional_ints = [&](size_t i) -> std::optional<std::vector<int64_t>> {
    if (i >= ctx.inputs.size() || ctx.inputs[i] == nullptr) return std::nullopt;
    return ctx.inputs[i]->to_int64s();
  };
  ASSIGN_OR_RETURN(std::vector<shapes::SliceAxis> slices,
                   shapes::resolve_slice(data.shape(), ctx.inputs[1]->to_int64s(),
                                         ctx.inputs[2]->to_int64s(), optional_ints(3),
                                         optional_ints(4)));
  const std::vector<int64_t> own = contiguous_strides(data.shape());
  int64_t base = 0;
  std::vector<int64_t> strides(own.size());
  for (size_t d = 0; d < own.size(); ++d) {
    base += slices[d].start * own[d];
    strides[d] = slices[d].step * own[d];
  }
  return dispatch_by_size(data.dtype(), [&](auto tag) -> Status {
    using U = decltype(tag);
    const U* x = data.data<U>();
    U* y = out.data<U>();
    StridedWalker walk(out.shape(), {strides});
    for (int64_t i = 0; i < out.num_elements(); ++i, walk.next()) y[i] = x[base + walk.offset(0)];
    return Status::ok();
  });
}

Status run_Range(KernelContext& ctx) {
  Tensor& out = *ctx.outputs[0];
  return dispatch<float, double, int32_t, int64_t>(ctx.node, out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T start = ctx.inputs[0]->data<T>()[0];
    const T delta = ctx.inputs[2]->data<T>()[0];
    T* y = out.data<T>();
    for (int64_t i = 0; i < out.num_elements(); ++i) {
      y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    }
    return Status::ok();
  });
}

Status run_ConstantOfShape(KernelContext& ctx) {
  Tensor& out = *ctx.outputs[0];
  Tensor value = Tensor::scalar_f32(0.0f);
  if (const Tensor* v = ctx.node.attrs().get_tensor("value")) value = *v;
  ASSIGN_OR_RETURN(value, value.cast(out.dtype()));  // f32 -> f64 in exact mode
  const size_t esize = dtype_size(out.dtype());
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    std::memcpy(out.raw() + static_cast<size_t>(i) * esize, value.raw(), esize);
  }
  return Status::ok();
}

Status run_Where(KernelContext& ctx) {
  const Tensor& cond = *ctx.inputs[0];
  const Tensor& x = *ctx.inputs[1];
  const Tensor& y = *ctx.inputs[2];
  Tensor& out = *ctx.outputs[0];
  if (cond.dtype() != DType::kBool) return unsupported_dtype(ctx.node, cond.dtype());
  return dispatch_by_size(out.dtype(), [&](auto tag) -> Status {
    using U = decltype(tag);
    const uint8_t* c = cond.data<uint8_t>();
    const U* a = x.data<U>();
    const U* b = y.data<U>();
    U* o = out.data<U>();
    const Shape& os = out.shape();
    StridedWalker walk(os, {broadcast_strides(cond.shape(), os), broadcast_strides(x.shape(), os),
                            broadcast_strides(y.shape(), os)});
    for (int64_t i = 0; i < out.num_elements(); ++i, walk.next()) {
      o[i] = c[walk.offset(0)] ? a[walk.offset(1)] : b[walk.offset(2)];
    }
    return Status::ok();
  });
}

}  // namespace convmend
