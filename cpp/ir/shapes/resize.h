// Resize's attributes and output geometry, resolved once (shared with the kernel).
#pragma once

#include "ir/shapes/window.h"

namespace convmend {

enum class ResizeMode : uint8_t { kNearest, kLinear, kCubic };
enum class ResizeCoordinates : uint8_t {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
};
enum class NearestMode : uint8_t { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeParams {
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoordinates coordinates = ResizeCoordinates::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  double cubic_coeff_a = -0.75;
  bool exclude_outside = false;
  DataLayout data_layout = DataLayout::kNCHW;
  ImageDims in;
  int64_t out_h = -1, out_w = -1;
  // Scales as ONNX Runtime uses them in the coordinate transform: the given float scale, or
  // out / in computed in float when sizes are given.
  float scale_h = 0, scale_w = 0;
  Shape output_shape;
};

// `scales` and `sizes` may be null or empty; when both are unknown the spatial output dims
// are -1.
Result<ResizeParams> resolve_resize(const Attributes& attrs, const Shape& x,
                                    const Tensor* scales, const Tensor* sizes);

}  // namespace convmend
