/* zsock.c: the prepare/check/idle ZeroMQ watcher; see zsock.h. */
#include "zsock.h"

#include <errno.h>
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
    for (int i = 0; i < zs->budget && !zs->closing && zs_pollin(zs); i++)
        zs->cb(zs, zs->sock, zs->ud);
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

void hpt_zsock_kick(hpt_zsock_t *zs)
{
    if (!zs->closing)
        uv_idle_start(&zs->idle, on_idle);
}
