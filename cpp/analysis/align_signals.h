// The signals that graph alignment combines (internal to cpp/analysis): weight fingerprints
// that survive layout changes, BatchNorm folding and quantization; activation layouts and the
// permutation between two values; shapes up to a permutation; activation statistics.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "analysis/align.h"
#include "ir/graph.h"

namespace convmend::analysis {

// A weight tensor seen in a canonical [out, in...] order, summarised per output channel.
struct WeightFingerprint {
  int64_t channels = 0;     // output channels
  int64_t per_channel = 0;  // elements per output channel
  bool canonical = false;   // false: the layout is unknown, only the moments are valid
  // channels x samples: elements at fixed canonical positions of each channel.
  int samples = 0;
  std::vector<float> sketch;
  // channels x 3 scale-invariant moments: L1/(sqrt(K) L2), max/L2, L2^4/(K sum x^4).
  std::vector<float> moments;
  // Whole tensor, scale-invariant: the same three moments.
  float global[3] = {0, 0, 0};
};

// The weight of a Conv / FullyConnected / Gemm / MatMul whose weight input is computed from
// constants only (through Transpose, DequantizeLinear, Cast, Identity, Reshape); nullopt when
// the node has no such weight.
std::optional<WeightFingerprint> weight_fingerprint(const Node& node, int samples_per_channel);

// 1 for the same weights (up to per-channel scale, layout and quantization noise), near 0
// for unrelated ones, 0 when the sizes differ. `sketch_score` receives the layout-aware part
// (-1 when unavailable).
double weight_similarity(const WeightFingerprint& a, const WeightFingerprint& b,
                         double* sketch_score);

// Activation layouts (NCHW / NHWC / unknown) of every value, indexed by value id.
std::vector<Layout> infer_activation_layouts(const Graph& graph,
                                             const std::vector<Node*>& order);

// 1: same non-unit dims up to a permutation; 0.5: same element count; 0 otherwise.
double shape_similarity(const Shape& a, const Shape& b);

// How to compare a source value with a target value (see ValueTransform).
ValueTransform value_relation(const Shape& source, Layout source_layout, const Shape& target,
                              Layout target_layout, std::vector<int64_t>* permutation);

// Per-channel mean and mean |x| of a traced batch, channels on `channel_axis`.
std::vector<double> channel_statistics(const Tensor& t, int channel_axis);
// 1 for equal statistics, falling towards 0 as they differ; -1 when not comparable.
double statistics_similarity(const std::vector<double>& a, const std::vector<double>& b);
// The channel axis of an activation of `rank` in `layout`.
int channel_axis_of(Layout layout, int rank);

}  // namespace convmend::analysis
