/*
 * test_fuse.c: horizontal fusion of the first layer (common/blas.c's
 * hpt_blas_fused_*, common/mlp.c's hpt_mlp_*_group).
 *
 * The contract under test is bit-for-bit equality: a member of a fused
 * product or group gets exactly the floats it gets alone, whatever the
 * other members are, so every comparison here is memcmp, never a
 * tolerance.  Each test also checks that fusion really happened (the
 * kernels ran, the group fused), so none passes by falling back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "hpt_test.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"
#include "train.h"

static void fill(float *p, size_t n, hpt_rng_t *r)
{
    for (size_t i = 0; i < n; i++)
        p[i] = hpt_rng_uniform_f(r) * 2.0f - 1.0f;
}

/* Fused forward and weight-gradient products of `n` members of widths N
 * against hpt_blas_sgemm on each member alone, for shapes (M, K). */
static void check_kernels(const int *N, int n, int M, int K, bool beta1)
{
    hpt_rng_t r;
    hpt_rng_seed(&r, (uint64_t)(M * 1000 + K + n));
    float *A = malloc(sizeof(float) * (size_t)M * K);   // fwd (M, K); wgrad A^T: stored (K', M')
    fill(A, (size_t)M * K, &r);
    hpt_blas_member_t fm[8], wm[8];
    float *B[8], *C1[8], *C2[8], *D[8], *G1[8], *G2[8];
    for (int j = 0; j < n; j++) {
        size_t nb = (size_t)K * N[j], nc = (size_t)M * N[j];
        B[j] = malloc(sizeof(float) * nb), C1[j] = malloc(sizeof(float) * nc);
        C2[j] = malloc(sizeof(float) * nc);
        fill(B[j], nb, &r);
        fill(C1[j], nc, &r);
        memcpy(C2[j], C1[j], sizeof(float) * nc);
        fm[j] = (hpt_blas_member_t){.B = B[j], .C = C2[j], .N = N[j]};
        // wgrad: dW (K, N) = A^T (K, M) @ D (M, N), with A stored (M, K).
        D[j] = malloc(sizeof(float) * nc), G1[j] = malloc(sizeof(float) * nb);
        G2[j] = malloc(sizeof(float) * nb);
        fill(D[j], nc, &r);
        memset(G2[j], 0xff, sizeof(float) * nb);  // NaN garbage: beta 0 must not read it
        wm[j] = (hpt_blas_member_t){.B = D[j], .C = G2[j], .N = N[j]};
    }
    for (int j = 0; j < n; j++) {
        ASSERT_EQ(hpt_blas_narrow_kind(false, false, M, N[j], K, 1.0f, beta1 ? 1.0f : 0.0f), 1);
        hpt_blas_sgemm(false, false, M, N[j], K, 1.0f, A, B[j], beta1 ? 1.0f : 0.0f, C1[j]);
        if (M >= 16) {
            ASSERT_EQ(hpt_blas_narrow_kind(true, false, K, N[j], M, 1.0f, 0.0f), 2);
            hpt_blas_sgemm(true, false, K, N[j], M, 1.0f, A, D[j], 0.0f, G1[j]);
        }
    }
    ASSERT_OK(hpt_blas_fused_fwd(M, K, A, fm, n, beta1));
    if (M >= 16)
        ASSERT_OK(hpt_blas_fused_wgrad(K, M, A, wm, n));
    else
        ASSERT_EQ(hpt_blas_fused_wgrad(K, M, A, wm, n), -EINVAL);  // the lone kernel says no
    for (int j = 0; j < n; j++) {
        if (memcmp(C1[j], C2[j], sizeof(float) * (size_t)M * N[j]) != 0)
            HPT_TEST_FAIL("fwd member %d (N %d) of %d differs at M %d K %d beta1 %d", j, N[j], n,
                          M, K, beta1);
        if (M >= 16 && memcmp(G1[j], G2[j], sizeof(float) * (size_t)K * N[j]) != 0)
            HPT_TEST_FAIL("wgrad member %d (N %d) of %d differs at M %d K %d", j, N[j], n, M, K);
        free(B[j]), free(C1[j]), free(C2[j]), free(D[j]), free(G1[j]), free(G2[j]);
    }
    free(A);
}

HPT_TEST(fused_products_match_lone_products)
{
    if (!hpt_blas_fused_ok(1, 32, 8, 784))
        HPT_TEST_SKIP("no AVX2/FMA: no narrow kernels to fuse");
    // Member mixes that make tiles cross members, leave remainders of every
    // width, and include the published grid's 8 + 16 + 32.
    static const int mixes[][6] = {
        {1, 8}, {3, 8, 16, 32}, {4, 32, 32, 32, 8}, {2, 24, 8}, {5, 16, 16, 16, 16, 16},
        {3, 8, 8, 8}, {2, 24, 24},
    };
    static const int Ms[] = {1, 5, 13, 16, 17, 32, 33, 64, 100};
    static const int Ks[] = {784, 20};
    for (int wide = 0; wide < 2; wide++) {
        hpt_blas_set_avx512(wide);
        for (size_t a = 0; a < sizeof mixes / sizeof mixes[0]; a++)
            for (size_t b = 0; b < sizeof Ms / sizeof Ms[0]; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof Ks[0]; c++) {
                    check_kernels(&mixes[a][1], mixes[a][0], Ms[b], Ks[c], true);
                    check_kernels(&mixes[a][1], mixes[a][0], Ms[b], Ks[c], false);
                }
    }
    hpt_blas_set_avx512(true);
}

HPT_TEST(fused_products_refuse_other_shapes)
{
    float A[32 * 784] = {0}, B[784 * 10] = {0}, C[32 * 10];
    memset(C, 0x5a, sizeof C);
    hpt_blas_member_t m[2] = {{.B = B, .C = C, .N = 10}, {.B = B, .C = C, .N = 8}};
    ASSERT_EQ(hpt_blas_fused_fwd(32, 784, A, m, 2, false), -EINVAL);  // N 10: not narrow
    ASSERT_EQ(hpt_blas_fused_wgrad(784, 32, A, m, 2), -EINVAL);
    for (size_t i = 0; i < sizeof C; i++)
        ASSERT_EQ(((unsigned char *)C)[i], 0x5a);  // nothing touched
    ASSERT_EQ(hpt_blas_fused_fwd(32, 784, A, m + 1, 0, false), -EINVAL);
    ASSERT(!hpt_blas_fused_ok(1, 32, 8, 15));  // K below the narrow kernels' 16
}

// --- groups of models ------------------------------------------------------

#define NF 100  // features
#define NC 10   // classes
#define NG 7    // models in the group

/* Seven models that differ in everything a group may mix: widths fused and
 * not (10 units, two layers), optimizers, dropout, input dropout (not
 * fused: its input is its own), L2 and max-norm. */
static hpt_hparams_t member_hp(int i)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.init_mode = HPT_INIT_GLOROT_UNIFORM;
    switch (i) {
    case 0: hp.units[0] = 8; break;
    case 1: hp.units[0] = 16, hp.optimizer = HPT_OPT_SGD, hp.momentum = 0.9, hp.nesterov = true,
            hp.dropout = 0.2; break;
    case 2: hp.units[0] = 32, hp.optimizer = HPT_OPT_RMSPROP, hp.weight_decay = 1e-3,
            hp.weight_constraint = 2.0; break;
    case 3: hp.units[0] = 10; break;
    case 4: hp.units[0] = 24, hp.input_dropout = 0.1; break;
    case 5: hp.layers = 2, hp.units[0] = 16, hp.units[1] = 8, hp.activation = HPT_ACT_TANH; break;
    default: hp.units[0] = 32, hp.optimizer = HPT_OPT_ADAMW, hp.weight_decay = 1e-2; break;
    }
    return hp;
}

HPT_TEST(group_training_matches_lone_training)
{
    if (!hpt_blas_fused_ok(1, 32, 8, NF))
        HPT_TEST_SKIP("no AVX2/FMA: no narrow kernels to fuse");
    enum { MAXB = 40, STEPS = 9 };
    hpt_rng_t dr;
    hpt_rng_seed(&dr, 99);
    float *x = malloc(sizeof(float) * MAXB * NF);
    uint8_t y[MAXB];
    hpt_mlp_t *lone[NG], *grp[NG];
    hpt_rng_t lr[NG], gr[NG], *grp_rng[NG];
    for (int i = 0; i < NG; i++) {
        hpt_hparams_t hp = member_hp(i);
        hpt_rng_seed(&lr[i], 10 + (uint64_t)i);
        hpt_rng_seed(&gr[i], 10 + (uint64_t)i);
        grp_rng[i] = &gr[i];
        ASSERT_OK(hpt_mlp_new(&lone[i], &hp, NF, NC, MAXB, &lr[i], NULL));
        ASSERT_OK(hpt_mlp_new(&grp[i], &hp, NF, NC, MAXB, &gr[i], NULL));
    }
    // Full batches, a batch below the weight-gradient kernel's 16 rows (the
    // group then does that product member by member) and odd sizes.
    static const int batches[STEPS] = {32, 32, 7, 40, 17, 32, 1, 33, 32};
    int fused_fwd = 0, fused_bwd = 0;
    for (int s = 0; s < STEPS; s++) {
        int b = batches[s];
        fill(x, (size_t)b * NF, &dr);
        for (int r = 0; r < b; r++)
            y[r] = (uint8_t)hpt_rng_below(&dr, NC);
        float lone_loss[NG], grp_loss[NG];
        for (int i = 0; i < NG; i++) {
            ASSERT(hpt_mlp_forward(lone[i], x, b, HPT_MLP_TRAIN, &lr[i]) != NULL);
            lone_loss[i] = hpt_mlp_backward(lone[i], y);
            hpt_mlp_step(lone[i]);
        }
        int nf = hpt_mlp_forward_group(grp, NG, x, b, HPT_MLP_TRAIN, grp_rng);
        ASSERT(nf >= 0);
        fused_fwd += nf;
        nf = hpt_mlp_backward_group(grp, NG, y, grp_loss);
        ASSERT(nf >= 0);
        fused_bwd += nf;
        for (int i = 0; i < NG; i++) {
            hpt_mlp_step(grp[i]);
            if (memcmp(&lone_loss[i], &grp_loss[i], sizeof(float)) != 0)
                HPT_TEST_FAIL("step %d member %d: loss %.9g alone, %.9g in the group", s, i,
                              lone_loss[i], grp_loss[i]);
            size_t na, nb;
            const float *pa = hpt_mlp_params(lone[i], &na), *pb = hpt_mlp_params(grp[i], &nb);
            ASSERT_EQ(na, nb);
            if (memcmp(pa, pb, na * sizeof *pa) != 0)
                HPT_TEST_FAIL("step %d member %d: weights differ from training alone", s, i);
        }
    }
    // Members 0, 1, 2, 5 and 6 fuse (8, 16, 32, 16 and 32 units; 3 has 10
    // units, 4 input dropout): 5 per step in the forward, and in the
    // backward on the steps of at least 16 rows.
    ASSERT_EQ(fused_fwd, 5 * STEPS);
    ASSERT_EQ(fused_bwd, 5 * (STEPS - 2));
    // Scoring (EVAL) through the group: the same probabilities as alone.
    fill(x, 32 * NF, &dr);
    ASSERT(hpt_mlp_forward_group(grp, NG, x, 32, HPT_MLP_EVAL, NULL) == 6);  // 4 joins in EVAL
    for (int i = 0; i < NG; i++) {
        const float *pg = hpt_mlp_activation(grp[i], hpt_mlp_n_layers(grp[i]) - 1);
        float keep[32 * NC];
        memcpy(keep, pg, sizeof keep);
        const float *pl = hpt_mlp_forward(grp[i], x, 32, HPT_MLP_EVAL, NULL);
        ASSERT(memcmp(keep, pl, sizeof keep) == 0);
    }
    for (int i = 0; i < NG; i++) {
        hpt_mlp_destroy(&lone[i]);
        hpt_mlp_destroy(&grp[i]);
    }
    free(x);
}

HPT_TEST(group_rejects_bad_calls)
{
    hpt_hparams_t hp = member_hp(0);
    hpt_rng_t r;
    hpt_rng_seed(&r, 1);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, NF, NC, 8, &r, NULL));
    float x[16 * NF] = {0};
    hpt_mlp_t *ms[1] = {m};
    ASSERT_EQ(hpt_mlp_forward_group(ms, 1, x, 9, HPT_MLP_EVAL, NULL), -EINVAL);  // > max_batch
    ASSERT_EQ(hpt_mlp_forward_group(ms, 0, x, 4, HPT_MLP_EVAL, NULL), -EINVAL);
    ASSERT_EQ(hpt_mlp_forward_group(ms, HPT_MLP_GROUP_MAX + 1, x, 4, HPT_MLP_EVAL, NULL),
              -EINVAL);
    ASSERT_EQ(hpt_mlp_forward_group(ms, 1, x, 4, HPT_MLP_EVAL, NULL), 0);  // alone: not fused
    hpt_mlp_destroy(&m);
}

// --- group sessions --------------------------------------------------------

#define GN 6         // members
#define GD 100       // features
#define GTRAIN 600
#define GVAL 200

typedef struct rec {
    int n;
    hpt_epoch_report_t rep[16];
    int stop_at;             // return 1 from the callback at this epoch (0: never)
    int flag_at;             // set *flag at this epoch (0: never)
    atomic_bool *flag;
} rec_t;

static int record(const hpt_epoch_report_t *rep, void *ud)
{
    rec_t *r = ud;
    if (r->n < 16)
        r->rep[r->n++] = *rep;
    if (r->flag && rep->epoch == r->flag_at)
        atomic_store(r->flag, true);
    return rep->epoch == r->stop_at;
}

static hpt_hparams_t session_hp(int i)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.batch_size = 32;
    hp.seed = 5;
    static const int units[GN] = {8, 16, 32, 10, 24, 16};
    hp.units[0] = units[i];
    if (i == 1)
        hp.dropout = 0.3;
    if (i == 2)
        hp.learning_rate = 0.01, hp.optimizer = HPT_OPT_SGD;
    if (i == 4)
        hp.input_dropout = 0.2;
    if (i == 5)
        hp.activation = HPT_ACT_TANH;
    return hp;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void same_result(const hpt_train_result_t *a, const hpt_train_result_t *b, int i)
{
    if (a->epochs_run != b->epochs_run || a->stopped_early != b->stopped_early ||
        a->diverged != b->diverged || !same_double(a->train_loss, b->train_loss) ||
        !same_double(a->val_score, b->val_score) || !same_double(a->val.log_loss, b->val.log_loss) ||
        !same_double(a->val.f1_macro, b->val.f1_macro) ||
        !same_double(a->train_score, b->train_score))
        HPT_TEST_FAIL("member %d: alone epochs %d stop %d loss %.9g val %.9g train %.9g; in the "
                      "group epochs %d stop %d loss %.9g val %.9g train %.9g", i, a->epochs_run,
                      a->stopped_early, a->train_loss, a->val_score, a->train_score,
                      b->epochs_run, b->stopped_early, b->train_loss, b->val_score,
                      b->train_score);
}

static void same_reports(const rec_t *a, const rec_t *b, int i)
{
    ASSERT_EQ(a->n, b->n);
    for (int e = 0; e < a->n; e++) {
        const hpt_epoch_report_t *x = &a->rep[e], *y = &b->rep[e];
        if (x->epoch != y->epoch || x->epochs != y->epochs ||
            !same_double(x->train_loss, y->train_loss) || !same_double(x->val_score, y->val_score))
            HPT_TEST_FAIL("member %d report %d differs", i, e);
    }
}

HPT_TEST(group_sessions_match_lone_sessions)
{
    hpt_rng_t dr;
    hpt_rng_seed(&dr, 17);
    uint8_t *img = malloc((GTRAIN + GVAL) * GD), lab[GTRAIN + GVAL];
    uint32_t tr_idx[GTRAIN], va_idx[GVAL], tr_idx2[GTRAIN];
    for (int i = 0; i < (GTRAIN + GVAL) * GD; i++)
        img[i] = (uint8_t)hpt_rng_below(&dr, 256);
    for (int i = 0; i < GTRAIN + GVAL; i++) {
        lab[i] = (uint8_t)hpt_rng_below(&dr, 10);
        // Make the label learnable: a pixel block tells it.
        for (int j = 0; j < 8; j++)
            img[i * GD + lab[i] * 8 + j] = 250;
    }
    for (int i = 0; i < GTRAIN; i++)
        tr_idx[i] = tr_idx2[i] = (uint32_t)(GTRAIN + GVAL - 1 - i);  // a fold's index array
    for (int i = 0; i < GVAL; i++)
        va_idx[i] = (uint32_t)i;
    hpt_view_t tr = {.images = img, .labels = lab, .idx = tr_idx, .n = GTRAIN};
    hpt_view_t tr2 = {.images = img, .labels = lab, .idx = tr_idx2, .n = GTRAIN};
    hpt_view_t va = {.images = img, .labels = lab, .idx = va_idx, .n = GVAL};
    hpt_train_opts_t opts = {.score_each_epoch = true, .score_train = true};

    // Targets and exits: member 1 stops from its callback after epoch 2,
    // member 2 is halted mid-epoch 3 by its stop flag (set after epoch 2),
    // the others end at different epochs.
    static const int to[GN] = {3, 5, 5, 2, 4, 5};
    hpt_train_session_t *lone[GN], *grp[GN];
    hpt_train_result_t lres[GN], gres[GN];
    rec_t lrec[GN] = {0}, grec[GN] = {0};
    atomic_bool lstop[GN], gstop[GN];
    hpt_train_member_t mem[GN];
    for (int i = 0; i < GN; i++) {
        hpt_hparams_t hp = session_hp(i);
        ASSERT_OK(hpt_train_begin(&lone[i], &hp, GD, 10, &tr, &va, NULL));
        // Member 0 keeps the first index array, the others use an equal copy.
        ASSERT_OK(hpt_train_begin(&grp[i], &hp, GD, 10, i ? &tr2 : &tr, &va, NULL));
        atomic_init(&lstop[i], false);
        atomic_init(&gstop[i], false);
        lrec[i].stop_at = grec[i].stop_at = i == 1 ? 2 : 0;
        if (i == 2) {
            lrec[i].flag_at = grec[i].flag_at = 2;
            lrec[i].flag = &lstop[i];
            grec[i].flag = &gstop[i];
        }
        hpt_train_opts_t lo = opts;
        lo.stop = &lstop[i];
        int rc = hpt_train_continue(lone[i], to[i], &lo, record, &lrec[i], &lres[i], NULL);
        ASSERT_OK(rc);
        mem[i] = (hpt_train_member_t){.s = grp[i], .to_epoch = to[i], .stop = &gstop[i],
                                      .cb = record, .ud = &grec[i], .out = &gres[i]};
    }
    ASSERT_OK(hpt_train_group_continue(mem, GN, &opts, NULL));
    for (int i = 0; i < GN; i++) {
        ASSERT_OK(mem[i].rc);
        same_result(&lres[i], &gres[i], i);
        same_reports(&lrec[i], &grec[i], i);
        ASSERT_EQ(hpt_train_session_usable(lone[i]), hpt_train_session_usable(grp[i]));
        size_t na, nb;
        const float *pa = hpt_mlp_params(hpt_train_session_model(lone[i]), &na);
        const float *pb = hpt_mlp_params(hpt_train_session_model(grp[i]), &nb);
        ASSERT_EQ(na, nb);
        if (memcmp(pa, pb, na * sizeof *pa) != 0)
            HPT_TEST_FAIL("member %d: weights differ from training alone", i);
    }
    ASSERT_EQ(gres[1].epochs_run, 2);
    ASSERT(gres[1].stopped_early);
    ASSERT_EQ(gres[2].epochs_run, 2);
    ASSERT(!hpt_train_session_usable(grp[2]));
    ASSERT_EQ(gres[4].epochs_run, 4);

    // Continuing: members at the same epoch group again (0 and 4 are not:
    // 3 against 4 epochs) and stay bit-for-bit the lone continuations.
    ASSERT(!hpt_train_session_same_stream(grp[0], grp[4]));
    hpt_train_member_t bad[2] = {{.s = grp[0], .to_epoch = 6, .out = &gres[0]},
                                 {.s = grp[4], .to_epoch = 6, .out = &gres[4]}};
    hpt_err err = {0};
    ASSERT_EQ(hpt_train_group_continue(bad, 2, &opts, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "member 1");
    ASSERT_EQ(hpt_train_session_epochs(grp[0]), 3);  // nothing trained
    int pair[2] = {3, 1};  // both at epoch 2; 1 stopped between epochs, so usable
    for (int k = 0; k < 2; k++) {
        int i = pair[k];
        lrec[i] = grec[i] = (rec_t){0};
        ASSERT_OK(hpt_train_continue(lone[i], 4, &opts, record, &lrec[i], &lres[i], NULL));
        mem[k] = (hpt_train_member_t){.s = grp[i], .to_epoch = 4, .cb = record,
                                      .ud = &grec[i], .out = &gres[i]};
    }
    ASSERT_OK(hpt_train_group_continue(mem, 2, &opts, NULL));
    for (int k = 0; k < 2; k++) {
        int i = pair[k];
        ASSERT_OK(mem[k].rc);
        same_result(&lres[i], &gres[i], i);
        same_reports(&lrec[i], &grec[i], i);
        size_t na;
        const float *pa = hpt_mlp_params(hpt_train_session_model(lone[i]), &na);
        const float *pb = hpt_mlp_params(hpt_train_session_model(grp[i]), NULL);
        ASSERT(memcmp(pa, pb, na * sizeof *pa) == 0);
    }
    // A member that cannot continue gets its own error; the group goes on.
    hpt_err e2 = {0};
    mem[0] = (hpt_train_member_t){.s = grp[2], .to_epoch = 5, .out = &gres[2], .err = &e2};
    mem[1] = (hpt_train_member_t){.s = grp[3], .to_epoch = 5, .out = &gres[3]};
    ASSERT_OK(hpt_train_group_continue(mem, 2, &opts, NULL));
    ASSERT_EQ(mem[0].rc, -EINVAL);
    ASSERT_STR_CONTAINS(e2.msg, "stopped mid-epoch");
    ASSERT_OK(mem[1].rc);
    ASSERT_EQ(gres[3].epochs_run, 5);

    // Another seed or batch size is another stream.
    hpt_hparams_t hp = session_hp(0);
    hpt_train_session_t *other = NULL;
    hp.seed = 6;
    ASSERT_OK(hpt_train_begin(&other, &hp, GD, 10, &tr, &va, NULL));
    ASSERT(!hpt_train_session_same_stream(grp[5], other));
    hpt_train_end(&other);
    hp = session_hp(5);
    ASSERT_OK(hpt_train_begin(&other, &hp, GD, 10, &tr, &va, NULL));
    hpt_train_session_t *other2 = NULL;
    hp.batch_size = 64;
    ASSERT_OK(hpt_train_begin(&other2, &hp, GD, 10, &tr, &va, NULL));
    ASSERT(!hpt_train_session_same_stream(other, other2));
    hp = session_hp(0);  // another width, the same stream
    hpt_train_session_t *other3 = NULL;
    ASSERT_OK(hpt_train_begin(&other3, &hp, GD, 10, &tr, &va, NULL));
    ASSERT(hpt_train_session_same_stream(other, other3));
    hpt_train_end(&other);
    hpt_train_end(&other2);
    hpt_train_end(&other3);

    for (int i = 0; i < GN; i++) {
        hpt_train_end(&lone[i]);
        hpt_train_end(&grp[i]);
    }
    free(img);
}

HPT_TEST_MAIN()
