/*
 * err.h: error reporting conventions shared by every hptune module.
 *
 * Every fallible function returns int: 0 on success, a negative errno
 * otherwise (-EINVAL, -ENOMEM, -errno after a failed syscall).  Where a caller
 * needs context (a bad file, a bad flag, a bad peer message) the function takes
 * an optional `hpt_err *err` out-parameter that receives the code and a
 * human-readable message.  There is no global "last error": the trainer
 * threads and loop callbacks would fight over it.
 */
#ifndef HPT_ERR_H
#define HPT_ERR_H

#include <errno.h>

#define HPT_ERR_MSG_LEN 256

typedef struct hpt_err {
    int code;                   // negative errno, 0 when unset
    char msg[HPT_ERR_MSG_LEN];  // NUL-terminated message, "" when unset
} hpt_err;

/* Fill *err (when not NULL) with code and a printf-style message; returns
 * code so callers can write `return hpt_err_set(err, -EINVAL, "...")`.
 * err: borrowed, may be NULL.  Any thread. */
int hpt_err_set(hpt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix the existing message with "prefix: ", keeping the code.  Used to add
 * a file name to an error raised deeper down.  No-op when err is NULL. */
void hpt_err_prefix(hpt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* strerror(-rc) for a negative errno; a static string, any thread. */
const char *hpt_strerror(int rc);

#endif
