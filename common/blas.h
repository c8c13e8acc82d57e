/*
 * blas.h: the one door to matrix multiplication.  Every matrix product in
 * hptune goes through hpt_blas_sgemm (row-major cblas_sgemm underneath); the
 * naive reference next to it exists for tests.
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

/* The same contract with triple loops (double accumulation); tests only. */
void hpt_blas_sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float *A, const float *B, float beta, float *C);

/* Set the number of OpenBLAS threads for this process (openblas-pthread is a
 * process-wide setting).  n < 1 is treated as 1. */
void hpt_blas_set_threads(int n);

/* The number of threads OpenBLAS will use. */
int hpt_blas_get_threads(void);

#endif
