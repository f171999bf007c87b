// TFLite <-> IR: reading the golden files of tests/cpp/data/tflite, running them in the IR
// interpreter against LiteRT's outputs (tests/cpp/tflite/gen/make_expected.py), writing them
// back, and editing the IR before writing.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "formats/tflite/tflite_io.h"
#include "formats/tflite/tflite_model.h"
#include "runtime/interpreter.h"
#include "support/test_support.h"

namespace convmend::tflite {
namespace {

#include "tflite/expected_small_cnn.inc"
#include "tflite/ops_model.inc"
#include "tflite/unsupported_ops.inc"

using convmend::testing::relative_error;
using IrTensor = convmend::Tensor;  // tflite::Tensor is the codec's struct

std::string data_path(const std::string& name) {
  return std::string(CONVMEND_TEST_DATA_DIR) + "/tflite/" + name + ".tflite";
}

std::unique_ptr<Graph> read_or_die(const std::string& name) {
  auto g = read_tflite_file(data_path(name));
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return g.is_ok() ? std::move(g).value() : nullptr;
}

std::unique_ptr<Graph> read_bytes_or_die(const std::string& bytes) {
  auto g = read_tflite_bytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(g.is_ok()) << g.status().to_string();
  return g.is_ok() ? std::move(g).value() : nullptr;
}

std::string write_or_die(const Graph& graph) {
  auto bytes = write_tflite_bytes(graph);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  return bytes.is_ok() ? bytes.value() : std::string();
}

Model parse_or_die(const std::string& bytes) {
  auto m = parse_model(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return m.is_ok() ? std::move(m).value() : Model{};
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

IrTensor run_graph(const Graph& graph, const IrTensor& input) {
  auto interp = Interpreter::create(graph);
  EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
  if (!interp.is_ok()) return IrTensor{};
  std::vector<IrTensor> outputs;
  Status s = interp.value()->run({input}, &outputs);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return s.is_ok() ? outputs.at(0) : IrTensor{};
}

template <size_t N>
IrTensor f32(const Shape& shape, const float (&values)[N]) {
  return IrTensor::from_vector<float>(DType::kFloat32, shape, std::vector<float>(values, values + N));
}

std::vector<std::string> op_sequence(const Graph& g) {
  std::vector<std::string> ops;
  const std::vector<Node*> order = g.topological_order().value();
  for (const Node* n : order) ops.emplace_back(n->op_name());
  return ops;
}

const Node* node_of(const Graph& g, OpKind op, int occurrence = 0) {
  const std::vector<Node*> order = g.topological_order().value();
  for (const Node* n : order) {
    if (n->op() == op && occurrence-- == 0) return n;
  }
  return nullptr;
}

// ---- reading ----

TEST(TfliteReader, SmallCnnFloat32OpsAttributesAndConstants) {
  auto g = read_or_die("small_cnn_float32");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(op_sequence(*g),
            (std::vector<std::string>{"Conv", "Conv", "Concat", "Conv", "AveragePool", "Reshape",
                                      "FullyConnected", "FullyConnected", "Softmax"}));
  const Node* conv_a = node_of(*g, OpKind::kConv, 0);
  EXPECT_EQ(conv_a->name(), "functional_1/conv_a_1/Relu6;functional_1/conv_a_1/convolution");
  EXPECT_EQ(conv_a->provenance().format, "tflite");
  EXPECT_EQ(conv_a->provenance().op_type, "CONV_2D");
  EXPECT_EQ(conv_a->provenance().index, 0);
  EXPECT_EQ(conv_a->attrs().get_ints("strides", {}).value(), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(conv_a->attrs().get_auto_pad().value(), AutoPad::kSameUpper);
  EXPECT_EQ(conv_a->attrs().get_activation().value(), Activation::kRelu6);
  EXPECT_EQ(conv_a->attrs().get_data_layout().value(), DataLayout::kNHWC);
  EXPECT_EQ(conv_a->attrs().get_weight_layout().value(), WeightLayout::kOHWI);
  EXPECT_EQ(conv_a->input(1)->shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(conv_a->input(1)->layout(), Layout::kOHWI);
  EXPECT_EQ(conv_a->input(0)->layout(), Layout::kNHWC);

  const Node* dw = node_of(*g, OpKind::kConv, 1);
  EXPECT_EQ(dw->provenance().op_type, "DEPTHWISE_CONV_2D");
  EXPECT_EQ(dw->attrs().get_weight_layout().value(), WeightLayout::k1HWO);
  EXPECT_EQ(dw->attrs().get_int("group", 1).value(), 8);
  EXPECT_EQ(dw->attrs().get_activation().value(), Activation::kNone);
  EXPECT_EQ(dw->input(1)->shape(), (Shape{1, 3, 3, 8}));

  const Node* pool = node_of(*g, OpKind::kAveragePool);
  EXPECT_EQ(pool->attrs().get_ints("kernel_shape", {}).value(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(pool->attrs().get_ints("strides", {}).value(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(pool->attrs().get_auto_pad().value(), AutoPad::kValid);
  EXPECT_EQ(pool->attrs().get_int("count_include_pad", 1).value(), 0);
  EXPECT_EQ(pool->output(0)->shape(), (Shape{1, 4, 4, 8}));

  const Node* reshape = node_of(*g, OpKind::kReshape);
  EXPECT_EQ(reshape->input(1)->dtype(), DType::kInt64);  // int32 in the file
  EXPECT_EQ(reshape->input(1)->constant().to_int64s(), (std::vector<int64_t>{1, 128}));

  const Node* fc = node_of(*g, OpKind::kFullyConnected, 0);
  EXPECT_EQ(fc->attrs().get_activation().value(), Activation::kRelu);
  EXPECT_EQ(fc->input(1)->shape(), (Shape{16, 128}));
  EXPECT_EQ(fc->input(2), nullptr);  // the file omits the bias (-1)
  EXPECT_EQ(node_of(*g, OpKind::kSoftmax)->attrs().get_float("beta", 0).value(), 1.0);

  ASSERT_EQ(g->inputs().size(), 1u);
  EXPECT_EQ(g->inputs()[0]->name(), "serving_default_image:0");
  EXPECT_EQ(g->outputs()[0]->shape(), (Shape{1, 5}));
  EXPECT_EQ(g->metadata().at("format"), "tflite");
  EXPECT_EQ(g->metadata().at("tflite.signature_key"), "serving_default");
  EXPECT_EQ(g->metadata().at("tflite.signature.input:image"), "serving_default_image:0");
}

TEST(TfliteReader, DynamicRangeWeightsGetDequantizeNodes) {
  auto g = read_or_die("small_cnn_dynamic_int8");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(op_sequence(*g),
            (std::vector<std::string>{"Conv", "Conv", "Concat", "DequantizeLinear", "Conv",
                                      "AveragePool", "Reshape", "DequantizeLinear",
                                      "FullyConnected", "FullyConnected", "Softmax"}));
  const Node* dq = node_of(*g, OpKind::kDequantizeLinear, 0);
  const Value* w = dq->input(0);
  EXPECT_EQ(w->dtype(), DType::kInt8);
  EXPECT_EQ(w->shape(), (Shape{8, 3, 3, 16}));
  ASSERT_EQ(w->quant().scale.size(), 8u);
  EXPECT_FLOAT_EQ(w->quant().scale[0], 0.001304241013713181f);
  EXPECT_EQ(w->quant().zero_point, std::vector<int64_t>(8, 0));
  EXPECT_EQ(w->quant().axis, 0);
  EXPECT_EQ(w->constant().quant(), w->quant());
  EXPECT_EQ(dq->output(0)->dtype(), DType::kFloat32);
  EXPECT_EQ(dq->output(0)->consumers().at(0).first->op(), OpKind::kConv);
  EXPECT_EQ(dq->provenance().op_type, "CONV_2D");
  const Node* fc_dq = node_of(*g, OpKind::kDequantizeLinear, 1);
  EXPECT_EQ(fc_dq->input(0)->quant().scale.size(), 16u);
  // Per-channel CONV_2D and FULLY_CONNECTED with asymmetric_quantize_inputs: both quantize
  // their input asymmetrically; the float ops carry no hybrid_input.
  const Node* conv = dq->output(0)->consumers().at(0).first;
  EXPECT_EQ(conv->attrs().get_string("hybrid_input", "").value(), "asymmetric");
  const Node* fc = fc_dq->output(0)->consumers().at(0).first;
  EXPECT_EQ(fc->attrs().get_string("hybrid_input", "").value(), "asymmetric");
  EXPECT_FALSE(node_of(*g, OpKind::kConv, 0)->attrs().has("hybrid_input"));
}

TEST(TfliteReader, Float16WeightsAreDequantizedByTheirOwnOps) {
  auto g = read_or_die("small_cnn_float16");
  ASSERT_NE(g, nullptr);
  int dequantize = 0;
  for (const Node* n : g->nodes()) {
    if (n->op() != OpKind::kDequantizeLinear) continue;
    ++dequantize;
    EXPECT_EQ(n->input(0)->dtype(), DType::kFloat16);
    EXPECT_EQ(n->provenance().op_type, "DEQUANTIZE");
  }
  EXPECT_EQ(dequantize, 6);
}

// ---- running: the IR interpreter against LiteRT ----

struct RunCase {
  const char* name;
  const float* expected;
  double tolerance;
};

TEST(TfliteReader, InterpreterMatchesLiteRT) {
  // Dynamic-range: LiteRT's hybrid kernels quantize activations on the fly and so does the IR
  // (runtime/kernels/hybrid.h); computing in float with dequantized weights alone was 1e-3 off.
  const RunCase cases[] = {{"small_cnn_float32", kExpected_small_cnn_float32, 1e-5},
                           {"small_cnn_float16", kExpected_small_cnn_float16, 1e-5},
                           {"small_cnn_dynamic_int8", kExpected_small_cnn_dynamic_int8, 1e-5}};
  const IrTensor input = f32({1, 8, 8, 3}, kSmallCnnInput);
  for (const RunCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto g = read_or_die(c.name);
    ASSERT_NE(g, nullptr);
    IrTensor out = run_graph(*g, input);
    IrTensor expected = IrTensor::from_vector<float>(DType::kFloat32, {1, 5},
                                                 std::vector<float>(c.expected, c.expected + 5));
    const double err = relative_error(out, expected);
    EXPECT_LE(err, c.tolerance);
    RecordProperty(std::string(c.name) + "_relative_error", std::to_string(err));
  }
}

TEST(TfliteReader, ManyOpsModelMatchesLiteRT) {
  auto g = read_bytes_or_die(std::string(std::begin(kOpsModelTflite), std::end(kOpsModelTflite)));
  ASSERT_NE(g, nullptr);
  std::set<std::string> ops;
  for (const Node* n : g->nodes()) ops.insert(n->provenance().op_type);
  for (const char* op : {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "STRIDED_SLICE", "PACK",
                         "SPLIT", "RSQRT", "SQUARED_DIFFERENCE", "GATHER", "SLICE", "GELU",
                         "HARD_SWISH", "LEAKY_RELU", "PAD", "MEAN", "REDUCE_MAX", "SUM",
                         "TRANSPOSE", "EXP", "NEG", "ELU"}) {
    EXPECT_TRUE(ops.count(op)) << op;
  }
  IrTensor out = run_graph(*g, f32({1, 6, 6, 4}, kOpsModelInput));
  EXPECT_LE(relative_error(out, f32({1, 5}, kOpsModelExpected)), 1e-5);
}

TEST(TfliteReader, ListsEveryUnsupportedOpAtOnce) {
  auto g = read_tflite_bytes(std::span<const uint8_t>(kUnsupportedOpsTflite));
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(g.status().message(), "unsupported TFLite ops: CUSTOM(FlexMatrixInverse) x1, SIN x2");
}

TEST(TfliteReader, RefusesFullIntegerModels) {
  Model model = parse_or_die(file_bytes(data_path("small_cnn_float32")));
  SubGraph& sg = model.subgraphs[0];
  Tensor& input = sg.tensors[static_cast<size_t>(sg.inputs[0])];
  input.type = TensorType::kInt8;
  input.quantization = QuantizationParameters{{}, {}, {0.5f}, {3}, 0};
  auto bytes = serialize_model(model);
  ASSERT_TRUE(bytes.is_ok()) << bytes.status().to_string();
  auto g = read_tflite_bytes(bytes.value());
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(g.status().message().find("full-integer quantized models are not supported yet"),
            std::string::npos)
      << g.status().message();
}

TEST(TfliteReader, RefusesShuffledFullyConnectedWeights) {
  Model model = parse_or_die(file_bytes(data_path("small_cnn_float32")));
  for (Operator& op : model.subgraphs[0].operators) {
    if (model.operator_codes[op.opcode_index].effective_code() == BuiltinOperator::kFullyConnected) {
      ASSERT_TRUE(op.builtin_options.set_int("weights_format", 1).is_ok());
    }
  }
  auto bytes = serialize_model(model);
  ASSERT_TRUE(bytes.is_ok());
  auto g = read_tflite_bytes(bytes.value());
  ASSERT_FALSE(g.is_ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(g.status().message().find("weights_format 1"), std::string::npos);
}

// ---- writing ----

TEST(TfliteWriter, RoundTripIsStructurallyEqualAndStable) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* name : {"small_cnn_float32", "small_cnn_float16", "small_cnn_dynamic_int8"}) {
    files.emplace_back(name, file_bytes(data_path(name)));
  }
  files.emplace_back("ops_model", std::string(std::begin(kOpsModelTflite), std::end(kOpsModelTflite)));
  for (const auto& [name, bytes] : files) {
    SCOPED_TRACE(name);
    auto g = read_bytes_or_die(bytes);
    ASSERT_NE(g, nullptr);
    const std::string written = write_or_die(*g);
    auto again = read_bytes_or_die(written);
    ASSERT_NE(again, nullptr);
    std::string diff;
    EXPECT_TRUE(structurally_equal(*g, *again, &diff)) << diff;
    EXPECT_EQ(g->structural_hash(), again->structural_hash());
    EXPECT_EQ(write_or_die(*again), written);  // writing is deterministic
    const Model out = parse_or_die(written);
    EXPECT_TRUE(out.buffers.at(0).data.empty());
    // PACK and SQUARED_DIFFERENCE of the ops model are written as the ops they read as.
    if (name == "ops_model") continue;
    // Operator codes and versions mirror the source file.
    std::set<std::pair<int32_t, int32_t>> source_codes, written_codes;
    for (const OperatorCode& c : parse_or_die(bytes).operator_codes) {
      source_codes.emplace(static_cast<int32_t>(c.effective_code()), c.version);
    }
    for (const OperatorCode& c : out.operator_codes) {
      written_codes.emplace(static_cast<int32_t>(c.effective_code()), c.version);
    }
    EXPECT_EQ(written_codes, source_codes);
  }
}

TEST(TfliteWriter, KeepsSignatureQuantizationAndHybridWeights) {
  auto g = read_or_die("small_cnn_dynamic_int8");
  ASSERT_NE(g, nullptr);
  const Model source = parse_or_die(file_bytes(data_path("small_cnn_dynamic_int8")));
  const Model out = parse_or_die(write_or_die(*g));
  ASSERT_EQ(out.signature_defs.size(), 1u);
  EXPECT_EQ(out.signature_defs[0].signature_key, "serving_default");
  EXPECT_EQ(out.signature_defs[0].inputs.at(0).name, "image");
  EXPECT_EQ(out.signature_defs[0].outputs.at(0).name, "output_0");
  // Same operators, in the same order: the DequantizeLinear helpers folded back into the
  // hybrid CONV_2D / FULLY_CONNECTED, whose weights stay int8 with their scales.
  ASSERT_EQ(out.subgraphs[0].operators.size(), source.subgraphs[0].operators.size());
  for (size_t i = 0; i < out.subgraphs[0].operators.size(); ++i) {
    const Operator& a = out.subgraphs[0].operators[i];
    const Operator& b = source.subgraphs[0].operators[i];
    EXPECT_EQ(out.operator_codes[a.opcode_index], source.operator_codes[b.opcode_index]) << i;
    EXPECT_EQ(a.builtin_options, b.builtin_options) << i;
    for (size_t k = 0; k < a.inputs.size(); ++k) {
      if (a.inputs[k] < 0) continue;
      const Tensor& ta = out.subgraphs[0].tensors[static_cast<size_t>(a.inputs[k])];
      const Tensor& tb = source.subgraphs[0].tensors[static_cast<size_t>(b.inputs[k])];
      EXPECT_EQ(ta.type, tb.type) << i << "/" << k;
      EXPECT_EQ(ta.shape, tb.shape) << i << "/" << k;
      EXPECT_EQ(ta.quantization.value_or(QuantizationParameters{}).scale,
                tb.quantization.value_or(QuantizationParameters{}).scale);
      EXPECT_EQ(out.buffers[ta.buffer].data, source.buffers[tb.buffer].data) << i << "/" << k;
    }
  }
}

TEST(TfliteWriter, RefusesNchwGraphs) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {1, 3, 4, 4});
  Value* w = g.add_constant("w", convmend::testing::Random({2, 3, 1, 1}, 1));
  Node* conv = g.add_node(OpKind::kConv, "conv", {x, w}, {"y"});
  g.add_output(conv->output(0));
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
  auto bytes = write_tflite_bytes(g);
  ASSERT_FALSE(bytes.is_ok());
  EXPECT_EQ(bytes.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(bytes.status().message().find("NCHW"), std::string::npos) << bytes.status().message();
}

// ---- edits on the IR write valid files ----

class TfliteEdit : public ::testing::Test {
 protected:
  void SetUp() override {
    graph_ = read_or_die("small_cnn_float32");
    ASSERT_NE(graph_, nullptr);
    input_ = f32({1, 8, 8, 3}, kSmallCnnInput);
  }
  // Writes, reads back and checks the file computes what the edited graph computes.
  std::unique_ptr<Graph> write_read_and_compare() {
    EXPECT_TRUE(graph_->verify().is_ok());
    auto again = read_bytes_or_die(write_or_die(*graph_));
    if (again == nullptr) return nullptr;
    EXPECT_LE(relative_error(run_graph(*again, input_), run_graph(*graph_, input_)), 1e-6);
    return again;
  }
  std::unique_ptr<Graph> graph_;
  IrTensor input_;
};

TEST_F(TfliteEdit, ReplaceConstant) {
  Value* w = graph_->find_value("functional_1/conv_a_1/convolution");
  ASSERT_NE(w, nullptr);
  w->set_constant(convmend::testing::Random(w->shape(), 42));
  auto again = write_read_and_compare();
  ASSERT_NE(again, nullptr);
  EXPECT_TRUE(again->find_value("functional_1/conv_a_1/convolution")->constant().same_data(
      w->constant()));
}

TEST_F(TfliteEdit, ChangeAttribute) {
  Node* conv = graph_->find_node("functional_1/conv_a_1/Relu6;functional_1/conv_a_1/convolution");
  ASSERT_NE(conv, nullptr);
  conv->attrs().set_activation(Activation::kNone);
  auto again = write_read_and_compare();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(node_of(*again, OpKind::kConv)->attrs().get_activation().value(), Activation::kNone);
}

TEST_F(TfliteEdit, InsertRemoveAndRewireNodes) {
  // Insert Clip(-0.1, 0.1) after the first FullyConnected; drop the Softmax.
  Node* fc = const_cast<Node*>(node_of(*graph_, OpKind::kFullyConnected, 0));
  Value* lo = graph_->add_constant("lo", IrTensor::scalar_f32(-0.1f));
  Value* hi = graph_->add_constant("hi", IrTensor::scalar_f32(0.1f));
  Node* clip = graph_->add_node(OpKind::kClip, "clip", {fc->output(0), lo, hi}, {"clipped"});
  Node* fc2 = const_cast<Node*>(node_of(*graph_, OpKind::kFullyConnected, 1));
  graph_->set_input(fc2, 0, clip->output(0));
  Node* softmax = const_cast<Node*>(node_of(*graph_, OpKind::kSoftmax));
  graph_->set_outputs({softmax->input(0)});
  ASSERT_TRUE(graph_->remove_node(softmax).is_ok());
  ASSERT_TRUE(infer_graph_shapes(*graph_).is_ok());
  auto again = write_read_and_compare();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(op_sequence(*again),
            (std::vector<std::string>{"Conv", "Conv", "Concat", "Conv", "AveragePool", "Reshape",
                                      "FullyConnected", "Max", "Min", "FullyConnected"}));
  // The signature still names the old output, so it is left out rather than made wrong.
  EXPECT_TRUE(parse_or_die(write_or_die(*graph_)).signature_defs.empty());
}

}  // namespace
}  // namespace convmend::tflite
