/*
 * wrk_config.c: the worker's option table and the code it drives; see
 * wrk_config.h.
 *
 * The table below is the only place an option is described: adding a row
 * adds the config-file key, the flag, its range check, its --help line and its
 * --dump-config line; common/config.c does the work.  What stays here is
 * worker-specific: the run-time defaults and the rules joining two fields.
 */
#include "wrk_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hpt_config.h"
#include "log.h"
#include "text.h"

const hpt_wrk_cfg HPT_WRK_CFG_DEFAULT = {
    .coordinator = "",  // HPTUNE_COORDINATOR, else tcp://127.0.0.1:7600
    .slots = 0,         // online cores
    .data_dir = "",
    .model_cache_mb = 512,
    .max_model_mem = "auto",
    .name = "",         // HOST, or HOST-2, HOST-3... beside other workers (wrk_name.h)
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

#define F(field) offsetof(hpt_wrk_cfg, field)
#define STR(field, meta, help) HPT_CONFIG_STR_OPT(hpt_wrk_cfg, field, meta, help)
#define INT(field, lo, hi, meta, help) HPT_CONFIG_INT_OPT(hpt_wrk_cfg, field, lo, hi, meta, help)
#define BOOL(field, help) HPT_CONFIG_BOOL_OPT(hpt_wrk_cfg, field, help)

static const hpt_config_opt_t opts[] = {
    STR(coordinator, "ENDPOINT", "the coordinator's ZeroMQ endpoint (env HPTUNE_COORDINATOR)"),
    STR(curve_secret, "FILE",
        "this worker's CURVE key pair (hptune keygen's PREFIX.key, mode 0600); with server_key "
        "the connection is encrypted, and the coordinator admits the worker only when its "
        "public key is in the coordinator's authorized keys (env HPTUNE_CURVE_SECRET; "
        "docs/security.md)"),
    STR(server_key, "KEY",
        "the coordinator's public key: its .pub file or the 40 Z85 characters (env "
        "HPTUNE_SERVER_KEY)"),
    INT(slots, 1, 1024, "N", "tasks run at once, one thread each"),
    STR(data_dir, "DIR",
        "where named datasets live (default: data/, then " HPT_DATADIR_SYSTEM ")"),
    HPT_CONFIG_STRLIST_OPT(hpt_wrk_cfg, "dataset", datasets, "NAME",
                           "load this dataset (repeatable; default: mnist, mnist-10k and "
                           "fashion-mnist, when present)"),
    INT(model_cache_mb, 0, 1048576, "MB",
        "keep up to MB MiB of models from finished fold tasks, least recently used out first, "
        "so that a promoted trial (same configuration, seed and fold, more epochs) continues "
        "training where its earlier run stopped instead of starting over (0: keep none)"),
    STR(max_model_mem, "SIZE",
        "memory budget of the models of the tasks running at once (parameters, gradients, "
        "optimizer state, activations for the batch size, fold indices): a task whose model "
        "cannot fit in it fails with an error instead of being allocated, one that cannot fit "
        "next to the running ones waits; SIZE is auto (80% of the memory available at start, "
        "or of the cgroup's limit if lower, less --model-cache-mb, shared by the slots) or "
        "a size such as 512M, 4G (MiB without a suffix)"),
    STR(name, "NAME",
        "the name `hptune workers` and the dashboard show (default, or empty: the host name "
        "for the first worker on this host, HOST-2, HOST-3... for the next ones, so that "
        "every worker of a host has a name of its own)"),
    INT(heartbeat_ms, 1, 600000, "MS", "heartbeat interval until the coordinator's Welcome sets it"),
    INT(liveness, 1, 100, "N", "silent heartbeat intervals before the worker reconnects"),
    INT(reconnect_ms, 1, 600000, "MS", "first wait before reconnecting; doubles on each failure"),
    INT(reconnect_max_ms, 1, 3600000, "MS", "longest wait before reconnecting"),
    HPT_CONFIG_ENUM_OPT(hpt_wrk_cfg, log_level, hpt_config_log_levels, "LEVEL",
                        "debug | info | warn | error"),
    STR(log_file, "FILE", "also append log lines to FILE (reopened on SIGHUP)"),
    BOOL(dry_run, "answer every task at once with a fake, deterministic score (no training); "
                  "the task's test_objective picks the function (hash, bowl, noisy); the "
                  "coordinator sends only tasks of sweeps that set test_objective"),
    INT(test_stall_epoch, 0, 100000, "N",
        "for tests of the coordinator's stall detection: every task hangs after epoch N while "
        "heartbeats go on, until cancelled (0 = off)"),
    BOOL(no_fetch, "ignore the coordinator's offers of datasets this worker lacks (by default "
                   "it fetches them into the data dir, verifies their fingerprint and takes "
                   "their tasks)"),
    INT(fetch_chunk_kb, 1, 1024, "KB", "KiB asked for per chunk when fetching a dataset"),
    INT(fetch_window, 1, 64, "N",
        "chunk requests outstanding at most when fetching a dataset (credit-based flow "
        "control)"),
    INT(fetch_rate_kib_s, 0, 10485760, "KIB",
        "fetch datasets at most this many KiB per second (0 = no limit; tests use it to "
        "interrupt a transfer)"),
};

/* Cross-field rules the table cannot say. */
static int check_cfg(const void *p, hpt_err *err)
{
    const hpt_wrk_cfg *cfg = p;
    if (cfg->reconnect_max_ms < cfg->reconnect_ms)
        return hpt_err_set(err, -EINVAL,
                           "--reconnect-max-ms: %d is below --reconnect-ms %d (allowed %d..%d)",
                           cfg->reconnect_max_ms, cfg->reconnect_ms, cfg->reconnect_ms, 3600000);
    if (cfg->coordinator[0] == '\0')
        return hpt_err_set(err, -EINVAL, "--coordinator: empty endpoint");
    uint64_t mem;
    hpt_err me = {0};
    if (wrk_cfg_mem_parse(cfg->max_model_mem, &mem, &me) < 0)
        return hpt_err_set(err, -EINVAL, "--max-model-mem: %s", me.msg);
    /* The coordinator refuses a Hello whose name is not plain text (it is
     * shown in logs and terminals): say so here instead. */
    hpt_err te = {0};
    if (cfg->name[0] && hpt_text_check(cfg->name, &te) < 0)
        return hpt_err_set(err, -EINVAL, "--name: %s (a name must be UTF-8 text without "
                           "control characters)", te.msg);
    if (!cfg->curve_secret[0] != !cfg->server_key[0])
        return hpt_err_set(err, -EINVAL,
                           "--%s is set but --%s is not: a CURVE worker needs its own key pair "
                           "(--curve-secret, env HPTUNE_CURVE_SECRET) and the coordinator's "
                           "public key (--server-key, env HPTUNE_SERVER_KEY)",
                           cfg->curve_secret[0] ? "curve-secret" : "server-key",
                           cfg->curve_secret[0] ? "server-key" : "curve-secret");
    return 0;
}

static const hpt_config_spec_t spec = {
    .prog = "hptune-worker",
    .version = HPT_VERSION,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .usage = "Usage: hptune-worker [OPTIONS]\n"
             "\n"
             "Connect to an hptune coordinator, announce this machine's task slots and\n"
             "datasets, and run the training tasks it assigns, one thread per task.\n",
    .epilog =
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
    .check = check_cfg,
};

// --- run-time defaults ---------------------------------------------------

int wrk_cfg_defaults(hpt_wrk_cfg *cfg, hpt_err *err)
{
    *cfg = HPT_WRK_CFG_DEFAULT;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->slots = cores < 1 ? 1 : cores > 1024 ? 1024 : (int)cores;
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

int wrk_cfg_mem_parse(const char *s, uint64_t *bytes, hpt_err *err)
{
    if (strcmp(s, "auto") == 0) {
        *bytes = 0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    double mult = 1 << 20;   // MiB without a suffix
    switch (*end) {
    case 'K': case 'k': mult = 1024.0; end++; break;
    case 'M': case 'm': mult = 1024.0 * 1024; end++; break;
    case 'G': case 'g': mult = 1024.0 * 1024 * 1024; end++; break;
    case 'T': case 't': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (end[0] == 'i' && end[1] == 'B')
        end += 2;
    else if (end[0] == 'B')
        end++;
    double b = v * mult;
    if (end == s || *end != '\0' || errno || !(v >= 0) || s[0] == '-' || s[0] == '+')
        return hpt_err_set(err, -EINVAL, "'%s' is not a size (allowed: auto, or a number with "
                           "K, M, G or T, e.g. 512M or 4G; MiB without a suffix)", s);
    if (b < (double)(1 << 20) || b > 1125899906842624.0)
        return hpt_err_set(err, -EINVAL, "'%s' is out of range (allowed 1M..1024T, or auto)", s);
    *bytes = (uint64_t)b;
    return 0;
}

// --- parsing -------------------------------------------------------------

int wrk_cfg_parse_args(hpt_wrk_cfg *cfg, int argc, char **argv, hpt_config_args_t *args,
                       hpt_err *err)
{
    int rc = hpt_config_parse_args(&spec, cfg, argc, argv, args, err);
    // -v raises the level one step per use (PipeWire).
    int lvl = cfg->log_level - args->verbose;
    cfg->log_level = lvl < HPT_LOG_DEBUG ? HPT_LOG_DEBUG : lvl;
    return rc;
}

bool wrk_cfg_print_action(const hpt_config_args_t *args, const hpt_wrk_cfg *cfg)
{
    if (args->action != HPT_CONFIG_HELP)
        return hpt_config_print_action(&spec, args, cfg, cfg);
    hpt_wrk_cfg *d = malloc(sizeof *d);   // --help shows the run-time defaults, not cfg's
    if (d)
        wrk_cfg_defaults(d, NULL);
    hpt_config_print_action(&spec, args, cfg, d ? d : cfg);
    free(d);
    return true;
}
