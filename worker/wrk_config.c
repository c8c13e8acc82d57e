/*
 * wrk_config.c: the worker's option table and the code it drives; see
 * wrk_config.h.
 *
 * The table below is the only place an option is described: adding a row
 * adds the config-file key, the flag, its range check, its --help line and its
 * --dump-config line.  Nothing here is worker-specific except the table, so it
 * can move to common/config.c when the coordinator needs the same.
 */
#include "wrk_config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpt_config.h"
#include "log.h"

const hpt_wrk_cfg HPT_WRK_CFG_DEFAULT = {
    .coordinator = "",  // HPTUNE_COORDINATOR, else tcp://127.0.0.1:7600
    .slots = 0,         // online cores
    .data_dir = "",
    .model_cache_mb = 512,
    .name = "",         // host name
    .heartbeat_ms = 1000,
    .liveness = 3,
    .reconnect_ms = 1000,
    .reconnect_max_ms = 32000,
    .log_level = HPT_LOG_INFO,
    .log_file = "",
    .dry_run = false,
    .no_fetch = false,
    .fetch_chunk_kb = 256,
    .fetch_window = 8,
    .fetch_rate_kib_s = 0,
};

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7600"

// --- the table -----------------------------------------------------------

typedef enum opt_type {
    OPT_INT,      // int field, [min, max]
    OPT_BOOL,     // bool field; a bare flag on the command line
    OPT_STR,      // char[max] field
    OPT_STRLIST,  // hpt_wrk_strlist field, at most max entries; repeatable
    OPT_LEVEL,    // int field holding an hpt_log_level_t
} opt_type_t;

typedef struct opt {
    const char *name;     // config key; the flag is --name with '_' -> '-'
    opt_type_t type;
    size_t offset;        // offsetof(hpt_wrk_cfg, field)
    long long min, max;   // OPT_INT: the range; OPT_STR: buffer size; OPT_STRLIST: entries
    const char *meta;     // the value's name in --help
    const char *help;
} opt_t;

#define F(field) offsetof(hpt_wrk_cfg, field)

static const opt_t opts[] = {
    {"coordinator", OPT_STR, F(coordinator), 0, HPT_WRK_ENDPOINT_LEN, "ENDPOINT",
     "the coordinator's ZeroMQ endpoint (env HPTUNE_COORDINATOR)"},
    {"curve_secret", OPT_STR, F(curve_secret), 0, HPT_WRK_PATH_LEN, "FILE",
     "this worker's CURVE key pair (hptune keygen's PREFIX.key, mode 0600); with server_key "
     "the connection is encrypted, and the coordinator admits the worker only when its public "
     "key is in the coordinator's authorized keys (env HPTUNE_CURVE_SECRET; "
     "docs/security.md)"},
    {"server_key", OPT_STR, F(server_key), 0, HPT_WRK_PATH_LEN, "KEY",
     "the coordinator's public key: its .pub file or the 40 Z85 characters (env "
     "HPTUNE_SERVER_KEY)"},
    {"slots", OPT_INT, F(slots), 1, 1024, "N", "tasks run at once, one thread each"},
    {"data_dir", OPT_STR, F(data_dir), 0, HPT_WRK_PATH_LEN, "DIR",
     "where named datasets live (default: data/, then " HPT_DATADIR_SYSTEM ")"},
    {"dataset", OPT_STRLIST, F(datasets), 0, HPT_WRK_MAX_DATASETS, "NAME",
     "load this dataset (repeatable; default: mnist and fashion-mnist, when present)"},
    {"model_cache_mb", OPT_INT, F(model_cache_mb), 0, 1048576, "MB",
     "keep up to MB MiB of models from finished fold tasks, least recently used out first, "
     "so that a promoted trial (same configuration, seed and fold, more epochs) continues "
     "training where its earlier run stopped instead of starting over (0: keep none)"},
    {"name", OPT_STR, F(name), 0, HPT_WRK_NAME_LEN, "NAME",
     "the name `hptune workers` shows (default: the host name)"},
    {"heartbeat_ms", OPT_INT, F(heartbeat_ms), 1, 600000, "MS",
     "heartbeat interval until the coordinator's Welcome sets it"},
    {"liveness", OPT_INT, F(liveness), 1, 100, "N",
     "silent heartbeat intervals before the worker reconnects"},
    {"reconnect_ms", OPT_INT, F(reconnect_ms), 1, 600000, "MS",
     "first wait before reconnecting; doubles on each failure"},
    {"reconnect_max_ms", OPT_INT, F(reconnect_max_ms), 1, 3600000, "MS",
     "longest wait before reconnecting"},
    {"log_level", OPT_LEVEL, F(log_level), HPT_LOG_DEBUG, HPT_LOG_ERROR, "LEVEL",
     "debug | info | warn | error"},
    {"log_file", OPT_STR, F(log_file), 0, HPT_WRK_PATH_LEN, "FILE",
     "also append log lines to FILE (reopened on SIGHUP)"},
    {"dry_run", OPT_BOOL, F(dry_run), 0, 1, NULL,
     "answer every task at once with a fake, deterministic score (no training); the "
     "task's test_objective picks the function (hash, bowl)"},
    {"test_stall_epoch", OPT_INT, F(test_stall_epoch), 0, 100000, "N",
     "for tests of the coordinator's stall detection: every task hangs after epoch N while "
     "heartbeats go on, until cancelled (0 = off)"},
    {"no_fetch", OPT_BOOL, F(no_fetch), 0, 1, NULL,
     "ignore the coordinator's offers of datasets this worker lacks (by default it fetches "
     "them into the data dir, verifies their fingerprint and takes their tasks)"},
    {"fetch_chunk_kb", OPT_INT, F(fetch_chunk_kb), 1, 1024, "KB",
     "KiB asked for per chunk when fetching a dataset"},
    {"fetch_window", OPT_INT, F(fetch_window), 1, 64, "N",
     "chunk requests outstanding at most when fetching a dataset (credit-based flow control)"},
    {"fetch_rate_kib_s", OPT_INT, F(fetch_rate_kib_s), 0, 10485760, "KIB",
     "fetch datasets at most this many KiB per second (0 = no limit; tests use it to "
     "interrupt a transfer)"},
};

#define N_OPTS (sizeof opts / sizeof opts[0])

// --- run-time defaults ---------------------------------------------------

int wrk_cfg_defaults(hpt_wrk_cfg *cfg, hpt_err *err)
{
    *cfg = HPT_WRK_CFG_DEFAULT;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->slots = cores < 1 ? 1 : cores > 1024 ? 1024 : (int)cores;
    if (gethostname(cfg->name, sizeof cfg->name) != 0 || cfg->name[0] == '\0')
        strcpy(cfg->name, "localhost");
    cfg->name[sizeof cfg->name - 1] = '\0';  // POSIX leaves truncation unterminated
    const char *env = getenv("HPTUNE_COORDINATOR");
    if (!env || env[0] == '\0')
        env = DEFAULT_ENDPOINT;
    if (strlen(env) >= sizeof cfg->coordinator)
        return hpt_err_set(err, -EINVAL, "HPTUNE_COORDINATOR: longer than %zu bytes",
                           sizeof cfg->coordinator - 1);
    strcpy(cfg->coordinator, env);
    // CURVE keys, like the coordinator's address, may come from the environment.
    static const struct {
        const char *var;
        size_t off;
    } keys[] = {{"HPTUNE_CURVE_SECRET", F(curve_secret)}, {"HPTUNE_SERVER_KEY", F(server_key)}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *v = getenv(keys[i].var);
        if (!v)
            continue;
        if (strlen(v) >= HPT_WRK_PATH_LEN)
            return hpt_err_set(err, -EINVAL, "%s: longer than %d bytes", keys[i].var,
                               HPT_WRK_PATH_LEN - 1);
        strcpy((char *)cfg + keys[i].off, v);
    }
    return 0;
}

// --- setting one option --------------------------------------------------

static const opt_t *find_opt(const char *key, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *n = opts[i].name;
        if (strlen(n) != len)
            continue;
        size_t j = 0;
        // '-' and '_' are the same character in keys.
        while (j < len && (key[j] == n[j] || (key[j] == '-' && n[j] == '_')))
            j++;
        if (j == len)
            return &opts[i];
    }
    return NULL;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(s, no[i]) == 0)
            return *out = false, 0;
    }
    return -EINVAL;
}

/* Set option o of cfg from text.  `who` names the option in errors ("--slots"
 * or "slots").  replace_list: a list option's first value from this source
 * replaces the entries of an earlier source instead of adding to them. */
static int set_opt(hpt_wrk_cfg *cfg, const opt_t *o, const char *who, const char *val,
                   bool replace_list, hpt_err *err)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end != '\0')
            return hpt_err_set(err, -EINVAL, "%s: '%s' is not an integer (allowed %lld..%lld)",
                               who, val, o->min, o->max);
        if (v < o->min || v > o->max)
            return hpt_err_set(err, -EINVAL, "%s: %lld is out of range (allowed %lld..%lld)",
                               who, v, o->min, o->max);
        *(int *)field = (int)v;
        return 0;
    }
    case OPT_BOOL:
        if (parse_bool(val, (bool *)field) < 0)
            return hpt_err_set(err, -EINVAL, "%s: '%s' is not yes or no", who, val);
        return 0;
    case OPT_STR:
        if (strlen(val) >= (size_t)o->max)
            return hpt_err_set(err, -EINVAL, "%s: longer than %lld bytes", who, o->max - 1);
        strcpy(field, val);
        return 0;
    case OPT_STRLIST: {
        hpt_wrk_strlist *l = (hpt_wrk_strlist *)field;
        if (replace_list)
            l->n = 0;
        if (val[0] == '\0')
            return hpt_err_set(err, -EINVAL, "%s: empty name", who);
        if (strlen(val) >= sizeof l->v[0])
            return hpt_err_set(err, -EINVAL, "%s: longer than %zu bytes", who,
                               sizeof l->v[0] - 1);
        for (int i = 0; i < l->n; i++)
            if (strcmp(l->v[i], val) == 0)
                return 0;  // a repeated name loads once
        if (l->n >= o->max)
            return hpt_err_set(err, -EINVAL, "%s: given more than %lld times", who, o->max);
        strcpy(l->v[l->n++], val);
        return 0;
    }
    case OPT_LEVEL: {
        int lv = hpt_log_level_parse(val);
        if (lv < 0)
            return hpt_err_set(err, -EINVAL, "%s: unknown level '%s' (allowed: %s)", who, val,
                               o->help);
        *(int *)field = lv;
        return 0;
    }
    }
    return hpt_err_set(err, -EINVAL, "%s: bad option type", who);
}

/* Cross-field rules the table cannot say. */
static int check_cfg(const hpt_wrk_cfg *cfg, hpt_err *err)
{
    if (cfg->reconnect_max_ms < cfg->reconnect_ms)
        return hpt_err_set(err, -EINVAL,
                           "--reconnect-max-ms: %d is below --reconnect-ms %d (allowed %d..%d)",
                           cfg->reconnect_max_ms, cfg->reconnect_ms, cfg->reconnect_ms, 3600000);
    if (cfg->coordinator[0] == '\0')
        return hpt_err_set(err, -EINVAL, "--coordinator: empty endpoint");
    if (cfg->name[0] == '\0')
        return hpt_err_set(err, -EINVAL, "--name: empty name");
    if (!cfg->curve_secret[0] != !cfg->server_key[0])
        return hpt_err_set(err, -EINVAL,
                           "--%s is set but --%s is not: a CURVE worker needs its own key pair "
                           "(--curve-secret, env HPTUNE_CURVE_SECRET) and the coordinator's "
                           "public key (--server-key, env HPTUNE_SERVER_KEY)",
                           cfg->curve_secret[0] ? "curve-secret" : "server-key",
                           cfg->curve_secret[0] ? "server-key" : "curve-secret");
    return 0;
}

// --- the config file -----------------------------------------------------

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

int wrk_cfg_load_file(hpt_wrk_cfg *cfg, const char *path, hpt_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0, lineno = 0;
    bool list_seen[N_OPTS] = {false};
    char line[HPT_WRK_PATH_LEN + 128];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = hpt_err_set(err, -EINVAL, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        size_t klen = strcspn(s, " \t");
        char *val = trim(s + klen);
        s[klen] = '\0';
        // A value may be written in double quotes (an empty string, say).
        size_t vlen = strlen(val);
        if (vlen >= 2 && val[0] == '"' && val[vlen - 1] == '"') {
            val[vlen - 1] = '\0';
            val++;
        }
        const opt_t *o = find_opt(s, klen);
        if (!o) {
            rc = hpt_err_set(err, -EINVAL, "%s:%d: unknown key '%s'", path, lineno, s);
            break;
        }
        size_t idx = (size_t)(o - opts);
        hpt_err e = {0};
        if ((rc = set_opt(cfg, o, o->name, val, o->type == OPT_STRLIST && !list_seen[idx],
                          &e)) < 0) {
            hpt_err_set(err, rc, "%s:%d: %s", path, lineno, e.msg);
            break;
        }
        list_seen[idx] = true;
    }
    if (rc == 0 && ferror(f))
        rc = hpt_err_set(err, -EIO, "%s: read error", path);
    fclose(f);
    return rc;
}

// --- the command line ----------------------------------------------------

int wrk_cfg_parse_args(hpt_wrk_cfg *cfg, int argc, char **argv, wrk_cfg_action_t *action,
                       hpt_err *err)
{
    *action = WRK_CFG_RUN;
    // The file comes first whatever its position, so flags override it.
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *path = NULL;
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                return hpt_err_set(err, -EINVAL, "--config: missing value");
            path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
        if (path) {
            hpt_err e = {0};
            if (wrk_cfg_load_file(cfg, path, &e) < 0)
                return hpt_err_set(err, -EINVAL, "--config: %s", e.msg);
        }
    }

    bool list_seen[N_OPTS] = {false};
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *action = WRK_CFG_HELP;
            return 0;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            *action = WRK_CFG_VERSION;
            return 0;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose++;
            continue;
        }
        if (strcmp(a, "--dump-config") == 0) {
            *action = WRK_CFG_DUMP;
            continue;
        }
        if (strcmp(a, "--config") == 0) {
            i++;  // applied above
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return hpt_err_set(err, -EINVAL, "unexpected argument '%s'", a);

        const char *key = a + 2;
        const char *eq = strchr(key, '=');
        size_t klen = eq ? (size_t)(eq - key) : strlen(key);
        const opt_t *o = find_opt(key, klen);
        if (!o)
            return hpt_err_set(err, -EINVAL, "unknown option '%.*s'", (int)klen + 2, a);
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o->name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        const char *val;
        if (o->type == OPT_BOOL && !eq) {
            val = "yes";
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return hpt_err_set(err, -EINVAL, "%s: missing value", flag);
            val = argv[++i];
        }
        size_t idx = (size_t)(o - opts);
        int rc = set_opt(cfg, o, flag, val, o->type == OPT_STRLIST && !list_seen[idx], err);
        if (rc < 0)
            return rc;
        list_seen[idx] = true;
    }
    // -v raises the level one step per use (PipeWire).
    cfg->log_level = cfg->log_level - verbose < HPT_LOG_DEBUG ? HPT_LOG_DEBUG
                                                             : cfg->log_level - verbose;
    return check_cfg(cfg, err);
}

// --- help and dump -------------------------------------------------------

/* The value of o in cfg as text, for --help and --dump-config. */
static void fmt_value(const hpt_wrk_cfg *cfg, const opt_t *o, char *buf, size_t len)
{
    const char *field = (const char *)cfg + o->offset;
    switch (o->type) {
    case OPT_INT:
        snprintf(buf, len, "%d", *(const int *)field);
        break;
    case OPT_BOOL:
        snprintf(buf, len, "%s", *(const bool *)field ? "yes" : "no");
        break;
    case OPT_STR:
        snprintf(buf, len, "%s", field);
        break;
    case OPT_LEVEL:
        snprintf(buf, len, "%s", hpt_log_level_name((hpt_log_level_t) * (const int *)field));
        break;
    case OPT_STRLIST: {
        const hpt_wrk_strlist *l = (const hpt_wrk_strlist *)field;
        size_t off = 0;
        buf[0] = '\0';
        for (int i = 0; i < l->n && off < len; i++) {
            int k = snprintf(buf + off, len - off, "%s%s", i ? "," : "", l->v[i]);
            off += k > 0 ? (size_t)k : 0;
        }
        break;
    }
    }
}

/* Print text from column `indent` (the cursor is there), wrapping at spaces
 * before column `width`; continuation lines are indented likewise. */
static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
    int col = indent;
    while (*text) {
        size_t wlen = strcspn(text, " ");
        if (col > indent && col + 1 + (int)wlen > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fwrite(text, 1, wlen, f);
        col += (int)wlen;
        text += wlen;
        while (*text == ' ')
            text++;
    }
    fputc('\n', f);
}

void wrk_cfg_print_help(FILE *f, const hpt_wrk_cfg *defaults)
{
    fputs("Usage: hptune-worker [OPTIONS]\n"
          "\n"
          "Connect to an hptune coordinator, announce this machine's task slots and\n"
          "datasets, and run the training tasks it assigns, one thread per task.\n"
          "\n"
          "Options (each is also a config-file key: --data-dir is data_dir):\n",
          f);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &opts[i];
        char flag[64], val[HPT_WRK_PATH_LEN];
        int n = snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->meta ? " " : "",
                         o->meta ? o->meta : "");
        for (int j = 2; j < n && flag[j] != ' '; j++)
            if (flag[j] == '_')
                flag[j] = '-';
        fmt_value(defaults, o, val, sizeof val);
        char text[HPT_WRK_PATH_LEN + 512];
        int k = snprintf(text, sizeof text, "%s", o->help);
        if (o->type == OPT_INT && k > 0 && (size_t)k < sizeof text)
            k += snprintf(text + k, sizeof text - (size_t)k, ", %lld..%lld", o->min, o->max);
        if (val[0] && o->type != OPT_BOOL && k > 0 && (size_t)k < sizeof text)
            snprintf(text + k, sizeof text - (size_t)k, " [%s]", val);
        fprintf(f, "  %-24s  ", flag);
        print_wrapped(f, text, 28, 80);
    }
    fputs("  --config FILE             read `key value` lines from FILE first; flags\n"
          "                            override them\n"
          "  --dump-config             print the effective configuration and exit\n"
          "  -v, --verbose             log one level more (repeatable)\n"
          "  -h, --help                show this help\n"
          "  -V, --version             print the version\n"
          "\n"
          "Environment: HPTUNE_COORDINATOR is the default for --coordinator,\n"
          "HPTUNE_CURVE_SECRET for --curve-secret, HPTUNE_SERVER_KEY for --server-key.\n"
          "\n"
          "Security: a coordinator with CURVE keys (docs/security.md) admits only workers\n"
          "that give --curve-secret (this worker's key pair, from `hptune keygen -o\n"
          "PREFIX`) and --server-key (the coordinator's PREFIX.pub, or its 40-character\n"
          "key), and whose PREFIX.pub is in the coordinator's --authorized-keys directory.\n"
          "\n"
          "Signals: SIGINT/SIGTERM drain (finish running tasks, then exit 0); a second\n"
          "one cancels them and exits at once.  SIGHUP reopens --log-file.\n"
          "\n"
          "Exit status: 0 stopped by a signal, 1 rejected by the coordinator or fatal\n"
          "error, 2 bad flag, config file or key file.\n",
          f);
}

void wrk_cfg_dump(FILE *f, const hpt_wrk_cfg *cfg)
{
    fputs("# hptune-worker configuration (hptune-worker --dump-config)\n", f);
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt_t *o = &opts[i];
        if (o->type == OPT_STRLIST) {
            const hpt_wrk_strlist *l = (const hpt_wrk_strlist *)((const char *)cfg + o->offset);
            if (l->n == 0)
                fprintf(f, "# %s (none: the defaults)\n", o->name);
            for (int j = 0; j < l->n; j++)
                fprintf(f, "%s %s\n", o->name, l->v[j]);
            continue;
        }
        char val[HPT_WRK_PATH_LEN];
        fmt_value(cfg, o, val, sizeof val);
        if (val[0] == '\0')
            fprintf(f, "%s \"\"\n", o->name);
        else
            fprintf(f, "%s %s\n", o->name, val);
    }
}
