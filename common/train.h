/*
 * train.h: one training run of the MLP on a set of samples, scored each epoch
 * on a second set.  This is what a worker runs for a (trial, fold) task and
 * what `hptune train` runs locally.
 *
 * Determinism: the run is a pure function of (hp, the two views' bytes):
 * init, dropout masks and per-epoch batch shuffles all come from one rng
 * seeded with hp->seed.  With one BLAS thread the result is bit-for-bit
 * repeatable.
 */
#ifndef HPT_TRAIN_H
#define HPT_TRAIN_H

#include <stdatomic.h>
#include <stdbool.h>
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

/* Scores of a model on a view. */
typedef struct hpt_scores {
    double accuracy;  // fraction correct
    double log_loss;  // mean cross-entropy, nats
    double f1_macro;  // unweighted mean over classes of per-class F1
} hpt_scores_t;

/* Reported after every epoch. */
typedef struct hpt_epoch_report {
    int epoch;                  // 1-based
    int epochs;                 // planned total
    double train_loss;          // mean mini-batch loss over the epoch (with dropout)
    hpt_scores_t val;           // on the validation view (zeros when it is empty)
    double val_score;           // val's value of hp->metric
    double epoch_seconds;       // wall time of this epoch's training (excl. scoring)
    double elapsed_seconds;     // since the run started (incl. scoring)
    double samples_per_second;  // this epoch's training throughput
} hpt_epoch_report_t;

/* Called on the training thread after each epoch; return non-zero to stop
 * early (the run ends with stopped_early set). */
typedef int (*hpt_epoch_cb)(const hpt_epoch_report_t *rep, void *ud);

typedef struct hpt_train_result {
    int epochs_run;             // epochs completed
    bool stopped_early;         // the callback asked to stop
    bool diverged;              // loss became NaN/inf: scores are NaN
    double train_loss;          // last epoch's mean train loss
    hpt_scores_t val;           // final scores on the validation view
    double val_score;           // val's value of hp->metric
    hpt_scores_t train;         // final scores on the training view (opts->score_train),
                                // else NaN
    double train_score;         // train's value of hp->metric, or NaN
    double fit_seconds;         // training time, excluding per-epoch scoring
    double samples_per_second;  // training samples / fit_seconds
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

/* Train hp on `train` and score on `val` (val->n may be 0).  n_features and
 * n_classes describe the rows.  cb may be NULL.  out receives the result.
 * Returns 0 (also when diverged or stopped early), -EINVAL (bad hp or views,
 * err names the field) or -ENOMEM.  Allocates once up front, nothing per
 * epoch. */
int hpt_train_run(const hpt_hparams_t *hp, const hpt_train_opts_t *opts, uint32_t n_features,
                  uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                  hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err);

/* The value of `metric` in s. */
double hpt_scores_get(const hpt_scores_t *s, hpt_metric_t metric);

/* Scores from a (k, k) confusion matrix (rows true class, columns predicted)
 * plus the summed log loss over n samples.  Exposed for tests. */
void hpt_scores_from_confusion(const uint64_t *conf, int k, double loss_sum, uint64_t n,
                               hpt_scores_t *out);

#endif
