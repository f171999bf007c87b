// IR graph -> TFLite model bytes. Helper nodes the reader added for one operator (the Cast of
// an int32 shape, the DequantizeLinear of a dynamic-range weight, Sqrt + Reciprocal of RSQRT)
// fold back into that operator, so that read -> write -> read gives the same graph and LiteRT
// computes what the source file computed.
#include <map>
#include <set>

#include "formats/tflite/tflite_io.h"
#include "formats/tflite/tflite_ops.h"

namespace convmend::tflite {
namespace {

bool read_from_tflite(const Node& n) { return n.provenance().format == "tflite"; }

// Nodes written as part of their consumer's operator; their output shares the tensor of their
// input (or, for the Sqrt of RSQRT, is read by the consumer's exporter).
std::set<const Node*> plan_folds(const Graph& graph, ModelBuilder& builder) {
  std::set<const Node*> folded;
  for (const Node* n : graph.nodes()) {
    const Value* in = n->input(0);
    const Value* out = n->output(0);
    if (n->op() == OpKind::kDequantizeLinear && read_from_tflite(*n) && in != nullptr &&
        in->is_constant() && n->inputs().size() == 1 && !out->is_graph_output()) {
      // The weight of a dynamic-range (hybrid) CONV_2D / FULLY_CONNECTED / BATCH_MATMUL.
      const std::string& t = n->provenance().op_type;
      if (t == "CONV_2D" || t == "DEPTHWISE_CONV_2D" || t == "FULLY_CONNECTED" ||
          t == "BATCH_MATMUL") {
        bool all_weights = !out->consumers().empty();
        for (const auto& [consumer, index] : out->consumers()) {
          all_weights &= index == 1 && (consumer->op() == OpKind::kConv ||
                                        consumer->op() == OpKind::kFullyConnected ||
                                        consumer->op() == OpKind::kMatMul);
        }
        if (all_weights) {
          folded.insert(n);
          builder.alias(out, in);
        }
      }
    } else if (n->op() == OpKind::kCast && read_from_tflite(*n) &&
               n->provenance().op_type != "CAST" && in != nullptr &&
               in->dtype() == DType::kInt32 && out->dtype() == DType::kInt64 &&
               !out->is_graph_output()) {
      // The int32 -> int64 Cast of a computed shape or axes input.
      folded.insert(n);
      builder.alias(out, in);
    } else if (n->op() == OpKind::kCast && read_from_tflite(*n) &&
               n->provenance().op_type == "SHAPE" && in != nullptr && in->producer() != nullptr &&
               in->producer()->op() == OpKind::kShape && !in->is_graph_output() &&
               in->consumers().size() == 1) {
      // SHAPE with out_type int32: the Shape writes straight into the Cast's tensor.
      folded.insert(n);
      builder.alias(in, out);
    } else if (folds_into_rsqrt(*n)) {
      folded.insert(n);  // RSQRT
    }
  }
  return folded;
}

Status write_signature(const Graph& graph, ModelBuilder& builder, Model& model) {
  const auto& meta = graph.metadata();
  auto key = meta.find("tflite.signature_key");
  if (key == meta.end()) return Status::ok();
  SignatureDef s;
  s.signature_key = key->second;
  const std::string in_prefix = "tflite.signature.input:";
  const std::string out_prefix = "tflite.signature.output:";
  std::set<const Value*> inputs(graph.inputs().begin(), graph.inputs().end());
  std::set<const Value*> outputs(graph.outputs().begin(), graph.outputs().end());
  for (const auto& [k, value_name] : meta) {
    const bool is_in = k.rfind(in_prefix, 0) == 0;
    const bool is_out = k.rfind(out_prefix, 0) == 0;
    if (!is_in && !is_out) continue;
    const Value* v = graph.find_value(value_name);
    // A signature must name subgraph inputs and outputs; an edit may have replaced them.
    if (v == nullptr || (is_in ? inputs.count(v) : outputs.count(v)) == 0) return Status::ok();
    ASSIGN_OR_RETURN(int32_t tensor, builder.tensor_for(v));
    TensorMap m;
    m.name = k.substr(is_in ? in_prefix.size() : out_prefix.size());
    m.tensor_index = static_cast<uint32_t>(tensor);
    (is_in ? s.inputs : s.outputs).push_back(std::move(m));
  }
  if (s.inputs.size() != inputs.size() || s.outputs.size() != outputs.size()) return Status::ok();
  model.signature_defs.push_back(std::move(s));
  return Status::ok();
}

}  // namespace

Result<std::string> write_tflite_bytes(const Graph& graph) {
  RETURN_IF_ERROR(graph.verify());
  Model model;
  model.version = 3;
  const auto& meta = graph.metadata();
  auto description = meta.find("tflite.description");
  model.description = description != meta.end() ? description->second : "convmend";
  ModelBuilder builder(graph, model);
  SubGraph& sg = builder.subgraph();
  sg.name = graph.name();

  const std::set<const Node*> folded = plan_folds(graph, builder);
  for (const Value* v : graph.inputs()) {
    if (v->is_constant()) continue;
    ASSIGN_OR_RETURN(int32_t t, builder.tensor_for(v));
    sg.inputs.push_back(t);
  }
  ASSIGN_OR_RETURN(auto order, graph.topological_order());
  const TfliteOpRegistry& registry = tflite_op_registry();
  for (const Node* n : order) {
    if (folded.count(n)) continue;
    auto it = registry.exporters.find(n->op());
    if (it == registry.exporters.end()) {
      return error(StatusCode::kUnsupported, n->describe(), "has no TFLite spelling yet");
    }
    ExportContext ctx(*n, builder);
    RETURN_IF_ERROR(it->second(ctx));
  }
  for (const Value* v : graph.outputs()) {
    ASSIGN_OR_RETURN(int32_t t, builder.tensor_for(v));
    sg.outputs.push_back(t);
  }
  RETURN_IF_ERROR(write_signature(graph, builder, model));
  auto runtime = meta.find("tflite.min_runtime_version");
  if (runtime != meta.end()) {
    Buffer b;
    b.data.assign(runtime->second.begin(), runtime->second.end());
    b.data.resize(16, 0);  // the converter pads the version string to 16 bytes
    model.metadata.push_back(
        Metadata{"min_runtime_version", static_cast<uint32_t>(model.buffers.size())});
    model.buffers.push_back(std::move(b));
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize_model(model));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace convmend::tflite
