// ONNX <-> IR on the small committed models: what the reader builds, write -> read equality,
// external data, the list of unsupported ops, and an IR edit written back.
#include <gtest/gtest.h>

#include <fstream>

#include "formats/onnx/onnx_io.h"
#include "formats/onnx/onnx_proto.h"
#include "runtime/interpreter.h"
#include "support/test_support.h"

namespace convmend {
namespace {

std::string data(const std::string& name) {
  return std::string(CONVMEND_TEST_DATA_DIR) + "/onnx/" + name + ".onnx";
}

std::vector<Tensor> run(const Graph& g, const Tensor& x) {
  auto interp = Interpreter::create(g);
  EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
  std::vector<Tensor> out;
  if (interp.is_ok()) EXPECT_TRUE(interp.value()->run({x}, &out).is_ok());
  return out;
}

TEST(OnnxIo, ReadsConvRelu) {
  auto g = onnx::read_onnx_file(data("conv_relu_raw"));
  ASSERT_TRUE(g.is_ok()) << g.status().to_string();
  const auto nodes = g.value()->topological_order().value();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0]->op(), OpKind::kConv);
  EXPECT_EQ(nodes[1]->op(), OpKind::kRelu);
  EXPECT_EQ(nodes[0]->provenance().format, "onnx");
  EXPECT_EQ(nodes[0]->provenance().op_type, "Conv");
  EXPECT_EQ(g.value()->metadata().at("onnx.opset"), "17");
  EXPECT_EQ(nodes[0]->input(1)->layout(), Layout::kOIHW);
  // Raw-data and float_data initializers give the same model.
  auto h = onnx::read_onnx_file(data("conv_relu_float_data"));
  ASSERT_TRUE(h.is_ok()) << h.status().to_string();
  std::string diff;
  EXPECT_TRUE(structurally_equal(*g.value(), *h.value(), &diff)) << diff;
}

TEST(OnnxIo, WriteThenReadIsEqualAndRunsTheSame) {
  for (const char* name : {"conv_relu_raw", "typed_fields", "external_data"}) {
    SCOPED_TRACE(name);
    auto g = onnx::read_onnx_file(data(name));
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    auto bytes = onnx::write_onnx_bytes(*g.value());
    ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.value().data()),
                                  bytes.value().size());
    auto again = onnx::read_onnx_bytes(span, ".");
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    std::string diff;
    EXPECT_TRUE(structurally_equal(*g.value(), *again.value(), &diff)) << diff;
    const Value* in = g.value()->inputs()[0];
    Shape shape = in->shape();
    for (int64_t& d : shape) d = d < 0 ? 1 : d;
    Tensor x = testing::Random(shape, 7);
    auto a = run(*g.value(), x);
    auto b = run(*again.value(), x);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i].same_data(b[i]));
  }
}

TEST(OnnxIo, ListsEveryUnsupportedOp) {
  // attributes.onnx uses ArgMax; subgraph.onnx uses If: both outside the IR today.
  auto g = onnx::read_onnx_file(data("attributes"));
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(g.status().message().find("ArgMax x1"), std::string::npos) << g.status().message();
  auto h = onnx::read_onnx_file(data("subgraph"));
  ASSERT_FALSE(h.is_ok());
  EXPECT_NE(h.status().message().find("If x1"), std::string::npos) << h.status().message();
}

TEST(OnnxIo, EditedConstantIsWrittenAndRead) {
  auto g = onnx::read_onnx_file(data("conv_relu_raw"));
  ASSERT_TRUE(g.is_ok());
  Value* w = g.value()->topological_order().value()[0]->input(1);
  Tensor zeros = Tensor::create(w->dtype(), w->shape()).value();
  w->set_constant(zeros);
  auto bytes = onnx::write_onnx_bytes(*g.value());
  ASSERT_TRUE(bytes.is_ok());
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.value().data()),
                                bytes.value().size());
  auto again = onnx::read_onnx_bytes(span, ".");
  ASSERT_TRUE(again.is_ok());
  const Value* w2 = again.value()->topological_order().value()[0]->input(1);
  EXPECT_TRUE(w2->constant().same_data(zeros));
}

// Dropout(x, ratio, training_mode) with ratio and training_mode as graph inputs, or as
// constants. It was read as Identity whatever training_mode was, so ONNX test_training_dropout
// gave x instead of a masked and scaled x.
void add_tensor_input(onnx::GraphProto& graph, const std::string& name, onnx::DataType type,
                      const std::vector<int64_t>& dims) {
  onnx::ValueInfoProto& v = graph.input.emplace_back();
  v.name = name;
  v.type.kind = onnx::TypeProto::Kind::kTensor;
  v.type.tensor_type.elem_type = type;
  v.type.tensor_type.has_shape = true;
  for (int64_t d : dims) {
    auto& dim = v.type.tensor_type.shape.emplace_back();
    dim.kind = onnx::TensorShapeDimension::Kind::kValue;
    dim.value = d;
  }
}

Result<std::unique_ptr<Graph>> read_model(const onnx::ModelProto& model) {
  const std::string bytes = onnx::serialize_model(model);
  return onnx::read_onnx_bytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      ".");
}

// Resize (opset 19) with axes [3, 2]: the scales cover W then H. `axes` was refused, failing
// ONNX test_resize_upsample_scales_nearest_axes_3_2 and friends.
TEST(OnnxIo, ResizeAxesCompleteScalesAndSizes) {
  for (bool use_sizes : {false, true}) {
    SCOPED_TRACE(use_sizes ? "sizes" : "scales");
    onnx::ModelProto model;
    model.ir_version = 9;
    model.opset_import.push_back({"", 19, {}});
    onnx::GraphProto& graph = model.graph;
    add_tensor_input(graph, "x", onnx::DataType::kFloat, {1, 1, 2, 2});
    onnx::TensorProto& t = graph.initializer.emplace_back();
    t.name = "t";
    t.dims = {2};
    if (use_sizes) {
      t.data_type = onnx::DataType::kInt64;
      t.int64_data = {6, 4};  // W, H
    } else {
      t.data_type = onnx::DataType::kFloat;
      t.float_data = {3.0f, 2.0f};
    }
    onnx::NodeProto& node = graph.node.emplace_back();
    node.op_type = "Resize";
    node.input = use_sizes ? std::vector<std::string>{"x", "", "", "t"}
                           : std::vector<std::string>{"x", "", "t"};
    node.output = {"y"};
    onnx::AttributeProto& axes = node.attribute.emplace_back();
    axes.name = "axes";
    axes.type = onnx::AttributeType::kInts;
    axes.ints = {3, 2};
    onnx::AttributeProto& mode = node.attribute.emplace_back();
    mode.name = "mode";
    mode.type = onnx::AttributeType::kString;
    mode.s = "nearest";
    graph.output.emplace_back().name = "y";
    graph.output.back().type.kind = onnx::TypeProto::Kind::kTensor;
    graph.output.back().type.tensor_type.elem_type = onnx::DataType::kFloat;
    auto g = read_model(model);
    ASSERT_TRUE(g.is_ok()) << g.status().to_string();
    auto out = run(*g.value(), testing::F32({1, 1, 2, 2}, {1, 2, 3, 4}));
    ASSERT_EQ(out.size(), 1u);
    // Nearest, half_pixel, round_prefer_floor: rows 0,0,1,1; columns 0,0,0,1,1,1.
    EXPECT_TRUE(testing::TensorsClose(
        out[0], testing::F32({1, 1, 4, 6}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                            3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4})));
  }
}

Result<std::unique_ptr<Graph>> read_dropout(bool training_is_input, bool training,
                                            float ratio) {
  onnx::ModelProto model;
  model.ir_version = 8;
  model.opset_import.push_back({"", 13, {}});
  onnx::GraphProto& graph = model.graph;
  add_tensor_input(graph, "x", onnx::DataType::kFloat, {2});
  onnx::TensorProto& r = graph.initializer.emplace_back();
  r.name = "r";
  r.data_type = onnx::DataType::kFloat;
  r.float_data = {ratio};
  if (training_is_input) {
    add_tensor_input(graph, "t", onnx::DataType::kBool, {});
  } else {
    onnx::TensorProto& t = graph.initializer.emplace_back();
    t.name = "t";
    t.data_type = onnx::DataType::kBool;
    t.int32_data = {training ? 1 : 0};
  }
  onnx::NodeProto& node = graph.node.emplace_back();
  node.op_type = "Dropout";
  node.input = {"x", "r", "t"};
  node.output = {"y"};
  onnx::ValueInfoProto& y = graph.output.emplace_back();
  y.name = "y";
  y.type.kind = onnx::TypeProto::Kind::kTensor;
  y.type.tensor_type.elem_type = onnx::DataType::kFloat;
  return read_model(model);
}

TEST(OnnxIo, DropoutIsIdentityOnlyOutsideTrainingMode) {
  auto inference = read_dropout(false, false, 0.5f);
  ASSERT_TRUE(inference.is_ok()) << inference.status().to_string();
  auto no_drop = read_dropout(false, true, 0.0f);
  ASSERT_TRUE(no_drop.is_ok()) << no_drop.status().to_string();
  const Tensor x = testing::F32({2}, {1.5f, -2.0f});
  EXPECT_TRUE(run(*no_drop.value(), x)[0].same_data(x));

  for (bool training_is_input : {false, true}) {
    auto g = read_dropout(training_is_input, true, 0.5f);
    ASSERT_FALSE(g.is_ok());
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(g.status().message().find("training-mode Dropout"), std::string::npos)
        << g.status().message();
  }
}

TEST(OnnxIo, RefusesTruncatedFile) {
  std::ifstream in(data("conv_relu_raw"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 20u);
  std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size() / 2);
  auto g = onnx::read_onnx_bytes(span, ".");
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidModel);
}

}  // namespace
}  // namespace convmend
