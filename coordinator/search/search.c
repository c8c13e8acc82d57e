/*
 * search.c: strategy selection, the wrappers that keep a search's counters
 * and serve the enqueued trials (see search.h), and the random draws the
 * strategies share.  The strategies live one per file (grid.c, random.c,
 * tpe.c, coordinate.c, hyperband.c, asha.c).
 */
#include "search.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The strategy for each method, indexed by coord_method_t. */
static const coord_search_ops_t *const strategies[COORD_METHOD__COUNT] = {
    [COORD_METHOD_GRID] = &coord_search_grid,
    [COORD_METHOD_RANDOM] = &coord_search_random,
    [COORD_METHOD_BAYES] = &coord_search_bayes,
    [COORD_METHOD_COORDINATE] = &coord_search_coordinate,
    [COORD_METHOD_HYPERBAND] = &coord_search_hyperband,
    [COORD_METHOD_ASHA] = &coord_search_asha,
};

int coord_search_new(coord_search_t **out, const coord_spec_t *spec, hpt_err *err)
{
    *out = NULL;
    if (!spec || (unsigned)spec->method >= COORD_METHOD__COUNT || !strategies[spec->method])
        return hpt_err_set(err, -EINVAL, "method: no search strategy for '%s'",
                           spec ? coord_method_name(spec->method) : "?");
    coord_search_t *s = calloc(1, sizeof *s);
    if (!s)
        return hpt_err_set(err, -ENOMEM, "search: out of memory");
    s->ops = strategies[spec->method];
    s->spec = spec;
    hpt_rng_seed(&s->rng, spec->seed);
    int rc = s->ops->init(s, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void coord_search_destroy(coord_search_t **p)
{
    if (!p || !*p)
        return;
    coord_search_t *s = *p;
    if (s->ops->fini)
        s->ops->fini(s);
    free(s);
    *p = NULL;
}

int coord_search_suggest(coord_search_t *s, coord_pval_t *vals)
{
    const coord_spec_t *spec = s->spec;
    int rc;
    s->parent = 0;  // a new configuration unless the strategy says otherwise
    if (s->suggested < spec->n_enqueue) {
        memcpy(vals, spec->enqueue + (size_t)s->suggested * (size_t)spec->n_params,
               (size_t)spec->n_params * sizeof *vals);
        rc = COORD_SEARCH_OK;
    } else {
        rc = s->ops->suggest(s, vals);
    }
    if (rc == COORD_SEARCH_OK)
        s->suggested++;
    return rc;
}

bool coord_search_wants_epochs(const coord_search_t *s)
{
    return s->ops->observe_epoch != NULL;
}

void coord_search_observe_epoch(coord_search_t *s, uint64_t trial, int epoch, double score)
{
    if (s->ops->observe_epoch)
        s->ops->observe_epoch(s, trial, epoch, score);
}

void coord_search_observe(coord_search_t *s, uint64_t trial, double score)
{
    s->observed++;
    if (s->ops->observe)
        s->ops->observe(s, trial, score);
}

bool coord_search_done(const coord_search_t *s)
{
    if (s->suggested < s->spec->n_enqueue)
        return false;
    return s->ops->done ? s->ops->done(s) : false;
}

long coord_search_total(const coord_search_t *s)
{
    return s->ops->total ? s->ops->total(s) : -1;
}

// ---------------------------------------------------------------------------
// Shared random draws

/* Uniform integer in [0, n), n >= 1, unbiased (rejection on 64 bits, since
 * int_uniform on `seed` spans up to 2^53 values). */
static uint64_t below64(hpt_rng_t *rng, uint64_t n)
{
    if (n <= UINT32_MAX)
        return hpt_rng_below(rng, (uint32_t)n);
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = hpt_rng_u64(rng);
    while (x >= limit);
    return x % n;
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

coord_pval_t coord__search_sample(hpt_rng_t *rng, const coord_param_t *p)
{
    coord_pval_t v = {0};
    switch (p->dist) {
    case COORD_PDIST_VALUE:
        return p->values[0];
    case COORD_PDIST_VALUES:
        return p->values[hpt_rng_below(rng, (uint32_t)p->n_values)];
    case COORD_PDIST_CATEGORICAL: {
        if (!p->probs)
            return p->values[hpt_rng_below(rng, (uint32_t)p->n_values)];
        double u = hpt_rng_uniform(rng), cum = 0;
        int last = 0;  // the last value with a non-zero probability
        for (int i = 0; i < p->n_values; i++) {
            if (p->probs[i] <= 0)
                continue;
            last = i;
            cum += p->probs[i];
            if (u < cum)
                return p->values[i];
        }
        /* The probabilities sum to 1 within 1e-6, so u can land past the
         * last edge; that mass belongs to the last possible value. */
        return p->values[last];
    }
    case COORD_PDIST_UNIFORM:
        v.num = clamp(p->min + hpt_rng_uniform(rng) * (p->max - p->min), p->min, p->max);
        return v;
    case COORD_PDIST_LOG_UNIFORM_VALUES: {
        double lo = log(p->min), hi = log(p->max);
        v.num = clamp(exp(lo + hpt_rng_uniform(rng) * (hi - lo)), p->min, p->max);
        return v;
    }
    case COORD_PDIST_INT_UNIFORM:
        v.num = p->min + (double)below64(rng, (uint64_t)(p->max - p->min) + 1);
        return v;
    case COORD_PDIST_Q_UNIFORM: {
        double x = p->min + hpt_rng_uniform(rng) * (p->max - p->min);
        double q = p->q, y = round(x / q) * q;
        /* Rounding can step just outside [min, max]; the parser made sure a
         * multiple of q lies inside, so one step back lands in range. */
        if (y > p->max + 1e-9 * fabs(q))
            y -= q;
        else if (y < p->min - 1e-9 * fabs(q))
            y += q;
        v.num = clamp(y, p->min, p->max);
        return v;
    }
    }
    return v;
}

void coord__search_sample_all(const coord_spec_t *spec, hpt_rng_t *rng, coord_pval_t *vals)
{
    for (int i = 0; i < spec->n_params; i++)
        vals[i] = coord_spec_active(spec, i, vals) ? coord__search_sample(rng, &spec->params[i])
                                                   : (coord_pval_t){.absent = true};
}

void *coord__search_grow(void *arr, long *cap, long n, size_t size)
{
    if (n < *cap && arr)
        return arr;
    long c = *cap ? *cap * 2 : 64;
    while (c <= n)
        c *= 2;
    void *p = realloc(arr, (size_t)c * size);
    if (p)
        *cap = c;
    return p;
}

bool coord__search_same(const coord_spec_t *spec, const coord_pval_t *a, const coord_pval_t *b)
{
    for (int i = 0; i < spec->n_params; i++)
        if (!coord_pval_equal(&spec->params[i], &a[i], &b[i]))
            return false;
    return true;
}

// ---------------------------------------------------------------------------
// Sets of configurations (rows of value indices)

static uint64_t row_hash(const int *row, int n)
{
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the indices' bytes
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)row[i];
        for (int b = 0; b < 4; b++) {
            h ^= (v >> (8 * b)) & 0xFFu;
            h *= 1099511628211ull;
        }
    }
    return h;
}

int coord__cfgset_find(const coord__cfgset_t *set, const int *row)
{
    if (set->n == 0)
        return -1;
    size_t mask = set->n_slots - 1;
    for (size_t k = (size_t)row_hash(row, set->width) & mask;; k = (k + 1) & mask) {
        int r = set->slots[k];
        if (r < 0)
            return -1;
        if (memcmp(set->rows + (size_t)r * (size_t)set->width, row,
                   (size_t)set->width * sizeof *row) == 0)
            return r;
    }
}

static int cfgset_grow(coord__cfgset_t *set)
{
    size_t n_slots = set->n_slots ? set->n_slots * 2 : 64;
    int *slots = malloc(n_slots * sizeof *slots);
    if (!slots)
        return -ENOMEM;
    for (size_t k = 0; k < n_slots; k++)
        slots[k] = -1;
    for (int r = 0; r < set->n; r++) {
        size_t k = (size_t)row_hash(set->rows + (size_t)r * (size_t)set->width, set->width) &
                   (n_slots - 1);
        while (slots[k] >= 0)
            k = (k + 1) & (n_slots - 1);
        slots[k] = r;
    }
    free(set->slots);
    set->slots = slots;
    set->n_slots = n_slots;
    return 0;
}

int coord__cfgset_add(coord__cfgset_t *set, const int *row)
{
    int r = coord__cfgset_find(set, row);
    if (r >= 0)
        return r;
    if (set->n == INT32_MAX - 1)
        return -ENOMEM;
    if ((size_t)(set->n + 1) * 2 > set->n_slots && cfgset_grow(set) < 0)
        return -ENOMEM;
    if (set->n == set->cap) {
        int cap = set->cap ? set->cap * 2 : 16;
        int *rows = realloc(set->rows, (size_t)cap * (size_t)set->width * sizeof *rows);
        if (!rows)
            return -ENOMEM;
        set->rows = rows;
        set->cap = cap;
    }
    r = set->n++;
    memcpy(set->rows + (size_t)r * (size_t)set->width, row, (size_t)set->width * sizeof *row);
    size_t mask = set->n_slots - 1;
    size_t k = (size_t)row_hash(row, set->width) & mask;
    while (set->slots[k] >= 0)
        k = (k + 1) & mask;
    set->slots[k] = r;
    return r;
}

void coord__cfgset_free(coord__cfgset_t *set)
{
    free(set->rows);
    free(set->slots);
    *set = (coord__cfgset_t){.width = set->width};
}

int coord__search_index(const coord_spec_t *spec, const coord_pval_t *vals, int *row)
{
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        row[i] = -1;
        if (vals[i].absent)
            continue;
        for (int j = 0; j < p->n_values && row[i] < 0; j++)
            if (coord_pval_equal(p, &p->values[j], &vals[i]))
                row[i] = j;
        if (row[i] < 0)
            return -EINVAL;
    }
    return 0;
}
