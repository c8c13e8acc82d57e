/*
 * cli_workers.c: `hptune workers [--format table|json]`: the workers
 * registered with the coordinator, with their throughput (tasks per minute
 * and epochs per second over the last 5 minutes, computed by the
 * coordinator: coord_worker_rates) and how long ago each was last heard from.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"
#include "json.h"

static void print_help(FILE *f)
{
    fputs("Usage: hptune workers [--format table|json] [OPTIONS]\n"
          "\n"
          "List the hptune-worker processes registered with the coordinator, one row each,\n"
          "then a line with the totals.\n"
          "\n"
          "Columns: NAME (--name of the worker, by default its host name), ID (unique per\n"
          "worker process), HOST, SLOTS (tasks it runs at once), BUSY (tasks leased to it\n"
          "now), DATASETS (the datasets it holds), LAST SEEN (time since its last message,\n"
          "e.g. 0.4s ago; a worker silent for the heartbeat interval x liveness is\n"
          "dropped), DONE and FAILED (tasks it finished, and tasks that returned an\n"
          "error, since it connected), TASKS/MIN and EPOCHS/S (its throughput over the\n"
          "last 5 minutes, or since it connected when that is shorter: tasks finished per\n"
          "minute, and epochs trained in them per second; '-' during its first second),\n"
          "STATE (ready | draining: a draining worker finishes its tasks and takes no\n"
          "more).  The totals line adds up the slots and the throughput.\n"
          "\n"
          "Options:\n"
          "  -f, --format FMT        table | json                               [table]\n"
          "                          json: {\"workers\": [{\"name\", \"id\", \"host\",\n"
          "                          \"version\", \"state\", \"slots\", \"busy\", \"datasets\":\n"
          "                          [{\"name\", \"fingerprint\"}], \"last_seen_s\",\n"
          "                          \"connected_unix\", \"tasks_done\", \"tasks_failed\",\n"
          "                          \"epochs_done\", \"tasks_per_min\", \"epochs_per_s\",\n"
          "                          \"rate_window_s\"}], \"slots\", \"slots_busy\"}; a rate\n"
          "                          not known yet is null\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 ok, 2 bad flag, 3 coordinator unreachable.\n"
          "\n"
          "Examples:\n"
          "  hptune workers --coordinator tcp://tuner.lan:7600\n"
          "  hptune workers --format json | python3 -c 'import json, sys\n"
          "  print(sum(w[\"tasks_per_min\"] or 0 for w in json.load(sys.stdin)[\"workers\"]))'\n",
          f);
}

static const char *fmt_ago(double s, char *buf, size_t len)
{
    if (s < 0)
        s = 0;
    if (s < 10) {
        snprintf(buf, len, "%.1fs ago", s);
    } else {
        char d[32];
        snprintf(buf, len, "%s ago", cli_fmt_duration(s, d, sizeof d));
    }
    return buf;
}

/* A rate with 3 significant figures or so: "0.25", "12.5", "340"; "-" when
 * the coordinator does not know it yet (rate_window_s == 0). */
static const char *fmt_rate(double v, bool known, char *buf, size_t len)
{
    if (!known || !isfinite(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
    return buf;
}

static void print_workers(const Hpt__WorkersReply *r)
{
    static const char *const hdr[] = {"NAME", "ID", "HOST", "SLOTS", "BUSY", "DATASETS",
                                      "LAST SEEN", "DONE", "FAILED", "TASKS/MIN", "EPOCHS/S",
                                      "STATE"};
    cli_table_t *t = NULL;
    if (cli_table_new(&t, 12, hdr) < 0) {
        fputs("hptune workers: out of memory\n", stderr);
        return;
    }
    for (int col = 3; col <= 4; col++)
        cli_table_right(t, col);
    for (int col = 6; col <= 10; col++)
        cli_table_right(t, col);
    unsigned slots = 0, busy = 0;
    double tpm = 0, eps = 0;
    bool rates = false;
    for (size_t i = 0; i < r->n_workers; i++) {
        const Hpt__WorkerInfo *w = r->workers[i];
        char ds[512] = "", ago[48];
        size_t o = 0;
        for (size_t d = 0; d < w->n_datasets && o < sizeof ds; d++) {
            int n = snprintf(ds + o, sizeof ds - o, "%s%s", d ? "," : "",
                             w->datasets[d]->name);
            if (n < 0)
                break;
            o += (size_t)n;
        }
        cli_table_cell(t, "%s", w->name);
        cli_table_cell(t, "%s", w->id);
        cli_table_cell(t, "%s", w->host);
        cli_table_cell(t, "%u", w->slots);
        cli_table_cell(t, "%u", w->busy);
        cli_table_cell(t, "%s", ds[0] ? ds : "-");
        cli_table_cell(t, "%s", fmt_ago(w->last_seen_ago, ago, sizeof ago));
        cli_table_cell(t, "%u", w->tasks_done);
        cli_table_cell(t, "%u", w->tasks_failed);
        bool known = w->rate_window_s > 0;
        char a[32], b[32];
        cli_table_cell(t, "%s", fmt_rate(w->tasks_per_min, known, a, sizeof a));
        cli_table_cell(t, "%s", fmt_rate(w->epochs_per_s, known, b, sizeof b));
        cli_table_cell(t, "%s", w->state);
        slots += w->slots;
        busy += w->busy;
        if (known) {
            rates = true;
            tpm += w->tasks_per_min;
            eps += w->epochs_per_s;
        }
    }
    if (r->n_workers)
        cli_table_print(t, stdout);
    cli_table_destroy(&t);
    char a[32], b[32];
    if (r->n_workers)
        printf("%zu worker%s, %u/%u slots busy, %s tasks/min, %s epochs/s\n", r->n_workers,
               r->n_workers == 1 ? "" : "s", busy, slots, fmt_rate(tpm, rates, a, sizeof a),
               fmt_rate(eps, rates, b, sizeof b));
    else
        puts("no workers connected (start one with: hptune-worker --coordinator ADDR)");
}

static const struct option long_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_workers(int argc, char **argv)
{
    const char *cmd = "workers";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":f:h", long_opts, print_help);
    bool json = false;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "table") == 0 || strcmp(optarg, "json") == 0)
                json = optarg[0] == 'j';
            else
                return cli_usage_error(cmd, "--format: unknown value '%s' (allowed: table, "
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
    Hpt__WorkersRequest q = HPT__WORKERS_REQUEST__INIT;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_WORKERS;
    req.workers = &q;
    hpt_env_t *env = NULL;
    status = cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_WORKERS_REPLY, &env);
    if (status == HPT_EXIT_OK && json)
        hpt_json_workers(stdout, env->workers_reply, NULL, NULL);   // the /api/workers writer
    else if (status == HPT_EXIT_OK)
        print_workers(env->workers_reply);
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    return status;
}
