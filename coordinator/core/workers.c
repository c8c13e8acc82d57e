/*
 * workers.c: the worker table (Paranoid Pirate / Majordomo style), in the
 * core: no sockets, the time comes in with each entry point.
 *
 * Each registered worker has expiry = now + hb_ivl * liveness, refreshed by
 * any message from it.  The list is kept in expiry order (a refreshed worker
 * moves to the tail), so the purge in the tick stops at the first live one.
 * A dead worker's leased tasks go back to their sweeps' queues; their next
 * lease carries attempt + 1, so a late result from the dead attempt is
 * recognised and dropped.
 *
 * Identity (docs/security.md, "Identity"): a record belongs to the
 * connection that registered it (routing id and the ZAP handler's serial)
 * and to its CURVE key.  Its Welcome carries a session secret, of which the
 * record keeps only a hash; a Hello for its id from any other connection
 * (the worker's socket was replaced, or the coordinator restarted and the
 * id holds orphaned leases) must present that secret, from the same key.
 * Anything else is refused and changes nothing, so knowing a worker id (it
 * is in every log line) is not enough to take a worker's leases or post its
 * results.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "log.h"

static bool peer_eq(const hpt_peer_id_t *a, const hpt_peer_id_t *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

static void list_remove(coord_core_t *k, coord_worker_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        k->workers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        k->workers_tail = w->prev;
    w->prev = w->next = NULL;
}

static void list_append(coord_core_t *k, coord_worker_t *w)
{
    w->prev = k->workers_tail;
    w->next = NULL;
    if (k->workers_tail)
        k->workers_tail->next = w;
    else
        k->workers = w;
    k->workers_tail = w;
}

// --- lookups: chained hash tables by peer and by id -----------------------------

static uint64_t fnv(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static size_t peer_slot(const coord_core_t *k, const hpt_peer_id_t *p)
{
    return (size_t)fnv(p->bytes, p->len) & (k->tab_cap - 1);
}

static size_t id_slot(const coord_core_t *k, const char *id)
{
    return (size_t)fnv(id, strlen(id)) & (k->tab_cap - 1);
}

static void chain_remove(coord_worker_t **head, coord_worker_t *w, bool by_peer)
{
    for (coord_worker_t **pp = head; *pp; pp = by_peer ? &(*pp)->peer_next : &(*pp)->id_next)
        if (*pp == w) {
            *pp = by_peer ? w->peer_next : w->id_next;
            return;
        }
}

static void peer_link(coord_core_t *k, coord_worker_t *w)
{
    size_t i = peer_slot(k, &w->peer);
    w->peer_next = k->peer_tab[i];
    k->peer_tab[i] = w;
}

static void id_link(coord_core_t *k, coord_worker_t *w)
{
    size_t i = id_slot(k, w->id);
    w->id_next = k->id_tab[i];
    k->id_tab[i] = w;
}

/* Room for one more worker: double the tables (rehashing every worker)
 * when the load would pass 1.  Returns 0 or -ENOMEM. */
static int tab_reserve(coord_core_t *k)
{
    if ((size_t)k->n_workers + 1 <= k->tab_cap)
        return 0;
    size_t cap = k->tab_cap ? k->tab_cap * 2 : 64;
    coord_worker_t **pt = calloc(cap, sizeof *pt), **it = calloc(cap, sizeof *it);
    if (!pt || !it) {
        free(pt);
        free(it);
        return -ENOMEM;
    }
    free(k->peer_tab);
    free(k->id_tab);
    k->peer_tab = pt;
    k->id_tab = it;
    k->tab_cap = cap;
    for (coord_worker_t *w = k->workers; w; w = w->next) {
        peer_link(k, w);
        id_link(k, w);
    }
    return 0;
}

coord_worker_t *coord_worker_by_peer(const coord_core_t *k, const hpt_peer_id_t *peer)
{
    if (!k->tab_cap)
        return NULL;
    for (coord_worker_t *w = k->peer_tab[peer_slot(k, peer)]; w; w = w->peer_next)
        if (peer_eq(&w->peer, peer))
            return w;
    return NULL;
}

coord_worker_t *coord_worker_by_conn(const coord_core_t *k, const hpt_peer_id_t *peer,
                                     uint64_t conn)
{
    coord_worker_t *w = coord_worker_by_peer(k, peer);
    return w && w->conn == conn ? w : NULL;
}

coord_worker_t *hpt__worker_by_id(const coord_core_t *k, const char *id)
{
    if (!k->tab_cap)
        return NULL;
    for (coord_worker_t *w = k->id_tab[id_slot(k, id)]; w; w = w->id_next)
        if (strcmp(w->id, id) == 0)
            return w;
    return NULL;
}

// --- the free list ------------------------------------------------------------------

void hpt__worker_free_update(coord_core_t *k, coord_worker_t *w)
{
    bool want = w->slots - w->units - w->zombies > 0 && !w->draining;
    if (want == w->in_free)
        return;
    if (want) {
        w->fprev = k->free_tail;
        w->fnext = NULL;
        if (k->free_tail)
            k->free_tail->fnext = w;
        else
            k->free_head = w;
        k->free_tail = w;
    } else {
        if (w->fprev)
            w->fprev->fnext = w->fnext;
        else
            k->free_head = w->fnext;
        if (w->fnext)
            w->fnext->fprev = w->fprev;
        else
            k->free_tail = w->fprev;
        w->fprev = w->fnext = NULL;
    }
    w->in_free = want;
}

// --- throughput -----------------------------------------------------------------

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
    for (int i = 0; i < w->rate_n; i++) {
        int j = (w->rate_head - w->rate_n + i + 2 * COORD_RATE_SAMPLES) % COORD_RATE_SAMPLES;
        from = &w->rate[j];
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

// --- liveness -------------------------------------------------------------------

static void touch(coord_core_t *k, coord_worker_t *w)
{
    w->last_seen = k->now;
    w->expiry = k->now + k->cfg.hb_ivl_ms * 1e-3 * k->cfg.hb_liveness;
    if (w != k->workers_tail) {
        list_remove(k, w);
        list_append(k, w);
    }
}

int coord_worker_free_slots(const coord_worker_t *w, double now)
{
    int f = w->slots - w->units - w->zombies;
    if (w->cooldown_until > 0 && now < w->cooldown_until)
        return 0;
    return f > 0 && !w->draining ? f : 0;
}

int coord_worker_has_dataset(const coord_worker_t *w, const coord_sweep_t *s)
{
    for (int i = 0; i < w->n_datasets; i++) {
        if (strcmp(w->ds_name[i], s->spec->dataset) != 0)
            continue;
        /* "dry-run" is what `hptune-worker --dry-run` advertises: it trains
         * nothing and scores a test objective, so it may serve only sweeps
         * that ask for one (tests and benchmarks); its scores must never mix
         * with real ones. */
        if (strcmp(w->ds_fp[i], "dry-run") == 0)
            return s->spec->test_objective[0] ? 1 : -2;
        /* The sweep's fingerprint comes from the coordinator's own copy,
         * never from a worker (one that advertised a made-up value first
         * would lock every genuine worker out). */
        if (s->fingerprint[0] == '\0')
            return -3;
        if (strcmp(w->ds_fp[i], s->fingerprint) == 0)
            return 1;
        return -1;
    }
    return 0;
}

static void set_datasets(coord_worker_t *w, Hpt__DatasetInfo *const *ds, size_t n)
{
    w->n_datasets = 0;
    for (size_t i = 0; i < n && i < COORD_MAX_DATASETS; i++) {
        snprintf(w->ds_name[w->n_datasets], sizeof w->ds_name[0], "%s", ds[i]->name);
        snprintf(w->ds_fp[w->n_datasets], sizeof w->ds_fp[0], "%s", ds[i]->fingerprint);
        w->n_datasets++;
    }
}

static void datasets_str(const coord_worker_t *w, char *ds, size_t len)
{
    size_t off = 0;
    ds[0] = '\0';
    for (int i = 0; i < w->n_datasets && off < len; i++)
        off += (size_t)snprintf(ds + off, len - off, "%s%s", i ? "," : "", w->ds_name[i]);
}

// --- identity ---------------------------------------------------------------------

/* A worker id the core accepts: 1 to 255 printable ASCII characters, no
 * space, quote, backslash or '=' (it goes into every log line as a logfmt
 * value, and into the journal).  The worker builds it as host:pid:random. */
static bool worker_id_ok(const char *id)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++, n++)
        if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\' || *p == '=' || n >= 255)
            return false;
    return n > 0;
}

/* Whether secret (from a Hello) hashes to hash.  A secret of any other
 * length than the Welcome's proves nothing.  Constant time in the hash. */
static bool secret_proves(const ProtobufCBinaryData *secret, const uint8_t hash[32])
{
    if (secret->len != HPT_PROTO_SECRET_LEN)
        return false;
    uint8_t h[32];
    crypto_hash_sha256(h, secret->data, secret->len);
    return sodium_memcmp(h, hash, sizeof h) == 0;
}

static void send_disconnect(coord_core_t *k, const hpt_peer_id_t *peer, const char *reason,
                            Hpt__DisconnectCode code)
{
    Hpt__Disconnect d = HPT__DISCONNECT__INIT;
    d.reason = (char *)reason;
    d.code = code;
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_DISCONNECT;
    out.disconnect = &d;
    hpt__send(k, peer, &out);
}

/* Refuse a Hello: tell the peer (it registers under a new id), log it at
 * most five times a minute per peer, touch nothing else. */
static void refuse_hello(coord_core_t *k, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                         const char *worker_id, const char *why)
{
    char reason[320];
    snprintf(reason, sizeof reason, "hello refused: %s; register under a new worker id", why);
    send_disconnect(k, peer, reason, HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED);
    // Kind 6: 0 is main.c's, 1, 2 and 7 the core's others, 3 to 5 coord_zap.c's.
    if (!coord_core_log_allowed(k, k->now, peer, 6, 5))
        return;
    char id[80];
    hpt__event(k, COORD_EV_WORKER_REFUSED, -1, 0, "worker=%s peer=%s conn=%llu key=%s reason=%s",
               hpt__q(k, worker_id), hpt_peer_id_str(peer, id, sizeof id),
               (unsigned long long)conn->id, conn->key[0] ? conn->key : "-", hpt__q(k, why));
}

// --- results held for a connection that has not registered yet ----------------------

typedef struct coord_held {
    hpt_peer_id_t peer;
    uint64_t conn;
    double until;                 // monotonic: dropped after this
    size_t len;
    struct coord_held *next;
    uint8_t buf[];                // the packed Result
} coord_held_t;

static void held_free_head(coord_core_t *k)
{
    coord_held_t *h = k->held;
    k->held = h->next;
    if (!k->held)
        k->held_tail = NULL;
    k->n_held--;
    free(h);
}

/* Keep a Result that came on a connection with no worker (yet).  Bounded:
 * at most COORD_HELD_MAX results of at most COORD_HELD_BYTES each; the
 * oldest goes first.  A result not kept is dropped, as before holding
 * existed: its lease is then requeued as lost by the holder's heartbeats. */
static void held_add(coord_core_t *k, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                     const Hpt__Result *m)
{
    size_t len = hpt__result__get_packed_size(m);
    coord_held_t *h = len <= COORD_HELD_BYTES ? malloc(sizeof *h + len) : NULL;
    if (!h) {
        k->results_dropped++;
        return;
    }
    hpt__result__pack(m, h->buf);
    h->len = len;
    h->peer = *peer;
    h->conn = conn->id;
    h->until = k->now + 2.0 * k->cfg.hb_ivl_ms * 1e-3 * k->cfg.hb_liveness;
    h->next = NULL;
    if (k->n_held >= COORD_HELD_MAX) {
        held_free_head(k);
        k->results_dropped++;
    }
    if (k->held_tail)
        k->held_tail->next = h;
    else
        k->held = h;
    k->held_tail = h;
    k->n_held++;
    char id[80];
    hpt__event(k, COORD_EV_RESULT_HELD, -1, 0, "task=%llu attempt=%u peer=%s conn=%llu held=%d",
               (unsigned long long)m->task, m->attempt, hpt_peer_id_str(peer, id, sizeof id),
               (unsigned long long)conn->id, k->n_held);
}

/* w has just registered on its connection: the results held for that
 * connection are its, in the order they came. */
static void held_deliver(coord_core_t *k, coord_worker_t *w)
{
    coord_held_t **pp = &k->held, *prev = NULL;
    while (*pp) {
        coord_held_t *h = *pp;
        if (h->conn != w->conn || h->peer.len != w->peer.len ||
            memcmp(h->peer.bytes, w->peer.bytes, h->peer.len) != 0) {
            prev = h;
            pp = &h->next;
            continue;
        }
        *pp = h->next;
        if (k->held_tail == h)
            k->held_tail = prev;
        k->n_held--;
        Hpt__Result *m = hpt__result__unpack(NULL, h->len, h->buf);
        if (m) {
            hpt__result(k, w, &w->peer, m);
            hpt__result__free_unpacked(m, NULL);
        }
        free(h);
        /* hpt__result may have removed nothing but w's leases; w itself
         * stays (only a Goodbye or a failed send removes a worker). */
    }
}

void hpt__held_expire(coord_core_t *k)
{
    while (k->held && k->held->until <= k->now) {
        held_free_head(k);
        k->results_dropped++;
    }
}

/* A Hello whose strings are not plain text (a control character, a byte that
 * is not UTF-8: a terminal escape or a fake log line in the making) is
 * refused before it touches the worker table: a Disconnect naming the field,
 * and an event at most 5 times a minute per peer.  Returns whether it was. */
static bool hello_refused(coord_core_t *k, const hpt_peer_id_t *peer, const Hpt__Hello *m)
{
    hpt_err e = {0};
    if (hpt_proto_hello_text_check(m, &e) == 0)
        return false;
    char id[80], reason[HPT_ERR_MSG_LEN + 32];
    snprintf(reason, sizeof reason, "hello refused: %s", e.msg);
    if (coord_core_log_allowed(k, k->now, peer, 7, 5))
        hpt__event(k, COORD_EV_HELLO_REFUSED, -1, 0, "peer=%s worker=%s reason=%s",
                   hpt_peer_id_str(peer, id, sizeof id), hpt__q(k, m->worker_id),
                   hpt__q(k, e.msg));
    Hpt__Disconnect d = HPT__DISCONNECT__INIT;
    d.reason = reason;
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_DISCONNECT;
    out.disconnect = &d;
    hpt__send(k, peer, &out);
    return true;
}

// --- Hello ------------------------------------------------------------------------

void coord_core_hello(coord_core_t *k, double now, const hpt_peer_id_t *peer,
                      const coord_conn_t *conn, const Hpt__Hello *m)
{
    k->now = now;
    if (hello_refused(k, peer, m))
        return;
    if (!worker_id_ok(m->worker_id)) {
        refuse_hello(k, peer, conn, m->worker_id,
                     "worker_id must be 1 to 255 printable characters without space, quote, "
                     "backslash or '='");
        return;
    }
    coord_worker_t *w = hpt__worker_by_id(k, m->worker_id);
    coord_worker_t *same_peer = coord_worker_by_peer(k, peer);
    if (same_peer && same_peer->conn != conn->id) {
        /* A routing id names a connection only while it is open: this one
         * is another worker's, from a connection that has closed.  That
         * worker's record is left to its own reconnect or expiry. */
        refuse_hello(k, peer, conn, m->worker_id,
                     "this routing id belongs to another worker's connection");
        return;
    }
    /* Taking over an id registered elsewhere, or one whose orphaned leases
     * wait after a restart, needs that worker's session secret from its
     * key: a new connection of the same worker has both, anyone else
     * neither. */
    const coord_orphan_t *orphan = NULL;
    if (w && w != same_peer) {
        if (strcmp(w->key, conn->key) != 0) {
            refuse_hello(k, peer, conn, m->worker_id,
                         "the worker id is registered with another key");
            return;
        }
        if (!secret_proves(&m->session_secret, w->secret_hash)) {
            refuse_hello(k, peer, conn, m->worker_id,
                         m->session_secret.len ? "wrong session secret for this worker id"
                                               : "the worker id is registered on another "
                                                 "connection and the hello has no session secret");
            return;
        }
    } else if (!w && k->n_orphans && (orphan = hpt__orphan_of(k, m->worker_id)) != NULL) {
        if (orphan->key[0] && strcmp(orphan->key, conn->key) != 0) {
            refuse_hello(k, peer, conn, m->worker_id,
                         "the worker id held leases before the restart with another key");
            return;
        }
        if (!secret_proves(&m->session_secret, orphan->secret_hash)) {
            refuse_hello(k, peer, conn, m->worker_id,
                         "the worker id held leases before the restart; its session secret "
                         "is missing or wrong");
            return;
        }
    }
    if (same_peer && same_peer != w)
        hpt__worker_remove(k, same_peer, "its connection now belongs to another worker id",
                           true);
    bool again = w != NULL;
    uint8_t secret[HPT_PROTO_SECRET_LEN];
    bool issue = false;
    /* A Hello repeated on the connection that registered the worker (a
     * worker told to Disconnect, or a peer that says Hello over and over):
     * answered as usual, but reported at debug only, so that it writes no
     * event row into the journal each time. */
    bool same_conn = again && w == same_peer;
    if (!w) {
        w = tab_reserve(k) == 0 ? calloc(1, sizeof *w) : NULL;
        if (!w) {
            hpt__event(k, COORD_EV_OUT_OF_MEMORY, -1, 0, "what=worker");
            return;
        }
        snprintf(w->id, sizeof w->id, "%s", m->worker_id);
        snprintf(w->key, sizeof w->key, "%s", conn->key);
        if (orphan) {
            // It keeps the secret it proved: the journal already has its hash.
            memcpy(w->secret_hash, orphan->secret_hash, sizeof w->secret_hash);
        } else {
            k->cfg.random(k->cfg.random_ud, secret, sizeof secret);
            crypto_hash_sha256(w->secret_hash, secret, sizeof secret);
            issue = true;
        }
        w->connected = hpt__unix(k);
        rate_sample(w, now);   // rates count from here
        list_append(k, w);
        k->n_workers++;
        w->peer = *peer;
        w->conn = conn->id;
        peer_link(k, w);
        id_link(k, w);
    } else if (same_conn && !secret_proves(&m->session_secret, w->secret_hash)) {
        /* A Hello retried on the connection that registered the worker,
         * without the secret its Welcome carried: that Welcome was lost
         * (or the worker restarted its registration).  Same record, same
         * id, a fresh secret in this Welcome, so the worker can prove
         * itself on its next connection instead of registering under a new
         * id and leaving a ghost.  Only this connection can ask for it: it
         * already holds the record. */
        k->cfg.random(k->cfg.random_ud, secret, sizeof secret);
        crypto_hash_sha256(w->secret_hash, secret, sizeof secret);
        issue = true;
    } else if (!peer_eq(&w->peer, peer) || w->conn != conn->id) {
        /* The same worker on a new connection (it proved it above) keeps its
         * record and its leases: its running tasks report on the new one. */
        chain_remove(&k->peer_tab[peer_slot(k, &w->peer)], w, true);
        w->peer = *peer;
        w->conn = conn->id;
        peer_link(k, w);
    }
    snprintf(w->name, sizeof w->name, "%s", m->name[0] ? m->name : m->host);
    snprintf(w->host, sizeof w->host, "%s", m->host);
    snprintf(w->version, sizeof w->version, "%s", m->version);
    w->slots = (int)m->slots;
    w->mem_budget = m->max_model_mem;
    w->fuse_max = (int)m->fuse_max;   // validated: 0..HPT_PROTO_MAX_FUSE
    w->draining = false;
    hpt__worker_free_update(k, w);
    set_datasets(w, m->datasets, m->n_datasets);
    touch(k, w);
    char ds[512], id[80];
    datasets_str(w, ds, sizeof ds);
    hpt__event(k, again ? COORD_EV_WORKER_REREGISTERED : COORD_EV_WORKER_JOINED,
               same_conn ? HPT_LOG_DEBUG : -1, 0,
               "worker=%s name=%s host=%s slots=%d version=%s datasets=%s peer=%s conn=%llu "
               "key=%s",
               hpt__q(k, w->id), hpt__q(k, w->name), hpt__q(k, w->host), w->slots,
               hpt__q(k, w->version), ds[0] ? hpt__q(k, ds) : "none",
               hpt_peer_id_str(peer, id, sizeof id), (unsigned long long)w->conn,
               w->key[0] ? w->key : "-");
    hpt__j_worker_seen(k, w, hpt__unix(k), "ready");
    Hpt__Welcome wm = HPT__WELCOME__INIT;
    wm.heartbeat_ms = (uint32_t)k->cfg.hb_ivl_ms;
    wm.liveness = (uint32_t)k->cfg.hb_liveness;
    if (issue) {
        wm.session_secret.data = secret;
        wm.session_secret.len = sizeof secret;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_WELCOME;
    env.welcome = &wm;
    hpt__send(k, &w->peer, &env);   // packed now: the secret's copy is in the outbox only
    sodium_memzero(secret, sizeof secret);
    w->last_sent = now;
    if (k->n_orphans)
        hpt__orphans_adopt(k, w);
    if (k->n_held)
        held_deliver(k, w);
    hpt__dispatch(k);
}

static void on_heartbeat(coord_core_t *k, coord_worker_t *w, const Hpt__Heartbeat *m)
{
    /* Tasks the worker still runs but no longer holds a lease for (cancelled,
     * or re-leased elsewhere) occupy its slots until they stop. */
    int zombies = 0;
    for (size_t i = 0; i < m->n_running; i++) {
        const Hpt__TaskProgress *p = m->running[i];
        bool leased = false;
        for (coord_task_t *t = w->leased; t; t = t->lease->wnext)
            if (t->id == p->task && t->attempt == p->attempt) {
                leased = true;
                if (p->epoch > (uint32_t)t->lease->epoch && p->epoch <= 1000000) {
                    t->lease->epoch = (int)p->epoch;
                    t->lease->progress_at = k->now;
                }
            }
        zombies += !leased;
    }
    bool freed = zombies < w->zombies;
    w->zombies = zombies;
    hpt__worker_free_update(k, w);
    /* A lease the worker does not report running is lost: its result went
     * down with a connection or a coordinator.  Results and heartbeats
     * travel in order on one connection, so a finished task's result would
     * have arrived before this heartbeat; the grace covers an Assign still
     * on its way to the worker when it sent the heartbeat. */
    double grace = 3.0 * k->cfg.hb_ivl_ms * 1e-3;
    for (coord_task_t *t = w->leased, *tn; t; t = tn) {
        tn = t->lease->wnext;
        if (k->now - t->lease->leased_at <= grace)
            continue;
        bool running = false;
        for (size_t i = 0; i < m->n_running && !running; i++)
            running = m->running[i]->task == t->id && m->running[i]->attempt == t->attempt;
        if (!running) {
            hpt__requeue(k, t, "the worker does not report it running (its result was lost)");
            freed = true;
        }
    }
    if (freed)
        hpt__dispatch(k);
}

static void on_goodbye(coord_core_t *k, coord_worker_t *w, const Hpt__Goodbye *m)
{
    if (m->drain && w->busy > 0) {
        w->draining = true;
        hpt__worker_free_update(k, w);
        hpt__event(k, COORD_EV_WORKER_DRAINING, -1, 0, "worker=%s running=%d", hpt__q(k, w->id),
                   w->busy);
        hpt__j_worker_seen(k, w, hpt__unix(k), "draining");
        return;
    }
    hpt__worker_remove(k, w, "said goodbye", false);
}

static void on_datasets(coord_core_t *k, coord_worker_t *w, const Hpt__Datasets *m)
{
    set_datasets(w, m->datasets, m->n_datasets);
    char ds[512];
    datasets_str(w, ds, sizeof ds);
    hpt__event(k, COORD_EV_WORKER_DATASETS, -1, 0, "worker=%s datasets=%s bytes_served=%llu",
               hpt__q(k, w->id), ds[0] ? hpt__q(k, ds) : "none",
               (unsigned long long)w->bytes_served);
    w->offer_at = 0;   // another sweep's dataset may be missing still: offer it at once
    hpt__dispatch(k);
}

coord_worker_t *coord_core_worker_msg(coord_core_t *k, double now, const hpt_peer_id_t *peer,
                                      const coord_conn_t *conn, const hpt_env_t *env)
{
    k->now = now;
    int body = (int)env->body_case;
    coord_worker_t *w = coord_worker_by_conn(k, peer, conn->id);
    if (!w) {
        /* Not a registered worker's connection: a new connection of a
         * worker that has not said Hello on it yet (its socket was
         * replaced, or we restarted), or a peer that never registered.  A
         * Result is kept for a while in case this connection registers as
         * its lease's holder; it counts only then.  A message with the
         * routing id of a registered worker but from another connection
         * (the id of a connection that has closed) is treated the same and
         * leaves that worker alone. */
        if (body == HPT__ENVELOPE__BODY_RESULT)
            held_add(k, peer, conn, env->result);
        /* MDP: an unknown peer speaking worker messages must register. */
        char id[80];
        if (coord_core_log_allowed(k, now, peer, 1, 5))
            hpt__event(k, COORD_EV_UNREGISTERED_PEER, -1, 0, "peer=%s conn=%llu body=%s%s",
                       hpt_peer_id_str(peer, id, sizeof id), (unsigned long long)conn->id,
                       hpt_proto_body_name(body),
                       coord_worker_by_peer(k, peer)
                           ? " note=\"the routing id of another connection's worker\""
                           : "");
        send_disconnect(k, peer, "unknown worker: send Hello",
                        HPT__DISCONNECT_CODE__DISCONNECT_REGISTER);
        return NULL;
    }
    touch(k, w);
    switch (body) {
    case HPT__ENVELOPE__BODY_HEARTBEAT: on_heartbeat(k, w, env->heartbeat); break;
    case HPT__ENVELOPE__BODY_PROGRESS: hpt__progress(k, w, env->progress); break;
    case HPT__ENVELOPE__BODY_RESULT: hpt__result(k, w, peer, env->result); break;
    case HPT__ENVELOPE__BODY_GOODBYE: on_goodbye(k, w, env->goodbye); break;
    case HPT__ENVELOPE__BODY_DATASETS: on_datasets(k, w, env->datasets); break;
    default: break;   // FetchChunk: served by the shell
    }
    /* The worker may have left (Goodbye): it is not valid after a removal. */
    return coord_worker_by_conn(k, peer, conn->id);
}

void hpt__worker_remove(coord_core_t *k, coord_worker_t *w, const char *why, bool lost)
{
    int requeued = 0;
    while (w->leased) {
        hpt__requeue(k, w->leased, why);
        requeued++;
    }
    if (lost) {   // for /metrics: a worker that went without saying goodbye
        k->workers_lost++;
        k->leases_lost += (uint64_t)requeued;
    }
    hpt__event(k, COORD_EV_WORKER_LEFT, -1, 0, "worker=%s name=%s reason=%s requeued=%d",
               hpt__q(k, w->id), hpt__q(k, w->name), hpt__q(k, why), requeued);
    hpt__j_worker_seen(k, w, hpt__unix(k), "gone");
    w->draining = true;   // off the free list
    hpt__worker_free_update(k, w);
    chain_remove(&k->peer_tab[peer_slot(k, &w->peer)], w, true);
    chain_remove(&k->id_tab[id_slot(k, w->id)], w, false);
    list_remove(k, w);
    k->n_workers--;
    free(w);
    if (requeued)
        hpt__dispatch(k);
}

void coord_core_unroutable(coord_core_t *k, double now, const hpt_peer_id_t *peer)
{
    k->now = now;
    coord_worker_t *w = coord_worker_by_peer(k, peer);
    if (w)
        hpt__worker_remove(k, w, "its connection is gone", true);
}

void coord_core_stalled(coord_core_t *k, double now, double secs)
{
    k->now = now;
    if (!(secs > 0))
        return;
    /* Every worker moves by the same amount: the list stays in expiry order. */
    for (coord_worker_t *w = k->workers; w; w = w->next)
        w->expiry += secs;
}

void hpt__workers_tick(coord_core_t *k)
{
    double now = k->now;
    while (k->workers && k->workers->expiry < now) {
        char why[96];
        snprintf(why, sizeof why, "no message for %d heartbeat intervals", k->cfg.hb_liveness);
        hpt__worker_remove(k, k->workers, why, true);
    }
    for (coord_worker_t *w = k->workers; w; w = w->next) {
        int newest = (w->rate_head + COORD_RATE_SAMPLES - 1) % COORD_RATE_SAMPLES;
        if (w->rate_n == 0 || now - w->rate[newest].at >= COORD_RATE_SAMPLE_S)
            rate_sample(w, now);
    }
    /* Heartbeats go to every registered worker, busy ones included: a busy
     * worker runs its liveness countdown too. */
    if (now - k->last_hb < k->cfg.hb_ivl_ms * 1e-3 * 0.9)
        return;
    k->last_hb = now;
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    /* Any message resets a worker's liveness countdown, so a worker sent an
     * Assign or Welcome within the interval needs no heartbeat: under load
     * that halves the messages per second. */
    double ivl = k->cfg.hb_ivl_ms * 1e-3;
    for (coord_worker_t *w = k->workers; w; w = w->next)
        if (w->last_sent <= 0 || now - w->last_sent >= ivl * 0.9)
            hpt__send(k, &w->peer, &env);
}

void hpt__workers_free(coord_core_t *k)
{
    while (k->held)
        held_free_head(k);
    while (k->workers) {
        coord_worker_t *w = k->workers;
        k->workers = w->next;
        free(w);
    }
    k->workers_tail = NULL;
    k->n_workers = 0;
    k->free_head = k->free_tail = NULL;
    free(k->peer_tab);
    free(k->id_tab);
    k->peer_tab = k->id_tab = NULL;
    k->tab_cap = 0;
}

bool coord_core_log_allowed(coord_core_t *k, double now, const hpt_peer_id_t *peer, int kind,
                            int per_minute)
{
    /* A fixed table hashed by (peer, kind): at most per_minute lines per
     * slot per minute.  Collisions only make it stricter, and memory stays
     * fixed however many peers misbehave. */
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)kind;
    for (int i = 0; i < peer->len; i++)
        h = (h ^ peer->bytes[i]) * 1099511628211ULL;
    size_t slot = (size_t)(h % COORD_LOG_SLOTS);
    if (k->log_slot_hash[slot] == h && now - k->log_slot_time[slot] < 60) {
        if (k->log_slot_count[slot] >= per_minute)
            return false;
        k->log_slot_count[slot]++;
        return true;
    }
    k->log_slot_hash[slot] = h;
    k->log_slot_time[slot] = now;
    k->log_slot_count[slot] = 1;
    return true;
}

void coord_core_tick(coord_core_t *k, double now)
{
    k->now = now;
    hpt__workers_tick(k);
    hpt__stalls(k);
    hpt__mem_unfit(k);
    if (k->n_orphans)
        hpt__orphans_expire(k);
    if (k->n_held)
        hpt__held_expire(k);
    hpt__dispatch(k);
    /* The next tick: the next heartbeat, or sooner when a worker expires. */
    double at = k->last_hb + k->cfg.hb_ivl_ms * 1e-3;
    if (k->workers && k->workers->expiry < at)
        at = k->workers->expiry;
    if (at < now + 0.001)
        at = now + 0.001;
    hpt__timer(k, at);
}
