#include "ir/shape_inference.h"

namespace convmend {

Status infer_BatchNormalization(const Node& node, std::span<const TensorMeta> inputs,
                                std::vector<TensorMeta>& outputs, const InferOptions& options) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const Shape& x = inputs[0].shape;
  if (x.size() < 2) {
    return error(StatusCode::kInvalidModel, "BatchNormalization input ", shape_to_string(x),
                 " needs rank >= 2");
  }
  ASSIGN_OR_RETURN(DataLayout layout, node.attrs().get_data_layout());
  ASSIGN_OR_RETURN(int64_t training, node.attrs().get_int("training_mode", 0));
  if (training != 0) {
    return error(StatusCode::kUnsupported, "BatchNormalization training_mode is not supported");
  }
  const int64_t channels = layout == DataLayout::kNHWC ? x.back() : x[1];
  static const char* const kNames[] = {"", "scale", "B", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    if (!inputs[i].rank_known) continue;
    const Shape& p = inputs[i].shape;
    if (p.size() != 1 || (p[0] >= 0 && channels >= 0 && p[0] != channels)) {
      return error(StatusCode::kInvalidModel, "BatchNormalization ", kNames[i], " ",
                   shape_to_string(p), " does not match the ", channels, " channels of input ",
                   shape_to_string(x), " (", data_layout_name(layout), ")");
    }
  }
  outputs[0].shape = x;
  return Status::ok();
}

}  // namespace convmend
