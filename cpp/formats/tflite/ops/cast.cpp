// CAST <-> Cast; DEQUANTIZE <-> DequantizeLinear without scale inputs (the input carries its
// quantization parameters, or is float16); QUANTIZE <-> QuantizeLinear (the output carries them).
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_cast(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(DType to, ctx.output_dtype(0));
  Attributes a;
  a.set("to", std::string(dtype_name(to)));
  ctx.add_node(OpKind::kCast, {x}, std::move(a));
  return Status::ok();
}

Status export_cast(ExportContext& ctx) {
  ASSIGN_OR_RETURN(TensorType in, dtype_to_tflite(ctx.input(0)->dtype()));
  ASSIGN_OR_RETURN(TensorType out, dtype_to_tflite(ctx.node().output(0)->dtype()));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kCastOptions));
  RETURN_IF_ERROR(o.set_int("in_data_type", static_cast<int8_t>(in)));
  RETURN_IF_ERROR(o.set_int("out_data_type", static_cast<int8_t>(out)));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kCast, {x}, {y}, std::move(o));
}

Status import_dequantize(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ctx.add_node(OpKind::kDequantizeLinear, {x}, Attributes{});
  return Status::ok();
}

Status import_quantize(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(DType to, ctx.output_dtype(0));
  Attributes a;
  a.set("to", std::string(dtype_name(to)));
  ctx.add_node(OpKind::kQuantizeLinear, {x}, std::move(a));
  return Status::ok();
}

Status export_quantize_op(ExportContext& ctx) {
  const bool dequantize = ctx.node().op() == OpKind::kDequantizeLinear;
  if (ctx.input(1) != nullptr || ctx.input(2) != nullptr) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "scale/zero_point inputs cannot be written to TFLite; the quantization ",
                 "parameters must travel with the ", dequantize ? "input" : "output");
  }
  const Value* q = dequantize ? ctx.input(0) : ctx.node().output(0);
  if (q->quant().empty() && !(dequantize && q->dtype() == DType::kFloat16)) {
    return error(StatusCode::kUnsupported, ctx.describe(), "value '", q->name(),
                 "' has no quantization parameters");
  }
  ASSIGN_OR_RETURN(Options o, ctx.options(dequantize ? BuiltinOptionsType::kDequantizeOptions
                                                     : BuiltinOptionsType::kQuantizeOptions));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(dequantize ? BuiltinOperator::kDequantize : BuiltinOperator::kQuantize, {x},
                  {y}, std::move(o));
}

}  // namespace

void register_cast_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kCast, &import_cast);
  r.add_export(OpKind::kCast, &export_cast);
  r.add_import(BuiltinOperator::kDequantize, &import_dequantize);
  r.add_export(OpKind::kDequantizeLinear, &export_quantize_op);
  r.add_import(BuiltinOperator::kQuantize, &import_quantize);
  r.add_export(OpKind::kQuantizeLinear, &export_quantize_op);
}

}  // namespace convmend::tflite
