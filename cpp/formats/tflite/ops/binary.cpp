// Elementwise binary ops with numpy broadcasting. ADD/SUB/MUL/DIV keep their fused activation;
// SQUARED_DIFFERENCE becomes Sub + Mul(d, d).
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

struct BinaryOp {
  BuiltinOperator tflite;
  OpKind ir;
  BuiltinOptionsType options;  // kNone: written without an options table
  bool fused_activation;
};

constexpr BinaryOp kBinaryOps[] = {
    {BuiltinOperator::kAdd, OpKind::kAdd, BuiltinOptionsType::kAddOptions, true},
    {BuiltinOperator::kSub, OpKind::kSub, BuiltinOptionsType::kSubOptions, true},
    {BuiltinOperator::kMul, OpKind::kMul, BuiltinOptionsType::kMulOptions, true},
    {BuiltinOperator::kDiv, OpKind::kDiv, BuiltinOptionsType::kDivOptions, true},
    {BuiltinOperator::kMaximum, OpKind::kMax, BuiltinOptionsType::kMaximumMinimumOptions, false},
    {BuiltinOperator::kMinimum, OpKind::kMin, BuiltinOptionsType::kMaximumMinimumOptions, false},
    {BuiltinOperator::kPow, OpKind::kPow, BuiltinOptionsType::kNone, false},
    {BuiltinOperator::kEqual, OpKind::kEqual, BuiltinOptionsType::kNone, false},
    {BuiltinOperator::kLess, OpKind::kLess, BuiltinOptionsType::kNone, false},
    {BuiltinOperator::kGreater, OpKind::kGreater, BuiltinOptionsType::kNone, false},
};

const BinaryOp* find_tflite(BuiltinOperator op) {
  for (const BinaryOp& b : kBinaryOps) {
    if (b.tflite == op) return &b;
  }
  return nullptr;
}

const BinaryOp* find_ir(OpKind op) {
  for (const BinaryOp& b : kBinaryOps) {
    if (b.ir == op) return &b;
  }
  return nullptr;
}

Status import_binary(ImportContext& ctx) {
  const BinaryOp* b = find_tflite(ctx.code());
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * y, ctx.required_input(1));
  Attributes a;
  if (b->fused_activation) {
    ASSIGN_OR_RETURN(Activation activation, ctx.fused_activation());
    a.set_activation(activation);
  }
  ctx.add_node(b->ir, {x, y}, std::move(a));
  return Status::ok();
}

Status export_binary(ExportContext& ctx) {
  const BinaryOp* b = find_ir(ctx.node().op());
  if (ctx.node().op() == OpKind::kSum) b = find_ir(OpKind::kAdd);
  if (ctx.node().inputs().size() != 2) {
    return error(StatusCode::kUnsupported, ctx.describe(), ctx.node().inputs().size(),
                 " operands; TFLite's ", describe(b->tflite), " takes 2");
  }
  Options o;
  if (b->options != BuiltinOptionsType::kNone) {
    ASSIGN_OR_RETURN(o, ctx.options(b->options));
  }
  if (b->fused_activation) {
    ASSIGN_OR_RETURN(int8_t activation, ctx.fused_activation());
    RETURN_IF_ERROR(o.set_int("fused_activation_function", activation));
  } else {
    ASSIGN_OR_RETURN(Activation activation, ctx.node().attrs().get_activation());
    if (activation != Activation::kNone) {
      return error(StatusCode::kUnsupported, ctx.describe(), "TFLite's ", describe(b->tflite),
                   " has no fused activation");
    }
  }
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.input_tensor(1));
  ASSIGN_OR_RETURN(int32_t z, ctx.output_tensor(0));
  return ctx.emit(b->tflite, {x, y}, {z}, std::move(o));
}

Status import_squared_difference(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * y, ctx.required_input(1));
  // Attributes as SUB and MUL read back, so that a written file reads as the same graph.
  Attributes a;
  a.set_activation(Activation::kNone);
  Node* d = ctx.add_helper(OpKind::kSub, {x, y}, a, "difference");
  ctx.add_node(OpKind::kMul, {d->output(0), d->output(0)}, a);
  return Status::ok();
}

}  // namespace

void register_binary_ops(TfliteOpRegistry& r) {
  for (const BinaryOp& b : kBinaryOps) {
    r.add_import(b.tflite, &import_binary);
    r.add_export(b.ir, &export_binary);
  }
  r.add_export(OpKind::kSum, &export_binary);
  r.add_import(BuiltinOperator::kSquaredDifference, &import_squared_difference);
}

}  // namespace convmend::tflite
