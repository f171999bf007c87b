// Shape functions of Cast, DequantizeLinear and QuantizeLinear.
#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

constexpr std::initializer_list<DType> kQuantizedTypes = {DType::kInt8, DType::kUInt8,
                                                          DType::kInt16, DType::kInt32};

Result<DType> dtype_attr(const Node& node, const std::string& name) {
  ASSIGN_OR_RETURN(std::string text, node.attrs().get_string(name, ""));
  DType dtype;
  if (!parse_dtype(text, &dtype)) {
    return error(StatusCode::kInvalidModel, node.op_name(), " attribute '", name,
                 "' is not a dtype name: \"", text, "\"");
  }
  return dtype;
}

Status refuse_blocked(const Node& node) {
  ASSIGN_OR_RETURN(int64_t block_size, node.attrs().get_int("block_size", 0));
  if (block_size != 0) {
    return error(StatusCode::kUnsupported, node.op_name(), " with block_size ", block_size,
                 " (blocked quantization)");
  }
  return Status::ok();
}

// scale and zero_point: one value, or one per index of `axis` of X.
Status check_quant_inputs(const Node& node, std::span<const TensorMeta> inputs,
                          DType zero_point_dtype) {
  const TensorMeta& x = inputs[0];
  const TensorMeta& scale = inputs[1];
  RETURN_IF_ERROR(shapes::check_dtype(node, scale, shapes::kFloatTypes, "scale"));
  if (shapes::has_input(node, inputs, 2) && inputs[2].dtype != zero_point_dtype) {
    return error(StatusCode::kInvalidModel, node.op_name(), " zero_point has dtype ",
                 dtype_name(inputs[2].dtype), ", expected ", dtype_name(zero_point_dtype));
  }
  if (!scale.rank_known || scale.shape.empty() || !x.rank_known) return Status::ok();
  if (scale.shape.size() > 1) {
    return error(StatusCode::kInvalidModel, node.op_name(), " scale has shape ",
                 shape_to_string(scale.shape), "; blocked quantization is not supported");
  }
  if (scale.shape[0] == 1) return Status::ok();
  ASSIGN_OR_RETURN(int64_t axis_attr, node.attrs().get_int("axis", 1));
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, static_cast<int64_t>(x.shape.size())));
  const int64_t dim = x.shape[static_cast<size_t>(axis)];
  if (dim >= 0 && scale.shape[0] >= 0 && scale.shape[0] != dim) {
    return error(StatusCode::kInvalidModel, node.op_name(), " has ", scale.shape[0],
                 " scales for axis ", axis, " of ", shape_to_string(x.shape));
  }
  return Status::ok();
}

}  // namespace

Status infer_Cast(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions& options) {
  if (!node.attrs().has("to")) return error(StatusCode::kInvalidModel, "Cast needs 'to'");
  ASSIGN_OR_RETURN(DType to, dtype_attr(node, "to"));
  outputs[0] = inputs[0];
  outputs[0].value = nullptr;
  outputs[0].dtype = shapes::promoted(to, options);
  return Status::ok();
}

Status infer_DequantizeLinear(const Node& node, std::span<const TensorMeta> inputs,
                              std::vector<TensorMeta>& outputs, const InferOptions& options) {
  RETURN_IF_ERROR(refuse_blocked(node));
  const TensorMeta& x = inputs[0];
  DType out = DType::kFloat32;
  if (shapes::has_input(node, inputs, 1)) {
    RETURN_IF_ERROR(shapes::check_dtype(node, x, kQuantizedTypes, "x"));
    RETURN_IF_ERROR(check_quant_inputs(node, inputs, x.dtype));
    out = inputs[1].dtype;
  } else {
    // The quantization parameters travel with X (TFLite DEQUANTIZE), or X is float16.
    RETURN_IF_ERROR(shapes::check_dtype(
        node, x, {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kInt32, DType::kFloat16}, "x"));
  }
  outputs[0] = x;
  outputs[0].value = nullptr;
  outputs[0].dtype = shapes::promoted(out, options);
  return Status::ok();
}

Status infer_QuantizeLinear(const Node& node, std::span<const TensorMeta> inputs,
                            std::vector<TensorMeta>& outputs, const InferOptions&) {
  RETURN_IF_ERROR(refuse_blocked(node));
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_dtype(node, x, shapes::kFloatTypes, "x"));
  const bool has_scale = shapes::has_input(node, inputs, 1);
  const bool has_zero_point = shapes::has_input(node, inputs, 2);
  // Output dtype: zero_point's, else `to`, else the output value's (as imported), else u8.
  DType out = DType::kUInt8;
  if (node.attrs().has("to")) {
    ASSIGN_OR_RETURN(out, dtype_attr(node, "to"));
    if (has_zero_point && inputs[2].dtype != out) {
      return error(StatusCode::kInvalidModel, "QuantizeLinear 'to' is ", dtype_name(out),
                   ", zero_point has dtype ", dtype_name(inputs[2].dtype));
    }
  } else if (has_zero_point) {
    out = inputs[2].dtype;
  } else if (is_integer(node.output(0)->dtype())) {
    out = node.output(0)->dtype();
  }
  RETURN_IF_ERROR(shapes::check_dtype(node, shapes::make_meta(out, {}), kQuantizedTypes, "y"));
  if (has_scale) {
    RETURN_IF_ERROR(check_quant_inputs(node, inputs, out));
  } else if (node.output(0)->quant().empty()) {
    return error(StatusCode::kInvalidModel,
                 "QuantizeLinear has no scale input and its output has no quantization parameters");
  }
  outputs[0] = x;
  outputs[0].value = nullptr;
  outputs[0].dtype = out;
  return Status::ok();
}

}  // namespace convmend
