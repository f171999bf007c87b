#include "formats/onnx/wire.h"

#include <bit>
#include <cstring>
#include <limits>

namespace convmend::onnx::wire {

namespace {

constexpr StatusCode kCorrupt = StatusCode::kInvalidModel;

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t load_le64(const uint8_t* p) { return load_le32(p) | uint64_t{load_le32(p + 4)} << 32; }

template <typename T>
T from_bits(uint64_t bits) {
  if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits));
  } else if constexpr (std::is_same_v<T, double>) {
    return std::bit_cast<double>(bits);
  } else {
    return static_cast<T>(bits);
  }
}

template <typename T>
Result<T> narrow_varint(uint64_t value, size_t offset) {
  if constexpr (std::is_same_v<T, int32_t>) {
    return varint_to_int32(value, offset);
  } else {
    return static_cast<T>(value);  // int64 and uint64 take the 64 bits as they are
  }
}

}  // namespace

const char* wire_type_name(WireType type) {
  switch (type) {
    case WireType::kVarint: return "varint";
    case WireType::kFixed64: return "fixed64";
    case WireType::kLengthDelimited: return "length-delimited";
    case WireType::kStartGroup: return "start-group";
    case WireType::kEndGroup: return "end-group";
    case WireType::kFixed32: return "fixed32";
  }
  return "invalid";
}

Result<uint64_t> Reader::read_varint() {
  const size_t start = position_;
  uint64_t value = 0;
  for (size_t i = 0; i < kMaxVarintBytes; ++i) {
    if (position_ >= end_) {
      return error(kCorrupt, "varint at byte ", start,
                   " is cut off by the end of the message at byte ", end_);
    }
    const uint8_t byte = buffer_[position_++];
    // The tenth byte must end the varint and may only carry bit 63.
    if (i == kMaxVarintBytes - 1 && (byte & 0x80u) != 0) break;
    if (i == kMaxVarintBytes - 1 && byte > 1) {
      return error(kCorrupt, "varint at byte ", start, " overflows 64 bits");
    }
    value |= uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80u) == 0) return value;
  }
  return error(kCorrupt, "varint at byte ", start, " is longer than ", kMaxVarintBytes, " bytes");
}

Result<Tag> Reader::read_tag() {
  const size_t start = position_;
  ASSIGN_OR_RETURN(const uint64_t key, read_varint());
  const uint64_t field = key >> 3;
  const auto type = static_cast<uint8_t>(key & 7u);
  if (field == 0) return error(kCorrupt, "tag at byte ", start, " has field number 0");
  if (field > kMaxFieldNumber) {
    return error(kCorrupt, "tag at byte ", start, " has field number ", field,
                 " above the maximum ", kMaxFieldNumber);
  }
  if (type == 3 || type == 4) {
    return error(kCorrupt, "tag at byte ", start, " for field ", field,
                 " uses the deprecated group encoding (wire type ", int{type}, ")");
  }
  if (type > 5) {
    return error(kCorrupt, "tag at byte ", start, " for field ", field, " has invalid wire type ",
                 int{type});
  }
  return Tag{static_cast<uint32_t>(field), static_cast<WireType>(type), start};
}

Result<uint32_t> Reader::read_fixed32() {
  if (remaining() < 4) {
    return error(kCorrupt, "fixed32 at byte ", position_, " needs 4 bytes, only ", remaining(),
                 " left in the message");
  }
  const uint32_t value = load_le32(buffer_.data() + position_);
  position_ += 4;
  return value;
}

Result<uint64_t> Reader::read_fixed64() {
  if (remaining() < 8) {
    return error(kCorrupt, "fixed64 at byte ", position_, " needs 8 bytes, only ", remaining(),
                 " left in the message");
  }
  const uint64_t value = load_le64(buffer_.data() + position_);
  position_ += 8;
  return value;
}

Result<std::span<const uint8_t>> Reader::read_length_delimited() {
  const size_t start = position_;
  ASSIGN_OR_RETURN(const uint64_t length, read_varint());
  if (length > remaining()) {
    return error(kCorrupt, "length ", length, " at byte ", start,
                 " runs past the end of the message (", remaining(),
                 " bytes left, message ends at byte ", end_, ")");
  }
  const auto payload = buffer_.subspan(position_, static_cast<size_t>(length));
  position_ += static_cast<size_t>(length);
  return payload;
}

Result<std::string_view> Reader::read_string() {
  ASSIGN_OR_RETURN(const auto payload, read_length_delimited());
  return std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size());
}

Result<Reader> Reader::read_message() {
  ASSIGN_OR_RETURN(const auto payload, read_length_delimited());
  const auto begin = static_cast<size_t>(payload.data() - buffer_.data());
  return Reader(buffer_, begin, begin + payload.size());
}

size_t Reader::count_varint_ends() const {
  size_t count = 0;
  for (size_t i = position_; i < end_; ++i) count += (buffer_[i] & 0x80u) == 0 ? 1 : 0;
  return count;
}

Status Reader::skip_value(WireType type) {
  switch (type) {
    case WireType::kVarint: return read_varint().status();
    case WireType::kFixed64: return read_fixed64().status();
    case WireType::kFixed32: return read_fixed32().status();
    case WireType::kLengthDelimited: return read_length_delimited().status();
    case WireType::kStartGroup:
    case WireType::kEndGroup: break;
  }
  return error(kCorrupt, "at byte ", position_, ": cannot skip a value of wire type ",
               wire_type_name(type));
}

Result<int32_t> varint_to_int32(uint64_t value, size_t offset) {
  const auto as_signed = static_cast<int64_t>(value);
  if (as_signed < std::numeric_limits<int32_t>::min() ||
      as_signed > std::numeric_limits<int32_t>::max()) {
    return error(kCorrupt, "varint at byte ", offset, " holds ", as_signed,
                 ", which does not fit a 32-bit integer");
  }
  return static_cast<int32_t>(as_signed);
}

template <typename T>
Status read_repeated_varint(Reader& reader, WireType type, std::vector<T>& out) {
  if (type == WireType::kVarint) {
    const size_t offset = reader.offset();
    ASSIGN_OR_RETURN(const uint64_t raw, reader.read_varint());
    ASSIGN_OR_RETURN(const T value, narrow_varint<T>(raw, offset));
    out.push_back(value);
    return Status::ok();
  }
  if (type != WireType::kLengthDelimited) {
    return error(kCorrupt, "at byte ", reader.offset(), ": repeated varint field has wire type ",
                 wire_type_name(type));
  }
  ASSIGN_OR_RETURN(Reader packed, reader.read_message());
  out.reserve(out.size() + packed.count_varint_ends());
  while (!packed.at_end()) {
    const size_t offset = packed.offset();
    ASSIGN_OR_RETURN(const uint64_t raw, packed.read_varint());
    ASSIGN_OR_RETURN(const T value, narrow_varint<T>(raw, offset));
    out.push_back(value);
  }
  return Status::ok();
}

template <typename T>
Status read_repeated_fixed(Reader& reader, WireType type, std::vector<T>& out) {
  constexpr WireType kElementType = sizeof(T) == 4 ? WireType::kFixed32 : WireType::kFixed64;
  if (type == kElementType) {
    if constexpr (sizeof(T) == 4) {
      ASSIGN_OR_RETURN(const uint32_t bits, reader.read_fixed32());
      out.push_back(from_bits<T>(bits));
    } else {
      ASSIGN_OR_RETURN(const uint64_t bits, reader.read_fixed64());
      out.push_back(from_bits<T>(bits));
    }
    return Status::ok();
  }
  if (type != WireType::kLengthDelimited) {
    return error(kCorrupt, "at byte ", reader.offset(), ": repeated ", wire_type_name(kElementType),
                 " field has wire type ", wire_type_name(type));
  }
  const size_t start = reader.offset();
  ASSIGN_OR_RETURN(const auto payload, reader.read_length_delimited());
  if (payload.size() % sizeof(T) != 0) {
    return error(kCorrupt, "packed ", wire_type_name(kElementType), " run at byte ", start, " has ",
                 payload.size(), " bytes, not a multiple of ", sizeof(T));
  }
  const size_t count = payload.size() / sizeof(T);
  const size_t first = out.size();
  out.resize(first + count);
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out.data() + first, payload.data(), payload.size());
  } else {
    for (size_t i = 0; i < count; ++i) {
      const uint8_t* p = payload.data() + i * sizeof(T);
      out[first + i] = from_bits<T>(sizeof(T) == 4 ? load_le32(p) : load_le64(p));
    }
  }
  return Status::ok();
}

template Status read_repeated_varint<int32_t>(Reader&, WireType, std::vector<int32_t>&);
template Status read_repeated_varint<int64_t>(Reader&, WireType, std::vector<int64_t>&);
template Status read_repeated_varint<uint64_t>(Reader&, WireType, std::vector<uint64_t>&);
template Status read_repeated_fixed<float>(Reader&, WireType, std::vector<float>&);
template Status read_repeated_fixed<double>(Reader&, WireType, std::vector<double>&);

size_t varint_size(uint64_t value) {
  size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

void Writer::write_varint(uint64_t value) {
  while (value >= 0x80) {
    out_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out_.push_back(static_cast<char>(value));
}

void Writer::write_tag(uint32_t field, WireType type) {
  write_varint(uint64_t{field} << 3 | static_cast<uint8_t>(type));
}

void Writer::write_fixed32(uint32_t value) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(value >> (8 * i)));
}

void Writer::write_fixed64(uint64_t value) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(value >> (8 * i)));
}

void Writer::write_varint_field(uint32_t field, uint64_t value) {
  write_tag(field, WireType::kVarint);
  write_varint(value);
}

void Writer::write_int64_field(uint32_t field, int64_t value) {
  write_varint_field(field, static_cast<uint64_t>(value));
}

void Writer::write_int32_field(uint32_t field, int32_t value) {
  write_varint_field(field, static_cast<uint64_t>(static_cast<int64_t>(value)));
}

void Writer::write_float_field(uint32_t field, float value) {
  write_tag(field, WireType::kFixed32);
  write_fixed32(std::bit_cast<uint32_t>(value));
}

void Writer::write_double_field(uint32_t field, double value) {
  write_tag(field, WireType::kFixed64);
  write_fixed64(std::bit_cast<uint64_t>(value));
}

void Writer::write_bytes_field(uint32_t field, std::string_view bytes) {
  write_tag(field, WireType::kLengthDelimited);
  write_varint(bytes.size());
  out_.append(bytes);
}

namespace {

template <typename T>
uint64_t varint_bits(T value) {
  // Signed values are sign-extended to 64 bits, as protobuf does for int32 and int64.
  if constexpr (std::is_signed_v<T>) {
    return static_cast<uint64_t>(static_cast<int64_t>(value));
  } else {
    return static_cast<uint64_t>(value);
  }
}

template <typename T>
void write_packed_varints(Writer& writer, uint32_t field, std::span<const T> values) {
  if (values.empty()) return;
  size_t length = 0;
  for (const T value : values) length += varint_size(varint_bits(value));
  writer.write_tag(field, WireType::kLengthDelimited);
  writer.write_varint(length);
  for (const T value : values) writer.write_varint(varint_bits(value));
}

}  // namespace

void Writer::write_packed_int32_field(uint32_t field, std::span<const int32_t> values) {
  write_packed_varints(*this, field, values);
}

void Writer::write_packed_int64_field(uint32_t field, std::span<const int64_t> values) {
  write_packed_varints(*this, field, values);
}

void Writer::write_packed_uint64_field(uint32_t field, std::span<const uint64_t> values) {
  write_packed_varints(*this, field, values);
}

void Writer::write_packed_float_field(uint32_t field, std::span<const float> values) {
  if (values.empty()) return;
  write_tag(field, WireType::kLengthDelimited);
  write_varint(values.size() * 4);
  for (const float value : values) write_fixed32(std::bit_cast<uint32_t>(value));
}

void Writer::write_packed_double_field(uint32_t field, std::span<const double> values) {
  if (values.empty()) return;
  write_tag(field, WireType::kLengthDelimited);
  write_varint(values.size() * 8);
  for (const double value : values) write_fixed64(std::bit_cast<uint64_t>(value));
}

size_t Writer::begin_message(uint32_t field) {
  write_tag(field, WireType::kLengthDelimited);
  const size_t token = out_.size();
  out_.push_back('\0');  // one byte reserved; end_message widens it when the length needs more
  return token;
}

void Writer::end_message(size_t token) {
  const size_t length = out_.size() - token - 1;
  const size_t width = varint_size(length);
  if (width > 1) out_.insert(token + 1, width - 1, '\0');
  uint64_t value = length;
  for (size_t i = 0; i < width; ++i) {
    const auto low = static_cast<uint8_t>(value & 0x7f);
    value >>= 7;
    out_[token + i] = static_cast<char>(i + 1 < width ? (low | 0x80) : low);
  }
}

}  // namespace convmend::onnx::wire
