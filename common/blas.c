/* blas.c: hpt_blas_sgemm over OpenBLAS' row-major cblas_sgemm. */
#include "blas.h"

#include <cblas.h>

// OpenBLAS takes its small-matrix kernels (no packing) only while M*N*K stays
// at or below this; above it, narrow products (the MLP's N = units) pay for
// packing that a 32-unit layer never amortises.
#define SMALL_MNK 1000000.0

/* A narrow product too big for the small-matrix path is split into blocks
 * of rows of C that fit it.  Each element of C is still one dot product over
 * all of K, so the split changes no summation order. */
int hpt_blas_sgemm_block_rows(int M, int N, int K)
{
    double mnk = (double)M * N * K;
    int rows = N > 0 && K > 0 ? (int)(SMALL_MNK / ((double)N * K)) : M;
    if (mnk > SMALL_MNK && N <= 64 && rows >= 16 && rows < M)
        return rows & ~7;
    return 0;
}

void hpt_blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                    const float *A, const float *B, float beta, float *C)
{
    int lda = trans_a ? M : K;
    int ldb = trans_b ? K : N;
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    int rows = hpt_blas_sgemm_block_rows(M, N, K);
    if (rows > 0) {
        for (int i = 0; i < M; i += rows) {
            int m = M - i < rows ? M - i : rows;
            const float *a = trans_a ? A + i : A + (long)i * K;
            cblas_sgemm(CblasRowMajor, ta, tb, m, N, K, alpha, a, lda, B, ldb, beta,
                        C + (long)i * N, N);
        }
        return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
}

void hpt_blas_sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                          const float *A, const float *B, float beta, float *C)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double acc = 0.0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(long)k * M + i] : A[(long)i * K + k];
                float b = trans_b ? B[(long)j * K + k] : B[(long)k * N + j];
                acc += (double)a * (double)b;
            }
            float *c = &C[(long)i * N + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
    }
}

void hpt_blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int hpt_blas_get_threads(void)
{
    return openblas_get_num_threads();
}
