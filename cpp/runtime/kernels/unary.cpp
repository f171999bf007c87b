// Kernels of the elementwise unary ops. Each op is one expression in CONVMEND_UNARY_OPS; the
// loop and the dtype switch are shared (run_unary).
#include <cmath>
#include <limits>
#include <numbers>

#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {
namespace {

struct UnaryParams {
  double alpha = 0.0;
  double beta = 0.0;
  bool tanh_approximation = false;  // Gelu
};

Result<UnaryParams> read_params(const Node& node) {
  const Attributes& attrs = node.attrs();
  UnaryParams p;
  const OpKind op = node.op();
  if (op == OpKind::kLeakyRelu) {
    ASSIGN_OR_RETURN(p.alpha, attrs.get_float("alpha", 0.01));
  } else if (op == OpKind::kHardSigmoid) {
    ASSIGN_OR_RETURN(p.alpha, attrs.get_float("alpha", 0.2));
    ASSIGN_OR_RETURN(p.beta, attrs.get_float("beta", 0.5));
  } else if (op == OpKind::kElu) {
    ASSIGN_OR_RETURN(p.alpha, attrs.get_float("alpha", 1.0));
  } else if (op == OpKind::kGelu) {
    ASSIGN_OR_RETURN(p.tanh_approximation, shapes::gelu_uses_tanh(attrs));
  }
  return p;
}

template <typename T>
T sigmoid(T x) {
  // Both branches avoid exp of a large positive number.
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
T softplus(T x) {
  return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

template <typename T>
T gelu(T x, bool tanh_approximation) {
  if (tanh_approximation) {
    const T k = T(std::sqrt(2.0 / std::numbers::pi));
    return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * x * x * x)));
  }
  return T(0.5) * x * (T(1) + std::erf(x / T(std::numbers::sqrt2)));
}

}  // namespace

// name, integer dtypes allowed (else f32/f64 only), y as an expression of x (type T) and p.
#define CONVMEND_UNARY_OPS(X)                                                       \
  X(Relu, true, x > T(0) ? x : T(0))                                                \
  X(Neg, true, static_cast<T>(-x))                                                  \
  X(Abs, true, static_cast<T>(x < T(0) ? -x : x))                                   \
  X(LeakyRelu, false, x < T(0) ? T(p.alpha) * x : x)                                \
  X(Sigmoid, false, sigmoid(x))                                                     \
  X(HardSigmoid, false, std::max(T(0), std::min(T(1), T(p.alpha) * x + T(p.beta)))) \
  X(HardSwish, false, x * std::min(std::max(x + T(3), T(0)), T(6)) / T(6))          \
  X(Tanh, false, std::tanh(x))                                                      \
  X(Gelu, false, gelu(x, p.tanh_approximation))                                     \
  X(Elu, false, x < T(0) ? T(p.alpha) * std::expm1(x) : x)                          \
  X(Softplus, false, softplus(x))                                                   \
  X(Erf, false, std::erf(x))                                                        \
  X(Sqrt, false, std::sqrt(x))                                                      \
  X(Exp, false, std::exp(x))                                                        \
  X(Log, false, std::log(x))                                                        \
  X(Reciprocal, false, T(1) / x)                                                    \
  X(Floor, false, std::floor(x))                                                    \
  X(Ceil, false, std::ceil(x))

namespace {

#define X(name, with_int, expr)                              \
  struct name##Fn {                                          \
    static constexpr bool kInt = with_int;                   \
    template <typename T>                                    \
    static T apply(T x, const UnaryParams& p) {              \
      (void)p;                                               \
      return expr;                                           \
    }                                                        \
  };
CONVMEND_UNARY_OPS(X)
#undef X

template <typename Fn>
Status run_unary(KernelContext& ctx) {
  ASSIGN_OR_RETURN(UnaryParams p, read_params(ctx.node));
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  auto body = [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in.data<T>();
    T* y = out.data<T>();
    for (int64_t i = 0; i < in.num_elements(); ++i) y[i] = Fn::apply(x[i], p);
    return Status::ok();
  };
  if constexpr (Fn::kInt) {
    return dispatch<float, double, int32_t, int64_t>(ctx.node, in.dtype(), body);
  } else {
    return dispatch<float, double>(ctx.node, in.dtype(), body);
  }
}

}  // namespace

#define X(name, with_int, expr) \
  Status run_##name(KernelContext& ctx) { return run_unary<name##Fn>(ctx); }
CONVMEND_UNARY_OPS(X)
#undef X

Status run_Identity(KernelContext& ctx) { return copy_bytes(*ctx.inputs[0], *ctx.outputs[0]); }

Status run_Clip(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  return dispatch<float, double, int8_t, uint8_t, int16_t, int32_t, int64_t>(
      ctx.node, in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T lo = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::max();
    for (size_t i = 1; i < ctx.inputs.size(); ++i) {
      const Tensor* bound = ctx.inputs[i];
      if (bound == nullptr) continue;
      if (bound->dtype() != in.dtype() || bound->num_elements() != 1) {
        return error(StatusCode::kInvalidArgument, "Clip ", i == 1 ? "min" : "max",
                     " must be one ", dtype_name(in.dtype()), " value, got ",
                     dtype_name(bound->dtype()), shape_to_string(bound->shape()));
      }
      (i == 1 ? lo : hi) = bound->data<T>()[0];
    }
    const T* x = in.data<T>();
    T* y = ctx.outputs[0]->data<T>();
    // Written as comparisons so that NaN passes through; min > max gives max, as numpy.
    for (int64_t k = 0; k < in.num_elements(); ++k) {
      T v = x[k] < lo ? lo : x[k];
      y[k] = v > hi ? hi : v;
    }
    return Status::ok();
  });
}

Status run_PRelu(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  const Tensor& slope = *ctx.inputs[1];
  if (slope.dtype() != in.dtype()) return unsupported_dtype(ctx.node, slope.dtype());
  return dispatch<float, double, int32_t, int64_t>(ctx.node, in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = in.data<T>();
    const T* s = slope.data<T>();
    T* y = ctx.outputs[0]->data<T>();
    StridedWalker walk(in.shape(), {broadcast_strides(slope.shape(), in.shape())});
    for (int64_t i = 0; i < in.num_elements(); ++i, walk.next()) {
      y[i] = x[i] < T(0) ? static_cast<T>(s[walk.offset(0)] * x[i]) : x[i];
    }
    return Status::ok();
  });
}

}  // namespace convmend
