// Kernels of Cast, DequantizeLinear and QuantizeLinear.
#include <cmath>
#include <type_traits>

#include "ir/shape_inference.h"
#include "ir/shapes/shape_helpers.h"
#include "runtime/kernel.h"
#include "runtime/kernels/kernel_helpers.h"

namespace convmend {
namespace {

// One element from S to D: float to integer truncates toward zero and saturates (ONNX leaves
// out-of-range values undefined), integer to integer wraps, anything nonzero to bool is true.
template <typename S, typename D>
D convert(S s) {
  if constexpr (std::is_same_v<S, Half>) {
    return convert<float, D>(half_to_float(s.bits));
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{float_to_half(convert<S, float>(s))};
  } else if constexpr (std::is_same_v<D, bool>) {
    return s != S(0);
  } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    return saturate_cast<D>(static_cast<double>(s));
  } else {
    return static_cast<D>(s);
  }
}

#define CONVMEND_ALL_TYPES float, double, Half, int8_t, uint8_t, int16_t, int32_t, int64_t, bool

// Quantization parameters: one scale (and zero point) per tensor or per index of `axis`.
struct QuantSpec {
  std::vector<double> scale;
  std::vector<int64_t> zero_point;
  int64_t inner = 1;    // elements after the axis
  int64_t channels = 1;
  int64_t axis = 0;     // normalized; 0 for per-tensor parameters

  size_t channel(int64_t i) const {
    return scale.size() == 1 ? 0 : static_cast<size_t>((i / inner) % channels);
  }
};

Result<QuantSpec> make_spec(const Node& node, const Shape& x_shape, std::vector<double> scale,
                            std::vector<int64_t> zero_point, int64_t axis_attr) {
  QuantSpec spec;
  if (scale.empty()) return error(StatusCode::kInvalidModel, node.op_name(), " has no scale");
  if (zero_point.empty()) zero_point.assign(scale.size(), 0);
  if (zero_point.size() != scale.size()) {
    return error(StatusCode::kInvalidModel, node.op_name(), " has ", scale.size(),
                 " scales and ", zero_point.size(), " zero points");
  }
  if (scale.size() > 1) {
    ASSIGN_OR_RETURN(int64_t axis, shapes::tensor_axis(axis_attr, static_cast<int64_t>(x_shape.size())));
    const auto a = static_cast<size_t>(axis);
    if (x_shape[a] != static_cast<int64_t>(scale.size())) {
      return error(StatusCode::kInvalidModel, node.op_name(), " has ", scale.size(),
                   " scales for axis ", axis, " of ", shape_to_string(x_shape));
    }
    spec.axis = axis;
    spec.channels = x_shape[a];
    spec.inner = dims_product(x_shape, a + 1, x_shape.size());
  }
  spec.scale = std::move(scale);
  spec.zero_point = std::move(zero_point);
  return spec;
}

// From the scale and zero_point inputs, or else from `fallback` (the tensor's own parameters).
Result<QuantSpec> read_spec(const KernelContext& ctx, const QuantParams& fallback) {
  const Node& node = ctx.node;
  const Shape& x_shape = ctx.inputs[0]->shape();
  const bool has_scale = ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr;
  if (!has_scale) {
    if (fallback.empty()) {
      return error(StatusCode::kInvalidModel, node.op_name(),
                   " has no scale input and no quantization parameters");
    }
    std::vector<double> scale(fallback.scale.begin(), fallback.scale.end());
    return make_spec(node, x_shape, scale, fallback.zero_point, fallback.axis);
  }
  std::vector<int64_t> zero_point;
  if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) zero_point = ctx.inputs[2]->to_int64s();
  ASSIGN_OR_RETURN(int64_t axis, node.attrs().get_int("axis", 1));
  return make_spec(node, x_shape, ctx.inputs[1]->to_doubles(), zero_point, axis);
}

}  // namespace

Status run_Cast(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  return dispatch<CONVMEND_ALL_TYPES>(ctx.node, in.dtype(), [&](auto from) -> Status {
    using S = decltype(from);
    return dispatch<CONVMEND_ALL_TYPES>(ctx.node, out.dtype(), [&](auto to) -> Status {
      using D = decltype(to);
      const S* x = in.data<S>();
      D* y = out.data<D>();
      for (int64_t i = 0; i < in.num_elements(); ++i) y[i] = convert<S, D>(x[i]);
      return Status::ok();
    });
  });
}

Status run_DequantizeLinear(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  const bool has_scale = ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr;
  if (!has_scale && (is_float(in.dtype()) || in.quant().empty())) {
    if (!is_float(in.dtype())) {
      return error(StatusCode::kInvalidModel, "DequantizeLinear of ", dtype_name(in.dtype()),
                   " has no scale input and no quantization parameters on its input");
    }
    ASSIGN_OR_RETURN(Tensor widened, in.cast(out.dtype()));  // float16 -> float
    return copy_bytes(widened, out);
  }
  ASSIGN_OR_RETURN(QuantSpec spec, read_spec(ctx, in.quant()));
  // real = scale * (q - zero_point), exact in double and rounded once, as ONNX Runtime and TFLite.
  return dispatch<int8_t, uint8_t, int16_t, int32_t>(ctx.node, in.dtype(), [&](auto from) -> Status {
    using Q = decltype(from);
    return dispatch<float, double>(ctx.node, out.dtype(), [&](auto to) -> Status {
      using T = decltype(to);
      const Q* q = in.data<Q>();
      T* y = out.data<T>();
      for (int64_t i = 0; i < in.num_elements(); ++i) {
        const size_t c = spec.channel(i);
        y[i] = static_cast<T>(spec.scale[c] * static_cast<double>(static_cast<int64_t>(q[i]) -
                                                                  spec.zero_point[c]));
      }
      return Status::ok();
    });
  });
}

Status run_QuantizeLinear(KernelContext& ctx) {
  const Tensor& in = *ctx.inputs[0];
  Tensor& out = *ctx.outputs[0];
  ASSIGN_OR_RETURN(QuantSpec spec, read_spec(ctx, ctx.node.output(0)->quant()));
  // q = saturate(round_half_to_even(x / scale) + zero_point), the division in x's dtype.
  RETURN_IF_ERROR((dispatch<float, double>(ctx.node, in.dtype(), [&](auto from) -> Status {
    using T = decltype(from);
    return dispatch<int8_t, uint8_t, int16_t, int32_t>(ctx.node, out.dtype(), [&](auto to) -> Status {
      using Q = decltype(to);
      const T* x = in.data<T>();
      Q* q = out.data<Q>();
      for (int64_t i = 0; i < in.num_elements(); ++i) {
        const size_t c = spec.channel(i);
        const T scaled = std::nearbyint(x[i] / static_cast<T>(spec.scale[c]));
        q[i] = saturate_cast<Q>(static_cast<double>(scaled) +
                                static_cast<double>(spec.zero_point[c]));
      }
      return Status::ok();
    });
  })));
  QuantParams params;
  params.scale.assign(spec.scale.begin(), spec.scale.end());
  params.zero_point = spec.zero_point;
  params.axis = static_cast<int32_t>(spec.axis);
  out.set_quant(params);
  return Status::ok();
}

}  // namespace convmend
