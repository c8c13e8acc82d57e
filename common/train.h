/*
 * train.h: one training run of the MLP on a set of samples, scored each epoch
 * on a second set.  This is what a worker runs for a (trial, fold) task and
 * what `hptune train` runs locally.
 *
 * Determinism: the run is a pure function of (hp, the two views' bytes):
 * init, dropout masks and per-epoch batch shuffles all come from two rngs
 * seeded with hp->seed (below).  With one BLAS thread the result is
 * bit-for-bit repeatable.
 *
 * Sessions: hpt_train_run is a thin wrapper over a resumable session
 * (hpt_train_begin, then hpt_train_continue to any epoch count, possibly in
 * several calls, then hpt_train_end).  A session holds everything a run's
 * trajectory depends on (the model with its optimizer state, the rng, the
 * batch permutation), so training to 3 epochs and then continuing to 7 gives
 * bit-for-bit the model, losses and scores of one call training to 7.
 * Scoring (per epoch or score_train) draws nothing from the rng.  This is what
 * lets a worker continue a promoted trial (Hyperband/ASHA) instead of
 * retraining it.
 *
 * Two random streams: the model's (init, dropout masks) and the mini-batch
 * stream's (the per-epoch shuffles), both seeded from hp->seed but apart, so
 * that the batches do not depend on how many numbers the model drew: every
 * configuration with the same seed, batch size and training rows sees the
 * same mini-batches, and sessions that do can train together with their
 * first-layer products fused (hpt_train_group_continue), each bit-for-bit as
 * it would alone.
 */
#ifndef HPT_TRAIN_H
#define HPT_TRAIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "params.h"

/* A subset of a split: rows idx[0..n) of images/labels, or rows 0..n-1 when
 * idx is NULL.  All pointers borrowed. */
typedef struct hpt_view {
    const uint8_t *images;  // (rows, n_features) pixels 0..255
    const uint8_t *labels;  // (rows) class ids
    const uint32_t *idx;    // (n) row numbers, or NULL for 0..n-1
    uint32_t n;             // samples in the view
} hpt_view_t;

/* Gather rows[0..b) of the view (positions within it; rows NULL: 0..b-1)
 * into x (b, d) scaled to [0, 1] and their labels into y, as the training
 * loop does for each mini-batch (prefetching the next rows).  All pointers
 * borrowed.  Any thread. */
void hpt_view_gather(const hpt_view_t *v, const uint32_t *rows, int b, uint32_t d, float *x,
                     uint8_t *y);

/* Scores of a model on a view. */
typedef struct hpt_scores {
    double accuracy;  // fraction correct
    double log_loss;  // mean cross-entropy, nats
    double f1_macro;  // unweighted mean over classes of per-class F1
} hpt_scores_t;

/* Reported after every epoch. */
typedef struct hpt_epoch_report {
    int epoch;                  // 1-based
    int epochs;                 // planned total (hpt_train_continue's to_epoch)
    double train_loss;          // mean mini-batch loss over the epoch (with dropout)
    hpt_scores_t val;           // on the validation view (NaN when the view is empty or this
                                // epoch was not scored: see score_each_epoch)
    double val_score;           // val's value of hp->metric
    double epoch_seconds;       // wall time of this epoch's training (excl. scoring)
    double elapsed_seconds;     // since the run started (incl. scoring)
    double samples_per_second;  // this epoch's training throughput
} hpt_epoch_report_t;

/* Called on the training thread after each epoch; return non-zero to stop
 * early (the run ends with stopped_early set). */
typedef int (*hpt_epoch_cb)(const hpt_epoch_report_t *rep, void *ud);

typedef struct hpt_train_result {
    int epochs_run;             // epochs completed (by a session: in total, earlier calls
                                // included)
    bool stopped_early;         // the callback asked to stop
    bool diverged;              // loss became NaN/inf: scores are NaN
    double train_loss;          // last epoch's mean train loss
    hpt_scores_t val;           // final scores on the validation view
    double val_score;           // val's value of hp->metric
    hpt_scores_t train;         // final scores on the training view (opts->score_train),
                                // else NaN
    double train_score;         // train's value of hp->metric, or NaN
    double fit_seconds;         // training time, excluding per-epoch scoring (of this call
                                // only, for hpt_train_continue)
    double samples_per_second;  // training samples trained in this call / fit_seconds
    long n_params;              // trainable parameters
} hpt_train_result_t;

typedef struct hpt_train_opts {
    int threads;             // OpenBLAS threads for this run (process-wide); 0 = leave as is
    bool score_each_epoch;   // score the validation view after every epoch (else only at end)
    bool score_train;        // at the end, also score the training view (scikit-learn's
                             // return_train_score)
    const atomic_bool *stop; // borrowed, may be NULL: checked before every mini-batch; once
                             // true the run ends at once (stopped_early), so a cancelled
                             // task frees its core within one batch, not one epoch
} hpt_train_opts_t;

/* Train hp on `train` for hp->epochs epochs and score on `val` (val->n may
 * be 0).  n_features and n_classes describe the rows.  cb may be NULL.  out
 * receives the result.  Returns 0 (also when diverged or stopped early),
 * -EINVAL (bad hp or views, err names the field) or -ENOMEM.  Allocates once
 * up front, nothing per epoch.  Equivalent to hpt_train_begin,
 * hpt_train_continue(hp->epochs), hpt_train_end. */
int hpt_train_run(const hpt_hparams_t *hp, const hpt_train_opts_t *opts, uint32_t n_features,
                  uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                  hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err);

// --- resumable sessions ---------------------------------------------------

/* A model in training plus the state its trajectory depends on.  Opaque: it
 * has a lifetime and the invariant that `epochs` whole epochs were trained
 * from hp's seed.  Not thread-safe: one thread at a time (a worker hands a
 * session between threads through its result queue, which orders the
 * accesses). */
typedef struct hpt_train_session hpt_train_session_t;

/* Validate (hp, shapes, both views) and create a session at epoch 0: the
 * model is initialised from the rng seeded with hp->seed, nothing is
 * trained.  hp is copied; hp->epochs is validated with the rest of hp but
 * otherwise unused (hpt_train_continue says how far to train).  train and
 * val (val may be NULL: no validation) are borrowed: the arrays they point
 * at must stay valid and unchanged while the session trains, and until it is
 * rebound or ended.  *out returns owned.  Returns 0, -EINVAL (err names the
 * field) or -ENOMEM. */
int hpt_train_begin(hpt_train_session_t **out, const hpt_hparams_t *hp, uint32_t n_features,
                    uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                    hpt_err *err);

/* Train epochs epochs+1..to_epoch (to_epoch > hpt_train_session_epochs(s),
 * at most HPT_MAX_EPOCHS), as hpt_train_run would have trained them in one
 * call: the epoch reports count from epochs+1 with `epochs` = to_epoch, and
 * out describes this call: epochs_run is the total completed, fit_seconds and
 * samples_per_second cover this call's epochs only, and the final scores are
 * those of the model as it stands.  opts and cb as for hpt_train_run (opts
 * may be NULL: defaults).  Returns 0 (also when diverged or stopped early),
 * -EINVAL when s is not usable or to_epoch is out of range (err says why;
 * nothing is trained), or -ENOMEM (the scratch buffers; s is unchanged).
 * Allocates its scratch buffers once per call, nothing per epoch. */
int hpt_train_continue(hpt_train_session_t *s, int to_epoch, const hpt_train_opts_t *opts,
                       hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err);

// --- groups: horizontal fusion -------------------------------------------

/* One session of a group call, with what hpt_train_continue takes for it. */
typedef struct hpt_train_member {
    hpt_train_session_t *s;   // borrowed
    int to_epoch;             // as hpt_train_continue's (members may differ)
    const atomic_bool *stop;  // borrowed, may be NULL: this member's stop flag, checked
                              // before every mini-batch (opts->stop is not used)
    hpt_epoch_cb cb;          // may be NULL; called on the training thread per epoch
    void *ud;
    hpt_train_result_t *out;  // borrowed: receives this member's result
    hpt_err *err;             // may be NULL: why this member could not train
    int rc;                   // set: what hpt_train_continue would have returned for it
} hpt_train_member_t;

#define HPT_TRAIN_GROUP_MAX 16

/* Train n (1..HPT_TRAIN_GROUP_MAX) sessions that see the same mini-batch
 * stream (hpt_train_session_same_stream) together: one
 * shuffle and one batch gather per step for all, and the members' first
 * layers' products fused into wider ones (hpt_mlp_forward_group).  Each
 * member trains, reports (cb), stops (its own stop flag or callback), ends
 * and is scored exactly as hpt_train_continue(s, to_epoch, ...) with opts
 * would do it alone, bit for bit, and gets that call's result in *out and
 * return value in rc; a member leaves the group when it is done, stopped or
 * diverged, and the others go on.  Its fit_seconds is its share of the
 * group's training time (each epoch's time divided among the members that
 * trained in it).  Returns 0 (each member's outcome is in its rc), -EINVAL
 * when two members that can train do not see the same stream or n is out of
 * range (err says which; nothing is trained), or -ENOMEM (nothing trained;
 * each rc says so too).  A member that cannot continue (stopped mid-epoch,
 * diverged) is not compared: it gets its error in rc and err.  Training thread; the sessions must not be used elsewhere meanwhile.
 * hpt_train_continue is this with one member. */
int hpt_train_group_continue(hpt_train_member_t *mem, int n, const hpt_train_opts_t *opts,
                             hpt_err *err);

/* Whether b's next epochs would see a's mini-batches: the same training rows
 * (the same arrays, or index arrays with the same content), batch size,
 * features, epochs completed and mini-batch stream.  Both borrowed. */
bool hpt_train_session_same_stream(const hpt_train_session_t *a, const hpt_train_session_t *b);

/* Epochs completed. */
int hpt_train_session_epochs(const hpt_train_session_t *s);

/* False once a hpt_train_continue stopped mid-epoch (opts->stop) or the loss
 * diverged: the model is then between epochs' states (or NaN) and cannot be
 * continued.  A stop asked by the epoch callback happens between epochs and
 * leaves the session usable. */
bool hpt_train_session_usable(const hpt_train_session_t *s);

/* Bytes of memory the session holds between calls (the model's arenas and
 * optimizer state, the permutation, the struct), for cache accounting.  An
 * estimate that follows mlp.c's size tables; excludes the views' data. */
size_t hpt_train_session_bytes(const hpt_train_session_t *s);

/* Point the session at new views (borrowed, as in hpt_train_begin) that must
 * hold the same rows as the old ones: the same sample count (checked) and the
 * same content (not checked; e.g. index arrays recomputed by the
 * deterministic hpt_cv_split).  A cache that freed the arrays the old views
 * pointed at calls this before the next hpt_train_continue.  Returns 0 or
 * -EINVAL (a count differs, or a label is out of range; err says which) with
 * the session unchanged. */
int hpt_train_session_rebind(hpt_train_session_t *s, const hpt_view_t *train,
                             const hpt_view_t *val, hpt_err *err);

// --- memory ---------------------------------------------------------------

/* Bytes of the model hpt_mlp_new would build for hp (its layers and units,
 * dropout and input_dropout), n_in inputs, n_out classes and batches of
 * `batch` rows: parameters, gradients, two optimizer slots (the most any
 * optimizer keeps) and the activation arena.  Computed without allocating
 * anything, in 64-bit arithmetic (saturating at SIZE_MAX), for any hp
 * within the limits of params.h. */
size_t hpt_train_model_bytes(const hpt_hparams_t *hp, size_t n_in, size_t n_out, size_t batch);

/* Bytes one training run of hp needs at its peak, as hpt_train_begin and
 * hpt_train_continue would allocate them for views of n_train and n_val
 * samples: the model (hpt_train_model_bytes at the batch size the session
 * picks), the permutation and the per-call scratch (the float batch, labels,
 * confusion matrix).  Not the views' data, which the caller owns.  A worker
 * compares it with its memory budget before it trains anything. */
size_t hpt_train_mem_bytes(const hpt_hparams_t *hp, uint32_t n_features, uint32_t n_classes,
                           uint32_t n_train, uint32_t n_val);

struct hpt_mlp;  // mlp.h

/* The session's model (borrowed, valid until hpt_train_end), for tests and
 * checkpoints: hpt_mlp_params gives its weights. */
struct hpt_mlp *hpt_train_session_model(hpt_train_session_t *s);

/* Free; accepts NULL and sets *s = NULL. */
void hpt_train_end(hpt_train_session_t **s);

/* The value of `metric` in s. */
double hpt_scores_get(const hpt_scores_t *s, hpt_metric_t metric);

/* Scores from a (k, k) confusion matrix (rows true class, columns predicted)
 * plus the summed log loss over n samples.  Exposed for tests. */
void hpt_scores_from_confusion(const uint64_t *conf, int k, double loss_sum, uint64_t n,
                               hpt_scores_t *out);

#endif
