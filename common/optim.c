/*
 * optim.c: the nine optimizers of optim.h over one flat float vector.
 *
 * Invariants:
 *   - All per-parameter state lives in one arena (`arena`, 0..2 slots of n
 *     floats), allocated in hpt_optim_new; hpt_optim_step allocates nothing.
 *   - The element-wise updates are written as plain loops over restrict
 *     pointers with every scalar hoisted out, so gcc -O3 vectorises them.
 *     Per-step scalars that depend on t (bias corrections, Nadam's momentum
 *     schedule) are computed in double and rounded to float once per step:
 *     beta2^t is 0.999^t, and computing 1 - 0.999^t in float loses most of
 *     its digits in the first steps.
 *   - Constants are Keras' (optimizer_v2) defaults: beta1 0.9, beta2 0.999,
 *     eps 1e-7, rmsprop rho 0.9, adadelta rho 0.95, adagrad initial
 *     accumulator 0.1.
 *
 * One deliberate difference from TensorFlow: with momentum > 0, TF's fused
 * RMSProp kernel divides by sqrt(a + eps) rather than sqrt(a) + eps.  We use
 * sqrt(a) + eps in both cases, as optim.h specifies; the two differ only when
 * a is around eps or smaller.
 */
#include "optim.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* The update kernels are compiled twice, for AVX2 and for baseline x86-64,
 * and the loader picks one (GCC function multi-versioning, an ifunc): twice
 * the vector width without -march=native, so binaries stay portable.  The
 * updates are element-wise and the project builds with -std=c11, which
 * keeps -ffp-contract=off, so both versions give bit-identical results. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define HOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define HOT_CLONES
#endif

#define BETA1 0.9
#define BETA2 0.999
#define EPS 1e-7f
#define RMSPROP_RHO 0.9f
#define ADADELTA_RHO 0.95f
#define ADAGRAD_INIT 0.1f
#define NADAM_DECAY 0.004  // Keras' schedule_decay
#define NADAM_BASE 0.96    // momentum schedule base

struct hpt_optim {
    hpt_opt_t kind;
    size_t n;           // parameters
    long t;             // steps taken
    float lr;           // learning rate
    float momentum;     // sgd / rmsprop momentum, [0, 1)
    float decay;        // adamw: lr * weight_decay, the fraction each weight loses per step
    bool nesterov;      // sgd only
    double m_schedule;  // nadam: product of the momentum caches so far (starts at 1)
    float *s1;          // (n) first slot: velocity / accumulator / m; NULL when unused
    float *s2;          // (n) second slot: rmsprop velocity / adadelta u / v; NULL when unused
    float *arena;       // owns s1 and s2
};

// --- lifecycle

/* Slots each optimizer needs (momentum-less sgd and rmsprop need fewer). */
static int slots_for(hpt_opt_t kind, double momentum)
{
    switch (kind) {
    case HPT_OPT_SGD:
    case HPT_OPT_NESTEROV:
        return momentum > 0 ? 1 : 0;
    case HPT_OPT_RMSPROP:
        return momentum > 0 ? 2 : 1;
    case HPT_OPT_ADAGRAD:
        return 1;
    default:
        return 2;
    }
}

int hpt_optim_new(hpt_optim_t **out, const hpt_hparams_t *hp, size_t n)
{
    int rc = 0;
    hpt_optim_t *o = NULL;

    if (!out || !hp || (int)hp->optimizer < 0 || hp->optimizer >= HPT_OPT__COUNT) {
        rc = -EINVAL;
        goto out;
    }
    o = calloc(1, sizeof *o);
    if (!o) {
        rc = -ENOMEM;
        goto out;
    }
    o->kind = hp->optimizer;
    o->n = n;
    o->lr = (float)hpt_hparams_lr(hp);
    o->momentum = hp->momentum > 0 ? (float)hp->momentum : 0.0f;
    o->nesterov = hp->nesterov || hp->optimizer == HPT_OPT_NESTEROV;
    o->m_schedule = 1.0;
    /* Keras computes variable * wd * lr in float; the product is formed once
     * here (in double, then rounded), which differs from it by at most one
     * rounding of a number that is itself ~1e-6 of w. */
    if (o->kind == HPT_OPT_ADAMW)
        o->decay = (float)(hpt_hparams_lr(hp) * hp->weight_decay);

    int slots = slots_for(o->kind, o->momentum);
    if (slots > 0 && n > 0) {
        if (n > SIZE_MAX / sizeof(float) / (size_t)slots) {
            rc = -ENOMEM;
            goto out;
        }
        o->arena = calloc(n * (size_t)slots, sizeof(float));
        if (!o->arena) {
            rc = -ENOMEM;
            goto out;
        }
        o->s1 = o->arena;
        o->s2 = slots > 1 ? o->arena + n : NULL;
    }
    if (o->kind == HPT_OPT_ADAGRAD)
        for (size_t i = 0; i < n; i++)
            o->s1[i] = ADAGRAD_INIT;

out:
    if (rc < 0) {
        hpt_optim_destroy(&o);
    } else {
        *out = o;
    }
    return rc;
}

void hpt_optim_destroy(hpt_optim_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->arena);
    free(*p);
    *p = NULL;
}

long hpt_optim_steps(const hpt_optim_t *o)
{
    return o->t;
}

// --- element-wise kernels (one pass each, vectorisable)

HOT_CLONES
static void step_sgd(size_t n, float *restrict w, const float *restrict g, float *restrict v,
                     float lr, float mom, bool nesterov)
{
    if (!v) {  // momentum 0: plain gradient descent (nesterov degenerates to it too)
        for (size_t i = 0; i < n; i++)
            w[i] -= lr * g[i];
    } else if (nesterov) {
        for (size_t i = 0; i < n; i++) {
            float vi = mom * v[i] - lr * g[i];
            v[i] = vi;
            w[i] += mom * vi - lr * g[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float vi = mom * v[i] - lr * g[i];
            v[i] = vi;
            w[i] += vi;
        }
    }
}

HOT_CLONES
static void step_rmsprop(size_t n, float *restrict w, const float *restrict g,
                         float *restrict a, float *restrict mv, float lr, float mom)
{
    const float rho = RMSPROP_RHO, one_rho = 1.0f - RMSPROP_RHO;
    if (!mv) {
        for (size_t i = 0; i < n; i++) {
            float ai = rho * a[i] + one_rho * g[i] * g[i];
            a[i] = ai;
            w[i] -= lr * g[i] / (sqrtf(ai) + EPS);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float ai = rho * a[i] + one_rho * g[i] * g[i];
            a[i] = ai;
            float mi = mom * mv[i] + lr * g[i] / (sqrtf(ai) + EPS);
            mv[i] = mi;
            w[i] -= mi;
        }
    }
}

HOT_CLONES
static void step_adagrad(size_t n, float *restrict w, const float *restrict g, float *restrict a,
                         float lr)
{
    for (size_t i = 0; i < n; i++) {
        float ai = a[i] + g[i] * g[i];
        a[i] = ai;
        w[i] -= lr * g[i] / (sqrtf(ai) + EPS);
    }
}

HOT_CLONES
static void step_adadelta(size_t n, float *restrict w, const float *restrict g,
                          float *restrict a, float *restrict u, float lr)
{
    const float rho = ADADELTA_RHO, one_rho = 1.0f - ADADELTA_RHO;
    for (size_t i = 0; i < n; i++) {
        float ai = rho * a[i] + one_rho * g[i] * g[i];
        a[i] = ai;
        float d = sqrtf(u[i] + EPS) / sqrtf(ai + EPS) * g[i];
        u[i] = rho * u[i] + one_rho * d * d;
        w[i] -= lr * d;
    }
}

/* lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t), computed by the caller. */
HOT_CLONES
static void step_adam(size_t n, float *restrict w, const float *restrict g, float *restrict m,
                      float *restrict v, float lr_t)
{
    const float b1 = (float)BETA1, b2 = (float)BETA2;
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + c1 * g[i];
        float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr_t * mi / (sqrtf(vi) + EPS);
    }
}

/* adam with decoupled weight decay: w is first scaled down by `decay` (= lr
 * * weight_decay; tf.keras' variable.assign_sub(variable * wd * lr)), then
 * takes adam's step.  m and v never see the decay, which is the point of
 * decoupling (an L2 gradient would be divided by sqrt(v) like the rest). */
HOT_CLONES
static void step_adamw(size_t n, float *restrict w, const float *restrict g, float *restrict m,
                       float *restrict v, float lr_t, float decay)
{
    const float b1 = (float)BETA1, b2 = (float)BETA2;
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + c1 * g[i];
        float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float wi = w[i] - w[i] * decay;
        w[i] = wi - lr_t * mi / (sqrtf(vi) + EPS);
    }
}

/* lr_t = lr / (1 - b1^t). */
HOT_CLONES
static void step_adamax(size_t n, float *restrict w, const float *restrict g, float *restrict m,
                        float *restrict u, float lr_t)
{
    const float b1 = (float)BETA1, b2 = (float)BETA2, c1 = 1.0f - b1;
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + c1 * g[i];
        // A compare-select rather than fmaxf: gcc turns it into maxps,
        // while fmaxf's NaN rules keep it a libm call per element.
        float du = b2 * u[i], ag = fabsf(g[i]);
        float ui = du > ag ? du : ag;
        m[i] = mi;
        u[i] = ui;
        w[i] -= lr_t * mi / (ui + EPS);
    }
}

/* Keras' Nadam with the per-step factors folded in by the caller:
 *   m_bar = cg * g + cm * m   with cg = (1 - mc_t) / (1 - m_schedule_new)
 *                                  cm = mc_t1 / (1 - m_schedule_next)
 *   w -= lr * m_bar / (sqrt(v * vc) + eps)   with vc = 1 / (1 - b2^t). */
HOT_CLONES
static void step_nadam(size_t n, float *restrict w, const float *restrict g, float *restrict m,
                       float *restrict v, float lr, float cg, float cm, float vc)
{
    const float b1 = (float)BETA1, b2 = (float)BETA2;
    const float c1 = 1.0f - b1, c2 = 1.0f - b2;
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + c1 * g[i];
        float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        float mbar = cg * g[i] + cm * mi;
        w[i] -= lr * mbar / (sqrtf(vi * vc) + EPS);
    }
}

// --- dispatch

void hpt_optim_step(hpt_optim_t *o, float *w, const float *g)
{
    o->t++;
    const double t = (double)o->t;
    const size_t n = o->n;

    switch (o->kind) {
    case HPT_OPT_SGD:
    case HPT_OPT_NESTEROV:
        step_sgd(n, w, g, o->s1, o->lr, o->momentum, o->nesterov);
        break;
    case HPT_OPT_RMSPROP:
        step_rmsprop(n, w, g, o->s1, o->s2, o->lr, o->momentum);
        break;
    case HPT_OPT_ADAGRAD:
        step_adagrad(n, w, g, o->s1, o->lr);
        break;
    case HPT_OPT_ADADELTA:
        step_adadelta(n, w, g, o->s1, o->s2, o->lr);
        break;
    case HPT_OPT_ADAM: {
        double lr_t = o->lr * sqrt(1.0 - pow(BETA2, t)) / (1.0 - pow(BETA1, t));
        step_adam(n, w, g, o->s1, o->s2, (float)lr_t);
        break;
    }
    case HPT_OPT_ADAMW: {
        double lr_t = o->lr * sqrt(1.0 - pow(BETA2, t)) / (1.0 - pow(BETA1, t));
        step_adamw(n, w, g, o->s1, o->s2, (float)lr_t, o->decay);
        break;
    }
    case HPT_OPT_ADAMAX: {
        double lr_t = o->lr / (1.0 - pow(BETA1, t));
        step_adamax(n, w, g, o->s1, o->s2, (float)lr_t);
        break;
    }
    case HPT_OPT_NADAM: {
        // The momentum cache of this step and of the next one (Dozat's schedule).
        double mc_t = BETA1 * (1.0 - 0.5 * pow(NADAM_BASE, NADAM_DECAY * t));
        double mc_t1 = BETA1 * (1.0 - 0.5 * pow(NADAM_BASE, NADAM_DECAY * (t + 1.0)));
        double sched_new = o->m_schedule * mc_t;
        double sched_next = sched_new * mc_t1;
        o->m_schedule = sched_new;
        double cg = (1.0 - mc_t) / (1.0 - sched_new);
        double cm = mc_t1 / (1.0 - sched_next);
        double vc = 1.0 / (1.0 - pow(BETA2, t));
        step_nadam(n, w, g, o->s1, o->s2, o->lr, (float)cg, (float)cm, (float)vc);
        break;
    }
    default:
        break;
    }
}
