#include "formats/onnx/onnx_proto.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include "formats/utf8.h"
#include "formats/onnx/wire.h"

namespace convmend::onnx {

using wire::Reader;
using wire::Tag;
using wire::WireType;
using wire::Writer;

namespace {
constexpr StatusCode kCorrupt = StatusCode::kInvalidModel;
constexpr size_t kNoIndex = static_cast<size_t>(-1);
// protobuf refuses messages of 2 GiB and more; the same bound keeps file reads sane.
constexpr uint64_t kMaxModelFileBytes = std::numeric_limits<int32_t>::max();
}  // namespace

bool GraphProto::operator==(const GraphProto&) const = default;

// ---------------------------------------------------------------------------------------------
// Data types

const char* data_type_name(DataType type) {
  switch (type) {
    case DataType::kUndefined: return "undefined";
    case DataType::kFloat: return "float";
    case DataType::kUint8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kUint16: return "uint16";
    case DataType::kInt16: return "int16";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kString: return "string";
    case DataType::kBool: return "bool";
    case DataType::kFloat16: return "float16";
    case DataType::kDouble: return "double";
    case DataType::kUint32: return "uint32";
    case DataType::kUint64: return "uint64";
    case DataType::kComplex64: return "complex64";
    case DataType::kComplex128: return "complex128";
    case DataType::kBfloat16: return "bfloat16";
    case DataType::kFloat8E4M3FN: return "float8e4m3fn";
    case DataType::kFloat8E4M3FNUZ: return "float8e4m3fnuz";
    case DataType::kFloat8E5M2: return "float8e5m2";
    case DataType::kFloat8E5M2FNUZ: return "float8e5m2fnuz";
    case DataType::kUint4: return "uint4";
    case DataType::kInt4: return "int4";
    case DataType::kFloat4E2M1: return "float4e2m1";
    case DataType::kFloat8E8M0: return "float8e8m0";
    case DataType::kUint2: return "uint2";
    case DataType::kInt2: return "int2";
  }
  return "unknown";
}

size_t element_bits(DataType type) {
  switch (type) {
    case DataType::kUint2:
    case DataType::kInt2: return 2;
    case DataType::kUint4:
    case DataType::kInt4:
    case DataType::kFloat4E2M1: return 4;
    case DataType::kUint8:
    case DataType::kInt8:
    case DataType::kBool:
    case DataType::kFloat8E4M3FN:
    case DataType::kFloat8E4M3FNUZ:
    case DataType::kFloat8E5M2:
    case DataType::kFloat8E5M2FNUZ:
    case DataType::kFloat8E8M0: return 8;
    case DataType::kUint16:
    case DataType::kInt16:
    case DataType::kFloat16:
    case DataType::kBfloat16: return 16;
    case DataType::kFloat:
    case DataType::kInt32:
    case DataType::kUint32: return 32;
    case DataType::kInt64:
    case DataType::kDouble:
    case DataType::kUint64:
    case DataType::kComplex64: return 64;
    case DataType::kComplex128: return 128;
    case DataType::kUndefined:
    case DataType::kString: return 0;
  }
  return 0;
}

size_t element_size(DataType type) {
  const size_t bits = element_bits(type);
  return bits % 8 == 0 ? bits / 8 : 0;
}

const char* type_kind_name(TypeProto::Kind kind) {
  switch (kind) {
    case TypeProto::Kind::kNone: return "no type";
    case TypeProto::Kind::kTensor: return "tensor_type";
    case TypeProto::Kind::kSequence: return "sequence_type";
    case TypeProto::Kind::kMap: return "map_type";
    case TypeProto::Kind::kSparseTensor: return "sparse_tensor_type";
    case TypeProto::Kind::kOptional: return "optional_type";
  }
  return "unknown type";
}

// ---------------------------------------------------------------------------------------------
// Tensor payload checks, shared by the parser and tensor_bytes

namespace {

// The typed field that holds a data type's elements when raw_data is not used.
enum class TypedField { kNone, kFloat, kInt32, kString, kInt64, kDouble, kUint64 };

TypedField typed_field_for(DataType type) {
  switch (type) {
    case DataType::kFloat:
    case DataType::kComplex64: return TypedField::kFloat;
    case DataType::kInt64: return TypedField::kInt64;
    case DataType::kString: return TypedField::kString;
    case DataType::kDouble:
    case DataType::kComplex128: return TypedField::kDouble;
    case DataType::kUint32:
    case DataType::kUint64: return TypedField::kUint64;
    case DataType::kUndefined: return TypedField::kNone;
    default: return element_bits(type) == 0 ? TypedField::kNone : TypedField::kInt32;
  }
}

const char* typed_field_name(TypedField field) {
  switch (field) {
    case TypedField::kNone: return "none";
    case TypedField::kFloat: return "float_data";
    case TypedField::kInt32: return "int32_data";
    case TypedField::kString: return "string_data";
    case TypedField::kInt64: return "int64_data";
    case TypedField::kDouble: return "double_data";
    case TypedField::kUint64: return "uint64_data";
  }
  return "none";
}

size_t typed_field_size(const TensorProto& tensor, TypedField field) {
  switch (field) {
    case TypedField::kNone: return 0;
    case TypedField::kFloat: return tensor.float_data.size();
    case TypedField::kInt32: return tensor.int32_data.size();
    case TypedField::kString: return tensor.string_data.size();
    case TypedField::kInt64: return tensor.int64_data.size();
    case TypedField::kDouble: return tensor.double_data.size();
    case TypedField::kUint64: return tensor.uint64_data.size();
  }
  return 0;
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(dims[i]);
  }
  return text + "]";
}

std::string describe_tensor(const TensorProto& tensor) {
  return "dims " + dims_text(tensor.dims) + " of " + data_type_name(tensor.data_type);
}

bool is_known_data_type(DataType type) {
  return type == DataType::kString || element_bits(type) != 0;
}

Status check_data_type_known(const TensorProto& tensor) {
  if (tensor.data_type == DataType::kUndefined) {
    return error(kCorrupt, "data_type is UNDEFINED");
  }
  if (!is_known_data_type(tensor.data_type)) {
    return error(StatusCode::kUnsupported, "data_type ", static_cast<int32_t>(tensor.data_type),
                 " is not a data type convmend knows");
  }
  return Status::ok();
}

// Byte size of `elements` packed elements of `type`, rounded up to whole bytes; overflow-checked.
Result<uint64_t> payload_byte_count(const TensorProto& tensor, uint64_t elements) {
  uint64_t bits = 0;
  if (__builtin_mul_overflow(elements, uint64_t{element_bits(tensor.data_type)}, &bits)) {
    return error(kCorrupt, describe_tensor(tensor), " has a byte size that overflows 64 bits");
  }
  return bits / 8 + (bits % 8 != 0 ? 1 : 0);
}

// How many values the typed field must hold for `elements` elements.
uint64_t typed_value_count(DataType type, uint64_t elements) {
  if (type == DataType::kComplex64 || type == DataType::kComplex128) return elements * 2;
  const size_t bits = element_bits(type);
  if (bits != 0 && bits < 8) return (elements * bits + 7) / 8;  // a packed byte per value
  return elements;
}

// Checks that exactly the field the data type calls for holds the elements the dims describe.
// Messages carry no location: callers prefix the tensor they checked.
Status check_tensor_payload(const TensorProto& tensor) {
  ASSIGN_OR_RETURN(const uint64_t elements, tensor_element_count(tensor));
  RETURN_IF_ERROR(check_data_type_known(tensor));
  const TypedField expected = typed_field_for(tensor.data_type);
  for (const TypedField field : {TypedField::kFloat, TypedField::kInt32, TypedField::kString,
                                 TypedField::kInt64, TypedField::kDouble, TypedField::kUint64}) {
    if (field != expected && typed_field_size(tensor, field) != 0) {
      return error(kCorrupt, typed_field_name(field), " holds ", typed_field_size(tensor, field),
                   " values but data_type ", data_type_name(tensor.data_type), " is stored in ",
                   typed_field_name(expected));
    }
  }
  const size_t typed_values = typed_field_size(tensor, expected);
  if (!tensor.raw_data.empty()) {
    if (tensor.data_type == DataType::kString) {
      return error(kCorrupt, "raw_data is set but string tensors must use string_data");
    }
    if (typed_values != 0) {
      return error(kCorrupt, "both raw_data and ", typed_field_name(expected), " hold data");
    }
  }
  if (tensor.data_type != DataType::kString && (!tensor.raw_data.empty() || typed_values == 0)) {
    ASSIGN_OR_RETURN(const uint64_t bytes, payload_byte_count(tensor, elements));
    if (tensor.raw_data.size() != bytes) {
      return error(kCorrupt, "raw_data has ", tensor.raw_data.size(), " bytes, ",
                   describe_tensor(tensor), " need ", bytes);
    }
    return Status::ok();
  }
  const uint64_t needed = typed_value_count(tensor.data_type, elements);
  if (typed_values != needed) {
    return error(kCorrupt, typed_field_name(expected), " has ", typed_values, " values, ",
                 describe_tensor(tensor), " need ", needed);
  }
  return Status::ok();
}

std::string tensor_label(const TensorProto& tensor) {
  return "TensorProto '" + tensor.name + "': ";
}

}  // namespace

Result<uint64_t> tensor_element_count(const TensorProto& tensor) {
  uint64_t count = 1;
  for (size_t i = 0; i < tensor.dims.size(); ++i) {
    const int64_t dim = tensor.dims[i];
    if (dim < 0) {
      return error(kCorrupt, "dims[", i, "] is ", dim, " in dims ", dims_text(tensor.dims),
                   "; tensor dims must not be negative");
    }
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(dim), &count)) {
      return error(kCorrupt, "dims ", dims_text(tensor.dims), " overflow a 64-bit element count");
    }
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  Status parse(ModelProto& model) {
    RETURN_IF_ERROR(parse_model(Reader(bytes_), model));
    model.unknown_fields = unknown_;
    return Status::ok();
  }

 private:
  // One level of the path to the message being parsed, formatted only when an error occurs.
  struct Frame {
    const char* message;
    const char* label;  // field name in the parent; nullptr for the root
    size_t index;       // element index in a repeated field, or kNoIndex
    std::string_view name;
  };

  // Pops the frame pushed by enter() when a parse function returns.
  class FrameExit {
   public:
    explicit FrameExit(Parser& parser) : parser_(parser) {}
    ~FrameExit() { parser_.path_.pop_back(); }
    FrameExit(const FrameExit&) = delete;
    FrameExit& operator=(const FrameExit&) = delete;

   private:
    Parser& parser_;
  };

  Status enter(const char* message, const char* label, size_t index, size_t offset) {
    if (path_.size() >= kMaxMessageDepth) {
      return error(kCorrupt, where(), ": ", message, " at byte ", offset, " is nested deeper than ",
                   kMaxMessageDepth, " messages");
    }
    path_.push_back({message, label, index, {}});
    return Status::ok();
  }

  void name_current(std::string_view name) { path_.back().name = name; }

  // "AttributeProto 'pads' at graph.node[3].attribute[0]"
  std::string where() const {
    if (path_.empty()) return "ModelProto";
    std::ostringstream out;
    const Frame& current = path_.back();
    out << current.message;
    if (!current.name.empty()) out << " '" << current.name << "'";
    if (path_.size() > 1) {
      out << " at ";
      for (size_t i = 1; i < path_.size(); ++i) {
        if (i > 1) out << ".";
        out << path_[i].label;
        if (path_[i].index != kNoIndex) out << "[" << path_[i].index << "]";
      }
    }
    return out.str();
  }

  Status field_error(const Tag& tag, const char* field_name, const Status& cause) {
    return error(cause.code(), where(), ", field ", tag.field, " '", field_name, "' at byte ",
                 tag.offset, ": ", cause.message());
  }

  Status message_error(const Status& cause) {
    return error(cause.code(), where(), ": ", cause.message());
  }

  Result<Tag> next_tag(Reader& reader) {
    auto tag = reader.read_tag();
    if (!tag.is_ok()) return message_error(tag.status());
    return tag;
  }

  Status skip_unknown(Reader& reader, const Tag& tag) {
    RETURN_IF_ERROR(reader.skip_value(tag.wire_type));
    if (unknown_.count++ == 0) {
      std::ostringstream first;
      first << where() << ", field " << tag.field << " (" << wire::wire_type_name(tag.wire_type)
            << ") at byte " << tag.offset;
      unknown_.first = first.str();
    }
    return Status::ok();
  }

  Status refuse(const Tag& tag, const char* field_name, const char* why) {
    return field_error(tag, field_name, error(StatusCode::kUnsupported, why));
  }

  Status expect_wire_type(const Tag& tag, const char* field_name, WireType expected) {
    if (tag.wire_type == expected) return Status::ok();
    return field_error(tag, field_name,
                       error(kCorrupt, "wire type is ", wire::wire_type_name(tag.wire_type),
                             ", expected ", wire::wire_type_name(expected)));
  }

  // --- scalar fields ---------------------------------------------------------------------------

  // A `bytes` field: any content.
  Status read_bytes(Reader& reader, const Tag& tag, const char* field_name, std::string& out) {
    RETURN_IF_ERROR(expect_wire_type(tag, field_name, WireType::kLengthDelimited));
    auto text = reader.read_string();
    if (!text.is_ok()) return field_error(tag, field_name, text.status());
    out.assign(text.value());
    return Status::ok();
  }

  // A `string` field: protobuf requires UTF-8, and names are shown to users.
  Status read_string(Reader& reader, const Tag& tag, const char* field_name, std::string& out) {
    RETURN_IF_ERROR(read_bytes(reader, tag, field_name, out));
    const size_t bad = first_invalid_utf8(out);
    if (bad != std::string::npos) {
      return field_error(tag, field_name,
                         error(StatusCode::kInvalidModel, "text is not valid UTF-8 (byte ", bad,
                               " of ", out.size(), ")"));
    }
    return Status::ok();
  }

  Status read_bytes_field(Reader& reader, const Tag& tag, const char* field_name,
                          std::string& out, ExplicitDefaults& defaults) {
    RETURN_IF_ERROR(read_bytes(reader, tag, field_name, out));
    defaults.record(tag.field, out.empty());
    return Status::ok();
  }

  Status read_string_field(Reader& reader, const Tag& tag, const char* field_name,
                           std::string& out, ExplicitDefaults& defaults) {
    RETURN_IF_ERROR(read_string(reader, tag, field_name, out));
    defaults.record(tag.field, out.empty());
    return Status::ok();
  }

  Result<uint64_t> read_varint(Reader& reader, const Tag& tag, const char* field_name) {
    RETURN_IF_ERROR(expect_wire_type(tag, field_name, WireType::kVarint));
    auto value = reader.read_varint();
    if (!value.is_ok()) return field_error(tag, field_name, value.status());
    return value;
  }

  Status read_int64_field(Reader& reader, const Tag& tag, const char* field_name, int64_t& out,
                          ExplicitDefaults& defaults) {
    ASSIGN_OR_RETURN(const uint64_t raw, read_varint(reader, tag, field_name));
    out = static_cast<int64_t>(raw);
    defaults.record(tag.field, out == 0);
    return Status::ok();
  }

  Status read_int32_field(Reader& reader, const Tag& tag, const char* field_name, int32_t& out,
                          ExplicitDefaults& defaults) {
    const size_t value_offset = reader.offset();
    ASSIGN_OR_RETURN(const uint64_t raw, read_varint(reader, tag, field_name));
    auto narrowed = wire::varint_to_int32(raw, value_offset);
    if (!narrowed.is_ok()) return field_error(tag, field_name, narrowed.status());
    out = narrowed.value();
    defaults.record(tag.field, out == 0);
    return Status::ok();
  }

  // proto2 enums are closed: a value outside the enum is an error here, not an unknown field.
  template <typename Enum>
  Status read_enum_field(Reader& reader, const Tag& tag, const char* field_name, Enum& out,
                         int32_t max_value, ExplicitDefaults& defaults) {
    int32_t value = 0;
    RETURN_IF_ERROR(read_int32_field(reader, tag, field_name, value, defaults));
    if (value < 0 || value > max_value) {
      return field_error(tag, field_name,
                         error(kCorrupt, "value ", value, " is not one of the enum's values"));
    }
    out = static_cast<Enum>(value);
    return Status::ok();
  }

  Status read_float_field(Reader& reader, const Tag& tag, const char* field_name, float& out,
                          ExplicitDefaults& defaults) {
    RETURN_IF_ERROR(expect_wire_type(tag, field_name, WireType::kFixed32));
    auto bits = reader.read_fixed32();
    if (!bits.is_ok()) return field_error(tag, field_name, bits.status());
    out = std::bit_cast<float>(bits.value());
    defaults.record(tag.field, bits.value() == 0);
    return Status::ok();
  }

  template <typename T>
  Status read_repeated_varint(Reader& reader, const Tag& tag, const char* field_name,
                              std::vector<T>& out) {
    const Status status = wire::read_repeated_varint(reader, tag.wire_type, out);
    return status.is_ok() ? status : field_error(tag, field_name, status);
  }

  template <typename T>
  Status read_repeated_fixed(Reader& reader, const Tag& tag, const char* field_name,
                             std::vector<T>& out) {
    const Status status = wire::read_repeated_fixed(reader, tag.wire_type, out);
    return status.is_ok() ? status : field_error(tag, field_name, status);
  }

  Result<Reader> read_nested(Reader& reader, const Tag& tag, const char* field_name) {
    RETURN_IF_ERROR(expect_wire_type(tag, field_name, WireType::kLengthDelimited));
    auto nested = reader.read_message();
    if (!nested.is_ok()) return field_error(tag, field_name, nested.status());
    return nested;
  }

  // --- messages --------------------------------------------------------------------------------
  // Each parse function merges into `out` as protobuf does when a message field repeats: scalars
  // are overwritten, repeated fields appended.

  Status parse_string_entry(Reader reader, StringStringEntryProto& out, const char* label,
                            size_t index) {
    RETURN_IF_ERROR(enter("StringStringEntryProto", label, index, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1:
          RETURN_IF_ERROR(read_string_field(reader, tag, "key", out.key, out.explicit_defaults));
          name_current(out.key);
          break;
        case 2:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "value", out.value, out.explicit_defaults));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_entries(Reader& reader, const Tag& tag, const char* field_name,
                       std::vector<StringStringEntryProto>& out) {
    ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, field_name));
    const size_t index = out.size();
    return parse_string_entry(nested, out.emplace_back(), field_name, index);
  }

  Status parse_opset(Reader reader, OperatorSetIdProto& out, size_t index) {
    RETURN_IF_ERROR(enter("OperatorSetIdProto", "opset_import", index, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "domain", out.domain, out.explicit_defaults));
          break;
        case 2:
          RETURN_IF_ERROR(
              read_int64_field(reader, tag, "version", out.version, out.explicit_defaults));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_tensor(Reader reader, TensorProto& out, const char* label, size_t index) {
    RETURN_IF_ERROR(enter("TensorProto", label, index, reader.offset()));
    FrameExit exit(*this);
    auto& defaults = out.explicit_defaults;
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: RETURN_IF_ERROR(read_repeated_varint(reader, tag, "dims", out.dims)); break;
        case 2: {
          int32_t type = 0;
          RETURN_IF_ERROR(read_int32_field(reader, tag, "data_type", type, defaults));
          out.data_type = static_cast<DataType>(type);  // open set: checked with the payload
          break;
        }
        case 3:
          return refuse(tag, "segment", "segmented tensors are not supported");
        case 4:
          RETURN_IF_ERROR(read_repeated_fixed(reader, tag, "float_data", out.float_data));
          break;
        case 5:
          RETURN_IF_ERROR(read_repeated_varint(reader, tag, "int32_data", out.int32_data));
          break;
        case 6:
          RETURN_IF_ERROR(read_bytes(reader, tag, "string_data", out.string_data.emplace_back()));
          break;
        case 7:
          RETURN_IF_ERROR(read_repeated_varint(reader, tag, "int64_data", out.int64_data));
          break;
        case 8:
          RETURN_IF_ERROR(read_string_field(reader, tag, "name", out.name, defaults));
          name_current(out.name);
          break;
        case 9:
          RETURN_IF_ERROR(read_bytes_field(reader, tag, "raw_data", out.raw_data, defaults));
          break;
        case 10:
          RETURN_IF_ERROR(read_repeated_fixed(reader, tag, "double_data", out.double_data));
          break;
        case 11:
          RETURN_IF_ERROR(read_repeated_varint(reader, tag, "uint64_data", out.uint64_data));
          break;
        case 12:
          RETURN_IF_ERROR(read_string_field(reader, tag, "doc_string", out.doc_string, defaults));
          break;
        case 13:
          RETURN_IF_ERROR(parse_entries(reader, tag, "external_data", out.external_data));
          break;
        case 14:
          RETURN_IF_ERROR(
              read_enum_field(reader, tag, "data_location", out.data_location, 1, defaults));
          break;
        case 16:
          RETURN_IF_ERROR(parse_entries(reader, tag, "metadata_props", out.metadata_props));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    // External payloads are checked when they are loaded; the dims are checked here for all.
    const Status payload =
        out.is_external() ? tensor_element_count(out).status() : check_tensor_payload(out);
    return payload.is_ok() ? payload : message_error(payload);
  }

  Status parse_dimension(Reader reader, TensorShapeDimension& out, size_t index) {
    RETURN_IF_ERROR(enter("TensorShapeProto.Dimension", "dim", index, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: {
          ASSIGN_OR_RETURN(const uint64_t raw, read_varint(reader, tag, "dim_value"));
          out.kind = TensorShapeDimension::Kind::kValue;  // oneof: the last member read wins
          out.value = static_cast<int64_t>(raw);
          out.param.clear();
          break;
        }
        case 2:
          RETURN_IF_ERROR(read_string(reader, tag, "dim_param", out.param));
          out.kind = TensorShapeDimension::Kind::kParam;
          out.value = 0;
          break;
        case 3:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "denotation", out.denotation, out.explicit_defaults));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_shape(Reader reader, std::vector<TensorShapeDimension>& out) {
    RETURN_IF_ERROR(enter("TensorShapeProto", "shape", kNoIndex, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      if (tag.field == 1) {
        ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "dim"));
        const size_t index = out.size();
        RETURN_IF_ERROR(parse_dimension(nested, out.emplace_back(), index));
      } else {
        RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_tensor_type(Reader reader, TensorTypeProto& out) {
    RETURN_IF_ERROR(enter("TypeProto.Tensor", "tensor_type", kNoIndex, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: {
          int32_t type = 0;
          RETURN_IF_ERROR(read_int32_field(reader, tag, "elem_type", type, out.explicit_defaults));
          out.elem_type = static_cast<DataType>(type);
          break;
        }
        case 2: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "shape"));
          out.has_shape = true;
          RETURN_IF_ERROR(parse_shape(nested, out.shape));
          break;
        }
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_type(Reader reader, TypeProto& out) {
    RETURN_IF_ERROR(enter("TypeProto", "type", kNoIndex, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "tensor_type"));
          if (out.kind != TypeProto::Kind::kTensor) {
            out.kind = TypeProto::Kind::kTensor;  // oneof: switching member drops the old one
            out.unsupported_payload.clear();
          }
          RETURN_IF_ERROR(parse_tensor_type(nested, out.tensor_type));
          break;
        }
        case 4:
        case 5:
        case 8:
        case 9: {
          const auto kind = static_cast<TypeProto::Kind>(tag.field);
          std::string payload;
          RETURN_IF_ERROR(read_bytes(reader, tag, type_kind_name(kind), payload));
          if (out.kind != kind) {
            out.kind = kind;
            out.tensor_type = {};
            out.unsupported_payload.clear();
          }
          // Concatenating encoded messages merges them, as protobuf does for a repeated member.
          out.unsupported_payload += payload;
          break;
        }
        case 6:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "denotation", out.denotation, out.explicit_defaults));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_value_info(Reader reader, ValueInfoProto& out, const char* label, size_t index) {
    RETURN_IF_ERROR(enter("ValueInfoProto", label, index, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1:
          RETURN_IF_ERROR(read_string_field(reader, tag, "name", out.name, out.explicit_defaults));
          name_current(out.name);
          break;
        case 2: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "type"));
          RETURN_IF_ERROR(parse_type(nested, out.type));
          out.explicit_defaults.record(tag.field, out.type == TypeProto{});
          break;
        }
        case 3:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "doc_string", out.doc_string, out.explicit_defaults));
          break;
        case 4:
          RETURN_IF_ERROR(parse_entries(reader, tag, "metadata_props", out.metadata_props));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_attribute(Reader reader, AttributeProto& out, size_t index) {
    RETURN_IF_ERROR(enter("AttributeProto", "attribute", index, reader.offset()));
    FrameExit exit(*this);
    auto& defaults = out.explicit_defaults;
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1:
          RETURN_IF_ERROR(read_string_field(reader, tag, "name", out.name, defaults));
          name_current(out.name);
          break;
        case 2: RETURN_IF_ERROR(read_float_field(reader, tag, "f", out.f, defaults)); break;
        case 3: RETURN_IF_ERROR(read_int64_field(reader, tag, "i", out.i, defaults)); break;
        case 4: RETURN_IF_ERROR(read_bytes_field(reader, tag, "s", out.s, defaults)); break;
        case 5: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "t"));
          RETURN_IF_ERROR(parse_tensor(nested, out.t.mutable_value(), "t", kNoIndex));
          defaults.record(tag.field, *out.t == TensorProto{});
          break;
        }
        case 6: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "g"));
          RETURN_IF_ERROR(parse_graph(nested, out.g.mutable_value(), "g", kNoIndex));
          defaults.record(tag.field, *out.g == GraphProto{});
          break;
        }
        case 7: RETURN_IF_ERROR(read_repeated_fixed(reader, tag, "floats", out.floats)); break;
        case 8: RETURN_IF_ERROR(read_repeated_varint(reader, tag, "ints", out.ints)); break;
        case 9:
          RETURN_IF_ERROR(read_bytes(reader, tag, "strings", out.strings.emplace_back()));
          break;
        case 10: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "tensors"));
          const size_t element = out.tensors.size();
          RETURN_IF_ERROR(parse_tensor(nested, out.tensors.emplace_back(), "tensors", element));
          break;
        }
        case 11: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "graphs"));
          const size_t element = out.graphs.size();
          RETURN_IF_ERROR(parse_graph(nested, out.graphs.emplace_back(), "graphs", element));
          break;
        }
        case 13:
          RETURN_IF_ERROR(read_string_field(reader, tag, "doc_string", out.doc_string, defaults));
          break;
        case 14: return refuse(tag, "tp", "TypeProto attributes are not supported");
        case 15: return refuse(tag, "type_protos", "TypeProto attributes are not supported");
        case 20:
          RETURN_IF_ERROR(read_enum_field(reader, tag, "type", out.type, 14, defaults));
          break;
        case 21:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "ref_attr_name", out.ref_attr_name, defaults));
          break;
        case 22: return refuse(tag, "sparse_tensor", "sparse tensor attributes are not supported");
        case 23: return refuse(tag, "sparse_tensors", "sparse tensor attributes are not supported");
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_node(Reader reader, NodeProto& out, size_t index) {
    RETURN_IF_ERROR(enter("NodeProto", "node", index, reader.offset()));
    FrameExit exit(*this);
    auto& defaults = out.explicit_defaults;
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: RETURN_IF_ERROR(read_string(reader, tag, "input", out.input.emplace_back())); break;
        case 2:
          RETURN_IF_ERROR(read_string(reader, tag, "output", out.output.emplace_back()));
          break;
        case 3:
          RETURN_IF_ERROR(read_string_field(reader, tag, "name", out.name, defaults));
          name_current(out.name);
          break;
        case 4:
          RETURN_IF_ERROR(read_string_field(reader, tag, "op_type", out.op_type, defaults));
          break;
        case 5: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "attribute"));
          const size_t element = out.attribute.size();
          RETURN_IF_ERROR(parse_attribute(nested, out.attribute.emplace_back(), element));
          break;
        }
        case 6:
          RETURN_IF_ERROR(read_string_field(reader, tag, "doc_string", out.doc_string, defaults));
          break;
        case 7:
          RETURN_IF_ERROR(read_string_field(reader, tag, "domain", out.domain, defaults));
          break;
        case 8:
          RETURN_IF_ERROR(read_string_field(reader, tag, "overload", out.overload, defaults));
          break;
        case 9:
          RETURN_IF_ERROR(parse_entries(reader, tag, "metadata_props", out.metadata_props));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_value_infos(Reader& reader, const Tag& tag, const char* field_name,
                           std::vector<ValueInfoProto>& out) {
    ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, field_name));
    const size_t index = out.size();
    return parse_value_info(nested, out.emplace_back(), field_name, index);
  }

  Status parse_graph(Reader reader, GraphProto& out, const char* label, size_t index) {
    RETURN_IF_ERROR(enter("GraphProto", label, index, reader.offset()));
    FrameExit exit(*this);
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "node"));
          const size_t element = out.node.size();
          RETURN_IF_ERROR(parse_node(nested, out.node.emplace_back(), element));
          break;
        }
        case 2:
          RETURN_IF_ERROR(read_string_field(reader, tag, "name", out.name, out.explicit_defaults));
          name_current(out.name);
          break;
        case 5: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "initializer"));
          const size_t element = out.initializer.size();
          RETURN_IF_ERROR(
              parse_tensor(nested, out.initializer.emplace_back(), "initializer", element));
          break;
        }
        case 10:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "doc_string", out.doc_string, out.explicit_defaults));
          break;
        case 11: RETURN_IF_ERROR(parse_value_infos(reader, tag, "input", out.input)); break;
        case 12: RETURN_IF_ERROR(parse_value_infos(reader, tag, "output", out.output)); break;
        case 13:
          RETURN_IF_ERROR(parse_value_infos(reader, tag, "value_info", out.value_info));
          break;
        case 15:
          return refuse(tag, "sparse_initializer", "sparse initializers are not supported");
        case 16:
          RETURN_IF_ERROR(parse_entries(reader, tag, "metadata_props", out.metadata_props));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  Status parse_model(Reader reader, ModelProto& out) {
    RETURN_IF_ERROR(enter("ModelProto", nullptr, kNoIndex, reader.offset()));
    FrameExit exit(*this);
    auto& defaults = out.explicit_defaults;
    while (!reader.at_end()) {
      ASSIGN_OR_RETURN(const Tag tag, next_tag(reader));
      switch (tag.field) {
        case 1:
          RETURN_IF_ERROR(read_int64_field(reader, tag, "ir_version", out.ir_version, defaults));
          break;
        case 2:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "producer_name", out.producer_name, defaults));
          break;
        case 3:
          RETURN_IF_ERROR(
              read_string_field(reader, tag, "producer_version", out.producer_version, defaults));
          break;
        case 4:
          RETURN_IF_ERROR(read_string_field(reader, tag, "domain", out.domain, defaults));
          break;
        case 5:
          RETURN_IF_ERROR(
              read_int64_field(reader, tag, "model_version", out.model_version, defaults));
          break;
        case 6:
          RETURN_IF_ERROR(read_string_field(reader, tag, "doc_string", out.doc_string, defaults));
          break;
        case 7: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "graph"));
          RETURN_IF_ERROR(parse_graph(nested, out.graph, "graph", kNoIndex));
          defaults.record(tag.field, out.graph == GraphProto{});
          break;
        }
        case 8: {
          ASSIGN_OR_RETURN(Reader nested, read_nested(reader, tag, "opset_import"));
          const size_t element = out.opset_import.size();
          RETURN_IF_ERROR(parse_opset(nested, out.opset_import.emplace_back(), element));
          break;
        }
        case 14:
          RETURN_IF_ERROR(parse_entries(reader, tag, "metadata_props", out.metadata_props));
          break;
        case 20:
          RETURN_IF_ERROR(
              read_string(reader, tag, "training_info", out.training_info_payloads.emplace_back()));
          break;
        case 25:
          RETURN_IF_ERROR(
              read_string(reader, tag, "functions", out.function_payloads.emplace_back()));
          break;
        default: RETURN_IF_ERROR(skip_unknown(reader, tag));
      }
    }
    return Status::ok();
  }

  std::span<const uint8_t> bytes_;
  std::vector<Frame> path_;
  UnknownFields unknown_;
};

}  // namespace

Result<ModelProto> parse_model(std::span<const uint8_t> bytes) {
  ModelProto model;
  Parser parser(bytes);
  RETURN_IF_ERROR(parser.parse(model).with_context("onnx: "));
  return model;
}

// ---------------------------------------------------------------------------------------------
// Serializer: fields in field-number order, as protobuf writes them, so a model read from a
// protobuf-written file is written back byte for byte.

namespace {

void write_string(Writer& writer, uint32_t field, const std::string& value,
                  const ExplicitDefaults& defaults) {
  if (!value.empty() || defaults.has(field)) writer.write_bytes_field(field, value);
}

void write_int64(Writer& writer, uint32_t field, int64_t value, const ExplicitDefaults& defaults) {
  if (value != 0 || defaults.has(field)) writer.write_int64_field(field, value);
}

void write_int32(Writer& writer, uint32_t field, int32_t value, const ExplicitDefaults& defaults) {
  if (value != 0 || defaults.has(field)) writer.write_int32_field(field, value);
}

// Unpacked, as protobuf writes proto2 repeated fields without [packed = true].
void write_unpacked_int64s(Writer& writer, uint32_t field, const std::vector<int64_t>& values) {
  for (const int64_t value : values) writer.write_int64_field(field, value);
}

template <typename Message, typename Body>
void write_message(Writer& writer, uint32_t field, const Message& message, Body&& body) {
  const size_t token = writer.begin_message(field);
  body(writer, message);
  writer.end_message(token);
}

// A singular message field is written when it differs from the default or was present.
template <typename Message, typename Body>
void write_optional_message(Writer& writer, uint32_t field, const Message& message,
                            const ExplicitDefaults& defaults, Body&& body) {
  if (defaults.has(field) || !(message == Message{})) write_message(writer, field, message, body);
}

void write_entry(Writer& writer, const StringStringEntryProto& entry) {
  write_string(writer, 1, entry.key, entry.explicit_defaults);
  write_string(writer, 2, entry.value, entry.explicit_defaults);
}

void write_entries(Writer& writer, uint32_t field,
                   const std::vector<StringStringEntryProto>& list) {
  for (const auto& entry : list) write_message(writer, field, entry, write_entry);
}

void write_tensor(Writer& writer, const TensorProto& tensor) {
  const auto& defaults = tensor.explicit_defaults;
  write_unpacked_int64s(writer, 1, tensor.dims);
  write_int32(writer, 2, static_cast<int32_t>(tensor.data_type), defaults);
  writer.write_packed_float_field(4, tensor.float_data);
  writer.write_packed_int32_field(5, tensor.int32_data);
  for (const auto& value : tensor.string_data) writer.write_bytes_field(6, value);
  writer.write_packed_int64_field(7, tensor.int64_data);
  write_string(writer, 8, tensor.name, defaults);
  write_string(writer, 9, tensor.raw_data, defaults);
  writer.write_packed_double_field(10, tensor.double_data);
  writer.write_packed_uint64_field(11, tensor.uint64_data);
  write_string(writer, 12, tensor.doc_string, defaults);
  write_entries(writer, 13, tensor.external_data);
  write_int32(writer, 14, static_cast<int32_t>(tensor.data_location), defaults);
  write_entries(writer, 16, tensor.metadata_props);
}

void write_dimension(Writer& writer, const TensorShapeDimension& dim) {
  if (dim.kind == TensorShapeDimension::Kind::kValue) writer.write_int64_field(1, dim.value);
  if (dim.kind == TensorShapeDimension::Kind::kParam) writer.write_bytes_field(2, dim.param);
  write_string(writer, 3, dim.denotation, dim.explicit_defaults);
}

void write_tensor_type(Writer& writer, const TensorTypeProto& type) {
  write_int32(writer, 1, static_cast<int32_t>(type.elem_type), type.explicit_defaults);
  if (type.has_shape) {
    const size_t token = writer.begin_message(2);
    for (const auto& dim : type.shape) write_message(writer, 1, dim, write_dimension);
    writer.end_message(token);
  }
}

void write_type(Writer& writer, const TypeProto& type) {
  const auto write_member = [&] {
    if (type.kind == TypeProto::Kind::kTensor) {
      write_message(writer, 1, type.tensor_type, write_tensor_type);
    } else if (type.kind != TypeProto::Kind::kNone) {
      writer.write_bytes_field(static_cast<uint32_t>(type.kind), type.unsupported_payload);
    }
  };
  // denotation (6) sits between the oneof members 1, 4, 5 and 8, 9.
  if (static_cast<uint32_t>(type.kind) < 6) write_member();
  write_string(writer, 6, type.denotation, type.explicit_defaults);
  if (static_cast<uint32_t>(type.kind) > 6) write_member();
}

void write_value_info(Writer& writer, const ValueInfoProto& info) {
  write_string(writer, 1, info.name, info.explicit_defaults);
  write_optional_message(writer, 2, info.type, info.explicit_defaults, write_type);
  write_string(writer, 3, info.doc_string, info.explicit_defaults);
  write_entries(writer, 4, info.metadata_props);
}

void write_graph(Writer& writer, const GraphProto& graph);

void write_attribute(Writer& writer, const AttributeProto& attribute) {
  const auto& defaults = attribute.explicit_defaults;
  write_string(writer, 1, attribute.name, defaults);
  if (std::bit_cast<uint32_t>(attribute.f) != 0 || defaults.has(2)) {
    writer.write_float_field(2, attribute.f);
  }
  write_int64(writer, 3, attribute.i, defaults);
  write_string(writer, 4, attribute.s, defaults);
  write_optional_message(writer, 5, *attribute.t, defaults, write_tensor);
  write_optional_message(writer, 6, *attribute.g, defaults, write_graph);
  for (const float value : attribute.floats) writer.write_float_field(7, value);
  write_unpacked_int64s(writer, 8, attribute.ints);
  for (const auto& value : attribute.strings) writer.write_bytes_field(9, value);
  for (const auto& tensor : attribute.tensors) write_message(writer, 10, tensor, write_tensor);
  for (const auto& graph : attribute.graphs) write_message(writer, 11, graph, write_graph);
  write_string(writer, 13, attribute.doc_string, defaults);
  write_int32(writer, 20, static_cast<int32_t>(attribute.type), defaults);
  write_string(writer, 21, attribute.ref_attr_name, defaults);
}

void write_node(Writer& writer, const NodeProto& node) {
  const auto& defaults = node.explicit_defaults;
  for (const auto& name : node.input) writer.write_bytes_field(1, name);
  for (const auto& name : node.output) writer.write_bytes_field(2, name);
  write_string(writer, 3, node.name, defaults);
  write_string(writer, 4, node.op_type, defaults);
  for (const auto& attribute : node.attribute) write_message(writer, 5, attribute, write_attribute);
  write_string(writer, 6, node.doc_string, defaults);
  write_string(writer, 7, node.domain, defaults);
  write_string(writer, 8, node.overload, defaults);
  write_entries(writer, 9, node.metadata_props);
}

void write_graph(Writer& writer, const GraphProto& graph) {
  for (const auto& node : graph.node) write_message(writer, 1, node, write_node);
  write_string(writer, 2, graph.name, graph.explicit_defaults);
  for (const auto& tensor : graph.initializer) write_message(writer, 5, tensor, write_tensor);
  write_string(writer, 10, graph.doc_string, graph.explicit_defaults);
  for (const auto& info : graph.input) write_message(writer, 11, info, write_value_info);
  for (const auto& info : graph.output) write_message(writer, 12, info, write_value_info);
  for (const auto& info : graph.value_info) write_message(writer, 13, info, write_value_info);
  write_entries(writer, 16, graph.metadata_props);
}

void write_opset(Writer& writer, const OperatorSetIdProto& opset) {
  write_string(writer, 1, opset.domain, opset.explicit_defaults);
  write_int64(writer, 2, opset.version, opset.explicit_defaults);
}

}  // namespace

std::string serialize_model(const ModelProto& model) {
  Writer writer;
  const auto& defaults = model.explicit_defaults;
  write_int64(writer, 1, model.ir_version, defaults);
  write_string(writer, 2, model.producer_name, defaults);
  write_string(writer, 3, model.producer_version, defaults);
  write_string(writer, 4, model.domain, defaults);
  write_int64(writer, 5, model.model_version, defaults);
  write_string(writer, 6, model.doc_string, defaults);
  write_optional_message(writer, 7, model.graph, defaults, write_graph);
  for (const auto& opset : model.opset_import) write_message(writer, 8, opset, write_opset);
  write_entries(writer, 14, model.metadata_props);
  for (const auto& payload : model.training_info_payloads) writer.write_bytes_field(20, payload);
  for (const auto& payload : model.function_payloads) writer.write_bytes_field(25, payload);
  return writer.take();
}

// ---------------------------------------------------------------------------------------------
// Tensor payloads

namespace {

template <typename Unsigned>
void append_little_endian(std::string& out, Unsigned value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

// Inclusive range a value stored in int32_data may take for a type narrower than 32 bits.
struct NarrowRange {
  int64_t min;
  int64_t max;
};

NarrowRange int32_data_range(DataType type) {
  switch (type) {
    case DataType::kBool: return {0, 1};
    case DataType::kInt8: return {-128, 127};
    case DataType::kInt16: return {-32768, 32767};
    case DataType::kUint16:
    case DataType::kFloat16:
    case DataType::kBfloat16: return {0, 65535};
    case DataType::kInt32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: return {0, 255};  // uint8, float8 and the packed bytes of 4- and 2-bit types
  }
}

Result<std::string> typed_payload_bytes(const TensorProto& tensor, uint64_t byte_count) {
  std::string out;
  out.reserve(byte_count);  // validated: equals the typed field's size times the element width
  switch (typed_field_for(tensor.data_type)) {
    case TypedField::kFloat:
      for (const float value : tensor.float_data) {
        append_little_endian(out, std::bit_cast<uint32_t>(value), 4);
      }
      break;
    case TypedField::kDouble:
      for (const double value : tensor.double_data) {
        append_little_endian(out, std::bit_cast<uint64_t>(value), 8);
      }
      break;
    case TypedField::kInt64:
      for (const int64_t value : tensor.int64_data) {
        append_little_endian(out, static_cast<uint64_t>(value), 8);
      }
      break;
    case TypedField::kUint64: {
      const bool is_uint32 = tensor.data_type == DataType::kUint32;
      for (size_t i = 0; i < tensor.uint64_data.size(); ++i) {
        const uint64_t value = tensor.uint64_data[i];
        if (is_uint32 && value > std::numeric_limits<uint32_t>::max()) {
          return error(kCorrupt, "uint64_data[", i, "] is ", value, ", out of range for uint32");
        }
        append_little_endian(out, value, is_uint32 ? 4 : 8);
      }
      break;
    }
    case TypedField::kInt32: {
      const NarrowRange range = int32_data_range(tensor.data_type);
      const size_t width = std::max<size_t>(element_bits(tensor.data_type) / 8, 1);
      for (size_t i = 0; i < tensor.int32_data.size(); ++i) {
        const int32_t value = tensor.int32_data[i];
        if (value < range.min || value > range.max) {
          return error(kCorrupt, "int32_data[", i, "] is ", value, ", out of range for ",
                       data_type_name(tensor.data_type));
        }
        append_little_endian(out, static_cast<uint32_t>(value), width);
      }
      break;
    }
    case TypedField::kString:
    case TypedField::kNone: return error(StatusCode::kInternal, "no fixed-size typed field");
  }
  if (out.size() != byte_count) {
    return error(StatusCode::kInternal, "converted ", out.size(), " bytes, expected ", byte_count);
  }
  return out;
}

}  // namespace

Result<std::string> tensor_bytes(const TensorProto& tensor) {
  if (tensor.is_external()) {
    return error(StatusCode::kInvalidArgument, "onnx: ", tensor_label(tensor),
                 "data is in an external file that was not loaded (use load_model_file)");
  }
  if (tensor.data_type == DataType::kString) {
    return error(StatusCode::kUnsupported, "onnx: ", tensor_label(tensor),
                 "string tensors have no fixed-size byte layout");
  }
  RETURN_IF_ERROR(check_tensor_payload(tensor).with_context("onnx: " + tensor_label(tensor)));
  if (!tensor.raw_data.empty()) return tensor.raw_data;
  ASSIGN_OR_RETURN(const uint64_t elements, tensor_element_count(tensor));
  ASSIGN_OR_RETURN(const uint64_t byte_count, payload_byte_count(tensor, elements));
  auto bytes = typed_payload_bytes(tensor, byte_count);
  if (!bytes.is_ok()) return bytes.status().with_context("onnx: " + tensor_label(tensor));
  return bytes;
}

Status set_tensor_raw_data(TensorProto& tensor, std::string little_endian_bytes) {
  const std::string context = "onnx: " + tensor_label(tensor);
  if (tensor.data_type == DataType::kString) {
    return error(StatusCode::kInvalidArgument, context, "string tensors cannot hold raw_data");
  }
  RETURN_IF_ERROR(check_data_type_known(tensor).with_context(context));
  auto elements = tensor_element_count(tensor);
  if (!elements.is_ok()) return elements.status().with_context(context);
  auto byte_count = payload_byte_count(tensor, elements.value());
  if (!byte_count.is_ok()) return byte_count.status().with_context(context);
  if (little_endian_bytes.size() != byte_count.value()) {
    return error(StatusCode::kInvalidArgument, context, "got ", little_endian_bytes.size(),
                 " bytes, ", describe_tensor(tensor), " need ", byte_count.value());
  }
  tensor.float_data.clear();
  tensor.int32_data.clear();
  tensor.int64_data.clear();
  tensor.double_data.clear();
  tensor.uint64_data.clear();
  tensor.string_data.clear();
  tensor.external_data.clear();
  tensor.data_location = DataLocation::kDefault;
  tensor.raw_data = std::move(little_endian_bytes);
  tensor.explicit_defaults.record(9, tensor.raw_data.empty());  // keep an empty payload explicit
  return Status::ok();
}

// ---------------------------------------------------------------------------------------------
// Files and external data

namespace fs = std::filesystem;

namespace {

Result<std::string> read_file_range(const fs::path& path, uint64_t offset, uint64_t length) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return error(StatusCode::kIoError, "cannot open '", path.string(), "'");
  file.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(length, '\0');
  file.read(bytes.data(), static_cast<std::streamsize>(length));
  if (!file || static_cast<uint64_t>(file.gcount()) != length) {
    return error(StatusCode::kIoError, "reading ", length, " bytes at offset ", offset, " of '",
                 path.string(), "' failed");
  }
  return bytes;
}

// Strict decimal: digits only, no sign, no spaces, no overflow.
Result<uint64_t> parse_decimal(const std::string& key, const std::string& text) {
  if (text.empty()) return error(kCorrupt, "external_data '", key, "' is empty");
  uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return error(kCorrupt, "external_data '", key, "' is '", text, "', not a decimal number");
    }
    if (__builtin_mul_overflow(value, uint64_t{10}, &value) ||
        __builtin_add_overflow(value, static_cast<uint64_t>(c - '0'), &value)) {
      return error(kCorrupt, "external_data '", key, "' value ", text, " overflows 64 bits");
    }
  }
  return value;
}

// The location must stay inside the model's directory whatever the platform's path rules.
Status check_location_text(const std::string& location) {
  if (location.empty()) return error(kCorrupt, "external_data 'location' is empty");
  if (location.find('\0') != std::string::npos) {
    return error(kCorrupt, "external_data location contains a NUL byte");
  }
  const bool drive_letter = location.size() >= 2 && location[1] == ':' &&
                            ((location[0] >= 'A' && location[0] <= 'Z') ||
                             (location[0] >= 'a' && location[0] <= 'z'));
  if (location.front() == '/' || location.front() == '\\' || drive_letter) {
    return error(kCorrupt, "external_data location '", location,
                 "' is absolute; it must be relative to the model's directory");
  }
  size_t start = 0;
  while (start <= location.size()) {
    const size_t end = location.find_first_of("/\\", start);
    const size_t stop = end == std::string::npos ? location.size() : end;
    if (location.compare(start, stop - start, "..") == 0) {
      return error(kCorrupt, "external_data location '", location,
                   "' has a '..' component; it must stay inside the model's directory");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Status::ok();
}

Result<fs::path> resolve_data_file(const fs::path& model_directory, const std::string& location) {
  RETURN_IF_ERROR(check_location_text(location));
  const fs::path path = model_directory / fs::path(location);
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status)) {
    return error(StatusCode::kNotFound, "external data file '", path.string(), "' does not exist");
  }
  if (fs::is_symlink(status)) {
    return error(kCorrupt, "external data file '", path.string(),
                 "' is a symbolic link; links are refused so a model cannot read files elsewhere");
  }
  if (!fs::is_regular_file(status)) {
    return error(kCorrupt, "external data file '", path.string(), "' is not a regular file");
  }
  // Catches symbolic links in the directories between the model and the file.
  const fs::path real_directory = fs::canonical(model_directory, ec);
  const fs::path real_file = ec ? fs::path() : fs::canonical(path, ec);
  if (ec) {
    return error(StatusCode::kIoError, "cannot resolve '", path.string(), "': ", ec.message());
  }
  const fs::path relative = real_file.lexically_relative(real_directory);
  if (relative.empty() || *relative.begin() == "..") {
    return error(kCorrupt, "external data file '", path.string(), "' resolves to '",
                 real_file.string(), "', outside the model's directory");
  }
  return path;
}

Status load_tensor_external_data(TensorProto& tensor, const fs::path& model_directory) {
  if (tensor.data_type == DataType::kString) {
    return error(kCorrupt, "string tensors cannot keep their data in an external file");
  }
  const size_t typed_values = typed_field_size(tensor, typed_field_for(tensor.data_type));
  if (!tensor.raw_data.empty() || typed_values != 0) {
    return error(kCorrupt, "data_location is EXTERNAL but the tensor also holds inline data");
  }
  std::string location;
  std::optional<uint64_t> offset;
  std::optional<uint64_t> length;
  bool has_location = false;
  for (const auto& entry : tensor.external_data) {
    if (entry.key == "location") {
      if (has_location) return error(kCorrupt, "external_data has 'location' twice");
      location = entry.value;
      has_location = true;
    } else if (entry.key == "offset" || entry.key == "length") {
      auto& slot = entry.key == "offset" ? offset : length;
      if (slot) return error(kCorrupt, "external_data has '", entry.key, "' twice");
      ASSIGN_OR_RETURN(slot, parse_decimal(entry.key, entry.value));
    }
    // "checksum" and keys from newer ONNX versions are not needed to read the bytes.
  }
  if (!has_location) return error(kCorrupt, "external_data has no 'location'");
  ASSIGN_OR_RETURN(const fs::path path, resolve_data_file(model_directory, location));

  std::error_code ec;
  const uint64_t file_size = fs::file_size(path, ec);
  if (ec) return error(StatusCode::kIoError, "cannot stat '", path.string(), "': ", ec.message());
  const uint64_t start = offset.value_or(0);
  if (start > file_size) {
    return error(kCorrupt, "external_data offset ", start, " is past the end of '", location,
                 "' (", file_size, " bytes)");
  }
  const uint64_t available = file_size - start;
  const uint64_t size = length.value_or(available);
  if (size > available) {
    return error(kCorrupt, "external_data range offset ", start, " length ", size,
                 " runs past the end of '", location, "' (", file_size, " bytes)");
  }
  RETURN_IF_ERROR(check_data_type_known(tensor));
  ASSIGN_OR_RETURN(const uint64_t elements, tensor_element_count(tensor));
  ASSIGN_OR_RETURN(const uint64_t needed, payload_byte_count(tensor, elements));
  if (size != needed) {
    return error(kCorrupt, "external data in '", location, "' has ", size, " bytes, ",
                 describe_tensor(tensor), " need ", needed);
  }
  ASSIGN_OR_RETURN(tensor.raw_data, read_file_range(path, start, size));
  tensor.external_data.clear();
  tensor.data_location = DataLocation::kDefault;
  tensor.explicit_defaults.record(9, tensor.raw_data.empty());
  // onnx.load sets DEFAULT explicitly after loading; doing the same keeps the two equal.
  tensor.explicit_defaults.record(14, true);
  return Status::ok();
}

template <typename Visit>
Status for_each_tensor(GraphProto& graph, const Visit& visit) {
  for (auto& tensor : graph.initializer) RETURN_IF_ERROR(visit(tensor));
  for (auto& node : graph.node) {
    for (auto& attribute : node.attribute) {
      if (!(*attribute.t == TensorProto{})) RETURN_IF_ERROR(visit(attribute.t.mutable_value()));
      for (auto& tensor : attribute.tensors) RETURN_IF_ERROR(visit(tensor));
      if (!(*attribute.g == GraphProto{})) {
        RETURN_IF_ERROR(for_each_tensor(attribute.g.mutable_value(), visit));
      }
      for (auto& subgraph : attribute.graphs) RETURN_IF_ERROR(for_each_tensor(subgraph, visit));
    }
  }
  return Status::ok();
}

// Messages start with the tensor; the public functions add "onnx: " and the file.
Status load_external_data_below(ModelProto& model, const fs::path& directory) {
  return for_each_tensor(model.graph, [&](TensorProto& tensor) -> Status {
    if (!tensor.is_external()) return Status::ok();
    return load_tensor_external_data(tensor, directory).with_context(tensor_label(tensor));
  });
}

}  // namespace

Status load_external_data(ModelProto& model, const std::string& model_directory) {
  const fs::path directory = model_directory.empty() ? fs::path(".") : fs::path(model_directory);
  return load_external_data_below(model, directory).with_context("onnx: ");
}

Result<ModelProto> load_model_file(const std::string& path) {
  const std::string context = "onnx: '" + path + "': ";
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return error(StatusCode::kNotFound, context, "cannot read the file: ", ec.message());
  if (size > kMaxModelFileBytes) {
    return error(kCorrupt, context, "the file has ", size,
                 " bytes, more than protobuf's 2 GiB limit; large weights belong in external data");
  }
  auto bytes = read_file_range(path, 0, size);
  if (!bytes.is_ok()) return bytes.status().with_context(context);
  const auto& data = bytes.value();
  ModelProto model;
  Parser parser({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  RETURN_IF_ERROR(parser.parse(model).with_context(context));
  fs::path directory = fs::path(path).parent_path();
  if (directory.empty()) directory = ".";
  RETURN_IF_ERROR(load_external_data_below(model, directory).with_context(context));
  return model;
}

}  // namespace convmend::onnx
