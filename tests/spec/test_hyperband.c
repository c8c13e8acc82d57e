/*
 * test_hyperband.c: method hyperband (coordinator/search/hyperband.c)
 * through the search.h interface.
 *
 * The paper's example (Li et al. 2018, Table 1: R = 81, eta = 3) is run to
 * the end, sequentially and with every available trial out at once, and
 * each run is checked against the table: trials per (bracket, rung), every
 * promotion the next best of its rung by score, with its parent's values
 * and the next rung's epochs.  A small case (1..9 epochs) is worked by hand
 * and its trials listed in full.
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
// Driving a search to the end

#define MAX_TRIALS 512
#define MAX_BATCHES 64

typedef struct trial {
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    uint64_t parent;       // s->parent after its suggestion
    int epochs;
    double score;
    bool observed;
} trial_t;

/* A trial's score from its values (t->v, t->epochs) and number. */
typedef double (*score_fn)(const coord_spec_t *spec, const trial_t *t, uint64_t number);

typedef struct run {
    trial_t t[MAX_TRIALS];   // trial k at t[k - 1]
    long n;
    int batch[MAX_BATCHES];  // trials handed out between two WAITs
    int n_batches;
} run_t;

static void observe(coord_search_t *s, run_t *run, score_fn f, uint64_t k)
{
    trial_t *t = &run->t[k - 1];
    t->score = f(s->spec, t, k);
    t->observed = true;
    coord_search_observe(s, k, t->score);
}

/* Run the search to DONE.  Sequential: each trial is observed as soon as it
 * is suggested (and WAIT must never come).  Otherwise every trial the search
 * has is taken, and at each WAIT all pending trials are observed, newest
 * first.  Each suggestion is checked: done() announces DONE exactly, a new
 * configuration has parent 0, a promotion its parent's values with more
 * epochs. */
static void drive(const coord_spec_t *spec, score_fn f, bool sequential, run_t *run)
{
    coord_search_t *s = search(spec);
    int rp = spec->resource_param;
    memset(run, 0, sizeof *run);
    uint64_t pend[MAX_TRIALS];
    int np = 0;
    for (;;) {
        bool done_before = coord_search_done(s);
        coord_pval_t v[COORD_SPEC_MAX_PARAMS];
        int r = coord_search_suggest(s, v);
        ASSERT(done_before == (r == COORD_SEARCH_DONE));
        if (r == COORD_SEARCH_OK) {
            ASSERT(run->n < MAX_TRIALS);
            uint64_t k = (uint64_t)++run->n;
            ASSERT_EQ(s->suggested, run->n);
            trial_t *t = &run->t[k - 1];
            memcpy(t->v, v, sizeof v);
            t->parent = s->parent;
            t->epochs = (int)v[rp].num;
            ASSERT(v[rp].num == t->epochs && !v[rp].absent);
            hpt_hparams_t hp;
            ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
            ASSERT_EQ(hp.epochs, t->epochs);
            if (t->parent) {
                ASSERT(t->parent < k);
                const trial_t *p = &run->t[t->parent - 1];
                ASSERT(p->observed);  // promoted on its score
                ASSERT(t->epochs > p->epochs);
                for (int i = 0; i < spec->n_params; i++)
                    if (i != rp)
                        ASSERT(coord_pval_equal(&spec->params[i], &t->v[i], &p->v[i]));
            }
            if (run->n_batches == 0)
                run->n_batches = 1;
            run->batch[run->n_batches - 1]++;
            if (sequential)
                observe(s, run, f, k);
            else
                pend[np++] = k;
            continue;
        }
        if (r == COORD_SEARCH_DONE) {
            ASSERT(coord_search_done(s));
            while (np > 0)
                observe(s, run, f, pend[--np]);
            break;
        }
        ASSERT(!sequential && np > 0);  // WAIT only while something is pending
        while (np > 0)
            observe(s, run, f, pend[--np]);
        ASSERT(run->n_batches < MAX_BATCHES);
        run->n_batches++;
    }
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    ASSERT_EQ(s->observed, run->n);
    coord_search_destroy(&s);
}

/* The first trial of k's chain of promotions (a new configuration). */
static uint64_t root(const run_t *run, uint64_t k)
{
    while (run->t[k - 1].parent)
        k = run->t[k - 1].parent;
    return k;
}

/* Whether trial a ranks before trial b: failed last, then the better
 * score, then the lower number. */
static bool ranks_before(const coord_spec_t *spec, const run_t *run, uint64_t a, uint64_t b)
{
    double x = run->t[a - 1].score, y = run->t[b - 1].score;
    if (isnan(x) != isnan(y))
        return !isnan(x);
    if (!isnan(x) && x != y)
        return spec->maximize ? x > y : x < y;
    return a < b;
}

/* Check one bracket (the configurations whose chain starts at trial
 * numbers [lo, hi] with e0 epochs) against the sizes want[0..n_rungs): each
 * rung's trials, and each rung's promotions the next best of the rung
 * below, in rank order. */
static void check_bracket(const coord_spec_t *spec, const run_t *run, uint64_t lo, uint64_t hi,
                          int first_rung, const long *want, int n_rungs)
{
    const int *re = spec->sh.rung_epochs;
    uint64_t members[MAX_TRIALS], prev[MAX_TRIALS];
    long n_prev = 0;
    for (int i = 0; i < n_rungs; i++) {
        long n = 0;
        for (long k = 1; k <= run->n; k++) {
            uint64_t r = root(run, (uint64_t)k);
            if (r >= lo && r <= hi && run->t[k - 1].epochs == re[first_rung + i])
                members[n++] = (uint64_t)k;
        }
        if (n != want[i])
            HPT__FAIL("bracket from %d epochs, rung %d (%d epochs): want %ld trials, got %ld",
                      re[first_rung], i, re[first_rung + i], want[i], n);
        if (i > 0) {
            /* Rank the rung below by selection sort; the promotions, in the
             * order they were handed out, must be its first n. */
            for (long a = 0; a < n_prev; a++)
                for (long b = a + 1; b < n_prev; b++)
                    if (ranks_before(spec, run, prev[b], prev[a])) {
                        uint64_t x = prev[a];
                        prev[a] = prev[b];
                        prev[b] = x;
                    }
            for (long j = 0; j < n; j++) {
                const trial_t *t = &run->t[members[j] - 1];
                if (t->parent != prev[j])
                    HPT__FAIL("rung %d epochs, promotion %ld: want trial %llu, got %llu",
                              re[first_rung + i], j, (unsigned long long)prev[j],
                              (unsigned long long)t->parent);
            }
        } else {
            for (long j = 0; j < n; j++)
                ASSERT_EQ(run->t[members[j] - 1].parent, 0);
        }
        memcpy(prev, members, (size_t)n * sizeof *members);
        n_prev = n;
    }
}

// ---------------------------------------------------------------------------
// The paper's table

static const char SPEC81[] = "dataset: mnist\n"
                             "method: hyperband\n"
                             "hyperband: {min_epochs: 1, max_epochs: 81, eta: 3}\n"
                             "seed: 3\n"
                             "parameters:\n"
                             "  units: {distribution: int_uniform, min: 1, max: 65536}\n"
                             "  dropout: {distribution: uniform, min: 0, max: 0.5}\n"
                             "  optimizer: {values: [adam, sgd]}\n";

/* A score whose ranking changes with the epochs, and fails 1 time in 23. */
static double f81(const coord_spec_t *spec, const trial_t *t, uint64_t k)
{
    (void)spec;
    (void)k;
    double units = t->v[0].num, dropout = t->v[1].num;
    if (fmod(units, 23) == 0)
        return NAN;
    return fmod(units * 0.001 + dropout * 7 + t->epochs * 0.37, 1.0);
}

/* Li et al. 2018, Table 1: per bracket s = 4..0, the trials per rung. */
static const long TABLE1[5][5] = {
    {81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5},
};

/* The brackets run in order (sequentially, bracket s = 4 first); each one's
 * new configurations start at rung_epochs[K - s]. */
static void check_table1(const coord_spec_t *spec, const run_t *run)
{
    ASSERT_EQ(run->n, 206);
    for (int s = 4; s >= 0; s--) {
        int first = 4 - s;
        /* The bracket's configurations: the new ones with its first epochs. */
        uint64_t lo = 0, hi = 0;
        for (long k = 1; k <= run->n; k++)
            if (run->t[k - 1].parent == 0 &&
                run->t[k - 1].epochs == spec->sh.rung_epochs[first]) {
                lo = lo ? lo : (uint64_t)k;
                hi = (uint64_t)k;
            }
        ASSERT(lo > 0);
        check_bracket(spec, run, lo, hi, first, TABLE1[first], s + 1);
    }
}

HPT_TEST(hyperband_table1)
{
    coord_spec_t *spec = parse(SPEC81);
    static const int rungs[] = {1, 3, 9, 27, 81};
    ASSERT_EQ(spec->sh.n_rungs, 5);
    for (int r = 0; r < 5; r++)
        ASSERT_EQ(spec->sh.rung_epochs[r], rungs[r]);
    coord_search_t *s = search(spec);
    ASSERT(strcmp(s->ops->name, "hyperband") == 0);
    // 121 + 49 + 21 + 10 + 5
    ASSERT_EQ(coord_search_total(s), 206);
    coord_search_destroy(&s);

    static run_t seq, par, again;
    drive(spec, f81, true, &seq);
    check_table1(spec, &seq);
    // Sequentially each bracket ends before the next starts: bracket s = 4
    // is trials 1..121, s = 3 is 122..170, and so on.
    ASSERT_EQ(seq.n_batches, 1);
    ASSERT(seq.t[120].epochs == 81 && root(&seq, 121) <= 81);
    ASSERT(seq.t[121].parent == 0 && seq.t[121].epochs == 3);
    ASSERT(seq.t[169].epochs == 81 && root(&seq, 170) >= 122);
    ASSERT(seq.t[170].parent == 0 && seq.t[170].epochs == 9);

    // Everything at once: all five rung 0s first (81 + 34 + 15 + 8 + 5), then
    // each round of promotions (27 + 11 + 5 + 2, 9 + 3 + 1, 3 + 1, 1).
    drive(spec, f81, false, &par);
    check_table1(spec, &par);
    static const int batches[] = {143, 45, 13, 4, 1};
    ASSERT_EQ(par.n_batches, 5);
    for (int b = 0; b < 5; b++)
        ASSERT_EQ(par.batch[b], batches[b]);

    // Determinism: the same calls give the same trials.
    drive(spec, f81, false, &again);
    ASSERT_EQ(again.n, par.n);
    for (long k = 0; k < par.n; k++) {
        ASSERT_EQ(again.t[k].parent, par.t[k].parent);
        for (int i = 0; i < spec->n_params; i++)
            ASSERT(coord_pval_equal(&spec->params[i], &again.t[k].v[i], &par.t[k].v[i]));
    }
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// A small case by hand: 1..9 epochs, eta 3

static const char SPEC9[] = "dataset: mnist\n"
                            "method: hyperband\n"
                            "hyperband: {max_epochs: 9}\n"
                            "%s"
                            "parameters:\n"
                            "  units: {distribution: int_uniform, min: 1, max: 1000}\n";

static coord_spec_t *spec9(const char *extra)
{
    char text[sizeof SPEC9 + 256];
    snprintf(text, sizeof text, SPEC9, extra);
    return parse(text);
}

/* Scores by trial number (index 0 unused). */
static const double *g_scores;

static double by_number(const coord_spec_t *spec, const trial_t *t, uint64_t k)
{
    (void)spec;
    (void)t;
    return g_scores[k];
}

typedef struct step {
    uint64_t parent;  // 0 for a new configuration
    int epochs;
} step_t;

static void expect_steps(const run_t *run, const step_t *want, int n)
{
    for (int k = 0; k < n && k < run->n; k++) {
        fprintf(stderr, "    trial %d: parent %llu, %d epochs\n", k + 1,
                (unsigned long long)run->t[k].parent, run->t[k].epochs);
        if (run->t[k].parent != want[k].parent || run->t[k].epochs != want[k].epochs)
            HPT__FAIL("trial %d: want parent %llu with %d epochs, got parent %llu with %d",
                      k + 1, (unsigned long long)want[k].parent, want[k].epochs,
                      (unsigned long long)run->t[k].parent, run->t[k].epochs);
    }
    ASSERT_EQ(run->n, n);
}

/* K = 2, rungs 1, 3, 9.  Brackets:
 *   s = 2: n = ceil(3/3 * 9) = 9: 9 x 1 epoch, 3 x 3, 1 x 9
 *   s = 1: n = ceil(3/2 * 3) = 5: 5 x 3, 1 x 9
 *   s = 0: n = ceil(3/1 * 1) = 3: 3 x 9
 * 22 trials.  Sequentially, with the scores below (accuracy, maximized):
 *   trials 1-9 (rung 0 of s = 2): .3 .9 fail .5 .7 .2 .8 .4 .6 -> the best
 *     three are 2, 7, 5, promoted in that order as trials 10, 11, 12;
 *   10-12: .5 .95 .6 -> 11 is promoted as 13 (9 epochs);
 *   14-18 (s = 1): .4 .4 fail .6 .6 -> 17 and 18 tie: the lower number, 17,
 *     is promoted as 19;
 *   20-22 (s = 0): three new configurations with 9 epochs. */
static const double SCORES_SEQ[23] = {
    0, .3, .9, NAN, .5, .7, .2, .8, .4, .6, .5, .95, .6, .97, .4, .4, NAN, .6, .6, .5, .1, .2,
    .3,
};
static const step_t STEPS_SEQ[22] = {
    {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1},
    {2, 3}, {7, 3}, {5, 3}, {11, 9},
    {0, 3}, {0, 3}, {0, 3}, {0, 3}, {0, 3}, {17, 9},
    {0, 9}, {0, 9}, {0, 9},
};

/* With every available trial out at once:
 *   batch 1: rung 0 of all three brackets: 1-9 (1 epoch), 10-14 (3 epochs),
 *            15-17 (9 epochs); then WAIT;
 *   batch 2: scores 1-9 as above: 2, 7, 5 promoted as 18-20; scores 10-14
 *            .4 .4 fail .6 .6: 13 promoted as 21 (9 epochs); then WAIT;
 *   batch 3: 18-20 scored .5 .95 .6: 19 promoted as 22.  Then DONE. */
static const double SCORES_PAR[23] = {
    0, .3, .9, NAN, .5, .7, .2, .8, .4, .6, .4, .4, NAN, .6, .6, .1, .2, .3, .5, .95, .6, .9,
    .9,
};
static const step_t STEPS_PAR[22] = {
    {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1},
    {0, 3}, {0, 3}, {0, 3}, {0, 3}, {0, 3},
    {0, 9}, {0, 9}, {0, 9},
    {2, 3}, {7, 3}, {5, 3}, {13, 9},
    {19, 9},
};

HPT_TEST(hyperband_by_hand)
{
    coord_spec_t *spec = spec9("");
    ASSERT_EQ(spec->sh.n_rungs, 3);
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 22);
    coord_search_destroy(&s);

    static run_t run;
    g_scores = SCORES_SEQ;
    fprintf(stderr, "  sequential\n");
    drive(spec, by_number, true, &run);
    expect_steps(&run, STEPS_SEQ, 22);

    g_scores = SCORES_PAR;
    fprintf(stderr, "  all at once\n");
    drive(spec, by_number, false, &run);
    expect_steps(&run, STEPS_PAR, 22);
    ASSERT_EQ(run.n_batches, 3);
    ASSERT_EQ(run.batch[0], 17);
    ASSERT_EQ(run.batch[1], 4);
    ASSERT_EQ(run.batch[2], 1);
    coord_spec_destroy(&spec);

    // Minimized (log loss): the lowest scores are promoted; failures last.
    // Rung 0 of s = 2 scored .3 .9 fail .5 .7 .2 .8 .4 .6 -> 6, 1, 8.
    spec = spec9("metric: {name: log_loss}\n");
    ASSERT(!spec->maximize);
    g_scores = SCORES_SEQ;
    drive(spec, by_number, true, &run);
    ASSERT_EQ(run.n, 22);
    ASSERT_EQ(run.t[9].parent, 6);
    ASSERT_EQ(run.t[10].parent, 1);
    ASSERT_EQ(run.t[11].parent, 8);
    // 10-12 (from 6, 1, 8) scored .5 .95 .6 -> 10; 14-18 .4 .4 fail .6 .6 -> 14.
    ASSERT_EQ(run.t[12].parent, 10);
    ASSERT_EQ(run.t[18].parent, 14);
    coord_spec_destroy(&spec);
}

HPT_TEST(hyperband_waits_only_when_every_bracket_waits)
{
    coord_spec_t *spec = spec9("");
    coord_search_t *s = search(spec);
    coord_pval_t v[2];
    // 17 trials: the three brackets' rung 0.
    for (int k = 1; k <= 17; k++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT_EQ(s->parent, 0);
    }
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    ASSERT(!coord_search_done(s));
    // Bracket s = 1 (trials 10-14) complete first: its promotion comes out
    // while bracket s = 2 still waits for trial 9.
    for (uint64_t k = 10; k <= 14; k++)
        coord_search_observe(s, k, 0.1 * (double)k);
    for (uint64_t k = 1; k <= 8; k++)
        coord_search_observe(s, k, 0.5);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    ASSERT_EQ(s->parent, 14);
    ASSERT(v[1].num == 9);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    // Repeats and unknown trials are ignored.
    coord_search_observe(s, 8, 0.99);
    coord_search_observe(s, 99, 0.99);
    coord_search_observe(s, 0, 0.99);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    // The last score of rung 0 of s = 2: ties among 1..8 (all 0.5) go to the
    // lower numbers, below 9's 0.7.
    coord_search_observe(s, 9, 0.7);
    static const uint64_t want[3] = {9, 1, 2};
    for (int j = 0; j < 3; j++) {
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
        ASSERT_EQ(s->parent, want[j]);
        ASSERT(v[1].num == 3);
    }
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    // Trials 15-17 (bracket s = 0) and 18 (s = 1's top rung) are still
    // pending and hold nothing up.
    for (uint64_t k = 19; k <= 21; k++)
        coord_search_observe(s, k, 0.5);
    ASSERT(!coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    ASSERT_EQ(s->parent, 19);  // ties: the lowest number
    ASSERT(v[1].num == 9);
    // Every bracket has handed out its top rung: DONE, with trials pending.
    ASSERT(coord_search_done(s));
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    ASSERT_EQ(s->parent, 0);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// budget.max_trials, iterations, enqueue

/* For the 1..9 specs (units, then epochs): a ranking that changes with the
 * epochs. */
static double f9(const coord_spec_t *spec, const trial_t *t, uint64_t k)
{
    (void)spec;
    (void)k;
    return fmod(t->v[0].num * 0.013 + t->epochs * 0.37, 1.0);
}

/* The rung sizes of the 1..9 brackets with a cap; counts new configurations
 * and trials per epochs, sequentially. */
static void expect_capped(const char *extra, long total, const long *per_bracket_new)
{
    coord_spec_t *spec = spec9(extra);
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), total);
    coord_search_destroy(&s);
    static run_t run;
    drive(spec, f9, true, &run);
    ASSERT_EQ(run.n, total);
    long fresh[3] = {0};
    for (long k = 0; k < run.n; k++)
        if (run.t[k].parent == 0)
            fresh[run.t[k].epochs == 1 ? 0 : run.t[k].epochs == 3 ? 1 : 2]++;
    for (int b = 0; b < 3; b++)
        ASSERT_EQ(fresh[b], per_bracket_new[b]);
    coord_spec_destroy(&spec);
}

HPT_TEST(hyperband_max_trials)
{
    // 12 new configurations: s = 2 takes 9 (9, 3, 1), s = 1 the other 3
    // (3, max(1, 3/3) = 1), s = 0 none: 13 + 4 trials.
    static const long n12[3] = {9, 3, 0};
    expect_capped("budget: {max_trials: 12}\n", 17, n12);
    // 10: s = 1 keeps 1 configuration, and promotes it (at least 1).
    static const long n10[3] = {9, 1, 0};
    expect_capped("budget: {max_trials: 10}\n", 15, n10);
    // 4: s = 2 alone, with 4, max(1, 4/3) = 1, max(1, 4/9) = 1.
    static const long n4[3] = {4, 0, 0};
    expect_capped("budget: {max_trials: 4}\n", 6, n4);
    // More than hyperband uses changes nothing.
    static const long n99[3] = {9, 5, 3};
    expect_capped("budget: {max_trials: 99}\n", 22, n99);
}

HPT_TEST(hyperband_iterations)
{
    coord_spec_t *spec = parse("dataset: mnist\nmethod: hyperband\n"
                 "hyperband: {max_epochs: 9, iterations: 2}\n"
                 "parameters: {units: {distribution: int_uniform, min: 1, max: 1000}}\n");
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 44);
    coord_search_destroy(&s);
    static run_t run;
    drive(spec, f9, true, &run);
    ASSERT_EQ(run.n, 44);
    // The second iteration repeats the brackets: trials 23-31 are new with 1
    // epoch, as 1-9 were.
    for (long k = 22; k < 31; k++)
        ASSERT(run.t[k].parent == 0 && run.t[k].epochs == 1);
    check_bracket(spec, &run, 23, 31, 0, (const long[]){9, 3, 1}, 3);
    drive(spec, f9, false, &run);
    ASSERT_EQ(run.n, 44);
    // All six rung 0s (17 + 17), then 4 + 4 promotions, then 1 + 1.
    ASSERT_EQ(run.n_batches, 3);
    ASSERT_EQ(run.batch[0], 34);
    coord_spec_destroy(&spec);
}

static double enq_score(const coord_spec_t *spec, const trial_t *t, uint64_t k)
{
    (void)spec;
    (void)k;
    return t->v[0].num == 777 ? 1.0 : 0.001 * t->v[0].num;  // 777 beats every draw
}

HPT_TEST(hyperband_enqueue)
{
    // Enqueued trials are the first bracket's first configurations, at
    // 1 epoch, and count towards its 9.
    coord_spec_t *spec = parse("dataset: mnist\nmethod: hyperband\n"
                               "hyperband: {max_epochs: 9}\n"
                               "enqueue: [{units: 777}, {units: 5}]\n"
                               "parameters: {units: {distribution: int_uniform, min: 1, "
                               "max: 1000}}\n");
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), 22);
    coord_search_destroy(&s);
    static run_t run;
    drive(spec, enq_score, false, &run);
    ASSERT_EQ(run.n, 22);
    ASSERT(run.t[0].v[0].num == 777 && run.t[0].epochs == 1 && run.t[0].parent == 0);
    ASSERT(run.t[1].v[0].num == 5 && run.t[1].epochs == 1);
    for (long k = 2; k < 9; k++)
        ASSERT(run.t[k].parent == 0 && run.t[k].epochs == 1);
    ASSERT(run.t[9].parent == 0 && run.t[9].epochs == 3);  // bracket s = 1
    ASSERT_EQ(run.t[17].parent, 1);  // the best of rung 0 is the enqueued 777
    check_bracket(spec, &run, 1, 9, 0, (const long[]){9, 3, 1}, 3);
    coord_spec_destroy(&spec);

    // With max_trials, enqueued trials count towards it.
    spec = parse("dataset: mnist\nmethod: hyperband\nhyperband: {max_epochs: 9}\n"
                 "budget: {max_trials: 3}\n"
                 "enqueue: [{units: 777}, {units: 5}]\n"
                 "parameters: {units: {distribution: int_uniform, min: 1, max: 1000}}\n");
    s = search(spec);
    ASSERT_EQ(coord_search_total(s), 5);  // 3, 1, 1
    coord_search_destroy(&s);
    drive(spec, enq_score, true, &run);
    ASSERT_EQ(run.n, 5);
    ASSERT_EQ(run.t[3].parent, 1);
    ASSERT_EQ(run.t[4].parent, 4);
    coord_spec_destroy(&spec);
}

HPT_TEST(hyperband_init_checks)
{
    // A spec built by hand (not by the parser) is still checked.
    coord_spec_t *spec = spec9("");
    coord_search_t *s = NULL;
    hpt_err err = {0};
    int rp = spec->resource_param;
    spec->resource_param = -1;
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    ASSERT(s == NULL && strcmp(err.msg, "hyperband: the spec has no epochs parameter") == 0);
    spec->resource_param = rp;
    spec->sh.rung_epochs[1] = 1;
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    ASSERT(strcmp(err.msg, "hyperband: rung epochs must increase from 1") == 0);
    coord_spec_destroy(&spec);
}

HPT_TEST_MAIN()
