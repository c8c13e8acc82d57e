/*
 * cli.h: the hptune command-line client.  main() in hptune.c dispatches on
 * the first argument to one cli_<command>() per command; each parses its own
 * flags and returns the process exit status.
 *
 * Exit statuses shared by every command: 0 ok, 1 the operation failed (bad
 * data, training diverged, a sweep failed or was cancelled, no such sweep),
 * 2 usage error (bad flag or value, bad spec), 3 coordinator unreachable.
 * A watch interrupted by Ctrl-C exits 130, the shell's convention.
 *
 * Commands that talk to the coordinator live in cli_<command>.c and share
 * cli_client.h (the connection) and cli_format.h (tables, numbers, flags).
 */
#ifndef HPT_CLI_H
#define HPT_CLI_H

#include <stdbool.h>
#include <stdint.h>

#define HPT_EXIT_OK 0
#define HPT_EXIT_FAIL 1
#define HPT_EXIT_USAGE 2
#define HPT_EXIT_UNREACHABLE 3
#define HPT_EXIT_INTERRUPTED 130

// --- commands: argv[0] is the command name ----------------------------------

int cli_train(int argc, char **argv);    // cli_train.c
int cli_launch(int argc, char **argv);   // cli_launch.c
int cli_check(int argc, char **argv);    // cli_check.c
int cli_spec(int argc, char **argv);     // cli_spec.c
int cli_status(int argc, char **argv);   // cli_status.c
int cli_workers(int argc, char **argv);  // cli_workers.c
int cli_results(int argc, char **argv);  // cli_results.c
int cli_logs(int argc, char **argv);     // cli_logs.c
int cli_cancel(int argc, char **argv);   // cli_cancel.c
int cli_report(int argc, char **argv);   // cli_report.c
int cli_keygen(int argc, char **argv);   // cli_keygen.c

// --- shared between commands ------------------------------------------------

/* Read the spec file `path` whole into *out (owned, NUL-terminated),
 * refusing what no coordinator would take (a directory or unreadable file, more
 * than 1 MiB, NUL bytes, only whitespace).  Returns 0, or an exit status after
 * printing why on stderr.  cmd: the command's name for messages.
 * (cli_launch.c) */
int cli_read_spec(const char *cmd, const char *path, char **out);

/* Check the spec file `path` as `hptune check` does and print the account
 * (or every error); list_trials > 0 also lists the first trials.  quiet:
 * print nothing for a valid spec without warnings.  Returns the exit status:
 * 0 valid, 2 invalid or unreadable, 1 out of memory.  (cli_check.c) */
int cli_check_file(const char *cmd, const char *path, int list_trials, bool quiet);

typedef struct cli_client cli_client_t;

/* Watch sweep `sweep` (0 = every sweep that has not ended) until it ends,
 * printing progress to stdout: a redrawn bar per sweep every 0.5 s when
 * stdout is a terminal, else a plain line at most every 2 s when something
 * changed.  `cmd` names the command for messages.  Returns the exit status:
 * 0 when the sweep (every watched sweep) ended done, 1 when one failed or was
 * cancelled, or is unknown, 3 when the coordinator never answered, 130 on
 * Ctrl-C.  c: borrowed.  (cli_status.c) */
int cli_watch(cli_client_t *c, const char *cmd, uint64_t sweep);

/* Fetch the results of `sweep` and print the table of the `top` best trials
 * (0 = all) followed by the summary lines, as `hptune results` does.
 * Returns an exit status (0, 1 unknown sweep, 3 unreachable).  c: borrowed.
 * (cli_results.c) */
int cli_results_print(cli_client_t *c, const char *cmd, uint64_t sweep, int top);

#endif
