/*
 * test_tpe.c: method bayes (coordinator/search/tpe.c) through the search.h
 * interface, driven in-process by a loop of suggest -> evaluate -> observe
 * on synthetic objectives with known optima, several trials pending at a
 * time as with real workers.
 *
 * Every run uses fixed seeds, so each check is either always met or always
 * missed; the margins are wide enough that they do not hinge on the seeds.
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

typedef double (*objective_fn)(const coord_pval_t *v);

/* Run a whole search: keep up to `parallel` trials pending, observe the
 * oldest when full (so the constant liar is exercised), and return the best
 * score; every trial's values go to trace (n_params each) when not NULL. */
static double run(const coord_spec_t *spec, objective_fn f, int parallel, coord_pval_t *trace,
                  int *n_out)
{
    coord_search_t *s = search(spec);
    enum { MAXP = 16 };
    uint64_t pend[MAXP];
    double pend_score[MAXP];
    int np = 0, n = 0;
    double best = -INFINITY;
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    for (;;) {
        bool done_before = coord_search_done(s);
        int r = np < parallel ? coord_search_suggest(s, v) : COORD_SEARCH_WAIT;
        if (np < parallel)
            ASSERT(done_before == (r == COORD_SEARCH_DONE));
        if (r == COORD_SEARCH_OK) {
            hpt_hparams_t hp;
            hpt_err err = {0};
            if (coord_spec_apply(spec, v, &hp, &err) != 0)
                HPT__FAIL("trial %d does not apply: %s", n + 1, err.msg);
            if (trace)
                memcpy(trace + (size_t)n * (size_t)spec->n_params, v,
                       (size_t)spec->n_params * sizeof *v);
            n++;
            pend[np] = (uint64_t)n;
            pend_score[np++] = f(v);
            continue;
        }
        if (np == 0)
            break;
        // Observe the oldest pending trial.
        coord_search_observe(s, pend[0], pend_score[0]);
        if (pend_score[0] > best)
            best = pend_score[0];
        memmove(pend, pend + 1, (size_t)(np - 1) * sizeof *pend);
        memmove(pend_score, pend_score + 1, (size_t)(np - 1) * sizeof *pend_score);
        np--;
    }
    ASSERT(coord_search_done(s));
    if (n_out)
        *n_out = n;
    coord_search_destroy(&s);
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ---------------------------------------------------------------------------
// TPE beats random

/* Four parameters of every kind, optimum 0 at learning_rate 10^-2.5,
 * dropout 0.3, units 128, optimizer adam. */
static const char SPACE4[] =
    "dataset: mnist\n"
    "method: %s\n"
    "seed: %d\n"
    "budget: {max_trials: 60}\n"
    "parameters:\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0}\n"
    "  dropout: {distribution: uniform, min: 0.0, max: 0.9}\n"
    "  units: {distribution: int_uniform, min: 8, max: 512}\n"
    "  optimizer: {values: [sgd, adam, rmsprop, adagrad]}\n";

static double f4(const coord_pval_t *v)
{
    double a = log10(v[0].num) + 2.5, b = v[1].num - 0.3, c = log2(v[2].num) - 7;
    return -(a * a) - 4 * b * b - c * c / 4 - (strcmp(v[3].str, "adam") == 0 ? 0 : 0.5);
}

static coord_spec_t *space4(const char *method, int seed)
{
    char text[sizeof SPACE4 + 64];
    snprintf(text, sizeof text, SPACE4, method, seed);
    return parse(text);
}

HPT_TEST(tpe_beats_random)
{
    enum { SEEDS = 20 };
    double tpe[SEEDS], rnd[SEEDS];
    int wins = 0;
    for (int k = 0; k < SEEDS; k++) {
        coord_spec_t *a = space4("bayes", 100 + k), *b = space4("random", 100 + k);
        int n = 0;
        tpe[k] = run(a, f4, 4, NULL, &n);
        ASSERT_EQ(n, 60);
        rnd[k] = run(b, f4, 4, NULL, &n);
        ASSERT_EQ(n, 60);
        wins += tpe[k] > rnd[k];
        coord_spec_destroy(&a);
        coord_spec_destroy(&b);
    }
    qsort(tpe, SEEDS, sizeof *tpe, cmp_double);
    qsort(rnd, SEEDS, sizeof *rnd, cmp_double);
    double mt = 0.5 * (tpe[SEEDS / 2 - 1] + tpe[SEEDS / 2]);
    double mr = 0.5 * (rnd[SEEDS / 2 - 1] + rnd[SEEDS / 2]);
    fprintf(stderr, "  median best of 60 trials (optimum 0), 4 pending: bayes %.4f, random "
                    "%.4f; bayes better on %d of %d seeds\n", mt, mr, wins, SEEDS);
    ASSERT(mt > mr);
    ASSERT(wins >= SEEDS / 2);
}

// ---------------------------------------------------------------------------
// Determinism, startup, budget

HPT_TEST(tpe_determinism)
{
    enum { N = 60 };  // SPACE4's budget
    coord_spec_t *a = space4("bayes", 7), *b = space4("bayes", 7), *c = space4("bayes", 8);
    static coord_pval_t ta[N * 4], tb[N * 4], tc[N * 4];
    run(a, f4, 3, ta, NULL);
    run(b, f4, 3, tb, NULL);
    run(c, f4, 3, tc, NULL);
    int differ = 0;
    for (int i = 0; i < N * 4; i++) {
        ASSERT(ta[i].num == tb[i].num && strcmp(ta[i].str, tb[i].str) == 0);
        differ += ta[i].num != tc[i].num;
    }
    ASSERT(differ > N);

    // The same scores observed in another interleaving (all at once instead
    // of 3 pending) change the trials after the startup: pending trials are
    // part of the model.
    coord_search_t *s = search(a);
    coord_pval_t v[4];
    int same = 0;
    for (int k = 0; k < N; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        coord_search_observe(s, (uint64_t)k + 1, f4(v));
        same += memcmp(v, ta + 4 * k, sizeof v) == 0;
    }
    ASSERT(same < N);
    coord_search_destroy(&s);
    coord_spec_destroy(&a);
    coord_spec_destroy(&b);
    coord_spec_destroy(&c);
}

HPT_TEST(tpe_startup_is_random)
{
    // Until n_startup trials have scores, bayes draws exactly what random
    // search draws from the same seed; failures and pending trials do not
    // count towards the startup.
    coord_spec_t *a = parse("dataset: mnist\nmethod: bayes\nseed: 3\nbudget: {max_trials: 30}\n"
                            "tpe: {n_startup: 5, startup: random}\n"
                            "parameters:\n"
                            "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
                            "  units: {values: [8, 16, 32]}\n");
    coord_spec_t *b = parse("dataset: mnist\nmethod: random\nseed: 3\nbudget: {max_trials: 30}\n"
                            "parameters:\n"
                            "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
                            "  units: {values: [8, 16, 32]}\n");
    ASSERT_EQ(a->tpe.n_startup, 5);
    ASSERT_EQ(a->tpe.n_candidates, 96);
    ASSERT_NEAR(a->tpe.gamma, 0.1, 0);
    coord_search_t *sa = search(a), *sb = search(b);
    ASSERT(strcmp(sa->ops->name, "bayes") == 0);
    ASSERT_EQ(coord_search_total(sa), 30);
    coord_pval_t va[2], vb[2];
    for (int k = 0; k < 9; k++) {
        ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_OK);
        ASSERT_EQ(coord_search_suggest(sb, vb), COORD_SEARCH_OK);
        ASSERT(va[0].num == vb[0].num && va[1].num == vb[1].num);
        // Trials 1..4 score, 5..8 fail, 9 stays pending: 4 scores < 5.
        if (k < 4)
            coord_search_observe(sa, (uint64_t)k + 1, 0.5);
        else if (k < 8)
            coord_search_observe(sa, (uint64_t)k + 1, NAN);
    }
    coord_search_observe(sa, 9, 0.7);  // the fifth score: TPE from now on
    ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_OK);
    ASSERT_EQ(coord_search_suggest(sb, vb), COORD_SEARCH_OK);
    ASSERT(va[0].num != vb[0].num);
    // Exactly max_trials, then DONE; observing unknown or repeated trials is
    // harmless.
    coord_search_observe(sa, 10, 0.1);
    coord_search_observe(sa, 10, 0.9);
    coord_search_observe(sa, 999, 0.9);
    coord_search_observe(sa, 0, 0.9);
    int n = 10;
    while (coord_search_suggest(sa, va) == COORD_SEARCH_OK) {
        ASSERT(va[0].num >= 0 && va[0].num <= 0.5);
        ASSERT(va[1].num == 8 || va[1].num == 16 || va[1].num == 32);
        n++;
    }
    ASSERT_EQ(n, 30);
    ASSERT(coord_search_done(sa));
    ASSERT_EQ(coord_search_suggest(sa, va), COORD_SEARCH_DONE);
    coord_search_destroy(&sa);
    coord_search_destroy(&sb);
    coord_spec_destroy(&a);
    coord_spec_destroy(&b);
}

HPT_TEST(tpe_startup_stratified)
{
    // The default start: a Latin hypercube over the n_startup trials.  Each
    // parameter's range is cut into n_startup strata of equal probability
    // and every stratum holds exactly one start-up trial: 8 trials put one
    // dropout in each eighth of [0, 0.8), each of 4 optimizers twice, and
    // each of batch_size's 8 lattice points (q_uniform, equal shares) once.
    for (int seed = 1; seed <= 5; seed++) {
        char text[512];
        snprintf(text, sizeof text,
                 "dataset: mnist\nmethod: bayes\nseed: %d\nbudget: {max_trials: 12}\n"
                 "tpe: {n_startup: 8}\n"
                 "parameters:\n"
                 "  dropout: {distribution: uniform, min: 0, max: 0.8}\n"
                 "  optimizer: {values: [sgd, adam, rmsprop, nadam]}\n"
                 "  batch_size: {distribution: q_uniform, min: 16, max: 128, q: 16}\n", seed);
        coord_spec_t *spec = parse(text);
        ASSERT(spec->tpe.stratified);
        coord_search_t *s = search(spec);
        int eighth[8] = {0}, opt[4] = {0}, bs[8] = {0};
        coord_pval_t v[3];
        for (int k = 0; k < 8; k++) {
            ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
            int e = (int)(v[0].num / 0.1);
            ASSERT(e >= 0 && e < 8);
            eighth[e]++;
            for (int j = 0; j < 4; j++)
                opt[j] += strcmp(v[1].str, spec->params[1].values[j].str) == 0;
            ASSERT(fmod(v[2].num, 16) == 0 && v[2].num >= 16 && v[2].num <= 128);
            bs[(int)v[2].num / 16 - 1]++;
            coord_search_observe(s, (uint64_t)k + 1, v[0].num);
        }
        for (int j = 0; j < 8; j++) {
            ASSERT_EQ(eighth[j], 1);
            ASSERT_EQ(bs[j], 1);
        }
        for (int j = 0; j < 4; j++)
            ASSERT_EQ(opt[j], 2);
        // Then TPE, within the ranges.
        for (int k = 8; k < 12; k++) {
            ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
            ASSERT(v[0].num >= 0 && v[0].num <= 0.8);
            coord_search_observe(s, (uint64_t)k + 1, v[0].num);
        }
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
        coord_search_destroy(&s);
        coord_spec_destroy(&spec);
    }
}

/* A diagonal ridge: the best dropout equals input_dropout, anywhere along
 * it; each parameter alone says nothing. */
static double f_ridge(const coord_pval_t *v)
{
    return -fabs(v[0].num - v[1].num);
}

HPT_TEST(tpe_multivariate_follows_a_ridge)
{
    // The joint model sees that good trials lie on the diagonal; the
    // independent one only sees two flat marginals.
    enum { SEEDS = 20 };
    double mv[SEEDS], ind[SEEDS];
    int wins = 0;
    for (int k = 0; k < SEEDS; k++) {
        for (int joint = 0; joint < 2; joint++) {
            char text[512];
            snprintf(text, sizeof text,
                     "dataset: mnist\nmethod: bayes\nseed: %d\nbudget: {max_trials: 40}\n"
                     "tpe: {multivariate: %s}\n"
                     "parameters:\n"
                     "  dropout: {distribution: uniform, min: 0, max: 0.9}\n"
                     "  input_dropout: {distribution: uniform, min: 0, max: 0.9}\n",
                     200 + k, joint ? "true" : "false");
            coord_spec_t *spec = parse(text);
            ASSERT(spec->tpe.multivariate == (joint == 1));
            static coord_pval_t trace[40 * 2];
            run(spec, f_ridge, 1, trace, NULL);
            // Mean distance from the ridge over the last 20 trials.
            double d = 0;
            for (int t = 20; t < 40; t++)
                d += fabs(trace[2 * t].num - trace[2 * t + 1].num) / 20;
            (joint ? mv : ind)[k] = d;
            coord_spec_destroy(&spec);
        }
        wins += mv[k] < ind[k];
    }
    qsort(mv, SEEDS, sizeof *mv, cmp_double);
    qsort(ind, SEEDS, sizeof *ind, cmp_double);
    fprintf(stderr, "  median distance from the ridge, trials 21-40: multivariate %.4f, "
                    "independent %.4f; multivariate closer on %d of %d seeds\n",
            mv[SEEDS / 2], ind[SEEDS / 2], wins, SEEDS);
    ASSERT(mv[SEEDS / 2] < 0.85 * ind[SEEDS / 2]);
    ASSERT(wins >= 14);
}

// ---------------------------------------------------------------------------
// The constant liar and failures

static double f_peak(const coord_pval_t *v)
{
    return -fabs(v[0].num - 0.3);
}

/* After 30 sequential trials on a 1-D peak, 8 suggestions in a row without
 * observations: the mean distance from each to its nearest neighbour. */
static double batch_spread(bool liar, int seed)
{
    char text[512];
    snprintf(text, sizeof text,
             "dataset: mnist\nmethod: bayes\nseed: %d\nbudget: {max_trials: 38}\n"
             "tpe: {constant_liar: %s}\n"
             "parameters: {dropout: {distribution: uniform, min: 0, max: 0.9}}\n",
             seed, liar ? "true" : "false");
    coord_spec_t *spec = parse(text);
    coord_search_t *s = search(spec);
    coord_pval_t v[1];
    for (int k = 0; k < 30; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        coord_search_observe(s, (uint64_t)k + 1, f_peak(v));
    }
    double x[8], sum = 0;
    for (int k = 0; k < 8; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        x[k] = v[0].num;
    }
    for (int i = 0; i < 8; i++) {
        double nn = INFINITY;
        for (int j = 0; j < 8; j++)
            if (j != i && fabs(x[i] - x[j]) < nn)
                nn = fabs(x[i] - x[j]);
        sum += nn;
    }
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
    return sum / 8;
}

HPT_TEST(tpe_constant_liar_spreads_batches)
{
    double with = 0, without = 0;
    for (int seed = 1; seed <= 10; seed++) {
        with += batch_spread(true, seed);
        without += batch_spread(false, seed);
    }
    fprintf(stderr, "  mean nearest-neighbour gap in a batch of 8 pending suggestions: "
                    "liar %.4f, no liar %.4f\n", with / 10, without / 10);
    ASSERT(with > 1.5 * without);
}

static double f_fails(const coord_pval_t *v)
{
    // Fails (NaN, a crashed trial) for dropout > 0.45, half the range; best at 0.2.
    return v[0].num > 0.45 ? NAN : -fabs(v[0].num - 0.2);
}

HPT_TEST(tpe_failures_are_worst)
{
    // Failed trials count as the worst score: TPE learns to avoid the
    // failing half of the range, which random search hits half of the
    // time.
    int failed = 0, total = 0;
    for (int seed = 1; seed <= 5; seed++) {
        char text[512];
        snprintf(text, sizeof text,
                 "dataset: mnist\nmethod: bayes\nseed: %d\nbudget: {max_trials: 60}\n"
                 "parameters: {dropout: {distribution: uniform, min: 0, max: 0.9}}\n", seed);
        coord_spec_t *spec = parse(text);
        static coord_pval_t trace[60];
        run(spec, f_fails, 2, trace, NULL);
        for (int k = 30; k < 60; k++) {
            failed += trace[k].num > 0.45;
            total++;
        }
        coord_spec_destroy(&spec);
    }
    fprintf(stderr, "  failing trials among trials 31-60: %d of %d (random: 1/2)\n", failed,
            total);
    ASSERT(failed * 6 < total);
}

// ---------------------------------------------------------------------------
// Parameter kinds, conditions and enqueue

static const char KINDS[] =
    "dataset: mnist\nmethod: bayes\nseed: 5\nbudget: {max_trials: 80}\n"
    "tpe: {n_startup: 8, n_candidates: 16, gamma: 0.25, prior_weight: 2.0}\n"
    "parameters:\n"
    "  layers: {values: [1, 2, 3]}\n"                                               // 0
    "  units_2: {distribution: q_uniform, min: 20, max: 250, q: 16,\n"              // 1
    "            when: {layers: {min: 2}}}\n"
    "  momentum: {distribution: q_uniform, min: 0.1, max: 0.9, q: 0.2}\n"           // 2
    "  nesterov: {values: [true, false], when: {optimizer: [sgd]}}\n"               // 3
    "  optimizer: {distribution: categorical, values: [sgd, adam],\n"               // 4
    "              probabilities: [0.3, 0.7]}\n"
    "  batch_size: {value: 64}\n"                                                   // 5
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 0.1}\n"  // 6
    "  epochs: {value: 3}\n";                                                       // 7

static double f_kinds(const coord_pval_t *v)
{
    return -fabs(v[0].num - 2) - (v[1].absent ? 1 : fabs(v[1].num - 128) / 128) -
           fabs(log10(v[6].num) + 3);
}

HPT_TEST(tpe_kinds_and_conditions)
{
    // nesterov is listed before the optimizer it depends on: refused.
    coord_spec_t *bad = NULL;
    hpt_err err = {0};
    ASSERT_EQ(coord_spec_parse(KINDS, strlen(KINDS), "test.yaml", &bad, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "optimizer must be listed before nesterov");
    // With nesterov's condition on the earlier layers instead.
    char text[sizeof KINDS];
    snprintf(text, sizeof text, "%s", KINDS);
    char *w = strstr(text, "when: {optimizer: [sgd]}");
    ASSERT(w != NULL);
    memcpy(w, "when: {layers: [1, 3]}  ", strlen("when: {optimizer: [sgd]}"));
    coord_spec_t *spec = parse(text);
    ASSERT_EQ(spec->tpe.n_startup, 8);
    ASSERT_EQ(spec->tpe.n_candidates, 16);
    ASSERT_NEAR(spec->tpe.prior_weight, 2.0, 0);
    static coord_pval_t trace[80 * 8];
    int n = 0;
    run(spec, f_kinds, 4, trace, &n);
    ASSERT_EQ(n, 80);
    int absent2 = 0, late_good = 0;
    for (int k = 0; k < n; k++) {
        const coord_pval_t *v = trace + 8 * k;
        // units_2 exactly when layers >= 2, a multiple of 16 in [32, 240].
        ASSERT(v[1].absent == (v[0].num < 2));
        if (!v[1].absent)
            ASSERT(fmod(v[1].num, 16) == 0 && v[1].num >= 32 && v[1].num <= 240);
        absent2 += v[1].absent;
        // momentum on the 0.2 lattice in [0.1, 0.9]: 0.2, 0.4, 0.6, 0.8.
        ASSERT(v[2].num > 0.1 && v[2].num < 0.9);
        ASSERT_NEAR(v[2].num / 0.2, round(v[2].num / 0.2), 1e-9);
        // nesterov only for layers 1 and 3.
        ASSERT(v[3].absent == (v[0].num == 2));
        if (!v[3].absent)
            ASSERT(v[3].num == 0 || v[3].num == 1);
        ASSERT(strcmp(v[4].str, "sgd") == 0 || strcmp(v[4].str, "adam") == 0);
        ASSERT(v[5].num == 64 && !v[5].absent);
        ASSERT(v[6].num >= 1e-4 && v[6].num <= 0.1);
        if (k >= 40)
            late_good += v[0].num == 2 && !v[1].absent && fabs(v[1].num - 128) <= 32;
    }
    ASSERT(absent2 > 0 && absent2 < n);
    // TPE homes in on layers 2 with units_2 near 128.
    ASSERT(late_good >= 15);
    coord_spec_destroy(&spec);
}

HPT_TEST(tpe_enqueue_first)
{
    coord_spec_t *spec = parse(
        "dataset: mnist\nmethod: bayes\nseed: 9\nbudget: {max_trials: 20}\n"
        "tpe: {n_startup: 2}\n"
        "enqueue:\n"
        "  - {dropout: 0.3, optimizer: adam}\n"
        "  - {dropout: 0.05, optimizer: sgd}\n"
        "parameters:\n"
        "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
        "  optimizer: {values: [sgd, adam]}\n");
    ASSERT_EQ(spec->n_enqueue, 2);
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 20);
    coord_pval_t v[2];
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    ASSERT(v[0].num == 0.3 && strcmp(v[1].str, "adam") == 0);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    ASSERT(v[0].num == 0.05 && strcmp(v[1].str, "sgd") == 0);
    // The enqueued trials' scores count towards n_startup: TPE starts now
    // (trial 3 is not random search's first draw from the same seed), and
    // with trial 1 far better it favours dropout near 0.3 with adam.
    coord_search_observe(s, 1, 0.99);
    coord_search_observe(s, 2, 0.10);
    coord_spec_t *rspec = parse("dataset: mnist\nmethod: random\nseed: 9\n"
                                "budget: {max_trials: 20}\n"
                                "parameters:\n"
                                "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
                                "  optimizer: {values: [sgd, adam]}\n");
    coord_search_t *rs = search(rspec);
    coord_pval_t rv[2];
    ASSERT_EQ(coord_search_suggest(rs, rv), COORD_SEARCH_OK);
    int near = 0, adam = 0;
    for (int k = 3; k <= 20; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        if (k == 3)
            ASSERT(v[0].num != rv[0].num);
        near += fabs(v[0].num - 0.3) < 0.1;
        adam += strcmp(v[1].str, "adam") == 0;
        coord_search_observe(s, (uint64_t)k, 0.5 - fabs(v[0].num - 0.3));
    }
    // Uniform sampling would give 7.2 near and 9 adam of 18.
    fprintf(stderr, "  of 18 TPE trials: %d with dropout within 0.1 of 0.3, %d adam\n", near,
            adam);
    ASSERT(near >= 9 && adam >= 12);
    coord_search_destroy(&rs);
    coord_spec_destroy(&rspec);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// Pinned suggestions: the fast paths of the joint model change its cost, not
// its choices

/* The space of bench/search_cost.c (6 parameters, every numeric kind the
 * joint model scores differently: log, lattice of step 16, int, continuous)
 * plus a q_log_uniform_values and a normal, with n_startup = N random trials
 * observed, then TPE: 12 suggestions, the first 9 observed at once and the
 * last 3 left pending (so the constant liar's kernels are in the model).
 * The hash (FNV-1a over each value's bits, or its index for a list) of the
 * TPE suggestions was recorded from tpe.c as of commit dfbbbe8, before the
 * joint model's evaluation was restructured for speed (branch tpecost): any
 * change in what the model suggests changes it. */
static const char PIN_SPACE[] =
    "dataset: mnist\n"
    "method: bayes\n"
    "seed: %d\n"
    "budget: {max_trials: %d}\n"
    "tpe: {n_startup: %d, multivariate: %s, equal_heights: %s}\n"
    "parameters:\n"
    "  optimizer: {values: [sgd, nesterov, rmsprop, adagrad, adadelta, adam, adamax, nadam]}\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
    "  batch_size: {distribution: q_uniform, min: 16, max: 512, q: 16}\n"
    "  units: {distribution: int_uniform, min: 8, max: 512}\n"
    "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
    "  activation: {values: [relu, tanh, elu, selu]}\n"
    "  epochs: {distribution: q_log_uniform_values, min: 2, max: 64, q: 1}\n"
    "  momentum: {distribution: normal, mu: 0.9, sigma: 0.05}\n";

static double f_pin(const coord_pval_t *v)
{
    double a = log10(v[1].num) + 2.5, b = v[4].num - 0.2, c = log2(v[3].num) - 8;
    return 0.9 - 0.02 * a * a - 0.05 * fabs(b) - 0.01 * fabs(c) -
           (strcmp(v[0].str, "adam") == 0 ? 0 : 0.01) - 0.001 * fabs(v[7].num - 0.93) -
           0.0001 * v[2].num / 16 - 0.002 * fabs(log2(v[6].num) - 4);
}

static uint64_t pin_hash(int seed, int n_hist, const char *multivariate, const char *equal)
{
    enum { N_TPE = 12, N_PENDING = 3 };
    char text[sizeof PIN_SPACE + 128];
    snprintf(text, sizeof text, PIN_SPACE, seed, n_hist + N_TPE, n_hist, multivariate, equal);
    coord_spec_t *spec = parse(text);
    coord_search_t *s = search(spec);
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < n_hist + N_TPE; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        if (k < n_hist + N_TPE - N_PENDING)
            coord_search_observe(s, (uint64_t)k + 1, f_pin(v));
        if (k < n_hist)
            continue;
        for (int i = 0; i < spec->n_params; i++) {
            const coord_param_t *p = &spec->params[i];
            uint64_t bits = 0;
            if (p->dist == COORD_PDIST_VALUES) {
                for (int j = 0; j < p->n_values; j++)
                    if (coord_pval_equal(p, &p->values[j], &v[i]))
                        bits = (uint64_t)j + 1;
            } else {
                memcpy(&bits, &v[i].num, sizeof bits);
            }
            for (int byte = 0; byte < 8; byte++)
                h = (h ^ ((bits >> (8 * byte)) & 0xff)) * 1099511628211ull;
        }
    }
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
    return h;
}

HPT_TEST(tpe_suggestions_pinned)
{
    static const struct {
        int seed, n_hist;
        const char *multivariate, *equal;
        uint64_t hash;
    } pins[] = {
        {1, 40, "true", "false", 0x5bb2cdc0df49a245ull},
        {2, 400, "true", "false", 0xd3274ff72f93d125ull},
        {3, 2000, "true", "false", 0xca38a9e6dac274b1ull},
        {4, 300, "true", "true", 0x075249a894184e15ull},
        {5, 300, "false", "false", 0x9230e0816c889ae8ull},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        uint64_t h = pin_hash(pins[i].seed, pins[i].n_hist, pins[i].multivariate, pins[i].equal);
        if (h != pins[i].hash) {
            fprintf(stderr, "seed %d, %d trials, multivariate %s, equal_heights %s: suggestions "
                    "hash to 0x%016llxull, pinned 0x%016llxull\n",
                    pins[i].seed, pins[i].n_hist, pins[i].multivariate, pins[i].equal,
                    (unsigned long long)h, (unsigned long long)pins[i].hash);
            bad++;
        }
    }
    if (bad)
        HPT__FAIL("%d of the pinned suggestion sequences changed", bad);
}

HPT_TEST_MAIN()
