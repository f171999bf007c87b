#include "formats/onnx/onnx_ops.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace convmend::onnx {

Result<DType> dtype_from_onnx(DataType type) {
  switch (type) {
    case DataType::kFloat: return DType::kFloat32;
    case DataType::kFloat16: return DType::kFloat16;
    case DataType::kDouble: return DType::kFloat64;
    case DataType::kInt8: return DType::kInt8;
    case DataType::kUint8: return DType::kUInt8;
    case DataType::kInt16: return DType::kInt16;
    case DataType::kInt32: return DType::kInt32;
    case DataType::kInt64: return DType::kInt64;
    case DataType::kBool: return DType::kBool;
    default:
      return error(StatusCode::kUnsupported, "ONNX data type ", data_type_name(type),
                   " is not supported");
  }
}

Result<DataType> dtype_to_onnx(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return DataType::kFloat;
    case DType::kFloat16: return DataType::kFloat16;
    case DType::kFloat64: return DataType::kDouble;
    case DType::kInt8: return DataType::kInt8;
    case DType::kUInt8: return DataType::kUint8;
    case DType::kInt16: return DataType::kInt16;
    case DType::kInt32: return DataType::kInt32;
    case DType::kInt64: return DataType::kInt64;
    case DType::kBool: return DataType::kBool;
  }
  return error(StatusCode::kInternal, "unknown dtype");
}

Result<Tensor> tensor_from_proto(const TensorProto& proto) {
  ASSIGN_OR_RETURN(DType dtype, dtype_from_onnx(proto.data_type));
  ASSIGN_OR_RETURN(std::string bytes, tensor_bytes(proto));
  auto t = Tensor::from_bytes(dtype, proto.dims, bytes.data(), bytes.size());
  if (!t.is_ok()) return t.status().with_context("tensor '" + proto.name + "': ");
  return t;
}

Result<TensorProto> tensor_to_proto(const Tensor& tensor, const std::string& name) {
  TensorProto p;
  p.name = name;
  p.dims = tensor.shape();
  ASSIGN_OR_RETURN(p.data_type, dtype_to_onnx(tensor.dtype()));
  RETURN_IF_ERROR(set_tensor_raw_data(
      p, std::string(reinterpret_cast<const char*>(tensor.raw()), tensor.byte_size())));
  return p;
}

// ---- ImportContext ----

const AttributeProto* ImportContext::attr(const std::string& name) const {
  for (const AttributeProto& a : node_.attribute) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

Result<int64_t> ImportContext::attr_int(const std::string& name, int64_t fallback) const {
  const AttributeProto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type != AttributeType::kInt) {
    return error(StatusCode::kInvalidModel, describe(), "attribute '", name, "' is not an int");
  }
  return a->i;
}

Result<float> ImportContext::attr_float(const std::string& name, float fallback) const {
  const AttributeProto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type != AttributeType::kFloat) {
    return error(StatusCode::kInvalidModel, describe(), "attribute '", name, "' is not a float");
  }
  return a->f;
}

Result<std::string> ImportContext::attr_string(const std::string& name,
                                               const std::string& fallback) const {
  const AttributeProto* a = attr(name);
  if (a == nullptr) return fallback;
  if (a->type != AttributeType::kString) {
    return error(StatusCode::kInvalidModel, describe(), "attribute '", name, "' is not a string");
  }
  return a->s;
}

Result<std::vector<int64_t>> ImportContext::attr_ints(const std::string& name) const {
  const AttributeProto* a = attr(name);
  if (a == nullptr) return std::vector<int64_t>{};
  if (a->type != AttributeType::kInts) {
    return error(StatusCode::kInvalidModel, describe(), "attribute '", name, "' is not ints");
  }
  return a->ints;
}

Result<Attributes> ImportContext::copy_attributes(const std::vector<std::string>& skip) const {
  Attributes out;
  for (const AttributeProto& a : node_.attribute) {
    if (std::find(skip.begin(), skip.end(), a.name) != skip.end()) continue;
    if (!a.ref_attr_name.empty()) {
      return error(StatusCode::kUnsupported, describe(), "attribute '", a.name,
                   "' refers to a function attribute");
    }
    switch (a.type) {
      case AttributeType::kFloat: out.set(a.name, static_cast<double>(a.f)); break;
      case AttributeType::kInt: out.set(a.name, a.i); break;
      case AttributeType::kString: out.set(a.name, a.s); break;
      case AttributeType::kInts: out.set(a.name, a.ints); break;
      case AttributeType::kFloats:
        out.set(a.name, std::vector<double>(a.floats.begin(), a.floats.end()));
        break;
      case AttributeType::kStrings: out.set(a.name, a.strings); break;
      case AttributeType::kTensor: {
        auto t = tensor_from_proto(*a.t);
        if (!t.is_ok()) return t.status().with_context(describe());
        out.set(a.name, std::move(t).value());
        break;
      }
      default:
        return error(StatusCode::kUnsupported, describe(), "attribute '", a.name,
                     "' has a type convmend does not support (", static_cast<int>(a.type), ")");
    }
  }
  return out;
}

Value* ImportContext::constant_i64(const std::string& suffix, const std::vector<int64_t>& values) {
  const std::string base = node_.name.empty() ? node_.output.empty() ? "node" : node_.output[0]
                                              : node_.name;
  return graph_.add_constant(base + "/" + suffix, Tensor::vector_i64(values));
}

Value* ImportContext::constant_f32_scalar(const std::string& suffix, float value) {
  const std::string base = node_.name.empty() ? node_.output.empty() ? "node" : node_.output[0]
                                              : node_.name;
  return graph_.add_constant(base + "/" + suffix, Tensor::scalar_f32(value));
}

Node* ImportContext::add_node(OpKind op, const std::vector<Value*>& inputs,
                              const Attributes& attrs) {
  std::vector<std::string> outputs = node_.output;
  // Outputs the file leaves unnamed are dropped from the IR node's arity where optional.
  while (!outputs.empty() && outputs.back().empty()) outputs.pop_back();
  const std::string name = node_.name.empty() && !node_.output.empty() ? node_.output[0]
                                                                        : node_.name;
  Node* n = graph_.add_node(op, name, inputs, outputs);
  n->attrs() = attrs;
  n->set_provenance(Provenance{"onnx", node_.name, node_.op_type, index_});
  added_.push_back(n);
  return n;
}

std::string ImportContext::describe() const {
  return "ONNX node '" + node_.name + "' (" + node_.op_type + "): ";
}

// ---- ExportContext ----

NodeProto& ExportContext::emit(const std::string& op_type, const std::vector<std::string>& inputs,
                               const std::vector<std::string>& outputs) {
  NodeProto p;
  p.op_type = op_type;
  p.input = inputs;
  p.output = outputs;
  p.name = node_.name();
  graph_.node.push_back(std::move(p));
  return graph_.node.back();
}

std::string ExportContext::fresh_name(const std::string& hint) {
  return node_.name() + "/" + hint + "_" + std::to_string(graph_.node.size()) + "_" +
         std::to_string(graph_.initializer.size());
}

Result<std::string> ExportContext::add_initializer(const Tensor& t, const std::string& hint) {
  const std::string name = fresh_name(hint);
  ASSIGN_OR_RETURN(TensorProto p, tensor_to_proto(t, name));
  graph_.initializer.push_back(std::move(p));
  return name;
}

Result<std::vector<AttributeProto>> ExportContext::export_attributes(
    const std::vector<std::string>& skip) const {
  std::vector<AttributeProto> out;
  for (const auto& [name, value] : node_.attrs().all()) {
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    AttributeProto a;
    a.name = name;
    Status s = std::visit(
        [&a, &name](const auto& v) -> Status {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            a.type = AttributeType::kInt;
            a.i = v;
          } else if constexpr (std::is_same_v<T, double>) {
            a.type = AttributeType::kFloat;
            a.f = static_cast<float>(v);
          } else if constexpr (std::is_same_v<T, std::string>) {
            a.type = AttributeType::kString;
            a.s = v;
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            a.type = AttributeType::kInts;
            a.ints = v;
          } else if constexpr (std::is_same_v<T, std::vector<double>>) {
            a.type = AttributeType::kFloats;
            a.floats.assign(v.begin(), v.end());
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            a.type = AttributeType::kStrings;
            a.strings = v;
          } else {
            a.type = AttributeType::kTensor;
            auto p = tensor_to_proto(v, name);
            if (!p.is_ok()) return p.status();
            a.t.mutable_value() = std::move(p).value();
          }
          return Status::ok();
        },
        value);
    RETURN_IF_ERROR(s);
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<int64_t>> ExportContext::constant_ints(size_t input_index) const {
  const Value* v = node_.input(input_index);
  if (v == nullptr) return std::vector<int64_t>{};
  if (!v->is_constant()) {
    return error(StatusCode::kUnsupported, describe(), "input ", input_index,
                 " must be constant to be written as an attribute for ONNX opset ", opset_);
  }
  return v->constant().to_int64s();
}

std::string ExportContext::describe() const { return node_.describe(); }

// ---- shared importers and exporters ----

Status import_as_is(ImportContext& ctx) {
  OpKind op;
  if (!parse_op_kind(ctx.proto().op_type, &op)) {
    return error(StatusCode::kInternal, ctx.describe(), "no IR op of that name");
  }
  ASSIGN_OR_RETURN(Attributes attrs, ctx.copy_attributes());
  std::vector<Value*> inputs = ctx.inputs();
  while (!inputs.empty() && inputs.back() == nullptr) inputs.pop_back();
  ctx.add_node(op, inputs, attrs);
  return Status::ok();
}

Status export_as_is(ExportContext& ctx) {
  // Layout attributes exist only in the IR: ONNX is NCHW with OIHW weights.
  ASSIGN_OR_RETURN(DataLayout layout, ctx.node().attrs().get_data_layout());
  ASSIGN_OR_RETURN(WeightLayout weights, ctx.node().attrs().get_weight_layout());
  if (layout != DataLayout::kNCHW || weights != WeightLayout::kOIHW) {
    return error(StatusCode::kUnsupported, ctx.describe(), "layout ", data_layout_name(layout),
                 "/", weight_layout_name(weights), " cannot be written to ONNX yet");
  }
  ASSIGN_OR_RETURN(auto attrs,
                   ctx.export_attributes({"fused_activation", "data_layout", "weight_layout"}));
  ASSIGN_OR_RETURN(Activation act, ctx.node().attrs().get_activation());
  if (act == Activation::kNone) {
    NodeProto& p = ctx.emit(ctx.node().op_name(), ctx.input_names(), ctx.output_names());
    p.attribute = std::move(attrs);
    return Status::ok();
  }
  const std::string pre = ctx.fresh_name("pre_activation");
  NodeProto& p = ctx.emit(ctx.node().op_name(), ctx.input_names(), {pre});
  p.attribute = std::move(attrs);
  return emit_fused_activation(ctx, pre, ctx.output_names()[0]);
}

void add_same_name(OnnxOpRegistry& registry, OpKind op, int64_t min_opset) {
  registry.add_import(op_name(op), &import_as_is, min_opset);
  registry.add_export(op, &export_as_is);
}

Status emit_fused_activation(ExportContext& ctx, const std::string& pre_activation,
                             const std::string& output) {
  ASSIGN_OR_RETURN(Activation act, ctx.node().attrs().get_activation());
  switch (act) {
    case Activation::kNone:
      ctx.emit("Identity", {pre_activation}, {output});
      return Status::ok();
    case Activation::kRelu:
      ctx.emit("Relu", {pre_activation}, {output});
      return Status::ok();
    case Activation::kTanh:
      ctx.emit("Tanh", {pre_activation}, {output});
      return Status::ok();
    case Activation::kRelu6:
    case Activation::kReluN1To1: {
      const float lo = act == Activation::kRelu6 ? 0.0f : -1.0f;
      const float hi = act == Activation::kRelu6 ? 6.0f : 1.0f;
      ASSIGN_OR_RETURN(std::string min_name, ctx.add_initializer(Tensor::scalar_f32(lo), "min"));
      ASSIGN_OR_RETURN(std::string max_name, ctx.add_initializer(Tensor::scalar_f32(hi), "max"));
      ctx.emit("Clip", {pre_activation, min_name, max_name}, {output});
      return Status::ok();
    }
    case Activation::kSignBit:
      break;
  }
  return error(StatusCode::kUnsupported, ctx.describe(), "fused activation ",
               activation_name(act), " has no ONNX spelling");
}

const OnnxOpRegistry& onnx_op_registry() {
  static const OnnxOpRegistry registry = [] {
    OnnxOpRegistry r;
    register_conv_ops(r);
    register_linear_ops(r);
    register_normalization_ops(r);
    register_pool_ops(r);
    register_pad_ops(r);
    register_resize_ops(r);
    register_unary_ops(r);
    register_binary_ops(r);
    register_reduce_ops(r);
    register_softmax_ops(r);
    register_tensor_ops(r);
    register_indexing_ops(r);
    register_cast_ops(r);
    return r;
  }();
  return registry;
}

}  // namespace convmend::onnx
