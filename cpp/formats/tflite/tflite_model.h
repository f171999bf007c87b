// The TFLite file codec: a .tflite FlatBuffer parsed into plain C++ structs and written back.
// parse_model verifies every table it reads (model files are untrusted input) and then checks
// the model's own consistency (indices, buffer sizes, quantization); serialize_model writes a
// file the LiteRT interpreter loads. The structs own all their data and hold no pointer into the
// source bytes, so the file may be freed right after parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/tflite/tflite_schema.h"
#include "ir/status.h"

namespace convmend::tflite {

// One field of a builtin-options table. Integers and enums live in int_value, floats in
// float_value, vectors in int_values (std::nullopt when the vector is absent, which the runtime
// treats differently from an empty one for RESHAPE's new_shape).
struct OptionField {
  std::string_view name;  // points into the static OptionsTableSpec
  OptionKind kind = OptionKind::kInt32;
  int64_t int_value = 0;
  float float_value = 0.0f;
  std::optional<std::vector<int32_t>> int_values;

  // Floats compare by bit pattern, so NaN equals itself and -0.0 differs from 0.0.
  bool operator==(const OptionField& other) const;
};

// The builtin options of one operator, read and written by one generic loop over the
// OptionsTableSpec of `type`. type == kNone means the operator has no options table.
struct Options {
  BuiltinOptionsType type = BuiltinOptionsType::kNone;
  std::vector<OptionField> fields;  // one per spec field, in spec order, defaults filled in

  // All fields at their schema defaults; kUnsupported if convmend has no spec for `type`.
  static Result<Options> make_default(BuiltinOptionsType type);

  // Typed access by schema field name; kNotFound names the field and the table.
  Result<int64_t> get_int(std::string_view name) const;  // bool and integer kinds
  Result<bool> get_bool(std::string_view name) const;
  Result<float> get_float(std::string_view name) const;
  Result<std::optional<std::vector<int32_t>>> get_ints(std::string_view name) const;
  template <typename Enum>
  Result<Enum> get_enum(std::string_view name) const {
    ASSIGN_OR_RETURN(int64_t value, get_int(name));
    return static_cast<Enum>(value);
  }

  // Setters check that the value fits the stored kind (kInvalidArgument otherwise).
  Status set_int(std::string_view name, int64_t value);
  Status set_bool(std::string_view name, bool value);
  Status set_float(std::string_view name, float value);
  Status set_ints(std::string_view name, std::optional<std::vector<int32_t>> values);

  bool operator==(const Options&) const = default;

 private:
  const OptionField* find(std::string_view name) const;
  OptionField* find(std::string_view name);
};

struct OperatorCode {
  int8_t deprecated_builtin_code = 0;
  std::string custom_code;
  int32_t version = 1;
  int32_t builtin_code = 0;

  // The code the runtime uses: the larger of the two fields, since old files only set the int8
  // one and new files set the int8 one to 127 for codes that do not fit.
  BuiltinOperator effective_code() const;
  // Both fields filled the way current converters do.
  static OperatorCode builtin(BuiltinOperator op, int32_t version = 1);

  bool operator==(const OperatorCode&) const = default;
};

struct QuantizationParameters {
  std::vector<float> min;
  std::vector<float> max;
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;

  // Floats compare by bit pattern, so NaN equals itself and -0.0 differs from 0.0.
  bool operator==(const QuantizationParameters& other) const;
};

struct Tensor {
  std::vector<int32_t> shape;
  TensorType type = TensorType::kFloat32;
  uint32_t buffer = 0;  // index into Model::buffers; buffer 0 is the empty sentinel
  std::string name;
  // Converters write an empty table for float tensors; kept as present/absent for fidelity.
  std::optional<QuantizationParameters> quantization;
  bool is_variable = false;
  std::optional<std::vector<int32_t>> shape_signature;  // -1 marks a dynamic dimension
  bool has_rank = false;

  bool operator==(const Tensor&) const = default;
};

struct Operator {
  uint32_t opcode_index = 0;
  std::vector<int32_t> inputs;  // -1 marks an omitted optional input
  std::vector<int32_t> outputs;
  Options builtin_options;
  std::vector<uint8_t> custom_options;
  CustomOptionsFormat custom_options_format = CustomOptionsFormat::kFlexbuffers;
  std::vector<bool> mutating_variable_inputs;
  std::vector<int32_t> intermediates;
  int32_t debug_metadata_index = -1;

  bool operator==(const Operator&) const = default;
};

struct SubGraph {
  std::vector<Tensor> tensors;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  std::vector<Operator> operators;
  std::string name;
  int32_t debug_metadata_index = -1;

  bool operator==(const SubGraph&) const = default;
};

struct Buffer {
  std::vector<uint8_t> data;
  // Where the bytes sat in the source file when they were stored after the FlatBuffer (models
  // over 2 GB). Informational only: ignored by ==, and serialize_model chooses its own layout.
  uint64_t source_offset = 0;
  uint64_t source_size = 0;

  bool operator==(const Buffer& other) const { return data == other.data; }
};

struct Metadata {
  std::string name;
  uint32_t buffer = 0;

  bool operator==(const Metadata&) const = default;
};

struct TensorMap {
  std::string name;
  uint32_t tensor_index = 0;

  bool operator==(const TensorMap&) const = default;
};

struct SignatureDef {
  std::vector<TensorMap> inputs;
  std::vector<TensorMap> outputs;
  std::string signature_key;
  uint32_t subgraph_index = 0;

  bool operator==(const SignatureDef&) const = default;
};

struct Model {
  uint32_t version = 3;
  std::vector<OperatorCode> operator_codes;
  std::vector<SubGraph> subgraphs;
  std::string description;
  std::vector<Buffer> buffers;
  std::vector<int32_t> metadata_buffer;
  std::vector<Metadata> metadata;
  std::vector<SignatureDef> signature_defs;

  bool operator==(const Model&) const = default;
};

// Parses and fully verifies a .tflite file. `file` is only read during the call. Errors:
// kInvalidModel for corrupt or inconsistent files, kUnsupported for valid features convmend
// does not model (sparsity, custom quantization, unknown options tables, newer schema fields);
// all unsupported operators are listed in one message.
Result<Model> parse_model(std::span<const uint8_t> file);

// Runs the semantic checks of parse_model on a model built or edited in memory.
Status validate_model(const Model& model);

struct SerializeOptions {
  // Store buffer data after the FlatBuffer with offset/size, as converters do for models over
  // 2 GB. Chosen automatically when the data would not fit in a FlatBuffer.
  bool buffers_after_flatbuffer = false;
};

// Writes `model` as a .tflite file with identifier "TFL3". Validates the model first.
Result<std::vector<uint8_t>> serialize_model(const Model& model,
                                             const SerializeOptions& options = {});

// File helpers around parse_model and serialize_model; errors name the path.
Result<Model> load_model_file(const std::string& path);
Status save_model_file(const Model& model, const std::string& path,
                       const SerializeOptions& options = {});

}  // namespace convmend::tflite
