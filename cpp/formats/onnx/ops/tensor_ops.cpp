// Concat, Reshape, Flatten, Transpose, Expand, Tile, Squeeze, Unsqueeze, Split. Squeeze,
// Unsqueeze and Split took their axes/sizes as attributes before opset 13.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

// An attribute of older opsets that the IR takes as input `index` (always int64).
Status import_attr_as_input(ImportContext& ctx, OpKind op, const std::string& attr) {
  if (ctx.opset() >= 13) return import_as_is(ctx);
  ASSIGN_OR_RETURN(std::vector<int64_t> values, ctx.attr_ints(attr));
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({attr}));
  std::vector<Value*> inputs = {ctx.input(0)};
  if (ctx.attr(attr) != nullptr) inputs.push_back(ctx.constant_i64(attr, values));
  ctx.add_node(op, inputs, attrs);
  return Status::ok();
}

Status export_input_as_attr(ExportContext& ctx, const std::string& attr) {
  if (ctx.opset() >= 13) return export_as_is(ctx);
  ASSIGN_OR_RETURN(auto attrs, ctx.export_attributes({"num_outputs"}));
  if (ctx.node().input(1) != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> values, ctx.constant_ints(1));
    AttributeProto a;
    a.name = attr;
    a.type = AttributeType::kInts;
    a.ints = values;
    attrs.push_back(a);
  }
  NodeProto& p = ctx.emit(ctx.node().op_name(), {ctx.input_name(0)}, ctx.output_names());
  p.attribute = std::move(attrs);
  return Status::ok();
}

Status import_squeeze(ImportContext& ctx) { return import_attr_as_input(ctx, OpKind::kSqueeze, "axes"); }
Status import_unsqueeze(ImportContext& ctx) {
  return import_attr_as_input(ctx, OpKind::kUnsqueeze, "axes");
}
Status import_split(ImportContext& ctx) { return import_attr_as_input(ctx, OpKind::kSplit, "split"); }
Status export_axes(ExportContext& ctx) { return export_input_as_attr(ctx, "axes"); }
Status export_split(ExportContext& ctx) { return export_input_as_attr(ctx, "split"); }

}  // namespace

void register_tensor_ops(OnnxOpRegistry& r) {
  add_same_name(r, OpKind::kConcat, 4);
  add_same_name(r, OpKind::kReshape, 5);
  add_same_name(r, OpKind::kFlatten);
  add_same_name(r, OpKind::kTranspose);
  add_same_name(r, OpKind::kExpand, 8);
  add_same_name(r, OpKind::kTile, 6);
  r.add_import("Squeeze", &import_squeeze);
  r.add_export(OpKind::kSqueeze, &export_axes);
  r.add_import("Unsqueeze", &import_unsqueeze);
  r.add_export(OpKind::kUnsqueeze, &export_axes);
  r.add_import("Split", &import_split, 2);
  r.add_export(OpKind::kSplit, &export_split);
}

}  // namespace convmend::onnx
