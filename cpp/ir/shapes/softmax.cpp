// Shape function of Softmax: the output has the dtype and shape of X.
#include "ir/shapes/shape_helpers.h"

namespace convmend {

Status infer_Softmax(const Node& node, std::span<const TensorMeta> inputs,
                     std::vector<TensorMeta>& outputs, const InferOptions&) {
  RETURN_IF_ERROR(shapes::check_dtype(node, inputs[0], shapes::kFloatTypes, "input"));
  ASSIGN_OR_RETURN(int64_t axis, node.attrs().get_int("axis", -1));
  ASSIGN_OR_RETURN(int64_t coerce_2d, node.attrs().get_int("coerce_2d", 0));
  ASSIGN_OR_RETURN(double beta, node.attrs().get_float("beta", 1.0));
  (void)beta;
  if (coerce_2d != 0 && coerce_2d != 1) {
    return error(StatusCode::kInvalidModel, "Softmax coerce_2d must be 0 or 1, not ", coerce_2d);
  }
  if (inputs[0].rank_known) {
    RETURN_IF_ERROR(shapes::tensor_axis(axis, static_cast<int64_t>(inputs[0].shape.size())).status());
  }
  outputs[0] = inputs[0];
  outputs[0].value = nullptr;
  return Status::ok();
}

}  // namespace convmend
