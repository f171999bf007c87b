// How each ONNX op enters and leaves the IR. One file per op family in formats/onnx/ops/
// (the same family names as ir/shapes/ and runtime/kernels/) registers an importer per ONNX
// op type and an exporter per IR op, from register_onnx_ops(), explicitly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "formats/onnx/onnx_proto.h"
#include "ir/graph.h"

namespace convmend::onnx {

Result<DType> dtype_from_onnx(DataType type);
Result<DataType> dtype_to_onnx(DType dtype);
// An ONNX TensorProto as an IR tensor (copied), and back.
Result<Tensor> tensor_from_proto(const TensorProto& proto);
Result<TensorProto> tensor_to_proto(const Tensor& tensor, const std::string& name);

// Everything an importer needs for one NodeProto.
class ImportContext {
 public:
  ImportContext(Graph& graph, const NodeProto& node, int64_t opset, int64_t index,
                std::vector<Value*> inputs)
      : graph_(graph), node_(node), opset_(opset), index_(index), inputs_(std::move(inputs)) {}

  Graph& graph() { return graph_; }
  const NodeProto& proto() const { return node_; }
  int64_t opset() const { return opset_; }
  int64_t index() const { return index_; }  // of the NodeProto in the file's graph
  // Resolved inputs; nullptr for an omitted optional input ("").
  const std::vector<Value*>& inputs() const { return inputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }

  const AttributeProto* attr(const std::string& name) const;
  Result<int64_t> attr_int(const std::string& name, int64_t fallback) const;
  Result<float> attr_float(const std::string& name, float fallback) const;
  Result<std::string> attr_string(const std::string& name, const std::string& fallback) const;
  Result<std::vector<int64_t>> attr_ints(const std::string& name) const;  // empty if absent

  // Every attribute of the proto as IR attributes (f -> double, i -> int64, s -> string,
  // lists, tensors), except those named in `skip`.
  Result<Attributes> copy_attributes(const std::vector<std::string>& skip = {}) const;
  // A new constant value for an attribute that recent opsets take as an input.
  Value* constant_i64(const std::string& suffix, const std::vector<int64_t>& values);
  Value* constant_f32_scalar(const std::string& suffix, float value);

  // Adds the IR node for this proto with its outputs named as in the file; records provenance.
  Node* add_node(OpKind op, const std::vector<Value*>& inputs, const Attributes& attrs);
  // Makes `name` (an output of this proto) refer to an existing value instead of a new node.
  void alias_output(size_t index, Value* value) { aliases_.emplace_back(index, value); }
  const std::vector<std::pair<size_t, Value*>>& aliases() const { return aliases_; }
  const std::vector<Node*>& added() const { return added_; }
  std::string describe() const;  // "ONNX node 'name' (OpType): "

 private:
  Graph& graph_;
  const NodeProto& node_;
  int64_t opset_;
  int64_t index_;
  std::vector<Value*> inputs_;
  std::vector<Node*> added_;
  std::vector<std::pair<size_t, Value*>> aliases_;
};

// Everything an exporter needs for one IR node.
class ExportContext {
 public:
  ExportContext(const Node& node, int64_t opset, std::vector<std::string> input_names,
                std::vector<std::string> output_names, GraphProto& graph)
      : node_(node), opset_(opset), inputs_(std::move(input_names)),
        outputs_(std::move(output_names)), graph_(graph) {}

  const Node& node() const { return node_; }
  int64_t opset() const { return opset_; }
  const std::string& input_name(size_t i) const { return inputs_[i]; }
  const std::vector<std::string>& input_names() const { return inputs_; }
  const std::vector<std::string>& output_names() const { return outputs_; }

  // Appends a NodeProto. `inputs`/`outputs` are value names ("" = omitted).
  NodeProto& emit(const std::string& op_type, const std::vector<std::string>& inputs,
                  const std::vector<std::string>& outputs);
  // Adds an initializer and returns its (unique) name.
  Result<std::string> add_initializer(const Tensor& t, const std::string& hint);
  std::string fresh_name(const std::string& hint);
  // IR attributes -> AttributeProto list, except `skip`.
  Result<std::vector<AttributeProto>> export_attributes(const std::vector<std::string>& skip) const;
  // The constant data of input i, or an error naming why an older opset needs it constant.
  Result<std::vector<int64_t>> constant_ints(size_t input_index) const;
  std::string describe() const;

 private:
  const Node& node_;
  int64_t opset_;
  std::vector<std::string> inputs_;
  std::vector<std::string> outputs_;
  GraphProto& graph_;
};

using ImportFn = Status (*)(ImportContext& ctx);
using ExportFn = Status (*)(ExportContext& ctx);

struct OnnxOpRegistry {
  // ONNX op type (default domain) -> importer, with the lowest opset it handles.
  struct Importer {
    ImportFn fn;
    int64_t min_opset;
  };
  std::map<std::string, Importer> importers;
  std::map<OpKind, ExportFn> exporters;

  void add_import(const std::string& op_type, ImportFn fn, int64_t min_opset = 1) {
    importers[op_type] = {fn, min_opset};
  }
  void add_export(OpKind op, ExportFn fn) { exporters[op] = fn; }
};

// Ops whose ONNX spelling is the IR's: name, attributes and inputs copied as they are.
Status import_as_is(ImportContext& ctx);
Status export_as_is(ExportContext& ctx);
// Registers import_as_is and export_as_is for an op spelled the same in both.
void add_same_name(OnnxOpRegistry& registry, OpKind op, int64_t min_opset = 1);
// Emits the fused activation of `node` (if any) after an op that wrote `pre_activation`.
Status emit_fused_activation(ExportContext& ctx, const std::string& pre_activation,
                             const std::string& output);

const OnnxOpRegistry& onnx_op_registry();

// One function per family, called by onnx_op_registry().
void register_conv_ops(OnnxOpRegistry& r);
void register_linear_ops(OnnxOpRegistry& r);
void register_normalization_ops(OnnxOpRegistry& r);
void register_pool_ops(OnnxOpRegistry& r);
void register_pad_ops(OnnxOpRegistry& r);
void register_resize_ops(OnnxOpRegistry& r);
void register_unary_ops(OnnxOpRegistry& r);
void register_binary_ops(OnnxOpRegistry& r);
void register_reduce_ops(OnnxOpRegistry& r);
void register_softmax_ops(OnnxOpRegistry& r);
void register_tensor_ops(OnnxOpRegistry& r);
void register_indexing_ops(OnnxOpRegistry& r);
void register_cast_ops(OnnxOpRegistry& r);

}  // namespace convmend::onnx
