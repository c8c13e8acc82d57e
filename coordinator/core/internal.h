/*
 * internal.h: functions the core's files share (sched.c, workers.c,
 * resume.c), on top of tasks.h and outbox.h.  Core files only.
 */
#ifndef COORD_CORE_INTERNAL_H
#define COORD_CORE_INTERNAL_H

#include "outbox.h"
#include "tasks.h"

/* Wall-clock seconds of the entry point running. */
static inline double hpt__unix(const coord_core_t *k)
{
    return k->now + k->wall_offset;
}

// sched.c
void hpt__dispatch(coord_core_t *k);
/* An attempt ended without a result (its worker left, it was refused, its
 * orphan expired): journal it, end the lease, back to the queue's front. */
void hpt__requeue(coord_core_t *k, coord_task_t *t, const char *why);
void hpt__sweep_check_end(coord_core_t *k, coord_sweep_t *s);
void hpt__sweep_finish(coord_core_t *k, coord_sweep_t *s, coord_sweep_state_t st);
void hpt__trial_finish(coord_core_t *k, coord_trial_t *tr);
void hpt__trial_abandon(coord_core_t *k, coord_trial_t *tr, coord_task_t *except);
/* The next suggestion as a new trial (no tasks yet); NULL when none. */
coord_trial_t *hpt__trial_next(coord_sweep_t *s, char *pj, size_t len, bool *done);
/* Task `index` of tr (or the refit) with only trial and index set: the
 * trial's block slot, or for the refit a new allocation.  NULL only for a
 * refit out of memory. */
coord_task_t *hpt__task_alloc(coord_trial_t *tr, int index, bool refit);
/* Storage for t's result: its slot in its trial's block (zeroed), or for the
 * refit a new allocation (NULL when out of memory); t->res owns it only for
 * the refit (hpt__task_free frees it). */
coord_task_result_t *hpt__task_result_new(coord_task_t *t);
/* Fill res from a journaled result r (borrowed). */
void hpt__task_result_set(coord_task_result_t *res, const coord_result_t *r, double finished,
                          const char *done_by);
/* Task `index` of tr (or the refit), in the map, journaled. */
coord_task_t *hpt__task_new(coord_core_t *k, coord_trial_t *tr, int index, bool refit);
void hpt__sweep_free(coord_sweep_t *s);
/* Whether t (just created or resumed, not yet placed) must wait: its trial
 * continues another trial's models and that trial's task of t's split is
 * still queued, leased or waiting. */
bool hpt__task_should_wait(const coord_task_t *t);
/* t ended (done, failed or cancelled): the tasks of the same split that
 * wait for it go to the front of the queue (a failed or cancelled t's
 * then train from scratch).  A no-op once t's sweep has ended. */
void hpt__task_release_kids(coord_core_t *k, coord_task_t *t);
/* A Result from w (registered, on its current connection; peer is its
 * routing id, for rate-limited logs).  Only the lease's holder's result
 * counts; any other is dropped and said so. */
void hpt__result(coord_core_t *k, coord_worker_t *w, const hpt_peer_id_t *peer,
                 const Hpt__Result *m);
void hpt__progress(coord_core_t *k, coord_worker_t *w, const Hpt__Progress *m);
void hpt__stalls(coord_core_t *k);
/* Fail the queued tasks whose model needs more memory than any registered
 * worker that serves their sweep has (Hello.max_model_mem), when every such
 * worker has said its budget (sched.c; from coord_core_tick). */
void hpt__mem_unfit(coord_core_t *k);
void hpt__str_set(char **dst, const char *v);
/* Set tr->error from a format, cut at 255 bytes; "" leaves it NULL. */
void hpt__trial_error(coord_trial_t *tr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether score a beats b for s's goal (a NaN never beats, beats a NaN). */
bool hpt__better(const coord_sweep_t *s, double a, double b);
/* End a queued, waiting or leased task as cancelled (journaled with why). */
void hpt__task_cancel(coord_core_t *k, coord_task_t *t, const char *why);

// race.c
/* The search of s has ended (nothing queued or running, every trial
 * settled, a best trial exists): run select.race's race.  Starts it, takes
 * a look after each round, queues the next round, or decides (s->best
 * becomes the winner).  Returns true while the race goes on (no refit
 * yet), false once decided or when the spec does not race. */
bool hpt__race_step(coord_core_t *k, coord_sweep_t *s);
/* Race task t's result was counted (it is DONE). */
void hpt__race_task_done(coord_core_t *k, coord_task_t *t);
/* Race task t of s failed for good (NULL: the race could not go on): its
 * other pending tasks are cancelled and the race stops at its last look. */
void hpt__race_task_failed(coord_core_t *k, coord_sweep_t *s, coord_task_t *t);
/* Cancel every pending race task of s (sweep cancelled). */
void hpt__race_cancel(coord_core_t *k, coord_sweep_t *s, const char *why);
/* Free s's race and its tasks (taking them out of the task map when unmap). */
void hpt__race_free(coord_core_t *k, coord_sweep_t *s, bool unmap);
/* Call cb for every race task of s (invariant checks). */
void hpt__race_each_task(const coord_sweep_t *s, void (*cb)(const coord_task_t *t, void *ud),
                         void *ud);
/* Rebuild s's race after resume's aggregate: pend (n_pend, its entries
 * NULLed as they are taken) are the journaled race tasks, already placed
 * (queued, orphaned or ended).  The looks are taken again from their
 * results, which decides exactly as before; missing tasks of the round in
 * progress are created unless finished.  Returns 0, -ENOMEM, or -EINVAL
 * with bad saying which task does not fit. */
int hpt__race_resume(coord_core_t *k, coord_sweep_t *s, coord_task_t **pend, size_t n_pend,
                     bool finished, char *bad, size_t len);

// workers.c
/* Put w on the free list or take it off, as its slots, busy, zombies and
 * draining now say.  Call after any of them changes. */
void hpt__worker_free_update(coord_core_t *k, coord_worker_t *w);
coord_worker_t *hpt__worker_by_id(const coord_core_t *k, const char *id);
void hpt__worker_remove(coord_core_t *k, coord_worker_t *w, const char *why, bool lost);
void hpt__workers_tick(coord_core_t *k);
void hpt__workers_free(coord_core_t *k);
/* Drop held results past their time (coord_core_t.held). */
void hpt__held_expire(coord_core_t *k);

// resume.c
/* Journal s's summary (COORD_J_SWEEP_SUMMARY): s has just ended, and a
 * restart creates it unloaded from the summary instead of rebuilding it. */
void hpt__j_summary(coord_core_t *k, const coord_sweep_t *s);
/* The journaled holder of an orphaned lease of worker_id (its secret hash
 * and key: what a Hello with that id must prove), or NULL when it holds
 * none. */
const coord_orphan_t *hpt__orphan_of(const coord_core_t *k, const char *worker_id);
/* w proved it is the holder (coord_core_hello): its orphaned leases become
 * its leases. */
void hpt__orphans_adopt(coord_core_t *k, coord_worker_t *w);
void hpt__orphans_expire(coord_core_t *k);

#endif
