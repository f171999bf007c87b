#include "formats/tflite/tflite_model.h"

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <tuple>
#include <unordered_set>
#include <utility>

#include "formats/utf8.h"

namespace convmend::tflite {

static_assert(std::endian::native == std::endian::little,
              "vectors are copied with memcpy; TFLite files are little-endian");

namespace {

namespace fb = flatbuffers;

// Verifier limits: TFLite tables nest at most five deep; large LLMs stay well below 16M tables.
constexpr fb::uoffset_t kMaxTableDepth = 64;
constexpr fb::uoffset_t kMaxTables = 1u << 24;
// Above this much buffer data the FlatBuffer (limited to 2 GB) cannot hold it inline.
constexpr uint64_t kMaxInlineBufferBytes = (uint64_t{1} << 31) - (uint64_t{256} << 20);
// Buffer data starts at this alignment, inline or after the FlatBuffer, like the converter's.
constexpr uint64_t kBufferDataAlignment = 16;
// Root offset, table vtable offset, and the smallest vtable (two voffsets).
constexpr size_t kMinFlatBufferBytes =
    sizeof(fb::uoffset_t) + sizeof(fb::soffset_t) + 2 * sizeof(fb::voffset_t);
// Unsupported findings beyond this many are counted, not listed.
constexpr size_t kMaxListedUnsupported = 20;

// Names the place in the model a message is about; only formatted when something fails.
struct Where {
  int64_t subgraph = -1;
  int64_t op = -1;
  std::string_view op_name;
  int64_t tensor = -1;
  std::string_view tensor_name;
  std::string_view table;  // e.g. "Buffer 7" for tables outside subgraphs

  std::string prefix() const {
    std::string out = "tflite: ";
    if (subgraph >= 0) out += "subgraph " + std::to_string(subgraph) + " ";
    if (op >= 0) {
      out += "operator " + std::to_string(op);
      if (!op_name.empty()) out += " (" + std::string(op_name) + ")";
      out += " ";
    }
    if (tensor >= 0) {
      out += "tensor " + std::to_string(tensor) + " '" + std::string(tensor_name) + "' ";
    }
    if (!table.empty()) out += std::string(table) + " ";
    if (out.back() == ' ') out.back() = ':';
    return out + " ";
  }
};

template <typename... Parts>
Status invalid(const Where& where, const Parts&... parts) {
  return error(StatusCode::kInvalidModel, where.prefix(), parts...);
}

std::string shape_text(const std::vector<int32_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// Reads tables through flatbuffers::Table after checking every offset, vtable and vector with
// flatbuffers::Verifier, so no read leaves the file whatever its bytes are.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size)
      : data_(data),
        size_(size),
        verifier_(data, std::min<size_t>(size, FLATBUFFERS_MAX_BUFFER_SIZE - 1),
                  [] {
                    fb::Verifier::Options options;
                    options.max_depth = kMaxTableDepth;
                    options.max_tables = kMaxTables;
                    return options;
                  }()) {}

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  Result<const fb::Table*> root(const Where& where) {
    const fb::uoffset_t offset = verifier_.VerifyOffset(size_t{0});
    if (offset == 0) return invalid(where, "root table offset is out of bounds");
    return reinterpret_cast<const fb::Table*>(data_ + offset);
  }

  // Verifies the table header and vtable, and refuses fields from a newer schema.
  Status begin_table(const fb::Table* table, std::string_view table_name, FieldId field_count,
                     const Where& where) {
    if (!table->VerifyTableStart(verifier_)) {
      return invalid(where, table_name, " table is out of bounds, malformed or nested too deep");
    }
    const uint8_t* vtable = table->GetVTable();
    // Vtables are shared between tables of any type with the same layout, so key on both.
    const uint64_t key = (static_cast<uint64_t>(vtable - data_) << 16) | field_count;
    if (!checked_vtables_.insert(key).second) return Status::ok();
    const auto vtable_bytes = fb::ReadScalar<fb::voffset_t>(vtable);
    const int slots = vtable_bytes < 4 ? 0 : (vtable_bytes - 4) / 2;
    for (int id = field_count; id < slots; ++id) {
      if (table->GetOptionalFieldOffset(vtable_offset(static_cast<FieldId>(id))) != 0) {
        return error(StatusCode::kUnsupported, where.prefix(), table_name, " has field ", id,
                     " which is newer than the schema convmend knows (", field_count,
                     " fields)");
      }
    }
    return Status::ok();
  }
  void end_table() { verifier_.EndTable(); }

  template <typename T>
  Result<T> scalar(const fb::Table* table, FieldId id, T default_value, std::string_view name,
                   const Where& where) const {
    if (!table->VerifyField<T>(verifier_, vtable_offset(id), sizeof(T))) {
      return invalid(where, "field '", name, "' is out of bounds or misaligned");
    }
    return table->GetField<T>(vtable_offset(id), default_value);
  }

  // nullptr when the field is absent.
  Result<const uint8_t*> pointer(const fb::Table* table, FieldId id, std::string_view name,
                                 const Where& where) const {
    if (!table->VerifyOffset(verifier_, vtable_offset(id))) {
      return invalid(where, "field '", name, "' points outside the file");
    }
    return table->GetPointer<const uint8_t*>(vtable_offset(id));
  }

  Result<const fb::Table*> table(const fb::Table* parent, FieldId id, std::string_view name,
                                 const Where& where) const {
    ASSIGN_OR_RETURN(const uint8_t* p, pointer(parent, id, name, where));
    return reinterpret_cast<const fb::Table*>(p);
  }

  // Copies a vector of scalars; std::nullopt when absent. memcpy because 8-byte elements are
  // only 4-byte aligned in a FlatBuffer.
  template <typename T>
  Result<std::optional<std::vector<T>>> vector(const fb::Table* table, FieldId id,
                                               std::string_view name, const Where& where) const {
    ASSIGN_OR_RETURN(const uint8_t* p, pointer(table, id, name, where));
    if (p == nullptr) return std::optional<std::vector<T>>();
    if (!verifier_.VerifyVectorOrString(p, sizeof(T))) {
      return invalid(where, "vector '", name, "' runs past the end of the file");
    }
    const fb::uoffset_t count = fb::ReadScalar<fb::uoffset_t>(p);
    std::vector<T> values(count);
    if (count > 0) std::memcpy(values.data(), p + sizeof(fb::uoffset_t), count * sizeof(T));
    return std::optional<std::vector<T>>(std::move(values));
  }

  template <typename T>
  Result<std::vector<T>> vector_or_empty(const fb::Table* table, FieldId id,
                                         std::string_view name, const Where& where) const {
    ASSIGN_OR_RETURN(std::optional<std::vector<T>> values, vector<T>(table, id, name, where));
    return values ? std::move(*values) : std::vector<T>();
  }

  Result<std::string> string(const fb::Table* table, FieldId id, std::string_view name,
                             const Where& where) const {
    ASSIGN_OR_RETURN(const uint8_t* p, pointer(table, id, name, where));
    if (p == nullptr) return std::string();
    const auto* text = reinterpret_cast<const fb::String*>(p);
    if (!verifier_.VerifyString(text)) {
      return invalid(where, "string '", name, "' runs past the end of the file or is unterminated");
    }
    std::string out(text->c_str(), text->size());
    const size_t bad = first_invalid_utf8(out);
    if (bad != std::string::npos) {
      return invalid(where, "string '", name, "' is not valid UTF-8 (byte ", bad, " of ",
                     out.size(), ")");
    }
    return out;
  }

  // The tables of a vector of tables, each offset checked; the caller verifies each table.
  Result<std::vector<const fb::Table*>> tables(const fb::Table* table, FieldId id,
                                               std::string_view name, const Where& where) const {
    ASSIGN_OR_RETURN(const uint8_t* p, pointer(table, id, name, where));
    std::vector<const fb::Table*> out;
    if (p == nullptr) return out;
    if (!verifier_.VerifyVectorOrString(p, sizeof(fb::uoffset_t))) {
      return invalid(where, "vector '", name, "' runs past the end of the file");
    }
    const fb::uoffset_t count = fb::ReadScalar<fb::uoffset_t>(p);
    out.reserve(count);
    for (fb::uoffset_t i = 0; i < count; ++i) {
      const size_t slot = static_cast<size_t>(p - data_) + sizeof(fb::uoffset_t) * (1 + i);
      const fb::uoffset_t offset = verifier_.VerifyOffset(slot);
      if (offset == 0) return invalid(where, "element ", i, " of '", name, "' is out of bounds");
      out.push_back(reinterpret_cast<const fb::Table*>(data_ + slot + offset));
    }
    return out;
  }

  void unsupported(std::string finding) { unsupported_.push_back(std::move(finding)); }
  bool has_unsupported() const { return !unsupported_.empty(); }

  Status unsupported_status() const {
    if (unsupported_.empty()) return Status::ok();
    std::string message = "tflite: the model uses " + std::to_string(unsupported_.size()) +
                          " unsupported feature(s): ";
    for (size_t i = 0; i < unsupported_.size() && i < kMaxListedUnsupported; ++i) {
      message += (i ? "; " : "") + unsupported_[i];
    }
    if (unsupported_.size() > kMaxListedUnsupported) message += "; ...";
    return {StatusCode::kUnsupported, message};
  }

 private:
  const uint8_t* data_;
  size_t size_;
  fb::Verifier verifier_;
  std::unordered_set<uint64_t> checked_vtables_;  // (vtable offset, field count) seen
  std::vector<std::string> unsupported_;
};

Result<OperatorCode> parse_operator_code(Reader& r, const fb::Table* t, const Where& where) {
  using F = OperatorCodeFields;
  RETURN_IF_ERROR(r.begin_table(t, "OperatorCode", F::kCount, where));
  OperatorCode code;
  ASSIGN_OR_RETURN(code.deprecated_builtin_code,
                   r.scalar<int8_t>(t, F::kDeprecatedBuiltinCode, 0, "deprecated_builtin_code",
                                    where));
  ASSIGN_OR_RETURN(code.custom_code, r.string(t, F::kCustomCode, "custom_code", where));
  ASSIGN_OR_RETURN(code.version, r.scalar<int32_t>(t, F::kVersion, 1, "version", where));
  ASSIGN_OR_RETURN(code.builtin_code,
                   r.scalar<int32_t>(t, F::kBuiltinCode, 0, "builtin_code", where));
  r.end_table();
  return code;
}

Result<QuantizationParameters> parse_quantization(Reader& r, const fb::Table* t,
                                                  const Where& where) {
  using F = QuantizationFields;
  RETURN_IF_ERROR(r.begin_table(t, "QuantizationParameters", F::kCount, where));
  QuantizationParameters q;
  ASSIGN_OR_RETURN(q.min, r.vector_or_empty<float>(t, F::kMin, "min", where));
  ASSIGN_OR_RETURN(q.max, r.vector_or_empty<float>(t, F::kMax, "max", where));
  ASSIGN_OR_RETURN(q.scale, r.vector_or_empty<float>(t, F::kScale, "scale", where));
  ASSIGN_OR_RETURN(q.zero_point, r.vector_or_empty<int64_t>(t, F::kZeroPoint, "zero_point", where));
  ASSIGN_OR_RETURN(uint8_t details_type,
                   r.scalar<uint8_t>(t, F::kDetailsType, 0, "details_type", where));
  ASSIGN_OR_RETURN(const uint8_t* details, r.pointer(t, F::kDetails, "details", where));
  if (details_type != 0 || details != nullptr) {
    r.unsupported(where.prefix() + "quantization details of type " +
                  std::to_string(details_type) + " (custom or blockwise quantization)");
  }
  ASSIGN_OR_RETURN(q.quantized_dimension,
                   r.scalar<int32_t>(t, F::kQuantizedDimension, 0, "quantized_dimension", where));
  r.end_table();
  return q;
}

Result<Tensor> parse_tensor(Reader& r, const fb::Table* t, Where where) {
  using F = TensorFields;
  RETURN_IF_ERROR(r.begin_table(t, "Tensor", F::kCount, where));
  Tensor tensor;
  ASSIGN_OR_RETURN(tensor.name, r.string(t, F::kName, "name", where));
  where.tensor_name = tensor.name;
  ASSIGN_OR_RETURN(tensor.shape, r.vector_or_empty<int32_t>(t, F::kShape, "shape", where));
  ASSIGN_OR_RETURN(int8_t type, r.scalar<int8_t>(t, F::kType, 0, "type", where));
  tensor.type = static_cast<TensorType>(type);
  ASSIGN_OR_RETURN(tensor.buffer, r.scalar<uint32_t>(t, F::kBuffer, 0, "buffer", where));
  ASSIGN_OR_RETURN(const fb::Table* quantization,
                   r.table(t, F::kQuantization, "quantization", where));
  if (quantization != nullptr) {
    ASSIGN_OR_RETURN(tensor.quantization, parse_quantization(r, quantization, where));
  }
  ASSIGN_OR_RETURN(uint8_t is_variable, r.scalar<uint8_t>(t, F::kIsVariable, 0, "is_variable",
                                                          where));
  tensor.is_variable = is_variable != 0;
  ASSIGN_OR_RETURN(const uint8_t* sparsity, r.pointer(t, F::kSparsity, "sparsity", where));
  if (sparsity != nullptr) r.unsupported(where.prefix() + "sparse tensor");
  ASSIGN_OR_RETURN(tensor.shape_signature,
                   r.vector<int32_t>(t, F::kShapeSignature, "shape_signature", where));
  ASSIGN_OR_RETURN(uint8_t has_rank, r.scalar<uint8_t>(t, F::kHasRank, 0, "has_rank", where));
  tensor.has_rank = has_rank != 0;
  ASSIGN_OR_RETURN(const uint8_t* variant_tensors,
                   r.pointer(t, F::kVariantTensors, "variant_tensors", where));
  if (variant_tensors != nullptr) r.unsupported(where.prefix() + "variant tensor types");
  ASSIGN_OR_RETURN(uint32_t external_buffer,
                   r.scalar<uint32_t>(t, F::kExternalBuffer, 0, "external_buffer", where));
  if (external_buffer != 0) r.unsupported(where.prefix() + "data in an external weights file");
  r.end_table();
  return tensor;
}

// One generic loop over the options spec; `t` may be null (all defaults).
Result<Options> parse_options(Reader& r, const fb::Table* t, const OptionsTableSpec& spec,
                              const Where& where) {
  ASSIGN_OR_RETURN(Options options, Options::make_default(spec.type));
  if (t == nullptr) return options;
  const std::string table_name(builtin_options_type_name(spec.type));
  RETURN_IF_ERROR(r.begin_table(t, table_name, spec.field_count, where));
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    const OptionFieldSpec& field = spec.fields[i];
    OptionField& value = options.fields[i];
    const auto default_int = static_cast<int64_t>(field.default_value);
    switch (field.kind) {
      case OptionKind::kBool:
      case OptionKind::kInt8: {
        ASSIGN_OR_RETURN(int8_t v, r.scalar<int8_t>(t, field.id, static_cast<int8_t>(default_int),
                                                    field.name, where));
        value.int_value = field.kind == OptionKind::kBool ? (v != 0) : v;
        break;
      }
      case OptionKind::kInt16: {
        ASSIGN_OR_RETURN(value.int_value, r.scalar<int16_t>(t, field.id,
                                                            static_cast<int16_t>(default_int),
                                                            field.name, where));
        break;
      }
      case OptionKind::kInt32: {
        ASSIGN_OR_RETURN(value.int_value, r.scalar<int32_t>(t, field.id,
                                                            static_cast<int32_t>(default_int),
                                                            field.name, where));
        break;
      }
      case OptionKind::kInt64: {
        ASSIGN_OR_RETURN(value.int_value, r.scalar<int64_t>(t, field.id, default_int, field.name,
                                                            where));
        break;
      }
      case OptionKind::kFloat: {
        ASSIGN_OR_RETURN(value.float_value,
                         r.scalar<float>(t, field.id, static_cast<float>(field.default_value),
                                         field.name, where));
        break;
      }
      case OptionKind::kInt32Vector: {
        ASSIGN_OR_RETURN(value.int_values, r.vector<int32_t>(t, field.id, field.name, where));
        break;
      }
    }
  }
  r.end_table();
  return options;
}

Result<Operator> parse_operator(Reader& r, const fb::Table* t,
                                const std::vector<OperatorCode>& codes, Where where) {
  using F = OperatorFields;
  RETURN_IF_ERROR(r.begin_table(t, "Operator", F::kCount, where));
  Operator op;
  ASSIGN_OR_RETURN(op.opcode_index,
                   r.scalar<uint32_t>(t, F::kOpcodeIndex, 0, "opcode_index", where));
  // The name is only known when the index is valid; validate_model reports a bad index.
  std::string op_name;
  if (op.opcode_index < codes.size()) {
    op_name = describe(codes[op.opcode_index].effective_code());
    where.op_name = op_name;
  }
  ASSIGN_OR_RETURN(op.inputs, r.vector_or_empty<int32_t>(t, F::kInputs, "inputs", where));
  ASSIGN_OR_RETURN(op.outputs, r.vector_or_empty<int32_t>(t, F::kOutputs, "outputs", where));
  ASSIGN_OR_RETURN(uint8_t options_type,
                   r.scalar<uint8_t>(t, F::kBuiltinOptionsType, 0, "builtin_options_type", where));
  ASSIGN_OR_RETURN(const fb::Table* options_table,
                   r.table(t, F::kBuiltinOptions, "builtin_options", where));
  const auto type = static_cast<BuiltinOptionsType>(options_type);
  if (type != BuiltinOptionsType::kNone) {
    if (const OptionsTableSpec* spec = find_options_spec(type)) {
      ASSIGN_OR_RETURN(op.builtin_options, parse_options(r, options_table, *spec, where));
    } else {
      r.unsupported(where.prefix() + "options table " + describe(type) + " (" +
                    std::to_string(options_type) + ")");
    }
  }
  ASSIGN_OR_RETURN(op.custom_options,
                   r.vector_or_empty<uint8_t>(t, F::kCustomOptions, "custom_options", where));
  ASSIGN_OR_RETURN(int8_t custom_format, r.scalar<int8_t>(t, F::kCustomOptionsFormat, 0,
                                                          "custom_options_format", where));
  op.custom_options_format = static_cast<CustomOptionsFormat>(custom_format);
  ASSIGN_OR_RETURN(std::vector<uint8_t> mutating,
                   r.vector_or_empty<uint8_t>(t, F::kMutatingVariableInputs,
                                              "mutating_variable_inputs", where));
  op.mutating_variable_inputs.assign(mutating.begin(), mutating.end());
  ASSIGN_OR_RETURN(op.intermediates,
                   r.vector_or_empty<int32_t>(t, F::kIntermediates, "intermediates", where));
  ASSIGN_OR_RETURN(uint64_t large_offset, r.scalar<uint64_t>(t, F::kLargeCustomOptionsOffset, 0,
                                                             "large_custom_options_offset", where));
  ASSIGN_OR_RETURN(uint64_t large_size, r.scalar<uint64_t>(t, F::kLargeCustomOptionsSize, 0,
                                                           "large_custom_options_size", where));
  if (large_offset != 0 || large_size != 0) {
    r.unsupported(where.prefix() + "custom options stored after the FlatBuffer");
  }
  ASSIGN_OR_RETURN(uint8_t options2_type, r.scalar<uint8_t>(t, F::kBuiltinOptions2Type, 0,
                                                            "builtin_options_2_type", where));
  ASSIGN_OR_RETURN(const uint8_t* options2,
                   r.pointer(t, F::kBuiltinOptions2, "builtin_options_2", where));
  if (options2_type != 0 || options2 != nullptr) {
    r.unsupported(where.prefix() + "builtin_options_2 of type " + std::to_string(options2_type));
  }
  ASSIGN_OR_RETURN(op.debug_metadata_index, r.scalar<int32_t>(t, F::kDebugMetadataIndex, -1,
                                                              "debug_metadata_index", where));
  r.end_table();
  return op;
}

Result<SubGraph> parse_subgraph(Reader& r, const fb::Table* t,
                                const std::vector<OperatorCode>& codes, const Where& where) {
  using F = SubGraphFields;
  RETURN_IF_ERROR(r.begin_table(t, "SubGraph", F::kCount, where));
  SubGraph subgraph;
  ASSIGN_OR_RETURN(subgraph.name, r.string(t, F::kName, "name", where));
  ASSIGN_OR_RETURN(auto tensor_tables, r.tables(t, F::kTensors, "tensors", where));
  subgraph.tensors.reserve(tensor_tables.size());
  for (size_t i = 0; i < tensor_tables.size(); ++i) {
    Where at = where;
    at.tensor = static_cast<int64_t>(i);
    ASSIGN_OR_RETURN(Tensor tensor, parse_tensor(r, tensor_tables[i], at));
    subgraph.tensors.push_back(std::move(tensor));
  }
  ASSIGN_OR_RETURN(subgraph.inputs, r.vector_or_empty<int32_t>(t, F::kInputs, "inputs", where));
  ASSIGN_OR_RETURN(subgraph.outputs,
                   r.vector_or_empty<int32_t>(t, F::kOutputs, "outputs", where));
  ASSIGN_OR_RETURN(auto operator_tables, r.tables(t, F::kOperators, "operators", where));
  subgraph.operators.reserve(operator_tables.size());
  for (size_t i = 0; i < operator_tables.size(); ++i) {
    Where at = where;
    at.op = static_cast<int64_t>(i);
    ASSIGN_OR_RETURN(Operator op, parse_operator(r, operator_tables[i], codes, at));
    subgraph.operators.push_back(std::move(op));
  }
  ASSIGN_OR_RETURN(subgraph.debug_metadata_index, r.scalar<int32_t>(t, F::kDebugMetadataIndex, -1,
                                                                    "debug_metadata_index", where));
  r.end_table();
  return subgraph;
}

Result<Buffer> parse_buffer(Reader& r, const fb::Table* t, const Where& where) {
  using F = BufferFields;
  RETURN_IF_ERROR(r.begin_table(t, "Buffer", F::kCount, where));
  Buffer buffer;
  ASSIGN_OR_RETURN(buffer.data, r.vector_or_empty<uint8_t>(t, F::kData, "data", where));
  ASSIGN_OR_RETURN(uint64_t offset, r.scalar<uint64_t>(t, F::kOffset, 0, "offset", where));
  ASSIGN_OR_RETURN(uint64_t size, r.scalar<uint64_t>(t, F::kSize, 0, "size", where));
  r.end_table();
  // Offsets 0 and 1 both mean "inline": converters use 1 as a placeholder while writing.
  if (offset > 1) {
    if (!buffer.data.empty()) {
      return invalid(where, "has both inline data and data at file offset ", offset);
    }
    if (offset > r.size() || size > r.size() - offset) {
      return invalid(where, "data at file offset ", offset, " with size ", size,
                     " lies past the end of the ", r.size(), "-byte file");
    }
    buffer.data.assign(r.data() + offset, r.data() + offset + size);
    buffer.source_offset = offset;
    buffer.source_size = size;
  }
  return buffer;
}

Result<SignatureDef> parse_signature_def(Reader& r, const fb::Table* t, const Where& where) {
  using F = SignatureDefFields;
  RETURN_IF_ERROR(r.begin_table(t, "SignatureDef", F::kCount, where));
  SignatureDef signature;
  for (auto [id, name, maps] : {std::tuple{F::kInputs, "inputs", &signature.inputs},
                                std::tuple{F::kOutputs, "outputs", &signature.outputs}}) {
    ASSIGN_OR_RETURN(auto map_tables, r.tables(t, id, name, where));
    for (const fb::Table* map_table : map_tables) {
      using M = TensorMapFields;
      RETURN_IF_ERROR(r.begin_table(map_table, "TensorMap", M::kCount, where));
      TensorMap map;
      ASSIGN_OR_RETURN(map.name, r.string(map_table, M::kName, "name", where));
      ASSIGN_OR_RETURN(map.tensor_index,
                       r.scalar<uint32_t>(map_table, M::kTensorIndex, 0, "tensor_index", where));
      r.end_table();
      maps->push_back(std::move(map));
    }
  }
  ASSIGN_OR_RETURN(signature.signature_key,
                   r.string(t, F::kSignatureKey, "signature_key", where));
  ASSIGN_OR_RETURN(signature.subgraph_index,
                   r.scalar<uint32_t>(t, F::kSubgraphIndex, 0, "subgraph_index", where));
  r.end_table();
  return signature;
}

Result<Model> parse_model_tables(Reader& r) {
  using F = ModelFields;
  Where where;
  where.table = "Model";
  if (r.size() < kMinFlatBufferBytes) {
    return invalid(where, "file of ", r.size(), " bytes is too small to be a FlatBuffer");
  }
  // The TFLite runtime refuses a buffer without the identifier, and so does convmend.
  const std::string_view identifier(reinterpret_cast<const char*>(r.data()) + 4, 4);
  if (identifier != kFileIdentifier) {
    std::string shown;
    for (const char c : identifier) {
      shown += std::isprint(static_cast<unsigned char>(c)) ? std::string(1, c) : "?";
    }
    return invalid(where, "file identifier at byte 4 is '", shown, "', not '", kFileIdentifier,
                   "'");
  }
  ASSIGN_OR_RETURN(const fb::Table* t, r.root(where));
  RETURN_IF_ERROR(r.begin_table(t, "Model", F::kCount, where));
  Model model;
  ASSIGN_OR_RETURN(model.version, r.scalar<uint32_t>(t, F::kVersion, 0, "version", where));
  ASSIGN_OR_RETURN(auto code_tables, r.tables(t, F::kOperatorCodes, "operator_codes", where));
  for (size_t i = 0; i < code_tables.size(); ++i) {
    const std::string table = "OperatorCode " + std::to_string(i);
    Where at;
    at.table = table;
    ASSIGN_OR_RETURN(OperatorCode code, parse_operator_code(r, code_tables[i], at));
    model.operator_codes.push_back(std::move(code));
  }
  ASSIGN_OR_RETURN(auto subgraph_tables, r.tables(t, F::kSubgraphs, "subgraphs", where));
  for (size_t i = 0; i < subgraph_tables.size(); ++i) {
    Where at;
    at.subgraph = static_cast<int64_t>(i);
    ASSIGN_OR_RETURN(SubGraph subgraph,
                     parse_subgraph(r, subgraph_tables[i], model.operator_codes, at));
    model.subgraphs.push_back(std::move(subgraph));
  }
  ASSIGN_OR_RETURN(model.description, r.string(t, F::kDescription, "description", where));
  ASSIGN_OR_RETURN(auto buffer_tables, r.tables(t, F::kBuffers, "buffers", where));
  model.buffers.reserve(buffer_tables.size());
  for (size_t i = 0; i < buffer_tables.size(); ++i) {
    const std::string table = "buffer " + std::to_string(i);
    Where at;
    at.table = table;
    ASSIGN_OR_RETURN(Buffer buffer, parse_buffer(r, buffer_tables[i], at));
    model.buffers.push_back(std::move(buffer));
  }
  ASSIGN_OR_RETURN(model.metadata_buffer,
                   r.vector_or_empty<int32_t>(t, F::kMetadataBuffer, "metadata_buffer", where));
  ASSIGN_OR_RETURN(auto metadata_tables, r.tables(t, F::kMetadata, "metadata", where));
  for (size_t i = 0; i < metadata_tables.size(); ++i) {
    using M = MetadataFields;
    const std::string table = "metadata " + std::to_string(i);
    Where at;
    at.table = table;
    RETURN_IF_ERROR(r.begin_table(metadata_tables[i], "Metadata", M::kCount, at));
    Metadata metadata;
    ASSIGN_OR_RETURN(metadata.name, r.string(metadata_tables[i], M::kName, "name", at));
    ASSIGN_OR_RETURN(metadata.buffer,
                     r.scalar<uint32_t>(metadata_tables[i], M::kBuffer, 0, "buffer", at));
    r.end_table();
    model.metadata.push_back(std::move(metadata));
  }
  ASSIGN_OR_RETURN(auto signature_tables, r.tables(t, F::kSignatureDefs, "signature_defs", where));
  for (size_t i = 0; i < signature_tables.size(); ++i) {
    const std::string table = "signature_def " + std::to_string(i);
    Where at;
    at.table = table;
    ASSIGN_OR_RETURN(SignatureDef signature, parse_signature_def(r, signature_tables[i], at));
    model.signature_defs.push_back(std::move(signature));
  }
  ASSIGN_OR_RETURN(const uint8_t* groups, r.pointer(t, F::kExternalBufferGroups,
                                                    "external_buffer_groups", where));
  ASSIGN_OR_RETURN(const uint8_t* externals,
                   r.pointer(t, F::kExternalBuffers, "external_buffers", where));
  if (groups != nullptr || externals != nullptr) {
    r.unsupported("tflite: Model: weights in external files (external_buffers)");
  }
  r.end_table();
  if (r.has_unsupported()) {
    // Custom ops are never supported by the IR: list them too, so one error names every op.
    for (const OperatorCode& code : model.operator_codes) {
      if (code.effective_code() == BuiltinOperator::kCustom) {
        r.unsupported("tflite: custom op " + code.custom_code);
      }
    }
  }
  RETURN_IF_ERROR(r.unsupported_status());
  return model;
}

// ---- semantic checks ----

Status check_tensor_index(int32_t index, size_t tensor_count, bool allow_omitted,
                          std::string_view role, size_t position, const Where& where) {
  if (allow_omitted && index == -1) return Status::ok();
  if (index < 0 || static_cast<size_t>(index) >= tensor_count) {
    return invalid(where, role, " ", position, " is tensor ", index, " but the subgraph has ",
                   tensor_count, " tensors");
  }
  return Status::ok();
}

Status check_constant_size(const Tensor& tensor, const Buffer& buffer, const Where& where) {
  const int bits = tensor_type_bits(tensor.type);
  if (buffer.data.empty() || bits == 0) return Status::ok();  // strings have their own layout
  uint64_t elements = 1;
  for (int32_t dim : tensor.shape) {
    if (dim < 0) {
      return invalid(where, "is constant but its shape ", shape_text(tensor.shape),
                     " has a negative dimension");
    }
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return invalid(where, "shape ", shape_text(tensor.shape), " overflows 64 bits");
    }
  }
  uint64_t needed = 0;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(bits), &needed)) {
    return invalid(where, "shape ", shape_text(tensor.shape), " overflows 64 bits");
  }
  needed = (needed + 7) / 8;
  const uint64_t have = buffer.data.size();
  // Sub-byte types may be stored packed or one element per byte depending on the converter.
  const bool unpacked_sub_byte = bits < 8 && have == elements;
  if (have != needed && !unpacked_sub_byte) {
    std::string type_name(tensor_type_name(tensor.type));
    std::transform(type_name.begin(), type_name.end(), type_name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return invalid(where, "has ", have, " bytes in buffer ", tensor.buffer, ", shape ",
                   shape_text(tensor.shape), " ", type_name.empty() ? describe(tensor.type)
                                                                    : type_name,
                   " needs ", needed);
  }
  return Status::ok();
}

Status check_quantization(const Tensor& tensor, const Where& where) {
  if (!tensor.quantization || tensor.quantization->scale.empty()) return Status::ok();
  const QuantizationParameters& q = *tensor.quantization;
  for (size_t i = 0; i < q.scale.size(); ++i) {
    if (!std::isfinite(q.scale[i])) {
      return invalid(where, "quantization scale ", i, " is ", q.scale[i]);
    }
  }
  if (q.zero_point.size() != q.scale.size()) {
    return invalid(where, "has ", q.scale.size(), " quantization scales but ",
                   q.zero_point.size(), " zero points");
  }
  if (q.scale.size() > 1) {
    if (q.quantized_dimension < 0 ||
        static_cast<size_t>(q.quantized_dimension) >= tensor.shape.size()) {
      return invalid(where, "quantized_dimension ", q.quantized_dimension,
                     " is outside shape ", shape_text(tensor.shape));
    }
    const int32_t channels = tensor.shape[q.quantized_dimension];
    if (channels < 0 || static_cast<size_t>(channels) != q.scale.size()) {
      return invalid(where, "has ", q.scale.size(), " quantization scales but dimension ",
                     q.quantized_dimension, " of shape ", shape_text(tensor.shape), " is ",
                     channels);
    }
  }
  return Status::ok();
}

Status check_options_layout(const Options& options, const Where& where) {
  if (options.type == BuiltinOptionsType::kNone) {
    if (!options.fields.empty()) return invalid(where, "options of type NONE have fields");
    return Status::ok();
  }
  const OptionsTableSpec* spec = find_options_spec(options.type);
  if (spec == nullptr) {
    return error(StatusCode::kUnsupported, where.prefix(), "options table ",
                 describe(options.type), " is not supported");
  }
  bool matches = options.fields.size() == spec->fields.size();
  for (size_t i = 0; matches && i < spec->fields.size(); ++i) {
    matches = options.fields[i].name == spec->fields[i].name &&
              options.fields[i].kind == spec->fields[i].kind;
  }
  if (!matches) {
    return error(StatusCode::kInvalidArgument, where.prefix(), describe(options.type),
                 " fields do not follow the schema; build them with Options::make_default");
  }
  return Status::ok();
}

Status validate_subgraph(const Model& model, size_t subgraph_index) {
  const SubGraph& subgraph = model.subgraphs[subgraph_index];
  const size_t tensor_count = subgraph.tensors.size();
  Where where;
  where.subgraph = static_cast<int64_t>(subgraph_index);
  for (size_t i = 0; i < tensor_count; ++i) {
    const Tensor& tensor = subgraph.tensors[i];
    Where at = where;
    at.tensor = static_cast<int64_t>(i);
    at.tensor_name = tensor.name;
    if (tensor.buffer >= model.buffers.size()) {
      return invalid(at, "refers to buffer ", tensor.buffer, " but the model has ",
                     model.buffers.size(), " buffers");
    }
    RETURN_IF_ERROR(check_constant_size(tensor, model.buffers[tensor.buffer], at));
    RETURN_IF_ERROR(check_quantization(tensor, at));
  }
  for (size_t i = 0; i < subgraph.inputs.size(); ++i) {
    RETURN_IF_ERROR(check_tensor_index(subgraph.inputs[i], tensor_count, false, "input", i, where));
  }
  for (size_t i = 0; i < subgraph.outputs.size(); ++i) {
    RETURN_IF_ERROR(
        check_tensor_index(subgraph.outputs[i], tensor_count, false, "output", i, where));
  }
  for (size_t op_index = 0; op_index < subgraph.operators.size(); ++op_index) {
    const Operator& op = subgraph.operators[op_index];
    Where at = where;
    at.op = static_cast<int64_t>(op_index);
    if (op.opcode_index >= model.operator_codes.size()) {
      return invalid(at, "opcode_index ", op.opcode_index, " but the model has ",
                     model.operator_codes.size(), " operator codes");
    }
    const BuiltinOperator code = model.operator_codes[op.opcode_index].effective_code();
    const std::string op_name = describe(code);
    at.op_name = op_name;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      RETURN_IF_ERROR(check_tensor_index(op.inputs[i], tensor_count, true, "input", i, at));
    }
    for (size_t i = 0; i < op.outputs.size(); ++i) {
      RETURN_IF_ERROR(check_tensor_index(op.outputs[i], tensor_count, true, "output", i, at));
    }
    for (size_t i = 0; i < op.intermediates.size(); ++i) {
      RETURN_IF_ERROR(
          check_tensor_index(op.intermediates[i], tensor_count, false, "intermediate", i, at));
    }
    RETURN_IF_ERROR(check_options_layout(op.builtin_options, at));
    const std::optional<BuiltinOptionsType> expected = options_type_for_operator(code);
    if (op.builtin_options.type != BuiltinOptionsType::kNone && expected &&
        *expected != op.builtin_options.type) {
      return invalid(at, "has options ", describe(op.builtin_options.type), " but ", op_name,
                     " takes ", describe(*expected));
    }
  }
  return Status::ok();
}

// ---- writing ----

using TableOffset = fb::Offset<fb::Table>;

fb::uoffset_t write_string_or_null(fb::FlatBufferBuilder& b, const std::string& text) {
  return text.empty() ? 0 : b.CreateString(text).o;
}

template <typename T>
fb::Offset<fb::Vector<T>> write_vector(fb::FlatBufferBuilder& b, const std::vector<T>& values) {
  return b.CreateVector(values.data(), values.size());
}

TableOffset write_options(fb::FlatBufferBuilder& b, const Options& options) {
  const OptionsTableSpec& spec = *find_options_spec(options.type);  // checked by validate_model
  std::vector<fb::Offset<fb::Vector<int32_t>>> vectors(spec.fields.size());
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    if (options.fields[i].int_values) vectors[i] = write_vector(b, *options.fields[i].int_values);
  }
  const fb::uoffset_t start = b.StartTable();
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    const OptionFieldSpec& field = spec.fields[i];
    const OptionField& value = options.fields[i];
    const fb::voffset_t slot = vtable_offset(field.id);
    const auto default_int = static_cast<int64_t>(field.default_value);
    switch (field.kind) {
      case OptionKind::kBool:
        b.AddElement<uint8_t>(slot, value.int_value != 0, default_int != 0);
        break;
      case OptionKind::kInt8:
        b.AddElement<int8_t>(slot, static_cast<int8_t>(value.int_value),
                             static_cast<int8_t>(default_int));
        break;
      case OptionKind::kInt16:
        b.AddElement<int16_t>(slot, static_cast<int16_t>(value.int_value),
                              static_cast<int16_t>(default_int));
        break;
      case OptionKind::kInt32:
        b.AddElement<int32_t>(slot, static_cast<int32_t>(value.int_value),
                              static_cast<int32_t>(default_int));
        break;
      case OptionKind::kInt64:
        b.AddElement<int64_t>(slot, value.int_value, default_int);
        break;
      case OptionKind::kFloat:
        // Compared by bits: AddElement's == would drop -0.0 as equal to a 0.0 default.
        if (std::bit_cast<uint32_t>(value.float_value) !=
            std::bit_cast<uint32_t>(static_cast<float>(field.default_value))) {
          b.AddElement<float>(slot, value.float_value);
        }
        break;
      case OptionKind::kInt32Vector:
        b.AddOffset(slot, vectors[i]);
        break;
    }
  }
  return b.EndTable(start);
}

TableOffset write_quantization(fb::FlatBufferBuilder& b, const QuantizationParameters& q) {
  using F = QuantizationFields;
  const auto min = q.min.empty() ? 0 : write_vector(b, q.min).o;
  const auto max = q.max.empty() ? 0 : write_vector(b, q.max).o;
  const auto scale = q.scale.empty() ? 0 : write_vector(b, q.scale).o;
  const auto zero_point = q.zero_point.empty() ? 0 : write_vector(b, q.zero_point).o;
  const fb::uoffset_t start = b.StartTable();
  b.AddOffset(vtable_offset(F::kMin), fb::Offset<void>(min));
  b.AddOffset(vtable_offset(F::kMax), fb::Offset<void>(max));
  b.AddOffset(vtable_offset(F::kScale), fb::Offset<void>(scale));
  b.AddOffset(vtable_offset(F::kZeroPoint), fb::Offset<void>(zero_point));
  b.AddElement<int32_t>(vtable_offset(F::kQuantizedDimension), q.quantized_dimension, 0);
  return b.EndTable(start);
}

TableOffset write_tensor(fb::FlatBufferBuilder& b, const Tensor& tensor) {
  using F = TensorFields;
  const auto shape = write_vector(b, tensor.shape);
  const auto name = b.CreateString(tensor.name);
  const auto quantization =
      tensor.quantization ? write_quantization(b, *tensor.quantization) : TableOffset();
  const auto signature =
      tensor.shape_signature ? write_vector(b, *tensor.shape_signature).o : fb::uoffset_t{0};
  const fb::uoffset_t start = b.StartTable();
  b.AddOffset(vtable_offset(F::kShape), shape);
  b.AddElement<int8_t>(vtable_offset(F::kType), static_cast<int8_t>(tensor.type), 0);
  b.AddElement<uint32_t>(vtable_offset(F::kBuffer), tensor.buffer, 0);
  b.AddOffset(vtable_offset(F::kName), name);
  b.AddOffset(vtable_offset(F::kQuantization), quantization);
  b.AddElement<uint8_t>(vtable_offset(F::kIsVariable), tensor.is_variable, 0);
  b.AddOffset(vtable_offset(F::kShapeSignature), fb::Offset<void>(signature));
  b.AddElement<uint8_t>(vtable_offset(F::kHasRank), tensor.has_rank, 0);
  return b.EndTable(start);
}

TableOffset write_operator(fb::FlatBufferBuilder& b, const Operator& op) {
  using F = OperatorFields;
  const auto inputs = write_vector(b, op.inputs);
  const auto outputs = write_vector(b, op.outputs);
  const bool has_options = op.builtin_options.type != BuiltinOptionsType::kNone;
  const auto options = has_options ? write_options(b, op.builtin_options) : TableOffset();
  const auto custom = op.custom_options.empty() ? 0 : write_vector(b, op.custom_options).o;
  const std::vector<uint8_t> mutating(op.mutating_variable_inputs.begin(),
                                      op.mutating_variable_inputs.end());
  const auto mutating_offset = mutating.empty() ? 0 : write_vector(b, mutating).o;
  const auto intermediates = op.intermediates.empty() ? 0 : write_vector(b, op.intermediates).o;
  const fb::uoffset_t start = b.StartTable();
  b.AddElement<uint32_t>(vtable_offset(F::kOpcodeIndex), op.opcode_index, 0);
  b.AddOffset(vtable_offset(F::kInputs), inputs);
  b.AddOffset(vtable_offset(F::kOutputs), outputs);
  b.AddElement<uint8_t>(vtable_offset(F::kBuiltinOptionsType),
                        static_cast<uint8_t>(op.builtin_options.type), 0);
  b.AddOffset(vtable_offset(F::kBuiltinOptions), options);
  b.AddOffset(vtable_offset(F::kCustomOptions), fb::Offset<void>(custom));
  b.AddElement<int8_t>(vtable_offset(F::kCustomOptionsFormat),
                       static_cast<int8_t>(op.custom_options_format), 0);
  b.AddOffset(vtable_offset(F::kMutatingVariableInputs), fb::Offset<void>(mutating_offset));
  b.AddOffset(vtable_offset(F::kIntermediates), fb::Offset<void>(intermediates));
  b.AddElement<int32_t>(vtable_offset(F::kDebugMetadataIndex), op.debug_metadata_index, -1);
  return b.EndTable(start);
}

TableOffset write_subgraph(fb::FlatBufferBuilder& b, const SubGraph& subgraph) {
  using F = SubGraphFields;
  std::vector<TableOffset> tensors;
  tensors.reserve(subgraph.tensors.size());
  for (const Tensor& tensor : subgraph.tensors) tensors.push_back(write_tensor(b, tensor));
  const auto tensor_vector = b.CreateVector(tensors);
  std::vector<TableOffset> operators;
  operators.reserve(subgraph.operators.size());
  for (const Operator& op : subgraph.operators) operators.push_back(write_operator(b, op));
  const auto operator_vector = b.CreateVector(operators);
  const auto inputs = write_vector(b, subgraph.inputs);
  const auto outputs = write_vector(b, subgraph.outputs);
  const auto name = write_string_or_null(b, subgraph.name);
  const fb::uoffset_t start = b.StartTable();
  b.AddOffset(vtable_offset(F::kTensors), tensor_vector);
  b.AddOffset(vtable_offset(F::kInputs), inputs);
  b.AddOffset(vtable_offset(F::kOutputs), outputs);
  b.AddOffset(vtable_offset(F::kOperators), operator_vector);
  b.AddOffset(vtable_offset(F::kName), fb::Offset<void>(name));
  b.AddElement<int32_t>(vtable_offset(F::kDebugMetadataIndex), subgraph.debug_metadata_index, -1);
  return b.EndTable(start);
}

TableOffset write_operator_code(fb::FlatBufferBuilder& b, const OperatorCode& code) {
  using F = OperatorCodeFields;
  const auto custom = write_string_or_null(b, code.custom_code);
  const fb::uoffset_t start = b.StartTable();
  b.AddElement<int8_t>(vtable_offset(F::kDeprecatedBuiltinCode), code.deprecated_builtin_code, 0);
  b.AddOffset(vtable_offset(F::kCustomCode), fb::Offset<void>(custom));
  b.AddElement<int32_t>(vtable_offset(F::kVersion), code.version, 1);
  b.AddElement<int32_t>(vtable_offset(F::kBuiltinCode), code.builtin_code, 0);
  return b.EndTable(start);
}

fb::Offset<fb::Vector<TableOffset>> write_tensor_maps(fb::FlatBufferBuilder& b,
                                                      const std::vector<TensorMap>& maps) {
  using M = TensorMapFields;
  std::vector<TableOffset> offsets;
  for (const TensorMap& map : maps) {
    const auto name = b.CreateString(map.name);
    const fb::uoffset_t start = b.StartTable();
    b.AddOffset(vtable_offset(M::kName), name);
    b.AddElement<uint32_t>(vtable_offset(M::kTensorIndex), map.tensor_index, 0);
    offsets.push_back(b.EndTable(start));
  }
  return b.CreateVector(offsets);
}

TableOffset write_signature_def(fb::FlatBufferBuilder& b, const SignatureDef& signature) {
  using F = SignatureDefFields;
  const auto inputs = write_tensor_maps(b, signature.inputs);
  const auto outputs = write_tensor_maps(b, signature.outputs);
  const auto key = b.CreateString(signature.signature_key);
  const fb::uoffset_t start = b.StartTable();
  b.AddOffset(vtable_offset(F::kInputs), inputs);
  b.AddOffset(vtable_offset(F::kOutputs), outputs);
  b.AddOffset(vtable_offset(F::kSignatureKey), key);
  b.AddElement<uint32_t>(vtable_offset(F::kSubgraphIndex), signature.subgraph_index, 0);
  return b.EndTable(start);
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

// ---- Options ----

Result<Options> Options::make_default(BuiltinOptionsType type) {
  Options options;
  options.type = type;
  if (type == BuiltinOptionsType::kNone) return options;
  const OptionsTableSpec* spec = find_options_spec(type);
  if (spec == nullptr) {
    return error(StatusCode::kUnsupported, "tflite: options table ", describe(type),
                 " is not supported");
  }
  for (const OptionFieldSpec& field : spec->fields) {
    OptionField value;
    value.name = field.name;
    value.kind = field.kind;
    if (field.kind == OptionKind::kFloat) {
      value.float_value = static_cast<float>(field.default_value);
    } else if (field.kind != OptionKind::kInt32Vector) {
      value.int_value = static_cast<int64_t>(field.default_value);
    }
    options.fields.push_back(std::move(value));
  }
  return options;
}

const OptionField* Options::find(std::string_view name) const {
  for (const OptionField& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

OptionField* Options::find(std::string_view name) {
  return const_cast<OptionField*>(std::as_const(*this).find(name));
}

namespace {

Status missing_field(BuiltinOptionsType type, std::string_view name, std::string_view wanted) {
  return error(StatusCode::kNotFound, "tflite: ", describe(type), " has no ", wanted,
               " field '", name, "'");
}

bool is_integer_kind(OptionKind kind) {
  return kind != OptionKind::kFloat && kind != OptionKind::kInt32Vector;
}

}  // namespace

Result<int64_t> Options::get_int(std::string_view name) const {
  const OptionField* field = find(name);
  if (field == nullptr || !is_integer_kind(field->kind)) {
    return missing_field(type, name, "integer");
  }
  return field->int_value;
}

Result<bool> Options::get_bool(std::string_view name) const {
  const OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kBool) {
    return missing_field(type, name, "bool");
  }
  return field->int_value != 0;
}

Result<float> Options::get_float(std::string_view name) const {
  const OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kFloat) {
    return missing_field(type, name, "float");
  }
  return field->float_value;
}

Result<std::optional<std::vector<int32_t>>> Options::get_ints(std::string_view name) const {
  const OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kInt32Vector) {
    return missing_field(type, name, "int32 vector");
  }
  return field->int_values;
}

Status Options::set_int(std::string_view name, int64_t value) {
  OptionField* field = find(name);
  if (field == nullptr || !is_integer_kind(field->kind)) {
    return missing_field(type, name, "integer");
  }
  int64_t low = std::numeric_limits<int64_t>::min();
  int64_t high = std::numeric_limits<int64_t>::max();
  switch (field->kind) {
    case OptionKind::kBool: low = 0, high = 1; break;
    case OptionKind::kInt8: low = INT8_MIN, high = INT8_MAX; break;
    case OptionKind::kInt16: low = INT16_MIN, high = INT16_MAX; break;
    case OptionKind::kInt32: low = INT32_MIN, high = INT32_MAX; break;
    default: break;
  }
  if (value < low || value > high) {
    return error(StatusCode::kInvalidArgument, "tflite: ", describe(type), ".", name, " = ", value,
                 " is outside [", low, ", ", high, "]");
  }
  field->int_value = value;
  return Status::ok();
}

Status Options::set_bool(std::string_view name, bool value) {
  OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kBool) {
    return missing_field(type, name, "bool");
  }
  field->int_value = value ? 1 : 0;
  return Status::ok();
}

Status Options::set_float(std::string_view name, float value) {
  OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kFloat) {
    return missing_field(type, name, "float");
  }
  field->float_value = value;
  return Status::ok();
}

Status Options::set_ints(std::string_view name, std::optional<std::vector<int32_t>> values) {
  OptionField* field = find(name);
  if (field == nullptr || field->kind != OptionKind::kInt32Vector) {
    return missing_field(type, name, "int32 vector");
  }
  field->int_values = std::move(values);
  return Status::ok();
}

// ---- equality ----

namespace {

bool same_bits(float a, float b) {
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

bool OptionField::operator==(const OptionField& other) const {
  return name == other.name && kind == other.kind && int_value == other.int_value &&
         same_bits(float_value, other.float_value) && int_values == other.int_values;
}

bool QuantizationParameters::operator==(const QuantizationParameters& other) const {
  return same_bits(min, other.min) && same_bits(max, other.max) &&
         same_bits(scale, other.scale) && zero_point == other.zero_point &&
         quantized_dimension == other.quantized_dimension;
}

// ---- OperatorCode ----

BuiltinOperator OperatorCode::effective_code() const {
  return static_cast<BuiltinOperator>(
      std::max<int32_t>(deprecated_builtin_code, builtin_code));
}

OperatorCode OperatorCode::builtin(BuiltinOperator op, int32_t version) {
  OperatorCode code;
  code.builtin_code = static_cast<int32_t>(op);
  code.deprecated_builtin_code =
      static_cast<int8_t>(std::min(code.builtin_code, kPlaceholderForGreaterOpCodes));
  code.version = version;
  return code;
}

// ---- entry points ----

Result<Model> parse_model(std::span<const uint8_t> file) {
  // flatbuffers reads scalars in place, so the bytes must be 8-byte aligned in memory.
  std::vector<uint64_t> aligned_copy;
  const uint8_t* data = file.data();
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    aligned_copy.resize((file.size() + 7) / 8);
    std::memcpy(aligned_copy.data(), file.data(), file.size());
    data = reinterpret_cast<const uint8_t*>(aligned_copy.data());
  }
  Reader reader(data, file.size());
  ASSIGN_OR_RETURN(Model model, parse_model_tables(reader));
  RETURN_IF_ERROR(validate_model(model));
  return model;
}

Status validate_model(const Model& model) {
  if (model.subgraphs.empty()) {
    return error(StatusCode::kInvalidModel, "tflite: model has no subgraph");
  }
  for (size_t i = 0; i < model.operator_codes.size(); ++i) {
    const OperatorCode& code = model.operator_codes[i];
    if (code.effective_code() == BuiltinOperator::kCustom && code.custom_code.empty()) {
      return error(StatusCode::kInvalidModel, "tflite: operator code ", i,
                   " is CUSTOM but has no custom_code");
    }
  }
  for (size_t i = 0; i < model.subgraphs.size(); ++i) RETURN_IF_ERROR(validate_subgraph(model, i));
  for (size_t i = 0; i < model.metadata_buffer.size(); ++i) {
    const int32_t index = model.metadata_buffer[i];
    if (index < 0 || static_cast<size_t>(index) >= model.buffers.size()) {
      return error(StatusCode::kInvalidModel, "tflite: metadata_buffer ", i, " is buffer ", index,
                   " but the model has ", model.buffers.size(), " buffers");
    }
  }
  for (const Metadata& metadata : model.metadata) {
    if (metadata.buffer >= model.buffers.size()) {
      return error(StatusCode::kInvalidModel, "tflite: metadata '", metadata.name,
                   "' is in buffer ", metadata.buffer, " but the model has ",
                   model.buffers.size(), " buffers");
    }
  }
  for (const SignatureDef& signature : model.signature_defs) {
    if (signature.subgraph_index >= model.subgraphs.size()) {
      return error(StatusCode::kInvalidModel, "tflite: signature '", signature.signature_key,
                   "' names subgraph ", signature.subgraph_index, " but the model has ",
                   model.subgraphs.size());
    }
    const size_t tensor_count = model.subgraphs[signature.subgraph_index].tensors.size();
    for (const auto* maps : {&signature.inputs, &signature.outputs}) {
      for (const TensorMap& map : *maps) {
        if (map.tensor_index >= tensor_count) {
          return error(StatusCode::kInvalidModel, "tflite: signature '", signature.signature_key,
                       "' maps '", map.name, "' to tensor ", map.tensor_index, " but subgraph ",
                       signature.subgraph_index, " has ", tensor_count, " tensors");
        }
      }
    }
  }
  return Status::ok();
}

Result<std::vector<uint8_t>> serialize_model(const Model& model, const SerializeOptions& options) {
  RETURN_IF_ERROR(validate_model(model));
  uint64_t buffer_bytes = 0;
  for (const Buffer& buffer : model.buffers) buffer_bytes += buffer.data.size();
  const bool outside =
      options.buffers_after_flatbuffer || buffer_bytes > kMaxInlineBufferBytes;

  fb::FlatBufferBuilder b(outside ? 1 << 20 : static_cast<size_t>(buffer_bytes) + (1 << 20));
  // Buffers go first so that their data ends up at the end of the FlatBuffer, after the tables.
  std::vector<TableOffset> buffers;
  buffers.reserve(model.buffers.size());
  for (const Buffer& buffer : model.buffers) {
    using F = BufferFields;
    fb::uoffset_t data = 0;
    if (!outside && !buffer.data.empty()) {
      b.ForceVectorAlignment(buffer.data.size(), 1, kBufferDataAlignment);
      data = write_vector(b, buffer.data).o;
    }
    const fb::uoffset_t start = b.StartTable();
    b.AddOffset(vtable_offset(F::kData), fb::Offset<void>(data));
    if (outside && !buffer.data.empty()) {
      // 1 reserves the field; the real offset is patched in once the FlatBuffer size is known.
      b.AddElement<uint64_t>(vtable_offset(F::kOffset), 1, 0);
      b.AddElement<uint64_t>(vtable_offset(F::kSize), buffer.data.size(), 0);
    }
    buffers.push_back(b.EndTable(start));
  }
  const auto buffer_vector = b.CreateVector(buffers);

  std::vector<TableOffset> codes;
  for (const OperatorCode& code : model.operator_codes) {
    codes.push_back(write_operator_code(b, code));
  }
  const auto code_vector = b.CreateVector(codes);
  std::vector<TableOffset> subgraphs;
  for (const SubGraph& subgraph : model.subgraphs) subgraphs.push_back(write_subgraph(b, subgraph));
  const auto subgraph_vector = b.CreateVector(subgraphs);
  const auto description = write_string_or_null(b, model.description);
  const auto metadata_buffer =
      model.metadata_buffer.empty() ? 0 : write_vector(b, model.metadata_buffer).o;
  std::vector<TableOffset> metadata;
  for (const Metadata& entry : model.metadata) {
    using M = MetadataFields;
    const auto name = b.CreateString(entry.name);
    const fb::uoffset_t start = b.StartTable();
    b.AddOffset(vtable_offset(M::kName), name);
    b.AddElement<uint32_t>(vtable_offset(M::kBuffer), entry.buffer, 0);
    metadata.push_back(b.EndTable(start));
  }
  const auto metadata_vector = metadata.empty() ? 0 : b.CreateVector(metadata).o;
  std::vector<TableOffset> signatures;
  for (const SignatureDef& signature : model.signature_defs) {
    signatures.push_back(write_signature_def(b, signature));
  }
  const auto signature_vector = signatures.empty() ? 0 : b.CreateVector(signatures).o;

  using F = ModelFields;
  const fb::uoffset_t start = b.StartTable();
  b.AddElement<uint32_t>(vtable_offset(F::kVersion), model.version, 0);
  b.AddOffset(vtable_offset(F::kOperatorCodes), code_vector);
  b.AddOffset(vtable_offset(F::kSubgraphs), subgraph_vector);
  b.AddOffset(vtable_offset(F::kDescription), fb::Offset<void>(description));
  b.AddOffset(vtable_offset(F::kBuffers), buffer_vector);
  b.AddOffset(vtable_offset(F::kMetadataBuffer), fb::Offset<void>(metadata_buffer));
  b.AddOffset(vtable_offset(F::kMetadata), fb::Offset<void>(metadata_vector));
  b.AddOffset(vtable_offset(F::kSignatureDefs), fb::Offset<void>(signature_vector));
  b.Finish(TableOffset(b.EndTable(start)), kFileIdentifier);

  std::vector<uint8_t> file(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  if (outside) {
    // Lay the data out after the FlatBuffer and patch each reserved offset in place.
    uint64_t position = align_up(file.size(), kBufferDataAlignment);
    std::vector<uint64_t> positions(model.buffers.size(), 0);
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      if (model.buffers[i].data.empty()) continue;
      positions[i] = position;
      position = align_up(position + model.buffers[i].data.size(), kBufferDataAlignment);
    }
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      if (positions[i] == 0) continue;
      // EndTable offsets count from the end of the finished buffer.
      auto* table = reinterpret_cast<fb::Table*>(file.data() + file.size() - buffers[i].o);
      const bool patched = table->SetField<uint64_t>(vtable_offset(BufferFields::kOffset),
                                                     positions[i]);
      if (!patched) {
        return error(StatusCode::kInternal, "tflite: buffer ", i, " offset was not reserved");
      }
    }
    file.resize(position, 0);
    for (size_t i = 0; i < model.buffers.size(); ++i) {
      if (positions[i] == 0) continue;
      std::memcpy(file.data() + positions[i], model.buffers[i].data.data(),
                  model.buffers[i].data.size());
    }
  }
  return file;
}

Result<Model> load_model_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return error(StatusCode::kIoError, "tflite: cannot open '", path, "'");
  const std::streamsize size = in.tellg();
  if (size < 0) return error(StatusCode::kIoError, "tflite: cannot size '", path, "'");
  std::vector<uint64_t> storage((static_cast<size_t>(size) + 7) / 8);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(storage.data()), size)) {
    return error(StatusCode::kIoError, "tflite: cannot read '", path, "'");
  }
  Result<Model> model = parse_model(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(storage.data()),
                               static_cast<size_t>(size)));
  if (!model.is_ok()) return model.status().with_context("'" + path + "': ");
  return model;
}

Status save_model_file(const Model& model, const std::string& path,
                       const SerializeOptions& options) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serialize_model(model, options));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return error(StatusCode::kIoError, "tflite: cannot create '", path, "'");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) return error(StatusCode::kIoError, "tflite: cannot write '", path, "'");
  return Status::ok();
}

}  // namespace convmend::tflite
