/*
 * test_coordinate.c: method coordinate (coordinator/search/coordinate.c)
 * through the search.h interface, on hand-made objectives whose sequence of
 * configurations is worked out in the comments and listed in full.
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

/* A trial as text, "64 sgd 8", absent values as "-". */
static void show(const coord_spec_t *spec, const coord_pval_t *v, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < spec->n_params && off < len; i++) {
        if (spec->params[i].dist == COORD_PDIST_VALUE)
            continue;  // constants are the same in every trial
        char one[64];
        coord_pval_format(&spec->params[i], &v[i], one, sizeof one);
        off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? " " : "",
                                v[i].absent ? "-" : one);
    }
}

typedef double (*objective_fn)(const coord_pval_t *v);

/* Run the search to the end with up to `parallel` trials pending, observing
 * the NEWEST pending trial first (the order must not matter), and check the
 * trials against want[] (n_want entries). */
static void expect_trials(const coord_spec_t *spec, objective_fn f, int parallel,
                          const char *const *want, int n_want)
{
    coord_search_t *s = search(spec);
    enum { MAXP = 8 };
    uint64_t pend[MAXP];
    double score[MAXP];
    int np = 0, n = 0, waits = 0;
    coord_pval_t v[COORD_SPEC_MAX_PARAMS];
    char got[256];
    for (;;) {
        bool done_before = coord_search_done(s);  // done() must announce DONE exactly
        int r = np < parallel ? coord_search_suggest(s, v) : COORD_SEARCH_WAIT;
        if (np < parallel)
            ASSERT(done_before == (r == COORD_SEARCH_DONE));
        if (r == COORD_SEARCH_OK) {
            show(spec, v, got, sizeof got);
            fprintf(stderr, "    trial %d: %s\n", n + 1, got);
            if (n >= n_want)
                HPT__FAIL("trial %d (%s) is one too many", n + 1, got);
            if (strcmp(got, want[n]) != 0)
                HPT__FAIL("trial %d: want %s, got %s", n + 1, want[n], got);
            hpt_hparams_t hp;
            ASSERT_OK(coord_spec_apply(spec, v, &hp, NULL));
            n++;
            pend[np] = (uint64_t)n;
            score[np++] = f(v);
            continue;
        }
        if (r == COORD_SEARCH_DONE) {
            /* Trials may still be out when budget.max_trials ends the
             * search; otherwise the last sweep's winner needs them all. */
            ASSERT(coord_search_done(s));
            ASSERT(np == 0 || spec->max_trials > 0);
            while (np > 0) {
                np--;
                coord_search_observe(s, pend[np], score[np]);
            }
            break;
        }
        waits += np < parallel;
        ASSERT(np > 0);  // WAIT only while something is pending
        np--;
        coord_search_observe(s, pend[np], score[np]);
    }
    ASSERT_EQ(n, n_want);
    ASSERT(waits > 0 || parallel == 1);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_DONE);
    coord_search_destroy(&s);
}

// ---------------------------------------------------------------------------
// The sweep order

static const char SPEC3[] = "dataset: mnist\nmethod: coordinate\n%s"
                            "parameters:\n"
                            "  batch_size: {values: [32, 64, 128]}\n"
                            "  optimizer: {values: [sgd, adam, rmsprop], start: adam}\n"
                            "  epochs: {value: 3}\n"
                            "  units: {values: [8, 16]}\n";

/* Additive scores plus one interaction (sgd with batch 128) that only a
 * second round finds:
 *   batch_size 32: 0.1, 64: 0.3, 128: 0.2
 *   optimizer sgd: 0.3, adam: 0.1, rmsprop: 0.0
 *   units 8: 0.0, 16: 0.1
 *   sgd and 128 together: +0.3 */
static double f3(const coord_pval_t *v)
{
    double b = v[0].num == 32 ? 0.1 : v[0].num == 64 ? 0.3 : 0.2;
    double o = strcmp(v[1].str, "sgd") == 0 ? 0.3 : strcmp(v[1].str, "adam") == 0 ? 0.1 : 0.0;
    double u = v[3].num == 16 ? 0.1 : 0.0;
    double x = strcmp(v[1].str, "sgd") == 0 && v[0].num == 128 ? 0.3 : 0.0;
    return b + o + u + x;
}

static coord_spec_t *spec3(const char *extra)
{
    char text[sizeof SPEC3 + 256];
    snprintf(text, sizeof text, SPEC3, extra);
    return parse(text);
}

/* Round 1 from the start (32, adam, 8):
 *   batch_size: 32 adam 8 = 0.2, 64 adam 8 = 0.4, 128 adam 8 = 0.3 -> 64
 *   optimizer:  64 sgd 8 = 0.6, (64 adam 8 reused), 64 rmsprop 8 = 0.3 -> sgd
 *   units:      (64 sgd 8 reused), 64 sgd 16 = 0.7 -> 16
 * Round 2 from (64, sgd, 16):
 *   batch_size: 32 sgd 16 = 0.5, (64 sgd 16), 128 sgd 16 = 0.9 -> 128
 *   optimizer:  (128 sgd 16), 128 adam 16 = 0.4, 128 rmsprop 16 = 0.3 -> sgd
 *   units:      128 sgd 8 = 0.8, (128 sgd 16) -> 16 */
static const char *const ROUND1[] = {
    "32 adam 8", "64 adam 8", "128 adam 8",  // batch_size
    "64 sgd 8", "64 rmsprop 8",              // optimizer
    "64 sgd 16",                             // units
};
static const char *const ROUND2[] = {
    "32 sgd 16", "128 sgd 16",               // batch_size
    "128 adam 16", "128 rmsprop 16",         // optimizer
    "128 sgd 8",                             // units
};

HPT_TEST(coordinate_one_round)
{
    coord_spec_t *spec = spec3("");
    ASSERT_EQ(spec->rounds, 1);
    coord_search_t *s = search(spec);
    ASSERT(strcmp(s->ops->name, "coordinate") == 0);
    // One round, no conditions, no enqueue: 1 + 2 + 2 + 1 trials.
    ASSERT_EQ(coord_search_total(s), 6);
    coord_search_destroy(&s);
    for (int parallel = 1; parallel <= 4; parallel += 3) {
        fprintf(stderr, "  %d pending at most\n", parallel);
        expect_trials(spec, f3, parallel, ROUND1, 6);
    }
    coord_spec_destroy(&spec);
}

HPT_TEST(coordinate_two_rounds)
{
    coord_spec_t *spec = spec3("coordinate: {rounds: 2}\n");
    ASSERT_EQ(spec->rounds, 2);
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), -1);  // repeats depend on the winners
    coord_search_destroy(&s);
    const char *want[11];
    memcpy(want, ROUND1, sizeof ROUND1);
    memcpy(want + 6, ROUND2, sizeof ROUND2);
    expect_trials(spec, f3, 3, want, 11);
    coord_spec_destroy(&spec);
}

HPT_TEST(coordinate_waits_for_the_sweep)
{
    coord_spec_t *spec = spec3("");
    coord_search_t *s = search(spec);
    coord_pval_t v[4];
    for (int k = 0; k < 3; k++)
        ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    // The batch_size sweep is out: nothing more until all three are in.
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    coord_search_observe(s, 3, 0.3);
    coord_search_observe(s, 1, 0.2);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_WAIT);
    ASSERT(!coord_search_done(s));
    // Trial 2 failed: 128 (0.3) wins over 32 (0.2).
    coord_search_observe(s, 2, NAN);
    ASSERT_EQ(coord_search_suggest(s, v), COORD_SEARCH_OK);
    ASSERT(v[0].num == 128 && strcmp(v[1].str, "sgd") == 0 && v[3].num == 8);
    coord_search_destroy(&s);
    coord_spec_destroy(&spec);
}

static double f_flat(const coord_pval_t *v)
{
    (void)v;
    return 0.5;
}

HPT_TEST(coordinate_ties_keep_the_current_value)
{
    // Every score equal: each sweep keeps the start (64, rmsprop, 16).
    coord_spec_t *spec = parse("dataset: mnist\nmethod: coordinate\n"
                               "parameters:\n"
                               "  batch_size: {values: [32, 64, 128], start: 64}\n"
                               "  optimizer: {values: [sgd, adam, rmsprop], start: rmsprop}\n"
                               "  epochs: {value: 3}\n"
                               "  units: {values: [8, 16], start: 16}\n");
    static const char *const want[] = {
        "32 rmsprop 16", "64 rmsprop 16", "128 rmsprop 16",
        "64 sgd 16", "64 adam 16",
        "64 rmsprop 8",
    };
    expect_trials(spec, f_flat, 2, want, 6);
    coord_spec_destroy(&spec);
}

// ---------------------------------------------------------------------------
// Conditions and enqueue

static double f_deep(const coord_pval_t *v)
{
    // Two layers beat one; 16 units in layer 2 beat 8; relu beats tanh.
    double s = v[0].num == 2 ? 0.8 : 0.6;
    if (!v[1].absent)
        s += v[1].num == 16 ? 0.1 : 0.0;
    return s + (strcmp(v[2].str, "relu") == 0 ? 0.05 : 0.0);
}

HPT_TEST(coordinate_conditions)
{
    // units_2 applies only with 2 layers.  Sweeping layers switches it on at
    // its start (16 here; values order 8, 16); once layers 2 wins, it is
    // swept; a second round re-uses everything but the new combinations.
    coord_spec_t *spec = parse("dataset: mnist\nmethod: coordinate\n"
                               "coordinate: {rounds: 2}\n"
                               "parameters:\n"
                               "  layers: {values: [1, 2]}\n"
                               "  units_2: {values: [8, 16], start: 16, when: {layers: [2]}}\n"
                               "  activation: {values: [tanh, relu]}\n");
    static const char *const want[] = {
        "1 - tanh", "2 16 tanh",  // layers (start 1): 2 wins
        "2 8 tanh",               // units_2: 16 stays
        "2 16 relu",              // activation: relu wins
        "1 - relu",               // round 2, layers: 2 stays
        "2 8 relu",               // units_2: 16 stays; activation: both re-used
    };
    expect_trials(spec, f_deep, 2, want, 6);
    coord_spec_destroy(&spec);

    // When layers 1 wins, units_2 is never swept.
    spec = parse("dataset: mnist\nmethod: coordinate\n"
                 "parameters:\n"
                 "  layers: {values: [2, 1], start: 1}\n"
                 "  units_2: {values: [8, 16], when: {layers: {min: 2}}}\n"
                 "  activation: {values: [tanh, relu]}\n");
    static const char *const want2[] = {"2 8 tanh", "1 - tanh", "1 - relu"};
    expect_trials(spec, f_flat, 2, want2, 3);
    coord_spec_destroy(&spec);
}

HPT_TEST(coordinate_enqueue)
{
    // Enqueued trials come first, and the sweeps re-use their scores: the
    // enqueued 64 sgd 8 is the optimizer sweep's first configuration.
    // The first entry's units default to the first value, the second's
    // optimizer to its start: adam.
    coord_spec_t *spec = spec3("enqueue:\n"
                               "  - {batch_size: 64, optimizer: sgd}\n"
                               "  - {batch_size: 32, units: 16}\n");
    ASSERT_EQ(spec->n_enqueue, 2);
    coord_search_t *s = search(spec);
    ASSERT_EQ(coord_search_total(s), -1);
    coord_search_destroy(&s);
    static const char *const want[] = {
        "64 sgd 8", "32 adam 16",                // enqueued
        "32 adam 8", "64 adam 8", "128 adam 8",  // batch_size -> 64
        "64 rmsprop 8",                          // optimizer (64 sgd 8 re-used) -> sgd
        "64 sgd 16",                             // units -> 16
    };
    expect_trials(spec, f3, 3, want, 7);
    coord_spec_destroy(&spec);

    // budget.max_trials caps the whole search, enqueued trials included.
    spec = spec3("budget: {max_trials: 4}\n");
    s = search(spec);
    ASSERT_EQ(coord_search_total(s), 4);
    coord_search_destroy(&s);
    expect_trials(spec, f3, 2, ROUND1, 4);
    coord_spec_destroy(&spec);
}

HPT_TEST(coordinate_constants_only)
{
    // Nothing to sweep: the start configuration runs once.
    coord_spec_t *spec = parse("dataset: mnist\nmethod: coordinate\n"
                               "parameters: {batch_size: {values: [64]}, epochs: {value: 2}}\n");
    static const char *const want[] = {"64"};
    expect_trials(spec, f_flat, 1, want, 1);
    coord_spec_destroy(&spec);
}

HPT_TEST_MAIN()
