/*
 * test_resume.c: resumable training sessions (common/train.h).
 *   - Training 3 epochs and then continuing to 7 gives bit-for-bit the
 *     weights, per-epoch losses and scores, and final scores of a fresh
 *     7-epoch run, for several configurations (adam with dropout and input
 *     dropout, sgd with Nesterov momentum and tanh, rmsprop with momentum and
 *     max-norm, nadam, adadelta, a two-layer adamax), and of hpt_train_run.
 *     The first call scores differently (per-epoch scoring off, score_train
 *     on) to show that scoring draws nothing from the rng.
 *   - Continuing in three calls (1, 4, 7) and after a rebind onto fresh index
 *     arrays with the same content gives the same model too.
 *   - A session stopped mid-epoch (opts->stop) or diverged is unusable and
 *     refuses to continue; one stopped by the epoch callback (between epochs)
 *     continues to the fresh result.
 *   - Argument checks: to_epoch not above the epochs done, a rebind with a
 *     different sample count.
 * BLAS runs on one thread: bit-for-bit equality needs it.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "hpt_test.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"
#include "train.h"

// --- a small synthetic problem: K noisy blobs of D pixels

enum { N = 700, D = 48, K = 4, N_TRAIN = 520 };

typedef struct data {
    uint8_t img[N * D];
    uint8_t lab[N];
    uint32_t tr[N_TRAIN];  // shuffled rows, so the views really go through idx
    uint32_t va[N - N_TRAIN];
} data_t;

static void make_data(data_t *dt)
{
    hpt_rng_t r;
    hpt_rng_seed(&r, 2024);
    for (int i = 0; i < N; i++) {
        dt->lab[i] = (uint8_t)hpt_rng_below(&r, K);
        for (int j = 0; j < D; j++)
            dt->img[i * D + j] =
                (uint8_t)((j % K == dt->lab[i] ? 30 : 0) + hpt_rng_below(&r, 226));
    }
    uint32_t all[N];
    for (uint32_t i = 0; i < N; i++)
        all[i] = i;
    hpt_rng_shuffle_u32(&r, all, N);
    memcpy(dt->tr, all, sizeof dt->tr);
    memcpy(dt->va, all + N_TRAIN, sizeof dt->va);
}

static hpt_view_t train_view(const data_t *dt, const uint32_t *idx)
{
    return (hpt_view_t){.images = dt->img, .labels = dt->lab, .idx = idx, .n = N_TRAIN};
}

static hpt_view_t val_view(const data_t *dt, const uint32_t *idx)
{
    return (hpt_view_t){.images = dt->img, .labels = dt->lab, .idx = idx, .n = N - N_TRAIN};
}

// --- configurations

static hpt_hparams_t config(int c)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = 24;
    hp.batch_size = 32;
    hp.epochs = 7;
    hp.seed = 100 + (uint64_t)c;
    switch (c) {
    case 0:  // adam with dropout on the hidden and input layers, relu
        hp.dropout = 0.3;
        hp.input_dropout = 0.1;
        break;
    case 1:  // sgd + nesterov, tanh
        hp.optimizer = HPT_OPT_SGD;
        hp.learning_rate = 0.05;
        hp.momentum = 0.9;
        hp.nesterov = true;
        hp.activation = HPT_ACT_TANH;
        break;
    case 2:  // rmsprop with momentum and max-norm, a batch that does not divide the rows
        hp.optimizer = HPT_OPT_RMSPROP;
        hp.momentum = 0.5;
        hp.weight_constraint = 1.5;
        hp.batch_size = 50;
        hp.dropout = 0.2;
        break;
    case 3:  // nadam (its momentum schedule is optimizer state), tanh, he init
        hp.optimizer = HPT_OPT_NADAM;
        hp.activation = HPT_ACT_TANH;
        hp.init_mode = HPT_INIT_HE_NORMAL;
        break;
    case 4:  // adadelta, elu
        hp.optimizer = HPT_OPT_ADADELTA;
        hp.learning_rate = 1.0;
        hp.activation = HPT_ACT_ELU;
        break;
    default:  // two layers, adamax, relu with dropout
        hp.optimizer = HPT_OPT_ADAMAX;
        hp.layers = 2;
        hp.units[1] = 12;
        hp.dropout = 0.25;
        break;
    }
    return hp;
}

#define N_CONFIGS 6

// --- recording epoch reports

typedef struct rec {
    int n;
    hpt_epoch_report_t rep[16];
    int stop_at;            // return 1 from the callback after this epoch (0 = never)
    int flag_at;            // set *flag after this epoch (0 = never)
    atomic_bool *flag;
} rec_t;

static int on_epoch(const hpt_epoch_report_t *rep, void *ud)
{
    rec_t *r = ud;
    if (r->n < 16)
        r->rep[r->n++] = *rep;
    if (r->flag_at && rep->epoch == r->flag_at)
        atomic_store(r->flag, true);
    return r->stop_at && rep->epoch == r->stop_at;
}

/* Bit-for-bit equality of two doubles (NaN equals NaN of the same bits). */
static bool same(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

#define ASSERT_SAME(a, b)                                                          \
    do {                                                                           \
        double hpt__x = (a), hpt__y = (b);                                         \
        if (!same(hpt__x, hpt__y))                                                 \
            HPT__FAIL("%s and %s differ: %a vs %a", #a, #b, hpt__x, hpt__y);       \
    } while (0)

static void assert_same_scores(const hpt_scores_t *a, const hpt_scores_t *b)
{
    ASSERT_SAME(a->accuracy, b->accuracy);
    ASSERT_SAME(a->log_loss, b->log_loss);
    ASSERT_SAME(a->f1_macro, b->f1_macro);
}

static void assert_same_weights(hpt_train_session_t *a, hpt_train_session_t *b)
{
    size_t na, nb;
    const float *pa = hpt_mlp_params(hpt_train_session_model(a), &na);
    const float *pb = hpt_mlp_params(hpt_train_session_model(b), &nb);
    ASSERT_EQ(na, nb);
    ASSERT(memcmp(pa, pb, na * sizeof *pa) == 0);
}

/* Final results of a run to `epochs` (one call or several) against the fresh
 * one.  fit_seconds and samples_per_second are timings and may differ. */
static void assert_same_result(const hpt_train_result_t *a, const hpt_train_result_t *b)
{
    ASSERT_EQ(a->epochs_run, b->epochs_run);
    ASSERT_EQ(a->stopped_early, b->stopped_early);
    ASSERT_EQ(a->diverged, b->diverged);
    ASSERT_EQ(a->n_params, b->n_params);
    ASSERT_SAME(a->train_loss, b->train_loss);
    assert_same_scores(&a->val, &b->val);
    ASSERT_SAME(a->val_score, b->val_score);
    assert_same_scores(&a->train, &b->train);
    ASSERT_SAME(a->train_score, b->train_score);
}

static const hpt_train_opts_t OPTS_FULL = {.threads = 1, .score_each_epoch = true,
                                           .score_train = true};

// --- tests

HPT_TEST(continue_matches_fresh)
{
    hpt_blas_set_threads(1);
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    for (int c = 0; c < N_CONFIGS; c++) {
        hpt_hparams_t hp = config(c);
        hpt_err err = {0};

        // Fresh: one call to 7.
        hpt_train_session_t *fresh = NULL;
        ASSERT_OK(hpt_train_begin(&fresh, &hp, D, K, &tr, &va, &err));
        rec_t rf = {0};
        hpt_train_result_t r7;
        ASSERT_OK(hpt_train_continue(fresh, 7, &OPTS_FULL, on_epoch, &rf, &r7, &err));
        ASSERT_EQ(r7.epochs_run, 7);
        ASSERT_EQ(rf.n, 7);
        ASSERT(!r7.diverged && !r7.stopped_early);
        // Above chance and not saturated: scores that can still move, so
        // comparing them is not vacuous.
        ASSERT(r7.val.accuracy > 1.0 / K && r7.val.accuracy < 1.0);

        // Resumed: 3, then 4 more.  The first call scores only at its end
        // and also scores the training rows: scoring must not move the rng.
        hp.epochs = 3;  // only validated: the session trains to what continue asks
        hpt_train_session_t *res = NULL;
        ASSERT_OK(hpt_train_begin(&res, &hp, D, K, &tr, &va, &err));
        ASSERT_EQ(hpt_train_session_epochs(res), 0);
        ASSERT(hpt_train_session_bytes(res) > 0);
        rec_t ra = {0}, rb = {0};
        hpt_train_result_t r3, r37;
        hpt_train_opts_t o3 = {.threads = 1, .score_each_epoch = false, .score_train = true};
        ASSERT_OK(hpt_train_continue(res, 3, &o3, on_epoch, &ra, &r3, &err));
        ASSERT_EQ(r3.epochs_run, 3);
        ASSERT_EQ(hpt_train_session_epochs(res), 3);
        ASSERT(hpt_train_session_usable(res));
        ASSERT_SAME(r3.train_loss, rf.rep[2].train_loss);
        ASSERT_SAME(r3.val_score, rf.rep[2].val_score);
        ASSERT_OK(hpt_train_continue(res, 7, &OPTS_FULL, on_epoch, &rb, &r37, &err));
        ASSERT_EQ(hpt_train_session_epochs(res), 7);

        assert_same_weights(fresh, res);
        assert_same_result(&r7, &r37);
        // Per-epoch reports: same numbers; `epochs` is each call's to_epoch.
        ASSERT_EQ(ra.n, 3);
        ASSERT_EQ(rb.n, 4);
        for (int e = 0; e < 7; e++) {
            const hpt_epoch_report_t *a = &rf.rep[e], *b = e < 3 ? &ra.rep[e] : &rb.rep[e - 3];
            ASSERT_EQ(a->epoch, e + 1);
            ASSERT_EQ(b->epoch, e + 1);
            ASSERT_EQ(a->epochs, 7);
            ASSERT_EQ(b->epochs, e < 3 ? 3 : 7);
            ASSERT_SAME(a->train_loss, b->train_loss);
            if (e >= 3 || e == 2) {  // the first call scored only its last epoch
                ASSERT_SAME(a->val_score, b->val_score);
                assert_same_scores(&a->val, &b->val);
            }
        }

        // The one-call wrapper gives the same numbers.
        hp.epochs = 7;
        hpt_train_result_t rr;
        ASSERT_OK(hpt_train_run(&hp, &OPTS_FULL, D, K, &tr, &va, NULL, NULL, &rr, &err));
        assert_same_result(&r7, &rr);

        fprintf(stderr, "  config %d (%s, %s): 3+4 == 7 epochs, val acc %.4f, loss %a\n", c,
                hpt_opt_name(hp.optimizer), hpt_act_name(hp.activation), r37.val.accuracy,
                r37.train_loss);
        hpt_train_end(&fresh);
        hpt_train_end(&res);
        ASSERT(fresh == NULL && res == NULL);
    }
}

HPT_TEST(continue_in_pieces_and_after_rebind)
{
    hpt_blas_set_threads(1);
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    hpt_hparams_t hp = config(0);
    hpt_train_session_t *fresh = NULL, *s = NULL;
    hpt_train_result_t r7, r;
    ASSERT_OK(hpt_train_begin(&fresh, &hp, D, K, &tr, &va, NULL));
    ASSERT_OK(hpt_train_continue(fresh, 7, &OPTS_FULL, NULL, NULL, &r7, NULL));

    ASSERT_OK(hpt_train_begin(&s, &hp, D, K, &tr, &va, NULL));
    ASSERT_OK(hpt_train_continue(s, 1, NULL, NULL, NULL, &r, NULL));
    ASSERT_EQ(r.epochs_run, 1);
    ASSERT_OK(hpt_train_continue(s, 4, &OPTS_FULL, NULL, NULL, &r, NULL));
    ASSERT_EQ(r.epochs_run, 4);

    /* Rebind onto copies of the index arrays, then free the old ones' worth
     * of content by scribbling over them: the session must read the new
     * arrays only (as a worker's cache does with recomputed fold indices). */
    uint32_t *tr2 = malloc(sizeof dt.tr), *va2 = malloc(sizeof dt.va);
    ASSERT(tr2 && va2);
    memcpy(tr2, dt.tr, sizeof dt.tr);
    memcpy(va2, dt.va, sizeof dt.va);
    hpt_view_t tr_b = train_view(&dt, tr2), va_b = val_view(&dt, va2);
    ASSERT_OK(hpt_train_session_rebind(s, &tr_b, &va_b, NULL));
    uint32_t saved_tr[N_TRAIN], saved_va[N - N_TRAIN];
    memcpy(saved_tr, dt.tr, sizeof dt.tr);
    memcpy(saved_va, dt.va, sizeof dt.va);
    memset(dt.tr, 0xff, sizeof dt.tr);  // out-of-range rows: reading them would be caught
    memset(dt.va, 0xff, sizeof dt.va);  // by ASan or give different scores
    ASSERT_OK(hpt_train_continue(s, 7, &OPTS_FULL, NULL, NULL, &r, NULL));
    memcpy(dt.tr, saved_tr, sizeof dt.tr);
    memcpy(dt.va, saved_va, sizeof dt.va);
    assert_same_weights(fresh, s);
    assert_same_result(&r7, &r);

    // A rebind with a different sample count is refused and changes nothing.
    hpt_view_t short_tr = tr_b;
    short_tr.n--;
    hpt_err err = {0};
    ASSERT_EQ(hpt_train_session_rebind(s, &short_tr, &va_b, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "rebind");
    hpt_view_t no_val = {0};
    ASSERT_EQ(hpt_train_session_rebind(s, &tr_b, &no_val, &err), -EINVAL);
    ASSERT(hpt_train_session_usable(s));

    // to_epoch must be above the epochs done (and within HPT_MAX_EPOCHS).
    ASSERT_EQ(hpt_train_continue(s, 7, NULL, NULL, NULL, &r, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "to_epoch");
    ASSERT_EQ(r.epochs_run, 7);
    ASSERT_EQ(hpt_train_continue(s, 3, NULL, NULL, NULL, &r, &err), -EINVAL);
    ASSERT_EQ(hpt_train_continue(s, HPT_MAX_EPOCHS + 1, NULL, NULL, NULL, &r, &err), -EINVAL);
    ASSERT_EQ(hpt_train_session_epochs(s), 7);
    assert_same_weights(fresh, s);  // the refusals trained nothing

    hpt_train_end(&fresh);
    hpt_train_end(&s);
    hpt_train_end(&s);  // NULL-safe
    free(tr2);
    free(va2);
}

HPT_TEST(stopped_mid_epoch_refuses_to_continue)
{
    hpt_blas_set_threads(1);
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    hpt_hparams_t hp = config(1);
    hpt_train_session_t *s = NULL;
    ASSERT_OK(hpt_train_begin(&s, &hp, D, K, &tr, &va, NULL));
    /* The flag goes up after epoch 2; it is checked before every mini-batch,
     * so epoch 3 stops at its first batch, after its shuffle was drawn. */
    atomic_bool stop;
    atomic_init(&stop, false);
    rec_t rc = {.flag_at = 2, .flag = &stop};
    hpt_train_opts_t o = {.threads = 1, .score_each_epoch = true, .stop = &stop};
    hpt_train_result_t r;
    ASSERT_OK(hpt_train_continue(s, 5, &o, on_epoch, &rc, &r, NULL));
    ASSERT(r.stopped_early);
    ASSERT_EQ(r.epochs_run, 2);
    ASSERT(isnan(r.val_score));
    ASSERT_EQ(hpt_train_session_epochs(s), 2);
    ASSERT(!hpt_train_session_usable(s));

    hpt_err err = {0};
    atomic_store(&stop, false);
    ASSERT_EQ(hpt_train_continue(s, 5, &o, NULL, NULL, &r, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "stopped mid-epoch");
    ASSERT_EQ(r.epochs_run, 2);
    ASSERT_EQ(hpt_train_session_epochs(s), 2);
    hpt_train_end(&s);
}

HPT_TEST(callback_stop_between_epochs_stays_usable)
{
    hpt_blas_set_threads(1);
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    hpt_hparams_t hp = config(2);
    hpt_train_session_t *fresh = NULL, *s = NULL;
    hpt_train_result_t r5, r;
    ASSERT_OK(hpt_train_begin(&fresh, &hp, D, K, &tr, &va, NULL));
    ASSERT_OK(hpt_train_continue(fresh, 5, &OPTS_FULL, NULL, NULL, &r5, NULL));

    ASSERT_OK(hpt_train_begin(&s, &hp, D, K, &tr, &va, NULL));
    rec_t rc = {.stop_at = 2};
    ASSERT_OK(hpt_train_continue(s, 5, &OPTS_FULL, on_epoch, &rc, &r, NULL));
    ASSERT(r.stopped_early);
    ASSERT_EQ(r.epochs_run, 2);
    ASSERT(hpt_train_session_usable(s));
    ASSERT_OK(hpt_train_continue(s, 5, &OPTS_FULL, NULL, NULL, &r, NULL));
    assert_same_weights(fresh, s);
    assert_same_result(&r5, &r);
    hpt_train_end(&fresh);
    hpt_train_end(&s);
}

HPT_TEST(diverged_refuses_to_continue)
{
    hpt_blas_set_threads(1);
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    hpt_hparams_t hp = config(1);
    // The largest step allowed, with momentum, on unbounded units: the weights
    // overflow within a few epochs.
    hp.activation = HPT_ACT_LINEAR;
    hp.layers = 3;
    hp.units[0] = hp.units[1] = hp.units[2] = 256;
    hp.momentum = 0.99;
    hp.learning_rate = 10.0;
    hpt_train_session_t *s = NULL;
    ASSERT_OK(hpt_train_begin(&s, &hp, D, K, &tr, &va, NULL));
    hpt_train_result_t r;
    ASSERT_OK(hpt_train_continue(s, 3, &OPTS_FULL, NULL, NULL, &r, NULL));
    ASSERT(r.diverged);
    ASSERT(!hpt_train_session_usable(s));
    hpt_err err = {0};
    ASSERT_EQ(hpt_train_continue(s, 5, &OPTS_FULL, NULL, NULL, &r, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "diverged");
    hpt_train_end(&s);
}

HPT_TEST(session_bytes_follow_the_model)
{
    static data_t dt;
    make_data(&dt);
    hpt_view_t tr = train_view(&dt, dt.tr), va = val_view(&dt, dt.va);
    hpt_hparams_t small = config(0), big = config(0);
    big.units[0] = 512;
    hpt_train_session_t *a = NULL, *b = NULL;
    ASSERT_OK(hpt_train_begin(&a, &small, D, K, &tr, &va, NULL));
    ASSERT_OK(hpt_train_begin(&b, &big, D, K, &tr, &va, NULL));
    size_t n;
    hpt_mlp_params(hpt_train_session_model(b), &n);
    // At least params, grads and the adam moments; the estimate is not wild.
    ASSERT(hpt_train_session_bytes(b) >= 4 * n * sizeof(float));
    ASSERT(hpt_train_session_bytes(b) < 64 * n * sizeof(float));
    ASSERT(hpt_train_session_bytes(a) < hpt_train_session_bytes(b));
    hpt_train_end(&a);
    hpt_train_end(&b);

    // Bad arguments are refused before anything is allocated.
    hpt_err err = {0};
    hpt_view_t empty = {0};
    ASSERT_EQ(hpt_train_begin(&a, &small, D, K, &empty, &va, &err), -EINVAL);
    ASSERT(a == NULL);
    ASSERT_EQ(hpt_train_begin(&a, &small, D, 1, &tr, &va, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "n_classes");
}

HPT_TEST_MAIN()
