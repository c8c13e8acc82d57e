/*
 * wrk_trainer.h: the worker's trainer threads and the queue that carries
 * their output back to the loop thread (STYLE §12).
 *
 * One task = one (trial, fold) or refit run = one thread made with
 * uv_thread_create.  The thread never touches the ZeroMQ socket or any libuv
 * handle: it pushes wrk_item_t records (a Progress per epoch, then exactly one
 * FINISH) onto a wrk_queue_t, a mutex-protected list whose uv_async_t wakes the
 * loop; because uv_async_send coalesces, the loop drains the whole list on each
 * wake-up.  The loop joins a thread when its FINISH item arrives (the thread
 * exits right after pushing it, so the join does not block the loop).
 *
 * Cancellation is cooperative: wrk_task_cancel sets an atomic flag that
 * hpt_train_continue checks before every mini-batch (hpt_train_opts_t.stop),
 * so a task stops within one batch.  A cancelled task's FINISH carries no
 * result.
 *
 * Models: a task trains through a resumable session (train.h).  It may be
 * started with a session taken from the worker's model cache (wrk_cache.h),
 * which it then continues to its epoch count, and with keep_model it hands
 * its session back in its FINISH item when it ends normally.  A session thus
 * belongs to exactly one thread at a time: the loop (cache) or the task, and
 * the queue's mutex orders the hand-over.
 *
 * Threads: wrk_queue_push, wrk_task_cancel, wrk_task_epoch and
 * wrk_task_finished are safe from any thread; everything else is for the loop
 * thread.
 */
#ifndef HPT_WRK_TRAINER_H
#define HPT_WRK_TRAINER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dataset.h"
#include "err.h"
#include "hptune.pb-c.h"
#include "params.h"
#include "train.h"

#define WRK_ERR_LEN 256

typedef struct wrk_task wrk_task_t;
typedef struct wrk_group wrk_group_t;

/* What a task reports when it ends: the fields of hpt.Result. */
typedef struct wrk_result {
    uint64_t task;
    uint32_t attempt;
    bool ok;                   // false: error says why
    char error[WRK_ERR_LEN];   // "" when ok
    double score;              // the sweep metric on the validation fold / test split
    double accuracy;
    double log_loss;           // nats
    double f1_macro;
    double train_score;        // the metric on the training rows (score_train), else NaN
    double fit_seconds;        // training time, excluding scoring
    uint32_t epochs;           // epochs run
    bool diverged;             // the loss became NaN/inf
    bool refused;              // not run at all (a refusal, not a failure)
    uint32_t n_eval;           // samples scored
    uint32_t resumed_from;     // epochs of the cached model continued from; 0 = from scratch
} wrk_result_t;

typedef enum wrk_item_kind {
    WRK_ITEM_PROGRESS,  // an epoch finished
    WRK_ITEM_FINISH,    // the thread's last item; it exits right after
} wrk_item_kind_t;

typedef struct wrk_item {
    struct wrk_item *next;    // queue link
    wrk_item_kind_t kind;
    wrk_task_t *from;         // the task that pushed it (borrowed)
    uint64_t task;
    uint32_t attempt;
    // WRK_ITEM_PROGRESS
    uint32_t epoch;           // 1-based, the epoch just finished
    uint32_t epochs;          // planned total
    double val_score;         // NaN when diverged (never inf)
    double train_loss;        // NaN when diverged (never inf)
    // WRK_ITEM_FINISH
    bool has_result;          // false when the task was cancelled
    wrk_result_t result;
    hpt_train_session_t *session;  // owned: the trained model for the cache (keep_model,
                                   // ended normally), else NULL; freed with the item
} wrk_item_t;

// --- the queue -----------------------------------------------------------

/* Called on the loop thread for each drained item, in push order; item is
 * borrowed (freed by the queue after the call, with any session it still
 * holds: the callback takes the session by setting item->session to NULL). */
typedef void (*wrk_queue_cb)(wrk_item_t *item, void *ud);

typedef struct wrk_queue {
    uv_async_t async;
    uv_mutex_t mu;
    wrk_item_t *head, *tail;  // guarded by mu
    bool closed;              // guarded by mu: pushes are dropped once set
    wrk_queue_cb cb;
    void *ud;
} wrk_queue_t;

/* Embed q in the caller's context (it must stay valid until wrk_queue_fini)
 * and start it on loop.  Returns 0 or a libuv error. */
int wrk_queue_init(uv_loop_t *loop, wrk_queue_t *q, wrk_queue_cb cb, void *ud);

/* Append item (takes ownership; heap-allocated with malloc) and wake the
 * loop.  After wrk_queue_close the item is freed instead.  Any thread. */
void wrk_queue_push(wrk_queue_t *q, wrk_item_t *item);

/* Stop delivering: drop queued items, refuse further pushes and uv_close the
 * async handle (close_cb may be NULL).  Loop thread. */
void wrk_queue_close(wrk_queue_t *q, uv_close_cb close_cb);

/* Release the mutex and anything still queued.  Call once the close callback
 * ran and every thread that may push has been joined.  Loop thread. */
void wrk_queue_fini(wrk_queue_t *q);

// --- tasks ---------------------------------------------------------------

/* An Assign, checked and converted (hparams in their native form). */
typedef struct wrk_task_spec {
    uint64_t task;
    uint32_t attempt;
    uint64_t sweep;
    uint64_t trial;
    bool refit;          // train on the whole train split, score the test split
    uint32_t fold;       // 0-based, < folds (ignored for refit)
    uint32_t folds;
    uint32_t repeat;     // repeated k-fold index
    uint64_t cv_seed;
    bool stratified;
    bool shuffle;
    bool score_train;    // also score the training rows (train_score)
    bool score_epochs;   // score the validation rows after every epoch, not only the last
    hpt_hparams_t hp;
    int stall_after;     // tests only: hang after this epoch until cancelled (0 = off)
    bool keep_model;     // hand the session back in FINISH when the task ends normally
} wrk_task_spec_t;

/* Convert a validated Assign (borrowed) into *out.  Returns 0, or -EINVAL
 * with err naming the problem (bad hparams). */
int wrk_task_spec_from_assign(const Hpt__Assign *a, wrk_task_spec_t *out, hpt_err *err);

/* Start a trainer thread for spec (copied) on ds (borrowed: it must outlive
 * the task) pushing to q (borrowed, likewise).  resume may be NULL; when
 * *resume is a session (usable, of spec's configuration and split on ds,
 * with fewer epochs than spec->hp.epochs) the task takes ownership, sets
 * *resume = NULL, rebinds it to its own fold views and continues it instead of
 * training from scratch (Result.resumed_from).  *out returns owned.  Returns
 * 0, -ENOMEM, or the libuv error from uv_thread_create; on failure *resume is
 * left with the caller. */
int wrk_task_new(wrk_task_t **out, const wrk_task_spec_t *spec, const hpt_dataset_t *ds,
                 wrk_queue_t *q, hpt_train_session_t **resume);

/* Start one trainer thread for a bundle: n tasks (1..HPT_TRAIN_GROUP_MAX,
 * specs copied) of one split of ds that the coordinator leased together to
 * one slot (Assign.bundle).  The members that see the same mini-batches (the
 * same seed, batch size and starting epochs: hpt_train_session_same_stream)
 * train together, their first layers fused (hpt_train_group_continue);
 * others in the bundle train after them on the same thread.  Each member
 * is a task of its own to the loop: its Progress items, its FINISH (all
 * pushed when the thread ends), wrk_task_cancel stops only it, and
 * wrk_task_destroy.  resumes[i] as wrk_task_new's *resume (taken and set to
 * NULL on success).  out[i] returns member i, owned.  Returns 0, -EINVAL,
 * -ENOMEM or the libuv error from uv_thread_create (the sessions then stay
 * with the caller). */
int wrk_task_new_group(wrk_task_t **out, int n, const wrk_task_spec_t *specs,
                       const hpt_dataset_t *ds, wrk_queue_t *q, hpt_train_session_t **resumes);

/* The bundle t trains in (shared by its members), or NULL when it trains
 * alone.  For counting slots: a bundle fills one. */
const wrk_group_t *wrk_task_group(const wrk_task_t *t);

/* Bytes the task of spec (borrowed) on ds (borrowed) needs at its peak:
 * hpt_train_mem_bytes for its views (a fold's training and validation rows,
 * or a refit's whole training split and test split) plus the fold index
 * arrays run_task allocates.  The dataset is shared by every task and not
 * copied, so it is not counted.  An upper bound: a fold's views are counted
 * as the whole training split.  Loop thread (it only reads). */
size_t wrk_task_mem_bytes(const wrk_task_spec_t *spec, const hpt_dataset_t *ds);

/* Memory this process may still use, in bytes: the smallest of the
 * machine's MemAvailable (/proc/meminfo) and, when the process runs in a
 * memory-limited cgroup (a container, a systemd unit with MemoryMax), that
 * limit less the cgroup's current use (cgroup v2, else v1).  *src (may be
 * NULL) names where the figure came from ("MemAvailable", "cgroup").
 * Returns 0, or -ENOENT when none of them can be read. */
int wrk_mem_available(uint64_t *bytes, const char **src);

/* Ask the task to stop at the end of its current epoch.  Any thread. */
void wrk_task_cancel(wrk_task_t *t);

/* Epochs completed so far, counting those of a resumed model (for
 * heartbeats).  Any thread. */
uint32_t wrk_task_epoch(const wrk_task_t *t);

/* True once the thread has pushed its FINISH item and touches nothing shared
 * any more, so joining it cannot wait.  Any thread. */
bool wrk_task_finished(const wrk_task_t *t);

/* The task's spec (borrowed, valid until destroy). */
const wrk_task_spec_t *wrk_task_spec(const wrk_task_t *t);

/* Join the thread and free the task.  Call after its FINISH item arrived (or
 * wrk_task_finished says so), else this blocks until the run ends.  A
 * bundle's member is freed with the last of its bundle, which joins the
 * shared thread.  Accepts NULL and sets *p = NULL. */
void wrk_task_destroy(wrk_task_t **p);

// --- --dry-run -----------------------------------------------------------

/* The "hash" objective (Assign.test_objective "" or "hash"): the fake score
 * of an Assign (borrowed) in [0.5, 0.99], a pure function of the packed
 * HParams bytes, and of fold, repeat and cv_seed (fold and repeat count as 0
 * for refit).  docs/worker.md gives the exact function. */
double wrk_dry_run_score(const Hpt__Assign *a);

/* The "bowl" objective: an accuracy-like score in (0, 1) with a known
 * optimum, for testing search strategies in seconds.  With lr the learning
 * rate (hpt_hparams_lr), u = units[0], b = batch_size and e = epochs:
 *   d = ((log10(lr) + 2.5) / 1.5)^2 + ((dropout - 0.2) / 0.5)^2
 *     + ((log2(u) - 7) / 3)^2 + ((log2(b) - 6) / 3)^2
 *   s = 0.98 exp(-d) (1 - 0.5^(e / 3)) + noise,  clamped to [1e-6, 1 - 1e-6]
 * noise is a pure function of (fold, repeat, refit, cv_seed) in
 * [-0.002, 0.002], the same for every configuration, so on one split the
 * ordering of configurations is that of d at every epoch count, and more
 * epochs always score higher.  The optimum is lr = 10^-2.5, dropout 0.2,
 * units[0] 128, batch 64 (d = 0).  spec borrowed. */
double wrk_dry_run_bowl(const wrk_task_spec_t *spec);

/* The "noisy" objective: known means and noise, for testing racing (the
 * coordinator's select: race) against ground truth.  The configuration's
 * learning_rate is its mean and its dropout the standard deviation:
 *   s = lr + dropout * z,  clamped to [1e-6, 1 - 1e-6],
 * z ~ N(0, 1) by Box-Muller from the hash objective's hash of the packed
 * HParams (the task's seed included), fold, repeat, refit and cv_seed, so
 * every (configuration, split, seed) draws its own independent noise and
 * the same task always scores the same.  a and spec borrowed. */
double wrk_dry_run_noisy(const Hpt__Assign *a, const wrk_task_spec_t *spec);

/* The objectives' names for error messages: "hash, bowl, noisy". */
#define WRK_TEST_OBJECTIVES "hash, bowl, noisy"

/* Fill *out with the --dry-run answer to spec/a (both borrowed): score s
 * from a->test_objective ("" and "hash": wrk_dry_run_score; "bowl":
 * wrk_dry_run_bowl; "noisy": wrk_dry_run_noisy); ok, accuracy = f1_macro = s, log_loss = 1 - s,
 * train_score NaN, fit_seconds 0, epochs = hparams.epochs.  An unknown
 * objective gives ok = false and the error "unknown test_objective NAME
 * (known: hash, bowl, noisy)". */
void wrk_dry_run(const Hpt__Assign *a, const wrk_task_spec_t *spec, wrk_result_t *out);

#endif
