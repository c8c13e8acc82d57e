/*
 * coord_policy.h: what a peer of the coordinator may do, and how often
 * (docs/security.md, "Roles" and "Quotas and limits").
 *
 *   - Roles: the role a message kind needs.  A key's roles come from the
 *     authorized-keys directory (common/curve.h); without keys every peer
 *     has every role.
 *   - Principals: who a quota and a key-wide rate limit count against: the
 *     peer's public key with CURVE, its address (or its user id on ipc://)
 *     without.
 *   - Rate limits: token buckets per connection and per principal for Hello,
 *     Submit and bad messages, in a fixed-size table that evicts, so that
 *     however many peers and keys misbehave, the coordinator keeps a bounded
 *     amount for them.
 *   - Quotas: whether one more submission fits (spec bytes, active sweeps per
 *     principal and in all), and which finished sweeps retention removes.
 *
 * Everything here is pure: no I/O, no clock (the caller passes `now`), no
 * logging; tests/unit/test_policy.c drives it directly.  Loop thread.
 */
#ifndef COORD_POLICY_H
#define COORD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

// --- roles ------------------------------------------------------------------

/* The roles (HPT_CURVE_ROLE_* bits of common/curve.h) any one of which
 * lets a peer send a message of this Envelope body case: worker messages
 * need WORKER, submit and cancel need CLIENT, read requests (status,
 * workers, results, subscribe, unsubscribe) need CLIENT or READER.  0 for
 * bodies no peer may send the coordinator (replies, coordinator-to-worker
 * messages, unknown cases). */
unsigned coord_policy_needs(int body_case);

/* The message kind as people call it ("hello", "submit", "cancel",
 * "status", "logs", ...), for errors and logs; "unknown" otherwise. */
const char *coord_policy_kind(int body_case);

/* Whether a body case is a client request (answered with ErrorReply when
 * refused) rather than a worker message (answered with Disconnect). */
bool coord_policy_is_request(int body_case);

// --- principals -------------------------------------------------------------

#define COORD_PRINCIPAL_LEN 64   // bytes of a principal's text, NUL included

/* Who a message counts against, into out (COORD_PRINCIPAL_LEN bytes):
 *   - with CURVE (curve = true): "key:" and the Z85 public key the ZAP
 *     handler returned as the connection's User-Id (user_id, borrowed, may
 *     be NULL), or "" when it is missing or not a key;
 *   - without: "uid:N" for an ipc:// peer (libzmq's Peer-Address
 *     "localhost:UID:GID:PID"), "addr:IP" for a TCP peer, "local" when the
 *     address is unknown (peer_address borrowed, may be NULL).
 * Returns out. */
const char *coord_policy_principal(bool curve, const char *user_id, const char *peer_address,
                                   char out[COORD_PRINCIPAL_LEN]);

// --- rate limits --------------------------------------------------------------

typedef enum coord_lim_kind {
    COORD_LIM_HELLO,    // Hello: per connection
    COORD_LIM_SUBMIT,   // Submit: per connection and per principal
    COORD_LIM_BAD,      // undecodable, unexpected or refused messages: per connection and
                        // per principal
    COORD_LIM_CONN,     // new connections (the ZAP handler): per source address
    COORD_LIM_HISTORY,  // Subscribe with history (a replay of the event ring): per
                        // connection and per principal
    COORD_LIM__N
} coord_lim_kind_t;

/* One kind's bucket: per_min tokens a minute refill it, up to burst.
 * per_min == 0: no limit. */
typedef struct coord_bucket_cfg {
    int per_min;
    int burst;
} coord_bucket_cfg_t;

/* Whose bucket: the connection (its routing id) or the principal.  The
 * same bytes in two scopes are two buckets. */
typedef enum coord_lim_scope {
    COORD_SCOPE_PEER,
    COORD_SCOPE_PRINCIPAL,
} coord_lim_scope_t;

typedef struct coord_lim_id {
    coord_lim_scope_t scope;
    const void *bytes;        // borrowed
    size_t len;
} coord_lim_id_t;

#define COORD_LIMITS_SLOTS 8192   // table entries (a few dozen bytes each)
#define COORD_LIMITS_WAYS 8       // an id may live in one of this many slots

typedef struct coord_limits coord_limits_t;

/* A table of `slots` entries (rounded up to a multiple of
 * COORD_LIMITS_WAYS) with the buckets cfg[COORD_LIM__N] (copied).  seed:
 * 16 bytes of the keyed hash (SipHash) that places ids, so that peers
 * cannot aim their ids at one another's slots; tests pass a fixed one.
 * Returns 0 or -ENOMEM; *out is owned by the caller. */
int coord_limits_new(coord_limits_t **out, size_t slots, const coord_bucket_cfg_t *cfg,
                     const uint8_t seed[16]);
void coord_limits_destroy(coord_limits_t **p);

/* Take one token of `kind` from the bucket of every id in ids[0..n): when
 * each has a token, all are taken and true is returned; otherwise none is
 * taken and false is returned.  A new id starts with a full bucket.  When
 * the id's slots are all taken, the entry that is full again by now (it
 * would start full anyway) is replaced, else the least recently used one,
 * peers' before principals'.  now: monotonic seconds. */
bool coord_limits_take(coord_limits_t *l, double now, coord_lim_kind_t kind,
                       const coord_lim_id_t *ids, int n);

/* Counters: entries in use, entries replaced while not yet full again. */
size_t coord_limits_used(const coord_limits_t *l);
uint64_t coord_limits_evicted(const coord_limits_t *l);

// --- open connections per address ------------------------------------------------

/* Which connections are open, from where: the ZAP handler refuses a new one
 * when its address, or everybody, has too many (docs/security.md, "Quotas
 * and limits").  Fed by the ROUTER's socket monitor: a connection is
 * accepted on a descriptor (with the peer's address read from it) and later
 * disconnected from that descriptor.  Memory is fixed at creation: a table
 * of addresses (addresses with no connection left are forgotten when it
 * fills; when every entry has connections, further addresses share one
 * overflow entry, "other") and a descriptor map of max_fds entries
 * (descriptors beyond it are not counted). */
typedef struct coord_conns coord_conns_t;

#define COORD_CONNS_ADDR_LEN 48   // bytes of an address's text, NUL included (IPv6 fits)

/* addrs: entries of the address table (rounded up to a power of two);
 * max_fds: the largest descriptor + 1 tracked.  0 or -ENOMEM. */
int coord_conns_new(coord_conns_t **out, size_t addrs, size_t max_fds);
void coord_conns_destroy(coord_conns_t **p);
/* A connection on fd from addr (borrowed; "" for a local one) opened.  A
 * descriptor already counted (its close was missed) is moved, not counted
 * twice. */
void coord_conns_open(coord_conns_t *t, int fd, const char *addr);
/* The connection on fd closed; nothing when fd is not counted. */
void coord_conns_close(coord_conns_t *t, int fd);
/* Open connections from addr (those of the overflow entry when addr has
 * none of its own and the table is full), and in all. */
int coord_conns_count(const coord_conns_t *t, const char *addr);
int coord_conns_total(const coord_conns_t *t);
/* An address as coord_conns keys it: an IPv4-mapped IPv6 address
 * ("::ffff:10.0.0.7") as its IPv4 form, anything else as it is; into out
 * (COORD_CONNS_ADDR_LEN bytes).  Returns out. */
const char *coord_conns_addr(const char *addr, char out[COORD_CONNS_ADDR_LEN]);

// --- quotas -----------------------------------------------------------------------

typedef struct coord_quota_cfg {
    int spec_bytes;           // largest spec accepted, bytes
    int active_per_key;       // queued, running or refitting sweeps per principal
    int active_total;         // ... of every principal together
} coord_quota_cfg_t;

/* What a submission would bring the coordinator to. */
typedef struct coord_quota_use {
    size_t spec_bytes;        // this spec's size
    int active_key;           // the principal's active sweeps (and submissions in flight)
    int active_total;         // everybody's
} coord_quota_use_t;

/* 0 when one more sweep fits, else -EDQUOT with err saying which quota, the
 * numbers and the config key that sets it; `who` (borrowed) names the
 * principal for people ("key clients/alice.pub", "address 10.0.0.7"). */
int coord_quota_check(const coord_quota_cfg_t *q, const coord_quota_use_t *u, const char *who,
                      hpt_err *err);

/* Retention: given the finish times (unix seconds) of the n finished sweeps
 * in the order they finished, oldest first, how many of the oldest to
 * delete now so that at most `keep` remain and none finished more than
 * max_age_s ago (0: no age limit).  Returns that count (at most n). */
size_t coord_retain_count(const double *finished, size_t n, int keep, double max_age_s,
                          double now_unix);

#endif
