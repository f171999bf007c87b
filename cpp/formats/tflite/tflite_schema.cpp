#include "formats/tflite/tflite_schema.h"

#include <array>

namespace convmend::tflite {

namespace {

// Schema enums are sparse at their ends only; a switch keeps lookups total for unknown codes.
template <typename Enum>
std::string describe_code(std::string_view name, const char* enum_name, Enum value) {
  if (!name.empty()) return std::string(name);
  return std::string(enum_name) + "(" + std::to_string(static_cast<int64_t>(value)) + ")";
}

using K = OptionKind;

// Fields shared by several convolution-like tables, spelled once per table for readability.
constexpr OptionFieldSpec kConv2DFields[] = {
    {"padding", 0, K::kInt8, 0},
    {"stride_w", 1, K::kInt32, 0},
    {"stride_h", 2, K::kInt32, 0},
    {"fused_activation_function", 3, K::kInt8, 0},
    {"dilation_w_factor", 4, K::kInt32, 1},
    {"dilation_h_factor", 5, K::kInt32, 1},
    {"quantized_bias_type", 6, K::kInt8, 0},
};
constexpr OptionFieldSpec kDepthwiseConv2DFields[] = {
    {"padding", 0, K::kInt8, 0},
    {"stride_w", 1, K::kInt32, 0},
    {"stride_h", 2, K::kInt32, 0},
    {"depth_multiplier", 3, K::kInt32, 0},
    {"fused_activation_function", 4, K::kInt8, 0},
    {"dilation_w_factor", 5, K::kInt32, 1},
    {"dilation_h_factor", 6, K::kInt32, 1},
};
constexpr OptionFieldSpec kPool2DFields[] = {
    {"padding", 0, K::kInt8, 0},
    {"stride_w", 1, K::kInt32, 0},
    {"stride_h", 2, K::kInt32, 0},
    {"filter_width", 3, K::kInt32, 0},
    {"filter_height", 4, K::kInt32, 0},
    {"fused_activation_function", 5, K::kInt8, 0},
};
constexpr OptionFieldSpec kFullyConnectedFields[] = {
    {"fused_activation_function", 0, K::kInt8, 0},
    {"weights_format", 1, K::kInt8, 0},
    {"keep_num_dims", 2, K::kBool, 0},
    {"asymmetric_quantize_inputs", 3, K::kBool, 0},
    {"quantized_bias_type", 4, K::kInt8, 0},
};
constexpr OptionFieldSpec kSoftmaxFields[] = {{"beta", 0, K::kFloat, 0.0}};
constexpr OptionFieldSpec kConcatenationFields[] = {
    {"axis", 0, K::kInt32, 0},
    {"fused_activation_function", 1, K::kInt8, 0},
};
// ADD and SUB: pot_scale_int16 defaults to true in the schema.
constexpr OptionFieldSpec kAddSubFields[] = {
    {"fused_activation_function", 0, K::kInt8, 0},
    {"pot_scale_int16", 1, K::kBool, 1},
};
constexpr OptionFieldSpec kActivationOnlyFields[] = {
    {"fused_activation_function", 0, K::kInt8, 0},
};
constexpr OptionFieldSpec kReshapeFields[] = {{"new_shape", 0, K::kInt32Vector, 0}};
// Fields 0 and 1 (new_height, new_width) are deprecated and ignored by the runtime.
constexpr OptionFieldSpec kResizeBilinearFields[] = {
    {"align_corners", 2, K::kBool, 0},
    {"half_pixel_centers", 3, K::kBool, 0},
};
constexpr OptionFieldSpec kResizeNearestFields[] = {
    {"align_corners", 0, K::kBool, 0},
    {"half_pixel_centers", 1, K::kBool, 0},
};
constexpr OptionFieldSpec kReducerFields[] = {{"keep_dims", 0, K::kBool, 0}};
constexpr OptionFieldSpec kSqueezeFields[] = {{"squeeze_dims", 0, K::kInt32Vector, 0}};
constexpr OptionFieldSpec kStridedSliceFields[] = {
    {"begin_mask", 0, K::kInt32, 0},
    {"end_mask", 1, K::kInt32, 0},
    {"ellipsis_mask", 2, K::kInt32, 0},
    {"new_axis_mask", 3, K::kInt32, 0},
    {"shrink_axis_mask", 4, K::kInt32, 0},
    {"offset", 5, K::kBool, 0},
};
constexpr OptionFieldSpec kLeakyReluFields[] = {{"alpha", 0, K::kFloat, 0.0}};
constexpr OptionFieldSpec kGeluFields[] = {{"approximate", 0, K::kBool, 0}};
constexpr OptionFieldSpec kGatherFields[] = {
    {"axis", 0, K::kInt32, 0},
    {"batch_dims", 1, K::kInt32, 0},
};
constexpr OptionFieldSpec kCastFields[] = {
    {"in_data_type", 0, K::kInt8, 0},
    {"out_data_type", 1, K::kInt8, 0},
};
constexpr OptionFieldSpec kShapeFields[] = {{"out_type", 0, K::kInt8, 0}};
constexpr OptionFieldSpec kPackFields[] = {
    {"values_count", 0, K::kInt32, 0},
    {"axis", 1, K::kInt32, 0},
};
constexpr OptionFieldSpec kSplitFields[] = {{"num_splits", 0, K::kInt32, 0}};
constexpr OptionFieldSpec kBatchMatMulFields[] = {
    {"adj_x", 0, K::kBool, 0},
    {"adj_y", 1, K::kBool, 0},
    {"asymmetric_quantize_inputs", 2, K::kBool, 0},
};
constexpr OptionFieldSpec kTransposeConvFields[] = {
    {"padding", 0, K::kInt8, 0},
    {"stride_w", 1, K::kInt32, 0},
    {"stride_h", 2, K::kInt32, 0},
    {"fused_activation_function", 3, K::kInt8, 0},
    {"quantized_bias_type", 4, K::kInt8, 0},
};

using T = BuiltinOptionsType;

constexpr OptionsTableSpec kSupportedOptions[] = {
    {T::kConv2DOptions, kConv2DFields, 7},
    {T::kDepthwiseConv2DOptions, kDepthwiseConv2DFields, 7},
    {T::kPool2DOptions, kPool2DFields, 6},
    {T::kFullyConnectedOptions, kFullyConnectedFields, 5},
    {T::kSoftmaxOptions, kSoftmaxFields, 1},
    {T::kConcatenationOptions, kConcatenationFields, 2},
    {T::kAddOptions, kAddSubFields, 2},
    {T::kSubOptions, kAddSubFields, 2},
    {T::kMulOptions, kActivationOnlyFields, 1},
    {T::kDivOptions, kActivationOnlyFields, 1},
    {T::kReshapeOptions, kReshapeFields, 1},
    {T::kResizeBilinearOptions, kResizeBilinearFields, 4},
    {T::kResizeNearestNeighborOptions, kResizeNearestFields, 2},
    {T::kPadOptions, {}, 0},
    {T::kPadV2Options, {}, 0},
    {T::kReducerOptions, kReducerFields, 1},
    {T::kSqueezeOptions, kSqueezeFields, 1},
    {T::kStridedSliceOptions, kStridedSliceFields, 6},
    {T::kLeakyReluOptions, kLeakyReluFields, 1},
    {T::kGeluOptions, kGeluFields, 1},
    {T::kTransposeOptions, {}, 0},
    {T::kGatherOptions, kGatherFields, 2},
    {T::kCastOptions, kCastFields, 2},
    {T::kHardSwishOptions, {}, 0},
    {T::kShapeOptions, kShapeFields, 1},
    {T::kDequantizeOptions, {}, 0},
    {T::kQuantizeOptions, {}, 0},
    {T::kExpandDimsOptions, {}, 0},
    {T::kPackOptions, kPackFields, 2},
    {T::kSplitOptions, kSplitFields, 1},
    {T::kBatchMatMulOptions, kBatchMatMulFields, 3},
    {T::kMaximumMinimumOptions, {}, 0},
    {T::kTransposeConvOptions, kTransposeConvFields, 5},
    // Empty tables TFLiteConverter writes for EXP and NEG.
    {T::kExpOptions, {}, 0},
    {T::kNegOptions, {}, 0},
};

}  // namespace

std::string_view builtin_operator_name(BuiltinOperator op) {
  switch (op) {
#define CONVMEND_X(enumerator, name, code) \
  case BuiltinOperator::enumerator:        \
    return name;
    CONVMEND_TFLITE_BUILTIN_OPERATORS(CONVMEND_X)
#undef CONVMEND_X
  }
  return {};
}

std::string_view builtin_options_type_name(BuiltinOptionsType type) {
  switch (type) {
#define CONVMEND_X(enumerator, name, code) \
  case BuiltinOptionsType::enumerator:     \
    return name;
    CONVMEND_TFLITE_BUILTIN_OPTIONS_TYPES(CONVMEND_X)
#undef CONVMEND_X
  }
  return {};
}

std::string_view tensor_type_name(TensorType type) {
  switch (type) {
#define CONVMEND_X(enumerator, name, code, bits) \
  case TensorType::enumerator:                   \
    return name;
    CONVMEND_TFLITE_TENSOR_TYPES(CONVMEND_X)
#undef CONVMEND_X
  }
  return {};
}

int tensor_type_bits(TensorType type) {
  switch (type) {
#define CONVMEND_X(enumerator, name, code, bits) \
  case TensorType::enumerator:                   \
    return bits;
    CONVMEND_TFLITE_TENSOR_TYPES(CONVMEND_X)
#undef CONVMEND_X
  }
  return 0;
}

std::string describe(BuiltinOperator op) {
  return describe_code(builtin_operator_name(op), "BuiltinOperator", op);
}
std::string describe(BuiltinOptionsType type) {
  return describe_code(builtin_options_type_name(type), "BuiltinOptions", type);
}
std::string describe(TensorType type) {
  return describe_code(tensor_type_name(type), "TensorType", type);
}

const OptionsTableSpec* find_options_spec(BuiltinOptionsType type) {
  for (const OptionsTableSpec& spec : kSupportedOptions) {
    if (spec.type == type) return &spec;
  }
  return nullptr;
}

std::span<const OptionsTableSpec> supported_options_specs() { return kSupportedOptions; }

std::optional<BuiltinOptionsType> options_type_for_operator(BuiltinOperator op) {
  using Op = BuiltinOperator;
  switch (op) {
    case Op::kConv2d: return T::kConv2DOptions;
    case Op::kDepthwiseConv2d: return T::kDepthwiseConv2DOptions;
    case Op::kAveragePool2d:
    case Op::kMaxPool2d:
    case Op::kL2Pool2d: return T::kPool2DOptions;
    case Op::kFullyConnected: return T::kFullyConnectedOptions;
    case Op::kSoftmax: return T::kSoftmaxOptions;
    case Op::kConcatenation: return T::kConcatenationOptions;
    case Op::kAdd: return T::kAddOptions;
    case Op::kSub: return T::kSubOptions;
    case Op::kMul: return T::kMulOptions;
    case Op::kDiv: return T::kDivOptions;
    case Op::kReshape: return T::kReshapeOptions;
    case Op::kResizeBilinear: return T::kResizeBilinearOptions;
    case Op::kResizeNearestNeighbor: return T::kResizeNearestNeighborOptions;
    case Op::kPad: return T::kPadOptions;
    case Op::kPadv2: return T::kPadV2Options;
    case Op::kMean:
    case Op::kSum:
    case Op::kReduceMax:
    case Op::kReduceMin:
    case Op::kReduceProd:
    case Op::kReduceAny:
    case Op::kReduceAll: return T::kReducerOptions;
    case Op::kSqueeze: return T::kSqueezeOptions;
    case Op::kStridedSlice: return T::kStridedSliceOptions;
    case Op::kLeakyRelu: return T::kLeakyReluOptions;
    case Op::kGelu: return T::kGeluOptions;
    case Op::kTranspose: return T::kTransposeOptions;
    case Op::kGather: return T::kGatherOptions;
    case Op::kCast: return T::kCastOptions;
    case Op::kHardSwish: return T::kHardSwishOptions;
    case Op::kShape: return T::kShapeOptions;
    case Op::kDequantize: return T::kDequantizeOptions;
    case Op::kQuantize: return T::kQuantizeOptions;
    case Op::kExpandDims: return T::kExpandDimsOptions;
    case Op::kPack: return T::kPackOptions;
    case Op::kSplit: return T::kSplitOptions;
    case Op::kBatchMatmul: return T::kBatchMatMulOptions;
    case Op::kMaximum:
    case Op::kMinimum: return T::kMaximumMinimumOptions;
    case Op::kTransposeConv: return T::kTransposeConvOptions;
    case Op::kExp: return T::kExpOptions;
    case Op::kNeg: return T::kNegOptions;
    default: return std::nullopt;
  }
}

}  // namespace convmend::tflite
