// Pad: golden cases from ONNX Runtime (gen/make_pad_cases.py), shape inference and refusals.
#include <gtest/gtest.h>

#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> pad_golden_cases() {
  return {
#include "ops/golden/pad_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(PadGolden, pad_golden_cases);

TEST(PadShape, UnknownPadsGiveUnknownDims) {
  auto out = InferOnly(OpKind::kPad, {},
                       {Meta(DType::kFloat32, {1, 3, 8, 8}), Meta(DType::kInt64, {8})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape, (Shape{-1, -1, -1, -1}));
  const Tensor pads = I64({8}, {0, 0, 1, 2, 0, 0, 3, 4});
  auto known = InferOnly(OpKind::kPad, {},
                         {Meta(DType::kFloat32, {1, 3, -1, 8}), Meta(DType::kInt64, {8}, &pads)});
  ASSERT_TRUE(known.is_ok());
  EXPECT_EQ(known.value()[0].shape, (Shape{1, 3, -1, 14}));
}

TEST(PadErrors, RefusesBadPadsAndModes) {
  auto length = run_op(OpKind::kPad, {}, {Random({2, 3}, 1), I64({3}, {1, 1, 1})});
  ASSERT_FALSE(length.is_ok());
  EXPECT_NE(length.status().message().find("pads has 3 values, expected 4"), std::string::npos);
  auto mode = run_op(OpKind::kPad, Attrs({{"mode", std::string("wrap")}}),
                     {Random({2, 3}, 1), I64({4}, {1, 1, 1, 1})});
  ASSERT_FALSE(mode.is_ok());
  EXPECT_EQ(mode.status().code(), StatusCode::kUnsupported);
  auto crop = run_op(OpKind::kPad, {}, {Random({2, 3}, 1), I64({4}, {0, -2, 0, -2})});
  ASSERT_FALSE(crop.is_ok());
  EXPECT_NE(crop.status().message().find("more than its size"), std::string::npos);
  auto bools = run_op(OpKind::kPad, {}, {Bool({2}, {true, false}), I64({2}, {1, 1})});
  ASSERT_FALSE(bools.is_ok());
  EXPECT_EQ(bools.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace convmend::testing
