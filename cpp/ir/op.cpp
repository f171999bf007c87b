#include "ir/op.h"

#include <array>
#include <sstream>

namespace convmend {
namespace {

constexpr std::array<OpInfo, kNumOps> kOpInfos = {{
#define X(name, min_in, max_in, min_out, max_out) {#name, min_in, max_in, min_out, max_out},
#include "ir/op_table.inc"
#undef X
}};
static_assert(kOpInfos.size() == static_cast<size_t>(kNumOps));

template <typename Enum, size_t N>
Result<Enum> parse_enum(const Attributes& attrs, const std::string& attr, Enum fallback,
                        const std::array<const char*, N>& names) {
  if (!attrs.has(attr)) return fallback;
  ASSIGN_OR_RETURN(std::string s, attrs.get_string(attr, ""));
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) return static_cast<Enum>(i);
  }
  return error(StatusCode::kInvalidModel, "attribute '", attr, "' has unknown value '", s, "'");
}

constexpr std::array<const char*, 4> kAutoPadNames = {"NOTSET", "SAME_UPPER", "SAME_LOWER",
                                                      "VALID"};
constexpr std::array<const char*, 6> kActivationNames = {"NONE", "RELU", "RELU6",
                                                         "RELU_N1_TO_1", "TANH", "SIGN_BIT"};
constexpr std::array<const char*, 2> kDataLayoutNames = {"NCHW", "NHWC"};
constexpr std::array<const char*, 3> kWeightLayoutNames = {"OIHW", "OHWI", "1HWO"};

template <typename T>
Status wrong_type(const std::string& name, const char* wanted) {
  return error(StatusCode::kInvalidModel, "attribute '", name, "' is not ", wanted);
}

}  // namespace

const OpInfo& op_info(OpKind kind) { return kOpInfos[static_cast<size_t>(kind)]; }

bool parse_op_kind(std::string_view name, OpKind* out) {
  for (int i = 0; i < kNumOps; ++i) {
    if (name == kOpInfos[static_cast<size_t>(i)].name) {
      *out = static_cast<OpKind>(i);
      return true;
    }
  }
  return false;
}

const char* auto_pad_name(AutoPad v) { return kAutoPadNames[static_cast<size_t>(v)]; }
const char* activation_name(Activation v) { return kActivationNames[static_cast<size_t>(v)]; }
const char* data_layout_name(DataLayout v) { return kDataLayoutNames[static_cast<size_t>(v)]; }
const char* weight_layout_name(WeightLayout v) {
  return kWeightLayoutNames[static_cast<size_t>(v)];
}

Result<int64_t> Attributes::get_int(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return wrong_type<int64_t>(name, "an integer");
}

Result<double> Attributes::get_float(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<double>(&it->second)) return *v;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return static_cast<double>(*v);
  return wrong_type<double>(name, "a float");
}

Result<std::string> Attributes::get_string(const std::string& name,
                                           const std::string& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<std::string>(&it->second)) return *v;
  return wrong_type<std::string>(name, "a string");
}

Result<std::vector<int64_t>> Attributes::get_ints(const std::string& name,
                                                  const std::vector<int64_t>& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return wrong_type<int64_t>(name, "a list of integers");
}

Result<std::vector<double>> Attributes::get_floats(const std::string& name,
                                                   const std::vector<double>& fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<std::vector<double>>(&it->second)) return *v;
  return wrong_type<double>(name, "a list of floats");
}

const Tensor* Attributes::get_tensor(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

Result<AutoPad> Attributes::get_auto_pad() const {
  return parse_enum(*this, "auto_pad", AutoPad::kNotSet, kAutoPadNames);
}
Result<Activation> Attributes::get_activation() const {
  return parse_enum(*this, "fused_activation", Activation::kNone, kActivationNames);
}
Result<DataLayout> Attributes::get_data_layout() const {
  return parse_enum(*this, "data_layout", DataLayout::kNCHW, kDataLayoutNames);
}
Result<WeightLayout> Attributes::get_weight_layout() const {
  return parse_enum(*this, "weight_layout", WeightLayout::kOIHW, kWeightLayoutNames);
}

bool Attributes::operator==(const Attributes& other) const {
  if (values_.size() != other.values_.size()) return false;
  for (const auto& [name, v] : values_) {
    auto it = other.values_.find(name);
    if (it == other.values_.end() || it->second.index() != v.index()) return false;
    if (const auto* t = std::get_if<Tensor>(&v)) {
      if (!t->same_data(std::get<Tensor>(it->second))) return false;
    } else if (attr_value_to_string(v) != attr_value_to_string(it->second)) {
      return false;
    }
  }
  return true;
}

std::string attr_value_to_string(const AttrValue& v) {
  std::ostringstream out;
  out.precision(9);
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, double>) {
          out << x;
        } else if constexpr (std::is_same_v<T, std::string>) {
          out << '"' << x << '"';
        } else if constexpr (std::is_same_v<T, Tensor>) {
          out << "tensor<" << dtype_name(x.dtype()) << shape_to_string(x.shape()) << ">";
        } else {
          out << '[';
          for (size_t i = 0; i < x.size(); ++i) {
            if (i) out << ',';
            if constexpr (std::is_same_v<T, std::vector<std::string>>) {
              out << '"' << x[i] << '"';
            } else {
              out << x[i];
            }
          }
          out << ']';
        }
      },
      v);
  return out.str();
}

}  // namespace convmend
