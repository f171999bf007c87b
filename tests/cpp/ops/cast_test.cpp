// Cast, DequantizeLinear, QuantizeLinear: golden cases from ONNX Runtime
// (gen/make_cast_cases.py), the TFLite forms that take quantization parameters from the
// tensors instead of inputs, exact-mode dtypes, and errors.
#include "ops/op_test_helpers.h"

namespace convmend::testing {
namespace {

const std::vector<OpCase>& CastCases() {
  static const auto* cases = new std::vector<OpCase>{
#include "ops/golden/cast_cases.inc"
  };
  return *cases;
}
CONVMEND_OP_CASE_SUITE(CastOps, CastCases);

// The DequantizeLinear golden cases again, with scale and zero point moved from the inputs
// onto X's QuantParams (TFLite DEQUANTIZE).
TEST(CastOps, DequantizeFromTensorQuantParams) {
  int checked = 0;
  for (const OpCase& c : CastCases()) {
    if (c.op != OpKind::kDequantizeLinear) continue;
    SCOPED_TRACE(c.name);
    QuantParams q;
    for (double s : c.inputs[1]->to_doubles()) q.scale.push_back(static_cast<float>(s));
    if (c.inputs.size() > 2) q.zero_point = c.inputs[2]->to_int64s();
    auto axis = c.attrs.get_int("axis", 1);
    ASSERT_TRUE(axis.is_ok());
    const int rank = c.inputs[0]->rank();
    q.axis = static_cast<int32_t>(q.per_channel() ? (axis.value() + rank) % rank : 0);
    Tensor x = c.inputs[0]->clone();
    x.set_quant(q);
    OpCase tflite{c.name + "_tflite", c.op, {}, {x}, c.expected, c.tolerance};
    check_op_case(tflite);
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(CastOps, DequantizeFloat16WithoutScale) {
  const std::vector<float> values = {0.1f, -2.5f, 1000.0f, 6.1e-5f};
  std::vector<float> widened;
  for (float v : values) widened.push_back(half_to_float(float_to_half(v)));
  check_op_case({"fp16", OpKind::kDequantizeLinear, {}, {F16({4}, values)}, {F32({4}, widened)}});
}

// A single QuantizeLinear node without scale input, its output value carrying the parameters.
TEST(CastOps, QuantizeFromOutputQuantParams) {
  Graph g;
  Value* in = g.add_input("x", DType::kFloat32, {4});
  Node* node = g.add_node(OpKind::kQuantizeLinear, "quantize", {in}, {"y"});
  QuantParams q;
  q.scale = {0.5f};
  q.zero_point = {-1};
  node->output(0)->set_quant(q);
  node->output(0)->set_dtype(DType::kInt8);
  std::vector<TensorMeta> metas;
  ASSERT_TRUE(infer_node(*node, std::vector<TensorMeta>{Meta(DType::kFloat32, {4})}, metas, {})
                  .is_ok());
  ASSERT_EQ(metas[0].dtype, DType::kInt8);
  Tensor x = F32({4}, {1.25f, -1.25f, 100.0f, 0.2f});
  auto y = Tensor::create(DType::kInt8, {4});
  ASSERT_TRUE(y.is_ok());
  RunOptions options;
  std::unique_ptr<KernelState> state;
  KernelContext ctx{*node, {&x}, {&y.value()}, options, &state};
  ASSERT_TRUE(run_QuantizeLinear(ctx).is_ok());
  // round(2.5) = 2, round(-2.5) = -2 (half to even), 200 saturates, then the zero point.
  EXPECT_TRUE(TensorsClose(y.value(), I8({4}, {1, -3, 127, -1})));
  EXPECT_EQ(y.value().quant(), q);
}

TEST(CastOps, ExactModePromotesFloat32Results) {
  InferOptions exact;
  exact.promote_float64 = true;
  auto cast = InferOnly(OpKind::kCast, Attrs({{"to", std::string("f32")}}),
                        {Meta(DType::kInt64, {2})}, 1, exact);
  ASSERT_TRUE(cast.is_ok()) << cast.status().to_string();
  EXPECT_EQ(cast.value()[0].dtype, DType::kFloat64);
  auto cast_int = InferOnly(OpKind::kCast, Attrs({{"to", std::string("i32")}}),
                            {Meta(DType::kFloat64, {2})}, 1, exact);
  ASSERT_TRUE(cast_int.is_ok());
  EXPECT_EQ(cast_int.value()[0].dtype, DType::kInt32);
  auto dq = InferOnly(OpKind::kDequantizeLinear, {}, {Meta(DType::kInt8, {2})}, 1, exact);
  ASSERT_TRUE(dq.is_ok()) << dq.status().to_string();
  EXPECT_EQ(dq.value()[0].dtype, DType::kFloat64);
  auto dq_scale = InferOnly(OpKind::kDequantizeLinear, {},
                            {Meta(DType::kUInt8, {2}), Meta(DType::kFloat32, {})}, 1, exact);
  ASSERT_TRUE(dq_scale.is_ok()) << dq_scale.status().to_string();
  EXPECT_EQ(dq_scale.value()[0].dtype, DType::kFloat64);
  auto plain = InferOnly(OpKind::kDequantizeLinear, {}, {Meta(DType::kInt8, {2})});
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain.value()[0].dtype, DType::kFloat32);
}

TEST(CastOps, Errors) {
  ExpectError(run_op(OpKind::kCast, Attrs({{"to", std::string("float")}}), {F32({1}, {1})}),
              "not a dtype name");
  ExpectError(run_op(OpKind::kCast, {}, {F32({1}, {1})}), "Cast needs 'to'");
  ExpectError(run_op(OpKind::kDequantizeLinear, {}, {I8({2}, {1, 2})}),
              "no quantization parameters");
  ExpectError(run_op(OpKind::kDequantizeLinear, Attrs({{"block_size", int64_t{2}}}),
                     {I8({2}, {1, 2}), F32({1}, {0.1f})}),
              "block_size 2");
  ExpectError(run_op(OpKind::kDequantizeLinear, {},
                     {I8({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {0.1f, 0.2f})}),
              "2 scales for axis 1 of [2,3]");
  ExpectError(run_op(OpKind::kDequantizeLinear, {},
                     {I8({2}, {1, 2}), F32({}, {0.1f}), U8({}, {3})}),
              "zero_point has dtype u8, expected i8");
  ExpectError(run_op(OpKind::kDequantizeLinear, {}, {F32({2}, {1, 2}), F32({}, {0.1f})}),
              "does not support dtype f32");
  ExpectError(run_op(OpKind::kQuantizeLinear, {}, {F32({2}, {1, 2})}),
              "no scale input and its output has no quantization parameters");
  ExpectError(run_op(OpKind::kQuantizeLinear, {}, {I32({2}, {1, 2}), F32({}, {0.1f})}),
              "does not support dtype i32");
}

}  // namespace
}  // namespace convmend::testing
