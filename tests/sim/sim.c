/*
 * sim.c: deterministic simulation of a whole hptune cluster around the real
 * coordinator core (coordinator/core), after FoundationDB's simulator and
 * TigerBeetle's VOPR.
 *
 * One 64-bit seed drives every choice: the cluster's shape, the network's
 * delays, losses, duplicates and reorderings, and the faults (worker crash
 * and restart, slow and hung workers, partitions, coordinator crash at any
 * step followed by a restart from the journal records committed so far,
 * disk full on a commit, clients cancelling and submitting).  Time is
 * virtual: an event queue ordered by (time, sequence).  The coordinator is
 * the real core with the real SQLite journal (coord_store.c, in memory);
 * workers are simulated and speak the real wire format (every message is
 * packed, carried as bytes and validated by hpt_proto_decode).
 *
 * Invariants, checked after every step:
 *   - the core's own (coord_core_check: every task in exactly one place,
 *     lease lists and counters consistent, no slot over-committed);
 *   - each task's result is committed to the journal at most once, and
 *     every finished sweep has exactly one per task it counts as done;
 *   - memory stays bounded (tasks, leases, interned ids, outbox);
 *   - after a restart, every sweep whose end was committed comes back
 *     unloaded (from the summary journaled with its end) and its status
 *     (counters, best trial and its values, refit figures, times, error)
 *     equals the status taken at that commit;
 * and at the end of a run:
 *   - every sweep ends;
 *   - no lease is left;
 *   - every finished sweep, read back from the journal, still has that
 *     status;
 *   - the final cv_results_ (per trial: parameters, split scores, mean,
 *     std; the refit) equal those of the fault-free run of the same seed,
 *     for the searches whose trials do not depend on timing (grid, random).
 *
 * A failure prints the seed, the invariant, the last trace lines and the one
 * command that replays it.  Usage: hptune-sim --help.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord_store.h"
#include "core.h"
#include "log.h"
#include "proto_io.h"

// --- rng ---------------------------------------------------------------------

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * 0x1.0p-53;
}

static bool chance(uint64_t *s, double p)
{
    return p > 0 && unif(s) < p;
}

// --- trace ---------------------------------------------------------------------

#define TRACE_N 48
#define TRACE_LEN 200

typedef struct sim sim_t;

static void trace(sim_t *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// --- configuration ---------------------------------------------------------------

/* Seed families: each aims the faults at a class of bugs found so far. */
typedef enum {
    FAM_MIXED,     // everything at once, at random (the default)
    FAM_DEATH,     // lease races at the moment of death: workers die right after an
                   // Assign arrives or right after their Result leaves, and come back
    FAM_RESTART,   // orphaned results after a restart: the coordinator crashes (before a
                   // commit, on a full disk) while results are in flight; workers send
                   // them on their new connections, before and after saying Hello again
                   // (held until the connection registers as the holder)
    FAM_PROMOTE,   // promotions (asha, hyperband): promoted trials continue a model on the
                   // worker that holds it, through crashes; trials depend on timing, so
                   // results are not compared with the fault-free run
    FAM_BUNDLE,    // bundles (horizontal fusion): most workers advertise Hello.fuse_max,
                   // take several tasks per slot and end a bundle's tasks together; the
                   // faults of mixed around them
    FAM__COUNT
} family_t;

static const char *const FAMILY_NAMES[FAM__COUNT] = {"mixed", "death", "restart", "promote",
                                                     "bundle"};

typedef struct sim_cfg {
    uint64_t seed;
    family_t family;
    int workers;              // 0 = chosen by the seed
    bool faults;              // false: the fault-free reference run
    bool verbose;
    double max_time;          // virtual seconds before "a sweep did not end"
} sim_cfg_t;

// --- events ----------------------------------------------------------------------

typedef enum {
    EV_TO_COORD,      // bytes from worker w (peer as of sending)
    EV_TO_WORKER,     // bytes to worker w (incarnation inc)
    EV_TASK_DONE,     // worker w's task finished training
    EV_TICK,          // the coordinator's housekeeping
    EV_WORKER_HB,     // worker w's heartbeat timer
    EV_WORKER_CRASH,
    EV_WORKER_START,
    EV_WORKER_HANG,   // stops sending anything for a while
    EV_WORKER_UNHANG,
    EV_PARTITION,     // cut worker w off for a while
    EV_HEAL,
    EV_COORD_CRASH,
    EV_COORD_START,
    EV_CLIENT_SUBMIT,
    EV_CLIENT_CANCEL,
    EV_CLIENT_READ,   // a client reads the results of the finished sweeps
} ev_kind_t;

typedef struct sim_ev {
    double at;
    uint64_t seq;
    ev_kind_t kind;
    int w;
    uint32_t inc;             // worker incarnation / coordinator incarnation
    uint64_t conn_id;         // EV_TO_COORD: the sending connection's serial (coord_conn_t)
    uint64_t task;
    uint32_t attempt;
    hpt_peer_id_t peer;
    uint8_t *buf;             // owned
    size_t len;
} sim_ev_t;

// --- simulated workers -------------------------------------------------------------

#define MAX_RUN 8

typedef struct run {
    uint64_t task;
    uint32_t attempt;
    uint64_t bundle;          // Assign.bundle (0: alone)
    double done_at;
    bool active;
    Hpt__Result result;       // filled when done (kept for resending)
} run_t;

typedef struct sim_worker {
    char id[48];              // a new one per incarnation (the real worker's host:pid:random)
    hpt_peer_id_t peer;
    uint32_t inc;             // incarnation (crash + restart)
    uint32_t conn;            // connection generation (reconnects)
    uint64_t conn_id;         // that connection's serial, as the ZAP handler numbers them
    uint8_t secret[32];       // the session secret its Welcome gave this id
    bool has_secret;
    uint32_t renames;         // ids taken after a refusal (DISCONNECT_ID_REFUSED)
    int slots;
    int fuse;                 // Hello.fuse_max (FAM_BUNDLE; else 0)
    int n_run;                // run's entries: MAX_RUN per task a slot holds
    bool up, hung, cut;
    double slow;              // training time factor
    double last_heard;        // from the coordinator
    run_t *run;               // (n_run) owned
    // Results finished while not connected (the real worker's outbox).
    Hpt__Result pending[64];
    int n_pending;
} sim_worker_t;

// --- the simulation ------------------------------------------------------------------

typedef struct committed {
    uint64_t *ids;            // task ids whose result is committed
    size_t n, cap;
} committed_t;

struct sim {
    sim_cfg_t cfg;
    uint64_t rng;
    double now;
    uint64_t seq, steps;
    sim_ev_t *heap;
    size_t n_ev, cap_ev;

    coord_core_t core;
    bool coord_up;
    uint32_t coord_inc;
    uint64_t secret_rng;      // the core's randomness (session secrets): its own stream, so
                              // the faults a seed draws do not depend on it
    uint64_t next_conn;       // connection serials
    uint64_t ids_issued;      // worker ids the simulated workers have used
    coord_store_t *store;
    double hb_ivl;
    int liveness;

    sim_worker_t *w;
    int n_w;
    size_t total_slots;

    // Fault knobs (0 in the reference run).
    double p_loss, p_dup, max_delay, p_coord_crash, p_disk_full;
    double p_die_at_lease;    // FAM_DEATH: a worker dies as a lease arrives / a result leaves

    committed_t committed;
    uint64_t sweeps_submitted;
    char trace[TRACE_N][TRACE_LEN];
    int trace_head;
    char failure[512];
    uint64_t results_sent;
    int crashes_left;         // random coordinator crashes this run may still have: a
                              // coordinator that crashes every few seconds forever makes
                              // no progress, which is not a bug to find
    char **ended;             // (n_ended, by sweep id) status_text of each sweep whose end is
    size_t n_ended;           // committed, taken at that commit; NULL while it has not ended
};

static void trace(sim_t *S, const char *fmt, ...)
{
    char *line = S->trace[S->trace_head];
    int off = snprintf(line, TRACE_LEN, "t=%.3f ", S->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + off, (size_t)(TRACE_LEN - off), fmt, ap);
    va_end(ap);
    S->trace_head = (S->trace_head + 1) % TRACE_N;
    if (S->cfg.verbose)
        fprintf(stderr, "%s\n", line);
}

static void fail(sim_t *S, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(sim_t *S, const char *fmt, ...)
{
    if (S->failure[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->failure, sizeof S->failure, fmt, ap);
    va_end(ap);
}

// --- event queue (binary heap) -----------------------------------------------------

static bool ev_less(const sim_ev_t *a, const sim_ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static sim_ev_t *ev_push(sim_t *S, double at, ev_kind_t kind, int w)
{
    if (S->n_ev == S->cap_ev) {
        S->cap_ev = S->cap_ev ? S->cap_ev * 2 : 1024;
        S->heap = realloc(S->heap, S->cap_ev * sizeof *S->heap);
        if (!S->heap) {
            fprintf(stderr, "hptune-sim: out of memory\n");
            exit(2);
        }
    }
    size_t i = S->n_ev++;
    sim_ev_t e = {.at = at, .seq = S->seq++, .kind = kind, .w = w};
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &S->heap[p]))
            break;
        S->heap[i] = S->heap[p];
        i = p;
    }
    S->heap[i] = e;
    return &S->heap[i];
}

static sim_ev_t ev_pop(sim_t *S)
{
    sim_ev_t top = S->heap[0];
    sim_ev_t last = S->heap[--S->n_ev];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const sim_ev_t *best = &last;
        if (l < S->n_ev && ev_less(&S->heap[l], best)) {
            m = l;
            best = &S->heap[l];
        }
        if (r < S->n_ev && ev_less(&S->heap[r], best))
            m = r;
        if (m == i)
            break;
        S->heap[i] = S->heap[m];
        i = m;
    }
    if (S->n_ev)
        S->heap[i] = last;
    return top;
}

// --- the network ---------------------------------------------------------------------

static double latency(sim_t *S)
{
    return 0.0005 + (S->max_delay > 0 ? unif(&S->rng) * S->max_delay : 0);
}

/* Pack env and put it on the wire (with loss, delay and duplication). */
static void net_send(sim_t *S, ev_kind_t kind, int w, const hpt_peer_id_t *peer, const uint8_t *buf,
                     size_t len)
{
    if (kind == EV_TO_COORD && (S->w[w].cut || !S->w[w].up))
        return;
    if (kind == EV_TO_WORKER && (S->w[w].cut || !S->w[w].up))
        return;
    int copies = chance(&S->rng, S->p_dup) ? 2 : 1;
    if (chance(&S->rng, S->p_loss))
        copies--;
    for (int c = 0; c < copies; c++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, buf, len);
        sim_ev_t *e = ev_push(S, S->now + latency(S), kind, w);
        e->buf = b;
        e->len = len;
        e->inc = kind == EV_TO_WORKER ? S->w[w].conn : S->coord_inc;
        e->conn_id = S->w[w].conn_id;
        if (peer)
            e->peer = *peer;
    }
}

static void worker_send(sim_t *S, int w, hpt_env_t *env)
{
    env->protocol = HPT__VERSION__PROTOCOL_VERSION;
    size_t len = hpt__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    hpt__envelope__pack(env, buf);
    net_send(S, EV_TO_COORD, w, &S->w[w].peer, buf, len);
    free(buf);
}

// --- the coordinator -----------------------------------------------------------------

/* The simulated worker a peer id belongs to ("p<index>.<inc>.<conn>"), if it
 * is that worker's current connection; else -1. */
static int worker_by_peer(sim_t *S, const hpt_peer_id_t *p)
{
    char buf[HPT_PROTO_MAX_ID + 1];
    memcpy(buf, p->bytes, p->len);
    buf[p->len] = '\0';
    if (buf[0] != 'p')
        return -1;
    int i = atoi(buf + 1);
    if (i < 0 || i >= S->n_w)
        return -1;
    const hpt_peer_id_t *q = &S->w[i].peer;
    return q->len == p->len && memcmp(q->bytes, p->bytes, p->len) == 0 ? i : -1;
}

static bool committed_has(const committed_t *c, uint64_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->ids[i] == id)
            return true;
    return false;
}

static void committed_add(committed_t *c, uint64_t id)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->ids = realloc(c->ids, c->cap * sizeof *c->ids);
    }
    c->ids[c->n++] = id;
}

static void coord_crash(sim_t *S, const char *why);

/* Everything status, /metrics and the CLI read of sweep s, loaded or not
 * (coord_sweep_info_fill), as text (owned by the caller). */
static char *status_text(const coord_sweep_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    const coord_sweep_sum_t *sum = s->sum;
    long total = sum ? sum->trials_total : coord_search_total(s->search);
    fprintf(f, "state=%s trials=%ld/%zu/%d/%d tasks=%" PRId64 "/%d/%d/%d/%d/%d",
            coord_sweep_state_name(s->state), total, sum ? sum->n_trials : s->n_trials,
            s->trials_done, s->trials_failed, s->tasks_total, s->tasks_done, s->tasks_failed,
            s->tasks_running, s->n_queued, s->n_waiting);
    fprintf(f, " times=%.17g/%.17g/%.17g error=\"%s\" gen=%" PRIu64 " epochs=%" PRIu64 "/%" PRIu64,
            s->created, s->started, s->finished, s->error, s->results_gen, s->epochs_trained,
            s->epochs_scratch);
    fprintf(f, " refit=%d/%.17g/%.17g/%u", s->has_refit, s->refit_score, s->refit_accuracy,
            s->refit_n_test);
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    uint64_t best = s->best ? s->best->number : sum ? sum->best : 0;
    if (s->best)
        coord_trial_values(s->best, vals);
    else if (best)
        memcpy(vals, sum->best_vals, sizeof(coord_pval_t) * (size_t)s->spec->n_params);
    fprintf(f, " best=%" PRIu64 "/%.17g/%.17g", best,
            s->best ? s->best->mean : sum ? sum->best_mean : NAN,
            s->best ? s->best->std : sum ? sum->best_std : NAN);
    for (int p = 0; best && p < s->spec->n_params; p++)
        fprintf(f, " %s=%a/%d/%s", s->spec->params[p].name, vals[p].num, vals[p].absent,
                vals[p].str);
    fclose(f);
    return buf;
}

/* After a commit: the status of each sweep whose end it committed, kept to
 * compare with what a restarted coordinator says of it (ended_check). */
static void ended_note(sim_t *S)
{
    for (const coord_sweep_t *s = S->core.sweeps; s; s = s->next) {
        if (s->state < SWEEP_DONE || (s->id < S->n_ended && S->ended[s->id]))
            continue;
        if (s->id >= S->n_ended) {
            size_t n = s->id + 8;
            char **v = realloc(S->ended, n * sizeof *v);
            if (!v)
                abort();
            memset(v + S->n_ended, 0, (n - S->n_ended) * sizeof *v);
            S->ended = v;
            S->n_ended = n;
        }
        S->ended[s->id] = status_text(s);
    }
}

/* A finished sweep says exactly what it said when its end was committed:
 * after a restart (which creates it unloaded from its journaled summary,
 * `fresh`) and after it was read back from the journal. */
static void ended_check(sim_t *S, bool fresh)
{
    for (const coord_sweep_t *s = S->core.sweeps; s && !S->failure[0]; s = s->next) {
        if (s->id >= S->n_ended || !S->ended[s->id])
            continue;
        if (fresh && coord_sweep_loaded(s)) {
            fail(S, "sweep %" PRIu64 ": finished, but rebuilt at start (no summary journaled "
                    "with its end)", s->id);
            break;
        }
        char *now = status_text(s);
        if (strcmp(now, S->ended[s->id]) != 0)
            fail(S, "sweep %" PRIu64 ": its status differs from the one at its end (%s):\n"
                    "  then: %.200s\n  now:  %.200s", s->id,
                 fresh ? "after a restart" : "read back", S->ended[s->id], now);
        free(now);
    }
}

/* The shell's part: carry out the outbox.  Sends go on the wire at once;
 * journal records join the store's transaction, committed at the end of
 * the step (the daemon's prepare handle) unless the coordinator crashes
 * first or the disk is full. */
static void coord_apply_sim(sim_t *S, uint64_t *results, size_t *n_results, size_t cap)
{
    coord_core_t *k = &S->core;
    for (size_t i = 0; i < k->out.n; i++) {
        const coord_action_t *a = &k->out.v[i];
        switch (a->kind) {
        case COORD_ACT_SEND: {
            int w = worker_by_peer(S, &a->u.send.peer);
            if (w >= 0)
                net_send(S, EV_TO_WORKER, w, NULL, a->u.send.buf, a->u.send.len);
            break;
        }
        case COORD_ACT_JOURNAL:
            if (coord_store_apply(S->store, &a->u.journal) < 0)
                fail(S, "journal record %d refused by the store", (int)a->u.journal.kind);
            if (a->u.journal.kind == COORD_J_TASK_RESULT && *n_results < cap)
                results[(*n_results)++] = a->u.journal.task;
            break;
        case COORD_ACT_EVENT:
            /* The trace keeps the core's events too (a failure prints the
             * last ones); debug-level events only when tracing verbosely. */
            if (a->u.event.level >= HPT_LOG_INFO || S->cfg.verbose)
                trace(S, "%s %s", coord_event_name(a->u.event.type), a->u.event.fields);
            break;
        case COORD_ACT_OFFER:
        case COORD_ACT_TIMER: break;
        }
    }
    if (k->out.failed)
        fail(S, "the core's outbox ran out of memory");
    coord_outbox_clear(&k->out);
}

/* End of a coordinator step: commit (or crash, or fail the disk). */
static void coord_step_end(sim_t *S)
{
    uint64_t results[4096];
    size_t n = 0;
    coord_apply_sim(S, results, &n, 4096);
    if (n == 4096)
        fail(S, "more than 4096 results in one step");
    if (S->crashes_left > 0 && chance(&S->rng, S->p_coord_crash)) {
        S->crashes_left--;
        coord_crash(S, "crash before the commit");
        return;
    }
    if (S->crashes_left > 0 && chance(&S->rng, S->p_disk_full)) {
        S->crashes_left--;
        /* The daemon stops when a commit fails (journal_failed, exit 1);
         * systemd restarts it once the disk has room. */
        coord_crash(S, "disk full on commit");
        return;
    }
    hpt_err err = {0};
    if (coord_store_flush(S->store, &err) < 0) {
        fail(S, "commit failed: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (committed_has(&S->committed, results[i]))
            fail(S, "task %" PRIu64 ": a second result committed", results[i]);
        committed_add(&S->committed, results[i]);
    }
    ended_note(S);
    /* As the daemon does after the commit that follows a sweep's end: the
     * finished sweep leaves memory (read back from the journal on demand,
     * below and at the end). */
    for (coord_sweep_t *s = S->core.sweeps; s; s = s->next)
        if (s->state >= SWEEP_DONE && coord_sweep_loaded(s) && coord_core_unload(&S->core, s) < 0)
            fail(S, "sweep %" PRIu64 ": cannot unload it", s->id);
}

/* A client reads a finished sweep's results: it comes back from the
 * journal (and leaves again after the next commit). */
static void coord_load_sweep(sim_t *S, coord_sweep_t *s)
{
    if (coord_sweep_loaded(s))
        return;
    coord_journal_reader_t rd = coord_store_reader(S->store);
    hpt_err err = {0};
    if (coord_core_load(&S->core, S->now, &rd, s, &err) < 0)
        fail(S, "sweep %" PRIu64 ": cannot read it back from the journal: %s", s->id, err.msg);
}

static void coord_crash(sim_t *S, const char *why)
{
    trace(S, "coordinator: %s", why);
    coord_store_rollback(S->store);
    coord_outbox_clear(&S->core.out);
    coord_core_free(&S->core);
    S->coord_up = false;
    S->coord_inc++;
    ev_push(S, S->now + 0.5 + unif(&S->rng) * 3.0, EV_COORD_START, -1);
}

static void sim_random(void *ud, void *buf, size_t len)
{
    sim_t *S = ud;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(&S->secret_rng);
        memcpy((uint8_t *)buf + i, &v, len - i < 8 ? len - i : 8);
    }
}

static void worker_new_connection(sim_t *S, int w);

static void coord_start(sim_t *S)
{
    coord_core_cfg_t cfg = {.hb_ivl_ms = (int)(S->hb_ivl * 1000), .hb_liveness = S->liveness,
                            .max_attempts = 1000, .task_stall_s = 120, .task_deadline_s = 3600,
                            .fuse_max = 4, .random = sim_random, .random_ud = S};
    coord_core_init(&S->core, &cfg, 1.7e9);
    S->core.event_level = S->cfg.verbose ? HPT_LOG_DEBUG : HPT_LOG_INFO;
    uint64_t ms = 0, mt = 0;
    coord_store_max_ids(S->store, &ms, &mt);
    uint64_t gen = 0;
    hpt_err gerr = {0};
    if (coord_store_incarnation(S->store, &gen, &gerr) < 0)
        fail(S, "incarnation: %s", gerr.msg);
    coord_core_set_ids(&S->core, ms, mt, gen << COORD_STORE_ID_SHIFT);
    coord_journal_reader_t rd = coord_store_reader(S->store);
    hpt_err err = {0};
    int rc = coord_core_resume(&S->core, S->now, &rd, &err);
    if (rc < 0)
        fail(S, "resume failed: %s", err.msg);
    ended_check(S, true);
    S->coord_up = true;
    /* Every worker's connection died with the coordinator; libzmq connects
     * each worker's socket again on its own, so the worker's next messages
     * come on a new connection it does not know about (it says Hello there
     * once told to). */
    for (int i = 0; i < S->n_w; i++)
        if (S->w[i].up)
            worker_new_connection(S, i);
    trace(S, "coordinator: started (resumed %d sweeps, %d orphans)", rc, S->core.n_orphans);
    coord_step_end(S);
    ev_push(S, S->now + S->hb_ivl / 2, EV_TICK, -1)->inc = S->coord_inc;
}

static const char *const SPECS[] = {
    "name: sim-grid\n"
    "dataset: mnist\n"
    "method: grid\n"
    "cv: {folds: 3, seed: 7}\n"
    "refit: true\n"
    "parameters:\n"
    "  batch_size: {values: [32, 64]}\n"
    "  units: {values: [8, 16, 32]}\n"
    "  epochs: {value: 2}\n",
    "name: sim-random\n"
    "dataset: mnist\n"
    "method: random\n"
    "seed: 11\n"
    "cv: {folds: 2, repeats: 2, seed: 3}\n"
    "refit: true\n"
    "parameters:\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
    "  units: {values: [8, 16, 32, 64]}\n"
    "  epochs: {value: 3}\n"
    "budget: {max_trials: 12}\n",
    "name: sim-seeds\n"
    "dataset: mnist\n"
    "method: grid\n"
    "cv: {folds: 2, seed: 5, seeds: 2}\n"
    "refit: false\n"
    "parameters:\n"
    "  dropout: {values: [0.0, 0.2, 0.4]}\n"
    "  epochs: {value: 1}\n",
    /* Epoch families: trials that differ only in epochs continue one
     * another's models, so their tasks wait for the shorter trial's. */
    "name: sim-family\n"
    "dataset: mnist\n"
    "method: grid\n"
    "cv: {folds: 2, seed: 8}\n"
    "refit: true\n"
    "parameters:\n"
    "  units: {values: [8, 16]}\n"
    "  epochs: {values: [1, 3, 2]}\n",
    /* Racing the leaders after the search (core/race.c): extra CV repeats,
     * journaled and resumed like any task; the refit takes the winner. */
    "name: sim-race\n"
    "dataset: mnist\n"
    "method: grid\n"
    "cv: {folds: 3, seed: 9}\n"
    "refit: true\n"
    "parameters:\n"
    "  units: {values: [8, 16, 32, 64]}\n"
    "  epochs: {value: 1}\n"
    "select: {race: true, top: 3, max_repeats: 3, budget_tasks: 30}\n",
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

static const char *const PROMOTE_SPECS[] = {
    "name: sim-asha\n"
    "dataset: mnist\n"
    "method: asha\n"
    "asha: {min_epochs: 1, max_epochs: 9, eta: 3}\n"
    "seed: 5\n"
    "cv: {folds: 2, seed: 9}\n"
    "budget: {max_trials: 12}\n"
    "parameters:\n"
    "  learning_rate: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}\n"
    "  units: {values: [8, 16, 32, 64]}\n",
    "name: sim-hyperband\n"
    "dataset: mnist\n"
    "method: hyperband\n"
    "hyperband: {min_epochs: 1, max_epochs: 9, eta: 3}\n"
    "seed: 6\n"
    "cv: {folds: 2, seed: 4}\n"
    "refit: true\n"
    "parameters:\n"
    "  batch_size: {values: [32, 64, 128]}\n"
    "  units: {values: [8, 16, 32, 64]}\n",
};
#define N_PROMOTE_SPECS (sizeof PROMOTE_SPECS / sizeof PROMOTE_SPECS[0])

static void client_submit(sim_t *S, int which)
{
    if (!S->coord_up)
        return;
    coord_sweep_t *s = NULL;
    hpt_err err = {0};
    const char *spec = S->cfg.family == FAM_PROMOTE ? PROMOTE_SPECS[which % N_PROMOTE_SPECS]
                                                   : SPECS[which % N_SPECS];
    if (coord_core_submit(&S->core, S->now, spec, "sim.yaml", "sim-fp", &s, &err) < 0)
        fail(S, "submit refused: %s", err.msg);
    else
        trace(S, "client: submitted sweep %" PRIu64 " (%s)", s->id, s->spec->name);
    S->sweeps_submitted++;
    coord_step_end(S);
}

// --- simulated workers -----------------------------------------------------------

/* The score a task trains to: a pure function of what the Assign says (the
 * hyperparameters, the split, the seeds), as a real worker's result is a
 * pure function of the task and the data. */
static double task_score(const Hpt__Assign *a)
{
    uint8_t buf[1024];
    size_t n = a->hparams ? hpt__hparams__get_packed_size(a->hparams) : 0;
    if (n > sizeof buf)
        n = 0;
    if (n)
        hpt__hparams__pack(a->hparams, buf);
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ buf[i]) * 1099511628211ULL;
    uint64_t v[4] = {a->fold, a->repeat, a->refit, a->cv_seed};
    for (int i = 0; i < 4; i++)
        h = (h ^ v[i]) * 1099511628211ULL;
    uint64_t s = h;
    return 0.5 + 0.49 * unif(&s);
}

static void worker_hello(sim_t *S, int w)
{
    sim_worker_t *x = &S->w[w];
    Hpt__DatasetInfo di = HPT__DATASET_INFO__INIT;
    di.name = "mnist";
    di.fingerprint = "sim-fp";
    Hpt__DatasetInfo *dp[1] = {&di};
    Hpt__Hello h = HPT__HELLO__INIT;
    h.worker_id = x->id;
    h.name = x->id;
    h.host = "sim";
    h.slots = (uint32_t)x->slots;
    h.fuse_max = (uint32_t)x->fuse;
    h.version = "sim";
    h.n_datasets = 1;
    h.datasets = dp;
    if (x->has_secret) {
        h.session_secret.data = x->secret;
        h.session_secret.len = sizeof x->secret;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    worker_send(S, w, &env);
    /* Results that finished while disconnected go out again (the real
     * worker's outbox): the coordinator takes the one that matches its
     * lease and drops the rest. */
    for (int i = 0; i < x->n_pending; i++) {
        hpt_env_t r = HPT__ENVELOPE__INIT;
        r.body_case = HPT__ENVELOPE__BODY_RESULT;
        r.result = &x->pending[i];
        worker_send(S, w, &r);
    }
    x->n_pending = 0;
}

/* A new connection (a new routing id and serial) without a word from the
 * worker: what libzmq's own reconnect does. */
static void worker_new_connection(sim_t *S, int w)
{
    sim_worker_t *x = &S->w[w];
    x->conn++;
    x->conn_id = ++S->next_conn;
    x->peer.len = (uint8_t)snprintf((char *)x->peer.bytes, sizeof x->peer.bytes, "p%d.%u.%u", w,
                                    x->inc, x->conn);
}

/* A new connection: a new routing id, Hello again. */
static void worker_reconnect(sim_t *S, int w, const char *why)
{
    sim_worker_t *x = &S->w[w];
    worker_new_connection(S, w);
    x->last_heard = S->now;
    trace(S, "worker %s: reconnects (%s)", x->id, why);
    worker_hello(S, w);
}

/* A worker id of its own (the real worker's host:pid:random): per
 * incarnation, and again after the coordinator refused one. */
static void worker_new_id(sim_t *S, int w)
{
    sim_worker_t *x = &S->w[w];
    if (x->renames)
        snprintf(x->id, sizeof x->id, "w%d.%u.r%u", w, x->inc, x->renames);
    else
        snprintf(x->id, sizeof x->id, "w%d.%u", w, x->inc);
    x->has_secret = false;
    S->ids_issued++;
}

static void worker_start(sim_t *S, int w)
{
    sim_worker_t *x = &S->w[w];
    x->up = true;
    x->hung = false;
    x->inc++;
    x->renames = 0;
    worker_new_id(S, w);
    memset(x->run, 0, sizeof *x->run * (size_t)x->n_run);
    x->n_pending = 0;
    worker_reconnect(S, w, "start");
    ev_push(S, S->now + S->hb_ivl, EV_WORKER_HB, w)->inc = x->inc;
}

static void worker_recv(sim_t *S, int w, const hpt_env_t *env)
{
    sim_worker_t *x = &S->w[w];
    x->last_heard = S->now;
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_ASSIGN: {
        const Hpt__Assign *a = env->assign;
        /* Slots as the real worker counts them: a bundle's tasks fill one
         * between them, and end together (one thread trains them). */
        int free_i = -1, busy = 0, mate = -1;
        for (int i = 0; i < x->n_run; i++) {
            if (x->run[i].active && x->run[i].task == a->task && x->run[i].attempt == a->attempt)
                return;   // a duplicate on the wire
            if (x->run[i].active && a->bundle && x->run[i].bundle == a->bundle)
                mate = i;
            if (x->run[i].active) {
                bool first = true;
                for (int j = 0; j < i && x->run[i].bundle; j++)
                    first = first && !(x->run[j].active && x->run[j].bundle == x->run[i].bundle);
                busy += first;
            } else if (free_i < 0) {
                free_i = i;
            }
        }
        if ((mate < 0 && busy >= x->slots) || free_i < 0) {
            Hpt__Result r = HPT__RESULT__INIT;
            r.task = a->task;
            r.attempt = a->attempt;
            r.ok = false;
            r.refused = true;
            r.error = "no free slot";
            r.score = r.accuracy = r.log_loss = r.f1_macro = r.train_score = NAN;
            hpt_env_t out = HPT__ENVELOPE__INIT;
            out.body_case = HPT__ENVELOPE__BODY_RESULT;
            out.result = &r;
            worker_send(S, w, &out);
            return;
        }
        if (S->cfg.family == FAM_DEATH && S->cfg.faults && chance(&S->rng, S->p_die_at_lease)) {
            /* Dies the moment the lease arrives: nothing of it is sent. */
            trace(S, "worker %s: dies on receiving task %" PRIu64 "/%u", x->id, a->task,
                  a->attempt);
            x->up = false;
            ev_push(S, S->now + unif(&S->rng) * 4.0, EV_WORKER_START, w);
            return;
        }
        run_t *r = &x->run[free_i];
        double score = task_score(a);
        *r = (run_t){.task = a->task, .attempt = a->attempt, .bundle = a->bundle, .active = true};
        hpt__result__init(&r->result);
        r->result.task = a->task;
        r->result.attempt = a->attempt;
        r->result.ok = true;
        r->result.error = "";
        r->result.score = score;
        r->result.accuracy = score;
        r->result.log_loss = 1 - score;
        r->result.f1_macro = score;
        r->result.train_score = NAN;
        uint32_t epochs = a->hparams ? a->hparams->epochs : 1;
        r->result.epochs = epochs;
        r->result.n_eval = 1000;
        double dur = (0.5 + unif(&S->rng)) * epochs * x->slow;
        r->result.fit_seconds = dur;
        r->done_at = mate >= 0 ? x->run[mate].done_at : S->now + dur;
        sim_ev_t *e = ev_push(S, r->done_at, EV_TASK_DONE, w);
        e->inc = x->inc;
        e->task = a->task;
        e->attempt = a->attempt;
        break;
    }
    case HPT__ENVELOPE__BODY_CANCEL:
        for (int i = 0; i < x->n_run; i++)
            if (x->run[i].active && x->run[i].task == env->cancel->task &&
                x->run[i].attempt == env->cancel->attempt)
                x->run[i].active = false;
        break;
    case HPT__ENVELOPE__BODY_WELCOME:
        if (env->welcome->session_secret.len == sizeof x->secret) {
            memcpy(x->secret, env->welcome->session_secret.data, sizeof x->secret);
            x->has_secret = true;
        }
        break;
    case HPT__ENVELOPE__BODY_DISCONNECT:
        /* As the real worker: Hello again on the same connection; under a
         * new id when the coordinator refused this one. */
        if (env->disconnect->code == HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED) {
            x->renames++;
            trace(S, "worker %s: id refused (%s)", x->id, env->disconnect->reason);
            worker_new_id(S, w);
        }
        worker_hello(S, w);
        break;
    default: break;   // Heartbeat, DatasetOffer
    }
}

static void worker_heartbeat(sim_t *S, int w)
{
    sim_worker_t *x = &S->w[w];
    if (S->now - x->last_heard > S->hb_ivl * S->liveness) {
        worker_reconnect(S, w, "coordinator silent");
        return;
    }
    Hpt__TaskProgress *tp = calloc((size_t)x->n_run, sizeof *tp);
    Hpt__TaskProgress **tpp = calloc((size_t)x->n_run, sizeof *tpp);
    if (!tp || !tpp) {
        fprintf(stderr, "hptune-sim: out of memory\n");
        exit(2);
    }
    size_t n = 0;
    int units = 0;
    for (int i = 0; i < x->n_run; i++)
        if (x->run[i].active) {
            bool first = true;
            for (int j = 0; j < i && x->run[i].bundle; j++)
                first = first && !(x->run[j].active && x->run[j].bundle == x->run[i].bundle);
            units += first;
            hpt__task_progress__init(&tp[n]);
            tp[n].task = x->run[i].task;
            tp[n].attempt = x->run[i].attempt;
            tp[n].epoch = 0;
            tpp[n] = &tp[n];
            n++;
        }
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.n_running = n;
    hb.running = tpp;
    hb.free_slots = (uint32_t)(x->slots - units > 0 ? x->slots - units : 0);
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    worker_send(S, w, &env);
    free(tpp);
    free(tp);
}

static void worker_task_done(sim_t *S, const sim_ev_t *e)
{
    sim_worker_t *x = &S->w[e->w];
    for (int i = 0; i < x->n_run; i++) {
        run_t *r = &x->run[i];
        if (!r->active || r->task != e->task || r->attempt != e->attempt)
            continue;
        r->active = false;
        S->results_sent++;
        if (x->cut && x->n_pending < 64) {
            x->pending[x->n_pending++] = r->result;   // resent after the reconnect
            return;
        }
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_RESULT;
        env.result = &r->result;
        worker_send(S, e->w, &env);
        if (S->cfg.family == FAM_DEATH && S->cfg.faults && chance(&S->rng, S->p_die_at_lease)) {
            /* Dies the moment its result leaves: the result may arrive
             * before or after the coordinator notices the death. */
            trace(S, "worker %s: dies after sending the result of %" PRIu64 "/%u", x->id,
                  e->task, e->attempt);
            x->up = false;
            ev_push(S, S->now + unif(&S->rng) * 4.0, EV_WORKER_START, e->w);
        }
        return;
    }
}

// --- the loop --------------------------------------------------------------------------

static int sweeps_open(const sim_t *S)
{
    int n = 0;
    for (const coord_sweep_t *s = S->core.sweeps; s; s = s->next)
        n += s->state < SWEEP_DONE;
    return n;
}

static void check_invariants(sim_t *S)
{
    if (!S->coord_up)
        return;
    /* The core's full check is O(tasks + workers): after every step for
     * clusters of up to 256 workers, every 1,000th step beyond (the
     * counters below stay per step). */
    hpt_err err = {0};
    bool full = S->n_w <= 256 || S->steps % 1000 == 0;
    if (full && coord_core_check(&S->core, &err) < 0)
        fail(S, "core invariant: %s", err.msg);
    /* A worker that restarted has a new id, so the record of its previous
     * incarnation holds leases until it expires: leases are bounded by the
     * slots of the records, each of a real worker's id. */
    size_t slots = 0;
    bool ids = S->steps % 64 == 0;
    for (const coord_worker_t *w = S->core.workers; full && w; w = w->next) {
        slots += (size_t)w->slots * (size_t)(w->fuse_max > 1 ? w->fuse_max : 1);
        if (!ids)
            continue;
        int i = -1;
        unsigned inc = 0;
        if (sscanf(w->id, "w%d.%u", &i, &inc) != 2 || i < 0 || i >= S->n_w ||
            inc > S->w[i].inc) {
            fail(S, "a worker record with the id %s, which no simulated worker used", w->id);
            break;
        }
    }
    if (full && S->core.n_leases > slots + (size_t)S->core.n_orphans)
        fail(S, "%zu leases for %zu slots", S->core.n_leases, slots);
    if (S->core.ids_len > S->ids_issued)
        fail(S, "%zu worker ids interned, %llu used", S->core.ids_len,
             (unsigned long long)S->ids_issued);
    if ((uint64_t)S->core.n_workers > S->ids_issued)
        fail(S, "%d workers registered, %llu ids used", S->core.n_workers,
             (unsigned long long)S->ids_issued);
}

static void step(sim_t *S, sim_ev_t *e)
{
    S->now = e->at;
    S->steps++;
    switch (e->kind) {
    case EV_TO_COORD: {
        if (!S->coord_up || e->inc != S->coord_inc)
            break;   // the connection is down, or it went down with the coordinator: lost
        hpt_env_t *env = NULL;
        hpt_err err = {0};
        if (hpt_proto_decode(e->buf, e->len, &env, &err) < 0) {
            fail(S, "a simulated worker sent an invalid message: %s", err.msg);
            break;
        }
        coord_conn_t conn = {.id = e->conn_id};
        if (env->body_case == HPT__ENVELOPE__BODY_HELLO)
            coord_core_hello(&S->core, S->now, &e->peer, &conn, env->hello);
        else
            coord_core_worker_msg(&S->core, S->now, &e->peer, &conn, env);
        hpt_proto_free(&env);
        coord_step_end(S);
        break;
    }
    case EV_TO_WORKER: {
        sim_worker_t *x = &S->w[e->w];
        if (!x->up || x->hung || e->inc != x->conn)
            break;   // sent to a connection that is gone
        hpt_env_t *env = NULL;
        hpt_err err = {0};
        if (hpt_proto_decode(e->buf, e->len, &env, &err) < 0) {
            fail(S, "the coordinator sent an invalid message: %s", err.msg);
            break;
        }
        worker_recv(S, e->w, env);
        hpt_proto_free(&env);
        break;
    }
    case EV_TASK_DONE:
        if (S->w[e->w].up && e->inc == S->w[e->w].inc && !S->w[e->w].hung)
            worker_task_done(S, e);
        else if (S->w[e->w].up && e->inc == S->w[e->w].inc)   // hung: finishes later
            ev_push(S, S->now + 1.0, EV_TASK_DONE, e->w)[0] =
                (sim_ev_t){.at = S->now + 1.0, .seq = S->seq++, .kind = EV_TASK_DONE, .w = e->w,
                           .inc = e->inc, .task = e->task, .attempt = e->attempt};
        break;
    case EV_TICK:
        if (!S->coord_up || e->inc != S->coord_inc)
            break;
        coord_core_tick(&S->core, S->now);
        coord_step_end(S);
        if (S->coord_up)
            ev_push(S, S->now + S->hb_ivl / 2, EV_TICK, -1)->inc = S->coord_inc;
        break;
    case EV_WORKER_HB:
        if (!S->w[e->w].up || e->inc != S->w[e->w].inc)
            break;
        if (!S->w[e->w].hung)
            worker_heartbeat(S, e->w);
        ev_push(S, S->now + S->hb_ivl, EV_WORKER_HB, e->w)->inc = e->inc;
        break;
    case EV_WORKER_CRASH:
        if (S->w[e->w].up) {
            trace(S, "worker %s: crashes", S->w[e->w].id);
            S->w[e->w].up = false;
            ev_push(S, S->now + 1.0 + unif(&S->rng) * 20.0, EV_WORKER_START, e->w);
        }
        break;
    case EV_WORKER_START:
        if (!S->w[e->w].up)
            worker_start(S, e->w);
        break;
    case EV_WORKER_HANG:
        if (S->w[e->w].up) {
            trace(S, "worker %s: hangs", S->w[e->w].id);
            S->w[e->w].hung = true;
            ev_push(S, S->now + 1.0 + unif(&S->rng) * 15.0, EV_WORKER_UNHANG, e->w);
        }
        break;
    case EV_WORKER_UNHANG:
        S->w[e->w].hung = false;
        break;
    case EV_PARTITION:
        if (S->w[e->w].up) {
            trace(S, "worker %s: partitioned", S->w[e->w].id);
            S->w[e->w].cut = true;
            ev_push(S, S->now + 1.0 + unif(&S->rng) * 10.0, EV_HEAL, e->w);
        }
        break;
    case EV_HEAL:
        S->w[e->w].cut = false;
        trace(S, "worker %s: partition healed", S->w[e->w].id);
        break;
    case EV_COORD_CRASH:
        if (S->coord_up)
            coord_crash(S, "killed");
        break;
    case EV_COORD_START:
        if (!S->coord_up)
            coord_start(S);
        break;
    case EV_CLIENT_SUBMIT:
        if (S->coord_up)
            client_submit(S, e->w);
        else
            ev_push(S, S->now + 1.0, EV_CLIENT_SUBMIT, e->w);
        break;
    case EV_CLIENT_READ:
        if (S->coord_up)
            for (coord_sweep_t *s = S->core.sweeps; s; s = s->next)
                if (s->state >= SWEEP_DONE)
                    coord_load_sweep(S, s);
        break;
    case EV_CLIENT_CANCEL: {
        if (!S->coord_up)
            break;
        coord_sweep_t *s = coord_sweep_find(&S->core, (uint64_t)e->task);
        if (s && s->state < SWEEP_DONE) {
            trace(S, "client: cancels sweep %" PRIu64, s->id);
            coord_core_cancel(&S->core, S->now, s);
            coord_step_end(S);
        }
        break;
    }
    }
    free(e->buf);
    check_invariants(S);
}

// --- results ---------------------------------------------------------------------------

/* A sweep's cv_results_ as text, one line per trial, for comparing runs. */
static void results_text(const coord_sweep_t *s, FILE *f)
{
    fprintf(f, "sweep %s state=%s trials=%zu\n", s->spec->name, coord_sweep_state_name(s->state),
            s->n_trials);
    int ns = s->spec->cv.folds * s->spec->cv.repeats;
    for (size_t i = 0; i < s->n_trials; i++) {
        const coord_trial_t *t = s->trials[i];
        fprintf(f, "trial %" PRIu64 " state=%s", t->number, coord_trial_state_name(t->state));
        coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
        coord_trial_values(t, vals);
        for (int p = 0; p < s->spec->n_params; p++) {
            char v[64];
            coord_pval_format(&s->spec->params[p], &vals[p], v, sizeof v);
            fprintf(f, " %s=%s", s->spec->params[p].name, v);
        }
        for (int k = 0; k < ns; k++)
            fprintf(f, " s%d=%.17g", k, coord_trial_split_score(t, k, false));
        fprintf(f, " mean=%.17g std=%.17g\n", t->mean, t->std);
    }
    if (s->race)
        fprintf(f, "race rounds=%d tasks=%ld winner=%" PRIu64 " verdict=%s\n", s->race->rounds,
                s->race->tasks_created, s->race->winner ? s->race->winner->number : 0,
                s->race_verdict);
    if (s->has_refit)
        fprintf(f, "refit trial=%" PRIu64 " score=%.17g\n", s->best ? s->best->number : 0,
                s->refit_score);
}

typedef struct outcome {
    char *text;               // cv_results_ of the comparable sweeps
    size_t len;
    bool ok;
    double time;
    uint64_t steps;
} outcome_t;

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: hptune-sim [OPTIONS]\n"
            "Deterministic simulation of an hptune cluster around the real coordinator core.\n"
            "\n"
            "  --seed N          run one seed (a 64-bit number) and compare it with its\n"
            "                    fault-free run\n"
            "  --seeds A:B       run seeds A to B-1\n"
            "  --random-for S    run random seeds for S wall-clock seconds (printed first),\n"
            "                    every family in turn unless --family is given\n"
            "  --workers N       simulated workers (default: chosen by the seed, 2..40)\n"
            "  --family F        the faults' aim: mixed (default; everything at random),\n"
            "                    death (workers die as a lease arrives or a result leaves),\n"
            "                    restart (coordinator crashes with results in flight:\n"
            "                    orphaned leases), promote (asha and hyperband promotions\n"
            "                    through faults; results not compared with the fault-free run),\n"
            "                    bundle (workers take bundles of tasks per slot, Hello.fuse_max)\n"
            "  --no-faults       the fault-free run only\n"
            "  --max-time S      virtual seconds before a sweep counts as never ending\n"
            "                    (default 20000)\n"
            "  -v, --verbose     trace every step to stderr\n"
            "  -h, --help        this text\n"
            "\n"
            "Exit status: 0 when every invariant held, 1 when one broke (the seed, the\n"
            "invariant, the last steps and the command that replays it are printed),\n"
            "2 for bad usage.\n");
}

/* Run one seed.  faults false: the reference run. */
static outcome_t run_seed(const sim_cfg_t *cfg)
{
    sim_t *S = calloc(1, sizeof *S);
    outcome_t out = {0};
    S->cfg = *cfg;
    S->rng = cfg->seed * 0x9e3779b97f4a7c15ULL + 1;
    S->secret_rng = cfg->seed ^ 0x5ec2e7;
    uint64_t shape = cfg->seed ^ 0x5eed;   // the cluster's shape: the same with or without faults
    S->hb_ivl = 1.0;
    S->liveness = 3;
    S->n_w = cfg->workers > 0 ? cfg->workers : 2 + (int)(splitmix(&shape) % 39);
    S->w = calloc((size_t)S->n_w, sizeof *S->w);
    for (int i = 0; i < S->n_w; i++) {
        snprintf(S->w[i].id, sizeof S->w[i].id, "w%d", i);
        S->w[i].slots = 1 + (int)(splitmix(&shape) % 4);
        S->total_slots += (size_t)S->w[i].slots;
        S->w[i].slow = 1.0;
        /* Bundles: three workers in four take 2..4 tasks per slot (drawn only
         * in this family, so the other families' shapes do not change). */
        if (cfg->family == FAM_BUNDLE && splitmix(&shape) % 4 != 0)
            S->w[i].fuse = 2 + (int)(splitmix(&shape) % 3);
        S->w[i].n_run = MAX_RUN * (S->w[i].fuse > 1 ? S->w[i].fuse : 1);
        S->w[i].run = calloc((size_t)S->w[i].n_run, sizeof *S->w[i].run);
        if (!S->w[i].run) {
            fprintf(stderr, "hptune-sim: out of memory\n");
            exit(2);
        }
    }
    hpt_err err = {0};
    if (coord_store_open(&S->store, ":memory:", &err) < 0) {
        fprintf(stderr, "hptune-sim: %s\n", err.msg);
        exit(2);
    }
    if (cfg->faults) {
        S->p_loss = unif(&S->rng) < 0.5 ? 0 : unif(&S->rng) * 0.02;
        S->p_dup = unif(&S->rng) < 0.5 ? 0 : unif(&S->rng) * 0.02;
        S->max_delay = unif(&S->rng) * 0.3;
        S->p_coord_crash = unif(&S->rng) < 0.5 ? 0 : unif(&S->rng) * 0.002;
        S->p_disk_full = unif(&S->rng) < 0.7 ? 0 : unif(&S->rng) * 0.001;
        S->crashes_left = 1 + (int)(unif(&S->rng) * 6);
        if (cfg->family == FAM_DEATH)
            S->p_die_at_lease = 0.02 + unif(&S->rng) * 0.08;
        if (cfg->family == FAM_RESTART) {
            S->p_coord_crash = 0.002 + unif(&S->rng) * 0.01;
            S->p_disk_full = unif(&S->rng) * 0.003;
            S->crashes_left = 4 + (int)(unif(&S->rng) * 8);
        }
    }
    coord_start(S);
    for (int i = 0; i < S->n_w; i++)
        ev_push(S, unif(&S->rng) * 2.0, EV_WORKER_START, i);
    /* The sweeps, submitted at seed-chosen times. */
    int n_sweeps = 1 + (int)(splitmix(&shape) % 3);
    for (int i = 0; i < n_sweeps; i++)
        ev_push(S, 0.1 + i * 3.0, EV_CLIENT_SUBMIT, (int)((splitmix(&shape) + (uint64_t)i) %
                                                             N_SPECS));
    for (int i = 0; i < 4; i++)   // clients read results now and then
        ev_push(S, unif(&S->rng) * 80.0, EV_CLIENT_READ, -1);
    if (cfg->faults) {
        int n_faults = (int)(unif(&S->rng) * 12);
        for (int i = 0; i < n_faults; i++) {
            double at = unif(&S->rng) * 60.0;
            int w = (int)(splitmix(&S->rng) % (uint64_t)S->n_w);
            double r = unif(&S->rng);
            ev_kind_t k = r < 0.3    ? EV_WORKER_CRASH
                          : r < 0.45 ? EV_WORKER_HANG
                          : r < 0.65 ? EV_PARTITION
                          : r < 0.85 ? EV_COORD_CRASH
                                     : EV_WORKER_CRASH;
            ev_push(S, at, k, w);
        }
        for (int i = 0; i < S->n_w; i++)
            if (chance(&S->rng, 0.2))
                S->w[i].slow = 5.0 + unif(&S->rng) * 20.0;
        /* A client cancels a sweep (the sweep is then left out of the
         * comparison) or submits another mid-sweep. */
        if (chance(&S->rng, 0.2)) {
            sim_ev_t *e = ev_push(S, 5.0 + unif(&S->rng) * 20.0, EV_CLIENT_CANCEL, -1);
            e->task = 1 + splitmix(&S->rng) % (uint64_t)n_sweeps;
        }
    }
    while (S->n_ev && !S->failure[0]) {
        if (S->heap[0].at > cfg->max_time)
            break;
        sim_ev_t e = ev_pop(S);
        step(S, &e);
        if (S->coord_up && S->sweeps_submitted == (uint64_t)n_sweeps && sweeps_open(S) == 0 &&
            S->core.sweeps)
            break;
    }
    if (!S->failure[0] && (!S->coord_up || sweeps_open(S) > 0 ||
                           S->sweeps_submitted < (uint64_t)n_sweeps))
        fail(S, "a sweep did not end within %.0f virtual seconds (%d open)", cfg->max_time,
             S->coord_up ? sweeps_open(S) : -1);
    if (!S->failure[0] && S->core.n_leases != 0)
        fail(S, "%zu leases left after every sweep ended", S->core.n_leases);
    /* Every done task of a finished sweep (read back from the journal as a
     * client would) has exactly one committed result, and the sweep says
     * what it said at its end. */
    if (!S->failure[0] && S->coord_up) {
        for (coord_sweep_t *s = S->core.sweeps; s && !S->failure[0]; s = s->next) {
            coord_load_sweep(S, s);
            for (size_t i = 0; coord_sweep_loaded(s) && i < s->n_trials; i++)
                for (int j = 0; j < s->trials[i]->n_tasks; j++) {
                    const coord_task_t *t = s->trials[i]->tasks[j];
                    if (t && t->state == TASK_DONE && !committed_has(&S->committed, t->id))
                        fail(S, "task %" PRIu64 " is done but its result was never committed",
                             t->id);
                }
            const coord_race_t *rc = coord_sweep_loaded(s) ? s->race : NULL;
            size_t n_race = rc ? (size_t)rc->n * (size_t)rc->max_rounds * (size_t)rc->per_round
                               : 0;
            for (size_t i = 0; i < n_race; i++) {
                const coord_task_t *t = rc->tasks[i];
                if (t && t->state == TASK_DONE && !committed_has(&S->committed, t->id))
                    fail(S, "race task %" PRIu64 " is done but its result was never committed",
                         t->id);
            }
        }
        ended_check(S, false);
    }
    FILE *f = open_memstream(&out.text, &out.len);
    if (S->coord_up)
        for (coord_sweep_t *s = S->core.sweeps; s; s = s->next)
            if (s->state != SWEEP_CANCELLED) {
                coord_load_sweep(S, s);   // the results as a client reads them
                results_text(s, f);
            }
    fclose(f);
    out.ok = !S->failure[0];
    out.time = S->now;
    out.steps = S->steps;
    if (!out.ok) {
        fprintf(stderr, "hptune-sim: seed %" PRIu64 "%s: %s (virtual t=%.3f, step %" PRIu64
                        ")\nlast steps:\n",
                cfg->seed, cfg->faults ? "" : " (fault-free)", S->failure, S->now, S->steps);
        for (int i = 0; i < TRACE_N; i++) {
            const char *l = S->trace[(S->trace_head + i) % TRACE_N];
            if (l[0])
                fprintf(stderr, "  %s\n", l);
        }
    }
    while (S->n_ev) {
        sim_ev_t e = ev_pop(S);
        free(e.buf);
    }
    if (S->coord_up)
        coord_core_free(&S->core);
    coord_store_close(&S->store);
    free(S->heap);
    free(S->committed.ids);
    for (size_t i = 0; i < S->n_ended; i++)
        free(S->ended[i]);
    free(S->ended);
    for (int i = 0; i < S->n_w; i++)
        free(S->w[i].run);
    free(S->w);
    free(S);
    return out;
}

/* Split a results text into its sweeps' blocks (in place); returns how
 * many. */
static int split_blocks(char *text, char **blocks, int max)
{
    int n = 0;
    for (char *p = text; p && *p && n < max;) {
        blocks[n++] = p;
        char *next = strstr(p + 1, "\nsweep ");
        if (next) {
            next[0] = '\0';
            p = next + 1;
        } else {
            size_t len = strlen(p);
            while (len > 0 && p[len - 1] == '\n')
                p[--len] = '\0';   // every block ends without its newline
            p = NULL;
        }
    }
    return n;
}

/* The seed's run with faults against its fault-free run. */
static bool check_seed(sim_cfg_t cfg, uint64_t *steps)
{
    char wbuf[16];
    sim_cfg_t ref = cfg;
    ref.faults = false;
    outcome_t a = run_seed(&ref);
    bool ok = a.ok;
    *steps += a.steps;
    if (ok && cfg.faults) {
        outcome_t b = run_seed(&cfg);
        if (cfg.family == FAM_PROMOTE) {
            /* Which configurations a promotion picks depends on the order
             * results arrive in: only the other invariants apply. */
            free(b.text);
            b.text = strdup("");
        }
        *steps += b.steps;
        ok = b.ok;
        /* Each sweep of the faulty run must equal one sweep of the
         * fault-free run, as a multiset: submissions delayed by a
         * coordinator outage may come in another order, and a sweep the
         * faulty run cancelled is missing from it. */
        if (ok) {
            char *blocks_a[16], *blocks_b[16];
            int na = split_blocks(a.text, blocks_a, 16), nb = split_blocks(b.text, blocks_b, 16);
            bool used[16] = {0};
            for (int i = 0; i < nb && ok; i++) {
                bool found = false;
                for (int j = 0; j < na && !found; j++)
                    if (!used[j] && strcmp(blocks_a[j], blocks_b[i]) == 0)
                        found = used[j] = true;
                if (!found) {
                    fprintf(stderr,
                            "hptune-sim: seed %" PRIu64 ": cv_results_ of a sweep differ from "
                            "the fault-free run's\n--- with faults:\n%s\n--- fault-free:\n",
                            cfg.seed, blocks_b[i]);
                    for (int j = 0; j < na; j++)
                        fprintf(stderr, "%s\n", blocks_a[j]);
                    ok = false;
                }
            }
        }
        free(b.text);
    }
    free(a.text);
    if (!ok)
        fprintf(stderr, "replay: %s --seed %" PRIu64 " --family %s%s%s -v\n", "hptune-sim",
                cfg.seed, FAMILY_NAMES[cfg.family], cfg.workers ? " --workers " : "",
                cfg.workers ? (snprintf(wbuf, sizeof wbuf, "%d", cfg.workers), wbuf) : "");
    return ok;
}

int main(int argc, char **argv)
{
    sim_cfg_t cfg = {.faults = true, .max_time = 20000};
    uint64_t a = 0, b = 0;
    double random_for = 0;
    bool have = false, family_set = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(o, "--seed") == 0 && v) {
            a = strtoull(v, NULL, 0);
            b = a + 1;
            have = true;
            i++;
        } else if (strcmp(o, "--seeds") == 0 && v && strchr(v, ':')) {
            a = strtoull(v, NULL, 0);
            b = strtoull(strchr(v, ':') + 1, NULL, 0);
            have = true;
            i++;
        } else if (strcmp(o, "--random-for") == 0 && v) {
            random_for = atof(v);
            i++;
        } else if (strcmp(o, "--workers") == 0 && v) {
            cfg.workers = atoi(v);
            i++;
        } else if (strcmp(o, "--max-time") == 0 && v) {
            cfg.max_time = atof(v);
            i++;
        } else if (strcmp(o, "--family") == 0 && v) {
            int f = -1;
            for (int j = 0; j < FAM__COUNT; j++)
                if (strcmp(v, FAMILY_NAMES[j]) == 0)
                    f = j;
            if (f < 0) {
                fprintf(stderr, "hptune-sim: --family: unknown family '%s' (allowed: mixed, "
                                "death, restart, promote, bundle)\n", v);
                return 2;
            }
            cfg.family = (family_t)f;
            family_set = true;
            i++;
        } else if (strcmp(o, "--no-faults") == 0) {
            cfg.faults = false;
        } else if (strcmp(o, "-v") == 0 || strcmp(o, "--verbose") == 0) {
            cfg.verbose = true;
        } else {
            fprintf(stderr, "hptune-sim: unknown or incomplete option '%s'\n", o);
            usage(stderr);
            return 2;
        }
    }
    if (!have && random_for <= 0) {
        a = 1;
        b = 33;
    }
    hpt_log_set_level(HPT_LOG_ERROR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t steps = 0, runs = 0, failed = 0;
    for (uint64_t s = a; s < b; s++) {
        cfg.seed = s;
        runs++;
        failed += !check_seed(cfg, &steps);
    }
    if (random_for > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t r = (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 20);
        printf("hptune-sim: random seeds from %" PRIu64 " for %.0f s\n", r, random_for);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            double el = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) * 1e-9;
            if (el > random_for)
                break;
            cfg.seed = splitmix(&r);
            if (!family_set)   // every family in turn
                cfg.family = (family_t)(runs % FAM__COUNT);
            runs++;
            failed += !check_seed(cfg, &steps);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double el = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("hptune-sim: %" PRIu64 " seeds, %" PRIu64 " failed, %" PRIu64
           " simulated events in %.2f s (%.0f events/s)\n",
           runs, failed, steps, el, el > 0 ? steps / el : 0.0);
    return failed ? 1 : 0;
}
