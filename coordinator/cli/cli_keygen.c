/*
 * cli_keygen.c: `hptune keygen [-o PREFIX] [--role ROLE] [--force]`: write a
 * new CURVE key pair, PREFIX.key (secret, mode 0600) and PREFIX.pub
 * (public), for the coordinator, a worker, a client or a reader
 * (common/curve.h, docs/security.md).  With --role the .pub says its role,
 * and the output says which subdirectory of the coordinator's
 * authorized-keys directory it goes into.  Needs no coordinator.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "curve.h"

#define DEFAULT_PREFIX "hptune"

static void print_help(FILE *f)
{
    fputs("Usage: hptune keygen [-o PREFIX] [--role worker|client|reader|admin] [--force]\n"
          "\n"
          "Generate a CurveZMQ key pair and write it to two files:\n"
          "  PREFIX.key  the secret key (with its public key), mode 0600: it stays on the\n"
          "              machine that uses it, given with --curve-secret (or\n"
          "              $HPTUNE_CURVE_SECRET);\n"
          "  PREFIX.pub  the public key: for a worker, a client, a reader or an admin,\n"
          "              copy it into its role's subdirectory of the coordinator's\n"
          "              --authorized-keys directory (workers/, clients/, readers/,\n"
          "              admins/; then SIGHUP the coordinator); for the coordinator,\n"
          "              give it to workers and clients as --server-key (or\n"
          "              $HPTUNE_SERVER_KEY).\n"
          "A key's role is the subdirectory its .pub is in: a worker registers and runs\n"
          "tasks; a client submits sweeps, cancels its own and reads everything; a reader\n"
          "only reads (status, workers, results, logs); an admin is a client that may also\n"
          "cancel sweeps other keys submitted.  With --role the .pub also says its role,\n"
          "and the coordinator refuses it in another role's directory.  The files are ZeroMQ\n"
          "(CZMQ) certificates, keys in Z85 text.  Existing files are never overwritten\n"
          "unless --force is given.  The public key is also printed, alone on the last line\n"
          "of stdout.  docs/security.md walks through a whole setup.\n"
          "\n"
          "Options:\n"
          "  -o, --output PREFIX     where to write: PREFIX.key and PREFIX.pub; a trailing\n"
          "                          .key or .pub is dropped               [" DEFAULT_PREFIX "]\n"
          "  -r, --role ROLE         the key's role: worker, client, reader or admin; written\n"
          "                          into PREFIX.pub                       [none]\n"
          "  -f, --force             replace existing files (whoever used the old key loses\n"
          "                          access)\n"
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 written, 1 a file exists (without --force), cannot be written,\n"
          "or this libzmq has no CURVE support, 2 bad flag.\n"
          "\n"
          "Examples:\n"
          "  hptune keygen -o /etc/hptune/coordinator                # on the coordinator\n"
          "  hptune keygen -o ~/.config/hptune/worker --role worker  # on each worker\n"
          "  scp ~/.config/hptune/worker.pub \\\n"
          "      tuner:/etc/hptune/authorized_keys/workers/$(hostname).pub\n"
          "  hptune keygen -o ~/.config/hptune/me --role client      # where the CLI runs\n",
          f);
}

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"role", required_argument, NULL, 'r'},
    {"force", no_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cli_keygen(int argc, char **argv)
{
    const char *cmd = "keygen";
    const char *prefix_arg = DEFAULT_PREFIX;
    bool force = false;
    unsigned role = 0;
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":o:r:fh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'o': prefix_arg = optarg; break;
        case 'r':
            role = hpt_curve_role_parse(optarg);
            if (!role)
                return cli_usage_error(cmd, "--role: '%s' is not a role (worker, client, "
                                       "reader or admin)", optarg);
            break;
        case 'f': force = true; break;
        case 'h': print_help(stdout); return HPT_EXIT_OK;
        case ':': return cli_usage_error(cmd, "%s: missing value", argv[optind - 1]);
        default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s' (the prefix goes after -o)",
                               argv[optind]);
    // "-o worker.key" means the pair worker.key + worker.pub, not worker.key.key.
    char prefix[4096];
    size_t n = strlen(prefix_arg);
    if (n == 0 || n >= sizeof prefix)
        return cli_usage_error(cmd, "-o: %s prefix", n ? "too long a" : "empty");
    memcpy(prefix, prefix_arg, n + 1);
    if (n > 4 && (strcmp(prefix + n - 4, ".key") == 0 || strcmp(prefix + n - 4, ".pub") == 0))
        prefix[n - 4] = '\0';
    if (prefix[0] == '\0' || prefix[strlen(prefix) - 1] == '/')
        return cli_usage_error(cmd, "-o: '%s' names a directory; give a prefix such as %s%s",
                               prefix_arg, prefix, DEFAULT_PREFIX);

    hpt_err err = {0};
    hpt_curve_pair_t kp;
    if (hpt_curve_generate(&kp, &err) < 0) {
        fprintf(stderr, "hptune %s: %s\n", cmd, err.msg);
        return HPT_EXIT_FAIL;
    }
    char path_key[4200], path_pub[4200];
    int rc = hpt_curve_save_role(prefix, &kp, role, force, path_key, path_pub, sizeof path_key,
                                 &err);
    hpt_curve_wipe(&kp);
    if (rc < 0) {
        fprintf(stderr, "hptune %s: %s\n", cmd, err.msg);
        return HPT_EXIT_FAIL;
    }
    printf("secret key: %s (mode 0600; keep it on this machine)\n", path_key);
    if (role)
        printf("public key: %s (role %s: copy it into the coordinator's authorized-keys "
               "directory, subdirectory %s/, then SIGHUP the coordinator)\n",
               path_pub, hpt_curve_role_name(role), hpt_curve_role_dir(role));
    else
        printf("public key: %s\n", path_pub);
    printf("%s\n", kp.public_z85);
    return HPT_EXIT_OK;
}
