/*
 * journal.h: the shapes of what the coordinator's core writes to and reads
 * back from its journal, with no storage behind them.
 *
 * The core (core.h) appends a coord_jrec_t to its outbox for every change
 * that must survive a crash; the daemon's shell applies the records to the
 * SQLite store (coord_store.c) in order, and commits them once per loop turn.
 * After a restart the core rebuilds its state from rows of the same tables,
 * read through a coord_journal_reader_t: the real daemon reads SQLite, the
 * simulator (tests/sim) reads the same SQLite store it wrote.
 *
 * Strings in records and rows are borrowed: a record's live until the
 * outbox is cleared, a row's for the duration of the callback.
 */
#ifndef COORD_JOURNAL_H
#define COORD_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>

/* One task's result, as journaled. */
typedef struct coord_result {
    double score, accuracy, log_loss, f1_macro, train_score, fit_seconds;
    int epochs;
    uint32_t n_eval;      // samples scored (for the refit's confidence interval)
    int resumed_from;     // epochs the worker continued from (0: trained from scratch)
} coord_result_t;

typedef enum coord_jkind {
    COORD_J_SWEEP_ADD,      // sweep, text (spec), name, path, priority, ts (created), fingerprint,
                            // owner, dataset (canonical)
    COORD_J_SWEEP_STATE,    // sweep, state, ts, error (NULL = none)
    COORD_J_SWEEP_REFIT,    // sweep, trial (the refitted best), score, accuracy
    COORD_J_TRIAL_ADD,      // sweep, trial, text (params JSON), obs (observations before it)
    COORD_J_TRIAL_DONE,     // sweep, trial, state, mean, std, error, obs (its observation's seq)
    COORD_J_TASK_ADD,       // task, sweep, trial, fold, repeat, seed_rep, refit
    COORD_J_TASK_LEASE,     // task, attempt, worker, ts
    COORD_J_ATTEMPT_END,    // task, attempt, state (outcome), error, ts
    COORD_J_TASK_RESULT,    // task, attempt, r, ts
    COORD_J_TASK_STATE,     // task, state, error
    COORD_J_WORKER_SEEN,    // worker, name, host, slots, version, ts, state, secret, key
    COORD_J_SWEEP_SUMMARY,  // sweep, sum (journaled with the sweep's final state)
    COORD_J_SWEEP_DELETE,   // sweep (retention: the sweep and everything of it leave)
} coord_jkind_t;

/* What a finished sweep's status, /metrics and the results header read of
 * it beyond its sweeps row (spec, state, times, error), journaled in the
 * same transaction as its final state: a restart creates the sweep straight
 * from it, unloaded, without replaying its search or rebuilding its trials
 * and tasks (resume.c).  Exactly coord_sweep_sum_t's fields plus the
 * sweep's counters and refit figures. */
typedef struct coord_jsum {
    long trials_total;            // coord_search_total (<= 0: not known up front)
    uint64_t n_trials;            // trials suggested
    uint64_t best;                // the best trial's number, 0 when none
    double best_mean, best_std;   // NaN when none
    const char *best_values;      // its values, bit-exact (resume.c's encoding), NULL when none
    int64_t tasks_total;
    int tasks_done, tasks_failed, trials_done, trials_failed;
    uint64_t epochs_trained, epochs_scratch, results_gen;
    bool has_refit;
    double refit_score, refit_accuracy;   // NaN when none
    uint32_t refit_n_test;
    const char *race_verdict;     // select.race's verdict, NULL when none
} coord_jsum_t;

/* One journal record.  Only the fields its kind lists (above) are set. */
typedef struct coord_jrec {
    coord_jkind_t kind;
    uint64_t sweep, trial, task;
    uint32_t attempt;
    int fold, repeat, seed_rep, priority, slots;
    bool refit;
    long obs;
    double ts, mean, std, score, accuracy;
    const char *state, *text, *error, *name, *path, *fingerprint, *worker, *host, *version;
    const char *secret;        // COORD_J_WORKER_SEEN: hex SHA-256 of its session secret (the
                               // secret itself is never journaled)
    const char *key;           // COORD_J_WORKER_SEEN: its CURVE key (Z85), "" without keys
    const char *owner;         // COORD_J_SWEEP_ADD: who submitted it (NULL: unknown)
    const char *dataset;       // COORD_J_SWEEP_ADD: the canonical dataset name
    coord_result_t r;
    const coord_jsum_t *sum;   // COORD_J_SWEEP_SUMMARY (in the outbox's arena)
} coord_jrec_t;

// --- rows read back at start ------------------------------------------------

typedef struct coord_jrow_sweep {
    uint64_t id;
    const char *name, *path, *spec, *state, *fingerprint;
    const char *dataset;  // canonical dataset name; NULL in journals of older builds
    const char *error;    // NULL when none
    const char *owner;    // who submitted it, NULL when unknown (older journals)
    int priority;
    double created, started, finished;
    const coord_jsum_t *sum;   // its summary, NULL when none was journaled (it has not
                               // ended, or ended under an older build)
} coord_jrow_sweep_t;

typedef struct coord_jrow_trial {
    uint64_t trial;
    const char *params;   // JSON object
    const char *state;    // running | done | failed | cancelled
    double mean;          // the observed mean score (NaN: failed or none)
    long obs_before;      // observations before its suggestion (0 in old journals)
    long obs_seq;         // its observation's position, 0 when not observed
} coord_jrow_trial_t;

typedef struct coord_jrow_task {
    uint64_t id, trial;
    int fold, repeat;
    int seed_rep;         // which of the spec's cv.seeds replicates (0-based)
    double finished;      // unix time of its result (NaN when none)
    int resumed_from;     // epochs the worker continued from
    bool refit;
    const char *state;    // queued | leased | done | failed | cancelled
    uint32_t attempt;
    const char *worker;   // holder of the last attempt (leased tasks), or NULL
    const char *worker_secret;   // that worker's secret hash (hex, its workers row), NULL
                                 // when none is journaled (a journal of an older build)
    const char *worker_key;      // that worker's CURVE key (Z85), NULL or "" when none
    coord_result_t r;
    const char *error;
    uint32_t failures;    // attempts that ended "failed"
} coord_jrow_task_t;

/* Where resume reads rows from.  Each walk calls cb per row in order (sweeps
 * by id, trials by number, tasks by id); a negative return from cb stops the
 * walk and is returned. */
typedef struct coord_journal_reader {
    void *ud;
    int (*each_sweep)(void *ud, int (*cb)(const coord_jrow_sweep_t *row, void *cbud), void *cbud);
    int (*each_trial)(void *ud, uint64_t sweep,
                      int (*cb)(const coord_jrow_trial_t *row, void *cbud), void *cbud);
    int (*each_task)(void *ud, uint64_t sweep,
                     int (*cb)(const coord_jrow_task_t *row, void *cbud), void *cbud);
} coord_journal_reader_t;

#endif
