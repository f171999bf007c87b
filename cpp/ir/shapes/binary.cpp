// Shape functions of the broadcasting elementwise ops (numpy broadcasting of all inputs).
#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

using shapes::check_dtype;

// The elementwise kernels also take the narrow integer types (ONNX Add..Min, Less, Equal do).
constexpr std::initializer_list<DType> kBinaryTypes = {DType::kFloat32, DType::kFloat64,
                                                       DType::kInt8,    DType::kUInt8,
                                                       DType::kInt16,   DType::kInt32,
                                                       DType::kInt64};
constexpr std::initializer_list<DType> kEqualTypes = {DType::kFloat32, DType::kFloat64,
                                                      DType::kInt8,    DType::kUInt8,
                                                      DType::kInt16,   DType::kInt32,
                                                      DType::kInt64,   DType::kBool};

// Broadcast shape of every input; rank unknown when one input's rank is.
Status infer_broadcast(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, std::initializer_list<DType> allowed,
                       bool same_dtype, bool bool_output) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string what = std::to_string(i);
    RETURN_IF_ERROR(check_dtype(node, inputs[i], allowed, what.c_str()));
    if (same_dtype && inputs[i].dtype != inputs[0].dtype) {
      return error(StatusCode::kInvalidModel, node.op_name(), " input #", i, " has dtype ",
                   dtype_name(inputs[i].dtype), ", input #0 has ", dtype_name(inputs[0].dtype));
    }
  }
  const DType out_dtype = bool_output ? DType::kBool : inputs[0].dtype;
  Shape shape;
  for (const TensorMeta& in : inputs) {
    if (!in.rank_known) {
      outputs[0] = shapes::unknown_rank_meta(out_dtype);
      return Status::ok();
    }
    ASSIGN_OR_RETURN(shape, broadcast_shapes(shape, in.shape));
  }
  outputs[0] = shapes::make_meta(out_dtype, shape);
  return Status::ok();
}

// Add/Sub/Mul/Div: a fused activation applies to float outputs only.
Status infer_arithmetic(const Node& node, std::span<const TensorMeta> inputs,
                        std::vector<TensorMeta>& outputs) {
  ASSIGN_OR_RETURN(Activation activation, node.attrs().get_activation());
  if (activation != Activation::kNone && !is_float(inputs[0].dtype)) {
    return error(StatusCode::kUnsupported, node.op_name(), " with fused_activation ",
                 activation_name(activation), " on dtype ", dtype_name(inputs[0].dtype));
  }
  return infer_broadcast(node, inputs, outputs, kBinaryTypes, true, false);
}

}  // namespace

// name, shape function body
#define CONVMEND_BINARY_SHAPES(X)                                                         \
  X(Add, infer_arithmetic(node, inputs, outputs))                                         \
  X(Sub, infer_arithmetic(node, inputs, outputs))                                         \
  X(Mul, infer_arithmetic(node, inputs, outputs))                                         \
  X(Div, infer_arithmetic(node, inputs, outputs))                                         \
  X(Pow, infer_broadcast(node, inputs, outputs, shapes::kNumericTypes, false, false))     \
  X(Max, infer_broadcast(node, inputs, outputs, kBinaryTypes, true, false))      \
  X(Min, infer_broadcast(node, inputs, outputs, kBinaryTypes, true, false))      \
  X(Sum, infer_broadcast(node, inputs, outputs, kBinaryTypes, true, false))      \
  X(Equal, infer_broadcast(node, inputs, outputs, kEqualTypes, true, true))               \
  X(Less, infer_broadcast(node, inputs, outputs, kBinaryTypes, true, true))      \
  X(Greater, infer_broadcast(node, inputs, outputs, kBinaryTypes, true, true))

#define X(name, body)                                                        \
  Status infer_##name(const Node& node, std::span<const TensorMeta> inputs, \
                      std::vector<TensorMeta>& outputs, const InferOptions&) { \
    return body;                                                            \
  }
CONVMEND_BINARY_SHAPES(X)
#undef X

}  // namespace convmend
