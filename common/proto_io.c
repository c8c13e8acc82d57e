/* proto_io.c: Envelope framing, packing and validation; see proto_io.h. */
#include "proto_io.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <zmq.h>

#include "dataset.h"

_Static_assert(HPT_PROTO_MAX_ID <= 255, "ZMQ identities are at most 255 bytes");

// --- send / receive -------------------------------------------------------

int hpt_proto_send(void *sock, const hpt_peer_id_t *to, hpt_env_t *env, int flags)
{
    env->protocol = HPT__VERSION__PROTOCOL_VERSION;
    size_t len = hpt__envelope__get_packed_size(env);
    if (len > HPT_PROTO_MAX_MSG)
        return -EMSGSIZE;
    zmq_msg_t msg;
    if (zmq_msg_init_size(&msg, len) != 0)
        return -zmq_errno();
    hpt__envelope__pack(env, zmq_msg_data(&msg));
    if (to) {
        if (zmq_send(sock, to->bytes, to->len, ZMQ_SNDMORE | flags) < 0) {
            int rc = -zmq_errno();
            zmq_msg_close(&msg);
            return rc;
        }
    }
    if (zmq_msg_send(&msg, sock, flags) < 0) {
        int rc = -zmq_errno();
        zmq_msg_close(&msg);
        return rc;
    }
    return 0;
}

/* Discard the remaining frames of a multi-part message. */
static void drain(void *sock)
{
    int more = 1;
    size_t len = sizeof more;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, ZMQ_DONTWAIT);
        zmq_msg_close(&m);
    }
}

int hpt_proto_recv(void *sock, hpt_peer_id_t *from, hpt_env_t **out, hpt_err *err)
{
    return hpt_proto_recv_ex(sock, from, out, NULL, err);
}

int hpt_proto_recv_ex(void *sock, hpt_peer_id_t *from, hpt_env_t **out, uint64_t *bad_req_id,
                      hpt_err *err)
{
    return hpt_proto_recv_meta(sock, from, out, bad_req_id, NULL, err);
}

/* Copy message property `name` of m into buf (len bytes, cut to fit), ""
 * when the message has none. */
static void msg_prop(zmq_msg_t *m, const char *name, char *buf, size_t len)
{
    const char *v = zmq_msg_gets(m, name);
    size_t n = v ? strnlen(v, len - 1) : 0;   // (no snprintf: this runs per message)
    memcpy(buf, v ? v : "", n);
    buf[n] = '\0';
}

static void meta_take(zmq_msg_t *m, hpt_proto_meta_t *meta)
{
    if (!meta)
        return;
    if (meta->src_fd < 0)
        meta->src_fd = zmq_msg_get(m, ZMQ_SRCFD);   // -1 for a frame libzmq made itself
    if (meta->user_id[0] || meta->peer_address[0] || meta->conn[0])
        return;
    msg_prop(m, "User-Id", meta->user_id, sizeof meta->user_id);
    msg_prop(m, "Peer-Address", meta->peer_address, sizeof meta->peer_address);
    msg_prop(m, "X-Hpt-Conn", meta->conn, sizeof meta->conn);
}

int hpt_proto_recv_meta(void *sock, hpt_peer_id_t *from, hpt_env_t **out, uint64_t *bad_req_id,
                        hpt_proto_meta_t *meta, hpt_err *err)
{
    *out = NULL;
    hpt_proto_raw_t raw;
    int rc = hpt_proto_recv_raw(sock, from, &raw, meta, err);
    if (bad_req_id)
        *bad_req_id = rc == -EBADMSG ? raw.req_id : 0;
    if (rc < 0)
        return rc;
    rc = hpt_proto_decode_ex(zmq_msg_data(&raw.msg), zmq_msg_size(&raw.msg), out, bad_req_id, err);
    hpt_proto_raw_close(&raw);
    return rc;
}

int hpt_proto_recv_raw(void *sock, hpt_peer_id_t *from, hpt_proto_raw_t *raw,
                       hpt_proto_meta_t *meta, hpt_err *err)
{
    raw->kind = 0;
    raw->req_id = 0;
    if (meta)
        *meta = (hpt_proto_meta_t){.src_fd = -1};
    zmq_msg_t *msg = &raw->msg;
    if (from) {
        zmq_msg_init(msg);
        if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
            int rc = -zmq_errno();
            zmq_msg_close(msg);
            return rc;
        }
        size_t n = zmq_msg_size(msg);
        from->len = (uint8_t)(n > HPT_PROTO_MAX_ID ? HPT_PROTO_MAX_ID : n);
        memcpy(from->bytes, zmq_msg_data(msg), from->len);
        meta_take(msg, meta);   // a ROUTER gives the identity frame the connection's properties
        int more = zmq_msg_more(msg);
        zmq_msg_close(msg);
        if (!more)
            return hpt_err_set(err, -EBADMSG, "message has no body frame");
    }
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
        int rc = -zmq_errno();
        zmq_msg_close(msg);
        return rc;
    }
    meta_take(msg, meta);
    int rc;
    if (zmq_msg_more(msg)) {
        drain(sock);
        rc = hpt_err_set(err, -EBADMSG, "message has more than one body frame");
    } else {
        rc = hpt_proto_peek(zmq_msg_data(msg), zmq_msg_size(msg), &raw->kind, &raw->req_id, err);
    }
    if (rc < 0)
        zmq_msg_close(msg);
    return rc;
}

void hpt_proto_raw_close(hpt_proto_raw_t *raw)
{
    zmq_msg_close(&raw->msg);
}

int hpt_proto_decode(const uint8_t *buf, size_t len, hpt_env_t **out, hpt_err *err)
{
    return hpt_proto_decode_ex(buf, len, out, NULL, err);
}

/* The largest encoded body of each Envelope field (bytes), so that an
 * oversized message is refused before protobuf-c allocates anything for it
 * (a 16 MiB Heartbeat of 2 million entries would otherwise be decoded in
 * full, ~200 ms and hundreds of MB, before its count is checked).  Each
 * bound is what the validator below allows, with room: 1,024 running tasks
 * in a Heartbeat, 64 datasets of 4 KiB names in a Hello, a 4 KiB error in
 * a Result, a 1 MiB spec in a Submit, a 1 MiB chunk in a DatasetChunk.
 * Replies a client reads may use the whole message cap.  0: unknown field,
 * allowed up to UNKNOWN_MAX. */
#define KIB 1024
#define UNKNOWN_MAX (4 * KIB)
static size_t body_max(uint32_t field)
{
    switch (field) {
    case 10: return 512 * KIB;                          // hello
    case 11: return 64 * KIB;                           // heartbeat
    case 12: return 4 * KIB;                            // progress
    case 13: return 16 * KIB;                           // result
    case 14: return 1 * KIB;                            // goodbye
    case 20: return 1 * KIB;                            // welcome
    case 21: return 32 * KIB;                           // assign
    case 22: case 23: return 1 * KIB;                   // cancel, disconnect
    case 24: return 16 * KIB;                           // reject
    case 30: return HPT_PROTO_MAX_SPEC + 16 * KIB;      // submit
    case 32: case 34: case 36: case 38: case 40: case 43:
        return 16 * KIB;                                // client requests
    case 31: case 33: case 35: case 37: case 39: case 41: case 42: case 44:
        return HPT_PROTO_MAX_MSG;                       // replies and events
    case 50: return 16 * KIB;                           // dataset_offer
    case 51: return 16 * KIB;                           // fetch_chunk
    case 52: return HPT_PROTO_MAX_CHUNK + 64 * KIB;     // dataset_chunk
    case 53: return 512 * KIB;                          // datasets
    default: return 0;
    }
}

/* Read a varint at *p (below end); -1 when truncated or longer than 10
 * bytes. */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

/* Walk the Envelope's top-level fields without decoding them and refuse a
 * body larger than its kind may be (body_max), or unknown fields beyond
 * UNKNOWN_MAX in all.  Malformed framing is left to the decoder. */
static int check_sizes(const uint8_t *buf, size_t len, uint64_t *req_id, int *kind, hpt_err *err)
{
    const uint8_t *p = buf, *end = buf + len;
    size_t unknown = 0;
    while (p < end) {
        uint64_t key, n;
        if (varint(&p, end, &key) < 0)
            return 0;
        uint32_t field = (uint32_t)(key >> 3), type = (uint32_t)(key & 7);
        if (type == 0) {
            if (varint(&p, end, &n) < 0)
                return 0;
            if (field == 2 && req_id)
                *req_id = n;   // so a client's refused request can be answered
            continue;
        }
        if (type == 1 || type == 5) {
            size_t w = type == 1 ? 8 : 4;
            if ((size_t)(end - p) < w)
                return 0;
            p += w;
            continue;
        }
        if (type != 2 || varint(&p, end, &n) < 0 || n > (uint64_t)(end - p))
            return 0;
        size_t max = body_max(field);
        if (max > 0 && kind)
            *kind = (int)field;   // as protobuf-c decodes a oneof: the last one wins
        if (max == 0) {
            unknown += (size_t)n;
            if (unknown > UNKNOWN_MAX)
                return hpt_err_set(err, -EBADMSG,
                                   "unknown fields of %zu bytes or more (at most %d)", unknown,
                                   UNKNOWN_MAX);
        } else if (n > max) {
            return hpt_err_set(err, -EBADMSG,
                               "body field %u of %llu bytes exceeds its %zu byte limit", field,
                               (unsigned long long)n, max);
        }
        p += n;
    }
    return 0;
}

int hpt_proto_peek(const uint8_t *buf, size_t len, int *kind, uint64_t *req_id, hpt_err *err)
{
    *kind = 0;
    *req_id = 0;
    if (len == 0)
        return hpt_err_set(err, -EBADMSG, "empty message");
    if (len > HPT_PROTO_MAX_MSG)
        return hpt_err_set(err, -EBADMSG, "message of %zu bytes exceeds the %d byte limit", len,
                           HPT_PROTO_MAX_MSG);
    return check_sizes(buf, len, req_id, kind, err);
}

int hpt_proto_decode_ex(const uint8_t *buf, size_t len, hpt_env_t **out, uint64_t *bad_req_id,
                        hpt_err *err)
{
    *out = NULL;
    if (len == 0)
        return hpt_err_set(err, -EBADMSG, "empty message");
    if (len > HPT_PROTO_MAX_MSG)
        return hpt_err_set(err, -EBADMSG, "message of %zu bytes exceeds the %d byte limit", len,
                           HPT_PROTO_MAX_MSG);
    uint64_t req_id = 0;
    int rc0 = check_sizes(buf, len, &req_id, NULL, err);
    if (rc0 < 0) {
        if (bad_req_id)
            *bad_req_id = req_id;
        return rc0;
    }
    hpt_env_t *env = hpt__envelope__unpack(NULL, len, buf);
    if (!env)
        return hpt_err_set(err, -EBADMSG, "%zu bytes that are not a valid Envelope", len);
    int rc = hpt_proto_validate(env, err);
    if (rc < 0) {
        if (bad_req_id)
            *bad_req_id = env->req_id;
        hpt__envelope__free_unpacked(env, NULL);
        return rc;
    }
    *out = env;
    return 0;
}

void hpt_proto_free(hpt_env_t **p)
{
    if (p && *p) {
        hpt__envelope__free_unpacked(*p, NULL);
        *p = NULL;
    }
}

// --- validation -----------------------------------------------------------

#define BAD(...) return hpt_err_set(err, -EBADMSG, __VA_ARGS__)
#define MAX_STR 4096
#define MAX_LIST 100000

static bool str_ok(const char *s, size_t max)
{
    return s && strnlen(s, max + 1) <= max;
}

/* A NaN is allowed where a score may be missing; infinities never are. */
static bool finite_or_nan(double v)
{
    return !isinf(v);
}

static int check_hparams(const Hpt__HParams *h, hpt_err *err)
{
    if (!h)
        BAD("assign: hparams missing");
    hpt_hparams_t hp;
    hpt_err e = {0};
    if (hpt_proto_hparams_from_wire(h, &hp, &e) < 0)
        BAD("assign: hparams: %s", e.msg);
    return 0;
}

static int check_datasets(const char *what, size_t n, Hpt__DatasetInfo **d, hpt_err *err)
{
    if (n > 64)
        BAD("%s: %zu datasets (at most 64)", what, n);
    for (size_t i = 0; i < n; i++)
        if (!d[i] || !str_ok(d[i]->name, MAX_STR) || d[i]->name[0] == '\0' ||
            !str_ok(d[i]->fingerprint, 64))
            BAD("%s: dataset %zu has a bad name or fingerprint", what, i);
    /* A Hello's names are checked by the coordinator's core, which answers
     * with a Disconnect naming the field (hpt_proto_hello_text_check); a
     * Datasets message is only dropped. */
    hpt_err e = {0};
    for (size_t i = 0; i < n && strcmp(what, "datasets") == 0; i++)
        if (hpt_text_check(d[i]->name, &e) < 0 || hpt_text_check(d[i]->fingerprint, &e) < 0)
            BAD("%s: dataset %zu: name or fingerprint: %s", what, i, e.msg);
    return 0;
}

int hpt_proto_hello_text_check(const Hpt__Hello *m, hpt_err *err)
{
    const struct {
        const char *field, *value;
    } f[] = {{"worker_id", m->worker_id}, {"name", m->name}, {"host", m->host},
             {"version", m->version}};
    hpt_err e = {0};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (hpt_text_check(f[i].value ? f[i].value : "", &e) < 0)
            return hpt_err_set(err, -EINVAL, "%s: %s", f[i].field, e.msg);
    for (size_t i = 0; i < m->n_datasets; i++) {
        if (hpt_text_check(m->datasets[i]->name, &e) < 0)
            return hpt_err_set(err, -EINVAL, "datasets[%zu].name: %s", i, e.msg);
        if (hpt_text_check(m->datasets[i]->fingerprint, &e) < 0)
            return hpt_err_set(err, -EINVAL, "datasets[%zu].fingerprint: %s", i, e.msg);
    }
    return 0;
}

/* A fingerprint as the transfer needs it: 64 lowercase hex digits (a
 * dataset nobody has fingerprinted cannot be fetched or verified). */
static bool fingerprint_ok(const char *s)
{
    if (!s || strnlen(s, 65) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* A dataset file name on the wire: one of the four IDX base names, with or
 * without .gz (hpt_dataset_file_name_ok); never a path. */
static bool file_name_ok(const char *name)
{
    for (int i = 0; i < HPT_DATASET_N_FILES; i++)
        if (hpt_dataset_file_name_ok(i, name))
            return true;
    return false;
}

static int check_transfer(const hpt_env_t *env, hpt_err *err)
{
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_DATASET_OFFER: {
        const Hpt__DatasetOffer *m = env->dataset_offer;
        if (!str_ok(m->dataset, MAX_STR) || m->dataset[0] == '\0')
            BAD("dataset_offer: dataset missing");
        if (!fingerprint_ok(m->fingerprint))
            BAD("dataset_offer: fingerprint is not 64 hex digits");
        if (m->n_files != HPT_DATASET_N_FILES)
            BAD("dataset_offer: %zu files (exactly %d)", m->n_files, HPT_DATASET_N_FILES);
        for (size_t i = 0; i < m->n_files; i++) {
            if (!m->files[i] || !hpt_dataset_file_name_ok((int)i, m->files[i]->name))
                BAD("dataset_offer: file %zu is not %s[.gz]", i,
                    hpt_dataset_file_base((int)i));
            if (m->files[i]->size == 0 || m->files[i]->size > HPT_PROTO_MAX_FILE)
                BAD("dataset_offer: file %zu has size %llu (1..%llu)", i,
                    (unsigned long long)m->files[i]->size, (unsigned long long)HPT_PROTO_MAX_FILE);
        }
        return 0;
    }
    case HPT__ENVELOPE__BODY_FETCH_CHUNK: {
        const Hpt__FetchChunk *m = env->fetch_chunk;
        if (!str_ok(m->dataset, MAX_STR) || m->dataset[0] == '\0')
            BAD("fetch_chunk: dataset missing");
        if (!fingerprint_ok(m->fingerprint))
            BAD("fetch_chunk: fingerprint is not 64 hex digits");
        if (!file_name_ok(m->file))
            BAD("fetch_chunk: file is not one of the four IDX file names");
        if (m->size < 1 || m->size > HPT_PROTO_MAX_CHUNK)
            BAD("fetch_chunk: size %u out of range 1..%d", m->size, HPT_PROTO_MAX_CHUNK);
        if (m->offset >= HPT_PROTO_MAX_FILE)
            BAD("fetch_chunk: offset %llu out of range", (unsigned long long)m->offset);
        return 0;
    }
    case HPT__ENVELOPE__BODY_DATASET_CHUNK: {
        const Hpt__DatasetChunk *m = env->dataset_chunk;
        if (!str_ok(m->dataset, MAX_STR) || m->dataset[0] == '\0')
            BAD("dataset_chunk: dataset missing");
        if (!str_ok(m->error, MAX_STR) || !str_ok(m->file, 64))
            BAD("dataset_chunk: error text or file name too long");
        if (m->error[0] != '\0')
            return 0;   // a refusal carries no data
        if (!file_name_ok(m->file))
            BAD("dataset_chunk: file is not one of the four IDX file names");
        if (m->data.len > HPT_PROTO_MAX_CHUNK)
            BAD("dataset_chunk: %zu bytes (at most %d)", m->data.len, HPT_PROTO_MAX_CHUNK);
        if (m->file_size > HPT_PROTO_MAX_FILE || m->offset > m->file_size ||
            m->data.len > m->file_size - m->offset)
            BAD("dataset_chunk: bytes %llu..%llu outside a file of %llu",
                (unsigned long long)m->offset, (unsigned long long)(m->offset + m->data.len),
                (unsigned long long)m->file_size);
        return 0;
    }
    case HPT__ENVELOPE__BODY_DATASETS:
        return check_datasets("datasets", env->datasets->n_datasets, env->datasets->datasets,
                              err);
    default:
        BAD("not a dataset transfer message");
    }
}

int hpt_proto_validate(const hpt_env_t *env, hpt_err *err)
{
    if (env->protocol != HPT__VERSION__PROTOCOL_VERSION)
        BAD("protocol version %u, this build speaks %d", env->protocol,
            HPT__VERSION__PROTOCOL_VERSION);
    switch (env->body_case) {
    case HPT__ENVELOPE__BODY_HELLO: {
        const Hpt__Hello *m = env->hello;
        if (!str_ok(m->worker_id, 255) || m->worker_id[0] == '\0')
            BAD("hello: worker_id missing or longer than 255 bytes");
        if (!str_ok(m->name, 255) || !str_ok(m->host, 255) || !str_ok(m->version, 64))
            BAD("hello: name, host or version too long");
        if (m->slots < 1 || m->slots > 1024)
            BAD("hello: slots %u out of range 1..1024", m->slots);
        if (m->max_model_mem > HPT_PROTO_MAX_MODEL_MEM)
            BAD("hello: max_model_mem %llu bytes out of range 0..2^50",
                (unsigned long long)m->max_model_mem);
        if (m->fuse_max > HPT_PROTO_MAX_FUSE)
            BAD("hello: fuse_max %u out of range 0..%d", m->fuse_max, HPT_PROTO_MAX_FUSE);
        if (m->session_secret.len != 0 && m->session_secret.len != HPT_PROTO_SECRET_LEN)
            BAD("hello: session_secret of %zu bytes (0 or %d)", m->session_secret.len,
                HPT_PROTO_SECRET_LEN);
        return check_datasets("hello", m->n_datasets, m->datasets, err);
    }
    case HPT__ENVELOPE__BODY_HEARTBEAT:
        if (env->heartbeat->n_running > 1024)
            BAD("heartbeat: %zu running tasks (at most 1024)", env->heartbeat->n_running);
        for (size_t i = 0; i < env->heartbeat->n_running; i++)
            if (!env->heartbeat->running[i] || env->heartbeat->running[i]->task == 0)
                BAD("heartbeat: running entry %zu has no task id", i);
        return 0;
    case HPT__ENVELOPE__BODY_PROGRESS: {
        const Hpt__Progress *m = env->progress;
        if (m->task == 0 || m->attempt == 0)
            BAD("progress: task and attempt are required");
        if (m->epoch < 1 || m->epoch > m->epochs || m->epochs > HPT_MAX_EPOCHS)
            BAD("progress: epoch %u of %u out of range", m->epoch, m->epochs);
        if (!finite_or_nan(m->val_score) || !finite_or_nan(m->train_loss))
            BAD("progress: infinite score or loss");
        return 0;
    }
    case HPT__ENVELOPE__BODY_RESULT: {
        const Hpt__Result *m = env->result;
        if (m->task == 0 || m->attempt == 0)
            BAD("result: task and attempt are required");
        if (!str_ok(m->error, MAX_STR))
            BAD("result: error text too long");
        if (m->ok) {
            if (!isfinite(m->score) && !m->diverged)
                BAD("result: ok but score is not finite");
            if (!finite_or_nan(m->accuracy) || !finite_or_nan(m->log_loss) ||
                !finite_or_nan(m->f1_macro) || !finite_or_nan(m->train_score))
                BAD("result: infinite metric");
        }
        if (!isfinite(m->fit_seconds) || m->fit_seconds < 0 || m->fit_seconds > 1e9)
            BAD("result: fit_seconds %g out of range", m->fit_seconds);
        return 0;
    }
    case HPT__ENVELOPE__BODY_GOODBYE:
    case HPT__ENVELOPE__BODY_WELCOME:
        if (env->body_case == HPT__ENVELOPE__BODY_WELCOME &&
            (env->welcome->heartbeat_ms < 1 || env->welcome->heartbeat_ms > 600000 ||
             env->welcome->liveness < 1 || env->welcome->liveness > 100))
            BAD("welcome: heartbeat_ms or liveness out of range");
        if (env->body_case == HPT__ENVELOPE__BODY_WELCOME &&
            env->welcome->session_secret.len != 0 &&
            env->welcome->session_secret.len != HPT_PROTO_SECRET_LEN)
            BAD("welcome: session_secret of %zu bytes (0 or %d)",
                env->welcome->session_secret.len, HPT_PROTO_SECRET_LEN);
        return 0;
    case HPT__ENVELOPE__BODY_ASSIGN: {
        const Hpt__Assign *m = env->assign;
        if (m->task == 0 || m->attempt == 0)
            BAD("assign: task and attempt are required");
        if (!str_ok(m->dataset, MAX_STR) || m->dataset[0] == '\0')
            BAD("assign: dataset missing");
        if (!str_ok(m->fingerprint, 64))
            BAD("assign: bad fingerprint");
        if (!m->refit && (m->folds < 2 || m->folds > 1000 || m->fold >= m->folds))
            BAD("assign: fold %u of %u out of range", m->fold, m->folds);
        if (m->bundle ? m->bundle_size < 2 || m->bundle_size > HPT_PROTO_MAX_FUSE
                      : m->bundle_size != 0)
            BAD("assign: bundle_size %u out of range (2..%d with a bundle, else 0)",
                m->bundle_size, HPT_PROTO_MAX_FUSE);
        return check_hparams(m->hparams, err);
    }
    case HPT__ENVELOPE__BODY_CANCEL:
        if (env->cancel->task == 0)
            BAD("cancel: task is required");
        return 0;
    case HPT__ENVELOPE__BODY_DISCONNECT:
    case HPT__ENVELOPE__BODY_REJECT: {
        const char *r = env->body_case == HPT__ENVELOPE__BODY_DISCONNECT
                            ? env->disconnect->reason
                            : env->reject->reason;
        if (!str_ok(r, MAX_STR))
            BAD("reason too long");
        return 0;
    }
    case HPT__ENVELOPE__BODY_SUBMIT:
        if (!str_ok(env->submit->path, MAX_STR))
            BAD("submit: path too long");
        if (!env->submit->spec || env->submit->spec[0] == '\0')
            BAD("submit: empty spec");
        if (strnlen(env->submit->spec, HPT_PROTO_MAX_SPEC + 1) > HPT_PROTO_MAX_SPEC)
            BAD("submit: spec larger than %d bytes", HPT_PROTO_MAX_SPEC);
        return 0;
    case HPT__ENVELOPE__BODY_SUBSCRIBE:
        if (!str_ok(env->subscribe->level, 16))
            BAD("subscribe: bad level");
        return 0;
    case HPT__ENVELOPE__BODY_WORKERS:
        /* A paging cursor: a worker id, which the coordinator keeps under
         * 256 bytes. */
        if (!str_ok(env->workers->after, 256))
            BAD("workers: cursor longer than 256 bytes");
        return 0;
    case HPT__ENVELOPE__BODY_SUBMIT_REPLY:
    case HPT__ENVELOPE__BODY_STATUS:
    case HPT__ENVELOPE__BODY_STATUS_REPLY:
    case HPT__ENVELOPE__BODY_WORKERS_REPLY:
    case HPT__ENVELOPE__BODY_RESULTS:
    case HPT__ENVELOPE__BODY_RESULTS_REPLY:
    case HPT__ENVELOPE__BODY_CANCEL_SWEEP:
    case HPT__ENVELOPE__BODY_CANCEL_REPLY:
    case HPT__ENVELOPE__BODY_EVENT:
    case HPT__ENVELOPE__BODY_HISTORY_END:
    case HPT__ENVELOPE__BODY_UNSUBSCRIBE:
    case HPT__ENVELOPE__BODY_ERROR:
        return 0;
    case HPT__ENVELOPE__BODY_DATASET_OFFER:
    case HPT__ENVELOPE__BODY_FETCH_CHUNK:
    case HPT__ENVELOPE__BODY_DATASET_CHUNK:
    case HPT__ENVELOPE__BODY_DATASETS:
        return check_transfer(env, err);
    case HPT__ENVELOPE__BODY__NOT_SET:
    default:
        BAD("envelope has no (or an unknown) body");
    }
}

const char *hpt_proto_body_name(int body_case)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&hpt__envelope__descriptor, (unsigned)body_case);
    return (f && body_case >= 10) ? f->name : "none";
}

/* The key of the keyed hash that hides automatic routing ids in logs, set
 * once at start by the coordinator (before any thread logs); unset in the
 * worker and the CLI, which log no routing ids. */
static uint8_t peer_key[crypto_shorthash_KEYBYTES];
static bool peer_key_set;

void hpt_peer_id_set_key(const uint8_t key[16])
{
    _Static_assert(crypto_shorthash_KEYBYTES == 16, "SipHash-2-4 takes a 16-byte key");
    memcpy(peer_key, key, sizeof peer_key);
    peer_key_set = true;
}

/* An id the coordinator's ZAP handler gave: "c", digits, ".", 8 hex. */
static bool conn_token(const hpt_peer_id_t *id)
{
    size_t i = 1, d = 0;
    if (id->len < 11 || id->bytes[0] != 'c')
        return false;
    while (i < id->len && id->bytes[i] >= '0' && id->bytes[i] <= '9')
        i++, d++;
    if (d == 0 || i + 9 != id->len || id->bytes[i] != '.')
        return false;
    for (i++; i < id->len; i++)
        if (!((id->bytes[i] >= '0' && id->bytes[i] <= '9') ||
              (id->bytes[i] >= 'a' && id->bytes[i] <= 'f')))
            return false;
    return true;
}

const char *hpt_peer_id_str(const hpt_peer_id_t *id, char *buf, size_t len_buf)
{
    static const char hex[] = "0123456789abcdef";
    if (len_buf && conn_token(id)) {
        snprintf(buf, len_buf, "%.*s", (int)id->len, (const char *)id->bytes);
        return buf;
    }
    if (len_buf && peer_key_set && id->len == 5 && id->bytes[0] == 0) {
        /* libzmq's automatic id: a zero byte and a counter.  Shown as "a"
         * and a keyed hash, so a log reader cannot learn the counter (a
         * peer that knew it could make the ROUTER abort, coord_zap.c). */
        uint8_t h[crypto_shorthash_BYTES];
        crypto_shorthash(h, id->bytes, id->len, peer_key);
        snprintf(buf, len_buf, "a%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
        return buf;
    }
    size_t o = 0;
    for (size_t i = 0; i < id->len && o + 2 < len_buf; i++) {
        buf[o++] = hex[id->bytes[i] >> 4];
        buf[o++] = hex[id->bytes[i] & 15];
    }
    if (len_buf)
        buf[o < len_buf ? o : len_buf - 1] = '\0';
    return buf;
}

// --- hyperparameters ------------------------------------------------------

void hpt_proto_hparams_to_wire(const hpt_hparams_t *hp, Hpt__HParams *w, uint32_t *units_buf)
{
    hpt__hparams__init(w);
    w->layers = (uint32_t)hp->layers;
    for (int i = 0; i < hp->layers; i++)
        units_buf[i] = (uint32_t)hp->units[i];
    w->n_units = (size_t)hp->layers;
    w->units = units_buf;
    /* protobuf-c's char * fields are not const; the packer only reads them. */
    w->activation = (char *)hpt_act_name(hp->activation);
    w->init_mode = (char *)hpt_init_name(hp->init_mode);
    w->optimizer = (char *)hpt_opt_name(hp->optimizer);
    w->learning_rate = hpt_hparams_lr(hp);
    w->momentum = hp->momentum;
    w->nesterov = hp->nesterov;
    w->dropout = hp->dropout;
    w->input_dropout = hp->input_dropout;
    w->weight_constraint = hp->weight_constraint;
    w->weight_decay = hp->weight_decay;
    w->batch_size = (uint32_t)hp->batch_size;
    w->epochs = (uint32_t)hp->epochs;
    w->seed = hp->seed;
    w->metric = (char *)hpt_metric_name(hp->metric);
}

int hpt_proto_hparams_from_wire(const Hpt__HParams *w, hpt_hparams_t *hp, hpt_err *err)
{
    *hp = HPT_HPARAMS_DEFAULT;
    if (w->layers < 1 || w->layers > HPT_MAX_LAYERS)
        return hpt_err_set(err, -EINVAL, "layers %u out of range 1..%d", w->layers,
                           HPT_MAX_LAYERS);
    if (w->n_units != w->layers)
        return hpt_err_set(err, -EINVAL, "%zu units values for %u layers", w->n_units,
                           w->layers);
    hp->layers = (int)w->layers;
    for (size_t i = 0; i < w->n_units; i++) {
        if (w->units[i] < 1 || w->units[i] > HPT_MAX_UNITS)
            return hpt_err_set(err, -EINVAL, "units %u out of range", w->units[i]);
        hp->units[i] = (int)w->units[i];
    }
    int v;
    if ((v = hpt_act_parse(w->activation)) < 0)
        return hpt_err_set(err, -EINVAL, "unknown activation");
    hp->activation = (hpt_act_t)v;
    if ((v = hpt_init_parse(w->init_mode)) < 0)
        return hpt_err_set(err, -EINVAL, "unknown init_mode");
    hp->init_mode = (hpt_init_t)v;
    if ((v = hpt_opt_parse(w->optimizer)) < 0)
        return hpt_err_set(err, -EINVAL, "unknown optimizer");
    hp->optimizer = (hpt_opt_t)v;
    if ((v = hpt_metric_parse(w->metric)) < 0)
        return hpt_err_set(err, -EINVAL, "unknown metric");
    hp->metric = (hpt_metric_t)v;
    hp->learning_rate = w->learning_rate;
    hp->momentum = w->momentum;
    hp->nesterov = w->nesterov;
    hp->dropout = w->dropout;
    hp->input_dropout = w->input_dropout;
    hp->weight_constraint = w->weight_constraint;
    hp->weight_decay = w->weight_decay;   // bounded by hpt_hparams_validate below
    hp->batch_size = (int)(w->batch_size > HPT_MAX_BATCH ? 0 : w->batch_size);
    hp->epochs = (int)(w->epochs > HPT_MAX_EPOCHS ? 0 : w->epochs);
    hp->seed = w->seed;
    return hpt_hparams_validate(hp, err);
}
