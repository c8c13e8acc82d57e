/*
 * cli_check.c: `hptune check SPEC` (also `hptune launch --check SPEC`):
 * validate a sweep spec fully on this machine, without a coordinator, and
 * change nothing.
 *
 * The checking is coord_check_spec (coordinator/coord_check.c), the very
 * function the coordinator runs on a Submit, so a spec this command accepts
 * is one the coordinator accepts (apart from what only the coordinator can
 * know: whether it has the dataset).  Valid: the account of the sweep on
 * stdout (method, trial and task counts or the budget, the parameter table
 * with every resolved default, the warnings), exit 0.  Invalid: every error
 * (and warning) on stderr in file order, PATH:LINE:COL first so editors can
 * jump to each, exit 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"
#include "coord_check.h"

#define TRIALS_MAX 100000   // --trials N: at most this many listed

static void print_help(FILE *f)
{
    fputs("Usage: hptune check SPEC [OPTIONS]\n"
          "       hptune launch --check SPEC [OPTIONS]\n"
          "\n"
          "Check the sweep spec SPEC (YAML or JSON; docs/spec.md) as the coordinator would\n"
          "on `hptune launch`, without a coordinator, and change nothing.  W&B sweep configs\n"
          "are read as W&B reads them (docs/spec.md, \"W&B sweep configs\").\n"
          "\n"
          "A valid spec prints its method, its trial and task counts (or its budget), the\n"
          "dataset, metric and CV, the parameter table with the value every hyperparameter\n"
          "the spec does not tune gets, and every warning.  An invalid spec prints every\n"
          "problem at once, in file order, each as PATH:LINE:COL: FIELD: PROBLEM with the\n"
          "allowed values.\n"
          "\n"
          "Options:\n"
          "  -t, --trials N   also list the first N trials the search hands out before any\n"
          "                   score is known (a grid's combinations, a random search's\n"
          "                   draws, ...), 1..100000\n"
          "  -q, --quiet      print nothing when the spec is valid and has no warnings;\n"
          "                   only the exit status tells\n"
          "  -h, --help       show this help\n"
          "\n"
          "Exit status: 0 valid (warnings allowed), 2 invalid, unreadable or a bad flag.\n"
          "\n"
          "Examples:\n"
          "  hptune check deploy/examples/blog-grid.yaml\n"
          "  hptune check wandb-sweep.yaml --trials 10\n",
          f);
}

static const struct option long_opts[] = {
    {"trials", required_argument, NULL, 't'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cli_check_file(const char *cmd, const char *path, int list_trials, bool quiet)
{
    char *text = NULL;
    int status = cli_read_spec(cmd, path, &text);
    if (status)
        return status;
    coord_check_t c;
    int rc = coord_check_spec(text, strlen(text), path, &c);
    if (rc == -ENOMEM) {
        fprintf(stderr, "hptune %s: out of memory\n", cmd);
        status = HPT_EXIT_FAIL;
    } else if (rc < 0) {
        for (int i = 0; i < c.diags.n; i++)   // notes say how names were read: not problems
            if (c.diags.v[i].level != COORD_DIAG_NOTE)
                fprintf(stderr, "%s\n", c.diags.v[i].text);
        int kept = 0;
        for (int i = 0; i < c.diags.n; i++)
            kept += c.diags.v[i].level == COORD_DIAG_ERROR;
        if (c.diags.n_errors > kept)
            fprintf(stderr, "(and %d more errors not shown)\n", c.diags.n_errors - kept);
        fprintf(stderr, "%s: invalid: %d error%s", path, c.diags.n_errors,
                c.diags.n_errors == 1 ? "" : "s");
        if (c.diags.n_warnings)
            fprintf(stderr, ", %d warning%s", c.diags.n_warnings,
                    c.diags.n_warnings == 1 ? "" : "s");
        fputc('\n', stderr);
        status = HPT_EXIT_USAGE;
    } else if (!quiet || c.diags.n_warnings > 0) {
        char *report = coord_check_report(&c, list_trials);
        if (!report) {
            fprintf(stderr, "hptune %s: out of memory\n", cmd);
            status = HPT_EXIT_FAIL;
        } else {
            fputs(report, stdout);
            free(report);
        }
    }
    coord_check_free(&c);
    free(text);
    return status;
}

int cli_check(int argc, char **argv)
{
    const char *cmd = "check";
    optind = 1;
    opterr = 0;
    int opt, list = 0;
    bool quiet = false;
    while ((opt = getopt_long(argc, argv, ":t:qh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > TRIALS_MAX)
                return cli_usage_error(cmd, "--trials: '%s' is not an integer in 1..%d", optarg,
                                       TRIALS_MAX);
            list = (int)v;
            break;
        }
        case 'q': quiet = true; break;
        case 'h': print_help(stdout); return HPT_EXIT_OK;
        case ':': return cli_usage_error(cmd, "%s: missing value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return cli_usage_error(cmd, "missing SPEC (the sweep spec file to check)");
    const char *path = argv[optind++];
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    return cli_check_file(cmd, path, list, quiet);
}
