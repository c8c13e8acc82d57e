/*
 * wrk_cache.h: the worker's model cache.  When a fold task ends normally its
 * trained session (train.h) is kept here, so that a promoted trial (the same
 * configuration, seed included, on the same split, trained for more epochs:
 * Hyperband/ASHA) continues from it instead of retraining.  Continuing is
 * bit-for-bit the same as retraining (train.h), only faster.
 *
 * Key: everything that determines the training trajectory except the epoch
 * count: the dataset fingerprint, refit, fold, folds, repeat, cv_seed,
 * stratified, shuffle and the hyperparameters with epochs cleared.  There is
 * at most one model per key; a newer one replaces an older one.
 *
 * Bound: the models' hpt_train_session_bytes add up to at most max_bytes.
 * Putting a model evicts the least recently used ones until the sum fits; a
 * single model larger than the bound is not kept.  Entries are found by a
 * linear scan: the bound keeps them to hundreds.
 *
 * A cached session's views point at index arrays its task freed: whoever
 * takes it out rebinds it (hpt_train_session_rebind) before training.
 *
 * Threads: loop thread only.  A task gets its model at creation and gives it
 * back through its FINISH item (wrk_trainer.h), so no lock is needed.
 */
#ifndef HPT_WRK_CACHE_H
#define HPT_WRK_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "params.h"
#include "train.h"
#include "wrk_trainer.h"

typedef struct wrk_cache wrk_cache_t;

/* What a model's trajectory depends on, except the epoch count. */
typedef struct wrk_cache_key {
    char fingerprint[65];  // the dataset's hex SHA-256
    bool refit;
    uint32_t fold, folds, repeat;
    uint64_t cv_seed;
    bool stratified, shuffle;
    hpt_hparams_t hp;      // epochs is 0; compared field by field (units up to layers)
} wrk_cache_key_t;

/* The key of a task spec (borrowed) on the dataset with this fingerprint
 * (borrowed).  For refit the split fields are zero. */
void wrk_cache_key_make(wrk_cache_key_t *k, const wrk_task_spec_t *spec,
                        const char *fingerprint);

/* An empty cache holding at most max_bytes (0: keeps nothing).  *out returns
 * owned.  Returns 0 or -ENOMEM. */
int wrk_cache_new(wrk_cache_t **out, size_t max_bytes);

/* End every model and free the cache; accepts NULL and sets *p = NULL. */
void wrk_cache_destroy(wrk_cache_t **p);

/* Take out the model of key k (borrowed) when it is usable and has fewer than
 * `epochs` epochs.  Returns it owned (no longer in the cache), or NULL: no
 * model for k, or one with `epochs` or more, which cannot be used and stays. */
hpt_train_session_t *wrk_cache_take(wrk_cache_t *c, const wrk_cache_key_t *k, int epochs);

/* Keep *s (takes ownership; *s = NULL) as the most recently used model of k
 * (borrowed), replacing any model k had, then evict least recently used
 * models until the bound holds.  An unusable session or one larger than the
 * bound is ended instead.  *evicted (may be NULL) receives the number of other
 * models ended to make room.  Returns true when the model was kept. */
bool wrk_cache_put(wrk_cache_t *c, const wrk_cache_key_t *k, hpt_train_session_t **s,
                   unsigned *evicted);

/* Models held and their bytes. */
size_t wrk_cache_count(const wrk_cache_t *c);
size_t wrk_cache_bytes(const wrk_cache_t *c);

/* The bound given to wrk_cache_new. */
size_t wrk_cache_max_bytes(const wrk_cache_t *c);

#endif
