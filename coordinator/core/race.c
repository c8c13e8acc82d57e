/*
 * race.c: racing the leaders after the search (select: {race: true}), so
 * that the trial the sweep refits is a winner backed by evidence rather
 * than the luck of one set of CV splits.
 *
 * The procedure (docs/spec.md, "select"; docs/architecture.md, "Racing"):
 *   - look 0, when the search has ended: the top `top` done trials by mean
 *     are the leaders;
 *   - at every look, the leader with the best mean over its splits is the
 *     reference, and every other leader still in is tested against it with
 *     the corrected resampled t-test (Nadeau & Bengio 2003) on their paired
 *     splits; Holm's step-down procedure at level alpha / (max_repeats + 1)
 *     drops those significantly worse (the smallest p first, against
 *     a' / m, then a' / (m - 1), ..., stopping at the first that holds);
 *   - race round r then gives every leader still in CV repeat
 *     cv.repeats + r - 1 (every fold, every cv.seeds training: new shuffles,
 *     the same splits for every leader, so comparisons stay paired, and new
 *     training seeds, since a task's seed is a function of its split), and
 *     look r follows when the round's tasks are all done;
 *   - the race stops when one leader is left (certified), after
 *     max_repeats rounds, or when the next round would pass the budget
 *     (budget_tasks, by default 30 % of the search's tasks); several
 *     leaders left are a tie, broken by the cheapest to train (parameters x
 *     epochs) or, with tie_break: best_mean, by the best mean.
 *
 * Family-wise error: there are at most max_repeats + 1 looks, each of which
 * controls its family (the leaders in at that look) at alpha / (max_repeats
 * + 1) by Holm; by the union bound (Bonferroni over the looks), the chance
 * that any look drops a leader whose true mean is the best is at most
 * alpha, however the looks depend on each other.
 *
 * A race task is a coord_task_t of its leader's trial whose index lies past
 * the trial's search splits (coord_task_is_race), allocated on its own and
 * owned by the race.  Every decision is a pure function of the race tasks'
 * results and the trials' search results, so resume rebuilds the race
 * exactly from the journaled tasks (hpt__race_resume).
 *
 * No I/O: tasks, journal records and events go through the core's helpers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aggregate.h"
#include "internal.h"
#include "log.h"

// --- shape ----------------------------------------------------------------------

static int search_splits(const coord_sweep_t *s)
{
    return s->spec->cv.folds * s->spec->cv.repeats;
}

/* The slot of a race task of leader li in round r (1-based), position q
 * (fold * seeds + seed_rep) within the round. */
static size_t slot(const coord_race_t *rc, int li, int r, int q)
{
    return ((size_t)li * (size_t)rc->max_rounds + (size_t)(r - 1)) * (size_t)rc->per_round +
           (size_t)q;
}

/* The leader index of trial tr, or -1. */
static int leader_of(const coord_race_t *rc, const coord_trial_t *tr)
{
    for (int i = 0; i < rc->n; i++)
        if (rc->v[i].trial == tr)
            return i;
    return -1;
}

/* Round (1-based) and position of race task t. */
static void task_place(const coord_task_t *t, int per_round, int *r, int *q)
{
    int x = t->index - t->trial->n_tasks;
    *r = x / per_round + 1;
    *q = x % per_round;
}

/* Score of split j (search splits first, then the race's) of leader li:
 * the mean over its cv.seeds trainings; NaN unless all are done. */
static double split_score(const coord_sweep_t *s, int li, int j)
{
    const coord_race_t *rc = s->race;
    const coord_trial_t *tr = rc->v[li].trial;
    int ns = search_splits(s);
    if (j < ns)
        return coord_trial_split_score(tr, j, s->spec->objective_train);
    int folds = s->spec->cv.folds, seeds = s->spec->seeds;
    int r = (j - ns) / folds + 1, fold = (j - ns) % folds;
    if (r > rc->rounds)
        return NAN;
    double sum = 0;
    for (int e = 0; e < seeds; e++) {
        const coord_task_t *t = rc->tasks[slot(rc, li, r, fold * seeds + e)];
        if (!t || t->state != TASK_DONE || !t->res)
            return NAN;
        sum += s->spec->objective_train ? t->res->train_score : t->res->score;
    }
    return sum / seeds;
}

/* The cost of training tr: its parameters (the named datasets' 784 inputs
 * and 10 classes; an idx: dataset's shape is not known to the coordinator,
 * so 1 input and 2 classes, which ranks by the hidden layers) times its
 * epochs. */
static double trial_cost(const coord_sweep_t *s, const coord_trial_t *tr)
{
    hpt_hparams_t hp;
    if (coord_trial_hparams(tr, &hp) < 0)
        return INFINITY;
    bool idx = strncmp(s->spec->dataset, "idx:", 4) == 0;
    double in = idx ? 1 : 784, out = idx ? 2 : 10, params = 0;
    for (int l = 0; l < hp.layers && l < HPT_MAX_LAYERS; l++) {
        params += in * hp.units[l] + hp.units[l];
        in = hp.units[l];
    }
    params += in * out + out;
    return params * hp.epochs;
}

/* The 0.975 quantile of Student's t with dof degrees of freedom, by
 * bisection on coord_agg_t_pvalue (two-sided p = 0.05). */
static double t975(int dof)
{
    double lo = 0, hi = 1000;
    for (int i = 0; i < 80; i++) {
        double mid = (lo + hi) / 2;
        if (coord_agg_t_pvalue(mid, dof) > 0.05)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

// --- creation ---------------------------------------------------------------------

static void race_free(coord_core_t *k, coord_race_t *rc, bool unmap)
{
    if (!rc)
        return;
    size_t n = (size_t)rc->n * (size_t)rc->max_rounds * (size_t)rc->per_round;
    for (size_t i = 0; rc->tasks && i < n; i++) {
        coord_task_t *t = rc->tasks[i];
        if (!t)
            continue;
        if (unmap && hpt__map_get(k, t->id) == t)
            hpt__map_del(k, t->id);
        hpt__task_free(t);
    }
    for (int i = 0; rc->v && i < rc->n; i++)
        free(rc->v[i].mean);
    free(rc->v);
    free(rc->tasks);
    free(rc);
}

void hpt__race_free(coord_core_t *k, coord_sweep_t *s, bool unmap)
{
    race_free(k, s->race, unmap);
    s->race = NULL;
}

/* The leaders: the top `top` done trials by mean (ties: the earlier trial),
 * the race's arrays allocated.  Returns the race, or NULL out of memory. */
static coord_race_t *race_new(coord_sweep_t *s)
{
    const coord_race_cfg_t *cfg = &s->spec->race;
    coord_race_t *rc = calloc(1, sizeof *rc);
    if (!rc)
        return NULL;
    rc->max_rounds = cfg->max_repeats;
    rc->per_round = s->spec->cv.folds * s->spec->seeds;
    rc->alpha_look = coord_sweep_alpha(s) / (cfg->max_repeats + 1);
    int top = cfg->top;
    rc->v = calloc((size_t)top, sizeof *rc->v);
    if (!rc->v) {
        free(rc);
        return NULL;
    }
    /* Selection by insertion: at most `top` (<= 100) kept, in order. */
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        if (tr->state != TRIAL_DONE || isnan(tr->mean))
            continue;
        int at = rc->n;
        while (at > 0 && hpt__better(s, tr->mean, rc->v[at - 1].trial->mean))
            at--;
        if (at >= top)
            continue;
        int last = rc->n < top ? rc->n : top - 1;
        memmove(&rc->v[at + 1], &rc->v[at], (size_t)(last - at) * sizeof *rc->v);
        rc->v[at] = (coord_race_leader_t){.trial = tr};
        if (rc->n < top)
            rc->n++;
    }
    size_t looks = (size_t)rc->max_rounds + 1;
    for (int i = 0; i < rc->n; i++) {
        coord_race_leader_t *l = &rc->v[i];
        l->mean = malloc(2 * looks * sizeof(double));
        if (!l->mean) {
            race_free(NULL, rc, false);
            return NULL;
        }
        l->half = l->mean + looks;
        for (size_t j = 0; j < 2 * looks; j++)
            l->mean[j] = NAN;
        l->p_drop = NAN;
        l->cost = trial_cost(s, l->trial);
    }
    size_t n = (size_t)(rc->n > 0 ? rc->n : 1) * looks * (size_t)rc->per_round;
    rc->tasks = calloc(n, sizeof *rc->tasks);
    if (!rc->tasks) {
        race_free(NULL, rc, false);
        return NULL;
    }
    /* The budget: by default 30 % of the search's tasks, rounded up.  They
     * are counted from the trials (trials x folds x repeats x seeds), not
     * from tasks_total, which a trial that failed live lowered and a
     * rebuilt one does not: a resumed race must have the same budget. */
    long search_tasks = 0;
    for (size_t i = 0; i < s->n_trials; i++)
        search_tasks += s->trials[i]->n_tasks;
    rc->budget = cfg->budget_tasks > 0 ? cfg->budget_tasks : (search_tasks * 3 + 9) / 10;
    return rc;
}

// --- looks ---------------------------------------------------------------------------

static int n_in(const coord_race_t *rc)
{
    int n = 0;
    for (int i = 0; i < rc->n; i++)
        n += rc->v[i].dropped_at == 0;
    return n;
}

typedef struct pv {
    int li;
    double p;
} pv_t;

static int by_p(const void *a, const void *b)
{
    const pv_t *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? -1 : 1;
    return x->li - y->li;
}

/* Take look rc->looks: means and intervals of the leaders in, the
 * reference (best mean), Holm's drops.  Returns 0 or -ENOMEM. */
static int race_look(coord_core_t *k, coord_sweep_t *s)
{
    coord_race_t *rc = s->race;
    int look = rc->looks;
    int n = search_splits(s) + rc->rounds * s->spec->cv.folds;
    int folds = s->spec->cv.folds;
    double *x = malloc(sizeof *x * (size_t)n * (size_t)(rc->n + 1));
    pv_t *pv = malloc(sizeof *pv * (size_t)(rc->n > 0 ? rc->n : 1));
    if (!x || !pv) {
        free(x);
        free(pv);
        return -ENOMEM;
    }
    int ref = -1;
    double tq = t975(n - 1);
    for (int i = 0; i < rc->n; i++) {
        coord_race_leader_t *l = &rc->v[i];
        if (l->dropped_at)
            continue;
        double *xi = x + (size_t)i * (size_t)n;
        for (int j = 0; j < n; j++)
            xi[j] = split_score(s, i, j);
        double m, sd;
        coord_agg_mean_std(xi, n, &m, &sd);
        /* The interval of the mean with the same correction as the test:
         * var (1/n + n_test/n_train), the sample variance (ddof 1). */
        double var = n > 1 ? sd * sd * n / (n - 1) : NAN;
        l->mean[look] = m;
        l->half[look] = tq * sqrt((1.0 / n + 1.0 / (folds - 1)) * var);
        if (ref < 0 || hpt__better(s, m, rc->v[ref].mean[look]))
            ref = i;
    }
    int m = 0;
    for (int i = 0; i < rc->n && ref >= 0; i++) {
        if (rc->v[i].dropped_at || i == ref)
            continue;
        coord_agg_ttest_t t;
        double p = 1.0;
        if (coord_agg_nb_ttest(x + (size_t)ref * (size_t)n, x + (size_t)i * (size_t)n, n,
                               1.0 / (folds - 1), &t) == 0)
            p = t.p;
        pv[m++] = (pv_t){.li = i, .p = p};
    }
    qsort(pv, (size_t)m, sizeof *pv, by_p);
    char dropped[256] = "";
    size_t off = 0;
    for (int i = 0; i < m; i++) {
        if (!(pv[i].p < rc->alpha_look / (m - i)))
            break;   // Holm: the first that holds stops the procedure
        coord_race_leader_t *l = &rc->v[pv[i].li];
        l->dropped_at = look + 1;
        l->p_drop = pv[i].p;
        if (off < sizeof dropped)
            off += (size_t)snprintf(dropped + off, sizeof dropped - off, "%s%llu",
                                    off ? "," : "", (unsigned long long)l->trial->number);
    }
    rc->looks++;
    s->results_gen++;
    hpt__event(k, COORD_EV_RACE_ROUND, k->replaying ? HPT_LOG_DEBUG : -1, s->id,
               "sweep=%llu look=%d repeats=%d splits=%d best_trial=%llu best_mean=%.6f "
               "dropped=%s left=%d alpha_look=%.6g",
               (unsigned long long)s->id, look, rc->rounds, n,
               (unsigned long long)(ref >= 0 ? rc->v[ref].trial->number : 0),
               ref >= 0 ? rc->v[ref].mean[look] : NAN, dropped[0] ? dropped : "none", n_in(rc),
               rc->alpha_look);
    free(x);
    free(pv);
    return 0;
}

/* Decide: the winner among the leaders in, the verdict, the sweep's best. */
static void race_finish(coord_core_t *k, coord_sweep_t *s, coord_race_stop_t why)
{
    coord_race_t *rc = s->race;
    int last = rc->looks > 0 ? rc->looks - 1 : 0, win = -1, left = n_in(rc);
    for (int i = 0; i < rc->n; i++) {
        const coord_race_leader_t *l = &rc->v[i];
        if (l->dropped_at)
            continue;
        if (win < 0) {
            win = i;
            continue;
        }
        const coord_race_leader_t *w = &rc->v[win];
        bool take;
        if (s->spec->race.tie_best_mean || l->cost == w->cost)
            take = hpt__better(s, l->mean[last], w->mean[last]);
        else
            take = l->cost < w->cost;
        if (take)
            win = i;
    }
    rc->stop = why;
    rc->outcome = left <= 1 ? COORD_RACE_CERTIFIED : COORD_RACE_TIE;
    if (win >= 0) {
        rc->winner = rc->v[win].trial;
        s->best = rc->winner;
    }
    static const char *const stops[] = {"", "one leader left", "max_repeats reached",
                                        "budget spent", "a race task failed"};
    unsigned long long wn = rc->winner ? (unsigned long long)rc->winner->number : 0;
    /* The repeats behind the verdict: the rounds whose look was taken (a
     * round a failed task cut short adds none). */
    int repeats = rc->looks > 0 ? rc->looks - 1 : 0;
    if (rc->outcome == COORD_RACE_CERTIFIED)
        snprintf(s->race_verdict, sizeof s->race_verdict,
                 "the winner is significantly better than every other leader after %d repeats "
                 "(trial %llu; %d leaders, %ld extra tasks)",
                 repeats, wn, rc->n, rc->tasks_created);
    else
        snprintf(s->race_verdict, sizeof s->race_verdict,
                 "%d trials remain indistinguishable after %d repeats; choosing the %s among "
                 "them (trial %llu; %s, %ld extra tasks)",
                 left, repeats,
                 s->spec->race.tie_best_mean ? "one with the best mean" : "cheapest to train",
                 wn, stops[why], rc->tasks_created);
    s->results_gen++;
    hpt__event(k, COORD_EV_RACE_DONE, k->replaying ? HPT_LOG_DEBUG : -1, s->id,
               "sweep=%llu outcome=%s winner=%llu repeats=%d left=%d tasks=%ld stop=%s "
               "verdict=%s",
               (unsigned long long)s->id,
               rc->outcome == COORD_RACE_CERTIFIED ? "certified" : "tie", wn, repeats, left,
               rc->tasks_created, hpt__q(k, stops[why]), hpt__q(k, s->race_verdict));
}

/* Create (and queue, unless resuming) the tasks of round rc->rounds + 1
 * for every leader in.  Returns 0 or -ENOMEM. */
static int race_round(coord_core_t *k, coord_sweep_t *s)
{
    coord_race_t *rc = s->race;
    int r = ++rc->rounds;
    for (int i = 0; i < rc->n; i++) {
        if (rc->v[i].dropped_at)
            continue;
        coord_trial_t *tr = rc->v[i].trial;
        for (int q = 0; q < rc->per_round; q++) {
            if (rc->tasks[slot(rc, i, r, q)])
                continue;
            coord_task_t *t = hpt__task_new(k, tr, tr->n_tasks + (r - 1) * rc->per_round + q,
                                            false);
            if (!t)
                return -ENOMEM;
            rc->tasks[slot(rc, i, r, q)] = t;
            rc->tasks_created++;
            s->tasks_total++;
            hpt__q_push(k, t, false);
        }
    }
    hpt__event(k, COORD_EV_RACE_ROUND, HPT_LOG_DEBUG, s->id,
               "sweep=%llu round=%d leaders=%d tasks=%ld", (unsigned long long)s->id, r,
               n_in(rc), rc->tasks_created);
    return 0;
}

/* After a look: stop, or (when start) start the next round.  Resume calls
 * it with start false: the next round's tasks may be in the journal. */
static int race_next(coord_core_t *k, coord_sweep_t *s, bool start)
{
    coord_race_t *rc = s->race;
    int left = n_in(rc);
    if (left <= 1)
        race_finish(k, s, COORD_RACE_STOP_ONE_LEFT);
    else if (rc->failed)
        race_finish(k, s, COORD_RACE_STOP_FAILED);
    else if (rc->rounds >= rc->max_rounds)
        race_finish(k, s, COORD_RACE_STOP_MAX_REPEATS);
    else if (rc->tasks_created + (long)left * rc->per_round > rc->budget)
        race_finish(k, s, COORD_RACE_STOP_BUDGET);
    else if (start)
        return race_round(k, s);
    return 0;
}

static bool round_done(const coord_race_t *rc, int r)
{
    for (int i = 0; i < rc->n; i++) {
        if (rc->v[i].dropped_at && rc->v[i].dropped_at <= r)
            continue;   // dropped at look r - 1 or before: not in round r
        for (int q = 0; q < rc->per_round; q++) {
            const coord_task_t *t = rc->tasks[slot(rc, i, r, q)];
            if (!t || t->state != TASK_DONE)
                return false;
        }
    }
    return true;
}

// --- entry points from sched.c ---------------------------------------------------------

bool hpt__race_step(coord_core_t *k, coord_sweep_t *s)
{
    if (!s->spec->race.on || s->state >= SWEEP_REFITTING)
        return false;
    int rc_ = 0;
    if (!s->race) {
        s->race = race_new(s);
        if (!s->race) {
            hpt__event(k, COORD_EV_OUT_OF_MEMORY, -1, s->id, "sweep=%llu what=race",
                       (unsigned long long)s->id);
            return false;   // the search's best is refitted
        }
        coord_race_t *rc = s->race;
        char who[512] = "";
        size_t off = 0;
        for (int i = 0; i < rc->n && off < sizeof who; i++)
            off += (size_t)snprintf(who + off, sizeof who - off, "%s%llu", i ? "," : "",
                                    (unsigned long long)rc->v[i].trial->number);
        hpt__event(k, COORD_EV_RACE_STARTED, -1, s->id,
                   "sweep=%llu leaders=%s max_repeats=%d budget_tasks=%ld alpha=%g "
                   "alpha_look=%.6g",
                   (unsigned long long)s->id, who, rc->max_rounds, rc->budget,
                   coord_sweep_alpha(s), rc->alpha_look);
        if ((rc_ = race_look(k, s)) == 0)
            rc_ = race_next(k, s, true);
    } else if (s->race->outcome == COORD_RACE_RUNNING) {
        coord_race_t *rc = s->race;
        if (rc->looks == rc->rounds + 1)
            rc_ = race_next(k, s, true);   // resumed between a look and the next round
        else if (rc->failed)
            race_finish(k, s, COORD_RACE_STOP_FAILED);
        else if (round_done(rc, rc->rounds) && (rc_ = race_look(k, s)) == 0)
            rc_ = race_next(k, s, true);
    }
    if (rc_ < 0) {
        /* Out of memory: stop where the race stands, as a failed task
         * does, rather than leave the sweep waiting for nothing. */
        hpt__event(k, COORD_EV_OUT_OF_MEMORY, -1, s->id, "sweep=%llu what=race",
                   (unsigned long long)s->id);
        hpt__race_task_failed(k, s, NULL);
        if (s->race->outcome == COORD_RACE_RUNNING)
            race_finish(k, s, COORD_RACE_STOP_FAILED);
    }
    if (s->race->outcome != COORD_RACE_RUNNING)
        return false;
    if (s->qhead)
        hpt__dispatch(k);
    return true;
}

void hpt__race_task_done(coord_core_t *k, coord_task_t *t)
{
    (void)k;
    coord_race_t *rc = coord_task_sweep(t)->race;
    if (rc)
        rc->tasks_done++;
}

void hpt__race_task_failed(coord_core_t *k, coord_sweep_t *s, coord_task_t *t)
{
    coord_race_t *rc = s->race;
    if (!rc)
        return;
    /* The round cannot be completed: its other tasks are cancelled and the
     * last look stands (race_step decides when nothing is pending). */
    rc->failed = true;
    size_t n = (size_t)rc->n * (size_t)rc->max_rounds * (size_t)rc->per_round;
    for (size_t i = 0; i < n; i++)
        if (rc->tasks[i] && rc->tasks[i] != t) {
            if (rc->tasks[i]->state == TASK_QUEUED || rc->tasks[i]->state == TASK_LEASED)
                s->tasks_total--;
            hpt__task_cancel(k, rc->tasks[i], "race stopped: a race task failed");
        }
}

void hpt__race_cancel(coord_core_t *k, coord_sweep_t *s, const char *why)
{
    coord_race_t *rc = s->race;
    if (!rc)
        return;
    size_t n = (size_t)rc->n * (size_t)rc->max_rounds * (size_t)rc->per_round;
    for (size_t i = 0; i < n; i++)
        if (rc->tasks[i])
            hpt__task_cancel(k, rc->tasks[i], why);
}

void hpt__race_each_task(const coord_sweep_t *s, void (*cb)(const coord_task_t *t, void *ud),
                         void *ud)
{
    const coord_race_t *rc = s->race;
    if (!rc)
        return;
    size_t n = (size_t)rc->n * (size_t)rc->max_rounds * (size_t)rc->per_round;
    for (size_t i = 0; i < n; i++)
        if (rc->tasks[i])
            cb(rc->tasks[i], ud);
}

// --- resume ------------------------------------------------------------------------

int hpt__race_resume(coord_core_t *k, coord_sweep_t *s, coord_task_t **pend, size_t n_pend,
                     bool finished, char *bad, size_t len)
{
    if (n_pend == 0)
        return 0;   // the race had not started: race_step starts it
    if (!s->spec->race.on) {
        snprintf(bad, len, "task %llu is a race task, but the spec does not race",
                 (unsigned long long)pend[0]->id);
        return -EINVAL;
    }
    for (size_t i = 0; i < s->n_trials; i++)
        if (s->trials[i]->state == TRIAL_RUNNING) {
            snprintf(bad, len, "race tasks, but trial %llu had not finished",
                     (unsigned long long)s->trials[i]->number);
            return -EINVAL;
        }
    s->race = race_new(s);
    if (!s->race)
        return -ENOMEM;
    coord_race_t *rc = s->race;
    int rc_ = race_look(k, s);
    if (rc_ == 0)
        rc_ = race_next(k, s, false);
    size_t used = 0;
    while (rc_ == 0 && used < n_pend) {
        int r = rc->rounds + 1;
        if (rc->outcome != COORD_RACE_RUNNING || r > rc->max_rounds)
            break;
        /* This round's journaled tasks into their slots. */
        int got = 0;
        for (size_t i = 0; i < n_pend; i++) {
            coord_task_t *t = pend[i];
            if (!t)
                continue;
            int tr_, q;
            task_place(t, rc->per_round, &tr_, &q);
            if (tr_ != r)
                continue;
            int li = leader_of(rc, t->trial);
            if (li < 0 || rc->v[li].dropped_at || rc->tasks[slot(rc, li, r, q)]) {
                snprintf(bad, len,
                         "task %llu: race round %d of trial %llu, which is not a leader in "
                         "that round, or twice",
                         (unsigned long long)t->id, r, (unsigned long long)t->trial->number);
                return -EINVAL;
            }
            rc->tasks[slot(rc, li, r, q)] = t;
            rc->tasks_created++;
            if (t->state == TASK_DONE)
                rc->tasks_done++;
            if (t->state == TASK_FAILED)
                rc->failed = true;
            pend[i] = NULL;
            used++;
            got++;
        }
        if (!got)
            break;
        s->tasks_total += got;
        /* The crash came between some of the round's tasks and the others
         * being journaled: create the missing ones (race_round skips the
         * slots taken).  A finished sweep runs nothing more. */
        if (finished)
            rc->rounds = r;
        else if ((rc_ = race_round(k, s)) < 0)
            break;
        if (!round_done(rc, r) || rc->failed)
            break;
        if ((rc_ = race_look(k, s)) == 0)
            rc_ = race_next(k, s, false);
    }
    if (rc_ < 0)
        return rc_;
    if (used < n_pend) {
        for (size_t i = 0; i < n_pend; i++)
            if (pend[i]) {
                snprintf(bad, len, "task %llu: a race task the race would not have created",
                         (unsigned long long)pend[i]->id);
                break;
            }
        return -EINVAL;
    }
    if (rc->failed && rc->outcome == COORD_RACE_RUNNING && finished)
        race_finish(k, s, COORD_RACE_STOP_FAILED);
    return 0;
}

// --- description ---------------------------------------------------------------------

const char *coord_race_describe(const coord_sweep_t *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (s->race_verdict[0]) {
        snprintf(buf, len, "%s", s->race_verdict);
    } else if (s->race) {
        const coord_race_t *rc = s->race;
        if (s->state >= SWEEP_DONE)
            snprintf(buf, len, "race stopped in round %d of %d (the sweep ended)", rc->rounds,
                     rc->max_rounds);
        else
            snprintf(buf, len, "racing: round %d of at most %d, %d of %d leaders in, %ld of %ld "
                     "extra tasks done (budget %ld)",
                     rc->rounds, rc->max_rounds, n_in(rc), rc->n, rc->tasks_done,
                     rc->tasks_created, rc->budget);
    } else if (s->spec->race.on && s->state < SWEEP_DONE) {
        snprintf(buf, len, "race pending: the top %d leaders race once the search ends",
                 s->spec->race.top);
    }
    return buf;
}
