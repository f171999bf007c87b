#include "ir/shapes/window.h"
#include "runtime/kernel.h"
#include "runtime/kernels/conv_fast.h"
#include "runtime/kernels/fused_activation.h"
#include "runtime/kernels/hybrid.h"

namespace convmend {
namespace {

// The specification: direct loops, accumulation in double.
template <typename T>
void conv_reference(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const Window2d& win = g.window;
  const bool nhwc = g.data_layout == DataLayout::kNHWC;
  const int64_t C = g.in.c, H = g.in.h, W = g.in.w, O = g.out_c;
  const auto x_at = [&](int64_t n, int64_t c, int64_t iy, int64_t ix) {
    return nhwc ? x[((n * H + iy) * W + ix) * C + c] : x[((n * C + c) * H + iy) * W + ix];
  };
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t o = 0; o < O; ++o) {
      const int64_t group = o / g.out_per_group;
      for (int64_t oy = 0; oy < win.out_h; ++oy) {
        for (int64_t ox = 0; ox < win.out_w; ++ox) {
          double acc = bias != nullptr ? static_cast<double>(bias[o]) : 0.0;
          for (int64_t i = 0; i < g.in_per_group; ++i) {
            const int64_t c = group * g.in_per_group + i;
            for (int64_t ky = 0; ky < win.kernel_h; ++ky) {
              const int64_t iy = oy * win.stride_h - win.pad_top + ky * win.dilation_h;
              if (iy < 0 || iy >= H) continue;
              for (int64_t kx = 0; kx < win.kernel_w; ++kx) {
                const int64_t ix = ox * win.stride_w - win.pad_left + kx * win.dilation_w;
                if (ix < 0 || ix >= W) continue;
                acc += static_cast<double>(x_at(n, c, iy, ix)) *
                       static_cast<double>(w[conv_weight_index(g, o, i, ky, kx)]);
              }
            }
          }
          const int64_t out = nhwc ? ((n * win.out_h + oy) * win.out_w + ox) * O + o
                                   : ((n * O + o) * win.out_h + oy) * win.out_w + ox;
          y[out] = static_cast<T>(acc);
        }
      }
    }
  }
}

template <typename T>
void run_reference(KernelContext& ctx, const ConvGeometry& g) {
  const Tensor* bias = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  Tensor& y = *ctx.outputs[0];
  conv_reference<T>(g, ctx.inputs[0]->data<T>(), ctx.inputs[1]->data<T>(),
                    bias != nullptr ? bias->data<T>() : nullptr, y.data<T>());
  apply_fused_activation(g.activation, y.data<T>(), y.num_elements());
}

}  // namespace

Status run_Conv(KernelContext& ctx) {
  // A hybrid CONV_2D quantizes its input per image (LiteRT's batch rows).
  Tensor quantized;
  const Tensor& raw = *ctx.inputs[0];
  const int64_t per_image =
      raw.shape().empty() || raw.dim(0) == 0 ? 1 : raw.num_elements() / raw.dim(0);
  RETURN_IF_ERROR(quantize_hybrid_input(ctx, per_image, quantized));
  const Tensor& x = *ctx.inputs[0];
  const Tensor& w = *ctx.inputs[1];
  const Tensor* bias = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  ASSIGN_OR_RETURN(ConvGeometry g, resolve_conv(ctx.node.attrs(), x.shape(), w.shape(),
                                                bias != nullptr ? &bias->shape() : nullptr));
  if (w.dtype() != x.dtype() || (bias != nullptr && bias->dtype() != x.dtype())) {
    return error(StatusCode::kUnsupported, "Conv input is ", dtype_name(x.dtype()),
                 " but weight is ", dtype_name(w.dtype()),
                 bias != nullptr ? std::string(" and bias ") + dtype_name(bias->dtype()) : "",
                 "; all must have the same float dtype");
  }
  if (ctx.outputs[0]->shape() != g.output_shape) {
    return error(StatusCode::kInternal, "Conv output is allocated as ",
                 shape_to_string(ctx.outputs[0]->shape()), ", expected ",
                 shape_to_string(g.output_shape));
  }
  switch (x.dtype()) {
    case DType::kFloat32:
      if (ctx.options.reference_only) {
        run_reference<float>(ctx, g);
        return Status::ok();
      }
      return run_conv_fast(ctx, g);
    case DType::kFloat64:
      if (ctx.options.reference_only) {
        run_reference<double>(ctx, g);
        return Status::ok();
      }
      return run_conv_fast(ctx, g);
    default:
      return error(StatusCode::kUnsupported, "Conv does not support dtype ",
                   dtype_name(x.dtype()), " (f32 and f64 only)");
  }
}

}  // namespace convmend
