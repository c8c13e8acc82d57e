/*
 * wrk_trainer.c: trainer threads, their output queue and the --dry-run
 * objectives; see wrk_trainer.h.
 *
 * Invariants: a task's FINISH item is allocated when the task is created, so a
 * thread can always report that it ended, even out of memory; it is the last
 * thing the thread pushes, and `finished` is set only after that push, when the
 * thread no longer touches the queue, the dataset or the task's spec.  The
 * task's session is owned by the task until the thread either ends it or moves
 * it into the FINISH item; an item that is dropped ends its session.
 */
#include "wrk_trainer.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cv.h"
#include "log.h"
#include "proto_io.h"
#include "train.h"

// --- the queue -----------------------------------------------------------

static void item_free(wrk_item_t *it)
{
    hpt_train_end(&it->session);
    free(it);
}

static void on_async(uv_async_t *h)
{
    wrk_queue_t *q = h->data;
    // Take the whole list at once: uv_async_send coalesces wake-ups.
    uv_mutex_lock(&q->mu);
    wrk_item_t *it = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->mu);
    while (it) {
        wrk_item_t *next = it->next;
        q->cb(it, q->ud);
        item_free(it);
        it = next;
    }
}

int wrk_queue_init(uv_loop_t *loop, wrk_queue_t *q, wrk_queue_cb cb, void *ud)
{
    *q = (wrk_queue_t){.cb = cb, .ud = ud};
    int rc = uv_mutex_init(&q->mu);
    if (rc < 0)
        return rc;
    rc = uv_async_init(loop, &q->async, on_async);
    if (rc < 0) {
        uv_mutex_destroy(&q->mu);
        return rc;
    }
    q->async.data = q;
    return 0;
}

static void free_list(wrk_item_t *it)
{
    while (it) {
        wrk_item_t *next = it->next;
        item_free(it);
        it = next;
    }
}

void wrk_queue_push(wrk_queue_t *q, wrk_item_t *item)
{
    item->next = NULL;
    uv_mutex_lock(&q->mu);
    if (q->closed) {
        uv_mutex_unlock(&q->mu);
        item_free(item);
        return;
    }
    if (q->tail)
        q->tail->next = item;
    else
        q->head = item;
    q->tail = item;
    /* Sent under the mutex so that it cannot race with wrk_queue_close: once
     * `closed` is set no thread calls uv_async_send on the closing handle. */
    uv_async_send(&q->async);
    uv_mutex_unlock(&q->mu);
}

void wrk_queue_close(wrk_queue_t *q, uv_close_cb close_cb)
{
    uv_mutex_lock(&q->mu);
    q->closed = true;
    wrk_item_t *it = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->mu);
    free_list(it);
    uv_close((uv_handle_t *)&q->async, close_cb);
}

void wrk_queue_fini(wrk_queue_t *q)
{
    free_list(q->head);
    q->head = q->tail = NULL;
    uv_mutex_destroy(&q->mu);
}

// --- tasks ---------------------------------------------------------------

struct wrk_task {
    wrk_task_spec_t spec;
    const hpt_dataset_t *ds;  // borrowed
    wrk_queue_t *q;           // borrowed
    uv_thread_t thread;
    wrk_item_t *finish;       // owned until pushed by the thread
    hpt_train_session_t *session;  // owned: the resumed model, then the task's model
    atomic_bool cancel;       // set by the loop, read per mini-batch by the trainer
    atomic_uint epoch;        // epochs completed
    atomic_bool finished;     // FINISH pushed; the thread is exiting
    wrk_group_t *grp;         // the bundle it trains in (shares its thread), NULL: alone
};

int wrk_task_spec_from_assign(const Hpt__Assign *a, wrk_task_spec_t *out, hpt_err *err)
{
    *out = (wrk_task_spec_t){
        .task = a->task,
        .attempt = a->attempt,
        .sweep = a->sweep,
        .trial = a->trial,
        .refit = a->refit,
        .fold = a->fold,
        .folds = a->folds,
        .repeat = a->repeat,
        .cv_seed = a->cv_seed,
        .stratified = a->stratified,
        .shuffle = a->shuffle,
        .score_train = a->score_train,
        .score_epochs = a->score_epochs,
    };
    if (!a->hparams)
        return hpt_err_set(err, -EINVAL, "hparams missing");
    hpt_err e = {0};
    if (hpt_proto_hparams_from_wire(a->hparams, &out->hp, &e) < 0)
        return hpt_err_set(err, -EINVAL, "hparams: %s", e.msg);
    if (!a->refit && (a->folds < 2 || a->fold >= a->folds))
        return hpt_err_set(err, -EINVAL, "fold %u of %u out of range", a->fold, a->folds);
    return 0;
}

/* Values that go on the wire must not be infinite (proto_io rejects it);
 * NaN already means "no value". */
static double no_inf(double v)
{
    return isinf(v) ? NAN : v;
}

static int on_epoch(const hpt_epoch_report_t *rep, void *ud)
{
    wrk_task_t *t = ud;
    atomic_store(&t->epoch, (unsigned)rep->epoch);
    if (atomic_load(&t->cancel))
        return 1;
    wrk_item_t *it = calloc(1, sizeof *it);
    if (it) {  // progress is advisory: out of memory just skips one
        *it = (wrk_item_t){
            .kind = WRK_ITEM_PROGRESS,
            .from = t,
            .task = t->spec.task,
            .attempt = t->spec.attempt,
            .epoch = (uint32_t)rep->epoch,
            .epochs = (uint32_t)rep->epochs,
            .val_score = no_inf(rep->val_score),
            .train_loss = no_inf(rep->train_loss),
        };
        wrk_queue_push(t->q, it);
    }
    if (t->spec.stall_after > 0 && rep->epoch == t->spec.stall_after) {
        /* --test-stall-epoch: a wedged trainer, as far as the coordinator
         * can tell (heartbeats go on, progress stops). */
        while (!atomic_load(&t->cancel)) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        return 1;
    }
    return 0;
}

/* The training and validation views of spec's split of ds: a fold's rows
 * (index arrays *tr_idx and *va_idx, malloc'ed, the caller frees them) or,
 * for a refit, the whole training split and the test split.  Returns false
 * with r->error set when it cannot. */
static bool task_views(const wrk_task_spec_t *s, const hpt_dataset_t *ds, hpt_view_t *train,
                       hpt_view_t *val, uint32_t **tr_idx, uint32_t **va_idx, wrk_result_t *r)
{
    *train = (hpt_view_t){.images = ds->train.images, .labels = ds->train.labels,
                          .n = ds->train.n};
    *val = (hpt_view_t){.images = ds->test.images, .labels = ds->test.labels, .n = ds->test.n};
    *tr_idx = *va_idx = NULL;
    if (s->refit)
        return true;
    *tr_idx = malloc(sizeof **tr_idx * (ds->train.n ? ds->train.n : 1));
    *va_idx = malloc(sizeof **va_idx * (ds->train.n ? ds->train.n : 1));
    if (!*tr_idx || !*va_idx) {
        snprintf(r->error, sizeof r->error, "out of memory for the fold indices");
        return false;
    }
    hpt_err err = {0};
    hpt_cv_spec_t cv = {.folds = (int)s->folds, .stratified = s->stratified,
                        .shuffle = s->shuffle, .seed = s->cv_seed,
                        .repeats = (int)s->repeat + 1};
    uint32_t n_tr = 0, n_va = 0;
    if (hpt_cv_split(&cv, (int)s->repeat, (int)s->fold, ds->train.labels, ds->train.n,
                     (int)ds->n_classes, *tr_idx, &n_tr, *va_idx, &n_va, &err) < 0) {
        snprintf(r->error, sizeof r->error, "fold %u of %u: %.200s", s->fold, s->folds,
                 err.msg);
        return false;
    }
    train->idx = *tr_idx;
    train->n = n_tr;
    *val = (hpt_view_t){.images = ds->train.images, .labels = ds->train.labels,
                        .idx = *va_idx, .n = n_va};
    return true;
}

/* Give t a session on the views: its resumed model rebound to them (a
 * resumed model last ran on index arrays its earlier task freed; this
 * task's are identical), or a new one.  Returns false with r->error set. */
static bool task_session(wrk_task_t *t, const hpt_view_t *train, const hpt_view_t *val,
                         wrk_result_t *r)
{
    const wrk_task_spec_t *s = &t->spec;
    hpt_err err = {0};
    /* If rebinding is refused (it cannot be, for a session of this key)
     * train from scratch. */
    if (t->session && hpt_train_session_rebind(t->session, train, val, &err) < 0) {
        hpt_log(HPT_LOG_WARN, "worker", "cached model unusable, training from scratch",
                "task=%llu error=\"%s\"", (unsigned long long)s->task, err.msg);
        hpt_train_end(&t->session);
    }
    if (t->session) {
        r->resumed_from = (uint32_t)hpt_train_session_epochs(t->session);
    } else if (hpt_train_begin(&t->session, &s->hp, t->ds->n_features, t->ds->n_classes, train,
                               val, &err) < 0) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        return false;
    }
    return true;
}

/* The training options of t: scoring every epoch costs about 10% of a
 * sweep, so it is done only when the coordinator's search wants per-epoch
 * scores (Progress.val_score). */
static hpt_train_opts_t task_opts(wrk_task_t *t)
{
    return (hpt_train_opts_t){.threads = 0, .score_each_epoch = t->spec.score_epochs,
                              .score_train = t->spec.score_train, .stop = &t->cancel};
}

/* Fill r from a finished training call (res, n_val validation rows).
 * Returns false when t was cancelled (no result). */
static bool task_result(wrk_task_t *t, const hpt_train_result_t *res, uint32_t n_val,
                        wrk_result_t *r)
{
    if (atomic_load(&t->cancel))
        return false;
    r->epochs = (uint32_t)res->epochs_run;
    r->fit_seconds = res->fit_seconds;  // of this task's epochs only
    r->diverged = res->diverged;
    r->score = no_inf(res->val_score);
    r->n_eval = n_val;
    r->accuracy = no_inf(res->val.accuracy);
    r->log_loss = no_inf(res->val.log_loss);
    r->f1_macro = no_inf(res->val.f1_macro);
    r->train_score = no_inf(res->train_score);  // NaN unless score_train
    if (res->diverged)
        snprintf(r->error, sizeof r->error,
                 "training diverged (loss is NaN/inf) at epoch %d", res->epochs_run);
    else if (!isfinite(r->score))
        snprintf(r->error, sizeof r->error, "the validation score is not finite");
    else
        r->ok = true;
    return true;
}

/* Only a model that ran its full course is worth keeping: cancelled,
 * failed and diverged tasks drop theirs, and so do refits. */
static void task_keep_or_end(wrk_task_t *t, const wrk_result_t *r, bool completed)
{
    const wrk_task_spec_t *s = &t->spec;
    if (!(r->ok && completed && s->keep_model && !s->refit && t->session &&
          hpt_train_session_usable(t->session) &&
          hpt_train_session_epochs(t->session) == s->hp.epochs))
        hpt_train_end(&t->session);
}

/* Train and score one task into *r.  Returns false when it was cancelled.
 * Continues t->session when the task was given one; leaves in t->session
 * the model to hand back (NULL when there is none to keep). */
static bool run_task(wrk_task_t *t, wrk_result_t *r)
{
    uint32_t *tr_idx = NULL, *va_idx = NULL;
    bool completed = true;
    hpt_view_t train, val;
    hpt_err err = {0};
    if (!task_views(&t->spec, t->ds, &train, &val, &tr_idx, &va_idx, r) ||
        !task_session(t, &train, &val, r))
        goto out;
    hpt_train_opts_t opts = task_opts(t);
    hpt_train_result_t res;
    if (hpt_train_continue(t->session, t->spec.hp.epochs, &opts, on_epoch, t, &res, &err) < 0) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        goto out;
    }
    completed = task_result(t, &res, val.n, r);
out:
    task_keep_or_end(t, r, completed);
    free(va_idx);
    free(tr_idx);
    return completed;
}

/* The fresh result of t, as its FINISH item starts it. */
static wrk_result_t *result_init(wrk_task_t *t, wrk_item_t *fin)
{
    wrk_result_t *r = &fin->result;
    *r = (wrk_result_t){.task = t->spec.task, .attempt = t->spec.attempt,
                        .score = NAN, .accuracy = NAN, .log_loss = NAN, .f1_macro = NAN,
                        .train_score = NAN};
    return r;
}

/* Push t's FINISH (fin): after this the thread touches t only to set
 * `finished` (a group's members are freed together, after the join). */
static void push_finish(wrk_task_t *t, wrk_item_t *fin, bool completed)
{
    fin->kind = WRK_ITEM_FINISH;
    fin->from = t;
    fin->task = t->spec.task;
    fin->attempt = t->spec.attempt;
    fin->has_result = completed;
    fin->session = t->session;  // NULL unless the run kept it
    t->session = NULL;
    wrk_queue_push(t->q, fin);
}

static void trainer_main(void *arg)
{
    wrk_task_t *t = arg;
    wrk_item_t *fin = t->finish;
    t->finish = NULL;
    bool completed = run_task(t, result_init(t, fin));
    push_finish(t, fin, completed);
    atomic_store(&t->finished, true);
}

// --- bundles: tasks trained together --------------------------------------

struct wrk_group {
    uv_thread_t thread;
    int n;                                // members
    int alive;                            // members not destroyed yet (loop thread only)
    wrk_task_t *m[HPT_TRAIN_GROUP_MAX];   // owned: freed with the group
};

/* A bundle's thread: the split once, each member's session, then the
 * members that see the same mini-batches trained together
 * (hpt_train_group_continue), class by class (members that continue models
 * of different epochs, or start from scratch beside continued ones, are not
 * one class), each member's FINISH at the end. */
static void group_main(void *arg)
{
    wrk_group_t *g = arg;
    wrk_item_t *fin[HPT_TRAIN_GROUP_MAX];
    wrk_result_t *r[HPT_TRAIN_GROUP_MAX];
    bool ready[HPT_TRAIN_GROUP_MAX], completed[HPT_TRAIN_GROUP_MAX];
    hpt_train_result_t res[HPT_TRAIN_GROUP_MAX];
    hpt_err errs[HPT_TRAIN_GROUP_MAX];
    for (int i = 0; i < g->n; i++) {
        fin[i] = g->m[i]->finish;
        g->m[i]->finish = NULL;
        r[i] = result_init(g->m[i], fin[i]);
        completed[i] = true;
    }
    uint32_t *tr_idx = NULL, *va_idx = NULL;
    hpt_view_t train, val;
    bool views = task_views(&g->m[0]->spec, g->m[0]->ds, &train, &val, &tr_idx, &va_idx, r[0]);
    for (int i = 0; i < g->n; i++) {
        if (!views && i > 0)
            snprintf(r[i]->error, sizeof r[i]->error, "%s", r[0]->error);
        ready[i] = views && task_session(g->m[i], &train, &val, r[i]);
    }
    for (int i = 0; i < g->n; i++) {
        if (!ready[i])
            continue;
        hpt_train_member_t mem[HPT_TRAIN_GROUP_MAX];
        hpt_train_opts_t opts = task_opts(g->m[i]);
        int idx[HPT_TRAIN_GROUP_MAX], nm = 0;
        for (int j = i; j < g->n; j++) {
            wrk_task_t *t = g->m[j];
            if (!ready[j] || (j > i && !hpt_train_session_same_stream(g->m[i]->session,
                                                                      t->session)))
                continue;
            ready[j] = false;
            errs[j] = (hpt_err){0};
            idx[nm] = j;
            mem[nm++] = (hpt_train_member_t){.s = t->session, .to_epoch = t->spec.hp.epochs,
                                             .stop = &t->cancel, .cb = on_epoch, .ud = t,
                                             .out = &res[j], .err = &errs[j]};
        }
        hpt_err gerr = {0};
        int rc = hpt_train_group_continue(mem, nm, &opts, &gerr);
        for (int k = 0; k < nm; k++) {
            int j = idx[k];
            if (rc < 0 || mem[k].rc < 0)
                snprintf(r[j]->error, sizeof r[j]->error, "%s",
                         rc < 0 ? gerr.msg : errs[j].msg);
            else
                completed[j] = task_result(g->m[j], &res[j], val.n, r[j]);
        }
    }
    for (int i = 0; i < g->n; i++)
        task_keep_or_end(g->m[i], r[i], completed[i]);
    free(va_idx);
    free(tr_idx);
    for (int i = 0; i < g->n; i++)
        push_finish(g->m[i], fin[i], completed[i]);
    for (int i = 0; i < g->n; i++)
        atomic_store(&g->m[i]->finished, true);
}

/* A task object for spec, not started; *resume as for wrk_task_new. */
static wrk_task_t *task_alloc(const wrk_task_spec_t *spec, const hpt_dataset_t *ds,
                              wrk_queue_t *q, hpt_train_session_t *resume)
{
    wrk_task_t *t = calloc(1, sizeof *t);
    wrk_item_t *fin = calloc(1, sizeof *fin);
    if (!t || !fin) {
        free(fin);
        free(t);
        return NULL;
    }
    t->spec = *spec;
    t->ds = ds;
    t->q = q;
    t->finish = fin;
    t->session = resume;
    atomic_init(&t->cancel, false);
    atomic_init(&t->epoch, resume ? (unsigned)hpt_train_session_epochs(resume) : 0u);
    atomic_init(&t->finished, false);
    return t;
}

int wrk_task_new_group(wrk_task_t **out, int n, const wrk_task_spec_t *specs,
                       const hpt_dataset_t *ds, wrk_queue_t *q, hpt_train_session_t **resumes)
{
    if (n < 1 || n > HPT_TRAIN_GROUP_MAX)
        return -EINVAL;
    wrk_group_t *g = calloc(1, sizeof *g);
    int rc = g ? 0 : -ENOMEM;
    for (int i = 0; i < n && rc == 0; i++) {
        g->m[i] = task_alloc(&specs[i], ds, q, resumes[i]);
        if (!g->m[i]) {
            rc = -ENOMEM;
            break;
        }
        g->m[i]->grp = g;
        g->n++;
    }
    if (rc == 0)
        rc = uv_thread_create(&g->thread, group_main, g);
    if (rc < 0) {
        for (int i = 0; g && i < g->n; i++) {
            g->m[i]->session = NULL;  // the sessions stay with the caller
            free(g->m[i]->finish);
            free(g->m[i]);
        }
        free(g);
        return rc;
    }
    g->alive = n;
    for (int i = 0; i < n; i++) {
        out[i] = g->m[i];
        resumes[i] = NULL;
    }
    return 0;
}

int wrk_task_new(wrk_task_t **out, const wrk_task_spec_t *spec, const hpt_dataset_t *ds,
                 wrk_queue_t *q, hpt_train_session_t **resume)
{
    *out = NULL;
    wrk_task_t *t = task_alloc(spec, ds, q, resume ? *resume : NULL);
    if (!t)
        return -ENOMEM;
    int rc = uv_thread_create(&t->thread, trainer_main, t);
    if (rc < 0) {
        free(t->finish);
        free(t);
        return rc;  // *resume stays with the caller
    }
    if (resume)
        *resume = NULL;
    *out = t;
    return 0;
}

size_t wrk_task_mem_bytes(const wrk_task_spec_t *spec, const hpt_dataset_t *ds)
{
    uint32_t n_train = ds->train.n, n_val = spec->refit ? ds->test.n : ds->train.n;
    size_t bytes = hpt_train_mem_bytes(&spec->hp, ds->n_features, ds->n_classes, n_train, n_val);
    if (!spec->refit)   // tr_idx and va_idx, each sized for the whole split
        bytes += 2 * sizeof(uint32_t) * (size_t)(ds->train.n ? ds->train.n : 1);
    return bytes + sizeof(wrk_task_t) + sizeof(wrk_item_t);
}

/* The first number after `key` on a line of the file at path (e.g. the kB
 * of "MemAvailable:" in /proc/meminfo, or the one line of memory.max),
 * times mult.  Returns 0, -ENOENT when the file or key is missing, -ERANGE
 * for "max" (no limit). */
static int read_number(const char *path, const char *key, uint64_t mult, uint64_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -ENOENT;
    char line[256];
    int rc = -ENOENT;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        const char *p = line + kl;
        while (*p == ' ' || *p == '\t' || *p == ':')
            p++;
        if (strncmp(p, "max", 3) == 0) {
            rc = -ERANGE;
        } else {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            if (end != p) {
                *out = (uint64_t)v * mult;
                rc = 0;
            }
        }
        break;
    }
    fclose(f);
    return rc;
}

/* The cgroup v2 directory of this process ("/sys/fs/cgroup/<path>") into
 * buf; false when there is none (cgroup v1, or no /proc). */
static bool cgroup2_dir(char *buf, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return false;
    char line[1024];
    bool ok = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) != 0)
            continue;
        line[strcspn(line, "\n")] = '\0';
        ok = snprintf(buf, len, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "") <
             (int)len;
        break;
    }
    fclose(f);
    return ok;
}

int wrk_mem_available(uint64_t *bytes, const char **src)
{
    uint64_t best = UINT64_MAX, v;
    const char *from = NULL;
    if (read_number("/proc/meminfo", "MemAvailable", 1024, &v) == 0) {
        best = v;
        from = "MemAvailable";
    }
    /* A memory-limited cgroup: the OOM killer acts at its limit, whatever
     * the machine has free.  cgroup v2 first (this process's own group,
     * then the namespace root, which is where a container sees its own),
     * else v1. */
    char dir[1024], path[1100];
    uint64_t lim = 0, cur = 0;
    bool have = false;
    if (cgroup2_dir(dir, sizeof dir)) {
        for (int i = 0; i < 2 && !have; i++) {
            const char *d = i == 0 ? dir : "/sys/fs/cgroup";
            snprintf(path, sizeof path, "%s/memory.max", d);
            if (read_number(path, "", 1, &lim) != 0)
                continue;
            snprintf(path, sizeof path, "%s/memory.current", d);
            have = read_number(path, "", 1, &cur) == 0;
        }
    }
    if (!have && read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes", "", 1, &lim) == 0 &&
        lim < (1ull << 60))   // v1 says "no limit" with a huge number
        have = read_number("/sys/fs/cgroup/memory/memory.usage_in_bytes", "", 1, &cur) == 0;
    if (have) {
        uint64_t left = lim > cur ? lim - cur : 0;
        if (left < best) {
            best = left;
            from = "cgroup";
        }
    }
    if (!from)
        return -ENOENT;
    *bytes = best;
    if (src)
        *src = from;
    return 0;
}

void wrk_task_cancel(wrk_task_t *t)
{
    atomic_store(&t->cancel, true);
}

uint32_t wrk_task_epoch(const wrk_task_t *t)
{
    return atomic_load(&((wrk_task_t *)t)->epoch);
}

bool wrk_task_finished(const wrk_task_t *t)
{
    return atomic_load(&((wrk_task_t *)t)->finished);
}

const wrk_task_spec_t *wrk_task_spec(const wrk_task_t *t)
{
    return &t->spec;
}

const wrk_group_t *wrk_task_group(const wrk_task_t *t)
{
    return t->grp;
}

void wrk_task_destroy(wrk_task_t **p)
{
    if (!p || !*p)
        return;
    wrk_task_t *t = *p;
    *p = NULL;
    wrk_group_t *g = t->grp;
    if (g) {
        /* The members of a bundle share a thread: the last one destroyed
         * joins it and frees them all. */
        if (--g->alive > 0)
            return;
        uv_thread_join(&g->thread);
        for (int i = 0; i < g->n; i++) {
            free(g->m[i]->finish);
            hpt_train_end(&g->m[i]->session);
            free(g->m[i]);
        }
        free(g);
        return;
    }
    uv_thread_join(&t->thread);
    free(t->finish);  // NULL once the thread started
    hpt_train_end(&t->session);  // NULL once the thread ended
    free(t);
}

// --- --dry-run -----------------------------------------------------------

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The hash behind the "hash" and "noisy" objectives: FNV-1a over the packed
 * HParams, then fold, repeat, refit and cv_seed mixed in. */
static uint64_t assign_hash(const Hpt__Assign *a)
{
    // FNV-1a over the packed HParams: the same configuration always packs to
    // the same bytes (protobuf-c writes fields in number order).
    uint64_t h = 0xcbf29ce484222325ull;
    if (a->hparams) {
        uint8_t small[1024];
        size_t len = hpt__hparams__get_packed_size(a->hparams);
        uint8_t *buf = len <= sizeof small ? small : malloc(len);
        if (buf) {
            hpt__hparams__pack(a->hparams, buf);
            for (size_t i = 0; i < len; i++) {
                h ^= buf[i];
                h *= 0x100000001b3ull;
            }
            if (buf != small)
                free(buf);
        }
    }
    uint64_t fold = a->refit ? 0 : a->fold, repeat = a->refit ? 0 : a->repeat;
    h = splitmix64(h ^ fold);
    h = splitmix64(h ^ repeat);
    h = splitmix64(h ^ (uint64_t)a->refit);
    h = splitmix64(h ^ a->cv_seed);
    return h;
}

double wrk_dry_run_score(const Hpt__Assign *a)
{
    return 0.5 + 0.49 * ((double)(assign_hash(a) >> 11) * 0x1.0p-53);
}

double wrk_dry_run_noisy(const Hpt__Assign *a, const wrk_task_spec_t *spec)
{
    uint64_t h = assign_hash(a) ^ 0x6e6f697379000000ull;  // "noisy": its own stream
    uint64_t h1 = splitmix64(h), h2 = splitmix64(h1);
    double u1 = ((double)(h1 >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    double u2 = (double)(h2 >> 11) * 0x1.0p-53;
    double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);  // Box-Muller: N(0, 1)
    double s = hpt_hparams_lr(&spec->hp) + spec->hp.dropout * z;
    return s < 1e-6 ? 1e-6 : s > 1.0 - 1e-6 ? 1.0 - 1e-6 : s;
}

/* The bowl's split noise: uniform in [-0.002, 0.002] from (fold, repeat,
 * refit, cv_seed), hashed as wrk_dry_run_score hashes them. */
static double bowl_noise(const wrk_task_spec_t *spec)
{
    uint64_t fold = spec->refit ? 0 : spec->fold, repeat = spec->refit ? 0 : spec->repeat;
    uint64_t h = 0x626f776c00000000ull;  // "bowl": a different stream from the hash's
    h = splitmix64(h ^ fold);
    h = splitmix64(h ^ repeat);
    h = splitmix64(h ^ (uint64_t)spec->refit);
    h = splitmix64(h ^ spec->cv_seed);
    double u = (double)(h >> 11) * 0x1.0p-53;  // [0, 1)
    return 0.002 * (2.0 * u - 1.0);
}

double wrk_dry_run_bowl(const wrk_task_spec_t *spec)
{
    const hpt_hparams_t *hp = &spec->hp;
    double lr = (log10(hpt_hparams_lr(hp)) + 2.5) / 1.5;
    double dr = (hp->dropout - 0.2) / 0.5;
    double un = (log2((double)hp->units[0]) - 7.0) / 3.0;
    double bs = (log2((double)hp->batch_size) - 6.0) / 3.0;
    double d = lr * lr + dr * dr + un * un + bs * bs;
    double s = 0.98 * exp(-d) * (1.0 - pow(0.5, hp->epochs / 3.0)) + bowl_noise(spec);
    // Far from the optimum the noise could take s below 0: keep it a score.
    return s < 1e-6 ? 1e-6 : s > 1.0 - 1e-6 ? 1.0 - 1e-6 : s;
}

void wrk_dry_run(const Hpt__Assign *a, const wrk_task_spec_t *spec, wrk_result_t *out)
{
    const char *obj = a->test_objective ? a->test_objective : "";
    double s;
    if (obj[0] == '\0' || strcmp(obj, "hash") == 0) {
        s = wrk_dry_run_score(a);
    } else if (strcmp(obj, "bowl") == 0) {
        s = wrk_dry_run_bowl(spec);
    } else if (strcmp(obj, "noisy") == 0) {
        s = wrk_dry_run_noisy(a, spec);
    } else {
        *out = (wrk_result_t){.task = spec->task, .attempt = spec->attempt, .score = NAN,
                              .accuracy = NAN, .log_loss = NAN, .f1_macro = NAN,
                              .train_score = NAN};
        snprintf(out->error, sizeof out->error, "unknown test_objective %.64s (known: %s)",
                 obj, WRK_TEST_OBJECTIVES);
        return;
    }
    *out = (wrk_result_t){
        .task = spec->task,
        .attempt = spec->attempt,
        .ok = true,
        .score = s,
        .accuracy = s,
        .log_loss = 1.0 - s,
        .f1_macro = s,
        .train_score = NAN,
        .fit_seconds = 0.0,
        .epochs = (uint32_t)spec->hp.epochs,
    };
}
