// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: golden cases from ONNX Runtime and
// TensorFlow (gen/make_pool_cases.py), NHWC against NCHW on larger shapes, and refusals.
#include <gtest/gtest.h>

#include "ops/layout_helpers.h"
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> pool_golden_cases() {
  return {
#include "ops/golden/pool_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(PoolGolden, pool_golden_cases);

struct LayoutCase {
  const char* name;
  OpKind op;
  Attributes attrs;
};

TEST(PoolLayouts, NhwcMatchesNchw) {
  const std::vector<LayoutCase> cases = {
      {"max_3x3_s2_pad1", OpKind::kMaxPool,
       Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"strides", std::vector<int64_t>{2, 2}},
              {"pads", std::vector<int64_t>{1, 1, 1, 1}}})},
      {"max_ceil_dilated", OpKind::kMaxPool,
       Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"strides", std::vector<int64_t>{2, 2}},
              {"dilations", std::vector<int64_t>{2, 1}}, {"ceil_mode", int64_t{1}}})},
      {"avg_3x3_s1_same", OpKind::kAveragePool,
       Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"auto_pad", std::string("SAME_UPPER")}})},
      {"avg_ceil_include_pad", OpKind::kAveragePool,
       Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"strides", std::vector<int64_t>{2, 2}},
              {"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"ceil_mode", int64_t{1}},
              {"count_include_pad", int64_t{1}}})},
      {"global_avg", OpKind::kGlobalAveragePool, {}},
      {"global_max", OpKind::kGlobalMaxPool, {}},
  };
  const Tensor x = Random({2, 16, 35, 35}, 1);
  const Tensor x_nhwc = NchwToNhwc(x);
  for (const LayoutCase& c : cases) {
    SCOPED_TRACE(c.name);
    Attributes nhwc = c.attrs;
    nhwc.set("data_layout", std::string("NHWC"));
    for (bool exact : {false, true}) {
      RunOptions options;
      options.exact = exact;
      auto a = run_op(c.op, c.attrs, {x}, options);
      auto b = run_op(c.op, nhwc, {x_nhwc}, options);
      ASSERT_TRUE(a.is_ok()) << a.status().to_string();
      ASSERT_TRUE(b.is_ok()) << b.status().to_string();
      EXPECT_TRUE(TensorsClose(b.value()[0], NchwToNhwc(a.value()[0]), exact ? 1e-7 : 1e-6));
    }
  }
}

TEST(PoolShape, CeilModeAndSame) {
  auto ceil = InferOnly(OpKind::kMaxPool,
                        Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
                               {"strides", std::vector<int64_t>{2, 2}},
                               {"ceil_mode", int64_t{1}}}),
                        {Meta(DType::kFloat32, {1, 64, 112, 112})});
  ASSERT_TRUE(ceil.is_ok());
  EXPECT_EQ(ceil.value()[0].shape, (Shape{1, 64, 56, 56}));
  auto same = InferOnly(OpKind::kAveragePool,
                        Attrs({{"kernel_shape", std::vector<int64_t>{3, 3}},
                               {"strides", std::vector<int64_t>{2, 2}},
                               {"auto_pad", std::string("SAME_UPPER")},
                               {"data_layout", std::string("NHWC")}}),
                        {Meta(DType::kFloat32, {1, 35, 35, 8})});
  ASSERT_TRUE(same.is_ok());
  EXPECT_EQ(same.value()[0].shape, (Shape{1, 18, 18, 8}));
  auto global = InferOnly(OpKind::kGlobalAveragePool, Attrs({{"data_layout", std::string("NHWC")}}),
                          {Meta(DType::kFloat32, {-1, 7, 7, 1280})});
  ASSERT_TRUE(global.is_ok());
  EXPECT_EQ(global.value()[0].shape, (Shape{-1, 1, 1, 1280}));
}

TEST(PoolErrors, RefusesWhatItDoesNotSupport) {
  const Attributes k2 = Attrs({{"kernel_shape", std::vector<int64_t>{2, 2}}});
  auto indices = run_op(OpKind::kMaxPool, k2, {Random({1, 1, 4, 4}, 1)}, {}, 2);
  EXPECT_FALSE(indices.is_ok());
  auto pool1d = run_op(OpKind::kMaxPool, Attrs({{"kernel_shape", std::vector<int64_t>{2}}}),
                       {Random({1, 1, 4}, 1)});
  ASSERT_FALSE(pool1d.is_ok());
  EXPECT_EQ(pool1d.status().code(), StatusCode::kUnsupported);
  Attributes dilated = k2;
  dilated.set("dilations", std::vector<int64_t>{2, 2});
  auto avg_dilated = run_op(OpKind::kAveragePool, dilated, {Random({1, 1, 6, 6}, 1)});
  ASSERT_FALSE(avg_dilated.is_ok());
  EXPECT_EQ(avg_dilated.status().code(), StatusCode::kUnsupported);
  auto no_kernel = run_op(OpKind::kMaxPool, {}, {Random({1, 1, 4, 4}, 1)});
  EXPECT_FALSE(no_kernel.is_ok());
  auto ints = run_op(OpKind::kGlobalMaxPool, {}, {I32({1, 1, 1, 2}, {1, 2})});
  ASSERT_FALSE(ints.is_ok());
  EXPECT_NE(ints.status().message().find("i32"), std::string::npos);
}

}  // namespace
}  // namespace convmend::testing
