// Graph alignment: the first stage of localization. Maps the nodes of a source graph to the
// nodes of its converted target graph when the converter fused, split, re-laid-out or
// quantized them, and names for each match the pair of values whose tensors should be equal.
// The algorithm and the JSON schema are described in docs/alignment.md.
//
// align() only reads the graphs; an Alignment refers to nodes and values by id, so it stays
// meaningful for clones of the graphs (clones keep ids) and holds no pointers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend::analysis {

// Op equivalence classes: ops that a converter may turn into one another.
enum class OpClass : uint8_t {
  kConv,
  kDense,
  kNorm,
  kActivation,
  kPool,
  kGlobalPool,
  kReduce,
  kElementwise,
  kConcat,
  kSplit,
  kReshape,    // Reshape, Flatten, Squeeze, Unsqueeze, Identity, Cast
  kTranspose,
  kPad,
  kSoftmax,
  kResize,
  kQuant,      // QuantizeLinear, DequantizeLinear
  kOther,
};
const char* op_class_name(OpClass c);
OpClass op_class_of(OpKind op);

// How a match groups nodes: one source node to one target node, several source nodes to one
// target node (the converter fused them), one to several (it split one), or several to several.
enum class MatchKind : uint8_t { kOneToOne, kFused, kSplit, kManyToMany };
const char* match_kind_name(MatchKind k);

// How the comparison values relate: same layout; the same tensor after `permutation`; the same
// elements in another shape (compare flattened); or not comparable element by element.
enum class ValueTransform : uint8_t { kIdentity, kPermute, kReshape, kIncomparable };
const char* value_transform_name(ValueTransform t);

// Per-signal scores in [0, 1]; a negative value means "not available" (no weights, no samples).
struct SignalScores {
  double op_class = -1;
  double shape = -1;
  double weights = -1;
  double activation = -1;
  double order = -1;
};

struct NodeMatch {
  std::vector<int64_t> source_nodes;  // node ids, topological order, weight-path nodes included
  std::vector<int64_t> target_nodes;
  // The comparison point: the last value of the source block and of its target counterpart.
  int64_t source_value = -1;
  int64_t target_value = -1;
  ValueTransform transform = ValueTransform::kIdentity;
  // target = transpose(source, permutation) when transform is kPermute; empty otherwise.
  std::vector<int64_t> permutation;
  SignalScores scores;
  double confidence = 0;
  MatchKind kind = MatchKind::kOneToOne;
  bool anchor = false;    // matched through weights (conv-like or dense-like)
  bool in_order = true;   // false: recovered outside the monotone anchor sequence
};

struct Alignment {
  std::vector<NodeMatch> matches;  // anchors and the rest, in source topological order
  std::vector<int64_t> unmatched_source;  // node ids (nodes computing only on constants excluded)
  std::vector<int64_t> unmatched_target;
};

struct AlignOptions {
  // Minimum combined score for two weighted nodes to be matched by the ordered alignment.
  double min_anchor_score = 0.45;
  // Minimum weight-fingerprint score to match weighted nodes outside the monotone order.
  double min_reorder_weight_score = 0.9;
  // Minimum combined score for two non-weighted blocks between matched anchors.
  double min_block_score = 0.5;
  // Weight elements sampled per output channel for the layout-aware fingerprint.
  int samples_per_channel = 32;
};

// What align() reads of traced activations: per value name, the channel statistics of the
// value over the traced images (channel_statistics), for either graph. Statistics, not the
// tensors: every value of a ResNet101 is about 150 MiB per image.
struct ActivationSamples {
  std::map<std::string, std::vector<double>> source;
  std::map<std::string, std::vector<double>> target;
  int64_t images = 0;  // how many images were traced
};

// The statistics of traced tensors (value name -> tensor whose first axis is the batch) of
// `graph`, each on its value's inferred layout; names `graph` does not have are left out.
Result<std::map<std::string, std::vector<double>>> activation_statistics(
    const Graph& graph, const std::map<std::string, Tensor>& traced);

// Aligns `target` (the converted model) to `source`. `samples` may be null. Fails when a graph
// has a cycle; graphs with no weighted node still align by op class, shape and order.
Result<Alignment> align(const Graph& source, const Graph& target, const AlignOptions& options,
                        const ActivationSamples* samples);

// The alignment as a JSON document (docs/alignment.md), with each node's provenance.
std::string to_json(const Alignment& alignment, const Graph& source, const Graph& target);

// Exposed for tests and for the comparison stage.
// The permutation p with target_shape[i] == source_shape[p[i]] implied by the two layouts
// (NCHW -> NHWC is [0, 2, 3, 1]); empty when either is not a 4-D activation layout.
std::vector<int64_t> layout_permutation(Layout from, Layout to);

}  // namespace convmend::analysis
