// NCHW <-> NHWC transposes for tests that check an op's NHWC path against its NCHW path.
#pragma once

#include <vector>

#include "support/test_support.h"

namespace convmend::testing {

inline Tensor NchwToNhwc(const Tensor& t) {
  const int64_t n = t.dim(0), c = t.dim(1), h = t.dim(2), w = t.dim(3);
  const std::vector<double> v = t.to_doubles();
  std::vector<float> out(v.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          out[((b * h + y) * w + x) * c + k] = static_cast<float>(v[((b * c + k) * h + y) * w + x]);
  return F32({n, h, w, c}, out);
}

}  // namespace convmend::testing
