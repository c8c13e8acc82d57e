/*
 * coord.h: the coordinator daemon's shell, visible to its modules (main.c,
 * coord_shell.c, coord_clients.c, coord_datasets.c, coord_http.c,
 * coord_zap.c) and nothing else.
 *
 * The shell does the I/O around the core (core/core.h), which holds every
 * sweep, trial, task, lease and worker and makes no I/O calls itself:
 *   - main.c: the libuv loop, the ROUTER socket, signals, the periodic tick;
 *   - coord_shell.c: the clock, sending, and carrying out the core's outbox
 *     (sends, journal records into the store, typed events into logs, the
 *     ring, the journal and subscribers, dataset offers);
 *   - coord_clients.c: client requests (submit, status, results, cancel,
 *     subscribe) and the event ring;
 *   - coord_datasets.c: dataset transfer to workers; coord_http.c: HTTP;
 *     coord_zap.c: CURVE authentication; coord_store.c: SQLite.
 * Everything here lives on the loop thread, except the fingerprinting of a
 * submitted sweep's dataset, which runs on libuv's thread pool.  The shell
 * reads core objects (const) and changes them only through core entry
 * points, each followed by coord_apply.
 */
#ifndef COORD_H
#define COORD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core.h"
#include "coord_policy.h"
#include "coord_spec.h"
#include "coord_store.h"
#include "proto_io.h"
#include "search.h"
#include "zsock.h"

// --- configuration --------------------------------------------------------

typedef struct coord_cfg {
    char bind[256];           // ZeroMQ endpoint of the ROUTER socket
    char db[1024];            // SQLite journal
    char data_dir[1024];      // where the coordinator's own datasets are ("" = default path)
    char data_roots[4096];    // directories idx: datasets may be in, ':'-separated
                              // ("" = data_dir, or the default path when that is "")
    char log_file[1024];      // "" = stderr only
    int log_level;            // hpt_log_level_t
    int hb_ivl_ms;            // heartbeat interval, ms
    int hb_liveness;          // missed intervals before a peer is dead
    int max_attempts;         // attempts per task before it fails
    int task_stall_s;         // a leased task without progress for this long is re-leased
    int task_deadline_s;      // a leased task running longer than this is re-leased
    int fuse_max;             // tasks per bundle leased to one worker slot (1: no bundles)
    int io_threads;           // ZeroMQ I/O threads (the connections are spread over them)
    int event_ring;           // events kept for late subscribers
    int sub_timeout_ms;       // a subscriber not renewing for this long is dropped
    int max_followers;        // log followers at once (hptune logs --follow); 0: no limit
    // Security (coord_zap.c, docs/security.md).
    char curve_secret[1024];  // CURVE key pair file of the ROUTER; "" = plain text
    char authorized_keys[1024];  // directory of the public keys allowed to connect
    bool insecure;            // bind beyond loopback without keys (a warning, not a refusal)
    char http[256];           // HOST:PORT of the HTTP server (metrics, API, dashboard); "" = off
    /* Quotas, retention and rate limits (coord_policy.h, docs/security.md);
     * 0 turns each off. */
    int max_spec_bytes;             // largest spec a submission may carry, bytes
    int max_active_sweeps_per_key;  // queued, running or refitting sweeps per key (without
                                    //   keys: per address, or per user on ipc://)
    int max_active_sweeps;          // ... of everybody together
    int keep_sweeps;                // finished sweeps kept; the oldest beyond are deleted
    int keep_sweeps_s;              // finished sweeps older than this (seconds) are deleted
    int keep_events;                // rows kept in the journal's events table
    int keep_events_s;              // events older than this (seconds) are deleted, and
                                    // the journal's records of workers gone that long
    int keep_workers;               // records of workers gone kept in the journal, newest
    int hello_per_min, hello_burst;     // Hellos per connection: a minute's refill, the burst
    int submit_per_min, submit_burst;   // submissions per connection and per key
    int history_per_min, history_burst; // log-history replays per connection and per key
    int bad_per_min, bad_burst;         // bad, unexpected or refused messages, the same
    int conn_per_min, conn_burst;       // new connections per source address (ZAP)
    int max_conns_per_addr;             // open connections per source address; 0: no limit
    int max_conns;                      // open connections in all; 0: no limit
} coord_cfg_t;

extern const coord_cfg_t COORD_CFG_DEFAULT;   // coord_config.c, with the option table

typedef struct coord_sub {
    hpt_peer_id_t peer;
    int level;                    // hpt_log_level_t
    uint64_t sweep;               // 0 = all
    double expiry;                // monotonic seconds
    struct coord_sub *next;
} coord_sub_t;

typedef struct coord_event {
    int64_t ts_us;
    int type;                     // coord_event_type_t (COORD_EV_LOG for shell lines)
    int level;
    uint64_t sweep;
    uint64_t seq;
    char component[16];
    char *msg;                    // owned
    char *fields;                 // owned
} coord_event_t;


/* Finished sweeps read recently (results, report, the HTTP API, plots),
 * kept loaded so that paging through one does not read the journal for
 * every page; other finished sweeps leave memory (coord_core_unload). */
#define COORD_LOADED_LRU 4
#define COORD_LOADED_MAX_TASKS 2000000   // ... and at most this many tasks among them

/* The workers' inbox (main.c): messages read per check, the longest queue
 * before reading pauses, and the loop time one slice of handling may take. */
#define COORD_ZSOCK_BUDGET 1024
#define COORD_INBOX_MAX 65536
#define COORD_INBOX_MAX_BYTES (64u << 20)   // and at most this many bytes of them
#define COORD_INBOX_SLICE_NS 2000000ULL

/* Who sent a message, as far as the coordinator can tell (main.c,
 * docs/security.md "Roles"): what it may do, whom its quotas count
 * against, and how to name it to people. */
typedef struct coord_who {
    unsigned roles;                       // HPT_CURVE_ROLE_* bits (curve.h)
    char principal[COORD_PRINCIPAL_LEN];  // coord_policy_principal; "" when none
    char label[96];                       // "key clients/alice.pub", "address 10.0.0.7"
} coord_who_t;

/* ErrorReply codes beyond protocol.md's 1 (other), 2 (bad request), 4 (not
 * found). */
#define COORD_ERR_DENIED 3   // the key's role does not allow the request
#define COORD_ERR_LIMIT 5    // a quota or a rate limit

/* Log lines about misbehaving peers (bad messages, refusals, rate limits),
 * all peers together, per minute: each is also an event row. */
#define COORD_PEER_LOG_PER_MIN 60

/* Retention runs this often (seconds), deleting at most this many finished
 * sweeps, rows of deleted sweeps (tasks with their attempts, then trials:
 * 10,000 tasks took 40-50 ms with the commit on this machine) and event
 * rows a run, so that one run stays short. */
#define COORD_RETAIN_EVERY_S 10.0
#define COORD_RETAIN_SWEEPS 16
#define COORD_RETAIN_ROWS 10000
#define COORD_RETAIN_EVENTS 50000

typedef struct coord {
    coord_cfg_t cfg;
    coord_core_t core;            // sweeps, tasks, leases, workers (core/core.h)
    uv_loop_t *loop;
    void *zctx;
    void *router;
    hpt_zsock_t zs;
    uv_timer_t cron;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_prepare_t flush_prep;
    uv_idle_t inbox_idle;         // runs on_inbox while worker messages wait (main.c)
    struct coord_inbox_msg *inbox_head, *inbox_tail;
    size_t inbox_len, inbox_bytes;
    coord_store_t *store;
    bool stopping;
    /* The journal's fdatasync, on the thread pool after each commit
     * (main.c; coord_store.h "Durability"): one at a time; a commit made
     * while one runs asks for another when it ends. */
    struct {
        uv_work_t req;
        bool busy, again;
        uint64_t gen;             // commits the running sync covers
        uint64_t done;            // commits known durable
        uint64_t n;               // syncs run
        double started;           // when the running one was queued (coord_now)
        double wait_max;          // the longest from queued to done (s)
        int rc;
        hpt_err err;
    } sync;
    /* The journal's checkpoint job on the thread pool (main.c,
     * coord_store.h "Checkpoints off the loop"): one at a time. */
    struct {
        uv_work_t req;
        bool busy;
        uint64_t failed;          // checkpoints that returned an error
    } ckpt;

    coord_event_t *ring;          // cfg.event_ring entries
    size_t ring_len, ring_head;   // head = next slot to write
    uint64_t event_seq;
    coord_sub_t *subs;
    bool in_sink;                 // delivering an event: log lines from sends are not events
    int ev_type;                  // the type and sweep of the event coord_emit is logging
    uint64_t ev_sweep;            //   (COORD_EV_LOG and 0 for the shell's own lines)

    struct coord_ds *ds;          // the coordinator's datasets (coord_datasets.c)
    int submits_pending;          // submissions waiting for their dataset's fingerprint
    struct submit_job *submit_jobs;   // ... their list (coord_clients.c)

    bool journal_failed;          // a commit failed: the loop stops, exit status 1
    uint64_t journal_errors;      // journal operations that failed without stopping the loop
                                  // (retention deletes, reading a finished sweep back)
    double cron_at;               // when on_cron last ran (coord_now), 0 before
    uint64_t stalls;              // ticks that came over two periods late (main.c)
    uint64_t bad_messages;        // malformed messages received
    // Roles, rate limits, quotas and retention (main.c, coord_clients.c; coord_policy.h).
    coord_limits_t *limits;       // the per-connection and per-key token buckets
    uint64_t limited[COORD_LIM__N];   // messages dropped (or refused) by each limit
    uint64_t refused_role;        // messages outside the sender's roles
    uint64_t refused_quota;       // submissions refused by a quota
    uint64_t refused_conns_addr;  // connections refused: their address had max_conns_per_addr
    uint64_t refused_conns_total; // ... the coordinator had max_conns
    double peer_log_tokens;       // budget of log lines about peers (COORD_PEER_LOG_PER_MIN)
    double peer_log_at;           // monotonic seconds it was last refilled
    uint64_t peer_logs_suppressed;
    double retain_at;             // monotonic seconds of the last retention run
    uint64_t sweeps_deleted, events_deleted, workers_deleted;
    uint64_t results_pages;       // ResultsReply pages sent (coord_clients.c)
    uint64_t results_rank_builds; // results caches rebuilt after a change (coord_clients.c)
    double started_unix;          // when this process started serving
    struct coord_http *http;      // the HTTP server (coord_http.h), NULL when off
    struct coord_zap *zap;        // admission and identity of connections (coord_zap.c)
    struct coord_rcache *rcaches; // results caches of the sweeps asked about (coord_clients.c)

    // Finished sweeps in memory (coord_clients.c: coord_sweep_need, coord_sweeps_unload).
    uint64_t lru_sweep[COORD_LOADED_LRU];  // finished sweeps read recently (0: empty slot)
    uint64_t lru_used[COORD_LOADED_LRU];   // lru_clock when each was last read
    uint64_t lru_clock;
    bool unload_pending;          // a sweep ended or left the LRU: unload after the next commit
    uint64_t sweeps_unloaded;     // coord_core_unload calls that freed a sweep
    uint64_t sweeps_reloaded;     // finished sweeps read back from the journal on demand
} coord_t;

// --- coord_shell.c: clock, sending, the core's outbox ------------------------

double coord_now(void);       // monotonic seconds
double coord_unix(void);      // wall-clock seconds
/* The core's source of randomness (coord_core_cfg_t.random): len bytes from
 * the kernel's generator. */
void coord_random(void *ud, void *buf, size_t len);

/* Whether a per-peer log line of this kind may be written now (at most
 * per_minute a minute per peer and kind). */
bool coord_log_allowed(coord_t *c, const hpt_peer_id_t *peer, int kind, int per_minute);

/* Send env (borrowed) to a peer; returns 0 or a negative errno (logged at
 * debug). */
int coord_send(coord_t *c, const hpt_peer_id_t *to, hpt_env_t *env);
/* Send an ErrorReply{code, message} answering request req_id; msg borrowed.
 * Returns as coord_send. */
int coord_send_error(coord_t *c, const hpt_peer_id_t *to, uint64_t req_id, int code,
                     const char *msg);
/* Send a packed Envelope already in zmsg (a zmq_msg_t *, taken over: sent
 * or closed); body names its case in the log line of a failed send.
 * Returns 0 or -zmq_errno(). */
int coord_send_msg(coord_t *c, const hpt_peer_id_t *to, void *zmsg, int body);

/* Carry out and clear the core's outbox: sends (a peer found gone is
 * reported back to the core, whose new actions are carried out too),
 * journal records, events, dataset offers.  Call after every core entry
 * point.  A record the store refuses stops the loop (journal_failed). */
void coord_apply(coord_t *c);

/* Report a typed event: a log line (stderr, log file), the ring, the
 * journal's events table and subscribers.  ev's strings are borrowed. */
void coord_emit(coord_t *c, const coord_act_event_t *ev);

// --- coord_datasets.c: names, fingerprints, dataset transfer --------------------
// (docs/spec.md "dataset", docs/security.md "Datasets", docs/protocol.md)

/* Canonicalise the data roots (cfg.data_roots, else the data dir) and set up
 * the dataset records.  Call once before the loop runs.  Returns 0 or
 * -ENOMEM. */
int coord_datasets_init(coord_t *c);
/* Close every record's files and free them (after the loop ended; accepts
 * an uninitialised c->ds == NULL). */
void coord_datasets_free(coord_t *c);

/* The canonical name of spec's dataset into canon (len): a named dataset as
 * it is; idx:DIR as "idx:" + realpath(DIR), which must be an absolute path
 * inside a data root.  Loop thread (a realpath, a few lstat calls).  Returns
 * 0, or a negative errno with msg (msg_len) saying why, naming the spec
 * file, line, column, the field `dataset` and the path. */
int coord_datasets_resolve(coord_t *c, const coord_spec_t *spec, char *canon, size_t len,
                           char *msg, size_t msg_len);

/* What a fingerprint job found for a dataset (borrowed by the callback). */
typedef struct coord_ds_result {
    const char *name;             // canonical
    char fp[65];                  // "" when there is none (error says why)
    char note[128];               // e.g. a named dataset's copy differs from the pinned value
    const char *error;            // NULL unless fp is ""
} coord_ds_result_t;
typedef void (*coord_ds_cb)(coord_t *c, const coord_ds_result_t *r, void *ud);

/* The fingerprint of canonical dataset name (borrowed): from a record that
 * is still what is on disk (cb is called before this returns, and 0
 * returned), else from a fingerprint job on the thread pool, shared with
 * every other caller waiting for the same dataset (cb is called from the
 * loop when it ends, and 1 returned).  Never from a worker.  A named dataset
 * the coordinator has no usable copy of gets its pinned value.  Returns
 * -ENOMEM (cb is not called) when out of memory.  Loop thread. */
int coord_datasets_fingerprint(coord_t *c, const char *name, coord_ds_cb cb, void *ud);

/* Fingerprint jobs started so far. */
uint64_t coord_datasets_jobs_run(const coord_t *c);

/* The core's offer action: w lacks the dataset of s; offer it, at most once
 * per offer interval per worker, when s is runnable and the coordinator holds
 * a validated copy with s's fingerprint. */
void coord_datasets_offer(coord_t *c, coord_worker_t *w, const coord_sweep_t *s);
/* A chunk request: served from a validated copy when the dataset is a
 * queued or running sweep's, refused (and logged with the peer) otherwise. */
void coord_on_fetch(coord_t *c, coord_worker_t *w, const Hpt__FetchChunk *m);

/* Why no worker serves s, for status and `launch --wait` (e.g. "no connected
 * worker has dataset X with fingerprint Y; 2 workers are fetching it"), into
 * buf (len); "" when some connected worker serves it, or s is not runnable.
 * O(workers) only for a runnable sweep with no running task.  Loop thread. */
void coord_datasets_waiting(coord_t *c, const coord_sweep_t *s, char *buf, size_t len);

// coord_zap.c (admission and identity of connections, docs/security.md)
typedef struct coord_zap coord_zap_t;
/* Before the ROUTER is created (with or without keys): with
 * cfg.curve_secret load the secret key and the authorized keys (strictly: a
 * bad file fails); seed what libzmq's automatic routing ids start from.
 * Errors are printed for the operator (they name the file) and return a
 * negative errno; *out is owned by the caller (coord_zap_destroy). */
int coord_zap_new(coord_zap_t **out, coord_t *c);
/* Bind the ZAP handler (a ROUTER on inproc://zeromq.zap.01 in c->zctx) and
 * give the ROUTER (not yet bound) a ZAP domain, with keys also the CURVE
 * server options; watch its handshake failures. */
int coord_zap_server(coord_zap_t *z, void *router);
/* Who a message from peer came from (meta: its connection's properties,
 * hpt_proto_recv_meta): fills *conn with the connection's serial and CURVE
 * key, which the ZAP handler attached.  Returns 0, or -EPERM (err says why; logged, rate-limited) for a
 * connection that chose its own routing id (its TCP connection is cut) or
 * that the handler never admitted: drop the message, answer nothing. */
int coord_zap_check(coord_zap_t *z, const hpt_peer_id_t *peer, const hpt_proto_meta_t *meta,
                    coord_conn_t *conn, hpt_err *err);
/* Watch the ZAP socket (and handshake failures) from c->loop. */
int coord_zap_start(coord_zap_t *z);
/* The roles (HPT_CURVE_ROLE_* bits) of the key a connection authenticated
 * with: user_id is the message's User-Id property (the Z85 key the ZAP
 * handler gave the connection; borrowed).  Looked up in the current set,
 * so a key deleted or moved since (SIGHUP) has its new roles, or none (0).
 * *name (may be NULL) receives the key's file name relative to the
 * directory (borrowed until the next reload), NULL when not found. */
unsigned coord_zap_roles(const coord_zap_t *z, const char *user_id, const char **name);
/* SIGHUP: re-read the authorized keys; bad files are logged and skipped. */
void coord_zap_reload(coord_zap_t *z);
/* Close the loop handles (shutdown); the sockets stay open until destroy. */
void coord_zap_close(coord_zap_t *z);
/* After the loop ended: close the sockets, wipe the key; accepts NULL and
 * sets *p = NULL. */
void coord_zap_destroy(coord_zap_t **p);

// coord_clients.c
/* A client request from peer, sent by who (borrowed; its roles allow the
 * request: main.c checked). */
void coord_on_client(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                     hpt_env_t *env);
/* Retention (main.c's cron, every COORD_RETAIN_EVERY_S): delete the finished
 * sweeps beyond keep_sweeps or older than keep_sweeps_s, and the events
 * beyond keep_events or older than keep_events_s, a bounded number a run.
 * Loop thread. */
void coord_retain(coord_t *c);
void coord_events_init(coord_t *c);
/* Shutdown of the clients' state: the event ring, the subscribers and the
 * sweeps' results caches (call after coord_sweeps_free or before; the caches
 * do not touch the sweeps when freed). */
void coord_events_free(coord_t *c);
void coord_subs_cron(coord_t *c);
/* Fingerprint the named datasets the coordinator has, and the datasets of
 * the sweeps resumed from the journal (on the thread pool; coord_datasets.c),
 * so that the first launch on one need not wait for its files to be read
 * and hashed, and resumed sweeps can be served.  Call once the loop is set
 * up. */
void coord_fingerprints_warm(coord_t *c);

/* A sweep's summary as clients receive it (SweepInfo) with the storage its
 * pointers point into; it borrows strings from the sweep, so use it before
 * the sweep changes (within one loop callback). */
typedef struct coord_sweep_info {
    Hpt__SweepInfo info;
    Hpt__Param params[COORD_SPEC_MAX_PARAMS];
    Hpt__Param *pp[COORD_SPEC_MAX_PARAMS];
    char txt[COORD_SPEC_MAX_PARAMS][64];
    char waiting[512];            // SweepInfo.waiting's storage (coord_datasets_waiting)
    char race[256];               // SweepInfo.race's storage (coord_race_describe)
    Hpt__RaceLeader rl[COORD_RACE_MAX_TOP];   // SweepInfo.race_leaders (results only); their
    Hpt__RaceLeader *rlp[COORD_RACE_MAX_TOP]; // means and widths borrow the race's arrays
} coord_sweep_info_t;

/* Fill *b from s, loaded or not (an unloaded sweep answers from its
 * summary, the same fields).  compare: also the winner-versus-rest
 * statistics (runner-up, indistinguishable), O(trials) t-tests that only
 * results requests pay for; they need s loaded (coord_sweep_need). */
void coord_sweep_info_fill(const coord_sweep_t *s, coord_sweep_info_t *b, bool compare);

/* Make s's trials readable before building results (or plots) from them:
 * a finished sweep is marked recently read (the least recently read of
 * COORD_LOADED_LRU others leaves the set, and memory after the next
 * commit) and, when unloaded, read back from the journal through the core
 * (coord_core_load).  Returns 0, or a negative errno with err saying why
 * (logged; s stays unloaded).  Loop thread. */
int coord_sweep_need(coord_t *c, coord_sweep_t *s, hpt_err *err);

/* Sweep id has just finished (its end is in the journal's open
 * transaction): it stays in memory as the most recently read finished
 * sweep, and the others beyond the set leave after the commit.  Loop
 * thread. */
void coord_sweep_just_finished(coord_t *c, uint64_t id);

/* Unload every finished sweep that is loaded and not recently read.  Call
 * only when every journal record written so far is committed (main.c,
 * after its commit): the core reads an unloaded sweep back from the
 * journal.  Clears c->unload_pending. */
void coord_sweeps_unload(coord_t *c);

/* A trial of s finished (done, failed or cancelled): its ranks and the
 * winner-versus-rest statistics are stale.  O(1); the next results request
 * recomputes them once (coord_clients.c).  Loop thread. */
static inline void coord_sweep_results_changed(coord_sweep_t *s)
{
    s->results_gen++;   // the core bumps it itself in hpt__trial_finish and cancel
}

/* A page of a sweep's results table exactly as `hptune results` receives it
 * (ResultsReply), built from memory.  Opaque: it owns the reply's storage
 * and borrows strings from the sweep (use it within one loop callback). */
typedef struct coord_results coord_results_t;

/* No byte bound: the whole table in one reply (the HTTP API, which has no
 * message cap). */
#define COORD_RESULTS_UNBOUNDED SIZE_MAX

/* The trials of s from index `offset` (trial order) on: at most `limit` of
 * them (0 = no count bound) and, beyond the first, only while the packed
 * ResultsReply stays within max_bytes (COORD_RESULTS_UNBOUNDED = all).  The
 * reply's total, offset, more and generation are set; ranks, p_vs_best and
 * the summary are over all trials (from the sweep's results cache, rebuilt
 * here when stale: c's, loop thread).  An offset at or past the end gives an
 * empty page with more = false.  An unloaded sweep is read back from the
 * journal first (coord_sweep_need).  Returns 0, -ENOMEM, or the error of
 * reading it back; *out is owned by the caller. */
int coord_results_new(coord_results_t **out, coord_t *c, coord_sweep_t *s, uint64_t offset,
                      uint32_t limit, size_t max_bytes);
const Hpt__ResultsReply *coord_results_reply(const coord_results_t *r);
void coord_results_destroy(coord_results_t **p);

/* The worker table as a WorkersReply, built from memory at time now
 * (coord_now).  With page NULL: every worker, in c->workers order (the
 * dashboard's JSON).  With a page: what `hptune workers` receives, the
 * workers whose id sorts (bytewise) after page->after (borrowed; "" = from
 * the first), in id order, at most page->limit (0 = no limit) and as many
 * as fit in page->max_bytes of packed WorkerInfo (at least one), with
 * `more` and `total` set.  Opaque: it owns the reply's storage and borrows
 * strings from the workers (use it within one loop callback). */
typedef struct coord_workers_info coord_workers_info_t;
typedef struct {
    const char *after;
    uint32_t limit;
    size_t max_bytes;
} coord_workers_page_t;
/* Returns 0 or -ENOMEM; *out is owned by the caller. */
int coord_workers_info_new(coord_workers_info_t **out, coord_t *c, double now,
                           const coord_workers_page_t *page);
const Hpt__WorkersReply *coord_workers_info_reply(const coord_workers_info_t *x);
void coord_workers_info_destroy(coord_workers_info_t **p);

#endif
