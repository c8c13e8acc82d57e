/*
 * test_objective.c: the --dry-run test objectives of worker/wrk_trainer.c,
 * which search-strategy tests rely on.
 *   - bowl: the formula at hand-picked points; its optimum (lr 10^-2.5,
 *     dropout 0.2, units 128, batch 64) beats every other point of a grid and
 *     every one-step move; it rises with epochs; it stays in (0, 1) at the
 *     extremes; its noise depends only on the split (the same offset for every
 *     configuration, within +-0.002, different across folds and cv seeds).
 *   - noisy: mean learning_rate, standard deviation dropout, independent
 *     between configurations, deterministic per task, clamped.
 *   - wrk_dry_run: "" and "hash" give the hash score, "bowl" the bowl, an
 *     unknown name fails the task with its error; epochs = hparams.epochs.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "hpt_test.h"
#include "params.h"
#include "proto_io.h"
#include "wrk_trainer.h"

static wrk_task_spec_t spec_at(double lr, double dropout, int units, int batch, int epochs)
{
    wrk_task_spec_t s = {.task = 1, .attempt = 1, .fold = 1, .folds = 5, .cv_seed = 42};
    s.hp = HPT_HPARAMS_DEFAULT;
    s.hp.learning_rate = lr;
    s.hp.dropout = dropout;
    s.hp.units[0] = units;
    s.hp.batch_size = batch;
    s.hp.epochs = epochs;
    return s;
}

static double formula(double lr, double dropout, int units, int batch, int epochs)
{
    double a = (log10(lr) + 2.5) / 1.5, b = (dropout - 0.2) / 0.5;
    double c = (log2(units) - 7) / 3, d = (log2(batch) - 6) / 3;
    return 0.98 * exp(-(a * a + b * b + c * c + d * d)) * (1 - pow(0.5, epochs / 3.0));
}

static const double OPT_LR = 0.0031622776601683794;  // 10^-2.5

HPT_TEST(bowl_formula_and_noise)
{
    static const struct {
        double lr, dropout;
        int units, batch, epochs;
    } pts[] = {
        {OPT_LR, 0.2, 128, 64, 3}, {0.01, 0.0, 32, 32, 10}, {1e-4, 0.5, 1024, 8, 1},
        {0.1, 0.7, 8, 512, 50},    {0.001, 0.3, 256, 128, 27},
    };
    wrk_task_spec_t s0 = spec_at(OPT_LR, 0.2, 128, 64, 3);
    double noise = wrk_dry_run_bowl(&s0) - formula(OPT_LR, 0.2, 128, 64, 3);
    ASSERT(fabs(noise) <= 0.002);
    ASSERT_NEAR(wrk_dry_run_bowl(&s0), 0.49 + noise, 1e-12);  // 0.98 * (1 - 1/2)
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        wrk_task_spec_t s = spec_at(pts[i].lr, pts[i].dropout, pts[i].units, pts[i].batch,
                                    pts[i].epochs);
        double want = formula(pts[i].lr, pts[i].dropout, pts[i].units, pts[i].batch,
                              pts[i].epochs) + noise;
        double got = wrk_dry_run_bowl(&s);
        if (want > 1e-6)  // else clamped
            ASSERT_NEAR(got, want, 1e-12);
        ASSERT(got > 0 && got < 1);
    }
    // The noise belongs to the split: another fold, repeat, cv seed or a
    // refit moves it, within its bound; the configuration does not.
    double seen[8];
    int n = 0;
    for (int f = 0; f < 5; f++) {
        wrk_task_spec_t s = s0;
        s.fold = (uint32_t)f;
        seen[n++] = wrk_dry_run_bowl(&s) - 0.49;
    }
    wrk_task_spec_t s = s0;
    s.cv_seed = 43;
    seen[n++] = wrk_dry_run_bowl(&s) - 0.49;
    s = s0;
    s.repeat = 1;
    seen[n++] = wrk_dry_run_bowl(&s) - 0.49;
    s = s0;
    s.refit = true;
    seen[n++] = wrk_dry_run_bowl(&s) - 0.49;
    for (int i = 0; i < n; i++) {
        ASSERT(fabs(seen[i]) <= 0.002 + 1e-12);
        for (int j = 0; j < i; j++)
            ASSERT(seen[i] != seen[j]);
    }
}

HPT_TEST(bowl_optimum)
{
    static const double lrs[] = {1e-4, 3e-4, 1e-3, OPT_LR, 0.01, 0.03, 0.1, 0.3};
    static const double drops[] = {0.0, 0.1, 0.2, 0.3, 0.5, 0.7};
    static const int units[] = {8, 16, 32, 64, 128, 256, 512, 1024};
    static const int batches[] = {8, 16, 32, 64, 128, 256, 512};
    for (int e = 1; e <= 81; e *= 3) {
        wrk_task_spec_t best_s = spec_at(OPT_LR, 0.2, 128, 64, e);
        double best = wrk_dry_run_bowl(&best_s);
        int better = 0, points = 0;
        for (size_t a = 0; a < sizeof lrs / sizeof lrs[0]; a++)
            for (size_t b = 0; b < sizeof drops / sizeof drops[0]; b++)
                for (size_t c = 0; c < sizeof units / sizeof units[0]; c++)
                    for (size_t d = 0; d < sizeof batches / sizeof batches[0]; d++) {
                        wrk_task_spec_t s = spec_at(lrs[a], drops[b], units[c], batches[d], e);
                        double v = wrk_dry_run_bowl(&s);
                        points++;
                        bool at_opt = lrs[a] == OPT_LR && drops[b] == 0.2 && units[c] == 128 &&
                                      batches[d] == 64;
                        if (!at_opt && v >= best)
                            better++;
                    }
        ASSERT_EQ(better, 0);
        ASSERT(points > 2000);
    }
    // Every single step away from the optimum costs score.
    wrk_task_spec_t o = spec_at(OPT_LR, 0.2, 128, 64, 9);
    double vo = wrk_dry_run_bowl(&o);
    wrk_task_spec_t moves[] = {
        spec_at(OPT_LR * 1.1, 0.2, 128, 64, 9), spec_at(OPT_LR / 1.1, 0.2, 128, 64, 9),
        spec_at(OPT_LR, 0.25, 128, 64, 9),      spec_at(OPT_LR, 0.15, 128, 64, 9),
        spec_at(OPT_LR, 0.2, 160, 64, 9),       spec_at(OPT_LR, 0.2, 100, 64, 9),
        spec_at(OPT_LR, 0.2, 128, 80, 9),       spec_at(OPT_LR, 0.2, 128, 50, 9),
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++)
        ASSERT(wrk_dry_run_bowl(&moves[i]) < vo);
}

HPT_TEST(bowl_rises_with_epochs)
{
    static const struct {
        double lr, dropout;
        int units, batch;
    } cfgs[] = {{OPT_LR, 0.2, 128, 64}, {0.01, 0.0, 32, 32}, {1e-3, 0.5, 1024, 256},
                {0.05, 0.4, 16, 16}};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        double prev = 0;
        for (int e = 1; e <= 100; e++) {  // 1 - 0.5^(e/3) rounds to 1 past ~150
            wrk_task_spec_t s = spec_at(cfgs[i].lr, cfgs[i].dropout, cfgs[i].units,
                                        cfgs[i].batch, e);
            double v = wrk_dry_run_bowl(&s);
            ASSERT(v > prev);
            ASSERT(v < 0.98 + 0.002 + 1e-12);
            prev = v;
        }
    }
    // The ordering of two configurations is the same at every epoch count.
    for (int e = 1; e <= 100; e++) {
        wrk_task_spec_t a = spec_at(0.001, 0.3, 64, 32, e), b = spec_at(0.02, 0.1, 512, 128, e);
        bool a_wins = formula(0.001, 0.3, 64, 32, 1) > formula(0.02, 0.1, 512, 128, 1);
        ASSERT_EQ(wrk_dry_run_bowl(&a) > wrk_dry_run_bowl(&b), a_wins);
    }
    // Far from the optimum the noise could go below 0: the score stays a score.
    wrk_task_spec_t far = spec_at(1e-6, 0.95, 1, 65536, 1);
    double v = wrk_dry_run_bowl(&far);
    ASSERT(v > 0 && v < 1e-3);
}

/* An Assign for s (its hparams on the wire) with the given objective. */
static void dry(const wrk_task_spec_t *s, const char *objective, wrk_result_t *out)
{
    Hpt__HParams w = HPT__HPARAMS__INIT;
    uint32_t units[HPT_MAX_LAYERS];
    hpt_proto_hparams_to_wire(&s->hp, &w, units);
    Hpt__Assign a = HPT__ASSIGN__INIT;
    a.task = s->task;
    a.attempt = s->attempt;
    a.fold = s->fold;
    a.folds = s->folds;
    a.repeat = s->repeat;
    a.cv_seed = s->cv_seed;
    a.hparams = &w;
    a.test_objective = (char *)objective;
    wrk_dry_run(&a, s, out);
}

HPT_TEST(dry_run_objectives)
{
    wrk_task_spec_t s = spec_at(0.01, 0.1, 64, 32, 7);
    wrk_result_t h0, h1, b, bad;
    dry(&s, "", &h0);
    dry(&s, "hash", &h1);
    dry(&s, "bowl", &b);
    dry(&s, "nope", &bad);
    ASSERT(h0.ok && h1.ok && b.ok);
    ASSERT(memcmp(&h0.score, &h1.score, sizeof h0.score) == 0);
    ASSERT(h0.score >= 0.5 && h0.score <= 0.99);
    ASSERT(b.score == wrk_dry_run_bowl(&s));
    ASSERT(b.accuracy == b.score && b.f1_macro == b.score && b.log_loss == 1 - b.score);
    ASSERT(isnan(b.train_score));
    ASSERT_EQ(b.epochs, 7);
    ASSERT_EQ(h0.epochs, 7);
    ASSERT(b.fit_seconds == 0);
    ASSERT(!bad.ok && !bad.refused);
    ASSERT(isnan(bad.score));
    ASSERT(strcmp(bad.error, "unknown test_objective nope (known: hash, bowl, noisy)") == 0);
    ASSERT_EQ(bad.task, 1);
    ASSERT_EQ(bad.attempt, 1);
}

/* noisy: learning_rate is the mean and dropout the standard deviation,
 * over splits and seeds; the draws of two configurations on the same splits
 * are independent; a task always scores the same; the score is clamped. */
HPT_TEST(noisy_means_and_noise)
{
    enum { N = 4000 };
    double sum_a = 0, sq_a = 0, sum_b = 0, sum_ab = 0, sq_b = 0;
    for (int i = 0; i < N; i++) {
        wrk_task_spec_t a = spec_at(0.8, 0.02, 8, 32, 1), b = spec_at(0.7, 0.05, 8, 32, 1);
        a.fold = b.fold = (uint32_t)(i % 5);
        a.repeat = b.repeat = (uint32_t)(i / 5);
        a.hp.seed = b.hp.seed = 1000 + (uint64_t)i;   // the split's seed, shared
        wrk_result_t ra, rb, again;
        dry(&a, "noisy", &ra);
        dry(&b, "noisy", &rb);
        dry(&a, "noisy", &again);
        ASSERT(ra.ok && rb.ok);
        ASSERT(memcmp(&ra.score, &again.score, sizeof ra.score) == 0);
        double za = (ra.score - 0.8) / 0.02, zb = (rb.score - 0.7) / 0.05;
        sum_a += za;
        sq_a += za * za;
        sum_b += zb;
        sq_b += zb * zb;
        sum_ab += za * zb;
    }
    double ma = sum_a / N, mb = sum_b / N;
    ASSERT(fabs(ma) < 0.1);                         // mean lr: 4 standard errors is 0.063
    ASSERT(fabs(mb) < 0.1);
    ASSERT(fabs(sq_a / N - ma * ma - 1) < 0.1);     // sd dropout
    ASSERT(fabs(sq_b / N - mb * mb - 1) < 0.1);
    ASSERT(fabs(sum_ab / N - ma * mb) < 0.1);       // independent configurations
    wrk_task_spec_t hi = spec_at(0.999999, 0.5, 8, 32, 1);
    int clamped = 0;
    for (int f = 0; f < 20; f++) {
        hi.fold = (uint32_t)f;
        wrk_result_t r;
        dry(&hi, "noisy", &r);
        ASSERT(r.score >= 1e-6 && r.score <= 1 - 1e-6);
        clamped += r.score == 1 - 1e-6;
    }
    ASSERT(clamped > 0);
}

HPT_TEST_MAIN()
