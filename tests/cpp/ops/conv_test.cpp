// Conv: golden cases from ONNX Runtime and TensorFlow (gen/make_conv_cases.py), the fast
// paths (im2col + GEMM, depthwise) against the reference on larger shapes, and refusals.
#include <gtest/gtest.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <utility>

#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> conv_golden_cases() {
  return {
#include "ops/golden/conv_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(ConvGolden, conv_golden_cases);

Attributes make_attrs(std::initializer_list<std::pair<std::string, AttrValue>> values) {
  return Attrs(values);
}

// A conv large enough to exercise every fast-path branch; compared with the reference.
struct FastCase {
  std::string name;
  Shape x, w;
  bool bias;
  Attributes attrs;
};
void PrintTo(const FastCase& c, std::ostream* os) { *os << c.name; }

Attributes conv_attrs(std::vector<int64_t> strides, std::vector<int64_t> pads, int64_t group = 1,
                      std::vector<int64_t> dilations = {1, 1}) {
  return make_attrs({{"strides", strides}, {"pads", pads}, {"group", group},
                     {"dilations", dilations}});
}

Attributes with(Attributes a, const std::string& name, AttrValue v) {
  a.set(name, std::move(v));
  return a;
}

Attributes nhwc(Attributes a, const char* weight_layout) {
  a.set("data_layout", std::string("NHWC"));
  a.set("weight_layout", std::string(weight_layout));
  return a;
}

std::vector<FastCase> fast_cases() {
  const Attributes same_s2 = make_attrs({{"strides", std::vector<int64_t>{2, 2}},
                                         {"auto_pad", std::string("SAME_UPPER")}});
  return {
      {"nchw_3x3_pad1", {1, 32, 56, 56}, {32, 32, 3, 3}, true, conv_attrs({1, 1}, {1, 1, 1, 1})},
      {"nchw_stem_7x7_s2", {1, 3, 64, 64}, {16, 3, 7, 7}, true, conv_attrs({2, 2}, {3, 3, 3, 3})},
      {"nchw_pointwise", {2, 64, 28, 28}, {32, 64, 1, 1}, true, conv_attrs({1, 1}, {0, 0, 0, 0})},
      {"nchw_pointwise_s2", {1, 64, 28, 28}, {48, 64, 1, 1}, false,
       conv_attrs({2, 2}, {0, 0, 0, 0})},
      {"nchw_grouped4", {1, 32, 28, 28}, {64, 8, 3, 3}, true, conv_attrs({1, 1}, {1, 1, 1, 1}, 4)},
      {"nchw_dilated2", {1, 16, 30, 30}, {24, 16, 3, 3}, true,
       conv_attrs({1, 1}, {2, 2, 2, 2}, 1, {2, 2})},
      {"nchw_asymmetric_pads_s2", {1, 16, 29, 31}, {24, 16, 3, 3}, true,
       conv_attrs({2, 2}, {0, 1, 2, 0})},
      {"nchw_depthwise_same_s2", {1, 32, 56, 56}, {32, 1, 3, 3}, true,
       with(same_s2, "group", int64_t{32})},
      {"nchw_depthwise_s1_relu6", {2, 24, 28, 28}, {24, 1, 3, 3}, true,
       with(conv_attrs({1, 1}, {1, 1, 1, 1}, 24), "fused_activation", std::string("RELU6"))},
      {"nchw_depthwise_mult2_dilated", {1, 8, 20, 20}, {16, 1, 3, 3}, false,
       conv_attrs({1, 1}, {2, 1, 2, 3}, 8, {2, 2})},
      {"nchw_with_ohwi_weight", {1, 8, 20, 20}, {16, 3, 3, 8}, true,
       with(conv_attrs({1, 1}, {1, 1, 1, 1}), "weight_layout", std::string("OHWI"))},
      {"nhwc_ohwi_3x3_same_s2", {1, 28, 28, 16}, {32, 3, 3, 16}, true, nhwc(same_s2, "OHWI")},
      {"nhwc_ohwi_3x3_pad1", {2, 20, 20, 24}, {16, 3, 3, 24}, true,
       nhwc(conv_attrs({1, 1}, {1, 1, 1, 1}), "OHWI")},
      {"nhwc_ohwi_pointwise", {2, 14, 14, 64}, {96, 1, 1, 64}, true,
       nhwc(conv_attrs({1, 1}, {0, 0, 0, 0}), "OHWI")},
      {"nhwc_ohwi_grouped2_dilated", {1, 18, 18, 16}, {32, 3, 3, 8}, true,
       nhwc(conv_attrs({1, 1}, {1, 2, 3, 0}, 2, {2, 1}), "OHWI")},
      {"nhwc_ohwi_pointwise_grouped", {1, 10, 10, 32}, {16, 1, 1, 8}, false,
       nhwc(conv_attrs({1, 1}, {0, 0, 0, 0}, 4), "OHWI")},
      {"nhwc_1hwo_depthwise_same_s1", {1, 28, 28, 32}, {1, 3, 3, 32}, true,
       nhwc(with(make_attrs({{"auto_pad", std::string("SAME_UPPER")}}), "group", int64_t{32}),
            "1HWO")},
      {"nhwc_1hwo_depthwise_same_s2", {1, 56, 56, 32}, {1, 3, 3, 32}, true,
       nhwc(with(same_s2, "group", int64_t{32}), "1HWO")},
      {"nhwc_1hwo_depthwise_mult2_relu6", {1, 15, 15, 8}, {1, 5, 5, 16}, true,
       with(nhwc(conv_attrs({2, 2}, {2, 2, 2, 2}, 8), "1HWO"), "fused_activation",
            std::string("RELU6"))},
      {"nhwc_with_oihw_weight", {1, 12, 12, 8}, {16, 8, 3, 3}, true,
       nhwc(conv_attrs({1, 1}, {1, 1, 1, 1}), "OIHW")},
      {"nhwc_depthwise_oihw_weight", {1, 12, 12, 8}, {8, 1, 3, 3}, true,
       nhwc(conv_attrs({2, 2}, {1, 1, 1, 1}, 8), "OIHW")},
  };
}

class ConvFastPath : public ::testing::TestWithParam<FastCase> {};

TEST_P(ConvFastPath, MatchesReference) {
  const FastCase& c = GetParam();
  const Shape& w = c.w;
  const int64_t out_c = with(c.attrs, "x", int64_t{0}).get_weight_layout().value() ==
                                WeightLayout::k1HWO
                            ? w[3]
                            : w[0];
  std::vector<std::optional<Tensor>> inputs = {Random(c.x, 1), Random(w, 2, -0.3f, 0.3f)};
  if (c.bias) inputs.push_back(Random({out_c}, 3));
  RunOptions fast, reference, exact, exact_reference;
  reference.reference_only = true;
  exact.exact = true;
  exact_reference.exact = true;
  exact_reference.reference_only = true;
  auto f = run_op(OpKind::kConv, c.attrs, inputs, fast);
  auto r = run_op(OpKind::kConv, c.attrs, inputs, reference);
  auto e = run_op(OpKind::kConv, c.attrs, inputs, exact);
  auto er = run_op(OpKind::kConv, c.attrs, inputs, exact_reference);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(e.is_ok()) << e.status().to_string();
  ASSERT_TRUE(er.is_ok()) << er.status().to_string();
  EXPECT_EQ(f.value()[0].dtype(), DType::kFloat32);
  EXPECT_EQ(e.value()[0].dtype(), DType::kFloat64);
  EXPECT_TRUE(TensorsClose(f.value()[0], r.value()[0], 1e-5));
  EXPECT_TRUE(TensorsClose(e.value()[0], er.value()[0], 1e-12));
  // The f32 fast path also stays close to the exact result.
  EXPECT_TRUE(TensorsClose(f.value()[0], er.value()[0], 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvFastPath, ::testing::ValuesIn(fast_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ConvFastPath, ThreadsGiveTheSameResult) {
  const Attributes attrs = conv_attrs({1, 1}, {1, 1, 1, 1});
  std::vector<std::optional<Tensor>> inputs = {Random({1, 16, 32, 32}, 4),
                                               Random({32, 16, 3, 3}, 5), Random({32}, 6)};
  RunOptions one, two;
  two.threads = 2;
  auto a = run_op(OpKind::kConv, attrs, inputs, one);
  auto b = run_op(OpKind::kConv, attrs, inputs, two);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(TensorsClose(a.value()[0], b.value()[0], 1e-6));
}

// The packed-weight cache (KernelState) is reused on a second run with a new input.
TEST(ConvFastPath, CachedPackedWeightsAreReused) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {1, 6, 6, 4});
  Value* w = g.add_constant("w", Random({8, 4, 3, 3}, 7));  // OIHW with NHWC data: repacked
  Node* node = g.add_node(OpKind::kConv, "conv", {x, w}, {"y"});
  node->attrs() = nhwc(conv_attrs({1, 1}, {1, 1, 1, 1}), "OIHW");
  std::unique_ptr<KernelState> state;
  RunOptions fast;
  for (uint32_t seed : {10u, 11u}) {
    Tensor input = Random({1, 6, 6, 4}, seed);
    Tensor out = Tensor::create(DType::kFloat32, {1, 6, 6, 8}).value();
    KernelContext ctx{*node, {&input, &w->constant()}, {&out}, fast, &state};
    ASSERT_TRUE(run_Conv(ctx).is_ok());
    EXPECT_NE(state, nullptr);
    auto expected = run_op(OpKind::kConv, node->attrs(),
                           {input, w->constant()}, RunOptions{false, 1, true});
    ASSERT_TRUE(expected.is_ok());
    EXPECT_TRUE(TensorsClose(out, expected.value()[0], 1e-5)) << "seed " << seed;
  }
}

TEST(ConvErrors, RefusesWhatItDoesNotSupport) {
  auto conv1d = run_op(OpKind::kConv, {}, {Random({1, 2, 8}, 1), Random({3, 2, 3}, 2)});
  ASSERT_FALSE(conv1d.is_ok());
  EXPECT_EQ(conv1d.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(conv1d.status().message().find("2-D"), std::string::npos);

  auto channels = run_op(OpKind::kConv, {}, {Random({1, 3, 8, 8}, 1), Random({64, 4, 7, 7}, 2)});
  ASSERT_FALSE(channels.is_ok());
  EXPECT_NE(channels.status().message().find(
                "Conv input has 3 channels, weight [64,4,7,7] (OIHW) with group 1 expects 4"),
            std::string::npos)
      << channels.status().message();

  auto ints = run_op(OpKind::kConv, {},
                     {I32({1, 1, 2, 2}, {1, 2, 3, 4}), I32({1, 1, 1, 1}, {1})});
  ASSERT_FALSE(ints.is_ok());
  EXPECT_EQ(ints.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(ints.status().message().find("i32"), std::string::npos) << ints.status().message();

  auto bias = run_op(OpKind::kConv, {},
                     {Random({1, 2, 4, 4}, 1), Random({3, 2, 1, 1}, 2), Random({4}, 3)});
  ASSERT_FALSE(bias.is_ok());
  EXPECT_EQ(bias.status().code(), StatusCode::kInvalidModel);

  auto bad_groups = run_op(OpKind::kConv, make_attrs({{"group", int64_t{2}}}),
                           {Random({1, 4, 4, 4}, 1), Random({3, 2, 1, 1}, 2)});
  ASSERT_FALSE(bad_groups.is_ok());
  EXPECT_NE(bad_groups.status().message().find("not a multiple of group 2"), std::string::npos);
}

TEST(ConvShape, InfersWithUnknownSpatialDims) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {-1, 3, -1, 224});
  Value* w = g.add_constant("w", Random({8, 3, 3, 3}, 1));
  Node* node = g.add_node(OpKind::kConv, "conv", {x, w}, {"y"});
  node->attrs() = conv_attrs({2, 2}, {1, 1, 1, 1});
  std::vector<TensorMeta> in(2), out;
  in[0].shape = x->shape();
  in[1].shape = w->shape();
  in[1].value = &w->constant();
  ASSERT_TRUE(infer_node(*node, in, out, {}).is_ok());
  EXPECT_EQ(out[0].shape, (Shape{-1, 8, -1, 112}));
}

}  // namespace
}  // namespace convmend::testing
