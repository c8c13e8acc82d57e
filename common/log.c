/* log.c: the logfmt logger; see log.h. */
#include "log.h"
#include "text.h"

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
    if (!v)
        v = "";
    bool needs = *v == '\0' || strpbrk(v, " =") || hpt_text_needs_escape(v, HPT_TEXT_ESC_QUOTES);
    if (!needs) {
        snprintf(buf, len, "%s", v);
        return buf;
    }
    if (len < 3) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    /* "..." around the escaped value; a value cut to fit keeps its closing
     * quote and never ends inside an escape. */
    buf[0] = '"';
    hpt_text_escape(v, HPT_TEXT_ESC_QUOTES, buf + 1, len - 2);
    size_t o = 1 + strlen(buf + 1);
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

    char raw[1024], esc[1024];
    va_list ap;
    va_start(ap, fields_fmt);
    vsnprintf(raw, sizeof raw, fields_fmt, ap);
    va_end(ap);
    /* Call sites quote the values peers gave (hpt_log_quote); a control
     * character or a byte that is not UTF-8 that still got through is shown
     * as an escape here, so no sink (terminal, file, event stream) gets it
     * raw. */
    const char *fields = raw;
    if (hpt_text_needs_escape(raw, 0)) {
        hpt_text_escape(raw, 0, esc, sizeof esc);
        fields = esc;
    }

    char qmsg[512];
    hpt_log_quote(msg, qmsg, sizeof qmsg);
    char line[1800];
    snprintf(line, sizeof line,
             "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s component=%s msg=%s%s%s",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000, hpt_log_level_name(level), component, qmsg,
             fields[0] ? " " : "", fields);

    /* One event, one line: fields and msg are escaped above, and component
     * is ours; this is the last guard against a control byte (a fake new
     * event, a terminal escape) in the line. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
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
