/*
 * test_search.c: the grid and random search strategies
 * (coordinator/search/grid.c, random.c) through the search.h interface, and
 * what every method shares: conditional parameters (when:) and enqueued
 * trials.  TPE and coordinate search have their own files.
 *
 * The statistical checks use fixed seeds, so each is either always met or
 * always missed; their bounds still sit at many standard errors, so any
 * correct sampler passes them whatever the seed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coord_spec.h"
#include "hpt_test.h"
#include "search.h"

static coord_spec_t *parse(const char *text)
{
    coord_spec_t *spec = NULL;
    hpt_err err = {0};
    if (coord_spec_parse(text, strlen(text), "test.yaml", &spec, &err) != 0)
        HPT__FAIL("parse: %s", err.msg);
    return spec;
}

static coord_search_t *search(const coord_spec_t *spec)
{
    coord_search_t *s = NULL;
    hpt_err err = {0};
    if (coord_search_new(&s, spec, &err) != 0)
        HPT__FAIL("coord_search_new: %s", err.msg);
    return s;
}

// ---------------------------------------------------------------------------
// Grid

static const char GRID_3x2x1[] = "dataset: mnist\nmethod: grid\nparameters:\n"
                                 "  batch_size: {values: [32, 64, 128]}\n"
                                 "  optimizer: {values: [adam, sgd]}\n"
                                 "  epochs: {value: 5}\n";

HPT_TEST(grid_order)
{
    coord_spec_t *spec = parse(GRID_3x2x1);
    coord_search_t *s = search(spec);
    ASSERT(strcmp(s->ops->name, "grid") == 0);
    ASSERT_EQ(coord_search_total(s), 6);
    // Spec order, the last parameter varying fastest.
    static const struct {
        int batch;
        const char *opt;
    } want[6] = {{32, "adam"}, {32, "sgd"}, {64, "adam"}, {64, "sgd"}, {128, "adam"}, {128, "sgd"}};
    coord_pval_t v[3];
    for (int k = 0; k < 6; k++) {
        ASSERT(!coord_search_done(s));
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT_EQ((int)v[0].num, want[k].batch);
        ASSERT(strcmp(v[1].str, want[k].opt) == 0);
        ASSERT(v[2].num == 5);
        ASSERT_EQ(s->suggested, k + 1);
        hpt_hparams_t hp;
        ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
        ASSERT_EQ(hp.batch_size, want[k].batch);
        ASSERT_EQ(hp.optimizer, strcmp(want[k].opt, "adam") == 0 ? HPT_OPT_ADAM : HPT_OPT_SGD);
        ASSERT_EQ(hp.epochs, 5);
        coord_search_observe(s, (uint64_t)k + 1, 0.5);  // ignored by grid
        coord_search_observe_epoch(s, (uint64_t)k + 1, 1, 0.5);
    }
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    ASSERT_EQ(s->suggested, 6);
    ASSERT_EQ(s->observed, 6);
    coord_search_destroy(&s);
    ASSERT(s == NULL);
    coord_search_destroy(&s);
    coord_search_destroy(NULL);
    coord_spec_destroy(&spec);
}

HPT_TEST(grid_categorical_and_truncation)
{
    // max_trials smaller than the grid keeps the first combinations in order;
    // a categorical distribution contributes its values list.
    coord_spec_t *spec = parse("dataset: mnist\nmethod: grid\nbudget: {max_trials: 4}\n"
                               "parameters:\n"
                               "  units: {values: [8, 16, 32]}\n"
                               "  activation: {distribution: categorical, values: [relu, tanh],"
                               " probabilities: [0.9, 0.1]}\n");
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 4);
    static const int units[4] = {8, 8, 16, 16};
    static const char *const acts[4] = {"relu", "tanh", "relu", "tanh"};
    coord_pval_t v[2];
    for (int k = 0; k < 4; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT_EQ((int)v[0].num, units[k]);
        ASSERT(strcmp(v[1].str, acts[k]) == 0);
    }
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);

    // max_trials larger than the grid changes nothing.
    spec = parse("dataset: mnist\nmethod: grid\nbudget: {max_trials: 100}\n"
                 "parameters: {units: {values: [8, 16]}}\n");
    s = search(spec);
    ASSERT_EQ(coord_search_total(s), 2);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

HPT_TEST(grid_refuses_distributions)
{
    // A random spec forced to grid (the parser refuses this; init checks too).
    coord_spec_t *spec = parse("dataset: mnist\nmethod: random\nbudget: {max_trials: 3}\n"
                               "parameters: {dropout: {distribution: uniform, min: 0, max: 0.5}}"
                               "\n");
    spec->method = COORD_METHOD_GRID;
    coord_search_t *s = NULL;
    hpt_err err = {0};
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    ASSERT(s == NULL);
    ASSERT(strcmp(err.msg, "parameters.dropout: distribution cannot be enumerated by grid "
                           "search; use values") == 0);
    spec->method = COORD_METHOD__COUNT;
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    spec->method = COORD_METHOD_RANDOM;
    spec->max_trials = 0;
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "budget.max_trials: required by method random") == 0);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// Random

#define N_SAMPLES 20000

static const char RANDOM_SPEC[] =
    "dataset: mnist\n"
    "method: random\n"
    "seed: %d\n"
    "budget: {max_trials: %d}\n"
    "parameters:\n"
    "  optimizer:\n"                        // 0
    "    distribution: categorical\n"
    "    values: [adam, rmsprop, sgd]\n"
    "    probabilities: [0.5, 0.3, 0.2]\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"  // 1
    "  dropout: {distribution: uniform, min: 0.1, max: 0.5}\n"                         // 2
    "  units: {distribution: int_uniform, min: 8, max: 64}\n"                          // 3
    "  batch_size: {distribution: q_uniform, min: 20, max: 250, q: 16}\n"              // 4
    "  momentum: {distribution: q_uniform, min: 0.1, max: 0.9, q: 0.2}\n"              // 5
    "  activation: {values: [relu, tanh, elu]}\n"                                      // 6
    "  epochs: {value: 3}\n"                                                           // 7
    "  seed: {distribution: int_uniform, min: 0, max: 9007199254740991}\n";            // 8
#define RANDOM_NP 9

static coord_spec_t *random_spec(int seed, int trials)
{
    char text[sizeof RANDOM_SPEC + 64];
    snprintf(text, sizeof text, RANDOM_SPEC, seed, trials);
    return parse(text);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

HPT_TEST(random_distributions)
{
    coord_spec_t *spec = random_spec(1, N_SAMPLES);
    coord_search_t *s = search(spec);
    ASSERT(strcmp(s->ops->name, "random") == 0);
    ASSERT_EQ(coord_search_total(s), N_SAMPLES);
    double *lr = malloc(N_SAMPLES * sizeof *lr);
    int opt[3] = {0}, act[3] = {0}, units_lo = 0, units_hi = 0;
    double drop_sum = 0, seed_max = 0;
    static const char *const opts[3] = {"adam", "rmsprop", "sgd"};
    static const char *const acts[3] = {"relu", "tanh", "elu"};
    coord_pval_t v[RANDOM_NP];
    for (int k = 0; k < N_SAMPLES; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        for (int i = 0; i < 3; i++) {
            opt[i] += strcmp(v[0].str, opts[i]) == 0;
            act[i] += strcmp(v[6].str, acts[i]) == 0;
        }
        lr[k] = v[1].num;
        ASSERT(v[1].num >= 1e-4 && v[1].num <= 0.1);
        ASSERT(v[2].num >= 0.1 && v[2].num <= 0.5);
        drop_sum += v[2].num;
        ASSERT(v[3].num >= 8 && v[3].num <= 64 && v[3].num == floor(v[3].num));
        units_lo += v[3].num == 8;
        units_hi += v[3].num == 64;
        // q_uniform: multiples of q inside [min, max] (here 32..240).
        ASSERT(v[4].num >= 20 && v[4].num <= 250 && fmod(v[4].num, 16) == 0);
        ASSERT(v[5].num >= 0.1 && v[5].num <= 0.9);
        ASSERT_NEAR(v[5].num / 0.2, round(v[5].num / 0.2), 1e-9);
        ASSERT(v[7].num == 3);
        ASSERT(v[8].num >= 0 && v[8].num <= 9007199254740991.0 && v[8].num == floor(v[8].num));
        if (v[8].num > seed_max)
            seed_max = v[8].num;
        hpt_hparams_t hp;
        hpt_err err = {0};
        if (coord_spec_apply(spec, v, &hp, &err) != 0)
            HPT__FAIL("trial %d does not apply: %s", k, err.msg);
    }
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);

    // Categorical frequencies follow the probabilities (SE ~0.0035).
    ASSERT_NEAR(opt[0] / (double)N_SAMPLES, 0.5, 0.02);
    ASSERT_NEAR(opt[1] / (double)N_SAMPLES, 0.3, 0.02);
    ASSERT_NEAR(opt[2] / (double)N_SAMPLES, 0.2, 0.02);
    ASSERT_EQ(opt[0] + opt[1] + opt[2], N_SAMPLES);
    for (int i = 0; i < 3; i++)  // values: a uniform choice
        ASSERT_NEAR(act[i] / (double)N_SAMPLES, 1.0 / 3, 0.02);
    // Uniform mean (SE ~0.0008).
    ASSERT_NEAR(drop_sum / N_SAMPLES, 0.3, 0.01);
    // Log-uniform: the median is the geometric mean of min and max, 10^-2.5
    // (SE of log10 median ~0.01 decades).
    qsort(lr, N_SAMPLES, sizeof *lr, cmp_double);
    ASSERT_NEAR(log10(lr[N_SAMPLES / 2]), -2.5, 0.1);
    ASSERT_NEAR(log10(lr[N_SAMPLES / 4]), -3.25, 0.1);
    // int_uniform covers both ends (each has probability 1/57 per draw).
    ASSERT(units_lo > 200 && units_hi > 200);
    // The 53-bit seed range is used, not just 32 bits.
    ASSERT(seed_max > 4.0e15);
    free(lr);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

HPT_TEST(random_q_uniform_edges)
{
    // min and max off the q lattice: every multiple of 16 in [20, 250] (32..240)
    // appears, and nothing else.
    coord_spec_t *spec = random_spec(5, 5000);
    coord_search_t *s = search(spec);
    int seen[17] = {0};
    coord_pval_t v[RANDOM_NP];
    while (coord_search_suggest(s, v) == COORD_SEARCH_OK) {
        int m = (int)(v[4].num / 16);
        ASSERT(m >= 2 && m <= 15);
        seen[m]++;
    }
    for (int m = 2; m <= 15; m++)
        ASSERT(seen[m] > 0);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

/* The first n trials of a search over spec, flattened. */
static void run(const coord_spec_t *spec, int n, coord_pval_t *out, bool observe)
{
    coord_search_t *s = search(spec);
    for (int k = 0; k < n; k++) {
        ASSERT_EQ(coord_search_suggest(s, out + (size_t)k * RANDOM_NP), COORD_SEARCH_OK);
        if (observe) {
            coord_search_observe_epoch(s, (uint64_t)k + 1, 1, k * 0.1);
            coord_search_observe(s, (uint64_t)k + 1, k % 2 ? NAN : 0.9);
        }
    }
    coord_search_destroy(&s);
}

HPT_TEST(random_determinism)
{
    enum { N = 50 };
    coord_spec_t *a = random_spec(11, N), *b = random_spec(11, N), *c = random_spec(12, N);
    static coord_pval_t va[N * RANDOM_NP], vb[N * RANDOM_NP], vc[N * RANDOM_NP];
    run(a, N, va, false);
    run(b, N, vb, true);  // observations change nothing
    run(c, N, vc, false);
    int differ = 0;
    for (int i = 0; i < N * RANDOM_NP; i++) {
        ASSERT(va[i].num == vb[i].num && strcmp(va[i].str, vb[i].str) == 0);
        differ += va[i].num != vc[i].num || strcmp(va[i].str, vc[i].str) != 0;
    }
    // Different seeds: every continuous draw differs.
    ASSERT(differ > N * 3);

    // Exactly max_trials trials, then DONE.
    coord_search_t *s = search(a);
    coord_pval_t v[RANDOM_NP];
    int n = 0;
    while (coord_search_suggest(s, v) == COORD_SEARCH_OK)
        n++;
    ASSERT_EQ(n, N);
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_total(s), N);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    coord_spec_destroy(&a);
    coord_spec_destroy(&b);
    coord_spec_destroy(&c);
}

// ---------------------------------------------------------------------------
// Conditional parameters

static const char COND_GRID[] =
    "dataset: mnist\nmethod: grid\nparameters:\n"
    "  layers: {values: [1, 2, 3]}\n"
    "  units_2: {values: [8, 16], when: {layers: {min: 2}}}\n"
    "  units_3: {values: [4, 32], when: {layers: [3]}}\n"
    "  optimizer: {values: [sgd, adam]}\n"
    "  momentum: {values: [0.0, 0.9], when: {optimizer: [sgd]}}\n"
    "  nesterov: {value: true, when: {optimizer: [sgd], momentum: {min: 0.5}}}\n";

/* A trial as text, absent values as "-". */
static void show(const coord_spec_t *spec, const coord_pval_t *v, char *buf, size_t len)
{
    size_t off = 0;
    for (int i = 0; i < spec->n_params && off < len; i++) {
        char one[64];
        coord_pval_format(&spec->params[i], &v[i], one, sizeof one);
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? " " : "",
                                v[i].absent ? "-" : one);
    }
}

HPT_TEST(grid_conditions)
{
    coord_spec_t *spec = parse(COND_GRID);
    // layers: 1 + 2 + 4 = 7 layer shapes; optimizer: sgd with two momenta
    // (nesterov only with 0.9) or adam: 3.  No duplicates, no inactive axes.
    ASSERT_EQ(coord_spec_grid_size(spec, COORD_SPEC_MAX_GRID), 21);
    ASSERT_EQ(coord_spec_grid_size(spec, 10), 11);  // capped
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 21);
    static const char *const want[21] = {
        "1 - - sgd 0 -",    "1 - - sgd 0.9 true",    "1 - - adam - -",
        "2 8 - sgd 0 -",    "2 8 - sgd 0.9 true",    "2 8 - adam - -",
        "2 16 - sgd 0 -",   "2 16 - sgd 0.9 true",   "2 16 - adam - -",
        "3 8 4 sgd 0 -",    "3 8 4 sgd 0.9 true",    "3 8 4 adam - -",
        "3 8 32 sgd 0 -",   "3 8 32 sgd 0.9 true",   "3 8 32 adam - -",
        "3 16 4 sgd 0 -",   "3 16 4 sgd 0.9 true",   "3 16 4 adam - -",
        "3 16 32 sgd 0 -",  "3 16 32 sgd 0.9 true",  "3 16 32 adam - -",
    };
    coord_pval_t v[6];
    char got[128];
    for (int k = 0; k < 21; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        show(spec, v, got, sizeof got);
        if (strcmp(got, want[k]) != 0)
            HPT__FAIL("trial %d: want %s, got %s", k + 1, want[k], got);
        // Absent values print as "" and are not applied.
        for (int i = 0; i < 6; i++)
            if (v[i].absent) {
                char b[8] = "x";
                ASSERT(coord_pval_format(&spec->params[i], &v[i], b, sizeof b)[0] == '\0');
            }
        hpt_hparams_t hp;
        ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
        ASSERT_EQ(hp.units[1], v[1].absent ? HPT_HPARAMS_DEFAULT.units[1] : (int)v[1].num);
        ASSERT_EQ(hp.nesterov, !v[5].absent);
        ASSERT(hp.momentum == (v[4].absent ? HPT_HPARAMS_DEFAULT.momentum : v[4].num));
    }
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    // The conditional constant nesterov is not in the base.
    ASSERT(!spec->base.nesterov);
    coord_spec_destroy(&spec);
}

HPT_TEST(random_conditions)
{
    coord_spec_t *spec = parse(
        "dataset: mnist\nmethod: random\nseed: 4\nbudget: {max_trials: 2000}\n"
        "parameters:\n"
        "  layers: {distribution: int_uniform, min: 1, max: 4}\n"
        "  units_2: {distribution: q_uniform, min: 8, max: 64, q: 8, when: {layers: {min: 2}}}\n"
        "  optimizer: {values: [sgd, adam]}\n"
        "  momentum: {distribution: uniform, min: 0, max: 0.9, when: {optimizer: [sgd]}}\n");
    coord_search_t *s = search(spec);
    coord_pval_t v[4];
    int absent2 = 0, absent_m = 0;
    while (coord_search_suggest(s, v) == COORD_SEARCH_OK) {
        ASSERT(v[1].absent == (v[0].num < 2));
        ASSERT(v[3].absent == (strcmp(v[2].str, "sgd") != 0));
        absent2 += v[1].absent;
        absent_m += v[3].absent;
        if (!v[1].absent)
            ASSERT(fmod(v[1].num, 8) == 0 && v[1].num >= 8 && v[1].num <= 64);
        if (!v[3].absent)
            ASSERT(v[3].num >= 0 && v[3].num <= 0.9);
        ASSERT_OK(coord_spec_apply(spec, v, &(hpt_hparams_t){0}, NULL));
    }
    ASSERT_NEAR(absent2 / 2000.0, 0.25, 0.04);
    ASSERT_NEAR(absent_m / 2000.0, 0.5, 0.04);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);

    // Without when:, a spec draws exactly the stream it drew before
    // conditions existed (random_determinism covers the rest).
}

// ---------------------------------------------------------------------------
// enqueue

HPT_TEST(enqueue_grid)
{
    // Enqueued trials run first, in order; the grid then skips them.  A
    // parameter left out takes its start: or its first value; a when: that
    // does not hold leaves the parameter absent.
    coord_spec_t *spec = parse(
        "dataset: mnist\nmethod: grid\n"
        "enqueue:\n"
        "  - {layers: 2, units_2: 16}\n"
        "  - {optimizer: sgd}\n"
        "  - {layers: 2, units_2: 16}\n"  // asked twice: runs twice
        "parameters:\n"
        "  layers: {values: [1, 2]}\n"
        "  units_2: {values: [8, 16], when: {layers: [2]}}\n"
        "  optimizer: {values: [adam, sgd], start: sgd}\n");
    ASSERT_EQ(spec->n_enqueue, 3);
    coord_search_t *s = search(spec);
    // Grid: 1 - adam, 1 - sgd, 2 8 adam, 2 8 sgd, 2 16 adam, 2 16 sgd; the two
    // distinct enqueued ones leave it: 3 + 4 trials.
    ASSERT_EQ(coord_search_total(s), 7);
    static const char *const want[7] = {
        "2 16 sgd", "1 - sgd", "2 16 sgd",      // enqueued (optimizer from start: sgd)
        "1 - adam", "2 8 adam", "2 8 sgd", "2 16 adam",
    };
    coord_pval_t v[3];
    char got[64];
    for (int k = 0; k < 7; k++) {
        ASSERT(!coord_search_done(s));
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        show(spec, v, got, sizeof got);
        if (strcmp(got, want[k]) != 0)
            HPT__FAIL("trial %d: want %s, got %s", k + 1, want[k], got);
    }
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);

    // max_trials counts enqueued trials too.
    spec = parse("dataset: mnist\nmethod: grid\nbudget: {max_trials: 3}\n"
                 "enqueue: [{units: 32}]\n"
                 "parameters: {units: {values: [8, 16, 32, 64]}}\n");
    s = search(spec);
    ASSERT_EQ(coord_search_total(s), 3);
    static const int units[3] = {32, 8, 16};
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT_EQ((int)v[0].num, units[k]);
    }
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

HPT_TEST(enqueue_random)
{
    // Random search: the enqueued trials, then max_trials - n_enqueue draws,
    // the first of which is the seed's first draw.
    coord_spec_t *a = parse("dataset: mnist\nmethod: random\nseed: 2\nbudget: {max_trials: 5}\n"
                            "enqueue: [{learning_rate: 0.01, units: 64}, {units: 8}]\n"
                            "parameters:\n"
                            "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4,"
                            " max: 0.1, start: 0.001}\n"
                            "  units: {distribution: q_uniform, min: 8, max: 128, q: 8}\n");
    coord_spec_t *b = parse("dataset: mnist\nmethod: random\nseed: 2\nbudget: {max_trials: 5}\n"
                            "parameters:\n"
                            "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4,"
                            " max: 0.1}\n"
                            "  units: {distribution: q_uniform, min: 8, max: 128, q: 8}\n");
    coord_search_t *sa = search(a), *sb = search(b);
    ASSERT_EQ(coord_search_total(sa), 5);
    coord_pval_t va[2], vb[2];
    ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_OK);
    ASSERT(va[0].num == 0.01 && va[1].num == 64);
    ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_OK);
    ASSERT(va[0].num == 0.001 && va[1].num == 8);  // learning_rate from start:
    for (int k = 0; k < 3; k++) {
        ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_OK);
        ASSERT_EQ(coord_search_suggest(sb, vb), COORD_SEARCH_OK);
        ASSERT(va[0].num == vb[0].num && va[1].num == vb[1].num);
    }
    ASSERT(coord_search_done(sa));
    ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_DONE);
    ASSERT_EQ(sa->suggested, 5);
    coord_search_destroy(&sa);
    coord_search_destroy(&sb);
    coord_spec_destroy(&a);
    coord_spec_destroy(&b);
}

/* W&B's distributions (issue 12): normal and log_normal truncated to the
 * parameter's range with the right centre and spread, q_normal and
 * q_log_uniform_values on their lattice, log_uniform_values on an integer
 * parameter drawing integers, the legacy exponent form's range. */
HPT_TEST(random_wandb_distributions)
{
    coord_spec_t *spec = parse("method: random\nbudget: {max_trials: 20000}\nparameters:\n"
                               "  dropout: {distribution: normal, mu: 0.3, sigma: 0.05}\n"
                               "  momentum: {distribution: normal, mu: 0.95, sigma: 0.1}\n"
                               "  batch_size: {distribution: q_normal, mu: 64, sigma: 16, q: 8}\n"
                               "  learning_rate: {distribution: log_normal, mu: -6.9, sigma: 0.5}\n"
                               "  units: {distribution: q_log_uniform_values, min: 32, max: 256, "
                               "q: 8}\n"
                               "  epochs: {distribution: log_uniform_values, min: 2, max: 50}\n"
                               "  weight_decay: {distribution: log_uniform, min: -9.21, "
                               "max: -4.6}\n");
    coord_search_t *s = search(spec);
    enum { N = 20000 };
    double drop = 0, drop2 = 0, llr = 0, mom_max = 0;
    int units_lo = 0, epochs_lo = 0, epochs_hi = 0;
    coord_pval_t v[7];
    for (int k = 0; k < N; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT(v[0].num >= 0 && v[0].num < 1);
        drop += v[0].num;
        drop2 += v[0].num * v[0].num;
        // momentum's range is [0, 1): the normal's upper tail is cut off.
        ASSERT(v[1].num >= 0 && v[1].num < 1);
        mom_max = fmax(mom_max, v[1].num);
        ASSERT(fmod(v[2].num, 8) == 0 && v[2].num >= 8);
        ASSERT(v[3].num > 0 && v[3].num <= 10);
        llr += log(v[3].num);
        ASSERT(fmod(v[4].num, 8) == 0 && v[4].num >= 32 && v[4].num <= 256);
        units_lo += v[4].num == 32;
        ASSERT(v[5].num == floor(v[5].num) && v[5].num >= 2 && v[5].num <= 50);
        epochs_lo += v[5].num == 2;
        epochs_hi += v[5].num == 50;
        ASSERT(v[6].num >= exp(-9.21) * (1 - 1e-12) && v[6].num <= exp(-4.6) * (1 + 1e-12));
        hpt_hparams_t hp;
        hpt_err err = {0};
        if (coord_spec_apply(spec, v, &hp, &err) != 0)
            HPT__FAIL("trial %d does not apply: %s", k, err.msg);
    }
    // N(0.3, 0.05): mean and sd (SE of the mean ~0.0004).
    double m = drop / N, sd = sqrt(drop2 / N - m * m);
    ASSERT_NEAR(m, 0.3, 0.003);
    ASSERT_NEAR(sd, 0.05, 0.002);
    ASSERT(mom_max > 0.99);   // mass up to the open end, never at it
    ASSERT_NEAR(llr / N, -6.9, 0.02);   // log_normal: the logarithm's mean
    ASSERT(units_lo > 0 && epochs_lo > 0 && epochs_hi > 0);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

HPT_TEST_MAIN()
