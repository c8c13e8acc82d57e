/*
 * log.h: one line per event, logfmt: `ts level component msg key=value ...`.
 *
 *   hpt_log(HPT_LOG_INFO, "sched", "task leased", "task=%llu worker=%s", id, w);
 *
 * The fourth argument is a printf format for the key=value part; for no
 * fields write hpt_log(level, comp, msg, "%s", "") (an empty format string
 * draws -Wformat-zero-length).
 * The macro skips evaluating its arguments below the current level.  Lines go
 * to stderr, to an optional log file and to an optional sink (the
 * coordinator's event stream).  Thread-safe: a mutex serialises the writers,
 * so trainer threads may log.
 */
#ifndef HPT_LOG_H
#define HPT_LOG_H

#include <stdint.h>
#include <stdio.h>

typedef enum hpt_log_level {
    HPT_LOG_DEBUG = 0,
    HPT_LOG_INFO = 1,
    HPT_LOG_WARN = 2,
    HPT_LOG_ERROR = 3,
} hpt_log_level_t;

/* The structured form of one event, handed to the sink. */
typedef struct hpt_log_event {
    int64_t ts_us;            // wall clock, microseconds since the epoch
    hpt_log_level_t level;
    const char *component;    // borrowed for the duration of the call
    const char *msg;          // borrowed
    const char *fields;       // borrowed: "key=value key=value" (may be "")
    const char *line;         // borrowed: the whole formatted line, no newline
} hpt_log_event_t;

/* Called with the writer mutex held, on the logging thread: must not log. */
typedef void (*hpt_log_sink_fn)(const hpt_log_event_t *ev, void *ud);

extern hpt_log_level_t hpt__log_level;

#define hpt_log(level, component, msg, ...)                                  \
    do {                                                                     \
        if ((level) >= hpt__log_level)                                       \
            hpt_log_write((level), (component), (msg), __VA_ARGS__);         \
    } while (0)

void hpt_log_write(hpt_log_level_t level, const char *component, const char *msg,
                   const char *fields_fmt, ...) __attribute__((format(printf, 4, 5)));

/* Set the threshold; events below it are dropped before formatting. */
void hpt_log_set_level(hpt_log_level_t level);

/* "debug" | "info" | "warn" | "error" -> level, or -EINVAL. */
int hpt_log_level_parse(const char *s);
const char *hpt_log_level_name(hpt_log_level_t level);

/* Also append lines to `path` (NULL closes it).  Returns 0 or -errno.  Call
 * again with the same path to reopen after rotation (SIGHUP). */
int hpt_log_set_file(const char *path);

/* Turn the stderr copy on or off (on by default). */
void hpt_log_set_stderr(int on);

/* Install (or with fn NULL remove) the sink. */
void hpt_log_set_sink(hpt_log_sink_fn fn, void *ud);

/* A value for logfmt, into buf (size len; returns buf).  Written bare when
 * it is plain text (common/text.h) without spaces, '=', '"' or '\\' and not
 * empty; otherwise in double quotes with \" and \\, \n \r \t, \xHH for
 * other control bytes, DEL and bytes that are not UTF-8, and \u0080..\u009f
 * for C1 characters.  So a value from a peer can neither add a key=value
 * pair, nor end the line, nor reach a terminal as an escape sequence.  A
 * value cut to fit keeps its closing quote.  value may be NULL (""). */
const char *hpt_log_quote(const char *value, char *buf, size_t len);

/* hpt_log_quote into a buffer of the enclosing block (a compound literal),
 * for a value in an hpt_log call's arguments: hpt_log(..., "dataset=%s",
 * HPT_LOGQ(name)).  Values longer than about 590 bytes are cut. */
#define HPT_LOGQ(s) hpt_log_quote((s), (char[600]){0}, 600)

#endif
