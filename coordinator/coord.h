/*
 * coord.h: the coordinator's shared state, visible to its modules
 * (main.c, coord_sched.c, coord_workers.c, coord_clients.c) and nothing else.
 *
 * Everything here lives on the loop thread: there is no locking.  Objects:
 *   coord_sweep_t   a submitted spec, its search strategy, its trials and a
 *                   FIFO of queued tasks;
 *   coord_trial_t   one configuration, expanded into folds x repeats tasks;
 *   coord_task_t    one (trial, split) or the sweep's refit; leased to at
 *                   most one worker at a time, with an attempt number;
 *   coord_worker_t  a registered worker, kept in an expiry-ordered list;
 *   coord_sub_t     a client following the event stream.
 * Ownership: the coord_t owns the sweeps (which own their trials and tasks),
 * the workers and the subscribers.  Tasks are also indexed by id in a hash
 * map for result lookup.
 */
#ifndef COORD_H
#define COORD_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

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
    char log_file[1024];      // "" = stderr only
    int log_level;            // hpt_log_level_t
    int hb_ivl_ms;            // heartbeat interval, ms
    int hb_liveness;          // missed intervals before a peer is dead
    int max_attempts;         // attempts per task before it fails
    int task_stall_s;         // a leased task without progress for this long is re-leased
    int task_deadline_s;      // a leased task running longer than this is re-leased
    int event_ring;           // events kept for late subscribers
    int sub_timeout_ms;       // a subscriber not renewing for this long is dropped
    // Security (coord_zap.c, docs/security.md).
    char curve_secret[1024];  // CURVE key pair file of the ROUTER; "" = plain text
    char authorized_keys[1024];  // directory of the public keys allowed to connect
    bool insecure;            // bind beyond loopback without keys (a warning, not a refusal)
    char http[256];           // HOST:PORT of the HTTP server (metrics, API, dashboard); "" = off
} coord_cfg_t;

extern const coord_cfg_t COORD_CFG_DEFAULT;   // coord_config.c, with the option table

// --- objects --------------------------------------------------------------

typedef struct coord_sweep coord_sweep_t;
typedef struct coord_trial coord_trial_t;
typedef struct coord_task coord_task_t;
typedef struct coord_worker coord_worker_t;

typedef enum coord_task_state {
    TASK_QUEUED,
    TASK_LEASED,
    TASK_DONE,
    TASK_FAILED,
    TASK_CANCELLED,
} coord_task_state_t;

struct coord_task {
    uint64_t id;                  // unique across the journal
    coord_trial_t *trial;         // owner (for the refit: the best trial)
    coord_sweep_t *sweep;
    int fold, repeat;             // the split (ignored for the refit)
    int split;                    // repeat * folds + fold, or -1 for the refit
    int seed_rep;                 // which of the spec's cv.seeds trainings of the split
    int index;                    // in its trial's tasks: split * seeds + seed_rep
    bool refit;
    coord_task_state_t state;
    uint32_t attempt;             // attempts leased so far; the current one when leased
    uint32_t failures;            // attempts that returned an error
    coord_worker_t *worker;       // holder while leased (NULL for an orphan)
    char *orphan_of;              // after a restart: the worker id that held the lease
    double orphan_deadline;       // monotonic; requeue if its worker has not re-attached
    double leased_at;             // monotonic seconds
    double queued_at;             // monotonic seconds it last entered its sweep's queue
    double progress_at;           // monotonic seconds of the lease or the last new epoch
    int epoch;                    // last reported progress
    char *avoid;                  // worker id whose attempt stalled or failed (owned, or
                                  // NULL): lease elsewhere when another worker can
    double score, accuracy, log_loss, f1_macro, train_score, fit_seconds;
    int epochs;
    uint32_t n_eval;              // samples scored
    int resumed_from;             // epochs the worker continued from (0: from scratch)
    double finished_unix;         // when its result arrived (0: not done)
    char *done_by;                // worker id that delivered the result (owned), or NULL
    char *error;                  // last attempt's error, owned, NULL when none
    coord_task_t *qprev, *qnext;  // sweep's queue while queued
    coord_task_t *wprev, *wnext;  // worker's lease list while leased
};

typedef enum coord_trial_state {
    TRIAL_RUNNING,
    TRIAL_DONE,
    TRIAL_FAILED,
    TRIAL_CANCELLED,
} coord_trial_state_t;

struct coord_trial {
    uint64_t number;              // 1-based within the sweep, in suggestion order
    uint64_t parent;              // hyperband/asha: the trial this one continues (same values,
                                  // fewer epochs), 0 for a new configuration
    uint64_t root;                // the first trial of its configuration (itself when no
                                  // parent): its tasks train with root's seeds, so a worker
                                  // holding the parent's model can continue it
    coord_sweep_t *sweep;
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    hpt_hparams_t hp;             // seed is the trial's base seed
    coord_trial_state_t state;
    bool observed;                // its score went to the search (once, ever)
    int n_tasks;                  // folds * repeats * cv.seeds
    coord_task_t **tasks;         // by index (split * seeds + seed_rep), owned
    int done, failed;
    double mean, std, mean_fit, std_fit, mean_train, std_train;
    char error[256];
};

typedef enum coord_sweep_state {
    SWEEP_QUEUED,
    SWEEP_RUNNING,
    SWEEP_REFITTING,
    SWEEP_DONE,
    SWEEP_FAILED,
    SWEEP_CANCELLED,
} coord_sweep_state_t;

struct coord_sweep {
    uint64_t id;
    coord_spec_t *spec;           // owned
    char *spec_text;              // owned
    coord_search_t *search;       // owned
    coord_sweep_state_t state;
    char fingerprint[65];         // of the dataset; "" until known
    bool fp_logged;               // the adoption of a worker's fingerprint was logged
    double created, started, finished;  // unix seconds (0 = not yet)
    coord_trial_t **trials;       // owned, in trial order
    size_t n_trials, cap_trials;
    coord_task_t *qhead, *qtail;  // queued tasks
    int n_queued;
    int64_t tasks_total;          // tasks created so far (grid: known up front)
    int tasks_done, tasks_failed, tasks_running;
    int trials_done, trials_failed;
    bool exhausted;               // the search said DONE
    coord_trial_t *best;
    coord_task_t *refit_task;     // owned
    bool has_refit;
    double refit_score, refit_accuracy;
    uint32_t refit_n_test;        // test samples the refit was scored on
    double first_result_mono;     // for the ETA
    char error[256];
    coord_sweep_t *next;          // submission order
};

#define COORD_MAX_DATASETS 64
#define COORD_MAX_SWEEP_TASKS 100000000LL   // trials x splits of one sweep

/* Worker throughput (hptune workers): counters sampled every
 * COORD_RATE_SAMPLE_S into a ring long enough to reach COORD_RATE_WINDOW_S
 * back, so a rate is (now - oldest sample in the window) / its age. */
#define COORD_RATE_WINDOW_S 300.0
#define COORD_RATE_SAMPLE_S 5.0
#define COORD_RATE_SAMPLES 62     // window / sample + 2

typedef struct coord_rate_sample {
    double at;                    // monotonic seconds
    int tasks_done;               // coord_worker_t.tasks_done then
    uint64_t epochs_done;         // coord_worker_t.epochs_done then
} coord_rate_sample_t;

struct coord_worker {
    hpt_peer_id_t peer;
    char id[256], name[256], host[256], version[64];
    int slots;
    int busy;                     // tasks leased to it
    int zombies;                  // cancelled tasks it still reports running
    int n_datasets;
    char ds_name[COORD_MAX_DATASETS][128];
    char ds_fp[COORD_MAX_DATASETS][65];
    double expiry;                // monotonic seconds
    double last_seen;             // monotonic seconds
    double connected;             // unix seconds
    bool draining;
    double cooldown_until;        // monotonic: after a refusal, no new leases until then
    coord_task_t *leased;         // head of its lease list
    int tasks_done, tasks_failed;
    uint64_t epochs_done;         // epochs trained in its finished tasks (coord_on_result)
    coord_rate_sample_t rate[COORD_RATE_SAMPLES];   // ring; rate_head: the next slot written
    int rate_head, rate_n;
    uint64_t warned[16];          // sweeps whose dataset mismatch was logged
    int n_warned;
    double offer_at;              // monotonic: its last DatasetOffer (coord_datasets.c), 0 never
    char serve_file[64];          // the file its last FetchChunk read and the offset after
    uint64_t serve_next;          //   it: a request elsewhere starts a logged stream
    uint64_t bytes_served;        // dataset bytes sent to it
    coord_worker_t *prev, *next;  // expiry order: head expires first
};

typedef struct coord_sub {
    hpt_peer_id_t peer;
    int level;                    // hpt_log_level_t
    uint64_t sweep;               // 0 = all
    double expiry;                // monotonic seconds
    struct coord_sub *next;
} coord_sub_t;

typedef struct coord_event {
    int64_t ts_us;
    int level;
    uint64_t sweep;
    uint64_t seq;
    char component[16];
    char *msg;                    // owned
    char *fields;                 // owned
} coord_event_t;

/* Upper bounds (seconds) of the dispatch latency histogram's buckets. */
#define COORD_LAT_N 14
#define COORD_LAT_LE {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600}

typedef struct coord {
    coord_cfg_t cfg;
    uv_loop_t *loop;
    void *zctx;
    void *router;
    hpt_zsock_t zs;
    uv_timer_t cron;
    uv_signal_t sig_int, sig_term, sig_hup;
    uv_prepare_t flush_prep;
    coord_store_t *store;
    bool stopping;

    coord_sweep_t *sweeps, *sweeps_tail;
    uint64_t next_sweep_id, next_task_id;

    coord_worker_t *workers, *workers_tail;  // expiry order
    int n_workers;

    // Task id -> task, open addressing with linear probing.
    coord_task_t **map;
    size_t map_cap, map_len;

    coord_event_t *ring;          // cfg.event_ring entries
    size_t ring_len, ring_head;   // head = next slot to write
    uint64_t event_seq;
    coord_sub_t *subs;
    bool in_sink;

    char fp_cache_name[8][1024];  // dataset fingerprints computed from data_dir
    char fp_cache_fp[8][65];
    int fp_cache_n;

    int n_orphans;                // leases inherited from the journal, not yet re-attached

    // Rate limiting of per-peer log lines (coord_log_allowed).
#define COORD_LOG_SLOTS 1024
    uint64_t log_slot_hash[COORD_LOG_SLOTS];
    double log_slot_time[COORD_LOG_SLOTS];
    int log_slot_count[COORD_LOG_SLOTS];
    bool journal_failed;          // a commit failed: the loop stops, exit status 1
    bool replaying;               // rebuilding sweeps from the journal at start

    // Counters for status and metrics.
    uint64_t bad_messages, results_dropped;
    uint64_t epochs_total;        // new epochs reported by Progress messages
    uint64_t tasks_retried;       // leases with attempt > 1 (attempts beyond a task's first)
    uint64_t dispatch_le[COORD_LAT_N + 1];   // leases by queued-to-leased latency bucket
    uint64_t dispatch_count;      // (COORD_LAT_LE bounds, the last one +Inf), their count
    double dispatch_sum_s;        // and the sum of their latencies in seconds
    double started_unix;          // when this process started serving
    struct coord_http *http;      // the HTTP server (coord_http.h), NULL when off
    struct coord_zap *zap;        // CURVE authentication (coord_zap.c), NULL without keys
} coord_t;

/* Count one lease whose task waited `seconds` in its sweep's queue, for the
 * hptune_dispatch_latency_seconds histogram. */
static inline void coord_metrics_dispatch(coord_t *c, double seconds)
{
    static const double le[COORD_LAT_N] = COORD_LAT_LE;
    int i = 0;
    while (i < COORD_LAT_N && seconds > le[i])
        i++;
    c->dispatch_le[i]++;
    c->dispatch_count++;
    c->dispatch_sum_s += seconds > 0 ? seconds : 0;
}

// --- helpers shared by the modules ----------------------------------------

double coord_now(void);       // monotonic seconds
double coord_unix(void);      // wall-clock seconds

const char *coord_sweep_state_name(coord_sweep_state_t s);
const char *coord_trial_state_name(coord_trial_state_t s);

/* Whether a per-peer log line of this kind may be written now (at most
 * per_minute a minute per peer and kind). */
bool coord_log_allowed(coord_t *c, const hpt_peer_id_t *peer, int kind, int per_minute);

/* Send env to a peer; returns 0 or a negative errno (logged at debug). */
int coord_send(coord_t *c, const hpt_peer_id_t *to, hpt_env_t *env);

// coord_sched.c
int coord_sweep_submit(coord_t *c, const char *text, const char *path, coord_sweep_t **out,
                       hpt_err *err);
void coord_dispatch(coord_t *c);
void coord_on_result(coord_t *c, coord_worker_t *w, const Hpt__Result *m);
void coord_on_progress(coord_t *c, coord_worker_t *w, const Hpt__Progress *m);
void coord_requeue(coord_t *c, coord_task_t *t, const char *why);
/* Stall and deadline checks over every lease (once a second). */
void coord_tasks_cron(coord_t *c);
int coord_sweep_cancel(coord_t *c, coord_sweep_t *s);
coord_sweep_t *coord_sweep_find(coord_t *c, uint64_t id);
void coord_sweeps_free(coord_t *c);
/* Rebuild every unfinished sweep from the journal (after a restart).
 * Returns the number resumed or a negative errno. */
int coord_resume(coord_t *c, hpt_err *err);
/* Leases from before a restart: re-bind to a worker that re-registered,
 * requeue those whose worker did not come back in time. */
void coord_orphans_adopt(coord_t *c, coord_worker_t *w);
void coord_orphans_cron(coord_t *c);
/* A Result from a peer that is not registered: accepted when it completes an
 * orphaned lease (the result depends only on the task).  Returns true when
 * it was used. */
bool coord_orphan_result(coord_t *c, const Hpt__Result *m);
double coord_sweep_eta(const coord_sweep_t *s);

#define COORD_ALPHA 0.05   // default significance level (spec alpha:)

/* The sweep's significance level for "indistinguishable from the best":
 * the spec's alpha:, else COORD_ALPHA. */
static inline double coord_sweep_alpha(const coord_sweep_t *s)
{
    return s->spec->alpha > 0 ? s->spec->alpha : COORD_ALPHA;
}

/* The corrected resampled t-test p-value of the sweep's best trial against
 * tr on their paired split scores; NaN unless both are done, 1 for the best. */
double coord_trial_p_vs_best(const coord_sweep_t *s, const coord_trial_t *tr);

/* The score of split k (0 .. folds * repeats - 1) of a trial: the mean over
 * its cv.seeds trainings of the test score (train: of the train score), or
 * NaN unless all of them are done. */
double coord_trial_split_score(const coord_trial_t *tr, int k, bool train);

/* When a done trial's last result arrived (unix seconds), else NaN. */
double coord_trial_finished(const coord_trial_t *tr);

// coord_workers.c
void coord_on_hello(coord_t *c, const hpt_peer_id_t *peer, const Hpt__Hello *m);
coord_worker_t *coord_worker_by_peer(coord_t *c, const hpt_peer_id_t *peer);
void coord_worker_touch(coord_t *c, coord_worker_t *w);
void coord_on_heartbeat(coord_t *c, coord_worker_t *w, const Hpt__Heartbeat *m);
void coord_on_goodbye(coord_t *c, coord_worker_t *w, const Hpt__Goodbye *m);
void coord_workers_cron(coord_t *c);
void coord_worker_remove(coord_t *c, coord_worker_t *w, const char *why);
void coord_workers_free(coord_t *c);
int coord_worker_free_slots(const coord_worker_t *w);
/* 1 when the worker holds the sweep's dataset with the right fingerprint. */
int coord_worker_has_dataset(const coord_worker_t *w, const coord_sweep_t *s);
void coord_task_unlease(coord_t *c, coord_task_t *t);
/* The worker's throughput over the last COORD_RATE_WINDOW_S seconds (or
 * since it connected): tasks finished per minute and epochs trained per
 * second, and the window they cover in *window_s (0 when under a second:
 * the rates are then 0, not known yet). */
void coord_worker_rates(const coord_worker_t *w, double now, double *tasks_per_min,
                        double *epochs_per_s, double *window_s);

// coord_datasets.c (dataset transfer, docs/protocol.md)
/* w lacks the dataset of s (runnable, w has free slots): offer it, at most
 * once per offer interval per worker, when the coordinator has the files. */
void coord_datasets_offer(coord_t *c, coord_worker_t *w, const coord_sweep_t *s);
/* A chunk request: served when the dataset is a queued or running sweep's,
 * refused (and logged with the peer) otherwise. */
void coord_on_fetch(coord_t *c, coord_worker_t *w, const Hpt__FetchChunk *m);
/* The worker's new dataset list (after a fetch). */
void coord_on_datasets(coord_t *c, coord_worker_t *w, const Hpt__Datasets *m);

// coord_zap.c (CURVE authentication, docs/security.md)
typedef struct coord_zap coord_zap_t;
/* Before the ROUTER is created: load the secret key and the authorized keys
 * (strictly: a bad file fails), bind the ZAP handler (a REP socket on
 * inproc://zeromq.zap.01 in c->zctx).  Errors are printed for the operator
 * (they name the file) and return a negative errno; *out is owned by the
 * caller (coord_zap_destroy). */
int coord_zap_new(coord_zap_t **out, coord_t *c);
/* Make the ROUTER (not yet bound) a CURVE server with the secret key. */
int coord_zap_server(coord_zap_t *z, void *router);
/* Watch the ZAP socket (and handshake failures) from c->loop. */
int coord_zap_start(coord_zap_t *z);
/* SIGHUP: re-read the authorized keys; bad files are logged and skipped. */
void coord_zap_reload(coord_zap_t *z);
/* Close the loop handles (shutdown); the sockets stay open until destroy. */
void coord_zap_close(coord_zap_t *z);
/* After the loop ended: close the sockets, wipe the key; accepts NULL and
 * sets *p = NULL. */
void coord_zap_destroy(coord_zap_t **p);

// coord_clients.c
void coord_on_client(coord_t *c, const hpt_peer_id_t *peer, hpt_env_t *env);
void coord_events_init(coord_t *c);
void coord_events_free(coord_t *c);
void coord_subs_cron(coord_t *c);

/* A sweep's summary as clients receive it (SweepInfo) with the storage its
 * pointers point into; it borrows strings from the sweep, so use it before
 * the sweep changes (within one loop callback). */
typedef struct coord_sweep_info {
    Hpt__SweepInfo info;
    Hpt__Param params[COORD_SPEC_MAX_PARAMS];
    Hpt__Param *pp[COORD_SPEC_MAX_PARAMS];
    char txt[COORD_SPEC_MAX_PARAMS][64];
} coord_sweep_info_t;

/* Fill *b from s.  compare: also the winner-versus-rest statistics
 * (runner-up, indistinguishable), O(trials) t-tests that only results
 * requests pay for. */
void coord_sweep_info_fill(const coord_sweep_t *s, coord_sweep_info_t *b, bool compare);

/* A sweep's results table exactly as `hptune results` receives it
 * (ResultsReply), built from memory.  Opaque: it owns the reply's storage
 * and borrows strings from the sweep (use it within one loop callback). */
typedef struct coord_results coord_results_t;
/* Returns 0 or -ENOMEM; *out is owned by the caller. */
int coord_results_new(coord_results_t **out, const coord_sweep_t *s);
const Hpt__ResultsReply *coord_results_reply(const coord_results_t *r);
void coord_results_destroy(coord_results_t **p);

/* The worker table exactly as `hptune workers` receives it (WorkersReply,
 * workers in c->workers order), built from memory at time now (coord_now).
 * Opaque: it owns the reply's storage and borrows strings from the workers
 * (use it within one loop callback). */
typedef struct coord_workers_info coord_workers_info_t;
/* Returns 0 or -ENOMEM; *out is owned by the caller. */
int coord_workers_info_new(coord_workers_info_t **out, coord_t *c, double now);
const Hpt__WorkersReply *coord_workers_info_reply(const coord_workers_info_t *x);
void coord_workers_info_destroy(coord_workers_info_t **p);

#endif
