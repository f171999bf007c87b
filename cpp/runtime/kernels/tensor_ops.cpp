// Kernels of the data-movement ops. They copy elements by size, so every dtype is handled;
// the output shapes come from the shape functions.
#include "ir/shape_inference.h"
#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/fused_activation.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {
namespace {

// out[i] = in[offset], walking `shape` with `strides` into the input.
Status gather_strided(const Tensor& in, Tensor& out, const Shape& shape,
                      std::vector<int64_t> strides) {
  return dispatch_by_size(in.dtype(), [&](auto tag) -> Status {
    using U = decltype(tag);
    const U* x = in.data<U>();
    U* y = out.data<U>();
    StridedWalker walk(shape, {std::move(strides)});
    for (int64_t i = 0; i < out.num_elements(); ++i, walk.next()) y[i] = x[walk.offset(0)];
    return Status::ok();
  });
}

// Copies of contiguous chunks between one tensor and several along `axis` (Concat, Split).
// `to_parts` false: parts -> whole (Concat); true: whole -> parts (Split).
void move_along_axis(Tensor& whole, const std::vector<Tensor*>& parts, size_t axis,
                     bool to_parts) {
  const size_t esize = dtype_size(whole.dtype());
  const int64_t outer = dims_product(whole.shape(), 0, axis);
  const int64_t inner = dims_product(whole.shape(), axis + 1, whole.shape().size());
  size_t offset = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (Tensor* part : parts) {
      const size_t bytes = static_cast<size_t>(part->shape()[axis] * inner) * esize;
      std::byte* p = part->raw() + static_cast<size_t>(o) * bytes;
      if (bytes == 0) continue;
      if (to_parts) {
        std::memcpy(p, whole.raw() + offset, bytes);
      } else {
        std::memcpy(whole.raw() + offset, p, bytes);
      }
      offset += bytes;
    }
  }
}

}  // namespace

Status run_Concat(KernelContext& ctx) {
  Tensor& out = *ctx.outputs[0];
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, out.rank()));
  std::vector<Tensor> parts;
  std::vector<Tensor*> pointers;
  for (const Tensor* t : ctx.inputs) parts.push_back(*t);  // shares the buffers, read only
  for (Tensor& t : parts) pointers.push_back(&t);
  move_along_axis(out, pointers, static_cast<size_t>(axis), false);
  ASSIGN_OR_RETURN(Activation activation, ctx.node.attrs().get_activation());
  if (activation == Activation::kNone) return Status::ok();
  return dispatch<float, double>(ctx.node, out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    apply_fused_activation(activation, out.data<T>(), out.num_elements());
    return Status::ok();
  });
}

Status run_Split(KernelContext& ctx) {
  Tensor in = *ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, in.rank()));
  move_along_axis(in, ctx.outputs, static_cast<size_t>(axis), true);
  return Status::ok();
}

// These only change the shape: the row-major order of the elements is unchanged.
Status run_Reshape(KernelContext& ctx) { return copy_bytes(*ctx.inputs[0], *ctx.outputs[0]); }
Status run_Flatten(KernelContext& ctx) { return copy_bytes(*ctx.inputs[0], *ctx.outputs[0]); }
Status run_Squeeze(KernelContext& ctx) { return copy_bytes(*ctx.inputs[0], *ctx.outputs[0]); }
Status run_Unsqueeze(KernelContext& ctx) { return copy_bytes(*ctx.inputs[0], *ctx.outputs[0]); }

Status run_Transpose(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, ctx.node.attrs().get_ints("perm", {}));
  if (perm.empty()) {
    for (int i = in.rank(); i-- > 0;) perm.push_back(i);
  }
  const std::vector<int64_t> own = contiguous_strides(in.shape());
  std::vector<int64_t> strides;
  for (int64_t p : perm) strides.push_back(own[static_cast<size_t>(p)]);
  return gather_strided(in, out, out.shape(), strides);
}

Status run_Expand(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  return gather_strided(in, out, out.shape(), broadcast_strides(in.shape(), out.shape()));
}

Status run_Tile(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  // Output dim d is (repeat, in dim d) in row-major order: walk the 2*rank interleaved shape.
  const std::vector<int64_t> own = contiguous_strides(in.shape());
  Shape interleaved;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < own.size(); ++d) {
    const int64_t dim = in.shape()[d];
    interleaved.push_back(dim == 0 ? 0 : out.shape()[d] / dim);
    interleaved.push_back(dim);
    strides.push_back(0);
    strides.push_back(own[d]);
  }
  return gather_strided(in, out, interleaved, strides);
}

}  // namespace convmend
