/*
 * wrk_cache.c: the model cache; see wrk_cache.h.
 *
 * Invariants: entries form one doubly linked list, most recently used first;
 * `bytes` is the sum of the entries' sizes, each taken when the entry was
 * put, and never exceeds max_bytes; every entry's session is usable; no two
 * entries have equal keys.
 */
#include "wrk_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *prev, *next;  // toward the more / less recently used
    wrk_cache_key_t key;
    hpt_train_session_t *s;     // owned
    size_t bytes;               // hpt_train_session_bytes(s) when put
} entry_t;

struct wrk_cache {
    entry_t *head, *tail;  // most / least recently used
    size_t n;
    size_t bytes;
    size_t max_bytes;
};

// --- keys ----------------------------------------------------------------

void wrk_cache_key_make(wrk_cache_key_t *k, const wrk_task_spec_t *spec,
                        const char *fingerprint)
{
    *k = (wrk_cache_key_t){.refit = spec->refit, .hp = spec->hp};
    snprintf(k->fingerprint, sizeof k->fingerprint, "%s", fingerprint);
    if (!spec->refit) {
        k->fold = spec->fold;
        k->folds = spec->folds;
        k->repeat = spec->repeat;
        k->cv_seed = spec->cv_seed;
        k->stratified = spec->stratified;
        k->shuffle = spec->shuffle;
    }
    k->hp.epochs = 0;
    for (int l = k->hp.layers; l < HPT_MAX_LAYERS; l++)
        k->hp.units[l] = 0;
}

/* Field by field: hpt_hparams_t has padding, so memcmp would compare garbage.
 * Doubles compare with == (validated hparams hold no NaN). */
static bool hp_equal(const hpt_hparams_t *a, const hpt_hparams_t *b)
{
    if (a->layers != b->layers)
        return false;
    for (int l = 0; l < a->layers; l++)
        if (a->units[l] != b->units[l])
            return false;
    return a->activation == b->activation && a->init_mode == b->init_mode &&
           a->optimizer == b->optimizer && a->learning_rate == b->learning_rate &&
           a->momentum == b->momentum && a->nesterov == b->nesterov &&
           a->dropout == b->dropout && a->input_dropout == b->input_dropout &&
           a->weight_constraint == b->weight_constraint && a->weight_decay == b->weight_decay &&
           a->batch_size == b->batch_size &&
           a->epochs == b->epochs && a->seed == b->seed && a->metric == b->metric;
}

static bool key_equal(const wrk_cache_key_t *a, const wrk_cache_key_t *b)
{
    return strcmp(a->fingerprint, b->fingerprint) == 0 && a->refit == b->refit &&
           a->fold == b->fold && a->folds == b->folds && a->repeat == b->repeat &&
           a->cv_seed == b->cv_seed && a->stratified == b->stratified &&
           a->shuffle == b->shuffle && hp_equal(&a->hp, &b->hp);
}

// --- the list ------------------------------------------------------------

static void unlink_entry(wrk_cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
    c->n--;
    c->bytes -= e->bytes;
}

static void push_front(wrk_cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
    c->n++;
    c->bytes += e->bytes;
}

static void entry_free(entry_t *e)
{
    hpt_train_end(&e->s);
    free(e);
}

static entry_t *find(const wrk_cache_t *c, const wrk_cache_key_t *k)
{
    for (entry_t *e = c->head; e; e = e->next)
        if (key_equal(&e->key, k))
            return e;
    return NULL;
}

// --- the API -------------------------------------------------------------

int wrk_cache_new(wrk_cache_t **out, size_t max_bytes)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    (*out)->max_bytes = max_bytes;
    return 0;
}

void wrk_cache_destroy(wrk_cache_t **p)
{
    if (!p || !*p)
        return;
    wrk_cache_t *c = *p;
    entry_t *e = c->head;
    while (e) {
        entry_t *next = e->next;
        entry_free(e);
        e = next;
    }
    free(c);
    *p = NULL;
}

hpt_train_session_t *wrk_cache_take(wrk_cache_t *c, const wrk_cache_key_t *k, int epochs)
{
    entry_t *e = find(c, k);
    if (!e || hpt_train_session_epochs(e->s) >= epochs)
        return NULL;
    unlink_entry(c, e);
    hpt_train_session_t *s = e->s;
    e->s = NULL;
    entry_free(e);
    return s;
}

bool wrk_cache_put(wrk_cache_t *c, const wrk_cache_key_t *k, hpt_train_session_t **s,
                   unsigned *evicted)
{
    if (evicted)
        *evicted = 0;
    size_t bytes = hpt_train_session_bytes(*s);
    if (!hpt_train_session_usable(*s) || bytes > c->max_bytes) {
        hpt_train_end(s);
        return false;
    }
    entry_t *e = calloc(1, sizeof *e);
    if (!e) {  // a cache is an optimisation: out of memory just keeps nothing
        hpt_train_end(s);
        return false;
    }
    entry_t *old = find(c, k);
    if (old) {
        unlink_entry(c, old);
        entry_free(old);
    }
    e->key = *k;
    e->s = *s;
    e->bytes = bytes;
    *s = NULL;
    push_front(c, e);
    while (c->bytes > c->max_bytes) {
        entry_t *lru = c->tail;  // never e: e alone fits
        unlink_entry(c, lru);
        entry_free(lru);
        if (evicted)
            (*evicted)++;
    }
    return true;
}

size_t wrk_cache_count(const wrk_cache_t *c)
{
    return c->n;
}

size_t wrk_cache_bytes(const wrk_cache_t *c)
{
    return c->bytes;
}

size_t wrk_cache_max_bytes(const wrk_cache_t *c)
{
    return c->max_bytes;
}
