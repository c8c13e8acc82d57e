/*
 * fetch_probe.c: a hostile worker for the dataset tests
 * (test_dataset_confinement.py): it registers like a worker, advertises
 * whatever datasets and fingerprints it is told to, and asks the
 * coordinator for dataset chunks of its choosing, printing what comes back.
 *
 *   fetch-probe ENDPOINT
 *
 * Commands on stdin, one per line; each answers one JSON line on stdout:
 *   hello ID [NAME FP]...          Hello with these datasets (slots 1); waits
 *                                  up to 5 s for Welcome: {"ev":"welcome"} or
 *                                  {"ev":"timeout"}
 *   fetch NAME FP FILE OFFSET SIZE one FetchChunk; waits up to 3 s for the
 *                                  DatasetChunk answering it: {"ev":"chunk",
 *                                  "error":"...","len":N,"file_size":N,
 *                                  "offset":N,"hex":"<all bytes, hex>"} or
 *                                  {"ev":"none"} (no answer: the coordinator
 *                                  dropped the request as malformed)
 *   offers                         {"ev":"offers","offers":[{"dataset":...,
 *                                  "fingerprint":...,"files":[[name,size]...]}]}
 *                                  every DatasetOffer received so far
 * Once registered it sends a Heartbeat (one free slot, no task) every 50 ms,
 * so it stays registered between commands, and it never runs an Assign.
 * It exits at the end of stdin.  Exit status 0, or 1 on a setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto_io.h"

#define HB_MS 50
#define MAX_DS 16
#define MAX_OFFERS 64

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

typedef struct probe {
    void *sock;
    bool registered;
    double next_hb;
    char offers[MAX_OFFERS][1200];   // JSON objects
    int n_offers;
} probe_t;

static void heartbeat(probe_t *p)
{
    if (!p->registered || now_ms() < p->next_hb)
        return;
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.free_slots = 1;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    hpt_proto_send(p->sock, NULL, &env, ZMQ_DONTWAIT);
    p->next_hb = now_ms() + HB_MS;
}

/* Receive for up to ms, keeping heartbeats going; returns the first message
 * of kind `want` (owned by the caller) and, when xfer is nonzero, only a
 * DatasetChunk with that xfer; NULL on timeout.  Offers are recorded. */
static hpt_env_t *wait_for(probe_t *p, int want, uint64_t xfer, double ms)
{
    double end = now_ms() + ms;
    while (now_ms() < end) {
        heartbeat(p);
        zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 10) <= 0)
            continue;
        hpt_env_t *env = NULL;
        hpt_err err = {0};
        if (hpt_proto_recv(p->sock, NULL, &env, &err) < 0)
            continue;
        if (env->body_case == HPT__ENVELOPE__BODY_DATASET_OFFER && p->n_offers < MAX_OFFERS) {
            const Hpt__DatasetOffer *o = env->dataset_offer;
            char *b = p->offers[p->n_offers++];
            int k = snprintf(b, sizeof p->offers[0], "{\"dataset\":\"%.256s\",\"fingerprint\":"
                             "\"%.64s\",\"files\":[", o->dataset, o->fingerprint);
            for (size_t i = 0; i < o->n_files && k > 0 && (size_t)k < sizeof p->offers[0]; i++)
                k += snprintf(b + k, sizeof p->offers[0] - (size_t)k, "%s[\"%.64s\",%" PRIu64 "]",
                              i ? "," : "", o->files[i]->name, o->files[i]->size);
            if (k > 0 && (size_t)k < sizeof p->offers[0])
                snprintf(b + k, sizeof p->offers[0] - (size_t)k, "]}");
        }
        if ((int)env->body_case == want &&
            (!xfer || (env->body_case == HPT__ENVELOPE__BODY_DATASET_CHUNK &&
                       env->dataset_chunk->xfer == xfer)))
            return env;
        hpt_proto_free(&env);
    }
    return NULL;
}

static void cmd_hello(probe_t *p, char *args)
{
    char *save = NULL;
    char *id = strtok_r(args, " ", &save);
    Hpt__DatasetInfo di[MAX_DS], *dp[MAX_DS];
    size_t n = 0;
    for (char *name; n < MAX_DS && (name = strtok_r(NULL, " ", &save));) {
        char *fp = strtok_r(NULL, " ", &save);
        if (!fp)
            break;
        hpt__dataset_info__init(&di[n]);
        di[n].name = name;
        di[n].fingerprint = fp;
        di[n].n_train = 1;
        di[n].n_test = 1;
        dp[n] = &di[n];
        n++;
    }
    Hpt__Hello h = HPT__HELLO__INIT;
    h.worker_id = id ? id : "probe";
    h.name = "fetch-probe";
    h.host = "probe";
    h.version = "probe";
    h.slots = 1;
    h.n_datasets = n;
    h.datasets = dp;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    hpt_proto_send(p->sock, NULL, &env, 0);
    hpt_env_t *w = wait_for(p, HPT__ENVELOPE__BODY_WELCOME, 0, 5000);
    p->registered = w != NULL;
    p->next_hb = now_ms();
    printf("{\"ev\":\"%s\"}\n", w ? "welcome" : "timeout");
    hpt_proto_free(&w);
}

static void cmd_fetch(probe_t *p, char *args, uint64_t xfer)
{
    char *save = NULL;
    char *name = strtok_r(args, " ", &save), *fp = strtok_r(NULL, " ", &save);
    char *file = strtok_r(NULL, " ", &save), *off = strtok_r(NULL, " ", &save);
    char *size = strtok_r(NULL, " ", &save);
    if (!size) {
        printf("{\"ev\":\"usage\"}\n");
        return;
    }
    Hpt__FetchChunk m = HPT__FETCH_CHUNK__INIT;
    m.dataset = name;
    m.fingerprint = fp;
    m.file = file;
    m.offset = strtoull(off, NULL, 10);
    m.size = (uint32_t)strtoul(size, NULL, 10);
    m.xfer = xfer;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_FETCH_CHUNK;
    env.fetch_chunk = &m;
    hpt_proto_send(p->sock, NULL, &env, 0);
    hpt_env_t *r = wait_for(p, HPT__ENVELOPE__BODY_DATASET_CHUNK, xfer, 3000);
    if (!r) {
        printf("{\"ev\":\"none\"}\n");
        return;
    }
    const Hpt__DatasetChunk *c = r->dataset_chunk;
    printf("{\"ev\":\"chunk\",\"error\":");
    json_str(c->error);
    printf(",\"len\":%zu,\"file_size\":%" PRIu64 ",\"offset\":%" PRIu64 ",\"hex\":\"",
           c->data.len, c->file_size, c->offset);
    for (size_t i = 0; i < c->data.len; i++)
        printf("%02x", c->data.data[i]);
    printf("\"}\n");
    hpt_proto_free(&r);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: fetch-probe ENDPOINT\n", stderr);
        return 1;
    }
    probe_t p = {0};
    void *ctx = zmq_ctx_new();
    p.sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int linger = 0;
    if (!p.sock || zmq_setsockopt(p.sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(p.sock, argv[1]) != 0) {
        fprintf(stderr, "fetch-probe: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    char buf[8192];
    size_t have = 0;
    uint64_t xfer = 1000;
    bool eof = false;
    while (!eof) {
        zmq_pollitem_t it[2] = {{.fd = 0, .events = ZMQ_POLLIN},
                                {.socket = p.sock, .events = ZMQ_POLLIN}};
        zmq_poll(it, 2, HB_MS / 2);
        heartbeat(&p);
        if (it[1].revents & ZMQ_POLLIN) {
            hpt_env_t *env = wait_for(&p, -1, 0, 1);   // records offers, drops the rest
            hpt_proto_free(&env);
        }
        if (!(it[0].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            continue;
        ssize_t k = read(0, buf + have, sizeof buf - 1 - have);
        if (k <= 0) {
            eof = true;
            k = 0;
        }
        have += (size_t)k;
        buf[have] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = '\0';
            if (strncmp(buf, "hello ", 6) == 0) {
                cmd_hello(&p, buf + 6);
            } else if (strncmp(buf, "fetch ", 6) == 0) {
                cmd_fetch(&p, buf + 6, ++xfer);
            } else if (strcmp(buf, "offers") == 0) {
                printf("{\"ev\":\"offers\",\"offers\":[");
                for (int i = 0; i < p.n_offers; i++)
                    printf("%s%s", i ? "," : "", p.offers[i]);
                printf("]}\n");
            } else if (buf[0]) {
                printf("{\"ev\":\"usage\"}\n");
            }
            fflush(stdout);
            size_t used = (size_t)(nl - buf) + 1;
            memmove(buf, nl + 1, have - used + 1);
            have -= used;
        }
        if (have >= sizeof buf - 1)
            have = 0;   // a line too long: dropped
    }
    zmq_close(p.sock);
    zmq_ctx_term(ctx);
    return 0;
}
