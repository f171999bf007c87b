// Shape, Gather, Slice, Range, ConstantOfShape, and Constant (which becomes a constant value).
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_constant(ImportContext& ctx) {
  const NodeProto& n = ctx.proto();
  if (n.attribute.size() != 1 || n.output.size() != 1) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "needs exactly one value attribute");
  }
  const AttributeProto& a = n.attribute[0];
  Tensor t;
  if (a.name == "value") {
    auto r = tensor_from_proto(*a.t);
    if (!r.is_ok()) return r.status().with_context(ctx.describe());
    t = std::move(r).value();
  } else if (a.name == "value_float") {
    t = Tensor::scalar_f32(a.f);
  } else if (a.name == "value_floats") {
    t = Tensor::from_vector<float>(DType::kFloat32, {static_cast<int64_t>(a.floats.size())}, a.floats);
  } else if (a.name == "value_int") {
    t = Tensor::from_vector<int64_t>(DType::kInt64, {}, {a.i});
  } else if (a.name == "value_ints") {
    t = Tensor::vector_i64(a.ints);
  } else {
    return error(StatusCode::kUnsupported, ctx.describe(), "attribute '", a.name,
                 "' is not supported");
  }
  ctx.alias_output(0, ctx.graph().add_constant(n.output[0], std::move(t)));
  return Status::ok();
}

Status import_slice(ImportContext& ctx) {
  if (ctx.opset() >= 10) return import_as_is(ctx);
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, ctx.attr_ints("starts"));
  ASSIGN_OR_RETURN(std::vector<int64_t> ends, ctx.attr_ints("ends"));
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.attr_ints("axes"));
  std::vector<Value*> inputs = {ctx.input(0), ctx.constant_i64("starts", starts),
                                ctx.constant_i64("ends", ends)};
  if (ctx.attr("axes") != nullptr) inputs.push_back(ctx.constant_i64("axes", axes));
  ctx.add_node(OpKind::kSlice, inputs, Attributes{});
  return Status::ok();
}

Status export_slice(ExportContext& ctx) {
  if (ctx.opset() >= 10) return export_as_is(ctx);
  return error(StatusCode::kUnsupported, ctx.describe(), "Slice is written for opset 10 or later");
}

}  // namespace

void register_indexing_ops(OnnxOpRegistry& r) {
  add_same_name(r, OpKind::kShape);
  add_same_name(r, OpKind::kGather);
  add_same_name(r, OpKind::kRange, 11);
  add_same_name(r, OpKind::kConstantOfShape, 9);
  r.add_import("Slice", &import_slice);
  r.add_export(OpKind::kSlice, &export_slice);
  r.add_import("Constant", &import_constant);
}

}  // namespace convmend::onnx
