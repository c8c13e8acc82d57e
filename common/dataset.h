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

#endif
