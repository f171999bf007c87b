#include "ir/shapes/shape_helpers.h"

#include <algorithm>
#include <sstream>

namespace convmend::shapes {

Status check_dtype(const Node& node, const TensorMeta& meta, std::initializer_list<DType> allowed,
                   const char* what) {
  if (std::find(allowed.begin(), allowed.end(), meta.dtype) != allowed.end()) return Status::ok();
  std::ostringstream names;
  for (DType d : allowed) names << (names.tellp() > 0 ? ", " : "") << dtype_name(d);
  return error(StatusCode::kUnsupported, node.op_name(), " does not support dtype ",
               dtype_name(meta.dtype), " for input ", what, " (supported: ", names.str(), ")");
}

Status check_int_input(const Node& node, const TensorMeta& meta, int max_rank, const char* what) {
  RETURN_IF_ERROR(check_dtype(node, meta, {DType::kInt32, DType::kInt64}, what));
  if (meta.rank_known && static_cast<int>(meta.shape.size()) > max_rank) {
    return error(StatusCode::kInvalidModel, node.op_name(), " input ", what, " has shape ",
                 shape_to_string(meta.shape), ", rank at most ", max_rank, " expected");
  }
  return Status::ok();
}

std::optional<std::vector<int64_t>> known_ints(const TensorMeta& meta) {
  if (meta.value == nullptr) return std::nullopt;
  return meta.value->to_int64s();
}

int64_t known_length(const TensorMeta& meta) {
  if (meta.value != nullptr) return meta.value->num_elements();
  if (!meta.rank_known) return -1;
  if (meta.shape.empty()) return 1;
  return meta.shape.size() == 1 ? meta.shape[0] : -1;
}

Result<int64_t> tensor_axis(int64_t axis, int64_t rank) {
  if (rank == 0) {
    return error(StatusCode::kInvalidModel, "axis ", axis, " of a scalar: a tensor of rank >= 1 is needed");
  }
  return normalize_axis(axis, rank);
}

Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t n, tensor_axis(a, rank));
    if (std::find(out.begin(), out.end(), n) != out.end()) {
      return error(StatusCode::kInvalidModel, "axis ", a, " is repeated");
    }
    out.push_back(n);
  }
  return out;
}

Result<bool> gelu_uses_tanh(const Attributes& attrs) {
  Result<std::string> approximate = attrs.get_string("approximate", "none");
  if (!approximate.is_ok()) return approximate.status();
  if (approximate.value() != "none" && approximate.value() != "tanh") {
    return error(StatusCode::kInvalidModel, "Gelu approximate must be \"none\" or \"tanh\", not \"",
                 approximate.value(), "\"");
  }
  return approximate.value() == "tanh";
}

Result<std::vector<bool>> reduced_dims(int64_t rank, const std::optional<std::vector<int64_t>>& axes,
                                       bool noop_with_empty_axes) {
  const bool empty = !axes || axes->empty();
  std::vector<bool> mask(static_cast<size_t>(rank), empty && !noop_with_empty_axes);
  if (empty) return mask;
  ASSIGN_OR_RETURN(std::vector<int64_t> normalized, normalize_axes(*axes, rank));
  for (int64_t a : normalized) mask[static_cast<size_t>(a)] = true;
  return mask;
}

Result<std::vector<SliceAxis>> resolve_slice(const Shape& data, const std::vector<int64_t>& starts,
                                             const std::vector<int64_t>& ends,
                                             const std::optional<std::vector<int64_t>>& axes,
                                             const std::optional<std::vector<int64_t>>& steps) {
  const int64_t rank = static_cast<int64_t>(data.size());
  if (starts.size() != ends.size()) {
    return error(StatusCode::kInvalidModel, "Slice has ", starts.size(), " starts and ",
                 ends.size(), " ends");
  }
  std::vector<int64_t> axis_list;
  if (axes) {
    if (axes->size() != starts.size()) {
      return error(StatusCode::kInvalidModel, "Slice has ", starts.size(), " starts and ",
                   axes->size(), " axes");
    }
    ASSIGN_OR_RETURN(axis_list, normalize_axes(*axes, rank));
  } else {
    if (static_cast<int64_t>(starts.size()) > rank) {
      return error(StatusCode::kInvalidModel, "Slice has ", starts.size(),
                   " starts for rank ", rank);
    }
    for (size_t i = 0; i < starts.size(); ++i) axis_list.push_back(static_cast<int64_t>(i));
  }
  if (steps && steps->size() != starts.size()) {
    return error(StatusCode::kInvalidModel, "Slice has ", starts.size(), " starts and ",
                 steps->size(), " steps");
  }
  std::vector<SliceAxis> out(data.size());
  for (size_t d = 0; d < data.size(); ++d) out[d].count = data[d];
  for (size_t i = 0; i < axis_list.size(); ++i) {
    const int64_t step = steps ? (*steps)[i] : 1;
    if (step == 0) return error(StatusCode::kInvalidModel, "Slice step is 0 for axis ", axis_list[i]);
    SliceAxis& s = out[static_cast<size_t>(axis_list[i])];
    const int64_t dim = data[static_cast<size_t>(axis_list[i])];
    s.step = step;
    if (dim < 0) {
      s.count = -1;
      continue;
    }
    int64_t start = starts[i] < 0 ? std::max(starts[i], -dim - 1) + dim : starts[i];
    int64_t end = ends[i] < 0 ? std::max(ends[i], -dim - 1) + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      s.count = end > start ? (end - start + step - 1) / step : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      s.count = start > end ? (start - end - step - 1) / -step : 0;
    }
    s.start = s.count > 0 ? start : 0;
  }
  return out;
}

Result<std::vector<int64_t>> split_sizes(int64_t dim, size_t num_outputs,
                                         const std::optional<std::vector<int64_t>>& split) {
  if (num_outputs == 0) return error(StatusCode::kInvalidModel, "Split has no outputs");
  if (split) {
    if (split->size() != num_outputs) {
      return error(StatusCode::kInvalidModel, "Split sizes have ", split->size(),
                   " entries for ", num_outputs, " outputs");
    }
    int64_t total = 0;
    for (int64_t s : *split) {
      if (s < 0) return error(StatusCode::kInvalidModel, "Split size ", s, " is negative");
      total += s;
    }
    if (dim >= 0 && total != dim) {
      return error(StatusCode::kInvalidModel, "Split sizes sum to ", total,
                   ", the split dim is ", dim);
    }
    return *split;
  }
  const auto n = static_cast<int64_t>(num_outputs);
  if (dim < 0) return std::vector<int64_t>(num_outputs, -1);
  const int64_t chunk = (dim + n - 1) / n;
  const int64_t last = dim - chunk * (n - 1);
  if (last < 0) {
    return error(StatusCode::kInvalidModel, "a dim of ", dim, " cannot be split into ", n,
                 " parts");
  }
  std::vector<int64_t> sizes(num_outputs, chunk);
  sizes.back() = last;
  return sizes;
}

}  // namespace convmend::shapes
