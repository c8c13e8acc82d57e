/*
 * cli.h: the hptune command-line client.  main() in hptune.c dispatches on
 * the first argument to one cli_<command>() per command; each parses its own
 * flags and returns the process exit status.
 *
 * Exit statuses shared by every command: 0 ok, 1 the operation failed (bad
 * data, training diverged), 2 usage error (bad flag or value), 3 coordinator
 * unreachable.
 */
#ifndef HPT_CLI_H
#define HPT_CLI_H

#define HPT_EXIT_OK 0
#define HPT_EXIT_FAIL 1
#define HPT_EXIT_USAGE 2
#define HPT_EXIT_UNREACHABLE 3

/* `hptune train ...`: argv[0] is "train". */
int cli_train(int argc, char **argv);

#endif
