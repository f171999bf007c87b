// Generic protobuf wire-format codec: a bounds-checked reader over untrusted bytes and an
// appending writer. It knows nothing about ONNX; formats/onnx/onnx_proto.cpp builds on it.
// Reader errors name the absolute byte offset in the buffer the first Reader was made from, so
// the caller only has to add which message and field it was reading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ir/status.h"

namespace convmend::onnx::wire {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // deprecated groups: always rejected
  kEndGroup = 4,
  kFixed32 = 5,
};

const char* wire_type_name(WireType type);

inline constexpr size_t kMaxVarintBytes = 10;
inline constexpr uint32_t kMaxFieldNumber = (1u << 29) - 1;

struct Tag {
  uint32_t field = 0;
  WireType wire_type = WireType::kVarint;
  size_t offset = 0;  // absolute offset of the tag's first byte
};

// A cursor over one message. Does not own the bytes: the buffer must outlive the Reader and every
// span or string_view it returns. Copying a Reader copies the cursor, not the bytes.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> buffer) : buffer_(buffer), end_(buffer.size()) {}

  bool at_end() const { return position_ >= end_; }
  size_t offset() const { return position_; }
  size_t end_offset() const { return end_; }
  size_t remaining() const { return end_ - position_; }

  // Rejects field number 0, numbers above 2^29-1 and wire types other than 0, 1, 2, 5 (groups
  // included), so a caller can switch on the result without further checks.
  Result<Tag> read_tag();
  Result<uint64_t> read_varint();
  Result<uint32_t> read_fixed32();
  Result<uint64_t> read_fixed64();
  // Length-delimited payload; the length is checked against the bytes left before anything else.
  Result<std::span<const uint8_t>> read_length_delimited();
  Result<std::string_view> read_string();
  // A Reader over a length-delimited payload, offsets still absolute; advances this one past it.
  Result<Reader> read_message();
  // Bytes left without the continuation bit: exactly the element count of a well-formed packed
  // varint run, so a caller can reserve from validated data.
  size_t count_varint_ends() const;
  // Skips the value of a field whose tag was just read.
  Status skip_value(WireType type);

 private:
  Reader(std::span<const uint8_t> buffer, size_t begin, size_t end)
      : buffer_(buffer), position_(begin), end_(end) {}

  std::span<const uint8_t> buffer_;
  size_t position_ = 0;
  size_t end_ = 0;
};

// Narrowing with a check: protobuf writes negative int32 as 10-byte sign-extended varints.
Result<int32_t> varint_to_int32(uint64_t value, size_t offset);

// Reads one element (unpacked encoding) or a whole packed run into `out`, depending on the wire
// type of the tag just read; both encodings are legal for every repeated scalar field.
// T is the field's C++ type: int32_t, int64_t or uint64_t.
template <typename T>
Status read_repeated_varint(Reader& reader, WireType type, std::vector<T>& out);
// T is float (fixed32) or double (fixed64).
template <typename T>
Status read_repeated_fixed(Reader& reader, WireType type, std::vector<T>& out);

// Appends encoded fields to a growing byte string. Field order is the caller's; the output is a
// pure function of the calls, so it is deterministic.
class Writer {
 public:
  void write_tag(uint32_t field, WireType type);
  void write_varint(uint64_t value);
  void write_fixed32(uint32_t value);
  void write_fixed64(uint64_t value);

  void write_varint_field(uint32_t field, uint64_t value);
  // Negative values take 10 bytes, as protobuf writes them.
  void write_int64_field(uint32_t field, int64_t value);
  void write_int32_field(uint32_t field, int32_t value);
  void write_float_field(uint32_t field, float value);
  void write_double_field(uint32_t field, double value);
  void write_bytes_field(uint32_t field, std::string_view bytes);

  // Packed encodings: one length-delimited field holding all elements; nothing for an empty list.
  void write_packed_int32_field(uint32_t field, std::span<const int32_t> values);
  void write_packed_int64_field(uint32_t field, std::span<const int64_t> values);
  void write_packed_uint64_field(uint32_t field, std::span<const uint64_t> values);
  void write_packed_float_field(uint32_t field, std::span<const float> values);
  void write_packed_double_field(uint32_t field, std::span<const double> values);

  // Nested message: begin_message writes the tag and reserves the length, end_message fills it in
  // once the content is written, so no temporary buffer per nesting level is needed.
  size_t begin_message(uint32_t field);
  void end_message(size_t token);

  const std::string& bytes() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

size_t varint_size(uint64_t value);

}  // namespace convmend::onnx::wire
