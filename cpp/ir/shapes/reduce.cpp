// Shape functions of ReduceMean, ReduceSum, ReduceMax, ReduceMin.
#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

constexpr std::initializer_list<DType> kMaxMinTypes = {DType::kFloat32, DType::kFloat64,
                                                       DType::kInt32, DType::kInt64, DType::kBool};

Status infer_reduce(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, std::initializer_list<DType> allowed) {
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_dtype(node, x, allowed, "data"));
  ASSIGN_OR_RETURN(int64_t keepdims, node.attrs().get_int("keepdims", 1));
  ASSIGN_OR_RETURN(int64_t noop, node.attrs().get_int("noop_with_empty_axes", 0));
  const bool has_axes = shapes::has_input(node, inputs, 1);
  if (has_axes) RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "axes"));
  std::optional<std::vector<int64_t>> axes;
  if (has_axes) axes = shapes::known_ints(inputs[1]);
  const int64_t axes_length = has_axes ? shapes::known_length(inputs[1]) : 0;
  if (!x.rank_known) {
    outputs[0] = shapes::unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (has_axes && !axes) {
    // Which axes is unknown: only the rank can be told, and only when it does not depend on them.
    if (keepdims) {
      outputs[0] = shapes::make_meta(x.dtype, Shape(x.shape.size(), -1));
    } else if (axes_length > 0 && !noop) {
      outputs[0] = shapes::make_meta(x.dtype, Shape(static_cast<size_t>(rank - axes_length), -1));
    } else {
      outputs[0] = shapes::unknown_rank_meta(x.dtype);
    }
    return Status::ok();
  }
  ASSIGN_OR_RETURN(std::vector<bool> reduced, shapes::reduced_dims(rank, axes, noop != 0));
  Shape out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (!reduced[d]) {
      out.push_back(x.shape[d]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  outputs[0] = shapes::make_meta(x.dtype, out);
  return Status::ok();
}

}  // namespace

Status infer_ReduceMean(const Node& node, std::span<const TensorMeta> inputs,
                        std::vector<TensorMeta>& outputs, const InferOptions&) {
  return infer_reduce(node, inputs, outputs, shapes::kFloatTypes);
}
Status infer_ReduceSum(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, const InferOptions&) {
  return infer_reduce(node, inputs, outputs, shapes::kNumericTypes);
}
Status infer_ReduceMax(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, const InferOptions&) {
  return infer_reduce(node, inputs, outputs, kMaxMinTypes);
}
Status infer_ReduceMin(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, const InferOptions&) {
  return infer_reduce(node, inputs, outputs, kMaxMinTypes);
}

}  // namespace convmend
