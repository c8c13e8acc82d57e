/*
 * test_unload.c: a finished sweep leaves the core's memory
 * (coord_core_unload) and is read back from the journal on demand
 * (coord_core_load) with results identical to what it gave before.
 *
 * The core is driven directly under a fake clock by fake workers (Hello,
 * then a Result for every Assign), with every journal record written to a
 * SQLite store in memory and committed after each step, as the daemon
 * does.  A sweep is dumped to text with everything a results page, a
 * report, the HTTP API or a plot reads of it: per trial its values (the
 * numbers to the last bit), split test and train scores, means and
 * standard deviations, fit times, state, error, rank, p-value against the
 * best and finish time, per task its id, state, attempt, worker and epochs;
 * the best trial, the refit and the sweep's counters.  The dump before the
 * unload must equal the dump after the load, byte for byte.
 *
 * A restart from the journal creates a finished sweep unloaded, straight
 * from the summary journaled with its end (no search replay, no trials or
 * tasks): its status (everything coord_sweep_info_fill, /metrics and the
 * CLI read of it) must equal the status before the restart, and its dump
 * after coord_core_load the dump before.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aggregate.h"
#include "coord_store.h"
#include "core.h"
#include "hpt_test.h"

// --- fixtures -----------------------------------------------------------------

#define FP "abababababababababababababababababababababababababababababababab"

/* Random search over a float, an enum and an int: the float's values come
 * back only from the search's replay (the journal's params JSON has 6
 * digits).  Trial 3's first split fails for good (a failed trial). */
#define SPEC_RANDOM_REFIT(refit)                                            \
    "name: unload-random\n"                                                 \
    "dataset: mnist\n"                                                      \
    "metric: {name: accuracy, goal: maximize}\n"                            \
    "method: random\n"                                                      \
    "seed: 7\n"                                                             \
    "cv: {folds: 3, shuffle: false, seed: 1}\n"                             \
    "refit: " refit "\n"                                                    \
    "score_train: true\n"                                                   \
    "budget: {max_trials: 6}\n"                                             \
    "parameters:\n"                                                         \
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n" \
    "  activation: {values: [relu, tanh]}\n"                                \
    "  units: {values: [8, 16]}\n"                                          \
    "  epochs: {value: 1}\n"

#define SPEC_RANDOM SPEC_RANDOM_REFIT("true")

/* A grid that stays running beside the sweep unloaded (its tasks stay in
 * the task map). */
#define SPEC_GRID                                                           \
    "name: unload-other\n"                                                  \
    "dataset: mnist\n"                                                      \
    "method: grid\n"                                                        \
    "cv: {folds: 2, shuffle: false, seed: 1}\n"                             \
    "refit: false\n"                                                        \
    "parameters:\n"                                                         \
    "  units: {values: [8, 16, 32]}\n"                                      \
    "  epochs: {value: 1}\n"

/* The core's randomness (session secrets): a counter, so runs repeat. */
static void test_random(void *ud, void *buf, size_t len)
{
    (void)ud;
    static uint8_t next = 1;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = next++;
}

static const coord_core_cfg_t CFG = {
    .hb_ivl_ms = 1000, .hb_liveness = 3, .max_attempts = 2, .task_stall_s = 30,
    .task_deadline_s = 3600, .random = test_random,
};

static double now = 100.0;   // the fake monotonic clock, seconds

typedef struct fake_worker {
    hpt_peer_id_t peer;
    coord_conn_t conn;
    char id[64];
} fake_worker_t;

/* Assigns sent and not yet answered (task, attempt, trial, fold, to whom). */
typedef struct pending {
    uint64_t task, trial, sweep;
    uint32_t attempt, fold;
    int worker;
} pending_t;

#define MAX_PENDING 4096
static pending_t P[MAX_PENDING];
static int n_pending;
static fake_worker_t W[2];
static int n_dropped_unknown;   // RESULT_DROPPED events with reason=unknown-task

static int worker_of(const hpt_peer_id_t *peer)
{
    for (int i = 0; i < 2; i++)
        if (W[i].peer.len == peer->len && memcmp(W[i].peer.bytes, peer->bytes, peer->len) == 0)
            return i;
    return -1;
}

/* Carry out k's outbox as the daemon's shell would: journal records into
 * the store (committed), Assigns remembered for the fake workers; then
 * check the core's invariants. */
static void drain(coord_core_t *k, coord_store_t *st)
{
    ASSERT(!k->out.failed);
    uint64_t ended = 0;   // a sweep whose final state this outbox journals
    for (size_t i = 0; i < k->out.n; i++) {
        const coord_action_t *a = &k->out.v[i];
        if (a->kind == COORD_ACT_JOURNAL) {
            const coord_jrec_t *j = &a->u.journal;
            /* Its summary follows in the same commit, so no crash can leave
             * an ended sweep without one. */
            if (j->kind == COORD_J_SWEEP_STATE &&
                (strcmp(j->state, "done") == 0 || strcmp(j->state, "failed") == 0 ||
                 strcmp(j->state, "cancelled") == 0))
                ended = j->sweep;
            if (j->kind == COORD_J_SWEEP_SUMMARY && j->sweep == ended)
                ended = 0;
            ASSERT_OK(coord_store_apply(st, &a->u.journal));
        } else if (a->kind == COORD_ACT_EVENT) {
            if (a->u.event.type == COORD_EV_RESULT_DROPPED && a->u.event.fields &&
                strstr(a->u.event.fields, "reason=unknown-task"))
                n_dropped_unknown++;
        } else if (a->kind == COORD_ACT_SEND && a->u.send.body == HPT__ENVELOPE__BODY_ASSIGN) {
            hpt_env_t *env = NULL;
            hpt_err err = {0};
            ASSERT_OK(hpt_proto_decode(a->u.send.buf, a->u.send.len, &env, &err));
            ASSERT(n_pending < MAX_PENDING);
            P[n_pending++] = (pending_t){
                .task = env->assign->task, .attempt = env->assign->attempt,
                .trial = env->assign->trial, .sweep = env->assign->sweep,
                .fold = env->assign->fold, .worker = worker_of(&a->u.send.peer)};
            hpt_proto_free(&env);
        }
    }
    ASSERT_EQ(ended, 0);
    coord_outbox_clear(&k->out);
    hpt_err err = {0};
    if (coord_store_flush(st, &err) != 0)
        HPT_TEST_FAIL("coord_store_flush: %s", err.msg);
    if (coord_core_check(k, &err) != 0)
        HPT_TEST_FAIL("coord_core_check: %s", err.msg);
}

static void hello(coord_core_t *k, coord_store_t *st, int i, int slots)
{
    W[i].peer.len = 5;
    memcpy(W[i].peer.bytes, "peer", 4);
    W[i].peer.bytes[4] = (uint8_t)i;
    W[i].conn.id = (uint64_t)i + 1;
    snprintf(W[i].id, sizeof W[i].id, "w%d", i);
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = FP;
    ds.n_train = 60000;
    ds.n_test = 10000;
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = W[i].id;
    m.name = W[i].id;
    m.host = "testhost";
    m.version = "test";
    m.slots = (uint32_t)slots;
    m.datasets = dsv;
    m.n_datasets = 1;
    coord_core_hello(k, now, &W[i].peer, &W[i].conn, &m);
    drain(k, st);
}

static void send_result(coord_core_t *k, coord_store_t *st, const pending_t *p, bool ok)
{
    Hpt__Result r = HPT__RESULT__INIT;
    r.task = p->task;
    r.attempt = p->attempt;
    r.ok = ok;
    if (ok) {
        /* Trials 1 and 2 tie for the best mean, so the best depends on
         * which finished first. */
        r.score = 0.5 + 0.03 * (double)(p->trial <= 2 ? 3 : p->trial % 3) + 0.001 * p->fold;
        r.accuracy = r.score;
        r.log_loss = 0.4;
        r.f1_macro = r.score - 0.01;
        r.train_score = r.score + 0.05;
        r.fit_seconds = 1.0 + 0.25 * (double)(p->task % 5);
        r.epochs = 1;
        r.n_eval = p->trial == 0 ? 10000 : 20000;
    } else {
        r.error = "boom";
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = &r;
    coord_core_worker_msg(k, now, &W[p->worker].peer, &W[p->worker].conn, &env);
    drain(k, st);
}

/* Answer pending assigns of sweep `sweep` (0: any) in arrival order until
 * none is left or `sweep` has ended; trial 3 of the random sweep fails. */
static void run(coord_core_t *k, coord_store_t *st, coord_sweep_t *s)
{
    for (int guard = 0; guard < 10000 && n_pending > 0; guard++) {
        if (s && s->state >= SWEEP_DONE)
            return;
        /* Newest first: trials then finish out of their order, so a tie for
         * the best goes to a later trial live and to an earlier one in a
         * rebuild (coord_core_load restores the live one). */
        pending_t p = P[--n_pending];
        now += 0.5;
        bool fail = strcmp(coord_sweep_find(k, p.sweep)->spec->name, "unload-random") == 0 &&
                    p.trial == 3 && p.fold == 0;
        send_result(k, st, &p, !fail);
    }
}

// --- the dump -----------------------------------------------------------------------

/* Everything readers take from sweep s, as text (owned by the caller). */
static char *dump(const coord_sweep_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT(f != NULL);
    fprintf(f, "sweep %llu %s state=%s tasks=%lld/%d/%d/%d trials=%d/%d n=%zu gen=%llu\n",
            (unsigned long long)s->id, s->spec->name, coord_sweep_state_name(s->state),
            (long long)s->tasks_total, s->tasks_done, s->tasks_failed, s->tasks_running,
            s->trials_done, s->trials_failed, s->n_trials, (unsigned long long)s->results_gen);
    fprintf(f, "times %.17g %.17g %.17g error=%s\n", s->created, s->started, s->finished,
            s->error);
    fprintf(f, "best=%llu refit=%d %.17g %.17g %u\n",
            (unsigned long long)(s->best ? s->best->number : 0), s->has_refit, s->refit_score,
            s->refit_accuracy, s->refit_n_test);
    if (s->refit_task) {
        const coord_task_t *t = s->refit_task;
        fprintf(f, "refit task %llu trial=%llu state=%s attempt=%u", (unsigned long long)t->id,
                (unsigned long long)t->trial->number,
                coord_task_state_name((coord_task_state_t)t->state), t->attempt);
        if (t->res)
            fprintf(f, " score=%.17g by=%s", t->res->score, t->res->done_by);
        fputc('\n', f);
    }
    long total = coord_search_total(s->search);
    fprintf(f, "search total=%ld\n", total);
    int ns = s->spec->cv.folds * s->spec->cv.repeats;
    double *means = calloc(s->n_trials + 1, sizeof *means);
    int *rank = calloc(s->n_trials + 1, sizeof *rank);
    ASSERT(means && rank);
    for (size_t i = 0; i < s->n_trials; i++)
        means[i] = s->trials[i]->state == TRIAL_DONE ? s->trials[i]->mean : NAN;
    ASSERT_OK(coord_agg_rank(means, (int)s->n_trials, s->spec->maximize, rank));
    for (size_t i = 0; i < s->n_trials; i++) {
        const coord_trial_t *t = s->trials[i];
        fprintf(f, "trial %llu parent=%llu state=%s done=%d failed=%d rank=%d",
                (unsigned long long)t->number, (unsigned long long)t->parent,
                coord_trial_state_name(t->state), t->done, t->failed,
                t->state == TRIAL_RUNNING ? 0 : rank[i]);
        coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
        coord_trial_values(t, vals);
        for (int p = 0; p < s->spec->n_params; p++) {
            char v[64];
            coord_pval_format(&s->spec->params[p], &vals[p], v, sizeof v);
            fprintf(f, " %s=%s/%a/%d", s->spec->params[p].name, v, vals[p].num, vals[p].absent);
        }
        for (int j = 0; j < ns; j++)
            fprintf(f, " s%d=%.17g/%.17g", j, coord_trial_split_score(t, j, false),
                    coord_trial_split_score(t, j, true));
        fprintf(f, " mean=%.17g std=%.17g fit=%.17g/%.17g train=%.17g/%.17g",
                t->mean, t->std, t->mean_fit, t->std_fit, t->mean_train, t->std_train);
        fprintf(f, " p=%.17g finished=%.17g error=%s\n", coord_trial_p_vs_best(s, t),
                coord_trial_finished(t), t->error ? t->error : "");
        for (int j = 0; j < t->n_tasks; j++) {
            const coord_task_t *x = t->tasks[j];
            if (!x) {
                fprintf(f, "  task -\n");
                continue;
            }
            /* A task's error is read only when it failed (its trial's error
             * says it); a cancelled one carries the journaled reason after a
             * rebuild, which no reader shows. */
            const char *error = x->state == TASK_FAILED && x->error ? x->error : "";
            fprintf(f, "  task %llu state=%s attempt=%u failures=%u error=%s",
                    (unsigned long long)x->id, coord_task_state_name((coord_task_state_t)x->state),
                    x->attempt, x->failures, error);
            if (x->res)
                fprintf(f, " score=%.17g train=%.17g fit=%.17g at=%.17g by=%s epochs=%d/%d",
                        x->res->score, x->res->train_score, x->res->fit_seconds,
                        x->res->finished_unix, x->res->done_by, x->res->epochs,
                        x->res->resumed_from);
            fputc('\n', f);
        }
    }
    free(means);
    free(rank);
    fclose(f);
    return buf;
}

/* Everything status, /api/sweeps, /metrics and the CLI read of sweep s
 * (coord_sweep_info_fill and coord_http.c), loaded or not, as text (owned
 * by the caller). */
static char *status_dump(const coord_sweep_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT(f != NULL);
    const coord_sweep_sum_t *sum = s->sum;
    long total = sum ? sum->trials_total : coord_search_total(s->search);
    size_t n_trials = sum ? sum->n_trials : s->n_trials;
    fprintf(f, "sweep %llu %s state=%s trials=%ld/%zu/%d/%d tasks=%lld/%d/%d/%d/%d/%d\n",
            (unsigned long long)s->id, s->spec->name, coord_sweep_state_name(s->state), total,
            n_trials, s->trials_done, s->trials_failed, (long long)s->tasks_total,
            s->tasks_done, s->tasks_failed, s->tasks_running, s->n_queued, s->n_waiting);
    fprintf(f, "times %.17g %.17g %.17g error=%s gen=%llu epochs=%llu/%llu\n", s->created,
            s->started, s->finished, s->error, (unsigned long long)s->results_gen,
            (unsigned long long)s->epochs_trained, (unsigned long long)s->epochs_scratch);
    fprintf(f, "refit=%d %.17g %.17g %u\n", s->has_refit, s->refit_score, s->refit_accuracy,
            s->refit_n_test);
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    uint64_t best = 0;
    double mean = NAN, std = NAN;
    if (s->best) {
        best = s->best->number;
        mean = s->best->mean;
        std = s->best->std;
        coord_trial_values(s->best, vals);
    } else if (sum && sum->best) {
        best = sum->best;
        mean = sum->best_mean;
        std = sum->best_std;
        memcpy(vals, sum->best_vals, sizeof(coord_pval_t) * (size_t)s->spec->n_params);
    }
    fprintf(f, "best=%llu mean=%.17g std=%.17g", (unsigned long long)best, mean, std);
    for (int p = 0; best && p < s->spec->n_params; p++) {
        char v[64];
        coord_pval_format(&s->spec->params[p], &vals[p], v, sizeof v);
        fprintf(f, " %s=%s/%a/%d/%s", s->spec->params[p].name, v, vals[p].num, vals[p].absent,
                vals[p].str);
    }
    fputc('\n', f);
    fclose(f);
    return buf;
}

/* Tasks of s in the task map (its trials' and its refit). */
static size_t sweep_tasks(const coord_sweep_t *s)
{
    size_t n = s->refit_task ? 1 : 0;
    for (size_t i = 0; i < s->n_trials; i++)
        for (int j = 0; j < s->trials[i]->n_tasks; j++)
            n += s->trials[i]->tasks[j] != NULL;
    return n;
}

static void load(coord_core_t *k, coord_store_t *st, coord_sweep_t *s)
{
    coord_journal_reader_t rd = coord_store_reader(st);
    hpt_err err = {0};
    int rc = coord_core_load(k, now, &rd, s, &err);
    if (rc != 0)
        HPT_TEST_FAIL("coord_core_load: %d %s", rc, err.msg);
    ASSERT_EQ(k->out.n, 0);   // the rebuild's records and events are not repeated
    drain(k, st);
}

static coord_sweep_t *submit(coord_core_t *k, coord_store_t *st, const char *spec)
{
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    if (coord_core_submit(k, now, spec, "test.yaml", FP, &s, &err) != 0)
        HPT_TEST_FAIL("coord_core_submit: %s", err.msg);
    drain(k, st);
    return s;
}

static void setup(coord_core_t *k, coord_store_t **st)
{
    n_pending = 0;
    n_dropped_unknown = 0;
    hpt_err err = {0};
    ASSERT_OK(coord_store_open(st, ":memory:", &err));
    memset(k, 0, sizeof *k);
    ASSERT_OK(coord_core_init(k, &CFG, 1.7e9));
    hello(k, *st, 0, 2);
    hello(k, *st, 1, 1);
}

// --- tests ----------------------------------------------------------------------------

/* A finished random sweep with a failed trial, tied means and a refit is
 * unloaded while another sweep runs, then read back twice: identical each
 * time, and in between its tasks are gone from the task map. */
HPT_TEST(unload_and_load_identical)
{
    coord_core_t k;
    coord_store_t *st = NULL;
    setup(&k, &st);
    coord_sweep_t *a = submit(&k, st, SPEC_RANDOM);
    run(&k, st, NULL);
    ASSERT_EQ(a->state, SWEEP_DONE);
    ASSERT(a->has_refit);
    ASSERT_EQ(a->trials_failed, 1);
    ASSERT_EQ(a->trials_done, 5);
    coord_sweep_t *b = submit(&k, st, SPEC_GRID);
    ASSERT(n_pending > 0);   // b's tasks are leased, some queued
    ASSERT_EQ(coord_core_unload(&k, b), -EBUSY);   // b has not ended
    ASSERT(coord_sweep_loaded(b));

    char *before = dump(a);
    uint64_t late_task = a->trials[0]->tasks[0]->id;
    uint64_t best = a->best->number;
    double best_mean = a->best->mean, best_std = a->best->std;
    coord_pval_t best_vals[COORD_SPEC_MAX_PARAMS];
    coord_trial_values(a->best, best_vals);
    size_t a_tasks = sweep_tasks(a), b_tasks = sweep_tasks(b);
    int tasks_done = a->tasks_done;
    ASSERT_EQ(k.map_len, a_tasks + b_tasks);
    ASSERT_EQ(a_tasks, 6 * 3 + 1);

    for (int round = 0; round < 3; round++) {
        ASSERT_OK(coord_core_unload(&k, a));
        ASSERT_EQ(k.out.n, 0);
        drain(&k, st);   // coord_core_check: the map holds b's tasks only
        ASSERT(!coord_sweep_loaded(a));
        ASSERT_EQ(k.map_len, b_tasks);
        ASSERT(a->trials == NULL && a->n_trials == 0 && a->best == NULL);
        ASSERT(a->search == NULL && a->refit_task == NULL && a->pvals == NULL);
        ASSERT_OK(coord_core_unload(&k, a));   // again: a no-op
        // What status reads stays.
        ASSERT_EQ(a->sum->n_trials, 6);
        ASSERT_EQ(a->sum->trials_total, 6);
        ASSERT_EQ(a->sum->best, best);
        ASSERT(a->sum->best_mean == best_mean && a->sum->best_std == best_std);
        ASSERT(memcmp(a->sum->best_vals, best_vals,
                      sizeof(coord_pval_t) * (size_t)a->spec->n_params) == 0);
        ASSERT_EQ(a->trials_done, 5);
        ASSERT_EQ(a->tasks_done, tasks_done);
        ASSERT(a->has_refit && a->refit_n_test == 20000);

        /* A late result for one of its tasks: an unknown task, dropped. */
        uint64_t dropped = k.results_dropped;
        int unknown = n_dropped_unknown;
        pending_t late = {.task = late_task, .attempt = 1, .trial = 1, .sweep = a->id,
                          .worker = 0};
        send_result(&k, st, &late, true);
        ASSERT_EQ(k.results_dropped, dropped + 1);
        ASSERT_EQ(n_dropped_unknown, unknown + 1);

        load(&k, st, a);
        ASSERT(coord_sweep_loaded(a));
        ASSERT_EQ(k.map_len, a_tasks + b_tasks);
        char *after = dump(a);
        if (strcmp(before, after) != 0)
            HPT_TEST_FAIL("round %d: the sweep differs after unload and load:\n%s---\n%s",
                          round, before, after);
        free(after);
        load(&k, st, a);   // loaded: a no-op
    }
    /* b still runs to its end beside it. */
    run(&k, st, NULL);
    ASSERT_EQ(b->state, SWEEP_DONE);
    ASSERT_OK(coord_core_unload(&k, b));
    ASSERT_OK(coord_core_unload(&k, a));
    drain(&k, st);
    ASSERT_EQ(k.map_len, 0);
    free(before);
    coord_core_free(&k);
    coord_store_close(&st);
}

/* Without a refit the best is the first trial to reach the best mean live
 * (trials 1 and 2 tie here, and 2 finishes first), where a rebuild would
 * take the first in trial order: the load keeps the live one. */
HPT_TEST(tied_best_without_refit)
{
    coord_core_t k;
    coord_store_t *st = NULL;
    setup(&k, &st);
    coord_sweep_t *a = submit(&k, st, SPEC_RANDOM_REFIT("false"));
    run(&k, st, NULL);
    ASSERT_EQ(a->state, SWEEP_DONE);
    ASSERT(!a->has_refit);
    ASSERT_EQ(a->best->number, 2);   // so this test tells the two rules apart
    char *before = dump(a);
    ASSERT_OK(coord_core_unload(&k, a));
    drain(&k, st);
    load(&k, st, a);
    char *after = dump(a);
    if (strcmp(before, after) != 0)
        HPT_TEST_FAIL("the sweep differs after unload and load:\n%s---\n%s", before, after);
    free(after);
    free(before);
    coord_core_free(&k);
    coord_store_close(&st);
}

/* A sweep cancelled mid-run (trials done, running and never started) reads
 * back identically, and a restart from the same journal rebuilds the same
 * trials (cancelled ones stay cancelled). */
HPT_TEST(cancelled_sweep_identical)
{
    coord_core_t k;
    coord_store_t *st = NULL;
    setup(&k, &st);
    coord_sweep_t *a = submit(&k, st, SPEC_RANDOM);
    for (int i = 0; i < 7 && n_pending > 0; i++) {   // two trials done, one part way
        pending_t p = P[0];
        memmove(P, P + 1, (size_t)(--n_pending) * sizeof *P);
        now += 0.5;
        send_result(&k, st, &p, true);
    }
    ASSERT_EQ(coord_core_cancel(&k, now, a), 1);
    drain(&k, st);
    n_pending = 0;
    ASSERT_EQ(a->state, SWEEP_CANCELLED);
    ASSERT(a->trials_done >= 1);
    bool some_cancelled = false;
    for (size_t i = 0; i < a->n_trials; i++)
        some_cancelled |= a->trials[i]->state == TRIAL_CANCELLED;
    ASSERT(some_cancelled);
    char *before = dump(a);
    ASSERT_OK(coord_core_unload(&k, a));
    drain(&k, st);
    ASSERT_EQ(k.map_len, 0);
    load(&k, st, a);
    char *after = dump(a);
    if (strcmp(before, after) != 0)
        HPT_TEST_FAIL("the cancelled sweep differs after unload and load:\n%s---\n%s", before,
                      after);
    free(after);

    /* The restart path: a new core resumes from the journal. */
    coord_core_t k2;
    memset(&k2, 0, sizeof k2);
    ASSERT_OK(coord_core_init(&k2, &CFG, 1.7e9));
    coord_journal_reader_t rd = coord_store_reader(st);
    hpt_err err = {0};
    ASSERT_EQ(coord_core_resume(&k2, now, &rd, &err), 0);   // not resumed
    coord_outbox_clear(&k2.out);
    coord_sweep_t *a2 = coord_sweep_find(&k2, a->id);
    ASSERT(a2 != NULL);
    ASSERT(!coord_sweep_loaded(a2));   // from its summary
    ASSERT_OK(coord_core_load(&k2, now, &rd, a2, &err));
    ASSERT_EQ(k2.out.n, 0);
    ASSERT_EQ(a2->n_trials, a->n_trials);
    for (size_t i = 0; i < a->n_trials; i++)
        ASSERT_EQ(a2->trials[i]->state, a->trials[i]->state);
    coord_core_free(&k2);
    free(before);
    coord_core_free(&k);
    coord_store_close(&st);
}

/* A journal reader that has lost the sweep's trials (as a journal edited
 * by hand would): the load fails, says why, and leaves the sweep unloaded
 * and the task map as it was. */
static int no_trials(void *ud, uint64_t sweep, int (*cb)(const coord_jrow_trial_t *, void *),
                     void *cbud)
{
    (void)ud;
    (void)sweep;
    (void)cb;
    (void)cbud;
    return 0;
}

HPT_TEST(load_failure_leaves_sweep_unloaded)
{
    coord_core_t k;
    coord_store_t *st = NULL;
    setup(&k, &st);
    coord_sweep_t *a = submit(&k, st, SPEC_RANDOM);
    run(&k, st, NULL);
    ASSERT_EQ(a->state, SWEEP_DONE);
    ASSERT_OK(coord_core_unload(&k, a));
    drain(&k, st);
    coord_journal_reader_t rd = coord_store_reader(st);
    rd.each_trial = no_trials;
    hpt_err err = {0};
    int rc = coord_core_load(&k, now, &rd, a, &err);
    ASSERT_EQ(rc, -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "cannot read it back");
    ASSERT_EQ(k.out.n, 0);
    ASSERT(!coord_sweep_loaded(a));
    ASSERT_EQ(k.map_len, 0);
    drain(&k, st);
    load(&k, st, a);   // the real journal still works
    ASSERT_EQ(a->n_trials, 6);
    coord_core_free(&k);
    coord_store_close(&st);
}

/* A journal reader that hides the sweeps' summaries (a journal written by
 * an older build), or spoils their best values (one that no longer fits). */
static int hide_mode;   // 1: no summaries, 2: bad best values
static int (*real_each_sweep)(void *, int (*)(const coord_jrow_sweep_t *, void *), void *);

typedef struct hide_ctx {
    int (*cb)(const coord_jrow_sweep_t *, void *);
    void *cbud;
} hide_ctx_t;

static int hide_cb(const coord_jrow_sweep_t *row, void *ud)
{
    hide_ctx_t *h = ud;
    coord_jrow_sweep_t r = *row;
    coord_jsum_t js;
    if (hide_mode == 1) {
        r.sum = NULL;
    } else if (row->sum) {
        js = *row->sum;
        js.best_values = "0 0x1p+0 3:abc;";   // one value where the spec has four
        r.sum = &js;
    }
    return h->cb(&r, h->cbud);
}

static int hide_each_sweep(void *ud, int (*cb)(const coord_jrow_sweep_t *, void *), void *cbud)
{
    hide_ctx_t h = {cb, cbud};
    return real_each_sweep(ud, hide_cb, &h);
}

static int n_summaries(const coord_core_t *k)
{
    int n = 0;
    for (size_t i = 0; i < k->out.n; i++)
        n += k->out.v[i].kind == COORD_ACT_JOURNAL &&
             k->out.v[i].u.journal.kind == COORD_J_SWEEP_SUMMARY;
    return n;
}

/* The restart: three finished sweeps (done with a refit and a failed trial,
 * done with a tied best, cancelled mid-run) come back unloaded from their
 * summaries, with no trial or task in memory, the same status as before
 * the restart, and the same results once read back.  A journal without
 * summaries (an older build's) rebuilds them as before and journals their
 * summaries, so the next start takes the short path; a summary that does
 * not fit its spec is rebuilt too. */
HPT_TEST(restart_summary_only)
{
    coord_core_t k;
    coord_store_t *st = NULL;
    setup(&k, &st);
    coord_sweep_t *a = submit(&k, st, SPEC_RANDOM);
    run(&k, st, NULL);
    coord_sweep_t *b = submit(&k, st, SPEC_RANDOM_REFIT("false"));
    run(&k, st, NULL);
    ASSERT_EQ(b->best->number, 2);   // live: the tie went to the trial that finished first
    coord_sweep_t *c = submit(&k, st, SPEC_GRID);
    for (int i = 0; i < 3 && n_pending > 0; i++) {
        pending_t p = P[0];
        memmove(P, P + 1, (size_t)(--n_pending) * sizeof *P);
        now += 0.5;
        send_result(&k, st, &p, true);
    }
    ASSERT_EQ(coord_core_cancel(&k, now, c), 1);
    drain(&k, st);
    n_pending = 0;
    ASSERT(a->state == SWEEP_DONE && b->state == SWEEP_DONE && c->state == SWEEP_CANCELLED);
    ASSERT(a->tasks_total < 6 * 3);   // trial 3 failed: its pending splits left the total
    coord_sweep_t *sw[3] = {a, b, c};
    char *st_before[3], *res_before[3];
    for (int i = 0; i < 3; i++) {
        st_before[i] = status_dump(sw[i]);
        res_before[i] = dump(sw[i]);
    }
    uint64_t ids[3] = {a->id, b->id, c->id};
    coord_core_free(&k);

    for (int pass = 0; pass < 2; pass++) {   // twice: a restart does not change it
        coord_core_t k2;
        memset(&k2, 0, sizeof k2);
        ASSERT_OK(coord_core_init(&k2, &CFG, 1.7e9));
        coord_journal_reader_t rd = coord_store_reader(st);
        hpt_err err = {0};
        now += 100;
        ASSERT_EQ(coord_core_resume(&k2, now, &rd, &err), 0);
        ASSERT_EQ(n_summaries(&k2), 0);   // nothing to write: they have theirs
        drain(&k2, st);
        ASSERT_EQ(k2.map_len, 0);         // no task of a finished sweep in memory
        for (int i = 0; i < 3; i++) {
            coord_sweep_t *s = coord_sweep_find(&k2, ids[i]);
            ASSERT(s != NULL);
            ASSERT(!coord_sweep_loaded(s));
            ASSERT(s->trials == NULL && s->n_trials == 0 && s->search == NULL);
            ASSERT(s->refit_task == NULL && s->fam == NULL && s->pvals == NULL);
            char *sd = status_dump(s);
            if (strcmp(sd, st_before[i]) != 0)
                HPT_TEST_FAIL("pass %d: sweep %llu's status differs after the restart:\n%s---\n%s",
                              pass, (unsigned long long)ids[i], st_before[i], sd);
            free(sd);
            ASSERT_OK(coord_core_unload(&k2, s));   // unloaded: a no-op
        }
        for (int i = 0; i < 3; i++) {   // read back, never loaded in this process
            coord_sweep_t *s = coord_sweep_find(&k2, ids[i]);
            load(&k2, st, s);
            char *d = dump(s);
            if (strcmp(d, res_before[i]) != 0)
                HPT_TEST_FAIL("pass %d: sweep %llu's results differ after the restart:\n%s---\n%s",
                              pass, (unsigned long long)ids[i], res_before[i], d);
            free(d);
            char *sd = status_dump(s);
            ASSERT(strcmp(sd, st_before[i]) == 0);
            free(sd);
            ASSERT_OK(coord_core_unload(&k2, s));
            drain(&k2, st);
        }
        ASSERT_EQ(k2.map_len, 0);
        coord_core_free(&k2);
    }

    /* An older build's journal (no summaries) and one whose summary does
     * not fit: rebuilt, loaded, and their summaries journaled. */
    for (hide_mode = 1; hide_mode <= 2; hide_mode++) {
        coord_core_t k3;
        memset(&k3, 0, sizeof k3);
        ASSERT_OK(coord_core_init(&k3, &CFG, 1.7e9));
        coord_journal_reader_t rd = coord_store_reader(st);
        real_each_sweep = rd.each_sweep;
        rd.each_sweep = hide_each_sweep;
        hpt_err err = {0};
        ASSERT_EQ(coord_core_resume(&k3, now, &rd, &err), 0);
        ASSERT_EQ(n_summaries(&k3), 3);
        for (int i = 0; i < 3; i++) {
            coord_sweep_t *s = coord_sweep_find(&k3, ids[i]);
            ASSERT(coord_sweep_loaded(s));
            ASSERT_EQ(s->n_trials, sw[i] == c ? 3u : 6u);
        }
        coord_outbox_clear(&k3.out);   // the real journal keeps the live summaries
        coord_core_free(&k3);
    }
    hide_mode = 0;
    for (int i = 0; i < 3; i++) {
        free(st_before[i]);
        free(res_before[i]);
    }
    coord_store_close(&st);
}

HPT_TEST_MAIN()
