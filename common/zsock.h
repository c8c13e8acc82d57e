/*
 * zsock.h: a ZeroMQ socket driven by a libuv loop.
 *
 * ZMQ_FD is edge-triggered and only says "re-read ZMQ_EVENTS"; it does not
 * mean a message is waiting, and a bare uv_poll that reads a budget of
 * messages per wake-up stalls.  The watcher therefore combines four handles
 * (as flux-core's ev_zmq and zeromq.js do):
 *   - a uv_poll on ZMQ_FD for UV_READABLE with a no-op callback (it only wakes
 *     the loop);
 *   - a uv_prepare that, before the loop blocks, checks ZMQ_EVENTS and, when
 *     input is pending, starts a no-op uv_idle so the loop polls without
 *     blocking;
 *   - a uv_check that stops the idle and delivers at most `budget` messages
 *     while ZMQ_EVENTS says POLLIN.
 * ZMQ_FD is never read or closed here; the socket is only touched on the loop
 * thread.  The watcher does not own the socket: close the watcher (and wait
 * for its callback) before zmq_close.
 */
#ifndef HPT_ZSOCK_H
#define HPT_ZSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "err.h"

typedef struct hpt_zsock hpt_zsock_t;

/* Called on the loop thread once per readable message, with the socket;
 * the callback receives it (zmq_msg_recv / zmq_recv with ZMQ_DONTWAIT) and
 * owns what it receives.  If it does not receive, the watcher stops for this
 * turn to avoid spinning. */
typedef void (*hpt_zsock_cb)(hpt_zsock_t *zs, void *sock, void *ud);

struct hpt_zsock {
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    void *sock;           // borrowed ZMQ socket
    hpt_zsock_cb cb;
    void *ud;
    int budget;           // messages per loop turn (default 64)
    bool drains;          // hpt_zsock_set_drains
    bool empty;           // the callback found nothing this turn (hpt_zsock_empty)
    int closing;          // handles still to close
    void (*close_cb)(hpt_zsock_t *zs);
};

/* Start watching `sock` (borrowed) on `loop`; cb runs per message.  zs is
 * embedded by the caller and must stay valid until close_cb.  Returns 0 or
 * a negative errno (from zmq_getsockopt or libuv). */
int hpt_zsock_init(uv_loop_t *loop, hpt_zsock_t *zs, void *sock, hpt_zsock_cb cb, void *ud);

/* Stop and close the four handles; close_cb (may be NULL) runs after the
 * last one closed.  The ZMQ socket is left open for the caller. */
void hpt_zsock_close(hpt_zsock_t *zs, void (*close_cb)(hpt_zsock_t *zs));

/* Let the callback tell the watcher when a receive found nothing
 * (hpt_zsock_empty on -EAGAIN), instead of the watcher asking ZMQ_EVENTS
 * before each message: one poll(2) of libzmq's mailbox less per message,
 * for a socket that reads thousands a second.  A draining callback that
 * never calls hpt_zsock_empty is still bounded by `budget` per turn. */
void hpt_zsock_set_drains(hpt_zsock_t *zs, bool drains);
void hpt_zsock_empty(hpt_zsock_t *zs);

/* After the caller sent on the socket from outside the watcher's callback:
 * a send can change ZMQ_EVENTS without an edge on ZMQ_FD, so make sure the
 * next loop turn re-checks.  Cheap; call after sends. */
void hpt_zsock_kick(hpt_zsock_t *zs);

// --- endpoints ------------------------------------------------------------
//
// libzmq binds a tcp:// endpoint to an IP address, an interface name or `*`,
// never to a host name, and takes an IPv6 address only when ZMQ_IPV6 is set:
// left to itself, `tcp://localhost:7600` and `tcp://[::1]:7600` both fail
// with ENODEV, "No such device".  These helpers make both work and explain
// the failures that remain.

/* Bind sock (borrowed, not yet bound) to endpoint.  A bracketed IPv6
 * address ("tcp://[::1]:7600") sets ZMQ_IPV6 first; `localhost` is bound as
 * 127.0.0.1 (libzmq cannot resolve names for a bind; clients that connect to
 * tcp://localhost:P resolve it to 127.0.0.1 too).  The endpoint actually
 * bound goes to bound (len bytes; may be NULL).  Returns 0, or -errno with
 * err saying why in words: an IPv6 address this machine does not have (IPv6
 * disabled), a host name that is neither an address nor an interface, a port
 * in use. */
int hpt_zsock_bind(void *sock, const char *endpoint, char *bound, size_t len, hpt_err *err);

/* Set what connecting sock (borrowed) to endpoint needs before zmq_connect:
 * ZMQ_IPV6 for a bracketed IPv6 address (without it libzmq does not even try
 * "tcp://[::1]:7600").  Returns 0 or -errno. */
int hpt_zsock_connect_prepare(void *sock, const char *endpoint);

#endif
