// Shape functions of the data-movement ops: Concat, Split, Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Expand, Tile. They move elements of any dtype.
#include <algorithm>

#include "ir/shapes/shape_helpers.h"

namespace convmend {
namespace {

using shapes::has_input;
using shapes::known_ints;
using shapes::known_length;
using shapes::make_meta;
using shapes::unknown_rank_meta;

// Merges two views of one dim, where -1 is unknown.
Result<int64_t> merge_dim(int64_t a, int64_t b, size_t axis) {
  if (a < 0) return b;
  if (b < 0 || a == b) return a;
  return error(StatusCode::kInvalidModel, "dim ", axis, " is ", a, " in one input and ", b,
               " in another");
}

Result<Shape> reshape_to(const Shape& in, bool in_rank_known, const std::vector<int64_t>& spec,
                         bool allowzero) {
  Shape out(spec.size());
  int64_t infer_at = -1;
  int64_t known_product = 1;
  bool product_known = true;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == 0 && !allowzero) {
      if (in_rank_known && i >= in.size()) {
        return error(StatusCode::kInvalidModel, "Reshape shape ", shape_to_string(spec),
                     " copies dim ", i, " of a rank-", in.size(), " input");
      }
      d = in_rank_known ? in[i] : -1;
    } else if (d == -1) {
      if (infer_at >= 0) {
        return error(StatusCode::kInvalidModel, "Reshape shape ", shape_to_string(spec),
                     " has more than one -1");
      }
      infer_at = static_cast<int64_t>(i);
      continue;
    } else if (d < -1) {
      return error(StatusCode::kInvalidModel, "Reshape shape has invalid dim ", d);
    }
    out[i] = d;
    if (d < 0) {
      product_known = false;
    } else {
      known_product *= d;
    }
  }
  if (allowzero && infer_at >= 0 && std::count(spec.begin(), spec.end(), 0) > 0) {
    return error(StatusCode::kInvalidModel, "Reshape shape ", shape_to_string(spec),
                 " has both 0 and -1 with allowzero");
  }
  const bool in_known = in_rank_known && shape_is_static(in);
  const int64_t total = in_known ? shape_num_elements(in).value() : -1;
  if (infer_at >= 0) {
    int64_t& d = out[static_cast<size_t>(infer_at)];
    d = -1;
    if (in_known && product_known) {
      if (known_product == 0 || total % known_product != 0) {
        return error(StatusCode::kInvalidModel, "cannot reshape ", shape_to_string(in), " to ",
                     shape_to_string(spec));
      }
      d = total / known_product;
    }
  } else if (in_known && product_known && known_product != total) {
    return error(StatusCode::kInvalidModel, "cannot reshape ", shape_to_string(in), " (",
                 total, " elements) to ", shape_to_string(out));
  }
  return out;
}

}  // namespace

Status infer_Concat(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, const InferOptions&) {
  if (!node.attrs().has("axis")) return error(StatusCode::kInvalidModel, "Concat needs an axis");
  ASSIGN_OR_RETURN(int64_t axis_attr, node.attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(Activation activation, node.attrs().get_activation());
  const DType dtype = inputs[0].dtype;
  if (activation != Activation::kNone && !is_float(dtype)) {
    return error(StatusCode::kUnsupported, "Concat with fused_activation ",
                 activation_name(activation), " on dtype ", dtype_name(dtype));
  }
  const TensorMeta* ranked = nullptr;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i].dtype != dtype) {
      return error(StatusCode::kInvalidModel, "Concat input #", i, " has dtype ",
                   dtype_name(inputs[i].dtype), ", input #0 has ", dtype_name(dtype));
    }
    if (inputs[i].rank_known && ranked == nullptr) ranked = &inputs[i];
  }
  if (ranked == nullptr) {
    outputs[0] = unknown_rank_meta(dtype);
    return Status::ok();
  }
  const size_t rank = ranked->shape.size();
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, static_cast<int64_t>(rank)));
  Shape out(rank, -1);
  int64_t axis_sum = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].rank_known) {
      axis_sum = -1;
      continue;
    }
    const Shape& s = inputs[i].shape;
    if (s.size() != rank) {
      return error(StatusCode::kInvalidModel, "Concat input #", i, " has rank ", s.size(),
                   ", another has ", rank);
    }
    for (size_t d = 0; d < rank; ++d) {
      if (static_cast<int64_t>(d) == axis) continue;
      ASSIGN_OR_RETURN(out[d], merge_dim(out[d], s[d], d));
    }
    const int64_t a = s[static_cast<size_t>(axis)];
    axis_sum = axis_sum < 0 || a < 0 ? -1 : axis_sum + a;
  }
  out[static_cast<size_t>(axis)] = axis_sum;
  outputs[0] = make_meta(dtype, out);
  return Status::ok();
}

Status infer_Split(const Node& node, std::span<const TensorMeta> inputs,
                   std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  const size_t n = outputs.size();
  ASSIGN_OR_RETURN(int64_t axis_attr, node.attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(int64_t num_outputs, node.attrs().get_int("num_outputs", 0));
  if (num_outputs != 0 && static_cast<size_t>(num_outputs) != n) {
    return error(StatusCode::kInvalidModel, "Split num_outputs is ", num_outputs, ", the node has ",
                 n, " outputs");
  }
  const bool has_split = has_input(node, inputs, 1);
  if (has_split) {
    RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "split"));
    if (num_outputs != 0) {
      return error(StatusCode::kInvalidModel, "Split has both a split input and num_outputs");
    }
  }
  if (!x.rank_known) {
    for (TensorMeta& out : outputs) out = unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, static_cast<int64_t>(x.shape.size())));
  const auto a = static_cast<size_t>(axis);
  std::vector<int64_t> sizes(n, -1);
  if (!has_split || inputs[1].value != nullptr) {
    std::optional<std::vector<int64_t>> split;
    if (has_split) split = known_ints(inputs[1]);
    ASSIGN_OR_RETURN(sizes, shapes::split_sizes(x.shape[a], n, split));
  }
  for (size_t i = 0; i < n; ++i) {
    Shape s = x.shape;
    s[a] = sizes[i];
    outputs[i] = make_meta(x.dtype, s);
  }
  return Status::ok();
}

Status infer_Reshape(const Node& node, std::span<const TensorMeta> inputs,
                     std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_dtype(node, inputs[1], {DType::kInt64}, "shape"));
  ASSIGN_OR_RETURN(int64_t allowzero, node.attrs().get_int("allowzero", 0));
  const auto spec = known_ints(inputs[1]);
  if (!spec) {
    const int64_t rank = known_length(inputs[1]);
    outputs[0] = rank >= 0 ? make_meta(x.dtype, Shape(static_cast<size_t>(rank), -1))
                           : unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  ASSIGN_OR_RETURN(Shape out, reshape_to(x.shape, x.rank_known, *spec, allowzero != 0));
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

Status infer_Flatten(const Node& node, std::span<const TensorMeta> inputs,
                     std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  ASSIGN_OR_RETURN(int64_t axis, node.attrs().get_int("axis", 1));
  if (!x.rank_known) {
    outputs[0] = make_meta(x.dtype, {-1, -1});
    return Status::ok();
  }
  const auto rank = static_cast<int64_t>(x.shape.size());
  if (axis < -rank || axis > rank) {
    return error(StatusCode::kInvalidModel, "Flatten axis ", axis, " is out of range for rank ",
                 rank);
  }
  if (axis < 0) axis += rank;
  auto product = [&](size_t begin, size_t end) -> int64_t {
    int64_t p = 1;
    for (size_t i = begin; i < end; ++i) {
      if (x.shape[i] < 0) return -1;
      p *= x.shape[i];
    }
    return p;
  };
  const auto a = static_cast<size_t>(axis);
  outputs[0] = make_meta(x.dtype, {product(0, a), product(a, x.shape.size())});
  return Status::ok();
}

Status infer_Squeeze(const Node& node, std::span<const TensorMeta> inputs,
                     std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  const bool has_axes = has_input(node, inputs, 1);
  if (has_axes) RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "axes"));
  const auto axes = has_axes ? known_ints(inputs[1]) : std::nullopt;
  if (!x.rank_known || (has_axes && !axes)) {
    const int64_t k = has_axes ? known_length(inputs[1]) : -1;
    outputs[0] = x.rank_known && k >= 0
                     ? make_meta(x.dtype, Shape(x.shape.size() - static_cast<size_t>(k), -1))
                     : unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<bool> drop(x.shape.size(), false);
  if (axes) {
    ASSIGN_OR_RETURN(std::vector<int64_t> normalized, shapes::normalize_axes(*axes, rank));
    for (int64_t a : normalized) {
      const int64_t d = x.shape[static_cast<size_t>(a)];
      if (d >= 0 && d != 1) {
        return error(StatusCode::kInvalidModel, "Squeeze axis ", a, " of ",
                     shape_to_string(x.shape), " has size ", d, ", not 1");
      }
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t d = 0; d < x.shape.size(); ++d) {
      if (x.shape[d] < 0) {  // whether it is 1 decides the rank
        outputs[0] = unknown_rank_meta(x.dtype);
        return Status::ok();
      }
      drop[d] = x.shape[d] == 1;
    }
  }
  Shape out;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (!drop[d]) out.push_back(x.shape[d]);
  }
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

Status infer_Unsqueeze(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "axes"));
  const auto axes = known_ints(inputs[1]);
  const int64_t k = known_length(inputs[1]);
  if (!x.rank_known || !axes) {
    outputs[0] = x.rank_known && k >= 0
                     ? make_meta(x.dtype, Shape(x.shape.size() + static_cast<size_t>(k), -1))
                     : unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  const auto out_rank = static_cast<int64_t>(x.shape.size() + axes->size());
  ASSIGN_OR_RETURN(std::vector<int64_t> normalized, shapes::normalize_axes(*axes, out_rank));
  Shape out(static_cast<size_t>(out_rank), 1);
  size_t next = 0;
  for (int64_t d = 0; d < out_rank; ++d) {
    if (std::find(normalized.begin(), normalized.end(), d) == normalized.end()) {
      out[static_cast<size_t>(d)] = x.shape[next++];
    }
  }
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

Status infer_Transpose(const Node& node, std::span<const TensorMeta> inputs,
                       std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, node.attrs().get_ints("perm", {}));
  if (!x.rank_known) {
    outputs[0] = perm.empty() ? unknown_rank_meta(x.dtype)
                              : make_meta(x.dtype, Shape(perm.size(), -1));
    return Status::ok();
  }
  const size_t rank = x.shape.size();
  if (perm.empty()) {
    for (size_t i = rank; i-- > 0;) perm.push_back(static_cast<int64_t>(i));
  }
  std::vector<bool> seen(rank, false);
  if (perm.size() != rank) {
    return error(StatusCode::kInvalidModel, "Transpose perm ", shape_to_string(perm),
                 " does not match rank ", rank);
  }
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t p = perm[i];
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) {
      return error(StatusCode::kInvalidModel, "Transpose perm ", shape_to_string(perm),
                   " is not a permutation of 0..", rank - 1);
    }
    seen[static_cast<size_t>(p)] = true;
    out[i] = x.shape[static_cast<size_t>(p)];
  }
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

Status infer_Expand(const Node& node, std::span<const TensorMeta> inputs,
                    std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "shape"));
  const auto shape = known_ints(inputs[1]);
  if (!x.rank_known || !shape) {
    const int64_t k = known_length(inputs[1]);
    outputs[0] = x.rank_known && k >= 0
                     ? make_meta(x.dtype, Shape(std::max(x.shape.size(), static_cast<size_t>(k)), -1))
                     : unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  for (int64_t d : *shape) {
    if (d < 0) return error(StatusCode::kInvalidModel, "Expand shape ", shape_to_string(*shape),
                            " has a negative dim");
  }
  ASSIGN_OR_RETURN(Shape out, broadcast_shapes(x.shape, *shape));
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

Status infer_Tile(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions&) {
  const TensorMeta& x = inputs[0];
  RETURN_IF_ERROR(shapes::check_int_input(node, inputs[1], 1, "repeats"));
  if (!x.rank_known) {
    outputs[0] = unknown_rank_meta(x.dtype);
    return Status::ok();
  }
  Shape out(x.shape.size(), -1);
  if (const auto repeats = known_ints(inputs[1])) {
    if (repeats->size() != x.shape.size()) {
      return error(StatusCode::kInvalidModel, "Tile has ", repeats->size(),
                   " repeats for rank ", x.shape.size());
    }
    for (size_t d = 0; d < out.size(); ++d) {
      if ((*repeats)[d] < 0) {
        return error(StatusCode::kInvalidModel, "Tile repeat ", (*repeats)[d], " is negative");
      }
      out[d] = x.shape[d] < 0 ? -1 : x.shape[d] * (*repeats)[d];
    }
  }
  outputs[0] = make_meta(x.dtype, out);
  return Status::ok();
}

}  // namespace convmend
