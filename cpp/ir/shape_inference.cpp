#include "ir/shape_inference.h"

#include <algorithm>
#include <array>

namespace convmend {
namespace {

constexpr std::array<ShapeFn, kNumOps> kShapeFns = {{
#define X(name, min_in, max_in, min_out, max_out) &infer_##name,
#include "ir/op_table.inc"
#undef X
}};
static_assert(kShapeFns.size() == static_cast<size_t>(kNumOps));

std::string describe_inputs(std::span<const TensorMeta> inputs) {
  std::string s;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) s += ", ";
    s += inputs[i].rank_known ? std::string(dtype_name(inputs[i].dtype)) +
                                    shape_to_string(inputs[i].shape)
                              : "_";
  }
  return s;
}

}  // namespace

Status infer_node(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions& options) {
  const OpInfo& info = op_info(node.op());
  const int n = static_cast<int>(inputs.size());
  if (n < info.min_inputs || n > info.max_inputs) {
    return error(StatusCode::kInvalidModel, node.describe(), "has ", n, " inputs, ", info.name,
                 " takes ", info.min_inputs, " to ", info.max_inputs);
  }
  for (int i = 0; i < info.min_inputs; ++i) {
    if (node.input(static_cast<size_t>(i)) == nullptr) {
      return error(StatusCode::kInvalidModel, node.describe(), "required input ", i,
                   " is missing");
    }
  }
  outputs.assign(node.outputs().size(), TensorMeta{});
  Status s = kShapeFns[static_cast<size_t>(node.op())](node, inputs, outputs, options);
  if (!s.is_ok()) {
    return s.with_context(node.describe() + "inputs (" + describe_inputs(inputs) + "): ");
  }
  if (outputs.size() != node.outputs().size()) {
    return error(StatusCode::kInternal, node.describe(), "shape function gave ", outputs.size(),
                 " outputs for ", node.outputs().size());
  }
  return Status::ok();
}

Result<int64_t> normalize_axis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
    return error(StatusCode::kInvalidModel, "axis ", axis, " is out of range for rank ", rank);
  }
  return axis < 0 ? axis + rank : axis;
}

Result<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else if (db == 1) {
      out[i] = da;
    } else if (da < 0 || db < 0) {
      out[i] = std::max(da, db) > 1 ? std::max(da, db) : -1;
    } else {
      return error(StatusCode::kInvalidArgument, "shapes ", shape_to_string(a), " and ",
                   shape_to_string(b), " do not broadcast");
    }
  }
  return out;
}

Result<SpatialDim> spatial_output(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                  int64_t pad_begin, int64_t pad_end, AutoPad auto_pad,
                                  bool ceil_mode) {
  if (kernel <= 0 || stride <= 0 || dilation <= 0) {
    return error(StatusCode::kInvalidModel, "kernel ", kernel, ", stride ", stride,
                 " and dilation ", dilation, " must be positive");
  }
  if (pad_begin < 0 || pad_end < 0) {
    return error(StatusCode::kInvalidModel, "negative padding ", pad_begin, ", ", pad_end);
  }
  SpatialDim d;
  if (in < 0) {
    d.out = -1;
    return d;
  }
  const int64_t effective = (kernel - 1) * dilation + 1;
  switch (auto_pad) {
    case AutoPad::kValid:
      d.out = in >= effective ? (in - effective) / stride + 1 : 0;
      break;
    case AutoPad::kSameUpper:
    case AutoPad::kSameLower: {
      d.out = (in + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (d.out - 1) * stride + effective - in);
      d.pad_begin = auto_pad == AutoPad::kSameUpper ? total / 2 : total - total / 2;
      d.pad_end = total - d.pad_begin;
      break;
    }
    case AutoPad::kNotSet: {
      d.pad_begin = pad_begin;
      d.pad_end = pad_end;
      const int64_t span = in + pad_begin + pad_end - effective;
      if (span < 0) {
        d.out = 0;
        break;
      }
      d.out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
      // A window that would start inside the end padding is dropped (PyTorch, ONNX Runtime).
      if (ceil_mode && (d.out - 1) * stride >= in + pad_begin) --d.out;
      break;
    }
  }
  if (d.out <= 0) {
    return error(StatusCode::kInvalidArgument, "spatial size ", in, " is smaller than the ",
                 effective, "-wide window");
  }
  return d;
}

}  // namespace convmend
