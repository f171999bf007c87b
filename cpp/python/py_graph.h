// Types shared by the translation units of the Python extension convmend._core.
#pragma once

#include <memory>

#include "ir/graph.h"

namespace convmend {

// A graph shared between Python objects (an Interpreter keeps its graph alive).
struct PyGraph {
  std::shared_ptr<Graph> graph;
};

}  // namespace convmend
