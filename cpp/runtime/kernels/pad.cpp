#include <vector>

#include "ir/shapes/pad.h"
#include "runtime/kernel.h"

namespace convmend {
namespace {

// For each output index along one axis, the input index it reads, or -1 for the constant.
// Negative pads crop first; the padding then extends the cropped input (as ONNX Runtime).
Result<std::vector<int64_t>> axis_map(PadMode mode, int64_t dim, int64_t begin, int64_t end,
                                      int64_t out) {
  const int64_t crop_begin = begin < 0 ? -begin : 0;
  const int64_t crop_end = end < 0 ? -end : 0;
  const int64_t pad_begin = begin > 0 ? begin : 0;
  const int64_t len = dim - crop_begin - crop_end;
  std::vector<int64_t> map(static_cast<size_t>(out));
  if (len <= 0 && mode != PadMode::kConstant && out > 0) {
    return error(StatusCode::kInvalidArgument, "Pad in edge or reflect mode of an axis of size ",
                 dim, " cropped to ", len);
  }
  for (int64_t o = 0; o < out; ++o) {
    int64_t r = o - pad_begin;
    if (r < 0 || r >= len) {
      if (mode == PadMode::kConstant) {
        map[static_cast<size_t>(o)] = -1;
        continue;
      }
      if (mode == PadMode::kEdge || len == 1) {
        r = r < 0 ? 0 : len - 1;
      } else {  // reflect without repeating the edge, periodic like numpy
        const int64_t period = 2 * (len - 1);
        r %= period;
        if (r < 0) r += period;
        if (r >= len) r = period - r;
      }
    }
    map[static_cast<size_t>(o)] = r + crop_begin;
  }
  return map;
}

template <typename T>
void pad(const Tensor& x, const std::vector<std::vector<int64_t>>& maps, double constant,
         Tensor& y) {
  const int rank = x.rank();
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const T fill = static_cast<T>(constant);
  if (y.num_elements() == 0) return;
  if (rank == 0) {
    out[0] = in[0];
    return;
  }
  std::vector<int64_t> in_strides(static_cast<size_t>(rank), 1);
  for (int i = rank - 2; i >= 0; --i) in_strides[i] = in_strides[i + 1] * x.dim(i + 1);
  const int64_t inner = y.dim(rank - 1);
  const std::vector<int64_t>& last = maps.back();
  std::vector<int64_t> index(static_cast<size_t>(rank - 1), 0);
  const int64_t rows = y.num_elements() / inner;
  for (int64_t row = 0; row < rows; ++row) {
    T* dst = out + row * inner;
    int64_t base = 0;
    bool constant_row = false;
    for (int i = 0; i + 1 < rank; ++i) {
      const int64_t src = maps[i][index[i]];
      if (src < 0) constant_row = true;
      base += src * in_strides[i];
    }
    if (constant_row) {
      for (int64_t j = 0; j < inner; ++j) dst[j] = fill;
    } else {
      for (int64_t j = 0; j < inner; ++j) dst[j] = last[j] < 0 ? fill : in[base + last[j]];
    }
    for (int i = rank - 2; i >= 0; --i) {
      if (++index[i] < y.dim(i)) break;
      index[i] = 0;
    }
  }
}

}  // namespace

Status run_Pad(KernelContext& ctx) {
  const Tensor& x = *ctx.inputs[0];
  Tensor& y = *ctx.outputs[0];
  ASSIGN_OR_RETURN(PadMode mode, pad_mode(ctx.node.attrs()));
  const Tensor* axes = ctx.inputs.size() > 3 ? ctx.inputs[3] : nullptr;
  ASSIGN_OR_RETURN(PadAmounts amounts, resolve_pads(x.rank(), *ctx.inputs[1], axes));
  double constant = 0.0;
  if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr && ctx.inputs[2]->num_elements() > 0) {
    constant = ctx.inputs[2]->to_doubles()[0];
  }
  std::vector<std::vector<int64_t>> maps;
  for (int i = 0; i < x.rank(); ++i) {
    ASSIGN_OR_RETURN(std::vector<int64_t> m, axis_map(mode, x.dim(i), amounts.begin[i],
                                                      amounts.end[i], y.dim(i)));
    maps.push_back(std::move(m));
  }
  switch (x.dtype()) {
    case DType::kFloat32:
      pad<float>(x, maps, constant, y);
      break;
    case DType::kFloat64:
      pad<double>(x, maps, constant, y);
      break;
    case DType::kInt32:
      pad<int32_t>(x, maps, constant, y);
      break;
    case DType::kInt64:
      pad<int64_t>(x, maps, constant, y);
      break;
    case DType::kInt8:
      pad<int8_t>(x, maps, constant, y);
      break;
    case DType::kUInt8:
      pad<uint8_t>(x, maps, constant, y);
      break;
    default:
      return error(StatusCode::kUnsupported, "Pad does not support dtype ",
                   dtype_name(x.dtype()));
  }
  return Status::ok();
}

}  // namespace convmend
