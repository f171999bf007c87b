#include "ir/shapes/window.h"

namespace convmend {

Result<ConvGeometry> resolve_conv(const Attributes& attrs, const Shape& x, const Shape& w,
                                  const Shape* bias) {
  ConvGeometry g;
  if (x.size() != 4) {
    return error(StatusCode::kUnsupported, "Conv input ", shape_to_string(x), " has rank ",
                 x.size(), "; only 2-D convolution (4-D tensors) is supported");
  }
  if (w.size() != 4) {
    return error(StatusCode::kInvalidModel, "Conv weight ", shape_to_string(w),
                 " must have rank 4 like the input ", shape_to_string(x));
  }
  ASSIGN_OR_RETURN(g.data_layout, attrs.get_data_layout());
  ASSIGN_OR_RETURN(g.weight_layout, attrs.get_weight_layout());
  ASSIGN_OR_RETURN(g.activation, attrs.get_activation());
  ASSIGN_OR_RETURN(g.group, attrs.get_int("group", 1));
  if (g.group < 1) return error(StatusCode::kInvalidModel, "Conv group ", g.group, " must be >= 1");
  g.in = image_dims(x, g.data_layout);
  int64_t kh = 0, kw = 0;
  switch (g.weight_layout) {
    case WeightLayout::kOIHW:
      g.out_c = w[0], g.in_per_group = w[1], kh = w[2], kw = w[3];
      break;
    case WeightLayout::kOHWI:
      g.out_c = w[0], kh = w[1], kw = w[2], g.in_per_group = w[3];
      break;
    case WeightLayout::k1HWO:
      if (w[0] != 1) {
        return error(StatusCode::kInvalidModel, "Conv weight ", shape_to_string(w),
                     " in layout 1HWO must have a leading 1");
      }
      kh = w[1], kw = w[2], g.out_c = w[3], g.in_per_group = 1;
      break;
  }
  if (g.in.c >= 0 && g.in_per_group >= 0 && g.in.c != g.in_per_group * g.group) {
    return error(StatusCode::kInvalidModel, "Conv input has ", g.in.c, " channels, weight ",
                 shape_to_string(w), " (", weight_layout_name(g.weight_layout), ") with group ",
                 g.group, " expects ", g.in_per_group * g.group);
  }
  if (g.out_c >= 0 && g.out_c % g.group != 0) {
    return error(StatusCode::kInvalidModel, "Conv weight ", shape_to_string(w), " has ",
                 g.out_c, " output channels, not a multiple of group ", g.group);
  }
  g.out_per_group = g.out_c >= 0 ? g.out_c / g.group : -1;
  if (attrs.has("kernel_shape")) {
    ASSIGN_OR_RETURN(auto ks, attrs.get_ints("kernel_shape", {}));
    if (ks.size() != 2 || (kh >= 0 && ks[0] != kh) || (kw >= 0 && ks[1] != kw)) {
      return error(StatusCode::kInvalidModel, "Conv kernel_shape ", shape_to_string(ks),
                   " does not match weight ", shape_to_string(w));
    }
  }
  if (kh < 0 || kw < 0) {
    return error(StatusCode::kUnsupported, "Conv weight ", shape_to_string(w),
                 " has unknown spatial dims");
  }
  if (bias != nullptr && (bias->size() != 1 || ((*bias)[0] >= 0 && g.out_c >= 0 &&
                                                 (*bias)[0] != g.out_c))) {
    return error(StatusCode::kInvalidModel, "Conv bias ", shape_to_string(*bias),
                 " does not match the ", g.out_c, " output channels of weight ",
                 shape_to_string(w));
  }
  ASSIGN_OR_RETURN(g.window, resolve_window(attrs, g.in.h, g.in.w, kh, kw, false));
  g.output_shape = image_shape({g.in.n, g.out_c, g.window.out_h, g.window.out_w}, g.data_layout);
  return g;
}

Status infer_Conv(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions& options) {
  if (!inputs[0].rank_known || !inputs[1].rank_known) {
    outputs[0].dtype = inputs[0].dtype;
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const bool has_bias = inputs.size() > 2 && inputs[2].rank_known;
  ASSIGN_OR_RETURN(ConvGeometry g, resolve_conv(node.attrs(), inputs[0].shape, inputs[1].shape,
                                                has_bias ? &inputs[2].shape : nullptr));
  outputs[0].dtype = inputs[0].dtype;
  outputs[0].shape = g.output_shape;
  return Status::ok();
}

}  // namespace convmend
