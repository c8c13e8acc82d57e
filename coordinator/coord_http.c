/*
 * coord_http.c: the coordinator's HTTP server (libmicrohttpd): /metrics
 * (Prometheus text format 0.0.4), /api/sweeps, /api/sweeps/ID, /api/workers,
 * a sweep's plots (/api/sweeps/ID/plots and /api/sweeps/ID/plots/NAME.svg,
 * rendered by common/plots.c, the renderer of `hptune report` too) and the
 * dashboard's static files.  See coord_http.h for the threads.
 *
 * Invariants:
 *   - An MHD thread touches only this file's job queue and counters (under
 *     mu), the embedded assets (read-only) and its own connection.  It never
 *     reads coord_t and never logs (hpt_log's sink writes loop state).
 *   - A job is owned by its connection thread while QUEUED or DONE, by the
 *     loop while TAKEN; a connection thread that gives up on a TAKEN job
 *     marks it ABANDONED and the loop frees it.
 *   - The uv_async_t outlives every MHD thread: coord_http_stop() stops the
 *     daemon (joining its threads) before closing the handle.
 *   - Everything rendered is read-only: no request changes coordinator
 *     state, so GET and HEAD are the only methods.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord_http.h"
#include "hpt_config.h"
#include "json.h"
#include "text.h"
#include "log.h"
#include "plots.h"

#define TYPE_JSON "application/json; charset=utf-8"
#define TYPE_PROM "text/plain; version=0.0.4; charset=utf-8"
#define TYPE_SVG "image/svg+xml"

/* A plot opened on its own may style itself (its <style> element) and do
 * nothing else: our SVG has no script or link, and this says so. */
#define CSP_SVG "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"

/* What the dashboard page may load: only itself (no CDN, no inline
 * script); SVG is built through the DOM, so its attributes are not inline
 * styles. */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " \
            "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// --- the server -------------------------------------------------------------

typedef enum { JOB_QUEUED, JOB_TAKEN, JOB_DONE, JOB_ABANDONED } job_state_t;

typedef struct job {
    char path[256];               // the URL path (no query string)
    job_state_t state;            // guarded by the server's mu
    int status;                   // HTTP status, set by the loop
    const char *type;             // Content-Type (static string)
    char *body;                   // malloc'd, owned by the job until answered
    size_t len;
    struct job *next;             // queue link while QUEUED
} job_t;

/* A sweep's rendered plots, kept while its results stay the same (loop
 * thread only): the dashboard asks for the index and every plot of a sweep
 * each refresh, and one rendering answers them all. */
#define PLOT_CACHE_N 8              // sweeps kept; the least recently used goes
#define PLOT_CACHE_LIVE_S 5.0       // a running sweep's plots are redrawn at least this
                                    // often (its best-so-far line runs on to now)

typedef struct plot_cache {
    uint64_t sweep;                 // 0: empty
    char stamp[160];                // what the plots were drawn from (plot_stamp)
    double made;                    // unix seconds
    uint64_t gen;                   // the rendering's number, for the URLs' ?v=
    uint64_t used;                  // LRU clock
    hpt_plots_t *plots;             // owned
} plot_cache_t;

/* Status codes counted for hptune_http_requests_total (the last: others). */
static const int CODES[] = {200, 403, 404, 405, 500, 503, 0};
#define N_CODES (sizeof CODES / sizeof CODES[0])

typedef struct coord_http {
    coord_t *c;                   // borrowed; loop thread only
    struct MHD_Daemon *mhd;
    uv_async_t async;             // wakes the loop for queued jobs and MHD errors
    int port;                     // bound port
    bool loopback;                // bound to loopback: Host must be an IP or localhost

    uv_mutex_t mu;                // guards everything below
    uv_cond_t cv;                 // a job became DONE (broadcast)
    bool closing;
    job_t *head, *tail;           // jobs waiting for the loop
    int n_jobs;
    uint64_t requests[N_CODES];   // answered, by status code
    uint64_t timeouts;            // requests the loop did not answer in time
    uint64_t mhd_errors;          // messages libmicrohttpd logged
    uint64_t mhd_errors_logged;   // of which the loop has logged (the last one each time)
    char mhd_error[256];          // the last one

    plot_cache_t cache[PLOT_CACHE_N];   // loop thread only (not under mu)
    uint64_t plot_gen, plot_clock;      // renderings so far; LRU clock
} coord_http_t;

// --- addresses --------------------------------------------------------------

int coord_http_parse_addr(const char *s, coord_http_addr_t *out, hpt_err *err)
{
    *out = (coord_http_addr_t){0};
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return hpt_err_set(err, -EINVAL, "'%s' is not HOST:PORT (for example 127.0.0.1:7680)",
                           s);
    char host[128];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof host)
        return hpt_err_set(err, -EINVAL, "'%s': host too long", s);
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end || errno || port < 0 || port > 65535)
        return hpt_err_set(err, -EINVAL, "'%s': the port must be a number 0..65535", s);
    out->port = (int)port;
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']')
            return hpt_err_set(err, -EINVAL, "'%s': unbalanced [ ] around the IPv6 address", s);
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
            return hpt_err_set(err, -EINVAL, "'%s': '%s' is not an IPv6 address", s, host + 1);
        out->len = sizeof *a6;
        out->ipv6 = true;
        out->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
        return 0;
    }
    if (strchr(host, ':'))
        return hpt_err_set(err, -EINVAL, "'%s': write an IPv6 address in brackets, as [::1]:7680",
                           s);
    const char *ip = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a4->sin_addr) != 1)
        return hpt_err_set(err, -EINVAL,
                           "'%s': '%s' is not an IPv4 address (host names other than localhost "
                           "are not resolved)", s, host);
    out->len = sizeof *a4;
    out->loopback = (ntohl(a4->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

int coord_http_check(const char *addr, bool insecure, hpt_err *err)
{
    coord_http_addr_t a;
    int rc = coord_http_parse_addr(addr, &a, err);
    if (rc < 0)
        return rc;
    if (!a.loopback && !insecure)
        return hpt_err_set(err, -EPERM,
                           "'%s' is not a loopback address, and the HTTP server has no "
                           "authentication: anyone who reaches it reads every sweep, result and "
                           "worker.  Bind it to 127.0.0.1 (reach it through an SSH tunnel or an "
                           "authenticating reverse proxy), or pass --insecure to serve it on "
                           "this address anyway", addr);
    return 0;
}

// --- the connection threads ---------------------------------------------------

static void count(coord_http_t *h, int status)
{
    size_t i = 0;
    while (CODES[i] && CODES[i] != status)
        i++;
    uv_mutex_lock(&h->mu);
    h->requests[i]++;
    uv_mutex_unlock(&h->mu);
}

/* Queue a response; body is handed to libmicrohttpd according to mode. */
static enum MHD_Result answer(coord_http_t *h, struct MHD_Connection *conn, int status,
                              const char *type, void *body, size_t len,
                              enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (!r) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (strncmp(type, "text/html", 9) == 0) {
        MHD_add_response_header(r, "Content-Security-Policy", CSP);
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
    } else if (strcmp(type, TYPE_SVG) == 0) {
        MHD_add_response_header(r, "Content-Security-Policy", CSP_SVG);
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    count(h, status);
    return rc;
}

/* s as a JSON string body into buf (escaping quotes, backslashes and
 * control characters; other bytes pass through). */
static size_t json_escape(char *buf, size_t cap, const char *s)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s);
    for (size_t i = 0; i < len && n + 7 < cap;) {
        uint32_t cp;
        size_t k = hpt_text_decode(p + i, len - i, &cp);
        if (k == 0)   // not UTF-8: U+FFFD, so the body stays valid JSON
            n += (size_t)snprintf(buf + n, cap - n, "\\ufffd");
        else if (cp == '"' || cp == '\\')
            n += (size_t)snprintf(buf + n, cap - n, "\\%c", (int)cp);
        else if (hpt_text_is_control(cp))
            n += (size_t)snprintf(buf + n, cap - n, "\\u%04x", (unsigned)cp);
        else {
            memcpy(buf + n, p + i, k);
            n += k;
        }
        i += k ? k : 1;
    }
    buf[n] = '\0';
    return n;
}

/* A JSON error answered from the connection thread: {"error": msg[, "path": path]}. */
static enum MHD_Result answer_error(coord_http_t *h, struct MHD_Connection *conn, int status,
                                    const char *msg, const char *path)
{
    char m[512], p[600], body[1300];
    json_escape(m, sizeof m, msg);
    int n;
    if (path) {
        json_escape(p, sizeof p, path);
        n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"path\":\"%s\"}\n", m, p);
    } else {
        n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", m);
    }
    return answer(h, conn, status, TYPE_JSON, body, (size_t)n, MHD_RESPMEM_MUST_COPY);
}

/* DNS rebinding: a page on another site whose name is made to resolve to
 * 127.0.0.1 would send its own name as Host.  On loopback only IP literals
 * and localhost are accepted. */
static bool host_ok(struct MHD_Connection *conn)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!host)
        return true;   // HTTP/1.0 without Host: no browser sends that
    char name[256];
    if (strlen(host) >= sizeof name)
        return false;
    strcpy(name, host);
    unsigned char tmp[sizeof(struct in6_addr)];
    if (name[0] == '[') {
        char *close = strchr(name, ']');
        if (!close)
            return false;
        *close = '\0';
        return inet_pton(AF_INET6, name + 1, tmp) == 1;
    }
    char *colon = strchr(name, ':');
    if (colon)
        *colon = '\0';
    return strcmp(name, "localhost") == 0 || inet_pton(AF_INET, name, tmp) == 1;
}

static void unlink_job(coord_http_t *h, job_t *j)
{
    job_t *prev = NULL;
    for (job_t *x = h->head; x; prev = x, x = x->next) {
        if (x != j)
            continue;
        if (prev)
            prev->next = x->next;
        else
            h->head = x->next;
        if (h->tail == x)
            h->tail = prev;
        h->n_jobs--;
        return;
    }
}

/* Hand the request to the loop thread and wait (bounded) for its answer. */
static enum MHD_Result via_loop(coord_http_t *h, struct MHD_Connection *conn, const char *url)
{
    if (strlen(url) >= sizeof ((job_t *)0)->path)
        return answer_error(h, conn, MHD_HTTP_NOT_FOUND, "not found", NULL);
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        return answer_error(h, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory", NULL);
    strcpy(j->path, url);
    uv_mutex_lock(&h->mu);
    const char *refuse = h->closing ? "the coordinator is stopping"
                       : h->n_jobs >= COORD_HTTP_MAX_JOBS ? "too many requests waiting"
                                                          : NULL;
    if (!refuse) {
        if (h->tail)
            h->tail->next = j;
        else
            h->head = j;
        h->tail = j;
        h->n_jobs++;
    }
    uv_mutex_unlock(&h->mu);
    if (refuse) {
        free(j);
        return answer_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE, refuse, NULL);
    }
    uv_async_send(&h->async);

    uint64_t deadline = uv_hrtime() + (uint64_t)COORD_HTTP_WAIT_MS * 1000000u;
    uv_mutex_lock(&h->mu);
    while (j->state != JOB_DONE) {
        uint64_t now = uv_hrtime();
        if (now >= deadline)
            break;
        (void)uv_cond_timedwait(&h->cv, &h->mu, deadline - now);
    }
    job_state_t st = j->state;
    if (st == JOB_QUEUED) {
        unlink_job(h, j);
        h->timeouts++;
    } else if (st == JOB_TAKEN) {
        j->state = JOB_ABANDONED;   // the loop frees it when it is done rendering
        h->timeouts++;
    }
    uv_mutex_unlock(&h->mu);
    if (st != JOB_DONE) {
        if (st == JOB_QUEUED)
            free(j);
        return answer_error(h, conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                            "the coordinator did not answer in time", NULL);
    }
    enum MHD_Result rc;
    if (j->body) {
        rc = answer(h, conn, j->status, j->type, j->body, j->len, MHD_RESPMEM_MUST_FREE);
    } else {   // rendering ran out of memory, or stopping answered it without a body
        bool oom = j->status == MHD_HTTP_INTERNAL_SERVER_ERROR;
        rc = answer_error(h, conn, oom ? j->status : MHD_HTTP_SERVICE_UNAVAILABLE,
                          oom ? "out of memory" : "the coordinator is stopping", NULL);
    }
    free(j);
    return rc;
}

static const coord_http_asset_t *asset_find(const char *url)
{
    if (strcmp(url, "/index.html") == 0)
        url = "/";
    for (const coord_http_asset_t *a = coord_http_assets; a->path; a++)
        if (strcmp(a->path, url) == 0)
            return a;
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    coord_http_t *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return answer_error(h, conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed: this server is read-only (GET and HEAD)", NULL);
    /* Answer on the second call, once the request is complete: a response
     * queued on the first one makes libmicrohttpd close the connection
     * (no keep-alive).  A body sent with a GET is read and ignored. */
    if (*con_cls == NULL) {
        *con_cls = h;   // a marker (the server itself): the headers were seen
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (h->loopback && !host_ok(conn))
        return answer_error(h, conn, MHD_HTTP_FORBIDDEN,
                            "Host must be an IP address or localhost on a loopback bind", NULL);
    const coord_http_asset_t *a = asset_find(url);
    if (a)
        return answer(h, conn, MHD_HTTP_OK, a->type, (void *)a->data, a->len,
                      MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/metrics") == 0 || strcmp(url, "/api") == 0 || strncmp(url, "/api/", 5) == 0)
        return via_loop(h, conn, url);
    return answer_error(h, conn, MHD_HTTP_NOT_FOUND, "not found", url);
}

/* libmicrohttpd's error messages: kept for the loop to log (this thread
 * must not log). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    coord_http_t *h = cls;
    uv_mutex_lock(&h->mu);
    vsnprintf(h->mhd_error, sizeof h->mhd_error, fmt, ap);
    h->mhd_error[strcspn(h->mhd_error, "\r\n")] = '\0';
    h->mhd_errors++;
    uv_mutex_unlock(&h->mu);
    /* Valid from before MHD_start_daemon until after MHD_stop_daemon has
     * joined every thread. */
    uv_async_send(&h->async);
}

// --- rendering (loop thread) ----------------------------------------------------

/* JSON goes through common/json.h, the writer `hptune results` uses too. */

static void render_sweeps(coord_t *c, FILE *f)
{
    coord_sweep_info_t b;
    fputs("{\"sweeps\":[", f);
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        coord_sweep_info_fill(s, &b, false);
        if (s != c->core.sweeps)
            fputc(',', f);
        hpt_json_sweep(f, &b.info);
    }
    unsigned slots = 0, busy = 0;
    for (coord_worker_t *w = c->core.workers; w; w = w->next) {
        slots += (unsigned)w->slots;
        busy += (unsigned)w->units;   // a bundle's tasks fill one slot
    }
    fprintf(f, "],\"workers\":%d,\"slots\":%u,\"slots_busy\":%u,\"now_unix\":", c->core.n_workers,
            slots, busy);
    hpt_json_num(f, coord_unix());
    fputs("}\n", f);
}

static const char *pkind_name(coord_pkind_t k)
{
    switch (k) {
    case COORD_PKIND_INT: return "int";
    case COORD_PKIND_FLOAT: return "float";
    case COORD_PKIND_ENUM: return "enum";
    case COORD_PKIND_BOOL: return "bool";
    case COORD_PKIND_ARCH: return "layers";
    }
    return "?";
}

static const char *pdist_name(coord_pdist_t d)
{
    return coord_pdist_name(d);
}

/* The search space, for the dashboard's axes (not part of `hptune results`). */
static void j_space(FILE *f, const coord_sweep_t *s)
{
    fputc('[', f);
    for (int i = 0; i < s->spec->n_params; i++) {
        const coord_param_t *p = &s->spec->params[i];
        bool numeric = p->kind == COORD_PKIND_INT || p->kind == COORD_PKIND_FLOAT;
        fprintf(f, "%s{\"name\":", i ? "," : "");
        hpt_json_str(f, p->name);
        fputs(",\"kind\":", f);
        hpt_json_str(f, pkind_name(p->kind));
        fputs(",\"distribution\":", f);
        hpt_json_str(f, pdist_name(p->dist));
        bool lg = p->dist == COORD_PDIST_LOG_UNIFORM_VALUES ||
                  p->dist == COORD_PDIST_Q_LOG_UNIFORM_VALUES ||
                  p->dist == COORD_PDIST_LOG_NORMAL;
        fprintf(f, ",\"numeric\":%s,\"log\":%s,\"conditional\":%s", numeric ? "true" : "false",
                lg ? "true" : "false", p->n_when ? "true" : "false");
        bool listed = p->dist == COORD_PDIST_VALUE || p->dist == COORD_PDIST_VALUES ||
                      p->dist == COORD_PDIST_CATEGORICAL;
        if (!listed) {
            fputs(",\"min\":", f);
            hpt_json_num(f, p->min);
            fputs(",\"max\":", f);
            hpt_json_num(f, p->max);
        }
        if (p->n_values > 0) {
            fputs(",\"values\":[", f);
            for (int k = 0; k < p->n_values; k++) {
                if (k)
                    fputc(',', f);
                if (numeric && !coord_pval_is_null(&p->values[k])) {
                    hpt_json_num(f, p->values[k].num);
                } else {
                    char txt[64];
                    hpt_json_str(f, coord_pval_format(p, &p->values[k], txt, sizeof txt));
                }
            }
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputc(']', f);
}

/* The members /api/sweeps/ID adds to the results document: "space", the
 * parameters' kinds and ranges for the dashboard, and "now_unix". */
static void results_extra(FILE *f, void *arg)
{
    fputs(",\"space\":", f);
    j_space(f, arg);
    fputs(",\"now_unix\":", f);
    hpt_json_num(f, coord_unix());
}

/* {"sweep": ..., "cv_results": ...} exactly as `hptune results SWEEP --format
 * json` prints it (the same writer, common/json.c; rows in trial order), plus
 * results_extra's members.  tests/integration/test_http.py compares the two. */
static void render_results(const coord_sweep_t *s, const Hpt__ResultsReply *r, FILE *f)
{
    hpt_json_results(f, r, r->trials, r->n_trials, results_extra, (void *)s);
}

/* /api/workers: the `hptune workers --format json` document (common/json.c),
 * with each worker's free slots and leases added. */
typedef struct workers_cursor {
    coord_worker_t *w;   // the worker hpt_json_workers is writing
    double now;          // coord_now()
} workers_cursor_t;

static void worker_extra(FILE *f, size_t i, void *arg)
{
    (void)i;   // the reply lists c->core.workers in order: the cursor walks with it
    workers_cursor_t *cur = arg;
    coord_worker_t *w = cur->w;
    fprintf(f, ",\"free\":%d,\"leases\":[", coord_worker_free_slots(w, coord_now()));
    for (coord_task_t *t = w->leased; t; t = t->lease->wnext) {
        hpt_hparams_t hp = {0};
        coord_trial_hparams(t->trial, &hp);
        fprintf(f, "%s{\"task\":%llu,\"sweep\":%llu,\"trial\":%llu,\"split\":%d,"
                   "\"refit\":%s,\"attempt\":%u,\"epoch\":%d,\"epochs\":%d,\"running_s\":",
                t == w->leased ? "" : ",", (unsigned long long)t->id,
                (unsigned long long)coord_task_sweep(t)->id, (unsigned long long)t->trial->number,
                coord_task_split(t), coord_task_is_refit(t) ? "true" : "false",
                (unsigned)t->attempt, t->lease->epoch, hp.epochs);
        hpt_json_num(f, cur->now - t->lease->leased_at);
        fputc('}', f);
    }
    fputc(']', f);
    cur->w = w->next;
}

static int render_workers(coord_t *c, FILE *f)
{
    workers_cursor_t cur = {.w = c->core.workers, .now = coord_now()};
    coord_workers_info_t *x = NULL;
    int rc = coord_workers_info_new(&x, c, cur.now, NULL);
    if (rc < 0)
        return rc;
    rc = hpt_json_workers(f, coord_workers_info_reply(x), worker_extra, &cur);
    coord_workers_info_destroy(&x);
    return rc;
}

// --- metrics ----------------------------------------------------------------------

static void m_head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
/* A label value: the exposition format escapes only \\, \" and \n and wants
 * UTF-8, so another control character (a peer's sweep or dataset name) or a
 * byte that is not UTF-8 becomes U+FFFD rather than reach whoever curls
 * /metrics. */
static void m_label(FILE *f, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t n = strlen(v);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = hpt_text_decode(p + i, n - i, &cp);
        if (k == 1 && (cp == '\\' || cp == '"'))
            fprintf(f, "\\%c", (int)cp);
        else if (k == 1 && cp == '\n')
            fputs("\\n", f);
        else if (k == 0 || hpt_text_is_control(cp))
            fputs("\xEF\xBF\xBD", f);
        else
            fwrite(p + i, 1, k, f);
        i += k ? k : 1;
    }
}

static void m_double(FILE *f, double v)
{
    if (isnan(v))
        fputs("NaN", f);
    else if (isinf(v))
        fputs(v > 0 ? "+Inf" : "-Inf", f);
    else
        hpt_json_num(f, v);   // finite: the shortest form that reads back as v
}

/* The labels every per-sweep series carries: sweep="ID",name="NAME". */
static void m_sweep_labels(FILE *f, const coord_sweep_t *s)
{
    fprintf(f, "sweep=\"%llu\",name=\"", (unsigned long long)s->id);
    m_label(f, s->spec->name);
    fputc('"', f);
}

/* The labels every per-worker series carries: worker="NAME",id="ID",host="HOST". */
static void m_worker_labels(FILE *f, const coord_worker_t *w)
{
    fputs("worker=\"", f);
    m_label(f, w->name);
    fputs("\",id=\"", f);
    m_label(f, w->id);
    fputs("\",host=\"", f);
    m_label(f, w->host);
    fputc('"', f);
}

static void render_metrics(coord_t *c, coord_http_t *h, FILE *f)
{
    m_head(f, "hptune_build_info", "gauge", "Always 1; the coordinator's version as a label.");
    fprintf(f, "hptune_build_info{version=\"%s\"} 1\n", HPT_VERSION);
    m_head(f, "hptune_start_time_seconds", "gauge",
           "When the coordinator process started, in seconds since the Unix epoch.");
    fprintf(f, "hptune_start_time_seconds ");
    m_double(f, c->started_unix);
    fputc('\n', f);

    // Workers and slots, as `hptune status` counts them.
    long slots = 0, busy = 0, free_slots = 0;
    for (coord_worker_t *w = c->core.workers; w; w = w->next) {
        slots += w->slots;
        busy += w->units;   // a bundle's tasks fill one slot
        free_slots += coord_worker_free_slots(w, coord_now());
    }
    m_head(f, "hptune_workers", "gauge", "Registered workers that are alive (heartbeating).");
    fprintf(f, "hptune_workers %d\n", c->core.n_workers);
    m_head(f, "hptune_worker_slots", "gauge", "Task slots of all registered workers.");
    fprintf(f, "hptune_worker_slots %ld\n", slots);
    m_head(f, "hptune_worker_slots_busy", "gauge", "Slots running a leased task.");
    fprintf(f, "hptune_worker_slots_busy %ld\n", busy);
    m_head(f, "hptune_worker_slots_free", "gauge",
           "Slots that can take a task now (not busy, not draining, not cooling down after a "
           "refusal, not held by a cancelled task still running).");
    fprintf(f, "hptune_worker_slots_free %ld\n", free_slots);

    // Tasks by state over every sweep in memory.
    long queued = 0, leased = 0, done = 0, failed = 0;
    long by_state[SWEEP_CANCELLED + 1] = {0};
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next) {
        queued += s->n_queued;
        leased += s->tasks_running;
        done += s->tasks_done;
        failed += s->tasks_failed;
        if ((int)s->state >= 0 && s->state <= SWEEP_CANCELLED)
            by_state[s->state]++;
    }
    m_head(f, "hptune_tasks", "gauge",
           "Tasks (trial, split) and refits by state, over every sweep in memory (failed: "
           "failed for good after max_attempts).");
    fprintf(f, "hptune_tasks{state=\"queued\"} %ld\nhptune_tasks{state=\"leased\"} %ld\n"
               "hptune_tasks{state=\"done\"} %ld\nhptune_tasks{state=\"failed\"} %ld\n",
            queued, leased, done, failed);
    m_head(f, "hptune_tasks_retried_total", "counter",
           "Leases beyond a task's first attempt (after a failure, a lost worker, a stall, a "
           "deadline or a refusal) since the coordinator started.");
    fprintf(f, "hptune_tasks_retried_total %llu\n", (unsigned long long)c->core.tasks_retried);

    m_head(f, "hptune_dispatch_latency_seconds", "histogram",
           "Time a task waited in its sweep's queue before it was leased to a worker.");
    static const double le[COORD_LAT_N] = COORD_LAT_LE;
    uint64_t cum = 0;
    for (int i = 0; i < COORD_LAT_N; i++) {
        cum += c->core.dispatch_le[i];
        fprintf(f, "hptune_dispatch_latency_seconds_bucket{le=\"%g\"} %llu\n", le[i],
                (unsigned long long)cum);
    }
    cum += c->core.dispatch_le[COORD_LAT_N];
    fprintf(f, "hptune_dispatch_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)cum);
    fputs("hptune_dispatch_latency_seconds_sum ", f);
    m_double(f, c->core.dispatch_sum_s);
    fprintf(f, "\nhptune_dispatch_latency_seconds_count %llu\n",
            (unsigned long long)c->core.dispatch_count);

    m_head(f, "hptune_task_attempts_total", "counter",
           "Task attempts that ended, by outcome: done (a result accepted), failed (the "
           "worker's error, values out of range, a stall or a deadline), lost (the worker was "
           "lost and the task requeued).");
    fprintf(f, "hptune_task_attempts_total{outcome=\"done\"} %llu\n"
               "hptune_task_attempts_total{outcome=\"failed\"} %llu\n"
               "hptune_task_attempts_total{outcome=\"lost\"} %llu\n",
            (unsigned long long)c->core.results_accepted,
            (unsigned long long)c->core.attempts_failed,
            (unsigned long long)c->core.leases_lost);
    m_head(f, "hptune_workers_lost_total", "counter",
           "Workers removed without a Goodbye: silent for liveness heartbeat intervals, "
           "connection gone, or replaced on their connection.");
    fprintf(f, "hptune_workers_lost_total %llu\n", (unsigned long long)c->core.workers_lost);
    /* Per worker, while it is registered: its throughput since it joined
     * (rate() over these is tasks/s and epochs/s).  The id label keeps two
     * workers given the same --name apart. */
    m_head(f, "hptune_worker_tasks_total", "counter",
           "Tasks a registered worker finished since it joined, by outcome (done, failed).");
    for (int o = 0; o < 2; o++)
        for (coord_worker_t *w = c->core.workers; w; w = w->next) {
            fputs("hptune_worker_tasks_total{", f);
            m_worker_labels(f, w);
            fprintf(f, ",outcome=\"%s\"} %llu\n", o ? "failed" : "done",
                    (unsigned long long)(o ? w->tasks_failed : w->tasks_done));
        }
    m_head(f, "hptune_worker_epochs_total", "counter",
           "Training epochs of the tasks a registered worker finished since it joined.");
    for (coord_worker_t *w = c->core.workers; w; w = w->next) {
        fputs("hptune_worker_epochs_total{", f);
        m_worker_labels(f, w);
        fprintf(f, "} %llu\n", (unsigned long long)w->epochs_done);
    }
    m_head(f, "hptune_worker_slots_by_worker", "gauge",
           "Task slots of a registered worker, and how many run a task (state=busy).");
    for (int b = 0; b < 2; b++)
        for (coord_worker_t *w = c->core.workers; w; w = w->next) {
            fputs("hptune_worker_slots_by_worker{", f);
            m_worker_labels(f, w);
            fprintf(f, ",state=\"%s\"} %d\n", b ? "busy" : "total", b ? w->units : w->slots);
        }

    m_head(f, "hptune_epochs_total", "counter",
           "Training epochs completed, from workers' Progress messages (rate() gives epochs/s).");
    fprintf(f, "hptune_epochs_total %llu\n", (unsigned long long)c->core.epochs_total);
    m_head(f, "hptune_bad_messages_total", "counter",
           "ZeroMQ messages dropped as malformed or unexpected.");
    fprintf(f, "hptune_bad_messages_total %llu\n", (unsigned long long)c->bad_messages);
    m_head(f, "hptune_refused_total", "counter",
           "Messages refused by a role (docs/security.md), a quota or a rate limit, and "
           "connections refused by a connection limit, by reason.");
    fprintf(f, "hptune_refused_total{reason=\"role\"} %llu\n",
            (unsigned long long)c->refused_role);
    fprintf(f, "hptune_refused_total{reason=\"quota\"} %llu\n",
            (unsigned long long)c->refused_quota);
    static const char *const lim[COORD_LIM__N] = {"rate_hello", "rate_submit", "rate_bad",
                                                  "rate_conn", "rate_history"};
    for (int k = 0; k < COORD_LIM__N; k++)
        fprintf(f, "hptune_refused_total{reason=\"%s\"} %llu\n", lim[k],
                (unsigned long long)c->limited[k]);
    fprintf(f, "hptune_refused_total{reason=\"conns_per_addr\"} %llu\n",
            (unsigned long long)c->refused_conns_addr);
    fprintf(f, "hptune_refused_total{reason=\"conns_total\"} %llu\n",
            (unsigned long long)c->refused_conns_total);
    m_head(f, "hptune_retention_deleted_total", "counter",
           "Finished sweeps, event rows and records of workers gone deleted by retention "
           "(keep_sweeps, keep_events, keep_workers).");
    fprintf(f, "hptune_retention_deleted_total{what=\"sweeps\"} %llu\n",
            (unsigned long long)c->sweeps_deleted);
    fprintf(f, "hptune_retention_deleted_total{what=\"events\"} %llu\n",
            (unsigned long long)c->events_deleted);
    fprintf(f, "hptune_retention_deleted_total{what=\"workers\"} %llu\n",
            (unsigned long long)c->workers_deleted);
    m_head(f, "hptune_results_dropped_total", "counter",
           "Results dropped as stale or duplicate (superseded attempt, unknown task, task not "
           "leased).");
    fprintf(f, "hptune_results_dropped_total %llu\n", (unsigned long long)c->core.results_dropped);
    m_head(f, "hptune_results_pages_total", "counter",
           "Results pages sent to clients (a sweep's table is read in pages under the "
           "message cap).");
    fprintf(f, "hptune_results_pages_total %llu\n", (unsigned long long)c->results_pages);
    m_head(f, "hptune_results_rank_builds_total", "counter",
           "Rebuilds of a sweep's cached ranks and summary, once per change that a results "
           "request follows.");
    fprintf(f, "hptune_results_rank_builds_total %llu\n",
            (unsigned long long)c->results_rank_builds);
    m_head(f, "hptune_loop_stalls_total", "counter",
           "Housekeeping ticks that ran more than two periods late (the loop was held); "
           "workers' liveness is not charged for them.");
    fprintf(f, "hptune_loop_stalls_total %llu\n", (unsigned long long)c->stalls);
    m_head(f, "hptune_journal_syncs_total", "counter",
           "fdatasyncs of the journal's WAL, run on the thread pool after commits.");
    fprintf(f, "hptune_journal_syncs_total %llu\n", (unsigned long long)c->sync.n);
    m_head(f, "hptune_journal_errors_total", "counter",
           "Journal operations that failed without stopping the coordinator (retention "
           "deletes, reading a finished sweep back); a failed commit or sync stops it.");
    fprintf(f, "hptune_journal_errors_total %llu\n", (unsigned long long)c->journal_errors);
    m_head(f, "hptune_journal_sync_max_seconds", "gauge",
           "The longest journal sync so far, queued to done (the loop does not wait for it).");
    fprintf(f, "hptune_journal_sync_max_seconds %.6f\n", c->sync.wait_max);

    // Sweeps.
    m_head(f, "hptune_sweeps", "gauge", "Sweeps in memory by state.");
    for (int i = 0; i <= SWEEP_CANCELLED; i++)
        fprintf(f, "hptune_sweeps{state=\"%s\"} %ld\n",
                coord_sweep_state_name((coord_sweep_state_t)i), by_state[i]);
    /* One summary per sweep, computed once, used by every per-sweep family
     * (Prometheus wants a family's samples together). */
    size_t n = 0;
    for (coord_sweep_t *s = c->core.sweeps; s; s = s->next)
        n++;
    coord_sweep_info_t *info = calloc(n ? n : 1, sizeof *info);
    if (info) {
        size_t k = 0;
        for (coord_sweep_t *s = c->core.sweeps; s; s = s->next)
            coord_sweep_info_fill(s, &info[k++], false);
        m_head(f, "hptune_sweep_info", "gauge",
               "Always 1; a sweep's method, dataset, metric and state as labels.");
        k = 0;
        for (coord_sweep_t *s = c->core.sweeps; s; s = s->next, k++) {
            fputs("hptune_sweep_info{", f);
            m_sweep_labels(f, s);
            fprintf(f, ",method=\"%s\",dataset=\"", info[k].info.method);
            m_label(f, s->spec->dataset);
            fprintf(f, "\",metric=\"%s\",state=\"%s\"} 1\n", info[k].info.metric,
                    info[k].info.state);
        }
        static const struct {
            const char *name, *help;
        } fam[] = {
            {"hptune_sweep_tasks", "Tasks of the sweep so far, its refit included (as hptune "
                                   "status counts them; grows while trials are suggested)."},
            {"hptune_sweep_tasks_done", "Tasks of the sweep done."},
            {"hptune_sweep_tasks_failed", "Tasks of the sweep failed for good."},
            {"hptune_sweep_tasks_running", "Tasks of the sweep leased to workers now."},
            {"hptune_sweep_trials", "Trials the sweep will run (grid: known up front; "
                                    "otherwise its budget, or the trials so far)."},
            {"hptune_sweep_trials_done", "Trials of the sweep with every split scored."},
            {"hptune_sweep_trials_failed", "Trials of the sweep that failed."},
            {"hptune_sweep_best_score", "Mean cross-validated test score of the sweep's best "
                                        "trial (absent until one is done)."},
        };
        for (size_t q = 0; q < sizeof fam / sizeof fam[0]; q++) {
            m_head(f, fam[q].name, "gauge", fam[q].help);
            k = 0;
            for (coord_sweep_t *s = c->core.sweeps; s; s = s->next, k++) {
                const Hpt__SweepInfo *i = &info[k].info;
                double v = q == 0   ? i->tasks_total
                           : q == 1 ? i->tasks_done
                           : q == 2 ? i->tasks_failed
                           : q == 3 ? i->tasks_running
                           : q == 4 ? i->trials_total
                           : q == 5 ? i->trials_done
                           : q == 6 ? i->trials_failed
                                    : (i->best_trial ? i->best_mean : NAN);
                if (q == 7 && !i->best_trial)
                    continue;
                fprintf(f, "%s{", fam[q].name);
                m_sweep_labels(f, s);
                fputs("} ", f);
                m_double(f, v);
                fputc('\n', f);
            }
        }
        free(info);
    }

    // The HTTP server itself.
    uint64_t req[N_CODES], timeouts;
    uv_mutex_lock(&h->mu);
    memcpy(req, h->requests, sizeof req);
    timeouts = h->timeouts;
    uv_mutex_unlock(&h->mu);
    m_head(f, "hptune_http_requests_total", "counter",
           "HTTP requests answered, by status code (this scrape not yet counted).");
    for (size_t i = 0; i < N_CODES; i++)
        if (CODES[i])
            fprintf(f, "hptune_http_requests_total{code=\"%d\"} %llu\n", CODES[i],
                    (unsigned long long)req[i]);
        else
            fprintf(f, "hptune_http_requests_total{code=\"other\"} %llu\n",
                    (unsigned long long)req[i]);
    m_head(f, "hptune_http_timeouts_total", "counter",
           "HTTP requests answered 503 because the loop did not answer within 5 s.");
    fprintf(f, "hptune_http_timeouts_total %llu\n", (unsigned long long)timeouts);
}

/* Whether path is "/api/sweeps/N" with N a positive decimal; *id = N. */
static bool sweep_path(const char *path, uint64_t *id)
{
    const char *p = path + strlen("/api/sweeps/");
    if (strncmp(path, "/api/sweeps/", 12) != 0 || !*p || strlen(p) > 19)
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *id = v;
    return v > 0;
}

// --- plots (loop thread) ---------------------------------------------------------

/* Whether path is "/api/sweeps/N/plots" (*rest = "") or
 * "/api/sweeps/N/plots/NAME" (*rest = NAME) with N a positive decimal. */
static bool plot_path(const char *path, uint64_t *id, const char **rest)
{
    if (strncmp(path, "/api/sweeps/", 12) != 0)
        return false;
    const char *p = path + 12;
    uint64_t v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 20; p++, digits++)
        v = v * 10 + (uint64_t)(*p - '0');
    if (!digits || v == 0 || strncmp(p, "/plots", 6) != 0)
        return false;
    p += 6;
    if (*p == '\0' || strcmp(p, "/") == 0)
        *rest = "";
    else if (*p == '/')
        *rest = p + 1;
    else
        return false;
    *id = v;
    return true;
}

/* What a sweep's plots are drawn from: they are redrawn when it changes.
 * The same whether s is loaded or not (an unloaded sweep's summary), so
 * cached plots of a finished sweep are served without reading it back. */
static void plot_stamp(const coord_sweep_t *s, char *buf, size_t len)
{
    size_t n_trials = s->sum ? s->sum->n_trials : s->n_trials;
    uint64_t best = s->sum ? s->sum->best : s->best ? s->best->number : 0;
    snprintf(buf, len, "%d/%d/%d/%d/%d/%d/%zu/%d/%llu", (int)s->state, s->tasks_done,
             s->tasks_failed, s->trials_done, s->trials_failed, s->has_refit, n_trials,
             s->tasks_running, (unsigned long long)best);
}

/* The plots of sweep s: from the cache while s has not changed, else
 * rendered (into the least recently used slot; an unloaded sweep is read
 * back from the journal for it).  Returns the entry, or NULL when out of
 * memory or the journal cannot be read. */
static plot_cache_t *plots_for(coord_http_t *h, coord_sweep_t *s)
{
    char stamp[160];
    plot_stamp(s, stamp, sizeof stamp);
    double now = coord_unix();
    bool ended = s->state == SWEEP_DONE || s->state == SWEEP_FAILED ||
                 s->state == SWEEP_CANCELLED;
    plot_cache_t *e = NULL, *lru = &h->cache[0];
    for (int i = 0; i < PLOT_CACHE_N; i++) {
        if (h->cache[i].sweep == s->id)
            e = &h->cache[i];
        if (h->cache[i].used < lru->used)
            lru = &h->cache[i];
    }
    if (e && strcmp(e->stamp, stamp) == 0 && (ended || now - e->made < PLOT_CACHE_LIVE_S)) {
        e->used = ++h->plot_clock;
        return e;
    }
    if (!e)
        e = lru;
    coord_results_t *res = NULL;
    hpt_plots_t *plots = NULL;
    if (coord_results_new(&res, h->c, s, 0, 0, COORD_RESULTS_UNBOUNDED) < 0)
        return NULL;
    int rc = hpt_plots_new(&plots, coord_results_reply(res), now, 0);
    coord_results_destroy(&res);
    if (rc < 0)
        return NULL;
    hpt_plots_destroy(&e->plots);
    *e = (plot_cache_t){.sweep = s->id, .made = now, .gen = ++h->plot_gen,
                        .used = ++h->plot_clock, .plots = plots};
    snprintf(e->stamp, sizeof e->stamp, "%s", stamp);
    return e;
}

static const char *plot_kind_name(hpt_plot_kind_t k)
{
    switch (k) {
    case HPT_PLOT_PARAM: return "param";
    case HPT_PLOT_PROGRESS: return "progress";
    case HPT_PLOT_PARALLEL: return "parallel";
    case HPT_PLOT_RACE: return "race";
    }
    return "?";
}

/* GET /api/sweeps/ID/plots: the index, {"sweep", "state", "plots": [{"name",
 * "kind", "param", "title", "caption", "points", "drawn", "url"}],
 * "constants": [{"name", "value"}], "note"}, where url changes exactly when
 * the plot is redrawn.  GET /api/sweeps/ID/plots/NAME.svg: the plot.  404
 * (JSON) for an unknown sweep or plot, saying which plots there are. */
static void render_plots(coord_http_t *h, job_t *j, uint64_t id, const char *name, FILE *f)
{
    coord_sweep_t *s = coord_sweep_find(&h->c->core, id);
    if (!s) {
        j->status = MHD_HTTP_NOT_FOUND;
        fprintf(f, "{\"error\":\"no sweep %llu\"}\n", (unsigned long long)id);
        return;
    }
    plot_cache_t *e = plots_for(h, s);
    if (!e) {
        j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        fputs("{\"error\":\"out of memory, or the sweep cannot be read from the journal\"}\n",
              f);
        return;
    }
    const hpt_plots_t *ps = e->plots;
    size_t n = hpt_plots_count(ps);
    if (name[0]) {
        size_t len = strlen(name);
        const hpt_plot_t *pl = len > 4 && strcmp(name + len - 4, ".svg") == 0
                                   ? hpt_plots_find(ps, name)
                                   : NULL;
        if (pl) {
            j->type = TYPE_SVG;
            fwrite(pl->svg, 1, pl->len, f);
            return;
        }
        j->status = MHD_HTTP_NOT_FOUND;
        char msg[600];
        snprintf(msg, sizeof msg, "sweep %llu has no plot '%.200s'", (unsigned long long)id,
                 name);
        fputs("{\"error\":", f);
        hpt_json_str(f, msg);
        fputs(",\"plots\":[", f);
        for (size_t i = 0; i < n; i++) {
            char file[200];
            snprintf(file, sizeof file, "%s.svg", hpt_plots_get(ps, i)->name);
            if (i)
                fputc(',', f);
            hpt_json_str(f, file);
        }
        fputs("]}\n", f);
        return;
    }
    fprintf(f, "{\"sweep\":%llu,\"state\":", (unsigned long long)id);
    hpt_json_str(f, coord_sweep_state_name(s->state));
    fputs(",\"plots\":[", f);
    for (size_t i = 0; i < n; i++) {
        const hpt_plot_t *pl = hpt_plots_get(ps, i);
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        hpt_json_str(f, pl->name);
        fputs(",\"kind\":", f);
        hpt_json_str(f, plot_kind_name(pl->kind));
        fputs(",\"param\":", f);
        if (pl->kind == HPT_PLOT_PARAM)
            hpt_json_str(f, pl->param);
        else
            fputs("null", f);
        fputs(",\"title\":", f);
        hpt_json_str(f, pl->title);
        fputs(",\"caption\":", f);
        hpt_json_str(f, pl->caption);
        fprintf(f, ",\"points\":%zu,\"drawn\":%zu,\"url\":\"/api/sweeps/%llu/plots/", pl->points,
                pl->drawn, (unsigned long long)id);
        fprintf(f, "%s.svg?v=%llu\"}", pl->name, (unsigned long long)e->gen);
    }
    fputs("],\"constants\":[", f);
    for (size_t i = 0; i < hpt_plots_n_constants(ps); i++) {
        const hpt_plot_const_t *c = hpt_plots_constant(ps, i);
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        hpt_json_str(f, c->name);
        fputs(",\"value\":", f);
        hpt_json_str(f, c->value);
        fputc('}', f);
    }
    fputs("],\"note\":", f);
    hpt_json_str(f, hpt_plots_note(ps));
    fputs("}\n", f);
}

/* Render job j into its body, status and type. */
static void render(coord_http_t *h, job_t *j)
{
    coord_t *c = h->c;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return;
    }
    j->status = MHD_HTTP_OK;
    j->type = TYPE_JSON;
    uint64_t id = 0;
    const char *p = j->path, *rest = NULL;
    if (strcmp(p, "/metrics") == 0) {
        j->type = TYPE_PROM;
        render_metrics(c, h, f);
    } else if (strcmp(p, "/api/sweeps") == 0 || strcmp(p, "/api/sweeps/") == 0) {
        render_sweeps(c, f);
    } else if (strcmp(p, "/api/workers") == 0) {
        if (render_workers(c, f) == -ENOMEM) {   // nothing written yet
            j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            fputs("{\"error\":\"out of memory\"}\n", f);
        }
    } else if (strcmp(p, "/api") == 0 || strcmp(p, "/api/") == 0) {
        fputs("{\"endpoints\":[\"/api/sweeps\",\"/api/sweeps/ID\",\"/api/sweeps/ID/plots\","
              "\"/api/sweeps/ID/plots/NAME.svg\",\"/api/workers\",\"/metrics\"]}\n", f);
    } else if (plot_path(p, &id, &rest)) {
        render_plots(h, j, id, rest, f);
    } else if (sweep_path(p, &id)) {
        coord_sweep_t *s = coord_sweep_find(&c->core, id);
        coord_results_t *res = NULL;
        int rc;
        if (!s) {
            j->status = MHD_HTTP_NOT_FOUND;
            fprintf(f, "{\"error\":\"no sweep %llu\"}\n", (unsigned long long)id);
        } else if ((rc = coord_results_new(&res, c, s, 0, 0, COORD_RESULTS_UNBOUNDED)) < 0) {
            j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            fprintf(f, "{\"error\":\"%s\"}\n", rc == -ENOMEM ? "out of memory"
                                                 : "the sweep cannot be read from the journal");
        } else {
            render_results(s, coord_results_reply(res), f);
            coord_results_destroy(&res);
        }
    } else {
        j->status = MHD_HTTP_NOT_FOUND;
        fputs("{\"error\":\"not found\",\"path\":", f);
        hpt_json_str(f, p);
        fputs("}\n", f);
    }
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad) {
        free(buf);
        buf = NULL;
        len = 0;
        j->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    j->body = buf;
    j->len = len;
}

static void on_async(uv_async_t *a)
{
    coord_http_t *h = a->data;
    for (;;) {
        uv_mutex_lock(&h->mu);
        job_t *j = h->head;
        if (j) {
            h->head = j->next;
            if (!h->head)
                h->tail = NULL;
            h->n_jobs--;
            j->next = NULL;
            j->state = JOB_TAKEN;
        }
        uv_mutex_unlock(&h->mu);
        if (!j)
            break;
        double t0 = coord_now();
        render(h, j);
        char q[300];
        hpt_log(HPT_LOG_DEBUG, "http", "request", "path=%s status=%d bytes=%zu ms=%.3f",
                hpt_log_quote(j->path, q, sizeof q), j->status, j->len,
                (coord_now() - t0) * 1e3);
        uv_mutex_lock(&h->mu);
        bool abandoned = j->state == JOB_ABANDONED;
        if (!abandoned) {
            j->state = JOB_DONE;
            uv_cond_broadcast(&h->cv);
        }
        uv_mutex_unlock(&h->mu);
        if (abandoned) {
            free(j->body);
            free(j);
        }
    }
    // libmicrohttpd's complaints, if any since last time (the last one, with a count).
    char msg[256] = "";
    uint64_t new_errors = 0;
    uv_mutex_lock(&h->mu);
    if (h->mhd_errors > h->mhd_errors_logged) {
        new_errors = h->mhd_errors - h->mhd_errors_logged;
        h->mhd_errors_logged = h->mhd_errors;
        memcpy(msg, h->mhd_error, sizeof msg);
    }
    uv_mutex_unlock(&h->mu);
    if (new_errors) {
        char q[300];
        hpt_log(HPT_LOG_WARN, "http", "libmicrohttpd error", "error=%s count=%llu",
                hpt_log_quote(msg, q, sizeof q), (unsigned long long)new_errors);
    }
}

// --- lifecycle ------------------------------------------------------------------

static void on_closed(uv_handle_t *handle)
{
    coord_http_t *h = handle->data;
    uv_cond_destroy(&h->cv);
    uv_mutex_destroy(&h->mu);
    free(h);
}

int coord_http_start(coord_t *c, hpt_err *err)
{
    coord_http_addr_t a;
    int rc = coord_http_parse_addr(c->cfg.http, &a, err);
    if (rc < 0)
        return rc;
    coord_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return hpt_err_set(err, -ENOMEM, "out of memory");
    h->c = c;
    h->loopback = a.loopback;
    if ((rc = uv_mutex_init(&h->mu)) < 0) {
        free(h);
        return hpt_err_set(err, rc, "uv_mutex_init: %s", uv_strerror(rc));
    }
    if ((rc = uv_cond_init(&h->cv)) < 0) {
        uv_mutex_destroy(&h->mu);
        free(h);
        return hpt_err_set(err, rc, "uv_cond_init: %s", uv_strerror(rc));
    }
    if ((rc = uv_async_init(c->loop, &h->async, on_async)) < 0) {
        uv_cond_destroy(&h->cv);
        uv_mutex_destroy(&h->mu);
        free(h);
        return hpt_err_set(err, rc, "uv_async_init: %s", uv_strerror(rc));
    }
    h->async.data = h;
    /* A thread per connection: a request waiting for the loop then blocks
     * only its own connection. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (a.ipv6)
        flags |= MHD_USE_IPv6;
    errno = 0;
    h->mhd = MHD_start_daemon(flags, (uint16_t)a.port, NULL, NULL, on_request, h,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.ss,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)COORD_HTTP_MAX_CONNS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_END);
    if (!h->mhd) {
        int e = errno ? -errno : -EIO;
        hpt_err_set(err, e, "cannot serve HTTP on %s: %s", c->cfg.http,
                    h->mhd_error[0] ? h->mhd_error : hpt_strerror(e));
        uv_close((uv_handle_t *)&h->async, on_closed);   // frees h on the next loop turn
        return e;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : a.port;
    c->http = h;
    if (!a.loopback)   // allowed by --insecure (coord_http_check)
        hpt_log(HPT_LOG_WARN, "security", "insecure: serving HTTP beyond loopback",
                "address=%s note=\"anyone who reaches this port reads every sweep, result and "
                "worker; see docs/http.md\"", c->cfg.http);
    return 0;
}

int coord_http_port(const coord_t *c)
{
    return c->http ? c->http->port : 0;
}

void coord_http_stop(coord_t *c)
{
    coord_http_t *h = c->http;
    if (!h)
        return;
    c->http = NULL;
    /* Answer every waiting request, refuse new ones, then join the
     * threads: none of them waits for the loop any more, so the join (on
     * the loop thread) cannot deadlock. */
    uv_mutex_lock(&h->mu);
    h->closing = true;
    for (job_t *j = h->head; j; j = j->next)
        j->state = JOB_DONE;   // no body: answered 503 by its thread
    h->head = h->tail = NULL;
    h->n_jobs = 0;
    uv_cond_broadcast(&h->cv);
    uv_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->mhd);
    h->mhd = NULL;
    for (int i = 0; i < PLOT_CACHE_N; i++)
        hpt_plots_destroy(&h->cache[i].plots);
    uv_close((uv_handle_t *)&h->async, on_closed);
}
