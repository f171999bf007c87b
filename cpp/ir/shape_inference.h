// Shape and dtype inference, one function per op (ir/shapes/<family>.cpp), dispatched through
// a table built from op_table.inc. The same functions serve static inference (values may be
// unknown) and the interpreter (every input value known), so shape logic lives in one place.
#pragma once

#include <span>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend {

// What is known of a value: its dtype and shape (-1 for an unknown dim) and, when known,
// its data (constants; every value at run time).
struct TensorMeta {
  DType dtype = DType::kFloat32;
  Shape shape;
  const Tensor* value = nullptr;
  bool rank_known = true;  // false when even the rank is unknown
};

struct InferOptions {
  // The interpreter's exact mode computes float32 values in float64: ops that produce
  // float32 from non-float inputs (Cast, DequantizeLinear, ConstantOfShape) produce f64.
  bool promote_float64 = false;
};

using ShapeFn = Status (*)(const Node& node, std::span<const TensorMeta> inputs,
                           std::vector<TensorMeta>& outputs, const InferOptions& options);

#define X(name, min_in, max_in, min_out, max_out)                                        \
  Status infer_##name(const Node& node, std::span<const TensorMeta> inputs,             \
                      std::vector<TensorMeta>& outputs, const InferOptions& options);
#include "ir/op_table.inc"
#undef X

// Checks arity, calls the op's shape function, and adds the node to any error message.
// `inputs` has one entry per node input; an omitted optional input has a meta with
// rank_known = false and value = nullptr, and node.input(i) == nullptr.
Status infer_node(const Node& node, std::span<const TensorMeta> inputs,
                  std::vector<TensorMeta>& outputs, const InferOptions& options);

// Helpers shared by the shape functions.
// Normalizes a possibly negative axis against `rank`; fails when out of range.
Result<int64_t> normalize_axis(int64_t axis, int64_t rank);
// Numpy broadcasting of two shapes (-1 dims propagate when they cannot be resolved).
Result<Shape> broadcast_shapes(const Shape& a, const Shape& b);
// Output size of a pooled or convolved spatial dim, and the pads auto_pad implies.
struct SpatialDim {
  int64_t out = 0;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
};
Result<SpatialDim> spatial_output(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                  int64_t pad_begin, int64_t pad_end, AutoPad auto_pad,
                                  bool ceil_mode);

}  // namespace convmend
