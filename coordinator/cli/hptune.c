/*
 * hptune.c: entry point of the hptune CLI; dispatches to the commands.
 *
 * The connection flags (--coordinator ADDR, --timeout SECONDS, --curve-secret
 * FILE, --server-key KEY) may come before the command name as well as after
 * it: main() moves any found before the command to just after it, so every
 * command parses them with its own getopt_long table and one code path
 * handles both spellings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_conf.h"
#include "hpt_config.h"

static const char usage[] =
    "Usage: hptune [--coordinator ADDR] [--timeout SECONDS] COMMAND [OPTIONS]\n"
    "\n"
    "hptune tunes the hyperparameters of multilayer perceptrons on a cluster of\n"
    "hptune-worker processes run by hptune-coordinator.\n"
    "\n"
    "Commands:\n"
    "  launch SPEC [--wait]     submit a sweep spec; print the new sweep's id\n"
    "  check SPEC               check a sweep spec here, without a coordinator (also\n"
    "                           launch --check)\n"
    "  spec aliases             print the names a spec may use for hptune's (lr, ReLU,\n"
    "                           val_acc, ...)\n"
    "  status [SWEEP] [--watch] show sweeps and their progress\n"
    "  workers                  list the connected workers\n"
    "  results SWEEP            show a sweep's trials (table, csv or json)\n"
    "  report SWEEP [-o DIR]    write an HTML report with plots (DIR/index.html)\n"
    "  logs [-f]                print the coordinator's recent events; -f follows them\n"
    "  cancel SWEEP             cancel a sweep\n"
    "  train                    train one configuration locally (no coordinator) and print\n"
    "                           its score\n"
    "  keygen [-o PREFIX]       write a CURVE key pair, PREFIX.key and PREFIX.pub\n"
    "  config [--path]          print the connection settings in effect and where each\n"
    "                           comes from (flag, environment, config file, default)\n"
    "\n"
    "Options:\n"
    "  --coordinator ADDR   ZeroMQ address of hptune-coordinator, before or after the\n"
    "                       command  [$HPTUNE_COORDINATOR, else the config file, else\n"
    "                       tcp://127.0.0.1:7600]\n"
    "  --timeout SECONDS    how long to wait for the coordinator to answer  [5]\n"
    "  --curve-secret FILE  this client's CURVE key pair (hptune keygen's PREFIX.key);\n"
    "                       needed when the coordinator has keys  [$HPTUNE_CURVE_SECRET]\n"
    "  --server-key KEY     the coordinator's public key: its .pub file or the 40\n"
    "                       Z85 characters  [$HPTUNE_SERVER_KEY]\n"
    "  -h, --help           show this help (hptune COMMAND --help for a command's flags)\n"
    "  -V, --version        print the version\n"
    "\n"
    "Environment:\n"
    "  HPTUNE_COORDINATOR   the coordinator's address when --coordinator is not given\n"
    "  HPTUNE_CURVE_SECRET, HPTUNE_SERVER_KEY  --curve-secret and --server-key when\n"
    "                       not given (docs/security.md)\n"
    "  XDG_CONFIG_HOME      where the config file is (else ~/.config)\n"
    "\n"
    "Files:\n"
    "  $XDG_CONFIG_HOME/hptune/config, else ~/.config/hptune/config: `key value` lines\n"
    "  with the keys coordinator, curve_secret, server_key and timeout (seconds).\n"
    "  Each setting comes from its flag, else its environment variable, else this\n"
    "  file, else the default; `hptune config` prints what is in effect and why.\n"
    "  Relative key file names in it are relative to its directory.\n"
    "\n"
    "Exit status: 0 ok, 1 failed (a sweep failed or was cancelled, no such sweep),\n"
    "2 usage or spec error, 3 coordinator unreachable.\n"
    "\n"
    "Example:\n"
    "  id=$(hptune launch blog-grid.yaml) && hptune status \"$id\" --watch && \\\n"
    "      hptune results \"$id\" --format csv > results.csv\n";

typedef int (*cmd_fn)(int argc, char **argv);

static const struct {
    const char *name;
    cmd_fn fn;
} commands[] = {
    {"launch", cli_launch}, {"check", cli_check}, {"spec", cli_spec}, {"status", cli_status}, {"workers", cli_workers},
    {"results", cli_results}, {"logs", cli_logs}, {"cancel", cli_cancel},
    {"train", cli_train}, {"keygen", cli_keygen}, {"report", cli_report},
    {"config", cli_config},
};

/* 1 when arg is a connection flag taking the next argument as its value
 * ("--coordinator ADDR"), 2 when it carries its value ("--timeout=3"), else
 * 0. */
static int global_flag(const char *arg)
{
    static const char *const names[] = {"--coordinator", "--timeout", "--curve-secret",
                                        "--server-key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        size_t n = strlen(names[i]);
        if (strncmp(arg, names[i], n) == 0) {
            if (arg[n] == '\0')
                return 1;
            if (arg[n] == '=')
                return 2;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* Collect connection flags given before the command. */
    char **moved = calloc((size_t)argc + 1, sizeof *moved);
    if (!moved) {
        fputs("hptune: out of memory\n", stderr);
        return HPT_EXIT_FAIL;
    }
    int n_moved = 0, i = 1, status = HPT_EXIT_USAGE;
    for (; i < argc; i++) {
        int g = global_flag(argv[i]);
        if (g == 0)
            break;
        moved[n_moved++] = argv[i];
        if (g == 1) {
            if (i + 1 >= argc) {
                fprintf(stderr, "hptune: %s: missing value\n(see hptune --help)\n", argv[i]);
                goto done;
            }
            moved[n_moved++] = argv[++i];
        }
    }
    if (i >= argc) {
        fputs(usage, stderr);
        goto done;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        status = HPT_EXIT_OK;
        goto done;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("hptune %s\n", HPT_VERSION);
        status = HPT_EXIT_OK;
        goto done;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (strcmp(cmd, commands[k].name) != 0)
            continue;
        /* argv for the command: its name, the moved flags, then the rest. */
        char **args = calloc((size_t)argc + 1, sizeof *args);
        if (!args) {
            fputs("hptune: out of memory\n", stderr);
            status = HPT_EXIT_FAIL;
            goto done;
        }
        int n = 0;
        args[n++] = argv[i];
        for (int m = 0; m < n_moved; m++)
            args[n++] = moved[m];
        for (int r = i + 1; r < argc; r++)
            args[n++] = argv[r];
        args[n] = NULL;
        status = commands[k].fn(n, args);
        free(args);
        goto done;
    }
    if (cmd[0] == '-')
        fprintf(stderr, "hptune: unknown option '%s' before the command\n\n%s", cmd, usage);
    else
        fprintf(stderr, "hptune: unknown command '%s'\n\n%s", cmd, usage);
done:
    free(moved);
    return status;
}
