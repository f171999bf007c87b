// Hyperparameter and graph stages: per aligned pair, window geometry (strides, dilations,
// group, kernel, effective padding with explicit Pad nodes), BatchNorm epsilon, pooling,
// activation functions (fused or separate), Resize modes and axes; then unmatched nodes and
// the graph outputs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "analysis/localize_internal.h"
#include "ir/shapes/window.h"

namespace convmend::analysis {
namespace {

std::string fmt(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream o;
  o.precision(4);
  o << v;
  return o.str();
}

std::string ints(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string node_words(const Node* n) {
  return std::string(n->op_name()) + " '" + n->name() + "'";
}

void finish_patch(const Graph& target, Finding* f) {
  std::string words;
  for (const Edit& e : f->edits) words += (words.empty() ? "" : "; ") + describe_edit(target, e);
  f->patch = words;
}

Suspect make(const char* code, const char* stage, int match, const Node* t, const Node* s,
             double strength) {
  Suspect sus;
  sus.match = match;
  sus.strength = strength;
  sus.finding.code = code;
  sus.finding.stage = stage;
  if (t != nullptr) sus.finding.target_nodes = {t->id()};
  if (s != nullptr) sus.finding.source_nodes = {s->id()};
  return sus;
}

Edit set_attr(const Node* n, const std::string& key, AttrValue v) {
  Edit e;
  e.kind = Edit::Kind::kSetAttr;
  e.node = n->id();
  e.key = key;
  e.attr = std::move(v);
  return e;
}

const Node* first_of(const std::vector<const Node*>& nodes, std::initializer_list<OpKind> ops) {
  for (const Node* n : nodes) {
    if (std::find(ops.begin(), ops.end(), n->op()) != ops.end()) return n;
  }
  return nullptr;
}

// ---- activations ----

// One activation function applied in a block, fused into an op or as its own node.
struct Act {
  std::string kind;  // "clip", "leaky", "hardsigmoid", "gelu", "elu", or the op name
  double a = 0, b = 0;
  const Node* node = nullptr;
  bool fused = false;
};

double float_attr(const Node* n, const char* key, double fallback) {
  Result<double> v = n->attrs().get_float(key, fallback);
  return v.is_ok() ? v.value() : fallback;
}

bool is_act_op(OpKind op) {
  return op_class_of(op) == OpClass::kActivation;
}

std::vector<Act> activations(const std::vector<const Node*>& nodes, const RunState& state) {
  std::vector<Act> out;
  const double inf = std::numeric_limits<double>::infinity();
  for (const Node* n : nodes) {
    if (n->attrs().has("fused_activation")) {
      Result<Activation> f = n->attrs().get_activation();
      if (f.is_ok() && *f != Activation::kNone) {
        Act a{"clip", 0, inf, n, true};
        if (*f == Activation::kRelu6) a.b = 6;
        if (*f == Activation::kReluN1To1) {
          a.a = -1;
          a.b = 1;
        }
        if (*f == Activation::kTanh) a = Act{"Tanh", 0, 0, n, true};
        if (*f == Activation::kSignBit) a = Act{"SignBit", 0, 0, n, true};
        out.push_back(a);
      }
    }
    if (!is_act_op(n->op())) continue;
    Act a{n->op_name(), 0, 0, n, false};
    switch (n->op()) {
      case OpKind::kRelu:
        a = Act{"clip", 0, inf, n, false};
        break;
      case OpKind::kClip: {
        a = Act{"clip", -inf, inf, n, false};
        for (int i : {1, 2}) {
          const Value* v = n->input(size_t(i));
          const Tensor* t = v != nullptr ? state.get(v) : nullptr;
          if (t != nullptr && t->num_elements() == 1) (i == 1 ? a.a : a.b) = t->to_doubles()[0];
        }
        break;
      }
      case OpKind::kLeakyRelu:
        a.kind = "leaky";
        a.a = float_attr(n, "alpha", 0.01);
        break;
      case OpKind::kHardSigmoid:
        a.kind = "hardsigmoid";
        a.a = float_attr(n, "alpha", 0.2);
        a.b = float_attr(n, "beta", 0.5);
        break;
      case OpKind::kElu:
        a.kind = "elu";
        a.a = float_attr(n, "alpha", 1.0);
        break;
      case OpKind::kGelu: {
        a.kind = "gelu";
        Result<std::string> ap = n->attrs().get_string("approximate", "none");
        a.a = ap.is_ok() && *ap == "tanh" ? 1 : 0;
        break;
      }
      default:
        break;
    }
    out.push_back(a);
  }
  return out;
}

std::string act_words(const Act& a) {
  if (a.kind == "clip") {
    if (a.a == 0 && std::isinf(a.b)) return a.fused ? "fused RELU" : "Relu";
    return std::string(a.fused ? "fused " : "") + "Clip(" + fmt(a.a) + ", " + fmt(a.b) + ")";
  }
  if (a.kind == "leaky") return "LeakyRelu(alpha " + fmt(a.a) + ")";
  if (a.kind == "hardsigmoid") return "HardSigmoid(alpha " + fmt(a.a) + ", beta " + fmt(a.b) + ")";
  if (a.kind == "elu") return "Elu(alpha " + fmt(a.a) + ")";
  if (a.kind == "gelu") return a.a != 0 ? "Gelu(tanh)" : "Gelu(erf)";
  return (a.fused ? "fused " : "") + a.kind;
}

// The source activation `s` as a node: op, attributes and constant inputs.
bool act_as_op(const Act& s, OpKind* op, Attributes* attrs, std::vector<Tensor>* consts) {
  attrs->all();
  if (s.kind == "clip") {
    if (s.a == 0 && std::isinf(s.b)) {
      *op = OpKind::kRelu;
      return true;
    }
    *op = OpKind::kClip;
    consts->push_back(Tensor::scalar_f32(std::isinf(s.a) ? -3.4e38f : float(s.a)));
    consts->push_back(Tensor::scalar_f32(std::isinf(s.b) ? 3.4e38f : float(s.b)));
    return true;
  }
  if (s.node == nullptr || s.fused) return false;
  *op = s.node->op();
  *attrs = s.node->attrs();
  // Only parameter-free or attribute-only activations (PRelu's slope is left out).
  return s.node->op() != OpKind::kPRelu;
}

// The fused_activation name equivalent to a clip, if there is one.
const char* fused_name(const Act& s) {
  if (s.kind != "clip") return nullptr;
  if (s.a == 0 && std::isinf(s.b)) return "RELU";
  if (s.a == 0 && s.b == 6) return "RELU6";
  if (s.a == -1 && s.b == 1) return "RELU_N1_TO_1";
  return nullptr;
}

// Edits that make target activation `t` compute source activation `s`.
std::vector<Edit> replace_activation(const Act& t, const Act& s) {
  std::vector<Edit> edits;
  if (t.fused) {
    if (const char* name = fused_name(s)) {
      edits.push_back(set_attr(t.node, "fused_activation", std::string(name)));
      return edits;
    }
    OpKind op;
    Attributes attrs;
    std::vector<Tensor> consts;
    if (!act_as_op(s, &op, &attrs, &consts)) return {};
    edits.push_back(set_attr(t.node, "fused_activation", std::string("NONE")));
    Edit ins;
    ins.kind = Edit::Kind::kInsertAfter;
    ins.value = t.node->output(0)->id();
    ins.op = op;
    ins.attrs = attrs;
    ins.constant_inputs = consts;
    edits.push_back(ins);
    return edits;
  }
  if (s.kind == t.kind && (s.kind == "leaky" || s.kind == "elu")) {
    edits.push_back(set_attr(t.node, "alpha", s.a));
    return edits;
  }
  if (s.kind == t.kind && s.kind == "hardsigmoid") {
    edits.push_back(set_attr(t.node, "alpha", s.a));
    edits.push_back(set_attr(t.node, "beta", s.b));
    return edits;
  }
  Edit e;
  e.kind = Edit::Kind::kReplaceOp;
  e.node = t.node->id();
  if (!act_as_op(s, &e.op, &e.attrs, &e.constant_inputs)) return {};
  // A new op with fewer operands (Clip -> Relu) keeps only the ones it has room for: apply_edits
  // truncates the inputs to the op's arity.
  edits.push_back(e);
  return edits;
}

bool same_act(const Act& a, const Act& b) {
  // An unbounded side equals only an unbounded side of the same sign (the relative test
  // alone would call ReLU equal to ReLU6: |inf - 6| <= 1e-6 * inf).
  auto eq = [](double x, double y) {
    if (std::isinf(x) || std::isinf(y)) return x == y;
    return std::fabs(x - y) <= 1e-6 * std::max(1.0, std::fabs(x));
  };
  return a.kind == b.kind && eq(a.a, b.a) && eq(a.b, b.b);
}

// The elementwise scalings (Mul/Add/Sub/Div by a constant, Neg) that follow a block's last
// activation, with the index of their one data input. A converter puts nothing there; an op
// there with no source counterpart is an extra op (FAULTS.md graph.extra_op).
std::vector<std::pair<const Node*, int>> trailing_scalings(const std::vector<const Node*>& nodes,
                                                           const std::vector<Act>& acts,
                                                           const std::vector<bool>& constant) {
  std::vector<std::pair<const Node*, int>> out;
  if (acts.empty()) return out;
  auto last = std::find(nodes.begin(), nodes.end(), acts.back().node);
  if (last == nodes.end() || (*last)->outputs().empty()) return out;
  // Only a chain fed by the activation itself: in x * relu6(x + 3) / 6 (hard swish) the Div
  // follows a Mul of two data values and is part of the activation, not after it.
  const Value* chain = (*last)->output(0);
  for (auto it = last + 1; it != nodes.end(); ++it) {
    const Node* n = *it;
    const OpKind op = n->op();
    if (op != OpKind::kMul && op != OpKind::kAdd && op != OpKind::kSub && op != OpKind::kDiv &&
        op != OpKind::kNeg)
      continue;
    int data = -1;
    for (size_t k = 0; k < n->inputs().size(); ++k) {
      const Value* v = n->input(k);
      if (v != nullptr && !constant[size_t(v->id())]) data = data < 0 ? int(k) : -2;
    }
    if (data < 0 || n->outputs().size() != 1 || n->input(size_t(data)) != chain) continue;
    out.emplace_back(n, data);
    chain = n->output(0);
  }
  return out;
}

void check_activations(const LocalizeContext& ctx, int mi, const std::vector<const Node*>& sn,
                       const std::vector<const Node*>& tn, std::vector<Suspect>* out) {
  const NodeMatch& m = ctx.alignment.matches[size_t(mi)];
  std::vector<Act> sa = activations(sn, ctx.source_state);
  std::vector<Act> ta = activations(tn, ctx.target_state);
  const size_t common = std::min(sa.size(), ta.size());
  for (size_t i = 0; i < common; ++i) {
    const Act& s = sa[i];
    const Act& t = ta[i];
    if (same_act(s, t)) continue;
    // A bounded clip against an unbounded one (ReLU6 vs ReLU) is another op; two bounded
    // clips (ReLU6 vs RELU_N1_TO_1) differ in their bounds only (FAULTS.md).
    const bool relu_vs_clip = s.kind == "clip" && t.kind == "clip" &&
                              (std::isinf(s.b) != std::isinf(t.b) ||
                               std::isinf(s.a) != std::isinf(t.a));
    const bool wrong = s.kind != t.kind || relu_vs_clip || s.kind == "gelu";
    Suspect sus = make(wrong ? "graph.wrong_op" : "hparam.activation",
                       wrong ? "graph" : "hyperparameters", mi, t.node, s.node, 0.8);
    sus.finding.evidence["activation"] = "source " + act_words(s) + ", target " + act_words(t);
    sus.finding.edits = replace_activation(t, s);
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
  for (size_t i = common; i < sa.size(); ++i) {
    // A source activation with no target counterpart (dropped by the converter).
    const Act& s = sa[i];
    const Node* last = tn.empty() ? nullptr : tn.back();
    Suspect sus = make("graph.missing_op", "graph", mi, last, s.node, 0.8);
    sus.finding.evidence["missing"] = "source " + act_words(s) + " has no target counterpart";
    const Value* after = ctx.target.value_by_id(m.target_value);
    if (after != nullptr) {
      Edit e;
      e.kind = Edit::Kind::kInsertAfter;
      e.value = after->id();
      if (act_as_op(s, &e.op, &e.attrs, &e.constant_inputs)) sus.finding.edits.push_back(e);
    }
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
  for (size_t i = common; i < ta.size(); ++i) {
    const Act& t = ta[i];
    Suspect sus = make("graph.extra_op", "graph", mi, t.node, nullptr, 0.7);
    sus.finding.evidence["extra"] = "target " + act_words(t) + " has no source counterpart";
    if (t.fused) {
      sus.finding.edits.push_back(set_attr(t.node, "fused_activation", std::string("NONE")));
    } else {
      Edit e;
      e.kind = Edit::Kind::kBypassNode;
      e.node = t.node->id();
      sus.finding.edits.push_back(e);
    }
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
  const std::vector<std::pair<const Node*, int>> st =
      trailing_scalings(sn, sa, ctx.source_constant);
  const std::vector<std::pair<const Node*, int>> tt =
      trailing_scalings(tn, ta, ctx.target_constant);
  for (size_t i = st.size(); i < tt.size(); ++i) {
    const Node* n = tt[i].first;
    Suspect sus = make("graph.extra_op", "graph", mi, n, nullptr, 0.75);
    sus.finding.evidence["extra"] = std::string("target ") + n->op_name() + " '" + n->name() +
                                    "' after the block's activation has no source counterpart";
    Edit e;
    e.kind = Edit::Kind::kBypassNode;
    e.node = n->id();
    e.input_index = tt[i].second;
    sus.finding.edits.push_back(e);
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
}

// ---- windows ----

// Pads [begin_h, begin_w, end_h, end_w] of an explicit Pad node in front of a windowed op.
bool pad_node_pads(const Node* pad, const RunState& state, DataLayout layout, int64_t out[4]) {
  const Tensor* p = state.get(pad->input(1));
  if (p == nullptr || pad->input(3) != nullptr) return false;
  const std::vector<int64_t> v = p->to_int64s();
  if (v.size() != 8) return false;
  const int h = layout == DataLayout::kNHWC ? 1 : 2, w = h + 1;
  out[0] += v[size_t(h)];
  out[1] += v[size_t(w)];
  out[2] += v[size_t(h + 4)];
  out[3] += v[size_t(w + 4)];
  if (pad->input(2) != nullptr) {
    const Tensor* c = state.get(pad->input(2));
    if (c != nullptr && c->num_elements() == 1 && c->to_doubles()[0] != 0) return false;
  }
  Result<std::string> mode = pad->attrs().get_string("mode", "constant");
  return mode.is_ok() && *mode == "constant";
}

// The resolved geometry of a Conv / pool node on its actual input, plus the Pad nodes of its
// block in front of it. `pads` = [top, left, bottom, right] in the original input.
struct Geometry {
  bool ok = false;
  Window2d window;
  int64_t pads[4] = {0, 0, 0, 0};
  int64_t pad_nodes[4] = {0, 0, 0, 0};
  int64_t group = 1;
  bool ceil_mode = false, count_include_pad = false;
};

Geometry geometry(const Node* n, const std::vector<const Node*>& block, const RunState& state) {
  Geometry g;
  const Tensor* x = state.get(n->input(0));
  if (x == nullptr || x->rank() != 4) return g;
  Result<DataLayout> layout = n->attrs().get_data_layout();
  if (!layout.is_ok()) return g;
  if (n->op() == OpKind::kConv) {
    const Tensor* w = state.get(n->input(1));
    if (w == nullptr) return g;
    Result<ConvGeometry> c = resolve_conv(n->attrs(), x->shape(), w->shape(), nullptr);
    if (!c.is_ok()) return g;
    g.window = c->window;
    g.group = c->group;
  } else {
    Result<PoolGeometry> p = resolve_pool(*n, x->shape());
    if (!p.is_ok()) return g;
    g.window = p->window;
    g.ceil_mode = p->ceil_mode;
    g.count_include_pad = p->count_include_pad;
  }
  for (const Node* b : block) {
    if (b == n) break;
    if (b->op() == OpKind::kPad && !pad_node_pads(b, state, *layout, g.pad_nodes)) return g;
  }
  g.pads[0] = g.window.pad_top + g.pad_nodes[0];
  g.pads[1] = g.window.pad_left + g.pad_nodes[1];
  g.pads[2] = g.window.pad_bottom + g.pad_nodes[2];
  g.pads[3] = g.window.pad_right + g.pad_nodes[3];
  g.ok = true;
  return g;
}

// The one explicit Pad in front of `op` in its block (none, or two: null).
const Node* explicit_pad(const std::vector<const Node*>& block, const Node* op) {
  const Node* pad = nullptr;
  for (const Node* n : block) {
    if (n == op) break;
    if (n->op() == OpKind::kPad) pad = pad == nullptr ? n : nullptr;
  }
  return pad;
}

void check_window(const LocalizeContext& ctx, int mi, const Node* s, const Node* t,
                  const std::vector<const Node*>& sn, const std::vector<const Node*>& tn,
                  std::vector<Suspect>* out) {
  const Geometry gs = geometry(s, sn, ctx.source_state);
  const Geometry gt = geometry(t, tn, ctx.target_state);
  if (!gs.ok || !gt.ok) return;
  const bool pool = s->op() != OpKind::kConv;
  const Window2d& a = gs.window;
  const Window2d& b = gt.window;
  std::vector<std::string> diffs;
  std::vector<Edit> edits;
  if (a.stride_h != b.stride_h || a.stride_w != b.stride_w) {
    diffs.push_back("stride: source " + ints({a.stride_h, a.stride_w}) + " target " +
                    ints({b.stride_h, b.stride_w}));
    edits.push_back(set_attr(t, "strides", std::vector<int64_t>{a.stride_h, a.stride_w}));
  }
  if (a.dilation_h != b.dilation_h || a.dilation_w != b.dilation_w) {
    diffs.push_back("dilation: source " + ints({a.dilation_h, a.dilation_w}) + " target " +
                    ints({b.dilation_h, b.dilation_w}));
    edits.push_back(set_attr(t, "dilations", std::vector<int64_t>{a.dilation_h, a.dilation_w}));
  }
  if (a.kernel_h != b.kernel_h || a.kernel_w != b.kernel_w) {
    diffs.push_back("kernel: source " + ints({a.kernel_h, a.kernel_w}) + " target " +
                    ints({b.kernel_h, b.kernel_w}));
    if (pool)
      edits.push_back(set_attr(t, "kernel_shape", std::vector<int64_t>{a.kernel_h, a.kernel_w}));
  }
  if (gs.group != gt.group) {
    diffs.push_back("group: source " + std::to_string(gs.group) + " target " +
                    std::to_string(gt.group));
    edits.push_back(set_attr(t, "group", gs.group));
  }
  const char* code = pool ? "hparam.pooling" : "hparam.stride_dilation";
  if (pool && gs.ceil_mode != gt.ceil_mode) {
    diffs.push_back("ceil_mode: source " + std::to_string(gs.ceil_mode) + " target " +
                    std::to_string(gt.ceil_mode));
    edits.push_back(set_attr(t, "ceil_mode", int64_t{gs.ceil_mode}));
  }
  const bool any_pad = gs.pads[0] + gs.pads[1] + gs.pads[2] + gs.pads[3] + gt.pads[0] + gt.pads[1] +
                           gt.pads[2] + gt.pads[3] >
                       0;
  // Whether an average's border windows divide by the padded zeros too: always for the zeros
  // of an explicit Pad in front (a converter's PAD + VALID), by count_include_pad for the op's
  // own padding.
  auto padded_by_node = [](const Geometry& g) {
    return g.pad_nodes[0] + g.pad_nodes[1] + g.pad_nodes[2] + g.pad_nodes[3] > 0;
  };
  auto counts_padding = [&](const Geometry& g) {
    const Window2d& w = g.window;
    return padded_by_node(g) ||
           (g.count_include_pad && w.pad_top + w.pad_left + w.pad_bottom + w.pad_right > 0);
  };
  const bool averages = pool && s->op() == OpKind::kAveragePool && t->op() == OpKind::kAveragePool;
  if (averages && any_pad && counts_padding(gs) != counts_padding(gt)) {
    const Node* pad = explicit_pad(tn, t);
    if (pad != nullptr && !padded_by_node(gs)) {
      diffs.push_back("count_include_pad: source " + std::to_string(gs.count_include_pad) +
                      ", target pads with an explicit Pad whose zeros every border window "
                      "counts");
      // The padding goes back onto the op, as the source has it.
      Edit bypass;
      bypass.kind = Edit::Kind::kBypassNode;
      bypass.node = pad->id();
      bypass.input_index = 0;
      edits.push_back(bypass);
      Result<std::string> auto_pad = s->attrs().get_string("auto_pad", "NOTSET");
      if (auto_pad.is_ok() && *auto_pad != "NOTSET") {
        edits.push_back(set_attr(t, "auto_pad", *auto_pad));
      } else {
        edits.push_back(set_attr(t, "auto_pad", std::string("NOTSET")));
        edits.push_back(set_attr(
            t, "pads", std::vector<int64_t>{gs.pads[0], gs.pads[1], gs.pads[2], gs.pads[3]}));
      }
    } else {
      diffs.push_back("count_include_pad: source " + std::to_string(gs.count_include_pad) +
                      " target " + std::to_string(gt.count_include_pad));
    }
    edits.push_back(set_attr(t, "count_include_pad", int64_t{gs.count_include_pad}));
  }
  // The padding differs when the first window starts elsewhere or the output size differs
  // (end pads that no window reads do not matter).
  const bool pads_differ = gs.pads[0] != gt.pads[0] || gs.pads[1] != gt.pads[1] ||
                           a.out_h != b.out_h || a.out_w != b.out_w;
  if (diffs.empty() && !pads_differ) return;
  Suspect sus = make(!diffs.empty() ? code : (pool ? "hparam.pooling" : "hparam.padding"),
                     "hyperparameters", mi, t, s, 0.9);
  for (const std::string& d : diffs) {
    sus.finding.evidence[d.substr(0, d.find(':'))] = d.substr(d.find(':') + 2);
  }
  sus.finding.edits = edits;
  const bool begins_differ = gs.pads[0] != gt.pads[0] || gs.pads[1] != gt.pads[1] ||
                             gs.pads[2] != gt.pads[2] || gs.pads[3] != gt.pads[3];
  if (diffs.empty() || begins_differ) {
    sus.finding.evidence["pads"] =
        "source " + ints({gs.pads[0], gs.pads[1], gs.pads[2], gs.pads[3]}) + " target " +
        ints({gt.pads[0], gt.pads[1], gt.pads[2], gt.pads[3]}) + " [top,left,bottom,right]";
    sus.finding.evidence["output size"] =
        "source " + ints({a.out_h, a.out_w}) + " target " + ints({b.out_h, b.out_w});
    // Copy the source's padding onto the target op (minus what its own Pad nodes add).
    std::vector<int64_t> own = {gs.pads[0] - gt.pad_nodes[0], gs.pads[1] - gt.pad_nodes[1],
                                gs.pads[2] - gt.pad_nodes[2], gs.pads[3] - gt.pad_nodes[3]};
    const Node* pad = explicit_pad(tn, t);
    // Or give the explicit Pad what the op's own window does not pad (a converter that wrote
    // PAD + VALID): the op keeps its attributes, which every format can write.
    const std::vector<int64_t> on_pad = {gs.pads[0] - b.pad_top, gs.pads[1] - b.pad_left,
                                         gs.pads[2] - b.pad_bottom, gs.pads[3] - b.pad_right};
    Result<DataLayout> layout = t->attrs().get_data_layout();
    if (*std::min_element(own.begin(), own.end()) >= 0) {
      sus.finding.edits.push_back(set_attr(t, "auto_pad", std::string("NOTSET")));
      sus.finding.edits.push_back(set_attr(t, "pads", own));
    } else if (pad != nullptr && pad->input(1) != nullptr && pad->input(1)->is_constant() &&
               layout.is_ok() && *std::min_element(on_pad.begin(), on_pad.end()) >= 0) {
      std::vector<int64_t> v = pad->input(1)->constant().to_int64s();
      if (v.size() == 8) {
        const int h = *layout == DataLayout::kNHWC ? 1 : 2, w = h + 1;
        v[size_t(h)] = on_pad[0];
        v[size_t(w)] = on_pad[1];
        v[size_t(h + 4)] = on_pad[2];
        v[size_t(w + 4)] = on_pad[3];
        if (pad->input(1)->dtype() == DType::kInt64 && pad->input(1)->shape() == Shape{8}) {
          Edit e;
          e.kind = Edit::Kind::kSetConstant;
          e.value = pad->input(1)->id();
          e.tensor = Tensor::from_vector(DType::kInt64, {8}, v);
          sus.finding.edits.push_back(e);
        }
      }
    }
  }
  finish_patch(ctx.target, &sus.finding);
  out->push_back(std::move(sus));
}

// ---- axes ----

// The target axis that corresponds to source axis `axis` under the match's permutation.
int64_t mapped_axis(const NodeMatch& m, int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (m.transform != ValueTransform::kPermute) return axis;
  for (size_t i = 0; i < m.permutation.size(); ++i) {
    if (m.permutation[i] == axis) return int64_t(i);
  }
  return axis;
}

void check_axis(const LocalizeContext& ctx, int mi, const Node* s, const Node* t,
                std::vector<Suspect>* out) {
  const NodeMatch& m = ctx.alignment.matches[size_t(mi)];
  if (m.transform != ValueTransform::kIdentity && m.transform != ValueTransform::kPermute) return;
  const Tensor* so = ctx.source_state.get(s->output(0));
  const Tensor* to = ctx.target_state.get(t->output(0));
  if (so == nullptr || to == nullptr || so->rank() != to->rank()) return;
  const int64_t rank = so->rank();
  const int64_t fallback = s->op() == OpKind::kSoftmax ? -1 : (s->op() == OpKind::kFlatten ? 1 : 0);
  Result<int64_t> sa = s->attrs().get_int("axis", fallback);
  Result<int64_t> ta = t->attrs().get_int("axis", fallback);
  if (!sa.is_ok() || !ta.is_ok()) return;
  const int64_t want = mapped_axis(m, *sa, rank);
  const int64_t have = *ta < 0 ? *ta + rank : *ta;
  if (want == have) return;
  Suspect sus = make("hparam.axis", "hyperparameters", mi, t, s, 0.9);
  sus.finding.evidence["axis"] = "source " + std::to_string(*sa) +
                                 " (target layout: " + std::to_string(want) + "), target " +
                                 std::to_string(*ta);
  if (m.transform == ValueTransform::kPermute) {
    sus.finding.evidence["permutation"] = ints(m.permutation);
  }
  sus.finding.edits.push_back(set_attr(t, "axis", want));
  finish_patch(ctx.target, &sus.finding);
  out->push_back(std::move(sus));
}

void check_resize(const LocalizeContext& ctx, int mi, const Node* s, const Node* t,
                  std::vector<Suspect>* out) {
  const char* keys[] = {"mode", "coordinate_transformation_mode", "nearest_mode"};
  const char* defaults[] = {"nearest", "half_pixel", "round_prefer_floor"};
  Suspect sus = make("hparam.resize", "hyperparameters", mi, t, s, 0.8);
  for (int i = 0; i < 3; ++i) {
    Result<std::string> a = s->attrs().get_string(keys[i], defaults[i]);
    Result<std::string> b = t->attrs().get_string(keys[i], defaults[i]);
    if (!a.is_ok() || !b.is_ok() || *a == *b) continue;
    if (i == 2) {
      Result<std::string> mode = s->attrs().get_string("mode", "nearest");
      if (!mode.is_ok() || *mode != "nearest") continue;  // only read by nearest
    }
    sus.finding.evidence[keys[i]] = "source " + *a + " target " + *b;
    sus.finding.edits.push_back(set_attr(t, keys[i], *a));
  }
  if (sus.finding.edits.empty()) return;
  finish_patch(ctx.target, &sus.finding);
  out->push_back(std::move(sus));
}

}  // namespace

void check_hyperparameters(const LocalizeContext& ctx, std::vector<Suspect>* out) {
  for (size_t mi = 0; mi < ctx.alignment.matches.size(); ++mi) {
    const NodeMatch& m = ctx.alignment.matches[mi];
    const std::vector<const Node*> sn =
        data_nodes(ctx.source, m.source_nodes, ctx.source_constant, ctx.source_position);
    const std::vector<const Node*> tn =
        data_nodes(ctx.target, m.target_nodes, ctx.target_constant, ctx.target_position);
    if (sn.empty() || tn.empty()) continue;
    const int i = int(mi);
    // Windows.
    const Node* sc = first_of(sn, {OpKind::kConv});
    const Node* tc = first_of(tn, {OpKind::kConv});
    if (sc != nullptr && tc != nullptr) check_window(ctx, i, sc, tc, sn, tn, out);
    const Node* sp = first_of(sn, {OpKind::kMaxPool, OpKind::kAveragePool});
    const Node* tp = first_of(tn, {OpKind::kMaxPool, OpKind::kAveragePool});
    if (sp != nullptr && tp != nullptr) {
      if (sp->op() != tp->op()) {
        Suspect sus = make("graph.wrong_op", "graph", i, tp, sp, 0.9);
        sus.finding.evidence["op"] =
            std::string("source ") + sp->op_name() + ", target " + tp->op_name();
        Edit e;
        e.kind = Edit::Kind::kReplaceOp;
        e.node = tp->id();
        e.op = sp->op();
        e.attrs = tp->attrs();
        sus.finding.edits.push_back(e);
        finish_patch(ctx.target, &sus.finding);
        out->push_back(std::move(sus));
      } else {
        check_window(ctx, i, sp, tp, sn, tn, out);
      }
    }
    // BatchNorm epsilon.
    const Node* sb = first_of(sn, {OpKind::kBatchNormalization});
    const Node* tb = first_of(tn, {OpKind::kBatchNormalization});
    if (sb != nullptr && tb != nullptr) {
      Result<double> es = sb->attrs().get_float("epsilon", 1e-5);
      Result<double> et = tb->attrs().get_float("epsilon", 1e-5);
      if (es.is_ok() && et.is_ok() && std::fabs(*es - *et) > 1e-6 * std::max(*es, 1e-12)) {
        Suspect sus = make("hparam.norm", "hyperparameters", i, tb, sb, 0.85);
        sus.finding.evidence["epsilon"] = "source " + fmt(*es) + " target " + fmt(*et);
        sus.finding.edits.push_back(set_attr(tb, "epsilon", *es));
        finish_patch(ctx.target, &sus.finding);
        out->push_back(std::move(sus));
      }
    }
    check_activations(ctx, i, sn, tn, out);
    // Axes and resize modes.
    for (OpKind op : {OpKind::kSoftmax, OpKind::kConcat, OpKind::kFlatten}) {
      const Node* s = first_of(sn, {op});
      const Node* t = first_of(tn, {op});
      if (s != nullptr && t != nullptr) check_axis(ctx, i, s, t, out);
    }
    const Node* sr = first_of(sn, {OpKind::kResize});
    const Node* tr = first_of(tn, {OpKind::kResize});
    if (sr != nullptr && tr != nullptr) check_resize(ctx, i, sr, tr, out);
  }
}

void check_graph(const LocalizeContext& ctx, std::vector<Suspect>* out) {
  auto computes = [](const Node* n, const std::vector<bool>& constant) {
    if (n == nullptr || is_layout_op(n->op()) || n->outputs().empty()) return false;
    if (op_class_of(n->op()) == OpClass::kQuant) return false;
    return !constant[size_t(n->output(0)->id())];
  };
  for (int64_t id : ctx.alignment.unmatched_source) {
    const Node* n = ctx.source.node_by_id(id);
    if (!computes(n, ctx.source_constant)) continue;
    Suspect sus = make("graph.missing_op", "graph", -1, nullptr, n, 0.7);
    sus.finding.evidence["missing"] = "source " + node_words(n) + " has no target counterpart";
    // Insert it after the target counterpart of its input when it is a pure activation or an
    // op with scalar constants only.
    const Value* in = n->input(0);
    auto m =
        in != nullptr ? ctx.match_by_source_value.find(in->id()) : ctx.match_by_source_value.end();
    bool scalar_only = true;
    std::vector<Tensor> consts;
    for (size_t k = 1; k < n->inputs().size(); ++k) {
      const Value* v = n->input(k);
      const Tensor* t = v != nullptr ? ctx.source_state.get(v) : nullptr;
      if (v == nullptr || !ctx.source_constant[size_t(v->id())] || t == nullptr ||
          t->num_elements() != 1) {
        scalar_only = false;
        break;
      }
      consts.push_back(*t);
    }
    if (m != ctx.match_by_source_value.end() && scalar_only && n->outputs().size() == 1) {
      const NodeMatch& match = ctx.alignment.matches[size_t(m->second)];
      sus.match = m->second;
      sus.finding.target_nodes = match.target_nodes;
      Edit e;
      e.kind = Edit::Kind::kInsertAfter;
      e.value = match.target_value;
      e.op = n->op();
      e.attrs = n->attrs();
      e.constant_inputs = consts;
      sus.finding.edits.push_back(e);
    }
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
  for (int64_t id : ctx.alignment.unmatched_target) {
    const Node* n = ctx.target.node_by_id(id);
    if (!computes(n, ctx.target_constant)) continue;
    Suspect sus = make("graph.extra_op", "graph", -1, n, nullptr, 0.7);
    sus.finding.evidence["extra"] = "target " + node_words(n) + " has no source counterpart";
    int data_input = -1;
    for (size_t k = 0; k < n->inputs().size(); ++k) {
      const Value* v = n->input(k);
      if (v != nullptr && !ctx.target_constant[size_t(v->id())]) {
        data_input = data_input < 0 ? int(k) : -2;
      }
    }
    // The error starts at the first match downstream of the extra node.
    if (data_input >= 0) {
      const Value* v = n->input(size_t(data_input));
      auto m = ctx.match_by_target_value.find(v->id());
      if (m != ctx.match_by_target_value.end())
        sus.match = m->second + 1 < int(ctx.alignment.matches.size()) ? m->second + 1 : m->second;
      if (n->outputs().size() == 1) {
        Edit e;
        e.kind = Edit::Kind::kBypassNode;
        e.node = n->id();
        e.input_index = data_input;
        sus.finding.edits.push_back(e);
      }
    }
    finish_patch(ctx.target, &sus.finding);
    out->push_back(std::move(sus));
  }
  // Outputs: each source output's counterpart, in order.
  std::vector<int64_t> expected;
  for (const Value* v : ctx.source.outputs()) {
    auto m = ctx.match_by_source_value.find(v->id());
    if (m == ctx.match_by_source_value.end()) return;
    expected.push_back(ctx.alignment.matches[size_t(m->second)].target_value);
  }
  std::vector<int64_t> actual;
  for (const Value* v : ctx.target.outputs()) actual.push_back(v->id());
  if (expected == actual) return;
  std::vector<int64_t> sorted_e = expected, sorted_a = actual;
  std::sort(sorted_e.begin(), sorted_e.end());
  std::sort(sorted_a.begin(), sorted_a.end());
  Suspect sus = make("graph.outputs", "graph", -1, nullptr, nullptr, 0.9);
  for (const Value* v : ctx.target.outputs()) {
    if (v->producer() != nullptr) sus.finding.target_nodes.push_back(v->producer()->id());
  }
  for (const Value* v : ctx.source.outputs()) {
    if (v->producer() != nullptr) sus.finding.source_nodes.push_back(v->producer()->id());
  }
  std::string want, have;
  for (int64_t id : expected)
    want += (want.empty() ? "" : ", ") + ctx.target.value_by_id(id)->name();
  for (const Value* v : ctx.target.outputs()) have += (have.empty() ? "" : ", ") + v->name();
  sus.finding.evidence["outputs"] =
      "source order maps to [" + want + "], target has [" + have + "]";
  sus.finding.evidence["count"] =
      "source " + std::to_string(expected.size()) + " target " + std::to_string(actual.size());
  Edit e;
  e.kind = Edit::Kind::kSetOutputs;
  e.output_values = expected;
  sus.finding.edits.push_back(e);
  finish_patch(ctx.target, &sus.finding);
  out->push_back(std::move(sus));
}

}  // namespace convmend::analysis
