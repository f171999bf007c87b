// Shape functions of Shape, Gather, Slice, Range, ConstantOfShape and Where.
#include <algorithm>
#include <cmath>

#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

using shapes::has_input;
using shapes::known_ints;
using shapes::make_meta;
using shapes::unknown_rank_meta;

}  // namespace

Status infer_Shape(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  if (!inputs[0].rank_known) {
    outputs[0] = make_meta(DType::kInt64, {-1});
    return Status::ok();
  }
  const auto rank = static_cast<int64_t>(inputs[0].shape.size());
  ASSIGN_OR_RETURN(int64_t start, node.attrs().get_int("start", 0));
  ASSIGN_OR_RETURN(int64_t end, node.attrs().get_int("end", rank));
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  outputs[0] = make_meta(DType::kInt64, {std::max<int64_t>(0, end - start)});
  return Status::ok();
}

Status infer_Gather(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& data = inputs[0];
  const TensorMeta& indices = inputs[1];
  RETURN_IF_ERROR(shapes::check_dtype(node, indices, {DType::kInt32, DType::kInt64}, "indices"));
  ASSIGN_OR_RETURN(int64_t axis_attr, node.attrs().get_int("axis", 0));
  if (!data.rank_known || !indices.rank_known) {
    outputs[0] = unknown_rank_meta(data.dtype);
    return Status::ok();
  }
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, static_cast<int64_t>(data.shape.size())));
  const auto a = static_cast<size_t>(axis);
  const int64_t dim = data.shape[a];
  if (const auto values = known_ints(indices); values && dim >= 0) {
    for (int64_t i : *values) {
      if (i < -dim || i >= dim) {
        return error(StatusCode::kInvalidArgument, "Gather index ", i,
                     " is out of range for axis ", axis, " of ", shape_to_string(data.shape));
      }
    }
  }
  Shape out(data.shape.begin(), data.shape.begin() + static_cast<std::ptrdiff_t>(a));
  out.insert(out.end(), indices.shape.begin(), indices.shape.end());
  out.insert(out.end(), data.shape.begin() + static_cast<std::ptrdiff_t>(a) + 1, data.shape.end());
  outputs[0] = make_meta(data.dtype, out);
  return Status::ok();
}

Status infer_Slice(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& data = inputs[0];
  const char* names[] = {"data", "starts", "ends", "axes", "steps"};
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (has_input(node, inputs, i)) {
      RETURN_IF_ERROR(shapes::check_int_input(node, inputs[i], 1, names[i]));
    }
  }
  if (!data.rank_known) {
    outputs[0] = unknown_rank_meta(data.dtype);
    return Status::ok();
  }
  const auto starts = known_ints(inputs[1]);
  const auto ends = known_ints(inputs[2]);
  const bool has_axes = has_input(node, inputs, 3);
  const bool has_steps = has_input(node, inputs, 4);
  const auto axes = has_axes ? known_ints(inputs[3]) : std::nullopt;
  const auto steps = has_steps ? known_ints(inputs[4]) : std::nullopt;
  Shape out = data.shape;
  if (!starts || !ends || (has_axes && !axes) || (has_steps && !steps)) {
    // The sliced dims are unknown; when the axes are known, the others are kept.
    const int64_t k = shapes::known_length(inputs[1]);
    if (has_axes && axes) {
      ASSIGN_OR_RETURN(std::vector<int64_t> normalized,
                       shapes::normalize_axes(*axes, static_cast<int64_t>(out.size())));
      for (int64_t a : normalized) out[static_cast<size_t>(a)] = -1;
    } else {
      for (size_t d = 0; d < out.size(); ++d) {
        if (has_axes || k < 0 || static_cast<int64_t>(d) < k) out[d] = -1;
      }
    }
    outputs[0] = make_meta(data.dtype, out);
    return Status::ok();
  }
  ASSIGN_OR_RETURN(std::vector<shapes::SliceAxis> slices,
                   shapes::resolve_slice(data.shape, *starts, *ends, axes, steps));
  for (size_t d = 0; d < out.size(); ++d) out[d] = slices[d].count;
  outputs[0] = make_meta(data.dtype, out);
  return Status::ok();
}

Status infer_Range(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  const char* names[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    RETURN_IF_ERROR(shapes::check_dtype(node, inputs[i], shapes::kNumericTypes, names[i]));
    if (inputs[i].dtype != inputs[0].dtype) {
      return error(StatusCode::kInvalidModel, "Range ", names[i], " has dtype ",
                   dtype_name(inputs[i].dtype), ", start has ", dtype_name(inputs[0].dtype));
    }
    if (inputs[i].rank_known && shape_is_static(inputs[i].shape) &&
        shape_num_elements(inputs[i].shape).value() != 1) {
      return error(StatusCode::kInvalidModel, "Range ", names[i], " must be a scalar, not ",
                   shape_to_string(inputs[i].shape));
    }
  }
  int64_t count = -1;
  if (inputs[0].value && inputs[1].value && inputs[2].value) {
    const double start = inputs[0].value->to_doubles()[0];
    const double limit = inputs[1].value->to_doubles()[0];
    const double delta = inputs[2].value->to_doubles()[0];
    if (delta == 0) return error(StatusCode::kInvalidArgument, "Range delta is 0");
    count = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
  }
  outputs[0] = make_meta(inputs[0].dtype, {count});
  return Status::ok();
}

Status infer_ConstantOfShape(const Node& node, std::span<const TensorMeta> inputs,
                             std::vector<TensorMeta>& outputs, const InferOptions& options) {
  RETURN_IF_ERROR(shapes::check_int_input(node, inputs[0], 1, "input"));
  DType dtype = DType::kFloat32;
  if (const Tensor* value = node.attrs().get_tensor("value")) {
    if (value->num_elements() != 1) {
      return error(StatusCode::kInvalidModel, "ConstantOfShape value must have one element, not ",
                   shape_to_string(value->shape()));
    }
    dtype = value->dtype();
  } else if (node.attrs().has("value")) {
    return error(StatusCode::kInvalidModel, "ConstantOfShape value is not a tensor");
  }
  dtype = shapes::promoted(dtype, options);
  if (const auto shape = known_ints(inputs[0])) {
    for (int64_t d : *shape) {
      if (d < 0) return error(StatusCode::kInvalidArgument, "ConstantOfShape shape ",
                              shape_to_string(*shape), " has a negative dim");
    }
    outputs[0] = make_meta(dtype, *shape);
    return Status::ok();
  }
  const int64_t rank = shapes::known_length(inputs[0]);
  outputs[0] = rank >= 0 ? make_meta(dtype, Shape(static_cast<size_t>(rank), -1))
                         : unknown_rank_meta(dtype);
  return Status::ok();
}

Status infer_Where(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  RETURN_IF_ERROR(shapes::check_dtype(node, inputs[0], {DType::kBool}, "condition"));
  if (inputs[1].dtype != inputs[2].dtype) {
    return error(StatusCode::kInvalidModel, "Where X has dtype ", dtype_name(inputs[1].dtype),
                 ", Y has ", dtype_name(inputs[2].dtype));
  }
  Shape shape;
  for (const TensorMeta& in : inputs) {
    if (!in.rank_known) {
      outputs[0] = unknown_rank_meta(inputs[1].dtype);
      return Status::ok();
    }
    ASSIGN_OR_RETURN(shape, broadcast_shapes(shape, in.shape));
  }
  outputs[0] = make_meta(inputs[1].dtype, shape);
  return Status::ok();
}

}  // namespace convmend
