/* curve.c: CurveZMQ key files, authorized keys and socket options; see curve.h. */
#include "curve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

// --- keys -----------------------------------------------------------------

/* The Z85 alphabet (ZeroMQ RFC 32). */
static const char z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int hpt_curve_supported(hpt_err *err)
{
    if (zmq_has("curve"))
        return 0;
    int major, minor, patch;
    zmq_version(&major, &minor, &patch);
    return hpt_err_set(err, -ENOTSUP,
                       "this libzmq (%d.%d.%d) was built without CURVE support; install one "
                       "built with libsodium (Debian's libzmq5 is)",
                       major, minor, patch);
}

int hpt_curve_key_check(const char *text, size_t len, hpt_err *err)
{
    if (len != HPT_CURVE_Z85_LEN)
        return hpt_err_set(err, -EINVAL, "%zu characters, a key in Z85 has %d", len,
                           HPT_CURVE_Z85_LEN);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0' || !strchr(z85_chars, text[i])) {
            unsigned char ch = (unsigned char)text[i];
            if (ch > 32 && ch < 127)
                return hpt_err_set(err, -EINVAL, "character %zu ('%c') is not Z85", i + 1, ch);
            return hpt_err_set(err, -EINVAL, "character %zu (byte 0x%02x) is not Z85", i + 1, ch);
        }
    }
    char z[HPT_CURVE_Z85_LEN + 1];
    memcpy(z, text, len);
    z[len] = '\0';
    uint8_t bin[HPT_CURVE_KEY_LEN];
    int rc = hpt_curve_key_decode(z, bin);
    sodium_memzero(z, sizeof z);
    sodium_memzero(bin, sizeof bin);
    if (rc < 0)  // a 5-character group above 2^32
        return hpt_err_set(err, -EINVAL, "not a Z85 encoding of 32 bytes");
    return 0;
}

int hpt_curve_key_decode(const char *z85, uint8_t out[HPT_CURVE_KEY_LEN])
{
    if (strlen(z85) != HPT_CURVE_Z85_LEN)
        return -EINVAL;
    /* zmq_z85_decode rejects characters outside the alphabet and groups that
     * overflow 32 bits. */
    return zmq_z85_decode(out, z85) ? 0 : -EINVAL;
}

void hpt_curve_key_encode(const uint8_t key[HPT_CURVE_KEY_LEN], char out[HPT_CURVE_Z85_LEN + 1])
{
    zmq_z85_encode(out, key, HPT_CURVE_KEY_LEN);
}

int hpt_curve_generate(hpt_curve_pair_t *out, hpt_err *err)
{
    *out = (hpt_curve_pair_t){0};
    int rc = hpt_curve_supported(err);
    if (rc < 0)
        return rc;
    if (zmq_curve_keypair(out->public_z85, out->secret_z85) != 0)
        return hpt_err_set(err, -zmq_errno(), "zmq_curve_keypair: %s",
                           zmq_strerror(zmq_errno()));
    return 0;
}

void hpt_curve_wipe(hpt_curve_pair_t *kp)
{
    sodium_memzero(kp->secret_z85, sizeof kp->secret_z85);
}

// --- roles ----------------------------------------------------------------

static const struct {
    unsigned bit;
    const char *name, *dir;
} roles[] = {
    {HPT_CURVE_ROLE_WORKER, "worker", "workers"},
    {HPT_CURVE_ROLE_CLIENT, "client", "clients"},
    {HPT_CURVE_ROLE_READER, "reader", "readers"},
    {HPT_CURVE_ROLE_ADMIN, "admin", "admins"},
};
#define N_ROLES (sizeof roles / sizeof roles[0])

const char *hpt_curve_role_name(unsigned role)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (roles[i].bit == role)
            return roles[i].name;
    return NULL;
}

const char *hpt_curve_role_dir(unsigned role)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (roles[i].bit == role)
            return roles[i].dir;
    return NULL;
}

unsigned hpt_curve_role_parse(const char *s)
{
    for (size_t i = 0; i < N_ROLES; i++)
        if (strcmp(s, roles[i].name) == 0)
            return roles[i].bit;
    return 0;
}

const char *hpt_curve_roles_str(unsigned set, char *buf, size_t len)
{
    if (!len)
        return buf;
    buf[0] = '\0';
    size_t n = 0;
    for (size_t i = 0; i < N_ROLES; i++) {
        if (!(set & roles[i].bit))
            continue;
        int w = snprintf(buf + n, len - n, "%s%s", n ? "+" : "", roles[i].name);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
    if (!n)
        snprintf(buf, len, "none");
    return buf;
}

// --- key files ------------------------------------------------------------

/* What a key file holds; 0 = line not seen. */
typedef struct keyfile {
    char pub[HPT_CURVE_Z85_LEN + 1];
    char sec[HPT_CURVE_Z85_LEN + 1];
    int pub_line, sec_line;
    unsigned role;       // a `role = "NAME"` line (HPT_CURVE_ROLE_*), 0 when none
    int role_line;
} keyfile_t;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Store a key found on line `lineno` in *slot after checking it. */
static int take_key(const char *path, int lineno, const char *name, const char *val,
                    char *slot, int *slot_line, hpt_err *err)
{
    if (*slot_line)
        return hpt_err_set(err, -EINVAL, "%s:%d: a second %s (the first is on line %d)", path,
                           lineno, name, *slot_line);
    hpt_err e = {0};
    if (hpt_curve_key_check(val, strlen(val), &e) < 0)
        return hpt_err_set(err, -EINVAL, "%s:%d: %s: %s", path, lineno, name, e.msg);
    memcpy(slot, val, HPT_CURVE_Z85_LEN + 1);
    *slot_line = lineno;
    return 0;
}

/* Whether s is a name as a certificate's section header writes it. */
static bool is_section_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return false;
    return true;
}

/* Parse a key file's text (modified in place): certificate entries, or one
 * bare key (taken as the public key). */
static int parse_keyfile(const char *path, char *text, keyfile_t *kf, hpt_err *err)
{
    *kf = (keyfile_t){0};
    int lineno = 0;
    char *p = text;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = trim(p);
        p = nl ? nl + 1 : NULL;
        if (*s == '\0' || *s == '#')
            continue;
        hpt_err e = {0};
        /* A bare key may contain '=' (a Z85 character), so a line that is one
         * long word and not a key entry is taken as a bare public key. */
        bool entry = strncmp(s, "public-key", 10) == 0 || strncmp(s, "secret-key", 10) == 0;
        if (!entry && strlen(s) >= 30 && strcspn(s, " \t") == strlen(s)) {
            if (hpt_curve_key_check(s, strlen(s), &e) < 0)
                return hpt_err_set(err, -EINVAL, "%s:%d: not a key (%s)", path, lineno, e.msg);
            int rc = take_key(path, lineno, "public key", s, kf->pub, &kf->pub_line, err);
            if (rc < 0)
                return rc;
            continue;
        }
        char *eq = strchr(s, '=');
        if (eq) {
            *eq = '\0';
            char *name = trim(s), *val = trim(eq + 1);
            size_t n = strlen(val);
            if (n >= 2 && (val[0] == '"' || val[0] == '\'') && val[n - 1] == val[0]) {
                val[n - 1] = '\0';
                val++;
            }
            int rc = 0;
            if (strcmp(name, "public-key") == 0)
                rc = take_key(path, lineno, name, val, kf->pub, &kf->pub_line, err);
            else if (strcmp(name, "secret-key") == 0)
                rc = take_key(path, lineno, name, val, kf->sec, &kf->sec_line, err);
            else if (strcmp(name, "role") == 0) {
                /* hptune's own metadata entry (hptune keygen --role). */
                if (kf->role_line)
                    return hpt_err_set(err, -EINVAL, "%s:%d: a second role (the first is on "
                                       "line %d)", path, lineno, kf->role_line);
                kf->role = hpt_curve_role_parse(val);
                if (!kf->role)
                    return hpt_err_set(err, -EINVAL, "%s:%d: role: '%.32s' is not a role "
                                       "(worker, client, reader or admin)", path, lineno, val);
                kf->role_line = lineno;
            }
            // Other entries (a certificate's metadata) are not ours to judge.
            if (rc < 0)
                return rc;
            continue;
        }
        /* A bare word: a section header ("metadata", "curve") unless it looks
         * like an attempt at a key, which deserves the key's own error. */
        if (strlen(s) < 30 && is_section_name(s))
            continue;
        hpt_curve_key_check(s, strlen(s), &e);
        return hpt_err_set(err, -EINVAL, "%s:%d: not a key (%s)", path, lineno, e.msg);
    }
    return 0;
}

/* Read a whole key file (at most HPT_CURVE_MAX_FILE bytes) into a malloc'd,
 * NUL-terminated buffer; *mode receives its permission bits. */
static int read_keyfile(const char *path, char **out, unsigned *mode, hpt_err *err)
{
    *out = NULL;
    *mode = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = hpt_err_set(err, -EINVAL, "%s: not a regular file", path);
        goto out;
    }
    *mode = (unsigned)(st.st_mode & 07777);
    if (st.st_size > HPT_CURVE_MAX_FILE) {
        rc = hpt_err_set(err, -EFBIG, "%s: %lld bytes is too large for a key file (at most %d)",
                         path, (long long)st.st_size, HPT_CURVE_MAX_FILE);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = hpt_err_set(err, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (strlen(buf) != got) {
        rc = hpt_err_set(err, -EINVAL, "%s: not a text file (it holds a NUL byte)", path);
        goto out;
    }
    *out = buf;
    buf = NULL;
out:
    if (buf) {
        sodium_memzero(buf, (size_t)st.st_size + 1);
        free(buf);
    }
    close(fd);
    return rc;
}

static void free_text(char *text)
{
    if (text) {
        sodium_memzero(text, strlen(text));
        free(text);
    }
}

int hpt_curve_load_secret(const char *path, hpt_curve_pair_t *out, hpt_err *err)
{
    *out = (hpt_curve_pair_t){0};
    char *text = NULL;
    keyfile_t kf = {0};
    unsigned mode;
    int rc = read_keyfile(path, &text, &mode, err);
    if (rc < 0)
        goto out;
    if ((rc = parse_keyfile(path, text, &kf, err)) < 0)
        goto out;
    if (!kf.sec_line) {
        rc = hpt_err_set(err, -EINVAL,
                         "%s: no secret-key line: not a secret key file (give the PREFIX.key "
                         "written by `hptune keygen -o PREFIX`, not PREFIX.pub)",
                         path);
        goto out;
    }
    /* Checked after parsing so that a .pub given by mistake gets the message
     * above; the secret is refused all the same, as ssh refuses such keys. */
    if (mode & 077) {
        rc = hpt_err_set(err, -EPERM,
                         "%s: mode %04o lets group or others access this secret key; it must "
                         "be private to its owner: chmod 600 %s",
                         path, mode, path);
        goto out;
    }
    char derived[HPT_CURVE_Z85_LEN + 1];
    if (zmq_curve_public(derived, kf.sec) != 0) {
        rc = hpt_err_set(err, -zmq_errno(), "%s: cannot derive the public key: %s", path,
                         zmq_strerror(zmq_errno()));
        goto out;
    }
    if (kf.pub_line && strcmp(derived, kf.pub) != 0) {
        rc = hpt_err_set(err, -EINVAL,
                         "%s:%d: public-key is not the public key of this file's secret-key "
                         "(the file was edited or mixes two key pairs)",
                         path, kf.pub_line);
        goto out;
    }
    memcpy(out->public_z85, derived, sizeof out->public_z85);
    memcpy(out->secret_z85, kf.sec, sizeof out->secret_z85);
out:
    sodium_memzero(&kf, sizeof kf);
    free_text(text);
    return rc;
}

int hpt_curve_load_public(const char *path, char out[HPT_CURVE_Z85_LEN + 1], hpt_err *err)
{
    unsigned role;
    return hpt_curve_load_public_role(path, out, &role, err);
}

int hpt_curve_load_public_role(const char *path, char out[HPT_CURVE_Z85_LEN + 1],
                               unsigned *role, hpt_err *err)
{
    out[0] = '\0';
    *role = 0;
    char *text = NULL;
    keyfile_t kf = {0};
    unsigned mode;
    int rc = read_keyfile(path, &text, &mode, err);
    if (rc < 0)
        goto out;
    if ((rc = parse_keyfile(path, text, &kf, err)) < 0)
        goto out;
    if (kf.sec_line) {
        rc = hpt_err_set(err, -EINVAL,
                         "%s: holds a secret key; only public keys are handed around (give "
                         "the PREFIX.pub written by `hptune keygen -o PREFIX`)",
                         path);
        goto out;
    }
    if (!kf.pub_line) {
        rc = hpt_err_set(err, -EINVAL, "%s: no public key in this file (expected a line "
                                       "`public-key = \"KEY\"` or the 40-character key)",
                         path);
        goto out;
    }
    memcpy(out, kf.pub, HPT_CURVE_Z85_LEN + 1);
    *role = kf.role;
out:
    sodium_memzero(&kf, sizeof kf);
    free_text(text);
    return rc;
}

int hpt_curve_public_arg(const char *arg, const char *what, char out[HPT_CURVE_Z85_LEN + 1],
                         hpt_err *err)
{
    out[0] = '\0';
    struct stat st;
    hpt_err e = {0};
    if (stat(arg, &st) == 0) {
        int rc = hpt_curve_load_public(arg, out, &e);
        if (rc < 0)
            return hpt_err_set(err, rc, "%s: %s", what, e.msg);
        return 0;
    }
    int saved = errno;
    size_t len = strlen(arg);
    if (hpt_curve_key_check(arg, len, &e) == 0) {
        memcpy(out, arg, HPT_CURVE_Z85_LEN + 1);
        return 0;
    }
    /* Near a key's length: a mistyped key or a missing file, the message says
     * both ('/' proves nothing: it is a Z85 character). */
    if (len >= HPT_CURVE_Z85_LEN - 5 && len <= HPT_CURVE_Z85_LEN + 5)
        return hpt_err_set(err, -EINVAL, "%s: no file of that name, and not a key: %s", what,
                           e.msg);
    return hpt_err_set(err, -saved,
                       "%s: %s: %s (expected a public key file or the 40-character key)", what,
                       arg, strerror(saved));
}

/* Create path exclusively with mode and write text; on failure remove it. */
static int write_new(const char *path, const char *text, mode_t mode, hpt_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
    int rc = 0;
    // O_CREAT's mode is filtered by the umask; say what we mean.
    if (fchmod(fd, mode) != 0)
        rc = hpt_err_set(err, -errno, "%s: chmod: %s", path, strerror(errno));
    size_t len = strlen(text), done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
        else
            done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = hpt_err_set(err, -errno, "%s: fsync: %s", path, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = hpt_err_set(err, -errno, "%s: %s", path, strerror(errno));
    if (rc < 0)
        unlink(path);
    return rc;
}

int hpt_curve_save(const char *prefix, const hpt_curve_pair_t *kp, bool force, char *path_key,
                   char *path_pub, size_t len, hpt_err *err)
{
    return hpt_curve_save_role(prefix, kp, 0, force, path_key, path_pub, len, err);
}

int hpt_curve_save_role(const char *prefix, const hpt_curve_pair_t *kp, unsigned role,
                        bool force, char *path_key, char *path_pub, size_t len, hpt_err *err)
{
    const char *role_name = role ? hpt_curve_role_name(role) : NULL;
    if (role && !role_name)
        return hpt_err_set(err, -EINVAL, "not a role: %u", role);
    char key[4096], pub[4096];
    if ((size_t)snprintf(key, sizeof key, "%s.key", prefix) >= sizeof key ||
        (size_t)snprintf(pub, sizeof pub, "%s.pub", prefix) >= sizeof pub)
        return hpt_err_set(err, -ENAMETOOLONG, "%s: path too long", prefix);
    if (path_key)
        snprintf(path_key, len, "%s", key);
    if (path_pub)
        snprintf(path_pub, len, "%s", pub);
    struct stat st;
    const char *paths[2] = {key, pub};
    for (int i = 0; i < 2; i++) {
        if (lstat(paths[i], &st) == 0) {
            if (!force)
                return hpt_err_set(err, -EEXIST,
                                   "%s exists; refusing to overwrite a key (use --force to "
                                   "replace it; whoever holds the old key loses access)",
                                   paths[i]);
            if (S_ISDIR(st.st_mode))
                return hpt_err_set(err, -EISDIR, "%s: is a directory", paths[i]);
        }
    }
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);

    /* CZMQ's certificate layout (zcert_save), so other ZeroMQ tools read
     * these files and ours read theirs. */
    char text[1024];
    snprintf(text, sizeof text,
             "#   ****  Generated on %s by hptune keygen  ****\n"
             "#   ZeroMQ CURVE **Secret** Certificate\n"
             "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
             "#   hptune reads it with --curve-secret (workers and the CLI also from\n"
             "#   $HPTUNE_CURVE_SECRET).\n"
             "\n"
             "metadata\n"
             "curve\n"
             "    public-key = \"%s\"\n"
             "    secret-key = \"%s\"\n",
             date, kp->public_z85, kp->secret_z85);
    int rc = 0;
    if (force && unlink(key) != 0 && errno != ENOENT) {
        rc = hpt_err_set(err, -errno, "%s: %s", key, strerror(errno));
        goto out;
    }
    if ((rc = write_new(key, text, 0600, err)) < 0)
        goto out;
    char where[320], meta[64] = "";
    if (role_name) {
        snprintf(where, sizeof where,
                 "#   A %s's key: copy it into the coordinator's --authorized-keys\n"
                 "#   directory, subdirectory %s/ (the role line must agree with it).\n",
                 role_name, hpt_curve_role_dir(role));
        snprintf(meta, sizeof meta, "    role = \"%s\"\n", role_name);
    } else {
        snprintf(where, sizeof where,
                 "#   A worker's or client's: copy it into the coordinator's --authorized-keys\n"
                 "#   directory (workers/, clients/, readers/ or admins/: docs/security.md).\n"
                 "#   The coordinator's: give it to workers and clients (--server-key).\n");
    }
    snprintf(text, sizeof text,
             "#   ****  Generated on %s by hptune keygen  ****\n"
             "#   ZeroMQ CURVE Public Certificate\n"
             "%s"
             "\n"
             "metadata\n"
             "%s"
             "curve\n"
             "    public-key = \"%s\"\n",
             date, where, meta, kp->public_z85);
    if (force && unlink(pub) != 0 && errno != ENOENT) {
        rc = hpt_err_set(err, -errno, "%s: %s", pub, strerror(errno));
        unlink(key);
        goto out;
    }
    if ((rc = write_new(pub, text, 0644, err)) < 0)
        unlink(key);  // a secret key without its public half is of no use
out:
    sodium_memzero(text, sizeof text);
    return rc;
}

// --- protected mode ---------------------------------------------------------

/* Whether h[0..n) is a dotted IPv4 address in 127.0.0.0/8. */
static bool is_ipv4_loopback(const char *h, size_t n)
{
    int octets = 0;
    size_t i = 0;
    long first = -1;
    while (i < n) {
        long v = 0;
        size_t digits = 0;
        while (i < n && h[i] >= '0' && h[i] <= '9' && digits < 4) {
            v = v * 10 + (h[i] - '0');
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3 || v > 255)
            return false;
        if (octets == 0)
            first = v;
        octets++;
        if (i < n) {
            if (h[i] != '.' || octets == 4)
                return false;
            i++;
            if (i == n)
                return false;
        }
    }
    return octets == 4 && first == 127;
}

bool hpt_curve_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6;
    const char *colon = strrchr(host, ':');
    if (!colon)
        return false;
    size_t n = (size_t)(colon - host);
    if (n == 5 && memcmp(host, "[::1]", 5) == 0)
        return true;
    if (n == 9 && memcmp(host, "localhost", 9) == 0)
        return true;
    return is_ipv4_loopback(host, n);
}

// --- socket options -----------------------------------------------------------

int hpt_curve_set_server(void *sock, const hpt_curve_pair_t *kp)
{
    int one = 1, rc = 0;
    uint8_t sec[HPT_CURVE_KEY_LEN];
    if (hpt_curve_key_decode(kp->secret_z85, sec) < 0)
        return -EINVAL;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, sizeof sec) != 0 ||
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, HPT_CURVE_ZAP_DOMAIN,
                       strlen(HPT_CURVE_ZAP_DOMAIN)) != 0)
        rc = -zmq_errno();
    sodium_memzero(sec, sizeof sec);
    return rc;
}

int hpt_curve_set_client(void *sock, const hpt_curve_pair_t *kp, const char *server_z85)
{
    uint8_t pub[HPT_CURVE_KEY_LEN], sec[HPT_CURVE_KEY_LEN], srv[HPT_CURVE_KEY_LEN];
    int rc = 0;
    if (hpt_curve_key_decode(kp->public_z85, pub) < 0 ||
        hpt_curve_key_decode(kp->secret_z85, sec) < 0 ||
        hpt_curve_key_decode(server_z85, srv) < 0) {
        rc = -EINVAL;
        goto out;
    }
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, srv, sizeof srv) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, sizeof pub) != 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, sizeof sec) != 0)
        rc = -zmq_errno();
out:
    sodium_memzero(sec, sizeof sec);
    return rc;
}

// --- authorized keys -----------------------------------------------------------

typedef struct keyent {
    uint8_t key[HPT_CURVE_KEY_LEN];
    unsigned roles;   // HPT_CURVE_ROLE_* bits
    bool flat;        // a file at the top of the directory lists it
    char *name;       // owned: the file name relative to the directory
} keyent_t;

struct hpt_curve_keyset {
    keyent_t *v;  // sorted by key, no duplicate keys
    size_t n, cap;
};

static int cmp_key(const void *a, const void *b)
{
    const keyent_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, HPT_CURVE_KEY_LEN);
    return c ? c : strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void hpt_curve_keyset_destroy(hpt_curve_keyset_t **p)
{
    if (!p || !*p)
        return;
    hpt_curve_keyset_t *ks = *p;
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].name);
    free(ks->v);
    free(ks);
    *p = NULL;
}

/* The entries of one directory that may be key files or role directories:
 * sorted names (owned, *out), hidden files and editor backups left out. */
static int list_dir(const char *dir, char ***out, size_t *n_out, hpt_err *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return hpt_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || (len && de->d_name[len - 1] == '~'))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn) {
                rc = hpt_err_set(err, -ENOMEM, "out of memory");
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = hpt_err_set(err, -ENOMEM, "out of memory");
            goto out;
        }
        n++;
    }
    // Sorted, so errors and duplicates come out in a stable order.
    if (n)
        qsort(names, n, sizeof *names, cmp_name);
    *out = names;
    *n_out = n;
    names = NULL;
out:
    if (names) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    closedir(d);
    return rc;
}

/* A file that could not be used: fail the load (strict) or report it. */
static int bad_file(hpt_curve_skip_cb skip, void *ud, const char *path, int code,
                    const char *why, hpt_err *err)
{
    if (!skip)
        return hpt_err_set(err, code, "%s", why);
    skip(path, why, ud);
    return 0;
}

/* Load the key files of dir/rel (rel "" = the top level, role WORKER and
 * flat) into ks.  At the top level, a role directory is not a key file;
 * other subdirectories are skipped everywhere. */
static int load_dir(hpt_curve_keyset_t *ks, const char *dir, const char *rel, unsigned role,
                    hpt_curve_skip_cb skip, void *ud, hpt_err *err)
{
    char base[4096];
    bool top = rel[0] == '\0';
    if ((size_t)snprintf(base, sizeof base, top ? "%s" : "%s/%s", dir, rel) >= sizeof base)
        return bad_file(skip, ud, rel, -ENAMETOOLONG, "path too long", err);
    char **names = NULL;
    size_t n_names = 0;
    int rc = list_dir(base, &names, &n_names, err);
    if (rc < 0) {
        if (top)
            return rc;   // the directory itself: fatal either way
        char why[HPT_ERR_MSG_LEN];
        snprintf(why, sizeof why, "%s", err->msg);
        return bad_file(skip, ud, base, rc, why, err);
    }
    for (size_t i = 0; i < n_names && rc == 0; i++) {
        char path[4096 + 256];
        snprintf(path, sizeof path, "%s/%s", base, names[i]);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            continue;  // a role directory (loaded on its own) or another directory: not a key
        char z85[HPT_CURVE_Z85_LEN + 1];
        unsigned line_role = 0;
        hpt_err e = {0};
        if (hpt_curve_load_public_role(path, z85, &line_role, &e) < 0) {
            rc = bad_file(skip, ud, path, -EINVAL, e.msg, err);
            continue;
        }
        if (line_role && line_role != role) {
            /* The directory decides a key's role: the operator chose it.  A
             * role line that disagrees is a mistake worth stopping for. */
            char why[4096 + 512];
            snprintf(why, sizeof why,
                     "%s: its role line says %s, but keys %s have the role %s: move it into "
                     "%s/ (a key's role is the directory it is in)",
                     path, hpt_curve_role_name(line_role),
                     top ? "at the top of the directory (the layout before roles)"
                         : "in this directory",
                     hpt_curve_role_name(role), hpt_curve_role_dir(line_role));
            rc = bad_file(skip, ud, path, -EINVAL, why, err);
            continue;
        }
        if (ks->n == ks->cap) {
            size_t ncap = ks->cap ? ks->cap * 2 : 16;
            keyent_t *nv = realloc(ks->v, ncap * sizeof *nv);
            if (!nv) {
                rc = hpt_err_set(err, -ENOMEM, "out of memory");
                break;
            }
            ks->v = nv;
            ks->cap = ncap;
        }
        keyent_t *k = &ks->v[ks->n];
        *k = (keyent_t){.roles = role, .flat = top};
        if (top) {
            k->name = names[i];
            names[i] = NULL;
        } else {
            size_t len = strlen(rel) + 1 + strlen(names[i]) + 1;
            if (!(k->name = malloc(len))) {
                rc = hpt_err_set(err, -ENOMEM, "out of memory");
                break;
            }
            snprintf(k->name, len, "%s/%s", rel, names[i]);
        }
        hpt_curve_key_decode(z85, k->key);
        ks->n++;
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return rc;
}

int hpt_curve_keyset_load(hpt_curve_keyset_t **out, const char *dir, hpt_curve_skip_cb skip,
                          void *ud, hpt_err *err)
{
    *out = NULL;
    int rc = 0;
    hpt_curve_keyset_t *ks = calloc(1, sizeof *ks);
    if (!ks)
        return hpt_err_set(err, -ENOMEM, "out of memory");
    // The top level: keys from before roles, workers' (docs/security.md says why).
    if ((rc = load_dir(ks, dir, "", HPT_CURVE_ROLE_WORKER, skip, ud, err)) < 0)
        goto out;
    for (size_t r = 0; r < N_ROLES; r++) {
        char sub[4096];
        struct stat st;
        if ((size_t)snprintf(sub, sizeof sub, "%s/%s", dir, roles[r].dir) >= sizeof sub ||
            stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;   // no such role directory: no key has that role
        if ((rc = load_dir(ks, dir, roles[r].dir, roles[r].bit, skip, ud, err)) < 0)
            goto out;
    }
    if (ks->n > 1) {
        qsort(ks->v, ks->n, sizeof *ks->v, cmp_key);
        size_t w = 1;
        for (size_t r = 1; r < ks->n; r++) {
            keyent_t *last = &ks->v[w - 1];
            if (memcmp(ks->v[r].key, last->key, HPT_CURVE_KEY_LEN) == 0) {
                // The same key in two files: one entry with the roles of both.
                last->roles |= ks->v[r].roles;
                last->flat |= ks->v[r].flat;
                free(ks->v[r].name);
            } else {
                ks->v[w++] = ks->v[r];
            }
        }
        ks->n = w;
    }
    *out = ks;
    ks = NULL;
out:
    hpt_curve_keyset_destroy(&ks);
    return rc;
}

static const keyent_t *keyset_lookup(const hpt_curve_keyset_t *ks,
                                     const uint8_t key[HPT_CURVE_KEY_LEN])
{
    size_t lo = 0, hi = ks ? ks->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(ks->v[mid].key, key, HPT_CURVE_KEY_LEN);
        if (c == 0)
            return &ks->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const char *hpt_curve_keyset_find(const hpt_curve_keyset_t *ks,
                                  const uint8_t key[HPT_CURVE_KEY_LEN])
{
    const keyent_t *e = keyset_lookup(ks, key);
    return e ? e->name : NULL;
}

unsigned hpt_curve_keyset_roles(const hpt_curve_keyset_t *ks,
                                const uint8_t key[HPT_CURVE_KEY_LEN], const char **name)
{
    const keyent_t *e = keyset_lookup(ks, key);
    if (name)
        *name = e ? e->name : NULL;
    return e ? e->roles : 0;
}

size_t hpt_curve_keyset_count(const hpt_curve_keyset_t *ks)
{
    return ks ? ks->n : 0;
}

void hpt_curve_keyset_stats(const hpt_curve_keyset_t *ks, hpt_curve_keyset_stats_t *out)
{
    *out = (hpt_curve_keyset_stats_t){0};
    for (size_t i = 0; ks && i < ks->n; i++) {
        out->workers += (ks->v[i].roles & HPT_CURVE_ROLE_WORKER) != 0;
        out->clients += (ks->v[i].roles & HPT_CURVE_ROLE_CLIENT) != 0;
        out->readers += (ks->v[i].roles & HPT_CURVE_ROLE_READER) != 0;
        out->admins += (ks->v[i].roles & HPT_CURVE_ROLE_ADMIN) != 0;
        out->flat += ks->v[i].flat;
    }
}
