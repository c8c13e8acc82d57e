/*
 * curve.h: CurveZMQ keys for hptune: key files, the authorized-keys directory,
 * socket options, and the loopback test of protected mode.
 *
 * A key is 32 bytes; in files, flags and logs it is written in Z85 (ZeroMQ
 * RFC 32): exactly 40 characters.  `hptune keygen -o PREFIX` writes two files
 * in CZMQ's certificate format (so `zcert` files work too):
 *   PREFIX.key  the secret certificate: public-key and secret-key, mode 0600;
 *   PREFIX.pub  the public certificate: public-key only.
 * Readers accept that format (`public-key = "Z85"` and `secret-key = "Z85"`
 * lines, quotes optional; `#` comments, section names and other entries are
 * ignored) and, for a public key, also a file holding just the 40 characters
 * (`echo KEY > authorized_keys/alice`).  A secret key file that group or
 * others may access (any of mode 077) is refused, as ssh refuses such private
 * keys; `chmod 600 FILE` fixes it.
 *
 * The coordinator's ROUTER is the CURVE server; workers and the CLI are
 * clients that also know the server's public key.  Which client keys may
 * connect is decided by the coordinator's ZAP handler (coord_zap.c) against an
 * hpt_curve_keyset_t: one public key per file in a directory, like ssh's
 * authorized_keys.  Each key has roles (worker, client, reader), given by
 * the subdirectory its file is in: workers/, clients/, readers/; a file at
 * the top of the directory (the layout before roles) is a worker's.  A
 * public key file may carry a `role = "client"` line (`hptune keygen
 * --role`), which must then agree with where the file is: the directory,
 * which the coordinator's operator chooses, decides, never the file's
 * author.
 *
 * Nothing here keeps global state; every function may be called from any
 * thread except the socket helpers, which follow the socket's thread.
 */
#ifndef HPT_CURVE_H
#define HPT_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HPT_CURVE_KEY_LEN 32          // bytes of a binary key
#define HPT_CURVE_Z85_LEN 40          // characters of a Z85 key, without the NUL
#define HPT_CURVE_ZAP_DOMAIN "hptune" // ZMQ_ZAP_DOMAIN of the coordinator's ROUTER
#define HPT_CURVE_MAX_FILE 65536      // larger key files are refused (bytes)

// --- roles ----------------------------------------------------------------

/* What a key may do (docs/security.md); a key may hold several (the same
 * key in two role directories). */
#define HPT_CURVE_ROLE_WORKER 1u  // register and work: Hello, Heartbeat, Progress, Result, ...
#define HPT_CURVE_ROLE_CLIENT 2u  // submit and cancel sweeps, and everything a reader may do
#define HPT_CURVE_ROLE_READER 4u  // status, workers, results, logs: read only
/* The operator: a client that may also cancel sweeps other keys submitted
 * (a client cancels only its own).  The coordinator gives an admin key the
 * client and reader roles too (coord_zap_roles). */
#define HPT_CURVE_ROLE_ADMIN 8u
#define HPT_CURVE_ROLE_ALL 15u    // a coordinator without keys: every peer may do everything

/* "worker", "client", "reader" or "admin" for one role bit; NULL for anything else. */
const char *hpt_curve_role_name(unsigned role);

/* The role called s ("worker", "client", "reader", "admin"), or 0. */
unsigned hpt_curve_role_parse(const char *s);

/* A set of roles as text, "worker", "client+reader", "none" (no role), into
 * buf (borrowed, len bytes); returns buf. */
const char *hpt_curve_roles_str(unsigned roles, char *buf, size_t len);

/* The subdirectory of the authorized-keys directory that gives a role:
 * "workers", "clients", "readers"; NULL for anything else. */
const char *hpt_curve_role_dir(unsigned role);

/* A key pair in Z85 text.  secret is "" when only the public key is known.
 * Plain data: wipe it with hpt_curve_wipe when the secret is no longer
 * needed. */
typedef struct hpt_curve_pair {
    char public_z85[HPT_CURVE_Z85_LEN + 1];
    char secret_z85[HPT_CURVE_Z85_LEN + 1];
} hpt_curve_pair_t;

/* 0 when this libzmq supports CURVE (zmq_has("curve")), else -ENOTSUP with a
 * message naming the libzmq version and what to install.  Any thread. */
int hpt_curve_supported(hpt_err *err);

/* Check that text[0..len) is one Z85 key: 40 characters of the Z85 alphabet
 * that decode to 32 bytes.  Returns 0, or -EINVAL with a message saying what
 * is wrong ("39 characters, a key has 40", "character 7 ('~') is not Z85"),
 * without repeating the text (it may be a secret). */
int hpt_curve_key_check(const char *text, size_t len, hpt_err *err);

/* Decode a checked Z85 key (40 characters, NUL-terminated) into out[32].
 * Returns 0 or -EINVAL. */
int hpt_curve_key_decode(const char *z85, uint8_t out[HPT_CURVE_KEY_LEN]);

/* Encode 32 bytes as Z85 into out[41]. */
void hpt_curve_key_encode(const uint8_t key[HPT_CURVE_KEY_LEN], char out[HPT_CURVE_Z85_LEN + 1]);

/* A new random key pair (zmq_curve_keypair) into *out.  Returns 0, or
 * -ENOTSUP when libzmq has no CURVE. */
int hpt_curve_generate(hpt_curve_pair_t *out, hpt_err *err);

/* Read a secret key file: refuse it when group or others may access it
 * (-EPERM, naming the file, its mode and the chmod that fixes it), when a key
 * is missing or malformed (-EINVAL, naming the file and line), or when its
 * public key is not the one its secret key derives (-EINVAL).  On success
 * *out holds both keys.  path: borrowed. */
int hpt_curve_load_secret(const char *path, hpt_curve_pair_t *out, hpt_err *err);

/* Read a public key file (a certificate or the bare 40 characters) into
 * out[41].  A file that holds a secret key is refused (-EINVAL): only public
 * keys are handed around.  path: borrowed. */
int hpt_curve_load_public(const char *path, char out[HPT_CURVE_Z85_LEN + 1], hpt_err *err);

/* hpt_curve_load_public that also returns the file's `role = "NAME"` line
 * in *role (a HPT_CURVE_ROLE_* bit; 0 when the file has none).  An unknown
 * role name is refused (-EINVAL, naming the file and line). */
int hpt_curve_load_public_role(const char *path, char out[HPT_CURVE_Z85_LEN + 1],
                               unsigned *role, hpt_err *err);

/* A public key given on the command line as FILE_OR_Z85: an existing file is
 * read with hpt_curve_load_public; otherwise 40 characters are taken as the
 * key itself.  Errors name the argument as `what` (e.g. "--server-key"). */
int hpt_curve_public_arg(const char *arg, const char *what, char out[HPT_CURVE_Z85_LEN + 1],
                         hpt_err *err);

/* Write PREFIX.key (mode 0600, both keys) and PREFIX.pub (mode 0644, the
 * public key).  Refuses with -EEXIST, naming the file, when either exists
 * and !force; with force both are replaced.  path_key and path_pub (may be
 * NULL) receive the two paths (at most len bytes each).  kp: borrowed. */
int hpt_curve_save(const char *prefix, const hpt_curve_pair_t *kp, bool force, char *path_key,
                   char *path_pub, size_t len, hpt_err *err);

/* hpt_curve_save for a key of one role (a HPT_CURVE_ROLE_* bit, or 0 for
 * none): PREFIX.pub then carries `role = "NAME"` in its metadata, which the
 * coordinator checks against the directory the file is put in. */
int hpt_curve_save_role(const char *prefix, const hpt_curve_pair_t *kp, unsigned role,
                        bool force, char *path_key, char *path_pub, size_t len, hpt_err *err);

/* Overwrite the secret key (libsodium's sodium_memzero). */
void hpt_curve_wipe(hpt_curve_pair_t *kp);

/* Whether a ZeroMQ bind endpoint is reachable from this machine only:
 * tcp://127.x.x.x:PORT, tcp://[::1]:PORT, tcp://localhost:PORT, ipc://...,
 * inproc://...  Everything else (a wildcard "*" host, 0.0.0.0, an interface name,
 * another transport) is not.  This is the test of protected mode. */
bool hpt_curve_endpoint_is_local(const char *endpoint);

/* Make `sock` (before bind) a CURVE server with kp's secret key and the ZAP
 * domain HPT_CURVE_ZAP_DOMAIN.  Returns 0 or -zmq_errno().  Socket's thread. */
int hpt_curve_set_server(void *sock, const hpt_curve_pair_t *kp);

/* Make `sock` (before connect) a CURVE client with kp's keys, trusting the
 * server key server_z85.  Returns 0 or -zmq_errno().  Socket's thread. */
int hpt_curve_set_client(void *sock, const hpt_curve_pair_t *kp, const char *server_z85);

// --- authorized keys ------------------------------------------------------

/* The public keys allowed to connect, with their roles: every regular file
 * of a directory (names starting with '.' and names ending in '~' are
 * skipped) holds one public key.  Files at the top of the directory are
 * workers' keys (the layout before roles); files in its subdirectories
 * workers/, clients/ and readers/ have that role; other subdirectories are
 * ignored.  The same key in several files has the roles of all of them.
 * Immutable once loaded: reloading builds a new set. */
typedef struct hpt_curve_keyset hpt_curve_keyset_t;

/* How many distinct keys have each role (a key with two roles counts in
 * both), and how many were found at the top of the directory. */
typedef struct hpt_curve_keyset_stats {
    size_t workers, clients, readers, admins;
    size_t flat;   // keys with a file at the top level (the layout before roles)
} hpt_curve_keyset_stats_t;

/* Told about a file that was skipped (path and reason, borrowed). */
typedef void (*hpt_curve_skip_cb)(const char *path, const char *why, void *ud);

/* Load the directory dir (borrowed) and its role subdirectories.  With
 * skip == NULL a bad file fails the whole load (-EINVAL, err naming the
 * file); otherwise skip is called for it and loading goes on.  A file whose
 * `role` line disagrees with the directory it is in is a bad file.  A
 * missing or unreadable directory fails either way (a role subdirectory
 * that cannot be read is a bad file).  An empty directory gives an empty
 * set.  Returns 0 with *out owned by the caller (hpt_curve_keyset_destroy),
 * or a negative errno. */
int hpt_curve_keyset_load(hpt_curve_keyset_t **out, const char *dir, hpt_curve_skip_cb skip,
                          void *ud, hpt_err *err);

/* The name of the file (borrowed, valid while the set lives) that lists this
 * binary key, relative to the directory ("alice.pub", "clients/bob.pub"),
 * or NULL when the key is not in the set. */
const char *hpt_curve_keyset_find(const hpt_curve_keyset_t *ks,
                                  const uint8_t key[HPT_CURVE_KEY_LEN]);

/* The roles of this binary key (HPT_CURVE_ROLE_* bits), 0 when it is not
 * in the set; *name (may be NULL) receives hpt_curve_keyset_find's name.
 * A binary search: cheap enough for every message. */
unsigned hpt_curve_keyset_roles(const hpt_curve_keyset_t *ks,
                                const uint8_t key[HPT_CURVE_KEY_LEN], const char **name);

/* Counts by role (zeros for NULL). */
void hpt_curve_keyset_stats(const hpt_curve_keyset_t *ks, hpt_curve_keyset_stats_t *out);

/* How many distinct keys the set holds. */
size_t hpt_curve_keyset_count(const hpt_curve_keyset_t *ks);

/* Free a set; accepts NULL and sets *p = NULL. */
void hpt_curve_keyset_destroy(hpt_curve_keyset_t **p);

#endif
