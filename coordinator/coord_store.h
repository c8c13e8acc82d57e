/*
 * coord_store.h: the coordinator's SQLite journal (WAL mode).
 *
 * Everything that happens is written as it happens: sweeps (with their spec
 * text), trials, tasks and every lease attempt, fold results, workers and
 * events.  Writes go into one open transaction that coord_store_flush()
 * commits; the coordinator flushes once per loop turn (group commit), and
 * before it acknowledges anything that must survive a crash (a submitted
 * sweep's id, a result).  synchronous=NORMAL: a commit is durable once the
 * -wal file is synced ("Durability" below).
 *
 * Loop thread only.  Every function returns 0 or a negative errno (-EIO for
 * SQLite errors, with err naming the statement and SQLite's message).
 */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "journal.h"

typedef struct coord_store coord_store_t;

/* Open (creating if needed) the journal at path (":memory:" allowed).
 * Refuses a file that is not an hptune journal, a read-only file, or a
 * corrupt database, with err saying which.  *out returns owned. */
int coord_store_open(coord_store_t **out, const char *path, hpt_err *err);

/* Commit pending writes (if any) and close; accepts NULL, sets *p = NULL. */
void coord_store_close(coord_store_t **p);

/* Commit the open transaction, if any.  Returns 0 or -EIO. */
int coord_store_flush(coord_store_t *s, hpt_err *err);

/* Durability (synchronous=NORMAL): a flush writes the commit to the -wal
 * file; it is durable once that file is synced.  The loop syncs after each
 * commit on the thread pool (main.c); an acknowledgement that promises
 * durability (a sweep's id) syncs first with coord_store_sync. */

/* Transactions committed since open (a sync covers every one before it). */
uint64_t coord_store_commits(const coord_store_t *s);

/* The -wal file's path ("" for ":memory:"), for coord_store_sync_file.
 * Borrowed; lives as long as s. */
const char *coord_store_wal_path(const coord_store_t *s);

/* fdatasync the -wal file at wal (borrowed); "" or a missing file: nothing
 * to do.  Touches no store state: any thread.  Returns 0 or -errno. */
int coord_store_sync_file(const char *wal, hpt_err *err);

/* Flush, then sync: on return every commit so far is durable.  Blocking;
 * the loop thread.  Returns 0 or a negative errno. */
int coord_store_sync(coord_store_t *s, hpt_err *err);

/* Checkpoints off the loop.  By default SQLite checkpoints inside the
 * commit that takes the WAL past 1000 pages (copy and two syncs: 10-60 ms
 * at a million tasks).  After coord_store_ckpt_manual (a file journal; a
 * no-op for ":memory:") commits never checkpoint; instead, after a flush
 * that left coord_store_ckpt_due true, the loop calls coord_store_ckpt_begin
 * and runs coord_store_ckpt_run on another thread (it touches only its
 * own connection and the job's fields), then coord_store_ckpt_end on the
 * loop.  Between begin and end, writes are held in memory (none starts a
 * transaction, so the checkpoint can copy the whole WAL and the WAL then
 * starts again from its beginning) and end makes them in order in a new
 * transaction, for the next flush to commit; a write that finds 20,000
 * held, coord_store_sync, every read and retention call, and close wait
 * for the job and end it first.  End returns -EIO when the checkpoint
 * failed (the WAL keeps everything; the next one tries again). */
int coord_store_ckpt_manual(coord_store_t *s, hpt_err *err);
bool coord_store_ckpt_due(const coord_store_t *s);
void coord_store_ckpt_begin(coord_store_t *s);
void coord_store_ckpt_run(coord_store_t *s);
int coord_store_ckpt_end(coord_store_t *s, hpt_err *err);
/* Between begin and end. */
bool coord_store_ckpt_held(const coord_store_t *s);
/* Checkpoints ended, those that left frames uncopied or failed, and the
 * WAL's pages after the last commit. */
void coord_store_ckpt_stats(const coord_store_t *s, uint64_t *runs, uint64_t *partial,
                            int *wal_pages);

/* True when writes are waiting for a flush. */
bool coord_store_dirty(const coord_store_t *s);

/* Start a new incarnation of the coordinator on this journal: the counter
 * in meta goes up by one and is committed at once, before anything is sent.
 * Task ids of incarnation g start at g << COORD_STORE_ID_SHIFT
 * (coord_core_set_ids), so an id used in a run that crashed before
 * committing it is never given to another task: a late result for it
 * cannot land on the wrong task.  Returns 0 with *gen >= 1, or a negative
 * errno (-EIO, -EOVERFLOW) with err saying why. */
#define COORD_STORE_ID_SHIFT 32
#define COORD_STORE_MAX_INCARNATION ((1ULL << (53 - COORD_STORE_ID_SHIFT)) - 1)  // ids stay
                                                                               // JSON-exact
int coord_store_incarnation(coord_store_t *s, uint64_t *gen, hpt_err *err);

/* Largest ids in use, so a restarted coordinator continues numbering. */
int coord_store_max_ids(coord_store_t *s, uint64_t *sweep, uint64_t *task);

// --- writes (each joins the open transaction) ------------------------------

int coord_store_sweep_add(coord_store_t *s, uint64_t id, const char *name, const char *path,
                          const char *spec_text, int priority, double created,
                          const char *fingerprint);
int coord_store_sweep_state(coord_store_t *s, uint64_t id, const char *state, double ts,
                            const char *error);
int coord_store_sweep_refit(coord_store_t *s, uint64_t id, uint64_t best_trial, double score,
                            double accuracy);
/* coord_store_sweep_add with the principal that submitted it (borrowed,
 * NULL: unknown). */
int coord_store_sweep_add_owned(coord_store_t *s, uint64_t id, const char *name,
                                const char *path, const char *spec_text, int priority,
                                double created, const char *fingerprint, const char *owner);
/* Delete a sweep (retention): its sweeps row and summary at once, so that
 * resume no longer sees it; its trials, tasks and attempts later, a bounded
 * number of rows at a time (coord_store_gc).  Its id is never handed out
 * again (coord_store_max_ids). */
int coord_store_sweep_delete(coord_store_t *s, uint64_t id);
/* Remove up to about max_rows rows (attempts, tasks, trials) of deleted
 * sweeps; *deleted receives how many went, *pending how many deleted sweeps
 * still have rows.  Part of the open transaction. */
int coord_store_gc(coord_store_t *s, int64_t max_rows, int64_t *deleted, int *pending);
/* Retention of the events table: delete the oldest rows so that at most
 * `keep` remain (0: no count limit) and none has a ts before `before`
 * (unix seconds; 0: no age limit), at most max_rows of them in this call.
 * *deleted receives how many went.  Part of the open transaction. */
int coord_store_events_prune(coord_store_t *s, int64_t keep, double before, int64_t max_rows,
                             int64_t *deleted);
/* Retention of the workers table: delete the records of workers that are
 * gone (state 'gone': they hold no lease, and their session secret can no
 * longer take one back) beyond the `keep` seen most recently (0: no count
 * limit) and those last seen before `before` (unix seconds; 0: no age
 * limit), at most max_rows in this call.  Records of workers still
 * registered (and, after a restart, of those whose leases wait for them)
 * stay.  *deleted receives how many went.  Part of the open transaction. */
int coord_store_workers_prune(coord_store_t *s, int64_t keep, double before, int64_t max_rows,
                              int64_t *deleted);
/* The number of rows of the workers table (tests, /metrics), or a negative
 * errno. */
int64_t coord_store_workers_count(coord_store_t *s);
/* A finished sweep's summary (borrowed), replacing any earlier one. */
int coord_store_sweep_summary(coord_store_t *s, uint64_t id, const coord_jsum_t *sum);

/* params_json: the trial's parameter values as a JSON object (borrowed).
 * obs_before: observations the search had received when it suggested this
 * trial; obs_seq (0 = not observed): the position of this trial's
 * observation.  Together they let a restart replay the search's exact
 * interleaving of suggestions and observations (TPE depends on it). */
int coord_store_trial_add(coord_store_t *s, uint64_t sweep, uint64_t trial,
                          const char *params_json, long obs_before);
int coord_store_trial_done(coord_store_t *s, uint64_t sweep, uint64_t trial, const char *state,
                           double mean, double std, const char *error, long obs_seq);

int coord_store_task_add(coord_store_t *s, uint64_t task, uint64_t sweep, uint64_t trial,
                         int fold, int repeat, int seed_rep, bool refit);
int coord_store_task_lease(coord_store_t *s, uint64_t task, uint32_t attempt, const char *worker,
                           double ts);
/* The attempt ended without a result (worker lost, cancelled, failed). */
int coord_store_attempt_end(coord_store_t *s, uint64_t task, uint32_t attempt, const char *outcome,
                            const char *error, double ts);

typedef coord_result_t coord_store_result_t;

int coord_store_task_result(coord_store_t *s, uint64_t task, uint32_t attempt,
                            const coord_store_result_t *r, double ts);
int coord_store_task_state(coord_store_t *s, uint64_t task, const char *state, const char *error);

/* secret: hex SHA-256 of the worker's session secret; key: its CURVE key
 * (Z85, "" without keys); either may be NULL. */
int coord_store_worker_seen(coord_store_t *s, const char *id, const char *name, const char *host,
                            int slots, const char *version, double ts, const char *state,
                            const char *secret, const char *key);

/* Write one journal record from the core's outbox (core/journal.h). */
int coord_store_apply(coord_store_t *s, const coord_jrec_t *j);

/* The store as the core's journal reader (coord_core_resume); borrows s. */
coord_journal_reader_t coord_store_reader(coord_store_t *s);

/* Drop the writes not yet committed (the simulator's crash). */
void coord_store_rollback(coord_store_t *s);

/* Append one event to the events table: its number in this run (seq), Unix
 * time ts (seconds), level, component, message and logfmt fields, the sweep
 * it is about (0: none, stored as NULL) and its stable type name
 * (coord_event_name: "task.leased", ...; "log" for a plain log line).  All
 * strings are borrowed; NULL is stored as NULL.  Rows written before the
 * type column existed keep a NULL type. */
int coord_store_event(coord_store_t *s, uint64_t seq, double ts, const char *level,
                      const char *component, const char *msg, const char *fields,
                      uint64_t sweep, const char *type);

#endif

// --- reads (resume after a restart) ----------------------------------------

/* Rows have the shapes the core resumes from (core/journal.h). */
typedef coord_jrow_sweep_t coord_store_sweep_row_t;
typedef coord_jrow_trial_t coord_store_trial_row_t;
typedef coord_jrow_task_t coord_store_task_row_t;

/* Call cb for every sweep (finished ones too: their results stay
 * readable), in id order.  A negative return from cb stops the walk and is
 * returned. */
int coord_store_each_open_sweep(coord_store_t *s,
                                int (*cb)(const coord_store_sweep_row_t *row, void *ud),
                                void *ud);
/* Trials of a sweep in trial order; tasks of a sweep in id order. */
int coord_store_each_trial(coord_store_t *s, uint64_t sweep,
                           int (*cb)(const coord_store_trial_row_t *row, void *ud), void *ud);
int coord_store_each_task(coord_store_t *s, uint64_t sweep,
                          int (*cb)(const coord_store_task_row_t *row, void *ud), void *ud);
