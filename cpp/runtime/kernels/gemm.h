// Row-major GEMM on OpenBLAS for the fast paths of Conv, FullyConnected, Gemm and MatMul:
// float uses sgemm, double (exact mode) dgemm, so one templated fast path serves both.
#pragma once

#include <cblas.h>

#include <cstdint>

namespace convmend {

// C[m,n] = alpha * op(A) op(B) + beta * C, row-major with leading dimensions.
inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

inline void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                 const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                 double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb),
              beta, c, static_cast<int>(ldc));
}

// Call before a GEMM: sets OpenBLAS's thread count (skipped when unchanged, the call is not
// free) and, once per process, replaces a misdetected pre-AVX OpenBLAS core (gemm.cpp).
void prepare_blas(int threads);

}  // namespace convmend
