#include "analysis/align_signals.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace convmend::analysis {
namespace {

// How the op reads its weight, after canonicalisation to [out, in, h, w] / [out, in].
enum class WeightOrder { kOIHW, kOHWI, k1HWO, kOI, kIO };

std::vector<float> to_floats(const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.num_elements()));
  if (t.dtype() == DType::kFloat32) {
    std::copy_n(t.data<float>(), out.size(), out.begin());
    return out;
  }
  const std::vector<double> d = t.to_doubles();
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(d[i]);
  return out;
}

// A tensor computed from constants by a chain of layout / dtype ops; nullopt otherwise.
// Only ops that keep values (up to dequantization) are followed: the weight of a layer.
std::optional<Tensor> static_weight(const Value* v, int depth = 0) {
  if (v == nullptr || depth > 8) return std::nullopt;
  if (v->is_constant()) {
    Tensor t = v->constant();
    if (t.quant().empty() && !v->quant().empty()) {
      t = t.clone();
      t.set_quant(v->quant());
    }
    if (!is_float(t.dtype()) || !t.quant().empty()) {
      Result<Tensor> d = t.dequantized(DType::kFloat32);
      if (!d.is_ok()) return std::nullopt;
      return std::move(d).value();
    }
    return t;
  }
  const Node* p = v->producer();
  if (p == nullptr) return std::nullopt;
  std::optional<Tensor> in = static_weight(p->input(0), depth + 1);
  if (!in) return std::nullopt;
  switch (p->op()) {
    case OpKind::kIdentity:
    case OpKind::kCast:
      return in;
    case OpKind::kReshape:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze: {
      if (!shape_is_static(v->shape())) return std::nullopt;
      Result<Tensor> r = in->reshaped(v->shape());
      if (!r.is_ok()) return std::nullopt;
      return std::move(r).value();
    }
    case OpKind::kDequantizeLinear: {
      if (p->input(1) == nullptr) return in;  // quant params were on the constant
      // Explicit scale / zero point inputs (ONNX): re-read the raw constant with them.
      const Value* raw = p->input(0);
      if (!raw->is_constant() || !p->input(1)->is_constant()) return std::nullopt;
      Tensor q = raw->constant().clone();
      QuantParams params;
      for (double s : p->input(1)->constant().to_doubles()) params.scale.push_back(float(s));
      if (p->input(2) != nullptr && p->input(2)->is_constant()) {
        params.zero_point = p->input(2)->constant().to_int64s();
      }
      Result<int64_t> axis = p->attrs().get_int("axis", 1);
      if (!axis.is_ok()) return std::nullopt;
      params.axis = static_cast<int32_t>(*axis < 0 ? *axis + q.rank() : *axis);
      q.set_quant(params);
      Result<Tensor> d = q.dequantized(DType::kFloat32);
      if (!d.is_ok()) return std::nullopt;
      return std::move(d).value();
    }
    case OpKind::kTranspose: {
      const int rank = in->rank();
      std::vector<int64_t> perm(static_cast<size_t>(rank));
      for (int i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = rank - 1 - i;
      Result<std::vector<int64_t>> given = p->attrs().get_ints("perm", perm);
      if (!given.is_ok() || given->size() != perm.size()) return std::nullopt;
      perm = *given;
      Shape out_shape(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) out_shape[i] = in->dim(int(perm[i]));
      std::vector<float> src = to_floats(*in);
      std::vector<float> dst(src.size());
      std::vector<int64_t> in_strides(perm.size(), 1);
      for (int i = rank - 2; i >= 0; --i) {
        in_strides[size_t(i)] = in_strides[size_t(i) + 1] * in->dim(i + 1);
      }
      std::vector<int64_t> index(perm.size(), 0);
      for (size_t o = 0; o < dst.size(); ++o) {
        int64_t offset = 0;
        for (size_t a = 0; a < perm.size(); ++a) offset += index[a] * in_strides[size_t(perm[a])];
        dst[o] = src[static_cast<size_t>(offset)];
        for (int a = rank - 1; a >= 0; --a) {
          if (++index[size_t(a)] < out_shape[size_t(a)]) break;
          index[size_t(a)] = 0;
        }
      }
      return Tensor::from_vector(DType::kFloat32, out_shape, dst);
    }
    default:
      return std::nullopt;
  }
}

// Raw sums of one channel; finish() turns them into the three scale-invariant moments.
struct Sums {
  double l1 = 0, l2 = 0, l4 = 0, max = 0;
  int64_t count = 0;
  void add(float v) {
    const double x = std::fabs(static_cast<double>(v));
    const double x2 = x * x;
    l1 += x;
    l2 += x2;
    l4 += x2 * x2;
    max = std::max(max, x);
  }
  void finish(float out[3]) const {
    if (l2 <= 0 || count == 0) {
      out[0] = out[1] = out[2] = 0;
      return;
    }
    const double k = static_cast<double>(count);
    out[0] = static_cast<float>(l1 / std::sqrt(k * l2));
    out[1] = static_cast<float>(max / std::sqrt(l2));
    out[2] = static_cast<float>(l2 * l2 / (k * l4));
  }
};

}  // namespace

std::optional<WeightFingerprint> weight_fingerprint(const Node& node, int samples_per_channel) {
  const Value* w = nullptr;
  WeightOrder order = WeightOrder::kOI;
  switch (node.op()) {
    case OpKind::kConv: {
      w = node.input(1);
      Result<WeightLayout> wl = node.attrs().get_weight_layout();
      if (!wl.is_ok()) return std::nullopt;
      order = *wl == WeightLayout::kOHWI   ? WeightOrder::kOHWI
              : *wl == WeightLayout::k1HWO ? WeightOrder::k1HWO
                                           : WeightOrder::kOIHW;
      break;
    }
    case OpKind::kFullyConnected:
      w = node.input(1);
      order = WeightOrder::kOI;
      break;
    case OpKind::kGemm: {
      w = node.input(1);
      Result<int64_t> trans_b = node.attrs().get_int("transB", 0);
      if (!trans_b.is_ok()) return std::nullopt;
      order = *trans_b != 0 ? WeightOrder::kOI : WeightOrder::kIO;
      break;
    }
    case OpKind::kMatMul:
      w = node.input(1);
      order = WeightOrder::kIO;
      break;
    default:
      return std::nullopt;
  }
  std::optional<Tensor> t = static_weight(w);
  if (!t || t->num_elements() == 0) return std::nullopt;
  const Shape& s = t->shape();
  const bool conv = order == WeightOrder::kOIHW || order == WeightOrder::kOHWI ||
                    order == WeightOrder::k1HWO;
  WeightFingerprint fp;
  fp.canonical = conv ? s.size() == 4 : s.size() == 2;
  std::vector<float> converted;
  const float* data = nullptr;
  if (t->dtype() == DType::kFloat32) {
    data = t->data<float>();
  } else {
    converted = to_floats(*t);
    data = converted.data();
  }
  const int64_t total = t->num_elements();
  if (!fp.canonical) {
    // Unknown layout (a batched MatMul weight, say): one channel, moments only.
    Sums sums;
    for (int64_t i = 0; i < total; ++i) sums.add(data[i]);
    sums.count = total;
    sums.finish(fp.global);
    fp.channels = 1;
    fp.per_channel = total;
    fp.moments.assign(fp.global, fp.global + 3);
    return fp;
  }
  // offset(o, k): the physical index of canonical element k of output channel o.
  int64_t channels = 0, per_channel = 0;
  int64_t kh = 1, kw = 1, ki = 1;
  switch (order) {
    case WeightOrder::kOIHW: channels = s[0]; ki = s[1]; kh = s[2]; kw = s[3]; break;
    case WeightOrder::kOHWI: channels = s[0]; kh = s[1]; kw = s[2]; ki = s[3]; break;
    case WeightOrder::k1HWO: channels = s[3]; kh = s[1]; kw = s[2]; ki = s[0]; break;
    case WeightOrder::kOI: channels = s[0]; ki = s[1]; break;
    case WeightOrder::kIO: channels = s[1]; ki = s[0]; break;
  }
  per_channel = ki * kh * kw;
  if (channels <= 0 || per_channel <= 0) return std::nullopt;
  auto offset = [&](int64_t o, int64_t k) -> int64_t {
    const int64_t i = k / (kh * kw), h = (k / kw) % kh, x = k % kw;
    switch (order) {
      case WeightOrder::kOIHW: return o * per_channel + k;
      case WeightOrder::kOHWI: return ((o * kh + h) * kw + x) * ki + i;
      case WeightOrder::k1HWO: return ((i * kh + h) * kw + x) * channels + o;
      case WeightOrder::kOI: return o * ki + k;
      case WeightOrder::kIO: return k * channels + o;
    }
    return 0;
  };
  fp.channels = channels;
  fp.per_channel = per_channel;
  // Moments in one pass over the physical layout: output channels are either contiguous
  // blocks (OIHW, OHWI, [out, in]) or the innermost axis (1HWO, [in, out]).
  std::vector<Sums> sums(static_cast<size_t>(channels));
  const bool channel_inner = order == WeightOrder::k1HWO || order == WeightOrder::kIO;
  if (channel_inner) {
    for (int64_t i = 0; i < total; ++i) sums[size_t(i % channels)].add(data[i]);
  } else {
    // Eight float lanes per sum so that the compiler vectorises the reduction.
    constexpr int kLanes = 8;
    for (int64_t o = 0; o < channels; ++o) {
      Sums& c = sums[size_t(o)];
      const float* p = data + o * per_channel;
      float l1[kLanes] = {}, l2[kLanes] = {}, l4[kLanes] = {}, mx[kLanes] = {};
      int64_t k = 0;
      for (; k + kLanes <= per_channel; k += kLanes) {
        for (int j = 0; j < kLanes; ++j) {
          const float x = std::fabs(p[k + j]);
          const float x2 = x * x;
          l1[j] += x;
          l2[j] += x2;
          l4[j] += x2 * x2;
          mx[j] = std::max(mx[j], x);
        }
      }
      for (int j = 0; j < kLanes; ++j) {
        c.l1 += l1[j];
        c.l2 += l2[j];
        c.l4 += l4[j];
        c.max = std::max(c.max, static_cast<double>(mx[j]));
      }
      for (; k < per_channel; ++k) c.add(p[k]);
    }
  }
  fp.moments.resize(static_cast<size_t>(channels * 3));
  Sums all;
  for (int64_t o = 0; o < channels; ++o) {
    Sums& c = sums[size_t(o)];
    c.count = per_channel;
    c.finish(&fp.moments[size_t(o * 3)]);
    all.l1 += c.l1;
    all.l2 += c.l2;
    all.l4 += c.l4;
    all.max = std::max(all.max, c.max);
  }
  all.count = total;
  all.finish(fp.global);
  fp.samples = static_cast<int>(std::min<int64_t>(samples_per_channel, per_channel));
  fp.sketch.resize(static_cast<size_t>(channels * fp.samples));
  for (int64_t o = 0; o < channels; ++o) {
    for (int j = 0; j < fp.samples; ++j) {
      const int64_t k = j * per_channel / fp.samples;  // spread over the channel
      fp.sketch[size_t(o * fp.samples + j)] = data[offset(o, k)];
    }
  }
  return fp;
}

double weight_similarity(const WeightFingerprint& a, const WeightFingerprint& b,
                         double* sketch_score) {
  if (sketch_score != nullptr) *sketch_score = -1;
  if (a.channels * a.per_channel != b.channels * b.per_channel) return 0.0;
  // Moments: per channel when both have the same channels, else over the whole tensor.
  double diff = 0;
  if (a.channels == b.channels && a.moments.size() == b.moments.size()) {
    for (size_t i = 0; i < a.moments.size(); ++i) diff += std::fabs(a.moments[i] - b.moments[i]);
    diff /= static_cast<double>(a.moments.size());
  } else {
    for (int i = 0; i < 3; ++i) diff += std::fabs(a.global[i] - b.global[i]) / 3.0;
  }
  // Calibrated on real pairs: int8 per-channel quantization moves the moments by ~0.003.
  const double moment_score = std::exp(-diff / 0.02);
  if (!a.canonical || !b.canonical || a.channels != b.channels || a.samples != b.samples ||
      a.samples == 0) {
    return 0.7 * moment_score;
  }
  // Layout-aware sketch: |cosine| per output channel, scale and sign invariant (BN folding).
  double total = 0;
  const size_t n = static_cast<size_t>(a.samples);
  for (int64_t o = 0; o < a.channels; ++o) {
    const float* x = &a.sketch[size_t(o) * n];
    const float* y = &b.sketch[size_t(o) * n];
    double xy = 0, xx = 0, yy = 0;
    for (size_t j = 0; j < n; ++j) {
      xy += double(x[j]) * y[j];
      xx += double(x[j]) * x[j];
      yy += double(y[j]) * y[j];
    }
    if (xx == 0 && yy == 0) {
      total += 1;
    } else if (xx > 0 && yy > 0) {
      total += std::fabs(xy) / std::sqrt(xx * yy);
    }
  }
  const double cosine = total / static_cast<double>(a.channels);
  // Unrelated vectors of n samples have E|cos| ~ sqrt(2 / (pi n)); map that to 0.
  const double chance = std::sqrt(2.0 / (M_PI * static_cast<double>(n)));
  const double sketch = std::clamp((cosine - chance) / (1.0 - chance), 0.0, 1.0);
  if (sketch_score != nullptr) *sketch_score = sketch;
  // A flatten-order change permutes a dense weight inside each channel: the sketch fails
  // while the moments still agree, so the moments keep a (lower) say.
  return std::max(sketch, 0.7 * moment_score);
}

std::vector<int64_t> layout_permutation(Layout from, Layout to) {
  if (from == to || (from != Layout::kNCHW && from != Layout::kNHWC) ||
      (to != Layout::kNCHW && to != Layout::kNHWC)) {
    return {};
  }
  return from == Layout::kNCHW ? std::vector<int64_t>{0, 2, 3, 1}
                               : std::vector<int64_t>{0, 3, 1, 2};
}

namespace {

Layout spatial_layout_attr(const Node& n) {
  Result<DataLayout> d = n.attrs().get_data_layout();
  if (!d.is_ok()) return Layout::kUnknown;
  return *d == DataLayout::kNHWC ? Layout::kNHWC : Layout::kNCHW;
}

bool has_spatial_layout(OpKind op) {
  switch (op) {
    case OpKind::kConv:
    case OpKind::kBatchNormalization:
    case OpKind::kMaxPool:
    case OpKind::kAveragePool:
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool:
    case OpKind::kResize:
      return true;
    default:
      return false;
  }
}

bool is_4d(const Value* v) { return v != nullptr && v->shape().size() == 4; }

}  // namespace

std::vector<Layout> infer_activation_layouts(const Graph& graph,
                                             const std::vector<Node*>& order) {
  int64_t max_id = 0;
  for (const Value* v : graph.values()) max_id = std::max(max_id, v->id());
  std::vector<Layout> layout(static_cast<size_t>(max_id + 1), Layout::kUnknown);
  auto tagged = [](const Value* v) {
    return v->layout() == Layout::kNCHW || v->layout() == Layout::kNHWC ? v->layout()
                                                                        : Layout::kUnknown;
  };
  for (const Value* in : graph.inputs()) {
    if (!is_4d(in) || in->is_constant()) continue;
    Layout l = Layout::kUnknown;
    // Consumers know better than a reader's default tag (tf2onnx keeps an NHWC input).
    for (const auto& [c, index] : in->consumers()) {
      if (c->op() == OpKind::kTranspose) {
        Result<std::vector<int64_t>> perm = c->attrs().get_ints("perm", {});
        if (perm.is_ok() && *perm == std::vector<int64_t>{0, 3, 1, 2}) l = Layout::kNHWC;
        if (perm.is_ok() && *perm == std::vector<int64_t>{0, 2, 3, 1}) l = Layout::kNCHW;
      } else if (has_spatial_layout(c->op()) && index == 0) {
        l = spatial_layout_attr(*c);
      }
      if (l != Layout::kUnknown) break;
    }
    layout[size_t(in->id())] = l != Layout::kUnknown ? l : tagged(in);
  }
  for (const Node* n : order) {
    for (const Value* out : n->outputs()) {
      if (!is_4d(out)) continue;
      Layout l = Layout::kUnknown;
      if (has_spatial_layout(n->op())) {
        l = spatial_layout_attr(*n);
      } else if (n->op() == OpKind::kTranspose) {
        Result<std::vector<int64_t>> perm = n->attrs().get_ints("perm", {});
        if (perm.is_ok() && *perm == std::vector<int64_t>{0, 2, 3, 1}) l = Layout::kNHWC;
        if (perm.is_ok() && *perm == std::vector<int64_t>{0, 3, 1, 2}) l = Layout::kNCHW;
      } else if (op_class_of(n->op()) == OpClass::kActivation ||
                 op_class_of(n->op()) == OpClass::kElementwise ||
                 op_class_of(n->op()) == OpClass::kPad ||
                 op_class_of(n->op()) == OpClass::kConcat ||
                 op_class_of(n->op()) == OpClass::kSplit ||
                 op_class_of(n->op()) == OpClass::kQuant || n->op() == OpKind::kIdentity ||
                 n->op() == OpKind::kCast) {
        for (const Value* in : n->inputs()) {
          if (is_4d(in) && layout[size_t(in->id())] != Layout::kUnknown) {
            l = layout[size_t(in->id())];
            break;
          }
        }
      }
      layout[size_t(out->id())] = l != Layout::kUnknown ? l : tagged(out);
    }
  }
  return layout;
}

namespace {

std::vector<int64_t> non_unit_sorted(const Shape& s) {
  std::vector<int64_t> d;
  for (int64_t x : s) {
    if (x != 1 && x != -1) d.push_back(x);
  }
  std::sort(d.begin(), d.end());
  return d;
}

int64_t element_count(const Shape& s) {
  int64_t n = 1;
  for (int64_t x : s) n *= std::max<int64_t>(x, 1);
  return n;
}

bool dims_match(const Shape& a, const Shape& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && a[i] != -1 && b[i] != -1) return false;
  }
  return true;
}

Shape permuted(const Shape& s, const std::vector<int64_t>& perm) {
  Shape out(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out[i] = s[size_t(perm[i])];
  return out;
}

}  // namespace

double shape_similarity(const Shape& a, const Shape& b) {
  if (non_unit_sorted(a) == non_unit_sorted(b)) return 1.0;
  if (element_count(a) == element_count(b)) return 0.5;
  return 0.0;
}

ValueTransform value_relation(const Shape& source, Layout source_layout, const Shape& target,
                              Layout target_layout, std::vector<int64_t>* permutation) {
  permutation->clear();
  if (source.size() == target.size()) {
    // The layouts decide when they are known and consistent with the shapes.
    std::vector<int64_t> by_layout = layout_permutation(source_layout, target_layout);
    if (!by_layout.empty() && source.size() == 4 &&
        dims_match(permuted(source, by_layout), target)) {
      *permutation = by_layout;
      return ValueTransform::kPermute;
    }
    const bool same_layout = source_layout == target_layout || source_layout == Layout::kUnknown ||
                             target_layout == Layout::kUnknown;
    if (dims_match(source, target) && same_layout) return ValueTransform::kIdentity;
    if (source.size() <= 6) {
      std::vector<int64_t> perm(source.size());
      std::iota(perm.begin(), perm.end(), 0);
      std::vector<std::vector<int64_t>> preferred;
      if (source.size() == 4) preferred = {{0, 2, 3, 1}, {0, 3, 1, 2}};
      for (const auto& p : preferred) {
        if (dims_match(permuted(source, p), target)) {
          *permutation = p;
          return ValueTransform::kPermute;
        }
      }
      do {
        if (dims_match(permuted(source, perm), target)) {
          if (std::is_sorted(perm.begin(), perm.end())) return ValueTransform::kIdentity;
          *permutation = perm;
          return ValueTransform::kPermute;
        }
      } while (std::next_permutation(perm.begin(), perm.end()));
    }
  }
  if (element_count(source) == element_count(target)) return ValueTransform::kReshape;
  return ValueTransform::kIncomparable;
}

int channel_axis_of(Layout layout, int rank) {
  if (rank <= 1) return -1;
  if (rank == 4 && layout == Layout::kNHWC) return 3;
  return 1;
}

std::vector<double> channel_statistics(const Tensor& t, int channel_axis) {
  Result<Tensor> f = t.dequantized(DType::kFloat32);
  if (!f.is_ok()) return {};
  const Tensor& x = *f;
  int64_t channels = 1, inner = 1;
  if (channel_axis >= 0 && channel_axis < x.rank()) {
    channels = x.dim(channel_axis);
    for (int a = channel_axis + 1; a < x.rank(); ++a) inner *= x.dim(a);
  }
  if (channels <= 0) return {};
  std::vector<double> sum(size_t(channels), 0), abs_sum(size_t(channels), 0);
  const float* d = x.data<float>();
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const size_t c = static_cast<size_t>((i / inner) % channels);
    sum[c] += d[i];
    abs_sum[c] += std::fabs(d[i]);
  }
  const double per = static_cast<double>(x.num_elements()) / static_cast<double>(channels);
  std::vector<double> out;
  out.reserve(size_t(channels) * 2);
  for (double s : sum) out.push_back(s / per);
  for (double s : abs_sum) out.push_back(s / per);
  return out;
}

double statistics_similarity(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.empty() || a.size() != b.size()) return -1;
  double diff = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const double denom = std::sqrt(na) + std::sqrt(nb);
  if (denom == 0) return 1.0;
  return std::clamp(1.0 - 2.0 * std::sqrt(diff) / denom, 0.0, 1.0);
}

}  // namespace convmend::analysis
