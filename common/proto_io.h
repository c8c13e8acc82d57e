/*
 * proto_io.h: framing, packing and validation of hpt.Envelope messages on
 * ZeroMQ sockets.
 *
 * On the wire a message is one frame holding a packed Envelope; on a ROUTER
 * socket it is preceded by the peer's identity frame.  Anything else (more
 * frames, an empty frame, bytes that do not unpack, a wrong protocol version,
 * an unset body, non-finite floats, out-of-range values) is rejected with an
 * hpt_err saying what was wrong, and never touches state.  Functions here
 * touch the socket, so call them on the socket's loop thread only.
 */
#ifndef HPT_PROTO_IO_H
#define HPT_PROTO_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "err.h"
#include "hptune.pb-c.h"

#define HPT_PROTO_MAX_MSG (16 * 1024 * 1024)  // ZMQ_MAXMSGSIZE for every socket
#define HPT_PROTO_MAX_ID 255                  // ZMQ identities are at most 255 bytes
#define HPT_PROTO_MAX_SPEC (1024 * 1024)      // a sweep spec's text, bytes
#define HPT_PROTO_SECRET_LEN 32               // Welcome/Hello.session_secret, bytes
/* The coordinator's ZMQ_MAXMSGSIZE: the largest message a worker or client
 * sends it is a Submit (a spec, its path and the envelope); a larger frame
 * costs the peer its connection before libzmq allocates it.  Every pipe
 * holds up to its high-water mark of messages, so this, not the 16 MiB of
 * replies, bounds what one peer can make the coordinator buffer. */
#define HPT_PROTO_MAX_INBOUND (HPT_PROTO_MAX_SPEC + 64 * 1024)
#define HPT_PROTO_MAX_CHUNK (1024 * 1024)     // FetchChunk.size and DatasetChunk.data, bytes
#define HPT_PROTO_MAX_MODEL_MEM (1ULL << 50) // Hello.max_model_mem, bytes (1 PiB)
/* The most tasks one bundle may hold (Hello.fuse_max, Assign.bundle_size):
 * what one training thread fuses (HPT_TRAIN_GROUP_MAX). */
#define HPT_PROTO_MAX_FUSE 16
#define HPT_PROTO_MAX_FILE (4ULL << 30)       // DatasetFile.size and offsets, bytes (IDX
                                              // payloads are capped at 2 GiB, plus headers)

typedef Hpt__Envelope hpt_env_t;

/* A routing identity as received from a ROUTER socket. */
typedef struct hpt_peer_id {
    uint8_t len;
    uint8_t bytes[HPT_PROTO_MAX_ID];
} hpt_peer_id_t;

/* Pack env (borrowed; its protocol field is set to PROTOCOL_VERSION here) and
 * send it, preceded by the identity frame when `to` is not NULL (ROUTER).
 * flags: ZMQ_DONTWAIT or 0.  Returns 0 or -errno (-EHOSTUNREACH for an
 * unknown peer with ZMQ_ROUTER_MANDATORY, -EAGAIN when the send would block). */
int hpt_proto_send(void *sock, const hpt_peer_id_t *to, hpt_env_t *env, int flags);

/* Receive one message without blocking.  For a ROUTER socket pass `from`
 * (receives the identity); for DEALER pass NULL.  On success *out is an
 * unpacked, validated envelope owned by the caller (free with
 * hpt_proto_free).  Returns 0; -EAGAIN when nothing is waiting; -EBADMSG when
 * a message arrived but was malformed (err says why; `from` is still filled
 * so the caller can answer or log the peer); other -errno from zmq. */
int hpt_proto_recv(void *sock, hpt_peer_id_t *from, hpt_env_t **out, hpt_err *err);

/* hpt_proto_recv that also reports, on -EBADMSG, the req_id of an envelope
 * that unpacked but failed validation (0 when unknown), so a server can
 * answer the bad request instead of leaving the client to time out. */
int hpt_proto_recv_ex(void *sock, hpt_peer_id_t *from, hpt_env_t **out, uint64_t *bad_req_id,
                      hpt_err *err);

/* What libzmq says about the connection a message came on (its message
 * properties, zmq_msg_gets): the User-Id the coordinator's ZAP handler gave
 * it (the peer's Z85 public key with CURVE; "" without a ZAP handler) and
 * the peer's address (an IP for TCP, "localhost:UID:GID:PID" for ipc://;
 * "" when unknown).  Cut to fit. */
typedef struct hpt_proto_meta {
    char user_id[256];
    char peer_address[64];
    char conn[32];          // "X-Hpt-Conn": the routing id and serial the coordinator's ZAP
                            // handler gave the connection ("" without one; coord_zap.c)
    int src_fd;             // ZMQ_SRCFD: the connection's descriptor (libzmq's, borrowed;
                            // -1 when unknown), for cutting a peer off (coord_zap.c)
} hpt_proto_meta_t;

/* hpt_proto_recv_ex that also fills *meta (may be NULL), on success and on
 * -EBADMSG alike, so that a server can tell who sent a bad message. */
int hpt_proto_recv_meta(void *sock, hpt_peer_id_t *from, hpt_env_t **out, uint64_t *bad_req_id,
                        hpt_proto_meta_t *meta, hpt_err *err);

/* A message received but not decoded yet (hpt_proto_recv_raw): its body
 * frame and what a walk of the Envelope's top-level fields found, so a
 * receiver can sort messages by kind (and refuse one by size or role)
 * before paying for protobuf-c's unpacking. */
typedef struct hpt_proto_raw {
    zmq_msg_t msg;        // the body frame (owned: hpt_proto_raw_close)
    int kind;             // the body field, which is the decoded body_case; 0: none known
    uint64_t req_id;      // the envelope's req_id, 0 when it has none
} hpt_proto_raw_t;

/* Receive one message without blocking, as hpt_proto_recv_meta, but do not
 * decode it: 0 with *raw holding the body (close it with
 * hpt_proto_raw_close, or decode it with hpt_proto_decode_ex), -EAGAIN,
 * or -EBADMSG (framing, or a body larger than its kind allows; raw->req_id
 * says which request, raw holds nothing).  The size checks are those of
 * hpt_proto_decode_ex. */
int hpt_proto_recv_raw(void *sock, hpt_peer_id_t *from, hpt_proto_raw_t *raw,
                       hpt_proto_meta_t *meta, hpt_err *err);
void hpt_proto_raw_close(hpt_proto_raw_t *raw);

/* The size checks of hpt_proto_decode_ex on a packed envelope, without
 * decoding: *kind is its body field (0 when none), *req_id its req_id. */
int hpt_proto_peek(const uint8_t *buf, size_t len, int *kind, uint64_t *req_id, hpt_err *err);

/* Unpack and validate a packed envelope (borrowed bytes).  Used by
 * hpt_proto_recv and by the fuzz target.  Returns 0 with *out owned by the
 * caller, or -EBADMSG with err filled. */
int hpt_proto_decode(const uint8_t *buf, size_t len, hpt_env_t **out, hpt_err *err);

/* hpt_proto_decode that also reports the req_id of an envelope that
 * unpacked but failed validation (bad_req_id may be NULL). */
int hpt_proto_decode_ex(const uint8_t *buf, size_t len, hpt_env_t **out, uint64_t *bad_req_id,
                        hpt_err *err);

/* Check an unpacked envelope: version, known body, per-body required fields,
 * ranges and finite floats.  Returns 0 or -EBADMSG with err filled. */
int hpt_proto_validate(const hpt_env_t *env, hpt_err *err);

/* Free an envelope from recv/decode; accepts NULL and sets *p = NULL. */
void hpt_proto_free(hpt_env_t **p);

/* Whether the strings of a Hello (borrowed; validated by hpt_proto_validate)
 * are plain text (common/text.h: UTF-8 without control characters): its
 * worker_id, name, host, version and each dataset's name and fingerprint.
 * They are shown in logs, `hptune workers` and the dashboard, so a worker
 * cannot put terminal escapes or fake log lines there.  Returns 0, or -EINVAL
 * with err naming the field: "name: control character U+001B at byte 4". */
int hpt_proto_hello_text_check(const Hpt__Hello *m, hpt_err *err);

/* Name of a body case ("hello", "result", ...) for logs. */
const char *hpt_proto_body_name(int body_case);

/* An identity for logs, truncated to fit buf of size len_buf; returns buf.
 * A routing id given by the coordinator's ZAP handler ("c<serial>.<hex>")
 * shows as it is; with a key set (hpt_peer_id_set_key), libzmq's automatic
 * ids (a zero byte and a 32-bit counter) show as "a" and 12 hex digits of a
 * keyed hash; anything else as hex (at most 2*len+1 bytes). */
const char *hpt_peer_id_str(const hpt_peer_id_t *id, char *buf, size_t len_buf);

/* Set the key (16 bytes, borrowed, copied) that hides automatic ids in
 * hpt_peer_id_str; process-wide, call once at start before other threads
 * log. */
void hpt_peer_id_set_key(const uint8_t key[16]);

/* Fill/read the wire HParams from/to hpt_hparams_t.  to_wire stores strings
 * that point at static name tables (no allocation); the repeated units array
 * points into `units_buf` (borrowed, HPT_MAX_LAYERS entries).  from_wire
 * validates names and ranges, returning -EINVAL with err naming the field. */
#include "params.h"
void hpt_proto_hparams_to_wire(const hpt_hparams_t *hp, Hpt__HParams *w, uint32_t *units_buf);
int hpt_proto_hparams_from_wire(const Hpt__HParams *w, hpt_hparams_t *hp, hpt_err *err);

#endif
