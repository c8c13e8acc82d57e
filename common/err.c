/* err.c: the hpt_err helpers; see err.h. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hpt_err_set(hpt_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void hpt_err_prefix(hpt_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char pre[HPT_ERR_MSG_LEN / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    char old[HPT_ERR_MSG_LEN];
    memcpy(old, err->msg, sizeof old);
    /* The prefix is capped at half the buffer so the original message keeps
     * the rest; precision arguments tell the compiler the bounds. */
    snprintf(err->msg, sizeof err->msg, "%.*s: %.*s", (int)sizeof pre - 1, pre,
             (int)(sizeof err->msg - sizeof pre - 2), old);
}

const char *hpt_strerror(int rc)
{
    /* strerror is not guaranteed thread-safe, but glibc's returns pointers to
     * constant strings for known codes, which is all we pass it. */
    return strerror(rc < 0 ? -rc : rc);
}
