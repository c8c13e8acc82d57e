/*
 * wrk_fetch.c: fetching a dataset from the coordinator; see wrk_fetch.h.
 *
 * States: IDLE (no transfer), WAITING (another process holds the fetch lock
 * of the dataset's directory: it is fetching the same dataset into the same
 * data dir; the tick tries the lock again), RUNNING (requests out, chunks
 * being written), VERIFYING (all bytes on disk; fsync, rename, load and
 * fingerprint on a thread-pool thread).
 *
 * Sharing a data dir (the quick start runs two workers on one): every
 * transfer holds an exclusive flock(2) on DIR/.fetch.lock from the offer
 * until its verification ended, taken without blocking (LOCK_NB).  A worker
 * that finds it taken waits, polling the lock from its housekeeping tick
 * (the loop never blocks), and then looks at what the holder left: final
 * files of the offered sizes are verified (loaded and fingerprinted) without
 * a transfer; anything else is fetched, resuming from the longest partial
 * file there.  Partial files carry the writer's pid and a random suffix
 * (FILE.partial.PID.RAND), so even without a working lock (a network file
 * system) two writers never write one file; the lock holder adopts a
 * leftover partial by renaming it to its own name, and the rename to the
 * final name is atomic, after which the whole copy is loaded and its
 * fingerprint checked again.
 *
 * In RUNNING, rx_* is the next byte expected (file
 * index and offset: bytes before it are on disk) and tx_* the next byte to
 * ask for; the requests between them are in flight.  Chunks arrive in the
 * order they were asked for (one connection, one ROUTER pipe), so a chunk
 * that is not exactly rx_* with the current xfer is either from an abandoned
 * window (other xfer: dropped) or a sign that requests were lost (restart the
 * window at rx_*).
 */
#include "wrk_fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

#define COMP "fetch"
/* A value for a log line, quoted and escaped (log.h): dataset and file names
 * come from the coordinator, directories from the operator; neither may add
 * a field or reach a terminal raw. */
#define Q(s) HPT_LOGQ(s)
#define PATH_LEN 4096
#define N_FILES HPT_DATASET_N_FILES
#define MAX_VERIFY_FAILURES 2      // a copy that fails twice is given up on
#define GIVE_UP_MS (10 * 60 * 1000)  // offers of a given-up dataset are ignored this long
#define LOCK_NAME ".fetch.lock"      // in the dataset's directory
#define PARTIAL ".partial"           // FILE.partial (older builds) or FILE.partial.PID.RAND
#define WAIT_LOG_MS (60 * 1000)      // a worker waiting for another's fetch says so this often

typedef enum fetch_state {
    FETCH_IDLE,
    FETCH_WAITING,
    FETCH_RUNNING,
    FETCH_VERIFYING
} fetch_state_t;

typedef struct fetch_file {
    char name[64];     // base name from the offer (validated: BASE or BASE.gz)
    char part[96];     // this process's partial file: NAME.partial.PID.RAND
    uint64_t size;     // bytes, from the offer
    uint64_t have;     // bytes on disk (final or partial)
    bool final;        // the final file is there (with the offer's size)
} fetch_file_t;

struct wrk_fetch {
    uv_loop_t *loop;
    char root[PATH_LEN];
    wrk_fetch_opts_t o;        // root points at the copy above
    wrk_fetch_send_fn send;
    wrk_fetch_done_fn done;
    void *ud;
    fetch_state_t state;
    bool stopped;

    // The transfer (valid unless IDLE).
    char dataset[PATH_LEN + 8];    // the offer's name
    char fp[65];                   // the offer's fingerprint
    uint64_t sweep;
    char dir[PATH_LEN];            // where the files go
    fetch_file_t files[N_FILES];
    int rx_file;                   // next byte expected: file index (N_FILES: all here)
    uint64_t rx_off;               // and offset
    int tx_file;                   // next byte to ask for
    uint64_t tx_off;
    int credit;                    // requests that may still be sent
    uint64_t xfer;                 // id of the current window
    int fd;                        // the partial file of rx_file, or -1
    int lock_fd;                   // DIR/.fetch.lock, flocked while not IDLE (else -1)
    uint64_t wait_logged;          // uv_now() the WAITING state was last logged
    uint64_t last_rx;              // uv_now() of the last chunk or window start
    uint64_t next_req;             // uv_now() the rate limit allows the next request
    int failures;                  // verifications failed for this offer
    uint64_t bytes_total, bytes_on_disk, bytes_rx;
    uint64_t t0;                   // uv_now() at the start

    // Verification (thread pool).
    uv_work_t work;
    hpt_dataset_t *ds;             // loaded by the work, owned
    int vrc;
    hpt_err verr;

    // A dataset given up on.
    char gave_up[PATH_LEN + 8];
    char gave_up_fp[65];
    uint64_t gave_up_until;
};

// --- small helpers -------------------------------------------------------

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Write dir/name[suffix] into path (PATH_LEN).  Returns 0 or -ENAMETOOLONG. */
static int join(char *path, const char *dir, const char *name, const char *suffix)
{
    size_t a = strlen(dir), b = strlen(name), c = strlen(suffix);
    if (a + 1 + b + c >= PATH_LEN)
        return -ENAMETOOLONG;
    memcpy(path, dir, a);
    path[a] = '/';
    memcpy(path + a + 1, name, b);
    memcpy(path + a + 1 + b, suffix, c + 1);
    return 0;
}

/* mkdir -p path (0755).  Returns 0 or -errno. */
static int mkdir_p(const char *path)
{
    char p[PATH_LEN];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof p)
        return -ENAMETOOLONG;
    memcpy(p, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char ch = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            return -errno;
        p[i] = ch;
    }
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* The directory a dataset is stored in, under root.  Returns 0 or -EINVAL
 * (a name this worker could not load back). */
static int dataset_dir(const wrk_fetch_t *f, const char *name, const char *fp, char *dir)
{
    int k;
    if (hpt_dataset_is_named(name))
        k = snprintf(dir, PATH_LEN, "%s/%s", f->root, name);
    else if (strncmp(name, "idx:", 4) == 0)
        k = snprintf(dir, PATH_LEN, "%s/idx-%.16s", f->root, fp);
    else
        return -EINVAL;
    // hpt_dataset_find needs room for the file names after the directory.
    return k < 0 || k + 40 > PATH_LEN ? -ENAMETOOLONG : 0;
}

static void close_fd(wrk_fetch_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Open the partial file of rx_file for writing (created if missing). */
static int open_partial(wrk_fetch_t *f)
{
    close_fd(f);
    if (f->rx_file >= N_FILES)
        return 0;
    char path[PATH_LEN];
    int rc = join(path, f->dir, f->files[f->rx_file].part, "");
    if (rc < 0)
        return rc;
    f->fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    return f->fd < 0 ? -errno : 0;
}

/* The first file at or after i that still needs bytes, or N_FILES. */
static int next_incomplete(const wrk_fetch_t *f, int i)
{
    while (i < N_FILES && f->files[i].have >= f->files[i].size)
        i++;
    return i;
}

/* Whether dir entry `entry` is a partial file of file name `name`: NAME.partial
 * (older builds) or NAME.partial.SUFFIX. */
static bool is_partial_of(const char *entry, const char *name)
{
    size_t n = strlen(name), p = strlen(PARTIAL);
    return strncmp(entry, name, n) == 0 && strncmp(entry + n, PARTIAL, p) == 0 &&
           (entry[n + p] == '\0' || entry[n + p] == '.');
}

/* Remove the partial files of file i but `keep` (a name in the directory, or
 * NULL).  Called with the lock held: no other process is writing them. */
static void remove_partials(wrk_fetch_t *f, int i, const char *keep)
{
    DIR *d = opendir(f->dir);
    if (!d)
        return;
    char path[PATH_LEN];
    for (struct dirent *e; (e = readdir(d));)
        if (is_partial_of(e->d_name, f->files[i].name) && (!keep || strcmp(e->d_name, keep)) &&
            join(path, f->dir, e->d_name, "") == 0)
            unlink(path);
    closedir(d);
}

/* Delete the offered files (final and partial) from the directory. */
static void delete_files(wrk_fetch_t *f)
{
    char path[PATH_LEN];
    for (int i = 0; i < N_FILES; i++) {
        if (join(path, f->dir, f->files[i].name, "") == 0)
            unlink(path);
        remove_partials(f, i, NULL);
        f->files[i].have = 0;
        f->files[i].final = false;
    }
}

/* Take the fetch lock of f->dir without blocking.  Returns 1 when taken, 0
 * when another process holds it, or -errno. */
static int lock_take(wrk_fetch_t *f)
{
    if (f->lock_fd < 0) {
        char path[PATH_LEN];
        int rc = join(path, f->dir, LOCK_NAME, "");
        if (rc < 0)
            return rc;
        f->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (f->lock_fd < 0)
            return -errno;
    }
    while (flock(f->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? 0 : -errno;
    }
    return 1;
}

/* Release the lock (closing the file releases it). */
static void lock_release(wrk_fetch_t *f)
{
    if (f->lock_fd >= 0)
        close(f->lock_fd);
    f->lock_fd = -1;
}

static void give_up(wrk_fetch_t *f)
{
    snprintf(f->gave_up, sizeof f->gave_up, "%s", f->dataset);
    memcpy(f->gave_up_fp, f->fp, sizeof f->gave_up_fp);
    f->gave_up_until = uv_now(f->loop) + GIVE_UP_MS;
    lock_release(f);
}

/* End the transfer (what is on disk stays) and let other processes at it. */
static void to_idle(wrk_fetch_t *f)
{
    close_fd(f);
    lock_release(f);
    f->state = FETCH_IDLE;
}

// --- the transfer --------------------------------------------------------

/* Look at what is on disk for the offered files: final files of the right
 * size are done, partial files give the offset to resume from.  Returns 0,
 * or a negative errno with err saying why the offer cannot be taken. */
static int scan_files(wrk_fetch_t *f, hpt_err *err)
{
    f->bytes_total = f->bytes_on_disk = 0;
    for (int i = 0; i < N_FILES; i++) {
        fetch_file_t *ff = &f->files[i];
        char path[PATH_LEN];
        struct stat st;
        int rc = join(path, f->dir, ff->name, "");
        if (rc < 0)
            return hpt_err_set(err, rc, "%s/%s: path too long", f->dir, ff->name);
        ff->have = 0;
        ff->final = false;
        f->bytes_total += ff->size;
        if (stat(path, &st) == 0) {
            if ((uint64_t)st.st_size != ff->size)
                return hpt_err_set(err, -EEXIST,
                                   "%s exists with %lld bytes, the coordinator's copy has %" PRIu64
                                   ": not replacing it (move it away or use another --data-dir)",
                                   path, (long long)st.st_size, ff->size);
            ff->have = ff->size;
            ff->final = true;
            f->bytes_on_disk += ff->size;
            continue;
        }
        /* Partial files left by a process that stopped (or by our own
         * earlier transfer): the lock is ours, so nobody writes them now.
         * Resume from the longest that is not longer than the file, under
         * our own name; the rest go. */
        char best[256] = "";
        uint64_t best_size = 0;
        DIR *d = opendir(f->dir);
        if (!d)
            return hpt_err_set(err, -errno, "%s: %s", f->dir, strerror(errno));
        for (struct dirent *e; (e = readdir(d));) {
            if (!is_partial_of(e->d_name, ff->name) || join(path, f->dir, e->d_name, "") < 0 ||
                lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if ((uint64_t)st.st_size <= ff->size &&
                (!best[0] || (uint64_t)st.st_size > best_size)) {
                snprintf(best, sizeof best, "%s", e->d_name);
                best_size = (uint64_t)st.st_size;
            }
        }
        closedir(d);
        remove_partials(f, i, best[0] ? best : NULL);
        if (best[0] && strcmp(best, ff->part) != 0) {
            char to[PATH_LEN];
            if (join(path, f->dir, best, "") == 0 && join(to, f->dir, ff->part, "") == 0 &&
                rename(path, to) != 0) {
                unlink(path);
                best[0] = '\0';
            }
        }
        if (best[0]) {
            ff->have = best_size;
            f->bytes_on_disk += ff->have;
        }
    }
    return 0;
}

static void pump(wrk_fetch_t *f);
static void start_verify(wrk_fetch_t *f);

/* (Re)start the window at the first byte not on disk. */
static void restart_window(wrk_fetch_t *f)
{
    f->xfer++;
    f->credit = f->o.window;
    f->tx_file = f->rx_file;
    f->tx_off = f->rx_off;
    f->last_rx = uv_now(f->loop);
    pump(f);
}

/* Start fetching what scan_files left to fetch (or verify at once). */
static void start_transfer(wrk_fetch_t *f)
{
    f->rx_file = next_incomplete(f, 0);
    f->rx_off = f->rx_file < N_FILES ? f->files[f->rx_file].have : 0;
    f->bytes_rx = 0;
    f->t0 = uv_now(f->loop);
    f->next_req = f->t0;
    if (f->rx_file >= N_FILES) {
        start_verify(f);
        return;
    }
    int rc = open_partial(f);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot write the dataset", "dataset=%s dir=%s error=\"%s\"",
                Q(f->dataset), Q(f->dir), hpt_strerror(rc));
        give_up(f);
        to_idle(f);
        return;
    }
    f->state = FETCH_RUNNING;
    restart_window(f);
}

/* Send requests while there is credit (and the rate limit allows). */
static void pump(wrk_fetch_t *f)
{
    if (f->state != FETCH_RUNNING || f->stopped)
        return;
    uint64_t now = uv_now(f->loop);
    while (f->credit > 0 && f->tx_file < N_FILES) {
        if (f->o.rate_bytes_s > 0 && now < f->next_req)
            break;
        fetch_file_t *ff = &f->files[f->tx_file];
        uint32_t n = (uint32_t)min_u64((uint64_t)f->o.chunk_bytes, ff->size - f->tx_off);
        Hpt__FetchChunk m = HPT__FETCH_CHUNK__INIT;
        m.dataset = f->dataset;
        m.fingerprint = f->fp;
        m.file = ff->name;
        m.offset = f->tx_off;
        m.size = n;
        m.xfer = f->xfer;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_FETCH_CHUNK;
        env.fetch_chunk = &m;
        if (f->send(f->ud, &env) < 0)
            break;  // no connection now: the tick tries again
        f->credit--;
        f->tx_off += n;
        if (f->tx_off >= ff->size) {
            f->tx_file = next_incomplete(f, f->tx_file + 1);
            f->tx_off = f->tx_file < N_FILES ? f->files[f->tx_file].have : 0;
        }
        if (f->o.rate_bytes_s > 0)
            f->next_req = (f->next_req > now ? f->next_req : now) +
                          (uint64_t)n * 1000 / (uint64_t)f->o.rate_bytes_s;
    }
}

/* Write all of buf at off.  Returns 0 or -errno. */
static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t k = pwrite(fd, buf, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EIO;
        buf += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

// --- verification (thread pool) ------------------------------------------

/* Make the received files durable and final, then load and fingerprint the
 * dataset.  Runs on a thread-pool thread: reads f->dir and f->files, which
 * the loop does not change in VERIFYING, and writes only f->ds, vrc, verr. */
static void verify_work(uv_work_t *req)
{
    wrk_fetch_t *f = req->data;
    f->vrc = 0;
    char part[PATH_LEN], final[PATH_LEN];
    for (int i = 0; i < N_FILES && f->vrc == 0; i++) {
        if (f->files[i].final)
            continue;
        join(part, f->dir, f->files[i].part, "");
        join(final, f->dir, f->files[i].name, "");
        int fd = open(part, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0 || rename(part, final) != 0)
            f->vrc = hpt_err_set(&f->verr, -errno, "%s: %s", part, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (f->vrc == 0) {
        // The renames are durable once the directory is.
        int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        char name[PATH_LEN + 8];
        snprintf(name, sizeof name, "idx:%s", f->dir);
        f->vrc = hpt_dataset_load(&f->ds, name, NULL, &f->verr);
    }
}

static void verify_after(uv_work_t *req, int status)
{
    wrk_fetch_t *f = req->data;
    hpt_dataset_t *ds = f->ds;
    f->ds = NULL;
    f->state = FETCH_IDLE;
    if (f->stopped || status == UV_ECANCELED) {
        lock_release(f);
        hpt_dataset_destroy(&ds);
        return;
    }
    char why[HPT_ERR_MSG_LEN + 160];
    if (f->vrc == 0 && strcmp(ds->fingerprint, f->fp) == 0) {
        lock_release(f);   // the copy is final and verified: others may load it
        double secs = (double)(uv_now(f->loop) - f->t0) * 1e-3;
        snprintf(ds->name, sizeof ds->name, "%s", f->dataset);
        hpt_log(HPT_LOG_INFO, COMP, "dataset fetched", "dataset=%s fingerprint=%s dir=%s "
                "bytes=%" PRIu64 " fetched=%" PRIu64 " on_disk=%" PRIu64 " seconds=%.2f",
                Q(f->dataset), f->fp, Q(f->dir), f->bytes_total, f->bytes_rx, f->bytes_on_disk, secs);
        f->done(f->ud, &ds);
        hpt_dataset_destroy(&ds);  // when the callee did not take it
        return;
    }
    if (f->vrc == 0)
        snprintf(why, sizeof why, "fingerprint %s, the offer says %s", ds->fingerprint, f->fp);
    else
        snprintf(why, sizeof why, "%s", f->verr.msg);
    hpt_dataset_destroy(&ds);
    char q[sizeof why + 8];
    hpt_log_quote(why, q, sizeof q);
    /* Which file is bad is unknown (the fingerprint covers all four), so all
     * of them go; they are ours: each had the offered size. */
    delete_files(f);
    if (++f->failures < MAX_VERIFY_FAILURES) {
        hpt_log(HPT_LOG_WARN, COMP, "fetched dataset failed verification; fetching it again",
                "dataset=%s dir=%s error=%s", Q(f->dataset), Q(f->dir), q);
        hpt_err err = {0};
        if (scan_files(f, &err) < 0) {
            hpt_log(HPT_LOG_ERROR, COMP, "cannot fetch the dataset", "dataset=%s error=%s",
                    Q(f->dataset), Q(err.msg));
            give_up(f);
            return;
        }
        start_transfer(f);
        return;
    }
    hpt_log(HPT_LOG_ERROR, COMP, "fetched dataset failed verification again; giving up",
            "dataset=%s dir=%s error=%s note=\"the worker takes no task of this dataset; its "
            "offers are ignored for %d minutes\"", Q(f->dataset), Q(f->dir), q, GIVE_UP_MS / 60000);
    give_up(f);
}

static void start_verify(wrk_fetch_t *f)
{
    close_fd(f);
    f->state = FETCH_VERIFYING;
    f->work.data = f;
    f->ds = NULL;
    f->verr = (hpt_err){0};
    int rc = uv_queue_work(f->loop, &f->work, verify_work, verify_after);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot verify the dataset", "dataset=%s error=\"%s\"",
                Q(f->dataset), hpt_strerror(rc));
        to_idle(f);
    }
}

// --- the interface -------------------------------------------------------

int wrk_fetch_new(wrk_fetch_t **out, uv_loop_t *loop, const wrk_fetch_opts_t *opts,
                  wrk_fetch_send_fn send, wrk_fetch_done_fn done, void *ud)
{
    *out = NULL;
    if (!opts->root || strlen(opts->root) >= PATH_LEN - 64 || opts->chunk_bytes < 1 ||
        opts->chunk_bytes > HPT_PROTO_MAX_CHUNK || opts->window < 1 || opts->rate_bytes_s < 0 ||
        opts->stall_ms < 1 || !send || !done)
        return -EINVAL;
    wrk_fetch_t *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->loop = loop;
    snprintf(f->root, sizeof f->root, "%s", opts->root);
    f->o = *opts;
    f->o.root = f->root;
    f->send = send;
    f->done = done;
    f->ud = ud;
    f->fd = -1;
    f->lock_fd = -1;
    // Any start will do: xfer only has to differ between windows.
    f->xfer = uv_hrtime() << 16;
    *out = f;
    return 0;
}

void wrk_fetch_destroy(wrk_fetch_t **p)
{
    if (!p || !*p)
        return;
    wrk_fetch_t *f = *p;
    close_fd(f);
    lock_release(f);
    hpt_dataset_destroy(&f->ds);
    free(f);
    *p = NULL;
}

const char *wrk_fetch_current(const wrk_fetch_t *f)
{
    return f->state == FETCH_IDLE ? NULL : f->dataset;
}

/* With the lock held: look at what is on disk, then fetch what is missing
 * (or verify at once). */
static void begin(wrk_fetch_t *f)
{
    hpt_err err = {0};
    char q[HPT_ERR_MSG_LEN + 8];
    if (scan_files(f, &err) < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "offer refused", "dataset=%s error=%s", Q(f->dataset),
                hpt_log_quote(err.msg, q, sizeof q));
        give_up(f);
        to_idle(f);
        return;
    }
    hpt_log(HPT_LOG_INFO, COMP, "fetch started", "dataset=%s fingerprint=%.12s sweep=%" PRIu64
            " dir=%s bytes=%" PRIu64 " on_disk=%" PRIu64 " chunk=%d window=%d"
            " rate_bytes_s=%" PRId64,
            Q(f->dataset), f->fp, f->sweep, Q(f->dir), f->bytes_total, f->bytes_on_disk,
            f->o.chunk_bytes, f->o.window, f->o.rate_bytes_s);
    start_transfer(f);
}

void wrk_fetch_offer(wrk_fetch_t *f, const Hpt__DatasetOffer *m)
{
    if (f->stopped)
        return;
    if (f->state != FETCH_IDLE) {
        bool same = strcmp(m->dataset, f->dataset) == 0 && strcmp(m->fingerprint, f->fp) == 0;
        hpt_log(HPT_LOG_DEBUG, COMP, same ? "offer ignored: already fetching it"
                                          : "offer ignored: fetching another dataset",
                "dataset=%s fetching=%s", Q(m->dataset), Q(f->dataset));
        return;
    }
    if (strcmp(m->dataset, f->gave_up) == 0 && strcmp(m->fingerprint, f->gave_up_fp) == 0 &&
        uv_now(f->loop) < f->gave_up_until) {
        hpt_log(HPT_LOG_DEBUG, COMP, "offer ignored: gave up on this dataset", "dataset=%s",
                Q(m->dataset));
        return;
    }
    if (strlen(m->dataset) >= sizeof f->dataset) {
        hpt_log(HPT_LOG_WARN, COMP, "offer ignored: dataset name too long", "%s", "");
        return;
    }
    int rc = dataset_dir(f, m->dataset, m->fingerprint, f->dir);
    if (rc < 0) {
        hpt_log(HPT_LOG_WARN, COMP, "offer ignored: cannot store this dataset",
                "dataset=%s error=\"%s\"", Q(m->dataset),
                rc == -EINVAL ? "not " HPT_DATASET_NAMES_TEXT " or idx:DIR"
                              : "data dir path too long");
        return;
    }
    snprintf(f->dataset, sizeof f->dataset, "%s", m->dataset);
    snprintf(f->fp, sizeof f->fp, "%s", m->fingerprint);
    f->sweep = m->sweep;
    f->failures = 0;
    /* This process's partial files: unique even to another process on
     * another machine writing into the same directory. */
    uint32_t rnd = randombytes_random();
    for (int i = 0; i < N_FILES; i++) {
        snprintf(f->files[i].name, sizeof f->files[i].name, "%s", m->files[i]->name);
        snprintf(f->files[i].part, sizeof f->files[i].part, "%s" PARTIAL ".%ld.%08" PRIx32,
                 f->files[i].name, (long)getpid(), rnd);
        f->files[i].size = m->files[i]->size;
    }
    if ((rc = mkdir_p(f->dir)) < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot create the dataset directory",
                "dataset=%s dir=%s error=\"%s\"", Q(f->dataset), Q(f->dir), hpt_strerror(rc));
        give_up(f);
        return;
    }
    rc = lock_take(f);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot lock the dataset directory",
                "dataset=%s dir=%s lock=" LOCK_NAME " error=\"%s\"", Q(f->dataset), Q(f->dir),
                hpt_strerror(rc));
        give_up(f);
        return;
    }
    if (rc == 0) {
        /* Another process (a worker sharing this data dir) is fetching it:
         * wait for its result instead of fetching too. */
        f->state = FETCH_WAITING;
        f->wait_logged = uv_now(f->loop);
        hpt_log(HPT_LOG_INFO, COMP, "another process is fetching this dataset into the same "
                "directory; waiting for it", "dataset=%s dir=%s lock=" LOCK_NAME, Q(f->dataset),
                Q(f->dir));
        return;
    }
    begin(f);
}

void wrk_fetch_chunk(wrk_fetch_t *f, const Hpt__DatasetChunk *m)
{
    if (f->state != FETCH_RUNNING || strcmp(m->dataset, f->dataset) != 0 || m->xfer != f->xfer) {
        hpt_log(HPT_LOG_DEBUG, COMP, "chunk of no current request dropped",
                "dataset=%s file=%s offset=%" PRIu64, Q(m->dataset), Q(m->file), m->offset);
        return;
    }
    uint64_t now = uv_now(f->loop);
    f->last_rx = now;
    char q[HPT_ERR_MSG_LEN + 8];
    if (m->error[0]) {
        hpt_log(HPT_LOG_ERROR, COMP, "fetch refused by the coordinator",
                "dataset=%s file=%s offset=%" PRIu64 " reason=%s on_disk=%" PRIu64,
                Q(f->dataset), Q(m->file), m->offset, hpt_log_quote(m->error, q, sizeof q),
                f->bytes_on_disk + f->bytes_rx);
        to_idle(f);
        return;
    }
    fetch_file_t *ff = f->rx_file < N_FILES ? &f->files[f->rx_file] : NULL;
    if (!ff || strcmp(m->file, ff->name) != 0 || m->offset != f->rx_off) {
        hpt_log(HPT_LOG_WARN, COMP, "chunk out of order; asking again",
                "dataset=%s file=%s offset=%" PRIu64 " expected_file=%s expected_offset=%" PRIu64,
                Q(f->dataset), Q(m->file), m->offset, ff ? Q(ff->name) : "none", f->rx_off);
        restart_window(f);
        return;
    }
    if (m->file_size != ff->size) {
        hpt_log(HPT_LOG_ERROR, COMP, "the coordinator's copy changed during the transfer",
                "dataset=%s file=%s size=%" PRIu64 " offered=%" PRIu64, Q(f->dataset), Q(ff->name),
                m->file_size, ff->size);
        char path[PATH_LEN];
        if (join(path, f->dir, ff->part, "") == 0)
            unlink(path);
        to_idle(f);
        return;
    }
    uint64_t want = min_u64((uint64_t)f->o.chunk_bytes, ff->size - f->rx_off);
    if (m->data.len != want) {
        hpt_log(HPT_LOG_WARN, COMP, "chunk of the wrong length; asking again",
                "dataset=%s file=%s offset=%" PRIu64 " bytes=%zu expected=%" PRIu64, Q(f->dataset),
                Q(ff->name), m->offset, m->data.len, want);
        restart_window(f);
        return;
    }
    int rc = pwrite_all(f->fd, m->data.data, m->data.len, m->offset);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, COMP, "cannot write the dataset", "dataset=%s file=%s/%s "
                "error=\"%s\"", Q(f->dataset), Q(f->dir), Q(ff->part), hpt_strerror(rc));
        give_up(f);
        to_idle(f);
        return;
    }
    f->rx_off += m->data.len;
    f->bytes_rx += m->data.len;
    ff->have = f->rx_off;
    f->credit++;
    if (f->rx_off >= ff->size) {
        hpt_log(HPT_LOG_DEBUG, COMP, "file received", "dataset=%s file=%s bytes=%" PRIu64,
                Q(f->dataset), Q(ff->name), ff->size);
        f->rx_file = next_incomplete(f, f->rx_file + 1);
        f->rx_off = f->rx_file < N_FILES ? f->files[f->rx_file].have : 0;
        if (f->rx_file >= N_FILES) {
            start_verify(f);
            return;
        }
        if ((rc = open_partial(f)) < 0) {
            hpt_log(HPT_LOG_ERROR, COMP, "cannot write the dataset", "dataset=%s dir=%s "
                    "error=\"%s\"", Q(f->dataset), Q(f->dir), hpt_strerror(rc));
            give_up(f);
            to_idle(f);
            return;
        }
    }
    pump(f);
}

void wrk_fetch_reconnected(wrk_fetch_t *f)
{
    if (f->state != FETCH_RUNNING || f->stopped)
        return;
    hpt_log(HPT_LOG_INFO, COMP, "new connection; asking again", "dataset=%s file=%s "
            "offset=%" PRIu64, Q(f->dataset), Q(f->files[f->rx_file].name), f->rx_off);
    restart_window(f);
}

void wrk_fetch_tick(wrk_fetch_t *f)
{
    if (f->stopped)
        return;
    if (f->state == FETCH_WAITING) {
        int rc = lock_take(f);
        uint64_t now = uv_now(f->loop);
        if (rc == 0 && now - f->wait_logged >= WAIT_LOG_MS) {
            f->wait_logged = now;
            hpt_log(HPT_LOG_INFO, COMP, "still waiting for another process's fetch",
                    "dataset=%s dir=%s", Q(f->dataset), Q(f->dir));
        }
        if (rc == 0)
            return;
        if (rc < 0) {
            hpt_log(HPT_LOG_ERROR, COMP, "cannot lock the dataset directory",
                    "dataset=%s dir=%s error=\"%s\"", Q(f->dataset), Q(f->dir), hpt_strerror(rc));
            give_up(f);
            to_idle(f);
            return;
        }
        hpt_log(HPT_LOG_INFO, COMP, "the other process's fetch ended; using what it left",
                "dataset=%s dir=%s", Q(f->dataset), Q(f->dir));
        begin(f);
        return;
    }
    if (f->state != FETCH_RUNNING)
        return;
    uint64_t now = uv_now(f->loop);
    if (f->credit < f->o.window && now - f->last_rx > (uint64_t)f->o.stall_ms) {
        hpt_log(HPT_LOG_WARN, COMP, "no chunk for a while; asking again",
                "dataset=%s file=%s offset=%" PRIu64 " silent_ms=%" PRIu64, Q(f->dataset),
                Q(f->files[f->rx_file].name), f->rx_off, now - f->last_rx);
        restart_window(f);
        return;
    }
    pump(f);
}

void wrk_fetch_stop(wrk_fetch_t *f)
{
    if (f->stopped)
        return;
    f->stopped = true;
    if (f->state == FETCH_WAITING) {
        to_idle(f);
    } else if (f->state == FETCH_RUNNING) {
        hpt_log(HPT_LOG_INFO, COMP, "fetch interrupted; the bytes received are kept for later",
                "dataset=%s on_disk=%" PRIu64 " bytes=%" PRIu64, Q(f->dataset),
                f->bytes_on_disk + f->bytes_rx, f->bytes_total);
        to_idle(f);
    } else if (f->state == FETCH_VERIFYING) {
        uv_cancel((uv_req_t *)&f->work);  // when it has not started; else it runs to its end
    }
}
