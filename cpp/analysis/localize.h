// Localization: where and why a converted (target) graph departs from its source, given an
// alignment and one batch of inputs. Stages: activation comparison (propagated and isolated
// error per aligned pair), parameters, hyperparameters, graph; each suspected fault carries
// an edit on the target (Edit) that a causal check applies to a clone before re-running the
// batch. Algorithm and calibrated tolerances: docs/localize.md. Codes: FAULTS.md.
//
// localize() only reads the graphs; findings refer to nodes by id (valid for clones).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis/align.h"
#include "ir/graph.h"
#include "ir/op.h"
#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"

namespace convmend::analysis {

// One edit on a target graph, by ids (valid on clones). The causal check applies a finding's
// edits to a clone of the target; the repair stage applies the same edits.
struct Edit {
  enum class Kind : uint8_t {
    kSetConstant,  // value <- tensor (same shape; dtype and quantization of the stored weight)
    kSetAttr,      // node.attrs[key] <- attr
    kEraseAttr,    // node.attrs.erase(key)
    kBypassNode,   // consumers of node's output 0 read node's input `input_index`; node removed
    kInsertAfter,  // new node `op`(value, constant_inputs...) with `attrs`; value's other
                   // readers (graph outputs included) read the new node's output
    kReplaceOp,    // node replaced by `op` on (input 0, constant_inputs...) or, when
                   // constant_inputs is empty, on the old inputs; `attrs` replace the old ones
    kSetOutputs,   // graph outputs <- output_values
    kRestoreFloat,  // a quantized / float16 weight `value` read through Dequantize or Cast:
                    // its readers read the float `tensor` instead (declared-lossy undone)
  };
  Kind kind = Kind::kSetAttr;
  int64_t node = -1;
  int64_t value = -1;
  Tensor tensor;
  std::string key;
  AttrValue attr;
  int input_index = 0;
  OpKind op = OpKind::kIdentity;
  Attributes attrs;
  std::vector<Tensor> constant_inputs;
  std::vector<int64_t> output_values;
};

// Applies `edits` in order; `changed_nodes` receives the nodes whose inputs or attributes
// changed (for Interpreter::rerun). Fails on an id that is not in the graph.
Status apply_edits(Graph& graph, const std::vector<Edit>& edits,
                   std::vector<const Node*>* changed_nodes);
std::string describe_edit(const Graph& graph, const Edit& edit);

struct Finding {
  std::string code;   // a FAULTS.md code
  std::string stage;  // "parameters" | "hyperparameters" | "graph" | "numeric"
  std::vector<int64_t> target_nodes, source_nodes;  // node ids
  std::map<std::string, std::string> evidence;      // human-readable facts
  bool confirmed = false;  // the causal check lowered the output discrepancy
  // Output relative error (max|diff| / max|source|) over the batch, target vs source.
  double discrepancy_before = -1, discrepancy_after_patch = -1;
  int disagreeing_before = -1, disagreeing_after_patch = -1;  // images whose top-1 differs
  double confidence = 0;                                      // [0, 1]
  std::string patch;        // the edit that the causal check applied, in words
  std::vector<Edit> edits;  // the same edit, machine-readable (empty: nothing to apply)
};

struct LocalizeOptions {
  bool confirm = true;
  int max_confirmations = 20;
  double numeric_tolerance_scale = 1.0;
  // Memory for the activations kept while comparing (a chunk of images at a time) and for
  // the causal checks (the first images): chunk and kept images shrink to fit.
  int64_t trace_budget_bytes = int64_t{2} << 30;
  // Threads the kernels may use (the GEMMs of convolutions and dense layers); 0: one per core
  // of the machine, as the native runtimes it is compared with use them.
  int threads = 0;
  // Per-layer errors are measured on the first images of the batch (at least those kept for
  // the causal checks); the outputs are compared on every image. More images add run time
  // to the error curve, not evidence: a converter's fault shows on every image.
  int64_t analysis_images = 32;
};

// The interpreter options for analysis runs with `threads` kernel threads (0: every core).
RunOptions analysis_run_options(int threads);

// Per aligned pair, for the error curve.
struct MatchError {
  int64_t match_index;
  double propagated;  // target value vs source value, both computed by their own graph
  double isolated;    // the target block run on the source's aligned inputs vs the source
  double tolerance;
  std::string op_class;
};

struct LocalizeResult {
  std::vector<Finding> findings;  // confirmed first, then by confidence
  std::vector<MatchError> errors;
  // Each graph output over the whole batch, from the analysis runs (the caller's source and
  // target outputs, without running either graph again).
  std::vector<Tensor> source_outputs;
  std::vector<Tensor> target_outputs;
};

// `source_inputs` feed the source (one batch per runtime input); `target_inputs` are the same
// pixels in the target's input layout.
Result<LocalizeResult> localize(const Graph& source, const Graph& target,
                                const Alignment& alignment,
                                const std::vector<Tensor>& source_inputs,
                                const std::vector<Tensor>& target_inputs,
                                const LocalizeOptions& options);

// Activations of the first `max_images` images of the batch for align()'s activation signal:
// every computed value of both graphs, by name (a graph with a fixed batch of 1 is run with
// its batch dimension relaxed).
Result<ActivationSamples> trace_samples(const Graph& source, const Graph& target,
                                        const std::vector<Tensor>& source_inputs,
                                        const std::vector<Tensor>& target_inputs, int max_images);

}  // namespace convmend::analysis
