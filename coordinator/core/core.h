/*
 * core.h: the coordinator's core, a state machine with no I/O.
 *
 * The core owns sweeps, trials, tasks, leases, the worker table, orphaned
 * leases after a restart, stalls, the refit and resume.  It makes no
 * ZeroMQ, libuv, SQLite, clock or logging calls.  Every entry point takes
 * the time `now` (monotonic seconds, supplied by the caller) and an event (a
 * decoded message, a tick, a submission), changes state, and appends what
 * should happen to the outbox (coord_outbox_t): messages to send, journal
 * records to write, typed events for people and subscribers, dataset offers
 * and the time of the next tick.  The daemon's shell (main.c and the
 * coord_* modules) carries the actions out; the simulator in tests/sim runs
 * the same core against simulated workers, network, clock and disk.
 *
 * Ownership inside the core, one owner per invariant:
 *   - tasks.c owns where a task is: its sweep's queue (QUEUED), one
 *     worker's lease list (LEASED) or neither; the task map by id; and the
 *     rule that a worker never holds more leases than slots;
 *   - workers.c owns the worker table (expiry order, liveness);
 *   - sched.c owns sweeps and trials: creation, dispatch, results, retries,
 *     aggregation, the refit, cancellation, stalls;
 *   - resume.c owns rebuilding from the journal and orphaned leases.
 *
 * Threading: one thread (the loop thread in the daemon).  The shell reads
 * the objects below (const) to answer clients; it changes them only through
 * the entry points.
 */
#ifndef COORD_CORE_H
#define COORD_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coord_spec.h"
#include "err.h"
#include "journal.h"
#include "proto_io.h"
#include "search.h"

// --- configuration --------------------------------------------------------

typedef struct coord_core_cfg {
    int hb_ivl_ms;            // heartbeat interval, ms
    int hb_liveness;          // missed intervals before a peer is dead
    int max_attempts;         // attempts per task before it fails
    int task_stall_s;         // a leased task without progress for this long is re-leased
    int task_deadline_s;      // a leased task running longer than this is re-leased
    int fuse_max;             // tasks per bundle at most (workers that advertise
                              // Hello.fuse_max get bundles of tasks that see the same
                              // mini-batches, sched.c); < 2: every task alone
    /* Fill buf with len unpredictable bytes (the daemon: getrandom; tests: a
     * seeded generator).  Required: the core draws each worker's session
     * secret from it, and makes no system calls itself. */
    void (*random)(void *ud, void *buf, size_t len);
    void *random_ud;
} coord_core_cfg_t;

// --- who sent a message -----------------------------------------------------

#define COORD_KEY_Z85_LEN 40      // a CURVE public key in Z85

/* What the shell knows of the connection a message came on, beyond its
 * routing id (docs/security.md, "Identity").  The ZAP handler admits every
 * connection and numbers it; libzmq attaches that number (and, with CURVE,
 * the client's public key) to every message the connection delivers, and no
 * peer can set them.  A routing id names a connection only while it is open,
 * so a worker record remembers both. */
typedef struct coord_conn {
    uint64_t id;                  // the connection's serial, unique in this run (> 0)
    char key[COORD_KEY_Z85_LEN + 1];   // the client's CURVE public key (Z85), "" without keys
} coord_conn_t;

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
    TASK_WAITING,   // its trial continues a shorter trial of its epoch family: it waits,
                    // in no queue, for that trial's task of the same split to end
} coord_task_state_t;

/* What a task holds only while it is leased (or orphaned after a restart):
 * allocated at the lease, freed when the lease ends, so a queued or finished
 * task carries none of it. */
/* Who held an orphaned lease, from the journal: only the worker that proves
 * it is that worker (its session secret, and its key when it had one) may
 * take the lease back (resume.c). */
typedef struct coord_orphan {
    uint8_t secret_hash[32];      // SHA-256 of the holder's session secret
    char key[COORD_KEY_Z85_LEN + 1];   // the holder's CURVE key, "" when it had none
    char worker[];                // the holder's worker id
} coord_orphan_t;

typedef struct coord_lease {
    coord_worker_t *worker;       // holder (NULL for an orphan)
    coord_orphan_t *orphan;       // after a restart: who held it (owned), until adopted
    double orphan_deadline;       // monotonic; requeue if its worker has not re-attached
    double leased_at;             // monotonic seconds
    double progress_at;           // monotonic seconds of the lease or the last new epoch
    int epoch;                    // last reported progress
    uint64_t bundle;              // the bundle it was leased in (Assign.bundle), 0: alone
                                  // (an adopted orphan is alone: the journal does not know)
    coord_task_t *wprev, *wnext;  // the worker's lease list (the core's orphan list while
                                  // orphaned)
} coord_lease_t;

/* What the core keeps of a finished task's result: what results, ranks,
 * p-values and promotions read later.  The rest of coord_result_t (log
 * loss, F1, the refit's accuracy and sample count) is journaled and, for the
 * refit, copied into its sweep when it arrives.  A trial's task results live
 * in the trial's block; the refit's is allocated when it arrives. */
typedef struct coord_task_result {
    double score;                 // test score (the metric on the held-out fold)
    double train_score;           // NaN unless score_train
    double fit_seconds;
    double finished_unix;         // when it arrived
    const char *done_by;          // worker id that delivered it (interned, core-owned)
    int32_t epochs;               // epochs the model has
    int32_t resumed_from;         // epochs the worker continued from (0: from scratch)
} coord_task_result_t;

struct coord_task {
    uint64_t id;                  // unique across the journal
    coord_trial_t *trial;         // owner (for the refit: the best trial)
    int32_t index;                // in its trial's tasks: split * seeds + seed_rep; -1 refit
    uint8_t state;                // coord_task_state_t
    uint8_t failures;             // attempts that returned an error
    uint16_t attempt;             // attempts leased so far; the current one when leased
    double queued_at;             // monotonic seconds it last entered its sweep's queue
    coord_lease_t *lease;         // while LEASED (owned), else NULL
    coord_task_result_t *res;     // when DONE (owned), else NULL
    const char *avoid;            // worker id whose attempt stalled or failed (interned), or
                                  // NULL: lease elsewhere when another worker can
    char *error;                  // last attempt's error, owned, NULL when none
    coord_task_t *qprev, *qnext;  // sweep's queue while queued
};

typedef enum coord_trial_state {
    TRIAL_RUNNING,
    TRIAL_DONE,
    TRIAL_FAILED,
    TRIAL_CANCELLED,
} coord_trial_state_t;

struct coord_trial {
    uint64_t number;              // 1-based within the sweep, in suggestion order
    uint64_t parent;              // the trial this one continues (same values, fewer epochs):
                                  // a hyperband/asha promotion, or the next shorter trial of
                                  // its epoch family; 0 for a new configuration
    uint64_t root;                // the first trial of its configuration (itself when no
                                  // parent): its tasks train with root's seeds, so a worker
                                  // holding the parent's model can continue it
    coord_sweep_t *sweep;
    double *vnum;                 // (spec->n_params) in the trial's block: value i's number, or
                                  // when bit i of interned is set its index in sweep->pvals;
                                  // read them with coord_trial_values
    uint32_t absent;              // bit i: parameter i does not apply (coord_pval_t.absent)
    uint32_t interned;            // bit i: value i is sweep->pvals[vnum[i]] (enum values)
    coord_trial_state_t state;
    bool observed;                // its score went to the search (once, ever)
    int n_tasks;                  // folds * repeats * cv.seeds
    coord_task_t **tasks;         // by index (split * seeds + seed_rep), NULL until created;
                                  // they point into `block`, all in the trial's own block
    coord_task_t *block;          // (splits) the tasks' storage, zeroed until created
    coord_task_result_t *results; // (splits) storage of the tasks' `res`
    int done, failed;
    double mean, std, mean_fit, std_fit, mean_train, std_train;
    char *error;                  // why it failed (owned), NULL when none
    uint64_t mem_need;            // bytes its model needs at least (coord_trial_mem_need); 0
                                  // not computed yet
    /* Epoch families (model_seed: shared): trials whose values differ only
     * in `epochs`.  A member continues the models of the member with the
     * most epochs below its own (its parent), split by split. */
    coord_trial_t *fam_next;      // the next member of its family, in trial order
    coord_trial_t *kids;          // trials whose parent this is, most recent first
    coord_trial_t *kid_next;      // the next of its parent's kids
};

/* A trial is one allocation: the struct, then its task pointers, its tasks,
 * their results and its parameter values (about 150 + 136 x splits + 8 x
 * params bytes), so 200,000 trials of 5 folds and 4 parameters take about
 * 170 MB with their tasks and results.  Its hyperparameters are not stored: coord_trial_hparams
 * derives them from the values when a task is leased. */

/* The trial's hyperparameters: spec->base with its values applied (the
 * seed is the trial's base seed).  Returns 0, or -EINVAL when the
 * combination is invalid (such a trial never has tasks). */
int coord_trial_hparams(const coord_trial_t *tr, hpt_hparams_t *hp);

/* A lower bound of the bytes the trial's model takes on a worker (the
 * worker's own figure, wrk_task_mem_bytes, adds its data's batches and
 * shape, which the core does not know): hpt_train_model_bytes at the
 * evaluation batch (512) for the named datasets, with their 784 inputs and
 * 10 classes; for an idx: dataset, 1 input, 2 classes and a batch of 1.  So
 * the scheduler never withholds a task a worker would run.  Cached in
 * tr->mem_need.  Loop thread. */
uint64_t coord_trial_mem_need(coord_trial_t *tr);

/* The trial's parameter values, one per spec->params[i], into out (at least
 * spec->n_params entries), exactly as the search suggested them. */
void coord_trial_values(const coord_trial_t *tr, coord_pval_t *out);

// --- racing the leaders (race.c) ----------------------------------------------

typedef enum coord_race_outcome {
    COORD_RACE_RUNNING,
    COORD_RACE_CERTIFIED,         // one leader left: significantly better than every other
    COORD_RACE_TIE,               // several left: the tie-break chose among them
} coord_race_outcome_t;

typedef enum coord_race_stop {
    COORD_RACE_STOP_NONE,
    COORD_RACE_STOP_ONE_LEFT,
    COORD_RACE_STOP_MAX_REPEATS,  // select.max_repeats rounds ran
    COORD_RACE_STOP_BUDGET,       // the next round would pass select.budget_tasks
    COORD_RACE_STOP_FAILED,       // a race task failed for good: the last look stands
} coord_race_stop_t;

/* One leader of a race: what the report plots (its mean and CI per look). */
typedef struct coord_race_leader {
    coord_trial_t *trial;         // borrowed (its sweep owns it)
    int dropped_at;               // the look that dropped it (1 = after the search), 0 while in
    double p_drop;                // its p-value against the best at that look, NaN while in
    double cost;                  // parameters x epochs (the tie-break's "cheapest")
    double *mean, *half;          // (max_repeats + 1) per look: the mean over its splits and
                                  // the half-width of its 95 % interval; NaN once dropped
} coord_race_leader_t;

/* A sweep's race (race.c): created when the search has ended, rebuilt from
 * the journal's tasks on resume.  Look 0 is the search's own evidence;
 * look r follows race round r, which adds CV repeat cv.repeats + r - 1 (all
 * folds, all cv.seeds) for every leader still in. */
typedef struct coord_race {
    int n;                        // leaders
    coord_race_leader_t *v;       // (n) best first by the search's mean
    int rounds;                   // rounds started
    int looks;                    // looks taken (look 0 included)
    int per_round;                // tasks a leader's round has: folds x cv.seeds
    int max_rounds;               // select.max_repeats
    coord_task_t **tasks;         // (n x max_rounds x per_round) race tasks (owned), NULL
                                  // until created
    long tasks_created, tasks_done, budget;
    double alpha_look;            // alpha / (max_repeats + 1): each look's share
    coord_race_outcome_t outcome;
    coord_race_stop_t stop;
    coord_trial_t *winner;        // once decided
    bool failed;                  // a race task failed for good
} coord_race_t;

/* What an unloaded sweep keeps of its trials (coord_core_unload): exactly
 * what status shows of them.  One allocation: the struct, then the best
 * trial's values. */
typedef struct coord_sweep_sum {
    long trials_total;            // coord_search_total when unloaded (<= 0: not known up front)
    size_t n_trials;              // trials suggested
    uint64_t best;                // the best trial's number, 0 when none
    double best_mean, best_std;
    coord_pval_t *best_vals;      // (spec->n_params) its values, in this block
} coord_sweep_sum_t;

typedef enum coord_sweep_state {
    SWEEP_QUEUED,
    SWEEP_RUNNING,
    SWEEP_REFITTING,
    SWEEP_DONE,
    SWEEP_FAILED,
    SWEEP_CANCELLED,
} coord_sweep_state_t;

#define COORD_OWNER_LEN 64   // bytes of a sweep's owner, NUL included

struct coord_sweep {
    uint64_t id;
    char owner[COORD_OWNER_LEN];  // who submitted it (the shell's principal: "key:Z85",
                                  // "addr:IP", ...; coord_policy.h), "" when unknown; its
                                  // active sweeps count against that principal's quota
    coord_spec_t *spec;           // owned
    char *spec_text;              // owned
    coord_search_t *search;       // owned
    coord_sweep_state_t state;
    char fingerprint[65];         // of the dataset, from the coordinator's own copy (or the
                                  // pinned value of a named dataset); never a worker's.  ""
                                  // only in a sweep journaled by an older build that took it
                                  // from a worker: such a sweep is served by nobody
    double created, started, finished;  // unix seconds (0 = not yet)
    coord_trial_t **trials;       // owned, in trial order
    coord_trial_t **fam;          // (fam_cap, a power of two; NULL when none) open-addressed
    size_t fam_cap, fam_len;      // by the values but epochs: each family's first trial
    coord_pval_t *pvals;          // (n_pvals) owned: the distinct enum values its trials use
    size_t n_pvals, cap_pvals;
    size_t n_trials, cap_trials;
    coord_task_t *qhead, *qtail;  // queued tasks
    int n_queued;
    int64_t tasks_total;          // tasks created so far (grid: known up front)
    int tasks_done, tasks_failed, tasks_running;
    int n_waiting;                // tasks WAITING for their parent trial's task
    uint64_t epochs_trained;      // epochs its finished tasks trained (refit included)
    uint64_t epochs_scratch;      // ... and would have trained, each from scratch
    int trials_done, trials_failed;
    bool exhausted;               // the search said DONE
    coord_trial_t *best;
    coord_task_t *refit_task;     // owned
    bool has_refit;
    double refit_score, refit_accuracy;
    uint32_t refit_n_test;        // test samples the refit was scored on
    double first_result_mono;     // for the ETA
    uint64_t results_gen;         // bumped whenever a trial's aggregate changes
    struct coord_rcache *rcache;  // the shell's results cache (coord_clients.c), never read
                                  // by the core; NULL until first asked
    char error[256];
    /* Set while the sweep is unloaded (owned): a finished sweep whose
     * trials, tasks, search and refit task were freed (coord_core_unload;
     * trials is NULL, n_trials 0, best NULL), or never built since the
     * start (coord_core_resume, from its journaled summary), until
     * coord_core_load reads them back from the journal.  The spec, the counters, the times, the
     * refit figures, the error and results_gen stay, so status reads the
     * same either way. */
    coord_sweep_sum_t *sum;
    coord_race_t *race;           // owned: select.race's race once the search ended, else NULL
    char race_verdict[192];       // the race's verdict once decided ("" before), kept when
                                  // the sweep is unloaded
    coord_sweep_t *next;          // submission order
};

static inline bool coord_sweep_loaded(const coord_sweep_t *s)
{
    return s->sum == NULL;
}

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
    hpt_peer_id_t peer;           // routing id of its connection
    uint64_t conn;                // that connection (coord_conn_t.id): messages with its routing
                                  // id from any other connection are not its
    char key[COORD_KEY_Z85_LEN + 1];   // the CURVE key that registered it ("" without keys);
                                  // a reconnect must come with the same key
    uint8_t secret_hash[32];      // SHA-256 of its session secret (Welcome.session_secret); a
                                  // Hello for its id on another connection must present the
                                  // secret.  The secret itself is not kept.
    char id[256], name[256], host[256], version[64];
    int slots;
    uint64_t mem_budget;          // bytes its tasks' models may take (Hello.max_model_mem); 0
                                  // unknown (an older worker, or no limit)
    int busy;                     // tasks leased to it
    int units;                    // slots its leases fill: a bundle's tasks share one slot
                                  // (tasks.c); units <= busy
    int fuse_max;                 // tasks one bundle may hold (Hello.fuse_max); < 2: none
    int zombies;                  // cancelled tasks it still reports running
    int n_datasets;
    char ds_name[COORD_MAX_DATASETS][128];
    char ds_fp[COORD_MAX_DATASETS][65];
    double expiry;                // monotonic seconds
    double last_seen;             // monotonic seconds
    double connected;             // unix seconds
    bool draining;
    double cooldown_until;        // monotonic: after a refusal, no new leases until then
    double last_sent;             // monotonic: the last Assign, Cancel or Welcome sent to it
                                  // (any message resets its liveness: no heartbeat needed)
    coord_task_t *leased;         // head of its lease list
    int tasks_done, tasks_failed;
    uint64_t epochs_done;         // epochs trained in its finished tasks
    coord_rate_sample_t rate[COORD_RATE_SAMPLES];   // ring; rate_head: the next slot written
    int rate_head, rate_n;
    uint64_t warned[16];          // sweeps whose dataset mismatch was logged
    int n_warned;
    // Owned by the shell's dataset transfer (coord_datasets.c), never read by the core.
    double offer_at;              // monotonic: its last DatasetOffer, 0 never
    char serve_file[64];          // the file its last FetchChunk read and the offset after
    uint64_t serve_next;          //   it: a request elsewhere starts a logged stream
    uint64_t bytes_served;        // dataset bytes sent to it
    uint64_t fetch_sweep;         // the sweep whose dataset its last served FetchChunk was
    double fetch_at;              //   for, and when (monotonic; 0 never): "is fetching it"
    coord_worker_t *prev, *next;  // expiry order: head expires first
    coord_worker_t *fprev, *fnext;   // the free list: workers with a free slot (workers.c)
    bool in_free;
    coord_worker_t *peer_next, *id_next;   // hash chains by peer and by id (workers.c)
};

// --- typed events -----------------------------------------------------------

/* Every event the core reports.  The names (coord_event_name) are the stable
 * schema of `hptune logs --format json` and the journal's events table:
 * add new types at the end, never rename one. */
typedef enum coord_event_type {
    COORD_EV_LOG,                 // a plain log line of the shell (no type of its own)
    COORD_EV_SWEEP_SUBMITTED,
    COORD_EV_SWEEP_FINISHED,
    COORD_EV_SWEEP_RESUMED,
    COORD_EV_SWEEP_LOADED,
    COORD_EV_SWEEP_RESUME_FAILED,
    COORD_EV_TRIAL_CREATED,
    COORD_EV_TRIAL_DONE,
    COORD_EV_TRIAL_FAILED,
    COORD_EV_TASK_LEASED,
    COORD_EV_TASK_PROGRESS,
    COORD_EV_TASK_RESULT,
    COORD_EV_TASK_RETRY,
    COORD_EV_TASK_FAILED,
    COORD_EV_TASK_REQUEUED,
    COORD_EV_LEASE_REVOKED,
    COORD_EV_RESULT_DROPPED,
    COORD_EV_REFIT_STARTED,
    COORD_EV_REFIT_DONE,
    COORD_EV_FINGERPRINT_ADOPTED, // no longer emitted: a worker never sets a fingerprint
    COORD_EV_WORKER_LACKS_DATASET,
    COORD_EV_WORKER_FINGERPRINT_MISMATCH,
    COORD_EV_WORKER_JOINED,
    COORD_EV_WORKER_REREGISTERED,
    COORD_EV_WORKER_DRAINING,
    COORD_EV_WORKER_LEFT,
    COORD_EV_WORKER_DATASETS,
    COORD_EV_LEASES_REATTACHED,
    COORD_EV_UNREGISTERED_PEER,
    COORD_EV_OUT_OF_MEMORY,
    COORD_EV_WORKER_DRY_RUN_REFUSED,
    COORD_EV_HELLO_REFUSED,         // a Hello whose strings are not plain text
    COORD_EV_SWEEP_DELETED,
    COORD_EV_WORKER_REFUSED,      // a Hello for a worker id it could not prove was its own
    COORD_EV_RESULT_HELD,         // a Result from a connection not registered (yet)
    COORD_EV_RACE_STARTED,        // the leaders chosen after the search (race.c)
    COORD_EV_RACE_ROUND,          // a round's look: who was dropped, who remains
    COORD_EV_RACE_DONE,           // the verdict: a certified winner or a tie-break
    COORD_EV__COUNT
} coord_event_type_t;

/* "sweep.submitted", ...; "log" for COORD_EV_LOG. */
const char *coord_event_name(coord_event_type_t t);

// --- the outbox -------------------------------------------------------------

typedef enum coord_act_kind {
    COORD_ACT_SEND,      // send a packed envelope to a peer
    COORD_ACT_JOURNAL,   // write a journal record
    COORD_ACT_EVENT,     // report a typed event (log line, ring, subscribers, journal)
    COORD_ACT_OFFER,     // offer a sweep's dataset to a worker that lacks it
    COORD_ACT_TIMER,     // call coord_core_tick no later than `at`
} coord_act_kind_t;

typedef struct coord_act_send {
    hpt_peer_id_t peer;
    int body;                     // Hpt__Envelope body case, for logs and the simulator
    uint8_t *buf;                 // packed Envelope (outbox-owned)
    size_t len;
} coord_act_send_t;

typedef struct coord_act_event {
    coord_event_type_t type;
    int level;                    // hpt_log_level_t
    uint64_t sweep;               // 0 = none
    const char *component;        // static
    const char *msg;              // static, one sentence for people
    const char *fields;           // logfmt key=value pairs (outbox-owned)
} coord_act_event_t;

typedef struct coord_act_offer {
    hpt_peer_id_t peer;
    uint64_t sweep;
} coord_act_offer_t;

typedef struct coord_action {
    coord_act_kind_t kind;
    union {
        coord_act_send_t send;
        coord_jrec_t journal;
        coord_act_event_t event;
        coord_act_offer_t offer;
        double at;                // COORD_ACT_TIMER: monotonic seconds
    } u;
} coord_action_t;

/* A growable list of actions with an arena for their bytes and strings.
 * Pointers into it stay valid until coord_outbox_clear. */
typedef struct coord_outbox {
    coord_action_t *v;
    size_t n, cap;
    struct coord_arena_block *blocks;   // arena, newest first
    bool failed;                  // out of memory appending: actions were lost
} coord_outbox_t;

void coord_outbox_clear(coord_outbox_t *o);
void coord_outbox_free(coord_outbox_t *o);

// --- the core ---------------------------------------------------------------

/* Bounds what one peer can make the core log: a fixed table of per-(peer,
 * kind) counters, so memory stays fixed however many peers misbehave. */
#define COORD_LOG_SLOTS 1024

/* Results held for connections not registered yet (coord_core_t.held). */
#define COORD_HELD_MAX 1024
#define COORD_HELD_BYTES 2048

/* Upper bounds (seconds) of the dispatch latency histogram's buckets. */
#define COORD_LAT_N 14
#define COORD_LAT_LE {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600}

typedef struct coord_core {
    coord_core_cfg_t cfg;
    double now;                   // monotonic seconds of the entry point running
    double wall_offset;           // wall-clock seconds = now + wall_offset
    coord_outbox_t out;
    bool stopping;                // no new leases (shutdown)
    int event_level;              // events below this hpt_log_level_t are not reported at
                                  // all (the shell's log level): not formatted, not queued
    bool replaying;               // rebuilding sweeps from the journal at start

    coord_sweep_t *sweeps, *sweeps_tail;
    uint64_t next_sweep_id, next_task_id;
    uint64_t last_bundle;         // the last bundle id given (sched.c): unique in this run, so
                                  // a requeued task that led a bundle still on a worker
                                  // starts a new one there

    coord_worker_t *workers, *workers_tail;  // expiry order
    int n_workers;
    /* Workers with a free slot (slots - units - zombies > 0, not draining),
     * in the order they became free: dispatch walks only these, so a
     * result costs O(1) workers however many are connected. */
    coord_worker_t *free_head, *free_tail;
    // Workers by peer and by id: chained hash tables of tab_cap buckets.
    coord_worker_t **peer_tab, **id_tab;
    size_t tab_cap;

    // Task id -> task, open addressing with linear probing (tasks.c).  It
    // grows incrementally: after a doubling the previous table stays in
    // map_old, emptied a few slots per put, so no put copies the whole map
    // (25 ms at a million tasks).  map_len counts both tables' tasks.
    coord_task_t **map, **map_old;
    size_t map_cap, map_len;
    size_t old_cap, old_pos;      // map_old's slots, and the next one to move
    size_t n_leases;              // tasks holding a coord_lease_t (leased or orphaned)

    // Interned worker ids (done_by, avoid): one copy per id ever seen, in an
    // open-addressing set of ids_cap slots (tasks.c).
    char **ids;
    size_t ids_cap, ids_len;

    int n_orphans;                // leases inherited from the journal, not yet re-attached
    coord_task_t *orphans;        // their list (through lease->wprev/wnext, tasks.c)

    /* Results that arrived on a connection no worker is registered on (yet):
     * a worker whose connection was replaced (libzmq reconnects on its own,
     * or the coordinator restarted) sends on the new one before its Hello
     * is answered.  They are used if that very connection registers as the
     * lease's holder within two liveness periods, else dropped; at most
     * COORD_HELD_MAX, each at most COORD_HELD_BYTES packed (workers.c). */
    struct coord_held *held, *held_tail;
    int n_held;

    // Housekeeping clocks (tick), monotonic seconds of the last run.
    double last_hb, last_stall_check;

    uint64_t log_slot_hash[COORD_LOG_SLOTS];
    double log_slot_time[COORD_LOG_SLOTS];
    int log_slot_count[COORD_LOG_SLOTS];

    // Counters for status and metrics.
    uint64_t results_dropped;
    uint64_t results_accepted;    // results that completed a lease (each task once)
    uint64_t epochs_total;        // new epochs reported by Progress messages
    uint64_t tasks_retried;       // leases with attempt > 1
    uint64_t attempts_failed;     // attempts that ended failed: the worker's error, values out
                                  // of range, a stall or deadline revoke
    uint64_t leases_lost;         // leases taken back from a worker that was lost
    uint64_t workers_lost;        // workers removed without a Goodbye (expired, connection
                                  // gone, replaced by another worker id on their connection)
    uint64_t dispatch_le[COORD_LAT_N + 1];   // leases by queued-to-leased latency bucket
    uint64_t dispatch_count;      // (COORD_LAT_LE bounds, the last one +Inf), their count
    double dispatch_sum_s;        // and the sum of their latencies in seconds
} coord_core_t;

/* Initialise k (zeroed storage) with cfg; wall-clock = monotonic +
 * wall_offset.  next ids start at 1.  Returns 0, or -EINVAL when
 * cfg->random is NULL. */
int coord_core_init(coord_core_t *k, const coord_core_cfg_t *cfg, double wall_offset);

/* Free every object and the outbox; k can be initialised again. */
void coord_core_free(coord_core_t *k);

/* Continue numbering after the journal's largest ids; task ids of this run
 * start no lower than first_task (the incarnation's block, coord_store.h's
 * coord_store_incarnation: ids handed out by a run that crashed before
 * committing them are never reused, so a late result cannot match another
 * task's id). */
void coord_core_set_ids(coord_core_t *k, uint64_t max_sweep, uint64_t max_task,
                        uint64_t first_task);

/* Stop leasing (shutdown): later entry points still record results. */
void coord_core_stop(coord_core_t *k);

// --- entry points (each appends to k->out) ----------------------------------

/* Parse and queue a sweep.  fingerprint: the dataset's SHA-256 hex as the
 * shell computed it from its own copy (or a named dataset's pinned value);
 * required: a sweep's fingerprint never comes from a worker, so without one
 * the submission is refused (-EINVAL).  *out borrows the new sweep.  Returns
 * 0, or a negative errno with err naming the file, line and field. */
int coord_core_submit(coord_core_t *k, double now, const char *text, const char *path,
                      const char *fingerprint, coord_sweep_t **out, hpt_err *err);

/* coord_core_submit for a sweep owned by `owner` (borrowed, cut to
 * COORD_OWNER_LEN - 1 bytes; NULL or "" for none), journaled with it so
 * that a restart keeps it. */
int coord_core_submit_owned(coord_core_t *k, double now, const char *text, const char *path,
                            const char *fingerprint, const char *owner, coord_sweep_t **out,
                            hpt_err *err);

/* coord_core_submit_owned with the dataset's canonical name (borrowed;
 * NULL: as the spec says), which replaces the spec's `dataset:` in the
 * sweep and is journaled with it, so that every alias of one directory
 * (idx:/d/, idx://d, idx:/d/../d) is one dataset for workers, offers and
 * resume. */
int coord_core_submit_ds(coord_core_t *k, double now, const char *text, const char *path,
                         const char *dataset, const char *fingerprint, const char *owner,
                         coord_sweep_t **out, hpt_err *err);

/* Cancel a sweep (clients).  Returns 1 when it was running, 0 when it had
 * already ended. */
int coord_core_cancel(coord_core_t *k, double now, coord_sweep_t *s);

/* A Hello from peer on connection conn (all borrowed; the message validated
 * by the shell).  The rules (docs/protocol.md, "Identity and reconnects"):
 * a new worker id is registered to this connection and key, and its Welcome
 * carries a fresh session secret; the id of a worker registered on another
 * connection, or of an orphaned lease's holder after a restart, is taken
 * only with that worker's secret (and key); anything else is refused with
 * Disconnect{DISCONNECT_ID_REFUSED}, logged, and changes nothing. */
void coord_core_hello(coord_core_t *k, double now, const hpt_peer_id_t *peer,
                      const coord_conn_t *conn, const Hpt__Hello *m);

/* Any other worker-to-coordinator message (Heartbeat, Progress, Result,
 * Goodbye, Datasets, FetchChunk) from peer on connection conn.  Returns the
 * worker registered on that connection, after refreshing its expiry, or NULL
 * for a connection with no worker (which is told to register; a Result from
 * it is held until it does, see coord_core_t.held).  The shell serves
 * FetchChunk itself with the worker returned. */
coord_worker_t *coord_core_worker_msg(coord_core_t *k, double now, const hpt_peer_id_t *peer,
                                      const coord_conn_t *conn, const hpt_env_t *env);

/* Periodic housekeeping, at least every hb_ivl/2: purge expired workers,
 * heartbeat every worker, sample rates, revoke stalled leases, requeue
 * orphans whose worker did not come back, dispatch.  Appends a TIMER action
 * with the next time it needs to run. */
void coord_core_tick(coord_core_t *k, double now);

/* The shell could not listen for `secs` seconds before now (its loop was
 * held: a slow journal write, a big request): whatever workers sent in that
 * time is still unread, so their liveness countdowns are moved on by secs
 * rather than expiring them for a silence that was the coordinator's. */
void coord_core_stalled(coord_core_t *k, double now, double secs);

/* A send to peer failed because the peer is gone: drop its worker. */
void coord_core_unroutable(coord_core_t *k, double now, const hpt_peer_id_t *peer);

/* Rebuild every sweep from the journal rows (after a restart); unfinished
 * ones resume.  A finished one with a journaled summary (coord_jsum_t) is
 * created unloaded from it, with no search, trials or tasks, as
 * coord_core_unload would leave it; one without (an older build's journal)
 * is loaded for its results and its summary journaled.  Returns the number
 * resumed or a negative errno. */
int coord_core_resume(coord_core_t *k, double now, const coord_journal_reader_t *rd,
                      hpt_err *err);

/* Free a finished sweep's trials, their tasks (taking them out of the task
 * map), its refit task, search and enum values, keeping s itself with
 * s->sum (see coord_sweep_t.sum).  The shell calls it once the journal
 * records of the sweep's end are committed, since coord_core_load reads
 * them back; the core has no notion of commits.  A late Result or Progress
 * for one of its tasks is then an unknown task, dropped.  Returns 0 (also
 * when s is unloaded already), -EBUSY when s has not ended or still has
 * queued or leased tasks, -ENOMEM (nothing changed).  Appends nothing. */
int coord_core_unload(coord_core_t *k, coord_sweep_t *s);

/* Delete a finished sweep (retention): free it, loaded or not, take it out
 * of the sweep list, journal its deletion (its rows leave the journal) and
 * report it (sweep.deleted, with `why`, borrowed).  s is freed: the shell
 * drops its own references to it first.  Returns 0, or -EBUSY (nothing
 * changed) when s has not ended or still holds queued or leased tasks. */
int coord_core_forget(coord_core_t *k, double now, coord_sweep_t *s, const char *why);

/* Read an unloaded sweep's trials, tasks, results and refit back from the
 * journal rows (rd) through the resume path of a finished sweep (the search
 * replayed to rebuild the trials' values), so that results read exactly as
 * before coord_core_unload: s keeps its counters, times, refit figures,
 * error, results_gen and best trial.  Appends nothing to the outbox (the
 * rebuild's own records and events are dropped: the journal has them).
 * Returns 0 (also when s is loaded), or a negative errno with err saying
 * what was wrong; s then stays unloaded. */
int coord_core_load(coord_core_t *k, double now, const coord_journal_reader_t *rd,
                    coord_sweep_t *s, hpt_err *err);

// --- queries (no outbox) ----------------------------------------------------

double coord_core_wall(const coord_core_t *k, double now);
coord_sweep_t *coord_sweep_find(const coord_core_t *k, uint64_t id);
coord_worker_t *coord_worker_by_peer(const coord_core_t *k, const hpt_peer_id_t *peer);
/* The worker registered on this very connection (routing id and serial), or
 * NULL. */
coord_worker_t *coord_worker_by_conn(const coord_core_t *k, const hpt_peer_id_t *peer,
                                     uint64_t conn);
const char *coord_sweep_state_name(coord_sweep_state_t s);
const char *coord_trial_state_name(coord_trial_state_t s);
const char *coord_task_state_name(coord_task_state_t s);
int coord_worker_free_slots(const coord_worker_t *w, double now);
/* 1 when the worker holds the sweep's dataset with the right fingerprint,
 * 0 when it lacks it, -1 when its copy differs, -2 when it is a --dry-run
 * worker and the sweep sets no test_objective (it would forge scores), -3
 * when the sweep has no fingerprint (an older build's journal): nobody can
 * serve it, since a worker's fingerprint is never adopted. */
int coord_worker_has_dataset(const coord_worker_t *w, const coord_sweep_t *s);
/* The worker's throughput over the last COORD_RATE_WINDOW_S seconds (or
 * since it connected): tasks finished per minute and epochs trained per
 * second, and the window they cover in *window_s (0 when under a second). */
void coord_worker_rates(const coord_worker_t *w, double now, double *tasks_per_min,
                        double *epochs_per_s, double *window_s);
/* Seconds left at the current rate, 0 when ended, -1 when not known yet. */
double coord_sweep_eta(const coord_sweep_t *s, double now);
/* Whether a per-peer log line of this kind may be written now (at most
 * per_minute a minute per peer and kind).  Changes the counters. */
bool coord_core_log_allowed(coord_core_t *k, double now, const hpt_peer_id_t *peer, int kind,
                            int per_minute);

#define COORD_ALPHA 0.05   // default significance level (spec alpha:)

/* The sweep's significance level for "indistinguishable from the best". */
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

/* A task's split (repeat * folds + fold, -1 for the refit), fold, repeat and
 * cv.seeds training index, derived from its index. */
int coord_task_split(const coord_task_t *t);
int coord_task_fold(const coord_task_t *t);
int coord_task_repeat(const coord_task_t *t);
int coord_task_seed_rep(const coord_task_t *t);
static inline bool coord_task_is_refit(const coord_task_t *t)
{
    return t->index < 0;
}
/* A race task (race.c): a split beyond its trial's search splits, allocated
 * on its own (as the refit is) and owned by its sweep's race. */
static inline bool coord_task_is_race(const coord_task_t *t)
{
    return t->index >= t->trial->n_tasks;
}

/* The one-line state of s's race for status ("" when none): "round 2 of 5,
 * 3 leaders in" while it runs, the verdict once decided.  buf borrowed. */
const char *coord_race_describe(const coord_sweep_t *s, char *buf, size_t len);
static inline coord_sweep_t *coord_task_sweep(const coord_task_t *t)
{
    return t->trial->sweep;
}

/* Check the core's invariants (every task in exactly one place, lease lists
 * and counters consistent, no slot over-committed).  Returns 0, or -EFAULT
 * with err saying which invariant broke.  O(tasks): for tests. */
int coord_core_check(const coord_core_t *k, hpt_err *err);

#endif
