/*
 * cli_conf.h: where the hptune CLI's connection settings come from.
 *
 * Four settings say how to reach the coordinator: its address, this
 * client's CURVE key pair, the coordinator's public key and the reply
 * timeout.  Each is taken from the first of these that sets it:
 *   1. the flag (--coordinator, --curve-secret, --server-key, --timeout);
 *   2. the environment (HPTUNE_COORDINATOR, HPTUNE_CURVE_SECRET,
 *      HPTUNE_SERVER_KEY; an empty variable counts as unset);
 *   3. the user's config file, $XDG_CONFIG_HOME/hptune/config, or
 *      ~/.config/hptune/config when XDG_CONFIG_HOME is unset or not an
 *      absolute path (the XDG Base Directory rule): `key value` lines with
 *      the keys coordinator, curve_secret, server_key and timeout (whole
 *      seconds), '#' comments, values optionally in double quotes (the
 *      daemons' config syntax, common/config.h).  A key file named by a
 *      relative path is found relative to the config file's directory, and
 *      "~/" stands for $HOME;
 *   4. the default: tcp://127.0.0.1:7600, no keys, 5 seconds.
 * A missing file is no error; an unreadable one, an unknown key or a bad
 * value is (exit status 2, naming the file and line).  `hptune config`
 * prints the settings in effect and where each came from.
 *
 * Everything here runs on the CLI's one thread.
 */
#ifndef HPT_CLI_CONF_H
#define HPT_CLI_CONF_H

#include <stdbool.h>

#include "cli_client.h"

#define CLI_CONF_PATH_LEN 4096

/* The settings in effect, and where each came from. */
typedef struct cli_conf {
    char path[CLI_CONF_PATH_LEN];   // the user's config file; "" when neither
                                    // XDG_CONFIG_HOME nor HOME says where it is
    bool found;                     // it exists and was read
    char coordinator[512];
    char curve_secret[CLI_CONF_PATH_LEN];   // "" = none
    char server_key[CLI_CONF_PATH_LEN];     // a file or the 40 Z85 characters; "" = none
    double timeout_s;
    // Where each came from: "--coordinator", "HPTUNE_COORDINATOR", the
    // config file's path, or "default".
    char coordinator_from[CLI_CONF_PATH_LEN];
    char curve_secret_from[CLI_CONF_PATH_LEN];
    char server_key_from[CLI_CONF_PATH_LEN];
    char timeout_from[CLI_CONF_PATH_LEN];
} cli_conf_t;

/* Work out *c (borrowed; about 30 KiB, keep it off small stacks) from the
 * flags in o (borrowed), the environment and the user's config file.
 * Returns HPT_EXIT_OK, or HPT_EXIT_USAGE after printing why the config
 * file cannot be used (cmd names the command in the message). */
int cli_conf_resolve(const cli_conn_opts_t *o, cli_conf_t *c, const char *cmd);

/* `hptune config`: print the settings in effect and their sources. */
int cli_config(int argc, char **argv);

#endif
