/*
 * cli_train.c: `hptune train`: train one configuration locally, without a
 * coordinator, on one CV fold or on the full training split scored on the
 * test split.  Used for debugging a configuration, for benchmarks and by
 * external tuners (Optuna) through --json.
 *
 * Progress goes to stderr (a redrawn bar on a terminal, one line per epoch
 * otherwise); the result goes to stdout (a summary, or one JSON object with
 * --json).  Every flag is validated; a bad one exits 2 naming the flag and
 * what is allowed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cv.h"
#include "dataset.h"
#include "hpt_config.h"
#include "params.h"
#include "train.h"

static void print_help(FILE *f)
{
    const hpt_hparams_t *d = &HPT_HPARAMS_DEFAULT;
    fprintf(f,
        "Usage: hptune train [OPTIONS]\n"
        "\n"
        "Train one MLP configuration on this machine, without a coordinator, and print its\n"
        "score.  With --fold K/N it trains on the other N-1 folds of a stratified, shuffled\n"
        "N-fold split of the training data and scores fold K (the same split a sweep's\n"
        "task uses); with --test (the default) it trains on the whole training split and\n"
        "scores the test split.\n"
        "\n"
        "Data:\n"
        "  --dataset NAME          mnist | mnist-10k | fashion-mnist | idx:DIR  [mnist]\n"
        "  --data-dir DIR          where named datasets live       [data, then %s]\n"
        "  --fold K/N              score fold K (1..N) of an N-fold split (N 2..100)\n"
        "  --test                  train on all training data, score the test split\n"
        "  --cv-seed N             seed of the fold split                    [42]\n"
        "  --repeat R              repeat index for repeated k-fold (0..)    [0]\n"
        "\n"
        "Model:\n"
        "  --layers N              hidden layers, 1..%d                       [%d]\n"
        "  --units N[,N...]        units per hidden layer, 1..%d; one value applies\n"
        "                          to every layer, a list gives each layer    [%d]\n"
        "  --activation NAME       %s\n"
        "                                                           [%s]\n"
        "  --init-mode NAME        %s\n"
        "                                                           [%s]\n"
        "  --dropout RATE          dropout on each hidden layer, [0, 1)       [%g]\n"
        "  --input-dropout RATE    dropout on the input layer, [0, 1)         [%g]\n"
        "  --weight-constraint C   max-norm of each hidden unit's incoming weights,\n"
        "                          0 = off                                    [%g]\n"
        "  --weight-decay L        weight decay, [0, %g], 0 = off             [%g]\n"
        "                          adamw: decoupled, w -= lr * L * w per step (tf.keras\n"
        "                          AdamW); other optimizers: Keras' L2 on the kernels,\n"
        "                          kernel_regularizer=l2(L), L * sum(w^2) in the loss\n"
        "\n"
        "Optimisation:\n"
        "  --optimizer NAME        %s\n"
        "                                                                     [%s]\n"
        "  --learning-rate LR      (0, 10]; default: Keras' default for the optimizer\n"
        "                          (0.01 for sgd and nesterov, 0.001 otherwise)\n"
        "  --momentum M            sgd/nesterov/rmsprop momentum, [0, 1)      [%g]\n"
        "  --nesterov              use Nesterov momentum with sgd\n"
        "  --batch-size N          samples per mini-batch, 1..%d              [%d]\n"
        "  --epochs N              passes over the training data, 1..%d      [%d]\n"
        "  --seed N                seed of init, dropout and shuffling        [%llu]\n"
        "  --metric NAME           %s                [%s]\n"
        "  --threads N             OpenBLAS threads, 1..256                   [1]\n"
        "\n"
        "Output:\n"
        "  --json                  print one JSON object with the result on stdout\n"
        "  -q, --quiet             no progress output\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 trained, 1 data error or the loss diverged, 2 bad flag.\n"
        "\n"
        "Example (the blog post's model):\n"
        "  hptune train --dataset mnist --units 32 --optimizer adam --epochs 5\n",
        HPT_DATADIR_SYSTEM, HPT_MAX_LAYERS, d->layers, HPT_MAX_UNITS, d->units[0],
        hpt_act_names(), hpt_act_name(d->activation), hpt_init_names(),
        hpt_init_name(d->init_mode), d->dropout, d->input_dropout, d->weight_constraint,
        HPT_MAX_WEIGHT_DECAY, d->weight_decay, hpt_opt_names(), hpt_opt_name(d->optimizer), d->momentum, HPT_MAX_BATCH,
        d->batch_size, HPT_MAX_EPOCHS, d->epochs, (unsigned long long)d->seed,
        hpt_metric_names(), hpt_metric_name(d->metric));
}

// --- flag parsing ---------------------------------------------------------

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hptune train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n(see hptune train --help)\n", stderr);
    va_end(ap);
    return HPT_EXIT_USAGE;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return usage_error("%s: '%s' is not an integer (allowed %ld..%ld)", flag, s, lo, hi);
    if (v < lo || v > hi)
        return usage_error("%s: %ld is out of range (allowed %ld..%ld)", flag, v, lo, hi);
    *out = v;
    return 0;
}

static int parse_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return usage_error("%s: '%s' must be a non-negative integer", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return usage_error("%s: '%s' is not a non-negative integer", flag, s);
    *out = v;
    return 0;
}

/* Parse a finite double in [lo, hi] (or (lo, hi] when lo_open). */
static int parse_double(const char *flag, const char *s, double lo, bool lo_open, double hi,
                        double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return usage_error("%s: '%s' is not a number (allowed %c%g, %g%c)", flag, s,
                           lo_open ? '(' : '[', lo, hi, hi >= 1e300 ? ')' : ']');
    if (v < lo || (lo_open && v == lo) || v > hi)
        return usage_error("%s: %g is out of range (allowed %c%g, %g])", flag, v,
                           lo_open ? '(' : '[', lo, hi);
    *out = v;
    return 0;
}

static int parse_enum(const char *flag, const char *s, int (*parse)(const char *),
                      const char *allowed, int *out)
{
    int v = parse(s);
    if (v < 0)
        return usage_error("%s: unknown value '%s' (allowed: %s)", flag, s, allowed);
    *out = v;
    return 0;
}

/* "32" or "64,32,16" into units[]; *n receives the count. */
static int parse_units(const char *s, int *units, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return usage_error("--units: list too long");
    strcpy(buf, s);
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (count == HPT_MAX_LAYERS)
            return usage_error("--units: more than %d values", HPT_MAX_LAYERS);
        long v;
        if (parse_long("--units", tok, 1, HPT_MAX_UNITS, &v))
            return HPT_EXIT_USAGE;
        units[count++] = (int)v;
    }
    if (count == 0)
        return usage_error("--units: empty list");
    *n = count;
    return 0;
}

// --- progress -------------------------------------------------------------

typedef struct progress {
    bool quiet;
    bool tty;
    const char *metric;
    uint32_t n_train;
} progress_t;

static void fmt_duration(double s, char *buf, size_t len)
{
    if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static int on_epoch(const hpt_epoch_report_t *r, void *ud)
{
    progress_t *p = ud;
    if (p->quiet)
        return 0;
    double eta = r->epoch ? r->elapsed_seconds / r->epoch * (r->epochs - r->epoch) : 0;
    char etas[32];
    fmt_duration(eta, etas, sizeof etas);
    if (p->tty) {
        enum { W = 24 };
        char bar[W + 1];
        int filled = r->epochs ? W * r->epoch / r->epochs : W;
        for (int i = 0; i < W; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[W] = '\0';
        fprintf(stderr, "\r\033[Kepoch %d/%d [%s] loss %.4f  val %s %.4f  %.0f samples/s  ETA %s",
                r->epoch, r->epochs, bar, r->train_loss, p->metric, r->val_score,
                r->samples_per_second, etas);
        if (r->epoch == r->epochs)
            fputc('\n', stderr);
    } else {
        fprintf(stderr,
                "epoch %d/%d loss=%.4f val_%s=%.4f samples_per_s=%.0f elapsed_s=%.2f "
                "eta_s=%.1f\n",
                r->epoch, r->epochs, r->train_loss, p->metric, r->val_score,
                r->samples_per_second, r->elapsed_seconds, eta);
    }
    fflush(stderr);
    return 0;
}

// --- output ---------------------------------------------------------------

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* NaN and inf are not JSON: write null. */
static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f);
}

static void print_json(const hpt_dataset_t *ds, const hpt_hparams_t *hp, bool test, int fold,
                       int folds, const hpt_train_result_t *res)
{
    FILE *f = stdout;
    fputs("{\"dataset\":", f);
    json_str(f, ds->name);
    fprintf(f, ",\"fingerprint\":\"%s\",\"mode\":\"%s\"", ds->fingerprint,
            test ? "test" : "fold");
    if (!test)
        fprintf(f, ",\"fold\":%d,\"folds\":%d", fold, folds);
    fprintf(f, ",\"metric\":\"%s\",", hpt_metric_name(hp->metric));
    const char *pre = test ? "test" : "val";
    fprintf(f, "\"%s_score\":", pre);
    json_num(f, res->val_score);
    fprintf(f, ",\"%s_accuracy\":", pre);
    json_num(f, res->val.accuracy);
    fprintf(f, ",\"%s_log_loss\":", pre);
    json_num(f, res->val.log_loss);
    fprintf(f, ",\"%s_f1_macro\":", pre);
    json_num(f, res->val.f1_macro);
    fputs(",\"train_loss\":", f);
    json_num(f, res->train_loss);
    fprintf(f, ",\"epochs\":%d,\"diverged\":%s,\"fit_seconds\":", res->epochs_run,
            res->diverged ? "true" : "false");
    json_num(f, res->fit_seconds);
    fputs(",\"samples_per_second\":", f);
    json_num(f, res->samples_per_second);
    fprintf(f, ",\"n_params\":%ld,\"params\":{\"layers\":%d,\"units\":[", res->n_params,
            hp->layers);
    for (int i = 0; i < hp->layers; i++)
        fprintf(f, "%s%d", i ? "," : "", hp->units[i]);
    fprintf(f,
            "],\"activation\":\"%s\",\"init_mode\":\"%s\",\"optimizer\":\"%s\","
            "\"learning_rate\":",
            hpt_act_name(hp->activation), hpt_init_name(hp->init_mode),
            hpt_opt_name(hp->optimizer));
    json_num(f, hpt_hparams_lr(hp));
    fputs(",\"momentum\":", f);
    json_num(f, hp->momentum);
    fprintf(f, ",\"nesterov\":%s,\"dropout\":", hp->nesterov ? "true" : "false");
    json_num(f, hp->dropout);
    fputs(",\"input_dropout\":", f);
    json_num(f, hp->input_dropout);
    fputs(",\"weight_constraint\":", f);
    json_num(f, hp->weight_constraint);
    fputs(",\"weight_decay\":", f);
    json_num(f, hp->weight_decay);
    fprintf(f, ",\"batch_size\":%d,\"epochs\":%d,\"seed\":%llu}}\n", hp->batch_size,
            hp->epochs, (unsigned long long)hp->seed);
}

// --- the command ----------------------------------------------------------

enum {
    OPT_DATASET = 256, OPT_DATA_DIR, OPT_FOLD, OPT_TEST, OPT_CV_SEED, OPT_REPEAT, OPT_LAYERS,
    OPT_UNITS, OPT_ACTIVATION, OPT_INIT_MODE, OPT_DROPOUT, OPT_INPUT_DROPOUT, OPT_WEIGHT_CONSTRAINT,
    OPT_WEIGHT_DECAY, OPT_OPTIMIZER, OPT_LR, OPT_MOMENTUM, OPT_NESTEROV, OPT_BATCH_SIZE, OPT_EPOCHS, OPT_SEED,
    OPT_METRIC, OPT_THREADS, OPT_JSON,
};

static const struct option long_opts[] = {
    {"dataset", required_argument, NULL, OPT_DATASET},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"fold", required_argument, NULL, OPT_FOLD},
    {"test", no_argument, NULL, OPT_TEST},
    {"cv-seed", required_argument, NULL, OPT_CV_SEED},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"layers", required_argument, NULL, OPT_LAYERS},
    {"units", required_argument, NULL, OPT_UNITS},
    {"activation", required_argument, NULL, OPT_ACTIVATION},
    {"init-mode", required_argument, NULL, OPT_INIT_MODE},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"input-dropout", required_argument, NULL, OPT_INPUT_DROPOUT},
    {"weight-constraint", required_argument, NULL, OPT_WEIGHT_CONSTRAINT},
    {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
    {"optimizer", required_argument, NULL, OPT_OPTIMIZER},
    {"learning-rate", required_argument, NULL, OPT_LR},
    {"momentum", required_argument, NULL, OPT_MOMENTUM},
    {"nesterov", no_argument, NULL, OPT_NESTEROV},
    {"batch-size", required_argument, NULL, OPT_BATCH_SIZE},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parse "K/N" with 1 <= K <= N, 2 <= N <= 100. */
static int parse_fold(const char *s, int *k, int *n)
{
    const char *slash = strchr(s, '/');
    char kbuf[32];
    if (!slash || (size_t)(slash - s) >= sizeof kbuf || slash == s)
        return usage_error("--fold: '%s' is not K/N (e.g. --fold 1/5)", s);
    memcpy(kbuf, s, (size_t)(slash - s));
    kbuf[slash - s] = '\0';
    long lk, ln;
    if (parse_long("--fold N", slash + 1, 2, 100, &ln) ||
        parse_long("--fold K", kbuf, 1, ln, &lk))
        return HPT_EXIT_USAGE;
    *k = (int)lk;
    *n = (int)ln;
    return 0;
}

int cli_train(int argc, char **argv)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    const char *dataset = "mnist", *data_dir = NULL;
    bool test = false, fold_given = false, json = false, quiet = false;
    int fold = 1, folds = 5, threads = 1, n_units = 0, layers_given = 0;
    int units[HPT_MAX_LAYERS];
    uint64_t cv_seed = 42;
    long repeat = 0, v;
    int e = 0;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":qh", long_opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_DATASET: dataset = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_FOLD: rc = parse_fold(optarg, &fold, &folds); fold_given = true; break;
        case OPT_TEST: test = true; break;
        case OPT_CV_SEED: rc = parse_u64("--cv-seed", optarg, &cv_seed); break;
        case OPT_REPEAT: rc = parse_long("--repeat", optarg, 0, 1000, &repeat); break;
        case OPT_LAYERS:
            rc = parse_long("--layers", optarg, 1, HPT_MAX_LAYERS, &v);
            hp.layers = (int)v;
            layers_given = 1;
            break;
        case OPT_UNITS: rc = parse_units(optarg, units, &n_units); break;
        case OPT_ACTIVATION:
            rc = parse_enum("--activation", optarg, hpt_act_parse, hpt_act_names(), &e);
            hp.activation = (hpt_act_t)e;
            break;
        case OPT_INIT_MODE:
            rc = parse_enum("--init-mode", optarg, hpt_init_parse, hpt_init_names(), &e);
            hp.init_mode = (hpt_init_t)e;
            break;
        case OPT_OPTIMIZER:
            rc = parse_enum("--optimizer", optarg, hpt_opt_parse, hpt_opt_names(), &e);
            hp.optimizer = (hpt_opt_t)e;
            break;
        case OPT_METRIC:
            rc = parse_enum("--metric", optarg, hpt_metric_parse, hpt_metric_names(), &e);
            hp.metric = (hpt_metric_t)e;
            break;
        case OPT_DROPOUT: rc = parse_double("--dropout", optarg, 0, false, 0.999, &hp.dropout); break;
        case OPT_INPUT_DROPOUT:
            rc = parse_double("--input-dropout", optarg, 0, false, 0.999, &hp.input_dropout);
            break;
        case OPT_WEIGHT_CONSTRAINT:
            rc = parse_double("--weight-constraint", optarg, 0, false, 1e6, &hp.weight_constraint);
            break;
        case OPT_WEIGHT_DECAY:
            rc = parse_double("--weight-decay", optarg, 0, false, HPT_MAX_WEIGHT_DECAY,
                              &hp.weight_decay);
            break;
        case OPT_LR: rc = parse_double("--learning-rate", optarg, 0, true, 10, &hp.learning_rate); break;
        case OPT_MOMENTUM: rc = parse_double("--momentum", optarg, 0, false, 0.999, &hp.momentum); break;
        case OPT_NESTEROV: hp.nesterov = true; break;
        case OPT_BATCH_SIZE:
            rc = parse_long("--batch-size", optarg, 1, HPT_MAX_BATCH, &v);
            hp.batch_size = (int)v;
            break;
        case OPT_EPOCHS:
            rc = parse_long("--epochs", optarg, 1, HPT_MAX_EPOCHS, &v);
            hp.epochs = (int)v;
            break;
        case OPT_SEED: rc = parse_u64("--seed", optarg, &hp.seed); break;
        case OPT_THREADS:
            rc = parse_long("--threads", optarg, 1, 256, &v);
            threads = (int)v;
            break;
        case OPT_JSON: json = true; break;
        case 'q': quiet = true; break;
        case 'h': print_help(stdout); return HPT_EXIT_OK;
        case ':': return usage_error("%s: missing value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (test && fold_given)
        return usage_error("--test and --fold exclude each other");
    if (!fold_given)
        test = true;
    if (n_units) {
        if (!layers_given)
            hp.layers = n_units;
        else if (n_units > 1 && n_units != hp.layers)
            return usage_error("--units: %d values given for --layers %d", n_units, hp.layers);
        for (int i = 0; i < HPT_MAX_LAYERS; i++)
            hp.units[i] = units[i < n_units ? i : n_units - 1];
    }
    hpt_err err = {0};
    if (hpt_hparams_validate(&hp, &err) < 0)
        return usage_error("%s", err.msg);

    // Load the data.
    int status = HPT_EXIT_FAIL;
    hpt_dataset_t *ds = NULL;
    uint32_t *tr_idx = NULL, *va_idx = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (hpt_dataset_load(&ds, dataset, data_dir, &err) < 0) {
        fprintf(stderr, "hptune train: %s\n", err.msg);
        goto done;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!quiet)
        fprintf(stderr,
                "loaded %s from %s: %u train, %u test, %ux%u, %u classes, fingerprint %.12s "
                "(%.2f s)\n",
                ds->name, ds->dir, ds->train.n, ds->test.n, ds->rows, ds->cols, ds->n_classes,
                ds->fingerprint,
                (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);

    hpt_view_t train = {.images = ds->train.images, .labels = ds->train.labels, .n = ds->train.n};
    hpt_view_t val = {.images = ds->test.images, .labels = ds->test.labels, .n = ds->test.n};
    if (!test) {
        tr_idx = malloc(sizeof *tr_idx * ds->train.n);
        va_idx = malloc(sizeof *va_idx * ds->train.n);
        if (!tr_idx || !va_idx) {
            fprintf(stderr, "hptune train: out of memory\n");
            goto done;
        }
        hpt_cv_spec_t cv = {.folds = folds, .stratified = true, .shuffle = true,
                            .seed = cv_seed, .repeats = (int)repeat + 1};
        uint32_t n_tr, n_va;
        if (hpt_cv_split(&cv, (int)repeat, fold - 1, ds->train.labels, ds->train.n,
                         (int)ds->n_classes, tr_idx, &n_tr, va_idx, &n_va, &err) < 0) {
            fprintf(stderr, "hptune train: --fold %d/%d: %s\n", fold, folds, err.msg);
            goto done;
        }
        train.idx = tr_idx;
        train.n = n_tr;
        val = (hpt_view_t){.images = ds->train.images, .labels = ds->train.labels,
                           .idx = va_idx, .n = n_va};
    }
    if (!quiet) {
        char desc[512];
        hpt_hparams_format(&hp, desc, sizeof desc);
        if (test)
            fprintf(stderr, "training on %u samples, scoring %u test samples\n  %s\n", train.n,
                    val.n, desc);
        else
            fprintf(stderr, "training on %u samples, scoring fold %d/%d (%u samples)\n  %s\n",
                    train.n, fold, folds, val.n, desc);
    }

    progress_t prog = {.quiet = quiet, .tty = isatty(STDERR_FILENO),
                       .metric = hpt_metric_name(hp.metric), .n_train = train.n};
    hpt_train_opts_t opts = {.threads = threads, .score_each_epoch = true};
    hpt_train_result_t res;
    if (hpt_train_run(&hp, &opts, ds->n_features, ds->n_classes, &train, &val, on_epoch, &prog,
                      &res, &err) < 0) {
        fprintf(stderr, "hptune train: %s\n", err.msg);
        goto done;
    }
    if (json) {
        print_json(ds, &hp, test, fold, folds, &res);
    } else {
        const char *what = test ? "test" : "fold";
        printf("%s %s: %.4f  (accuracy %.4f, log_loss %.4f, f1_macro %.4f)\n", what,
               hpt_metric_name(hp.metric), res.val_score, res.val.accuracy, res.val.log_loss,
               res.val.f1_macro);
        printf("epochs %d, fit %.2f s, %.0f samples/s, %ld parameters\n", res.epochs_run,
               res.fit_seconds, res.samples_per_second, res.n_params);
    }
    if (res.diverged) {
        fprintf(stderr, "hptune train: the training loss diverged (NaN/inf) at epoch %d; "
                        "try a smaller --learning-rate\n", res.epochs_run);
        goto done;
    }
    status = HPT_EXIT_OK;
done:
    free(va_idx);
    free(tr_idx);
    hpt_dataset_destroy(&ds);
    return status;
}
