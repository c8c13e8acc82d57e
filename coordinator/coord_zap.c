/*
 * coord_zap.c: the coordinator's CURVE authentication (docs/security.md).
 *
 * With --curve-secret the ROUTER is a CURVE server: every connection is
 * encrypted, and libzmq asks a ZAP handler (ZeroMQ RFC 27) whether the
 * client's public key may connect.  The handler is a REP socket bound to
 * inproc://zeromq.zap.01 in the coordinator's context, driven by the same
 * prepare/check/idle watcher as the ROUTER (zsock.h), so it runs on the loop
 * thread and touches coord_t freely.  It answers 200 for a key found in the
 * --authorized-keys directory (one public key per file; re-read on SIGHUP)
 * and 400 otherwise, logging each refusal with the peer's address and key,
 * at most five lines a minute per address and key (coord_log_allowed).
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
 * A peer that fails before ZAP is asked (a plain-text peer: mechanism
 * mismatch; a peer that encrypted its hello to another server key) never
 * reaches the handler.  A socket monitor on the ROUTER reports those
 * handshake failures, which are logged (rate-limited per cause) so that an
 * operator sees why a worker cannot connect.  libzmq's stable monitor API
 * names only the local endpoint, so these lines carry no peer address.
 *
 * Revoking a key (deleting its file, then SIGHUP) refuses new connections
 * with it; a connection already authenticated stays up until it closes,
 * because ZeroMQ offers no way to drop one peer of a ROUTER.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "coord.h"
#include "curve.h"
#include "log.h"

#define COMP "security"
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MON_ENDPOINT "inproc://hptune-router-monitor"
#define LOG_KIND_REFUSED 3     // coord_log_allowed kinds (0..2 are used elsewhere)
#define LOG_KIND_HANDSHAKE 4
#define REFUSALS_PER_MINUTE 5  // log lines per address and key (or handshake failure cause)
#define ZAP_MAX_FRAMES 8

struct coord_zap {
    coord_t *c;                   // borrowed: the coordinator that owns this
    hpt_curve_pair_t keys;        // the server's key pair (secret wiped on destroy)
    hpt_curve_keyset_t *allowed;  // owned; replaced on SIGHUP
    void *rep;                    // ZAP handler socket
    void *mon;                    // PAIR receiving the ROUTER's monitor events
    hpt_zsock_t zs_rep, zs_mon;
    bool watching;
    uint64_t accepted, refused, handshake_failed;
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

/* Send the six-frame ZAP reply.  req_id may be NULL (a malformed request). */
static void zap_reply(coord_zap_t *z, zmq_msg_t *req_id, const char *status, const char *text,
                      const char *user)
{
    const char *frames[6] = {"1.0", NULL, status, text, user, ""};
    for (int i = 0; i < 6; i++) {
        int flags = i < 5 ? ZMQ_SNDMORE : 0;
        int rc;
        if (i == 1 && req_id)
            rc = zmq_send(z->rep, zmq_msg_data(req_id), zmq_msg_size(req_id), flags);
        else
            rc = zmq_send(z->rep, i == 1 ? "" : frames[i], i == 1 ? 0 : strlen(frames[i]),
                          flags);
        if (rc < 0) {
            // A REP that cannot send is stuck; libzmq then times the handshake out.
            hpt_log(HPT_LOG_ERROR, COMP, "cannot answer a ZAP request", "error=\"%s\"",
                    zmq_strerror(zmq_errno()));
            return;
        }
    }
}

static void log_refusal(coord_zap_t *z, const char *address, const char *key, const char *why)
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
            "note=\"add the key to the authorized-keys directory and SIGHUP to allow it; at "
            "most %d such lines a minute per address and key\"",
            address[0] ? address : "-", hpt_log_quote(key, qk, sizeof qk),
            hpt_log_quote(why, qw, sizeof qw), (unsigned long long)z->refused,
            REFUSALS_PER_MINUTE);
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

    /* RFC 27: version, request id, domain, address, identity, mechanism,
     * credentials (CURVE: one frame, the client's 32-byte public key). */
    char address[64] = "", domain[64] = "", key[HPT_CURVE_Z85_LEN + 1] = "-";
    if (n >= 4)
        frame_str(&f[3], address, sizeof address);
    if (n >= 3)
        frame_str(&f[2], domain, sizeof domain);
    if (n >= 7 && zmq_msg_size(&f[6]) == HPT_CURVE_KEY_LEN)
        hpt_curve_key_encode(zmq_msg_data(&f[6]), key);

    if (overflow || n < 6 || !frame_is(&f[0], "1.0")) {
        zap_reply(z, n >= 2 ? &f[1] : NULL, "500", "malformed ZAP request", "");
        hpt_log(HPT_LOG_ERROR, COMP, "malformed ZAP request", "frames=%d", n);
    } else if (strcmp(domain, HPT_CURVE_ZAP_DOMAIN) != 0) {
        zap_reply(z, &f[1], "400", "unknown ZAP domain", "");
        log_refusal(z, address, key, "unknown ZAP domain");
    } else if (!frame_is(&f[5], "CURVE") || n != 7 || zmq_msg_size(&f[6]) != HPT_CURVE_KEY_LEN) {
        zap_reply(z, &f[1], "400", "CURVE required", "");
        log_refusal(z, address, key, "not a CURVE handshake");
    } else {
        const char *who = NULL;
        unsigned roles = hpt_curve_keyset_roles(z->allowed, zmq_msg_data(&f[6]), &who);
        if (who) {
            z->accepted++;
            /* The User-Id is the key: roles are looked up per message. */
            zap_reply(z, &f[1], "200", "OK", key);
            char rs[48];
            hpt_log(HPT_LOG_DEBUG, COMP, "peer authenticated", "address=%s key=%s file=%s roles=%s",
                    address[0] ? address : "-", key, who,
                    hpt_curve_roles_str(roles, rs, sizeof rs));
        } else {
            zap_reply(z, &f[1], "400", "key not authorized", "");
            log_refusal(z, address, key, "key not in the authorized-keys directory");
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    hpt_zsock_kick(&z->zs_rep);  // a send can change ZMQ_EVENTS without an edge
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
    const char *why;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        why = "a peer without CURVE keys (plain text) tried to connect; give it --curve-secret "
              "and --server-key";
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
    return hpt_curve_keyset_roles(z->allowed, key, name);
}

int coord_zap_new(coord_zap_t **out, coord_t *c)
{
    *out = NULL;
    hpt_err err = {0};
    const coord_cfg_t *cfg = &c->cfg;
    if (!cfg->authorized_keys[0]) {
        fprintf(stderr,
                "hptune-coordinator: --curve-secret needs --authorized-keys DIR, the directory "
                "of the public keys (one per file) allowed to connect; an empty directory "
                "refuses everyone until keys are added and the coordinator gets SIGHUP\n");
        return -EINVAL;
    }
    if (hpt_curve_supported(&err) < 0) {
        fprintf(stderr, "hptune-coordinator: --curve-secret: %s\n", err.msg);
        return -ENOTSUP;
    }
    coord_zap_t *z = calloc(1, sizeof *z);
    if (!z) {
        fprintf(stderr, "hptune-coordinator: out of memory\n");
        return -ENOMEM;
    }
    z->c = c;
    int rc = hpt_curve_load_secret(cfg->curve_secret, &z->keys, &err);
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
                "dir=%s note=\"add public keys (hptune keygen's .pub files) and send SIGHUP\"",
                cfg->authorized_keys);
    hpt_curve_keyset_stats_t st;
    hpt_curve_keyset_stats(z->allowed, &st);
    hpt_log(HPT_LOG_INFO, COMP, "CURVE on",
            "public_key=%s authorized_keys=%zu workers=%zu clients=%zu readers=%zu dir=%s",
            z->keys.public_z85, n, st.workers, st.clients, st.readers, cfg->authorized_keys);
    log_flat(&st, cfg->authorized_keys);
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
     * without one, libzmq lets every CURVE client in. */
    z->rep = zmq_socket(z->c->zctx, ZMQ_REP);
    if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(z->rep, ZAP_ENDPOINT) != 0)
        goto zfail;
    what = "CURVE server options";
    if ((rc = hpt_curve_set_server(router, &z->keys)) < 0)
        goto fail;
    what = "socket monitor";
    if (zmq_socket_monitor(router, MON_ENDPOINT,
                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        goto zfail;
    z->mon = zmq_socket(z->c->zctx, ZMQ_PAIR);
    if (!z->mon || zmq_setsockopt(z->mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_connect(z->mon, MON_ENDPOINT) != 0)
        goto zfail;
    return 0;
zfail:
    rc = -zmq_errno();
fail:
    hpt_log(HPT_LOG_ERROR, COMP, "cannot set up CURVE", "step=\"%s\" error=\"%s\"", what,
            hpt_strerror(rc));
    return rc;
}

int coord_zap_start(coord_zap_t *z)
{
    int rc = hpt_zsock_init(z->c->loop, &z->zs_rep, z->rep, on_zap, z);
    if (rc < 0)
        return rc;
    rc = hpt_zsock_init(z->c->loop, &z->zs_mon, z->mon, on_monitor, z);
    if (rc < 0) {
        hpt_zsock_close(&z->zs_rep, NULL);
        return rc;
    }
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
            "dir=%s keys=%zu workers=%zu clients=%zu readers=%zu before=%zu skipped=%d%s", dir,
            n, st.workers, st.clients, st.readers, before, skipped,
            n ? "" : " note=\"no key: every new connection is refused\"");
    log_flat(&st, dir);
}

void coord_zap_close(coord_zap_t *z)
{
    if (!z || !z->watching)
        return;
    z->watching = false;
    hpt_zsock_close(&z->zs_rep, NULL);
    hpt_zsock_close(&z->zs_mon, NULL);
}

void coord_zap_destroy(coord_zap_t **p)
{
    if (!p || !*p)
        return;
    coord_zap_t *z = *p;
    if (z->mon)
        zmq_close(z->mon);
    if (z->rep)
        zmq_close(z->rep);
    hpt_curve_wipe(&z->keys);
    hpt_curve_keyset_destroy(&z->allowed);
    free(z);
    *p = NULL;
}
