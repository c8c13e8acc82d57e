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
    if (s->target_reached)
        return COORD_SEARCH_DONE;
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
    /* metric.target: once a trial's score reaches it, no new trial starts;
     * trials already running finish (W&B's sweep stops creating runs). */
    const coord_spec_t *spec = s->spec;
    if (spec->has_target && !isnan(score) &&
        (spec->maximize ? score >= spec->target : score <= spec->target))
        s->target_reached = true;
    if (s->ops->observe)
        s->ops->observe(s, trial, score);
}

bool coord_search_done(const coord_search_t *s)
{
    if (s->target_reached)
        return true;
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

/* x rounded to the nearest multiple of q inside [lo, hi].  Rounding can
 * step just outside; the parser made sure a multiple of q lies inside, so
 * one step back lands in range. */
static double on_lattice(double x, double q, double lo, double hi)
{
    double y = round(x / q) * q;
    if (y > hi + 1e-9 * fabs(q))
        y -= q;
    else if (y < lo - 1e-9 * fabs(q))
        y += q;
    return clamp(y, lo, hi);
}

/* The standard normal's quantile function: Acklam's rational approximation
 * (relative error 1.15e-9) refined by one Halley step on erfc, which brings
 * it to full double precision.  p in (0, 1). */
static double norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else if (p > 1 - 0.02425) {
        double q = sqrt(-2 * log(1 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * 2.50662827463100050242 * exp(x * x / 2);   // sqrt(2 pi)
    return x - u / (1 + x * u / 2);
}

static double norm_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* A draw of N(mu, sigma) (of its logarithm when lg) kept inside [lo, hi],
 * widened by half a step of q so that every lattice point keeps its share:
 * the inverse CDF of the truncated normal, one uniform per draw. */
static double truncated_normal(hpt_rng_t *rng, double mu, double sigma, bool lg, double lo,
                               double hi, double q)
{
    double h = q > 0 ? 0.5 * q : 0;
    double a = lo - h, b = hi + h;
    if (lg) {
        a = a > 0 ? log(a) : -INFINITY;
        b = log(b);
    }
    double pa = norm_cdf((a - mu) / sigma), pb = norm_cdf((b - mu) / sigma);
    double u = pa + hpt_rng_uniform(rng) * (pb - pa);
    /* Keep u strictly inside (0, 1): the parser refused ranges holding
     * almost none of the distribution, so pb - pa is not tiny. */
    if (!(u > 0))
        u = 1e-300;
    if (!(u < 1))
        u = 1 - 1e-16;
    double z = mu + sigma * norm_ppf(u);
    return lg ? exp(z) : z;
}

coord_pval_t coord__search_sample(hpt_rng_t *rng, const coord_param_t *p)
{
    coord_pval_t v = {0};
    double x;
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
    case COORD_PDIST_INT_UNIFORM:
        v.num = p->min + (double)below64(rng, (uint64_t)(p->max - p->min) + 1);
        return v;
    case COORD_PDIST_UNIFORM:
    case COORD_PDIST_Q_UNIFORM:
        x = p->min + hpt_rng_uniform(rng) * (p->max - p->min);
        break;
    case COORD_PDIST_LOG_UNIFORM_VALUES:
    case COORD_PDIST_Q_LOG_UNIFORM_VALUES: {
        double lo = log(p->min), hi = log(p->max);
        x = exp(lo + hpt_rng_uniform(rng) * (hi - lo));
        break;
    }
    case COORD_PDIST_NORMAL:
    case COORD_PDIST_LOG_NORMAL:
        x = truncated_normal(rng, p->mu, p->sigma, p->dist == COORD_PDIST_LOG_NORMAL, p->min,
                             p->max, p->q);
        break;
    default:
        return v;
    }
    /* q (q_uniform, the q_ forms, integer parameters) rounds onto its
     * lattice inside [min, max]; otherwise the draw is clamped (rounding of
     * exp/log can step a hair outside). */
    v.num = p->q > 0 ? on_lattice(x, p->q, p->min, p->max) : clamp(x, p->min, p->max);
    return v;
}

coord_pval_t coord__search_quantile(const coord_param_t *p, double u)
{
    coord_pval_t v = {0};
    u = u < 0 ? 0 : u >= 1 ? nextafter(1.0, 0.0) : u;
    double x;
    switch (p->dist) {
    case COORD_PDIST_VALUE:
        return p->values[0];
    case COORD_PDIST_VALUES:
        return p->values[(int)(u * p->n_values)];
    case COORD_PDIST_CATEGORICAL: {
        if (!p->probs)
            return p->values[(int)(u * p->n_values)];
        double cum = 0;
        int last = 0;
        for (int i = 0; i < p->n_values; i++) {
            if (p->probs[i] <= 0)
                continue;
            last = i;
            cum += p->probs[i];
            if (u < cum)
                return p->values[i];
        }
        return p->values[last];
    }
    case COORD_PDIST_INT_UNIFORM:
        v.num = p->min + floor(u * (p->max - p->min + 1));
        v.num = clamp(v.num, p->min, p->max);
        return v;
    case COORD_PDIST_Q_UNIFORM: {
        /* Every multiple of q inside [min, max] equally likely (Optuna's
         * suggest_int(step=q)), not random.c's rounding, which gives the
         * two end points half a share each. */
        double lo = ceil(p->min / p->q - 1e-9), hi = floor(p->max / p->q + 1e-9);
        v.num = (lo + floor(u * (hi - lo + 1))) * p->q;
        v.num = on_lattice(v.num, p->q, p->min, p->max);
        return v;
    }
    case COORD_PDIST_UNIFORM:
        x = p->min + u * (p->max - p->min);
        break;
    case COORD_PDIST_LOG_UNIFORM_VALUES:
    case COORD_PDIST_Q_LOG_UNIFORM_VALUES: {
        double lo = log(p->min), hi = log(p->max);
        x = exp(lo + u * (hi - lo));
        break;
    }
    case COORD_PDIST_NORMAL:
    case COORD_PDIST_LOG_NORMAL: {
        /* The truncated normal's quantile (truncated_normal with u given). */
        bool lg = p->dist == COORD_PDIST_LOG_NORMAL;
        double h = p->q > 0 ? 0.5 * p->q : 0;
        double a = p->min - h, b = p->max + h;
        if (lg) {
            a = a > 0 ? log(a) : -INFINITY;
            b = log(b);
        }
        double pa = norm_cdf((a - p->mu) / p->sigma), pb = norm_cdf((b - p->mu) / p->sigma);
        double w = pa + u * (pb - pa);
        if (!(w > 0))
            w = 1e-300;
        if (!(w < 1))
            w = 1 - 1e-16;
        double z = p->mu + p->sigma * norm_ppf(w);
        x = lg ? exp(z) : z;
        break;
    }
    default:
        return v;
    }
    v.num = p->q > 0 ? on_lattice(x, p->q, p->min, p->max) : clamp(x, p->min, p->max);
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
