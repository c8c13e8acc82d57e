/*
 * dataset.h: a labelled image dataset (train and test splits) loaded from
 * four IDX files, found by name.
 *
 * Names: "mnist" (the full MNIST, 60,000 + 10,000), "mnist-10k" (10,000 of its
 * digits, 8,000 + 2,000: the small set for tests) and "fashion-mnist" are
 * directories of that name under the data dir (deploy/fetch-data.sh makes
 * them); "idx:DIR" is any directory.  Each directory holds
 * train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 * t10k-labels-idx1-ubyte, each optionally with a .gz suffix.  The search path
 * for a named dataset is the given data dir, else "data" then
 * HPT_DATADIR_SYSTEM (meson option system_data_dir, /var/lib/hptune/data).
 *
 * Images stay uint8 (scaled to [0, 1] per batch by the trainer), so a worker
 * holding fashion-mnist uses 55 MB, not 220.
 */
#ifndef HPT_DATASET_H
#define HPT_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct hpt_split {
    uint32_t n;         // number of samples
    uint8_t *images;    // (n, n_features) row-major pixels, owned by the dataset
    uint8_t *labels;    // (n) class ids, each < n_classes, owned by the dataset
} hpt_split_t;

typedef struct hpt_dataset {
    char name[4200];        // as requested ("mnist", "idx:/path")
    char dir[4096];         // directory it was loaded from
    uint32_t n_features;    // pixels per image (rows * cols)
    uint32_t rows, cols;    // image shape
    uint32_t n_classes;     // max label + 1 over both splits
    hpt_split_t train;
    hpt_split_t test;
    char fingerprint[65];   // hex SHA-256 over the four files' SHA-256s, in order
} hpt_dataset_t;

/* Load dataset `name` using data_dir (borrowed, may be NULL for the default
 * search path).  Validates that image and label counts agree, that both
 * splits have the same image shape, and that labels are < 256 classes.
 * *out returns owned.  Errors name the file and the problem: -ENOENT when no
 * directory on the search path has the dataset (the message lists where it
 * looked and how to fetch it), -EINVAL for bad content, -ENOMEM. */
int hpt_dataset_load(hpt_dataset_t **out, const char *name, const char *data_dir, hpt_err *err);

/* Free; accepts NULL and sets *p = NULL. */
void hpt_dataset_destroy(hpt_dataset_t **p);

/* The named datasets (directories under a data dir), in the order a worker
 * loads them by default, then NULL.  Spec parsing, lookup and dataset
 * transfer all take their list from here. */
extern const char *const hpt_dataset_names[];

/* Whether name (borrowed, may be NULL) is one of hpt_dataset_names. */
bool hpt_dataset_is_named(const char *name);

/* The named datasets as "mnist, mnist-10k, fashion-mnist", for messages. */
#define HPT_DATASET_NAMES_TEXT "mnist, mnist-10k, fashion-mnist"

/* Resolve a name to a directory without loading (for listing/fingerprinting
 * in later issues).  Writes the directory into dir (size len).  Returns 0 or
 * -ENOENT / -EINVAL with err filled. */
int hpt_dataset_find(const char *name, const char *data_dir, char *dir, size_t len, hpt_err *err);

// --- the files of a dataset directory (dataset transfer) ---

#define HPT_DATASET_N_FILES 4   // train images, train labels, test images, test labels

/* The base name of file i (0..HPT_DATASET_N_FILES-1), in fingerprint order,
 * e.g. "train-images-idx3-ubyte"; NULL when i is out of range. */
const char *hpt_dataset_file_base(int i);

/* Write the path of file i of the dataset in dir (dir/BASE.gz, else
 * dir/BASE; the compressed form wins, as when loading) into path (size len,
 * at least 4096).
 * Returns 0, -ENOENT when neither exists, -EINVAL, -ENAMETOOLONG. */
int hpt_dataset_file_path(const char *dir, int i, char *path, size_t len);

/* Whether name (borrowed) may name file i on the wire: exactly BASE or
 * BASE.gz for that i, so a peer can never make us read or write another
 * path. */
bool hpt_dataset_file_name_ok(int i, const char *name);

// --- validated copies (the coordinator's: fingerprints and dataset transfer) ---

/* hpt_dataset_scan flags. */
#define HPT_DATASET_NOFOLLOW 1u   // no symbolic link anywhere: the directory's path is walked
                                  // from "/" component by component with O_NOFOLLOW, and the
                                  // files are opened with O_NOFOLLOW (idx: paths a submitter
                                  // names); without it links are followed (the operator's own
                                  // data dir, where fetch-data.sh links fashion-mnist)
#define HPT_DATASET_KEEP_FDS 2u   // keep the directory and the four files open (serving)

/* One file of a validated copy: its base name and what identifies its bytes. */
typedef struct hpt_dataset_file_id {
    char name[64];          // BASE or BASE.gz
    int fd;                 // open read-only with HPT_DATASET_KEEP_FDS, else -1
    uint64_t dev, ino;      // st_dev, st_ino
    uint64_t size;          // bytes on disk
    int64_t mtime_ns, ctime_ns;
} hpt_dataset_file_id_t;

/* A dataset directory whose four files were each opened once, found to be
 * regular files holding valid IDX (magic, type, rank, dimensions exactly
 * matching the payload, nothing after it; gzip inflated), consistent with
 * each other (as hpt_dataset_load checks), and hashed from those same open
 * files into the fingerprint hpt_dataset_load would compute.  Nothing is
 * kept in memory but these figures. */
typedef struct hpt_dataset_scan {
    char dir[4096];         // as given (canonical for NOFOLLOW)
    int dir_fd;             // with HPT_DATASET_KEEP_FDS, else -1
    uint64_t dir_dev, dir_ino;
    hpt_dataset_file_id_t files[HPT_DATASET_N_FILES];   // fingerprint order
    char fingerprint[65];
    uint32_t n_train, n_test, rows, cols;
} hpt_dataset_scan_t;

/* Open directory dir (borrowed) read-only.  With nofollow, dir must be
 * absolute and is walked from "/" one component at a time, each opened
 * relative to its parent with O_DIRECTORY | O_NOFOLLOW: a symbolic link
 * anywhere on the path is refused (-ELOOP), as are "." and "..".  Returns
 * the fd (the caller closes it) or a negative errno with err naming the
 * path. */
int hpt_dataset_open_dir(const char *dir, bool nofollow, hpt_err *err);

/* Validate and fingerprint the dataset in dir (borrowed) as described at
 * hpt_dataset_scan_t, streaming each file once (1 MiB at a time).  Returns 0
 * with *out filled (its fds open only with HPT_DATASET_KEEP_FDS; release
 * with hpt_dataset_scan_close), or a negative errno with err naming the file
 * and the problem: -ENOENT (missing), -ELOOP (a symbolic link, NOFOLLOW),
 * -EINVAL (not a regular file, bad IDX, files that disagree), -EAGAIN (a
 * file changed while it was read).  Blocking: reads every byte. */
int hpt_dataset_scan(const char *dir, unsigned flags, hpt_dataset_scan_t *out, hpt_err *err);

/* Whether the open file of id (a scan kept with HPT_DATASET_KEEP_FDS) still
 * has the identity it was validated with (device, inode, size, mtime,
 * ctime): one fstat.  Returns 0, -ESTALE when it changed, -EBADF when it is
 * not open. */
int hpt_dataset_file_check(const hpt_dataset_file_id_t *id);

/* Close the fds of a scan (accepts a closed or zeroed-with-fds-at--1 one). */
void hpt_dataset_scan_close(hpt_dataset_scan_t *sc);

/* Whether the copy a scan validated is still what dir holds: the same
 * directory, the same file names, each with its device, inode, size, mtime
 * and ctime.  A few stat calls, no reads.  Returns 0, or -ESTALE (or the
 * error of opening the directory) with err saying what changed. */
int hpt_dataset_scan_check(const hpt_dataset_scan_t *sc, unsigned flags, hpt_err *err);

#endif
