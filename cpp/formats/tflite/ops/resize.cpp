// RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR <-> Resize with sizes [N, H, W, C], NHWC.
// Sampling as LiteRT's reference kernels compute it:
//   bilinear: align_corners -> align_corners; half_pixel_centers -> half_pixel; else asymmetric.
//   nearest:  align_corners -> align_corners + round (half away from zero: round_prefer_ceil);
//             half_pixel_centers -> tf_half_pixel_for_nn + floor; else asymmetric + floor.
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_resize(ImportContext& ctx) {
  const bool bilinear = ctx.code() == BuiltinOperator::kResizeBilinear;
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(bool align_corners, ctx.opt_bool("align_corners"));
  ASSIGN_OR_RETURN(bool half_pixel, ctx.opt_bool("half_pixel_centers"));
  const Shape& xs = x->shape();
  if (size.size() != 2 || xs.size() != 4 || xs[3] < 0) {
    return error(StatusCode::kUnsupported, ctx.describe(), "size ", shape_to_string(size),
                 " on input ", shape_to_string(xs), " (a 4-D input with known channels needed)");
  }
  // A dynamic batch is taken as 1: the IR's sizes are static.
  const std::vector<int64_t> sizes = {xs[0] < 0 ? 1 : xs[0], size[0], size[1], xs[3]};
  Attributes a;
  a.set("mode", std::string(bilinear ? "linear" : "nearest"));
  std::string coordinates = "asymmetric";
  if (align_corners) {
    coordinates = "align_corners";
  } else if (half_pixel) {
    coordinates = bilinear ? "half_pixel" : "tf_half_pixel_for_nn";
  }
  a.set("coordinate_transformation_mode", coordinates);
  if (!bilinear) a.set("nearest_mode", std::string(align_corners ? "round_prefer_ceil" : "floor"));
  a.set_data_layout(DataLayout::kNHWC);
  ctx.add_node(OpKind::kResize, {x, nullptr, nullptr, ctx.constant_i64("sizes", sizes)},
               std::move(a));
  return Status::ok();
}

Status export_resize(ExportContext& ctx) {
  RETURN_IF_ERROR(ctx.require_nhwc());
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(std::string mode, a.get_string("mode", "nearest"));
  ASSIGN_OR_RETURN(std::string coordinates,
                   a.get_string("coordinate_transformation_mode", "half_pixel"));
  ASSIGN_OR_RETURN(std::string nearest_mode, a.get_string("nearest_mode", "round_prefer_floor"));
  const bool bilinear = mode == "linear";
  bool align_corners = false, half_pixel = false, ok = false;
  if (bilinear) {
    align_corners = coordinates == "align_corners";
    half_pixel = coordinates == "half_pixel";
    ok = align_corners || half_pixel || coordinates == "asymmetric";
  } else if (mode == "nearest") {
    align_corners = coordinates == "align_corners";
    half_pixel = coordinates == "tf_half_pixel_for_nn";
    ok = align_corners ? nearest_mode == "round_prefer_ceil"
                       : (half_pixel || coordinates == "asymmetric") && nearest_mode == "floor";
  }
  const Value* out = ctx.node().output(0);
  if (!ok || out->shape().size() != 4 || out->shape()[1] < 0 || out->shape()[2] < 0) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Resize mode ", mode, " with ",
                 coordinates, "/", nearest_mode, " to ", shape_to_string(out->shape()),
                 " has no TFLite equivalent");
  }
  ASSIGN_OR_RETURN(Options o, ctx.options(bilinear
                                              ? BuiltinOptionsType::kResizeBilinearOptions
                                              : BuiltinOptionsType::kResizeNearestNeighborOptions));
  RETURN_IF_ERROR(o.set_bool("align_corners", align_corners));
  RETURN_IF_ERROR(o.set_bool("half_pixel_centers", half_pixel));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t size,
                   ctx.int32_constant({out->shape()[1], out->shape()[2]}, {2}, "size"));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(bilinear ? BuiltinOperator::kResizeBilinear
                           : BuiltinOperator::kResizeNearestNeighbor,
                  {x, size}, {y}, std::move(o));
}

}  // namespace

void register_resize_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kResizeBilinear, &import_resize);
  r.add_import(BuiltinOperator::kResizeNearestNeighbor, &import_resize);
  r.add_export(OpKind::kResize, &export_resize);
}

}  // namespace convmend::tflite
