#include "runtime/observers.h"

#include <cmath>
#include <limits>

namespace convmend {
namespace {

// Independent lanes let the compiler vectorize the loop without reassociating float sums;
// each block's float partial sums are folded into doubles so long tensors stay accurate.
constexpr int kLanes = 16;
constexpr int64_t kBlock = 4096;

struct Accumulator {
  double sum = 0, sum_sq = 0, sum_abs = 0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
};

void accumulate_f32(const float* data, int64_t n, Accumulator& acc) {
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    float s[kLanes] = {}, sq[kLanes] = {}, ab[kLanes] = {};
    float lo[kLanes], hi[kLanes];
    for (int l = 0; l < kLanes; ++l) {
      lo[l] = std::numeric_limits<float>::infinity();
      hi[l] = -std::numeric_limits<float>::infinity();
    }
    int64_t i = start;
    for (; i + kLanes <= end; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) {
        const float x = data[i + l];
        s[l] += x;
        sq[l] += x * x;
        ab[l] += std::fabs(x);
        lo[l] = x < lo[l] ? x : lo[l];
        hi[l] = x > hi[l] ? x : hi[l];
      }
    }
    for (; i < end; ++i) {
      const float x = data[i];
      s[0] += x;
      sq[0] += x * x;
      ab[0] += std::fabs(x);
      lo[0] = x < lo[0] ? x : lo[0];
      hi[0] = x > hi[0] ? x : hi[0];
    }
    for (int l = 0; l < kLanes; ++l) {
      acc.sum += s[l];
      acc.sum_sq += sq[l];
      acc.sum_abs += ab[l];
      acc.lo = std::min(acc.lo, static_cast<double>(lo[l]));
      acc.hi = std::max(acc.hi, static_cast<double>(hi[l]));
    }
  }
}

void accumulate_f64(const double* data, int64_t n, Accumulator& acc) {
  for (int64_t i = 0; i < n; ++i) {
    const double x = data[i];
    acc.sum += x;
    acc.sum_sq += x * x;
    acc.sum_abs += std::fabs(x);
    acc.lo = std::min(acc.lo, x);
    acc.hi = std::max(acc.hi, x);
  }
}

}  // namespace

TensorStats compute_stats(const Tensor& t) {
  TensorStats stats;
  const int64_t n = t.num_elements();
  Accumulator acc;
  if (t.dtype() == DType::kFloat32) {
    accumulate_f32(t.data<float>(), n, acc);
  } else if (t.dtype() == DType::kFloat64) {
    accumulate_f64(t.data<double>(), n, acc);
  } else {
    return stats;
  }
  if (n == 0) return stats;
  const auto count = static_cast<double>(n);
  stats.count = n;
  stats.min = acc.lo;
  stats.max = acc.hi;
  stats.mean = acc.sum / count;
  stats.std = std::sqrt(std::max(0.0, acc.sum_sq / count - stats.mean * stats.mean));
  stats.mean_abs = acc.sum_abs / count;
  return stats;
}

Status StatsObserver::on_output(const Node& node, size_t index, const Tensor& value) {
  if (!is_float(value.dtype())) return Status::ok();
  rows_.push_back({node.output(index)->name(), compute_stats(value)});
  return Status::ok();
}

}  // namespace convmend
