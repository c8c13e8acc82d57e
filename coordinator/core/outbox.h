/*
 * outbox.h: how core files append actions (outbox.c).  Core files only.
 * Strings passed in are copied into the outbox's arena.
 */
#ifndef COORD_CORE_OUTBOX_H
#define COORD_CORE_OUTBOX_H

#include <stdarg.h>

#include "core.h"

/* Append an action (zeroed but for its kind); NULL when out of memory (the
 * outbox's failed flag is then set). */
coord_action_t *hpt__act(coord_core_t *k, coord_act_kind_t kind);
/* Copy s into the outbox's arena (NULL stays NULL). */
const char *hpt__astr(coord_core_t *k, const char *s);
/* s (borrowed; NULL as "") as a logfmt value (hpt_log_quote): s itself when
 * it needs no quoting, else a quoted, escaped copy in the outbox's arena.
 * Every string a peer gave (a worker's id, name, host, version, dataset
 * names, a sweep's name, an error text) goes into event fields through this,
 * so it can neither add a key=value pair nor break the line. */
const char *hpt__q(coord_core_t *k, const char *s);
/* Pack env (borrowed) now and queue it for peer `to`. */
void hpt__send(coord_core_t *k, const hpt_peer_id_t *to, hpt_env_t *env);
void hpt__offer(coord_core_t *k, const hpt_peer_id_t *to, uint64_t sweep);
void hpt__timer(coord_core_t *k, double at);
/* A typed event; level < 0 takes the type's default.  fmt formats its
 * logfmt fields. */
void hpt__event(coord_core_t *k, coord_event_type_t type, int level, uint64_t sweep,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void hpt__eventv(coord_core_t *k, coord_event_type_t type, int level, uint64_t sweep,
                 const char *fmt, va_list ap);
/* A journal record of the kind (zeroed); the caller fills its fields, with
 * strings through hpt__astr.  NULL when out of memory. */
coord_jrec_t *hpt__journal(coord_core_t *k, coord_jkind_t kind);


// Journal records, one helper per kind (the arguments of coord_store.h's).
void hpt__j_sweep_delete(coord_core_t *k, uint64_t id);
void hpt__j_sweep_add(coord_core_t *k, uint64_t id, const char *name, const char *path,
                      const char *text, int priority, double created, const char *fp,
                      const char *owner, const char *dataset);
void hpt__j_sweep_state(coord_core_t *k, uint64_t id, const char *state, double ts,
                        const char *error);
void hpt__j_sweep_refit(coord_core_t *k, uint64_t id, uint64_t best, double score, double acc);
/* sum (borrowed) is copied into the outbox's arena, its best_values too. */
void hpt__j_sweep_summary(coord_core_t *k, uint64_t id, const coord_jsum_t *sum);
void hpt__j_trial_add(coord_core_t *k, uint64_t sweep, uint64_t trial, const char *params,
                      long obs_before);
void hpt__j_trial_done(coord_core_t *k, uint64_t sweep, uint64_t trial, const char *state,
                       double mean, double std, const char *error, long obs_seq);
void hpt__j_task_add(coord_core_t *k, uint64_t task, uint64_t sweep, uint64_t trial, int fold,
                     int repeat, int seed_rep, bool refit);
void hpt__j_task_lease(coord_core_t *k, uint64_t task, uint32_t attempt, const char *worker,
                       double ts);
void hpt__j_attempt_end(coord_core_t *k, uint64_t task, uint32_t attempt, const char *outcome,
                        const char *error, double ts);
void hpt__j_task_result(coord_core_t *k, uint64_t task, uint32_t attempt,
                        const coord_result_t *r, double ts);
void hpt__j_task_state(coord_core_t *k, uint64_t task, const char *state, const char *error);
/* w's row: its id, name, host, slots, version, the hash of its session
 * secret and its key. */
void hpt__j_worker_seen(coord_core_t *k, const coord_worker_t *w, double ts, const char *state);

#endif
