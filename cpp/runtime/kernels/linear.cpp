#include <algorithm>
#include <vector>

#include "runtime/kernel.h"
#include "runtime/kernels/fused_activation.h"
#include "runtime/kernels/gemm.h"
#include "runtime/kernels/hybrid.h"

namespace convmend {
namespace {

// Checks that input 0 is f32 or f64 and every other present input has its dtype.
Status check_float_inputs(const KernelContext& ctx, const char* op) {
  const DType dtype = ctx.inputs[0]->dtype();
  if (dtype != DType::kFloat32 && dtype != DType::kFloat64) {
    return error(StatusCode::kUnsupported, op, " does not support dtype ", dtype_name(dtype),
                 " (f32 and f64 only)");
  }
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    if (ctx.inputs[i] != nullptr && ctx.inputs[i]->dtype() != dtype) {
      return error(StatusCode::kUnsupported, op, " input ", i, " is ",
                   dtype_name(ctx.inputs[i]->dtype()), " but input 0 is ", dtype_name(dtype));
    }
  }
  return Status::ok();
}

int64_t last_dim(const Tensor& t) { return t.shape().empty() ? 1 : t.shape().back(); }

// ---- FullyConnected: Y[rows, units] = X[rows, in] W[units, in]^T + B ----

template <typename T>
void fully_connected(KernelContext& ctx, Activation activation) {
  const Tensor& w = *ctx.inputs[1];
  const Tensor* bias = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  Tensor& out = *ctx.outputs[0];
  const int64_t units = w.dim(0), in = w.dim(1);
  const int64_t rows = in > 0 ? ctx.inputs[0]->num_elements() / in : 0;
  const T* x = ctx.inputs[0]->data<T>();
  const T* wd = w.data<T>();
  const T* b = bias != nullptr ? bias->data<T>() : nullptr;
  T* y = out.data<T>();
  if (ctx.options.reference_only) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t u = 0; u < units; ++u) {
        double acc = b != nullptr ? static_cast<double>(b[u]) : 0.0;
        for (int64_t k = 0; k < in; ++k) {
          acc += static_cast<double>(x[r * in + k]) * static_cast<double>(wd[u * in + k]);
        }
        y[r * units + u] = static_cast<T>(acc);
      }
    }
  } else if (rows > 0 && units > 0) {
    prepare_blas(ctx.options.threads);
    gemm(false, true, rows, units, in, T(1), x, in, wd, in, T(0), y, units);
    if (b != nullptr) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t u = 0; u < units; ++u) y[r * units + u] += b[u];
    }
  }
  apply_fused_activation(activation, y, out.num_elements());
}

// ---- Gemm: Y = alpha * A' B' + beta * C ----

struct GemmDims {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  double alpha = 1.0, beta = 1.0;
  int64_t c_rows = 1, c_cols = 1;  // C's dims after broadcasting rules (1 = broadcast)
};

template <typename T>
T c_at(const GemmDims& d, const T* c, int64_t i, int64_t j) {
  return c[(d.c_rows == 1 ? 0 : i) * d.c_cols + (d.c_cols == 1 ? 0 : j)];
}

template <typename T>
void gemm_op(KernelContext& ctx, const GemmDims& d) {
  const T* a = ctx.inputs[0]->data<T>();
  const T* b = ctx.inputs[1]->data<T>();
  const Tensor* c_tensor = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  const T* c = c_tensor != nullptr ? c_tensor->data<T>() : nullptr;
  T* y = ctx.outputs[0]->data<T>();
  const int64_t lda = d.trans_a ? d.m : d.k, ldb = d.trans_b ? d.k : d.n;
  if (ctx.options.reference_only) {
    for (int64_t i = 0; i < d.m; ++i) {
      for (int64_t j = 0; j < d.n; ++j) {
        double acc = 0.0;
        for (int64_t p = 0; p < d.k; ++p) {
          const double av = a[d.trans_a ? p * lda + i : i * lda + p];
          const double bv = b[d.trans_b ? j * ldb + p : p * ldb + j];
          acc += av * bv;
        }
        double v = d.alpha * acc;
        if (c != nullptr) v += d.beta * static_cast<double>(c_at(d, c, i, j));
        y[i * d.n + j] = static_cast<T>(v);
      }
    }
    return;
  }
  if (d.m == 0 || d.n == 0) return;
  const bool use_c = c != nullptr && d.beta != 0.0;
  if (use_c) {
    for (int64_t i = 0; i < d.m; ++i)
      for (int64_t j = 0; j < d.n; ++j) y[i * d.n + j] = c_at(d, c, i, j);
  }
  prepare_blas(ctx.options.threads);
  gemm(d.trans_a, d.trans_b, d.m, d.n, d.k, static_cast<T>(d.alpha), a, lda, b, ldb,
       use_c ? static_cast<T>(d.beta) : T(0), y, d.n);
}

// ---- MatMul: numpy semantics, batched with broadcasting ----

struct MatMulDims {
  int64_t m = 1, n = 1, k = 1;
  Shape batch;                          // output batch dims
  std::vector<int64_t> a_strides, b_strides;  // per batch dim, in matrices; 0 = broadcast
  bool b_shared = false;                // B is one matrix for every batch
};

MatMulDims matmul_dims(const Shape& a_in, const Shape& b_in, const Shape& out) {
  Shape a = a_in, b = b_in;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulDims d;
  d.m = a[a.size() - 2];
  d.k = a.back();
  d.n = b.back();
  const size_t rank = std::max(a.size(), b.size()) - 2;
  d.batch.assign(rank, 1);
  d.a_strides.assign(rank, 0);
  d.b_strides.assign(rank, 0);
  const auto fill = [&](const Shape& s, std::vector<int64_t>& strides) {
    const size_t own = s.size() - 2;
    int64_t stride = 1;
    for (size_t i = own; i-- > 0;) {
      const size_t at = rank - own + i;
      strides[at] = s[i] == 1 ? 0 : stride;
      d.batch[at] = std::max(d.batch[at], s[i]);
      stride *= s[i];
    }
  };
  fill(a, d.a_strides);
  fill(b, d.b_strides);
  d.b_shared = std::all_of(d.b_strides.begin(), d.b_strides.end(),
                           [](int64_t s) { return s == 0; });
  (void)out;
  return d;
}

template <typename T>
void matmul(KernelContext& ctx, const MatMulDims& d) {
  const T* a = ctx.inputs[0]->data<T>();
  const T* b = ctx.inputs[1]->data<T>();
  T* y = ctx.outputs[0]->data<T>();
  int64_t batches = 1;
  for (int64_t v : d.batch) batches *= v;
  const int64_t mk = d.m * d.k, kn = d.k * d.n, mn = d.m * d.n;
  const bool fast = !ctx.options.reference_only;
  if (fast) prepare_blas(ctx.options.threads);
  // B shared and A not broadcast: all batches are one [batches*M, K] x [K, N] product.
  if (fast && d.b_shared && ctx.inputs[0]->num_elements() == batches * mk && batches * mn > 0) {
    gemm(false, false, batches * d.m, d.n, d.k, T(1), a, d.k, b, d.n, T(0), y, d.n);
    return;
  }
  std::vector<int64_t> index(d.batch.size(), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t a_off = 0, b_off = 0;
    for (size_t i = 0; i < index.size(); ++i) {
      a_off += index[i] * d.a_strides[i];
      b_off += index[i] * d.b_strides[i];
    }
    const T* am = a + a_off * mk;
    const T* bm = b + b_off * kn;
    T* ym = y + bi * mn;
    if (fast) {
      if (mn > 0) gemm(false, false, d.m, d.n, d.k, T(1), am, d.k, bm, d.n, T(0), ym, d.n);
    } else {
      for (int64_t i = 0; i < d.m; ++i) {
        for (int64_t j = 0; j < d.n; ++j) {
          double acc = 0.0;
          for (int64_t p = 0; p < d.k; ++p) {
            acc += static_cast<double>(am[i * d.k + p]) * static_cast<double>(bm[p * d.n + j]);
          }
          ym[i * d.n + j] = static_cast<T>(acc);
        }
      }
    }
    for (size_t i = index.size(); i-- > 0;) {
      if (++index[i] < d.batch[i]) break;
      index[i] = 0;
    }
  }
}

}  // namespace

Status run_FullyConnected(KernelContext& ctx) {
  RETURN_IF_ERROR(check_float_inputs(ctx, "FullyConnected"));
  // A hybrid FULLY_CONNECTED quantizes each input row (weights are [out, in]).
  Tensor quantized;
  RETURN_IF_ERROR(quantize_hybrid_input(ctx, last_dim(*ctx.inputs[1]), quantized));
  ASSIGN_OR_RETURN(Activation activation, ctx.node.attrs().get_activation());
  if (ctx.inputs[0]->dtype() == DType::kFloat64) {
    fully_connected<double>(ctx, activation);
  } else {
    fully_connected<float>(ctx, activation);
  }
  return Status::ok();
}

Status run_Gemm(KernelContext& ctx) {
  RETURN_IF_ERROR(check_float_inputs(ctx, "Gemm"));
  const Attributes& attrs = ctx.node.attrs();
  GemmDims d;
  ASSIGN_OR_RETURN(int64_t trans_a, attrs.get_int("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, attrs.get_int("transB", 0));
  ASSIGN_OR_RETURN(d.alpha, attrs.get_float("alpha", 1.0));
  ASSIGN_OR_RETURN(d.beta, attrs.get_float("beta", 1.0));
  d.trans_a = trans_a != 0;
  d.trans_b = trans_b != 0;
  const Tensor& a = *ctx.inputs[0];
  d.m = d.trans_a ? a.dim(1) : a.dim(0);
  d.k = d.trans_a ? a.dim(0) : a.dim(1);
  d.n = ctx.outputs[0]->dim(1);
  if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) {
    const Shape& c = ctx.inputs[2]->shape();
    d.c_cols = c.empty() ? 1 : c.back();
    d.c_rows = c.size() == 2 ? c[0] : 1;
  }
  if (a.dtype() == DType::kFloat64) {
    gemm_op<double>(ctx, d);
  } else {
    gemm_op<float>(ctx, d);
  }
  return Status::ok();
}

Status run_MatMul(KernelContext& ctx) {
  RETURN_IF_ERROR(check_float_inputs(ctx, "MatMul"));
  // A hybrid BATCH_MATMUL quantizes each row of its left operand.
  Tensor quantized;
  RETURN_IF_ERROR(quantize_hybrid_input(ctx, last_dim(*ctx.inputs[0]), quantized));
  const MatMulDims d = matmul_dims(ctx.inputs[0]->shape(), ctx.inputs[1]->shape(),
                                   ctx.outputs[0]->shape());
  if (ctx.inputs[0]->dtype() == DType::kFloat64) {
    matmul<double>(ctx, d);
  } else {
    matmul<float>(ctx, d);
  }
  return Status::ok();
}

}  // namespace convmend
