// TFLite file -> IR graph (subgraph 0). Keeps NHWC layouts, fused activations, quantization
// parameters and the file's operator versions (graph metadata) for write-back.
#include <algorithm>
#include <map>
#include <sstream>

#include "formats/tflite/tflite_io.h"
#include "formats/tflite/tflite_ops.h"
#include "runtime/interpreter.h"

namespace convmend::tflite {
namespace {

bool is_quantized_type(TensorType t) {
  return t == TensorType::kInt8 || t == TensorType::kUint8 || t == TensorType::kInt16 ||
         t == TensorType::kInt4;
}

bool has_data(const Model& model, const Tensor& t) {
  return t.buffer != 0 && t.buffer < model.buffers.size() && !model.buffers[t.buffer].data.empty();
}

// Lists every operator the IR cannot take, all at once.
Status check_supported(const Model& model, const SubGraph& subgraph) {
  const TfliteOpRegistry& registry = tflite_op_registry();
  std::map<std::string, int> unsupported;
  for (const Operator& op : subgraph.operators) {
    const OperatorCode& code = model.operator_codes[op.opcode_index];
    const BuiltinOperator b = code.effective_code();
    if (b == BuiltinOperator::kCustom || registry.importers.count(b) == 0) {
      ++unsupported[operator_display_name(code)];
    }
  }
  if (unsupported.empty()) return Status::ok();
  std::ostringstream out;
  out << "unsupported TFLite ops: ";
  bool first = true;
  for (const auto& [name, count] : unsupported) {
    out << (first ? "" : ", ") << name << " x" << count;
    first = false;
  }
  return {StatusCode::kUnsupported, out.str()};
}

// Full-integer models compute on quantized activations, which the IR kernels do not model yet.
// Dynamic-range models keep float activations: only their constant weights are quantized.
Status check_float_activations(const Model& model, const SubGraph& subgraph) {
  for (size_t i = 0; i < subgraph.operators.size(); ++i) {
    const Operator& op = subgraph.operators[i];
    const BuiltinOperator code = model.operator_codes[op.opcode_index].effective_code();
    if (code == BuiltinOperator::kDequantize) continue;
    for (int32_t in : op.inputs) {
      if (in < 0) continue;
      const Tensor& t = subgraph.tensors[static_cast<size_t>(in)];
      if (has_data(model, t) || !is_quantized_type(t.type)) continue;
      if (!t.quantization || t.quantization->scale.empty()) continue;
      return error(StatusCode::kUnsupported,
                   "full-integer quantized models are not supported yet: operator ", i, " (",
                   describe(code), ") reads quantized ", tensor_type_name(t.type), " tensor '",
                   t.name, "'");
    }
  }
  return Status::ok();
}

Shape tensor_shape(const Tensor& t, bool use_signature) {
  Shape shape;
  const auto& dims = use_signature && t.shape_signature && t.shape_signature->size() == t.shape.size()
                         ? *t.shape_signature
                         : t.shape;
  for (int32_t d : dims) shape.push_back(d < 0 ? -1 : d);
  return shape;
}

QuantParams quant_params(const Tensor& t) {
  QuantParams q;
  if (!t.quantization || t.quantization->scale.empty()) return q;
  q.scale = t.quantization->scale;
  q.zero_point = t.quantization->zero_point;
  q.axis = t.quantization->quantized_dimension;
  return q;
}

Result<IrTensor> constant_tensor(const Model& model, const Tensor& t, const std::string& name) {
  auto dtype = dtype_from_tflite(t.type);
  if (!dtype.is_ok()) return dtype.status().with_context("tensor '" + name + "': ");
  const Buffer& b = model.buffers[t.buffer];
  auto tensor = IrTensor::from_bytes(dtype.value(), tensor_shape(t, false), b.data.data(),
                                     b.data.size());
  if (!tensor.is_ok()) return tensor.status().with_context("tensor '" + name + "': ");
  tensor->set_quant(quant_params(t));
  return tensor;
}

// Value names: the tensor's name, or "name#index" when several tensors share it (as the
// Python native runner names them).
std::vector<std::string> value_names(const SubGraph& subgraph) {
  std::map<std::string, int> count;
  for (const Tensor& t : subgraph.tensors) ++count[t.name];
  std::vector<std::string> names;
  for (size_t i = 0; i < subgraph.tensors.size(); ++i) {
    const std::string& n = subgraph.tensors[i].name;
    names.push_back(count[n] > 1 || n.empty() ? n + "#" + std::to_string(i) : n);
  }
  return names;
}

void annotate(Value* v, const Tensor& t) {
  if (auto d = dtype_from_tflite(t.type); d.is_ok()) v->set_dtype(d.value());
  v->set_shape(tensor_shape(t, true));
  v->set_quant(quant_params(t));
  if (v->shape().size() == 4 && !v->is_constant()) v->set_layout(Layout::kNHWC);
}

Result<std::unique_ptr<Graph>> import_model(const Model& model) {
  if (model.subgraphs.empty()) {
    return error(StatusCode::kInvalidModel, "tflite: the model has no subgraph");
  }
  const SubGraph& sg = model.subgraphs[0];
  RETURN_IF_ERROR(check_supported(model, sg));
  RETURN_IF_ERROR(check_float_activations(model, sg));

  auto graph = std::make_unique<Graph>();
  graph->set_name(sg.name);
  auto& meta = graph->metadata();
  meta["format"] = "tflite";
  meta["tflite.version"] = std::to_string(model.version);
  meta["tflite.description"] = model.description;
  for (const Metadata& m : model.metadata) {
    if (m.name == "min_runtime_version" && m.buffer < model.buffers.size()) {
      const auto& data = model.buffers[m.buffer].data;
      std::string text(data.begin(), data.end());
      text.erase(std::find(text.begin(), text.end(), '\0'), text.end());
      meta["tflite.min_runtime_version"] = text;
    }
  }

  const std::vector<std::string> names = value_names(sg);
  std::vector<Value*> values(sg.tensors.size(), nullptr);
  for (int32_t in : sg.inputs) {
    const auto i = static_cast<size_t>(in);
    if (values[i] != nullptr) continue;
    const Tensor& t = sg.tensors[i];
    auto dtype = dtype_from_tflite(t.type);
    if (!dtype.is_ok()) return dtype.status().with_context("input '" + names[i] + "': ");
    if (has_data(model, t)) {
      ASSIGN_OR_RETURN(IrTensor c, constant_tensor(model, t, names[i]));
      values[i] = graph->add_constant(names[i], std::move(c));
    } else {
      values[i] = graph->add_input(names[i], dtype.value(), tensor_shape(t, true));
      annotate(values[i], t);
    }
  }
  // Constants are created on first use so that unused buffers do not enter the graph.
  auto value_of = [&](int32_t index, const std::string& reader) -> Result<Value*> {
    if (index < 0) return static_cast<Value*>(nullptr);
    const auto i = static_cast<size_t>(index);
    if (values[i] != nullptr) return values[i];
    const Tensor& t = sg.tensors[i];
    if (!has_data(model, t)) {
      return error(StatusCode::kUnsupported, reader, "reads tensor ", index, " '", names[i],
                   "', which no operator produces", t.is_variable ? " (a variable tensor)" : "");
    }
    ASSIGN_OR_RETURN(IrTensor c, constant_tensor(model, t, names[i]));
    values[i] = graph->add_constant(names[i], std::move(c));
    return values[i];
  };

  const TfliteOpRegistry& registry = tflite_op_registry();
  std::map<std::string, int32_t> code_versions;
  for (size_t op_index = 0; op_index < sg.operators.size(); ++op_index) {
    const Operator& op = sg.operators[op_index];
    const OperatorCode& code = model.operator_codes[op.opcode_index];
    const std::string op_name = operator_display_name(code);
    const std::string reader =
        "TFLite operator " + std::to_string(op_index) + " (" + op_name + "): ";
    std::vector<Value*> inputs;
    for (int32_t in : op.inputs) {
      ASSIGN_OR_RETURN(Value * v, value_of(in, reader));
      inputs.push_back(v);
    }
    std::vector<std::string> output_names;
    for (int32_t out : op.outputs) {
      if (out < 0) {
        return error(StatusCode::kUnsupported, reader, "omitted outputs are not supported");
      }
      if (values[static_cast<size_t>(out)] != nullptr) {
        return error(StatusCode::kInvalidModel, reader, "output tensor ", out, " '",
                     names[static_cast<size_t>(out)], "' is written twice");
      }
      output_names.push_back(names[static_cast<size_t>(out)]);
    }
    if (output_names.empty()) {
      return error(StatusCode::kUnsupported, reader, "operators without outputs are not supported");
    }
    ImportContext ctx(*graph, model, op, static_cast<int64_t>(op_index), inputs, output_names);
    RETURN_IF_ERROR(registry.importers.at(code.effective_code())(ctx));
    for (const auto& [index, value] : ctx.aliases()) {
      values[static_cast<size_t>(op.outputs[index])] = value;
    }
    for (Node* added : ctx.added()) {
      for (Value* out : added->outputs()) {
        for (size_t k = 0; k < op.outputs.size(); ++k) {
          if (out->name() == output_names[k]) values[static_cast<size_t>(op.outputs[k])] = out;
        }
      }
    }
    for (size_t k = 0; k < op.outputs.size(); ++k) {
      Value* v = values[static_cast<size_t>(op.outputs[k])];
      if (v == nullptr) {
        return error(StatusCode::kInternal, ctx.describe(), "output '", output_names[k],
                     "' was not produced by its importer");
      }
      if (v->producer() != nullptr && v->name() == output_names[k]) {
        annotate(v, sg.tensors[static_cast<size_t>(op.outputs[k])]);
      }
    }
    // The main node (the one named after the first output) keeps the file's version.
    const std::string node_name = output_names[0];
    meta[kVersionKeyPrefix + node_name] = std::to_string(code.version);
    int32_t& max_version = code_versions[op_name];
    max_version = std::max(max_version, code.version);
  }
  for (const auto& [name, version] : code_versions) {
    meta[kCodeVersionKeyPrefix + name] = std::to_string(version);
  }
  for (int32_t out : sg.outputs) {
    ASSIGN_OR_RETURN(Value * v, value_of(out, "TFLite subgraph output: "));
    graph->add_output(v);
  }
  for (const SignatureDef& s : model.signature_defs) {
    if (s.subgraph_index != 0) continue;
    meta["tflite.signature_key"] = s.signature_key;
    for (const TensorMap& m : s.inputs) {
      if (m.tensor_index < names.size()) meta["tflite.signature.input:" + m.name] = names[m.tensor_index];
    }
    for (const TensorMap& m : s.outputs) {
      if (m.tensor_index < names.size()) meta["tflite.signature.output:" + m.name] = names[m.tensor_index];
    }
    break;
  }
  graph->remove_dead();
  RETURN_IF_ERROR(graph->verify());
  RETURN_IF_ERROR(infer_graph_shapes(*graph));
  return graph;
}

}  // namespace

Result<std::unique_ptr<Graph>> read_tflite_file(const std::string& path) {
  ASSIGN_OR_RETURN(Model model, load_model_file(path));
  auto graph = import_model(model);
  if (!graph.is_ok()) return graph.status().with_context(path + ": ");
  return graph;
}

Result<std::unique_ptr<Graph>> read_tflite_bytes(std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(Model model, parse_model(bytes));
  return import_model(model);
}

}  // namespace convmend::tflite
