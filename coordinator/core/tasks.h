/*
 * tasks.h: the core's internal interface to tasks.c, the one owner of where
 * a task is (queue, lease list, orphan, nowhere) and of the task map.
 * Core files only; the shell sees core.h.
 */
#ifndef COORD_CORE_TASKS_H
#define COORD_CORE_TASKS_H

#include "core.h"

/* Map by id.  put returns 0 or -ENOMEM. */
int hpt__map_put(coord_core_t *k, coord_task_t *t);
coord_task_t *hpt__map_get(const coord_core_t *k, uint64_t id);
void hpt__map_del(coord_core_t *k, uint64_t id);
/* Shrink the map's table after many deletions (a sweep unloaded) when it is
 * at most an eighth full; a no-op otherwise or when out of memory. */
void hpt__map_compact(coord_core_t *k);

/* One copy per distinct worker id, owned by the core (NULL: out of memory). */
const char *hpt__intern(coord_core_t *k, const char *id);

/* Enter the sweep's queue (state QUEUED, queued_at = now), at the front for
 * a retry, at the back for new work; leave it. */
void hpt__q_push(coord_core_t *k, coord_task_t *t, bool front);
void hpt__q_remove(coord_task_t *t);
/* Wait for the parent trial's task (state WAITING, in no queue: counted in
 * its sweep's n_waiting); stop waiting (the caller places it next). */
void hpt__wait(coord_task_t *t);
void hpt__wait_end(coord_task_t *t);

/* A queued task leaves its queue for w's lease list (state LEASED).
 * Returns 0, -EBUSY when w has no free slot (nothing changes), -ENOMEM. */
int hpt__lease_begin(coord_core_t *k, coord_task_t *t, coord_worker_t *w, uint64_t bundle);
/* A task journaled as leased to worker_id before a restart (state LEASED,
 * no worker): requeued if not adopted by deadline.  secret_hash (32 bytes)
 * and key (Z85 or ""/NULL) are what that worker must prove to adopt it
 * (all borrowed, copied). */
int hpt__lease_orphan(coord_core_t *k, coord_task_t *t, const char *worker_id,
                      const uint8_t secret_hash[32], const char *key, double deadline);
/* An orphan's worker came back: the lease moves to its list. */
void hpt__lease_adopt(coord_core_t *k, coord_task_t *t, coord_worker_t *w);
/* End the lease (worker or orphan); the caller sets the next state. */
void hpt__lease_end(coord_core_t *k, coord_task_t *t);

/* Free what a task owns; a refit task is freed itself, a trial's task (in
 * its trial's block) is zeroed.  Accepts NULL.  The caller unlinks it from
 * the map and from its trial's tasks first. */
void hpt__task_free(coord_task_t *t);

#endif
