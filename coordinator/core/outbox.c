/*
 * outbox.c: the core's outbox (actions with an arena for their bytes), the
 * typed event table, and the helpers the core uses to append sends, journal
 * records and events (outbox.h).
 *
 * The arena is a list of blocks that never move, so a pointer handed out
 * stays valid until coord_outbox_clear.  Running out of memory drops the
 * action and sets `failed`; the shell treats that like a failed journal
 * commit (it stops), since a lost record would be a lost result.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "log.h"
#include "outbox.h"

struct coord_arena_block {
    struct coord_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

#define BLOCK_MIN (64 * 1024)

static void *arena_alloc(coord_outbox_t *o, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct coord_arena_block *b = o->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        b = malloc(sizeof *b + cap);
        if (!b) {
            o->failed = true;
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = o->blocks;
        o->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void coord_outbox_clear(coord_outbox_t *o)
{
    o->n = 0;
    /* Keep the newest block for the next round; free the rest. */
    struct coord_arena_block *b = o->blocks;
    if (b) {
        for (struct coord_arena_block *x = b->next, *nx; x; x = nx) {
            nx = x->next;
            free(x);
        }
        b->next = NULL;
        b->used = 0;
    }
}

void coord_outbox_free(coord_outbox_t *o)
{
    coord_outbox_clear(o);
    free(o->blocks);
    free(o->v);
    *o = (coord_outbox_t){0};
}

coord_action_t *hpt__act(coord_core_t *k, coord_act_kind_t kind)
{
    coord_outbox_t *o = &k->out;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        coord_action_t *v = realloc(o->v, cap * sizeof *v);
        if (!v) {
            o->failed = true;
            return NULL;
        }
        o->v = v;
        o->cap = cap;
    }
    coord_action_t *a = &o->v[o->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    return a;
}

const char *hpt__astr(coord_core_t *k, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(&k->out, n);
    if (p)
        memcpy(p, s, n);
    return p;
}

const char *hpt__q(coord_core_t *k, const char *s)
{
    if (!s)
        s = "";
    char small[256];
    hpt_log_quote(s, small, sizeof small);
    if (strcmp(small, s) == 0)
        return s;   // bare: nothing to quote
    /* Each byte escapes to at most 6 ("\u009f" for half a C1 character is
     * less), plus the quotes. */
    size_t need = 6 * strlen(s) + 3;
    if (need <= sizeof small)
        return hpt__astr(k, small);
    char *p = arena_alloc(&k->out, need);
    return p ? hpt_log_quote(s, p, need) : "\"(out of memory)\"";
}

void hpt__send(coord_core_t *k, const hpt_peer_id_t *to, hpt_env_t *env)
{
    env->protocol = HPT__VERSION__PROTOCOL_VERSION;
    size_t len = hpt__envelope__get_packed_size(env);
    uint8_t *buf = arena_alloc(&k->out, len ? len : 1);
    coord_action_t *a = buf ? hpt__act(k, COORD_ACT_SEND) : NULL;
    if (!a)
        return;
    hpt__envelope__pack(env, buf);
    a->u.send.peer = *to;
    a->u.send.body = (int)env->body_case;
    a->u.send.buf = buf;
    a->u.send.len = len;
}

void hpt__offer(coord_core_t *k, const hpt_peer_id_t *to, uint64_t sweep)
{
    coord_action_t *a = hpt__act(k, COORD_ACT_OFFER);
    if (a) {
        a->u.offer.peer = *to;
        a->u.offer.sweep = sweep;
    }
}

void hpt__timer(coord_core_t *k, double at)
{
    coord_action_t *a = hpt__act(k, COORD_ACT_TIMER);
    if (a)
        a->u.at = at;
}

// --- events -------------------------------------------------------------------

typedef struct event_def {
    const char *name, *component, *msg;
    int level;
} event_def_t;

/* The stable schema: name (never renamed), component, the sentence people
 * read, and the default level. */
static const event_def_t event_defs[COORD_EV__COUNT] = {
    [COORD_EV_LOG] = {"log", "", "", HPT_LOG_INFO},
    [COORD_EV_SWEEP_SUBMITTED] = {"sweep.submitted", "sched", "sweep submitted", HPT_LOG_INFO},
    [COORD_EV_SWEEP_FINISHED] = {"sweep.finished", "sched", "sweep finished", HPT_LOG_INFO},
    [COORD_EV_SWEEP_RESUMED] = {"sweep.resumed", "sched", "sweep resumed from the journal",
                                HPT_LOG_INFO},
    [COORD_EV_SWEEP_LOADED] = {"sweep.loaded", "sched", "finished sweep loaded from the journal",
                               HPT_LOG_INFO},
    [COORD_EV_SWEEP_RESUME_FAILED] = {"sweep.resume_failed", "sched",
                                      "cannot resume sweep; marking it failed", HPT_LOG_ERROR},
    [COORD_EV_TRIAL_CREATED] = {"trial.created", "sched", "trial created", HPT_LOG_DEBUG},
    [COORD_EV_TRIAL_DONE] = {"trial.done", "sched", "trial done", HPT_LOG_INFO},
    [COORD_EV_TRIAL_FAILED] = {"trial.failed", "sched", "trial failed", HPT_LOG_INFO},
    [COORD_EV_TASK_LEASED] = {"task.leased", "sched", "task leased", HPT_LOG_DEBUG},
    [COORD_EV_TASK_PROGRESS] = {"task.progress", "sched", "progress", HPT_LOG_DEBUG},
    [COORD_EV_TASK_RESULT] = {"task.result", "sched", "result", HPT_LOG_DEBUG},
    [COORD_EV_TASK_RETRY] = {"task.retry", "sched", "task failed; retrying", HPT_LOG_WARN},
    [COORD_EV_TASK_FAILED] = {"task.failed", "sched", "task failed for good", HPT_LOG_WARN},
    [COORD_EV_TASK_REQUEUED] = {"task.requeued", "sched", "task requeued", HPT_LOG_INFO},
    [COORD_EV_LEASE_REVOKED] = {"task.lease_revoked", "sched", "lease revoked", HPT_LOG_WARN},
    [COORD_EV_RESULT_DROPPED] = {"task.result_dropped", "sched",
                                 "stale or duplicate result dropped", HPT_LOG_INFO},
    [COORD_EV_REFIT_STARTED] = {"refit.started", "sched",
                                "refitting the best trial on all training data", HPT_LOG_INFO},
    [COORD_EV_REFIT_DONE] = {"refit.done", "sched", "refit done", HPT_LOG_INFO},
    [COORD_EV_RACE_STARTED] = {"race.started", "race",
                               "racing the leaders the search could not tell apart",
                               HPT_LOG_INFO},
    [COORD_EV_RACE_ROUND] = {"race.round", "race", "race round looked at", HPT_LOG_INFO},
    [COORD_EV_RACE_DONE] = {"race.done", "race", "race decided", HPT_LOG_INFO},
    [COORD_EV_FINGERPRINT_ADOPTED] = {"dataset.fingerprint_adopted", "sched",
                                      "dataset fingerprint adopted from a worker", HPT_LOG_INFO},
    [COORD_EV_WORKER_LACKS_DATASET] = {"worker.lacks_dataset", "sched",
                                       "worker lacks the sweep's dataset; no tasks for it",
                                       HPT_LOG_INFO},
    [COORD_EV_WORKER_FINGERPRINT_MISMATCH] =
        {"worker.fingerprint_mismatch", "sched",
         "worker's dataset fingerprint differs from the sweep's; no tasks for it", HPT_LOG_WARN},
    [COORD_EV_SWEEP_DELETED] = {"sweep.deleted", "sched",
                                "finished sweep deleted (retention)", HPT_LOG_INFO},
    [COORD_EV_WORKER_DRY_RUN_REFUSED] =
        {"worker.dry_run_refused", "sched",
         "a --dry-run worker gets only sweeps that set test_objective; no tasks for it",
         HPT_LOG_WARN},
    [COORD_EV_WORKER_JOINED] = {"worker.joined", "workers", "worker joined", HPT_LOG_INFO},
    [COORD_EV_WORKER_REREGISTERED] = {"worker.reregistered", "workers", "worker re-registered",
                                      HPT_LOG_INFO},
    [COORD_EV_WORKER_DRAINING] = {"worker.draining", "workers", "worker draining",
                                  HPT_LOG_INFO},
    [COORD_EV_WORKER_LEFT] = {"worker.left", "workers", "worker left", HPT_LOG_INFO},
    [COORD_EV_WORKER_DATASETS] = {"worker.datasets", "datasets", "worker datasets updated",
                                  HPT_LOG_INFO},
    [COORD_EV_LEASES_REATTACHED] = {"worker.leases_reattached", "sched",
                                    "worker re-attached to its leases from before the restart",
                                    HPT_LOG_INFO},
    [COORD_EV_UNREGISTERED_PEER] = {"peer.unregistered", "workers",
                                    "message from unregistered peer; disconnecting",
                                    HPT_LOG_INFO},
    [COORD_EV_OUT_OF_MEMORY] = {"core.out_of_memory", "sched", "out of memory", HPT_LOG_ERROR},
    [COORD_EV_HELLO_REFUSED] = {"peer.hello_refused", "workers",
                                "hello refused: a string is not plain text; disconnecting",
                                HPT_LOG_WARN},
    [COORD_EV_WORKER_REFUSED] = {"worker.refused", "workers",
                                 "hello refused: the worker id is not this connection's",
                                 HPT_LOG_WARN},
    [COORD_EV_RESULT_HELD] = {"task.result_held", "workers",
                              "result from a connection not registered yet; held until it "
                              "registers",
                              HPT_LOG_DEBUG},
};

const char *coord_event_name(coord_event_type_t t)
{
    return (unsigned)t < COORD_EV__COUNT ? event_defs[t].name : "unknown";
}

void hpt__eventv(coord_core_t *k, coord_event_type_t type, int level, uint64_t sweep,
                 const char *fmt, va_list ap)
{
    const event_def_t *d = &event_defs[type];
    if (level < 0)
        level = d->level;
    if (level < k->event_level)
        return;   // below the log level: nobody would see it (debug events are per task)
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    coord_action_t *a = hpt__act(k, COORD_ACT_EVENT);
    if (!a)
        return;
    a->u.event = (coord_act_event_t){.type = type, .level = level, .sweep = sweep,
                                     .component = d->component, .msg = d->msg,
                                     .fields = hpt__astr(k, buf)};
}

void hpt__event(coord_core_t *k, coord_event_type_t type, int level, uint64_t sweep,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hpt__eventv(k, type, level, sweep, fmt, ap);
    va_end(ap);
}

// --- journal ------------------------------------------------------------------

coord_jrec_t *hpt__journal(coord_core_t *k, coord_jkind_t kind)
{
    coord_action_t *a = hpt__act(k, COORD_ACT_JOURNAL);
    if (!a)
        return NULL;
    a->u.journal.kind = kind;
    return &a->u.journal;
}

/* One helper per record kind, with the arguments of the store function the
 * shell calls for it (coord_store.h), so the core reads like the journal. */
void hpt__j_sweep_add(coord_core_t *k, uint64_t id, const char *name, const char *path,
                      const char *text, int priority, double created, const char *fp,
                      const char *owner, const char *dataset)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_SWEEP_ADD);
    if (j) {
        j->sweep = id;
        j->name = hpt__astr(k, name);
        j->path = hpt__astr(k, path);
        j->text = hpt__astr(k, text);
        j->priority = priority;
        j->ts = created;
        j->fingerprint = hpt__astr(k, fp);
        j->owner = owner && owner[0] ? hpt__astr(k, owner) : NULL;
        j->dataset = hpt__astr(k, dataset);
    }
}

void hpt__j_sweep_delete(coord_core_t *k, uint64_t id)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_SWEEP_DELETE);
    if (j)
        j->sweep = id;
}

void hpt__j_sweep_state(coord_core_t *k, uint64_t id, const char *state, double ts,
                        const char *error)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_SWEEP_STATE);
    if (j) {
        j->sweep = id;
        j->state = state;   // static names
        j->ts = ts;
        j->error = hpt__astr(k, error);
    }
}

void hpt__j_sweep_refit(coord_core_t *k, uint64_t id, uint64_t best, double score, double acc)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_SWEEP_REFIT);
    if (j) {
        j->sweep = id;
        j->trial = best;
        j->score = score;
        j->accuracy = acc;
    }
}

void hpt__j_sweep_summary(coord_core_t *k, uint64_t id, const coord_jsum_t *sum)
{
    coord_jsum_t *c = arena_alloc(&k->out, sizeof *c);
    coord_jrec_t *j = c ? hpt__journal(k, COORD_J_SWEEP_SUMMARY) : NULL;
    if (j) {
        *c = *sum;
        c->best_values = hpt__astr(k, sum->best_values);
        c->race_verdict = sum->race_verdict ? hpt__astr(k, sum->race_verdict) : NULL;
        j->sweep = id;
        j->sum = c;
    }
}

void hpt__j_trial_add(coord_core_t *k, uint64_t sweep, uint64_t trial, const char *params,
                      long obs_before)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TRIAL_ADD);
    if (j) {
        j->sweep = sweep;
        j->trial = trial;
        j->text = hpt__astr(k, params);
        j->obs = obs_before;
    }
}

void hpt__j_trial_done(coord_core_t *k, uint64_t sweep, uint64_t trial, const char *state,
                       double mean, double std, const char *error, long obs_seq)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TRIAL_DONE);
    if (j) {
        j->sweep = sweep;
        j->trial = trial;
        j->state = state;
        j->mean = mean;
        j->std = std;
        j->error = hpt__astr(k, error);
        j->obs = obs_seq;
    }
}

void hpt__j_task_add(coord_core_t *k, uint64_t task, uint64_t sweep, uint64_t trial, int fold,
                     int repeat, int seed_rep, bool refit)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TASK_ADD);
    if (j) {
        j->task = task;
        j->sweep = sweep;
        j->trial = trial;
        j->fold = fold;
        j->repeat = repeat;
        j->seed_rep = seed_rep;
        j->refit = refit;
    }
}

void hpt__j_task_lease(coord_core_t *k, uint64_t task, uint32_t attempt, const char *worker,
                       double ts)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TASK_LEASE);
    if (j) {
        j->task = task;
        j->attempt = attempt;
        j->worker = hpt__astr(k, worker);
        j->ts = ts;
    }
}

void hpt__j_attempt_end(coord_core_t *k, uint64_t task, uint32_t attempt, const char *outcome,
                        const char *error, double ts)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_ATTEMPT_END);
    if (j) {
        j->task = task;
        j->attempt = attempt;
        j->state = outcome;
        j->error = hpt__astr(k, error);
        j->ts = ts;
    }
}

void hpt__j_task_result(coord_core_t *k, uint64_t task, uint32_t attempt,
                        const coord_result_t *r, double ts)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TASK_RESULT);
    if (j) {
        j->task = task;
        j->attempt = attempt;
        j->r = *r;
        j->ts = ts;
    }
}

void hpt__j_task_state(coord_core_t *k, uint64_t task, const char *state, const char *error)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_TASK_STATE);
    if (j) {
        j->task = task;
        j->state = state;
        j->error = hpt__astr(k, error);
    }
}

void hpt__j_worker_seen(coord_core_t *k, const coord_worker_t *w, double ts, const char *state)
{
    coord_jrec_t *j = hpt__journal(k, COORD_J_WORKER_SEEN);
    if (j) {
        const char *id = w->id, *name = w->name, *host = w->host, *version = w->version;
        int slots = w->slots;
        char hex[65];
        hpt_sha256_hex(w->secret_hash, hex);
        j->secret = hpt__astr(k, hex);
        j->key = hpt__astr(k, w->key);
        j->worker = hpt__astr(k, id);
        j->name = hpt__astr(k, name);
        j->host = hpt__astr(k, host);
        j->slots = slots;
        j->version = hpt__astr(k, version);
        j->ts = ts;
        j->state = state;
    }
}
