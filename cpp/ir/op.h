// IR op kinds, generated from op_table.inc, and the typed attribute store of a node.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ir/status.h"
#include "ir/tensor.h"

namespace convmend {

inline constexpr int kVariadic = 1 << 20;

enum class OpKind : uint16_t {
#define X(name, min_in, max_in, min_out, max_out) k##name,
#include "ir/op_table.inc"
#undef X
};

inline constexpr int kNumOps = 0
#define X(name, min_in, max_in, min_out, max_out) +1
#include "ir/op_table.inc"
#undef X
    ;

struct OpInfo {
  const char* name;
  int min_inputs;
  int max_inputs;
  int min_outputs;
  int max_outputs;
};

const OpInfo& op_info(OpKind kind);
inline const char* op_name(OpKind kind) { return op_info(kind).name; }
bool parse_op_kind(std::string_view name, OpKind* out);

// Enumerated attribute values. They are stored by name (the strings below) so that the text
// form stays readable; typed accessors convert, and unknown names are errors, never defaults.
enum class AutoPad : uint8_t { kNotSet, kSameUpper, kSameLower, kValid };
enum class Activation : uint8_t { kNone, kRelu, kRelu6, kReluN1To1, kTanh, kSignBit };
enum class DataLayout : uint8_t { kNCHW, kNHWC };
// Weight layouts of Conv: OIHW (ONNX), OHWI (TFLite CONV_2D), 1HWO (TFLite depthwise: I=1).
enum class WeightLayout : uint8_t { kOIHW, kOHWI, k1HWO };

const char* auto_pad_name(AutoPad v);
const char* activation_name(Activation v);
const char* data_layout_name(DataLayout v);
const char* weight_layout_name(WeightLayout v);

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>, Tensor>;

class Attributes {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  void set(const std::string& name, AttrValue v) { values_[name] = std::move(v); }
  void erase(const std::string& name) { values_.erase(name); }
  const std::map<std::string, AttrValue>& all() const { return values_; }

  // Each getter returns the default when the attribute is absent and an error when it is
  // present with another type.
  Result<int64_t> get_int(const std::string& name, int64_t fallback) const;
  Result<double> get_float(const std::string& name, double fallback) const;
  Result<std::string> get_string(const std::string& name, const std::string& fallback) const;
  Result<std::vector<int64_t>> get_ints(const std::string& name,
                                        const std::vector<int64_t>& fallback) const;
  Result<std::vector<double>> get_floats(const std::string& name,
                                         const std::vector<double>& fallback) const;
  const Tensor* get_tensor(const std::string& name) const;

  Result<AutoPad> get_auto_pad() const;           // "auto_pad"
  Result<Activation> get_activation() const;      // "fused_activation"
  Result<DataLayout> get_data_layout() const;     // "data_layout", NCHW when absent
  Result<WeightLayout> get_weight_layout() const; // "weight_layout", OIHW when absent

  void set_auto_pad(AutoPad v) { set("auto_pad", std::string(auto_pad_name(v))); }
  void set_activation(Activation v) { set("fused_activation", std::string(activation_name(v))); }
  void set_data_layout(DataLayout v) { set("data_layout", std::string(data_layout_name(v))); }
  void set_weight_layout(WeightLayout v) {
    set("weight_layout", std::string(weight_layout_name(v)));
  }

  bool operator==(const Attributes& other) const;

 private:
  std::map<std::string, AttrValue> values_;
};

std::string attr_value_to_string(const AttrValue& v);

}  // namespace convmend
