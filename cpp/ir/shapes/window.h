// Window geometry of Conv and the 2-D pools, resolved once from a node's attributes and its
// input shapes; the shape functions and the kernels both use it so the arithmetic lives once.
#pragma once

#include <cstdint>

#include "ir/op.h"
#include "ir/shape_inference.h"

namespace convmend {

struct Window2d {
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  // Resolved pads (auto_pad applied).
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t out_h = 0, out_w = 0;  // -1 when the input size is unknown
};

// Reads strides, dilations, pads and auto_pad from `attrs` and computes the output size of an
// in_h x in_w input (-1 for unknown) under a kernel_h x kernel_w window.
Result<Window2d> resolve_window(const Attributes& attrs, int64_t in_h, int64_t in_w,
                                int64_t kernel_h, int64_t kernel_w, bool ceil_mode);

// Batch, channel and spatial dims of a 4-D activation in `layout`.
struct ImageDims {
  int64_t n = -1, c = -1, h = -1, w = -1;
};
ImageDims image_dims(const Shape& shape, DataLayout layout);
Shape image_shape(const ImageDims& d, DataLayout layout);

// Everything a Conv kernel needs, checked against the weight and bias shapes.
struct ConvGeometry {
  DataLayout data_layout = DataLayout::kNCHW;
  WeightLayout weight_layout = WeightLayout::kOIHW;
  Activation activation = Activation::kNone;
  ImageDims in;
  int64_t out_c = 0;
  int64_t group = 1;
  int64_t in_per_group = 0;   // weight's I dim
  int64_t out_per_group = 0;  // out_c / group
  Window2d window;
  Shape output_shape;
};
Result<ConvGeometry> resolve_conv(const Attributes& attrs, const Shape& x, const Shape& w,
                                  const Shape* bias);

// Pool attributes plus the geometry (kernel_shape, ceil_mode, count_include_pad, layout).
struct PoolGeometry {
  DataLayout data_layout = DataLayout::kNCHW;
  Activation activation = Activation::kNone;
  bool ceil_mode = false;
  bool count_include_pad = false;
  ImageDims in;
  Window2d window;
  Shape output_shape;
};
Result<PoolGeometry> resolve_pool(const Node& node, const Shape& x);

}  // namespace convmend
