// How each TFLite builtin operator enters and leaves the IR. One file per op family in
// formats/tflite/ops/ (the family names of ir/shapes/ and runtime/kernels/) registers an
// importer per BuiltinOperator and an exporter per IR op, from register_tflite_ops(), explicitly.
//
// Import: one TFLite operator becomes one IR node, or a short chain of helper nodes ending in the
// main node (RSQRT -> Sqrt + Reciprocal, PACK -> Unsqueeze... + Concat, the DequantizeLinear a
// dynamic-range weight needs). Every node carries the operator's provenance, so that the writer
// can fold helpers back into one operator.
// Export: an exporter emits one or more operators for one IR node through ExportContext.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "formats/tflite/tflite_model.h"
#include "ir/graph.h"

namespace convmend::tflite {

// The codec has its own Tensor struct; IR tensors are spelled IrTensor here.
using IrTensor = convmend::Tensor;

// Metadata keys (Graph::metadata) the reader sets and the writer reads.
inline constexpr char kVersionKeyPrefix[] = "tflite.op_version:";       // + node name
inline constexpr char kCodeVersionKeyPrefix[] = "tflite.opcode_version:";  // + "CONV_2D"
inline constexpr char kAsymmetricInputsKeyPrefix[] = "tflite.asymmetric_quantize_inputs:";

Result<DType> dtype_from_tflite(TensorType type);
Result<TensorType> dtype_to_tflite(DType dtype);
// "CONV_2D", or "CUSTOM(name)" for custom operators.
std::string operator_display_name(const OperatorCode& code);

// Everything an importer needs for one operator. The reader owns it for the call.
class ImportContext {
 public:
  ImportContext(Graph& graph, const Model& model, const Operator& op, int64_t index,
                std::vector<Value*> inputs, std::vector<std::string> output_names);

  Graph& graph() { return graph_; }
  const Model& model() const { return model_; }
  const Operator& op() const { return op_; }
  BuiltinOperator code() const;
  const std::string& op_name() const { return op_name_; }  // "CONV_2D"
  int64_t index() const { return index_; }
  // Resolved inputs; nullptr for an omitted (-1) or absent optional input.
  const std::vector<Value*>& inputs() const { return inputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Result<Value*> required_input(size_t i) const;
  const std::string& output_name(size_t i) const { return output_names_[i]; }
  // The file's tensor for output i (its dtype, shape and quantization).
  const Tensor& output_tensor(size_t i) const;
  // IR dtype of output i as the file declares it.
  Result<DType> output_dtype(size_t i) const;
  size_t num_outputs() const { return output_names_.size(); }

  // Builtin options; fields absent from the file read as their schema defaults.
  const Options& options() const { return op_.builtin_options; }
  Result<int64_t> opt_int(std::string_view name) const;
  Result<bool> opt_bool(std::string_view name) const;
  Result<float> opt_float(std::string_view name) const;
  // fused_activation_function and padding, as IR enums.
  Result<Activation> fused_activation() const;
  Result<AutoPad> padding() const;

  // The data of constant input i as integers; an error naming the op when it is not constant.
  Result<std::vector<int64_t>> constant_ints(size_t i) const;
  // A new constant named after the operator's first output.
  Value* constant(const std::string& suffix, IrTensor tensor);
  Value* constant_i64(const std::string& suffix, const std::vector<int64_t>& values);
  Value* constant_f32_scalar(const std::string& suffix, float value);
  // Input i as an int64 tensor: a converted constant, or a Cast helper node.
  Result<Value*> input_as_i64(size_t i, const std::string& suffix);

  // Adds the main node: its outputs are the operator's outputs. Records provenance.
  Node* add_node(OpKind op, const std::vector<Value*>& inputs, Attributes attrs);
  // Adds a helper node with one output named "<first output>/<suffix>".
  Node* add_helper(OpKind op, const std::vector<Value*>& inputs, Attributes attrs,
                   const std::string& suffix);
  // For importers that build the main node's output through several nodes whose last one is
  // not created by add_node: makes output i of the operator refer to `value`.
  void alias_output(size_t index, Value* value) { aliases_.emplace_back(index, value); }

  const std::vector<Node*>& added() const { return added_; }
  const std::vector<std::pair<size_t, Value*>>& aliases() const { return aliases_; }
  std::string describe() const;  // "TFLite operator 3 'name' (CONV_2D): "

 private:
  Provenance provenance() const;

  Graph& graph_;
  const Model& model_;
  const Operator& op_;
  int64_t index_;
  std::string op_name_;
  std::vector<Value*> inputs_;
  std::vector<std::string> output_names_;
  std::vector<Node*> added_;
  std::vector<std::pair<size_t, Value*>> aliases_;
};

// The model being written, shared by every exporter.
class ModelBuilder {
 public:
  ModelBuilder(const Graph& graph, Model& model);

  // The tensor of a value, created on first use (constants get a buffer).
  Result<int32_t> tensor_for(const Value* value);
  // Makes `value` share the tensor of `target` (folded helpers, Identity).
  void alias(const Value* value, const Value* target) { aliases_[value] = target; }
  const Value* resolve(const Value* value) const;
  // A new constant tensor (int32 for shapes and axes, float scalars, ...).
  Result<int32_t> add_constant(const IrTensor& tensor, const std::string& name);
  // A new non-constant tensor for an intermediate result of a multi-operator export.
  Result<int32_t> add_intermediate(DType dtype, const Shape& shape, const std::string& name);
  // Index into operator_codes of (op, version), deduplicated; custom ops by name.
  uint32_t opcode_index(BuiltinOperator op, int32_t version);
  // The version to write for `op` emitted for `node` (mirrors the source file when known).
  int32_t version_for(const Node& node, BuiltinOperator op) const;

  SubGraph& subgraph() { return model_.subgraphs[0]; }
  const Graph& graph() const { return graph_; }

 private:
  Result<int32_t> new_tensor(DType dtype, const Shape& shape, const std::string& name,
                             const QuantParams& quant, const IrTensor* data);
  std::string unique_name(const std::string& name);

  const Graph& graph_;
  Model& model_;
  std::map<const Value*, int32_t> tensors_;
  std::map<const Value*, const Value*> aliases_;
  std::map<std::pair<int32_t, int32_t>, uint32_t> opcodes_;
  std::set<std::string> names_;
};

// Everything an exporter needs for one IR node.
class ExportContext {
 public:
  ExportContext(const Node& node, ModelBuilder& builder) : node_(node), builder_(builder) {}

  const Node& node() const { return node_; }
  ModelBuilder& builder() { return builder_; }
  const Value* input(size_t i) const { return node_.input(i); }
  // Tensor of input i; -1 for an omitted input.
  Result<int32_t> input_tensor(size_t i);
  Result<int32_t> output_tensor(size_t i);
  // The integer data of constant input i; kUnsupported naming the node when computed.
  Result<std::vector<int64_t>> constant_ints(size_t i) const;
  // An int32 constant tensor (TFLite's type for shapes, axes and paddings).
  Result<int32_t> int32_constant(const std::vector<int64_t>& values, const Shape& shape,
                                 const std::string& suffix);

  // Options of `type` at their defaults, for the exporter to fill in.
  Result<Options> options(BuiltinOptionsType type) const;
  // Appends one operator.
  Status emit(BuiltinOperator op, const std::vector<int32_t>& inputs,
              const std::vector<int32_t>& outputs, Options options = {});
  Result<int8_t> fused_activation() const;  // node's fused_activation as TFLite's enum
  // Checks that the node's data_layout is NHWC (TFLite's only layout).
  Status require_nhwc() const;
  std::string describe() const { return node_.describe(); }

 private:
  const Node& node_;
  ModelBuilder& builder_;
};

using ImportFn = Status (*)(ImportContext& ctx);
using ExportFn = Status (*)(ExportContext& ctx);

struct TfliteOpRegistry {
  std::map<BuiltinOperator, ImportFn> importers;
  std::map<OpKind, ExportFn> exporters;

  void add_import(BuiltinOperator op, ImportFn fn) { importers[op] = fn; }
  void add_export(OpKind op, ExportFn fn) { exporters[op] = fn; }
};

const TfliteOpRegistry& tflite_op_registry();

// A dynamic-range (hybrid) weight: a quantized constant read by a float op gets a
// DequantizeLinear helper so that kernels see float weights. Other values pass through.
Value* dequantized_weight(ImportContext& ctx, Value* weight, const Value* activation);

// The padding option for a spatial node: SAME_UPPER -> SAME, VALID (or all-zero explicit pads)
// -> VALID, explicit pads equal to what SAME gives on a static input -> SAME.
Result<Padding> padding_for(const ExportContext& ctx, int64_t kernel_h, int64_t kernel_w);

// The writer folds a Sqrt whose only reader is a Reciprocal into one RSQRT operator.
inline bool folds_into_rsqrt(const Node& sqrt) {
  const Value* out = sqrt.output(0);
  return sqrt.op() == OpKind::kSqrt && !out->is_graph_output() && out->consumers().size() == 1 &&
         out->consumers()[0].first->op() == OpKind::kReciprocal && out->consumers()[0].second == 0;
}

// Attributes shared by several importers.
Result<Activation> activation_from_tflite(int64_t code);
Result<int8_t> activation_to_tflite(Activation activation);

// One function per family, called by tflite_op_registry().
void register_conv_ops(TfliteOpRegistry& r);
void register_linear_ops(TfliteOpRegistry& r);
void register_pool_ops(TfliteOpRegistry& r);
void register_pad_ops(TfliteOpRegistry& r);
void register_resize_ops(TfliteOpRegistry& r);
void register_unary_ops(TfliteOpRegistry& r);
void register_binary_ops(TfliteOpRegistry& r);
void register_reduce_ops(TfliteOpRegistry& r);
void register_softmax_ops(TfliteOpRegistry& r);
void register_tensor_ops(TfliteOpRegistry& r);
void register_indexing_ops(TfliteOpRegistry& r);
void register_cast_ops(TfliteOpRegistry& r);

}  // namespace convmend::tflite
