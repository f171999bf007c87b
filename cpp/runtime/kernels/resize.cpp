#include <algorithm>
#include <cmath>
#include <vector>

#include "ir/shapes/resize.h"
#include "runtime/kernel.h"

namespace convmend {
namespace {

// Input coordinate of output index x along an axis. `CT` is float for float32 runs, as in
// ONNX Runtime, so that index choices and weights match it bit for bit where possible.
template <typename CT>
CT original_coordinate(ResizeCoordinates mode, int64_t x, CT scale, int64_t in_len,
                       int64_t out_len) {
  const CT xr = static_cast<CT>(x);
  switch (mode) {
    case ResizeCoordinates::kHalfPixel:
      return (xr + CT(0.5)) / scale - CT(0.5);
    case ResizeCoordinates::kPytorchHalfPixel:
      return out_len > 1 ? (xr + CT(0.5)) / scale - CT(0.5) : CT(0);
    case ResizeCoordinates::kAlignCorners:
      return out_len == 1 ? CT(0)
                          : xr * static_cast<CT>(in_len - 1) / static_cast<CT>(out_len - 1);
    case ResizeCoordinates::kAsymmetric:
      return xr / scale;
    case ResizeCoordinates::kTfHalfPixelForNn:
      return (xr + CT(0.5)) / scale;
  }
  return xr;
}

int64_t nearest_index(NearestMode mode, float v) {
  switch (mode) {
    case NearestMode::kRoundPreferFloor:
      if (v == static_cast<float>(static_cast<int64_t>(v)) + 0.5f) {
        return static_cast<int64_t>(std::floor(v));
      }
      return static_cast<int64_t>(std::round(v));
    case NearestMode::kRoundPreferCeil:
      return static_cast<int64_t>(std::round(v));
    case NearestMode::kFloor:
      return static_cast<int64_t>(std::floor(v));
    case NearestMode::kCeil:
      return static_cast<int64_t>(std::ceil(v));
  }
  return 0;
}

// The input taps and weights of each output index along one axis.
template <typename T>
struct AxisTaps {
  int taps = 1;
  std::vector<int64_t> index;  // [out][taps]
  std::vector<T> weight;       // [out][taps]
};

template <typename T>
AxisTaps<T> axis_taps(const ResizeParams& p, float scale, int64_t in_len, int64_t out_len) {
  AxisTaps<T> a;
  a.taps = p.mode == ResizeMode::kNearest ? 1 : p.mode == ResizeMode::kLinear ? 2 : 4;
  a.index.resize(static_cast<size_t>(out_len * a.taps));
  a.weight.resize(static_cast<size_t>(out_len * a.taps));
  const auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in_len - 1); };
  for (int64_t o = 0; o < out_len; ++o) {
    int64_t* idx = a.index.data() + o * a.taps;
    T* w = a.weight.data() + o * a.taps;
    if (p.mode == ResizeMode::kNearest) {
      const float v = original_coordinate<float>(p.coordinates, o, scale, in_len, out_len);
      idx[0] = clamp(nearest_index(p.nearest, v));
      w[0] = T(1);
      continue;
    }
    T v = original_coordinate<T>(p.coordinates, o, static_cast<T>(scale), in_len, out_len);
    if (p.mode == ResizeMode::kLinear) {
      v = std::clamp(v, T(0), static_cast<T>(in_len - 1));
      const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(v), in_len - 1);
      const int64_t i1 = std::min<int64_t>(i0 + 1, in_len - 1);
      const T f = v - static_cast<T>(i0);
      idx[0] = i0, idx[1] = i1;
      w[0] = i0 == i1 ? T(1) : T(1) - f;
      w[1] = i0 == i1 ? T(0) : f;
      continue;
    }
    // Cubic convolution (Keys) with coefficient a, as ONNX Runtime.
    const T base = std::floor(v);
    const T s = v - base;
    const T A = static_cast<T>(p.cubic_coeff_a);
    const T c[4] = {
        ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A,
        ((A + 2) * s - (A + 3)) * s * s + 1,
        ((A + 2) * (1 - s) - (A + 3)) * (1 - s) * (1 - s) + 1,
        ((A * (2 - s) - 5 * A) * (2 - s) + 8 * A) * (2 - s) - 4 * A,
    };
    T sum = 0;
    for (int t = 0; t < 4; ++t) {
      const int64_t i = static_cast<int64_t>(base) - 1 + t;
      const bool outside = i < 0 || i >= in_len;
      w[t] = p.exclude_outside && outside ? T(0) : c[t];
      idx[t] = clamp(i);
      sum += w[t];
    }
    if (p.exclude_outside && sum != T(0)) {
      for (int t = 0; t < 4; ++t) w[t] /= sum;
    }
  }
  return a;
}

template <typename T>
void resize(const ResizeParams& p, const T* x, T* y) {
  const AxisTaps<T> ay = axis_taps<T>(p, p.scale_h, p.in.h, p.out_h);
  const AxisTaps<T> ax = axis_taps<T>(p, p.scale_w, p.in.w, p.out_w);
  const bool nhwc = p.data_layout == DataLayout::kNHWC;
  const int64_t C = p.in.c, H = p.in.h, W = p.in.w;
  // One output pixel over `lanes` channels at a time (all of them in NHWC).
  const int64_t lanes = nhwc ? C : 1, planes = nhwc ? 1 : C;
  std::vector<double> acc(static_cast<size_t>(lanes));
  for (int64_t n = 0; n < p.in.n; ++n) {
    for (int64_t pl = 0; pl < planes; ++pl) {
      for (int64_t oy = 0; oy < p.out_h; ++oy) {
        for (int64_t ox = 0; ox < p.out_w; ++ox) {
          std::fill(acc.begin(), acc.end(), 0.0);
          for (int ty = 0; ty < ay.taps; ++ty) {
            const int64_t iy = ay.index[oy * ay.taps + ty];
            const double wy = ay.weight[oy * ay.taps + ty];
            for (int tx = 0; tx < ax.taps; ++tx) {
              const int64_t ix = ax.index[ox * ax.taps + tx];
              const double wxy = wy * static_cast<double>(ax.weight[ox * ax.taps + tx]);
              const T* in = nhwc ? x + ((n * H + iy) * W + ix) * C
                                 : x + ((n * C + pl) * H + iy) * W + ix;
              for (int64_t l = 0; l < lanes; ++l) acc[l] += wxy * static_cast<double>(in[l]);
            }
          }
          T* out = nhwc ? y + ((n * p.out_h + oy) * p.out_w + ox) * C
                        : y + ((n * C + pl) * p.out_h + oy) * p.out_w + ox;
          for (int64_t l = 0; l < lanes; ++l) out[l] = static_cast<T>(acc[l]);
        }
      }
    }
  }
}

}  // namespace

Status run_Resize(KernelContext& ctx) {
  const Tensor& x = *ctx.inputs[0];
  const auto input = [&](size_t i) { return i < ctx.inputs.size() ? ctx.inputs[i] : nullptr; };
  ASSIGN_OR_RETURN(ResizeParams p, resolve_resize(ctx.node.attrs(), x.shape(), input(2), input(3)));
  if (ctx.outputs[0]->shape() != p.output_shape) {
    return error(StatusCode::kInternal, "Resize output is allocated as ",
                 shape_to_string(ctx.outputs[0]->shape()), ", expected ",
                 shape_to_string(p.output_shape));
  }
  if (p.out_h < 0 || p.out_w < 0) {
    return error(StatusCode::kInvalidModel, "Resize needs scales or sizes");
  }
  switch (x.dtype()) {
    case DType::kFloat32:
      resize<float>(p, x.data<float>(), ctx.outputs[0]->data<float>());
      return Status::ok();
    case DType::kFloat64:
      resize<double>(p, x.data<double>(), ctx.outputs[0]->data<double>());
      return Status::ok();
    default:
      return error(StatusCode::kUnsupported, "Resize does not support dtype ",
                   dtype_name(x.dtype()), " (f32 and f64 only)");
  }
}

}  // namespace convmend
