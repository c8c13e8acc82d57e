/*
 * test_cv.c: fold assignment and splits (common/cv.c).
 *
 * check_folds() verifies the invariants for any spec: folds disjoint and
 * complete, fold sizes within one, and (stratified) every class within one
 * sample of its share in every fold; it also runs hpt_cv_split on each fold
 * and checks it against the assignment.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cv.h"
#include "hpt_test.h"

enum { N = 1013, N_CLASSES = 11 };

/* Imbalanced labels, interleaved: class c has roughly (c + 1) / 66 of the
 * samples, and class 10 exactly 3 (fewer than k, which is allowed). */
static void make_labels(uint8_t *labels, uint32_t n)
{
    uint32_t x = 1;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t v = (x >> 16) % 55;  // 0..54 -> classes 0..9 weighted 1..10
        uint8_t c = 0;
        while (v >= (uint32_t)c + 1) {
            v -= (uint32_t)c + 1;
            c++;
        }
        labels[i] = c;
    }
    labels[100] = labels[500] = labels[900] = 10;
}

static void check_folds(const hpt_cv_spec_t *spec, int repeat, const uint8_t *labels, uint32_t n,
                        int n_classes, int *fold_of)
{
    hpt_err err = {0};
    int k = spec->folds;
    ASSERT_OK(hpt_cv_assign(spec, repeat, labels, n, n_classes, fold_of, &err));

    uint32_t size[1000] = {0};
    for (uint32_t i = 0; i < n; i++) {
        ASSERT(fold_of[i] >= 0 && fold_of[i] < k);
        size[fold_of[i]]++;
    }
    uint32_t lo = n, hi = 0;
    for (int f = 0; f < k; f++) {
        lo = size[f] < lo ? size[f] : lo;
        hi = size[f] > hi ? size[f] : hi;
    }
    ASSERT(hi - lo <= 1);

    if (spec->stratified) {
        for (int c = 0; c < n_classes; c++) {
            uint32_t n_c = 0, per[1000] = {0};
            for (uint32_t i = 0; i < n; i++)
                if (labels[i] == c) {
                    n_c++;
                    per[fold_of[i]]++;
                }
            uint32_t floor_c = n_c / (uint32_t)k, ceil_c = (n_c + (uint32_t)k - 1) / (uint32_t)k;
            for (int f = 0; f < k; f++)
                ASSERT(per[f] == floor_c || per[f] == ceil_c);
        }
    }

    // Splits: val is exactly the fold, train the rest, both ascending; the
    // validation sets together cover every index once.
    uint32_t *train = malloc(n * sizeof *train), *val = malloc(n * sizeof *val);
    uint8_t *covered = calloc(n, 1);
    ASSERT(train && val && covered);
    for (int f = 0; f < k; f++) {
        uint32_t n_train = 0, n_val = 0;
        ASSERT_OK(hpt_cv_split(spec, repeat, f, labels, n, n_classes, train, &n_train, val,
                               &n_val, &err));
        ASSERT_EQ(n_train + n_val, n);
        ASSERT_EQ(n_val, size[f]);
        for (uint32_t j = 0; j < n_val; j++) {
            ASSERT(j == 0 || val[j] > val[j - 1]);
            ASSERT_EQ(fold_of[val[j]], f);
            ASSERT_EQ(covered[val[j]], 0);
            covered[val[j]] = 1;
        }
        for (uint32_t j = 0; j < n_train; j++) {
            ASSERT(j == 0 || train[j] > train[j - 1]);
            ASSERT(fold_of[train[j]] != f);
        }
    }
    for (uint32_t i = 0; i < n; i++)
        ASSERT_EQ(covered[i], 1);
    free(covered);
    free(val);
    free(train);
}

static int n_diff(const int *a, const int *b, uint32_t n)
{
    int d = 0;
    for (uint32_t i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

HPT_TEST(stratified_shuffled_invariants)
{
    uint8_t labels[N];
    make_labels(labels, N);
    int fold_of[N];
    for (int k = 2; k <= 12; k++) {
        hpt_cv_spec_t spec = {.folds = k, .stratified = true, .shuffle = true, .seed = 42,
                              .repeats = 3};
        for (int r = 0; r < 3; r++)
            check_folds(&spec, r, labels, N, N_CLASSES, fold_of);
    }
    // Some classes missing entirely (n_classes larger than the labels used).
    hpt_cv_spec_t spec = {.folds = 5, .stratified = true, .shuffle = true, .seed = 1,
                          .repeats = 1};
    check_folds(&spec, 0, labels, N, 40, fold_of);
}

HPT_TEST(deterministic_and_seed_dependent)
{
    uint8_t labels[N];
    make_labels(labels, N);
    int a[N], b[N], c[N];
    hpt_cv_spec_t spec = {.folds = 5, .stratified = true, .shuffle = true, .seed = 42,
                          .repeats = 2};
    hpt_err err = {0};
    ASSERT_OK(hpt_cv_assign(&spec, 0, labels, N, N_CLASSES, a, &err));
    ASSERT_OK(hpt_cv_assign(&spec, 0, labels, N, N_CLASSES, b, &err));
    ASSERT_EQ(n_diff(a, b, N), 0);

    // Repeat 0 does not depend on how many repeats there are.
    hpt_cv_spec_t one = spec;
    one.repeats = 1;
    ASSERT_OK(hpt_cv_assign(&one, 0, labels, N, N_CLASSES, b, &err));
    ASSERT_EQ(n_diff(a, b, N), 0);

    // Another repeat or another seed reshuffles: with 5 folds a sample keeps
    // its fold with probability ~1/5.
    ASSERT_OK(hpt_cv_assign(&spec, 1, labels, N, N_CLASSES, b, &err));
    ASSERT(n_diff(a, b, N) > N / 2);
    spec.seed = 43;
    ASSERT_OK(hpt_cv_assign(&spec, 0, labels, N, N_CLASSES, c, &err));
    ASSERT(n_diff(a, c, N) > N / 2);
    ASSERT(n_diff(b, c, N) > N / 2);

    // The same holds without stratification.
    spec = (hpt_cv_spec_t){.folds = 5, .shuffle = true, .seed = 42, .repeats = 2};
    ASSERT_OK(hpt_cv_assign(&spec, 0, NULL, N, 0, a, &err));
    ASSERT_OK(hpt_cv_assign(&spec, 0, NULL, N, 0, b, &err));
    ASSERT_EQ(n_diff(a, b, N), 0);
    ASSERT_OK(hpt_cv_assign(&spec, 1, NULL, N, 0, b, &err));
    ASSERT(n_diff(a, b, N) > N / 2);
    spec.seed = 7;
    ASSERT_OK(hpt_cv_assign(&spec, 0, NULL, N, 0, c, &err));
    ASSERT(n_diff(a, c, N) > N / 2);
}

HPT_TEST(stratified_not_shuffled)
{
    // In index order each class is dealt round-robin, the position carried
    // over between classes: labels 0 0 0 1 1 1 1 2 2 with k = 3 give folds
    // 0 1 2 | 0 1 2 0 | 1 2, whatever the seed.
    const uint8_t labels[] = {0, 1, 0, 1, 2, 1, 0, 1, 2};
    const int want[] = {0, 0, 1, 1, 1, 2, 2, 0, 2};
    int fold_of[9];
    hpt_err err = {0};
    for (uint64_t seed = 0; seed < 3; seed++) {
        hpt_cv_spec_t spec = {.folds = 3, .stratified = true, .seed = seed, .repeats = 2};
        ASSERT_OK(hpt_cv_assign(&spec, (int)(seed % 2), labels, 9, 3, fold_of, &err));
        for (int i = 0; i < 9; i++)
            ASSERT_EQ(fold_of[i], want[i]);
        check_folds(&spec, 0, labels, 9, 3, fold_of);
    }
    uint8_t big[N];
    make_labels(big, N);
    int fo[N];
    hpt_cv_spec_t spec = {.folds = 7, .stratified = true, .repeats = 1};
    check_folds(&spec, 0, big, N, N_CLASSES, fo);
}

HPT_TEST(plain_kfold)
{
    // Not shuffled: contiguous chunks, the first n % k one longer.
    int fold_of[10];
    hpt_err err = {0};
    hpt_cv_spec_t spec = {.folds = 3, .repeats = 1};
    ASSERT_OK(hpt_cv_assign(&spec, 0, NULL, 10, 0, fold_of, &err));
    const int want[] = {0, 0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(fold_of[i], want[i]);
    uint32_t train[10], val[10], n_train, n_val;
    ASSERT_OK(hpt_cv_split(&spec, 0, 1, NULL, 10, 0, train, &n_train, val, &n_val, &err));
    ASSERT_EQ(n_val, 3);
    ASSERT_EQ(val[0], 4);
    ASSERT_EQ(val[2], 6);
    ASSERT_EQ(n_train, 7);
    ASSERT_EQ(train[3], 3);
    ASSERT_EQ(train[4], 7);

    // Shuffled: same invariants, labels not needed.
    int fo[N];
    for (int k = 2; k <= 10; k++) {
        spec = (hpt_cv_spec_t){.folds = k, .shuffle = true, .seed = 3, .repeats = 2};
        check_folds(&spec, 0, NULL, N, 0, fo);
        check_folds(&spec, 1, NULL, N, 0, fo);
    }
    // k == n: one sample per fold.
    spec = (hpt_cv_spec_t){.folds = 10, .shuffle = true, .seed = 3, .repeats = 1};
    check_folds(&spec, 0, NULL, 10, 0, fold_of);
}

HPT_TEST(invalid_arguments)
{
    uint8_t labels[20] = {0};
    for (int i = 0; i < 20; i++)
        labels[i] = (uint8_t)(i % 2);
    int fold_of[20];
    uint32_t train[20], val[20], n_train, n_val;
    hpt_err err = {0};
    hpt_cv_spec_t spec = {.folds = 5, .stratified = true, .shuffle = true, .seed = 1,
                          .repeats = 1};

    spec.folds = 21;  // k > n
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "21 folds but only 20 samples");
    ASSERT_EQ(hpt_cv_split(&spec, 0, 0, labels, 20, 2, train, &n_train, val, &n_val, &err),
              -EINVAL);
    spec.folds = 1;  // k < 2
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "folds must be 2..1000");
    spec.folds = 0;
    ASSERT_EQ(hpt_cv_split(&spec, 0, 0, labels, 20, 2, train, &n_train, val, &n_val, &err),
              -EINVAL);
    spec.folds = 1001;
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 2, fold_of, &err), -EINVAL);
    spec.folds = 5;
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 0, 2, fold_of, &err), -EINVAL);  // n = 0

    // Repeat and fold out of range.
    ASSERT_EQ(hpt_cv_assign(&spec, 1, labels, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_assign(&spec, -1, labels, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_split(&spec, 0, 5, labels, 20, 2, train, &n_train, val, &n_val, &err),
              -EINVAL);
    ASSERT_EQ(hpt_cv_split(&spec, 0, -1, labels, 20, 2, train, &n_train, val, &n_val, &err),
              -EINVAL);
    spec.repeats = 0;
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 2, fold_of, &err), -EINVAL);
    spec.repeats = 1;

    // Labels: missing, out of range, or every class smaller than k.
    ASSERT_EQ(hpt_cv_assign(&spec, 0, NULL, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 1, fold_of, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "label 1 of sample 1");
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 0, fold_of, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 257, fold_of, &err), -EINVAL);
    uint8_t tiny[10] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4};  // 5 classes of 2, k = 3
    spec.folds = 3;
    ASSERT_EQ(hpt_cv_assign(&spec, 0, tiny, 10, 5, fold_of, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "every class has fewer samples");
    spec.folds = 2;  // fine with k = 2
    ASSERT_OK(hpt_cv_assign(&spec, 0, tiny, 10, 5, fold_of, &err));

    // NULL pointers.
    ASSERT_EQ(hpt_cv_assign(NULL, 0, labels, 20, 2, fold_of, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_assign(&spec, 0, labels, 20, 2, NULL, &err), -EINVAL);
    ASSERT_EQ(hpt_cv_split(&spec, 0, 0, labels, 20, 2, NULL, &n_train, val, &n_val, NULL),
              -EINVAL);
}

HPT_TEST_MAIN()
