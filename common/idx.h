/*
 * idx.h: reader for IDX files (the MNIST format), gzip-compressed or raw.
 *
 * The header is validated against the bytes that follow: magic (0x00 0x00,
 * type 0x08 = unsigned byte, rank 1..4), every dimension > 0, the product of
 * the dimensions equal to the payload length, and a size cap so a hostile
 * header cannot make us allocate gigabytes.  Errors name the file and what is
 * wrong with it.
 */
#ifndef HPT_IDX_H
#define HPT_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HPT_IDX_MAX_RANK 4
#define HPT_IDX_MAX_BYTES (2ULL << 30)  // refuse payloads above 2 GiB

typedef struct hpt_idx {
    int rank;                        // number of dimensions, 1..HPT_IDX_MAX_RANK
    uint32_t dims[HPT_IDX_MAX_RANK]; // dims[0] = item count
    size_t n_bytes;                  // payload bytes = product of dims
    uint8_t *data;                   // payload, owned
    uint8_t sha256[32];              // SHA-256 of the whole decompressed file
} hpt_idx_t;

/* Read and validate `path` (gzip detected by its magic, else raw).  On success
 * fills *out (its data owned by the caller, release with hpt_idx_free).
 * Errors: -ENOENT/-EACCES/-EISDIR (cannot open), -EIO or -errno (read
 * error), -EINVAL (bad content: bad magic,
 * unsupported type, bad rank, zero dimension, truncated, trailing bytes,
 * corrupt gzip, too large), -ENOMEM.  err's message starts with the path. */
int hpt_idx_read(const char *path, hpt_idx_t *out, hpt_err *err);

/* Validate the regular file open at fd (borrowed; read from its start
 * through a duplicate, which shares and moves fd's file offset) as
 * hpt_idx_read does, without keeping its payload: the payload streams
 * through a 1 MiB buffer, so a file of any size costs constant memory.  On
 * success *out has rank, dims, n_bytes and sha256 (data is NULL; hpt_idx_free
 * accepts it).  A FIFO, socket, device or directory is refused (-EINVAL)
 * without being read.  `name` (borrowed) is used in messages.  Errors as
 * hpt_idx_read's. */
int hpt_idx_scan_fd(int fd, const char *name, hpt_idx_t *out, hpt_err *err);

/* Same, from an in-memory buffer (borrowed); `name` is used in messages.
 * The buffer may itself be gzip-compressed. */
int hpt_idx_parse(const char *name, const uint8_t *buf, size_t len, hpt_idx_t *out, hpt_err *err);

/* Release data; accepts a zeroed struct. */
void hpt_idx_free(hpt_idx_t *idx);

/* Lowercase hex of a 32-byte digest into hex (65 bytes incl. NUL). */
void hpt_sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
