/*
 * coord_clients.c: requests from hptune clients (submit, status, workers,
 * results, cancel, subscribe) and the event stream.
 *
 * Every log line the coordinator writes also becomes an Event: it enters a
 * ring of the last cfg.event_ring events (for late subscribers), goes into
 * the journal (info and above) and to each follower whose level and sweep
 * filter match.  A follower must renew (send any message) within
 * sub_timeout_ms or it is dropped; a follower whose peer has gone is
 * dropped on the first failed send (ROUTER_MANDATORY says EHOSTUNREACH).
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>   // malloc_trim
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include <zmq.h>

#include "coord_aggregate.h"
#include "coord_check.h"
#include "curve.h"
#include "dataset.h"
#include "log.h"

/* coord_log_allowed kinds of this file (other files use 0..4, 10..12 and 30..). */
enum { LOG_REPLY_FAILED = 20, LOG_QUOTA = 21, LOG_CANCEL = 22 };

static void reply_failed(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id, int body_case,
                         int rc, size_t bytes);
static size_t page_bytes(void);

/* Send a reply; a reply that cannot be sent (too big for the message cap,
 * a pipe at its high-water mark, anything but a peer that has gone) is
 * answered with an ErrorReply saying why, so the client exits with the
 * reason instead of waiting out its timeout.  Returns coord_send's result
 * for env. */
static int reply(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id, hpt_env_t *env)
{
    env->req_id = req_id;
    int rc = coord_send(c, peer, env);
    if (rc == 0 || rc == -EHOSTUNREACH || env->body_case == HPT__ENVELOPE__BODY_ERROR)
        return rc;
    reply_failed(c, peer, req_id, (int)env->body_case, rc, hpt__envelope__get_packed_size(env));
    return rc;
}

/* A reply of kind body_case and `bytes` bytes could not be sent (rc): log
 * it (rate-limited) and answer with an ErrorReply saying why. */
static void reply_failed(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id, int body_case,
                         int rc, size_t bytes)
{
    char msg[256];
    const char *body = hpt_proto_body_name(body_case);
    if (rc == -EMSGSIZE)
        snprintf(msg, sizeof msg, "the coordinator cannot send its %s: %zu bytes exceed the "
                 "%d-byte message cap", body, bytes, HPT_PROTO_MAX_MSG);
    else
        snprintf(msg, sizeof msg, "the coordinator cannot send its %s: %s", body,
                 hpt_strerror(rc));
    /* A client that stops reading would otherwise log a line per request. */
    char id[80];
    if (coord_log_allowed(c, peer, LOG_REPLY_FAILED, 5))
        hpt_log(HPT_LOG_WARN, "clients", "reply not sent", "peer=%s body=%s error=\"%s\"",
                hpt_peer_id_str(peer, id, sizeof id), body, hpt_strerror(rc));
    coord_send_error(c, peer, req_id, 1, msg);
}

static void reply_error(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id, int code,
                        const char *msg)
{
    Hpt__ErrorReply e = HPT__ERROR_REPLY__INIT;
    e.code = code;
    e.message = (char *)msg;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_ERROR;
    env.error = &e;
    reply(c, peer, req_id, &env);
}

// --- retention --------------------------------------------------------------------

typedef struct retain_ent {
    double finished;
    uint64_t id;
    coord_sweep_t *s;
} retain_ent_t;

static int by_finish(const void *a, const void *b)
{
    const retain_ent_t *x = a, *y = b;
    if (x->finished != y->finished)
        return x->finished < y->finished ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void rcache_drop(coord_t *c, coord_sweep_t *s);

void coord_retain(coord_t *c)
{
    double now_unix = coord_unix();
    const coord_cfg_t *cfg = &c->cfg;
    if (cfg->keep_sweeps > 0 || cfg->keep_sweeps_s > 0) {
        size_t n = 0;
        for (const coord_sweep_t *s = c->core.sweeps; s; s = s->next)
            n += s->state >= SWEEP_DONE;
        retain_ent_t *v = n ? malloc(n * sizeof *v) : NULL;
        double *fin = n ? malloc(n * sizeof *fin) : NULL;
        if (n && (!v || !fin))
            n = 0;   // out of memory: try again next run
        size_t i = 0;
        for (coord_sweep_t *s = c->core.sweeps; s && i < n; s = s->next)
            if (s->state >= SWEEP_DONE)
                v[i++] = (retain_ent_t){.finished = s->finished, .id = s->id, .s = s};
        if (n > 1)
            qsort(v, n, sizeof *v, by_finish);
        for (i = 0; i < n; i++)
            fin[i] = v[i].finished;
        size_t over = cfg->keep_sweeps > 0 && n > (size_t)cfg->keep_sweeps
                          ? n - (size_t)cfg->keep_sweeps : 0;
        size_t drop = coord_retain_count(fin, n, cfg->keep_sweeps > 0 ? cfg->keep_sweeps : -1,
                                         cfg->keep_sweeps_s, now_unix);
        for (i = 0; i < drop && i < COORD_RETAIN_SWEEPS; i++) {
            coord_sweep_t *s = v[i].s;
            // The shell's references first: the core frees s.
            rcache_drop(c, s);
            for (int k = 0; k < COORD_LOADED_LRU; k++)
                if (c->lru_sweep[k] == s->id)
                    c->lru_sweep[k] = 0;
            const char *why = i < over ? "more finished sweeps than keep_sweeps"
                                       : "older than keep_sweeps_s";
            if (coord_core_forget(&c->core, coord_now(), s, why) == 0)
                c->sweeps_deleted++;
            coord_apply(c);
        }
        free(v);
        free(fin);
    }
    /* The rows of deleted sweeps, a bounded number a run (coord_store_gc). */
    int64_t gone = 0;
    int pending = 0;
    if (coord_store_gc(c->store, COORD_RETAIN_ROWS, &gone, &pending) < 0) {
        c->journal_errors++;
        hpt_log(HPT_LOG_ERROR, "store", "cannot delete the rows of deleted sweeps", "%s", "");
    } else if (gone > 0)
        hpt_log(HPT_LOG_DEBUG, "store", "rows of deleted sweeps removed",
                "rows=%lld sweeps_pending=%d", (long long)gone, pending);
    /* Records of workers gone: beyond keep_workers, or older than the
     * events that could still name them (keep_events_s). */
    if (cfg->keep_workers > 0 || cfg->keep_events_s > 0) {
        int64_t deleted = 0;
        double before = cfg->keep_events_s > 0 ? now_unix - cfg->keep_events_s : 0;
        if (coord_store_workers_prune(c->store, cfg->keep_workers, before, COORD_RETAIN_EVENTS,
                                      &deleted) < 0)
            hpt_log(HPT_LOG_ERROR, "store", "cannot prune the journal's workers", "%s", "");
        else if (deleted > 0) {
            c->workers_deleted += (uint64_t)deleted;
            hpt_log(HPT_LOG_DEBUG, "store", "records of workers gone deleted from the journal",
                    "deleted=%lld total=%llu keep_workers=%d keep_events_s=%d",
                    (long long)deleted, (unsigned long long)c->workers_deleted,
                    cfg->keep_workers, cfg->keep_events_s);
        }
    }
    if (cfg->keep_events > 0 || cfg->keep_events_s > 0) {
        int64_t deleted = 0;
        double before = cfg->keep_events_s > 0 ? now_unix - cfg->keep_events_s : 0;
        if (coord_store_events_prune(c->store, cfg->keep_events, before, COORD_RETAIN_EVENTS,
                                     &deleted) < 0) {
            c->journal_errors++;
            hpt_log(HPT_LOG_ERROR, "store", "cannot prune the journal's events", "%s", "");
        } else if (deleted > 0) {
            c->events_deleted += (uint64_t)deleted;
            hpt_log(HPT_LOG_INFO, "store", "old events deleted from the journal",
                    "deleted=%lld total=%llu keep_events=%d keep_events_s=%d", (long long)deleted,
                    (unsigned long long)c->events_deleted, cfg->keep_events, cfg->keep_events_s);
        }
    }
}

// --- building SweepInfo ---------------------------------------------------

/* Param entries for the values vals (spec->n_params of them): written into
 * ps (and pointers pp), with their text in txt (n x 64 bytes). */
static void fill_vals(const coord_sweep_t *s, const coord_pval_t *vals, Hpt__Param *ps,
                      Hpt__Param **pp, char (*txt)[64])
{
    for (int i = 0; i < s->spec->n_params; i++) {
        const coord_param_t *p = &s->spec->params[i];
        hpt__param__init(&ps[i]);
        ps[i].name = (char *)p->name;
        coord_pval_format(p, &vals[i], txt[i], 64);
        ps[i].text = txt[i];
        ps[i].numeric = !vals[i].absent && !coord_pval_is_null(&vals[i]) &&
                        (p->kind == COORD_PKIND_INT || p->kind == COORD_PKIND_FLOAT);
        ps[i].number = vals[i].absent ? NAN : vals[i].num;
        pp[i] = &ps[i];
    }
}

/* Param entries for trial tr, as fill_vals. */
static void fill_params(const coord_sweep_t *s, const coord_trial_t *tr, Hpt__Param *ps,
                        Hpt__Param **pp, char (*txt)[64])
{
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    coord_trial_values(tr, vals);
    fill_vals(s, vals, ps, pp, txt);
}

typedef coord_sweep_info_t sweep_info_buf_t;

// --- the results cache ------------------------------------------------------

/* What a results page needs over all of a sweep's trials, computed once per
 * change instead of once per request: the ranks (an O(n log n) sort), each
 * done trial's p-value against the best (an O(splits) t-test, kept while
 * the best stays the same, so a new result costs one more test) and the
 * winner-versus-rest summary.  The scheduler bumps s->results_gen when a
 * trial finishes; the key also holds the counters and the best, so a change
 * that does not go through trial_finish (a cancel) is caught too. */
struct coord_rcache {
    coord_sweep_t *sweep;             // borrowed
    bool built;
    uint64_t gen;                     // s->results_gen when built
    int trials_done, trials_failed;   // s's then
    coord_sweep_state_t state;        // s->state then (a cancel ends running trials)
    const coord_trial_t *best;        // s->best then
    size_t n;                         // trials ranked (s->n_trials then); later ones run
    size_t cap;                       // allocated entries of the arrays below
    int *rank;                        // (cap) rank_test_score by trial index, 0 = running
    double *means;                    // (cap) scratch: the scores ranked
    double *p;                        // (cap) p_vs_best of done trials where p_known
    unsigned char *p_known;           // (cap)
    const coord_trial_t *p_best;      // the best the p values were computed against
    uint64_t runner_up;               // SweepInfo's winner-versus-rest fields
    double p_runner_up;
    uint32_t indistinguishable;
    struct coord_rcache *next;        // coord_t.rcaches
};

static bool rcache_fresh(const struct coord_rcache *rc, const coord_sweep_t *s)
{
    return rc->built && rc->gen == s->results_gen && rc->trials_done == s->trials_done &&
           rc->trials_failed == s->trials_failed && rc->state == s->state &&
           rc->best == s->best;
}

static void rcache_free(struct coord_rcache *rc)
{
    free(rc->rank);
    free(rc->means);
    free(rc->p);
    free(rc->p_known);
    free(rc);
}

/* Make s's results cache current (a no-op when nothing changed).  Returns
 * it, or NULL when out of memory. */
static struct coord_rcache *rcache_get(coord_t *c, coord_sweep_t *s)
{
    struct coord_rcache *rc = s->rcache;
    if (!rc) {
        rc = calloc(1, sizeof *rc);
        if (!rc)
            return NULL;
        rc->sweep = s;
        rc->next = c->rcaches;
        c->rcaches = rc;
        s->rcache = rc;
    }
    if (rcache_fresh(rc, s))
        return rc;
    size_t n = s->n_trials;
    if (n > rc->cap) {
        size_t cap = n + n / 2 + 16;
        int *rank = realloc(rc->rank, cap * sizeof *rank);
        if (rank)
            rc->rank = rank;
        double *means = realloc(rc->means, cap * sizeof *means);
        if (means)
            rc->means = means;
        double *p = realloc(rc->p, cap * sizeof *p);
        if (p)
            rc->p = p;
        unsigned char *known = realloc(rc->p_known, cap);
        if (known)
            rc->p_known = known;
        if (!rank || !means || !p || !known) {
            rc->built = false;
            return NULL;
        }
        memset(rc->p_known + rc->cap, 0, cap - rc->cap);
        rc->cap = cap;
    }
    /* Ranks over finished trials (failed ones rank last, as scikit-learn);
     * trials still running get rank 0. */
    for (size_t i = 0; i < n; i++)
        rc->means[i] = s->trials[i]->state == TRIAL_DONE ? s->trials[i]->mean : NAN;
    if (n > (size_t)INT32_MAX || coord_agg_rank(rc->means, (int)n, s->spec->maximize,
                                                rc->rank) < 0) {
        rc->built = false;
        return NULL;
    }
    if (rc->p_best != s->best) {   // a new best: every p-value is against it
        memset(rc->p_known, 0, rc->cap);
        rc->p_best = s->best;
    }
    double alpha = coord_sweep_alpha(s);
    const coord_trial_t *ru = NULL;
    size_t ru_i = 0;
    uint32_t indist = 0;
    for (size_t i = 0; i < n; i++) {
        const coord_trial_t *t = s->trials[i];
        if (t->state == TRIAL_RUNNING)
            rc->rank[i] = 0;
        if (t->state != TRIAL_DONE) {
            rc->p_known[i] = 0;
            continue;
        }
        if (!rc->p_known[i]) {
            rc->p[i] = coord_trial_p_vs_best(s, t);
            rc->p_known[i] = 1;
        }
        if (t == s->best)
            continue;
        /* The runner-up: the first best mean in trial order, as before. */
        if (!ru || (s->spec->maximize ? t->mean > ru->mean : t->mean < ru->mean)) {
            ru = t;
            ru_i = i;
        }
        if (!isnan(rc->p[i]) && rc->p[i] >= alpha)
            indist++;
    }
    rc->runner_up = ru ? ru->number : 0;
    rc->p_runner_up = ru ? rc->p[ru_i] : NAN;
    rc->indistinguishable = indist;
    rc->n = n;
    rc->gen = s->results_gen;
    rc->trials_done = s->trials_done;
    rc->trials_failed = s->trials_failed;
    rc->state = s->state;
    rc->best = s->best;
    rc->built = true;
    c->results_rank_builds++;
    return rc;
}

/* Free s's results cache (its ranks are by trial index, its best a trial
 * pointer: stale once s is unloaded). */
static void rcache_drop(coord_t *c, coord_sweep_t *s)
{
    struct coord_rcache *rc = s->rcache;
    if (!rc)
        return;
    for (struct coord_rcache **pp = &c->rcaches; *pp; pp = &(*pp)->next)
        if (*pp == rc) {
            *pp = rc->next;
            break;
        }
    rcache_free(rc);
    s->rcache = NULL;
}

// --- finished sweeps in memory ------------------------------------------------

static bool lru_has(const coord_t *c, uint64_t id)
{
    for (int i = 0; i < COORD_LOADED_LRU; i++)
        if (c->lru_sweep[i] == id)
            return true;
    return false;
}

/* Mark sweep id read now; the least recently read one leaves the set when
 * it is full, to be unloaded after the next commit. */
static void lru_touch(coord_t *c, uint64_t id)
{
    int slot = 0;
    for (int i = 0; i < COORD_LOADED_LRU; i++) {
        if (c->lru_sweep[i] == id) {
            slot = i;
            break;
        }
        if (c->lru_used[i] < c->lru_used[slot])
            slot = i;
    }
    if (c->lru_sweep[slot] != id && c->lru_sweep[slot] != 0)
        c->unload_pending = true;
    c->lru_sweep[slot] = id;
    c->lru_used[slot] = ++c->lru_clock;
}

void coord_sweep_just_finished(coord_t *c, uint64_t id)
{
    /* Its results are what a user reads next: it joins the set of finished
     * sweeps kept in memory as the most recent, instead of leaving memory
     * and being read back from the journal a moment later. */
    lru_touch(c, id);
    c->unload_pending = true;
}

int coord_sweep_need(coord_t *c, coord_sweep_t *s, hpt_err *err)
{
    if (s->state < SWEEP_DONE)
        return 0;   // a sweep is only unloaded once it has ended
    lru_touch(c, s->id);
    if (coord_sweep_loaded(s))
        return 0;
    double t0 = coord_now();
    coord_journal_reader_t rd = coord_store_reader(c->store);
    hpt_err lerr = {0};
    int rc = coord_core_load(&c->core, t0, &rd, s, &lerr);
    coord_apply(c);
    if (rc < 0) {
        char q[300];
        c->journal_errors++;
        hpt_log(HPT_LOG_ERROR, "store", "cannot read a finished sweep back from the journal",
                "sweep=%llu error=%s", (unsigned long long)s->id,
                hpt_log_quote(lerr.msg, q, sizeof q));
        if (err)
            *err = lerr;
        return rc;
    }
    c->sweeps_reloaded++;
    hpt_log(HPT_LOG_DEBUG, "store", "finished sweep read back from the journal",
            "sweep=%llu trials=%zu ms=%.1f", (unsigned long long)s->id, s->n_trials,
            (coord_now() - t0) * 1e3);
    return 0;
}

void coord_sweeps_unload(coord_t *c)
{
    c->unload_pending = false;
    /* The set is bounded by tasks too: from the most recently read on, the
     * sweeps past COORD_LOADED_MAX_TASKS leave it (the most recent stays,
     * whatever its size). */
    int64_t kept = 0;
    uint64_t mark = 0;   // lru_used of the previous pick: walk from the most recent down
    for (int n = 0; n < COORD_LOADED_LRU; n++) {
        int best = -1;
        for (int i = 0; i < COORD_LOADED_LRU; i++)
            if (c->lru_sweep[i] && c->lru_used[i] > 0 &&
                (best < 0 || c->lru_used[i] > c->lru_used[best]) &&
                (n == 0 || c->lru_used[i] < mark))
                best = i;
        if (best < 0)
            break;
        mark = c->lru_used[best];
        const coord_sweep_t *s = coord_sweep_find(&c->core, c->lru_sweep[best]);
        kept += s ? s->tasks_total : 0;
        if (n > 0 && kept > COORD_LOADED_MAX_TASKS)
            c->lru_sweep[best] = 0;
    }
    size_t freed = 0;
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        if (s->state < SWEEP_DONE || !coord_sweep_loaded(s) || lru_has(c, s->id))
            continue;
        size_t trials = s->n_trials;
        rcache_drop(c, s);
        int rc = coord_core_unload(&c->core, s);
        if (rc < 0) {   // -ENOMEM for its summary: it stays loaded, tried again later
            hpt_log(HPT_LOG_WARN, "sched", "cannot unload a finished sweep",
                    "sweep=%llu error=\"%s\"", (unsigned long long)s->id, hpt_strerror(rc));
            continue;
        }
        c->sweeps_unloaded++;
        freed += trials;
        hpt_log(HPT_LOG_DEBUG, "sched", "finished sweep unloaded (its journal is committed)",
                "sweep=%llu trials=%zu", (unsigned long long)s->id, trials);
    }
#ifdef __GLIBC__
    /* A sweep's trials are many small blocks: glibc keeps freed ones in its
     * heap, so without a trim the coordinator's RSS would stay at its peak
     * after the sweep left memory. */
    if (freed > 0)
        malloc_trim(0);
#endif
}

/* The race's fields of b (select: race): its line, outcome, and with
 * leaders (results only) each leader's means and widths per look, which
 * borrow the race's arrays. */
static void race_fill(const coord_sweep_t *s, coord_sweep_info_t *b, bool leaders)
{
    Hpt__SweepInfo *i = &b->info;
    i->race = (char *)coord_race_describe(s, b->race, sizeof b->race);
    const coord_race_t *rc = s->race;
    i->race_outcome = (char *)(!rc                                       ? ""
                               : rc->outcome == COORD_RACE_CERTIFIED ? "certified"
                               : rc->outcome == COORD_RACE_TIE       ? "tie"
                                                                     : "running");
    if (!rc)
        return;
    i->race_repeats = (uint32_t)rc->rounds;
    i->race_winner = rc->winner ? rc->winner->number : 0;
    i->race_tasks = (uint32_t)rc->tasks_created;
    if (!leaders)
        return;
    int n = rc->n < COORD_RACE_MAX_TOP ? rc->n : COORD_RACE_MAX_TOP;
    for (int k = 0; k < n; k++) {
        const coord_race_leader_t *l = &rc->v[k];
        Hpt__RaceLeader *x = &b->rl[k];
        hpt__race_leader__init(x);
        x->trial = l->trial->number;
        x->dropped_at = (uint32_t)l->dropped_at;
        x->p_drop = l->p_drop;
        x->cost = l->cost;
        /* The looks it took part in: up to the one that dropped it. */
        size_t looks = (size_t)(l->dropped_at ? l->dropped_at : rc->looks);
        x->n_mean = x->n_half_width = looks;
        x->mean = l->mean;
        x->half_width = l->half;
        b->rlp[k] = x;
    }
    i->n_race_leaders = (size_t)n;
    i->race_leaders = b->rlp;
}

/* compare: also the winner-versus-rest statistics, O(trials) t-tests, which
 * only results requests pay for (status must stay cheap under load). */
void coord_sweep_info_fill(const coord_sweep_t *s, coord_sweep_info_t *b, bool compare)
{
    Hpt__SweepInfo *i = &b->info;
    hpt__sweep_info__init(i);
    i->id = s->id;
    i->name = (char *)s->spec->name;
    i->state = (char *)coord_sweep_state_name(s->state);
    i->method = (char *)coord_method_name(s->spec->method);
    i->dataset = (char *)s->spec->dataset;
    i->metric = (char *)hpt_metric_name(s->spec->metric);
    i->maximize = s->spec->maximize;
    i->priority = s->spec->priority;
    /* An unloaded sweep (coord_core_unload) answers from its summary,
     * which holds exactly what is read here of its search and trials. */
    const coord_sweep_sum_t *sum = s->sum;
    long total = sum ? sum->trials_total : coord_search_total(s->search);
    size_t n_trials = sum ? sum->n_trials : s->n_trials;
    i->trials_total = (uint32_t)(total > 0 ? total : (long)n_trials);
    i->trials_done = (uint32_t)s->trials_done;
    i->trials_failed = (uint32_t)s->trials_failed;
    i->tasks_total = (uint32_t)s->tasks_total + (s->refit_task || s->spec->refit ? 1 : 0);
    i->tasks_done = (uint32_t)s->tasks_done;
    i->tasks_running = (uint32_t)s->tasks_running;
    i->tasks_failed = (uint32_t)s->tasks_failed;
    i->folds = (uint32_t)s->spec->cv.folds;
    i->repeats = (uint32_t)s->spec->cv.repeats;
    i->best_mean = i->best_std = NAN;
    if (s->best) {
        i->best_trial = s->best->number;
        i->best_mean = s->best->mean;
        i->best_std = s->best->std;
        fill_params(s, s->best, b->params, b->pp, b->txt);
        i->n_best_params = (size_t)s->spec->n_params;
        i->best_params = b->pp;
    } else if (sum && sum->best) {
        i->best_trial = sum->best;
        i->best_mean = sum->best_mean;
        i->best_std = sum->best_std;
        fill_vals(s, sum->best_vals, b->params, b->pp, b->txt);
        i->n_best_params = (size_t)s->spec->n_params;
        i->best_params = b->pp;
    }
    i->has_refit = s->has_refit;
    i->refit_score = s->has_refit ? s->refit_score : NAN;
    i->refit_accuracy = s->has_refit ? s->refit_accuracy : NAN;
    i->refit_ci_low = i->refit_ci_high = NAN;
    if (s->has_refit && s->refit_n_test > 0 && !isnan(s->refit_accuracy)) {
        long n = (long)s->refit_n_test, k = lround(s->refit_accuracy * (double)n);
        coord_agg_wilson(k, n, COORD_AGG_Z95, &i->refit_ci_low, &i->refit_ci_high);
        i->refit_n_test = s->refit_n_test;
    }
    /* How the winner compares with the rest. */
    i->alpha = coord_sweep_alpha(s);
    i->p_runner_up = NAN;
    const struct coord_rcache *rc = s->rcache;
    if (s->best && compare && rc && rcache_fresh(rc, s)) {
        i->runner_up = rc->runner_up;
        i->p_runner_up = rc->p_runner_up;
        i->indistinguishable = rc->indistinguishable;
    } else if (s->best && compare) {   // no fresh cache: the same statistics, O(trials)
        const coord_trial_t *ru = NULL;
        for (size_t k = 0; k < s->n_trials; k++) {
            const coord_trial_t *t = s->trials[k];
            if (t == s->best || t->state != TRIAL_DONE)
                continue;
            if (!ru || (s->spec->maximize ? t->mean > ru->mean : t->mean < ru->mean))
                ru = t;
            double p = coord_trial_p_vs_best(s, t);
            if (!isnan(p) && p >= i->alpha)
                i->indistinguishable++;
        }
        if (ru) {
            i->runner_up = ru->number;
            i->p_runner_up = coord_trial_p_vs_best(s, ru);
        }
    }
    i->epochs_trained = s->epochs_trained;
    i->epochs_from_scratch = s->epochs_scratch;
    i->created_unix = s->created;
    i->started_unix = s->started;
    i->finished_unix = s->finished;
    i->eta_seconds = coord_sweep_eta(s, coord_now());
    i->error = (char *)s->error;
    race_fill(s, b, compare);
}

// --- requests -------------------------------------------------------------

/* A submission waiting for its dataset's fingerprint, which a thread-pool
 * job computes from the coordinator's own copy (coord_datasets.c; reading
 * and hashing ~55 MB for MNIST would stall the loop for a second). */
typedef struct submit_job {
    coord_t *c;
    hpt_peer_id_t peer;
    coord_who_t who;              // the submitter: the sweep's owner and its quota
    uint64_t req_id;
    char *text, *path;
    char *warnings;               // the spec's warnings (coord_check_spec), "" = none; owned
    char dataset[1024];           // canonical (coord_datasets_resolve)
    char typed[1024];             // as the spec says, for messages
    int line, col;                // of the spec's dataset value
    struct submit_job *next;      // coord_t.submit_jobs while waiting
} submit_job_t;

static void submit_job_free(submit_job_t *j)
{
    free(j->text);
    free(j->path);
    free(j->warnings);
    free(j);
}

/* A commit an acknowledgement waited for failed: the core's memory now holds
 * what the journal does not, so stop, as a failed group commit does
 * (main.c's on_flush); a restart resumes from what was committed. */
static void journal_stop(coord_t *c)
{
    c->journal_failed = true;
    uv_stop(c->loop);
}

// --- quotas -----------------------------------------------------------------------

/* Whether one more sweep of spec_bytes from `who` fits the quotas
 * (coord_policy.h): 0, or -EDQUOT with the ErrorReply sent, counted and
 * logged (at most five lines a minute per connection).  Active sweeps are
 * counted in the core, where a submission lands; in_flight_too adds the
 * submissions still waiting for their dataset's fingerprint (on_submit's
 * early check; the final one, in submit_fp_done, counts what has landed). */
static int quota_check(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id,
                       const coord_who_t *who, size_t spec_bytes, bool in_flight_too)
{
    int extra = 0;
    if (in_flight_too)
        for (const submit_job_t *p = c->submit_jobs; p; p = p->next)
            extra += strcmp(p->who.principal, who->principal) == 0;
    coord_quota_cfg_t q = {.spec_bytes = c->cfg.max_spec_bytes,
                           .active_per_key = c->cfg.max_active_sweeps_per_key,
                           .active_total = c->cfg.max_active_sweeps};
    coord_quota_use_t u = {.spec_bytes = spec_bytes, .active_key = extra,
                           .active_total = in_flight_too ? c->submits_pending : 0};
    for (const coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        if (s->state >= SWEEP_DONE)
            continue;
        u.active_total++;
        u.active_key += strcmp(s->owner, who->principal) == 0;
    }
    hpt_err err = {0};
    int rc = coord_quota_check(&q, &u, who->label, &err);
    if (rc == 0)
        return 0;
    c->refused_quota++;
    if (coord_log_allowed(c, peer, LOG_QUOTA, 5)) {
        char id[80], q1[300], q2[120];
        hpt_log(HPT_LOG_WARN, "clients", "submission refused by a quota",
                "peer=%s from=%s error=%s refused=%llu", hpt_peer_id_str(peer, id, sizeof id),
                hpt_log_quote(who->label, q2, sizeof q2), hpt_log_quote(err.msg, q1, sizeof q1),
                (unsigned long long)c->refused_quota);
    }
    reply_error(c, peer, req_id, COORD_ERR_LIMIT, err.msg);
    return rc;
}

/* The fingerprint is known (or known to be missing): queue the sweep in the
 * core and acknowledge it with its id.  Called once per submission, from
 * coord_datasets_fingerprint (at once, or when its job ends).  Frees j. */
static void submit_fp_done(coord_t *c, const coord_ds_result_t *res, void *ud)
{
    submit_job_t *j = ud;
    hpt_err err = {0};
    coord_sweep_t *s = NULL;
    c->submits_pending--;
    for (submit_job_t **pp = &c->submit_jobs; *pp; pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    if (c->stopping) {
        reply_error(c, &j->peer, j->req_id, 1, "the coordinator is stopping");
        goto out;
    }
    if (!res->fp[0]) {
        /* No fingerprint but the coordinator's own: a dataset it cannot
         * read and validate is refused here, not left for a worker to
         * define. */
        char msg[2048];
        snprintf(msg, sizeof msg, "%s:%d:%d: dataset: %s: the coordinator cannot use it: %s",
                 j->path, j->line, j->col, j->typed, res->error ? res->error : "unknown error");
        char q[2100], qp[300];
        hpt_log(HPT_LOG_INFO, "clients", "spec rejected", "path=%s error=%s",
                hpt_log_quote(j->path, qp, sizeof qp), hpt_log_quote(msg, q, sizeof q));
        reply_error(c, &j->peer, j->req_id, 2, msg);
        goto out;
    }
    /* Again, now that the submissions that were in flight with this one
     * have landed (each in turn, on this thread): this check is exact. */
    if (quota_check(c, &j->peer, j->req_id, &j->who, strlen(j->text), false) < 0)
        goto out;
    int rc = coord_core_submit_ds(&c->core, coord_now(), j->text, j->path, j->dataset, res->fp,
                                  j->who.principal, &s, &err);
    if (rc < 0) {
        char q[300], qp[300];
        hpt_log(HPT_LOG_INFO, "clients", "spec rejected", "path=%s error=%s",
                hpt_log_quote(j->path, qp, sizeof qp), hpt_log_quote(err.msg, q, sizeof q));
        reply_error(c, &j->peer, j->req_id, 2, err.msg);
        goto out;
    }
    uint64_t id = s->id;
    coord_apply(c);
    /* The id is an acknowledgement: make the sweep durable (committed and
     * synced) before sending it. */
    hpt_err ferr = {0};
    if (coord_store_sync(c->store, &ferr) < 0) {
        hpt_log(HPT_LOG_ERROR, "store", "cannot journal a new sweep", "error=\"%s\"", ferr.msg);
        reply_error(c, &j->peer, j->req_id, 1, "the coordinator cannot write its journal");
        journal_stop(c);
        goto out;
    }
    s = coord_sweep_find(&c->core, id);
    if (!s) {
        reply_error(c, &j->peer, j->req_id, 1, "the sweep vanished before its acknowledgement");
        goto out;
    }
    Hpt__SubmitReply r = HPT__SUBMIT_REPLY__INIT;
    r.sweep = s->id;
    r.name = s->spec->name;
    long total = coord_search_total(s->search);
    r.trials = (uint32_t)(total > 0 ? total : 0);
    r.tasks = (uint32_t)s->tasks_total + (s->spec->refit ? 1 : 0);   // as SweepInfo counts
    r.method = (char *)coord_method_name(s->spec->method);
    r.max_trials = (uint32_t)(s->spec->max_trials > 0 ? s->spec->max_trials : 0);
    r.warnings = j->warnings ? j->warnings : (char *)"";
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_SUBMIT_REPLY;
    out.submit_reply = &r;
    reply(c, &j->peer, j->req_id, &out);
out:
    submit_job_free(j);
}

static void on_submit(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                      hpt_env_t *env)
{
    const char *path = env->submit->path[0] ? env->submit->path : "spec";
    /* Quotas before the spec is parsed: a refused submission costs a count
     * of the sweeps, not a parse. */
    if (quota_check(c, peer, env->req_id, who, strlen(env->submit->spec), true) < 0)
        return;
    /* Check first, as `hptune check` does (the same function), so a bad spec
     * is answered at once with every problem; the core parses the same text
     * again when the fingerprint is known. */
    coord_check_t chk;
    int crc = coord_check_spec(env->submit->spec, strlen(env->submit->spec), path, &chk);
    if (crc < 0) {
        char *msg = crc == -ENOMEM ? NULL : coord_diags_text(&chk.diags, COORD_DIAG_ERROR);
        char q[300], qp[300];
        const char *first = chk.diags.n > 0 ? chk.diags.v[0].text : "out of memory";
        for (int i = 0; i < chk.diags.n; i++)
            if (chk.diags.v[i].level == COORD_DIAG_ERROR) {
                first = chk.diags.v[i].text;
                break;
            }
        hpt_log(HPT_LOG_INFO, "clients", "spec rejected", "path=%s errors=%d error=%s",
                hpt_log_quote(path, qp, sizeof qp), chk.diags.n_errors,
                hpt_log_quote(first, q, sizeof q));
        reply_error(c, peer, env->req_id, msg ? 2 : 1, msg ? msg : "out of memory");
        free(msg);
        coord_check_free(&chk);
        return;
    }
    /* idx:DIR is canonicalised and confined to the data roots before
     * anything reads it. */
    char canon[1024], msg[2048];
    if (coord_datasets_resolve(c, chk.spec, canon, sizeof canon, msg, sizeof msg) < 0) {
        char q[2100], qp[300];
        hpt_log(HPT_LOG_INFO, "clients", "spec rejected", "path=%s error=%s",
                hpt_log_quote(path, qp, sizeof qp), hpt_log_quote(msg, q, sizeof q));
        reply_error(c, peer, env->req_id, 2, msg);
        coord_check_free(&chk);
        return;
    }
    submit_job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->c = c;
        j->peer = *peer;
        j->who = *who;
        j->req_id = env->req_id;
        j->text = strdup(env->submit->spec);
        j->path = strdup(path);
        j->warnings = coord_diags_text(&chk.diags, COORD_DIAG_WARNING);
        snprintf(j->dataset, sizeof j->dataset, "%s", canon);
        snprintf(j->typed, sizeof j->typed, "%s", chk.spec->dataset);
        j->line = chk.spec->dataset_line;
        j->col = chk.spec->dataset_col;
    }
    coord_check_free(&chk);
    if (!j || !j->text || !j->path || !j->warnings) {
        if (j)
            submit_job_free(j);
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    /* In flight (for the quotas) until submit_fp_done, which may run before
     * coord_datasets_fingerprint returns. */
    c->submits_pending++;
    j->next = c->submit_jobs;
    c->submit_jobs = j;
    if (coord_datasets_fingerprint(c, j->dataset, submit_fp_done, j) < 0) {
        c->submits_pending--;
        c->submit_jobs = j->next;
        submit_job_free(j);
        reply_error(c, peer, env->req_id, 1, "out of memory");
    }
}

/* Bytes a length-delimited field of `len` bytes takes in its message: a
 * one-byte tag, the length's varint, the bytes. */
static size_t field_bytes(size_t len)
{
    size_t v = 1;
    for (uint64_t x = len; x >= 0x80; x >>= 7)
        v++;
    return 1 + v + len;
}

/* Status of one sweep, or a page of all of them in id order (sweeps are
 * listed in the order they were submitted, which is id order): those above
 * `after`, at most `limit`, as many as fit in a page's bytes. */
static void on_status(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    uint64_t want = env->status->sweep, after = want ? 0 : env->status->after;
    size_t limit = want ? 1 : env->status->limit ? env->status->limit : SIZE_MAX;
    size_t n = 0, total = 0;
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        total++;
        n += want ? s->id == want : s->id > after;
    }
    if (want && n == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)want);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    if (n > limit)
        n = limit;
    sweep_info_buf_t *bufs = calloc(n ? n : 1, sizeof *bufs);
    Hpt__SweepInfo **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!bufs || !ptrs) {
        free(bufs);
        free(ptrs);
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    Hpt__StatusReply r = HPT__STATUS_REPLY__INIT;
    size_t k = 0, budget = page_bytes(), used = 64;   // 64: the reply's other fields
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        if (want ? s->id != want : s->id <= after)
            continue;
        if (k == n) {
            r.more = true;
            break;
        }
        coord_sweep_info_fill(s, &bufs[k], false);
        coord_datasets_waiting(c, s, bufs[k].waiting, sizeof bufs[k].waiting);
        if (bufs[k].waiting[0])
            bufs[k].info.waiting = bufs[k].waiting;
        size_t b = field_bytes(hpt__sweep_info__get_packed_size(&bufs[k].info));
        if (k > 0 && used + b > budget) {   // the first always goes: the page makes progress
            r.more = true;
            break;
        }
        used += b;
        ptrs[k] = &bufs[k].info;
        k++;
    }
    r.n_sweeps = k;
    r.sweeps = ptrs;
    r.total = total;
    r.workers = (uint32_t)c->core.n_workers;
    for (coord_worker_t *w = c->core.workers; w; w = w->next) {
        r.slots += (uint32_t)w->slots;
        r.slots_busy += (uint32_t)w->units;   // a bundle's tasks fill one slot
    }
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_STATUS_REPLY;
    out.status_reply = &r;
    reply(c, peer, env->req_id, &out);
    free(ptrs);
    free(bufs);
}

/* The WorkersReply and the arrays it points into (all owned). */
struct coord_workers_info {
    Hpt__WorkersReply reply;
    Hpt__WorkerInfo *wi, **wp;
    Hpt__DatasetInfo *di, **dp;   // COORD_MAX_DATASETS per worker
    coord_worker_t **order;       // the workers listed, in reply order
};

static int worker_id_cmp(const void *a, const void *b)
{
    return strcmp((*(coord_worker_t *const *)a)->id, (*(coord_worker_t *const *)b)->id);
}

static void worker_info_fill(Hpt__WorkerInfo *wi, Hpt__DatasetInfo *di, Hpt__DatasetInfo **dp,
                             coord_worker_t *w, double now)
{
    hpt__worker_info__init(wi);
    wi->id = w->id;
    wi->name = w->name;
    wi->host = w->host;
    wi->slots = (uint32_t)w->slots;
    wi->busy = (uint32_t)w->units;
    wi->version = w->version;
    wi->last_seen_ago = now - w->last_seen;
    wi->tasks_done = (uint32_t)w->tasks_done;
    wi->tasks_failed = (uint32_t)w->tasks_failed;
    wi->connected_unix = w->connected;
    wi->state = w->draining ? "draining" : "ready";
    coord_worker_rates(w, now, &wi->tasks_per_min, &wi->epochs_per_s, &wi->rate_window_s);
    wi->epochs_done = w->epochs_done;
    for (int d = 0; d < w->n_datasets; d++) {
        hpt__dataset_info__init(&di[d]);
        di[d].name = w->ds_name[d];
        di[d].fingerprint = w->ds_fp[d];
        dp[d] = &di[d];
    }
    wi->n_datasets = (size_t)w->n_datasets;
    wi->datasets = dp;
}

int coord_workers_info_new(coord_workers_info_t **out, coord_t *c, double now,
                           const coord_workers_page_t *page)
{
    *out = NULL;
    size_t n = (size_t)c->core.n_workers, m = n ? n : 1;
    coord_workers_info_t *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->wi = calloc(m, sizeof *x->wi);
    x->wp = calloc(m, sizeof *x->wp);
    x->di = calloc(m * COORD_MAX_DATASETS, sizeof *x->di);
    x->dp = calloc(m * COORD_MAX_DATASETS, sizeof *x->dp);
    x->order = calloc(m, sizeof *x->order);
    if (!x->wi || !x->wp || !x->di || !x->dp || !x->order) {
        coord_workers_info_destroy(&x);
        return -ENOMEM;
    }
    hpt__workers_reply__init(&x->reply);
    size_t k = 0;
    for (coord_worker_t *w = c->core.workers; w && k < n; w = w->next)
        if (!page || !page->after || strcmp(w->id, page->after) > 0)
            x->order[k++] = w;
    if (page)
        qsort(x->order, k, sizeof *x->order, worker_id_cmp);
    size_t limit = page && page->limit ? page->limit : SIZE_MAX, used = 0, i;
    for (i = 0; i < k && i < limit; i++) {
        worker_info_fill(&x->wi[i], &x->di[i * COORD_MAX_DATASETS],
                         &x->dp[i * COORD_MAX_DATASETS], x->order[i], now);
        if (page) {
            size_t b = field_bytes(hpt__worker_info__get_packed_size(&x->wi[i]));
            if (i > 0 && used + b > page->max_bytes)   // the first always goes
                break;
            used += b;
        }
        x->wp[i] = &x->wi[i];
    }
    x->reply.n_workers = i;
    x->reply.workers = x->wp;
    x->reply.more = i < k;
    x->reply.total = (uint32_t)n;
    *out = x;
    return 0;
}

const Hpt__WorkersReply *coord_workers_info_reply(const coord_workers_info_t *x)
{
    return &x->reply;
}

void coord_workers_info_destroy(coord_workers_info_t **p)
{
    if (!p || !*p)
        return;
    coord_workers_info_t *x = *p;
    free(x->order);
    free(x->dp);
    free(x->di);
    free(x->wp);
    free(x->wi);
    free(x);
    *p = NULL;
}

static void on_workers(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    coord_workers_info_t *x = NULL;
    size_t pb = page_bytes();
    coord_workers_page_t page = {.after = env->workers->after, .limit = env->workers->limit,
                                 .max_bytes = pb > 64 ? pb - 64 : 1};   // 64: more, total

    if (coord_workers_info_new(&x, c, coord_now(), &page) < 0) {
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_WORKERS_REPLY;
    out.workers_reply = (Hpt__WorkersReply *)coord_workers_info_reply(x);
    reply(c, peer, env->req_id, &out);
    coord_workers_info_destroy(&x);
}

/* The ResultsReply and the arrays it points into (all owned). */
struct coord_results {
    Hpt__ResultsReply reply;
    Hpt__TrialResult *tr, **tp;       // (rows)
    Hpt__Param *ps, **pp;             // (rows, params)
    char (*txt)[64];                  // (rows, params)
    double *splits;                   // (rows, 2 * splits): test then train scores
    char **names;                     // (params)
    protobuf_c_boolean fixed[COORD_SPEC_MAX_PARAMS];   // param_fixed
    coord_sweep_info_t *sb;
    struct coord_rcache *rc;          // the sweep's results cache (borrowed), fresh
    size_t first;                     // index of the page's first trial
};

/* Bytes a varint takes. */
static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Fill row r for trial index i of s from the fresh cache rc, into the
 * storage given (ps, pp, txt: n_params entries; sc: 2 x splits doubles). */
static void fill_row(const coord_sweep_t *s, const struct coord_rcache *rc, size_t i,
                     Hpt__TrialResult *r, Hpt__Param *ps, Hpt__Param **pp, char (*txt)[64],
                     double *sc)
{
    const coord_trial_t *t = s->trials[i];
    int np = s->spec->n_params, ns = s->spec->cv.folds * s->spec->cv.repeats;
    hpt__trial_result__init(r);
    r->trial = t->number;
    r->parent = t->parent;
    r->finished_unix = coord_trial_finished(t);
    for (int k = 0; k < t->n_tasks; k++)
        if (t->tasks[k] && t->tasks[k]->state == TASK_DONE &&
            t->tasks[k]->res->epochs > t->tasks[k]->res->resumed_from)
            r->epochs_trained += (uint32_t)(t->tasks[k]->res->epochs -
                                            t->tasks[k]->res->resumed_from);
    r->state = (char *)(t->state == TRIAL_RUNNING && t->done == 0
                            ? "pending" : coord_trial_state_name(t->state));
    fill_params(s, t, ps, pp, txt);
    r->n_params = (size_t)np;
    r->params = pp;
    double *st = sc + ns;
    uint32_t done = 0;
    for (int k = 0; k < ns; k++) {   // a split's score: the mean over its cv.seeds
        sc[k] = coord_trial_split_score(t, k, false);
        st[k] = coord_trial_split_score(t, k, true);
        done += !isnan(sc[k]);   // results are finite: NaN means not done
    }
    r->n_split_scores = (size_t)ns;
    r->split_scores = sc;
    if (s->spec->score_train) {
        r->n_split_train_scores = (size_t)ns;
        r->split_train_scores = st;
    }
    r->splits_done = done;
    r->mean_test_score = t->mean;
    r->std_test_score = t->std;
    if (s->spec->objective_train) {
        /* t->mean is the training score the sweep ranks by; the test
         * columns keep the held-out fold's. */
        if (t->state == TRIAL_DONE)
            coord_agg_mean_std(sc, ns, &r->mean_test_score, &r->std_test_score);
        else
            r->mean_test_score = r->std_test_score = NAN;
    }
    /* Trials suggested after the cache was built are running: rank 0. */
    r->rank_test_score = t->state == TRIAL_RUNNING || i >= rc->n ? 0 : (uint32_t)rc->rank[i];
    r->mean_fit_time = t->mean_fit;
    r->std_fit_time = t->std_fit;
    r->mean_train_score = t->mean_train;
    r->std_train_score = t->std_train;
    r->error = (char *)(t->error ? t->error : "");
    r->p_vs_best = i < rc->n && rc->p_known[i] ? rc->p[i] : coord_trial_p_vs_best(s, t);
    r->indistinguishable = !isnan(r->p_vs_best) && r->p_vs_best >= coord_sweep_alpha(s);
}

/* One row's scratch: its params (n_params entries) and split scores. */
typedef struct row_scratch {
    Hpt__Param *ps, **pp;
    char (*txt)[64];
    double *sc;
} row_scratch_t;

static void row_scratch_free(row_scratch_t *x)
{
    free(x->sc);
    free(x->txt);
    free(x->pp);
    free(x->ps);
}

static int row_scratch_init(row_scratch_t *x, int np, int ns)
{
    x->ps = calloc((size_t)(np ? np : 1), sizeof *x->ps);
    x->pp = calloc((size_t)(np ? np : 1), sizeof *x->pp);
    x->txt = calloc((size_t)(np ? np : 1), 64);
    x->sc = calloc((size_t)(ns ? ns : 1) * 2, sizeof *x->sc);
    if (x->ps && x->pp && x->txt && x->sc)
        return 0;
    row_scratch_free(x);
    return -ENOMEM;
}

/* The reply without its rows (n_trials 0, more set), in a new *out, and the
 * number of rows of the page in *rows with their bytes as repeated fields
 * in *row_bytes: each row's bytes (tag, length, message) while they fit in
 * max_bytes with the rest of the reply.  The first row always goes, so a
 * page makes progress; a row too big on its own fails to send and the
 * client gets an ErrorReply saying so.  Unbounded pages are not sized
 * (*row_bytes is then 0).  Returns 0 or -ENOMEM. */
static int results_head(coord_results_t **out, coord_t *c, coord_sweep_t *s, uint64_t offset,
                        uint32_t limit, size_t max_bytes, row_scratch_t *x, size_t *rows,
                        size_t *row_bytes)
{
    *out = NULL;
    *rows = *row_bytes = 0;
    int lrc = coord_sweep_need(c, s, NULL);   // an unloaded sweep is read back first
    if (lrc < 0)
        return lrc;
    struct coord_rcache *rc = rcache_get(c, s);
    coord_results_t *res = calloc(1, sizeof *res);
    int np = s->spec->n_params;
    if (!rc || !res) {
        free(res);
        return -ENOMEM;
    }
    char **names = res->names = calloc((size_t)(np ? np : 1), sizeof *names);
    sweep_info_buf_t *sb = res->sb = calloc(1, sizeof *sb);
    if (!names || !sb) {
        coord_results_destroy(&res);
        return -ENOMEM;
    }
    res->rc = rc;
    for (int i = 0; i < np; i++) {
        const coord_param_t *p = &s->spec->params[i];
        names[i] = (char *)p->name;
        res->fixed[i] = p->dist == COORD_PDIST_VALUE || p->n_values == 1;
    }
    coord_sweep_info_fill(s, sb, true);
    Hpt__ResultsReply *rr = &res->reply;
    hpt__results_reply__init(rr);
    rr->sweep = &sb->info;
    rr->n_param_names = (size_t)np;
    rr->param_names = names;
    rr->n_param_fixed = (size_t)np;
    rr->param_fixed = res->fixed;
    size_t total = s->n_trials, first = offset < total ? (size_t)offset : total;
    rr->total = total;
    rr->offset = offset;
    rr->generation = s->results_gen;
    rr->more = true;   // sized as the largest the flags can be: true and varints below
    size_t bytes = hpt__results_reply__get_packed_size(rr), n = 0, sum = 0;
    size_t want = total - first;
    if (limit > 0 && want > limit)
        want = limit;
    while (n < want) {
        if (max_bytes != COORD_RESULTS_UNBOUNDED) {
            Hpt__TrialResult r1;
            fill_row(s, rc, first + n, &r1, x->ps, x->pp, x->txt, x->sc);
            size_t len = hpt__trial_result__get_packed_size(&r1);
            size_t one = 1 + varint_len(len) + len;
            if (n > 0 && bytes + one > max_bytes)
                break;
            bytes += one;
            sum += one;
        }
        n++;
    }
    rr->more = first + n < total;
    res->first = first;
    *rows = n;
    *row_bytes = sum;
    *out = res;
    return 0;
}

int coord_results_new(coord_results_t **out, coord_t *c, coord_sweep_t *s, uint64_t offset,
                      uint32_t limit, size_t max_bytes)
{
    *out = NULL;
    int np = s->spec->n_params, ns = s->spec->cv.folds * s->spec->cv.repeats;
    row_scratch_t x = {0};
    coord_results_t *res = NULL;
    size_t rows = 0, row_bytes = 0;
    int rcode = row_scratch_init(&x, np, ns);
    if (rcode < 0)
        return rcode;
    rcode = results_head(&res, c, s, offset, limit, max_bytes, &x, &rows, &row_bytes);
    if (rcode < 0)
        goto out;
    rcode = -ENOMEM;
    size_t m = rows ? rows : 1;
    Hpt__TrialResult *tr = res->tr = calloc(m, sizeof *tr);
    Hpt__TrialResult **tp = res->tp = calloc(m, sizeof *tp);
    Hpt__Param *ps = res->ps = calloc(m * (size_t)(np ? np : 1), sizeof *ps);
    Hpt__Param **pp = res->pp = calloc(m * (size_t)(np ? np : 1), sizeof *pp);
    char (*txt)[64] = res->txt = calloc(m * (size_t)(np ? np : 1), 64);
    double *splits = res->splits = calloc(m * (size_t)(ns ? ns : 1) * 2, sizeof *splits);
    if (!tr || !tp || !ps || !pp || !txt || !splits)
        goto out;
    for (size_t k = 0; k < rows; k++) {
        fill_row(s, res->rc, res->first + k, &tr[k], &ps[k * (size_t)np], &pp[k * (size_t)np],
                 &txt[k * (size_t)np], &splits[k * (size_t)ns * 2]);
        tp[k] = &tr[k];
    }
    res->reply.n_trials = rows;
    res->reply.trials = tp;
    *out = res;
    res = NULL;
    rcode = 0;
out:
    coord_results_destroy(&res);
    row_scratch_free(&x);
    return rcode;
}

/* Write v as a varint at p; returns the bytes written. */
static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

#define RESULTS_REPLY_FIELD 37   // Envelope.results_reply
#define RESULTS_TRIALS_FIELD 3   // ResultsReply.trials

/* Send one results page without building every row's message first.  The
 * Envelope is written by hand around the packed reply: its header
 * (protocol, req_id), the results_reply field's tag and length, the reply's
 * other fields, then each row as a `trials` field packed straight into the
 * outgoing message (protobuf lets a repeated field follow the others).  A
 * page of 100,000 rows then costs its bytes and one row's scratch, not
 * about 800 bytes of structs per row besides.  Returns 0, -EMSGSIZE when
 * the page does not fit the message cap (the caller falls back to
 * coord_results_new, whose reply explains it), -ENOMEM, or the send's
 * error (the peer was told). */
static int results_send(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id,
                        coord_sweep_t *s, uint64_t offset, uint32_t limit, size_t max_bytes)
{
    int np = s->spec->n_params, ns = s->spec->cv.folds * s->spec->cv.repeats;
    row_scratch_t x = {0};
    coord_results_t *res = NULL;
    size_t rows = 0, row_bytes = 0;
    int rc = row_scratch_init(&x, np, ns);
    if (rc < 0)
        return rc;
    rc = results_head(&res, c, s, offset, limit, max_bytes, &x, &rows, &row_bytes);
    if (rc < 0)
        goto out;
    Hpt__ResultsReply *rr = &res->reply;
    size_t reply_len = hpt__results_reply__get_packed_size(rr) + row_bytes;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.protocol = HPT__VERSION__PROTOCOL_VERSION;
    env.req_id = req_id;
    size_t head = hpt__envelope__get_packed_size(&env);
    size_t tag = varint_len((uint64_t)RESULTS_REPLY_FIELD << 3 | 2);
    size_t len = head + tag + varint_len(reply_len) + reply_len;
    rc = -EMSGSIZE;
    if (len > HPT_PROTO_MAX_MSG)
        goto out;
    zmq_msg_t msg;
    rc = -ENOMEM;
    if (zmq_msg_init_size(&msg, len) != 0)
        goto out;
    uint8_t *p = zmq_msg_data(&msg), *end = p + len;
    p += hpt__envelope__pack(&env, p);
    p += varint_put(p, (uint64_t)RESULTS_REPLY_FIELD << 3 | 2);
    p += varint_put(p, reply_len);
    p += hpt__results_reply__pack(rr, p);
    for (size_t k = 0; k < rows; k++) {
        Hpt__TrialResult r1;
        fill_row(s, res->rc, res->first + k, &r1, x.ps, x.pp, x.txt, x.sc);
        size_t n = hpt__trial_result__get_packed_size(&r1);
        p += varint_put(p, (uint64_t)RESULTS_TRIALS_FIELD << 3 | 2);
        p += varint_put(p, n);
        p += hpt__trial_result__pack(&r1, p);
    }
    if (p != end) {   // the sizes above disagree with the packing: never send garbage
        zmq_msg_close(&msg);
        rc = -EPROTO;
        goto out;
    }
    rc = coord_send_msg(c, peer, &msg, HPT__ENVELOPE__BODY_RESULTS_REPLY);
    if (rc < 0 && rc != -EHOSTUNREACH)
        reply_failed(c, peer, req_id, HPT__ENVELOPE__BODY_RESULTS_REPLY, rc, len);
out:
    coord_results_destroy(&res);
    row_scratch_free(&x);
    return rc;
}

const Hpt__ResultsReply *coord_results_reply(const coord_results_t *r)
{
    return &r->reply;
}

void coord_results_destroy(coord_results_t **p)
{
    if (!p || !*p)
        return;
    coord_results_t *r = *p;
    free(r->sb);
    free(r->names);
    free(r->splits);
    free(r->txt);
    free(r->pp);
    free(r->ps);
    free(r->tp);
    free(r->tr);
    free(r);
    *p = NULL;
}

/* The byte budget of a results, status or workers page: 4 MiB, a quarter of
 * the message cap.  A page is built whole in memory (its rows as protobuf-c
 * structures, then packed, then queued to ZeroMQ), several times its packed
 * size: at the cap, reading a 200,000-trial sweep's results added 16 MB to
 * the coordinator's peak RSS (bench/scale.sh), for no gain in time (the CLI
 * reads the pages back to back).  The first row of a page always goes, so a
 * row above the budget (and under the cap) is still sent.
 * HPT_RESULTS_PAGE_BYTES (a test knob, documented in docs/protocol.md)
 * lowers it so that small sweeps need several pages. */
#define PAGE_BYTES_DEFAULT ((size_t)4 << 20)
static size_t page_bytes(void)
{
    _Static_assert(PAGE_BYTES_DEFAULT < HPT_PROTO_MAX_MSG - 1024, "a page fits a message");
    size_t cap = PAGE_BYTES_DEFAULT;
    const char *env = getenv("HPT_RESULTS_PAGE_BYTES");
    if (env && *env) {
        char *end = NULL;
        unsigned long long v = strtoull(env, &end, 10);
        if (end && *end == '\0' && v >= 1 && v < cap)
            cap = (size_t)v;
    }
    return cap;
}

static void on_results(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    const Hpt__ResultsRequest *q = env->results;
    coord_sweep_t *s = coord_sweep_find(&c->core, q->sweep);
    if (!s) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)q->sweep);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    hpt_err lerr = {0};
    if (coord_sweep_need(c, s, &lerr) < 0) {
        reply_error(c, peer, env->req_id, 1, lerr.msg);
        return;
    }
    int rc = results_send(c, peer, env->req_id, s, q->offset, q->limit, page_bytes());
    if (rc == 0)
        c->results_pages++;
    if (rc != -EMSGSIZE && rc != -ENOMEM && rc != -EPROTO)
        return;   // sent, or the peer is gone
    /* A page that cannot be streamed (a single row over the cap): the
     * reply built whole explains why to the client. */
    coord_results_t *res = NULL;
    if (coord_results_new(&res, c, s, q->offset, q->limit, page_bytes()) < 0) {
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_RESULTS_REPLY;
    out.results_reply = (Hpt__ResultsReply *)coord_results_reply(res);
    if (reply(c, peer, env->req_id, &out) == 0)
        c->results_pages++;
    coord_results_destroy(&res);
}

/* Cancel a sweep: only its owner (the principal that submitted it) or an
 * admin may (docs/security.md, "Roles").  Without keys every peer has the
 * admin role.  A sweep journaled before owners were kept has none: only an
 * admin cancels it. */
static void on_cancel(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                      hpt_env_t *env)
{
    coord_sweep_t *s = coord_sweep_find(&c->core, env->cancel_sweep->sweep);
    if (!s) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)env->cancel_sweep->sweep);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    if (!(who->roles & HPT_CURVE_ROLE_ADMIN) &&
        (!s->owner[0] || strcmp(s->owner, who->principal) != 0)) {
        c->refused_role++;
        char msg[400];
        snprintf(msg, sizeof msg,
                 "permission denied: sweep %llu was submitted by another key; %s may cancel "
                 "only its own sweeps (a key in the authorized-keys directory's admins/ may "
                 "cancel any; docs/security.md)",
                 (unsigned long long)s->id, who->label);
        if (coord_log_allowed(c, peer, LOG_CANCEL, 5)) {
            char id[80], q[120];
            hpt_log(HPT_LOG_WARN, "security", "cancel refused: not the sweep's owner",
                    "peer=%s from=%s sweep=%llu refused=%llu", hpt_peer_id_str(peer, id, sizeof id),
                    hpt_log_quote(who->label, q, sizeof q), (unsigned long long)s->id,
                    (unsigned long long)c->refused_role);
        }
        reply_error(c, peer, env->req_id, COORD_ERR_DENIED, msg);
        return;
    }
    int did = coord_core_cancel(&c->core, coord_now(), s);
    coord_apply(c);
    /* "cancelled" is an acknowledgement, as a submitted sweep's id is: the
     * cancellation is committed and synced before the client hears of it,
     * so a crash right after the reply cannot bring the sweep back running. */
    hpt_err ferr = {0};
    if (did && coord_store_sync(c->store, &ferr) < 0) {
        reply_error(c, peer, env->req_id, 1, "the coordinator cannot write its journal");
        char q[300];
        hpt_log(HPT_LOG_ERROR, "store", "cannot journal a cancellation; stopping",
                "sweep=%llu error=%s", (unsigned long long)s->id,
                hpt_log_quote(ferr.msg, q, sizeof q));
        journal_stop(c);
        return;
    }
    Hpt__CancelReply r = HPT__CANCEL_REPLY__INIT;
    r.cancelled = did;
    r.state = (char *)coord_sweep_state_name(s->state);
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_CANCEL_REPLY;
    out.cancel_reply = &r;
    reply(c, peer, env->req_id, &out);
}

// --- events ---------------------------------------------------------------

static coord_sub_t *sub_find(coord_t *c, const hpt_peer_id_t *peer)
{
    for (coord_sub_t *s = c->subs; s; s = s->next)
        if (s->peer.len == peer->len && memcmp(s->peer.bytes, peer->bytes, peer->len) == 0)
            return s;
    return NULL;
}

static void sub_remove(coord_t *c, coord_sub_t *x)
{
    for (coord_sub_t **pp = &c->subs; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            free(x);
            return;
        }
}

static bool event_matches(const coord_event_t *e, int level, uint64_t sweep)
{
    return e->level >= level && (!sweep || e->sweep == sweep);
}

static int send_event(coord_t *c, const hpt_peer_id_t *peer, const coord_event_t *e)
{
    Hpt__Event m = HPT__EVENT__INIT;
    m.ts_us = e->ts_us;
    m.level = (char *)hpt_log_level_name((hpt_log_level_t)e->level);
    m.component = (char *)e->component;
    m.message = e->msg;
    m.fields = e->fields;
    m.sweep = e->sweep;
    m.seq = e->seq;
    m.type = (char *)coord_event_name((coord_event_type_t)e->type);
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_EVENT;
    env.event = &m;
    return coord_send(c, peer, &env);
}

/* The log sink: runs on whichever thread logged, with the log mutex held;
 * the coordinator logs only from its loop thread. */
static void on_log(const hpt_log_event_t *ev, void *ud)
{
    coord_t *c = ud;
    if (!c->ring || c->in_sink)
        return;
    c->in_sink = true;
    coord_event_t *e = &c->ring[c->ring_head];
    free(e->msg);
    free(e->fields);
    e->ts_us = ev->ts_us;
    e->level = (int)ev->level;
    e->seq = ++c->event_seq;
    snprintf(e->component, sizeof e->component, "%s", ev->component);
    e->msg = strdup(ev->msg);
    e->fields = strdup(ev->fields);
    if (!e->msg || !e->fields) {
        free(e->msg);
        free(e->fields);
        e->msg = e->fields = NULL;
        c->in_sink = false;
        return;
    }
    e->type = c->ev_type;     // set by coord_emit for the core's typed events
    e->sweep = c->ev_sweep;
    c->ring_head = (c->ring_head + 1) % (size_t)c->cfg.event_ring;
    if (c->ring_len < (size_t)c->cfg.event_ring)
        c->ring_len++;
    if (ev->level >= HPT_LOG_INFO && c->store)
        coord_store_event(c->store, e->seq, (double)ev->ts_us * 1e-6,
                          hpt_log_level_name(ev->level), ev->component, ev->msg, ev->fields,
                          e->sweep, coord_event_name((coord_event_type_t)e->type));
    for (coord_sub_t *s = c->subs, *n; s; s = n) {
        n = s->next;
        if (event_matches(e, s->level, s->sweep) && send_event(c, &s->peer, e) == -EHOSTUNREACH)
            sub_remove(c, s);
    }
    c->in_sink = false;
}

void coord_events_init(coord_t *c)
{
    c->ring = calloc((size_t)c->cfg.event_ring, sizeof *c->ring);
    hpt_log_set_sink(on_log, c);
}

void coord_events_free(coord_t *c)
{
    hpt_log_set_sink(NULL, NULL);
    if (c->ring)
        for (int i = 0; i < c->cfg.event_ring; i++) {
            free(c->ring[i].msg);
            free(c->ring[i].fields);
        }
    free(c->ring);
    c->ring = NULL;
    while (c->subs)
        sub_remove(c, c->subs);
    while (c->rcaches) {
        struct coord_rcache *rc = c->rcaches;
        c->rcaches = rc->next;
        rcache_free(rc);   // its sweep may be freed already: not touched
    }
}

void coord_subs_cron(coord_t *c)
{
    double now = coord_now();
    for (coord_sub_t *s = c->subs, *n; s; s = n) {
        n = s->next;
        if (s->expiry < now)
            sub_remove(c, s);
    }
}

static void on_subscribe(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    const Hpt__Subscribe *m = env->subscribe;
    int level = m->level[0] ? hpt_log_level_parse(m->level) : HPT_LOG_INFO;
    if (level < 0) {
        reply_error(c, peer, env->req_id, 2, "subscribe: unknown level (allowed: debug, info, "
                                             "warn, error)");
        return;
    }
    if (m->history) {
        uint64_t sent = 0;
        size_t start = (c->ring_head + (size_t)c->cfg.event_ring - c->ring_len) %
                       (size_t)c->cfg.event_ring;
        for (size_t i = 0; i < c->ring_len; i++) {
            const coord_event_t *e = &c->ring[(start + i) % (size_t)c->cfg.event_ring];
            if (!e->msg || !event_matches(e, level, m->sweep))
                continue;
            /* A client that does not read fills its pipe: stop there rather
             * than queue the whole ring again for every request. */
            if (send_event(c, peer, e) != 0)
                break;
            sent++;
        }
        Hpt__HistoryEnd h = HPT__HISTORY_END__INIT;
        h.events = sent;
        hpt_env_t out = HPT__ENVELOPE__INIT;
        out.body_case = HPT__ENVELOPE__BODY_HISTORY_END;
        out.history_end = &h;
        reply(c, peer, env->req_id, &out);
    }
    coord_sub_t *s = sub_find(c, peer);
    if (!m->follow) {
        if (s)
            sub_remove(c, s);
        return;
    }
    if (!s) {
        /* Followers are bounded: each costs a send per event, and a
         * lookup per client message (sub_find). */
        int n = 0;
        for (const coord_sub_t *x = c->subs; x; x = x->next)
            n++;
        if (c->cfg.max_followers > 0 && n >= c->cfg.max_followers) {
            char msg[200];
            snprintf(msg, sizeof msg, "limit: %d clients follow the log already, the most "
                     "max_followers allows; try again later", n);
            c->refused_quota++;
            reply_error(c, peer, env->req_id, COORD_ERR_LIMIT, msg);
            return;
        }
        s = calloc(1, sizeof *s);
        if (!s)
            return;
        s->peer = *peer;
        s->next = c->subs;
        c->subs = s;
    }
    s->level = level;
    s->sweep = m->sweep;
    s->expiry = coord_now() + c->cfg.sub_timeout_ms * 1e-3;
}

void coord_on_client(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                     hpt_env_t *env)
{
    /* Any message from a follower renews its subscription. */
    coord_sub_t *s = sub_find(c, peer);
    if (s)
        s->expiry = coord_now() + c->cfg.sub_timeout_ms * 1e-3;
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_SUBMIT: on_submit(c, peer, who, env); break;
    case HPT__ENVELOPE__BODY_STATUS: on_status(c, peer, env); break;
    case HPT__ENVELOPE__BODY_WORKERS: on_workers(c, peer, env); break;
    case HPT__ENVELOPE__BODY_RESULTS: on_results(c, peer, env); break;
    case HPT__ENVELOPE__BODY_CANCEL_SWEEP: on_cancel(c, peer, who, env); break;
    case HPT__ENVELOPE__BODY_SUBSCRIBE: on_subscribe(c, peer, env); break;
    case HPT__ENVELOPE__BODY_UNSUBSCRIBE:
        if (s)
            sub_remove(c, s);
        break;
    default:
        reply_error(c, peer, env->req_id, 2, "not a request a client can send");
    }
}
