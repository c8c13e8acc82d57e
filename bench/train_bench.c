/*
 * train_bench.c: single-thread training throughput of hptune's MLP.
 *
 * Measures, in one process with OpenBLAS held to one thread:
 *   1. the single-thread cblas_sgemm peak (best GFLOP/s of single calls over
 *      512^3, 1024^3 and 2048x2048x512, through hpt_blas_sgemm), and what the five sgemm
 *      calls of one 784-32-10 training step reach on their own at each batch
 *      size (a "gemm-only" bound: no activations, softmax, optimizer or batch
 *      gathering);
 *   2. samples/s of hpt_train_run for the 784-32-10 relu MLP (glorot_uniform,
 *      softmax 10) on fashion-mnist's 60,000 training images, for each
 *      optimizer (sgd lr 0.01, adam lr 0.001) and batch size, median of
 *      --repeat runs, each run long enough to last --min-seconds;
 *   3. test accuracy after 5 epochs of adam lr 0.001 batch 32 on the 10,000
 *      test images, for --acc-seeds seeds.
 *
 * Human-readable lines go to stdout; with them come machine-readable lines
 * that bench/train.sh collects:
 *   RESULT impl=hptune kind=sgemm_peak gflops=... shape=MxNxK
 *   RESULT impl=hptune kind=flops per_sample=...
 *   RESULT impl=hptune kind=gemm_bound batch=B samples_per_s=...
 *   RESULT impl=hptune kind=throughput opt=sgd batch=32 samples_per_s=... epochs=... repeats=...
 *   RESULT impl=hptune kind=accuracy opt=adam batch=32 epochs=5 seed=1 test_acc=...
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>  // openblas_get_config / openblas_get_corename, for the header line only

#include "blas.h"
#include "dataset.h"
#include "err.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"
#include "train.h"

#define MAX_CASES 16

/* 784-32-10 counted by hand: forward 2*(784*32 + 32*10), weight gradients the
 * same again, and the hidden layer's input gradient 2*32*10 (the input layer
 * needs none).  Cross-checked against hpt_mlp_flops_per_sample. */
#define FLOPS_784_32_10 (2.0 * (784 * 32 + 32 * 10) * 2.0 + 2.0 * 32 * 10)

typedef struct bench_opts {
    const char *data_dir;     // parent of fashion-mnist/ (borrowed from argv)
    const char *dataset;      // dataset name for hpt_dataset_load
    int epochs;               // fixed epochs per measurement; 0 = sized by min_seconds
    int repeat;               // measurements per case; the median is reported
    double min_seconds;       // a measurement's target length when epochs == 0
    int batches[MAX_CASES];   // batch sizes to measure
    int n_batches;
    hpt_opt_t opts[MAX_CASES];  // optimizers to measure
    int n_opts;
    int acc_epochs;           // epochs of the accuracy run
    int acc_seeds;            // accuracy runs (seeds 1..acc_seeds)
    double sgemm_seconds;     // time spent per sgemm shape
    bool do_sgemm, do_throughput, do_accuracy;
    bool machine;             // RESULT lines only
} bench_opts_t;

static const bench_opts_t BENCH_OPTS_DEFAULT = {
    .data_dir = "data",
    .dataset = "fashion-mnist",
    .epochs = 0,
    .repeat = 3,
    .min_seconds = 2.0,
    .batches = {32, 64, 512},
    .n_batches = 3,
    .opts = {HPT_OPT_SGD, HPT_OPT_ADAM},
    .n_opts = 2,
    .acc_epochs = 5,
    .acc_seeds = 3,
    .sgemm_seconds = 0.5,
    .do_sgemm = true,
    .do_throughput = true,
    .do_accuracy = true,
    .machine = false,
};

static bench_opts_t g_opts;  // set once in main, read-only after

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A human-readable line (suppressed by --machine). */
static void say(const char *fmt, ...)
{
    if (g_opts.machine)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return (n % 2) ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill_random(float *p, size_t n, hpt_rng_t *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = hpt_rng_uniform_f(rng) - 0.5f;
}

/* ---- sgemm ------------------------------------------------------------ */

/* Best GFLOP/s of C(M,N) = A(M,K) @ B(K,N) over calls spanning `seconds`. */
static double sgemm_gflops(int M, int N, int K, bool ta, bool tb, const float *A, const float *B,
                           float *C, double seconds)
{
    double flops = 2.0 * M * N * K, best = 0.0;
    hpt_blas_sgemm(ta, tb, M, N, K, 1.0f, A, B, 0.0f, C);  // warm-up (packing buffers, caches)
    double t_end = now_seconds() + seconds;
    int calls = 0;
    do {
        double t0 = now_seconds();
        hpt_blas_sgemm(ta, tb, M, N, K, 1.0f, A, B, 0.0f, C);
        double dt = now_seconds() - t0;
        if (dt > 0 && flops / dt > best)
            best = flops / dt;
        calls++;
    } while (now_seconds() < t_end || calls < 3);
    return best * 1e-9;
}

/* Peak over a few large shapes.  Returns GFLOP/s, or -ENOMEM. */
static int sgemm_peak(double *peak_out)
{
    static const int shapes[][3] = {{512, 512, 512}, {1024, 1024, 1024}, {2048, 2048, 512}};
    const size_t max_elems = 1024u * 1024u;  // the largest M*K and K*N
    float *A = malloc(max_elems * sizeof *A);
    float *B = malloc(max_elems * sizeof *B);
    float *C = malloc(2048u * 2048u * sizeof *C);
    hpt_rng_t rng;
    int rc = 0, best_i = 0;
    double best = 0.0;

    if (!A || !B || !C) {
        rc = -ENOMEM;
        goto out;
    }
    hpt_rng_seed(&rng, 1);
    fill_random(A, max_elems, &rng);
    fill_random(B, max_elems, &rng);
    say("sgemm, 1 thread (hpt_blas_sgemm -> cblas_sgemm):\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
        double g = sgemm_gflops(M, N, K, false, false, A, B, C, g_opts.sgemm_seconds);
        say("  %4d x %4d x %4d  %7.1f GFLOP/s\n", M, N, K, g);
        if (g > best) {
            best = g;
            best_i = (int)i;
        }
    }
    say("  peak               %7.1f GFLOP/s\n", best);
    printf("RESULT impl=hptune kind=sgemm_peak gflops=%.2f shape=%dx%dx%d\n", best,
           shapes[best_i][0], shapes[best_i][1], shapes[best_i][2]);
    *peak_out = best;
out:
    free(A);
    free(B);
    free(C);
    return rc;
}

/* The five sgemm calls of one 784-32-10 training step at batch `bs`, timed
 * alone over `seconds`: an upper bound on samples/s for any engine that does
 * its matrix products through this BLAS.  Also reports the two big products'
 * GFLOP/s.  Returns 0 or -ENOMEM. */
static int gemm_bound(int bs, double seconds)
{
    const int n_in = 784, n_h = 32, n_out = 10;
    float *X = malloc((size_t)bs * n_in * sizeof *X);    // (bs, 784)
    float *W1 = malloc((size_t)n_in * n_h * sizeof *W1);  // (784, 32)
    float *W2 = malloc((size_t)n_h * n_out * sizeof *W2); // (32, 10)
    float *H = malloc((size_t)bs * n_h * sizeof *H);      // (bs, 32)
    float *Z = malloc((size_t)bs * n_out * sizeof *Z);    // (bs, 10)
    float *dH = malloc((size_t)bs * n_h * sizeof *dH);    // (bs, 32)
    float *dW1 = malloc((size_t)n_in * n_h * sizeof *dW1);
    float *dW2 = malloc((size_t)n_h * n_out * sizeof *dW2);
    hpt_rng_t rng;
    int rc = 0;

    if (!X || !W1 || !W2 || !H || !Z || !dH || !dW1 || !dW2) {
        rc = -ENOMEM;
        goto out;
    }
    hpt_rng_seed(&rng, 2);
    fill_random(X, (size_t)bs * n_in, &rng);
    fill_random(W1, (size_t)n_in * n_h, &rng);
    fill_random(W2, (size_t)n_h * n_out, &rng);
    fill_random(H, (size_t)bs * n_h, &rng);
    fill_random(Z, (size_t)bs * n_out, &rng);

    double t_fwd1 = 0, t_dw1 = 0, t_all = 0;
    long steps = 0;
    double t_end = now_seconds() + seconds;
    do {
        double t0 = now_seconds();
        hpt_blas_sgemm(false, false, bs, n_h, n_in, 1.0f, X, W1, 0.0f, H);    // H = X @ W1
        double t1 = now_seconds();
        hpt_blas_sgemm(false, false, bs, n_out, n_h, 1.0f, H, W2, 0.0f, Z);   // Z = H @ W2
        hpt_blas_sgemm(true, false, n_h, n_out, bs, 1.0f, H, Z, 0.0f, dW2);   // dW2 = H^T @ dZ
        hpt_blas_sgemm(false, true, bs, n_h, n_out, 1.0f, Z, W2, 0.0f, dH);   // dH = dZ @ W2^T
        double t2 = now_seconds();
        hpt_blas_sgemm(true, false, n_in, n_h, bs, 1.0f, X, dH, 0.0f, dW1);   // dW1 = X^T @ dZ1
        double t3 = now_seconds();
        t_fwd1 += t1 - t0;
        t_dw1 += t3 - t2;
        t_all += t3 - t0;
        steps++;
    } while (now_seconds() < t_end || steps < 10);

    double big = 2.0 * bs * n_in * n_h * steps * 1e-9;
    double sps = (double)bs * steps / t_all;
    say("  batch %4d  gemm-only %8.0f samples/s   (X@W1 %5.1f GFLOP/s, X^T@dZ1 %5.1f GFLOP/s, "
        "the small three %4.1f%% of the time)\n",
        bs, sps, big / t_fwd1, big / t_dw1, 100.0 * (t_all - t_fwd1 - t_dw1) / t_all);
    printf("RESULT impl=hptune kind=gemm_bound batch=%d samples_per_s=%.0f fwd1_gflops=%.2f "
           "dw1_gflops=%.2f\n",
           bs, sps, big / t_fwd1, big / t_dw1);
out:
    free(X);
    free(W1);
    free(W2);
    free(H);
    free(Z);
    free(dH);
    free(dW1);
    free(dW2);
    return rc;
}

/* ---- training ----------------------------------------------------------- */

static hpt_hparams_t mlp_hparams(hpt_opt_t opt, int batch, int epochs, uint64_t seed)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.units[0] = 32;
    hp.activation = HPT_ACT_RELU;
    hp.init_mode = HPT_INIT_GLOROT_UNIFORM;
    hp.optimizer = opt;
    hp.learning_rate = (opt == HPT_OPT_SGD) ? 0.01 : 0.001;
    hp.momentum = 0.0;
    hp.nesterov = false;
    hp.dropout = 0.0;
    hp.input_dropout = 0.0;
    hp.weight_constraint = 0.0;
    hp.batch_size = batch;
    hp.epochs = epochs;
    hp.seed = seed;
    hp.metric = HPT_METRIC_ACCURACY;
    return hp;
}

static int run_once(const hpt_dataset_t *ds, const hpt_hparams_t *hp, const hpt_view_t *val,
                    hpt_train_result_t *res)
{
    const hpt_train_opts_t topts = {.threads = 1, .score_each_epoch = false};
    const hpt_view_t train = {
        .images = ds->train.images, .labels = ds->train.labels, .idx = NULL, .n = ds->train.n};
    hpt_err err = {0};
    int rc = hpt_train_run(hp, &topts, ds->n_features, ds->n_classes, &train, val, NULL, NULL,
                           res, &err);
    if (rc < 0)
        fprintf(stderr, "train_bench: hpt_train_run: %s\n", err.msg[0] ? err.msg : hpt_strerror(rc));
    return rc;
}

/* FLOPs per training sample as the engine counts them. */
static double engine_flops(const hpt_dataset_t *ds)
{
    hpt_hparams_t hp = mlp_hparams(HPT_OPT_ADAM, 1, 1, 1);
    hpt_mlp_t *m = NULL;
    hpt_rng_t rng;
    hpt_err err = {0};
    double f = 0.0;

    hpt_rng_seed(&rng, 1);
    if (hpt_mlp_new(&m, &hp, (int)ds->n_features, (int)ds->n_classes, 1, &rng, &err) == 0)
        f = hpt_mlp_flops_per_sample(m);
    hpt_mlp_destroy(&m);
    return f;
}

static int bench_throughput(const hpt_dataset_t *ds, double flops, double peak)
{
    const hpt_view_t val = {
        .images = ds->test.images, .labels = ds->test.labels, .idx = NULL, .n = 0};
    double rates[64];
    int rc = 0;

    say("\nhptune training throughput, 1 thread, %s (%u training images):\n", ds->name,
        ds->train.n);
    say("  %-5s %5s %12s %8s %7s %9s\n", "opt", "batch", "samples/s", "GFLOP/s", "%peak", "epochs");
    for (int o = 0; o < g_opts.n_opts; o++) {
        for (int b = 0; b < g_opts.n_batches; b++) {
            hpt_opt_t opt = g_opts.opts[o];
            int bs = g_opts.batches[b];
            int epochs = g_opts.epochs;
            hpt_train_result_t res = {0};
            hpt_hparams_t hp;

            if (epochs <= 0) {  // a one-epoch warm-up run sizes the measurement
                hp = mlp_hparams(opt, bs, 1, 1000);
                rc = run_once(ds, &hp, &val, &res);
                if (rc < 0)
                    goto out;
                double sps1 = res.samples_per_second > 0 ? res.samples_per_second : 1e5;
                epochs = (int)ceil(g_opts.min_seconds * sps1 / ds->train.n);
                if (epochs < 1)
                    epochs = 1;
                if (epochs > HPT_MAX_EPOCHS)
                    epochs = HPT_MAX_EPOCHS;
            }
            double best = 0.0;
            bool diverged = false;
            for (int r = 0; r < g_opts.repeat; r++) {
                hp = mlp_hparams(opt, bs, epochs, (uint64_t)r + 1);
                rc = run_once(ds, &hp, &val, &res);
                if (rc < 0)
                    goto out;
                rates[r] = res.samples_per_second;
                diverged |= res.diverged;
                if (rates[r] > best)
                    best = rates[r];
            }
            double med = median(rates, g_opts.repeat);
            double gf = med * flops * 1e-9;
            say("  %-5s %5d %12.0f %8.1f %6.1f%% %9d%s\n", hpt_opt_name(opt), bs, med, gf,
                peak > 0 ? 100.0 * gf / peak : 0.0, epochs, diverged ? "  (diverged!)" : "");
            printf("RESULT impl=hptune kind=throughput opt=%s batch=%d samples_per_s=%.0f best=%.0f "
                   "epochs=%d repeats=%d gflops=%.2f%s\n",
                   hpt_opt_name(opt), bs, med, best, epochs, g_opts.repeat, gf,
                   diverged ? " diverged=1" : "");
            fflush(stdout);
        }
    }
out:
    return rc;
}

static int bench_accuracy(const hpt_dataset_t *ds)
{
    const hpt_view_t test = {
        .images = ds->test.images, .labels = ds->test.labels, .idx = NULL, .n = ds->test.n};
    int rc = 0;

    say("\nhptune test accuracy, adam lr 0.001 batch 32, %d epochs, %u test images:\n",
        g_opts.acc_epochs, ds->test.n);
    for (int s = 1; s <= g_opts.acc_seeds; s++) {
        hpt_hparams_t hp = mlp_hparams(HPT_OPT_ADAM, 32, g_opts.acc_epochs, (uint64_t)s);
        hpt_train_result_t res = {0};
        rc = run_once(ds, &hp, &test, &res);
        if (rc < 0)
            break;
        say("  seed %d  test accuracy %.4f  (train loss %.4f, %.2f s)\n", s, res.val.accuracy,
            res.train_loss, res.fit_seconds);
        printf("RESULT impl=hptune kind=accuracy opt=adam batch=32 epochs=%d seed=%d test_acc=%.4f "
               "seconds=%.2f\n",
               g_opts.acc_epochs, s, res.val.accuracy, res.fit_seconds);
        fflush(stdout);
    }
    return rc;
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: train_bench [options]\n"
            "  --data-dir DIR      directory holding fashion-mnist/ (default data)\n"
            "  --dataset NAME      dataset name (default fashion-mnist)\n"
            "  --epochs N          epochs per measurement (default: enough for --min-seconds)\n"
            "  --min-seconds S     target length of one measurement (default 2)\n"
            "  --repeat N          measurements per case, median reported (default 3)\n"
            "  --batches LIST      batch sizes (default 32,64,512)\n"
            "  --opts LIST         optimizers (default sgd,adam)\n"
            "  --acc-epochs N      epochs of the accuracy run (default 5)\n"
            "  --acc-seeds N       accuracy runs, seeds 1..N (default 3)\n"
            "  --quick             smoke run: --min-seconds 0.3 --repeat 1 --acc-seeds 1\n"
            "  --no-sgemm, --no-throughput, --no-accuracy   skip a part\n"
            "  --machine           print only the RESULT lines\n"
            "  --no-narrow         OpenBLAS for every product (no narrow kernels; blas.h)\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, bench_opts_t *o)
{
    bool quick = false, set_min = false, set_rep = false, set_seeds = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        bool takes = strcmp(a, "--data-dir") == 0 || strcmp(a, "--dataset") == 0 ||
                     strcmp(a, "--epochs") == 0 || strcmp(a, "--repeat") == 0 ||
                     strcmp(a, "--min-seconds") == 0 || strcmp(a, "--batches") == 0 ||
                     strcmp(a, "--opts") == 0 || strcmp(a, "--acc-epochs") == 0 ||
                     strcmp(a, "--acc-seeds") == 0;
        if (takes) {
            if (i + 1 >= argc) {
                fprintf(stderr, "train_bench: %s needs a value\n", a);
                return -EINVAL;
            }
            v = argv[++i];
        }
        int rc = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--dataset") == 0) {
            o->dataset = v;
        } else if (strcmp(a, "--epochs") == 0) {
            rc = parse_int(v, 1, HPT_MAX_EPOCHS, &o->epochs);
        } else if (strcmp(a, "--repeat") == 0) {
            rc = parse_int(v, 1, 64, &o->repeat);
            set_rep = true;
        } else if (strcmp(a, "--acc-epochs") == 0) {
            rc = parse_int(v, 1, HPT_MAX_EPOCHS, &o->acc_epochs);
        } else if (strcmp(a, "--acc-seeds") == 0) {
            rc = parse_int(v, 0, 64, &o->acc_seeds);
            set_seeds = true;
        } else if (strcmp(a, "--min-seconds") == 0) {
            char *end;
            o->min_seconds = strtod(v, &end);
            rc = (*end || !(o->min_seconds > 0)) ? -EINVAL : 0;
            set_min = true;
        } else if (strcmp(a, "--batches") == 0 || strcmp(a, "--opts") == 0) {
            bool is_b = a[2] == 'b';
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            int n = 0;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && rc == 0;
                 t = strtok_r(NULL, ",", &save)) {
                if (n == MAX_CASES) {
                    rc = -EINVAL;
                } else if (is_b) {
                    rc = parse_int(t, 1, HPT_MAX_BATCH, &o->batches[n++]);
                } else {
                    int op = hpt_opt_parse(t);
                    if (op < 0)
                        rc = -EINVAL;
                    else
                        o->opts[n++] = (hpt_opt_t)op;
                }
            }
            if (n == 0)
                rc = -EINVAL;
            if (is_b)
                o->n_batches = n;
            else
                o->n_opts = n;
        } else if (strcmp(a, "--quick") == 0) {
            quick = true;
        } else if (strcmp(a, "--no-sgemm") == 0) {
            o->do_sgemm = false;
        } else if (strcmp(a, "--no-throughput") == 0) {
            o->do_throughput = false;
        } else if (strcmp(a, "--no-accuracy") == 0) {
            o->do_accuracy = false;
        } else if (strcmp(a, "--machine") == 0) {
            o->machine = true;
        } else if (strcmp(a, "--no-narrow") == 0) {
            hpt_blas_set_narrow(false);
        } else {
            fprintf(stderr, "train_bench: unknown option '%s'\n", a);
            usage(stderr);
            return -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "train_bench: bad value '%s' for %s\n", v ? v : "", a);
            return rc;
        }
    }
    if (quick) {
        if (!set_min)
            o->min_seconds = 0.3;
        if (!set_rep)
            o->repeat = 1;
        if (!set_seeds)
            o->acc_seeds = 1;
        o->sgemm_seconds = 0.15;
    }
    return 0;
}

int main(int argc, char **argv)
{
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    double peak = 0.0, flops = FLOPS_784_32_10;
    int status = 1;
    int rc;

    g_opts = BENCH_OPTS_DEFAULT;
    rc = parse_args(argc, argv, &g_opts);
    if (rc != 0) {
        status = rc > 0 ? 0 : 2;
        goto done;
    }

    hpt_blas_set_threads(1);
    say("hptune train_bench: OpenBLAS %s (core %s), %d thread\n", openblas_get_config(),
        openblas_get_corename(), hpt_blas_get_threads());
    printf("INFO impl=hptune blas_threads=%d blas_core=%s\n", hpt_blas_get_threads(),
           openblas_get_corename());

    if (g_opts.do_sgemm) {
        rc = sgemm_peak(&peak);
        if (rc < 0)
            goto fail;
    }

    rc = hpt_dataset_load(&ds, g_opts.dataset, g_opts.data_dir, &err);
    if (rc < 0) {
        fprintf(stderr, "train_bench: %s\n", err.msg[0] ? err.msg : hpt_strerror(rc));
        goto done;
    }
    if (ds->n_features != 784 || ds->n_classes != 10)
        say("note: %s has %u features and %u classes; the FLOP figures assume 784-32-10\n",
            ds->name, ds->n_features, ds->n_classes);

    double ef = engine_flops(ds);
    if (ef > 0) {
        if (fabs(ef - flops) > 0.01 * flops)
            say("note: hpt_mlp_flops_per_sample says %.0f, the hand count %.0f; using the "
                "engine's\n", ef, flops);
        flops = ef;
    }
    printf("RESULT impl=hptune kind=flops per_sample=%.0f\n", flops);

    if (g_opts.do_sgemm) {
        if (peak > 0)
            say("  roofline for 784-32-10 at %.0f FLOP/sample: %.0f samples/s\n", flops,
                peak * 1e9 / flops);
        say("the five sgemm calls of one training step alone:\n");
        for (int b = 0; b < g_opts.n_batches; b++) {
            rc = gemm_bound(g_opts.batches[b], g_opts.sgemm_seconds);
            if (rc < 0)
                goto fail;
        }
    }

    if (g_opts.do_throughput) {
        rc = bench_throughput(ds, flops, peak);
        if (rc < 0)
            goto done;
    }
    if (g_opts.do_accuracy && g_opts.acc_seeds > 0) {
        rc = bench_accuracy(ds);
        if (rc < 0)
            goto done;
    }
    status = 0;
    goto done;

fail:
    fprintf(stderr, "train_bench: %s\n", hpt_strerror(rc));
done:
    hpt_dataset_destroy(&ds);
    return status;
}
