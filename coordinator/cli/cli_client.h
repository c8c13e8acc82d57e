/*
 * cli_client.h: the hptune CLI's connection to hptune-coordinator.
 *
 * One DEALER socket (ZMQ_LINGER 0, ZMQ_MAXMSGSIZE HPT_PROTO_MAX_MSG)
 * connected to the address from --coordinator, else $HPTUNE_COORDINATOR, else
 * the user's config file, else tcp://127.0.0.1:7600 (cli_conf.h).  Requests carry an increasing Envelope.req_id and a
 * reply is matched by it: anything else that arrives while waiting (a late
 * reply to an earlier request, a stray event) is dropped.  A request that is
 * not answered within the timeout (--timeout, default 5 s) is the "coordinator
 * unreachable" case: exit status 3 with a message naming the address.
 *
 * CURVE: with --curve-secret FILE (else $HPTUNE_CURVE_SECRET, else the config
 * file) and --server-key FILE_OR_Z85 (the same order) the socket is a CURVE client
 * (common/curve.h); giving only one of the two is a usage error.
 *
 * The process is single-threaded; the socket is touched only from it.
 */
#ifndef HPT_CLI_CLIENT_H
#define HPT_CLI_CLIENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "proto_io.h"

#define CLI_DEFAULT_COORDINATOR "tcp://127.0.0.1:7600"
#define CLI_DEFAULT_TIMEOUT_S 5.0
#define CLI_MAX_TIMEOUT_S 3600.0

/* The flags every client command accepts, filled by cli_conn_opt(). */
typedef struct cli_conn_opts {
    const char *addr;     // --coordinator (borrowed from argv); NULL = env or default
    double timeout_s;     // --timeout, seconds, (0, 3600]; 0 = the config file or default
    const char *curve_secret;  // --curve-secret (borrowed); NULL = env or none
    const char *server_key;    // --server-key (borrowed); NULL = env or none
} cli_conn_opts_t;

#define CLI_CONN_OPTS_DEFAULT ((cli_conn_opts_t){.addr = NULL, .timeout_s = 0})

/* getopt_long codes of the shared flags, and the table entries for them. */
enum { CLI_OPT_COORDINATOR = 1000, CLI_OPT_TIMEOUT, CLI_OPT_CURVE_SECRET, CLI_OPT_SERVER_KEY };
#define CLI_CONN_LONG_OPTS                                                  \
    {"coordinator", required_argument, NULL, CLI_OPT_COORDINATOR},          \
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                  \
    {"curve-secret", required_argument, NULL, CLI_OPT_CURVE_SECRET},        \
    {"server-key", required_argument, NULL, CLI_OPT_SERVER_KEY}

/* The help text of the shared flags, for each command's --help. */
#define CLI_CONN_HELP                                                                   \
    "  --coordinator ADDR      ZeroMQ address of hptune-coordinator\n"                  \
    "                          [$HPTUNE_COORDINATOR, else the config file, else\n"      \
    "                          " CLI_DEFAULT_COORDINATOR "]\n"                          \
    "  --timeout SECONDS       how long to wait for an answer, (0, 3600]      [5]\n"   \
    "  --curve-secret FILE     this client's key pair (hptune keygen's .key), for a\n"  \
    "                          coordinator with CURVE keys   [$HPTUNE_CURVE_SECRET]\n"  \
    "  --server-key KEY        the coordinator's public key: its .pub file or the\n"   \
    "                          40 Z85 characters               [$HPTUNE_SERVER_KEY]\n"  \
    "                          (flags beat the environment, which beats\n"             \
    "                          ~/.config/hptune/config; see hptune config --help)\n"

/* Handle getopt code `opt` when it is one of the shared flags: returns 1 when
 * handled, 0 when `opt` is not a shared flag, or HPT_EXIT_USAGE (after
 * printing why) for a bad value.  cmd: the command name for messages. */
int cli_conn_opt(cli_conn_opts_t *o, int opt, const char *arg, const char *cmd);

/* A client command's option loop: getopt_long over the command's table (whose
 * last rows are CLI_CONN_LONG_OPTS), handling what every client command
 * handles alike: the shared flags (into .conn), -h/--help (the command's
 * help on stdout), a missing value and an unknown option.  Build it with
 * CLI_OPT_PARSER; all pointers are borrowed and must outlive the loop. */
typedef struct cli_opt_parser {
    const char *cmd;                 // the command's name, for messages
    const char *shortopts;           // getopt's: starts with ':' and includes 'h'
    const struct option *longopts;   // the command's table, NULL-row terminated
    void (*help)(FILE *f);           // prints the command's --help
    cli_conn_opts_t conn;            // the shared flags, as given so far
    int status;                      // the exit status once CLI_OPT_STOP is returned
    bool started;                    // optind has been reset for this argv
} cli_opt_parser_t;

#define CLI_OPT_PARSER(cmd_, short_, long_, help_)                                     \
    ((cli_opt_parser_t){.cmd = (cmd_), .shortopts = (short_), .longopts = (long_),     \
                        .help = (help_), .conn = CLI_CONN_OPTS_DEFAULT})

enum { CLI_OPT_END = -1, CLI_OPT_STOP = -2 };

/* The next command-specific option (getopt's code, optarg set), CLI_OPT_END
 * when the options are over (optind is the first operand), or CLI_OPT_STOP
 * when the command must return p->status now: HPT_EXIT_OK after --help,
 * HPT_EXIT_USAGE after printing why a flag is wrong.  Written for
 * `while ((opt = cli_opt_next(&op, argc, argv)) > 0) switch (opt) ...`. */
int cli_opt_next(cli_opt_parser_t *p, int argc, char **argv);

/* Open the socket and connect.  Returns 0 with *out owned by the caller
 * (cli_client_destroy), or an exit status after printing why: 2 for an
 * address ZeroMQ does not accept, 1 otherwise.  o: borrowed (copied). */
int cli_client_new(cli_client_t **out, const cli_conn_opts_t *o, const char *cmd);

/* Close the socket (linger 0) and free; accepts NULL and sets *p = NULL. */
void cli_client_destroy(cli_client_t **p);

/* Replies are made safe to print as they arrive (cli_sanitize: control
 * characters and bytes that are not UTF-8 in their strings become visible
 * escapes).  A command that writes JSON sets raw, since hpt_json_str escapes
 * every string itself and JSON should carry the exact text. */
void cli_client_set_raw(cli_client_t *c, bool raw);

/* The address connected to (borrowed, valid until destroy). */
const char *cli_client_addr(const cli_client_t *c);

/* The configured timeout in milliseconds. */
int cli_client_timeout_ms(const cli_client_t *c);

/* Send env (borrowed) with a fresh req_id, which is returned in *req_id when
 * req_id is not NULL.  Waits at most the timeout for the socket to accept it.
 * Returns 0, -ETIMEDOUT, -EINTR (a signal arrived) or another -errno. */
int cli_client_send(cli_client_t *c, hpt_env_t *env, uint64_t *req_id);

/* Receive the next well-formed message, waiting at most timeout_ms (-1 =
 * forever).  Malformed messages are skipped.  Returns 0 with *out owned by
 * the caller (hpt_proto_free), -ETIMEDOUT, -EINTR or another -errno. */
int cli_client_recv(cli_client_t *c, int timeout_ms, hpt_env_t **out);

/* Send req (borrowed) and wait up to the timeout for the reply that echoes
 * its req_id (a Reject, which carries none, is returned too).  Returns 0 with
 * *reply owned by the caller, -ETIMEDOUT, -EINTR or another -errno. */
int cli_client_request(cli_client_t *c, hpt_env_t *req, hpt_env_t **reply);

/* cli_client_request for the lists that come in pages (StatusRequest for
 * all sweeps, WorkersRequest; docs/protocol.md): asks again from the last
 * item received while the reply says `more`, and returns one reply holding
 * every item, in order, with the counts of the last page.  Any other request
 * is sent once, as cli_client_request does.  An ErrorReply for any page is
 * returned in place of the list. */
int cli_client_request_all(cli_client_t *c, hpt_env_t *req, hpt_env_t **reply);

/* Print "hptune: coordinator at ADDR did not answer within N s (...)" to
 * stderr and return HPT_EXIT_UNREACHABLE. */
int cli_client_unreachable(const cli_client_t *c);

/* The usual request: send req (a list: every page, cli_client_request_all),
 * wait for a reply whose body is `want`.
 * Returns HPT_EXIT_OK with *reply owned by the caller, or an exit status
 * after printing why to stderr ("hptune CMD: ..."): 3 no answer, 2 for an
 * ErrorReply with code 2, 1 for any other ErrorReply (4 = not found), a
 * Reject or an unexpected body.  *reply is NULL unless 0 is returned. */
int cli_client_call(cli_client_t *c, const char *cmd, hpt_env_t *req, int want,
                    hpt_env_t **reply);

/* Report a reply that is not the one wanted (env borrowed): an ErrorReply's
 * message, a Reject's reason, or the unexpected body's name, to stderr as
 * "hptune CMD: ...".  Returns the exit status: 2 for ErrorReply code 2, else
 * 1. */
int cli_client_reply_error(const cli_client_t *c, const char *cmd, const hpt_env_t *env);

/* Map an ErrorReply code to an exit status: 2 -> 2, anything else -> 1. */
int cli_client_error_status(int code);

#endif
