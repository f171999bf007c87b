// Helpers shared by the shape functions of the elementwise, reduction and tensor-movement
// ops (ir/shapes/*.cpp). Kernels use resolve_slice too, so shape logic lives in one place.
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "ir/shape_inference.h"

namespace convmend::shapes {

inline TensorMeta make_meta(DType dtype, Shape shape) {
  TensorMeta m;
  m.dtype = dtype;
  m.shape = std::move(shape);
  return m;
}

inline TensorMeta unknown_rank_meta(DType dtype) {
  TensorMeta m;
  m.dtype = dtype;
  m.rank_known = false;
  return m;
}

// True when optional input `i` is given (an omitted one is nullptr on the node).
inline bool has_input(const Node& node, std::span<const TensorMeta> inputs, size_t i) {
  return i < inputs.size() && node.input(i) != nullptr;
}

// float32 becomes float64 in the interpreter's exact mode.
inline DType promoted(DType dtype, const InferOptions& options) {
  return options.promote_float64 && dtype == DType::kFloat32 ? DType::kFloat64 : dtype;
}

inline constexpr std::initializer_list<DType> kFloatTypes = {DType::kFloat32, DType::kFloat64};
inline constexpr std::initializer_list<DType> kNumericTypes = {DType::kFloat32, DType::kFloat64,
                                                               DType::kInt32, DType::kInt64};

// kUnsupported "<Op> does not support dtype <d> (input <what>)" unless `meta.dtype` is allowed.
Status check_dtype(const Node& node, const TensorMeta& meta, std::initializer_list<DType> allowed,
                   const char* what);
// Fails unless the input is an integer tensor (i32/i64) whose rank is at most `max_rank`.
Status check_int_input(const Node& node, const TensorMeta& meta, int max_rank, const char* what);

// The elements of a known integer input; std::nullopt when the value is unknown.
std::optional<std::vector<int64_t>> known_ints(const TensorMeta& meta);
// The number of elements of a 1-D input whose length is known; -1 otherwise.
int64_t known_length(const TensorMeta& meta);

// An axis of a tensor normalized against `rank`; unlike normalize_axis, refuses scalars, which
// have no axis.
Result<int64_t> tensor_axis(int64_t axis, int64_t rank);
// Axes normalized against `rank` (as tensor_axis), refusing duplicates.
Result<std::vector<int64_t>> normalize_axes(const std::vector<int64_t>& axes, int64_t rank);

// Gelu's `approximate`: true for "tanh", false for "none" (the default), an error otherwise.
Result<bool> gelu_uses_tanh(const Attributes& attrs);

// Which dims of a rank-`rank` input a Reduce* op reduces: the given axes, or every dim when
// they are absent or empty (none when noop_with_empty_axes is set).
Result<std::vector<bool>> reduced_dims(int64_t rank, const std::optional<std::vector<int64_t>>& axes,
                                       bool noop_with_empty_axes);

// Slice of one axis: out[i] = in[start + i * step] for i < count.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};
// ONNX Slice: clamps starts/ends into the dim, negative steps walk backwards. One entry per
// dim of `data`; dims not named by `axes` are taken whole. A dim of -1 gives count -1.
Result<std::vector<SliceAxis>> resolve_slice(const Shape& data, const std::vector<int64_t>& starts,
                                             const std::vector<int64_t>& ends,
                                             const std::optional<std::vector<int64_t>>& axes,
                                             const std::optional<std::vector<int64_t>>& steps);

// Sizes of Split's outputs along a dim of size `dim` (-1 when unknown).
Result<std::vector<int64_t>> split_sizes(int64_t dim, size_t num_outputs,
                                         const std::optional<std::vector<int64_t>>& split);

}  // namespace convmend::shapes
