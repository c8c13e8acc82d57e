/* blas.c: hpt_blas_sgemm over OpenBLAS' row-major cblas_sgemm, with two
 * kernels of our own for the MLP's narrow products (below). */
#include "blas.h"

#include <cblas.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

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
 * Several narrow products that share A (the members of a fused group all
 * see the same mini-batch x) are done as one product of width sum(N_i): the
 * members' column vectors are laid side by side and cut into tiles of up to
 * 4 vectors, each vector keeping its own B and C pointers and row length, so
 * nothing is copied or packed, and A is streamed once per tile instead of
 * once per member.  With 256-bit vectors that gains nothing (the lone
 * kernels above already run near the sgemm peak, and a tile with a pointer
 * per vector fits fewer accumulators in 16 registers); what the fused width
 * buys is 512-bit vectors where AVX-512F is present: a vector covers 16
 * columns of one member (a member's last 8 under a mask) and 32 registers
 * hold 20-24 accumulators, which a lone 8- or 16-column member cannot fill
 * (bench/README.md, "Horizontal fusion").
 * Each element of C is still one FMA chain in k (or b) order starting from C
 * or 0, exactly as the single-member kernel computes it (lanes are
 * independent, and an FMA rounds once at any width): the results do not
 * depend on the vector width or on which members share a call.
 */
typedef struct vcol {
    const float *b;  // the vector's first column in B
    float *c;        // the vector's first column in C
    size_t ld;       // the member's row length N (B and C alike)
    uint16_t m;      // 512-bit vectors: the lanes in use (0xffff, or 0x00ff for a last 8)
} vcol_t;

/* The kernels are stamped out per vector width from one macro pair; each
 * width names its type and five operations. */
#define V8_T __m256
#define V8_LOAD(v, p) _mm256_loadu_ps(p)
#define V8_STORE(v, p, x) _mm256_storeu_ps(p, x)
#define V8_BCAST(p) _mm256_broadcast_ss(p)
#define V8_ZERO() _mm256_setzero_ps()
#define V8_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V16_T __m512
#define V16_LOAD(v, p) _mm512_maskz_loadu_ps((__mmask16)(v).m, p)
#define V16_STORE(v, p, x) _mm512_mask_storeu_ps(p, (__mmask16)(v).m, x)
#define V16_BCAST(p) _mm512_set1_ps(*(p))
#define V16_ZERO() _mm512_setzero_ps()
#define V16_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define AVX512_TARGET __attribute__((target("avx2,fma,avx512f")))

/* ffwd<W>_NR_MR: for the NR vectors v, C_v (M, W) += A (M, K) @ B_v (K, W). */
#define HPT_FFWD_KERNEL(W, TARGET, NR, MR)                                                   \
    TARGET static void ffwd##W##_##NR##_##MR(int M, int K, const float *A, const vcol_t *v,  \
                                             bool beta1)                                     \
    {                                                                                        \
        int i = 0;                                                                           \
        for (; i + (MR) <= M; i += (MR)) {                                                   \
            V##W##_T c[MR][NR];                                                              \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = beta1 ? V##W##_LOAD(v[q], v[q].c + (size_t)(i + r) * v[q].ld)  \
                                    : V##W##_ZERO();                                         \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int k = 0; k < K; k++) {                                                    \
                V##W##_T w[NR];                                                              \
                for (int q = 0; q < (NR); q++) {                                             \
                    w[q] = V##W##_LOAD(v[q], bp[q]);                                         \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                for (int r = 0; r < (MR); r++) {                                             \
                    V##W##_T x = V##W##_BCAST(A + (size_t)(i + r) * K + k);                  \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = V##W##_FMA(x, w[q], c[r][q]);                              \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (MR); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    V##W##_STORE(v[q], v[q].c + (size_t)(i + r) * v[q].ld, c[r][q]);         \
        }                                                                                    \
        for (; i < M; i++) { /* the last rows, one at a time */                             \
            V##W##_T c[NR];                                                                  \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = beta1 ? V##W##_LOAD(v[q], v[q].c + (size_t)i * v[q].ld) : V##W##_ZERO(); \
            for (int k = 0; k < K; k++) {                                                    \
                V##W##_T x = V##W##_BCAST(A + (size_t)i * K + k);                            \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = V##W##_FMA(x, V##W##_LOAD(v[q], v[q].b + (size_t)k * v[q].ld), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                V##W##_STORE(v[q], v[q].c + (size_t)i * v[q].ld, c[q]);                      \
        }                                                                                    \
    }

/* fwgrad<W>_NR_KB: for the NR vectors v, C_v (M, W) = A^T @ B_v, A stored (K, M). */
#define HPT_FWGRAD_KERNEL(W, TARGET, NR, KB)                                                 \
    TARGET static void fwgrad##W##_##NR##_##KB(int M, int K, const float *A, const vcol_t *v) \
    {                                                                                        \
        int m = 0;                                                                           \
        for (; m + (KB) <= M; m += (KB)) {                                                   \
            V##W##_T c[KB][NR];                                                              \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    c[r][q] = V##W##_ZERO();                                                 \
            const float *bp[NR];                                                             \
            for (int q = 0; q < (NR); q++)                                                   \
                bp[q] = v[q].b;                                                              \
            for (int b = 0; b < K; b++) {                                                    \
                V##W##_T d[NR];                                                              \
                for (int q = 0; q < (NR); q++) {                                             \
                    d[q] = V##W##_LOAD(v[q], bp[q]);                                         \
                    bp[q] += v[q].ld;                                                        \
                }                                                                            \
                const float *a = A + (size_t)b * M + m;                                      \
                for (int r = 0; r < (KB); r++) {                                             \
                    V##W##_T x = V##W##_BCAST(a + r);                                        \
                    for (int q = 0; q < (NR); q++)                                           \
                        c[r][q] = V##W##_FMA(x, d[q], c[r][q]);                              \
                }                                                                            \
            }                                                                                \
            for (int r = 0; r < (KB); r++)                                                   \
                for (int q = 0; q < (NR); q++)                                               \
                    V##W##_STORE(v[q], v[q].c + (size_t)(m + r) * v[q].ld, c[r][q]);         \
        }                                                                                    \
        for (; m < M; m++) {                                                                 \
            V##W##_T c[NR];                                                                  \
            for (int q = 0; q < (NR); q++)                                                   \
                c[q] = V##W##_ZERO();                                                        \
            for (int b = 0; b < K; b++) {                                                    \
                V##W##_T x = V##W##_BCAST(A + (size_t)b * M + m);                            \
                for (int q = 0; q < (NR); q++)                                               \
                    c[q] = V##W##_FMA(x, V##W##_LOAD(v[q], v[q].b + (size_t)b * v[q].ld), c[q]); \
            }                                                                                \
            for (int q = 0; q < (NR); q++)                                                   \
                V##W##_STORE(v[q], v[q].c + (size_t)m * v[q].ld, c[q]);                      \
        }                                                                                    \
    }

/* Block shapes: the accumulators plus one register per vector of B and one
 * for the broadcast stay within the 16 (256-bit) or 32 (512-bit) registers
 * (the lone kernels above read B through memory operands and can afford 12
 * accumulators in 16; here each vector has its own pointer and is loaded
 * into a register). */
HPT_FFWD_KERNEL(8, NARROW_TARGET, 1, 8)
HPT_FFWD_KERNEL(8, NARROW_TARGET, 2, 5)
HPT_FFWD_KERNEL(8, NARROW_TARGET, 3, 3)
HPT_FFWD_KERNEL(8, NARROW_TARGET, 4, 2)
HPT_FWGRAD_KERNEL(8, NARROW_TARGET, 1, 12)
HPT_FWGRAD_KERNEL(8, NARROW_TARGET, 2, 5)
HPT_FWGRAD_KERNEL(8, NARROW_TARGET, 3, 3)
HPT_FWGRAD_KERNEL(8, NARROW_TARGET, 4, 2)
HPT_FFWD_KERNEL(16, AVX512_TARGET, 1, 12)
HPT_FFWD_KERNEL(16, AVX512_TARGET, 2, 8)
HPT_FFWD_KERNEL(16, AVX512_TARGET, 3, 6)
HPT_FFWD_KERNEL(16, AVX512_TARGET, 4, 5)
HPT_FWGRAD_KERNEL(16, AVX512_TARGET, 1, 12)
HPT_FWGRAD_KERNEL(16, AVX512_TARGET, 2, 8)
HPT_FWGRAD_KERNEL(16, AVX512_TARGET, 3, 6)
HPT_FWGRAD_KERNEL(16, AVX512_TARGET, 4, 5)

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

/* Lay the members' vectors of `width` columns (8 or 16) side by side into v
 * (room for HPT_BLAS_FUSED_MAX * 4); returns how many. */
static int lay_vectors(const hpt_blas_member_t *mem, int n, int width, vcol_t *v)
{
    int nv = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < mem[i].N; j += width)
            v[nv++] = (vcol_t){.b = mem[i].B + j, .c = mem[i].C + j, .ld = (size_t)mem[i].N,
                               .m = mem[i].N - j >= 16 ? 0xffff : 0x00ff};
    return nv;
}

/* Tiles of 4 vectors, the last one of 1-4; with 256-bit vectors a remainder
 * of 1 after a full tile is better as 3 + 2 than 4 + 1 (a lone vector runs
 * load-bound). */
static int tile_width(int left, bool wide)
{
    if (left == 5 && !wide)
        return 3;
    return left < 4 ? left : 4;
}

/* One fused product: kind 1 forward (beta1 as hpt_blas_fused_fwd), 2 the
 * weight gradient. */
static void fused_run(int kind, int M, int K, const float *A, const hpt_blas_member_t *mem,
                      int n, bool beta1)
{
    const bool wide = use_avx512();
    vcol_t v[HPT_BLAS_FUSED_MAX * 4];
    int nv = lay_vectors(mem, n, wide ? 16 : 8, v);
    for (int t = 0; t < nv;) {
        int w = tile_width(nv - t, wide);
        switch ((kind == 1 ? 0 : 8) + (wide ? 4 : 0) + w - 1) {
        case 0: ffwd8_1_8(M, K, A, v + t, beta1); break;
        case 1: ffwd8_2_5(M, K, A, v + t, beta1); break;
        case 2: ffwd8_3_3(M, K, A, v + t, beta1); break;
        case 3: ffwd8_4_2(M, K, A, v + t, beta1); break;
        case 4: ffwd16_1_12(M, K, A, v + t, beta1); break;
        case 5: ffwd16_2_8(M, K, A, v + t, beta1); break;
        case 6: ffwd16_3_6(M, K, A, v + t, beta1); break;
        case 7: ffwd16_4_5(M, K, A, v + t, beta1); break;
        case 8: fwgrad8_1_12(M, K, A, v + t); break;
        case 9: fwgrad8_2_5(M, K, A, v + t); break;
        case 10: fwgrad8_3_3(M, K, A, v + t); break;
        case 11: fwgrad8_4_2(M, K, A, v + t); break;
        case 12: fwgrad16_1_12(M, K, A, v + t); break;
        case 13: fwgrad16_2_8(M, K, A, v + t); break;
        case 14: fwgrad16_3_6(M, K, A, v + t); break;
        default: fwgrad16_4_5(M, K, A, v + t); break;
        }
        t += w;
    }
}
#else
void hpt_blas_set_avx512(bool on)
{
    (void)on;
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
    fused_run(1, M, K, A, mem, n, beta1);  // fused_members_ok: only where the kernels exist
#endif
    return 0;
}

int hpt_blas_fused_wgrad(int M, int K, const float *A, const hpt_blas_member_t *mem, int n)
{
    if (!A || !fused_members_ok(2, M, K, mem, n))
        return -EINVAL;
#ifdef HPT_NARROW_X86
    fused_run(2, M, K, A, mem, n, false);
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
