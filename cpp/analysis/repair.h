// Repair: the loop that turns localization findings into a fixed target graph.
//
// Each round localizes the current target against the source, then tries the confirmed
// findings that carry edits, best first: an edit is applied to a clone and kept only when the
// validation batch improves (maximum error halves, L2 error falls below 0.7x, or fewer images
// disagree) and no image that agreed starts to disagree. Findings that did not help alone are
// tried in groups (one code at every instance; all that each lowered the error a little). Rounds repeat on the repaired graph (a fixed fault can unmask the next one) until
// the outputs agree within the goal, a round keeps nothing, or `max_rounds` is reached.
// The graph written back keeps the target's own input shapes; only edits change it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "analysis/align.h"
#include "analysis/localize.h"

namespace convmend::analysis {

struct RepairOptions {
  int max_rounds = 4;
  // Stop once the output relative error is at most this and no image disagrees.
  double goal_relative_error = 1e-4;
  // Also undo declared-lossy changes (their findings carry no edits today: see repair.md).
  bool restore_precision = false;
  LocalizeOptions localize;
};

// How the validation batch compares with the source.
struct BatchScore {
  double relative = -1;  // max |target - source| / max |source| over all outputs and images
  double l2 = -1;        // ||target - source|| / ||source||: moves when one of several faults
                         // is fixed even while another still sets the maximum
  int disagreeing = -1;  // images whose top-1 differs
  std::vector<bool> disagree;
  bool agrees(double goal) const { return disagreeing == 0 && relative >= 0 && relative <= goal; }
};

struct RepairStep {
  int round = 0;
  Finding finding;  // the localization finding whose edits were tried
  std::vector<std::string> edits;  // describe_edit of each edit, on the graph before it
  bool kept = false;
  std::string reason;  // why it was kept or dropped
  BatchScore before, after;
};

struct RepairResult {
  std::unique_ptr<Graph> repaired;  // the target with every kept edit applied
  std::vector<RepairStep> steps;    // every edit tried, in order
  BatchScore before, after;         // the whole validation batch, first and last
  int rounds = 0;
  std::vector<Finding> remaining;   // the last round's findings that no kept edit resolved
  std::string stopped;              // why the loop stopped
};

// `alignment` may be null (aligned from the batch's activations, as every later round is).
// `source_inputs` feed the source; `target_inputs` are the same pixels in the target's layout.
Result<RepairResult> repair(const Graph& source, const Graph& target, const Alignment* alignment,
                            const std::vector<Tensor>& source_inputs,
                            const std::vector<Tensor>& target_inputs,
                            const RepairOptions& options);

// The graph's outputs on a batch (one tensor per graph output, whole batch), run in chunks of
// `chunk` images; a graph that fixes its batch is relaxed, and one that still refuses a chunk
// is run one image at a time; `threads` kernel threads (0: every core).
Result<std::vector<Tensor>> run_batch(const Graph& graph, const std::vector<Tensor>& inputs,
                                      int64_t chunk, int threads = 0);
// Target outputs against source outputs of the same batch.
BatchScore score_outputs(const std::vector<Tensor>& source, const std::vector<Tensor>& target);

}  // namespace convmend::analysis
