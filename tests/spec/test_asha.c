/*
 * test_asha.c: method asha (coordinator/search/asha.c) through the search.h
 * interface: a schedule worked by hand and listed in full, the asynchronous
 * behaviour (never WAIT while a configuration can start), budget.max_trials
 * and enqueue, and every suggestion of long randomised runs checked against
 * a reference get_job() (Li et al. 2020, Algorithm 2) written out here.
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

/* Rungs 1, 3, 9 epochs (eta 3), `extra` before the parameters. */
static const char SPEC9[] = "dataset: mnist\n"
                            "method: asha\n"
                            "asha: {min_epochs: 1, max_epochs: 9, eta: 3}\n"
                            "%s"
                            "parameters:\n"
                            "  units: {distribution: int_uniform, min: 1, max: 1000}\n";

static coord_spec_t *spec9(const char *extra)
{
    char text[sizeof SPEC9 + 256];
    snprintf(text, sizeof text, SPEC9, extra);
    return parse(text);
}

// ---------------------------------------------------------------------------
// The trials of a run, and a reference get_job()

#define MAX_TRIALS 2048

typedef struct trial {
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    uint64_t parent;       // s->parent after its suggestion
    int config;            // 1, 2, ... in the order configurations started
    int rung;
    bool observed, promoted;
    double score;
} trial_t;

typedef struct run {
    const coord_spec_t *spec;
    coord_search_t *s;
    trial_t t[MAX_TRIALS];  // trial k at t[k - 1]
    long n;
    int configs;
} run_t;

static int rung_of(const coord_spec_t *spec, double epochs)
{
    for (int r = 0; r < spec->sh.n_rungs; r++)
        if (spec->sh.rung_epochs[r] == epochs)
            return r;
    HPT__FAIL("%g epochs is not a rung", epochs);
}

static void run_start(run_t *run, const coord_spec_t *spec)
{
    memset(run, 0, sizeof *run);
    run->spec = spec;
    run->s = search(spec);
}

/* For qsort: trials by score (maximized or not), then by number. */
static const trial_t *g_trials;
static bool g_maximize;

static int by_score(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    double x = g_trials[a - 1].score, y = g_trials[b - 1].score;
    if (x != y)
        return (g_maximize ? x > y : x < y) ? -1 : 1;
    return a < b ? -1 : 1;
}

/* The parent get_job() promotes now (0: none): for k = K - 1 down to 0, the
 * best trial among the top floor(observed_k / eta) of rung k by score that
 * is not promoted yet; failed trials have no score. */
static uint64_t reference_promotion(const run_t *run)
{
    const coord_spec_t *spec = run->spec;
    int K = spec->sh.n_rungs - 1, eta = spec->sh.eta;
    static uint64_t scored[MAX_TRIALS];
    for (int k = K - 1; k >= 0; k--) {
        long observed = 0, n = 0;
        for (long j = 0; j < run->n; j++) {
            const trial_t *t = &run->t[j];
            if (t->rung != k || !t->observed)
                continue;
            observed++;
            if (!isnan(t->score))
                scored[n++] = (uint64_t)j + 1;
        }
        g_trials = run->t;
        g_maximize = spec->maximize;
        qsort(scored, (size_t)n, sizeof *scored, by_score);
        long top = observed / eta;
        for (long i = 0; i < top && i < n; i++)
            if (!run->t[scored[i] - 1].promoted)
                return scored[i];
    }
    return 0;
}

static long pending_below_top(const run_t *run)
{
    long n = 0;
    for (long j = 0; j < run->n; j++)
        n += !run->t[j].observed && run->t[j].rung < run->spec->sh.n_rungs - 1;
    return n;
}

/* One suggestion, checked against the reference: returns its result. */
static int step(run_t *run)
{
    const coord_spec_t *spec = run->spec;
    int rp = spec->resource_param;
    uint64_t want_parent = reference_promotion(run);
    bool want_new = !want_parent && run->configs < spec->max_trials;
    int want = want_parent || want_new ? COORD_SEARCH_OK
               : pending_below_top(run) > 0 ? COORD_SEARCH_WAIT
                                            : COORD_SEARCH_DONE;
    bool done_before = coord_search_done(run->s);
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    int r = coord_search_suggest(run->s, v);
    if (r != want)
        HPT__FAIL("after %ld trials: want %d, got %d", run->n, want, r);
    ASSERT(done_before == (r == COORD_SEARCH_DONE));
    if (r != COORD_SEARCH_OK)
        return r;
    ASSERT(run->n < MAX_TRIALS);
    trial_t *t = &run->t[run->n++];
    memcpy(t->v, v, sizeof v);
    t->parent = run->s->parent;
    t->rung = rung_of(spec, v[rp].num);
    if (t->parent != want_parent)
        HPT__FAIL("trial %ld: want parent %llu, got %llu", run->n,
                  (unsigned long long)want_parent, (unsigned long long)t->parent);
    if (t->parent) {
        trial_t *p = &run->t[t->parent - 1];
        ASSERT_EQ(t->rung, p->rung + 1);
        for (int i = 0; i < spec->n_params; i++)
            if (i != rp)
                ASSERT(coord_pval_equal(&spec->params[i], &t->v[i], &p->v[i]));
        p->promoted = true;
        t->config = p->config;
    } else {
        ASSERT_EQ(t->rung, 0);
        t->config = ++run->configs;
    }
    hpt_hparams_t hp;
    ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
    ASSERT_EQ(hp.epochs, spec->sh.rung_epochs[t->rung]);
    return r;
}

static void observe(run_t *run, uint64_t k, double score)
{
    trial_t *t = &run->t[k - 1];
    ASSERT(!t->observed);
    t->observed = true;
    t->score = score;
    coord_search_observe(run->s, k, score);
}

static void run_end(run_t *run)
{
    coord_search_destroy(&run->s);
}

// ---------------------------------------------------------------------------
// By hand

/* Configurations 1..9 score base[c] + 0.01 rung (accuracy, maximized). */
static const double BASE[10] = {0, .5, .7, .6, .9, .4, .8, .3, .95, .2};

typedef struct want {
    uint64_t parent;  // 0: a new configuration
    int epochs;
} want_t;

/* Sequential (each trial observed when suggested), max_trials 9:
 *   1-3   configurations 1-3 (.5 .7 .6); rung 0 has 3 scores, so its top 1
 *   4     promotes 2 (.7) to 3 epochs (.71);
 *   5     configuration 4 (.9): nothing left in the top 1 of rung 0 (2 is
 *         promoted) or rung 1 (one score: top 0);
 *   6     promotes 5 (.9 beats 2) to 3 epochs (.91);
 *   7, 8  configurations 5 (.4), 6 (.8);
 *   9     rung 0 has 6 scores, top 2 = 5, 8: promotes 8 (.81);
 *   10    rung 1 has 3 scores, top 1 = 6 (.91): promotes it to 9 epochs;
 *   11,12 configurations 7 (.3), 8 (.95);
 *   13    rung 0's top 2 = 12, 5: promotes 12 (.96);
 *   14    rung 1's top 1 = 13: promotes it to 9 epochs;
 *   15    configuration 9 (.2), the last one;
 *   then rung 0's top 3 (12, 5, 8) and rung 1's top 1 (13) are promoted
 *   and nothing is pending: DONE. */
static const want_t BY_HAND[15] = {
    {0, 1}, {0, 1}, {0, 1}, {2, 3}, {0, 1}, {5, 3}, {0, 1}, {0, 1},
    {8, 3}, {6, 9}, {0, 1}, {0, 1}, {12, 3}, {13, 9}, {0, 1},
};

HPT_TEST(asha_by_hand)
{
    coord_spec_t *spec = spec9("budget: {max_trials: 9}\n");
    run_t *run = calloc(1, sizeof *run);
    run_start(run, spec);
    ASSERT(strcmp(run->s->ops->name, "asha") == 0);
    ASSERT_EQ(coord_search_total(run->s), -1);
    for (int k = 1; k <= 15; k++) {
        ASSERT_EQ(step(run), COORD_SEARCH_OK);
        const trial_t *t = &run->t[k - 1];
        int epochs = spec->sh.rung_epochs[t->rung];
        fprintf(stderr, "    trial %d: parent %llu, %d epochs\n", k,
                (unsigned long long)t->parent, epochs);
        if (t->parent != BY_HAND[k - 1].parent || epochs != BY_HAND[k - 1].epochs)
            HPT__FAIL("trial %d: want parent %llu with %d epochs", k,
                      (unsigned long long)BY_HAND[k - 1].parent, BY_HAND[k - 1].epochs);
        observe(run, (uint64_t)k, BASE[t->config] + 0.01 * t->rung);
    }
    ASSERT_EQ(run->configs, 9);
    ASSERT(coord_search_done(run->s));
    ASSERT_EQ(step(run), COORD_SEARCH_DONE);
    ASSERT_EQ(run->s->parent, 0);
    run_end(run);

    // Minimized, the same scores promote the lowest: 1 (.5) after three.
    coord_spec_destroy(&spec);
    spec = spec9("budget: {max_trials: 9}\nmetric: {name: log_loss}\n");
    run_start(run, spec);
    for (int k = 1; k <= 4; k++) {
        ASSERT_EQ(step(run), COORD_SEARCH_OK);
        observe(run, (uint64_t)k, BASE[run->t[k - 1].config]);
    }
    ASSERT_EQ(run->t[3].parent, 1);
    run_end(run);
    free(run);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// Asynchronous

HPT_TEST(asha_never_waits_while_a_configuration_can_start)
{
    coord_spec_t *spec = spec9("budget: {max_trials: 9}\n");
    run_t *run = calloc(1, sizeof *run);
    run_start(run, spec);
    // Nothing observed: all nine configurations start, no waiting for rung 0
    // to fill.
    for (int k = 1; k <= 9; k++) {
        ASSERT_EQ(step(run), COORD_SEARCH_OK);
        ASSERT_EQ(run->t[k - 1].parent, 0);
    }
    // Then nothing until a score allows a promotion.
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);
    ASSERT(!coord_search_done(run->s));
    observe(run, 4, 0.9);
    observe(run, 7, 0.3);
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);  // 2 scores: top 0
    observe(run, 2, 0.5);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);    // 3 scores: top 1 = 4
    ASSERT_EQ(run->t[9].parent, 4);
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);
    // A failed trial counts in observed_k but is never promoted: with 6
    // observed (three failed), the top 2 are 4 (promoted) and 2.
    observe(run, 1, NAN);
    observe(run, 3, NAN);
    observe(run, 5, NAN);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);
    ASSERT_EQ(run->t[10].parent, 2);
    // Repeats and unknown trials are ignored.
    coord_search_observe(run->s, 2, 0.99);
    coord_search_observe(run->s, 999, 0.99);
    coord_search_observe(run->s, 0, 0.99);
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);
    // Rung 1 (trials 10, 11): a third score there would allow a promotion to
    // rung 2.  Observe everything: 6, 8, 9 at rung 0 (9 observed, top 3:
    // 4, 2 and the best of them).
    observe(run, 6, 0.1);
    observe(run, 8, 0.8);
    observe(run, 9, 0.2);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);
    ASSERT_EQ(run->t[11].parent, 8);
    observe(run, 10, 0.7);
    observe(run, 11, 0.6);
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);  // trial 12 pending at rung 1
    observe(run, 12, 0.95);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);    // rung 1 top 1 = 12
    ASSERT_EQ(run->t[12].parent, 12);
    // Trial 13 is at the top rung: it cannot allow anything, so DONE now.
    ASSERT(coord_search_done(run->s));
    ASSERT_EQ(step(run), COORD_SEARCH_DONE);
    observe(run, 13, 0.97);
    ASSERT_EQ(step(run), COORD_SEARCH_DONE);
    run_end(run);
    free(run);
    coord_spec_destroy(&spec);
}

/* A score with ties, failures and a ranking that changes with the rung. */
static double score_of(const trial_t *t)
{
    double u = t->v[0].num;
    if (fmod(u, 13) == 0)
        return NAN;
    return floor(fmod(u * 0.37 + t->rung * 0.29, 1.0) * 20) / 20;  // 20 levels: ties
}

static uint64_t lcg(uint64_t *x)
{
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    return *x >> 33;
}

/* Up to `parallel` trials out; when that many are out, or on WAIT, one
 * pending trial (chosen by the LCG) is observed.  Every suggestion is
 * checked against the reference. */
static void random_run(const coord_spec_t *spec, int parallel, uint64_t order_seed, run_t *run)
{
    run_start(run, spec);
    uint64_t pend[MAX_TRIALS], x = order_seed;
    int np = 0, waits = 0;
    for (;;) {
        int r = np < parallel ? step(run) : COORD_SEARCH_WAIT;
        if (r == COORD_SEARCH_OK) {
            pend[np++] = (uint64_t)run->n;
            continue;
        }
        if (r == COORD_SEARCH_DONE)
            break;
        if (np < parallel) {
            waits++;
            ASSERT_EQ(run->configs, spec->max_trials);  // never while one can start
        }
        ASSERT(np > 0);
        int i = (int)(lcg(&x) % (uint64_t)np);
        uint64_t k = pend[i];
        pend[i] = pend[--np];
        observe(run, k, score_of(&run->t[k - 1]));
    }
    while (np > 0) {
        uint64_t k = pend[--np];
        ASSERT_EQ(run->t[k - 1].rung, spec->sh.n_rungs - 1);  // only the top rung is left
        observe(run, k, score_of(&run->t[k - 1]));
    }
    ASSERT_EQ(step(run), COORD_SEARCH_DONE);
    ASSERT_EQ(run->configs, spec->max_trials);
    fprintf(stderr, "  %d in parallel, order %llu: %ld trials, %d waits\n", parallel,
            (unsigned long long)order_seed, run->n, waits);
    run_end(run);
}

HPT_TEST(asha_reference_runs)
{
    coord_spec_t *spec = parse("dataset: mnist\nmethod: asha\nseed: 9\n"
                               "asha: {min_epochs: 1, max_epochs: 27, eta: 3}\n"
                               "budget: {max_trials: 300}\n"
                               "parameters:\n"
                               "  units: {distribution: int_uniform, min: 1, max: 65536}\n"
                               "  optimizer: {values: [adam, sgd]}\n");
    run_t *run = calloc(1, sizeof *run), *again = calloc(1, sizeof *again);
    static const int parallel[] = {1, 2, 8, 40, 400};
    for (int p = 0; p < 5; p++)
        for (uint64_t order = 1; order <= 3; order++)
            random_run(spec, parallel[p], order, run);
    // Determinism: the same calls give the same trials.
    random_run(spec, 8, 2, run);
    random_run(spec, 8, 2, again);
    ASSERT_EQ(run->n, again->n);
    for (long k = 0; k < run->n; k++) {
        ASSERT_EQ(run->t[k].parent, again->t[k].parent);
        for (int i = 0; i < spec->n_params; i++)
            ASSERT(coord_pval_equal(&spec->params[i], &run->t[k].v[i], &again->t[k].v[i]));
    }
    free(run);
    free(again);
    coord_spec_destroy(&spec);

    // Minimized, with two rungs only and a large eta.
    spec = parse("dataset: mnist\nmethod: asha\nmetric: {name: log_loss}\n"
                 "asha: {min_epochs: 3, max_epochs: 15, eta: 5}\n"
                 "budget: {max_trials: 100}\n"
                 "parameters: {units: {distribution: int_uniform, min: 1, max: 65536}}\n");
    run = calloc(1, sizeof *run);
    random_run(spec, 1, 1, run);
    random_run(spec, 10, 4, run);
    free(run);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// budget.max_trials and enqueue

HPT_TEST(asha_enqueue_and_max_trials)
{
    // Enqueued trials are the first configurations, at rung 0, and count
    // towards max_trials; the best of them is promoted like any trial.
    coord_spec_t *spec = spec9("budget: {max_trials: 4}\n"
                               "enqueue: [{units: 777}, {units: 5}, {units: 6}]\n");
    run_t *run = calloc(1, sizeof *run);
    run_start(run, spec);
    for (int k = 1; k <= 3; k++) {
        ASSERT_EQ(step(run), COORD_SEARCH_OK);
        ASSERT(run->t[k - 1].rung == 0 && run->t[k - 1].parent == 0);
    }
    ASSERT(run->t[0].v[0].num == 777 && run->t[1].v[0].num == 5);
    observe(run, 2, 0.2);
    observe(run, 1, 0.9);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);  // the fourth and last configuration
    ASSERT_EQ(run->t[3].parent, 0);
    ASSERT_EQ(step(run), COORD_SEARCH_WAIT);
    observe(run, 3, 0.5);
    ASSERT_EQ(step(run), COORD_SEARCH_OK);  // 3 scores: top 1 = the enqueued 777
    ASSERT_EQ(run->t[4].parent, 1);
    ASSERT_EQ(run->configs, 4);
    run_end(run);
    coord_spec_destroy(&spec);

    // Every trial failing: nothing is promoted, and max_trials
    // configurations run.
    spec = spec9("budget: {max_trials: 7}\n");
    run_start(run, spec);
    for (int k = 1; k <= 7; k++) {
        ASSERT_EQ(step(run), COORD_SEARCH_OK);
        observe(run, (uint64_t)k, NAN);
    }
    ASSERT_EQ(step(run), COORD_SEARCH_DONE);
    ASSERT_EQ(run->n, 7);
    run_end(run);
    free(run);

    // A spec built by hand without max_trials is refused.
    spec->max_trials = 0;
    coord_search_t *s = NULL;
    hpt_err err = {0};
    ASSERT_EQ(coord_search_new(&s, spec, &err), -EINVAL);
    ASSERT(s == NULL && strcmp(err.msg, "budget.max_trials: required by method asha") == 0);
    coord_spec_destroy(&spec);
}

HPT_TEST_MAIN()
