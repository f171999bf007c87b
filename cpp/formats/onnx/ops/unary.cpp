// Activations and elementwise unary ops. Clip took min/max as attributes before opset 11;
// Dropout is the identity at inference.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_clip(ImportContext& ctx) {
  if (ctx.opset() >= 11) return import_as_is(ctx);
  const AttributeProto* lo = ctx.attr("min");
  const AttributeProto* hi = ctx.attr("max");
  ctx.add_node(OpKind::kClip,
               {ctx.input(0), lo ? ctx.constant_f32_scalar("min", lo->f) : nullptr,
                hi ? ctx.constant_f32_scalar("max", hi->f) : nullptr},
               Attributes{});
  return Status::ok();
}

Status export_clip(ExportContext& ctx) {
  if (ctx.opset() >= 11) return export_as_is(ctx);
  NodeProto& p = ctx.emit("Clip", {ctx.input_name(0)}, ctx.output_names());
  const char* names[] = {"", "min", "max"};
  for (size_t i = 1; i <= 2; ++i) {
    const Value* v = ctx.node().input(i);
    if (v == nullptr) continue;
    if (!v->is_constant()) {
      return error(StatusCode::kUnsupported, ctx.describe(), "Clip bounds must be constant before opset 11");
    }
    AttributeProto a;
    a.name = names[i];
    a.type = AttributeType::kFloat;
    a.f = static_cast<float>(v->constant().to_doubles().at(0));
    p.attribute.push_back(a);
  }
  return Status::ok();
}

Status import_dropout(ImportContext& ctx) {
  if (ctx.proto().output.size() > 1 && !ctx.proto().output[1].empty()) {
    // The mask output of an inference-mode Dropout is all true; nothing reads it in practice.
    return error(StatusCode::kUnsupported, ctx.describe(), "the mask output is not supported");
  }
  // Opset 12+ takes training_mode as input 2; only a constant false, or a constant ratio of 0,
  // makes it the identity.
  auto constant_is_zero = [](const Value* v) {
    return v != nullptr && v->is_constant() && v->constant().num_elements() == 1 &&
           v->constant().to_doubles().at(0) == 0.0;
  };
  if (const Value* training = ctx.input(2); training != nullptr) {
    if (!constant_is_zero(training) && !constant_is_zero(ctx.input(1))) {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "training_mode is not a constant false and the ratio not a constant 0; "
                   "training-mode Dropout (a random mask) is not supported");
    }
  }
  ctx.add_node(OpKind::kIdentity, {ctx.input(0)}, Attributes{});
  return Status::ok();
}

}  // namespace

void register_unary_ops(OnnxOpRegistry& r) {
  for (OpKind op : {OpKind::kRelu, OpKind::kSigmoid, OpKind::kTanh, OpKind::kErf, OpKind::kNeg,
                    OpKind::kAbs, OpKind::kSqrt, OpKind::kExp, OpKind::kLog,
                    OpKind::kReciprocal, OpKind::kFloor, OpKind::kCeil, OpKind::kIdentity,
                    OpKind::kSoftplus, OpKind::kLeakyRelu, OpKind::kHardSigmoid,
                    OpKind::kElu, OpKind::kPRelu}) {
    add_same_name(r, op);
  }
  add_same_name(r, OpKind::kHardSwish, 14);
  add_same_name(r, OpKind::kGelu, 20);
  r.add_import("Clip", &import_clip);
  r.add_export(OpKind::kClip, &export_clip);
  r.add_import("Dropout", &import_dropout);
}

}  // namespace convmend::onnx
