/*
 * hostile_client.c: throws malformed, misrouted and abusive messages at a
 * running hptune-coordinator over DEALER sockets (libzmq directly), for
 * tests/hostile/test_hostile.py.
 *
 * Phases:
 *   1. fake workers: --hellos DEALER sockets each send one Hello (distinct
 *      worker id, slots 1..1024, the dataset name the sweep uses with a wrong
 *      fingerprint), every tenth follows it with Results, Progress and a
 *      Heartbeat for tasks it does not hold; then they all fall silent and
 *      stay connected, so the coordinator must expire them;
 *   2. the mix, spread over --duration-ms on --sockets attack sockets chosen
 *      at random: random bytes, valid envelopes cut short, wrong protocol
 *      versions, multi-frame messages, unknown oneof numbers, empty frames,
 *      Results and Progress for tasks the sender does not hold (random ids
 *      and real-looking ones 1..200), Heartbeats and Goodbyes from
 *      unregistered peers, coordinator-to-worker bodies sent to the
 *      coordinator, bad client requests (Submit of garbage YAML, Status,
 *      Results and Cancel of sweeps that do not exist, Subscribe with a bad
 *      level) and --oversized frames above the coordinator's inbound cap
 *      (HPT_PROTO_MAX_INBOUND, about 1 MiB), each on its own
 *      socket, watched with a socket monitor: the coordinator's
 *      ZMQ_MAXMSGSIZE must drop the connection, after which a new socket
 *      must get an answer to a StatusRequest;
 *   3. with --big-submit BYTES (off by default), one Submit of that many
 *      bytes of well-formed YAML that is not a spec, timing its ErrorReply
 *      (how long the coordinator's loop was busy parsing it);
 *   4. with --slow-subscribers N (off by default), N sockets each ask 20
 *      times for the whole event history and never read it;
 *   4b. with --big-heartbeats N (off by default), N Heartbeats just under
 *      the coordinator's inbound cap (HPT_PROTO_MAX_INBOUND, about 1 MiB:
 *      130,000 running-task entries each, where 1,024 are allowed), which it
 *      must refuse before decoding them, then the round trip of a
 *      StatusRequest;
 *   5. a StatusRequest on a fresh socket must be answered.
 * Replies are drained throughout and counted by kind.
 *
 * Every message sent counts toward --frames (10,000 by default), Hellos and
 * oversized ones included.  Output: progress lines, then one line
 * "hostile: key=value ..." with the counts.  Exit status: 0 when every
 * message went out, every oversized frame cost its connection and the last
 * StatusRequest was answered; 1 otherwise; 2 for a bad flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

#include "proto_io.h"
#include "rng.h"

#define MAX_ATTACK_SOCKETS 64

typedef enum cat {
    C_HELLO,
    C_RANDOM,
    C_TRUNCATED,
    C_VERSION,
    C_MULTIFRAME,
    C_UNKNOWN_BODY,
    C_EMPTY,
    C_STALE_RESULT,
    C_STALE_PROGRESS,
    C_UNREG_HEARTBEAT,
    C_UNREG_GOODBYE,
    C_WRONG_DIRECTION,
    C_BAD_SUBMIT,
    C_BAD_STATUS,
    C_BAD_RESULTS,
    C_BAD_CANCEL,
    C_BAD_SUBSCRIBE,
    C_OVERSIZED,
    C__COUNT
} cat_t;

static const char *const cat_names[C__COUNT] = {
    "hello",        "random",         "truncated",       "bad_version",    "multiframe",
    "unknown_body", "empty",          "stale_result",    "stale_progress", "unreg_heartbeat",
    "unreg_goodbye", "wrong_direction", "bad_submit",    "bad_status",     "bad_results",
    "bad_cancel",   "bad_subscribe",  "oversized",
};

/* Relative weights of the mix (phase 2); hellos and oversized are counted apart. */
static const int cat_weight[C__COUNT] = {
    [C_RANDOM] = 15,        [C_TRUNCATED] = 14,     [C_VERSION] = 8,     [C_MULTIFRAME] = 7,
    [C_UNKNOWN_BODY] = 8,   [C_EMPTY] = 5,          [C_STALE_RESULT] = 10,
    [C_STALE_PROGRESS] = 5, [C_UNREG_HEARTBEAT] = 8, [C_UNREG_GOODBYE] = 2,
    [C_WRONG_DIRECTION] = 6, [C_BAD_SUBMIT] = 3,    [C_BAD_STATUS] = 4,  [C_BAD_RESULTS] = 2,
    [C_BAD_CANCEL] = 2,     [C_BAD_SUBSCRIBE] = 1,
};

typedef struct opts {
    const char *addr;
    long frames;          // messages in all
    int hellos;           // fake workers
    int sockets;          // attack sockets
    int oversized;        // frames above HPT_PROTO_MAX_INBOUND
    long duration_ms;     // spread of phase 2
    uint64_t seed;
    const char *dataset;  // the name the fake workers advertise
    long big_submit;      // bytes of one huge garbage Submit at the end (0 = none)
    int slow_subs;        // sockets that ask for the event history and never read
    int big_heartbeats;   // Heartbeats just under the message cap, phase 4b
} opts_t;

typedef struct hc {
    opts_t o;
    void *ctx;
    void *atk[MAX_ATTACK_SOCKETS];
    void **fakes;
    int n_fakes;
    hpt_rng_t rng;
    long sent;                   // messages
    long frames;                 // frames (a multi-frame message counts each)
    long by_cat[C__COUNT];
    long send_fail;
    long replies[64];            // by body case (0: undecodable)
    long replies_bad;
    long fakes_welcomed;
    int oversized_dropped;
    int reconnects;
    int reconnect_answered;
    int mon_seq;
    uint64_t req_id;
    double big_submit_ms;        // its round trip (-1: no answer)
    double big_hb_status_ms;     // StatusRequest round trip after the big Heartbeats
} hc_t;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(double ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)((ms - 1000.0 * (double)(time_t)(ms / 1000)) * 1e6)};
    nanosleep(&ts, NULL);
}

static uint32_t rnd(hc_t *h, uint32_t n)
{
    return n ? hpt_rng_below(&h->rng, n) : 0;
}

// --- sockets --------------------------------------------------------------

static void *dealer_new(hc_t *h)
{
    void *s = zmq_socket(h->ctx, ZMQ_DEALER);
    if (!s)
        return NULL;
    int zero = 0, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect(s, h->o.addr) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Count and drop whatever is waiting on s. */
static void drain(hc_t *h, void *s)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        hpt_env_t *env = NULL;
        if (hpt_proto_decode(zmq_msg_data(&m), zmq_msg_size(&m), &env, NULL) == 0) {
            h->replies[env->body_case < 64 ? env->body_case : 0]++;
            hpt_proto_free(&env);
        } else {
            h->replies_bad++;
        }
        zmq_msg_close(&m);
    }
}

static void drain_all(hc_t *h)
{
    for (int i = 0; i < h->o.sockets; i++)
        if (h->atk[i])
            drain(h, h->atk[i]);
}

/* Send n frames (parts of one message); returns 0 or -1. */
static int send_parts(hc_t *h, void *s, const uint8_t *const *bufs, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        // A full pipe: wait for room rather than lose the frame.
        int rc;
        double t0 = now_s();
        while ((rc = zmq_send(s, bufs[i], lens[i], flags)) < 0 && zmq_errno() == EAGAIN &&
               now_s() - t0 < 5.0)
            sleep_ms(1);
        if (rc < 0) {
            h->send_fail++;
            return -1;
        }
        h->frames++;
    }
    return 0;
}

/* Pack env exactly as given (protocol included) into a malloc'd buffer. */
static uint8_t *pack(const hpt_env_t *env, size_t *len)
{
    *len = hpt__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        hpt__envelope__pack(env, buf);
    return buf;
}

static int send_env(hc_t *h, void *s, const hpt_env_t *env)
{
    size_t len;
    uint8_t *buf = pack(env, &len);
    if (!buf)
        return -1;
    const uint8_t *b[1] = {buf};
    int rc = send_parts(h, s, b, &len, 1);
    free(buf);
    return rc;
}

// --- envelopes ------------------------------------------------------------

/* A 64-hex-digit fingerprint that is not the dataset's. */
static void fake_fp(hc_t *h, char fp[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 64; i++)
        fp[i] = hex[rnd(h, 16)];
    fp[64] = '\0';
}

/* A task id: half real-looking (1..200), half anything. */
static uint64_t task_id(hc_t *h)
{
    return rnd(h, 2) ? 1 + rnd(h, 200) : (hpt_rng_u64(&h->rng) | 1);
}

/* Fill *env with a valid envelope of a random worker or client kind.  The
 * pointed-to bodies live in *store, which must outlive the send. */
typedef struct env_store {
    Hpt__Result result;
    Hpt__Progress progress;
    Hpt__Heartbeat heartbeat;
    Hpt__TaskProgress tp[4];
    Hpt__TaskProgress *tpp[4];
    Hpt__Goodbye goodbye;
    Hpt__StatusRequest status;
    Hpt__ResultsRequest results;
    Hpt__CancelRequest cancel_sweep;
    Hpt__Submit submit;
    Hpt__Subscribe subscribe;
    Hpt__Welcome welcome;
    Hpt__Assign assign;
    Hpt__HParams hparams;
    uint32_t units[HPT_MAX_LAYERS];
    Hpt__Cancel cancel;
    Hpt__Disconnect disconnect;
    Hpt__Reject reject;
    Hpt__Hello hello;
    Hpt__DatasetInfo ds;
    Hpt__DatasetInfo *dsp;
    char text[2048];
    char fp[65];
    char wid[96];
} env_store_t;

static void make_result(hc_t *h, hpt_env_t *env, env_store_t *st)
{
    hpt__result__init(&st->result);
    Hpt__Result *r = &st->result;
    r->task = task_id(h);
    r->attempt = 1 + rnd(h, 3);
    r->ok = rnd(h, 4) != 0;
    r->score = r->accuracy = 0.5 + 0.5 * hpt_rng_uniform(&h->rng);
    r->log_loss = 0.3;
    r->f1_macro = r->score;
    r->train_score = NAN;
    r->fit_seconds = hpt_rng_uniform(&h->rng);
    r->epochs = 1;
    r->error = r->ok ? "" : "hostile failure";
    r->refused = !r->ok && rnd(h, 2);
    env->body_case = HPT__ENVELOPE__BODY_RESULT;
    env->result = r;
}

static void make_progress(hc_t *h, hpt_env_t *env, env_store_t *st)
{
    hpt__progress__init(&st->progress);
    st->progress.task = task_id(h);
    st->progress.attempt = 1 + rnd(h, 3);
    st->progress.epochs = 10;
    st->progress.epoch = 1 + rnd(h, 10);
    st->progress.val_score = 0.9;
    st->progress.train_loss = 0.2;
    env->body_case = HPT__ENVELOPE__BODY_PROGRESS;
    env->progress = &st->progress;
}

static void make_heartbeat(hc_t *h, hpt_env_t *env, env_store_t *st)
{
    hpt__heartbeat__init(&st->heartbeat);
    int n = (int)rnd(h, 5);   // 0..4 entries
    for (int i = 0; i < n; i++) {
        hpt__task_progress__init(&st->tp[i]);
        st->tp[i].task = task_id(h);
        st->tp[i].attempt = 1 + rnd(h, 2);
        st->tp[i].epoch = rnd(h, 5);
        st->tpp[i] = &st->tp[i];
    }
    st->heartbeat.n_running = (size_t)n;
    st->heartbeat.running = st->tpp;
    st->heartbeat.free_slots = rnd(h, 4);
    env->body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env->heartbeat = &st->heartbeat;
}

static void make_hello(hc_t *h, hpt_env_t *env, env_store_t *st, int n)
{
    hpt__hello__init(&st->hello);
    hpt__dataset_info__init(&st->ds);
    fake_fp(h, st->fp);
    snprintf(st->wid, sizeof st->wid, "hostile:%d:%08" PRIx64, n, hpt_rng_u64(&h->rng));
    st->ds.name = (char *)h->o.dataset;
    st->ds.fingerprint = st->fp;
    st->ds.n_train = 8000;
    st->ds.n_test = 2000;
    st->dsp = &st->ds;
    st->hello.worker_id = st->wid;
    st->hello.name = "hostile";
    st->hello.host = "hostile";
    st->hello.slots = 1 + rnd(h, 1024);
    st->hello.version = "0.0.0-hostile";
    st->hello.n_datasets = 1;
    st->hello.datasets = &st->dsp;
    env->body_case = HPT__ENVELOPE__BODY_HELLO;
    env->hello = &st->hello;
}

/* A coordinator-to-worker body, which the coordinator must never accept. */
static void make_wrong_direction(hc_t *h, hpt_env_t *env, env_store_t *st)
{
    switch (rnd(h, 5)) {
    case 0:
        hpt__welcome__init(&st->welcome);
        st->welcome.heartbeat_ms = 1;
        st->welcome.liveness = 1;
        env->body_case = HPT__ENVELOPE__BODY_WELCOME;
        env->welcome = &st->welcome;
        break;
    case 1: {
        hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
        hpt_proto_hparams_to_wire(&hp, &st->hparams, st->units);
        hpt__assign__init(&st->assign);
        st->assign.task = task_id(h);
        st->assign.attempt = 1;
        st->assign.folds = 5;
        st->assign.dataset = (char *)h->o.dataset;
        st->assign.fingerprint = "";
        st->assign.hparams = &st->hparams;
        env->body_case = HPT__ENVELOPE__BODY_ASSIGN;
        env->assign = &st->assign;
        break;
    }
    case 2:
        hpt__cancel__init(&st->cancel);
        st->cancel.task = task_id(h);
        st->cancel.attempt = 1;
        env->body_case = HPT__ENVELOPE__BODY_CANCEL;
        env->cancel = &st->cancel;
        break;
    case 3:
        hpt__disconnect__init(&st->disconnect);
        st->disconnect.reason = "hostile";
        env->body_case = HPT__ENVELOPE__BODY_DISCONNECT;
        env->disconnect = &st->disconnect;
        break;
    default:
        hpt__reject__init(&st->reject);
        st->reject.reason = "hostile";
        env->body_case = HPT__ENVELOPE__BODY_REJECT;
        env->reject = &st->reject;
        break;
    }
}

/* Garbage where YAML is expected: random bytes (NULs replaced), unbalanced
 * YAML, or a spec with bad values. */
static void make_bad_submit(hc_t *h, hpt_env_t *env, env_store_t *st)
{
    static const char *const bad_specs[] = {
        "dataset: mnist\nmethod: [grid\n",
        "dataset: mnist\nmethod: grid\nparameters:\n  epochs: {value: -3}\n",
        "dataset: cifar10\nmethod: grid\nparameters:\n  epochs: {value: 2}\n",
        "dataset: mnist\nmethod: random\nparameters:\n  epochs: {value: 2}\n",
        "dataset: &a mnist\nmethod: *a\n",
        "- just\n- a\n- list\n",
        "dataset: mnist\nmethod: grid\ncv: {folds: 1}\nparameters:\n  units: {values: [8]}\n",
        "{\"dataset\": \"mnist\", \"method\": \"grid\", \"parameters\": {\"units\": {\"min\": 3}}}",
    };
    size_t n = sizeof bad_specs / sizeof bad_specs[0];
    uint32_t k = rnd(h, (uint32_t)n + 1);
    if (k < n) {
        snprintf(st->text, sizeof st->text, "%s", bad_specs[k]);
    } else {
        size_t len = 1 + rnd(h, sizeof st->text - 1);
        for (size_t i = 0; i < len; i++)
            st->text[i] = (char)(1 + rnd(h, 255));
        st->text[len] = '\0';
    }
    hpt__submit__init(&st->submit);
    st->submit.spec = st->text;
    st->submit.path = "hostile.yaml";
    env->body_case = HPT__ENVELOPE__BODY_SUBMIT;
    env->submit = &st->submit;
}

/* Sweep ids that do not exist (the real sweeps are numbered from 1). */
static uint64_t bad_sweep(hc_t *h)
{
    return 1000000 + (hpt_rng_u64(&h->rng) >> 8);
}

// --- the attacks ----------------------------------------------------------

static void *pick(hc_t *h)
{
    return h->atk[rnd(h, (uint32_t)h->o.sockets)];
}

/* One message of category c on a random attack socket. */
static void attack(hc_t *h, cat_t c)
{
    void *s = pick(h);
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.protocol = HPT__VERSION__PROTOCOL_VERSION;
    env_store_t st;
    memset(&st, 0, sizeof st);
    int rc = 0;
    switch (c) {
    case C_RANDOM: {
        uint8_t buf[2048];
        size_t len = 1 + rnd(h, sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rnd(h, 256);
        const uint8_t *b[1] = {buf};
        rc = send_parts(h, s, b, &len, 1);
        break;
    }
    case C_TRUNCATED: {
        switch (rnd(h, 4)) {
        case 0: make_result(h, &env, &st); break;
        case 1: make_hello(h, &env, &st, -1); break;
        case 2: make_heartbeat(h, &env, &st); break;
        default: make_bad_submit(h, &env, &st); break;
        }
        size_t len;
        uint8_t *buf = pack(&env, &len);
        if (!buf)
            return;
        size_t cut = len > 1 ? 1 + rnd(h, (uint32_t)len - 1) : 0;
        const uint8_t *b[1] = {buf};
        rc = send_parts(h, s, b, &cut, 1);
        free(buf);
        break;
    }
    case C_VERSION: {
        make_result(h, &env, &st);
        static const uint32_t versions[] = {0, 2, 3, 255, 0xffffffffu};
        env.protocol = versions[rnd(h, 5)];
        rc = send_env(h, s, &env);
        break;
    }
    case C_MULTIFRAME: {
        make_heartbeat(h, &env, &st);
        size_t len;
        uint8_t *buf = pack(&env, &len);
        if (!buf)
            return;
        int n = 2 + (int)rnd(h, 3);
        const uint8_t *b[4];
        size_t l[4];
        for (int i = 0; i < n; i++) {
            b[i] = buf;
            l[i] = len;
        }
        if (rnd(h, 2))
            l[0] = 0;   // a REQ-style empty delimiter first
        rc = send_parts(h, s, b, l, n);
        free(buf);
        break;
    }
    case C_UNKNOWN_BODY: {
        // protocol = 1, then a length-delimited field no Envelope defines.
        static const uint32_t fields[] = {3, 9, 15, 19, 25, 29, 45, 99, 1000, 536870911};
        uint32_t f = fields[rnd(h, 10)];
        uint8_t buf[32] = {0x08, 0x01};
        size_t len = 2;
        uint64_t tag = (uint64_t)f << 3 | 2;
        while (tag >= 0x80) {
            buf[len++] = (uint8_t)(tag | 0x80);
            tag >>= 7;
        }
        buf[len++] = (uint8_t)tag;
        uint8_t body = (uint8_t)rnd(h, 8);
        buf[len++] = body;
        for (uint8_t i = 0; i < body; i++)
            buf[len++] = (uint8_t)rnd(h, 256);
        const uint8_t *b[1] = {buf};
        rc = send_parts(h, s, b, &len, 1);
        break;
    }
    case C_EMPTY: {
        static const uint8_t nothing[1];
        const uint8_t *b[1] = {nothing};
        size_t len = 0;
        rc = send_parts(h, s, b, &len, 1);
        break;
    }
    case C_STALE_RESULT:
        make_result(h, &env, &st);
        rc = send_env(h, s, &env);
        break;
    case C_STALE_PROGRESS:
        make_progress(h, &env, &st);
        rc = send_env(h, s, &env);
        break;
    case C_UNREG_HEARTBEAT:
        make_heartbeat(h, &env, &st);
        rc = send_env(h, s, &env);
        break;
    case C_UNREG_GOODBYE:
        hpt__goodbye__init(&st.goodbye);
        st.goodbye.drain = rnd(h, 2);
        env.body_case = HPT__ENVELOPE__BODY_GOODBYE;
        env.goodbye = &st.goodbye;
        rc = send_env(h, s, &env);
        break;
    case C_WRONG_DIRECTION:
        make_wrong_direction(h, &env, &st);
        rc = send_env(h, s, &env);
        break;
    case C_BAD_SUBMIT:
        make_bad_submit(h, &env, &st);
        env.req_id = ++h->req_id;
        rc = send_env(h, s, &env);
        break;
    case C_BAD_STATUS:
        hpt__status_request__init(&st.status);
        st.status.sweep = bad_sweep(h);
        env.body_case = HPT__ENVELOPE__BODY_STATUS;
        env.status = &st.status;
        env.req_id = ++h->req_id;
        rc = send_env(h, s, &env);
        break;
    case C_BAD_RESULTS:
        hpt__results_request__init(&st.results);
        st.results.sweep = rnd(h, 2) ? 0 : bad_sweep(h);
        env.body_case = HPT__ENVELOPE__BODY_RESULTS;
        env.results = &st.results;
        env.req_id = ++h->req_id;
        rc = send_env(h, s, &env);
        break;
    case C_BAD_CANCEL:
        hpt__cancel_request__init(&st.cancel_sweep);
        st.cancel_sweep.sweep = rnd(h, 2) ? 0 : bad_sweep(h);
        env.body_case = HPT__ENVELOPE__BODY_CANCEL_SWEEP;
        env.cancel_sweep = &st.cancel_sweep;
        env.req_id = ++h->req_id;
        rc = send_env(h, s, &env);
        break;
    case C_BAD_SUBSCRIBE:
        hpt__subscribe__init(&st.subscribe);
        st.subscribe.level = rnd(h, 2) ? "loud" : "this level name is far too long";
        st.subscribe.follow = true;
        env.body_case = HPT__ENVELOPE__BODY_SUBSCRIBE;
        env.subscribe = &st.subscribe;
        env.req_id = ++h->req_id;
        rc = send_env(h, s, &env);
        break;
    default:
        return;
    }
    if (rc == 0) {
        h->sent++;
        h->by_cat[c]++;
    }
}

/* Wait up to timeout_ms for a reply with req_id on s; true when one came. */
static bool await_reply(hc_t *h, void *s, uint64_t req_id, int timeout_ms)
{
    double end = now_s() + timeout_ms * 1e-3;
    while (now_s() < end) {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        int left = (int)((end - now_s()) * 1000) + 1;
        if (zmq_poll(&it, 1, left) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        hpt_env_t *env = NULL;
        bool hit = false;
        if (hpt_proto_decode(zmq_msg_data(&m), zmq_msg_size(&m), &env, NULL) == 0) {
            h->replies[env->body_case < 64 ? env->body_case : 0]++;
            hit = env->req_id == req_id && env->body_case == HPT__ENVELOPE__BODY_STATUS_REPLY;
            hpt_proto_free(&env);
        } else {
            h->replies_bad++;
        }
        zmq_msg_close(&m);
        if (hit)
            return true;
    }
    return false;
}

/* A StatusRequest on s, answered within timeout_ms? */
static bool status_ok(hc_t *h, void *s, int timeout_ms)
{
    Hpt__StatusRequest st = HPT__STATUS_REQUEST__INIT;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.protocol = HPT__VERSION__PROTOCOL_VERSION;
    env.body_case = HPT__ENVELOPE__BODY_STATUS;
    env.status = &st;
    env.req_id = ++h->req_id;
    if (send_env(h, s, &env) < 0)
        return false;
    return await_reply(h, s, env.req_id, timeout_ms);
}

/* o.big_heartbeats Envelopes {protocol, heartbeat {running x 130k}} of just
 * under HPT_PROTO_MAX_INBOUND bytes, written by hand (8 bytes an entry:
 * task 1, attempt 1, epoch 1), then a StatusRequest on a fresh socket. */
static void big_heartbeats(hc_t *h)
{
    size_t entries = ((size_t)HPT_PROTO_MAX_INBOUND - 64) / 8, body = entries * 8;
    uint8_t *buf = malloc(body + 32);
    void *s = dealer_new(h);
    h->big_hb_status_ms = -1;
    if (!buf || !s) {
        free(buf);
        if (s)
            zmq_close(s);
        return;
    }
    size_t n = 0;
    buf[n++] = 0x08;   // field 1 (protocol), varint
    buf[n++] = (uint8_t)HPT__VERSION__PROTOCOL_VERSION;
    buf[n++] = 0x5A;   // field 11 (heartbeat), length-delimited
    for (size_t v = body; ; v >>= 7) {
        buf[n++] = (uint8_t)((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80)
            break;
    }
    static const uint8_t entry[8] = {0x0A, 0x06, 0x08, 0x01, 0x10, 0x01, 0x18, 0x01};
    for (size_t i = 0; i < entries; i++, n += 8)
        memcpy(buf + n, entry, 8);
    for (int i = 0; i < h->o.big_heartbeats; i++)
        if (zmq_send(s, buf, n, 0) < 0)
            h->send_fail++;
    free(buf);
    void *q = dealer_new(h);
    double t0 = now_s();
    if (q && status_ok(h, q, 20000))
        h->big_hb_status_ms = (now_s() - t0) * 1000;
    if (q)
        zmq_close(q);
    zmq_close(s);
}

/* Read monitor events until DISCONNECTED (true) or the timeout. */
static bool await_disconnect(void *mon, int timeout_ms)
{
    double end = now_s() + timeout_ms * 1e-3;
    while (now_s() < end) {
        zmq_pollitem_t it = {.socket = mon, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        zmq_msg_init(&addr);
        bool disc = false;
        if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2) {
            uint16_t e;
            memcpy(&e, zmq_msg_data(&ev), sizeof e);
            disc = e == ZMQ_EVENT_DISCONNECTED;
        }
        zmq_msg_recv(&addr, mon, 0);
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        if (disc)
            return true;
    }
    return false;
}

/* One frame above the limit on a fresh, monitored socket; then a new socket
 * must be served. */
static void oversized(hc_t *h)
{
    void *s = dealer_new(h);
    if (!s) {
        h->send_fail++;
        return;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://hostile-mon-%d", h->mon_seq++);
    zmq_socket_monitor(s, ep, ZMQ_EVENT_DISCONNECTED);
    void *mon = zmq_socket(h->ctx, ZMQ_PAIR);
    zmq_connect(mon, ep);
    // Above the coordinator's inbound cap, up to beyond the 16 MiB of any socket.
    size_t len = (size_t)HPT_PROTO_MAX_INBOUND + 1 + rnd(h, 16 * 1024 * 1024);
    uint8_t *buf = malloc(len);
    if (buf) {
        // A plausible start (protocol = 1, a Submit body) and filler.
        memset(buf, 'y', len);
        buf[0] = 0x08;
        buf[1] = 0x01;
        const uint8_t *b[1] = {buf};
        if (send_parts(h, s, b, &len, 1) == 0) {
            h->sent++;
            h->by_cat[C_OVERSIZED]++;
        }
        free(buf);
        if (await_disconnect(mon, 10000))
            h->oversized_dropped++;
    }
    zmq_socket_monitor(s, NULL, 0);
    zmq_close(mon);
    zmq_close(s);
    // Reconnect and continue: a new connection must be served.
    void *again = dealer_new(h);
    if (again) {
        h->reconnects++;
        if (status_ok(h, again, 5000))
            h->reconnect_answered++;
        zmq_close(again);
    }
}

/* One Submit of o.big_submit bytes of flow-sequence YAML ("x: [1,1,...]"),
 * valid YAML the parser must read whole before it can refuse the key; the
 * round trip of its ErrorReply is how long the coordinator's loop was busy. */
static void big_submit(hc_t *h)
{
    size_t len = (size_t)h->o.big_submit;
    char *spec = malloc(len + 1);
    void *s = dealer_new(h);
    h->big_submit_ms = -1;
    if (!spec || !s || len < 8) {
        free(spec);
        if (s)
            zmq_close(s);
        return;
    }
    memcpy(spec, "x: [1", 5);
    size_t n = 5;
    while (n + 3 < len) {
        spec[n++] = ',';
        spec[n++] = '1';
    }
    spec[n++] = ']';
    spec[n] = '\0';
    Hpt__Submit sub = HPT__SUBMIT__INIT;
    sub.spec = spec;
    sub.path = "big.yaml";
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.protocol = HPT__VERSION__PROTOCOL_VERSION;
    env.body_case = HPT__ENVELOPE__BODY_SUBMIT;
    env.submit = &sub;
    env.req_id = ++h->req_id;
    double t0 = now_s();
    if (send_env(h, s, &env) == 0) {   // an extra, not counted in --frames
        double end = t0 + 120;
        while (now_s() < end) {
            zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
            if (zmq_poll(&it, 1, 100) <= 0)
                continue;
            hpt_env_t *r = NULL;
            int rc = hpt_proto_recv(s, NULL, &r, NULL);
            if (rc == 0 && r->req_id == env.req_id) {
                h->replies[r->body_case < 64 ? r->body_case : 0]++;
                h->big_submit_ms = (now_s() - t0) * 1000;
                hpt_proto_free(&r);
                break;
            }
            hpt_proto_free(&r);
        }
    }
    free(spec);
    zmq_close(s);
}

/* o.slow_subs sockets each ask 20 times for the whole event history (and to
 * follow) and never read what comes back; they stay open until the end.
 * Returns the sockets (owned, o.slow_subs entries). */
static void **slow_subscribers(hc_t *h)
{
    void **socks = calloc((size_t)h->o.slow_subs, sizeof *socks);
    if (!socks)
        return NULL;
    for (int i = 0; i < h->o.slow_subs; i++) {
        if (!(socks[i] = dealer_new(h)))
            continue;
        int one = 1;   // a tiny receive queue, like a client that stopped reading
        zmq_setsockopt(socks[i], ZMQ_RCVHWM, &one, sizeof one);
        for (int k = 0; k < 20; k++) {
            Hpt__Subscribe sub = HPT__SUBSCRIBE__INIT;
            sub.level = "debug";
            sub.history = true;
            sub.follow = true;
            hpt_env_t env = HPT__ENVELOPE__INIT;
            env.protocol = HPT__VERSION__PROTOCOL_VERSION;
            env.body_case = HPT__ENVELOPE__BODY_SUBSCRIBE;
            env.subscribe = &sub;
            env.req_id = ++h->req_id;
            send_env(h, socks[i], &env);   // an extra, not counted in --frames
        }
    }
    return socks;
}

/* Phase 1: fake workers that say Hello and fall silent. */
static void fake_workers(hc_t *h)
{
    h->fakes = calloc((size_t)(h->o.hellos > 0 ? h->o.hellos : 1), sizeof *h->fakes);
    if (!h->fakes)
        return;
    for (int i = 0; i < h->o.hellos && h->sent < h->o.frames; i++) {
        void *s = dealer_new(h);
        if (!s) {
            h->send_fail++;
            continue;
        }
        h->fakes[h->n_fakes++] = s;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.protocol = HPT__VERSION__PROTOCOL_VERSION;
        env_store_t st;
        memset(&st, 0, sizeof st);
        make_hello(h, &env, &st, i);
        if (send_env(h, s, &env) == 0) {
            h->sent++;
            h->by_cat[C_HELLO]++;
        }
        if (i % 10 == 0) {
            // A registered peer claiming tasks it was never given.
            cat_t follow[3] = {C_STALE_RESULT, C_STALE_PROGRESS, C_UNREG_HEARTBEAT};
            for (int k = 0; k < 3 && h->sent < h->o.frames; k++) {
                hpt_env_t e2 = HPT__ENVELOPE__INIT;
                e2.protocol = HPT__VERSION__PROTOCOL_VERSION;
                if (k == 0)
                    make_result(h, &e2, &st);
                else if (k == 1)
                    make_progress(h, &e2, &st);
                else
                    make_heartbeat(h, &e2, &st);
                if (send_env(h, s, &e2) == 0) {
                    h->sent++;
                    h->by_cat[follow[k]]++;
                }
            }
        }
    }
    // Count the Welcomes (proof that they registered), without answering anything.
    double end = now_s() + 5.0;
    int welcomed = 0;
    bool *seen = calloc((size_t)(h->n_fakes ? h->n_fakes : 1), sizeof *seen);
    while (seen && welcomed < h->n_fakes && now_s() < end) {
        for (int i = 0; i < h->n_fakes; i++) {
            if (seen[i])
                continue;
            for (;;) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, h->fakes[i], ZMQ_DONTWAIT) < 0) {
                    zmq_msg_close(&m);
                    break;
                }
                hpt_env_t *env = NULL;
                if (hpt_proto_decode(zmq_msg_data(&m), zmq_msg_size(&m), &env, NULL) == 0) {
                    h->replies[env->body_case < 64 ? env->body_case : 0]++;
                    if (env->body_case == HPT__ENVELOPE__BODY_WELCOME && !seen[i]) {
                        seen[i] = true;
                        welcomed++;
                    }
                    hpt_proto_free(&env);
                } else {
                    h->replies_bad++;
                }
                zmq_msg_close(&m);
            }
        }
        sleep_ms(5);
    }
    free(seen);
    h->fakes_welcomed = welcomed;
}

static cat_t pick_cat(hc_t *h)
{
    int total = 0;
    for (int c = 0; c < C__COUNT; c++)
        total += cat_weight[c];
    int x = (int)rnd(h, (uint32_t)total);
    for (int c = 0; c < C__COUNT; c++) {
        if (x < cat_weight[c])
            return (cat_t)c;
        x -= cat_weight[c];
    }
    return C_RANDOM;
}

/* Phase 2: the mix, paced over duration_ms, oversized frames evenly spread. */
static void mix(hc_t *h)
{
    long left = h->o.frames - h->sent;
    if (left <= 0)
        return;
    long n_over = h->o.oversized < left ? h->o.oversized : left;
    long n_mix = left - n_over;
    double t0 = now_s();
    long next_over = n_over ? n_mix / (n_over + 1) : -1, over_done = 0;
    for (long i = 0; i < n_mix; i++) {
        if (over_done < n_over && i == next_over) {
            oversized(h);
            over_done++;
            next_over = n_mix * (over_done + 1) / (n_over + 1);
        }
        attack(h, pick_cat(h));
        if (i % 64 == 0)
            drain_all(h);
        double due = t0 + (double)h->o.duration_ms * 1e-3 * (double)(i + 1) / (double)n_mix;
        double wait = (due - now_s()) * 1000;
        if (wait > 1)
            sleep_ms(wait);
        if (i % 1000 == 999) {
            printf("hostile: %ld/%ld messages sent\n", h->sent, h->o.frames);
            fflush(stdout);
        }
    }
    while (over_done < n_over) {
        oversized(h);
        over_done++;
    }
    sleep_ms(200);
    drain_all(h);
}

// --- main -----------------------------------------------------------------

static int usage(void)
{
    fprintf(stderr,
            "usage: hostile-client --coordinator ADDR [--frames N] [--hellos N] [--sockets N]\n"
            "                      [--oversized N] [--duration-ms MS] [--seed N] "
            "[--dataset NAME]\n"
            "                      [--big-submit BYTES] [--slow-subscribers N] "
            "[--big-heartbeats N]\n");
    return 2;
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
    hc_t h = {.o = {.frames = 10000, .hellos = 1000, .sockets = 8, .oversized = 3,
                    .duration_ms = 5000, .seed = 1, .dataset = "mnist"}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        long x;
        if (strcmp(a, "--coordinator") == 0)
            h.o.addr = v;
        else if (strcmp(a, "--dataset") == 0)
            h.o.dataset = v;
        else if (strcmp(a, "--frames") == 0 && parse_long(v, 1, 100000000, &x) == 0)
            h.o.frames = x;
        else if (strcmp(a, "--hellos") == 0 && parse_long(v, 0, 100000, &x) == 0)
            h.o.hellos = (int)x;
        else if (strcmp(a, "--sockets") == 0 && parse_long(v, 1, MAX_ATTACK_SOCKETS, &x) == 0)
            h.o.sockets = (int)x;
        else if (strcmp(a, "--oversized") == 0 && parse_long(v, 0, 1000, &x) == 0)
            h.o.oversized = (int)x;
        else if (strcmp(a, "--duration-ms") == 0 && parse_long(v, 0, 3600000, &x) == 0)
            h.o.duration_ms = x;
        else if (strcmp(a, "--slow-subscribers") == 0 && parse_long(v, 0, 1000, &x) == 0)
            h.o.slow_subs = (int)x;
        else if (strcmp(a, "--big-heartbeats") == 0 && parse_long(v, 0, 1000, &x) == 0)
            h.o.big_heartbeats = (int)x;
        else if (strcmp(a, "--big-submit") == 0 &&
                 parse_long(v, 0, HPT_PROTO_MAX_MSG - 1024, &x) == 0)
            h.o.big_submit = x;
        else if (strcmp(a, "--seed") == 0 && parse_long(v, 0, 1L << 62, &x) == 0)
            h.o.seed = (uint64_t)x;
        else
            return usage();
    }
    if (!h.o.addr)
        return usage();

    // Each fake worker is a socket with its own connection: raise the fd limit.
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    hpt_rng_seed(&h.rng, h.o.seed);
    int status = 1;
    h.ctx = zmq_ctx_new();
    if (!h.ctx)
        goto done;
    zmq_ctx_set(h.ctx, ZMQ_MAX_SOCKETS, h.o.hellos + MAX_ATTACK_SOCKETS + 64);
    for (int i = 0; i < h.o.sockets; i++)
        if (!(h.atk[i] = dealer_new(&h)))
            goto done;
    double t0 = now_s();
    fake_workers(&h);
    printf("hostile: %d fake workers said Hello, %ld welcomed; mix starts\n", h.n_fakes,
           h.fakes_welcomed);
    fflush(stdout);
    mix(&h);
    printf("hostile: mix done\n");
    fflush(stdout);
    if (h.o.big_submit > 0) {
        big_submit(&h);
        printf("hostile: a %ld-byte Submit was answered after %.0f ms\n", h.o.big_submit,
               h.big_submit_ms);
    }
    if (h.o.big_heartbeats > 0) {
        big_heartbeats(&h);
        printf("hostile: %d Heartbeats of %d KiB sent; a StatusRequest was answered after "
               "%.0f ms\n", h.o.big_heartbeats, HPT_PROTO_MAX_INBOUND >> 10, h.big_hb_status_ms);
    }
    void **slow = NULL;
    if (h.o.slow_subs > 0) {
        slow = slow_subscribers(&h);
        sleep_ms(3000);
        printf("hostile: %d sockets asked for the history 20 times each and read nothing\n",
               h.o.slow_subs);
    }
    void *last = dealer_new(&h);
    bool alive = last && status_ok(&h, last, 5000);
    if (last)
        zmq_close(last);
    double secs = now_s() - t0;

    printf("hostile: messages=%ld frames=%ld seconds=%.2f send_failures=%ld fakes_welcomed=%ld "
           "oversized_dropped=%d/%ld reconnects=%d reconnect_answered=%d final_status=%s",
           h.sent, h.frames, secs, h.send_fail, h.fakes_welcomed, h.oversized_dropped,
           h.by_cat[C_OVERSIZED], h.reconnects, h.reconnect_answered, alive ? "ok" : "none");
    for (int c = 0; c < C__COUNT; c++)
        printf(" sent_%s=%ld", cat_names[c], h.by_cat[c]);
    for (int b = 0; b < 64; b++)
        if (h.replies[b])
            printf(" reply_%s=%ld", b ? hpt_proto_body_name(b) : "undecodable", h.replies[b]);
    printf(" reply_invalid=%ld\n", h.replies_bad);
    status = h.sent == h.o.frames && h.send_fail == 0 && alive &&
                     h.oversized_dropped == h.by_cat[C_OVERSIZED] &&
                     h.reconnect_answered == h.reconnects
                 ? 0
                 : 1;
    if (slow) {
        for (int i = 0; i < h.o.slow_subs; i++)
            if (slow[i])
                zmq_close(slow[i]);
        free(slow);
    }
done:
    for (int i = 0; i < h.n_fakes; i++)
        zmq_close(h.fakes[i]);
    free(h.fakes);
    for (int i = 0; i < MAX_ATTACK_SOCKETS; i++)
        if (h.atk[i])
            zmq_close(h.atk[i]);
    if (h.ctx)
        zmq_ctx_term(h.ctx);
    return status;
}
