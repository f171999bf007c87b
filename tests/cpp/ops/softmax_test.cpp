// Softmax: golden cases from ONNX Runtime and numpy (gen/make_softmax_cases.py), and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& SoftmaxCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/softmax_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(SoftmaxOp, SoftmaxCases);

TEST(SoftmaxOp, RefusesAxisOutOfRange) {
  auto out = run_op(OpKind::kSoftmax, Attrs({{"axis", int64_t{3}}}), {Random({2, 3}, 1)});
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("axis 3 is out of range for rank 2"), std::string::npos)
      << out.status().message();
}

TEST(SoftmaxOp, RefusesIntegers) {
  auto out = run_op(OpKind::kSoftmax, {}, {I32({2}, {1, 2})});
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnsupported);
}

}  // namespace
}  // namespace convmend::testing
