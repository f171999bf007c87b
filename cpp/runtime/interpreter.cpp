#include "runtime/interpreter.h"

#include <algorithm>

namespace convmend {
namespace {

// Constant folding at prepare is limited to outputs this small, so that folding never
// doubles the memory of a model's weights except for dequantized weights (see below).
constexpr int64_t kMaxFoldedElements = 1 << 16;

bool folds_weights(OpKind op) {
  // Dequantizing int8/float16 weights once at prepare is what makes quantized models fast.
  return op == OpKind::kDequantizeLinear || op == OpKind::kCast || op == OpKind::kTranspose ||
         op == OpKind::kIdentity || op == OpKind::kReshape;
}

TensorMeta meta_of(const Tensor& t) {
  TensorMeta m;
  m.dtype = t.dtype();
  m.shape = t.shape();
  m.value = &t;
  return m;
}

}  // namespace

Result<std::unique_ptr<Interpreter>> Interpreter::create(const Graph& graph,
                                                         const RunOptions& options) {
  std::unique_ptr<Interpreter> interp(new Interpreter(graph, options));
  RETURN_IF_ERROR(interp->prepare());
  return interp;
}

Status Interpreter::prepare() {
  RETURN_IF_ERROR(graph_.verify());
  ASSIGN_OR_RETURN(auto order, graph_.topological_order());
  order_.assign(order.begin(), order.end());
  for (const Value* v : graph_.inputs()) {
    if (!v->is_constant()) runtime_inputs_.push_back(v);
  }
  size_t value_slots = 0;
  for (const Value* v : graph_.values()) value_slots = std::max(value_slots, static_cast<size_t>(v->id()) + 1);
  size_t node_slots = 0;
  for (const Node* n : order_) node_slots = std::max(node_slots, static_cast<size_t>(n->id()) + 1);
  states_.resize(node_slots);
  folded_node_.assign(node_slots, false);
  consumer_count_.assign(value_slots, 0);

  std::vector<Tensor> values(value_slots);
  std::vector<bool> present(value_slots, false);
  for (const Value* v : graph_.values()) {
    if (!v->is_constant()) continue;
    Tensor t = v->constant();
    if (options_.exact && t.dtype() == DType::kFloat32 && t.quant().empty()) {
      ASSIGN_OR_RETURN(t, t.cast(DType::kFloat64));
    }
    values[static_cast<size_t>(v->id())] = t;
    present[static_cast<size_t>(v->id())] = true;
    constants_.emplace_back(v, t);
  }
  // Fold nodes whose inputs are all constant: shape arithmetic and weight dequantization.
  for (const Node* n : order_) {
    bool all_known = true;
    for (const Value* in : n->inputs()) {
      if (in != nullptr && !present[static_cast<size_t>(in->id())]) all_known = false;
    }
    if (!all_known || n->inputs().empty()) continue;
    int64_t in_elements = 0;
    for (const Value* in : n->inputs()) {
      if (in != nullptr) in_elements += values[static_cast<size_t>(in->id())].num_elements();
    }
    if (!folds_weights(n->op()) && in_elements > kMaxFoldedElements) continue;
    RETURN_IF_ERROR(run_node(*n, values, present, nullptr));
    folded_node_[static_cast<size_t>(n->id())] = true;
    for (const Value* out : n->outputs()) {
      constants_.emplace_back(out, values[static_cast<size_t>(out->id())]);
    }
  }
  for (const Node* n : order_) {
    if (folded_node_[static_cast<size_t>(n->id())]) continue;
    for (const Value* in : n->inputs()) {
      if (in != nullptr) ++consumer_count_[static_cast<size_t>(in->id())];
    }
  }
  return Status::ok();
}

void Interpreter::load_constants(std::vector<Tensor>& values, std::vector<bool>& present) const {
  for (const auto& [v, t] : constants_) {
    values[static_cast<size_t>(v->id())] = t;
    present[static_cast<size_t>(v->id())] = true;
  }
}

Result<Tensor> Interpreter::to_run_dtype(Tensor t, const Value* value) const {
  if (options_.exact && t.dtype() == DType::kFloat32) return t.cast(DType::kFloat64);
  if (!options_.exact && t.dtype() == DType::kFloat64 && value->dtype() == DType::kFloat32) {
    return t.cast(DType::kFloat32);
  }
  return t;
}

Status Interpreter::bind_inputs(const std::vector<Tensor>& inputs, std::vector<Tensor>& values,
                                std::vector<bool>& present) {
  if (inputs.size() != runtime_inputs_.size()) {
    return error(StatusCode::kInvalidArgument, "the model takes ", runtime_inputs_.size(),
                 " inputs, got ", inputs.size());
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* v = runtime_inputs_[i];
    Tensor t = inputs[i];
    if (t.dtype() != v->dtype() && !(v->dtype() == DType::kFloat32 && t.dtype() == DType::kFloat64)) {
      return error(StatusCode::kInvalidArgument, "input '", v->name(), "' is ",
                   dtype_name(t.dtype()), ", the model expects ", dtype_name(v->dtype()));
    }
    const Shape& want = v->shape();
    bool fits = want.size() == t.shape().size();
    for (size_t d = 0; fits && d < want.size(); ++d) {
      if (want[d] >= 0 && want[d] != t.shape()[d]) fits = false;
    }
    if (!fits) {
      return error(StatusCode::kInvalidArgument, "input '", v->name(), "' has shape ",
                   shape_to_string(t.shape()), ", the model expects ", shape_to_string(want));
    }
    ASSIGN_OR_RETURN(t, to_run_dtype(std::move(t), v));
    values[static_cast<size_t>(v->id())] = std::move(t);
    present[static_cast<size_t>(v->id())] = true;
  }
  return Status::ok();
}

Status Interpreter::run_node(const Node& node, std::vector<Tensor>& values,
                             std::vector<bool>& present, Observer* observer) {
  std::vector<TensorMeta> metas;
  KernelContext ctx{node, {}, {}, options_, &states_[static_cast<size_t>(node.id())]};
  metas.reserve(node.inputs().size());
  for (size_t i = 0; i < node.inputs().size(); ++i) {
    const Value* in = node.input(i);
    if (in == nullptr) {
      TensorMeta m;
      m.rank_known = false;
      metas.push_back(m);
      ctx.inputs.push_back(nullptr);
      continue;
    }
    const auto slot = static_cast<size_t>(in->id());
    if (!present[slot]) {
      return error(StatusCode::kInternal, node.describe(), "input '", in->name(),
                   "' has no value");
    }
    metas.push_back(meta_of(values[slot]));
    ctx.inputs.push_back(&values[slot]);
  }
  std::vector<TensorMeta> out_metas;
  InferOptions infer_options;
  infer_options.promote_float64 = options_.exact;
  RETURN_IF_ERROR(infer_node(node, metas, out_metas, infer_options));
  std::vector<Tensor> outputs;
  outputs.reserve(out_metas.size());
  for (const TensorMeta& m : out_metas) {
    auto t = Tensor::create(m.dtype, m.shape);
    if (!t.is_ok()) return t.status().with_context(node.describe());
    outputs.push_back(std::move(t).value());
  }
  for (Tensor& t : outputs) ctx.outputs.push_back(&t);
  RETURN_IF_ERROR(kernel_for(node.op())(ctx).with_context(node.describe()));
  const bool observed = observer != nullptr && observer->wants(node);
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Value* out = node.output(i);
    if (!out->quant().empty() && outputs[i].quant().empty()) outputs[i].set_quant(out->quant());
    if (observed) RETURN_IF_ERROR(observer->on_output(node, i, outputs[i]));
    values[static_cast<size_t>(out->id())] = std::move(outputs[i]);
    present[static_cast<size_t>(out->id())] = true;
  }
  return Status::ok();
}

Status Interpreter::run(const std::vector<Tensor>& inputs, std::vector<Tensor>* outputs,
                        Observer* observer) {
  std::vector<Tensor> values(consumer_count_.size());
  std::vector<bool> present(consumer_count_.size(), false);
  load_constants(values, present);
  RETURN_IF_ERROR(bind_inputs(inputs, values, present));
  std::vector<int> remaining = consumer_count_;
  std::vector<bool> keep(consumer_count_.size(), false);
  for (const Value* v : graph_.outputs()) keep[static_cast<size_t>(v->id())] = true;
  for (const auto& [v, t] : constants_) keep[static_cast<size_t>(v->id())] = true;
  for (const Node* n : order_) {
    const auto node_slot = static_cast<size_t>(n->id());
    if (folded_node_[node_slot]) {
      if (observer != nullptr && observer->wants(*n)) {
        for (size_t i = 0; i < n->outputs().size(); ++i) {
          RETURN_IF_ERROR(observer->on_output(*n, i, values[static_cast<size_t>(n->output(i)->id())]));
        }
      }
      continue;
    }
    RETURN_IF_ERROR(run_node(*n, values, present, observer));
    for (const Value* in : n->inputs()) {
      if (in == nullptr) continue;
      const auto slot = static_cast<size_t>(in->id());
      if (--remaining[slot] == 0 && !keep[slot]) {
        values[slot] = Tensor();
        present[slot] = false;
      }
    }
  }
  outputs->clear();
  for (const Value* v : graph_.outputs()) {
    const auto slot = static_cast<size_t>(v->id());
    if (!present[slot]) {
      return error(StatusCode::kInternal, "graph output '", v->name(), "' was not computed");
    }
    outputs->push_back(values[slot]);
  }
  return Status::ok();
}

Status Interpreter::run_keep(const std::vector<Tensor>& inputs, RunState* state,
                             Observer* observer) {
  state->values.assign(consumer_count_.size(), Tensor());
  state->present.assign(consumer_count_.size(), false);
  load_constants(state->values, state->present);
  RETURN_IF_ERROR(bind_inputs(inputs, state->values, state->present));
  for (const Node* n : order_) {
    if (folded_node_[static_cast<size_t>(n->id())]) continue;
    RETURN_IF_ERROR(run_node(*n, state->values, state->present, observer));
  }
  return Status::ok();
}

Status Interpreter::rerun(const RunState& base, const std::vector<ValuePatch>& patches,
                          const std::vector<const Node*>& changed_nodes, RunState* state,
                          Observer* observer) {
  const size_t slots = consumer_count_.size();
  state->values.assign(slots, Tensor());
  state->present.assign(slots, false);
  std::vector<bool> dirty_value(slots, false);
  for (size_t i = 0; i < std::min(slots, base.present.size()); ++i) {
    if (base.present[i]) {
      state->values[i] = base.values[i];
      state->present[i] = true;
    }
  }
  // Constants come from this graph: an edit may have replaced them.
  for (const auto& [v, t] : constants_) {
    const auto slot = static_cast<size_t>(v->id());
    const bool changed = !state->present[slot] || !state->values[slot].same_data(t);
    state->values[slot] = t;
    state->present[slot] = true;
    if (changed) dirty_value[slot] = true;
  }
  for (const ValuePatch& p : patches) {
    const auto slot = static_cast<size_t>(p.value->id());
    if (slot >= slots) {
      return error(StatusCode::kInvalidArgument, "patched value '", p.value->name(),
                   "' is not in this graph");
    }
    ASSIGN_OR_RETURN(Tensor t, to_run_dtype(p.tensor, p.value));
    state->values[slot] = std::move(t);
    state->present[slot] = true;
    dirty_value[slot] = true;
  }
  std::vector<bool> changed(states_.size(), false);
  for (const Node* n : changed_nodes) {
    if (static_cast<size_t>(n->id()) < changed.size()) changed[static_cast<size_t>(n->id())] = true;
  }
  std::vector<bool> patched(slots, false);
  for (const ValuePatch& p : patches) patched[static_cast<size_t>(p.value->id())] = true;
  for (const Node* n : order_) {
    const auto node_slot = static_cast<size_t>(n->id());
    bool dirty = changed[node_slot];
    bool outputs_missing = false;
    for (const Value* in : n->inputs()) {
      if (in != nullptr && dirty_value[static_cast<size_t>(in->id())]) dirty = true;
    }
    for (const Value* out : n->outputs()) {
      if (!state->present[static_cast<size_t>(out->id())]) outputs_missing = true;
    }
    if (!dirty && !outputs_missing) continue;
    // A patched output keeps its patch: the node is not re-run over it.
    bool any_patched = false;
    for (const Value* out : n->outputs()) any_patched |= patched[static_cast<size_t>(out->id())];
    if (any_patched) continue;
    if (changed[node_slot]) states_[node_slot].reset();
    RETURN_IF_ERROR(run_node(*n, state->values, state->present, observer));
    for (const Value* out : n->outputs()) dirty_value[static_cast<size_t>(out->id())] = true;
  }
  return Status::ok();
}

Status Interpreter::evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs,
                                  std::vector<Tensor>* outputs) {
  if (inputs.size() != node.inputs().size()) {
    return error(StatusCode::kInvalidArgument, node.describe(), "takes ", node.inputs().size(),
                 " inputs, got ", inputs.size());
  }
  std::vector<Tensor> values(consumer_count_.size());
  std::vector<bool> present(consumer_count_.size(), false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Value* in = node.input(i);
    if (in == nullptr) continue;
    const auto slot = static_cast<size_t>(in->id());
    if (inputs[i] != nullptr) {
      ASSIGN_OR_RETURN(Tensor t, to_run_dtype(*inputs[i], in));
      values[slot] = std::move(t);
      present[slot] = true;
      continue;
    }
    for (const auto& [v, t] : constants_) {
      if (v == in) {
        values[slot] = t;
        present[slot] = true;
      }
    }
    if (!present[slot]) {
      return error(StatusCode::kInvalidArgument, node.describe(), "input ", i, " '", in->name(),
                   "' is not a constant and was not given");
    }
  }
  RETURN_IF_ERROR(run_node(node, values, present, nullptr));
  outputs->clear();
  for (const Value* out : node.outputs()) outputs->push_back(values[static_cast<size_t>(out->id())]);
  return Status::ok();
}

std::vector<const Value*> Interpreter::constant_values() const {
  std::vector<const Value*> values;
  values.reserve(constants_.size());
  for (const auto& [v, t] : constants_) values.push_back(v);
  return values;
}

Result<std::vector<Tensor>> Interpreter::outputs_of(const RunState& state) const {
  std::vector<Tensor> out;
  for (const Value* v : graph_.outputs()) {
    const Tensor* t = state.get(v);
    if (t == nullptr) {
      return error(StatusCode::kInvalidArgument, "graph output '", v->name(), "' is not in the state");
    }
    out.push_back(*t);
  }
  return out;
}

Status infer_graph_shapes(Graph& graph) {
  ASSIGN_OR_RETURN(auto order, graph.topological_order());
  size_t slots = 0;
  for (const Value* v : graph.values()) slots = std::max(slots, static_cast<size_t>(v->id()) + 1);
  std::vector<TensorMeta> metas(slots);
  std::vector<Tensor> folded(slots);
  for (const Value* v : graph.values()) {
    TensorMeta& m = metas[static_cast<size_t>(v->id())];
    m.dtype = v->dtype();
    m.shape = v->shape();
    if (v->is_constant()) m.value = &v->constant();
  }
  RunOptions run_options;
  for (Node* n : order) {
    std::vector<TensorMeta> in;
    bool all_known = true;
    for (const Value* v : n->inputs()) {
      if (v == nullptr) {
        TensorMeta m;
        m.rank_known = false;
        in.push_back(m);
      } else {
        in.push_back(metas[static_cast<size_t>(v->id())]);
        if (in.back().value == nullptr) all_known = false;
      }
    }
    std::vector<TensorMeta> out;
    RETURN_IF_ERROR(infer_node(*n, in, out, InferOptions{}));
    bool small = true;
    for (const TensorMeta& m : out) {
      auto count = shape_is_static(m.shape) && m.rank_known ? shape_num_elements(m.shape)
                                                             : Result<int64_t>(int64_t{-1});
      if (!count.is_ok() || count.value() < 0 || count.value() > kMaxFoldedElements) small = false;
    }
    if (all_known && small && !n->inputs().empty()) {
      std::vector<Tensor> results;
      for (const TensorMeta& m : out) {
        ASSIGN_OR_RETURN(Tensor t, Tensor::create(m.dtype, m.shape));
        results.push_back(std::move(t));
      }
      std::unique_ptr<KernelState> state;
      KernelContext ctx{*n, {}, {}, run_options, &state};
      for (const TensorMeta& m : in) ctx.inputs.push_back(m.value);
      for (Tensor& t : results) ctx.outputs.push_back(&t);
      RETURN_IF_ERROR(kernel_for(n->op())(ctx).with_context(n->describe()));
      for (size_t i = 0; i < results.size(); ++i) {
        const auto slot = static_cast<size_t>(n->output(i)->id());
        folded[slot] = std::move(results[i]);
        out[i].value = &folded[slot];
      }
    }
    for (size_t i = 0; i < out.size(); ++i) {
      Value* v = n->output(i);
      if (out[i].rank_known) {
        v->set_dtype(out[i].dtype);
        // Keep a shape the file declared where inference knows less.
        Shape merged = out[i].shape;
        if (v->shape().size() == merged.size()) {
          for (size_t d = 0; d < merged.size(); ++d) {
            if (merged[d] < 0 && v->shape()[d] >= 0) merged[d] = v->shape()[d];
          }
        }
        v->set_shape(merged);
      }
      metas[static_cast<size_t>(v->id())] = out[i];
      metas[static_cast<size_t>(v->id())].shape = v->shape();
    }
  }
  return Status::ok();
}

}  // namespace convmend
