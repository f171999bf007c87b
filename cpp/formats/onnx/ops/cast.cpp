// Cast (ONNX names the target type by number; the IR by dtype name) and the linear
// quantization ops.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_cast(ImportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t to, ctx.attr_int("to", 0));
  auto dtype = dtype_from_onnx(static_cast<DataType>(to));
  if (!dtype.is_ok()) return dtype.status().with_context(ctx.describe());
  Attributes attrs;
  attrs.set("to", std::string(dtype_name(dtype.value())));
  ctx.add_node(OpKind::kCast, {ctx.input(0)}, attrs);
  return Status::ok();
}

Status export_cast(ExportContext& ctx) {
  ASSIGN_OR_RETURN(std::string to, ctx.node().attrs().get_string("to", ""));
  DType dtype;
  if (!parse_dtype(to, &dtype)) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "unknown target dtype '", to, "'");
  }
  ASSIGN_OR_RETURN(DataType onnx_type, dtype_to_onnx(dtype));
  NodeProto& p = ctx.emit("Cast", {ctx.input_name(0)}, ctx.output_names());
  AttributeProto a;
  a.name = "to";
  a.type = AttributeType::kInt;
  a.i = static_cast<int64_t>(onnx_type);
  p.attribute.push_back(a);
  return Status::ok();
}

}  // namespace

void register_cast_ops(OnnxOpRegistry& r) {
  r.add_import("Cast", &import_cast, 6);
  r.add_export(OpKind::kCast, &export_cast);
  add_same_name(r, OpKind::kDequantizeLinear, 10);
  add_same_name(r, OpKind::kQuantizeLinear, 10);
}

}  // namespace convmend::onnx
