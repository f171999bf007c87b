#include "ir/shapes/window.h"

namespace convmend {

Result<PoolGeometry> resolve_pool(const Node& node, const Shape& x) {
  const Attributes& attrs = node.attrs();
  PoolGeometry g;
  if (x.size() != 4) {
    return error(StatusCode::kUnsupported, node.op_name(), " input ", shape_to_string(x),
                 " has rank ", x.size(), "; only 2-D pooling (4-D tensors) is supported");
  }
  ASSIGN_OR_RETURN(g.data_layout, attrs.get_data_layout());
  ASSIGN_OR_RETURN(g.activation, attrs.get_activation());
  ASSIGN_OR_RETURN(int64_t ceil_mode, attrs.get_int("ceil_mode", 0));
  ASSIGN_OR_RETURN(int64_t count_include_pad, attrs.get_int("count_include_pad", 0));
  g.ceil_mode = ceil_mode != 0;
  g.count_include_pad = count_include_pad != 0;
  ASSIGN_OR_RETURN(auto kernel, attrs.get_ints("kernel_shape", {}));
  if (kernel.size() != 2) {
    return error(StatusCode::kInvalidModel, node.op_name(), " kernel_shape ",
                 shape_to_string(kernel), " must have 2 values for input ", shape_to_string(x));
  }
  if (node.op() == OpKind::kAveragePool) {
    ASSIGN_OR_RETURN(auto dilations, attrs.get_ints("dilations", {1, 1}));
    for (int64_t d : dilations) {
      if (d != 1) {
        return error(StatusCode::kUnsupported, "AveragePool dilations ",
                     shape_to_string(dilations), " are not supported (only 1)");
      }
    }
  }
  g.in = image_dims(x, g.data_layout);
  ASSIGN_OR_RETURN(g.window,
                   resolve_window(attrs, g.in.h, g.in.w, kernel[0], kernel[1], g.ceil_mode));
  g.output_shape = image_shape({g.in.n, g.in.c, g.window.out_h, g.window.out_w}, g.data_layout);
  return g;
}

namespace {

Status infer_window_pool(const Node& node, std::span<const TensorMeta> inputs,
                         std::vector<TensorMeta>& outputs) {
  if (outputs.size() != 1) {
    return error(StatusCode::kUnsupported, node.op_name(), " with ", outputs.size(),
                 " outputs: the Indices output is not supported");
  }
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  ASSIGN_OR_RETURN(PoolGeometry g, resolve_pool(node, inputs[0].shape));
  outputs[0].shape = g.output_shape;
  return Status::ok();
}

Status infer_global_pool(const Node& node, std::span<const TensorMeta> inputs,
                         std::vector<TensorMeta>& outputs) {
  outputs[0].dtype = inputs[0].dtype;
  if (!inputs[0].rank_known) {
    outputs[0].rank_known = false;
    return Status::ok();
  }
  const Shape& x = inputs[0].shape;
  if (x.size() < 3) {
    return error(StatusCode::kInvalidModel, node.op_name(), " input ", shape_to_string(x),
                 " needs rank >= 3 (batch, channels, spatial dims)");
  }
  ASSIGN_OR_RETURN(DataLayout layout, node.attrs().get_data_layout());
  Shape out = x;
  // Spatial dims: after the channel axis in NCHW, between batch and channels in NHWC.
  const size_t first = layout == DataLayout::kNHWC ? 1 : 2;
  const size_t last = layout == DataLayout::kNHWC ? x.size() - 1 : x.size();
  for (size_t i = first; i < last; ++i) out[i] = 1;
  outputs[0].shape = out;
  return Status::ok();
}

}  // namespace

Status infer_MaxPool(const Node& node, std::span<const TensorMeta> inputs,
                     std::vector<TensorMeta>& outputs, const InferOptions& options) {
  return infer_window_pool(node, inputs, outputs);
}

Status infer_AveragePool(const Node& node, std::span<const TensorMeta> inputs,
                         std::vector<TensorMeta>& outputs, const InferOptions& options) {
  return infer_window_pool(node, inputs, outputs);
}

Status infer_GlobalAveragePool(const Node& node, std::span<const TensorMeta> inputs,
                               std::vector<TensorMeta>& outputs, const InferOptions& options) {
  return infer_global_pool(node, inputs, outputs);
}

Status infer_GlobalMaxPool(const Node& node, std::span<const TensorMeta> inputs,
                           std::vector<TensorMeta>& outputs, const InferOptions& options) {
  return infer_global_pool(node, inputs, outputs);
}

}  // namespace convmend
