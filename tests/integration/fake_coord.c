/*
 * fake_coord.c: a scripted coordinator for tests that drive real
 * hptune-worker processes message by message (test_model_cache.py), where the
 * real coordinator's scheduling would be in the way.
 *
 *   fake-coord ENDPOINT
 *
 * Binds a ROUTER on ENDPOINT, reads one command per line on stdin and answers
 * on stdout with JSON lines: one line per message received while a command
 * runs ({"ev": "hello" | "progress" | "result" | "goodbye" | "other", ...}),
 * then {"ev": "ok"} or {"ev": "error", "msg": "..."} ending the command.
 * Doubles are printed with %.17g and also as their bit pattern ("*_bits",
 * hex), so a test can compare them bit for bit.
 *
 * Commands:
 *   hello NAME MS          wait up to MS ms for a Hello from the worker
 *                          called NAME (or use the one seen already); answer
 *                          Welcome {heartbeat_ms 100, liveness 100}
 *   assign NAME k=v ...    send an Assign to NAME.  Keys: task attempt trial
 *                          sweep fold folds repeat cv_seed stratified shuffle
 *                          refit score_train dataset fingerprint (default:
 *                          the one NAME's Hello gave for the dataset)
 *                          test_objective, and the hparams layers units
 *                          (comma list) activation init optimizer lr
 *                          momentum nesterov dropout input_dropout
 *                          weight_constraint weight_decay batch_size epochs
 *                          seed metric
 *   cancel NAME TASK ATTEMPT
 *   wait result TASK MS    until the Result of TASK arrived (now or earlier)
 *   wait progress TASK EPOCH MS
 *                          until a Progress of TASK with epoch >= EPOCH
 *   quit
 *
 * Worker heartbeats are answered with heartbeats while a command runs; the
 * long liveness in Welcome covers the gaps between commands.  Exit status 0,
 * or 1 on a setup error.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "params.h"
#include "proto_io.h"

#define MAX_WORKERS 16
#define MAX_SEEN 4096

typedef struct worker {
    char name[256];
    hpt_peer_id_t id;
    int n_ds;
    char ds_name[8][256];
    char ds_fp[8][65];
} worker_t;

/* What arrived so far, so that a wait for something already received
 * returns at once. */
typedef struct seen {
    int kind;        // HPT__ENVELOPE__BODY_RESULT or _PROGRESS
    uint64_t task;
    uint32_t epoch;  // progress
} seen_t;

static void *sock;
static worker_t workers[MAX_WORKERS];
static int n_workers;
static seen_t seen[MAX_SEEN];
static int n_seen;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static uint64_t bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* A string as a JSON string body (quotes and control characters escaped). */
static void put_json_str(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void put_double(const char *key, double v)
{
    // JSON has no NaN: null, with the bits alongside.
    if (isfinite(v))
        printf(", \"%s\": %.17g", key, v);
    else
        printf(", \"%s\": null", key);
    printf(", \"%s_bits\": \"%016" PRIx64 "\"", key, bits(v));
}

static void reply_ok(void)
{
    puts("{\"ev\": \"ok\"}");
    fflush(stdout);
}

static void reply_error(const char *msg)
{
    printf("{\"ev\": \"error\", \"msg\": ");
    put_json_str(msg);
    puts("}");
    fflush(stdout);
}

static worker_t *worker_by_name(const char *name)
{
    for (int i = 0; i < n_workers; i++)
        if (strcmp(workers[i].name, name) == 0)
            return &workers[i];
    return NULL;
}

static int send_to(const hpt_peer_id_t *id, hpt_env_t *env)
{
    return hpt_proto_send(sock, id, env, 0);
}

static void remember(int kind, uint64_t task, uint32_t epoch)
{
    if (n_seen < MAX_SEEN)
        seen[n_seen++] = (seen_t){kind, task, epoch};
}

static bool was_seen(int kind, uint64_t task, uint32_t epoch)
{
    for (int i = 0; i < n_seen; i++)
        if (seen[i].kind == kind && seen[i].task == task && seen[i].epoch >= epoch)
            return true;
    return false;
}

/* Handle one received message: record and print it, answer heartbeats. */
static void handle(const hpt_peer_id_t *from, hpt_env_t *env)
{
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_HELLO: {
        const Hpt__Hello *h = env->hello;
        worker_t *w = worker_by_name(h->name);
        if (!w && n_workers < MAX_WORKERS)
            w = &workers[n_workers++];
        if (!w)
            break;
        *w = (worker_t){.id = *from};
        snprintf(w->name, sizeof w->name, "%s", h->name);
        for (size_t i = 0; i < h->n_datasets && i < 8; i++) {
            snprintf(w->ds_name[i], sizeof w->ds_name[i], "%s", h->datasets[i]->name);
            snprintf(w->ds_fp[i], sizeof w->ds_fp[i], "%s", h->datasets[i]->fingerprint);
            w->n_ds++;
        }
        Hpt__Welcome wm = HPT__WELCOME__INIT;
        wm.heartbeat_ms = 100;
        wm.liveness = 100;
        hpt_env_t out = HPT__ENVELOPE__INIT;
        out.body_case = HPT__ENVELOPE__BODY_WELCOME;
        out.welcome = &wm;
        send_to(from, &out);
        printf("{\"ev\": \"hello\", \"name\": ");
        put_json_str(h->name);
        puts("}");
        break;
    }
    case HPT__ENVELOPE__BODY_HEARTBEAT: {
        Hpt__Heartbeat hb = HPT__HEARTBEAT__INIT;
        hpt_env_t out = HPT__ENVELOPE__INIT;
        out.body_case = HPT__ENVELOPE__BODY_HEARTBEAT;
        out.heartbeat = &hb;
        send_to(from, &out);
        return;  // not printed: too many
    }
    case HPT__ENVELOPE__BODY_PROGRESS: {
        const Hpt__Progress *p = env->progress;
        remember(HPT__ENVELOPE__BODY_PROGRESS, p->task, p->epoch);
        printf("{\"ev\": \"progress\", \"task\": %" PRIu64 ", \"attempt\": %u, \"epoch\": %u, "
               "\"epochs\": %u",
               p->task, p->attempt, p->epoch, p->epochs);
        put_double("val_score", p->val_score);
        put_double("train_loss", p->train_loss);
        puts("}");
        break;
    }
    case HPT__ENVELOPE__BODY_RESULT: {
        const Hpt__Result *r = env->result;
        remember(HPT__ENVELOPE__BODY_RESULT, r->task, 0);
        printf("{\"ev\": \"result\", \"task\": %" PRIu64 ", \"attempt\": %u, \"ok\": %s, "
               "\"error\": ",
               r->task, r->attempt, r->ok ? "true" : "false");
        put_json_str(r->error);
        printf(", \"epochs\": %u, \"resumed_from\": %u, \"diverged\": %s, \"refused\": %s, "
               "\"n_eval\": %u",
               r->epochs, r->resumed_from, r->diverged ? "true" : "false",
               r->refused ? "true" : "false", r->n_eval);
        put_double("score", r->score);
        put_double("accuracy", r->accuracy);
        put_double("log_loss", r->log_loss);
        put_double("f1_macro", r->f1_macro);
        put_double("train_score", r->train_score);
        put_double("fit_seconds", r->fit_seconds);
        puts("}");
        break;
    }
    case HPT__ENVELOPE__BODY_GOODBYE:
        puts("{\"ev\": \"goodbye\"}");
        break;
    default:
        printf("{\"ev\": \"other\", \"body\": \"%s\"}\n", hpt_proto_body_name(env->body_case));
        break;
    }
    fflush(stdout);
}

/* Receive and handle messages for up to ms milliseconds, or until done()
 * says so.  Returns true when done() did. */
static bool pump(double ms, bool (*done)(const void *), const void *arg)
{
    double end = now_ms() + ms;
    for (;;) {
        if (done && done(arg))
            return true;
        double left = end - now_ms();
        if (left <= 0)
            return false;
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, (long)(left < 50 ? left : 50) + 1) < 0 && zmq_errno() != EINTR)
            return false;
        for (;;) {
            hpt_peer_id_t from;
            hpt_env_t *env = NULL;
            hpt_err err = {0};
            int rc = hpt_proto_recv(sock, &from, &env, &err);
            if (rc == -EAGAIN)
                break;
            if (rc < 0) {
                printf("{\"ev\": \"bad\", \"msg\": ");
                put_json_str(err.msg);
                puts("}");
                fflush(stdout);
                continue;
            }
            handle(&from, env);
            hpt_proto_free(&env);
        }
    }
}

// --- commands ------------------------------------------------------------

static bool hello_done(const void *arg)
{
    return worker_by_name(arg) != NULL;
}

typedef struct wait_arg {
    int kind;
    uint64_t task;
    uint32_t epoch;
} wait_arg_t;

static bool wait_done(const void *arg)
{
    const wait_arg_t *w = arg;
    return was_seen(w->kind, w->task, w->epoch);
}

static bool parse_bool(const char *v)
{
    return strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0;
}

/* "assign NAME k=v ...": tok points at NAME. */
static void cmd_assign(char *args)
{
    char *save = NULL;
    char *name = strtok_r(args, " \t", &save);
    worker_t *w = name ? worker_by_name(name) : NULL;
    if (!w) {
        reply_error("assign: unknown worker");
        return;
    }
    Hpt__Assign a = HPT__ASSIGN__INIT;
    a.attempt = 1;
    a.folds = 5;
    a.dataset = (char *)"mnist";
    char dataset[256] = "mnist", fingerprint[65] = "", objective[256] = "";
    bool fp_given = false;
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.learning_rate = 0.001;
    for (char *kv = strtok_r(NULL, " \t", &save); kv; kv = strtok_r(NULL, " \t", &save)) {
        char *v = strchr(kv, '=');
        if (!v) {
            reply_error("assign: expected key=value");
            return;
        }
        *v++ = '\0';
        unsigned long long u = strtoull(v, NULL, 10);
        double d = strtod(v, NULL);
        if (!strcmp(kv, "task")) a.task = u;
        else if (!strcmp(kv, "attempt")) a.attempt = (uint32_t)u;
        else if (!strcmp(kv, "trial")) a.trial = u;
        else if (!strcmp(kv, "sweep")) a.sweep = u;
        else if (!strcmp(kv, "fold")) a.fold = (uint32_t)u;
        else if (!strcmp(kv, "folds")) a.folds = (uint32_t)u;
        else if (!strcmp(kv, "repeat")) a.repeat = (uint32_t)u;
        else if (!strcmp(kv, "cv_seed")) a.cv_seed = u;
        else if (!strcmp(kv, "stratified")) a.stratified = parse_bool(v);
        else if (!strcmp(kv, "shuffle")) a.shuffle = parse_bool(v);
        else if (!strcmp(kv, "refit")) a.refit = parse_bool(v);
        else if (!strcmp(kv, "score_train")) a.score_train = parse_bool(v);
        else if (!strcmp(kv, "dataset")) snprintf(dataset, sizeof dataset, "%s", v);
        else if (!strcmp(kv, "fingerprint")) {
            snprintf(fingerprint, sizeof fingerprint, "%s", v);
            fp_given = true;
        }
        else if (!strcmp(kv, "test_objective")) snprintf(objective, sizeof objective, "%s", v);
        else if (!strcmp(kv, "layers")) hp.layers = (int)u;
        else if (!strcmp(kv, "units")) {
            int l = 0;
            for (char *p = v; *p && l < HPT_MAX_LAYERS; l++) {
                hp.units[l] = (int)strtol(p, &p, 10);
                if (*p == ',')
                    p++;
            }
        }
        else if (!strcmp(kv, "activation")) hp.activation = (hpt_act_t)hpt_act_parse(v);
        else if (!strcmp(kv, "init")) hp.init_mode = (hpt_init_t)hpt_init_parse(v);
        else if (!strcmp(kv, "optimizer")) hp.optimizer = (hpt_opt_t)hpt_opt_parse(v);
        else if (!strcmp(kv, "lr")) hp.learning_rate = d;
        else if (!strcmp(kv, "momentum")) hp.momentum = d;
        else if (!strcmp(kv, "nesterov")) hp.nesterov = parse_bool(v);
        else if (!strcmp(kv, "dropout")) hp.dropout = d;
        else if (!strcmp(kv, "input_dropout")) hp.input_dropout = d;
        else if (!strcmp(kv, "weight_constraint")) hp.weight_constraint = d;
        else if (!strcmp(kv, "weight_decay")) hp.weight_decay = d;
        else if (!strcmp(kv, "batch_size")) hp.batch_size = (int)u;
        else if (!strcmp(kv, "epochs")) hp.epochs = (int)u;
        else if (!strcmp(kv, "seed")) hp.seed = u;
        else if (!strcmp(kv, "metric")) hp.metric = (hpt_metric_t)hpt_metric_parse(v);
        else {
            reply_error("assign: unknown key");
            return;
        }
    }
    hpt_err err = {0};
    if (hpt_hparams_validate(&hp, &err) < 0) {
        reply_error(err.msg);
        return;
    }
    if (!fp_given)
        for (int i = 0; i < w->n_ds; i++)
            if (strcmp(w->ds_name[i], dataset) == 0)
                snprintf(fingerprint, sizeof fingerprint, "%s", w->ds_fp[i]);
    Hpt__HParams wire = HPT__HPARAMS__INIT;
    uint32_t units[HPT_MAX_LAYERS];
    hpt_proto_hparams_to_wire(&hp, &wire, units);
    a.dataset = dataset;
    a.fingerprint = fingerprint;
    a.test_objective = objective;
    a.hparams = &wire;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_ASSIGN;
    env.assign = &a;
    int rc = send_to(&w->id, &env);
    if (rc < 0) {
        reply_error(hpt_strerror(rc));
        return;
    }
    reply_ok();
}

static void cmd_cancel(char *args)
{
    char name[256];
    unsigned long long task;
    unsigned attempt;
    if (sscanf(args, "%255s %llu %u", name, &task, &attempt) != 3) {
        reply_error("cancel NAME TASK ATTEMPT");
        return;
    }
    worker_t *w = worker_by_name(name);
    if (!w) {
        reply_error("cancel: unknown worker");
        return;
    }
    Hpt__Cancel c = HPT__CANCEL__INIT;
    c.task = task;
    c.attempt = attempt;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_CANCEL;
    env.cancel = &c;
    int rc = send_to(&w->id, &env);
    if (rc < 0)
        reply_error(hpt_strerror(rc));
    else
        reply_ok();
}

static void cmd_wait(char *args)
{
    char kind[32];
    unsigned long long task;
    double ms = 0;
    unsigned epoch = 0;
    wait_arg_t wa = {0};
    if (sscanf(args, "%31s", kind) != 1) {
        reply_error("wait: what?");
        return;
    }
    if (strcmp(kind, "result") == 0 && sscanf(args, "%*s %llu %lf", &task, &ms) == 2) {
        wa = (wait_arg_t){HPT__ENVELOPE__BODY_RESULT, task, 0};
    } else if (strcmp(kind, "progress") == 0 &&
               sscanf(args, "%*s %llu %u %lf", &task, &epoch, &ms) == 3) {
        wa = (wait_arg_t){HPT__ENVELOPE__BODY_PROGRESS, task, epoch};
    } else {
        reply_error("wait result TASK MS | wait progress TASK EPOCH MS");
        return;
    }
    if (pump(ms, wait_done, &wa))
        reply_ok();
    else
        reply_error("timed out");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: fake-coord ENDPOINT\n", stderr);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(sock, argv[1]) != 0) {
        fprintf(stderr, "fake-coord: bind %s: %s\n", argv[1], zmq_strerror(zmq_errno()));
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 1;
    }
    puts("{\"ev\": \"listening\"}");
    fflush(stdout);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        char *args = sp ? sp + 1 : line + strlen(line);
        if (sp)
            *sp = '\0';
        if (strcmp(line, "quit") == 0) {
            reply_ok();
            break;
        } else if (strcmp(line, "hello") == 0) {
            char name[256];
            double ms;
            if (sscanf(args, "%255s %lf", name, &ms) != 2)
                reply_error("hello NAME MS");
            else if (pump(ms, hello_done, name))
                reply_ok();
            else
                reply_error("no hello");
        } else if (strcmp(line, "assign") == 0) {
            cmd_assign(args);
        } else if (strcmp(line, "cancel") == 0) {
            cmd_cancel(args);
        } else if (strcmp(line, "wait") == 0) {
            cmd_wait(args);
        } else {
            reply_error("unknown command");
        }
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
