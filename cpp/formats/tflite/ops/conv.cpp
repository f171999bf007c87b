// CONV_2D (OHWI weights) and DEPTHWISE_CONV_2D (1HWO weights) <-> Conv with NHWC data.
#include <algorithm>

#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Status import_conv(ImportContext& ctx) {
  const bool depthwise = ctx.code() == BuiltinOperator::kDepthwiseConv2d;
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * w, ctx.required_input(1));
  if (w->shape().size() != 4) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "weight ", shape_to_string(w->shape()),
                 " is not 4-D");
  }
  ASSIGN_OR_RETURN(int64_t stride_h, ctx.opt_int("stride_h"));
  ASSIGN_OR_RETURN(int64_t stride_w, ctx.opt_int("stride_w"));
  ASSIGN_OR_RETURN(int64_t dilation_h, ctx.opt_int("dilation_h_factor"));
  ASSIGN_OR_RETURN(int64_t dilation_w, ctx.opt_int("dilation_w_factor"));
  ASSIGN_OR_RETURN(AutoPad padding, ctx.padding());
  ASSIGN_OR_RETURN(Activation activation, ctx.fused_activation());
  const int64_t in_c = x->shape().size() == 4 ? x->shape()[3] : -1;
  int64_t group = 1;
  if (depthwise) {
    ASSIGN_OR_RETURN(int64_t multiplier, ctx.opt_int("depth_multiplier"));
    if (in_c > 0) {
      group = in_c;
    } else if (multiplier > 0 && w->shape()[3] > 0) {
      group = w->shape()[3] / multiplier;
    } else {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "the input channels are unknown and depth_multiplier is ", multiplier);
    }
  } else if (in_c > 0 && w->shape()[3] > 0 && in_c != w->shape()[3] && in_c % w->shape()[3] == 0) {
    group = in_c / w->shape()[3];  // grouped CONV_2D
  }
  Attributes a;
  a.set("strides", std::vector<int64_t>{stride_h, stride_w});
  a.set("dilations", std::vector<int64_t>{dilation_h, dilation_w});
  a.set_auto_pad(padding);
  a.set("group", group);
  a.set_data_layout(DataLayout::kNHWC);
  a.set_weight_layout(depthwise ? WeightLayout::k1HWO : WeightLayout::kOHWI);
  a.set_activation(activation);
  w->set_layout(depthwise ? Layout::k1HWO : Layout::kOHWI);
  Value* weight = dequantized_weight(ctx, w, x);
  if (weight != w) {
    // LiteRT's hybrid per-channel kernels quantize the input asymmetrically, per image; the
    // per-tensor ones symmetrically. LiteRT takes a weight whose channel scales are all equal
    // as per-tensor.
    const std::vector<float>& scales = w->quant().scale;
    const bool per_channel =
        std::any_of(scales.begin(), scales.end(), [&](float s) { return s != scales[0]; });
    a.set("hybrid_input", std::string(per_channel ? "asymmetric" : "symmetric"));
  }
  std::vector<Value*> inputs = {x, weight};
  if (ctx.input(2) != nullptr) inputs.push_back(ctx.input(2));
  ctx.add_node(OpKind::kConv, inputs, std::move(a));
  return Status::ok();
}

Status export_conv(ExportContext& ctx) {
  RETURN_IF_ERROR(ctx.require_nhwc());
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(WeightLayout layout, a.get_weight_layout());
  if (layout == WeightLayout::kOIHW) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "OIHW weights cannot be written to TFLite (OHWI or 1HWO needed)");
  }
  const Shape& w = ctx.input(1)->shape();
  if (w.size() != 4) {
    return error(StatusCode::kUnsupported, ctx.describe(), "weight ", shape_to_string(w),
                 " is not 4-D");
  }
  ASSIGN_OR_RETURN(auto strides, a.get_ints("strides", {1, 1}));
  ASSIGN_OR_RETURN(auto dilations, a.get_ints("dilations", {1, 1}));
  ASSIGN_OR_RETURN(int64_t group, a.get_int("group", 1));
  if (strides.size() != 2 || dilations.size() != 2) {
    return error(StatusCode::kUnsupported, ctx.describe(), "only 2-D convolutions can be written");
  }
  ASSIGN_OR_RETURN(Padding padding, padding_for(ctx, w[1], w[2]));
  ASSIGN_OR_RETURN(int8_t activation, ctx.fused_activation());
  const bool depthwise = layout == WeightLayout::k1HWO;
  ASSIGN_OR_RETURN(Options o, ctx.options(depthwise ? BuiltinOptionsType::kDepthwiseConv2DOptions
                                                    : BuiltinOptionsType::kConv2DOptions));
  RETURN_IF_ERROR(o.set_int("padding", static_cast<int8_t>(padding)));
  RETURN_IF_ERROR(o.set_int("stride_h", strides[0]));
  RETURN_IF_ERROR(o.set_int("stride_w", strides[1]));
  RETURN_IF_ERROR(o.set_int("dilation_h_factor", dilations[0]));
  RETURN_IF_ERROR(o.set_int("dilation_w_factor", dilations[1]));
  RETURN_IF_ERROR(o.set_int("fused_activation_function", activation));
  if (depthwise) {
    if (group < 1 || w[3] % group != 0) {
      return error(StatusCode::kInvalidModel, ctx.describe(), "weight ", shape_to_string(w),
                   " does not fit group ", group);
    }
    RETURN_IF_ERROR(o.set_int("depth_multiplier", w[3] / group));
  }
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t weight, ctx.input_tensor(1));
  ASSIGN_OR_RETURN(int32_t bias, ctx.input_tensor(2));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(depthwise ? BuiltinOperator::kDepthwiseConv2d : BuiltinOperator::kConv2d,
                  {x, weight, bias}, {y}, std::move(o));
}

}  // namespace

void register_conv_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kConv2d, &import_conv);
  r.add_import(BuiltinOperator::kDepthwiseConv2d, &import_conv);
  r.add_export(OpKind::kConv, &export_conv);
}

}  // namespace convmend::tflite
