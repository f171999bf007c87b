// Shared state of the localization stages (internal to cpp/analysis/localize*.cpp).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "analysis/compare.h"
#include "analysis/localize.h"
#include "runtime/interpreter.h"

namespace convmend::analysis {

// A suspected fault before confirmation: the finding, the match it belongs to (-1: none),
// and how strong the static evidence is in [0, 1] (size of the difference).
struct Suspect {
  Finding finding;
  int match = -1;
  double strength = 0.5;
};

// What the checks read: both graphs, the alignment, and the first chunk of both runs (actual
// shapes, values for effective padding).
struct LocalizeContext {
  const Graph& source;
  const Graph& target;
  const Alignment& alignment;
  const RunState& source_state;  // first chunk
  const RunState& target_state;
  std::vector<bool> source_constant;  // by value id: computed from constants only
  std::vector<bool> target_constant;
  std::vector<Layout> source_layouts;  // by value id
  std::vector<Layout> target_layouts;
  std::vector<int> target_position;  // by node id: position in topological order
  std::vector<int> source_position;
  std::map<int64_t, int> match_by_source_value;
  std::map<int64_t, int> match_by_target_value;
  std::map<int64_t, int> match_by_target_node;
  std::map<int64_t, int> match_by_source_node;
};

// Nodes of a match that compute on data (weight-path nodes left out), topological order.
std::vector<const Node*> data_nodes(const Graph& graph, const std::vector<int64_t>& ids,
                                    const std::vector<bool>& constant,
                                    const std::vector<int>& position);
bool is_layout_op(OpKind op);

// Images [begin, begin + count) of a batch (the whole tensor when that is all of it).
Result<Tensor> slice_batch(const Tensor& t, int64_t begin, int64_t count);
// Chunks of a batch, in order, as one tensor along the first dimension (their other
// dimensions and dtype must agree).
Result<Tensor> concat_batch(const std::vector<Tensor>& parts);
// A clone whose runtime inputs accept any batch size when the file fixed it (tf2onnx writes
// batch 1); nullptr when no input needs it.
Result<std::unique_ptr<Graph>> relaxed_batch(const Graph& g, int64_t batch);

// The stages; each appends suspects.
void check_parameters(const LocalizeContext& ctx, std::vector<Suspect>* out);
void check_hyperparameters(const LocalizeContext& ctx, std::vector<Suspect>* out);
void check_graph(const LocalizeContext& ctx, std::vector<Suspect>* out);

}  // namespace convmend::analysis
