// Damaged ONNX files end in a clear error naming the damage, never a crash or a silent
// default. The wider corpus (truncations, bit flips) is scripts/make_bad_inputs.py, driven by
// tests/python/test_bad_inputs.py; these are the reader fixes it found.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/onnx/onnx_io.h"
#include "formats/onnx/onnx_proto.h"
#include "formats/utf8.h"

namespace convmend {
namespace {

onnx::ModelProto seed() {
  const std::string path = std::string(CONVMEND_TEST_DATA_DIR) + "/onnx/conv_relu_raw.onnx";
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
  auto model = onnx::parse_model(bytes);
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  return model.value();
}

Status read(const onnx::ModelProto& model) {
  const std::string bytes = onnx::serialize_model(model);
  const std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes.data()),
                                      bytes.size());
  auto g = onnx::read_onnx_bytes(span, ".");
  return g.is_ok() ? Status::ok() : g.status();
}

TEST(OnnxBadInput, SeedReads) { EXPECT_TRUE(read(seed()).is_ok()); }

TEST(OnnxBadInput, RefusesMissingOpsetImportFromIrVersion3) {
  onnx::ModelProto model = seed();
  model.opset_import.clear();
  model.ir_version = 8;
  const Status s = read(model);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("no opset_import"), std::string::npos) << s.message();
}

TEST(OnnxBadInput, NamesTheNodeOfACycle) {
  onnx::ModelProto model = seed();
  ASSERT_GE(model.graph.node.size(), 2u);
  // The first node now reads the last node's output: every node waits on another.
  model.graph.node.front().input[0] = model.graph.node.back().output[0];
  const Status s = read(model);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("has a cycle"), std::string::npos) << s.message();
}

TEST(OnnxBadInput, RefusesANameThatIsNotUtf8) {
  onnx::ModelProto model = seed();
  model.graph.node.front().name = "co\xff\xfev";
  const Status s = read(model);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("'name'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("not valid UTF-8 (byte 2 of 5)"), std::string::npos) << s.message();
}

TEST(Utf8, FindsTheFirstInvalidByte) {
  EXPECT_EQ(first_invalid_utf8(""), std::string::npos);
  EXPECT_EQ(first_invalid_utf8("conv_1/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"), std::string::npos);
  EXPECT_EQ(first_invalid_utf8("ab\x80"), 2u);             // lone continuation byte
  EXPECT_EQ(first_invalid_utf8("a\xc3"), 1u);              // cut short
  EXPECT_EQ(first_invalid_utf8("a\xc0\xaf"), 1u);          // overlong '/'
  EXPECT_EQ(first_invalid_utf8("\xed\xa0\x80"), 0u);       // surrogate
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u);   // past U+10FFFF
  EXPECT_EQ(first_invalid_utf8("ok\xff"), 2u);
}

}  // namespace
}  // namespace convmend
