/*
 * cli_client.c: the hptune CLI's DEALER connection to the coordinator; see
 * cli_client.h.
 *
 * The socket connects without ZMQ_IMMEDIATE, so a request to a coordinator
 * that is not (yet) listening is queued rather than refused: "unreachable"
 * is decided by the reply timeout alone, which also covers a coordinator that
 * accepts the connection but does not answer.  Linger 0 makes closing
 * immediate, so a CLI whose coordinator is gone never hangs on exit.
 */
#include "cli_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "cli_conf.h"
#include "cli_format.h"
#include "curve.h"
#include "zsock.h"

struct cli_client {
    void *ctx;
    void *sock;              // DEALER
    char addr[512];          // the endpoint connected to
    char addr_from[4096];    // where it came from (cli_conf.h): a flag, a variable, a file
    double timeout_s;
    uint64_t next_req_id;
    bool curve;              // the socket is a CURVE client
    bool raw;                // hand replies over as received (JSON output escapes them)
};

int cli_conn_opt(cli_conn_opts_t *o, int opt, const char *arg, const char *cmd)
{
    switch (opt) {
    case CLI_OPT_COORDINATOR:
        if (arg[0] == '\0')
            return cli_usage_error(cmd, "--coordinator: empty address (e.g. tcp://host:7600)");
        o->addr = arg;
        return 1;
    case CLI_OPT_TIMEOUT:
        if (cli_parse_seconds(cmd, "--timeout", arg, 0, CLI_MAX_TIMEOUT_S, &o->timeout_s))
            return HPT_EXIT_USAGE;
        return 1;
    case CLI_OPT_CURVE_SECRET:
        if (arg[0] == '\0')
            return cli_usage_error(cmd, "--curve-secret: empty file name");
        o->curve_secret = arg;
        return 1;
    case CLI_OPT_SERVER_KEY:
        if (arg[0] == '\0')
            return cli_usage_error(cmd, "--server-key: empty key");
        o->server_key = arg;
        return 1;
    default:
        return 0;
    }
}

int cli_opt_next(cli_opt_parser_t *p, int argc, char **argv)
{
    if (!p->started) {   // getopt's state is global: start over for this argv
        optind = 1;
        opterr = 0;
        p->started = true;
    }
    for (;;) {
        int opt = getopt_long(argc, argv, p->shortopts, p->longopts, NULL);
        if (opt == -1)
            return CLI_OPT_END;
        int rc = cli_conn_opt(&p->conn, opt, optarg, p->cmd);
        if (rc == 1)
            continue;
        if (rc == HPT_EXIT_USAGE) {
            p->status = rc;
            return CLI_OPT_STOP;
        }
        switch (opt) {
        case 'h':
            p->help(stdout);
            p->status = HPT_EXIT_OK;
            return CLI_OPT_STOP;
        case ':':
            p->status = cli_usage_error(p->cmd, "%s: missing value", argv[optind - 1]);
            return CLI_OPT_STOP;
        case '?':
            p->status = cli_usage_error(p->cmd, "unknown option '%s'", argv[optind - 1]);
            return CLI_OPT_STOP;
        default:
            return opt;
        }
    }
}

/* CURVE keys from the settings in effect (cli_conf.h).  Returns HPT_EXIT_OK
 * with *on false when neither key is set (a plain connection) or true with
 * *kp and server filled, else an exit status after printing why. */
static int curve_keys(const cli_conf_t *cf, const char *cmd, hpt_curve_pair_t *kp,
                      char server[HPT_CURVE_Z85_LEN + 1], bool *on)
{
    *on = false;
    const char *sec = cf->curve_secret[0] ? cf->curve_secret : NULL;
    const char *srv = cf->server_key[0] ? cf->server_key : NULL;
    const char *sec_from = cf->curve_secret_from, *srv_from = cf->server_key_from;
    if (!sec && !srv)
        return HPT_EXIT_OK;
    if (!sec || !srv)
        return cli_usage_error(cmd, "%s sets %s but nothing sets %s: a CURVE client needs "
                                    "its own key pair (--curve-secret, HPTUNE_CURVE_SECRET or "
                                    "curve_secret in the config file) and the coordinator's "
                                    "public key (--server-key, HPTUNE_SERVER_KEY or "
                                    "server_key in the config file)",
                               sec ? sec_from : srv_from, sec ? "the key pair" : "the server key",
                               sec ? "the server key" : "a key pair");
    hpt_err err = {0};
    if (hpt_curve_supported(&err) < 0) {
        fprintf(stderr, "hptune %s: %s\n", cmd, err.msg);
        return HPT_EXIT_FAIL;
    }
    if (hpt_curve_load_secret(sec, kp, &err) < 0)
        return cli_usage_error(cmd, "%s: %s", sec_from, err.msg);
    if (hpt_curve_public_arg(srv, srv_from, server, &err) < 0) {
        hpt_curve_wipe(kp);
        return cli_usage_error(cmd, "%s", err.msg);
    }
    *on = true;
    return HPT_EXIT_OK;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int cli_client_new(cli_client_t **out, const cli_conn_opts_t *o, const char *cmd)
{
    *out = NULL;
    cli_client_t *c = calloc(1, sizeof *c);
    cli_conf_t *cf = calloc(1, sizeof *cf);   // ~30 KiB
    int status = HPT_EXIT_FAIL;
    if (!c || !cf) {
        fprintf(stderr, "hptune %s: out of memory\n", cmd);
        goto err;
    }
    if ((status = cli_conf_resolve(o, cf, cmd)) != HPT_EXIT_OK)
        goto err;
    status = HPT_EXIT_FAIL;
    const char *from = cf->coordinator_from;
    snprintf(c->addr, sizeof c->addr, "%s", cf->coordinator);   // it fits: same size
    snprintf(c->addr_from, sizeof c->addr_from, "%s", from);
    c->timeout_s = cf->timeout_s;
    c->next_req_id = 1;
    c->ctx = zmq_ctx_new();
    if (!c->ctx) {
        fprintf(stderr, "hptune %s: cannot create a ZeroMQ context: %s\n", cmd,
                zmq_strerror(zmq_errno()));
        goto err;
    }
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock) {
        fprintf(stderr, "hptune %s: cannot create a socket: %s\n", cmd,
                zmq_strerror(zmq_errno()));
        goto err;
    }
    int linger = 0;
    int64_t maxmsg = HPT_PROTO_MAX_MSG;
    if (zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        fprintf(stderr, "hptune %s: cannot configure the socket: %s\n", cmd,
                zmq_strerror(zmq_errno()));
        goto err;
    }
    hpt_curve_pair_t kp;
    char server[HPT_CURVE_Z85_LEN + 1];
    bool curve;
    int ck = curve_keys(cf, cmd, &kp, server, &curve);
    if (ck != HPT_EXIT_OK) {
        status = ck;
        goto err;
    }
    if (curve) {
        int rc = hpt_curve_set_client(c->sock, &kp, server);
        hpt_curve_wipe(&kp);
        if (rc < 0) {
            fprintf(stderr, "hptune %s: cannot set the CURVE keys: %s\n", cmd,
                    hpt_strerror(rc));
            goto err;
        }
        c->curve = true;
    }
    if (hpt_zsock_connect_prepare(c->sock, c->addr) < 0 || zmq_connect(c->sock, c->addr) != 0) {
        int e = zmq_errno();
        if (e == EINVAL || e == EPROTONOSUPPORT || e == ENOCOMPATPROTO) {
            status = cli_usage_error(cmd, "%s: '%s' is not a ZeroMQ address the client can "
                                          "connect to (e.g. tcp://host:7600): %s",
                                     from, c->addr, zmq_strerror(e));
        } else {
            fprintf(stderr, "hptune %s: cannot connect to %s: %s\n", cmd, c->addr,
                    zmq_strerror(e));
        }
        goto err;
    }
    *out = c;
    free(cf);
    return HPT_EXIT_OK;
err:
    free(cf);
    cli_client_destroy(&c);
    return status;
}

void cli_client_destroy(cli_client_t **p)
{
    if (!p || !*p)
        return;
    cli_client_t *c = *p;
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c);
    *p = NULL;
}

void cli_client_set_raw(cli_client_t *c, bool raw)
{
    c->raw = raw;
}

const char *cli_client_addr(const cli_client_t *c)
{
    return c->addr;
}

int cli_client_timeout_ms(const cli_client_t *c)
{
    return (int)(c->timeout_s * 1000 + 0.5);
}

/* zmq_poll for `events` on the socket for at most timeout_ms (-1 forever).
 * Returns 0 when ready, -ETIMEDOUT, -EINTR or another -errno. */
static int wait_for(cli_client_t *c, short events, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = c->sock, .events = events};
    int rc = zmq_poll(&it, 1, timeout_ms);
    if (rc < 0)
        return -zmq_errno();
    return rc == 0 ? -ETIMEDOUT : 0;
}

int cli_client_send(cli_client_t *c, hpt_env_t *env, uint64_t *req_id)
{
    env->req_id = c->next_req_id++;
    if (req_id)
        *req_id = env->req_id;
    int rc = hpt_proto_send(c->sock, NULL, env, ZMQ_DONTWAIT);
    if (rc == -EAGAIN) {
        rc = wait_for(c, ZMQ_POLLOUT, cli_client_timeout_ms(c));
        if (rc == 0)
            rc = hpt_proto_send(c->sock, NULL, env, ZMQ_DONTWAIT);
        if (rc == -EAGAIN)
            rc = -ETIMEDOUT;
    }
    return rc;
}

int cli_client_recv(cli_client_t *c, int timeout_ms, hpt_env_t **out)
{
    *out = NULL;
    double deadline = timeout_ms < 0 ? 0 : mono_now() + timeout_ms * 1e-3;
    for (;;) {
        hpt_err err = {0};
        int rc = hpt_proto_recv(c->sock, NULL, out, &err);
        if (rc == 0 && !c->raw && cli_sanitize((ProtobufCMessage *)*out) < 0) {
            hpt_proto_free(out);
            return -ENOMEM;
        }
        if (rc == 0)
            return 0;
        if (rc != -EAGAIN && rc != -EBADMSG)
            return rc;
        /* A malformed message is skipped: it cannot be the answer, and the
         * real one may still come. */
        int left = -1;
        if (timeout_ms >= 0) {
            double l = (deadline - mono_now()) * 1e3;
            if (l <= 0)
                return -ETIMEDOUT;
            left = (int)l + 1;
        }
        rc = wait_for(c, ZMQ_POLLIN, left);
        if (rc < 0)
            return rc;
    }
}

int cli_client_request(cli_client_t *c, hpt_env_t *req, hpt_env_t **reply)
{
    *reply = NULL;
    uint64_t id;
    int rc = cli_client_send(c, req, &id);
    if (rc < 0)
        return rc;
    double deadline = mono_now() + c->timeout_s;
    for (;;) {
        int left = (int)((deadline - mono_now()) * 1e3);
        if (left <= 0)
            return -ETIMEDOUT;
        hpt_env_t *env;
        rc = cli_client_recv(c, left, &env);
        if (rc < 0)
            return rc;
        if (env->req_id == id || env->body_case == HPT__ENVELOPE__BODY_REJECT) {
            *reply = env;
            return 0;
        }
        hpt_proto_free(&env); // a late reply to an earlier request, or an event
    }
}

/* Append page p's items to the reply r (both of the same list kind): the
 * item pointers move to r's array (grown with realloc, as protobuf-c's
 * default allocator is malloc), so p no longer frees them. */
static int merge_page(hpt_env_t *r, hpt_env_t *p)
{
    if (r->body_case == HPT__ENVELOPE__BODY_STATUS_REPLY) {
        Hpt__StatusReply *a = r->status_reply, *b = p->status_reply;
        Hpt__SweepInfo **v = realloc(a->sweeps, (a->n_sweeps + b->n_sweeps + 1) * sizeof *v);
        if (!v)
            return -ENOMEM;
        memcpy(v + a->n_sweeps, b->sweeps, b->n_sweeps * sizeof *v);
        a->sweeps = v;
        a->n_sweeps += b->n_sweeps;
        b->n_sweeps = 0;
        a->more = b->more;
        // The counts of the last page are the freshest.
        a->workers = b->workers;
        a->slots = b->slots;
        a->slots_busy = b->slots_busy;
        a->total = b->total;
    } else {
        Hpt__WorkersReply *a = r->workers_reply, *b = p->workers_reply;
        Hpt__WorkerInfo **v = realloc(a->workers, (a->n_workers + b->n_workers + 1) * sizeof *v);
        if (!v)
            return -ENOMEM;
        memcpy(v + a->n_workers, b->workers, b->n_workers * sizeof *v);
        a->workers = v;
        a->n_workers += b->n_workers;
        b->n_workers = 0;
        a->more = b->more;
        a->total = b->total;
    }
    return 0;
}

int cli_client_request_all(cli_client_t *c, hpt_env_t *req, hpt_env_t **reply)
{
    *reply = NULL;
    int list = req->body_case == HPT__ENVELOPE__BODY_STATUS ? HPT__ENVELOPE__BODY_STATUS_REPLY
               : req->body_case == HPT__ENVELOPE__BODY_WORKERS ? HPT__ENVELOPE__BODY_WORKERS_REPLY
                                                                : 0;
    hpt_env_t *all = NULL;
    int rc = cli_client_request(c, req, &all);
    if (rc < 0 || !list || (int)all->body_case != list)
        goto out;   // one reply: not a list, or not a page of it (an ErrorReply ...)
    /* Ask from the last item received; the cursor is copied because each
     * page is freed once merged.  The request's own cursor is put back. */
    Hpt__StatusRequest sq = HPT__STATUS_REQUEST__INIT;
    Hpt__WorkersRequest wq = HPT__WORKERS_REQUEST__INIT;
    char after[264];
    hpt_env_t next = *req;
    if (list == HPT__ENVELOPE__BODY_STATUS_REPLY) {
        sq = *req->status;
        next.status = &sq;
    } else {
        wq = *req->workers;
        next.workers = &wq;
    }
    for (;;) {
        size_t n;
        if (list == HPT__ENVELOPE__BODY_STATUS_REPLY) {
            const Hpt__StatusReply *r = all->status_reply;
            if (!r->more || r->n_sweeps == 0)
                break;
            n = r->n_sweeps;
            sq.after = r->sweeps[n - 1]->id;
        } else {
            const Hpt__WorkersReply *r = all->workers_reply;
            if (!r->more || r->n_workers == 0)
                break;
            n = r->n_workers;
            snprintf(after, sizeof after, "%s", r->workers[n - 1]->id);
            wq.after = after;
        }
        hpt_env_t *page = NULL;
        rc = cli_client_request(c, &next, &page);
        if (rc < 0) {
            hpt_proto_free(&all);
            goto out;
        }
        if ((int)page->body_case != list) {   // an ErrorReply for a later page: that is the answer
            hpt_proto_free(&all);
            all = page;
            goto out;
        }
        rc = merge_page(all, page);
        hpt_proto_free(&page);
        if (rc < 0) {
            hpt_proto_free(&all);
            goto out;
        }
    }
out:
    if (rc == 0)
        *reply = all;
    return rc;
}

int cli_client_unreachable(const cli_client_t *c)
{
    fprintf(stderr,
            "hptune: coordinator at %s (from %s) did not answer within %g s (is "
            "hptune-coordinator running? set --coordinator, HPTUNE_COORDINATOR or "
            "coordinator in the config file; hptune config shows the settings)\n",
            c->addr, c->addr_from, c->timeout_s);
    /* A CURVE handshake that fails looks the same from here: say what to
     * check, once per invocation (docs/security.md). */
    if (c->curve)
        fprintf(stderr, "hptune: with CURVE keys, also check that --server-key is the "
                        "coordinator's public key and that this client's public key is in "
                        "its --authorized-keys directory (then SIGHUP it)\n");
    else if (!hpt_curve_endpoint_is_local(c->addr))
        fprintf(stderr, "hptune: a coordinator that is not on loopback usually requires CURVE "
                        "keys: set --curve-secret and --server-key (or HPTUNE_CURVE_SECRET "
                        "and HPTUNE_SERVER_KEY; see docs/security.md)\n");
    return HPT_EXIT_UNREACHABLE;
}

int cli_client_error_status(int code)
{
    return code == 2 ? HPT_EXIT_USAGE : HPT_EXIT_FAIL;
}

int cli_client_reply_error(const cli_client_t *c, const char *cmd, const hpt_env_t *env)
{
    char e[1024];   // escaped here too: a raw client's replies are not sanitized
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_ERROR:
        fprintf(stderr, "hptune %s: %s\n", cmd, cli_esc(env->error->message, e, sizeof e));
        return cli_client_error_status(env->error->code);
    case HPT__ENVELOPE__BODY_REJECT:
        fprintf(stderr, "hptune %s: the coordinator at %s refused this client: %s\n", cmd,
                c->addr, cli_esc(env->reject->reason, e, sizeof e));
        return HPT_EXIT_FAIL;
    default:
        fprintf(stderr, "hptune %s: unexpected answer '%s' from %s\n", cmd,
                hpt_proto_body_name((int)env->body_case), c->addr);
        return HPT_EXIT_FAIL;
    }
}

int cli_client_call(cli_client_t *c, const char *cmd, hpt_env_t *req, int want,
                    hpt_env_t **reply)
{
    *reply = NULL;
    hpt_env_t *env = NULL;
    int rc = cli_client_request_all(c, req, &env);
    if (rc == -ETIMEDOUT)
        return cli_client_unreachable(c);
    if (rc == -EINTR)
        return HPT_EXIT_INTERRUPTED;
    if (rc < 0) {
        fprintf(stderr, "hptune %s: talking to %s: %s\n", cmd, c->addr, hpt_strerror(rc));
        return HPT_EXIT_FAIL;
    }
    if ((int)env->body_case == want) {
        *reply = env;
        return HPT_EXIT_OK;
    }
    int status = cli_client_reply_error(c, cmd, env);
    hpt_proto_free(&env);
    return status;
}
