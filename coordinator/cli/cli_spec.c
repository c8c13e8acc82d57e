/*
 * cli_spec.c: `hptune spec aliases`: print the table of names hptune reads
 * for its own in a sweep spec (coordinator/coord_aliases.c): parameter
 * names such as lr, value names such as ReLU or xavier, metric words such as
 * val_acc, dataset names.  docs/spec.md carries the same table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "coord_aliases.h"

static void print_help(FILE *f)
{
    fputs("Usage: hptune spec aliases\n"
          "\n"
          "Print the names hptune reads for its own in a sweep spec, so that W&B sweep\n"
          "configs (and names PyTorch and Keras scripts use) work as written: parameter\n"
          "names (lr -> learning_rate), optimizer, activation and init_mode values (ReLU ->\n"
          "relu, xavier -> glorot_uniform, momentum -> sgd with momentum 0.9), metric names\n"
          "(val_acc -> accuracy) and dataset names.  Names compare in any case, with '-',\n"
          "'.', '/' and ' ' read as '_'.  docs/spec.md has the same table.\n"
          "\n"
          "Options:\n"
          "  -h, --help   show this help\n"
          "\n"
          "Exit status: 0 printed, 2 bad usage.\n"
          "\n"
          "Example:\n"
          "  hptune spec aliases | grep -i init\n",
          f);
}

int cli_spec(int argc, char **argv)
{
    const char *cmd = "spec";
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        print_help(stdout);
        return HPT_EXIT_OK;
    }
    if (argc < 2)
        return cli_usage_error(cmd, "missing what to print (allowed: aliases)");
    if (strcmp(argv[1], "aliases") != 0)
        return cli_usage_error(cmd, "unknown subcommand '%s' (allowed: aliases)", argv[1]);
    if (argc > 2 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
        print_help(stdout);
        return HPT_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[2]);
    char *t = coord_aliases_text();
    if (!t) {
        fputs("hptune spec: out of memory\n", stderr);
        return HPT_EXIT_FAIL;
    }
    fputs(t, stdout);
    free(t);
    return HPT_EXIT_OK;
}
