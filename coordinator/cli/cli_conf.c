/*
 * cli_conf.c: the CLI's connection settings from flags, environment, the
 * user's config file and defaults, in that order; see cli_conf.h.
 *
 * The file is read with the daemons' option-table engine (common/config.h),
 * so its syntax and its error messages (file:line: key: why) are theirs.
 */
#include "cli_conf.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_format.h"
#include "config.h"
#include "hpt_config.h"

// --- the file -------------------------------------------------------------------

/* What the file may set; "" and 0 mean "not set". */
typedef struct file_cfg {
    char coordinator[512];
    char curve_secret[CLI_CONF_PATH_LEN];
    char server_key[CLI_CONF_PATH_LEN];
    int timeout;   // seconds
} file_cfg_t;

static const hpt_config_opt_t file_opts[] = {
    HPT_CONFIG_STR_OPT(file_cfg_t, coordinator, "ADDR",
                       "the coordinator's ZeroMQ address (tcp://host:7600)"),
    HPT_CONFIG_STR_OPT(file_cfg_t, curve_secret, "FILE",
                       "this client's CURVE key pair (hptune keygen's PREFIX.key)"),
    HPT_CONFIG_STR_OPT(file_cfg_t, server_key, "KEY",
                       "the coordinator's public key: its .pub file or the 40 Z85 characters"),
    HPT_CONFIG_INT_OPT(file_cfg_t, timeout, 1, 3600, "SECONDS",
                       "how long to wait for the coordinator to answer"),
};

static const hpt_config_spec_t file_spec = {
    .prog = "hptune",
    .version = HPT_VERSION,
    .opts = file_opts,
    .n_opts = sizeof file_opts / sizeof file_opts[0],
};

/* The user's config file: $XDG_CONFIG_HOME/hptune/config when that is an
 * absolute path (the XDG rule: a relative one is ignored), else
 * $HOME/.config/hptune/config; "" when neither variable helps. */
static void conf_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    buf[0] = '\0';
    if (xdg && xdg[0] == '/')
        snprintf(buf, len, "%s/hptune/config", xdg);
    else if (home && home[0])
        snprintf(buf, len, "%s/.config/hptune/config", home);
}

/* A key file named in the config file: "~/x" is $HOME/x, a relative path is
 * relative to the config file's directory, an absolute one stays.  A server
 * key may also be the key itself (40 Z85 characters): the value is kept as
 * written when no file of the resolved name exists and it has a key's
 * length, and hpt_curve_public_arg decides. */
static int resolve_path(const char *conf, const char *key, const char *val, char *out,
                        size_t len, const char *cmd)
{
    int n;
    if (strncmp(val, "~/", 2) == 0) {
        const char *home = getenv("HOME");
        if (!home || !home[0])
            return cli_usage_error(cmd, "%s: %s: '%s' starts with ~/ but HOME is not set", conf,
                                   key, val);
        n = snprintf(out, len, "%s/%s", home, val + 2);
    } else if (val[0] == '/') {
        n = snprintf(out, len, "%s", val);
    } else {
        const char *slash = strrchr(conf, '/');
        int dir = slash ? (int)(slash - conf) : 0;
        n = snprintf(out, len, "%.*s%s%s", dir, conf, slash ? "/" : "", val);
        if (strcmp(key, "server_key") == 0 && strlen(val) == 40) {
            FILE *f = fopen(out, "r");
            if (f)
                fclose(f);
            else
                n = snprintf(out, len, "%s", val);
        }
    }
    if (n < 0 || (size_t)n >= len)
        return cli_usage_error(cmd, "%s: %s: path too long", conf, key);
    return HPT_EXIT_OK;
}

// --- resolving ------------------------------------------------------------------

/* Set one string setting from the first source that has it. */
static int pick(char *dst, size_t dlen, char *from, size_t flen, const char *flag_val,
                const char *flag, const char *env, const char *file_val, const char *file,
                const char *def, const char *cmd)
{
    const char *v = flag_val, *src = flag;
    const char *e = getenv(env);
    if (!v && e && e[0]) {
        v = e;
        src = env;
    }
    if (!v && file_val[0]) {
        v = file_val;
        src = file;
    }
    if (!v) {
        v = def;
        src = "default";
    }
    if (strlen(v) >= dlen)
        return cli_usage_error(cmd, "%s: longer than %zu bytes", src, dlen - 1);
    snprintf(dst, dlen, "%s", v);
    snprintf(from, flen, "%s", src);
    return HPT_EXIT_OK;
}

int cli_conf_resolve(const cli_conn_opts_t *o, cli_conf_t *c, const char *cmd)
{
    *c = (cli_conf_t){0};
    file_cfg_t *f = calloc(1, sizeof *f);
    if (!f) {
        fprintf(stderr, "hptune %s: out of memory\n", cmd);
        return HPT_EXIT_FAIL;
    }
    int status = HPT_EXIT_OK;
    conf_path(c->path, sizeof c->path);
    if (c->path[0]) {
        hpt_err err = {0};
        int rc = hpt_config_load_file(&file_spec, f, c->path, &err);
        if (rc == 0) {
            c->found = true;
        } else if (rc != -ENOENT && rc != -ENOTDIR) {
            status = cli_usage_error(cmd, "%s (the user's config file; see hptune config "
                                          "--help)", err.msg);
            goto out;
        }
    }
    char buf[CLI_CONF_PATH_LEN];
    if (f->curve_secret[0]) {
        if ((status = resolve_path(c->path, "curve_secret", f->curve_secret, buf, sizeof buf,
                                   cmd)))
            goto out;
        snprintf(f->curve_secret, sizeof f->curve_secret, "%s", buf);
    }
    if (f->server_key[0]) {
        if ((status = resolve_path(c->path, "server_key", f->server_key, buf, sizeof buf, cmd)))
            goto out;
        snprintf(f->server_key, sizeof f->server_key, "%s", buf);
    }
    if ((status = pick(c->coordinator, sizeof c->coordinator, c->coordinator_from,
                       sizeof c->coordinator_from, o->addr, "--coordinator",
                       "HPTUNE_COORDINATOR", f->coordinator, c->path, CLI_DEFAULT_COORDINATOR,
                       cmd)) ||
        (status = pick(c->curve_secret, sizeof c->curve_secret, c->curve_secret_from,
                       sizeof c->curve_secret_from, o->curve_secret, "--curve-secret",
                       "HPTUNE_CURVE_SECRET", f->curve_secret, c->path, "", cmd)) ||
        (status = pick(c->server_key, sizeof c->server_key, c->server_key_from,
                       sizeof c->server_key_from, o->server_key, "--server-key",
                       "HPTUNE_SERVER_KEY", f->server_key, c->path, "", cmd)))
        goto out;
    // The timeout has no environment variable.
    if (o->timeout_s > 0) {
        c->timeout_s = o->timeout_s;
        snprintf(c->timeout_from, sizeof c->timeout_from, "--timeout");
    } else if (f->timeout > 0) {
        c->timeout_s = f->timeout;
        snprintf(c->timeout_from, sizeof c->timeout_from, "%s", c->path);
    } else {
        c->timeout_s = CLI_DEFAULT_TIMEOUT_S;
        snprintf(c->timeout_from, sizeof c->timeout_from, "default");
    }
out:
    free(f);
    return status;
}

// --- hptune config ----------------------------------------------------------------

static void print_help(FILE *f)
{
    fputs("Usage: hptune config [--path] [OPTIONS]\n"
          "\n"
          "Print the connection settings every command would use, one `key value` line\n"
          "each, followed by where it came from.  Each setting is taken from the first\n"
          "of:\n"
          "  1. its flag: --coordinator, --curve-secret, --server-key, --timeout;\n"
          "  2. the environment: HPTUNE_COORDINATOR, HPTUNE_CURVE_SECRET,\n"
          "     HPTUNE_SERVER_KEY (empty counts as unset);\n"
          "  3. the user's config file, $XDG_CONFIG_HOME/hptune/config, else\n"
          "     ~/.config/hptune/config;\n"
          "  4. the default: tcp://127.0.0.1:7600, no keys, a 5 s timeout.\n"
          "\n"
          "The config file holds `key value` lines (keys coordinator, curve_secret,\n"
          "server_key, timeout in whole seconds; '#' starts a comment; a value may be\n"
          "in double quotes).  A relative key file name is relative to the file's\n"
          "directory and ~/ is the home directory.  For example:\n"
          "  coordinator tcp://tuner.lan:7600\n"
          "  curve_secret me.key          # ~/.config/hptune/me.key\n"
          "  server_key coordinator.pub\n"
          "\n"
          "Options:\n"
          "  --path                  print only the config file's path\n"
          CLI_CONN_HELP
          "  -h, --help              show this help\n"
          "\n"
          "Exit status: 0 ok, 2 bad flag or config file.\n"
          "\n"
          "Example:\n"
          "  mkdir -p ~/.config/hptune && echo 'coordinator tcp://tuner.lan:7600' \\\n"
          "      >> \"$(hptune config --path)\" && hptune config\n",
          f);
}

enum { OPT_PATH = 1 };

static const struct option long_opts[] = {
    {"path", no_argument, NULL, OPT_PATH},
    {"help", no_argument, NULL, 'h'},
    CLI_CONN_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

int cli_config(int argc, char **argv)
{
    const char *cmd = "config";
    cli_opt_parser_t op = CLI_OPT_PARSER(cmd, ":h", long_opts, print_help);
    bool path_only = false;
    int opt;
    while ((opt = cli_opt_next(&op, argc, argv)) > 0) {
        if (opt == OPT_PATH)
            path_only = true;
        else
            return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
    if (opt == CLI_OPT_STOP)
        return op.status;
    if (optind < argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    cli_conf_t *c = calloc(1, sizeof *c);
    if (!c) {
        fputs("hptune config: out of memory\n", stderr);
        return HPT_EXIT_FAIL;
    }
    int status = HPT_EXIT_OK;
    if (path_only) {
        conf_path(c->path, sizeof c->path);
        if (!c->path[0])
            status = cli_usage_error(cmd, "neither XDG_CONFIG_HOME nor HOME is set");
        else
            printf("%s\n", c->path);
        goto out;
    }
    if ((status = cli_conf_resolve(&op.conn, c, cmd)))
        goto out;
    printf("# config file: %s (%s)\n", c->path[0] ? c->path : "none: HOME is not set",
           c->found ? "read" : "not present");
    /* Values in double quotes when they need them, so that the output is a
     * config file that reads back (the engine's quoting has no escapes:
     * a value with a quote or a newline cannot be written). */
    const struct {
        const char *key, *val, *from;
    } rows[] = {{"coordinator", c->coordinator, c->coordinator_from},
                {"curve_secret", c->curve_secret, c->curve_secret_from},
                {"server_key", c->server_key, c->server_key_from}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool q = !rows[i].val[0] || strpbrk(rows[i].val, " \t#") != NULL;
        printf("%s %s%s%s  # from %s\n", rows[i].key, q ? "\"" : "", rows[i].val, q ? "\"" : "",
               rows[i].from);
    }
    printf("timeout %g  # from %s\n", c->timeout_s, c->timeout_from);
out:
    free(c);
    return status;
}
