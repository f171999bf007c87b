// The repair loop (see repair.h): localize, try each finding's edits on a clone, keep what
// improves the validation batch without breaking an image that agreed, repeat.
#include "analysis/repair.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "analysis/compare.h"
#include "analysis/localize_internal.h"
#include "runtime/interpreter.h"

namespace convmend::analysis {
namespace {

constexpr int64_t kChunk = 16;

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(3);
  o << v;
  return o.str();
}

std::string score_text(const BatchScore& s) {
  return "output rel. error " + fmt(s.relative) + " (L2 " + fmt(s.l2) + "), " +
         std::to_string(s.disagreeing) + " of " +
         std::to_string(s.disagree.size()) + " images disagree";
}

bool tried_for_repair(const Finding& f, const RepairOptions& options) {
  if (f.edits.empty() || f.code == "runtime.numeric") return false;
  return f.code != "param.declared_lossy" || options.restore_precision;
}

// The findings of a group as one: their nodes and edits in order; `why` as evidence.
Finding combined(const std::vector<Finding>& members, const std::string& why) {
  Finding g = members.front();
  for (size_t i = 1; i < members.size(); ++i) {
    const Finding& f = members[i];
    g.target_nodes.insert(g.target_nodes.end(), f.target_nodes.begin(), f.target_nodes.end());
    g.source_nodes.insert(g.source_nodes.end(), f.source_nodes.begin(), f.source_nodes.end());
    g.edits.insert(g.edits.end(), f.edits.begin(), f.edits.end());
  }
  g.evidence["group"] = why;
  return g;
}

}  // namespace

Result<std::vector<Tensor>> run_batch(const Graph& graph, const std::vector<Tensor>& inputs,
                                      int64_t chunk, int threads) {
  if (inputs.empty() || inputs[0].rank() == 0) {
    return error(StatusCode::kInvalidArgument, "run_batch: no input batch");
  }
  const int64_t batch = inputs[0].dim(0);
  chunk = std::clamp<int64_t>(chunk, 1, std::max<int64_t>(batch, 1));
  ASSIGN_OR_RETURN(std::unique_ptr<Graph> relaxed, relaxed_batch(graph, chunk));
  ASSIGN_OR_RETURN(std::unique_ptr<Interpreter> interp,
                   Interpreter::create(relaxed ? *relaxed : graph, analysis_run_options(threads)));
  std::vector<std::vector<Tensor>> parts;
  int64_t step = chunk;
  for (int64_t begin = 0; begin < batch;) {
    const int64_t count = std::min(step, batch - begin);
    std::vector<Tensor> in;
    for (const Tensor& t : inputs) {
      ASSIGN_OR_RETURN(Tensor c, slice_batch(t, begin, count));
      in.push_back(std::move(c));
    }
    std::vector<Tensor> outs;
    Status s = interp->run(in, &outs);
    if (!s.is_ok()) {
      if (step > 1 && begin == 0) {  // a Reshape with a fixed batch: one image at a time
        step = 1;
        continue;
      }
      return s.with_context("running the batch: ");
    }
    if (parts.empty()) parts.resize(outs.size());
    if (outs.size() != parts.size()) {
      return error(StatusCode::kInternal, "run_batch: output count changed between chunks");
    }
    for (size_t i = 0; i < outs.size(); ++i) parts[i].push_back(std::move(outs[i]));
    begin += count;
  }
  std::vector<Tensor> joined;
  for (const std::vector<Tensor>& p : parts) {
    ASSIGN_OR_RETURN(Tensor t, concat_batch(p));
    joined.push_back(std::move(t));
  }
  return joined;
}

BatchScore score_outputs(const std::vector<Tensor>& source, const std::vector<Tensor>& target) {
  BatchScore s;
  ErrorAccumulator acc;
  if (source.size() != target.size()) acc.valid = false;
  double diff2 = 0, ref2 = 0;
  for (size_t i = 0; i < std::min(source.size(), target.size()); ++i) {
    acc.add(target[i], source[i]);
    if (source[i].num_elements() != target[i].num_elements()) continue;
    const std::vector<double> a = source[i].to_doubles(), b = target[i].to_doubles();
    for (size_t k = 0; k < a.size(); ++k) {
      diff2 += (b[k] - a[k]) * (b[k] - a[k]);
      ref2 += a[k] * a[k];
    }
  }
  s.relative = acc.relative();
  s.l2 = acc.valid && ref2 > 0 ? std::sqrt(diff2 / ref2) : (acc.valid ? std::sqrt(diff2) : -1);
  std::vector<int64_t> a, b;
  if (!source.empty()) a = top1_labels(source[0]);
  if (!target.empty() && !source.empty() &&
      target[0].num_elements() == source[0].num_elements()) {
    b = top1_labels(target[0]);
  }
  s.disagreeing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool differs = i >= b.size() || a[i] != b[i];
    s.disagree.push_back(differs);
    s.disagreeing += differs;
  }
  return s;
}

Result<RepairResult> repair(const Graph& source, const Graph& target, const Alignment* alignment,
                            const std::vector<Tensor>& source_inputs,
                            const std::vector<Tensor>& target_inputs,
                            const RepairOptions& options) {
  if (source_inputs.empty() || target_inputs.empty() || source_inputs[0].rank() == 0 ||
      target_inputs[0].rank() == 0 || source_inputs[0].dim(0) != target_inputs[0].dim(0)) {
    return error(StatusCode::kInvalidArgument,
                 "repair: the source and target batches must hold the same images");
  }
  RepairResult result;
  const int threads = options.localize.threads;
  ASSIGN_OR_RETURN(std::vector<Tensor> source_out,
                   run_batch(source, source_inputs, kChunk, threads));
  ASSIGN_OR_RETURN(result.repaired, target.clone());
  {
    Result<std::vector<Tensor>> out = run_batch(*result.repaired, target_inputs, kChunk, threads);
    if (!out.is_ok()) return out.status().with_context("repair: the target does not run: ");
    result.before = score_outputs(source_out, *out);
  }
  BatchScore current = result.before;
  const double goal = options.goal_relative_error;
  result.stopped = "the round limit (" + std::to_string(options.max_rounds) + ") was reached";
  // --restore-precision is a request in itself: declared-lossy weights are restored even in a
  // target that already agrees (a float16 copy of one layer can stay within the goal), so the
  // first round localizes whatever the agreement.
  const auto wanted = [&](const Finding& f) {
    return options.restore_precision && f.code == "param.declared_lossy" &&
           tried_for_repair(f, options);
  };
  for (int round = 1; round <= options.max_rounds; ++round) {
    if (current.agrees(goal) && !(options.restore_precision && round == 1)) break;
    Graph& graph = *result.repaired;
    Alignment aligned;
    if (round == 1 && alignment != nullptr) {
      aligned = *alignment;
    } else {
      ASSIGN_OR_RETURN(ActivationSamples samples,
                       trace_samples(source, graph, source_inputs, target_inputs, 8));
      ASSIGN_OR_RETURN(aligned, align(source, graph, AlignOptions{}, &samples));
    }
    ASSIGN_OR_RETURN(LocalizeResult found,
                     localize(source, graph, aligned, source_inputs, target_inputs,
                              options.localize));
    result.rounds = round;
    result.remaining.clear();
    bool kept_any = false;
    // Tries one set of edits; keeps it when the batch improves without breaking an image.
    // `members`: the findings a combined `f` was made of; each gets its own step.
    auto attempt = [&](Finding f, const std::vector<Finding>& members) -> Result<bool> {
      RepairStep step;
      step.round = round;
      step.before = current;
      for (const Edit& e : f.edits) step.edits.push_back(describe_edit(*result.repaired, e));
      std::vector<std::vector<std::string>> member_edits;
      for (const Finding& m : members) {
        member_edits.emplace_back();
        for (const Edit& e : m.edits) member_edits.back().push_back(describe_edit(*result.repaired, e));
      }
      ASSIGN_OR_RETURN(std::unique_ptr<Graph> trial, result.repaired->clone());
      Status applied = apply_edits(*trial, f.edits, nullptr);
      Result<std::vector<Tensor>> out =
          applied.is_ok() ? run_batch(*trial, target_inputs, kChunk, threads)
                          : Result<std::vector<Tensor>>(applied);
      if (!applied.is_ok()) {
        step.reason = "does not apply (an earlier edit changed these nodes): " + applied.message();
      } else if (!out.is_ok()) {
        step.reason = "the edited graph does not run: " + out.status().message();
      } else {
        step.after = score_outputs(source_out, *out);
        bool breaks = false;
        for (size_t i = 0; i < std::min(step.after.disagree.size(), current.disagree.size()); ++i) {
          breaks |= step.after.disagree[i] && !current.disagree[i];
        }
        const bool finite = std::isfinite(step.after.relative) && step.after.relative >= 0;
        const bool fewer = step.after.disagreeing < current.disagreeing;
        // The localizer's own causal test: the maximum error halves, the L2 error falls
        // clearly, or the outputs come within the goal.
        const bool closer = step.after.relative < 0.5 * current.relative ||
                            step.after.l2 < 0.7 * current.l2 ||
                            (step.after.relative <= goal && current.relative > goal);
        if (!finite) {
          step.reason = "dropped: the outputs no longer compare with the source's";
        } else if (breaks) {
          step.reason = "dropped: an image that agreed would disagree (" +
                        score_text(step.after) + ")";
        } else if (step.after.disagreeing > current.disagreeing || !(fewer || closer)) {
          step.reason = "dropped: no improvement (" + score_text(step.after) + ")";
        } else {
          step.kept = true;
          step.reason = "kept: " + score_text(current) + " -> " + score_text(step.after);
          result.repaired = std::move(trial);
          current = step.after;
        }
      }
      const bool kept = step.kept;
      if (members.empty()) {
        step.finding = std::move(f);
        result.steps.push_back(std::move(step));
        return kept;
      }
      step.reason += " (" + f.evidence.at("group") + ")";
      for (size_t i = 0; i < members.size(); ++i) {
        RepairStep one = step;
        one.finding = members[i];
        one.edits = member_edits[i];
        result.steps.push_back(std::move(one));
      }
      return kept;
    };
    std::vector<Finding> dropped;
    std::vector<Finding> helpful;  // dropped findings whose edits alone lowered the L2 error
    std::vector<Finding> unconfirmed;
    auto try_alone = [&](Finding& f) -> Status {
      const double l2_before = current.l2;
      ASSIGN_OR_RETURN(bool kept, attempt(f, {}));
      kept_any |= kept;
      if (kept) return Status::ok();
      dropped.push_back(f);
      const BatchScore& after = result.steps.back().after;
      if (after.l2 >= 0 && after.l2 < l2_before) helpful.push_back(f);
      return Status::ok();
    };
    // What the localizer's causal check confirmed goes first, alone.
    for (Finding& f : found.findings) {
      if (wanted(f)) {
        RETURN_IF_ERROR(try_alone(f));  // asked for, confirmed or not
      } else if (!tried_for_repair(f, options) || current.agrees(goal)) {
        result.remaining.push_back(f);
      } else if (!f.confirmed) {
        unconfirmed.push_back(f);
      } else {
        RETURN_IF_ERROR(try_alone(f));
      }
    }
    // Only when none of that helped: the unconfirmed suspicions, alone (under the same test).
    for (Finding& f : unconfirmed) {
      if (kept_any || current.agrees(goal)) {
        dropped.push_back(f);
      } else {
        RETURN_IF_ERROR(try_alone(f));
      }
    }
    // Faults that mask each other (each alone still leaves the other's error, or flips an
    // image the other one had right): the findings that each helped a little, together.
    if (!kept_any && helpful.size() >= 2 && !current.agrees(goal)) {
      ASSIGN_OR_RETURN(
          bool kept,
          attempt(combined(helpful, std::to_string(helpful.size()) +
                                        " findings that each lowered the error a little, "
                                        "together"),
                  helpful));
      kept_any |= kept;
    }
    // A fault planted at every instance of one op (ReLU6 exported as ReLU everywhere) is
    // fixed by no single edit: findings of one code that each did not help are tried together.
    // Tried even when other edits were kept this round: a fault at every instance is fixed
    // only when all instances are.
    if (!current.agrees(goal)) {
      std::map<std::string, std::vector<Finding>> by_code;
      for (const Finding& f : dropped) by_code[f.code].push_back(f);
      for (const auto& [code, members] : by_code) {
        if (members.size() < 2 || current.agrees(goal)) continue;
        const Finding g = combined(members, std::to_string(members.size()) + " findings of " +
                                                code + " applied together (none helped alone)");
        ASSIGN_OR_RETURN(bool kept, attempt(g, members));
        kept_any |= kept;
      }
    }
    for (const Finding& f : dropped) {
      bool resolved = false;
      for (const RepairStep& st : result.steps) {
        resolved |= st.kept && st.round == round && st.finding.code == f.code &&
                    st.finding.target_nodes == f.target_nodes;
      }
      if (!resolved) result.remaining.push_back(f);
    }
    if (current.agrees(goal)) break;
    if (!kept_any) {
      result.stopped = "no edit of round " + std::to_string(round) + " improved the batch";
      break;
    }
  }
  if (current.agrees(goal)) {
    result.stopped = "the target agrees with the source (" + score_text(current) + ")";
  }
  bool edited = false;
  for (const RepairStep& st : result.steps) edited |= st.kept;
  if (edited) result.repaired->remove_dead();  // weights an edit replaced
  result.after = current;
  return result;
}

}  // namespace convmend::analysis
