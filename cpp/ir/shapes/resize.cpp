#include "ir/shapes/resize.h"

#include <cmath>

namespace convmend {
namespace {

Status parse_modes(const Attributes& attrs, ResizeParams& p) {
  ASSIGN_OR_RETURN(std::string mode, attrs.get_string("mode", "nearest"));
  if (mode == "nearest") {
    p.mode = ResizeMode::kNearest;
  } else if (mode == "linear") {
    p.mode = ResizeMode::kLinear;
  } else if (mode == "cubic") {
    p.mode = ResizeMode::kCubic;
  } else {
    return error(StatusCode::kUnsupported, "Resize mode '", mode, "' is not supported");
  }
  ASSIGN_OR_RETURN(std::string coords,
                   attrs.get_string("coordinate_transformation_mode", "half_pixel"));
  if (coords == "half_pixel") {
    p.coordinates = ResizeCoordinates::kHalfPixel;
  } else if (coords == "pytorch_half_pixel") {
    p.coordinates = ResizeCoordinates::kPytorchHalfPixel;
  } else if (coords == "align_corners") {
    p.coordinates = ResizeCoordinates::kAlignCorners;
  } else if (coords == "asymmetric") {
    p.coordinates = ResizeCoordinates::kAsymmetric;
  } else if (coords == "tf_half_pixel_for_nn") {
    p.coordinates = ResizeCoordinates::kTfHalfPixelForNn;
  } else {
    return error(StatusCode::kUnsupported, "Resize coordinate_transformation_mode '", coords,
                 "' is not supported");
  }
  ASSIGN_OR_RETURN(std::string nearest, attrs.get_string("nearest_mode", "round_prefer_floor"));
  if (nearest == "round_prefer_floor") {
    p.nearest = NearestMode::kRoundPreferFloor;
  } else if (nearest == "round_prefer_ceil") {
    p.nearest = NearestMode::kRoundPreferCeil;
  } else if (nearest == "floor") {
    p.nearest = NearestMode::kFloor;
  } else if (nearest == "ceil") {
    p.nearest = NearestMode::kCeil;
  } else {
    return error(StatusCode::kUnsupported, "Resize nearest_mode '", nearest,
                 "' is not supported");
  }
  ASSIGN_OR_RETURN(p.cubic_coeff_a, attrs.get_float("cubic_coeff_a", -0.75));
  ASSIGN_OR_RETURN(int64_t exclude_outside, attrs.get_int("exclude_outside", 0));
  p.exclude_outside = exclude_outside != 0;
  ASSIGN_OR_RETURN(int64_t antialias, attrs.get_int("antialias", 0));
  if (antialias != 0) return error(StatusCode::kUnsupported, "Resize antialias is not supported");
  if (attrs.has("axes")) return error(StatusCode::kUnsupported, "Resize axes is not supported");
  ASSIGN_OR_RETURN(std::string policy, attrs.get_string("keep_aspect_ratio_policy", "stretch"));
  if (policy != "stretch") {
    return error(StatusCode::kUnsupported, "Resize keep_aspect_ratio_policy '", policy,
                 "' is not supported");
  }
  ASSIGN_OR_RETURN(p.data_layout, attrs.get_data_layout());
  return Status::ok();
}

}  // namespace

Result<ResizeParams> resolve_resize(const Attributes& attrs, const Shape& x,
                                    const Tensor* scales, const Tensor* sizes) {
  ResizeParams p;
  RETURN_IF_ERROR(parse_modes(attrs, p));
  if (x.size() != 4) {
    return error(StatusCode::kUnsupported, "Resize input ", shape_to_string(x),
                 " has rank ", x.size(), "; only 4-D is supported");
  }
  p.in = image_dims(x, p.data_layout);
  const bool nhwc = p.data_layout == DataLayout::kNHWC;
  const size_t h_axis = nhwc ? 1 : 2, w_axis = nhwc ? 2 : 3, c_axis = nhwc ? 3 : 1;
  if (scales != nullptr && scales->num_elements() == 0) scales = nullptr;
  if (sizes != nullptr && sizes->num_elements() == 0) sizes = nullptr;
  if (scales != nullptr && sizes != nullptr) {
    return error(StatusCode::kInvalidModel, "Resize has both scales and sizes");
  }
  if (sizes != nullptr) {
    const std::vector<int64_t> s = sizes->to_int64s();
    if (s.size() != 4) {
      return error(StatusCode::kUnsupported, "Resize sizes ", shape_to_string(s),
                   " must have 4 values for input ", shape_to_string(x));
    }
    if ((x[0] >= 0 && s[0] != x[0]) || (x[c_axis] >= 0 && s[c_axis] != x[c_axis])) {
      return error(StatusCode::kUnsupported, "Resize sizes ", shape_to_string(s),
                   " change the batch or channel dims of ", shape_to_string(x));
    }
    if (s[h_axis] <= 0 || s[w_axis] <= 0) {
      return error(StatusCode::kInvalidModel, "Resize sizes ", shape_to_string(s),
                   " must be positive");
    }
    p.out_h = s[h_axis];
    p.out_w = s[w_axis];
    if (p.in.h > 0) p.scale_h = static_cast<float>(p.out_h) / static_cast<float>(p.in.h);
    if (p.in.w > 0) p.scale_w = static_cast<float>(p.out_w) / static_cast<float>(p.in.w);
  } else if (scales != nullptr) {
    const std::vector<double> s = scales->to_doubles();
    if (s.size() != 4) {
      return error(StatusCode::kUnsupported, "Resize scales has ", s.size(),
                   " values; 4 are needed for input ", shape_to_string(x));
    }
    if (s[0] != 1.0 || s[c_axis] != 1.0) {
      return error(StatusCode::kUnsupported, "Resize scales [", s[0], ",", s[1], ",", s[2], ",",
                   s[3], "] change the batch or channel dims; only spatial scaling is supported");
    }
    p.scale_h = static_cast<float>(s[h_axis]);
    p.scale_w = static_cast<float>(s[w_axis]);
    if (!(p.scale_h > 0) || !(p.scale_w > 0)) {
      return error(StatusCode::kInvalidModel, "Resize scales must be positive");
    }
    // As ONNX Runtime: floor(scale * in) computed in float.
    if (p.in.h >= 0) {
      p.out_h = static_cast<int64_t>(std::floor(p.scale_h * static_cast<float>(p.in.h)));
    }
    if (p.in.w >= 0) {
      p.out_w = static_cast<int64_t>(std::floor(p.scale_w * static_cast<float>(p.in.w)));
    }
    if (p.out_h == 0 || p.out_w == 0) {
      return error(StatusCode::kInvalidModel, "Resize scales give an empty output for ",
                   shape_to_string(x));
    }
  }
  p.output_shape = image_shape({p.in.n, p.in.c, p.out_h, p.out_w}, p.data_layout);
  return p;
}

Status infer_Resize(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known) {
    ResizeParams p;
    RETURN_IF_ERROR(parse_modes(node.attrs(), p));
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const auto known = [&](size_t i) -> const Tensor* {
    return i < inputs.size() && inputs[i].rank_known ? inputs[i].value : nullptr;
  };
  ASSIGN_OR_RETURN(ResizeParams p,
                   resolve_resize(node.attrs(), inputs[0].shape, known(2), known(3)));
  outputs[0].shape = p.output_shape;
  return Status::ok();
}

}  // namespace convmend
