// Graph alignment (docs/alignment.md): blocks around weighted anchors, a monotone sequence
// alignment of the anchors, then of the remaining blocks between consecutive matched anchors.
#include "analysis/align.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "analysis/align_signals.h"

namespace convmend::analysis {

const char* op_class_name(OpClass c) {
  switch (c) {
    case OpClass::kConv: return "conv";
    case OpClass::kDense: return "dense";
    case OpClass::kNorm: return "norm";
    case OpClass::kActivation: return "activation";
    case OpClass::kPool: return "pool";
    case OpClass::kGlobalPool: return "global_pool";
    case OpClass::kReduce: return "reduce";
    case OpClass::kElementwise: return "elementwise";
    case OpClass::kConcat: return "concat";
    case OpClass::kSplit: return "split";
    case OpClass::kReshape: return "reshape";
    case OpClass::kTranspose: return "transpose";
    case OpClass::kPad: return "pad";
    case OpClass::kSoftmax: return "softmax";
    case OpClass::kResize: return "resize";
    case OpClass::kQuant: return "quant";
    case OpClass::kOther: return "other";
  }
  return "other";
}

OpClass op_class_of(OpKind op) {
  switch (op) {
    case OpKind::kConv: return OpClass::kConv;
    case OpKind::kFullyConnected:
    case OpKind::kGemm:
    case OpKind::kMatMul: return OpClass::kDense;
    case OpKind::kBatchNormalization: return OpClass::kNorm;
    case OpKind::kRelu:
    case OpKind::kClip:
    case OpKind::kLeakyRelu:
    case OpKind::kPRelu:
    case OpKind::kSigmoid:
    case OpKind::kHardSigmoid:
    case OpKind::kHardSwish:
    case OpKind::kTanh:
    case OpKind::kGelu:
    case OpKind::kElu:
    case OpKind::kSoftplus: return OpClass::kActivation;
    case OpKind::kErf:
    case OpKind::kNeg:
    case OpKind::kAbs:
    case OpKind::kSqrt:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kReciprocal:
    case OpKind::kFloor:
    case OpKind::kCeil:
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kMax:
    case OpKind::kMin:
    case OpKind::kSum:
    case OpKind::kEqual:
    case OpKind::kLess:
    case OpKind::kGreater:
    case OpKind::kWhere: return OpClass::kElementwise;
    case OpKind::kMaxPool:
    case OpKind::kAveragePool: return OpClass::kPool;
    case OpKind::kGlobalAveragePool:
    case OpKind::kGlobalMaxPool: return OpClass::kGlobalPool;
    case OpKind::kReduceMean:
    case OpKind::kReduceSum:
    case OpKind::kReduceMax:
    case OpKind::kReduceMin: return OpClass::kReduce;
    case OpKind::kSoftmax: return OpClass::kSoftmax;
    case OpKind::kPad: return OpClass::kPad;
    case OpKind::kConcat: return OpClass::kConcat;
    case OpKind::kSplit: return OpClass::kSplit;
    case OpKind::kReshape:
    case OpKind::kFlatten:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
    case OpKind::kIdentity:
    case OpKind::kCast: return OpClass::kReshape;
    case OpKind::kTranspose: return OpClass::kTranspose;
    case OpKind::kResize: return OpClass::kResize;
    case OpKind::kDequantizeLinear:
    case OpKind::kQuantizeLinear: return OpClass::kQuant;
    default: return OpClass::kOther;
  }
}

const char* match_kind_name(MatchKind k) {
  switch (k) {
    case MatchKind::kOneToOne: return "one_to_one";
    case MatchKind::kFused: return "fused";
    case MatchKind::kSplit: return "split";
    case MatchKind::kManyToMany: return "many_to_many";
  }
  return "one_to_one";
}

const char* value_transform_name(ValueTransform t) {
  switch (t) {
    case ValueTransform::kIdentity: return "identity";
    case ValueTransform::kPermute: return "permute";
    case ValueTransform::kReshape: return "reshape";
    case ValueTransform::kIncomparable: return "incomparable";
  }
  return "identity";
}

namespace {

// A block: the nodes that together compute one comparison value.
struct Unit {
  std::vector<const Node*> nodes;         // data-path nodes, topological order
  std::vector<const Node*> weight_nodes;  // nodes computing only on constants, absorbed
  const Node* head = nullptr;             // the anchor, or the first node
  bool anchor = false;
  int first_pos = 0;  // topological position of the first node
  int key = -1;       // index of the last matched anchor pair upstream (dataflow)
  int match = -1;     // index into the match list
  const Value* out() const { return nodes.back()->output(0); }
};

struct GraphView {
  const Graph* graph = nullptr;
  std::vector<Node*> order;
  std::vector<int> pos;             // by node id
  std::vector<char> static_value;   // by value id: computed from constants only
  std::vector<char> static_node;    // by node id
  std::vector<Layout> layouts;      // by value id
  std::vector<int> unit_of;         // by node id
  std::vector<Unit> units;
  std::vector<int> anchors;         // unit indices of weighted nodes, topological order
  std::vector<std::optional<WeightFingerprint>> fingerprints;  // by unit index
  const std::map<std::string, std::vector<double>>* samples = nullptr;  // statistics

  bool is_static(const Value* v) const {
    return v == nullptr || static_value[size_t(v->id())] != 0;
  }
  Layout layout(const Value* v) const { return layouts[size_t(v->id())]; }
};

bool is_absorbable_tail(const GraphView& g, const Node& n, const Value* data, bool anchor) {
  // Every other input must be a constant (bounds of Clip, BN statistics, a bias, a scale).
  for (size_t i = 0; i < n.inputs().size(); ++i) {
    const Value* in = n.input(i);
    if (in != data && !g.is_static(in)) return false;
  }
  if (n.input(0) != data && op_class_of(n.op()) != OpClass::kElementwise) return false;
  switch (op_class_of(n.op())) {
    case OpClass::kActivation: return n.op() != OpKind::kPRelu || anchor;
    case OpClass::kNorm: return anchor;
    default: break;
  }
  switch (n.op()) {
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv: return anchor;  // a bias, a folded BatchNorm's scale and shift
    case OpKind::kMax:
    case OpKind::kMin: return true;  // Relu6 spelled as Min(Max(x, 0), 6)
    default: return false;
  }
}

bool is_absorbable_pre(OpKind op) {
  switch (op) {
    case OpKind::kPad:
    case OpKind::kTranspose:
    case OpKind::kReshape:
    case OpKind::kFlatten:
    case OpKind::kSqueeze:
    case OpKind::kUnsqueeze:
    case OpKind::kIdentity:
    case OpKind::kCast: return true;
    default: return false;
  }
}

bool single_use(const Value* v) { return v->consumers().size() == 1 && !v->is_graph_output(); }

Status build_view(const Graph& graph, const AlignOptions& options,
                  const std::map<std::string, std::vector<double>>* samples, GraphView* g) {
  g->graph = &graph;
  g->samples = samples;
  ASSIGN_OR_RETURN(g->order, graph.topological_order());
  int64_t max_node = 0, max_value = 0;
  for (const Node* n : g->order) max_node = std::max(max_node, n->id());
  for (const Value* v : graph.values()) max_value = std::max(max_value, v->id());
  g->pos.assign(size_t(max_node + 1), -1);
  g->static_node.assign(size_t(max_node + 1), 0);
  g->unit_of.assign(size_t(max_node + 1), -1);
  g->static_value.assign(size_t(max_value + 1), 0);
  for (const Value* v : graph.values()) {
    if (v->is_constant()) g->static_value[size_t(v->id())] = 1;
  }
  for (size_t i = 0; i < g->order.size(); ++i) {
    const Node* n = g->order[i];
    g->pos[size_t(n->id())] = static_cast<int>(i);
    bool all_static = !n->inputs().empty();
    for (const Value* in : n->inputs()) all_static = all_static && g->is_static(in);
    g->static_node[size_t(n->id())] = all_static ? 1 : 0;
    for (const Value* out : n->outputs()) g->static_value[size_t(out->id())] = all_static ? 1 : 0;
  }
  g->layouts = infer_activation_layouts(graph, g->order);

  auto take = [&](const Node* n, int unit) { g->unit_of[size_t(n->id())] = unit; };
  auto free_node = [&](const Node* n) {
    return g->unit_of[size_t(n->id())] < 0 && g->static_node[size_t(n->id())] == 0;
  };
  // The single-use ops feeding the unit's first node whose other inputs are static (a Pad's
  // amounts, a Reshape's shape), while `absorbs` takes them.
  auto grow_head = [&](Unit& u, int index, bool (*absorbs)(OpKind)) {
    const Value* in = u.nodes.front()->input(0);
    while (in != nullptr && in->producer() != nullptr && single_use(in)) {
      const Node* p = in->producer();
      if (!free_node(p) || !absorbs(p->op()) || p->outputs().size() != 1) break;
      bool others_static = true;
      for (size_t i = 1; i < p->inputs().size(); ++i) {
        others_static = others_static && g->is_static(p->input(i));
      }
      if (!others_static) break;
      u.nodes.insert(u.nodes.begin(), p);
      take(p, index);
      in = p->input(0);
    }
  };
  auto grow_tail = [&](Unit& u, int index) {
    const Value* v = u.nodes.back()->output(0);
    while (single_use(v)) {
      const Node* c = v->consumers()[0].first;
      if (!free_node(c) || c->outputs().size() != 1 || !is_absorbable_tail(*g, *c, v, u.anchor)) {
        break;
      }
      u.nodes.push_back(c);
      take(c, index);
      v = c->output(0);
    }
  };

  // Anchors first: weighted nodes, with the layout ops and padding feeding them and the
  // normalization, bias and activation they feed.
  for (const Node* n : g->order) {
    if (g->static_node[size_t(n->id())] || n->outputs().size() != 1) continue;
    const OpClass c = op_class_of(n->op());
    if (c != OpClass::kConv && c != OpClass::kDense) continue;
    std::optional<WeightFingerprint> fp = weight_fingerprint(*n, options.samples_per_channel);
    if (!fp) continue;
    const int index = static_cast<int>(g->units.size());
    Unit u;
    u.anchor = true;
    u.head = n;
    u.nodes.push_back(n);
    take(n, index);
    grow_head(u, index, is_absorbable_pre);
    grow_tail(u, index);
    g->units.push_back(std::move(u));
    g->fingerprints.push_back(std::move(fp));
    g->anchors.push_back(index);
  }
  // The rest: one block per node, with the activations it feeds; a pool takes the explicit
  // Pad in front of it (a converter's PAD + VALID for SAME), as a convolution does. Pools go
  // first so that their Pad is still free.
  auto is_pool = [](const Node* n) { return op_class_of(n->op()) == OpClass::kPool; };
  std::vector<const Node*> rest;
  for (const Node* n : g->order) {
    if (free_node(n) && is_pool(n)) rest.push_back(n);
  }
  for (const Node* n : g->order) {
    if (free_node(n) && !is_pool(n)) rest.push_back(n);
  }
  for (const Node* n : rest) {
    if (!free_node(n)) continue;
    const int index = static_cast<int>(g->units.size());
    Unit u;
    u.head = n;
    u.nodes.push_back(n);
    take(n, index);
    if (is_pool(n)) grow_head(u, index, [](OpKind op) { return op == OpKind::kPad; });
    if (n->outputs().size() == 1) grow_tail(u, index);
    g->units.push_back(std::move(u));
    g->fingerprints.emplace_back();
  }
  // Nodes on constants only (a weight's Transpose or Dequantize) join their consumer's block.
  for (auto it = g->order.rbegin(); it != g->order.rend(); ++it) {
    const Node* n = *it;
    if (!g->static_node[size_t(n->id())]) continue;
    for (const Value* out : n->outputs()) {
      for (const auto& [c, index] : out->consumers()) {
        const int unit = g->unit_of[size_t(c->id())];
        if (unit >= 0 && g->unit_of[size_t(n->id())] < 0) {
          take(n, unit);
          g->units[size_t(unit)].weight_nodes.push_back(n);
        }
      }
    }
  }
  for (Unit& u : g->units) {
    std::sort(u.nodes.begin(), u.nodes.end(), [&](const Node* a, const Node* b) {
      return g->pos[size_t(a->id())] < g->pos[size_t(b->id())];
    });
    u.first_pos = g->pos[size_t(u.nodes.front()->id())];
  }
  return Status::ok();
}

const std::vector<double>* statistics(GraphView& g, const Value* v) {
  if (g.samples == nullptr) return nullptr;
  auto it = g.samples->find(v->name());
  return it == g.samples->end() || it->second.empty() ? nullptr : &it->second;
}

double activation_score(GraphView& s, GraphView& t, const Value* sv, const Value* tv) {
  const std::vector<double>* a = statistics(s, sv);
  const std::vector<double>* b = statistics(t, tv);
  if (a == nullptr || b == nullptr) return -1;
  return statistics_similarity(*a, *b);
}

// Combined score: a weighted mean of the available signals.
double combine(const SignalScores& s, double w_class, double w_shape, double w_weights,
               double w_act, double w_order) {
  double total = 0, weight = 0;
  auto add = [&](double score, double w) {
    if (score < 0) return;
    total += w * score;
    weight += w;
  };
  add(s.op_class, w_class);
  add(s.shape, w_shape);
  add(s.weights, w_weights);
  add(s.activation, w_act);
  add(s.order, w_order);
  return weight > 0 ? total / weight : 0;
}

double anchor_class_score(const Node& a, const Node& b) {
  const OpClass ca = op_class_of(a.op()), cb = op_class_of(b.op());
  if (ca != cb) return 0.5;  // a 1x1 conv for a dense layer, or the reverse
  if (ca == OpClass::kConv) {
    Result<int64_t> ga = a.attrs().get_int("group", 1), gb = b.attrs().get_int("group", 1);
    return ga.is_ok() && gb.is_ok() && *ga == *gb ? 1.0 : 0.6;
  }
  return a.op() == b.op() ? 1.0 : 0.9;
}

double block_class_score(const Node& a, const Node& b) {
  if (a.op() == b.op()) return 1.0;
  const OpClass ca = op_class_of(a.op()), cb = op_class_of(b.op());
  if (ca == cb) return 0.85;
  auto either = [&](OpClass x, OpClass y) {
    return (ca == x && cb == y) || (ca == y && cb == x);
  };
  if (either(OpClass::kGlobalPool, OpClass::kReduce) ||
      either(OpClass::kPool, OpClass::kGlobalPool) ||
      either(OpClass::kReshape, OpClass::kTranspose)) {
    return 0.6;
  }
  return 0.0;
}

// The monotone alignment maximising the summed score of matched pairs (gaps cost nothing);
// score(i, j) < 0 forbids a pair. Returns the matched (i, j) in increasing order.
template <typename ScoreFn>
std::vector<std::pair<int, int>> monotone_alignment(int n, int m, ScoreFn score) {
  std::vector<std::pair<int, int>> pairs;
  if (n == 0 || m == 0) return pairs;
  const size_t cols = size_t(m) + 1;
  std::vector<double> best((size_t(n) + 1) * cols, 0.0);
  std::vector<double> pair(size_t(n) * size_t(m), -1.0);
  for (int i = 1; i <= n; ++i) {
    for (int j = 1; j <= m; ++j) {
      const double s = score(i - 1, j - 1);
      pair[size_t(i - 1) * size_t(m) + size_t(j - 1)] = s;
      double b = std::max(best[size_t(i - 1) * cols + size_t(j)],
                          best[size_t(i) * cols + size_t(j - 1)]);
      if (s >= 0) b = std::max(b, best[size_t(i - 1) * cols + size_t(j - 1)] + s);
      best[size_t(i) * cols + size_t(j)] = b;
    }
  }
  int i = n, j = m;
  while (i > 0 && j > 0) {
    const double here = best[size_t(i) * cols + size_t(j)];
    const double s = pair[size_t(i - 1) * size_t(m) + size_t(j - 1)];
    if (s >= 0 && here == best[size_t(i - 1) * cols + size_t(j - 1)] + s) {
      pairs.emplace_back(i - 1, j - 1);
      --i;
      --j;
    } else if (here == best[size_t(i - 1) * cols + size_t(j)]) {
      --i;
    } else {
      --j;
    }
  }
  std::reverse(pairs.begin(), pairs.end());
  return pairs;
}

NodeMatch make_match(const GraphView& s, const GraphView& t, int su, int tu) {
  const Unit& a = s.units[size_t(su)];
  const Unit& b = t.units[size_t(tu)];
  NodeMatch m;
  auto ids = [](const GraphView& g, const Unit& u) {
    std::vector<const Node*> all = u.weight_nodes;
    all.insert(all.end(), u.nodes.begin(), u.nodes.end());
    std::sort(all.begin(), all.end(), [&](const Node* x, const Node* y) {
      return g.pos[size_t(x->id())] < g.pos[size_t(y->id())];
    });
    std::vector<int64_t> out;
    for (const Node* n : all) out.push_back(n->id());
    return out;
  };
  m.source_nodes = ids(s, a);
  m.target_nodes = ids(t, b);
  m.source_value = a.out()->id();
  m.target_value = b.out()->id();
  m.transform = value_relation(a.out()->shape(), s.layout(a.out()), b.out()->shape(),
                               t.layout(b.out()), &m.permutation);
  const size_t ns = a.nodes.size(), nt = b.nodes.size();
  m.kind = ns == 1 && nt == 1 ? MatchKind::kOneToOne
           : nt == 1          ? MatchKind::kFused
           : ns == 1          ? MatchKind::kSplit
                              : MatchKind::kManyToMany;
  m.anchor = a.anchor && b.anchor;
  return m;
}

// Unit indices by the topological position of their first node (last first: `reverse`).
std::vector<int> units_by_position(const GraphView& g, bool reverse) {
  std::vector<int> by_pos(g.units.size());
  for (size_t i = 0; i < by_pos.size(); ++i) by_pos[i] = static_cast<int>(i);
  std::sort(by_pos.begin(), by_pos.end(), [&](int x, int y) {
    const int a = g.units[size_t(x)].first_pos, b = g.units[size_t(y)].first_pos;
    return reverse ? a > b : a < b;
  });
  return by_pos;
}

// Unit `u` joins match `match`: its nodes are added to that match's side, in order.
void join_match(GraphView& g, Unit& u, int match, Alignment* result, bool source) {
  u.match = match;
  NodeMatch& m = result->matches[size_t(match)];
  std::vector<int64_t>& ids = source ? m.source_nodes : m.target_nodes;
  for (const Node* n : u.weight_nodes) ids.push_back(n->id());
  for (const Node* n : u.nodes) ids.push_back(n->id());
  std::sort(ids.begin(), ids.end(),
            [&](int64_t x, int64_t y) { return g.pos[size_t(x)] < g.pos[size_t(y)]; });
}

// Dataflow keys: each block takes the largest matched-anchor index among its ancestors.
void assign_keys(GraphView& g, const std::vector<int>& anchor_index_of_unit) {
  std::vector<int> value_key(g.static_value.size(), -1);
  for (int ui : units_by_position(g, false)) {
    Unit& u = g.units[size_t(ui)];
    int key = -1;
    for (const Node* n : u.nodes) {
      for (const Value* in : n->inputs()) {
        if (in != nullptr) key = std::max(key, value_key[size_t(in->id())]);
      }
    }
    if (anchor_index_of_unit[size_t(ui)] >= 0) key = anchor_index_of_unit[size_t(ui)];
    u.key = key;
    for (const Node* n : u.nodes) {
      for (const Value* out : n->outputs()) value_key[size_t(out->id())] = key;
    }
  }
}

// An unmatched block that is one Concat whose only consumer is a Concat on the same axis joins
// that consumer's match: concat(a, concat(b, c)) is concat(a, b, c), which is what exporters
// write (torchvision's InceptionV3 concatenates inside Mixed_7b/7c; torch.onnx flattens it).
void attach_nested_concats(GraphView& g, Alignment* result, bool source) {
  for (int ui : units_by_position(g, /*reverse=*/true)) {  // outer ones first
    Unit& u = g.units[size_t(ui)];
    if (u.match >= 0 || u.anchor || u.nodes.size() != 1) continue;
    const Node* inner = u.nodes.front();
    if (inner->op() != OpKind::kConcat || inner->outputs().size() != 1) continue;
    const Value* out = inner->output(0);
    if (out->consumers().size() != 1 || out->is_graph_output()) continue;
    const Node* outer = out->consumers().front().first;
    if (outer->op() != OpKind::kConcat) continue;
    Result<int64_t> a = inner->attrs().get_int("axis", 0);
    Result<int64_t> b = outer->attrs().get_int("axis", 0);
    if (!a.is_ok() || !b.is_ok() || *a != *b) continue;
    const int outer_unit = g.unit_of[size_t(outer->id())];
    if (outer_unit < 0 || g.units[size_t(outer_unit)].match < 0) continue;
    join_match(g, u, g.units[size_t(outer_unit)].match, result, source);
  }
}

bool layout_only_unit(const Unit& u) {
  for (const Node* n : u.nodes) {
    const OpClass c = op_class_of(n->op());
    if (c != OpClass::kTranspose && c != OpClass::kReshape) return false;
  }
  return true;
}

void attach_layout_leftovers(GraphView& g, Alignment* result, bool source) {
  for (int ui : units_by_position(g, false)) {
    Unit& u = g.units[size_t(ui)];
    if (u.match >= 0 || u.anchor || !layout_only_unit(u)) continue;
    const Value* in = u.nodes.front()->input(0);
    if (in == nullptr || in->producer() == nullptr) continue;
    const int producer_unit = g.unit_of[size_t(in->producer()->id())];
    if (producer_unit < 0 || g.units[size_t(producer_unit)].match < 0) continue;
    join_match(g, u, g.units[size_t(producer_unit)].match, result, source);
  }
}

}  // namespace

Result<std::map<std::string, std::vector<double>>> activation_statistics(
    const Graph& graph, const std::map<std::string, Tensor>& traced) {
  ASSIGN_OR_RETURN(std::vector<Node*> order, graph.topological_order());
  const std::vector<Layout> layouts = infer_activation_layouts(graph, order);
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : traced) {
    const Value* v = graph.find_value(name);
    if (v == nullptr || size_t(v->id()) >= layouts.size()) continue;
    out[name] = channel_statistics(t, channel_axis_of(layouts[size_t(v->id())], t.rank()));
  }
  return out;
}

Result<Alignment> align(const Graph& source, const Graph& target, const AlignOptions& options,
                        const ActivationSamples* samples) {
  GraphView s, t;
  RETURN_IF_ERROR(build_view(source, options, samples ? &samples->source : nullptr, &s)
                      .with_context("aligning the source graph: "));
  RETURN_IF_ERROR(build_view(target, options, samples ? &samples->target : nullptr, &t)
                      .with_context("aligning the target graph: "));

  // 1. Anchors: monotone alignment over weighted nodes in topological order.
  const int na = static_cast<int>(s.anchors.size()), nb = static_cast<int>(t.anchors.size());
  std::vector<SignalScores> anchor_scores(size_t(na) * size_t(nb));
  std::vector<double> sketch_scores(size_t(na) * size_t(nb), -1);
  auto anchor_pair = [&](int i, int j) -> double {
    const Unit& a = s.units[size_t(s.anchors[size_t(i)])];
    const Unit& b = t.units[size_t(t.anchors[size_t(j)])];
    SignalScores sc;
    sc.op_class = anchor_class_score(*a.head, *b.head);
    sc.shape = shape_similarity(a.head->output(0)->shape(), b.head->output(0)->shape());
    double sketch = -1;
    sc.weights = weight_similarity(*s.fingerprints[size_t(s.anchors[size_t(i)])],
                                   *t.fingerprints[size_t(t.anchors[size_t(j)])], &sketch);
    const double pi = na > 1 ? double(i) / double(na - 1) : 0.0;
    const double pj = nb > 1 ? double(j) / double(nb - 1) : 0.0;
    sc.order = 1.0 - std::fabs(pi - pj);
    sc.activation = activation_score(s, t, a.out(), b.out());
    anchor_scores[size_t(i) * size_t(nb) + size_t(j)] = sc;
    sketch_scores[size_t(i) * size_t(nb) + size_t(j)] = sketch;
    const double conf = combine(sc, 0.15, 0.2, 0.5, 0.35, 0.15);
    return conf >= options.min_anchor_score ? conf : -1.0;
  };
  std::vector<double> anchor_conf(size_t(na) * size_t(nb));
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < nb; ++j) anchor_conf[size_t(i) * size_t(nb) + size_t(j)] = anchor_pair(i, j);
  // Weights that agree strongly and with nothing else are the surest signal there is: such a
  // pair (each the other's only sketch match) reserves both anchors, so that the order can not
  // give either to a look-alike of the same shape (InceptionV3's parallel 1x1 convs, whose
  // weight moments are all alike). The pair itself is placed by the order or, when branches
  // are listed differently, by the reorder step below.
  std::vector<int> sure_t(size_t(na), -1), sure_s(size_t(nb), -1);
  {
    const double strong = options.min_reorder_weight_score;
    std::vector<int> count_s(size_t(na), 0), count_t(size_t(nb), 0), best_s(size_t(na), -1);
    for (int i = 0; i < na; ++i)
      for (int j = 0; j < nb; ++j)
        if (sketch_scores[size_t(i) * size_t(nb) + size_t(j)] >= strong) {
          ++count_s[size_t(i)];
          ++count_t[size_t(j)];
          best_s[size_t(i)] = j;
        }
    for (int i = 0; i < na; ++i) {
      const int j = best_s[size_t(i)];
      if (j >= 0 && count_s[size_t(i)] == 1 && count_t[size_t(j)] == 1) {
        sure_t[size_t(i)] = j;
        sure_s[size_t(j)] = i;
      }
    }
  }
  const auto anchor_pairs = monotone_alignment(na, nb, [&](int i, int j) {
    if ((sure_t[size_t(i)] >= 0 || sure_s[size_t(j)] >= 0) && sure_t[size_t(i)] != j) return -1.0;
    return anchor_conf[size_t(i) * size_t(nb) + size_t(j)];
  });

  Alignment result;
  std::vector<int> s_key_of(s.units.size(), -1), t_key_of(t.units.size(), -1);
  auto add_match = [&](int su, int tu, const SignalScores& sc, double conf, bool in_order) {
    NodeMatch m = make_match(s, t, su, tu);
    m.scores = sc;
    m.confidence = conf;
    m.in_order = in_order;
    s.units[size_t(su)].match = static_cast<int>(result.matches.size());
    t.units[size_t(tu)].match = static_cast<int>(result.matches.size());
    result.matches.push_back(std::move(m));
  };
  for (size_t k = 0; k < anchor_pairs.size(); ++k) {
    const auto [i, j] = anchor_pairs[k];
    const SignalScores& sc = anchor_scores[size_t(i) * size_t(nb) + size_t(j)];
    add_match(s.anchors[size_t(i)], t.anchors[size_t(j)], sc,
              combine(sc, 0.15, 0.2, 0.5, 0.35, 0.15), true);
    s_key_of[size_t(s.anchors[size_t(i)])] = static_cast<int>(k);
    t_key_of[size_t(t.anchors[size_t(j)])] = static_cast<int>(k);
  }
  // 2. Weighted nodes the order could not place (parallel branches listed in another order):
  // matched when their weights agree strongly, best pairs first.
  std::vector<std::tuple<double, int, int>> reorder;
  for (int i = 0; i < na; ++i) {
    if (s.units[size_t(s.anchors[size_t(i)])].match >= 0) continue;
    for (int j = 0; j < nb; ++j) {
      if (t.units[size_t(t.anchors[size_t(j)])].match >= 0) continue;
      const double sk = sketch_scores[size_t(i) * size_t(nb) + size_t(j)];
      if (sk >= options.min_reorder_weight_score) reorder.emplace_back(sk, i, j);
    }
  }
  std::sort(reorder.begin(), reorder.end(), std::greater<>());
  for (const auto& [sk, i, j] : reorder) {
    const int su = s.anchors[size_t(i)], tu = t.anchors[size_t(j)];
    if (s.units[size_t(su)].match >= 0 || t.units[size_t(tu)].match >= 0) continue;
    const SignalScores& sc = anchor_scores[size_t(i) * size_t(nb) + size_t(j)];
    add_match(su, tu, sc, combine(sc, 0.15, 0.2, 0.5, 0.35, 0.15), false);
  }

  // 3. The other blocks, aligned within the same dataflow key (between matched anchors).
  assign_keys(s, s_key_of);
  assign_keys(t, t_key_of);
  // 2b. Anchors still unmatched on both sides, typically one whose weights a fault changed
  // beyond recognition: paired inside their dataflow region (the same key) by the monotone
  // alignment over all signals, so that the parameter stage can compare their weights.
  {
    std::map<int, std::pair<std::vector<int>, std::vector<int>>> left;
    for (int i = 0; i < na; ++i) {
      const Unit& u = s.units[size_t(s.anchors[size_t(i)])];
      if (u.match < 0) left[u.key].first.push_back(i);
    }
    for (int j = 0; j < nb; ++j) {
      const Unit& u = t.units[size_t(t.anchors[size_t(j)])];
      if (u.match < 0) left[u.key].second.push_back(j);
    }
    for (const auto& [key, members] : left) {
      const auto& [is, js] = members;
      if (is.empty() || js.empty()) continue;
      auto conf = [&](int a, int b) {
        const int i = is[size_t(a)], j = js[size_t(b)];
        if (sure_t[size_t(i)] >= 0 || sure_s[size_t(j)] >= 0) return -1.0;
        return anchor_conf[size_t(i) * size_t(nb) + size_t(j)];
      };
      for (const auto& [a, b] : monotone_alignment(int(is.size()), int(js.size()), conf)) {
        const int i = is[size_t(a)], j = js[size_t(b)];
        const SignalScores& sc = anchor_scores[size_t(i) * size_t(nb) + size_t(j)];
        add_match(s.anchors[size_t(i)], t.anchors[size_t(j)], sc,
                  combine(sc, 0.15, 0.2, 0.5, 0.35, 0.15), false);
      }
    }
  }
  std::map<int, std::pair<std::vector<int>, std::vector<int>>> groups;
  for (size_t u = 0; u < s.units.size(); ++u) {
    if (s.units[u].match < 0 && !s.units[u].anchor) groups[s.units[u].key].first.push_back(int(u));
  }
  for (size_t u = 0; u < t.units.size(); ++u) {
    if (t.units[u].match < 0 && !t.units[u].anchor) groups[t.units[u].key].second.push_back(int(u));
  }
  for (auto& [key, members] : groups) {
    auto& [su, tu] = members;
    if (su.empty() || tu.empty()) continue;
    auto by_pos = [](const GraphView& g) {
      return [&g](int x, int y) {
        return g.units[size_t(x)].first_pos < g.units[size_t(y)].first_pos;
      };
    };
    std::sort(su.begin(), su.end(), by_pos(s));
    std::sort(tu.begin(), tu.end(), by_pos(t));
    std::vector<SignalScores> scores(su.size() * tu.size());
    auto block_conf = [](const SignalScores& sc) { return combine(sc, 0.5, 0.5, 0, 0.5, 0); };
    auto block_pair = [&](int i, int j) -> double {
      const Unit& a = s.units[size_t(su[size_t(i)])];
      const Unit& b = t.units[size_t(tu[size_t(j)])];
      SignalScores sc;
      sc.op_class = block_class_score(*a.head, *b.head);
      if (sc.op_class <= 0) return -1.0;
      sc.shape = shape_similarity(a.out()->shape(), b.out()->shape());
      sc.activation = activation_score(s, t, a.out(), b.out());
      scores[size_t(i) * tu.size() + size_t(j)] = sc;
      const double conf = block_conf(sc);
      return conf >= options.min_block_score ? conf : -1.0;
    };
    for (const auto& [i, j] : monotone_alignment(int(su.size()), int(tu.size()), block_pair)) {
      const SignalScores& sc = scores[size_t(i) * tu.size() + size_t(j)];
      add_match(su[size_t(i)], tu[size_t(j)], sc, block_conf(sc), true);
    }
    // Parallel branches listed in another order leave blocks the order could not place
    // (InceptionV3's pool branch after a concat of another branch): two left over of the same
    // op and shape whose data inputs come from matched blocks pairwise, best pairs first.
    auto fed_alike = [&](const Unit& a, const Unit& b) {
      auto feeds = [](const GraphView& g, const Unit& u) {
        std::vector<int> out;
        for (const Value* in : u.nodes.front()->inputs()) {
          if (in == nullptr || g.is_static(in)) continue;
          const Node* p = in->producer();
          const int unit = p != nullptr ? g.unit_of[size_t(p->id())] : -1;
          out.push_back(unit >= 0 ? g.units[size_t(unit)].match : -1);
        }
        return out;
      };
      const std::vector<int> fa = feeds(s, a), fb = feeds(t, b);
      return !fa.empty() && fa == fb &&
             std::find(fa.begin(), fa.end(), -1) == fa.end();
    };
    std::vector<std::tuple<double, int, int>> left;
    for (size_t i = 0; i < su.size(); ++i) {
      for (size_t j = 0; j < tu.size(); ++j) {
        const Unit& a = s.units[size_t(su[i])];
        const Unit& b = t.units[size_t(tu[j])];
        const SignalScores& sc = scores[i * tu.size() + j];  // every pair was scored above
        if (a.match >= 0 || b.match >= 0 || a.head->op() != b.head->op() || sc.shape < 1) {
          continue;
        }
        const double c = block_conf(sc);
        if (c < options.min_block_score || !fed_alike(a, b)) continue;
        left.emplace_back(c, int(i), int(j));
      }
    }
    std::sort(left.begin(), left.end(), std::greater<>());
    for (const auto& [c, i, j] : left) {
      if (s.units[size_t(su[size_t(i)])].match >= 0 || t.units[size_t(tu[size_t(j)])].match >= 0)
        continue;
      add_match(su[size_t(i)], tu[size_t(j)], scores[size_t(i) * tu.size() + size_t(j)], c,
                false);
    }
  }

  // 4. Layout ops left over after a matched block (a converter's Transpose back to NHWC):
  // part of that block's match; the comparison point stays before them.
  attach_layout_leftovers(s, &result, /*source=*/true);
  attach_layout_leftovers(t, &result, /*source=*/false);
  attach_nested_concats(s, &result, /*source=*/true);
  attach_nested_concats(t, &result, /*source=*/false);
  for (NodeMatch& m : result.matches) {
    auto count = [](const GraphView& g, const std::vector<int64_t>& ids) {
      size_t n = 0;
      for (int64_t id : ids) n += g.static_node[size_t(id)] ? 0 : 1;
      return n;
    };
    const size_t ns = count(s, m.source_nodes), nt = count(t, m.target_nodes);
    m.kind = ns == 1 && nt == 1 ? MatchKind::kOneToOne
             : nt == 1          ? MatchKind::kFused
             : ns == 1          ? MatchKind::kSplit
                                : MatchKind::kManyToMany;
  }

  // Matches in source topological order; the unmatched data-path nodes of both sides.
  std::vector<int> first(result.matches.size());
  for (const Unit& u : s.units) {
    if (u.match >= 0) first[size_t(u.match)] = u.first_pos;
  }
  std::vector<size_t> idx(result.matches.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return first[x] < first[y]; });
  std::vector<NodeMatch> sorted;
  sorted.reserve(idx.size());
  for (size_t i : idx) sorted.push_back(std::move(result.matches[i]));
  result.matches = std::move(sorted);
  for (const Node* n : s.order) {
    const int u = s.unit_of[size_t(n->id())];
    if (u >= 0 && s.units[size_t(u)].match < 0 && !s.static_node[size_t(n->id())]) {
      result.unmatched_source.push_back(n->id());
    }
  }
  for (const Node* n : t.order) {
    const int u = t.unit_of[size_t(n->id())];
    if (u >= 0 && t.units[size_t(u)].match < 0 && !t.static_node[size_t(n->id())]) {
      result.unmatched_target.push_back(n->id());
    }
  }
  return result;
}

}  // namespace convmend::analysis
