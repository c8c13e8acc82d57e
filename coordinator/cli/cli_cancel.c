/*
 * cli_cancel.c: `hptune cancel SWEEP`: stop a sweep.  The coordinator drops
 * its queued tasks, tells the workers to abandon its running ones, and keeps
 * the results so far (hptune results still shows them).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"

static void print_help(FILE *f)
{
    fputs("Usage: hptune cancel SWEEP [OPTIONS]\n"
          "\n"
          "Cancel sweep SWEEP: its queued tasks are dropped and its running tasks are\n"
          "abandoned on the workers; the trials finished so far are kept and 'hptune\n"
          "results SWEEP' still shows them.  A sweep that has already ended is left as it\n"
          "is.  With keys, a client key cancels only the sweeps it submitted; a key in\n"
          "the coordinator's admins/ may cancel any (docs/security.md, \"Roles\").\n"
          "\n"
          "Output (stdout): 'sweep 3 cancelled', or 'sweep 3 already done' (or failed, or\n"
          "cancelled) when it had ended before.\n"
          "\n"
          "Options:\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 cancelled or already ended, 1 no such sweep or not this key's\n"
          "sweep, 2 bad flag, 3 coordinator unreachable.\n"
          "\n"
          "Example:\n"
          "  hptune cancel 3\n",
          f);
}

static const struct option long_opts[] = {
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_cancel(int argc, char **argv)
{
    const char *cmd = "cancel";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":h", long_opts, print_help);
    if (cli_opt_next(&op, argc, argv) == CLI_OPT_STOP)   // no options of its own
        return op.status;
    uint64_t sweep;
    if (cli_only_sweep(cmd, argc, argv, optind, &sweep))
        return HPT_EXIT_USAGE;

    cli_client_t *c = NULL;
    int status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        return status;
    Hpt__CancelRequest q = HPT__CANCEL_REQUEST__INIT;
    q.sweep = sweep;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_CANCEL_SWEEP;
    req.cancel_sweep = &q;
    hpt_env_t *env = NULL;
    status = cli_client_call(c, cmd, &req, HPT__ENVELOPE__BODY_CANCEL_REPLY, &env);
    if (status == HPT_EXIT_OK) {
        const Hpt__CancelReply *r = env->cancel_reply;
        if (r->cancelled)
            printf("sweep %llu cancelled\n", (unsigned long long)sweep);
        else
            printf("sweep %llu already %s\n", (unsigned long long)sweep, r->state);
    }
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    return status;
}
