// MEAN / SUM / REDUCE_MAX / REDUCE_MIN <-> ReduceMean / ReduceSum / ReduceMax / ReduceMin.
// TFLite's axis input (int32) becomes the IR's int64 axes input.
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

struct ReduceOp {
  BuiltinOperator tflite;
  OpKind ir;
};

constexpr ReduceOp kReduceOps[] = {
    {BuiltinOperator::kMean, OpKind::kReduceMean},
    {BuiltinOperator::kSum, OpKind::kReduceSum},
    {BuiltinOperator::kReduceMax, OpKind::kReduceMax},
    {BuiltinOperator::kReduceMin, OpKind::kReduceMin},
};

Status import_reduce(ImportContext& ctx) {
  OpKind op = OpKind::kReduceMean;
  for (const ReduceOp& r : kReduceOps) {
    if (r.tflite == ctx.code()) op = r.ir;
  }
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * axes, ctx.input_as_i64(1, "axes"));
  ASSIGN_OR_RETURN(bool keep_dims, ctx.opt_bool("keep_dims"));
  Attributes a;
  a.set("keepdims", int64_t{keep_dims ? 1 : 0});
  ctx.add_node(op, {x, axes}, std::move(a));
  return Status::ok();
}

Status export_reduce(ExportContext& ctx) {
  BuiltinOperator op = BuiltinOperator::kMean;
  for (const ReduceOp& r : kReduceOps) {
    if (r.ir == ctx.node().op()) op = r.tflite;
  }
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(int64_t keepdims, a.get_int("keepdims", 1));
  ASSIGN_OR_RETURN(int64_t noop, a.get_int("noop_with_empty_axes", 0));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kReducerOptions));
  RETURN_IF_ERROR(o.set_bool("keep_dims", keepdims != 0));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  int32_t axes = -1;
  const Value* axes_value = ctx.input(1);
  const bool empty_axes = axes_value == nullptr ||
                          (axes_value->is_constant() && axes_value->constant().num_elements() == 0);
  if (empty_axes) {
    const int64_t rank = static_cast<int64_t>(ctx.input(0)->shape().size());
    if (noop != 0 || rank == 0) {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "a reduction without axes (noop or unknown rank) cannot be written");
    }
    std::vector<int64_t> all;
    for (int64_t d = 0; d < rank; ++d) all.push_back(d);
    ASSIGN_OR_RETURN(axes, ctx.int32_constant(all, {rank}, "axes"));
  } else if (axes_value->is_constant()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> values, ctx.constant_ints(1));
    ASSIGN_OR_RETURN(axes, ctx.int32_constant(values, axes_value->shape(), "axes"));
  } else {
    ASSIGN_OR_RETURN(axes, ctx.input_tensor(1));
  }
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(op, {x, axes}, {y}, std::move(o));
}

}  // namespace

void register_reduce_ops(TfliteOpRegistry& r) {
  for (const ReduceOp& op : kReduceOps) {
    r.add_import(op.tflite, &import_reduce);
    r.add_export(op.ir, &export_reduce);
  }
}

}  // namespace convmend::tflite
