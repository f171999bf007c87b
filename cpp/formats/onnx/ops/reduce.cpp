// Reductions: axes became an input in opset 13 (ReduceSum) and 18 (the others).
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

int64_t axes_input_opset(const std::string& op_type) { return op_type == "ReduceSum" ? 13 : 18; }

Status import_reduce(ImportContext& ctx) {
  if (ctx.opset() >= axes_input_opset(ctx.proto().op_type)) return import_as_is(ctx);
  OpKind op;
  parse_op_kind(ctx.proto().op_type, &op);
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.attr_ints("axes"));
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({"axes"}));
  std::vector<Value*> inputs = {ctx.input(0)};
  if (ctx.attr("axes") != nullptr) inputs.push_back(ctx.constant_i64("axes", axes));
  ctx.add_node(op, inputs, attrs);
  return Status::ok();
}

Status export_reduce(ExportContext& ctx) {
  const std::string op_type = ctx.node().op_name();
  if (ctx.opset() >= axes_input_opset(op_type)) return export_as_is(ctx);
  ASSIGN_OR_RETURN(auto attrs, ctx.export_attributes({"noop_with_empty_axes"}));
  if (ctx.node().input(1) != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.constant_ints(1));
    AttributeProto a;
    a.name = "axes";
    a.type = AttributeType::kInts;
    a.ints = axes;
    attrs.push_back(a);
  }
  NodeProto& p = ctx.emit(op_type, {ctx.input_name(0)}, ctx.output_names());
  p.attribute = std::move(attrs);
  return Status::ok();
}

}  // namespace

void register_reduce_ops(OnnxOpRegistry& r) {
  for (OpKind op : {OpKind::kReduceMean, OpKind::kReduceSum, OpKind::kReduceMax,
                    OpKind::kReduceMin}) {
    r.add_import(op_name(op), &import_reduce);
    r.add_export(op, &export_reduce);
  }
}

}  // namespace convmend::onnx
