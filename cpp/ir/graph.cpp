#include "ir/graph.h"

#include <algorithm>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>

namespace convmend {
namespace {

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t tensor_hash(const Tensor& t) {
  uint64_t h = fnv1a(t.raw(), t.byte_size());
  const auto& q = t.quant();
  if (!q.empty()) {
    h = fnv1a(q.scale.data(), q.scale.size() * sizeof(float), h);
    h = fnv1a(q.zero_point.data(), q.zero_point.size() * sizeof(int64_t), h);
  }
  return h;
}

// Canonical text: like to_text but with values numbered by first appearance and no names,
// so that two graphs read from different files compare equal when their structure is.
std::vector<std::string> canonical_lines(const Graph& g) {
  std::vector<std::string> lines;
  std::unordered_map<const Value*, int64_t> number;
  auto num = [&number](const Value* v) -> std::string {
    if (v == nullptr) return "_";
    auto it = number.find(v);
    if (it == number.end()) it = number.emplace(v, static_cast<int64_t>(number.size())).first;
    return "%" + std::to_string(it->second);
  };
  auto describe_value = [](const Value* v) {
    std::ostringstream out;
    out << dtype_name(v->dtype()) << shape_to_string(v->shape());
    if (!v->quant().empty()) {
      out << " q(" << v->quant().scale.size() << " scales, axis " << v->quant().axis << ")";
    }
    return out.str();
  };
  for (const Value* v : g.inputs()) lines.push_back("input " + num(v) + " " + describe_value(v));
  auto order = g.topological_order();
  if (!order.is_ok()) {
    lines.push_back("cycle");
    return lines;
  }
  for (const Node* n : order.value()) {
    std::ostringstream out;
    for (const Value* in : n->inputs()) {
      if (in != nullptr && in->is_constant() && number.count(in) == 0) {
        std::ostringstream c;
        c << "const " << num(in) << " " << describe_value(in) << " #" << std::hex
          << tensor_hash(in->constant());
        lines.push_back(c.str());
      }
    }
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      out << (i ? ", " : "") << num(n->output(i)) << ":" << describe_value(n->output(i));
    }
    out << " = " << n->op_name() << "(";
    for (size_t i = 0; i < n->inputs().size(); ++i) out << (i ? ", " : "") << num(n->input(i));
    out << ")";
    for (const auto& [k, v] : n->attrs().all()) {
      out << " " << k << "=" << attr_value_to_string(v);
      if (const auto* t = std::get_if<Tensor>(&v)) out << "#" << std::hex << tensor_hash(*t) << std::dec;
    }
    lines.push_back(out.str());
  }
  for (const Value* v : g.outputs()) {
    if (v->is_constant() && number.count(v) == 0) {
      lines.push_back("const " + num(v) + " " + describe_value(v));
    }
    lines.push_back("output " + num(v));
  }
  return lines;
}

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kUnknown: return "?";
    case Layout::kNCHW: return "NCHW";
    case Layout::kNHWC: return "NHWC";
    case Layout::kOIHW: return "OIHW";
    case Layout::kOHWI: return "OHWI";
    case Layout::k1HWO: return "1HWO";
    case Layout::kHWIO: return "HWIO";
    case Layout::kNC: return "NC";
  }
  return "?";
}

void Value::set_constant(Tensor t) {
  dtype_ = t.dtype();
  shape_ = t.shape();
  quant_ = t.quant();
  constant_ = std::move(t);
}

std::string Node::describe() const {
  return "node '" + name_ + "' (" + convmend::op_name(op_) + "): ";
}

Value* Graph::add_value(const std::string& name, DType dtype, Shape shape) {
  auto v = std::make_unique<Value>();
  v->id_ = static_cast<int64_t>(values_.size());
  v->name_ = name;
  v->dtype_ = dtype;
  v->shape_ = std::move(shape);
  values_.push_back(std::move(v));
  return values_.back().get();
}

Value* Graph::add_constant(const std::string& name, Tensor tensor) {
  Value* v = add_value(name, tensor.dtype(), tensor.shape());
  v->set_constant(std::move(tensor));
  return v;
}

Value* Graph::add_input(const std::string& name, DType dtype, Shape shape) {
  Value* v = add_value(name, dtype, std::move(shape));
  v->is_graph_input_ = true;
  inputs_.push_back(v);
  return v;
}

void Graph::add_output(Value* v) {
  v->is_graph_output_ = true;
  outputs_.push_back(v);
}

void Graph::set_outputs(std::vector<Value*> outputs) {
  for (Value* v : outputs_) v->is_graph_output_ = false;
  outputs_ = std::move(outputs);
  for (Value* v : outputs_) v->is_graph_output_ = true;
}

Node* Graph::add_node(OpKind op, const std::string& name, const std::vector<Value*>& inputs,
                      const std::vector<std::string>& output_names) {
  auto n = std::make_unique<Node>();
  n->id_ = static_cast<int64_t>(nodes_.size());
  n->op_ = op;
  n->name_ = name;
  Node* node = n.get();
  nodes_.push_back(std::move(n));
  for (Value* in : inputs) append_input(node, in);
  for (size_t i = 0; i < output_names.size(); ++i) {
    Value* out = add_value(output_names[i], DType::kFloat32, {});
    out->producer_ = node;
    out->producer_output_ = static_cast<int>(i);
    node->outputs_.push_back(out);
  }
  return node;
}

void Graph::append_input(Node* node, Value* value) {
  node->inputs_.push_back(value);
  if (value != nullptr) {
    value->consumers_.emplace_back(node, static_cast<int>(node->inputs_.size() - 1));
  }
}

void Graph::set_input(Node* node, size_t index, Value* value) {
  if (index >= node->inputs_.size()) node->inputs_.resize(index + 1, nullptr);
  Value* old = node->inputs_[index];
  if (old != nullptr) {
    auto& cs = old->consumers_;
    cs.erase(std::remove(cs.begin(), cs.end(), std::make_pair(node, static_cast<int>(index))),
             cs.end());
  }
  node->inputs_[index] = value;
  if (value != nullptr) value->consumers_.emplace_back(node, static_cast<int>(index));
}

void Graph::replace_all_uses(Value* old_value, Value* new_value) {
  auto consumers = old_value->consumers_;
  for (auto [node, index] : consumers) set_input(node, static_cast<size_t>(index), new_value);
  for (Value*& out : outputs_) {
    if (out == old_value) {
      old_value->is_graph_output_ = false;
      out = new_value;
      new_value->is_graph_output_ = true;
    }
  }
}

Status Graph::remove_node(Node* node) {
  for (Value* out : node->outputs_) {
    if (!out->consumers_.empty() || out->is_graph_output_) {
      return error(StatusCode::kInvalidArgument, node->describe(), "output '", out->name(),
                   "' is still used");
    }
  }
  for (size_t i = 0; i < node->inputs_.size(); ++i) set_input(node, i, nullptr);
  for (Value* out : node->outputs_) out->removed_ = true;
  node->removed_ = true;
  return Status::ok();
}

void Graph::remove_dead() {
  std::set<const Node*> live;
  std::vector<const Value*> stack(outputs_.begin(), outputs_.end());
  std::set<const Value*> seen_values(stack.begin(), stack.end());
  while (!stack.empty()) {
    const Value* v = stack.back();
    stack.pop_back();
    if (v->producer_ == nullptr || !live.insert(v->producer_).second) continue;
    for (const Value* in : v->producer_->inputs_) {
      if (in != nullptr && seen_values.insert(in).second) stack.push_back(in);
    }
  }
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    Node* n = it->get();
    if (n->removed_ || live.count(n)) continue;
    for (size_t i = 0; i < n->inputs_.size(); ++i) set_input(n, i, nullptr);
    for (Value* out : n->outputs_) {
      out->consumers_.clear();
      out->removed_ = true;
    }
    n->removed_ = true;
  }
  for (auto& v : values_) {
    if (!v->removed_ && v->is_constant() && v->consumers_.empty() && !v->is_graph_output_ &&
        !v->is_graph_input_) {
      v->removed_ = true;
    }
  }
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> out;
  for (const auto& n : nodes_) {
    if (!n->removed_) out.push_back(n.get());
  }
  return out;
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  for (const auto& v : values_) {
    if (!v->removed_) out.push_back(v.get());
  }
  return out;
}

size_t Graph::node_count() const { return nodes().size(); }

Node* Graph::node_by_id(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(nodes_.size())) return nullptr;
  Node* n = nodes_[static_cast<size_t>(id)].get();
  return n->removed_ ? nullptr : n;
}

Value* Graph::value_by_id(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(values_.size())) return nullptr;
  Value* v = values_[static_cast<size_t>(id)].get();
  return v->removed_ ? nullptr : v;
}

Node* Graph::find_node(const std::string& name) const {
  for (const auto& n : nodes_) {
    if (!n->removed_ && n->name_ == name) return n.get();
  }
  return nullptr;
}

Value* Graph::find_value(const std::string& name) const {
  for (const auto& v : values_) {
    if (!v->removed_ && v->name_ == name) return v.get();
  }
  return nullptr;
}

Result<std::vector<Node*>> Graph::topological_order() const {
  // Kahn's algorithm, always taking the live node created first: deterministic and close
  // to the file's own order.
  std::unordered_map<const Node*, int> pending;
  std::priority_queue<std::pair<int64_t, Node*>, std::vector<std::pair<int64_t, Node*>>,
                      std::greater<>>
      ready;
  std::vector<Node*> live = nodes();
  for (Node* n : live) {
    int count = 0;
    for (const Value* in : n->inputs_) {
      if (in != nullptr && in->producer_ != nullptr && !in->producer_->removed_) ++count;
    }
    pending[n] = count;
    if (count == 0) ready.emplace(n->id_, n);
  }
  std::vector<Node*> order;
  order.reserve(live.size());
  while (!ready.empty()) {
    Node* n = ready.top().second;
    ready.pop();
    order.push_back(n);
    for (const Value* out : n->outputs_) {
      for (auto [consumer, index] : out->consumers_) {
        (void)index;
        if (consumer->removed_) continue;
        if (--pending[consumer] == 0) ready.emplace(consumer->id_, consumer);
      }
    }
  }
  if (order.size() != live.size()) {
    return error(StatusCode::kInvalidModel, "graph '", name_, "' has a cycle through ",
                 live.size() - order.size(), " nodes");
  }
  return order;
}

Status Graph::verify() const {
  for (const auto& n : nodes_) {
    if (n->removed_) continue;
    const OpInfo& info = op_info(n->op_);
    const int n_in = static_cast<int>(n->inputs_.size());
    const int n_out = static_cast<int>(n->outputs_.size());
    if (n_in < info.min_inputs || n_in > info.max_inputs) {
      return error(StatusCode::kInvalidModel, n->describe(), "has ", n_in, " inputs, ",
                   info.name, " takes ", info.min_inputs, " to ", info.max_inputs);
    }
    if (n_out < info.min_outputs || n_out > info.max_outputs) {
      return error(StatusCode::kInvalidModel, n->describe(), "has ", n_out, " outputs, ",
                   info.name, " gives ", info.min_outputs, " to ", info.max_outputs);
    }
    for (int i = 0; i < n_in; ++i) {
      const Value* in = n->inputs_[static_cast<size_t>(i)];
      if (in == nullptr) continue;
      if (in->removed_) {
        return error(StatusCode::kInternal, n->describe(), "input ", i, " was removed");
      }
      const auto& cs = in->consumers_;
      if (std::find(cs.begin(), cs.end(), std::make_pair(n.get(), i)) == cs.end()) {
        return error(StatusCode::kInternal, n->describe(), "input ", i, " '", in->name_,
                     "' does not list the node as consumer");
      }
    }
    for (int i = 0; i < n_out; ++i) {
      const Value* out = n->outputs_[static_cast<size_t>(i)];
      if (out->producer_ != n.get() || out->producer_output_ != i) {
        return error(StatusCode::kInternal, n->describe(), "output ", i, " has another producer");
      }
      if (out->is_constant() || out->is_graph_input_) {
        return error(StatusCode::kInvalidModel, n->describe(), "output '", out->name_,
                     "' is also a constant or a graph input");
      }
    }
  }
  for (const auto& v : values_) {
    if (v->removed_) continue;
    for (auto [consumer, index] : v->consumers_) {
      if (consumer->removed_ || consumer->input(static_cast<size_t>(index)) != v.get()) {
        return error(StatusCode::kInternal, "value '", v->name_, "' lists a stale consumer");
      }
    }
    if (v->is_constant()) {
      const Tensor& t = v->constant();
      if (t.dtype() != v->dtype_ || t.shape() != v->shape_) {
        return error(StatusCode::kInternal, "constant '", v->name_,
                     "' disagrees with its declared dtype or shape");
      }
    }
  }
  for (const Value* v : outputs_) {
    if (v->removed_) {
      return error(StatusCode::kInvalidModel, "graph output '", v->name_, "' was removed");
    }
    if (v->producer_ == nullptr && !v->is_graph_input_ && !v->is_constant()) {
      return error(StatusCode::kInvalidModel, "graph output '", v->name_, "' is never produced");
    }
  }
  for (const auto& n : nodes_) {
    if (n->removed_) continue;
    for (const Value* in : n->inputs_) {
      if (in != nullptr && in->producer_ == nullptr && !in->is_graph_input_ &&
          !in->is_constant()) {
        return error(StatusCode::kInvalidModel, n->describe(), "reads '", in->name_,
                     "', which is neither produced, an input, nor a constant");
      }
    }
  }
  return topological_order().status();
}

std::string Graph::to_text() const {
  std::ostringstream out;
  out << "graph '" << name_ << "'";
  for (const auto& [k, v] : metadata_) out << " " << k << "=" << v;
  out << "\n";
  auto describe = [](const Value* v) {
    std::ostringstream s;
    s << "%" << v->id() << " '" << v->name() << "' " << dtype_name(v->dtype())
      << shape_to_string(v->shape());
    if (v->layout() != Layout::kUnknown) s << " " << layout_name(v->layout());
    if (!v->quant().empty()) {
      s << " quant(scale " << v->quant().scale.front();
      if (v->quant().per_channel()) s << ".. x" << v->quant().scale.size() << " axis " << v->quant().axis;
      s << ")";
    }
    return s.str();
  };
  for (const Value* v : inputs_) out << "  input " << describe(v) << "\n";
  for (const auto& v : values_) {
    if (!v->removed_ && v->is_constant()) out << "  const " << describe(v.get()) << "\n";
  }
  auto order = topological_order();
  const std::vector<Node*> nodes_in_order = order.is_ok() ? order.value() : nodes();
  for (const Node* n : nodes_in_order) {
    out << "  ";
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      out << (i ? ", " : "") << describe(n->output(i));
    }
    out << " = " << n->op_name() << "(";
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      out << (i ? ", " : "");
      if (n->input(i) == nullptr) {
        out << "_";
      } else {
        out << "%" << n->input(i)->id();
      }
    }
    out << ")";
    if (!n->attrs().all().empty()) {
      out << " {";
      bool first = true;
      for (const auto& [k, v] : n->attrs().all()) {
        out << (first ? "" : ", ") << k << "=" << attr_value_to_string(v);
        first = false;
      }
      out << "}";
    }
    const Provenance& p = n->provenance();
    if (!p.format.empty()) out << "  # " << p.format << " " << p.op_type << " '" << p.name << "'";
    out << "\n";
  }
  for (const Value* v : outputs_) out << "  output %" << v->id() << " '" << v->name() << "'\n";
  return out.str();
}

uint64_t Graph::structural_hash() const {
  uint64_t h = 1469598103934665603ull;
  for (const std::string& line : canonical_lines(*this)) h = fnv1a(line.data(), line.size(), h);
  return h;
}

Result<std::unique_ptr<Graph>> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name_ = name_;
  g->metadata_ = metadata_;
  // Same ids in the clone: values and nodes are copied slot by slot, removed ones included.
  for (const auto& v : values_) {
    auto c = std::make_unique<Value>(*v);
    c->producer_ = nullptr;
    c->consumers_.clear();
    g->values_.push_back(std::move(c));
  }
  for (const auto& n : nodes_) {
    auto c = std::make_unique<Node>();
    c->id_ = n->id_;
    c->op_ = n->op_;
    c->name_ = n->name_;
    c->attrs_ = n->attrs_;
    c->provenance_ = n->provenance_;
    c->removed_ = n->removed_;
    g->nodes_.push_back(std::move(c));
  }
  for (const auto& n : nodes_) {
    Node* c = g->nodes_[static_cast<size_t>(n->id_)].get();
    for (const Value* in : n->inputs_) {
      Value* cin = in == nullptr ? nullptr : g->values_[static_cast<size_t>(in->id_)].get();
      c->inputs_.push_back(cin);
      if (cin != nullptr && !n->removed_) {
        cin->consumers_.emplace_back(c, static_cast<int>(c->inputs_.size() - 1));
      }
    }
    for (const Value* out : n->outputs_) {
      Value* cout = g->values_[static_cast<size_t>(out->id_)].get();
      cout->producer_ = c;
      c->outputs_.push_back(cout);
    }
  }
  for (const Value* v : inputs_) g->inputs_.push_back(g->values_[static_cast<size_t>(v->id_)].get());
  for (const Value* v : outputs_) {
    g->outputs_.push_back(g->values_[static_cast<size_t>(v->id_)].get());
  }
  return g;
}

bool structurally_equal(const Graph& a, const Graph& b, std::string* first_difference) {
  const auto la = canonical_lines(a);
  const auto lb = canonical_lines(b);
  for (size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
    const std::string& x = i < la.size() ? la[i] : std::string("<end>");
    const std::string& y = i < lb.size() ? lb[i] : std::string("<end>");
    if (x != y) {
      if (first_difference != nullptr) *first_difference = "line " + std::to_string(i) + ": " + x + " | " + y;
      return false;
    }
  }
  return true;
}

}  // namespace convmend
