// Softmax: before opset 13 it flattens the input to 2-D at `axis` (default 1).
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_softmax(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes());
  // The axis is always explicit in the IR, so that a written file reads back equal.
  ASSIGN_OR_RETURN(int64_t axis, ctx.attr_int("axis", ctx.opset() < 13 ? 1 : -1));
  attrs.set("axis", axis);
  if (ctx.opset() < 13) attrs.set("coerce_2d", int64_t{1});
  ctx.add_node(OpKind::kSoftmax, {ctx.input(0)}, attrs);
  return Status::ok();
}

Status export_softmax(ExportContext& ctx) {
  const Attributes& attrs = ctx.node().attrs();
  ASSIGN_OR_RETURN(int64_t coerce, attrs.get_int("coerce_2d", 0));
  ASSIGN_OR_RETURN(int64_t axis, attrs.get_int("axis", -1));
  ASSIGN_OR_RETURN(double beta, attrs.get_float("beta", 1.0));
  const int64_t rank = static_cast<int64_t>(ctx.node().input(0)->shape().size());
  const bool last_axis = axis == -1 || axis == rank - 1;
  // Both semantics agree when the axis is the last one.
  if ((ctx.opset() < 13 && coerce == 0 && !last_axis) ||
      (ctx.opset() >= 13 && coerce == 1 && !last_axis)) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Softmax over axis ", axis,
                 " cannot be expressed in ONNX opset ", ctx.opset());
  }
  std::string input = ctx.input_name(0);
  if (beta != 1.0) {
    ASSIGN_OR_RETURN(std::string b, ctx.add_initializer(
                                        Tensor::scalar_f32(static_cast<float>(beta)), "beta"));
    const std::string scaled = ctx.fresh_name("scaled");
    ctx.emit("Mul", {input, b}, {scaled});
    input = scaled;
  }
  NodeProto& p = ctx.emit("Softmax", {input}, ctx.output_names());
  AttributeProto a;
  a.name = "axis";
  a.type = AttributeType::kInt;
  a.i = axis;
  p.attribute.push_back(a);
  return Status::ok();
}

}  // namespace

void register_softmax_ops(OnnxOpRegistry& r) {
  r.add_import("Softmax", &import_softmax);
  r.add_export(OpKind::kSoftmax, &export_softmax);
}

}  // namespace convmend::onnx
