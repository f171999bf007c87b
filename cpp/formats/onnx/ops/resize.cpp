// Resize (opset 10: X and scales; opset 11+: X, roi, scales, sizes) and the older Upsample.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_resize(ImportContext& ctx) {
  if (ctx.opset() >= 11) return import_as_is(ctx);
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes());
  // Opset 10 Resize samples like Upsample: asymmetric coordinates, nearest rounds down.
  attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  attrs.set("nearest_mode", std::string("floor"));
  ctx.add_node(OpKind::kResize, {ctx.input(0), nullptr, ctx.input(1)}, attrs);
  return Status::ok();
}

Status import_upsample(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::string mode, ctx.attr_string("mode", "nearest"));
  Attributes attrs;
  attrs.set("mode", mode == "bilinear" ? std::string("linear") : mode);
  attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  attrs.set("nearest_mode", std::string("floor"));
  Value* scales = ctx.input(1);
  if (scales == nullptr) {
    const AttributeProto* a = ctx.attr("scales");
    if (a == nullptr) return error(StatusCode::kInvalidModel, ctx.describe(), "no scales");
    std::vector<float> values = a->floats;
    scales = ctx.graph().add_constant(
        ctx.proto().output[0] + "/scales",
        Tensor::from_vector<float>(DType::kFloat32, {static_cast<int64_t>(values.size())}, values));
  }
  ctx.add_node(OpKind::kResize, {ctx.input(0), nullptr, scales}, attrs);
  return Status::ok();
}

Status export_resize(ExportContext& ctx) {
  if (ctx.opset() < 11) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Resize needs ONNX opset 11 or later");
  }
  return export_as_is(ctx);
}

}  // namespace

void register_resize_ops(OnnxOpRegistry& r) {
  r.add_import("Resize", &import_resize, 10);
  r.add_import("Upsample", &import_upsample, 7);
  r.add_export(OpKind::kResize, &export_resize);
}

}  // namespace convmend::onnx
