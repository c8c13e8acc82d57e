/*
 * folds.c: hptune's own cross-validation folds and FLOP counts, for the
 * peers of bench/sweep.sh.
 *
 * The scikit-learn peer must train on exactly the splits a sweep's workers
 * train on, and the FLOP limit of bench/sweep.sh must count what the engine
 * counts.  Rather than re-implement either in Python, this program asks the
 * engine: it loads the dataset as a worker does (hpt_dataset_load), calls
 * hpt_cv_split (the call worker/wrk_trainer.c makes for every task) once per
 * fold, and builds one model per --units value to ask hpt_mlp_flops_per_sample.
 *
 * Output (stdout), '#' lines first, then one line per training sample:
 *
 *   # dataset=mnist train=60000 test=10000 features=784 classes=10 fingerprint=...
 *   # folds=5 repeat=0 seed=42 stratified=1 shuffle=1 sizes=12000,12000,...
 *   # flops units=32 train_per_sample=102272 forward_per_sample=50816
 *   3          <- the validation fold (0-based) of training sample 0
 *   0          <- ... of training sample 1, and so on for all train samples
 *
 * which numpy.loadtxt reads directly (the '#' lines are comments) and
 * scikit-learn's PredefinedSplit takes as its test_fold.  A sample that no
 * fold or two folds claim is an error (exit 1): hpt_cv_split's folds are
 * disjoint and cover the training set.
 *
 * Usage: folds --dataset NAME [--data-dir DIR] --folds K [--seed S]
 *              [--stratified 0|1] [--shuffle 0|1] [--repeat R] [--units LIST]
 *              [--no-folds]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "dataset.h"
#include "err.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"

#define MAX_UNITS_LIST 32

typedef struct folds_opts {
    const char *dataset;          // dataset name (borrowed from argv)
    const char *data_dir;         // NULL: the default search path
    hpt_cv_spec_t cv;             // as the sweep's spec says
    int repeat;                   // which repeat (0-based), as Assign.repeat
    int units[MAX_UNITS_LIST];    // hidden-layer sizes to count FLOPs for
    int n_units;
    bool print_folds;             // false: only the '#' lines
} folds_opts_t;

static const folds_opts_t FOLDS_OPTS_DEFAULT = {
    .dataset = "mnist",
    .cv = {.folds = 5, .stratified = true, .shuffle = true, .seed = 42, .repeats = 1},
    .print_folds = true,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: folds [options]\n"
            "  --dataset NAME      dataset as a spec names it (default mnist)\n"
            "  --data-dir DIR      directory holding it (default: the search path)\n"
            "  --folds K           cv.folds (default 5)\n"
            "  --seed S            cv.seed (default 42)\n"
            "  --stratified 0|1    cv.stratified (default 1)\n"
            "  --shuffle 0|1       cv.shuffle (default 1)\n"
            "  --repeat R          the repeat, 0-based (default 0)\n"
            "  --units LIST        one-hidden-layer widths to print FLOPs for (e.g. 8,16,32)\n"
            "  --no-folds          print only the '#' lines\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    uint64_t v;
    if (parse_u64(s, &v) < 0 || v < (uint64_t)lo || v > (uint64_t)hi)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_units(const char *s, folds_opts_t *o)
{
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return -EINVAL;
    strcpy(buf, s);
    o->n_units = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (o->n_units == MAX_UNITS_LIST ||
            parse_int(t, 1, HPT_MAX_UNITS, &o->units[o->n_units]) < 0)
            return -EINVAL;
        o->n_units++;
    }
    return o->n_units ? 0 : -EINVAL;
}

/* Returns 0 to go on, 1 after --help, -EINVAL on a bad option (message
 * printed). */
static int parse_args(int argc, char **argv, folds_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, b = 0;
        bool takes = true;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--no-folds") == 0) {
            o->print_folds = false;
            takes = false;
        } else if (!v) {
            rc = -EINVAL;
        } else if (strcmp(a, "--dataset") == 0) {
            o->dataset = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o->data_dir = v;
        } else if (strcmp(a, "--folds") == 0) {
            rc = parse_int(v, 2, 1000, &o->cv.folds);
        } else if (strcmp(a, "--seed") == 0) {
            rc = parse_u64(v, &o->cv.seed);
        } else if (strcmp(a, "--stratified") == 0) {
            rc = parse_int(v, 0, 1, &b);
            o->cv.stratified = b;
        } else if (strcmp(a, "--shuffle") == 0) {
            rc = parse_int(v, 0, 1, &b);
            o->cv.shuffle = b;
        } else if (strcmp(a, "--repeat") == 0) {
            rc = parse_int(v, 0, 1000, &o->repeat);
        } else if (strcmp(a, "--units") == 0) {
            rc = parse_units(v, o);
        } else {
            rc = -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "folds: bad or incomplete option '%s'\n", a);
            usage(stderr);
            return -EINVAL;
        }
        i += takes;
    }
    /* The worker asks for repeat r of a spec with r + 1 repeats
     * (worker/wrk_trainer.c); do the same. */
    o->cv.repeats = o->repeat + 1;
    return 0;
}

/* Print the FLOPs per sample of a one-hidden-layer relu MLP of `units`
 * units on ds: training (hpt_mlp_flops_per_sample, forward + backward) and
 * the forward pass alone (scoring), summed over the model's layers. */
static int print_flops(const hpt_dataset_t *ds, int units)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hpt_mlp_t *m = NULL;
    hpt_rng_t rng;
    hpt_err err = {0};
    hp.layers = 1;
    hp.units[0] = units;
    hpt_rng_seed(&rng, 1);
    int rc = hpt_mlp_new(&m, &hp, (int)ds->n_features, (int)ds->n_classes, 1, &rng, &err);
    if (rc < 0) {
        fprintf(stderr, "folds: a %d-unit model: %s\n", units, err.msg[0] ? err.msg
                                                                         : hpt_strerror(rc));
        return rc;
    }
    double fwd = 0.0;
    for (int l = 0; l < hpt_mlp_n_layers(m); l++) {
        float *W, *b;
        int fan_in, fan_out;
        hpt_mlp_layer(m, l, &W, &b, &fan_in, &fan_out);
        fwd += 2.0 * fan_in * fan_out;   // z = a_prev @ W, a multiply-add as 2
    }
    printf("# flops units=%d train_per_sample=%.0f forward_per_sample=%.0f\n", units,
           hpt_mlp_flops_per_sample(m), fwd);
    hpt_mlp_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    folds_opts_t o = FOLDS_OPTS_DEFAULT;
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    uint32_t *train = NULL, *val = NULL;
    int *fold_of = NULL;
    int status = 1;

    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        status = rc > 0 ? 0 : 2;
        goto done;
    }
    rc = hpt_dataset_load(&ds, o.dataset, o.data_dir, &err);
    if (rc < 0) {
        fprintf(stderr, "folds: %s\n", err.msg[0] ? err.msg : hpt_strerror(rc));
        goto done;
    }
    uint32_t n = ds->train.n;
    printf("# dataset=%s dir=%s train=%" PRIu32 " test=%" PRIu32 " features=%" PRIu32
           " classes=%" PRIu32 " fingerprint=%s\n",
           o.dataset, ds->dir, n, ds->test.n, ds->n_features, ds->n_classes, ds->fingerprint);
    for (int i = 0; i < o.n_units; i++)
        if (print_flops(ds, o.units[i]) < 0)
            goto done;

    train = malloc(sizeof *train * (n ? n : 1));
    val = malloc(sizeof *val * (n ? n : 1));
    fold_of = malloc(sizeof *fold_of * (n ? n : 1));
    if (!train || !val || !fold_of) {
        fprintf(stderr, "folds: out of memory\n");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++)
        fold_of[i] = -1;
    printf("# folds=%d repeat=%d seed=%" PRIu64 " stratified=%d shuffle=%d sizes=", o.cv.folds,
           o.repeat, o.cv.seed, o.cv.stratified, o.cv.shuffle);
    for (int k = 0; k < o.cv.folds; k++) {
        uint32_t n_tr = 0, n_va = 0;
        rc = hpt_cv_split(&o.cv, o.repeat, k, ds->train.labels, n, (int)ds->n_classes, train,
                          &n_tr, val, &n_va, &err);
        if (rc < 0) {
            fprintf(stderr, "\nfolds: fold %d: %s\n", k, err.msg[0] ? err.msg
                                                                    : hpt_strerror(rc));
            goto done;
        }
        /* A sample in two validation folds, or in none, would mean the
         * peer trains on other splits than the workers: refuse. */
        for (uint32_t j = 0; j < n_va; j++) {
            if (val[j] >= n || fold_of[val[j]] != -1) {
                fprintf(stderr, "\nfolds: sample %" PRIu32 " is in two validation folds\n",
                        val[j]);
                goto done;
            }
            fold_of[val[j]] = k;
        }
        if (n_tr + n_va != n) {
            fprintf(stderr, "\nfolds: fold %d: %" PRIu32 " + %" PRIu32 " != %" PRIu32 "\n", k,
                    n_tr, n_va, n);
            goto done;
        }
        printf("%s%" PRIu32, k ? "," : "", n_va);
    }
    printf("\n");
    for (uint32_t i = 0; i < n; i++) {
        if (fold_of[i] < 0) {
            fprintf(stderr, "folds: sample %" PRIu32 " is in no validation fold\n", i);
            goto done;
        }
    }
    if (o.print_folds)
        for (uint32_t i = 0; i < n; i++)
            printf("%d\n", fold_of[i]);
    status = fflush(stdout) == 0 ? 0 : 1;
done:
    free(fold_of);
    free(val);
    free(train);
    hpt_dataset_destroy(&ds);
    return status;
}
