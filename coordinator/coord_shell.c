/*
 * coord_shell.c: the I/O the core asks for.  The clock, sending on the
 * ROUTER, and coord_apply, which carries out the core's outbox in order:
 *   - SEND: one message to a peer; a peer that is gone (EHOSTUNREACH with
 *     ZMQ_ROUTER_MANDATORY) is reported back to the core, which drops its
 *     worker and requeues its leases (more actions, carried out in turn);
 *   - JOURNAL: one record into the SQLite store's open transaction (the
 *     loop's prepare handle commits once per turn, main.c);
 *   - EVENT: a log line, the event ring, the journal's events table and
 *     subscribers (coord_emit);
 *   - OFFER: a dataset offer to a worker (coord_datasets.c);
 *   - TIMER: the real daemon ticks on a fixed period (hb_ivl/2), which is
 *     never later than the core asks; only the simulator uses it.
 * (Dataset fingerprints, which were computed here, are coord_datasets.c's.)
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "coord.h"
#include "log.h"

double coord_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double coord_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void coord_random(void *ud, void *buf, size_t len)
{
    (void)ud;
    randombytes_buf(buf, len);   // getrandom(2) underneath; sodium_init ran (coord_zap_new)
}

bool coord_log_allowed(coord_t *c, const hpt_peer_id_t *peer, int kind, int per_minute)
{
    return coord_core_log_allowed(&c->core, coord_now(), peer, kind, per_minute);
}

static void log_send_failed(coord_t *c, const hpt_peer_id_t *to, int body, int rc)
{
    if (c->in_sink)
        return;   // called while delivering an event: it must not log
    char id[80];
    hpt_log(HPT_LOG_DEBUG, "net", "send failed", "peer=%s body=%s error=\"%s\"",
            hpt_peer_id_str(to, id, sizeof id), hpt_proto_body_name(body), hpt_strerror(rc));
}

int coord_send(coord_t *c, const hpt_peer_id_t *to, hpt_env_t *env)
{
    int rc = hpt_proto_send(c->router, to, env, ZMQ_DONTWAIT);
    if (rc < 0)
        log_send_failed(c, to, (int)env->body_case, rc);
    return rc;
}

int coord_send_error(coord_t *c, const hpt_peer_id_t *to, uint64_t req_id, int code,
                     const char *msg)
{
    Hpt__ErrorReply e = HPT__ERROR_REPLY__INIT;
    e.code = code;
    e.message = (char *)msg;
    hpt_env_t out = HPT__ENVELOPE__INIT;
    out.body_case = HPT__ENVELOPE__BODY_ERROR;
    out.error = &e;
    out.req_id = req_id;
    return coord_send(c, to, &out);
}

int coord_send_msg(coord_t *c, const hpt_peer_id_t *to, void *zmsg, int body)
{
    zmq_msg_t *msg = zmsg;
    int rc = 0;
    if (zmq_send(c->router, to->bytes, to->len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(msg, c->router, ZMQ_DONTWAIT) < 0) {
        rc = -zmq_errno();
        zmq_msg_close(msg);
    }
    if (rc < 0)
        log_send_failed(c, to, body, rc);
    return rc;
}

/* Send an envelope the core packed. */
static int send_packed(coord_t *c, const coord_act_send_t *m)
{
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, m->len) != 0)
        return -zmq_errno();
    memcpy(zmq_msg_data(&msg), m->buf, m->len);
    return coord_send_msg(c, &m->peer, &msg, m->body);
}

void coord_emit(coord_t *c, const coord_act_event_t *ev)
{
    /* One formatter for every line: hpt_log writes it (stderr, log file) and
     * hands its parts to the sink (coord_clients.c), which takes the type
     * and sweep from here instead of reading them back from the text. */
    c->ev_type = (int)ev->type;
    c->ev_sweep = ev->sweep;
    hpt_log((hpt_log_level_t)ev->level, ev->component, ev->msg, "%s", ev->fields ? ev->fields : "");
    c->ev_type = COORD_EV_LOG;
    c->ev_sweep = 0;
}

void coord_apply(coord_t *c)
{
    coord_core_t *k = &c->core;
    /* Unroutable peers found while sending; reported to the core after the
     * batch, which may append more actions (handled by the next pass). */
    hpt_peer_id_t gone[16];
    int n_gone = 0;
    for (int pass = 0; pass < 64 && k->out.n > 0; pass++) {
        for (size_t i = 0; i < k->out.n; i++) {
            const coord_action_t *a = &k->out.v[i];
            switch (a->kind) {
            case COORD_ACT_SEND:
                /* Only a failed heartbeat drops its worker (as before the
                 * core): a Welcome or Assign can fail for a connection the
                 * worker is replacing while its queued messages (a Result
                 * among them) still arrive, and those are better matched
                 * to its record.  A lease sent to a gone peer is requeued
                 * when the next heartbeat to it fails. */
                if (send_packed(c, &a->u.send) == -EHOSTUNREACH &&
                    a->u.send.body == HPT__ENVELOPE__BODY_HEARTBEAT && n_gone < 16) {
                    bool dup = false;
                    for (int g = 0; g < n_gone && !dup; g++)
                        dup = gone[g].len == a->u.send.peer.len &&
                              memcmp(gone[g].bytes, a->u.send.peer.bytes, gone[g].len) == 0;
                    if (!dup)
                        gone[n_gone++] = a->u.send.peer;
                }
                break;
            case COORD_ACT_JOURNAL:
                /* Failures are remembered by the store and reported by the
                 * next commit, which stops the loop. */
                coord_store_apply(c->store, &a->u.journal);
                break;
            case COORD_ACT_EVENT:
                /* A finished sweep leaves memory once its end is committed
                 * (main.c's commit calls coord_sweeps_unload). */
                if (a->u.event.type == COORD_EV_SWEEP_FINISHED)
                    coord_sweep_just_finished(c, a->u.event.sweep);
                coord_emit(c, &a->u.event);
                break;
            case COORD_ACT_OFFER: {
                coord_worker_t *w = coord_worker_by_peer(k, &a->u.offer.peer);
                const coord_sweep_t *s = coord_sweep_find(k, a->u.offer.sweep);
                if (w && s)
                    coord_datasets_offer(c, w, s);
                break;
            }
            case COORD_ACT_TIMER: break;
            }
        }
        if (k->out.failed) {
            hpt_log(HPT_LOG_ERROR, "coordinator", "out of memory recording the core's actions; "
                    "stopping", "%s", "");
            c->journal_failed = true;
            uv_stop(c->loop);
        }
        coord_outbox_clear(&k->out);
        k->out.failed = false;
        double now = coord_now();
        for (int g = 0; g < n_gone; g++)
            coord_core_unroutable(k, now, &gone[g]);
        n_gone = 0;
    }
}
