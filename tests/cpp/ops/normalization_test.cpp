// BatchNormalization: golden cases (gen/make_normalization_cases.py), fast vs reference on a
// larger tensor in both layouts, and refusals.
#include <gtest/gtest.h>

#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

std::vector<OpCase> normalization_golden_cases() {
  return {
#include "ops/golden/normalization_cases.inc"
  };
}
CONVMEND_OP_CASE_SUITE(NormalizationGolden, normalization_golden_cases);

TEST(BatchNormalizationFastPath, MatchesReference) {
  for (const char* layout : {"NCHW", "NHWC"}) {
    SCOPED_TRACE(layout);
    const Attributes attrs = Attrs({{"data_layout", std::string(layout)}, {"epsilon", 1e-3}});
    std::vector<std::optional<Tensor>> inputs = {Random({2, 32, 17, 32}, 1), Random({32}, 2),
                                                 Random({32}, 3), Random({32}, 4),
                                                 Random({32}, 5, 0.1f, 2.0f)};
    RunOptions fast, reference, exact, exact_reference;
    reference.reference_only = true;
    exact.exact = true;
    exact_reference.exact = exact_reference.reference_only = true;
    auto f = run_op(OpKind::kBatchNormalization, attrs, inputs, fast);
    auto r = run_op(OpKind::kBatchNormalization, attrs, inputs, reference);
    auto e = run_op(OpKind::kBatchNormalization, attrs, inputs, exact);
    auto er = run_op(OpKind::kBatchNormalization, attrs, inputs, exact_reference);
    ASSERT_TRUE(f.is_ok() && r.is_ok() && e.is_ok() && er.is_ok());
    EXPECT_TRUE(TensorsClose(f.value()[0], r.value()[0], 1e-5));
    EXPECT_TRUE(TensorsClose(e.value()[0], er.value()[0], 1e-12));
  }
}

TEST(BatchNormalizationErrors, RefusesMismatches) {
  auto channels = run_op(OpKind::kBatchNormalization, {},
                         {Random({1, 3, 2, 2}, 1), Random({4}, 2), Random({3}, 3),
                          Random({3}, 4), Random({3}, 5)});
  ASSERT_FALSE(channels.is_ok());
  EXPECT_NE(channels.status().message().find("scale [4] does not match the 3 channels"),
            std::string::npos)
      << channels.status().message();
  auto rank1 = run_op(OpKind::kBatchNormalization, {},
                      {Random({3}, 1), Random({3}, 2), Random({3}, 3), Random({3}, 4),
                       Random({3}, 5)});
  EXPECT_FALSE(rank1.is_ok());
  auto training = run_op(OpKind::kBatchNormalization, Attrs({{"training_mode", int64_t{1}}}),
                         {Random({1, 3}, 1), Random({3}, 2), Random({3}, 3), Random({3}, 4),
                          Random({3}, 5)});
  ASSERT_FALSE(training.is_ok());
  EXPECT_EQ(training.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace convmend::testing
