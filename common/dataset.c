/*
 * dataset.c: find a dataset directory by name and load its four IDX files
 * (see dataset.h).
 *
 * The search path is fixed and short so that an error can list every place
 * it looked.  Loading reads the files through hpt_idx_read (which validates
 * each one on its own), then checks that they agree with each other: image
 * and label counts per split, one image shape for both splits.  The pixel and
 * label buffers are taken over from the hpt_idx_t values without copying.
 */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hpt_config.h"
#include "idx.h"

#define PATH_LEN 4096  // matches hpt_dataset_t.dir

// The four files, in fingerprint order.
enum { TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS, N_FILES };
static const char *const file_base[N_FILES] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};

// Where named datasets live when the caller gives no data dir, in order.  The
// second is the meson option system_data_dir (default /var/lib/hptune/data); the
// third is the Debian-style location, tried too because packagers and admins
// use it.  Duplicates are skipped.
static const char *const default_roots[] = {"data", HPT_DATADIR_SYSTEM, "/var/lib/hptune/data"};
#define N_DEFAULT_ROOTS (sizeof default_roots / sizeof default_roots[0])

// The named datasets; HPT_DATASET_NAMES_TEXT lists the same names.
const char *const hpt_dataset_names[] = {"mnist", "mnist-10k", "fashion-mnist", NULL};

bool hpt_dataset_is_named(const char *name)
{
    for (int i = 0; name && hpt_dataset_names[i]; i++)
        if (strcmp(name, hpt_dataset_names[i]) == 0)
            return true;
    return false;
}

// ---------------------------------------------------------------------------
// Finding files.

/* Whether path exists and is not a directory (symlinks followed). */
static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* Write the path of dir/base.gz, else dir/base, into path (PATH_LEN).
 * Returns 0, -ENOENT when neither exists, -ENAMETOOLONG. */
static int resolve_file(const char *dir, const char *base, char *path)
{
    // The compressed form is how the datasets are distributed, so it wins
    // when both exist; their decompressed bytes (and fingerprints) are the
    // same anyway.
    int k = snprintf(path, PATH_LEN, "%s/%s.gz", dir, base);
    if (k < 0 || k >= PATH_LEN)
        return -ENAMETOOLONG;
    if (is_file(path))
        return 0;
    path[k - 3] = '\0';
    return is_file(path) ? 0 : -ENOENT;
}

/* Index of the first of the four files missing from dir, or -1 if all are
 * there. */
static int first_missing(const char *dir)
{
    char path[PATH_LEN];
    for (int i = 0; i < N_FILES; i++)
        if (resolve_file(dir, file_base[i], path) < 0)
            return i;
    return -1;
}

static bool dir_exists(const char *dir)
{
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Copy src into dst (len bytes); -EINVAL if it does not fit. */
static int copy_str(char *dst, size_t len, const char *src)
{
    size_t n = strlen(src);
    if (n >= len)
        return -EINVAL;
    memcpy(dst, src, n + 1);
    return 0;
}

int hpt_dataset_find(const char *name, const char *data_dir, char *dir, size_t len, hpt_err *err)
{
    if (!name || !dir || len == 0)
        return hpt_err_set(err, -EINVAL, "hpt_dataset_find: NULL name or empty output buffer");

    if (strncmp(name, "idx:", 4) == 0) {
        const char *d = name + 4;
        if (*d == '\0')
            return hpt_err_set(err, -EINVAL, "dataset \"idx:\": missing directory (use idx:DIR)");
        if (strlen(d) + 40 > PATH_LEN)
            return hpt_err_set(err, -EINVAL, "dataset \"%.40s...\": directory name too long", name);
        if (!dir_exists(d))
            return hpt_err_set(err, -ENOENT, "dataset \"%s\": no such directory", name);
        int miss = first_missing(d);
        if (miss >= 0)
            return hpt_err_set(err, -ENOENT, "dataset \"%s\": %s/%s[.gz] not found", name, d,
                               file_base[miss]);
        if (copy_str(dir, len, d) < 0)
            return hpt_err_set(err, -EINVAL, "dataset \"%s\": directory name too long", name);
        return 0;
    }

    if (!hpt_dataset_is_named(name))
        return hpt_err_set(err, -EINVAL,
                           "unknown dataset \"%s\" (expected " HPT_DATASET_NAMES_TEXT
                           " or idx:DIR)", name);

    // A data dir given by the caller replaces the default search path rather
    // than extending it: a worker told where its data is must not silently
    // pick up another copy.
    const char *roots[N_DEFAULT_ROOTS];
    size_t n_roots = 0;
    if (data_dir) {
        roots[n_roots++] = data_dir;
    } else {
        for (size_t i = 0; i < N_DEFAULT_ROOTS; i++) {
            bool dup = false;
            for (size_t j = 0; j < n_roots; j++)
                dup = dup || strcmp(roots[j], default_roots[i]) == 0;
            if (!dup)
                roots[n_roots++] = default_roots[i];
        }
    }

    char looked[HPT_ERR_MSG_LEN] = "";
    size_t off = 0;
    for (size_t i = 0; i < n_roots; i++) {
        char cand[PATH_LEN];
        int k = snprintf(cand, sizeof cand, "%s/%s", roots[i], name);
        if (k < 0 || (size_t)k + 40 > sizeof cand)
            return hpt_err_set(err, -EINVAL, "data dir \"%.40s...\": name too long", roots[i]);
        if (first_missing(cand) < 0) {
            if (copy_str(dir, len, cand) < 0)
                return hpt_err_set(err, -EINVAL, "dataset \"%s\": directory name too long", name);
            return 0;
        }
        // Note the places looked, and whether the directory was there but
        // incomplete (an interrupted copy, say), for the message.
        if (off < sizeof looked) {
            k = snprintf(looked + off, sizeof looked - off, "%s%s%s", i ? ", " : "", cand,
                         dir_exists(cand) ? " (incomplete)" : "");
            off += k > 0 ? (size_t)k : 0;
        }
    }
    return hpt_err_set(err, -ENOENT,
                       "dataset \"%s\" not found (run deploy/fetch-data.sh to fetch it); "
                       "looked in %s",
                       name, looked);
}

// ---------------------------------------------------------------------------
// Loading.

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The four files agree: images (n, rows, cols) and labels (n) per split,
 * one image shape for both splits.  f holds each file's header (data may be
 * NULL); paths name the files in messages.  Returns 0 or -EINVAL. */
static int check_shapes(const hpt_idx_t *f, const char (*paths)[PATH_LEN], hpt_err *err)
{
    for (int img = TRAIN_IMAGES; img <= TEST_IMAGES; img += 2) {
        int lab = img + 1;
        if (f[img].rank != 3)
            return hpt_err_set(err, -EINVAL,
                               "%s: images must have rank 3 (count, rows, cols), this file has "
                               "rank %d",
                               paths[img], f[img].rank);
        if (f[lab].rank != 1)
            return hpt_err_set(err, -EINVAL,
                               "%s: labels must have rank 1 (count), this file has rank %d",
                               paths[lab], f[lab].rank);
        if (f[lab].dims[0] != f[img].dims[0])
            return hpt_err_set(err, -EINVAL, "%s: %u labels, but %s has %u images", paths[lab],
                               f[lab].dims[0], base_name(paths[img]), f[img].dims[0]);
    }
    if (f[TEST_IMAGES].dims[1] != f[TRAIN_IMAGES].dims[1] ||
        f[TEST_IMAGES].dims[2] != f[TRAIN_IMAGES].dims[2])
        return hpt_err_set(err, -EINVAL,
                           "%s: images are %ux%u, but the training images are %ux%u",
                           paths[TEST_IMAGES], f[TEST_IMAGES].dims[1], f[TEST_IMAGES].dims[2],
                           f[TRAIN_IMAGES].dims[1], f[TRAIN_IMAGES].dims[2]);
    return 0;
}

/* The dataset fingerprint from the four files' digests, in file order. */
static void fingerprint_of(const hpt_idx_t *f, char fp[65])
{
    uint8_t digests[N_FILES * 32], d[32];
    for (int i = 0; i < N_FILES; i++)
        memcpy(digests + 32 * i, f[i].sha256, 32);
    crypto_hash_sha256(d, digests, sizeof digests);
    hpt_sha256_hex(d, fp);
}

int hpt_dataset_load(hpt_dataset_t **out, const char *name, const char *data_dir, hpt_err *err)
{
    if (!out)
        return hpt_err_set(err, -EINVAL, "hpt_dataset_load: NULL output");
    *out = NULL;

    int rc;
    hpt_idx_t f[N_FILES] = {0};
    char(*paths)[PATH_LEN] = NULL;  // [N_FILES]; on the heap to keep the stack small
    hpt_dataset_t *ds = calloc(1, sizeof *ds);
    paths = calloc(N_FILES, sizeof *paths);
    if (!ds || !paths) {
        rc = hpt_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = hpt_dataset_find(name, data_dir, ds->dir, sizeof ds->dir, err);
    if (rc < 0)
        goto out;
    snprintf(ds->name, sizeof ds->name, "%s", name);

    for (int i = 0; i < N_FILES; i++) {
        // Found a moment ago, but the files may have gone since.
        rc = resolve_file(ds->dir, file_base[i], paths[i]);
        if (rc < 0) {
            rc = hpt_err_set(err, -ENOENT, "%s/%s[.gz]: not found", ds->dir, file_base[i]);
            goto out;
        }
        rc = hpt_idx_read(paths[i], &f[i], err);
        if (rc < 0)
            goto out;
    }

    rc = check_shapes(f, (const char(*)[PATH_LEN])paths, err);
    if (rc < 0)
        goto out;

    // Labels are bytes, so fewer than 256 classes holds by construction.
    unsigned max_label = 0;
    for (int lab = TRAIN_LABELS; lab <= TEST_LABELS; lab += 2)
        for (size_t i = 0; i < f[lab].n_bytes; i++)
            if (f[lab].data[i] > max_label)
                max_label = f[lab].data[i];

    // Fingerprint: SHA-256 over the four files' digests, in file_base order.
    fingerprint_of(f, ds->fingerprint);

    // rows * cols <= n_bytes <= HPT_IDX_MAX_BYTES, so it fits in 32 bits.
    ds->rows = f[TRAIN_IMAGES].dims[1];
    ds->cols = f[TRAIN_IMAGES].dims[2];
    ds->n_features = ds->rows * ds->cols;
    ds->n_classes = max_label + 1;
    ds->train = (hpt_split_t){.n = f[TRAIN_IMAGES].dims[0], .images = f[TRAIN_IMAGES].data,
                              .labels = f[TRAIN_LABELS].data};
    ds->test = (hpt_split_t){.n = f[TEST_IMAGES].dims[0], .images = f[TEST_IMAGES].data,
                             .labels = f[TEST_LABELS].data};
    for (int i = 0; i < N_FILES; i++)
        f[i].data = NULL;  // now owned by ds
    *out = ds;
    ds = NULL;
    rc = 0;

out:
    for (int i = 0; i < N_FILES; i++)
        hpt_idx_free(&f[i]);
    free(paths);
    hpt_dataset_destroy(&ds);
    return rc;
}

void hpt_dataset_destroy(hpt_dataset_t **p)
{
    if (!p || !*p)
        return;
    hpt_dataset_t *ds = *p;
    free(ds->train.images);
    free(ds->train.labels);
    free(ds->test.images);
    free(ds->test.labels);
    free(ds);
    *p = NULL;
}

// ---------------------------------------------------------------------------
// The files of a dataset directory, for the dataset transfer.

const char *hpt_dataset_file_base(int i)
{
    return i >= 0 && i < N_FILES ? file_base[i] : NULL;
}

int hpt_dataset_file_path(const char *dir, int i, char *path, size_t len)
{
    if (!dir || !path || i < 0 || i >= N_FILES || len < PATH_LEN)
        return -EINVAL;
    return resolve_file(dir, file_base[i], path);
}

bool hpt_dataset_file_name_ok(int i, const char *name)
{
    if (i < 0 || i >= N_FILES || !name)
        return false;
    size_t n = strlen(file_base[i]);
    return strncmp(name, file_base[i], n) == 0 &&
           (name[n] == '\0' || strcmp(name + n, ".gz") == 0);
}

// ---------------------------------------------------------------------------
// Validated copies (the coordinator's, for fingerprints and serving).

/* The message form of a file type (st_mode). */
static const char *type_text(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISLNK(m) ? "a symbolic link"
           : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) || S_ISBLK(m) ? "a device" : "not a file";
}

int hpt_dataset_open_dir(const char *dir, bool nofollow, hpt_err *err)
{
    if (!dir || !dir[0])
        return hpt_err_set(err, -EINVAL, "empty directory name");
    if (!nofollow) {
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return hpt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
        return fd;
    }
    if (dir[0] != '/')
        return hpt_err_set(err, -EINVAL, "%s: not an absolute path", dir);
    if (strlen(dir) >= PATH_LEN)
        return hpt_err_set(err, -ENAMETOOLONG, "%.64s...: path too long", dir);
    /* One component at a time from "/", each opened relative to its parent
     * without following a symbolic link: no link anywhere on the path can
     * lead the walk elsewhere, whatever changes between the caller's
     * realpath() and this open. */
    char comp[PATH_LEN];
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return hpt_err_set(err, -errno, "/: %s", strerror(errno));
    const char *p = dir;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0)
            break;
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        if (strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0) {
            close(fd);
            return hpt_err_set(err, -EINVAL, "%s: '%s' in the path (canonicalise it first)", dir,
                               comp);
        }
        int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            int e = errno;
            struct stat st;
            bool link = (e == ELOOP || e == ENOTDIR) &&
                        fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
            close(fd);
            if (link)
                return hpt_err_set(err, -ELOOP, "%s: %.*s is a symbolic link", dir,
                                   (int)(p - dir), dir);
            return hpt_err_set(err, -e, "%s: %.*s: %s", dir, (int)(p - dir), dir, strerror(e));
        }
        close(fd);
        fd = next;
    }
    return fd;
}

/* Open file i of the dataset in dfd: BASE.gz, else BASE (the order
 * hpt_dataset_find uses).  O_NONBLOCK so that opening a FIFO does not wait
 * for a writer; the caller refuses anything but a regular file.  Writes the
 * base name into name (64).  Returns the fd or -errno with err set. */
static int open_member(int dfd, const char *dir, int i, bool nofollow, char name[64],
                       hpt_err *err)
{
    int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
    snprintf(name, 64, "%s.gz", file_base[i]);
    int fd = openat(dfd, name, flags);
    if (fd < 0 && errno == ENOENT) {
        snprintf(name, 64, "%s", file_base[i]);
        fd = openat(dfd, name, flags);
    }
    if (fd >= 0)
        return fd;
    int e = errno;
    struct stat st;
    if (e == ENOENT)
        return hpt_err_set(err, -ENOENT, "%s/%s[.gz]: not found", dir, file_base[i]);
    if (e == ELOOP || (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)))
        return hpt_err_set(err, -ELOOP, "%s/%s: is a symbolic link; an idx: dataset's files must "
                           "be regular files in its directory", dir, name);
    return hpt_err_set(err, -e, "%s/%s: cannot open: %s", dir, name, strerror(e));
}

static int64_t ns_of(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Fill id's identity from st. */
static void set_identity(hpt_dataset_file_id_t *id, const struct stat *st)
{
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = ns_of(st->st_mtim);
    id->ctime_ns = ns_of(st->st_ctim);
}

static bool same_identity(const hpt_dataset_file_id_t *id, const struct stat *st)
{
    return id->dev == (uint64_t)st->st_dev && id->ino == (uint64_t)st->st_ino &&
           id->size == (uint64_t)st->st_size && id->mtime_ns == ns_of(st->st_mtim) &&
           id->ctime_ns == ns_of(st->st_ctim);
}

int hpt_dataset_scan(const char *dir, unsigned flags, hpt_dataset_scan_t *out, hpt_err *err)
{
    *out = (hpt_dataset_scan_t){.dir_fd = -1};
    for (int i = 0; i < N_FILES; i++)
        out->files[i].fd = -1;
    bool nofollow = flags & HPT_DATASET_NOFOLLOW;
    if (!dir || strlen(dir) + 40 > PATH_LEN)
        return hpt_err_set(err, -ENAMETOOLONG, "dataset directory name too long");
    snprintf(out->dir, sizeof out->dir, "%s", dir);
    hpt_idx_t f[N_FILES] = {0};
    char(*paths)[PATH_LEN] = calloc(N_FILES, sizeof *paths);
    int rc = 0;
    int dfd = -1;
    if (!paths) {
        rc = hpt_err_set(err, -ENOMEM, "out of memory");
        goto out;
    }
    dfd = hpt_dataset_open_dir(dir, nofollow, err);
    if (dfd < 0) {
        rc = dfd;
        goto out;
    }
    struct stat st;
    if (fstat(dfd, &st) != 0) {
        rc = hpt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
        goto out;
    }
    out->dir_dev = (uint64_t)st.st_dev;
    out->dir_ino = (uint64_t)st.st_ino;
    for (int i = 0; i < N_FILES; i++) {
        hpt_dataset_file_id_t *id = &out->files[i];
        int fd = open_member(dfd, dir, i, nofollow, id->name, err);
        if (fd < 0) {
            rc = fd;
            goto out;
        }
        id->fd = fd;
        snprintf(paths[i], PATH_LEN, "%s/%s", dir, id->name);
        if (fstat(fd, &st) != 0) {
            rc = hpt_err_set(err, -errno, "%s: %s", paths[i], strerror(errno));
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            rc = hpt_err_set(err, -EINVAL, "%s: %s, not a regular file", paths[i],
                             type_text(st.st_mode));
            goto out;
        }
        set_identity(id, &st);
        rc = hpt_idx_scan_fd(fd, paths[i], &f[i], err);
        if (rc < 0)
            goto out;
        /* The bytes hashed are the bytes the identity names only if the
         * file did not change while it was read. */
        if (fstat(fd, &st) != 0 || !same_identity(id, &st)) {
            rc = hpt_err_set(err, -EAGAIN, "%s: changed while it was read", paths[i]);
            goto out;
        }
    }
    rc = check_shapes(f, (const char(*)[PATH_LEN])paths, err);
    if (rc < 0)
        goto out;
    fingerprint_of(f, out->fingerprint);
    out->rows = f[TRAIN_IMAGES].dims[1];
    out->cols = f[TRAIN_IMAGES].dims[2];
    out->n_train = f[TRAIN_IMAGES].dims[0];
    out->n_test = f[TEST_IMAGES].dims[0];
    if (flags & HPT_DATASET_KEEP_FDS) {
        out->dir_fd = dfd;
        dfd = -1;
    }
out:
    for (int i = 0; i < N_FILES; i++)
        hpt_idx_free(&f[i]);
    free(paths);
    if (dfd >= 0)
        close(dfd);
    if (rc < 0 || !(flags & HPT_DATASET_KEEP_FDS))
        hpt_dataset_scan_close(out);
    return rc;
}

int hpt_dataset_file_check(const hpt_dataset_file_id_t *id)
{
    struct stat st;
    if (id->fd < 0 || fstat(id->fd, &st) != 0)
        return -EBADF;
    return same_identity(id, &st) ? 0 : -ESTALE;
}

void hpt_dataset_scan_close(hpt_dataset_scan_t *sc)
{
    if (!sc)
        return;
    if (sc->dir_fd >= 0)
        close(sc->dir_fd);
    sc->dir_fd = -1;
    for (int i = 0; i < N_FILES; i++) {
        if (sc->files[i].fd >= 0)
            close(sc->files[i].fd);
        sc->files[i].fd = -1;
    }
}

int hpt_dataset_scan_check(const hpt_dataset_scan_t *sc, unsigned flags, hpt_err *err)
{
    bool nofollow = flags & HPT_DATASET_NOFOLLOW;
    int dfd = hpt_dataset_open_dir(sc->dir, nofollow, err);
    if (dfd < 0)
        return dfd;
    int rc = 0;
    struct stat st;
    if (fstat(dfd, &st) != 0 || (uint64_t)st.st_dev != sc->dir_dev ||
        (uint64_t)st.st_ino != sc->dir_ino) {
        rc = hpt_err_set(err, -ESTALE, "%s: another directory now", sc->dir);
        goto out;
    }
    for (int i = 0; i < N_FILES && rc == 0; i++) {
        const hpt_dataset_file_id_t *id = &sc->files[i];
        /* The name the scan would choose now must be the one it chose then
         * (a BASE.gz that appeared next to BASE wins from now on). */
        char gz[64];
        snprintf(gz, sizeof gz, "%s.gz", file_base[i]);
        int at = nofollow ? AT_SYMLINK_NOFOLLOW : 0;
        if (strcmp(id->name, gz) != 0 && fstatat(dfd, gz, &st, AT_SYMLINK_NOFOLLOW) == 0)
            rc = hpt_err_set(err, -ESTALE, "%s/%s: new", sc->dir, gz);
        else if (fstatat(dfd, id->name, &st, at) != 0 || !same_identity(id, &st))
            rc = hpt_err_set(err, -ESTALE, "%s/%s: changed", sc->dir, id->name);
    }
out:
    close(dfd);
    return rc;
}
