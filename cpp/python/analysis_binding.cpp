// Python bindings of the analysis stage (cpp/analysis): graph alignment. Registered on
// convmend._core by bind_analysis(), called at the end of binding.cpp's module definition.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "analysis/align.h"
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
  analysis::ActivationSamples samples;
  samples.source = traced_tensors(source_traced, "source_traced");
  samples.target = traced_tensors(target_traced, "target_traced");
  const bool has_samples = !samples.source.empty() || !samples.target.empty();
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

}  // namespace

void bind_analysis(py::module_& m) {
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
