/*
 * coord_config.c: the coordinator's option table and the rules the table
 * cannot state; see coord_config.h.
 *
 * The table is the only place an option is described: adding a row adds the
 * config-file key, the flag, its range check, its --help entry and its
 * --dump-config line (common/config.c does the work).
 */
#include "coord_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "hpt_config.h"
#include "log.h"

const coord_cfg_t COORD_CFG_DEFAULT = {
    .bind = "tcp://127.0.0.1:7600",
    .db = "hptune.db",
    .data_dir = "",
    .log_file = "",
    .log_level = HPT_LOG_INFO,
    .hb_ivl_ms = 1000,
    .hb_liveness = 3,
    .max_attempts = 2,
    .task_stall_s = 600,
    .task_deadline_s = 86400,
    .fuse_max = 4,
    .io_threads = 2,
    .event_ring = 10000,
    .sub_timeout_ms = 10000,
    .max_followers = 256,
    .max_spec_bytes = 1048576,
    .max_active_sweeps_per_key = 32,
    .max_active_sweeps = 256,
    .keep_sweeps = 1000,
    .keep_sweeps_s = 0,
    .keep_events = 1000000,
    .keep_events_s = 2592000,
    .keep_workers = 10000,
    .hello_per_min = 60,
    .hello_burst = 5,
    .submit_per_min = 60,
    .submit_burst = 20,
    .history_per_min = 120,
    .history_burst = 30,
    .bad_per_min = 60,
    .bad_burst = 20,
    .conn_per_min = 600,
    .conn_burst = 4000,
    .max_conns_per_addr = 4096,
    .max_conns = 16384,
};

// --- the table -------------------------------------------------------------

#define STR(field, meta, help) HPT_CONFIG_STR_OPT(coord_cfg_t, field, meta, help)
#define INT(field, lo, hi, meta, help) HPT_CONFIG_INT_OPT(coord_cfg_t, field, lo, hi, meta, help)

static const hpt_config_opt_t opts[] = {
    STR(bind, "ENDPOINT", "ZeroMQ endpoint to bind (workers and clients connect here)"),
    STR(db, "FILE", "SQLite journal of sweeps, trials, tasks, results, workers and events"),
    STR(data_dir, "DIR", "directory of the coordinator's datasets, used for fingerprints "
                         "(empty: data, then the system data dir)"),
    STR(data_roots, "DIR[:DIR]...", "directories a spec's idx:DIR may name (after realpath, "
                                    "no symbolic links); the coordinator reads and serves "
                                    "nothing outside them (empty: data_dir, or its default "
                                    "search path)"),
    STR(log_file, "FILE", "also append log lines here (reopened on SIGHUP); empty: stderr only"),
    HPT_CONFIG_ENUM_OPT(coord_cfg_t, log_level, hpt_config_log_levels, "LEVEL",
                        "debug | info | warn | error"),
    INT(hb_ivl_ms, 10, 600000, "MS", "heartbeat interval in milliseconds"),
    INT(hb_liveness, 1, 100, "N", "missed heartbeats before a worker is declared dead"),
    INT(max_attempts, 1, 100, "N", "attempts per task before its trial fails"),
    INT(task_stall_s, 1, 31536000, "S",
        "re-lease a task whose worker reports no new epoch for this many seconds"),
    INT(task_deadline_s, 1, 31536000, "S",
        "re-lease a task still running after this many seconds"),
    INT(fuse_max, 1, 16, "N",
        "lease up to this many tasks that see the same mini-batches to one slot of a "
        "worker that can train them together (first layers fused, each result as alone); "
        "1: every task alone"),
    INT(io_threads, 1, 16, "N",
        "ZeroMQ I/O threads, over which the connections are spread; the default 2 keeps a "
        "client's request from queueing behind thousands of workers' traffic on one thread"),
    INT(event_ring, 16, 1000000, "N", "recent events kept for late `hptune logs` subscribers"),
    INT(sub_timeout_ms, 100, 3600000, "MS",
        "drop a log follower that has not renewed for this long"),
    INT(max_followers, 0, 1000000, "N",
        "log followers (hptune logs -f) at once; more are refused; 0: no limit"),
    STR(http, "HOST:PORT", "serve HTTP here: Prometheus /metrics, the JSON API /api/ and a "
                           "dashboard at / (docs/http.md); beyond loopback only with "
                           "--insecure; empty: off"),
    // Security (docs/security.md).
    STR(curve_secret, "FILE", "CURVE key pair file (hptune keygen's PREFIX.key, mode 0600): "
                              "encrypt every connection and admit only the keys in "
                              "authorized_keys; empty: plain text, allowed only on loopback"),
    STR(authorized_keys, "DIR", "directory of the public keys allowed to connect, one per "
                                "file (PREFIX.pub); re-read on SIGHUP"),
    HPT_CONFIG_BOOL_OPT(coord_cfg_t, insecure,
                        "run unprotected beyond loopback: bind without curve_secret, serve "
                        "http on a public address; no authentication, no encryption (a "
                        "warning is logged)"),
    // Quotas, retention and rate limits (docs/security.md, "Quotas and limits").
    INT(max_spec_bytes, 1024, 1048576, "BYTES",
        "refuse a submitted spec larger than this (the protocol's own cap is 1 MiB)"),
    INT(max_active_sweeps_per_key, 0, 1000000, "N",
        "refuse a submission when its key (without keys: its address, or its user on ipc://) "
        "has this many sweeps queued, running or refitting; 0: no limit"),
    INT(max_active_sweeps, 0, 1000000, "N",
        "refuse a submission when this many sweeps are queued, running or refitting; 0: no "
        "limit"),
    INT(keep_sweeps, 0, 1000000000, "N",
        "keep this many finished sweeps; older ones are deleted with their results; 0: keep "
        "all"),
    INT(keep_sweeps_s, 0, 2000000000, "S",
        "delete a finished sweep this many seconds after it ended; 0: no age limit"),
    INT(keep_events, 0, 2000000000, "N",
        "keep this many rows in the journal's events table, the newest; 0: keep all"),
    INT(keep_events_s, 0, 2000000000, "S",
        "delete events older than this many seconds from the journal, and the records of "
        "workers gone that long; 0: no age limit"),
    INT(keep_workers, 0, 1000000000, "N",
        "keep the journal's records of this many workers gone (left or silent), the most "
        "recently seen; older ones are deleted; 0: keep all"),
    INT(hello_per_min, 0, 1000000, "N",
        "Hellos one connection may send a minute (more are dropped); 0: no limit"),
    INT(hello_burst, 1, 1000000, "N",
        "Hellos one connection may send at once, before hello_per_min paces it"),
    INT(submit_per_min, 0, 1000000, "N",
        "submissions one connection, and one key (without keys: one address), may send a "
        "minute (more are refused); 0: no limit"),
    INT(submit_burst, 1, 1000000, "N",
        "submissions one connection, and one key, may send at once, before submit_per_min "
        "paces them"),
    INT(history_per_min, 0, 1000000, "N",
        "requests for the log's history (`hptune logs`) one connection, and one key (without "
        "keys: one address), may send a minute (more are refused); each replays the event "
        "ring; 0: no limit"),
    INT(history_burst, 1, 1000000, "N",
        "history requests one connection, and one key, may send at once, before "
        "history_per_min paces them"),
    INT(bad_per_min, 0, 1000000, "N",
        "undecodable, unexpected or refused messages one connection, and one key, may send a "
        "minute before more are dropped unanswered; 0: no limit"),
    INT(bad_burst, 1, 1000000, "N",
        "bad messages one connection, and one key, may send at once, before bad_per_min "
        "paces them"),
    INT(conn_per_min, 0, 10000000, "N",
        "new connections one source address may open a minute (more are refused at the "
        "handshake); 0: no limit"),
    INT(conn_burst, 1, 10000000, "N",
        "new connections one source address may open at once, before conn_per_min paces "
        "them (the default lets 2,000 workers on one machine connect together)"),
    INT(max_conns_per_addr, 0, 10000000, "N",
        "connections one source address may hold open (more are refused at the handshake); "
        "0: no limit"),
    INT(max_conns, 0, 10000000, "N",
        "connections the coordinator holds open in all (more are refused at the handshake); "
        "0: no limit"),
};

// The names of the first release, still accepted.
static const hpt_config_alias_t aliases[] = {
    {"heartbeat_ms", "hb_ivl_ms"},
    {"liveness", "hb_liveness"},
};

/* The rules that join two fields; the table checks each field alone. */
static int check_cfg(const void *p, hpt_err *err)
{
    const coord_cfg_t *cfg = p;
    if (cfg->authorized_keys[0] && !cfg->curve_secret[0])
        return hpt_err_set(err, -EINVAL,
                           "--authorized-keys needs --curve-secret FILE, the coordinator's own "
                           "key pair (hptune keygen -o PREFIX writes one)");
    return 0;
}

static const hpt_config_spec_t spec = {
    .prog = "hptune-coordinator",
    .version = HPT_VERSION,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .aliases = aliases,
    .n_aliases = sizeof aliases / sizeof aliases[0],
    .usage =
        "Usage: hptune-coordinator [--config FILE] [--KEY VALUE]...\n"
        "\n"
        "The hptune coordinator: accepts sweeps from `hptune launch`, hands (trial, fold)\n"
        "tasks to hptune-worker processes over ZeroMQ, aggregates their scores, refits the\n"
        "winner, and journals everything to SQLite.  Stop it with SIGINT or SIGTERM (the\n"
        "journal is flushed); SIGHUP reopens the log file and re-reads the authorized keys.\n"
        "\n"
        "With --http HOST:PORT (e.g. 127.0.0.1:7680) it also serves, read-only and without\n"
        "authentication: Prometheus metrics at /metrics, JSON at /api/sweeps,\n"
        "/api/sweeps/ID (the `hptune results --format json` table) and /api/workers, and\n"
        "a live dashboard at / (docs/http.md).  A non-loopback HOST needs --insecure.\n"
        "\n"
        "Security (docs/security.md): with --curve-secret FILE and --authorized-keys DIR\n"
        "every connection is encrypted and authenticated with CurveZMQ, and only workers\n"
        "and clients whose public key is a file in DIR may connect; each refusal is logged\n"
        "with the peer's address and key.  Without keys the coordinator speaks plain text,\n"
        "which it allows only on loopback (tcp://127.x.x.x, tcp://[::1], tcp://localhost,\n"
        "ipc://, inproc://): asked to bind elsewhere without keys it refuses to start, unless\n"
        "--insecure is given.  Keys in three commands:\n"
        "  hptune keygen -o /etc/hptune/coordinator     # coordinator.key and .pub\n"
        "  mkdir -p /etc/hptune/authorized_keys         # one worker/client .pub per file\n"
        "  hptune-coordinator --bind tcp://0.0.0.0:7600 \\\n"
        "      --curve-secret /etc/hptune/coordinator.key \\\n"
        "      --authorized-keys /etc/hptune/authorized_keys\n",
    .epilog =
        "\n"
        "A sample config file with every key: deploy/hptune-coordinator.conf.\n"
        "\n"
        "Exit status: 0 after a clean stop, 1 when it cannot start (bad bind address,\n"
        "unusable journal), 2 for a bad option, a bad key file or directory, or a\n"
        "non-loopback --bind without keys or --insecure.\n",
    .check = check_cfg,
};

// --- parsing ---------------------------------------------------------------

int coord_config_parse(coord_cfg_t *cfg, int argc, char **argv, hpt_config_args_t *args,
                       hpt_err *err)
{
    return hpt_config_parse_args(&spec, cfg, argc, argv, args, err);
}

bool coord_config_print_action(const hpt_config_args_t *args, const coord_cfg_t *cfg)
{
    return hpt_config_print_action(&spec, args, cfg, &COORD_CFG_DEFAULT);
}
