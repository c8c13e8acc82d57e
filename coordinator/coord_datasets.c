/*
 * coord_datasets.c: serving datasets to workers that lack them
 * (docs/protocol.md, "Dataset transfer").
 *
 * The scheduler calls coord_datasets_offer when a worker with free slots
 * lacks the dataset of a runnable sweep; the worker then asks for the four
 * IDX files chunk by chunk (FetchChunk), keeping a window of requests
 * outstanding (credit-based flow control, the ZeroMQ guide's fileio3).  The
 * coordinator keeps no per-transfer state: every request names the dataset,
 * its fingerprint, the file, the offset and the size, and is checked on its
 * own.  A request is served only when
 *   - the dataset and fingerprint are those of a queued or running sweep,
 *   - the file is one of that dataset's four files in the coordinator's own
 *     copy (its --data-dir for named datasets, DIR for idx:DIR),
 * and refused with DatasetChunk.error (logged with the peer) otherwise.
 *
 * Reads are plain pread calls of at most HPT_PROTO_MAX_CHUNK (the worker
 * asks for 256 KiB by default) on the loop thread: a page-cache read of that
 * size takes tens of microseconds, and a cold read one disk access, which the
 * window bounds per worker.  Only the worker's window of requests is ever
 * queued, so a slow worker costs no coordinator memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coord.h"
#include "dataset.h"
#include "log.h"

#define COMP "datasets"
#define PATH_LEN 4096
#define OFFER_IVL_S 10.0   // a worker is offered a dataset at most this often

// coord_log_allowed kinds (main.c uses 0, the core 1 and 2).
enum { LOG_OFFER = 10, LOG_NO_COPY = 11, LOG_REFUSED = 12 };

static bool runnable(const coord_sweep_t *s)
{
    return s->state == SWEEP_QUEUED || s->state == SWEEP_RUNNING ||
           s->state == SWEEP_REFITTING;
}

/* A queued or running sweep of this dataset and fingerprint, or NULL. */
static const coord_sweep_t *serving_sweep(coord_t *c, const char *name, const char *fp)
{
    for (const coord_sweep_t *s = c->core.sweeps; s; s = s->next)
        if (runnable(s) && strcmp(s->spec->dataset, name) == 0 &&
            strcmp(s->fingerprint, fp) == 0)
            return s;
    return NULL;
}

/* The coordinator's copy of a dataset: its directory (PATH_LEN). */
static int copy_dir(coord_t *c, const char *name, char *dir, hpt_err *err)
{
    return hpt_dataset_find(name, c->cfg.data_dir[0] ? c->cfg.data_dir : NULL, dir, PATH_LEN,
                            err);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

// --- offers ----------------------------------------------------------------

void coord_datasets_offer(coord_t *c, coord_worker_t *w, const coord_sweep_t *s)
{
    double now = coord_now();
    if (w->draining || !runnable(s) || (w->offer_at > 0 && now - w->offer_at < OFFER_IVL_S))
        return;
    w->offer_at = now;
    char id[80];
    hpt_peer_id_str(&w->peer, id, sizeof id);
    /* Without a fingerprint (an idx: dataset the coordinator does not have,
     * before a worker advertised it) there is nothing to verify a copy
     * against, and nothing to serve either. */
    char dir[PATH_LEN];
    hpt_err err = {0};
    if (strlen(s->fingerprint) != 64 || copy_dir(c, s->spec->dataset, dir, &err) < 0) {
        char qw[600], qd[1100];
        if (coord_log_allowed(c, &w->peer, LOG_NO_COPY, 1))
            hpt_log(HPT_LOG_INFO, COMP,
                    "cannot offer the sweep's dataset: the coordinator has no copy",
                    "sweep=%llu worker=%s dataset=%s peer=%s", (unsigned long long)s->id,
                    hpt_log_quote(w->id, qw, sizeof qw),
                    hpt_log_quote(s->spec->dataset, qd, sizeof qd), id);
        return;
    }
    Hpt__DatasetFile files[HPT_DATASET_N_FILES];
    Hpt__DatasetFile *fp[HPT_DATASET_N_FILES];
    char path[HPT_DATASET_N_FILES][PATH_LEN];
    uint64_t total = 0;
    for (int i = 0; i < HPT_DATASET_N_FILES; i++) {
        struct stat st;
        if (hpt_dataset_file_path(dir, i, path[i], PATH_LEN) < 0 || stat(path[i], &st) != 0 ||
            st.st_size <= 0 || (uint64_t)st.st_size > HPT_PROTO_MAX_FILE) {
            char qd[1100], qdir[1100];
            hpt_log(HPT_LOG_WARN, COMP, "cannot offer the sweep's dataset: a file is unusable",
                    "sweep=%llu dataset=%s dir=%s file=%s", (unsigned long long)s->id,
                    hpt_log_quote(s->spec->dataset, qd, sizeof qd),
                    hpt_log_quote(dir, qdir, sizeof qdir), hpt_dataset_file_base(i));
            return;
        }
        hpt__dataset_file__init(&files[i]);
        files[i].name = (char *)base_name(path[i]);
        files[i].size = (uint64_t)st.st_size;
        fp[i] = &files[i];
        total += files[i].size;
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
    char qw[600], qd[1100];
    hpt_log(lvl, COMP,
            rc == 0 ? "dataset offered" : "dataset offer not sent",
            "sweep=%llu worker=%s dataset=%s fingerprint=%.12s bytes=%" PRIu64 " peer=%s",
            (unsigned long long)s->id, hpt_log_quote(w->id, qw, sizeof qw),
            hpt_log_quote(s->spec->dataset, qd, sizeof qd), s->fingerprint, total, id);
}

// --- chunks ----------------------------------------------------------------

/* Read up to want bytes at off from path into a new buffer.  Returns 0 with
 * *out (owned), *n and *size (the file's), or -errno with why (why_len bytes)
 * saying what went wrong in words a peer may read (no paths). */
static int read_chunk(const char *path, uint64_t off, uint32_t want, uint8_t **out, size_t *n,
                      uint64_t *size, char *why, size_t why_len)
{
    *out = NULL;
    *n = 0;
    int rc = 0;
    uint8_t *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        snprintf(why, why_len, "cannot read the file: %s", strerror(errno));
        goto out;
    }
    *size = (uint64_t)st.st_size;
    if (off > *size) {
        rc = -EINVAL;
        snprintf(why, why_len, "offset %" PRIu64 " is past the end of the file (%" PRIu64
                 " bytes)", off, *size);
        goto out;
    }
    size_t len = (size_t)(*size - off < want ? *size - off : want);
    buf = malloc(len ? len : 1);
    if (!buf) {
        rc = -ENOMEM;
        snprintf(why, why_len, "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t k = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = k < 0 ? -errno : -EIO;
            snprintf(why, why_len, "cannot read the file: %s",
                     k < 0 ? strerror(errno) : "it became shorter");
            goto out;
        }
        got += (size_t)k;
    }
    *out = buf;
    *n = len;
    buf = NULL;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

void coord_on_fetch(coord_t *c, coord_worker_t *w, const Hpt__FetchChunk *m)
{
    char why[512] = "";
    char dir[PATH_LEN], path[PATH_LEN];
    uint8_t *data = NULL;
    size_t n = 0;
    uint64_t size = 0;
    hpt_err err = {0};
    const coord_sweep_t *s = serving_sweep(c, m->dataset, m->fingerprint);
    bool found = false;
    if (!s) {
        snprintf(why, sizeof why, "dataset %.200s with fingerprint %.12s is not the dataset of a "
                 "queued or running sweep", m->dataset, m->fingerprint);
    } else if (copy_dir(c, m->dataset, dir, &err) < 0) {
        snprintf(why, sizeof why, "the coordinator has no copy of dataset %.200s", m->dataset);
    } else {
        for (int i = 0; i < HPT_DATASET_N_FILES && !found; i++)
            found = hpt_dataset_file_path(dir, i, path, sizeof path) == 0 &&
                    strcmp(base_name(path), m->file) == 0;
        if (!found)
            snprintf(why, sizeof why, "the coordinator's copy of %.200s has no file %s",
                     m->dataset, m->file);
        else
            read_chunk(path, m->offset, m->size, &data, &n, &size, why, sizeof why);
    }

    char id[80];
    hpt_peer_id_str(&w->peer, id, sizeof id);
    Hpt__DatasetChunk r = HPT__DATASET_CHUNK__INIT;
    r.dataset = m->dataset;
    r.file = m->file;
    r.offset = m->offset;
    r.xfer = m->xfer;
    if (why[0]) {
        r.error = why;
        char q[600], qw[600], qd[1100], qf[300];
        if (coord_log_allowed(c, &w->peer, LOG_REFUSED, 5))
            hpt_log(HPT_LOG_WARN, COMP, "dataset request refused",
                    "worker=%s peer=%s dataset=%s file=%s offset=%" PRIu64 " reason=%s",
                    hpt_log_quote(w->id, qw, sizeof qw), id,
                    hpt_log_quote(m->dataset, qd, sizeof qd), hpt_log_quote(m->file, qf, sizeof qf),
                    m->offset, hpt_log_quote(why, q, sizeof q));
    } else {
        r.data.data = data;
        r.data.len = n;
        r.file_size = size;
        /* One line per stream, not per chunk: a request that does not
         * continue the previous one starts a file, or resumes one. */
        char qw[600], qd[1100];
        if (strcmp(w->serve_file, m->file) != 0 || w->serve_next != m->offset)
            hpt_log(HPT_LOG_INFO, COMP, "serving dataset file",
                    "worker=%s peer=%s sweep=%llu dataset=%s file=%s offset=%" PRIu64
                    " size=%" PRIu64, hpt_log_quote(w->id, qw, sizeof qw), id,
                    (unsigned long long)s->id, hpt_log_quote(m->dataset, qd, sizeof qd), m->file,
                    m->offset, size);
        snprintf(w->serve_file, sizeof w->serve_file, "%s", m->file);
        w->serve_next = m->offset + n;
        w->bytes_served += n;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_DATASET_CHUNK;
    env.dataset_chunk = &r;
    coord_send(c, &w->peer, &env);   // a lost chunk: the worker asks again
    free(data);
}
