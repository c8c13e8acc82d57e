/*
 * test_layers.c: layer semantics of the MLP.
 *   - max-norm: every hidden unit's incoming norm <= c after a large step;
 *     columns within the bound are left bit-for-bit unchanged; the softmax
 *     layer is not constrained (Keras-blog semantics, see mlp.c).
 *   - dropout: averaged over many TRAIN forwards the activation equals the
 *     EVAL one (inverted dropout preserves expectations), and the fraction
 *     of dropped units is the rate.
 *   - activations: values at a few points against hand-computed numbers,
 *     derivatives against finite differences.
 *   - softmax / loss edge cases, the flop count, and a fixed-seed training
 *     run on a separable problem with every optimizer (each must cut the
 *     loss by a large factor).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpt_test.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"

static void fill_normal(hpt_rng_t *r, float *x, size_t n, double sd)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sd * hpt_rng_normal(r));
}

static double col_norm(const float *W, int fi, int fo, int j)
{
    double s = 0;
    for (int r = 0; r < fi; r++)
        s += (double)W[(size_t)r * fo + j] * W[(size_t)r * fo + j];
    return sqrt(s);
}

// --- max-norm

HPT_TEST(max_norm_after_large_step)
{
    const double c = 0.5;
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 2;
    hp.units[0] = 16;
    hp.units[1] = 8;
    hp.optimizer = HPT_OPT_SGD;
    hp.learning_rate = 5.0;
    hp.weight_constraint = c;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 3);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, 20, 5, 16, &rng, NULL));
    float x[16 * 20];
    uint8_t y[16];
    fill_normal(&rng, x, 16 * 20, 3.0);
    for (int r = 0; r < 16; r++)
        y[r] = (uint8_t)(r % 5);
    for (int it = 0; it < 3; it++) {
        hpt_mlp_forward(m, x, 16, HPT_MLP_TRAIN, &rng);
        hpt_mlp_backward(m, y);
        hpt_mlp_step(m);
        int over = 0;
        for (int l = 0; l < 2; l++) {
            float *W;
            int fi, fo;
            hpt_mlp_layer(m, l, &W, NULL, &fi, &fo);
            for (int j = 0; j < fo; j++) {
                double nrm = col_norm(W, fi, fo, j);
                ASSERT(nrm <= c * (1 + 1e-5));
                over += nrm > c * (1 - 1e-3);  // at the bound: it was clipped
            }
        }
        ASSERT(over > 0);  // the step was large enough to need the constraint
    }
    hpt_mlp_destroy(&m);
}

HPT_TEST(max_norm_leaves_small_columns)
{
    const float c = 1.0f;
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = 6;
    hp.weight_constraint = c;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 4);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, 10, 3, 4, &rng, NULL));
    float *W, *Wo;
    int fi, fo, fio, foo;
    hpt_mlp_layer(m, 0, &W, NULL, &fi, &fo);
    hpt_mlp_layer(m, 1, &Wo, NULL, &fio, &foo);
    // Even columns get norm 0.3, odd ones norm 3; the output layer norm 5.
    for (int j = 0; j < fo; j++) {
        double nrm = col_norm(W, fi, fo, j), want = (j % 2) ? 3.0 : 0.3;
        for (int r = 0; r < fi; r++)
            W[r * fo + j] = (float)(W[r * fo + j] * want / nrm);
    }
    for (int j = 0; j < foo; j++) {
        double nrm = col_norm(Wo, fio, foo, j);
        for (int r = 0; r < fio; r++)
            Wo[r * foo + j] = (float)(Wo[r * foo + j] * 5.0 / nrm);
    }
    float *before = malloc((size_t)fi * fo * sizeof *before);
    float *out_before = malloc((size_t)fio * foo * sizeof *out_before);
    ASSERT(before && out_before);
    memcpy(before, W, (size_t)fi * fo * sizeof *W);
    memcpy(out_before, Wo, (size_t)fio * foo * sizeof *Wo);

    hpt_mlp_apply_max_norm(m);
    for (int j = 0; j < fo; j++) {
        if (j % 2 == 0) {
            for (int r = 0; r < fi; r++)
                ASSERT(W[r * fo + j] == before[r * fo + j]);  // untouched, bit for bit
        } else {
            ASSERT_NEAR(col_norm(W, fi, fo, j), c, 1e-5);
            for (int r = 0; r < fi; r++)  // same direction: scaled by c / 3
                ASSERT_NEAR(W[r * fo + j], before[r * fo + j] / 3.0, 1e-6);
        }
    }
    // The softmax layer is not constrained.
    ASSERT(memcmp(Wo, out_before, (size_t)fio * foo * sizeof *Wo) == 0);
    free(before);
    free(out_before);
    hpt_mlp_destroy(&m);
}

HPT_TEST(max_norm_off)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;  // weight_constraint 0
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 5);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, 10, 3, 4, &rng, NULL));
    float *W;
    int fi, fo;
    hpt_mlp_layer(m, 0, &W, NULL, &fi, &fo);
    for (int i = 0; i < fi * fo; i++)
        W[i] *= 100.0f;
    float *copy = malloc((size_t)fi * fo * sizeof *copy);
    ASSERT(copy != NULL);
    memcpy(copy, W, (size_t)fi * fo * sizeof *W);
    hpt_mlp_apply_max_norm(m);
    ASSERT(memcmp(W, copy, (size_t)fi * fo * sizeof *W) == 0);
    free(copy);
    hpt_mlp_destroy(&m);
}

// --- dropout

/* Linear activation makes every layer's expectation exact under both input
 * and hidden dropout: E[a_l] over masks equals the EVAL a_l. */
HPT_TEST(dropout_preserves_expectation)
{
    enum { B = 4, NI = 12, U0 = 10, U1 = 6, REPS = 4000 };
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 2;
    hp.units[0] = U0;
    hp.units[1] = U1;
    hp.activation = HPT_ACT_LINEAR;
    hp.dropout = 0.5;
    hp.input_dropout = 0.2;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 6);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, NI, 3, B, &rng, NULL));
    float x[B * NI];
    fill_normal(&rng, x, B * NI, 1.0);

    const int units[2] = {U0, U1};
    double eval[2][B * U0], sum[2][B * U0], sumsq[2][B * U0];
    memset(sum, 0, sizeof sum);
    memset(sumsq, 0, sizeof sumsq);
    hpt_mlp_forward(m, x, B, HPT_MLP_EVAL, NULL);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < B * units[l]; i++)
            eval[l][i] = hpt_mlp_activation(m, l)[i];
    for (int rep = 0; rep < REPS; rep++) {
        hpt_mlp_forward(m, x, B, HPT_MLP_TRAIN, &rng);
        for (int l = 0; l < 2; l++)
            for (int i = 0; i < B * units[l]; i++) {
                double a = hpt_mlp_activation(m, l)[i];
                sum[l][i] += a;
                sumsq[l][i] += a * a;
            }
    }
    double tot_eval = 0, tot_mean = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < B * units[l]; i++) {
            double mean = sum[l][i] / REPS;
            double sd = sqrt(fmax(sumsq[l][i] / REPS - mean * mean, 0.0));
            // Five standard errors of the mean, per unit.
            ASSERT_NEAR(mean, eval[l][i], 5.0 * sd / sqrt((double)REPS) + 1e-6);
            tot_eval += fabs(eval[l][i]);
            tot_mean += fabs(mean);
        }
    ASSERT_NEAR(tot_mean / tot_eval, 1.0, 0.02);
    hpt_mlp_destroy(&m);
}

HPT_TEST(dropout_rate_and_scale)
{
    enum { B = 32, NI = 8, U = 50, REPS = 200 };
    const double rate = 0.3;
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = U;
    hp.activation = HPT_ACT_SIGMOID;  // never exactly 0, so zeros are drops
    hp.dropout = rate;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 7);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, NI, 3, B, &rng, NULL));
    float x[B * NI];
    fill_normal(&rng, x, B * NI, 1.0);
    float eval[B * U];
    hpt_mlp_forward(m, x, B, HPT_MLP_EVAL, NULL);
    memcpy(eval, hpt_mlp_activation(m, 0), sizeof eval);
    long zeros = 0, total = 0;
    for (int rep = 0; rep < REPS; rep++) {
        hpt_mlp_forward(m, x, B, HPT_MLP_TRAIN, &rng);
        const float *a = hpt_mlp_activation(m, 0);
        for (int i = 0; i < B * U; i++) {
            if (a[i] == 0.0f)
                zeros++;
            else  // kept units are scaled by 1 / (1 - rate)
                ASSERT_NEAR(a[i], eval[i] / (1.0 - rate), 1e-6);
            total++;
        }
    }
    // 320,000 draws: the standard error of the fraction is 0.0008.
    ASSERT_NEAR((double)zeros / total, rate, 0.005);

    // TRAIN_FIXED reuses the masks exactly; EVAL applies none.
    float first[B * U];
    hpt_mlp_forward(m, x, B, HPT_MLP_TRAIN, &rng);
    memcpy(first, hpt_mlp_activation(m, 0), sizeof first);
    hpt_mlp_forward(m, x, B, HPT_MLP_TRAIN_FIXED, NULL);
    ASSERT(memcmp(first, hpt_mlp_activation(m, 0), sizeof first) == 0);
    hpt_mlp_forward(m, x, B, HPT_MLP_EVAL, NULL);
    ASSERT(memcmp(eval, hpt_mlp_activation(m, 0), sizeof eval) == 0);
    hpt_mlp_destroy(&m);
}

// --- activations

HPT_TEST(activation_values)
{
    static const struct {
        hpt_act_t act;
        float z;
        double want;
    } pts[] = {
        {HPT_ACT_RELU, -1.0f, 0.0},
        {HPT_ACT_RELU, 2.5f, 2.5},
        {HPT_ACT_TANH, 0.5f, 0.46211715726000974},
        {HPT_ACT_SIGMOID, 0.0f, 0.5},
        {HPT_ACT_SIGMOID, 2.0f, 0.8807970779778823},
        {HPT_ACT_HARD_SIGMOID, 0.0f, 0.5},
        {HPT_ACT_HARD_SIGMOID, 1.0f, 0.7},
        {HPT_ACT_HARD_SIGMOID, -1.0f, 0.3},
        {HPT_ACT_HARD_SIGMOID, 3.0f, 1.0},
        {HPT_ACT_HARD_SIGMOID, -3.0f, 0.0},
        {HPT_ACT_ELU, 2.0f, 2.0},
        {HPT_ACT_ELU, -1.0f, -0.6321205588285577},   // e^-1 - 1
        {HPT_ACT_SELU, 1.0f, 1.0507009873554805},    // scale
        {HPT_ACT_SELU, -1.0f, -1.1113307378125628},  // scale * alpha * (e^-1 - 1)
        {HPT_ACT_SELU, 0.0f, 0.0},
        {HPT_ACT_SOFTPLUS, 0.0f, 0.6931471805599453},  // ln 2
        {HPT_ACT_SOFTPLUS, 2.0f, 2.1269280110429727},  // ln(1 + e^2)
        {HPT_ACT_SOFTPLUS, 100.0f, 100.0},             // no overflow
        {HPT_ACT_SOFTPLUS, -20.0f, 2.0611536181902037e-09},  // ~e^-20, no underflow to 0
        {HPT_ACT_SOFTSIGN, 3.0f, 0.75},
        {HPT_ACT_SOFTSIGN, -1.0f, -0.5},
        {HPT_ACT_LINEAR, -7.25f, -7.25},
        {HPT_ACT_SOFTMAX, -7.25f, 1.0},  // a one-unit layer; test_grad covers real rows
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double got = hpt_act_apply(pts[i].act, pts[i].z);
        if (!(fabs(got - pts[i].want) <= 2e-7 * fabs(pts[i].want) + 1e-7 * (pts[i].want != 0)))
            fprintf(stderr, "%s(%g)\n", hpt_act_name(pts[i].act), pts[i].z);
        ASSERT_NEAR(got, pts[i].want, 2e-7 * fabs(pts[i].want) + 1e-7 * (pts[i].want != 0));
    }
    ASSERT(hpt_act_apply(HPT_ACT_SOFTPLUS, -20.0f) > 0.0f);
}

HPT_TEST(activation_derivatives)
{
    // Points away from the kinks at 0 and +-2.5.
    static const float zs[] = {-4.0f, -2.2f, -1.3f, -0.4f, 0.3f, 0.9f, 2.2f, 4.0f};
    const double h = 1e-3;
    for (int act = 0; act < HPT_ACT__COUNT; act++) {
        for (size_t k = 0; k < sizeof zs / sizeof zs[0]; k++) {
            float z = zs[k], a = hpt_act_apply((hpt_act_t)act, z);
            double num = ((double)hpt_act_apply((hpt_act_t)act, (float)(z + h)) -
                          (double)hpt_act_apply((hpt_act_t)act, (float)(z - h))) /
                         (2 * h);
            double ana = hpt_act_derivative((hpt_act_t)act, z, a);
            if (!(fabs(num - ana) <= 1e-3 * fabs(ana) + 2e-4))
                fprintf(stderr, "%s'(%g)\n", hpt_act_name((hpt_act_t)act), z);
            ASSERT_NEAR(num, ana, 1e-3 * fabs(ana) + 2e-4);
        }
    }
    // Kink conventions (TF's): relu'(0) = 0, hard_sigmoid' = 0 outside (-2.5, 2.5).
    ASSERT(hpt_act_derivative(HPT_ACT_RELU, 0.0f, 0.0f) == 0.0f);
    ASSERT(hpt_act_derivative(HPT_ACT_HARD_SIGMOID, 3.0f, 1.0f) == 0.0f);
    ASSERT(hpt_act_derivative(HPT_ACT_HARD_SIGMOID, 1.0f, 0.7f) == 0.2f);
}

// --- softmax, loss, shapes

HPT_TEST(softmax_stable_and_loss_clipped)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = 4;
    hp.init_mode = HPT_INIT_ZERO;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 8);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, 3, 3, 2, &rng, NULL));
    float *b;
    hpt_mlp_layer(m, 1, NULL, &b, NULL, NULL);
    b[0] = 1000.0f;  // logits (1000, 0, -1000): naive exp would overflow
    b[2] = -1000.0f;
    float x[2 * 3] = {0};
    const float *p = hpt_mlp_forward(m, x, 2, HPT_MLP_EVAL, NULL);
    ASSERT(p != NULL);
    for (int r = 0; r < 2; r++) {
        ASSERT(p[r * 3] == 1.0f);
        ASSERT(p[r * 3 + 1] == 0.0f);
        ASSERT(p[r * 3 + 2] == 0.0f);
    }
    uint8_t y[2] = {1, 0};
    // -log(clip(0)) = -log(1e-7); -log(clip(1)) = -log(1 - 1e-7).
    double want = (-log(1e-7) - log(1 - 1e-7)) / 2;
    ASSERT_NEAR(hpt_mlp_loss(m, y), want, 1e-5);
    ASSERT_NEAR(hpt_mlp_backward(m, y), want, 1e-5);
    ASSERT(isfinite(hpt_mlp_grads(m, NULL)[0]));

    // Out-of-range batches are refused.
    ASSERT(hpt_mlp_forward(m, x, 3, HPT_MLP_EVAL, NULL) == NULL);
    ASSERT(hpt_mlp_forward(m, x, 0, HPT_MLP_EVAL, NULL) == NULL);
    hpt_mlp_destroy(&m);
}

HPT_TEST(shapes_and_flops)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 2;
    hp.units[0] = 32;
    hp.units[1] = 16;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 9);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, 784, 10, 32, &rng, NULL));
    ASSERT_EQ(hpt_mlp_n_layers(m), 3);
    size_t n;
    float *p = hpt_mlp_params(m, &n);
    ASSERT_EQ(n, 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
    // The flat layout is W0 b0 W1 b1 W2 b2.
    float *W, *b;
    int fi, fo;
    hpt_mlp_layer(m, 1, &W, &b, &fi, &fo);
    ASSERT(W == p + 784 * 32 + 32);
    ASSERT(b == W + 32 * 16);
    ASSERT_EQ(fi, 32);
    ASSERT_EQ(fo, 16);
    double mac = 784.0 * 32 + 32.0 * 16 + 16.0 * 10;
    double want = 2 * mac + 2 * mac + 2 * (32.0 * 16 + 16.0 * 10);
    ASSERT_NEAR(hpt_mlp_flops_per_sample(m), want, 0);
    ASSERT(hpt_mlp_activation(m, 0) == NULL);  // no forward yet
    hpt_mlp_destroy(&m);
}

// --- every optimizer learns

/* Three Gaussian blobs in 6-D, well separated. */
enum { NS = 120, NI = 6, NC = 3, BS = 20 };

static void make_blobs(float *x, uint8_t *y)
{
    hpt_rng_t r;
    hpt_rng_seed(&r, 2024);
    for (int i = 0; i < NS; i++) {
        y[i] = (uint8_t)(i % NC);
        for (int k = 0; k < NI; k++)
            x[i * NI + k] = (float)(0.5 * hpt_rng_normal(&r) + (k % NC == y[i] ? 2.0 : 0.0));
    }
}

static double full_loss(hpt_mlp_t *m, const float *x, const uint8_t *y)
{
    double s = 0;
    for (int i = 0; i < NS; i += BS) {
        hpt_mlp_forward(m, x + i * NI, BS, HPT_MLP_EVAL, NULL);
        s += hpt_mlp_loss(m, y + i) * BS;
    }
    return s / NS;
}

HPT_TEST(every_optimizer_learns)
{
    static const struct {
        hpt_opt_t opt;
        double lr, mom;
    } cfg[] = {
        {HPT_OPT_SGD, 0.1, 0.0},     {HPT_OPT_NESTEROV, 0.05, 0.9}, {HPT_OPT_RMSPROP, 0.01, 0},
        {HPT_OPT_ADAGRAD, 0.1, 0},   {HPT_OPT_ADADELTA, 1.0, 0},    {HPT_OPT_ADAM, 0.01, 0},
        {HPT_OPT_ADAMAX, 0.02, 0},   {HPT_OPT_NADAM, 0.01, 0},      {HPT_OPT_ADAMW, 0.01, 0},
    };
    _Static_assert(sizeof cfg / sizeof cfg[0] == HPT_OPT__COUNT, "one per optimizer");
    float x[NS * NI];
    uint8_t y[NS];
    make_blobs(x, y);
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
        hp.units[0] = 16;
        hp.optimizer = cfg[k].opt;
        hp.learning_rate = cfg[k].lr;
        hp.momentum = cfg[k].mom;
        hp.weight_decay = cfg[k].opt == HPT_OPT_ADAMW ? 0.004 : 0.0;  // tf.keras AdamW's default
        hpt_rng_t rng;
        hpt_rng_seed(&rng, 77);
        hpt_mlp_t *m = NULL;
        ASSERT_OK(hpt_mlp_new(&m, &hp, NI, NC, BS, &rng, NULL));
        double l0 = full_loss(m, x, y);
        for (int epoch = 0; epoch < 100; epoch++)
            for (int i = 0; i < NS; i += BS) {
                hpt_mlp_forward(m, x + i * NI, BS, HPT_MLP_TRAIN, &rng);
                hpt_mlp_backward(m, y + i);
                hpt_mlp_step(m);
            }
        double l1 = full_loss(m, x, y);
        fprintf(stderr, "  %-9s loss %.4f -> %.5f (x%.0f)\n", hpt_opt_name(cfg[k].opt), l0, l1,
                l0 / l1);
        ASSERT(l1 < l0 / 10);
        hpt_mlp_destroy(&m);
    }
}

HPT_TEST_MAIN()
