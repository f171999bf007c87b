// Localization on small hand-built pairs: a source NCHW chain (conv-BN-Relu6, max pool,
// conv-Relu, global pool, dense, softmax) and a target that is either the same graph or what a
// TFLite converter writes (NHWC, BN folded, activations fused), with one planted fault each.
// Every test asserts the top finding's code and target node and its causal confirmation.
// Suites are prefixed analysis_ so that `ctest -R analysis` selects them.
#include "analysis/localize.h"

#include <gtest/gtest.h>

#include <cmath>

#include "analysis/align.h"
#include "ir/graph.h"
#include "runtime/interpreter.h"
#include "support/test_support.h"

namespace convmend::analysis {
namespace {

using convmend::testing::F32;
using convmend::testing::Random;

std::vector<float> floats(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.num_elements());
}

Tensor nchw_to_nhwc(const Tensor& t) {
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
std::unique_ptr<Graph> source_graph(const Weights& m) {
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
std::unique_ptr<Graph> converted_graph(const Weights& m) {
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

std::unique_ptr<Graph> clone_of(const Graph& g) {
  auto c = g.clone();
  EXPECT_TRUE(c.is_ok());
  return std::move(c).value();
}

Tensor batch() {
  return Random({4, 3, 12, 12}, 42, -2.0f, 2.0f);
}

struct LocalizeRun {
  LocalizeResult result;
  Alignment alignment;
};

LocalizeRun run_localize(const Graph& s, const Graph& t, bool nhwc_target) {
  LocalizeRun r;
  Result<Alignment> a = align(s, t, AlignOptions{}, nullptr);
  EXPECT_TRUE(a.is_ok()) << a.status().to_string();
  if (!a.is_ok()) return r;
  r.alignment = std::move(a).value();
  const Tensor x = batch();
  Result<LocalizeResult> l =
      localize(s, t, r.alignment, {x}, {nhwc_target ? nchw_to_nhwc(x) : x}, LocalizeOptions{});
  EXPECT_TRUE(l.is_ok()) << l.status().to_string();
  if (l.is_ok()) r.result = std::move(l).value();
  return r;
}

std::string summary(const Graph& t, const LocalizeResult& r) {
  std::string out;
  for (const Finding& f : r.findings) {
    out += f.code + " [";
    for (int64_t id : f.target_nodes) {
      const Node* n = t.node_by_id(id);
      out += (n != nullptr ? n->name() : "?") + " ";
    }
    out += "] conf " + std::to_string(f.confidence) + (f.confirmed ? " confirmed" : "") +
           " before " + std::to_string(f.discrepancy_before) + " after " +
           std::to_string(f.discrepancy_after_patch) + " patch: " + f.patch + "\n";
    for (const auto& [k, v] : f.evidence) out += "    " + k + ": " + v + "\n";
  }
  return out;
}

// The top finding has `code`, names `target_node` (empty: any) and was confirmed.
void expect_top(const Graph& t, const LocalizeRun& r, const std::string& code,
                const std::string& target_node, bool confirmed = true) {
  ASSERT_FALSE(r.result.findings.empty());
  const Finding& f = r.result.findings.front();
  EXPECT_EQ(f.code, code) << summary(t, r.result);
  if (!target_node.empty()) {
    bool named = false;
    for (int64_t id : f.target_nodes) {
      const Node* n = t.node_by_id(id);
      named = named || (n != nullptr && n->name() == target_node);
    }
    EXPECT_TRUE(named) << summary(t, r.result);
  }
  EXPECT_EQ(f.confirmed, confirmed) << summary(t, r.result);
  if (confirmed) {
    EXPECT_LT(f.discrepancy_after_patch, 0.5 * f.discrepancy_before);
    EXPECT_FALSE(f.patch.empty());
  }
}

TEST(analysis_Localize, CleanCloneOnlyNumeric) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  LocalizeRun r = run_localize(*s, *t, false);
  ASSERT_EQ(r.result.findings.size(), 1u) << summary(*t, r.result);
  EXPECT_EQ(r.result.findings[0].code, "runtime.numeric");
  EXPECT_EQ(r.result.findings[0].discrepancy_before, 0.0);
  ASSERT_FALSE(r.result.errors.empty());
  for (const MatchError& e : r.result.errors) {
    EXPECT_EQ(e.propagated, 0.0);
    EXPECT_EQ(e.isolated, 0.0);
  }
}

TEST(analysis_Localize, CleanConvertedOnlyNumeric) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  LocalizeRun r = run_localize(*s, *t, true);
  ASSERT_EQ(r.result.findings.size(), 1u) << summary(*t, r.result);
  EXPECT_EQ(r.result.findings[0].code, "runtime.numeric") << summary(*t, r.result);
  EXPECT_LT(r.result.findings[0].discrepancy_before, 1e-4);
  for (const MatchError& e : r.result.errors) {
    EXPECT_LT(e.isolated, e.tolerance) << e.match_index;
  }
}

TEST(analysis_Localize, WeightChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  Value* w = t->find_value("t_conv2/w");
  Tensor changed = w->constant().clone();
  for (int64_t i = 5 * 72; i < 6 * 72; ++i) changed.data<float>()[i] *= 1.5f;  // channel 5
  w->set_constant(changed);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "param.value", "t_conv2");
  EXPECT_NE(r.result.findings[0].evidence.at("weight rel. diff").find("channel 5"),
            std::string::npos);
}

TEST(analysis_Localize, KernelTransposed) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  Value* w = t->find_value("w2");
  Tensor k = w->constant().clone();
  const std::vector<float> orig = floats(k);
  for (int64_t oi = 0; oi < 16 * 8; ++oi)
    for (int64_t h = 0; h < 3; ++h)
      for (int64_t x = 0; x < 3; ++x)
        k.data<float>()[oi * 9 + h * 3 + x] = orig[size_t(oi * 9 + x * 3 + h)];
  w->set_constant(k);
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "param.layout", "conv2");
}

TEST(analysis_Localize, StrideChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_conv2")->attrs().set("strides", std::vector<int64_t>{2, 2});
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "hparam.stride_dilation", "t_conv2");
}

TEST(analysis_Localize, PaddingChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  t->find_node("conv1")->attrs().set("pads", std::vector<int64_t>{0, 0, 2, 2});
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "hparam.padding", "conv1");
}

TEST(analysis_Localize, EpsilonChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  t->find_node("bn1")->attrs().set("epsilon", 0.5);
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "hparam.norm", "bn1");
}

TEST(analysis_Localize, ClipBoundChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  t->find_value("six")->set_constant(F32({}, {1.0f}));
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "hparam.activation", "relu6");
}

TEST(analysis_Localize, PoolKernelChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_pool")->attrs().set("kernel_shape", std::vector<int64_t>{3, 3});
  t->find_node("t_pool")->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "hparam.pooling", "t_pool");
}

TEST(analysis_Localize, ActivationRemoved) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_conv2")->attrs().set_activation(Activation::kNone);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "graph.missing_op", "t_conv2");
}

TEST(analysis_Localize, ExtraMulInserted) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  Value* pooled = t->find_value("pool:0");
  Node* mul = t->add_node(OpKind::kMul, "stray_mul",
                          {pooled, t->add_constant("k", F32({}, {1.7f}))}, {"stray_mul:0"});
  t->replace_all_uses(pooled, mul->output(0));
  t->set_input(mul, 0, pooled);
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "graph.extra_op", "stray_mul");
}

TEST(analysis_Localize, ExtraMulInsideConvBlock) {
  // A Mul by a constant right after a conv joins the conv's block; the parameter stage sees
  // that dropping it makes the weights match.
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  Value* conv = t->find_value("conv2:0");
  Node* mul = t->add_node(OpKind::kMul, "stray_scale",
                          {conv, t->add_constant("k", F32({}, {0.6f}))}, {"stray_scale:0"});
  t->replace_all_uses(conv, mul->output(0));
  t->set_input(mul, 0, conv);
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "graph.extra_op", "stray_scale");
}

TEST(analysis_Localize, SoftmaxAxisChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  t->find_node("softmax")->attrs().set("axis", int64_t{0});
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "hparam.axis", "softmax");
}

TEST(analysis_Localize, Relu6ReplacedByRelu) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_conv1")->attrs().set_activation(Activation::kRelu);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "graph.wrong_op", "t_conv1");
}

TEST(analysis_Localize, OutputsSwapped) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->set_outputs({t->outputs()[1], t->outputs()[0]});
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "graph.outputs", "");
}

TEST(analysis_Localize, BadBatchIsAStatus) {
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  Result<Alignment> a = align(*s, *t, AlignOptions{}, nullptr);
  ASSERT_TRUE(a.is_ok());
  Result<LocalizeResult> l =
      localize(*s, *t, *a, {batch()}, {Random({2, 3, 12, 12}, 1)}, LocalizeOptions{});
  EXPECT_FALSE(l.is_ok());
  Result<LocalizeResult> empty = localize(*s, *t, *a, {}, {}, LocalizeOptions{});
  EXPECT_FALSE(empty.is_ok());
}

TEST(analysis_Localize, EditsApplyToAClone) {
  Weights m;
  auto t = converted_graph(m);
  Edit e;
  e.kind = Edit::Kind::kInsertAfter;
  e.value = t->find_value("t_pool:0")->id();
  e.op = OpKind::kRelu;
  std::vector<const Node*> changed;
  ASSERT_TRUE(apply_edits(*t, {e}, &changed).is_ok());
  EXPECT_TRUE(t->verify().is_ok());
  EXPECT_EQ(t->find_node("t_conv2")->input(0)->producer()->op(), OpKind::kRelu);
  Edit bad;
  bad.kind = Edit::Kind::kBypassNode;
  bad.node = 9999;
  EXPECT_FALSE(apply_edits(*t, {bad}, nullptr).is_ok());
}

}  // namespace
}  // namespace convmend::analysis
