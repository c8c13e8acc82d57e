/*
 * train.c: the training loop.  One session trains one configuration on one
 * view and scores it on another, in one or several calls; see train.h for the
 * contract.
 *
 * Invariants: the model arenas and the permutation are allocated when the
 * session begins; each hpt_train_continue call allocates its scratch buffers
 * (the float batch, the label batch and the confusion matrix) once up front
 * and frees them at the end, so the epoch loop allocates nothing and a
 * session at rest holds only state.  All randomness comes from two hpt_rng_t
 * seeded with hp->seed: the model's, drawn in a fixed order (init, then per
 * batch: dropout masks), and the mini-batch stream's (per epoch: the
 * shuffle), kept apart so that the batches do not depend on the model's
 * shape; `perm` is shuffled in place (each epoch's order depends on the
 * previous one), so both rngs and perm are state: a run split over several
 * calls draws exactly what one call would.  A group call
 * (hpt_train_group_continue) trains sessions with equal streams together;
 * hpt_train_continue is a group of one.
 */
#include "train.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blas.h"
#include "mlp.h"
#include "rng.h"

// Rows per forward pass when scoring: large batches use sgemm better.
#define EVAL_BATCH 512
_Static_assert(HPT_TRAIN_GROUP_MAX <= HPT_MLP_GROUP_MAX, "a group trains as one mlp group");

// Mixed with hp->seed into the shuffle stream's seed ("SHUF").
#define SHUFFLE_STREAM 0x53485546u

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

void hpt_view_gather(const hpt_view_t *v, const uint32_t *rows, int b, uint32_t d, float *x,
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
        hpt_view_gather(v, rows, b, d, x, y);
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

// --- sessions -------------------------------------------------------------

struct hpt_train_session {
    hpt_hparams_t hp;       // copy; hp.epochs is not used
    uint32_t n_features;    // d
    int k;                  // classes
    hpt_view_t train;       // borrowed rows (see hpt_train_session_rebind)
    hpt_view_t val;         // borrowed rows; n may be 0
    int bs;                 // mini-batch rows: min(hp.batch_size, train.n)
    int eval_chunk;         // rows per scoring forward on val
    int max_batch;          // the model's batch capacity: max(bs, eval_chunk)
    hpt_rng_t rng;          // the model's: init, then per batch the dropout masks
    hpt_rng_t shuf;         // the mini-batch stream's: per epoch the shuffle.  Seeded from
                            // hp.seed alone, apart from the model's draws, so that every
                            // configuration with the same seed, batch size and split sees
                            // the same mini-batches (hpt_train_group_continue)
    hpt_mlp_t *m;           // owned
    uint32_t *perm;         // (train.n) positions in the view, in this epoch's order
    int epochs;             // completed
    double train_loss;      // the last completed epoch's mean train loss (0 before any)
    const char *broken;     // NULL while usable, else why it cannot continue
    long n_params;
    size_t bytes;           // hpt_train_session_bytes
};

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

/* A float count rounded up to 16 (mlp.c pads each buffer to 64 bytes). */
static uint64_t pad16(uint64_t n)
{
    return (n + 15) & ~(uint64_t)15;
}

/* Bytes of the model hpt_mlp_new builds for these shapes: params, grads, two
 * optimizer slots (the most any optimizer keeps) and the activation arena,
 * following mlp.c's size tables.  In 64-bit arithmetic: the largest shapes
 * hp allows (8 layers of 65536 units, batches of 65536) need about 2^39
 * floats, which no size_t of a 32-bit build holds; the result saturates. */
size_t hpt_train_model_bytes(const hpt_hparams_t *hp, size_t n_in, size_t n_out, size_t batch)
{
    uint64_t dims[HPT_MAX_LAYERS + 2];
    int layers = hp->layers < 1 ? 1 : hp->layers > HPT_MAX_LAYERS ? HPT_MAX_LAYERS : hp->layers;
    int L = layers + 1;
    dims[0] = n_in;
    for (int l = 0; l < layers; l++)
        dims[l + 1] = (uint64_t)(hp->units[l] > 0 ? hp->units[l] : 1);
    dims[L] = n_out;
    uint64_t n_params = 0, n_acts = 0, widest = 0, b = batch;
    for (int l = 0; l < L; l++) {
        uint64_t fo = dims[l + 1], per = pad16(b * fo);
        n_params += dims[l] * fo + fo;
        widest = fo > widest ? fo : widest;
        n_acts += (l < L - 1 && hp->dropout > 0 ? 4 : 2) * per;
    }
    if (hp->input_dropout > 0)
        n_acts += 2 * pad16(b * n_in);
    n_acts += 2 * pad16(b * widest) + pad16(widest);
    uint64_t bytes = (4 * n_params + n_acts) * sizeof(float) + 1024;  // + the structs
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

size_t hpt_train_mem_bytes(const hpt_hparams_t *hp, uint32_t n_features, uint32_t n_classes,
                           uint32_t n_train, uint32_t n_val)
{
    /* The same batch sizes hpt_train_begin picks. */
    uint64_t bs = (uint64_t)hp->batch_size < n_train ? (uint64_t)hp->batch_size : n_train;
    uint64_t eval = n_val ? (n_val < EVAL_BATCH ? n_val : EVAL_BATCH) : 1;
    uint64_t max_batch = bs > eval ? bs : eval;
    if (max_batch < 1)
        max_batch = 1;
    uint64_t bytes = hpt_train_model_bytes(hp, n_features, n_classes, (size_t)max_batch);
    bytes += sizeof(hpt_train_session_t) + sizeof(uint32_t) * (uint64_t)n_train;  // perm
    /* hpt_train_continue's scratch: the float batch, its labels, the
     * confusion matrix. */
    bytes += sizeof(float) * max_batch * n_features + max_batch +
             sizeof(uint64_t) * (uint64_t)n_classes * n_classes;
    return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

int hpt_train_begin(hpt_train_session_t **out, const hpt_hparams_t *hp, uint32_t n_features,
                    uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                    hpt_err *err)
{
    static const hpt_view_t empty = {0};
    if (!val)
        val = &empty;
    *out = NULL;
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

    hpt_train_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return hpt_err_set(err, -ENOMEM, "out of memory allocating the training session");
    s->hp = *hp;
    s->n_features = n_features;
    s->k = (int)n_classes;
    s->train = *train;
    s->val = *val;
    s->bs = hp->batch_size < (int)train->n ? hp->batch_size : (int)train->n;
    s->eval_chunk = val->n ? (val->n < EVAL_BATCH ? (int)val->n : EVAL_BATCH) : 1;
    s->max_batch = s->bs > s->eval_chunk ? s->bs : s->eval_chunk;
    hpt_rng_seed(&s->rng, hp->seed);
    const uint64_t shuf_seed[2] = {hp->seed, SHUFFLE_STREAM};
    hpt_rng_seed_n(&s->shuf, shuf_seed, 2);
    rc = hpt_mlp_new(&s->m, hp, (int)n_features, s->k, s->max_batch, &s->rng, err);
    if (rc < 0)
        goto err_free;
    s->perm = malloc(sizeof *s->perm * train->n);
    if (!s->perm) {
        rc = hpt_err_set(err, -ENOMEM, "out of memory allocating training buffers");
        goto err_free;
    }
    for (uint32_t i = 0; i < train->n; i++)
        s->perm[i] = i;
    size_t n_params;
    hpt_mlp_params(s->m, &n_params);
    s->n_params = (long)n_params;
    s->bytes = sizeof *s + sizeof *s->perm * train->n +
               hpt_train_model_bytes(hp, n_features, n_classes, (size_t)s->max_batch);
    *out = s;
    return 0;
err_free:
    hpt_train_end(&s);
    return rc;
}

void hpt_train_end(hpt_train_session_t **p)
{
    if (!p || !*p)
        return;
    hpt_train_session_t *s = *p;
    hpt_mlp_destroy(&s->m);
    free(s->perm);
    free(s);
    *p = NULL;
}

int hpt_train_session_epochs(const hpt_train_session_t *s)
{
    return s->epochs;
}

bool hpt_train_session_usable(const hpt_train_session_t *s)
{
    return s->broken == NULL;
}

size_t hpt_train_session_bytes(const hpt_train_session_t *s)
{
    return s->bytes;
}

struct hpt_mlp *hpt_train_session_model(hpt_train_session_t *s)
{
    return s->m;
}

int hpt_train_session_rebind(hpt_train_session_t *s, const hpt_view_t *train,
                             const hpt_view_t *val, hpt_err *err)
{
    static const hpt_view_t empty = {0};
    if (!val)
        val = &empty;
    // The counts size perm and the model's batch capacity: they cannot change.
    if (train->n != s->train.n || val->n != s->val.n)
        return hpt_err_set(err, -EINVAL, "rebind: views of %u/%u samples, the session has "
                           "%u/%u", train->n, val->n, s->train.n, s->val.n);
    int rc;
    if ((rc = check_view("train", train, (uint32_t)s->k, err)) < 0 ||
        (rc = check_view("validation", val, (uint32_t)s->k, err)) < 0)
        return rc;
    s->train = *train;
    s->val = *val;
    return 0;
}

/* Whether b sees a's mini-batch stream: the same training rows (the same
 * arrays, or index arrays of the same content), batch size, features,
 * epochs completed and shuffle state, hence the same permutation. */
static bool same_stream(const hpt_train_session_t *a, const hpt_train_session_t *b)
{
    const hpt_view_t *ta = &a->train, *tb = &b->train;
    if (ta->n != tb->n || ta->images != tb->images || ta->labels != tb->labels ||
        a->bs != b->bs || a->n_features != b->n_features || a->epochs != b->epochs ||
        memcmp(&a->shuf, &b->shuf, sizeof a->shuf) != 0)
        return false;
    if (ta->idx != tb->idx &&
        (!ta->idx || !tb->idx || memcmp(ta->idx, tb->idx, sizeof *ta->idx * ta->n) != 0))
        return false;
    return memcmp(a->perm, b->perm, sizeof *a->perm * ta->n) == 0;
}

bool hpt_train_session_same_stream(const hpt_train_session_t *a, const hpt_train_session_t *b)
{
    return same_stream(a, b);
}

/* A member's state during a group call. */
typedef struct member_run {
    hpt_train_member_t *m;
    hpt_train_session_t *s;
    bool active;            // still training in this call
    bool halted;            // stopped mid-epoch by its stop flag
    double loss_sum;        // this epoch's
    double fit;             // this call's share of the training time, seconds
} member_run_t;

/* The end of an epoch for one member, as a lone session ends it: counts,
 * the divergence check, scoring, the callback.  Returns false when the
 * member leaves the call (stopped, diverged, or done with to_epoch). */
static bool end_epoch(member_run_t *r, int epoch, double t0, double t1, double t_start,
                      bool score_each, float *x, uint8_t *y, uint64_t *conf)
{
    hpt_train_session_t *s = r->s;
    hpt_train_result_t *out = r->m->out;
    const hpt_view_t *train = &s->train, *val = &s->val;
    const int to_epoch = r->m->to_epoch;
    if (r->halted) {
        /* Stopped mid-epoch: the epoch does not count; scores are NaN
         * because the model is between epochs' states, and so is the rng,
         * so the session cannot go on. */
        s->broken = "training was stopped mid-epoch";
        out->stopped_early = true;
        scores_nan(&out->val);
        out->val_score = NAN;
        return false;
    }
    s->epochs = out->epochs_run = epoch;
    s->train_loss = out->train_loss = r->loss_sum / train->n;
    hpt_epoch_report_t rep = {
        .epoch = epoch,
        .epochs = to_epoch,
        .train_loss = out->train_loss,
        .epoch_seconds = t1 - t0,
        .samples_per_second = (t1 - t0) > 0 ? train->n / (t1 - t0) : 0.0,
    };
    scores_nan(&rep.val);   // unless this epoch is scored below
    rep.val_score = NAN;
    if (!isfinite(out->train_loss)) {
        s->broken = "the loss diverged";
        out->diverged = true;
        scores_nan(&out->val);
        out->val_score = NAN;
        rep.val = out->val;
        rep.val_score = NAN;
        rep.elapsed_seconds = now_s() - t_start;
        if (r->m->cb)
            r->m->cb(&rep, r->m->ud);
        return false;
    }
    if (val->n && (score_each || epoch == to_epoch)) {
        evaluate(s->m, val, s->n_features, s->k, s->eval_chunk, x, y, conf, &out->val);
        out->val_score = hpt_scores_get(&out->val, s->hp.metric);
        rep.val = out->val;
        rep.val_score = out->val_score;
    }
    rep.elapsed_seconds = now_s() - t_start;
    if (r->m->cb && r->m->cb(&rep, r->m->ud) != 0) {
        out->stopped_early = true;
        /* Make the final scores describe the model as it stands. */
        if (val->n && !(score_each || epoch == to_epoch)) {
            evaluate(s->m, val, s->n_features, s->k, s->eval_chunk, x, y, conf, &out->val);
            out->val_score = hpt_scores_get(&out->val, s->hp.metric);
        }
        return false;
    }
    return epoch < to_epoch;
}

int hpt_train_group_continue(hpt_train_member_t *mem, int n, const hpt_train_opts_t *opts,
                             hpt_err *err)
{
    if (n < 1 || n > HPT_TRAIN_GROUP_MAX)
        return hpt_err_set(err, -EINVAL, "group of %d sessions (1..%d)", n, HPT_TRAIN_GROUP_MAX);
    member_run_t run[HPT_TRAIN_GROUP_MAX];
    hpt_train_session_t *lead = NULL;  // the first member that can train
    int rc = 0, n_active = 0, last = 0, k_max = 2, lead_i = 0;
    size_t x_rows = 1;
    for (int i = 0; i < n; i++) {
        hpt_train_session_t *s = mem[i].s;
        if (!s->broken && !lead)
            lead = s, lead_i = i;
        else if (!s->broken && !same_stream(lead, s))
            return hpt_err_set(err, -EINVAL, "group member %d does not see member %d's "
                               "mini-batch stream (rows, batch size, epochs or seed differ)", i,
                               lead_i);
    }
    for (int i = 0; i < n; i++) {
        hpt_train_session_t *s = mem[i].s;
        *mem[i].out = (hpt_train_result_t){.epochs_run = s->epochs, .train_loss = s->train_loss,
                                           .n_params = s->n_params};
        run[i] = (member_run_t){.m = &mem[i], .s = s};
        mem[i].rc = 0;
        if (s->broken)
            mem[i].rc = hpt_err_set(mem[i].err, -EINVAL, "cannot continue training: %s",
                                    s->broken);
        else if (mem[i].to_epoch <= s->epochs || mem[i].to_epoch > HPT_MAX_EPOCHS)
            mem[i].rc = hpt_err_set(mem[i].err, -EINVAL, "to_epoch: %d is out of range (%d..%d)",
                                    mem[i].to_epoch, s->epochs + 1, HPT_MAX_EPOCHS);
        if (mem[i].rc < 0)
            continue;
        run[i].active = true;
        n_active++;
        last = mem[i].to_epoch > last ? mem[i].to_epoch : last;
        k_max = s->k > k_max ? s->k : k_max;
        x_rows = (size_t)s->max_batch > x_rows ? (size_t)s->max_batch : x_rows;
    }
    if (n_active == 0)
        return n == 1 ? mem[0].rc : 0;
    const int first = lead->epochs + 1;

    const hpt_view_t *train = &lead->train;
    const uint32_t d = lead->n_features;
    const int bs = lead->bs;
    float *x = malloc(sizeof *x * x_rows * d);
    uint8_t *y = malloc(x_rows);
    uint64_t *conf = calloc((size_t)k_max * (size_t)k_max, sizeof *conf);
    if (!x || !y || !conf) {
        rc = hpt_err_set(err, -ENOMEM, "out of memory allocating training buffers");
        for (int i = 0; i < n; i++)
            if (run[i].active)
                mem[i].rc = mem[i].err == err ? rc
                                              : hpt_err_set(mem[i].err, rc, "out of memory "
                                                            "allocating training buffers");
        goto out;
    }
    if (opts && opts->threads > 0)
        hpt_blas_set_threads(opts->threads);
    bool score_each = opts ? opts->score_each_epoch : true;

    double t_start = now_s();
    for (int epoch = first; epoch <= last && n_active > 0; epoch++) {
        double t0 = now_s();
        hpt_mlp_t *ms[HPT_TRAIN_GROUP_MAX];
        hpt_rng_t *rngs[HPT_TRAIN_GROUP_MAX];
        member_run_t *in[HPT_TRAIN_GROUP_MAX];
        const uint32_t *perm = NULL;
        for (int i = 0; i < n; i++) {
            if (!run[i].active)
                continue;
            hpt_rng_shuffle_u32(&run[i].s->shuf, run[i].s->perm, train->n);
            run[i].loss_sum = 0.0;
            perm = perm ? perm : run[i].s->perm;  // all the same permutation
        }
        for (uint32_t start = 0; start < train->n; start += (uint32_t)bs) {
            int nb = 0;
            for (int i = 0; i < n; i++) {
                if (!run[i].active || run[i].halted)
                    continue;
                const atomic_bool *stop = mem[i].stop;
                if (stop && atomic_load_explicit(stop, memory_order_relaxed)) {
                    run[i].halted = true;
                    continue;
                }
                ms[nb] = run[i].s->m, rngs[nb] = &run[i].s->rng, in[nb++] = &run[i];
            }
            if (nb == 0)
                break;
            int b = (int)((train->n - start) < (uint32_t)bs ? (train->n - start) : (uint32_t)bs);
            hpt_view_gather(train, perm + start, b, d, x, y);
            float loss[HPT_TRAIN_GROUP_MAX];
            if (nb == 1) {  // alone: exactly the lone calls
                hpt_mlp_forward(ms[0], x, b, HPT_MLP_TRAIN, rngs[0]);
                loss[0] = hpt_mlp_backward(ms[0], y);
            } else {
                hpt_mlp_forward_group(ms, nb, x, b, HPT_MLP_TRAIN, rngs);
                hpt_mlp_backward_group(ms, nb, y, loss);
            }
            for (int j = 0; j < nb; j++) {
                hpt_mlp_step(ms[j]);
                in[j]->loss_sum += (double)loss[j] * b;
            }
        }
        double t1 = now_s();
        /* The epoch's time is shared equally by the members that trained in
         * it: each task's fit_seconds is its share of the core. */
        int trained = 0;
        for (int i = 0; i < n; i++)
            trained += run[i].active;
        for (int i = 0; i < n; i++) {
            if (!run[i].active)
                continue;
            run[i].fit += (t1 - t0) / trained;
            if (!end_epoch(&run[i], epoch, t0, t1, t_start, score_each, x, y, conf)) {
                run[i].active = false;
                n_active--;
            }
        }
    }
    for (int i = 0; i < n; i++) {
        if (mem[i].rc < 0)
            continue;
        hpt_train_session_t *s = run[i].s;
        hpt_train_result_t *out = mem[i].out;
        out->train.accuracy = out->train.log_loss = out->train.f1_macro = NAN;
        out->train_score = NAN;
        if (opts && opts->score_train && !out->diverged) {
            /* Scored in evaluation mode (no dropout) like scikit-learn's
             * return_train_score, which calls score() on the fitted model. */
            int chunk = s->max_batch < EVAL_BATCH ? s->max_batch : EVAL_BATCH;
            evaluate(s->m, &s->train, d, s->k, chunk, x, y, conf, &out->train);
            out->train_score = hpt_scores_get(&out->train, s->hp.metric);
        }
        out->fit_seconds = run[i].fit;
        out->samples_per_second =
            run[i].fit > 0 ? (double)train->n * (out->epochs_run - (first - 1)) / run[i].fit
                           : 0.0;
    }
out:
    free(conf);
    free(y);
    free(x);
    return rc;
}

int hpt_train_continue(hpt_train_session_t *s, int to_epoch, const hpt_train_opts_t *opts,
                       hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err)
{
    hpt_train_member_t m = {.s = s, .to_epoch = to_epoch, .stop = opts ? opts->stop : NULL,
                            .cb = cb, .ud = ud, .out = out, .err = err};
    int rc = hpt_train_group_continue(&m, 1, opts, err);
    return rc < 0 ? rc : m.rc;
}

// --- the one-call run -----------------------------------------------------

int hpt_train_run(const hpt_hparams_t *hp, const hpt_train_opts_t *opts, uint32_t n_features,
                  uint32_t n_classes, const hpt_view_t *train, const hpt_view_t *val,
                  hpt_epoch_cb cb, void *ud, hpt_train_result_t *out, hpt_err *err)
{
    *out = (hpt_train_result_t){0};
    hpt_train_session_t *s = NULL;
    int rc = hpt_train_begin(&s, hp, n_features, n_classes, train, val, err);
    if (rc < 0)
        return rc;
    rc = hpt_train_continue(s, hp->epochs, opts, cb, ud, out, err);
    hpt_train_end(&s);
    return rc;
}
