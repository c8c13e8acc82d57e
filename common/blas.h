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

/* One member of a horizontally fused product (hpt_blas_fused_*): its own
 * B (K, N) and C (M, N), both row-major with row length N. */
typedef struct hpt_blas_member {
    const float *B;  // (K, N) borrowed
    float *C;        // (M, N) borrowed
    int N;           // columns, a multiple of 8 up to 32 (the narrow widths)
} hpt_blas_member_t;

/* Horizontal fusion (HFTA): several products that share their A, done as one
 * product of width sum(N_i) that reads A once.
 *   fwd:   C_i (M, N_i) = A (M, K) @ B_i (K, N_i) + (beta1 ? C_i : 0)
 *   wgrad: C_i (M, N_i) = A^T @ B_i, A stored (K, M), B_i (K, N_i)
 * Each element of each C_i is the same fused multiply-add chain in the same
 * order as hpt_blas_sgemm's narrow kernel computes it for that member alone
 * (hpt_blas_narrow_kind 1 or 2), so the results are bit-for-bit those of
 * the separate calls, whatever the other members are.  Only for members
 * that kernel would take (see hpt_blas_fused_ok); returns -EINVAL, touching
 * nothing, otherwise.  n <= HPT_BLAS_FUSED_MAX.  Any thread. */
#define HPT_BLAS_FUSED_MAX 64
int hpt_blas_fused_fwd(int M, int K, const float *A, const hpt_blas_member_t *mem, int n,
                       bool beta1);
int hpt_blas_fused_wgrad(int M, int K, const float *A, const hpt_blas_member_t *mem, int n);

/* Whether a member of width N can join a fused product of this shape: the
 * narrow kernel of that kind (1 fwd, 2 wgrad) takes it alone. */
bool hpt_blas_fused_ok(int kind, int M, int N, int K);

/* Let the fused products use 512-bit vectors where AVX-512F is present (the
 * default) or not: benchmarks compare them (the results are the same). */
void hpt_blas_set_avx512(bool on);

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
