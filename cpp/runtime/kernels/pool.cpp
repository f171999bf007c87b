// Pools have no separate fast path: the plain loops below are the reference and already
// visit memory in order. NCHW planes get their own loop with a scalar accumulator, which
// computes the same sums in the same order without a per-pixel lane vector.
#include <algorithm>
#include <limits>
#include <vector>

#include "ir/shapes/window.h"
#include "runtime/kernel.h"
#include "runtime/kernels/fused_activation.h"

namespace convmend {
namespace {

Status check_dtype(const KernelContext& ctx) {
  const DType dtype = ctx.inputs[0]->dtype();
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) {
    return error(StatusCode::kUnsupported, ctx.node.op_name(), " does not support dtype ",
                 dtype_name(dtype), " (f32 and f64 only)");
  }
  return Status::ok();
}

// The input rows/columns a window covers and the divisor of an average over it.
struct WindowSpan {
  int64_t y0, y1, x0, x1;  // clamped to the input
  int64_t padded_count;    // window cells inside input + pads (count_include_pad)
};

WindowSpan window_span(const PoolGeometry& g, int64_t oy, int64_t ox) {
  const Window2d& w = g.window;
  // As ONNX Runtime and PyTorch: the window is first cut at the end of the padded input
  // (ceil_mode can overhang it), then at the input itself.
  const int64_t ys = oy * w.stride_h - w.pad_top, xs = ox * w.stride_w - w.pad_left;
  const int64_t ye = std::min(ys + (w.kernel_h - 1) * w.dilation_h + 1, g.in.h + w.pad_bottom);
  const int64_t xe = std::min(xs + (w.kernel_w - 1) * w.dilation_w + 1, g.in.w + w.pad_right);
  WindowSpan s;
  s.padded_count = (ye - ys) * (xe - xs);
  s.y0 = ys, s.y1 = std::min(ye, g.in.h);
  s.x0 = xs, s.x1 = std::min(xe, g.in.w);
  return s;
}

// First tap at or after 0 on the dilated grid that starts at `start`.
int64_t first_tap(int64_t start, int64_t dilation) {
  return start >= 0 ? start : start + ((-start + dilation - 1) / dilation) * dilation;
}

template <typename T, bool kMax>
void window_pool_nchw(const PoolGeometry& g, const T* x, T* y) {
  const Window2d& w = g.window;
  const int64_t H = g.in.h, W = g.in.w;
  for (int64_t plane = 0; plane < g.in.n * g.in.c; ++plane) {
    const T* in = x + plane * H * W;
    T* out = y + plane * w.out_h * w.out_w;
    for (int64_t oy = 0; oy < w.out_h; ++oy) {
      for (int64_t ox = 0; ox < w.out_w; ++ox) {
        const WindowSpan s = window_span(g, oy, ox);
        double acc = kMax ? -std::numeric_limits<double>::infinity() : 0.0;
        int64_t count = 0;
        for (int64_t iy = first_tap(s.y0, w.dilation_h); iy < s.y1; iy += w.dilation_h) {
          const T* row = in + iy * W;
          for (int64_t ix = first_tap(s.x0, w.dilation_w); ix < s.x1; ix += w.dilation_w) {
            const double v = static_cast<double>(row[ix]);
            ++count;
            if constexpr (kMax) {
              if (v > acc) acc = v;
            } else {
              acc += v;
            }
          }
        }
        const int64_t divisor = g.count_include_pad ? s.padded_count : count;
        out[oy * w.out_w + ox] = kMax ? static_cast<T>(acc)
                                      : static_cast<T>(divisor > 0 ? acc / divisor : 0.0);
      }
    }
  }
}

template <typename T, bool kMax>
void window_pool(const PoolGeometry& g, const T* x, T* y) {
  const Window2d& w = g.window;
  const int64_t C = g.in.c, H = g.in.h, W = g.in.w;
  const bool nhwc = g.data_layout == DataLayout::kNHWC;
  if (!nhwc) {
    window_pool_nchw<T, kMax>(g, x, y);
    return;
  }
  // Per output pixel, accumulate all channels (NHWC) or one channel (NCHW).
  const int64_t lanes = nhwc ? C : 1;
  const int64_t planes = nhwc ? 1 : C;
  std::vector<double> acc(static_cast<size_t>(lanes));
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t p = 0; p < planes; ++p) {
      for (int64_t oy = 0; oy < w.out_h; ++oy) {
        for (int64_t ox = 0; ox < w.out_w; ++ox) {
          const WindowSpan s = window_span(g, oy, ox);
          std::fill(acc.begin(), acc.end(),
                    kMax ? -std::numeric_limits<double>::infinity() : 0.0);
          int64_t count = 0;
          for (int64_t iy = first_tap(s.y0, w.dilation_h); iy < s.y1; iy += w.dilation_h) {
            for (int64_t ix = first_tap(s.x0, w.dilation_w); ix < s.x1; ix += w.dilation_w) {
              const T* in = nhwc ? x + ((n * H + iy) * W + ix) * C
                                 : x + ((n * C + p) * H + iy) * W + ix;
              ++count;
              for (int64_t c = 0; c < lanes; ++c) {
                const double v = static_cast<double>(in[c]);
                if constexpr (kMax) {
                  if (v > acc[c]) acc[c] = v;
                } else {
                  acc[c] += v;
                }
              }
            }
          }
          T* out = nhwc ? y + ((n * w.out_h + oy) * w.out_w + ox) * C
                        : y + ((n * C + p) * w.out_h + oy) * w.out_w + ox;
          const int64_t divisor = g.count_include_pad ? s.padded_count : count;
          for (int64_t c = 0; c < lanes; ++c) {
            out[c] = kMax ? static_cast<T>(acc[c])
                          : static_cast<T>(divisor > 0 ? acc[c] / divisor : 0.0);
          }
        }
      }
    }
  }
}

template <bool kMax>
Status run_window_pool(KernelContext& ctx) {
  RETURN_IF_ERROR(check_dtype(ctx));
  if (ctx.outputs.size() != 1) {
    return error(StatusCode::kUnsupported, ctx.node.op_name(),
                 ": the Indices output is not supported");
  }
  ASSIGN_OR_RETURN(PoolGeometry g, resolve_pool(ctx.node, ctx.inputs[0]->shape()));
  Tensor& out = *ctx.outputs[0];
  if (out.shape() != g.output_shape) {
    return error(StatusCode::kInternal, ctx.node.op_name(), " output is allocated as ",
                 shape_to_string(out.shape()), ", expected ", shape_to_string(g.output_shape));
  }
  if (ctx.inputs[0]->dtype() == DType::kFloat64) {
    window_pool<double, kMax>(g, ctx.inputs[0]->data<double>(), out.data<double>());
    apply_fused_activation(g.activation, out.data<double>(), out.num_elements());
  } else {
    window_pool<float, kMax>(g, ctx.inputs[0]->data<float>(), out.data<float>());
    apply_fused_activation(g.activation, out.data<float>(), out.num_elements());
  }
  return Status::ok();
}

template <typename T, bool kMax>
void global_pool(const Shape& s, bool nhwc, const T* x, T* y) {
  const int64_t n = s[0];
  const int64_t c = nhwc ? s.back() : s[1];
  int64_t spatial = 1;
  for (size_t i = nhwc ? 1 : 2; i < (nhwc ? s.size() - 1 : s.size()); ++i) spatial *= s[i];
  const int64_t lanes = nhwc ? c : 1;
  const int64_t planes = nhwc ? 1 : c;
  std::vector<double> acc(static_cast<size_t>(lanes));
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t p = 0; p < planes; ++p) {
      std::fill(acc.begin(), acc.end(), kMax ? -std::numeric_limits<double>::infinity() : 0.0);
      const T* in = x + (b * planes + p) * spatial * lanes;
      for (int64_t i = 0; i < spatial; ++i) {
        for (int64_t l = 0; l < lanes; ++l) {
          const double v = static_cast<double>(in[i * lanes + l]);
          if constexpr (kMax) {
            if (v > acc[l]) acc[l] = v;
          } else {
            acc[l] += v;
          }
        }
      }
      T* out = y + (b * planes + p) * lanes;
      for (int64_t l = 0; l < lanes; ++l) {
        out[l] = static_cast<T>(kMax ? acc[l] : acc[l] / static_cast<double>(spatial));
      }
    }
  }
}

template <bool kMax>
Status run_global_pool(KernelContext& ctx) {
  RETURN_IF_ERROR(check_dtype(ctx));
  ASSIGN_OR_RETURN(DataLayout layout, ctx.node.attrs().get_data_layout());
  const Tensor& x = *ctx.inputs[0];
  const bool nhwc = layout == DataLayout::kNHWC;
  if (x.dtype() == DType::kFloat64) {
    global_pool<double, kMax>(x.shape(), nhwc, x.data<double>(), ctx.outputs[0]->data<double>());
  } else {
    global_pool<float, kMax>(x.shape(), nhwc, x.data<float>(), ctx.outputs[0]->data<float>());
  }
  return Status::ok();
}

}  // namespace

Status run_MaxPool(KernelContext& ctx) { return run_window_pool<true>(ctx); }
Status run_AveragePool(KernelContext& ctx) { return run_window_pool<false>(ctx); }
Status run_GlobalAveragePool(KernelContext& ctx) { return run_global_pool<false>(ctx); }
Status run_GlobalMaxPool(KernelContext& ctx) { return run_global_pool<true>(ctx); }

}  // namespace convmend
