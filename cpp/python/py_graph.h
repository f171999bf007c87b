// Types shared by the translation units of the Python extension convmend._core.
#pragma once

#include <pybind11/numpy.h>

#include <memory>

#include "ir/graph.h"

namespace convmend {

// A graph shared between Python objects (an Interpreter keeps its graph alive).
struct PyGraph {
  std::shared_ptr<Graph> graph;
};

// A copy of `t` as a numpy array of its dtype (binding.cpp).
pybind11::array tensor_to_numpy(const Tensor& t);

}  // namespace convmend
