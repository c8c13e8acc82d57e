/*
 * fuse_bench.c: does horizontal fusion (HFTA) of trials that share a
 * mini-batch stream pay for hptune's MLP?  Measures, single-threaded, one
 * epoch over a dataset's training images for a set of models that differ
 * only in their hidden units (default 8, 16, 32: the published grid's mix)
 * at each batch size (default 32, 64, 512), adam lr 0.001, relu,
 * glorot_uniform, three ways:
 *
 *   separate  today's code: each model trained alone by hpt_train_continue,
 *             one after the other (its fit_seconds summed over the models);
 *   shared    one shuffle and one batch gather per step for all models, each
 *             model's products done alone (hpt_mlp_forward / backward);
 *   fused     the same, with the first layer's forward and weight-gradient
 *             products of all models done as one wider product
 *             (hpt_mlp_forward_group / backward_group), with 512-bit
 *             vectors where the CPU has AVX-512F;
 *   fused256  the same held to 256-bit vectors (hpt_blas_set_avx512(false)),
 *             to show what the wider vectors bring.
 *
 * shared, fused and fused256 must end with bit-for-bit the same weights
 * (checked and printed: a mismatch exits 1).  Times are CPU seconds of the
 * process (single-threaded).  Reported: the median over --repeat
 * measurements of each way's time, and the ratios separate/fused and
 * shared/fused.  Before that, the first-layer products alone: GFLOP/s of
 * the members' forward and weight-gradient products one by one
 * (hpt_blas_sgemm, today's narrow kernels) and fused, on random data.
 *
 * Output: human-readable lines plus
 *   RESULT kind=kernel batch=B units=... fwd_sep_gflops=... fwd_fused_gflops=...
 *          wgrad_sep_gflops=... wgrad_fused_gflops=...
 *   RESULT kind=fuse batch=B units=8,16,32 separate_s=... shared_s=... fused_s=...
 *          fused256_s=... ratio=... ratio_shared=... identical=1
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "dataset.h"
#include "err.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"
#include "train.h"

#define MAX_CASES 8
#define MAX_MODELS 8

typedef struct bench_opts {
    const char *data_dir;
    const char *dataset;
    int batches[MAX_CASES];
    int n_batches;
    int units[MAX_MODELS];
    int n_units;
    int repeat;
    int epochs;
} bench_opts_t;

/* CPU time of this (single-threaded) process: the 2-core machine is often
 * shared, and CPU time is what another process's load disturbs least. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    char *end;
    while (*s && n < max) {
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 65536)
            return -EINVAL;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -EINVAL;
    }
    return n > 0 && !*s ? n : -EINVAL;
}

static hpt_hparams_t model_hp(int units, int batch, uint64_t seed)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.units[0] = units;
    hp.activation = HPT_ACT_RELU;
    hp.init_mode = HPT_INIT_GLOROT_UNIFORM;
    hp.optimizer = HPT_OPT_ADAM;
    hp.learning_rate = 0.001;
    hp.batch_size = batch;
    hp.epochs = 1;
    hp.seed = seed;
    return hp;
}

/* Today's code: each model alone through a training session; returns the
 * summed CPU seconds of the hpt_train_continue calls. */
static double run_separate(const hpt_dataset_t *ds, const bench_opts_t *o, int batch)
{
    hpt_view_t train = {.images = ds->train.images, .labels = ds->train.labels,
                        .n = ds->train.n};
    hpt_train_opts_t topts = {.threads = 1, .score_each_epoch = false};
    double total = 0.0;
    for (int i = 0; i < o->n_units; i++) {
        hpt_hparams_t hp = model_hp(o->units[i], batch, 7);
        hpt_train_session_t *s = NULL;
        hpt_err err = {0};
        hpt_train_result_t res;
        if (hpt_train_begin(&s, &hp, ds->n_features, ds->n_classes, &train, NULL, &err) < 0) {
            fprintf(stderr, "fuse_bench: %s\n", err.msg);
            exit(1);
        }
        double t0 = now_s();
        if (hpt_train_continue(s, o->epochs, &topts, NULL, NULL, &res, &err) < 0) {
            fprintf(stderr, "fuse_bench: %s\n", err.msg);
            exit(1);
        }
        total += now_s() - t0;
        hpt_train_end(&s);
    }
    return total;
}

/* One shuffle and one gather per step for all models; their products fused
 * or not.  Returns the seconds; the models are left trained (for the
 * bit-for-bit check). */
static double run_group(const hpt_dataset_t *ds, const bench_opts_t *o, int batch, bool fuse,
                        bool wide, hpt_mlp_t **ms, float *x, uint8_t *y, uint32_t *perm)
{
    hpt_blas_set_avx512(wide);
    const int n = o->n_units;
    hpt_rng_t rng[MAX_MODELS], *rp[MAX_MODELS], shuf;
    for (int i = 0; i < n; i++) {
        hpt_hparams_t hp = model_hp(o->units[i], batch, 7);
        hpt_err err = {0};
        hpt_rng_seed(&rng[i], hp.seed);
        rp[i] = &rng[i];
        if (hpt_mlp_new(&ms[i], &hp, (int)ds->n_features, (int)ds->n_classes, batch, &rng[i],
                        &err) < 0) {
            fprintf(stderr, "fuse_bench: %s\n", err.msg);
            exit(1);
        }
    }
    hpt_rng_seed(&shuf, 11);
    const uint32_t N = ds->train.n;
    const hpt_view_t view = {.images = ds->train.images, .labels = ds->train.labels, .n = N};
    for (uint32_t i = 0; i < N; i++)
        perm[i] = i;
    double t0 = now_s();
    for (int e = 0; e < o->epochs; e++) {
        hpt_rng_shuffle_u32(&shuf, perm, N);
        for (uint32_t start = 0; start < N; start += (uint32_t)batch) {
            int b = (int)(N - start < (uint32_t)batch ? N - start : (uint32_t)batch);
            hpt_view_gather(&view, perm + start, b, ds->n_features, x, y);
            if (fuse) {
                hpt_mlp_forward_group(ms, n, x, b, HPT_MLP_TRAIN, rp);
                hpt_mlp_backward_group(ms, n, y, NULL);
            } else {
                for (int i = 0; i < n; i++) {
                    hpt_mlp_forward(ms[i], x, b, HPT_MLP_TRAIN, rp[i]);
                    hpt_mlp_backward(ms[i], y);
                }
            }
            for (int i = 0; i < n; i++)
                hpt_mlp_step(ms[i]);
        }
    }
    double t = now_s() - t0;
    hpt_blas_set_avx512(true);
    return t;
}

/* GFLOP/s of the first layer's two products at this batch: the members one
 * by one through hpt_blas_sgemm, and fused.  Random data; the outputs are
 * compared bit for bit (returns false on a mismatch). */
static bool kernel_rates(const bench_opts_t *o, int batch, int K, double *fs, double *ff,
                         double *ws, double *wf)
{
    const int n = o->n_units;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 3);
    float *A = malloc(sizeof *A * (size_t)batch * K);
    float *B[MAX_MODELS], *C[MAX_MODELS], *C2[MAX_MODELS], *D[MAX_MODELS], *G[MAX_MODELS],
        *G2[MAX_MODELS];
    hpt_blas_member_t fm[MAX_MODELS], wm[MAX_MODELS];
    double cols = 0;
    for (int i = 0; i < batch * K; i++)
        A[i] = hpt_rng_uniform_f(&rng);
    for (int j = 0; j < n; j++) {
        size_t N = (size_t)o->units[j];
        cols += (double)N;
        B[j] = malloc(sizeof(float) * K * N), G[j] = malloc(sizeof(float) * K * N);
        G2[j] = malloc(sizeof(float) * K * N), D[j] = malloc(sizeof(float) * batch * N);
        C[j] = calloc((size_t)batch * N, sizeof(float));
        C2[j] = calloc((size_t)batch * N, sizeof(float));
        for (size_t i = 0; i < K * N; i++)
            B[j][i] = hpt_rng_uniform_f(&rng) - 0.5f;
        for (size_t i = 0; i < batch * N; i++)
            D[j][i] = hpt_rng_uniform_f(&rng) - 0.5f;
        fm[j] = (hpt_blas_member_t){.B = B[j], .C = C2[j], .N = (int)N};
        wm[j] = (hpt_blas_member_t){.B = D[j], .C = G2[j], .N = (int)N};
    }
    const int reps = (int)(2e8 / (2.0 * batch * K * cols)) + 1;
    const double gf = 2.0 * batch * K * cols * reps / 1e9;
    double t0 = now_s();
    for (int r = 0; r < reps; r++)
        for (int j = 0; j < n; j++)
            hpt_blas_sgemm(false, false, batch, o->units[j], K, 1.0f, A, B[j], 0.0f, C[j]);
    double t1 = now_s();
    bool ok = true;
    for (int r = 0; r < reps; r++)
        ok = ok && hpt_blas_fused_fwd(batch, K, A, fm, n, false) == 0;
    double t2 = now_s();
    for (int r = 0; r < reps; r++)
        for (int j = 0; j < n; j++)
            hpt_blas_sgemm(true, false, K, o->units[j], batch, 1.0f, A, D[j], 0.0f, G[j]);
    double t3 = now_s();
    for (int r = 0; r < reps; r++)
        ok = ok && hpt_blas_fused_wgrad(K, batch, A, wm, n) == 0;
    double t4 = now_s();
    *fs = gf / (t1 - t0), *ff = gf / (t2 - t1), *ws = gf / (t3 - t2), *wf = gf / (t4 - t3);
    for (int j = 0; j < n; j++) {
        size_t N = (size_t)o->units[j];
        ok = ok && !memcmp(C[j], C2[j], sizeof(float) * batch * N) &&
             !memcmp(G[j], G2[j], sizeof(float) * K * N);
        free(B[j]), free(C[j]), free(C2[j]), free(D[j]), free(G[j]), free(G2[j]);
    }
    free(A);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fuse_bench [--data-dir DIR] [--dataset NAME] [--batches 32,64,512]\n"
            "                  [--units 8,16,32] [--repeat N] [--epochs N]\n"
            "Times one epoch (or --epochs) of models that differ in their hidden units,\n"
            "trained separately (today's code), with a shared batch stream, and with the\n"
            "first layer's products fused; defaults: data, mnist, 32,64,512, 8,16,32, 3, 1.\n");
}

int main(int argc, char **argv)
{
    bench_opts_t o = {.data_dir = "data", .dataset = "mnist", .batches = {32, 64, 512},
                      .n_batches = 3, .units = {8, 16, 32}, .n_units = 3, .repeat = 3,
                      .epochs = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data-dir") && v) {
            o.data_dir = v, i++;
        } else if (!strcmp(a, "--dataset") && v) {
            o.dataset = v, i++;
        } else if (!strcmp(a, "--batches") && v) {
            rc = o.n_batches = parse_list(v, o.batches, MAX_CASES), i++;
        } else if (!strcmp(a, "--units") && v) {
            rc = o.n_units = parse_list(v, o.units, MAX_MODELS), i++;
        } else if (!strcmp(a, "--repeat") && v) {
            rc = o.repeat = atoi(v), i++;
            rc = rc >= 1 && rc <= 50 ? rc : -EINVAL;
        } else if (!strcmp(a, "--epochs") && v) {
            rc = o.epochs = atoi(v), i++;
            rc = rc >= 1 && rc <= 100 ? rc : -EINVAL;
        } else {
            rc = -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "fuse_bench: bad option or value: %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    hpt_blas_set_threads(1);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    if (hpt_dataset_load(&ds, o.dataset, o.data_dir, &err) < 0) {
        fprintf(stderr, "fuse_bench: %s\n", err.msg);
        return 1;
    }
    int maxb = 0;
    for (int c = 0; c < o.n_batches; c++)
        maxb = o.batches[c] > maxb ? o.batches[c] : maxb;
    float *x = malloc(sizeof *x * (size_t)maxb * ds->n_features);
    uint8_t *y = malloc((size_t)maxb);
    uint32_t *perm = malloc(sizeof *perm * ds->train.n);
    int status = 0;
    if (!x || !y || !perm) {
        fprintf(stderr, "fuse_bench: out of memory\n");
        status = 1;
        goto done;
    }
    char ulist[128] = "";
    for (int i = 0; i < o.n_units; i++)
        snprintf(ulist + strlen(ulist), sizeof ulist - strlen(ulist), "%s%d", i ? "," : "",
                 o.units[i]);
    printf("horizontal fusion: %s, %u training images, %d-unit models [%s], adam, relu, "
           "%d epoch(s), median of %d\n",
           ds->name, ds->train.n, o.n_units, ulist, o.epochs, o.repeat);
    printf("first-layer products alone (%u x units, random data), GFLOP/s:\n"
           "batch   fwd one by one   fwd fused   wgrad one by one   wgrad fused   identical\n",
           ds->n_features);
    for (int c = 0; c < o.n_batches; c++) {
        double fs, ff, ws, wf;
        bool same = kernel_rates(&o, o.batches[c], (int)ds->n_features, &fs, &ff, &ws, &wf);
        printf("%5d   %14.1f %11.1f %18.1f %13.1f   %s\n", o.batches[c], fs, ff, ws, wf,
               same ? "yes" : "NO");
        printf("RESULT kind=kernel batch=%d units=%s fwd_sep_gflops=%.1f fwd_fused_gflops=%.1f "
               "wgrad_sep_gflops=%.1f wgrad_fused_gflops=%.1f identical=%d\n",
               o.batches[c], ulist, fs, ff, ws, wf, same);
        if (!same)
            status = 1;
    }
    printf("one epoch of all models, CPU seconds:\n"
           "batch   separate   shared    fused  fused256   sep/fused  shared/fused  identical\n");
    for (int c = 0; c < o.n_batches; c++) {
        int batch = o.batches[c];
        double sep[50], sh[50], fu[50], f2[50];
        bool identical = true;
        for (int r = 0; r < o.repeat; r++) {
            hpt_mlp_t *a[MAX_MODELS] = {0}, *b[MAX_MODELS] = {0}, *c2[MAX_MODELS] = {0};
            sep[r] = run_separate(ds, &o, batch);
            sh[r] = run_group(ds, &o, batch, false, true, a, x, y, perm);
            fu[r] = run_group(ds, &o, batch, true, true, b, x, y, perm);
            f2[r] = run_group(ds, &o, batch, true, false, c2, x, y, perm);
            for (int i = 0; i < o.n_units; i++) {
                size_t na, nb, nc;
                float *pa = hpt_mlp_params(a[i], &na), *pb = hpt_mlp_params(b[i], &nb);
                float *pc = hpt_mlp_params(c2[i], &nc);
                identical = identical && na == nb && na == nc &&
                            !memcmp(pa, pb, na * sizeof *pa) && !memcmp(pa, pc, na * sizeof *pa);
                hpt_mlp_destroy(&a[i]);
                hpt_mlp_destroy(&b[i]);
                hpt_mlp_destroy(&c2[i]);
            }
        }
        double ms = median(sep, o.repeat), mh = median(sh, o.repeat), mf = median(fu, o.repeat);
        double m2 = median(f2, o.repeat);
        printf("%5d   %8.3f %8.3f %8.3f %9.3f   %8.2fx  %11.2fx  %s\n", batch, ms, mh, mf, m2,
               ms / mf, mh / mf, identical ? "yes" : "NO");
        printf("RESULT kind=fuse batch=%d units=%s epochs=%d separate_s=%.4f shared_s=%.4f "
               "fused_s=%.4f fused256_s=%.4f ratio=%.3f ratio_shared=%.3f identical=%d\n",
               batch, ulist, o.epochs, ms, mh, mf, m2, ms / mf, mh / mf, identical);
        if (!identical)
            status = 1;
        fflush(stdout);
    }
done:
    free(perm);
    free(y);
    free(x);
    hpt_dataset_destroy(&ds);
    return status;
}
