// GATHER, SLICE, STRIDED_SLICE and SHAPE. Both slices read as one canonical Slice with starts,
// ends, axes and steps for every sliced axis (an open end is INT64_MAX, or INT64_MIN going
// backwards); STRIDED_SLICE's shrink_axis_mask adds a Squeeze. Slices are written as
// STRIDED_SLICE, or as SLICE when they came from one and still fit it.
#include <algorithm>
#include <limits>

#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

constexpr int64_t kOpenHigh = std::numeric_limits<int64_t>::max();
constexpr int64_t kOpenLow = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();

std::vector<int64_t> iota(size_t n) {
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

Status import_gather(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * indices, ctx.required_input(1));
  ASSIGN_OR_RETURN(int64_t axis, ctx.opt_int("axis"));
  ASSIGN_OR_RETURN(int64_t batch_dims, ctx.opt_int("batch_dims"));
  if (batch_dims != 0) {
    return error(StatusCode::kUnsupported, ctx.describe(), "batch_dims ", batch_dims,
                 " is not supported");
  }
  Attributes a;
  a.set("axis", axis);
  ctx.add_node(OpKind::kGather, {x, indices}, std::move(a));
  return Status::ok();
}

Status export_gather(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.node().attrs().get_int("axis", 0));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kGatherOptions));
  RETURN_IF_ERROR(o.set_int("axis", axis));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t i, ctx.input_tensor(1));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kGather, {x, i}, {y}, std::move(o));
}

void add_slice(ImportContext& ctx, Value* x, const std::vector<int64_t>& starts,
               const std::vector<int64_t>& ends, const std::vector<int64_t>& steps,
               const std::vector<int64_t>& squeeze_axes) {
  std::vector<Value*> inputs = {x, ctx.constant_i64("starts", starts),
                                ctx.constant_i64("ends", ends),
                                ctx.constant_i64("axes", iota(starts.size())),
                                ctx.constant_i64("steps", steps)};
  if (squeeze_axes.empty()) {
    ctx.add_node(OpKind::kSlice, inputs, Attributes{});
    return;
  }
  Node* slice = ctx.add_helper(OpKind::kSlice, inputs, Attributes{}, "slice");
  ctx.add_node(OpKind::kSqueeze, {slice->output(0), ctx.constant_i64("squeeze_axes", squeeze_axes)},
               Attributes{});
}

Status import_slice(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> begin, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(std::vector<int64_t> size, ctx.constant_ints(2));
  if (begin.size() != size.size()) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "begin and size differ in length");
  }
  std::vector<int64_t> ends;
  for (size_t i = 0; i < begin.size(); ++i) ends.push_back(size[i] < 0 ? kOpenHigh : begin[i] + size[i]);
  add_slice(ctx, x, begin, ends, std::vector<int64_t>(begin.size(), 1), {});
  return Status::ok();
}

Status import_strided_slice(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> begin, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(std::vector<int64_t> end, ctx.constant_ints(2));
  std::vector<int64_t> strides(begin.size(), 1);
  if (ctx.input(3) != nullptr) {
    ASSIGN_OR_RETURN(strides, ctx.constant_ints(3));
  }
  ASSIGN_OR_RETURN(int64_t begin_mask, ctx.opt_int("begin_mask"));
  ASSIGN_OR_RETURN(int64_t end_mask, ctx.opt_int("end_mask"));
  ASSIGN_OR_RETURN(int64_t ellipsis_mask, ctx.opt_int("ellipsis_mask"));
  ASSIGN_OR_RETURN(int64_t new_axis_mask, ctx.opt_int("new_axis_mask"));
  ASSIGN_OR_RETURN(int64_t shrink_mask, ctx.opt_int("shrink_axis_mask"));
  ASSIGN_OR_RETURN(bool offset, ctx.opt_bool("offset"));
  if (ellipsis_mask != 0 || new_axis_mask != 0 || offset) {
    return error(StatusCode::kUnsupported, ctx.describe(), "ellipsis_mask ", ellipsis_mask,
                 ", new_axis_mask ", new_axis_mask, ", offset ", offset,
                 ": only begin/end/shrink masks are supported");
  }
  if (end.size() != begin.size() || strides.size() != begin.size()) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "begin, end and strides differ in length");
  }
  std::vector<int64_t> starts, ends, steps, squeeze;
  for (size_t i = 0; i < begin.size(); ++i) {
    const bool bit_begin = (begin_mask >> i) & 1, bit_end = (end_mask >> i) & 1;
    const bool bit_shrink = (shrink_mask >> i) & 1;
    int64_t s = strides[i], b = begin[i], e = end[i];
    if (s == 0) return error(StatusCode::kInvalidModel, ctx.describe(), "stride 0 on axis ", i);
    if (bit_shrink) {
      // One element at begin; the axis is then dropped.
      s = 1;
      e = b == -1 ? kOpenHigh : b + 1;
      squeeze.push_back(static_cast<int64_t>(i));
    } else {
      if (bit_begin) b = s > 0 ? 0 : kOpenHigh;
      if (bit_end) e = s > 0 ? kOpenHigh : kOpenLow;
    }
    starts.push_back(b);
    ends.push_back(e);
    steps.push_back(s);
  }
  add_slice(ctx, x, starts, ends, steps, squeeze);
  return Status::ok();
}

Status export_slice(ExportContext& ctx) {
  const Value* x = ctx.input(0);
  const auto rank = static_cast<int64_t>(x->shape().size());
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(std::vector<int64_t> ends, ctx.constant_ints(2));
  std::vector<int64_t> axes = iota(starts.size());
  if (ctx.input(3) != nullptr) {
    ASSIGN_OR_RETURN(axes, ctx.constant_ints(3));
  }
  std::vector<int64_t> steps(starts.size(), 1);
  if (ctx.input(4) != nullptr) {
    ASSIGN_OR_RETURN(steps, ctx.constant_ints(4));
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "starts/ends/axes/steps differ in length");
  }
  // Full-rank begin/end/strides; axes not sliced take everything.
  int64_t sliced_rank = 0;
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || (rank > 0 && a >= rank) || (rank == 0)) {
      return error(StatusCode::kUnsupported, ctx.describe(), "axis out of range for input ",
                   shape_to_string(x->shape()));
    }
    sliced_rank = std::max(sliced_rank, a + 1);
  }
  std::vector<int64_t> begin(sliced_rank, 0), end(sliced_rank, 0), stride(sliced_rank, 1);
  int64_t begin_mask = 0, end_mask = 0;
  for (int64_t d = 0; d < sliced_rank; ++d) begin_mask |= int64_t{1} << d, end_mask |= int64_t{1} << d;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t d = axes[i], s = steps[i];
    stride[d] = s;
    begin_mask &= ~(int64_t{1} << d);
    end_mask &= ~(int64_t{1} << d);
    if ((s < 0 && starts[i] > kInt32Max) || (s > 0 && starts[i] < kInt32Min)) {
      begin_mask |= int64_t{1} << d;
    } else {
      begin[d] = std::clamp(starts[i], kInt32Min, kInt32Max);
    }
    if ((s > 0 && ends[i] > kInt32Max) || (s < 0 && ends[i] < kInt32Min)) {
      end_mask |= int64_t{1} << d;
    } else {
      end[d] = std::clamp(ends[i], kInt32Min, kInt32Max);
    }
  }
  ASSIGN_OR_RETURN(int32_t in, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  const Shape shape = {sliced_rank};
  // SLICE when the node came from one and still fits it: positive steps of 1, begins >= 0.
  bool fits_slice = ctx.node().provenance().op_type == "SLICE" && sliced_rank == rank;
  for (int64_t d = 0; fits_slice && d < sliced_rank; ++d) {
    fits_slice = stride[d] == 1 && begin[d] >= 0 && ((end_mask >> d) & 1 || end[d] >= begin[d]);
  }
  if (fits_slice) {
    std::vector<int64_t> size(static_cast<size_t>(sliced_rank));
    for (int64_t d = 0; d < sliced_rank; ++d) {
      size[d] = ((end_mask >> d) & 1) ? -1 : end[d] - begin[d];
      if ((begin_mask >> d) & 1) begin[d] = 0;
    }
    ASSIGN_OR_RETURN(int32_t b, ctx.int32_constant(begin, shape, "begin"));
    ASSIGN_OR_RETURN(int32_t sz, ctx.int32_constant(size, shape, "size"));
    return ctx.emit(BuiltinOperator::kSlice, {in, b, sz}, {y});
  }
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kStridedSliceOptions));
  RETURN_IF_ERROR(o.set_int("begin_mask", begin_mask));
  RETURN_IF_ERROR(o.set_int("end_mask", end_mask));
  ASSIGN_OR_RETURN(int32_t b, ctx.int32_constant(begin, shape, "begin"));
  ASSIGN_OR_RETURN(int32_t e, ctx.int32_constant(end, shape, "end"));
  ASSIGN_OR_RETURN(int32_t s, ctx.int32_constant(stride, shape, "strides"));
  return ctx.emit(BuiltinOperator::kStridedSlice, {in, b, e, s}, {y}, std::move(o));
}

// SHAPE with out_type int32 reads as Shape (int64) + Cast; the writer folds the Cast back.
Status import_shape(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(DType out, ctx.output_dtype(0));
  if (out == DType::kInt64) {
    ctx.add_node(OpKind::kShape, {x}, Attributes{});
    return Status::ok();
  }
  Node* shape = ctx.add_helper(OpKind::kShape, {x}, Attributes{}, "shape");
  Attributes a;
  a.set("to", std::string(dtype_name(out)));
  ctx.add_node(OpKind::kCast, {shape->output(0)}, std::move(a));
  return Status::ok();
}

Status export_shape(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t start, ctx.node().attrs().get_int("start", 0));
  if (start != 0 || ctx.node().attrs().has("end")) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Shape with start/end cannot be written");
  }
  // The output may share the tensor of a folded Cast (out_type int32).
  const Value* out = ctx.builder().resolve(ctx.node().output(0));
  ASSIGN_OR_RETURN(TensorType type, dtype_to_tflite(out->dtype()));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kShapeOptions));
  RETURN_IF_ERROR(o.set_int("out_type", static_cast<int8_t>(type)));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kShape, {x}, {y}, std::move(o));
}

}  // namespace

void register_indexing_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kGather, &import_gather);
  r.add_export(OpKind::kGather, &export_gather);
  r.add_import(BuiltinOperator::kSlice, &import_slice);
  r.add_import(BuiltinOperator::kStridedSlice, &import_strided_slice);
  r.add_export(OpKind::kSlice, &export_slice);
  r.add_import(BuiltinOperator::kShape, &import_shape);
  r.add_export(OpKind::kShape, &export_shape);
}

}  // namespace convmend::tflite
