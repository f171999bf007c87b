// Shape and layout ops: CONCATENATION, RESHAPE, SQUEEZE, EXPAND_DIMS, TRANSPOSE, PACK, SPLIT,
// TILE. Shape, axes and permutation tensors are int32 in TFLite and int64 in the IR.
#include <algorithm>

#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

Result<int32_t> int32_vector(ExportContext& ctx, const std::vector<int64_t>& values,
                             const std::string& suffix) {
  return ctx.int32_constant(values, {static_cast<int64_t>(values.size())}, suffix);
}

Status import_concatenation(ImportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.opt_int("axis"));
  ASSIGN_OR_RETURN(Activation activation, ctx.fused_activation());
  Attributes a;
  a.set("axis", axis);
  a.set_activation(activation);
  ctx.add_node(OpKind::kConcat, ctx.inputs(), std::move(a));
  return Status::ok();
}

Status export_concat(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.node().attrs().get_int("axis", 1));
  ASSIGN_OR_RETURN(int8_t activation, ctx.fused_activation());
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kConcatenationOptions));
  RETURN_IF_ERROR(o.set_int("axis", axis));
  RETURN_IF_ERROR(o.set_int("fused_activation_function", activation));
  std::vector<int32_t> inputs;
  for (size_t i = 0; i < ctx.node().inputs().size(); ++i) {
    ASSIGN_OR_RETURN(int32_t t, ctx.input_tensor(i));
    inputs.push_back(t);
  }
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kConcatenation, inputs, {y}, std::move(o));
}

Status import_reshape(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  Value* shape = nullptr;
  if (ctx.input(1) != nullptr) {
    ASSIGN_OR_RETURN(shape, ctx.input_as_i64(1, "shape"));
  } else {
    ASSIGN_OR_RETURN(auto new_shape, ctx.options().get_ints("new_shape"));
    if (!new_shape) {
      return error(StatusCode::kInvalidModel, ctx.describe(), "has neither a shape input nor ",
                   "new_shape");
    }
    shape = ctx.constant_i64("shape", std::vector<int64_t>(new_shape->begin(), new_shape->end()));
  }
  Attributes a;
  // TensorFlow's 0 is a zero-sized dim, not "copy the input dim".
  const bool literal_zero =
      !shape->is_constant() ||
      std::ranges::count(shape->constant().to_int64s(), int64_t{0}) > 0;
  if (literal_zero) a.set("allowzero", int64_t{1});
  ctx.add_node(OpKind::kReshape, {x, shape}, std::move(a));
  return Status::ok();
}

// Without an options table, as converters write it: the shape input alone decides.
Status emit_reshape(ExportContext& ctx, int32_t shape) {
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kReshape, {x, shape}, {y});
}

Status export_reshape(ExportContext& ctx) {
  const Value* shape = ctx.input(1);
  if (!shape->is_constant()) {
    ASSIGN_OR_RETURN(int32_t s, ctx.input_tensor(1));
    return emit_reshape(ctx, s);
  }
  std::vector<int64_t> dims = shape->constant().to_int64s();
  ASSIGN_OR_RETURN(int64_t allowzero, ctx.node().attrs().get_int("allowzero", 0));
  const Shape& in = ctx.input(0)->shape();
  for (size_t d = 0; d < dims.size() && allowzero == 0; ++d) {
    if (dims[d] != 0) continue;
    if (d >= in.size() || in[d] < 0) {
      return error(StatusCode::kUnsupported, ctx.describe(), "shape dim ", d,
                   " copies an unknown input dim (allowzero 0), which TFLite cannot express");
    }
    dims[d] = in[d];
  }
  ASSIGN_OR_RETURN(int32_t s, int32_vector(ctx, dims, "shape"));
  return emit_reshape(ctx, s);
}

// Flatten (and Unsqueeze with several axes) as a RESHAPE to the output shape; one unknown dim
// becomes -1.
Status export_as_reshape(ExportContext& ctx) {
  const Shape& out = ctx.node().output(0)->shape();
  if (std::ranges::count_if(out, [](int64_t d) { return d < 0; }) > 1) {
    return error(StatusCode::kUnsupported, ctx.describe(), "output ", shape_to_string(out),
                 " has more than one unknown dim; it cannot be written as a RESHAPE");
  }
  ASSIGN_OR_RETURN(int32_t s, int32_vector(ctx, out, "shape"));
  return emit_reshape(ctx, s);
}

Status import_squeeze(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(auto dims, ctx.options().type == BuiltinOptionsType::kNone
                                  ? Result<std::optional<std::vector<int32_t>>>(std::nullopt)
                                  : ctx.options().get_ints("squeeze_dims"));
  std::vector<Value*> inputs = {x};
  if (dims && !dims->empty()) {
    inputs.push_back(ctx.constant_i64("axes", std::vector<int64_t>(dims->begin(), dims->end())));
  }
  ctx.add_node(OpKind::kSqueeze, inputs, Attributes{});
  return Status::ok();
}

Status export_squeeze(ExportContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.constant_ints(1));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kSqueezeOptions));
  if (!axes.empty()) {
    RETURN_IF_ERROR(o.set_ints("squeeze_dims", std::vector<int32_t>(axes.begin(), axes.end())));
  }
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kSqueeze, {x}, {y}, std::move(o));
}

Status import_expand_dims(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, ctx.constant_ints(1));
  if (axis.size() != 1) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "axis has ", axis.size(),
                 " values; 1 expected");
  }
  ctx.add_node(OpKind::kUnsqueeze, {x, ctx.constant_i64("axes", axis)}, Attributes{});
  return Status::ok();
}

Status export_unsqueeze(ExportContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.constant_ints(1));
  if (axes.size() != 1) return export_as_reshape(ctx);
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kExpandDimsOptions));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t axis, ctx.int32_constant(axes, {}, "axis"));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kExpandDims, {x, axis}, {y}, std::move(o));
}

Status import_transpose(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, ctx.constant_ints(1));
  Attributes a;
  a.set("perm", perm);
  ctx.add_node(OpKind::kTranspose, {x}, std::move(a));
  return Status::ok();
}

Status export_transpose(ExportContext& ctx) {
  const auto rank = static_cast<int64_t>(ctx.input(0)->shape().size());
  std::vector<int64_t> reversed;
  for (int64_t d = rank - 1; d >= 0; --d) reversed.push_back(d);
  ASSIGN_OR_RETURN(auto perm, ctx.node().attrs().get_ints("perm", reversed));
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kTransposeOptions));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  ASSIGN_OR_RETURN(int32_t p, int32_vector(ctx, perm, "perm"));
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kTranspose, {x, p}, {y}, std::move(o));
}

// PACK(x1..xn, axis) = Concat(Unsqueeze(x1, axis), ..., axis).
Status import_pack(ImportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.opt_int("axis"));
  ASSIGN_OR_RETURN(Value * first, ctx.required_input(0));
  const auto rank = static_cast<int64_t>(first->shape().size()) + 1;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "axis is out of range for rank ",
                 rank);
  }
  std::vector<Value*> parts;
  for (size_t i = 0; i < ctx.inputs().size(); ++i) {
    ASSIGN_OR_RETURN(Value * x, ctx.required_input(i));
    // One axes constant per Unsqueeze, as each EXPAND_DIMS written back has its own.
    Value* axes = ctx.constant_i64("axes_" + std::to_string(i), {axis});
    parts.push_back(ctx.add_helper(OpKind::kUnsqueeze, {x, axes}, Attributes{},
                                   "expand_" + std::to_string(i))
                        ->output(0));
  }
  Attributes a;
  a.set("axis", axis);
  a.set_activation(Activation::kNone);  // as CONCATENATION reads back
  ctx.add_node(OpKind::kConcat, parts, std::move(a));
  return Status::ok();
}

Status import_split(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axis, ctx.constant_ints(0));
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(1));
  ASSIGN_OR_RETURN(int64_t num_splits, ctx.opt_int("num_splits"));
  if (axis.size() != 1 || static_cast<size_t>(num_splits) != ctx.num_outputs()) {
    return error(StatusCode::kInvalidModel, ctx.describe(), "axis ", shape_to_string(axis),
                 " and num_splits ", num_splits, " for ", ctx.num_outputs(), " outputs");
  }
  Attributes a;
  a.set("axis", axis[0]);
  a.set("num_outputs", num_splits);
  ctx.add_node(OpKind::kSplit, {x}, std::move(a));
  return Status::ok();
}

Status export_split(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.node().attrs().get_int("axis", 0));
  const auto n = static_cast<int64_t>(ctx.node().outputs().size());
  if (ctx.input(1) != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> sizes, ctx.constant_ints(1));
    if (std::ranges::adjacent_find(sizes, std::ranges::not_equal_to{}) != sizes.end()) {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "unequal splits (SPLIT_V) cannot be written yet");
    }
  }
  ASSIGN_OR_RETURN(Options o, ctx.options(BuiltinOptionsType::kSplitOptions));
  RETURN_IF_ERROR(o.set_int("num_splits", n));
  ASSIGN_OR_RETURN(int32_t a, ctx.int32_constant({axis}, {}, "axis"));
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  std::vector<int32_t> outputs;
  for (int64_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(int32_t t, ctx.output_tensor(static_cast<size_t>(i)));
    outputs.push_back(t);
  }
  return ctx.emit(BuiltinOperator::kSplit, {a, x}, outputs, std::move(o));
}

Status import_tile(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Value * x, ctx.required_input(0));
  ASSIGN_OR_RETURN(Value * multiples, ctx.input_as_i64(1, "repeats"));
  ctx.add_node(OpKind::kTile, {x, multiples}, Attributes{});
  return Status::ok();
}

Status export_tile(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int32_t x, ctx.input_tensor(0));
  int32_t m = -1;
  if (ctx.input(1)->is_constant()) {
    ASSIGN_OR_RETURN(std::vector<int64_t> repeats, ctx.constant_ints(1));
    ASSIGN_OR_RETURN(m, ctx.int32_constant(repeats, ctx.input(1)->shape(), "multiples"));
  } else {
    ASSIGN_OR_RETURN(m, ctx.input_tensor(1));
  }
  ASSIGN_OR_RETURN(int32_t y, ctx.output_tensor(0));
  return ctx.emit(BuiltinOperator::kTile, {x, m}, {y});
}

}  // namespace

void register_tensor_ops(TfliteOpRegistry& r) {
  r.add_import(BuiltinOperator::kConcatenation, &import_concatenation);
  r.add_export(OpKind::kConcat, &export_concat);
  r.add_import(BuiltinOperator::kReshape, &import_reshape);
  r.add_export(OpKind::kReshape, &export_reshape);
  r.add_export(OpKind::kFlatten, &export_as_reshape);
  r.add_import(BuiltinOperator::kSqueeze, &import_squeeze);
  r.add_export(OpKind::kSqueeze, &export_squeeze);
  r.add_import(BuiltinOperator::kExpandDims, &import_expand_dims);
  r.add_export(OpKind::kUnsqueeze, &export_unsqueeze);
  r.add_import(BuiltinOperator::kTranspose, &import_transpose);
  r.add_export(OpKind::kTranspose, &export_transpose);
  r.add_import(BuiltinOperator::kPack, &import_pack);
  r.add_import(BuiltinOperator::kSplit, &import_split);
  r.add_export(OpKind::kSplit, &export_split);
  r.add_import(BuiltinOperator::kTile, &import_tile);
  r.add_export(OpKind::kTile, &export_tile);
}

}  // namespace convmend::tflite
