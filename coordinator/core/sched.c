/*
 * sched.c: sweeps and trials: submission, trial creation from the search,
 * leasing (credit-based: a worker never holds more tasks than free slots),
 * results, retries, trial aggregation, the refit, cancellation, stalls and
 * the sweep's end.  No I/O: sends, journal records and events go to the
 * outbox (outbox.h); where a task is belongs to tasks.c.
 *
 * Invariants kept here:
 *   - a result counts only when (task, attempt, sender) match the current
 *     lease; anything else is a late or duplicate result and is dropped, so
 *     no fold is ever counted twice;
 *   - trials are created lazily, one suggestion at a time, when a worker has
 *     a free slot and the sweep's queue is empty;
 *   - every suggested trial is observed by the search exactly once.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_aggregate.h"
#include "internal.h"
#include "log.h"
#include "proto_io.h"
#include "rng.h"
#include "train.h"

void hpt__str_set(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

void hpt__trial_error(coord_trial_t *tr, const char *fmt, ...)
{
    /* At most 255 bytes, as the fixed buffer the trial used to carry. */
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    hpt__str_set(&tr->error, buf[0] ? buf : NULL);   // "" is no error, as before
}

static const char *const sweep_state_names[] = {"queued", "running", "refitting",
                                                "done",   "failed",  "cancelled"};
static const char *const trial_state_names[] = {"running", "done", "failed", "cancelled"};
static const char *const task_state_names[] = {"queued", "leased",    "done",
                                               "failed", "cancelled", "waiting"};

const char *coord_sweep_state_name(coord_sweep_state_t s)
{
    return (unsigned)s <= SWEEP_CANCELLED ? sweep_state_names[s] : "unknown";
}

const char *coord_trial_state_name(coord_trial_state_t s)
{
    return (unsigned)s <= TRIAL_CANCELLED ? trial_state_names[s] : "unknown";
}

const char *coord_task_state_name(coord_task_state_t s)
{
    return (unsigned)s <= TASK_WAITING ? task_state_names[s] : "unknown";
}

// --- lifecycle ----------------------------------------------------------------

int coord_core_init(coord_core_t *k, const coord_core_cfg_t *cfg, double wall_offset)
{
    *k = (coord_core_t){.cfg = *cfg, .wall_offset = wall_offset, .next_sweep_id = 1,
                        .next_task_id = 1};
    return cfg->random ? 0 : -EINVAL;   // session secrets need a source of randomness
}

void hpt__sweep_free(coord_sweep_t *s)
{
    hpt__race_free(NULL, s, false);   // before the trials its tasks belong to
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        for (int j = 0; j < tr->n_tasks; j++)
            hpt__task_free(tr->tasks[j]);
        free(tr->error);
        free(tr);   // its tasks, task pointers and values live in the same block
    }
    free(s->trials);
    free(s->fam);
    free(s->pvals);
    hpt__task_free(s->refit_task);
    coord_search_destroy(&s->search);
    coord_spec_destroy(&s->spec);
    free(s->spec_text);
    free(s->sum);   // an unloaded sweep's summary (resume.c)
    free(s);
}

void coord_core_free(coord_core_t *k)
{
    for (coord_sweep_t *s = k->sweeps, *n; s; s = n) {
        n = s->next;
        hpt__sweep_free(s);
    }
    hpt__workers_free(k);
    free(k->map);
    free(k->map_old);
    for (size_t i = 0; i < k->ids_cap; i++)
        free(k->ids[i]);
    free(k->ids);
    coord_outbox_free(&k->out);
    coord_core_cfg_t cfg = k->cfg;
    double off = k->wall_offset;
    coord_core_init(k, &cfg, off);
}

void coord_core_set_ids(coord_core_t *k, uint64_t max_sweep, uint64_t max_task,
                        uint64_t first_task)
{
    if (first_task > k->next_task_id)
        k->next_task_id = first_task;
    if (max_sweep + 1 > k->next_sweep_id)
        k->next_sweep_id = max_sweep + 1;
    if (max_task + 1 > k->next_task_id)
        k->next_task_id = max_task + 1;
}

void coord_core_stop(coord_core_t *k)
{
    k->stopping = true;
}

double coord_core_wall(const coord_core_t *k, double now)
{
    return now + k->wall_offset;
}

coord_sweep_t *coord_sweep_find(const coord_core_t *k, uint64_t id)
{
    for (coord_sweep_t *s = k->sweeps; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

// --- submission ---------------------------------------------------------------

static void sweep_set_state(coord_core_t *k, coord_sweep_t *s, coord_sweep_state_t st)
{
    s->state = st;
    double now = hpt__unix(k);
    if (st == SWEEP_RUNNING && !s->started)
        s->started = now;
    if (st >= SWEEP_DONE)
        s->finished = now;
    hpt__j_sweep_state(k, s->id, coord_sweep_state_name(st), now, s->error[0] ? s->error : NULL);
}

/* Free a sweep that never entered the core's list. */
static void sweep_discard(coord_sweep_t *s)
{
    coord_search_destroy(&s->search);
    free(s->spec_text);
    coord_spec_destroy(&s->spec);
    free(s);
}

int coord_core_submit(coord_core_t *k, double now, const char *text, const char *path,
                      const char *fingerprint, coord_sweep_t **out, hpt_err *err)
{
    return coord_core_submit_ds(k, now, text, path, NULL, fingerprint, NULL, out, err);
}

int coord_core_submit_owned(coord_core_t *k, double now, const char *text, const char *path,
                            const char *fingerprint, const char *owner, coord_sweep_t **out,
                            hpt_err *err)
{
    return coord_core_submit_ds(k, now, text, path, NULL, fingerprint, owner, out, err);
}

int coord_core_submit_ds(coord_core_t *k, double now, const char *text, const char *path,
                         const char *dataset, const char *fingerprint, const char *owner,
                         coord_sweep_t **out, hpt_err *err)
{
    k->now = now;
    *out = NULL;
    coord_spec_t *spec = NULL;
    int rc = coord_spec_parse(text, strlen(text), path, &spec, err);
    if (rc == 0 && (rc = coord_spec_check_model(spec, err)) < 0)
        coord_spec_destroy(&spec);   // no worker could train it (docs/spec.md, "Limits")
    if (rc < 0)
        return rc;
    if (!fingerprint || !fingerprint[0] || strlen(fingerprint) >= 65) {
        rc = hpt_err_set(err, -EINVAL, "%s: dataset %s: no fingerprint from the coordinator's "
                         "own copy", path, dataset ? dataset : spec->dataset);
        coord_spec_destroy(&spec);
        return rc;
    }
    if (dataset && dataset[0]) {
        if (strlen(dataset) >= sizeof spec->dataset) {
            rc = hpt_err_set(err, -EINVAL, "%s: dataset name too long", path);
            coord_spec_destroy(&spec);
            return rc;
        }
        snprintf(spec->dataset, sizeof spec->dataset, "%s", dataset);
    }
    coord_sweep_t *s = calloc(1, sizeof *s);
    if (!s) {
        coord_spec_destroy(&spec);
        return hpt_err_set(err, -ENOMEM, "out of memory");
    }
    s->spec = spec;
    s->spec_text = strdup(text);
    rc = coord_search_new(&s->search, spec, err);
    if (rc < 0 || !s->spec_text) {
        if (rc == 0)
            rc = hpt_err_set(err, -ENOMEM, "out of memory");
        sweep_discard(s);
        return rc;
    }
    long total = coord_search_total(s->search);
    int splits = spec->cv.folds * spec->cv.repeats * spec->seeds;   // tasks per trial
    if (total > 0 && (int64_t)total * splits > COORD_MAX_SWEEP_TASKS) {
        rc = hpt_err_set(err, -EINVAL,
                         "%s: the sweep has %ld trials x %d tasks (folds x repeats x seeds) = "
                         "%lld tasks; the limit is %lld (reduce the grid or budget.max_trials)",
                         path, total, splits, (long long)total * splits,
                         (long long)COORD_MAX_SWEEP_TASKS);
        sweep_discard(s);
        return rc;
    }
    s->id = k->next_sweep_id++;
    snprintf(s->owner, sizeof s->owner, "%s", owner ? owner : "");
    s->state = SWEEP_QUEUED;
    s->created = hpt__unix(k);
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s", fingerprint);
    if (total > 0)
        s->tasks_total = (int64_t)total * splits;
    if (k->sweeps_tail)
        k->sweeps_tail->next = s;
    else
        k->sweeps = s;
    k->sweeps_tail = s;
    hpt__j_sweep_add(k, s->id, spec->name, path, text, spec->priority, s->created,
                     s->fingerprint, s->owner, spec->dataset);
    hpt__event(k, COORD_EV_SWEEP_SUBMITTED, -1, s->id,
               "sweep=%llu name=%s method=%s dataset=%s trials=%ld folds=%d repeats=%d "
               "priority=%d fingerprint=%.12s",
               (unsigned long long)s->id, hpt__q(k, spec->name), coord_method_name(spec->method),
               hpt__q(k, spec->dataset), total, spec->cv.folds, spec->cv.repeats, spec->priority,
               s->fingerprint[0] ? s->fingerprint : "unknown");
    *out = s;
    hpt__dispatch(k);
    return 0;
}

// --- trials and tasks -----------------------------------------------------------

coord_task_t *hpt__task_alloc(coord_trial_t *tr, int index, bool refit)
{
    /* A trial's tasks live in its block (zeroed until created); only the
     * refit, which belongs to no split, is allocated on its own. */
    bool own = refit || index >= tr->n_tasks;   // the refit and race tasks (race.c)
    coord_task_t *t = own ? calloc(1, sizeof *t) : &tr->block[index];
    if (!t)
        return NULL;
    t->trial = tr;
    t->index = refit ? -1 : index;
    return t;
}

coord_task_result_t *hpt__task_result_new(coord_task_t *t)
{
    if (coord_task_is_refit(t) || coord_task_is_race(t))
        return calloc(1, sizeof(coord_task_result_t));
    coord_task_result_t *res = &t->trial->results[t->index];
    *res = (coord_task_result_t){0};
    return res;
}

void hpt__task_result_set(coord_task_result_t *res, const coord_result_t *r, double finished,
                          const char *done_by)
{
    *res = (coord_task_result_t){
        .score = r->score, .train_score = r->train_score, .fit_seconds = r->fit_seconds,
        .finished_unix = finished, .done_by = done_by, .epochs = r->epochs,
        .resumed_from = r->resumed_from,
    };
}

coord_task_t *hpt__task_new(coord_core_t *k, coord_trial_t *tr, int index, bool refit)
{
    coord_task_t *t = hpt__task_alloc(tr, index, refit);
    if (!t)
        return NULL;
    t->id = k->next_task_id++;
    if (hpt__map_put(k, t) < 0) {
        hpt__task_free(t);
        return NULL;
    }
    hpt__j_task_add(k, t->id, tr->sweep->id, tr->number, coord_task_fold(t),
                    coord_task_repeat(t), coord_task_seed_rep(t), refit);
    return t;
}

static void params_json(const coord_sweep_t *s, const coord_pval_t *vals, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "{");
    for (int i = 0; i < s->spec->n_params && off < len; i++) {
        const coord_param_t *p = &s->spec->params[i];
        char v[64];
        coord_pval_format(p, &vals[i], v, sizeof v);
        if (vals[i].absent)   // a conditional parameter that does not apply
            snprintf(v, sizeof v, "null");
        bool quote = p->kind == COORD_PKIND_ENUM && !vals[i].absent;
        off += (size_t)snprintf(buf + off, len - off, "%s\"%s\":%s%s%s", i ? "," : "", p->name,
                                quote ? "\"" : "", v, quote ? "\"" : "");
    }
    if (off < len)
        snprintf(buf + off, len - off, "}");
}

_Static_assert(COORD_SPEC_MAX_PARAMS <= 32, "a trial's absent and interned masks are 32 bits");

/* The index of value v in s->pvals, added if new; -ENOMEM.  A sweep's enum
 * values are few (each parameter's names), so a scan is cheap. */
static long pval_intern(coord_sweep_t *s, const coord_pval_t *v)
{
    for (size_t i = 0; i < s->n_pvals; i++)
        if (s->pvals[i].num == v->num && memcmp(s->pvals[i].str, v->str, sizeof v->str) == 0)
            return (long)i;
    if (s->n_pvals == s->cap_pvals) {
        size_t cap = s->cap_pvals ? s->cap_pvals * 2 : 8;
        coord_pval_t *pv = realloc(s->pvals, cap * sizeof *pv);
        if (!pv)
            return -ENOMEM;
        s->pvals = pv;
        s->cap_pvals = cap;
    }
    s->pvals[s->n_pvals] = (coord_pval_t){.num = v->num};
    memcpy(s->pvals[s->n_pvals].str, v->str, sizeof v->str);
    return (long)s->n_pvals++;
}

void coord_trial_values(const coord_trial_t *tr, coord_pval_t *out)
{
    const coord_sweep_t *s = tr->sweep;
    for (int i = 0; i < s->spec->n_params; i++) {
        if (tr->absent >> i & 1u)
            out[i] = (coord_pval_t){.absent = true};
        else if (tr->interned >> i & 1u)
            out[i] = s->pvals[(size_t)tr->vnum[i]];
        else
            out[i] = (coord_pval_t){.num = tr->vnum[i]};
    }
}

// --- epoch families ---------------------------------------------------------------

/* The index of the parameter whose values make epoch families, or -1 when
 * the sweep has none: trials share a split's model seed (model_seed:
 * shared), the search does not promote trials itself (hyperband and asha
 * do), and `epochs` takes more than one value. */
static int family_param(const coord_spec_t *spec)
{
    if (spec->seed_per_trial || spec->resource_param >= 0)
        return -1;
    for (int i = 0; i < spec->n_params; i++) {
        const coord_param_t *p = &spec->params[i];
        if (strcmp(p->name, "epochs") == 0)
            return p->kind == COORD_PKIND_INT && p->dist != COORD_PDIST_VALUE ? i : -1;
    }
    return -1;
}

/* Trial tr's epochs, or -1 when it has no epochs value of its own. */
static long trial_epochs(const coord_trial_t *tr, int ep)
{
    if (tr->absent >> ep & 1u || tr->interned >> ep & 1u)
        return -1;
    return (long)tr->vnum[ep];
}

static uint64_t family_hash(const coord_trial_t *tr, int ep)
{
    const coord_sweep_t *s = tr->sweep;
    uint32_t mask = ~(1u << ep);
    uint64_t h = 1469598103934665603ULL ^ (tr->absent & mask) ^ (uint64_t)(tr->interned & mask)
                                                                  << 32;
    for (int i = 0; i < s->spec->n_params; i++) {
        if (i == ep)
            continue;
        uint64_t v;
        double x = tr->absent >> i & 1u ? 0 : tr->vnum[i];
        memcpy(&v, &x, sizeof v);
        h = (h ^ v) * 1099511628211ULL;
        h ^= h >> 29;
    }
    return h;
}

/* Whether a and b have the same values except epochs (the same value
 * interned twice is one index: enum values are interned once). */
static bool family_same(const coord_trial_t *a, const coord_trial_t *b, int ep)
{
    uint32_t mask = ~(1u << ep);
    if ((a->absent & mask) != (b->absent & mask) || (a->interned & mask) != (b->interned & mask))
        return false;
    for (int i = 0; i < a->sweep->spec->n_params; i++)
        if (i != ep && !(a->absent >> i & 1u) && a->vnum[i] != b->vnum[i])
            return false;
    return true;
}

static int family_grow(coord_sweep_t *s, int ep)
{
    size_t cap = s->fam_cap ? s->fam_cap * 2 : 64;
    coord_trial_t **t = calloc(cap, sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < s->fam_cap; i++) {
        coord_trial_t *x = s->fam[i];
        if (!x)
            continue;
        size_t j = family_hash(x, ep) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = x;
    }
    free(s->fam);
    s->fam = t;
    s->fam_cap = cap;
    return 0;
}

/* Enter tr (values set, sweep set) into its epoch family and, unless the
 * search already named a parent, make the member with the most epochs
 * below tr's its parent.  A no-op for sweeps without families.  Returns 0
 * or -ENOMEM. */
static int family_join(coord_sweep_t *s, coord_trial_t *tr)
{
    int ep = family_param(s->spec);
    long e = ep >= 0 ? trial_epochs(tr, ep) : -1;
    if (e < 0)
        return 0;
    if ((s->fam_len + 1) * 2 > s->fam_cap && family_grow(s, ep) < 0)
        return -ENOMEM;
    size_t j = family_hash(tr, ep) & (s->fam_cap - 1);
    coord_trial_t *head = NULL;
    for (; s->fam[j]; j = (j + 1) & (s->fam_cap - 1))
        if (family_same(s->fam[j], tr, ep)) {
            head = s->fam[j];
            break;
        }
    if (!head) {
        s->fam[j] = tr;
        s->fam_len++;
        return 0;
    }
    coord_trial_t *best = NULL, *last = head;
    long best_e = -1;
    for (coord_trial_t *m = head; m; m = m->fam_next) {
        long me = trial_epochs(m, ep);
        if (me < e && me > best_e && m->n_tasks > 0) {
            best = m;
            best_e = me;
        }
        last = m;
    }
    last->fam_next = tr;
    if (best && !tr->parent)
        tr->parent = best->number;
    return 0;
}

/* The task of tr's parent that t (a task of tr) continues, or NULL. */
static coord_task_t *parent_task(const coord_task_t *t)
{
    const coord_trial_t *tr = t->trial;
    if (coord_task_is_refit(t) || !tr->parent)
        return NULL;
    const coord_trial_t *p = tr->sweep->trials[tr->parent - 1];
    return t->index < p->n_tasks ? p->tasks[t->index] : NULL;
}

static bool task_pending(const coord_task_t *t)
{
    return t && (t->state == TASK_QUEUED || t->state == TASK_LEASED || t->state == TASK_WAITING);
}

bool hpt__task_should_wait(const coord_task_t *t)
{
    /* Only epoch families wait: a promotion is created once its parent
     * has finished. */
    return task_pending(parent_task(t));
}

void hpt__task_release_kids(coord_core_t *k, coord_task_t *t)
{
    if (coord_task_is_refit(t) || coord_task_sweep(t)->state >= SWEEP_DONE)
        return;
    for (coord_trial_t *c = t->trial->kids; c; c = c->kid_next) {
        coord_task_t *ct = t->index < c->n_tasks ? c->tasks[t->index] : NULL;
        if (ct && ct->state == TASK_WAITING) {
            hpt__wait_end(ct);
            /* At the front: the worker that holds the model is likely to
             * have a slot now, the one this task's result freed. */
            hpt__q_push(k, ct, true);
        }
    }
}

coord_trial_t *hpt__trial_next(coord_sweep_t *s, char *pj, size_t len, bool *done)
{
    *done = false;
    if (s->exhausted || s->state >= SWEEP_REFITTING)
        return NULL;
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    int r = coord_search_suggest(s->search, vals);
    if (r == COORD_SEARCH_DONE) {
        s->exhausted = true;
        *done = true;
        return NULL;
    }
    if (r != COORD_SEARCH_OK)
        return NULL;
    /* A value is stored as its number unless it carries text (an enum) or
     * is absent, so 8 bytes a parameter instead of a coord_pval_t's 48. */
    size_t np = (size_t)s->spec->n_params;
    double vnum[COORD_SPEC_MAX_PARAMS];
    uint32_t absent = 0, interned = 0;
    for (size_t i = 0; i < np; i++) {
        vnum[i] = vals[i].num;
        if (vals[i].absent) {
            absent |= 1u << i;
            vnum[i] = 0;
        } else if (s->spec->params[i].kind == COORD_PKIND_ENUM || vals[i].str[0]) {
            long x = pval_intern(s, &vals[i]);
            if (x < 0)
                return NULL;
            interned |= 1u << i;
            vnum[i] = (double)x;
        }
    }
    if (s->n_trials == s->cap_trials) {
        size_t cap = s->cap_trials ? s->cap_trials * 2 : 64;
        coord_trial_t **tv = realloc(s->trials, cap * sizeof *tv);
        if (!tv)
            return NULL;
        s->trials = tv;
        s->cap_trials = cap;
    }
    /* One block: the trial, its task pointers, its tasks, its values (every
     * part a multiple of 8 bytes, so each stays aligned). */
    int splits = s->spec->cv.folds * s->spec->cv.repeats * s->spec->seeds;
    _Static_assert(sizeof(coord_trial_t) % 8 == 0 && sizeof(coord_task_t) % 8 == 0,
                   "a trial's block keeps its parts aligned");
    _Static_assert(sizeof(coord_task_result_t) % 8 == 0, "a trial's block stays aligned");
    size_t bytes = sizeof(coord_trial_t) +
                   (size_t)splits * (sizeof(coord_task_t *) + sizeof(coord_task_t) +
                                     sizeof(coord_task_result_t)) +
                   np * sizeof(double);
    coord_trial_t *tr = calloc(1, bytes);
    if (!tr)
        return NULL;
    tr->tasks = (coord_task_t **)(tr + 1);
    tr->block = (coord_task_t *)(tr->tasks + splits);
    tr->results = (coord_task_result_t *)(tr->block + splits);
    tr->vnum = (double *)(tr->results + splits);
    s->trials[s->n_trials++] = tr;
    tr->number = s->n_trials;
    tr->sweep = s;
    /* A promotion (hyperband, asha) continues an earlier trial: it trains
     * with that configuration's seeds so a worker can resume its model.  So
     * does the next member of an epoch family. */
    uint64_t parent = s->search->parent;
    if (parent >= 1 && parent < tr->number) {
        tr->parent = parent;
        tr->root = s->trials[parent - 1]->root;
    } else {
        tr->root = tr->number;
    }
    memcpy(tr->vnum, vnum, sizeof(double) * np);
    tr->absent = absent;
    tr->interned = interned;
    if (family_join(s, tr) < 0)
        return NULL;
    if (tr->parent) {
        coord_trial_t *p = s->trials[tr->parent - 1];
        tr->kid_next = p->kids;
        p->kids = tr;
    }
    tr->n_tasks = splits;
    tr->state = TRIAL_RUNNING;
    tr->mean = tr->std = tr->mean_fit = tr->std_fit = tr->mean_train = tr->std_train = NAN;
    params_json(s, vals, pj, len);
    hpt_err err = {0};
    hpt_hparams_t hp;
    if (coord_spec_apply(s->spec, vals, &hp, &err) < 0) {
        /* A combination the engine rejects fails the trial without running
         * it. */
        hpt__trial_error(tr, "%s", err.msg);
        tr->n_tasks = 0;
    }
    return tr;
}

int coord_trial_hparams(const coord_trial_t *tr, hpt_hparams_t *hp)
{
    coord_pval_t vals[COORD_SPEC_MAX_PARAMS];
    coord_trial_values(tr, vals);
    return coord_spec_apply(tr->sweep->spec, vals, hp, NULL);
}

uint64_t coord_trial_mem_need(coord_trial_t *tr)
{
    if (tr->mem_need)
        return tr->mem_need;
    hpt_hparams_t hp;
    if (coord_trial_hparams(tr, &hp) < 0) {
        tr->mem_need = 1;   // the worker will say what is wrong with it
        return 1;
    }
    bool idx = strncmp(tr->sweep->spec->dataset, "idx:", 4) == 0;
    size_t bytes = hpt_train_model_bytes(&hp, idx ? 1 : 784, idx ? 2 : 10, idx ? 1 : 512);
    tr->mem_need = bytes ? bytes : 1;
    return tr->mem_need;
}

/* Whether the worker's budget (when it said one) can hold t's model. */
static bool mem_fits(coord_worker_t *w, coord_task_t *t)
{
    return w->mem_budget == 0 || coord_trial_mem_need(t->trial) <= w->mem_budget;
}

/* Ask the search for one more trial and queue its tasks (or make them
 * wait for their parent's).  Returns the number of tasks queued, or -1 when
 * the search has no trial now. */
static int sweep_grow_one(coord_core_t *k, coord_sweep_t *s)
{
    char pj[2048];
    bool done;
    coord_trial_t *tr = hpt__trial_next(s, pj, sizeof pj, &done);
    if (!tr)
        return -1;
    hpt__j_trial_add(k, s->id, tr->number, pj, s->search->observed);
    if (tr->n_tasks == 0) {
        hpt__trial_finish(k, tr);
        return 0;
    }
    int splits = tr->n_tasks, queued = 0;
    if (coord_search_total(s->search) < 0)
        s->tasks_total += splits;
    for (int j = 0; j < splits; j++) {
        coord_task_t *t = hpt__task_new(k, tr, j, false);
        if (!t) {
            hpt__event(k, COORD_EV_OUT_OF_MEMORY, -1, s->id, "sweep=%llu what=tasks",
                       (unsigned long long)s->id);
            return -1;
        }
        tr->tasks[j] = t;
        if (hpt__task_should_wait(t)) {
            hpt__wait(t);
        } else {
            hpt__q_push(k, t, false);
            queued++;
        }
    }
    hpt__event(k, COORD_EV_TRIAL_CREATED, -1, s->id, "sweep=%llu trial=%llu params=%s",
               (unsigned long long)s->id, (unsigned long long)tr->number, pj);
    return queued;
}

/* Ask the search for trials until one has a task to queue: a trial whose
 * tasks all wait for a shorter trial's (an epoch family), or that the
 * engine rejects, queues nothing.  At most COORD_GROW_MAX trials a call,
 * so a search of nothing but waiting trials cannot hold the loop.
 * Returns the number of tasks queued (0 when the search has none now). */
#define COORD_GROW_MAX 1024
static int sweep_grow(coord_core_t *k, coord_sweep_t *s)
{
    for (int n = 0; n < COORD_GROW_MAX; n++) {
        int q = sweep_grow_one(k, s);
        if (q != 0)
            return q > 0 ? q : 0;
    }
    return 0;
}

// --- leasing --------------------------------------------------------------------

/* The seed a task trains with: a pure function of the sweep seed, the trial's
 * base seed (its `seed` value), the split and the cv.seeds training index,
 * so any worker, any attempt, gives the same result.  With model_seed:
 * per_trial the trial number (of its configuration's first trial, so a
 * promotion trains the same model further) is an input too; shared (the
 * default) leaves it out: every trial trains split i from the same
 * initial weights and mini-batch order (common random numbers). */
static uint64_t task_seed(const coord_task_t *t, uint64_t base_seed)
{
    int seed_rep = coord_task_seed_rep(t);
    const coord_sweep_t *s = coord_task_sweep(t);
    uint64_t v[5] = {s->spec->seed, base_seed, s->spec->seed_per_trial ? t->trial->root : 0,
                     (uint64_t)(int64_t)coord_task_split(t), (uint64_t)seed_rep};
    hpt_rng_t r;
    hpt_rng_seed_n(&r, v, seed_rep ? 5 : 4);
    return hpt_rng_u64(&r);
}

/* Count one lease whose task waited `seconds` in its sweep's queue, for the
 * hptune_dispatch_latency_seconds histogram. */
static void metrics_dispatch(coord_core_t *k, double seconds)
{
    static const double le[COORD_LAT_N] = COORD_LAT_LE;
    int i = 0;
    while (i < COORD_LAT_N && seconds > le[i])
        i++;
    k->dispatch_le[i]++;
    k->dispatch_count++;
    k->dispatch_sum_s += seconds > 0 ? seconds : 0;
}

/* Lease t to w and send its Assign; bundle (0: alone) and bundle_size as
 * in Assign.  Returns false when it could not (nothing changed). */
static bool lease(coord_core_t *k, coord_task_t *t, coord_worker_t *w, uint64_t bundle,
                  int bundle_size)
{
    coord_sweep_t *s = coord_task_sweep(t);
    double queued_at = t->queued_at;
    /* Derived again from the values: a trial with tasks applied them once
     * without error when it was created, and applying is deterministic. */
    hpt_hparams_t hp;
    if (coord_trial_hparams(t->trial, &hp) < 0 || hpt__lease_begin(k, t, w, bundle) < 0)
        return false;
    t->attempt++;
    hp.seed = task_seed(t, hp.seed);
    uint32_t units[HPT_MAX_LAYERS];
    Hpt__HParams wh;
    hpt_proto_hparams_to_wire(&hp, &wh, units);
    Hpt__Assign a = HPT__ASSIGN__INIT;
    a.task = t->id;
    a.attempt = t->attempt;
    a.sweep = s->id;
    a.trial = t->trial->number;
    a.refit = coord_task_is_refit(t);
    a.fold = (uint32_t)coord_task_fold(t);
    a.folds = (uint32_t)s->spec->cv.folds;
    a.repeat = (uint32_t)coord_task_repeat(t);
    a.cv_seed = s->spec->cv.seed;
    a.stratified = s->spec->cv.stratified;
    a.shuffle = s->spec->cv.shuffle;
    a.dataset = s->spec->dataset;
    a.fingerprint = s->fingerprint;
    a.hparams = &wh;
    a.score_train = s->spec->score_train;
    a.test_objective = s->spec->test_objective;
    a.score_epochs = coord_search_wants_epochs(s->search);
    a.bundle = bundle;
    a.bundle_size = bundle ? (uint32_t)bundle_size : 0;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    hpt__send(k, &w->peer, &env);
    w->last_sent = k->now;
    metrics_dispatch(k, k->now - queued_at);
    if (t->attempt > 1)
        k->tasks_retried++;
    hpt__j_task_lease(k, t->id, t->attempt, w->id, hpt__unix(k));
    if (s->state == SWEEP_QUEUED)
        sweep_set_state(k, s, SWEEP_RUNNING);
    hpt__event(k, COORD_EV_TASK_LEASED, -1, s->id,
               "sweep=%llu trial=%llu task=%llu split=%d seed_rep=%d attempt=%u worker=%s "
               "bundle=%llu", (unsigned long long)s->id, (unsigned long long)t->trial->number,
               (unsigned long long)t->id, coord_task_split(t), coord_task_seed_rep(t),
               (unsigned)t->attempt, hpt__q(k, w->id), (unsigned long long)bundle);
    return true;
}

// --- bundles (horizontal fusion) ------------------------------------------------
/*
 * A worker that advertises Hello.fuse_max >= 2 trains a bundle of tasks that
 * see the same mini-batches in one slot, their first layers' products fused
 * (common/train.h, hpt_train_group_continue), each task bit-for-bit as it
 * would train alone.  The fusion key (docs/architecture.md): the same sweep
 * (dataset), split (fold, repeat, refit), model seed, batch size, epoch
 * target and starting point (the epochs of the model it continues on that
 * worker).  A bundle is only worth a slot when its first layers do fuse:
 * the members' first layer is narrow (units a multiple of 8 up to 32) and
 * reads the input itself (no input dropout).  Each task keeps its own lease,
 * attempt, journal rows, Progress, Result and Cancel; only the slot count
 * (tasks.c, units) knows the bundle.
 */
static const char *task_affinity(coord_core_t *k, const coord_task_t *t);
static bool worker_live(coord_core_t *k, const char *id);
static int sweep_grow(coord_core_t *k, coord_sweep_t *s);

typedef struct fuse_key {
    int split, seed_rep, batch, epochs, start;
    bool refit, fusable;
    uint64_t seed;
} fuse_key_t;

/* The epochs of the model t continues on w: its nearest ancestor's split
 * that w trained (w caches it), else 0. */
static int start_epochs(const coord_task_t *t, const coord_worker_t *w)
{
    for (const coord_task_t *pt = parent_task(t); pt; pt = parent_task(pt))
        if (pt->state == TASK_DONE && pt->res && pt->res->done_by &&
            strcmp(pt->res->done_by, w->id) == 0)
            return pt->res->epochs;
    return 0;
}

static int fuse_key(const coord_task_t *t, const coord_worker_t *w, fuse_key_t *key)
{
    hpt_hparams_t hp;
    if (coord_trial_hparams(t->trial, &hp) < 0)
        return -EINVAL;
    *key = (fuse_key_t){
        .split = coord_task_split(t), .seed_rep = coord_task_seed_rep(t),
        .batch = hp.batch_size, .epochs = hp.epochs, .start = start_epochs(t, w),
        .refit = coord_task_is_refit(t), .seed = task_seed(t, hp.seed),
        .fusable = hp.units[0] % 8 == 0 && hp.units[0] <= 32 && !(hp.input_dropout > 0),
    };
    return 0;
}

static int scan_mates(coord_core_t *k, coord_sweep_t *s, coord_worker_t *w,
                      const coord_task_t *t, const fuse_key_t *kt, coord_task_t **mates,
                      int max);

static bool fuse_same(const fuse_key_t *a, const fuse_key_t *b)
{
    return a->fusable && b->fusable && a->split == b->split && a->seed_rep == b->seed_rep &&
           a->batch == b->batch && a->epochs == b->epochs && a->start == b->start &&
           a->refit == b->refit && a->seed == b->seed;
}

/* Up to max queued tasks of s that may share t's bundle on w, into mates:
 * the same fusion key, free to run on w (not avoiding it, their model not
 * held by another live worker), and with t's their models within w's
 * memory budget together.  Looks as far down the queue as pick_task.
 * Trials are created lazily, so the queue may hold too few: a grid or
 * random search (whose trials do not depend on results) is asked for more
 * trials while the queue is short, up to max of them.  Returns how many. */
static int bundle_mates(coord_core_t *k, coord_sweep_t *s, coord_worker_t *w,
                        const coord_task_t *t, coord_task_t **mates, int max)
{
    fuse_key_t kt;
    if (max < 1 || fuse_key(t, w, &kt) < 0 || !kt.fusable)
        return 0;
    const bool fixed = s->spec->method == COORD_METHOD_GRID ||
                       s->spec->method == COORD_METHOD_RANDOM;
    int n = scan_mates(k, s, w, t, &kt, mates, max);
    for (int g = 0; n < max && g < max && fixed && s->n_queued < 64; g++) {
        if (sweep_grow(k, s) == 0)
            break;
        n = scan_mates(k, s, w, t, &kt, mates, max);
    }
    return n;
}

/* bundle_mates' look down the queue for tasks of t's key kt. */
static int scan_mates(coord_core_t *k, coord_sweep_t *s, coord_worker_t *w,
                      const coord_task_t *t, const fuse_key_t *kt, coord_task_t **mates, int max)
{
    fuse_key_t kc;
    uint64_t mem = coord_trial_mem_need(t->trial);
    int n = 0, looked = 0;
    for (coord_task_t *c = s->qhead; c && looked < 64 && n < max; c = c->qnext, looked++) {
        if (c == t || (c->avoid && strcmp(c->avoid, w->id) == 0))
            continue;
        const char *aff = task_affinity(k, c);
        if (aff && strcmp(aff, w->id) != 0 && worker_live(k, aff))
            continue;
        if (fuse_key(c, w, &kc) < 0 || !fuse_same(kt, &kc))
            continue;
        uint64_t need = coord_trial_mem_need(c->trial);
        if (w->mem_budget && mem + need > w->mem_budget)
            continue;
        mem += need;
        mates[n++] = c;
    }
    return n;
}

/* Sweeps in dispatch order: priority (high first), then submission order. */
static int sweep_order(coord_core_t *k, coord_sweep_t **out, int max)
{
    int n = 0;
    for (coord_sweep_t *s = k->sweeps; s && n < max; s = s->next)
        if (s->state < SWEEP_DONE)
            out[n++] = s;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && out[j]->spec->priority > out[j - 1]->spec->priority; j--) {
            coord_sweep_t *x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    return n;
}

static bool warned(coord_worker_t *w, uint64_t sweep)
{
    for (int i = 0; i < w->n_warned; i++)
        if (w->warned[i] == sweep)
            return true;
    if (w->n_warned < 16)
        w->warned[w->n_warned++] = sweep;
    return false;
}

/* Whether w may run tasks of s; reports the reason once when not. */
static bool worker_fits(coord_core_t *k, coord_worker_t *w, coord_sweep_t *s)
{
    int has = coord_worker_has_dataset(w, s);
    if (has == 1)
        return true;
    if (has == -3)
        return false;   // no fingerprint: nobody serves it (status says why)
    if (has == 0)
        hpt__offer(k, &w->peer, s->id);   // it may fetch it (coord_datasets.c)
    if (!warned(w, s->id)) {
        if (has == 0)
            hpt__event(k, COORD_EV_WORKER_LACKS_DATASET, -1, s->id,
                       "sweep=%llu worker=%s dataset=%s", (unsigned long long)s->id,
                       hpt__q(k, w->id), hpt__q(k, s->spec->dataset));
        else if (has == -2)
            hpt__event(k, COORD_EV_WORKER_DRY_RUN_REFUSED, -1, s->id,
                       "sweep=%llu worker=%s dataset=%s", (unsigned long long)s->id,
                       hpt__q(k, w->id), hpt__q(k, s->spec->dataset));
        else
            hpt__event(k, COORD_EV_WORKER_FINGERPRINT_MISMATCH, -1, s->id,
                       "sweep=%llu worker=%s dataset=%s want=%.12s", (unsigned long long)s->id,
                       hpt__q(k, w->id), hpt__q(k, s->spec->dataset), s->fingerprint);
    }
    return false;
}

/* Whether worker id is connected (and so may take its promoted tasks). */
static bool worker_live(coord_core_t *k, const char *id)
{
    return hpt__worker_by_id(k, id) != NULL;
}

/* The worker id that holds the model a continuing task (a promotion, or an
 * epoch family's next member) starts from, or NULL: the worker that
 * trained the same split of its parent trial, or when that one is gone, of
 * the nearest ancestor whose worker is still connected (it holds a shorter
 * model, which the task continues from there). */
static const char *task_affinity(coord_core_t *k, const coord_task_t *t)
{
    const char *first = NULL;
    for (const coord_task_t *pt = parent_task(t); pt; pt = parent_task(pt)) {
        const char *by = pt->state == TASK_DONE && pt->res ? pt->res->done_by : NULL;
        if (!by)
            continue;
        if (!first)
            first = by;
        if (worker_live(k, by))
            return by;
    }
    return first;
}

/* The first queued task of s that w may take, looking a bounded way down
 * the queue:
 *  - a task whose last attempt stalled or failed on w goes elsewhere while
 *    another live worker with free slots could take it;
 *  - a promoted task (hyperband, asha) goes to the worker that holds its
 *    parent's model, which continues training instead of starting over:
 *    first w's own such tasks, then tasks with no live holder; with strict
 *    false (the search has nothing new to offer) any task. */
static coord_task_t *pick_task(coord_core_t *k, coord_sweep_t *s, coord_worker_t *w,
                               bool strict)
{
    int looked = 0;
    coord_task_t *free_task = NULL, *held = NULL;
    for (coord_task_t *t = s->qhead; t && looked < 64; t = t->qnext, looked++) {
        if (!mem_fits(w, t))
            continue;   // its model cannot fit this worker (hpt__mem_unfit fails it when none can)
        if (t->avoid && strcmp(t->avoid, w->id) == 0) {
            bool other = false;
            for (coord_worker_t *o = k->free_head; o && !other; o = o->fnext)
                other = o != w && coord_worker_free_slots(o, k->now) > 0 &&
                        coord_worker_has_dataset(o, s) == 1;
            if (other)
                continue;
        }
        const char *aff = task_affinity(k, t);
        if (aff && strcmp(aff, w->id) == 0)
            return t;
        if (!aff || !worker_live(k, aff)) {
            if (!free_task)
                free_task = t;
        } else if (!held) {
            held = t;
        }
    }
    return free_task ? free_task : strict ? NULL : held;
}

void hpt__dispatch(coord_core_t *k)
{
    if (k->stopping)
        return;
    coord_sweep_t *order[256];
    int n = sweep_order(k, order, 256);
    if (n == 0)
        return;
    /* Only workers with a free slot, and only while some sweep has work to
     * give: a sweep is dry for this pass once its queue is empty and the
     * search has nothing more now, or it runs max_parallel tasks.  So a
     * result costs O(1) workers, however many are connected and idle. */
    bool dry[256] = {false};
    int n_dry = 0;
    for (coord_worker_t *w = k->free_head, *wn; w && n_dry < n; w = wn) {
        wn = w->fnext;
        int free_slots = coord_worker_free_slots(w, k->now);
        for (int i = 0; i < n && free_slots > 0; i++) {
            coord_sweep_t *s = order[i];
            if (dry[i])
                continue;
            int cap = s->spec->max_parallel;
            if (s->state >= SWEEP_DONE || (cap > 0 && s->tasks_running >= cap) ||
                (!s->qhead && (s->exhausted || s->state >= SWEEP_REFITTING))) {
                dry[i] = true;
                n_dry++;
                continue;
            }
            if (!worker_fits(k, w, s))
                continue;
            while (free_slots > 0 && (cap == 0 || s->tasks_running < cap)) {
                if (!s->qhead && sweep_grow(k, s) == 0) {
                    if (!s->qhead && !dry[i]) {
                        dry[i] = true;
                        n_dry++;
                    }
                    break;
                }
                if (!s->qhead)
                    break;
                coord_task_t *t = pick_task(k, s, w, true);
                /* Only tasks whose model another worker holds are queued:
                 * start something new rather than retrain them here. */
                if (!t && sweep_grow(k, s) > 0)
                    t = pick_task(k, s, w, true);
                if (!t)
                    t = pick_task(k, s, w, false);
                if (!t)
                    break;
                coord_task_t *mates[HPT_PROTO_MAX_FUSE];
                int f = k->cfg.fuse_max < w->fuse_max ? k->cfg.fuse_max : w->fuse_max;
                f = f > HPT_PROTO_MAX_FUSE ? HPT_PROTO_MAX_FUSE : f;
                if (cap > 0 && f > cap - s->tasks_running)
                    f = cap - s->tasks_running;
                int nm = bundle_mates(k, s, w, t, mates, f - 1);
                uint64_t bundle = nm > 0 ? ++k->last_bundle : 0;
                if (!lease(k, t, w, bundle, nm + 1)) {
                    free_slots = 0;
                    break;
                }
                /* A mate that cannot be leased (out of memory) leaves the
                 * bundle short; the worker starts a short bundle after one
                 * heartbeat interval. */
                for (int m = 0; m < nm && lease(k, mates[m], w, bundle, nm + 1); m++)
                    ;
                free_slots--;
            }
        }
    }
    for (int i = 0; i < n; i++)
        hpt__sweep_check_end(k, order[i]);
}

// --- results --------------------------------------------------------------------

bool hpt__better(const coord_sweep_t *s, double a, double b)
{
    if (isnan(a))
        return false;
    if (isnan(b))
        return true;
    return s->spec->maximize ? a > b : a < b;
}

double coord_trial_split_score(const coord_trial_t *tr, int k, bool train)
{
    int seeds = tr->sweep->spec->seeds;
    if (k < 0 || (k + 1) * seeds > tr->n_tasks)
        return NAN;
    double sum = 0.0;
    for (int r = 0; r < seeds; r++) {
        const coord_task_t *t = tr->tasks[k * seeds + r];
        if (!t || t->state != TASK_DONE || !t->res)
            return NAN;
        sum += train ? t->res->train_score : t->res->score;
    }
    return sum / seeds;
}

double coord_trial_finished(const coord_trial_t *tr)
{
    if (tr->state != TRIAL_DONE)
        return NAN;
    double t = 0;
    for (int j = 0; j < tr->n_tasks; j++)
        if (tr->tasks[j] && tr->tasks[j]->res && tr->tasks[j]->res->finished_unix > t)
            t = tr->tasks[j]->res->finished_unix;
    return t > 0 ? t : NAN;
}

void hpt__trial_finish(coord_core_t *k, coord_trial_t *tr)
{
    coord_sweep_t *s = tr->sweep;
    int n = tr->n_tasks, seeds = s->spec->seeds, ns = n / seeds;
    double *sc = calloc((size_t)(n > 0 ? n : 1) * 3, sizeof *sc);
    double *ft = sc ? sc + n : NULL, *ts = sc ? sc + 2 * n : NULL;
    bool ok = sc && n > 0 && !tr->error;
    if (!sc)
        hpt__trial_error(tr, "out of memory aggregating the trial");
    for (int j = 0; j < n && ok; j++) {
        coord_task_t *t = tr->tasks[j];
        if (!t || t->state != TASK_DONE || !t->res) {
            ok = false;
            break;
        }
        ft[j] = t->res->fit_seconds;
    }
    /* scikit-learn's statistics are over splits; a split trained with
     * several seeds scores their mean. */
    /* A sweep whose metric is a train_* name ranks by the training score
     * (spec->objective_train): then that is the trial's mean. */
    for (int j = 0; j < ns && ok; j++) {
        sc[j] = coord_trial_split_score(tr, j, s->spec->objective_train);
        ts[j] = coord_trial_split_score(tr, j, true);
    }
    if (ok) {
        coord_agg_mean_std(sc, ns, &tr->mean, &tr->std);
        coord_agg_mean_std(ft, n, &tr->mean_fit, &tr->std_fit);
        coord_agg_mean_std(ts, ns, &tr->mean_train, &tr->std_train);
        tr->state = TRIAL_DONE;
        s->trials_done++;
        if (!s->best || hpt__better(s, tr->mean, s->best->mean))
            s->best = tr;
    } else {
        tr->mean = tr->std = NAN;
        tr->state = s->state == SWEEP_CANCELLED ? TRIAL_CANCELLED : TRIAL_FAILED;
        if (tr->state == TRIAL_FAILED)
            s->trials_failed++;
    }
    s->results_gen++;
    /* Every suggested trial is observed exactly once (NaN when it failed):
     * strategies that wait for their trials (coordinate search) need it. */
    long seq = 0;
    if (!tr->observed) {
        coord_search_observe(s->search, tr->number, tr->mean);
        tr->observed = true;
        seq = s->search->observed;
    }
    hpt__j_trial_done(k, s->id, tr->number, coord_trial_state_name(tr->state), tr->mean, tr->std,
                      tr->error, seq);
    hpt__event(k, ok ? COORD_EV_TRIAL_DONE : COORD_EV_TRIAL_FAILED,
               k->replaying ? HPT_LOG_DEBUG : -1, s->id,
               "sweep=%llu trial=%llu mean=%.6f std=%.6f best_trial=%llu best=%.6f%s%s",
               (unsigned long long)s->id, (unsigned long long)tr->number, tr->mean, tr->std,
               (unsigned long long)(s->best ? s->best->number : 0),
               s->best ? s->best->mean : NAN, tr->error ? " error=" : "",
               tr->error ? hpt__q(k, tr->error) : "");
    free(sc);
}

/* Tell the worker holding t to cancel it and take the lease back; the
 * worker's thread keeps the slot (a zombie) until its heartbeats show it
 * stopped. */
static void revoke_on_worker(coord_core_t *k, coord_task_t *t)
{
    coord_worker_t *w = t->lease->worker;
    if (w) {
        Hpt__Cancel m = HPT__CANCEL__INIT;
        m.task = t->id;
        m.attempt = t->attempt;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_CANCEL;
        env.cancel = &m;
        hpt__send(k, &w->peer, &env);
    }
    hpt__lease_end(k, t);
    if (w) {
        w->zombies++;
        hpt__worker_free_update(k, w);
    }
}

void hpt__task_cancel(coord_core_t *k, coord_task_t *t, const char *why)
{
    if (t->state == TASK_QUEUED) {
        hpt__q_remove(t);
    } else if (t->state == TASK_WAITING) {
        hpt__wait_end(t);
    } else if (t->state == TASK_LEASED) {
        revoke_on_worker(k, t);
        hpt__j_attempt_end(k, t->id, t->attempt, "cancelled", why, hpt__unix(k));
    } else {
        return;
    }
    t->state = TASK_CANCELLED;
    hpt__j_task_state(k, t->id, "cancelled", why);
}

void hpt__trial_abandon(coord_core_t *k, coord_trial_t *tr, coord_task_t *except)
{
    for (int j = 0; j < tr->n_tasks; j++) {
        coord_task_t *t = tr->tasks[j];
        if (!t || t == except)
            continue;
        if (task_pending(t))
            tr->sweep->tasks_total--;   // will never run: not part of done/total
        hpt__task_cancel(k, t, "trial failed");
        hpt__task_release_kids(k, t);   // they train from scratch
    }
}

void hpt__sweep_finish(coord_core_t *k, coord_sweep_t *s, coord_sweep_state_t st)
{
    sweep_set_state(k, s, st);
    if (s->has_refit && s->best)
        hpt__j_sweep_refit(k, s->id, s->best->number, s->refit_score, s->refit_accuracy);
    hpt__j_summary(k, s);   // in the same transaction as its final state
    hpt__event(k, COORD_EV_SWEEP_FINISHED, st == SWEEP_DONE ? HPT_LOG_INFO : HPT_LOG_WARN, s->id,
               "sweep=%llu state=%s trials=%zu trials_failed=%d best_trial=%llu best_mean=%.6f "
               "best_std=%.6f refit_score=%.6f%s%s",
               (unsigned long long)s->id, coord_sweep_state_name(st), s->n_trials,
               s->trials_failed, (unsigned long long)(s->best ? s->best->number : 0),
               s->best ? s->best->mean : NAN, s->best ? s->best->std : NAN,
               s->has_refit ? s->refit_score : NAN, s->error[0] ? " error=" : "",
               s->error[0] ? hpt__q(k, s->error) : "");
}

/* A sweep ends when the search is exhausted and nothing is queued or
 * running; then the refit runs (if asked), then the sweep is done. */
void hpt__sweep_check_end(coord_core_t *k, coord_sweep_t *s)
{
    if (s->state >= SWEEP_DONE)
        return;
    if (s->state == SWEEP_REFITTING) {
        coord_task_t *t = s->refit_task;
        if (t->state == TASK_DONE) {
            s->has_refit = true;   // refit_score etc. were set when its result came
            hpt__sweep_finish(k, s, SWEEP_DONE);
        } else if (t->state == TASK_FAILED) {
            snprintf(s->error, sizeof s->error, "refit failed: %.200s", t->error ? t->error : "");
            hpt__sweep_finish(k, s, SWEEP_FAILED);
        }
        return;
    }
    if (s->qhead || s->tasks_running > 0)
        return;
    if (!s->exhausted) {
        /* Only the search knows whether more trials come. */
        if (sweep_grow(k, s) > 0 || !s->exhausted)
            return;
    }
    for (size_t i = 0; i < s->n_trials; i++)
        if (s->trials[i]->state == TRIAL_RUNNING)
            return;
    if (!s->best) {
        const char *first = s->n_trials ? s->trials[0]->error : NULL;
        snprintf(s->error, sizeof s->error, "every trial failed%s%.200s",
                 s->n_trials ? "; first error: " : "", first ? first : "");
        hpt__sweep_finish(k, s, SWEEP_FAILED);
        return;
    }
    /* select.race: the leaders race before the refit, which then refits
     * the race's winner (race.c sets s->best). */
    if (hpt__race_step(k, s))
        return;
    if (!s->spec->refit) {
        hpt__sweep_finish(k, s, SWEEP_DONE);
        return;
    }
    s->refit_task = hpt__task_new(k, s->best, -1, true);
    if (!s->refit_task) {
        snprintf(s->error, sizeof s->error, "out of memory creating the refit task");
        hpt__sweep_finish(k, s, SWEEP_FAILED);
        return;
    }
    s->state = SWEEP_REFITTING;
    hpt__j_sweep_state(k, s->id, "refitting", hpt__unix(k), NULL);
    hpt__q_push(k, s->refit_task, false);
    hpt__event(k, COORD_EV_REFIT_STARTED, -1, s->id, "sweep=%llu trial=%llu mean=%.6f",
               (unsigned long long)s->id, (unsigned long long)s->best->number, s->best->mean);
    hpt__dispatch(k);
}

/* The attempt that just ended (its lease already ended) failed: retry it,
 * or fail the task and its trial after max_attempts. */
static void task_failed(coord_core_t *k, coord_task_t *t, const char *error)
{
    coord_sweep_t *s = coord_task_sweep(t);
    if (t->failures < UINT8_MAX)
        t->failures++;
    k->attempts_failed++;
    hpt__str_set(&t->error, error);
    hpt__j_attempt_end(k, t->id, t->attempt, "failed", error, hpt__unix(k));
    if ((int)t->failures < k->cfg.max_attempts && s->state < SWEEP_DONE) {
        hpt__event(k, COORD_EV_TASK_RETRY, -1, s->id,
                   "sweep=%llu trial=%llu task=%llu attempt=%u error=%s",
                   (unsigned long long)s->id, (unsigned long long)t->trial->number,
                   (unsigned long long)t->id, (unsigned)t->attempt, hpt__q(k, error));
        hpt__q_push(k, t, true);
        return;
    }
    t->state = TASK_FAILED;
    s->tasks_failed++;
    hpt__j_task_state(k, t->id, "failed", error);
    hpt__event(k, COORD_EV_TASK_FAILED, -1, s->id,
               "sweep=%llu trial=%llu task=%llu attempts=%u error=%s",
               (unsigned long long)s->id, (unsigned long long)t->trial->number,
               (unsigned long long)t->id, (unsigned)t->attempt, hpt__q(k, error));
    if (coord_task_is_refit(t))
        return;
    if (coord_task_is_race(t)) {
        hpt__race_task_failed(k, s, t);
        return;
    }
    hpt__task_release_kids(k, t);   // they train from scratch
    coord_trial_t *tr = t->trial;
    hpt__trial_error(tr, "split %d: %s", coord_task_split(t), error);
    hpt__trial_abandon(k, tr, t);
    hpt__trial_finish(k, tr);
}

void hpt__mem_unfit(coord_core_t *k)
{
    for (coord_sweep_t *s = k->sweeps; s; s = s->next) {
        if (!s->qhead || s->state >= SWEEP_DONE)
            continue;
        uint64_t most = 0;
        int serving = 0;
        bool unknown = false;
        for (coord_worker_t *w = k->workers; w && !unknown; w = w->next) {
            if (coord_worker_has_dataset(w, s) != 1)
                continue;
            serving++;
            unknown = w->mem_budget == 0;
            most = w->mem_budget > most ? w->mem_budget : most;
        }
        if (!serving || unknown)
            continue;   // nobody to judge by, or a worker without a limit
        int looked = 0;
        /* Failing a task abandons its trial's other tasks, which may be next
         * in the queue: after each failure, look again from the head. */
        coord_task_t *t = s->qhead;
        while (t && looked++ < 64) {
            uint64_t need = coord_trial_mem_need(t->trial);
            if (need <= most) {
                t = t->qnext;
                continue;
            }
            char msg[300];
            snprintf(msg, sizeof msg, "the model needs at least %.1f MiB, more than the "
                     "memory budget of every worker that has the dataset (%d, the largest "
                     "%.1f MiB; hptune-worker --max-model-mem)", (double)need / 1048576.0,
                     serving, (double)most / 1048576.0);
            hpt__q_remove(t);
            // No worker can ever run it: failed at once, not after max_attempts.
            if (k->cfg.max_attempts > 0 && t->failures < (uint8_t)(k->cfg.max_attempts - 1))
                t->failures = (uint8_t)(k->cfg.max_attempts - 1);
            task_failed(k, t, msg);
            if (s->state >= SWEEP_DONE)
                break;
            t = s->qhead;
        }
        hpt__sweep_check_end(k, s);
    }
}

/* The largest log loss a worker can report: the mean of -log(p) with p
 * clipped to at least 1e-7 (Keras' epsilon, common/mlp.c) is at most
 * -log(1e-7) = 16.12; a little room for float32 rounding. */
#define MAX_LOG_LOSS 16.5

/* Whether a reported score is a value the metric can take: accuracy and F1
 * are in [0, 1], log loss in [0, MAX_LOG_LOSS]; all are finite. */
static bool score_ok(double v, bool unit)
{
    return isfinite(v) && v >= 0 && v <= (unit ? 1.0 : MAX_LOG_LOSS);
}

void hpt__result(coord_core_t *k, coord_worker_t *w, const hpt_peer_id_t *peer,
                 const Hpt__Result *m)
{
    coord_task_t *t = hpt__map_get(k, m->task);
    const char *wid = w->id;
    /* Only the lease's holder, on its current connection (the caller found
     * w by routing id and connection), may deliver its result.  An orphaned
     * lease (from before a restart) counts only once its worker has proved
     * who it is and adopted it (coord_core_hello): a result is worth a split
     * score, so whoever merely knows a task id must not post one. */
    if (!t || t->state != TASK_LEASED || t->attempt != m->attempt || t->lease->worker != w) {
        k->results_dropped++;
        if (!coord_core_log_allowed(k, k->now, peer, 2, 20))
            return;
        hpt__event(k, COORD_EV_RESULT_DROPPED, -1, t ? coord_task_sweep(t)->id : 0,
                   "task=%llu attempt=%u worker=%s reason=%s", (unsigned long long)m->task,
                   m->attempt, hpt__q(k, wid),
                   !t                            ? "unknown-task"
                   : t->state != TASK_LEASED     ? "task-not-leased"
                   : t->attempt != m->attempt    ? "superseded-attempt"
                   : t->lease->orphan            ? "orphaned-lease-not-adopted"
                                                 : "leased-to-another-worker");
        return;
    }
    coord_sweep_t *s = coord_task_sweep(t);
    if (!m->ok && m->refused) {
        /* Not run at all (the worker is full, draining, or lacks the data):
         * back to the front of the queue without counting an attempt as
         * failed; the next lease carries attempt + 1. */
        char why[320];
        snprintf(why, sizeof why, "refused by the worker: %.280s", m->error);
        hpt__requeue(k, t, why);
        // Its view of its slots differs from ours: wait for a heartbeat.
        w->cooldown_until = k->now + k->cfg.hb_ivl_ms * 1e-3;
        hpt__dispatch(k);
        return;
    }
    const char *done_by = hpt__intern(k, w->id);
    /* A score outside what the metric can take is the worker's error, not a
     * result: it would poison the mean (1e308 is finite, its mean is not). */
    bool unit = s->spec->metric != HPT_METRIC_LOG_LOSS;
    const char *bad = NULL;
    if (m->ok && (!score_ok(m->score, unit) ||
                  (!isnan(m->accuracy) && !score_ok(m->accuracy, true)) ||
                  (!isnan(m->f1_macro) && !score_ok(m->f1_macro, true)) ||
                  (!isnan(m->log_loss) && !score_ok(m->log_loss, false)) ||
                  (!isnan(m->train_score) && !score_ok(m->train_score, unit)) ||
                  !(m->fit_seconds >= 0 && m->fit_seconds < 1e9) || m->epochs > 1000000 ||
                  m->resumed_from > m->epochs))
        bad = "the result's values are out of range for the metric";
    hpt__lease_end(k, t);
    if (!m->ok || bad) {
        w->tasks_failed++;
        t->avoid = done_by;
        task_failed(k, t, bad ? bad : m->error[0] ? m->error : "failed without a message");
    } else {
        coord_task_result_t *res = hpt__task_result_new(t);
        if (!res) {
            hpt__event(k, COORD_EV_OUT_OF_MEMORY, -1, s->id, "sweep=%llu what=result",
                       (unsigned long long)s->id);
            hpt__q_push(k, t, true);
            return;
        }
        w->tasks_done++;
        // epochs it trained: a promoted trial's model continued from resumed_from
        w->epochs_done += m->epochs > m->resumed_from ? m->epochs - m->resumed_from : 0;
        k->results_accepted++;
        coord_result_t r = {
            .score = m->score, .accuracy = m->accuracy, .log_loss = m->log_loss,
            .f1_macro = m->f1_macro, .train_score = m->train_score,
            .fit_seconds = m->fit_seconds, .epochs = (int)m->epochs, .n_eval = m->n_eval,
            .resumed_from = (int)m->resumed_from,
        };
        hpt__task_result_set(res, &r, hpt__unix(k), done_by);
        if (coord_task_is_refit(t)) {
            s->refit_score = r.score;
            s->refit_accuracy = r.accuracy;
            s->refit_n_test = r.n_eval;
        }
        t->res = res;
        t->state = TASK_DONE;
        hpt__j_task_result(k, t->id, t->attempt, &r, res->finished_unix);
        s->tasks_done++;
        s->epochs_trained += (uint64_t)(r.epochs - r.resumed_from);
        s->epochs_scratch += (uint64_t)r.epochs;
        hpt__task_release_kids(k, t);
        if (s->first_result_mono == 0)
            s->first_result_mono = k->now;
        hpt__event(k, COORD_EV_TASK_RESULT, -1, s->id,
                   "sweep=%llu trial=%llu task=%llu split=%d attempt=%u score=%.6f fit_s=%.3f "
                   "epochs=%d resumed_from=%d worker=%s",
                   (unsigned long long)s->id, (unsigned long long)t->trial->number,
                   (unsigned long long)t->id, coord_task_split(t), (unsigned)t->attempt,
                   r.score, r.fit_seconds, r.epochs, r.resumed_from, hpt__q(k, wid));
        if (coord_task_is_refit(t)) {
            hpt__event(k, COORD_EV_REFIT_DONE, -1, s->id,
                       "sweep=%llu trial=%llu test_score=%.6f test_accuracy=%.6f",
                       (unsigned long long)s->id, (unsigned long long)t->trial->number,
                       r.score, r.accuracy);
        } else if (coord_task_is_race(t)) {
            hpt__race_task_done(k, t);
        } else {
            coord_trial_t *tr = t->trial;
            tr->done++;
            if (tr->done == tr->n_tasks && tr->state == TRIAL_RUNNING)
                hpt__trial_finish(k, tr);
        }
    }
    hpt__dispatch(k);
    hpt__sweep_check_end(k, s);
}

void hpt__progress(coord_core_t *k, coord_worker_t *w, const Hpt__Progress *m)
{
    coord_task_t *t = hpt__map_get(k, m->task);
    if (!t || t->state != TASK_LEASED || t->attempt != m->attempt || t->lease->worker != w)
        return;
    coord_sweep_t *ps = coord_task_sweep(t);
    if (m->epoch > 1000000 ||
        !(isnan(m->val_score) ||
          score_ok(m->val_score, ps->spec->metric != HPT_METRIC_LOG_LOSS)))
        return;   // a score the metric cannot take would mislead the search
    coord_lease_t *l = t->lease;
    if ((int)m->epoch > l->epoch) {
        l->progress_at = k->now;
        k->epochs_total += (uint64_t)((int)m->epoch - l->epoch);
    }
    l->epoch = (int)m->epoch;
    coord_sweep_t *s = coord_task_sweep(t);
    coord_search_observe_epoch(s->search, t->trial->number, (int)m->epoch, m->val_score);
    hpt__event(k, COORD_EV_TASK_PROGRESS, -1, s->id,
               "sweep=%llu trial=%llu task=%llu epoch=%u/%u val_score=%.6f train_loss=%.6f",
               (unsigned long long)s->id, (unsigned long long)t->trial->number,
               (unsigned long long)t->id, m->epoch, m->epochs, m->val_score, m->train_loss);
}

void hpt__requeue(coord_core_t *k, coord_task_t *t, const char *why)
{
    hpt__j_attempt_end(k, t->id, t->attempt, "lost", why, hpt__unix(k));
    hpt__lease_end(k, t);
    hpt__event(k, COORD_EV_TASK_REQUEUED, -1, coord_task_sweep(t)->id,
               "sweep=%llu trial=%llu task=%llu attempt=%u reason=%s",
               (unsigned long long)coord_task_sweep(t)->id,
               (unsigned long long)t->trial->number, (unsigned long long)t->id,
               (unsigned)t->attempt, hpt__q(k, why));
    hpt__q_push(k, t, true);
}

int coord_core_cancel(coord_core_t *k, double now, coord_sweep_t *s)
{
    k->now = now;
    if (s->state >= SWEEP_DONE)
        return 0;
    s->state = SWEEP_CANCELLED;
    /* Every queued, leased or orphaned task of the sweep. */
    for (size_t i = 0; i < s->n_trials; i++)
        for (int j = 0; j < s->trials[i]->n_tasks; j++)
            if (s->trials[i]->tasks[j])
                hpt__task_cancel(k, s->trials[i]->tasks[j], "sweep cancelled");
    if (s->refit_task)
        hpt__task_cancel(k, s->refit_task, "sweep cancelled");
    hpt__race_cancel(k, s, "sweep cancelled");
    for (size_t i = 0; i < s->n_trials; i++)
        if (s->trials[i]->state == TRIAL_RUNNING) {
            s->trials[i]->state = TRIAL_CANCELLED;
            hpt__j_trial_done(k, s->id, s->trials[i]->number, "cancelled", NAN, NAN, NULL, 0);
        }
    s->results_gen++;
    snprintf(s->error, sizeof s->error, "cancelled by a client");
    hpt__sweep_finish(k, s, SWEEP_CANCELLED);
    hpt__dispatch(k);
    return 1;
}

double coord_sweep_eta(const coord_sweep_t *s, double now)
{
    if (s->state >= SWEEP_DONE)
        return 0;
    if (!s->first_result_mono || s->tasks_done < 1 || s->tasks_total <= 0)
        return -1;
    double el = now - s->first_result_mono;
    /* Tasks finished since the first result, over the time since then;
     * the first result itself marks time zero. */
    if (s->tasks_done < 2 || el <= 0)
        return -1;
    double rate = (s->tasks_done - 1) / el;
    int64_t left = s->tasks_total - s->tasks_done - s->tasks_failed;
    return left > 0 ? left / rate : 0;
}

// --- stalls and deadlines -------------------------------------------------------

/* Take a lease back from a worker that holds it but makes no progress: tell
 * the worker to cancel (its thread keeps the slot until it stops, as the
 * heartbeats will show), count a failed attempt, lease it elsewhere. */
static void lease_revoke(coord_core_t *k, coord_task_t *t, const char *why)
{
    coord_worker_t *w = t->lease->worker;
    t->avoid = hpt__intern(k, w->id);
    revoke_on_worker(k, t);
    w->tasks_failed++;
    task_failed(k, t, why);
}

void hpt__stalls(coord_core_t *k)
{
    double now = k->now;
    if (now - k->last_stall_check < 1.0)
        return;
    k->last_stall_check = now;
    bool changed = false;
    for (coord_worker_t *w = k->workers; w; w = w->next) {
        for (coord_task_t *t = w->leased, *tn; t; t = tn) {
            tn = t->lease->wnext;
            coord_lease_t *l = t->lease;
            char why[160];
            if (now - l->progress_at > k->cfg.task_stall_s)
                snprintf(why, sizeof why, "stalled: no new epoch for %.0f s (task_stall_s %d)",
                         now - l->progress_at, k->cfg.task_stall_s);
            else if (now - l->leased_at > k->cfg.task_deadline_s)
                snprintf(why, sizeof why, "deadline: running for %.0f s (task_deadline_s %d)",
                         now - l->leased_at, k->cfg.task_deadline_s);
            else
                continue;
            coord_sweep_t *s = coord_task_sweep(t);
            hpt__event(k, COORD_EV_LEASE_REVOKED, -1, s->id,
                       "sweep=%llu trial=%llu task=%llu attempt=%u worker=%s reason=%s",
                       (unsigned long long)s->id, (unsigned long long)t->trial->number,
                       (unsigned long long)t->id, (unsigned)t->attempt, hpt__q(k, w->id),
                       hpt__q(k, why));
            lease_revoke(k, t, why);
            hpt__sweep_check_end(k, s);
            changed = true;
            /* The revocation may have ended other leases on this worker
             * (a task failed for good cancels its trial's other tasks), so
             * tn may be gone: scan the worker's list again.  Leases it
             * gained meanwhile started now and are not stalled. */
            tn = w->leased;
        }
    }
    if (changed)
        hpt__dispatch(k);
}

double coord_trial_p_vs_best(const coord_sweep_t *s, const coord_trial_t *tr)
{
    const coord_trial_t *b = s->best;
    if (!b || tr->state != TRIAL_DONE || b->state != TRIAL_DONE)
        return NAN;
    if (tr == b)
        return 1.0;
    int n = tr->n_tasks / s->spec->seeds;   // splits
    if (tr->n_tasks != b->n_tasks || n < 2 || s->spec->cv.folds < 2)
        return NAN;
    double *x = malloc(sizeof *x * (size_t)n * 2);
    if (!x)
        return NAN;
    double *y = x + n;
    for (int j = 0; j < n; j++) {   // same split order: repeat * folds + fold
        x[j] = coord_trial_split_score(b, j, s->spec->objective_train);
        y[j] = coord_trial_split_score(tr, j, s->spec->objective_train);
    }
    coord_agg_ttest_t r;
    double p = NAN;
    /* Each split trains on (k-1)/k of the data and tests on 1/k. */
    if (coord_agg_nb_ttest(x, y, n, 1.0 / (s->spec->cv.folds - 1), &r) == 0)
        p = r.p;
    free(x);
    return p;
}
