// Parameter stage: the weights and biases of each aligned anchor pair compared in the
// canonical layout, after folding the per-channel affine ops that follow the anchor on each
// side (BatchNorm, Mul/Add/Sub/Div by constants), so that a folded and an unfolded BatchNorm
// compare equal. Outcomes: param.value, param.layout, param.declared_lossy, and
// graph.extra_op when dropping one target affine op explains the difference.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <sstream>

#include "analysis/localize_internal.h"

namespace convmend::analysis {
namespace {

std::string fmt(double v) {
  std::ostringstream o;
  o.precision(3);
  o << v;
  return o.str();
}

std::vector<float> floats_of(const Tensor& t) {
  Result<Tensor> f = as_f32(t);
  if (!f.is_ok()) return {};
  return std::vector<float>(f->data<float>(), f->data<float>() + f->num_elements());
}

// The value of a constant-derived input, from the run state (constants and folded nodes).
std::optional<std::vector<float>> constant_floats(const RunState& state, const Value* v) {
  if (v == nullptr) return std::nullopt;
  const Tensor* t = state.get(v);
  if (t == nullptr) {
    if (!v->is_constant()) return std::nullopt;
    return floats_of(v->constant());
  }
  return floats_of(*t);
}

// Per output channel y = scale * x + shift, composed from the affine ops after an anchor.
struct Affine {
  std::vector<double> scale, shift;
  std::vector<const Node*> nodes;  // the ops folded in
};

bool broadcast_channel(const std::vector<float>& c, size_t channels, std::vector<double>* out) {
  if (c.size() == 1) {
    out->assign(channels, c[0]);
    return true;
  }
  if (c.size() != channels) return false;
  out->assign(c.begin(), c.end());
  return true;
}

// Folds the affine ops that directly follow `anchor` inside the block (`nodes` in order).
// `skip` is left out (treated as identity); `epsilon`, when >= 0, replaces BN epsilons.
Affine affine_after(const std::vector<const Node*>& nodes, const Node* anchor,
                    const RunState& state, const std::vector<bool>& constant, size_t channels,
                    const Node* skip, double epsilon) {
  Affine a;
  a.scale.assign(channels, 1.0);
  a.shift.assign(channels, 0.0);
  const Value* running = anchor->output(0);
  auto is_const = [&](const Value* v) {
    return v != nullptr && size_t(v->id()) < constant.size() && constant[size_t(v->id())];
  };
  bool started = false;
  for (const Node* n : nodes) {
    if (n == anchor) {
      started = true;
      continue;
    }
    if (!started) continue;
    if (n->inputs().empty() ||
        std::find(n->inputs().begin(), n->inputs().end(), running) == n->inputs().end()) {
      break;
    }
    if (n == skip) {
      running = n->output(0);
      continue;
    }
    if (n->op() == OpKind::kBatchNormalization) {
      auto g = constant_floats(state, n->input(1));
      auto b = constant_floats(state, n->input(2));
      auto m = constant_floats(state, n->input(3));
      auto v = constant_floats(state, n->input(4));
      Result<double> eps = n->attrs().get_float("epsilon", 1e-5);
      if (!g || !b || !m || !v || !eps.is_ok() || g->size() != channels || b->size() != channels ||
          m->size() != channels || v->size() != channels) {
        break;
      }
      const double e = epsilon >= 0 ? epsilon : *eps;
      for (size_t c = 0; c < channels; ++c) {
        const double f = (*g)[c] / std::sqrt(double((*v)[c]) + e);
        a.scale[c] *= f;
        a.shift[c] = (a.shift[c] - (*m)[c]) * f + (*b)[c];
      }
    } else if (n->op() == OpKind::kMul || n->op() == OpKind::kDiv || n->op() == OpKind::kAdd ||
               n->op() == OpKind::kSub) {
      const bool data_first = n->input(0) == running;
      const Value* other = data_first ? n->input(1) : n->input(0);
      if (!is_const(other)) break;
      auto c = constant_floats(state, other);
      std::vector<double> k;
      if (!c || !broadcast_channel(*c, channels, &k)) break;
      for (size_t i = 0; i < channels; ++i) {
        switch (n->op()) {
          case OpKind::kMul:
            a.scale[i] *= k[i];
            a.shift[i] *= k[i];
            break;
          case OpKind::kAdd:
            a.shift[i] += k[i];
            break;
          case OpKind::kSub:
            if (data_first) {
              a.shift[i] -= k[i];
            } else {
              a.scale[i] = -a.scale[i];
              a.shift[i] = k[i] - a.shift[i];
            }
            break;
          default:  // Div
            if (!data_first || k[i] == 0) return a;
            a.scale[i] /= k[i];
            a.shift[i] /= k[i];
            break;
        }
      }
    } else {
      break;
    }
    a.nodes.push_back(n);
    running = n->output(0);
  }
  return a;
}

// One side of an anchor pair: the node, its weight, its bias, the affine ops after it.
struct Side {
  const Node* anchor = nullptr;
  std::optional<CanonicalWeight> weight;
  std::vector<float> bias;  // raw bias (zeros when none)
  const Value* bias_value = nullptr;
  std::vector<const Node*> nodes;
  std::vector<const Node*> bns;
};

Side side_of(const Graph& g, const std::vector<int64_t>& ids, const std::vector<bool>& constant,
             const std::vector<int>& position, const RunState& state) {
  Side s;
  s.nodes = data_nodes(g, ids, constant, position);
  for (const Node* n : s.nodes) {
    if (s.anchor == nullptr) {
      std::optional<CanonicalWeight> w = canonical_weight(*n);
      if (w) {
        s.anchor = n;
        s.weight = std::move(w);
      }
    }
    if (n->op() == OpKind::kBatchNormalization) s.bns.push_back(n);
  }
  if (s.anchor == nullptr) return s;
  const size_t out = size_t(s.weight->canonical.dim(0));
  s.bias.assign(out, 0.0f);
  if (s.anchor->op() != OpKind::kMatMul && s.anchor->input(2) != nullptr) {
    auto b = constant_floats(state, s.anchor->input(2));
    if (b && b->size() == out) {
      s.bias = *b;
      s.bias_value = s.anchor->input(2);
    }
  }
  return s;
}

// Effective weight (canonical, per output channel scaled) and bias.
void effective(const Side& s, const Affine& a, std::vector<float>* w, std::vector<double>* b) {
  const Tensor& c = s.weight->canonical;
  const size_t out = size_t(c.dim(0));
  const size_t per = size_t(c.num_elements()) / std::max<size_t>(out, 1);
  w->assign(c.data<float>(), c.data<float>() + c.num_elements());
  b->assign(out, 0.0);
  for (size_t o = 0; o < out; ++o) {
    for (size_t k = 0; k < per; ++k) (*w)[o * per + k] = float((*w)[o * per + k] * a.scale[o]);
    (*b)[o] = s.bias[o] * a.scale[o] + a.shift[o];
  }
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

// max |a - b| / max |b|, and the output channel where the per-channel ratio is worst.
double relative_diff(const std::vector<float>& a, const std::vector<float>& b, size_t channels,
                     size_t* worst_channel) {
  const double scale = std::max(max_abs(b), 1e-12);
  const size_t per = b.size() / std::max<size_t>(channels, 1);
  double worst = 0;
  *worst_channel = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = std::fabs(double(a[i]) - double(b[i])) / scale;
    if (d > worst) {
      worst = d;
      *worst_channel = per > 0 ? i / per : 0;
    }
  }
  return a.size() == b.size() ? worst : 1e30;
}

double bias_diff(const std::vector<double>& a, const std::vector<double>& b, double weight_scale) {
  double m = 0, d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    m = std::max(m, std::fabs(b[i]));
    d = std::max(d, std::fabs(a[i] - b[i]));
  }
  return d / std::max({m, weight_scale, 1e-12});
}

// Reorders axis `axis` of a row-major tensor of `shape`: out[..., i, ...] = in[..., p[i], ...].
std::vector<float> reorder_axis(const std::vector<float>& in, const Shape& shape, size_t axis,
                                const std::vector<int64_t>& p) {
  int64_t outer = 1, inner = 1;
  for (size_t a = 0; a < axis; ++a) outer *= shape[a];
  for (size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
  const int64_t n = shape[axis];
  std::vector<float> out(in.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(in.begin() + (o * n + p[size_t(i)]) * inner, inner,
                  out.begin() + (o * n + i) * inner);
  return out;
}

// A permutation p along `axis` with target[.., p[i], ..] ~ source[.., i, ..], matched by
// slice fingerprints (sum, sum of squares); empty when none is found.
// Per-slice (sum, sum of squares) along `axis`.
std::vector<std::pair<double, double>> slice_sums(const std::vector<float>& v, const Shape& shape,
                                                  size_t axis) {
  const int64_t n = shape[axis];
  std::vector<std::pair<double, double>> f(static_cast<size_t>(n), std::make_pair(0.0, 0.0));
  int64_t outer = 1, inner = 1;
  for (size_t a = 0; a < axis; ++a) outer *= shape[a];
  for (size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t k = 0; k < inner; ++k) {
        const double x = v[static_cast<size_t>((o * n + i) * inner + k)];
        f[static_cast<size_t>(i)].first += x;
        f[static_cast<size_t>(i)].second += x * x;
      }
  return f;
}

// A permutation p along `axis` with target[.., p[i], ..] ~ source[.., i, ..], matched by
// slice fingerprints (sum, sum of squares); empty when none is found or it is the identity.
std::vector<int64_t> match_slices(const std::vector<float>& target,
                                  const std::vector<float>& source, const Shape& shape,
                                  size_t axis) {
  std::vector<int64_t> identity(static_cast<size_t>(shape[axis]));
  std::iota(identity.begin(), identity.end(), 0);
  const auto ft = slice_sums(target, shape, axis), fs = slice_sums(source, shape, axis);
  std::vector<int64_t> p(fs.size(), -1);
  std::vector<bool> used(ft.size(), false);
  for (size_t i = 0; i < fs.size(); ++i) {
    double best = 1e300;
    int64_t arg = -1;
    for (size_t j = 0; j < ft.size(); ++j) {
      if (used[j]) continue;
      const double d =
          std::fabs(ft[j].first - fs[i].first) + std::fabs(ft[j].second - fs[i].second);
      if (d < best) {
        best = d;
        arg = int64_t(j);
      }
    }
    if (arg < 0) return {};
    p[i] = arg;
    used[size_t(arg)] = true;
  }
  if (p == identity) return {};
  return p;
}

std::string ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < 16; ++i) s += (i ? "," : "") + std::to_string(v[i]);
  if (v.size() > 16) s += ",...";
  return s + "]";
}

// The rank-4 shape (own layout) feeding a dense anchor through flatten-like ops, if any.
std::optional<Shape> dense_input_shape(const Node* anchor, const RunState& state) {
  const Value* v = anchor->input(0);
  for (int depth = 0; v != nullptr && depth < 6; ++depth) {
    const Tensor* t = state.get(v);
    if (t != nullptr && t->rank() == 4) return t->shape();
    const Node* p = v->producer();
    if (p == nullptr || !is_layout_op(p->op())) return std::nullopt;
    v = p->input(0);
  }
  return std::nullopt;
}

// Index map between a [C, H, W] and an [H, W, C] flattening of `in` features.
std::vector<int64_t> flatten_order(int64_t c, int64_t h, int64_t w, bool chw_to_hwc) {
  std::vector<int64_t> p(size_t(c * h * w));
  for (int64_t ci = 0; ci < c; ++ci)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t wi = 0; wi < w; ++wi) {
        const int64_t chw = (ci * h + hi) * w + wi, hwc = (hi * w + wi) * c + ci;
        if (chw_to_hwc) {
          p[size_t(hwc)] = chw;
        } else {
          p[size_t(chw)] = hwc;
        }
      }
  return p;
}

}  // namespace

void check_parameters(const LocalizeContext& ctx, std::vector<Suspect>* out) {
  Suspect lossy;
  lossy.finding.code = "param.declared_lossy";
  lossy.finding.stage = "parameters";
  double lossy_worst = 0;
  int lossy_count = 0;
  std::string lossy_dtypes;

  for (size_t mi = 0; mi < ctx.alignment.matches.size(); ++mi) {
    const NodeMatch& m = ctx.alignment.matches[mi];
    if (!m.anchor) continue;
    Side s = side_of(ctx.source, m.source_nodes, ctx.source_constant, ctx.source_position,
                     ctx.source_state);
    Side t = side_of(ctx.target, m.target_nodes, ctx.target_constant, ctx.target_position,
                     ctx.target_state);
    if (s.anchor == nullptr || t.anchor == nullptr) continue;
    const Tensor& ws = s.weight->canonical;
    const Tensor& wt = t.weight->canonical;
    if (ws.shape() != wt.shape()) continue;  // kernel size / group: the hyperparameter stage
    const size_t channels = size_t(ws.dim(0));
    // Epsilon differences are reported by the hyperparameter stage; compare the weights with
    // the source's epsilon on both sides.
    double eps = -1;
    if (!s.bns.empty() && !t.bns.empty()) {
      Result<double> e = s.bns.front()->attrs().get_float("epsilon", 1e-5);
      if (e.is_ok()) eps = *e;
    }
    const Affine as = affine_after(s.nodes, s.anchor, ctx.source_state, ctx.source_constant,
                                   channels, nullptr, -1);
    const Affine at = affine_after(t.nodes, t.anchor, ctx.target_state, ctx.target_constant,
                                   channels, nullptr, eps);
    std::vector<float> ws_eff, wt_eff;
    std::vector<double> bs_eff, bt_eff;
    effective(s, as, &ws_eff, &bs_eff);
    effective(t, at, &wt_eff, &bt_eff);

    // The source's weight as the target stores it (undoing the target's own affine ops).
    std::vector<float> expected_canon(ws_eff.size());
    const size_t per = ws_eff.size() / std::max<size_t>(channels, 1);
    bool invertible = true;
    for (size_t o = 0; o < channels; ++o) {
      if (at.scale[o] == 0) invertible = false;
      for (size_t k = 0; k < per; ++k) {
        expected_canon[o * per + k] =
            float(ws_eff[o * per + k] / (at.scale[o] == 0 ? 1 : at.scale[o]));
      }
    }
    const DType stored = t.weight->stored_dtype;
    const bool lossy_dtype =
        stored == DType::kInt8 || stored == DType::kUInt8 || stored == DType::kFloat16;

    // Element-wise check against the precision of the stored dtype.
    bool within_noise = true;
    double worst_ratio = 0;
    Result<Tensor> expected_stored =
        from_canonical(Tensor::from_vector(DType::kFloat32, ws.shape(), expected_canon),
                       t.weight->order, t.weight->stored->shape());
    if (!expected_stored.is_ok() || !invertible) continue;
    {
      const std::vector<float> exp = floats_of(*expected_stored);
      Tensor raw = t.weight->stored->constant();
      if (raw.quant().empty() && !t.weight->quant.empty()) {
        raw = raw.clone();
        raw.set_quant(t.weight->quant);
      }
      const std::vector<float> act = floats_of(raw);
      const QuantParams& q = t.weight->quant;
      int64_t inner = 1, axis_dim = 1;
      if (q.per_channel()) {
        axis_dim = raw.dim(q.axis);
        for (int a = q.axis + 1; a < raw.rank(); ++a) inner *= raw.dim(a);
      }
      const double emax = std::max(max_abs(exp), 1e-12);
      for (size_t i = 0; i < exp.size() && i < act.size(); ++i) {
        double tol = 1e-4 * emax;
        if (!q.empty()) {
          const size_t c = q.per_channel() ? size_t((int64_t(i) / inner) % axis_dim) : 0;
          tol = 0.5 * q.scale[c] * 1.02 + 1e-6 * emax;
        } else if (stored == DType::kFloat16) {
          // Half a float16 step: 2^-11 of the value, and 2^-25 at least (below 2^-14 the
          // float16 numbers are subnormal, evenly 2^-24 apart); with margin.
          tol = std::max(std::fabs(exp[i]) * 1e-3, 0x1p-24) + 1e-6 * emax;
        }
        const double r = std::fabs(double(exp[i]) - double(act[i])) / tol;
        worst_ratio = std::max(worst_ratio, r);
        if (r > 1) within_noise = false;
      }
    }
    const double bdiff = bias_diff(bt_eff, bs_eff, 0.0);
    const bool bias_ok = bdiff <= (lossy_dtype ? 2e-2 : 1e-3);
    size_t worst_channel = 0;
    const double wdiff = relative_diff(wt_eff, ws_eff, channels, &worst_channel);
    if (within_noise && bias_ok) {
      if (lossy_dtype) {
        ++lossy_count;
        lossy_worst = std::max(lossy_worst, wdiff);
        if (lossy_dtypes.find(dtype_name(stored)) == std::string::npos) {
          lossy_dtypes += std::string(lossy_dtypes.empty() ? "" : ", ") + dtype_name(stored);
        }
        lossy.finding.target_nodes.push_back(t.anchor->id());
        lossy.finding.source_nodes.push_back(s.anchor->id());
        // The undo, applied only when the user asks for float weights back.
        if (!t.weight->direct) {
          Edit e;
          e.kind = Edit::Kind::kRestoreFloat;
          e.value = t.weight->stored->id();
          e.tensor = *expected_stored;
          lossy.finding.edits.push_back(std::move(e));
        }
      }
      continue;
    }

    Suspect sus;
    sus.match = int(mi);
    Finding& f = sus.finding;
    f.stage = "parameters";
    f.target_nodes = {t.anchor->id()};
    f.source_nodes = {s.anchor->id()};
    // (1) An affine target op without a source counterpart (an inserted Mul, say).
    bool explained = false;
    for (const Node* n : at.nodes) {
      if (n->op() == OpKind::kBatchNormalization) continue;
      const Affine alt =
          affine_after(t.nodes, t.anchor, ctx.target_state, ctx.target_constant, channels, n, eps);
      std::vector<float> w2;
      std::vector<double> b2;
      effective(t, alt, &w2, &b2);
      size_t wc = 0;
      const double noise = lossy_dtype ? 2e-2 : 1e-4;
      if (relative_diff(w2, ws_eff, channels, &wc) <= noise &&
          bias_diff(b2, bs_eff, 0.0) <= (lossy_dtype ? 2e-2 : 1e-3)) {
        f.code = "graph.extra_op";
        f.stage = "graph";
        f.target_nodes = {n->id()};
        f.evidence["extra op"] = std::string(n->op_name()) + " '" + n->name() +
                                 "' after the aligned layer; without it the weights match";
        Edit e;
        e.kind = Edit::Kind::kBypassNode;
        e.node = n->id();
        e.input_index =
            n->input(0) != nullptr && !ctx.target_constant[size_t(n->input(0)->id())] ? 0 : 1;
        f.edits.push_back(e);
        sus.strength = 0.9;
        explained = true;
        break;
      }
    }
    // (2) The right values in another order.
    if (!explained) {
      const double noise = lossy_dtype ? 2e-2 : 1e-4;
      const Shape& shape = ws.shape();
      struct Candidate {
        std::string what;
        std::vector<float> w;
      };
      std::vector<Candidate> candidates;
      if (shape.size() == 4 && shape[2] == shape[3] && shape[2] > 1) {
        Result<Tensor> tr =
            permuted(Tensor::from_vector(DType::kFloat32, shape, wt_eff), {0, 1, 3, 2});
        if (tr.is_ok())
          candidates.push_back({"spatially transposed kernel [0,1,3,2]", floats_of(tr.value())});
      }
      if (shape.size() == 4 && shape[2] * shape[3] > 1) {
        std::vector<int64_t> rev_h(static_cast<size_t>(shape[2]));
        std::vector<int64_t> rev_w(static_cast<size_t>(shape[3]));
        for (int64_t i = 0; i < shape[2]; ++i) rev_h[size_t(i)] = shape[2] - 1 - i;
        for (int64_t i = 0; i < shape[3]; ++i) rev_w[size_t(i)] = shape[3] - 1 - i;
        candidates.push_back(
            {"spatially flipped kernel",
             reorder_axis(reorder_axis(wt_eff, shape, 2, rev_h), shape, 3, rev_w)});
      }
      for (size_t axis : {size_t(0), size_t(1)}) {
        if (shape[axis] < 2) continue;
        std::vector<int64_t> p = match_slices(wt_eff, ws_eff, shape, axis);
        if (!p.empty()) {
          candidates.push_back(
              {std::string(axis == 0 ? "output" : "input") + " channel permutation " + ints(p),
               reorder_axis(wt_eff, shape, axis, p)});
        }
      }
      if (shape.size() == 2) {
        std::optional<Shape> in = dense_input_shape(s.anchor, ctx.source_state);
        if (in && (*in)[1] * (*in)[2] * (*in)[3] == shape[1]) {
          const Shape& d = *in;
          for (bool dir : {true, false}) {
            candidates.push_back(
                {std::string("flatten order ") +
                     (dir ? "[C,H,W] read as [H,W,C]" : "[H,W,C] read as [C,H,W]"),
                 reorder_axis(wt_eff, shape, 1, flatten_order(d[1], d[2], d[3], dir))});
          }
        }
      }
      for (const Candidate& c : candidates) {
        size_t wc = 0;
        if (relative_diff(c.w, ws_eff, channels, &wc) <= noise) {
          f.code = "param.layout";
          f.evidence["permutation found"] = c.what;
          explained = true;
          sus.strength = 0.9;
          break;
        }
      }
    }
    // (3) The source's BatchNorm folded with another epsilon: every output channel scaled by
    // sqrt((var + eps) / (var + eps')) for one eps' shared by all channels.
    if (!explained && !s.bns.empty() && t.bns.empty()) {
      const Node* bn = s.bns.front();
      auto var = constant_floats(ctx.source_state, bn->input(4));
      Result<double> eps_s = bn->attrs().get_float("epsilon", 1e-5);
      if (var && var->size() == channels && eps_s.is_ok()) {
        std::vector<double> eps_t(channels);
        std::vector<float> scaled(ws_eff.size());
        bool ok = true;
        for (size_t o = 0; o < channels && ok; ++o) {
          double num = 0, den = 0;
          for (size_t k = 0; k < per; ++k) {
            num += double(wt_eff[o * per + k]) * ws_eff[o * per + k];
            den += double(ws_eff[o * per + k]) * ws_eff[o * per + k];
          }
          const double r = den > 0 ? num / den : 0;
          ok = r > 0;
          for (size_t k = 0; k < per; ++k) scaled[o * per + k] = float(r * ws_eff[o * per + k]);
          eps_t[o] = ok ? ((*var)[o] + *eps_s) / (r * r) - (*var)[o] : 0;
        }
        size_t wc = 0;
        if (ok && relative_diff(wt_eff, scaled, channels, &wc) <= (lossy_dtype ? 2e-2 : 1e-4)) {
          std::vector<double> sorted = eps_t;
          std::sort(sorted.begin(), sorted.end());
          const double median = sorted[sorted.size() / 2];
          double spread = 0;
          for (double e : eps_t) spread = std::max(spread, std::fabs(e - median));
          if (median > 0 && spread <= 0.05 * median + 1e-6 &&
              std::fabs(median - *eps_s) > 0.05 * *eps_s) {
            f.code = "hparam.norm";
            f.stage = "hyperparameters";
            f.evidence["epsilon"] = "BatchNorm '" + bn->name() + "' folded with epsilon " +
                                    fmt(median) + " instead of " + fmt(*eps_s) +
                                    " (every channel agrees within " + fmt(spread) + ")";
            sus.strength = 0.9;
            explained = true;
          }
        }
      }
    }
    if (!explained) {
      f.code = "param.value";
      sus.strength = std::min(1.0, 0.4 + wdiff);
    }
    f.evidence["weight rel. diff"] =
        fmt(wdiff) + " (channel " + std::to_string(worst_channel) + " worst)";
    f.evidence["bias rel. diff"] = fmt(bdiff);
    f.evidence["weights"] = std::string("source ") + s.anchor->op_name() + " " +
                            shape_to_string(ws.shape()) + ", target " + t.anchor->op_name() +
                            " stored " + dtype_name(stored) +
                            shape_to_string(t.weight->stored->shape());
    if (f.code != "graph.extra_op") {
      // Patch: the source's weight (and bias) in the target's layout and dtype.
      if (!within_noise) {
        Result<Tensor> w = to_stored_dtype(*expected_stored, stored, t.weight->quant);
        if (w.is_ok()) {
          Edit e;
          e.kind = Edit::Kind::kSetConstant;
          e.value = t.weight->stored->id();
          e.tensor = std::move(w).value();
          f.edits.push_back(std::move(e));
        }
      }
      if (!bias_ok && t.bias_value != nullptr && t.bias_value->is_constant() &&
          is_float(t.bias_value->dtype())) {
        std::vector<float> b(channels);
        for (size_t o = 0; o < channels; ++o) {
          b[o] = float((bs_eff[o] - at.shift[o]) / at.scale[o]);
        }
        Result<Tensor> bt = Tensor::from_vector(DType::kFloat32, t.bias_value->shape(), b)
                                .cast(t.bias_value->dtype());
        if (bt.is_ok() && bt->num_elements() == int64_t(channels)) {
          Edit e;
          e.kind = Edit::Kind::kSetConstant;
          e.value = t.bias_value->id();
          e.tensor = std::move(bt).value();
          f.edits.push_back(std::move(e));
        }
      }
    }
    std::string words;
    for (const Edit& e : f.edits)
      words += (words.empty() ? "" : "; ") + describe_edit(ctx.target, e);
    f.patch = words;
    out->push_back(std::move(sus));
  }

  if (lossy_count > 0) {
    lossy.finding.evidence["quantized layers"] =
        std::to_string(lossy_count) + " (" + lossy_dtypes + "), every weight within " +
        (lossy_dtypes == "f16" ? "float16 rounding" : "half a quantization step");
    lossy.finding.evidence["largest weight rel. diff"] = fmt(lossy_worst);
    lossy.finding.patch =
        "none: declared lossy (float weights come back only when asked: --restore-precision)";
    lossy.strength = 1.0;
    out->push_back(std::move(lossy));
  }
}

}  // namespace convmend::analysis
