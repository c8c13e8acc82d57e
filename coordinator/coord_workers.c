/*
 * coord_workers.c: the worker table (Paranoid Pirate / Majordomo style).
 *
 * Each registered worker has expiry = now + hb_ivl * liveness, refreshed by
 * any message from it.  The list is kept in expiry order (a refreshed worker
 * moves to the tail), so the purge in coord_workers_cron stops at the first
 * live one.  A dead worker's leased tasks go back to their sweeps' queues;
 * their next lease carries attempt + 1, so a late result from the dead
 * attempt is recognised and dropped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "log.h"

static bool peer_eq(const hpt_peer_id_t *a, const hpt_peer_id_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static void list_remove(coord_t *c, coord_worker_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        c->workers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        c->workers_tail = w->prev;
    w->prev = w->next = NULL;
}

static void list_append(coord_t *c, coord_worker_t *w)
{
    w->prev = c->workers_tail;
    w->next = NULL;
    if (c->workers_tail)
        c->workers_tail->next = w;
    else
        c->workers = w;
    c->workers_tail = w;
}

coord_worker_t *coord_worker_by_peer(coord_t *c, const hpt_peer_id_t *peer)
{
    for (coord_worker_t *w = c->workers; w; w = w->next)
        if (peer_eq(&w->peer, peer))
            return w;
    return NULL;
}

// --- throughput -----------------------------------------------------------

/* Record the worker's counters now in its ring of samples. */
static void rate_sample(coord_worker_t *w, double now)
{
    w->rate[w->rate_head] = (coord_rate_sample_t){
        .at = now, .tasks_done = w->tasks_done, .epochs_done = w->epochs_done};
    w->rate_head = (w->rate_head + 1) % COORD_RATE_SAMPLES;
    if (w->rate_n < COORD_RATE_SAMPLES)
        w->rate_n++;
}

void coord_worker_rates(const coord_worker_t *w, double now, double *tasks_per_min,
                        double *epochs_per_s, double *window_s)
{
    *tasks_per_min = *epochs_per_s = *window_s = 0;
    /* The oldest sample still inside the window (samples are at least
     * COORD_RATE_SAMPLE_S apart, so the window is covered to within one);
     * the newest one when all are older. */
    const coord_rate_sample_t *from = NULL;
    for (int k = 0; k < w->rate_n; k++) {
        int i = (w->rate_head - w->rate_n + k + 2 * COORD_RATE_SAMPLES) % COORD_RATE_SAMPLES;
        from = &w->rate[i];
        if (now - from->at <= COORD_RATE_WINDOW_S)
            break;
    }
    if (!from || now - from->at < 1.0)
        return;   // too short to say anything
    double span = now - from->at;
    *window_s = span;
    *tasks_per_min = (double)(w->tasks_done - from->tasks_done) * 60.0 / span;
    *epochs_per_s = (double)(w->epochs_done - from->epochs_done) / span;
}

static coord_worker_t *by_id(coord_t *c, const char *id)
{
    for (coord_worker_t *w = c->workers; w; w = w->next)
        if (strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

void coord_worker_touch(coord_t *c, coord_worker_t *w)
{
    double now = coord_now();
    w->last_seen = now;
    w->expiry = now + c->cfg.hb_ivl_ms * 1e-3 * c->cfg.hb_liveness;
    if (w != c->workers_tail) {
        list_remove(c, w);
        list_append(c, w);
    }
}

int coord_worker_free_slots(const coord_worker_t *w)
{
    int f = w->slots - w->busy - w->zombies;
    if (w->cooldown_until > 0 && coord_now() < w->cooldown_until)
        return 0;
    return f > 0 && !w->draining ? f : 0;
}

int coord_worker_has_dataset(const coord_worker_t *w, const coord_sweep_t *s)
{
    for (int i = 0; i < w->n_datasets; i++) {
        if (strcmp(w->ds_name[i], s->spec->dataset) != 0)
            continue;
        /* "dry-run" is what `hptune-worker --dry-run` advertises: it trains
         * nothing, so any copy of the data will do (benchmarks and tests). */
        if (s->fingerprint[0] == '\0' || strcmp(w->ds_fp[i], s->fingerprint) == 0 ||
            strcmp(w->ds_fp[i], "dry-run") == 0)
            return 1;
        return -1;
    }
    return 0;
}

static void send_welcome(coord_t *c, coord_worker_t *w)
{
    Hpt__Welcome m = HPT__WELCOME__INIT;
    m.heartbeat_ms = (uint32_t)c->cfg.hb_ivl_ms;
    m.liveness = (uint32_t)c->cfg.hb_liveness;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_WELCOME;
    env.welcome = &m;
    coord_send(c, &w->peer, &env);
}

void coord_on_hello(coord_t *c, const hpt_peer_id_t *peer, const Hpt__Hello *m)
{
    coord_worker_t *w = by_id(c, m->worker_id);
    coord_worker_t *same_peer = coord_worker_by_peer(c, peer);
    if (same_peer && same_peer != w)
        coord_worker_remove(c, same_peer, "its connection now belongs to another worker id");
    bool again = w != NULL;
    if (!w) {
        w = calloc(1, sizeof *w);
        if (!w) {
            hpt_log(HPT_LOG_ERROR, "workers", "out of memory registering a worker", "%s", "");
            return;
        }
        snprintf(w->id, sizeof w->id, "%s", m->worker_id);
        w->connected = coord_unix();
        rate_sample(w, coord_now());   // rates count from here
        list_append(c, w);
        c->n_workers++;
    }
    /* A worker that reconnects with a new socket keeps its record and its
     * leases: its running tasks report on the new connection. */
    w->peer = *peer;
    snprintf(w->name, sizeof w->name, "%s", m->name[0] ? m->name : m->host);
    snprintf(w->host, sizeof w->host, "%s", m->host);
    snprintf(w->version, sizeof w->version, "%s", m->version);
    w->slots = (int)m->slots;
    w->draining = false;
    w->n_datasets = 0;
    for (size_t i = 0; i < m->n_datasets && i < COORD_MAX_DATASETS; i++) {
        snprintf(w->ds_name[w->n_datasets], sizeof w->ds_name[0], "%s", m->datasets[i]->name);
        snprintf(w->ds_fp[w->n_datasets], sizeof w->ds_fp[0], "%s",
                 m->datasets[i]->fingerprint);
        w->n_datasets++;
    }
    coord_worker_touch(c, w);
    char ds[512] = "";
    size_t off = 0;
    for (int i = 0; i < w->n_datasets && off < sizeof ds; i++)
        off += (size_t)snprintf(ds + off, sizeof ds - off, "%s%s", i ? "," : "", w->ds_name[i]);
    char id[80];
    hpt_log(HPT_LOG_INFO, "workers", again ? "worker re-registered" : "worker joined",
            "worker=%s name=%s host=%s slots=%d version=%s datasets=%s peer=%s", w->id, w->name,
            w->host, w->slots, w->version, ds[0] ? ds : "none",
            hpt_peer_id_str(peer, id, sizeof id));
    coord_store_worker_seen(c->store, w->id, w->name, w->host, w->slots, w->version,
                            coord_unix(), "ready");
    send_welcome(c, w);
    if (c->n_orphans)
        coord_orphans_adopt(c, w);
    coord_dispatch(c);
}

void coord_on_heartbeat(coord_t *c, coord_worker_t *w, const Hpt__Heartbeat *m)
{
    /* Tasks the worker still runs but no longer holds a lease for (cancelled,
     * or re-leased elsewhere) occupy its slots until they stop. */
    int zombies = 0;
    for (size_t i = 0; i < m->n_running; i++) {
        const Hpt__TaskProgress *p = m->running[i];
        bool leased = false;
        for (coord_task_t *t = w->leased; t; t = t->wnext)
            if (t->id == p->task && t->attempt == p->attempt) {
                leased = true;
                if (p->epoch > (uint32_t)t->epoch) {
                    t->epoch = (int)p->epoch;
                    t->progress_at = coord_now();
                }
            }
        zombies += !leased;
    }
    bool freed = zombies < w->zombies;
    w->zombies = zombies;
    /* A lease the worker does not report running is lost: its result went
     * down with a connection or a coordinator.  Results and heartbeats
     * travel in order on one connection, so a finished task's result would
     * have arrived before this heartbeat; the grace covers an Assign still
     * on its way to the worker when it sent the heartbeat. */
    double now = coord_now(), grace = 3.0 * c->cfg.hb_ivl_ms * 1e-3;
    for (coord_task_t *t = w->leased, *tn; t; t = tn) {
        tn = t->wnext;
        if (now - t->leased_at <= grace)
            continue;
        bool running = false;
        for (size_t i = 0; i < m->n_running && !running; i++)
            running = m->running[i]->task == t->id && m->running[i]->attempt == t->attempt;
        if (!running) {
            coord_requeue(c, t, "the worker does not report it running (its result was lost)");
            freed = true;
        }
    }
    if (freed)
        coord_dispatch(c);
}

void coord_on_goodbye(coord_t *c, coord_worker_t *w, const Hpt__Goodbye *m)
{
    if (m->drain && w->busy > 0) {
        w->draining = true;
        hpt_log(HPT_LOG_INFO, "workers", "worker draining", "worker=%s running=%d", w->id,
                w->busy);
        coord_store_worker_seen(c->store, w->id, w->name, w->host, w->slots, w->version,
                                coord_unix(), "draining");
        return;
    }
    coord_worker_remove(c, w, "said goodbye");
}

void coord_worker_remove(coord_t *c, coord_worker_t *w, const char *why)
{
    int requeued = 0;
    while (w->leased) {
        coord_task_t *t = w->leased;
        coord_requeue(c, t, why);
        requeued++;
    }
    hpt_log(HPT_LOG_INFO, "workers", "worker left", "worker=%s name=%s reason=\"%s\" requeued=%d",
            w->id, w->name, why, requeued);
    coord_store_worker_seen(c->store, w->id, w->name, w->host, w->slots, w->version,
                            coord_unix(), "gone");
    list_remove(c, w);
    c->n_workers--;
    free(w);
    if (requeued)
        coord_dispatch(c);
}

void coord_workers_cron(coord_t *c)
{
    double now = coord_now();
    while (c->workers && c->workers->expiry < now) {
        char why[96];
        snprintf(why, sizeof why, "no message for %d heartbeat intervals", c->cfg.hb_liveness);
        coord_worker_remove(c, c->workers, why);
    }
    for (coord_worker_t *w = c->workers; w; w = w->next) {
        int newest = (w->rate_head + COORD_RATE_SAMPLES - 1) % COORD_RATE_SAMPLES;
        if (w->rate_n == 0 || now - w->rate[newest].at >= COORD_RATE_SAMPLE_S)
            rate_sample(w, now);
    }
    /* Heartbeats go to every registered worker, busy ones included: a busy
     * worker runs its liveness countdown too. */
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    static double last;
    if (now - last < c->cfg.hb_ivl_ms * 1e-3 * 0.9)
        return;
    last = now;
    for (coord_worker_t *w = c->workers, *next; w; w = next) {
        next = w->next;
        if (coord_send(c, &w->peer, &env) == -EHOSTUNREACH)
            coord_worker_remove(c, w, "its connection is gone");
    }
}

void coord_task_unlease(coord_t *c, coord_task_t *t)
{
    coord_worker_t *w = t->worker;
    if (!w) {
        if (t->orphan_of) {
            free(t->orphan_of);
            t->orphan_of = NULL;
            c->n_orphans--;
            t->sweep->tasks_running--;
        }
        return;
    }
    if (t->wprev)
        t->wprev->wnext = t->wnext;
    else
        w->leased = t->wnext;
    if (t->wnext)
        t->wnext->wprev = t->wprev;
    t->wprev = t->wnext = NULL;
    t->worker = NULL;
    w->busy--;
    t->sweep->tasks_running--;
}

void coord_workers_free(coord_t *c)
{
    while (c->workers) {
        coord_worker_t *w = c->workers;
        c->workers = w->next;
        free(w);
    }
    c->workers_tail = NULL;
    c->n_workers = 0;
}
