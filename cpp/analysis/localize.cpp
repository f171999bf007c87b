// Localization driver: runs both graphs on the batch (in chunks), compares every aligned pair
// (propagated and isolated error), collects the suspects of the parameter, hyperparameter and
// graph stages, and confirms them by patching a clone of the target and re-running.
#include "analysis/localize.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "analysis/align_signals.h"
#include "analysis/localize_internal.h"

namespace convmend::analysis {
namespace {

constexpr int64_t kChunkImages = 16;  // images per run at most
constexpr int64_t kKeptImages = 32;   // images whose states are kept for the causal checks, at most

// CONVMEND_LOCALIZE_TIMING=1 prints the time of each phase to stderr.
struct PhaseTimer {
  bool on = std::getenv("CONVMEND_LOCALIZE_TIMING") != nullptr;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  std::map<std::string, double> total;
  void mark(const std::string& phase) {
    const auto now = std::chrono::steady_clock::now();
    total[phase] += std::chrono::duration<double>(now - last).count();
    last = now;
  }
  ~PhaseTimer() {
    if (!on) return;
    for (const auto& [k, v] : total) std::fprintf(stderr, "localize %-12s %.3f s\n", k.c_str(), v);
  }
};

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(3);
  o << v;
  return o.str();
}

// Every value computed from constants only, by value id.
std::vector<bool> constant_values(const Graph& g, const std::vector<Node*>& order) {
  int64_t max_id = 0;
  for (const Value* v : g.values()) max_id = std::max(max_id, v->id());
  std::vector<bool> c(size_t(max_id + 1), false);
  for (const Value* v : g.values()) c[size_t(v->id())] = v->is_constant();
  for (const Node* n : order) {
    bool all = !n->inputs().empty();
    for (const Value* in : n->inputs()) {
      if (in != nullptr && !c[size_t(in->id())]) all = false;
    }
    if (all) {
      for (const Value* out : n->outputs()) c[size_t(out->id())] = true;
    }
  }
  return c;
}

std::vector<int> positions(const std::vector<Node*>& order) {
  int64_t max_id = 0;
  for (const Node* n : order) max_id = std::max(max_id, n->id());
  std::vector<int> p(size_t(max_id + 1), -1);
  for (size_t i = 0; i < order.size(); ++i) p[size_t(order[i]->id())] = int(i);
  return p;
}

// Output comparison of one chunk: relative error accumulated over every output pair, top-1
// labels of the first output.
struct OutputComparison {
  ErrorAccumulator error;
  double diff2 = 0, ref2 = 0;  // squared L2 of (target - source) and of source
  std::vector<int64_t> source_labels, target_labels;
  int disagreeing() const {
    int d = 0;
    for (size_t i = 0; i < std::min(source_labels.size(), target_labels.size()); ++i) {
      d += source_labels[i] != target_labels[i];
    }
    if (source_labels.size() != target_labels.size()) {
      d += int(std::max(source_labels.size(), target_labels.size()) -
               std::min(source_labels.size(), target_labels.size()));
    }
    return d;
  }
};

void compare_outputs(const std::vector<Tensor>& src, const std::vector<Tensor>& tgt,
                     OutputComparison* out) {
  if (src.size() != tgt.size()) out->error.valid = false;
  for (size_t i = 0; i < std::min(src.size(), tgt.size()); ++i) {
    out->error.add(tgt[i], src[i]);
    if (src[i].num_elements() != tgt[i].num_elements()) continue;
    const std::vector<double> a = src[i].to_doubles(), b = tgt[i].to_doubles();
    for (size_t k = 0; k < a.size(); ++k) {
      out->diff2 += (b[k] - a[k]) * (b[k] - a[k]);
      out->ref2 += a[k] * a[k];
    }
  }
  if (!src.empty()) {
    for (int64_t l : top1_labels(src[0])) out->source_labels.push_back(l);
  }
  if (!tgt.empty()) {
    std::vector<int64_t> t = top1_labels(tgt[0]);
    // Labels only mean the same thing when the first outputs have the same size.
    const bool same = !src.empty() && src[0].num_elements() == tgt[0].num_elements();
    for (int64_t l : t) out->target_labels.push_back(same ? l : -1);
  }
}

struct Chunk {
  int64_t begin = 0, count = 0;
  RunState source, target;
  std::vector<Tensor> source_outputs;
};

// The isolated check of one match on one chunk: the target block's data nodes run alone on
// the source's values of the block's external inputs. Returns the block's comparison value.
class IsolatedRunner {
 public:
  IsolatedRunner(const LocalizeContext& ctx, Interpreter& target_interp, const RunState& src,
                 const RunState& tgt)
      : ctx_(ctx), interp_(target_interp), src_(src), tgt_(tgt) {}

  Result<Tensor> run(const NodeMatch& m, bool* partial) {
    std::vector<const Node*> nodes =
        data_nodes(ctx_.target, m.target_nodes, ctx_.target_constant, ctx_.target_position);
    std::map<int64_t, Tensor> local;
    for (const Node* n : nodes) {
      std::vector<Tensor> fed(n->inputs().size());
      std::vector<const Tensor*> ptrs(n->inputs().size(), nullptr);
      for (size_t i = 0; i < n->inputs().size(); ++i) {
        const Value* in = n->input(i);
        if (in == nullptr || ctx_.target_constant[size_t(in->id())]) continue;
        auto it = local.find(in->id());
        if (it != local.end()) {
          ptrs[i] = &it->second;
          continue;
        }
        ASSIGN_OR_RETURN(fed[i], source_feed(in, partial));
        ptrs[i] = &fed[i];
      }
      std::vector<Tensor> outs;
      // The interpreter may run a clone of the target (batch relaxed): its own node, whose
      // constants it holds (clones keep ids).
      const Node* own = interp_.graph().node_by_id(n->id());
      if (own == nullptr) return error(StatusCode::kInternal, "node ", n->id(), " not in clone");
      RETURN_IF_ERROR(interp_.evaluate_node(*own, ptrs, &outs));
      for (size_t o = 0; o < outs.size(); ++o) local[n->output(o)->id()] = outs[o];
    }
    auto it = local.find(m.target_value);
    if (it == local.end()) return error(StatusCode::kNotFound, "comparison value not computed");
    return it->second;
  }

  // The source's comparison value of `match` in the target's layout and run dtype (cached:
  // it is both compared and fed to the next blocks).
  Result<Tensor> view(const NodeMatch& match, const Tensor& target_value) {
    auto cached = views_.find(match.target_value);
    if (cached != views_.end()) return cached->second;
    const Value* sv = ctx_.source.value_by_id(match.source_value);
    const Tensor* st = sv != nullptr ? src_.get(sv) : nullptr;
    if (st == nullptr) return error(StatusCode::kNotFound, "source value not computed");
    ASSIGN_OR_RETURN(Tensor t, source_in_target_view(*st, match, target_value.shape()));
    if (t.shape() != target_value.shape()) {
      return error(StatusCode::kInvalidArgument, "source value of shape ",
                   shape_to_string(t.shape()), " vs target ",
                   shape_to_string(target_value.shape()));
    }
    if (target_value.dtype() == DType::kFloat64) {
      ASSIGN_OR_RETURN(t, t.cast(DType::kFloat64));
    }
    views_[match.target_value] = t;
    return t;
  }

 private:
  // The source's counterpart of a target value, in the target's layout.
  Result<Tensor> source_feed(const Value* v, bool* partial) {
    const Tensor* own = tgt_.get(v);
    if (own == nullptr) return error(StatusCode::kInternal, "value '", v->name(), "' missing");
    auto m = ctx_.match_by_target_value.find(v->id());
    if (m != ctx_.match_by_target_value.end()) {
      Result<Tensor> t = view(ctx_.alignment.matches[size_t(m->second)], *own);
      if (t.is_ok()) return t;
      *partial = true;
    } else if (!v->is_graph_input()) {
      *partial = true;
    }
    return *own;  // graph inputs: the caller gave the same pixels to both graphs
  }

  const LocalizeContext& ctx_;
  Interpreter& interp_;
  const RunState& src_;
  const RunState& tgt_;
  std::map<int64_t, Tensor> views_;  // by target value id
};

// The weight dtype of the target block's anchor (float32 when it has none).
DType block_weight_dtype(const Graph& g, const NodeMatch& m) {
  for (int64_t id : m.target_nodes) {
    const Node* n = g.node_by_id(id);
    if (n == nullptr) continue;
    std::optional<CanonicalWeight> w = canonical_weight(*n);
    if (w) return w->stored_dtype;
  }
  return DType::kFloat32;
}

OpClass block_class(const Graph& g, const NodeMatch& m) {
  OpClass c = OpClass::kOther;
  for (int64_t id : m.target_nodes) {
    const Node* n = g.node_by_id(id);
    if (n == nullptr) continue;
    const OpClass k = op_class_of(n->op());
    if (k == OpClass::kConv || k == OpClass::kDense) return k;
    if (c == OpClass::kOther || c == OpClass::kTranspose || c == OpClass::kReshape ||
        c == OpClass::kQuant) {
      c = k;
    }
  }
  return c;
}

// Discrepancy of a (possibly patched) target against the kept source outputs.
struct Discrepancy {
  double relative = -1;
  double l2 = -1;  // ||target - source|| / ||source|| over the kept images
  int disagreeing = -1;
  std::vector<bool> disagree;  // per kept image
};

Discrepancy summarize(const std::vector<OutputComparison>& per_chunk) {
  Discrepancy d;
  ErrorAccumulator total;
  d.disagreeing = 0;
  for (const OutputComparison& c : per_chunk) {
    total.max_diff = std::max(total.max_diff, c.error.max_diff);
    total.max_reference = std::max(total.max_reference, c.error.max_reference);
    total.valid = total.valid && c.error.valid;
    d.disagreeing += c.disagreeing();
    for (size_t i = 0; i < c.source_labels.size(); ++i) {
      d.disagree.push_back(i >= c.target_labels.size() || c.source_labels[i] != c.target_labels[i]);
    }
  }
  d.relative = total.relative();
  double diff2 = 0, ref2 = 0;
  for (const OutputComparison& c : per_chunk) {
    diff2 += c.diff2;
    ref2 += c.ref2;
  }
  d.l2 = total.valid && ref2 > 0 ? std::sqrt(diff2 / ref2) : -1;
  return d;
}

}  // namespace

Result<Tensor> slice_batch(const Tensor& t, int64_t begin, int64_t count) {
  if (t.rank() == 0 || t.dim(0) < begin + count) {
    return error(StatusCode::kInvalidArgument, "input of shape ", shape_to_string(t.shape()),
                 " has no images ", begin, "..", begin + count - 1);
  }
  if (begin == 0 && count == t.dim(0)) return t;
  Shape s = t.shape();
  const size_t row = t.byte_size() / size_t(s[0]);
  s[0] = count;
  return Tensor::from_bytes(t.dtype(), s, t.raw() + row * size_t(begin), row * size_t(count));
}

Result<Tensor> concat_batch(const std::vector<Tensor>& parts) {
  if (parts.empty()) return error(StatusCode::kInternal, "concat_batch: no parts");
  if (parts.size() == 1) return parts[0];
  Shape s = parts[0].shape();
  if (s.empty()) return error(StatusCode::kInvalidArgument, "concat_batch: a scalar output");
  std::vector<std::byte> bytes;
  int64_t total = 0;
  for (const Tensor& p : parts) {
    Shape rest = p.shape();
    if (p.dtype() != parts[0].dtype() || rest.size() != s.size() ||
        !std::equal(rest.begin() + 1, rest.end(), s.begin() + 1)) {
      return error(StatusCode::kInvalidArgument, "concat_batch: chunk outputs ",
                   shape_to_string(p.shape()), " and ", shape_to_string(s), " differ");
    }
    total += p.dim(0);
    bytes.insert(bytes.end(), p.raw(), p.raw() + p.byte_size());
  }
  s[0] = total;
  return Tensor::from_bytes(parts[0].dtype(), s, bytes.data(), bytes.size());
}

// A graph whose runtime inputs accept any batch size when the file fixed it (tf2onnx writes
// batch 1); nullptr when no input needs it.
Result<std::unique_ptr<Graph>> relaxed_batch(const Graph& g, int64_t batch) {
  bool needed = false;
  for (const Value* v : g.inputs()) {
    if (!v->is_constant() && !v->shape().empty() && v->shape()[0] >= 0 && v->shape()[0] != batch) {
      needed = true;
    }
  }
  if (!needed) return std::unique_ptr<Graph>();
  ASSIGN_OR_RETURN(std::unique_ptr<Graph> c, g.clone());
  for (Value* v : c->inputs()) {
    if (v->is_constant() || v->shape().empty()) continue;
    Shape s = v->shape();
    s[0] = -1;
    v->set_shape(s);
  }
  return c;
}

std::vector<const Node*> data_nodes(const Graph& graph, const std::vector<int64_t>& ids,
                                    const std::vector<bool>& constant,
                                    const std::vector<int>& position) {
  std::vector<const Node*> out;
  for (int64_t id : ids) {
    const Node* n = graph.node_by_id(id);
    if (n == nullptr || n->outputs().empty()) continue;
    const Value* o = n->output(0);
    if (size_t(o->id()) < constant.size() && constant[size_t(o->id())]) continue;
    out.push_back(n);
  }
  std::sort(out.begin(), out.end(), [&](const Node* a, const Node* b) {
    return position[size_t(a->id())] < position[size_t(b->id())];
  });
  return out;
}

bool is_layout_op(OpKind op) {
  const OpClass c = op_class_of(op);
  return c == OpClass::kTranspose || c == OpClass::kReshape;
}

// Bytes of activations one image makes in `g`: every value not computed from constants
// alone, its batch dimension left out, from the inferred shapes.
int64_t activation_bytes_per_image(const Graph& g, const std::vector<Node*>& order) {
  const std::vector<bool> constant = constant_values(g, order);
  int64_t total = 0;
  for (const Value* v : g.values()) {
    if (v->is_constant() || (size_t(v->id()) < constant.size() && constant[size_t(v->id())]))
      continue;
    const Shape& shape = v->shape();
    int64_t n = 1;
    for (size_t k = 1; k < shape.size(); ++k) n *= std::max<int64_t>(shape[k], 1);
    total += n * int64_t(dtype_size(v->dtype()));
  }
  return total;
}

// Runs `a` (on interpreter `ia`) and `b` (on `ib`) at once, each with half of the kernel
// threads, when there are two or more: the two graphs of a pair are independent, and a kernel
// scales worse than two runs side by side (only the GEMMs are threaded). Both are waited
// for; the first failure is returned, an exception of either (out of memory) is rethrown.
Status side_by_side(Interpreter& ia, Interpreter& ib, const std::function<Status()>& a,
                    const std::function<Status()>& b) {
  const int threads = ia.options().threads;
  if (threads < 2) {
    RETURN_IF_ERROR(a());
    return b();
  }
  ia.set_threads(threads / 2);
  ib.set_threads(threads - threads / 2);
  Status sb;
  std::exception_ptr thrown;
  std::thread worker([&] {
    try {
      sb = b();
    } catch (...) {
      thrown = std::current_exception();
    }
  });
  Status sa;
  std::exception_ptr thrown_a;
  try {
    sa = a();
  } catch (...) {
    thrown_a = std::current_exception();
  }
  worker.join();
  ia.set_threads(threads);
  ib.set_threads(threads);
  if (thrown_a) std::rethrow_exception(thrown_a);
  if (thrown) std::rethrow_exception(thrown);
  return sa.is_ok() ? sb : sa;
}

RunOptions analysis_run_options(int threads) {
  RunOptions options;
  options.threads = threads > 0 ? threads : std::max(1, int(std::thread::hardware_concurrency()));
  return options;
}

Result<LocalizeResult> localize(const Graph& source, const Graph& target,
                                const Alignment& alignment,
                                const std::vector<Tensor>& source_inputs,
                                const std::vector<Tensor>& target_inputs,
                                const LocalizeOptions& options) {
  if (source_inputs.empty() || target_inputs.empty() || source_inputs[0].rank() == 0) {
    return error(StatusCode::kInvalidArgument, "localize: no input batch");
  }
  const int64_t batch = source_inputs[0].dim(0);
  for (const Tensor& t : target_inputs) {
    if (t.rank() == 0 || t.dim(0) != batch) {
      return error(StatusCode::kInvalidArgument, "localize: the target batch has shape ",
                   shape_to_string(t.shape()), ", the source batch has ", batch, " images");
    }
  }
  PhaseTimer timer;
  ASSIGN_OR_RETURN(std::vector<Node*> source_order, source.topological_order());
  ASSIGN_OR_RETURN(std::vector<Node*> target_order, target.topological_order());
  // Every value of a chunk's run is kept while the chunk is compared, and the kept chunks stay
  // for the causal checks: both are sized so that the states fit the trace budget (ResNet101
  // makes about 150 MiB of activations per image in each graph).
  const int64_t per_image =
      std::max<int64_t>(1, activation_bytes_per_image(source, source_order) +
                               activation_bytes_per_image(target, target_order));
  const int64_t fit = std::max<int64_t>(1, options.trace_budget_bytes / per_image);
  const int64_t chunk_images = std::clamp<int64_t>(fit / 4, 1, std::min(batch, kChunkImages));
  const int64_t kept_images = std::clamp<int64_t>(fit - chunk_images, chunk_images, kKeptImages);
  // Graphs that accept a chunk of images.
  ASSIGN_OR_RETURN(std::unique_ptr<Graph> source_relaxed, relaxed_batch(source, chunk_images));
  ASSIGN_OR_RETURN(std::unique_ptr<Graph> target_relaxed, relaxed_batch(target, chunk_images));
  const Graph& source_run = source_relaxed ? *source_relaxed : source;
  const Graph& target_run = target_relaxed ? *target_relaxed : target;
  const RunOptions run_options = analysis_run_options(options.threads);
  ASSIGN_OR_RETURN(std::unique_ptr<Interpreter> source_interp,
                   Interpreter::create(source_run, run_options));
  ASSIGN_OR_RETURN(std::unique_ptr<Interpreter> target_interp,
                   Interpreter::create(target_run, run_options));

  // Run chunk by chunk; a graph that refuses a batched chunk (a Reshape with a fixed batch)
  // is run one image at a time.
  int64_t step = chunk_images;
  std::deque<Chunk> kept;  // deque: the context refers to the first chunk
  std::vector<ErrorAccumulator> propagated(alignment.matches.size());
  std::vector<ErrorAccumulator> isolated(alignment.matches.size());
  std::vector<bool> partial(alignment.matches.size(), false);
  std::vector<OutputComparison> base_outputs;
  std::vector<std::vector<Tensor>> source_output_chunks, target_output_chunks;
  const int64_t analysis_images = std::max<int64_t>(1, options.analysis_images);
  std::unique_ptr<LocalizeContext> ctx;
  for (int64_t begin = 0; begin < batch;) {
    const int64_t count = std::min(step, batch - begin);
    std::vector<Tensor> s_in, t_in;
    for (const Tensor& t : source_inputs) {
      ASSIGN_OR_RETURN(Tensor c, slice_batch(t, begin, count));
      s_in.push_back(std::move(c));
    }
    for (const Tensor& t : target_inputs) {
      ASSIGN_OR_RETURN(Tensor c, slice_batch(t, begin, count));
      t_in.push_back(std::move(c));
    }
    Chunk chunk;
    chunk.begin = begin;
    chunk.count = count;
    timer.mark("setup");
    // Every value of the first images, for the per-layer errors; the outputs only after them.
    const bool analysed = begin == 0 || begin < std::max(analysis_images, kept_images);
    std::vector<Tensor> target_outputs;
    Status s = side_by_side(
        *source_interp, *target_interp,
        [&] {
          return analysed ? source_interp->run_keep(s_in, &chunk.source)
                          : source_interp->run(s_in, &chunk.source_outputs);
        },
        [&] {
          return analysed ? target_interp->run_keep(t_in, &chunk.target)
                          : target_interp->run(t_in, &target_outputs);
        });
    if (!s.is_ok()) {
      if (step > 1 && begin == 0) {
        step = 1;
        continue;
      }
      return s.with_context("localize: running the batch: ");
    }
    const bool keep = begin == 0 || begin + count <= kept_images;  // the context is chunk 0
    if (analysed) {
      ASSIGN_OR_RETURN(chunk.source_outputs, source_interp->outputs_of(chunk.source));
      ASSIGN_OR_RETURN(target_outputs, target_interp->outputs_of(chunk.target));
    }
    OutputComparison oc;
    compare_outputs(chunk.source_outputs, target_outputs, &oc);
    base_outputs.push_back(std::move(oc));
    source_output_chunks.push_back(chunk.source_outputs);
    target_output_chunks.push_back(std::move(target_outputs));
    if (!analysed) {
      begin += count;
      timer.mark("runs");
      continue;
    }
    kept.push_back(std::move(chunk));
    Chunk& c = kept.back();
    if (kept.size() == 1) {
      ctx = std::make_unique<LocalizeContext>(
          LocalizeContext{source,
                          target,
                          alignment,
                          c.source,
                          c.target,
                          constant_values(source, source_order),
                          constant_values(target, target_order),
                          infer_activation_layouts(source, source_order),
                          infer_activation_layouts(target, target_order),
                          positions(target_order),
                          positions(source_order),
                          {},
                          {},
                          {},
                          {}});
      for (size_t i = 0; i < alignment.matches.size(); ++i) {
        const NodeMatch& m = alignment.matches[i];
        ctx->match_by_source_value[m.source_value] = int(i);
        ctx->match_by_target_value[m.target_value] = int(i);
        for (int64_t id : m.source_nodes) ctx->match_by_source_node[id] = int(i);
        for (int64_t id : m.target_nodes) ctx->match_by_target_node[id] = int(i);
      }
    }
    // Propagated and isolated error of every comparable match.
    timer.mark("runs");
    IsolatedRunner runner(*ctx, *target_interp, c.source, c.target);
    for (size_t i = 0; i < alignment.matches.size(); ++i) {
      const NodeMatch& m = alignment.matches[i];
      if (m.transform == ValueTransform::kIncomparable) continue;
      const Value* sv = source.value_by_id(m.source_value);
      const Value* tv = target.value_by_id(m.target_value);
      const Tensor* st = sv != nullptr ? c.source.get(sv) : nullptr;
      const Tensor* tt = tv != nullptr ? c.target.get(tv) : nullptr;
      if (st == nullptr || tt == nullptr) continue;
      Result<Tensor> view = runner.view(m, *tt);
      if (!view.is_ok()) {
        propagated[i].valid = false;
        continue;
      }
      propagated[i].add(*tt, *view);
      timer.mark("propagated");
      bool part = false;
      Result<Tensor> iso = runner.run(m, &part);
      if (iso.is_ok()) {
        isolated[i].add(*iso, *view);
      } else {
        isolated[i].valid = false;
        if (timer.on) std::fprintf(stderr, "localize: isolated run of match %zu failed: %s\n", i,
                                   iso.status().message().c_str());
      }
      partial[i] = partial[i] || part;
      timer.mark("isolated");
    }
    if (!keep) kept.pop_back();
    begin += count;
    timer.mark("compare");
  }
  if (!ctx) return error(StatusCode::kInternal, "localize: no chunk was run");

  LocalizeResult result;
  for (auto [chunks, outputs] : {std::pair{&source_output_chunks, &result.source_outputs},
                                 std::pair{&target_output_chunks, &result.target_outputs}}) {
    for (size_t k = 0; !chunks->empty() && k < chunks->front().size(); ++k) {
      std::vector<Tensor> parts;
      for (const std::vector<Tensor>& c : *chunks) {
        if (k < c.size()) parts.push_back(c[k]);
      }
      ASSIGN_OR_RETURN(Tensor whole, concat_batch(parts));
      outputs->push_back(std::move(whole));
    }
  }
  std::vector<double> tolerance(alignment.matches.size(), 0);
  for (size_t i = 0; i < alignment.matches.size(); ++i) {
    const NodeMatch& m = alignment.matches[i];
    const OpClass c = block_class(target, m);
    tolerance[i] =
        isolated_tolerance(c, block_weight_dtype(target, m), options.numeric_tolerance_scale);
    if (m.transform == ValueTransform::kIncomparable) continue;
    MatchError e;
    e.match_index = int64_t(i);
    e.propagated = propagated[i].relative();
    e.isolated = isolated[i].relative();
    e.tolerance = tolerance[i];
    e.op_class = op_class_name(c);
    result.errors.push_back(e);
  }
  int first_jump = -1;
  for (const MatchError& e : result.errors) {
    if (e.isolated > e.tolerance) {
      first_jump = int(e.match_index);
      break;
    }
  }
  const Discrepancy before = summarize(base_outputs);

  // The stages.
  std::vector<Suspect> suspects;
  check_parameters(*ctx, &suspects);
  check_hyperparameters(*ctx, &suspects);
  check_graph(*ctx, &suspects);

  timer.mark("stages");
  // Causal confirmation, most suspicious first, on the kept images.
  auto suspicion = [&](const Suspect& s) {
    double v = s.strength;
    if (s.match >= 0 && isolated[size_t(s.match)].relative() > tolerance[size_t(s.match)]) v += 0.5;
    if (s.match >= 0 && s.match == first_jump) v += 0.3;
    return v;
  };
  std::stable_sort(suspects.begin(), suspects.end(),
                   [&](const Suspect& a, const Suspect& b) { return suspicion(a) > suspicion(b); });
  std::vector<OutputComparison> kept_before_cmp(base_outputs.begin(),
                                                base_outputs.begin() + int64_t(kept.size()));
  const Discrepancy kept_before = summarize(kept_before_cmp);
  const double output_tolerance =
      result.errors.empty() ? 1e-3 : std::max(1e-3, 10 * result.errors.back().tolerance);
  int confirmations = 0;
  std::set<const Suspect*> failed_patch;
  for (Suspect& s : suspects) {
    Finding& f = s.finding;
    f.discrepancy_before = before.relative;
    f.disagreeing_before = before.disagreeing;
    if (!options.confirm || f.edits.empty() || confirmations >= options.max_confirmations) continue;
    ++confirmations;
    Result<std::unique_ptr<Graph>> clone = target_run.clone();
    if (!clone.is_ok()) continue;
    std::vector<const Node*> changed;
    Status applied = apply_edits(**clone, f.edits, &changed);
    if (!applied.is_ok()) {
      f.evidence["causal check"] = "patch failed: " + applied.message();
      failed_patch.insert(&s);
      continue;
    }
    Result<std::unique_ptr<Interpreter>> patched = Interpreter::create(**clone, run_options);
    if (!patched.is_ok()) {
      f.evidence["causal check"] = "patched graph invalid: " + patched.status().message();
      failed_patch.insert(&s);
      continue;
    }
    std::vector<OutputComparison> after_cmp;
    Status run_status;
    for (const Chunk& c : kept) {
      RunState st;
      run_status = (*patched)->rerun(c.target, {}, changed, &st);
      if (!run_status.is_ok()) break;
      Result<std::vector<Tensor>> outs = (*patched)->outputs_of(st);
      if (!outs.is_ok()) {
        run_status = outs.status();
        break;
      }
      OutputComparison oc;
      compare_outputs(c.source_outputs, *outs, &oc);
      after_cmp.push_back(std::move(oc));
    }
    if (!run_status.is_ok()) {
      f.evidence["causal check"] = "patched run failed: " + run_status.message();
      failed_patch.insert(&s);
      continue;
    }
    const Discrepancy after = summarize(after_cmp);
    f.discrepancy_before = kept_before.relative;
    f.disagreeing_before = kept_before.disagreeing;
    f.discrepancy_after_patch = after.relative;
    f.disagreeing_after_patch = after.disagreeing;
    bool new_disagreement = false;
    for (size_t i = 0; i < std::min(after.disagree.size(), kept_before.disagree.size()); ++i) {
      if (after.disagree[i] && !kept_before.disagree[i]) new_disagreement = true;
    }
    const bool dropped =
        after.relative < 0.5 * kept_before.relative ||
        (after.relative <= output_tolerance && kept_before.relative > output_tolerance);
    // Two faults can mask each other: fixing one leaves the other's maximum error and may
    // flip an image the two errors had cancelled out on; the L2 error still falls clearly.
    const bool l2_falls = kept_before.relative > output_tolerance && after.l2 >= 0 &&
                          after.l2 < 0.7 * kept_before.l2;
    f.confirmed = std::isfinite(after.relative) && ((dropped && !new_disagreement) || l2_falls);
    f.evidence["causal check"] = "output rel. error " + fmt(kept_before.relative) + " -> " +
                                 fmt(after.relative) + " (L2 " + fmt(kept_before.l2) + " -> " +
                                 fmt(after.l2) + "), disagreeing " +
                                 std::to_string(kept_before.disagreeing) + " -> " +
                                 std::to_string(after.disagreeing) + " of " +
                                 std::to_string(kept_before.disagree.size()) + " images";
  }

  timer.mark("confirm");
  // Confidence: static evidence, where the isolated error jumps, the causal check.
  const bool outputs_agree = before.relative <= output_tolerance && before.disagreeing == 0;
  for (Suspect& s : suspects) {
    Finding& f = s.finding;
    // When the outputs agree, an unmatched node whose patch does not help changes nothing
    // that matters (an equivalent op the alignment did not pair): not a finding.
    if (outputs_agree && s.strength < 0.8 && !f.confirmed) continue;
    // Nor is a difference whose patch, on agreeing outputs, makes them worse: the two
    // graphs compute the same thing another way (a Keras ZeroPadding2D before a max pool
    // after ReLU pads as the source's -inf would).
    if (outputs_agree && !f.confirmed && f.discrepancy_after_patch >= 0 &&
        f.discrepancy_after_patch > f.discrepancy_before && f.code != "param.declared_lossy") {
      continue;
    }
    if (f.code == "param.declared_lossy") {
      f.confidence = 0.9;
      f.evidence["measured cost"] = "output rel. error " + fmt(before.relative) + ", " +
                                    std::to_string(before.disagreeing) + " of " +
                                    std::to_string(batch) + " images change label";
    } else {
      double c = 0.3 * std::clamp(s.strength, 0.0, 1.0);
      if (s.match >= 0) {
        const double iso = isolated[size_t(s.match)].relative();
        const double tol = tolerance[size_t(s.match)];
        if (iso > tol) c += 0.15;
        if (s.match == first_jump) c += 0.1;
        f.evidence["isolated error"] =
            fmt(iso) + " (tolerance " + fmt(tol) + ")" +
            (partial[size_t(s.match)] ? ", inputs partly the target's" : "");
      }
      if (f.confirmed) {
        c += 0.45;
      } else if (f.discrepancy_after_patch >= 0 || failed_patch.count(&s) != 0) {
        c *= 0.4;  // the patch did not help: probably not the cause
      } else {
        c += 0.1;  // not checked
      }
      f.confidence = std::clamp(c, 0.0, 1.0);
    }
    result.findings.push_back(std::move(f));
  }

  // Within numeric noise: one runtime.numeric finding.
  if (result.findings.empty()) {
    Finding f;
    f.code = "runtime.numeric";
    f.stage = "numeric";
    double worst_ratio = 0;
    int worst = -1;
    for (const MatchError& e : result.errors) {
      const double r = e.isolated / e.tolerance;
      if (std::isfinite(r) && r > worst_ratio) {
        worst_ratio = r;
        worst = int(e.match_index);
      }
    }
    if (worst >= 0) {
      const NodeMatch& m = alignment.matches[size_t(worst)];
      f.target_nodes = m.target_nodes;
      f.source_nodes = m.source_nodes;
      f.evidence["largest isolated error"] = fmt(isolated[size_t(worst)].relative()) +
                                             " (tolerance " + fmt(tolerance[size_t(worst)]) + ")";
    }
    f.evidence["output rel. error"] = fmt(before.relative);
    f.evidence["disagreeing images"] =
        std::to_string(before.disagreeing) + " of " + std::to_string(batch);
    f.discrepancy_before = before.relative;
    f.disagreeing_before = before.disagreeing;
    f.confidence = worst_ratio <= 1 ? 0.8 : 0.4;
    if (worst_ratio > 1) {
      f.evidence["note"] = "isolated errors exceed the tolerance but no stage explains them";
    }
    result.findings.push_back(std::move(f));
  }
  std::stable_sort(result.findings.begin(), result.findings.end(),
                   [](const Finding& a, const Finding& b) {
                     if (a.confirmed != b.confirmed) return a.confirmed;
                     return a.confidence > b.confidence;
                   });
  return result;
}

namespace {
Result<ActivationSamples> trace_batch(const Graph& source, const Graph& target,
                                      const std::vector<Tensor>& source_inputs,
                                      const std::vector<Tensor>& target_inputs, int64_t count);
}  // namespace

Result<ActivationSamples> trace_samples(const Graph& source, const Graph& target,
                                        const std::vector<Tensor>& source_inputs,
                                        const std::vector<Tensor>& target_inputs, int max_images) {
  if (source_inputs.empty() || target_inputs.empty() || source_inputs[0].rank() == 0) {
    return error(StatusCode::kInvalidArgument, "trace_samples: no input batch");
  }
  const int64_t count = std::min<int64_t>(source_inputs[0].dim(0), std::max(1, max_images));
  Result<ActivationSamples> batched =
      trace_batch(source, target, source_inputs, target_inputs, count);
  // A graph that refuses a batch even relaxed (a Reshape to a constant batch of 1, as onnx2tf
  // writes) is traced on one image, on both sides, so that the statistics compare alike.
  if (!batched.is_ok() && count > 1)
    return trace_batch(source, target, source_inputs, target_inputs, 1);
  return batched;
}

namespace {
// The channel statistics of every float value a run produces, taken as it is produced (the
// run frees each value after its last consumer, so only the statistics stay).
class StatisticsObserver : public Observer {
 public:
  StatisticsObserver(const Graph& g, const std::vector<Layout>& layouts, int64_t count,
                     std::map<std::string, std::vector<double>>* out)
      : graph_(g), layouts_(layouts), count_(count), out_(out) {}
  bool wants(const Node&) override { return true; }
  Status on_output(const Node& node, size_t output_index, const Tensor& t) override {
    // The run graph may be a batch-relaxed clone: clones keep value ids.
    const Value* v = graph_.value_by_id(node.output(output_index)->id());
    if (v == nullptr || v->is_constant() || !is_float(t.dtype()) || t.rank() == 0 ||
        t.dim(0) != count_ || size_t(v->id()) >= layouts_.size()) {
      return Status();
    }
    const int axis = channel_axis_of(layouts_[size_t(v->id())], t.rank());
    (*out_)[v->name()] = channel_statistics(t, axis);
    return Status();
  }

 private:
  const Graph& graph_;
  const std::vector<Layout>& layouts_;
  int64_t count_;
  std::map<std::string, std::vector<double>>* out_;
};

Result<ActivationSamples> trace_batch(const Graph& source, const Graph& target,
                                      const std::vector<Tensor>& source_inputs,
                                      const std::vector<Tensor>& target_inputs, int64_t count) {
  ActivationSamples samples;
  samples.images = count;
  struct Side {
    std::unique_ptr<Graph> relaxed;
    std::unique_ptr<Interpreter> interp;
    std::vector<Tensor> inputs;
    std::vector<Layout> layouts;
    std::unique_ptr<StatisticsObserver> observer;
  };
  Side sides[2];
  for (int k = 0; k < 2; ++k) {
    const Graph& g = k == 0 ? source : target;
    Side& side = sides[k];
    ASSIGN_OR_RETURN(side.relaxed, relaxed_batch(g, count));
    ASSIGN_OR_RETURN(side.interp, Interpreter::create(side.relaxed ? *side.relaxed : g,
                                                      analysis_run_options(0)));
    for (const Tensor& t : k == 0 ? source_inputs : target_inputs) {
      ASSIGN_OR_RETURN(Tensor c, slice_batch(t, 0, count));
      side.inputs.push_back(std::move(c));
    }
    ASSIGN_OR_RETURN(std::vector<Node*> order, g.topological_order());
    side.layouts = infer_activation_layouts(g, order);
    side.observer = std::make_unique<StatisticsObserver>(
        g, side.layouts, count, k == 0 ? &samples.source : &samples.target);
  }
  auto run = [&](Side& side) {
    std::vector<Tensor> outputs;
    return side.interp->run(side.inputs, &outputs, side.observer.get());
  };
  RETURN_IF_ERROR(side_by_side(*sides[0].interp, *sides[1].interp,
                               [&] { return run(sides[0]); }, [&] { return run(sides[1]); })
                      .with_context("trace_samples: "));
  return samples;
}
}  // namespace

}  // namespace convmend::analysis
