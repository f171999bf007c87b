#include "api/model_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include "formats/onnx/onnx_io.h"
#include "formats/tflite/tflite_io.h"

namespace convmend {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


}  // namespace

const char* model_format_name(ModelFormat format) {
  return format == ModelFormat::kOnnx ? "onnx" : "tflite";
}

Result<std::string> read_file_bytes(const std::string& path, size_t max_bytes) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return error(StatusCode::kNotFound, path, ": ", std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) return error(StatusCode::kInvalidArgument, path, ": is a directory");
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return error(StatusCode::kInvalidArgument, path, ": ", st.st_size, " bytes is over the ",
                 max_bytes, "-byte limit");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kIoError, path, ": cannot open: ", std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.gcount() != static_cast<std::streamsize>(bytes.size())) {
    return error(StatusCode::kIoError, path, ": short read");
  }
  return bytes;
}

Result<ModelFormat> detect_model_format(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error(StatusCode::kNotFound, path, ": cannot open: ", std::strerror(errno));
  char head[8] = {};
  in.read(head, sizeof head);
  const std::streamsize got = in.gcount();
  if (got == 0) return error(StatusCode::kInvalidModel, path, ": the file is empty (0 bytes)");
  if (got >= 8 && std::memcmp(head + 4, "TFL3", 4) == 0) return ModelFormat::kTflite;
  // Every ONNX exporter writes ModelProto.ir_version (field 1, varint) first; a FlatBuffer
  // starts with a 4-byte root offset, which is never 0x08 followed by a small varint.
  const bool onnx_head = got >= 2 && head[0] == 0x08 && (head[1] & 0x80) == 0 &&
                         (got < 4 || head[2] != 0 || head[3] != 0);
  if (onnx_head) return ModelFormat::kOnnx;
  if (ends_with(path, ".tflite")) return ModelFormat::kTflite;
  if (ends_with(path, ".onnx")) return ModelFormat::kOnnx;
  return error(StatusCode::kInvalidArgument, path,
               ": unknown model format (expected .onnx or .tflite)");
}

namespace {

// Names the file once: the readers may already have put the path into the message.
Status with_path(const Status& s, const std::string& path) {
  if (s.message().find(path) != std::string::npos) return s;
  return s.with_context(path + ": ");
}

}  // namespace

Result<std::unique_ptr<Graph>> load_model(const std::string& path) {
  ASSIGN_OR_RETURN(ModelFormat format, detect_model_format(path));
  if (format == ModelFormat::kTflite) {
    auto g = tflite::read_tflite_file(path);
    if (!g.is_ok()) return with_path(g.status(), path);
    return g;
  }
  auto g = onnx::read_onnx_file(path);
  if (!g.is_ok()) return with_path(g.status(), path);
  return g;
}

Status write_file_atomically(const std::string& path, const std::string& bytes) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::random_device rd;
  const std::string tmp = dir + "/.convmend-tmp-" + std::to_string(rd()) + "-" +
                          (slash == std::string::npos ? path : path.substr(slash + 1));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0) return error(StatusCode::kIoError, path, ": cannot write: ", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return error(StatusCode::kIoError, path, ": write failed: ", std::strerror(e));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return error(StatusCode::kIoError, path, ": write failed: ", std::strerror(e));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return error(StatusCode::kIoError, path, ": cannot rename into place: ", std::strerror(e));
  }
  return Status::ok();
}

Status save_model(const Graph& graph, const std::string& path) {
  std::string bytes;
  if (ends_with(path, ".tflite")) {
    ASSIGN_OR_RETURN(bytes, tflite::write_tflite_bytes(graph));
  } else if (ends_with(path, ".onnx")) {
    ASSIGN_OR_RETURN(bytes, onnx::write_onnx_bytes(graph));
  } else {
    return error(StatusCode::kInvalidArgument, path,
                 ": unknown model format (expected .onnx or .tflite)");
  }
  return write_file_atomically(path, bytes);
}

}  // namespace convmend
