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
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_aggregate.h"
#include "log.h"

static void reply(coord_t *c, const hpt_peer_id_t *peer, uint64_t req_id, hpt_env_t *env)
{
    env->req_id = req_id;
    coord_send(c, peer, env);
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

// --- building SweepInfo ---------------------------------------------------

/* Param entries for trial tr: n entries written into ps (and pointers pp),
 * with their text in txt (n x 64 bytes). */
static void fill_params(const coord_sweep_t *s, const coord_trial_t *tr, Hpt__Param *ps,
                        Hpt__Param **pp, char (*txt)[64])
{
    for (int i = 0; i < s->spec->n_params; i++) {
        const coord_param_t *p = &s->spec->params[i];
        hpt__param__init(&ps[i]);
        ps[i].name = (char *)p->name;
        coord_pval_format(p, &tr->vals[i], txt[i], 64);
        ps[i].text = txt[i];
        ps[i].numeric = !tr->vals[i].absent &&
                        (p->kind == COORD_PKIND_INT || p->kind == COORD_PKIND_FLOAT);
        ps[i].number = tr->vals[i].absent ? NAN : tr->vals[i].num;
        pp[i] = &ps[i];
    }
}

typedef coord_sweep_info_t sweep_info_buf_t;

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
    long total = coord_search_total(s->search);
    i->trials_total = (uint32_t)(total > 0 ? total : (long)s->n_trials);
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
    if (s->best && compare) {
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
    i->created_unix = s->created;
    i->started_unix = s->started;
    i->finished_unix = s->finished;
    i->eta_seconds = coord_sweep_eta(s);
    i->error = (char *)s->error;
}

// --- requests -------------------------------------------------------------

static void on_submit(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    hpt_err err = {0};
    coord_sweep_t *s = NULL;
    const char *path = env->submit->path[0] ? env->submit->path : "spec";
    if (coord_sweep_submit(c, env->submit->spec, path, &s, &err) < 0) {
        char q[300];
        hpt_log(HPT_LOG_INFO, "clients", "spec rejected", "path=%s error=%s", path,
                hpt_log_quote(err.msg, q, sizeof q));
        reply_error(c, peer, env->req_id, 2, err.msg);
        return;
    }
    /* The id is an acknowledgement: make the sweep durable before sending
     * it. */
    hpt_err ferr = {0};
    if (coord_store_flush(c->store, &ferr) < 0) {
        hpt_log(HPT_LOG_ERROR, "store", "cannot journal a new sweep", "error=\"%s\"", ferr.msg);
        reply_error(c, peer, env->req_id, 1, "the coordinator cannot write its journal");
        return;
    }
    Hpt__SubmitReply r = HPT__SUBMIT_REPLY__INIT;
    r.sweep = s->id;
    r.name = s->spec->name;
    long total = coord_search_total(s->search);
    r.trials = (uint32_t)(total > 0 ? total : 0);
    r.tasks = (uint32_t)s->tasks_total + (s->spec->refit ? 1 : 0);   // as SweepInfo counts
    r.method = (char *)coord_method_name(s->spec->method);
    r.max_trials = (uint32_t)(s->spec->max_trials > 0 ? s->spec->max_trials : 0);
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_SUBMIT_REPLY;
    out.submit_reply = &r;
    reply(c, peer, env->req_id, &out);
    coord_dispatch(c);
}

static void on_status(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    uint64_t want = env->status->sweep;
    size_t n = 0;
    for (coord_sweep_t *s = c->sweeps; s; s = s->next)
        n += !want || s->id == want;
    if (want && n == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)want);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    sweep_info_buf_t *bufs = calloc(n ? n : 1, sizeof *bufs);
    Hpt__SweepInfo **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    if (!bufs || !ptrs) {
        free(bufs);
        free(ptrs);
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    size_t k = 0;
    for (coord_sweep_t *s = c->sweeps; s; s = s->next)
        if (!want || s->id == want) {
            coord_sweep_info_fill(s, &bufs[k], false);
            ptrs[k] = &bufs[k].info;
            k++;
        }
    Hpt__StatusReply r = HPT__STATUS_REPLY__INIT;
    r.n_sweeps = n;
    r.sweeps = ptrs;
    r.workers = (uint32_t)c->n_workers;
    for (coord_worker_t *w = c->workers; w; w = w->next) {
        r.slots += (uint32_t)w->slots;
        r.slots_busy += (uint32_t)w->busy;
    }
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_STATUS_REPLY;
    out.status_reply = &r;
    reply(c, peer, env->req_id, &out);
    free(ptrs);
    free(bufs);
}

static void on_workers(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    size_t n = (size_t)c->n_workers;
    Hpt__WorkerInfo *wi = calloc(n ? n : 1, sizeof *wi);
    Hpt__WorkerInfo **wp = calloc(n ? n : 1, sizeof *wp);
    Hpt__DatasetInfo *di = calloc((n ? n : 1) * COORD_MAX_DATASETS, sizeof *di);
    Hpt__DatasetInfo **dp = calloc((n ? n : 1) * COORD_MAX_DATASETS, sizeof *dp);
    if (!wi || !wp || !di || !dp) {
        reply_error(c, peer, env->req_id, 1, "out of memory");
        goto out;
    }
    double now = coord_now();
    size_t k = 0;
    for (coord_worker_t *w = c->workers; w && k < n; w = w->next, k++) {
        hpt__worker_info__init(&wi[k]);
        wi[k].id = w->id;
        wi[k].name = w->name;
        wi[k].host = w->host;
        wi[k].slots = (uint32_t)w->slots;
        wi[k].busy = (uint32_t)w->busy;
        wi[k].version = w->version;
        wi[k].last_seen_ago = now - w->last_seen;
        wi[k].tasks_done = (uint32_t)w->tasks_done;
        wi[k].tasks_failed = (uint32_t)w->tasks_failed;
        wi[k].connected_unix = w->connected;
        wi[k].state = w->draining ? "draining" : "ready";
        coord_worker_rates(w, now, &wi[k].tasks_per_min, &wi[k].epochs_per_s,
                           &wi[k].rate_window_s);
        wi[k].epochs_done = w->epochs_done;
        for (int d = 0; d < w->n_datasets; d++) {
            Hpt__DatasetInfo *x = &di[k * COORD_MAX_DATASETS + (size_t)d];
            hpt__dataset_info__init(x);
            x->name = w->ds_name[d];
            x->fingerprint = w->ds_fp[d];
            dp[k * COORD_MAX_DATASETS + (size_t)d] = x;
        }
        wi[k].n_datasets = (size_t)w->n_datasets;
        wi[k].datasets = &dp[k * COORD_MAX_DATASETS];
        wp[k] = &wi[k];
    }
    Hpt__WorkersReply r = HPT__WORKERS_REPLY__INIT;
    r.n_workers = k;
    r.workers = wp;
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_WORKERS_REPLY;
    out.workers_reply = &r;
    reply(c, peer, env->req_id, &out);
out:
    free(dp);
    free(di);
    free(wp);
    free(wi);
}

/* The ResultsReply and the arrays it points into (all owned). */
struct coord_results {
    Hpt__ResultsReply reply;
    Hpt__TrialResult *tr, **tp;
    Hpt__Param *ps, **pp;
    char (*txt)[64];
    double *splits, *means;
    int *ranks;
    char **names;
    protobuf_c_boolean fixed[COORD_SPEC_MAX_PARAMS];   // param_fixed
    coord_sweep_info_t *sb;
};

int coord_results_new(coord_results_t **out, const coord_sweep_t *s)
{
    *out = NULL;
    coord_results_t *res = calloc(1, sizeof *res);
    if (!res)
        return -ENOMEM;
    size_t n = s->n_trials;
    int np = s->spec->n_params, ns = s->spec->cv.folds * s->spec->cv.repeats;
    Hpt__TrialResult *tr = res->tr = calloc(n ? n : 1, sizeof *tr);
    Hpt__TrialResult **tp = res->tp = calloc(n ? n : 1, sizeof *tp);
    Hpt__Param *ps = res->ps = calloc((n ? n : 1) * (size_t)np, sizeof *ps);
    Hpt__Param **pp = res->pp = calloc((n ? n : 1) * (size_t)np, sizeof *pp);
    char (*txt)[64] = res->txt = calloc((n ? n : 1) * (size_t)np, 64);
    double *splits = res->splits = calloc((n ? n : 1) * (size_t)ns * 2, sizeof *splits);
    double *means = res->means = calloc(n ? n : 1, sizeof *means);
    int *ranks = res->ranks = calloc(n ? n : 1, sizeof *ranks);
    char **names = res->names = calloc((size_t)np, sizeof *names);
    sweep_info_buf_t *sb = res->sb = calloc(1, sizeof *sb);
    if (!tr || !tp || !ps || !pp || !txt || !splits || !means || !ranks || !names || !sb) {
        coord_results_destroy(&res);
        return -ENOMEM;
    }
    /* Ranks over finished trials (failed ones rank last, as scikit-learn);
     * trials still running get rank 0. */
    for (size_t i = 0; i < n; i++)
        means[i] = s->trials[i]->state == TRIAL_DONE ? s->trials[i]->mean : NAN;
    coord_agg_rank(means, (int)n, s->spec->maximize, ranks);
    for (size_t i = 0; i < n; i++) {
        const coord_trial_t *t = s->trials[i];
        Hpt__TrialResult *r = &tr[i];
        hpt__trial_result__init(r);
        r->trial = t->number;
        r->parent = t->parent;
        r->finished_unix = coord_trial_finished(t);
        for (int k = 0; k < t->n_tasks; k++)
            if (t->tasks[k] && t->tasks[k]->state == TASK_DONE &&
                t->tasks[k]->epochs > t->tasks[k]->resumed_from)
                r->epochs_trained += (uint32_t)(t->tasks[k]->epochs - t->tasks[k]->resumed_from);
        r->state = (char *)(t->state == TRIAL_RUNNING && t->done == 0 ? "pending"
                                                                       : coord_trial_state_name(t->state));
        fill_params(s, t, &ps[i * (size_t)np], &pp[i * (size_t)np], &txt[i * (size_t)np]);
        r->n_params = (size_t)np;
        r->params = &pp[i * (size_t)np];
        double *sc = &splits[i * (size_t)ns * 2], *st = sc + ns;
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
        r->rank_test_score = t->state == TRIAL_RUNNING ? 0 : (uint32_t)ranks[i];
        r->mean_fit_time = t->mean_fit;
        r->std_fit_time = t->std_fit;
        r->mean_train_score = t->mean_train;
        r->std_train_score = t->std_train;
        r->error = (char *)t->error;
        r->p_vs_best = coord_trial_p_vs_best(s, t);
        r->indistinguishable = !isnan(r->p_vs_best) && r->p_vs_best >= coord_sweep_alpha(s);
        tp[i] = r;
    }
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
    rr->n_trials = n;
    rr->trials = tp;
    *out = res;
    return 0;
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
    free(r->ranks);
    free(r->means);
    free(r->splits);
    free(r->txt);
    free(r->pp);
    free(r->ps);
    free(r->tp);
    free(r->tr);
    free(r);
    *p = NULL;
}

static void on_results(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    coord_sweep_t *s = coord_sweep_find(c, env->results->sweep);
    if (!s) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)env->results->sweep);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    coord_results_t *res = NULL;
    if (coord_results_new(&res, s) < 0) {
        reply_error(c, peer, env->req_id, 1, "out of memory");
        return;
    }
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_RESULTS_REPLY;
    out.results_reply = (Hpt__ResultsReply *)coord_results_reply(res);
    reply(c, peer, env->req_id, &out);
    coord_results_destroy(&res);
}

static void on_cancel(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    coord_sweep_t *s = coord_sweep_find(c, env->cancel_sweep->sweep);
    if (!s) {
        char msg[96];
        snprintf(msg, sizeof msg, "no sweep %llu", (unsigned long long)env->cancel_sweep->sweep);
        reply_error(c, peer, env->req_id, 4, msg);
        return;
    }
    int did = coord_sweep_cancel(c, s);
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
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_EVENT;
    env.event = &m;
    return coord_send(c, peer, &env);
}

/* "sweep=N" in the fields ties an event to a sweep. */
static uint64_t fields_sweep(const char *f)
{
    const char *p = strstr(f, "sweep=");
    while (p && p != f && p[-1] != ' ')
        p = strstr(p + 1, "sweep=");
    return p ? strtoull(p + 6, NULL, 10) : 0;
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
    e->sweep = fields_sweep(ev->fields);
    c->ring_head = (c->ring_head + 1) % (size_t)c->cfg.event_ring;
    if (c->ring_len < (size_t)c->cfg.event_ring)
        c->ring_len++;
    if (ev->level >= HPT_LOG_INFO && c->store)
        coord_store_event(c->store, e->seq, (double)ev->ts_us * 1e-6,
                          hpt_log_level_name(ev->level), ev->component, ev->msg, ev->fields,
                          e->sweep);
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

void coord_on_client(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env)
{
    /* Any message from a follower renews its subscription. */
    coord_sub_t *s = sub_find(c, peer);
    if (s)
        s->expiry = coord_now() + c->cfg.sub_timeout_ms * 1e-3;
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_SUBMIT: on_submit(c, peer, env); break;
    case HPT__ENVELOPE__BODY_STATUS: on_status(c, peer, env); break;
    case HPT__ENVELOPE__BODY_WORKERS: on_workers(c, peer, env); break;
    case HPT__ENVELOPE__BODY_RESULTS: on_results(c, peer, env); break;
    case HPT__ENVELOPE__BODY_CANCEL_SWEEP: on_cancel(c, peer, env); break;
    case HPT__ENVELOPE__BODY_SUBSCRIBE: on_subscribe(c, peer, env); break;
    case HPT__ENVELOPE__BODY_UNSUBSCRIBE:
        if (s)
            sub_remove(c, s);
        break;
    default:
        reply_error(c, peer, env->req_id, 2, "not a request a client can send");
    }
}
