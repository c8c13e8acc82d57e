/*
 * cv.c: k-fold cross-validation splits (see cv.h).
 *
 * Stratified: each class's sample indices, in ascending order, are shuffled
 * (when asked) with an RNG seeded from (seed, repeat, class) and dealt
 * round-robin over the folds.  The round-robin position carries over from one
 * class to the next instead of restarting at fold 0, so besides every fold
 * getting floor or ceil of n_c / k samples of each class c, the fold sizes
 * overall differ by at most one (restarting at fold 0 would pile the
 * remainders of every class onto the first folds).
 *
 * Not stratified: the indices 0..n-1 are shuffled (when asked) with an RNG
 * seeded from (seed, repeat) and cut into k contiguous chunks, the first
 * n % k of them one longer, as scikit-learn's KFold does.
 *
 * Everything is a pure function of (spec, repeat, labels): a worker computes
 * its fold from the task message and its local copy of the data.
 */
#include "cv.h"

#include <stdlib.h>

#include "rng.h"

#define MAX_FOLDS 1000
#define MAX_CLASSES 256  // labels are bytes

/* Check the arguments common to assign and split. */
static int check_spec(const hpt_cv_spec_t *spec, int repeat, const uint8_t *labels, uint32_t n,
                      int n_classes, hpt_err *err)
{
    if (!spec)
        return hpt_err_set(err, -EINVAL, "cv: NULL spec");
    int k = spec->folds;
    if (k < 2 || k > MAX_FOLDS)
        return hpt_err_set(err, -EINVAL, "cv: folds must be 2..%d, not %d", MAX_FOLDS, k);
    if ((uint32_t)k > n)
        return hpt_err_set(err, -EINVAL, "cv: %d folds but only %u samples", k, n);
    if (spec->repeats < 1)
        return hpt_err_set(err, -EINVAL, "cv: repeats must be >= 1, not %d", spec->repeats);
    if (repeat < 0 || repeat >= spec->repeats)
        return hpt_err_set(err, -EINVAL, "cv: repeat %d out of range 0..%d", repeat,
                           spec->repeats - 1);
    if (spec->stratified) {
        if (!labels)
            return hpt_err_set(err, -EINVAL, "cv: stratified split needs labels");
        if (n_classes < 1 || n_classes > MAX_CLASSES)
            return hpt_err_set(err, -EINVAL, "cv: n_classes must be 1..%d, not %d", MAX_CLASSES,
                               n_classes);
    }
    return 0;
}

static void assign_plain(const hpt_cv_spec_t *spec, int repeat, uint32_t n, uint32_t *perm,
                         int *fold_of)
{
    for (uint32_t i = 0; i < n; i++)
        perm[i] = i;
    if (spec->shuffle) {
        hpt_rng_t rng;
        hpt_rng_seed_n(&rng, (const uint64_t[]){spec->seed, (uint64_t)repeat}, 2);
        hpt_rng_shuffle_u32(&rng, perm, n);
    }
    uint32_t k = (uint32_t)spec->folds, base = n / k, extra = n % k;
    uint32_t pos = 0;
    for (uint32_t f = 0; f < k; f++) {
        uint32_t size = base + (f < extra ? 1 : 0);
        for (uint32_t j = 0; j < size; j++)
            fold_of[perm[pos++]] = (int)f;
    }
}

/* Returns -EINVAL when a label is out of range or every class is smaller
 * than k (scikit-learn's StratifiedKFold refuses that too: no fold could hold
 * a sample of every class). */
static int assign_stratified(const hpt_cv_spec_t *spec, int repeat, const uint8_t *labels,
                             uint32_t n, int n_classes, uint32_t *perm, int *fold_of,
                             hpt_err *err)
{
    // Counting sort by class: start[c]..start[c+1] will hold class c's
    // indices, ascending.
    uint32_t start[MAX_CLASSES + 1] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (labels[i] >= n_classes)
            return hpt_err_set(err, -EINVAL, "cv: label %u of sample %u is not below n_classes %d",
                               labels[i], i, n_classes);
        start[labels[i] + 1]++;
    }
    uint32_t largest = 0;
    for (int c = 0; c < n_classes; c++) {
        if (start[c + 1] > largest)
            largest = start[c + 1];
        start[c + 1] += start[c];
    }
    uint32_t k = (uint32_t)spec->folds;
    if (largest < k)
        return hpt_err_set(err, -EINVAL,
                           "cv: %u folds, but every class has fewer samples (largest %u)", k,
                           largest);

    uint32_t next[MAX_CLASSES];
    for (int c = 0; c < n_classes; c++)
        next[c] = start[c];
    for (uint32_t i = 0; i < n; i++)
        perm[next[labels[i]]++] = i;

    uint32_t deal = 0;  // round-robin position, carried across classes
    for (int c = 0; c < n_classes; c++) {
        uint32_t *idx = perm + start[c], n_c = start[c + 1] - start[c];
        if (spec->shuffle) {
            hpt_rng_t rng;
            hpt_rng_seed_n(&rng, (const uint64_t[]){spec->seed, (uint64_t)repeat, (uint64_t)c},
                           3);
            hpt_rng_shuffle_u32(&rng, idx, n_c);
        }
        for (uint32_t j = 0; j < n_c; j++) {
            fold_of[idx[j]] = (int)(deal % k);
            deal++;
        }
    }
    return 0;
}

int hpt_cv_assign(const hpt_cv_spec_t *spec, int repeat, const uint8_t *labels, uint32_t n,
                  int n_classes, int *fold_of, hpt_err *err)
{
    int rc = check_spec(spec, repeat, labels, n, n_classes, err);
    if (rc < 0)
        return rc;
    if (!fold_of)
        return hpt_err_set(err, -EINVAL, "cv: NULL fold_of");
    uint32_t *perm = malloc(sizeof *perm * n);
    if (!perm)
        return hpt_err_set(err, -ENOMEM, "cv: out of memory for %u indices", n);
    if (spec->stratified) {
        rc = assign_stratified(spec, repeat, labels, n, n_classes, perm, fold_of, err);
    } else {
        assign_plain(spec, repeat, n, perm, fold_of);
        rc = 0;
    }
    free(perm);
    return rc;
}

int hpt_cv_split(const hpt_cv_spec_t *spec, int repeat, int fold, const uint8_t *labels,
                 uint32_t n, int n_classes, uint32_t *train, uint32_t *n_train, uint32_t *val,
                 uint32_t *n_val, hpt_err *err)
{
    int rc = check_spec(spec, repeat, labels, n, n_classes, err);
    if (rc < 0)
        return rc;
    if (fold < 0 || fold >= spec->folds)
        return hpt_err_set(err, -EINVAL, "cv: fold %d out of range 0..%d", fold, spec->folds - 1);
    if (!train || !n_train || !val || !n_val)
        return hpt_err_set(err, -EINVAL, "cv: NULL output");

    int *fold_of = malloc(sizeof *fold_of * n);
    if (!fold_of)
        return hpt_err_set(err, -ENOMEM, "cv: out of memory for %u fold ids", n);
    rc = hpt_cv_assign(spec, repeat, labels, n, n_classes, fold_of, err);
    if (rc == 0) {
        // One pass in index order leaves both lists ascending.
        uint32_t nt = 0, nv = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (fold_of[i] == fold)
                val[nv++] = i;
            else
                train[nt++] = i;
        }
        *n_train = nt;
        *n_val = nv;
    }
    free(fold_of);
    return rc;
}
