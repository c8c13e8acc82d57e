/* blas.c: hpt_blas_sgemm over OpenBLAS' row-major cblas_sgemm, with two
 * kernels of our own for the MLP's narrow products (below). */
#include "blas.h"

#include <cblas.h>
#include <errno.h>
#include <stdatomic.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HPT_NARROW_X86 1
#endif

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

// --- narrow products ------------------------------------------------------------
/*
 * The first layer's two big products have N = units, 8 to 32 columns:
 *   forward          z (batch, N) = x (batch, 784) @ W (784, N) + z
 *   weight gradient  dW (784, N)  = x^T @ d (batch, N)
 * OpenBLAS packs both operands for them and reaches 80-105 GFLOP/s on this
 * machine's cores; a row of N floats fits 1-4 AVX registers, so a kernel
 * that keeps a block of C in registers and streams A and B once needs no
 * packing at all: 110-137 GFLOP/s alone, 1.2-1.4x, and 15-25 % more
 * training samples/s for 784-32-10 (`bench/train_bench` against
 * `bench/train_bench --no-narrow`, 2026-12-07).
 *   forward: MR rows of C (MR x NR registers) accumulate x[r][k] * W[k][:]
 *            over k, one broadcast per row and k, W's row loaded once per k;
 *   weight gradient: KB rows of dW accumulate x[b][k] * d[b][:] over the
 *            batch b, d's row loaded once per b.
 * Each element of C is one dot product summed in k (or b) order, so the
 * result does not depend on the block sizes.  Only where AVX2 and FMA are
 * present (checked at run time; the build is portable) and for N a multiple
 * of 8 up to 32, alpha = 1 and the betas the MLP uses.
 */
static atomic_bool narrow_off;

void hpt_blas_set_narrow(bool on)
{
    atomic_store(&narrow_off, !on);
}

#ifdef HPT_NARROW_X86
#define NARROW_TARGET __attribute__((target("avx2,fma")))

/* The kernels are written once as macros and stamped out per block shape,
 * so that every loop bound is a constant and the block of C lives in
 * registers (with the sizes as parameters, GCC keeps it on the stack and
 * runs 3-4x slower). */

/* fwd_NR_MR: C (M, 8*NR) = A (M, K) @ B (K, 8*NR) + (beta1 ? C : 0). */
#define HPT_FWD_KERNEL(NR, MR)                                                               \
    NARROW_TARGET static void fwd_##NR##_##MR(int M, int K, const float *A, const float *B,  \
                                              bool beta1, float *C)                          \
    {                                                                                        \
        const size_t N = 8 * (size_t)(NR);                                                   \
        int i = 0;                                                                           \
        for (; i + (MR) <= M; i += (MR)) {                                                   \
            __m256 c[MR][NR];                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = beta1 ? _mm256_loadu_ps(C + (size_t)(i + r) * N + 8 * q)       \
                                    : _mm256_setzero_ps();                                   \
            for (int k = 0; k < K; k++) {                                                    \
                __m256 w[NR];                                                                \
                for (int q = 0; q < (NR); q++)                                               \
                    w[q] = _mm256_loadu_ps(B + (size_t)k * N + 8 * q);                       \
                for (int r = 0; r < (MR); r++) {                                             \
                    __m256 x = _mm256_broadcast_ss(A + (size_t)(i + r) * K + k);             \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm256_fmadd_ps(x, w[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm256_storeu_ps(C + (size_t)(i + r) * N + 8 * q, c[r][q]);              \
        }                                                                                    \
        for (; i < M; i++) { /* the last rows, one at a time */                             \
            __m256 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = beta1 ? _mm256_loadu_ps(C + (size_t)i * N + 8 * q) : _mm256_setzero_ps(); \
            for (int k = 0; k < K; k++) {                                                    \
                __m256 x = _mm256_broadcast_ss(A + (size_t)i * K + k);                       \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(B + (size_t)k * N + 8 * q), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm256_storeu_ps(C + (size_t)i * N + 8 * q, c[q]);                           \
        }                                                                                    \
    }

/* wgrad_NR_KB: C (M, 8*NR) = A^T @ B, A stored (K, M), B (K, 8*NR). */
#define HPT_WGRAD_KERNEL(NR, KB)                                                             \
    NARROW_TARGET static void wgrad_##NR##_##KB(int M, int K, const float *A, const float *B, \
                                                float *C)                                    \
    {                                                                                        \
        const size_t N = 8 * (size_t)(NR);                                                   \
        int m = 0;                                                                           \
        for (; m + (KB) <= M; m += (KB)) {                                                   \
            __m256 c[KB][NR];                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = _mm256_setzero_ps();                                           \
            for (int b = 0; b < K; b++) {                                                    \
                __m256 d[NR];                                                                \
                for (int q = 0; q < (NR); q++)                                               \
                    d[q] = _mm256_loadu_ps(B + (size_t)b * N + 8 * q);                       \
                const float *a = A + (size_t)b * M + m;                                      \
                for (int r = 0; r < (KB); r++) {                                             \
                    __m256 x = _mm256_broadcast_ss(a + r);                                   \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm256_fmadd_ps(x, d[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm256_storeu_ps(C + (size_t)(m + r) * N + 8 * q, c[r][q]);              \
        }                                                                                    \
        for (; m < M; m++) {                                                                 \
            __m256 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = _mm256_setzero_ps();                                                  \
            for (int b = 0; b < K; b++) {                                                    \
                __m256 x = _mm256_broadcast_ss(A + (size_t)b * M + m);                       \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(B + (size_t)b * N + 8 * q), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm256_storeu_ps(C + (size_t)m * N + 8 * q, c[q]);                           \
        }                                                                                    \
    }

/* Block shapes: 8-12 accumulators, within the 16 registers. */
HPT_FWD_KERNEL(1, 8)
HPT_FWD_KERNEL(2, 4)
HPT_FWD_KERNEL(3, 3)
HPT_FWD_KERNEL(4, 3)
HPT_WGRAD_KERNEL(1, 12)
HPT_WGRAD_KERNEL(2, 6)
HPT_WGRAD_KERNEL(3, 4)
HPT_WGRAD_KERNEL(4, 3)

static void fwd_narrow(int N, int M, int K, const float *A, const float *B, bool beta1,
                       float *C)
{
    switch (N) {
    case 8: fwd_1_8(M, K, A, B, beta1, C); break;
    case 16: fwd_2_4(M, K, A, B, beta1, C); break;
    case 24: fwd_3_3(M, K, A, B, beta1, C); break;
    default: fwd_4_3(M, K, A, B, beta1, C); break;
    }
}

static void wgrad_narrow(int N, int M, int K, const float *A, const float *B, float *C)
{
    switch (N) {
    case 8: wgrad_1_12(M, K, A, B, C); break;
    case 16: wgrad_2_6(M, K, A, B, C); break;
    case 24: wgrad_3_4(M, K, A, B, C); break;
    default: wgrad_4_3(M, K, A, B, C); break;
    }
}

static bool cpu_has_avx2_fma(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

int hpt_blas_narrow_kind(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         float beta)
{
#ifdef HPT_NARROW_X86
    if (atomic_load_explicit(&narrow_off, memory_order_relaxed) || alpha != 1.0f ||
        trans_b || N <= 0 || N > 32 || N % 8 != 0 || M <= 0 || K < 16 || !cpu_has_avx2_fma())
        return 0;
    if (!trans_a && (beta == 0.0f || beta == 1.0f))
        return 1;
    if (trans_a && beta == 0.0f)
        return 2;
#else
    (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)beta;
#endif
    return 0;
}

#ifdef HPT_NARROW_X86
// --- horizontally fused narrow products -----------------------------------------
/*
 * Several narrow products that share A (the members of a fused bundle all
 * see the same mini-batch x) are done as one product of width sum(N_i): the
 * 8-column vectors of every member are laid side by side and cut into tiles
 * of up to 4 vectors, each vector keeping its own B and C pointers and row
 * length, so nothing is copied or packed.  A tile runs the same register
 * blocking as the single-member kernels above, so A is streamed once per
 * tile instead of once per member, and a lone 8-column member no longer runs
 * load-bound.  Each element of C is still one FMA chain in k (or b) order
 * starting from C or 0, exactly as the single-member kernel computes it: the
 * results do not depend on which members share a call.
 */
typedef struct vcol {
    const float *b;  // the vector's first column in B
    float *c;        // the vector's first column in C
    size_t ld;       // the member's row length N (B and C alike)
} vcol_t;

/* ffwd_NR_MR: for the NR vectors v, C_v (M, 8) += A (M, K) @ B_v (K, 8). */
#define HPT_FFWD_KERNEL(NR, MR)                                                              \
    NARROW_TARGET static void ffwd_##NR##_##MR(int M, int K, const float *A, const vcol_t *v, \
                                               bool beta1)                                   \
    {                                                                                        \
        int i = 0;                                                                           \
        for (; i + (MR) <= M; i += (MR)) {                                                   \
            __m256 c[MR][NR];                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = beta1 ? _mm256_loadu_ps(v[q].c + (size_t)(i + r) * v[q].ld)    \
                                    : _mm256_setzero_ps();                                   \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int k = 0; k < K; k++) {                                                    \
                __m256 w[NR];                                                                \
                for (int q = 0; q < (NR); q++) {                                             \
                    w[q] = _mm256_loadu_ps(bp[q]);                                           \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                for (int r = 0; r < (MR); r++) {                                             \
                    __m256 x = _mm256_broadcast_ss(A + (size_t)(i + r) * K + k);             \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm256_fmadd_ps(x, w[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm256_storeu_ps(v[q].c + (size_t)(i + r) * v[q].ld, c[r][q]);           \
        }                                                                                    \
        for (; i < M; i++) {                                                                 \
            __m256 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = beta1 ? _mm256_loadu_ps(v[q].c + (size_t)i * v[q].ld)                 \
                             : _mm256_setzero_ps();                                          \
            for (int k = 0; k < K; k++) {                                                    \
                __m256 x = _mm256_broadcast_ss(A + (size_t)i * K + k);                       \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[q].b + (size_t)k * v[q].ld), \
                                           c[q]);                                            \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm256_storeu_ps(v[q].c + (size_t)i * v[q].ld, c[q]);                        \
        }                                                                                    \
    }

/* fwgrad_NR_KB: for the NR vectors v, C_v (M, 8) = A^T @ B_v, A stored (K, M). */
#define HPT_FWGRAD_KERNEL(NR, KB)                                                            \
    NARROW_TARGET static void fwgrad_##NR##_##KB(int M, int K, const float *A,               \
                                                 const vcol_t *v)                            \
    {                                                                                        \
        int m = 0;                                                                           \
        for (; m + (KB) <= M; m += (KB)) {                                                   \
            __m256 c[KB][NR];                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = _mm256_setzero_ps();                                           \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int b = 0; b < K; b++) {                                                    \
                __m256 d[NR];                                                                \
                for (int q = 0; q < (NR); q++) {                                             \
                    d[q] = _mm256_loadu_ps(bp[q]);                                           \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                const float *a = A + (size_t)b * M + m;                                      \
                for (int r = 0; r < (KB); r++) {                                             \
                    __m256 x = _mm256_broadcast_ss(a + r);                                   \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm256_fmadd_ps(x, d[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm256_storeu_ps(v[q].c + (size_t)(m + r) * v[q].ld, c[r][q]);           \
        }                                                                                    \
        for (; m < M; m++) {                                                                 \
            __m256 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = _mm256_setzero_ps();                                                  \
            for (int b = 0; b < K; b++) {                                                    \
                __m256 x = _mm256_broadcast_ss(A + (size_t)b * M + m);                       \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm256_fmadd_ps(x, _mm256_loadu_ps(v[q].b + (size_t)b * v[q].ld), \
                                           c[q]);                                            \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm256_storeu_ps(v[q].c + (size_t)m * v[q].ld, c[q]);                        \
        }                                                                                    \
    }

/* Block shapes: the accumulators plus one register per vector of B and one
 * for the broadcast stay within the 16 registers (the single-member kernels
 * read B through memory operands and can afford 12 accumulators; here each
 * vector has its own pointer and is loaded into a register). */
HPT_FFWD_KERNEL(1, 8)
HPT_FFWD_KERNEL(2, 5)
HPT_FFWD_KERNEL(3, 3)
HPT_FFWD_KERNEL(4, 2)
HPT_FWGRAD_KERNEL(1, 12)
HPT_FWGRAD_KERNEL(2, 5)
HPT_FWGRAD_KERNEL(3, 3)
HPT_FWGRAD_KERNEL(4, 2)

/* The same tiles with 512-bit vectors, where AVX-512F is present: a vector
 * covers 16 columns of one member (8, under a mask, for a member's last 8),
 * and the 32 vector registers hold twice the accumulators.  Lanes are
 * independent, so each element's FMA chain is the one above. */
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f")))

typedef struct zcol {
    const float *b;  // the vector's first column in B
    float *c;        // the vector's first column in C
    size_t ld;       // the member's row length N
    __mmask16 m;     // 0xffff, or 0x00ff for a member's last 8 columns
} zcol_t;

#define HPT_ZFWD_KERNEL(NR, MR)                                                              \
    AVX512_TARGET static void zfwd_##NR##_##MR(int M, int K, const float *A, const zcol_t *v, \
                                               bool beta1)                                   \
    {                                                                                        \
        int i = 0;                                                                           \
        for (; i + (MR) <= M; i += (MR)) {                                                   \
            __m512 c[MR][NR];                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = beta1 ? _mm512_maskz_loadu_ps(v[q].m,                          \
                                                            v[q].c + (size_t)(i + r) * v[q].ld) \
                                    : _mm512_setzero_ps();                                   \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int k = 0; k < K; k++) {                                                    \
                __m512 w[NR];                                                                \
                for (int q = 0; q < (NR); q++) {                                             \
                    w[q] = _mm512_maskz_loadu_ps(v[q].m, bp[q]);                             \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                for (int r = 0; r < (MR); r++) {                                             \
                    __m512 x = _mm512_set1_ps(A[(size_t)(i + r) * K + k]);                   \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm512_fmadd_ps(x, w[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm512_mask_storeu_ps(v[q].c + (size_t)(i + r) * v[q].ld, v[q].m, c[r][q]); \
        }                                                                                    \
        for (; i < M; i++) {                                                                 \
            __m512 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = beta1 ? _mm512_maskz_loadu_ps(v[q].m, v[q].c + (size_t)i * v[q].ld)   \
                             : _mm512_setzero_ps();                                          \
            for (int k = 0; k < K; k++) {                                                    \
                __m512 x = _mm512_set1_ps(A[(size_t)i * K + k]);                             \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm512_fmadd_ps(                                                  \
                        x, _mm512_maskz_loadu_ps(v[q].m, v[q].b + (size_t)k * v[q].ld), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm512_mask_storeu_ps(v[q].c + (size_t)i * v[q].ld, v[q].m, c[q]);           \
        }                                                                                    \
    }

#define HPT_ZWGRAD_KERNEL(NR, KB)                                                            \
    AVX512_TARGET static void zwgrad_##NR##_##KB(int M, int K, const float *A,               \
                                                 const zcol_t *v)                            \
    {                                                                                        \
        int m = 0;                                                                           \
        for (; m + (KB) <= M; m += (KB)) {                                                   \
            __m512 c[KB][NR];                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = _mm512_setzero_ps();                                           \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int b = 0; b < K; b++) {                                                    \
                __m512 d[NR];                                                                \
                for (int q = 0; q < (NR); q++) {                                             \
                    d[q] = _mm512_maskz_loadu_ps(v[q].m, bp[q]);                             \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                const float *a = A + (size_t)b * M + m;                                      \
                for (int r = 0; r < (KB); r++) {                                             \
                    __m512 x = _mm512_set1_ps(a[r]);                                         \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = _mm512_fmadd_ps(x, d[q], c[r][q]);                         \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    _mm512_mask_storeu_ps(v[q].c + (size_t)(m + r) * v[q].ld, v[q].m, c[r][q]); \
        }                                                                                    \
        for (; m < M; m++) {                                                                 \
            __m512 c[NR];                                                                    \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = _mm512_setzero_ps();                                                  \
            for (int b = 0; b < K; b++) {                                                    \
                __m512 x = _mm512_set1_ps(A[(size_t)b * M + m]);                             \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = _mm512_fmadd_ps(                                                  \
                        x, _mm512_maskz_loadu_ps(v[q].m, v[q].b + (size_t)b * v[q].ld), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                _mm512_mask_storeu_ps(v[q].c + (size_t)m * v[q].ld, v[q].m, c[q]);           \
        }                                                                                    \
    }

HPT_ZFWD_KERNEL(1, 12)
HPT_ZFWD_KERNEL(2, 8)
HPT_ZFWD_KERNEL(3, 6)
HPT_ZFWD_KERNEL(4, 5)
HPT_ZWGRAD_KERNEL(1, 12)
HPT_ZWGRAD_KERNEL(2, 8)
HPT_ZWGRAD_KERNEL(3, 6)
HPT_ZWGRAD_KERNEL(4, 5)

static atomic_bool avx512_off;

void hpt_blas_set_avx512(bool on)
{
    atomic_store(&avx512_off, !on);
}

static bool use_avx512(void)
{
    return !atomic_load_explicit(&avx512_off, memory_order_relaxed) &&
           __builtin_cpu_supports("avx512f");
}

static int lay_zvectors(const hpt_blas_member_t *mem, int n, zcol_t *v)
{
    int nv = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < mem[i].N; j += 16)
            v[nv++] = (zcol_t){.b = mem[i].B + j, .c = mem[i].C + j, .ld = (size_t)mem[i].N,
                               .m = mem[i].N - j >= 16 ? 0xffff : 0x00ff};
    return nv;
}

static void zfused_fwd(int M, int K, const float *A, const hpt_blas_member_t *mem, int n,
                       bool beta1)
{
    zcol_t v[HPT_BLAS_FUSED_MAX * 2];
    int nv = lay_zvectors(mem, n, v);
    for (int t = 0; t < nv;) {
        int w = nv - t < 4 ? nv - t : 4;
        switch (w) {
        case 1: zfwd_1_12(M, K, A, v + t, beta1); break;
        case 2: zfwd_2_8(M, K, A, v + t, beta1); break;
        case 3: zfwd_3_6(M, K, A, v + t, beta1); break;
        default: zfwd_4_5(M, K, A, v + t, beta1); break;
        }
        t += w;
    }
}

static void zfused_wgrad(int M, int K, const float *A, const hpt_blas_member_t *mem, int n)
{
    zcol_t v[HPT_BLAS_FUSED_MAX * 2];
    int nv = lay_zvectors(mem, n, v);
    for (int t = 0; t < nv;) {
        int w = nv - t < 4 ? nv - t : 4;
        switch (w) {
        case 1: zwgrad_1_12(M, K, A, v + t); break;
        case 2: zwgrad_2_8(M, K, A, v + t); break;
        case 3: zwgrad_3_6(M, K, A, v + t); break;
        default: zwgrad_4_5(M, K, A, v + t); break;
        }
        t += w;
    }
}

/* Lay the members' 8-column vectors side by side into v (room for
 * HPT_BLAS_FUSED_MAX * 4); returns how many. */
static int lay_vectors(const hpt_blas_member_t *mem, int n, vcol_t *v)
{
    int nv = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < mem[i].N; j += 8)
            v[nv++] = (vcol_t){.b = mem[i].B + j, .c = mem[i].C + j, .ld = (size_t)mem[i].N};
    return nv;
}

/* Tiles of 4 vectors, the last one of 1-4; a remainder of 1 after at least
 * one full tile is better as 3 + 2 than 4 + 1 (a lone vector runs
 * load-bound). */
static int tile_width(int left)
{
    if (left == 5)
        return 3;
    return left < 4 ? left : 4;
}
#endif  // HPT_NARROW_X86

bool hpt_blas_fused_ok(int kind, int M, int N, int K)
{
    return kind == 1 ? hpt_blas_narrow_kind(false, false, M, N, K, 1.0f, 1.0f) == 1
                     : hpt_blas_narrow_kind(true, false, M, N, K, 1.0f, 0.0f) == 2;
}

static bool fused_members_ok(int kind, int M, int K, const hpt_blas_member_t *mem, int n)
{
    if (n < 1 || n > HPT_BLAS_FUSED_MAX)
        return false;
    for (int i = 0; i < n; i++)
        if (!mem[i].B || !mem[i].C || !hpt_blas_fused_ok(kind, M, mem[i].N, K))
            return false;
    return true;
}

int hpt_blas_fused_fwd(int M, int K, const float *A, const hpt_blas_member_t *mem, int n,
                       bool beta1)
{
    if (!A || !fused_members_ok(1, M, K, mem, n))
        return -EINVAL;
#ifdef HPT_NARROW_X86
    if (use_avx512()) {
        zfused_fwd(M, K, A, mem, n, beta1);
        return 0;
    }
    vcol_t v[HPT_BLAS_FUSED_MAX * 4];
    int nv = lay_vectors(mem, n, v);
    for (int t = 0; t < nv;) {
        int w = tile_width(nv - t);
        switch (w) {
        case 1: ffwd_1_8(M, K, A, v + t, beta1); break;
        case 2: ffwd_2_5(M, K, A, v + t, beta1); break;
        case 3: ffwd_3_3(M, K, A, v + t, beta1); break;
        default: ffwd_4_2(M, K, A, v + t, beta1); break;
        }
        t += w;
    }
#endif
    return 0;
}

int hpt_blas_fused_wgrad(int M, int K, const float *A, const hpt_blas_member_t *mem, int n)
{
    if (!A || !fused_members_ok(2, M, K, mem, n))
        return -EINVAL;
#ifdef HPT_NARROW_X86
    if (use_avx512()) {
        zfused_wgrad(M, K, A, mem, n);
        return 0;
    }
    vcol_t v[HPT_BLAS_FUSED_MAX * 4];
    int nv = lay_vectors(mem, n, v);
    for (int t = 0; t < nv;) {
        int w = tile_width(nv - t);
        switch (w) {
        case 1: fwgrad_1_12(M, K, A, v + t); break;
        case 2: fwgrad_2_5(M, K, A, v + t); break;
        case 3: fwgrad_3_3(M, K, A, v + t); break;
        default: fwgrad_4_2(M, K, A, v + t); break;
        }
        t += w;
    }
#endif
    return 0;
}

void hpt_blas_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                    const float *A, const float *B, float beta, float *C)
{
    switch (hpt_blas_narrow_kind(trans_a, trans_b, M, N, K, alpha, beta)) {
#ifdef HPT_NARROW_X86
    case 1: fwd_narrow(N, M, K, A, B, beta == 1.0f, C); return;
    case 2: wgrad_narrow(N, M, K, A, B, C); return;
#endif
    default: break;
    }
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
