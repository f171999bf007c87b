// Kernel of Softmax: y = exp(beta*x - max) / sum, over one axis (or, with coerce_2d, over
// all dims from `axis` on, as ONNX opsets before 13).
#include <cmath>
#include <vector>

#include "ir/shape_inference.h"
#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {

Status run_Softmax(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t axis_attr, ctx.node.attrs().get_int("axis", -1));
  ASSIGN_OR_RETURN(int64_t coerce_2d, ctx.node.attrs().get_int("coerce_2d", 0));
  ASSIGN_OR_RETURN(double beta, ctx.node.attrs().get_float("beta", 1.0));
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, in.rank()));
  const Shape& shape = in.shape();
  const auto a = static_cast<size_t>(axis);
  const int64_t outer = dims_product(shape, 0, a);
  const int64_t n = coerce_2d ? dims_product(shape, a, shape.size()) : shape[a];
  const int64_t inner = coerce_2d ? 1 : dims_product(shape, a + 1, shape.size());
  return dispatch<float, double>(ctx.node, in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = ctx.outputs[0]->data<T>();
    const T b = static_cast<T>(beta);
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t base = o * n * inner + i;
        T max = -INFINITY;
        for (int64_t k = 0; k < n; ++k) max = std::max(max, b * x[base + k * inner]);
        double sum = 0.0;
        for (int64_t k = 0; k < n; ++k) {
          const T e = std::exp(b * x[base + k * inner] - max);
          y[base + k * inner] = e;
          sum += static_cast<double>(e);
        }
        for (int64_t k = 0; k < n; ++k) {
          y[base + k * inner] = static_cast<T>(static_cast<double>(y[base + k * inner]) / sum);
        }
      }
    }
    return Status::ok();
  });
}

}  // namespace convmend
