// Plain C++ structs for the subset of onnx.proto (proto2) that convmend reads and writes, with a
// strictly validating parser and a deterministic serializer built on formats/onnx/wire.h.
// Field numbers are noted next to each member. All structs own their data (no views into the
// parsed bytes), so the input buffer can be released as soon as parse_model returns.
//
// Decisions (see the comments at each member for details):
// - Unknown fields are skipped and counted (ModelProto::unknown_fields), not kept: a converter
//   that edits a graph cannot vouch for fields it does not understand.
// - ModelProto.functions and .training_info are kept as encoded bytes and written back as they
//   came, so a reader can refuse models with local functions while inspection still works.
// - Sparse tensors (GraphProto.sparse_initializer, sparse attributes), TypeProto attributes and
//   TensorProto.segment are refused with kUnsupported.
// - TypeProto kinds other than tensor_type keep their encoded bytes and their kind, so a reader can
//   refuse them by name.
// - proto2 presence: a field that was on the wire holding its default value is remembered in
//   `explicit_defaults` and written back, so a round trip is equal for protobuf too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"

namespace convmend::onnx {

enum class DataType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kUint8 = 2,
  kInt8 = 3,
  kUint16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,
  kBool = 9,
  kFloat16 = 10,
  kDouble = 11,
  kUint32 = 12,
  kUint64 = 13,
  kComplex64 = 14,
  kComplex128 = 15,
  kBfloat16 = 16,
  kFloat8E4M3FN = 17,
  kFloat8E4M3FNUZ = 18,
  kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20,
  kUint4 = 21,
  kInt4 = 22,
  kFloat4E2M1 = 23,
  kFloat8E8M0 = 24,
  kUint2 = 25,
  kInt2 = 26,
};

// "float", "int64", ...; "unknown" for numbers this build does not know.
const char* data_type_name(DataType type);
// Bits per element: 4 for int4/uint4/float4e2m1, 2 for int2/uint2; 0 for string, undefined and
// unknown types, which have no fixed-size layout.
size_t element_bits(DataType type);
// Bytes per element; 0 where element_bits is not a multiple of 8 or is 0.
size_t element_size(DataType type);

// Fields that were present on the wire holding their default value (0, "", empty message).
// proto2 distinguishes "set to default" from "absent"; remembering it makes serialize(parse(x))
// equal to x for protobuf. Values that differ from the default are always written, so code that
// builds messages never has to touch this.
class ExplicitDefaults {
 public:
  void record(uint32_t field, bool is_default) {
    if (field >= 64) return;  // no modelled field is that high
    const uint64_t bit = uint64_t{1} << field;
    bits_ = is_default ? (bits_ | bit) : (bits_ & ~bit);
  }
  bool has(uint32_t field) const { return field < 64 && (bits_ >> field & 1u) != 0; }
  bool operator==(const ExplicitDefaults&) const = default;

 private:
  uint64_t bits_ = 0;
};

// A value-semantic heap box: copying copies the value. It keeps AttributeProto small (most
// attributes hold neither a tensor nor a graph) and lets it hold a GraphProto before that type is
// complete. An empty box reads as a default-constructed T.
template <typename T>
class Boxed {
 public:
  Boxed() = default;
  Boxed(const Boxed& other) : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& other) {
    if (this != &other) value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  ~Boxed() = default;

  const T& operator*() const { return value_ ? *value_ : default_value(); }
  const T* operator->() const { return &**this; }
  T& mutable_value() {
    if (!value_) value_ = std::make_unique<T>();
    return *value_;
  }
  bool operator==(const Boxed& other) const { return **this == *other; }

 private:
  static const T& default_value() {
    static const T empty;
    return empty;
  }
  std::unique_ptr<T> value_;
};

struct StringStringEntryProto {
  std::string key;    // 1
  std::string value;  // 2
  ExplicitDefaults explicit_defaults;
  bool operator==(const StringStringEntryProto&) const = default;
};

struct OperatorSetIdProto {
  std::string domain;   // 1; "" is the default ONNX domain
  int64_t version = 0;  // 2
  ExplicitDefaults explicit_defaults;
  bool operator==(const OperatorSetIdProto&) const = default;
};

enum class DataLocation : int32_t { kDefault = 0, kExternal = 1 };

struct TensorProto {
  std::vector<int64_t> dims;                     // 1
  DataType data_type = DataType::kUndefined;     // 2
  std::vector<float> float_data;                 // 4: float, complex64
  std::vector<int32_t> int32_data;               // 5: int32 and every type narrower than 32 bits
  std::vector<std::string> string_data;          // 6
  std::vector<int64_t> int64_data;               // 7
  std::string name;                              // 8
  std::string raw_data;                          // 9: little-endian elements
  std::vector<double> double_data;               // 10: double, complex128
  std::vector<uint64_t> uint64_data;             // 11: uint32, uint64
  std::string doc_string;                        // 12
  std::vector<StringStringEntryProto> external_data;  // 13: location, offset, length, checksum
  DataLocation data_location = DataLocation::kDefault;  // 14
  std::vector<StringStringEntryProto> metadata_props;   // 16
  ExplicitDefaults explicit_defaults;

  bool is_external() const { return data_location == DataLocation::kExternal; }
  bool operator==(const TensorProto&) const = default;
};

struct TensorShapeDimension {
  // The oneof: neither member (unknown extent), dim_value, dim_param.
  enum class Kind : uint8_t { kUnknown, kValue, kParam };
  Kind kind = Kind::kUnknown;
  int64_t value = 0;       // 1, when kind == kValue
  std::string param;       // 2, when kind == kParam
  std::string denotation;  // 3
  ExplicitDefaults explicit_defaults;
  bool operator==(const TensorShapeDimension&) const = default;
};

struct TensorTypeProto {
  DataType elem_type = DataType::kUndefined;  // 1
  // Field 2. Absent shape means unknown rank; a present shape with no dims is a scalar.
  bool has_shape = false;
  std::vector<TensorShapeDimension> shape;
  ExplicitDefaults explicit_defaults;
  bool operator==(const TensorTypeProto&) const = default;
};

struct TypeProto {
  // The oneof `value`; the enumerator values are the field numbers.
  enum class Kind : uint8_t {
    kNone = 0,
    kTensor = 1,
    kSequence = 4,
    kMap = 5,
    kSparseTensor = 8,
    kOptional = 9,
  };
  Kind kind = Kind::kNone;
  TensorTypeProto tensor_type;  // when kind == kTensor
  // For the other kinds: the encoded message of that oneof member, kept unparsed so it survives a
  // round trip while readers refuse it by kind.
  std::string unsupported_payload;
  std::string denotation;  // 6
  ExplicitDefaults explicit_defaults;
  bool operator==(const TypeProto&) const = default;
};

// "tensor_type", "sequence_type", ...
const char* type_kind_name(TypeProto::Kind kind);

struct ValueInfoProto {
  std::string name;        // 1
  TypeProto type;          // 2
  std::string doc_string;  // 3
  std::vector<StringStringEntryProto> metadata_props;  // 4
  ExplicitDefaults explicit_defaults;
  bool operator==(const ValueInfoProto&) const = default;
};

enum class AttributeType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kInt = 2,
  kString = 3,
  kTensor = 4,
  kGraph = 5,
  kFloats = 6,
  kInts = 7,
  kStrings = 8,
  kTensors = 9,
  kGraphs = 10,
  kSparseTensor = 11,
  kSparseTensors = 12,
  kTypeProto = 13,
  kTypeProtos = 14,
};

struct NodeProto;

struct GraphProto {
  std::vector<NodeProto> node;          // 1
  std::string name;                     // 2
  std::vector<TensorProto> initializer;  // 5
  std::string doc_string;               // 10
  std::vector<ValueInfoProto> input;    // 11
  std::vector<ValueInfoProto> output;   // 12
  std::vector<ValueInfoProto> value_info;  // 13
  std::vector<StringStringEntryProto> metadata_props;  // 16
  ExplicitDefaults explicit_defaults;
  bool operator==(const GraphProto&) const;
};

struct AttributeProto {
  std::string name;                          // 1
  float f = 0.0f;                            // 2
  int64_t i = 0;                             // 3
  std::string s;                             // 4
  Boxed<TensorProto> t;                      // 5
  Boxed<GraphProto> g;                       // 6
  std::vector<float> floats;                 // 7
  std::vector<int64_t> ints;                 // 8
  std::vector<std::string> strings;          // 9
  std::vector<TensorProto> tensors;          // 10
  std::vector<GraphProto> graphs;            // 11
  std::string doc_string;                    // 13
  AttributeType type = AttributeType::kUndefined;  // 20
  std::string ref_attr_name;                 // 21
  ExplicitDefaults explicit_defaults;
  bool operator==(const AttributeProto&) const = default;
};

struct NodeProto {
  std::vector<std::string> input;       // 1; "" marks an omitted optional input
  std::vector<std::string> output;      // 2
  std::string name;                     // 3
  std::string op_type;                  // 4
  std::vector<AttributeProto> attribute;  // 5
  std::string doc_string;               // 6
  std::string domain;                   // 7
  std::string overload;                 // 8
  std::vector<StringStringEntryProto> metadata_props;  // 9
  ExplicitDefaults explicit_defaults;
  bool operator==(const NodeProto&) const = default;
};

// What the parser skipped, so callers can warn. Not part of a model's value: equality ignores it.
struct UnknownFields {
  size_t count = 0;
  std::string first;  // e.g. "NodeProto field 10 at byte 1234"
  bool operator==(const UnknownFields&) const { return true; }
};

struct ModelProto {
  int64_t ir_version = 0;                          // 1
  std::string producer_name;                       // 2
  std::string producer_version;                    // 3
  std::string domain;                              // 4
  int64_t model_version = 0;                       // 5
  std::string doc_string;                          // 6
  GraphProto graph;                                // 7
  std::vector<OperatorSetIdProto> opset_import;    // 8
  std::vector<StringStringEntryProto> metadata_props;  // 14
  // Fields 20 and 25, each element one encoded TrainingInfoProto / FunctionProto, written back
  // unchanged. Importers must refuse a model whose graph calls local functions.
  std::vector<std::string> training_info_payloads;
  std::vector<std::string> function_payloads;
  ExplicitDefaults explicit_defaults;
  UnknownFields unknown_fields;
  bool operator==(const ModelProto&) const = default;
};

// Nesting depth (messages inside messages, subgraphs included) beyond which parsing stops.
inline constexpr size_t kMaxMessageDepth = 64;

// Parses and validates an encoded ModelProto: wire format, field types, tensor payload sizes
// against dims and data_type (except tensors whose data is external), non-negative dims.
// Errors name the message, its path in the model, the field and the byte offset.
Result<ModelProto> parse_model(std::span<const uint8_t> bytes);

// Encodes a model in field-number order, like protobuf; identical input gives identical output.
std::string serialize_model(const ModelProto& model);

// Reads the file, parses it, and loads external tensor data (location relative to the model's
// directory) into raw_data, turning those tensors into ordinary inline ones. Refuses absolute
// locations, '..' components, symbolic links, files that resolve outside the model's directory,
// and offset/length ranges outside the data file or not matching the tensor's size. Files over
// 2 GiB are refused: protobuf cannot encode a message that large.
Result<ModelProto> load_model_file(const std::string& path);

// Loads external data of every tensor in the model (initializers, attribute tensors, subgraphs)
// from files below `model_directory`, with the checks described at load_model_file.
Status load_external_data(ModelProto& model, const std::string& model_directory);

// Number of elements the dims describe; an error for a negative dim or an overflowing product.
Result<uint64_t> tensor_element_count(const TensorProto& tensor);

// The tensor's elements as little-endian bytes of its data_type, whichever field holds them
// (raw_data or the typed field; types narrower than 32 bits come from int32_data, one value per
// element, or per packed byte for 4- and 2-bit types). Validates the element count against dims
// and the range of each narrowed value. String tensors and external tensors that were not loaded
// are refused.
Result<std::string> tensor_bytes(const TensorProto& tensor);

// Replaces the tensor's payload with raw little-endian bytes of its data_type and dims, clearing
// the typed fields and any external reference. Refuses a size that does not match.
Status set_tensor_raw_data(TensorProto& tensor, std::string little_endian_bytes);

}  // namespace convmend::onnx
