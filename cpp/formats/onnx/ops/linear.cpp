// Gemm and MatMul are spelled as in the IR; FullyConnected (TFLite) becomes Gemm.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status export_fully_connected(ExportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t keep_num_dims, ctx.node().attrs().get_int("keep_num_dims", 0));
  const Value* x = ctx.node().input(0);
  if (keep_num_dims != 0 || x->shape().size() != 2) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "only 2-D FullyConnected can be written to ONNX yet");
  }
  const std::string pre = ctx.fresh_name("gemm");
  NodeProto& p = ctx.emit("Gemm", ctx.input_names(), {pre});
  AttributeProto trans_b;
  trans_b.name = "transB";
  trans_b.type = AttributeType::kInt;
  trans_b.i = 1;
  p.attribute.push_back(trans_b);
  return emit_fused_activation(ctx, pre, ctx.output_names()[0]);
}

}  // namespace

void register_linear_ops(OnnxOpRegistry& r) {
  add_same_name(r, OpKind::kGemm);
  add_same_name(r, OpKind::kMatMul);
  r.add_export(OpKind::kFullyConnected, &export_fully_connected);
}

}  // namespace convmend::onnx
