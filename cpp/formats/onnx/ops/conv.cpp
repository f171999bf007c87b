// Conv in ONNX: NCHW data, OIHW weights; kernel_shape is implied by the weights.
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {
namespace {

Status import_conv(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes({"kernel_shape"}));
  std::vector<Value*> inputs = ctx.inputs();
  while (!inputs.empty() && inputs.back() == nullptr) inputs.pop_back();
  if (inputs.size() >= 2 && inputs[1]->is_constant()) inputs[1]->set_layout(Layout::kOIHW);
  ctx.add_node(OpKind::kConv, inputs, attrs);
  return Status::ok();
}

}  // namespace

void register_conv_ops(OnnxOpRegistry& r) {
  r.add_import("Conv", &import_conv);
  r.add_export(OpKind::kConv, &export_as_is);
}

}  // namespace convmend::onnx
