/*
 * status_probe.c: measures how fast the coordinator answers `status` under
 * load, for tests/load/test_load.py.
 *
 * Every --interval-ms it sends one StatusRequest (all sweeps) on its own
 * DEALER socket and waits up to --timeout-ms for the StatusReply with the
 * same req_id; the round trip is one sample.  A request not answered in
 * time counts as a sample of --timeout-ms (and as a timeout); its reply,
 * should it come later, is counted as late and discarded.  On SIGTERM/SIGINT (or after
 * --seconds) it prints one line
 *   status-probe: n=... timeouts=... p50_ms=... p90_ms=... p99_ms=... max_ms=...
 * and, with --out FILE, every sample in milliseconds, one per line.
 * Exit status: 0, 1 when no sample was taken, 2 for a bad flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "proto_io.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    return v[(k > n ? n : k) - 1];
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *addr = NULL, *out_path = NULL;
    long interval_ms = 50, timeout_ms = 2000, seconds = 86400;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            goto usage;
        const char *v = argv[++i];
        if (strcmp(a, "--coordinator") == 0)
            addr = v;
        else if (strcmp(a, "--out") == 0)
            out_path = v;
        else if (strcmp(a, "--interval-ms") == 0 && parse_long(v, 1, 60000, &interval_ms) == 0)
            ;
        else if (strcmp(a, "--timeout-ms") == 0 && parse_long(v, 1, 600000, &timeout_ms) == 0)
            ;
        else if (strcmp(a, "--seconds") == 0 && parse_long(v, 1, 86400, &seconds) == 0)
            ;
        else
            goto usage;
    }
    if (!addr)
        goto usage;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int status = 1;
    size_t n = 0, cap = 4096;
    long timeouts = 0, late = 0, errors = 0;
    double *lat = malloc(cap * sizeof *lat);
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    if (!lat || !sock)
        goto done;
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(sock, addr) != 0)
        goto done;
    double t0 = now_s(), next = t0;
    uint64_t req = 0;
    while (!stop_flag && now_s() - t0 < (double)seconds) {
        double wait = next - now_s();
        if (wait > 0) {
            struct timespec ts = {.tv_sec = (time_t)wait,
                                  .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
            continue;
        }
        next += interval_ms * 1e-3;
        if (next < now_s())
            next = now_s();   // a slow reply: do not send a burst to catch up
        Hpt__StatusRequest st = HPT__STATUS_REQUEST__INIT;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_STATUS;
        env.status = &st;
        env.req_id = ++req;
        double sent = now_s();
        if (hpt_proto_send(sock, NULL, &env, 0) < 0) {
            errors++;
            continue;
        }
        bool got = false;
        while (!got && !stop_flag) {
            double left = sent + timeout_ms * 1e-3 - now_s();
            if (left <= 0)
                break;
            zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
            if (zmq_poll(&it, 1, (long)(left * 1000) + 1) <= 0)
                continue;
            hpt_env_t *r = NULL;
            hpt_err err = {0};
            int rc = hpt_proto_recv(sock, NULL, &r, &err);
            if (rc == -EAGAIN)
                continue;
            if (rc < 0) {
                errors++;
                continue;
            }
            if (r->req_id == req && r->body_case == HPT__ENVELOPE__BODY_STATUS_REPLY) {
                got = true;
                if (n == cap) {
                    double *p = realloc(lat, 2 * cap * sizeof *lat);
                    if (!p) {
                        hpt_proto_free(&r);
                        goto done;
                    }
                    lat = p;
                    cap *= 2;
                }
                lat[n++] = (now_s() - sent) * 1000;
            } else if (r->req_id < req) {
                late++;
            } else {
                errors++;
            }
            hpt_proto_free(&r);
        }
        if (!got && !stop_flag) {
            // A timeout counts as a sample of timeout_ms, so percentiles see it.
            timeouts++;
            if (n == cap) {
                double *p = realloc(lat, 2 * cap * sizeof *lat);
                if (!p)
                    goto done;
                lat = p;
                cap *= 2;
            }
            lat[n++] = (double)timeout_ms;
        }
    }
    if (out_path) {
        FILE *f = fopen(out_path, "w");
        if (f) {
            for (size_t i = 0; i < n; i++)
                fprintf(f, "%.3f\n", lat[i]);
            fclose(f);
        }
    }
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("status-probe: n=%zu timeouts=%ld late=%ld errors=%ld p50_ms=%.2f p90_ms=%.2f "
           "p99_ms=%.2f max_ms=%.2f\n",
           n, timeouts, late, errors, pct(lat, n, 50), pct(lat, n, 90), pct(lat, n, 99),
           n ? lat[n - 1] : 0.0);
    status = n > 0 ? 0 : 1;
done:
    free(lat);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return status;
usage:
    fprintf(stderr, "usage: status-probe --coordinator ADDR [--interval-ms 50] "
                    "[--timeout-ms 2000] [--seconds S] [--out FILE]\n");
    return 2;
}
