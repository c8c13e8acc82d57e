/*
 * test_core.c: the coordinator's sans-IO core (coordinator/core/) driven
 * directly under a fake clock.
 *
 * Each test builds a core, submits a small grid, and plays fake workers:
 * Hello, Heartbeat, Progress and Result envelopes are built by hand and fed
 * to coord_core_hello / coord_core_worker_msg; time is a double the test
 * advances before coord_core_tick.  After every step drain() decodes the
 * outbox (SEND actions through hpt_proto_decode, so every message the core
 * sends must also pass the wire validator), copies the typed events and
 * journal records, optionally writes the journal records to a SQLite store
 * (for the resume cases), clears the outbox and asserts coord_core_check()
 * == 0.  Assertions are on exact observable behaviour: which messages went
 * to which peer, which events and journal records were produced, and the
 * counters and states the shell reads.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_store.h"
#include "core.h"
#include "hpt_test.h"
#include "log.h"
#include "tasks.h"

// --- fixtures -----------------------------------------------------------------

#define FP "abababababababababababababababababababababababababababababababab"

/* A 2 x 2-fold grid: trials 1 and 2 (units 8, 16), 4 tasks. */
#define SPEC(refit)                                   \
    "name: core-test\n"                               \
    "dataset: mnist\n"                                \
    "metric: {name: accuracy, goal: maximize}\n"      \
    "method: grid\n"                                  \
    "cv: {folds: 2, shuffle: false, seed: 1}\n"       \
    "refit: " refit "\n"                              \
    "parameters:\n"                                   \
    "  units: {values: [8, 16]}\n"                    \
    "  epochs: {value: 1}\n"

/* One trial of 2 folds. */
#define SPEC_ONE                                      \
    "name: core-one\n"                                \
    "dataset: mnist\n"                                \
    "method: grid\n"                                  \
    "cv: {folds: 2, shuffle: false, seed: 1}\n"       \
    "refit: false\n"                                  \
    "parameters:\n"                                   \
    "  units: {value: 8}\n"                           \
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
    .hb_ivl_ms = 1000, .hb_liveness = 3, .max_attempts = 3, .task_stall_s = 30,
    .task_deadline_s = 3600, .random = test_random,
};

#define WALL_OFFSET 1.7e9

static double now = 100.0;   // the fake monotonic clock, seconds

/* A fake worker: its routing id ("peer" and n), its connection (serial n,
 * and a CURVE key when key is set), and the session secret its Welcome gave
 * it (hello() keeps it and sends it in later Hellos, as the worker does). */
typedef struct fake_worker {
    hpt_peer_id_t peer;
    coord_conn_t conn;
    char id[64];
    int slots;
    uint8_t secret[32];
    bool has_secret;
} fake_worker_t;

static fake_worker_t fw(int n, const char *id, int slots)
{
    fake_worker_t w = {.slots = slots};
    w.peer.len = 5;
    memcpy(w.peer.bytes, "peer", 4);
    w.peer.bytes[4] = (uint8_t)n;
    w.conn.id = (uint64_t)n;
    snprintf(w.id, sizeof w.id, "%s", id);
    return w;
}

/* The same worker process on a new connection n: same id and secret. */
static fake_worker_t reconnected(const fake_worker_t *w, int n)
{
    fake_worker_t x = *w;
    x.peer.bytes[4] = (uint8_t)n;
    x.conn.id = (uint64_t)n;
    return x;
}

static bool peer_eq(const hpt_peer_id_t *a, const hpt_peer_id_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

// --- the outbox, drained ----------------------------------------------------------

#define MAX_SENDS 256
#define MAX_EVENTS 512
#define MAX_JOURNAL 1024

typedef struct drained {
    struct {
        hpt_peer_id_t peer;
        hpt_env_t *env;
    } send[MAX_SENDS];
    int n_send;
    struct {
        coord_event_type_t type;
        int level;
        uint64_t sweep;
        char fields[512];
    } ev[MAX_EVENTS];
    int n_ev;
    struct {
        coord_jkind_t kind;
        uint64_t task;
        uint32_t attempt;
        char state[16];
        char error[160];
        char secret[80];   // COORD_J_WORKER_SEEN
    } j[MAX_JOURNAL];
    int n_j;
    int n_offer, n_timer;
} drained_t;

static drained_t O;   // what the last step produced

static void drained_reset(void)
{
    for (int i = 0; i < O.n_send; i++)
        hpt_proto_free(&O.send[i].env);
    O.n_send = O.n_ev = O.n_j = O.n_offer = O.n_timer = 0;
}

/* Collect and clear k's outbox into O (replacing the last step's), writing
 * journal records to store when not NULL, and check the core's invariants. */
static void drain(coord_core_t *k, coord_store_t *store)
{
    drained_reset();
    ASSERT(!k->out.failed);
    for (size_t i = 0; i < k->out.n; i++) {
        const coord_action_t *a = &k->out.v[i];
        switch (a->kind) {
        case COORD_ACT_SEND: {
            ASSERT(O.n_send < MAX_SENDS);
            hpt_err err = {0};
            hpt_env_t *env = NULL;
            int rc = hpt_proto_decode(a->u.send.buf, a->u.send.len, &env, &err);
            if (rc != 0)
                HPT_TEST_FAIL("the core sent an invalid envelope: %s", err.msg);
            ASSERT_EQ(env->body_case, a->u.send.body);
            O.send[O.n_send].peer = a->u.send.peer;
            O.send[O.n_send].env = env;
            O.n_send++;
            break;
        }
        case COORD_ACT_EVENT:
            ASSERT(O.n_ev < MAX_EVENTS);
            O.ev[O.n_ev].type = a->u.event.type;
            O.ev[O.n_ev].level = a->u.event.level;
            O.ev[O.n_ev].sweep = a->u.event.sweep;
            snprintf(O.ev[O.n_ev].fields, sizeof O.ev[0].fields, "%s",
                     a->u.event.fields ? a->u.event.fields : "");
            O.n_ev++;
            break;
        case COORD_ACT_JOURNAL: {
            const coord_jrec_t *j = &a->u.journal;
            ASSERT(O.n_j < MAX_JOURNAL);
            O.j[O.n_j].kind = j->kind;
            O.j[O.n_j].task = j->task;
            O.j[O.n_j].attempt = j->attempt;
            snprintf(O.j[O.n_j].state, sizeof O.j[0].state, "%s", j->state ? j->state : "");
            snprintf(O.j[O.n_j].error, sizeof O.j[0].error, "%s", j->error ? j->error : "");
            snprintf(O.j[O.n_j].secret, sizeof O.j[0].secret, "%s", j->secret ? j->secret : "");
            O.n_j++;
            if (store)
                ASSERT_OK(coord_store_apply(store, j));
            break;
        }
        case COORD_ACT_OFFER: O.n_offer++; break;
        case COORD_ACT_TIMER: O.n_timer++; break;
        }
    }
    coord_outbox_clear(&k->out);
    if (store) {
        hpt_err err = {0};
        if (coord_store_flush(store, &err) != 0)
            HPT_TEST_FAIL("coord_store_flush: %s", err.msg);
    }
    hpt_err err = {0};
    if (coord_core_check(k, &err) != 0)
        HPT_TEST_FAIL("coord_core_check: %s", err.msg);
}

/* Sends of a body case to w (NULL: to anyone). */
static int n_sent(const fake_worker_t *w, int body)
{
    int n = 0;
    for (int i = 0; i < O.n_send; i++)
        if ((int)O.send[i].env->body_case == body && (!w || peer_eq(&O.send[i].peer, &w->peer)))
            n++;
    return n;
}

/* The i-th Assign sent to w (NULL when fewer). */
static const Hpt__Assign *assign_to(const fake_worker_t *w, int i)
{
    for (int s = 0; s < O.n_send; s++)
        if (O.send[s].env->body_case == HPT__ENVELOPE__BODY_ASSIGN &&
            peer_eq(&O.send[s].peer, &w->peer) && i-- == 0)
            return O.send[s].env->assign;
    return NULL;
}

static const Hpt__Cancel *cancel_to(const fake_worker_t *w, int i)
{
    for (int s = 0; s < O.n_send; s++)
        if (O.send[s].env->body_case == HPT__ENVELOPE__BODY_CANCEL &&
            peer_eq(&O.send[s].peer, &w->peer) && i-- == 0)
            return O.send[s].env->cancel;
    return NULL;
}

static int n_ev(coord_event_type_t type)
{
    int n = 0;
    for (int i = 0; i < O.n_ev; i++)
        n += O.ev[i].type == type;
    return n;
}

/* Fields of the first event of the type ("" when none). */
static const char *ev_fields(coord_event_type_t type)
{
    for (int i = 0; i < O.n_ev; i++)
        if (O.ev[i].type == type)
            return O.ev[i].fields;
    return "";
}

/* Journal records of the kind for task (0: any task). */
static int n_j(coord_jkind_t kind, uint64_t task)
{
    int n = 0;
    for (int i = 0; i < O.n_j; i++)
        n += O.j[i].kind == kind && (task == 0 || O.j[i].task == task);
    return n;
}

static const char *j_state(coord_jkind_t kind, uint64_t task)
{
    for (int i = 0; i < O.n_j; i++)
        if (O.j[i].kind == kind && O.j[i].task == task)
            return O.j[i].state;
    return "";
}

// --- driving the core ---------------------------------------------------------------

static void core_new(coord_core_t *k, const coord_core_cfg_t *cfg)
{
    memset(k, 0, sizeof *k);
    ASSERT_OK(coord_core_init(k, cfg ? cfg : &CFG, WALL_OFFSET));
}

static void core_end(coord_core_t *k)
{
    drained_reset();
    coord_core_free(k);
}

static coord_sweep_t *submit(coord_core_t *k, coord_store_t *store, const char *spec,
                             const char *fingerprint)
{
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    int rc = coord_core_submit(k, now, spec, "test.yaml", fingerprint, &s, &err);
    if (rc != 0)
        HPT_TEST_FAIL("coord_core_submit: %d %s", rc, err.msg);
    drain(k, store);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_SUBMITTED), 1);
    ASSERT_EQ(n_j(COORD_J_SWEEP_ADD, 0), 1);
    return s;
}

/* The memory budget the next Hellos advertise (Hello.max_model_mem), 0 none. */
static uint64_t hello_mem = 0;
/* The bundle size the next Hellos advertise (Hello.fuse_max), 0 none. */
static uint32_t hello_fuse = 0;

/* Send w's Hello (with its secret when it has one, or with `secret` when not
 * NULL: 32 bytes, or its length in secret_len); no check of the answer. */
static void hello_with(coord_core_t *k, coord_store_t *store, fake_worker_t *w,
                       const uint8_t *secret, size_t secret_len)
{
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = FP;
    ds.n_train = 60000;
    ds.n_test = 10000;
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = (char *)w->id;
    m.name = (char *)w->id;
    m.host = "testhost";
    m.version = "test";
    m.slots = (uint32_t)w->slots;
    m.datasets = dsv;
    m.n_datasets = 1;
    m.max_model_mem = hello_mem;
    m.fuse_max = hello_fuse;
    if (secret) {
        m.session_secret.data = (uint8_t *)secret;
        m.session_secret.len = secret_len;
    } else if (w->has_secret) {
        m.session_secret.data = w->secret;
        m.session_secret.len = sizeof w->secret;
    }
    coord_core_hello(k, now, &w->peer, &w->conn, &m);
    drain(k, store);
    for (int i = 0; i < O.n_send; i++) {
        const hpt_env_t *e = O.send[i].env;
        if (e->body_case == HPT__ENVELOPE__BODY_WELCOME && peer_eq(&O.send[i].peer, &w->peer) &&
            e->welcome->session_secret.len == sizeof w->secret) {
            memcpy(w->secret, e->welcome->session_secret.data, sizeof w->secret);
            w->has_secret = true;
        }
    }
}

/* w's Hello, which must be answered with Welcome. */
static void hello(coord_core_t *k, coord_store_t *store, fake_worker_t *w)
{
    hello_with(k, store, w, NULL, 0);
    ASSERT_EQ(n_sent(w, HPT__ENVELOPE__BODY_WELCOME), 1);
}

static coord_worker_t *send_env(coord_core_t *k, coord_store_t *store, const fake_worker_t *w,
                                hpt_env_t *env)
{
    coord_worker_t *r = coord_core_worker_msg(k, now, &w->peer, &w->conn, env);
    drain(k, store);
    return r;
}

static Hpt__Result result_ok(uint64_t task, uint32_t attempt, double score)
{
    Hpt__Result r = HPT__RESULT__INIT;
    r.task = task;
    r.attempt = attempt;
    r.ok = true;
    r.score = score;
    r.accuracy = score;
    r.log_loss = 0.5;
    r.f1_macro = score;
    r.train_score = NAN;
    r.fit_seconds = 1.5;
    r.epochs = 1;
    r.n_eval = 100;
    return r;
}

static coord_worker_t *result(coord_core_t *k, coord_store_t *store, const fake_worker_t *w,
                              const Hpt__Result *r)
{
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = (Hpt__Result *)r;
    return send_env(k, store, w, &env);
}

static coord_worker_t *result_score(coord_core_t *k, coord_store_t *store,
                                    const fake_worker_t *w, uint64_t task, uint32_t attempt,
                                    double score)
{
    Hpt__Result r = result_ok(task, attempt, score);
    return result(k, store, w, &r);
}

/* A heartbeat listing n running (task, attempt, epoch) triples. */
static coord_worker_t *heartbeat(coord_core_t *k, coord_store_t *store, const fake_worker_t *w,
                                 int n, const uint64_t *tasks, const uint32_t *attempts,
                                 const uint32_t *epochs)
{
    Hpt__TaskProgress tp[8];
    Hpt__TaskProgress *tpv[8];
    ASSERT(n <= 8);
    for (int i = 0; i < n; i++) {
        tp[i] = (Hpt__TaskProgress)HPT__TASK_PROGRESS__INIT;
        tp[i].task = tasks[i];
        tp[i].attempt = attempts[i];
        tp[i].epoch = epochs ? epochs[i] : 0;
        tpv[i] = &tp[i];
    }
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.running = tpv;
    hb.n_running = (size_t)n;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return send_env(k, store, w, &env);
}

static void tick(coord_core_t *k, coord_store_t *store)
{
    coord_core_tick(k, now);
    drain(k, store);
}

static coord_task_t *task_by_id(const coord_core_t *k, uint64_t id)
{
    for (const coord_sweep_t *s = k->sweeps; s; s = s->next) {
        for (size_t i = 0; i < s->n_trials; i++)
            for (int j = 0; j < s->trials[i]->n_tasks; j++)
                if (s->trials[i]->tasks[j] && s->trials[i]->tasks[j]->id == id)
                    return s->trials[i]->tasks[j];
        if (s->refit_task && s->refit_task->id == id)
            return s->refit_task;
    }
    return NULL;
}

static coord_worker_t *worker_of(const coord_core_t *k, const fake_worker_t *w)
{
    return coord_worker_by_peer(k, &w->peer);
}

static Hpt__Result result_fail(uint64_t task, uint32_t attempt, const char *error)
{
    Hpt__Result r = HPT__RESULT__INIT;
    r.task = task;
    r.attempt = attempt;
    r.ok = false;
    r.error = (char *)error;
    r.score = NAN;
    r.accuracy = NAN;
    r.log_loss = NAN;
    r.f1_macro = NAN;
    r.train_score = NAN;
    r.fit_seconds = 0.5;
    return r;
}

#define ASSIGN HPT__ENVELOPE__BODY_ASSIGN
#define CANCEL HPT__ENVELOPE__BODY_CANCEL
#define DISCONNECT HPT__ENVELOPE__BODY_DISCONNECT

/* Assert the i-th Assign to w is (task, attempt). */
#define ASSERT_ASSIGN(w, i, task_, attempt_)                    \
    do {                                                        \
        const Hpt__Assign *a__ = assign_to((w), (i));           \
        ASSERT(a__ != NULL);                                    \
        ASSERT_EQ(a__->task, (task_));                          \
        ASSERT_EQ(a__->attempt, (attempt_));                    \
    } while (0)

// --- dispatch -----------------------------------------------------------------------

HPT_TEST(credit_dispatch)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    ASSERT_EQ(s->state, SWEEP_QUEUED);
    ASSERT_EQ(s->tasks_total, 4);
    ASSERT_EQ(O.n_send, 0);

    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_JOINED), 1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 2);
    ASSERT_EQ(O.n_send, 3);   // Welcome and two Assigns
    const Hpt__Assign *a = assign_to(&w1, 0);
    ASSERT_EQ(a->task, 1);
    ASSERT_EQ(a->attempt, 1);
    ASSERT_EQ(a->sweep, s->id);
    ASSERT_EQ(a->trial, 1);
    ASSERT_EQ(a->fold, 0);
    ASSERT_EQ(a->folds, 2);
    ASSERT(!a->refit);
    ASSERT(strcmp(a->dataset, "mnist") == 0);
    ASSERT(strcmp(a->fingerprint, FP) == 0);
    a = assign_to(&w1, 1);
    ASSERT_EQ(a->task, 2);
    ASSERT_EQ(a->trial, 1);
    ASSERT_EQ(a->fold, 1);
    ASSERT_EQ(n_j(COORD_J_TASK_LEASE, 0), 2);
    ASSERT_EQ(n_ev(COORD_EV_TASK_LEASED), 2);
    ASSERT_EQ(s->state, SWEEP_RUNNING);
    ASSERT_EQ(s->tasks_running, 2);
    ASSERT_EQ(s->n_trials, 1);   // trials are created one at a time, when needed
    ASSERT_EQ(worker_of(&k, &w1)->busy, 2);
    ASSERT_EQ(coord_worker_free_slots(worker_of(&k, &w1), now), 0);

    // No credit left: a heartbeat and a tick lease nothing; the tick heartbeats.
    now += 1;
    heartbeat(&k, NULL, &w1, 2, (uint64_t[]){1, 2}, (uint32_t[]){1, 1}, NULL);
    ASSERT_EQ(O.n_send, 0);
    tick(&k, NULL);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    ASSERT_EQ(n_sent(&w1, HPT__ENVELOPE__BODY_HEARTBEAT), 1);
    ASSERT_EQ(O.n_timer, 1);

    // A result frees one slot, and exactly one Assign follows.
    now += 1;
    result_score(&k, NULL, &w1, 1, 1, 0.75);
    ASSERT_EQ(n_ev(COORD_EV_TASK_RESULT), 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    a = assign_to(&w1, 0);
    ASSERT_EQ(a->task, 3);
    ASSERT_EQ(a->attempt, 1);
    ASSERT_EQ(a->trial, 2);
    ASSERT_EQ(s->tasks_done, 1);
    ASSERT_EQ(s->tasks_running, 2);
    ASSERT_EQ(s->n_trials, 2);
    ASSERT_EQ(k.results_accepted, 1);

    result_score(&k, NULL, &w1, 2, 1, 0.25);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_DONE), 1);
    ASSERT_ASSIGN(&w1, 0, 4, 1);
    ASSERT_EQ(s->trials[0]->state, TRIAL_DONE);
    ASSERT_NEAR(s->trials[0]->mean, 0.5, 1e-12);

    result_score(&k, NULL, &w1, 3, 1, 0.5);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);   // the grid is exhausted
    result_score(&k, NULL, &w1, 4, 1, 1.0);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_DONE), 1);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_FINISHED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_FINISHED), "state=done");
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_FINISHED), "best_trial=2");
    ASSERT_EQ(s->state, SWEEP_DONE);
    ASSERT_EQ(s->tasks_done, 4);
    ASSERT_EQ(s->tasks_total, 4);
    ASSERT_EQ(s->tasks_running, 0);
    ASSERT_EQ(s->trials_done, 2);
    ASSERT(s->best == s->trials[1]);
    ASSERT_NEAR(s->trials[1]->mean, 0.75, 1e-12);
    ASSERT_EQ(worker_of(&k, &w1)->tasks_done, 4);
    ASSERT_EQ(worker_of(&k, &w1)->busy, 0);
    core_end(&k);
}

// --- attempts -----------------------------------------------------------------------

HPT_TEST(dead_worker_attempts)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2), w2 = fw(2, "w2", 4);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_ASSIGN(&w1, 1, 2, 1);
    now = 101;
    hello(&k, NULL, &w2);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 2);
    ASSERT_ASSIGN(&w2, 0, 3, 1);
    ASSERT_ASSIGN(&w2, 1, 4, 1);

    // w2 stays alive; w1 says nothing for longer than hb_ivl * liveness (3 s).
    now = 102;
    heartbeat(&k, NULL, &w2, 2, (uint64_t[]){3, 4}, (uint32_t[]){1, 1}, NULL);
    now = 102.9;
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w1) != NULL);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_LEFT), 0);
    now = 103.5;
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w1) == NULL);
    ASSERT_EQ(k.n_workers, 1);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_LEFT), 1);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 2);
    // The counters /metrics shows: one worker lost with two leases, no failure.
    ASSERT_EQ(k.workers_lost, 1);
    ASSERT_EQ(k.leases_lost, 2);
    ASSERT_EQ(k.attempts_failed, 0);
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "lost") == 0);
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 2), "lost") == 0);
    // Both are leased to w2 with attempt 2.
    ASSERT_EQ(n_sent(&w2, ASSIGN), 2);
    const Hpt__Assign *a0 = assign_to(&w2, 0), *a1 = assign_to(&w2, 1);
    ASSERT_EQ(a0->attempt, 2);
    ASSERT_EQ(a1->attempt, 2);
    ASSERT_EQ(a0->task + a1->task, 3);   // tasks 1 and 2
    ASSERT(a0->task != a1->task);
    ASSERT_EQ(k.tasks_retried, 2);
    ASSERT(task_by_id(&k, 1)->lease->worker == worker_of(&k, &w2));

    // w1 comes back and delivers its result of attempt 1: dropped.
    now = 104;
    hello(&k, NULL, &w1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    result_score(&k, NULL, &w1, 1, 1, 0.5);
    ASSERT_EQ(k.results_dropped, 1);
    ASSERT_EQ(k.results_accepted, 0);
    ASSERT_EQ(n_ev(COORD_EV_RESULT_DROPPED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_RESULT_DROPPED), "reason=superseded-attempt");
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(task_by_id(&k, 1)->state, TASK_LEASED);
    ASSERT_EQ(task_by_id(&k, 1)->attempt, 2);
    ASSERT_EQ(s->tasks_done, 0);

    // Attempt 2's result counts.
    result_score(&k, NULL, &w2, 1, 2, 0.5);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    ASSERT_EQ(k.results_accepted, 1);
    ASSERT_EQ(s->tasks_done, 1);
    core_end(&k);
}

HPT_TEST(duplicate_result)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    result_score(&k, NULL, &w1, 1, 1, 0.5);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    ASSERT_ASSIGN(&w1, 0, 3, 1);
    result_score(&k, NULL, &w1, 1, 1, 0.5);
    ASSERT_EQ(k.results_dropped, 1);
    ASSERT_EQ(k.results_accepted, 1);
    ASSERT_EQ(n_ev(COORD_EV_RESULT_DROPPED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_RESULT_DROPPED), "reason=task-not-leased");
    ASSERT_EQ(n_ev(COORD_EV_TASK_RESULT), 0);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    ASSERT_EQ(s->tasks_done, 1);
    ASSERT_EQ(s->trials[0]->done, 1);
    ASSERT_EQ(worker_of(&k, &w1)->tasks_done, 1);
    ASSERT_EQ(worker_of(&k, &w1)->busy, 2);
    core_end(&k);
}

HPT_TEST(result_from_non_holder)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 1), w2 = fw(2, "w2", 1), stranger = fw(3, "w3", 1);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    hello(&k, NULL, &w2);
    ASSERT_ASSIGN(&w2, 0, 2, 1);

    // w2 reports task 1, which w1 holds.
    ASSERT(result_score(&k, NULL, &w2, 1, 1, 0.5) == worker_of(&k, &w2));
    ASSERT_EQ(k.results_dropped, 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_RESULT_DROPPED), "reason=leased-to-another-worker");
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(task_by_id(&k, 1)->state, TASK_LEASED);
    ASSERT(task_by_id(&k, 1)->lease->worker == worker_of(&k, &w1));
    ASSERT_EQ(worker_of(&k, &w2)->busy, 1);

    // A task that does not exist.
    result_score(&k, NULL, &w2, 99, 1, 0.5);
    ASSERT_EQ(k.results_dropped, 2);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_RESULT_DROPPED), "reason=unknown-task");

    // An unregistered peer is told to register; nothing changes.
    ASSERT(result_score(&k, NULL, &stranger, 2, 1, 0.5) == NULL);
    ASSERT_EQ(n_sent(&stranger, DISCONNECT), 1);
    ASSERT_EQ(O.n_send, 1);
    ASSERT_EQ(n_ev(COORD_EV_UNREGISTERED_PEER), 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_LEASED);
    ASSERT_EQ(s->tasks_done, 0);
    ASSERT_EQ(k.results_accepted, 0);
    ASSERT(heartbeat(&k, NULL, &stranger, 0, NULL, NULL, NULL) == NULL);
    ASSERT_EQ(n_sent(&stranger, DISCONNECT), 1);
    ASSERT_EQ(k.n_workers, 2);
    core_end(&k);
}

// --- identity ---------------------------------------------------------------------

/* The first Welcome carries a 32-byte session secret; the journal gets its
 * SHA-256, never the secret. */
HPT_TEST(welcome_secret_journaled_as_hash)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&k, NULL, &w1);
    ASSERT(w1.has_secret);
    ASSERT_EQ(n_j(COORD_J_WORKER_SEEN, 0), 1);
    const char *hash = O.j[0].secret;
    ASSERT_EQ(strlen(hash), 64);
    char secret_hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(secret_hex + 2 * i, 3, "%02x", w1.secret[i]);
    ASSERT(strcmp(hash, secret_hex) != 0);
    // Again on the same connection: re-registered, no new secret.
    uint8_t kept[32];
    memcpy(kept, w1.secret, sizeof kept);
    hello(&k, NULL, &w1);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REREGISTERED), 1);
    ASSERT_EQ(O.send[0].env->welcome->session_secret.len, 0);
    ASSERT(memcmp(kept, w1.secret, sizeof kept) == 0);
    // Another worker gets another secret.
    fake_worker_t w2 = fw(2, "w2", 1);
    hello(&k, NULL, &w2);
    ASSERT(memcmp(w1.secret, w2.secret, sizeof kept) != 0);
    core_end(&k);
}

/* Finding 2: a Hello with a live worker's id from another connection, with
 * no secret or a wrong one, is refused (Disconnect ID_REFUSED, logged) and
 * changes nothing: the real worker keeps its record, connection and leases,
 * is not told to disconnect, and keeps delivering; the impostor's results
 * count nowhere. */
HPT_TEST(hello_impersonation_refused)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_ASSIGN(&w1, 1, 2, 1);
    coord_worker_t *rec = worker_of(&k, &w1);

    fake_worker_t evil = fw(66, "w1", 8);
    hello_with(&k, NULL, &evil, NULL, 0);
    ASSERT_EQ(O.n_send, 1);
    ASSERT_EQ(n_sent(&evil, DISCONNECT), 1);
    ASSERT_EQ(O.send[0].env->disconnect->code, HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REFUSED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_WORKER_REFUSED), "conn=66");
    ASSERT_EQ(n_j(COORD_J_WORKER_SEEN, 0), 0);
    uint8_t guess[32] = {0};
    hello_with(&k, NULL, &evil, guess, sizeof guess);
    ASSERT_EQ(n_sent(&evil, DISCONNECT), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_WORKER_REFUSED), "wrong session secret");
    hello_with(&k, NULL, &evil, guess, 5);   // (the shell refuses this length anyway)
    ASSERT_EQ(n_sent(&evil, DISCONNECT), 1);

    ASSERT_EQ(k.n_workers, 1);
    ASSERT(worker_of(&k, &w1) == rec);
    ASSERT_EQ(rec->conn, 1);
    ASSERT_EQ(rec->busy, 2);
    ASSERT_EQ(rec->slots, 2);
    ASSERT(worker_of(&k, &evil) == NULL);

    // The impostor's forged results: it is not registered, nothing counts.
    ASSERT(result_score(&k, NULL, &evil, 1, 1, 0.99) == NULL);
    ASSERT_EQ(n_sent(&evil, DISCONNECT), 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    Hpt__Progress p = HPT__PROGRESS__INIT;
    p.task = 1;
    p.attempt = 1;
    p.epoch = 1;
    p.epochs = 1;
    p.val_score = 0.99;
    hpt_env_t pe = HPT__ENVELOPE__INIT;
    pe.body_case = HPT__ENVELOPE__BODY_PROGRESS;
    pe.progress = &p;
    ASSERT(send_env(&k, NULL, &evil, &pe) == NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_PROGRESS), 0);

    // The real worker was told nothing and goes on.
    ASSERT(result_score(&k, NULL, &w1, 1, 1, 0.75) == rec);
    ASSERT_EQ(n_sent(&w1, DISCONNECT), 0);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    ASSERT(result_score(&k, NULL, &w1, 2, 1, 0.25) == rec);
    ASSERT_EQ(s->tasks_done, 2);
    ASSERT_NEAR(s->trials[0]->mean, 0.5, 0);
    // The impostor's held result never lands anywhere.
    now += 7;
    tick(&k, NULL);
    ASSERT_EQ(k.n_held, 0);
    ASSERT_EQ(k.results_accepted, 2);
    core_end(&k);
}

/* A worker whose socket was replaced proves itself with its secret: the
 * record moves to the new connection with its leases; the old connection's
 * routing id no longer speaks for it. */
HPT_TEST(reconnect_with_secret_keeps_leases)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    coord_worker_t *rec = worker_of(&k, &w1);
    ASSERT_EQ(rec->busy, 2);

    // Its result for task 1 arrives on the new connection before its Hello.
    fake_worker_t w1b = reconnected(&w1, 2);
    ASSERT(result_score(&k, NULL, &w1b, 1, 1, 0.75) == NULL);
    ASSERT_EQ(n_sent(&w1b, DISCONNECT), 1);
    ASSERT_EQ(O.send[0].env->disconnect->code, HPT__DISCONNECT_CODE__DISCONNECT_REGISTER);
    ASSERT_EQ(k.n_held, 1);
    ASSERT_EQ(s->tasks_done, 0);
    hello(&k, NULL, &w1b);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REREGISTERED), 1);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REFUSED), 0);
    ASSERT_EQ(O.send[0].env->welcome->session_secret.len, 0);
    ASSERT(worker_of(&k, &w1b) == rec);
    ASSERT(worker_of(&k, &w1) == NULL);
    ASSERT_EQ(rec->conn, 2);
    ASSERT_EQ(k.n_held, 0);
    ASSERT_EQ(s->tasks_done, 1);   // the held result, now from the holder
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    // The old connection is not the worker any more.
    ASSERT(result_score(&k, NULL, &w1, 2, 1, 0.25) == NULL);
    ASSERT_EQ(s->tasks_done, 1);
    ASSERT(result_score(&k, NULL, &w1b, 2, 1, 0.25) == rec);
    ASSERT_EQ(s->tasks_done, 2);
    core_end(&k);
}

/* A routing id names a connection only while it is open: a message with a
 * registered worker's routing id from another connection (one reusing the
 * id of a closed one) is not that worker's, and its Hello is refused. */
HPT_TEST(routing_id_reuse_is_not_the_worker)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&k, NULL, &w1);
    coord_worker_t *rec = worker_of(&k, &w1);
    fake_worker_t reuse = fw(1, "w9", 1);
    reuse.conn.id = 44;
    double expiry = rec->expiry;
    now = 101;
    ASSERT(result_score(&k, NULL, &reuse, 1, 1, 0.99) == NULL);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_UNREGISTERED_PEER), "another connection");
    ASSERT_NEAR(rec->expiry, expiry, 0);   // not refreshed by it
    ASSERT_EQ(s->tasks_done, 0);
    hello_with(&k, NULL, &reuse, NULL, 0);
    ASSERT_EQ(n_sent(&reuse, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_WORKER_REFUSED), "routing id belongs to another");
    ASSERT(coord_worker_by_conn(&k, &w1.peer, 1) == rec);
    ASSERT_EQ(k.n_workers, 1);
    // Even with w1's own id and secret, from that connection (a stolen secret
    // still needs a connection of its own).
    fake_worker_t reuse_w1 = w1;
    reuse_w1.conn.id = 44;
    hello_with(&k, NULL, &reuse_w1, NULL, 0);
    ASSERT_EQ(n_sent(&reuse_w1, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_EQ(rec->conn, 1);
    core_end(&k);
}

/* With keys a record belongs to the key too: the right secret from another
 * key is refused. */
HPT_TEST(reconnect_needs_the_same_key)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    fake_worker_t w1 = fw(1, "w1", 1);
    snprintf(w1.conn.key, sizeof w1.conn.key, "%s", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    hello(&k, NULL, &w1);
    fake_worker_t other = reconnected(&w1, 2);
    snprintf(other.conn.key, sizeof other.conn.key, "%s",
             "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6");
    hello_with(&k, NULL, &other, NULL, 0);
    ASSERT_EQ(n_sent(&other, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_WORKER_REFUSED), "another key");
    ASSERT_EQ(worker_of(&k, &w1)->conn, 1);
    fake_worker_t same = reconnected(&w1, 3);
    hello(&k, NULL, &same);
    ASSERT_EQ(worker_of(&k, &same)->conn, 3);
    core_end(&k);
}

/* worker_id must be printable, without space, quote, backslash or '=', and
 * at most 255 bytes. */
HPT_TEST(hello_worker_id_validated)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    const char *bad[] = {"has space", "tab\there", "quote\"", "back\\slash", "k=v", "\x7f",
                         "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fake_worker_t w = fw(1, bad[i], 1);
        hello_with(&k, NULL, &w, NULL, 0);
        ASSERT_EQ(n_sent(&w, HPT__ENVELOPE__BODY_WELCOME), 0);
        ASSERT_EQ(n_sent(&w, DISCONNECT), 1);
    }
    char longest[256];
    memset(longest, 'x', 255);
    longest[255] = '\0';
    fake_worker_t w = fw(2, "", 1);
    snprintf(w.id, sizeof w.id, "%.63s", longest);   // fixture ids are short: build by hand
    ASSERT_EQ(k.n_workers, 0);
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = longest;
    m.name = "n";
    m.host = "h";
    m.version = "v";
    m.slots = 1;
    coord_core_hello(&k, now, &w.peer, &w.conn, &m);
    drain(&k, NULL);
    ASSERT_EQ(n_sent(&w, HPT__ENVELOPE__BODY_WELCOME), 1);
    ASSERT_EQ(k.n_workers, 1);
    core_end(&k);
}

// --- failures -----------------------------------------------------------------------

HPT_TEST(failure_retry_then_trial_fails)
{
    coord_core_t k;
    core_new(&k, NULL);   // max_attempts 3
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_ASSIGN(&w1, 1, 2, 1);

    for (uint32_t att = 1; att <= 2; att++) {
        Hpt__Result r = result_fail(1, att, "boom");
        result(&k, NULL, &w1, &r);
        ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 1);
        ASSERT_EQ(n_ev(COORD_EV_TASK_FAILED), 0);
        ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "failed") == 0);
        // The only worker may take it again (avoid yields when no one else can).
        ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
        ASSERT_ASSIGN(&w1, 0, 1, att + 1);
        ASSERT_EQ(task_by_id(&k, 1)->failures, att);
    }
    ASSERT_EQ(worker_of(&k, &w1)->tasks_failed, 2);
    ASSERT_EQ(k.attempts_failed, 2);
    ASSERT_EQ(k.workers_lost, 0);

    // The third failure ends the task and its trial; task 2 is cancelled on w1.
    Hpt__Result r = result_fail(1, 3, "boom");
    result(&k, NULL, &w1, &r);
    ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 0);
    ASSERT_EQ(n_ev(COORD_EV_TASK_FAILED), 1);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_FAILED), 1);
    ASSERT(strcmp(j_state(COORD_J_TASK_STATE, 1), "failed") == 0);
    ASSERT(strcmp(j_state(COORD_J_TASK_STATE, 2), "cancelled") == 0);
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 2), "cancelled") == 0);
    ASSERT_EQ(n_sent(&w1, CANCEL), 1);
    ASSERT_EQ(cancel_to(&w1, 0)->task, 2);
    ASSERT_EQ(cancel_to(&w1, 0)->attempt, 1);
    coord_trial_t *tr = s->trials[0];
    ASSERT_EQ(tr->state, TRIAL_FAILED);
    ASSERT(isnan(tr->mean));
    ASSERT_STR_CONTAINS(tr->error, "split 0: boom");
    ASSERT_EQ(task_by_id(&k, 1)->state, TASK_FAILED);
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_CANCELLED);
    ASSERT_EQ(s->tasks_failed, 1);
    ASSERT_EQ(s->tasks_total, 3);   // task 2 will never run
    // w1 still runs the cancelled task 2 (a zombie): one slot is left, for trial 2.
    ASSERT_EQ(worker_of(&k, &w1)->zombies, 1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    ASSERT_ASSIGN(&w1, 0, 3, 1);

    // Its heartbeat shows task 2 stopped: the slot comes back.
    now += 1;
    heartbeat(&k, NULL, &w1, 1, (uint64_t[]){3}, (uint32_t[]){1}, NULL);
    ASSERT_EQ(worker_of(&k, &w1)->zombies, 0);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    ASSERT_ASSIGN(&w1, 0, 4, 1);
    result_score(&k, NULL, &w1, 3, 1, 0.5);
    result_score(&k, NULL, &w1, 4, 1, 0.5);
    ASSERT_EQ(s->state, SWEEP_DONE);
    ASSERT_EQ(s->trials_failed, 1);
    ASSERT_EQ(s->trials_done, 1);
    ASSERT(s->best == s->trials[1]);
    ASSERT_EQ(k.attempts_failed, 3);
    ASSERT_EQ(k.results_accepted, 2);
    core_end(&k);
}

/* Two trials: a small model, and one of 4,096 units (about 60 MiB). */
#define SPEC_MEM                                      \
    "name: core-mem\n"                                \
    "dataset: mnist\n"                                \
    "method: grid\n"                                  \
    "cv: {folds: 2, shuffle: false, seed: 1}\n"       \
    "refit: false\n"                                  \
    "parameters:\n"                                   \
    "  units: {values: [8, 4096]}\n"                  \
    "  epochs: {value: 1}\n"

HPT_TEST(memory_budget_dispatch)
{
    const uint64_t small = 10u << 20, big = 400u << 20;
    // One worker whose budget fits only the small model: it gets only its
    // tasks, and the tick fails the large trial at once, saying why.
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_MEM, FP);
    fake_worker_t w1 = fw(1, "w1", 4);
    hello_mem = small;
    hello(&k, NULL, &w1);
    ASSERT_EQ(worker_of(&k, &w1)->mem_budget, small);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 2);
    for (int i = 0; i < 2; i++) {
        const coord_task_t *t = task_by_id(&k, assign_to(&w1, i)->task);
        ASSERT(t->trial->mem_need > 0 && t->trial->mem_need <= small);
    }
    coord_trial_t *large = s->trials[1];
    ASSERT(large != NULL);
    ASSERT(coord_trial_mem_need(large) > small && coord_trial_mem_need(large) < big);
    tick(&k, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_FAILED), 1);
    ASSERT_EQ(large->state, TRIAL_FAILED);
    ASSERT_STR_CONTAINS(large->error, "memory budget of every worker");
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    result_score(&k, NULL, &w1, 1, 1, 0.5);
    result_score(&k, NULL, &w1, 2, 1, 0.5);
    ASSERT_EQ(s->state, SWEEP_DONE);
    ASSERT_EQ(s->trials_failed, 1);
    core_end(&k);

    // With a worker that fits it too, the large trial waits for that one:
    // the small worker never gets it, nothing fails.
    core_new(&k, NULL);
    now = 100;
    s = submit(&k, NULL, SPEC_MEM, FP);
    fake_worker_t a = fw(1, "small", 4), b = fw(2, "big", 1);
    hello_mem = small;
    hello(&k, NULL, &a);
    ASSERT_EQ(n_sent(&a, ASSIGN), 2);
    hello_mem = big;
    hello(&k, NULL, &b);
    ASSERT_EQ(n_sent(&b, ASSIGN), 1);
    const coord_task_t *t = task_by_id(&k, assign_to(&b, 0)->task);
    ASSERT(t->trial == s->trials[1]);
    tick(&k, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_FAILED), 0);
    ASSERT_EQ(n_ev(COORD_EV_TASK_FAILED), 0);
    // A worker without a budget (an older one, or no limit) takes anything.
    core_end(&k);
    hello_mem = 0;
}

/* Bundles (horizontal fusion): a worker that advertises Hello.fuse_max gets
 * the queued tasks of one fusion key (split, seed, batch size, epochs) as
 * one bundle in one slot, each its own lease; trials a bundle cannot help
 * (10 units: no narrow first layer) go alone; the slot frees when the
 * bundle's last task ends; a lost worker requeues every member. */
#define SPEC_FUSE                                     \
    "name: fuse\n"                                     \
    "dataset: mnist\n"                                 \
    "method: grid\n"                                   \
    "cv: {folds: 2, seed: 1}\n"                        \
    "refit: false\n"                                   \
    "parameters:\n"                                    \
    "  units: {values: [8, 16, 32, 10]}\n"             \
    "  epochs: {value: 1}\n"

HPT_TEST(bundle_dispatch)
{
    coord_core_t k;
    coord_core_cfg_t cfg = CFG;
    cfg.fuse_max = 4;
    core_new(&k, &cfg);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_FUSE, FP);
    fake_worker_t w1 = fw(1, "w1", 1), w2 = fw(2, "w2", 1);
    hello_fuse = 4;
    hello(&k, NULL, &w1);
    hello_fuse = 0;
    // One slot, three tasks: the first split of the 8-, 16- and 32-unit
    // trials (the grid is asked for trials until their mates are queued).
    ASSERT_EQ(n_sent(&w1, ASSIGN), 3);
    uint64_t bundle = assign_to(&w1, 0)->bundle, ids[3];
    ASSERT(bundle != 0);
    for (int i = 0; i < 3; i++) {
        const Hpt__Assign *a = assign_to(&w1, i);
        ids[i] = a->task;
        ASSERT_EQ(a->bundle, bundle);
        ASSERT_EQ(a->bundle_size, 3);
        ASSERT_EQ(a->fold, 0);
        const coord_task_t *t = task_by_id(&k, a->task);
        ASSERT_EQ((int)t->trial->number, i + 1);
    }
    coord_worker_t *cw = worker_of(&k, &w1);
    ASSERT_EQ(cw->busy, 3);
    ASSERT_EQ(cw->units, 1);
    ASSERT_EQ(coord_worker_free_slots(cw, now), 0);
    // A worker without the capability gets single tasks: the head of the
    // queue, the 8-unit trial's second split.
    hello(&k, NULL, &w2);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 1);
    const Hpt__Assign *lone = assign_to(&w2, 0);
    ASSERT_EQ(lone->bundle, 0);
    ASSERT_EQ(lone->bundle_size, 0);
    ASSERT_EQ((int)task_by_id(&k, lone->task)->trial->number, 1);
    uint64_t lone_id = lone->task;
    // Two members end: the slot is still the third's.
    result_score(&k, NULL, &w1, ids[0], 1, 0.5);
    result_score(&k, NULL, &w1, ids[1], 1, 0.6);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    ASSERT_EQ(cw->units, 1);
    ASSERT_EQ(cw->busy, 1);
    // The last ends: the next bundle takes the slot: the second split of
    // the 16- and 32-unit trials (the 10-unit trial's tasks join none).
    result_score(&k, NULL, &w1, ids[2], 1, 0.7);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 2);
    uint64_t bundle2 = assign_to(&w1, 0)->bundle;
    ASSERT(bundle2 != 0 && bundle2 != bundle);
    for (int i = 0; i < 2; i++) {
        const Hpt__Assign *a = assign_to(&w1, i);
        ids[i] = a->task;
        ASSERT_EQ(a->fold, 1);
        ASSERT_EQ(a->bundle, bundle2);
        ASSERT_EQ(a->bundle_size, 2);
        ASSERT_EQ((int)task_by_id(&k, a->task)->trial->number, i + 2);
    }
    ASSERT_EQ(cw->units, 1);
    ASSERT_EQ(cw->busy, 2);
    // w1 goes silent: both members are requeued (attempt 2) and wait, w2
    // being busy.
    now = 104;
    heartbeat(&k, NULL, &w2, 1, (uint64_t[]){lone_id}, (uint32_t[]){1}, NULL);
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w1) == NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 2);
    for (int i = 0; i < 2; i++)
        ASSERT_EQ(task_by_id(&k, ids[i])->state, TASK_QUEUED);
    ASSERT_EQ(s->n_queued, 4);   // and the 10-unit trial's two splits
    core_end(&k);
}

HPT_TEST(refused_result_requeues)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    Hpt__Result r = result_fail(1, 1, "no free slot");
    r.refused = true;
    result(&k, NULL, &w1, &r);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 1);
    ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 0);
    ASSERT_EQ(n_ev(COORD_EV_TASK_FAILED), 0);
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "lost") == 0);
    ASSERT_EQ(task_by_id(&k, 1)->state, TASK_QUEUED);
    ASSERT_EQ(task_by_id(&k, 1)->failures, 0);
    ASSERT_EQ(worker_of(&k, &w1)->tasks_failed, 0);
    ASSERT_EQ(s->tasks_failed, 0);
    // The worker's view of its slots differs: no lease until a heartbeat interval passes.
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    now += 0.5;
    tick(&k, NULL);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    now += 0.6;
    tick(&k, NULL);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    ASSERT_ASSIGN(&w1, 0, 1, 2);
    result_score(&k, NULL, &w1, 1, 2, 0.5);
    ASSERT_EQ(s->tasks_done, 1);
    core_end(&k);
}

HPT_TEST(out_of_range_results)
{
    coord_core_cfg_t cfg = CFG;
    cfg.max_attempts = 7;
    coord_core_t k;
    core_new(&k, &cfg);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    Hpt__Result bad[6];
    bad[0] = result_ok(1, 1, 1.7e308);
    bad[1] = result_ok(1, 2, 0.5);
    bad[1].accuracy = 1.5;
    bad[2] = result_ok(1, 3, NAN);
    bad[3] = result_ok(1, 4, 0.5);
    bad[3].epochs = 4000000000u;
    bad[4] = result_ok(1, 5, 0.5);
    bad[4].log_loss = 1.7e308;   // finite, but no clipped log loss exceeds 16.12
    bad[5] = result_ok(1, 6, 0.5);
    bad[5].f1_macro = 2.0;
    for (int i = 0; i < 6; i++) {
        result(&k, NULL, &w1, &bad[i]);
        ASSERT_EQ(n_ev(COORD_EV_TASK_RESULT), 0);
        ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
        ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 1);
        ASSERT_STR_CONTAINS(ev_fields(COORD_EV_TASK_RETRY), "out of range");
        ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "failed") == 0);
        ASSERT_ASSIGN(&w1, 0, 1, (uint32_t)i + 2);
        ASSERT_EQ(k.results_accepted, 0);
        ASSERT_EQ(s->trials[0]->done, 0);
    }
    result_score(&k, NULL, &w1, 1, 7, 0.75);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 1), 1);
    ASSERT_ASSIGN(&w1, 0, 2, 1);
    result_score(&k, NULL, &w1, 2, 1, 0.25);
    ASSERT_EQ(s->trials[0]->state, TRIAL_DONE);
    ASSERT_NEAR(s->trials[0]->mean, 0.5, 1e-12);
    ASSERT_EQ(task_by_id(&k, 1)->failures, 6);
    ASSERT_NEAR(task_by_id(&k, 1)->res->score, 0.75, 0);
    core_end(&k);
}

// --- refit ----------------------------------------------------------------------------

HPT_TEST(refit)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("true"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    result_score(&k, NULL, &w1, 1, 1, 0.75);
    result_score(&k, NULL, &w1, 2, 1, 0.75);
    result_score(&k, NULL, &w1, 3, 1, 0.5);
    ASSERT_EQ(n_ev(COORD_EV_REFIT_STARTED), 0);
    result_score(&k, NULL, &w1, 4, 1, 0.25);
    ASSERT_EQ(n_ev(COORD_EV_REFIT_STARTED), 1);
    ASSERT_EQ(s->state, SWEEP_REFITTING);
    ASSERT(s->best == s->trials[0]);
    ASSERT(s->refit_task != NULL);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    const Hpt__Assign *a = assign_to(&w1, 0);
    ASSERT(a->refit);
    ASSERT_EQ(a->task, 5);
    ASSERT_EQ(a->trial, 1);
    ASSERT_EQ(a->attempt, 1);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_FINISHED), 0);

    Hpt__Result r = result_ok(5, 1, 0.875);
    r.n_eval = 10000;
    result(&k, NULL, &w1, &r);
    ASSERT_EQ(n_ev(COORD_EV_REFIT_DONE), 1);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_FINISHED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_FINISHED), "state=done");
    ASSERT_EQ(n_j(COORD_J_SWEEP_REFIT, 0), 1);
    ASSERT(s->has_refit);
    ASSERT_NEAR(s->refit_score, 0.875, 0);
    ASSERT_EQ(s->refit_n_test, 10000);
    ASSERT_EQ(s->state, SWEEP_DONE);
    ASSERT_EQ(s->tasks_done, 5);
    core_end(&k);
}

// --- stalls and lost leases -------------------------------------------------------------

HPT_TEST(stall_revoked_and_avoided)
{
    coord_core_t k;
    core_new(&k, NULL);   // task_stall_s 30
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_ONE, FP);
    fake_worker_t w1 = fw(1, "w1", 3), w2 = fw(2, "w2", 2);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_ASSIGN(&w1, 1, 2, 1);
    hello(&k, NULL, &w2);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 0);
    // w1 reports task 2 advancing and task 1 stuck at epoch 0.
    for (int t = 101; t <= 131; t++) {
        now = t;
        heartbeat(&k, NULL, &w1, 2, (uint64_t[]){1, 2}, (uint32_t[]){1, 1},
                  (uint32_t[]){0, (uint32_t)(t - 100)});
        heartbeat(&k, NULL, &w2, 0, NULL, NULL, NULL);
        tick(&k, NULL);
        if (t < 131) {
            ASSERT_EQ(n_ev(COORD_EV_LEASE_REVOKED), 0);
            continue;
        }
    }
    // At 131 s the lease of task 1 is 31 s without progress (> 30).
    ASSERT_EQ(n_ev(COORD_EV_LEASE_REVOKED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_LEASE_REVOKED), "task=1 ");
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_LEASE_REVOKED), "stalled");
    ASSERT_EQ(n_sent(&w1, CANCEL), 1);
    ASSERT_EQ(cancel_to(&w1, 0)->task, 1);
    ASSERT_EQ(cancel_to(&w1, 0)->attempt, 1);
    ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 1);
    // w1 comes first in the table and has a free slot, yet the retry goes to w2.
    ASSERT(k.workers == worker_of(&k, &w1));
    ASSERT_EQ(coord_worker_free_slots(worker_of(&k, &w1), now), 1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 1);
    ASSERT_ASSIGN(&w2, 0, 1, 2);
    ASSERT_EQ(task_by_id(&k, 1)->failures, 1);
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_LEASED);
    ASSERT_EQ(s->state, SWEEP_RUNNING);
    core_end(&k);
}

/* A stall that fails its task for good cancels the trial's other tasks,
 * which may sit further down the same worker's lease list. */
HPT_TEST(stall_fails_trial_with_siblings_on_same_worker)
{
    coord_core_cfg_t cfg = CFG;
    cfg.max_attempts = 1;
    coord_core_t k;
    core_new(&k, &cfg);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_ONE, FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 2);
    for (int t = 101; t <= 131; t++) {
        now = t;
        heartbeat(&k, NULL, &w1, 2, (uint64_t[]){1, 2}, (uint32_t[]){1, 1}, NULL);
        tick(&k, NULL);
        if (t < 131)
            ASSERT_EQ(n_ev(COORD_EV_LEASE_REVOKED), 0);
    }
    // One revocation fails the trial; the other task is cancelled, not revoked.
    ASSERT_EQ(n_ev(COORD_EV_LEASE_REVOKED), 1);
    ASSERT_EQ(n_ev(COORD_EV_TASK_FAILED), 1);
    ASSERT_EQ(n_ev(COORD_EV_TRIAL_FAILED), 1);
    ASSERT_EQ(n_sent(&w1, CANCEL), 2);
    int failed = 0, cancelled = 0;
    for (uint64_t id = 1; id <= 2; id++) {
        failed += task_by_id(&k, id)->state == TASK_FAILED;
        cancelled += task_by_id(&k, id)->state == TASK_CANCELLED;
    }
    ASSERT_EQ(failed, 1);
    ASSERT_EQ(cancelled, 1);
    ASSERT_EQ(s->trials[0]->state, TRIAL_FAILED);
    ASSERT_EQ(s->state, SWEEP_FAILED);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_FINISHED), 1);
    ASSERT_EQ(worker_of(&k, &w1)->busy, 0);
    ASSERT_EQ(worker_of(&k, &w1)->zombies, 2);
    core_end(&k);
}

HPT_TEST(heartbeat_without_lease_requeues)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    // Within the grace (3 * hb_ivl) an Assign may still be on its way.
    now = 101;
    heartbeat(&k, NULL, &w1, 0, NULL, NULL, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 0);
    now = 102.9;
    heartbeat(&k, NULL, &w1, 1, (uint64_t[]){2}, (uint32_t[]){1}, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 0);
    now = 103.5;
    heartbeat(&k, NULL, &w1, 1, (uint64_t[]){2}, (uint32_t[]){1}, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_TASK_REQUEUED), "task=1 ");
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "lost") == 0);
    ASSERT_EQ(n_j(COORD_J_ATTEMPT_END, 2), 0);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    ASSERT_ASSIGN(&w1, 0, 1, 2);
    ASSERT_EQ(task_by_id(&k, 1)->failures, 0);
    core_end(&k);
}

// --- cancel ---------------------------------------------------------------------------

HPT_TEST(cancel_sweep)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_QUEUED);

    ASSERT_EQ(coord_core_cancel(&k, now, s), 1);
    drain(&k, NULL);
    ASSERT_EQ(n_sent(&w1, CANCEL), 1);
    ASSERT_EQ(cancel_to(&w1, 0)->task, 1);
    ASSERT_EQ(cancel_to(&w1, 0)->attempt, 1);
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 1), "cancelled") == 0);
    ASSERT(strcmp(j_state(COORD_J_TASK_STATE, 1), "cancelled") == 0);
    ASSERT(strcmp(j_state(COORD_J_TASK_STATE, 2), "cancelled") == 0);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_FINISHED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_FINISHED), "state=cancelled");
    ASSERT_EQ(s->state, SWEEP_CANCELLED);
    ASSERT_EQ(s->trials[0]->state, TRIAL_CANCELLED);
    ASSERT_EQ(task_by_id(&k, 1)->state, TASK_CANCELLED);
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_CANCELLED);
    ASSERT_EQ(s->tasks_running, 0);
    ASSERT_EQ(s->n_queued, 0);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);

    // Nothing more is leased; a second cancel does nothing; a late result is dropped.
    now += 1;
    heartbeat(&k, NULL, &w1, 0, NULL, NULL, NULL);
    tick(&k, NULL);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    ASSERT_EQ(coord_core_cancel(&k, now, s), 0);
    drain(&k, NULL);
    ASSERT_EQ(O.n_j, 0);
    ASSERT_EQ(O.n_send, 0);
    result_score(&k, NULL, &w1, 1, 1, 0.5);
    ASSERT_EQ(k.results_dropped, 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    core_end(&k);
}

// --- resume ---------------------------------------------------------------------------

/* Append printf output to a growing string. */
static void cat(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ASSERT(n >= 0 && (size_t)n < sizeof line);
    char *b = realloc(*buf, *len + (size_t)n + 1);
    ASSERT(b != NULL);
    memcpy(b + *len, line, (size_t)n + 1);
    *buf = b;
    *len += (size_t)n;
}

/* Everything a client could read about the sweeps, trials and tasks, as
 * text (owned); with tasks false only the sweeps and trials. */
static char *snapshot(const coord_core_t *k, bool tasks)
{
    char *b = NULL;
    size_t n = 0;
    cat(&b, &n, "");
    for (const coord_sweep_t *s = k->sweeps; s; s = s->next) {
        cat(&b, &n, "sweep %llu %s trials=%zu done=%d failed=%d total=%lld best=%llu refit=%d\n",
            (unsigned long long)s->id, coord_sweep_state_name(s->state), s->n_trials,
            s->trials_done, s->trials_failed, (long long)s->tasks_total,
            (unsigned long long)(s->best ? s->best->number : 0), s->has_refit);
        if (tasks)
            cat(&b, &n, "  tasks done=%d failed=%d running=%d queued=%d\n", s->tasks_done,
                s->tasks_failed, s->tasks_running, s->n_queued);
        for (size_t i = 0; i < s->n_trials; i++) {
            const coord_trial_t *tr = s->trials[i];
            cat(&b, &n, "  trial %llu %s done=%d mean=%.17g std=%.17g err=%s\n",
                (unsigned long long)tr->number, coord_trial_state_name(tr->state), tr->done,
                tr->mean, tr->std, tr->error);
            for (int j = 0; tasks && j < tr->n_tasks; j++) {
                const coord_task_t *t = tr->tasks[j];
                cat(&b, &n, "    task %llu %s attempt=%u failures=%u score=%.17g orphan=%s "
                            "error=%s\n",
                    (unsigned long long)t->id, coord_task_state_name(t->state),
                    (unsigned)t->attempt, (unsigned)t->failures, t->res ? t->res->score : NAN,
                    t->lease && t->lease->orphan ? t->lease->orphan->worker : "-",
                    t->error ? t->error : "-");
            }
        }
    }
    return b;
}

/* The worker of journal_scenario, with the session secret it was given. */
static fake_worker_t scenario_w1;

/* The journal for the resume cases, written by core a (left running):
 * trial 1 done (0.75, 0.25), task 3 failed once then done (0.5) on attempt
 * 2, task 4 leased to w1 (attempt 1) when the coordinator stops. */
static coord_store_t *journal_scenario(coord_core_t *a)
{
    coord_store_t *st = NULL;
    hpt_err err = {0};
    if (coord_store_open(&st, ":memory:", &err) != 0)
        HPT_TEST_FAIL("coord_store_open: %s", err.msg);
    core_new(a, NULL);
    now = 100;
    submit(a, st, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(a, st, &w1);
    result_score(a, st, &w1, 1, 1, 0.75);
    result_score(a, st, &w1, 2, 1, 0.25);
    ASSERT_ASSIGN(&w1, 0, 4, 1);
    Hpt__Result r = result_fail(3, 1, "boom");
    result(a, st, &w1, &r);
    ASSERT_ASSIGN(&w1, 0, 3, 2);
    result_score(a, st, &w1, 3, 2, 0.5);
    ASSERT_EQ(task_by_id(a, 4)->state, TASK_LEASED);
    ASSERT_EQ(a->sweeps->state, SWEEP_RUNNING);
    ASSERT(w1.has_secret);
    scenario_w1 = w1;
    return st;
}

static void resume(coord_core_t *k, coord_store_t *st, coord_store_t *journal_to, int want)
{
    core_new(k, NULL);
    coord_journal_reader_t rd = coord_store_reader(st);
    hpt_err err = {0};
    int rc = coord_core_resume(k, now, &rd, &err);
    if (rc != want)
        HPT_TEST_FAIL("coord_core_resume returned %d, want %d: %s", rc, want, err.msg);
    drain(k, journal_to);
}

HPT_TEST(resume_orphan_adopted)
{
    coord_core_t a, b;
    coord_store_t *st = journal_scenario(&a);
    char *before = snapshot(&a, false);
    core_end(&a);

    now = 200;   // a new process: the monotonic clock differs
    resume(&b, st, NULL, 1);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_RESUMED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_RESUMED), "leases_awaiting_workers=1");
    char *after = snapshot(&b, false);
    if (strcmp(before, after) != 0)
        HPT_TEST_FAIL("trials differ after resume:\n%s---\n%s", before, after);
    coord_sweep_t *s = b.sweeps;
    ASSERT_EQ(s->state, SWEEP_RUNNING);
    ASSERT_EQ(s->trials[0]->state, TRIAL_DONE);
    ASSERT_NEAR(s->trials[0]->mean, 0.5, 0);
    ASSERT_EQ(s->tasks_done, 3);
    ASSERT_EQ(task_by_id(&b, 3)->attempt, 2);
    ASSERT_EQ(task_by_id(&b, 3)->failures, 1);
    ASSERT_NEAR(task_by_id(&b, 3)->res->score, 0.5, 0);
    coord_task_t *t4 = task_by_id(&b, 4);
    ASSERT_EQ(t4->state, TASK_LEASED);
    ASSERT(t4->lease->worker == NULL);
    ASSERT(strcmp(t4->lease->orphan->worker, "w1") == 0);
    ASSERT_EQ(b.n_orphans, 1);
    ASSERT_EQ(b.next_task_id, 5);

    // w1 says Hello on a new connection, with its secret: it re-attaches to task 4.
    now = 201;
    fake_worker_t w1 = reconnected(&scenario_w1, 7);
    hello(&b, NULL, &w1);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REFUSED), 0);
    // It keeps the secret it has: the Welcome carries none.
    ASSERT_EQ(O.send[0].env->welcome->session_secret.len, 0);
    ASSERT_EQ(n_ev(COORD_EV_LEASES_REATTACHED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_LEASES_REATTACHED), "leases=1");
    ASSERT_EQ(b.n_orphans, 0);
    ASSERT(t4->lease->worker == worker_of(&b, &w1));
    ASSERT_EQ(worker_of(&b, &w1)->busy, 1);
    ASSERT_EQ(n_sent(NULL, ASSIGN), 0);
    result_score(&b, NULL, &w1, 4, 1, 0.5);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 4), 1);
    ASSERT_EQ(s->state, SWEEP_DONE);
    // Trial 2 ties trial 1 (0.5): the first one stays best.
    ASSERT_NEAR(s->trials[1]->mean, 0.5, 0);
    ASSERT(s->best == s->trials[0]);
    free(before);
    free(after);
    core_end(&b);
    coord_store_close(&st);
}

/* A loop stall (coord_core_stalled) is not the workers' silence: their
 * countdowns move on by its length, and only a silence after it expires
 * them. */
HPT_TEST(stall_does_not_expire_workers)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 2), w2 = fw(2, "w2", 1);
    hello(&k, NULL, &w1);
    now = 101;
    hello(&k, NULL, &w2);
    // The loop was held from 101 to 109: 8 s, past liveness (3 s).
    now = 109;
    coord_core_stalled(&k, now, 8.0);
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w1) != NULL);
    ASSERT(worker_of(&k, &w2) != NULL);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_LEFT), 0);
    // w2's heartbeat was waiting in the socket; w1 has really gone quiet.
    heartbeat(&k, NULL, &w2, 1, (uint64_t[]){3}, (uint32_t[]){1}, NULL);
    now = 111.1;   // w1: 100 + 3 + 8 = 111 passed; w2 refreshed at 109
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w1) == NULL);
    ASSERT(worker_of(&k, &w2) != NULL);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_LEFT), 1);
    // A zero, negative or NaN stall changes nothing.
    coord_core_stalled(&k, now, 0.0);
    coord_core_stalled(&k, now, -5.0);
    coord_core_stalled(&k, now, NAN);
    now = 112.1;   // w2: 109 + 3 = 112 passed
    tick(&k, NULL);
    ASSERT(worker_of(&k, &w2) == NULL);
    core_end(&k);
}

HPT_TEST(resume_orphan_expires)
{
    coord_core_t a, c;
    coord_store_t *st = journal_scenario(&a);
    core_end(&a);
    now = 200;
    resume(&c, st, NULL, 1);
    ASSERT_EQ(c.n_orphans, 1);
    // Deadline: 2 * hb_ivl * liveness + 1 = 7 s after the resume.
    now = 206.9;
    tick(&c, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 0);
    ASSERT_EQ(c.n_orphans, 1);
    now = 207.1;
    tick(&c, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_REQUEUED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_TASK_REQUEUED), "did not re-attach");
    ASSERT(strcmp(j_state(COORD_J_ATTEMPT_END, 4), "lost") == 0);
    ASSERT_EQ(c.n_orphans, 0);
    ASSERT_EQ(task_by_id(&c, 4)->state, TASK_QUEUED);
    fake_worker_t w2 = fw(2, "w2", 1);
    hello(&c, NULL, &w2);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 1);
    ASSERT_ASSIGN(&w2, 0, 4, 2);
    // The old attempt's result arrives too late (its worker re-registers).
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&c, NULL, &w1);
    result_score(&c, NULL, &w1, 4, 1, 0.5);
    ASSERT_EQ(c.results_dropped, 1);
    result_score(&c, NULL, &w2, 4, 2, 0.5);
    ASSERT_EQ(c.sweeps->state, SWEEP_DONE);
    core_end(&c);
    coord_store_close(&st);
}

/* After a restart an orphan's result counts only from its holder: a peer
 * that never said Hello cannot post it (it is held for the connection, and
 * dropped when no holder registers on it), nor can a Hello with the
 * holder's id but no or the wrong secret take the lease; the genuine worker,
 * whose result came on its new connection just before its Hello, delivers
 * it. */
HPT_TEST(resume_orphan_result_only_from_holder)
{
    coord_core_t a, d;
    coord_store_t *st = journal_scenario(&a);
    core_end(&a);
    now = 200;
    resume(&d, st, NULL, 1);
    ASSERT_EQ(d.n_orphans, 1);

    // A stranger knows the task id: its result is held, the task stays orphaned.
    fake_worker_t stranger = fw(9, "stranger", 2);
    ASSERT(result_score(&d, NULL, &stranger, 4, 1, 0.99) == NULL);
    ASSERT_EQ(n_sent(&stranger, DISCONNECT), 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(d.results_accepted, 0);
    ASSERT_EQ(d.n_orphans, 1);
    ASSERT_EQ(d.n_held, 1);
    // It then claims to be w1: without the secret, with a wrong one.
    fake_worker_t fake_w1 = fw(9, "w1", 2);
    hello_with(&d, NULL, &fake_w1, NULL, 0);
    ASSERT_EQ(n_sent(&fake_w1, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_EQ(n_sent(&fake_w1, DISCONNECT), 1);
    ASSERT_EQ(O.send[0].env->disconnect->code, HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_REFUSED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_WORKER_REFUSED), "worker=w1");
    uint8_t wrong[32];
    memcpy(wrong, scenario_w1.secret, sizeof wrong);
    wrong[31] ^= 1;
    hello_with(&d, NULL, &fake_w1, wrong, sizeof wrong);
    ASSERT_EQ(n_sent(&fake_w1, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_EQ(d.n_workers, 0);
    ASSERT_EQ(d.n_orphans, 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 0), 0);
    ASSERT_EQ(d.sweeps->tasks_done, 3);

    // The genuine w1, on a new connection: its result first, then its Hello.
    fake_worker_t w1 = reconnected(&scenario_w1, 7);
    ASSERT(result_score(&d, NULL, &w1, 4, 1, 0.5) == NULL);
    ASSERT_EQ(n_sent(&w1, DISCONNECT), 1);
    ASSERT_EQ(d.n_held, 2);
    hello(&d, NULL, &w1);
    ASSERT_EQ(n_ev(COORD_EV_LEASES_REATTACHED), 1);
    ASSERT_EQ(n_j(COORD_J_TASK_RESULT, 4), 1);
    ASSERT_EQ(d.results_accepted, 1);
    ASSERT_NEAR(task_by_id(&d, 4)->res->score, 0.5, 0);
    ASSERT_EQ(d.n_orphans, 0);
    ASSERT_EQ(d.n_held, 1);   // the stranger's, for its own connection
    ASSERT_EQ(d.sweeps->state, SWEEP_DONE);
    // The stranger's held result expires unused.
    now = 200 + 2 * 3 + 0.5;
    tick(&d, NULL);
    ASSERT_EQ(d.n_held, 0);
    ASSERT_EQ(d.results_accepted, 1);
    core_end(&d);
    coord_store_close(&st);
}

/* A journal of an older build has no secret hashes: nobody could prove to
 * hold its leases, so they are queued again at once instead of orphaned. */
HPT_TEST(resume_without_secret_requeues)
{
    coord_core_t a, d;
    coord_store_t *st = journal_scenario(&a);
    core_end(&a);
    coord_store_worker_seen(st, "w1", "w1", "testhost", 2, "test", 1.7e9, "ready", NULL, NULL);
    hpt_err err = {0};
    ASSERT_OK(coord_store_flush(st, &err));
    now = 200;
    resume(&d, st, NULL, 1);
    ASSERT_EQ(d.n_orphans, 0);
    ASSERT_EQ(task_by_id(&d, 4)->state, TASK_QUEUED);
    fake_worker_t w1 = reconnected(&scenario_w1, 7);
    hello(&d, NULL, &w1);   // a new registration (no orphan to prove anything for)
    ASSERT_EQ(n_ev(COORD_EV_LEASES_REATTACHED), 0);
    ASSERT_ASSIGN(&w1, 0, 4, 2);
    core_end(&d);
    coord_store_close(&st);
}

/* Resuming is a function of the journal: twice from the same rows, and again
 * after the first resume journaled what it rebuilt (as the daemon does),
 * gives the same state; a finished sweep with tied trials keeps its best. */
HPT_TEST(resume_twice_identical)
{
    coord_core_t a, e, f, g;
    coord_store_t *st = journal_scenario(&a);
    core_end(&a);
    now = 200;
    resume(&e, st, NULL, 1);
    char *se = snapshot(&e, true);
    resume(&f, st, st, 1);   // this one writes its records back
    char *sf = snapshot(&f, true);
    resume(&g, st, NULL, 1);
    char *sg = snapshot(&g, true);
    if (strcmp(se, sf) != 0 || strcmp(se, sg) != 0)
        HPT_TEST_FAIL("resumes differ:\n%s---\n%s---\n%s", se, sf, sg);
    ASSERT_STR_CONTAINS(se, "task 4 leased attempt=1 failures=0");
    ASSERT_STR_CONTAINS(se, "orphan=w1");
    free(se);
    free(sf);
    free(sg);
    core_end(&e);
    core_end(&f);
    core_end(&g);
    coord_store_close(&st);

    // A finished sweep whose two trials tie (0.5 each).
    coord_store_t *st2 = NULL;
    hpt_err err = {0};
    ASSERT_OK(coord_store_open(&st2, ":memory:", &err));
    core_new(&a, NULL);
    now = 100;
    submit(&a, st2, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 4);
    hello(&a, st2, &w1);
    result_score(&a, st2, &w1, 2, 1, 0.5);
    result_score(&a, st2, &w1, 1, 1, 0.5);
    result_score(&a, st2, &w1, 4, 1, 0.25);
    result_score(&a, st2, &w1, 3, 1, 0.75);
    ASSERT_EQ(a.sweeps->state, SWEEP_DONE);
    ASSERT_EQ(a.sweeps->best->number, 1);
    char *sa = snapshot(&a, false);
    core_end(&a);
    now = 300;
    /* Its summary was journaled with its end: it comes back unloaded (no
     * trials rebuilt), and reads back from the journal on demand. */
    resume(&e, st2, NULL, 0);   // not resumed
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_LOADED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_LOADED), "unloaded=true");
    ASSERT(!coord_sweep_loaded(e.sweeps));
    ASSERT_EQ(e.map_len, 0);
    resume(&f, st2, NULL, 0);
    coord_journal_reader_t rd2 = coord_store_reader(st2);
    ASSERT_OK(coord_core_load(&e, now, &rd2, e.sweeps, &err));
    ASSERT_OK(coord_core_load(&f, now, &rd2, f.sweeps, &err));
    se = snapshot(&e, false);
    sf = snapshot(&f, false);
    if (strcmp(sa, se) != 0 || strcmp(se, sf) != 0)
        HPT_TEST_FAIL("loaded sweeps differ:\n%s---\n%s---\n%s", sa, se, sf);
    ASSERT_EQ(e.sweeps->best->number, 1);
    ASSERT_EQ(e.sweeps->state, SWEEP_DONE);
    char *te = snapshot(&e, true), *tf = snapshot(&f, true);
    ASSERT(strcmp(te, tf) == 0);
    free(sa);
    free(se);
    free(sf);
    free(te);
    free(tf);
    core_end(&e);
    core_end(&f);
    coord_store_close(&st2);
}

/* A sweep's fingerprint never comes from a worker (issue 11, finding 4): a
 * submission without one is refused, and a sweep journaled without one (an
 * older build adopted the first worker's) is served by nobody, whatever the
 * workers advertise, and keeps no fingerprint. */
HPT_TEST(fingerprint_never_from_a_worker)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    ASSERT_EQ(coord_core_submit(&k, now, SPEC("false"), "test.yaml", "", &s, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "no fingerprint");
    ASSERT(s == NULL);
    ASSERT(k.sweeps == NULL);
    core_end(&k);

    // A journal of an older build: a queued sweep with no fingerprint.
    coord_store_t *st = NULL;
    ASSERT_OK(coord_store_open(&st, ":memory:", &err));
    ASSERT_OK(coord_store_sweep_add(st, 1, "core-test", "test.yaml", SPEC("false"), 0, 1.0, NULL));
    ASSERT_OK(coord_store_flush(st, &err));
    resume(&k, st, NULL, 1);
    ASSERT(k.sweeps && k.sweeps->fingerprint[0] == '\0');
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);   // advertises mnist with FP
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    ASSERT_EQ(n_ev(COORD_EV_FINGERPRINT_ADOPTED), 0);
    ASSERT(k.sweeps->fingerprint[0] == '\0');
    ASSERT_EQ(coord_worker_has_dataset(worker_of(&k, &w1), k.sweeps), -3);
    now += 1;
    tick(&k, NULL);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 0);
    ASSERT(k.sweeps->fingerprint[0] == '\0');
    core_end(&k);
    coord_store_close(&st);
}

/* The canonical dataset name the shell resolved replaces the spec's, and
 * comes back from the journal on resume. */
HPT_TEST(canonical_dataset_journaled)
{
    coord_store_t *st = NULL;
    hpt_err err = {0};
    ASSERT_OK(coord_store_open(&st, ":memory:", &err));
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    const char *spec = "name: c\ndataset: idx:/d/./x/\nmethod: grid\ncv: {folds: 2}\n"
                       "refit: false\nparameters:\n  units: {values: [8]}\n";
    coord_sweep_t *s = NULL;
    ASSERT_OK(coord_core_submit_ds(&k, now, spec, "a.yaml", "idx:/d/x", FP, "key:alice", &s,
                                   &err));
    ASSERT(strcmp(s->spec->dataset, "idx:/d/x") == 0);
    drain(&k, st);
    ASSERT_OK(coord_store_flush(st, &err));
    core_end(&k);
    resume(&k, st, NULL, 1);
    ASSERT(k.sweeps && strcmp(k.sweeps->spec->dataset, "idx:/d/x") == 0);
    ASSERT(strcmp(k.sweeps->fingerprint, FP) == 0);
    ASSERT(strcmp(k.sweeps->owner, "key:alice") == 0);
    core_end(&k);
    coord_store_close(&st);
}

/* Progress whose val_score the metric cannot take is ignored: it would steer
 * hyperband and asha (and the dashboard) with a forged curve. */
HPT_TEST(out_of_range_progress)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&k, NULL, &w1);
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    const double bad[] = {1.7e308, 1.5, -0.1, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        Hpt__Progress p = HPT__PROGRESS__INIT;
        p.task = 1;
        p.attempt = 1;
        p.epoch = 1;
        p.epochs = 1;
        p.val_score = bad[i];
        p.train_loss = 0.5;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_PROGRESS;
        env.progress = &p;
        coord_core_worker_msg(&k, now, &w1.peer, &w1.conn, &env);
        drain(&k, NULL);
        ASSERT_EQ(n_ev(COORD_EV_TASK_PROGRESS), 0);
    }
    Hpt__Progress ok = HPT__PROGRESS__INIT;
    ok.task = 1;
    ok.attempt = 1;
    ok.epoch = 1;
    ok.epochs = 1;
    ok.val_score = 0.8;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_PROGRESS;
    env.progress = &ok;
    coord_core_worker_msg(&k, now, &w1.peer, &w1.conn, &env);
    drain(&k, NULL);
    ASSERT_EQ(n_ev(COORD_EV_TASK_PROGRESS), 1);
    core_end(&k);
}

// --- epoch families -------------------------------------------------------------------

/* Trials 1-3: units 8 with epochs 1, 3, 2 (in that order), trial 4: units
 * 16, epochs 1, ...; 2 folds: trial t's split j is task 2(t-1)+j+1. */
#define SPEC_FAMILY(extra)                            \
    "name: core-family\n"                             \
    "dataset: mnist\n"                                \
    "method: grid\n"                                  \
    "cv: {folds: 2, shuffle: false, seed: 1}\n"       \
    "refit: false\n" extra                            \
    "parameters:\n"                                   \
    "  units: {values: [8, 16]}\n"                    \
    "  epochs: {values: [1, 3, 2]}\n"

static Hpt__Result result_epochs(uint64_t task, uint32_t attempt, double score, uint32_t epochs,
                                 uint32_t from)
{
    Hpt__Result r = result_ok(task, attempt, score);
    r.epochs = epochs;
    r.resumed_from = from;
    return r;
}

/* The seed of the Assign of task in O (0 when not sent). */
static uint64_t assign_seed(uint64_t task)
{
    for (int i = 0; i < O.n_send; i++)
        if (O.send[i].env->body_case == ASSIGN && O.send[i].env->assign->task == task)
            return O.send[i].env->assign->hparams->seed;
    return 0;
}

HPT_TEST(family_waits_and_continues)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_FAMILY(""), FP);
    fake_worker_t w1 = fw(1, "w1", 2), w2 = fw(2, "w2", 2);
    hello(&k, NULL, &w1);
    // Trial 1 (epochs 1) runs; trial 2 (epochs 3) waits for... trial 3
    // (epochs 2), created after it, cannot be its parent: trial 2 continues
    // trial 1, trial 3 continues trial 1 too.
    ASSERT_ASSIGN(&w1, 0, 1, 1);
    ASSERT_ASSIGN(&w1, 1, 2, 1);
    uint64_t seed1 = assign_seed(1), seed2 = assign_seed(2);
    ASSERT(seed1 != seed2);   // splits differ
    ASSERT_EQ(s->n_trials, 1);   // trial 2 is not created yet: the worker is full
    hello(&k, NULL, &w2);
    ASSERT_EQ(s->trials[1]->parent, 1);
    // w2 gets what does not wait: trial 4 (units 16, epochs 1), never
    // trial 2's or 3's tasks, which wait for trial 1's.
    ASSERT_EQ(s->trials[2]->parent, 1);
    ASSERT_EQ(task_by_id(&k, 3)->state, TASK_WAITING);
    ASSERT_EQ(task_by_id(&k, 4)->state, TASK_WAITING);
    ASSERT_EQ(task_by_id(&k, 5)->state, TASK_WAITING);
    ASSERT_EQ(task_by_id(&k, 6)->state, TASK_WAITING);
    ASSERT_EQ(s->n_waiting, 4);
    ASSERT_EQ(n_sent(&w2, ASSIGN), 2);
    for (int i = 0; i < 2; i++) {
        const Hpt__Assign *a = assign_to(&w2, i);
        ASSERT_EQ(a->trial, 4);
        // Common random numbers: trial 4 trains split j from trial 1's seed.
        ASSERT_EQ(a->hparams->seed, a->task == 7 ? seed1 : seed2);
    }
    // Trial 1's split 0 ends on w1: its kids' split 0 go to w1, which holds
    // the model, with the same seed.
    Hpt__Result r = result_epochs(1, 1, 0.5, 1, 0);
    result(&k, NULL, &w1, &r);
    ASSERT_EQ(task_by_id(&k, 3)->state + task_by_id(&k, 5)->state, TASK_LEASED + TASK_QUEUED);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 1);
    const Hpt__Assign *a = assign_to(&w1, 0);
    ASSERT(a->task == 3 || a->task == 5);
    ASSERT_EQ(a->hparams->seed, seed1);
    ASSERT_EQ(a->fold, 0);
    uint64_t kid = a->task;
    uint32_t ep = a->hparams->epochs;   // (a is freed by the next step)
    ASSERT_EQ(s->n_waiting, 2);
    // w2 finishes trial 4 and has free slots: the other kid of split 0 is
    // held for w1 while w1 is connected and the search has more (trial 5).
    result_score(&k, NULL, &w2, 7, 1, 0.6);
    uint64_t other = kid == 3 ? 5 : 3;
    ASSERT_EQ(task_by_id(&k, other)->state, TASK_QUEUED);
    // The continued task reports it resumed from epoch 1: one epoch
    // trained for 3 (or 2) on the model.
    r = result_epochs(kid, 1, 0.7, ep, 1);
    result(&k, NULL, &w1, &r);
    ASSERT_EQ(s->epochs_trained, 1 + 1 + (ep - 1));
    ASSERT_EQ(s->epochs_scratch, 1 + 1 + ep);
    // A kid whose parent's split fails for good trains from scratch.
    r = result_fail(2, 1, "boom");
    for (uint32_t att = 1; att <= 3; att++) {
        ASSERT_EQ(task_by_id(&k, 2)->state, TASK_LEASED);
        ASSERT_EQ(task_by_id(&k, 2)->attempt, att);
        r.attempt = att;
        result(&k, NULL, task_by_id(&k, 2)->lease->worker == worker_of(&k, &w1) ? &w1 : &w2,
               &r);
    }
    ASSERT_EQ(task_by_id(&k, 2)->state, TASK_FAILED);
    ASSERT(task_by_id(&k, 4)->state == TASK_QUEUED || task_by_id(&k, 4)->state == TASK_LEASED);
    ASSERT(task_by_id(&k, 6)->state == TASK_QUEUED || task_by_id(&k, 6)->state == TASK_LEASED);
    // Trial 5 (units 16, epochs 3) continues trial 4: its split 1 waits
    // for task 8, still on w2.
    ASSERT_EQ(s->trials[4]->parent, 4);
    ASSERT_EQ(task_by_id(&k, 10)->state, TASK_WAITING);
    ASSERT_EQ(s->n_waiting, 1);
    // Cancel: every task, waiting ones included, ends cancelled.
    ASSERT_EQ(coord_core_cancel(&k, now, s), 1);
    drain(&k, NULL);
    ASSERT_EQ(task_by_id(&k, 10)->state, TASK_CANCELLED);
    ASSERT_EQ(s->n_waiting, 0);
    ASSERT_EQ(s->n_queued, 0);
    core_end(&k);
}

/* model_seed: per_trial: every trial its own seeds, nothing waits. */
HPT_TEST(family_per_trial_seeds)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = submit(&k, NULL, SPEC_FAMILY("model_seed: per_trial\n"), FP);
    fake_worker_t w1 = fw(1, "w1", 4);
    hello(&k, NULL, &w1);
    ASSERT_EQ(n_sent(&w1, ASSIGN), 4);
    ASSERT_EQ(s->n_waiting, 0);
    ASSERT_EQ(s->trials[1]->parent, 0);
    ASSERT(assign_seed(1) != assign_seed(3));   // trials 1 and 2, split 0
    core_end(&k);
}

/* A restart keeps the kids waiting: they wait again for their parent's
 * split that was still running. */
HPT_TEST(family_resume_waits)
{
    coord_store_t *st = NULL;
    hpt_err err = {0};
    if (coord_store_open(&st, ":memory:", &err) != 0)
        HPT_TEST_FAIL("coord_store_open: %s", err.msg);
    coord_core_t a;
    core_new(&a, NULL);
    now = 100;
    submit(&a, st, SPEC_FAMILY(""), FP);
    fake_worker_t w1 = fw(1, "w1", 2), w2 = fw(2, "w2", 2);
    hello(&a, st, &w1);
    hello(&a, st, &w2);
    Hpt__Result r = result_epochs(1, 1, 0.5, 1, 0);
    result(&a, st, &w1, &r);   // split 0 of trial 1 done; its kids' split 0 released
    ASSERT_EQ(a.sweeps->n_waiting, 2);   // split 1 of trials 2 and 3
    coord_core_t b;
    resume(&b, st, NULL, 1);
    coord_sweep_t *s = b.sweeps;
    ASSERT_EQ(s->n_waiting, 2);
    ASSERT_EQ(task_by_id(&b, 4)->state, TASK_WAITING);
    ASSERT_EQ(task_by_id(&b, 6)->state, TASK_WAITING);
    ASSERT_EQ(task_by_id(&b, 2)->state, TASK_LEASED);   // an orphan, awaiting w1
    ASSERT_EQ(s->epochs_trained, 1);
    core_end(&a);
    core_end(&b);
    coord_store_close(&st);
}

// --- peer strings (issue 11, finding 8) --------------------------------------------------

/* A Hello with one bad string: exactly one Disconnect naming the field, no
 * Welcome, no worker, one hello_refused event; reason (borrowed) checked. */
static void hello_refused(coord_core_t *k, const fake_worker_t *w, Hpt__Hello *m,
                          const char *field, const char *what)
{
    coord_core_hello(k, now, &w->peer, &w->conn, m);
    drain(k, NULL);
    ASSERT_EQ(n_sent(w, HPT__ENVELOPE__BODY_WELCOME), 0);
    ASSERT_EQ(n_sent(w, DISCONNECT), 1);
    const char *reason = NULL;
    for (int i = 0; i < O.n_send; i++)
        if (O.send[i].env->body_case == DISCONNECT)
            reason = O.send[i].env->disconnect->reason;
    ASSERT(reason != NULL);
    ASSERT_STR_CONTAINS(reason, field);
    ASSERT_STR_CONTAINS(reason, what);
    ASSERT(worker_of(k, w) == NULL);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_JOINED), 0);
    /* The event may be rate-limited; when it is there, it names the peer
     * and carries no raw control byte. */
    const char *f = ev_fields(COORD_EV_HELLO_REFUSED);
    for (const char *p = f; *p; p++)
        ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
}

HPT_TEST(hello_strings_refused)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    submit(&k, NULL, SPEC("false"), FP);
    fake_worker_t w = fw(1, "w1", 1);
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = FP;
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = "w1";
    m.name = "w1";
    m.host = "h";
    m.version = "v";
    m.slots = 1;
    m.datasets = dsv;
    m.n_datasets = 1;

    m.name = "evil\x1b[2J";
    hello_refused(&k, &w, &m, "name:", "U+001B");
    ASSERT_EQ(n_ev(COORD_EV_HELLO_REFUSED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_HELLO_REFUSED), "peer=");
    m.name = "w1";
    m.host = "h\nts=1 level=error";
    hello_refused(&k, &w, &m, "host:", "U+000A");
    m.host = "h";
    m.version = "1\x7f";
    hello_refused(&k, &w, &m, "version:", "U+007F");
    m.version = "v";
    m.worker_id = "w\xc2\x9b" "1";
    hello_refused(&k, &w, &m, "worker_id:", "U+009B");
    m.worker_id = "w1";
    ds.name = "mn\xffist";
    hello_refused(&k, &w, &m, "datasets[0].name:", "invalid UTF-8");
    ds.name = "mnist";
    ds.fingerprint = "ab\x01";
    hello_refused(&k, &w, &m, "datasets[0].fingerprint:", "U+0001");
    ds.fingerprint = FP;
    /* Rate-limited: 6 refusals from one peer, at most 5 events a minute. */
    for (int i = 0; i < 5; i++) {
        m.name = "x\x1b";
        coord_core_hello(&k, now, &w.peer, &w.conn, &m);
        drain(&k, NULL);
        ASSERT_EQ(n_sent(&w, DISCONNECT), 1);
        ASSERT_EQ(n_ev(COORD_EV_HELLO_REFUSED), 0);
    }

    /* Plain text, however odd, is welcome. */
    m.name = "w1 \"q\" x=y \\ \xc3\xa9";
    coord_core_hello(&k, now, &w.peer, &w.conn, &m);
    drain(&k, NULL);
    ASSERT_EQ(n_sent(&w, HPT__ENVELOPE__BODY_WELCOME), 1);
    ASSERT(worker_of(&k, &w) != NULL);
    core_end(&k);
}

/* Peer strings in event fields are logfmt values: a name built to add a
 * field is quoted, an error text with control characters escaped. */
HPT_TEST(event_fields_quote_peer_strings)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    submit(&k, NULL, SPEC_ONE, FP);
    fake_worker_t w = fw(1, "w1", 1);
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = FP;
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = "w1";
    m.name = "n\" level=error x=\\";
    m.host = "my host";
    m.version = "v";
    m.slots = 1;
    m.datasets = dsv;
    m.n_datasets = 1;
    coord_core_hello(&k, now, &w.peer, &w.conn, &m);
    drain(&k, NULL);
    ASSERT_EQ(n_ev(COORD_EV_WORKER_JOINED), 1);
    const char *f = ev_fields(COORD_EV_WORKER_JOINED);
    ASSERT_STR_CONTAINS(f, "name=\"n\\\" level=error x=\\\\\" host=\"my host\"");
    ASSERT_ASSIGN(&w, 0, 1, 1);

    Hpt__Result r = result_fail(1, 1, "boom\x1b]0;t\x07\nlevel=error");
    result(&k, NULL, &w, &r);
    ASSERT_EQ(n_ev(COORD_EV_TASK_RETRY), 1);
    f = ev_fields(COORD_EV_TASK_RETRY);
    ASSERT_STR_CONTAINS(f, "error=\"boom\\x1b]0;t\\x07\\nlevel=error\"");
    for (const char *p = f; *p; p++)
        ASSERT((unsigned char)*p >= 0x20);
    core_end(&k);
}

/* A spec whose largest model no worker could hold is refused at submit,
 * naming the parameter and where it is. */
HPT_TEST(submit_refuses_huge_model)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    const char *huge = "name: huge\n"
                       "dataset: mnist\n"
                       "method: grid\n"
                       "parameters:\n"
                       "  layers: {values: [1, 8]}\n"
                       "  batch_size: {value: 64}\n"
                       "  units: {values: [16, 65536]}\n";
    ASSERT_EQ(coord_core_submit(&k, now, huge, "huge.yaml", FP, &s, &err), -EINVAL);
    ASSERT(s == NULL);
    ASSERT_STR_CONTAINS(err.msg, "huge.yaml:7:3: parameters.units: the largest model");
    ASSERT_STR_CONTAINS(err.msg, "8 layers of up to 65536 units, batch_size 64");
    ASSERT(k.sweeps == NULL);
    drain(&k, NULL);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_SUBMITTED), 0);
    /* The largest a worker may be asked for fits: 8 layers of 4096 units. */
    const char *big = "name: big\n"
                      "dataset: mnist\n"
                      "method: grid\n"
                      "parameters:\n"
                      "  layers: {value: 8}\n"
                      "  units: {value: 4096}\n"
                      "  batch_size: {value: 512}\n";
    ASSERT_OK(coord_core_submit(&k, now, big, "big.yaml", FP, &s, &err));
    drain(&k, NULL);
    core_end(&k);
}

// --- event names ------------------------------------------------------------------------

/* Every type has a name (the stable schema of Event.type), and no two share one. */
/* A Hello repeated on the connection that registered the worker is
 * answered but reported at debug (no event row in the journal, which holds
 * info and above); one on a new connection is a re-registration (info). */
static int ev_level(coord_event_type_t type)
{
    for (int i = 0; i < O.n_ev; i++)
        if (O.ev[i].type == type)
            return O.ev[i].level;
    return -1;
}

HPT_TEST(repeated_hello_quiet)
{
    coord_core_t k;
    core_new(&k, NULL);
    now = 100;
    fake_worker_t w1 = fw(1, "w1", 2);
    hello(&k, NULL, &w1);
    ASSERT_EQ(ev_level(COORD_EV_WORKER_JOINED), HPT_LOG_INFO);
    for (int i = 0; i < 100; i++) {
        hello(&k, NULL, &w1);
        ASSERT_EQ(n_ev(COORD_EV_WORKER_JOINED), 0);
        ASSERT_EQ(ev_level(COORD_EV_WORKER_REREGISTERED), HPT_LOG_DEBUG);
    }
    ASSERT_EQ(k.n_workers, 1);
    // The same worker on a new connection (with its session secret).
    fake_worker_t again = reconnected(&w1, 2);
    hello(&k, NULL, &again);
    ASSERT_EQ(ev_level(COORD_EV_WORKER_REREGISTERED), HPT_LOG_INFO);
    ASSERT_EQ(k.n_workers, 1);
    core_end(&k);
}

/* A sweep's owner (the shell's principal) is journaled and survives a
 * restart; retention's coord_core_forget deletes a finished sweep from the
 * core and the journal, refuses one that runs, and its id is not reused. */
static int count_rows(coord_store_t *st, uint64_t *max_sweep)
{
    int n = 0;
    coord_journal_reader_t rd = coord_store_reader(st);
    coord_core_t tmp;
    core_new(&tmp, NULL);
    hpt_err err = {0};
    if (coord_core_resume(&tmp, now, &rd, &err) < 0)
        HPT_TEST_FAIL("resume: %s", err.msg);
    for (coord_sweep_t *s = tmp.sweeps; s; s = s->next)
        n++;
    core_end(&tmp);
    uint64_t mt = 0;
    coord_store_max_ids(st, max_sweep, &mt);
    return n;
}

HPT_TEST(owner_and_forget)
{
    coord_store_t *st = NULL;
    hpt_err err = {0};
    ASSERT_OK(coord_store_open(&st, ":memory:", &err));
    coord_core_t a, b;
    core_new(&a, NULL);
    now = 100;
    coord_sweep_t *s1 = NULL, *s2 = NULL, *s3 = NULL;
    ASSERT_OK(coord_core_submit_owned(&a, now, SPEC("false"), "a.yaml", FP, "key:alice", &s1,
                                      &err));
    ASSERT_OK(coord_core_submit_owned(&a, now, SPEC("false"), "b.yaml", FP, "addr:10.0.0.7",
                                      &s2, &err));
    ASSERT_OK(coord_core_submit(&a, now, SPEC("false"), "c.yaml", FP, &s3, &err));
    drain(&a, st);
    ASSERT(strcmp(s1->owner, "key:alice") == 0);
    ASSERT(strcmp(s3->owner, "") == 0);
    fake_worker_t w1 = fw(1, "w1", 1);
    hello(&a, st, &w1);
    ASSERT_EQ(coord_core_forget(&a, now, s1, "test"), -EBUSY);   // it runs
    ASSERT_EQ(coord_core_cancel(&a, now, s1), 1);
    ASSERT_EQ(coord_core_cancel(&a, now, s3), 1);
    drain(&a, st);
    core_end(&a);

    // After a restart: the owners are back, the sweeps too.
    resume(&b, st, st, 1);
    coord_sweep_t *r1 = coord_sweep_find(&b, 1), *r2 = coord_sweep_find(&b, 2),
                  *r3 = coord_sweep_find(&b, 3);
    ASSERT(r1 && r2 && r3);
    ASSERT(strcmp(r1->owner, "key:alice") == 0);
    ASSERT(strcmp(r2->owner, "addr:10.0.0.7") == 0);
    ASSERT(strcmp(r3->owner, "") == 0);
    ASSERT(!coord_sweep_loaded(r1));   // finished: created from its summary
    ASSERT_EQ(coord_core_forget(&b, now, r2, "test"), -EBUSY);
    // The last sweep of the list (the tail) and the first one go.
    ASSERT_OK(coord_core_forget(&b, now, r3, "keep_sweeps"));
    drain(&b, st);
    ASSERT_EQ(n_ev(COORD_EV_SWEEP_DELETED), 1);
    ASSERT_STR_CONTAINS(ev_fields(COORD_EV_SWEEP_DELETED), "reason=\"keep_sweeps\"");
    ASSERT_EQ(n_j(COORD_J_SWEEP_DELETE, 0), 1);
    ASSERT_OK(coord_core_forget(&b, now, r1, "keep_sweeps_s"));
    drain(&b, st);
    ASSERT(b.sweeps == r2 && b.sweeps_tail == r2 && r2->next == NULL);
    ASSERT(coord_sweep_find(&b, 1) == NULL && coord_sweep_find(&b, 3) == NULL);
    // A new sweep after the tail left: appended, with a new id.
    coord_sweep_t *s4 = NULL;
    ASSERT_OK(coord_core_submit(&b, now, SPEC("false"), "d.yaml", FP, &s4, &err));
    drain(&b, st);
    ASSERT_EQ(s4->id, 4);
    ASSERT(b.sweeps == r2 && r2->next == s4 && b.sweeps_tail == s4);
    ASSERT_EQ(coord_core_cancel(&b, now, s4), 1);
    ASSERT_OK(coord_core_forget(&b, now, s4, "test"));
    drain(&b, st);
    core_end(&b);
    // The journal holds sweep 2 only, and the next id is still 5.
    uint64_t max_sweep = 0;
    ASSERT_EQ(count_rows(st, &max_sweep), 1);
    ASSERT_EQ(max_sweep, 4);
    coord_store_close(&st);
}

HPT_TEST(event_names)
{
    for (int i = 0; i < COORD_EV__COUNT; i++) {
        const char *a = coord_event_name((coord_event_type_t)i);
        ASSERT(a != NULL && a[0] != '\0' && strcmp(a, "unknown") != 0);
        for (int j = 0; j < i; j++)
            if (strcmp(a, coord_event_name((coord_event_type_t)j)) == 0)
                HPT_TEST_FAIL("event types %d and %d are both named %s", j, i, a);
    }
    ASSERT(strcmp(coord_event_name(COORD_EV_LOG), "log") == 0);
    ASSERT(strcmp(coord_event_name(COORD_EV_TASK_LEASED), "task.leased") == 0);
    ASSERT(strcmp(coord_event_name(COORD_EV__COUNT), "unknown") == 0);
}

/* The task map (tasks.c) against a reference, through growths, deletions
 * and a compaction: every task is found and no other, and a growth never
 * copies the whole table in one put (the old table is moved over at most
 * 64 slots per put, so no put holds the loop for the whole map: 25 ms at a
 * million tasks). */
HPT_TEST(task_map_grows_incrementally)
{
    enum { N = 200000 };
    static coord_core_t k;   // only the map's fields are used
    memset(&k, 0, sizeof k);
    coord_task_t *tasks = calloc(N, sizeof *tasks);
    bool *in = calloc(N, sizeof *in);
    ASSERT(tasks && in);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        tasks[i].id = ((uint64_t)i << 20) ^ (x & 0xfffff);   // unique, scattered
    }
    size_t len = 0;
    int growths = 0, moving_puts = 0, next = 0;
    size_t checked_mid = 0;
    int mid_checks = 0;
    for (int step = 0; next < N; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int i = (int)(x % (uint64_t)(next + 1));
        if (x >> 61 == 0 && next > 0 && in[i]) {   // an eighth of the steps: delete
            hpt__map_del(&k, tasks[i].id);
            in[i] = false;
            len--;
        } else {
            size_t cap0 = k.map_cap, pos0 = k.old_pos;
            coord_task_t **old0 = k.map_old, **map0 = k.map;
            ASSERT_OK(hpt__map_put(&k, &tasks[next]));
            in[next++] = true;
            len++;
            if (cap0 && k.map_cap != cap0) {
                // A doubling: the previous table is kept to be moved over.
                growths++;
                ASSERT_EQ(k.map_cap, 2 * cap0);
                ASSERT(k.map_old == map0 && k.old_cap == cap0);
                ASSERT(k.old_pos <= 64);
            } else if (old0) {
                moving_puts++;
                ASSERT(k.map_old == NULL ? k.old_pos == 0 : k.old_pos - pos0 <= 64);
            }
        }
        ASSERT_EQ(k.map_len, len);
        if (k.map_old && (k.old_cap <= 8192 || k.old_pos / (k.old_cap / 4) != checked_mid)) {
            /* Moving: tasks still in the old table are found past the slots
             * moved before them, and the moved ones in the new; after every
             * put while a small table moves, at each quarter of a large one. */
            checked_mid = k.old_pos / (k.old_cap / 4);
            mid_checks++;
            for (int j = 0; j < next; j++)
                ASSERT(hpt__map_get(&k, tasks[j].id) == (in[j] ? &tasks[j] : NULL));
        }
        if (step % 97 == 0) {   // spot checks; all of them below
            int j = (int)((x >> 11) % (uint64_t)next);
            ASSERT(hpt__map_get(&k, tasks[j].id) == (in[j] ? &tasks[j] : NULL));
        }
    }
    printf("task map: %d growths, %d puts moved old slots, %d full checks while moving, "
           "cap %zu, %zu tasks\n", growths, moving_puts, mid_checks, k.map_cap, k.map_len);
    ASSERT(growths >= 8 && moving_puts > 0);
    for (int i = 0; i < N; i++)
        ASSERT(hpt__map_get(&k, tasks[i].id) == (in[i] ? &tasks[i] : NULL));
    ASSERT(hpt__map_get(&k, 0xffffffffffffffffULL) == NULL);
    // Delete down to a few, compact (also in the middle of a move), and look again.
    for (int i = 0; i < N; i++)
        if (in[i] && i % 64) {
            hpt__map_del(&k, tasks[i].id);
            in[i] = false;
            len--;
        }
    hpt__map_compact(&k);
    ASSERT(k.map_old == NULL && k.map_cap < 65536);
    ASSERT_EQ(k.map_len, len);
    for (int i = 0; i < N; i++)
        ASSERT(hpt__map_get(&k, tasks[i].id) == (in[i] ? &tasks[i] : NULL));
    free(k.map);
    free(k.map_old);
    free(tasks);
    free(in);
}

HPT_TEST_MAIN()
