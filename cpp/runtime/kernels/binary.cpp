// Kernels of the broadcasting elementwise ops. Each op is one expression in
// CONVMEND_BINARY_OPS; broadcasting, the fast paths and the dtype switch are shared.
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/kernel.h"
#include "runtime/kernels/fused_activation.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {
namespace {

// Integer arithmetic wraps (two's complement) as in ONNX Runtime, instead of being UB.
template <typename T, bool = std::is_integral_v<T>>
struct WideOf {
  using type = T;
};
// Narrow types go through uint32_t: uint16_t would promote to int, whose products overflow.
template <typename T>
struct WideOf<T, true> {
  using type = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;
};
template <typename T>
using Wide = typename WideOf<T>::type;

template <typename T>
T add(T a, T b) { return static_cast<T>(static_cast<Wide<T>>(a) + static_cast<Wide<T>>(b)); }
template <typename T>
T sub(T a, T b) { return static_cast<T>(static_cast<Wide<T>>(a) - static_cast<Wide<T>>(b)); }
template <typename T>
T mul(T a, T b) { return static_cast<T>(static_cast<Wide<T>>(a) * static_cast<Wide<T>>(b)); }

// Integer division truncates toward zero (C++ and ONNX Runtime); b != 0 is checked before.
template <typename T>
T divide(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == T(-1)) return sub(T(0), a);
  }
  return a / b;
}

template <typename T>
T power(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    return saturate_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  } else {
    return std::pow(a, b);
  }
}

// Max and Min propagate NaN, as numpy.maximum and ONNX Runtime.
template <typename T>
T maximum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a > b ? a : b;
}
template <typename T>
T minimum(T a, T b) {
  if (a != a) return a;
  if (b != b) return b;
  return a < b ? a : b;
}

enum class BinaryKind {
  kArithmetic,  // f32 f64 i8 u8 i16 i32 i64 -> same
  kCompare,     // f32 f64 i8 u8 i16 i32 i64 -> bool
  kEquality,    // the same and bool -> bool
};

}  // namespace

// name, kind, result as an expression of a and b (type T)
#define CONVMEND_BINARY_OPS(X)                           \
  X(Add, BinaryKind::kArithmetic, add(a, b))             \
  X(Sub, BinaryKind::kArithmetic, sub(a, b))             \
  X(Mul, BinaryKind::kArithmetic, mul(a, b))             \
  X(Div, BinaryKind::kArithmetic, divide(a, b))          \
  X(Pow, BinaryKind::kArithmetic, power(a, b))           \
  X(Max, BinaryKind::kArithmetic, maximum(a, b))         \
  X(Min, BinaryKind::kArithmetic, minimum(a, b))         \
  X(Sum, BinaryKind::kArithmetic, add(a, b))             \
  X(Equal, BinaryKind::kEquality, a == b)                \
  X(Less, BinaryKind::kCompare, a < b)                   \
  X(Greater, BinaryKind::kCompare, a > b)

namespace {

#define X(name, kind_, expr)                        \
  struct name##Fn {                                 \
    static constexpr BinaryKind kKind = kind_;      \
    template <typename T>                           \
    static auto apply(T a, T b) {                   \
      return expr;                                  \
    }                                               \
  };
CONVMEND_BINARY_OPS(X)
#undef X

// The reference loop: out[i] = f(a[ia], b[ib]) with broadcast offsets.
template <typename Fn, typename T, typename R>
void apply_plain(const T* a, const Shape& as, const T* b, const Shape& bs, R* out,
                 const Shape& os) {
  const int64_t n = dims_product(os, 0, os.size());
  StridedWalker walk(os, {broadcast_strides(as, os), broadcast_strides(bs, os)});
  for (int64_t i = 0; i < n; ++i, walk.next()) out[i] = Fn::apply(a[walk.offset(0)], b[walk.offset(1)]);
}

// When `small` broadcast against `full` varies along one contiguous run of dims (a scalar, a
// per-channel bias [C,1,1] or [C]), gives the size of that run and of the dims after it.
bool single_block(const Shape& small, const Shape& full, int64_t* block, int64_t* inner) {
  const size_t lead = full.size() - small.size();
  size_t first = full.size();
  size_t last = 0;
  for (size_t i = 0; i < small.size(); ++i) {
    if (small[i] == 1) continue;
    first = std::min(first, lead + i);
    last = lead + i;
  }
  *block = dims_product(small, 0, small.size());
  if (first == full.size()) {
    *inner = 1;
    return true;
  }
  for (size_t d = first; d <= last; ++d) {
    if (small[d - lead] != full[d]) return false;
  }
  *inner = dims_product(full, last + 1, full.size());
  return true;
}

// Fast paths for one full-shape operand; false when the general loop is needed.
template <typename Fn, typename T, typename R>
bool apply_fast(const T* a, const Shape& as, const T* b, const Shape& bs, R* out,
                const Shape& os) {
  const int64_t n = dims_product(os, 0, os.size());
  int64_t block = 0;
  int64_t inner = 0;
  if (as == os && bs == os) {
    for (int64_t i = 0; i < n; ++i) out[i] = Fn::apply(a[i], b[i]);
  } else if (as == os && single_block(bs, os, &block, &inner)) {
    for (int64_t i = 0; i < n; ++i) out[i] = Fn::apply(a[i], b[(i / inner) % block]);
  } else if (bs == os && single_block(as, os, &block, &inner)) {
    for (int64_t i = 0; i < n; ++i) out[i] = Fn::apply(a[(i / inner) % block], b[i]);
  } else {
    return false;
  }
  return true;
}

Status check_divisor(const Node& node, const Tensor& divisor) {
  return dispatch<float, double, int8_t, uint8_t, int16_t, int32_t, int64_t>(
      node, divisor.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      for (int64_t i = 0; i < divisor.num_elements(); ++i) {
        if (divisor.data<T>()[i] == 0) {
          return error(StatusCode::kInvalidArgument, "integer division by zero (divisor element ",
                       i, ")");
        }
      }
    }
    return Status::ok();
  });
}

Status apply_activation(const Node& node, Tensor& out) {
  ASSIGN_OR_RETURN(Activation activation, node.attrs().get_activation());
  if (activation == Activation::kNone) return Status::ok();
  return dispatch<float, double>(node, out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    apply_fused_activation(activation, out.data<T>(), out.num_elements());
    return Status::ok();
  });
}

// Folds the inputs left to right into the output: out = f(f(x0, x1), x2) ...
template <typename Fn>
Status run_binary(KernelContext& ctx) {
  const Node& node = ctx.node;
  Tensor& out = *ctx.outputs[0];
  std::vector<Tensor> inputs;
  for (const Tensor* t : ctx.inputs) inputs.push_back(*t);
  // Pow's exponent may have another dtype than its base; it is read in the base's.
  if (node.op() == OpKind::kPow && inputs[1].dtype() != inputs[0].dtype()) {
    ASSIGN_OR_RETURN(inputs[1], inputs[1].cast(inputs[0].dtype()));
  }
  if (node.op() == OpKind::kDiv) RETURN_IF_ERROR(check_divisor(node, inputs[1]));
  for (const Tensor& t : inputs) {
    if (t.dtype() != inputs[0].dtype()) {
      return error(StatusCode::kInvalidArgument, node.op_name(), " inputs have dtypes ",
                   dtype_name(inputs[0].dtype()), " and ", dtype_name(t.dtype()));
    }
  }
  const bool fast = !ctx.options.reference_only;
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    using R = decltype(Fn::apply(T{}, T{}));
    R* y = out.data<R>();
    if (inputs.size() == 1) {
      if constexpr (std::is_same_v<R, T>) return copy_bytes(inputs[0], out);
    }
    const T* a = inputs[0].data<T>();
    Shape as = inputs[0].shape();
    for (size_t k = 1; k < inputs.size(); ++k) {
      const T* b = inputs[k].data<T>();
      const Shape& bs = inputs[k].shape();
      if (!fast || !apply_fast<Fn>(a, as, b, bs, y, out.shape())) {
        apply_plain<Fn>(a, as, b, bs, y, out.shape());
      }
      if constexpr (std::is_same_v<R, T>) {
        a = y;
        as = out.shape();
      }
    }
    return Status::ok();
  };
  if constexpr (Fn::kKind == BinaryKind::kEquality) {
    RETURN_IF_ERROR(
        (dispatch<float, double, int8_t, uint8_t, int16_t, int32_t, int64_t, bool>(
            node, inputs[0].dtype(), body)));
  } else {
    RETURN_IF_ERROR((dispatch<float, double, int8_t, uint8_t, int16_t, int32_t, int64_t>(
        node, inputs[0].dtype(), body)));
  }
  switch (node.op()) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
      return apply_activation(node, out);
    default:
      return Status::ok();
  }
}

}  // namespace

#define X(name, kind, expr) \
  Status run_##name(KernelContext& ctx) { return run_binary<name##Fn>(ctx); }
CONVMEND_BINARY_OPS(X)
#undef X

}  // namespace convmend
