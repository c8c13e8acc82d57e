/*
 * cli_workers.c: `hptune workers`: the table of workers registered with the
 * coordinator.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"

static void print_help(FILE *f)
{
    fputs("Usage: hptune workers [OPTIONS]\n"
          "\n"
          "List the hptune-worker processes registered with the coordinator, one row each,\n"
          "then a line with the totals.\n"
          "\n"
          "Columns: NAME (--name of the worker, by default its host name), ID (unique per\n"
          "worker process), HOST, SLOTS (tasks it runs at once), BUSY (tasks leased to it\n"
          "now), DATASETS (the datasets it holds), LAST SEEN (time since its last message;\n"
          "a worker silent for the heartbeat interval x liveness is dropped), DONE and\n"
          "FAILED (tasks it finished since it connected), STATE (ready | draining: a\n"
          "draining worker finishes its tasks and takes no more).\n"
          "\n"
          "Options:\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 ok, 2 bad flag, 3 coordinator unreachable.\n"
          "\n"
          "Example:\n"
          "  hptune workers --coordinator tcp://tuner.lan:7600\n",
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

static void print_workers(const Hpt__WorkersReply *r)
{
    static const char *const hdr[] = {"NAME", "ID", "HOST", "SLOTS", "BUSY", "DATASETS",
                                      "LAST SEEN", "DONE", "FAILED", "STATE"};
    cli_table_t *t = NULL;
    if (cli_table_new(&t, 10, hdr) < 0) {
        fputs("hptune workers: out of memory\n", stderr);
        return;
    }
    for (int col = 3; col <= 4; col++)
        cli_table_right(t, col);
    cli_table_right(t, 6);
    cli_table_right(t, 7);
    cli_table_right(t, 8);
    unsigned slots = 0, busy = 0;
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
        cli_table_cell(t, "%s", w->state);
        slots += w->slots;
        busy += w->busy;
    }
    if (r->n_workers)
        cli_table_print(t, stdout);
    cli_table_destroy(&t);
    if (r->n_workers)
        printf("%zu worker%s, %u/%u slots busy\n", r->n_workers, r->n_workers == 1 ? "" : "s",
               busy, slots);
    else
        puts("no workers connected (start one with: hptune-worker --coordinator ADDR)");
}

static const struct option long_opts[] = {
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_workers(int argc, char **argv)
{
    const char *cmd = "workers";
    cli_conn_opts_t co = CLI_CONN_OPTS_DEFAULT;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
        int rc = cli_conn_opt(&co, opt, optarg, cmd);
        if (rc == HPT_EXIT_USAGE)
            return rc;
        if (rc == 1)
            continue;
        switch (opt) {
        case 'h': print_help(stdout); return HPT_EXIT_OK;
        case ':': return cli_usage_error(cmd, "%s: missing value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &co, cmd);
    if (status)
        return status;
    Hpt__WorkersRequest q = HPT__WORKERS_REQUEST__INIT;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_WORKERS;
    req.workers = &q;
    hpt_env_t *env = NULL;
    status = cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_WORKERS_REPLY, &env);
    if (status == HPT_EXIT_OK)
        print_workers(env->workers_reply);
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    return status;
}
