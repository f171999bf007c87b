// TFLite <-> IR. Reading keeps NHWC layouts, fused activations and quantization parameters
// and records provenance; writing produces a .tflite that the LiteRT interpreter loads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace convmend::tflite {

// Reads subgraph 0 of a .tflite file. Ops the IR does not support are listed all at once in
// one kUnsupported error.
Result<std::unique_ptr<Graph>> read_tflite_file(const std::string& path);
Result<std::unique_ptr<Graph>> read_tflite_bytes(std::span<const uint8_t> bytes);
// Serializes the graph as a TFLite model.
Result<std::string> write_tflite_bytes(const Graph& graph);

}  // namespace convmend::tflite
