// LiteRT's hybrid (dynamic-range) kernels: a CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or
// BATCH_MATMUL whose weight is int8 and whose activation is float quantizes the activation to
// int8 on the fly, one scale (and for the asymmetric scheme one zero point) per row, and
// accumulates in integers. The TFLite reader marks such nodes with `hybrid_input`
// ("symmetric" or "asymmetric"); the kernels then run on the activation quantized and
// dequantized the way LiteRT does, so that the IR computes what LiteRT computes. A node whose
// weight no longer comes from an integer constant (precision restored by a repair) is float.
#pragma once

#include <cstdint>

#include "ir/status.h"
#include "ir/tensor.h"
#include "runtime/kernel.h"

namespace convmend {

enum class HybridInput { kNone, kSymmetric, kAsymmetric };

// The scheme `node` runs with: kNone unless it carries `hybrid_input` and its weight (input 1)
// is a DequantizeLinear of an integer constant.
Result<HybridInput> hybrid_input(const Node& node);

// `values` (rows of `row_size` elements) quantized to int8 per row and dequantized again:
// symmetric as LiteRT's SymmetricQuantizeFloats ([-127, 127], no zero point), asymmetric as
// its AsymmetricQuantizeFloats ([-128, 127], zero point nudged to an integer).
template <typename T>
void fake_quantize_rows(const T* values, int64_t rows, int64_t row_size, HybridInput scheme,
                        T* out);

// When `ctx.node` is hybrid, replaces ctx.inputs[0] by its fake-quantized copy, held in
// `holder` (which must outlive the kernel call); rows are `row_size` elements long.
Status quantize_hybrid_input(KernelContext& ctx, int64_t row_size, Tensor& holder);

}  // namespace convmend
