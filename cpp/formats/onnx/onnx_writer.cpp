// IR graph -> ONNX model bytes.
#include <map>
#include <set>

#include "formats/onnx/onnx_io.h"
#include "formats/onnx/onnx_ops.h"
#include "formats/onnx/onnx_proto.h"

namespace convmend::onnx {
namespace {

// The IR version that goes with an opset (onnx/helper.py's table, summarized).
int64_t ir_version_for(int64_t opset) {
  if (opset <= 8) return 3;
  if (opset <= 9) return 4;
  if (opset <= 10) return 5;
  if (opset <= 11) return 6;
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

Result<ValueInfoProto> value_info(const Value* v, const std::string& name) {
  ValueInfoProto info;
  info.name = name;
  info.type.kind = TypeProto::Kind::kTensor;
  ASSIGN_OR_RETURN(info.type.tensor_type.elem_type, dtype_to_onnx(v->dtype()));
  info.type.tensor_type.has_shape = true;
  for (size_t i = 0; i < v->shape().size(); ++i) {
    TensorShapeDimension d;
    const int64_t dim = v->shape()[i];
    if (dim >= 0) {
      d.kind = TensorShapeDimension::Kind::kValue;
      d.value = dim;
    } else if (i < v->dim_names().size() && !v->dim_names()[i].empty()) {
      d.kind = TensorShapeDimension::Kind::kParam;
      d.param = v->dim_names()[i];
    }
    info.type.tensor_type.shape.push_back(d);
  }
  return info;
}

}  // namespace

Result<std::string> write_onnx_bytes(const Graph& graph, int64_t opset) {
  if (opset == 0) {
    auto it = graph.metadata().find("onnx.opset");
    opset = it != graph.metadata().end() ? std::stoll(it->second) : 17;
  }
  ModelProto model;
  model.ir_version = ir_version_for(opset);
  model.producer_name = "convmend";
  model.producer_version = "0.1.0";
  OperatorSetIdProto op_set;
  op_set.version = opset;
  model.opset_import.push_back(op_set);
  GraphProto& gp = model.graph;
  gp.name = graph.name().empty() ? "convmend" : graph.name();

  // Unique, non-empty names for every value.
  std::map<const Value*, std::string> names;
  std::set<std::string> used;
  for (const Value* v : graph.values()) {
    std::string name = v->name();
    if (name.empty() || used.count(name)) name = "value_" + std::to_string(v->id());
    while (used.count(name)) name += "_";
    used.insert(name);
    names[v] = name;
  }
  for (const Value* v : graph.inputs()) {
    if (v->is_constant()) continue;
    ASSIGN_OR_RETURN(ValueInfoProto info, value_info(v, names[v]));
    gp.input.push_back(std::move(info));
  }
  std::set<const Value*> written_constants;
  ASSIGN_OR_RETURN(auto order, graph.topological_order());
  const OnnxOpRegistry& registry = onnx_op_registry();
  for (const Node* n : order) {
    for (const Value* in : n->inputs()) {
      if (in == nullptr || !in->is_constant() || !written_constants.insert(in).second) continue;
      ASSIGN_OR_RETURN(TensorProto t, tensor_to_proto(in->constant(), names[in]));
      gp.initializer.push_back(std::move(t));
    }
    auto it = registry.exporters.find(n->op());
    if (it == registry.exporters.end()) {
      return error(StatusCode::kUnsupported, n->describe(), "has no ONNX spelling yet");
    }
    std::vector<std::string> in_names;
    for (const Value* in : n->inputs()) in_names.push_back(in == nullptr ? "" : names[in]);
    std::vector<std::string> out_names;
    for (const Value* out : n->outputs()) out_names.push_back(names[out]);
    ExportContext ctx(*n, opset, in_names, out_names, gp);
    RETURN_IF_ERROR(it->second(ctx));
  }
  for (const Value* v : graph.outputs()) {
    if (v->is_constant() && written_constants.insert(v).second) {
      ASSIGN_OR_RETURN(TensorProto t, tensor_to_proto(v->constant(), names[v]));
      gp.initializer.push_back(std::move(t));
    }
    ASSIGN_OR_RETURN(ValueInfoProto info, value_info(v, names[v]));
    gp.output.push_back(std::move(info));
  }
  return serialize_model(model);
}

}  // namespace convmend::onnx
