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
#include "pairs.h"

namespace convmend::analysis {
namespace {

using convmend::testing::F32;
using convmend::testing::Random;
using namespace pairs;  // NOLINT(google-build-using-namespace): the shared fixtures

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

// A target whose file fixes the batch to 1 (torch.onnx.export, tf2onnx) runs as a relaxed
// clone; the isolated check must still find each block's constants (regression: every
// isolated error was infinite, so no block ever stood out).
TEST(analysis_Localize, FixedBatchTargetKeepsIsolatedErrors) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->inputs()[0]->set_shape({1, 12, 12, 3});
  LocalizeRun r = run_localize(*s, *t, true);
  ASSERT_FALSE(r.result.errors.empty());
  for (const MatchError& e : r.result.errors) {
    EXPECT_TRUE(std::isfinite(e.isolated)) << e.match_index;
    EXPECT_LT(e.isolated, e.tolerance) << e.match_index;
  }
}

// The converter folded the BatchNorm with another epsilon: every channel of the folded
// weight is off by sqrt((var + eps) / (var + eps')), which only that epsilon explains.
TEST(analysis_Localize, TraceSamplesOfAConstantBatchReshape) {
  // onnx2tf writes Reshape(x, [1, C]): no batch of 4 runs, even relaxed; the samples fall back
  // to one image on both sides.
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  Value* mean = t->find_value("t_mean:0");
  Node* reshape = t->add_node(OpKind::kReshape, "fixed_reshape",
                              {mean, t->add_constant("fixed_shape", Tensor::vector_i64({1, 16}))},
                              {"fixed_reshape:0"});
  t->replace_all_uses(mean, reshape->output(0));
  t->set_input(reshape, 0, mean);
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  const Tensor x = batch();
  Result<ActivationSamples> samples = trace_samples(*s, *t, {x}, {nchw_to_nhwc(x)}, 4);
  ASSERT_TRUE(samples.is_ok()) << samples.status().to_string();
  ASSERT_TRUE(samples->target.count("fixed_reshape:0"));
  EXPECT_EQ(samples->images, 1);  // both sides on one image, so that they compare alike
  EXPECT_EQ(samples->target.at("fixed_reshape:0").size(), 32u);  // 16 channels, 2 moments
  EXPECT_EQ(samples->source.at("softmax:0").size(), 20u);
}

TEST(analysis_Localize, FoldedWithAnotherEpsilon) {
  Weights m;
  auto s = source_graph(m);
  Weights other = m;
  other.eps = 0.5f;
  auto t = converted_graph(other);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "hparam.norm", "t_conv1");
  EXPECT_NE(r.result.findings[0].evidence.at("epsilon").find("0.5"), std::string::npos)
      << summary(*t, r.result);
}

// A fused RELU6 written as RELU_N1_TO_1: both are clips, only the bounds differ.
TEST(analysis_Localize, FusedClipBoundsAreAnActivationParameter) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_conv1")->attrs().set_activation(Activation::kReluN1To1);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "hparam.activation", "t_conv1");
}

// Output channel 5 of the converted graph's conv2 (OHWI, 72 weights per channel) scaled 1.5x.
void scale_conv2_channel5(Graph& t) {
  Value* w = t.find_value("t_conv2/w");
  Tensor changed = w->constant().clone();
  for (int64_t i = 5 * 72; i < 6 * 72; ++i) changed.data<float>()[i] *= 1.5f;
  w->set_constant(changed);
}

TEST(analysis_Localize, WeightChanged) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  scale_conv2_channel5(*t);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "param.value", "t_conv2");
  EXPECT_NE(r.result.findings[0].evidence.at("weight rel. diff").find("channel 5"),
            std::string::npos);
}

TEST(analysis_Localize, OutputsOfEveryImageErrorsOfTheFirst) {
  // One image per chunk and per-layer errors on the first image only: the finding stands, and
  // the outputs handed back cover the whole batch, as a plain run computes them.
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  scale_conv2_channel5(*t);
  Result<Alignment> a = align(*s, *t, AlignOptions{}, nullptr);
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  LocalizeOptions options;
  options.trace_budget_bytes = 1;
  options.analysis_images = 1;
  const Tensor x = batch();
  Result<LocalizeResult> r = localize(*s, *t, *a, {x}, {nchw_to_nhwc(x)}, options);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_FALSE(r->findings.empty());
  EXPECT_EQ(r->findings[0].code, "param.value");
  for (auto [graph, input, outputs] :
       {std::tuple{s.get(), x, &r->source_outputs},
        std::tuple{t.get(), nchw_to_nhwc(x), &r->target_outputs}}) {
    Result<std::unique_ptr<Interpreter>> interp = Interpreter::create(*graph, RunOptions{});
    ASSERT_TRUE(interp.is_ok());
    std::vector<Tensor> expected;
    ASSERT_TRUE((*interp)->run({input}, &expected).is_ok());
    ASSERT_EQ(outputs->size(), expected.size());
    for (size_t k = 0; k < expected.size(); ++k) {
      ASSERT_EQ((*outputs)[k].shape(), expected[k].shape());
      const std::vector<float> got = floats((*outputs)[k]), want = floats(expected[k]);
      for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << k << ":" << i;
    }
  }
}

TEST(analysis_Localize, Float16WeightsWithSubnormalsAreDeclaredLossy) {
  // conv2's weights stored as float16 behind a dequantizing op, small enough that many fall
  // among float16's subnormals (below 2^-14, evenly 2^-24 apart): float16 rounding still,
  // not a changed weight.
  Weights m;
  for (int64_t i = 0; i < m.w2.num_elements(); ++i) m.w2.data<float>()[i] *= 1e-3f;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  Value* w = t->find_value("t_conv2/w");
  Result<Tensor> half = w->constant().cast(DType::kFloat16);
  ASSERT_TRUE(half.is_ok());
  Node* dq = t->add_node(OpKind::kDequantizeLinear, "t_conv2/dequantize",
                         {t->add_constant("t_conv2/w16", *half)}, {"t_conv2/w_f32"});
  t->set_input(t->find_node("t_conv2"), 1, dq->output(0));
  t->remove_dead();
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, true);
  bool lossy = false;
  for (const Finding& f : r.result.findings) {
    lossy = lossy || f.code == "param.declared_lossy";
    EXPECT_NE(f.code, "param.value") << summary(*t, r.result);
  }
  EXPECT_TRUE(lossy) << summary(*t, r.result);
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

// The pool of the pair as a 3x3 stride-1 average: padded by the op itself without counting
// the zeros (a Keras AveragePooling2D 'same'), or by an explicit Pad in front and VALID.
void average_pool_instead(Graph& g, const std::string& pool_name, bool explicit_pad) {
  Node* old = g.find_node(pool_name);
  ASSERT_NE(old, nullptr);
  Value* in = old->input(0);
  const bool nhwc = old->attrs().has("data_layout");
  if (explicit_pad) {
    const std::vector<int64_t> pads = nhwc ? std::vector<int64_t>{0, 1, 1, 0, 0, 1, 1, 0}
                                           : std::vector<int64_t>{0, 0, 1, 1, 0, 0, 1, 1};
    in = g.add_node(OpKind::kPad, pool_name + "_pad",
                    {in, g.add_constant(pool_name + "_pads", Tensor::vector_i64(pads))},
                    {pool_name + "_pad:0"})
             ->output(0);
  }
  Node* avg = g.add_node(OpKind::kAveragePool, pool_name + "_avg", {in}, {pool_name + "_avg:0"});
  avg->attrs().set("kernel_shape", std::vector<int64_t>{3, 3});
  avg->attrs().set("strides", std::vector<int64_t>{1, 1});
  avg->attrs().set("count_include_pad", int64_t{0});
  if (nhwc) avg->attrs().set_data_layout(DataLayout::kNHWC);
  if (!explicit_pad) avg->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  g.replace_all_uses(old->output(0), avg->output(0));
  ASSERT_TRUE(g.remove_node(old).is_ok());
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
}

TEST(analysis_Localize, AveragePoolPaddedByAnExplicitPad) {
  // PAD + VALID in front of an average pool counts the padded zeros in every border window;
  // the source's own padding did not: the Pad belongs to the pool's block and the finding puts
  // the padding back onto the op.
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  average_pool_instead(*s, "pool", false);
  average_pool_instead(*t, "t_pool", true);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "hparam.pooling", "t_pool_avg");
  EXPECT_NE(r.result.findings[0].patch.find("bypass 't_pool_pad'"), std::string::npos)
      << r.result.findings[0].patch;
  for (const int64_t id : r.alignment.unmatched_target) {
    EXPECT_NE(t->node_by_id(id)->name(), "t_pool_pad") << "the Pad was left unmatched";
  }
}

TEST(analysis_Localize, AveragePoolPaddedAlikeIsClean) {
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  average_pool_instead(*s, "pool", false);
  average_pool_instead(*t, "t_pool", false);
  LocalizeRun r = run_localize(*s, *t, true);
  for (const Finding& f : r.result.findings) EXPECT_EQ(f.code, "runtime.numeric") << f.code;
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

TEST(analysis_Localize, ExtraMulAfterActivation) {
  // A Mul by a constant after a conv block's activation: alignment keeps it in the block (the
  // block ends where the next one starts), so it is found as a scaling the source block lacks.
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  Value* act = t->find_value("relu2:0");
  Node* mul = t->add_node(OpKind::kMul, "stray_after",
                          {act, t->add_constant("k", F32({}, {1.1f}))}, {"stray_after:0"});
  t->replace_all_uses(act, mul->output(0));
  t->set_input(mul, 0, act);
  ASSERT_TRUE(infer_graph_shapes(*t).is_ok());
  LocalizeRun r = run_localize(*s, *t, false);
  expect_top(*t, r, "graph.extra_op", "stray_after");
}

// relu2 of the pair as hard swish: one HardSwish node, or decomposed as x * clip(x + 3) / 6.
void hard_swish(Graph& g, bool decomposed) {
  Value* x = g.find_value("conv2:0");
  Value* act = g.find_value("relu2:0");
  Value* out = nullptr;
  if (decomposed) {
    Node* add = g.add_node(OpKind::kAdd, "hs_add", {x, g.add_constant("three", F32({}, {3.f}))},
                           {"hs_add:0"});
    Node* clip = g.add_node(OpKind::kClip, "hs_clip",
                            {add->output(0), g.add_constant("lo", F32({}, {0.f})),
                             g.add_constant("hi", F32({}, {6.f}))},
                            {"hs_clip:0"});
    Node* mul = g.add_node(OpKind::kMul, "hs_mul", {x, clip->output(0)}, {"hs_mul:0"});
    out = g.add_node(OpKind::kDiv, "hs_div", {mul->output(0), g.add_constant("six", F32({}, {6.f}))},
                     {"hs_div:0"})->output(0);
  } else {
    out = g.add_node(OpKind::kHardSwish, "hs", {x}, {"hs:0"})->output(0);
  }
  g.replace_all_uses(act, out);
  g.remove_dead();
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
}

TEST(analysis_Localize, DecomposedHardSwishIsNotAnExtraOp) {
  // The Div by 6 of a decomposed hard swish follows the activation's Clip but belongs to it.
  Weights m;
  auto s = source_graph(m);
  auto t = clone_of(*s);
  hard_swish(*s, false);
  hard_swish(*t, true);
  LocalizeRun r = run_localize(*s, *t, false);
  for (const Finding& f : r.result.findings) EXPECT_EQ(f.code, "runtime.numeric") << f.code;
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

TEST(analysis_Localize, ReluReplacedByRelu6) {
  // The other way round: an unbounded source ReLU against a fused RELU6 (the bound test must
  // not call 6 equal to infinity).
  Weights m;
  auto s = source_graph(m);
  auto t = converted_graph(m);
  t->find_node("t_conv2")->attrs().set_activation(Activation::kRelu6);
  LocalizeRun r = run_localize(*s, *t, true);
  expect_top(*t, r, "graph.wrong_op", "t_conv2");
  EXPECT_NE(r.result.findings[0].evidence.at("activation").find("Clip(0, 6)"), std::string::npos)
      << r.result.findings[0].evidence.at("activation");
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

TEST(analysis_Localize, ReplacingClipByReluDropsItsBounds) {
  // A planted Relu -> Clip(0, 6) is undone by replacing the Clip with a Relu: the bounds,
  // which a Relu has no place for, are not carried over (the graph would not verify).
  Weights m;
  auto t = source_graph(m);
  Edit e;
  e.kind = Edit::Kind::kReplaceOp;
  e.node = t->find_node("relu6")->id();
  e.op = OpKind::kRelu;
  std::vector<const Node*> changed;
  ASSERT_TRUE(apply_edits(*t, {e}, &changed).is_ok());
  ASSERT_TRUE(t->verify().is_ok()) << t->verify().to_string();
  const Node* relu = t->find_node("relu6#replaced");
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->op(), OpKind::kRelu);
  EXPECT_EQ(relu->inputs().size(), 1u);
  EXPECT_EQ(relu->input(0)->name(), "bn1:0");
}

}  // namespace
}  // namespace convmend::analysis
