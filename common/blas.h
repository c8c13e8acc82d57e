/*
 * blas.h: the one door to matrix multiplication.  Every matrix product in
 * hptune goes through hpt_blas_sgemm (row-major cblas_sgemm underneath, or
 * a kernel of our own for the MLP's narrow products); the naive reference
 * next to it exists for tests.
 */
#ifndef HPT_BLAS_H
#define HPT_BLAS_H

#include <stdbool.h>

/* C (M, N) = alpha * op(A) @ op(B) + beta * C, all row-major, where op(A) is
 * (M, K) and op(B) is (K, N).  A is stored (M, K) or, when trans_a, (K, M);
 * B is stored (K, N) or, when trans_b, (N, K).  Leading dimensions are the
 * stored row lengths.  Pointers borrowed.  Any thread. */
void hpt_blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                    const float *A, const float *B, float beta, float *C);

/* The rows of C per cblas_sgemm call that hpt_blas_sgemm uses for this
 * shape: a multiple of 8 below M when the product is split into row blocks
 * (a narrow product too big for OpenBLAS' small-matrix kernels), 0 when it
 * makes one call.  The transposes do not matter.  Pure; any thread. */
int hpt_blas_sgemm_block_rows(int M, int N, int K);

/* Which kernel hpt_blas_sgemm takes for this call: 1 the narrow forward
 * kernel (no transposes, N = 8, 16, 24 or 32, alpha = 1, beta 0 or 1), 2 the
 * narrow weight-gradient kernel (trans_a only, the same N, alpha = 1, beta =
 * 0), 0 OpenBLAS.  The narrow kernels need AVX2 and FMA (checked at run
 * time) and K >= 16.  Any thread. */
int hpt_blas_narrow_kind(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         float beta);

/* Turn the narrow kernels on (the default) or off, for every thread: tests
 * and benchmarks compare them with OpenBLAS. */
void hpt_blas_set_narrow(bool on);

/* The same contract with triple loops (double accumulation); tests only. */
void hpt_blas_sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float *A, const float *B, float beta, float *C);

/* Set the number of OpenBLAS threads for this process (openblas-pthread is a
 * process-wide setting).  n < 1 is treated as 1. */
void hpt_blas_set_threads(int n);

/* The number of threads OpenBLAS will use. */
int hpt_blas_get_threads(void);

#endif
