// Pad's per-axis amounts, resolved from the pads and axes inputs (shared with the kernel).
#pragma once

#include <vector>

#include "ir/shape_inference.h"

namespace convmend {

enum class PadMode : uint8_t { kConstant, kReflect, kEdge };

struct PadAmounts {
  std::vector<int64_t> begin;  // one per input axis; negative crops
  std::vector<int64_t> end;
};

Result<PadMode> pad_mode(const Attributes& attrs);
// `axes` may be null (all axes). Fails on a pads length that does not fit the axes.
Result<PadAmounts> resolve_pads(int64_t rank, const Tensor& pads, const Tensor* axes);

}  // namespace convmend
