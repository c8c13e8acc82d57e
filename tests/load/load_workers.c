/*
 * load_workers.c: one process simulating many hptune workers, for
 * tests/load/test_load.py.
 *
 * Each simulated worker is its own DEALER socket speaking the real protocol
 * (common/proto_io.h): Hello (the dataset with fingerprint "dry-run", which
 * the coordinator matches to any copy), heartbeats at the interval the
 * Welcome gives, carrying the tasks it runs; every Assign is answered after
 * a random 0..5 ms with a Result whose score is a pure function of the task
 * (the formula of `hptune-worker --dry-run`), Cancel drops the task,
 * Disconnect makes it say Hello again, and a coordinator silent for
 * liveness intervals makes it reconnect on a new socket (Paranoid Pirate).
 *
 * Random deaths: every --churn-ms a random --churn-pct of the live workers
 * close their sockets without Goodbye (their tasks die with them); after
 * --respawn-ms as many new workers, with new ids, take their place.
 *
 * The simulation also checks the coordinator: an Assign beyond the worker's
 * free slots (credit), an Assign for a task it already runs, or a message
 * that fails validation is counted as a violation.
 *
 * Runs until SIGTERM/SIGINT or --seconds, then prints one line
 * "load-workers: key=value ...".  Exit status: 0, or 1 when the coordinator
 * violated the protocol; 2 for a bad flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "proto_io.h"
#include "rng.h"

#define MAX_SLOTS 64

typedef struct job {
    uint64_t task;
    uint32_t attempt;
    uint32_t epochs;
    double score;
    double due;          // monotonic seconds when its Result goes out
    double started;
} job_t;

typedef struct sim {
    void *sock;          // NULL while dead
    char id[64];
    int slots;
    job_t jobs[MAX_SLOTS];
    int n_jobs;
    double next_hb;      // monotonic seconds
    double last_rx;
    int hb_ms, liveness;
    bool welcomed;
    bool carried;        // holds tasks from before a reconnect
    uint8_t secret[32];  // the session secret its Welcome gave this id (sent in every Hello)
    bool has_secret;
    double respawn_at;   // dead: when a new worker takes this place (0 = never)
} sim_t;

typedef struct opts {
    const char *addr;
    const char *dataset;
    int workers, slots;
    int churn_ms, churn_pct, respawn_ms;
    double seconds;
    uint64_t seed;
} opts_t;

typedef struct stats {
    uint64_t assigns, results, cancels, disconnects, rejects, welcomes, heartbeats_rx;
    uint64_t heartbeats_tx, hellos, deaths, respawns, reconnects, cancelled_running;
    uint64_t over_credit, duplicate_assign, invalid_rx, send_fail;
    uint64_t refused_after_reconnect, dropped_on_disconnect;
    int max_busy;
} stats_t;

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

// --- the fake training result ---------------------------------------------

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The score `hptune-worker --dry-run` gives (worker/wrk_trainer.c): FNV-1a
 * over the packed HParams, mixed with the split. */
static double fake_score(const Hpt__Assign *a)
{
    uint64_t h = 0xcbf29ce484222325ull;
    if (a->hparams) {
        uint8_t small[1024];
        size_t len = hpt__hparams__get_packed_size(a->hparams);
        uint8_t *buf = len <= sizeof small ? small : malloc(len);
        if (buf) {
            hpt__hparams__pack(a->hparams, buf);
            for (size_t i = 0; i < len; i++) {
                h ^= buf[i];
                h *= 0x100000001b3ull;
            }
            if (buf != small)
                free(buf);
        }
    }
    uint64_t fold = a->refit ? 0 : a->fold, repeat = a->refit ? 0 : a->repeat;
    h = splitmix64(h ^ fold);
    h = splitmix64(h ^ repeat);
    h = splitmix64(h ^ (uint64_t)a->refit);
    h = splitmix64(h ^ a->cv_seed);
    return 0.5 + 0.49 * ((double)(h >> 11) * 0x1.0p-53);
}

// --- sockets --------------------------------------------------------------

typedef struct lw {
    opts_t o;
    void *ctx;
    sim_t *sims;
    hpt_rng_t rng;
    stats_t st;
    uint64_t next_id;
    int pid;
} lw_t;

static int send_env(lw_t *l, sim_t *s, hpt_env_t *env)
{
    int rc = hpt_proto_send(s->sock, NULL, env, ZMQ_DONTWAIT);
    if (rc < 0)
        l->st.send_fail++;
    return rc;
}

static void send_hello(lw_t *l, sim_t *s)
{
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    Hpt__DatasetInfo *dsp = &ds;
    ds.name = (char *)l->o.dataset;
    ds.fingerprint = "dry-run";
    Hpt__Hello h = HPT__HELLO__INIT;
    h.worker_id = s->id;
    h.name = "load";
    h.host = "load";
    h.slots = (uint32_t)s->slots;
    h.version = "load-workers";
    h.n_datasets = 1;
    h.datasets = &dsp;
    if (s->has_secret) {
        h.session_secret.data = s->secret;
        h.session_secret.len = sizeof s->secret;
    }
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HELLO;
    env.hello = &h;
    if (send_env(l, s, &env) == 0)
        l->st.hellos++;
    s->welcomed = false;
}

static int open_socket(lw_t *l, sim_t *s)
{
    s->sock = zmq_socket(l->ctx, ZMQ_DEALER);
    if (!s->sock)
        return -1;
    int zero = 0;
    int64_t maxmsg = HPT_PROTO_MAX_MSG;
    zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_connect(s->sock, l->o.addr) != 0) {
        zmq_close(s->sock);
        s->sock = NULL;
        return -1;
    }
    double now = now_s();
    s->last_rx = now;
    s->next_hb = now + s->hb_ms * 1e-3;
    send_hello(l, s);
    return 0;
}

/* A new worker process: new id, no tasks. */
static int sim_start(lw_t *l, sim_t *s)
{
    s->slots = l->o.slots;
    s->n_jobs = 0;
    s->hb_ms = 1000;
    s->liveness = 3;
    s->respawn_at = 0;
    s->carried = false;
    s->has_secret = false;
    snprintf(s->id, sizeof s->id, "load:%d:%" PRIu64, l->pid, ++l->next_id);
    return open_socket(l, s);
}

/* Death without Goodbye: the socket goes, and the running tasks with it. */
static void sim_kill(lw_t *l, sim_t *s, double respawn_at)
{
    zmq_close(s->sock);
    s->sock = NULL;
    s->n_jobs = 0;
    s->respawn_at = respawn_at;
    l->st.deaths++;
}

// --- protocol -------------------------------------------------------------

static void send_heartbeat(lw_t *l, sim_t *s)
{
    Hpt__TaskProgress tp[MAX_SLOTS];
    Hpt__TaskProgress *tpp[MAX_SLOTS];
    for (int i = 0; i < s->n_jobs; i++) {
        hpt__task_progress__init(&tp[i]);
        tp[i].task = s->jobs[i].task;
        tp[i].attempt = s->jobs[i].attempt;
        tpp[i] = &tp[i];
    }
    Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
    hb.n_running = (size_t)s->n_jobs;
    hb.running = tpp;
    hb.free_slots = (uint32_t)(s->slots - s->n_jobs);
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
    env.heartbeat = &hb;
    if (send_env(l, s, &env) == 0)
        l->st.heartbeats_tx++;
}

static void send_result(lw_t *l, sim_t *s, const job_t *j, double now)
{
    Hpt__Result r = HPT__RESULT__INIT;
    r.task = j->task;
    r.attempt = j->attempt;
    r.ok = true;
    r.error = "";
    r.score = r.accuracy = r.f1_macro = j->score;
    r.log_loss = 1.0 - j->score;
    r.train_score = NAN;
    r.fit_seconds = now - j->started;
    r.epochs = j->epochs;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = &r;
    if (send_env(l, s, &env) == 0)
        l->st.results++;
}

/* A refusal, as hptune-worker sends when it has no free slot: the
 * coordinator requeues the task without counting a failed attempt. */
static void send_refusal(lw_t *l, sim_t *s, const Hpt__Assign *a)
{
    Hpt__Result r = HPT__RESULT__INIT;
    r.task = a->task;
    r.attempt = a->attempt;
    r.ok = false;
    r.refused = true;
    r.error = "no free slot";
    r.score = r.accuracy = r.log_loss = r.f1_macro = r.train_score = NAN;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_RESULT;
    env.result = &r;
    send_env(l, s, &env);
}

static void on_assign(lw_t *l, sim_t *s, const Hpt__Assign *a, double now)
{
    l->st.assigns++;
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i].task == a->task && s->jobs[i].attempt == a->attempt) {
            l->st.duplicate_assign++;
            return;
        }
    if (s->n_jobs >= s->slots) {
        /* After a reconnect the coordinator may have forgotten the tasks
         * this worker still runs (it expired it); the refusal is the
         * protocol's answer.  Otherwise the credit rule was broken. */
        if (s->carried)
            l->st.refused_after_reconnect++;
        else
            l->st.over_credit++;
        send_refusal(l, s, a);
        return;
    }
    job_t *j = &s->jobs[s->n_jobs++];
    j->task = a->task;
    j->attempt = a->attempt;
    j->epochs = a->hparams ? a->hparams->epochs : 0;
    j->score = fake_score(a);
    j->started = now;
    j->due = now + hpt_rng_uniform(&l->rng) * 5e-3;
}

static void on_cancel(lw_t *l, sim_t *s, const Hpt__Cancel *m)
{
    l->st.cancels++;
    for (int i = 0; i < s->n_jobs; i++)
        if (s->jobs[i].task == m->task && s->jobs[i].attempt == m->attempt) {
            s->jobs[i] = s->jobs[--s->n_jobs];
            l->st.cancelled_running++;
            return;
        }
}

static void on_readable(lw_t *l, sim_t *s, double now)
{
    for (int k = 0; k < 1000 && s->sock; k++) {
        hpt_env_t *env = NULL;
        hpt_err err = {0};
        int rc = hpt_proto_recv(s->sock, NULL, &env, &err);
        if (rc == -EAGAIN)
            return;
        if (rc < 0) {
            l->st.invalid_rx++;
            fprintf(stderr, "load-workers: %s: invalid message from the coordinator: %s\n",
                    s->id, err.msg);
            continue;
        }
        s->last_rx = now;
        switch (env->body_case) {
        case HPT__ENVELOPE__BODY_WELCOME:
            l->st.welcomes++;
            s->welcomed = true;
            s->hb_ms = (int)env->welcome->heartbeat_ms;
            s->liveness = (int)env->welcome->liveness;
            if (env->welcome->session_secret.len == sizeof s->secret) {
                memcpy(s->secret, env->welcome->session_secret.data, sizeof s->secret);
                s->has_secret = true;
            }
            break;
        case HPT__ENVELOPE__BODY_HEARTBEAT:
            l->st.heartbeats_rx++;
            break;
        case HPT__ENVELOPE__BODY_ASSIGN:
            on_assign(l, s, env->assign, now);
            break;
        case HPT__ENVELOPE__BODY_CANCEL:
            on_cancel(l, s, env->cancel);
            break;
        case HPT__ENVELOPE__BODY_DISCONNECT:
            /* The coordinator does not know this connection (it forgot the
             * worker, or the connection is new): drop the tasks, whose
             * results may be dropped as stale; a lease it still holds is
             * requeued as lost.  Hello again, under a new id when it
             * refused this one (DISCONNECT_ID_REFUSED, as hptune-worker). */
            l->st.disconnects++;
            l->st.dropped_on_disconnect += (uint64_t)s->n_jobs;
            s->n_jobs = 0;
            s->carried = false;
            if (env->disconnect->code == HPT__DISCONNECT_CODE__DISCONNECT_ID_REFUSED) {
                snprintf(s->id, sizeof s->id, "load:%d:%" PRIu64, l->pid, ++l->next_id);
                s->has_secret = false;
            }
            send_hello(l, s);
            break;
        case HPT__ENVELOPE__BODY_REJECT:
            l->st.rejects++;
            fprintf(stderr, "load-workers: %s: rejected: %s\n", s->id, env->reject->reason);
            sim_kill(l, s, 0);
            break;
        default:
            l->st.invalid_rx++;
            break;
        }
        hpt_proto_free(&env);
    }
}

/* Results that are due, heartbeats, reconnects after silence; returns the
 * earliest time something is due next. */
static double tick(lw_t *l, sim_t *s, double now)
{
    double next = now + 0.05;
    if (!s->sock) {
        if (s->respawn_at > 0 && now >= s->respawn_at && !stop_flag) {
            if (sim_start(l, s) == 0)
                l->st.respawns++;
        } else if (s->respawn_at > 0 && s->respawn_at < next) {
            next = s->respawn_at;
        }
        return next;
    }
    for (int i = 0; i < s->n_jobs;) {
        if (s->jobs[i].due <= now) {
            send_result(l, s, &s->jobs[i], now);
            s->jobs[i] = s->jobs[--s->n_jobs];
            if (s->n_jobs == 0)
                s->carried = false;
        } else {
            if (s->jobs[i].due < next)
                next = s->jobs[i].due;
            i++;
        }
    }
    if (now >= s->next_hb) {
        send_heartbeat(l, s);
        s->next_hb = now + s->hb_ms * 1e-3;
    }
    if (s->next_hb < next)
        next = s->next_hb;
    if (now - s->last_rx > s->hb_ms * 1e-3 * s->liveness) {
        // The coordinator went silent: new socket, Hello again, same id (and secret).
        zmq_close(s->sock);
        s->sock = NULL;
        s->carried = s->n_jobs > 0;
        open_socket(l, s);
        l->st.reconnects++;
    }
    return next;
}

/* Kill churn_pct % of the live workers, to come back after respawn_ms. */
static void churn(lw_t *l, double now)
{
    int live = 0;
    for (int i = 0; i < l->o.workers; i++)
        live += l->sims[i].sock != NULL;
    int kill = live * l->o.churn_pct / 100;
    for (int k = 0; k < kill; k++) {
        int i = (int)hpt_rng_below(&l->rng, (uint32_t)l->o.workers);
        if (l->sims[i].sock)
            sim_kill(l, &l->sims[i], now + l->o.respawn_ms * 1e-3);
    }
}

// --- main -----------------------------------------------------------------

static int usage(void)
{
    fprintf(stderr,
            "usage: load-workers --coordinator ADDR [--workers N] [--slots N] [--dataset NAME]\n"
            "                    [--churn-ms MS] [--churn-pct P] [--respawn-ms MS] "
            "[--seconds S] [--seed N]\n");
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
    lw_t l = {.o = {.dataset = "mnist", .workers = 200, .slots = 1, .churn_ms = 3000,
                    .churn_pct = 5, .respawn_ms = 1000, .seconds = 3600, .seed = 1}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            return usage();
        const char *v = argv[++i];
        long x;
        if (strcmp(a, "--coordinator") == 0)
            l.o.addr = v;
        else if (strcmp(a, "--dataset") == 0)
            l.o.dataset = v;
        else if (strcmp(a, "--workers") == 0 && parse_long(v, 1, 10000, &x) == 0)
            l.o.workers = (int)x;
        else if (strcmp(a, "--slots") == 0 && parse_long(v, 1, MAX_SLOTS, &x) == 0)
            l.o.slots = (int)x;
        else if (strcmp(a, "--churn-ms") == 0 && parse_long(v, 0, 3600000, &x) == 0)
            l.o.churn_ms = (int)x;
        else if (strcmp(a, "--churn-pct") == 0 && parse_long(v, 0, 100, &x) == 0)
            l.o.churn_pct = (int)x;
        else if (strcmp(a, "--respawn-ms") == 0 && parse_long(v, 0, 3600000, &x) == 0)
            l.o.respawn_ms = (int)x;
        else if (strcmp(a, "--seconds") == 0 && parse_long(v, 1, 86400, &x) == 0)
            l.o.seconds = (double)x;
        else if (strcmp(a, "--seed") == 0 && parse_long(v, 0, 1L << 62, &x) == 0)
            l.o.seed = (uint64_t)x;
        else
            return usage();
    }
    if (!l.o.addr)
        return usage();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    hpt_rng_seed(&l.rng, l.o.seed);
    l.pid = (int)getpid();
    int status = 1;
    zmq_pollitem_t *items = calloc((size_t)l.o.workers, sizeof *items);
    sim_t **owner = calloc((size_t)l.o.workers, sizeof *owner);
    l.sims = calloc((size_t)l.o.workers, sizeof *l.sims);
    l.ctx = zmq_ctx_new();
    if (!items || !owner || !l.sims || !l.ctx)
        goto done;
    zmq_ctx_set(l.ctx, ZMQ_MAX_SOCKETS, 2 * l.o.workers + 64);
    for (int i = 0; i < l.o.workers; i++)
        if (sim_start(&l, &l.sims[i]) < 0)
            goto done;
    double t0 = now_s(), next_churn = t0 + l.o.churn_ms * 1e-3;
    double next_report = t0 + 5;
    while (!stop_flag && now_s() - t0 < l.o.seconds) {
        int n = 0;
        for (int i = 0; i < l.o.workers; i++)
            if (l.sims[i].sock) {
                items[n] = (zmq_pollitem_t){.socket = l.sims[i].sock, .events = ZMQ_POLLIN};
                owner[n++] = &l.sims[i];
            }
        double now = now_s(), next = now + 0.05;
        for (int i = 0; i < l.o.workers; i++) {
            double d = tick(&l, &l.sims[i], now);
            if (d < next)
                next = d;
        }
        int busy = 0;
        for (int i = 0; i < l.o.workers; i++)
            busy += l.sims[i].n_jobs;
        if (busy > l.st.max_busy)
            l.st.max_busy = busy;
        if (l.o.churn_ms > 0 && l.o.churn_pct > 0 && now >= next_churn) {
            churn(&l, now);
            next_churn = now + l.o.churn_ms * 1e-3;
        }
        if (now >= next_report) {
            printf("load-workers: %.0f s: results=%" PRIu64 " deaths=%" PRIu64 " busy=%d\n",
                   now - t0, l.st.results, l.st.deaths, busy);
            fflush(stdout);
            next_report = now + 5;
        }
        // Sockets rebuilt above may have been closed by tick (kill, reconnect).
        int m = 0;
        for (int i = 0; i < n; i++)
            if (owner[i]->sock == items[i].socket) {
                items[m] = items[i];
                owner[m++] = owner[i];
            }
        long wait_ms = (long)((next - now_s()) * 1000);
        if (wait_ms < 0)
            wait_ms = 0;
        if (zmq_poll(items, m, wait_ms) < 0 && zmq_errno() != EINTR)
            break;
        now = now_s();
        for (int i = 0; i < m; i++)
            if (items[i].revents & ZMQ_POLLIN)
                on_readable(&l, owner[i], now);
    }
    status = l.st.over_credit || l.st.duplicate_assign || l.st.invalid_rx ? 1 : 0;
    printf("load-workers: workers=%d slots=%d seconds=%.1f assigns=%" PRIu64 " results=%" PRIu64
           " cancels=%" PRIu64 " cancelled_running=%" PRIu64 " welcomes=%" PRIu64
           " hellos=%" PRIu64 " disconnects=%" PRIu64 " rejects=%" PRIu64
           " heartbeats_tx=%" PRIu64 " heartbeats_rx=%" PRIu64 " deaths=%" PRIu64
           " respawns=%" PRIu64 " reconnects=%" PRIu64 " max_busy=%d over_credit=%" PRIu64
           " duplicate_assign=%" PRIu64 " invalid_rx=%" PRIu64 " send_fail=%" PRIu64
           " refused_after_reconnect=%" PRIu64 " dropped_on_disconnect=%" PRIu64 "\n",
           l.o.workers, l.o.slots, now_s() - t0, l.st.assigns, l.st.results, l.st.cancels,
           l.st.cancelled_running, l.st.welcomes, l.st.hellos, l.st.disconnects, l.st.rejects,
           l.st.heartbeats_tx, l.st.heartbeats_rx, l.st.deaths, l.st.respawns, l.st.reconnects,
           l.st.max_busy, l.st.over_credit, l.st.duplicate_assign, l.st.invalid_rx,
           l.st.send_fail, l.st.refused_after_reconnect, l.st.dropped_on_disconnect);
done:
    if (l.sims)
        for (int i = 0; i < l.o.workers; i++)
            if (l.sims[i].sock)
                zmq_close(l.sims[i].sock);
    free(l.sims);
    free(owner);
    free(items);
    if (l.ctx)
        zmq_ctx_term(l.ctx);
    return status;
}
