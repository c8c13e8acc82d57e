/*
 * train.c: the training loop.  One call trains one configuration on one view
 * and scores it on another; see train.h for the contract.
 *
 * Invariants: every buffer is allocated before the first epoch (model arenas,
 * the float batch, the label batch, the permutation and the confusion
 * matrix); the epoch loop allocates nothing.  All randomness comes from one
 * hpt_rng_t seeded with hp->seed, drawn in a fixed order (init, then per
 * epoch: shuffle, then per batch: dropout masks), so a run is repeatable.
 */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "mlp.h"
#include "rng.h"

// Rows per forward pass when scoring: large batches use sgemm better.
#define EVAL_BATCH 512

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint32_t view_row(const hpt_view_t *v, uint32_t i)
{
    return v->idx ? v->idx[i] : i;
}

/* Gather rows[0..b) of the view into x (b, d) scaled to [0, 1] and their
 * labels into y.  rows are positions within the view. */
static void gather(const hpt_view_t *v, const uint32_t *rows, int b, uint32_t d, float *x,
                   uint8_t *y)
{
    const float s = 1.0f / 255.0f;
    enum { AHEAD = 4 };  // rows prefetched ahead: shuffled rows miss every cache
    for (int r = 0; r < b && r < AHEAD; r++) {
        const uint8_t *p = v->images + (size_t)view_row(v, rows ? rows[r] : (uint32_t)r) * d;
        for (uint32_t j = 0; j < d; j += 64)
            __builtin_prefetch(p + j);
    }
    for (int r = 0; r < b; r++) {
        if (r + AHEAD < b) {
            uint32_t nx = view_row(v, rows ? rows[r + AHEAD] : (uint32_t)(r + AHEAD));
            const uint8_t *p = v->images + (size_t)nx * d;
            for (uint32_t j = 0; j < d; j += 64)
                __builtin_prefetch(p + j);
        }
        uint32_t row = view_row(v, rows ? rows[r] : (uint32_t)r);
        const uint8_t *restrict src = v->images + (size_t)row * d;
        float *restrict dst = x + (size_t)r * d;
        for (uint32_t j = 0; j < d; j++)
            dst[j] = (float)src[j] * s;
        y[r] = v->labels[row];
    }
}

// --- scores ---------------------------------------------------------------

void hpt_scores_from_confusion(const uint64_t *conf, int k, double loss_sum, uint64_t n,
                               hpt_scores_t *out)
{
    uint64_t correct = 0;
    double f1_sum = 0.0;
    int f1_classes = 0;
    for (int c = 0; c < k; c++) {
        uint64_t tp = conf[(size_t)c * k + c], row = 0, col = 0;
        for (int j = 0; j < k; j++) {
            row += conf[(size_t)c * k + j];
            col += conf[(size_t)j * k + c];
        }
        correct += tp;
        /* Like scikit-learn's f1_score(average='macro'): average over the
         * classes present in the truth or the predictions; a class with no
         * true positives scores 0. */
        if (row + col == 0)
            continue;
        f1_sum += 2.0 * (double)tp / (double)(row + col);
        f1_classes++;
    }
    out->accuracy = n ? (double)correct / (double)n : 0.0;
    out->log_loss = n ? loss_sum / (double)n : 0.0;
    out->f1_macro = f1_classes ? f1_sum / f1_classes : 0.0;
}

double hpt_scores_get(const hpt_scores_t *s, hpt_metric_t metric)
{
    switch (metric) {
    case HPT_METRIC_LOG_LOSS:
        return s->log_loss;
    case HPT_METRIC_F1_MACRO:
        return s->f1_macro;
    case HPT_METRIC_ACCURACY:
    default:
        return s->accuracy;
    }
}

/* Score the model on a view in chunks of up to `chunk` rows. */
static void evaluate(hpt_mlp_t *m, const hpt_view_t *v, uint32_t d, int k, int chunk, float *x,
                     uint8_t *y, uint64_t *conf, hpt_scores_t *out)
{
    memset(conf, 0, sizeof *conf * (size_t)k * (size_t)k);
    double loss_sum = 0.0;
    uint32_t rows[EVAL_BATCH];
    for (uint32_t start = 0; start < v->n; start += (uint32_t)chunk) {
        int b = (int)((v->n - start) < (uint32_t)chunk ? (v->n - start) : (uint32_t)chunk);
        for (int r = 0; r < b; r++)
            rows[r] = start + (uint32_t)r;
        gather(v, rows, b, d, x, y);
        const float *p = hpt_mlp_forward(m, x, b, HPT_MLP_EVAL, NULL);
        for (int r = 0; r < b; r++) {
            const float *pr = p + (size_t)r * k;
            int best = 0;
            for (int c = 1; c < k; c++)
                if (pr[c] > pr[best])
                    best = c;
            conf[(size_t)y[r] * k + best]++;
            /* Keras clips probabilities to [eps, 1 - eps] with eps 1e-7. */
            float py = pr[y[r]];
            if (!(py > 1e-7f))
                py = 1e-7f;
            loss_sum -= log((double)py);
        }
    }
    hpt_scores_from_confusion(conf, k, loss_sum, v->n, out);
}

static void scores_nan(hpt_scores_t *s)
{
    s->accuracy = s->log_loss = s->f1_macro = NAN;
}

// --- the run --------------------------------------------------------------

static int check_view(const char *what, const hpt_view_t *v, uint32_t n_classes, hpt_err *err)
{
    if (v->n && (!v->images || !v->labels))
        return hpt_err_set(err, -EINVAL, "%s view: %u samples but no data", what, v->n);
    for (uint32_t i = 0; i < v->n; i++)
        if (v->labels[view_row(v, i)] >= n_classes)
            return hpt_err_set(err, -EINVAL, "%s view: sample %u has label %u >= %u classes",
                               what, view_row(v, i), v->labels[view_row(v, i)], n_classes);
    return 0;
}

int hpt_train_run(const hpt_hparams_t *hp, const hpt_train_opts_t *opts, uint32_t n_features,
                  uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                  hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err)
{
    static const hpt_view_t empty = {0};
    if (!val)
        val = &empty;
    *out = (hpt_train_result_t){0};
    int rc = hpt_hparams_validate(hp, err);
    if (rc < 0)
        return rc;
    if (n_features < 1 || n_features > (1u << 24))
        return hpt_err_set(err, -EINVAL, "n_features: %u is out of range", n_features);
    if (n_classes < 2 || n_classes > 256)
        return hpt_err_set(err, -EINVAL, "n_classes: %u is out of range (2..256)", n_classes);
    if (train->n < 1)
        return hpt_err_set(err, -EINVAL, "train view: no samples");
    if ((rc = check_view("train", train, n_classes, err)) < 0 ||
        (rc = check_view("validation", val, n_classes, err)) < 0)
        return rc;

    if (opts && opts->threads > 0)
        hpt_blas_set_threads(opts->threads);
    bool score_each = opts ? opts->score_each_epoch : true;

    int bs = hp->batch_size < (int)train->n ? hp->batch_size : (int)train->n;
    int eval_chunk = val->n ? (val->n < EVAL_BATCH ? (int)val->n : EVAL_BATCH) : 1;
    int max_batch = bs > eval_chunk ? bs : eval_chunk;
    int k = (int)n_classes;

    hpt_rng_t rng;
    hpt_rng_seed(&rng, hp->seed);

    hpt_mlp_t *m = NULL;
    float *x = NULL;
    uint8_t *y = NULL;
    uint32_t *perm = NULL;
    uint64_t *conf = NULL;
    rc = hpt_mlp_new(&m, hp, (int)n_features, k, max_batch, &rng, err);
    if (rc < 0)
        goto out;
    x = malloc(sizeof *x * (size_t)max_batch * n_features);
    y = malloc((size_t)max_batch);
    perm = malloc(sizeof *perm * train->n);
    conf = calloc((size_t)k * (size_t)k, sizeof *conf);
    if (!x || !y || !perm || !conf) {
        rc = hpt_err_set(err, -ENOMEM, "out of memory allocating training buffers");
        goto out;
    }
    size_t n_params;
    hpt_mlp_params(m, &n_params);
    out->n_params = (long)n_params;
    for (uint32_t i = 0; i < train->n; i++)
        perm[i] = i;

    double t_start = now_s(), fit = 0.0;
    for (int epoch = 1; epoch <= hp->epochs; epoch++) {
        double t0 = now_s();
        hpt_rng_shuffle_u32(&rng, perm, train->n);
        double loss_sum = 0.0;
        const atomic_bool *stop = opts ? opts->stop : NULL;
        bool halted = false;
        for (uint32_t start = 0; start < train->n; start += (uint32_t)bs) {
            if (stop && atomic_load_explicit(stop, memory_order_relaxed)) {
                halted = true;
                break;
            }
            int b = (int)((train->n - start) < (uint32_t)bs ? (train->n - start) : (uint32_t)bs);
            gather(train, perm + start, b, n_features, x, y);
            hpt_mlp_forward(m, x, b, HPT_MLP_TRAIN, &rng);
            float loss = hpt_mlp_backward(m, y);
            hpt_mlp_step(m);
            loss_sum += (double)loss * b;
        }
        double t1 = now_s();
        fit += t1 - t0;
        if (halted) {
            /* Stopped mid-epoch: the epoch does not count; scores are NaN
             * because the model is between epochs' states. */
            out->stopped_early = true;
            scores_nan(&out->val);
            out->val_score = NAN;
            break;
        }
        out->epochs_run = epoch;
        out->train_loss = loss_sum / train->n;
        hpt_epoch_report_t rep = {
            .epoch = epoch,
            .epochs = hp->epochs,
            .train_loss = out->train_loss,
            .epoch_seconds = t1 - t0,
            .samples_per_second = (t1 - t0) > 0 ? train->n / (t1 - t0) : 0.0,
        };
        if (!isfinite(out->train_loss)) {
            out->diverged = true;
            scores_nan(&out->val);
            out->val_score = NAN;
            rep.val = out->val;
            rep.val_score = NAN;
            rep.elapsed_seconds = now_s() - t_start;
            if (cb)
                cb(&rep, ud);
            break;
        }
        if (val->n && (score_each || epoch == hp->epochs)) {
            evaluate(m, val, n_features, k, eval_chunk, x, y, conf, &out->val);
            out->val_score = hpt_scores_get(&out->val, hp->metric);
            rep.val = out->val;
            rep.val_score = out->val_score;
        }
        rep.elapsed_seconds = now_s() - t_start;
        if (cb && cb(&rep, ud) != 0) {
            out->stopped_early = true;
            /* Make the final scores describe the model as it stands. */
            if (val->n && !(score_each || epoch == hp->epochs)) {
                evaluate(m, val, n_features, k, eval_chunk, x, y, conf, &out->val);
                out->val_score = hpt_scores_get(&out->val, hp->metric);
            }
            break;
        }
    }
    out->train.accuracy = out->train.log_loss = out->train.f1_macro = NAN;
    out->train_score = NAN;
    if (opts && opts->score_train && !out->diverged) {
        /* Scored in evaluation mode (no dropout) like scikit-learn's
         * return_train_score, which calls score() on the fitted model. */
        int chunk = max_batch < EVAL_BATCH ? max_batch : EVAL_BATCH;
        evaluate(m, train, n_features, k, chunk, x, y, conf, &out->train);
        out->train_score = hpt_scores_get(&out->train, hp->metric);
    }
    out->fit_seconds = fit;
    out->samples_per_second = fit > 0 ? (double)train->n * out->epochs_run / fit : 0.0;
    rc = 0;
out:
    free(conf);
    free(perm);
    free(y);
    free(x);
    hpt_mlp_destroy(&m);
    return rc;
}
