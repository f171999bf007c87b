// Conv's fast paths (im2col + GEMM, direct depthwise), beside the reference in conv.cpp and
// tested against it.
#pragma once

#include "ir/shapes/window.h"
#include "runtime/kernel.h"

namespace convmend {

// Flat index of weight element (output channel o, input channel i within its group, ky, kx).
inline int64_t conv_weight_index(const ConvGeometry& g, int64_t o, int64_t i, int64_t ky,
                                 int64_t kx) {
  const int64_t kh = g.window.kernel_h, kw = g.window.kernel_w;
  switch (g.weight_layout) {
    case WeightLayout::kOHWI:
      return ((o * kh + ky) * kw + kx) * g.in_per_group + i;
    case WeightLayout::k1HWO:
      return (ky * kw + kx) * g.out_c + o;
    case WeightLayout::kOIHW:
      break;
  }
  return ((o * g.in_per_group + i) * kh + ky) * kw + kx;
}

// Runs Conv on f32 or f64 tensors (dtypes already checked) with the fast paths.
Status run_conv_fast(KernelContext& ctx, const ConvGeometry& g);

}  // namespace convmend
