// ONNX <-> IR. Reading keeps the model's own layout and records provenance; writing emits
// the opset the graph came with (metadata "onnx.opset") unless told otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace convmend::onnx {

// Reads a .onnx file (external data resolved next to it). Ops the IR does not support are
// listed all at once in one kUnsupported error.
Result<std::unique_ptr<Graph>> read_onnx_file(const std::string& path);
// Reads from memory; external data, if any, is looked up in `base_dir`.
Result<std::unique_ptr<Graph>> read_onnx_bytes(std::span<const uint8_t> bytes,
                                               const std::string& base_dir);
// Serializes the graph as an ONNX model. opset 0 = the graph's own (or 17 for a graph that
// did not come from ONNX).
Result<std::string> write_onnx_bytes(const Graph& graph, int64_t opset = 0);

}  // namespace convmend::onnx
