/*
 * fake_workers.c: many workers that register and heartbeat but never train,
 * for tests that need a coordinator with more workers than real processes
 * would allow (test_reply_too_big.py).
 *
 *   fake-workers ENDPOINT COUNT
 *
 * Opens COUNT DEALER sockets to ENDPOINT, one per worker, and sends a Hello
 * from each with every field as long as the protocol allows (worker_id, name
 * and host 255 bytes, version 63, and 64 datasets with 127-byte names and
 * 64-digit fingerprints: what the coordinator keeps of each), so that the
 * coordinator's WorkersReply is as large per worker as it can be.  Then it
 * sends a Heartbeat from each worker every 100 ms (the workers report free
 * slots and no running task, so they are never given work they would have
 * to refuse) and discards whatever the coordinator sends, until its stdin
 * reaches end of file.  It prints "ready COUNT" on stdout once every Hello
 * is sent.  Exit status 0, or 1 on a setup error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto_io.h"

#define N_DATASETS 64   // check_datasets' limit, COORD_MAX_DATASETS
#define HB_MS 100

/* s filled with `len` copies of ch after the prefix, NUL-terminated. */
static void fill(char *s, size_t len, const char *prefix, char ch)
{
    size_t n = (size_t)snprintf(s, len + 1, "%s", prefix);
    for (; n < len; n++)
        s[n] = ch;
    s[len] = '\0';
}

static int send_hello(void *sock, int k)
{
    char id[256], name[256], host[256], version[64], pre[64];
    snprintf(pre, sizeof pre, "fake-%d-", k);
    fill(id, 255, pre, 'i');
    fill(name, 255, pre, 'n');
    fill(host, 255, pre, 'h');
    fill(version, 63, "fake-", 'v');
    static char ds_name[N_DATASETS][128], ds_fp[N_DATASETS][65];
    Hpt__DatasetInfo di[N_DATASETS], *dp[N_DATASETS];
    for (int d = 0; d < N_DATASETS; d++) {
        snprintf(pre, sizeof pre, "dataset-%02d-", d);
        fill(ds_name[d], 127, pre, 'd');
        fill(ds_fp[d], 64, "", "0123456789abcdef"[d % 16]);
        hpt__dataset_info__init(&di[d]);
        di[d].name = ds_name[d];
        di[d].fingerprint = ds_fp[d];
        dp[d] = &di[d];
    }
    Hpt__Hello h = HPT__HELLO__INIT;
    h.worker_id = id;
    h.name = name;
    h.host = host;
    h.version = version;
    h.slots = 1;
    h.n_datasets = N_DATASETS;
    h.datasets = dp;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    return hpt_proto_send(sock, NULL, &env, 0);
}

static int send_heartbeat(void *sock)
{
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.free_slots = 1;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    return hpt_proto_send(sock, NULL, &env, ZMQ_DONTWAIT);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: fake-workers ENDPOINT COUNT\n", stderr);
        return 1;
    }
    const char *endpoint = argv[1];
    int count = atoi(argv[2]);
    int status = 1;
    void *ctx = zmq_ctx_new();
    void **socks = calloc(count > 0 ? (size_t)count : 1, sizeof *socks);
    if (!ctx || !socks || count < 1) {
        fputs("fake-workers: bad COUNT or out of memory\n", stderr);
        goto done;
    }
    /* libzmq allows 1023 sockets per context unless told otherwise. */
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, count + 16);
    for (int k = 0; k < count; k++) {
        socks[k] = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        if (!socks[k] || zmq_setsockopt(socks[k], ZMQ_LINGER, &linger, sizeof linger) != 0 ||
            zmq_connect(socks[k], endpoint) != 0) {
            fprintf(stderr, "fake-workers: socket %d: %s\n", k, zmq_strerror(zmq_errno()));
            goto done;
        }
        int rc = send_hello(socks[k], k);
        if (rc < 0) {
            fprintf(stderr, "fake-workers: hello %d: %s\n", k, strerror(-rc));
            goto done;
        }
    }
    printf("ready %d\n", count);
    fflush(stdout);
    zmq_pollitem_t in = {.socket = NULL, .fd = 0, .events = ZMQ_POLLIN};
    double next_hb = now_ms() + HB_MS;
    for (;;) {
        int n = zmq_poll(&in, 1, HB_MS / 2);
        if (n < 0 && zmq_errno() != EINTR)
            break;
        /* A pipe's end of file is POLLHUP, which zmq_poll reports as
         * ZMQ_POLLERR. */
        if (n > 0 && (in.revents & (ZMQ_POLLIN | ZMQ_POLLERR))) {
            char buf[256];
            if (read(0, buf, sizeof buf) <= 0)
                break;   // end of file: the test is done with us
        }
        for (int k = 0; k < count; k++) {   // Welcome, Heartbeat: read and dropped
            zmq_msg_t m;
            zmq_msg_init(&m);
            while (zmq_msg_recv(&m, socks[k], ZMQ_DONTWAIT) >= 0) {
            }
            zmq_msg_close(&m);
        }
        if (now_ms() >= next_hb) {
            for (int k = 0; k < count; k++)
                send_heartbeat(socks[k]);   // a full pipe: the next one goes
            next_hb = now_ms() + HB_MS;
        }
    }
    status = 0;
done:
    if (socks)
        for (int k = 0; k < count; k++)
            if (socks[k])
                zmq_close(socks[k]);
    free(socks);
    if (ctx)
        zmq_ctx_term(ctx);
    return status;
}
