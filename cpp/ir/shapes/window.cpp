#include "ir/shapes/window.h"

namespace convmend {
namespace {

Result<std::vector<int64_t>> pair_attr(const Attributes& attrs, const char* name,
                                       size_t count, int64_t fallback) {
  ASSIGN_OR_RETURN(std::vector<int64_t> v,
                   attrs.get_ints(name, std::vector<int64_t>(count, fallback)));
  if (v.size() != count) {
    return error(StatusCode::kUnsupported, name, " has ", v.size(), " values, a 2-D op takes ",
                 count);
  }
  return v;
}

}  // namespace

Result<Window2d> resolve_window(const Attributes& attrs, int64_t in_h, int64_t in_w,
                                int64_t kernel_h, int64_t kernel_w, bool ceil_mode) {
  ASSIGN_OR_RETURN(auto strides, pair_attr(attrs, "strides", 2, 1));
  ASSIGN_OR_RETURN(auto dilations, pair_attr(attrs, "dilations", 2, 1));
  ASSIGN_OR_RETURN(auto pads, pair_attr(attrs, "pads", 4, 0));
  ASSIGN_OR_RETURN(AutoPad auto_pad, attrs.get_auto_pad());
  Window2d w;
  w.kernel_h = kernel_h;
  w.kernel_w = kernel_w;
  w.stride_h = strides[0];
  w.stride_w = strides[1];
  w.dilation_h = dilations[0];
  w.dilation_w = dilations[1];
  ASSIGN_OR_RETURN(SpatialDim dh, spatial_output(in_h, kernel_h, w.stride_h, w.dilation_h,
                                                 pads[0], pads[2], auto_pad, ceil_mode));
  ASSIGN_OR_RETURN(SpatialDim dw, spatial_output(in_w, kernel_w, w.stride_w, w.dilation_w,
                                                 pads[1], pads[3], auto_pad, ceil_mode));
  w.pad_top = dh.pad_begin;
  w.pad_bottom = dh.pad_end;
  w.pad_left = dw.pad_begin;
  w.pad_right = dw.pad_end;
  w.out_h = dh.out;
  w.out_w = dw.out;
  return w;
}

ImageDims image_dims(const Shape& s, DataLayout layout) {
  if (layout == DataLayout::kNHWC) return {s[0], s[3], s[1], s[2]};
  return {s[0], s[1], s[2], s[3]};
}

Shape image_shape(const ImageDims& d, DataLayout layout) {
  if (layout == DataLayout::kNHWC) return {d.n, d.h, d.w, d.c};
  return {d.n, d.c, d.h, d.w};
}

}  // namespace convmend
