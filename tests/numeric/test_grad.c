/*
 * test_grad.c: finite-difference check of hpt_mlp_backward for every hidden
 * activation, 1, 2 and 3 hidden layers, with and without dropout, with L2
 * weight decay (Keras' kernel_regularizer=l2), and of a network with softmax
 * hidden layers against a double-precision reference.
 *
 * Method: central differences on every parameter.  The loss is recomputed in
 * double from the forward's probabilities (the float mean loss would add
 * ~1e-7 of rounding noise on its own); the step actually taken is measured
 * as (float)(w + eps) - (float)(w - eps).  With dropout, the analytic
 * gradient comes from a TRAIN forward and every perturbed forward reuses its
 * masks (HPT_MLP_TRAIN_FIXED), so both sides see the same function.
 *
 * Kinks (relu and selu at 0, hard_sigmoid at +-2.5) would make a central
 * difference meaningless, so a coordinate is skipped when either perturbed
 * forward moves any hidden unit across a kink (its "region", read from the
 * activation values, changes).  Everything is seeded, so the test cannot
 * flake; it also requires that most coordinates are checked and that each
 * layer's analytic gradient is not all zero (genann's guard against a
 * backward that silently does nothing).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hpt_test.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"

#define N_IN 7
#define N_OUT 4
#define BATCH 6
#define FD_EPS 2e-3f
#define REL_TOL 1e-2
#define ABS_TOL 5e-5
#define MAX_HIDDEN 3
#define MAX_UNITS 5

static const int UNITS[MAX_HIDDEN] = {5, 4, 3};

typedef struct {
    hpt_mlp_t *m;
    const float *x;         // (BATCH, N_IN)
    const uint8_t *y;       // (BATCH)
    hpt_mlp_mode_t mode;    // EVAL or TRAIN_FIXED for the perturbed passes
    hpt_act_t act;
    float keep_scale;       // 1 / (1 - dropout) as the library computes it, or 1
    int hidden;
    double l2;              // the L2 coefficient the model was built with (0 = off)
} gcase;

/* The loss in double from a forward's probabilities: mean cross-entropy plus
 * l2 * sum(W^2) over every layer's kernel (not the biases), written out
 * again here from the model's weights. */
static double loss_of(const gcase *c)
{
    const float *p = hpt_mlp_forward(c->m, c->x, BATCH, c->mode, NULL);
    ASSERT(p != NULL);
    double s = 0;
    for (int r = 0; r < BATCH; r++)
        s -= log((double)p[r * N_OUT + c->y[r]]);
    double pen = 0;
    for (int l = 0; c->l2 > 0 && l <= c->hidden; l++) {
        float *W;
        int fi, fo;
        hpt_mlp_layer(c->m, l, &W, NULL, &fi, &fo);
        for (int i = 0; i < fi * fo; i++)
            pen += (double)W[i] * W[i];
    }
    return s / BATCH + c->l2 * pen;
}

/* Which linear piece of the activation each hidden unit of the last
 * forward is on: -1 for activations without kinks. */
static int region(const gcase *c, float a)
{
    switch (c->act) {
    case HPT_ACT_RELU:
    case HPT_ACT_SELU:
        return a > 0.0f;
    case HPT_ACT_HARD_SIGMOID:
        // a = h * mask with h in [0, 1]; h == 1 shows as a == keep_scale.
        if (a <= 0.0f)
            return 0;
        return a >= c->keep_scale * (1.0f - 1e-6f) ? 2 : 1;
    default:
        return -1;
    }
}

static void signature(const gcase *c, signed char *sig)
{
    int k = 0;
    for (int l = 0; l < c->hidden; l++) {
        const float *a = hpt_mlp_activation(c->m, l);
        for (int i = 0; i < BATCH * UNITS[l]; i++)
            sig[k++] = (signed char)region(c, a[i]);
    }
}

typedef struct {
    int checked, skipped;
    double max_rel, max_abs;
} gstats;

static void check_one(hpt_act_t act, int hidden, bool dropout, double l2, uint64_t seed,
                      gstats *st)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.weight_decay = l2;
    hp.layers = hidden;
    for (int l = 0; l < hidden; l++)
        hp.units[l] = UNITS[l];
    hp.activation = act;
    hp.init_mode = HPT_INIT_GLOROT_UNIFORM;
    hp.dropout = dropout ? 0.3 : 0.0;
    hp.input_dropout = dropout ? 0.2 : 0.0;

    hpt_rng_t rng;
    hpt_rng_seed(&rng, seed);
    gcase c = {.act = act, .hidden = hidden, .keep_scale = 1.0f, .l2 = (float)l2,
               .mode = dropout ? HPT_MLP_TRAIN_FIXED : HPT_MLP_EVAL};
    if (dropout) {
        float rate = (float)hp.dropout;
        c.keep_scale = 1.0f / (1.0f - rate);
    }
    ASSERT_OK(hpt_mlp_new(&c.m, &hp, N_IN, N_OUT, BATCH, &rng, NULL));
    // Non-zero biases, so that their gradients are exercised too.
    for (int l = 0; l <= hidden; l++) {
        float *b;
        int fo;
        hpt_mlp_layer(c.m, l, NULL, &b, NULL, &fo);
        for (int j = 0; j < fo; j++)
            b[j] = (float)(0.2 * hpt_rng_normal(&rng));
    }
    float x[BATCH * N_IN];
    uint8_t y[BATCH];
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = (float)(1.5 * hpt_rng_normal(&rng));
    for (int r = 0; r < BATCH; r++)
        y[r] = (uint8_t)hpt_rng_below(&rng, N_OUT);
    c.x = x;
    c.y = y;

    // Analytic gradient.
    hpt_mlp_forward(c.m, x, BATCH, dropout ? HPT_MLP_TRAIN : HPT_MLP_EVAL, &rng);
    float lb = hpt_mlp_backward(c.m, y);
    ASSERT_NEAR(lb, hpt_mlp_loss(c.m, y), 1e-6);
    size_t n;
    float *w = hpt_mlp_params(c.m, &n);
    const float *g = hpt_mlp_grads(c.m, NULL);
    double *ga = malloc(n * sizeof *ga);
    ASSERT(ga != NULL);
    for (size_t i = 0; i < n; i++)
        ga[i] = g[i];

    // Guard: every layer's gradient has non-zero entries.
    size_t off = 0;
    for (int l = 0; l <= hidden; l++) {
        int fi, fo;
        hpt_mlp_layer(c.m, l, NULL, NULL, &fi, &fo);
        size_t len = (size_t)fi * fo + fo, nz = 0;
        for (size_t i = off; i < off + len; i++)
            nz += ga[i] != 0.0;
        if (nz == 0)
            fprintf(stderr, "layer %d has an all-zero gradient\n", l);
        ASSERT(nz > 0);
        off += len;
    }
    ASSERT_EQ(off, n);

    double l0 = loss_of(&c);
    ASSERT_NEAR(l0, lb, 1e-5);  // the fixed-mask forward is the one we differentiated
    signed char sig0[MAX_HIDDEN * MAX_UNITS * BATCH], sig1[sizeof sig0], sig2[sizeof sig0];
    signature(&c, sig0);
    int nsig = 0;
    for (int l = 0; l < hidden; l++)
        nsig += BATCH * UNITS[l];

    int checked = 0, skipped = 0;
    for (size_t i = 0; i < n; i++) {
        float w0 = w[i];
        float wp = w0 + FD_EPS, wm = w0 - FD_EPS;
        w[i] = wp;
        double lp = loss_of(&c);
        signature(&c, sig1);
        w[i] = wm;
        double lm = loss_of(&c);
        signature(&c, sig2);
        w[i] = w0;
        if (memcmp(sig0, sig1, (size_t)nsig) != 0 || memcmp(sig0, sig2, (size_t)nsig) != 0) {
            skipped++;
            continue;
        }
        double gn = (lp - lm) / ((double)wp - (double)wm);
        double err = fabs(gn - ga[i]);
        double scale = fmax(fabs(gn), fabs(ga[i]));
        if (!(err <= REL_TOL * scale + ABS_TOL)) {
            fprintf(stderr, "%s hidden=%d dropout=%d l2=%g param %zu: analytic %.8g numeric "
                    "%.8g\n", hpt_act_name(act), hidden, dropout, l2, i, ga[i], gn);
            ASSERT(err <= REL_TOL * scale + ABS_TOL);
        }
        if (scale > 1e-3)
            st->max_rel = fmax(st->max_rel, err / scale);
        st->max_abs = fmax(st->max_abs, err);
        checked++;
    }
    // Kinks may cost a few coordinates, never most of them.
    ASSERT(checked >= (int)(0.8 * (double)n));
    st->checked += checked;
    st->skipped += skipped;
    free(ga);
    hpt_mlp_destroy(&c.m);
}

static void check_activation(hpt_act_t act)
{
    gstats st = {0};
    for (int hidden = 1; hidden <= MAX_HIDDEN; hidden++)
        for (int d = 0; d < 2; d++)
            check_one(act, hidden, d, 0.0,
                      100 * (uint64_t)act + 10 * (uint64_t)hidden + (uint64_t)d, &st);
    fprintf(stderr, "  %-12s checked %d skipped %d max rel err %.2e max abs err %.2e\n",
            hpt_act_name(act), st.checked, st.skipped, st.max_rel, st.max_abs);
}

HPT_TEST(relu) { check_activation(HPT_ACT_RELU); }
HPT_TEST(tanh) { check_activation(HPT_ACT_TANH); }
HPT_TEST(sigmoid) { check_activation(HPT_ACT_SIGMOID); }
HPT_TEST(hard_sigmoid) { check_activation(HPT_ACT_HARD_SIGMOID); }
HPT_TEST(elu) { check_activation(HPT_ACT_ELU); }
HPT_TEST(selu) { check_activation(HPT_ACT_SELU); }
HPT_TEST(softplus) { check_activation(HPT_ACT_SOFTPLUS); }
HPT_TEST(softsign) { check_activation(HPT_ACT_SOFTSIGN); }
HPT_TEST(linear) { check_activation(HPT_ACT_LINEAR); }
HPT_TEST(softmax) { check_activation(HPT_ACT_SOFTMAX); }

// --- L2 weight decay

/* The L2 term's gradient 2 lambda W against finite differences of the loss
 * with lambda * sum(W^2), for a smooth and a kinked activation, 1 to 3
 * hidden layers, with and without dropout.  lambda = 0.2 is large enough
 * that the term dominates many coordinates, so a wrong factor (lambda W
 * instead of 2 lambda W) or a penalty on the biases fails the check. */
static void check_l2(hpt_act_t act)
{
    gstats st = {0};
    for (int hidden = 1; hidden <= MAX_HIDDEN; hidden++)
        for (int d = 0; d < 2; d++)
            check_one(act, hidden, d, 0.2,
                      7000 + 100 * (uint64_t)act + 10 * (uint64_t)hidden + (uint64_t)d, &st);
    fprintf(stderr, "  l2 %-9s checked %d skipped %d max rel err %.2e max abs err %.2e\n",
            hpt_act_name(act), st.checked, st.skipped, st.max_rel, st.max_abs);
}

HPT_TEST(l2_tanh) { check_l2(HPT_ACT_TANH); }
HPT_TEST(l2_relu) { check_l2(HPT_ACT_RELU); }
HPT_TEST(l2_softmax) { check_l2(HPT_ACT_SOFTMAX); }

/* The L2 part of the gradient is exactly 2 lambda W on kernels and nothing
 * on biases: the gradient with lambda minus the gradient without, on the
 * same weights and batch.  With adamw the model adds no L2 term at all (its
 * decay is the optimizer's), so both gradients and losses agree. */
HPT_TEST(l2_term_is_kernels_only)
{
    float x[BATCH * N_IN];
    uint8_t y[BATCH];
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 31);
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = (float)hpt_rng_normal(&rng);
    for (int r = 0; r < BATCH; r++)
        y[r] = (uint8_t)hpt_rng_below(&rng, N_OUT);
    for (int adamw = 0; adamw < 2; adamw++) {
        hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
        hp.layers = 2;
        hp.units[0] = 5;
        hp.units[1] = 4;
        hp.activation = HPT_ACT_TANH;
        hp.optimizer = adamw ? HPT_OPT_ADAMW : HPT_OPT_SGD;
        hpt_mlp_t *m0 = NULL, *m1 = NULL;
        hpt_rng_t r0, r1;
        hpt_rng_seed(&r0, 5);
        hpt_rng_seed(&r1, 5);
        ASSERT_OK(hpt_mlp_new(&m0, &hp, N_IN, N_OUT, BATCH, &r0, NULL));
        hp.weight_decay = 0.1;
        ASSERT_OK(hpt_mlp_new(&m1, &hp, N_IN, N_OUT, BATCH, &r1, NULL));
        hpt_mlp_forward(m0, x, BATCH, HPT_MLP_EVAL, NULL);
        hpt_mlp_forward(m1, x, BATCH, HPT_MLP_EVAL, NULL);
        float l0 = hpt_mlp_backward(m0, y), l1 = hpt_mlp_backward(m1, y);
        size_t n;
        const float *g0 = hpt_mlp_grads(m0, &n), *g1 = hpt_mlp_grads(m1, NULL);
        const float *w = hpt_mlp_params(m1, NULL);
        double pen = 0;
        size_t off = 0;
        for (int l = 0; l < 3; l++) {
            int fi, fo;
            hpt_mlp_layer(m1, l, NULL, NULL, &fi, &fo);
            for (size_t i = off; i < off + (size_t)fi * fo; i++) {
                ASSERT_NEAR(g1[i] - g0[i], adamw ? 0.0 : 0.2 * w[i], 1e-6);
                pen += (double)w[i] * w[i];
            }
            off += (size_t)fi * fo;
            for (size_t i = off; i < off + (size_t)fo; i++)
                ASSERT(g1[i] == g0[i]);  // biases: no penalty
            off += (size_t)fo;
        }
        ASSERT_EQ(off, n);
        ASSERT_NEAR(l1 - l0, adamw ? 0.0 : 0.1 * pen, 1e-5);
        ASSERT_NEAR(hpt_mlp_loss(m1, y), l1, 1e-6);
        hpt_mlp_destroy(&m0);
        hpt_mlp_destroy(&m1);
    }
}

// --- softmax hidden layers against a double-precision reference

/* softmax over the n values of v in place, in double, max subtracted. */
static void softmax_ref(double *v, int n)
{
    double mx = v[0], s = 0;
    for (int j = 1; j < n; j++)
        mx = fmax(mx, v[j]);
    for (int j = 0; j < n; j++)
        s += v[j] = exp(v[j] - mx);
    for (int j = 0; j < n; j++)
        v[j] /= s;
}

/* The finite differences above see float forwards, hence their loose
 * tolerance.  Here the whole forward and backward of a network with two
 * softmax hidden layers is recomputed in double from the model's own float
 * weights, including the full row Jacobian
 *     dLoss/dz_i = s_i (g_i - sum_j g_j s_j),
 * and the library's float gradient must match it to REF_TOL relative to the
 * largest entry of its layer.  The first layer's biases are shifted by
 * +300, which leaves its softmax unchanged but makes a forward that does
 * not subtract the row max overflow (expf(300) = inf in float). */
#define REF_TOL 1e-4
#define REF_SHIFT 300.0f
HPT_TEST(softmax_double_reference)
{
    enum { H = 2, L = H + 1, W_MAX = N_IN };
    const int dims[L + 1] = {N_IN, UNITS[0], UNITS[1], N_OUT};
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = H;
    hp.units[0] = UNITS[0];
    hp.units[1] = UNITS[1];
    hp.activation = HPT_ACT_SOFTMAX;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 77);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, N_IN, N_OUT, BATCH, &rng, NULL));
    float *W[L], *b[L];
    for (int l = 0; l < L; l++) {
        hpt_mlp_layer(m, l, &W[l], &b[l], NULL, NULL);
        for (int j = 0; j < dims[l + 1]; j++)
            b[l][j] = (float)(0.5 * hpt_rng_normal(&rng)) + (l == 0 ? REF_SHIFT : 0.0f);
    }
    float x[BATCH * N_IN];
    uint8_t y[BATCH];
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = (float)(2.0 * hpt_rng_normal(&rng));
    for (int r = 0; r < BATCH; r++)
        y[r] = (uint8_t)hpt_rng_below(&rng, N_OUT);

    // Reference forward: act[l + 1] = softmax(act[l] @ W[l] + b[l]), row by row.
    static double act[L + 1][BATCH][W_MAX], dz[BATCH][W_MAX], dprev[BATCH][W_MAX];
    double loss = 0;
    for (int r = 0; r < BATCH; r++) {
        for (int i = 0; i < N_IN; i++)
            act[0][r][i] = x[r * N_IN + i];
        for (int l = 0; l < L; l++) {
            for (int j = 0; j < dims[l + 1]; j++) {
                double z = b[l][j];
                for (int i = 0; i < dims[l]; i++)
                    z += act[l][r][i] * W[l][i * dims[l + 1] + j];
                act[l + 1][r][j] = z;
            }
            softmax_ref(act[l + 1][r], dims[l + 1]);
        }
        loss -= log(act[L][r][y[r]]) / BATCH;
    }

    hpt_mlp_forward(m, x, BATCH, HPT_MLP_EVAL, NULL);
    float lb = hpt_mlp_backward(m, y);
    ASSERT(isfinite(lb));
    ASSERT_NEAR(lb, loss, 1e-5);
    for (int l = 0; l < H; l++) {
        const float *a = hpt_mlp_activation(m, l);
        for (int r = 0; r < BATCH; r++) {
            double sum = 0;
            for (int j = 0; j < dims[l + 1]; j++) {
                ASSERT_NEAR(a[r * dims[l + 1] + j], act[l + 1][r][j], 1e-5);
                sum += a[r * dims[l + 1] + j];
            }
            ASSERT_NEAR(sum, 1.0, 1e-6);
        }
    }

    // Reference backward, layer by layer from the output's (p - onehot) / batch.
    for (int r = 0; r < BATCH; r++)
        for (int j = 0; j < N_OUT; j++)
            dz[r][j] = (act[L][r][j] - (j == y[r])) / BATCH;
    const float *g = hpt_mlp_grads(m, NULL);
    size_t off = 0;
    for (int l = 0; l < L; l++)
        off += (size_t)dims[l] * dims[l + 1] + dims[l + 1];
    double worst = 0;
    for (int l = L - 1; l >= 0; l--) {
        const int fi = dims[l], fo = dims[l + 1];
        off -= (size_t)fi * fo + fo;
        double ref[(W_MAX + 1) * W_MAX] = {0};  // dW (fi, fo) then db (fo)
        for (int r = 0; r < BATCH; r++)
            for (int j = 0; j < fo; j++) {
                for (int i = 0; i < fi; i++)
                    ref[i * fo + j] += act[l][r][i] * dz[r][j];
                ref[fi * fo + j] += dz[r][j];
            }
        const int len = fi * fo + fo;
        double big = 0, err = 0;
        for (int k = 0; k < len; k++) {
            big = fmax(big, fabs(ref[k]));
            err = fmax(err, fabs(g[off + (size_t)k] - ref[k]));
        }
        ASSERT(big > 1e-4);  // the layer's gradient is not (nearly) all zero
        if (!(err <= REF_TOL * big))
            fprintf(stderr, "layer %d: max err %.3g, largest gradient %.3g\n", l, err, big);
        ASSERT(err <= REF_TOL * big);
        worst = fmax(worst, err / big);
        if (l == 0)
            break;
        // Through W, then the softmax row Jacobian of the layer below.
        for (int r = 0; r < BATCH; r++) {
            double dot = 0;
            for (int i = 0; i < fi; i++) {
                double gi = 0;
                for (int j = 0; j < fo; j++)
                    gi += dz[r][j] * W[l][i * fo + j];
                dprev[r][i] = gi;
                dot += gi * act[l][r][i];
            }
            for (int i = 0; i < fi; i++)
                dz[r][i] = act[l][r][i] * (dprev[r][i] - dot);
        }
    }
    fprintf(stderr, "  softmax vs double reference: max err / largest gradient %.2e\n", worst);
    hpt_mlp_destroy(&m);
}

/* A deliberately wrong gradient must fail the comparison: perturbing the
 * analytic gradient by 5% is caught, so the tolerance is not vacuous. */
HPT_TEST(tolerance_is_not_vacuous)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.units[0] = 5;
    hp.activation = HPT_ACT_TANH;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 5);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, N_IN, N_OUT, BATCH, &rng, NULL));
    float x[BATCH * N_IN];
    uint8_t y[BATCH];
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = (float)(1.5 * hpt_rng_normal(&rng));
    for (int r = 0; r < BATCH; r++)
        y[r] = (uint8_t)hpt_rng_below(&rng, N_OUT);
    gcase c = {.m = m, .x = x, .y = y, .mode = HPT_MLP_EVAL, .act = hp.activation,
               .keep_scale = 1, .hidden = 1};
    hpt_mlp_forward(m, x, BATCH, HPT_MLP_EVAL, NULL);
    hpt_mlp_backward(m, y);
    size_t n;
    float *w = hpt_mlp_params(m, &n);
    const float *g = hpt_mlp_grads(m, NULL);
    int caught = 0, big = 0;
    for (size_t i = 0; i < n; i++) {
        double wrong = 1.05 * g[i];
        float w0 = w[i], wp = w0 + FD_EPS, wm = w0 - FD_EPS;
        w[i] = wp;
        double lp = loss_of(&c);
        w[i] = wm;
        double lm = loss_of(&c);
        w[i] = w0;
        double gn = (lp - lm) / ((double)wp - (double)wm);
        double scale = fmax(fabs(gn), fabs(wrong));
        if (fabs(g[i]) > 0.01) {
            big++;
            caught += fabs(gn - wrong) > REL_TOL * scale + ABS_TOL;
        }
    }
    ASSERT(big > 5);
    ASSERT_EQ(caught, big);
    hpt_mlp_destroy(&m);
}

HPT_TEST_MAIN()
