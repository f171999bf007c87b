// The IR graph. A Graph owns its Nodes and Values; both are created only through the graph,
// keep a stable id for the graph's lifetime, and are referred to by raw pointers that stay
// valid until the graph is destroyed (removed objects are detached, not freed, until then).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/op.h"
#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend {

class Node;
class Graph;

// Logical layout of an activation or weight value, kept so that a model can be written back
// in its own layout and compared with another after a recorded permutation.
enum class Layout : uint8_t { kUnknown, kNCHW, kNHWC, kOIHW, kOHWI, k1HWO, kHWIO, kNC };
const char* layout_name(Layout layout);

// Where a node came from: its name and op type in the file or framework it was read from.
struct Provenance {
  std::string format;   // "onnx", "tflite", "keras", "torch", ...
  std::string name;     // node name, layer name or module path
  std::string op_type;  // op type as the format spells it ("Conv", "CONV_2D", "Conv2D")
  int64_t index = -1;   // position in the file's node/operator list
};

class Value {
 public:
  int64_t id() const { return id_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  DType dtype() const { return dtype_; }
  void set_dtype(DType d) { dtype_ = d; }
  const Shape& shape() const { return shape_; }
  void set_shape(Shape s) { shape_ = std::move(s); }
  // Symbolic names of dims where the file gave them ("batch"); empty strings elsewhere.
  const std::vector<std::string>& dim_names() const { return dim_names_; }
  void set_dim_names(std::vector<std::string> names) { dim_names_ = std::move(names); }
  Layout layout() const { return layout_; }
  void set_layout(Layout l) { layout_ = l; }
  const QuantParams& quant() const { return quant_; }
  void set_quant(QuantParams q) { quant_ = std::move(q); }

  bool is_constant() const { return constant_.has_value(); }
  const Tensor& constant() const { return *constant_; }
  // Replaces the constant data; dtype and shape follow the tensor.
  void set_constant(Tensor t);

  Node* producer() const { return producer_; }
  int producer_output() const { return producer_output_; }
  // Each (node, input index) that reads this value.
  const std::vector<std::pair<Node*, int>>& consumers() const { return consumers_; }
  bool is_graph_input() const { return is_graph_input_; }
  bool is_graph_output() const { return is_graph_output_; }

 private:
  friend class Graph;
  int64_t id_ = -1;
  std::string name_;
  DType dtype_ = DType::kFloat32;
  Shape shape_;
  std::vector<std::string> dim_names_;
  Layout layout_ = Layout::kUnknown;
  QuantParams quant_;
  std::optional<Tensor> constant_;
  Node* producer_ = nullptr;
  int producer_output_ = -1;
  std::vector<std::pair<Node*, int>> consumers_;
  bool is_graph_input_ = false;
  bool is_graph_output_ = false;
  bool removed_ = false;
};

class Node {
 public:
  int64_t id() const { return id_; }
  OpKind op() const { return op_; }
  const char* op_name() const { return convmend::op_name(op_); }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Inputs may contain nullptr for an omitted optional input.
  const std::vector<Value*>& inputs() const { return inputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* output(size_t i) const { return outputs_[i]; }
  Attributes& attrs() { return attrs_; }
  const Attributes& attrs() const { return attrs_; }
  const Provenance& provenance() const { return provenance_; }
  void set_provenance(Provenance p) { provenance_ = std::move(p); }
  // "node 'name' (Op): " for error messages.
  std::string describe() const;

 private:
  friend class Graph;
  int64_t id_ = -1;
  OpKind op_ = OpKind::kIdentity;
  std::string name_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  Attributes attrs_;
  Provenance provenance_;
  bool removed_ = false;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Format-level facts kept for faithful write-back ("onnx.opset", "tflite.description", ...).
  std::map<std::string, std::string>& metadata() { return metadata_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  Value* add_value(const std::string& name, DType dtype, Shape shape);
  Value* add_constant(const std::string& name, Tensor tensor);
  Value* add_input(const std::string& name, DType dtype, Shape shape);
  void add_output(Value* v);
  void set_outputs(std::vector<Value*> outputs);

  // Creates a node whose outputs are new values named `output_names`.
  Node* add_node(OpKind op, const std::string& name, const std::vector<Value*>& inputs,
                 const std::vector<std::string>& output_names);
  // Rewiring keeps producer/consumer links consistent.
  void set_input(Node* node, size_t index, Value* value);
  void append_input(Node* node, Value* value);
  void replace_all_uses(Value* old_value, Value* new_value);  // graph outputs included
  // Removes a node; its outputs must have no consumers and must not be graph outputs.
  Status remove_node(Node* node);
  // Removes nodes and constants that no graph output depends on.
  void remove_dead();

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  // Live nodes and values in creation order.
  std::vector<Node*> nodes() const;
  std::vector<Value*> values() const;
  size_t node_count() const;
  Node* node_by_id(int64_t id) const;
  Value* value_by_id(int64_t id) const;
  Node* find_node(const std::string& name) const;
  Value* find_value(const std::string& name) const;

  // Nodes ordered so that producers come before consumers; fails on a cycle.
  Result<std::vector<Node*>> topological_order() const;
  // Structural checks: links, arity against the op table, single producers, acyclic,
  // constants matching their declared dtype and shape.
  Status verify() const;
  // A readable, deterministic text form (one line per value or node).
  std::string to_text() const;
  // Hash of ops, attributes, connectivity, dtypes, shapes and constant bytes; ignores ids.
  uint64_t structural_hash() const;
  Result<std::unique_ptr<Graph>> clone() const;

 private:
  std::string name_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
};

// True when both graphs have the same structure (see structural_hash), checked exactly.
bool structurally_equal(const Graph& a, const Graph& b, std::string* first_difference);

}  // namespace convmend
