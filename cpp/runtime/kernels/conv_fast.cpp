#include "runtime/kernels/conv_fast.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "runtime/kernels/fused_activation.h"
#include "runtime/kernels/gemm.h"

namespace convmend {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// The weight in the order a fast path reads it. GEMM, NCHW: [O][Cg][kh][kw] (OIHW);
// GEMM, NHWC: [O][kh][kw][Cg] (OHWI); depthwise, NCHW: [O][kh][kw]; depthwise, NHWC: [kh][kw][O].
enum class Packing : uint8_t { kGemmNCHW, kGemmNHWC, kDepthwiseNCHW, kDepthwiseNHWC };

bool packing_is_identity(Packing p, WeightLayout layout) {
  switch (p) {
    case Packing::kGemmNCHW:
    case Packing::kDepthwiseNCHW:
      return layout == WeightLayout::kOIHW;
    case Packing::kGemmNHWC:
      return layout == WeightLayout::kOHWI;
    case Packing::kDepthwiseNHWC:
      return layout == WeightLayout::k1HWO;
  }
  return false;
}

template <typename T>
void pack_weights(const ConvGeometry& g, Packing p, const T* w, std::vector<T>& out) {
  const int64_t kh = g.window.kernel_h, kw = g.window.kernel_w, cg = g.in_per_group;
  out.resize(static_cast<size_t>(g.out_c * cg * kh * kw));
  size_t k = 0;
  if (p == Packing::kDepthwiseNHWC) {
    for (int64_t ky = 0; ky < kh; ++ky)
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t o = 0; o < g.out_c; ++o) out[k++] = w[conv_weight_index(g, o, 0, ky, kx)];
    return;
  }
  for (int64_t o = 0; o < g.out_c; ++o) {
    if (p == Packing::kGemmNHWC) {
      for (int64_t ky = 0; ky < kh; ++ky)
        for (int64_t kx = 0; kx < kw; ++kx)
          for (int64_t i = 0; i < cg; ++i) out[k++] = w[conv_weight_index(g, o, i, ky, kx)];
    } else {
      for (int64_t i = 0; i < cg; ++i)
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) out[k++] = w[conv_weight_index(g, o, i, ky, kx)];
    }
  }
}

// Repacked weights of a constant weight input, kept between runs.
struct PackedConvWeights : KernelState {
  const std::byte* source = nullptr;
  Packing packing = Packing::kGemmNCHW;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<float>& data(float) { return f32; }
  std::vector<double>& data(double) { return f64; }
};

// Returns the weight in `p` order: the tensor itself, a cached repack, or `scratch`.
template <typename T>
const T* packed_weights(KernelContext& ctx, const ConvGeometry& g, Packing p,
                        std::vector<T>& scratch) {
  const Tensor& w = *ctx.inputs[1];
  if (packing_is_identity(p, g.weight_layout)) return w.data<T>();
  const Value* wv = ctx.node.input(1);
  if (wv == nullptr || !wv->is_constant()) {
    pack_weights(g, p, w.data<T>(), scratch);
    return scratch.data();
  }
  auto* cached = dynamic_cast<PackedConvWeights*>(ctx.state->get());
  if (cached == nullptr || cached->source != w.raw() || cached->packing != p ||
      cached->data(T{}).empty()) {
    auto fresh = std::make_unique<PackedConvWeights>();
    fresh->source = w.raw();
    fresh->packing = p;
    pack_weights(g, p, w.data<T>(), fresh->data(T{}));
    cached = fresh.get();
    *ctx.state = std::move(fresh);
  }
  return cached->data(T{}).data();
}

template <typename T>
std::unique_ptr<T[]> uninitialized(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(std::max<int64_t>(n, 1))]);
}

// Output columns ox whose input column ox*stride + offset lies in [0, width).
void valid_range(int64_t offset, int64_t stride, int64_t width, int64_t out, int64_t* lo,
                 int64_t* hi) {
  *lo = offset < 0 ? std::min(out, ceil_div(-offset, stride)) : 0;
  *hi = std::clamp<int64_t>(ceil_div(width - offset, stride), *lo, out);
}

// col[(c*kh + ky)*kw + kx][p - p0] for output positions p = oy*ow + ox in [p0, p1) of one
// image's channels [0, channels) at x.
template <typename T>
void im2col_nchw(const ConvGeometry& g, const T* x, int64_t channels, int64_t p0, int64_t p1,
                 T* col) {
  const Window2d& w = g.window;
  const int64_t H = g.in.h, W = g.in.w, width = p1 - p0;
  for (int64_t c = 0; c < channels; ++c) {
    const T* plane = x + c * H * W;
    for (int64_t ky = 0; ky < w.kernel_h; ++ky) {
      for (int64_t kx = 0; kx < w.kernel_w; ++kx) {
        T* row = col + ((c * w.kernel_h + ky) * w.kernel_w + kx) * width - p0;
        int64_t lo = 0, hi = 0;
        const int64_t x_offset = kx * w.dilation_w - w.pad_left;
        valid_range(x_offset, w.stride_w, W, w.out_w, &lo, &hi);
        for (int64_t oy = p0 / w.out_w; oy * w.out_w < p1; ++oy) {
          // This output row's part of [p0, p1), as columns [a, b).
          const int64_t a = std::max<int64_t>(0, p0 - oy * w.out_w);
          const int64_t b = std::min<int64_t>(w.out_w, p1 - oy * w.out_w);
          T* r = row + oy * w.out_w;
          const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
          if (iy < 0 || iy >= H) {
            std::fill(r + a, r + b, T(0));
            continue;
          }
          const T* src = plane + iy * W + x_offset;
          const int64_t va = std::clamp(lo, a, b), vb = std::clamp(hi, va, b);
          std::fill(r + a, r + va, T(0));
          if (w.stride_w == 1) {
            std::memcpy(r + va, src + va, static_cast<size_t>(vb - va) * sizeof(T));
          } else {
            for (int64_t ox = va; ox < vb; ++ox) r[ox] = src[ox * w.stride_w];
          }
          std::fill(r + vb, r + b, T(0));
        }
      }
    }
  }
}

// col[oy*ow + ox][(ky*kw + kx)*Cg + c] for image n, channels [c0, c0 + Cg).
template <typename T>
void im2col_nhwc(const ConvGeometry& g, const T* x, int64_t c0, T* col) {
  const Window2d& w = g.window;
  const int64_t H = g.in.h, W = g.in.w, C = g.in.c, cg = g.in_per_group;
  const size_t bytes = static_cast<size_t>(cg) * sizeof(T);
  const int64_t k = w.kernel_h * w.kernel_w * cg;
  for (int64_t oy = 0; oy < w.out_h; ++oy) {
    for (int64_t ox = 0; ox < w.out_w; ++ox) {
      T* r = col + (oy * w.out_w + ox) * k;
      for (int64_t ky = 0; ky < w.kernel_h; ++ky) {
        const int64_t iy = oy * w.stride_h - w.pad_top + ky * w.dilation_h;
        for (int64_t kx = 0; kx < w.kernel_w; ++kx, r += cg) {
          const int64_t ix = ox * w.stride_w - w.pad_left + kx * w.dilation_w;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) {
            std::fill(r, r + cg, T(0));
          } else {
            std::memcpy(r, x + (iy * W + ix) * C + c0, bytes);
          }
        }
      }
    }
  }
}

bool is_pointwise(const ConvGeometry& g) {
  const Window2d& w = g.window;
  return w.kernel_h == 1 && w.kernel_w == 1 && w.stride_h == 1 && w.stride_w == 1 &&
         w.pad_top == 0 && w.pad_left == 0 && w.pad_bottom == 0 && w.pad_right == 0;
}

template <typename T>
void conv_gemm_nchw(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const int64_t C = g.in.c, HW = g.in.h * g.in.w, O = g.out_c;
  const int64_t ohw = g.window.out_h * g.window.out_w;
  const int64_t cg = g.in_per_group, og = g.out_per_group;
  const int64_t k = cg * g.window.kernel_h * g.window.kernel_w;
  if (is_pointwise(g)) {  // the input planes are already the [Cg, H*W] matrix
    for (int64_t n = 0; n < g.in.n; ++n) {
      for (int64_t grp = 0; grp < g.group; ++grp) {
        gemm(false, false, og, ohw, cg, T(1), w + grp * og * k, k, x + (n * C + grp * cg) * HW,
             ohw, T(0), y + (n * O + grp * og) * ohw, ohw);
      }
    }
    return;
  }
  // Output positions in blocks whose im2col panel stays in L2 (about 1 MB).
  const int64_t block = std::clamp<int64_t>((int64_t{1} << 20) / (k * sizeof(T)) / 16 * 16,
                                            64, std::max<int64_t>(ohw, 64));
  std::unique_ptr<T[]> col = uninitialized<T>(k * std::min(block, ohw));
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const T* xg = x + (n * C + grp * cg) * HW;
      for (int64_t p0 = 0; p0 < ohw; p0 += block) {
        const int64_t p1 = std::min(ohw, p0 + block);
        im2col_nchw(g, xg, cg, p0, p1, col.get());
        gemm(false, false, og, p1 - p0, k, T(1), w + grp * og * k, k, col.get(), p1 - p0, T(0),
             y + (n * O + grp * og) * ohw + p0, ohw);
      }
    }
  }
}

template <typename T>
void conv_gemm_nhwc(const ConvGeometry& g, const T* x, const T* w, T* y) {
  const int64_t C = g.in.c, O = g.out_c;
  const int64_t ohw = g.window.out_h * g.window.out_w;
  const int64_t cg = g.in_per_group, og = g.out_per_group;
  const int64_t k = cg * g.window.kernel_h * g.window.kernel_w;
  if (is_pointwise(g)) {  // the input is already the [N*H*W, C] matrix
    for (int64_t grp = 0; grp < g.group; ++grp) {
      gemm(false, true, g.in.n * ohw, og, cg, T(1), x + grp * cg, C, w + grp * og * k, k, T(0),
           y + grp * og, O);
    }
    return;
  }
  std::unique_ptr<T[]> col = uninitialized<T>(k * ohw);
  const int64_t image = g.in.h * g.in.w * C;
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      im2col_nhwc(g, x + n * image, grp * cg, col.get());
      gemm(false, true, ohw, og, k, T(1), col.get(), k, w + grp * og * k, k, T(0),
           y + n * ohw * O + grp * og, O);
    }
  }
}

// One output row of a 3x3 depthwise conv from three zero-padded input rows, the nine taps
// kept in registers (the common MobileNet case).
template <typename T, int kStride>
void depthwise3x3_row(const T* __restrict r0, const T* __restrict r1, const T* __restrict r2,
                      const T* w, T bias, T* __restrict out, int64_t width) {
  const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
          w7 = w[7], w8 = w[8];
  for (int64_t ox = 0; ox < width; ++ox) {
    const int64_t i = ox * kStride;
    out[ox] = bias + w0 * r0[i] + w1 * r0[i + 1] + w2 * r0[i + 2] + w3 * r1[i] +
              w4 * r1[i + 1] + w5 * r1[i + 2] + w6 * r2[i] + w7 * r2[i + 1] + w8 * r2[i + 2];
  }
}

// Depthwise (one input channel per group), NCHW: each output plane from one zero-padded
// input plane, accumulated kernel tap by kernel tap so the inner loop runs along a row.
template <typename T>
void depthwise_nchw(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const Window2d& win = g.window;
  const int64_t H = g.in.h, W = g.in.w, C = g.in.c, O = g.out_c, mult = g.out_per_group;
  const int64_t ph = win.pad_top + H + win.pad_bottom, pw = win.pad_left + W + win.pad_right;
  const int64_t taps = win.kernel_h * win.kernel_w;
  const bool padded = ph != H || pw != W;
  std::vector<T> plane(padded ? static_cast<size_t>(ph * pw) : 0, T(0));
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      const T* src = x + (n * C + c) * H * W;
      if (padded) {
        for (int64_t iy = 0; iy < H; ++iy) {
          std::memcpy(plane.data() + (iy + win.pad_top) * pw + win.pad_left, src + iy * W,
                      static_cast<size_t>(W) * sizeof(T));
        }
        src = plane.data();
      }
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t o = c * mult + m;
        const T* wo = w + o * taps;
        T* out = y + (n * O + o) * win.out_h * win.out_w;
        const T b = bias != nullptr ? bias[o] : T(0);
        if (win.kernel_h == 3 && win.kernel_w == 3 && win.dilation_h == 1 &&
            win.dilation_w == 1 && win.stride_w <= 2) {
          for (int64_t oy = 0; oy < win.out_h; ++oy) {
            const T* r0 = src + oy * win.stride_h * pw;
            if (win.stride_w == 1) {
              depthwise3x3_row<T, 1>(r0, r0 + pw, r0 + 2 * pw, wo, b, out + oy * win.out_w,
                                     win.out_w);
            } else {
              depthwise3x3_row<T, 2>(r0, r0 + pw, r0 + 2 * pw, wo, b, out + oy * win.out_w,
                                     win.out_w);
            }
          }
          continue;
        }
        for (int64_t oy = 0; oy < win.out_h; ++oy) {
          T* row = out + oy * win.out_w;
          std::fill(row, row + win.out_w, b);
          for (int64_t ky = 0; ky < win.kernel_h; ++ky) {
            const T* in_row = src + (oy * win.stride_h + ky * win.dilation_h) * pw;
            for (int64_t kx = 0; kx < win.kernel_w; ++kx) {
              const T wv = wo[ky * win.kernel_w + kx];
              const T* s = in_row + kx * win.dilation_w;
              if (win.stride_w == 1) {
                for (int64_t ox = 0; ox < win.out_w; ++ox) row[ox] += wv * s[ox];
              } else {
                for (int64_t ox = 0; ox < win.out_w; ++ox) row[ox] += wv * s[ox * win.stride_w];
              }
            }
          }
        }
      }
    }
  }
}

// One interior output pixel of a 3x3 depthwise conv in NHWC (multiplier 1): all channels
// at once, nine taps per channel, weights [3][3][C].
template <typename T>
void depthwise3x3_pixel(const T* __restrict in, int64_t row_stride, int64_t C,
                        const T* __restrict w, const T* __restrict bias, T* __restrict out) {
  const T* a = in;
  const T* b = in + row_stride;
  const T* c = in + 2 * row_stride;
  for (int64_t i = 0; i < C; ++i) {
    T acc = bias[i];
    acc += w[i] * a[i] + w[C + i] * a[C + i] + w[2 * C + i] * a[2 * C + i];
    acc += w[3 * C + i] * b[i] + w[4 * C + i] * b[C + i] + w[5 * C + i] * b[2 * C + i];
    acc += w[6 * C + i] * c[i] + w[7 * C + i] * c[C + i] + w[8 * C + i] * c[2 * C + i];
    out[i] = acc;
  }
}

// Depthwise, NHWC: for each output pixel, all channels at once along the contiguous C axis.
template <typename T>
void depthwise_nhwc(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const Window2d& win = g.window;
  const int64_t H = g.in.h, W = g.in.w, C = g.in.c, O = g.out_c, mult = g.out_per_group;
  const bool fast3x3 = mult == 1 && win.kernel_h == 3 && win.kernel_w == 3 &&
                       win.dilation_h == 1 && win.dilation_w == 1;
  const std::vector<T> zeros(bias == nullptr ? static_cast<size_t>(O) : 0, T(0));
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t oy = 0; oy < win.out_h; ++oy) {
      for (int64_t ox = 0; ox < win.out_w; ++ox) {
        T* out = y + ((n * win.out_h + oy) * win.out_w + ox) * O;
        const int64_t iy0 = oy * win.stride_h - win.pad_top;
        const int64_t ix0 = ox * win.stride_w - win.pad_left;
        if (fast3x3 && iy0 >= 0 && iy0 + 2 < H && ix0 >= 0 && ix0 + 2 < W) {
          const T* in = x + ((n * H + iy0) * W + ix0) * C;
          depthwise3x3_pixel(in, W * C, C, w, bias != nullptr ? bias : zeros.data(), out);
          continue;
        }
        if (bias != nullptr) {
          std::memcpy(out, bias, static_cast<size_t>(O) * sizeof(T));
        } else {
          std::fill(out, out + O, T(0));
        }
        for (int64_t ky = 0; ky < win.kernel_h; ++ky) {
          const int64_t iy = oy * win.stride_h - win.pad_top + ky * win.dilation_h;
          if (iy < 0 || iy >= H) continue;
          for (int64_t kx = 0; kx < win.kernel_w; ++kx) {
            const int64_t ix = ox * win.stride_w - win.pad_left + kx * win.dilation_w;
            if (ix < 0 || ix >= W) continue;
            const T* in = x + ((n * H + iy) * W + ix) * C;
            const T* wt = w + (ky * win.kernel_w + kx) * O;
            if (mult == 1) {
              for (int64_t c = 0; c < C; ++c) out[c] += wt[c] * in[c];
            } else {
              for (int64_t c = 0; c < C; ++c)
                for (int64_t m = 0; m < mult; ++m) out[c * mult + m] += wt[c * mult + m] * in[c];
            }
          }
        }
      }
    }
  }
}

template <typename T>
void add_bias(const ConvGeometry& g, const T* bias, T* y) {
  const int64_t O = g.out_c, ohw = g.window.out_h * g.window.out_w;
  if (g.data_layout == DataLayout::kNHWC) {
    for (int64_t p = 0; p < g.in.n * ohw; ++p) {
      T* row = y + p * O;
      for (int64_t o = 0; o < O; ++o) row[o] += bias[o];
    }
    return;
  }
  for (int64_t n = 0; n < g.in.n; ++n) {
    for (int64_t o = 0; o < O; ++o) {
      T* plane = y + (n * O + o) * ohw;
      const T b = bias[o];
      for (int64_t i = 0; i < ohw; ++i) plane[i] += b;
    }
  }
}

template <typename T>
Status conv_fast(KernelContext& ctx, const ConvGeometry& g) {
  const T* x = ctx.inputs[0]->data<T>();
  const Tensor* bias_tensor = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  const T* bias = bias_tensor != nullptr ? bias_tensor->data<T>() : nullptr;
  Tensor& out = *ctx.outputs[0];
  T* y = out.data<T>();
  if (out.num_elements() == 0) return Status::ok();
  const bool nhwc = g.data_layout == DataLayout::kNHWC;
  std::vector<T> scratch;
  if (g.in_per_group == 1 && g.group == g.in.c && g.group > 1) {
    const Packing p = nhwc ? Packing::kDepthwiseNHWC : Packing::kDepthwiseNCHW;
    const T* w = packed_weights<T>(ctx, g, p, scratch);
    if (nhwc) {
      depthwise_nhwc(g, x, w, bias, y);
    } else {
      depthwise_nchw(g, x, w, bias, y);
    }
  } else {
    prepare_blas(ctx.options.threads);
    const Packing p = nhwc ? Packing::kGemmNHWC : Packing::kGemmNCHW;
    const T* w = packed_weights<T>(ctx, g, p, scratch);
    if (nhwc) {
      conv_gemm_nhwc(g, x, w, y);
    } else {
      conv_gemm_nchw(g, x, w, y);
    }
    if (bias != nullptr) add_bias(g, bias, y);
  }
  apply_fused_activation(g.activation, y, out.num_elements());
  return Status::ok();
}

}  // namespace

Status run_conv_fast(KernelContext& ctx, const ConvGeometry& g) {
  if (ctx.inputs[0]->dtype() == DType::kFloat64) return conv_fast<double>(ctx, g);
  return conv_fast<float>(ctx, g);
}

}  // namespace convmend
