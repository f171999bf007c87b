// Errors are values: every fallible function returns Status or Result<T>.
// A message names what failed (file, node, op, input, dtype, shape) so that the
// CLI can print it as one line; asserts are kept for internal invariants only.
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace convmend {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the caller passed something that does not fit (shape, dtype, name)
  kInvalidModel,     // a model file is corrupt, truncated or inconsistent
  kUnsupported,      // a valid model uses something convmend does not handle yet
  kNotFound,         // a file, node or value that should exist does not
  kIoError,          // the operating system refused a read or write
  kInternal,         // a bug in convmend
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes context (for example "node 'conv1' (Conv): ") to the message.
  Status with_context(const std::string& context) const {
    if (is_ok()) return *this;
    return {code_, context + message_};
  }

  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const { return status_.is_ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

// Builds a message from streamable parts: error(StatusCode::kInvalidModel, "bad dim ", d).
template <typename... Parts>
Status error(StatusCode code, const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return {code, out.str()};
}

}  // namespace convmend

#define CONVMEND_CONCAT_INNER(a, b) a##b
#define CONVMEND_CONCAT(a, b) CONVMEND_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when it is not ok.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::convmend::Status status_macro_ = (expr);       \
    if (!status_macro_.is_ok()) return status_macro_; \
  } while (0)

// ASSIGN_OR_RETURN(auto x, f()); declares x from a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CONVMEND_CONCAT(result_macro_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.is_ok()) return tmp.status();      \
  lhs = std::move(tmp).value()
