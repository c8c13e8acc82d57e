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
 * hpt_train_run checks before every mini-batch (hpt_train_opts_t.stop), so a
 * task stops within one batch.  A cancelled task's FINISH carries no result.
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

#define WRK_ERR_LEN 256

typedef struct wrk_task wrk_task_t;

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
} wrk_item_t;

// --- the queue -----------------------------------------------------------

/* Called on the loop thread for each drained item, in push order; item is
 * borrowed (freed by the queue after the call). */
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
    hpt_hparams_t hp;
    int stall_after;     // tests only: hang after this epoch until cancelled (0 = off)
} wrk_task_spec_t;

/* Convert a validated Assign (borrowed) into *out.  Returns 0, or -EINVAL
 * with err naming the problem (bad hparams). */
int wrk_task_spec_from_assign(const Hpt__Assign *a, wrk_task_spec_t *out, hpt_err *err);

/* Start a trainer thread for spec (copied) on ds (borrowed: it must outlive
 * the task) pushing to q (borrowed, likewise).  *out returns owned.  Returns 0,
 * -ENOMEM, or the libuv error from uv_thread_create. */
int wrk_task_new(wrk_task_t **out, const wrk_task_spec_t *spec, const hpt_dataset_t *ds,
                 wrk_queue_t *q);

/* Ask the task to stop at the end of its current epoch.  Any thread. */
void wrk_task_cancel(wrk_task_t *t);

/* Epochs completed so far (for heartbeats).  Any thread. */
uint32_t wrk_task_epoch(const wrk_task_t *t);

/* True once the thread has pushed its FINISH item and touches nothing shared
 * any more, so joining it cannot wait.  Any thread. */
bool wrk_task_finished(const wrk_task_t *t);

/* The task's spec (borrowed, valid until destroy). */
const wrk_task_spec_t *wrk_task_spec(const wrk_task_t *t);

/* Join the thread and free the task.  Call after its FINISH item arrived (or
 * wrk_task_finished says so), else this blocks until the run ends.  Accepts
 * NULL and sets *p = NULL. */
void wrk_task_destroy(wrk_task_t **p);

// --- --dry-run -----------------------------------------------------------

/* The fake score of an Assign (borrowed) in [0.5, 0.99]: a pure function of
 * the packed HParams bytes, and of fold, repeat and cv_seed (fold and repeat
 * count as 0 for refit).  docs/worker.md gives the exact function. */
double wrk_dry_run_score(const Hpt__Assign *a);

/* Fill *out with the --dry-run answer to spec/a: ok, score as above, accuracy
 * = f1_macro = score, log_loss = 1 - score, train_score NaN, fit_seconds 0,
 * epochs = hparams.epochs. */
void wrk_dry_run(const Hpt__Assign *a, const wrk_task_spec_t *spec, wrk_result_t *out);

#endif
