// Small hand-built source/target pairs shared by the localize and repair tests: a source NCHW
// chain (conv-BN-Relu6, max pool, conv-Relu, global pool, dense, softmax) and what a TFLite
// converter writes for it (NHWC, BN folded, activations fused).
#pragma once

#include <gtest/gtest.h>

#include <cmath>

#include <memory>
#include <vector>

#include "ir/graph.h"
#include "runtime/interpreter.h"
#include "support/test_support.h"

namespace convmend::analysis::pairs {

using convmend::testing::F32;
using convmend::testing::Random;

inline std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.num_elements());
}

inline Tensor nchw_to_nhwc(const Tensor& t) {
  const Shape& s = t.shape();
  std::vector<float> in = floats(t), out(in.size());
  for (int64_t n = 0; n < s[0]; ++n)
    for (int64_t c = 0; c < s[1]; ++c)
      for (int64_t h = 0; h < s[2]; ++h)
        for (int64_t w = 0; w < s[3]; ++w)
          out[size_t(((n * s[2] + h) * s[3] + w) * s[1] + c)] =
              in[size_t(((n * s[1] + c) * s[2] + h) * s[3] + w)];
  return Tensor::from_vector(DType::kFloat32, {s[0], s[2], s[3], s[1]}, out);
}

struct Weights {
  Tensor w1 = Random({8, 3, 3, 3}, 1), b1 = Random({8}, 2);
  Tensor w2 = Random({16, 8, 3, 3}, 3, -0.5f, 0.5f), b2 = Random({16}, 4);
  Tensor wf = Random({10, 16}, 5), bf = Random({10}, 6);
  std::vector<float> gamma = floats(Random({8}, 7, 0.5f, 1.5f)), beta = floats(Random({8}, 8));
  std::vector<float> mean = floats(Random({8}, 9)), var = floats(Random({8}, 10, 0.2f, 2.0f));
  float eps = 1e-3f;
};

// x[4,3,12,12] -> conv1 3x3 pad 1 -> bn1 -> relu6 (Clip 0..6) -> pool 2x2/2 -> conv2 3x3 pad 1
// -> relu -> gap -> flatten -> dense -> softmax. Outputs: softmax, then the logits.
inline std::unique_ptr<Graph> source_graph(const Weights& m) {
  auto g = std::make_unique<Graph>();
  g->set_name("source");
  Value* x = g->add_input("x", DType::kFloat32, {4, 3, 12, 12});
  Node* c1 =
      g->add_node(OpKind::kConv, "conv1",
                  {x, g->add_constant("w1", m.w1), g->add_constant("b1", m.b1)}, {"conv1:0"});
  c1->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* bn = g->add_node(
      OpKind::kBatchNormalization, "bn1",
      {c1->output(0), g->add_constant("gamma", F32({8}, m.gamma)),
       g->add_constant("beta", F32({8}, m.beta)), g->add_constant("mean", F32({8}, m.mean)),
       g->add_constant("var", F32({8}, m.var))},
      {"bn1:0"});
  bn->attrs().set("epsilon", double{m.eps});
  Node* r1 = g->add_node(
      OpKind::kClip, "relu6",
      {bn->output(0), g->add_constant("zero", F32({}, {0})), g->add_constant("six", F32({}, {6}))},
      {"relu6:0"});
  Node* pool = g->add_node(OpKind::kMaxPool, "pool", {r1->output(0)}, {"pool:0"});
  pool->attrs().set("kernel_shape", std::vector<int64_t>{2, 2});
  pool->attrs().set("strides", std::vector<int64_t>{2, 2});
  Node* c2 = g->add_node(
      OpKind::kConv, "conv2",
      {pool->output(0), g->add_constant("w2", m.w2), g->add_constant("b2", m.b2)}, {"conv2:0"});
  c2->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* r2 = g->add_node(OpKind::kRelu, "relu2", {c2->output(0)}, {"relu2:0"});
  Node* gap = g->add_node(OpKind::kGlobalAveragePool, "gap", {r2->output(0)}, {"gap:0"});
  Node* flat = g->add_node(OpKind::kFlatten, "flatten", {gap->output(0)}, {"flatten:0"});
  Node* fc = g->add_node(
      OpKind::kGemm, "dense",
      {flat->output(0), g->add_constant("wf", m.wf), g->add_constant("bf", m.bf)}, {"dense:0"});
  fc->attrs().set("transB", int64_t{1});
  Node* sm = g->add_node(OpKind::kSoftmax, "softmax", {fc->output(0)}, {"softmax:0"});
  g->add_output(sm->output(0));
  g->add_output(fc->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

// What a TFLite converter writes: NHWC, BN folded into conv1 (OHWI), Relu6 and Relu fused.
inline std::unique_ptr<Graph> converted_graph(const Weights& m) {
  auto g = std::make_unique<Graph>();
  g->set_name("target");
  Value* x = g->add_input("x", DType::kFloat32, {-1, 12, 12, 3});
  // Fold BN: w * gamma / sqrt(var + eps), (b - mean) * factor + beta.
  std::vector<float> w1 = floats(m.w1), b1 = floats(m.b1);
  std::vector<float> w1_ohwi(w1.size());
  for (int o = 0; o < 8; ++o) {
    const float f = m.gamma[size_t(o)] / std::sqrt(m.var[size_t(o)] + m.eps);
    b1[size_t(o)] = (b1[size_t(o)] - m.mean[size_t(o)]) * f + m.beta[size_t(o)];
    for (int i = 0; i < 3; ++i)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 3; ++w)
          w1_ohwi[size_t(((o * 3 + h) * 3 + w) * 3 + i)] =
              w1[size_t(((o * 3 + i) * 3 + h) * 3 + w)] * f;
  }
  std::vector<float> w2 = floats(m.w2), w2_ohwi(w2.size());
  for (int o = 0; o < 16; ++o)
    for (int i = 0; i < 8; ++i)
      for (int h = 0; h < 3; ++h)
        for (int w = 0; w < 3; ++w)
          w2_ohwi[size_t(((o * 3 + h) * 3 + w) * 8 + i)] =
              w2[size_t(((o * 8 + i) * 3 + h) * 3 + w)];
  auto conv = [&](const std::string& name, Value* in, Tensor w, Tensor b, Activation act) {
    Node* n = g->add_node(OpKind::kConv, name,
                          {in, g->add_constant(name + "/w", std::move(w)),
                           g->add_constant(name + "/b", std::move(b))},
                          {name + ":0"});
    n->attrs().set_data_layout(DataLayout::kNHWC);
    n->attrs().set_weight_layout(WeightLayout::kOHWI);
    n->attrs().set_auto_pad(AutoPad::kSameUpper);
    n->attrs().set_activation(act);
    return n;
  };
  Node* c1 = conv("t_conv1", x, F32({8, 3, 3, 3}, w1_ohwi), F32({8}, b1), Activation::kRelu6);
  Node* pool = g->add_node(OpKind::kMaxPool, "t_pool", {c1->output(0)}, {"t_pool:0"});
  pool->attrs().set("kernel_shape", std::vector<int64_t>{2, 2});
  pool->attrs().set("strides", std::vector<int64_t>{2, 2});
  pool->attrs().set_data_layout(DataLayout::kNHWC);
  Node* c2 = conv("t_conv2", pool->output(0), F32({16, 3, 3, 8}, w2_ohwi), m.b2, Activation::kRelu);
  Node* mean = g->add_node(OpKind::kReduceMean, "t_mean",
                           {c2->output(0), g->add_constant("axes", Tensor::vector_i64({1, 2}))},
                           {"t_mean:0"});
  mean->attrs().set("keepdims", int64_t{0});
  Node* fc = g->add_node(
      OpKind::kFullyConnected, "t_fc",
      {mean->output(0), g->add_constant("t_fc/w", m.wf), g->add_constant("t_fc/b", m.bf)},
      {"t_fc:0"});
  Node* sm = g->add_node(OpKind::kSoftmax, "t_softmax", {fc->output(0)}, {"t_softmax:0"});
  g->add_output(sm->output(0));
  g->add_output(fc->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

inline std::unique_ptr<Graph> clone_of(const Graph& g) {
  auto c = g.clone();
  EXPECT_TRUE(c.is_ok());
  return std::move(c).value();
}

inline Tensor batch() {
  return Random({4, 3, 12, 12}, 42, -2.0f, 2.0f);
}

}  // namespace convmend::analysis::pairs
