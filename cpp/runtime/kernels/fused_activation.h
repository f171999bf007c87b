// TFLite's fused activations, applied in place after Conv, FullyConnected, pools and
// elementwise ops (the `fused_activation` attribute).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ir/op.h"

namespace convmend {

template <typename T>
void apply_fused_activation(Activation activation, T* data, int64_t n) {
  switch (activation) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) data[i] = std::max(data[i], T(0));
      return;
    case Activation::kRelu6:
      for (int64_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], T(0)), T(6));
      return;
    case Activation::kReluN1To1:
      for (int64_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], T(-1)), T(1));
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < n; ++i) data[i] = std::tanh(data[i]);
      return;
    case Activation::kSignBit:
      for (int64_t i = 0; i < n; ++i) data[i] = std::signbit(data[i]) ? T(1) : T(0);
      return;
  }
}

}  // namespace convmend
