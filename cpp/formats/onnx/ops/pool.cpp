// MaxPool, AveragePool and the global pools.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_max_pool(ImportContext& ctx) {
  if (ctx.proto().output.size() > 1 && !ctx.proto().output[1].empty()) {
    return error(StatusCode::kUnsupported, ctx.describe(), "the Indices output is not supported");
  }
  ASSIGN_OR_RETURN(int64_t storage_order, ctx.attr_int("storage_order", 0));
  if (storage_order != 0) {
    return error(StatusCode::kUnsupported, ctx.describe(), "storage_order=1 is not supported");
  }
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({"storage_order"}));
  ctx.add_node(OpKind::kMaxPool, ctx.inputs(), attrs);
  return Status::ok();
}

}  // namespace

void register_pool_ops(OnnxOpRegistry& r) {
  r.add_import("MaxPool", &import_max_pool);
  r.add_export(OpKind::kMaxPool, &export_as_is);
  add_same_name(r, OpKind::kAveragePool);
  add_same_name(r, OpKind::kGlobalAveragePool);
  add_same_name(r, OpKind::kGlobalMaxPool);
}

}  // namespace convmend::onnx
