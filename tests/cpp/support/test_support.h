// Helpers shared by the C++ tests: tensor builders, closeness checks, and running one op
// in isolation (shape function + kernel) without a model file.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ir/shape_inference.h"
#include "runtime/kernel.h"

namespace convmend::testing {

Tensor F32(const Shape& shape, const std::vector<float>& values);
Tensor F64(const Shape& shape, const std::vector<double>& values);
Tensor I64(const Shape& shape, const std::vector<int64_t>& values);
Tensor I32(const Shape& shape, const std::vector<int32_t>& values);
Tensor I8(const Shape& shape, const std::vector<int8_t>& values);
Tensor U8(const Shape& shape, const std::vector<uint8_t>& values);
Tensor Bool(const Shape& shape, const std::vector<bool>& values);
// Deterministic pseudo-random floats in [lo, hi).
Tensor Random(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// Runs a single node of `op` on constant inputs (std::nullopt = omitted optional input).
// `num_outputs` outputs are produced; the shape function decides their dtype and shape.
Result<std::vector<Tensor>> run_op(OpKind op, const Attributes& attrs,
                                   const std::vector<std::optional<Tensor>>& inputs,
                                   const RunOptions& options = {}, int num_outputs = 1);

// max |a - e| / max(1, max |e|) over all elements; infinity on a dtype or shape mismatch.
double relative_error(const Tensor& actual, const Tensor& expected);

// gtest assertion: same shape, dtype and values within `tolerance` (relative as above;
// integers and bools compare exactly).
::testing::AssertionResult TensorsClose(const Tensor& actual, const Tensor& expected,
                                        double tolerance = 1e-6);

// One case of the table-driven op tests.
struct OpCase {
  std::string name;
  OpKind op;
  Attributes attrs;
  std::vector<std::optional<Tensor>> inputs;
  std::vector<Tensor> expected;
  double tolerance = 1e-6;
};

// Runs a case in float32 and in exact (float64) mode, and with the reference kernels only,
// checking each against `expected`.
void check_op_case(const OpCase& c);

}  // namespace convmend::testing
