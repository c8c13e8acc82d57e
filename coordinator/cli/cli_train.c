/*
 * cli_train.c: `hptune train`: train one configuration locally, without a
 * coordinator, on one CV fold or on the full training split scored on the
 * test split.  Used for debugging a configuration, for benchmarks and by
 * external tuners (Optuna) through --json.
 *
 * Progress goes to stderr (a redrawn bar on a terminal, one line per epoch
 * otherwise); the result goes to stdout (a summary, or one JSON object with
 * --json).  --serve keeps the data loaded and trains one run per line of
 * stdin (bench/search_optuna.py's persistent objective).  Every flag is validated; a bad one exits 2 naming the flag and
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
        "  --serve                 load the data and the split once, then train one run per\n"
        "                          line of stdin (model and optimisation flags and --seed,\n"
        "                          applied over these; no quoting) and answer each with one\n"
        "                          JSON line on stdout (a result, or {\"error\": ...}), until\n"
        "                          end of input: a persistent objective for external tuners\n"
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

/* Print a bad flag's message to stderr and keep it in why (WHY_LEN bytes;
 * --serve answers a bad request with it). */
#define WHY_LEN 256
static int usage_error(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(char *why, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, WHY_LEN, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hptune train: %s\n(see hptune train --help)\n", why);
    return HPT_EXIT_USAGE;
}

static int parse_long(char *why, const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return usage_error(why, "%s: '%s' is not an integer (allowed %ld..%ld)", flag, s, lo, hi);
    if (v < lo || v > hi)
        return usage_error(why, "%s: %ld is out of range (allowed %ld..%ld)", flag, v, lo, hi);
    *out = v;
    return 0;
}

static int parse_u64(char *why, const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return usage_error(why, "%s: '%s' must be a non-negative integer", flag, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return usage_error(why, "%s: '%s' is not a non-negative integer", flag, s);
    *out = v;
    return 0;
}

/* Parse a finite double in [lo, hi] (or (lo, hi] when lo_open). */
static int parse_double(char *why, const char *flag, const char *s, double lo, bool lo_open, double hi,
                        double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return usage_error(why, "%s: '%s' is not a number (allowed %c%g, %g%c)", flag, s,
                           lo_open ? '(' : '[', lo, hi, hi >= 1e300 ? ')' : ']');
    if (v < lo || (lo_open && v == lo) || v > hi)
        return usage_error(why, "%s: %g is out of range (allowed %c%g, %g])", flag, v,
                           lo_open ? '(' : '[', lo, hi);
    *out = v;
    return 0;
}

static int parse_enum(char *why, const char *flag, const char *s, int (*parse)(const char *),
                      const char *allowed, int *out)
{
    int v = parse(s);
    if (v < 0)
        return usage_error(why, "%s: unknown value '%s' (allowed: %s)", flag, s, allowed);
    *out = v;
    return 0;
}

/* "32" or "64,32,16" into units[]; *n receives the count. */
static int parse_units(char *why, const char *s, int *units, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return usage_error(why, "--units: list too long");
    strcpy(buf, s);
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (count == HPT_MAX_LAYERS)
            return usage_error(why, "--units: more than %d values", HPT_MAX_LAYERS);
        long v;
        if (parse_long(why, "--units", tok, 1, HPT_MAX_UNITS, &v))
            return HPT_EXIT_USAGE;
        units[count++] = (int)v;
    }
    if (count == 0)
        return usage_error(why, "--units: empty list");
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
    OPT_METRIC, OPT_THREADS, OPT_JSON, OPT_SERVE,
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
    {"serve", no_argument, NULL, OPT_SERVE},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parse "K/N" with 1 <= K <= N, 2 <= N <= 100. */
static int parse_fold(char *why, const char *s, int *k, int *n)
{
    const char *slash = strchr(s, '/');
    char kbuf[32];
    if (!slash || (size_t)(slash - s) >= sizeof kbuf || slash == s)
        return usage_error(why, "--fold: '%s' is not K/N (e.g. --fold 1/5)", s);
    memcpy(kbuf, s, (size_t)(slash - s));
    kbuf[slash - s] = '\0';
    long lk, ln;
    if (parse_long(why, "--fold N", slash + 1, 2, 100, &ln) ||
        parse_long(why, "--fold K", kbuf, 1, ln, &lk))
        return HPT_EXIT_USAGE;
    *k = (int)lk;
    *n = (int)ln;
    return 0;
}

/* Everything the flags set. */
typedef struct targs {
    hpt_hparams_t hp;
    const char *dataset, *data_dir;
    bool test, fold_given, json, quiet, serve, help;
    int fold, folds, threads, n_units, layers_given;
    int units[HPT_MAX_LAYERS];
    uint64_t cv_seed;
    long repeat;
} targs_t;

static const targs_t TARGS_DEFAULT = {
    .dataset = "mnist", .fold = 1, .folds = 5, .threads = 1, .cv_seed = 42,
};

/* Parse argv into *a (which holds the defaults, or for a --serve request
 * the server's own flags).  A request (request = true) may set only model
 * and optimisation flags (and --seed): the data, the split and the output
 * are the server's.  Returns 0, HPT_EXIT_USAGE with why filled, or
 * HPT_EXIT_OK with a->help set. */
static int parse_args(int argc, char **argv, targs_t *a, bool request, char *why)
{
    hpt_hparams_t *hp = &a->hp;
    long v;
    int e = 0;
    optind = 0;   // glibc: start over (a --serve request parses a new argv)
    opterr = 0;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, ":qh", long_opts, &li)) != -1) {
        int rc = 0;
        const char *name = li >= 0 ? long_opts[li].name : c == 'q' ? "quiet" : "help";
        li = -1;
        if (request && (c == OPT_DATASET || c == OPT_DATA_DIR || c == OPT_FOLD ||
                        c == OPT_TEST || c == OPT_CV_SEED || c == OPT_REPEAT ||
                        c == OPT_THREADS || c == OPT_JSON || c == OPT_SERVE || c == 'q' ||
                        c == 'h'))
            return usage_error(why, "--%s: not allowed in a --serve request (only model and "
                               "optimisation flags and --seed)", name);
        switch (c) {
        case OPT_DATASET: a->dataset = optarg; break;
        case OPT_DATA_DIR: a->data_dir = optarg; break;
        case OPT_FOLD: rc = parse_fold(why, optarg, &a->fold, &a->folds); a->fold_given = true; break;
        case OPT_TEST: a->test = true; break;
        case OPT_CV_SEED: rc = parse_u64(why, "--cv-seed", optarg, &a->cv_seed); break;
        case OPT_REPEAT: rc = parse_long(why, "--repeat", optarg, 0, 1000, &a->repeat); break;
        case OPT_LAYERS:
            rc = parse_long(why, "--layers", optarg, 1, HPT_MAX_LAYERS, &v);
            hp->layers = (int)v;
            a->layers_given = 1;
            break;
        case OPT_UNITS: rc = parse_units(why, optarg, a->units, &a->n_units); break;
        case OPT_ACTIVATION:
            rc = parse_enum(why, "--activation", optarg, hpt_act_parse, hpt_act_names(), &e);
            hp->activation = (hpt_act_t)e;
            break;
        case OPT_INIT_MODE:
            rc = parse_enum(why, "--init-mode", optarg, hpt_init_parse, hpt_init_names(), &e);
            hp->init_mode = (hpt_init_t)e;
            break;
        case OPT_OPTIMIZER:
            rc = parse_enum(why, "--optimizer", optarg, hpt_opt_parse, hpt_opt_names(), &e);
            hp->optimizer = (hpt_opt_t)e;
            break;
        case OPT_METRIC:
            rc = parse_enum(why, "--metric", optarg, hpt_metric_parse, hpt_metric_names(), &e);
            hp->metric = (hpt_metric_t)e;
            break;
        case OPT_DROPOUT:
            rc = parse_double(why, "--dropout", optarg, 0, false, 0.999, &hp->dropout);
            break;
        case OPT_INPUT_DROPOUT:
            rc = parse_double(why, "--input-dropout", optarg, 0, false, 0.999, &hp->input_dropout);
            break;
        case OPT_WEIGHT_CONSTRAINT:
            rc = parse_double(why, "--weight-constraint", optarg, 0, false, 1e6,
                              &hp->weight_constraint);
            break;
        case OPT_WEIGHT_DECAY:
            rc = parse_double(why, "--weight-decay", optarg, 0, false, HPT_MAX_WEIGHT_DECAY,
                              &hp->weight_decay);
            break;
        case OPT_LR:
            rc = parse_double(why, "--learning-rate", optarg, 0, true, 10, &hp->learning_rate);
            break;
        case OPT_MOMENTUM:
            rc = parse_double(why, "--momentum", optarg, 0, false, 0.999, &hp->momentum);
            break;
        case OPT_NESTEROV: hp->nesterov = true; break;
        case OPT_BATCH_SIZE:
            rc = parse_long(why, "--batch-size", optarg, 1, HPT_MAX_BATCH, &v);
            hp->batch_size = (int)v;
            break;
        case OPT_EPOCHS:
            rc = parse_long(why, "--epochs", optarg, 1, HPT_MAX_EPOCHS, &v);
            hp->epochs = (int)v;
            break;
        case OPT_SEED: rc = parse_u64(why, "--seed", optarg, &hp->seed); break;
        case OPT_THREADS:
            rc = parse_long(why, "--threads", optarg, 1, 256, &v);
            a->threads = (int)v;
            break;
        case OPT_JSON: a->json = true; break;
        case OPT_SERVE: a->serve = true; break;
        case 'q': a->quiet = true; break;
        case 'h': a->help = true; return HPT_EXIT_OK;
        case ':': return usage_error(why, "%s: missing value", argv[optind - 1]);
        default: return usage_error(why, "unknown option '%s'", argv[optind - 1]);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error(why, "unexpected argument '%s'", argv[optind]);
    if (a->n_units) {
        if (!a->layers_given)
            hp->layers = a->n_units;
        else if (a->n_units > 1 && a->n_units != hp->layers)
            return usage_error(why, "--units: %d values given for --layers %d", a->n_units,
                               hp->layers);
        for (int i = 0; i < HPT_MAX_LAYERS; i++)
            hp->units[i] = a->units[i < a->n_units ? i : a->n_units - 1];
    }
    hpt_err err = {0};
    if (hpt_hparams_validate(hp, &err) < 0)
        return usage_error(why, "%s", err.msg);
    return 0;
}

/* Train hp on train, score val, and print the result (JSON or text; with
 * --serve a failed run is answered {"error": ...}). */
static int train_one(const hpt_dataset_t *ds, const targs_t *a, const hpt_hparams_t *hp,
                     const hpt_view_t *train, const hpt_view_t *val)
{
    if (!a->quiet) {
        char desc[512];
        hpt_hparams_format(hp, desc, sizeof desc);
        if (a->test)
            fprintf(stderr, "training on %u samples, scoring %u test samples\n  %s\n", train->n,
                    val->n, desc);
        else
            fprintf(stderr, "training on %u samples, scoring fold %d/%d (%u samples)\n  %s\n",
                    train->n, a->fold, a->folds, val->n, desc);
    }
    progress_t prog = {.quiet = a->quiet, .tty = isatty(STDERR_FILENO),
                       .metric = hpt_metric_name(hp->metric), .n_train = train->n};
    hpt_train_opts_t opts = {.threads = a->threads, .score_each_epoch = true};
    hpt_train_result_t res;
    hpt_err err = {0};
    if (hpt_train_run(hp, &opts, ds->n_features, ds->n_classes, train, val, on_epoch, &prog,
                      &res, &err) < 0) {
        fprintf(stderr, "hptune train: %s\n", err.msg);
        if (a->serve) {
            fputs("{\"error\":", stdout);
            json_str(stdout, err.msg);
            fputs("}\n", stdout);
        }
        return HPT_EXIT_FAIL;
    }
    if (a->json || a->serve) {
        print_json(ds, hp, a->test, a->fold, a->folds, &res);
    } else {
        const char *what = a->test ? "test" : "fold";
        printf("%s %s: %.4f  (accuracy %.4f, log_loss %.4f, f1_macro %.4f)\n", what,
               hpt_metric_name(hp->metric), res.val_score, res.val.accuracy, res.val.log_loss,
               res.val.f1_macro);
        printf("epochs %d, fit %.2f s, %.0f samples/s, %ld parameters\n", res.epochs_run,
               res.fit_seconds, res.samples_per_second, res.n_params);
    }
    if (res.diverged) {
        fprintf(stderr, "hptune train: the training loss diverged (NaN/inf) at epoch %d; "
                        "try a smaller --learning-rate\n", res.epochs_run);
        return HPT_EXIT_FAIL;
    }
    return HPT_EXIT_OK;
}

#define SERVE_LINE 4096   // bytes per request line, newline included
#define SERVE_ARGS 64     // flags and values per request

/* --serve: one request per line on stdin, each the model and optimisation
 * flags of one training run (as on the command line, separated by blanks;
 * no quoting), applied over the server's own; one JSON line per request on
 * stdout, flushed: the result, or {"error": "..."} for a bad request or a
 * failed run (a diverged run is a result with "diverged": true).  The
 * data and the split stay loaded between requests.  Ends at end of input
 * (status 0). */
static int serve(const hpt_dataset_t *ds, const targs_t *base, const hpt_view_t *train,
                 const hpt_view_t *val)
{
    char line[SERVE_LINE + 1];
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        if (len == SERVE_LINE && line[len - 1] != '\n') {
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n') {}
            printf("{\"error\":\"request longer than %d bytes\"}\n", SERVE_LINE - 1);
            fflush(stdout);
            continue;
        }
        char *argv[SERVE_ARGS + 2] = {"train"};
        int argc = 1;
        bool too_many = false;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (argc == SERVE_ARGS + 1) {
                too_many = true;
                break;
            }
            argv[argc++] = tok;
        }
        if (argc == 1)
            continue;   // a blank line
        targs_t a = *base;
        char why[WHY_LEN] = "";
        int rc = too_many ? usage_error(why, "more than %d flags and values", SERVE_ARGS)
                          : parse_args(argc, argv, &a, true, why);
        if (rc != 0) {
            fputs("{\"error\":", stdout);
            json_str(stdout, why);
            fputs("}\n", stdout);
        } else {
            train_one(ds, &a, &a.hp, train, val);
        }
        fflush(stdout);
    }
    return HPT_EXIT_OK;
}

int cli_train(int argc, char **argv)
{
    targs_t a = TARGS_DEFAULT;
    a.hp = HPT_HPARAMS_DEFAULT;
    char why[WHY_LEN];
    int rc = parse_args(argc, argv, &a, false, why);
    if (a.help) {
        print_help(stdout);
        return HPT_EXIT_OK;
    }
    if (rc)
        return rc;
    if (a.test && a.fold_given)
        return usage_error(why, "--test and --fold exclude each other");
    if (!a.fold_given)
        a.test = true;
    const char *dataset = a.dataset, *data_dir = a.data_dir;
    bool test = a.test, quiet = a.quiet;
    int fold = a.fold, folds = a.folds;
    uint64_t cv_seed = a.cv_seed;
    long repeat = a.repeat;
    hpt_err err = {0};

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
    status = a.serve ? serve(ds, &a, &train, &val) : train_one(ds, &a, &a.hp, &train, &val);
done:
    free(va_idx);
    free(tr_idx);
    hpt_dataset_destroy(&ds);
    return status;
}
