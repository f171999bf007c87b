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
  auto out = run_op(OpKind::kMul, {}, {F16({1}, {1}), F16({1}, {1})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(out.status().message().find("Mul does not support dtype f16"), std::string::npos)
      << out.status().message();
}

// ONNX Add..Min, Less, Greater and Equal take int8, uint8 and int16 (the ONNX conformance cases
// test_add_int8, test_min_uint8, test_less_int16 ... were refused). Arithmetic wraps.
TEST(BinaryOps, NarrowIntegerTypes) {
  auto add = run_op(OpKind::kAdd, {}, {U8({3}, {250, 1, 7}), U8({3}, {10, 2, 0})});
  ASSERT_TRUE(add.is_ok()) << add.status().to_string();
  EXPECT_TRUE(TensorsClose(add.value()[0], U8({3}, {4, 3, 7})));

  auto mul = run_op(OpKind::kMul, {}, {I16({2}, {-32768, 300}), I16({2}, {-1, 300})});
  ASSERT_TRUE(mul.is_ok()) << mul.status().to_string();
  EXPECT_TRUE(TensorsClose(mul.value()[0], I16({2}, {-32768, 24464})));

  auto sub = run_op(OpKind::kSub, {}, {I8({3}, {-128, 5, 0}), I8({1}, {1})});
  ASSERT_TRUE(sub.is_ok()) << sub.status().to_string();
  EXPECT_TRUE(TensorsClose(sub.value()[0], I8({3}, {127, 4, -1})));

  auto div = run_op(OpKind::kDiv, {}, {I8({3}, {-7, 7, -128}), I8({3}, {2, -2, -1})});
  ASSERT_TRUE(div.is_ok()) << div.status().to_string();
  EXPECT_TRUE(TensorsClose(div.value()[0], I8({3}, {-3, -3, -128})));

  auto div0 = run_op(OpKind::kDiv, {}, {U8({1}, {1}), U8({1}, {0})});
  EXPECT_FALSE(div0.is_ok());

  auto mx = run_op(OpKind::kMax, {}, {U8({2}, {200, 3}), U8({2}, {100, 4})});
  ASSERT_TRUE(mx.is_ok()) << mx.status().to_string();
  EXPECT_TRUE(TensorsClose(mx.value()[0], U8({2}, {200, 4})));

  auto less = run_op(OpKind::kLess, {}, {I8({2}, {-1, 3}), I8({2}, {0, 3})});
  ASSERT_TRUE(less.is_ok()) << less.status().to_string();
  EXPECT_EQ(less.value()[0].dtype(), DType::kBool);
  EXPECT_EQ(less.value()[0].data<bool>()[0], true);
  EXPECT_EQ(less.value()[0].data<bool>()[1], false);

  auto eq = run_op(OpKind::kEqual, {}, {I16({2}, {7, 8}), I16({2}, {7, 9})});
  ASSERT_TRUE(eq.is_ok()) << eq.status().to_string();
  EXPECT_EQ(eq.value()[0].data<bool>()[0], true);
  EXPECT_EQ(eq.value()[0].data<bool>()[1], false);
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
