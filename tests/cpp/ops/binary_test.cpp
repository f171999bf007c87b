// Broadcasting elementwise ops: golden cases from ONNX Runtime (gen/make_binary_cases.py), the
// fast paths against the reference loop, and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& BinaryCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/binary_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(BinaryOps, BinaryCases);

// Every pair of shapes the fast paths recognize (and some they do not), fast against reference.
TEST(BinaryOps, FastPathsMatchReferenceLoop) {
  const std::vector<std::pair<Shape, Shape>> pairs = {
      {{2, 3, 4, 5}, {2, 3, 4, 5}}, {{2, 3, 4, 5}, {}},        {{}, {2, 3, 4, 5}},
      {{2, 3, 4, 5}, {3, 1, 1}},    {{2, 3, 4, 5}, {5}},       {{2, 3, 4, 5}, {1, 3, 4, 1}},
      {{3, 1, 1}, {2, 3, 4, 5}},    {{2, 3, 4, 5}, {3, 1, 5}}, {{2, 1, 4, 1}, {3, 1, 5}},
      {{1}, {2, 3}},                {{2, 3, 4, 5}, {1, 1, 1, 1}}};
  RunOptions reference;
  reference.reference_only = true;
  for (OpKind op : {OpKind::kAdd, OpKind::kSub, OpKind::kMul, OpKind::kDiv, OpKind::kMax,
                    OpKind::kLess}) {
    uint32_t seed = 1;
    for (const auto& [sa, sb] : pairs) {
      SCOPED_TRACE(std::string(op_name(op)) + " " + shape_to_string(sa) + " " + shape_to_string(sb));
      const Tensor a = Random(sa, seed++);
      const Tensor b = Random(sb, seed++, 0.5f, 2.0f);
      auto fast = run_op(op, {}, {a, b});
      auto slow = run_op(op, {}, {a, b}, reference);
      ASSERT_TRUE(fast.is_ok()) << fast.status().to_string();
      ASSERT_TRUE(slow.is_ok()) << slow.status().to_string();
      EXPECT_TRUE(fast.value()[0].same_data(slow.value()[0]));
    }
  }
}

TEST(BinaryOps, IntegerDivisionByZeroIsAnError) {
  auto out = run_op(OpKind::kDiv, {}, {I64({2}, {4, 5}), I64({2}, {2, 0})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("division by zero"), std::string::npos)
      << out.status().message();
}

TEST(BinaryOps, IntegerDivisionTruncatesAndWraps) {
  auto out = run_op(OpKind::kDiv, {},
                    {I64({3}, {-7, 7, INT64_MIN}), I64({3}, {2, -2, -1})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_TRUE(TensorsClose(out.value()[0], I64({3}, {-3, -3, INT64_MIN})));
}

TEST(BinaryOps, RefusesMixedDtypes) {
  auto out = run_op(OpKind::kAdd, {}, {F32({1}, {1}), I64({1}, {1})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("input #1 has dtype i64"), std::string::npos)
      << out.status().message();
}

TEST(BinaryOps, RefusesUnsupportedDtype) {
  auto out = run_op(OpKind::kMul, {}, {U8({1}, {1}), U8({1}, {1})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(out.status().message().find("Mul does not support dtype u8"), std::string::npos)
      << out.status().message();
}

TEST(BinaryOps, RefusesFusedActivationOnIntegers) {
  auto out = run_op(OpKind::kAdd, Attrs({{"fused_activation", std::string("RELU")}}),
                    {I32({1}, {1}), I32({1}, {1})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
}

TEST(BinaryOps, RefusesShapesThatDoNotBroadcast) {
  auto out = run_op(OpKind::kSub, {}, {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 2})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("do not broadcast"), std::string::npos)
      << out.status().message();
}

TEST(BinaryOps, ShapeFunctionWithUnknownDims) {
  auto out = InferOnly(OpKind::kAdd, {}, {Meta(DType::kFloat32, {-1, 3, 1}), Meta(DType::kFloat32, {4})});
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out.value()[0].shape, (Shape{-1, 3, 4}));
  auto cmp = InferOnly(OpKind::kLess, {}, {UnknownRank(DType::kInt64), Meta(DType::kInt64, {4})});
  ASSERT_TRUE(cmp.is_ok()) << cmp.status().to_string();
  EXPECT_FALSE(cmp.value()[0].rank_known);
  EXPECT_EQ(cmp.value()[0].dtype, DType::kBool);
}

}  // namespace
}  // namespace convmend::testing
