// Model files in and out, whatever their format.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace convmend {

enum class ModelFormat { kOnnx, kTflite };
const char* model_format_name(ModelFormat format);

// Decides the format from the file's first bytes (a TFLite FlatBuffer carries "TFL3" at
// offset 4), falling back to the extension.
Result<ModelFormat> detect_model_format(const std::string& path);
Result<std::unique_ptr<Graph>> load_model(const std::string& path);
// Writes atomically: a temporary file in the same directory, renamed over `path` once
// complete. The format follows `path`'s extension (.onnx or .tflite).
Status save_model(const Graph& graph, const std::string& path);
// Reads a whole file, refusing files over `max_bytes`.
Result<std::string> read_file_bytes(const std::string& path, size_t max_bytes);
// Writes bytes atomically (temporary file + rename); never leaves a partial file behind.
Status write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace convmend
