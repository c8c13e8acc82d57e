/*
 * cv.h: cross-validation fold splits, deterministic from a seed.
 *
 * Stratified k-fold with shuffle follows scikit-learn's StratifiedKFold idea:
 * the samples of each class are (optionally) shuffled and dealt round-robin
 * over the folds, continuing the round-robin position from one class to the
 * next, so every fold holds floor or ceil of n_c / k samples of class c
 * (within one per class) and fold sizes differ by at most one.  Repeated k-fold uses a different seed per repeat, derived
 * from (seed, repeat).  Folds are disjoint and cover 0..n-1 exactly.
 */
#ifndef HPT_CV_H
#define HPT_CV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct hpt_cv_spec {
    int folds;        // k, 2..1000
    bool stratified;  // keep class proportions per fold
    bool shuffle;     // shuffle before splitting (else in index order)
    uint64_t seed;    // shuffle seed
    int repeats;      // >= 1; repeat r uses a seed derived from (seed, r)
} hpt_cv_spec_t;

/* Assign fold ids: fold_of[i] in 0..k-1 for each of the n samples, for repeat
 * `repeat` (0-based).  labels (borrowed, n values < n_classes) are used when
 * stratified.  fold_of (borrowed, n entries) is written.  Returns 0, -ENOMEM
 * (scratch memory) or -EINVAL with err filled: k < 2, k > n, or, stratified,
 * every class has fewer than k samples (as scikit-learn; a single small class
 * is allowed and simply misses some folds). */
int hpt_cv_assign(const hpt_cv_spec_t *spec, int repeat, const uint8_t *labels, uint32_t n,
                  int n_classes, int *fold_of, hpt_err *err);

/* Split indices for fold `fold` of repeat `repeat`: the validation indices
 * (those with fold_of == fold) into val and the rest into train, both in
 * ascending order.  val and train (borrowed) must hold n entries each; the
 * counts are returned in *n_val and *n_train.  Returns as hpt_cv_assign;
 * -ENOMEM if the scratch array cannot be allocated. */
int hpt_cv_split(const hpt_cv_spec_t *spec, int repeat, int fold, const uint8_t *labels,
                 uint32_t n, int n_classes, uint32_t *train, uint32_t *n_train, uint32_t *val,
                 uint32_t *n_val, hpt_err *err);

#endif
