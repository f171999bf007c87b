// Elementwise binary and variadic ops with numpy broadcasting (opset 7 and later; earlier
// opsets broadcast by an axis attribute, which is refused).
#include "formats/onnx/onnx_ops.h"

namespace convmend::onnx {

void register_binary_ops(OnnxOpRegistry& r) {
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kPow,
                    OpKind::kEqual, OpKind::kLess, OpKind::kGreater}) {
    add_same_name(r, op, 7);
  }
  for (OpKind op : {OpKind::kMax, OpKind::kMin, OpKind::kSum}) add_same_name(r, op, 8);
  add_same_name(r, OpKind::kWhere, 9);
}

}  // namespace convmend::onnx
