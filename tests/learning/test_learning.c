/*
 * test_learning.c: the engine learns real data.  The blog post's model
 * (784-32-10 relu, adam lr 0.001, batch 32) reaches >= 0.90 test accuracy on
 * the 10,000 digits of mnist-10k in 5 epochs, >= 0.94 on the full mnist in 2
 * epochs and >= 0.84 on fashion-mnist in 3 epochs, and the run is bit-for-bit
 * repeatable with one BLAS thread.  Skips (77) when the datasets have not been
 * fetched.
 */
#include <stdlib.h>

#include "dataset.h"
#include "hpt_test.h"
#include "train.h"

static const char *data_dir(void)
{
    const char *d = getenv("HPT_DATA_DIR");
    return d ? d : "data";
}

static hpt_dataset_t *load_or_skip(const char *name)
{
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    if (hpt_dataset_load(&ds, name, data_dir(), &err) < 0) {
        if (err.code == -ENOENT)
            HPT_TEST_SKIP(err.msg);
        HPT__FAIL("loading %s: %s", name, err.msg);
    }
    return ds;
}

static double train_test(hpt_dataset_t *ds, int epochs, hpt_train_result_t *res)
{
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 1;
    hp.units[0] = 32;
    hp.optimizer = HPT_OPT_ADAM;
    hp.learning_rate = 0.001;
    hp.batch_size = 32;
    hp.epochs = epochs;
    hp.seed = 42;
    hpt_view_t tr = {.images = ds->train.images, .labels = ds->train.labels, .n = ds->train.n};
    hpt_view_t te = {.images = ds->test.images, .labels = ds->test.labels, .n = ds->test.n};
    hpt_train_opts_t opts = {.threads = 1, .score_each_epoch = false};
    hpt_err err = {0};
    ASSERT_OK(hpt_train_run(&hp, &opts, ds->n_features, ds->n_classes, &tr, &te, NULL, NULL, res,
                            &err));
    ASSERT(!res->diverged);
    ASSERT_EQ(res->epochs_run, epochs);
    fprintf(stderr, "%s: %d epochs, test accuracy %.4f, log loss %.4f, f1 %.4f, %.0f samples/s\n",
            ds->name, epochs, res->val.accuracy, res->val.log_loss, res->val.f1_macro,
            res->samples_per_second);
    return res->val.accuracy;
}

HPT_TEST(mnist_10k_5_epochs)
{
    hpt_dataset_t *ds = load_or_skip("mnist-10k");
    hpt_train_result_t a, b;
    double acc = train_test(ds, 5, &a);
    ASSERT(acc >= 0.90);
    ASSERT(a.val.f1_macro > 0.85);
    // Bit-for-bit repeatable: same seed, same bytes, one thread.
    train_test(ds, 5, &b);
    ASSERT(a.val.accuracy == b.val.accuracy);
    ASSERT(a.val.log_loss == b.val.log_loss);
    ASSERT(a.train_loss == b.train_loss);
    hpt_dataset_destroy(&ds);
}

HPT_TEST(mnist_2_epochs)
{
    hpt_dataset_t *ds = load_or_skip("mnist");
    ASSERT_EQ(ds->train.n, 60000);
    hpt_train_result_t r;
    ASSERT(train_test(ds, 2, &r) >= 0.94);
    hpt_dataset_destroy(&ds);
}

HPT_TEST(train_scores)
{
    hpt_dataset_t *ds = load_or_skip("mnist-10k");
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.epochs = 3;
    hp.units[0] = 16;
    hp.metric = HPT_METRIC_LOG_LOSS;
    hpt_view_t tr = {.images = ds->train.images, .labels = ds->train.labels, .n = 4000};
    hpt_view_t te = {.images = ds->test.images, .labels = ds->test.labels, .n = ds->test.n};
    hpt_train_opts_t opts = {.threads = 1, .score_train = true};
    hpt_train_result_t r;
    hpt_err err = {0};
    ASSERT_OK(hpt_train_run(&hp, &opts, ds->n_features, ds->n_classes, &tr, &te, NULL, NULL, &r,
                            &err));
    // The metric is log loss: train_score is the training view's log loss.
    ASSERT(r.train_score == r.train.log_loss);
    ASSERT(r.train.accuracy > 0.85 && r.train.accuracy <= 1.0);
    ASSERT(r.train.log_loss > 0 && r.train.log_loss < r.val.log_loss + 0.2);
    // Without the option the train scores are NaN.
    opts.score_train = false;
    ASSERT_OK(hpt_train_run(&hp, &opts, ds->n_features, ds->n_classes, &tr, &te, NULL, NULL, &r,
                            &err));
    ASSERT(isnan(r.train_score));
    hpt_dataset_destroy(&ds);
}

HPT_TEST(stop_flag)
{
    hpt_dataset_t *ds = load_or_skip("mnist-10k");
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.epochs = 50;
    atomic_bool stop;
    atomic_init(&stop, true);
    hpt_view_t tr = {.images = ds->train.images, .labels = ds->train.labels, .n = ds->train.n};
    hpt_view_t te = {.images = ds->test.images, .labels = ds->test.labels, .n = ds->test.n};
    hpt_train_opts_t opts = {.threads = 1, .stop = &stop};
    hpt_train_result_t r;
    hpt_err err = {0};
    ASSERT_OK(hpt_train_run(&hp, &opts, ds->n_features, ds->n_classes, &tr, &te, NULL, NULL, &r,
                            &err));
    // Raised before the first batch: nothing trained, no epoch counted, NaN scores.
    ASSERT(r.stopped_early);
    ASSERT_EQ(r.epochs_run, 0);
    ASSERT(isnan(r.val_score));
    hpt_dataset_destroy(&ds);
}

HPT_TEST(fashion_mnist_3_epochs)
{
    hpt_dataset_t *ds = load_or_skip("fashion-mnist");
    hpt_train_result_t r;
    ASSERT(train_test(ds, 3, &r) >= 0.84);
    hpt_dataset_destroy(&ds);
}

HPT_TEST_MAIN()
