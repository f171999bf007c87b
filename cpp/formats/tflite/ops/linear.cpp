// FULLY_CONNECTED <-> FullyConnected (weights [out, in]); BATCH_MATMUL <-> MatMul.
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

// asymmetric_quantize_inputs tells how LiteRT's hybrid kernels quantize each input row: the
// node's `hybrid_input` attribute, when its weight is quantized, and metadata for write-back.
Result<Value*> hybrid_weight(ImportContext& ctx, Value* x, Value* w, Attributes& a) {
  ASSIGN_OR_RETURN(bool asymmetric, ctx.opt_bool("asymmetric_quantize_inputs"));
  if (asymmetric) ctx.graph().metadata()[kAsymmetricInputsKeyPrefix + ctx.output_name(0)] = "1";
  Value* weight = dequantized_weight(ctx, w, x);
  if (weight != w) a.set("hybrid_input", std::string(asymmetric ? "asymmetric" : "symmetric"));
  return weight;
}

Status set_asymmetric_inputs(ExportContext& ctx, Options& o) {
  const auto& meta = ctx.builder().graph().metadata();
  auto it = meta.find(kAsymmetricInputsKeyPrefix + ctx.node().name());
  const Value* w = ctx.builder().resolve(ctx.input(1));
  if (it != meta.end() && it->second == "1" && !w->quant().empty()) {
    RETURN_IF_ERROR(o.set_bool("asymmetric_quantize_inputs", true));
  }
  return Status::ok();
}

Status import_fully_connected(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * w, ctx.required_input(1));
  ASSIGN_OR_RETURN(int64_t format, ctx.opt_int("weights_format"));
  if (format != 0) {
    return error(StatusCode::kUnsupported, ctx.describe(), "weights_format ", format,
                 " (shuffled weights) is not supported; only DEFAULT is");
  }
  ASSIGN_OR_RETURN(bool keep_num_dims, ctx.opt_bool("keep_num_dims"));
  ASSIGN_OR_RETURN(Activation activation, ctx.fused_activation());
  Attributes a;
  a.set("keep_num_dims", int64_t{keep_num_dims ? 1 : 0});
  a.set_activation(activation);
  if (w->shape().size() == 2) w->set_layout(Layout::kNC);
  ASSIGN_OR_RETURN(Value * weight, hybrid_weight(ctx, x, w, a));
  std::vector<Value*> inputs = {x, weight};
  if (ctx.input(2) != nullptr) inputs.push_back(ctx.input(2));
  ctx.add_node(OpKind::kFullyConnected, inputs, std::move(a));
  return Status::ok();
}

Status export_fully_connected(ExportContext& ctx) {
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(int64_t keep_num_dims, a.get_int("keep_num_dims", 0));
  ASSIGN_OR_RETURN(int8_t activation, ctx.fused_activation());
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kFullyConnectedOptions));
  RETURN_IF_ERROR(o.set_int("fused_activation_function", activation));
  RETURN_IF_ERROR(o.set_bool("keep_num_dims", keep_num_dims != 0));
  RETURN_IF_ERROR(set_asymmetric_inputs(ctx, o));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t w, ctx.input_tensor(1));
  ASSIGN_OR_RETURN(int32_t b, ctx.input_tensor(2));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kFullyConnected, {x, w, b}, {y}, std::move(o));
}

Status import_batch_matmul(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * y, ctx.required_input(1));
  ASSIGN_OR_RETURN(bool adj_x, ctx.opt_bool("adj_x"));
  ASSIGN_OR_RETURN(bool adj_y, ctx.opt_bool("adj_y"));
  if (adj_x || adj_y) {
    return error(StatusCode::kUnsupported, ctx.describe(), "adj_x/adj_y (transposed operands) ",
                 "are not supported yet");
  }
  Attributes a;
  ASSIGN_OR_RETURN(Value * weight, hybrid_weight(ctx, x, y, a));
  ctx.add_node(OpKind::kMatMul, {x, weight}, std::move(a));
  return Status::ok();
}

Status export_matmul(ExportContext& ctx) {
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kBatchMatMulOptions));
  RETURN_IF_ERROR(set_asymmetric_inputs(ctx, o));
  ASSIGN_OR_RETURN(int32_t a, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t b, ctx.input_tensor(1));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kBatchMatmul, {a, b}, {y}, std::move(o));
}

}  // namespace

void register_linear_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kFullyConnected, &import_fully_connected);
  r.add_import(BuiltinOperator::kBatchMatmul, &import_batch_matmul);
  r.add_export(OpKind::kFullyConnected, &export_fully_connected);
  r.add_export(OpKind::kMatMul, &export_matmul);
}

}  // namespace convmend::tflite
