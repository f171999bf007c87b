// ONNX file -> IR graph.
#include <map>
#include <set>
#include <sstream>

#include "formats/onnx/onnx_io.h"
#include "formats/onnx/onnx_ops.h"
#include "formats/onnx/onnx_proto.h"
#include "runtime/interpreter.h"

namespace convmend::onnx {
namespace {

bool is_default_domain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

Result<int64_t> default_opset(const ModelProto& model) {
  for (const OperatorSetIdProto& o : model.opset_import) {
    if (is_default_domain(o.domain)) return o.version;
  }
  if (model.opset_import.empty() && model.ir_version < 3) return int64_t{1};  // none before IR 3
  if (model.opset_import.empty()) {
    return error(StatusCode::kInvalidModel, "the model has no opset_import, which IR version ",
                 model.ir_version, " requires");
  }
  return error(StatusCode::kInvalidModel, "the model imports no default-domain opset");
}

// Lists every op the IR cannot take, all at once.
Status check_supported(const GraphProto& graph, int64_t opset) {
  const OnnxOpRegistry& registry = onnx_op_registry();
  std::map<std::string, int> unsupported;
  for (const NodeProto& n : graph.node) {
    const std::string key = is_default_domain(n.domain) ? n.op_type : n.domain + "." + n.op_type;
    auto it = registry.importers.find(n.op_type);
    if (!is_default_domain(n.domain) || it == registry.importers.end() ||
        opset < it->second.min_opset) {
      ++unsupported[key];
    }
  }
  if (unsupported.empty()) return Status::ok();
  std::ostringstream out;
  out << "unsupported ONNX ops (opset " << opset << "): ";
  bool first = true;
  for (const auto& [op, count] : unsupported) {
    out << (first ? "" : ", ") << op << " x" << count;
    first = false;
  }
  return {StatusCode::kUnsupported, out.str()};
}

Status apply_value_info(Value* v, const ValueInfoProto& info) {
  if (info.type.kind != TypeProto::Kind::kTensor) {
    return error(StatusCode::kUnsupported, "value '", info.name, "' has type ",
                 type_kind_name(info.type.kind), "; only tensors are supported");
  }
  const TensorTypeProto& tt = info.type.tensor_type;
  if (tt.elem_type != DataType::kUndefined) {
    auto d = dtype_from_onnx(tt.elem_type);
    if (!d.is_ok()) return d.status().with_context("value '" + info.name + "': ");
    v->set_dtype(d.value());
  }
  if (tt.has_shape) {
    Shape shape;
    std::vector<std::string> names;
    bool any_name = false;
    for (const TensorShapeDimension& d : tt.shape) {
      shape.push_back(d.kind == TensorShapeDimension::Kind::kValue ? d.value : -1);
      names.push_back(d.kind == TensorShapeDimension::Kind::kParam ? d.param : "");
      any_name |= d.kind == TensorShapeDimension::Kind::kParam;
    }
    for (int64_t d : shape) {
      if (d < -1) return error(StatusCode::kInvalidModel, "value '", info.name, "' has dim ", d);
    }
    v->set_shape(shape);
    if (any_name) v->set_dim_names(names);
  }
  return Status::ok();
}

// ONNX requires nodes in topological order; some exporters do not comply, so order them.
Result<std::vector<const NodeProto*>> ordered_nodes(const GraphProto& graph,
                                                    const std::set<std::string>& available) {
  std::set<std::string> defined = available;
  std::vector<const NodeProto*> pending;
  for (const NodeProto& n : graph.node) pending.push_back(&n);
  std::vector<const NodeProto*> order;
  while (!pending.empty()) {
    std::vector<const NodeProto*> still;
    for (const NodeProto* n : pending) {
      bool ready = true;
      for (const std::string& in : n->input) {
        if (!in.empty() && defined.count(in) == 0) ready = false;
      }
      if (ready) {
        order.push_back(n);
        for (const std::string& out : n->output) {
          if (!out.empty()) defined.insert(out);
        }
      } else {
        still.push_back(n);
      }
    }
    if (still.size() == pending.size()) {
      std::set<std::string> produced_by_stuck;
      for (const NodeProto* n : still) produced_by_stuck.insert(n->output.begin(), n->output.end());
      // A name nothing defines is the likelier mistake; report it before any cycle.
      for (const NodeProto* n : still) {
        for (const std::string& in : n->input) {
          if (!in.empty() && defined.count(in) == 0 && produced_by_stuck.count(in) == 0) {
            return error(StatusCode::kInvalidModel, "ONNX node '", n->name, "' (", n->op_type,
                         ") reads '", in, "', which no node, input or initializer defines");
          }
        }
      }
      const NodeProto* n = still.front();
      for (const std::string& in : n->input) {
        if (!in.empty() && defined.count(in) == 0) {
          return error(StatusCode::kInvalidModel, "the ONNX graph has a cycle: ", still.size(),
                       " nodes wait on each other's outputs, e.g. node '", n->name, "' (",
                       n->op_type, ") reads '", in, "'");
        }
      }
    }
    pending = std::move(still);
  }
  return order;
}

Result<std::unique_ptr<Graph>> import_model(const ModelProto& model) {
  ASSIGN_OR_RETURN(int64_t opset, default_opset(model));
  const GraphProto& gp = model.graph;
  RETURN_IF_ERROR(check_supported(gp, opset));

  auto graph = std::make_unique<Graph>();
  graph->set_name(gp.name);
  graph->metadata()["format"] = "onnx";
  graph->metadata()["onnx.opset"] = std::to_string(opset);
  graph->metadata()["onnx.ir_version"] = std::to_string(model.ir_version);
  if (!model.producer_name.empty()) graph->metadata()["onnx.producer_name"] = model.producer_name;
  if (!model.producer_version.empty()) {
    graph->metadata()["onnx.producer_version"] = model.producer_version;
  }

  std::map<std::string, Value*> by_name;
  for (const TensorProto& t : gp.initializer) {
    if (by_name.count(t.name)) {
      return error(StatusCode::kInvalidModel, "initializer '", t.name, "' is defined twice");
    }
    auto tensor = tensor_from_proto(t);
    if (!tensor.is_ok()) return tensor.status();
    by_name[t.name] = graph->add_constant(t.name, std::move(tensor).value());
  }
  for (const ValueInfoProto& in : gp.input) {
    if (by_name.count(in.name)) continue;  // an initializer listed as input (IR version < 4)
    Value* v = graph->add_input(in.name, DType::kFloat32, {});
    RETURN_IF_ERROR(apply_value_info(v, in));
    if (v->shape().size() == 4) v->set_layout(Layout::kNCHW);
    by_name[in.name] = v;
  }
  std::set<std::string> available;
  for (const auto& [name, v] : by_name) available.insert(name);
  ASSIGN_OR_RETURN(auto order, ordered_nodes(gp, available));

  const OnnxOpRegistry& registry = onnx_op_registry();
  std::map<const NodeProto*, int64_t> index_of;
  for (size_t i = 0; i < gp.node.size(); ++i) index_of[&gp.node[i]] = static_cast<int64_t>(i);
  for (const NodeProto* n : order) {
    std::vector<Value*> inputs;
    for (const std::string& in : n->input) inputs.push_back(in.empty() ? nullptr : by_name.at(in));
    ImportContext ctx(*graph, *n, opset, index_of[n], inputs);
    RETURN_IF_ERROR(registry.importers.at(n->op_type).fn(ctx));
    for (const auto& [index, value] : ctx.aliases()) by_name[n->output[index]] = value;
    for (Node* added : ctx.added()) {
      for (Value* out : added->outputs()) {
        for (const std::string& name : n->output) {
          if (!name.empty() && name == out->name()) by_name[name] = out;
        }
      }
    }
    for (const std::string& name : n->output) {
      if (!name.empty() && by_name.count(name) == 0) {
        return error(StatusCode::kInternal, ctx.describe(), "output '", name,
                     "' was not produced by its importer");
      }
    }
  }
  for (const ValueInfoProto& info : gp.value_info) {
    auto it = by_name.find(info.name);
    if (it == by_name.end() || it->second->is_constant()) continue;
    RETURN_IF_ERROR(apply_value_info(it->second, info));
  }
  for (const ValueInfoProto& out : gp.output) {
    auto it = by_name.find(out.name);
    if (it == by_name.end()) {
      return error(StatusCode::kInvalidModel, "graph output '", out.name, "' is never defined");
    }
    if (!it->second->is_constant()) RETURN_IF_ERROR(apply_value_info(it->second, out));
    graph->add_output(it->second);
  }
  graph->remove_dead();
  RETURN_IF_ERROR(graph->verify());
  RETURN_IF_ERROR(infer_graph_shapes(*graph));
  return graph;
}

}  // namespace

Result<std::unique_ptr<Graph>> read_onnx_file(const std::string& path) {
  ASSIGN_OR_RETURN(ModelProto model, load_model_file(path));
  return import_model(model);
}

Result<std::unique_ptr<Graph>> read_onnx_bytes(std::span<const uint8_t> bytes,
                                               const std::string& base_dir) {
  ASSIGN_OR_RETURN(ModelProto model, parse_model(bytes));
  RETURN_IF_ERROR(load_external_data(model, base_dir));
  return import_model(model);
}

}  // namespace convmend::onnx
