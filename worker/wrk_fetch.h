/*
 * wrk_fetch.h: fetching a dataset from the coordinator (docs/protocol.md,
 * "Dataset transfer").
 *
 * When the coordinator offers a dataset (DatasetOffer: name, fingerprint, the
 * four IDX files and their sizes), the worker fetches the files in chunks
 * with credit-based flow control, the ZeroMQ guide's fileio3 pattern: it
 * keeps up to `window` FetchChunk requests outstanding and sends one more for
 * every chunk that arrives, so a fast link stays full and a slow one never
 * holds more than window x chunk bytes in flight.  The coordinator keeps no
 * state per transfer: each request names its file, offset and size.
 *
 * Files: a named dataset ("mnist", "mnist-10k", "fashion-mnist") goes where
 * the worker loads it from, ROOT/NAME/; an "idx:DIR" dataset (a path on the coordinator)
 * goes to ROOT/idx-<first 16 hex digits of its fingerprint>/ and is
 * announced under its sweep's (canonical) dataset name.  Bytes are written to
 * FILE.partial.PID.RAND next to the final name; when all four files are
 * there the partial ones are fsynced and renamed, the directory fsynced, and
 * the dataset loaded from the final files and fingerprinted
 * (common/dataset.c) on a libuv thread-pool thread.  A
 * transfer interrupted by a disconnect, a coordinator restart or a worker
 * restart continues from the bytes already on disk.  A copy whose
 * fingerprint is wrong (a corrupted partial or final file) is deleted and
 * fetched again once; a second failure gives up with an error.  A final
 * file of another size than the offer's is never overwritten (it is
 * somebody's other copy): the offer is refused with an error.
 *
 * Workers sharing a data dir: a transfer holds a non-blocking flock on
 * DIR/.fetch.lock until its copy is verified; a worker that finds it taken
 * waits (the tick retries the lock) and then uses what the other left
 * (wrk_fetch.c).
 *
 * Invariants: one transfer at a time; offers that arrive meanwhile (and
 * while waiting for another process's transfer) are ignored (the
 * coordinator repeats them).  Requests carry a transfer id
 * (xfer) that changes whenever the window is restarted (reconnect, stall,
 * out-of-order chunk), so answers to an abandoned window are recognised and
 * dropped.
 *
 * Threads: everything here is called on the worker's loop thread; only the
 * verification runs on a thread-pool thread, and it touches nothing the loop
 * changes meanwhile.
 */
#ifndef HPT_WRK_FETCH_H
#define HPT_WRK_FETCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "dataset.h"
#include "err.h"
#include "proto_io.h"

typedef struct wrk_fetch wrk_fetch_t;

typedef struct wrk_fetch_opts {
    const char *root;      // borrowed (copied by wrk_fetch_new): the data dir fetched
                           // datasets are written to
    int chunk_bytes;       // bytes asked for per FetchChunk, 1..HPT_PROTO_MAX_CHUNK
    int window;            // FetchChunk requests outstanding at most (the credit)
    int64_t rate_bytes_s;  // request at most this many bytes per second; 0 = unlimited
                           // (tests slow a transfer down with it); 64 bits because
                           // --fetch-rate-kib-s goes up to 10485760 KiB/s (10 GiB/s)
    int stall_ms;          // no chunk for this long while requests are out: ask again
} wrk_fetch_opts_t;

/* Send env (borrowed) on the worker's connection.  Returns 0 or -errno
 * (nothing sent; the request is retried from the housekeeping tick). */
typedef int (*wrk_fetch_send_fn)(void *ud, hpt_env_t *env);

/* A fetched and verified dataset, its name set to the offer's.  Takes
 * ownership of *ds (the callee NULLs it or destroys it). */
typedef void (*wrk_fetch_done_fn)(void *ud, hpt_dataset_t **ds);

/* A fetcher writing under opts->root.  *out returns owned.  Returns 0,
 * -EINVAL (bad options) or -ENOMEM.  loop, ud: borrowed, outlive it. */
int wrk_fetch_new(wrk_fetch_t **out, uv_loop_t *loop, const wrk_fetch_opts_t *opts,
                  wrk_fetch_send_fn send, wrk_fetch_done_fn done, void *ud);

/* Free; accepts NULL and sets *p = NULL.  Call after uv_run has returned
 * (a verification in flight keeps the loop alive until it ends). */
void wrk_fetch_destroy(wrk_fetch_t **p);

/* An offer (borrowed, validated by proto_io).  Starts a transfer unless one
 * is running, or verifies the files already on disk when they are complete.
 * The caller has checked that the worker may fetch (not --no-fetch, not
 * --dry-run, not draining) and does not hold the dataset. */
void wrk_fetch_offer(wrk_fetch_t *f, const Hpt__DatasetOffer *m);

/* A chunk (borrowed, validated) from the coordinator. */
void wrk_fetch_chunk(wrk_fetch_t *f, const Hpt__DatasetChunk *m);

/* A new connection is up and Hello was sent: requests on the old one are
 * lost, so ask again from the bytes received. */
void wrk_fetch_reconnected(wrk_fetch_t *f);

/* Housekeeping (from the worker's tick): rate-limited and unsent requests,
 * stall detection, and the lock of a transfer waiting for another
 * process's. */
void wrk_fetch_tick(wrk_fetch_t *f);

/* Shutdown: stop asking; what was received stays on disk for next time; a
 * verification in flight is discarded when it ends. */
void wrk_fetch_stop(wrk_fetch_t *f);

/* Whether a transfer or verification is in progress, and of which dataset
 * (borrowed, valid until the next call; NULL when idle). */
const char *wrk_fetch_current(const wrk_fetch_t *f);

#endif
