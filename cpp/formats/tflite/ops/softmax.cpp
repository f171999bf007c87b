// SOFTMAX <-> Softmax over the last axis, with TFLite's beta (softmax(beta * x)).
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_softmax(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(float beta, ctx.opt_float("beta"));
  Attributes a;
  a.set("axis", int64_t{-1});
  a.set("beta", static_cast<double>(beta));
  ctx.add_node(OpKind::kSoftmax, {x}, std::move(a));
  return Status::ok();
}

Status export_softmax(ExportContext& ctx) {
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(int64_t axis, a.get_int("axis", -1));
  ASSIGN_OR_RETURN(double beta, a.get_float("beta", 1.0));
  ASSIGN_OR_RETURN(int64_t coerce_2d, a.get_int("coerce_2d", 0));
  const auto rank = static_cast<int64_t>(ctx.input(0)->shape().size());
  const bool last_axis = axis == -1 || axis == rank - 1;
  if (!last_axis || (coerce_2d != 0 && rank > 2)) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Softmax over axis ", axis,
                 " of rank ", rank, (coerce_2d ? " (coerced to 2-D)" : ""),
                 "; TFLite's SOFTMAX works on the last axis");
  }
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kSoftmaxOptions));
  RETURN_IF_ERROR(o.set_float("beta", static_cast<float>(beta)));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kSoftmax, {x}, {y}, std::move(o));
}

}  // namespace

void register_softmax_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kSoftmax, &import_softmax);
  r.add_export(OpKind::kSoftmax, &export_softmax);
}

}  // namespace convmend::tflite
