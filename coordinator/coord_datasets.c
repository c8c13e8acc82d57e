/*
 * coord_datasets.c: the coordinator's datasets: what a sweep's `dataset:`
 * names, its fingerprint, and serving it to workers that lack it
 * (docs/protocol.md, "Dataset transfer"; docs/security.md, "Datasets").
 *
 * Names.  A named dataset (mnist, mnist-10k, fashion-mnist) is found in the
 * coordinator's data dir (hpt_dataset_find).  `idx:DIR` comes from whoever
 * submits the spec, so DIR is resolved with realpath(3) and must be an
 * absolute path inside one of the configured data roots (data_roots,
 * default: the data dir); the sweep then carries the canonical name
 * "idx:" + realpath, so every alias of one directory (idx:/d/, idx://d,
 * idx:/d/../d) is one dataset with one fingerprint job and one copy on
 * each worker.
 *
 * Fingerprints come only from data the coordinator read itself (or, for a
 * named dataset it does not have, from the value deploy/fetch-data.sh pins):
 * never from a worker.  A record (ds_rec_t) is one validated copy:
 * hpt_dataset_scan opened each of its four files once (for idx: without
 * following any symbolic link, on the path or in the directory), checked
 * that it is a regular file holding valid IDX consistent with the others,
 * hashed it, and kept it open.  A record is trusted while its files keep
 * their identity (device, inode, size, mtime, ctime): a submission re-checks
 * that with a few stat calls and re-fingerprints a changed copy; the
 * scanning itself runs on the thread pool (ds_job_t), one job per dataset
 * however many submissions wait for it.
 *
 * Serving.  The scheduler calls coord_datasets_offer when a worker with free
 * slots lacks the dataset of a runnable sweep; the worker then asks for the
 * four files chunk by chunk (FetchChunk), keeping a window of requests
 * outstanding (credit-based flow control, the ZeroMQ guide's fileio3).  The
 * coordinator keeps no per-transfer state: every request names the dataset,
 * its fingerprint, the file, the offset and the size, and is checked on its
 * own.  A request is served only when
 *   - the dataset and fingerprint are those of a queued or running sweep,
 *   - a record of that dataset has that fingerprint,
 *   - the file is one of the record's four, still with the identity it was
 *     validated with (else the record is dropped: the copy changed),
 * from the record's own open descriptor (pread), so no path is looked up
 * again and nothing but a validated dataset file is ever read for a peer.
 * Reads are at most HPT_PROTO_MAX_CHUNK (the worker asks for 256 KiB by
 * default) on the loop thread: a page-cache read of that size takes tens of
 * microseconds, a cold one a disk access, which the window bounds per
 * worker.
 */
#define _XOPEN_SOURCE 700   // realpath(3) (the build's -D_POSIX_C_SOURCE=200809L lacks it)

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "coord.h"
#include "dataset.h"
#include "hpt_config.h"
#include "log.h"

#define COMP "datasets"
#define PATH_LEN 4096
#define OFFER_IVL_S 10.0     // a worker is offered a dataset at most this often
#define FETCHING_S 30.0      // a worker served a chunk this recently "is fetching it"
#define MAX_ROOTS 16
#define MAX_RECS 32          // records kept beyond those runnable sweeps use
#define NO_COPY_RECHECK_S 10.0   // a missing or unusable copy is looked at again after this

/* A logfmt value of a peer's or a spec's string (hpt_log_quote), into the
 * char array buf. */
#define Q(s, buf) hpt_log_quote((s), (buf), sizeof(buf))

// coord_log_allowed kinds (main.c uses 0, the core 1 and 2).
enum { LOG_OFFER = 10, LOG_NO_COPY = 11, LOG_REFUSED = 12 };

/* The named datasets' fingerprints, pinned by deploy/fetch-data.sh, so they
 * are known even to a coordinator without the files. */
static const char *const pinned[][2] = {
    {"mnist", "e9914cff2ade526da2ab1ac60c072f9173cc53e35b9411692de8207cb1b9009d"},
    {"mnist-10k", "6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6"},
    {"fashion-mnist", "4d8e31d2057f6f938ff47097ba334038e7aafbaf24b67665d2dd1ecda01730a3"},
};

static const char *pinned_fp(const char *name)
{
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++)
        if (strcmp(name, pinned[i][0]) == 0)
            return pinned[i][1];
    return NULL;
}

/* One validated copy (has_copy), or what was found instead (err). */
typedef struct ds_rec {
    struct ds_rec *next;
    char name[1024];              // canonical: "mnist", "idx:/real/dir"
    unsigned flags;               // hpt_dataset_scan flags it was validated with
    bool has_copy;                // scan valid (fds open); else err says why not
    hpt_dataset_scan_t scan;
    char err[1024];
    double at;                    // monotonic: validated or found wanting
} ds_rec_t;

typedef struct ds_waiter {
    struct ds_waiter *next;
    coord_ds_cb cb;
    void *ud;
} ds_waiter_t;

/* A fingerprint in flight on the thread pool. */
typedef struct ds_job {
    uv_work_t req;
    coord_t *c;
    struct ds_job *next;
    char name[1024];              // canonical
    char data_dir[1024];          // for named datasets
    unsigned flags;
    ds_waiter_t *waiters;
    // Results (written by the work, read by the after callback).
    int rc;
    hpt_dataset_scan_t scan;
    hpt_err err;
    double seconds;
} ds_job_t;

struct coord_ds {
    char roots[MAX_ROOTS][PATH_LEN];   // canonical data roots
    int n_roots;
    ds_rec_t *recs;
    ds_job_t *jobs;
    uint64_t jobs_run;            // fingerprint jobs started (tests count them)
};

static bool runnable(const coord_sweep_t *s)
{
    return s->state == SWEEP_QUEUED || s->state == SWEEP_RUNNING ||
           s->state == SWEEP_REFITTING;
}

static bool is_idx(const char *name)
{
    return strncmp(name, "idx:", 4) == 0;
}

// --- data roots --------------------------------------------------------------

/* Add root (any form) in canonical form; a root that does not exist is
 * skipped with a line saying so. */
static void add_root(struct coord_ds *d, const char *root)
{
    char real[PATH_MAX];
    if (!root[0] || d->n_roots >= MAX_ROOTS)
        return;
    if (!realpath(root, real)) {
        char qr[PATH_LEN + 64];
        hpt_log(HPT_LOG_DEBUG, COMP, "data root skipped", "root=%s error=\"%s\"", Q(root, qr),
                strerror(errno));
        return;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode) || strlen(real) >= PATH_LEN)
        return;
    for (int i = 0; i < d->n_roots; i++)
        if (strcmp(d->roots[i], real) == 0)
            return;
    snprintf(d->roots[d->n_roots++], PATH_LEN, "%s", real);
}

int coord_datasets_init(coord_t *c)
{
    struct coord_ds *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    c->ds = d;
    if (c->cfg.data_roots[0]) {
        char buf[sizeof c->cfg.data_roots];
        snprintf(buf, sizeof buf, "%s", c->cfg.data_roots);
        for (char *save = NULL, *r = strtok_r(buf, ":", &save); r; r = strtok_r(NULL, ":", &save))
            add_root(d, r);
    } else if (c->cfg.data_dir[0]) {
        add_root(d, c->cfg.data_dir);
    } else {
        // The search path of the named datasets (dataset.h).
        add_root(d, "data");
        add_root(d, HPT_DATADIR_SYSTEM);
        add_root(d, "/var/lib/hptune/data");
    }
    char list[1024] = "";
    size_t off = 0;
    for (int i = 0; i < d->n_roots && off < sizeof list; i++) {
        int k = snprintf(list + off, sizeof list - off, "%s%s", i ? ":" : "", d->roots[i]);
        off += k > 0 ? (size_t)k : 0;
    }
    char ql[sizeof list + 64];
    hpt_log(HPT_LOG_INFO, COMP, "idx: datasets are read only inside the data roots",
            "roots=%s", d->n_roots ? Q(list, ql) : "none");
    return 0;
}

static void rec_free(ds_rec_t *r)
{
    hpt_dataset_scan_close(&r->scan);
    free(r);
}

void coord_datasets_free(coord_t *c)
{
    struct coord_ds *d = c->ds;
    if (!d)
        return;
    for (ds_rec_t *r = d->recs, *n; r; r = n) {
        n = r->next;
        rec_free(r);
    }
    // Jobs end with the loop (uv_run waits for them): none is left here.
    free(d);
    c->ds = NULL;
}

/* The roots as "a, b" for messages. */
static void roots_text(const struct coord_ds *d, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->n_roots && off < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", d->roots[i]);
        off += k > 0 ? (size_t)k : 0;
    }
}

static bool under_root(const struct coord_ds *d, const char *real)
{
    for (int i = 0; i < d->n_roots; i++) {
        size_t n = strlen(d->roots[i]);
        if (strcmp(d->roots[i], "/") == 0 ||
            (strncmp(real, d->roots[i], n) == 0 && (real[n] == '\0' || real[n] == '/')))
            return true;
    }
    return false;
}

/* The canonical directory of idx path p (as typed, after "idx:") into real
 * (PATH_MAX).  Returns 0 or a negative errno with why (why_len) saying what
 * is wrong, in words that name the path. */
static int resolve_idx(const struct coord_ds *d, const char *p, char *real, char *why,
                       size_t why_len)
{
    char roots[1024];
    roots_text(d, roots, sizeof roots);
    if (p[0] != '/')
        return snprintf(why, why_len, "%s is a relative path; idx: takes an absolute path "
                        "inside the coordinator's data roots (%s)", p,
                        d->n_roots ? roots : "none configured"), -EINVAL;
    if (d->n_roots == 0)
        return snprintf(why, why_len, "%s: the coordinator has no data roots (data_roots, "
                        "--data-roots), so it reads no idx: dataset", p), -EACCES;
    if (!realpath(p, real)) {
        int e = errno;
        return snprintf(why, why_len, "%s: %s", p,
                        e == ENOENT ? "no such directory on the coordinator" : strerror(e)), -e;
    }
    struct stat st;
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
        return snprintf(why, why_len, "%s: not a directory", p), -ENOTDIR;
    bool alias = strcmp(p, real) != 0;
    if (!under_root(d, real))
        return snprintf(why, why_len, "%s%s%s%s is outside the coordinator's data roots (%s); "
                        "put the dataset under one of them, or add its directory to "
                        "data_roots (--data-roots)", p, alias ? " (resolves to " : "",
                        alias ? real : "", alias ? ")" : "", roots), -EACCES;
    return 0;
}

int coord_datasets_resolve(coord_t *c, const coord_spec_t *spec, char *canon, size_t len,
                           char *msg, size_t msg_len)
{
    const char *name = spec->dataset;
    if (!is_idx(name)) {
        snprintf(canon, len, "%s", name);
        return 0;
    }
    char real[PATH_MAX], why[1536];
    int rc = resolve_idx(c->ds, name + 4, real, why, sizeof why);
    /* Workers keep dataset names of up to 127 bytes (COORD_MAX_DATASETS'
     * ds_name), so a longer canonical name could never be matched. */
    if (rc == 0 && strlen(real) + 4 >= sizeof ((coord_worker_t *)0)->ds_name[0]) {
        snprintf(why, sizeof why, "%.600s: the canonical path %.600s has %zu bytes; at most "
                 "%zu are allowed", name + 4, real, strlen(real),
                 sizeof ((coord_worker_t *)0)->ds_name[0] - 5);
        rc = -ENAMETOOLONG;
    }
    if (rc < 0) {
        snprintf(msg, msg_len, "%s:%d:%d: dataset: %s", spec->path, spec->dataset_line,
                 spec->dataset_col, why);
        return rc;
    }
    snprintf(canon, len, "idx:%s", real);
    return 0;
}

// --- records and fingerprint jobs ----------------------------------------------

static ds_rec_t *rec_find(struct coord_ds *d, const char *name)
{
    for (ds_rec_t *r = d->recs; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

static void rec_unlink(struct coord_ds *d, ds_rec_t *r)
{
    for (ds_rec_t **p = &d->recs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            rec_free(r);
            return;
        }
}

/* Drop records no runnable sweep uses, least recently validated first,
 * while there are more than MAX_RECS. */
static void recs_trim(coord_t *c)
{
    struct coord_ds *d = c->ds;
    for (;;) {
        int n = 0;
        ds_rec_t *victim = NULL;
        for (ds_rec_t *r = d->recs; r; r = r->next) {
            n++;
            bool used = false;
            for (const coord_sweep_t *s = c->core.sweeps; s && !used; s = s->next)
                used = runnable(s) && strcmp(s->spec->dataset, r->name) == 0;
            if (!used && (!victim || r->at < victim->at))
                victim = r;
        }
        if (n <= MAX_RECS || !victim)
            return;
        rec_unlink(d, victim);
    }
}

static void job_work(uv_work_t *req)
{
    ds_job_t *j = req->data;
    double t0 = coord_now();
    if (is_idx(j->name)) {
        j->rc = hpt_dataset_scan(j->name + 4, j->flags, &j->scan, &j->err);
    } else {
        char dir[PATH_LEN];
        j->rc = hpt_dataset_find(j->name, j->data_dir[0] ? j->data_dir : NULL, dir, sizeof dir,
                                 &j->err);
        if (j->rc == 0)
            j->rc = hpt_dataset_scan(dir, j->flags, &j->scan, &j->err);
    }
    j->seconds = coord_now() - t0;
}

/* A scan read a whole dataset through buffers in a thread-pool thread's
 * heap; glibc keeps such freed memory, so give it back. */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static void job_after(uv_work_t *req, int status)
{
    ds_job_t *j = req->data;
    coord_t *c = j->c;
    struct coord_ds *d = c->ds;
    for (ds_job_t **p = &d->jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    if (status < 0 && j->rc == 0)
        j->rc = hpt_err_set(&j->err, status, "the fingerprint job was cancelled");
    /* A job that ends after the stop (the loop runs until the pool's jobs
     * are done) logs nothing: a line would reach the journal after its
     * final commit. */
    bool say = !c->stopping;
    const char *pin = pinned_fp(j->name);
    coord_ds_result_t res = {.name = j->name};
    char q[HPT_ERR_MSG_LEN + 8], qn[2100], qdir[PATH_LEN + 64];
    ds_rec_t *r = rec_find(d, j->name);
    if (r) {
        hpt_dataset_scan_close(&r->scan);
        r->has_copy = false;
    } else if ((r = calloc(1, sizeof *r))) {
        snprintf(r->name, sizeof r->name, "%s", j->name);
        r->scan.dir_fd = -1;
        for (int i = 0; i < HPT_DATASET_N_FILES; i++)
            r->scan.files[i].fd = -1;
        r->next = d->recs;
        d->recs = r;
    }
    if (r) {
        r->flags = j->flags;
        r->at = coord_now();
    }
    if (j->rc == 0) {
        if (say)
            hpt_log(HPT_LOG_INFO, COMP, "dataset fingerprinted",
                    "dataset=%s dir=%s fingerprint=%s n_train=%u n_test=%u seconds=%.3f",
                    Q(j->name, qn), Q(j->scan.dir, qdir), j->scan.fingerprint, j->scan.n_train,
                    j->scan.n_test, j->seconds);
        memcpy(res.fp, j->scan.fingerprint, 65);
        if (pin && strcmp(pin, res.fp) != 0) {
            snprintf(res.note, sizeof res.note, "differs from the pinned fingerprint %.12s",
                     pin);
            if (say)
                hpt_log(HPT_LOG_WARN, COMP, "the coordinator's copy of a named dataset "
                        "differs from the pinned one",
                        "dataset=%s fingerprint=%.12s pinned=%.12s dir=%s", Q(j->name, qn),
                        res.fp, pin, Q(j->scan.dir, qdir));
        }
        if (r) {
            r->scan = j->scan;   // takes the fds
            r->has_copy = true;
            r->err[0] = '\0';
        } else {
            hpt_dataset_scan_close(&j->scan);
        }
    } else {
        if (r)
            snprintf(r->err, sizeof r->err, "%s", j->err.msg);
        if (pin) {
            /* A named dataset the coordinator lacks (or holds a bad copy
             * of): the pinned value, which a worker's copy must match. */
            memcpy(res.fp, pin, 65);
            snprintf(res.note, sizeof res.note, "not available on the coordinator");
            if (say)
                hpt_log(j->rc == -ENOENT ? HPT_LOG_INFO : HPT_LOG_WARN, COMP,
                        j->rc == -ENOENT ? "dataset not available on the coordinator; its "
                                           "pinned fingerprint applies"
                                         : "the coordinator's copy of a named dataset is "
                                           "unusable; its pinned fingerprint applies",
                        "dataset=%s fingerprint=%.12s error=%s", Q(j->name, qn), pin,
                        Q(j->err.msg, q));
        } else {
            res.error = j->err.msg;
            if (say)
                hpt_log(HPT_LOG_WARN, COMP, "dataset refused", "dataset=%s error=%s",
                        Q(j->name, qn), Q(j->err.msg, q));
        }
    }
    for (ds_waiter_t *w = j->waiters, *n; w; w = n) {
        n = w->next;
        w->cb(c, &res, w->ud);
        free(w);
    }
    free(j);
    recs_trim(c);
    trim_heap();
}

/* The job fingerprinting name, started when none is in flight; NULL when
 * out of memory.  name must be canonical (and, for idx:, resolved inside the
 * roots just now). */
static ds_job_t *job_for(coord_t *c, const char *name)
{
    struct coord_ds *d = c->ds;
    for (ds_job_t *j = d->jobs; j; j = j->next)
        if (strcmp(j->name, name) == 0)
            return j;
    ds_job_t *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->c = c;
    j->req.data = j;
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->data_dir, sizeof j->data_dir, "%s", c->cfg.data_dir);
    /* An idx: path comes from a submitter: no symbolic link anywhere.  The
     * operator's data dir may link (fetch-data.sh links fashion-mnist). */
    j->flags = HPT_DATASET_KEEP_FDS | (is_idx(name) ? HPT_DATASET_NOFOLLOW : 0);
    int rc = uv_queue_work(c->loop, &j->req, job_work, job_after);
    if (rc < 0) {
        char qn[2100];
        hpt_log(HPT_LOG_ERROR, COMP, "cannot queue a fingerprint job", "dataset=%s error=\"%s\"",
                Q(name, qn), hpt_strerror(rc));
        free(j);
        return NULL;
    }
    j->next = d->jobs;
    d->jobs = j;
    d->jobs_run++;
    return j;
}

/* Whether r still describes what is on disk (a few stat calls). */
static bool rec_fresh(ds_rec_t *r)
{
    if (!r->has_copy)
        return false;
    hpt_err err = {0};
    if (hpt_dataset_scan_check(&r->scan, r->flags, &err) == 0)
        return true;
    char q[HPT_ERR_MSG_LEN + 8], qn[2100];
    hpt_log(HPT_LOG_INFO, COMP, "the coordinator's copy changed; fingerprinting it again",
            "dataset=%s reason=%s", Q(r->name, qn), Q(err.msg, q));
    hpt_dataset_scan_close(&r->scan);
    r->has_copy = false;
    return false;
}

int coord_datasets_fingerprint(coord_t *c, const char *name, coord_ds_cb cb, void *ud)
{
    ds_rec_t *r = rec_find(c->ds, name);
    if (r && rec_fresh(r)) {
        coord_ds_result_t res = {.name = name};
        memcpy(res.fp, r->scan.fingerprint, 65);
        const char *pin = pinned_fp(name);
        if (pin && strcmp(pin, res.fp) != 0)
            snprintf(res.note, sizeof res.note, "differs from the pinned fingerprint %.12s",
                     pin);
        cb(c, &res, ud);
        return 0;
    }
    ds_waiter_t *w = calloc(1, sizeof *w);
    ds_job_t *j = w ? job_for(c, name) : NULL;
    if (!j) {
        free(w);
        return -ENOMEM;
    }
    w->cb = cb;
    w->ud = ud;
    w->next = j->waiters;
    j->waiters = w;
    return 1;
}

/* Make sure a record of name is on its way: a job unless one is in flight,
 * the record is fresh, or a missing copy was looked for recently. */
static void ensure(coord_t *c, const char *name)
{
    ds_rec_t *r = rec_find(c->ds, name);
    if (r && (r->has_copy ? rec_fresh(r) : coord_now() - r->at < NO_COPY_RECHECK_S))
        return;
    if (is_idx(name)) {
        /* Resumed from the journal: confined to today's roots, and still
         * the canonical path it was (no link swapped in since). */
        char real[PATH_MAX] = "", why[1536];
        int rc = resolve_idx(c->ds, name + 4, real, why, sizeof why);
        if (rc == 0 && strcmp(real, name + 4) != 0) {
            snprintf(why, sizeof why, "%s now resolves to %s", name + 4, real);
            rc = -ELOOP;
        }
        if (rc < 0) {
            if (!r && (r = calloc(1, sizeof *r))) {
                snprintf(r->name, sizeof r->name, "%s", name);
                r->scan.dir_fd = -1;
                for (int i = 0; i < HPT_DATASET_N_FILES; i++)
                    r->scan.files[i].fd = -1;
                r->next = c->ds->recs;
                c->ds->recs = r;
            }
            if (r) {
                snprintf(r->err, sizeof r->err, "%.1000s", why);
                r->at = coord_now();
            }
            return;
        }
    }
    job_for(c, name);
}

void coord_fingerprints_warm(coord_t *c)
{
    for (int i = 0; hpt_dataset_names[i]; i++) {
        char dir[PATH_LEN];
        hpt_err err = {0};
        const char *dd = c->cfg.data_dir[0] ? c->cfg.data_dir : NULL;
        if (hpt_dataset_find(hpt_dataset_names[i], dd, dir, sizeof dir, &err) == 0)
            ensure(c, hpt_dataset_names[i]);
    }
    // The datasets of the sweeps resumed from the journal, to serve them.
    for (const coord_sweep_t *s = c->core.sweeps; s; s = s->next)
        if (runnable(s))
            ensure(c, s->spec->dataset);
}

uint64_t coord_datasets_jobs_run(const coord_t *c)
{
    return c->ds ? c->ds->jobs_run : 0;
}

// --- offers ----------------------------------------------------------------

/* The record serving s: its copy, with s's fingerprint.  NULL otherwise,
 * with why (why_len) saying why not; with detail, also what was wrong with
 * the copy (paths: for the log and clients, not for workers). */
static ds_rec_t *serving_rec(coord_t *c, const char *dataset, const char *fp, bool detail,
                             char *why, size_t why_len)
{
    ds_rec_t *r = rec_find(c->ds, dataset);
    if (!r)
        snprintf(why, why_len, "the coordinator has not validated a copy of it yet");
    else if (!r->has_copy)
        snprintf(why, why_len, "the coordinator has no usable copy%s%.400s",
                 detail ? ": " : "", detail ? r->err : "");
    else if (strcmp(r->scan.fingerprint, fp) != 0)
        snprintf(why, why_len, "the coordinator's copy now has fingerprint %.12s, the sweep "
                 "was submitted with %.12s", r->scan.fingerprint, fp);
    else
        return r;
    return NULL;
}

void coord_datasets_offer(coord_t *c, coord_worker_t *w, const coord_sweep_t *s)
{
    double now = coord_now();
    if (w->draining || !runnable(s) || (w->offer_at > 0 && now - w->offer_at < OFFER_IVL_S))
        return;
    char id[80], why[512];
    hpt_peer_id_str(&w->peer, id, sizeof id);
    ensure(c, s->spec->dataset);
    ds_rec_t *r = strlen(s->fingerprint) == 64
                      ? serving_rec(c, s->spec->dataset, s->fingerprint, true, why, sizeof why)
                      : NULL;
    if (!r) {
        if (strlen(s->fingerprint) != 64)
            snprintf(why, sizeof why, "the sweep has no fingerprint");
        if (coord_log_allowed(c, &w->peer, LOG_NO_COPY, 1)) {
            char q[2 * sizeof why + 8], qw[600], qd[2100];
            hpt_log(HPT_LOG_INFO, COMP, "cannot offer the sweep's dataset",
                    "sweep=%llu worker=%s dataset=%s peer=%s reason=%s",
                    (unsigned long long)s->id, Q(w->id, qw), Q(s->spec->dataset, qd), id,
                    Q(why, q));
        }
        return;
    }
    w->offer_at = now;
    Hpt__DatasetFile files[HPT_DATASET_N_FILES];
    Hpt__DatasetFile *fp[HPT_DATASET_N_FILES];
    uint64_t total = 0;
    for (int i = 0; i < HPT_DATASET_N_FILES; i++) {
        hpt__dataset_file__init(&files[i]);
        files[i].name = r->scan.files[i].name;
        files[i].size = r->scan.files[i].size;
        fp[i] = &files[i];
        total += files[i].size;
        if (files[i].size == 0 || files[i].size > HPT_PROTO_MAX_FILE) {
            char qd[2100];
            hpt_log(HPT_LOG_WARN, COMP, "cannot offer the sweep's dataset: a file is too large "
                    "to transfer", "sweep=%llu dataset=%s file=%s bytes=%" PRIu64,
                    (unsigned long long)s->id, Q(s->spec->dataset, qd), HPT_LOGQ(files[i].name),
                    files[i].size);
            return;
        }
    }
    Hpt__DatasetOffer m = HPT__DATASET_OFFER__INIT;
    m.dataset = s->spec->dataset;
    m.fingerprint = (char *)s->fingerprint;
    m.n_files = HPT_DATASET_N_FILES;
    m.files = fp;
    m.sweep = s->id;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_DATASET_OFFER;
    env.dataset_offer = &m;
    int rc = coord_send(c, &w->peer, &env);
    // Offers repeat every OFFER_IVL_S while the worker lacks the data: one line a minute.
    // (hpt_log evaluates its level twice: decide it first.)
    hpt_log_level_t lvl = coord_log_allowed(c, &w->peer, LOG_OFFER, 1) ? HPT_LOG_INFO
                                                                         : HPT_LOG_DEBUG;
    char qw[600], qd[2100];
    hpt_log(lvl, COMP,
            rc == 0 ? "dataset offered" : "dataset offer not sent",
            "sweep=%llu worker=%s dataset=%s fingerprint=%.12s bytes=%" PRIu64 " peer=%s",
            (unsigned long long)s->id, Q(w->id, qw), Q(s->spec->dataset, qd), s->fingerprint,
            total, id);
}

// --- chunks ----------------------------------------------------------------

/* A queued or running sweep of this dataset and fingerprint, or NULL. */
static const coord_sweep_t *serving_sweep(coord_t *c, const char *name, const char *fp)
{
    for (const coord_sweep_t *s = c->core.sweeps; s; s = s->next)
        if (runnable(s) && strcmp(s->spec->dataset, name) == 0 &&
            strcmp(s->fingerprint, fp) == 0)
            return s;
    return NULL;
}

/* Read up to want bytes at off of file i of r into a new buffer.  Returns 0
 * with *out (owned), *n and *size (the file's), or -errno with why (why_len
 * bytes) in words a peer may read (no paths).  A file whose identity is not
 * the validated one is refused, and r is dropped (freed: the caller must not
 * use it after -ESTALE). */
static int read_chunk(coord_t *c, ds_rec_t *r, int i, uint64_t off, uint32_t want,
                      uint8_t **out, size_t *n, uint64_t *size, char *why, size_t why_len)
{
    *out = NULL;
    *n = 0;
    const hpt_dataset_file_id_t *id = &r->scan.files[i];
    if (hpt_dataset_file_check(id) < 0) {
        snprintf(why, why_len, "the coordinator's copy of the file changed since it was "
                 "validated");
        char qn[2100];
        hpt_log(HPT_LOG_WARN, COMP, "the coordinator's copy changed while being served; it is "
                "fingerprinted again before it is served", "dataset=%s file=%s", Q(r->name, qn),
                HPT_LOGQ(id->name));
        rec_unlink(c->ds, r);
        return -ESTALE;
    }
    *size = id->size;
    if (off > *size)
        return snprintf(why, why_len, "offset %" PRIu64 " is past the end of the file (%" PRIu64
                        " bytes)", off, *size), -EINVAL;
    size_t len = (size_t)(*size - off < want ? *size - off : want);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return snprintf(why, why_len, "out of memory"), -ENOMEM;
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(id->fd, buf + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            snprintf(why, why_len, "cannot read the file: %s",
                     k < 0 ? strerror(e) : "it became shorter");
            free(buf);
            return -e;
        }
        got += (size_t)k;
    }
    *out = buf;
    *n = len;
    return 0;
}

void coord_on_fetch(coord_t *c, coord_worker_t *w, const Hpt__FetchChunk *m)
{
    char why[512] = "";
    uint8_t *data = NULL;
    size_t n = 0;
    uint64_t size = 0;
    const coord_sweep_t *s = serving_sweep(c, m->dataset, m->fingerprint);
    ds_rec_t *r = NULL;
    int file = -1;
    if (!s) {
        snprintf(why, sizeof why, "dataset %.200s with fingerprint %.12s is not the dataset of a "
                 "queued or running sweep", m->dataset, m->fingerprint);
    } else if (!(r = serving_rec(c, m->dataset, m->fingerprint, false, why, sizeof why))) {
        // why says it
    } else {
        for (int i = 0; i < HPT_DATASET_N_FILES && file < 0; i++)
            if (strcmp(r->scan.files[i].name, m->file) == 0)
                file = i;
        if (file < 0)
            snprintf(why, sizeof why, "the coordinator's copy of %.200s has no file %.64s",
                     m->dataset, m->file);
        else
            read_chunk(c, r, file, m->offset, m->size, &data, &n, &size, why, sizeof why);
    }

    char id[80];
    hpt_peer_id_str(&w->peer, id, sizeof id);
    Hpt__DatasetChunk rep = HPT__DATASET_CHUNK__INIT;
    rep.dataset = m->dataset;
    rep.file = m->file;
    rep.offset = m->offset;
    rep.xfer = m->xfer;
    if (why[0]) {
        rep.error = why;
        char q[1100], qw[600], qd[2100], qf[300];
        if (coord_log_allowed(c, &w->peer, LOG_REFUSED, 5))
            hpt_log(HPT_LOG_WARN, COMP, "dataset request refused",
                    "worker=%s peer=%s dataset=%s file=%s offset=%" PRIu64 " reason=%s",
                    Q(w->id, qw), id, Q(m->dataset, qd), Q(m->file, qf), m->offset, Q(why, q));
    } else {
        rep.data.data = data;
        rep.data.len = n;
        rep.file_size = size;
        /* One line per stream, not per chunk: a request that does not
         * continue the previous one starts a file, or resumes one. */
        char qw[600], qd[2100];
        if (strcmp(w->serve_file, m->file) != 0 || w->serve_next != m->offset)
            hpt_log(HPT_LOG_INFO, COMP, "serving dataset file",
                    "worker=%s peer=%s sweep=%llu dataset=%s file=%s offset=%" PRIu64
                    " size=%" PRIu64, Q(w->id, qw), id, (unsigned long long)s->id,
                    Q(m->dataset, qd), HPT_LOGQ(m->file), m->offset, size);
        snprintf(w->serve_file, sizeof w->serve_file, "%s", m->file);
        w->serve_next = m->offset + n;
        w->bytes_served += n;
        w->fetch_sweep = s->id;
        w->fetch_at = coord_now();
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_DATASET_CHUNK;
    env.dataset_chunk = &rep;
    coord_send(c, &w->peer, &env);   // a lost chunk: the worker asks again
    free(data);
}

// --- why a sweep waits ------------------------------------------------------------

/* Whether w's last served chunk was for s's dataset (any sweep of it). */
static bool fetching(coord_t *c, const coord_worker_t *w, const coord_sweep_t *s, double now)
{
    if (w->fetch_at <= 0 || now - w->fetch_at > FETCHING_S)
        return false;
    const coord_sweep_t *f = coord_sweep_find(&c->core, w->fetch_sweep);
    return f && strcmp(f->spec->dataset, s->spec->dataset) == 0 &&
           strcmp(f->fingerprint, s->fingerprint) == 0;
}

static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    if (*off >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    *off += k > 0 ? (size_t)k : 0;
}

static const char *plural(int n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void coord_datasets_waiting(coord_t *c, const coord_sweep_t *s, char *buf, size_t len)
{
    buf[0] = '\0';
    /* Only a runnable sweep that nobody serves: a running task means some
     * worker does (and spares status the walk over the workers). */
    if (!runnable(s) || s->tasks_running > 0)
        return;
    size_t off = 0;
    if (s->fingerprint[0] == '\0') {
        appendf(buf, len, &off, "the sweep has no dataset fingerprint (an older coordinator "
                "took it from a worker, which is no longer allowed); cancel it and submit it "
                "again");
        return;
    }
    int n = 0, other = 0, dry = 0, lack = 0, fetch = 0, serving = 0;
    uint64_t most = 0;
    bool unlimited = false;
    double now = coord_now();
    for (const coord_worker_t *w = c->core.workers; w; w = w->next) {
        n++;
        int has = coord_worker_has_dataset(w, s);
        if (has == 1) {
            // Served (it may be busy with other sweeps), unless no model fits.
            serving++;
            unlimited |= w->mem_budget == 0;
            most = w->mem_budget > most ? w->mem_budget : most;
            continue;
        }
        other += has == -1;
        dry += has == -2;
        lack += has == 0;
        fetch += has == 0 && fetching(c, w, s, now);
    }
    if (serving) {
        /* The next queued task's model fits none of them: the core fails
         * such tasks at its next tick (hpt__mem_unfit); until then, and
         * for the sweep's status, say why nothing runs. */
        uint64_t need = s->qhead ? coord_trial_mem_need(s->qhead->trial) : 0;
        if (!unlimited && need > most)
            appendf(buf, len, &off, "the next task's model needs at least %.1f MiB, more than "
                    "the memory budget of every worker that has the dataset (%d, the largest "
                    "%.1f MiB; hptune-worker --max-model-mem)", (double)need / 1048576.0,
                    serving, (double)most / 1048576.0);
        return;
    }
    if (n == 0) {
        appendf(buf, len, &off, "no worker is connected");
        return;
    }
    appendf(buf, len, &off, "no connected worker has dataset %s with fingerprint %.12s",
            s->spec->dataset, s->fingerprint);
    if (fetch)
        appendf(buf, len, &off, "; %d %s fetching it", fetch,
                plural(fetch, "worker is", "workers are"));
    if (other)
        appendf(buf, len, &off, "; %d %s another copy (another fingerprint)", other,
                plural(other, "worker holds", "workers hold"));
    if (dry)
        appendf(buf, len, &off, "; %d --dry-run %s (only sweeps with test_objective)", dry,
                plural(dry, "worker", "workers"));
    if (lack > fetch) {
        char why[512];
        if (serving_rec(c, s->spec->dataset, s->fingerprint, true, why, sizeof why))
            appendf(buf, len, &off, "; %d other %s it and %s offered it (a worker's log says "
                    "whether it waits for a fetch into a data dir it shares, ignores offers "
                    "(--no-fetch) or gave up on it)", lack - fetch,
                    plural(lack - fetch, "worker lacks", "workers lack"),
                    plural(lack - fetch, "was", "were"));
        else
            appendf(buf, len, &off, "; no worker advertises it and it cannot be offered: %s",
                    why);
    }
}
