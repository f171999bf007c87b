// FullyConnected, Gemm, MatMul: golden cases (gen/make_linear_cases.py), the sgemm/dgemm fast
// paths against the reference on larger shapes, shape inference and refusals.
#include <gtest/gtest.h>

#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> linear_golden_cases() {
  return {
#include "ops/golden/linear_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(LinearGolden, linear_golden_cases);

// Runs fast and reference in f32 and in exact mode and compares them.
void expect_fast_matches_reference(OpKind op, const Attributes& attrs,
                                   const std::vector<std::optional<Tensor>>& inputs) {
  RunOptions fast, reference, exact, exact_reference;
  reference.reference_only = true;
  exact.exact = true;
  exact_reference.exact = true;
  exact_reference.reference_only = true;
  auto f = run_op(op, attrs, inputs, fast);
  auto r = run_op(op, attrs, inputs, reference);
  auto e = run_op(op, attrs, inputs, exact);
  auto er = run_op(op, attrs, inputs, exact_reference);
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  ASSERT_TRUE(r.is_ok() && e.is_ok() && er.is_ok());
  EXPECT_TRUE(TensorsClose(f.value()[0], r.value()[0], 1e-5));
  EXPECT_TRUE(TensorsClose(e.value()[0], er.value()[0], 1e-12));
}

TEST(LinearFastPath, FullyConnectedLarge) {
  expect_fast_matches_reference(OpKind::kFullyConnected, Attrs({{"fused_activation",
                                                                 std::string("RELU")}}),
                                {Random({4, 1280}, 1), Random({1000, 1280}, 2, -0.1f, 0.1f),
                                 Random({1000}, 3)});
  expect_fast_matches_reference(OpKind::kFullyConnected, Attrs({{"keep_num_dims", int64_t{1}}}),
                                {Random({2, 7, 96}, 4), Random({33, 96}, 5), std::nullopt});
}

TEST(LinearFastPath, GemmLarge) {
  expect_fast_matches_reference(
      OpKind::kGemm, Attrs({{"transB", int64_t{1}}, {"alpha", 0.75}, {"beta", 1.25}}),
      {Random({3, 2048}, 1), Random({1000, 2048}, 2, -0.1f, 0.1f), Random({1000}, 3)});
  expect_fast_matches_reference(OpKind::kGemm, Attrs({{"transA", int64_t{1}}}),
                                {Random({130, 40}, 4), Random({130, 70}, 5), Random({40, 1}, 6)});
}

TEST(LinearFastPath, MatMulBatchedAndBroadcast) {
  expect_fast_matches_reference(OpKind::kMatMul, {},
                                {Random({2, 3, 50, 64}, 1), Random({64, 40}, 2)});
  expect_fast_matches_reference(OpKind::kMatMul, {},
                                {Random({2, 1, 30, 64}, 3), Random({3, 64, 20}, 4)});
  expect_fast_matches_reference(OpKind::kMatMul, {}, {Random({64}, 5), Random({4, 64, 33}, 6)});
}

TEST(LinearShape, InfersShapes) {
  auto mm = InferOnly(OpKind::kMatMul, {},
                      {Meta(DType::kFloat32, {-1, 1, 5, 6}), Meta(DType::kFloat32, {3, 6, 2})});
  ASSERT_TRUE(mm.is_ok()) << mm.status().to_string();
  EXPECT_EQ(mm.value()[0].shape, (Shape{-1, 3, 5, 2}));
  auto fc = InferOnly(OpKind::kFullyConnected, {},
                      {Meta(DType::kFloat32, {1, 7, 7, 64}), Meta(DType::kFloat32, {10, 3136})});
  ASSERT_TRUE(fc.is_ok());
  EXPECT_EQ(fc.value()[0].shape, (Shape{1, 10}));
  auto gemm = InferOnly(OpKind::kGemm, Attrs({{"transA", int64_t{1}}}),
                        {Meta(DType::kFloat64, {4, 3}), Meta(DType::kFloat64, {4, 9})});
  ASSERT_TRUE(gemm.is_ok());
  EXPECT_EQ(gemm.value()[0].shape, (Shape{3, 9}));
  EXPECT_EQ(gemm.value()[0].dtype, DType::kFloat64);
}

TEST(LinearErrors, RefusesMismatches) {
  auto k = run_op(OpKind::kMatMul, {}, {Random({2, 3}, 1), Random({4, 5}, 2)});
  ASSERT_FALSE(k.is_ok());
  EXPECT_NE(k.status().message().find("disagree on K: 3 vs 4"), std::string::npos)
      << k.status().message();
  auto batch = run_op(OpKind::kMatMul, {}, {Random({2, 2, 3}, 1), Random({3, 3, 4}, 2)});
  EXPECT_FALSE(batch.is_ok());
  auto fc = run_op(OpKind::kFullyConnected, {}, {Random({2, 5}, 1), Random({3, 4}, 2)});
  ASSERT_FALSE(fc.is_ok());
  EXPECT_NE(fc.status().message().find("not a multiple"), std::string::npos);
  auto gemm_c = run_op(OpKind::kGemm, {}, {Random({2, 3}, 1), Random({3, 4}, 2), Random({3}, 3)});
  EXPECT_FALSE(gemm_c.is_ok());
  auto ints = run_op(OpKind::kMatMul, {}, {I32({1, 1}, {2}), I32({1, 1}, {3})});
  ASSERT_FALSE(ints.is_ok());
  EXPECT_EQ(ints.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(ints.status().message().find("i32"), std::string::npos);
}

}  // namespace
}  // namespace convmend::testing
