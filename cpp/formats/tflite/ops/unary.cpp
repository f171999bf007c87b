// Activations and elementwise unary ops. RELU6 / RELU_N1_TO_1 / RELU_0_TO_1 become Clip with
// constant scalar bounds; RSQRT becomes Sqrt + Reciprocal (the writer folds them back).
#include <optional>

#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

struct SameOp {
  BuiltinOperator tflite;
  OpKind ir;
};

// Ops without attributes, spelled differently only.
constexpr SameOp kPlainOps[] = {
    {BuiltinOperator::kRelu, OpKind::kRelu},         {BuiltinOperator::kLogistic, OpKind::kSigmoid},
    {BuiltinOperator::kTanh, OpKind::kTanh},         {BuiltinOperator::kHardSwish, OpKind::kHardSwish},
    {BuiltinOperator::kElu, OpKind::kElu},           {BuiltinOperator::kExp, OpKind::kExp},
    {BuiltinOperator::kSqrt, OpKind::kSqrt},         {BuiltinOperator::kNeg, OpKind::kNeg},
    {BuiltinOperator::kAbs, OpKind::kAbs},           {BuiltinOperator::kLog, OpKind::kLog},
    {BuiltinOperator::kFloor, OpKind::kFloor},       {BuiltinOperator::kCeil, OpKind::kCeil},
    {BuiltinOperator::kPrelu, OpKind::kPRelu},
};

Result<OpKind> plain_ir_op(BuiltinOperator op) {
  for (const SameOp& s : kPlainOps) {
    if (s.tflite == op) return s.ir;
  }
  return error(StatusCode::kInternal, "no plain mapping for ", describe(op));
}

Result<BuiltinOperator> plain_tflite_op(OpKind op) {
  for (const SameOp& s : kPlainOps) {
    if (s.ir == op) return s.tflite;
  }
  return error(StatusCode::kInternal, "no plain mapping for ", op_name(op));
}

Status import_plain(ImportContext& ctx) {
  ASSIGN_OR_RETURN(OpKind op, plain_ir_op(ctx.code()));
  std::vector<Value*> inputs = ctx.inputs();
  while (!inputs.empty() && inputs.back() == nullptr) inputs.pop_back();
  ctx.add_node(op, inputs, Attributes{});
  return Status::ok();
}

Status export_plain(ExportContext& ctx) {
  ASSIGN_OR_RETURN(BuiltinOperator op, plain_tflite_op(ctx.node().op()));
  if (ctx.node().op() == OpKind::kElu) {
    ASSIGN_OR_RETURN(double alpha, ctx.node().attrs().get_float("alpha", 1.0));
    if (alpha != 1.0) {
      return error(StatusCode::kUnsupported, ctx.describe(), "TFLite's ELU has alpha 1, not ",
                   alpha);
    }
  }
  std::vector<int32_t> inputs;
  for (size_t i = 0; i < ctx.node().inputs().size(); ++i) {
    ASSIGN_OR_RETURN(int32_t t, ctx.input_tensor(i));
    inputs.push_back(t);
  }
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  Options o;
  if (auto type = options_type_for_operator(op)) {
    ASSIGN_OR_RETURN(o, ctx.options(*type));
  }
  return ctx.emit(op, inputs, {y}, std::move(o));
}

Status import_clipped_relu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  float lo = 0.0f, hi = 6.0f;
  if (ctx.code() == BuiltinOperator::kReluN1To1) lo = -1.0f, hi = 1.0f;
  if (ctx.code() == BuiltinOperator::kRelu0To1) hi = 1.0f;
  ctx.add_node(OpKind::kClip,
               {x, ctx.constant_f32_scalar("min", lo), ctx.constant_f32_scalar("max", hi)},
               Attributes{});
  return Status::ok();
}

Result<std::optional<double>> clip_bound(const ExportContext& ctx, size_t i) {
  const Value* v = ctx.input(i);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_constant() || v->constant().num_elements() != 1) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "Clip bounds must be constant scalars to be written to TFLite");
  }
  return std::optional<double>(v->constant().to_doubles()[0]);
}

Status export_clip(ExportContext& ctx) {
  ASSIGN_OR_RETURN(auto lo, clip_bound(ctx, 1));
  ASSIGN_OR_RETURN(auto hi, clip_bound(ctx, 2));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  if (lo == 0.0 && hi == 6.0) return ctx.emit(BuiltinOperator::kRelu6, {x}, {y});
  if (lo == -1.0 && hi == 1.0) return ctx.emit(BuiltinOperator::kReluN1To1, {x}, {y});
  if (lo == 0.0 && hi == 1.0) return ctx.emit(BuiltinOperator::kRelu0To1, {x}, {y});
  if (lo == 0.0 && !hi) return ctx.emit(BuiltinOperator::kRelu, {x}, {y});
  // Any other bounds: MAXIMUM then MINIMUM with scalar constants.
  const DType dtype = ctx.node().output(0)->dtype();
  const Shape& shape = ctx.node().output(0)->shape();
  int32_t current = x;
  ASSIGN_OR_RETURN(Options mm, ctx.options(BuiltinOptionsType::kMaximumMinimumOptions));
  auto scalar = [&](double v, const std::string& suffix) -> Result<int32_t> {
    ASSIGN_OR_RETURN(IrTensor t, IrTensor::scalar_f32(static_cast<float>(v)).cast(dtype));
    return ctx.builder().add_constant(t, ctx.node().name() + "/" + suffix);
  };
  if (lo) {
    ASSIGN_OR_RETURN(int32_t bound, scalar(*lo, "min"));
    int32_t out = y;
    if (hi) {
      ASSIGN_OR_RETURN(out, ctx.builder().add_intermediate(dtype, shape,
                                                           ctx.node().name() + "/lower"));
    }
    RETURN_IF_ERROR(ctx.emit(BuiltinOperator::kMaximum, {current, bound}, {out}, mm));
    current = out;
  }
  if (hi) {
    ASSIGN_OR_RETURN(int32_t bound, scalar(*hi, "max"));
    RETURN_IF_ERROR(ctx.emit(BuiltinOperator::kMinimum, {current, bound}, {y}, mm));
  }
  if (!lo && !hi) {
    return error(StatusCode::kUnsupported, ctx.describe(), "an unbounded Clip");
  }
  return Status::ok();
}

Status import_leaky_relu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(float alpha, ctx.opt_float("alpha"));
  Attributes a;
  a.set("alpha", static_cast<double>(alpha));
  ctx.add_node(OpKind::kLeakyRelu, {x}, std::move(a));
  return Status::ok();
}

Status export_leaky_relu(ExportContext& ctx) {
  ASSIGN_OR_RETURN(double alpha, ctx.node().attrs().get_float("alpha", 0.01));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kLeakyReluOptions));
  RETURN_IF_ERROR(o.set_float("alpha", static_cast<float>(alpha)));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kLeakyRelu, {x}, {y}, std::move(o));
}

Status import_gelu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(bool approximate, ctx.opt_bool("approximate"));
  Attributes a;
  a.set("approximate", std::string(approximate ? "tanh" : "none"));
  ctx.add_node(OpKind::kGelu, {x}, std::move(a));
  return Status::ok();
}

Status export_gelu(ExportContext& ctx) {
  ASSIGN_OR_RETURN(std::string approximate, ctx.node().attrs().get_string("approximate", "none"));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kGeluOptions));
  RETURN_IF_ERROR(o.set_bool("approximate", approximate == "tanh"));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kGelu, {x}, {y}, std::move(o));
}

Status import_rsqrt(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  Node* root = ctx.add_helper(OpKind::kSqrt, {x}, Attributes{}, "sqrt");
  ctx.add_node(OpKind::kReciprocal, {root->output(0)}, Attributes{});
  return Status::ok();
}

Status export_reciprocal(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  const Node* producer = ctx.input(0)->producer();
  if (producer != nullptr && folds_into_rsqrt(*producer)) {
    ASSIGN_OR_RETURN(int32_t x, ctx.builder().tensor_for(producer->input(0)));
    return ctx.emit(BuiltinOperator::kRsqrt, {x}, {y});
  }
  // 1 / x as DIV with a scalar one.
  ASSIGN_OR_RETURN(IrTensor one, IrTensor::scalar_f32(1.0f).cast(ctx.input(0)->dtype()));
  ASSIGN_OR_RETURN(int32_t one_tensor, ctx.builder().add_constant(one, ctx.node().name() + "/one"));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kDivOptions));
  return ctx.emit(BuiltinOperator::kDiv, {one_tensor, x}, {y}, std::move(o));
}

Status export_identity(ExportContext& ctx) {
  const Value* out = ctx.node().output(0);
  if (out->is_graph_output() && ctx.input(0)->is_graph_input()) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "an Identity from a graph input to a graph output cannot be written");
  }
  ctx.builder().alias(out, ctx.input(0));
  return Status::ok();
}

}  // namespace

void register_unary_ops(TfliteOpRegistry& r) {
  for (const SameOp& s : kPlainOps) {
    r.add_import(s.tflite, &import_plain);
    r.add_export(s.ir, &export_plain);
  }
  r.add_import(BuiltinOperator::kRelu6, &import_clipped_relu);
  r.add_import(BuiltinOperator::kReluN1To1, &import_clipped_relu);
  r.add_import(BuiltinOperator::kRelu0To1, &import_clipped_relu);
  r.add_export(OpKind::kClip, &export_clip);
  r.add_import(BuiltinOperator::kLeakyRelu, &import_leaky_relu);
  r.add_export(OpKind::kLeakyRelu, &export_leaky_relu);
  r.add_import(BuiltinOperator::kGelu, &import_gelu);
  r.add_export(OpKind::kGelu, &export_gelu);
  r.add_import(BuiltinOperator::kRsqrt, &import_rsqrt);
  r.add_export(OpKind::kReciprocal, &export_reciprocal);
  r.add_export(OpKind::kIdentity, &export_identity);
}

}  // namespace convmend::tflite
