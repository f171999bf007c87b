// Helpers of the op tests (tests/cpp/ops/*_test.cpp) on top of support/test_support.h: attribute
// and tensor builders used by the generated golden cases, and a parameterized suite over them.
//
// Adding golden cases for an op: extend tests/cpp/ops/gen/make_<family>_cases.py, run it with
// the probe venv, and the new OpCase lines in golden/<family>_cases.inc run in the suite below.
#pragma once

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "support/test_support.h"

namespace convmend::testing {

inline Attributes Attrs(std::initializer_list<std::pair<std::string, AttrValue>> items) {
  Attributes attrs;
  for (const auto& [name, value] : items) attrs.set(name, value);
  return attrs;
}

inline Tensor F16(const Shape& shape, const std::vector<float>& values) {
  std::vector<uint16_t> bits;
  for (float v : values) bits.push_back(float_to_half(v));
  return Tensor::from_vector(DType::kFloat16, shape, bits);
}

inline Tensor I16(const Shape& shape, const std::vector<int16_t>& values) {
  return Tensor::from_vector(DType::kInt16, shape, values);
}

// A gtest-safe test name from a case name.
inline std::string CaseName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// Runs the shape function alone on metas (value unknown unless given).
inline Result<std::vector<TensorMeta>> InferOnly(OpKind op, const Attributes& attrs,
                                                 const std::vector<TensorMeta>& inputs,
                                                 int num_outputs = 1,
                                                 const InferOptions& options = {}) {
  Graph g;
  std::vector<Value*> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    values.push_back(g.add_input("in" + std::to_string(i), inputs[i].dtype, inputs[i].shape));
  }
  std::vector<std::string> names;
  for (int i = 0; i < num_outputs; ++i) names.push_back("out" + std::to_string(i));
  Node* node = g.add_node(op, "node", values, names);
  node->attrs() = attrs;
  std::vector<TensorMeta> outputs;
  RETURN_IF_ERROR(infer_node(*node, inputs, outputs, options));
  return outputs;
}

inline TensorMeta Meta(DType dtype, Shape shape, const Tensor* value = nullptr) {
  TensorMeta m;
  m.dtype = dtype;
  m.shape = std::move(shape);
  m.value = value;
  return m;
}

inline TensorMeta UnknownRank(DType dtype) {
  TensorMeta m;
  m.dtype = dtype;
  m.rank_known = false;
  return m;
}

// Expects `out` to be an error whose message contains `text`.
inline void ExpectError(const Result<std::vector<Tensor>>& out, const std::string& text) {
  ASSERT_FALSE(out.is_ok()) << "expected an error containing: " << text;
  EXPECT_NE(out.status().message().find(text), std::string::npos) << out.status().message();
}

}  // namespace convmend::testing

// A parameterized suite running every case of `cases_fn()` (a std::vector<OpCase>) through
// check_op_case: float32, exact (float64) and reference-kernel modes.
#define CONVMEND_OP_CASE_SUITE(Suite, cases_fn)                                              \
  class Suite : public ::testing::TestWithParam<size_t> {};                                  \
  TEST_P(Suite, MatchesFramework) { ::convmend::testing::check_op_case(cases_fn()[GetParam()]); } \
  INSTANTIATE_TEST_SUITE_P(Golden, Suite, ::testing::Range<size_t>(0, cases_fn().size()),    \
                           [](const ::testing::TestParamInfo<size_t>& info) {                \
                             return std::to_string(info.param) + "_" +                      \
                                    ::convmend::testing::CaseName(cases_fn()[info.param].name); \
                           })
