// Activation and weight comparison for localization: tensors seen in the other graph's layout,
// relative errors over a batch, top-1 labels, weights in a canonical [out, in, kh, kw] order,
// and the numeric tolerances calibrated per op class and weight dtype (docs/localize.md).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/align.h"
#include "ir/graph.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend::analysis {

// Float32 copy of any float / integer tensor; quantized tensors are dequantized.
Result<Tensor> as_f32(const Tensor& t);

// out = numpy.transpose(t, perm) (float32 or float64 input, float32 output).
Result<Tensor> permuted(const Tensor& t, const std::vector<int64_t>& perm);

// A source comparison value seen as the target's: permuted, reshaped to `target_shape` or
// unchanged, as the match's transform says. Fails for kIncomparable or a size mismatch.
Result<Tensor> source_in_target_view(const Tensor& source, const NodeMatch& match,
                                     const Shape& target_shape);
// The inverse: a target tensor in the source's layout (for feeding source-side blocks).
Result<Tensor> target_in_source_view(const Tensor& target, const NodeMatch& match,
                                     const Shape& source_shape);

// max |actual - reference| and max |reference|, accumulated over the chunks of a batch; the
// relative error of the whole batch is their ratio.
struct ErrorAccumulator {
  double max_diff = 0;
  double max_reference = 0;
  bool valid = true;  // false once two tensors did not fit
  void add(const Tensor& actual, const Tensor& reference);
  double relative() const;
};

// Index of the largest element of each row (first axis = batch) of a float tensor.
std::vector<int64_t> top1_labels(const Tensor& logits);

// How a weighted node reads its weight, and the weight brought to [out, in, kh, kw] (conv)
// or [out, in] (dense), dequantized to float32.
enum class WeightOrder : uint8_t { kOIHW, kOHWI, k1HWO, kOI, kIO };
struct CanonicalWeight {
  Tensor canonical;  // float32, canonical order
  WeightOrder order = WeightOrder::kOI;
  const Value* stored = nullptr;  // the constant that holds the weight in the file
  DType stored_dtype = DType::kFloat32;
  QuantParams quant;   // quantization of the stored constant, if any
  bool direct = true;  // stored feeds the node directly or through Dequantize/Cast
};
std::optional<CanonicalWeight> canonical_weight(const Node& node);
// The canonical tensor written back in `order` (the inverse of canonical_weight's reorder).
Result<Tensor> from_canonical(const Tensor& canonical, WeightOrder order, const Shape& stored);
// A float32 tensor converted to the stored dtype: quantized with `quant` (clamped) for int8 /
// uint8, narrowed for float16.
Result<Tensor> to_stored_dtype(const Tensor& f32, DType dtype, const QuantParams& quant);

// Relative tolerance of an isolated check for an op class whose weights are stored in
// `weight_dtype` (float32 when the block has none), scaled by `scale`.
double isolated_tolerance(OpClass op_class, DType weight_dtype, double scale);

}  // namespace convmend::analysis
