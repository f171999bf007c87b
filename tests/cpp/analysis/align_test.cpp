// Graph alignment on small hand-built source/target pairs, one per converter transformation:
// BatchNorm folded into the conv (real arithmetic), fused Relu6, explicit Pad vs SAME, NCHW vs
// NHWC with transposes, OIHW vs OHWI and 1HWO weights, a dense layer as a transposed MatMul,
// int8 per-channel weights. Each test asserts the exact mapping and permutations, and where
// the values are meant to agree, runs both graphs and compares the comparison points.
// Suites are prefixed analysis_ so that `ctest -R analysis` selects them.
#include <gtest/gtest.h>

#include <cmath>

#include "analysis/align.h"
#include "analysis/align_signals.h"
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

// out = transpose(t, perm) for a 4-D float tensor.
Tensor permute4(const Tensor& t, const std::vector<int64_t>& perm) {
  Shape s = t.shape();
  Shape o = {s[size_t(perm[0])], s[size_t(perm[1])], s[size_t(perm[2])], s[size_t(perm[3])]};
  std::vector<float> in = floats(t), out(in.size());
  const int64_t st[4] = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  size_t k = 0;
  for (int64_t a = 0; a < o[0]; ++a)
    for (int64_t b = 0; b < o[1]; ++b)
      for (int64_t c = 0; c < o[2]; ++c)
        for (int64_t d = 0; d < o[3]; ++d) {
          const int64_t idx[4] = {a, b, c, d};
          int64_t off = 0;
          for (int i = 0; i < 4; ++i) off += idx[i] * st[perm[size_t(i)]];
          out[k++] = in[size_t(off)];
        }
  return Tensor::from_vector(DType::kFloat32, o, out);
}

Value* scalar(Graph& g, const std::string& name, float v) {
  return g.add_constant(name, F32({}, {v}));
}

Node* conv(Graph& g, const std::string& name, Value* x, Value* w, Value* b, int64_t group,
           bool nhwc, WeightLayout wl) {
  std::vector<Value*> ins = {x, w};
  if (b != nullptr) ins.push_back(b);
  Node* n = g.add_node(OpKind::kConv, name, ins, {name + ":0"});
  n->attrs().set("group", group);
  n->attrs().set_data_layout(nhwc ? DataLayout::kNHWC : DataLayout::kNCHW);
  n->attrs().set_weight_layout(wl);
  n->set_provenance(Provenance{nhwc ? "tflite" : "onnx", name, nhwc ? "CONV_2D" : "Conv", -1});
  return n;
}

// Per output channel factor and shift of a BatchNorm in inference mode.
struct Bn {
  std::vector<float> gamma, beta, mean, var;
  float eps = 1e-3f;
  float factor(size_t c) const { return gamma[c] / std::sqrt(var[c] + eps); }
};

Bn random_bn(int64_t c, uint32_t seed) {
  Bn bn;
  bn.gamma = floats(Random({c}, seed, 0.5f, 1.5f));
  bn.gamma[0] = -bn.gamma[0];  // a negative gamma flips a channel's sign
  bn.beta = floats(Random({c}, seed + 1));
  bn.mean = floats(Random({c}, seed + 2));
  bn.var = floats(Random({c}, seed + 3, 0.2f, 2.0f));
  return bn;
}

Node* batch_norm(Graph& g, const std::string& name, Value* x, const Bn& bn) {
  const int64_t c = static_cast<int64_t>(bn.gamma.size());
  Node* n = g.add_node(OpKind::kBatchNormalization, name,
                       {x, g.add_constant(name + "/gamma", F32({c}, bn.gamma)),
                        g.add_constant(name + "/beta", F32({c}, bn.beta)),
                        g.add_constant(name + "/mean", F32({c}, bn.mean)),
                        g.add_constant(name + "/var", F32({c}, bn.var))},
                       {name + ":0"});
  n->attrs().set("epsilon", double{bn.eps});
  return n;
}

// OIHW weights (per-group input channels `ci`) folded with `bn`, in `to` layout.
Tensor fold_weights(const Tensor& oihw, const Bn& bn, WeightLayout to) {
  const Shape& s = oihw.shape();
  const int64_t O = s[0], I = s[1], H = s[2], W = s[3];
  std::vector<float> in = floats(oihw), out(in.size());
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          const float v = in[size_t(((o * I + i) * H + h) * W + w)] * bn.factor(size_t(o));
          int64_t off = 0;
          if (to == WeightLayout::kOIHW) off = ((o * I + i) * H + h) * W + w;
          if (to == WeightLayout::kOHWI) off = ((o * H + h) * W + w) * I + i;
          if (to == WeightLayout::k1HWO) off = (h * W + w) * O + o;
          out[size_t(off)] = v;
        }
  Shape shape = to == WeightLayout::kOIHW   ? Shape{O, I, H, W}
                : to == WeightLayout::kOHWI ? Shape{O, H, W, I}
                                            : Shape{1, H, W, O};
  return Tensor::from_vector(DType::kFloat32, shape, out);
}

Tensor fold_bias(const Tensor& b, const Bn& bn) {
  std::vector<float> v = floats(b);
  for (size_t c = 0; c < v.size(); ++c) v[c] = (v[c] - bn.mean[c]) * bn.factor(c) + bn.beta[c];
  return F32({int64_t(v.size())}, v);
}

// The source: a Keras-like NCHW block chain (ONNX names), BatchNorms and activations separate.
//   conv1 3x3 (3->8) + BN + Relu6 -> depthwise 3x3 (8) + BN + Relu -> pw 1x1 (8->16)
//   -> GlobalAveragePool -> Flatten -> Gemm(transB) (16->10) -> Softmax
struct Model {
  Tensor w1 = Random({8, 3, 3, 3}, 1), b1 = Random({8}, 2);
  Tensor wd = Random({8, 1, 3, 3}, 3), bd = Random({8}, 4);
  Tensor wp = Random({16, 8, 1, 1}, 5), bp = Random({16}, 6);
  Tensor wf = Random({10, 16}, 7), bf = Random({10}, 8);
  Bn bn1 = random_bn(8, 10), bnd = random_bn(8, 20);
};

std::unique_ptr<Graph> source_graph(const Model& m) {
  auto g = std::make_unique<Graph>();
  g->set_name("source");
  Value* x = g->add_input("x", DType::kFloat32, {1, 3, 8, 8});
  Node* c1 = conv(*g, "conv1", x, g->add_constant("w1", m.w1), g->add_constant("b1", m.b1), 1,
                  false, WeightLayout::kOIHW);
  c1->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* bn1 = batch_norm(*g, "bn1", c1->output(0), m.bn1);
  Node* r1 = g->add_node(OpKind::kClip, "relu6_1",
                         {bn1->output(0), scalar(*g, "zero", 0), scalar(*g, "six", 6)},
                         {"relu6_1:0"});
  Node* dw = conv(*g, "dw", r1->output(0), g->add_constant("wd", m.wd),
                  g->add_constant("bd", m.bd), 8, false, WeightLayout::kOIHW);
  dw->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* bnd = batch_norm(*g, "bnd", dw->output(0), m.bnd);
  Node* r2 = g->add_node(OpKind::kRelu, "relu_2", {bnd->output(0)}, {"relu_2:0"});
  Node* pw = conv(*g, "pw", r2->output(0), g->add_constant("wp", m.wp),
                  g->add_constant("bp", m.bp), 1, false, WeightLayout::kOIHW);
  Node* gap = g->add_node(OpKind::kGlobalAveragePool, "gap", {pw->output(0)}, {"gap:0"});
  Node* flat = g->add_node(OpKind::kFlatten, "flatten", {gap->output(0)}, {"flatten:0"});
  Node* fc = g->add_node(OpKind::kGemm, "dense",
                         {flat->output(0), g->add_constant("wf", m.wf),
                          g->add_constant("bf", m.bf)},
                         {"dense:0"});
  fc->attrs().set("transB", int64_t{1});
  Node* sm = g->add_node(OpKind::kSoftmax, "softmax", {fc->output(0)}, {"softmax:0"});
  g->add_output(sm->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

// The target: what a TFLite converter writes for the source. NHWC, BatchNorms folded, Relu6
// and Relu fused, OHWI / 1HWO weights, ReduceMean + FullyConnected. `int8` quantizes the conv
// weights per output channel.
std::unique_ptr<Graph> target_graph(const Model& m, bool int8 = false) {
  auto g = std::make_unique<Graph>();
  g->set_name("target");
  Value* x = g->add_input("x", DType::kFloat32, {1, 8, 8, 3});
  auto weight = [&](const std::string& name, const Tensor& w, int axis) -> Value* {
    if (!int8) return g->add_constant(name, w);
    // Symmetric per-channel int8 on `axis`.
    const Shape& s = w.shape();
    const int64_t channels = s[size_t(axis)];
    int64_t inner = 1;
    for (size_t a = size_t(axis) + 1; a < s.size(); ++a) inner *= s[a];
    std::vector<float> v = floats(w), scale(size_t(channels), 0.0f);
    for (size_t i = 0; i < v.size(); ++i) {
      const size_t c = (i / size_t(inner)) % size_t(channels);
      scale[c] = std::max(scale[c], std::fabs(v[i]) / 127.0f);
    }
    std::vector<int8_t> q(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      q[i] = static_cast<int8_t>(std::lround(v[i] / scale[(i / size_t(inner)) % size_t(channels)]));
    }
    Tensor t = Tensor::from_vector(DType::kInt8, s, q);
    QuantParams qp{scale, std::vector<int64_t>(size_t(channels), 0), axis};
    t.set_quant(qp);
    Value* c = g->add_constant(name, t);
    c->set_quant(qp);
    // As the TFLite reader writes a dynamic-range model: the weight goes through a Dequantize.
    return g->add_node(OpKind::kDequantizeLinear, name + "/dequantize", {c}, {name + "/f32"})
        ->output(0);
  };
  Node* c1 = conv(*g, "t_conv1", x,
                  weight("tw1", fold_weights(m.w1, m.bn1, WeightLayout::kOHWI), 0),
                  g->add_constant("tb1", fold_bias(m.b1, m.bn1)), 1, true, WeightLayout::kOHWI);
  c1->attrs().set_auto_pad(AutoPad::kSameUpper);
  c1->attrs().set_activation(Activation::kRelu6);
  Node* dw = conv(*g, "t_dw", c1->output(0),
                  weight("twd", fold_weights(m.wd, m.bnd, WeightLayout::k1HWO), 3),
                  g->add_constant("tbd", fold_bias(m.bd, m.bnd)), 8, true, WeightLayout::k1HWO);
  dw->attrs().set_auto_pad(AutoPad::kSameUpper);
  dw->attrs().set_activation(Activation::kRelu);
  Bn identity;
  identity.gamma.assign(16, 1.0f);
  identity.var.assign(16, 1.0f);
  identity.eps = 0;
  Node* pw = conv(*g, "t_pw", dw->output(0),
                  weight("twp", fold_weights(m.wp, identity, WeightLayout::kOHWI), 0),
                  g->add_constant("tbp", m.bp), 1, true, WeightLayout::kOHWI);
  Node* mean = g->add_node(OpKind::kReduceMean, "t_mean",
                           {pw->output(0), g->add_constant("axes", Tensor::vector_i64({1, 2}))},
                           {"t_mean:0"});
  mean->attrs().set("keepdims", int64_t{0});
  Node* fc = g->add_node(OpKind::kFullyConnected, "t_fc",
                         {mean->output(0), g->add_constant("twf", m.wf),
                          g->add_constant("tbf", m.bf)},
                         {"t_fc:0"});
  Node* sm = g->add_node(OpKind::kSoftmax, "t_softmax", {fc->output(0)}, {"t_softmax:0"});
  g->add_output(sm->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

std::vector<std::string> names(const Graph& g, const std::vector<int64_t>& ids) {
  std::vector<std::string> out;
  for (int64_t id : ids) out.push_back(g.node_by_id(id)->name());
  return out;
}

const NodeMatch* match_of(const Alignment& a, const Graph& source, const std::string& name) {
  for (const NodeMatch& m : a.matches) {
    for (int64_t id : m.source_nodes) {
      if (source.node_by_id(id)->name() == name) return &m;
    }
  }
  return nullptr;
}

Alignment align_ok(const Graph& s, const Graph& t) {
  Result<Alignment> a = align(s, t, AlignOptions{}, nullptr);
  EXPECT_TRUE(a.is_ok()) << a.status().to_string();
  return a.is_ok() ? std::move(a).value() : Alignment{};
}

// The comparison point values of every match agree after the recorded permutation.
void expect_comparison_points_agree(const Graph& s, const Graph& t, const Alignment& a,
                                    double tolerance) {
  auto si = Interpreter::create(s);
  auto ti = Interpreter::create(t);
  ASSERT_TRUE(si.is_ok() && ti.is_ok());
  Tensor x = Random({1, 3, 8, 8}, 99, -2.0f, 2.0f);
  RunState ss, ts;
  ASSERT_TRUE((*si)->run_keep({x}, &ss).is_ok());
  ASSERT_TRUE((*ti)->run_keep({permute4(x, {0, 2, 3, 1})}, &ts).is_ok());
  for (const NodeMatch& m : a.matches) {
    const Tensor* sv = ss.get(s.value_by_id(m.source_value));
    const Tensor* tv = ts.get(t.value_by_id(m.target_value));
    ASSERT_TRUE(sv != nullptr && tv != nullptr);
    Tensor expected = *sv;
    if (m.transform == ValueTransform::kPermute) expected = permute4(*sv, m.permutation);
    if (m.transform == ValueTransform::kReshape) expected = sv->reshaped(tv->shape()).value();
    EXPECT_LE(convmend::testing::relative_error(*tv, expected), tolerance)
        << s.value_by_id(m.source_value)->name();
  }
}

TEST(analysis_Align, BatchNormFoldedFusedActivationsAndLayouts) {
  Model m;
  auto s = source_graph(m);
  auto t = target_graph(m);
  Alignment a = align_ok(*s, *t);
  ASSERT_EQ(a.matches.size(), 6u);
  EXPECT_TRUE(a.unmatched_source.empty())
      << ::testing::PrintToString(names(*s, a.unmatched_source));
  EXPECT_TRUE(a.unmatched_target.empty());

  const NodeMatch* c1 = match_of(a, *s, "conv1");
  ASSERT_NE(c1, nullptr);
  EXPECT_TRUE(c1->anchor);
  EXPECT_EQ(c1->kind, MatchKind::kFused);
  EXPECT_EQ(names(*t, c1->target_nodes), std::vector<std::string>{"t_conv1"});
  EXPECT_EQ(s->value_by_id(c1->source_value)->name(), "relu6_1:0");  // after BN and Relu6
  EXPECT_EQ(c1->transform, ValueTransform::kPermute);
  EXPECT_EQ(c1->permutation, (std::vector<int64_t>{0, 2, 3, 1}));
  EXPECT_GT(c1->scores.weights, 0.99);

  const NodeMatch* dw = match_of(a, *s, "dw");  // OIHW group=8 vs 1HWO
  ASSERT_NE(dw, nullptr);
  EXPECT_EQ(names(*s, dw->source_nodes), (std::vector<std::string>{"dw", "bnd", "relu_2"}));
  EXPECT_EQ(names(*t, dw->target_nodes), std::vector<std::string>{"t_dw"});
  EXPECT_GT(dw->scores.weights, 0.99);

  const NodeMatch* pw = match_of(a, *s, "pw");
  ASSERT_NE(pw, nullptr);
  EXPECT_EQ(pw->kind, MatchKind::kOneToOne);
  EXPECT_EQ(names(*t, pw->target_nodes), std::vector<std::string>{"t_pw"});

  const NodeMatch* gap = match_of(a, *s, "gap");
  ASSERT_NE(gap, nullptr);
  EXPECT_EQ(names(*t, gap->target_nodes), std::vector<std::string>{"t_mean"});
  EXPECT_EQ(gap->transform, ValueTransform::kReshape);

  const NodeMatch* fc = match_of(a, *s, "dense");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(names(*s, fc->source_nodes), (std::vector<std::string>{"flatten", "dense"}));
  EXPECT_EQ(names(*t, fc->target_nodes), std::vector<std::string>{"t_fc"});
  EXPECT_EQ(fc->transform, ValueTransform::kIdentity);

  const NodeMatch* sm = match_of(a, *s, "softmax");
  ASSERT_NE(sm, nullptr);
  EXPECT_EQ(names(*t, sm->target_nodes), std::vector<std::string>{"t_softmax"});

  expect_comparison_points_agree(*s, *t, a, 1e-5);
}

TEST(analysis_Align, Int8PerChannelWeights) {
  Model m;
  auto s = source_graph(m);
  auto t = target_graph(m, /*int8=*/true);
  Alignment a = align_ok(*s, *t);
  ASSERT_EQ(a.matches.size(), 6u);
  for (const char* name : {"conv1", "dw", "pw"}) {
    const NodeMatch* c = match_of(a, *s, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_TRUE(c->anchor);
    EXPECT_GT(c->scores.weights, 0.9) << name;
  }
  EXPECT_EQ(names(*t, match_of(a, *s, "dw")->target_nodes),
            (std::vector<std::string>{"twd/dequantize", "t_dw"}));
  EXPECT_EQ(match_of(a, *s, "dw")->kind, MatchKind::kFused);  // the Dequantize is weight path
  EXPECT_TRUE(a.unmatched_target.empty());
  // Quantization noise only: the values still agree to about the int8 step.
  expect_comparison_points_agree(*s, *t, a, 0.05);
}

TEST(analysis_Align, ExplicitPadWithValidConvAgainstSameConv) {
  Tensor w = Random({4, 2, 3, 3}, 31);
  Graph s;
  Value* x = s.add_input("x", DType::kFloat32, {1, 2, 6, 6});
  Node* pad = s.add_node(OpKind::kPad, "pad",
                         {x, s.add_constant("pads", Tensor::vector_i64({0, 0, 1, 1, 0, 0, 1, 1}))},
                         {"pad:0"});
  Node* c = conv(s, "conv", pad->output(0), s.add_constant("w", w), nullptr, 1, false,
                 WeightLayout::kOIHW);
  s.add_output(c->output(0));
  ASSERT_TRUE(infer_graph_shapes(s).is_ok());

  Graph t;
  Value* tx = t.add_input("x", DType::kFloat32, {1, 2, 6, 6});
  Node* tc = conv(t, "conv_same", tx, t.add_constant("w", w), nullptr, 1, false,
                  WeightLayout::kOIHW);
  tc->attrs().set_auto_pad(AutoPad::kSameUpper);
  t.add_output(tc->output(0));
  ASSERT_TRUE(infer_graph_shapes(t).is_ok());

  Alignment a = align_ok(s, t);
  ASSERT_EQ(a.matches.size(), 1u);
  EXPECT_EQ(names(s, a.matches[0].source_nodes), (std::vector<std::string>{"pad", "conv"}));
  EXPECT_EQ(names(t, a.matches[0].target_nodes), std::vector<std::string>{"conv_same"});
  EXPECT_EQ(a.matches[0].kind, MatchKind::kFused);
  EXPECT_EQ(a.matches[0].transform, ValueTransform::kIdentity);
  EXPECT_TRUE(a.matches[0].permutation.empty());

  // The reverse direction: SAME source, Pad + VALID target is a split.
  Alignment r = align_ok(t, s);
  ASSERT_EQ(r.matches.size(), 1u);
  EXPECT_EQ(r.matches[0].kind, MatchKind::kSplit);
}

TEST(analysis_Align, NhwcSourceAgainstNchwTargetWithTransposes) {
  // Source: TFLite-like NHWC conv + relu chain. Target: tf2onnx-like, transposes around NCHW
  // convs with OIHW weights.
  Tensor w1 = Random({4, 2, 3, 3}, 41), w2 = Random({4, 4, 1, 1}, 42);
  Bn none;
  none.gamma.assign(4, 1.0f);
  none.var.assign(4, 1.0f);
  none.eps = 0;
  Graph s;
  Value* x = s.add_input("x", DType::kFloat32, {1, 6, 6, 2});
  Node* a1 = conv(s, "a1", x, s.add_constant("w1", fold_weights(w1, none, WeightLayout::kOHWI)),
                  nullptr, 1, true, WeightLayout::kOHWI);
  a1->attrs().set_auto_pad(AutoPad::kSameUpper);
  a1->attrs().set_activation(Activation::kRelu);
  Node* a2 = conv(s, "a2", a1->output(0),
                  s.add_constant("w2", fold_weights(w2, none, WeightLayout::kOHWI)), nullptr, 1,
                  true, WeightLayout::kOHWI);
  s.add_output(a2->output(0));
  ASSERT_TRUE(infer_graph_shapes(s).is_ok());

  Graph t;
  Value* tx = t.add_input("x", DType::kFloat32, {1, 6, 6, 2});
  Node* tin = t.add_node(OpKind::kTranspose, "to_nchw", {tx}, {"to_nchw:0"});
  tin->attrs().set("perm", std::vector<int64_t>{0, 3, 1, 2});
  Node* b1 = conv(t, "b1", tin->output(0), t.add_constant("w1", w1), nullptr, 1, false,
                  WeightLayout::kOIHW);
  b1->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Node* relu = t.add_node(OpKind::kRelu, "b1_relu", {b1->output(0)}, {"b1_relu:0"});
  Node* b2 = conv(t, "b2", relu->output(0), t.add_constant("w2", w2), nullptr, 1, false,
                  WeightLayout::kOIHW);
  Node* tout = t.add_node(OpKind::kTranspose, "to_nhwc", {b2->output(0)}, {"to_nhwc:0"});
  tout->attrs().set("perm", std::vector<int64_t>{0, 2, 3, 1});
  t.add_output(tout->output(0));
  ASSERT_TRUE(infer_graph_shapes(t).is_ok());

  Alignment a = align_ok(s, t);
  ASSERT_EQ(a.matches.size(), 2u);
  EXPECT_TRUE(a.unmatched_target.empty()) << ::testing::PrintToString(names(t, a.unmatched_target));
  EXPECT_EQ(names(t, a.matches[0].target_nodes),
            (std::vector<std::string>{"to_nchw", "b1", "b1_relu"}));
  EXPECT_EQ(a.matches[0].kind, MatchKind::kSplit);
  EXPECT_EQ(a.matches[0].permutation, (std::vector<int64_t>{0, 3, 1, 2}));  // NHWC -> NCHW
  EXPECT_EQ(names(t, a.matches[1].target_nodes), (std::vector<std::string>{"b2", "to_nhwc"}));
  // The comparison point stays before the trailing layout op.
  EXPECT_EQ(t.value_by_id(a.matches[1].target_value)->name(), "b2:0");
  EXPECT_EQ(a.matches[1].permutation, (std::vector<int64_t>{0, 3, 1, 2}));
}

TEST(analysis_Align, DenseAsTransposedMatMulPlusAdd) {
  Tensor w = Random({6, 12}, 51), b = Random({6}, 52);
  Graph s;
  Value* x = s.add_input("x", DType::kFloat32, {2, 12});
  Node* fc = s.add_node(OpKind::kFullyConnected, "dense",
                        {x, s.add_constant("w", w), s.add_constant("b", b)}, {"dense:0"});
  s.add_output(fc->output(0));
  ASSERT_TRUE(infer_graph_shapes(s).is_ok());

  Graph t;
  Value* tx = t.add_input("x", DType::kFloat32, {2, 12});
  Node* wt = t.add_node(OpKind::kTranspose, "w_t", {t.add_constant("w", w)}, {"w_t:0"});
  wt->attrs().set("perm", std::vector<int64_t>{1, 0});
  Node* mm = t.add_node(OpKind::kMatMul, "matmul", {tx, wt->output(0)}, {"matmul:0"});
  Node* add = t.add_node(OpKind::kAdd, "bias", {mm->output(0), t.add_constant("b", b)}, {"bias:0"});
  t.add_output(add->output(0));
  ASSERT_TRUE(infer_graph_shapes(t).is_ok());

  Alignment a = align_ok(s, t);
  ASSERT_EQ(a.matches.size(), 1u);
  EXPECT_EQ(names(t, a.matches[0].target_nodes),
            (std::vector<std::string>{"w_t", "matmul", "bias"}));
  EXPECT_EQ(a.matches[0].kind, MatchKind::kSplit);
  EXPECT_GT(a.matches[0].scores.weights, 0.99);
  EXPECT_EQ(t.value_by_id(a.matches[0].target_value)->name(), "bias:0");
  EXPECT_TRUE(a.unmatched_target.empty());
}

// A chain of identical-shape convs: only the weights and the order tell them apart.
std::unique_ptr<Graph> conv_chain(const std::vector<uint32_t>& seeds, const std::string& prefix) {
  auto g = std::make_unique<Graph>();
  Value* v = g->add_input("x", DType::kFloat32, {1, 8, 5, 5});
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string name = prefix + std::to_string(seeds[i]);
    Node* c = conv(*g, name, v, g->add_constant(name + "/w", Random({8, 8, 3, 3}, seeds[i])),
                   nullptr, 1, false, WeightLayout::kOIHW);
    c->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
    v = g->add_node(OpKind::kRelu, name + "/relu", {c->output(0)}, {name + "/relu:0"})->output(0);
  }
  g->add_output(v);
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

TEST(analysis_Align, IdenticalShapesAMissingLayerAndAChangedWeight) {
  auto s = conv_chain({1, 2, 3, 4, 5, 6}, "s");
  auto t = conv_chain({1, 2, 4, 5, 6}, "t");  // layer 3 dropped by the "converter"
  Alignment a = align_ok(*s, *t);
  ASSERT_EQ(a.matches.size(), 5u);
  for (const NodeMatch& m : a.matches) {
    EXPECT_EQ(s->node_by_id(m.source_nodes[0])->name().substr(1),
              t->node_by_id(m.target_nodes[0])->name().substr(1));
  }
  EXPECT_EQ(names(*s, a.unmatched_source), (std::vector<std::string>{"s3", "s3/relu"}));

  // One weight replaced: its layer keeps its place by order and shape.
  auto changed = conv_chain({1, 2, 77, 4, 5, 6}, "t");
  Alignment b = align_ok(*s, *changed);
  ASSERT_EQ(b.matches.size(), 6u);
  EXPECT_EQ(changed->node_by_id(b.matches[2].target_nodes[0])->name(), "t77");
  EXPECT_LT(b.matches[2].scores.weights, 0.8);
  EXPECT_GT(b.matches[1].scores.weights, 0.99);
}

// An Inception-like module: a stem conv, parallel branches of two same-shape 3x3 convs each,
// listed in `order`, concatenated, then a head conv. `seeds[b]` seeds branch b's first conv.
std::unique_ptr<Graph> branches(const std::vector<int>& order, const std::vector<uint32_t>& seeds,
                                const std::string& prefix) {
  auto g = std::make_unique<Graph>();
  Value* x = g->add_input("x", DType::kFloat32, {1, 8, 5, 5});
  auto layer = [&](const std::string& name, Value* in, uint32_t seed) {
    Node* c = conv(*g, prefix + name, in, g->add_constant(prefix + name + "/w",
                                                          Random({8, 8, 3, 3}, seed)),
                   nullptr, 1, false, WeightLayout::kOIHW);
    c->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
    return g->add_node(OpKind::kRelu, prefix + name + "/relu", {c->output(0)},
                       {prefix + name + "/relu:0"})->output(0);
  };
  Value* stem = layer("stem", x, 500);
  std::vector<Value*> outs(order.size());
  for (int b : order) {
    const std::string name = "b" + std::to_string(b);
    outs[size_t(b)] = layer(name + "b", layer(name + "a", stem, seeds[size_t(b)]), 600 + b);
  }
  Node* cat = g->add_node(OpKind::kConcat, prefix + "concat", outs, {prefix + "concat:0"});
  cat->attrs().set("axis", int64_t{1});
  Node* head = conv(*g, prefix + "head", cat->output(0),
                    g->add_constant(prefix + "head/w", Random({8, 32, 1, 1}, 700)), nullptr, 1,
                    false, WeightLayout::kOIHW);
  g->add_output(head->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

TEST(analysis_Align, ParallelBranchesInAnotherOrderWithAChangedWeight) {
  // Every branch conv has the same shape and alike weight statistics; only the weights tell
  // them apart. A weight-identified pair can not be given to a look-alike by the order, and
  // the changed conv (branch 2) is still paired with its counterpart in its region.
  auto s = branches({0, 1, 2, 3}, {100, 101, 102, 103}, "s_");
  auto t = branches({2, 0, 3, 1}, {100, 101, 177, 103}, "t_");
  Alignment a = align_ok(*s, *t);
  int convs = 0;
  for (const NodeMatch& m : a.matches) {
    const Node* sn = s->node_by_id(m.source_nodes[0]);
    const Node* tn = t->node_by_id(m.target_nodes[0]);
    if (sn->op() != OpKind::kConv) continue;
    ++convs;
    EXPECT_EQ(sn->name().substr(2), tn->name().substr(2));
    if (sn->name() == "s_b2a") {
      EXPECT_LT(m.scores.weights, 0.8);
    } else {
      EXPECT_GT(m.scores.weights, 0.99) << sn->name();
    }
  }
  EXPECT_EQ(convs, 10);
}

TEST(analysis_Align, NestedConcatJoinsTheFlattenedOne) {
  // Source: concat(b0, concat(b1, b2)); target: concat(b0, b1, b2), as torch.onnx writes
  // torchvision's InceptionV3. The inner Concat is part of the outer match, not a missing op.
  auto make = [](bool nested, const std::string& p) {
    auto g = std::make_unique<Graph>();
    Value* x = g->add_input("x", DType::kFloat32, {1, 8, 5, 5});
    std::vector<Value*> outs;
    for (int b = 0; b < 3; ++b) {
      const std::string name = p + "b" + std::to_string(b);
      Node* c = conv(*g, name, x, g->add_constant(name + "/w", Random({8, 8, 3, 3}, 800 + b)),
                     nullptr, 1, false, WeightLayout::kOIHW);
      c->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
      outs.push_back(c->output(0));
    }
    Node* cat = nullptr;
    if (nested) {
      Node* inner = g->add_node(OpKind::kConcat, p + "inner", {outs[1], outs[2]}, {p + "inner:0"});
      inner->attrs().set("axis", int64_t{1});
      cat = g->add_node(OpKind::kConcat, p + "cat", {outs[0], inner->output(0)}, {p + "cat:0"});
    } else {
      cat = g->add_node(OpKind::kConcat, p + "cat", outs, {p + "cat:0"});
    }
    cat->attrs().set("axis", int64_t{1});
    g->add_output(cat->output(0));
    EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
    return g;
  };
  auto s = make(true, "s_");
  auto t = make(false, "t_");
  Alignment a = align_ok(*s, *t);
  EXPECT_TRUE(a.unmatched_source.empty()) << names(*s, a.unmatched_source).size();
  EXPECT_TRUE(a.unmatched_target.empty());
  bool joined = false;
  for (const NodeMatch& m : a.matches) {
    for (int64_t id : m.source_nodes) joined = joined || s->node_by_id(id)->name() == "s_inner";
  }
  EXPECT_TRUE(joined);
}

// A stem conv whose output feeds an average pool and a sum with itself, both concatenated;
// `pool_first` decides which of the two branches the graph lists first.
std::unique_ptr<Graph> pool_and_concat(bool pool_first, const std::string& prefix) {
  auto g = std::make_unique<Graph>();
  Value* x = g->add_input("x", DType::kFloat32, {1, 8, 5, 5});
  Node* c = conv(*g, prefix + "stem", x, g->add_constant(prefix + "w", Random({8, 8, 3, 3}, 1)),
                 nullptr, 1, false, WeightLayout::kOIHW);
  c->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  Value* r = g->add_node(OpKind::kRelu, prefix + "relu", {c->output(0)}, {prefix + "relu:0"})
                 ->output(0);
  Value* pooled = nullptr;
  Value* joined = nullptr;
  auto pool = [&] {
    Node* p = g->add_node(OpKind::kAveragePool, prefix + "pool", {r}, {prefix + "pool:0"});
    p->attrs().set("kernel_shape", std::vector<int64_t>{3, 3});
    p->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
    pooled = p->output(0);
  };
  auto sum = [&] {
    joined = g->add_node(OpKind::kAdd, prefix + "sum", {r, r}, {prefix + "sum:0"})->output(0);
  };
  if (pool_first) {
    pool();
    sum();
  } else {
    sum();
    pool();
  }
  Node* out = g->add_node(OpKind::kConcat, prefix + "out", {joined, pooled}, {prefix + "out:0"});
  out->attrs().set("axis", int64_t{1});
  g->add_output(out->output(0));
  EXPECT_TRUE(infer_graph_shapes(*g).is_ok());
  return g;
}

TEST(analysis_Align, BranchesListedInAnotherOrderAreAllMatched) {
  // The order pairs only one of the pool and the sum (they cross); the other is paired
  // afterwards: same op, same shape, inputs from the same matched block.
  auto s = pool_and_concat(true, "s_");
  auto t = pool_and_concat(false, "t_");
  Alignment a = align_ok(*s, *t);
  EXPECT_TRUE(a.unmatched_source.empty()) << names(*s, a.unmatched_source).size();
  EXPECT_TRUE(a.unmatched_target.empty()) << names(*t, a.unmatched_target).size();
  for (const NodeMatch& m : a.matches) {
    EXPECT_EQ(s->node_by_id(m.source_nodes.back())->name().substr(2),
              t->node_by_id(m.target_nodes.back())->name().substr(2));
  }
}

TEST(analysis_Align, ActivationSamplesAreScored) {
  auto s = conv_chain({1, 2}, "s");
  auto t = conv_chain({1, 2}, "t");
  ActivationSamples samples;
  Tensor act = Random({4, 8, 5, 5}, 9);
  samples.source = activation_statistics(*s, {{"s1/relu:0", act}}).value();
  samples.target = activation_statistics(*t, {{"t1/relu:0", act}, {"not/a/value", act}}).value();
  EXPECT_EQ(samples.source.at("s1/relu:0").size(), 16u);  // mean and mean |x| per channel
  EXPECT_EQ(samples.target.count("not/a/value"), 0u);
  Result<Alignment> a = align(*s, *t, AlignOptions{}, &samples);
  ASSERT_TRUE(a.is_ok());
  ASSERT_EQ(a->matches.size(), 2u);
  EXPECT_DOUBLE_EQ(a->matches[0].scores.activation, 1.0);
  EXPECT_LT(a->matches[1].scores.activation, 0);  // not traced
}

TEST(analysis_Align, JsonNamesNodesWithProvenanceAndEscapes) {
  Model m;
  auto s = source_graph(m);
  auto t = target_graph(m);
  s->find_node("conv1")->set_provenance(Provenance{"keras", "block\"1\"\\conv", "Conv2D", 3});
  Alignment a = align_ok(*s, *t);
  const std::string json = to_json(a, *s, *t);
  EXPECT_NE(json.find("\"schema\":\"convmend.alignment/1\""), std::string::npos);
  EXPECT_NE(json.find("\"name\":\"block\\\"1\\\"\\\\conv\""), std::string::npos);
  EXPECT_NE(json.find("\"op_type\":\"Conv2D\""), std::string::npos);
  EXPECT_NE(json.find("\"permutation\":[0,2,3,1]"), std::string::npos);
  EXPECT_NE(json.find("\"kind\":\"fused\""), std::string::npos);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
}

TEST(analysis_Align, EmptyGraphsAndGraphsWithoutWeights) {
  Graph s, t;
  Alignment a = align_ok(s, t);
  EXPECT_TRUE(a.matches.empty());

  Graph u;
  Value* x = u.add_input("x", DType::kFloat32, {1, 4});
  u.add_output(u.add_node(OpKind::kRelu, "relu", {x}, {"r"})->output(0));
  Graph v;
  Value* y = v.add_input("x", DType::kFloat32, {1, 4});
  v.add_output(v.add_node(OpKind::kRelu, "relu", {y}, {"r"})->output(0));
  Alignment b = align_ok(u, v);
  ASSERT_EQ(b.matches.size(), 1u);
  EXPECT_EQ(b.matches[0].kind, MatchKind::kOneToOne);
}

TEST(analysis_AlignSignals, LayoutPermutations) {
  EXPECT_EQ(layout_permutation(Layout::kNCHW, Layout::kNHWC), (std::vector<int64_t>{0, 2, 3, 1}));
  EXPECT_EQ(layout_permutation(Layout::kNHWC, Layout::kNCHW), (std::vector<int64_t>{0, 3, 1, 2}));
  EXPECT_TRUE(layout_permutation(Layout::kNCHW, Layout::kNCHW).empty());
  std::vector<int64_t> perm;
  EXPECT_EQ(value_relation({1, 8, 4, 4}, Layout::kNCHW, {1, 4, 4, 8}, Layout::kNHWC, &perm),
            ValueTransform::kPermute);
  EXPECT_EQ(perm, (std::vector<int64_t>{0, 2, 3, 1}));
  // Ambiguous shapes: the layouts decide.
  EXPECT_EQ(value_relation({1, 4, 4, 4}, Layout::kNCHW, {1, 4, 4, 4}, Layout::kNHWC, &perm),
            ValueTransform::kPermute);
  EXPECT_EQ(value_relation({1, 16, 1, 1}, Layout::kNCHW, {1, 16}, Layout::kUnknown, &perm),
            ValueTransform::kReshape);
  EXPECT_EQ(value_relation({1, 16}, Layout::kUnknown, {1, 17}, Layout::kUnknown, &perm),
            ValueTransform::kIncomparable);
}

}  // namespace
}  // namespace convmend::analysis
