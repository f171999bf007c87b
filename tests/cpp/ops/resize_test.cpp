// Resize: golden cases from ONNX Runtime (gen/make_resize_cases.py), NHWC against NCHW on a
// larger input, shape inference and refusals.
#include <gtest/gtest.h>

#include "ops/layout_helpers.h"
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> resize_golden_cases() {
  return {
#include "ops/golden/resize_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(ResizeGolden, resize_golden_cases);

TEST(ResizeLayouts, NhwcMatchesNchw) {
  const Tensor x = Random({1, 8, 17, 13}, 1);
  const Tensor x_nhwc = NchwToNhwc(x);
  for (const char* mode : {"nearest", "linear", "cubic"}) {
    SCOPED_TRACE(mode);
    const Attributes attrs = Attrs({{"mode", std::string(mode)}});
    Attributes nhwc = attrs;
    nhwc.set("data_layout", std::string("NHWC"));
    auto a = run_op(OpKind::kResize, attrs,
                    {x, std::nullopt, std::nullopt, I64({4}, {1, 8, 40, 21})});
    auto b = run_op(OpKind::kResize, nhwc,
                    {x_nhwc, std::nullopt, std::nullopt, I64({4}, {1, 40, 21, 8})});
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    ASSERT_TRUE(b.is_ok()) << b.status().to_string();
    EXPECT_TRUE(TensorsClose(b.value()[0], NchwToNhwc(a.value()[0]), 1e-6));
  }
}

TEST(ResizeShape, FromScalesAndSizes) {
  const Tensor scales = F32({4}, {1.0f, 1.0f, 2.0f, 1.5f});
  auto out = InferOnly(OpKind::kResize, {},
                       {Meta(DType::kFloat32, {1, 3, 10, 7}), UnknownRank(DType::kFloat32),
                        Meta(DType::kFloat32, {4}, &scales)});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape, (Shape{1, 3, 20, 10}));
  auto unknown = InferOnly(OpKind::kResize, {},
                           {Meta(DType::kFloat32, {1, 3, 10, 7}), UnknownRank(DType::kFloat32),
                            UnknownRank(DType::kFloat32), Meta(DType::kInt64, {4})});
  ASSERT_TRUE(unknown.is_ok());
  EXPECT_EQ(unknown.value()[0].shape, (Shape{1, 3, -1, -1}));
}

TEST(ResizeErrors, RefusesWhatItDoesNotSupport) {
  const Tensor x = Random({1, 2, 3, 3}, 1);
  auto channel_scale = run_op(OpKind::kResize, {},
                              {x, std::nullopt, F32({4}, {1.0f, 2.0f, 2.0f, 2.0f})});
  ASSERT_FALSE(channel_scale.is_ok());
  EXPECT_EQ(channel_scale.status().code(), StatusCode::kUnsupported);
  auto rank5 = run_op(OpKind::kResize, {},
                      {Random({1, 1, 2, 2, 2}, 1), std::nullopt,
                       F32({5}, {1.0f, 1.0f, 2.0f, 2.0f, 2.0f})});
  ASSERT_FALSE(rank5.is_ok());
  EXPECT_EQ(rank5.status().code(), StatusCode::kUnsupported);
  auto crop = run_op(OpKind::kResize,
                     Attrs({{"coordinate_transformation_mode", std::string("tf_crop_and_resize")}}),
                     {x, std::nullopt, F32({4}, {1.0f, 1.0f, 2.0f, 2.0f})});
  ASSERT_FALSE(crop.is_ok());
  EXPECT_NE(crop.status().message().find("tf_crop_and_resize"), std::string::npos);
  auto antialias = run_op(OpKind::kResize, Attrs({{"antialias", int64_t{1}}}),
                          {x, std::nullopt, F32({4}, {1.0f, 1.0f, 0.5f, 0.5f})});
  EXPECT_FALSE(antialias.is_ok());
  auto both = run_op(OpKind::kResize, {},
                     {x, std::nullopt, F32({4}, {1.0f, 1.0f, 2.0f, 2.0f}),
                      I64({4}, {1, 2, 6, 6})});
  EXPECT_FALSE(both.is_ok());
}

}  // namespace
}  // namespace convmend::testing
