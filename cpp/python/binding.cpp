// The Python extension convmend._core: load models into IR graphs, inspect them, run them
// on numpy arrays and collect chosen intermediates. Heavy work stays in C++ with the GIL
// released; errors become convmend.errors.ConvmendError with the C++ message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>

#include "api/model_io.h"
#include "ir/graph.h"
#include "python/py_graph.h"
#include "runtime/interpreter.h"
#include "runtime/observers.h"

namespace py = pybind11;
using namespace convmend;

namespace {

struct StatusError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(const Status& s) {
  if (!s.is_ok()) throw StatusError(s.message());
}

template <typename T>
T take(Result<T> r) {
  check(r.status());
  return std::move(r).value();
}

py::dtype numpy_dtype(DType d) {
  switch (d) {
    case DType::kFloat32: return py::dtype::of<float>();
    case DType::kFloat64: return py::dtype::of<double>();
    case DType::kFloat16: return py::dtype("float16");
    case DType::kInt8: return py::dtype::of<int8_t>();
    case DType::kUInt8: return py::dtype::of<uint8_t>();
    case DType::kInt16: return py::dtype::of<int16_t>();
    case DType::kInt32: return py::dtype::of<int32_t>();
    case DType::kInt64: return py::dtype::of<int64_t>();
    case DType::kBool: return py::dtype::of<bool>();
  }
  throw StatusError("unknown dtype");
}

DType dtype_of(const py::array& a) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DType::kFloat32;
  if (kind == 'f' && size == 8) return DType::kFloat64;
  if (kind == 'f' && size == 2) return DType::kFloat16;
  if (kind == 'i' && size == 1) return DType::kInt8;
  if (kind == 'u' && size == 1) return DType::kUInt8;
  if (kind == 'i' && size == 2) return DType::kInt16;
  if (kind == 'i' && size == 4) return DType::kInt32;
  if (kind == 'i' && size == 8) return DType::kInt64;
  if (kind == 'b') return DType::kBool;
  throw StatusError(std::string("unsupported numpy dtype ") + py::str(a.dtype()).cast<std::string>());
}

Tensor to_tensor(const py::array& input) {
  py::array a = py::array::ensure(input, py::array::c_style);
  if (!a) throw StatusError("expected a numpy array");
  Shape shape(a.shape(), a.shape() + a.ndim());
  return take(Tensor::from_bytes(dtype_of(a), shape, a.data(), static_cast<size_t>(a.nbytes())));
}

py::array to_numpy(const Tensor& t) {
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  py::array a(numpy_dtype(t.dtype()), shape);
  if (t.byte_size()) std::memcpy(a.mutable_data(), t.raw(), t.byte_size());
  return a;
}

py::object attr_to_python(const AttrValue& v) {
  return std::visit(
      [](const auto& x) -> py::object {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Tensor>) {
          return to_numpy(x);
        } else {
          return py::cast(x);
        }
      },
      v);
}

py::dict value_dict(const Value* v) {
  py::dict d;
  d["id"] = v->id();
  d["name"] = v->name();
  d["dtype"] = dtype_name(v->dtype());
  d["shape"] = v->shape();
  d["layout"] = layout_name(v->layout());
  d["constant"] = v->is_constant();
  if (!v->quant().empty()) {
    py::dict q;
    q["scale"] = v->quant().scale;
    q["zero_point"] = v->quant().zero_point;
    q["axis"] = v->quant().axis;
    d["quant"] = q;
  }
  return d;
}

py::dict node_dict(const Node* n) {
  py::dict d;
  d["id"] = n->id();
  d["name"] = n->name();
  d["op"] = n->op_name();
  py::list inputs;
  for (const Value* v : n->inputs()) inputs.append(v == nullptr ? py::object(py::none()) : py::cast(v->name()));
  d["inputs"] = inputs;
  py::list outputs;
  for (const Value* v : n->outputs()) outputs.append(v->name());
  d["outputs"] = outputs;
  py::dict attrs;
  for (const auto& [k, v] : n->attrs().all()) attrs[py::str(k)] = attr_to_python(v);
  d["attrs"] = attrs;
  py::dict prov;
  prov["format"] = n->provenance().format;
  prov["name"] = n->provenance().name;
  prov["op_type"] = n->provenance().op_type;
  prov["index"] = n->provenance().index;
  d["provenance"] = prov;
  return d;
}

// Collects copies of the outputs of the nodes (or values) it was asked for.
class CollectingObserver : public Observer {
 public:
  explicit CollectingObserver(std::optional<std::set<std::string>> names) : names_(std::move(names)) {}
  bool wants(const Node& node) override {
    if (!names_) return true;
    if (names_->count(node.name())) return true;
    for (const Value* v : node.outputs()) {
      if (names_->count(v->name())) return true;
    }
    return false;
  }
  Status on_output(const Node& node, size_t index, const Tensor& value) override {
    collected_.emplace_back(node.output(index)->name(), value);
    return Status::ok();
  }
  std::vector<std::pair<std::string, Tensor>> collected_;

 private:
  std::optional<std::set<std::string>> names_;
};

struct PyInterpreter {
  std::shared_ptr<Graph> graph;
  std::unique_ptr<Interpreter> interp;
};

std::vector<Tensor> tensors_from(const std::vector<py::array>& inputs) {
  std::vector<Tensor> out;
  for (const auto& a : inputs) out.push_back(to_tensor(a));
  return out;
}


// ---- graph building from Python (the framework frontends) ----

Layout parse_layout(const std::string& name) {
  if (name.empty() || name == "?") return Layout::kUnknown;
  for (Layout l : {Layout::kNCHW, Layout::kNHWC, Layout::kOIHW, Layout::kOHWI, Layout::k1HWO,
                   Layout::kHWIO, Layout::kNC}) {
    if (name == layout_name(l)) return l;
  }
  throw StatusError("unknown layout '" + name + "' (NCHW, NHWC, OIHW, OHWI, 1HWO, HWIO, NC)");
}

DType parse_dtype_name(const std::string& name) {
  DType d;
  if (parse_dtype(name, &d)) return d;
  static const std::map<std::string, DType> numpy_names = {
      {"float32", DType::kFloat32}, {"float64", DType::kFloat64}, {"float16", DType::kFloat16},
      {"int8", DType::kInt8},       {"uint8", DType::kUInt8},     {"int16", DType::kInt16},
      {"int32", DType::kInt32},     {"int64", DType::kInt64},     {"bool", DType::kBool}};
  auto it = numpy_names.find(name);
  if (it == numpy_names.end()) throw StatusError("unknown dtype '" + name + "'");
  return it->second;
}

AttrValue attr_from_python(const std::string& key, const py::handle& v) {
  if (py::isinstance<py::bool_>(v)) return static_cast<int64_t>(v.cast<bool>());
  if (py::isinstance<py::int_>(v)) return v.cast<int64_t>();
  if (py::isinstance<py::float_>(v)) return v.cast<double>();
  if (py::isinstance<py::str>(v)) return v.cast<std::string>();
  if (py::isinstance<py::array>(v)) return to_tensor(v.cast<py::array>());
  if (py::isinstance<py::list>(v) || py::isinstance<py::tuple>(v)) {
    auto seq = v.cast<py::sequence>();
    bool all_int = true, all_str = seq.size() > 0, all_num = true;
    for (const auto& item : seq) {
      const bool is_int = py::isinstance<py::int_>(item) || py::isinstance<py::bool_>(item);
      all_int = all_int && is_int;
      all_num = all_num && (is_int || py::isinstance<py::float_>(item));
      all_str = all_str && py::isinstance<py::str>(item);
    }
    if (all_int) return seq.cast<std::vector<int64_t>>();
    if (all_num) return seq.cast<std::vector<double>>();
    if (all_str) return seq.cast<std::vector<std::string>>();
  }
  throw StatusError("attribute '" + key + "': unsupported value " +
                    py::repr(v).cast<std::string>() +
                    " (int, float, str, a list of one of them, or a numpy array)");
}

Value* existing_value(const Graph& g, const std::string& name, const std::string& user) {
  Value* v = g.find_value(name);
  if (v == nullptr) throw StatusError(user + ": no value named '" + name + "' in the graph");
  return v;
}

Node* existing_node(const Graph& g, const std::string& name) {
  Node* n = g.find_node(name);
  if (n == nullptr) throw StatusError("no node named '" + name + "' in the graph");
  return n;
}

void require_new_name(const Graph& g, const std::string& name) {
  if (name.empty()) throw StatusError("a value needs a name");
  if (g.find_value(name) != nullptr) throw StatusError("value '" + name + "' already exists");
}
}  // namespace

namespace convmend {
void bind_analysis(py::module_& m);  // analysis_binding.cpp
py::array tensor_to_numpy(const Tensor& t) { return to_numpy(t); }
}  // namespace convmend

PYBIND11_MODULE(_core, m) {
  m.doc() = "convmend's C++ engine: IR, model readers and writers, interpreter";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StatusError& e) {
      py::object cls = py::module_::import("convmend.errors").attr("ConvmendError");
      // Messages quote bytes from damaged files; never let decoding them raise instead.
      const std::string what = e.what();
      py::object text = py::reinterpret_steal<py::object>(
          PyUnicode_DecodeUTF8(what.data(), static_cast<Py_ssize_t>(what.size()),
                               "backslashreplace"));
      PyErr_SetObject(cls.ptr(), text.ptr());
    }
  });

  py::class_<PyGraph>(m, "Graph")
      .def(py::init([](const std::string& name) {
             auto g = std::make_shared<Graph>();
             g->set_name(name);
             return PyGraph{g};
           }),
           py::arg("name") = "", "An empty graph, to be built with add_* (frontends).")
      .def("add_input", [](PyGraph& g, const std::string& name, const std::string& dtype,
                           const std::vector<int64_t>& shape, const std::string& layout) {
             require_new_name(*g.graph, name);
             Value* v = g.graph->add_input(name, parse_dtype_name(dtype), shape);
             v->set_layout(parse_layout(layout));
           },
           py::arg("name"), py::arg("dtype"), py::arg("shape"), py::arg("layout") = "")
      .def("add_constant", [](PyGraph& g, const std::string& name, const py::array& a,
                              const std::string& layout) {
             require_new_name(*g.graph, name);
             Value* v = g.graph->add_constant(name, to_tensor(a));
             v->set_layout(parse_layout(layout));
           },
           py::arg("name"), py::arg("array"), py::arg("layout") = "")
      .def("add_node", [](PyGraph& g, const std::string& op, const std::string& name,
                          const std::vector<std::string>& inputs,
                          const std::vector<std::string>& outputs, const py::dict& attrs,
                          const std::string& source_format, const std::string& source_name,
                          const std::string& source_op, int64_t source_index) {
             OpKind kind;
             if (!parse_op_kind(op, &kind)) throw StatusError("unknown IR op '" + op + "'");
             const std::string who = "node '" + name + "' (" + op + ")";
             if (g.graph->find_node(name) != nullptr) {
               throw StatusError(who + ": a node with that name already exists");
             }
             std::vector<Value*> ins;
             for (const auto& in : inputs) {  // "" marks an absent optional input
               ins.push_back(in.empty() ? nullptr : existing_value(*g.graph, in, who));
             }
             for (const auto& out : outputs) require_new_name(*g.graph, out);
             Attributes parsed;
             for (const auto& [k, v] : attrs) {
               const auto key = k.cast<std::string>();
               parsed.set(key, attr_from_python(key, v));
             }
             Node* node = g.graph->add_node(kind, name, ins, outputs);
             node->attrs() = std::move(parsed);
             node->set_provenance(Provenance{source_format, source_name.empty() ? name : source_name,
                                             source_op.empty() ? op : source_op, source_index});
           },
           py::arg("op"), py::arg("name"), py::arg("inputs"), py::arg("outputs"),
           py::arg("attrs") = py::dict(), py::arg("source_format") = "",
           py::arg("source_name") = "", py::arg("source_op") = "", py::arg("source_index") = -1)
      // ---- edits (fault planting, repairs); the graph is verified by the caller ----
      .def("set_attr", [](PyGraph& g, const std::string& node, const std::string& key,
                          const py::object& value) {
             existing_node(*g.graph, node)->attrs().set(key, attr_from_python(key, value));
           })
      .def("remove_attr", [](PyGraph& g, const std::string& node, const std::string& key) {
             existing_node(*g.graph, node)->attrs().erase(key);
           })
      .def("set_input", [](PyGraph& g, const std::string& node, size_t index,
                           const std::string& value) {
             Node* n = existing_node(*g.graph, node);
             g.graph->set_input(n, index, value.empty() ? nullptr
                                                        : existing_value(*g.graph, value, node));
           },
           "Rewire input `index` of a node to another value (\"\" removes an optional input).")
      .def("replace_uses", [](PyGraph& g, const std::string& old_value,
                              const std::string& new_value, const std::string& except_node) {
             Value* from = existing_value(*g.graph, old_value, "replace_uses");
             Value* to = existing_value(*g.graph, new_value, "replace_uses");
             std::vector<std::pair<Node*, size_t>> keep;
             if (!except_node.empty()) {
               Node* n = existing_node(*g.graph, except_node);
               for (size_t i = 0; i < n->inputs().size(); ++i) {
                 if (n->input(i) == from) keep.emplace_back(n, i);
               }
             }
             g.graph->replace_all_uses(from, to);
             for (auto [n, i] : keep) g.graph->set_input(n, i, from);
           },
           py::arg("old_value"), py::arg("new_value"), py::arg("except_node") = "",
           "Every consumer of old_value (graph outputs included) reads new_value instead, "
           "except the node named except_node (the node just inserted after old_value).")
      .def("bypass_node", [](PyGraph& g, const std::string& node, size_t input_index) {
             Node* n = existing_node(*g.graph, node);
             Value* in = n->input(input_index);
             if (in == nullptr || n->outputs().size() != 1) {
               throw StatusError(n->describe() + "cannot be bypassed through input " +
                                 std::to_string(input_index));
             }
             g.graph->replace_all_uses(n->output(0), in);
             check(g.graph->remove_node(n));
           },
           py::arg("node"), py::arg("input_index") = 0,
           "Remove a one-output node, its consumers reading its input instead.")
      .def("remove_node", [](PyGraph& g, const std::string& node) {
             check(g.graph->remove_node(existing_node(*g.graph, node)));
           })
      .def("replace_op", [](PyGraph& g, const std::string& node, const std::string& op,
                            const py::object& attrs) {
             Node* old = existing_node(*g.graph, node);
             OpKind kind;
             if (!parse_op_kind(op, &kind)) throw StatusError("unknown IR op '" + op + "'");
             std::vector<std::string> tmp_names;
             for (const Value* v : old->outputs()) tmp_names.push_back(v->name() + "#replaced");
             Node* fresh = g.graph->add_node(kind, node + "#replaced", old->inputs(), tmp_names);
             if (attrs.is_none()) {
               fresh->attrs() = old->attrs();
             } else {
               for (const auto& [k, v] : attrs.cast<py::dict>()) {
                 const auto key = k.cast<std::string>();
                 fresh->attrs().set(key, attr_from_python(key, v));
               }
             }
             fresh->set_provenance(old->provenance());
             std::vector<std::string> names;
             for (size_t i = 0; i < old->outputs().size(); ++i) {
               names.push_back(old->output(i)->name());
               g.graph->replace_all_uses(old->output(i), fresh->output(i));
             }
             check(g.graph->remove_node(old));
             fresh->set_name(node);
             for (size_t i = 0; i < names.size(); ++i) fresh->output(i)->set_name(names[i]);
           },
           py::arg("node"), py::arg("op"), py::arg("attrs") = py::none(),
           "Replace a node by one of another op on the same inputs, keeping names and "
           "provenance; attrs None keeps the old attributes.")
      .def("set_outputs", [](PyGraph& g, const std::vector<std::string>& names) {
             std::vector<Value*> outs;
             for (const auto& n : names) outs.push_back(existing_value(*g.graph, n, "output"));
             g.graph->set_outputs(outs);
           })
      .def("remove_dead", [](PyGraph& g) { g.graph->remove_dead(); })
      .def("add_output", [](PyGraph& g, const std::string& name) {
             g.graph->add_output(existing_value(*g.graph, name, "graph output"));
           })
      .def("set_layout", [](PyGraph& g, const std::string& name, const std::string& layout) {
             existing_value(*g.graph, name, "set_layout")->set_layout(parse_layout(layout));
           })
      .def("set_input_shape", [](PyGraph& g, const std::string& name,
                                 const std::vector<int64_t>& shape) {
             Value* v = existing_value(*g.graph, name, "set_input_shape");
             if (!v->is_graph_input()) {
               throw std::invalid_argument("set_input_shape: '" + name +
                                           "' is not a graph input");
             }
             for (int64_t d : shape) {
               if (d < -1) {
                 throw std::invalid_argument("set_input_shape: dimension " +
                                             std::to_string(d) + " (use -1 for a dynamic one)");
               }
             }
             v->set_shape(Shape(shape));
             v->set_dim_names({});
           },
           py::arg("name"), py::arg("shape"),
           "Gives a graph input another shape (-1: dynamic); consumers are not touched: "
           "insert what maps the new shape to the old one first, then infer_shapes().")
      .def("set_metadata", [](PyGraph& g, const std::string& key, const std::string& value) {
             g.graph->metadata()[key] = value;
           })
      .def_property_readonly("name", [](const PyGraph& g) { return g.graph->name(); })
      .def_property_readonly("metadata", [](const PyGraph& g) { return g.graph->metadata(); })
      .def("text", [](const PyGraph& g) { return g.graph->to_text(); })
      .def("structural_hash", [](const PyGraph& g) { return g.graph->structural_hash(); })
      .def("verify", [](const PyGraph& g) { check(g.graph->verify()); })
      .def("nodes", [](const PyGraph& g) {
        py::list out;
        auto order = take(g.graph->topological_order());
        for (const Node* n : order) out.append(node_dict(n));
        return out;
      })
      .def("values", [](const PyGraph& g) {
        py::list out;
        for (const Value* v : g.graph->values()) out.append(value_dict(v));
        return out;
      })
      .def("inputs", [](const PyGraph& g) {
        py::list out;
        for (const Value* v : g.graph->inputs()) {
          if (!v->is_constant()) out.append(value_dict(v));
        }
        return out;
      })
      .def("outputs", [](const PyGraph& g) {
        py::list out;
        for (const Value* v : g.graph->outputs()) out.append(value_dict(v));
        return out;
      })
      .def("constant", [](const PyGraph& g, const std::string& name) -> py::object {
        const Value* v = g.graph->find_value(name);
        if (v == nullptr || !v->is_constant()) throw StatusError("no constant named '" + name + "'");
        return to_numpy(v->constant());
      })
      .def("set_constant", [](PyGraph& g, const std::string& name, const py::array& a) {
        Value* v = g.graph->find_value(name);
        if (v == nullptr || !v->is_constant()) throw StatusError("no constant named '" + name + "'");
        Tensor t = to_tensor(a);
        if (t.shape() != v->shape()) {
          throw StatusError("constant '" + name + "' has shape " + shape_to_string(v->shape()) +
                            ", the new value " + shape_to_string(t.shape()));
        }
        v->set_constant(std::move(t));
      })
      .def("clone", [](const PyGraph& g) {
        auto c = take(g.graph->clone());
        return PyGraph{std::shared_ptr<Graph>(std::move(c))};
      })
      .def("save", [](const PyGraph& g, const std::filesystem::path& path) {
        py::gil_scoped_release release;
        check(save_model(*g.graph, path.string()));
      }, py::arg("path"))
      .def("infer_shapes", [](PyGraph& g) { check(infer_graph_shapes(*g.graph)); });

  m.def("structurally_equal", [](const PyGraph& a, const PyGraph& b) {
    std::string diff;
    const bool eq = structurally_equal(*a.graph, *b.graph, &diff);
    return py::make_tuple(eq, diff);
  });

  m.def("load", [](const std::filesystem::path& path) {
    std::unique_ptr<Graph> g;
    {
      py::gil_scoped_release release;
      g = take(load_model(path.string()));
    }
    return PyGraph{std::shared_ptr<Graph>(std::move(g))};
  }, py::arg("path"), "Reads an .onnx or .tflite file into an IR graph.");

  py::class_<PyInterpreter>(m, "Interpreter")
      .def(py::init([](const PyGraph& g, bool exact, int threads, bool reference) {
             RunOptions options;
             options.exact = exact;
             options.threads = threads;
             options.reference_only = reference;
             auto interp = take(Interpreter::create(*g.graph, options));
             return PyInterpreter{g.graph, std::move(interp)};
           }),
           py::arg("graph"), py::arg("exact") = false, py::arg("threads") = 1,
           py::arg("reference") = false)
      .def("constant_values", [](const PyInterpreter& p) {
        std::vector<std::string> names;
        for (const Value* v : p.interp->constant_values()) names.push_back(v->name());
        return names;
      })
      .def("input_names", [](const PyInterpreter& p) {
        std::vector<std::string> names;
        for (const Value* v : p.interp->runtime_inputs()) names.push_back(v->name());
        return names;
      })
      .def("run", [](PyInterpreter& p, const std::vector<py::array>& inputs) {
        std::vector<Tensor> in = tensors_from(inputs);
        std::vector<Tensor> out;
        {
          py::gil_scoped_release release;
          check(p.interp->run(in, &out));
        }
        py::list result;
        for (const Tensor& t : out) result.append(to_numpy(t));
        return result;
      }, py::arg("inputs"))
      .def("run_traced", [](PyInterpreter& p, const std::vector<py::array>& inputs,
                            std::optional<std::vector<std::string>> names) {
        std::vector<Tensor> in = tensors_from(inputs);
        std::vector<Tensor> out;
        std::optional<std::set<std::string>> wanted;
        if (names) wanted = std::set<std::string>(names->begin(), names->end());
        CollectingObserver observer(wanted);
        {
          py::gil_scoped_release release;
          check(p.interp->run(in, &out, &observer));
        }
        py::list result;
        for (const Tensor& t : out) result.append(to_numpy(t));
        py::dict traced;
        for (const auto& [name, t] : observer.collected_) traced[py::str(name)] = to_numpy(t);
        return py::make_tuple(result, traced);
      }, py::arg("inputs"), py::arg("names") = py::none(),
      "Runs once and returns (outputs, {value name: array}) for the chosen nodes or values.")
      .def("run_node", [](PyInterpreter& p, const std::string& name, const py::dict& given) {
        // A value name identifies its producer unambiguously; node names may repeat.
        const Value* produced = p.graph->find_value(name);
        const Node* node = produced != nullptr && produced->producer() != nullptr
                               ? produced->producer()
                               : p.graph->find_node(name);
        if (node == nullptr) throw StatusError("no node or value named '" + name + "'");
        std::vector<Tensor> held;
        held.reserve(node->inputs().size());
        std::vector<const Tensor*> inputs;
        for (const Value* in : node->inputs()) {
          if (in != nullptr && given.contains(py::str(in->name()))) {
            held.push_back(to_tensor(given[py::str(in->name())].cast<py::array>()));
            inputs.push_back(&held.back());
          } else {
            inputs.push_back(nullptr);
          }
        }
        std::vector<Tensor> out;
        {
          py::gil_scoped_release release;
          check(p.interp->evaluate_node(*node, inputs, &out));
        }
        py::list result;
        for (const Tensor& t : out) result.append(to_numpy(t));
        return result;
      }, py::arg("node"), py::arg("inputs"),
      "Runs one node (named by itself or by an output value) alone on the given "
      "{value name: array} inputs; constants come from the model.")
      .def("run_stats", [](PyInterpreter& p, const std::vector<py::array>& inputs) {
        std::vector<Tensor> in = tensors_from(inputs);
        std::vector<Tensor> out;
        StatsObserver observer;
        {
          py::gil_scoped_release release;
          check(p.interp->run(in, &out, &observer));
        }
        py::list result;
        for (const Tensor& t : out) result.append(to_numpy(t));
        py::list rows;
        for (const auto& r : observer.rows()) {
          py::dict d;
          d["name"] = r.value_name;
          d["count"] = r.stats.count;
          d["min"] = r.stats.min;
          d["max"] = r.stats.max;
          d["mean"] = r.stats.mean;
          d["std"] = r.stats.std;
          d["mean_abs"] = r.stats.mean_abs;
          rows.append(d);
        }
        return py::make_tuple(result, rows);
      }, py::arg("inputs"),
      "Runs once observing every node: (outputs, per-output statistics in run order).");

  bind_analysis(m);
}
