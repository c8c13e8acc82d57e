/*
 * cli_launch.c: `hptune launch SPEC [--wait]`: submit a sweep spec to the
 * coordinator, print the new sweep's id alone on stdout's first line (scripts
 * capture it with $(...)), and with --wait follow it to its end and print its
 * results.
 *
 * The spec is read and checked for what the coordinator would silently drop
 * (an empty file, NUL bytes, a size over the message cap) here, so that such
 * a file is a clear exit 2 rather than a timeout.  Everything else about the
 * spec is judged by the coordinator, whose ErrorReply already names
 * path:line:col.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "cli_format.h"

#define SPEC_MAX_BYTES (1024 * 1024)
#define PATH_MAX_BYTES 4096   // the coordinator's limit on Submit.path

static void print_help(FILE *f)
{
    fputs("Usage: hptune launch SPEC [--wait] [OPTIONS]\n"
          "\n"
          "Submit the sweep spec in the YAML (or JSON) file SPEC to the coordinator, which\n"
          "checks it, expands it into trials and CV-fold tasks and starts handing them to\n"
          "workers.  The spec format is described in docs/spec.md; deploy/examples/ has\n"
          "examples.\n"
          "\n"
          "Output: the new sweep's id alone on the first line of stdout, so that\n"
          "  id=$(hptune launch SPEC)\n"
          "captures it; then, on stderr, a line such as\n"
          "  sweep 3 'blog-grid' submitted: 27 trials, 135 tasks\n"
          "A spec the coordinator rejects is reported on stderr, every problem at once, each\n"
          "as PATH:LINE:COL: FIELD: PROBLEM; the coordinator's warnings follow the line above.\n"
          "\n"
          "Options:\n"
          "  -c, --check             check SPEC here, as `hptune check SPEC` does, without a\n"
          "                          coordinator; submit nothing (exit 0 valid, 2 invalid)\n"
          "  -w, --wait              after submitting, follow the sweep's progress as\n"
          "                          'hptune status ID --watch' does, then print the top 10\n"
          "                          trials (as 'hptune results ID --top 10') and a summary:\n"
          "                          best parameters, best mean CV score \u00b1 std and the\n"
          "                          refit test score; exit with the sweep's status\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 submitted (with --wait: the sweep ended done); 1 with --wait: the\n"
          "sweep failed or was cancelled; 2 bad flag, SPEC missing or unreadable, or the\n"
          "spec was rejected; 3 coordinator unreachable; 130 Ctrl-C during --wait (the\n"
          "sweep keeps running).\n"
          "\n"
          "Examples:\n"
          "  hptune launch deploy/examples/blog-grid.yaml --wait\n"
          "  id=$(hptune launch blog-grid.yaml) && hptune status \"$id\" --watch\n",
          f);
}

int cli_read_spec(const char *cmd, const char *path, char **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "hptune %s: cannot read spec '%s': %s\n", cmd, path, strerror(errno));
        return HPT_EXIT_USAGE;
    }
    int status = HPT_EXIT_USAGE;
    char *buf = malloc(SPEC_MAX_BYTES + 1);
    if (!buf) {
        fprintf(stderr, "hptune %s: out of memory\n", cmd);
        status = HPT_EXIT_FAIL;
        goto out;
    }
    size_t n = fread(buf, 1, SPEC_MAX_BYTES + 1, f);
    if (ferror(f)) {
        fprintf(stderr, "hptune %s: cannot read spec '%s': %s\n", cmd, path, strerror(errno));
        goto out;
    }
    if (n > SPEC_MAX_BYTES) {
        fprintf(stderr, "hptune %s: spec '%s' is larger than %d bytes; is it a spec?\n", cmd,
                path, SPEC_MAX_BYTES);
        goto out;
    }
    if (memchr(buf, '\0', n)) {
        fprintf(stderr, "hptune %s: spec '%s' contains NUL bytes; it must be YAML text\n", cmd,
                path);
        goto out;
    }
    buf[n] = '\0';
    if (strspn(buf, " \t\r\n") == n) {
        fprintf(stderr, "hptune %s: spec '%s' is empty\n", cmd, path);
        goto out;
    }
    *out = buf;
    buf = NULL;
    status = HPT_EXIT_OK;
out:
    free(buf);
    fclose(f);
    return status;
}

static const struct option long_opts[] = {
    {"wait", no_argument, NULL, 'w'},
    {"check", no_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_launch(int argc, char **argv)
{
    const char *cmd = "launch";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":wch", long_opts, print_help);
    bool wait = false, check = false;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        switch (opt) {
        case 'w': wait = true; break;
        case 'c': check = true; break;
        }
    }
    if (opt == CLI_OPT_STOP)
        return op.status;
    if (optind >= argc)
        return cli_usage_error(cmd, "missing SPEC (the sweep spec file to submit)");
    const char *path = argv[optind++];
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (strlen(path) > PATH_MAX_BYTES)
        return cli_usage_error(cmd, "SPEC: path longer than %d bytes", PATH_MAX_BYTES);
    if (check && wait)
        return cli_usage_error(cmd, "--check and --wait exclude each other (--check submits "
                                    "nothing)");

    if (check)
        return cli_check_file(cmd, path, 0, false);
    char *spec = NULL;
    int status = cli_read_spec(cmd, path, &spec);
    if (status)
        return status;
    cli_client_t *c = NULL;
    hpt_env_t *env = NULL;
    status = cli_client_new(&c, &op.conn, cmd);
    if (status)
        goto out;

    Hpt__Submit sub = HPT__SUBMIT__INIT;
    sub.spec = spec;
    sub.path = (char *)path;
    hpt_env_t req = HPT__ENVELOPE__INIT;
    req.body_case = HPT__ENVELOPE__BODY_SUBMIT;
    req.submit = &sub;
    int rc = cli_client_request(c, &req, &env);
    if (rc == -ETIMEDOUT) {
        status = cli_client_unreachable(c);
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "hptune %s: talking to %s: %s\n", cmd, cli_client_addr(c),
                hpt_strerror(rc));
        status = rc == -EINTR ? HPT_EXIT_INTERRUPTED : HPT_EXIT_FAIL;
        goto out;
    }
    if (env->body_case == HPT__ENVELOPE__BODY_ERROR) {
        /* A spec error already reads "PATH:LINE:COL: ..."; print it bare so
         * editors can jump to it.  Anything else gets the command prefix. */
        const char *msg = env->error->message;
        size_t pl = strlen(path);
        if (env->error->code == 2 && strncmp(msg, path, pl) == 0 && msg[pl] == ':')
            fprintf(stderr, "%s\n", msg);
        else
            fprintf(stderr, "hptune %s: %s: %s\n", cmd, path, msg);
        status = cli_client_error_status(env->error->code);
        goto out;
    }
    if (env->body_case != HPT__ENVELOPE__BODY_SUBMIT_REPLY) {
        status = cli_client_reply_error(c, cmd, env);
        goto out;
    }
    const Hpt__SubmitReply *r = env->submit_reply;
    uint64_t id = r->sweep;
    printf("%llu\n", (unsigned long long)id);
    fflush(stdout);
    if (r->trials)
        fprintf(stderr, "sweep %llu '%s' submitted: %u trials, %u tasks\n",
                (unsigned long long)id, r->name, r->trials, r->tasks);
    else if (r->method && strcmp(r->method, "asha") == 0)
        fprintf(stderr,
                "sweep %llu '%s' submitted: asha, %u new configurations; promotions are "
                "decided as scores arrive\n",
                (unsigned long long)id, r->name, r->max_trials);
    else if (r->method && strcmp(r->method, "coordinate") == 0)
        fprintf(stderr,
                "sweep %llu '%s' submitted: coordinate search; each parameter's trials "
                "follow the best so far\n",
                (unsigned long long)id, r->name);
    else
        fprintf(stderr, "sweep %llu '%s' submitted: %u tasks so far\n",
                (unsigned long long)id, r->name, r->tasks);
    if (r->warnings && r->warnings[0])
        fprintf(stderr, "%s\n", r->warnings);
    status = HPT_EXIT_OK;
    if (wait) {
        status = cli_watch(c, cmd, id);
        if (status == HPT_EXIT_OK || status == HPT_EXIT_FAIL) {
            putchar('\n');
            int rs = cli_results_print(c, cmd, id, 10);
            if (rs != HPT_EXIT_OK)
                status = rs;
        }
    }
out:
    hpt_proto_free(&env);
    cli_client_destroy(&c);
    free(spec);
    return status;
}
