/*
 * coord_sched.c: sweeps, trials and tasks: creation, the queues, leasing
 * (credit-based: a worker never holds more tasks than free slots), results,
 * retries, trial aggregation, the refit and the sweep's end.
 *
 * Invariants:
 *   - a task is in exactly one place: its sweep's queue (QUEUED), one
 *     worker's lease list (LEASED), or neither (DONE, FAILED, CANCELLED);
 *   - a result counts only when (task, attempt, sender) match the current
 *     lease; anything else is a late or duplicate result and is dropped, so
 *     no fold is ever counted twice;
 *   - trials are created lazily, one suggestion at a time, when a worker has
 *     a free slot and the sweep's queue is empty.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "coord_aggregate.h"
#include "dataset.h"
#include "log.h"
#include "rng.h"

/* Replace an owned string (NULL v clears it); out of memory leaves NULL. */
static void str_set(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

static void task_free(coord_task_t *t)
{
    if (!t)
        return;
    free(t->error);
    free(t->avoid);
    free(t->orphan_of);
    free(t->done_by);
    free(t);
}

static const char *const sweep_state_names[] = {"queued", "running", "refitting",
                                                "done",   "failed",  "cancelled"};
static const char *const trial_state_names[] = {"running", "done", "failed", "cancelled"};

const char *coord_sweep_state_name(coord_sweep_state_t s)
{
    return sweep_state_names[s];
}

const char *coord_trial_state_name(coord_trial_state_t s)
{
    return trial_state_names[s];
}

// --- task map -------------------------------------------------------------

static size_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static int map_put(coord_t *c, coord_task_t *t)
{
    if ((c->map_len + 1) * 2 > c->map_cap) {
        size_t cap = c->map_cap ? c->map_cap * 2 : 1024;
        coord_task_t **m = calloc(cap, sizeof *m);
        if (!m)
            return -ENOMEM;
        for (size_t i = 0; i < c->map_cap; i++) {
            coord_task_t *x = c->map[i];
            if (!x)
                continue;
            size_t j = hash64(x->id) & (cap - 1);
            while (m[j])
                j = (j + 1) & (cap - 1);
            m[j] = x;
        }
        free(c->map);
        c->map = m;
        c->map_cap = cap;
    }
    size_t j = hash64(t->id) & (c->map_cap - 1);
    while (c->map[j])
        j = (j + 1) & (c->map_cap - 1);
    c->map[j] = t;
    c->map_len++;
    return 0;
}

static coord_task_t *map_get(coord_t *c, uint64_t id)
{
    if (!c->map_cap)
        return NULL;
    size_t j = hash64(id) & (c->map_cap - 1);
    while (c->map[j]) {
        if (c->map[j]->id == id)
            return c->map[j];
        j = (j + 1) & (c->map_cap - 1);
    }
    return NULL;
}

// --- queues ---------------------------------------------------------------

static void q_push(coord_sweep_t *s, coord_task_t *t, bool front)
{
    t->state = TASK_QUEUED;
    t->queued_at = coord_now();   // for the dispatch latency histogram
    if (front) {
        t->qprev = NULL;
        t->qnext = s->qhead;
        if (s->qhead)
            s->qhead->qprev = t;
        else
            s->qtail = t;
        s->qhead = t;
    } else {
        t->qnext = NULL;
        t->qprev = s->qtail;
        if (s->qtail)
            s->qtail->qnext = t;
        else
            s->qhead = t;
        s->qtail = t;
    }
    s->n_queued++;
}

static void q_remove(coord_sweep_t *s, coord_task_t *t)
{
    if (t->qprev)
        t->qprev->qnext = t->qnext;
    else
        s->qhead = t->qnext;
    if (t->qnext)
        t->qnext->qprev = t->qprev;
    else
        s->qtail = t->qprev;
    t->qprev = t->qnext = NULL;
    s->n_queued--;
}

// --- creation -------------------------------------------------------------

coord_sweep_t *coord_sweep_find(coord_t *c, uint64_t id)
{
    for (coord_sweep_t *s = c->sweeps; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

static void sweep_set_state(coord_t *c, coord_sweep_t *s, coord_sweep_state_t st)
{
    s->state = st;
    double now = coord_unix();
    if (st == SWEEP_RUNNING && !s->started)
        s->started = now;
    if (st >= SWEEP_DONE)
        s->finished = now;
    coord_store_sweep_state(c->store, s->id, coord_sweep_state_name(st), now,
                            s->error[0] ? s->error : NULL);
}

/* The dataset's fingerprint from the coordinator's own copy, cached; "" when
 * the coordinator does not have it (it is then adopted from the first worker
 * that advertises the dataset). */
static void dataset_fingerprint(coord_t *c, const char *name, char fp[65])
{
    for (int i = 0; i < c->fp_cache_n; i++)
        if (strcmp(c->fp_cache_name[i], name) == 0) {
            memcpy(fp, c->fp_cache_fp[i], 65);
            return;
        }
    fp[0] = '\0';
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    /* The two named datasets are pinned by deploy/fetch-data.sh, so their
     * fingerprints are known even to a coordinator without the files; a
     * worker cannot talk a sweep into another copy. */
    static const char *const known[][2] = {
        {"mnist", "6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6"},
        {"fashion-mnist", "4d8e31d2057f6f938ff47097ba334038e7aafbaf24b67665d2dd1ecda01730a3"},
    };
    if (hpt_dataset_load(&ds, name, c->cfg.data_dir[0] ? c->cfg.data_dir : NULL, &err) == 0) {
        memcpy(fp, ds->fingerprint, 65);
        hpt_dataset_destroy(&ds);
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(name, known[i][0]) == 0 && strcmp(fp, known[i][1]) != 0)
                hpt_log(HPT_LOG_WARN, "sched",
                        "the coordinator's copy of a named dataset differs from the pinned one",
                        "dataset=%s fingerprint=%.12s pinned=%.12s", name, fp, known[i][1]);
    } else if (strcmp(name, "mnist") == 0 || strcmp(name, "fashion-mnist") == 0) {
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(name, known[i][0]) == 0)
                memcpy(fp, known[i][1], 65);
    } else {
        hpt_log(HPT_LOG_INFO, "sched", "dataset not available on the coordinator",
                "dataset=%s note=\"its fingerprint will be taken from the first worker that "
                "has it\"",
                name);
    }
    if (c->fp_cache_n < 8 && fp[0]) {
        snprintf(c->fp_cache_name[c->fp_cache_n], sizeof c->fp_cache_name[0], "%s", name);
        memcpy(c->fp_cache_fp[c->fp_cache_n], fp, 65);
        c->fp_cache_n++;
    }
}

int coord_sweep_submit(coord_t *c, const char *text, const char *path, coord_sweep_t **out,
                       hpt_err *err)
{
    *out = NULL;
    coord_spec_t *spec = NULL;
    int rc = coord_spec_parse(text, strlen(text), path, &spec, err);
    if (rc < 0)
        return rc;
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
        coord_search_destroy(&s->search);
        free(s->spec_text);
        coord_spec_destroy(&s->spec);
        free(s);
        return rc;
    }
    s->id = c->next_sweep_id++;
    s->state = SWEEP_QUEUED;
    s->created = coord_unix();
    dataset_fingerprint(c, spec->dataset, s->fingerprint);
    s->fp_logged = s->fingerprint[0] != '\0';
    long total = coord_search_total(s->search);
    int splits = spec->cv.folds * spec->cv.repeats * spec->seeds;   // tasks per trial
    if (total > 0 && (int64_t)total * splits > COORD_MAX_SWEEP_TASKS) {
        rc = hpt_err_set(err, -EINVAL,
                         "%s: the sweep has %ld trials x %d tasks (folds x repeats x seeds) = "
                         "%lld tasks; the limit is %lld (reduce the grid or budget.max_trials)",
                         path, total, splits, (long long)total * splits,
                         (long long)COORD_MAX_SWEEP_TASKS);
        coord_search_destroy(&s->search);
        free(s->spec_text);
        coord_spec_destroy(&s->spec);
        free(s);
        return rc;
    }
    if (total > 0)
        s->tasks_total = (int64_t)total * splits;
    if (c->sweeps_tail)
        c->sweeps_tail->next = s;
    else
        c->sweeps = s;
    c->sweeps_tail = s;
    coord_store_sweep_add(c->store, s->id, spec->name, path, text, spec->priority, s->created,
                          s->fingerprint);
    hpt_log(HPT_LOG_INFO, "sched", "sweep submitted",
            "sweep=%llu name=%s method=%s dataset=%s trials=%ld folds=%d repeats=%d "
            "priority=%d fingerprint=%.12s",
            (unsigned long long)s->id, spec->name, coord_method_name(spec->method),
            spec->dataset, total, spec->cv.folds, spec->cv.repeats, spec->priority,
            s->fingerprint[0] ? s->fingerprint : "unknown");
    *out = s;
    return 0;
}

/* Task `index` of trial tr (split index / seeds, training index % seeds),
 * or the refit (index ignored). */
static coord_task_t *task_new(coord_t *c, coord_sweep_t *s, coord_trial_t *tr, int index,
                              bool refit)
{
    coord_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    int split = index / s->spec->seeds;
    t->id = c->next_task_id++;
    t->trial = tr;
    t->sweep = s;
    t->refit = refit;
    t->index = refit ? -1 : index;
    t->split = refit ? -1 : split;
    t->seed_rep = refit ? 0 : index % s->spec->seeds;
    t->fold = refit ? 0 : split % s->spec->cv.folds;
    t->repeat = refit ? 0 : split / s->spec->cv.folds;
    t->score = t->accuracy = t->log_loss = t->f1_macro = t->train_score = NAN;
    if (map_put(c, t) < 0) {
        free(t);
        return NULL;
    }
    coord_store_task_add(c->store, t->id, s->id, tr->number, t->fold, t->repeat, t->seed_rep,
                         refit);
    return t;
}

static void params_json(const coord_sweep_t *s, const coord_trial_t *tr, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "{");
    for (int i = 0; i < s->spec->n_params && off < len; i++) {
        const coord_param_t *p = &s->spec->params[i];
        char v[64];
        coord_pval_format(p, &tr->vals[i], v, sizeof v);
        if (tr->vals[i].absent)   // a conditional parameter that does not apply
            snprintf(v, sizeof v, "null");
        bool quote = p->kind == COORD_PKIND_ENUM && !tr->vals[i].absent;
        off += (size_t)snprintf(buf + off, len - off, "%s\"%s\":%s%s%s", i ? "," : "", p->name,
                                quote ? "\"" : "", v, quote ? "\"" : "");
    }
    if (off < len)
        snprintf(buf + off, len - off, "}");
}

static void trial_finish(coord_t *c, coord_trial_t *tr);

/* Take the next suggestion from the search as a new trial (without tasks).
 * Returns NULL when the search has none now (*done set when it never will)
 * or memory ran out.  The trial's params JSON goes into pj (size len). */
static coord_trial_t *trial_next(coord_sweep_t *s, char *pj, size_t len, bool *done)
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
    if (s->n_trials == s->cap_trials) {
        size_t cap = s->cap_trials ? s->cap_trials * 2 : 64;
        coord_trial_t **tv = realloc(s->trials, cap * sizeof *tv);
        if (!tv)
            return NULL;
        s->trials = tv;
        s->cap_trials = cap;
    }
    coord_trial_t *tr = calloc(1, sizeof *tr);
    int splits = s->spec->cv.folds * s->spec->cv.repeats * s->spec->seeds;
    if (!tr || !(tr->tasks = calloc((size_t)splits, sizeof *tr->tasks))) {
        free(tr);
        return NULL;
    }
    s->trials[s->n_trials++] = tr;
    tr->number = s->n_trials;
    tr->sweep = s;
    /* A promotion (hyperband, asha) continues an earlier trial: it trains
     * with that configuration's seeds so a worker can resume its model. */
    uint64_t parent = s->search->parent;
    if (parent >= 1 && parent < tr->number) {
        tr->parent = parent;
        tr->root = s->trials[parent - 1]->root;
    } else {
        tr->root = tr->number;
    }
    tr->n_tasks = splits;
    tr->state = TRIAL_RUNNING;
    tr->mean = tr->std = tr->mean_fit = tr->std_fit = tr->mean_train = tr->std_train = NAN;
    memcpy(tr->vals, vals, sizeof(coord_pval_t) * (size_t)s->spec->n_params);
    params_json(s, tr, pj, len);
    hpt_err err = {0};
    if (coord_spec_apply(s->spec, vals, &tr->hp, &err) < 0) {
        /* A combination the engine rejects fails the trial without running
         * it. */
        snprintf(tr->error, sizeof tr->error, "%s", err.msg);
        tr->n_tasks = 0;
    }
    return tr;
}

/* Ask the search for one more trial and queue its tasks.  Returns the
 * number of tasks queued (0 when the search has none now). */
static int sweep_grow(coord_t *c, coord_sweep_t *s)
{
    char pj[2048];
    bool done;
    coord_trial_t *tr = trial_next(s, pj, sizeof pj, &done);
    if (!tr)
        return 0;
    coord_store_trial_add(c->store, s->id, tr->number, pj, s->search->observed);
    if (tr->n_tasks == 0) {
        trial_finish(c, tr);
        return 0;
    }
    int splits = tr->n_tasks;
    if (coord_search_total(s->search) < 0)
        s->tasks_total += splits;
    for (int k = 0; k < splits; k++) {
        coord_task_t *t = task_new(c, s, tr, k, false);
        if (!t) {
            hpt_log(HPT_LOG_ERROR, "sched", "out of memory creating tasks", "sweep=%llu",
                    (unsigned long long)s->id);
            return 0;
        }
        tr->tasks[k] = t;
        q_push(s, t, false);
    }
    hpt_log(HPT_LOG_DEBUG, "sched", "trial created", "sweep=%llu trial=%llu params=%s",
            (unsigned long long)s->id, (unsigned long long)tr->number, pj);
    return splits;
}

// --- leasing --------------------------------------------------------------

/* The seed a task trains with: a pure function of the sweep seed, the trial's
 * base seed, the trial number (of its configuration's first trial, so a
 * promotion trains the same model further), the split and the cv.seeds
 * training index, so any worker, any attempt, gives the same result. */
static uint64_t task_seed(const coord_task_t *t)
{
    uint64_t v[5] = {t->sweep->spec->seed, t->trial->hp.seed, t->trial->root,
                     (uint64_t)(int64_t)t->split, (uint64_t)t->seed_rep};
    hpt_rng_t r;
    hpt_rng_seed_n(&r, v, t->seed_rep ? 5 : 4);
    return hpt_rng_u64(&r);
}

static bool lease(coord_t *c, coord_task_t *t, coord_worker_t *w)
{
    coord_sweep_t *s = t->sweep;
    double queued_at = t->queued_at;
    q_remove(s, t);
    t->attempt++;
    t->state = TASK_LEASED;
    t->worker = w;
    t->leased_at = t->progress_at = coord_now();
    t->epoch = 0;
    t->wprev = NULL;
    t->wnext = w->leased;
    if (w->leased)
        w->leased->wprev = t;
    w->leased = t;
    w->busy++;
    s->tasks_running++;

    hpt_hparams_t hp = t->trial->hp;
    hp.seed = task_seed(t);
    uint32_t units[HPT_MAX_LAYERS];
    Hpt__HParams wh;
    hpt_proto_hparams_to_wire(&hp, &wh, units);
    Hpt__Assign a = HPT__ASSIGN__INIT;
    a.task = t->id;
    a.attempt = t->attempt;
    a.sweep = s->id;
    a.trial = t->trial->number;
    a.refit = t->refit;
    a.fold = (uint32_t)t->fold;
    a.folds = (uint32_t)s->spec->cv.folds;
    a.repeat = (uint32_t)t->repeat;
    a.cv_seed = s->spec->cv.seed;
    a.stratified = s->spec->cv.stratified;
    a.shuffle = s->spec->cv.shuffle;
    a.dataset = s->spec->dataset;
    a.fingerprint = s->fingerprint;
    a.hparams = &wh;
    a.score_train = s->spec->score_train;
    a.test_objective = s->spec->test_objective;
    a.score_epochs = coord_search_wants_epochs(s->search);
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    int rc = coord_send(c, &w->peer, &env);
    if (rc < 0) {
        /* Unroutable: undo the lease without counting an attempt. */
        coord_task_unlease(c, t);
        t->attempt--;
        q_push(s, t, true);
        t->queued_at = queued_at;   // it never left the queue as far as latency goes
        return false;
    }
    coord_metrics_dispatch(c, t->leased_at - queued_at);
    if (t->attempt > 1)
        c->tasks_retried++;
    coord_store_task_lease(c->store, t->id, t->attempt, w->id, coord_unix());
    if (s->state == SWEEP_QUEUED)
        sweep_set_state(c, s, SWEEP_RUNNING);
    hpt_log(HPT_LOG_DEBUG, "sched", "task leased",
            "sweep=%llu trial=%llu task=%llu split=%d seed_rep=%d attempt=%u worker=%s",
            (unsigned long long)s->id, (unsigned long long)t->trial->number,
            (unsigned long long)t->id, t->split, t->seed_rep, t->attempt, w->id);
    return true;
}

/* Sweeps in dispatch order: priority (high first), then submission order. */
static int sweep_order(coord_t *c, coord_sweep_t **out, int max)
{
    int n = 0;
    for (coord_sweep_t *s = c->sweeps; s && n < max; s = s->next)
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

/* Whether w may run tasks of s; logs the reason once when not. */
static bool worker_fits(coord_t *c, coord_worker_t *w, coord_sweep_t *s)
{
    int has = coord_worker_has_dataset(w, s);
    if (has == 1 && s->fingerprint[0] == '\0') {
        for (int i = 0; i < w->n_datasets; i++)
            if (strcmp(w->ds_name[i], s->spec->dataset) == 0 &&
                strcmp(w->ds_fp[i], "dry-run") != 0)
                memcpy(s->fingerprint, w->ds_fp[i], 65);
    }
    if (has == 1 && s->fingerprint[0] != '\0' && !s->fp_logged) {
        s->fp_logged = true;
        hpt_log(HPT_LOG_INFO, "sched", "dataset fingerprint adopted from a worker",
                "sweep=%llu dataset=%s fingerprint=%.12s worker=%s", (unsigned long long)s->id,
                s->spec->dataset, s->fingerprint, w->id);
    }
    if (has == 1)
        return true;
    if (has == 0)
        coord_datasets_offer(c, w, s);   // it may fetch it (coord_datasets.c)
    if (!warned(w, s->id)) {
        if (has == 0)
            hpt_log(HPT_LOG_INFO, "sched", "worker lacks the sweep's dataset; no tasks for it",
                    "sweep=%llu worker=%s dataset=%s", (unsigned long long)s->id, w->id,
                    s->spec->dataset);
        else
            hpt_log(HPT_LOG_WARN, "sched",
                    "worker's dataset fingerprint differs from the sweep's; no tasks for it",
                    "sweep=%llu worker=%s dataset=%s want=%.12s", (unsigned long long)s->id,
                    w->id, s->spec->dataset, s->fingerprint);
    }
    return false;
}

static void sweep_check_end(coord_t *c, coord_sweep_t *s);

/* The worker id that holds the model a promoted task continues (the one
 * that trained the same task of the parent trial), or NULL. */
static const char *task_affinity(const coord_task_t *t)
{
    const coord_trial_t *tr = t->trial;
    if (t->refit || !tr->parent)
        return NULL;
    const coord_trial_t *p = t->sweep->trials[tr->parent - 1];
    const coord_task_t *pt = t->index < p->n_tasks ? p->tasks[t->index] : NULL;
    return pt && pt->state == TASK_DONE ? pt->done_by : NULL;
}

/* Whether worker id is connected (and so may take its promoted tasks). */
static bool worker_live(coord_t *c, const char *id)
{
    for (coord_worker_t *o = c->workers; o; o = o->next)
        if (strcmp(o->id, id) == 0)
            return true;
    return false;
}

/* The first queued task of s that w may take, looking a bounded way down
 * the queue:
 *  - a task whose last attempt stalled or failed on w goes elsewhere while
 *    another live worker with free slots could take it;
 *  - a promoted task (hyperband, asha) goes to the worker that holds its
 *    parent's model, which continues training instead of starting over:
 *    first w's own such tasks, then tasks with no live holder; with strict
 *    false (the search has nothing new to offer) any task. */
static coord_task_t *pick_task(coord_t *c, coord_sweep_t *s, coord_worker_t *w, bool strict)
{
    int looked = 0;
    coord_task_t *free_task = NULL, *held = NULL;
    for (coord_task_t *t = s->qhead; t && looked < 64; t = t->qnext, looked++) {
        if (t->avoid && strcmp(t->avoid, w->id) == 0) {
            bool other = false;
            for (coord_worker_t *o = c->workers; o && !other; o = o->next)
                other = o != w && coord_worker_free_slots(o) > 0 &&
                        coord_worker_has_dataset(o, s) == 1;
            if (other)
                continue;
        }
        const char *aff = task_affinity(t);
        if (aff && strcmp(aff, w->id) == 0)
            return t;
        if (!aff || !worker_live(c, aff)) {
            if (!free_task)
                free_task = t;
        } else if (!held) {
            held = t;
        }
    }
    return free_task ? free_task : strict ? NULL : held;
}

void coord_dispatch(coord_t *c)
{
    if (c->stopping)
        return;
    coord_sweep_t *order[256];
    int n = sweep_order(c, order, 256);
    if (n == 0)
        return;
    for (coord_worker_t *w = c->workers, *wn; w; w = wn) {
        wn = w->next;
        int free_slots = coord_worker_free_slots(w);
        for (int i = 0; i < n && free_slots > 0; i++) {
            coord_sweep_t *s = order[i];
            if (s->state >= SWEEP_DONE || !worker_fits(c, w, s))
                continue;
            int cap = s->spec->max_parallel;
            while (free_slots > 0 && (cap == 0 || s->tasks_running < cap)) {
                if (!s->qhead && sweep_grow(c, s) == 0)
                    break;
                if (!s->qhead)
                    break;
                coord_task_t *t = pick_task(c, s, w, true);
                /* Only tasks whose model another worker holds are queued:
                 * start something new rather than retrain them here. */
                if (!t && sweep_grow(c, s) > 0)
                    t = pick_task(c, s, w, true);
                if (!t)
                    t = pick_task(c, s, w, false);
                if (!t)
                    break;
                if (!lease(c, t, w)) {
                    free_slots = 0;
                    break;
                }
                free_slots--;
            }
        }
    }
    for (int i = 0; i < n; i++)
        sweep_check_end(c, order[i]);
}

// --- results --------------------------------------------------------------

static bool better(const coord_sweep_t *s, double a, double b)
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
        if (!t || t->state != TASK_DONE)
            return NAN;
        sum += train ? t->train_score : t->score;
    }
    return sum / seeds;
}

double coord_trial_finished(const coord_trial_t *tr)
{
    if (tr->state != TRIAL_DONE)
        return NAN;
    double t = 0;
    for (int k = 0; k < tr->n_tasks; k++)
        if (tr->tasks[k] && tr->tasks[k]->finished_unix > t)
            t = tr->tasks[k]->finished_unix;
    return t > 0 ? t : NAN;
}

static void trial_finish(coord_t *c, coord_trial_t *tr)
{
    coord_sweep_t *s = tr->sweep;
    int n = tr->n_tasks, seeds = s->spec->seeds, ns = n / seeds;
    double *sc = calloc((size_t)(n > 0 ? n : 1) * 3, sizeof *sc);
    double *ft = sc ? sc + n : NULL, *ts = sc ? sc + 2 * n : NULL;
    bool ok = sc && n > 0 && tr->error[0] == '\0';
    if (!sc)
        snprintf(tr->error, sizeof tr->error, "out of memory aggregating the trial");
    for (int k = 0; k < n && ok; k++) {
        coord_task_t *t = tr->tasks[k];
        if (t->state != TASK_DONE) {
            ok = false;
            break;
        }
        ft[k] = t->fit_seconds;
    }
    /* scikit-learn's statistics are over splits; a split trained with
     * several seeds scores their mean. */
    for (int k = 0; k < ns && ok; k++) {
        sc[k] = coord_trial_split_score(tr, k, false);
        ts[k] = coord_trial_split_score(tr, k, true);
    }
    if (ok) {
        coord_agg_mean_std(sc, ns, &tr->mean, &tr->std);
        coord_agg_mean_std(ft, n, &tr->mean_fit, &tr->std_fit);
        coord_agg_mean_std(ts, ns, &tr->mean_train, &tr->std_train);
        tr->state = TRIAL_DONE;
        s->trials_done++;
        if (!s->best || better(s, tr->mean, s->best->mean))
            s->best = tr;
    } else {
        tr->mean = tr->std = NAN;
        tr->state = s->state == SWEEP_CANCELLED ? TRIAL_CANCELLED : TRIAL_FAILED;
        if (tr->state == TRIAL_FAILED)
            s->trials_failed++;
    }
    /* Every suggested trial is observed exactly once (NaN when it failed):
     * strategies that wait for their trials (coordinate search) need it. */
    long seq = 0;
    if (!tr->observed) {
        coord_search_observe(s->search, tr->number, tr->mean);
        tr->observed = true;
        seq = s->search->observed;
    }
    coord_store_trial_done(c->store, s->id, tr->number, coord_trial_state_name(tr->state),
                           tr->mean, tr->std, tr->error[0] ? tr->error : NULL, seq);
    coord_sweep_results_changed(s);
    hpt_log(c->replaying ? HPT_LOG_DEBUG : HPT_LOG_INFO, "sched", ok ? "trial done" : "trial failed",
            "sweep=%llu trial=%llu mean=%.6f std=%.6f best_trial=%llu best=%.6f%s%s%s",
            (unsigned long long)s->id, (unsigned long long)tr->number, tr->mean, tr->std,
            (unsigned long long)(s->best ? s->best->number : 0), s->best ? s->best->mean : NAN,
            tr->error[0] ? " error=\"" : "", tr->error, tr->error[0] ? "\"" : "");
    free(sc);
}

/* Tell the worker holding t to cancel it and take the lease back; the
 * worker's thread keeps the slot (a zombie) until its heartbeats show it
 * stopped. */
static void revoke_on_worker(coord_t *c, coord_task_t *t)
{
    coord_worker_t *w = t->worker;
    Hpt__Cancel m = HPT__CANCEL__INIT;
    m.task = t->id;
    m.attempt = t->attempt;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_CANCEL;
    env.cancel = &m;
    coord_send(c, &w->peer, &env);
    coord_task_unlease(c, t);
    w->zombies++;
}

/* Stop every other task of a failed trial: queued ones leave the queue,
 * leased ones are cancelled on their worker. */
static void trial_abandon(coord_t *c, coord_trial_t *tr, coord_task_t *except)
{
    for (int k = 0; k < tr->n_tasks; k++) {
        coord_task_t *t = tr->tasks[k];
        if (t == except)
            continue;
        if (t->state == TASK_QUEUED || t->state == TASK_LEASED)
            tr->sweep->tasks_total--;   // will never run: not part of done/total
        if (t->state == TASK_QUEUED) {
            q_remove(tr->sweep, t);
            t->state = TASK_CANCELLED;
            coord_store_task_state(c->store, t->id, "cancelled", "trial failed");
        } else if (t->state == TASK_LEASED) {
            revoke_on_worker(c, t);
            t->state = TASK_CANCELLED;
            coord_store_attempt_end(c->store, t->id, t->attempt, "cancelled", "trial failed",
                                    coord_unix());
            coord_store_task_state(c->store, t->id, "cancelled", "trial failed");
        }
    }
}

static void sweep_finish(coord_t *c, coord_sweep_t *s, coord_sweep_state_t st)
{
    sweep_set_state(c, s, st);
    if (s->has_refit && s->best)
        coord_store_sweep_refit(c->store, s->id, s->best->number, s->refit_score,
                                s->refit_accuracy);
    hpt_log(st == SWEEP_DONE ? HPT_LOG_INFO : HPT_LOG_WARN, "sched", "sweep finished",
            "sweep=%llu state=%s trials=%zu trials_failed=%d best_trial=%llu best_mean=%.6f "
            "best_std=%.6f refit_score=%.6f%s%s%s",
            (unsigned long long)s->id, coord_sweep_state_name(st), s->n_trials, s->trials_failed,
            (unsigned long long)(s->best ? s->best->number : 0), s->best ? s->best->mean : NAN,
            s->best ? s->best->std : NAN, s->has_refit ? s->refit_score : NAN,
            s->error[0] ? " error=\"" : "", s->error, s->error[0] ? "\"" : "");
}

/* A sweep ends when the search is exhausted and nothing is queued or
 * running; then the refit runs (if asked), then the sweep is done. */
static void sweep_check_end(coord_t *c, coord_sweep_t *s)
{
    if (s->state >= SWEEP_DONE)
        return;
    if (s->state == SWEEP_REFITTING) {
        coord_task_t *t = s->refit_task;
        if (t->state == TASK_DONE) {
            s->has_refit = true;
            s->refit_score = t->score;
            s->refit_accuracy = t->accuracy;
            s->refit_n_test = t->n_eval;
            sweep_finish(c, s, SWEEP_DONE);
        } else if (t->state == TASK_FAILED) {
            snprintf(s->error, sizeof s->error, "refit failed: %.200s", t->error ? t->error : "");
            sweep_finish(c, s, SWEEP_FAILED);
        }
        return;
    }
    if (s->qhead || s->tasks_running > 0)
        return;
    if (!s->exhausted) {
        /* Only the search knows whether more trials come. */
        if (sweep_grow(c, s) > 0 || !s->exhausted)
            return;
    }
    for (size_t i = 0; i < s->n_trials; i++)
        if (s->trials[i]->state == TRIAL_RUNNING)
            return;
    if (!s->best) {
        snprintf(s->error, sizeof s->error, "every trial failed%s%.200s",
                 s->n_trials ? "; first error: " : "",
                 s->n_trials ? s->trials[0]->error : "");
        sweep_finish(c, s, SWEEP_FAILED);
        return;
    }
    if (!s->spec->refit) {
        sweep_finish(c, s, SWEEP_DONE);
        return;
    }
    s->refit_task = task_new(c, s, s->best, -1, true);
    if (!s->refit_task) {
        snprintf(s->error, sizeof s->error, "out of memory creating the refit task");
        sweep_finish(c, s, SWEEP_FAILED);
        return;
    }
    s->state = SWEEP_REFITTING;
    coord_store_sweep_state(c->store, s->id, "refitting", coord_unix(), NULL);
    q_push(s, s->refit_task, false);
    hpt_log(HPT_LOG_INFO, "sched", "refitting the best trial on all training data",
            "sweep=%llu trial=%llu mean=%.6f", (unsigned long long)s->id,
            (unsigned long long)s->best->number, s->best->mean);
    coord_dispatch(c);
}

static void task_failed(coord_t *c, coord_task_t *t, const char *error)
{
    coord_sweep_t *s = t->sweep;
    t->failures++;
    str_set(&t->error, error);
    coord_store_attempt_end(c->store, t->id, t->attempt, "failed", error, coord_unix());
    if ((int)t->failures < c->cfg.max_attempts && s->state < SWEEP_DONE) {
        hpt_log(HPT_LOG_WARN, "sched", "task failed; retrying",
                "sweep=%llu trial=%llu task=%llu attempt=%u error=\"%s\"",
                (unsigned long long)s->id, (unsigned long long)t->trial->number,
                (unsigned long long)t->id, t->attempt, error);
        q_push(s, t, true);
        return;
    }
    t->state = TASK_FAILED;
    s->tasks_failed++;
    coord_store_task_state(c->store, t->id, "failed", error);
    hpt_log(HPT_LOG_WARN, "sched", "task failed for good",
            "sweep=%llu trial=%llu task=%llu attempts=%u error=\"%s\"",
            (unsigned long long)s->id, (unsigned long long)t->trial->number,
            (unsigned long long)t->id, t->attempt, error);
    if (t->refit)
        return;
    coord_trial_t *tr = t->trial;
    snprintf(tr->error, sizeof tr->error, "split %d: %s", t->split, error);
    trial_abandon(c, tr, t);
    trial_finish(c, tr);
}

void coord_on_result(coord_t *c, coord_worker_t *w, const Hpt__Result *m)
{
    coord_task_t *t = map_get(c, m->task);
    const char *wid = w ? w->id : "unregistered";
    /* An orphaned lease (from before a restart) accepts its attempt's result
     * from whoever delivers it: the result is a function of the task. */
    if (!t || t->state != TASK_LEASED || t->attempt != m->attempt ||
        (t->worker != w && t->worker != NULL)) {
        c->results_dropped++;
        if (w && !coord_log_allowed(c, &w->peer, 2, 20))
            return;
        hpt_log(HPT_LOG_INFO, "sched", "stale or duplicate result dropped",
                "task=%llu attempt=%u worker=%s reason=%s", (unsigned long long)m->task,
                m->attempt, wid,
                !t                           ? "unknown-task"
                : t->state != TASK_LEASED    ? "task-not-leased"
                : t->attempt != m->attempt   ? "superseded-attempt"
                                             : "leased-to-another-worker");
        return;
    }
    coord_sweep_t *s = t->sweep;
    if (!m->ok && m->refused) {
        /* Not run at all (the worker is full, draining, or lacks the data):
         * back to the front of the queue without counting an attempt as
         * failed; the next lease carries attempt + 1. */
        char why[320];
        snprintf(why, sizeof why, "refused by the worker: %.280s", m->error);
        coord_requeue(c, t, why);
        if (w)   // its view of its slots differs from ours: wait for a heartbeat
            w->cooldown_until = coord_now() + c->cfg.hb_ivl_ms * 1e-3;
        coord_dispatch(c);
        return;
    }
    coord_task_unlease(c, t);
    if (!m->ok) {
        if (w) {
            w->tasks_failed++;
            str_set(&t->avoid, w->id);
        }
        task_failed(c, t, m->error[0] ? m->error : "failed without a message");
    } else {
        if (w) {
            w->tasks_done++;
            // epochs it trained: a promoted trial's model continued from resumed_from
            w->epochs_done += m->epochs > m->resumed_from ? m->epochs - m->resumed_from : 0;
        }
        t->state = TASK_DONE;
        t->score = m->score;
        t->accuracy = m->accuracy;
        t->log_loss = m->log_loss;
        t->f1_macro = m->f1_macro;
        t->train_score = m->train_score;
        t->fit_seconds = m->fit_seconds;
        t->epochs = (int)m->epochs;
        t->n_eval = m->n_eval;
        t->resumed_from = (int)m->resumed_from;
        str_set(&t->done_by, w ? w->id : t->orphan_of);
        coord_store_result_t r = {
            .score = t->score, .accuracy = t->accuracy, .log_loss = t->log_loss,
            .f1_macro = t->f1_macro, .train_score = t->train_score,
            .fit_seconds = t->fit_seconds, .epochs = t->epochs, .n_eval = t->n_eval,
            .resumed_from = t->resumed_from,
        };
        t->finished_unix = coord_unix();
        coord_store_task_result(c->store, t->id, t->attempt, &r, t->finished_unix);
        s->tasks_done++;
        if (s->first_result_mono == 0)
            s->first_result_mono = coord_now();
        hpt_log(HPT_LOG_DEBUG, "sched", "result",
                "sweep=%llu trial=%llu task=%llu split=%d attempt=%u score=%.6f fit_s=%.3f "
                "epochs=%d resumed_from=%d worker=%s",
                (unsigned long long)s->id, (unsigned long long)t->trial->number,
                (unsigned long long)t->id, t->split, t->attempt, t->score, t->fit_seconds,
                t->epochs, t->resumed_from, wid);
        if (t->refit) {
            hpt_log(HPT_LOG_INFO, "sched", "refit done",
                    "sweep=%llu trial=%llu test_score=%.6f test_accuracy=%.6f",
                    (unsigned long long)s->id, (unsigned long long)t->trial->number, t->score,
                    t->accuracy);
        } else {
            coord_trial_t *tr = t->trial;
            tr->done++;
            if (tr->done == tr->n_tasks && tr->state == TRIAL_RUNNING)
                trial_finish(c, tr);
        }
    }
    coord_dispatch(c);
    sweep_check_end(c, s);
}

void coord_on_progress(coord_t *c, coord_worker_t *w, const Hpt__Progress *m)
{
    coord_task_t *t = map_get(c, m->task);
    if (!t || t->state != TASK_LEASED || t->attempt != m->attempt || t->worker != w)
        return;
    if ((int)m->epoch > t->epoch) {
        t->progress_at = coord_now();
        c->epochs_total += (uint64_t)((int)m->epoch - t->epoch);
    }
    t->epoch = (int)m->epoch;
    coord_search_observe_epoch(t->sweep->search, t->trial->number, (int)m->epoch, m->val_score);
    hpt_log(HPT_LOG_DEBUG, "sched", "progress",
            "sweep=%llu trial=%llu task=%llu epoch=%u/%u val_score=%.6f train_loss=%.6f",
            (unsigned long long)t->sweep->id, (unsigned long long)t->trial->number,
            (unsigned long long)t->id, m->epoch, m->epochs, m->val_score, m->train_loss);
}

void coord_requeue(coord_t *c, coord_task_t *t, const char *why)
{
    coord_store_attempt_end(c->store, t->id, t->attempt, "lost", why, coord_unix());
    coord_task_unlease(c, t);
    hpt_log(HPT_LOG_INFO, "sched", "task requeued",
            "sweep=%llu trial=%llu task=%llu attempt=%u reason=\"%s\"",
            (unsigned long long)t->sweep->id, (unsigned long long)t->trial->number,
            (unsigned long long)t->id, t->attempt, why);
    q_push(t->sweep, t, true);
}

int coord_sweep_cancel(coord_t *c, coord_sweep_t *s)
{
    if (s->state >= SWEEP_DONE)
        return 0;
    s->state = SWEEP_CANCELLED;
    while (s->qhead) {
        coord_task_t *t = s->qhead;
        q_remove(s, t);
        t->state = TASK_CANCELLED;
        coord_store_task_state(c->store, t->id, "cancelled", "sweep cancelled");
    }
    for (coord_worker_t *w = c->workers; w; w = w->next) {
        for (coord_task_t *t = w->leased, *tn; t; t = tn) {
            tn = t->wnext;
            if (t->sweep != s)
                continue;
            revoke_on_worker(c, t);
            t->state = TASK_CANCELLED;
            coord_store_attempt_end(c->store, t->id, t->attempt, "cancelled", "sweep cancelled",
                                    coord_unix());
            coord_store_task_state(c->store, t->id, "cancelled", "sweep cancelled");
        }
    }
    /* Leases inherited from before a restart whose worker has not come back. */
    for (size_t i = 0; i < s->n_trials; i++)
        for (int k = 0; k < s->trials[i]->n_tasks; k++) {
            coord_task_t *t = s->trials[i]->tasks[k];
            if (t && t->orphan_of) {
                coord_task_unlease(c, t);
                t->state = TASK_CANCELLED;
                coord_store_attempt_end(c->store, t->id, t->attempt, "cancelled",
                                        "sweep cancelled", coord_unix());
                coord_store_task_state(c->store, t->id, "cancelled", "sweep cancelled");
            }
        }
    for (size_t i = 0; i < s->n_trials; i++)
        if (s->trials[i]->state == TRIAL_RUNNING) {
            s->trials[i]->state = TRIAL_CANCELLED;
            coord_store_trial_done(c->store, s->id, s->trials[i]->number, "cancelled", NAN, NAN,
                                   NULL, 0);
        }
    snprintf(s->error, sizeof s->error, "cancelled by a client");
    sweep_finish(c, s, SWEEP_CANCELLED);
    coord_dispatch(c);
    return 1;
}

double coord_sweep_eta(const coord_sweep_t *s)
{
    if (s->state >= SWEEP_DONE)
        return 0;
    if (!s->first_result_mono || s->tasks_done < 1 || s->tasks_total <= 0)
        return -1;
    double el = coord_now() - s->first_result_mono;
    /* Tasks finished since the first result, over the time since then;
     * the first result itself marks time zero. */
    if (s->tasks_done < 2 || el <= 0)
        return -1;
    double rate = (s->tasks_done - 1) / el;
    int64_t left = s->tasks_total - s->tasks_done - s->tasks_failed;
    return left > 0 ? left / rate : 0;
}

static void trial_free(coord_trial_t *tr)
{
    for (int k = 0; k < tr->n_tasks; k++)
        task_free(tr->tasks[k]);
    free(tr->tasks);
    free(tr);
}

void coord_sweeps_free(coord_t *c)
{
    for (coord_sweep_t *s = c->sweeps, *n; s; s = n) {
        n = s->next;
        for (size_t i = 0; i < s->n_trials; i++)
            trial_free(s->trials[i]);
        free(s->trials);
        task_free(s->refit_task);
        coord_search_destroy(&s->search);
        coord_spec_destroy(&s->spec);
        free(s->spec_text);
        free(s);
    }
    c->sweeps = c->sweeps_tail = NULL;
    free(c->map);
    c->map = NULL;
    c->map_cap = c->map_len = 0;
}

// --- resume ---------------------------------------------------------------

typedef struct resume_ctx {
    coord_t *c;
    coord_sweep_t *s;
    int resumed;
    int loaded;              // finished sweeps loaded for their results
    bool finished_sweep;     // the sweep being loaded had ended
    hpt_err *err;
    char bad[256];
} resume_ctx_t;

/* A journaled trial row, copied for the replay. */
typedef struct trial_row {
    uint64_t trial;
    char *params;
    double mean;
    long obs_before, obs_seq;
} trial_row_t;

typedef struct trial_rows {
    trial_row_t *v;
    size_t n, cap;
} trial_rows_t;

static int collect_trial(const coord_store_trial_row_t *row, void *ud)
{
    trial_rows_t *rs = ud;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        trial_row_t *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    trial_row_t *t = &rs->v[rs->n];
    *t = (trial_row_t){.trial = row->trial, .params = strdup(row->params ? row->params : ""),
                       .mean = row->mean, .obs_before = row->obs_before, .obs_seq = row->obs_seq};
    if (!t->params)
        return -ENOMEM;
    rs->n++;
    return 0;
}

static int by_obs_seq(const void *a, const void *b)
{
    const trial_row_t *x = *(trial_row_t *const *)a, *y = *(trial_row_t *const *)b;
    return (x->obs_seq > y->obs_seq) - (x->obs_seq < y->obs_seq);
}

/* Replay the search: suggestions and observations in the journal's order.
 * The search is deterministic given its seed and that interleaving, so each
 * replayed suggestion must equal the journaled trial; r->bad says where it
 * does not. */
static int replay_search(resume_ctx_t *r, const trial_rows_t *rs)
{
    coord_sweep_t *s = r->s;
    size_t n_obs = 0;
    trial_row_t **obs = calloc(rs->n ? rs->n : 1, sizeof *obs);
    if (!obs)
        return -ENOMEM;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].obs_seq > 0)
            obs[n_obs++] = &rs->v[i];
    qsort(obs, n_obs, sizeof *obs, by_obs_seq);
    size_t next = 0;
    int rc = 0;
    for (size_t i = 0; i < rs->n && rc == 0; i++) {
        const trial_row_t *row = &rs->v[i];
        for (; next < n_obs && obs[next]->obs_seq <= row->obs_before; next++) {
            coord_trial_t *t = obs[next]->trial <= s->n_trials ? s->trials[obs[next]->trial - 1]
                                                                : NULL;
            if (!t) {
                snprintf(r->bad, sizeof r->bad,
                         "trial %llu was observed before trial %llu was suggested",
                         (unsigned long long)obs[next]->trial, (unsigned long long)row->trial);
                rc = -EINVAL;
                break;
            }
            coord_search_observe(s->search, t->number, obs[next]->mean);
            t->observed = true;
        }
        if (rc)
            break;
        char pj[2048];
        bool done;
        coord_trial_t *tr = trial_next(s, pj, sizeof pj, &done);
        if (!tr || tr->number != row->trial || strcmp(pj, row->params) != 0) {
            snprintf(r->bad, sizeof r->bad,
                     "trial %llu: the search replays %.90s where the journal has %.90s",
                     (unsigned long long)row->trial, tr ? pj : "nothing", row->params);
            rc = -EINVAL;
        }
    }
    for (; rc == 0 && next < n_obs; next++) {
        coord_trial_t *t = s->trials[obs[next]->trial - 1];
        coord_search_observe(s->search, t->number, obs[next]->mean);
        t->observed = true;
    }
    free(obs);
    return rc;
}

static coord_task_t *resume_task_new(coord_t *c, coord_sweep_t *s, coord_trial_t *tr,
                                     const coord_store_task_row_t *row)
{
    coord_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->id = row->id;
    t->trial = tr;
    t->sweep = s;
    t->refit = row->refit;
    t->fold = row->fold;
    t->repeat = row->repeat;
    t->split = row->refit ? -1 : row->repeat * s->spec->cv.folds + row->fold;
    t->seed_rep = row->refit ? 0 : row->seed_rep;
    t->index = row->refit ? -1 : t->split * s->spec->seeds + t->seed_rep;
    t->attempt = row->attempt;
    t->failures = row->failures;
    t->score = t->accuracy = t->log_loss = t->f1_macro = t->train_score = NAN;
    if (row->error)
        str_set(&t->error, row->error);
    if (map_put(c, t) < 0) {
        free(t);
        return NULL;
    }
    if (t->id >= c->next_task_id)
        c->next_task_id = t->id + 1;
    return t;
}

static int resume_task(const coord_store_task_row_t *row, void *ud)
{
    resume_ctx_t *r = ud;
    coord_t *c = r->c;
    coord_sweep_t *s = r->s;
    if (row->trial < 1 || row->trial > s->n_trials) {
        snprintf(r->bad, sizeof r->bad, "task %llu names trial %llu, which does not exist",
                 (unsigned long long)row->id, (unsigned long long)row->trial);
        return -EINVAL;
    }
    coord_trial_t *tr = s->trials[row->trial - 1];
    int seeds = s->spec->seeds;
    int split = row->repeat * s->spec->cv.folds + row->fold;
    int index = split * seeds + row->seed_rep;
    if (!row->refit && (split < 0 || row->seed_rep < 0 || row->seed_rep >= seeds ||
                        index >= tr->n_tasks || tr->tasks[index])) {
        snprintf(r->bad, sizeof r->bad,
                 "task %llu: split %d (seed %d) of trial %llu is invalid or twice",
                 (unsigned long long)row->id, split, row->seed_rep,
                 (unsigned long long)row->trial);
        return -EINVAL;
    }
    coord_task_t *t = resume_task_new(c, s, tr, row);
    if (!t)
        return -ENOMEM;
    if (row->refit) {
        task_free(s->refit_task);
        s->refit_task = t;
        s->best = tr;
        s->state = SWEEP_REFITTING;
    } else {
        tr->tasks[index] = t;
    }
    const char *st = row->state;
    if (strcmp(st, "done") == 0) {
        t->state = TASK_DONE;
        t->score = row->r.score;
        t->accuracy = row->r.accuracy;
        t->log_loss = row->r.log_loss;
        t->f1_macro = row->r.f1_macro;
        t->train_score = row->r.train_score;
        t->fit_seconds = row->r.fit_seconds;
        t->epochs = row->r.epochs;
        t->n_eval = row->r.n_eval;
        t->finished_unix = isnan(row->finished) ? 0 : row->finished;
        t->resumed_from = row->resumed_from;
        if (row->worker)
            str_set(&t->done_by, row->worker);
        s->tasks_done++;
        if (!row->refit)
            tr->done++;
    } else if (strcmp(st, "failed") == 0) {
        t->state = TASK_FAILED;
        s->tasks_failed++;
    } else if (strcmp(st, "cancelled") == 0) {
        t->state = TASK_CANCELLED;
    } else if (r->finished_sweep) {
        t->state = TASK_CANCELLED;   // a finished sweep runs nothing more
    } else if (strcmp(st, "leased") == 0 && row->worker) {
        /* Its worker may still be training it: keep the lease for a while so
         * the worker can re-attach and deliver, rather than recompute. */
        t->state = TASK_LEASED;
        t->leased_at = t->progress_at = coord_now();
        t->orphan_of = strdup(row->worker);
        t->orphan_deadline = coord_now() + 2.0 * c->cfg.hb_ivl_ms * 1e-3 * c->cfg.hb_liveness + 1.0;
        if (!t->orphan_of) {
            q_push(s, t, false);
        } else {
            c->n_orphans++;
            s->tasks_running++;
        }
    } else {
        q_push(s, t, false);
    }
    return 0;
}

static int resume_sweep(const coord_store_sweep_row_t *row, void *ud)
{
    resume_ctx_t *r = ud;
    coord_t *c = r->c;
    hpt_err perr = {0};
    coord_spec_t *spec = NULL;
    const char *path = row->path ? row->path : "spec";
    int rc = coord_spec_parse(row->spec, strlen(row->spec), path, &spec, &perr);
    coord_sweep_t *s = calloc(1, sizeof *s);
    if (rc < 0 || !s) {
        free(s);
        coord_spec_destroy(&spec);
        /* A spec that parsed when it was submitted but not now (an older
         * build's dialect): end the sweep rather than refuse to start. */
        hpt_log(HPT_LOG_ERROR, "sched", "cannot resume sweep; marking it failed",
                "sweep=%llu error=\"%s\"", (unsigned long long)row->id, perr.msg);
        coord_store_sweep_state(c->store, row->id, "failed", coord_unix(), perr.msg);
        return 0;
    }
    s->spec = spec;
    s->spec_text = strdup(row->spec);
    s->id = row->id;
    s->created = row->created == row->created ? row->created : coord_unix();
    s->started = row->started == row->started ? row->started : 0;
    coord_sweep_state_t final = SWEEP_RUNNING;
    for (int k = SWEEP_DONE; k <= SWEEP_CANCELLED; k++)
        if (strcmp(row->state, sweep_state_names[k]) == 0)
            final = (coord_sweep_state_t)k;
    s->state = strcmp(row->state, "queued") == 0 ? SWEEP_QUEUED : SWEEP_RUNNING;
    r->finished_sweep = final >= SWEEP_DONE;
    snprintf(s->fingerprint, sizeof s->fingerprint, "%s", row->fingerprint ? row->fingerprint : "");
    s->fp_logged = s->fingerprint[0] != '\0';
    if (!s->spec_text || coord_search_new(&s->search, spec, &perr) < 0) {
        coord_spec_destroy(&s->spec);
        free(s->spec_text);
        free(s);
        return hpt_err_set(r->err, -ENOMEM, "sweep %llu: %s", (unsigned long long)row->id,
                           perr.msg[0] ? perr.msg : "out of memory");
    }
    long total = coord_search_total(s->search);
    int splits = spec->cv.folds * spec->cv.repeats * spec->seeds;   // tasks per trial
    if (total > 0)
        s->tasks_total = (int64_t)total * splits;
    if (c->sweeps_tail)
        c->sweeps_tail->next = s;
    else
        c->sweeps = s;
    c->sweeps_tail = s;
    if (s->id >= c->next_sweep_id)
        c->next_sweep_id = s->id + 1;
    r->s = s;
    r->bad[0] = '\0';
    trial_rows_t rows = {0};
    rc = coord_store_each_trial(c->store, s->id, collect_trial, &rows);
    if (rc == 0)
        rc = replay_search(r, &rows);
    for (size_t i = 0; i < rows.n; i++)
        free(rows.v[i].params);
    free(rows.v);
    if (rc == 0)
        rc = coord_store_each_task(c->store, s->id, resume_task, r);
    if (rc < 0) {
        if (rc == -ENOMEM)
            return hpt_err_set(r->err, rc, "out of memory resuming sweep %llu",
                               (unsigned long long)s->id);
        snprintf(s->error, sizeof s->error, "cannot resume: %.200s", r->bad);
        hpt_log(HPT_LOG_ERROR, "sched", "cannot resume sweep; marking it failed",
                "sweep=%llu error=\"%s\"", (unsigned long long)s->id, r->bad);
        sweep_finish(c, s, SWEEP_FAILED);
        return 0;
    }
    if (total < 0)
        s->tasks_total = (int64_t)s->n_trials * splits;
    /* Trials whose tasks were all done (or that failed) are aggregated again,
     * which also replays their observations into the search in trial order. */
    int done_trials = 0;
    for (size_t i = 0; i < s->n_trials; i++) {
        coord_trial_t *tr = s->trials[i];
        bool failed = tr->n_tasks == 0;
        for (int k = 0; k < tr->n_tasks && !failed; k++)
            failed = tr->tasks[k] && tr->tasks[k]->state == TASK_FAILED;
        if (failed) {
            for (int k = 0; k < tr->n_tasks; k++)
                if (tr->tasks[k] && tr->tasks[k]->state == TASK_FAILED)
                    snprintf(tr->error, sizeof tr->error, "split %d: %.200s",
                             tr->tasks[k]->split,
                             tr->tasks[k]->error ? tr->tasks[k]->error : "");
            trial_abandon(c, tr, NULL);
            trial_finish(c, tr);
        } else if (tr->done == tr->n_tasks) {
            trial_finish(c, tr);
            done_trials++;
        }
        for (int k = 0; k < tr->n_tasks; k++)
            if (!tr->tasks[k]) {
                /* The crash came between the trial and its tasks being
                 * journaled: create the missing ones. */
                coord_task_t *t = task_new(c, s, tr, k, false);
                if (!t)
                    return hpt_err_set(r->err, -ENOMEM, "out of memory");
                tr->tasks[k] = t;
                q_push(s, t, false);
            }
    }
    if (final >= SWEEP_DONE) {
        /* A finished sweep is loaded for its results only. */
        s->state = final;
        s->finished = row->finished == row->finished ? row->finished : coord_unix();
        snprintf(s->error, sizeof s->error, "%s", row->error ? row->error : "");
        if (s->refit_task && s->refit_task->state == TASK_DONE) {
            s->has_refit = true;
            s->refit_score = s->refit_task->score;
            s->refit_accuracy = s->refit_task->accuracy;
            s->refit_n_test = s->refit_task->n_eval;
        }
        while (s->qhead) {
            coord_task_t *t = s->qhead;
            q_remove(s, t);
            t->state = TASK_CANCELLED;
        }
        r->resumed--;   // counted below; loaded, not resumed
        r->loaded++;
    } else if (s->state == SWEEP_REFITTING && s->refit_task &&
        s->refit_task->state == TASK_FAILED) {
        snprintf(s->error, sizeof s->error, "refit failed: %.200s",
                 s->refit_task->error ? s->refit_task->error : "");
        sweep_finish(c, s, SWEEP_FAILED);
    }
    r->resumed++;
    hpt_log(HPT_LOG_INFO, "sched",
            final >= SWEEP_DONE ? "finished sweep loaded from the journal"
                                : "sweep resumed from the journal",
            "sweep=%llu name=%s state=%s trials=%zu trials_done=%d tasks_done=%d queued=%d "
            "leases_awaiting_workers=%d",
            (unsigned long long)s->id, spec->name, coord_sweep_state_name(s->state), s->n_trials,
            done_trials, s->tasks_done, s->n_queued, s->tasks_running);
    return 0;
}

int coord_resume(coord_t *c, hpt_err *err)
{
    resume_ctx_t r = {.c = c, .err = err};
    c->replaying = true;
    int rc = coord_store_each_open_sweep(c->store, resume_sweep, &r);
    c->replaying = false;
    if (rc < 0)
        return rc;
    hpt_err ferr = {0};
    if (coord_store_flush(c->store, &ferr) < 0)
        return hpt_err_set(err, -EIO, "%s", ferr.msg);
    return r.resumed;
}

/* Bind an orphaned lease to the worker that held it before the restart. */
static void adopt(coord_t *c, coord_task_t *t, coord_worker_t *w)
{
    free(t->orphan_of);
    t->orphan_of = NULL;
    c->n_orphans--;
    t->worker = w;
    t->leased_at = t->progress_at = coord_now();   // the clocks restart here
    t->wprev = NULL;
    t->wnext = w->leased;
    if (w->leased)
        w->leased->wprev = t;
    w->leased = t;
    w->busy++;
}

void coord_orphans_adopt(coord_t *c, coord_worker_t *w)
{
    int adopted = 0;
    for (coord_sweep_t *s = c->sweeps; s; s = s->next) {
        for (size_t i = 0; i < s->n_trials; i++) {
            coord_trial_t *tr = s->trials[i];
            for (int k = 0; k < tr->n_tasks; k++) {
                coord_task_t *t = tr->tasks[k];
                if (!t || !t->orphan_of || strcmp(t->orphan_of, w->id) != 0)
                    continue;
                adopt(c, t, w);
                adopted++;
            }
        }
        coord_task_t *t = s->refit_task;
        if (t && t->orphan_of && strcmp(t->orphan_of, w->id) == 0) {
            adopt(c, t, w);
            adopted++;
        }
    }
    if (adopted)
        hpt_log(HPT_LOG_INFO, "sched", "worker re-attached to its leases from before the restart",
                "worker=%s leases=%d", w->id, adopted);
}

static void orphan_expire(coord_t *c, coord_task_t *t, double now)
{
    if (!t || !t->orphan_of || t->orphan_deadline > now)
        return;
    char why[320];
    snprintf(why, sizeof why, "worker %.200s did not re-attach after the restart", t->orphan_of);
    coord_requeue(c, t, why);
}

void coord_orphans_cron(coord_t *c)
{
    double now = coord_now();
    for (coord_sweep_t *s = c->sweeps; s; s = s->next) {
        for (size_t i = 0; i < s->n_trials; i++)
            for (int k = 0; k < s->trials[i]->n_tasks; k++)
                orphan_expire(c, s->trials[i]->tasks[k], now);
        orphan_expire(c, s->refit_task, now);
    }
    coord_dispatch(c);
}

bool coord_orphan_result(coord_t *c, const Hpt__Result *m)
{
    coord_task_t *t = map_get(c, m->task);
    if (!t || !t->orphan_of || t->attempt != m->attempt || t->state != TASK_LEASED)
        return false;
    coord_on_result(c, NULL, m);
    return true;
}

// --- stalls and deadlines -------------------------------------------------

/* Take a lease back from a worker that holds it but makes no progress: tell
 * the worker to cancel (its thread keeps the slot until it stops, as the
 * heartbeats will show), count a failed attempt, lease it elsewhere. */
static void lease_revoke(coord_t *c, coord_task_t *t, const char *why)
{
    coord_worker_t *w = t->worker;
    str_set(&t->avoid, w->id);
    revoke_on_worker(c, t);
    w->tasks_failed++;
    task_failed(c, t, why);
}

void coord_tasks_cron(coord_t *c)
{
    static double last;
    double now = coord_now();
    if (now - last < 1.0)
        return;
    last = now;
    bool changed = false;
    for (coord_worker_t *w = c->workers; w; w = w->next) {
        for (coord_task_t *t = w->leased, *tn; t; t = tn) {
            tn = t->wnext;
            char why[160];
            if (now - t->progress_at > c->cfg.task_stall_s)
                snprintf(why, sizeof why, "stalled: no new epoch for %.0f s (task_stall_s %d)",
                         now - t->progress_at, c->cfg.task_stall_s);
            else if (now - t->leased_at > c->cfg.task_deadline_s)
                snprintf(why, sizeof why, "deadline: running for %.0f s (task_deadline_s %d)",
                         now - t->leased_at, c->cfg.task_deadline_s);
            else
                continue;
            hpt_log(HPT_LOG_WARN, "sched", "lease revoked",
                    "sweep=%llu trial=%llu task=%llu attempt=%u worker=%s reason=\"%s\"",
                    (unsigned long long)t->sweep->id, (unsigned long long)t->trial->number,
                    (unsigned long long)t->id, t->attempt, w->id, why);
            coord_sweep_t *s = t->sweep;
            lease_revoke(c, t, why);
            sweep_check_end(c, s);
            changed = true;
        }
    }
    if (changed)
        coord_dispatch(c);
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
    for (int k = 0; k < n; k++) {   // same split order: repeat * folds + fold
        x[k] = coord_trial_split_score(b, k, false);
        y[k] = coord_trial_split_score(tr, k, false);
    }
    coord_agg_ttest_t r;
    double p = NAN;
    /* Each split trains on (k-1)/k of the data and tests on 1/k. */
    if (coord_agg_nb_ttest(x, y, n, 1.0 / (s->spec->cv.folds - 1), &r) == 0)
        p = r.p;
    free(x);
    return p;
}
