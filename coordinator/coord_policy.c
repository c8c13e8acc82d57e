/*
 * coord_policy.c: roles, principals, rate limits and quotas; see
 * coord_policy.h.
 *
 * The rate-limit table is set-associative: an id hashes (SipHash-2-4 with a
 * per-process key, so a peer cannot choose ids that collide with another's)
 * to a set of COORD_LIMITS_WAYS slots and lives in one of them.  Its memory
 * is fixed at creation: a peer that opens connection after connection only
 * makes the table forget idle entries (which would be full again anyway)
 * and then the least recently used ones, so what any number of peers can
 * make the coordinator keep is the table, nothing more.  Forgetting a
 * bucket that is not full again gives its id a fresh burst; principals are
 * forgotten after connections, because a principal's bucket is the one that
 * spans its connections.  Two ids with the same 64-bit hash share a bucket,
 * which costs them tokens, never another peer's.
 */
#include "coord_policy.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "hptune.pb-c.h"

// --- roles ------------------------------------------------------------------

#define R_WORKER HPT_CURVE_ROLE_WORKER
#define R_WRITE HPT_CURVE_ROLE_CLIENT
#define R_READ (HPT_CURVE_ROLE_CLIENT | HPT_CURVE_ROLE_READER)

unsigned coord_policy_needs(int body_case)
{
    switch (body_case) {
    case HPT__ENVELOPE__BODY_HELLO:
    case HPT__ENVELOPE__BODY_HEARTBEAT:
    case HPT__ENVELOPE__BODY_PROGRESS:
    case HPT__ENVELOPE__BODY_RESULT:
    case HPT__ENVELOPE__BODY_GOODBYE:
    case HPT__ENVELOPE__BODY_DATASETS:
    case HPT__ENVELOPE__BODY_FETCH_CHUNK:
        return R_WORKER;
    case HPT__ENVELOPE__BODY_SUBMIT:
    case HPT__ENVELOPE__BODY_CANCEL_SWEEP:
        return R_WRITE;
    case HPT__ENVELOPE__BODY_STATUS:
    case HPT__ENVELOPE__BODY_WORKERS:
    case HPT__ENVELOPE__BODY_RESULTS:
    case HPT__ENVELOPE__BODY_SUBSCRIBE:
    case HPT__ENVELOPE__BODY_UNSUBSCRIBE:
        return R_READ;
    default:
        return 0;   // replies and coordinator-to-worker messages: nobody sends us those
    }
}

bool coord_policy_is_request(int body_case)
{
    return (coord_policy_needs(body_case) & (R_READ | R_WRITE)) != 0;
}

const char *coord_policy_kind(int body_case)
{
    switch (body_case) {
    case HPT__ENVELOPE__BODY_HELLO: return "hello";
    case HPT__ENVELOPE__BODY_HEARTBEAT: return "heartbeat";
    case HPT__ENVELOPE__BODY_PROGRESS: return "progress";
    case HPT__ENVELOPE__BODY_RESULT: return "result";
    case HPT__ENVELOPE__BODY_GOODBYE: return "goodbye";
    case HPT__ENVELOPE__BODY_DATASETS: return "datasets";
    case HPT__ENVELOPE__BODY_FETCH_CHUNK: return "fetch_chunk";
    case HPT__ENVELOPE__BODY_SUBMIT: return "submit";
    case HPT__ENVELOPE__BODY_CANCEL_SWEEP: return "cancel";
    case HPT__ENVELOPE__BODY_STATUS: return "status";
    case HPT__ENVELOPE__BODY_WORKERS: return "workers";
    case HPT__ENVELOPE__BODY_RESULTS: return "results";
    case HPT__ENVELOPE__BODY_SUBSCRIBE: return "logs";
    case HPT__ENVELOPE__BODY_UNSUBSCRIBE: return "logs";
    case HPT__ENVELOPE__BODY_WELCOME: return "welcome";
    case HPT__ENVELOPE__BODY_ASSIGN: return "assign";
    case HPT__ENVELOPE__BODY_CANCEL: return "task cancel";
    case HPT__ENVELOPE__BODY_DISCONNECT: return "disconnect";
    case HPT__ENVELOPE__BODY_REJECT: return "reject";
    case HPT__ENVELOPE__BODY_DATASET_OFFER: return "dataset_offer";
    case HPT__ENVELOPE__BODY_DATASET_CHUNK: return "dataset_chunk";
    default: return "reply";
    }
}

// --- principals -------------------------------------------------------------

static bool all_z85(const char *s, size_t n)
{
    static const char z85[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(z85, s[i]))
            return false;
    return true;
}

const char *coord_policy_principal(bool curve, const char *user_id, const char *peer_address,
                                   char out[COORD_PRINCIPAL_LEN])
{
    out[0] = '\0';
    if (curve) {
        if (user_id && strlen(user_id) == HPT_CURVE_Z85_LEN && all_z85(user_id,
                                                                        HPT_CURVE_Z85_LEN))
            snprintf(out, COORD_PRINCIPAL_LEN, "key:%s", user_id);
        return out;
    }
    const char *a = peer_address ? peer_address : "";
    /* libzmq names an ipc:// peer "localhost:UID:GID:PID": one principal per
     * local user, whatever process it runs. */
    unsigned long uid;
    char rest[16];
    if (strncmp(a, "localhost:", 10) == 0 && sscanf(a + 10, "%lu:%15s", &uid, rest) == 2)
        snprintf(out, COORD_PRINCIPAL_LEN, "uid:%lu", uid);
    else if (a[0])
        snprintf(out, COORD_PRINCIPAL_LEN, "addr:%.58s", a);
    else
        snprintf(out, COORD_PRINCIPAL_LEN, "local");
    return out;
}

// --- rate limits --------------------------------------------------------------

typedef struct lim_entry {
    uint64_t hash;                // 0: empty (a real hash of 0 is taken as 1)
    double seen;                  // monotonic seconds of the last refill
    float tokens[COORD_LIM__N];
    uint8_t scope;                // coord_lim_scope_t
} lim_entry_t;

struct coord_limits {
    lim_entry_t *v;
    size_t n_sets;                // slots / COORD_LIMITS_WAYS
    coord_bucket_cfg_t cfg[COORD_LIM__N];
    uint8_t seed[crypto_shorthash_KEYBYTES];
    size_t used;
    uint64_t evicted;
};

_Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash takes a 16-byte key");
_Static_assert(crypto_shorthash_BYTES == 8, "SipHash gives 8 bytes");

int coord_limits_new(coord_limits_t **out, size_t slots, const coord_bucket_cfg_t *cfg,
                     const uint8_t seed[16])
{
    *out = NULL;
    coord_limits_t *l = calloc(1, sizeof *l);
    size_t sets = (slots + COORD_LIMITS_WAYS - 1) / COORD_LIMITS_WAYS;
    if (sets == 0)
        sets = 1;
    if (l)
        l->v = calloc(sets * COORD_LIMITS_WAYS, sizeof *l->v);
    if (!l || !l->v) {
        free(l);
        return -ENOMEM;
    }
    l->n_sets = sets;
    memcpy(l->cfg, cfg, sizeof l->cfg);
    memcpy(l->seed, seed, sizeof l->seed);
    *out = l;
    return 0;
}

void coord_limits_destroy(coord_limits_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->v);
    free(*p);
    *p = NULL;
}

size_t coord_limits_used(const coord_limits_t *l)
{
    return l->used;
}

uint64_t coord_limits_evicted(const coord_limits_t *l)
{
    return l->evicted;
}

static uint64_t id_hash(const coord_limits_t *l, const coord_lim_id_t *id)
{
    /* The scope is hashed with the bytes: a peer whose routing id spells a
     * principal must not share the principal's bucket. */
    uint8_t h[crypto_shorthash_BYTES];
    uint8_t buf[1 + 256];
    size_t n = id->len < 256 ? id->len : 256;
    buf[0] = (uint8_t)id->scope;
    memcpy(buf + 1, id->bytes, n);
    crypto_shorthash(h, buf, n + 1, l->seed);
    uint64_t v;
    memcpy(&v, h, sizeof v);
    return v ? v : 1;
}

/* Refill e's buckets up to now. */
static void refill(const coord_limits_t *l, lim_entry_t *e, double now)
{
    double dt = now - e->seen;
    if (dt <= 0)
        return;
    for (int k = 0; k < COORD_LIM__N; k++) {
        if (l->cfg[k].per_min <= 0)
            continue;
        double t = e->tokens[k] + dt * l->cfg[k].per_min / 60.0;
        e->tokens[k] = (float)(t > l->cfg[k].burst ? l->cfg[k].burst : t);
    }
    e->seen = now;
}

/* Whether e's buckets would all be full at now: forgetting it loses nothing. */
static bool full_by(const coord_limits_t *l, const lim_entry_t *e, double now)
{
    double dt = now > e->seen ? now - e->seen : 0;
    for (int k = 0; k < COORD_LIM__N; k++)
        if (l->cfg[k].per_min > 0 &&
            e->tokens[k] + dt * l->cfg[k].per_min / 60.0 < l->cfg[k].burst)
            return false;
    return true;
}

/* The entry of id, created (full) when missing; NULL only when every slot
 * of its set is pinned.  The entries
 * pinned[0..n_pinned) (the other ids of one take) are never replaced. */
static lim_entry_t *entry(coord_limits_t *l, double now, const coord_lim_id_t *id,
                          lim_entry_t *const *pinned, int n_pinned)
{
    uint64_t h = id_hash(l, id);
    lim_entry_t *set = &l->v[(h % l->n_sets) * COORD_LIMITS_WAYS];
    lim_entry_t *empty = NULL, *idle = NULL, *lru_peer = NULL, *lru = NULL;
    for (int i = 0; i < COORD_LIMITS_WAYS; i++) {
        lim_entry_t *e = &set[i];
        if (e->hash == h) {
            refill(l, e, now);
            return e;
        }
        if (!e->hash) {
            if (!empty)
                empty = e;
            continue;
        }
        bool pin = false;
        for (int j = 0; j < n_pinned; j++)
            pin |= pinned[j] == e;
        if (pin)
            continue;
        if (!idle && full_by(l, e, now))
            idle = e;
        if (e->scope == COORD_SCOPE_PEER && (!lru_peer || e->seen < lru_peer->seen))
            lru_peer = e;
        if (!lru || e->seen < lru->seen)
            lru = e;
    }
    lim_entry_t *e = empty ? empty : idle ? idle : lru_peer ? lru_peer : lru;
    if (!e)
        return NULL;   // every way pinned by the same take: more ids than ways
    if (empty)
        l->used++;
    else if (!idle)
        l->evicted++;
    *e = (lim_entry_t){.hash = h, .seen = now, .scope = (uint8_t)id->scope};
    for (int k = 0; k < COORD_LIM__N; k++)
        e->tokens[k] = (float)l->cfg[k].burst;
    return e;
}

bool coord_limits_take(coord_limits_t *l, double now, coord_lim_kind_t kind,
                       const coord_lim_id_t *ids, int n)
{
    if ((unsigned)kind >= COORD_LIM__N || l->cfg[kind].per_min <= 0)
        return true;   // no limit
    lim_entry_t *e[4];
    if (n > 4)
        n = 4;
    for (int i = 0; i < n; i++)
        e[i] = entry(l, now, &ids[i], e, i);   // the earlier ids' entries stay
    for (int i = 0; i < n; i++)
        if (e[i] && e[i]->tokens[kind] < 1.0f)
            return false;
    for (int i = 0; i < n; i++)
        if (e[i])
            e[i]->tokens[kind] -= 1.0f;
    return true;
}

// --- open connections per address ------------------------------------------------

typedef struct conn_addr {
    char addr[COORD_CONNS_ADDR_LEN];
    int count;                    // open connections
    bool used;                    // the slot holds an address (open addressing: probes pass it)
} conn_addr_t;

struct coord_conns {
    conn_addr_t *v;               // n entries, a power of two, and v[n]: the overflow entry
    size_t n, used;               // slots, slots holding an address
    size_t idle;                  // ... of which with no connection open (forgettable)
    int32_t *fd_slot;             // max_fds entries: the slot a descriptor counts in, or -1
    size_t max_fds;
    int total;
    uint8_t seed[crypto_shorthash_KEYBYTES];
};

int coord_conns_new(coord_conns_t **out, size_t addrs, size_t max_fds)
{
    *out = NULL;
    size_t n = 16;
    while (n < addrs)
        n *= 2;
    coord_conns_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->v = calloc(n + 1, sizeof *t->v);
    t->fd_slot = malloc((max_fds ? max_fds : 1) * sizeof *t->fd_slot);
    if (!t->v || !t->fd_slot) {
        coord_conns_destroy(&t);
        return -ENOMEM;
    }
    t->n = n;
    t->max_fds = max_fds;
    for (size_t i = 0; i < max_fds; i++)
        t->fd_slot[i] = -1;
    snprintf(t->v[n].addr, sizeof t->v[n].addr, "other");
    randombytes_buf(t->seed, sizeof t->seed);
    *out = t;
    return 0;
}

void coord_conns_destroy(coord_conns_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->v);
    free((*p)->fd_slot);
    free(*p);
    *p = NULL;
}

const char *coord_conns_addr(const char *addr, char out[COORD_CONNS_ADDR_LEN])
{
    if (!addr)
        addr = "";
    if (strncmp(addr, "::ffff:", 7) == 0 && strchr(addr + 7, '.'))
        addr += 7;
    snprintf(out, COORD_CONNS_ADDR_LEN, "%s", addr);
    return out;
}

static size_t conn_hash(const coord_conns_t *t, const char *addr)
{
    uint8_t h[crypto_shorthash_BYTES];
    crypto_shorthash(h, (const uint8_t *)addr, strlen(addr), t->seed);
    uint64_t x;
    memcpy(&x, h, sizeof x);
    return (size_t)(x & (t->n - 1));
}

/* The slot holding addr, or n when it has none. */
static size_t conn_find(const coord_conns_t *t, const char *addr)
{
    for (size_t i = conn_hash(t, addr), k = 0; k < t->n; i = (i + 1) & (t->n - 1), k++) {
        if (!t->v[i].used)
            return t->n;
        if (strcmp(t->v[i].addr, addr) == 0)
            return i;
    }
    return t->n;
}

/* Rebuild the table without the addresses that have no connection left;
 * the descriptors' slots move with their addresses. */
static void conn_compact(coord_conns_t *t)
{
    conn_addr_t *old = malloc(t->n * sizeof *old);
    int32_t *map = malloc(t->n * sizeof *map);
    if (!old || !map) {
        free(old);
        free(map);
        return;   // out of memory: new addresses go to the overflow entry
    }
    memcpy(old, t->v, t->n * sizeof *old);
    memset(t->v, 0, t->n * sizeof *t->v);
    t->used = 0;
    t->idle = 0;
    for (size_t i = 0; i < t->n; i++) {
        map[i] = -1;
        if (!old[i].used || old[i].count == 0)
            continue;
        size_t j = conn_hash(t, old[i].addr);
        while (t->v[j].used)
            j = (j + 1) & (t->n - 1);
        t->v[j] = old[i];
        t->used++;
        map[i] = (int32_t)j;
    }
    for (size_t f = 0; f < t->max_fds; f++)
        if (t->fd_slot[f] >= 0 && (size_t)t->fd_slot[f] < t->n)
            t->fd_slot[f] = map[t->fd_slot[f]];
    free(old);
    free(map);
}

void coord_conns_open(coord_conns_t *t, int fd, const char *addr_in)
{
    if (fd < 0 || (size_t)fd >= t->max_fds)
        return;
    coord_conns_close(t, fd);   // a missed close: the descriptor is another connection now
    char addr[COORD_CONNS_ADDR_LEN];
    coord_conns_addr(addr_in, addr);
    size_t i = conn_find(t, addr);
    if (i == t->n) {
        /* Full: forget the addresses without connections, when there are
         * enough of them to make the rebuild (O(table + descriptors)) pay. */
        if (t->used >= t->n * 3 / 4 && t->idle > t->n / 8)
            conn_compact(t);
        if (t->used < t->n * 3 / 4) {
            i = conn_hash(t, addr);
            while (t->v[i].used)
                i = (i + 1) & (t->n - 1);
            t->v[i] = (conn_addr_t){.used = true};
            snprintf(t->v[i].addr, sizeof t->v[i].addr, "%s", addr);
            t->used++;
            t->idle++;
        }   // else: every address still has connections; this one counts as "other"
    }
    if (i < t->n && t->v[i].count == 0)
        t->idle--;
    t->v[i].count++;
    t->fd_slot[fd] = (int32_t)i;
    t->total++;
}

void coord_conns_close(coord_conns_t *t, int fd)
{
    if (fd < 0 || (size_t)fd >= t->max_fds || t->fd_slot[fd] < 0)
        return;
    size_t i = (size_t)t->fd_slot[fd];
    if (--t->v[i].count == 0 && i < t->n)
        t->idle++;
    t->fd_slot[fd] = -1;
    t->total--;
}

int coord_conns_count(const coord_conns_t *t, const char *addr_in)
{
    char addr[COORD_CONNS_ADDR_LEN];
    coord_conns_addr(addr_in, addr);
    size_t i = conn_find(t, addr);
    if (i == t->n && t->used < t->n * 3 / 4)
        return 0;   // not in the table, and the table had room: none open
    return t->v[i].count;
}

int coord_conns_total(const coord_conns_t *t)
{
    return t->total;
}

// --- quotas -----------------------------------------------------------------------

int coord_quota_check(const coord_quota_cfg_t *q, const coord_quota_use_t *u, const char *who,
                      hpt_err *err)
{
    if (q->spec_bytes > 0 && u->spec_bytes > (size_t)q->spec_bytes)
        return hpt_err_set(err, -EDQUOT,
                           "quota: the spec is %zu bytes; this coordinator accepts at most %d "
                           "(max_spec_bytes)",
                           u->spec_bytes, q->spec_bytes);
    if (q->active_per_key > 0 && u->active_key >= q->active_per_key)
        return hpt_err_set(err, -EDQUOT,
                           "quota: %s has %d active sweeps (queued, running or refitting), the "
                           "most max_active_sweeps_per_key allows; wait for one to end or "
                           "cancel one (hptune cancel)",
                           who, u->active_key);
    if (q->active_total > 0 && u->active_total >= q->active_total)
        return hpt_err_set(err, -EDQUOT,
                           "quota: the coordinator has %d active sweeps (queued, running or "
                           "refitting), the most max_active_sweeps allows; wait for one to end",
                           u->active_total);
    return 0;
}

size_t coord_retain_count(const double *finished, size_t n, int keep, double max_age_s,
                          double now_unix)
{
    size_t drop = keep >= 0 && n > (size_t)keep ? n - (size_t)keep : 0;
    if (max_age_s > 0) {
        double cutoff = now_unix - max_age_s;
        size_t old = 0;
        while (old < n && finished[old] < cutoff)
            old++;
        if (old > drop)
            drop = old;
    }
    return drop;
}
