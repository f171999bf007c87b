// Python bindings of the analysis stage (cpp/analysis): graph alignment. Registered on
// convmend._core by bind_analysis(), called at the end of binding.cpp's module definition.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "analysis/align.h"
#include "analysis/localize.h"
#include "analysis/repair.h"
#include "python/py_graph.h"

namespace py = pybind11;

namespace convmend {
namespace {

[[noreturn]] void raise_convmend_error(const std::string& message) {
  py::object cls = py::module_::import("convmend.errors").attr("ConvmendError");
  PyErr_SetString(cls.ptr(), message.c_str());
  throw py::error_already_set();
}

// {value name: numpy array} -> value name -> float32 Tensor (a batch of activations).
std::map<std::string, Tensor> traced_tensors(const py::object& traced, const char* which) {
  std::map<std::string, Tensor> out;
  if (traced.is_none()) return out;
  if (!py::isinstance<py::dict>(traced)) {
    raise_convmend_error(std::string(which) + ": expected a dict {value name: numpy array}");
  }
  for (const auto& [key, item] : traced.cast<py::dict>()) {
    using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;
    F32Array a = F32Array::ensure(item);
    if (!a) {
      raise_convmend_error(std::string(which) + "['" + py::str(key).cast<std::string>() +
                           "']: not convertible to a float32 array");
    }
    Shape shape(a.shape(), a.shape() + a.ndim());
    Result<Tensor> t = Tensor::from_bytes(DType::kFloat32, shape, a.data(),
                                          static_cast<size_t>(a.nbytes()));
    if (!t.is_ok()) raise_convmend_error(t.status().message());
    out[py::str(key).cast<std::string>()] = std::move(t).value();
  }
  return out;
}

std::string align_to_json(const PyGraph& source, const PyGraph& target,
                          const py::object& source_traced, const py::object& target_traced,
                          double min_anchor_score) {
  const std::map<std::string, Tensor> s_traced = traced_tensors(source_traced, "source_traced");
  const std::map<std::string, Tensor> t_traced = traced_tensors(target_traced, "target_traced");
  const bool has_samples = !s_traced.empty() || !t_traced.empty();
  analysis::ActivationSamples samples;
  for (auto [graph, traced, stats] : {std::tuple{source.graph.get(), &s_traced, &samples.source},
                                      std::tuple{target.graph.get(), &t_traced, &samples.target}}) {
    Result<std::map<std::string, std::vector<double>>> s =
        analysis::activation_statistics(*graph, *traced);
    if (!s.is_ok()) raise_convmend_error(s.status().message());
    *stats = std::move(s).value();
  }
  analysis::AlignOptions options;
  options.min_anchor_score = min_anchor_score;
  std::string json;
  Status status;
  {
    py::gil_scoped_release release;
    Result<analysis::Alignment> a =
        analysis::align(*source.graph, *target.graph, options, has_samples ? &samples : nullptr);
    if (a.is_ok()) {
      json = analysis::to_json(*a, *source.graph, *target.graph);
    } else {
      status = a.status();
    }
  }
  if (!status.is_ok()) raise_convmend_error(status.message());
  return json;
}

// ---- localize ----

Tensor array_to_tensor(const py::handle& item, const char* which) {
  py::array a = py::array::ensure(item, py::array::c_style);
  if (!a) raise_convmend_error(std::string(which) + ": expected numpy arrays");
  const char kind = a.dtype().kind();
  const auto size = a.itemsize();
  DType dtype;
  if (kind == 'f' && (size == 4 || size == 8)) {
    // Float batches are fed as float32, as the models declare them.
    using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;
    a = F32Array::ensure(item);
    dtype = DType::kFloat32;
  } else if (kind == 'u' && size == 1) {
    dtype = DType::kUInt8;
  } else if (kind == 'i' && size == 1) {
    dtype = DType::kInt8;
  } else if (kind == 'i' && size == 4) {
    dtype = DType::kInt32;
  } else if (kind == 'i' && size == 8) {
    dtype = DType::kInt64;
  } else {
    raise_convmend_error(std::string(which) + ": unsupported dtype " +
                         py::str(a.dtype()).cast<std::string>());
  }
  Shape shape(a.shape(), a.shape() + a.ndim());
  Result<Tensor> t = Tensor::from_bytes(dtype, shape, a.data(), static_cast<size_t>(a.nbytes()));
  if (!t.is_ok()) raise_convmend_error(t.status().message());
  return std::move(t).value();
}

std::vector<Tensor> arrays_to_tensors(const py::list& arrays, const char* which) {
  std::vector<Tensor> out;
  for (const py::handle& item : arrays) out.push_back(array_to_tensor(item, which));
  return out;
}

// The alignment dict of _core.align back into an Alignment (ids, comparison, transform).
analysis::Alignment alignment_from_dict(const py::dict& d) {
  analysis::Alignment a;
  auto ids = [](const py::handle& nodes) {
    std::vector<int64_t> out;
    for (const py::handle& n : nodes) out.push_back(n["id"].cast<int64_t>());
    return out;
  };
  try {
    for (const py::handle& m : d["matches"]) {
      analysis::NodeMatch nm;
      nm.source_nodes = ids(m["source_nodes"]);
      nm.target_nodes = ids(m["target_nodes"]);
      py::handle c = m["comparison"];
      nm.source_value = c["source_value"]["id"].cast<int64_t>();
      nm.target_value = c["target_value"]["id"].cast<int64_t>();
      const auto transform = c["transform"].cast<std::string>();
      nm.transform = transform == "identity"  ? analysis::ValueTransform::kIdentity
                     : transform == "permute" ? analysis::ValueTransform::kPermute
                     : transform == "reshape" ? analysis::ValueTransform::kReshape
                                              : analysis::ValueTransform::kIncomparable;
      py::object perm = c["permutation"];
      if (!perm.is_none()) {
        for (const py::handle& p : perm) nm.permutation.push_back(p.cast<int64_t>());
      }
      const auto kind = m["kind"].cast<std::string>();
      nm.kind = kind == "fused"          ? analysis::MatchKind::kFused
                : kind == "split"        ? analysis::MatchKind::kSplit
                : kind == "many_to_many" ? analysis::MatchKind::kManyToMany
                                         : analysis::MatchKind::kOneToOne;
      nm.anchor = m["anchor"].cast<bool>();
      nm.in_order = m["in_order"].cast<bool>();
      nm.confidence = m["confidence"].cast<double>();
      a.matches.push_back(std::move(nm));
    }
    a.unmatched_source = ids(d["unmatched_source"]);
    a.unmatched_target = ids(d["unmatched_target"]);
  } catch (const py::error_already_set& e) {
    raise_convmend_error(std::string("alignment: not an alignment dict (") + e.what() + ")");
  } catch (const py::cast_error& e) {
    raise_convmend_error(std::string("alignment: not an alignment dict (") + e.what() + ")");
  }
  return a;
}

py::dict node_ref(const Graph& g, int64_t id) {
  py::dict d;
  d["id"] = id;
  const Node* n = g.node_by_id(id);
  d["name"] = n != nullptr ? n->name() : std::string();
  d["op"] = n != nullptr ? std::string(n->op_name()) : std::string();
  py::dict p;
  if (n != nullptr) {
    p["format"] = n->provenance().format;
    p["name"] = n->provenance().name;
    p["op_type"] = n->provenance().op_type;
  }
  d["provenance"] = p;
  return d;
}

py::dict finding_to_dict(const analysis::Finding& f, const Graph& sg, const Graph& tg) {
  py::dict d;
  d["code"] = f.code;
  d["stage"] = f.stage;
  py::list tn, sn;
  for (int64_t id : f.target_nodes) tn.append(node_ref(tg, id));
  for (int64_t id : f.source_nodes) sn.append(node_ref(sg, id));
  d["target_nodes"] = tn;
  d["source_nodes"] = sn;
  py::dict evidence;
  for (const auto& [k, v] : f.evidence) evidence[py::str(k)] = py::str(v);
  d["evidence"] = evidence;
  d["confirmed"] = f.confirmed;
  d["discrepancy_before"] = f.discrepancy_before;
  d["discrepancy_after_patch"] = f.discrepancy_after_patch;
  d["disagreeing_before"] = f.disagreeing_before;
  d["disagreeing_after_patch"] = f.disagreeing_after_patch;
  d["confidence"] = f.confidence;
  d["patch"] = f.patch;
  return d;
}

py::dict score_to_dict(const analysis::BatchScore& s) {
  py::dict d;
  d["relative_error"] = s.relative;
  d["disagreeing"] = s.disagreeing;
  d["images"] = s.disagree.size();
  return d;
}

// Source and target graph -> {'graph': the repaired target, 'steps', 'before', 'after',
// 'rounds', 'stopped', 'remaining'}.
py::dict repair_to_dict(const PyGraph& source, const PyGraph& target,
                        const py::list& source_inputs, const py::list& target_inputs,
                        int max_rounds, double goal, bool restore_precision,
                        int max_confirmations) {
  std::vector<Tensor> s_in = arrays_to_tensors(source_inputs, "source_inputs");
  std::vector<Tensor> t_in = arrays_to_tensors(target_inputs, "target_inputs");
  analysis::RepairOptions options;
  options.max_rounds = max_rounds;
  options.goal_relative_error = goal;
  options.restore_precision = restore_precision;
  options.localize.max_confirmations = max_confirmations;
  Result<analysis::RepairResult> r = Status();
  {
    py::gil_scoped_release release;
    r = analysis::repair(*source.graph, *target.graph, nullptr, s_in, t_in, options);
  }
  if (!r.is_ok()) raise_convmend_error(r.status().message());
  const Graph& sg = *source.graph;
  // Node ids of findings are valid in the graph they were found in; the repaired graph keeps
  // every id an edit did not remove, and the original target names the rest.
  const Graph& tg = *target.graph;
  py::list steps;
  for (const analysis::RepairStep& st : r->steps) {
    py::dict d = finding_to_dict(st.finding, sg, tg);
    d["round"] = st.round;
    py::list edits;
    for (const std::string& e : st.edits) edits.append(e);
    d["edits"] = edits;
    d["kept"] = st.kept;
    d["reason"] = st.reason;
    d["before"] = score_to_dict(st.before);
    d["after"] = score_to_dict(st.after);
    steps.append(d);
  }
  py::list remaining;
  for (const analysis::Finding& f : r->remaining) {
    remaining.append(finding_to_dict(f, sg, *r->repaired));
  }
  py::dict out;
  out["steps"] = steps;
  out["remaining"] = remaining;
  out["before"] = score_to_dict(r->before);
  out["after"] = score_to_dict(r->after);
  out["rounds"] = r->rounds;
  out["stopped"] = r->stopped;
  out["graph"] = PyGraph{std::shared_ptr<Graph>(std::move(r->repaired))};
  return out;
}

py::dict localize_to_dict(const PyGraph& source, const PyGraph& target,
                          const py::list& source_inputs, const py::list& target_inputs,
                          const py::object& alignment, bool confirm, int max_confirmations) {
  std::vector<Tensor> s_in = arrays_to_tensors(source_inputs, "source_inputs");
  std::vector<Tensor> t_in = arrays_to_tensors(target_inputs, "target_inputs");
  analysis::Alignment align_result;
  py::object alignment_dict = alignment;
  if (alignment.is_none()) {
    std::string json;
    Status status;
    {
      py::gil_scoped_release release;
      Result<analysis::ActivationSamples> samples =
          analysis::trace_samples(*source.graph, *target.graph, s_in, t_in, 8);
      Result<analysis::Alignment> a =
          samples.is_ok() ? analysis::align(*source.graph, *target.graph, analysis::AlignOptions{},
                                            &samples.value())
                          : Result<analysis::Alignment>(samples.status());
      if (a.is_ok()) {
        json = analysis::to_json(*a, *source.graph, *target.graph);
        align_result = std::move(a).value();
      } else {
        status = a.status();
      }
    }
    if (!status.is_ok()) raise_convmend_error(status.message());
    alignment_dict = py::module_::import("json").attr("loads")(json);
  } else {
    if (!py::isinstance<py::dict>(alignment)) raise_convmend_error("alignment: expected a dict");
    align_result = alignment_from_dict(alignment.cast<py::dict>());
  }
  analysis::LocalizeOptions options;
  options.confirm = confirm;
  options.max_confirmations = max_confirmations;
  Result<analysis::LocalizeResult> r = Status();
  {
    py::gil_scoped_release release;
    r = analysis::localize(*source.graph, *target.graph, align_result, s_in, t_in, options);
  }
  if (!r.is_ok()) raise_convmend_error(r.status().message());
  const Graph& sg = *source.graph;
  const Graph& tg = *target.graph;
  py::list findings;
  for (const analysis::Finding& f : r->findings) findings.append(finding_to_dict(f, sg, tg));
  py::list errors;
  for (const analysis::MatchError& e : r->errors) {
    const analysis::NodeMatch& m = align_result.matches[size_t(e.match_index)];
    const Value* sv = sg.value_by_id(m.source_value);
    const Value* tv = tg.value_by_id(m.target_value);
    py::dict d;
    d["match"] = e.match_index;
    d["source_value"] = sv != nullptr ? sv->name() : std::string();
    d["target_value"] = tv != nullptr ? tv->name() : std::string();
    d["propagated"] = e.propagated;
    d["isolated"] = e.isolated;
    d["tolerance"] = e.tolerance;
    d["op_class"] = e.op_class;
    errors.append(d);
  }
  py::dict out;
  out["alignment"] = alignment_dict;
  out["findings"] = findings;
  out["errors"] = errors;
  for (auto [key, tensors] : {std::pair{"source_outputs", &r->source_outputs},
                              std::pair{"target_outputs", &r->target_outputs}}) {
    py::list arrays;
    for (const Tensor& t : *tensors) arrays.append(tensor_to_numpy(t));
    out[key] = arrays;
  }
  return out;
}

}  // namespace

void bind_analysis(py::module_& m) {
  m.def("repair", &repair_to_dict, py::arg("source_graph"), py::arg("target_graph"),
        py::arg("source_inputs"), py::arg("target_inputs"), py::arg("max_rounds") = 4,
        py::arg("goal") = 1e-4, py::arg("restore_precision") = false,
        py::arg("max_confirmations") = 20,
        "Repairs target_graph against source_graph on the batch (docs/repair.md): {'graph' "
        "(the repaired target, a new Graph), 'steps' (every finding whose edits were tried, "
        "kept or not, with the batch before and after), 'before', 'after', 'rounds', "
        "'stopped', 'remaining' (findings not resolved)}.");
  m.def("localize", &localize_to_dict, py::arg("source_graph"), py::arg("target_graph"),
        py::arg("source_inputs"), py::arg("target_inputs"), py::arg("alignment") = py::none(),
        py::arg("confirm") = true, py::arg("max_confirmations") = 20,
        "Localizes what the conversion broke (docs/localize.md): {'alignment', 'findings' "
        "(confirmed first, then by confidence), 'errors' (per aligned pair)}. source_inputs "
        "feed the source graph, target_inputs are the same pixels in the target's layout; "
        "alignment None aligns with the batch's activations.");
  m.def(
      "align_json",
      [](const PyGraph& source, const PyGraph& target, const py::object& source_traced,
         const py::object& target_traced, double min_anchor_score) {
        return align_to_json(source, target, source_traced, target_traced, min_anchor_score);
      },
      py::arg("source_graph"), py::arg("target_graph"), py::arg("source_traced") = py::none(),
      py::arg("target_traced") = py::none(), py::arg("min_anchor_score") = 0.45,
      "Aligns target_graph (the converted model) to source_graph; the alignment as a JSON "
      "string (schema: docs/alignment.md). The traced dicts map value names to batches of "
      "activations.");
  m.def(
      "align",
      [](const PyGraph& source, const PyGraph& target, const py::object& source_traced,
         const py::object& target_traced, double min_anchor_score) {
        const std::string json =
            align_to_json(source, target, source_traced, target_traced, min_anchor_score);
        return py::module_::import("json").attr("loads")(json);
      },
      py::arg("source_graph"), py::arg("target_graph"), py::arg("source_traced") = py::none(),
      py::arg("target_traced") = py::none(), py::arg("min_anchor_score") = 0.45,
      "Like align_json, parsed: a dict with 'matches', 'unmatched_source', 'unmatched_target'.");
}

}  // namespace convmend
