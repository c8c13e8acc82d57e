/*
 * coord_config.h: the coordinator's options: the table over coord_cfg_t
 * (coord.h) that common/config.h turns into the config file, the flags,
 * range checks, --help and --dump-config, plus the rules that join two
 * fields.  Precedence, lowest first: COORD_CFG_DEFAULT, `--config FILE`, the
 * other flags.  Runs on the main thread before the loop starts.
 */
#ifndef HPT_COORD_CONFIG_H
#define HPT_COORD_CONFIG_H

#include "config.h"
#include "coord.h"

/* Apply argv to *cfg (borrowed, normally COORD_CFG_DEFAULT) and check the
 * result: the table's ranges, then the cross-field rule (--authorized-keys
 * needs --curve-secret; main checks --http with coord_http_check).  *args
 * receives the action and the -v count.  Returns 0, or a negative errno with
 * err naming the flag or file:line, the value and what is allowed: main
 * prints it and exits 2. */
int coord_config_parse(coord_cfg_t *cfg, int argc, char **argv, hpt_config_args_t *args,
                       hpt_err *err);

/* Carry out --help (showing COORD_CFG_DEFAULT), --version or --dump-config
 * (showing *cfg, borrowed) on stdout.  Returns true when main should exit 0,
 * false when the daemon is to run. */
bool coord_config_print_action(const hpt_config_args_t *args, const coord_cfg_t *cfg);

#endif
