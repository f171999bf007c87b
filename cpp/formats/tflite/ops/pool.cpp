// AVERAGE_POOL_2D / MAX_POOL_2D <-> AveragePool / MaxPool (NHWC). TFLite's average pool
// divides by the number of input elements under the window: count_include_pad = 0.
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_pool(ImportContext& ctx) {
  const bool average = ctx.code() == BuiltinOperator::kAveragePool2d;
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(int64_t filter_h, ctx.opt_int("filter_height"));
  ASSIGN_OR_RETURN(int64_t filter_w, ctx.opt_int("filter_width"));
  ASSIGN_OR_RETURN(int64_t stride_h, ctx.opt_int("stride_h"));
  ASSIGN_OR_RETURN(int64_t stride_w, ctx.opt_int("stride_w"));
  ASSIGN_OR_RETURN(AutoPad padding, ctx.padding());
  ASSIGN_OR_RETURN(Activation activation, ctx.fused_activation());
  Attributes a;
  a.set("kernel_shape", std::vector<int64_t>{filter_h, filter_w});
  a.set("strides", std::vector<int64_t>{stride_h, stride_w});
  a.set_auto_pad(padding);
  if (average) a.set("count_include_pad", int64_t{0});
  a.set_data_layout(DataLayout::kNHWC);
  a.set_activation(activation);
  ctx.add_node(average ? OpKind::kAveragePool : OpKind::kMaxPool, {x}, std::move(a));
  return Status::ok();
}

Status export_pool(ExportContext& ctx) {
  RETURN_IF_ERROR(ctx.require_nhwc());
  const Attributes& a = ctx.node().attrs();
  const bool average = ctx.node().op() == OpKind::kAveragePool;
  ASSIGN_OR_RETURN(auto kernel, a.get_ints("kernel_shape", {}));
  ASSIGN_OR_RETURN(auto strides, a.get_ints("strides", {1, 1}));
  ASSIGN_OR_RETURN(auto dilations, a.get_ints("dilations", {1, 1}));
  ASSIGN_OR_RETURN(int64_t ceil_mode, a.get_int("ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t count_include_pad, a.get_int("count_include_pad", 0));
  if (kernel.size() != 2 || strides.size() != 2 || dilations != std::vector<int64_t>{1, 1} ||
      ceil_mode != 0) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "only 2-D pools without dilation or ceil_mode can be written to TFLite");
  }
  ASSIGN_OR_RETURN(Padding padding, padding_for(ctx, kernel[0], kernel[1]));
  if (average && count_include_pad != 0 && padding == Padding::kSame) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "TFLite's AVERAGE_POOL_2D excludes padding (count_include_pad = 0)");
  }
  ASSIGN_OR_RETURN(int8_t activation, ctx.fused_activation());
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kPool2DOptions));
  RETURN_IF_ERROR(o.set_int("padding", static_cast<int8_t>(padding)));
  RETURN_IF_ERROR(o.set_int("stride_h", strides[0]));
  RETURN_IF_ERROR(o.set_int("stride_w", strides[1]));
  RETURN_IF_ERROR(o.set_int("filter_height", kernel[0]));
  RETURN_IF_ERROR(o.set_int("filter_width", kernel[1]));
  RETURN_IF_ERROR(o.set_int("fused_activation_function", activation));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(average ? BuiltinOperator::kAveragePool2d : BuiltinOperator::kMaxPool2d, {x},
                  {y}, std::move(o));
}

// Global pools become MEAN / REDUCE_MAX over H and W with keep_dims (the IR keeps H = W = 1).
Status export_global_pool(ExportContext& ctx) {
  RETURN_IF_ERROR(ctx.require_nhwc());
  const bool average = ctx.node().op() == OpKind::kGlobalAveragePool;
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kReducerOptions));
  RETURN_IF_ERROR(o.set_bool("keep_dims", true));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t axes, ctx.int32_constant({1, 2}, {2}, "axes"));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(average ? BuiltinOperator::kMean : BuiltinOperator::kReduceMax, {x, axes}, {y},
                  std::move(o));
}

}  // namespace

void register_pool_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kAveragePool2d, &import_pool);
  r.add_import(BuiltinOperator::kMaxPool2d, &import_pool);
  r.add_export(OpKind::kAveragePool, &export_pool);
  r.add_export(OpKind::kMaxPool, &export_pool);
  r.add_export(OpKind::kGlobalAveragePool, &export_global_pool);
  r.add_export(OpKind::kGlobalMaxPool, &export_global_pool);
}

}  // namespace convmend::tflite
