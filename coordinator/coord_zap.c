/*
 * coord_zap.c: who may connect to the coordinator, and who a connection is
 * (docs/security.md, "Identity" and "How it is built").
 *
 * Every connection to the ROUTER, with or without keys, goes through a ZAP
 * handler (ZeroMQ RFC 27): the ROUTER has a ZAP domain in both modes, so
 * libzmq asks about every NULL and CURVE handshake (and refuses ZMTP 1.0 and
 * 2.0 peers outright, which could otherwise pick their identity in their
 * greeting).  The handler is a ROUTER socket bound to inproc://zeromq.zap.01
 * in the coordinator's context, driven by the same prepare/check/idle
 * watcher as the main ROUTER (zsock.h), so it runs on the loop thread and
 * touches coord_t freely.
 *
 * Admission.  With --curve-secret the main ROUTER is a CURVE server: the
 * handler answers 200 for a key found in the --authorized-keys directory
 * (one public key per file; re-read on SIGHUP) and 400 otherwise, logging
 * each refusal with the peer's address and key, at most five lines a minute
 * per address and key (coord_log_allowed).  Without keys it admits every
 * NULL handshake.
 *
 * Roles (docs/security.md): a key's roles come from the subdirectory its
 * file is in (workers/, clients/, readers/; the top level: worker).  The
 * ZAP handler's 200 carries the key itself, in Z85, as the connection's
 * User-Id, which libzmq attaches to every message of the connection
 * (zmq_msg_gets "User-Id").  main.c looks the key's roles up in the current
 * set for every message (coord_zap_roles), so a SIGHUP that moves or
 * deletes a key's file changes what its open connections may do at once,
 * even though ZeroMQ cannot close them.
 *
 * Identity.  libzmq 4.3 lets a peer choose its routing id (ZMQ_ROUTING_ID)
 * and gives the others ids from a counter; a peer that claims an id the
 * counter has not reached yet makes the ROUTER abort (an assertion in
 * libzmq) once a later connection is given that id.  The ZAP request does
 * not carry the peer's choice, but the reply may set it: every admitted
 * connection gets a routing id of the handler's choosing ("c<serial>.<8 hex
 * random>", never the 5-byte form of an automatic id), in the reply's
 * metadata as "Identity", and the same text as "X-Hpt-Conn" (the key is
 * the User-Id).  libzmq attaches the reply's properties to
 * every message of the connection, and a peer's own properties of the same
 * name do not override them.  The routing id, though, is whichever
 * "Identity" libzmq reads last, the peer's metadata or the reply's, so every
 * admitting reply waits ZAP_DELAY_MS (a uv timer), and (coord_zap_check):
 *   - with CURVE libzmq reads the client's metadata (its INITIATE) right
 *     after asking, long before the delayed reply: the reply's identity
 *     wins, no peer chooses its routing id, the counter never moves, the
 *     abort cannot happen.  (Replying at once lost that race on a loaded
 *     machine: libzmq's I/O thread was preempted as it asked.)  A message
 *     whose routing id is not the reply's is refused and its connection cut;
 *   - without keys the peer's READY may come after the reply and win.  A
 *     libzmq peer sends READY at once, within the delay; a peer that holds
 *     back its READY longer (a hand-written client) keeps an id of its
 *     choosing.  Its first message then shows it (routing id and
 *     X-Hpt-Conn differ): an automatic-form id (a libzmq peer on a slow
 *     link) is used as it is, any other is refused and its TCP connection
 *     cut.  libc's rand(), which starts libzmq's counter, is seeded from
 *     getrandom here, and logs never show an automatic id's bytes
 *     (proto_io.c), so the counter cannot be read off; docs/security.md
 *     says what remains.
 *
 * A peer that fails before ZAP is asked (a plain-text peer against keys: a
 * mechanism mismatch; a peer that encrypted its hello to another server
 * key; a ZMTP 1.0 or 2.0 peer) never reaches the handler.  A socket monitor
 * on the ROUTER reports those handshake failures, which are logged
 * (rate-limited per cause) so that an operator sees why a worker cannot
 * connect.  libzmq's stable monitor API names only the local endpoint, so
 * these lines carry no peer address.
 *
 * Revoking a key (deleting its file, then SIGHUP) refuses new connections
 * with it; a connection already authenticated stays up until it closes,
 * because ZeroMQ offers no way to drop one peer of a ROUTER.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zmq.h>

#include "coord.h"
#include "curve.h"
#include "log.h"

#define COMP "security"
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MON_ENDPOINT "inproc://hptune-router-monitor"
#define LOG_KIND_REFUSED 3     // coord_log_allowed kinds (0..2 are used elsewhere)
#define LOG_KIND_HANDSHAKE 4
#define LOG_KIND_IDENTITY 5
#define REFUSALS_PER_MINUTE 5  // log lines per address and key (or handshake failure cause)
#define ZAP_MAX_FRAMES 10      // routing id, delimiter, and RFC 27's up to 8
/* How long an admitting reply waits, so that the peer's own metadata (and
 * with it any routing id it chose) is read before the reply sets the
 * coordinator's (see the top of the file).  A libzmq peer sends its READY
 * (NULL) as soon as it has the greeting, well within this on any network
 * the plain mode is meant for (loopback); with CURVE libzmq reads the
 * client's INITIATE right after asking, unless its I/O thread is preempted
 * in between, which on a loaded machine happens. */
#define ZAP_DELAY_MS 20
#define ZAP_DEFER_MAX 4096     // replies waiting at once; beyond, they go at once
#define PROP_CONN "X-Hpt-Conn"

/* An admitting reply, waiting ZAP_DELAY_MS. */
typedef struct zap_deferred {
    uint64_t due;                 // uv_now() to send it
    uint8_t rid[256], reqid[64];  // the request's routing id (on the handler) and id
    size_t rid_len, reqid_len;
    char token[32];
    char user[HPT_CURVE_Z85_LEN + 1];  // the User-Id: the client's key (CURVE), "" without
    struct zap_deferred *next;
} zap_deferred_t;

struct coord_zap {
    coord_t *c;                   // borrowed: the coordinator that owns this
    bool curve;                   // --curve-secret: CURVE server, keys checked
    hpt_curve_pair_t keys;        // the server's key pair (secret wiped on destroy)
    hpt_curve_keyset_t *allowed;  // owned; replaced on SIGHUP
    void *zap;                    // ZAP handler socket (ROUTER)
    void *mon;                    // PAIR receiving the ROUTER's monitor events
    hpt_zsock_t zs_zap, zs_mon;
    uv_timer_t defer_timer;       // sends the deferred replies
    zap_deferred_t *defer_head, *defer_tail;
    int n_deferred;
    bool watching;
    uint64_t next_conn;           // serial of the next admitted connection
    uint64_t accepted, refused, handshake_failed;
    coord_conns_t *conns;         // open connections per address (the monitor's accepts)
    uint64_t own_ids;             // messages whose peer kept a routing id of its own choice
    uint64_t auto_ids;            // ... that kept libzmq's automatic id (a slow READY)
};

// --- the ZAP handler ------------------------------------------------------

/* A frame's bytes as a NUL-terminated string, cut to fit buf. */
static const char *frame_str(zmq_msg_t *m, char *buf, size_t len)
{
    size_t n = zmq_msg_size(m);
    if (n >= len)
        n = len - 1;
    memcpy(buf, zmq_msg_data(m), n);
    buf[n] = '\0';
    // Addresses and domains are text; anything else would garble the log.
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 32 || (unsigned char)buf[i] > 126)
            buf[i] = '?';
    return buf;
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
    size_t n = strlen(s);
    return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* ZMTP metadata (RFC 23): per property a name length byte, the name, a
 * 4-byte big-endian value length and the value.  Returns the bytes
 * written into buf (len >= 256 suffices for ours). */
static size_t meta_put(uint8_t *buf, size_t off, size_t len, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    if (off + 1 + n + 4 + v > len)
        return off;
    buf[off++] = (uint8_t)n;
    memcpy(buf + off, name, n);
    off += n;
    buf[off++] = (uint8_t)(v >> 24);
    buf[off++] = (uint8_t)(v >> 16);
    buf[off++] = (uint8_t)(v >> 8);
    buf[off++] = (uint8_t)v;
    memcpy(buf + off, value, v);
    return off + v;
}

/* Send the ZAP reply on the handler's ROUTER: the request's routing id and
 * delimiter, then RFC 27's six frames.  user: the User-Id (with CURVE the
 * client's key in Z85, "" without keys); token (NULL for a refusal) becomes
 * the connection's routing id and X-Hpt-Conn. */
static void zap_send(coord_zap_t *z, const void *rid, size_t rid_len, const void *reqid,
                     size_t reqid_len, const char *status, const char *text, const char *user,
                     const char *token)
{
    uint8_t meta[256];
    size_t mlen = 0;
    if (token) {
        mlen = meta_put(meta, mlen, sizeof meta, "Identity", token);
        mlen = meta_put(meta, mlen, sizeof meta, PROP_CONN, token);
    }
    struct {
        const void *p;
        size_t n;
    } f[8] = {{rid, rid_len},       {"", 0},           {"1.0", 3},
              {reqid, reqid_len},   {status, strlen(status)}, {text, strlen(text)},
              {user, strlen(user)}, {meta, mlen}};
    for (int i = 0; i < 8; i++) {
        if (zmq_send(z->zap, f[i].p, f[i].n, i < 7 ? ZMQ_SNDMORE : 0) < 0) {
            // libzmq then times the handshake out (ZMQ_HANDSHAKE_IVL).
            hpt_log(HPT_LOG_ERROR, COMP, "cannot answer a ZAP request", "error=\"%s\"",
                    zmq_strerror(zmq_errno()));
            return;
        }
    }
    hpt_zsock_kick(&z->zs_zap);   // a send can change ZMQ_EVENTS without an edge
}

/* The routing id the next admitted connection gets: a serial (unique in
 * this run; the core's coord_conn_t.id) and 32 random bits, so nobody can
 * claim a future connection's id ahead of time. */
static void next_token(coord_zap_t *z, char token[32])
{
    uint32_t r = randombytes_random();
    snprintf(token, 32, "c%llu.%08x", (unsigned long long)++z->next_conn, (unsigned)r);
}

static void on_defer_timer(uv_timer_t *t);

static void defer_arm(coord_zap_t *z)
{
    if (!z->defer_head)
        return;
    uint64_t now = uv_now(z->c->loop);
    uint64_t due = z->defer_head->due;
    uv_timer_start(&z->defer_timer, on_defer_timer, due > now ? due - now : 0, 0);
}

static void on_defer_timer(uv_timer_t *t)
{
    coord_zap_t *z = t->data;
    uint64_t now = uv_now(z->c->loop);
    while (z->defer_head && z->defer_head->due <= now) {
        zap_deferred_t *d = z->defer_head;
        z->defer_head = d->next;
        if (!z->defer_head)
            z->defer_tail = NULL;
        z->n_deferred--;
        zap_send(z, d->rid, d->rid_len, d->reqid, d->reqid_len, "200", "OK", d->user, d->token);
        free(d);
    }
    defer_arm(z);
}

/* Admit a handshake under a routing id of the handler's choosing: the
 * reply waits ZAP_DELAY_MS (see the top of the file), or goes at once when
 * too many wait already.  user: the User-Id ("" without keys). */
static void admit(coord_zap_t *z, zmq_msg_t *rid, zmq_msg_t *reqid, const char *user)
{
    char token[32];
    next_token(z, token);
    z->accepted++;
    zap_deferred_t *d = z->n_deferred < ZAP_DEFER_MAX && zmq_msg_size(rid) <= sizeof d->rid &&
                                zmq_msg_size(reqid) <= sizeof d->reqid
                            ? calloc(1, sizeof *d)
                            : NULL;
    if (!d || !z->watching) {
        free(d);
        zap_send(z, zmq_msg_data(rid), zmq_msg_size(rid), zmq_msg_data(reqid),
                 zmq_msg_size(reqid), "200", "OK", user, token);
        return;
    }
    d->due = uv_now(z->c->loop) + ZAP_DELAY_MS;
    snprintf(d->user, sizeof d->user, "%s", user);
    d->rid_len = zmq_msg_size(rid);
    memcpy(d->rid, zmq_msg_data(rid), d->rid_len);
    d->reqid_len = zmq_msg_size(reqid);
    memcpy(d->reqid, zmq_msg_data(reqid), d->reqid_len);
    memcpy(d->token, token, sizeof d->token);
    if (z->defer_tail)
        z->defer_tail->next = d;
    else
        z->defer_head = d;
    z->defer_tail = d;
    if (z->n_deferred++ == 0)
        defer_arm(z);
}

static void log_refusal(coord_zap_t *z, const char *address, const char *key, const char *why,
                        bool limit)
{
    z->refused++;
    // Per (address, key): a second refused key from the same host is news.
    hpt_peer_id_t pid = {0};
    int n = snprintf((char *)pid.bytes, sizeof pid.bytes, "%s %s", address, key);
    pid.len = (uint8_t)(n < 0 ? 0 : n < (int)sizeof pid.bytes ? n : (int)sizeof pid.bytes - 1);
    if (!coord_log_allowed(z->c, &pid, LOG_KIND_REFUSED, REFUSALS_PER_MINUTE))
        return;
    char qk[96], qw[160];
    hpt_log(HPT_LOG_WARN, COMP, "connection refused", "address=%s key=%s reason=%s total=%llu "
            "note=\"%s; at most %d such lines a minute per address and key\"",
            address[0] ? address : "-", hpt_log_quote(key, qk, sizeof qk),
            hpt_log_quote(why, qw, sizeof qw), (unsigned long long)z->refused,
            limit ? "a connection limit (docs/security.md, Quotas and limits); the peer may "
                    "retry later"
                  : "add the key to the authorized-keys directory and SIGHUP to allow it",
            REFUSALS_PER_MINUTE);
}

/* Whether a new connection from address may go on (docs/security.md,
 * "Quotas and limits"): NULL, or why not, counted.  The connection itself
 * is already counted in conns (the monitor reports its accept before its
 * handshake reaches ZAP), hence the strict comparisons. */
static const char *conn_limited(coord_zap_t *z, const char *address)
{
    coord_t *c = z->c;
    const coord_cfg_t *cfg = &c->cfg;
    if (cfg->max_conns > 0 && coord_conns_total(z->conns) > cfg->max_conns) {
        c->refused_conns_total++;
        return "too many connections open (max_conns)";
    }
    if (cfg->max_conns_per_addr > 0 &&
        coord_conns_count(z->conns, address) > cfg->max_conns_per_addr) {
        c->refused_conns_addr++;
        return "too many connections open from this address (max_conns_per_addr)";
    }
    char id[8 + COORD_CONNS_ADDR_LEN];
    int n = snprintf(id, sizeof id, "conn:%s", address);
    coord_lim_id_t lid = {COORD_SCOPE_PRINCIPAL, id, n > 0 ? (size_t)n : 0};
    if (c->limits && !coord_limits_take(c->limits, coord_now(), COORD_LIM_CONN, &lid, 1)) {
        c->limited[COORD_LIM_CONN]++;
        return "too many new connections from this address (conn_per_min, conn_burst)";
    }
    return NULL;
}

static void on_zap(hpt_zsock_t *zs, void *sock, void *ud)
{
    (void)zs;
    coord_zap_t *z = ud;
    zmq_msg_t f[ZAP_MAX_FRAMES];
    int n = 0;
    bool more = true, overflow = false;
    while (more && n < ZAP_MAX_FRAMES) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&f[n]);
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    if (n == 0)
        return;  // nothing was waiting
    while (more) {  // frames past the limit: read and dropped, the request is refused
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&x);
            break;
        }
        more = zmq_msg_more(&x);
        zmq_msg_close(&x);
        overflow = true;
    }

    /* The handler's ROUTER adds the asking session's routing id and an empty
     * delimiter; then RFC 27: version, request id, domain, address,
     * identity, mechanism, credentials (CURVE: one frame, the client's
     * 32-byte public key; NULL: none). */
    char address[64] = "", domain[64] = "", key[HPT_CURVE_Z85_LEN + 1] = "-";
    const char *limited = NULL;
    if (n >= 6)
        frame_str(&f[5], address, sizeof address);
    if (n >= 5)
        frame_str(&f[4], domain, sizeof domain);
    if (n >= 9 && zmq_msg_size(&f[8]) == HPT_CURVE_KEY_LEN)
        hpt_curve_key_encode(zmq_msg_data(&f[8]), key);

    if (n < 4) {
        // Not even a routing id, delimiter and request id to answer to.
        hpt_log(HPT_LOG_ERROR, COMP, "malformed ZAP request", "frames=%d", n);
    } else if (overflow || n < 8 || zmq_msg_size(&f[1]) != 0 || !frame_is(&f[2], "1.0")) {
        zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                 zmq_msg_size(&f[3]), "500", "malformed ZAP request", "", NULL);
        hpt_log(HPT_LOG_ERROR, COMP, "malformed ZAP request", "frames=%d", n);
    } else if (strcmp(domain, HPT_CURVE_ZAP_DOMAIN) != 0) {
        zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                 zmq_msg_size(&f[3]), "400", "unknown ZAP domain", "", NULL);
        log_refusal(z, address, key, "unknown ZAP domain", false);
    } else if ((limited = conn_limited(z, address)) != NULL) {
        // Logged before the refusal leaves: a peer that sees it can read the reason.
        log_refusal(z, address, key, limited, true);
        zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                 zmq_msg_size(&f[3]), "400", limited, "", NULL);
    } else if (!z->curve) {
        if (frame_is(&f[7], "NULL") && n == 8) {
            admit(z, &f[0], &f[3], "");
        } else {
            zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                     zmq_msg_size(&f[3]), "400", "plain text only", "", NULL);
            log_refusal(z, address, key, "not a NULL handshake", false);
        }
    } else if (!frame_is(&f[7], "CURVE") || n != 9 ||
               zmq_msg_size(&f[8]) != HPT_CURVE_KEY_LEN) {
        zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                 zmq_msg_size(&f[3]), "400", "CURVE required", "", NULL);
        log_refusal(z, address, key, "not a CURVE handshake", false);
    } else {
        const char *who = NULL;
        unsigned roles = hpt_curve_keyset_roles(z->allowed, zmq_msg_data(&f[8]), &who);
        if (who) {
            /* The User-Id is the key: roles are looked up per message. */
            admit(z, &f[0], &f[3], key);
            char rs[48];
            hpt_log(HPT_LOG_DEBUG, COMP, "peer authenticated", "address=%s key=%s file=%s roles=%s",
                    address[0] ? address : "-", key, who,
                    hpt_curve_roles_str(roles, rs, sizeof rs));
        } else {
            zap_send(z, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[3]),
                     zmq_msg_size(&f[3]), "400", "key not authorized", "", NULL);
            log_refusal(z, address, key, "key not in the authorized-keys directory", false);
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
}

// --- who a message comes from -------------------------------------------------

/* Cut the TCP (or IPC) connection a message came on (its ZMQ_SRCFD and
 * Peer-Address, in meta): libzmq then closes it and forgets the peer.  The
 * descriptor is libzmq's; it is only shut down, never closed, and only if it
 * is still a connected stream socket whose peer is that address (it could
 * have been closed and reused since the message was read). */
static void cut_connection(const hpt_proto_meta_t *meta)
{
    int fd = meta->src_fd;
    if (fd < 0)
        return;
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 || type != SOCK_STREAM)
        return;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) != 0)
        return;
    char have[INET6_ADDRSTRLEN] = "";
    if (sa.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, have, sizeof have);
    else if (sa.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, have, sizeof have);
    if (sa.ss_family != AF_UNIX && strcmp(meta->peer_address, have) != 0)
        return;
    shutdown(fd, SHUT_RDWR);
}

static bool automatic_id(const hpt_peer_id_t *p)
{
    return p->len == 5 && p->bytes[0] == 0;
}

int coord_zap_check(coord_zap_t *z, const hpt_peer_id_t *peer, const hpt_proto_meta_t *meta,
                    coord_conn_t *conn, hpt_err *err)
{
    *conn = (coord_conn_t){0};
    const char *token = meta->conn;
    unsigned long long serial = 0;
    char dot = 0;
    if (sscanf(token, "c%llu%c", &serial, &dot) != 2 || dot != '.' || serial == 0) {
        /* Every connection over TCP or IPC went through the handler; one
         * without its mark did not (an in-process peer, or a libzmq that
         * skipped ZAP).  Nothing is known of it: refuse. */
        hpt_log(HPT_LOG_ERROR, COMP, "message from a connection the ZAP handler did not admit; "
                "dropped", "%s", "");
        return hpt_err_set(err, -EPERM, "connection not admitted by the ZAP handler");
    }
    conn->id = serial;
    // With keys the User-Id is the client's key (Z85); without, it is "".
    snprintf(conn->key, sizeof conn->key, "%.40s", z->curve ? meta->user_id : "");
    size_t tl = strlen(token);
    if (peer->len == tl && memcmp(peer->bytes, token, tl) == 0)
        return 0;   // the routing id the handler gave it
    if (automatic_id(peer) && !z->curve) {
        /* Without keys: a peer whose READY came after the (delayed) reply,
         * so libzmq gave it an automatic id, as before ZAP assigned them (a
         * libzmq peer on a slow link).  Such ids never repeat, and the core
         * binds records to conn->id too.  (With CURVE the reply always
         * wins: an automatic id there is refused like a chosen one.) */
        z->auto_ids++;
        return 0;
    }
    z->own_ids++;
    hpt_peer_id_t pid = {0};
    pid.len = (uint8_t)(tl < sizeof pid.bytes ? tl : sizeof pid.bytes);
    memcpy(pid.bytes, token, pid.len);
    if (coord_log_allowed(z->c, &pid, LOG_KIND_IDENTITY, REFUSALS_PER_MINUTE)) {
        char id[80];
        hpt_log(HPT_LOG_WARN, COMP, "peer chose its own routing id; connection refused and cut",
                "address=%s conn=%s routing_id=%s total=%llu note=\"hptune's workers and CLI "
                "never choose one\"",
                meta->peer_address[0] ? meta->peer_address : "-", token,
                hpt_peer_id_str(peer, id, sizeof id), (unsigned long long)z->own_ids);
    }
    cut_connection(meta);
    return hpt_err_set(err, -EPERM, "the peer chose its own routing id");
}

// --- handshake failures that never reach ZAP --------------------------------

static void on_monitor(hpt_zsock_t *zs, void *sock, void *ud)
{
    (void)zs;
    coord_zap_t *z = ud;
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, sock, ZMQ_DONTWAIT) < 0)
        goto out;
    if (zmq_msg_more(&ev) && zmq_msg_recv(&ep, sock, ZMQ_DONTWAIT) < 0)
        goto out;
    if (zmq_msg_size(&ev) < 6)
        goto out;
    const uint8_t *d = zmq_msg_data(&ev);
    uint16_t event;
    uint32_t value;
    memcpy(&event, d, sizeof event);
    memcpy(&value, d + 2, sizeof value);
    if (event == ZMQ_EVENT_ACCEPTED) {
        /* Count it against its address (max_conns_per_addr).  value is the
         * descriptor, still open unless the peer has already gone (then
         * getpeername fails and it is not counted; its disconnect finds
         * nothing). */
        struct sockaddr_storage sa;
        socklen_t sl = sizeof sa;
        char a[INET6_ADDRSTRLEN] = "";
        if (getpeername((int)value, (struct sockaddr *)&sa, &sl) == 0) {
            if (sa.ss_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, a, sizeof a);
            else if (sa.ss_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, a, sizeof a);
            coord_conns_open(z->conns, (int)value, a);   // AF_UNIX: "", as ZAP says
        }
        goto out;
    }
    if (event == ZMQ_EVENT_DISCONNECTED) {
        coord_conns_close(z->conns, (int)value);
        goto out;
    }
    const char *why;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        why = z->curve ? "a peer without CURVE keys (plain text) tried to connect; give it "
                         "--curve-secret and --server-key"
                       : "a peer with CURVE keys tried to connect to a coordinator without "
                         "keys; start the coordinator with --curve-secret and "
                         "--authorized-keys, or drop the peer's keys";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
             value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        why = "a peer's CURVE hello could not be decrypted: its --server-key is not this "
              "coordinator's public key";
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        why = "protocol error during the handshake";
    else
        why = "connection closed during the handshake";
    /* NO_DETAIL is mostly a peer hanging up mid-handshake (after its own
     * mechanism mismatch, or a port scan): worth a debug line only. */
    hpt_log_level_t level =
        event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? HPT_LOG_WARN : HPT_LOG_DEBUG;
    z->handshake_failed++;
    // Rate-limited per cause: the "peer" is the cause's text.
    hpt_peer_id_t pid = {0};
    pid.len = (uint8_t)strlen(why);
    memcpy(pid.bytes, why, pid.len);
    if (level >= hpt__log_level &&
        coord_log_allowed(z->c, &pid, LOG_KIND_HANDSHAKE, REFUSALS_PER_MINUTE)) {
        char q[200];
        hpt_log(level, COMP, "handshake failed", "reason=%s code=0x%x total=%llu",
                hpt_log_quote(why, q, sizeof q), (unsigned)value,
                (unsigned long long)z->handshake_failed);
    }
out:
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
}

// --- lifecycle ----------------------------------------------------------------

/* Keys at the top of the directory have the worker role only (the layout
 * before roles): say so, since a CLI key left there can no longer submit. */
static void log_flat(const hpt_curve_keyset_stats_t *st, const char *dir)
{
    if (st->flat)
        hpt_log(HPT_LOG_INFO, COMP, "keys at the top of the authorized-keys directory have "
                "the worker role", "keys=%zu dir=%s note=\"a client's key goes into %s/clients/ "
                "(submit, cancel, read) or %s/readers/ (read only); see docs/security.md\"",
                st->flat, dir, dir, dir);
}

unsigned coord_zap_roles(const coord_zap_t *z, const char *user_id, const char **name)
{
    if (name)
        *name = NULL;
    uint8_t key[HPT_CURVE_KEY_LEN];
    if (!z || !user_id || strlen(user_id) != HPT_CURVE_Z85_LEN ||
        hpt_curve_key_decode(user_id, key) < 0)
        return 0;
    unsigned roles = hpt_curve_keyset_roles(z->allowed, key, name);
    // An admin is a client that may also cancel other keys' sweeps.
    if (roles & HPT_CURVE_ROLE_ADMIN)
        roles |= HPT_CURVE_ROLE_CLIENT | HPT_CURVE_ROLE_READER;
    return roles;
}

int coord_zap_new(coord_zap_t **out, coord_t *c)
{
    *out = NULL;
    hpt_err err = {0};
    const coord_cfg_t *cfg = &c->cfg;
    bool curve = cfg->curve_secret[0] != '\0';
    if (curve && !cfg->authorized_keys[0]) {
        fprintf(stderr,
                "hptune-coordinator: --curve-secret needs --authorized-keys DIR, the directory "
                "of the public keys (one per file) allowed to connect; an empty directory "
                "refuses everyone until keys are added and the coordinator gets SIGHUP\n");
        return -EINVAL;
    }
    if (curve && hpt_curve_supported(&err) < 0) {
        fprintf(stderr, "hptune-coordinator: --curve-secret: %s\n", err.msg);
        return -ENOTSUP;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "hptune-coordinator: libsodium failed to initialise\n");
        return -EIO;
    }
    coord_zap_t *z = calloc(1, sizeof *z);
    if (!z) {
        fprintf(stderr, "hptune-coordinator: out of memory\n");
        return -ENOMEM;
    }
    z->c = c;
    z->curve = curve;
    /* Open connections per address: descriptors up to the process's limit
     * (libzmq cannot accept beyond it), addresses in a fixed table. */
    struct rlimit rl = {0};
    size_t max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? (size_t)rl.rlim_cur : 65536;
    if (max_fds > (1u << 20))
        max_fds = 1u << 20;
    if (coord_conns_new(&z->conns, 8192, max_fds) < 0) {
        fprintf(stderr, "hptune-coordinator: out of memory\n");
        free(z);
        return -ENOMEM;
    }
    /* libzmq starts a ROUTER's counter of automatic routing ids from libc's
     * rand(), which nothing seeds: every coordinator would start from the
     * same id.  The ROUTER is created after this; no hptune code uses
     * rand() (STYLE.md section 9). */
    srand((unsigned)randombytes_random());
    uint8_t key[16];
    randombytes_buf(key, sizeof key);
    hpt_peer_id_set_key(key);   // logs show automatic ids only keyed-hashed
    sodium_memzero(key, sizeof key);
    int rc = 0;
    if (curve) {
        rc = hpt_curve_load_secret(cfg->curve_secret, &z->keys, &err);
        if (rc < 0) {
            fprintf(stderr, "hptune-coordinator: --curve-secret: %s\n", err.msg);
            goto err;
        }
        rc = hpt_curve_keyset_load(&z->allowed, cfg->authorized_keys, NULL, NULL, &err);
        if (rc < 0) {
            fprintf(stderr, "hptune-coordinator: --authorized-keys: %s\n", err.msg);
            goto err;
        }
        size_t n = hpt_curve_keyset_count(z->allowed);
        if (n == 0)
            hpt_log(HPT_LOG_WARN, COMP, "no authorized keys: every worker and client is refused",
                    "dir=%s note=\"add public keys (hptune keygen's .pub files) and send "
                    "SIGHUP\"",
                    cfg->authorized_keys);
        hpt_curve_keyset_stats_t st;
        hpt_curve_keyset_stats(z->allowed, &st);
        hpt_log(HPT_LOG_INFO, COMP, "CURVE on",
                "public_key=%s authorized_keys=%zu workers=%zu clients=%zu readers=%zu admins=%zu "
                "dir=%s",
                z->keys.public_z85, n, st.workers, st.clients, st.readers, st.admins,
                cfg->authorized_keys);
        log_flat(&st, cfg->authorized_keys);
    }
    *out = z;
    return 0;
err:
    coord_zap_destroy(&z);
    return rc;
}

int coord_zap_server(coord_zap_t *z, void *router)
{
    int zero = 0, rc = 0;
    const char *what = "ZAP socket";
    /* The handler must be bound before the ROUTER accepts a connection:
     * without one, libzmq lets every client in unchecked (and, without
     * keys, with the routing id it chose). */
    z->zap = zmq_socket(z->c->zctx, ZMQ_ROUTER);
    if (!z->zap || zmq_setsockopt(z->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(z->zap, ZAP_ENDPOINT) != 0)
        goto zfail;
    if (z->curve) {
        what = "CURVE server options";
        if ((rc = hpt_curve_set_server(router, &z->keys)) < 0)
            goto fail;
    } else {
        /* A ZAP domain makes libzmq ask the handler about NULL handshakes
         * too, and refuse ZMTP 1.0 and 2.0 peers. */
        what = "ZAP domain";
        if (zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, HPT_CURVE_ZAP_DOMAIN,
                           strlen(HPT_CURVE_ZAP_DOMAIN)) != 0)
            goto zfail;
    }
    what = "socket monitor";
    if (zmq_socket_monitor(router, MON_ENDPOINT,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_ACCEPTED |
                               ZMQ_EVENT_DISCONNECTED) != 0)
        goto zfail;
    z->mon = zmq_socket(z->c->zctx, ZMQ_PAIR);
    if (!z->mon || zmq_setsockopt(z->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(z->mon, MON_ENDPOINT) != 0)
        goto zfail;
    return 0;
zfail:
    rc = -zmq_errno();
fail:
    hpt_log(HPT_LOG_ERROR, COMP, "cannot set up the ZAP handler", "step=\"%s\" error=\"%s\"",
            what, hpt_strerror(rc));
    return rc;
}

int coord_zap_start(coord_zap_t *z)
{
    int rc = hpt_zsock_init(z->c->loop, &z->zs_zap, z->zap, on_zap, z);
    if (rc < 0)
        return rc;
    rc = hpt_zsock_init(z->c->loop, &z->zs_mon, z->mon, on_monitor, z);
    if (rc < 0) {
        hpt_zsock_close(&z->zs_zap, NULL);
        return rc;
    }
    uv_timer_init(z->c->loop, &z->defer_timer);
    z->defer_timer.data = z;
    z->watching = true;
    return 0;
}

static void on_skip(const char *path, const char *why, void *ud)
{
    int *skipped = ud;
    (*skipped)++;
    char q[HPT_ERR_MSG_LEN + 8];
    hpt_log(HPT_LOG_ERROR, COMP, "authorized key file skipped", "file=%s error=%s", path,
            hpt_log_quote(why, q, sizeof q));
}

void coord_zap_reload(coord_zap_t *z)
{
    if (!z->curve)
        return;   // no keys to re-read
    hpt_curve_keyset_t *ks = NULL;
    hpt_err err = {0};
    int skipped = 0;
    const char *dir = z->c->cfg.authorized_keys;
    size_t before = hpt_curve_keyset_count(z->allowed);
    if (hpt_curve_keyset_load(&ks, dir, on_skip, &skipped, &err) < 0) {
        char q[HPT_ERR_MSG_LEN + 8];
        hpt_log(HPT_LOG_ERROR, COMP, "cannot re-read the authorized keys; keeping the old ones",
                "dir=%s keys=%zu error=%s", dir, before, hpt_log_quote(err.msg, q, sizeof q));
        return;
    }
    hpt_curve_keyset_destroy(&z->allowed);
    z->allowed = ks;
    size_t n = hpt_curve_keyset_count(ks);
    hpt_curve_keyset_stats_t st;
    hpt_curve_keyset_stats(ks, &st);
    hpt_log(n ? HPT_LOG_INFO : HPT_LOG_WARN, COMP, "authorized keys reloaded",
            "dir=%s keys=%zu workers=%zu clients=%zu readers=%zu admins=%zu before=%zu "
            "skipped=%d%s", dir, n, st.workers, st.clients, st.readers, st.admins, before, skipped,
            n ? "" : " note=\"no key: every new connection is refused\"");
    log_flat(&st, dir);
}

static void close_nop(uv_handle_t *h)
{
    (void)h;
}

void coord_zap_close(coord_zap_t *z)
{
    if (!z || !z->watching)
        return;
    z->watching = false;
    uv_timer_stop(&z->defer_timer);
    uv_close((uv_handle_t *)&z->defer_timer, close_nop);
    hpt_zsock_close(&z->zs_zap, NULL);
    hpt_zsock_close(&z->zs_mon, NULL);
}

void coord_zap_destroy(coord_zap_t **p)
{
    if (!p || !*p)
        return;
    coord_zap_t *z = *p;
    while (z->defer_head) {   // handshakes still waiting: their connections just close
        zap_deferred_t *d = z->defer_head;
        z->defer_head = d->next;
        free(d);
    }
    if (z->mon)
        zmq_close(z->mon);
    if (z->zap)
        zmq_close(z->zap);
    hpt_curve_wipe(&z->keys);
    hpt_curve_keyset_destroy(&z->allowed);
    coord_conns_destroy(&z->conns);
    free(z);
    *p = NULL;
}
