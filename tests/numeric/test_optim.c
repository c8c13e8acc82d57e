/*
 * test_optim.c: the first three steps of each optimizer on w = [1, -2] with
 * fixed gradients, against the update rules written out again here in
 * double precision (straight from the Keras formulas, deliberately not
 * sharing code or structure with optim.c).  A few first steps are also
 * checked against numbers worked out on paper.
 */
#include <math.h>
#include <stdbool.h>

#include "hpt_test.h"
#include "optim.h"
#include "params.h"

#define N 2
#define STEPS 3

static const double W0[N] = {1.0, -2.0};
static const double G[STEPS][N] = {{0.5, -1.0}, {0.25, 2.0}, {-0.5, 0.1}};

/* Run the optimizer for STEPS steps and compare with want[t][i]. */
static void run_and_compare(const hpt_hparams_t *hp, double want[STEPS][N], const char *what)
{
    hpt_optim_t *o = NULL;
    ASSERT_OK(hpt_optim_new(&o, hp, N));
    ASSERT_EQ(hpt_optim_steps(o), 0);
    float w[N] = {(float)W0[0], (float)W0[1]};
    for (int t = 0; t < STEPS; t++) {
        float g[N] = {(float)G[t][0], (float)G[t][1]};
        hpt_optim_step(o, w, g);
        ASSERT_EQ(hpt_optim_steps(o), t + 1);
        for (int i = 0; i < N; i++) {
            double tol = 2e-6 * fabs(want[t][i]) + 1e-6;
            if (!(fabs(w[i] - want[t][i]) <= tol))
                fprintf(stderr, "%s: step %d, w[%d]\n", what, t + 1, i);
            ASSERT_NEAR(w[i], want[t][i], tol);
        }
    }
    hpt_optim_destroy(&o);
    ASSERT(o == NULL);
}

static hpt_hparams_t hp_for(hpt_opt_t opt, double lr, double mom, bool nesterov)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.optimizer = opt;
    hp.learning_rate = lr;
    hp.momentum = mom;
    hp.nesterov = nesterov;
    return hp;
}

// --- sgd

HPT_TEST(sgd_plain)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++)
            want[t][i] = w[i] = w[i] - 0.1 * G[t][i];
    // By hand: 1 - 0.1*0.5 = 0.95; -2 - 0.1*(-1) = -1.9.
    ASSERT_NEAR(want[0][0], 0.95, 1e-15);
    ASSERT_NEAR(want[0][1], -1.9, 1e-15);
    hpt_hparams_t hp = hp_for(HPT_OPT_SGD, 0.1, 0.0, false);
    run_and_compare(&hp, want, "sgd");
}

HPT_TEST(sgd_default_lr)
{
    // learning_rate < 0 means Keras' default, 0.01 for sgd.
    double want[STEPS][N], w[N] = {W0[0], W0[1]};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++)
            want[t][i] = w[i] = w[i] - 0.01 * G[t][i];
    hpt_hparams_t hp = hp_for(HPT_OPT_SGD, -1.0, 0.0, false);
    run_and_compare(&hp, want, "sgd default lr");
}

HPT_TEST(sgd_momentum)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, v[N] = {0, 0};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            v[i] = 0.9 * v[i] - 0.1 * G[t][i];
            want[t][i] = w[i] = w[i] + v[i];
        }
    // By hand, step 2 of w[0]: v1 = -0.05, v2 = -0.045 - 0.025 = -0.07, w2 = 0.95 - 0.07.
    ASSERT_NEAR(want[1][0], 0.88, 1e-15);
    hpt_hparams_t hp = hp_for(HPT_OPT_SGD, 0.1, 0.9, false);
    run_and_compare(&hp, want, "sgd momentum");
}

static void nesterov_want(double want[STEPS][N])
{
    double w[N] = {W0[0], W0[1]}, v[N] = {0, 0};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            v[i] = 0.9 * v[i] - 0.1 * G[t][i];
            want[t][i] = w[i] = w[i] + 0.9 * v[i] - 0.1 * G[t][i];
        }
}

HPT_TEST(sgd_nesterov_flag)
{
    double want[STEPS][N];
    nesterov_want(want);
    // By hand: v1 = -0.05, w1 = 1 + 0.9*(-0.05) - 0.05 = 0.905.
    ASSERT_NEAR(want[0][0], 0.905, 1e-15);
    hpt_hparams_t hp = hp_for(HPT_OPT_SGD, 0.1, 0.9, true);
    run_and_compare(&hp, want, "sgd nesterov=true");
}

HPT_TEST(nesterov_optimizer)
{
    double want[STEPS][N];
    nesterov_want(want);
    hpt_hparams_t hp = hp_for(HPT_OPT_NESTEROV, 0.1, 0.9, false);
    run_and_compare(&hp, want, "nesterov");
}

// --- rmsprop

HPT_TEST(rmsprop)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, a[N] = {0, 0};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            a[i] = 0.9 * a[i] + 0.1 * G[t][i] * G[t][i];
            want[t][i] = w[i] = w[i] - 0.01 * G[t][i] / (sqrt(a[i]) + 1e-7);
        }
    // By hand: a1 = 0.1*0.25 = 0.025, w1 = 1 - 0.01*0.5/0.158114 = 0.968377.
    ASSERT_NEAR(want[0][0], 0.9683772, 1e-6);
    hpt_hparams_t hp = hp_for(HPT_OPT_RMSPROP, 0.01, 0.0, false);
    run_and_compare(&hp, want, "rmsprop");
}

HPT_TEST(rmsprop_momentum)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, a[N] = {0, 0}, mv[N] = {0, 0};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            a[i] = 0.9 * a[i] + 0.1 * G[t][i] * G[t][i];
            mv[i] = 0.5 * mv[i] + 0.01 * G[t][i] / (sqrt(a[i]) + 1e-7);
            want[t][i] = w[i] = w[i] - mv[i];
        }
    hpt_hparams_t hp = hp_for(HPT_OPT_RMSPROP, 0.01, 0.5, false);
    run_and_compare(&hp, want, "rmsprop momentum");
}

// --- adagrad, adadelta

HPT_TEST(adagrad)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, a[N] = {0.1, 0.1};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            a[i] += G[t][i] * G[t][i];
            want[t][i] = w[i] = w[i] - 0.1 * G[t][i] / (sqrt(a[i]) + 1e-7);
        }
    // By hand: a1 = 0.1 + 0.25 = 0.35, w1 = 1 - 0.05/sqrt(0.35) = 0.9154846.
    ASSERT_NEAR(want[0][0], 0.9154846, 1e-6);
    hpt_hparams_t hp = hp_for(HPT_OPT_ADAGRAD, 0.1, 0.0, false);
    run_and_compare(&hp, want, "adagrad");
}

HPT_TEST(adadelta)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, a[N] = {0, 0}, u[N] = {0, 0};
    for (int t = 0; t < STEPS; t++)
        for (int i = 0; i < N; i++) {
            a[i] = 0.95 * a[i] + 0.05 * G[t][i] * G[t][i];
            double d = sqrt(u[i] + 1e-7) / sqrt(a[i] + 1e-7) * G[t][i];
            u[i] = 0.95 * u[i] + 0.05 * d * d;
            want[t][i] = w[i] = w[i] - 1.0 * d;
        }
    // By hand: a1 = 0.0125, d1 = sqrt(1e-7)/sqrt(0.0125001)*0.5 = 1.41421e-3.
    ASSERT_NEAR(want[0][0], 1.0 - 1.4142079e-3, 1e-9);
    hpt_hparams_t hp = hp_for(HPT_OPT_ADADELTA, 1.0, 0.0, false);
    run_and_compare(&hp, want, "adadelta");
}

// --- adam family

HPT_TEST(adam)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, m[N] = {0, 0}, v[N] = {0, 0};
    for (int t = 0; t < STEPS; t++) {
        double k = t + 1;
        double lr_t = 0.1 * sqrt(1 - pow(0.999, k)) / (1 - pow(0.9, k));
        for (int i = 0; i < N; i++) {
            m[i] = 0.9 * m[i] + 0.1 * G[t][i];
            v[i] = 0.999 * v[i] + 0.001 * G[t][i] * G[t][i];
            want[t][i] = w[i] = w[i] - lr_t * m[i] / (sqrt(v[i]) + 1e-7);
        }
    }
    // By hand: the first Adam step is lr * sign(g) up to eps: 1 - 0.1 = 0.9.
    ASSERT_NEAR(want[0][0], 0.9, 1e-5);
    ASSERT_NEAR(want[0][1], -1.9, 1e-5);
    hpt_hparams_t hp = hp_for(HPT_OPT_ADAM, 0.1, 0.0, false);
    run_and_compare(&hp, want, "adam");
}

HPT_TEST(adamax)
{
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, m[N] = {0, 0}, u[N] = {0, 0};
    for (int t = 0; t < STEPS; t++) {
        double k = t + 1;
        for (int i = 0; i < N; i++) {
            m[i] = 0.9 * m[i] + 0.1 * G[t][i];
            u[i] = fmax(0.999 * u[i], fabs(G[t][i]));
            want[t][i] = w[i] = w[i] - 0.1 / (1 - pow(0.9, k)) * m[i] / (u[i] + 1e-7);
        }
    }
    // By hand: m1 = 0.05, u1 = 0.5, w1 = 1 - 0.1/0.1*0.05/0.5 = 0.9.
    ASSERT_NEAR(want[0][0], 0.9, 1e-6);
    hpt_hparams_t hp = hp_for(HPT_OPT_ADAMAX, 0.1, 0.0, false);
    run_and_compare(&hp, want, "adamax");
}

HPT_TEST(nadam)
{
    // tf.keras (optimizer_v2) Nadam, written out step by step.
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, m[N] = {0, 0}, v[N] = {0, 0};
    double m_schedule = 1.0;
    for (int t = 0; t < STEPS; t++) {
        double k = t + 1;
        double mc_t = 0.9 * (1 - 0.5 * pow(0.96, 0.004 * k));
        double mc_t1 = 0.9 * (1 - 0.5 * pow(0.96, 0.004 * (k + 1)));
        double m_schedule_new = m_schedule * mc_t;
        double m_schedule_next = m_schedule * mc_t * mc_t1;
        m_schedule = m_schedule_new;
        for (int i = 0; i < N; i++) {
            double g = G[t][i];
            double g_prime = g / (1 - m_schedule_new);
            m[i] = 0.9 * m[i] + 0.1 * g;
            double m_prime = m[i] / (1 - m_schedule_next);
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            double v_prime = v[i] / (1 - pow(0.999, k));
            double m_bar = (1 - mc_t) * g_prime + mc_t1 * m_prime;
            want[t][i] = w[i] = w[i] - 0.1 * m_bar / (sqrt(v_prime) + 1e-7);
        }
    }
    // By hand, step 1 of w[0]: mc1 = 0.9*(1-0.5*0.96^0.004) = 0.4500735,
    // mc2 = 0.4501469; g' = 0.5/(1-0.4500735) = 0.909212; m1 = 0.05,
    // m' = 0.05/(1-0.4500735*0.4501469) = 0.0627037; v' = 0.25;
    // m_bar = 0.5499265*0.909212 + 0.4501469*0.0627037 = 0.528226;
    // w1 = 1 - 0.1*0.528226/0.5 = 0.894355.
    ASSERT_NEAR(want[0][0], 0.894355, 2e-6);
    hpt_hparams_t hp = hp_for(HPT_OPT_NADAM, 0.1, 0.0, false);
    run_and_compare(&hp, want, "nadam");
}

/* tf.keras AdamW: variable.assign_sub(variable * wd * lr) before the adam
 * step (optimizer.py's _apply_weight_decay), with Keras' adam constants. */
HPT_TEST(adamw)
{
    const double lr = 0.1, wd = 0.05;
    double want[STEPS][N], w[N] = {W0[0], W0[1]}, m[N] = {0, 0}, v[N] = {0, 0};
    for (int t = 0; t < STEPS; t++) {
        double k = t + 1;
        double lr_t = lr * sqrt(1 - pow(0.999, k)) / (1 - pow(0.9, k));
        for (int i = 0; i < N; i++) {
            w[i] -= w[i] * wd * lr;
            m[i] = 0.9 * m[i] + 0.1 * G[t][i];
            v[i] = 0.999 * v[i] + 0.001 * G[t][i] * G[t][i];
            want[t][i] = w[i] = w[i] - lr_t * m[i] / (sqrt(v[i]) + 1e-7);
        }
    }
    // By hand: the decay takes 1 * 0.05 * 0.1 = 0.005 off, adam's first step
    // 0.1: 1 - 0.005 - 0.1 = 0.895.
    ASSERT_NEAR(want[0][0], 0.895, 1e-5);
    hpt_hparams_t hp = hp_for(HPT_OPT_ADAMW, lr, 0.0, false);
    hp.weight_decay = wd;
    run_and_compare(&hp, want, "adamw");
}

/* With weight_decay 0, adamw is adam, bit for bit; with zero gradients it
 * only decays: w_t = w_0 (1 - lr wd)^t. */
HPT_TEST(adamw_limits)
{
    hpt_hparams_t ha = hp_for(HPT_OPT_ADAM, 0.01, 0.0, false);
    hpt_hparams_t hw = hp_for(HPT_OPT_ADAMW, 0.01, 0.0, false);
    hpt_optim_t *oa = NULL, *ow = NULL;
    ASSERT_OK(hpt_optim_new(&oa, &ha, N));
    ASSERT_OK(hpt_optim_new(&ow, &hw, N));
    float wa[N] = {1.0f, -2.0f}, ww[N] = {1.0f, -2.0f};
    for (int t = 0; t < STEPS; t++) {
        float g[N] = {(float)G[t][0], (float)G[t][1]};
        hpt_optim_step(oa, wa, g);
        hpt_optim_step(ow, ww, g);
        ASSERT(wa[0] == ww[0] && wa[1] == ww[1]);
    }
    hpt_optim_destroy(&oa);
    hpt_optim_destroy(&ow);

    hw.weight_decay = 0.5;
    ASSERT_OK(hpt_optim_new(&ow, &hw, N));
    float w[N] = {1.0f, -2.0f}, z[N] = {0, 0};
    for (int t = 0; t < 10; t++)
        hpt_optim_step(ow, w, z);
    ASSERT_NEAR(w[0], pow(1 - 0.01 * 0.5, 10), 1e-6);
    ASSERT_NEAR(w[1], -2 * pow(1 - 0.01 * 0.5, 10), 2e-6);
    hpt_optim_destroy(&ow);
}

// --- contract

HPT_TEST(bad_args)
{
    hpt_optim_t *o = NULL;
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.optimizer = HPT_OPT__COUNT;
    ASSERT_EQ(hpt_optim_new(&o, &hp, 4), -EINVAL);
    ASSERT(o == NULL);
    ASSERT_EQ(hpt_optim_new(&o, NULL, 4), -EINVAL);
    hpt_optim_destroy(&o);  // NULL is fine
    hpt_optim_destroy(NULL);
}

HPT_TEST(zero_gradient_is_fixed_point)
{
    // Every optimizer leaves w unchanged when all gradients are zero (with
    // weight_decay 0, its default; adamw_limits covers the decay).
    for (int k = 0; k < HPT_OPT__COUNT; k++) {
        hpt_hparams_t hp = hp_for((hpt_opt_t)k, 0.1, 0.9, false);
        hpt_optim_t *o = NULL;
        ASSERT_OK(hpt_optim_new(&o, &hp, N));
        float w[N] = {1.0f, -2.0f}, g[N] = {0, 0};
        for (int t = 0; t < 5; t++)
            hpt_optim_step(o, w, g);
        ASSERT(w[0] == 1.0f);
        ASSERT(w[1] == -2.0f);
        hpt_optim_destroy(&o);
    }
}

HPT_TEST_MAIN()
