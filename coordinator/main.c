/*
 * main.c: hptune-coordinator: the daemon that owns sweeps.
 *
 * One libuv loop drives one ROUTER socket (workers and clients alike, so a
 * firewall opens one port), one housekeeping timer (heartbeats, expiry,
 * subscriber renewal), a prepare handle that commits the journal once per
 * loop turn (group commit) and the signal handlers.  Messages are validated
 * by proto_io before they reach the handlers; a bad one is logged with its
 * peer and dropped.
 */
#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "coord.h"
#include "coord_config.h"
#include "coord_http.h"
#include "coord_policy.h"
#include "curve.h"
#include "hpt_config.h"
#include "log.h"

// --- message routing ------------------------------------------------------

/* coord_log_allowed kinds of this file (0 is log_bad's; others use 1..4,
 * 10..12 and 20). */
enum { LOG_KIND_ROLE = 30, LOG_KIND_LIMITED = 31 /* .. 31 + COORD_LIM__N - 1 */ };

/* Log a line about one peer's misbehaviour (kind: a coord_log_allowed kind)
 * only when both this peer's budget (per_minute a minute) and the
 * coordinator's budget for such lines (COORD_PEER_LOG_PER_MIN, all peers
 * together) allow it: each line is also an event row in the journal, and
 * an attacker with many connections must not be able to write those at
 * will.  Returns whether to log. */
static bool peer_log_ok(coord_t *c, const hpt_peer_id_t *peer, int kind, int per_minute)
{
    double now = coord_now();
    c->peer_log_tokens += (now - c->peer_log_at) * COORD_PEER_LOG_PER_MIN / 60.0;
    if (c->peer_log_tokens > COORD_PEER_LOG_PER_MIN)
        c->peer_log_tokens = COORD_PEER_LOG_PER_MIN;
    c->peer_log_at = now;
    if (c->peer_log_tokens < 1.0 || !coord_log_allowed(c, peer, kind, per_minute)) {
        c->peer_logs_suppressed++;
        return false;
    }
    c->peer_log_tokens -= 1.0;
    return true;
}

/* Log a bad message at most once per peer per minute; count every one. */
static void log_bad(coord_t *c, const hpt_peer_id_t *peer, const char *why)
{
    c->bad_messages++;
    if (!peer_log_ok(c, peer, 0, 1))
        return;
    char id[80];
    hpt_peer_id_str(peer, id, sizeof id);
    char q[300];
    hpt_log(HPT_LOG_WARN, "net", "bad message dropped",
            "peer=%s reason=%s total=%llu note=\"further ones from this peer are counted, not "
            "logged, for a minute\"",
            id, hpt_log_quote(why, q, sizeof q), (unsigned long long)c->bad_messages);
}

/* Who sent a message: roles, principal and a label, from the connection's
 * properties (docs/security.md, "Roles"). */
static void identify(coord_t *c, const hpt_proto_meta_t *meta, coord_who_t *who)
{
    *who = (coord_who_t){0};
    bool curve = c->cfg.curve_secret[0] != '\0';
    coord_policy_principal(curve, meta->user_id, meta->peer_address, who->principal);
    if (curve) {
        const char *file = NULL;
        who->roles = coord_zap_roles(c->zap, meta->user_id, &file);
        snprintf(who->label, sizeof who->label, "key %.80s",
                 file ? file : "(no longer authorized)");
    } else {
        /* Without keys there is nobody to tell apart: every peer may do
         * everything, as on a coordinator before roles.  Plain text is
         * allowed only on loopback or with --insecure. */
        who->roles = HPT_CURVE_ROLE_ALL;
        const char *p = who->principal;
        if (strncmp(p, "uid:", 4) == 0)
            snprintf(who->label, sizeof who->label, "user %s on this machine", p + 4);
        else if (strncmp(p, "addr:", 5) == 0)
            snprintf(who->label, sizeof who->label, "address %s", p + 5);
        else
            snprintf(who->label, sizeof who->label, "this machine");
    }
}

/* Take a token of kind from the peer's bucket and, when it has one, its
 * principal's. */
static bool limit_take(coord_t *c, coord_lim_kind_t kind, const hpt_peer_id_t *peer,
                       const coord_who_t *who, bool principal_too)
{
    if (!c->limits)
        return true;
    coord_lim_id_t ids[2] = {{COORD_SCOPE_PEER, peer->bytes, peer->len},
                             {COORD_SCOPE_PRINCIPAL, who->principal, strlen(who->principal)}};
    int n = principal_too && who->principal[0] ? 2 : 1;
    if (coord_limits_take(c->limits, coord_now(), kind, ids, n))
        return true;
    c->limited[kind]++;
    static const char *const what[COORD_LIM__N] = {"hello", "submit", "bad message",
                                                   "connection", "log history"};
    static const char *const key[COORD_LIM__N] = {"hello_per_min", "submit_per_min",
                                                  "bad_per_min", "conn_per_min",
                                                  "history_per_min"};
    if (peer_log_ok(c, peer, LOG_KIND_LIMITED + (int)kind, 1)) {
        char id[80], q[120];
        hpt_log(HPT_LOG_WARN, "security", "rate limit: message dropped",
                "peer=%s kind=\"%s\" from=%s limited=%llu note=\"at most one such line a minute "
                "per connection; see %s\"",
                hpt_peer_id_str(peer, id, sizeof id), what[kind],
                hpt_log_quote(who->label, q, sizeof q), (unsigned long long)c->limited[kind],
                key[kind]);
    }
    return false;
}

/* A bad or refused message: true when it may still be answered (the
 * peer's and principal's bad-message buckets allow it), false when it is
 * dropped silently. */
static bool bad_allowed(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who)
{
    return limit_take(c, COORD_LIM_BAD, peer, who, true);
}

/* The coordinator's replies to clients (a peer sending one is confused, or
 * probing). */
static bool is_reply_body(int body)
{
    switch (body) {
    case HPT__ENVELOPE__BODY_SUBMIT_REPLY:
    case HPT__ENVELOPE__BODY_STATUS_REPLY:
    case HPT__ENVELOPE__BODY_WORKERS_REPLY:
    case HPT__ENVELOPE__BODY_RESULTS_REPLY:
    case HPT__ENVELOPE__BODY_CANCEL_REPLY:
    case HPT__ENVELOPE__BODY_EVENT:
    case HPT__ENVELOPE__BODY_HISTORY_END:
    case HPT__ENVELOPE__BODY_ERROR:
        return true;
    default:
        return false;
    }
}

/* A message the peer's roles do not allow: answer it (ErrorReply for a
 * request, Disconnect for a worker message) naming the roles and the kind,
 * and log it at most a few times a minute per connection. */
static void refuse_role(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                        const hpt_env_t *env)
{
    c->refused_role++;
    if (!bad_allowed(c, peer, who))
        return;
    int body = (int)env->body_case;
    const char *kind = coord_policy_kind(body);
    unsigned needs = coord_policy_needs(body);
    char have[48], need[48], dirs[48], msg[400];
    hpt_curve_roles_str(who->roles, have, sizeof have);
    if (needs == (HPT_CURVE_ROLE_CLIENT | HPT_CURVE_ROLE_READER)) {
        snprintf(need, sizeof need, "client or reader");
        snprintf(dirs, sizeof dirs, "clients/ or readers/");
    } else {
        snprintf(need, sizeof need, "%s", hpt_curve_role_name(needs));
        snprintf(dirs, sizeof dirs, "%s/", hpt_curve_role_dir(needs));
    }
    if (who->roles == 0)
        snprintf(msg, sizeof msg,
                 "permission denied: this connection's key is no longer in the coordinator's "
                 "authorized keys; %s needs the role %s", kind, need);
    else
        snprintf(msg, sizeof msg,
                 "permission denied: %s has the role %s; %s needs the role %s (its .pub goes "
                 "into the authorized-keys directory's %s then SIGHUP the coordinator; "
                 "docs/security.md)",
                 who->label, have, kind, need, dirs);
    if (peer_log_ok(c, peer, LOG_KIND_ROLE, 5)) {
        char id[80], q[120];
        hpt_log(HPT_LOG_WARN, "security", "message refused: not in the key's role",
                "peer=%s from=%s roles=%s kind=\"%s\" needs=\"%s\" refused=%llu",
                hpt_peer_id_str(peer, id, sizeof id), hpt_log_quote(who->label, q, sizeof q),
                have, kind, need, (unsigned long long)c->refused_role);
    }
    if (coord_policy_is_request(body)) {
        coord_send_error(c, peer, env->req_id, COORD_ERR_DENIED, msg);
    } else {
        hpt_env_t out = HPT__ENVELOPE__INIT;
        Hpt__Disconnect d = HPT__DISCONNECT__INIT;
        d.reason = msg;
        out.body_case = HPT__ENVELOPE__BODY_DISCONNECT;
        out.disconnect = &d;
        coord_send(c, peer, &out);
    }
}

static void inbox_push(coord_t *c, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                       const coord_who_t *who, hpt_proto_raw_t *raw);
static void on_inbox(uv_idle_t *h);
static void worker_message(coord_t *c, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                           hpt_env_t *env);

/* A message that could not be decoded (rc < 0, err says why; bad_req: the
 * req_id of a client's request, to answer it). */
static void bad_message(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who, int rc,
                        const hpt_err *err, uint64_t bad_req)
{
    if (!peer->len)
        return;
    if (!bad_allowed(c, peer, who)) {
        c->bad_messages++;
        return;   // over the limit: dropped, not decoded further, not answered
    }
    log_bad(c, peer, err->msg[0] ? err->msg : hpt_strerror(rc));
    if (bad_req && !coord_worker_by_peer(&c->core, peer)) {
        /* A client's malformed request: answer it, so the client reports
         * the problem instead of timing out as if we were unreachable. */
        char msg[300];
        snprintf(msg, sizeof msg, "bad request: %s", err->msg);
        coord_send_error(c, peer, bad_req, 2, msg);
    }
    if (strstr(err->msg, "protocol version")) {
        Hpt__Reject rj = HPT__REJECT__INIT;
        char reason[300];
        snprintf(reason, sizeof reason, "%s", err->msg);
        rj.reason = reason;
        hpt_env_t out = HPT__ENVELOPE__INIT;
        out.body_case = HPT__ENVELOPE__BODY_REJECT;
        out.reject = &rj;
        coord_send(c, peer, &out);
    }
}

/* A client's request over a rate limit: answered (ErrorReply code 5,
 * "rate limit: WHO <what>; try again later") while the bad-message limit
 * allows an answer, then dropped. */
static void refuse_rate(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                        uint64_t req_id, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void refuse_rate(coord_t *c, const hpt_peer_id_t *peer, const coord_who_t *who,
                        uint64_t req_id, const char *fmt, ...)
{
    if (!bad_allowed(c, peer, who))
        return;
    char why[200], msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "rate limit: %s %s; try again later", who->label, why);
    coord_send_error(c, peer, req_id, COORD_ERR_LIMIT, msg);
}

/* A decoded message (env owned by the caller) from a peer that passed the
 * connection check: role, rate limits, then the client request or the
 * worker message. */
static void handle_env(coord_t *c, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                       const coord_who_t *who, hpt_env_t *env)
{
    int body = (int)env->body_case;
    if (c->stopping)
        return;
    unsigned needs = coord_policy_needs(body);
    if (!needs) {
        if (bad_allowed(c, peer, who)) {
            bool reply = is_reply_body(body);
            /* A reply from a client is a well-formed message with the wrong
             * direction: answered as a request no client can send (as it
             * was before roles), not counted as malformed. */
            if (!reply)
                log_bad(c, peer, "a coordinator-to-worker message sent to the coordinator");
            if (reply)   // a client confused about who asks: tell it
                coord_send_error(c, peer, env->req_id, 2, "not a request a client can send");
        } else {
            c->bad_messages++;
        }
        return;
    }
    if (!(needs & who->roles)) {
        refuse_role(c, peer, who, env);
        return;
    }
    if (body == HPT__ENVELOPE__BODY_HELLO && !limit_take(c, COORD_LIM_HELLO, peer, who, false))
        return;   // the worker says Hello again when it hears nothing
    if (body == HPT__ENVELOPE__BODY_SUBMIT &&
        !limit_take(c, COORD_LIM_SUBMIT, peer, who, true)) {
        refuse_rate(c, peer, who, env->req_id, "submitted more than %d sweeps at once or %d a "
                    "minute (submit_burst, submit_per_min)",
                    c->cfg.submit_burst, c->cfg.submit_per_min);
        return;
    }
    /* A replay of the event ring costs a send per event kept: paced like
     * submissions, per connection and per key. */
    if (body == HPT__ENVELOPE__BODY_SUBSCRIBE && env->subscribe->history &&
        !limit_take(c, COORD_LIM_HISTORY, peer, who, true)) {
        refuse_rate(c, peer, who, env->req_id, "asked for the log's history more than %d times "
                    "at once or %d a minute (history_burst, history_per_min)",
                    c->cfg.history_burst, c->cfg.history_per_min);
        return;
    }
    if (coord_policy_is_request(body)) {
        coord_on_client(c, peer, who, env);
        coord_apply(c);
    } else {
        worker_message(c, peer, conn, env);
    }
}

static void on_message(hpt_zsock_t *zs, void *sock, void *ud)
{
    coord_t *c = ud;
    hpt_peer_id_t peer = {0};
    hpt_err err = {0};
    hpt_proto_meta_t meta;
    hpt_proto_raw_t raw;
    int rc = hpt_proto_recv_raw(sock, &peer, &raw, &meta, &err);
    if (rc == -EAGAIN) {
        hpt_zsock_empty(zs);
        return;
    }
    /* Which connection it came on (coord_zap.c): one that kept a routing id
     * of its own choosing is refused (and cut) before anything else. */
    coord_conn_t conn;
    hpt_err zerr = {0};
    if (peer.len && coord_zap_check(c->zap, &peer, &meta, &conn, &zerr) < 0) {
        if (rc == 0)
            hpt_proto_raw_close(&raw);
        return;
    }
    coord_who_t who;
    identify(c, &meta, &who);
    if (rc < 0) {
        bad_message(c, &peer, &who, rc, &err, raw.req_id);
        return;
    }
    if (c->stopping) {
        hpt_proto_raw_close(&raw);
        return;
    }
    /* Clients first: a request is answered as soon as it is read, and a
     * worker's message (its kind known from a walk of the envelope's
     * fields, without decoding) is only copied into the inbox, decoded and
     * handled in arrival order by on_inbox.  ZeroMQ queues fairly across
     * peers, so with thousands of busy workers a request is read after one
     * message of each: reading those must cost little. */
    unsigned needs = coord_policy_needs(raw.kind);
    if (needs && !coord_policy_is_request(raw.kind) && (needs & who.roles)) {
        inbox_push(c, &peer, &conn, &who, &raw);
        return;
    }
    hpt_env_t *env = NULL;
    uint64_t bad_req = 0;
    rc = hpt_proto_decode_ex(zmq_msg_data(&raw.msg), zmq_msg_size(&raw.msg), &env, &bad_req,
                             &err);
    hpt_proto_raw_close(&raw);
    if (rc < 0) {
        bad_message(c, &peer, &who, rc, &err, bad_req);
        return;
    }
    handle_env(c, &peer, &conn, &who, env);
    hpt_proto_free(&env);
}

// --- the workers' inbox -----------------------------------------------------

/* Worker messages wait here, in arrival order, and are handled by on_inbox
 * for at most COORD_INBOX_SLICE_NS per loop turn, so the ROUTER is read
 * (and clients answered) between slices.  Bounded: above COORD_INBOX_MAX
 * messages the ROUTER is not read (its pipes' high-water marks then push
 * back on the workers) until half have been handled. */
struct coord_inbox_msg {
    struct coord_inbox_msg *next;
    hpt_peer_id_t peer;
    coord_conn_t conn;            // the connection it came on (coord_zap_check)
    coord_who_t who;              // its roles and principal (identify)
    size_t len;
    uint8_t bytes[];              // the packed envelope, decoded by on_inbox
};

/* A copy of the bytes, not the zmq_msg_t: libzmq's zero-copy decoder lets
 * small messages share its 8 KiB receive buffers, and holding thousands
 * of them would pin megabytes. */
static void inbox_push(coord_t *c, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                       const coord_who_t *who, hpt_proto_raw_t *raw)
{
    size_t len = zmq_msg_size(&raw->msg);
    struct coord_inbox_msg *m = malloc(sizeof *m + len);
    if (!m) {
        log_bad(c, peer, "out of memory queueing a worker message");
        hpt_proto_raw_close(raw);
        return;
    }
    m->next = NULL;
    m->peer = *peer;
    m->conn = *conn;
    m->who = *who;
    m->len = len;
    memcpy(m->bytes, zmq_msg_data(&raw->msg), len);
    hpt_proto_raw_close(raw);
    if (c->inbox_tail)
        c->inbox_tail->next = m;
    else
        c->inbox_head = m;
    c->inbox_tail = m;
    c->inbox_bytes += len;
    if (c->inbox_len++ == 0)
        uv_idle_start(&c->inbox_idle, on_inbox);
    if (c->inbox_len >= COORD_INBOX_MAX || c->inbox_bytes >= COORD_INBOX_MAX_BYTES)
        c->zs.budget = 0;   // stop reading until on_inbox catches up
}

/* One worker message through the core. */
static void worker_message(coord_t *c, const hpt_peer_id_t *peer, const coord_conn_t *conn,
                           hpt_env_t *env)
{
    int body = (int)env->body_case;
    double now = coord_now();
    if (body == HPT__ENVELOPE__BODY_HELLO) {
        coord_core_hello(&c->core, now, peer, conn, env->hello);
    } else {
        coord_worker_t *w = coord_core_worker_msg(&c->core, now, peer, conn, env);
        coord_apply(c);
        /* The core may have dropped the worker while applying (a send found
         * it gone): look it up again before serving its chunk. */
        if (w && body == HPT__ENVELOPE__BODY_FETCH_CHUNK &&
            (w = coord_worker_by_conn(&c->core, peer, conn->id)) != NULL)
            coord_on_fetch(c, w, env->fetch_chunk);
    }
    coord_apply(c);
}

static void on_inbox(uv_idle_t *h)
{
    coord_t *c = h->data;
    uint64_t t0 = uv_hrtime();
    while (c->inbox_head && !c->stopping && uv_hrtime() - t0 < COORD_INBOX_SLICE_NS) {
        struct coord_inbox_msg *m = c->inbox_head;
        c->inbox_head = m->next;
        if (!c->inbox_head)
            c->inbox_tail = NULL;
        c->inbox_len--;
        c->inbox_bytes -= m->len;
        hpt_env_t *env = NULL;
        hpt_err err = {0};
        uint64_t bad_req = 0;
        int rc = hpt_proto_decode_ex(m->bytes, m->len, &env, &bad_req, &err);
        if (rc < 0)
            bad_message(c, &m->peer, &m->who, rc, &err, bad_req);
        else
            handle_env(c, &m->peer, &m->conn, &m->who, env);
        hpt_proto_free(&env);
        free(m);
    }
    if (c->zs.budget == 0 && c->inbox_len < COORD_INBOX_MAX / 2 &&
        c->inbox_bytes < COORD_INBOX_MAX_BYTES / 2)
        c->zs.budget = COORD_ZSOCK_BUDGET;
    if (!c->inbox_head || c->stopping)
        uv_idle_stop(h);
}

static void inbox_free(coord_t *c)
{
    while (c->inbox_head) {
        struct coord_inbox_msg *m = c->inbox_head;
        c->inbox_head = m->next;
        free(m);
    }
    c->inbox_tail = NULL;
    c->inbox_len = 0;
    c->inbox_bytes = 0;
}

// --- housekeeping ---------------------------------------------------------

static void on_cron(uv_timer_t *h)
{
    coord_t *c = h->data;
    double now = coord_now();
    /* A tick far later than its period means the loop was held (a big
     * request, a slow disk): the workers' messages of that time are still
     * unread in the socket, so their silence is not theirs. */
    double period = (c->cfg.hb_ivl_ms / 2 > 0 ? c->cfg.hb_ivl_ms / 2 : 1) * 1e-3;
    if (c->cron_at > 0 && now - c->cron_at > 2 * period) {
        coord_core_stalled(&c->core, now, now - c->cron_at - period);
        c->stalls++;
    }
    c->cron_at = now;
    coord_core_tick(&c->core, now);
    coord_apply(c);
    coord_subs_cron(c);
    if (now - c->retain_at >= COORD_RETAIN_EVERY_S && !c->stopping) {
        c->retain_at = now;
        coord_retain(c);
    }
}

/* A journal we cannot write is not a journal: stop rather than run on
 * with results that would be lost. */
static void journal_failed(coord_t *c, const char *what, const char *msg)
{
    char q[300];
    hpt_log(HPT_LOG_ERROR, "store", what, "error=%s", hpt_log_quote(msg, q, sizeof q));
    c->journal_failed = true;
    uv_stop(c->loop);
}

static void sync_work(uv_work_t *req)
{
    coord_t *c = req->data;   // only the sync's own fields: the loop runs on
    c->sync.err = (hpt_err){0};
    c->sync.rc = coord_store_sync_file(coord_store_wal_path(c->store), &c->sync.err);
}

static void sync_kick(coord_t *c);

static void sync_after(uv_work_t *req, int status)
{
    coord_t *c = req->data;
    c->sync.busy = false;
    c->sync.n++;
    double took = coord_now() - c->sync.started;
    if (took > c->sync.wait_max)
        c->sync.wait_max = took;
    if (status == 0 && c->sync.rc < 0) {
        journal_failed(c, "journal sync failed; stopping", c->sync.err.msg);
        return;
    }
    if (status == 0 && c->sync.gen > c->sync.done)
        c->sync.done = c->sync.gen;
    if (c->sync.again && !c->stopping) {
        c->sync.again = false;
        sync_kick(c);
    }
}

/* Make the commits so far durable, off the loop thread. */
static void sync_kick(coord_t *c)
{
    if (c->sync.busy) {
        c->sync.again = true;
        return;
    }
    c->sync.gen = coord_store_commits(c->store);
    c->sync.started = coord_now();
    c->sync.req.data = c;
    if (uv_queue_work(c->loop, &c->sync.req, sync_work, sync_after) == 0) {
        c->sync.busy = true;
        return;
    }
    /* No thread pool: sync here. */
    hpt_err err = {0};
    if (coord_store_sync_file(coord_store_wal_path(c->store), &err) < 0)
        journal_failed(c, "journal sync failed; stopping", err.msg);
    else
        c->sync.done = c->sync.gen;
}

static void ckpt_work(uv_work_t *req)
{
    coord_t *c = req->data;   // only the store's checkpoint connection and job fields
    coord_store_ckpt_run(c->store);
}

static void ckpt_after(uv_work_t *req, int status)
{
    (void)status;
    coord_t *c = req->data;
    c->ckpt.busy = false;
    hpt_err err = {0};
    /* A no-op when something settled it first (a sync, a read, the stop). */
    if (coord_store_ckpt_end(c->store, &err) < 0) {
        c->ckpt.failed++;
        char q[300];
        hpt_log(HPT_LOG_WARN, "store", "journal checkpoint failed; the next one tries again",
                "error=%s", hpt_log_quote(err.msg, q, sizeof q));
    }
}

/* Copy the WAL into the database on the thread pool, holding the journal's
 * writes meanwhile (coord_store.h, "Checkpoints off the loop"). */
static void ckpt_kick(coord_t *c)
{
    if (c->ckpt.busy || !coord_store_ckpt_due(c->store))
        return;
    coord_store_ckpt_begin(c->store);
    c->ckpt.req.data = c;
    if (uv_queue_work(c->loop, &c->ckpt.req, ckpt_work, ckpt_after) == 0) {
        c->ckpt.busy = true;
        return;
    }
    coord_store_ckpt_run(c->store);   // no thread pool: here
    ckpt_after(&c->ckpt.req, 0);
}

static void on_flush(uv_prepare_t *h)
{
    coord_t *c = h->data;
    hpt_err err = {0};
    bool dirty = coord_store_dirty(c->store);
    if (dirty && coord_store_flush(c->store, &err) < 0) {
        /* A journal we cannot write is not a journal: stop rather than run on
         * with results that would be lost. */
        journal_failed(c, "journal commit failed; stopping", err.msg);
        return;
    }
    if (dirty && coord_store_commits(c->store) > c->sync.done)
        sync_kick(c);
    /* Everything journaled is committed now, the end of a sweep that just
     * finished included: finished sweeps not read recently leave memory
     * (the core reads one back from the journal when a client asks). */
    if (c->unload_pending && !c->stopping)
        coord_sweeps_unload(c);
    if (!c->stopping && !c->journal_failed)
        ckpt_kick(c);
}

static void close_cb_nop(uv_handle_t *h)
{
    (void)h;
}

static void zsock_closed(hpt_zsock_t *zs)
{
    (void)zs;
}

static void shutdown_loop(coord_t *c, const char *why)
{
    if (c->stopping)
        return;
    c->stopping = true;
    coord_core_stop(&c->core);
    hpt_log(HPT_LOG_INFO, "coordinator", "stopping", "reason=%s", why);
    hpt_err err = {0};
    if (coord_store_sync(c->store, &err) < 0)
        hpt_log(HPT_LOG_ERROR, "store", "final commit failed", "error=\"%s\"", err.msg);
    uv_timer_stop(&c->cron);
    uv_close((uv_handle_t *)&c->cron, close_cb_nop);
    uv_close((uv_handle_t *)&c->flush_prep, close_cb_nop);
    uv_close((uv_handle_t *)&c->inbox_idle, close_cb_nop);
    uv_close((uv_handle_t *)&c->sig_int, close_cb_nop);
    uv_close((uv_handle_t *)&c->sig_term, close_cb_nop);
    uv_close((uv_handle_t *)&c->sig_hup, close_cb_nop);
    hpt_zsock_close(&c->zs, zsock_closed);
    coord_http_stop(c);   // answers waiting requests 503, joins the HTTP threads
    coord_zap_close(c->zap);
}

static void on_signal(uv_signal_t *h, int signum)
{
    coord_t *c = h->data;
    if (signum == SIGHUP) {
        if (c->cfg.log_file[0]) {
            int rc = hpt_log_set_file(c->cfg.log_file);
            hpt_log(rc < 0 ? HPT_LOG_ERROR : HPT_LOG_INFO, "coordinator",
                    rc < 0 ? "cannot reopen log file" : "log file reopened", "path=%s error=\"%s\"",
                    c->cfg.log_file, rc < 0 ? hpt_strerror(rc) : "");
        }
        if (c->zap)
            coord_zap_reload(c->zap);
        return;
    }
    shutdown_loop(c, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

// --- security -------------------------------------------------------------

/* Protected mode: the refusal to bind beyond loopback without keys, with the
 * commands that set keys up (docs/security.md). */
static void refuse_plain_bind(const char *bind)
{
    fprintf(stderr,
            "hptune-coordinator: refusing to bind %s without CURVE keys (protected mode):\n"
            "anyone who can reach that port could submit and cancel sweeps, read results and\n"
            "pose as a worker.  Either bind to loopback (--bind tcp://127.0.0.1:7600), or set\n"
            "up keys (docs/security.md):\n"
            "\n"
            "  # on the coordinator\n"
            "  hptune keygen -o /etc/hptune/coordinator\n"
            "  mkdir -p /etc/hptune/authorized_keys\n"
            "  hptune-coordinator --bind %s \\\n"
            "      --curve-secret /etc/hptune/coordinator.key \\\n"
            "      --authorized-keys /etc/hptune/authorized_keys\n"
            "  # on each worker, and where the hptune CLI runs\n"
            "  hptune keygen -o ~/.config/hptune/worker\n"
            "  #   copy worker.pub into the coordinator's /etc/hptune/authorized_keys/ and\n"
            "  #   send it SIGHUP; copy /etc/hptune/coordinator.pub to the worker\n"
            "  hptune-worker --coordinator tcp://COORDINATOR-HOST:7600 \\\n"
            "      --curve-secret ~/.config/hptune/worker.key --server-key coordinator.pub\n"
            "\n"
            "or pass --insecure to run without authentication or encryption anyway.\n",
            bind, bind);
}

// --- main -----------------------------------------------------------------

int main(int argc, char **argv)
{
    coord_t c = {.cfg = COORD_CFG_DEFAULT};
    int status = 1;
    hpt_config_args_t args;
    hpt_err err = {0};
    if (coord_config_parse(&c.cfg, argc, argv, &args, &err) < 0) {
        fprintf(stderr, "hptune-coordinator: %s\n(see hptune-coordinator --help)\n", err.msg);
        return 2;
    }
    if (coord_config_print_action(&args, &c.cfg))
        return 0;
    if (c.cfg.http[0] && coord_http_check(c.cfg.http, c.cfg.insecure, &err) < 0) {
        fprintf(stderr, "hptune-coordinator: http: %s\n", err.msg);
        return 2;
    }
    int lvl = c.cfg.log_level - args.verbose;
    hpt_log_set_level(lvl < 0 ? HPT_LOG_DEBUG : (hpt_log_level_t)lvl);
    if (c.cfg.log_file[0] && hpt_log_set_file(c.cfg.log_file) < 0) {
        fprintf(stderr, "hptune-coordinator: log_file: cannot open %s: %s\n", c.cfg.log_file,
                strerror(errno));
        return 1;
    }

    uv_loop_t loop;
    bool loop_ok = false;
    /* Security before anything is opened: keys, or loopback, or --insecure;
     * the ZAP handler admits (and names) every connection either way. */
    if (coord_zap_new(&c.zap, &c) < 0) {
        status = 2;
        goto done;
    }
    if (!c.cfg.curve_secret[0] && !hpt_curve_endpoint_is_local(c.cfg.bind)) {
        if (!c.cfg.insecure) {
            refuse_plain_bind(c.cfg.bind);
            status = 2;
            goto done;
        }
        hpt_log(HPT_LOG_WARN, "security", "insecure: bound beyond loopback without CURVE keys",
                "endpoint=%s note=\"anyone who reaches this port can submit and cancel sweeps, "
                "read results and pose as a worker; see docs/security.md\"",
                c.cfg.bind);
    }
    if (coord_store_open(&c.store, c.cfg.db, &err) < 0) {
        char q[300];
        hpt_log(HPT_LOG_ERROR, "store", "cannot open the journal", "db=%s error=%s", c.cfg.db,
                hpt_log_quote(err.msg, q, sizeof q));
        goto done;
    }
    /* Checkpoints on the thread pool, never inside a commit on the loop. */
    if (coord_store_ckpt_manual(c.store, &err) < 0) {
        char q[300];
        hpt_log(HPT_LOG_WARN, "store", "checkpoints stay inside commits", "error=%s",
                hpt_log_quote(err.msg, q, sizeof q));
        err = (hpt_err){0};
    }
    coord_core_cfg_t kcfg = {.hb_ivl_ms = c.cfg.hb_ivl_ms, .hb_liveness = c.cfg.hb_liveness,
                             .max_attempts = c.cfg.max_attempts,
                             .task_stall_s = c.cfg.task_stall_s,
                             .task_deadline_s = c.cfg.task_deadline_s,
                             .fuse_max = c.cfg.fuse_max,
                             .random = coord_random};
    coord_core_init(&c.core, &kcfg, coord_unix() - coord_now());
    c.core.event_level = (int)hpt__log_level;   // events below the log level are never formatted
    uint64_t max_sweep = 0, max_task = 0;
    coord_store_max_ids(c.store, &max_sweep, &max_task);
    uint64_t gen = 0;
    if (coord_store_incarnation(c.store, &gen, &err) < 0) {
        hpt_log(HPT_LOG_ERROR, "store", "cannot start a new incarnation of the journal",
                "db=%s error=\"%s\"", c.cfg.db, err.msg);
        goto done;
    }
    coord_core_set_ids(&c.core, max_sweep, max_task, gen << COORD_STORE_ID_SHIFT);
    coord_events_init(&c);
    if (coord_datasets_init(&c) < 0) {
        hpt_log(HPT_LOG_ERROR, "coordinator", "out of memory", "%s", "");
        goto done;
    }
    coord_journal_reader_t rd = coord_store_reader(c.store);
    int resumed = coord_core_resume(&c.core, coord_now(), &rd, &err);
    coord_apply(&c);
    hpt_err ferr = {0};
    if (resumed >= 0 && coord_store_flush(c.store, &ferr) < 0)
        resumed = hpt_err_set(&err, -EIO, "%s", ferr.msg);
    if (resumed < 0) {
        hpt_log(HPT_LOG_ERROR, "store", "cannot resume from the journal", "db=%s error=\"%s\"",
                c.cfg.db, err.msg);
        goto done;
    }
    /* The sweeps that had finished are in the committed journal: only their
     * summaries stay in memory. */
    coord_sweeps_unload(&c);

    /* Rate limits: a fixed table, its hash keyed per process. */
    coord_bucket_cfg_t buckets[COORD_LIM__N] = {
        [COORD_LIM_HELLO] = {c.cfg.hello_per_min, c.cfg.hello_burst},
        [COORD_LIM_SUBMIT] = {c.cfg.submit_per_min, c.cfg.submit_burst},
        [COORD_LIM_BAD] = {c.cfg.bad_per_min, c.cfg.bad_burst},
        [COORD_LIM_CONN] = {c.cfg.conn_per_min, c.cfg.conn_burst},
        [COORD_LIM_HISTORY] = {c.cfg.history_per_min, c.cfg.history_burst},
    };
    uint8_t seed[16];
    if (sodium_init() < 0) {
        hpt_log(HPT_LOG_ERROR, "coordinator", "cannot initialise libsodium", "%s", "");
        goto done;
    }
    randombytes_buf(seed, sizeof seed);
    if (coord_limits_new(&c.limits, COORD_LIMITS_SLOTS, buckets, seed) < 0) {
        hpt_log(HPT_LOG_ERROR, "coordinator", "out of memory", "what=limits");
        goto done;
    }
    c.peer_log_tokens = COORD_PEER_LOG_PER_MIN;
    c.peer_log_at = coord_now();
    c.retain_at = coord_now() - COORD_RETAIN_EVERY_S;   // the first tick prunes

    c.zctx = zmq_ctx_new();
    /* Before the first socket: the connections are spread over the I/O
     * threads (docs/architecture.md, "I/O threads"). */
    if (c.zctx && zmq_ctx_set(c.zctx, ZMQ_IO_THREADS, c.cfg.io_threads) != 0)
        hpt_log(HPT_LOG_WARN, "coordinator", "io_threads not set", "io_threads=%d error=\"%s\"",
                c.cfg.io_threads, zmq_strerror(zmq_errno()));
    c.router = zmq_socket(c.zctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    int64_t maxmsg = HPT_PROTO_MAX_INBOUND;   // replies may be larger; requests are not
    zmq_setsockopt(c.router, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(c.router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c.router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    /* Per-peer pipes: enough for a follower's history (the event ring) and
     * a burst of Assigns; a client that does not read costs at most this. */
    int hwm = 20000;
    zmq_setsockopt(c.router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(c.router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (coord_zap_server(c.zap, c.router) < 0)
        goto done;   // logged
    char bound[1024];
    if (hpt_zsock_bind(c.router, c.cfg.bind, bound, sizeof bound, &err) < 0) {
        char q[300];
        hpt_log(HPT_LOG_ERROR, "net", "cannot bind", "endpoint=%s error=%s", c.cfg.bind,
                hpt_log_quote(err.msg, q, sizeof q));
        goto done;
    }
    if (strcmp(bound, c.cfg.bind) != 0)
        hpt_log(HPT_LOG_INFO, "net", "localhost bound as the IPv4 loopback address",
                "endpoint=%s bound=%s note=\"ZeroMQ binds addresses, not names; clients that "
                "connect to localhost reach it there\"", c.cfg.bind, bound);

    uv_loop_init(&loop);
    loop_ok = true;
    c.loop = &loop;
    int rc = hpt_zsock_init(&loop, &c.zs, c.router, on_message, &c);
    if (rc < 0) {
        hpt_log(HPT_LOG_ERROR, "net", "cannot watch the socket", "error=\"%s\"", hpt_strerror(rc));
        goto done;
    }
    hpt_zsock_set_drains(&c.zs, true);   // on_message says when the socket is empty
    /* Reading is cheap (the work waits in the inbox), so one turn can read
     * past one message of every busy worker to reach a client's request. */
    c.zs.budget = COORD_ZSOCK_BUDGET;
    uv_idle_init(&loop, &c.inbox_idle);
    c.inbox_idle.data = &c;
    uv_timer_init(&loop, &c.cron);
    c.cron.data = &c;
    uint64_t period = (uint64_t)(c.cfg.hb_ivl_ms / 2 > 0 ? c.cfg.hb_ivl_ms / 2 : 1);
    uv_timer_start(&c.cron, on_cron, period, period);
    uv_prepare_init(&loop, &c.flush_prep);
    c.flush_prep.data = &c;
    uv_prepare_start(&c.flush_prep, on_flush);
    uv_signal_init(&loop, &c.sig_int);
    uv_signal_init(&loop, &c.sig_term);
    uv_signal_init(&loop, &c.sig_hup);
    c.sig_int.data = c.sig_term.data = c.sig_hup.data = &c;
    uv_signal_start(&c.sig_int, on_signal, SIGINT);
    uv_signal_start(&c.sig_term, on_signal, SIGTERM);
    uv_signal_start(&c.sig_hup, on_signal, SIGHUP);
    c.started_unix = coord_unix();
    if ((rc = coord_zap_start(c.zap)) < 0) {
        hpt_log(HPT_LOG_ERROR, "security", "cannot watch the ZAP socket", "error=\"%s\"",
                hpt_strerror(rc));
        shutdown_loop(&c, "zap");
        uv_run(&loop, UV_RUN_DEFAULT);   // let the close callbacks run
        goto done;   // status 1
    }
    if (c.cfg.http[0]) {
        if (coord_http_start(&c, &err) < 0) {
            char q[300];
            hpt_log(HPT_LOG_ERROR, "http", "cannot start the HTTP server", "address=%s error=%s",
                    c.cfg.http, hpt_log_quote(err.msg, q, sizeof q));
            shutdown_loop(&c, "http");
            uv_run(&loop, UV_RUN_DEFAULT);   // let the close callbacks run
            goto done;   // status 1
        }
        hpt_log(HPT_LOG_INFO, "http", "serving", "address=%s port=%d", c.cfg.http,
                coord_http_port(&c));
    }

    hpt_log(HPT_LOG_INFO, "coordinator", "started",
            "version=%s endpoint=%s db=%s heartbeat_ms=%d liveness=%d resumed_sweeps=%d pid=%d",
            HPT_VERSION, c.cfg.bind, c.cfg.db, c.cfg.hb_ivl_ms, c.cfg.hb_liveness, resumed,
            (int)getpid());
    coord_fingerprints_warm(&c);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (!c.stopping)
        shutdown_loop(&c, "journal failure");
    uv_run(&loop, UV_RUN_DEFAULT);   // let the close callbacks run
    status = c.stopping && !c.journal_failed && !coord_store_dirty(c.store) ? 0 : 1;

done:
    if (loop_ok) {
        if (uv_loop_close(&loop) != 0)
            hpt_log(HPT_LOG_WARN, "coordinator", "loop closed with live handles", "%s", "");
    }
    hpt_log_set_sink(NULL, NULL);
    if (c.store) {
        if (coord_store_sync(c.store, &err) < 0)
            status = 1;
    }
    inbox_free(&c);   // worker messages not handled before the stop: their
                      // leases are journaled and resume as orphans
    coord_events_free(&c);
    coord_datasets_free(&c);
    coord_core_free(&c.core);
    coord_store_close(&c.store);
    coord_zap_destroy(&c.zap);   // its sockets, before the context ends
    if (c.router && c.journal_failed) {
        /* The last replies say why (a cancellation or submission that could
         * not be journaled): give them a second to leave instead of the
         * linger 0 that drops them. */
        int linger = 1000;
        zmq_setsockopt(c.router, ZMQ_LINGER, &linger, sizeof linger);
    }
    coord_limits_destroy(&c.limits);
    if (c.router)
        zmq_close(c.router);
    if (c.zctx)
        zmq_ctx_term(c.zctx);
    if (status == 0)
        hpt_log(HPT_LOG_INFO, "coordinator", "stopped", "%s", "");
    else if (c.journal_failed)
        hpt_log(HPT_LOG_ERROR, "coordinator", "stopped after a journal failure",
                "note=\"results since the last commit were not acknowledged; restart on the "
                "same --db to resume\"");
    hpt_log_set_file(NULL);
    return status;
}
