/*
 * main.c: hptune-worker, the daemon that runs training tasks for a
 * coordinator.
 *
 * One libuv loop on the main thread owns everything that talks: the DEALER
 * socket (through the zsock watcher), one housekeeping timer, the signal
 * handles and the trainer queue's async handle.  Training runs on one thread
 * per task (wrk_trainer.h); those threads never touch the socket.  The model
 * cache (wrk_cache.h) belongs to the loop too: a task that continues a cached
 * model gets it at creation and gives its model back in its FINISH item.
 *
 * Protocol (Paranoid Pirate, STYLE §11): connect, send Hello; any message from
 * the coordinator resets `liveness`; each heartbeat interval without one
 * decrements it; at 0 the socket is closed, the backoff waited out (doubling
 * up to reconnect_max_ms, reset by Welcome), and a new socket connects and
 * sends Hello again.  Running tasks keep running across reconnects.
 *
 * The socket sets ZMQ_IMMEDIATE, so a send fails with EAGAIN instead of
 * queueing into a pipe while no connection is up.  That is what lets the
 * worker keep a Result it could not send in `outbox` and send it after the
 * next Hello, rather than lose it when the old socket is closed with linger 0.
 * The price is that Hello cannot be sent until the TCP connection is up; the
 * housekeeping timer retries it (hello_pending).
 *
 * States of the connection: OPEN (socket and watcher live), CLOSING (watcher
 * closing, the socket is closed in its callback), BACKOFF (no socket; the
 * timer reconnects at reconnect_at).  Shutdown (drain done, second signal or
 * Reject) closes every handle so uv_run returns, then main joins the threads.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "blas.h"
#include "curve.h"
#include "dataset.h"
#include "hpt_config.h"
#include "log.h"
#include "proto_io.h"
#include "wrk_cache.h"
#include "wrk_config.h"
#include "wrk_fetch.h"
#include "wrk_name.h"
#include "wrk_trainer.h"
#include "zsock.h"

#define COMP "worker"
#define OUTBOX_MAX 1024     // unsent Results kept across a reconnect
#define TICK_MAX_MS 100     // the housekeeping timer runs at least this often
#define DRAIN_LINGER_MS 2000  // at most this long to flush the last Result at exit
#define DRAIN_OUTBOX_MIN_MS 2000   // after a drain, wait at least this long for the
#define DRAIN_OUTBOX_MAX_MS 30000  // coordinator to take unsent Results, at most this
#define BADMSG_LOG_MS 1000  // at most one invalid-message warning per second

typedef enum conn_state { CONN_OPEN, CONN_CLOSING, CONN_BACKOFF } conn_state_t;

/* A running task as the loop sees it. */
typedef struct run {
    wrk_task_t *t;       // owned
    uint64_t task;
    uint32_t attempt;
    bool cancelled;      // by Cancel, a newer attempt or shutdown: its output is dropped
    bool replaced;       // a newer attempt took over its slot
    bool cacheable;      // its model goes to the cache when it ends normally
    wrk_cache_key_t key; // the cache key (when cacheable)
    size_t mem;          // bytes reserved for it in the memory budget (wrk_task_mem_bytes)
} run_t;

/* A bundle being received: the coordinator sends its Assigns back to back
 * (Assign.bundle, bundle_size); it starts when the last one arrives, or
 * short after one heartbeat interval (a member that could not be leased, or
 * was cancelled before it started). */
typedef struct pend {
    uint64_t bundle;     // 0: none pending
    uint32_t size;       // the members announced
    int n;               // the members here
    uint64_t since;      // uv_now() when the first arrived
    const hpt_dataset_t *ds;
    wrk_task_spec_t spec[HPT_PROTO_MAX_FUSE];
    run_t run[HPT_PROTO_MAX_FUSE];
    hpt_train_session_t *resume[HPT_PROTO_MAX_FUSE];  // owned: models from the cache
} pend_t;

/* A Result waiting for a connection. */
typedef struct outmsg {
    struct outmsg *next;
    wrk_result_t r;
} outmsg_t;

typedef struct hpt_wrk {
    uv_loop_t *loop;
    hpt_wrk_cfg cfg;
    char worker_id[HPT_WRK_NAME_LEN + 64];  // host:pid:random; a new one only when the
                                            // coordinator refuses this one (new_worker_id)
    char host[HPT_WRK_NAME_LEN];
    int name_fd;               // holds the claim on the default name (wrk_name.h), or -1
    /* The session secret the coordinator's Welcome gave this worker_id: sent
     * in every later Hello, so that a new connection of this worker (a
     * reconnect, a coordinator restart) can prove it is the one that
     * registered the id and keep its leases (docs/protocol.md, "Identity
     * and reconnects").  Wiped at exit and when the id changes. */
    uint8_t secret[HPT_PROTO_SECRET_LEN];
    bool has_secret;

    // Datasets, loaded once, read by every trainer thread.
    hpt_dataset_t *ds[HPT_WRK_MAX_DATASETS];
    int n_ds;
    // --dry-run loads nothing and advertises these names instead (borrowed).
    const char *dry_names[HPT_WRK_MAX_DATASETS];
    int n_dry;
    // Datasets the coordinator offers are fetched into fetch_root (wrk_fetch.h);
    // NULL with --dry-run.
    wrk_fetch_t *fetch;
    char fetch_root[HPT_WRK_PATH_LEN];
    unsigned offers_ignored;   // offers not taken (--no-fetch, draining), for the log

    // The connection.
    bool curve;                // CURVE keys given: every socket is a CURVE client
    hpt_curve_pair_t keys;     // this worker's key pair (the secret is wiped at exit)
    char server_key[HPT_CURVE_Z85_LEN + 1];  // the coordinator's public key, Z85
    void *zctx;
    void *sock;                // DEALER; NULL unless OPEN or CLOSING
    hpt_zsock_t zs;
    /* The DEALER's handshake failures, from a socket monitor (a PAIR; NULL
     * when it could not be set up).  Either side of a failed handshake may be
     * the one that sees why (libzmq closes as soon as it can tell), so the
     * worker reports what it sees too. */
    void *mon;
    unsigned mon_seq;          // makes each monitor's inproc endpoint unique
    bool mon_told;             // this socket's handshake failure was logged
    conn_state_t conn;
    bool hello_pending;        // Hello not sent yet on this socket
    bool welcomed;             // a Welcome answered the last Hello sent
    int unwelcomed;            // heartbeat intervals since that Hello, without Welcome
    int hb_ivl_ms;             // from the config, then from Welcome
    int liveness_max;
    int liveness;              // intervals left before reconnecting
    bool rx_seen;              // a message arrived during this interval
    uint64_t hb_due;           // uv_now() of the next heartbeat
    uint64_t reconnect_at;     // uv_now() to reconnect (BACKOFF)
    int backoff_ms;            // the next backoff
    uint64_t badmsg_logged;    // uv_now() of the last invalid-message warning
    unsigned badmsg_count;     // invalid messages since that warning

    // Tasks and their output.
    wrk_queue_t q;
    run_t *runs;               // (n_runs) running threads, cancelled ones included
    size_t n_runs, cap_runs;
    outmsg_t *outbox, *outbox_tail;
    size_t n_outbox;
    wrk_cache_t *cache;        // finished tasks' models (loop thread only)
    pend_t pend;               // the bundle being received
    uint64_t mem_budget;       // bytes the running tasks' models may take together
                               // (--max-model-mem, or derived at start: set_mem_budget)

    // Housekeeping and signals.
    uv_timer_t tick;
    int tick_ms;
    uv_signal_t sig_int, sig_term, sig_hup;

    bool draining;             // first SIGINT/SIGTERM: finish tasks, then exit
    uint64_t drain_deadline;   // uv_now() to give up on the outbox; 0 = not set
    bool stopping;             // handles are closing; uv_run is about to return
    int exit_status;
} hpt_wrk_t;

// --- small helpers -------------------------------------------------------

static int tick_period(int hb_ivl_ms)
{
    int t = hb_ivl_ms / 2;
    return t < 1 ? 1 : t > TICK_MAX_MS ? TICK_MAX_MS : t;
}

/* Slots in use: running threads (a bundle's tasks share one), except those
 * whose slot a newer attempt of the same task has taken over, and the
 * bundle being received. */
static int slots_used(const hpt_wrk_t *w)
{
    int n = w->pend.n > 0;
    for (size_t i = 0; i < w->n_runs; i++) {
        const wrk_group_t *g = wrk_task_group(w->runs[i].t);
        bool first = !w->runs[i].replaced;
        for (size_t j = 0; j < i && g && first; j++)
            first = w->runs[j].replaced || wrk_task_group(w->runs[j].t) != g;
        n += first;
    }
    return n;
}

/* Bytes of the memory budget the running threads hold, cancelled and
 * superseded ones included: their memory is freed only when they end. */
static uint64_t mem_reserved(const hpt_wrk_t *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_runs; i++)
        n += w->runs[i].mem;
    for (int i = 0; i < w->pend.n; i++)
        n += w->pend.run[i].mem;
    return n;
}

/* "1.5 GiB", "640.0 MiB": a size for messages.  Returns buf. */
static const char *fmt_bytes(uint64_t b, char *buf, size_t len)
{
    if (b >= (1ull << 30))
        snprintf(buf, len, "%.1f GiB", (double)b / (1ull << 30));
    else
        snprintf(buf, len, "%.1f MiB", (double)b / (1ull << 20));
    return buf;
}

/* The memory budget: --max-model-mem, or with auto a share of what the
 * machine (or the cgroup) has available now that the datasets are loaded,
 * less the model cache's bound (docs/worker.md, "Memory budget"). */
static void set_mem_budget(hpt_wrk_t *w)
{
    uint64_t set = 0, avail = 0, cache = (uint64_t)w->cfg.model_cache_mb << 20;
    const char *src = "unknown";
    wrk_cfg_mem_parse(w->cfg.max_model_mem, &set, NULL);   // checked with the config
    if (set) {
        w->mem_budget = set;
        src = "--max-model-mem";
    } else if (wrk_mem_available(&avail, &src) == 0) {
        double share = (double)avail * HPT_WRK_MEM_AUTO_FRACTION - (double)cache;
        w->mem_budget = share > (double)HPT_WRK_MEM_AUTO_FLOOR ? (uint64_t)share
                                                                : HPT_WRK_MEM_AUTO_FLOOR;
    } else {
        w->mem_budget = UINT64_MAX;   // nothing to go by: no limit, as before
        src = "none (memory available unknown)";
    }
    char b[32], a[32], s[32];
    hpt_log(HPT_LOG_INFO, COMP, "memory budget",
            "max_model_mem=\"%s\" from=\"%s\" available=\"%s\" per_slot=\"%s\" slots=%d",
            w->mem_budget == UINT64_MAX ? "unlimited" : fmt_bytes(w->mem_budget, b, sizeof b),
            src, avail ? fmt_bytes(avail, a, sizeof a) : "-",
            w->mem_budget == UINT64_MAX ? "-"
                                        : fmt_bytes(w->mem_budget / (uint64_t)w->cfg.slots, s,
                                                    sizeof s),
            w->cfg.slots);
}

static run_t *find_run(hpt_wrk_t *w, const wrk_task_t *t)
{
    for (size_t i = 0; i < w->n_runs; i++)
        if (w->runs[i].t == t)
            return &w->runs[i];
    return NULL;
}

static const hpt_dataset_t *find_dataset(const hpt_wrk_t *w, const char *name)
{
    for (int i = 0; i < w->n_ds; i++)
        if (strcmp(w->ds[i]->name, name) == 0)
            return w->ds[i];
    return NULL;
}

/* A random 32-bit value for the worker id (not security relevant). */
static uint32_t random_u32(void)
{
    uint32_t v = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&v, sizeof v, 1, f) != 1) {
        uv_timeval64_t tv;
        uv_gettimeofday(&tv);
        v = (uint32_t)(tv.tv_usec ^ (tv.tv_sec << 20) ^ (uint64_t)getpid() * 2654435761u);
    }
    if (f)
        fclose(f);
    return v;
}

/* A worker id for this process: host:pid:random, the host part cut to 200
 * bytes and any character the coordinator would refuse (space, control,
 * non-ASCII, quote, backslash, '=') replaced by '_'.  Forgets the session
 * secret of the previous id. */
static void new_worker_id(hpt_wrk_t *w)
{
    char host[201];
    snprintf(host, sizeof host, "%.200s", w->host);
    for (char *p = host; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p > '~' || *p == '"' || *p == '\\' ||
            *p == '=')
            *p = '_';
    snprintf(w->worker_id, sizeof w->worker_id, "%s:%ld:%08x", host[0] ? host : "localhost",
             (long)getpid(), random_u32());
    sodium_memzero(w->secret, sizeof w->secret);
    w->has_secret = false;
}

// --- sending -------------------------------------------------------------

/* Send env on the current socket.  Returns 0 or -errno (-EAGAIN when no
 * connection is up, -ENOTCONN when there is no socket). */
static int send_env(hpt_wrk_t *w, hpt_env_t *env)
{
    if (w->conn != CONN_OPEN)
        return -ENOTCONN;
    int rc = hpt_proto_send(w->sock, NULL, env, ZMQ_DONTWAIT);
    // A send can change ZMQ_EVENTS without an edge on ZMQ_FD.
    hpt_zsock_kick(&w->zs);
    return rc;
}

static void flush_outbox(hpt_wrk_t *w);
static void send_goodbye(hpt_wrk_t *w);
static void pend_start(hpt_wrk_t *w);
static void pend_drop(hpt_wrk_t *w, int i);

static void send_hello(hpt_wrk_t *w)
{
    Hpt__DatasetInfo info[HPT_WRK_MAX_DATASETS];
    Hpt__DatasetInfo *infop[HPT_WRK_MAX_DATASETS];
    int n = w->cfg.dry_run ? w->n_dry : w->n_ds;
    for (int i = 0; i < n; i++) {
        hpt__dataset_info__init(&info[i]);
        if (w->cfg.dry_run) {
            // The coordinator matches "dry-run" to any fingerprint.
            info[i].name = (char *)w->dry_names[i];
            info[i].fingerprint = (char *)"dry-run";
        } else {
            info[i].name = w->ds[i]->name;
            info[i].fingerprint = w->ds[i]->fingerprint;
            info[i].n_train = w->ds[i]->train.n;
            info[i].n_test = w->ds[i]->test.n;
        }
        infop[i] = &info[i];
    }
    Hpt__Hello hello = HPT__HELLO__INIT;
    hello.worker_id = w->worker_id;
    hello.name = w->cfg.name;
    hello.host = w->host;
    hello.slots = (uint32_t)w->cfg.slots;
    hello.version = (char *)HPT_VERSION;
    hello.n_datasets = (size_t)n;
    hello.datasets = infop;
    /* The budget (0: unlimited), so that the coordinator sends only tasks
     * whose model can fit; the worker still checks each (on_assign). */
    hello.max_model_mem = w->mem_budget == UINT64_MAX || w->cfg.dry_run
                              ? 0
                              : w->mem_budget > HPT_PROTO_MAX_MODEL_MEM ? HPT_PROTO_MAX_MODEL_MEM
                                                                         : w->mem_budget;
    /* Bundles: tasks that see the same mini-batches trained in one slot
     * (wrk_task_new_group).  A dry run trains nothing to fuse. */
    hello.fuse_max = w->cfg.dry_run ? 0 : HPT_PROTO_MAX_FUSE;
    if (w->has_secret) {
        hello.session_secret.data = w->secret;
        hello.session_secret.len = sizeof w->secret;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    int rc = send_env(w, &env);
    if (rc == 0) {
        w->hello_pending = false;
        w->welcomed = false;
        w->unwelcomed = 0;
        hpt_log(HPT_LOG_INFO, COMP, "hello sent", "coordinator=%s worker_id=%s slots=%d "
                "datasets=%d", w->cfg.coordinator, w->worker_id, w->cfg.slots, n);
        /* Results held back while there was no connection go right behind the
         * Hello; a draining worker then says Goodbye again, because for the
         * coordinator this registration is a new one. */
        flush_outbox(w);
        if (w->draining)
            send_goodbye(w);
        if (w->fetch)
            wrk_fetch_reconnected(w->fetch);
    } else {
        // Retried by the housekeeping timer; EAGAIN just means "not connected yet".
        w->hello_pending = true;
        hpt_log(rc == -EAGAIN ? HPT_LOG_DEBUG : HPT_LOG_WARN, COMP, "hello not sent, will retry",
                "coordinator=%s error=\"%s\"", w->cfg.coordinator, hpt_strerror(rc));
    }
}

static void send_goodbye(hpt_wrk_t *w)
{
    Hpt__Goodbye bye = HPT__GOODBYE__INIT;
    bye.drain = true;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_GOODBYE;
    env.goodbye = &bye;
    int rc = w->hello_pending ? -ENOTCONN : send_env(w, &env);
    if (rc < 0)
        hpt_log(HPT_LOG_WARN, COMP, "goodbye not sent", "error=\"%s\"", hpt_strerror(rc));
}

static void send_heartbeat(hpt_wrk_t *w)
{
    Hpt__TaskProgress *tp = w->n_runs ? calloc(w->n_runs, sizeof *tp) : NULL;
    Hpt__TaskProgress **tpp = w->n_runs ? calloc(w->n_runs, sizeof *tpp) : NULL;
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    if (tp && tpp) {  // out of memory: a heartbeat without the task list still counts
        for (size_t i = 0; i < w->n_runs; i++) {
            /* Cancelled and superseded runs are listed too: they occupy a core
             * until their thread stops, and the coordinator counts them
             * against this worker's credit (docs/protocol.md, "Credit"). */
            const run_t *r = &w->runs[i];
            hpt__task_progress__init(&tp[hb.n_running]);
            tp[hb.n_running].task = r->task;
            tp[hb.n_running].attempt = r->attempt;
            tp[hb.n_running].epoch = wrk_task_epoch(r->t);
            tpp[hb.n_running] = &tp[hb.n_running];
            hb.n_running++;
        }
        hb.running = tpp;
    }
    int free_slots = w->cfg.slots - slots_used(w);
    hb.free_slots = w->draining || free_slots < 0 ? 0 : (uint32_t)free_slots;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    int rc = send_env(w, &env);
    if (rc < 0)
        hpt_log(HPT_LOG_DEBUG, COMP, "heartbeat not sent", "error=\"%s\"", hpt_strerror(rc));
    free(tpp);
    free(tp);
}

static void send_progress(hpt_wrk_t *w, const wrk_item_t *it)
{
    Hpt__Progress p = HPT__PROGRESS__INIT;
    p.task = it->task;
    p.attempt = it->attempt;
    p.epoch = it->epoch;
    p.epochs = it->epochs;
    p.val_score = it->val_score;
    p.train_loss = it->train_loss;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_PROGRESS;
    env.progress = &p;
    // Progress is advisory: when it cannot go now it is dropped.
    int rc = w->hello_pending ? -ENOTCONN : send_env(w, &env);
    if (rc < 0)
        hpt_log(HPT_LOG_DEBUG, COMP, "progress dropped", "task=%llu epoch=%u error=\"%s\"",
                (unsigned long long)it->task, it->epoch, hpt_strerror(rc));
}

/* Send one Result now.  Returns 0 or -errno. */
static int send_result_now(hpt_wrk_t *w, const wrk_result_t *r)
{
    if (w->hello_pending)
        return -ENOTCONN;
    Hpt__Result m = HPT__RESULT__INIT;
    m.task = r->task;
    m.attempt = r->attempt;
    m.ok = r->ok;
    m.error = (char *)r->error;
    m.score = r->score;
    m.accuracy = r->accuracy;
    m.log_loss = r->log_loss;
    m.f1_macro = r->f1_macro;
    m.train_score = r->train_score;
    m.fit_seconds = r->fit_seconds;
    m.epochs = r->epochs;
    m.diverged = r->diverged;
    m.refused = r->refused;
    m.n_eval = r->n_eval;
    m.resumed_from = r->resumed_from;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = &m;
    return send_env(w, &env);
}

/* Send queued Results in order until one fails. */
static void flush_outbox(hpt_wrk_t *w)
{
    size_t sent = 0;
    while (w->outbox) {
        outmsg_t *o = w->outbox;
        int rc = send_result_now(w, &o->r);
        if (rc < 0) {
            if (sent)
                hpt_log(HPT_LOG_INFO, COMP, "outbox partly flushed", "sent=%zu left=%zu",
                        sent, w->n_outbox);
            return;
        }
        w->outbox = o->next;
        if (!w->outbox)
            w->outbox_tail = NULL;
        w->n_outbox--;
        sent++;
        free(o);
    }
    if (sent)
        hpt_log(HPT_LOG_INFO, COMP, "outbox flushed", "sent=%zu", sent);
}

/* Send a Result, or keep it for after the next Hello when that is not
 * possible now.  Results keep their order. */
static void deliver_result(hpt_wrk_t *w, const wrk_result_t *r)
{
    if (!w->outbox) {
        int rc = send_result_now(w, r);
        if (rc == 0)
            return;
        hpt_log(HPT_LOG_WARN, COMP, "result queued until reconnect",
                "task=%llu attempt=%u error=\"%s\"", (unsigned long long)r->task, r->attempt,
                hpt_strerror(rc));
    }
    if (w->n_outbox >= OUTBOX_MAX) {
        outmsg_t *old = w->outbox;
        hpt_log(HPT_LOG_ERROR, COMP, "outbox full, oldest result dropped",
                "task=%llu attempt=%u", (unsigned long long)old->r.task, old->r.attempt);
        w->outbox = old->next;
        if (!w->outbox)
            w->outbox_tail = NULL;
        w->n_outbox--;
        free(old);
    }
    outmsg_t *o = calloc(1, sizeof *o);
    if (!o) {
        hpt_log(HPT_LOG_ERROR, COMP, "out of memory, result dropped", "task=%llu",
                (unsigned long long)r->task);
        return;
    }
    o->r = *r;
    if (w->outbox_tail)
        w->outbox_tail->next = o;
    else
        w->outbox = o;
    w->outbox_tail = o;
    w->n_outbox++;
    flush_outbox(w);
}

/* Answer an Assign that will not run: refused (this worker cannot run it
 * now; the coordinator requeues it elsewhere) or, when !refused, failed (the
 * task itself is invalid; it counts as a failed attempt). */
static void answer_unrun(hpt_wrk_t *w, const Hpt__Assign *a, bool refused, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer_task(hpt_wrk_t *w, uint64_t task, uint32_t attempt, bool refused,
                        const char *why)
{
    wrk_result_t r = {.task = task, .attempt = attempt, .ok = false, .score = NAN,
                      .accuracy = NAN, .log_loss = NAN, .f1_macro = NAN, .train_score = NAN,
                      .refused = refused};
    snprintf(r.error, sizeof r.error, "%s", why);
    char q[WRK_ERR_LEN + 8];
    hpt_log(HPT_LOG_WARN, COMP, refused ? "assign refused" : "assign invalid",
            "task=%llu attempt=%u error=%s", (unsigned long long)task, attempt,
            hpt_log_quote(r.error, q, sizeof q));
    deliver_result(w, &r);
}

static void answer_unrun(hpt_wrk_t *w, const Hpt__Assign *a, bool refused, const char *fmt, ...)
{
    char why[WRK_ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    answer_task(w, a->task, a->attempt, refused, why);
}

static void log_result(const wrk_result_t *r)
{
    if (r->ok) {
        hpt_log(HPT_LOG_INFO, COMP, "result", "task=%llu attempt=%u ok=true score=%.6f "
                "fit_s=%.3f epochs=%u resumed_from=%u", (unsigned long long)r->task,
                r->attempt, r->score, r->fit_seconds, r->epochs, r->resumed_from);
    } else {
        char q[WRK_ERR_LEN + 8];
        hpt_log(HPT_LOG_WARN, COMP, "result", "task=%llu attempt=%u ok=false diverged=%s "
                "fit_s=%.3f epochs=%u error=%s", (unsigned long long)r->task, r->attempt,
                r->diverged ? "true" : "false", r->fit_seconds, r->epochs,
                hpt_log_quote(r->error, q, sizeof q));
    }
}

// --- shutdown ------------------------------------------------------------

static void conn_open(hpt_wrk_t *w);

static void mon_close(hpt_wrk_t *w)
{
    if (w->mon) {
        zmq_close(w->mon);
        w->mon = NULL;
    }
}

static void on_zs_closed(hpt_zsock_t *zs)
{
    hpt_wrk_t *w = zs->ud;
    zmq_close(w->sock);  // linger was set before hpt_zsock_close
    w->sock = NULL;
    mon_close(w);
    w->conn = CONN_BACKOFF;
    if (w->stopping)
        return;
    w->reconnect_at = uv_now(w->loop) + (uint64_t)w->backoff_ms;
    hpt_log(HPT_LOG_INFO, COMP, "socket closed, reconnecting after backoff", "backoff_ms=%d",
            w->backoff_ms);
    w->backoff_ms = w->backoff_ms * 2 > w->cfg.reconnect_max_ms ? w->cfg.reconnect_max_ms
                                                                : w->backoff_ms * 2;
}

/* Close the socket (if any) with the given linger. */
static void conn_close(hpt_wrk_t *w, int linger_ms)
{
    if (w->conn != CONN_OPEN)
        return;
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    w->conn = CONN_CLOSING;
    w->hello_pending = false;
    hpt_zsock_close(&w->zs, on_zs_closed);
}

/* Close every handle so uv_run returns.  force: cancel running tasks and do
 * not wait for anything (second signal, Reject). */
static void shutdown_begin(hpt_wrk_t *w, int status, bool force)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->exit_status = status;
    if (force)
        pend_drop(w, -1);
    else
        pend_start(w);
    if (force) {
        for (size_t i = 0; i < w->n_runs; i++) {
            w->runs[i].cancelled = true;
            wrk_task_cancel(w->runs[i].t);
        }
    } else {
        flush_outbox(w);
    }
    if (w->n_outbox)
        hpt_log(HPT_LOG_WARN, COMP, "exiting with unsent results", "results=%zu",
                w->n_outbox);
    if (w->fetch)
        wrk_fetch_stop(w->fetch);
    /* On a drain, give the last Result and the Goodbye a bounded time to leave
     * (zmq_ctx_term waits for them); otherwise linger 0 as STYLE §10 says. */
    int linger = force ? 0 : w->hb_ivl_ms * 2 < DRAIN_LINGER_MS ? w->hb_ivl_ms * 2
                                                                 : DRAIN_LINGER_MS;
    conn_close(w, linger);
    uv_timer_stop(&w->tick);
    uv_close((uv_handle_t *)&w->tick, NULL);
    uv_close((uv_handle_t *)&w->sig_int, NULL);
    uv_close((uv_handle_t *)&w->sig_term, NULL);
    uv_close((uv_handle_t *)&w->sig_hup, NULL);
    wrk_queue_close(&w->q, NULL);
}

/* Once draining, exit when the last thread has ended and its Result is sent.
 * A Result that cannot be sent (the coordinator is away) keeps the worker up
 * to two liveness periods (2..30 s) longer, across reconnects; a second signal
 * stops the wait. */
static void maybe_drain_done(hpt_wrk_t *w)
{
    if (w->draining && !w->stopping)
        pend_start(w);   // a bundle still arriving was accepted: it runs
    if (!w->draining || w->stopping || w->n_runs > 0)
        return;
    uint64_t now = uv_now(w->loop);
    if (w->outbox && w->drain_deadline == 0) {
        // Two liveness periods: time for one reconnect cycle to succeed.
        int wait = 2 * w->hb_ivl_ms * w->liveness_max;
        wait = wait < DRAIN_OUTBOX_MIN_MS ? DRAIN_OUTBOX_MIN_MS
               : wait > DRAIN_OUTBOX_MAX_MS ? DRAIN_OUTBOX_MAX_MS : wait;
        w->drain_deadline = now + (uint64_t)wait;
        hpt_log(HPT_LOG_WARN, COMP, "drained; waiting for the coordinator to take results",
                "results=%zu wait_ms=%d", w->n_outbox, wait);
        return;
    }
    if (w->outbox && now < w->drain_deadline)
        return;
    hpt_log(HPT_LOG_INFO, COMP, "drained, exiting", "unsent_results=%zu", w->n_outbox);
    shutdown_begin(w, HPT_WRK_EXIT_OK, false);
}

// --- trainer output ------------------------------------------------------

static void remove_run(hpt_wrk_t *w, run_t *r)
{
    size_t i = (size_t)(r - w->runs);
    memmove(&w->runs[i], &w->runs[i + 1], (w->n_runs - i - 1) * sizeof *r);
    w->n_runs--;
}

/* Keep a finished task's model (*s, taken) in the cache. */
static void cache_model(hpt_wrk_t *w, const run_t *r, hpt_train_session_t **s)
{
    int epochs = hpt_train_session_epochs(*s);
    size_t bytes = hpt_train_session_bytes(*s);
    unsigned evicted = 0;
    bool kept = wrk_cache_put(w->cache, &r->key, s, &evicted);
    const char *why = kept ? ""
                      : bytes > wrk_cache_max_bytes(w->cache)
                          ? " reason=\"larger than --model-cache-mb\""
                          : " reason=\"out of memory\"";
    hpt_log(HPT_LOG_DEBUG, COMP, kept ? "model cached" : "model not cached",
            "task=%llu epochs=%d bytes=%zu cache_models=%zu cache_bytes=%zu evicted=%u%s",
            (unsigned long long)r->task, epochs, bytes, wrk_cache_count(w->cache),
            wrk_cache_bytes(w->cache), evicted, why);
}

/* A task's output.  Its item (and any model still in it, e.g. a cancelled
 * task's) is freed by the queue after this returns. */
static void on_item(wrk_item_t *it, void *ud)
{
    hpt_wrk_t *w = ud;
    run_t *r = find_run(w, it->from);
    if (!r)
        return;  // cannot happen: a task is removed only on its FINISH
    if (it->kind == WRK_ITEM_PROGRESS) {
        if (!r->cancelled)
            send_progress(w, it);
        return;
    }
    if (it->has_result && !r->cancelled) {
        log_result(&it->result);
        deliver_result(w, &it->result);
        if (it->session && r->cacheable)
            cache_model(w, r, &it->session);
    } else {
        hpt_log(HPT_LOG_INFO, COMP, "task stopped after cancel, no result sent",
                "task=%llu attempt=%u epochs=%u", (unsigned long long)it->task, it->attempt,
                wrk_task_epoch(r->t));
    }
    // The thread exits right after pushing FINISH: this join does not wait.
    wrk_task_destroy(&r->t);
    remove_run(w, r);
    maybe_drain_done(w);
}

// --- datasets fetched from the coordinator --------------------------------

/* Tell the coordinator the datasets held now (after a fetch).  Without a
 * registered connection nothing is sent: the next Hello lists them. */
static void send_datasets(hpt_wrk_t *w)
{
    Hpt__DatasetInfo info[HPT_WRK_MAX_DATASETS];
    Hpt__DatasetInfo *infop[HPT_WRK_MAX_DATASETS];
    for (int i = 0; i < w->n_ds; i++) {
        hpt__dataset_info__init(&info[i]);
        info[i].name = w->ds[i]->name;
        info[i].fingerprint = w->ds[i]->fingerprint;
        info[i].n_train = w->ds[i]->train.n;
        info[i].n_test = w->ds[i]->test.n;
        infop[i] = &info[i];
    }
    Hpt__Datasets m = HPT__DATASETS__INIT;
    m.n_datasets = (size_t)w->n_ds;
    m.datasets = infop;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_DATASETS;
    env.datasets = &m;
    int rc = w->hello_pending ? -ENOTCONN : send_env(w, &env);
    hpt_log(rc < 0 ? HPT_LOG_WARN : HPT_LOG_INFO, COMP,
            rc < 0 ? "datasets not announced; the next hello lists them" : "datasets announced",
            "datasets=%d error=\"%s\"", w->n_ds, rc < 0 ? hpt_strerror(rc) : "");
}

/* wrk_fetch's way out: requests go only on a registered connection. */
static int fetch_send(void *ud, hpt_env_t *env)
{
    hpt_wrk_t *w = ud;
    return w->hello_pending ? -ENOTCONN : send_env(w, env);
}

/* A fetched, verified dataset: keep it and announce it. */
static void on_fetched(void *ud, hpt_dataset_t **ds)
{
    hpt_wrk_t *w = ud;
    if (w->stopping)
        return;
    if (find_dataset(w, (*ds)->name) || w->n_ds >= HPT_WRK_MAX_DATASETS) {
        hpt_log(HPT_LOG_ERROR, COMP, "fetched dataset not used", "dataset=%s reason=\"%s\"",
                HPT_LOGQ((*ds)->name), w->n_ds >= HPT_WRK_MAX_DATASETS ? "too many datasets"
                                                              : "already loaded");
        return;  // the caller frees it
    }
    hpt_dataset_t *d = *ds;
    *ds = NULL;
    w->ds[w->n_ds++] = d;
    hpt_log(HPT_LOG_INFO, COMP, "dataset loaded", "dataset=%s dir=%s n_train=%u n_test=%u "
            "classes=%u fingerprint=%s fetched=true", HPT_LOGQ(d->name), HPT_LOGQ(d->dir),
            d->train.n, d->test.n, d->n_classes, HPT_LOGQ(d->fingerprint));
    send_datasets(w);
}

static void on_offer(hpt_wrk_t *w, const Hpt__DatasetOffer *m)
{
    const hpt_dataset_t *have = find_dataset(w, m->dataset);
    if (have && strcmp(have->fingerprint, m->fingerprint) == 0) {
        // The coordinator missed our announcement (a lost message): repeat it.
        hpt_log(HPT_LOG_INFO, COMP, "offer of a dataset already held; announcing it again",
                "dataset=%s", HPT_LOGQ(m->dataset));
        send_datasets(w);
        return;
    }
    const char *why = w->cfg.dry_run ? "--dry-run"
                      : w->cfg.no_fetch ? "--no-fetch"
                      : w->draining ? "draining"
                      : have ? "this worker holds another copy of it"
                      : !w->fetch ? "fetching is not set up" : NULL;
    if (why) {
        // The coordinator repeats its offers: say it once at info level.
        hpt_log_level_t lvl = w->offers_ignored++ ? HPT_LOG_DEBUG : HPT_LOG_INFO;
        hpt_log(lvl, COMP,
                "dataset offer ignored", "dataset=%s fingerprint=%s sweep=%llu reason=\"%s\"",
                HPT_LOGQ(m->dataset), HPT_LOGQ(m->fingerprint), (unsigned long long)m->sweep,
                why);
        return;
    }
    wrk_fetch_offer(w->fetch, m);
}

// --- coordinator messages ------------------------------------------------

// --- bundles ----------------------------------------------------------------

/* Room for n more runs.  Returns false when out of memory. */
static bool runs_reserve(hpt_wrk_t *w, size_t n)
{
    if (w->n_runs + n <= w->cap_runs)
        return true;
    size_t cap = w->cap_runs ? w->cap_runs * 2 : 8;
    while (cap < w->n_runs + n)
        cap *= 2;
    run_t *r = realloc(w->runs, cap * sizeof *r);
    if (!r)
        return false;
    w->runs = r;
    w->cap_runs = cap;
    return true;
}

/* Forget pending member i (or all with i < 0), its cached model back to the
 * cache: it was cancelled, superseded, or the worker stops at once. */
static void pend_drop(hpt_wrk_t *w, int i)
{
    pend_t *p = &w->pend;
    for (int j = i < 0 ? 0 : i; j < (i < 0 ? p->n : i + 1); j++)
        if (p->resume[j])
            wrk_cache_put(w->cache, &p->run[j].key, &p->resume[j], NULL);
    if (i < 0) {
        p->n = 0;
    } else {
        memmove(&p->spec[i], &p->spec[i + 1], (size_t)(p->n - i - 1) * sizeof p->spec[0]);
        memmove(&p->run[i], &p->run[i + 1], (size_t)(p->n - i - 1) * sizeof p->run[0]);
        memmove(&p->resume[i], &p->resume[i + 1], (size_t)(p->n - i - 1) * sizeof p->resume[0]);
        p->n--;
        p->size--;
    }
    if (p->n == 0)
        p->bundle = 0;
}

/* Start the pending bundle (as it is) on one trainer thread. */
static void pend_start(hpt_wrk_t *w)
{
    pend_t *p = &w->pend;
    int n = p->n;
    if (n == 0)
        return;
    const char *why = NULL;
    wrk_task_t *ts[HPT_PROTO_MAX_FUSE];
    int rc = 0;
    if (!runs_reserve(w, (size_t)n))
        why = "out of memory";
    else if ((rc = wrk_task_new_group(ts, n, p->spec, p->ds, &w->q, p->resume)) < 0)
        why = "cannot start a trainer thread";
    if (why) {
        for (int i = 0; i < n; i++) {
            if (p->resume[i])
                wrk_cache_put(w->cache, &p->run[i].key, &p->resume[i], NULL);
            answer_task(w, p->spec[i].task, p->spec[i].attempt, true, why);
        }
        p->n = 0;
        p->bundle = 0;
        return;
    }
    for (int i = 0; i < n; i++) {
        p->run[i].t = ts[i];
        w->runs[w->n_runs++] = p->run[i];
    }
    hpt_log(HPT_LOG_INFO, COMP, "bundle started", "bundle=%llu tasks=%d announced=%u",
            (unsigned long long)p->bundle, n, p->size);
    p->n = 0;
    p->bundle = 0;
}

/* Whether two tasks train on the same rows (a bundle's members must). */
static bool same_split(const wrk_task_spec_t *a, const wrk_task_spec_t *b)
{
    return a->refit == b->refit && a->fold == b->fold && a->folds == b->folds &&
           a->repeat == b->repeat && a->cv_seed == b->cv_seed &&
           a->stratified == b->stratified && a->shuffle == b->shuffle;
}

static void on_assign(hpt_wrk_t *w, const Hpt__Assign *a)
{
    char qd[HPT_WRK_DATASET_LEN + 16];   // an idx: path may hold spaces
    hpt_log(HPT_LOG_INFO, COMP, "assign", "task=%llu attempt=%u sweep=%llu trial=%llu "
            "fold=%u folds=%u repeat=%u refit=%s dataset=%s",
            (unsigned long long)a->task, a->attempt, (unsigned long long)a->sweep,
            (unsigned long long)a->trial, a->fold, a->folds, a->repeat,
            a->refit ? "true" : "false", hpt_log_quote(a->dataset, qd, sizeof qd));
    if (w->draining) {
        answer_unrun(w, a, true, "worker draining");
        return;
    }
    // A repeated Assign of a running attempt is ignored; a new attempt of a
    // running task supersedes it and takes over its slot.
    for (size_t i = 0; i < w->n_runs; i++) {
        run_t *r = &w->runs[i];
        if (r->task != a->task || r->cancelled)
            continue;
        if (r->attempt == a->attempt) {
            hpt_log(HPT_LOG_INFO, COMP, "duplicate assign ignored", "task=%llu attempt=%u",
                    (unsigned long long)a->task, a->attempt);
            return;
        }
        hpt_log(HPT_LOG_INFO, COMP, "attempt superseded, cancelling it",
                "task=%llu old_attempt=%u attempt=%u", (unsigned long long)a->task,
                r->attempt, a->attempt);
        r->cancelled = r->replaced = true;
        wrk_task_cancel(r->t);
    }
    for (int i = 0; i < w->pend.n; i++) {
        if (w->pend.spec[i].task != a->task)
            continue;
        if (w->pend.spec[i].attempt == a->attempt) {
            hpt_log(HPT_LOG_INFO, COMP, "duplicate assign ignored", "task=%llu attempt=%u",
                    (unsigned long long)a->task, a->attempt);
            return;
        }
        pend_drop(w, i);
        break;
    }
    /* A bundle's members after the first take no slot of their own; any
     * other Assign first starts a bundle still pending (short). */
    bool joins = !w->cfg.dry_run && a->bundle && w->pend.n > 0 && w->pend.bundle == a->bundle &&
                 (uint32_t)w->pend.n < w->pend.size;
    if (!joins)
        pend_start(w);
    if (!w->cfg.dry_run && !joins && slots_used(w) >= w->cfg.slots) {
        answer_unrun(w, a, true, "no free slot");
        return;
    }
    const hpt_dataset_t *ds = find_dataset(w, a->dataset);
    if (!w->cfg.dry_run) {
        if (!ds) {
            answer_unrun(w, a, true, "dataset %s not available", a->dataset);
            return;
        }
        if (strcmp(ds->fingerprint, a->fingerprint) != 0) {
            answer_unrun(w, a, true, "fingerprint mismatch: have %s, task wants %s", ds->fingerprint,
                   a->fingerprint);
            return;
        }
    }
    wrk_task_spec_t spec;
    hpt_err err = {0};
    if (wrk_task_spec_from_assign(a, &spec, &err) < 0) {
        answer_unrun(w, a, false, "%s", err.msg);
        return;
    }
    /* The memory budget, before anything is allocated: a model that could
     * never fit fails (the coordinator retries it elsewhere, then fails the
     * trial with this reason); one that does not fit beside the running
     * tasks waits for them (refused: requeued, no attempt counted). */
    size_t need = w->cfg.dry_run ? 0 : wrk_task_mem_bytes(&spec, ds);
    uint64_t held = mem_reserved(w);
    if (need > w->mem_budget) {
        char n[32], b[32];
        answer_unrun(w, a, false, "the model needs %s (parameters, gradients, optimizer "
                     "state, activations for batch %d), more than this worker's memory budget "
                     "of %s (--max-model-mem)", fmt_bytes(need, n, sizeof n),
                     spec.hp.batch_size, fmt_bytes(w->mem_budget, b, sizeof b));
        return;
    }
    if (held + need > w->mem_budget) {
        char n[32], h[32], b[32];
        answer_unrun(w, a, true, "memory budget in use: the model needs %s, the running tasks "
                     "hold %s of %s (--max-model-mem)", fmt_bytes(need, n, sizeof n),
                     fmt_bytes(held, h, sizeof h), fmt_bytes(w->mem_budget, b, sizeof b));
        return;
    }
    if (w->cfg.dry_run) {
        wrk_result_t r;
        wrk_dry_run(a, &spec, &r);
        log_result(&r);
        deliver_result(w, &r);
        return;
    }
    if (joins && (w->pend.ds != ds || !same_split(&w->pend.spec[0], &spec))) {
        answer_unrun(w, a, false, "bundle %llu: the task's dataset or split differs from its "
                     "first task's", (unsigned long long)a->bundle);
        return;
    }
    if (!runs_reserve(w, 1)) {
        answer_unrun(w, a, true, "out of memory");
        return;
    }
    /* A promoted trial: the same configuration and split trained for more
     * epochs.  With a model of fewer epochs in the cache, the task continues
     * it (bit-for-bit what retraining would give).  Refits are not cached:
     * each sweep runs one. */
    run_t run = {.task = a->task, .attempt = a->attempt,
                 .cacheable = !spec.refit && wrk_cache_max_bytes(w->cache) > 0, .mem = need};
    hpt_train_session_t *resume = NULL;
    if (run.cacheable) {
        wrk_cache_key_make(&run.key, &spec, ds->fingerprint);
        resume = wrk_cache_take(w->cache, &run.key, spec.hp.epochs);
    }
    spec.keep_model = run.cacheable;
    spec.stall_after = w->cfg.test_stall_epoch;
    int from = resume ? hpt_train_session_epochs(resume) : 0;
    if (a->bundle) {
        pend_t *p = &w->pend;
        if (p->n == 0)
            *p = (pend_t){.bundle = a->bundle, .size = a->bundle_size, .since = uv_now(w->loop),
                          .ds = ds};
        p->spec[p->n] = spec;
        p->run[p->n] = run;
        p->resume[p->n++] = resume;
        if (from > 0)
            hpt_log(HPT_LOG_INFO, COMP, "continuing a cached model", "task=%llu attempt=%u "
                    "trial=%llu fold=%u from_epoch=%d to_epoch=%d bundle=%llu",
                    (unsigned long long)a->task, a->attempt, (unsigned long long)a->trial,
                    a->fold, from, spec.hp.epochs, (unsigned long long)a->bundle);
        if ((uint32_t)p->n >= p->size)
            pend_start(w);
        return;
    }
    int rc = wrk_task_new(&run.t, &spec, ds, &w->q, &resume);
    if (rc < 0) {
        if (resume)
            wrk_cache_put(w->cache, &run.key, &resume, NULL);
        answer_unrun(w, a, true, "cannot start a trainer thread: %s", hpt_strerror(rc));
        return;
    }
    if (from > 0)
        hpt_log(HPT_LOG_INFO, COMP, "continuing a cached model", "task=%llu attempt=%u "
                "trial=%llu fold=%u from_epoch=%d to_epoch=%d", (unsigned long long)a->task,
                a->attempt, (unsigned long long)a->trial, a->fold, from, spec.hp.epochs);
    w->runs[w->n_runs++] = run;
}

static void on_cancel(hpt_wrk_t *w, const Hpt__Cancel *c)
{
    int n = 0;
    for (int i = 0; i < w->pend.n; i++)
        if (w->pend.spec[i].task == c->task &&
            (c->attempt == 0 || c->attempt == w->pend.spec[i].attempt)) {
            pend_drop(w, i);  // not started: no result, as for a cancelled run
            n++;
            break;
        }
    for (size_t i = 0; i < w->n_runs; i++) {
        run_t *r = &w->runs[i];
        if (r->task == c->task && !r->cancelled && (c->attempt == 0 || c->attempt == r->attempt)) {
            r->cancelled = true;
            wrk_task_cancel(r->t);
            n++;
        }
    }
    hpt_log(n ? HPT_LOG_INFO : HPT_LOG_DEBUG, COMP, n ? "cancel" : "cancel for a task not running",
            "task=%llu attempt=%u", (unsigned long long)c->task, c->attempt);
}

static void on_welcome(hpt_wrk_t *w, const Hpt__Welcome *m)
{
    hpt_log(HPT_LOG_INFO, COMP, "welcome", "coordinator=%s heartbeat_ms=%u liveness=%u",
            w->cfg.coordinator, m->heartbeat_ms, m->liveness);
    w->backoff_ms = w->cfg.reconnect_ms;
    w->welcomed = true;
    if (m->session_secret.len == sizeof w->secret) {
        // A new registration: keep the secret for the next Hello (proto_io checked its size).
        memcpy(w->secret, m->session_secret.data, sizeof w->secret);
        w->has_secret = true;
    }
    w->liveness_max = w->liveness = (int)m->liveness;
    if ((int)m->heartbeat_ms != w->hb_ivl_ms) {
        w->hb_ivl_ms = (int)m->heartbeat_ms;
        w->hb_due = uv_now(w->loop) + (uint64_t)w->hb_ivl_ms;
        int tick = tick_period(w->hb_ivl_ms);
        if (tick != w->tick_ms) {
            w->tick_ms = tick;
            uv_timer_set_repeat(&w->tick, (uint64_t)tick);
            uv_timer_again(&w->tick);
        }
    }
    flush_outbox(w);
    maybe_drain_done(w);
}

static void handle_env(hpt_wrk_t *w, const hpt_env_t *env)
{
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_WELCOME:
        on_welcome(w, env->welcome);
        break;
    case HPT__ENVELOPE__BODY_ASSIGN:
        on_assign(w, env->assign);
        break;
    case HPT__ENVELOPE__BODY_CANCEL:
        on_cancel(w, env->cancel);
        break;
    case HPT__ENVELOPE__BODY_HEARTBEAT:
        break;  // resetting liveness (done by the caller) is all it does
    case HPT__ENVELOPE__BODY_DATASET_OFFER:
        on_offer(w, env->dataset_offer);
        break;
    case HPT__ENVELOPE__BODY_DATASET_CHUNK:
        if (w->fetch)
            wrk_fetch_chunk(w->fetch, env->dataset_chunk);
        break;
    case HPT__ENVELOPE__BODY_DISCONNECT: {
        char q[512];
        if (env->disconnect->code == HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED) {
            /* Our id is registered to another connection we cannot prove is
             * ours (we never got its Welcome, or the coordinator lost track
             * of it): register afresh.  Tasks still running report under
             * the old id and are dropped; the coordinator requeues them
             * when the old registration expires. */
            char old[sizeof w->worker_id];
            snprintf(old, sizeof old, "%s", w->worker_id);
            new_worker_id(w);
            hpt_log(HPT_LOG_WARN, COMP, "worker id refused, registering under a new one",
                    "reason=%s old_worker_id=%s worker_id=%s",
                    hpt_log_quote(env->disconnect->reason, q, sizeof q), old, w->worker_id);
        } else {
            hpt_log(HPT_LOG_WARN, COMP, "disconnect, registering again", "reason=%s",
                    hpt_log_quote(env->disconnect->reason, q, sizeof q));
        }
        send_hello(w);
        break;
    }
    case HPT__ENVELOPE__BODY_REJECT: {
        char q[512];
        hpt_log(HPT_LOG_ERROR, COMP, "rejected by the coordinator, exiting", "reason=%s",
                hpt_log_quote(env->reject->reason, q, sizeof q));
        shutdown_begin(w, HPT_WRK_EXIT_FAIL, true);
        break;
    }
    default:
        hpt_log(HPT_LOG_WARN, COMP, "unexpected message ignored", "body=%s",
                hpt_proto_body_name(env->body_case));
        break;
    }
}

/* The zsock callback: receive and handle one message. */
static void on_readable(hpt_zsock_t *zs, void *sock, void *ud)
{
    hpt_wrk_t *w = ud;
    hpt_env_t *env = NULL;
    hpt_err err = {0};
    int rc = hpt_proto_recv(sock, NULL, &env, &err);
    if (rc == -EAGAIN)
        return;
    if (rc < 0 && rc != -EBADMSG) {
        hpt_log(HPT_LOG_ERROR, COMP, "receive failed", "error=\"%s\"", hpt_strerror(rc));
        return;
    }
    // Any message, even a malformed one, shows the coordinator is alive.
    w->liveness = w->liveness_max;
    w->rx_seen = true;
    if (rc == -EBADMSG) {
        uint64_t now = uv_now(w->loop);
        w->badmsg_count++;
        if (w->badmsg_logged == 0 || now - w->badmsg_logged >= BADMSG_LOG_MS) {
            char q[HPT_ERR_MSG_LEN + 8];
            hpt_log(HPT_LOG_WARN, COMP, "invalid message ignored", "reason=%s count=%u",
                    hpt_log_quote(err.msg, q, sizeof q), w->badmsg_count);
            w->badmsg_logged = now;
            w->badmsg_count = 0;
        }
        return;
    }
    hpt_log(HPT_LOG_DEBUG, COMP, "received", "body=%s", hpt_proto_body_name(env->body_case));
    handle_env(w, env);
    hpt_proto_free(&env);
}

// --- the connection ------------------------------------------------------

/* Watch s's handshakes through a socket monitor.  Diagnostics only: a
 * failure leaves w->mon NULL and the worker works as before. */
static void mon_open(hpt_wrk_t *w, void *s)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://hptune-worker-monitor-%u", ++w->mon_seq);
    w->mon_told = false;
    if (zmq_socket_monitor(s, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) !=
        0)
        return;
    void *m = zmq_socket(w->zctx, ZMQ_PAIR);
    int zero = 0;
    if (!m || zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof zero) != 0 || zmq_connect(m, ep) != 0) {
        if (m)
            zmq_close(m);
        zmq_socket_monitor(s, NULL, 0);
        return;
    }
    w->mon = m;
}

/* Why a handshake failed, from the monitor event; NULL for events that say
 * nothing useful. */
static const char *handshake_why(const hpt_wrk_t *w, uint16_t event, uint32_t value)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        return value == 400 ? "the coordinator refused this worker's key: add this worker's "
                              "public key to its authorized-keys directory and SIGHUP it"
                            : "the coordinator's authentication failed";
    if (event != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        return NULL;
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return w->curve ? "the coordinator speaks plain text, this worker CURVE: drop "
                          "--curve-secret and --server-key, or start the coordinator with keys"
                        : "the coordinator requires CURVE: give this worker --curve-secret "
                          "and --server-key";
    if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return "the coordinator's CURVE handshake could not be decrypted: check --server-key";
    return "protocol error during the handshake";
}

/* Read the monitor's pending events; log the first failure per socket. */
static void mon_poll(hpt_wrk_t *w)
{
    if (!w->mon)
        return;
    for (int i = 0; i < 64; i++) {
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, w->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        bool first = zmq_msg_size(&ev) >= 6;
        if (first) {
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
            memcpy(&value, (const uint8_t *)zmq_msg_data(&ev) + 2, sizeof value);
        }
        // The endpoint frame that follows the event frame.
        while (zmq_msg_more(&ev)) {
            zmq_msg_close(&ev);
            zmq_msg_init(&ev);
            if (zmq_msg_recv(&ev, w->mon, ZMQ_DONTWAIT) < 0)
                break;
        }
        zmq_msg_close(&ev);
        const char *why = first ? handshake_why(w, event, value) : NULL;
        if (why && !w->mon_told) {
            w->mon_told = true;
            char q[240];
            hpt_log(HPT_LOG_ERROR, COMP, "handshake failed",
                    event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "coordinator=%s reason=%s status=%u"
                                                             : "coordinator=%s reason=%s code=0x%x",
                    w->cfg.coordinator, hpt_log_quote(why, q, sizeof q), (unsigned)value);
        }
    }
}

/* Open a new DEALER, connect and send Hello.  Errors leave the worker in
 * BACKOFF.  Returns 0 or -errno. */
static int conn_open_sock(hpt_wrk_t *w)
{
    void *s = zmq_socket(w->zctx, ZMQ_DEALER);
    if (!s)
        return -zmq_errno();
    int zero = 0, one = 1;
    int64_t maxmsg = HPT_PROTO_MAX_MSG;
    int rc = 0;
    if (zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one) != 0 ||
        (w->curve && (rc = hpt_curve_set_client(s, &w->keys, w->server_key)) < 0)) {
        if (rc == 0)
            rc = -zmq_errno();
        goto err_close;
    }
    mon_open(w, s);   // before connect, so the first handshake is seen
    if ((rc = hpt_zsock_connect_prepare(s, w->cfg.coordinator)) < 0)
        goto err_close;
    if (zmq_connect(s, w->cfg.coordinator) != 0) {
        rc = -zmq_errno();
        goto err_close;
    }
    if ((rc = hpt_zsock_init(w->loop, &w->zs, s, on_readable, w)) < 0)
        goto err_close;
    w->sock = s;
    w->conn = CONN_OPEN;
    return 0;
err_close:
    mon_close(w);
    zmq_close(s);
    return rc;
}

static void conn_open(hpt_wrk_t *w)
{
    int rc = conn_open_sock(w);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot connect", "coordinator=%s error=\"%s\"",
                w->cfg.coordinator, hpt_strerror(rc));
        w->conn = CONN_BACKOFF;
        w->reconnect_at = uv_now(w->loop) + (uint64_t)w->backoff_ms;
        w->backoff_ms = w->backoff_ms * 2 > w->cfg.reconnect_max_ms ? w->cfg.reconnect_max_ms
                                                                    : w->backoff_ms * 2;
        return;
    }
    hpt_log(HPT_LOG_INFO, COMP, "connecting", "coordinator=%s", w->cfg.coordinator);
    w->liveness = w->liveness_max;
    w->rx_seen = false;
    w->hb_due = uv_now(w->loop) + (uint64_t)w->hb_ivl_ms;
    send_hello(w);
}

// --- housekeeping --------------------------------------------------------

/* The connection's share of the housekeeping: reconnect after the backoff,
 * retry Hello, heartbeat and count liveness down once per interval. */
static void tick_conn(hpt_wrk_t *w, uint64_t now)
{
    if (w->conn == CONN_BACKOFF) {
        if (now >= w->reconnect_at)
            conn_open(w);
        return;
    }
    if (w->conn != CONN_OPEN)
        return;
    mon_poll(w);
    if (w->hello_pending)
        send_hello(w);
    if (now < w->hb_due)
        return;
    w->hb_due = now + (uint64_t)w->hb_ivl_ms;
    /* No Welcome two intervals after the Hello (it was lost, or dropped by
     * the coordinator's Hello rate limit): say Hello again on this
     * connection.  The coordinator answers a retry on the connection that
     * registered the id with the same id and a fresh session secret, so a
     * lost Welcome does not cost the worker its id at the next reconnect
     * (docs/protocol.md, "Identity and reconnects"). */
    if (!w->hello_pending && !w->welcomed && ++w->unwelcomed >= 2)
        send_hello(w);
    else if (!w->hello_pending)
        send_heartbeat(w);
    if (!w->rx_seen && --w->liveness <= 0) {
        mon_poll(w);
        hpt_log(HPT_LOG_WARN, COMP, "coordinator silent, reconnecting",
                "coordinator=%s silent_ms=%d%s", w->cfg.coordinator,
                w->hb_ivl_ms * w->liveness_max,
                !w->curve ? ""
                          : " hint=\"with CURVE: check that --server-key is the coordinator's "
                            "public key and that this worker's public key is in its authorized "
                            "keys\"");
        conn_close(w, 0);
        return;
    }
    w->rx_seen = false;
    if (w->outbox && !w->hello_pending)
        flush_outbox(w);
}

static void on_tick(uv_timer_t *h)
{
    hpt_wrk_t *w = h->data;
    if (w->pend.n > 0 && uv_now(w->loop) >= w->pend.since + (uint64_t)w->hb_ivl_ms)
        pend_start(w);
    tick_conn(w, uv_now(w->loop));
    if (w->fetch && w->conn == CONN_OPEN)
        wrk_fetch_tick(w->fetch);
    maybe_drain_done(w);
}

static void on_signal(uv_signal_t *h, int signum)
{
    hpt_wrk_t *w = h->data;
    if (signum == SIGHUP) {
        if (w->cfg.log_file[0] && hpt_log_set_file(w->cfg.log_file) < 0)
            hpt_log(HPT_LOG_ERROR, COMP, "cannot reopen the log file", "path=%s",
                    w->cfg.log_file);
        else
            hpt_log(HPT_LOG_INFO, COMP, "log file reopened", "path=%s", w->cfg.log_file);
        return;
    }
    if (!w->draining) {
        w->draining = true;
        hpt_log(HPT_LOG_INFO, COMP, "draining: finishing running tasks, then exiting",
                "signal=%s running=%zu", signum == SIGINT ? "SIGINT" : "SIGTERM", w->n_runs);
        send_goodbye(w);
        maybe_drain_done(w);
        return;
    }
    hpt_log(HPT_LOG_WARN, COMP, "second signal: cancelling running tasks, exiting now",
            "running=%zu", w->n_runs);
    shutdown_begin(w, HPT_WRK_EXIT_OK, true);
}

// --- start-up ------------------------------------------------------------

/* Load the configured datasets (or the default ones that are present). */
static void load_datasets(hpt_wrk_t *w)
{
    static const char *const defaults[] = {"mnist", "mnist-10k", "fashion-mnist"};  // as dataset.h
    const hpt_wrk_strlist *l = &w->cfg.datasets;
    int n = l->n ? l->n : (int)(sizeof defaults / sizeof defaults[0]);
    const char *dir = w->cfg.data_dir[0] ? w->cfg.data_dir : NULL;
    if (w->cfg.dry_run) {
        for (int i = 0; i < n; i++)
            w->dry_names[w->n_dry++] = l->n ? l->v[i] : defaults[i];
        hpt_log(HPT_LOG_INFO, COMP, "dry run: no data loaded, no training", "datasets=%d", n);
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = l->n ? l->v[i] : defaults[i];
        hpt_err err = {0};
        hpt_dataset_t *ds = NULL;
        uv_timeval64_t t0, t1;
        uv_gettimeofday(&t0);
        int rc = hpt_dataset_load(&ds, name, dir, &err);
        uv_gettimeofday(&t1);
        char q[HPT_ERR_MSG_LEN + 8];
        if (rc == -ENOENT) {
            // Asked for by name: worth a warning; a default that is absent is normal.
            hpt_log(l->n ? HPT_LOG_WARN : HPT_LOG_INFO, COMP, "dataset not found, skipped",
                    "dataset=%s error=%s", name, hpt_log_quote(err.msg, q, sizeof q));
            continue;
        }
        if (rc < 0) {
            hpt_log(HPT_LOG_ERROR, COMP, "dataset unusable, skipped", "dataset=%s error=%s",
                    name, hpt_log_quote(err.msg, q, sizeof q));
            continue;
        }
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) * 1e-6;
        hpt_log(HPT_LOG_INFO, COMP, "dataset loaded", "dataset=%s dir=%s n_train=%u n_test=%u "
                "classes=%u fingerprint=%s load_s=%.2f", HPT_LOGQ(ds->name), HPT_LOGQ(ds->dir),
                ds->train.n, ds->test.n, ds->n_classes, HPT_LOGQ(ds->fingerprint), secs);
        w->ds[w->n_ds++] = ds;
    }
    if (w->n_ds == 0)
        hpt_log(HPT_LOG_WARN, COMP, "no dataset loaded; the coordinator will send no tasks",
                "data_dir=%s", dir ? dir : "default");
}

/* The fetcher (wrk_fetch.h).  Datasets go where this worker loads them
 * from: --data-dir when given, else the first default root, "data" when it
 * is a directory, else the system data dir. */
static int start_fetch(hpt_wrk_t *w)
{
    struct stat st;
    const char *root = w->cfg.data_dir[0] ? w->cfg.data_dir
                       : stat("data", &st) == 0 && S_ISDIR(st.st_mode) ? "data"
                                                                       : HPT_DATADIR_SYSTEM;
    snprintf(w->fetch_root, sizeof w->fetch_root, "%s", root);
    wrk_fetch_opts_t o = {
        .root = w->fetch_root,
        .chunk_bytes = w->cfg.fetch_chunk_kb * 1024,
        .window = w->cfg.fetch_window,
        // In 64 bits: the KiB/s range (wrk_config.c) goes past INT_MAX bytes/s.
        .rate_bytes_s = (int64_t)w->cfg.fetch_rate_kib_s * 1024,
        // Lost requests are rare (a reconnect restarts the window anyway).
        .stall_ms = 10000,
    };
    int rc = wrk_fetch_new(&w->fetch, w->loop, &o, fetch_send, on_fetched, w);
    if (rc == 0 && !w->cfg.no_fetch)
        hpt_log(HPT_LOG_INFO, COMP, "datasets the coordinator offers are fetched",
                "data_dir=%s chunk_kb=%d window=%d rate_kib_s=%d", w->fetch_root,
                w->cfg.fetch_chunk_kb, w->cfg.fetch_window, w->cfg.fetch_rate_kib_s);
    return rc;
}

static int start_handles(hpt_wrk_t *w)
{
    int rc;
    if ((rc = wrk_queue_init(w->loop, &w->q, on_item, w)) < 0)
        return rc;
    uv_timer_init(w->loop, &w->tick);
    w->tick.data = w;
    uv_signal_init(w->loop, &w->sig_int);
    uv_signal_init(w->loop, &w->sig_term);
    uv_signal_init(w->loop, &w->sig_hup);
    w->sig_int.data = w->sig_term.data = w->sig_hup.data = w;
    uv_signal_start(&w->sig_int, on_signal, SIGINT);
    uv_signal_start(&w->sig_term, on_signal, SIGTERM);
    uv_signal_start(&w->sig_hup, on_signal, SIGHUP);
    w->tick_ms = tick_period(w->hb_ivl_ms);
    uv_timer_start(&w->tick, on_tick, (uint64_t)w->tick_ms, (uint64_t)w->tick_ms);
    return 0;
}

static void on_walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int main(int argc, char **argv)
{
    int status = HPT_WRK_EXIT_FAIL;
    hpt_err err = {0};
    hpt_wrk_t *w = calloc(1, sizeof *w);  // ~40 KiB of config: not on the stack
    uv_loop_t loop;
    bool loop_ok = false, handles_ok = false;
    if (!w) {
        fputs("hptune-worker: out of memory\n", stderr);
        goto done;
    }
    w->name_fd = -1;

    hpt_config_args_t args;
    if (wrk_cfg_defaults(&w->cfg, &err) < 0 ||
        wrk_cfg_parse_args(&w->cfg, argc, argv, &args, &err) < 0) {
        fprintf(stderr, "hptune-worker: %s\n(see hptune-worker --help)\n", err.msg);
        status = HPT_WRK_EXIT_USAGE;
        goto done;
    }
    if (wrk_cfg_print_action(&args, &w->cfg)) {
        status = HPT_WRK_EXIT_OK;
        goto done;
    }

    if (wrk_cache_new(&w->cache, (size_t)w->cfg.model_cache_mb << 20) < 0) {
        fputs("hptune-worker: out of memory\n", stderr);
        goto done;
    }
    hpt_log_set_level((hpt_log_level_t)w->cfg.log_level);
    if (w->cfg.log_file[0] && hpt_log_set_file(w->cfg.log_file) < 0) {
        fprintf(stderr, "hptune-worker: --log-file: cannot open %s: %s\n", w->cfg.log_file,
                strerror(errno));
        status = HPT_WRK_EXIT_USAGE;
        goto done;
    }
    if (w->cfg.curve_secret[0]) {   // both keys, checked by wrk_cfg_parse_args
        if (hpt_curve_supported(&err) < 0 ||
            hpt_curve_load_secret(w->cfg.curve_secret, &w->keys, &err) < 0 ||
            hpt_curve_public_arg(w->cfg.server_key, "--server-key", w->server_key, &err) < 0) {
            fprintf(stderr, "hptune-worker: %s%s\n",
                    strncmp(err.msg, "--", 2) == 0 ? "" : "--curve-secret: ", err.msg);
            status = HPT_WRK_EXIT_USAGE;
            goto done;
        }
        w->curve = true;
        hpt_log(HPT_LOG_INFO, COMP, "CURVE on", "public_key=%s server_key=%s",
                w->keys.public_z85, w->server_key);
    }
    if (gethostname(w->host, sizeof w->host) != 0)
        strcpy(w->host, "localhost");
    w->host[sizeof w->host - 1] = '\0';
    if (!w->cfg.name[0]) {
        /* No --name: HOST, or HOST-2, HOST-3... when other workers run on
         * this host (wrk_name.h).  Should the claim fail, the worker still
         * runs, under HOST-PID, which is unique too though not stable. */
        int fd = wrk_name_claim(w->host, w->cfg.name, sizeof w->cfg.name, &err);
        if (fd >= 0) {
            w->name_fd = fd;
        } else {
            snprintf(w->cfg.name, sizeof w->cfg.name, "%.200s-%ld", w->host, (long)getpid());
            hpt_log(HPT_LOG_WARN, COMP, "cannot claim a name unique on this host",
                    "error=\"%s\" name=%s", err.msg, w->cfg.name);
        }
    }
    // Hello.worker_id is at most 255 bytes: a very long host name is cut.
    new_worker_id(w);
    w->conn = CONN_BACKOFF;  // no socket yet
    w->reconnect_at = UINT64_MAX;
    w->hb_ivl_ms = w->cfg.heartbeat_ms;
    w->liveness_max = w->liveness = w->cfg.liveness;
    w->backoff_ms = w->cfg.reconnect_ms;

    hpt_log(HPT_LOG_INFO, COMP, "starting", "version=%s worker_id=%s name=%s slots=%d "
            "dry_run=%s coordinator=%s model_cache_mb=%d", HPT_VERSION, w->worker_id,
            w->cfg.name, w->cfg.slots, w->cfg.dry_run ? "true" : "false", w->cfg.coordinator,
            w->cfg.model_cache_mb);
    // Each task is single-threaded: slots, not BLAS threads, use the cores.
    hpt_blas_set_threads(1);

    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot create the event loop", "error=\"%s\"",
                hpt_strerror(rc));
        goto done;
    }
    loop_ok = true;
    w->loop = &loop;
    if (!w->cfg.dry_run && (rc = start_fetch(w)) < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot set up dataset fetching", "error=\"%s\"",
                hpt_strerror(rc));
        goto done;
    }
    w->zctx = zmq_ctx_new();
    if (!w->zctx) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot create the ZeroMQ context", "error=\"%s\"",
                zmq_strerror(zmq_errno()));
        goto done;
    }
    rc = start_handles(w);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot start", "error=\"%s\"", hpt_strerror(rc));
        goto done;
    }
    handles_ok = true;
    // The first connect's errors are the operator's: a malformed endpoint.
    if ((rc = conn_open_sock(w)) < 0) {
        fprintf(stderr, "hptune-worker: --coordinator: cannot connect to %s: %s\n",
                w->cfg.coordinator, hpt_strerror(rc));
        status = HPT_WRK_EXIT_USAGE;
        w->exit_status = status;
        shutdown_begin(w, status, true);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto done;
    }
    hpt_log(HPT_LOG_INFO, COMP, "connecting", "coordinator=%s", w->cfg.coordinator);
    /* Load after the connect, so a bad endpoint fails fast, and before Hello,
     * which lists the datasets.  The loop is not running yet: nothing is
     * received or sent meanwhile, and the clock is updated below. */
    load_datasets(w);
    set_mem_budget(w);
    uv_update_time(&loop);
    w->hb_due = uv_now(&loop) + (uint64_t)w->hb_ivl_ms;
    send_hello(w);

    uv_run(&loop, UV_RUN_DEFAULT);
    status = w->exit_status;

done:
    if (w && handles_ok) {
        // Threads that already pushed FINISH are joined; any other is still
        // inside an epoch after a forced stop and is not waited for.
        size_t orphans = 0;
        for (size_t i = 0; i < w->n_runs; i++) {
            if (wrk_task_finished(w->runs[i].t))
                wrk_task_destroy(&w->runs[i].t);
            else
                orphans++;
        }
        if (orphans) {
            /* Freeing the datasets or returning through OpenBLAS's destructors
             * while those threads compute would crash them: leave now. */
            hpt_log(HPT_LOG_WARN, COMP, "exiting without waiting for cancelled tasks",
                    "tasks=%zu", orphans);
            zmq_ctx_term(w->zctx);
            fflush(NULL);
            _exit(status);
        }
        wrk_queue_fini(&w->q);
    }
    if (w && w->zctx)
        zmq_ctx_term(w->zctx);  // waits at most the linger set on the last socket
    if (loop_ok) {
        // Nothing should be left open; close stragglers so the loop can close.
        uv_walk(&loop, on_walk_close, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&loop) != 0)
            hpt_log(HPT_LOG_ERROR, COMP, "event loop closed with handles open", "status=%d",
                    status);
    }
    if (w) {
        while (w->outbox) {
            outmsg_t *o = w->outbox;
            w->outbox = o->next;
            free(o);
        }
        free(w->runs);
        wrk_cache_destroy(&w->cache);
        hpt_curve_wipe(&w->keys);
        if (w->name_fd >= 0)
            close(w->name_fd);
        sodium_memzero(w->secret, sizeof w->secret);
        wrk_fetch_destroy(&w->fetch);
        for (int i = 0; i < w->n_ds; i++)
            hpt_dataset_destroy(&w->ds[i]);
        if (status != HPT_WRK_EXIT_USAGE && w->loop)
            hpt_log(HPT_LOG_INFO, COMP, "stopped", "status=%d", status);
        free(w);
    }
    hpt_log_set_file(NULL);
    return status;
}
