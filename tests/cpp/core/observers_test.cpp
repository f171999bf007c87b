// Statistics observers: exact values on known tensors, long tensors, and a whole-graph run.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/observers.h"
#include "support/test_support.h"

namespace convmend {
namespace {

TEST(Observers, StatsOfAKnownTensor) {
  const TensorStats s = compute_stats(testing::F32({2, 3}, {-3, -1, 0, 1, 2, 7}));
  EXPECT_EQ(s.count, 6);
  EXPECT_DOUBLE_EQ(s.min, -3);
  EXPECT_DOUBLE_EQ(s.max, 7);
  EXPECT_DOUBLE_EQ(s.mean, 1);
  EXPECT_DOUBLE_EQ(s.mean_abs, 14.0 / 6.0);
  EXPECT_NEAR(s.std, std::sqrt(64.0 / 6.0 - 1.0), 1e-12);
}

TEST(Observers, LongTensorMatchesDoubleArithmetic) {
  const Tensor t = testing::Random({100003}, 11, -2.0f, 5.0f);
  const TensorStats s = compute_stats(t);
  double sum = 0, sum_sq = 0, lo = 1e9, hi = -1e9;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const double x = t.data<float>()[i];
    sum += x;
    sum_sq += x * x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  const double mean = sum / 100003.0;
  EXPECT_NEAR(s.mean, mean, 1e-6);
  EXPECT_NEAR(s.std, std::sqrt(sum_sq / 100003.0 - mean * mean), 1e-6);
  EXPECT_DOUBLE_EQ(s.min, lo);
  EXPECT_DOUBLE_EQ(s.max, hi);
  const TensorStats d = compute_stats(t.cast(DType::kFloat64).value());
  // float32 partial sums over 256 elements per lane: about 1e-8 relative.
  EXPECT_NEAR(d.mean, s.mean, 1e-7);
}

TEST(Observers, ObservesEveryFloatOutputOfARun) {
  Graph g;
  Value* x = g.add_input("x", DType::kFloat32, {4});
  Node* relu = g.add_node(OpKind::kRelu, "relu", {x}, {"r"});
  Node* neg = g.add_node(OpKind::kNeg, "neg", {relu->output(0)}, {"n"});
  g.add_output(neg->output(0));
  ASSERT_TRUE(infer_graph_shapes(g).is_ok());
  auto interp = Interpreter::create(g);
  ASSERT_TRUE(interp.is_ok());
  StatsObserver observer;
  std::vector<Tensor> out;
  ASSERT_TRUE(interp.value()->run({testing::F32({4}, {-1, 2, -3, 4})}, &out, &observer).is_ok());
  ASSERT_EQ(observer.rows().size(), 2u);
  EXPECT_EQ(observer.rows()[0].value_name, "r");
  EXPECT_DOUBLE_EQ(observer.rows()[0].stats.mean, 1.5);
  EXPECT_DOUBLE_EQ(observer.rows()[1].stats.min, -4);
}

}  // namespace
}  // namespace convmend
