/*
 * test_blas.c: hpt_blas_sgemm (OpenBLAS) against hpt_blas_sgemm_naive for
 * all four transpose combinations, odd and MLP-like sizes, and several
 * alpha/beta values.  The tolerance is relative to the sum of |a*b| terms,
 * the scale of float rounding in a length-K dot product.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "blas.h"
#include "hpt_test.h"
#include "rng.h"

static float *rand_mat(hpt_rng_t *r, size_t n)
{
    float *p = malloc(n * sizeof *p);
    ASSERT(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = 2.0f * hpt_rng_uniform_f(r) - 1.0f;
    return p;
}

/* Compare one (ta, tb, M, N, K, alpha, beta) case. */
static void check_case(hpt_rng_t *r, bool ta, bool tb, int M, int N, int K, float alpha,
                       float beta)
{
    float *A = rand_mat(r, (size_t)M * K);
    float *B = rand_mat(r, (size_t)K * N);
    float *C0 = rand_mat(r, (size_t)M * N);
    float *C1 = malloc((size_t)M * N * sizeof *C1);
    float *C2 = malloc((size_t)M * N * sizeof *C2);
    ASSERT(C1 && C2);
    for (int i = 0; i < M * N; i++) {
        // With beta == 0 the old C must be ignored entirely, even NaN.
        C1[i] = C2[i] = beta == 0.0f ? NAN : C0[i];
    }
    hpt_blas_sgemm(ta, tb, M, N, K, alpha, A, B, beta, C1);
    hpt_blas_sgemm_naive(ta, tb, M, N, K, alpha, A, B, beta, C2);

    // Entries of A and B are in [-1, 1], so sum |a*b| <= K.
    double tol = 4e-7 * (fabs(alpha) * K + fabs(beta)) + 1e-7;
    for (int i = 0; i < M * N; i++) {
        if (!(fabs((double)C1[i] - (double)C2[i]) <= tol)) {
            fprintf(stderr, "ta=%d tb=%d M=%d N=%d K=%d alpha=%g beta=%g at %d\n", ta, tb, M,
                    N, K, alpha, beta, i);
            ASSERT_NEAR(C1[i], C2[i], tol);
        }
    }
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(C2);
}

HPT_TEST(all_transposes_odd_sizes)
{
    static const int sizes[][3] = {
        {1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 7}, {17, 13, 9}, {33, 65, 31},
        {6, 4, 5}, {32, 32, 784}, {784, 32, 32}, {32, 784, 32}, {31, 10, 33},
    };
    static const float alphas[] = {1.0f, -0.5f, 2.25f};
    static const float betas[] = {0.0f, 1.0f, 0.3f};
    hpt_rng_t r;
    hpt_rng_seed(&r, 12345);
    int cases = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (size_t a = 0; a < 3; a++)
                for (size_t b = 0; b < 3; b++) {
                    check_case(&r, t & 1, (t >> 1) & 1, sizes[s][0], sizes[s][1], sizes[s][2],
                               alphas[a], betas[b]);
                    cases++;
                }
    ASSERT_EQ(cases, 11 * 4 * 9);
}

/* The naive kernel itself, against a product worked out by hand. */
HPT_TEST(naive_by_hand)
{
    // A (2x3) = [1 2 3; 4 5 6], B (3x2) = [7 8; 9 10; 11 12]
    // A@B = [58 64; 139 154]
    const float A[] = {1, 2, 3, 4, 5, 6};
    const float At[] = {1, 4, 2, 5, 3, 6};  // A^T stored (3x2)
    const float B[] = {7, 8, 9, 10, 11, 12};
    const float Bt[] = {7, 9, 11, 8, 10, 12};  // B^T stored (2x3)
    const float want[] = {58, 64, 139, 154};
    const float *as[2] = {A, At}, *bs[2] = {B, Bt};
    for (int t = 0; t < 4; t++) {
        float C[4] = {1, 1, 1, 1};
        bool ta = t & 1, tb = (t >> 1) & 1;
        hpt_blas_sgemm_naive(ta, tb, 2, 2, 3, 1.0f, as[ta], bs[tb], 0.5f, C);
        for (int i = 0; i < 4; i++)
            ASSERT_NEAR(C[i], want[i] + 0.5, 0);
        float D[4] = {1, 1, 1, 1};
        hpt_blas_sgemm(ta, tb, 2, 2, 3, 1.0f, as[ta], bs[tb], 0.5f, D);
        for (int i = 0; i < 4; i++)
            ASSERT_NEAR(D[i], want[i] + 0.5, 1e-5);
    }
}

HPT_TEST(threads_setting)
{
    hpt_blas_set_threads(1);
    ASSERT_EQ(hpt_blas_get_threads(), 1);
    hpt_blas_set_threads(0);  // treated as 1
    ASSERT_EQ(hpt_blas_get_threads(), 1);
}

HPT_TEST_MAIN()
