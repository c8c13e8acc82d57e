/*
 * test_blas.c: hpt_blas_sgemm (OpenBLAS) against hpt_blas_sgemm_naive for
 * all four transpose combinations, odd and MLP-like sizes, and several
 * alpha/beta values, both below and on the row-blocked path (narrow products
 * above OpenBLAS' small-matrix size, which training takes from batch 40).
 * The tolerance is relative to the sum of |a*b| terms, the scale of float
 * rounding in a length-K dot product.
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
    // C1 is followed by canaries: a last row block written whole would
    // overwrite them (up to 1024 rows past the end).
    size_t pad = (size_t)1024 * N + 16;
    float *C1 = malloc(((size_t)M * N + pad) * sizeof *C1);
    float *C2 = malloc((size_t)M * N * sizeof *C2);
    ASSERT(C1 && C2);
    for (int i = 0; i < M * N; i++) {
        // With beta == 0 the old C must be ignored entirely, even NaN.
        C1[i] = C2[i] = beta == 0.0f ? NAN : C0[i];
    }
    for (size_t i = 0; i < pad; i++)
        C1[(size_t)M * N + i] = 12345.0f;
    hpt_blas_sgemm(ta, tb, M, N, K, alpha, A, B, beta, C1);
    for (size_t i = 0; i < pad; i++)
        ASSERT(C1[(size_t)M * N + i] == 12345.0f);
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

// ---------------------------------------------------------------------------
// The row-blocked path (hpt_blas_sgemm_block_rows > 0): products too big for
// OpenBLAS' small-matrix kernels with N <= 64, which training reaches from
// batch 40 on (32 units on 784 inputs).  The cases above are all below it.

/* Every case here must really take the blocked path, or the test proves
 * nothing about it. */
static void check_blocked(hpt_rng_t *r, bool ta, bool tb, int M, int N, int K)
{
    if (hpt_blas_sgemm_block_rows(M, N, K) <= 0) {
        fprintf(stderr, "M=%d N=%d K=%d does not take the row-blocked path\n", M, N, K);
        ASSERT(hpt_blas_sgemm_block_rows(M, N, K) > 0);
    }
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 0.3f}};
    hpt_blas_set_narrow(false);   // narrow shapes would take the narrow kernels
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
        check_case(r, ta, tb, M, N, K, ab[i][0], ab[i][1]);
    hpt_blas_set_narrow(true);
}

/* Where the split starts and how big its blocks are, worked out by hand from
 * the rule in blas.c (M*N*K > 1e6, N <= 64, 16 <= 1e6/(N*K) < M, rounded
 * down to a multiple of 8). */
HPT_TEST(block_rows_rule)
{
    // Forward pass of the first layer, 32 units on 784 inputs: 1e6/25088 = 39.9.
    ASSERT_EQ(hpt_blas_sgemm_block_rows(39, 32, 784), 0);   // M*N*K = 978432
    ASSERT_EQ(hpt_blas_sgemm_block_rows(40, 32, 784), 32);  // blocks 32 + 8
    ASSERT_EQ(hpt_blas_sgemm_block_rows(128, 32, 784), 32);
    // 64 units: 1e6/50176 = 19.9.
    ASSERT_EQ(hpt_blas_sgemm_block_rows(19, 64, 784), 0);
    ASSERT_EQ(hpt_blas_sgemm_block_rows(20, 64, 784), 16);
    // Weight gradient of the first layer (M = 784 inputs, K = batch).
    ASSERT_EQ(hpt_blas_sgemm_block_rows(784, 32, 40), 776);  // 1e6/1280 = 781.25
    ASSERT_EQ(hpt_blas_sgemm_block_rows(784, 32, 32), 0);    // M*N*K = 802816
    ASSERT_EQ(hpt_blas_sgemm_block_rows(784, 64, 128), 120); // 1e6/8192 = 122.07
    // Blocks of fewer than 16 rows, wide products and small ones stay whole.
    ASSERT_EQ(hpt_blas_sgemm_block_rows(64, 64, 976), 16);   // 1e6/62464 = 16.01
    ASSERT_EQ(hpt_blas_sgemm_block_rows(64, 64, 977), 0);    // 1e6/62528 = 15.99
    ASSERT_EQ(hpt_blas_sgemm_block_rows(128, 65, 784), 0);
    ASSERT_EQ(hpt_blas_sgemm_block_rows(1000, 10, 100), 0);  // exactly 1e6
    ASSERT_EQ(hpt_blas_sgemm_block_rows(1001, 10, 100), 1000);
    ASSERT_EQ(hpt_blas_sgemm_block_rows(0, 32, 784), 0);
    ASSERT_EQ(hpt_blas_sgemm_block_rows(40, 0, 784), 0);
}

/* The three products of a training step (common/mlp.c), at the shapes that
 * training blocks: forward z = X @ W (no transposes), the weight gradient
 * dW = X^T @ d (trans_a) and the back-propagated dp = d @ W^T (trans_b). */
HPT_TEST(row_blocked_training_shapes)
{
    hpt_rng_t r;
    hpt_rng_seed(&r, 777);
    // forward (batch, units, inputs)
    static const int fwd[][3] = {
        {40, 32, 784}, {41, 32, 784}, {47, 32, 784}, {64, 32, 784}, {128, 32, 784},
        {256, 32, 784}, {160, 8, 784}, {200, 8, 784}, {20, 64, 784}, {33, 64, 784},
        {76, 17, 784}, {145, 17, 784}, {1563, 10, 64},
    };
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++)
        check_blocked(&r, false, false, fwd[i][0], fwd[i][1], fwd[i][2]);
    // weight gradient (inputs, units, batch)
    static const int dw[][3] = {
        {784, 32, 40}, {784, 32, 64}, {784, 32, 128}, {784, 64, 128}, {784, 17, 97},
        {784, 8, 256}, {300, 64, 100},
    };
    for (size_t i = 0; i < sizeof dw / sizeof dw[0]; i++)
        check_blocked(&r, true, false, dw[i][0], dw[i][1], dw[i][2]);
    // back-propagated delta (batch, units in, units out)
    static const int dp[][3] = {
        {256, 64, 64}, {300, 63, 61}, {3200, 32, 10}, {1025, 33, 40},
    };
    for (size_t i = 0; i < sizeof dp / sizeof dp[0]; i++)
        check_blocked(&r, false, true, dp[i][0], dp[i][1], dp[i][2]);
}

/* Around the block boundaries, every transpose combination: M just past
 * where splitting starts, one block plus a row, exact multiples of the block
 * and one row either side, and a ragged last block. */
HPT_TEST(row_blocked_boundaries)
{
    static const int nk[][2] = {{32, 784}, {64, 976}, {63, 800}, {33, 785}, {1, 1001},
                                {64, 17}, {7, 1500}};
    hpt_rng_t r;
    hpt_rng_seed(&r, 4242);
    int blocked = 0;
    for (size_t s = 0; s < sizeof nk / sizeof nk[0]; s++) {
        int N = nk[s][0], K = nk[s][1];
        int raw = (int)(1000000.0 / ((double)N * K));
        int blk = raw & ~7;
        const int ms[] = {raw + 1, blk + 1, 2 * blk - 1, 2 * blk, 2 * blk + 1, 3 * blk + 7};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
            int M = ms[i];
            if ((double)M * N * K <= 1000000.0 || M <= raw)
                continue;   // below the threshold: not this test's business
            ASSERT_EQ(hpt_blas_sgemm_block_rows(M, N, K), blk);
            for (int t = 0; t < 4; t++)
                check_blocked(&r, t & 1, (t >> 1) & 1, M, N, K);
            blocked++;
        }
    }
    ASSERT(blocked >= 30);
}

// ---------------------------------------------------------------------------
// The narrow kernels (hpt_blas_narrow_kind > 0): the first layer's forward
// product and weight gradient with N = 8..32 units, on a CPU with AVX2+FMA.

static bool have_narrow(void)
{
    return hpt_blas_narrow_kind(false, false, 32, 8, 784, 1.0f, 0.0f) > 0;
}

/* Which calls take them, and which do not. */
HPT_TEST(narrow_kind_rule)
{
    if (!have_narrow()) {
        // Not an x86-64 CPU with AVX2 and FMA: OpenBLAS does everything.
        fprintf(stderr, "note: no AVX2+FMA here; the narrow kernels are off\n");
        ASSERT_EQ(hpt_blas_narrow_kind(true, false, 784, 8, 32, 1.0f, 0.0f), 0);
        return;
    }
    for (int n = 8; n <= 32; n += 8) {
        ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, n, 784, 1.0f, 1.0f), 1);
        ASSERT_EQ(hpt_blas_narrow_kind(false, false, 1, n, 16, 1.0f, 0.0f), 1);
        ASSERT_EQ(hpt_blas_narrow_kind(true, false, 784, n, 64, 1.0f, 0.0f), 2);
    }
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 10, 784, 1.0f, 1.0f), 0);  // N % 8
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 40, 784, 1.0f, 1.0f), 0);  // N > 32
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 32, 15, 1.0f, 1.0f), 0);   // K < 16
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 32, 784, 2.0f, 1.0f), 0);  // alpha
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 32, 784, 1.0f, 0.5f), 0);  // beta
    ASSERT_EQ(hpt_blas_narrow_kind(true, false, 784, 32, 64, 1.0f, 1.0f), 0);   // beta
    ASSERT_EQ(hpt_blas_narrow_kind(false, true, 64, 32, 784, 1.0f, 0.0f), 0);   // trans_b
    ASSERT_EQ(hpt_blas_narrow_kind(true, true, 784, 32, 64, 1.0f, 0.0f), 0);
    hpt_blas_set_narrow(false);
    ASSERT_EQ(hpt_blas_narrow_kind(false, false, 64, 32, 784, 1.0f, 1.0f), 0);
    hpt_blas_set_narrow(true);
}

/* Against the naive product: every N, row counts around each block size
 * (8, 4, 3 rows of C forward; 12, 6, 4, 3 rows of dW) so that full blocks
 * and the rows after them both run, the MLP's batches and inputs, and beta
 * 0 over a C full of NaN. */
HPT_TEST(narrow_kernels)
{
    if (!have_narrow()) {
        fprintf(stderr, "note: no AVX2+FMA here; nothing to test\n");
        return;
    }
    hpt_rng_t r;
    hpt_rng_seed(&r, 99);
    static const int rows[] = {1, 2, 3, 5, 7, 8, 9, 11, 12, 13, 25, 32, 64, 100};
    static const int ks[] = {16, 17, 100, 784};
    int cases = 0;
    for (int n = 8; n <= 32; n += 8)
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                int m = rows[i], k = ks[j];
                ASSERT_EQ(hpt_blas_narrow_kind(false, false, m, n, k, 1.0f, 1.0f), 1);
                check_case(&r, false, false, m, n, k, 1.0f, 1.0f);
                check_case(&r, false, false, m, n, k, 1.0f, 0.0f);
                // weight gradient: M = inputs (the rows of dW), K = batch
                ASSERT_EQ(hpt_blas_narrow_kind(true, false, k, n, m + 15, 1.0f, 0.0f), 2);
                check_case(&r, true, false, k, n, m + 15, 1.0f, 0.0f);
                check_case(&r, true, false, m, n, 16 + m, 1.0f, 0.0f);
                cases += 4;
            }
    ASSERT_EQ(cases, 4 * 14 * 4 * 4);
    // The shapes of a training step at the published grid's batches.
    static const int batch[] = {32, 64, 512};
    for (int n = 8; n <= 32; n *= 2)
        for (size_t i = 0; i < 3; i++) {
            check_case(&r, false, false, batch[i], n, 784, 1.0f, 1.0f);
            check_case(&r, true, false, 784, n, batch[i], 1.0f, 0.0f);
        }
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
