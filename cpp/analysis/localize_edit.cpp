// Edits on a target graph: what a causal check applies to a clone, and what repair reuses.
#include <algorithm>
#include <sstream>

#include "analysis/localize.h"

namespace convmend::analysis {
namespace {

Result<Node*> node_of(Graph& graph, int64_t id) {
  Node* n = graph.node_by_id(id);
  if (n == nullptr) return error(StatusCode::kNotFound, "edit: no node with id ", id);
  return n;
}

Result<Value*> value_of(Graph& graph, int64_t id) {
  Value* v = graph.value_by_id(id);
  if (v == nullptr) return error(StatusCode::kNotFound, "edit: no value with id ", id);
  return v;
}

std::vector<Value*> constant_values(Graph& graph, const std::string& prefix,
                                    const std::vector<Tensor>& tensors) {
  std::vector<Value*> out;
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.push_back(graph.add_constant(prefix + "/c" + std::to_string(i), tensors[i]));
  }
  return out;
}

}  // namespace

Status apply_edits(Graph& graph, const std::vector<Edit>& edits,
                   std::vector<const Node*>* changed_nodes) {
  auto changed = [&](const Node* n) {
    if (changed_nodes != nullptr) changed_nodes->push_back(n);
  };
  for (const Edit& e : edits) {
    switch (e.kind) {
      case Edit::Kind::kSetConstant: {
        ASSIGN_OR_RETURN(Value * v, value_of(graph, e.value));
        if (!v->is_constant() || v->shape() != e.tensor.shape()) {
          return error(StatusCode::kInvalidArgument, "edit: value '", v->name(),
                       "' is not a constant of shape ", shape_to_string(e.tensor.shape()));
        }
        v->set_constant(e.tensor);
        for (const auto& [n, i] : v->consumers()) changed(n);
        break;
      }
      case Edit::Kind::kSetAttr: {
        ASSIGN_OR_RETURN(Node * n, node_of(graph, e.node));
        n->attrs().set(e.key, e.attr);
        changed(n);
        break;
      }
      case Edit::Kind::kEraseAttr: {
        ASSIGN_OR_RETURN(Node * n, node_of(graph, e.node));
        n->attrs().erase(e.key);
        changed(n);
        break;
      }
      case Edit::Kind::kBypassNode: {
        ASSIGN_OR_RETURN(Node * n, node_of(graph, e.node));
        Value* in = n->input(size_t(e.input_index));
        if (in == nullptr || n->outputs().size() != 1) {
          return error(StatusCode::kInvalidArgument, "edit: ", n->describe(),
                       "cannot be bypassed through input ", e.input_index);
        }
        for (const auto& [c, i] : n->output(0)->consumers()) changed(c);
        graph.replace_all_uses(n->output(0), in);
        RETURN_IF_ERROR(graph.remove_node(n));
        break;
      }
      case Edit::Kind::kInsertAfter: {
        ASSIGN_OR_RETURN(Value * v, value_of(graph, e.value));
        const std::string name = v->name() + "#inserted";
        std::vector<Value*> inputs = {v};
        for (Value* c : constant_values(graph, name, e.constant_inputs)) inputs.push_back(c);
        const auto readers = v->consumers();
        Node* fresh = graph.add_node(e.op, name, inputs, {name + ":0"});
        fresh->attrs() = e.attrs;
        fresh->output(0)->set_dtype(v->dtype());
        fresh->output(0)->set_shape(v->shape());
        fresh->output(0)->set_layout(v->layout());
        graph.replace_all_uses(v, fresh->output(0));
        graph.set_input(fresh, 0, v);  // replace_all_uses rewired the new node too
        for (const auto& [c, i] : readers) changed(c);
        changed(fresh);
        break;
      }
      case Edit::Kind::kReplaceOp: {
        ASSIGN_OR_RETURN(Node * old, node_of(graph, e.node));
        std::vector<Value*> inputs = old->inputs();
        if (!e.constant_inputs.empty()) {
          inputs = {old->input(0)};
          for (Value* c : constant_values(graph, old->name() + "#replaced", e.constant_inputs)) {
            inputs.push_back(c);
          }
        }
        // The operands the new op has no place for go (Clip's bounds when it becomes Relu).
        const auto room = static_cast<size_t>(std::max(op_info(e.op).max_inputs, 1));
        if (inputs.size() > room) inputs.resize(room);
        std::vector<std::string> names;
        for (const Value* v : old->outputs()) names.push_back(v->name() + "#replaced");
        Node* fresh = graph.add_node(e.op, old->name() + "#replaced", inputs, names);
        fresh->attrs() = e.attrs;
        fresh->set_provenance(old->provenance());
        for (size_t i = 0; i < old->outputs().size(); ++i) {
          fresh->output(i)->set_dtype(old->output(i)->dtype());
          fresh->output(i)->set_shape(old->output(i)->shape());
          fresh->output(i)->set_layout(old->output(i)->layout());
          for (const auto& [c, k] : old->output(i)->consumers()) changed(c);
          graph.replace_all_uses(old->output(i), fresh->output(i));
        }
        RETURN_IF_ERROR(graph.remove_node(old));
        changed(fresh);
        break;
      }
      case Edit::Kind::kRestoreFloat: {
        ASSIGN_OR_RETURN(Value * v, value_of(graph, e.value));
        const auto readers = v->consumers();
        bool through = !readers.empty();
        for (const auto& [n, i] : readers) {
          through &= (n->op() == OpKind::kDequantizeLinear || n->op() == OpKind::kCast) &&
                     i == 0 && n->outputs().size() == 1 &&
                     n->output(0)->shape() == e.tensor.shape();
        }
        if (!through || !is_float(e.tensor.dtype())) {
          return error(StatusCode::kInvalidArgument, "edit: '", v->name(),
                       "' is not a weight read through Dequantize/Cast as ",
                       shape_to_string(e.tensor.shape()));
        }
        Value* restored = graph.add_constant(v->name() + "#float", e.tensor);
        restored->set_layout(v->layout());
        for (const auto& [n, i] : readers) {
          for (const auto& [c, k] : n->output(0)->consumers()) changed(c);
          graph.replace_all_uses(n->output(0), restored);
          RETURN_IF_ERROR(graph.remove_node(n));
        }
        break;
      }
      case Edit::Kind::kSetOutputs: {
        std::vector<Value*> outs;
        for (int64_t id : e.output_values) {
          ASSIGN_OR_RETURN(Value * v, value_of(graph, id));
          outs.push_back(v);
        }
        graph.set_outputs(outs);
        break;
      }
    }
  }
  return Status::ok();
}

std::string describe_edit(const Graph& graph, const Edit& e) {
  std::ostringstream out;
  const Node* n = e.node >= 0 ? graph.node_by_id(e.node) : nullptr;
  const Value* v = e.value >= 0 ? graph.value_by_id(e.value) : nullptr;
  const std::string node_name = n != nullptr ? "'" + n->name() + "'" : "?";
  const std::string value_name = v != nullptr ? "'" + v->name() + "'" : "?";
  switch (e.kind) {
    case Edit::Kind::kSetConstant:
      out << "set constant " << value_name << " (" << dtype_name(e.tensor.dtype())
          << shape_to_string(e.tensor.shape()) << ") to the source's values";
      break;
    case Edit::Kind::kSetAttr:
      out << "set " << e.key << " of " << node_name << " to " << attr_value_to_string(e.attr);
      break;
    case Edit::Kind::kEraseAttr:
      out << "remove " << e.key << " of " << node_name;
      break;
    case Edit::Kind::kBypassNode:
      out << "bypass " << node_name << " (its consumers read input " << e.input_index << ")";
      break;
    case Edit::Kind::kInsertAfter:
      out << "insert " << op_name(e.op) << " after " << value_name;
      break;
    case Edit::Kind::kReplaceOp:
      out << "replace " << node_name << " by " << op_name(e.op);
      if (!e.constant_inputs.empty()) {
        out << " (";
        for (size_t i = 0; i < e.constant_inputs.size(); ++i) {
          const std::vector<double> d = e.constant_inputs[i].to_doubles();
          out << (i ? ", " : "") << (d.size() == 1 ? std::to_string(d[0]) : "tensor");
        }
        out << ")";
      }
      break;
    case Edit::Kind::kRestoreFloat:
      out << "restore " << value_name << " to the source's float values ("
          << dtype_name(e.tensor.dtype()) << shape_to_string(e.tensor.shape()) << ")";
      break;
    case Edit::Kind::kSetOutputs: {
      out << "set the graph outputs to [";
      for (size_t i = 0; i < e.output_values.size(); ++i) {
        const Value* o = graph.value_by_id(e.output_values[i]);
        out << (i ? ", " : "") << (o != nullptr ? o->name() : "?");
      }
      out << "]";
      break;
    }
  }
  return out.str();
}

}  // namespace convmend::analysis
