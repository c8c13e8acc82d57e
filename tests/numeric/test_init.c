/*
 * test_init.c: the eight kernel initialisers on a 1000 x 500 layer.  The
 * sample mean must be about 0 and the sample variance within 3% of the Keras
 * formula (500,000 draws give a relative standard error of ~0.2%); the
 * uniform ones must stay inside their limit, the truncated normals inside
 * 2 sigma of the untruncated normal; zero must give exact zeros; biases are
 * always zero.
 */
#include <math.h>

#include "hpt_test.h"
#include "mlp.h"
#include "params.h"
#include "rng.h"

#define FAN_IN 1000
#define FAN_OUT 500
#define N_OUT 10

typedef struct {
    hpt_init_t mode;
    double var;    // Keras' variance of the kernel entries
    double bound;  // |w| <= bound (0: unbounded normal)
} init_case;

static void check_mode(const init_case *c)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = FAN_OUT;
    hp.init_mode = c->mode;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 1000 + (uint64_t)c->mode);
    hpt_mlp_t *m = NULL;
    hpt_err err = {0};
    ASSERT_OK(hpt_mlp_new(&m, &hp, FAN_IN, N_OUT, 4, &rng, &err));

    float *W, *b;
    int in, out;
    hpt_mlp_layer(m, 0, &W, &b, &in, &out);
    ASSERT_EQ(in, FAN_IN);
    ASSERT_EQ(out, FAN_OUT);
    size_t n = (size_t)in * out;
    double sum = 0, sq = 0, maxabs = 0;
    for (size_t i = 0; i < n; i++) {
        sum += W[i];
        sq += (double)W[i] * W[i];
        maxabs = fmax(maxabs, fabs(W[i]));
    }
    double mean = sum / n, var = sq / n - mean * mean;
    fprintf(stderr, "  %-15s mean %+.2e var %.4e (want %.4e) max|w| %.4g\n",
            hpt_init_name(c->mode), mean, var, c->var, maxabs);

    if (c->mode == HPT_INIT_ZERO) {
        for (size_t i = 0; i < n; i++)
            ASSERT(W[i] == 0.0f);
    } else {
        double sd = sqrt(c->var);
        ASSERT_NEAR(mean, 0.0, 0.01 * sd);  // ~7 standard errors of the mean
        ASSERT_NEAR(var / c->var, 1.0, 0.03);
        if (c->bound > 0)
            ASSERT(maxabs <= c->bound * (1 + 1e-6));
    }
    for (int j = 0; j < out; j++)
        ASSERT(b[j] == 0.0f);

    // The output layer uses the same initialiser with its own fans.
    hpt_mlp_layer(m, 1, &W, &b, &in, &out);
    ASSERT_EQ(in, FAN_OUT);
    ASSERT_EQ(out, N_OUT);
    for (int j = 0; j < out; j++)
        ASSERT(b[j] == 0.0f);
    hpt_mlp_destroy(&m);
    ASSERT(m == NULL);
}

HPT_TEST(all_modes)
{
    const double fi = FAN_IN, fo = FAN_OUT;
    const double tn = 0.87962566103423978;  // stddev of N(0,1) truncated to [-2, 2]
    const init_case cases[] = {
        {HPT_INIT_UNIFORM, 0.05 * 0.05 / 3, 0.05},
        {HPT_INIT_LECUN_UNIFORM, 1 / fi, sqrt(3 / fi)},
        {HPT_INIT_NORMAL, 0.05 * 0.05, 0},
        {HPT_INIT_ZERO, 0, 0},
        {HPT_INIT_GLOROT_NORMAL, 2 / (fi + fo), 2 * sqrt(2 / (fi + fo)) / tn},
        {HPT_INIT_GLOROT_UNIFORM, 2 / (fi + fo), sqrt(6 / (fi + fo))},
        {HPT_INIT_HE_NORMAL, 2 / fi, 2 * sqrt(2 / fi) / tn},
        {HPT_INIT_HE_UNIFORM, 2 / fi, sqrt(6 / fi)},
    };
    _Static_assert(sizeof cases / sizeof cases[0] == HPT_INIT__COUNT, "one case per mode");
    for (int k = 0; k < HPT_INIT__COUNT; k++) {
        ASSERT_EQ(cases[k].mode, k);
        check_mode(&cases[k]);
    }
}

/* The truncated normals really are truncated: their peak is higher than a
 * normal's and nothing lies beyond 2 untruncated sigmas, but mass reaches
 * close to it. */
HPT_TEST(truncation_reaches_bound)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.units[0] = FAN_OUT;
    hp.init_mode = HPT_INIT_HE_NORMAL;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 7);
    hpt_mlp_t *m = NULL;
    ASSERT_OK(hpt_mlp_new(&m, &hp, FAN_IN, N_OUT, 4, &rng, NULL));
    float *W;
    hpt_mlp_layer(m, 0, &W, NULL, NULL, NULL);
    double bound = 2 * sqrt(2.0 / FAN_IN) / 0.87962566103423978;
    double maxabs = 0;
    for (size_t i = 0; i < (size_t)FAN_IN * FAN_OUT; i++)
        maxabs = fmax(maxabs, fabs(W[i]));
    ASSERT(maxabs <= bound * (1 + 1e-6));
    ASSERT(maxabs >= bound * 0.99);
    hpt_mlp_destroy(&m);
}

/* Same seed, same weights: init is a pure function of the rng. */
HPT_TEST(deterministic)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hpt_rng_t r1, r2;
    hpt_rng_seed(&r1, 99);
    hpt_rng_seed(&r2, 99);
    hpt_mlp_t *a = NULL, *b = NULL;
    ASSERT_OK(hpt_mlp_new(&a, &hp, 20, 3, 8, &r1, NULL));
    ASSERT_OK(hpt_mlp_new(&b, &hp, 20, 3, 8, &r2, NULL));
    size_t na, nb;
    float *pa = hpt_mlp_params(a, &na), *pb = hpt_mlp_params(b, &nb);
    ASSERT_EQ(na, nb);
    ASSERT_EQ(na, 20 * 32 + 32 + 32 * 3 + 3);
    ASSERT(memcmp(pa, pb, na * sizeof *pa) == 0);
    hpt_mlp_destroy(&a);
    hpt_mlp_destroy(&b);
}

HPT_TEST(bad_shapes)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hpt_rng_t rng;
    hpt_rng_seed(&rng, 1);
    hpt_mlp_t *m = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_mlp_new(&m, &hp, 0, 10, 32, &rng, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "n_in");
    ASSERT(m == NULL);
    ASSERT_EQ(hpt_mlp_new(&m, &hp, 10, 10, 0, &rng, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "max_batch");
    hp.units[0] = 0;
    ASSERT_EQ(hpt_mlp_new(&m, &hp, 10, 10, 32, &rng, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "units[0]");
    hp = HPT_HPARAMS_DEFAULT;
    hp.dropout = 1.0;
    ASSERT_EQ(hpt_mlp_new(&m, &hp, 10, 10, 32, &rng, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "dropout");
    ASSERT(m == NULL);
    hpt_mlp_destroy(&m);  // NULL is fine
    hpt_mlp_destroy(NULL);
}

HPT_TEST_MAIN()
