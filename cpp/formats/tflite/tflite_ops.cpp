#include "formats/tflite/tflite_ops.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "ir/shape_inference.h"

namespace convmend::tflite {

Result<DType> dtype_from_tflite(TensorType type) {
  switch (type) {
    case TensorType::kFloat32: return DType::kFloat32;
    case TensorType::kFloat16: return DType::kFloat16;
    case TensorType::kFloat64: return DType::kFloat64;
    case TensorType::kInt8: return DType::kInt8;
    case TensorType::kUint8: return DType::kUInt8;
    case TensorType::kInt16: return DType::kInt16;
    case TensorType::kInt32: return DType::kInt32;
    case TensorType::kInt64: return DType::kInt64;
    case TensorType::kBool: return DType::kBool;
    default:
      return error(StatusCode::kUnsupported, "TFLite tensor type ", describe(type),
                   " is not supported");
  }
}

Result<TensorType> dtype_to_tflite(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return TensorType::kFloat32;
    case DType::kFloat16: return TensorType::kFloat16;
    case DType::kFloat64: return TensorType::kFloat64;
    case DType::kInt8: return TensorType::kInt8;
    case DType::kUInt8: return TensorType::kUint8;
    case DType::kInt16: return TensorType::kInt16;
    case DType::kInt32: return TensorType::kInt32;
    case DType::kInt64: return TensorType::kInt64;
    case DType::kBool: return TensorType::kBool;
  }
  return error(StatusCode::kInternal, "unknown dtype");
}

std::string operator_display_name(const OperatorCode& code) {
  const BuiltinOperator op = code.effective_code();
  if (op == BuiltinOperator::kCustom) return "CUSTOM(" + code.custom_code + ")";
  return describe(op);
}

Result<Activation> activation_from_tflite(int64_t code) {
  switch (static_cast<ActivationFunctionType>(code)) {
    case ActivationFunctionType::kNone: return Activation::kNone;
    case ActivationFunctionType::kRelu: return Activation::kRelu;
    case ActivationFunctionType::kReluN1To1: return Activation::kReluN1To1;
    case ActivationFunctionType::kRelu6: return Activation::kRelu6;
    case ActivationFunctionType::kTanh: return Activation::kTanh;
    case ActivationFunctionType::kSignBit: return Activation::kSignBit;
  }
  return error(StatusCode::kInvalidModel, "unknown fused activation function ", code);
}

Result<int8_t> activation_to_tflite(Activation activation) {
  switch (activation) {
    case Activation::kNone: return static_cast<int8_t>(ActivationFunctionType::kNone);
    case Activation::kRelu: return static_cast<int8_t>(ActivationFunctionType::kRelu);
    case Activation::kRelu6: return static_cast<int8_t>(ActivationFunctionType::kRelu6);
    case Activation::kReluN1To1: return static_cast<int8_t>(ActivationFunctionType::kReluN1To1);
    case Activation::kTanh: return static_cast<int8_t>(ActivationFunctionType::kTanh);
    case Activation::kSignBit: return static_cast<int8_t>(ActivationFunctionType::kSignBit);
  }
  return error(StatusCode::kInternal, "unknown activation");
}

// ---- ImportContext ----

ImportContext::ImportContext(Graph& graph, const Model& model, const Operator& op, int64_t index,
                             std::vector<Value*> inputs, std::vector<std::string> output_names)
    : graph_(graph), model_(model), op_(op), index_(index), inputs_(std::move(inputs)),
      output_names_(std::move(output_names)) {
  op_name_ = operator_display_name(model_.operator_codes[op_.opcode_index]);
}

BuiltinOperator ImportContext::code() const {
  return model_.operator_codes[op_.opcode_index].effective_code();
}

const Tensor& ImportContext::output_tensor(size_t i) const {
  return model_.subgraphs[0].tensors[static_cast<size_t>(op_.outputs[i])];
}

Result<DType> ImportContext::output_dtype(size_t i) const {
  auto d = dtype_from_tflite(output_tensor(i).type);
  if (!d.is_ok()) return d.status().with_context(describe());
  return d;
}

Result<Value*> ImportContext::required_input(size_t i) const {
  Value* v = input(i);
  if (v == nullptr) {
    return error(StatusCode::kInvalidModel, describe(), "input ", i, " is missing");
  }
  return v;
}

namespace {

// The options of `ctx`, or the schema defaults when the file left the table out.
Result<OptionField> find_option(const ImportContext& ctx, std::string_view name) {
  const Options* options = &ctx.options();
  Options defaults;
  if (options->type == BuiltinOptionsType::kNone) {
    const auto type = options_type_for_operator(ctx.code());
    if (!type) {
      return error(StatusCode::kInternal, ctx.describe(), "has no options table for '", name,
                   "'");
    }
    ASSIGN_OR_RETURN(defaults, Options::make_default(*type));
    options = &defaults;
  }
  for (const OptionField& f : options->fields) {
    if (f.name == name) return f;
  }
  return error(StatusCode::kInvalidModel, ctx.describe(), "options ",
               describe(options->type), " have no field '", name, "'");
}

}  // namespace

Result<int64_t> ImportContext::opt_int(std::string_view name) const {
  ASSIGN_OR_RETURN(OptionField f, find_option(*this, name));
  return f.int_value;
}

Result<bool> ImportContext::opt_bool(std::string_view name) const {
  ASSIGN_OR_RETURN(OptionField f, find_option(*this, name));
  return f.int_value != 0;
}

Result<float> ImportContext::opt_float(std::string_view name) const {
  ASSIGN_OR_RETURN(OptionField f, find_option(*this, name));
  return f.float_value;
}

Result<Activation> ImportContext::fused_activation() const {
  ASSIGN_OR_RETURN(int64_t code, opt_int("fused_activation_function"));
  auto a = activation_from_tflite(code);
  if (!a.is_ok()) return a.status().with_context(describe());
  return a;
}

Result<AutoPad> ImportContext::padding() const {
  ASSIGN_OR_RETURN(int64_t code, opt_int("padding"));
  switch (static_cast<Padding>(code)) {
    case Padding::kSame: return AutoPad::kSameUpper;
    case Padding::kValid: return AutoPad::kValid;
  }
  return error(StatusCode::kInvalidModel, describe(), "unknown padding ", code);
}

Result<std::vector<int64_t>> ImportContext::constant_ints(size_t i) const {
  ASSIGN_OR_RETURN(Value* v, required_input(i));
  if (!v->is_constant()) {
    return error(StatusCode::kUnsupported, describe(), "input ", i, " ('", v->name(),
                 "') must be constant");
  }
  return v->constant().to_int64s();
}

Value* ImportContext::constant(const std::string& suffix, IrTensor tensor) {
  return graph_.add_constant(output_names_.at(0) + "/" + suffix, std::move(tensor));
}

Value* ImportContext::constant_i64(const std::string& suffix, const std::vector<int64_t>& values) {
  return constant(suffix, IrTensor::vector_i64(values));
}

Value* ImportContext::constant_f32_scalar(const std::string& suffix, float value) {
  return constant(suffix, IrTensor::scalar_f32(value));
}

Result<Value*> ImportContext::input_as_i64(size_t i, const std::string& suffix) {
  ASSIGN_OR_RETURN(Value* v, required_input(i));
  if (v->dtype() == DType::kInt64) return v;
  if (v->is_constant()) {
    auto t = v->constant().cast(DType::kInt64);
    if (!t.is_ok()) return t.status().with_context(describe());
    return constant(suffix, std::move(t).value());
  }
  Attributes attrs;
  attrs.set("to", std::string(dtype_name(DType::kInt64)));
  return add_helper(OpKind::kCast, {v}, std::move(attrs), suffix)->output(0);
}

Provenance ImportContext::provenance() const {
  return Provenance{"tflite", output_names_.empty() ? std::string() : output_names_[0],
                    op_name_, index_};
}

Node* ImportContext::add_node(OpKind op, const std::vector<Value*>& inputs, Attributes attrs) {
  const std::string name = output_names_.empty() ? op_name_ : output_names_[0];
  Node* n = graph_.add_node(op, name, inputs, output_names_);
  n->attrs() = std::move(attrs);
  n->set_provenance(provenance());
  added_.push_back(n);
  return n;
}

Node* ImportContext::add_helper(OpKind op, const std::vector<Value*>& inputs, Attributes attrs,
                                const std::string& suffix) {
  const std::string name = output_names_.at(0) + "/" + suffix;
  Node* n = graph_.add_node(op, name, inputs, {name});
  n->attrs() = std::move(attrs);
  n->set_provenance(provenance());
  added_.push_back(n);
  return n;
}

std::string ImportContext::describe() const {
  return "TFLite operator " + std::to_string(index_) + " '" +
         (output_names_.empty() ? std::string() : output_names_[0]) + "' (" + op_name_ + "): ";
}

// ---- ModelBuilder ----

ModelBuilder::ModelBuilder(const Graph& graph, Model& model) : graph_(graph), model_(model) {
  if (model_.buffers.empty()) model_.buffers.emplace_back();  // buffer 0: the empty sentinel
  if (model_.subgraphs.empty()) model_.subgraphs.emplace_back();
}

const Value* ModelBuilder::resolve(const Value* value) const {
  for (auto it = aliases_.find(value); it != aliases_.end(); it = aliases_.find(value)) {
    value = it->second;
  }
  return value;
}

std::string ModelBuilder::unique_name(const std::string& name) {
  std::string out = name;
  for (int i = 1; names_.count(out) != 0; ++i) out = name + "_" + std::to_string(i);
  names_.insert(out);
  return out;
}

Result<int32_t> ModelBuilder::new_tensor(DType dtype, const Shape& shape, const std::string& name,
                                         const QuantParams& quant, const IrTensor* data) {
  Tensor t;
  auto type = dtype_to_tflite(dtype);
  if (!type.is_ok()) return type.status().with_context("value '" + name + "': ");
  t.type = type.value();
  t.name = unique_name(name);
  bool dynamic = false;
  for (int64_t d : shape) {
    if (d > std::numeric_limits<int32_t>::max()) {
      return error(StatusCode::kUnsupported, "value '", name, "' has dim ", d,
                   " beyond TFLite's int32 dims");
    }
    dynamic |= d < 0;
    t.shape.push_back(d < 0 ? 1 : static_cast<int32_t>(d));
  }
  if (dynamic) {
    std::vector<int32_t> signature;
    for (int64_t d : shape) signature.push_back(d < 0 ? -1 : static_cast<int32_t>(d));
    t.shape_signature = std::move(signature);
  }
  QuantizationParameters q;  // converters write an empty table for float tensors
  q.scale = quant.scale;
  q.zero_point = quant.zero_point;
  q.quantized_dimension = quant.per_channel() ? quant.axis : 0;
  t.quantization = std::move(q);
  if (data != nullptr) {
    Buffer b;
    const auto* bytes = reinterpret_cast<const uint8_t*>(data->raw());
    b.data.assign(bytes, bytes + data->byte_size());
    t.buffer = static_cast<uint32_t>(model_.buffers.size());
    model_.buffers.push_back(std::move(b));
  }
  subgraph().tensors.push_back(std::move(t));
  return static_cast<int32_t>(subgraph().tensors.size() - 1);
}

Result<int32_t> ModelBuilder::tensor_for(const Value* value) {
  value = resolve(value);
  auto it = tensors_.find(value);
  if (it != tensors_.end()) return it->second;
  const std::string name = value->name().empty() ? "value_" + std::to_string(value->id())
                                                 : value->name();
  int32_t index = 0;
  if (value->is_constant()) {
    ASSIGN_OR_RETURN(index, new_tensor(value->dtype(), value->shape(), name, value->quant(),
                                       &value->constant()));
  } else {
    ASSIGN_OR_RETURN(index, new_tensor(value->dtype(), value->shape(), name, value->quant(),
                                       nullptr));
  }
  tensors_[value] = index;
  return index;
}

Result<int32_t> ModelBuilder::add_constant(const IrTensor& tensor, const std::string& name) {
  return new_tensor(tensor.dtype(), tensor.shape(), name, tensor.quant(), &tensor);
}

Result<int32_t> ModelBuilder::add_intermediate(DType dtype, const Shape& shape,
                                               const std::string& name) {
  return new_tensor(dtype, shape, name, QuantParams{}, nullptr);
}

uint32_t ModelBuilder::opcode_index(BuiltinOperator op, int32_t version) {
  const auto key = std::make_pair(static_cast<int32_t>(op), version);
  auto it = opcodes_.find(key);
  if (it != opcodes_.end()) return it->second;
  model_.operator_codes.push_back(OperatorCode::builtin(op, version));
  const auto index = static_cast<uint32_t>(model_.operator_codes.size() - 1);
  opcodes_[key] = index;
  return index;
}

int32_t ModelBuilder::version_for(const Node& node, BuiltinOperator op) const {
  const std::string op_text(builtin_operator_name(op));
  const auto& meta = graph_.metadata();
  if (node.provenance().format == "tflite" && node.provenance().op_type == op_text) {
    auto it = meta.find(kVersionKeyPrefix + node.name());
    if (it != meta.end()) return std::max(1, std::atoi(it->second.c_str()));
  }
  auto it = meta.find(kCodeVersionKeyPrefix + op_text);
  if (it != meta.end()) return std::max(1, std::atoi(it->second.c_str()));
  return 1;
}

// ---- ExportContext ----

Result<int32_t> ExportContext::input_tensor(size_t i) {
  const Value* v = node_.input(i);
  if (v == nullptr) return -1;
  return builder_.tensor_for(v);
}

Result<int32_t> ExportContext::output_tensor(size_t i) {
  return builder_.tensor_for(node_.output(i));
}

Result<std::vector<int64_t>> ExportContext::constant_ints(size_t i) const {
  const Value* v = node_.input(i);
  if (v == nullptr) return std::vector<int64_t>{};
  if (!v->is_constant()) {
    return error(StatusCode::kUnsupported, describe(), "input ", i, " ('", v->name(),
                 "') must be constant to be written to TFLite");
  }
  return v->constant().to_int64s();
}

Result<int32_t> ExportContext::int32_constant(const std::vector<int64_t>& values,
                                              const Shape& shape, const std::string& suffix) {
  std::vector<int32_t> narrow;
  for (int64_t v : values) {
    narrow.push_back(static_cast<int32_t>(
        std::clamp<int64_t>(v, std::numeric_limits<int32_t>::min(),
                            std::numeric_limits<int32_t>::max())));
  }
  IrTensor t = IrTensor::from_vector<int32_t>(DType::kInt32, shape, narrow);
  const std::string base = node_.name().empty() ? std::string(node_.op_name()) : node_.name();
  return builder_.add_constant(t, base + "/" + suffix);
}

Result<Options> ExportContext::options(BuiltinOptionsType type) const {
  return Options::make_default(type);
}

Status ExportContext::emit(BuiltinOperator op, const std::vector<int32_t>& inputs,
                           const std::vector<int32_t>& outputs, Options options) {
  Operator o;
  o.opcode_index = builder_.opcode_index(op, builder_.version_for(node_, op));
  o.inputs = inputs;
  o.outputs = outputs;
  o.builtin_options = std::move(options);
  builder_.subgraph().operators.push_back(std::move(o));
  return Status::ok();
}

Result<int8_t> ExportContext::fused_activation() const {
  ASSIGN_OR_RETURN(Activation a, node_.attrs().get_activation());
  return activation_to_tflite(a);
}

Status ExportContext::require_nhwc() const {
  ASSIGN_OR_RETURN(DataLayout layout, node_.attrs().get_data_layout());
  if (layout != DataLayout::kNHWC) {
    return error(StatusCode::kUnsupported, describe(), "data_layout ", data_layout_name(layout),
                 " cannot be written to TFLite, which is NHWC only");
  }
  return Status::ok();
}

Value* dequantized_weight(ImportContext& ctx, Value* weight, const Value* activation) {
  if (weight == nullptr || !weight->is_constant() || weight->quant().empty() ||
      !is_integer(weight->dtype()) || activation == nullptr || !is_float(activation->dtype())) {
    return weight;
  }
  return ctx.add_helper(OpKind::kDequantizeLinear, {weight}, Attributes{}, "dequantize_weight")
      ->output(0);
}

Result<Padding> padding_for(const ExportContext& ctx, int64_t kernel_h, int64_t kernel_w) {
  const Attributes& a = ctx.node().attrs();
  ASSIGN_OR_RETURN(AutoPad auto_pad, a.get_auto_pad());
  if (auto_pad == AutoPad::kSameUpper) return Padding::kSame;
  if (auto_pad == AutoPad::kValid) return Padding::kValid;
  ASSIGN_OR_RETURN(auto pads, a.get_ints("pads", {0, 0, 0, 0}));
  if (auto_pad == AutoPad::kNotSet) {
    if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) {
      return Padding::kValid;
    }
    ASSIGN_OR_RETURN(auto strides, a.get_ints("strides", {1, 1}));
    ASSIGN_OR_RETURN(auto dilations, a.get_ints("dilations", {1, 1}));
    const Shape& x = ctx.input(0)->shape();
    bool same = pads.size() == 4 && strides.size() == 2 && dilations.size() == 2 && x.size() == 4;
    const int64_t kernel[2] = {kernel_h, kernel_w};
    for (size_t d = 0; same && d < 2; ++d) {
      auto s = spatial_output(x[1 + d], kernel[d], strides[d], dilations[d], 0, 0,
                              AutoPad::kSameUpper, false);
      same = x[1 + d] >= 0 && s.is_ok() && s->pad_begin == pads[d] && s->pad_end == pads[2 + d];
    }
    if (same) return Padding::kSame;
  }
  return error(StatusCode::kUnsupported, ctx.describe(), "padding (auto_pad ",
               auto_pad_name(auto_pad), ", pads ", shape_to_string(pads),
               ") has no TFLite SAME/VALID equivalent");
}

const TfliteOpRegistry& tflite_op_registry() {
  static const TfliteOpRegistry registry = [] {
    TfliteOpRegistry r;
    register_conv_ops(r);
    register_linear_ops(r);
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

}  // namespace convmend::tflite
