#include "support/test_support.h"

#include <cmath>
#include <random>

namespace convmend::testing {
namespace {

template <typename T>
Tensor make(DType dtype, const Shape& shape, const std::vector<T>& values) {
  auto t = Tensor::from_bytes(dtype, shape, values.data(), values.size() * sizeof(T));
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.is_ok() ? std::move(t).value() : Tensor();
}

}  // namespace

Tensor F32(const Shape& shape, const std::vector<float>& values) {
  return make(DType::kFloat32, shape, values);
}
Tensor F64(const Shape& shape, const std::vector<double>& values) {
  return make(DType::kFloat64, shape, values);
}
Tensor I64(const Shape& shape, const std::vector<int64_t>& values) {
  return make(DType::kInt64, shape, values);
}
Tensor I32(const Shape& shape, const std::vector<int32_t>& values) {
  return make(DType::kInt32, shape, values);
}
Tensor I8(const Shape& shape, const std::vector<int8_t>& values) {
  return make(DType::kInt8, shape, values);
}
Tensor U8(const Shape& shape, const std::vector<uint8_t>& values) {
  return make(DType::kUInt8, shape, values);
}
Tensor Bool(const Shape& shape, const std::vector<bool>& values) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return make(DType::kBool, shape, bytes);
}

Tensor Random(const Shape& shape, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  auto n = shape_num_elements(shape);
  std::vector<float> v(static_cast<size_t>(n.is_ok() ? n.value() : 0));
  for (float& x : v) x = dist(rng);
  return F32(shape, v);
}

Result<std::vector<Tensor>> run_op(OpKind op, const Attributes& attrs,
                                   const std::vector<std::optional<Tensor>>& inputs,
                                   const RunOptions& options, int num_outputs) {
  Graph g;
  std::vector<Value*> values;
  std::vector<Tensor> converted;  // inputs in the dtype the run uses (f64 in exact mode)
  converted.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i]) {
      values.push_back(nullptr);
      continue;
    }
    Tensor t = *inputs[i];
    if (options.exact && t.dtype() == DType::kFloat32) {
      ASSIGN_OR_RETURN(t, t.cast(DType::kFloat64));
    }
    converted.push_back(t);
    values.push_back(g.add_constant("in" + std::to_string(i), t));
  }
  std::vector<std::string> names;
  for (int i = 0; i < num_outputs; ++i) names.push_back("out" + std::to_string(i));
  Node* node = g.add_node(op, "node", values, names);
  node->attrs() = attrs;
  std::vector<TensorMeta> metas;
  for (Value* v : values) {
    TensorMeta m;
    if (v == nullptr) {
      m.rank_known = false;
    } else {
      m.dtype = v->dtype();
      m.shape = v->shape();
      m.value = &v->constant();
    }
    metas.push_back(m);
  }
  std::vector<TensorMeta> out_metas;
  InferOptions infer_options;
  infer_options.promote_float64 = options.exact;
  RETURN_IF_ERROR(infer_node(*node, metas, out_metas, infer_options));
  std::vector<Tensor> outputs;
  for (const TensorMeta& m : out_metas) {
    ASSIGN_OR_RETURN(Tensor t, Tensor::create(m.dtype, m.shape));
    outputs.push_back(std::move(t));
  }
  std::unique_ptr<KernelState> state;
  KernelContext ctx{*node, {}, {}, options, &state};
  for (Value* v : values) ctx.inputs.push_back(v == nullptr ? nullptr : &v->constant());
  for (Tensor& t : outputs) ctx.outputs.push_back(&t);
  RETURN_IF_ERROR(kernel_for(op)(ctx).with_context(node->describe()));
  return outputs;
}

double relative_error(const Tensor& actual, const Tensor& expected) {
  if (actual.shape() != expected.shape()) return INFINITY;
  const auto a = actual.to_doubles();
  const auto e = expected.to_doubles();
  double max_abs = 1.0;
  double max_diff = 0.0;
  for (size_t i = 0; i < e.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(e[i]));
    const double d = std::fabs(a[i] - e[i]);
    if (std::isnan(a[i]) != std::isnan(e[i])) return INFINITY;
    if (!std::isnan(d)) max_diff = std::max(max_diff, d);
  }
  return max_diff / max_abs;
}

::testing::AssertionResult TensorsClose(const Tensor& actual, const Tensor& expected,
                                        double tolerance) {
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual.shape())
                                         << ", expected " << shape_to_string(expected.shape());
  }
  const bool both_float = is_float(actual.dtype()) && is_float(expected.dtype());
  if (!both_float && actual.dtype() != expected.dtype()) {
    return ::testing::AssertionFailure() << "dtype " << dtype_name(actual.dtype())
                                         << ", expected " << dtype_name(expected.dtype());
  }
  const double err = relative_error(actual, expected);
  const double limit = both_float ? tolerance : 0.0;
  if (err > limit) {
    const auto a = actual.to_doubles();
    const auto e = expected.to_doubles();
    size_t worst = 0;
    for (size_t i = 0; i < e.size(); ++i) {
      if (std::fabs(a[i] - e[i]) > std::fabs(a[worst] - e[worst])) worst = i;
    }
    return ::testing::AssertionFailure() << "relative error " << err << " > " << limit
                                         << "; worst at flat index " << worst << ": " << a[worst]
                                         << " vs expected " << e[worst];
  }
  return ::testing::AssertionSuccess();
}

void check_op_case(const OpCase& c) {
  struct Mode {
    const char* name;
    RunOptions options;
  };
  RunOptions fast;
  RunOptions exact;
  exact.exact = true;
  RunOptions reference;
  reference.reference_only = true;
  for (const Mode& mode : {Mode{"fast", fast}, Mode{"exact", exact}, Mode{"reference", reference}}) {
    SCOPED_TRACE(c.name + std::string(" [") + mode.name + "]");
    auto out = run_op(c.op, c.attrs, c.inputs, mode.options, static_cast<int>(c.expected.size()));
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    ASSERT_EQ(out.value().size(), c.expected.size());
    for (size_t i = 0; i < c.expected.size(); ++i) {
      EXPECT_TRUE(TensorsClose(out.value()[i], c.expected[i], c.tolerance)) << "output " << i;
    }
  }
}

}  // namespace convmend::testing
