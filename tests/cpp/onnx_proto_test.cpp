// Tests for the protobuf wire codec and the ONNX message structs. Golden files come from
// tests/cpp/data/make_onnx_proto_cases.py (onnx Python package); the values asserted here repeat
// the formulas of that script. No Python is needed to run these tests.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <unistd.h>
#include <string>
#include <vector>

#include "formats/onnx/onnx_proto.h"
#include "formats/onnx/wire.h"

#ifndef CONVMEND_TEST_DATA_DIR
#define CONVMEND_TEST_DATA_DIR "tests/cpp/data"  // relative to the repository root
#endif

namespace convmend::onnx {
namespace {

namespace fs = std::filesystem;
using wire::WireType;
using wire::Writer;

fs::path golden_path(const std::string& name) {
  return fs::path(CONVMEND_TEST_DATA_DIR) / "onnx" / name;
}

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::span<const uint8_t> as_bytes(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

Result<ModelProto> parse(const std::string& bytes) { return parse_model(as_bytes(bytes)); }

ModelProto parse_golden(const std::string& name) {
  auto model = parse(read_file(golden_path(name)));
  EXPECT_TRUE(model.is_ok()) << name << ": " << model.status().to_string();
  return model.is_ok() ? std::move(model).value() : ModelProto{};
}

// The script's weights(count): multiples of 0.25, exact in float.
std::vector<float> golden_weights(size_t count) {
  std::vector<float> values;
  for (size_t i = 0; i < count; ++i) values.push_back(static_cast<float>(int(i % 7) - 3) * 0.25f);
  return values;
}

std::string little_endian_floats(const std::vector<float>& values) {
  std::string bytes;
  for (const float value : values) {
    const auto bits = std::bit_cast<uint32_t>(value);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(bits >> (8 * i)));
  }
  return bytes;
}

const AttributeProto* find_attribute(const NodeProto& node, const std::string& name) {
  for (const auto& attribute : node.attribute) {
    if (attribute.name == name) return &attribute;
  }
  return nullptr;
}

const TensorProto* find_initializer(const GraphProto& graph, const std::string& name) {
  for (const auto& tensor : graph.initializer) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

std::string bytes_of(const TensorProto& tensor) {
  auto bytes = tensor_bytes(tensor);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return bytes.is_ok() ? bytes.value() : std::string();
}

// A temporary directory removed when the test ends.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("convmend_onnx_proto_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDirectory() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// Wire reader and writer

TEST(WireReader, DecodesVarintsUpToTenBytes) {
  const std::vector<uint8_t> max = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  wire::Reader reader(max);
  auto value = reader.read_varint();
  ASSERT_TRUE(value.is_ok()) << value.status().to_string();
  EXPECT_EQ(value.value(), UINT64_MAX);
  EXPECT_TRUE(reader.at_end());

  const std::vector<uint8_t> small = {0xac, 0x02};  // 300
  wire::Reader small_reader(small);
  EXPECT_EQ(small_reader.read_varint().value(), 300u);
}

TEST(WireReader, RejectsOverlongTruncatedAndOverflowingVarints) {
  const std::vector<uint8_t> eleven(11, 0x80);
  auto overlong = wire::Reader(eleven).read_varint();
  ASSERT_FALSE(overlong.is_ok());
  EXPECT_NE(overlong.status().message().find("longer than 10 bytes"), std::string::npos)
      << overlong.status().message();

  const std::vector<uint8_t> overflow = {0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x02};
  auto overflowing = wire::Reader(overflow).read_varint();
  ASSERT_FALSE(overflowing.is_ok());
  EXPECT_NE(overflowing.status().message().find("overflows 64 bits"), std::string::npos);

  const std::vector<uint8_t> cut = {0x80, 0x80};
  auto truncated = wire::Reader(cut).read_varint();
  ASSERT_FALSE(truncated.is_ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidModel);
  EXPECT_NE(truncated.status().message().find("cut off"), std::string::npos);
}

TEST(WireReader, RejectsFieldZeroGroupsAndInvalidWireTypes) {
  for (const uint8_t key : {uint8_t{0x00}, uint8_t{0x02}}) {  // field 0 as varint, as bytes
    const std::vector<uint8_t> bytes = {key, 0x00};
    auto tag = wire::Reader(bytes).read_tag();
    ASSERT_FALSE(tag.is_ok());
    EXPECT_NE(tag.status().message().find("field number 0"), std::string::npos);
  }
  for (const uint8_t type : {3, 4}) {
    const std::vector<uint8_t> bytes = {static_cast<uint8_t>(1 << 3 | type)};
    auto tag = wire::Reader(bytes).read_tag();
    ASSERT_FALSE(tag.is_ok());
    EXPECT_NE(tag.status().message().find("group"), std::string::npos);
  }
  for (const uint8_t type : {6, 7}) {
    const std::vector<uint8_t> bytes = {static_cast<uint8_t>(1 << 3 | type)};
    auto tag = wire::Reader(bytes).read_tag();
    ASSERT_FALSE(tag.is_ok());
    EXPECT_NE(tag.status().message().find("invalid wire type"), std::string::npos);
  }
}

TEST(WireReader, LengthPastTheEndFailsBeforeAnyAllocation) {
  // Length 2^62 followed by 3 bytes: must fail on the length, not try to allocate.
  const std::vector<uint8_t> bytes = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                      0x80, 0x80, 0x40, 1,    2,    3};
  wire::Reader reader(bytes);
  auto payload = reader.read_length_delimited();
  ASSERT_FALSE(payload.is_ok());
  EXPECT_NE(payload.status().message().find("runs past the end"), std::string::npos)
      << payload.status().message();
}

TEST(WireReader, SubReaderKeepsAbsoluteOffsets) {
  Writer writer;
  writer.write_varint_field(1, 5);
  const size_t token = writer.begin_message(2);
  writer.write_varint_field(3, 1);
  writer.write_bytes_field(4, "abc");
  writer.end_message(token);
  const std::string bytes = writer.take();
  wire::Reader reader(as_bytes(bytes));
  ASSERT_EQ(reader.read_tag().value().field, 1u);
  ASSERT_EQ(reader.read_varint().value(), 5u);
  ASSERT_EQ(reader.read_tag().value().field, 2u);
  auto nested = reader.read_message();
  ASSERT_TRUE(nested.is_ok());
  EXPECT_TRUE(reader.at_end());
  EXPECT_EQ(nested->offset(), 4u);  // tag 1, value, tag 2, length
  EXPECT_EQ(nested->end_offset(), bytes.size());
}

TEST(WireWriter, WidensReservedLengthForLongMessages) {
  Writer writer;
  const size_t token = writer.begin_message(1);
  writer.write_bytes_field(2, std::string(300, 'x'));
  writer.end_message(token);
  const std::string bytes = writer.take();
  // tag(1), length 303 as a 2-byte varint, tag(2), length 300 as 2 bytes, payload.
  ASSERT_EQ(bytes.size(), 1u + 2u + 1u + 2u + 300u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 0xafu);
  EXPECT_EQ(static_cast<uint8_t>(bytes[2]), 0x02u);
  wire::Reader reader(as_bytes(bytes));
  ASSERT_TRUE(reader.read_tag().is_ok());
  auto nested = reader.read_message();
  ASSERT_TRUE(nested.is_ok());
  EXPECT_EQ(nested->remaining(), 303u);
}

TEST(WireRepeated, AcceptsPackedAndUnpackedEncodings) {
  Writer writer;
  writer.write_int64_field(1, -1);
  writer.write_packed_int64_field(1, std::vector<int64_t>{2, -3, int64_t{1} << 40});
  writer.write_float_field(2, 1.5f);
  writer.write_packed_float_field(2, std::vector<float>{-0.25f, 8.0f});
  const std::string bytes = writer.take();

  std::vector<int64_t> ints;
  std::vector<float> floats;
  wire::Reader reader(as_bytes(bytes));
  while (!reader.at_end()) {
    const auto tag = reader.read_tag().value();
    if (tag.field == 1) {
      ASSERT_TRUE(wire::read_repeated_varint(reader, tag.wire_type, ints).is_ok());
    } else {
      ASSERT_TRUE(wire::read_repeated_fixed(reader, tag.wire_type, floats).is_ok());
    }
  }
  EXPECT_EQ(ints, (std::vector<int64_t>{-1, 2, -3, int64_t{1} << 40}));
  EXPECT_EQ(floats, (std::vector<float>{1.5f, -0.25f, 8.0f}));
}

TEST(WireRepeated, RejectsPackedFixedRunOfWrongLengthAndWrongWireType) {
  Writer writer;
  writer.write_bytes_field(1, std::string(6, '\0'));  // 6 bytes is not a whole number of floats
  const std::string bytes = writer.take();
  wire::Reader reader(as_bytes(bytes));
  const auto tag = reader.read_tag().value();
  std::vector<float> floats;
  const Status status = wire::read_repeated_fixed(reader, tag.wire_type, floats);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("not a multiple of 4"), std::string::npos);

  std::vector<int32_t> ints;
  wire::Reader fixed_reader(as_bytes(std::string(4, '\0')));
  EXPECT_FALSE(wire::read_repeated_varint(fixed_reader, WireType::kFixed32, ints).is_ok());
}

TEST(WireRepeated, RejectsInt32OutOfRange) {
  Writer writer;
  writer.write_varint_field(1, uint64_t{1} << 33);
  const std::string bytes = writer.take();
  wire::Reader reader(as_bytes(bytes));
  const auto tag = reader.read_tag().value();
  std::vector<int32_t> values;
  const Status status = wire::read_repeated_varint(reader, tag.wire_type, values);
  ASSERT_FALSE(status.is_ok());
  EXPECT_NE(status.message().find("does not fit a 32-bit integer"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Golden files

TEST(GoldenFiles, ConvReluWithRawData) {
  const ModelProto model = parse_golden("conv_relu_raw.onnx");
  EXPECT_EQ(model.ir_version, 8);
  EXPECT_EQ(model.producer_name, "convmend-tests");
  EXPECT_EQ(model.producer_version, "1");
  EXPECT_EQ(model.doc_string, "golden file for onnx_proto_test");
  ASSERT_EQ(model.opset_import.size(), 1u);
  EXPECT_EQ(model.opset_import[0].domain, "");
  EXPECT_TRUE(model.opset_import[0].explicit_defaults.has(1));  // domain "" was on the wire
  EXPECT_EQ(model.opset_import[0].version, 17);
  ASSERT_EQ(model.metadata_props.size(), 1u);
  EXPECT_EQ(model.metadata_props[0].key, "purpose");
  EXPECT_EQ(model.metadata_props[0].value, "test");
  EXPECT_EQ(model.unknown_fields.count, 0u);

  const GraphProto& graph = model.graph;
  EXPECT_EQ(graph.name, "conv_relu");
  ASSERT_EQ(graph.node.size(), 2u);
  const NodeProto& conv = graph.node[0];
  EXPECT_EQ(conv.op_type, "Conv");
  EXPECT_EQ(conv.name, "conv1");
  EXPECT_EQ(conv.input, (std::vector<std::string>{"x", "conv1.weight", "conv1.bias"}));
  EXPECT_EQ(conv.output, (std::vector<std::string>{"conv1_out"}));
  ASSERT_EQ(conv.attribute.size(), 3u);
  const AttributeProto* pads = find_attribute(conv, "pads");
  ASSERT_NE(pads, nullptr);
  EXPECT_EQ(pads->type, AttributeType::kInts);
  EXPECT_EQ(pads->ints, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(find_attribute(conv, "kernel_shape")->ints, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(graph.node[1].op_type, "Relu");
  EXPECT_EQ(graph.node[1].input, (std::vector<std::string>{"conv1_out"}));

  ASSERT_EQ(graph.input.size(), 1u);
  const ValueInfoProto& x = graph.input[0];
  EXPECT_EQ(x.name, "x");
  ASSERT_EQ(x.type.kind, TypeProto::Kind::kTensor);
  EXPECT_EQ(x.type.tensor_type.elem_type, DataType::kFloat);
  ASSERT_TRUE(x.type.tensor_type.has_shape);
  const auto& dims = x.type.tensor_type.shape;
  ASSERT_EQ(dims.size(), 4u);
  EXPECT_EQ(dims[0].kind, TensorShapeDimension::Kind::kParam);
  EXPECT_EQ(dims[0].param, "N");
  EXPECT_EQ(dims[1].kind, TensorShapeDimension::Kind::kValue);
  EXPECT_EQ(dims[1].value, 3);
  EXPECT_EQ(dims[3].value, 8);

  ASSERT_EQ(graph.initializer.size(), 2u);
  const TensorProto* weight = find_initializer(graph, "conv1.weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->dims, (std::vector<int64_t>{4, 3, 3, 3}));
  EXPECT_EQ(weight->data_type, DataType::kFloat);
  EXPECT_EQ(weight->raw_data.size(), 4u * 3 * 3 * 3 * 4);
  EXPECT_TRUE(weight->float_data.empty());
  EXPECT_EQ(bytes_of(*weight), little_endian_floats(golden_weights(108)));
  EXPECT_EQ(bytes_of(*find_initializer(graph, "conv1.bias")),
            little_endian_floats({0.5f, -0.5f, 1.0f, 0.0f}));
}

TEST(GoldenFiles, ConvReluWithFloatDataHasTheSameBytes) {
  const ModelProto typed = parse_golden("conv_relu_float_data.onnx");
  const ModelProto raw = parse_golden("conv_relu_raw.onnx");
  const TensorProto* weight = find_initializer(typed.graph, "conv1.weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_TRUE(weight->raw_data.empty());
  EXPECT_EQ(weight->float_data, golden_weights(108));
  for (const char* name : {"conv1.weight", "conv1.bias"}) {
    EXPECT_EQ(bytes_of(*find_initializer(typed.graph, name)),
              bytes_of(*find_initializer(raw.graph, name)))
        << name;
  }
}

TEST(GoldenFiles, TypedFieldsNarrowerThan32BitsComeFromInt32Data) {
  const ModelProto model = parse_golden("typed_fields.onnx");
  const GraphProto& graph = model.graph;
  const TensorProto* shape = find_initializer(graph, "shape");
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(shape->data_type, DataType::kInt64);
  EXPECT_EQ(shape->int64_data, (std::vector<int64_t>{2, -1}));
  EXPECT_EQ(bytes_of(*shape),
            std::string("\x02\0\0\0\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 16));

  EXPECT_EQ(find_initializer(graph, "scale")->float_data,
            (std::vector<float>{1.5f, -2.0f, 0.25f, 0.0f, 3.0f, -0.5f}));

  const TensorProto* half = find_initializer(graph, "half");
  ASSERT_NE(half, nullptr);
  EXPECT_EQ(half->data_type, DataType::kFloat16);
  EXPECT_EQ(half->int32_data, (std::vector<int32_t>{0x3c00, 0xc000, 0x3800}));  // 1, -2, 0.5
  EXPECT_EQ(bytes_of(*half), std::string("\x00\x3c\x00\xc0\x00\x38", 6));

  const TensorProto* small = find_initializer(graph, "small");
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(small->int32_data, (std::vector<int32_t>{-128, -1, 0, 127}));
  EXPECT_EQ(bytes_of(*small), std::string("\x80\xff\x00\x7f", 4));

  const TensorProto* flags = find_initializer(graph, "flags");
  ASSERT_NE(flags, nullptr);
  EXPECT_EQ(flags->data_type, DataType::kBool);
  EXPECT_EQ(bytes_of(*flags), std::string("\x01\x00\x01", 3));
}

TEST(GoldenFiles, AttributesOfEveryScalarAndListKind) {
  const ModelProto model = parse_golden("attributes.onnx");
  const auto& nodes = model.graph.node;
  ASSERT_EQ(nodes.size(), 10u);
  const auto attribute = [&](size_t node, const char* name) -> const AttributeProto& {
    const AttributeProto* found = find_attribute(nodes.at(node), name);
    EXPECT_NE(found, nullptr) << name;
    static const AttributeProto missing;
    return found != nullptr ? *found : missing;
  };
  EXPECT_EQ(attribute(0, "value_int").type, AttributeType::kInt);
  EXPECT_EQ(attribute(0, "value_int").i, -7);
  const AttributeProto& zero = attribute(1, "value_float");
  EXPECT_EQ(zero.type, AttributeType::kFloat);
  EXPECT_EQ(zero.f, 0.0f);
  EXPECT_TRUE(zero.explicit_defaults.has(2));  // f = 0 was present and must be written back
  EXPECT_EQ(attribute(2, "value_string").s, "hello");
  EXPECT_EQ(attribute(3, "value_ints").ints, (std::vector<int64_t>{3, -1, 0, int64_t{1} << 40}));
  EXPECT_EQ(attribute(4, "value_floats").floats, (std::vector<float>{1.5f, -0.25f}));
  EXPECT_EQ(attribute(5, "value_strings").strings, (std::vector<std::string>{"a", "", "bc"}));
  const AttributeProto& value = attribute(6, "value");
  EXPECT_EQ(value.type, AttributeType::kTensor);
  EXPECT_EQ(value.t->name, "v");
  EXPECT_EQ(value.t->data_type, DataType::kInt32);
  EXPECT_EQ(value.t->int32_data, (std::vector<int32_t>{5, -6}));
  EXPECT_EQ(attribute(7, "axis").i, -1);
  EXPECT_EQ(attribute(7, "keepdims").i, 0);
  EXPECT_EQ(attribute(8, "alpha").f, 0.125f);
  EXPECT_EQ(attribute(9, "perm").ints, (std::vector<int64_t>{1, 0}));
  // Scalar outputs: a shape with no dims, which is not the same as no shape.
  EXPECT_TRUE(model.graph.output[0].type.tensor_type.has_shape);
  EXPECT_TRUE(model.graph.output[0].type.tensor_type.shape.empty());
}

TEST(GoldenFiles, SubgraphAttributes) {
  const ModelProto model = parse_golden("subgraph.onnx");
  ASSERT_EQ(model.graph.node.size(), 1u);
  const NodeProto& node = model.graph.node[0];
  EXPECT_EQ(node.op_type, "If");
  const AttributeProto* then_branch = find_attribute(node, "then_branch");
  ASSERT_NE(then_branch, nullptr);
  EXPECT_EQ(then_branch->type, AttributeType::kGraph);
  const GraphProto& then_graph = *then_branch->g;
  EXPECT_EQ(then_graph.name, "then_branch");
  ASSERT_EQ(then_graph.node.size(), 1u);
  EXPECT_EQ(then_graph.node[0].op_type, "Add");
  ASSERT_EQ(then_graph.initializer.size(), 1u);
  EXPECT_EQ(then_graph.initializer[0].float_data, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(then_graph.output[0].name, "then_out");
  const AttributeProto* else_branch = find_attribute(node, "else_branch");
  ASSERT_NE(else_branch, nullptr);
  EXPECT_EQ(else_branch->g->node.at(0).op_type, "Neg");
  EXPECT_EQ(model.graph.input[0].type.tensor_type.elem_type, DataType::kBool);
}

TEST(GoldenFiles, ExternalDataIsReferencedUntilLoaded) {
  const ModelProto model = parse_golden("external_data.onnx");
  const TensorProto* weight = find_initializer(model.graph, "fc.weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_TRUE(weight->is_external());
  EXPECT_TRUE(weight->raw_data.empty());
  ASSERT_FALSE(weight->external_data.empty());
  EXPECT_EQ(weight->external_data[0].key, "location");
  EXPECT_EQ(weight->external_data[0].value, "external_data.bin");
  auto bytes = tensor_bytes(*weight);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("'fc.weight'"), std::string::npos);
}

TEST(GoldenFiles, LoadModelFileReadsExternalData) {
  auto model = load_model_file(golden_path("external_data.onnx").string());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  const TensorProto* weight = find_initializer(model->graph, "fc.weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_FALSE(weight->is_external());
  EXPECT_TRUE(weight->external_data.empty());
  EXPECT_EQ(weight->dims, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(weight->raw_data, little_endian_floats(golden_weights(32)));
  const TensorProto* bias = find_initializer(model->graph, "fc.bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_EQ(bias->raw_data, little_endian_floats({0, 1, 2, 3, 4, 5, 6, 7}));
}

// ---------------------------------------------------------------------------------------------
// Round trips

const char* const kInlineGoldenFiles[] = {"conv_relu_raw.onnx", "conv_relu_float_data.onnx",
                                          "typed_fields.onnx", "attributes.onnx", "subgraph.onnx"};

TEST(RoundTrip, ProtobufWrittenFilesComeBackByteForByte) {
  for (const char* name : kInlineGoldenFiles) {
    const std::string original = read_file(golden_path(name));
    auto model = parse(original);
    ASSERT_TRUE(model.is_ok()) << name << ": " << model.status().to_string();
    EXPECT_EQ(serialize_model(model.value()), original) << name;
  }
}

TEST(RoundTrip, SerializeThenParseIsEqual) {
  std::vector<ModelProto> models;
  for (const char* name : kInlineGoldenFiles) models.push_back(parse_golden(name));
  auto loaded = load_model_file(golden_path("external_data.onnx").string());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  models.push_back(std::move(loaded).value());
  for (const ModelProto& model : models) {
    const std::string bytes = serialize_model(model);
    auto again = parse(bytes);
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    EXPECT_EQ(again.value(), model) << model.graph.name;
    EXPECT_EQ(serialize_model(again.value()), bytes) << model.graph.name;
  }
}

TEST(RoundTrip, MessagesBuiltInCodeSurviveIncludingUnsupportedTypes) {
  ModelProto model;
  model.ir_version = 9;
  model.model_version = -3;
  model.opset_import.push_back({"com.example", 2, {}});
  model.function_payloads.push_back(std::string("\x0a\x01\x66", 3));  // FunctionProto name "f"
  GraphProto& graph = model.graph;
  graph.name = "built";
  TensorProto& tensor = graph.initializer.emplace_back();
  tensor.name = "u4";
  tensor.data_type = DataType::kUint4;
  tensor.dims = {3};
  tensor.int32_data = {0x21, 0x03};  // elements 1, 2, 3 packed two per byte
  TensorProto& strings = graph.initializer.emplace_back();
  strings.name = "words";
  strings.data_type = DataType::kString;
  strings.dims = {2};
  strings.string_data = {"x", std::string("\0y", 2)};
  ValueInfoProto& seq = graph.input.emplace_back();
  seq.name = "seq";
  seq.type.kind = TypeProto::Kind::kSequence;
  seq.type.unsupported_payload = std::string("\x0a\x02\x0a\x00", 4);
  ValueInfoProto& dyn = graph.output.emplace_back();
  dyn.name = "dyn";
  dyn.type.kind = TypeProto::Kind::kTensor;
  dyn.type.tensor_type.elem_type = DataType::kInt8;
  dyn.type.tensor_type.has_shape = true;
  dyn.type.tensor_type.shape.resize(3);
  dyn.type.tensor_type.shape[0].kind = TensorShapeDimension::Kind::kValue;  // dim_value 0
  dyn.type.tensor_type.shape[1].kind = TensorShapeDimension::Kind::kParam;
  dyn.type.tensor_type.shape[1].param = "batch";
  dyn.type.tensor_type.shape[2].denotation = "DATA_CHANNEL";  // unknown extent
  NodeProto& node = graph.node.emplace_back();
  node.op_type = "Custom";
  node.domain = "com.example";
  node.input = {"seq", ""};
  AttributeProto& attribute = node.attribute.emplace_back();
  attribute.name = "nan";
  attribute.type = AttributeType::kFloats;
  attribute.floats = {-0.0f, 1e-30f};
  AttributeProto& nested = node.attribute.emplace_back();
  nested.name = "body";
  nested.type = AttributeType::kGraphs;
  nested.graphs.emplace_back().name = "inner";

  auto again = parse(serialize_model(model));
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(again.value(), model);
  const auto& out_dims = again->graph.output[0].type.tensor_type.shape;
  EXPECT_EQ(out_dims[0].kind, TensorShapeDimension::Kind::kValue);
  EXPECT_EQ(out_dims[2].kind, TensorShapeDimension::Kind::kUnknown);
  EXPECT_EQ(again->graph.input[0].type.kind, TypeProto::Kind::kSequence);
  EXPECT_EQ(bytes_of(again->graph.initializer[0]), std::string("\x21\x03", 2));
}

TEST(RoundTrip, PackedDimsAndUnpackedFloatDataAreAccepted) {
  // Protobuf writes dims unpacked and float_data packed; other writers may do the opposite.
  Writer tensor;
  tensor.write_packed_int64_field(1, std::vector<int64_t>{2, 2});
  tensor.write_int32_field(2, static_cast<int32_t>(DataType::kFloat));
  for (const float value : {1.0f, 2.0f, 3.0f, 4.0f}) tensor.write_float_field(4, value);
  tensor.write_bytes_field(8, "w");
  Writer attribute;
  attribute.write_bytes_field(1, "ints");
  attribute.write_packed_int64_field(8, std::vector<int64_t>{7, -7});
  attribute.write_packed_float_field(7, std::vector<float>{0.5f});
  attribute.write_int32_field(20, static_cast<int32_t>(AttributeType::kInts));
  Writer node;
  node.write_bytes_field(4, "Op");
  node.write_bytes_field(5, attribute.bytes());
  Writer graph;
  graph.write_bytes_field(1, node.bytes());
  graph.write_bytes_field(5, tensor.bytes());
  Writer model;
  model.write_bytes_field(7, graph.bytes());

  auto parsed = parse(model.bytes());
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  const TensorProto& w = parsed->graph.initializer.at(0);
  EXPECT_EQ(w.dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(w.float_data, (std::vector<float>{1, 2, 3, 4}));
  const AttributeProto& ints = parsed->graph.node.at(0).attribute.at(0);
  EXPECT_EQ(ints.ints, (std::vector<int64_t>{7, -7}));
  EXPECT_EQ(ints.floats, (std::vector<float>{0.5f}));
}

// ---------------------------------------------------------------------------------------------
// Validation and error messages

std::string model_with_initializer(const TensorProto& tensor) {
  ModelProto model;
  model.graph.initializer.push_back(tensor);
  return serialize_model(model);
}

TEST(Validation, RawDataSizeMismatchNamesTensorDimsAndSizes) {
  TensorProto tensor;
  tensor.name = "conv1.weight";
  tensor.data_type = DataType::kFloat;
  tensor.dims = {64, 3, 7, 7};
  tensor.raw_data = std::string(1000, '\0');
  auto parsed = parse(model_with_initializer(tensor));
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidModel);
  EXPECT_EQ(parsed.status().message(),
            "onnx: TensorProto 'conv1.weight' at graph.initializer[0]: raw_data has 1000 bytes, "
            "dims [64,3,7,7] of float need 37632");
}

TEST(Validation, NegativeDimsAreRejected) {
  TensorProto tensor;
  tensor.name = "bad";
  tensor.data_type = DataType::kFloat;
  tensor.dims = {2, -1};
  auto parsed = parse(model_with_initializer(tensor));
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("dims[1] is -1"), std::string::npos)
      << parsed.status().message();
}

TEST(Validation, OverflowingElementCountIsRejected) {
  TensorProto tensor;
  tensor.name = "huge";
  tensor.data_type = DataType::kFloat;
  tensor.dims = {int64_t{1} << 40, int64_t{1} << 40};
  auto parsed = parse(model_with_initializer(tensor));
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("overflow"), std::string::npos)
      << parsed.status().message();
  // Element count fits 64 bits, byte size does not.
  tensor.dims = {int64_t{1} << 62};
  parsed = parse(model_with_initializer(tensor));
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("overflows 64 bits"), std::string::npos)
      << parsed.status().message();
}

TEST(Validation, DataInTheWrongTypedFieldIsRejected) {
  TensorProto tensor;
  tensor.name = "mixed";
  tensor.data_type = DataType::kFloat;
  tensor.dims = {2};
  tensor.int64_data = {1, 2};
  auto parsed = parse(model_with_initializer(tensor));
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("int64_data holds 2 values but data_type float"),
            std::string::npos)
      << parsed.status().message();
}

TEST(Validation, SparseInitializersAndSegmentsAreUnsupported) {
  Writer graph;
  graph.write_bytes_field(15, "");
  Writer model;
  model.write_bytes_field(7, graph.bytes());
  auto parsed = parse(model.bytes());
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(parsed.status().message().find("sparse_initializer"), std::string::npos);

  Writer tensor;
  tensor.write_bytes_field(3, "");
  Writer graph2;
  graph2.write_bytes_field(5, tensor.bytes());
  Writer model2;
  model2.write_bytes_field(7, graph2.bytes());
  parsed = parse(model2.bytes());
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kUnsupported);
}

TEST(Validation, WrongWireTypeForKnownFieldNamesFieldAndOffset) {
  Writer attribute;
  attribute.write_bytes_field(1, "alpha");
  attribute.write_varint_field(2, 1);  // f must be fixed32
  Writer node;
  node.write_bytes_field(3, "leaky");
  node.write_bytes_field(5, attribute.bytes());
  Writer graph;
  graph.write_bytes_field(1, std::string());  // node[0], empty
  graph.write_bytes_field(1, node.bytes());   // node[1]
  Writer model;
  model.write_bytes_field(7, graph.bytes());
  auto parsed = parse(model.bytes());
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().message(),
            "onnx: AttributeProto 'alpha' at graph.node[1].attribute[0], field 2 'f' at byte 22: "
            "wire type is varint, expected fixed32");
}

TEST(Validation, UnknownFieldsOfEveryWireTypeAreSkippedAndCounted) {
  Writer node;
  node.write_bytes_field(4, "Relu");
  node.write_varint_field(100, 5);
  node.write_tag(101, WireType::kFixed64);
  node.write_fixed64(7);
  node.write_bytes_field(102, "skipped");
  node.write_tag(103, WireType::kFixed32);
  node.write_fixed32(9);
  Writer graph;
  graph.write_bytes_field(1, node.bytes());
  Writer model;
  model.write_bytes_field(7, graph.bytes());
  model.write_varint_field(99, 1);
  auto parsed = parse(model.bytes());
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->graph.node.at(0).op_type, "Relu");
  EXPECT_EQ(parsed->unknown_fields.count, 5u);
  EXPECT_NE(parsed->unknown_fields.first.find("NodeProto at graph.node[0], field 100"),
            std::string::npos)
      << parsed->unknown_fields.first;
}

TEST(Validation, ClosedEnumsRejectUnknownValues) {
  Writer attribute;
  attribute.write_int32_field(20, 99);
  Writer node;
  node.write_bytes_field(5, attribute.bytes());
  Writer graph;
  graph.write_bytes_field(1, node.bytes());
  Writer model;
  model.write_bytes_field(7, graph.bytes());
  auto parsed = parse(model.bytes());
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_NE(parsed.status().message().find("value 99 is not one of the enum's values"),
            std::string::npos);
}

// Nests `levels` If-style subgraphs: graph > node > attribute g > graph > ...
std::string nested_graphs(size_t levels) {
  std::string graph;  // innermost: an empty graph
  for (size_t i = 0; i < levels; ++i) {
    Writer attribute;
    attribute.write_bytes_field(6, graph);
    Writer node;
    node.write_bytes_field(5, attribute.bytes());
    Writer outer;
    outer.write_bytes_field(1, node.bytes());
    graph = outer.take();
  }
  Writer model;
  model.write_bytes_field(7, graph);
  return model.take();
}

TEST(Validation, NestingDepthIsLimited) {
  // Depth: model, graph, then three messages per level plus the innermost graph.
  EXPECT_TRUE(parse(nested_graphs(20)).is_ok());  // 2 + 3 * 20 = 62 messages
  auto too_deep = parse(nested_graphs(21));
  ASSERT_FALSE(too_deep.is_ok());
  EXPECT_NE(too_deep.status().message().find("nested deeper than 64"), std::string::npos)
      << too_deep.status().message();
  // Far deeper input must fail the same way, without exhausting the stack.
  EXPECT_FALSE(parse(nested_graphs(3000)).is_ok());
}

TEST(TensorBytes, ValidatesNarrowValuesAndCounts) {
  TensorProto tensor;
  tensor.name = "i8";
  tensor.data_type = DataType::kInt8;
  tensor.dims = {2};
  tensor.int32_data = {1, 200};
  auto bytes = tensor_bytes(tensor);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_NE(bytes.status().message().find("int32_data[1] is 200, out of range for int8"),
            std::string::npos)
      << bytes.status().message();

  tensor.int32_data = {1};
  bytes = tensor_bytes(tensor);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_NE(bytes.status().message().find("int32_data has 1 values, dims [2] of int8 need 2"),
            std::string::npos)
      << bytes.status().message();

  TensorProto complex;
  complex.data_type = DataType::kComplex64;
  complex.dims = {1};
  complex.float_data = {1.0f, -2.0f};
  EXPECT_EQ(bytes_of(complex), little_endian_floats({1.0f, -2.0f}));

  TensorProto big;
  big.data_type = DataType::kUint32;
  big.dims = {1};
  big.uint64_data = {uint64_t{1} << 32};
  EXPECT_FALSE(tensor_bytes(big).is_ok());

  EXPECT_EQ(element_size(DataType::kBfloat16), 2u);
  EXPECT_EQ(element_size(DataType::kComplex128), 16u);
  EXPECT_EQ(element_size(DataType::kInt4), 0u);
  EXPECT_EQ(element_bits(DataType::kInt4), 4u);
  EXPECT_EQ(element_size(DataType::kString), 0u);
}

TEST(TensorBytes, SetRawDataReplacesTypedFields) {
  TensorProto tensor;
  tensor.name = "w";
  tensor.data_type = DataType::kFloat;
  tensor.dims = {2};
  tensor.float_data = {1.0f, 2.0f};
  EXPECT_FALSE(set_tensor_raw_data(tensor, std::string(4, '\0')).is_ok());
  EXPECT_EQ(tensor.float_data.size(), 2u);  // unchanged on error
  const std::string raw = little_endian_floats({3.0f, 4.0f});
  ASSERT_TRUE(set_tensor_raw_data(tensor, raw).is_ok());
  EXPECT_TRUE(tensor.float_data.empty());
  EXPECT_EQ(bytes_of(tensor), raw);
}

// ---------------------------------------------------------------------------------------------
// External data

class ExternalDataTest : public ::testing::Test {
 protected:
  // Writes the golden external model into a scratch directory with the weight's location
  // replaced, plus the data file itself, and returns the model path.
  fs::path write_model(const std::string& location, const std::string& offset = "") {
    ModelProto model = parse_golden("external_data.onnx");
    for (auto& tensor : model.graph.initializer) {
      for (auto& entry : tensor.external_data) {
        if (entry.key == "location" && tensor.name == "fc.weight") entry.value = location;
        if (entry.key == "offset" && tensor.name == "fc.weight" && !offset.empty()) {
          entry.value = offset;
        }
      }
    }
    fs::copy_file(golden_path("external_data.bin"), scratch_.path() / "external_data.bin",
                  fs::copy_options::overwrite_existing);
    const fs::path path = scratch_.path() / "model.onnx";
    write_file(path, serialize_model(model));
    return path;
  }

  Status load_error(const fs::path& path) {
    auto model = load_model_file(path.string());
    EXPECT_FALSE(model.is_ok());
    return model.status();
  }

  ScratchDirectory scratch_;
};

TEST_F(ExternalDataTest, ParentDirectoryComponentsAreRefused) {
  write_file(scratch_.path().parent_path() / "convmend_secret.bin", std::string(128, 'x'));
  for (const char* location : {"../convmend_secret.bin", "sub/../../x.bin", "a\\..\\x.bin"}) {
    const Status status = load_error(write_model(location));
    EXPECT_EQ(status.code(), StatusCode::kInvalidModel) << location;
    EXPECT_NE(status.message().find("'..' component"), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("TensorProto 'fc.weight'"), std::string::npos);
  }
  fs::remove(scratch_.path().parent_path() / "convmend_secret.bin");
}

TEST_F(ExternalDataTest, AbsolutePathsAreRefused) {
  for (const char* location : {"/etc/passwd", "\\\\server\\share", "C:\\data.bin"}) {
    const Status status = load_error(write_model(location));
    EXPECT_NE(status.message().find("is absolute"), std::string::npos) << status.message();
  }
}

TEST_F(ExternalDataTest, SymbolicLinksAreRefused) {
  const fs::path outside = scratch_.path().parent_path() / "convmend_link_target.bin";
  write_file(outside, std::string(128, 'x'));
  const fs::path model = write_model("link.bin");
  fs::create_symlink(outside, scratch_.path() / "link.bin");
  const Status status = load_error(model);
  EXPECT_NE(status.message().find("symbolic link"), std::string::npos) << status.message();

  fs::create_directory_symlink(scratch_.path().parent_path(), scratch_.path() / "up");
  const Status via_directory = load_error(write_model("up/convmend_link_target.bin"));
  EXPECT_NE(via_directory.message().find("outside the model's directory"), std::string::npos)
      << via_directory.message();
  fs::remove(outside);
}

TEST_F(ExternalDataTest, RangesOutsideTheFileOrOfTheWrongSizeAreRefused) {
  EXPECT_NE(load_error(write_model("external_data.bin", "4096")).message().find("past the end"),
            std::string::npos);
  // 160-byte file: at offset 64 only 96 bytes remain, the weight needs 128.
  EXPECT_NE(load_error(write_model("external_data.bin", "64")).message().find("runs past the end"),
            std::string::npos);
  EXPECT_NE(load_error(write_model("external_data.bin", "-1")).message().find("not a decimal"),
            std::string::npos);
  const Status missing = load_error(write_model("missing.bin"));
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
}

TEST_F(ExternalDataTest, ValidLocationInTheScratchDirectoryLoads) {
  auto model = load_model_file(write_model("external_data.bin").string());
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  EXPECT_EQ(find_initializer(model->graph, "fc.weight")->raw_data,
            little_endian_floats(golden_weights(32)));
}

// ---------------------------------------------------------------------------------------------
// Robustness: run these under -fsanitize=address,undefined

std::vector<std::string> all_golden_bytes() {
  std::vector<std::string> files;
  for (const char* name : kInlineGoldenFiles) files.push_back(read_file(golden_path(name)));
  files.push_back(read_file(golden_path("external_data.onnx")));
  return files;
}

// Whatever the parser accepts must serialize to bytes it accepts again, unchanged.
void expect_stable_if_accepted(const std::string& bytes) {
  auto model = parse(bytes);
  if (!model.is_ok()) {
    EXPECT_FALSE(model.status().message().empty());
    return;
  }
  for (const auto& tensor : model->graph.initializer) (void)tensor_bytes(tensor);
  const std::string written = serialize_model(model.value());
  auto again = parse(written);
  ASSERT_TRUE(again.is_ok()) << again.status().to_string();
  EXPECT_EQ(serialize_model(again.value()), written);
}

TEST(Robustness, EveryPrefixOfEveryGoldenFile) {
  for (const std::string& file : all_golden_bytes()) {
    size_t failures = 0;
    for (size_t length = 0; length < file.size(); ++length) {
      const std::string prefix = file.substr(0, length);
      failures += parse(prefix).is_ok() ? 0 : 1;
      expect_stable_if_accepted(prefix);
    }
    // Only cuts at the boundaries of ModelProto's own fields (a dozen at most) parse.
    EXPECT_GE(failures + 12, file.size());
  }
}

TEST(Robustness, RandomBitFlips) {
  const std::vector<std::string> files = all_golden_bytes();
  std::mt19937 random(20240611);
  size_t accepted = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string bytes = files[random() % files.size()];
    const size_t flips = 1 + random() % 3;
    for (size_t i = 0; i < flips; ++i) {
      const size_t bit = random() % (bytes.size() * 8);
      bytes[bit / 8] = static_cast<char>(bytes[bit / 8] ^ (1 << (bit % 8)));
    }
    accepted += parse(bytes).is_ok() ? 1 : 0;
    expect_stable_if_accepted(bytes);
  }
  // Flips inside names and float payloads keep the file valid: both outcomes must occur.
  EXPECT_GT(accepted, 0u);
  EXPECT_LT(accepted, 2000u);
}

}  // namespace
}  // namespace convmend::onnx
