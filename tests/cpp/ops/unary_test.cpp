// Elementwise unary ops: golden cases from ONNX Runtime (gen/make_unary_cases.py), and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& UnaryCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/unary_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(UnaryOps, UnaryCases);

TEST(UnaryOps, RefusesIntegerInputToFloatOnlyOp) {
  auto out = run_op(OpKind::kSigmoid, {}, {I32({2}, {1, 2})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(out.status().message().find("Sigmoid does not support dtype i32"), std::string::npos)
      << out.status().message();
}

TEST(UnaryOps, RefusesUnknownGeluApproximation) {
  auto out = run_op(OpKind::kGelu, Attrs({{"approximate", std::string("fast")}}),
                    {F32({1}, {1.0f})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("fast"), std::string::npos) << out.status().message();
}

TEST(UnaryOps, ClipRefusesNonScalarBound) {
  auto out = run_op(OpKind::kClip, {}, {F32({2}, {1, 2}), F32({2}, {0, 1})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("min must be a scalar"), std::string::npos)
      << out.status().message();
}

TEST(UnaryOps, PReluRefusesSlopeThatDoesNotBroadcastToX) {
  auto out = run_op(OpKind::kPRelu, {}, {F32({3}, {1, 2, 3}), F32({2, 3}, {0, 0, 0, 0, 0, 0})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("does not broadcast to X"), std::string::npos)
      << out.status().message();
}

// ONNX Clip takes int8/uint8/int16 (test_clip_default_int8_min and friends were refused).
TEST(UnaryOps, ClipNarrowIntegers) {
  auto i8 = run_op(OpKind::kClip, {}, {I8({3}, {-128, 0, 127}), I8({}, {-5}), I8({}, {5})});
  ASSERT_TRUE(i8.is_ok()) << i8.status().to_string();
  EXPECT_TRUE(TensorsClose(i8.value()[0], I8({3}, {-5, 0, 5})));
  auto i16 = run_op(OpKind::kClip, {}, {I16({2}, {-300, 300}), I16({}, {-200})});
  ASSERT_TRUE(i16.is_ok()) << i16.status().to_string();
  EXPECT_TRUE(TensorsClose(i16.value()[0], I16({2}, {-200, 300})));
}

TEST(UnaryOps, ClipKeepsNaN) {
  auto out = run_op(OpKind::kClip, {}, {F32({2}, {NAN, 5.0f}), F32({}, {0.0f}), F32({}, {1.0f})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_TRUE(std::isnan(out.value()[0].data<float>()[0]));
  EXPECT_EQ(out.value()[0].data<float>()[1], 1.0f);
}

TEST(UnaryOps, ShapeFunctionKeepsUnknownDimsAndRank) {
  auto dims = InferOnly(OpKind::kTanh, {}, {Meta(DType::kFloat32, {-1, 3})});
  ASSERT_TRUE(dims.is_ok()) << dims.status().to_string();
  EXPECT_EQ(dims.value()[0].shape, (Shape{-1, 3}));
  auto rank = InferOnly(OpKind::kRelu, {}, {UnknownRank(DType::kFloat64)});
  ASSERT_TRUE(rank.is_ok()) << rank.status().to_string();
  EXPECT_FALSE(rank.value()[0].rank_known);
  EXPECT_EQ(rank.value()[0].dtype, DType::kFloat64);
}

}  // namespace
}  // namespace convmend::testing
