/*
 * hptune.c: entry point of the hptune CLI; dispatches to the commands.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hpt_config.h"

static const char usage[] =
    "Usage: hptune COMMAND [OPTIONS]\n"
    "\n"
    "hptune tunes the hyperparameters of multilayer perceptrons.\n"
    "\n"
    "Commands:\n"
    "  train      train one configuration locally (no coordinator) and print its score\n"
    "\n"
    "Options:\n"
    "  -h, --help       show this help (hptune COMMAND --help for a command's flags)\n"
    "  -V, --version    print the version\n"
    "\n"
    "Exit status: 0 ok, 1 failed, 2 usage error, 3 coordinator unreachable.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return HPT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return HPT_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("hptune %s\n", HPT_VERSION);
        return HPT_EXIT_OK;
    }
    if (strcmp(cmd, "train") == 0)
        return cli_train(argc - 1, argv + 1);
    fprintf(stderr, "hptune: unknown command '%s'\n\n%s", cmd, usage);
    return HPT_EXIT_USAGE;
}
