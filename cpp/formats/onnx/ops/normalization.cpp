// BatchNormalization in inference mode only.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_batch_norm(ImportContext& ctx) {
  ASSIGN_OR_RETURN(int64_t training, ctx.attr_int("training_mode", 0));
  ASSIGN_OR_RETURN(int64_t spatial, ctx.attr_int("spatial", 1));
  if (training != 0) {
    return error(StatusCode::kUnsupported, ctx.describe(),
                 "training_mode=1: the model was exported in training mode");
  }
  if (spatial != 1) {
    return error(StatusCode::kUnsupported, ctx.describe(), "spatial=0 is not supported");
  }
  for (size_t i = 1; i < ctx.proto().output.size(); ++i) {
    if (!ctx.proto().output[i].empty()) {
      return error(StatusCode::kUnsupported, ctx.describe(),
                   "training outputs (running mean/var) are not supported");
    }
  }
  ASSIGN_OR_RETURN(float epsilon, ctx.attr_float("epsilon", 1e-5f));
  Attributes attrs;
  attrs.set("epsilon", static_cast<double>(epsilon));
  ctx.add_node(OpKind::kBatchNormalization, ctx.inputs(), attrs);
  return Status::ok();
}

}  // namespace

void register_normalization_ops(OnnxOpRegistry& r) {
  r.add_import("BatchNormalization", &import_batch_norm);
  r.add_export(OpKind::kBatchNormalization, &export_as_is);
}

}  // namespace convmend::onnx
