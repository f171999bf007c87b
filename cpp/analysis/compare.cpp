#include "analysis/compare.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace convmend::analysis {
namespace {

std::vector<int64_t> inverse_permutation(const std::vector<int64_t>& p) {
  std::vector<int64_t> inv(p.size());
  for (size_t i = 0; i < p.size(); ++i) inv[size_t(p[i])] = int64_t(i);
  return inv;
}

// The canonical-from-stored permutation of each weight order (empty: already canonical).
std::vector<int64_t> to_canonical_perm(WeightOrder order) {
  switch (order) {
    case WeightOrder::kOHWI:
      return {0, 3, 1, 2};
    case WeightOrder::k1HWO:
      return {3, 0, 1, 2};
    case WeightOrder::kIO:
      return {1, 0};
    default:
      return {};
  }
}

}  // namespace

Result<Tensor> as_f32(const Tensor& t) {
  if (t.dtype() == DType::kFloat32 && t.quant().empty()) return t;
  if (!t.quant().empty()) return t.dequantized(DType::kFloat32);
  return t.cast(DType::kFloat32);
}

Result<Tensor> permuted(const Tensor& t, const std::vector<int64_t>& perm) {
  const int rank = t.rank();
  if (int(perm.size()) != rank) {
    return error(StatusCode::kInvalidArgument, "permutation of size ", perm.size(),
                 " for a tensor of rank ", rank);
  }
  ASSIGN_OR_RETURN(Tensor in, as_f32(t));
  Shape out_shape(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] < 0 || perm[i] >= rank) {
      return error(StatusCode::kInvalidArgument, "bad permutation axis ", perm[i]);
    }
    out_shape[i] = in.dim(int(perm[i]));
  }
  ASSIGN_OR_RETURN(Tensor out, Tensor::create(DType::kFloat32, out_shape));
  std::vector<int64_t> in_strides(perm.size(), 1);
  for (int i = rank - 2; i >= 0; --i)
    in_strides[size_t(i)] = in_strides[size_t(i) + 1] * in.dim(i + 1);
  std::vector<int64_t> step(perm.size());
  for (size_t a = 0; a < perm.size(); ++a) step[a] = in_strides[size_t(perm[a])];
  const float* src = in.data<float>();
  float* dst = out.data<float>();
  const bool to_nhwc = perm == std::vector<int64_t>{0, 2, 3, 1};
  const bool to_nchw = perm == std::vector<int64_t>{0, 3, 1, 2};
  if (to_nhwc || to_nchw) {
    // A batch of [rows, cols] -> [cols, rows] matrix transposes, in cache-sized tiles.
    const Shape& s = in.shape();
    const int64_t rows = to_nhwc ? s[1] : s[1] * s[2];
    const int64_t cols = to_nhwc ? s[2] * s[3] : s[3];
    constexpr int64_t kTile = 32;
    for (int64_t n = 0; n < s[0]; ++n) {
      const float* a = src + n * rows * cols;
      float* b = dst + n * rows * cols;
      for (int64_t r0 = 0; r0 < rows; r0 += kTile)
        for (int64_t c0 = 0; c0 < cols; c0 += kTile)
          for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
            for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
              b[c * rows + r] = a[r * cols + c];
    }
    return out;
  }
  if (rank == 4) {
    // The common case (NCHW <-> NHWC activations): plain loops, strided reads.
    int64_t k = 0;
    for (int64_t a = 0; a < out_shape[0]; ++a)
      for (int64_t b = 0; b < out_shape[1]; ++b)
        for (int64_t c = 0; c < out_shape[2]; ++c) {
          const float* base = src + a * step[0] + b * step[1] + c * step[2];
          const int64_t s3 = step[3];
          for (int64_t d = 0; d < out_shape[3]; ++d) dst[k++] = base[d * s3];
        }
    return out;
  }
  std::vector<int64_t> index(perm.size(), 0);
  int64_t offset = 0;
  for (int64_t o = 0; o < out.num_elements(); ++o) {
    dst[o] = src[offset];
    for (int a = rank - 1; a >= 0; --a) {
      offset += step[size_t(a)];
      if (++index[size_t(a)] < out_shape[size_t(a)]) break;
      offset -= step[size_t(a)] * out_shape[size_t(a)];
      index[size_t(a)] = 0;
    }
  }
  return out;
}

Result<Tensor> source_in_target_view(const Tensor& source, const NodeMatch& match,
                                     const Shape& target_shape) {
  switch (match.transform) {
    case ValueTransform::kIdentity:
      return as_f32(source);
    case ValueTransform::kPermute:
      return permuted(source, match.permutation);
    case ValueTransform::kReshape: {
      ASSIGN_OR_RETURN(Tensor f, as_f32(source));
      return f.reshaped(target_shape);
    }
    default:
      return error(StatusCode::kInvalidArgument, "the match's values are not comparable");
  }
}

Result<Tensor> target_in_source_view(const Tensor& target, const NodeMatch& match,
                                     const Shape& source_shape) {
  switch (match.transform) {
    case ValueTransform::kIdentity:
      return as_f32(target);
    case ValueTransform::kPermute:
      return permuted(target, inverse_permutation(match.permutation));
    case ValueTransform::kReshape: {
      ASSIGN_OR_RETURN(Tensor f, as_f32(target));
      return f.reshaped(source_shape);
    }
    default:
      return error(StatusCode::kInvalidArgument, "the match's values are not comparable");
  }
}

void ErrorAccumulator::add(const Tensor& actual, const Tensor& reference) {
  Result<Tensor> a = as_f32(actual);
  Result<Tensor> r = as_f32(reference);
  if (!a.is_ok() || !r.is_ok() || a->num_elements() != r->num_elements()) {
    valid = false;
    return;
  }
  const float* pa = a->data<float>();
  const float* pr = r->data<float>();
  for (int64_t i = 0; i < a->num_elements(); ++i) {
    const double d = std::fabs(double(pa[i]) - double(pr[i]));
    // NaN on either side counts as a full disagreement.
    max_diff = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(max_diff, d);
    max_reference = std::max(max_reference, std::fabs(double(pr[i])));
  }
}

double ErrorAccumulator::relative() const {
  if (!valid) return std::numeric_limits<double>::infinity();
  return max_diff / std::max(max_reference, 1e-12);
}

std::vector<int64_t> top1_labels(const Tensor& logits) {
  std::vector<int64_t> out;
  Result<Tensor> f = as_f32(logits);
  if (!f.is_ok() || f->rank() == 0 || f->num_elements() == 0) return out;
  const int64_t rows = f->dim(0);
  const int64_t cols = f->num_elements() / std::max<int64_t>(rows, 1);
  const float* p = f->data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c) {
      if (p[r * cols + c] > p[r * cols + best]) best = c;
    }
    out.push_back(best);
  }
  return out;
}

std::optional<CanonicalWeight> canonical_weight(const Node& node) {
  CanonicalWeight cw;
  switch (node.op()) {
    case OpKind::kConv: {
      Result<WeightLayout> wl = node.attrs().get_weight_layout();
      if (!wl.is_ok()) return std::nullopt;
      cw.order = *wl == WeightLayout::kOHWI   ? WeightOrder::kOHWI
                 : *wl == WeightLayout::k1HWO ? WeightOrder::k1HWO
                                              : WeightOrder::kOIHW;
      break;
    }
    case OpKind::kFullyConnected:
      cw.order = WeightOrder::kOI;
      break;
    case OpKind::kGemm: {
      Result<int64_t> tb = node.attrs().get_int("transB", 0);
      if (!tb.is_ok()) return std::nullopt;
      cw.order = *tb != 0 ? WeightOrder::kOI : WeightOrder::kIO;
      break;
    }
    case OpKind::kMatMul:
      cw.order = WeightOrder::kIO;
      break;
    default:
      return std::nullopt;
  }
  // Follow value-keeping ops back to the stored constant. An ONNX QDQ DequantizeLinear takes
  // its scale and zero point as constant inputs; they become the weight's quantization.
  const Value* v = node.input(1);
  QuantParams qdq;
  for (int depth = 0; v != nullptr && !v->is_constant() && depth < 4; ++depth) {
    const Node* p = v->producer();
    if (p == nullptr) return std::nullopt;
    if (p->op() == OpKind::kDequantizeLinear && p->input(1) == nullptr) {
      v = p->input(0);
    } else if (p->op() == OpKind::kDequantizeLinear && p->input(1)->is_constant() &&
               (p->input(2) == nullptr || p->input(2)->is_constant())) {
      const std::vector<double> scale = p->input(1)->constant().to_doubles();
      const std::vector<int64_t> zero = p->input(2) != nullptr
                                            ? p->input(2)->constant().to_int64s()
                                            : std::vector<int64_t>(scale.size(), 0);
      Result<int64_t> axis = p->attrs().get_int("axis", 1);
      if (scale.empty() || zero.size() != scale.size() || !axis.is_ok()) return std::nullopt;
      qdq.scale.assign(scale.begin(), scale.end());
      qdq.zero_point = zero;
      const int64_t rank = int64_t(p->input(0)->shape().size());
      qdq.axis = int32_t(*axis < 0 ? *axis + rank : *axis);
      v = p->input(0);
    } else if (p->op() == OpKind::kCast || p->op() == OpKind::kIdentity) {
      v = p->input(0);
    } else {
      return std::nullopt;
    }
  }
  if (v == nullptr || !v->is_constant()) return std::nullopt;
  cw.stored = v;
  cw.direct = v == node.input(1);
  Tensor raw = v->constant();
  if (raw.quant().empty() && (!v->quant().empty() || !qdq.empty())) {
    raw = raw.clone();
    raw.set_quant(!qdq.empty() ? qdq : v->quant());
  }
  cw.stored_dtype = raw.dtype();
  cw.quant = raw.quant();
  Result<Tensor> f = as_f32(raw);
  if (!f.is_ok()) return std::nullopt;
  const bool conv = cw.order == WeightOrder::kOIHW || cw.order == WeightOrder::kOHWI ||
                    cw.order == WeightOrder::k1HWO;
  if (f->rank() != (conv ? 4 : 2)) return std::nullopt;
  const std::vector<int64_t> perm = to_canonical_perm(cw.order);
  if (perm.empty()) {
    cw.canonical = f->clone();
  } else {
    Result<Tensor> c = permuted(*f, perm);
    if (!c.is_ok()) return std::nullopt;
    cw.canonical = std::move(c).value();
  }
  return cw;
}

Result<Tensor> from_canonical(const Tensor& canonical, WeightOrder order, const Shape& stored) {
  const std::vector<int64_t> perm = to_canonical_perm(order);
  Tensor out = canonical;
  if (!perm.empty()) {
    ASSIGN_OR_RETURN(out, permuted(canonical, inverse_permutation(perm)));
  }
  if (out.shape() != stored) {
    return error(StatusCode::kInvalidArgument, "weight of shape ", shape_to_string(out.shape()),
                 " does not fit the stored shape ", shape_to_string(stored));
  }
  return out;
}

Result<Tensor> to_stored_dtype(const Tensor& f32, DType dtype, const QuantParams& quant) {
  if (dtype == DType::kFloat32) return f32;
  if (dtype == DType::kFloat16 || dtype == DType::kFloat64) return f32.cast(dtype);
  if (dtype != DType::kInt8 && dtype != DType::kUInt8) {
    return error(StatusCode::kUnsupported, "weights stored as ", dtype_name(dtype));
  }
  if (quant.empty()) return error(StatusCode::kInvalidArgument, "integer weight without scales");
  ASSIGN_OR_RETURN(Tensor out, Tensor::create(dtype, f32.shape()));
  const size_t channels = quant.scale.size();
  int64_t inner = 1, axis_dim = 1;
  if (channels > 1) {
    axis_dim = f32.dim(quant.axis);
    for (int a = quant.axis + 1; a < f32.rank(); ++a) inner *= f32.dim(a);
  }
  const double lo = dtype == DType::kInt8 ? -128 : 0, hi = dtype == DType::kInt8 ? 127 : 255;
  for (int64_t i = 0; i < f32.num_elements(); ++i) {
    const size_t c = channels > 1 ? size_t((i / inner) % axis_dim) : 0;
    const double zp = quant.zero_point.empty() ? 0.0 : double(quant.zero_point[c]);
    const double q = std::clamp(std::nearbyint(f32.data<float>()[i] / quant.scale[c] + zp), lo, hi);
    if (dtype == DType::kInt8) {
      out.data<int8_t>()[i] = static_cast<int8_t>(q);
    } else {
      out.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    }
  }
  out.set_quant(quant);
  return out;
}

double isolated_tolerance(OpClass op_class, DType weight_dtype, double scale) {
  // Measured on clean pairs (docs/localize.md): float32 blocks stay below ~1e-5 relative;
  // int8 weights cost up to ~2e-2 per block, float16 ~2e-3.
  double base = 1e-4;
  switch (op_class) {
    case OpClass::kConv:
    case OpClass::kDense:
      base = 1e-4;
      break;
    case OpClass::kSoftmax:
    case OpClass::kResize:
      base = 2e-4;
      break;
    default:
      base = 1e-4;
      break;
  }
  if (weight_dtype == DType::kInt8 || weight_dtype == DType::kUInt8) base = 5e-2;
  if (weight_dtype == DType::kFloat16) base = 5e-3;
  return base * scale;
}

}  // namespace convmend::analysis
