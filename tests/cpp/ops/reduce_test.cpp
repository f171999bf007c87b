// ReduceMean/Sum/Max/Min: golden cases from ONNX Runtime (gen/make_reduce_cases.py), the shape
// function with unknown axes, and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& ReduceCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/reduce_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(ReduceOps, ReduceCases);

TEST(ReduceOps, RefusesRepeatedOrOutOfRangeAxes) {
  const Tensor x = Random({2, 3}, 1);
  auto repeated = run_op(OpKind::kReduceSum, {}, {x, I64({2}, {1, -1})});
  ASSERT_FALSE(repeated.is_ok());
  EXPECT_NE(repeated.status().message().find("repeated"), std::string::npos);
  auto range = run_op(OpKind::kReduceMax, {}, {x, I64({1}, {2})});
  ASSERT_FALSE(range.is_ok());
  EXPECT_NE(range.status().message().find("axis 2 is out of range for rank 2"), std::string::npos)
      << range.status().message();
}

TEST(ReduceOps, MeanRefusesIntegers) {
  auto out = run_op(OpKind::kReduceMean, {}, {I64({2}, {1, 2})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
}

TEST(ReduceOps, ShapeFunctionWithUnknownAxes) {
  const TensorMeta x = Meta(DType::kFloat32, {2, -1, 4});
  auto kept = InferOnly(OpKind::kReduceMean, {}, {x, Meta(DType::kInt64, {2})});
  ASSERT_TRUE(kept.is_ok()) << kept.status().to_string();
  EXPECT_EQ(kept.value()[0].shape, (Shape{-1, -1, -1}));
  auto dropped = InferOnly(OpKind::kReduceSum, Attrs({{"keepdims", int64_t{0}}}),
                           {x, Meta(DType::kInt64, {2})});
  ASSERT_TRUE(dropped.is_ok()) << dropped.status().to_string();
  EXPECT_EQ(dropped.value()[0].shape, (Shape{-1}));
  auto unknown = InferOnly(OpKind::kReduceSum, Attrs({{"keepdims", int64_t{0}}}),
                           {x, Meta(DType::kInt64, {-1})});
  ASSERT_TRUE(unknown.is_ok()) << unknown.status().to_string();
  EXPECT_FALSE(unknown.value()[0].rank_known);
  const Tensor axes = I64({1}, {1});
  auto known = InferOnly(OpKind::kReduceMax, Attrs({{"keepdims", int64_t{0}}}),
                         {x, Meta(DType::kInt64, {1}, &axes)});
  ASSERT_TRUE(known.is_ok()) << known.status().to_string();
  EXPECT_EQ(known.value()[0].shape, (Shape{2, 4}));
}

}  // namespace
}  // namespace convmend::testing
