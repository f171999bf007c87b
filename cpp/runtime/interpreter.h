// The IR interpreter: create (verify, order, check kernels, infer shapes, fold constants),
// then run on inputs as often as needed. Instrumentation is an Observer chosen at run time.
// An Interpreter keeps a reference to its Graph, which must outlive it and stay unchanged.
#pragma once

#include <memory>
#include <vector>

#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "runtime/kernel.h"

namespace convmend {

// Receives the outputs of the nodes it wants, as they are produced. The tensor is only
// valid during the call; copy it (Tensor copies share the buffer, so keeping a Tensor
// copy is enough) to keep it.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual bool wants(const Node& node) = 0;
  virtual Status on_output(const Node& node, size_t output_index, const Tensor& value) = 0;
};

// Every value of one run, indexed by value id, for incremental re-runs.
struct RunState {
  std::vector<Tensor> values;
  std::vector<bool> present;
  const Tensor* get(const Value* v) const {
    const auto i = static_cast<size_t>(v->id());
    return i < present.size() && present[i] ? &values[i] : nullptr;
  }
};

// Replaces a value's tensor in a re-run (the "what if the target had the source's value" of
// a causal check).
struct ValuePatch {
  const Value* value;
  Tensor tensor;
};

class Interpreter {
 public:
  static Result<std::unique_ptr<Interpreter>> create(const Graph& graph,
                                                     const RunOptions& options = {});

  const Graph& graph() const { return graph_; }
  const RunOptions& options() const { return options_; }
  // Threads the kernels of the next runs may use (two interpreters run side by side take one
  // share of the cores each).
  void set_threads(int threads) { options_.threads = threads < 1 ? 1 : threads; }
  // Graph inputs that are fed at run time (constant-initialized inputs excluded).
  const std::vector<const Value*>& runtime_inputs() const { return runtime_inputs_; }
  const std::vector<const Node*>& order() const { return order_; }

  // Runs once. `inputs` follow runtime_inputs(); float32 inputs are widened in exact mode.
  // Intermediate values are released as soon as their last consumer has run.
  Status run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
             Observer* observer = nullptr);
  // Runs once and keeps every value in `state`.
  Status run_keep(const std::vector<Tensor>& inputs, RunState* state,
                  Observer* observer = nullptr);
  // Re-runs only the nodes downstream of the patched values and of `changed_nodes` (nodes
  // whose attributes or inputs were edited), reusing `base` for everything else. `base` may
  // come from another interpreter over a clone of this graph (clones keep value ids).
  Status rerun(const RunState& base, const std::vector<ValuePatch>& patches,
               const std::vector<const Node*>& changed_nodes, RunState* state,
               Observer* observer = nullptr);
  // Runs one node alone on the given inputs (one per node input; nullptr takes the node's
  // constant input): the isolated check of a node against another runtime's values.
  Status evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs,
                       std::vector<Tensor>* outputs);
  // The graph outputs of a kept state.
  Result<std::vector<Tensor>> outputs_of(const RunState& state) const;
  // Constants and the values folded from them at prepare (a dequantized weight, say): what
  // evaluate_node takes without being given.
  std::vector<const Value*> constant_values() const;

 private:
  Interpreter(const Graph& graph, const RunOptions& options) : graph_(graph), options_(options) {}
  Status prepare();
  Status bind_inputs(const std::vector<Tensor>& inputs, std::vector<Tensor>& values,
                     std::vector<bool>& present);
  Status run_node(const Node& node, std::vector<Tensor>& values, std::vector<bool>& present,
                  Observer* observer);
  void load_constants(std::vector<Tensor>& values, std::vector<bool>& present) const;
  // A tensor given from outside (input, patch, isolated-node input) for `value`, in the
  // dtype this run computes: f32 widened to f64 in exact mode; f64 narrowed to f32
  // otherwise, but only where the model declares f32 (a float64 model stays float64).
  Result<Tensor> to_run_dtype(Tensor t, const Value* value) const;

  const Graph& graph_;
  RunOptions options_;
  std::vector<const Node*> order_;
  std::vector<const Value*> runtime_inputs_;
  // Constants (widened to f64 in exact mode) and the outputs of nodes folded at prepare.
  std::vector<std::pair<const Value*, Tensor>> constants_;
  std::vector<bool> folded_node_;  // by node id
  std::vector<int> consumer_count_;  // by value id: consumers among unfolded nodes
  std::vector<std::unique_ptr<KernelState>> states_;  // by node id
};

// Static shape and dtype inference over the whole graph: annotates every node output, folds
// nodes whose inputs are all known constants when their outputs are small (shape
// subgraphs), and names the first node whose shapes do not fit.
Status infer_graph_shapes(Graph& graph);

}  // namespace convmend
