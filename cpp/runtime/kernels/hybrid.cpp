#include "runtime/kernels/hybrid.h"

#include <algorithm>
#include <cmath>

namespace convmend {
namespace {

// The arithmetic is LiteRT's, as probed on its x86 build: a 1x1 CONV_2D with per-channel and
// one with per-tensor weights, fed values on and next to half-way points, every one of 31,737
// asymmetric and 45,720 symmetric values reproduced. Scales and their inverses are float;
// v * inverse is rounded to nearest, ties away from zero, and the zero point added after.
// Activations often fall exactly half-way between two steps (ReLU6 outputs, values a previous
// quantization left on a grid), so each of these choices shows.

// One row, symmetric: q = round(v * 127 / max|v|) in [-127, 127].
template <typename T>
void symmetric_row(const T* v, int64_t n, T* out) {
  const auto [lo, hi] = std::minmax_element(v, v + n);
  const T range = std::max(std::abs(*lo), std::abs(*hi));
  if (range == T(0)) {
    std::fill(out, out + n, T(0));
    return;
  }
  const T scale = range / T(127);
  const T inverse = T(127) / range;
  for (int64_t i = 0; i < n; ++i) {
    const T q = std::clamp(std::round(v[i] * inverse), T(-127), T(127));
    out[i] = q * scale;
  }
}

// One row, asymmetric: the range [min(0, lo), max(0, hi)] over 255 steps, the zero point taken
// from whichever end loses less and nudged to an integer in [-128, 127].
template <typename T>
void asymmetric_row(const T* v, int64_t n, T* out) {
  const auto [lo, hi] = std::minmax_element(v, v + n);
  const T rmin = std::min(T(0), *lo);
  const T rmax = std::max(T(0), *hi);
  if (rmin == rmax) {
    std::fill(out, out + n, T(0));
    return;
  }
  constexpr double kQmin = -128.0, kQmax = 127.0;
  const T scale = (rmax - rmin) / T(kQmax - kQmin);
  const double step = (static_cast<double>(rmax) - static_cast<double>(rmin)) / (kQmax - kQmin);
  const double from_min = kQmin - rmin / step;
  const double from_max = kQmax - rmax / step;
  const bool use_min =
      std::abs(kQmin) + std::abs(rmin / step) < std::abs(kQmax) + std::abs(rmax / step);
  const double zero = use_min ? from_min : from_max;
  const T nudged = zero <= kQmin ? T(kQmin) : zero >= kQmax ? T(kQmax) : T(std::round(zero));
  const T inverse = T(1) / scale;
  for (int64_t i = 0; i < n; ++i) {
    const T q = std::clamp(std::round(v[i] * inverse) + nudged, T(kQmin), T(kQmax));
    out[i] = (q - nudged) * scale;
  }
}

}  // namespace

Result<HybridInput> hybrid_input(const Node& node) {
  if (!node.attrs().has("hybrid_input") || node.inputs().size() < 2) return HybridInput::kNone;
  const Value* w = node.input(1);
  const Node* p = w != nullptr ? w->producer() : nullptr;
  if (p == nullptr || p->op() != OpKind::kDequantizeLinear || p->input(0) == nullptr ||
      !p->input(0)->is_constant() || !is_integer(p->input(0)->dtype())) {
    return HybridInput::kNone;
  }
  ASSIGN_OR_RETURN(std::string scheme, node.attrs().get_string("hybrid_input", ""));
  if (scheme == "symmetric") return HybridInput::kSymmetric;
  if (scheme == "asymmetric") return HybridInput::kAsymmetric;
  return error(StatusCode::kInvalidArgument, node.op_name(), " '", node.name(),
               "': hybrid_input must be symmetric or asymmetric, not '", scheme, "'");
}

template <typename T>
void fake_quantize_rows(const T* values, int64_t rows, int64_t row_size, HybridInput scheme,
                        T* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* v = values + r * row_size;
    T* o = out + r * row_size;
    if (scheme == HybridInput::kSymmetric) {
      symmetric_row(v, row_size, o);
    } else if (scheme == HybridInput::kAsymmetric) {
      asymmetric_row(v, row_size, o);
    } else {
      std::copy(v, v + row_size, o);
    }
  }
}

template void fake_quantize_rows<float>(const float*, int64_t, int64_t, HybridInput, float*);
template void fake_quantize_rows<double>(const double*, int64_t, int64_t, HybridInput,
                                         double*);

Status quantize_hybrid_input(KernelContext& ctx, int64_t row_size, Tensor& holder) {
  ASSIGN_OR_RETURN(HybridInput scheme, hybrid_input(ctx.node));
  if (scheme == HybridInput::kNone) return Status::ok();
  const Tensor& x = *ctx.inputs[0];
  const int64_t n = x.num_elements();
  if (row_size <= 0 || n % row_size != 0) {
    return error(StatusCode::kInvalidArgument, ctx.node.op_name(), " '", ctx.node.name(),
                 "': hybrid input of ", n, " elements is not made of rows of ", row_size);
  }
  ASSIGN_OR_RETURN(holder, Tensor::create(x.dtype(), x.shape()));
  if (x.dtype() == DType::kFloat32) {
    fake_quantize_rows(x.data<float>(), n / row_size, row_size, scheme, holder.data<float>());
  } else if (x.dtype() == DType::kFloat64) {
    fake_quantize_rows(x.data<double>(), n / row_size, row_size, scheme,
                       holder.data<double>());
  } else {
    return error(StatusCode::kUnsupported, ctx.node.op_name(), " '", ctx.node.name(),
                 "': hybrid input of dtype ", dtype_name(x.dtype()));
  }
  ctx.inputs[0] = &holder;
  return Status::ok();
}

}  // namespace convmend
