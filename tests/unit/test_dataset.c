/*
 * test_dataset.c: finding and loading datasets.
 *
 * Tiny datasets (four IDX files) are written into a mkdtemp directory and
 * loaded through "idx:DIR" and through a named dataset under a data dir.  The
 * real mnist, mnist-10k and fashion-mnist are checked too, under $HPT_DATA_DIR (meson
 * sets it to the source tree's data/, where deploy/fetch-data.sh puts them;
 * the README's test command, deploy/test.sh, runs it before the tests).
 * Missing real data is a failure, not a skip: a run that never looked at the
 * real files must not look green.
 */
#define _XOPEN_SOURCE 700   // realpath(3), for the no-link scans

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "dataset.h"
#include "hpt_test.h"
#include "idx.h"

// ---------------------------------------------------------------------------
// Fixture helpers.

static char tmp_root[64];
static char *tmp_paths[256];  // files and directories, removed in reverse
static int n_tmp_paths;

static void cleanup(void)
{
    for (int i = n_tmp_paths - 1; i >= 0; i--) {
        if (unlink(tmp_paths[i]) < 0)
            rmdir(tmp_paths[i]);
        free(tmp_paths[i]);
    }
    if (tmp_root[0])
        rmdir(tmp_root);
}

/* "dir/name<suffix>", remembered for removal at exit. */
static const char *track(const char *dir, const char *name, const char *suffix)
{
    ASSERT(n_tmp_paths < 256);
    char *p = malloc(strlen(dir) + strlen(name) + strlen(suffix) + 2);
    ASSERT(p != NULL);
    sprintf(p, "%s/%s%s", dir, name, suffix);
    tmp_paths[n_tmp_paths++] = p;
    return p;
}

/* A new empty directory under the temp root. */
static const char *new_dir(const char *name)
{
    if (!tmp_root[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/hpt-test-dataset-XXXXXX",
                 t && strlen(t) < 30 ? t : "/tmp");
        ASSERT(mkdtemp(tmp_root) != NULL);
        atexit(cleanup);
    }
    const char *d = track(tmp_root, name, "");
    ASSERT_EQ(mkdir(d, 0700), 0);
    return d;
}

/* Build an IDX file in memory: type 0x08, big-endian dims, payload. */
static uint8_t *idx_bytes(int rank, const uint32_t *dims, const uint8_t *payload, size_t n,
                          size_t *len)
{
    size_t hdr = 4 + 4 * (size_t)rank;
    uint8_t *b = malloc(hdr + n);
    ASSERT(b != NULL);
    b[0] = 0;
    b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++)
        for (int j = 0; j < 4; j++)
            b[4 + 4 * i + j] = (uint8_t)(dims[i] >> (24 - 8 * j));
    memcpy(b + hdr, payload, n);
    *len = hdr + n;
    return b;
}

/* Write dir/base(.gz): gzip unless raw; also return the SHA-256 of the
 * uncompressed bytes, computed here with libsodium directly. */
static void write_idx(const char *dir, const char *base, bool raw, int rank, const uint32_t *dims,
                      const uint8_t *payload, size_t n, uint8_t sha[32])
{
    size_t len;
    uint8_t *b = idx_bytes(rank, dims, payload, n, &len);
    ASSERT(sodium_init() >= 0);
    crypto_hash_sha256(sha, b, len);
    const char *path = track(dir, base, raw ? "" : ".gz");
    if (raw) {
        FILE *f = fopen(path, "wb");
        ASSERT(f != NULL);
        ASSERT_EQ(fwrite(b, 1, len, f), len);
        ASSERT_EQ(fclose(f), 0);
    } else {
        gzFile g = gzopen(path, "wb9");
        ASSERT(g != NULL);
        ASSERT_EQ(gzwrite(g, b, (unsigned)len), (int)len);
        ASSERT_EQ(gzclose(g), Z_OK);
    }
    free(b);
}

typedef struct spec {
    uint32_t n_train, n_test;         // image counts
    uint32_t n_train_labels, n_test_labels;
    uint32_t rows, cols, test_rows;   // train shape; test rows (cols shared)
    int label_mod;                    // train labels i % label_mod
    uint8_t test_label_max;           // last test label; others i % label_mod
    bool raw_test_labels;             // write that one file uncompressed
    uint8_t seed;                     // varies the pixels
} spec;

static const spec SPEC_DEFAULT = {.n_train = 50, .n_test = 20, .n_train_labels = 50,
                                  .n_test_labels = 20, .rows = 4, .cols = 3, .test_rows = 4,
                                  .label_mod = 4, .test_label_max = 6};

/* Write the four files of s into dir; fingerprint gets the expected hex
 * fingerprint, computed here from the bytes written. */
static void write_dataset(const char *dir, const spec *s, char fingerprint[65])
{
    uint8_t sha[4][32];
    uint32_t n_px = s->n_train * s->rows * s->cols;
    uint8_t *px = malloc(n_px + s->n_test * s->test_rows * s->cols + 1);
    uint8_t *lab = malloc(s->n_train_labels + s->n_test_labels + 1);
    ASSERT(px != NULL && lab != NULL);
    for (uint32_t i = 0; i < n_px; i++)
        px[i] = (uint8_t)(i * 31 + s->seed);
    for (uint32_t i = 0; i < s->n_train_labels; i++)
        lab[i] = (uint8_t)(i % (uint32_t)s->label_mod);
    write_idx(dir, "train-images-idx3-ubyte", false, 3,
              (const uint32_t[]){s->n_train, s->rows, s->cols}, px, n_px, sha[0]);
    write_idx(dir, "train-labels-idx1-ubyte", false, 1, (const uint32_t[]){s->n_train_labels},
              lab, s->n_train_labels, sha[1]);

    n_px = s->n_test * s->test_rows * s->cols;
    for (uint32_t i = 0; i < n_px; i++)
        px[i] = (uint8_t)(i * 17 + 5);
    for (uint32_t i = 0; i < s->n_test_labels; i++)
        lab[i] = (uint8_t)(i % (uint32_t)s->label_mod);
    lab[s->n_test_labels - 1] = s->test_label_max;
    write_idx(dir, "t10k-images-idx3-ubyte", false, 3,
              (const uint32_t[]){s->n_test, s->test_rows, s->cols}, px, n_px, sha[2]);
    write_idx(dir, "t10k-labels-idx1-ubyte", s->raw_test_labels, 1,
              (const uint32_t[]){s->n_test_labels}, lab, s->n_test_labels, sha[3]);
    free(lab);
    free(px);

    uint8_t fp[32];
    crypto_hash_sha256(fp, &sha[0][0], sizeof sha);
    hpt_sha256_hex(fp, fingerprint);
}

static char *idx_name(const char *dir)
{
    static char name[128];
    snprintf(name, sizeof name, "idx:%s", dir);
    return name;
}

// ---------------------------------------------------------------------------
// Loading good datasets.

HPT_TEST(load_idx_dir)
{
    const char *dir = new_dir("good");
    spec s = SPEC_DEFAULT;
    s.raw_test_labels = true;  // a mix of raw and gzip files is fine
    char want_fp[65];
    write_dataset(dir, &s, want_fp);

    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_OK(hpt_dataset_load(&ds, idx_name(dir), NULL, &err));
    ASSERT(ds != NULL);
    ASSERT_STR_CONTAINS(ds->name, "idx:");
    ASSERT_EQ(strcmp(ds->dir, dir), 0);
    ASSERT_EQ(ds->train.n, 50);
    ASSERT_EQ(ds->test.n, 20);
    ASSERT_EQ(ds->rows, 4);
    ASSERT_EQ(ds->cols, 3);
    ASSERT_EQ(ds->n_features, 12);
    // Train labels are 0..3; the one 6 in the test split counts too.
    ASSERT_EQ(ds->n_classes, 7);
    ASSERT_EQ(ds->train.images[13], (uint8_t)(13 * 31));
    ASSERT_EQ(ds->test.images[13], (uint8_t)(13 * 17 + 5));
    ASSERT_EQ(ds->train.labels[7], 3);
    ASSERT_EQ(ds->test.labels[19], 6);
    ASSERT_EQ(strlen(ds->fingerprint), 64);
    ASSERT_EQ(strcmp(ds->fingerprint, want_fp), 0);

    // find() resolves without loading, and refuses a buffer too small.
    char found[4096], small[8];
    ASSERT_OK(hpt_dataset_find(idx_name(dir), NULL, found, sizeof found, &err));
    ASSERT_EQ(strcmp(found, dir), 0);
    ASSERT_EQ(hpt_dataset_find(idx_name(dir), NULL, small, sizeof small, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "too long");

    // Loading again gives the same fingerprint.
    hpt_dataset_t *again = NULL;
    ASSERT_OK(hpt_dataset_load(&again, idx_name(dir), NULL, &err));
    ASSERT_EQ(strcmp(again->fingerprint, ds->fingerprint), 0);
    hpt_dataset_destroy(&again);
    ASSERT(again == NULL);

    // Different pixels, different fingerprint.
    const char *dir2 = new_dir("good2");
    s.seed = 1;
    char fp2[65];
    write_dataset(dir2, &s, fp2);
    ASSERT_OK(hpt_dataset_load(&again, idx_name(dir2), NULL, &err));
    ASSERT_EQ(strcmp(again->fingerprint, fp2), 0);
    ASSERT(strcmp(again->fingerprint, ds->fingerprint) != 0);
    hpt_dataset_destroy(&again);

    hpt_dataset_destroy(&ds);
    ASSERT(ds == NULL);
    hpt_dataset_destroy(&ds);  // NULL is fine
    hpt_dataset_destroy(NULL);
}

HPT_TEST(named_dataset_under_data_dir)
{
    const char *root = new_dir("datadir");
    const char *dir = track(root, "mnist", "");
    ASSERT_EQ(mkdir(dir, 0700), 0);
    char fp[65];
    write_dataset(dir, &SPEC_DEFAULT, fp);

    char found[4096];
    hpt_err err = {0};
    ASSERT_OK(hpt_dataset_find("mnist", root, found, sizeof found, &err));
    ASSERT_EQ(strcmp(found, dir), 0);

    hpt_dataset_t *ds = NULL;
    ASSERT_OK(hpt_dataset_load(&ds, "mnist", root, &err));
    ASSERT_EQ(strcmp(ds->name, "mnist"), 0);
    ASSERT_EQ(strcmp(ds->fingerprint, fp), 0);
    hpt_dataset_destroy(&ds);

    // The given data dir is the only place looked: fashion-mnist is not there.
    ASSERT_EQ(hpt_dataset_load(&ds, "fashion-mnist", root, &err), -ENOENT);
    ASSERT(ds == NULL);
}

/* The dataset transfer names files on the wire: only the four IDX names,
 * with or without .gz, in fingerprint order, ever pass. */
HPT_TEST(transfer_file_names)
{
    ASSERT_EQ(strcmp(hpt_dataset_file_base(0), "train-images-idx3-ubyte"), 0);
    ASSERT_EQ(strcmp(hpt_dataset_file_base(3), "t10k-labels-idx1-ubyte"), 0);
    ASSERT(hpt_dataset_file_base(4) == NULL && hpt_dataset_file_base(-1) == NULL);
    ASSERT(hpt_dataset_file_name_ok(1, "train-labels-idx1-ubyte"));
    ASSERT(hpt_dataset_file_name_ok(1, "train-labels-idx1-ubyte.gz"));
    ASSERT(!hpt_dataset_file_name_ok(0, "train-labels-idx1-ubyte.gz"));   // another slot's
    ASSERT(!hpt_dataset_file_name_ok(1, "train-labels-idx1-ubyte.gz.partial"));
    ASSERT(!hpt_dataset_file_name_ok(1, "../train-labels-idx1-ubyte"));
    ASSERT(!hpt_dataset_file_name_ok(1, "train-labels-idx1-ubyte/"));
    ASSERT(!hpt_dataset_file_name_ok(1, ""));
    ASSERT(!hpt_dataset_file_name_ok(1, NULL));

    // The path a dataset directory serves file i from: .gz wins, as when loading.
    const char *dir = new_dir("files");
    char fp[65], path[4096];
    write_dataset(dir, &SPEC_DEFAULT, fp);
    ASSERT_OK(hpt_dataset_file_path(dir, 0, path, sizeof path));
    ASSERT(strstr(path, "/train-images-idx3-ubyte") != NULL);
    ASSERT_EQ(hpt_dataset_file_path(dir, 4, path, sizeof path), -EINVAL);
    ASSERT_EQ(hpt_dataset_file_path(new_dir("empty"), 0, path, sizeof path), -ENOENT);
}

// ---------------------------------------------------------------------------
// Errors.

HPT_TEST(label_count_mismatch)
{
    const char *dir = new_dir("count");
    spec s = SPEC_DEFAULT;
    s.n_train_labels = 49;
    char fp[65];
    write_dataset(dir, &s, fp);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(dir), NULL, &err), -EINVAL);
    ASSERT(ds == NULL);
    ASSERT_EQ(err.code, -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, dir);
    ASSERT_STR_CONTAINS(err.msg,
                        "/train-labels-idx1-ubyte.gz: 49 labels, but train-images-idx3-ubyte.gz "
                        "has 50 images");

    const char *dir2 = new_dir("count-test");
    s = SPEC_DEFAULT;
    s.n_test_labels = 21;
    write_dataset(dir2, &s, fp);
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(dir2), NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "/t10k-labels-idx1-ubyte.gz: 21 labels");
}

HPT_TEST(shape_mismatch)
{
    const char *dir = new_dir("shape");
    spec s = SPEC_DEFAULT;
    s.test_rows = 5;
    char fp[65];
    write_dataset(dir, &s, fp);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(dir), NULL, &err), -EINVAL);
    ASSERT(ds == NULL);
    ASSERT_STR_CONTAINS(err.msg, "/t10k-images-idx3-ubyte.gz: images are 5x3, but the training "
                                 "images are 4x3");
}

HPT_TEST(wrong_rank)
{
    // Images written as rank 2 (n, 12) instead of (n, 4, 3).
    const char *dir = new_dir("rank");
    uint8_t sha[32], px[24] = {0}, lab[2] = {0, 1};
    write_idx(dir, "train-images-idx3-ubyte", false, 2, (const uint32_t[]){2, 12}, px, 24, sha);
    write_idx(dir, "train-labels-idx1-ubyte", false, 1, (const uint32_t[]){2}, lab, 2, sha);
    write_idx(dir, "t10k-images-idx3-ubyte", false, 3, (const uint32_t[]){2, 4, 3}, px, 24, sha);
    write_idx(dir, "t10k-labels-idx1-ubyte", false, 1, (const uint32_t[]){2}, lab, 2, sha);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(dir), NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "/train-images-idx3-ubyte.gz: images must have rank 3");
}

HPT_TEST(corrupt_file_is_named)
{
    const char *dir = new_dir("corrupt");
    char fp[65];
    write_dataset(dir, &SPEC_DEFAULT, fp);
    // Replace the test images with a gzip header and nothing else.
    const char *path = track(dir, "t10k-images-idx3-ubyte.gz", "");
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    fwrite("\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03", 1, 10, f);
    ASSERT_EQ(fclose(f), 0);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(dir), NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "/t10k-images-idx3-ubyte.gz: truncated gzip stream");
}

HPT_TEST(missing_dataset)
{
    const char *root = new_dir("empty-datadir");
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    ASSERT_EQ(hpt_dataset_load(&ds, "mnist", root, &err), -ENOENT);
    ASSERT(ds == NULL);
    ASSERT_EQ(err.code, -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "fetch-data");
    ASSERT_STR_CONTAINS(err.msg, root);

    // An incomplete directory is pointed out.
    const char *part = track(root, "fashion-mnist", "");
    ASSERT_EQ(mkdir(part, 0700), 0);
    ASSERT_EQ(hpt_dataset_load(&ds, "fashion-mnist", root, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "fashion-mnist (incomplete)");

    // idx: with no such directory, or one missing a file.
    ASSERT_EQ(hpt_dataset_load(&ds, "idx:/nonexistent/hpt-dir", NULL, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent/hpt-dir");
    ASSERT_EQ(hpt_dataset_load(&ds, idx_name(root), NULL, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "train-images-idx3-ubyte[.gz] not found");

    // Bad names.
    ASSERT_EQ(hpt_dataset_load(&ds, "cifar10", NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "unknown dataset \"cifar10\"");
    ASSERT_EQ(hpt_dataset_load(&ds, "idx:", NULL, &err), -EINVAL);
    ASSERT_EQ(hpt_dataset_load(&ds, NULL, NULL, &err), -EINVAL);
    ASSERT_EQ(hpt_dataset_load(NULL, "mnist", NULL, NULL), -EINVAL);
}

// ---------------------------------------------------------------------------
// The real datasets (deploy/fetch-data.sh).

/* Load `name` from data_dir and check its shape, classes and fingerprint,
 * and, when train_counts is not NULL, the number of training images of each
 * of the 10 classes; fails the test, saying how to fetch it, when its
 * directory is missing. */
static void check_real(const char *data_dir, const char *name, uint32_t n_train, uint32_t n_test,
                       const uint32_t *train_counts, const char *want_fp)
{
    char dir[4096];
    struct stat st;
    snprintf(dir, sizeof dir, "%s/%s", data_dir, name);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        HPT_TEST_FAIL("the real %s is missing: no directory %s (run deploy/fetch-data.sh %s)",
                      name, dir, data_dir);
    hpt_dataset_t *ds = NULL;
    hpt_err err = {0};
    int rc = hpt_dataset_load(&ds, name, data_dir, &err);
    if (rc < 0)
        fprintf(stderr, "  %s\n", err.msg);
    ASSERT_OK(rc);
    ASSERT_EQ(ds->train.n, n_train);
    ASSERT_EQ(ds->test.n, n_test);
    ASSERT_EQ(ds->rows, 28);
    ASSERT_EQ(ds->cols, 28);
    ASSERT_EQ(ds->n_features, 784);
    ASSERT_EQ(ds->n_classes, 10);
    // Every class occurs in both splits.
    uint32_t seen[2][10] = {{0}};
    for (uint32_t i = 0; i < ds->train.n; i++)
        seen[0][ds->train.labels[i]]++;
    for (uint32_t i = 0; i < ds->test.n; i++)
        seen[1][ds->test.labels[i]]++;
    for (int c = 0; c < 10; c++) {
        ASSERT(seen[0][c] > 0 && seen[1][c] > 0);
        if (train_counts)
            ASSERT_EQ(seen[0][c], train_counts[c]);
    }
    ASSERT_EQ(strcmp(ds->fingerprint, want_fp), 0);
    fprintf(stderr, "  %s: %u train, %u test, fingerprint %s\n", name, ds->train.n, ds->test.n,
            ds->fingerprint);
    hpt_dataset_destroy(&ds);
}

// ---------------------------------------------------------------------------
// Validated copies (hpt_dataset_scan): what the coordinator fingerprints and
// serves.

HPT_TEST(scan_matches_load)
{
    const char *dir = new_dir("scan");
    spec s = SPEC_DEFAULT;
    s.raw_test_labels = true;
    char want_fp[65];
    write_dataset(dir, &s, want_fp);
    char real[PATH_MAX];
    ASSERT(realpath(dir, real) != NULL);

    hpt_dataset_scan_t sc;
    hpt_err err = {0};
    for (unsigned flags = 0; flags <= HPT_DATASET_NOFOLLOW; flags++) {
        ASSERT_OK(hpt_dataset_scan(real, flags, &sc, &err));
        ASSERT_EQ(strcmp(sc.fingerprint, want_fp), 0);
        ASSERT_EQ(sc.n_train, 50);
        ASSERT_EQ(sc.n_test, 20);
        ASSERT_EQ(sc.rows, 4);
        ASSERT_EQ(sc.cols, 3);
        ASSERT_EQ(sc.dir_fd, -1);   // not kept without HPT_DATASET_KEEP_FDS
        ASSERT_EQ(sc.files[0].fd, -1);
        ASSERT_EQ(strcmp(sc.files[0].name, "train-images-idx3-ubyte.gz"), 0);
        ASSERT_EQ(strcmp(sc.files[3].name, "t10k-labels-idx1-ubyte"), 0);
    }
    ASSERT_OK(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW | HPT_DATASET_KEEP_FDS, &sc, &err));
    for (int i = 0; i < HPT_DATASET_N_FILES; i++) {
        struct stat st;
        ASSERT(sc.files[i].fd >= 0);
        ASSERT_EQ(fstat(sc.files[i].fd, &st), 0);
        ASSERT_EQ((uint64_t)st.st_size, sc.files[i].size);
    }
    ASSERT_OK(hpt_dataset_scan_check(&sc, HPT_DATASET_NOFOLLOW, &err));
    // The same bytes written again: another mtime, so no longer the copy scanned.
    char path[4200];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", real);
    FILE *f = fopen(path, "r+b");
    ASSERT(f != NULL);
    int ch = fgetc(f);
    nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
    ASSERT_EQ(fseek(f, 0, SEEK_SET), 0);
    ASSERT_EQ(fputc(ch, f), ch);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(hpt_dataset_scan_check(&sc, HPT_DATASET_NOFOLLOW, &err), -ESTALE);
    ASSERT_STR_CONTAINS(err.msg, "t10k-labels-idx1-ubyte");
    // ... and so does the open file (what the coordinator serves from).
    ASSERT_EQ(hpt_dataset_file_check(&sc.files[3]), -ESTALE);
    ASSERT_OK(hpt_dataset_file_check(&sc.files[0]));
    hpt_dataset_scan_close(&sc);
    ASSERT_EQ(sc.files[0].fd, -1);
    ASSERT_EQ(hpt_dataset_file_check(&sc.files[0]), -EBADF);
    hpt_dataset_scan_close(&sc);   // twice is fine
}

HPT_TEST(scan_refuses_links_fifos_and_other_files)
{
    spec s = SPEC_DEFAULT;
    char fp[65], real[PATH_MAX];
    hpt_dataset_scan_t sc;
    hpt_err err = {0};

    // A file that is a symbolic link: refused without following, taken with.
    const char *good = new_dir("scan-good");
    write_dataset(good, &s, fp);
    const char *ld = new_dir("scan-linkfile");
    write_dataset(ld, &s, fp);
    ASSERT_EQ(unlink(track(ld, "t10k-images-idx3-ubyte", ".gz")), 0);
    char target[4200];
    snprintf(target, sizeof target, "%s/t10k-images-idx3-ubyte.gz", good);
    ASSERT(realpath(target, real) != NULL);
    ASSERT_EQ(symlink(real, track(ld, "t10k-images-idx3-ubyte", ".gz")), 0);
    ASSERT(realpath(ld, real) != NULL);
    ASSERT_EQ(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW, &sc, &err), -ELOOP);
    ASSERT_STR_CONTAINS(err.msg, "t10k-images-idx3-ubyte.gz: is a symbolic link");
    ASSERT_OK(hpt_dataset_scan(real, 0, &sc, &err));

    // A directory reached through a symbolic link: refused without following.
    char link_dir[4200];
    ASSERT(realpath(good, real) != NULL);
    snprintf(link_dir, sizeof link_dir, "%s", track(tmp_root, "scan-dirlink", ""));
    ASSERT_EQ(symlink(real, link_dir), 0);
    ASSERT(realpath(tmp_root, real) != NULL);
    char via[4200];
    snprintf(via, sizeof via, "%s/scan-dirlink", real);
    ASSERT_EQ(hpt_dataset_scan(via, HPT_DATASET_NOFOLLOW, &sc, &err), -ELOOP);
    ASSERT_STR_CONTAINS(err.msg, "is a symbolic link");
    ASSERT_OK(hpt_dataset_scan(via, 0, &sc, &err));
    // Not absolute, or with "..": refused without following.
    ASSERT_EQ(hpt_dataset_scan("data/mnist", HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    snprintf(via, sizeof via, "%s/scan-good/../scan-good", real);
    ASSERT_EQ(hpt_dataset_scan(via, HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'..'");

    // A FIFO: refused at once (a read would wait for a writer).
    const char *fd = new_dir("scan-fifo");
    write_dataset(fd, &s, fp);
    ASSERT_EQ(unlink(track(fd, "train-labels-idx1-ubyte", ".gz")), 0);
    ASSERT_EQ(mkfifo(track(fd, "train-labels-idx1-ubyte", ".gz"), 0600), 0);
    ASSERT(realpath(fd, real) != NULL);
    ASSERT_EQ(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "a FIFO, not a regular file");
    ASSERT_EQ(hpt_dataset_scan(real, 0, &sc, &err), -EINVAL);

    // A directory in a file's place, and a file that is not IDX.
    const char *dd = new_dir("scan-dir");
    write_dataset(dd, &s, fp);
    ASSERT_EQ(unlink(track(dd, "train-images-idx3-ubyte", ".gz")), 0);
    ASSERT_EQ(mkdir(track(dd, "train-images-idx3-ubyte", ".gz"), 0700), 0);
    ASSERT(realpath(dd, real) != NULL);
    ASSERT_EQ(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "a directory, not a regular file");
    const char *nd = new_dir("scan-notidx");
    write_dataset(nd, &s, fp);
    FILE *f = fopen(track(nd, "t10k-labels-idx1-ubyte", ".gz"), "wb");
    ASSERT(f != NULL);
    fputs("root:x:0:0:root:/root:/bin/sh\n", f);
    ASSERT_EQ(fclose(f), 0);
    ASSERT(realpath(nd, real) != NULL);
    ASSERT_EQ(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "t10k-labels-idx1-ubyte.gz: bad magic");
    // Files that disagree (the check hpt_dataset_load makes).
    const char *md = new_dir("scan-mismatch");
    s.n_train_labels = 49;
    write_dataset(md, &s, fp);
    ASSERT(realpath(md, real) != NULL);
    ASSERT_EQ(hpt_dataset_scan(real, HPT_DATASET_NOFOLLOW, &sc, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "49 labels, but train-images-idx3-ubyte.gz has 50 images");
}

HPT_TEST(real_datasets)
{
    const char *data_dir = getenv("HPT_DATA_DIR");
    if (!data_dir || !*data_dir)
        HPT_TEST_FAIL("HPT_DATA_DIR is not set: it names the directory holding the real mnist, "
                      "mnist-10k and fashion-mnist (meson test sets it to the source tree's "
                      "data/)");
    // Fingerprints: SHA-256 over the decompressed-content hashes pinned in
    // deploy/fetch-data.sh (it lists these three values in a comment).
    // The full MNIST's training class counts, as published with it.
    static const uint32_t mnist_counts[10] = {5923, 6742, 5958, 6131, 5842,
                                              5421, 5918, 6265, 5851, 5949};
    check_real(data_dir, "mnist", 60000, 10000, mnist_counts,
               "e9914cff2ade526da2ab1ac60c072f9173cc53e35b9411692de8207cb1b9009d");
    check_real(data_dir, "mnist-10k", 8000, 2000, NULL,
               "6003ea9d5f0cea4cba0ad3dc4165ad97219539e48a8e35eead7a0766538ddab6");
    check_real(data_dir, "fashion-mnist", 60000, 10000, NULL,
               "4d8e31d2057f6f938ff47097ba334038e7aafbaf24b67665d2dd1ecda01730a3");
}

HPT_TEST_MAIN()
