/*
 * search_cost.c: what one suggestion of `method: bayes` (TPE,
 * coordinator/search/tpe.c) costs as the history grows.
 *
 * For each history size N (100, 500, 2000 by default) and each search space
 * (3 and 6 parameters, the spaces bench/peers/optuna_tpe_cost.py gives
 * Optuna), the search first runs N trials, each observed at once with a
 * synthetic score (tpe.n_startup is set to N, so these are random draws and
 * cost nothing to build); then it times --suggest (default 30) TPE
 * suggestions, each observed after the clock stops, so the history grows
 * from N to N + 30.  Setup and observations are not timed.  One thread.
 *
 *   6 parameters (the MNIST space): optimizer (8 names), learning_rate
 *     log-uniform 1e-4..1e-1, batch_size q-uniform 16..512 step 16, units int
 *     8..512, dropout uniform 0..0.5, activation (4 names)
 *   3 parameters: learning_rate, units, optimizer (3 names), as in
 *     bench/dispatch.sh and the Optuna measurement
 *
 * Prints one line per measurement:
 *   RESULT impl=hptune params=6 trials=2000 suggest_ms_median=... suggest_ms_mean=... \
 *          suggest_ms_max=...
 * Usage: search_cost [--sizes 100,500,2000] [--suggest 30] [--pending P]
 *   --pending P keeps P suggestions pending (unobserved) while timing, to
 *   include the constant liar's extra kernels (default 0).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_spec.h"
#include "search.h"

#define HEADER "dataset: mnist\nmethod: bayes\nseed: 1\nbudget: {max_trials: %d}\n" \
               "tpe: {n_startup: %d}\n"

static const char SPACE6[] =
    "parameters:\n"
    "  optimizer: {values: [sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, nadam]}\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
    "  batch_size: {distribution: q_uniform, min: 16, max: 512, q: 16}\n"
    "  units: {distribution: int_uniform, min: 8, max: 512}\n"
    "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
    "  activation: {values: [relu, tanh, elu, selu]}\n";

static const char SPACE3[] =
    "parameters:\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
    "  units: {distribution: int_uniform, min: 8, max: 256}\n"
    "  optimizer: {values: [adam, sgd, rmsprop]}\n";

/* A smooth synthetic accuracy: learning rate near 1e-2.5, many units. */
static double score(const coord_spec_t *spec, const coord_pval_t *v)
{
    double s = 0.9;
    for (int i = 0; i < spec->n_params; i++) {
        const char *name = spec->params[i].name;
        if (strcmp(name, "learning_rate") == 0)
            s -= 0.02 * pow(log10(v[i].num) + 2.5, 2);
        else if (strcmp(name, "units") == 0)
            s -= 0.01 * fabs(log2(v[i].num) - 8);
        else if (strcmp(name, "dropout") == 0)
            s -= 0.05 * fabs(v[i].num - 0.2);
        else if (strcmp(name, "optimizer") == 0)
            s -= strcmp(v[i].str, "adam") == 0 ? 0 : 0.01;
    }
    return s;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int measure(const char *space, int params, int n_hist, int n_suggest, int pending)
{
    char text[2048];
    int off = snprintf(text, sizeof text, HEADER, n_hist + n_suggest + pending, n_hist);
    snprintf(text + off, sizeof text - (size_t)off, "%s", space);
    coord_spec_t *spec = NULL;
    coord_search_t *s = NULL;
    hpt_err err = {0};
    double *ms = calloc((size_t)n_suggest, sizeof *ms);
    int rc = 1;
    if (!ms || coord_spec_parse(text, strlen(text), "bench.yaml", &spec, &err) != 0 ||
        coord_search_new(&s, spec, &err) != 0) {
        fprintf(stderr, "search_cost: %s\n", err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    uint64_t trial = 0;
    for (int k = 0; k < n_hist; k++) {
        if (coord_search_suggest(s, v) != COORD_SEARCH_OK)
            goto fail;
        coord_search_observe(s, ++trial, score(spec, v));
    }
    /* Pending trials, if asked for: suggested and never observed. */
    for (int k = 0; k < pending; k++) {
        if (coord_search_suggest(s, v) != COORD_SEARCH_OK)
            goto fail;
        ++trial;
    }
    for (int k = 0; k < n_suggest; k++) {
        double t0 = now_ms();
        int r = coord_search_suggest(s, v);
        ms[k] = now_ms() - t0;
        if (r != COORD_SEARCH_OK)
            goto fail;
        coord_search_observe(s, ++trial, score(spec, v));
    }
    double sum = 0;
    for (int k = 0; k < n_suggest; k++)
        sum += ms[k];
    qsort(ms, (size_t)n_suggest, sizeof *ms, cmp_double);
    printf("RESULT impl=hptune params=%d trials=%d pending=%d suggest_ms_median=%.4f "
           "suggest_ms_mean=%.4f suggest_ms_max=%.4f\n",
           params, n_hist, pending, ms[n_suggest / 2], sum / n_suggest, ms[n_suggest - 1]);
    fflush(stdout);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "search_cost: the search stopped early\n");
out:
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
    free(ms);
    return rc;
}

int main(int argc, char **argv)
{
    char sizes[256] = "100,500,2000";
    int n_suggest = 30, pending = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            snprintf(sizes, sizeof sizes, "%s", argv[++i]);
        else if (strcmp(argv[i], "--suggest") == 0 && i + 1 < argc)
            n_suggest = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pending") == 0 && i + 1 < argc)
            pending = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: search_cost [--sizes 100,500,2000] [--suggest 30] "
                            "[--pending P]\n");
            return 2;
        }
    }
    if (n_suggest < 1 || n_suggest > 100000 || pending < 0 || pending > 100000) {
        fprintf(stderr, "search_cost: --suggest must be 1..100000, --pending 0..100000\n");
        return 2;
    }
    int rc = 0;
    for (char *tok = strtok(sizes, ","); tok; tok = strtok(NULL, ",")) {
        int n = atoi(tok);
        if (n < 1 || n > 1000000) {
            fprintf(stderr, "search_cost: bad size '%s'\n", tok);
            return 2;
        }
        rc |= measure(SPACE3, 3, n, n_suggest, pending);
        rc |= measure(SPACE6, 6, n, n_suggest, pending);
    }
    return rc;
}
