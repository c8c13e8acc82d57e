/*
 * coord_store.c: the SQLite journal; see coord_store.h.
 *
 * Statements are prepared once at open and reused.  A write begins the
 * transaction lazily (BEGIN IMMEDIATE on the first write after a flush), so
 * a loop turn that writes nothing costs nothing.
 */
#include "coord_store.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCHEMA_VERSION 1

/* Checkpoints off the loop (coord_store_ckpt_manual). */
#define CKPT_PAGES 1000     // WAL pages after a commit that make one due (SQLite's own default)
#define HOLD_MAX 20000      // held writes beyond which a write waits for the checkpoint

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS sweeps("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, path TEXT, spec TEXT NOT NULL,"
    "  priority INTEGER NOT NULL, state TEXT NOT NULL, created REAL, started REAL,"
    "  finished REAL, fingerprint TEXT, error TEXT, best_trial INTEGER,"
    "  refit_score REAL, refit_accuracy REAL, owner TEXT, dataset TEXT);"
    "CREATE TABLE IF NOT EXISTS trials("
    "  sweep INTEGER NOT NULL, trial INTEGER NOT NULL, params TEXT NOT NULL,"
    "  state TEXT NOT NULL, mean REAL, std REAL, error TEXT, obs_before INTEGER,"
    "  obs_seq INTEGER, PRIMARY KEY(sweep, trial));"
    "CREATE TABLE IF NOT EXISTS tasks("
    "  id INTEGER PRIMARY KEY, sweep INTEGER NOT NULL, trial INTEGER NOT NULL,"
    "  fold INTEGER NOT NULL, repeat INTEGER NOT NULL, refit INTEGER NOT NULL,"
    "  state TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0, score REAL, accuracy REAL,"
    "  log_loss REAL, f1_macro REAL, train_score REAL, fit_seconds REAL, epochs INTEGER,"
    "  error TEXT, finished REAL, seed_rep INTEGER NOT NULL DEFAULT 0, n_eval INTEGER,"
    "  resumed_from INTEGER);"
    "CREATE INDEX IF NOT EXISTS tasks_sweep ON tasks(sweep, trial);"
    "CREATE TABLE IF NOT EXISTS attempts("
    "  task INTEGER NOT NULL, attempt INTEGER NOT NULL, worker TEXT, leased REAL,"
    "  ended REAL, outcome TEXT, error TEXT, PRIMARY KEY(task, attempt));"
    /* secret: hex SHA-256 of the worker's session secret (never the secret
     * itself): after a restart only a Hello with that secret (and from that
     * CURVE key) takes the worker's orphaned leases back (core/resume.c). */
    "CREATE TABLE IF NOT EXISTS workers("
    "  id TEXT PRIMARY KEY, name TEXT, host TEXT, slots INTEGER, version TEXT,"
    "  first_seen REAL, last_seen REAL, state TEXT, secret TEXT, key TEXT);"
    "CREATE TABLE IF NOT EXISTS events("
    "  seq INTEGER, ts REAL, level TEXT, component TEXT, msg TEXT, fields TEXT,"
    "  sweep INTEGER, type TEXT);"
    /* A finished sweep's summary (core/journal.h, coord_jsum_t), written in
     * the transaction of its final state; journals from before it get the
     * table empty, and their finished sweeps are rebuilt at start. */
    "CREATE TABLE IF NOT EXISTS sweep_summaries("
    "  sweep INTEGER PRIMARY KEY, trials_total INTEGER NOT NULL, n_trials INTEGER NOT NULL,"
    "  best_trial INTEGER NOT NULL, best_mean REAL, best_std REAL, best_values TEXT,"
    "  tasks_total INTEGER NOT NULL, tasks_done INTEGER NOT NULL,"
    "  tasks_failed INTEGER NOT NULL, trials_done INTEGER NOT NULL,"
    "  trials_failed INTEGER NOT NULL, epochs_trained INTEGER NOT NULL,"
    "  epochs_scratch INTEGER NOT NULL, results_gen INTEGER NOT NULL,"
    "  has_refit INTEGER NOT NULL, refit_score REAL, refit_accuracy REAL,"
    "  refit_n_test INTEGER NOT NULL, race_verdict TEXT);"
    /* Sweeps deleted by retention whose trials, tasks and attempts are still
     * being removed, a bounded number of rows at a time (coord_store_gc):
     * a sweep with a million tasks would otherwise hold the loop for
     * seconds.  Their sweeps row is gone already, so resume never sees the
     * rows left. */
    "CREATE TABLE IF NOT EXISTS deleted_sweeps(sweep INTEGER PRIMARY KEY);";

enum {
    ST_SWEEP_ADD,
    ST_SWEEP_STATE_START,
    ST_SWEEP_STATE_END,
    ST_SWEEP_STATE,
    ST_SWEEP_REFIT,
    ST_SWEEP_SUMMARY,
    ST_TRIAL_ADD,
    ST_TRIAL_DONE,
    ST_TASK_ADD,
    ST_TASK_LEASE,
    ST_ATTEMPT_ADD,
    ST_ATTEMPT_END,
    ST_ATTEMPT_UNLEASE,
    ST_TASK_RESULT,
    ST_ATTEMPT_RESULT,
    ST_TASK_STATE,
    ST_WORKER,
    ST_EVENT,
    ST_DEL_SUMMARY,
    ST_DEL_SWEEP,
    ST_DEL_PENDING,
    ST_ID_FLOOR,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_SWEEP_ADD] = "INSERT INTO sweeps(id, name, path, spec, priority, state, created, "
                     "fingerprint, owner, dataset) VALUES(?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?8, "
                     "?9)",
    [ST_SWEEP_STATE_START] = "UPDATE sweeps SET state = ?2, started = ?3 WHERE id = ?1",
    [ST_SWEEP_STATE_END] = "UPDATE sweeps SET state = ?2, finished = ?3, error = ?4 WHERE id = ?1",
    [ST_SWEEP_STATE] = "UPDATE sweeps SET state = ?2 WHERE id = ?1",
    [ST_SWEEP_REFIT] = "UPDATE sweeps SET best_trial = ?2, refit_score = ?3, refit_accuracy = ?4 "
                       "WHERE id = ?1",
    [ST_SWEEP_SUMMARY] =
        "INSERT OR REPLACE INTO sweep_summaries(sweep, trials_total, n_trials, best_trial, "
        "best_mean, best_std, best_values, tasks_total, tasks_done, tasks_failed, trials_done, "
        "trials_failed, epochs_trained, epochs_scratch, results_gen, has_refit, refit_score, "
        "refit_accuracy, refit_n_test, race_verdict) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19, ?20)",
    [ST_TRIAL_ADD] = "INSERT OR REPLACE INTO trials(sweep, trial, params, state, obs_before) "
                     "VALUES(?1, ?2, ?3, 'running', ?4)",
    [ST_TRIAL_DONE] = "UPDATE trials SET state = ?3, mean = ?4, std = ?5, error = ?6, "
                      "obs_seq = COALESCE(?7, obs_seq) WHERE sweep = ?1 AND trial = ?2",
    [ST_TASK_ADD] = "INSERT OR REPLACE INTO tasks(id, sweep, trial, fold, repeat, refit, state, "
                    "seed_rep) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7)",
    [ST_TASK_LEASE] = "UPDATE tasks SET state = 'leased', attempt = ?2 WHERE id = ?1",
    [ST_ATTEMPT_ADD] = "INSERT OR REPLACE INTO attempts(task, attempt, worker, leased) "
                       "VALUES(?1, ?2, ?3, ?4)",
    /* An attempt that ended without a result leaves its task queued (a
     * later record says failed or cancelled when it is that), so a restart
     * does not take it for a lease still running on its worker. */
    [ST_ATTEMPT_UNLEASE] = "UPDATE tasks SET state = 'queued' "
                           "WHERE id = ?1 AND attempt = ?2 AND state = 'leased'",
    [ST_ATTEMPT_END] = "UPDATE attempts SET ended = ?3, outcome = ?4, error = ?5 "
                       "WHERE task = ?1 AND attempt = ?2",
    [ST_TASK_RESULT] = "UPDATE tasks SET state = 'done', attempt = ?2, score = ?3, accuracy = ?4, "
                       "log_loss = ?5, f1_macro = ?6, train_score = ?7, fit_seconds = ?8, "
                       "epochs = ?9, finished = ?10, error = NULL, n_eval = ?11, resumed_from = ?12 "
                       "WHERE id = ?1",
    [ST_ATTEMPT_RESULT] = "UPDATE attempts SET ended = ?3, outcome = 'done' "
                          "WHERE task = ?1 AND attempt = ?2",
    [ST_TASK_STATE] = "UPDATE tasks SET state = ?2, error = ?3 WHERE id = ?1",
    [ST_WORKER] = "INSERT INTO workers(id, name, host, slots, version, first_seen, last_seen, "
                  "state, secret, key) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9) "
                  "ON CONFLICT(id) DO UPDATE SET name = ?2, host = ?3, slots = ?4, "
                  "version = ?5, last_seen = ?6, state = ?7, secret = ?8, key = ?9",
    [ST_EVENT] = "INSERT INTO events(seq, ts, level, component, msg, fields, sweep, type) "
                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    /* A sweep's deletion (retention): its sweeps row and summary at once,
     * its other rows later (deleted_sweeps, coord_store_gc). */
    [ST_DEL_SUMMARY] = "DELETE FROM sweep_summaries WHERE sweep = ?1",
    [ST_DEL_SWEEP] = "DELETE FROM sweeps WHERE id = ?1",
    [ST_DEL_PENDING] = "INSERT OR IGNORE INTO deleted_sweeps(sweep) VALUES(?1)",
    /* Sweep ids are never reused, even once the sweep with the largest id
     * is deleted: coord_store_max_ids reads this floor too. */
    [ST_ID_FLOOR] = "INSERT INTO meta(key, value) VALUES('sweep_id_floor', ?1) "
                    "ON CONFLICT(key) DO UPDATE SET value = "
                    "MAX(CAST(value AS INTEGER), CAST(?1 AS INTEGER))",
};

/* A write made while a checkpoint runs: its statement and bindings. */
typedef struct held_write {
    int st;                  // index into st[]
    int n;                   // bindings
    sqlite3_value **v;       // sqlite3_value_dup'ed, in bind order 1..n
} held_write_t;

struct coord_store {
    sqlite3 *db;
    sqlite3_stmt *st[ST__COUNT];
    bool in_tx;          // a transaction is open
    int failed;          // last write error (negative errno), sticky until flush
    uint64_t commits;    // transactions committed since open
    char path[1024];
    char wal[1040];      // path-wal ("" for :memory:)
    // Checkpoints off the loop (coord_store_ckpt_*).
    bool manual_ckpt;    // no checkpoint inside a commit; the shell runs them
    sqlite3 *ckpt_db;    // the checkpoint job's own connection
    sqlite3 *hold_db;    // ":memory:", where hold_st capture a held write's bindings
    sqlite3_stmt *hold_st[ST__COUNT];   // "SELECT ?1, ..., ?N" for st[i]'s N
    int wal_pages;       // pages in the WAL after the last commit (the WAL hook)
    bool held;           // between ckpt_begin and ckpt_end: writes are held
    held_write_t *hw;
    size_t n_hw, cap_hw;
    pthread_mutex_t mu;  // guards the job_ fields
    pthread_cond_t cv;   // signalled when the job ends
    bool job_running;
    int job_rc, job_log, job_done;      // the job's outcome
    uint64_t ckpts, ckpts_partial;      // checkpoints run; of them, not all frames copied
};

static void settle(coord_store_t *s);

static int db_err(coord_store_t *s, hpt_err *err, const char *what)
{
    return hpt_err_set(err, -EIO, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int coord_store_open(coord_store_t **out, const char *path, hpt_err *err)
{
    *out = NULL;
    coord_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return hpt_err_set(err, -ENOMEM, "out of memory");
    snprintf(s->path, sizeof s->path, "%s", path);
    int rc = 0;
    bool memory = strcmp(path, ":memory:") == 0;
    if (!memory)
        snprintf(s->wal, sizeof s->wal, "%s-wal", path);
    if (!memory && access(path, F_OK) == 0 && access(path, W_OK) != 0) {
        rc = hpt_err_set(err, -EACCES, "%s: the journal is not writable", path);
        goto fail;
    }
    /* A new journal is created owner-only (0600): it holds every spec,
     * score and worker name.  SQLite gives its -wal and -shm files the
     * database file's mode. */
    if (!memory) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        rc = hpt_err_set(err, -EIO, "%s: cannot open the journal: %s", path,
                         s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* quick_check catches a file that is not a database or is corrupt before
     * we write anything into it. */
    char *msg = NULL;
    sqlite3_stmt *qc = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &qc, NULL) != SQLITE_OK) {
        rc = hpt_err_set(err, -EIO, "%s: not a usable SQLite database: %s", path,
                         sqlite3_errmsg(s->db));
        goto fail;
    }
    int step = sqlite3_step(qc);
    if (step != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(qc, 0), "ok") != 0) {
        rc = hpt_err_set(err, -EIO, "%s: the journal is corrupt: %s", path,
                         step == SQLITE_ROW ? (const char *)sqlite3_column_text(qc, 0)
                                            : sqlite3_errmsg(s->db));
        sqlite3_finalize(qc);
        goto fail;
    }
    sqlite3_finalize(qc);
    /* WAL with synchronous=NORMAL: a COMMIT writes its frames to the -wal
     * file without waiting for the disk, and the loop makes them durable
     * with coord_store_sync_file on the thread pool, so that an fsync (10-20
     * ms here) never holds up the event loop.  SQLite still syncs around
     * checkpoints, so a crash of the machine can lose at most the commits
     * not yet synced, never the database (docs/architecture.md). */
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL, NULL,
                     &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        rc = hpt_err_set(err, -EIO, "%s: cannot set up the journal: %s", path,
                         msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        goto fail;
    }
    /* Journals from before the replay columns: add them (an error just
     * means they are there). */
    sqlite3_exec(s->db, "ALTER TABLE trials ADD COLUMN obs_before INTEGER", NULL, NULL, NULL);
    sqlite3_exec(s->db, "ALTER TABLE trials ADD COLUMN obs_seq INTEGER", NULL, NULL, NULL);
    sqlite3_exec(s->db, "ALTER TABLE tasks ADD COLUMN seed_rep INTEGER NOT NULL DEFAULT 0", NULL,
                 NULL, NULL);
    sqlite3_exec(s->db, "ALTER TABLE tasks ADD COLUMN n_eval INTEGER", NULL, NULL, NULL);
    sqlite3_exec(s->db, "ALTER TABLE tasks ADD COLUMN resumed_from INTEGER", NULL, NULL, NULL);
    /* Journals from before canonical dataset names: their sweeps use the
     * spec's dataset as typed. */
    sqlite3_exec(s->db, "ALTER TABLE sweeps ADD COLUMN dataset TEXT", NULL, NULL, NULL);
    /* Journals from before typed events: their rows keep a NULL type. */
    sqlite3_exec(s->db, "ALTER TABLE events ADD COLUMN type TEXT", NULL, NULL, NULL);
    /* Journals from before session secrets: their workers have none, so
     * their leased tasks are queued again at start (nobody can prove to be
     * their holder). */
    sqlite3_exec(s->db, "ALTER TABLE workers ADD COLUMN secret TEXT", NULL, NULL, NULL);
    /* ... from before racing: no race verdict in a summary. */
    sqlite3_exec(s->db, "ALTER TABLE sweep_summaries ADD COLUMN race_verdict TEXT", NULL, NULL,
                 NULL);
    sqlite3_exec(s->db, "ALTER TABLE workers ADD COLUMN key TEXT", NULL, NULL, NULL);
    /* ... and from before quotas: their sweeps have no owner. */
    sqlite3_exec(s->db, "ALTER TABLE sweeps ADD COLUMN owner TEXT", NULL, NULL, NULL);
    /* Mark the file as ours, and refuse one written by a newer schema. */
    sqlite3_stmt *m = NULL;
    sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &m, NULL);
    if (m && sqlite3_step(m) == SQLITE_ROW) {
        int v = sqlite3_column_int(m, 0);
        if (v > SCHEMA_VERSION) {
            rc = hpt_err_set(err, -EINVAL, "%s: journal schema %d is newer than this build's %d",
                             path, v, SCHEMA_VERSION);
            sqlite3_finalize(m);
            goto fail;
        }
    } else {
        char sql[128];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('schema', '%d')", SCHEMA_VERSION);
        sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    }
    sqlite3_finalize(m);
    for (int i = 0; i < ST__COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                               NULL) != SQLITE_OK) {
            rc = db_err(s, err, stmt_sql[i]);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    coord_store_close(&s);
    return rc;
}

void coord_store_close(coord_store_t **p)
{
    coord_store_t *s = p ? *p : NULL;
    if (!s)
        return;
    settle(s);
    if (s->in_tx)
        coord_store_flush(s, NULL);
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(s->st[i]);
        sqlite3_finalize(s->hold_st[i]);
    }
    if (s->db)
        sqlite3_close(s->db);
    if (s->ckpt_db)
        sqlite3_close(s->ckpt_db);
    if (s->hold_db)
        sqlite3_close(s->hold_db);
    if (s->manual_ckpt) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free(s->hw);
    free(s);
    *p = NULL;
}

bool coord_store_dirty(const coord_store_t *s)
{
    return s->in_tx;
}

int coord_store_flush(coord_store_t *s, hpt_err *err)
{
    int rc = s->failed;
    s->failed = 0;
    if (!s->in_tx) {
        if (rc < 0)   // BEGIN itself failed (e.g. another connection holds the lock)
            hpt_err_set(err, rc, "%s: a journal write failed: %s", s->path,
                        sqlite3_errmsg(s->db));
        return rc;
    }
    s->in_tx = false;
    if (rc < 0) {
        /* A record of this turn was not written: commit none of them, so
         * the journal never holds half a group (a result without its
         * attempt's end, a sweep's state without its summary). */
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        rc = db_err(s, err, "COMMIT");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    } else {
        s->commits++;
    }
    if (rc < 0 && err && !err->msg[0])
        hpt_err_set(err, rc, "%s: a journal write failed: %s", s->path, sqlite3_errmsg(s->db));
    return rc;
}

uint64_t coord_store_commits(const coord_store_t *s)
{
    return s->commits;
}

const char *coord_store_wal_path(const coord_store_t *s)
{
    return s->wal;
}

int coord_store_sync_file(const char *wal, hpt_err *err)
{
    if (!wal[0])
        return 0;   // :memory:
    /* Opened per call: a file SQLite replaced (it deletes the -wal file
     * only when the last connection closes) is never synced by a stale
     * descriptor.  No -wal file yet: nothing committed to sync. */
    int fd = open(wal, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : hpt_err_set(err, -errno, "%s: cannot open it to sync it: %s",
                                                 wal, strerror(errno));
    int rc = 0;
    if (fdatasync(fd) != 0)
        rc = hpt_err_set(err, -errno, "%s: fdatasync failed: %s", wal, strerror(errno));
    close(fd);
    return rc;
}

int coord_store_sync(coord_store_t *s, hpt_err *err)
{
    settle(s);
    int rc = coord_store_flush(s, err);
    if (rc < 0)
        return rc;
    return coord_store_sync_file(s->wal, err);
}

static void held_free(coord_store_t *s);

void coord_store_rollback(coord_store_t *s)
{
    held_free(s);   // what this turn held goes with what it wrote
    if (s->in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = false;
    s->failed = 0;
}

static int sweep_add(coord_store_t *s, uint64_t id, const char *name, const char *path,
                     const char *spec_text, int priority, double created,
                     const char *fingerprint, const char *owner, const char *dataset);

int coord_store_apply(coord_store_t *s, const coord_jrec_t *j)
{
    switch (j->kind) {
    case COORD_J_SWEEP_ADD:
        return sweep_add(s, j->sweep, j->name, j->path, j->text, j->priority, j->ts,
                         j->fingerprint, j->owner, j->dataset);
    case COORD_J_SWEEP_DELETE: return coord_store_sweep_delete(s, j->sweep);
    case COORD_J_SWEEP_STATE: return coord_store_sweep_state(s, j->sweep, j->state, j->ts, j->error);
    case COORD_J_SWEEP_REFIT:
        return coord_store_sweep_refit(s, j->sweep, j->trial, j->score, j->accuracy);
    case COORD_J_SWEEP_SUMMARY: return j->sum ? coord_store_sweep_summary(s, j->sweep, j->sum)
                                              : -EINVAL;
    case COORD_J_TRIAL_ADD: return coord_store_trial_add(s, j->sweep, j->trial, j->text, j->obs);
    case COORD_J_TRIAL_DONE:
        return coord_store_trial_done(s, j->sweep, j->trial, j->state, j->mean, j->std, j->error,
                                      j->obs);
    case COORD_J_TASK_ADD:
        return coord_store_task_add(s, j->task, j->sweep, j->trial, j->fold, j->repeat,
                                    j->seed_rep, j->refit);
    case COORD_J_TASK_LEASE: return coord_store_task_lease(s, j->task, j->attempt, j->worker, j->ts);
    case COORD_J_ATTEMPT_END:
        return coord_store_attempt_end(s, j->task, j->attempt, j->state, j->error, j->ts);
    case COORD_J_TASK_RESULT: return coord_store_task_result(s, j->task, j->attempt, &j->r, j->ts);
    case COORD_J_TASK_STATE: return coord_store_task_state(s, j->task, j->state, j->error);
    case COORD_J_WORKER_SEEN:
        return coord_store_worker_seen(s, j->worker, j->name, j->host, j->slots, j->version, j->ts,
                                       j->state, j->secret, j->key);
    }
    return -EINVAL;
}

int coord_store_incarnation(coord_store_t *s, uint64_t *gen, hpt_err *err)
{
    settle(s);
    *gen = 0;
    int rc = coord_store_flush(s, err);
    if (rc < 0)
        return rc;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'incarnation'", -1, &q,
                           NULL) != SQLITE_OK)
        return db_err(s, err, "SELECT incarnation");
    uint64_t last = 0;
    if (sqlite3_step(q) == SQLITE_ROW)
        last = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (last >= COORD_STORE_MAX_INCARNATION)
        return hpt_err_set(err, -EOVERFLOW, "%s: the journal has been started %llu times, the "
                           "most its task ids allow", s->path, (unsigned long long)last);
    char sql[128];
    snprintf(sql, sizeof sql,
             "INSERT OR REPLACE INTO meta(key, value) VALUES('incarnation', '%llu')",
             (unsigned long long)(last + 1));
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, err, "UPDATE incarnation");
    *gen = last + 1;
    return 0;
}

int coord_store_max_ids(coord_store_t *s, uint64_t *sweep, uint64_t *task)
{
    settle(s);
    *sweep = *task = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT MAX((SELECT IFNULL(MAX(id), 0) FROM sweeps), "
                           "IFNULL((SELECT CAST(value AS INTEGER) FROM meta "
                           "WHERE key = 'sweep_id_floor'), 0)), "
                           "(SELECT IFNULL(MAX(id), 0) FROM tasks)",
                           -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    if (sqlite3_step(q) == SQLITE_ROW) {
        *sweep = (uint64_t)sqlite3_column_int64(q, 0);
        *task = (uint64_t)sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    return 0;
}

// --- writes ---------------------------------------------------------------

/* Prepare statement i for binding: open the transaction if needed. */
static sqlite3_stmt *begin(coord_store_t *s, int i)
{
    /* After a failed write nothing more is written until the flush reports
     * it: a later record in a transaction of its own would leave a hole in
     * the journal, and each BEGIN on a locked database waits out the busy
     * timeout. */
    if (s->failed)
        return NULL;
    if (s->held) {
        /* A checkpoint runs: the write is held (run() keeps its bindings)
         * and made when it ends, so that no transaction starts meanwhile. */
        sqlite3_reset(s->hold_st[i]);
        sqlite3_clear_bindings(s->hold_st[i]);
        return s->hold_st[i];
    }
    if (!s->in_tx) {
        if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            s->failed = -EIO;
            return NULL;
        }
        s->in_tx = true;
    }
    sqlite3_reset(s->st[i]);
    sqlite3_clear_bindings(s->st[i]);
    return s->st[i];
}

static int hold(coord_store_t *s, sqlite3_stmt *st);

static int run(coord_store_t *s, sqlite3_stmt *st)
{
    if (!st)
        return -EIO;
    if (s->held && sqlite3_db_handle(st) == s->hold_db)
        return hold(s, st);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        s->failed = -EIO;
        return -EIO;
    }
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* NaN is stored as NULL (SQLite has no NaN). */
static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (v == v)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* A sweeps row: who submitted it (owner, NULL: unknown) and its canonical
 * dataset name (NULL: the spec's), both read back at resume. */
static int sweep_add(coord_store_t *s, uint64_t id, const char *name, const char *path,
                     const char *spec_text, int priority, double created,
                     const char *fingerprint, const char *owner, const char *dataset)
{
    sqlite3_stmt *st = begin(s, ST_SWEEP_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    bind_text(st, 2, name);
    bind_text(st, 3, path);
    bind_text(st, 4, spec_text);
    sqlite3_bind_int(st, 5, priority);
    bind_real(st, 6, created);
    bind_text(st, 7, fingerprint);
    bind_text(st, 8, owner);
    bind_text(st, 9, dataset);
    return run(s, st);
}

int coord_store_sweep_add(coord_store_t *s, uint64_t id, const char *name, const char *path,
                          const char *spec_text, int priority, double created,
                          const char *fingerprint)
{
    return sweep_add(s, id, name, path, spec_text, priority, created, fingerprint, NULL, NULL);
}

int coord_store_sweep_add_owned(coord_store_t *s, uint64_t id, const char *name,
                                const char *path, const char *spec_text, int priority,
                                double created, const char *fingerprint, const char *owner)
{
    return sweep_add(s, id, name, path, spec_text, priority, created, fingerprint, owner, NULL);
}

int coord_store_sweep_delete(coord_store_t *s, uint64_t id)
{
    static const int steps[] = {ST_DEL_SUMMARY, ST_DEL_SWEEP, ST_DEL_PENDING, ST_ID_FLOOR};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = begin(s, steps[i]);
        if (!st)
            return -EIO;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
        int rc = run(s, st);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Open the write transaction if needed (for statements prepared on the
 * spot). */
static int tx(coord_store_t *s)
{
    if (s->in_tx)
        return 0;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        s->failed = -EIO;
        return -EIO;
    }
    s->in_tx = true;
    return 0;
}

/* Run sql with ?1 = a and ?2 = b; *changes receives the rows changed. */
static int exec2(coord_store_t *s, const char *sql, int64_t a, int64_t b, int64_t *changes)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        s->failed = -EIO;
        return -EIO;
    }
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
    if (changes)
        *changes = rc == 0 ? sqlite3_changes(s->db) : 0;
    sqlite3_finalize(st);
    if (rc < 0)
        s->failed = -EIO;
    return rc;
}

int coord_store_gc(coord_store_t *s, int64_t max_rows, int64_t *deleted, int *pending)
{
    settle(s);
    *deleted = 0;
    *pending = 0;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT sweep FROM deleted_sweeps ORDER BY sweep", -1, &q,
                           NULL) != SQLITE_OK)
        return -EIO;
    int64_t ids[64];
    int n = 0;
    while (n < 64 && sqlite3_step(q) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    int rc = n ? tx(s) : 0;
    for (int i = 0; i < n && rc == 0 && *deleted < max_rows; i++) {
        int64_t left = max_rows - *deleted, ch = 0, done = 0;
        /* Attempts first: they are found through the tasks (the tasks_sweep
         * index); then those tasks, then trials. */
        rc = exec2(s, "DELETE FROM attempts WHERE task IN (SELECT id FROM tasks WHERE "
                      "sweep = ?1 LIMIT ?2)", ids[i], left, &ch);
        *deleted += ch;
        if (rc == 0)
            rc = exec2(s, "DELETE FROM tasks WHERE id IN (SELECT id FROM tasks WHERE sweep = ?1 "
                          "LIMIT ?2)", ids[i], left, &done);
        *deleted += done;
        if (rc == 0 && done < left) {
            rc = exec2(s, "DELETE FROM trials WHERE rowid IN (SELECT rowid FROM trials WHERE "
                          "sweep = ?1 LIMIT ?2)", ids[i], left - done, &ch);
            *deleted += ch;
            if (rc == 0 && done + ch < left)   // nothing of it is left
                rc = exec2(s, "DELETE FROM deleted_sweeps WHERE sweep = ?1", ids[i], 0, NULL);
            else
                (*pending)++;
        } else {
            (*pending)++;
        }
    }
    return rc;
}

int coord_store_events_prune(coord_store_t *s, int64_t keep, double before, int64_t max_rows,
                             int64_t *deleted)
{
    settle(s);
    *deleted = 0;
    /* Rows are appended with increasing rowids and only the oldest leave,
     * so the table is one rowid range: its size is max - min + 1, and the
     * rows to delete are a prefix, found without an index on ts (the scan
     * stops at the first row young enough). */
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT IFNULL(MIN(rowid), 0), IFNULL(MAX(rowid), 0) "
                                  "FROM events", -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    int64_t lo = 0, hi = 0;
    if (sqlite3_step(q) == SQLITE_ROW) {
        lo = sqlite3_column_int64(q, 0);
        hi = sqlite3_column_int64(q, 1);
    }
    sqlite3_finalize(q);
    if (hi == 0)
        return 0;
    int64_t cut = lo;                 // delete the rowids below cut ...
    int64_t limit = lo + max_rows;    // ... but no more than max_rows in one run
    if (keep > 0 && hi - lo + 1 > keep)
        cut = hi - keep + 1;
    if (cut > limit)
        cut = limit;
    if (before > 0 && cut < limit) {
        /* Old rows past those the count removes: the first young row ends
         * them (reading at most the rows this run may delete). */
        q = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT rowid FROM events WHERE rowid >= ?1 AND "
                                      "rowid < ?2 AND (ts IS NULL OR ts >= ?3) ORDER BY rowid "
                                      "LIMIT 1",
                               -1, &q, NULL) != SQLITE_OK)
            return -EIO;
        sqlite3_bind_int64(q, 1, cut);
        sqlite3_bind_int64(q, 2, limit);
        sqlite3_bind_double(q, 3, before);
        cut = limit < hi + 1 ? limit : hi + 1;   // none young in range: all of it is old
        if (sqlite3_step(q) == SQLITE_ROW)
            cut = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
    }
    if (cut <= lo)
        return 0;
    int rc = tx(s);
    if (rc == 0)
        rc = exec2(s, "DELETE FROM events WHERE rowid < ?1", cut, 0, deleted);
    return rc;
}

int coord_store_workers_prune(coord_store_t *s, int64_t keep, double before, int64_t max_rows,
                              int64_t *deleted)
{
    settle(s);
    *deleted = 0;
    int64_t n = 0;
    int rc = 0;
    /* The table holds one row per worker id ever registered: a peer that
     * registers under a new id and leaves, forever, would grow it without
     * bound.  A few thousand rows at most are sorted (the live ones and
     * `keep` gone ones), every COORD_RETAIN_EVERY_S. */
    if (keep > 0) {
        rc = tx(s);
        if (rc == 0)
            rc = exec2(s, "DELETE FROM workers WHERE rowid IN (SELECT rowid FROM workers "
                          "WHERE state = 'gone' ORDER BY last_seen DESC, rowid DESC "
                          "LIMIT ?2 OFFSET ?1)", keep, max_rows, &n);
        *deleted += n;
    }
    if (rc == 0 && before > 0 && *deleted < max_rows) {
        rc = tx(s);
        if (rc == 0)
            rc = exec2(s, "DELETE FROM workers WHERE rowid IN (SELECT rowid FROM workers "
                          "WHERE state = 'gone' AND last_seen < ?1 LIMIT ?2)",
                       (int64_t)before, max_rows - *deleted, &n);
        *deleted += rc == 0 ? n : 0;
    }
    return rc;
}

int64_t coord_store_workers_count(coord_store_t *s)
{
    settle(s);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT COUNT(*) FROM workers", -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    int64_t n = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -EIO;
    sqlite3_finalize(q);
    return n;
}

int coord_store_sweep_state(coord_store_t *s, uint64_t id, const char *state, double ts,
                            const char *error)
{
    int which = strcmp(state, "running") == 0 ? ST_SWEEP_STATE_START
                : (strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
                   strcmp(state, "cancelled") == 0)
                    ? ST_SWEEP_STATE_END
                    : ST_SWEEP_STATE;
    sqlite3_stmt *st = begin(s, which);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    bind_text(st, 2, state);
    if (which != ST_SWEEP_STATE)
        bind_real(st, 3, ts);
    if (which == ST_SWEEP_STATE_END)
        bind_text(st, 4, error);
    return run(s, st);
}

int coord_store_sweep_refit(coord_store_t *s, uint64_t id, uint64_t best_trial, double score,
                            double accuracy)
{
    sqlite3_stmt *st = begin(s, ST_SWEEP_REFIT);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)best_trial);
    bind_real(st, 3, score);
    bind_real(st, 4, accuracy);
    return run(s, st);
}

int coord_store_sweep_summary(coord_store_t *s, uint64_t id, const coord_jsum_t *sum)
{
    sqlite3_stmt *st = begin(s, ST_SWEEP_SUMMARY);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)sum->trials_total);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)sum->n_trials);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)sum->best);
    bind_real(st, 5, sum->best_mean);
    bind_real(st, 6, sum->best_std);
    bind_text(st, 7, sum->best_values);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)sum->tasks_total);
    sqlite3_bind_int(st, 9, sum->tasks_done);
    sqlite3_bind_int(st, 10, sum->tasks_failed);
    sqlite3_bind_int(st, 11, sum->trials_done);
    sqlite3_bind_int(st, 12, sum->trials_failed);
    sqlite3_bind_int64(st, 13, (sqlite3_int64)sum->epochs_trained);
    sqlite3_bind_int64(st, 14, (sqlite3_int64)sum->epochs_scratch);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)sum->results_gen);
    sqlite3_bind_int(st, 16, sum->has_refit);
    bind_real(st, 17, sum->refit_score);
    bind_real(st, 18, sum->refit_accuracy);
    sqlite3_bind_int64(st, 19, (sqlite3_int64)sum->refit_n_test);
    bind_text(st, 20, sum->race_verdict);
    return run(s, st);
}

int coord_store_trial_add(coord_store_t *s, uint64_t sweep, uint64_t trial,
                          const char *params_json, long obs_before)
{
    sqlite3_stmt *st = begin(s, ST_TRIAL_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)sweep);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)trial);
    bind_text(st, 3, params_json);
    sqlite3_bind_int64(st, 4, obs_before);
    return run(s, st);
}

int coord_store_trial_done(coord_store_t *s, uint64_t sweep, uint64_t trial, const char *state,
                           double mean, double std, const char *error, long obs_seq)
{
    sqlite3_stmt *st = begin(s, ST_TRIAL_DONE);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)sweep);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)trial);
    bind_text(st, 3, state);
    bind_real(st, 4, mean);
    bind_real(st, 5, std);
    bind_text(st, 6, error);
    if (obs_seq > 0)
        sqlite3_bind_int64(st, 7, obs_seq);
    else
        sqlite3_bind_null(st, 7);
    return run(s, st);
}

int coord_store_task_add(coord_store_t *s, uint64_t task, uint64_t sweep, uint64_t trial,
                         int fold, int repeat, int seed_rep, bool refit)
{
    sqlite3_stmt *st = begin(s, ST_TASK_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)sweep);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)trial);
    sqlite3_bind_int(st, 4, fold);
    sqlite3_bind_int(st, 5, repeat);
    sqlite3_bind_int(st, 6, refit);
    sqlite3_bind_int(st, 7, seed_rep);
    return run(s, st);
}

int coord_store_task_lease(coord_store_t *s, uint64_t task, uint32_t attempt, const char *worker,
                           double ts)
{
    sqlite3_stmt *st = begin(s, ST_TASK_LEASE);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    int rc = run(s, st);
    if (rc < 0)
        return rc;
    st = begin(s, ST_ATTEMPT_ADD);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    bind_text(st, 3, worker);
    bind_real(st, 4, ts);
    return run(s, st);
}

int coord_store_attempt_end(coord_store_t *s, uint64_t task, uint32_t attempt, const char *outcome,
                            const char *error, double ts)
{
    sqlite3_stmt *st = begin(s, ST_ATTEMPT_END);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    bind_real(st, 3, ts);
    bind_text(st, 4, outcome);
    bind_text(st, 5, error);
    int rc = run(s, st);
    if (rc < 0)
        return rc;
    st = begin(s, ST_ATTEMPT_UNLEASE);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    return run(s, st);
}

int coord_store_task_result(coord_store_t *s, uint64_t task, uint32_t attempt,
                            const coord_store_result_t *r, double ts)
{
    sqlite3_stmt *st = begin(s, ST_TASK_RESULT);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    bind_real(st, 3, r->score);
    bind_real(st, 4, r->accuracy);
    bind_real(st, 5, r->log_loss);
    bind_real(st, 6, r->f1_macro);
    bind_real(st, 7, r->train_score);
    bind_real(st, 8, r->fit_seconds);
    sqlite3_bind_int(st, 9, r->epochs);
    bind_real(st, 10, ts);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->n_eval);
    sqlite3_bind_int(st, 12, r->resumed_from);
    int rc = run(s, st);
    if (rc < 0)
        return rc;
    st = begin(s, ST_ATTEMPT_RESULT);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    sqlite3_bind_int(st, 2, (int)attempt);
    bind_real(st, 3, ts);
    return run(s, st);
}

int coord_store_task_state(coord_store_t *s, uint64_t task, const char *state, const char *error)
{
    sqlite3_stmt *st = begin(s, ST_TASK_STATE);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)task);
    bind_text(st, 2, state);
    bind_text(st, 3, error);
    return run(s, st);
}

int coord_store_worker_seen(coord_store_t *s, const char *id, const char *name, const char *host,
                            int slots, const char *version, double ts, const char *state,
                            const char *secret, const char *key)
{
    sqlite3_stmt *st = begin(s, ST_WORKER);
    if (!st)
        return -EIO;
    bind_text(st, 1, id);
    bind_text(st, 2, name);
    bind_text(st, 3, host);
    sqlite3_bind_int(st, 4, slots);
    bind_text(st, 5, version);
    bind_real(st, 6, ts);
    bind_text(st, 7, state);
    bind_text(st, 8, secret);
    bind_text(st, 9, key);
    return run(s, st);
}

int coord_store_event(coord_store_t *s, uint64_t seq, double ts, const char *level,
                      const char *component, const char *msg, const char *fields,
                      uint64_t sweep, const char *type)
{
    sqlite3_stmt *st = begin(s, ST_EVENT);
    if (!st)
        return -EIO;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
    bind_real(st, 2, ts);
    bind_text(st, 3, level);
    bind_text(st, 4, component);
    bind_text(st, 5, msg);
    bind_text(st, 6, fields);
    if (sweep)
        sqlite3_bind_int64(st, 7, (sqlite3_int64)sweep);
    else
        sqlite3_bind_null(st, 7);
    bind_text(st, 8, type);
    return run(s, st);
}

// --- checkpoints off the loop ----------------------------------------------------
/*
 * SQLite checkpoints a WAL database inside the COMMIT that takes the WAL past
 * its threshold: the frames are copied into the database file and both
 * files synced, 10-60 ms on the loop at a million tasks.  In manual mode
 * the commit only reports the WAL's size (the WAL hook, which replaces the
 * automatic checkpoint), and the shell runs a PASSIVE checkpoint on its own
 * connection on the thread pool.  The WAL starts again from its beginning
 * only when a write transaction starts after a checkpoint copied every
 * frame; a loop that kept committing during the checkpoint would never
 * give it that moment, and the WAL would grow without bound.  So while the
 * checkpoint runs, writes are held: begin() hands out a statement of the
 * in-memory hold_db that selects its bindings, run() keeps copies of them,
 * and ckpt_end makes the writes in order in a new transaction (the next
 * flush commits it), which restarts the WAL.  Anything that must see or
 * sync them (reads, coord_store_sync, retention, close) settles first:
 * it waits for the job and makes the held writes.
 */

static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    ((coord_store_t *)ud)->wal_pages = pages;
    return SQLITE_OK;
}

static void hold_close(coord_store_t *s)
{
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(s->hold_st[i]);
        s->hold_st[i] = NULL;
    }
    sqlite3_close(s->ckpt_db);
    sqlite3_close(s->hold_db);
    s->ckpt_db = s->hold_db = NULL;
}

int coord_store_ckpt_manual(coord_store_t *s, hpt_err *err)
{
    if (!s->wal[0] || s->manual_ckpt)
        return 0;   // :memory: has no WAL
    if (sqlite3_open_v2(s->path, &s->ckpt_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_open_v2(":memory:", &s->hold_db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        int rc = hpt_err_set(err, -EIO, "%s: cannot open the checkpoint connection: %s", s->path,
                             s->ckpt_db ? sqlite3_errmsg(s->ckpt_db) : "out of memory");
        hold_close(s);
        return rc;
    }
    sqlite3_busy_timeout(s->ckpt_db, 5000);
    /* A connection learns that the database is in WAL mode when it first
     * reads it; until then a checkpoint on it does nothing (-1 frames). */
    sqlite3_stmt *jm = NULL;
    bool wal = sqlite3_prepare_v2(s->ckpt_db, "PRAGMA journal_mode", -1, &jm, NULL) == SQLITE_OK &&
               sqlite3_step(jm) == SQLITE_ROW &&
               strcmp((const char *)sqlite3_column_text(jm, 0), "wal") == 0;
    sqlite3_finalize(jm);
    if (!wal) {
        int rc = hpt_err_set(err, -EIO, "%s: the checkpoint connection does not see WAL mode: %s",
                             s->path, sqlite3_errmsg(s->ckpt_db));
        hold_close(s);
        return rc;
    }
    for (int i = 0; i < ST__COUNT; i++) {
        int n = sqlite3_bind_parameter_count(s->st[i]);
        char sql[512] = "SELECT 0";
        size_t k = 0;
        for (int p = 1; p <= n && k < sizeof sql - 16; p++)
            k += (size_t)snprintf(sql + k, sizeof sql - k, "%s?%d", p == 1 ? "SELECT " : ", ", p);
        if (sqlite3_prepare_v3(s->hold_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->hold_st[i],
                               NULL) != SQLITE_OK ||
            sqlite3_bind_parameter_count(s->hold_st[i]) != n) {
            int rc = hpt_err_set(err, -EIO, "%s: cannot prepare %s: %s", s->path, sql,
                                 sqlite3_errmsg(s->hold_db));
            hold_close(s);
            return rc;
        }
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    sqlite3_wal_hook(s->db, wal_hook, s);   // replaces the automatic checkpoint
    s->manual_ckpt = true;
    return 0;
}

bool coord_store_ckpt_due(const coord_store_t *s)
{
    return s->manual_ckpt && !s->held && !s->in_tx && s->wal_pages >= CKPT_PAGES;
}

void coord_store_ckpt_begin(coord_store_t *s)
{
    s->held = true;
    pthread_mutex_lock(&s->mu);
    s->job_running = true;
    pthread_mutex_unlock(&s->mu);
}

void coord_store_ckpt_run(coord_store_t *s)
{
    int log = -1, done = -1;
    int rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    pthread_mutex_lock(&s->mu);
    s->job_rc = rc;
    s->job_log = log;
    s->job_done = done;
    s->job_running = false;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void held_free(coord_store_t *s)
{
    for (size_t i = 0; i < s->n_hw; i++) {
        for (int k = 0; k < s->hw[i].n; k++)
            sqlite3_value_free(s->hw[i].v[k]);
        free(s->hw[i].v);
    }
    s->n_hw = 0;
}

int coord_store_ckpt_end(coord_store_t *s, hpt_err *err)
{
    if (!s->held)
        return 0;
    pthread_mutex_lock(&s->mu);
    while (s->job_running)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->job_rc, log = s->job_log, done = s->job_done;
    pthread_mutex_unlock(&s->mu);
    s->held = false;
    s->ckpts++;
    if (rc != SQLITE_OK || log < 0 || done < log)
        s->ckpts_partial++;
    /* The held writes, in order, in a new transaction: its BEGIN finds the
     * WAL copied in full, so its commit writes from the WAL's start. */
    for (size_t i = 0; i < s->n_hw && !s->failed; i++) {
        sqlite3_stmt *st = begin(s, s->hw[i].st);
        if (!st)
            break;
        for (int k = 0; k < s->hw[i].n; k++)
            sqlite3_bind_value(st, k + 1, s->hw[i].v[k]);
        run(s, st);
    }
    held_free(s);
    if (rc != SQLITE_OK)
        return hpt_err_set(err, -EIO, "%s: checkpoint failed: %s", s->path, sqlite3_errstr(rc));
    return 0;
}

bool coord_store_ckpt_held(const coord_store_t *s)
{
    return s->held;
}

void coord_store_ckpt_stats(const coord_store_t *s, uint64_t *runs, uint64_t *partial,
                            int *wal_pages)
{
    *runs = s->ckpts;
    *partial = s->ckpts_partial;
    *wal_pages = s->wal_pages;
}

/* Keep a held write's bindings (run() on a hold_st statement). */
static int hold(coord_store_t *s, sqlite3_stmt *st)
{
    int i = 0;
    while (i < ST__COUNT && s->hold_st[i] != st)
        i++;
    int n = sqlite3_bind_parameter_count(st);
    int rc = i < ST__COUNT ? sqlite3_step(st) : SQLITE_MISUSE;
    if (rc != SQLITE_ROW || sqlite3_column_count(st) < n) {
        sqlite3_reset(st);
        s->failed = -EIO;
        return -EIO;
    }
    if (s->n_hw == s->cap_hw) {
        size_t cap = s->cap_hw ? 2 * s->cap_hw : 256;
        held_write_t *p = realloc(s->hw, cap * sizeof *p);
        if (!p)
            goto oom;
        s->hw = p;
        s->cap_hw = cap;
    }
    held_write_t *h = &s->hw[s->n_hw];
    h->st = i;
    h->n = 0;
    h->v = n > 0 ? calloc((size_t)n, sizeof *h->v) : NULL;
    if (n > 0 && !h->v)
        goto oom;
    for (int k = 0; k < n; k++) {
        h->v[k] = sqlite3_value_dup(sqlite3_column_value(st, k));
        if (!h->v[k]) {
            for (int j = 0; j < k; j++)
                sqlite3_value_free(h->v[j]);
            free(h->v);
            goto oom;
        }
        h->n++;
    }
    sqlite3_reset(st);
    s->n_hw++;
    /* Bounded: a checkpoint that takes long makes the writer wait for it. */
    if (s->n_hw >= HOLD_MAX)
        coord_store_ckpt_end(s, NULL);
    return 0;
oom:
    sqlite3_reset(st);
    s->failed = -ENOMEM;
    return -ENOMEM;
}

/* Wait for a running checkpoint and make the writes it held. */
static void settle(coord_store_t *s)
{
    if (s->held)
        coord_store_ckpt_end(s, NULL);
}

// --- reads ----------------------------------------------------------------

static const char *col_text(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static double col_real(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

int coord_store_each_open_sweep(coord_store_t *s,
                                int (*cb)(const coord_store_sweep_row_t *row, void *ud),
                                void *ud)
{
    settle(s);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT w.id, w.name, w.path, w.spec, w.state, w.fingerprint, "
                           "w.priority, w.created, w.started, w.finished, w.error, m.sweep, "
                           "m.trials_total, m.n_trials, m.best_trial, m.best_mean, m.best_std, "
                           "m.best_values, m.tasks_total, m.tasks_done, m.tasks_failed, "
                           "m.trials_done, m.trials_failed, m.epochs_trained, m.epochs_scratch, "
                           "m.results_gen, m.has_refit, m.refit_score, m.refit_accuracy, "
                           "m.refit_n_test, w.owner, w.dataset, m.race_verdict FROM sweeps w "
                           "LEFT JOIN sweep_summaries m ON m.sweep = w.id ORDER BY w.id",
                           -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    int rc = 0;
    while (rc >= 0 && sqlite3_step(q) == SQLITE_ROW) {
        coord_store_sweep_row_t row = {
            .id = (uint64_t)sqlite3_column_int64(q, 0),
            .name = col_text(q, 1),
            .path = col_text(q, 2),
            .spec = col_text(q, 3),
            .state = col_text(q, 4),
            .fingerprint = col_text(q, 5),
            .priority = sqlite3_column_int(q, 6),
            .created = col_real(q, 7),
            .started = col_real(q, 8),
            .finished = col_real(q, 9),
            .error = col_text(q, 10),
            .owner = col_text(q, 30),
            .dataset = col_text(q, 31),
        };
        coord_jsum_t sum = {0};
        if (sqlite3_column_type(q, 11) != SQLITE_NULL) {
            sum = (coord_jsum_t){
                .trials_total = (long)sqlite3_column_int64(q, 12),
                .n_trials = (uint64_t)sqlite3_column_int64(q, 13),
                .best = (uint64_t)sqlite3_column_int64(q, 14),
                .best_mean = col_real(q, 15),
                .best_std = col_real(q, 16),
                .best_values = col_text(q, 17),
                .tasks_total = (int64_t)sqlite3_column_int64(q, 18),
                .tasks_done = sqlite3_column_int(q, 19),
                .tasks_failed = sqlite3_column_int(q, 20),
                .trials_done = sqlite3_column_int(q, 21),
                .trials_failed = sqlite3_column_int(q, 22),
                .epochs_trained = (uint64_t)sqlite3_column_int64(q, 23),
                .epochs_scratch = (uint64_t)sqlite3_column_int64(q, 24),
                .results_gen = (uint64_t)sqlite3_column_int64(q, 25),
                .has_refit = sqlite3_column_int(q, 26) != 0,
                .refit_score = col_real(q, 27),
                .refit_accuracy = col_real(q, 28),
                .refit_n_test = (uint32_t)sqlite3_column_int64(q, 29),
                .race_verdict = col_text(q, 32),
            };
            row.sum = &sum;
        }
        rc = cb(&row, ud);
    }
    sqlite3_finalize(q);
    return rc < 0 ? rc : 0;
}

int coord_store_each_trial(coord_store_t *s, uint64_t sweep,
                           int (*cb)(const coord_store_trial_row_t *row, void *ud), void *ud)
{
    settle(s);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT trial, params, state, mean, IFNULL(obs_before, 0), "
                           "IFNULL(obs_seq, 0) FROM trials WHERE sweep = ?1 ORDER BY trial",
                           -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)sweep);
    int rc = 0;
    while (rc >= 0 && sqlite3_step(q) == SQLITE_ROW) {
        coord_store_trial_row_t row = {
            .trial = (uint64_t)sqlite3_column_int64(q, 0),
            .params = col_text(q, 1),
            .state = col_text(q, 2),
            .mean = col_real(q, 3),
            .obs_before = (long)sqlite3_column_int64(q, 4),
            .obs_seq = (long)sqlite3_column_int64(q, 5),
        };
        rc = cb(&row, ud);
    }
    sqlite3_finalize(q);
    return rc < 0 ? rc : 0;
}

int coord_store_each_task(coord_store_t *s, uint64_t sweep,
                          int (*cb)(const coord_store_task_row_t *row, void *ud), void *ud)
{
    settle(s);
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT t.id, t.trial, t.fold, t.repeat, t.refit, t.state, t.attempt, a.worker, "
            "t.score, t.accuracy, t.log_loss, t.f1_macro, t.train_score, t.fit_seconds, "
            "t.epochs, t.error, (SELECT COUNT(*) FROM attempts f WHERE f.task = t.id AND "
            "f.outcome = 'failed'), t.seed_rep, t.n_eval, t.finished, t.resumed_from, "
            "w.secret, w.key "
            "FROM tasks t "
            "LEFT JOIN attempts a "
            "ON a.task = t.id AND a.attempt = t.attempt "
            "LEFT JOIN workers w ON w.id = a.worker WHERE t.sweep = ?1 ORDER BY t.id",
            -1, &q, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)sweep);
    int rc = 0;
    while (rc >= 0 && sqlite3_step(q) == SQLITE_ROW) {
        coord_store_task_row_t row = {
            .id = (uint64_t)sqlite3_column_int64(q, 0),
            .trial = (uint64_t)sqlite3_column_int64(q, 1),
            .fold = sqlite3_column_int(q, 2),
            .repeat = sqlite3_column_int(q, 3),
            .refit = sqlite3_column_int(q, 4) != 0,
            .state = col_text(q, 5),
            .attempt = (uint32_t)sqlite3_column_int(q, 6),
            .worker = col_text(q, 7),
            .r = {.score = col_real(q, 8), .accuracy = col_real(q, 9),
                  .log_loss = col_real(q, 10), .f1_macro = col_real(q, 11),
                  .train_score = col_real(q, 12), .fit_seconds = col_real(q, 13),
                  .epochs = sqlite3_column_int(q, 14),
                  .n_eval = (uint32_t)sqlite3_column_int64(q, 18)},
            .error = col_text(q, 15),
            .failures = (uint32_t)sqlite3_column_int(q, 16),
            .seed_rep = sqlite3_column_int(q, 17),
            .finished = col_real(q, 19),
            .resumed_from = sqlite3_column_int(q, 20),
            .worker_secret = col_text(q, 21),
            .worker_key = col_text(q, 22),
        };
        rc = cb(&row, ud);
    }
    sqlite3_finalize(q);
    return rc < 0 ? rc : 0;
}

// --- the core's journal reader ----------------------------------------------------

static int rd_each_sweep(void *ud, int (*cb)(const coord_jrow_sweep_t *, void *), void *cbud)
{
    return coord_store_each_open_sweep(ud, cb, cbud);
}

static int rd_each_trial(void *ud, uint64_t sweep, int (*cb)(const coord_jrow_trial_t *, void *),
                         void *cbud)
{
    return coord_store_each_trial(ud, sweep, cb, cbud);
}

static int rd_each_task(void *ud, uint64_t sweep, int (*cb)(const coord_jrow_task_t *, void *),
                        void *cbud)
{
    return coord_store_each_task(ud, sweep, cb, cbud);
}

coord_journal_reader_t coord_store_reader(coord_store_t *s)
{
    return (coord_journal_reader_t){.ud = s, .each_sweep = rd_each_sweep,
                                    .each_trial = rd_each_trial, .each_task = rd_each_task};
}
