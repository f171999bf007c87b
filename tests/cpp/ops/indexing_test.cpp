// Shape, Gather, Slice, Range, ConstantOfShape, Where: golden cases from ONNX Runtime
// (gen/make_indexing_cases.py), shape functions with unknown values, and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& IndexingCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/indexing_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(IndexingOps, IndexingCases);

TEST(IndexingOps, GatherNamesTheBadIndex) {
  const Tensor x = Random({1, 5}, 1);
  ExpectError(run_op(OpKind::kGather, Attrs({{"axis", int64_t{1}}}), {x, I64({2}, {1, 7})}),
              "Gather index 7 is out of range for axis 1 of [1,5]");
  ExpectError(run_op(OpKind::kGather, Attrs({{"axis", int64_t{1}}}), {x, I32({1}, {-6})}),
              "Gather index -6 is out of range for axis 1 of [1,5]");
}

TEST(IndexingOps, GatherKernelValidatesIndicesTheShapeFunctionCouldNotSee) {
  // The kernel alone, as the interpreter calls it with indices computed at run time.
  Graph g;
  Value* data = g.add_input("data", DType::kFloat32, {3});
  Value* indices = g.add_input("indices", DType::kInt64, {1});
  Node* node = g.add_node(OpKind::kGather, "gather", {data, indices}, {"out"});
  Tensor d = F32({3}, {1, 2, 3});
  Tensor i = I64({1}, {3});
  auto out = Tensor::create(DType::kFloat32, {1});
  ASSERT_TRUE(out.is_ok());
  RunOptions options;
  std::unique_ptr<KernelState> state;
  KernelContext ctx{*node, {&d, &i}, {&out.value()}, options, &state};
  Status s = run_Gather(ctx);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("Gather index 3 is out of range for axis 0 of [3]"),
            std::string::npos)
      << s.message();
}

TEST(IndexingOps, Errors) {
  const Tensor x = Random({2, 3}, 1);
  ExpectError(run_op(OpKind::kSlice, {}, {x, I64({1}, {0}), I64({1}, {1}), I64({1}, {0}),
                                          I64({1}, {0})}),
              "step is 0");
  ExpectError(run_op(OpKind::kSlice, {}, {x, I64({2}, {0, 0}), I64({1}, {1})}), "2 starts and 1 ends");
  ExpectError(run_op(OpKind::kSlice, {}, {x, I64({1}, {0}), I64({1}, {1}), I64({1}, {2})}),
              "axis 2 is out of range");
  ExpectError(run_op(OpKind::kRange, {}, {I64({}, {0}), I64({}, {5}), I64({}, {0})}), "delta is 0");
  ExpectError(run_op(OpKind::kRange, {}, {I64({}, {0}), I32({}, {5}), I64({}, {1})}),
              "limit has dtype i32");
  ExpectError(run_op(OpKind::kConstantOfShape, {}, {I64({2}, {2, -1})}), "negative dim");
  ExpectError(run_op(OpKind::kWhere, {}, {F32({1}, {1}), x, x}), "Where does not support dtype f32");
  ExpectError(run_op(OpKind::kGather, {}, {x, F32({1}, {0})}), "dtype f32");
}

TEST(IndexingOps, ShapeFunctionsWithUnknownValues) {
  const TensorMeta x = Meta(DType::kFloat32, {-1, 3, 8});
  const TensorMeta unknown_i64 = Meta(DType::kInt64, {1});
  auto slice = InferOnly(OpKind::kSlice, {}, {x, unknown_i64, unknown_i64});
  ASSERT_TRUE(slice.is_ok()) << slice.status().to_string();
  EXPECT_EQ(slice.value()[0].shape, (Shape{-1, 3, 8}));  // only axis 0 can be sliced
  const Tensor axes = I64({1}, {2});
  auto sliced_axis = InferOnly(OpKind::kSlice, {},
                               {x, unknown_i64, unknown_i64, Meta(DType::kInt64, {1}, &axes)});
  ASSERT_TRUE(sliced_axis.is_ok()) << sliced_axis.status().to_string();
  EXPECT_EQ(sliced_axis.value()[0].shape, (Shape{-1, 3, -1}));
  const Tensor starts = I64({1}, {2});
  const Tensor ends = I64({1}, {-1});
  auto known = InferOnly(OpKind::kSlice, {},
                         {x, Meta(DType::kInt64, {1}, &starts), Meta(DType::kInt64, {1}, &ends),
                          Meta(DType::kInt64, {1}, &axes)});
  ASSERT_TRUE(known.is_ok()) << known.status().to_string();
  EXPECT_EQ(known.value()[0].shape, (Shape{-1, 3, 5}));
  auto shape = InferOnly(OpKind::kShape, {}, {x});
  ASSERT_TRUE(shape.is_ok());
  EXPECT_EQ(shape.value()[0].shape, (Shape{3}));
  EXPECT_EQ(shape.value()[0].dtype, DType::kInt64);
  auto gather = InferOnly(OpKind::kGather, Attrs({{"axis", int64_t{1}}}),
                          {x, Meta(DType::kInt64, {2, 2})});
  ASSERT_TRUE(gather.is_ok());
  EXPECT_EQ(gather.value()[0].shape, (Shape{-1, 2, 2, 8}));
  auto range = InferOnly(OpKind::kRange, {},
                         {Meta(DType::kInt64, {}), Meta(DType::kInt64, {}), Meta(DType::kInt64, {})});
  ASSERT_TRUE(range.is_ok());
  EXPECT_EQ(range.value()[0].shape, (Shape{-1}));
  auto fill = InferOnly(OpKind::kConstantOfShape, {}, {Meta(DType::kInt64, {4})});
  ASSERT_TRUE(fill.is_ok());
  EXPECT_EQ(fill.value()[0].shape, (Shape{-1, -1, -1, -1}));
  InferOptions exact;
  exact.promote_float64 = true;
  auto fill64 = InferOnly(OpKind::kConstantOfShape, {}, {Meta(DType::kInt64, {4})}, 1, exact);
  ASSERT_TRUE(fill64.is_ok());
  EXPECT_EQ(fill64.value()[0].dtype, DType::kFloat64);
  auto fill_int = InferOnly(OpKind::kConstantOfShape, Attrs({{"value", I64({1}, {3})}}),
                            {Meta(DType::kInt64, {4})}, 1, exact);
  ASSERT_TRUE(fill_int.is_ok());
  EXPECT_EQ(fill_int.value()[0].dtype, DType::kInt64);
}

}  // namespace
}  // namespace convmend::testing
