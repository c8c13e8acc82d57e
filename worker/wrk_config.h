/*
 * wrk_config.h: the worker's configuration: one struct, one default constant
 * and one table that drives the config file, the command line, range checks,
 * --help and --dump-config (STYLE §15, Redis' standardConfig).
 *
 * Precedence, lowest first: HPT_WRK_CFG_DEFAULT, then the values only known at
 * run time (HPTUNE_COORDINATOR, the number of online cores;
 * wrk_cfg_defaults()), then `--config FILE`, then the other flags.  A config
 * key `foo_bar` is the flag `--foo-bar` (`--foo_bar` and `--foo-bar=V` are
 * accepted too).  Everything here runs on the main thread before the loop
 * starts.
 */
#ifndef HPT_WRK_CONFIG_H
#define HPT_WRK_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

#define HPT_WRK_MAX_DATASETS 16     // --dataset may be given this many times
#define HPT_WRK_DATASET_LEN 1024    // bytes per dataset name, NUL included
#define HPT_WRK_ENDPOINT_LEN 256
#define HPT_WRK_NAME_LEN 256        // Hello.name is at most 255 bytes
#define HPT_WRK_PATH_LEN 4096

/* Exit statuses (the same as the hptune CLI's). */
#define HPT_WRK_EXIT_OK 0
#define HPT_WRK_EXIT_FAIL 1   // rejected by the coordinator, or a fatal runtime error
#define HPT_WRK_EXIT_USAGE 2  // bad flag, value or config file

/* A repeatable string option (the layout HPT_CONFIG_STRLIST_OPT expects). */
typedef struct hpt_wrk_strlist {
    int n;                                         // entries used
    char v[HPT_WRK_MAX_DATASETS][HPT_WRK_DATASET_LEN];
} hpt_wrk_strlist;

typedef struct hpt_wrk_cfg {
    char coordinator[HPT_WRK_ENDPOINT_LEN];  // ZeroMQ endpoint of the coordinator
    char curve_secret[HPT_WRK_PATH_LEN];     // CURVE key pair file; "" = plain text
    char server_key[HPT_WRK_PATH_LEN];       // the coordinator's public key: file or Z85
    int slots;                               // concurrent tasks, 1..1024
    char data_dir[HPT_WRK_PATH_LEN];         // "" = the default search path (dataset.h)
    hpt_wrk_strlist datasets;                // names to load; none = hpt_dataset_names
    int model_cache_mb;                      // bound of the model cache (wrk_cache.h), MiB;
                                             // 0 = keep no models
    char max_model_mem[32];                  // memory budget of the running tasks' models:
                                             // "auto" or a size ("512M", "4G", MiB if bare);
                                             // wrk_cfg_mem_parse
    char name[HPT_WRK_NAME_LEN];             // shown by `hptune workers`; "" = claim HOST or
                                             // HOST-n at start (wrk_name.h)
    int heartbeat_ms;                        // heartbeat interval until Welcome says otherwise
    int liveness;                            // silent intervals before reconnecting
    int reconnect_ms;                        // first reconnect backoff
    int reconnect_max_ms;                    // backoff doubles up to this
    int log_level;                           // hpt_log_level_t (0 debug .. 3 error)
    char log_file[HPT_WRK_PATH_LEN];         // "" = stderr only
    bool dry_run;                            // fake scores, no training
    int test_stall_epoch;                    // tests only: hang every task after this epoch
                                             // (heartbeats continue); 0 = off
    bool no_fetch;                           // ignore the coordinator's dataset offers
    int fetch_chunk_kb;                      // KiB asked for per FetchChunk (wrk_fetch.h)
    int fetch_window;                        // FetchChunk requests outstanding at most
    int fetch_rate_kib_s;                    // fetch at most this many KiB/s; 0 = no limit
} hpt_wrk_cfg;

/* The compiled-in defaults.  slots 0 and empty coordinator/name mean "work it
 * out at run time" (wrk_cfg_defaults). */
extern const hpt_wrk_cfg HPT_WRK_CFG_DEFAULT;

/* *cfg = HPT_WRK_CFG_DEFAULT plus the run-time defaults: coordinator from
 * HPTUNE_COORDINATOR (else tcp://127.0.0.1:7600), curve_secret and server_key
 * from HPTUNE_CURVE_SECRET and HPTUNE_SERVER_KEY, slots = online cores
 * (clamped to 1..1024); name stays "" (main claims one, wrk_name.h).  Returns 0, or -EINVAL with err
 * filled when one of those variables is too long.  cfg: borrowed. */
int wrk_cfg_defaults(hpt_wrk_cfg *cfg, hpt_err *err);

/* The default memory budget: this share of the memory available at start
 * (wrk_mem_available), less --model-cache-mb, and never below the floor. */
#define HPT_WRK_MEM_AUTO_FRACTION 0.8
#define HPT_WRK_MEM_AUTO_FLOOR (64ull << 20)

/* Parse a --max-model-mem value: "auto" (*bytes = 0: derive it at start) or
 * a size: a number with an optional K, M, G or T suffix (powers of 1024; a
 * trailing "B" or "iB" is allowed) and MiB when it has none.  At least 1 MiB,
 * at most 1 PiB.  Returns 0 or -EINVAL with err saying what is allowed. */
int wrk_cfg_mem_parse(const char *s, uint64_t *bytes, hpt_err *err);

/* Apply `--config FILE` (if present) and then every other flag of argv to
 * *cfg (borrowed, normally from wrk_cfg_defaults; common/config.h), lower
 * log_level once per -v, and check the rules joining two fields.  *args
 * receives the action.  Returns 0, or a negative errno with err naming the
 * flag (or file:line), the value and the allowed range: the caller prints it
 * and exits 2. */
int wrk_cfg_parse_args(hpt_wrk_cfg *cfg, int argc, char **argv, hpt_config_args_t *args,
                       hpt_err *err);

/* Carry out --help (showing the run-time defaults), --version or
 * --dump-config (showing *cfg, borrowed) on stdout.  Returns true when main
 * should exit 0, false when the worker is to run. */
bool wrk_cfg_print_action(const hpt_config_args_t *args, const hpt_wrk_cfg *cfg);

#endif
