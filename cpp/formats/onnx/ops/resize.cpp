// Resize (opset 10: X and scales; opset 11+: X, roi, scales, sizes) and the older Upsample.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

// Opset 18+ `axes` names the dims that scales/sizes cover; the IR takes them for every dim.
// They are completed in the graph: gathered from [given..., fill...], where the fill is 1 for
// scales and the input's own dims (Shape(X)) for sizes. Needs the rank of X.
Status import_resize_with_axes(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, ctx.attr_ints("axes"));
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({"axes"}));
  Value* x = ctx.input(0);
  const auto rank = static_cast<int64_t>(x->shape().size());
  std::vector<int64_t> slot(static_cast<size_t>(rank), -1);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t axis = axes[i] < 0 ? axes[i] + rank : axes[i];
    if (axis < 0 || axis >= rank || slot[static_cast<size_t>(axis)] != -1) {
      return error(StatusCode::kInvalidModel, ctx.describe(), "axes ", axes[i],
                   " is out of range or repeated for rank ", rank);
    }
    slot[static_cast<size_t>(axis)] = static_cast<int64_t>(i);
  }
  const auto given = static_cast<int64_t>(axes.size());
  std::vector<Value*> inputs = ctx.inputs();
  inputs.resize(4, nullptr);
  Graph& g = ctx.graph();
  const std::string base = ctx.proto().output[0] + "/axes_";
  auto add = [&](OpKind op, const std::string& suffix, const std::vector<Value*>& in) {
    Node* n = g.add_node(op, base + suffix, in, {base + suffix});
    n->set_provenance(Provenance{"onnx", ctx.proto().name, ctx.proto().op_type, ctx.index()});
    return n;
  };
  for (size_t k : {size_t{2}, size_t{3}}) {
    if (inputs[k] == nullptr) continue;
    const bool scales = k == 2;
    std::vector<int64_t> index(static_cast<size_t>(rank));
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t s = slot[static_cast<size_t>(d)];
      index[static_cast<size_t>(d)] = s >= 0 ? s : scales ? given : given + d;
    }
    Value* fill = scales ? g.add_constant(base + "one", Tensor::from_vector<float>(
                                                            DType::kFloat32, {1}, {1.0f}))
                         : add(OpKind::kShape, "shape", {x})->output(0);
    Node* cat = add(OpKind::kConcat, scales ? "scales_ext" : "sizes_ext", {inputs[k], fill});
    cat->attrs().set("axis", int64_t{0});
    Node* full = add(OpKind::kGather, scales ? "scales" : "sizes",
                     {cat->output(0), ctx.constant_i64(scales ? "scales_index" : "sizes_index",
                                                       index)});
    full->attrs().set("axis", int64_t{0});
    inputs[k] = full->output(0);
  }
  while (!inputs.empty() && inputs.back() == nullptr) inputs.pop_back();
  ctx.add_node(OpKind::kResize, inputs, attrs);
  return Status::ok();
}

Status import_resize(ImportContext& ctx) {
  // Without a known rank of X the axes stay, and the shape function refuses them.
  if (ctx.opset() >= 18 && ctx.attr("axes") != nullptr && ctx.input(0) != nullptr &&
      !ctx.input(0)->shape().empty()) {
    return import_resize_with_axes(ctx);
  }
  if (ctx.opset() >= 11) return import_as_is(ctx);
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes());
  // Opset 10 Resize samples like Upsample: asymmetric coordinates, nearest rounds down.
  attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  attrs.set("nearest_mode", std::string("floor"));
  ctx.add_node(OpKind::kResize, {ctx.input(0), nullptr, ctx.input(1)}, attrs);
  return Status::ok();
}

Status import_upsample(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::string mode, ctx.attr_string("mode", "nearest"));
  Attributes attrs;
  attrs.set("mode", mode == "bilinear" ? std::string("linear") : mode);
  attrs.set("coordinate_transformation_mode", std::string("asymmetric"));
  attrs.set("nearest_mode", std::string("floor"));
  Value* scales = ctx.input(1);
  if (scales == nullptr) {
    const AttributeProto* a = ctx.attr("scales");
    if (a == nullptr) return error(StatusCode::kInvalidModel, ctx.describe(), "no scales");
    std::vector<float> values = a->floats;
    scales = ctx.graph().add_constant(
        ctx.proto().output[0] + "/scales",
        Tensor::from_vector<float>(DType::kFloat32, {static_cast<int64_t>(values.size())}, values));
  }
  ctx.add_node(OpKind::kResize, {ctx.input(0), nullptr, scales}, attrs);
  return Status::ok();
}

Status export_resize(ExportContext& ctx) {
  if (ctx.opset() < 11) {
    return error(StatusCode::kUnsupported, ctx.describe(), "Resize needs ONNX opset 11 or later");
  }
  return export_as_is(ctx);
}

}  // namespace

void register_resize_ops(OnnxOpRegistry& r) {
  r.add_import("Resize", &import_resize, 10);
  r.add_import("Upsample", &import_upsample, 7);
  r.add_export(OpKind::kResize, &export_resize);
}

}  // namespace convmend::onnx
