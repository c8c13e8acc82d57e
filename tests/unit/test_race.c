/*
 * test_race.c: racing the leaders (coordinator/core/race.c) against ground
 * truth, driven directly on the sans-IO core under a fake clock.
 *
 * Each run submits a 5-arm grid (units 8 .. 128, 5 folds) with select:
 * {race: true}, plays one fake worker and scores every Assign from a
 * synthetic objective with set means: arm i (trial i) scores
 *     mu_i + sd * (sqrt(rho) c_i + sqrt(1 - rho) e_{i,split,seed})
 * with c_i ~ N(0, 1) drawn once per run (the arm's luck on this data set)
 * and e i.i.d. N(0, 1) per split.  rho = 1/folds is the correlation between
 * an arm's split scores that the corrected resampled t-test assumes (Nadeau
 * & Bengio's n_test / (n_test + n_train)), so the test the race uses is
 * calibrated here and the family-wise error the race promises is what is
 * measured: across hundreds of runs, the truly best arm (the largest mu)
 * must be dropped in at most alpha of them, and a certified winner must be
 * the truly best arm at least 1 - alpha of the time.
 *
 * Other cases: the verdict texts, the budget, a coordinator restart in the
 * middle of a race (the journal rebuilt into a new core) that ends exactly
 * as the uninterrupted race, and a spec without racing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_store.h"
#include "core.h"
#include "hpt_test.h"
#include "rng.h"

#define FP "abababababababababababababababababababababababababababababababab"
#define ARMS 5
#define FOLDS 5

static void test_random(void *ud, void *buf, size_t len)
{
    (void)ud;
    static uint8_t next = 1;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = next++;
}

static const coord_core_cfg_t CFG = {
    .hb_ivl_ms = 1000, .hb_liveness = 3, .max_attempts = 3, .task_stall_s = 30,
    .task_deadline_s = 3600, .random = test_random,
};

static double now = 100.0;

/* The spec: 5 arms, 5 folds, select as given (the text after "select: "). */
static char *spec_text(const char *select)
{
    static char buf[1024];
    snprintf(buf, sizeof buf,
             "name: race-test\n"
             "dataset: mnist\n"
             "method: grid\n"
             "cv: {folds: %d, shuffle: false, seed: 1}\n"
             "refit: true\n"
             "parameters:\n"
             "  units: {values: [8, 16, 32, 64, 128]}\n"
             "  epochs: {value: 1}\n"
             "%s%s\n",
             FOLDS, select ? "select: " : "", select ? select : "");
    return buf;
}

// --- the synthetic objective -------------------------------------------------------

typedef struct world {
    double mu[ARMS], sd, rho;
    double c[ARMS];              // each arm's luck on this data set
    uint64_t seed;
} world_t;

static world_t world_new(const double *mu, double sd, uint64_t seed)
{
    world_t w = {.sd = sd, .rho = 1.0 / FOLDS, .seed = seed};
    hpt_rng_t r;
    uint64_t v[2] = {seed, 0xc0ffee};
    hpt_rng_seed_n(&r, v, 2);
    for (int i = 0; i < ARMS; i++) {
        w.mu[i] = mu[i];
        w.c[i] = hpt_rng_normal(&r);
    }
    return w;
}

static double score_of(const world_t *w, const Hpt__Assign *a)
{
    int arm = (int)a->trial - 1;
    if (a->refit)
        return w->mu[arm];
    hpt_rng_t r;
    uint64_t v[5] = {w->seed, a->trial, a->repeat, a->fold, a->hparams->seed};
    hpt_rng_seed_n(&r, v, 5);
    double e = hpt_rng_normal(&r);
    double s = w->mu[arm] + w->sd * (sqrt(w->rho) * w->c[arm] + sqrt(1 - w->rho) * e);
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

// --- driving the core -----------------------------------------------------------------

typedef struct job {
    uint64_t task;
    uint32_t attempt;
    double score;
    bool race;                   // a CV repeat past the spec's (cv.repeats is 1)
} job_t;

#define MAX_JOBS 4096

typedef struct run {
    coord_core_t k;
    coord_store_t *store;        // journal (NULL: none)
    hpt_peer_id_t peer;
    coord_conn_t conn;
    job_t jobs[MAX_JOBS];        // Assigns not answered yet
    int n_jobs;
    long assigns;                // Assigns received in all
    world_t w;
    uint64_t fail_task;          // when set: the first race task answered, and every later
    bool fail_race;              //   attempt of it, fails (fail_race: on)
} run_t;

/* Drain the outbox: Assigns become jobs (scored now), journal records go to
 * the store; the core's invariants must hold. */
static void drain(run_t *r)
{
    coord_core_t *k = &r->k;
    ASSERT(!k->out.failed);
    for (size_t i = 0; i < k->out.n; i++) {
        const coord_action_t *a = &k->out.v[i];
        if (a->kind == COORD_ACT_JOURNAL && r->store)
            ASSERT_OK(coord_store_apply(r->store, &a->u.journal));
        if (a->kind != COORD_ACT_SEND || a->u.send.body != HPT__ENVELOPE__BODY_ASSIGN)
            continue;
        hpt_err err = {0};
        hpt_env_t *env = NULL;
        if (hpt_proto_decode(a->u.send.buf, a->u.send.len, &env, &err) != 0)
            HPT_TEST_FAIL("the core sent an invalid envelope: %s", err.msg);
        ASSERT(r->n_jobs < MAX_JOBS);
        r->jobs[r->n_jobs++] = (job_t){.task = env->assign->task,
                                       .attempt = env->assign->attempt,
                                       .score = score_of(&r->w, env->assign),
                                       .race = !env->assign->refit && env->assign->repeat >= 1};
        r->assigns++;
        hpt_proto_free(&env);
    }
    coord_outbox_clear(&k->out);
    if (r->store) {
        hpt_err err = {0};
        if (coord_store_flush(r->store, &err) != 0)
            HPT_TEST_FAIL("coord_store_flush: %s", err.msg);
    }
    hpt_err err = {0};
    if (coord_core_check(k, &err) != 0)
        HPT_TEST_FAIL("coord_core_check: %s", err.msg);
}

static void hello(run_t *r, const char *id)
{
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = FP;
    ds.n_train = 60000;
    ds.n_test = 10000;
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = (char *)id;
    m.name = (char *)id;
    m.host = "testhost";
    m.version = "test";
    m.slots = 16;
    m.datasets = dsv;
    m.n_datasets = 1;
    r->peer.len = 5;
    memcpy(r->peer.bytes, id[1] == '1' ? "peer1" : "peer2", 5);
    r->conn.id = id[1] == '1' ? 1 : 2;
    coord_core_hello(&r->k, now, &r->peer, &r->conn, &m);
    drain(r);
}

/* Answer the oldest job. */
static void answer(run_t *r)
{
    job_t j = r->jobs[0];
    memmove(r->jobs, r->jobs + 1, (size_t)(--r->n_jobs) * sizeof *r->jobs);
    Hpt__Result m = HPT__RESULT__INIT;
    m.task = j.task;
    m.attempt = j.attempt;
    m.ok = true;
    m.score = m.accuracy = m.f1_macro = j.score;
    m.log_loss = 0.5;
    m.train_score = NAN;
    m.fit_seconds = 1;
    m.epochs = 1;
    m.n_eval = 100;
    if (r->fail_race && j.race && (!r->fail_task || r->fail_task == j.task)) {
        r->fail_task = j.task;
        m.ok = false;
        m.error = "out of luck";
        m.score = m.accuracy = m.f1_macro = m.log_loss = NAN;
        m.epochs = 0;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = &m;
    now += 0.01;
    coord_core_worker_msg(&r->k, now, &r->peer, &r->conn, &env);
    drain(r);
}

static coord_sweep_t *start(run_t *r, const char *select, const world_t *w, bool journal)
{
    memset(r, 0, sizeof *r);
    r->w = *w;
    if (journal) {
        hpt_err err = {0};
        if (coord_store_open(&r->store, ":memory:", &err) != 0)
            HPT_TEST_FAIL("coord_store_open: %s", err.msg);
    }
    ASSERT_OK(coord_core_init(&r->k, &CFG, 1.7e9));
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    const char *text = spec_text(select);
    if (coord_core_submit(&r->k, now, text, "race.yaml", FP, &s, &err) != 0)
        HPT_TEST_FAIL("submit: %s", err.msg);
    drain(r);
    hello(r, "w1");
    return s;
}

static void finish(run_t *r, coord_sweep_t *s)
{
    for (int guard = 0; s->state < SWEEP_DONE && guard < 100000; guard++) {
        if (r->n_jobs == 0) {
            char buf[256];
            fprintf(stderr, "hang: state %s queued %d running %d race %s\n",
                    coord_sweep_state_name(s->state), s->n_queued, s->tasks_running,
                    coord_race_describe(s, buf, sizeof buf));
        }
        ASSERT(r->n_jobs > 0);   // nothing to run and not done: the sweep hangs
        answer(r);
    }
    ASSERT_EQ(s->state, SWEEP_DONE);
}

static void end(run_t *r)
{
    coord_core_free(&r->k);
    coord_store_close(&r->store);
}

// --- ground truth over many runs ---------------------------------------------------------

#define SELECT_FULL "{race: true, top: 5, max_repeats: 10, budget_tasks: 1000}"

typedef struct tally {
    int runs, best_dropped, any_dropped, certified, certified_right, picked_best, tie;
    int tie_has_best;
    long race_tasks_max;
} tally_t;

/* Run n worlds of the means mu (the best arm is `best`, 1-based) and tally
 * what the races did. */
static tally_t race_many(const double *mu, double sd, int best, int n, uint64_t seed0)
{
    tally_t t = {0};
    run_t *r = malloc(sizeof *r);
    ASSERT(r != NULL);
    for (int i = 0; i < n; i++) {
        world_t w = world_new(mu, sd, seed0 + (uint64_t)i);
        coord_sweep_t *s = start(r, SELECT_FULL, &w, false);
        finish(r, s);
        const coord_race_t *rc = s->race;
        ASSERT(rc != NULL);
        ASSERT(rc->outcome != COORD_RACE_RUNNING);
        ASSERT(rc->winner != NULL);
        ASSERT(s->best == rc->winner);
        /* The refit refits the race's winner. */
        ASSERT(s->refit_task != NULL);
        ASSERT_EQ(s->refit_task->trial, rc->winner);
        ASSERT(rc->tasks_created <= rc->budget);
        ASSERT_EQ(s->tasks_done, ARMS * FOLDS + rc->tasks_created + 1);
        if (rc->tasks_created > t.race_tasks_max)
            t.race_tasks_max = rc->tasks_created;
        bool in = false, any = false;
        for (int l = 0; l < rc->n; l++) {
            any |= rc->v[l].dropped_at != 0;
            if ((int)rc->v[l].trial->number == best)
                in = rc->v[l].dropped_at == 0;
        }
        t.runs++;
        t.best_dropped += !in;
        t.any_dropped += any;
        t.picked_best += (int)rc->winner->number == best;
        if (rc->outcome == COORD_RACE_CERTIFIED) {
            t.certified++;
            t.certified_right += (int)rc->winner->number == best;
        } else {
            t.tie++;
            t.tie_has_best += in;
        }
        end(r);
    }
    free(r);
    printf("  runs %d: best dropped %d, any dropped %d, certified %d (right %d), ties %d "
           "(holding the best %d), picked the best %d, race tasks at most %ld\n",
           t.runs, t.best_dropped, t.any_dropped, t.certified, t.certified_right, t.tie,
           t.tie_has_best, t.picked_best, t.race_tasks_max);
    return t;
}

#define ALPHA 0.05
#define RUNS 300

/* All arms equal: every arm is a best arm, so any drop is a family-wise
 * error; the race must make one in at most alpha of the runs. */
HPT_TEST(null_family_wise_error)
{
    const double mu[ARMS] = {0.9, 0.9, 0.9, 0.9, 0.9};
    tally_t t = race_many(mu, 0.01, 3, RUNS, 1000);
    ASSERT(t.any_dropped <= ALPHA * RUNS);
    /* Nothing to find: the races end in ties, broken by the cheapest arm
     * (units 8, trial 1) unless a drop happened. */
    ASSERT(t.tie >= RUNS - t.any_dropped);
}

/* Close arms: the true best (trial 3, not the cheapest) is dropped in at
 * most alpha of the runs, a certified winner is right at least 1 - alpha
 * of the time, and a tie holds the true best at least 1 - alpha of the
 * time. */
HPT_TEST(close_arms_true_best_kept)
{
    const double mu[ARMS] = {0.890, 0.895, 0.900, 0.880, 0.870};
    tally_t t = race_many(mu, 0.01, 3, RUNS, 5000);
    ASSERT(t.best_dropped <= ALPHA * RUNS);
    ASSERT(t.certified_right >= (1 - ALPHA) * t.certified);
    ASSERT(t.tie_has_best >= (1 - ALPHA) * t.tie);
    ASSERT(t.certified > 0);   // the race does settle some of them
}

/* Well separated arms: the race certifies the true best at least as often
 * as promised (1 - alpha). */
HPT_TEST(separated_arms_certified)
{
    const double mu[ARMS] = {0.86, 0.87, 0.90, 0.85, 0.84};
    tally_t t = race_many(mu, 0.01, 3, RUNS, 9000);
    ASSERT(t.best_dropped <= ALPHA * RUNS);
    ASSERT(t.picked_best >= (1 - ALPHA) * RUNS);
    ASSERT(t.certified_right >= (1 - ALPHA) * RUNS);
}

// --- verdicts and the budget ---------------------------------------------------------------

HPT_TEST(verdict_texts)
{
    run_t *r = malloc(sizeof *r);
    ASSERT(r != NULL);
    /* Separated: certified, with the text the issue asks for. */
    const double sep[ARMS] = {0.80, 0.80, 0.95, 0.80, 0.80};
    world_t w = world_new(sep, 0.01, 7);
    coord_sweep_t *s = start(r, SELECT_FULL, &w, false);
    finish(r, s);
    ASSERT_EQ(s->race->outcome, COORD_RACE_CERTIFIED);
    char want[192];
    snprintf(want, sizeof want,
             "the winner is significantly better than every other leader after %d repeats "
             "(trial 3;",
             s->race->rounds);
    if (strncmp(s->race_verdict, want, strlen(want)) != 0)
        HPT_TEST_FAIL("verdict '%s', want it to start '%s'", s->race_verdict, want);
    char buf[256];
    ASSERT(strcmp(coord_race_describe(s, buf, sizeof buf), s->race_verdict) == 0);
    end(r);

    /* Equal: a tie after max_repeats, broken by the cheapest (units 8). */
    const double eq[ARMS] = {0.9, 0.9, 0.9, 0.9, 0.9};
    w = world_new(eq, 0.0001, 8);
    s = start(r, "{race: true, max_repeats: 2, budget_tasks: 1000}", &w, false);
    finish(r, s);
    ASSERT_EQ(s->race->outcome, COORD_RACE_TIE);
    ASSERT_EQ(s->race->stop, COORD_RACE_STOP_MAX_REPEATS);
    ASSERT_EQ(s->race->rounds, 2);
    ASSERT_EQ(s->best->number, 1);
    const char *tie = "5 trials remain indistinguishable after 2 repeats; choosing the cheapest "
                      "to train among them (trial 1;";
    if (strncmp(s->race_verdict, tie, strlen(tie)) != 0)
        HPT_TEST_FAIL("verdict '%s', want it to start '%s'", s->race_verdict, tie);
    ASSERT_EQ(s->race->tasks_created, 2 * ARMS * FOLDS);
    end(r);

    /* tie_break: best_mean picks the leader with the best mean instead. */
    s = start(r, "{race: true, max_repeats: 1, budget_tasks: 1000, tie_break: best_mean}", &w,
              false);
    finish(r, s);
    ASSERT_EQ(s->race->outcome, COORD_RACE_TIE);
    const coord_race_t *rc = s->race;
    int look = rc->looks - 1;
    double best_mean = -1;
    uint64_t best_trial = 0;
    for (int l = 0; l < rc->n; l++)
        if (!rc->v[l].dropped_at && rc->v[l].mean[look] > best_mean) {
            best_mean = rc->v[l].mean[look];
            best_trial = rc->v[l].trial->number;
        }
    ASSERT_EQ(s->best->number, best_trial);
    ASSERT(strstr(s->race_verdict, "choosing the one with the best mean among them") != NULL);
    end(r);
    free(r);
}

/* The default budget is 30 % of the search's tasks (25 here: 8, less than
 * one round of 5 leaders x 5 folds), so the race stops before its first
 * round; an explicit budget of one round allows exactly one. */
HPT_TEST(budget)
{
    run_t *r = malloc(sizeof *r);
    ASSERT(r != NULL);
    const double eq[ARMS] = {0.9, 0.9, 0.9, 0.9, 0.9};
    world_t w = world_new(eq, 0.0001, 9);
    coord_sweep_t *s = start(r, "{race: true}", &w, false);
    finish(r, s);
    ASSERT_EQ(s->race->budget, 8);
    ASSERT_EQ(s->race->rounds, 0);
    ASSERT_EQ(s->race->stop, COORD_RACE_STOP_BUDGET);
    ASSERT(strstr(s->race_verdict, "after 0 repeats") != NULL);
    ASSERT(strstr(s->race_verdict, "budget spent") != NULL);
    end(r);
    s = start(r, "{race: true, budget_tasks: 25, max_repeats: 9}", &w, false);
    finish(r, s);
    ASSERT_EQ(s->race->rounds, 1);
    ASSERT_EQ(s->race->tasks_created, 25);
    ASSERT_EQ(s->race->stop, COORD_RACE_STOP_BUDGET);
    ASSERT_EQ(s->tasks_total, ARMS * FOLDS + 25);
    end(r);
    /* Without select: no race; the search's best is refitted. */
    s = start(r, NULL, &w, false);
    finish(r, s);
    ASSERT(s->race == NULL);
    ASSERT_EQ(s->race_verdict[0], '\0');
    ASSERT_EQ(s->tasks_done, ARMS * FOLDS + 1);
    end(r);
    free(r);
}

/* Race tasks are CV repeats past the spec's: the same splits for every
 * leader in a round (paired), new shuffles each round. */
HPT_TEST(race_tasks_are_new_repeats)
{
    run_t *r = malloc(sizeof *r);
    ASSERT(r != NULL);
    const double eq[ARMS] = {0.9, 0.9, 0.9, 0.9, 0.9};
    world_t w = world_new(eq, 0.0001, 10);
    coord_sweep_t *s = start(r, "{race: true, max_repeats: 2, budget_tasks: 1000}", &w, false);
    finish(r, s);
    const coord_race_t *rc = s->race;
    for (int l = 0; l < rc->n; l++)
        for (int round = 1; round <= 2; round++)
            for (int q = 0; q < rc->per_round; q++) {
                const coord_task_t *t =
                    rc->tasks[((size_t)l * rc->max_rounds + (size_t)(round - 1)) *
                                  (size_t)rc->per_round + (size_t)q];
                ASSERT(t != NULL);
                ASSERT(coord_task_is_race(t));
                ASSERT_EQ(coord_task_repeat(t), round);   // cv.repeats 1: repeats 1, 2
                ASSERT_EQ(coord_task_fold(t), q);
                ASSERT_EQ(t->state, TASK_DONE);
            }
    end(r);
    free(r);
}

/* A race task that fails for good (max_attempts) stops the race at its last
 * look: the round it belonged to adds no repeat, its other tasks are
 * cancelled, the verdict stands on the looks taken, and the refit runs. */
HPT_TEST(race_task_fails)
{
    run_t *r = malloc(sizeof *r);
    ASSERT(r != NULL);
    const double eq[ARMS] = {0.9, 0.9, 0.9, 0.9, 0.9};
    world_t w = world_new(eq, 0.0001, 11);
    coord_sweep_t *s = start(r, SELECT_FULL, &w, false);
    r->fail_race = true;
    finish(r, s);
    const coord_race_t *rc = s->race;
    ASSERT_EQ(rc->stop, COORD_RACE_STOP_FAILED);
    ASSERT_EQ(rc->outcome, COORD_RACE_TIE);
    ASSERT_EQ(rc->looks, 1);
    ASSERT_EQ(rc->rounds, 1);
    ASSERT(strstr(s->race_verdict, "after 0 repeats") != NULL);
    ASSERT(strstr(s->race_verdict, "a race task failed") != NULL);
    ASSERT_EQ(s->tasks_failed, 1);
    ASSERT(s->refit_task != NULL && s->refit_task->state == TASK_DONE);
    ASSERT(s->refit_task->trial == rc->winner);
    /* Nothing of the race is left queued or running. */
    ASSERT_EQ(s->n_queued, 0);
    ASSERT_EQ(s->tasks_running, 0);
    end(r);
    free(r);
}

// --- resume ----------------------------------------------------------------------------------

/* Stop the coordinator in the middle of a race (after `answers` results),
 * rebuild a core from the journal and finish: the verdict, winner, rounds
 * and race tasks are those of the race that was never interrupted, and no
 * finished task runs again. */
static void resume_case(int answers)
{
    const double mu[ARMS] = {0.890, 0.895, 0.900, 0.880, 0.870};
    world_t w = world_new(mu, 0.01, 77);
    run_t *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    ASSERT(a && b);
    coord_sweep_t *s = start(a, SELECT_FULL, &w, false);
    finish(a, s);
    char verdict[192];
    snprintf(verdict, sizeof verdict, "%s", s->race_verdict);
    int rounds = s->race->rounds;
    long created = s->race->tasks_created, all = a->assigns;
    uint64_t winner = s->race->winner->number;
    end(a);

    s = start(a, SELECT_FULL, &w, true);
    for (int i = 0; i < answers; i++)
        answer(a);
    ASSERT(s->race != NULL);   // stopped in the race
    ASSERT_EQ(s->race->outcome, COORD_RACE_RUNNING);
    long before = a->assigns - a->n_jobs;   // answered
    memset(b, 0, sizeof *b);
    b->w = w;
    b->store = a->store;
    a->store = NULL;
    end(a);
    ASSERT_OK(coord_core_init(&b->k, &CFG, 1.7e9));
    coord_journal_reader_t rd = coord_store_reader(b->store);
    hpt_err err = {0};
    int rc = coord_core_resume(&b->k, now, &rd, &err);
    if (rc != 1)
        HPT_TEST_FAIL("coord_core_resume: %d %s", rc, err.msg);
    drain(b);
    /* The orphaned leases wait for their worker (w1, with its secret);
     * after their deadline they are queued again, and w2 takes them. */
    now += 60;
    coord_core_tick(&b->k, now);
    drain(b);
    hello(b, "w2");
    s = b->k.sweeps;
    finish(b, s);
    if (strcmp(s->race_verdict, verdict) != 0)
        HPT_TEST_FAIL("resumed verdict '%s', uninterrupted '%s'", s->race_verdict, verdict);
    ASSERT_EQ(s->race->rounds, rounds);
    ASSERT_EQ(s->race->tasks_created, created);
    ASSERT_EQ(s->race->winner->number, winner);
    ASSERT_EQ(s->refit_task->trial->number, winner);
    /* Every task ran once: those answered before, the rest after. */
    ASSERT_EQ(before + b->assigns, all);
    end(b);
    free(a);
    free(b);
}

/* A finished race's sweep unloaded (its trials and race freed) keeps its
 * verdict; loaded back from the journal, its race is rebuilt the same; and a
 * restart creates it unloaded from its summary, whose verdict comes back
 * when it is loaded. */
HPT_TEST(unload_and_load)
{
    const double mu[ARMS] = {0.86, 0.87, 0.90, 0.85, 0.84};
    world_t w = world_new(mu, 0.01, 31);
    run_t *r = malloc(sizeof *r), *b = malloc(sizeof *b);
    ASSERT(r && b);
    coord_sweep_t *s = start(r, SELECT_FULL, &w, true);
    finish(r, s);
    char verdict[192];
    snprintf(verdict, sizeof verdict, "%s", s->race_verdict);
    ASSERT(verdict[0]);
    uint64_t winner = s->race->winner->number;
    int rounds = s->race->rounds;
    ASSERT_OK(coord_core_unload(&r->k, s));
    ASSERT(s->race == NULL);
    ASSERT(strcmp(s->race_verdict, verdict) == 0);
    char buf[256];
    ASSERT(strcmp(coord_race_describe(s, buf, sizeof buf), verdict) == 0);
    coord_journal_reader_t rd = coord_store_reader(r->store);
    hpt_err err = {0};
    if (coord_core_load(&r->k, now, &rd, s, &err) != 0)
        HPT_TEST_FAIL("coord_core_load: %s", err.msg);
    drain(r);
    ASSERT(s->race != NULL);
    ASSERT_EQ(s->race->winner->number, winner);
    ASSERT_EQ(s->race->rounds, rounds);
    ASSERT_EQ(s->best->number, winner);
    ASSERT(strcmp(s->race_verdict, verdict) == 0);
    /* A restart: the sweep starts unloaded, from its summary. */
    memset(b, 0, sizeof *b);
    b->w = w;
    b->store = r->store;
    r->store = NULL;
    end(r);
    ASSERT_OK(coord_core_init(&b->k, &CFG, 1.7e9));
    rd = coord_store_reader(b->store);
    ASSERT_EQ(coord_core_resume(&b->k, now, &rd, &err), 0);
    drain(b);
    s = b->k.sweeps;
    ASSERT(!coord_sweep_loaded(s));
    ASSERT(strcmp(s->race_verdict, verdict) == 0);   // from the summary: status has it
    ASSERT_EQ(s->sum->best, winner);
    if (coord_core_load(&b->k, now, &rd, s, &err) != 0)
        HPT_TEST_FAIL("coord_core_load: %s", err.msg);
    drain(b);
    ASSERT(strcmp(s->race_verdict, verdict) == 0);
    ASSERT_EQ(s->race->winner->number, winner);
    end(b);
    free(r);
    free(b);
}

HPT_TEST(resume_mid_race)
{
    resume_case(ARMS * FOLDS + 3);    // in the first round
    resume_case(ARMS * FOLDS + 30);   // in a later round
}

HPT_TEST_MAIN()
