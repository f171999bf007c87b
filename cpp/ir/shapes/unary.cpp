// Shape functions of the elementwise unary ops: the output has the dtype and shape of X.
#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

using shapes::check_dtype;

Status infer_like_input(const Node& node, std::span<const TensorMeta> inputs,
                        std::vector<TensorMeta>& outputs, std::initializer_list<DType> allowed) {
  RETURN_IF_ERROR(check_dtype(node, inputs[0], allowed, "X"));
  outputs[0] = inputs[0];
  outputs[0].value = nullptr;
  return Status::ok();
}

constexpr std::initializer_list<DType> kAllTypes = {
    DType::kFloat32, DType::kFloat16, DType::kFloat64, DType::kInt8, DType::kUInt8,
    DType::kInt16,   DType::kInt32,   DType::kInt64,   DType::kBool};

}  // namespace

// Ops whose only attributes are plain numbers: name, dtypes of X.
#define CONVMEND_SIMPLE_UNARY_SHAPES(X)  \
  X(Relu, shapes::kNumericTypes)         \
  X(Neg, shapes::kNumericTypes)          \
  X(Abs, shapes::kNumericTypes)          \
  X(LeakyRelu, shapes::kFloatTypes)      \
  X(Sigmoid, shapes::kFloatTypes)        \
  X(HardSigmoid, shapes::kFloatTypes)    \
  X(HardSwish, shapes::kFloatTypes)      \
  X(Tanh, shapes::kFloatTypes)           \
  X(Elu, shapes::kFloatTypes)            \
  X(Softplus, shapes::kFloatTypes)       \
  X(Erf, shapes::kFloatTypes)            \
  X(Sqrt, shapes::kFloatTypes)           \
  X(Exp, shapes::kFloatTypes)            \
  X(Log, shapes::kFloatTypes)            \
  X(Reciprocal, shapes::kFloatTypes)     \
  X(Floor, shapes::kFloatTypes)          \
  X(Ceil, shapes::kFloatTypes)           \
  X(Identity, kAllTypes)

#define X(name, types)                                                                   \
  Status infer_##name(const Node& node, std::span<const TensorMeta> inputs,             \
                      std::vector<TensorMeta>& outputs, const InferOptions&) {          \
    return infer_like_input(node, inputs, outputs, types);                              \
  }
CONVMEND_SIMPLE_UNARY_SHAPES(X)
#undef X

Status infer_Gelu(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions&) {
  RETURN_IF_ERROR(shapes::gelu_uses_tanh(node.attrs()).status());
  return infer_like_input(node, inputs, outputs, shapes::kFloatTypes);
}

Status infer_Clip(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions&) {
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (!shapes::has_input(node, inputs, i)) continue;
    const char* what = i == 1 ? "min" : "max";
    if (inputs[i].dtype != inputs[0].dtype) {
      return error(StatusCode::kInvalidModel, "Clip ", what, " has dtype ",
                   dtype_name(inputs[i].dtype), ", X has ", dtype_name(inputs[0].dtype));
    }
    if (inputs[i].rank_known && shape_is_static(inputs[i].shape) &&
        shape_num_elements(inputs[i].shape).value() != 1) {
      return error(StatusCode::kInvalidModel, "Clip ", what, " must be a scalar, not ",
                   shape_to_string(inputs[i].shape));
    }
  }
  // ONNX Clip (opset 12+) also takes the narrow integer types.
  return infer_like_input(node, inputs, outputs,
                          {DType::kFloat32, DType::kFloat64, DType::kInt8, DType::kUInt8,
                           DType::kInt16, DType::kInt32, DType::kInt64});
}

Status infer_PRelu(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  if (inputs[1].dtype != inputs[0].dtype) {
    return error(StatusCode::kInvalidModel, "PRelu slope has dtype ", dtype_name(inputs[1].dtype),
                 ", X has ", dtype_name(inputs[0].dtype));
  }
  if (inputs[0].rank_known && inputs[1].rank_known) {
    ASSIGN_OR_RETURN(Shape b, broadcast_shapes(inputs[0].shape, inputs[1].shape));
    if (b.size() != inputs[0].shape.size() ||
        (shape_is_static(inputs[0].shape) && b != inputs[0].shape)) {
      return error(StatusCode::kInvalidModel, "PRelu slope ", shape_to_string(inputs[1].shape),
                   " does not broadcast to X ", shape_to_string(inputs[0].shape));
    }
  }
  return infer_like_input(node, inputs, outputs, shapes::kNumericTypes);
}

}  // namespace convmend
