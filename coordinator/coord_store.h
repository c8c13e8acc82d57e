/*
 * coord_store.h: the coordinator's SQLite journal (WAL mode).
 *
 * Everything that happens is written as it happens: sweeps (with their spec
 * text), trials, tasks and every lease attempt, fold results, workers and
 * events.  Writes go into one open transaction that coord_store_flush()
 * commits; the coordinator flushes once per loop turn (group commit), and
 * before it acknowledges anything that must survive a crash (a submitted
 * sweep's id, a result).  synchronous=FULL: a commit is on disk when flush
 * returns.
 *
 * Loop thread only.  Every function returns 0 or a negative errno (-EIO for
 * SQLite errors, with err naming the statement and SQLite's message).
 */
#ifndef COORD_STORE_H
#define COORD_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

typedef struct coord_store coord_store_t;

/* Open (creating if needed) the journal at path (":memory:" allowed).
 * Refuses a file that is not an hptune journal, a read-only file, or a
 * corrupt database, with err saying which.  *out returns owned. */
int coord_store_open(coord_store_t **out, const char *path, hpt_err *err);

/* Commit pending writes (if any) and close; accepts NULL, sets *p = NULL. */
void coord_store_close(coord_store_t **p);

/* Commit the open transaction, if any.  Returns 0 or -EIO. */
int coord_store_flush(coord_store_t *s, hpt_err *err);

/* True when writes are waiting for a flush. */
bool coord_store_dirty(const coord_store_t *s);

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

typedef struct coord_store_result {
    double score, accuracy, log_loss, f1_macro, train_score, fit_seconds;
    int epochs;
    uint32_t n_eval;      // samples scored (for the refit's confidence interval)
    int resumed_from;     // epochs the worker continued from (0: trained from scratch)
} coord_store_result_t;

int coord_store_task_result(coord_store_t *s, uint64_t task, uint32_t attempt,
                            const coord_store_result_t *r, double ts);
int coord_store_task_state(coord_store_t *s, uint64_t task, const char *state, const char *error);

int coord_store_worker_seen(coord_store_t *s, const char *id, const char *name, const char *host,
                            int slots, const char *version, double ts, const char *state);

int coord_store_event(coord_store_t *s, uint64_t seq, double ts, const char *level,
                      const char *component, const char *msg, const char *fields,
                      uint64_t sweep);

#endif

// --- reads (resume after a restart) ----------------------------------------

typedef struct coord_store_sweep_row {
    uint64_t id;
    const char *name, *path, *spec, *state, *fingerprint;  // valid during the callback
    const char *error;    // NULL when none
    int priority;
    double created, started, finished;
} coord_store_sweep_row_t;

typedef struct coord_store_trial_row {
    uint64_t trial;
    const char *params;   // JSON object, valid during the callback
    const char *state;    // running | done | failed | cancelled
    double mean;          // the observed mean score (NaN: failed or none)
    long obs_before;      // observations before its suggestion (0 in old journals)
    long obs_seq;         // its observation's position, 0 when not observed
} coord_store_trial_row_t;

typedef struct coord_store_task_row {
    uint64_t id, trial;
    int fold, repeat;
    int seed_rep;         // which of the spec's cv.seeds replicates (0-based)
    double finished;      // unix time of its result (NaN when none)
    int resumed_from;     // epochs the worker continued from
    bool refit;
    const char *state;    // queued | leased | done | failed | cancelled
    uint32_t attempt;
    const char *worker;   // holder of the last attempt (leased tasks), or NULL
    coord_store_result_t r;
    const char *error;
    uint32_t failures;    // attempts that ended "failed"
} coord_store_task_row_t;

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
