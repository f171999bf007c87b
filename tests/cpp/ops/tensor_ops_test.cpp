// Data-movement ops: golden cases from ONNX Runtime (gen/make_tensor_ops_cases.py), shape
// functions with unknown values, and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& TensorOpsCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/tensor_ops_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(TensorOps, TensorOpsCases);

TEST(TensorOps, Errors) {
  const Tensor x = Random({2, 3}, 1);
  ExpectError(run_op(OpKind::kReshape, {}, {x, I64({2}, {4, 2})}), "cannot reshape [2,3]");
  ExpectError(run_op(OpKind::kReshape, {}, {x, I64({2}, {-1, -1})}), "more than one -1");
  ExpectError(run_op(OpKind::kReshape, Attrs({{"allowzero", int64_t{1}}}),
                     {x, I64({2}, {0, -1})}),
              "both 0 and -1");
  ExpectError(run_op(OpKind::kConcat, Attrs({{"axis", int64_t{0}}}), {x, Random({2, 2}, 2)}),
              "dim 1 is 3 in one input and 2 in another");
  ExpectError(run_op(OpKind::kConcat, {}, {x}), "Concat needs an axis");
  ExpectError(run_op(OpKind::kSqueeze, {}, {x, I64({1}, {0})}), "has size 2, not 1");
  ExpectError(run_op(OpKind::kUnsqueeze, {}, {x, I64({2}, {1, 1})}), "repeated");
  ExpectError(run_op(OpKind::kTranspose, Attrs({{"perm", std::vector<int64_t>{0, 0}}}), {x}),
              "not a permutation");
  ExpectError(run_op(OpKind::kExpand, {}, {x, I64({1}, {2})}), "do not broadcast");
  ExpectError(run_op(OpKind::kTile, {}, {x, I64({1}, {2})}), "1 repeats for rank 2");
  ExpectError(run_op(OpKind::kSplit, Attrs({{"axis", int64_t{1}}}), {x, I64({2}, {1, 1})}, {}, 2),
              "sum to 2");
  ExpectError(run_op(OpKind::kFlatten, Attrs({{"axis", int64_t{3}}}), {x}), "out of range");
}

TEST(TensorOps, ReshapeShapeFunctionWithUnknownValues) {
  const TensorMeta x = Meta(DType::kFloat32, {-1, 3, 4});
  // Computed shape of known length: rank known, dims not.
  auto computed = InferOnly(OpKind::kReshape, {}, {x, Meta(DType::kInt64, {2})});
  ASSERT_TRUE(computed.is_ok()) << computed.status().to_string();
  EXPECT_TRUE(computed.value()[0].rank_known);
  EXPECT_EQ(computed.value()[0].shape, (Shape{-1, -1}));
  // Computed shape of unknown length: rank unknown.
  auto unknown = InferOnly(OpKind::kReshape, {}, {x, Meta(DType::kInt64, {-1})});
  ASSERT_TRUE(unknown.is_ok()) << unknown.status().to_string();
  EXPECT_FALSE(unknown.value()[0].rank_known);
  // Known shape, unknown batch: 0 copies it, -1 cannot be resolved.
  const Tensor spec = I64({3}, {0, -1, 2});
  auto known = InferOnly(OpKind::kReshape, {}, {x, Meta(DType::kInt64, {3}, &spec)});
  ASSERT_TRUE(known.is_ok()) << known.status().to_string();
  EXPECT_EQ(known.value()[0].shape, (Shape{-1, -1, 2}));
  const Tensor flat = I64({2}, {0, -1});
  auto resolved = InferOnly(OpKind::kReshape, {}, {x, Meta(DType::kInt64, {2}, &flat)});
  ASSERT_TRUE(resolved.is_ok()) << resolved.status().to_string();
  EXPECT_EQ(resolved.value()[0].shape, (Shape{-1, -1}));
  const Tensor keep_batch = I64({3}, {0, 12, 1});
  auto batch = InferOnly(OpKind::kReshape, {}, {x, Meta(DType::kInt64, {3}, &keep_batch)});
  ASSERT_TRUE(batch.is_ok()) << batch.status().to_string();
  EXPECT_EQ(batch.value()[0].shape, (Shape{-1, 12, 1}));
}

TEST(TensorOps, OtherShapeFunctionsWithUnknownValues) {
  const TensorMeta x = Meta(DType::kFloat32, {-1, 3, 1});
  auto concat = InferOnly(OpKind::kConcat, Attrs({{"axis", int64_t{1}}}),
                          {x, Meta(DType::kFloat32, {2, 5, 1})});
  ASSERT_TRUE(concat.is_ok()) << concat.status().to_string();
  EXPECT_EQ(concat.value()[0].shape, (Shape{2, 8, 1}));
  auto squeeze_all = InferOnly(OpKind::kSqueeze, {}, {x});
  ASSERT_TRUE(squeeze_all.is_ok());
  EXPECT_FALSE(squeeze_all.value()[0].rank_known);  // is the batch 1?
  auto unsqueeze = InferOnly(OpKind::kUnsqueeze, {}, {x, Meta(DType::kInt64, {2})});
  ASSERT_TRUE(unsqueeze.is_ok());
  EXPECT_EQ(unsqueeze.value()[0].shape, (Shape{-1, -1, -1, -1, -1}));
  auto split = InferOnly(OpKind::kSplit, Attrs({{"axis", int64_t{1}}}),
                         {x, Meta(DType::kInt64, {3})}, 3);
  ASSERT_TRUE(split.is_ok()) << split.status().to_string();
  EXPECT_EQ(split.value()[2].shape, (Shape{-1, -1, 1}));
  auto expand = InferOnly(OpKind::kExpand, {}, {x, Meta(DType::kInt64, {4})});
  ASSERT_TRUE(expand.is_ok());
  EXPECT_EQ(expand.value()[0].shape.size(), 4u);
  auto transpose = InferOnly(OpKind::kTranspose, {}, {x});
  ASSERT_TRUE(transpose.is_ok());
  EXPECT_EQ(transpose.value()[0].shape, (Shape{1, 3, -1}));
  auto flatten = InferOnly(OpKind::kFlatten, {}, {x});
  ASSERT_TRUE(flatten.is_ok());
  EXPECT_EQ(flatten.value()[0].shape, (Shape{-1, 3}));
}

}  // namespace
}  // namespace convmend::testing

namespace convmend::testing {
namespace {

// Scalars have no axis: every axis-taking op refuses them instead of indexing dim 0.
TEST(TensorOps, AxisOpsRefuseScalars) {
  const Tensor s = F32({}, {1.0f});
  ExpectError(run_op(OpKind::kConcat, Attrs({{"axis", int64_t{0}}}), {s, s}), "of a scalar");
  ExpectError(run_op(OpKind::kSplit, {}, {s}, {}, 1), "of a scalar");
  ExpectError(run_op(OpKind::kGather, {}, {s, I64({1}, {0})}), "of a scalar");
  ExpectError(run_op(OpKind::kSoftmax, Attrs({{"axis", int64_t{0}}}), {s}), "of a scalar");
  ExpectError(run_op(OpKind::kSqueeze, {}, {s, I64({1}, {0})}), "of a scalar");
  ExpectError(run_op(OpKind::kSlice, {}, {s, I64({1}, {0}), I64({1}, {1})}), "1 starts for rank 0");
  ExpectError(run_op(OpKind::kReduceSum, {}, {s, I64({1}, {0})}), "of a scalar");
  auto whole = run_op(OpKind::kReduceSum, {}, {s});  // no axes: reduces nothing, keeps the value
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_TRUE(TensorsClose(whole.value()[0], s));
}

}  // namespace
}  // namespace convmend::testing
