/*
 * coord_http.h: the coordinator's optional HTTP server (--http HOST:PORT):
 * Prometheus metrics at /metrics, a read-only JSON API under /api/ and a
 * dashboard page at /.
 *
 * Threads.  libmicrohttpd runs its own threads (one listening thread, one
 * thread per connection).  Coordinator state is loop-thread-only, so those
 * threads never read it: a request for /metrics or /api/ becomes a job on a
 * mutex-protected queue, a uv_async_t wakes the loop, the loop renders the
 * response into a malloc'd buffer and signals a condition variable.  A job
 * the loop does not answer within COORD_HTTP_WAIT_MS is answered 503.  The
 * dashboard's static files (embedded at build time) need no state and are
 * served by the connection thread itself.  No MHD thread calls hpt_log
 * (the log sink feeds the event ring, which is loop state).
 *
 * Lifecycle: coord_http_start() on the loop thread once the loop exists;
 * coord_http_stop() on the loop thread when shutting down: it answers every
 * waiting request 503, stops libmicrohttpd (joining its threads) and closes
 * the async handle, whose close callback frees the server, so the loop must
 * run once more afterwards (main does).
 */
#ifndef COORD_HTTP_H
#define COORD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "coord.h"
#include "err.h"

#define COORD_HTTP_WAIT_MS 5000     // longest a request waits for the loop thread
#define COORD_HTTP_MAX_CONNS 64     // concurrent connections (one thread each)
#define COORD_HTTP_MAX_JOBS 64      // requests waiting for the loop; more get 503 at once

/* A parsed --http value. */
typedef struct coord_http_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool ipv6;
    bool loopback;                  // 127.0.0.0/8 or ::1
    int port;                       // 0: any free port (logged once bound)
} coord_http_addr_t;

/* Parse "HOST:PORT" (HOST an IPv4 literal, "localhost" or a bracketed IPv6
 * literal such as "[::1]"; PORT 0..65535) into *out.  Returns 0 or -EINVAL
 * with the reason in err.  Any thread. */
int coord_http_parse_addr(const char *s, coord_http_addr_t *out, hpt_err *err);

/* Validate the --http value against the security rule: HTTP has no
 * authentication, so an address beyond loopback needs insecure.  Returns 0,
 * or -EINVAL / -EPERM with a message for the operator in err.  Any thread. */
int coord_http_check(const char *addr, bool insecure, hpt_err *err);

/* Start serving c->cfg.http for coordinator c (borrowed; must outlive the
 * server) and set c->http.  Returns 0 or a negative errno with err set; on
 * failure c->http stays NULL and nothing is left to close.  Loop thread. */
int coord_http_start(coord_t *c, hpt_err *err);

/* Stop serving (see above); NULL-safe, sets c->http to NULL.  Loop thread. */
void coord_http_stop(coord_t *c);

/* The port actually bound (useful with port 0), or 0 when not serving. */
int coord_http_port(const coord_t *c);

// --- internals shared with the generated asset table ------------------------

/* One embedded dashboard file (generated from coordinator/http/ by embed.py). */
typedef struct coord_http_asset {
    const char *path;               // URL path, e.g. "/" or "/app.js"
    const char *type;               // Content-Type
    const unsigned char *data;
    size_t len;
} coord_http_asset_t;

extern const coord_http_asset_t coord_http_assets[];   // ends with a NULL path

#endif
