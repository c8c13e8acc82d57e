/*
 * cli_format.h: output and flag helpers shared by the hptune client
 * commands: usage errors, number parsing, durations, scores, an aligned text
 * table, CSV writers, a progress bar and the terminal width (JSON is written
 * with common/json.h, shared with the coordinator's HTTP API).
 *
 * Conventions every command follows: NaN scores print as "-" in human
 * output, as an empty field in CSV and as null in JSON; numbers in CSV and
 * JSON use the shortest form that reads back to the same double (at most 17
 * significant digits), so nothing is lost.  Text is UTF-8; column widths
 * count code points, so "±" is one column.
 */
#ifndef HPT_CLI_FORMAT_H
#define HPT_CLI_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <protobuf-c/protobuf-c.h>

// --- flags --------------------------------------------------------------------

/* Print "hptune CMD: <message>\n(see hptune CMD --help)" to stderr and
 * return HPT_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a sweep id (a positive integer, optionally written "#N").  Returns 0
 * or HPT_EXIT_USAGE after printing why. */
int cli_parse_sweep(const char *cmd, const char *what, const char *s, uint64_t *out);

/* The operands argv[first..argc) must be exactly one sweep id (SWEEP):
 * parse it into *out.  Returns 0 or HPT_EXIT_USAGE after printing why. */
int cli_only_sweep(const char *cmd, int argc, char **argv, int first, uint64_t *out);

/* Parse an integer in [lo, hi].  Returns 0 or HPT_EXIT_USAGE after printing. */
int cli_parse_long(const char *cmd, const char *flag, const char *s, long lo, long hi,
                   long *out);

/* Parse a finite number in (lo, hi].  Returns 0 or HPT_EXIT_USAGE. */
int cli_parse_seconds(const char *cmd, const char *flag, const char *s, double lo, double hi,
                      double *out);

// --- numbers and durations ----------------------------------------------------

/* A duration like the train command's: "42s", "1m05s", "2h07m"; "-" when s
 * is negative or NaN (unknown).  Returns buf. */
const char *cli_fmt_duration(double s, char *buf, size_t len);

/* A score with 4 decimals, or "-" for NaN.  Returns buf. */
const char *cli_fmt_score(double v, char *buf, size_t len);

/* "0.9712 ± 0.0031", "0.9712" when std is NaN, "-" when mean is NaN. */
const char *cli_fmt_mean_std(double mean, double std, char *buf, size_t len);

/* The shortest decimal that strtod() reads back as exactly v (%.15g..%.17g);
 * "" for NaN, "inf"/"-inf" for infinities.  Returns buf (at least 32 bytes). */
const char *cli_fmt_exact(double v, char *buf, size_t len);

/* A unix time as "2024-05-01 14:03:07" in local time; "-" for 0.  Returns buf. */
const char *cli_fmt_time(double unix_s, char *buf, size_t len);

/* Number of terminal columns a UTF-8 string takes (code points). */
size_t cli_text_width(const char *s);

// --- aligned text tables -------------------------------------------------------

typedef struct cli_table cli_table_t;

/* A table with `ncols` columns named by headers (borrowed, must outlive the
 * table).  Returns 0 or -ENOMEM. */
int cli_table_new(cli_table_t **out, int ncols, const char *const *headers);
void cli_table_destroy(cli_table_t **p);

/* Right-align column col (numbers); columns are left-aligned by default. */
void cli_table_right(cli_table_t *t, int col);

/* Append a printf-formatted cell to the current row; the row ends by itself
 * after ncols cells.  Returns 0 or -ENOMEM (the table then prints what it
 * has). */
int cli_table_cell(cli_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the header and the rows, columns separated by two spaces, no
 * trailing blanks. */
void cli_table_print(const cli_table_t *t, FILE *f);

// --- CSV -----------------------------------------------------------------------

/* Write s as one CSV field (RFC 4180: quoted when it holds a comma, quote,
 * CR or LF, with quotes doubled). */
void cli_csv_str(FILE *f, const char *s);

/* Write v as a CSV number: cli_fmt_exact, NaN as an empty field. */
void cli_csv_num(FILE *f, double v);

// --- logfmt -------------------------------------------------------------------

/* The next key=value pair of a logfmt fields string, the inverse of
 * common/log.c's writer: pairs are separated by spaces; a bare value runs to
 * the next space and may hold '=' (a=b=c is key "a", value "b=c"); a quoted
 * value ("...") ends at the first unescaped quote, with \" for a quote, \\
 * for a backslash and \n for a newline (any other \X is X).  A token with no
 * '=' is a key with an empty value.
 *
 * Reads from *p (borrowed) and advances it past the pair.  *key points into
 * the string (borrowed, *key_len bytes, not NUL-terminated); the value,
 * unquoted and unescaped, is copied into val (vlen bytes, NUL-terminated, cut
 * to fit: it is never longer than strlen(*p), so a buffer of that size plus
 * one never cuts).  Returns false, touching nothing, when no pair is left. */
bool cli_logfmt_next(const char **p, const char **key, size_t *key_len, char *val, size_t vlen);

/* Write a logfmt fields string (borrowed; NULL as "") as one JSON object of
 * strings, in the order of the pairs: `sweep=3 err="no \"x\""` becomes
 * {"sweep":"3","err":"no \"x\""}.  Values stay strings (no guessing at
 * numbers); a key that appears twice keeps its first value, as a reader of
 * the text line would.  Returns 0, or -ENOMEM (nothing is written then). */
int cli_logfmt_json(FILE *f, const char *fields);

// --- peer strings -----------------------------------------------------------------

/* Make every string of the unpacked message m (borrowed; recursively, every
 * set field, repeated ones too) safe to print for people: a string that is
 * not plain text (common/text.h: control characters, bytes that are not
 * UTF-8) is replaced by its visible escape, e.g. ESC as \x1b and a newline
 * as \n.  A coordinator passes on what workers and other clients named
 * (worker names, sweep names, error texts); no such string reaches a
 * terminal raw.  m must come from protobuf-c's default allocator (what
 * hpt_proto_recv unpacks with).  Returns 0 or -ENOMEM (strings not yet
 * reached are left as they were).  JSON output does not need this
 * (hpt_json_str escapes). */
int cli_sanitize(ProtobufCMessage *m);

/* s (borrowed; NULL as "") with its non-printable characters escaped as
 * cli_sanitize does, into buf (len bytes).  Returns buf. */
const char *cli_esc(const char *s, char *buf, size_t len);

// --- terminal -------------------------------------------------------------------

/* A bar of `width` cells: '#' for done, '.' for the rest, into buf (at least
 * width+1 bytes).  frac is clamped to [0, 1].  Returns buf. */
const char *cli_fmt_bar(double frac, int width, char *buf, size_t len);

/* Columns of the terminal on fd, or 80 when unknown. */
int cli_term_width(int fd);

/* Copy s into buf cut to at most `cols` terminal columns. Returns buf. */
const char *cli_fit(const char *s, int cols, char *buf, size_t len);

#endif
