// Damaged TFLite files end in a clear error naming the damage. The wider corpus is
// scripts/make_bad_inputs.py, driven by tests/python/test_bad_inputs.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "formats/tflite/tflite_model.h"

namespace convmend::tflite {
namespace {

std::vector<uint8_t> seed() {
  const std::string path =
      std::string(CONVMEND_TEST_DATA_DIR) + "/tflite/small_cnn_float32.tflite";
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  auto model = parse_model(bytes);
  return model.is_ok() ? "" : model.status().message();
}

TEST(TfliteBadInput, SeedParses) { EXPECT_EQ(parse_error(seed()), ""); }

TEST(TfliteBadInput, RefusesAWrongFileIdentifier) {
  std::vector<uint8_t> bytes = seed();
  std::memcpy(bytes.data() + 4, "XYZ9", 4);
  EXPECT_NE(parse_error(bytes).find("file identifier at byte 4 is 'XYZ9', not 'TFL3'"),
            std::string::npos)
      << parse_error(bytes);
}

TEST(TfliteBadInput, RefusesANameThatIsNotUtf8) {
  std::vector<uint8_t> bytes = seed();
  const std::string name = "serving_default_image";
  auto at = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
  ASSERT_NE(at, bytes.end());
  at[1] = 0xff;
  const std::string message = parse_error(bytes);
  EXPECT_NE(message.find("string 'name' is not valid UTF-8 (byte 1 of 23)"), std::string::npos)
      << message;
}

}  // namespace
}  // namespace convmend::tflite
