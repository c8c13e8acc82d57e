/*
 * test_store.c: the journal's checkpoints off the loop (coord_store.h,
 * "Checkpoints off the loop").
 *
 * held_writes_land_as_written: two journals on disk get the same records
 * (sweeps, trials, tasks, leases, attempts, results with NaN and extreme
 * values, states with NULL and long strings, workers, events), one with
 * SQLite's automatic checkpoints and one in manual mode whose checkpoints
 * hold the writes of one to three turns while they run.  Every table of
 * the two must read the same, value for value (reals to the last bit).
 *
 * wal_stays_bounded: a long run of turns in manual mode, a checkpoint
 * whenever one is due, writes held while it runs: the -wal file never
 * passes 8 MB although over 32 MB is written (with the writes
 * not held, the WAL can never start again and grows without bound).
 *
 * a_sync_waits_for_the_job: a checkpoint that runs on another thread and
 * ends late; a held write, then coord_store_sync: it returns only after
 * the job ended, and a new connection then reads the write.  Writes past
 * the hold's bound (20,000) wait for the job the same way and all land.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "coord_store.h"
#include "hpt_test.h"

static char dir[] = "/tmp/hpt-test-store-XXXXXX";

static void path_of(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static coord_store_t *open_store(const char *name, bool manual)
{
    char p[256];
    path_of(p, sizeof p, name);
    coord_store_t *s = NULL;
    hpt_err err = {0};
    if (coord_store_open(&s, p, &err) < 0) {
        fprintf(stderr, "open %s: %s\n", p, err.msg);
        return NULL;
    }
    if (manual && coord_store_ckpt_manual(s, &err) < 0) {
        fprintf(stderr, "manual %s: %s\n", p, err.msg);
        coord_store_close(&s);
    }
    return s;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The records of turn t (deterministic in t) written to s. */
static int write_turn(coord_store_t *s, int t, int per_turn)
{
    uint64_t save = rng_state;
    rng_state = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)t * 0x100000001b3ULL);
    int rc = 0;
    if (t == 0) {
        rc |= coord_store_sweep_add(s, 1, "sweep \"one\"", "/tmp/spec.yaml", "units: [8, 16]\n", 3,
                                    1.7e9 + 0.123456789, "ab12");
        rc |= coord_store_worker_seen(s, "host:1:abc", "w1", "host", 4, "1.0", 1.7e9, "up",
                                      "00ff", "");
    }
    for (int i = 0; i < per_turn && rc == 0; i++) {
        uint64_t n = (uint64_t)t * (uint64_t)per_turn + (uint64_t)i + 1;
        uint64_t task = (1ULL << 32) + n;
        uint64_t trial = n / 5 + 1;
        if (n % 5 == 1) {
            char params[96];
            snprintf(params, sizeof params, "{\"lr\": %.17g, \"units\": %d}",
                     (double)(rnd() % 1000000) * 1e-7, (int)(rnd() % 512));
            rc |= coord_store_trial_add(s, 1, trial, params, (long)n);
        }
        rc |= coord_store_task_add(s, task, 1, trial, (int)(n % 5), 0, 0, n % 97 == 0);
        rc |= coord_store_task_lease(s, task, 1, "host:1:abc", 1.7e9 + (double)n * 1e-3);
        coord_store_result_t r = {
            .score = (double)(rnd() >> 11) * 0x1.0p-53,
            .accuracy = n % 13 == 0 ? NAN : 0.5 + (double)(rnd() % 1000) * 1e-4,
            .log_loss = n % 17 == 0 ? 1e308 : 0.1 * (double)(n % 7),
            .f1_macro = -0.0,
            .train_score = 1.0 / 3.0,
            .fit_seconds = 1e-9 * (double)n,
            .epochs = (int)(n % 30),
            .n_eval = (uint32_t)n,
            .resumed_from = (int)(n % 3),
        };
        if (n % 11 == 0) {
            rc |= coord_store_attempt_end(s, task, 1, "lost", n % 22 ? NULL : "the worker died",
                                          1.7e9 + (double)n);
            rc |= coord_store_task_state(s, task, "queued", NULL);
        } else {
            rc |= coord_store_task_result(s, task, 1, &r, 1.7e9 + (double)n * 1e-3);
        }
        if (n % 5 == 0)
            rc |= coord_store_trial_done(s, 1, trial, "done", r.score, n % 10 ? 0.01 : NAN,
                                         NULL, (long)n);
        if (n % 7 == 0) {
            char msg[300];
            memset(msg, 'x', sizeof msg - 1);
            msg[sizeof msg - 1] = 0;
            msg[n % 200] = 0;
            rc |= coord_store_event(s, n, 1.7e9 + (double)n, "info", "sched", msg,
                                    "k=\"v\" n=1", n % 2 ? 1 : 0, n % 3 ? "task_done" : NULL);
        }
    }
    rng_state = save;
    return rc;
}

static int flush(coord_store_t *s)
{
    hpt_err err = {0};
    int rc = coord_store_flush(s, &err);
    if (rc < 0)
        fprintf(stderr, "flush: %s\n", err.msg);
    return rc;
}

/* Every row of every table, values typed, reals to the last bit. */
static char *dump(const char *name)
{
    char p[256];
    path_of(p, sizeof p, name);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return NULL;
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    sqlite3_stmt *tabs = NULL;
    sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1,
                       &tabs, NULL);
    while (out && sqlite3_step(tabs) == SQLITE_ROW) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid",
                 (const char *)sqlite3_column_text(tabs, 0));
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
            snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1, 2",
                     (const char *)sqlite3_column_text(tabs, 0));
            if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
                continue;
        }
        while (sqlite3_step(q) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(q); c++) {
                char cell[700];
                switch (sqlite3_column_type(q, c)) {
                case SQLITE_INTEGER:
                    snprintf(cell, sizeof cell, "i%lld|", (long long)sqlite3_column_int64(q, c));
                    break;
                case SQLITE_FLOAT:
                    snprintf(cell, sizeof cell, "f%a|", sqlite3_column_double(q, c));
                    break;
                case SQLITE_NULL: snprintf(cell, sizeof cell, "null|"); break;
                default:
                    snprintf(cell, sizeof cell, "t%.600s|", (const char *)sqlite3_column_text(q, c));
                }
                size_t l = strlen(cell);
                if (len + l + 2 > cap) {
                    char *np = realloc(out, cap *= 2);
                    if (!np) {
                        free(out);
                        out = NULL;
                        break;
                    }
                    out = np;
                }
                memcpy(out + len, cell, l);
                len += l;
            }
            if (!out)
                break;
            out[len++] = '\n';
        }
        sqlite3_finalize(q);
    }
    sqlite3_finalize(tabs);
    sqlite3_close(db);
    if (out)
        out[len] = 0;
    return out;
}

/* The checkpoint job, here, if one was begun; then its held writes. */
static int end_hold(coord_store_t *s)
{
    if (!coord_store_ckpt_held(s))
        return 0;
    coord_store_ckpt_run(s);
    return coord_store_ckpt_end(s, NULL);
}

static long file_size(const char *name)
{
    char p[256];
    path_of(p, sizeof p, name);
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : 0;
}

HPT_TEST(held_writes_land_as_written)
{
    coord_store_t *a = open_store("auto.db", false);
    coord_store_t *b = open_store("manual.db", true);
    ASSERT(a && b);
    int turns = 300, per_turn = 100, held_for = 0, holds = 0;
    for (int t = 0; t < turns; t++) {
        ASSERT_OK(write_turn(a, t, per_turn));
        ASSERT_OK(flush(a));
        ASSERT_OK(write_turn(b, t, per_turn));
        if (coord_store_ckpt_held(b) && --held_for <= 0)
            ASSERT_OK(end_hold(b));   // after one to three turns held
        ASSERT_OK(flush(b));
        if (coord_store_ckpt_due(b)) {
            coord_store_ckpt_begin(b);
            held_for = 1 + (int)(rnd() % 3);
            holds++;
        }
    }
    ASSERT_OK(end_hold(b));
    ASSERT_OK(flush(b));
    uint64_t runs = 0, partial = 0;
    int pages = 0;
    coord_store_ckpt_stats(b, &runs, &partial, &pages);
    printf("  %d turns, %d checkpoints with writes held (%llu run, %llu partial)\n", turns, holds,
           (unsigned long long)runs, (unsigned long long)partial);
    ASSERT(holds >= 3);   // the run did hold writes across checkpoints
    ASSERT_EQ(runs, (uint64_t)holds);
    coord_store_close(&a);
    coord_store_close(&b);
    char *da = dump("auto.db"), *db = dump("manual.db");
    ASSERT(da && db);
    ASSERT(strlen(da) > 1000000);
    if (strcmp(da, db) != 0) {
        size_t i = 0;
        while (da[i] && da[i] == db[i])
            i++;
        size_t from = i > 200 ? i - 200 : 0;
        HPT_TEST_FAIL("the journals differ at byte %zu:\nauto:   %.300s\nmanual: %.300s", i,
                      da + from, db + from);
    }
    free(da);
    free(db);
}

HPT_TEST(wal_stays_bounded)
{
    coord_store_t *b = open_store("bounded.db", true);
    ASSERT(b);
    long wal_max = 0;
    int turns = 1400, per_turn = 120;
    for (int t = 0; t < turns; t++) {
        ASSERT_OK(write_turn(b, t, per_turn));
        ASSERT_OK(end_hold(b));
        ASSERT_OK(flush(b));
        if (coord_store_ckpt_due(b))
            coord_store_ckpt_begin(b);   // the next turn's writes are held
        long w = file_size("bounded.db-wal");
        if (w > wal_max)
            wal_max = w;
    }
    ASSERT_OK(end_hold(b));
    ASSERT_OK(flush(b));
    uint64_t runs = 0, partial = 0;
    int pages = 0;
    coord_store_ckpt_stats(b, &runs, &partial, &pages);
    coord_store_close(&b);
    long db_size = file_size("bounded.db");
    printf("  database %.1f MB, WAL at most %.1f MB, %llu checkpoints (%llu partial)\n",
           (double)db_size / 1e6, (double)wal_max / 1e6, (unsigned long long)runs,
           (unsigned long long)partial);
    ASSERT(db_size > 32L << 20);        // far more written than the bound below
    ASSERT(wal_max < 8L << 20);
    ASSERT(runs > 5);
}

struct late_job {
    coord_store_t *s;
    int delay_ms;
    volatile int ran;
};

static void *late_run(void *p)
{
    struct late_job *j = p;
    struct timespec ts = {.tv_sec = j->delay_ms / 1000, .tv_nsec = (j->delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    j->ran = 1;
    coord_store_ckpt_run(j->s);
    return NULL;
}

static int count_rows(const char *name, const char *sql)
{
    char p[256];
    path_of(p, sizeof p, name);
    sqlite3 *db = NULL;
    int n = -1;
    sqlite3_stmt *q = NULL;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

HPT_TEST(a_sync_waits_for_the_job)
{
    coord_store_t *b = open_store("late.db", true);
    ASSERT(b);
    int t = 0;
    while (!coord_store_ckpt_due(b) && t < 1000) {
        ASSERT_OK(write_turn(b, t++, 100));
        ASSERT_OK(flush(b));
    }
    ASSERT(coord_store_ckpt_due(b));
    int before = count_rows("late.db", "SELECT COUNT(*) FROM tasks");
    ASSERT(before > 0);

    // A held write, then a sync: it waits for the job and makes the write.
    coord_store_ckpt_begin(b);
    struct late_job j = {.s = b, .delay_ms = 150};
    pthread_t th;
    ASSERT_EQ(pthread_create(&th, NULL, late_run, &j), 0);
    ASSERT_OK(coord_store_task_add(b, 7ULL << 40, 1, 1, 0, 0, 0, false));
    ASSERT(coord_store_ckpt_held(b));
    ASSERT_EQ(count_rows("late.db", "SELECT COUNT(*) FROM tasks"), before);
    hpt_err err = {0};
    ASSERT_OK(coord_store_sync(b, &err));
    ASSERT(j.ran);
    ASSERT(!coord_store_ckpt_held(b));
    pthread_join(th, NULL);
    ASSERT_EQ(count_rows("late.db", "SELECT COUNT(*) FROM tasks"), before + 1);

    // Past the bound: the write that reaches it waits for the job; all land.
    for (t = 2000; !coord_store_ckpt_due(b) && t < 4000; t++) {
        ASSERT_OK(write_turn(b, t, 100));
        ASSERT_OK(flush(b));
    }
    ASSERT(coord_store_ckpt_due(b));
    int mid = count_rows("late.db", "SELECT COUNT(*) FROM tasks");
    coord_store_ckpt_begin(b);
    struct late_job j2 = {.s = b, .delay_ms = 100};
    ASSERT_EQ(pthread_create(&th, NULL, late_run, &j2), 0);
    for (int i = 0; i < 25000; i++)
        ASSERT_OK(coord_store_task_add(b, (8ULL << 40) + (uint64_t)i, 1, 1, 0, 0, 0, false));
    ASSERT(j2.ran);
    ASSERT(!coord_store_ckpt_held(b));   // the bound ended the hold
    pthread_join(th, NULL);
    ASSERT_OK(flush(b));
    ASSERT_EQ(count_rows("late.db", "SELECT COUNT(*) FROM tasks"), mid + 25000);
    coord_store_close(&b);
}

static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

__attribute__((constructor)) static void setup(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    atexit(cleanup);
}

HPT_TEST_MAIN()
