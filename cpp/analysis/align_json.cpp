// The alignment as JSON (schema in docs/alignment.md). Written by hand: the document is small
// and flat, and the core takes no JSON dependency.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "analysis/align.h"

namespace convmend::analysis {
namespace {

void escape(std::ostringstream& out, const std::string& s) {
  out << '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out << "\\\""; break;
      case '\\': out << "\\\\"; break;
      case '\n': out << "\\n"; break;
      case '\r': out << "\\r"; break;
      case '\t': out << "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out << buf;
        } else {
          out << c;  // UTF-8 passes through; names come from the model files
        }
    }
  }
  out << '"';
}

void number(std::ostringstream& out, double v) {
  if (!std::isfinite(v)) {
    out << "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  out << buf;
}

void score(std::ostringstream& out, double v) {
  if (v < 0) {
    out << "null";
  } else {
    number(out, v);
  }
}

void ints(std::ostringstream& out, const std::vector<int64_t>& v) {
  out << '[';
  for (size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << v[i];
  out << ']';
}

bool layout_only(OpKind op) {
  const OpClass c = op_class_of(op);
  return c == OpClass::kTranspose || c == OpClass::kReshape;
}

void node(std::ostringstream& out, const Graph& g, int64_t id) {
  const Node* n = g.node_by_id(id);
  if (n == nullptr) {
    out << "{\"id\":" << id << "}";
    return;
  }
  out << "{\"id\":" << id << ",\"name\":";
  escape(out, n->name());
  out << ",\"op\":";
  escape(out, n->op_name());
  out << ",\"class\":";
  escape(out, op_class_name(op_class_of(n->op())));
  out << ",\"layout_only\":" << (layout_only(n->op()) ? "true" : "false");
  const Provenance& p = n->provenance();
  out << ",\"provenance\":{\"format\":";
  escape(out, p.format);
  out << ",\"name\":";
  escape(out, p.name);
  out << ",\"op_type\":";
  escape(out, p.op_type);
  out << ",\"index\":" << p.index << "}}";
}

void value(std::ostringstream& out, const Graph& g, int64_t id) {
  const Value* v = g.value_by_id(id);
  if (v == nullptr) {
    out << "{\"id\":" << id << "}";
    return;
  }
  out << "{\"id\":" << id << ",\"name\":";
  escape(out, v->name());
  out << ",\"shape\":";
  ints(out, v->shape());
  out << ",\"dtype\":";
  escape(out, dtype_name(v->dtype()));
  out << "}";
}

void nodes(std::ostringstream& out, const Graph& g, const std::vector<int64_t>& ids) {
  out << '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out << ',';
    node(out, g, ids[i]);
  }
  out << ']';
}

void graph_summary(std::ostringstream& out, const Graph& g) {
  out << "{\"name\":";
  escape(out, g.name());
  std::string format;
  for (const Node* n : g.nodes()) {
    if (!n->provenance().format.empty()) {
      format = n->provenance().format;
      break;
    }
  }
  out << ",\"format\":";
  escape(out, format);
  out << ",\"node_count\":" << g.node_count() << "}";
}

}  // namespace

std::string to_json(const Alignment& a, const Graph& source, const Graph& target) {
  std::ostringstream out;
  out << "{\"schema\":\"convmend.alignment/1\",\"source\":";
  graph_summary(out, source);
  out << ",\"target\":";
  graph_summary(out, target);
  out << ",\"matches\":[";
  for (size_t i = 0; i < a.matches.size(); ++i) {
    const NodeMatch& m = a.matches[i];
    if (i) out << ',';
    out << "{\"kind\":";
    escape(out, match_kind_name(m.kind));
    out << ",\"anchor\":" << (m.anchor ? "true" : "false");
    out << ",\"in_order\":" << (m.in_order ? "true" : "false");
    out << ",\"confidence\":";
    number(out, m.confidence);
    out << ",\"scores\":{\"op_class\":";
    score(out, m.scores.op_class);
    out << ",\"shape\":";
    score(out, m.scores.shape);
    out << ",\"weights\":";
    score(out, m.scores.weights);
    out << ",\"activation\":";
    score(out, m.scores.activation);
    out << ",\"order\":";
    score(out, m.scores.order);
    out << "},\"source_nodes\":";
    nodes(out, source, m.source_nodes);
    out << ",\"target_nodes\":";
    nodes(out, target, m.target_nodes);
    out << ",\"comparison\":{\"source_value\":";
    value(out, source, m.source_value);
    out << ",\"target_value\":";
    value(out, target, m.target_value);
    out << ",\"transform\":";
    escape(out, value_transform_name(m.transform));
    out << ",\"permutation\":";
    if (m.permutation.empty()) {
      out << "null";
    } else {
      ints(out, m.permutation);
    }
    out << "}}";
  }
  out << "],\"unmatched_source\":";
  nodes(out, source, a.unmatched_source);
  out << ",\"unmatched_target\":";
  nodes(out, target, a.unmatched_target);
  out << "}";
  return out.str();
}

}  // namespace convmend::analysis
