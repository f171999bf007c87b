// Pad: opset < 11 keeps pads and value as attributes, later opsets as inputs (the IR's way).
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_pad(ImportContext& ctx) {
  if (ctx.opset() >= 11) return import_as_is(ctx);
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ctx.attr_ints("pads"));
  ASSIGN_OR_RETURN(float value, ctx.attr_float("value", 0.0f));
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({"pads", "value"}));
  ctx.add_node(OpKind::kPad,
               {ctx.input(0), ctx.constant_i64("pads", pads), ctx.constant_f32_scalar("value", value)},
               attrs);
  return Status::ok();
}

Status export_pad(ExportContext& ctx) {
  if (ctx.opset() >= 11) return export_as_is(ctx);
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(auto attrs, ctx.export_attributes({}));
  AttributeProto a;
  a.name = "pads";
  a.type = AttributeType::kInts;
  a.ints = pads;
  attrs.push_back(a);
  if (const Value* v = ctx.node().input(2); v != nullptr) {
    if (!v->is_constant()) {
      return error(StatusCode::kUnsupported, ctx.describe(), "pad value must be constant");
    }
    AttributeProto value;
    value.name = "value";
    value.type = AttributeType::kFloat;
    value.f = static_cast<float>(v->constant().to_doubles().at(0));
    attrs.push_back(value);
  }
  NodeProto& p = ctx.emit("Pad", {ctx.input_name(0)}, ctx.output_names());
  p.attribute = std::move(attrs);
  return Status::ok();
}

}  // namespace

void register_pad_ops(OnnxOpRegistry& r) {
  r.add_import("Pad", &import_pad, 2);
  r.add_export(OpKind::kPad, &export_pad);
}

}  // namespace convmend::onnx
