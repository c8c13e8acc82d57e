/*
 * cli_logs.c: `hptune logs [-f] [--level L] [--sweep ID] [--worker W] [--format F]`:
 * print the coordinator's recent events, and with -f keep printing new ones.
 *
 * Protocol (coord_clients.c): Subscribe{history=true} makes the coordinator
 * send the matching events of its ring, then HistoryEnd (which echoes our
 * req_id), then, with follow=true, live events for as long as we renew at
 * least every 10 s.  We renew every 3 s by re-sending Subscribe with
 * history=false, which the coordinator answers with nothing; it also
 * re-creates the subscription after a coordinator restart.  The unreachable
 * timeout applies only until HistoryEnd; while following, a silent
 * coordinator is simply waited for.  Ctrl-C sends Unsubscribe and exits 0.
 *
 * Each event prints as one logfmt line in the coordinator's own format
 * (common/log.c): ts=ISO-8601-UTC-with-ms level= component= msg= fields.
 * With --format json it prints as one JSON object per line (JSON Lines) with
 * a fixed set of keys, the schema in print_help below and docs/cli.md:
 * scripts read that instead of parsing the text, which is for people.  The
 * event's `type` is the stable name of coordinator/core (event_defs in
 * core/outbox.c); it is not in the text line, which stays as it was.
 *
 * --level and --sweep filter on the coordinator (Subscribe carries them);
 * --worker filters here, because Subscribe has no worker field and events
 * name a worker only by id (worker=ID) except "worker joined"/"worker left"
 * (worker=ID name=NAME).  A name is therefore resolved to ids: those of the
 * connected workers with that name (one Workers request at the start) and
 * any a later joined/re-registered event pairs with it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"
#include "json.h"
#include "log.h"

#define RENEW_MS 3000

enum { OPT_FORMAT = 900 };   // long only: -f is --follow

static void print_help(FILE *f)
{
    fputs("Usage: hptune logs [-f] [--level LEVEL] [--sweep ID] [--worker W]\n"
          "                   [--format text|json] [OPTIONS]\n"
          "\n"
          "Print the coordinator's recent events (the ring of its last log lines kept in\n"
          "memory), oldest first, and exit; with -f, keep printing new events as they\n"
          "happen until Ctrl-C.\n"
          "\n"
          "Output (text, the default): one logfmt line per event, in the coordinator's\n"
          "own log format:\n"
          "  ts=2024-05-01T14:03:07.123Z level=info component=sched msg=\"trial done\" "
          "sweep=3 ...\n"
          "ts is UTC with milliseconds; msg is quoted when it holds spaces; the key=value\n"
          "fields follow.\n"
          "\n"
          "Output (--format json): one JSON object per line (JSON Lines), always with\n"
          "exactly these keys, in this order:\n"
          "  ts         string   UTC, ISO-8601 with milliseconds, as in the text format\n"
          "  ts_us      integer  microseconds since the Unix epoch\n"
          "  seq        integer  the event's number, increasing within one coordinator\n"
          "                      run (it starts again after a restart)\n"
          "  level      string   debug | info | warn | error\n"
          "  component  string   the coordinator component that logged it (sched, ...)\n"
          "  type       string   the event's stable type: sweep.submitted, task.leased,\n"
          "                      trial.done, sweep.finished, worker.joined, ...; \"log\"\n"
          "                      for a plain log line (docs/protocol.md lists them all);\n"
          "                      null from a coordinator too old to send types\n"
          "  sweep      integer  the sweep the event is about, or null\n"
          "  msg        string   the sentence of the text format\n"
          "  fields     object   the key=value fields in order, every value a string\n"
          "                      (quotes and escapes removed); a repeated key keeps\n"
          "                      its first value\n"
          "The keys are fixed.  Type names are stable: never renamed or reused; new\n"
          "types are added over time, so a reader should pass over a type it does not\n"
          "know.\n"
          "\n"
          "Options:\n"
          "  -f, --follow            after the history, print new events as they come;\n"
          "                          if the coordinator goes quiet or restarts, keep\n"
          "                          waiting; Ctrl-C unsubscribes and exits 0; a\n"
          "                          line on stderr says when the history is done\n"
          "      --format FMT        text | json (JSON Lines, above)             [text]\n"
          "  -l, --level LEVEL       the least severe level shown: debug | info | warn |\n"
          "                          error                                       [info]\n"
          "  -s, --sweep ID          only events about sweep ID (those with sweep=ID)\n"
          "  -w, --worker W          only events about the worker whose id or name\n"
          "                          (hptune workers' ID or NAME) is W: those with\n"
          "                          worker=ID, where a name matches the ids of the\n"
          "                          workers that have it (connected now, or joining\n"
          "                          in the events shown)\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 ok (also after Ctrl-C with -f), 2 bad flag, 3 the coordinator did\n"
          "not send its history within the timeout.\n"
          "\n"
          "Examples:\n"
          "  hptune logs --level warn\n"
          "  hptune logs -f --sweep 3 | grep 'msg=\"trial done\"'\n"
          "  hptune logs -f --level debug --worker gpu1\n"
          "  hptune logs --format json --sweep 3 | jq -r 'select(.type == \"trial.done\")\n"
          "      | .fields.trial'\n",
          f);
}

// --- output ---------------------------------------------------------------------

/* e's time as ISO-8601 UTC with milliseconds into buf ("?" when the time
 * cannot be represented).  Returns buf. */
static const char *fmt_ts(int64_t ts_us, char *buf, size_t len)
{
    time_t sec = (time_t)(ts_us / 1000000);
    long ms = (long)((ts_us % 1000000) / 1000);
    if (ms < 0) { // before 1970: keep the fraction positive
        ms += 1000;
        sec--;
    }
    struct tm tm;
    snprintf(buf, len, "?");
    if (gmtime_r(&sec, &tm))
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

static void print_event(const Hpt__Event *e)
{
    char ts[96];
    char q[2048];
    hpt_log_quote(e->message, q, sizeof q);
    printf("ts=%s level=%s component=%s msg=%s%s%s\n", fmt_ts(e->ts_us, ts, sizeof ts),
           e->level, e->component, q, e->fields[0] ? " " : "", e->fields);
}

/* One JSON Lines record with the keys print_help documents, in that order.
 * Every key is always there, so a reader can rely on the set; values the
 * coordinator did not send are null.  Returns 0 or -ENOMEM (from the fields
 * parser; the line is then not written at all). */
static int print_event_json(const Hpt__Event *e)
{
    /* The fields object first, into memory: on failure nothing half-written
     * reaches stdout. */
    char *obj = NULL;
    size_t obj_len = 0;
    FILE *m = open_memstream(&obj, &obj_len);
    if (!m)
        return -ENOMEM;
    int rc = cli_logfmt_json(m, e->fields);
    if (fclose(m) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc == 0) {
        char ts[96];
        fputs("{\"ts\":", stdout);
        hpt_json_str(stdout, fmt_ts(e->ts_us, ts, sizeof ts));
        printf(",\"ts_us\":%lld,\"seq\":%llu,\"level\":", (long long)e->ts_us,
               (unsigned long long)e->seq);
        hpt_json_str(stdout, e->level);
        fputs(",\"component\":", stdout);
        hpt_json_str(stdout, e->component);
        fputs(",\"type\":", stdout);
        if (e->type && e->type[0])
            hpt_json_str(stdout, e->type);
        else
            fputs("null", stdout);   // a coordinator from before Event.type
        if (e->sweep)
            printf(",\"sweep\":%llu", (unsigned long long)e->sweep);
        else
            fputs(",\"sweep\":null", stdout);
        fputs(",\"msg\":", stdout);
        hpt_json_str(stdout, e->message);
        printf(",\"fields\":%s}\n", obj);
    }
    free(obj);
    return rc;
}

// --- --worker -------------------------------------------------------------------

/* The value of `key` in logfmt fields, unescaped into buf (cut to len).
 * Returns false when the key is not there. */
static bool field_get(const char *fields, const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    const char *p = fields, *k;
    size_t kl;
    while (cli_logfmt_next(&p, &k, &kl, buf, len))
        if (kl == klen && memcmp(k, key, klen) == 0)
            return true;
    return false;
}

/* --worker W: W itself (an id, or a name) and the ids known to carry name
 * W.  Owned strings. */
typedef struct worker_filter {
    const char *want;     // borrowed from argv; NULL = no filter
    char **ids;
    size_t n, cap;
} worker_filter_t;

static void filter_add(worker_filter_t *wf, const char *id)
{
    for (size_t i = 0; i < wf->n; i++)
        if (strcmp(wf->ids[i], id) == 0)
            return;
    if (wf->n == wf->cap) {
        size_t cap = wf->cap ? wf->cap * 2 : 8;
        char **n = realloc(wf->ids, cap * sizeof *n);
        if (!n)
            return;   // out of memory: that worker's events are missed, not fatal
        wf->ids = n;
        wf->cap = cap;
    }
    char *d = strdup(id);
    if (d)
        wf->ids[wf->n++] = d;
}

static void filter_free(worker_filter_t *wf)
{
    for (size_t i = 0; i < wf->n; i++)
        free(wf->ids[i]);
    free(wf->ids);
    *wf = (worker_filter_t){0};
}

/* Whether event e is about the wanted worker; learns name -> id pairs from
 * the events that carry both. */
static bool filter_match(worker_filter_t *wf, const Hpt__Event *e)
{
    if (!wf->want)
        return true;
    char id[512], name[512];
    if (!field_get(e->fields, "worker", id, sizeof id))
        return false;
    if (field_get(e->fields, "name", name, sizeof name) && strcmp(name, wf->want) == 0)
        filter_add(wf, id);
    if (strcmp(id, wf->want) == 0)
        return true;
    for (size_t i = 0; i < wf->n; i++)
        if (strcmp(wf->ids[i], id) == 0)
            return true;
    return false;
}

/* The ids of the connected workers named wf->want.  Returns an exit status
 * (0, or 3 unreachable etc. after printing why). */
static int filter_resolve(worker_filter_t *wf, cli_client_t *c, const char *cmd)
{
    Hpt__WorkersRequest q = HPT__WORKERS_REQUEST__INIT;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_WORKERS;
    req.workers = &q;
    hpt_env_t *env = NULL;
    int status = cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_WORKERS_REPLY, &env);
    if (status == HPT_EXIT_OK)
        for (size_t i = 0; i < env->workers_reply->n_workers; i++) {
            const Hpt__WorkerInfo *w = env->workers_reply->workers[i];
            if (strcmp(w->name, wf->want) == 0)
                filter_add(wf, w->id);
        }
    hpt_proto_free(&env);
    return status;
}

// --- Ctrl-C ---------------------------------------------------------------------

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; // no SA_RESTART: zmq_poll returns EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

// --- the command ----------------------------------------------------------------

static const struct option long_opts[] = {
    {"follow", no_argument, NULL, 'f'},
    {"level", required_argument, NULL, 'l'},
    {"sweep", required_argument, NULL, 's'},
    {"worker", required_argument, NULL, 'w'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

static int send_subscribe(cli_client_t *c, const char *level, uint64_t sweep, bool history,
                          bool follow, uint64_t *req_id)
{
    Hpt__Subscribe s = HPT__SUBSCRIBE__INIT;
    s.level = (char *)level;
    s.sweep = sweep;
    s.history = history;
    s.follow = follow;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.body_case = HPT__ENVELOPE__BODY_SUBSCRIBE;
    env.subscribe = &s;
    return cli_client_send(c, &env, req_id);
}

int cli_logs(int argc, char **argv)
{
    const char *cmd = "logs";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":fl:s:w:h", long_opts, print_help);
    bool follow = false;
    const char *level = "info";
    uint64_t sweep = 0;
    worker_filter_t wf = {0};
    bool json = false;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'f': follow = true; break;
        case 'l': {
            int l = hpt_log_level_parse(optarg);
            if (l < 0)
                return cli_usage_error(cmd, "--level: unknown value '%s' (allowed: debug, "
                                            "info, warn, error)", optarg);
            level = hpt_log_level_name((hpt_log_level_t)l);
            break;
        }
        case 's':
            if (cli_parse_sweep(cmd, "--sweep", optarg, &sweep))
                return HPT_EXIT_USAGE;
            break;
        case 'w':
            if (!optarg[0])
                return cli_usage_error(cmd, "--worker: empty worker id or name");
            wf.want = optarg;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                json = false;
            else if (strcmp(optarg, "json") == 0)
                json = true;
            else
                return cli_usage_error(cmd, "--format: unknown value '%s' (allowed: text, "
                                            "json)", optarg);
            break;
        }
    }
    if (opt == CLI_OPT_STOP)
        return op.status;
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        return status;
    cli_client_set_raw(c, json);
    if (wf.want && (status = filter_resolve(&wf, c, cmd)) != HPT_EXIT_OK)
        goto out;
    interrupted = 0;
    if (follow)
        catch_signals();
    uint64_t id = 0;
    int rc = send_subscribe(c, level, sweep, true, follow, &id);
    bool history_done = false;
    double deadline = mono_ms() + cli_client_timeout_ms(c); // for the history only
    double next_renew = mono_ms() + RENEW_MS;
    while (rc == 0 && !interrupted) {
        double now = mono_ms();
        double until = history_done ? next_renew : (deadline < next_renew || !follow
                                                        ? deadline : next_renew);
        if (!history_done && now >= deadline) {
            status = cli_client_unreachable(c);
            goto out;
        }
        if (follow && now >= next_renew) {
            rc = send_subscribe(c, level, sweep, false, true, NULL);
            if (rc == -ETIMEDOUT) // the socket is full: the coordinator is away
                rc = 0;
            next_renew = now + RENEW_MS;
            continue;
        }
        hpt_env_t *env = NULL;
        rc = cli_client_recv(c, (int)(until - now) + 1, &env);
        if (rc == -ETIMEDOUT) {
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        switch (env->body_case) {
        case HPT__ENVELOPE__BODY_EVENT:
            if (filter_match(&wf, env->event)) {
                if (!json)
                    print_event(env->event);
                else if (print_event_json(env->event) < 0)
                    fprintf(stderr, "hptune %s: out of memory; event %llu not shown\n", cmd,
                            (unsigned long long)env->event->seq);
            }
            if (!history_done)
                deadline = mono_ms() + cli_client_timeout_ms(c); // it is alive
            break;
        case HPT__ENVELOPE__BODY_HISTORY_END:
            if (env->req_id == id && !history_done && follow) {
                /* The coordinator registered the subscription before it
                 * answered: from here on every new event reaches us.  Say
                 * so on stderr, so a script (or a test) can wait for it
                 * instead of guessing with a sleep. */
                fputs("hptune logs: following new events (Ctrl-C to stop)\n", stderr);
                fflush(stderr);
            }
            if (env->req_id == id)
                history_done = true;
            break;
        case HPT__ENVELOPE__BODY_ERROR:
        case HPT__ENVELOPE__BODY_REJECT:
            status = cli_client_reply_error(c, cmd, env);
            hpt_proto_free(&env);
            goto out;
        default:
            break; // a late reply to nothing we wait for
        }
        hpt_proto_free(&env);
        fflush(stdout);
        if (history_done && !follow)
            break;
    }
    if (rc == -EINTR || interrupted) {
        /* Ctrl-C: tell the coordinator to stop sending; best effort. */
        Hpt__Unsubscribe u = HPT__UNSUBSCRIBE__INIT;
        hpt_env_t env = HPT__ENVELOPE__INIT;
        env.body_case = HPT__ENVELOPE__BODY_UNSUBSCRIBE;
        env.unsubscribe = &u;
        cli_client_send(c, &env, NULL);
        /* Linger 0 would drop the queued Unsubscribe on close: give the I/O
         * thread a moment to write it. */
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        status = HPT_EXIT_OK;
    } else if (rc < 0) {
        fprintf(stderr, "hptune %s: talking to %s: %s\n", cmd, cli_client_addr(c),
                hpt_strerror(rc));
        status = HPT_EXIT_FAIL;
    }
out:
    fflush(stdout);
    cli_client_destroy(&c);
    filter_free(&wf);
    return status;
}
