#include "ir/shapes/pad.h"

namespace convmend {

Result<PadMode> pad_mode(const Attributes& attrs) {
  ASSIGN_OR_RETURN(std::string mode, attrs.get_string("mode", "constant"));
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  return error(StatusCode::kUnsupported, "Pad mode '", mode,
               "' is not supported (constant, reflect, edge)");
}

Result<PadAmounts> resolve_pads(int64_t rank, const Tensor& pads, const Tensor* axes) {
  if (is_float(pads.dtype())) {
    return error(StatusCode::kInvalidModel, "Pad pads must be integers, not ",
                 dtype_name(pads.dtype()));
  }
  const std::vector<int64_t> p = pads.to_int64s();
  std::vector<int64_t> axis_list;
  if (axes != nullptr && axes->num_elements() > 0) {
    for (int64_t a : axes->to_int64s()) {
      ASSIGN_OR_RETURN(int64_t axis, normalize_axis(a, rank));
      axis_list.push_back(axis);
    }
  } else {
    for (int64_t i = 0; i < rank; ++i) axis_list.push_back(i);
  }
  const size_t n = axis_list.size();
  if (p.size() != 2 * n) {
    return error(StatusCode::kInvalidModel, "Pad pads has ", p.size(), " values, expected ",
                 2 * n, " (begins and ends of ", n, " axes)");
  }
  PadAmounts amounts;
  amounts.begin.assign(static_cast<size_t>(rank), 0);
  amounts.end.assign(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < n; ++i) {
    amounts.begin[static_cast<size_t>(axis_list[i])] = p[i];
    amounts.end[static_cast<size_t>(axis_list[i])] = p[n + i];
  }
  return amounts;
}

Status infer_Pad(const Node& node, std::span<const TensorMeta> inputs,
                 std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  ASSIGN_OR_RETURN(PadMode mode, pad_mode(node.attrs()));
  (void)mode;
  if (!inputs[0].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const Shape& x = inputs[0].shape;
  const int64_t rank = static_cast<int64_t>(x.size());
  const bool has_axes = inputs.size() > 3 && inputs[3].rank_known;
  if (inputs[1].value == nullptr || (has_axes && inputs[3].value == nullptr)) {
    outputs[0].shape = Shape(x.size(), -1);
    return Status::ok();
  }
  ASSIGN_OR_RETURN(PadAmounts amounts,
                   resolve_pads(rank, *inputs[1].value, has_axes ? inputs[3].value : nullptr));
  Shape out = x;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] < 0) continue;
    out[i] = x[i] + amounts.begin[i] + amounts.end[i];
    if (out[i] < 0) {
      return error(StatusCode::kInvalidModel, "Pad crops axis ", i, " of ", shape_to_string(x),
                   " by ", -amounts.begin[i], " and ", -amounts.end[i],
                   ", more than its size");
    }
  }
  outputs[0].shape = out;
  return Status::ok();
}

}  // namespace convmend
