// Kernels of ReduceMean, ReduceSum, ReduceMax, ReduceMin: one accumulation loop over the
// input, each element added into the output slot its kept dims select.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {
namespace {

enum class Reduction { kMean, kSum, kMax, kMin };

template <typename T>
using Accumulator = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <typename A>
A initial_value(Reduction r) {
  constexpr bool kInf = std::numeric_limits<A>::has_infinity;
  switch (r) {
    case Reduction::kMax:
      return kInf ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
    case Reduction::kMin:
      return kInf ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
    default:
      return A(0);
  }
}

template <typename A>
A accumulate(Reduction r, A acc, A x) {
  switch (r) {
    case Reduction::kMax:
      return acc != acc || acc > x ? acc : x;  // NaN propagates
    case Reduction::kMin:
      return acc != acc || acc < x ? acc : x;
    default:
      if constexpr (std::is_integral_v<A>) {  // wraps instead of overflowing
        return static_cast<A>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(x));
      } else {
        return acc + x;
      }
  }
}

Status run_reduce(KernelContext& ctx, Reduction reduction) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  ASSIGN_OR_RETURN(int64_t noop, ctx.node.attrs().get_int("noop_with_empty_axes", 0));
  std::optional<std::vector<int64_t>> axes;
  if (ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr) axes = ctx.inputs[1]->to_int64s();
  ASSIGN_OR_RETURN(std::vector<bool> reduced, shapes::reduced_dims(in.rank(), axes, noop != 0));
  Shape kept = in.shape();
  for (size_t d = 0; d < kept.size(); ++d) {
    if (reduced[d]) kept[d] = 1;
  }
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    using A = Accumulator<T>;
    A initial = initial_value<A>(reduction);
    if constexpr (std::is_same_v<T, bool>) initial = reduction == Reduction::kMin ? 1 : 0;
    std::vector<A> acc(static_cast<size_t>(out.num_elements()), initial);
    const T* x = in.data<T>();
    StridedWalker walk(in.shape(), {broadcast_strides(kept, in.shape())});
    for (int64_t i = 0; i < in.num_elements(); ++i, walk.next()) {
      A& slot = acc[static_cast<size_t>(walk.offset(0))];
      slot = accumulate<A>(reduction, slot, static_cast<A>(x[i]));
    }
    const int64_t count = out.num_elements() == 0 ? 0 : in.num_elements() / out.num_elements();
    T* y = out.data<T>();
    for (size_t j = 0; j < acc.size(); ++j) {
      if constexpr (std::is_floating_point_v<T>) {
        y[j] = static_cast<T>(reduction == Reduction::kMean ? acc[j] / static_cast<double>(count)
                                                            : acc[j]);
      } else {
        y[j] = static_cast<T>(acc[j]);
      }
    }
    return Status::ok();
  };
  switch (reduction) {
    case Reduction::kMean:
      return dispatch<float, double>(ctx.node, in.dtype(), body);
    case Reduction::kSum:
      return dispatch<float, double, int32_t, int64_t>(ctx.node, in.dtype(), body);
    default:  // ONNX allows bool for ReduceMax and ReduceMin (opset 20)
      return dispatch<float, double, int32_t, int64_t, bool>(ctx.node, in.dtype(), body);
  }
}

}  // namespace

Status run_ReduceMean(KernelContext& ctx) { return run_reduce(ctx, Reduction::kMean); }
Status run_ReduceSum(KernelContext& ctx) { return run_reduce(ctx, Reduction::kSum); }
Status run_ReduceMax(KernelContext& ctx) { return run_reduce(ctx, Reduction::kMax); }
Status run_ReduceMin(KernelContext& ctx) { return run_reduce(ctx, Reduction::kMin); }

}  // namespace convmend
