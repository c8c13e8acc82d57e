/* zsock.c: the prepare/check/idle ZeroMQ watcher; see zsock.h. */
#include "zsock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static int zs_pollin(hpt_zsock_t *zs)
{
    int events = 0;
    size_t len = sizeof events;
    if (zmq_getsockopt(zs->sock, ZMQ_EVENTS, &events, &len) != 0)
        return 0;
    return (events & ZMQ_POLLIN) != 0;
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    /* Only here to wake the loop; the check handle does the work. */
    (void)h;
    (void)status;
    (void)events;
}

static void on_idle(uv_idle_t *h)
{
    (void)h;
}

static void on_prepare(uv_prepare_t *h)
{
    hpt_zsock_t *zs = h->data;
    if (zs_pollin(zs))
        uv_idle_start(&zs->idle, on_idle);
    else
        uv_idle_stop(&zs->idle);
}

static void on_check(uv_check_t *h)
{
    hpt_zsock_t *zs = h->data;
    uv_idle_stop(&zs->idle);
    /* A draining watcher's callback says when a receive found nothing, so
     * ZMQ_EVENTS (a poll(2) of the socket's mailbox each time) is not asked
     * per message. */
    zs->empty = false;
    for (int i = 0; i < zs->budget && !zs->closing && !zs->empty; i++) {
        if (!zs->drains && !zs_pollin(zs))
            break;
        zs->cb(zs, zs->sock, zs->ud);
    }
    /* Whatever is left is picked up by the next prepare, which starts the
     * idle handle so the loop does not block while input is pending. */
}

int hpt_zsock_init(uv_loop_t *loop, hpt_zsock_t *zs, void *sock, hpt_zsock_cb cb, void *ud)
{
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt(sock, ZMQ_FD, &fd, &len) != 0)
        return -zmq_errno();
    *zs = (hpt_zsock_t){.sock = sock, .cb = cb, .ud = ud, .budget = 64};
    int rc = uv_poll_init(loop, &zs->poll, fd);
    if (rc < 0)
        return rc;
    uv_prepare_init(loop, &zs->prepare);
    uv_check_init(loop, &zs->check);
    uv_idle_init(loop, &zs->idle);
    zs->poll.data = zs->prepare.data = zs->check.data = zs->idle.data = zs;
    uv_poll_start(&zs->poll, UV_READABLE, on_poll);
    uv_prepare_start(&zs->prepare, on_prepare);
    uv_check_start(&zs->check, on_check);
    return 0;
}

static void on_handle_closed(uv_handle_t *h)
{
    hpt_zsock_t *zs = h->data;
    if (--zs->closing == 0 && zs->close_cb)
        zs->close_cb(zs);
}

void hpt_zsock_close(hpt_zsock_t *zs, void (*close_cb)(hpt_zsock_t *zs))
{
    zs->close_cb = close_cb;
    zs->closing = 4;
    uv_close((uv_handle_t *)&zs->poll, on_handle_closed);
    uv_close((uv_handle_t *)&zs->prepare, on_handle_closed);
    uv_close((uv_handle_t *)&zs->check, on_handle_closed);
    uv_close((uv_handle_t *)&zs->idle, on_handle_closed);
}

void hpt_zsock_set_drains(hpt_zsock_t *zs, bool drains)
{
    zs->drains = drains;
}

void hpt_zsock_empty(hpt_zsock_t *zs)
{
    zs->empty = true;
}

void hpt_zsock_kick(hpt_zsock_t *zs)
{
    if (!zs->closing)
        uv_idle_start(&zs->idle, on_idle);
}

// --- endpoints ----------------------------------------------------------------

/* The host part of a tcp:// endpoint: *host and its length; false for any
 * other transport or an endpoint without a port. */
static bool tcp_host(const char *ep, const char **host, size_t *n)
{
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *h = ep + 6, *colon = strrchr(h, ':');
    if (!colon)
        return false;
    /* "tcp://src;dst" (a source address) is left to libzmq. */
    if (memchr(h, ';', (size_t)(colon - h)))
        return false;
    *host = h;
    *n = (size_t)(colon - h);
    return true;
}

/* Whether host (n bytes) is an IPv4 literal, '*' or a bracketed IPv6 one:
 * what libzmq binds without needing an interface of that name. */
static bool host_is_literal(const char *host, size_t n)
{
    if (n == 1 && host[0] == '*')
        return true;
    if (n >= 2 && host[0] == '[')
        return true;
    for (size_t i = 0; i < n; i++)
        if (!((host[i] >= '0' && host[i] <= '9') || host[i] == '.'))
            return false;
    return n > 0;
}

int hpt_zsock_connect_prepare(void *sock, const char *endpoint)
{
    const char *host;
    size_t n;
    int one = 1;
    if (tcp_host(endpoint, &host, &n) && n >= 2 && host[0] == '[' &&
        zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one) != 0)
        return -zmq_errno();
    return 0;
}

int hpt_zsock_bind(void *sock, const char *endpoint, char *bound, size_t len, hpt_err *err)
{
    char ep[1024];
    snprintf(ep, sizeof ep, "%s", endpoint);
    const char *host;
    size_t n;
    bool tcp = tcp_host(endpoint, &host, &n);
    bool v6 = tcp && n >= 2 && host[0] == '[';
    if (tcp && n == 9 && strncmp(host, "localhost", 9) == 0)
        snprintf(ep, sizeof ep, "tcp://127.0.0.1%s", host + n);
    int one = 1;
    if (v6 && zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one) != 0)
        return hpt_err_set(err, -zmq_errno(), "%s: cannot enable IPv6 on the socket: %s",
                           endpoint, zmq_strerror(zmq_errno()));
    if (zmq_bind(sock, ep) != 0) {
        int e = zmq_errno();
        if (v6 && (e == EADDRNOTAVAIL || e == ENODEV || e == EAFNOSUPPORT))
            return hpt_err_set(err, -e, "%s: this machine has no such IPv6 address (is IPv6 "
                               "disabled?); bind tcp://127.0.0.1:PORT instead: %s",
                               endpoint, zmq_strerror(e));
        if (tcp && e == ENODEV && !host_is_literal(host, n))
            return hpt_err_set(err, -e, "%s: '%.*s' is neither an IP address nor a network "
                               "interface of this machine; a bind takes an address "
                               "(tcp://192.0.2.7:PORT), an interface (tcp://eth0:PORT) or * "
                               "(every interface), not a host name", endpoint, (int)n, host);
        if (e == EADDRINUSE)
            return hpt_err_set(err, -e, "%s: the address is in use (another coordinator on "
                               "this port?)", endpoint);
        return hpt_err_set(err, -e, "%s: %s", endpoint, zmq_strerror(e));
    }
    if (bound)
        snprintf(bound, len, "%s", ep);
    return 0;
}
