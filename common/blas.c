/* blas.c: hpt_blas_sgemm over OpenBLAS' row-major cblas_sgemm. */
#include "blas.h"

#include <cblas.h>

void hpt_blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                    const float *A, const float *B, float beta, float *C)
{
    int lda = trans_a ? M : K;
    int ldb = trans_b ? K : N;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                N);
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
