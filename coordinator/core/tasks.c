/*
 * tasks.c: where a task is.  The one owner of the invariants
 *   - a task is in exactly one place: its sweep's queue (QUEUED), one
 *     worker's lease list (LEASED), an orphaned lease after a restart
 *     (LEASED with no worker), waiting for its parent trial's task of the
 *     same split (WAITING, counted in n_waiting), or nowhere (DONE,
 *     FAILED, CANCELLED);
 *   - a WAITING task's parent task is QUEUED, LEASED or WAITING, so some
 *     ancestor can always run and no task waits for ever; a QUEUED or
 *     LEASED task's is not (a model is never trained twice by design);
 *   - a worker's busy count is the length of its lease list, its units
 *     count the slots those leases fill (a lease alone fills one, the
 *     leases of one bundle one between them), and the sweep's tasks_running
 *     counts its leased and orphaned tasks;
 *   - the task map finds every task of every sweep in memory by id.
 * Other core files move tasks only through the functions here (tasks.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

// --- task map ---------------------------------------------------------------

static size_t hash64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

/* A slot of map_old whose task has moved to map (or was deleted): probes
 * go on past it, as past any full slot; nothing is ever inserted there. */
#define MAP_MOVED ((coord_task_t *)(uintptr_t)1)
/* Slots of map_old moved per put: a doubling's old table (cap C, up to C/2
 * tasks) is empty after C/64 puts, long before the new one (2C) is half
 * full again (C/2 puts). */
#define MAP_MOVE_PER_PUT 64

static void slot_put(coord_task_t **m, size_t cap, coord_task_t *t)
{
    size_t j = hash64(t->id) & (cap - 1);
    while (m[j])
        j = (j + 1) & (cap - 1);
    m[j] = t;
}

/* Move up to n slots of map_old into map; free map_old once it is empty. */
static void map_move(coord_core_t *k, size_t n)
{
    while (k->map_old && n--) {
        coord_task_t *x = k->map_old[k->old_pos];
        if (x && x != MAP_MOVED) {
            slot_put(k->map, k->map_cap, x);
            /* Moved, not emptied: a probe for a task still here may pass
             * this slot.  An empty slot stays empty, so a probe for a task
             * that is not here still ends where it did. */
            k->map_old[k->old_pos] = MAP_MOVED;
        }
        if (++k->old_pos == k->old_cap) {
            free(k->map_old);
            k->map_old = NULL;
            k->old_cap = k->old_pos = 0;
        }
    }
}

/* Rehash everything (both tables) into cap slots at once. */
static int map_rehash(coord_core_t *k, size_t cap)
{
    coord_task_t **m = calloc(cap, sizeof *m);
    if (!m)
        return -ENOMEM;
    map_move(k, SIZE_MAX);
    for (size_t i = 0; i < k->map_cap; i++)
        if (k->map[i])
            slot_put(m, cap, k->map[i]);
    free(k->map);
    k->map = m;
    k->map_cap = cap;
    return 0;
}

int hpt__map_put(coord_core_t *k, coord_task_t *t)
{
    map_move(k, MAP_MOVE_PER_PUT);
    if ((k->map_len + 1) * 2 > k->map_cap) {
        if (!k->map_cap) {
            if (map_rehash(k, 1024) < 0)
                return -ENOMEM;
        } else {
            /* Double: the old table is moved over by the puts that follow.
             * (One still moving, which the rate above rules out, is
             * finished first.) */
            coord_task_t **m = calloc(k->map_cap * 2, sizeof *m);
            if (!m)
                return -ENOMEM;
            map_move(k, SIZE_MAX);
            k->map_old = k->map;
            k->old_cap = k->map_cap;
            k->old_pos = 0;
            k->map = m;
            k->map_cap *= 2;
            map_move(k, MAP_MOVE_PER_PUT);
        }
    }
    slot_put(k->map, k->map_cap, t);
    k->map_len++;
    return 0;
}

static coord_task_t **slot_find(coord_task_t **m, size_t cap, uint64_t id)
{
    size_t j = hash64(id) & (cap - 1);
    while (m[j]) {
        if (m[j] != MAP_MOVED && m[j]->id == id)
            return &m[j];
        j = (j + 1) & (cap - 1);
    }
    return NULL;
}

coord_task_t *hpt__map_get(const coord_core_t *k, uint64_t id)
{
    if (!k->map_cap)
        return NULL;
    coord_task_t **x = slot_find(k->map, k->map_cap, id);
    if (!x && k->map_old)
        x = slot_find(k->map_old, k->old_cap, id);
    return x ? *x : NULL;
}

void hpt__map_compact(coord_core_t *k)
{
    /* Only when at most an eighth full, so that growing back costs little
     * next to the tasks that filled it. */
    if (k->map_cap <= 1024 || k->map_len * 8 > k->map_cap)
        return;
    size_t cap = 1024;
    while ((k->map_len + 1) * 4 > cap)
        cap *= 2;
    map_rehash(k, cap);   // out of memory: keep the larger table
}

/* Remove: from map by backward-shift deletion (linear probing keeps no
 * tombstones there); from map_old, which takes no inserts, by marking the
 * slot moved. */
void hpt__map_del(coord_core_t *k, uint64_t id)
{
    if (!k->map_cap)
        return;
    size_t mask = k->map_cap - 1, j = hash64(id) & mask;
    while (k->map[j] && k->map[j]->id != id)
        j = (j + 1) & mask;
    if (!k->map[j]) {
        coord_task_t **x = k->map_old ? slot_find(k->map_old, k->old_cap, id) : NULL;
        if (x) {
            *x = MAP_MOVED;
            k->map_len--;
        }
        return;
    }
    k->map[j] = NULL;
    k->map_len--;
    for (size_t i = (j + 1) & mask; k->map[i]; i = (i + 1) & mask) {
        size_t home = hash64(k->map[i]->id) & mask;
        /* Move the entry back into the hole when its home is not between the
         * hole and its slot (cyclically). */
        bool between = j <= i ? (home > j && home <= i) : (home > j || home <= i);
        if (!between) {
            k->map[j] = k->map[i];
            k->map[i] = NULL;
            j = i;
        }
    }
}

// --- interned worker ids ----------------------------------------------------

static uint64_t str_hash(const char *x)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *x; x++)
        h = (h ^ (unsigned char)*x) * 1099511628211ULL;
    return h ^ (h >> 31);
}

/* The interned ids in an open-addressing set of ids_cap slots (a power of
 * two, at most half full), so a result's worker id costs O(1) to intern
 * however many workers have come and gone. */
const char *hpt__intern(coord_core_t *k, const char *id)
{
    if (!id)
        return NULL;
    if (k->ids_cap) {
        for (size_t j = str_hash(id) & (k->ids_cap - 1); k->ids[j];
             j = (j + 1) & (k->ids_cap - 1))
            if (strcmp(k->ids[j], id) == 0)
                return k->ids[j];
    }
    if ((k->ids_len + 1) * 2 > k->ids_cap) {
        size_t cap = k->ids_cap ? k->ids_cap * 2 : 64;
        char **v = calloc(cap, sizeof *v);
        if (!v)
            return NULL;
        for (size_t i = 0; i < k->ids_cap; i++) {
            if (!k->ids[i])
                continue;
            size_t j = str_hash(k->ids[i]) & (cap - 1);
            while (v[j])
                j = (j + 1) & (cap - 1);
            v[j] = k->ids[i];
        }
        free(k->ids);
        k->ids = v;
        k->ids_cap = cap;
    }
    char *s = strdup(id);
    if (!s)
        return NULL;
    size_t j = str_hash(id) & (k->ids_cap - 1);
    while (k->ids[j])
        j = (j + 1) & (k->ids_cap - 1);
    k->ids[j] = s;
    k->ids_len++;
    return s;
}

// --- queues -----------------------------------------------------------------

void hpt__q_push(coord_core_t *k, coord_task_t *t, bool front)
{
    coord_sweep_t *s = coord_task_sweep(t);
    t->state = TASK_QUEUED;
    t->queued_at = k->now;   // for the dispatch latency histogram
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

void hpt__wait(coord_task_t *t)
{
    t->state = TASK_WAITING;
    coord_task_sweep(t)->n_waiting++;
}

void hpt__wait_end(coord_task_t *t)
{
    coord_task_sweep(t)->n_waiting--;
}

void hpt__q_remove(coord_task_t *t)
{
    coord_sweep_t *s = coord_task_sweep(t);
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

// --- leases -----------------------------------------------------------------

/* Whether another lease on w's list (t excepted) is of bundle b (b > 0). */
static bool bundle_on(const coord_worker_t *w, uint64_t b, const coord_task_t *t)
{
    for (const coord_task_t *x = w->leased; x; x = x->lease->wnext)
        if (x != t && x->lease->bundle == b)
            return true;
    return false;
}

static void link_worker(coord_task_t *t, coord_worker_t *w)
{
    coord_lease_t *l = t->lease;
    if (!l->bundle || !bundle_on(w, l->bundle, t))
        w->units++;
    l->worker = w;
    l->wprev = NULL;
    l->wnext = w->leased;
    if (w->leased)
        w->leased->lease->wprev = t;
    w->leased = t;
    w->busy++;
}

/* The orphan list: orphaned leases linked through wprev/wnext. */
static void orphan_link(coord_core_t *k, coord_task_t *t)
{
    coord_lease_t *l = t->lease;
    l->wprev = NULL;
    l->wnext = k->orphans;
    if (k->orphans)
        k->orphans->lease->wprev = t;
    k->orphans = t;
    k->n_orphans++;
}

static void orphan_unlink(coord_core_t *k, coord_task_t *t)
{
    coord_lease_t *l = t->lease;
    if (l->wprev)
        l->wprev->lease->wnext = l->wnext;
    else
        k->orphans = l->wnext;
    if (l->wnext)
        l->wnext->lease->wprev = l->wprev;
    l->wprev = l->wnext = NULL;
    k->n_orphans--;
}

int hpt__lease_begin(coord_core_t *k, coord_task_t *t, coord_worker_t *w, uint64_t bundle)
{
    /* Credit-based dispatch: never more slots filled (and tasks it still
     * runs after a cancel) than the worker has; a task joining a bundle on
     * it fills no new slot, up to the bundle size the worker allows. */
    bool joins = bundle && bundle_on(w, bundle, NULL);
    if (joins) {
        int n = 0;
        for (const coord_task_t *x = w->leased; x; x = x->lease->wnext)
            n += x->lease->bundle == bundle;
        if (n >= w->fuse_max)
            return -EBUSY;
    } else if (w->units + w->zombies >= w->slots) {
        return -EBUSY;
    }
    coord_lease_t *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    hpt__q_remove(t);
    l->bundle = bundle;
    t->lease = l;
    t->state = TASK_LEASED;
    l->leased_at = l->progress_at = k->now;
    link_worker(t, w);
    hpt__worker_free_update(k, w);
    coord_task_sweep(t)->tasks_running++;
    k->n_leases++;
    return 0;
}

int hpt__lease_orphan(coord_core_t *k, coord_task_t *t, const char *worker_id,
                      const uint8_t secret_hash[32], const char *key, double deadline)
{
    size_t n = strlen(worker_id) + 1;
    coord_lease_t *l = calloc(1, sizeof *l);
    coord_orphan_t *o = calloc(1, sizeof *o + n);
    if (!l || !o) {
        free(l);
        free(o);
        return -ENOMEM;
    }
    memcpy(o->secret_hash, secret_hash, sizeof o->secret_hash);
    snprintf(o->key, sizeof o->key, "%s", key ? key : "");
    memcpy(o->worker, worker_id, n);
    l->orphan = o;
    t->lease = l;
    t->state = TASK_LEASED;
    l->leased_at = l->progress_at = k->now;
    l->orphan_deadline = deadline;
    orphan_link(k, t);
    coord_task_sweep(t)->tasks_running++;
    k->n_leases++;
    return 0;
}

void hpt__lease_adopt(coord_core_t *k, coord_task_t *t, coord_worker_t *w)
{
    coord_lease_t *l = t->lease;
    orphan_unlink(k, t);
    free(l->orphan);
    l->orphan = NULL;
    l->leased_at = l->progress_at = k->now;   // the clocks restart here
    link_worker(t, w);
    hpt__worker_free_update(k, w);
}

void hpt__lease_end(coord_core_t *k, coord_task_t *t)
{
    coord_lease_t *l = t->lease;
    if (!l)
        return;
    coord_worker_t *w = l->worker;
    if (w) {
        if (l->wprev)
            l->wprev->lease->wnext = l->wnext;
        else
            w->leased = l->wnext;
        if (l->wnext)
            l->wnext->lease->wprev = l->wprev;
        w->busy--;
        if (!l->bundle || !bundle_on(w, l->bundle, t))
            w->units--;
        hpt__worker_free_update(k, w);
    } else if (l->orphan) {
        orphan_unlink(k, t);
    }
    free(l->orphan);
    free(l);
    t->lease = NULL;
    coord_task_sweep(t)->tasks_running--;
    k->n_leases--;
}

void hpt__task_free(coord_task_t *t)
{
    if (!t)
        return;
    if (t->lease)
        free(t->lease->orphan);
    free(t->lease);
    free(t->error);
    if (coord_task_is_refit(t) || coord_task_is_race(t)) {
        free(t->res);   // a trial's task results live in the trial's block
        free(t);
    }
    else   // in its trial's block: back to "not created"
        *t = (coord_task_t){0};
}

// --- derived fields ---------------------------------------------------------

int coord_task_split(const coord_task_t *t)
{
    return t->index < 0 ? -1 : t->index / coord_task_sweep(t)->spec->seeds;
}

int coord_task_fold(const coord_task_t *t)
{
    return t->index < 0 ? 0 : coord_task_split(t) % coord_task_sweep(t)->spec->cv.folds;
}

int coord_task_repeat(const coord_task_t *t)
{
    return t->index < 0 ? 0 : coord_task_split(t) / coord_task_sweep(t)->spec->cv.folds;
}

int coord_task_seed_rep(const coord_task_t *t)
{
    return t->index < 0 ? 0 : t->index % coord_task_sweep(t)->spec->seeds;
}

// --- invariants ---------------------------------------------------------------

static int check_task(const coord_core_t *k, const coord_task_t *t, size_t *queued,
                      size_t *waiting, size_t *leased, hpt_err *err)
{
    if (hpt__map_get(k, t->id) != t)
        return hpt_err_set(err, -EFAULT, "task %llu is not in the task map",
                           (unsigned long long)t->id);
    if ((t->state == TASK_LEASED) != (t->lease != NULL))
        return hpt_err_set(err, -EFAULT, "task %llu: state %s but lease %p",
                           (unsigned long long)t->id,
                           coord_task_state_name((coord_task_state_t)t->state), (void *)t->lease);
    if ((t->state == TASK_DONE) != (t->res != NULL))
        return hpt_err_set(err, -EFAULT, "task %llu: state %s but result %p",
                           (unsigned long long)t->id,
                           coord_task_state_name((coord_task_state_t)t->state), (void *)t->res);
    if (t->state == TASK_QUEUED)
        (*queued)++;
    if (t->state == TASK_LEASED)
        (*leased)++;
    if ((t->state == TASK_QUEUED || t->state == TASK_LEASED) && hpt__task_should_wait(t))
        return hpt_err_set(err, -EFAULT,
                           "task %llu is %s while its parent trial's task is still pending",
                           (unsigned long long)t->id,
                           coord_task_state_name((coord_task_state_t)t->state));
    if (t->state == TASK_WAITING) {
        (*waiting)++;
        if (!hpt__task_should_wait(t))
            return hpt_err_set(err, -EFAULT,
                               "task %llu waits, but its parent trial's task is not pending",
                               (unsigned long long)t->id);
    }
    return 0;
}

typedef struct check_race {
    const coord_core_t *k;
    size_t *queued, *waiting, *leased, tasks;
    int orphans, rc;
    hpt_err *err;
} check_race_t;

static void check_race_task(const coord_task_t *t, void *ud)
{
    check_race_t *c = ud;
    if (c->rc)
        return;
    c->tasks++;
    c->rc = check_task(c->k, t, c->queued, c->waiting, c->leased, c->err);
    if (t->lease && !t->lease->worker)
        c->orphans++;
}

int coord_core_check(const coord_core_t *k, hpt_err *err)
{
    size_t tasks = 0, leases = 0;
    int orphans = 0;
    for (const coord_sweep_t *s = k->sweeps; s; s = s->next) {
        size_t queued = 0, leased = 0, waiting = 0;
        int rc = 0;
        for (size_t i = 0; i < s->n_trials && rc == 0; i++) {
            const coord_trial_t *tr = s->trials[i];
            for (int j = 0; j < tr->n_tasks && rc == 0; j++) {
                const coord_task_t *t = tr->tasks[j];
                if (!t)
                    continue;
                tasks++;
                rc = check_task(k, t, &queued, &waiting, &leased, err);
                if (t->lease && !t->lease->worker)
                    orphans++;
            }
        }
        if (rc == 0 && s->race) {
            check_race_t cr = {.k = k, .queued = &queued, .waiting = &waiting,
                               .leased = &leased, .err = err};
            hpt__race_each_task(s, check_race_task, &cr);
            rc = cr.rc;
            tasks += cr.tasks;
            orphans += cr.orphans;
        }
        if (rc == 0 && s->refit_task) {
            tasks++;
            rc = check_task(k, s->refit_task, &queued, &waiting, &leased, err);
            if (s->refit_task->lease && !s->refit_task->lease->worker)
                orphans++;
        }
        if (rc < 0)
            return rc;
        size_t inq = 0;
        for (const coord_task_t *t = s->qhead; t; t = t->qnext) {
            if (t->state != TASK_QUEUED || coord_task_sweep(t) != s)
                return hpt_err_set(err, -EFAULT, "sweep %llu: task %llu in the queue is %s",
                                   (unsigned long long)s->id, (unsigned long long)t->id,
                                   coord_task_state_name((coord_task_state_t)t->state));
            if (++inq > queued)
                break;
        }
        if (inq != queued || (size_t)s->n_queued != queued)
            return hpt_err_set(err, -EFAULT,
                               "sweep %llu: %zu tasks QUEUED, %zu in the queue, n_queued %d",
                               (unsigned long long)s->id, queued, inq, s->n_queued);
        if ((size_t)s->n_waiting != waiting)
            return hpt_err_set(err, -EFAULT, "sweep %llu: %zu tasks WAITING, n_waiting %d",
                               (unsigned long long)s->id, waiting, s->n_waiting);
        if ((size_t)s->tasks_running != leased)
            return hpt_err_set(err, -EFAULT, "sweep %llu: %zu tasks LEASED, tasks_running %d",
                               (unsigned long long)s->id, leased, s->tasks_running);
        leases += leased;
    }
    if (tasks != k->map_len)
        return hpt_err_set(err, -EFAULT, "%zu tasks in sweeps, %zu in the task map", tasks,
                           k->map_len);
    if (leases != k->n_leases || orphans != k->n_orphans)
        return hpt_err_set(err, -EFAULT, "%zu leases (%d orphaned), counted %zu (%d)", leases,
                           orphans, k->n_leases, k->n_orphans);
    size_t on_workers = 0;
    int n_workers = 0;
    for (const coord_worker_t *w = k->workers; w; w = w->next) {
        n_workers++;
        int busy = 0, units = 0, cap = w->slots * (w->fuse_max > 1 ? w->fuse_max : 1);
        for (const coord_task_t *t = w->leased; t; t = t->lease->wnext) {
            if (t->state != TASK_LEASED || !t->lease || t->lease->worker != w)
                return hpt_err_set(err, -EFAULT, "worker %s lists task %llu it does not hold",
                                   w->id, (unsigned long long)t->id);
            // A bundle counts once, at its first lease on the list.
            bool first = true;
            for (const coord_task_t *x = w->leased; x != t && t->lease->bundle;
                 x = x->lease->wnext)
                first = first && x->lease->bundle != t->lease->bundle;
            units += first;
            if (++busy > cap + 1)
                break;
        }
        if (busy != w->busy || units != w->units)
            return hpt_err_set(err, -EFAULT, "worker %s: %d leases listed (%d slots), busy %d "
                               "(units %d)", w->id, busy, units, w->busy, w->units);
        on_workers += (size_t)busy;
        if (w->next && w->next->prev != w)
            return hpt_err_set(err, -EFAULT, "worker list broken after %s", w->id);
    }
    int orphan_list = 0;
    for (const coord_task_t *t = k->orphans; t && orphan_list <= k->n_orphans; t = t->lease->wnext)
        orphan_list++;
    if (orphan_list != k->n_orphans)
        return hpt_err_set(err, -EFAULT, "%d tasks on the orphan list, n_orphans %d", orphan_list,
                           k->n_orphans);
    for (const coord_worker_t *w = k->workers; w; w = w->next) {
        bool want = w->slots - w->units - w->zombies > 0 && !w->draining;
        if (want != w->in_free)
            return hpt_err_set(err, -EFAULT, "worker %s: %s the free list with %d/%d busy, %d "
                               "zombies%s", w->id, w->in_free ? "on" : "off", w->units, w->slots,
                               w->zombies, w->draining ? ", draining" : "");
        if (hpt__worker_by_id(k, w->id) != w || coord_worker_by_peer(k, &w->peer) != w)
            return hpt_err_set(err, -EFAULT, "worker %s: not found by its id or peer", w->id);
    }
    int on_free = 0;
    for (const coord_worker_t *w = k->free_head; w && on_free <= n_workers; w = w->fnext)
        on_free++;
    int want_free = 0;
    for (const coord_worker_t *w = k->workers; w; w = w->next)
        want_free += w->in_free;
    if (on_free != want_free)
        return hpt_err_set(err, -EFAULT, "%d workers on the free list, %d marked", on_free,
                           want_free);
    if (n_workers != k->n_workers)
        return hpt_err_set(err, -EFAULT, "%d workers listed, n_workers %d", n_workers,
                           k->n_workers);
    if (on_workers + (size_t)k->n_orphans != k->n_leases)
        return hpt_err_set(err, -EFAULT, "%zu leases on workers + %d orphans != %zu leases",
                           on_workers, k->n_orphans, k->n_leases);
    return 0;
}
