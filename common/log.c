/* log.c: the logfmt logger; see log.h. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

hpt_log_level_t hpt__log_level = HPT_LOG_INFO;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static char *log_path;
static int log_stderr = 1;
static hpt_log_sink_fn log_sink;
static void *log_sink_ud;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *hpt_log_level_name(hpt_log_level_t level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

int hpt_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return HPT_LOG_WARN;
    return -EINVAL;
}

void hpt_log_set_level(hpt_log_level_t level)
{
    hpt__log_level = level;
}

void hpt_log_set_stderr(int on)
{
    pthread_mutex_lock(&log_mu);
    log_stderr = on;
    pthread_mutex_unlock(&log_mu);
}

void hpt_log_set_sink(hpt_log_sink_fn fn, void *ud)
{
    pthread_mutex_lock(&log_mu);
    log_sink = fn;
    log_sink_ud = ud;
    pthread_mutex_unlock(&log_mu);
}

int hpt_log_set_file(const char *path)
{
    int rc = 0;
    pthread_mutex_lock(&log_mu);
    if (log_file) {
        fclose(log_file);
        log_file = NULL;
    }
    if (path) {
        /* Keep our own copy so a reopen with log_path itself is safe. */
        char *copy = strdup(path);
        free(log_path);
        log_path = copy;
        log_file = copy ? fopen(copy, "a") : NULL;
        if (!log_file)
            rc = copy ? -errno : -ENOMEM;
        else
            setvbuf(log_file, NULL, _IOLBF, 0);
    } else {
        free(log_path);
        log_path = NULL;
    }
    pthread_mutex_unlock(&log_mu);
    return rc;
}

const char *hpt_log_quote(const char *v, char *buf, size_t len)
{
    bool needs = *v == '\0';
    for (const char *p = v; *p && !needs; p++)
        needs = *p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20;
    if (!needs) {
        snprintf(buf, len, "%s", v);
        return buf;
    }
    size_t o = 0;
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    buf[o++] = '"';
    for (const char *p = v; *p && o + 3 < len; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20) {
            buf[o++] = ' ';
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

void hpt_log_write(hpt_log_level_t level, const char *component, const char *msg,
                   const char *fields_fmt, ...)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);

    char fields[1024];
    va_list ap;
    va_start(ap, fields_fmt);
    vsnprintf(fields, sizeof fields, fields_fmt, ap);
    va_end(ap);

    char qmsg[512];
    hpt_log_quote(msg, qmsg, sizeof qmsg);
    char line[1800];
    snprintf(line, sizeof line,
             "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s msg=%s%s%s",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000, hpt_log_level_name(level), component, qmsg,
             fields[0] ? " " : "", fields);

    /* One event, one line: a newline or control byte inside a value (a
     * SQLite message, a peer's string) must not start a fake new event. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r' || (unsigned char)*p < 0x20)
            *p = ' ';

    pthread_mutex_lock(&log_mu);
    if (log_stderr)
        fprintf(stderr, "%s\n", line);
    if (log_file)
        fprintf(log_file, "%s\n", line);
    if (log_sink) {
        hpt_log_event_t ev = {
            .ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
            .level = level,
            .component = component,
            .msg = msg,
            .fields = fields,
            .line = line,
        };
        log_sink(&ev, log_sink_ud);
    }
    pthread_mutex_unlock(&log_mu);
}
