// LiteRT's hybrid (dynamic-range) input quantization: the row rule on values LiteRT itself was
// seen to round (ties and near-ties of ReLU6 outputs), and the FullyConnected kernel applying
// it only while its weight is dequantized from an int8 constant.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "ir/graph.h"
#include "runtime/interpreter.h"
#include "runtime/kernels/hybrid.h"
#include "support/test_support.h"

namespace convmend {
namespace {

using testing::F32;

TEST(HybridInput, AsymmetricRowRoundsLikeLiteRT) {
  // A ReLU6 row: range [0, 6], so scale 6/255 and zero point -128. 0.317647159 is 13.500004
  // steps (14) and 0.5764706 is 24.500002 (25). Both values were read off LiteRT running
  // MobileNetV2's dynamic-range model.
  const std::vector<float> x = {0.0f, 6.0f, 0.317647159f, 0.5764706f, 3.0f, -0.0f};
  std::vector<float> out(x.size());
  fake_quantize_rows(x.data(), 1, static_cast<int64_t>(x.size()), HybridInput::kAsymmetric,
                     out.data());
  const float scale = 6.0f / 255.0f;
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[1], 255 * scale);
  EXPECT_EQ(out[2], 14 * scale);
  EXPECT_EQ(out[3], 25 * scale);
  EXPECT_EQ(out[4], std::round(3.0f * (1.0f / scale)) * scale);
  EXPECT_EQ(out[5], 0.0f);
}

TEST(HybridInput, ScaleIsComputedInFloat) {
  // A row of a residual sum, [-5.0172315, 5.3334494]: zero point -4.395 nudged to -4.
  // -0.3044318 is -7.5000002 steps in exact arithmetic but -7.4999995 with LiteRT's float
  // scale, and LiteRT made it -7 (read off nobuco's MobileNetV2).
  const std::vector<float> x = {-5.017231464385986f, 5.333449363708496f, -0.3044318f};
  std::vector<float> out(x.size());
  fake_quantize_rows(x.data(), 1, 3, HybridInput::kAsymmetric, out.data());
  const float scale = (x[1] - x[0]) / 255.0f;
  EXPECT_EQ(out[2], -7 * scale);
}

TEST(HybridInput, AsymmetricZeroPointComesFromTheEndThatLosesLess) {
  // Range [-1, 3]: 4/255 per step; the zero point -128 + 63.75 nudged to -64, so -1 is not
  // exactly representable and comes back as -64 steps.
  const std::vector<float> x = {-1.0f, 3.0f, 0.0f};
  std::vector<float> out(x.size());
  fake_quantize_rows(x.data(), 1, 3, HybridInput::kAsymmetric, out.data());
  const float scale = 4.0f / 255.0f;
  EXPECT_EQ(out[2], 0.0f);  // zero stays exact: the zero point is an integer
  EXPECT_FLOAT_EQ(out[0], -64 * scale);
  EXPECT_FLOAT_EQ(out[1], 191 * scale);
}

TEST(HybridInput, SymmetricRowsAreQuantizedOneByOne) {
  // Two rows: each gets its own scale max|v| / 127.
  const std::vector<float> x = {1.0f, -0.5f, 0.25f, 10.0f, 2.5f, -10.0f};
  std::vector<float> out(x.size());
  fake_quantize_rows(x.data(), 2, 3, HybridInput::kSymmetric, out.data());
  EXPECT_FLOAT_EQ(out[0], 1.0f);
  EXPECT_FLOAT_EQ(out[1], -64.0f / 127.0f);  // -63.5 steps, a tie: away from zero
  EXPECT_FLOAT_EQ(out[2], 32.0f / 127.0f);   // 31.75 steps
  EXPECT_FLOAT_EQ(out[3], 10.0f);
  EXPECT_FLOAT_EQ(out[4], 32.0f * 10.0f / 127.0f);  // 31.75 steps
  EXPECT_FLOAT_EQ(out[5], -10.0f);
}

TEST(HybridInput, AllZeroRowStaysZero) {
  const std::vector<float> x = {0.0f, 0.0f};
  std::vector<float> a(2, 1.0f), s(2, 1.0f);
  fake_quantize_rows(x.data(), 1, 2, HybridInput::kAsymmetric, a.data());
  fake_quantize_rows(x.data(), 1, 2, HybridInput::kSymmetric, s.data());
  EXPECT_EQ(a, x);
  EXPECT_EQ(s, x);
}

// y = FullyConnected(x, DequantizeLinear(w int8)) with hybrid_input, or with a float weight.
std::unique_ptr<Graph> fully_connected(bool int8_weight) {
  auto g = std::make_unique<Graph>();
  Value* x = g->add_input("x", DType::kFloat32, {1, 4});
  Value* w;
  if (int8_weight) {
    Tensor q = Tensor::from_vector<int8_t>(DType::kInt8, {1, 4}, {127, 0, 0, 0});
    QuantParams p;
    p.scale = {1.0f / 127.0f};
    p.zero_point = {0};
    q.set_quant(p);
    Value* c = g->add_constant("wq", q);
    c->set_quant(p);
    w = g->add_node(OpKind::kDequantizeLinear, "dq", {c}, {"w"})->output(0);
  } else {
    w = g->add_constant("w", F32({1, 4}, {1.0f, 0.0f, 0.0f, 0.0f}));
  }
  Node* fc = g->add_node(OpKind::kFullyConnected, "fc", {x, w}, {"y"});
  fc->attrs().set("hybrid_input", std::string("symmetric"));
  g->add_output(fc->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

float run_first(const Graph& g, const std::vector<float>& x) {
  auto interp = Interpreter::create(g, RunOptions{});
  EXPECT_TRUE(interp.is_ok()) << interp.status().to_string();
  std::vector<Tensor> out;
  EXPECT_TRUE(interp.value()->run({F32({1, 4}, x)}, &out).is_ok());
  return out.at(0).data<float>()[0];
}

TEST(HybridInput, FullyConnectedQuantizesItsInputOnlyWithAnInt8Weight) {
  // x[0] = 0.3 in a row whose max is 1: 38.1 steps of 1/127, so 38/127 once quantized.
  const std::vector<float> x = {0.3f, 1.0f, -0.2f, 0.5f};
  EXPECT_FLOAT_EQ(run_first(*fully_connected(true), x), 38.0f / 127.0f);
  // The same node with its weight restored to float computes in float.
  EXPECT_FLOAT_EQ(run_first(*fully_connected(false), x), 0.3f);
}

}  // namespace
}  // namespace convmend
