/*
 * tpe.c: method bayes, the Tree-structured Parzen Estimator (Bergstra,
 * Bardenet, Bengio and Kegl, "Algorithms for Hyper-Parameter Optimization",
 * NIPS 2011), after Optuna 3.1's TPESampler, whose rules it can follow
 * exactly (tpe: {startup: random, multivariate: false, equal_heights:
 * true}); its defaults depart from Optuna's where bench/search_tpe.sh
 * measured a better search (bench/README.md, docs/architecture.md):
 *
 *   - Until tpe.n_startup (10) trials have finished with a score, every
 *     suggestion is a start-up draw; TPE starts once that many scores are
 *     in.  startup: stratified (the default) draws the first n_startup of
 *     them as a Latin hypercube: each parameter's distribution is cut into
 *     n_startup strata of equal probability (coord__search_quantile, which
 *     gives every lattice point of a q_uniform the same share) and each
 *     stratum serves exactly one start-up trial, in an order permuted per
 *     parameter at init from the search's rng.  startup: random draws what
 *     random.c draws from the same rng (and so does every start-up trial
 *     past the first n_startup, while scores are still missing).
 *   - Trials are split by loss (the score, negated when maximizing): the best
 *     n_below = min(ceil(gamma n), 25) of the n scored trials (gamma 0.1) form
 *     l(x), every other trial forms g(x).  Ties go to the earlier trial.
 *   - multivariate: false: each parameter is modelled on its own
 *     (Optuna's multivariate=False).  Its l and g are mixtures of one
 *     kernel per trial that has the parameter, plus a prior kernel of
 *     weight tpe.prior_weight (1.0).
 *     Kernel weights follow Optuna's default_weights: 1 for the 25 most
 *     recent trials of the group and a linear ramp from 1/n up to 1 for the
 *     older ones.
 *   - Numeric parameters: truncated Gaussians on the parameter's range in
 *     model space (log space for log_uniform_values, q_log_uniform_values
 *     and log_normal; a normal is modelled on mu +- 4 sigma within the
 *     parameter's range; int_uniform and
 *     q_uniform widened by half a step at each end, as Optuna does), centred
 *     on the observations, with Optuna's bandwidths: the larger gap to a
 *     neighbour in sorted order (the outermost kernels use their inner gap),
 *     clipped to [range / min(100, 1 + kernels), range] ("magic clip"); the
 *     prior kernel sits mid-range with sigma = range.  Samples of int and
 *     q parameters are rounded to the lattice and scored, as Optuna does,
 *     by each kernel's mass on the value's rounding cell (the density at
 *     the cell's centre, used before, let a kernel narrower than a cell
 *     count its peak).  Continuous parameters are scored by the density;
 *     with equal_heights every kernel peaks at w / (truncation mass), as
 *     Optuna 3.1's log_pdf computes it (its _truncnorm.logpdf leaves out
 *     the 1 / sigma of the normal density), so wide kernels (the prior,
 *     sparse regions) weigh more than their normalized density.
 *   - multivariate: true: the unconditional parameters are modelled jointly
 *     (Optuna's multivariate=True): one product kernel per trial plus the
 *     prior, with the same weights and categorical kernels and, for the
 *     numbers, one bandwidth per parameter by Scott's rule, 0.2
 *     n^(-1/(d+4)) of the range, magic-clipped; the n_candidates draws pick
 *     a kernel, then every dimension from it.  Conditional parameters are
 *     then drawn one at a time, as above (their when: reads the joint
 *     ones).
 *   - Listed parameters (values, categorical, bools, names): Optuna's
 *     categorical Parzen estimator.  Each observation's kernel puts
 *     a = prior_weight / (n + 1) on every value plus 1 on the observed one,
 *     normalized; the prior kernel is the parameter's own distribution
 *     (its probabilities, uniform for values).
 *   - tpe.n_candidates (24) candidates are drawn from l; the one with the
 *     largest log l(x) - log g(x) wins (the first on ties).
 *
 * Pending trials and failures.  With tpe.constant_liar (the default), a
 * trial that was suggested but not yet observed counts as an observation
 * with the worst possible score (+inf loss), as Optuna's constant_liar=True
 * does for RUNNING trials: it sits in g, which lowers the expected
 * improvement around it, so workers asking at the same time get distinct
 * suggestions.  We chose "worst" over "mean": with the mean a pending trial
 * near the optimum could land in l and attract more trials to the same
 * spot, which is what the liar is there to prevent.  A failed trial (NaN
 * score) counts as the worst score too (Optuna drops failed trials; here
 * they steer the search away from configurations that crash).  Neither
 * counts towards n in gamma(n) or towards n_startup.
 *
 * Conditional parameters are modelled, as in hyperopt and Optuna, from the
 * trials in which they were present; they are sampled only when their when:
 * holds, and no random numbers are drawn for an absent one.
 *
 * Determinism: every random number comes from the search's rng, in a fixed
 * order, so suggestions are a pure function of (seed, the sequence of
 * suggest and observe calls).  Because pending trials enter the model, the
 * same scores observed in a different interleaving give different trials:
 * a resuming coordinator must replay the original interleaving.
 *
 * Cost: per suggestion and numeric parameter, O(n) to build g (the
 * observations are kept sorted by value, one insertion per trial) and
 * at most O(n_candidates * n) to evaluate it, with the bandwidths,
 * truncation masses and weights computed once per suggestion.  Kernels more
 * than sqrt(80) ~ 9 bandwidths from a candidate (a contribution below
 * e^-40 of their peak) are skipped without calling exp(), and the narrow
 * ones, kept sorted, are found by binary search (see kmix_t), so a
 * candidate looks at a window of the observations rather than all of them.
 * bench/search_cost.c measured about 0.5 ms per suggestion with 6
 * parameters and 2,000 trials for this independent model.  The joint model
 * (multivariate) scans every trial for every candidate: O(n_candidates *
 * n * d) per suggestion, the exp() of kernels below e^-30 of the largest
 * skipped, lattice cells by the midpoint rule when narrow.  Its tables are
 * structure-of-arrays (one array per dimension), so each dimension's term
 * is one loop over the trials that the compiler vectorises (-O3, AVX2 where
 * there is one: TPE_SIMD_CLONES); the maximum is taken in four lanes and
 * the kernels within e^-30 of it are gathered without a branch before
 * their exp() is summed in kernel order.  None of this changes a bit of any
 * score (no reassociation, no fused multiply-add, libm's exp and log;
 * tests/spec/test_tpe pins the suggestions), and it brought a suggestion
 * with 6 parameters and 2,000 trials from 3.1 ms to under 1 ms
 * (bench/results/search-cost-*.txt).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

#define TPE_MAX_BELOW 25        // Optuna's cap on n_below, and default_weights' flat tail
#define TPE_SKIP_Z2 80.0        // z^2 past which a kernel's exp(-z^2/2) is not computed
#define TPE_MAX_REJECT 64       // truncated-normal rejection tries before clamping
#define TPE_SQRT2 1.41421356237309504880
#define TPE_WIDE 1.0            // kernels wider than this many minimum bandwidths are "wide"
#define KMIX_ARRAYS 10          // double arrays per kmix_t

typedef enum { T_PENDING, T_DONE, T_FAILED } tstate_t;

/* What TPE knows about one trial (indexed by trial number - 1). */
typedef struct ttrial {
    uint8_t state;          // tstate_t
    uint8_t below;          // scratch: in l(x) for the suggestion being built
    double loss;            // DONE: the score, negated when maximizing
} ttrial_t;

typedef enum { M_CONST, M_NUM, M_CAT } mkind_t;

/* The model of one parameter and its observations. */
typedef struct tparam {
    mkind_t kind;
    double lo, hi;          // M_NUM: the kernels' support in model space
    bool log;               // M_NUM: model space is log(value)
    double q;               // M_NUM: round values to multiples of q (0: continuous)
    double vmin, vmax;      // M_NUM: the value range after rounding
    int n_cat;              // M_CAT: number of values
    double *prior;          // M_CAT: owned, n_cat prior probabilities
    int n, cap;             // observations (trials with the parameter present)
    double *x;              // owned, cap: model-space value (M_CAT: value index), by arrival
    int *trial;             // owned, cap: trial index of each observation
    int *order;             // owned, cap: M_NUM: observation positions sorted by x
} tparam_t;

/* A mixture of truncated Gaussians, ready to sample and evaluate.  For
 * evaluation the kernels are split in two: the narrow ones (sigma <= tau)
 * sorted by mu, of which only those within `reach` = sqrt(TPE_SKIP_Z2) tau
 * of x can matter (found by binary search), and the few wide ones, always
 * scanned.  Both parts apply the same z^2 < TPE_SKIP_Z2 test, so the split
 * changes which kernels are looked at, not which are counted. */
typedef struct kmix {
    int n;                  // kernels
    double *mu;             // n, sorted ascending
    double *sg;             // n: sigma
    double *w;              // n: normalized weight (for sampling)
    double *coef;           // n: weight / (sigma * truncation mass)
    int n_narrow, n_wide;   // the evaluation split, n_narrow + n_wide = n
    double reach;           // narrow kernels further than this from x are skipped
    double *nmu, *nisg, *ncoef;  // n_narrow, sorted by mu
    double *wmu, *wisg, *wcoef;  // n_wide
} kmix_t;

typedef struct tpe {
    coord_tpe_cfg_t cfg;
    long total;             // budget.max_trials
    int n_trials, cap_trials;
    ttrial_t *trials;       // owned
    int n_done;             // trials observed with a finite score
    int best[TPE_MAX_BELOW];  // the best finite trials, by (loss, trial number)
    int n_best;
    tparam_t params[COORD_SPEC_MAX_PARAMS];
    /* Scratch, grown as needed. */
    int scratch_cap;
    kmix_t below, above;
    double *buf;            // all kmix arrays of both mixtures (KMIX_ARRAYS each)
    int *rank;              // chronological rank of each observation within its group
    uint8_t *group;         // 0 skip, 1 below, 2 above
    double *cand, *cand_x;  // n_candidates: candidate values / model-space values
    double *pl, *pg;        // M_CAT: category probabilities under l and g
    int cat_cap;
    /* tpe.startup: stratified: strata[i * n_params + j] is the stratum (of
     * n_strata) that start-up trial i draws parameter j from. */
    int n_strata;
    int *strata;            // owned, n_strata x spec->n_params, or NULL
    /* tpe.multivariate: the parameters modelled jointly (the unconditional
     * ones that are not constants), in spec order. */
    int n_joint;
    int joint[COORD_SPEC_MAX_PARAMS];
} tpe_t;

/* jmix_logpdf's loops (built at -O3, coordinator/meson.build) run four
 * doubles wide where the CPU has AVX2, two (SSE2) elsewhere, the version
 * picked when the program loads (a GNU ifunc).  "avx2" does not enable FMA,
 * so nothing is contracted and every score has the same bits either way. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TPE_SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TPE_SIMD_CLONES
#endif

#define TPE_MAX_STRATA 4096     // start-up trials stratified at most (the rest are random)
#define TPE_SCOTT 0.2           // multivariate bandwidth: 0.2 n^(-1/(d+4)) of the range

// ---------------------------------------------------------------------------
// Setup

static void tpe_free(tpe_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < COORD_SPEC_MAX_PARAMS; i++) {
        free(t->params[i].prior);
        free(t->params[i].x);
        free(t->params[i].trial);
        free(t->params[i].order);
    }
    free(t->trials);
    free(t->buf);
    free(t->rank);
    free(t->group);
    free(t->cand);
    free(t->cand_x);
    free(t->pl);
    free(t->pg);
    free(t->strata);
    free(t);
}

static int param_setup(tparam_t *m, const coord_param_t *p)
{
    switch (p->dist) {
    case COORD_PDIST_VALUE:
        m->kind = M_CONST;
        return 0;
    case COORD_PDIST_VALUES:
    case COORD_PDIST_CATEGORICAL:
        m->kind = M_CAT;
        m->n_cat = p->n_values;
        m->prior = calloc((size_t)p->n_values, sizeof *m->prior);
        if (!m->prior)
            return -ENOMEM;
        for (int k = 0; k < p->n_values; k++)
            m->prior[k] = p->probs ? p->probs[k] : 1.0 / p->n_values;
        return 0;
    case COORD_PDIST_UNIFORM:
        m->kind = M_NUM;
        m->lo = m->vmin = p->min;
        m->hi = m->vmax = p->max;
        return 0;
    case COORD_PDIST_LOG_UNIFORM_VALUES:
    case COORD_PDIST_Q_LOG_UNIFORM_VALUES:
        m->kind = M_NUM;
        m->log = true;
        m->vmin = p->min;
        m->vmax = p->max;
        m->lo = log(p->min);
        m->hi = log(p->max);
        if (p->q > 0) {
            /* Rounded to q's lattice (q_log_uniform_values, an integer
             * parameter): the lattice's ends bound the values. */
            m->q = p->q;
            m->vmin = ceil(p->min / p->q - 1e-9) * p->q;
            m->vmax = floor(p->max / p->q + 1e-9) * p->q;
        }
        return 0;
    case COORD_PDIST_INT_UNIFORM:
        m->kind = M_NUM;
        m->q = 1;
        m->vmin = p->min;
        m->vmax = p->max;
        m->lo = p->min - 0.5;
        m->hi = p->max + 0.5;
        return 0;
    case COORD_PDIST_Q_UNIFORM:
        m->kind = M_NUM;
        m->q = p->q;
        /* The multiples of q inside [min, max], as random.c draws them. */
        m->vmin = ceil(p->min / p->q - 1e-9) * p->q;
        m->vmax = floor(p->max / p->q + 1e-9) * p->q;
        m->lo = m->vmin - 0.5 * p->q;
        m->hi = m->vmax + 0.5 * p->q;
        return 0;
    case COORD_PDIST_NORMAL:
    case COORD_PDIST_LOG_NORMAL: {
        /* Modelled on mu +- 4 sigma (of the logarithm for log_normal) within
         * the parameter's range: the startup trials follow the normal
         * itself; TPE's kernels and prior live on that interval. */
        bool lg = p->dist == COORD_PDIST_LOG_NORMAL;
        m->kind = M_NUM;
        m->log = lg;
        double a = lg ? (p->min > 0 ? log(p->min) : -INFINITY) : p->min;
        double b = lg ? log(p->max) : p->max;
        m->lo = fmax(a, p->mu - 4 * p->sigma);
        m->hi = fmin(b, p->mu + 4 * p->sigma);
        if (!(m->lo < m->hi)) {   // the range lies in a tail: model the range itself
            m->lo = a > -INFINITY ? a : b - 8 * p->sigma;
            m->hi = b;
        }
        m->vmin = lg ? exp(m->lo) : m->lo;
        m->vmax = lg ? exp(m->hi) : m->hi;
        if (p->q > 0) {
            m->q = p->q;
            double qlo = ceil(fmax(m->vmin, p->min) / p->q - 1e-9) * p->q;
            double qhi = floor(fmin(m->vmax, p->max) / p->q + 1e-9) * p->q;
            if (qlo <= qhi) {
                m->vmin = qlo;
                m->vmax = qhi;
            } else {   // narrower than a step: the lattice point nearest mu's range
                m->vmin = m->vmax = fmin(fmax(round((m->vmin + m->vmax) / 2 / p->q) * p->q,
                                              ceil(p->min / p->q - 1e-9) * p->q),
                                         floor(p->max / p->q + 1e-9) * p->q);
            }
        }
        return 0;
    }
    }
    return -EINVAL;
}

static int grow_trials(tpe_t *t)
{
    if (t->n_trials < t->cap_trials)
        return 0;
    int cap = t->cap_trials ? t->cap_trials * 2 : 64;
    ttrial_t *tr = realloc(t->trials, (size_t)cap * sizeof *tr);
    if (!tr)
        return -ENOMEM;
    t->trials = tr;
    t->cap_trials = cap;
    return 0;
}

static int grow_param(tparam_t *m)
{
    if (m->n < m->cap)
        return 0;
    int cap = m->cap ? m->cap * 2 : 64;
    double *x = realloc(m->x, (size_t)cap * sizeof *x);
    if (!x)
        return -ENOMEM;
    m->x = x;
    int *tr = realloc(m->trial, (size_t)cap * sizeof *tr);
    if (!tr)
        return -ENOMEM;
    m->trial = tr;
    int *o = realloc(m->order, (size_t)cap * sizeof *o);
    if (!o)
        return -ENOMEM;
    m->order = o;
    m->cap = cap;
    return 0;
}

/* Model-space value of v for parameter p (M_CAT: the value's index). */
static double to_model(const tparam_t *m, const coord_param_t *p, const coord_pval_t *v)
{
    if (m->kind == M_CAT) {
        for (int k = 0; k < p->n_values; k++)
            if (coord_pval_equal(p, &p->values[k], v))
                return k;
        return -1;
    }
    return m->log ? log(v->num) : v->num;
}

/* Record a new trial (pending) with values vals: one observation per
 * present, modelled parameter. */
static int add_trial(tpe_t *t, const coord_spec_t *spec, const coord_pval_t *vals)
{
    if (grow_trials(t) < 0)
        return -ENOMEM;
    int id = t->n_trials;
    t->trials[id] = (ttrial_t){.state = T_PENDING};
    for (int i = 0; i < spec->n_params; i++) {
        tparam_t *m = &t->params[i];
        if (m->kind == M_CONST || vals[i].absent)
            continue;
        double x = to_model(m, &spec->params[i], &vals[i]);
        if (m->kind == M_CAT && x < 0)
            continue;  // not one of the values: cannot happen for a validated trial
        if (grow_param(m) < 0)
            return -ENOMEM;
        int pos = m->n++;
        m->x[pos] = x;
        m->trial[pos] = id;
        if (m->kind == M_NUM) {
            /* Insertion into the sorted order; equal values keep arrival
             * order. */
            int lo = 0, hi = pos;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (m->x[m->order[mid]] <= x)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memmove(m->order + lo + 1, m->order + lo, (size_t)(pos - lo) * sizeof *m->order);
            m->order[lo] = pos;
        }
    }
    t->n_trials++;
    return 0;
}

static int tpe_init(coord_search_t *s, hpt_err *err)
{
    const coord_spec_t *spec = s->spec;
    if (spec->max_trials <= 0)
        return hpt_err_set(err, -EINVAL, "budget.max_trials: required by method bayes");
    if (spec->n_params < 0 || spec->n_params > COORD_SPEC_MAX_PARAMS)
        return hpt_err_set(err, -EINVAL, "parameters: %d parameters (allowed 0..%d)",
                           spec->n_params, COORD_SPEC_MAX_PARAMS);
    const coord_tpe_cfg_t *c = &spec->tpe;
    if (c->n_startup < 0 || c->n_candidates < 1 || !(c->gamma > 0 && c->gamma <= 1) ||
        !(c->prior_weight > 0 && isfinite(c->prior_weight)))
        return hpt_err_set(err, -EINVAL, "tpe: settings out of range");
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        bool listed = p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
                      p->dist == COORD_PDIST_CATEGORICAL;
        if (listed && (p->n_values < 1 || !p->values))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: no values", p->name);
        if (!listed && !(p->min < p->max))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: min must be less than max",
                               p->name);
        if ((p->dist == COORD_PDIST_LOG_UNIFORM_VALUES ||
             p->dist == COORD_PDIST_Q_LOG_UNIFORM_VALUES) && !(p->min > 0))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: min must be greater than 0",
                               p->name);
        if (p->dist == COORD_PDIST_Q_UNIFORM && !(p->q > 0))
            return hpt_err_set(err, -EINVAL, "parameters.%.31s: q must be greater than 0",
                               p->name);
    }
    tpe_t *t = calloc(1, sizeof *t);
    if (!t)
        return hpt_err_set(err, -ENOMEM, "bayes: out of memory");
    t->cfg = *c;
    t->total = spec->max_trials;
    int rc = 0;
    for (int i = 0; i < spec->n_params && rc == 0; i++)
        rc = param_setup(&t->params[i], &spec->params[i]);
    /* The stratified start: a Latin hypercube over the first start-up
     * trials, one random permutation of the strata per parameter, drawn
     * here from the search's rng (so a replay draws the same). */
    if (rc == 0 && c->stratified && c->n_startup > 1 && spec->n_params > 0) {
        long n = c->n_startup < t->total ? c->n_startup : t->total;
        t->n_strata = (int)(n < TPE_MAX_STRATA ? n : TPE_MAX_STRATA);
        t->strata = calloc((size_t)t->n_strata * (size_t)spec->n_params, sizeof *t->strata);
        if (!t->strata)
            rc = -ENOMEM;
        for (int j = 0; j < spec->n_params && rc == 0; j++) {
            for (int i = 0; i < t->n_strata; i++) {
                int k = (int)hpt_rng_below(&s->rng, (uint32_t)i + 1);   // Fisher-Yates
                t->strata[(size_t)i * (size_t)spec->n_params + (size_t)j] =
                    t->strata[(size_t)k * (size_t)spec->n_params + (size_t)j];
                t->strata[(size_t)k * (size_t)spec->n_params + (size_t)j] = i;
            }
        }
    }
    if (rc == 0 && c->multivariate) {
        for (int i = 0; i < spec->n_params; i++)
            if (t->params[i].kind != M_CONST && spec->params[i].n_when == 0)
                t->joint[t->n_joint++] = i;
        if (t->n_joint < 2)
            t->n_joint = 0;   // one parameter: the independent model is the same search
    }
    /* The enqueued trials are trials 1..n_enqueue; search.c hands them out
     * before suggest() is ever called, so they are all pending from the
     * start. */
    for (int r = 0; r < spec->n_enqueue && rc == 0; r++)
        rc = add_trial(t, spec, spec->enqueue + (size_t)r * (size_t)spec->n_params);
    if (rc < 0) {
        tpe_free(t);
        return hpt_err_set(err, -ENOMEM, "bayes: out of memory");
    }
    s->state = t;
    return 0;
}

// ---------------------------------------------------------------------------
// Parzen estimators

/* Optuna's default_weights(n)[r]: 1 for the 25 most recent of n, a linear
 * ramp from 1/n (oldest) for the others. */
static double ramp_weight(int n, int r)
{
    if (n < TPE_MAX_BELOW)
        return 1.0;
    int m = n - TPE_MAX_BELOW;  // ramp length
    if (r >= m)
        return 1.0;
    if (m == 1)
        return 1.0 / n;
    return 1.0 / n + r * (1.0 - 1.0 / n) / (m - 1);
}

static int ensure_scratch(tpe_t *t, int n, int n_cand, int n_cat)
{
    if (n + 2 > t->scratch_cap) {
        int cap = t->scratch_cap ? t->scratch_cap : 64;
        while (cap < n + 2)
            cap *= 2;
        double *buf = realloc(t->buf, (size_t)cap * 2 * KMIX_ARRAYS * sizeof *buf);
        if (!buf)
            return -ENOMEM;
        t->buf = buf;
        int *rank = realloc(t->rank, (size_t)cap * sizeof *rank);
        if (!rank)
            return -ENOMEM;
        t->rank = rank;
        uint8_t *g = realloc(t->group, (size_t)cap);
        if (!g)
            return -ENOMEM;
        t->group = g;
        t->scratch_cap = cap;
    }
    size_t cap = (size_t)t->scratch_cap;
    kmix_t *mx[2] = {&t->below, &t->above};
    for (int k = 0; k < 2; k++) {
        double *b = t->buf + (size_t)k * KMIX_ARRAYS * cap;
        *mx[k] = (kmix_t){.mu = b, .sg = b + cap, .w = b + 2 * cap, .coef = b + 3 * cap,
                          .nmu = b + 4 * cap, .nisg = b + 5 * cap, .ncoef = b + 6 * cap,
                          .wmu = b + 7 * cap, .wisg = b + 8 * cap, .wcoef = b + 9 * cap};
    }
    if (!t->cand) {
        t->cand = calloc((size_t)n_cand, sizeof *t->cand);
        t->cand_x = calloc((size_t)n_cand, sizeof *t->cand_x);
        if (!t->cand || !t->cand_x)
            return -ENOMEM;
    }
    if (n_cat > t->cat_cap) {
        double *pl = realloc(t->pl, (size_t)n_cat * sizeof *pl);
        if (!pl)
            return -ENOMEM;
        t->pl = pl;
        double *pg = realloc(t->pg, (size_t)n_cat * sizeof *pg);
        if (!pg)
            return -ENOMEM;
        t->pg = pg;
        t->cat_cap = n_cat;
    }
    return 0;
}

/* Mass of N(mu, sigma) inside [lo, hi]. */
static double trunc_mass(double mu, double sigma, double lo, double hi)
{
    double a = (lo - mu) / sigma, b = (hi - mu) / sigma;
    if (a < -8.3 && b > 8.3)  // 1 within 1e-16
        return 1.0;
    /* Past 6 (8.49 sigma), erfc(-x) rounds to 2 and erfc(x) is below half
     * a unit in the last place of anything in [1, 2], so erfc(-b) - erfc(-a)
     * (b >= 0 as mu <= hi) is what it would be without calling them: the
     * shortcuts give the same bits, and skip erfc's costliest argument range. */
    double eb = -b / TPE_SQRT2 <= -6 ? 2.0 : erfc(-b / TPE_SQRT2);
    double z = 0.5 * (-a / TPE_SQRT2 >= 6 && eb >= 1 ? eb : eb - erfc(-a / TPE_SQRT2));
    return z > 1e-300 ? z : 1e-300;
}

/* Build mixture mx from the observations of m in group `which` (1 below,
 * 2 above; t->group and t->rank say who is where), in sorted order, plus
 * the prior kernel.  n_group is the group's size, for the weights. */
static void build_numeric(const tpe_t *t, const tparam_t *m, int which, int n_group, kmix_t *mx)
{
    double range = m->hi - m->lo, prior_mu = 0.5 * (m->lo + m->hi);
    int k = 0, prior_at = -1;
    double wsum = 0;
    for (int j = 0; j < m->n; j++) {
        int pos = m->order[j];
        if (t->group[pos] != which)
            continue;
        double x = m->x[pos];
        if (prior_at < 0 && prior_mu < x) {
            prior_at = k;
            mx->mu[k] = prior_mu;
            mx->w[k++] = t->cfg.prior_weight;
        }
        mx->mu[k] = x;
        mx->w[k++] = ramp_weight(n_group, t->rank[pos]);
    }
    if (prior_at < 0) {
        prior_at = k;
        mx->mu[k] = prior_mu;
        mx->w[k++] = t->cfg.prior_weight;
    }
    mx->n = k;
    /* Bandwidths: the larger gap to a neighbour, the range's ends standing
     * in for missing neighbours, except that (with two or more kernels) the
     * outermost ones use their inner gap (Optuna's consider_endpoints=False). */
    double minsigma = range / fmin(100.0, 1.0 + k), maxsigma = range;
    for (int i = 0; i < k; i++) {
        double left = mx->mu[i] - (i > 0 ? mx->mu[i - 1] : m->lo);
        double right = (i + 1 < k ? mx->mu[i + 1] : m->hi) - mx->mu[i];
        double sg = left > right ? left : right;
        if (k >= 2 && i == 0)
            sg = right;
        else if (k >= 2 && i == k - 1)
            sg = left;
        sg = sg < minsigma ? minsigma : sg > maxsigma ? maxsigma : sg;
        if (i == prior_at)
            sg = range;
        mx->sg[i] = sg;
        wsum += mx->w[i];
    }
    /* Narrow kernels are those at the minimum bandwidth (TPE_WIDE = 1): once
     * observations are dense, gaps fall below range / 100 and nearly all
     * kernels are clipped to it, so each reaches only ~9% of the range.  The
     * rest (sparse regions, the prior) are scanned always.  (With 2,000
     * trials this scans about a fifth of the kernels per candidate instead
     * of all of them; a wider TPE_WIDE widens every window.) */
    double tau = TPE_WIDE * minsigma;
    mx->n_narrow = mx->n_wide = 0;
    mx->reach = sqrt(TPE_SKIP_Z2) * tau;
    for (int i = 0; i < k; i++) {
        mx->w[i] /= wsum;
        /* tpe.equal_heights: every kernel peaks at w / mass (Optuna 3.1's
         * log_pdf leaves out the normal density's 1 / sigma), so a wide
         * kernel counts more than its normalized density says. */
        double h = t->cfg.equal_heights ? 1 : mx->sg[i];
        mx->coef[i] = mx->w[i] / (h * trunc_mass(mx->mu[i], mx->sg[i], m->lo, m->hi));
        if (mx->sg[i] <= tau) {
            int j = mx->n_narrow++;
            mx->nmu[j] = mx->mu[i];
            mx->nisg[j] = 1.0 / mx->sg[i];
            mx->ncoef[j] = mx->coef[i];
        } else {
            int j = mx->n_wide++;
            mx->wmu[j] = mx->mu[i];
            mx->wisg[j] = 1.0 / mx->sg[i];
            mx->wcoef[j] = mx->coef[i];
        }
    }
}

/* log of the mixture's density at x, up to the constant 1/sqrt(2 pi) that
 * l and g share. */
static double mix_logpdf(const kmix_t *mx, double x)
{
    double acc = 0;
    for (int i = 0; i < mx->n_wide; i++) {
        double z = (x - mx->wmu[i]) * mx->wisg[i], z2 = z * z;
        if (z2 < TPE_SKIP_Z2)
            acc += mx->wcoef[i] * exp(-0.5 * z2);
    }
    /* The first narrow kernel with mu >= x - reach, then on while mu <= x + reach. */
    int lo = 0, hi = mx->n_narrow;
    double from = x - mx->reach, to = x + mx->reach;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mx->nmu[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int i = lo; i < mx->n_narrow && mx->nmu[i] <= to; i++) {
        double z = (x - mx->nmu[i]) * mx->nisg[i], z2 = z * z;
        if (z2 < TPE_SKIP_Z2)
            acc += mx->ncoef[i] * exp(-0.5 * z2);
    }
    return acc > 0 ? log(acc) : -INFINITY;
}

/* Model-space bounds of the rounding cell of value v (a multiple of q):
 * [v - q/2, v + q/2] within the kernels' support. */
static void cell(const tparam_t *m, double v, double *a, double *b)
{
    double lo = v - 0.5 * m->q, hi = v + 0.5 * m->q;
    if (m->log) {
        lo = lo > 0 ? log(lo) : m->lo;
        hi = log(hi);
    }
    *a = lo < m->lo ? m->lo : lo;
    *b = hi > m->hi ? m->hi : hi;
}

/* Mass of N(mu, sigma) on [a, b], a <= b. */
static double gauss_mass(double mu, double sigma, double a, double b)
{
    double za = (a - mu) / sigma, zb = (b - mu) / sigma;
    if (za > 9 || zb < -9)
        return 0;
    /* erfc on the tail side keeps the difference accurate far from mu. */
    if (za > 0)
        return 0.5 * (erfc(za / TPE_SQRT2) - erfc(zb / TPE_SQRT2));
    return 0.5 * (erfc(-zb / TPE_SQRT2) - erfc(-za / TPE_SQRT2));
}

#define TPE_LOG_SQRT_2PI 0.91893853320467274178

/* log of the mass of N(mu, sigma) on [a, b]: when the cell is narrow
 * against sigma (w = b - a <= sigma / 2), with no erfc, by the midpoint
 * rule with its second-order term, w phi(z) / sigma (1 + r^2 (z^2 - 1) /
 * 24), r = w / sigma (the logarithm of the bracket taken as its argument:
 * within 0.1% of the exact mass inside 3 sigma), so that a lattice costs
 * about what a continuous parameter costs; exactly otherwise.  -inf when
 * negligible. */
static double log_cell_mass(double mu, double sigma, double a, double b)
{
    double w = b - a;
    if (w <= 0.5 * sigma) {
        double z = (0.5 * (a + b) - mu) / sigma, r = w / sigma;
        if (z * z > TPE_SKIP_Z2)
            return -INFINITY;
        return log(r) - TPE_LOG_SQRT_2PI - 0.5 * z * z + r * r * (z * z - 1) / 24;
    }
    double m = gauss_mass(mu, sigma, a, b);
    return m > 0 ? log(m) : -INFINITY;
}

/* log of the mixture's probability of the rounding cell [a, b] (model
 * space): for parameters on a lattice (q > 0), as Optuna does, since a
 * kernel narrower than a cell would otherwise count its peak density. */
static double mix_logmass(const kmix_t *mx, bool equal_heights, double a, double b)
{
    /* coef * sigma (coef alone with equal heights) = w / truncation mass.
     * Narrow kernels further than `reach` from the cell cannot count (as
     * in mix_logpdf): only those in the window are looked at. */
    double acc = 0;
    for (int i = 0; i < mx->n_wide; i++) {
        double sg = 1 / mx->wisg[i];
        acc += mx->wcoef[i] * (equal_heights ? 1 : sg) *
               exp(log_cell_mass(mx->wmu[i], sg, a, b));
    }
    int lo = 0, hi = mx->n_narrow;
    double from = a - mx->reach, to = b + mx->reach;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (mx->nmu[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int i = lo; i < mx->n_narrow && mx->nmu[i] <= to; i++) {
        double sg = 1 / mx->nisg[i];
        acc += mx->ncoef[i] * (equal_heights ? 1 : sg) *
               exp(log_cell_mass(mx->nmu[i], sg, a, b));
    }
    return acc > 0 ? log(acc) : -INFINITY;
}

/* A draw from mixture mx restricted to [lo, hi]: a kernel by weight, then a
 * truncated normal by rejection (each kernel has at least a third of its
 * mass inside, since sigma <= range and mu is inside). */
static double mix_sample(hpt_rng_t *rng, const kmix_t *mx, double lo, double hi)
{
    double u = hpt_rng_uniform(rng), cum = 0;
    int k = mx->n - 1;
    for (int i = 0; i < mx->n; i++) {
        cum += mx->w[i];
        if (u < cum) {
            k = i;
            break;
        }
    }
    for (int tries = 0; tries < TPE_MAX_REJECT; tries++) {
        double x = mx->mu[k] + mx->sg[k] * hpt_rng_normal(rng);
        if (x >= lo && x <= hi)
            return x;
    }
    return mx->mu[k] < lo ? lo : mx->mu[k] > hi ? hi : mx->mu[k];
}

/* Model-space x to a value of the parameter (rounded and clamped). */
static double from_model(const tparam_t *m, double x)
{
    double v = m->log ? exp(x) : x;
    if (m->q > 0)
        v = round(v / m->q) * m->q;
    return v < m->vmin ? m->vmin : v > m->vmax ? m->vmax : v;
}

/* Classify the observations of m: group[pos] (0 skipped, 1 below, 2 above)
 * and rank[pos], the chronological rank within the group.  Returns the
 * group sizes. */
static void classify(tpe_t *t, const tparam_t *m, int *n_below, int *n_above)
{
    int nb = 0, na = 0;
    for (int pos = 0; pos < m->n; pos++) {
        const ttrial_t *tr = &t->trials[m->trial[pos]];
        if (tr->state == T_PENDING && !t->cfg.constant_liar) {
            t->group[pos] = 0;
        } else if (tr->below) {
            t->group[pos] = 1;
            t->rank[pos] = nb++;
        } else {
            t->group[pos] = 2;
            t->rank[pos] = na++;
        }
    }
    *n_below = nb;
    *n_above = na;
}

static int suggest_numeric(tpe_t *t, hpt_rng_t *rng, const tparam_t *m, coord_pval_t *out)
{
    int nb, na;
    classify(t, m, &nb, &na);
    build_numeric(t, m, 1, nb, &t->below);
    build_numeric(t, m, 2, na, &t->above);
    int best = 0;
    double best_score = -INFINITY;
    for (int c = 0; c < t->cfg.n_candidates; c++) {
        double x = mix_sample(rng, &t->below, m->lo, m->hi);
        double v = from_model(m, x);
        double score;
        if (m->q > 0) {
            double a, b;
            cell(m, v, &a, &b);
            score = mix_logmass(&t->below, t->cfg.equal_heights, a, b) -
                    mix_logmass(&t->above, t->cfg.equal_heights, a, b);
        } else {
            score = mix_logpdf(&t->below, x) - mix_logpdf(&t->above, x);
        }
        t->cand[c] = v;
        if (score > best_score) {  // NaN never wins; the first of equals does
            best_score = score;
            best = c;
        }
    }
    *out = (coord_pval_t){.num = t->cand[best]};
    return 0;
}

/* Category probabilities of the observations of m in group `which`. */
static void build_categorical(const tpe_t *t, const tparam_t *m, int which, int n_group,
                              double *p)
{
    int K = m->n_cat;
    double a = t->cfg.prior_weight / (n_group + 1);  // Optuna: prior_weight / (n + 1)
    double wsum = t->cfg.prior_weight, obs_mass = 0;
    for (int k = 0; k < K; k++)
        p[k] = 0;
    for (int pos = 0; pos < m->n; pos++) {
        if (t->group[pos] != which)
            continue;
        double w = ramp_weight(n_group, t->rank[pos]);
        /* Kernel: (a K prior + onehot) / (a K + 1); its prior part is
         * accumulated in obs_mass and spread once at the end. */
        p[(int)m->x[pos]] += w / (a * K + 1);
        obs_mass += w * a * K / (a * K + 1);
        wsum += w;
    }
    for (int k = 0; k < K; k++)
        p[k] = (p[k] + (obs_mass + t->cfg.prior_weight) * m->prior[k]) / wsum;
}

static int suggest_categorical(tpe_t *t, hpt_rng_t *rng, const tparam_t *m,
                               const coord_param_t *p, coord_pval_t *out)
{
    int nb, na;
    classify(t, m, &nb, &na);
    build_categorical(t, m, 1, nb, t->pl);
    build_categorical(t, m, 2, na, t->pg);
    int best = -1;
    double best_score = -INFINITY;
    for (int c = 0; c < t->cfg.n_candidates; c++) {
        double u = hpt_rng_uniform(rng), cum = 0;
        int k = -1, last = 0;
        for (int j = 0; j < m->n_cat; j++) {
            if (t->pl[j] <= 0)
                continue;
            last = j;
            cum += t->pl[j];
            if (u < cum) {
                k = j;
                break;
            }
        }
        if (k < 0)
            k = last;  // rounding left u past the last edge
        double score = log(t->pl[k]) - log(t->pg[k]);
        if (best < 0 || score > best_score) {
            best_score = score;
            best = k;
        }
    }
    *out = p->values[best];
    return 0;
}

// ---------------------------------------------------------------------------
// The multivariate model (tpe.multivariate)

/* One joint Parzen estimator over the parameters t->joint: one kernel per
 * trial of the group, plus the prior kernel (the last).  Numeric dimension
 * d of kernel j is a truncated Gaussian N(mu[d][j], sg[d]) on [lo, hi]
 * (Optuna's multivariate bandwidth: the same for every observation, Scott's
 * rule 0.2 n^(-1/(D+4)) of the range, clipped as in the independent model;
 * the prior kernel sits mid-range with sigma = range); categorical
 * dimension d of kernel j puts (a K prior + onehot(x)) / (a K + 1) on the
 * values, a = prior_weight / (n + 1), as the independent model does, and
 * the prior kernel the parameter's own distribution. */
typedef struct jmix {
    int n;              // kernels (the prior last)
    double *w;          // n: normalized weights
    double *logw;       // n
    double *x;          // n_joint x n: model-space value (M_CAT: index; -1 for the prior)
    double *sg;         // n_joint x n: sigma (M_NUM)
    double *lognorm;    // n_joint x n: M_NUM: -log(sigma * truncation mass); -log(truncation
                        // mass) for lattice parameters (scored by mass) and with equal heights
    double *logsg;      // n_joint x n: M_NUM: log(sigma)
    double *a;          // n_joint: M_CAT: a K / (a K + 1) spread by the prior; M_NUM unused
} jmix_t;

static void jmix_free(jmix_t *j)
{
    free(j->w);
    free(j->logw);
    free(j->x);
    free(j->sg);
    free(j->lognorm);
    free(j->logsg);
    free(j->a);
}

/* Build the estimator of the trials whose group[] is `which` (1 below,
 * 2 above); group and rank are indexed by trial. */
static int jmix_build(const tpe_t *t, const uint8_t *group, const int *rank, int which,
                      int n_group, jmix_t *j)
{
    int D = t->n_joint, n = n_group + 1;
    *j = (jmix_t){.n = n};
    j->w = malloc((size_t)n * sizeof *j->w);
    j->logw = malloc((size_t)n * sizeof *j->logw);
    j->x = malloc((size_t)n * (size_t)D * sizeof *j->x);
    j->sg = malloc((size_t)n * (size_t)D * sizeof *j->sg);
    j->lognorm = malloc((size_t)n * (size_t)D * sizeof *j->lognorm);
    j->logsg = malloc((size_t)n * (size_t)D * sizeof *j->logsg);
    j->a = malloc((size_t)D * sizeof *j->a);
    if (!j->w || !j->logw || !j->x || !j->sg || !j->lognorm || !j->logsg || !j->a)
        return -ENOMEM;
    int k = 0;
    double wsum = 0;
    for (int id = 0; id < t->n_trials; id++) {
        if (group[id] != which)
            continue;
        j->w[k] = ramp_weight(n_group, rank[id]);
        for (int d = 0; d < D; d++)
            j->x[(size_t)d * (size_t)n + (size_t)k] = t->params[t->joint[d]].x[id];
        wsum += j->w[k++];
    }
    j->w[k] = t->cfg.prior_weight;   // k == n_group: the prior kernel
    wsum += j->w[k];
    for (int i = 0; i < n; i++) {
        j->w[i] /= wsum;
        j->logw[i] = log(j->w[i]);
    }
    double scott = TPE_SCOTT * pow(n_group > 1 ? n_group : 1, -1.0 / (D + 4));
    for (int d = 0; d < D; d++) {
        const tparam_t *m = &t->params[t->joint[d]];
        double *x = j->x + (size_t)d * (size_t)n, *sg = j->sg + (size_t)d * (size_t)n;
        double *ln = j->lognorm + (size_t)d * (size_t)n, *ls = j->logsg + (size_t)d * (size_t)n;
        if (m->kind == M_CAT) {
            double a = t->cfg.prior_weight / (n_group + 1);
            j->a[d] = a * m->n_cat;
            x[n - 1] = -1;
            continue;
        }
        double range = m->hi - m->lo;
        double lo_s = range / fmin(100.0, 1.0 + n), s0 = scott * range;
        s0 = s0 < lo_s ? lo_s : s0 > range ? range : s0;
        x[n - 1] = 0.5 * (m->lo + m->hi);
        double ls0 = log(s0), lrange = log(range);   // one log per bandwidth, not per kernel
        for (int i = 0; i < n; i++) {
            sg[i] = i == n - 1 ? range : s0;
            ls[i] = i == n - 1 ? lrange : ls0;
            ln[i] = -log(trunc_mass(x[i], sg[i], m->lo, m->hi)) -
                    (m->q > 0 || t->cfg.equal_heights ? 0 : ls[i]);
        }
    }
    return 0;
}

/* log of the joint density at the candidate xs (model space, n_joint
 * values; vs the same as values), up to the constants l and g share (a
 * lattice dimension counts the kernel's mass on the value's rounding cell,
 * as the independent model does); scratch holds 2 n doubles. */
TPE_SIMD_CLONES
static double jmix_logpdf(const tpe_t *t, const jmix_t *j, const double *xs, const double *vs,
                          double *scratch)
{
    int D = t->n_joint, n = j->n;
    for (int i = 0; i < n; i++)
        scratch[i] = j->logw[i];
    for (int d = 0; d < D; d++) {
        const tparam_t *m = &t->params[t->joint[d]];
        const double *x = j->x + (size_t)d * (size_t)n;
        if (m->kind == M_CAT) {
            int c = (int)xs[d];
            double a = j->a[d], pr = m->prior[c];
            double lhit = log((a * pr + 1) / (a + 1)), lmiss = log(a * pr / (a + 1));
            for (int i = 0; i < n - 1; i++)
                scratch[i] += x[i] == c ? lhit : lmiss;   // x holds exact small integers
            scratch[n - 1] += log(pr);
            continue;
        }
        const double *sg = j->sg + (size_t)d * (size_t)n, *ln = j->lognorm + (size_t)d * (size_t)n;
        const double *ls = j->logsg + (size_t)d * (size_t)n;
        if (m->q > 0) {
            /* -log(truncation mass) + log(cell mass), log_cell_mass's
             * midpoint rule inlined with the logs hoisted. */
            double a, b;
            cell(m, vs[d], &a, &b);
            double w = b - a, mid = 0.5 * (a + b), s0 = sg[0], is0 = 1 / s0;
            if (w <= 0.5 * s0) {
                /* Every observation's kernel has sigma s0 (the prior, the
                 * last, its own): one branch, no division in the loop. */
                double r2 = w * is0 * w * is0 / 24, base = log(w) - TPE_LOG_SQRT_2PI - ls[0];
                for (int i = 0; i < n - 1; i++) {
                    double z = (mid - x[i]) * is0, z2 = z * z;
                    scratch[i] += ln[i] + base - 0.5 * z2 + r2 * (z2 - 1);
                }
            } else {
                for (int i = 0; i < n - 1; i++)
                    scratch[i] += ln[i] + log_cell_mass(x[i], s0, a, b);
            }
            scratch[n - 1] += ln[n - 1] + log_cell_mass(x[n - 1], sg[n - 1], a, b);
            continue;
        }
        /* Every observation's kernel has the same sigma; the prior (the
         * last) its own. */
        double xd = xs[d], is = 1 / sg[0];
        for (int i = 0; i < n - 1; i++) {
            double z = (xd - x[i]) * is;
            scratch[i] += ln[i] - 0.5 * z * z;
        }
        double z = (xd - x[n - 1]) / sg[n - 1];
        scratch[n - 1] += ln[n - 1] - 0.5 * z * z;
    }
    /* The largest, in four independent lanes (max does not depend on the
     * order; one chain of maxsd would wait on itself 2,000 times). */
    double m4[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int i4 = 0;
    for (; i4 + 4 <= n; i4 += 4)
        for (int l = 0; l < 4; l++)
            m4[l] = scratch[i4 + l] > m4[l] ? scratch[i4 + l] : m4[l];
    for (; i4 < n; i4++)
        m4[0] = scratch[i4] > m4[0] ? scratch[i4] : m4[0];
    double mx = m4[0];
    for (int l = 1; l < 4; l++)
        mx = m4[l] > mx ? m4[l] : mx;
    if (!(mx > -INFINITY))
        return -INFINITY;
    /* Kernels below e^-30 of the largest change the sum by less than
     * n e^-30 (1e-10 for 10,000 trials): no exp() for them.  The others
     * are gathered first (no branch), then summed in kernel order. */
    double thr = mx - 30, *live = scratch + n;
    int k = 0;
    for (int i = 0; i < n; i++) {
        live[k] = scratch[i] - mx;
        k += scratch[i] > thr;
    }
    double acc = 0;
    for (int i = 0; i < k; i++)
        acc += exp(live[i]);
    return mx + log(acc);
}

/* Fill vals[] of the joint parameters: n_candidates draws from l (a kernel
 * by weight, then each dimension from it), the one with the largest
 * log l - log g wins (the first on ties). */
static int suggest_joint(tpe_t *t, hpt_rng_t *rng, const coord_spec_t *spec, coord_pval_t *vals)
{
    int D = t->n_joint, nt = t->n_trials, rc = -ENOMEM;
    uint8_t *group = malloc((size_t)nt + 1);
    int *rank = malloc(((size_t)nt + 1) * sizeof *rank);
    double *scratch = malloc(2 * ((size_t)nt + 2) * sizeof *scratch);
    /* A candidate in model space (cx) and as values (cv; M_CAT: the index),
     * and the best candidate's values. */
    double *cx = malloc((size_t)D * sizeof *cx), *cv = malloc((size_t)D * sizeof *cv);
    double *bx = malloc((size_t)D * sizeof *bx);
    jmix_t l = {0}, g = {0};
    if (!group || !rank || !scratch || !cx || !cv || !bx)
        goto out;
    int nb = 0, na = 0;
    for (int id = 0; id < nt; id++) {
        const ttrial_t *tr = &t->trials[id];
        if (tr->state == T_PENDING && !t->cfg.constant_liar) {
            group[id] = 0;
        } else if (tr->below) {
            group[id] = 1;
            rank[id] = nb++;
        } else {
            group[id] = 2;
            rank[id] = na++;
        }
    }
    if (jmix_build(t, group, rank, 1, nb, &l) < 0 || jmix_build(t, group, rank, 2, na, &g) < 0)
        goto out;
    double best = -INFINITY;
    for (int c = 0; c < t->cfg.n_candidates; c++) {
        double u = hpt_rng_uniform(rng), cum = 0;
        int k = l.n - 1;
        for (int i = 0; i < l.n; i++) {
            cum += l.w[i];
            if (u < cum) {
                k = i;
                break;
            }
        }
        for (int d = 0; d < D; d++) {
            const tparam_t *m = &t->params[t->joint[d]];
            double xk = l.x[(size_t)d * (size_t)l.n + (size_t)k];
            if (m->kind == M_CAT) {
                /* The kernel's distribution: with probability a K / (a K + 1)
                 * the prior, else the observed value. */
                double ak = l.a[d];
                int v;
                if (xk < 0 || hpt_rng_uniform(rng) < ak / (ak + 1)) {
                    double w = hpt_rng_uniform(rng), cp = 0;
                    v = -1;
                    int last = 0;
                    for (int q = 0; q < m->n_cat; q++) {
                        if (m->prior[q] <= 0)
                            continue;
                        last = q;
                        cp += m->prior[q];
                        if (w < cp) {
                            v = q;
                            break;
                        }
                    }
                    if (v < 0)
                        v = last;
                } else {
                    v = (int)xk;
                }
                cx[d] = cv[d] = v;
                continue;
            }
            double sg = l.sg[(size_t)d * (size_t)l.n + (size_t)k], x = xk;
            int tries = 0;
            for (; tries < TPE_MAX_REJECT; tries++) {
                x = xk + sg * hpt_rng_normal(rng);
                if (x >= m->lo && x <= m->hi)
                    break;
            }
            if (tries == TPE_MAX_REJECT)
                x = xk < m->lo ? m->lo : xk > m->hi ? m->hi : xk;
            cv[d] = from_model(m, x);
            cx[d] = m->log ? log(cv[d]) : cv[d];   // the rounded value, back in model space
        }
        double score = jmix_logpdf(t, &l, cx, cv, scratch) - jmix_logpdf(t, &g, cx, cv, scratch);
        if (c == 0 || score > best || isnan(best)) {   // the first of equals wins
            best = score;
            memcpy(bx, cv, (size_t)D * sizeof *bx);
        }
    }
    for (int d = 0; d < D; d++) {
        int i = t->joint[d];
        if (t->params[i].kind == M_CAT)
            vals[i] = spec->params[i].values[(int)bx[d]];
        else
            vals[i] = (coord_pval_t){.num = bx[d]};
    }
    rc = 0;
out:
    jmix_free(&l);
    jmix_free(&g);
    free(group);
    free(rank);
    free(scratch);
    free(cx);
    free(cv);
    free(bx);
    return rc;
}

// ---------------------------------------------------------------------------
// The strategy

static int tpe_suggest(coord_search_t *s, coord_pval_t *vals)
{
    tpe_t *t = s->state;
    const coord_spec_t *spec = s->spec;
    if (s->suggested >= t->total)
        return COORD_SEARCH_DONE;
    long own = s->suggested - spec->n_enqueue;   // this trial among the search's own, from 0
    if (t->n_done < t->cfg.n_startup && t->strata && own >= 0 && own < t->n_strata) {
        /* Stratified start: parameter j of start-up trial `own` is drawn
         * from its stratum of the parameter's distribution. */
        for (int j = 0; j < spec->n_params; j++) {
            if (!coord_spec_active(spec, j, vals)) {
                vals[j] = (coord_pval_t){.absent = true};
                continue;
            }
            int k = t->strata[(size_t)own * (size_t)spec->n_params + (size_t)j];
            double u = (k + hpt_rng_uniform(&s->rng)) / t->n_strata;
            vals[j] = coord__search_quantile(&spec->params[j], u);
        }
    } else if (t->n_done < t->cfg.n_startup) {
        coord__search_sample_all(spec, &s->rng, vals);
    } else {
        /* l(x): the best n_below scored trials. */
        int n_below = (int)ceil(t->cfg.gamma * t->n_done);
        if (n_below > TPE_MAX_BELOW)
            n_below = TPE_MAX_BELOW;
        if (n_below > t->n_best)
            n_below = t->n_best;
        for (int b = 0; b < n_below; b++)
            t->trials[t->best[b]].below = 1;
        int max_n = 0, max_cat = 0;
        for (int i = 0; i < spec->n_params; i++) {
            max_n = t->params[i].n > max_n ? t->params[i].n : max_n;
            max_cat = t->params[i].n_cat > max_cat ? t->params[i].n_cat : max_cat;
        }
        int rc = ensure_scratch(t, max_n, t->cfg.n_candidates, max_cat);
        bool joint[COORD_SPEC_MAX_PARAMS] = {false};
        bool aligned = true;   // every trial has each joint parameter (always, once validated)
        for (int d = 0; d < t->n_joint; d++)
            aligned = aligned && t->params[t->joint[d]].n == t->n_trials;
        if (rc == 0 && t->n_joint > 0 && aligned) {
            /* The unconditional parameters jointly first; the conditional
             * ones then read them (their when: names earlier parameters). */
            rc = suggest_joint(t, &s->rng, spec, vals);
            for (int d = 0; d < t->n_joint; d++)
                joint[t->joint[d]] = true;
        }
        for (int i = 0; i < spec->n_params && rc == 0; i++) {
            const coord_param_t *p = &spec->params[i];
            tparam_t *m = &t->params[i];
            if (joint[i])
                continue;
            if (!coord_spec_active(spec, i, vals))
                vals[i] = (coord_pval_t){.absent = true};
            else if (m->kind == M_CONST)
                vals[i] = p->values[0];
            else if (m->kind == M_NUM)
                rc = suggest_numeric(t, &s->rng, m, &vals[i]);
            else
                rc = suggest_categorical(t, &s->rng, m, p, &vals[i]);
        }
        for (int b = 0; b < n_below; b++)
            t->trials[t->best[b]].below = 0;
        if (rc < 0)
            return COORD_SEARCH_WAIT;  // out of memory: ask again later
    }
    if (add_trial(t, spec, vals) < 0)
        return COORD_SEARCH_WAIT;
    return COORD_SEARCH_OK;
}

static void tpe_observe(coord_search_t *s, uint64_t trial, double score)
{
    tpe_t *t = s->state;
    if (trial < 1 || trial > (uint64_t)t->n_trials)
        return;  // not a trial this search suggested
    int id = (int)(trial - 1);
    ttrial_t *tr = &t->trials[id];
    if (tr->state != T_PENDING)
        return;  // observed twice: the first observation stands
    if (!isfinite(score)) {
        tr->state = T_FAILED;
        return;
    }
    tr->state = T_DONE;
    tr->loss = s->spec->maximize ? -score : score;
    t->n_done++;
    /* Keep the best TPE_MAX_BELOW by (loss, trial number). */
    int k = t->n_best;
    while (k > 0) {
        const ttrial_t *o = &t->trials[t->best[k - 1]];
        if (o->loss < tr->loss || (o->loss == tr->loss && t->best[k - 1] < id))
            break;
        k--;
    }
    if (k >= TPE_MAX_BELOW)
        return;
    int n = t->n_best < TPE_MAX_BELOW ? t->n_best + 1 : TPE_MAX_BELOW;
    memmove(t->best + k + 1, t->best + k, (size_t)(n - 1 - k) * sizeof *t->best);
    t->best[k] = id;
    t->n_best = n;
}

static bool tpe_done(const coord_search_t *s)
{
    const tpe_t *t = s->state;
    return s->suggested >= t->total;
}

static long tpe_total(const coord_search_t *s)
{
    const tpe_t *t = s->state;
    return t->total;
}

static void tpe_fini(coord_search_t *s)
{
    tpe_free(s->state);
    s->state = NULL;
}

const coord_search_ops_t coord_search_bayes = {
    .name = "bayes",
    .init = tpe_init,
    .suggest = tpe_suggest,
    .observe_epoch = NULL,  // TPE learns from final scores only
    .observe = tpe_observe,
    .done = tpe_done,
    .total = tpe_total,
    .fini = tpe_fini,
};
