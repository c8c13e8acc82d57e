/*
 * idx.c: reader for IDX files, gzip-compressed or raw (see idx.h).
 *
 * The file is consumed as one stream of decompressed bytes: a raw file passes
 * through, a gzip file goes through zlib's inflate one input chunk at a time.
 * That order lets us validate the header (magic, type, rank, dimensions, the
 * size cap) before the payload buffer exists, and inflate the payload straight
 * into its final buffer, so a file is never held in memory twice and a hostile
 * header cannot make us allocate more than HPT_IDX_MAX_BYTES.  The SHA-256 is
 * computed over the same stream as it goes by.
 *
 * Invariant: nothing in here trusts a byte of input.  Every length is checked
 * before it is used, and every failure becomes -EINVAL (bad content), -ENOMEM,
 * or -errno (I/O) with a message that starts with the file name.
 */
#include "idx.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#define IN_CHUNK (64 * 1024)        // compressed bytes read per fread()
#define TRAILING_COUNT_CAP (1 << 24) // stop counting trailing bytes here
#define GROW_START (1 << 20)         // first payload buffer when the length is unproven
#define SCAN_CHUNK (1 << 20)         // payload bytes read at a time by hpt_idx_scan_fd

// A payload under the cap always fits in a size_t, even on 32-bit hosts.
_Static_assert(HPT_IDX_MAX_BYTES <= SIZE_MAX, "HPT_IDX_MAX_BYTES must fit in size_t");

// ---------------------------------------------------------------------------
// The byte stream: a source (FILE or memory) optionally behind inflate.

typedef struct stream {
    const char *name;         // for messages (borrowed)
    FILE *fp;                 // file source (borrowed), or NULL for memory
    const uint8_t *mem;       // memory source (borrowed)
    size_t mem_len, mem_pos;  // memory source size and read position, bytes
    uint8_t *buf;             // (IN_CHUNK) read buffer for fp (owned by the caller)
    const uint8_t *in;        // unread source bytes (into buf or mem)
    size_t in_len;            // bytes at `in`
    bool src_eof;             // the source has nothing beyond `in`
    bool gz;                  // inflate the source, else pass it through
    bool gz_done;             // the last gzip member ended with the source exhausted
    z_stream zs;              // inflate state, live when gz
    uint64_t src_size;        // total source bytes, UINT64_MAX when unknown (a pipe)
    uint64_t src_used;        // source bytes consumed so far
    crypto_hash_sha256_state sha; // over every delivered byte
} stream;

static int fail(const stream *s, hpt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Set err to "<name>: <formatted text>" and return code. */
static int fail(const stream *s, hpt_err *err, int code, const char *fmt, ...)
{
    if (err) {
        char msg[HPT_ERR_MSG_LEN];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        hpt_err_set(err, code, "%s: %s", s->name, msg);
    }
    return code;
}

/* Make `in` non-empty unless the source is exhausted. */
static int src_fill(stream *s, hpt_err *err)
{
    if (s->in_len > 0 || s->src_eof)
        return 0;
    if (s->fp) {
        errno = 0;
        size_t n = fread(s->buf, 1, IN_CHUNK, s->fp);
        if (n < IN_CHUNK) {
            if (ferror(s->fp)) {
                int e = errno ? errno : EIO;
                return fail(s, err, -e, "read error: %s", strerror(e));
            }
            s->src_eof = true;
        }
        s->in = s->buf;
        s->in_len = n;
    } else {
        // Chunks of at most 1 GiB keep avail_in (a uInt) from truncating.
        size_t n = s->mem_len - s->mem_pos;
        if (n > (1u << 30))
            n = 1u << 30;
        s->in = s->mem + s->mem_pos;
        s->in_len = n;
        s->mem_pos += n;
        if (s->mem_pos == s->mem_len)
            s->src_eof = true;
    }
    return 0;
}

static void consume(stream *s, size_t n)
{
    s->in += n;
    s->in_len -= n;
    s->src_used += n;
}

/* Raw source: copy out of `in`, or fread straight into dst when the read
 * buffer is empty and the request is large, to avoid a pointless copy. */
static int raw_read(stream *s, uint8_t *dst, size_t n, size_t *got, hpt_err *err)
{
    while (*got < n) {
        if (s->in_len == 0 && s->fp && !s->src_eof && n - *got >= IN_CHUNK) {
            size_t want = n - *got;
            errno = 0;
            size_t k = fread(dst + *got, 1, want, s->fp);
            if (k < want) {
                if (ferror(s->fp)) {
                    int e = errno ? errno : EIO;
                    return fail(s, err, -e, "read error: %s", strerror(e));
                }
                s->src_eof = true;
            }
            *got += k;
            s->src_used += k;
            continue;
        }
        int rc = src_fill(s, err);
        if (rc < 0)
            return rc;
        if (s->in_len == 0)
            break;
        size_t k = n - *got < s->in_len ? n - *got : s->in_len;
        memcpy(dst + *got, s->in, k);
        consume(s, k);
        *got += k;
    }
    return 0;
}

/* gzip source.  A file may hold several gzip members back to back (as
 * `cat a.gz b.gz` or `gzip -c a b` make); their contents concatenate, as with
 * zcat.  Anything after a member that is not another valid member is corrupt,
 * and input that stops inside a member is truncated. */
static int gz_read(stream *s, uint8_t *dst, size_t n, size_t *got, hpt_err *err)
{
    while (*got < n && !s->gz_done) {
        int rc = src_fill(s, err);
        if (rc < 0)
            return rc;
        uInt avail_in = s->in_len > UINT_MAX ? UINT_MAX : (uInt)s->in_len;
        size_t room = n - *got;
        uInt avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        s->zs.next_in = (Bytef *)(uintptr_t)s->in;  // zlib does not write through it
        s->zs.avail_in = avail_in;
        s->zs.next_out = dst + *got;
        s->zs.avail_out = avail_out;
        int zr = inflate(&s->zs, Z_NO_FLUSH);
        consume(s, avail_in - s->zs.avail_in);
        *got += avail_out - s->zs.avail_out;

        switch (zr) {
        case Z_OK:
            break;
        case Z_STREAM_END:
            // End of one member: stop if the input ends here, else expect
            // another member.
            rc = src_fill(s, err);
            if (rc < 0)
                return rc;
            if (s->in_len == 0)
                s->gz_done = true;
            else if (inflateReset(&s->zs) != Z_OK)
                return fail(s, err, -EINVAL, "corrupt gzip stream");
            break;
        case Z_BUF_ERROR:
            // No progress possible: either the output is full (not here, the
            // loop condition rules it out) or the input ran out mid-member.
            if (s->in_len == 0 && s->src_eof)
                return fail(s, err, -EINVAL,
                            "truncated gzip stream (ends inside a member after %llu "
                            "compressed bytes)",
                            (unsigned long long)s->src_used);
            break;
        case Z_MEM_ERROR:
            return fail(s, err, -ENOMEM, "out of memory in inflate");
        default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
            return fail(s, err, -EINVAL, "corrupt gzip stream at compressed byte %llu: %s",
                        (unsigned long long)s->src_used,
                        s->zs.msg ? s->zs.msg : "invalid data");
        }
        // Inflate can return Z_OK after eating the last input byte without
        // finishing the member; the next round then sees Z_BUF_ERROR above.
    }
    return 0;
}

/* Read up to n decompressed bytes into dst; *got < n only at end of data.
 * Every delivered byte goes into the running SHA-256. */
static int stream_read(stream *s, uint8_t *dst, size_t n, size_t *got, hpt_err *err)
{
    *got = 0;
    int rc = s->gz ? gz_read(s, dst, n, got, err) : raw_read(s, dst, n, got, err);
    if (*got > 0)
        crypto_hash_sha256_update(&s->sha, dst, *got);
    return rc;
}

// ---------------------------------------------------------------------------
// IDX decoding.

static const char *type_name(uint8_t t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "short";
    case 0x0C: return "int";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "unknown";
    }
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* "100000 x 100000 x 100000" into buf. */
static void dims_str(const uint32_t *dims, int rank, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < rank && off < len; i++) {
        int k = snprintf(buf + off, len - off, "%s%u", i ? " x " : "", dims[i]);
        if (k < 0)
            break;
        off += (size_t)k;
    }
}

/* Decode one IDX file from s into *out (zeroed by the caller).  On failure
 * *out stays zeroed.  With scratch (SCAN_CHUNK bytes, borrowed) the payload
 * is read through it and dropped: only the header, the length checks and the
 * SHA-256 are kept (out->data stays NULL), so a file of any size is
 * validated and hashed in constant memory. */
static int idx_decode(stream *s, hpt_idx_t *out, uint8_t *scratch, hpt_err *err)
{
    if (sodium_init() < 0)
        return fail(s, err, -EIO, "libsodium failed to initialise");
    crypto_hash_sha256_init(&s->sha);

    // Detect gzip by its two magic bytes.  A raw IDX file starts with 0x00,
    // so the two can never be confused.
    int rc = src_fill(s, err);
    if (rc < 0)
        return rc;
    if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        // 15 + 16: maximum window, gzip wrapper only (no zlib or raw deflate).
        int zr = inflateInit2(&s->zs, 15 + 16);
        if (zr != Z_OK)
            return fail(s, err, zr == Z_MEM_ERROR ? -ENOMEM : -EINVAL,
                        "cannot initialise zlib: %s", s->zs.msg ? s->zs.msg : "error");
        s->gz = true;
    }

    // From here on the inflate state (if any) is live: exit through `out`.
    uint8_t *data = NULL;
    uint8_t hdr[4 * (1 + HPT_IDX_MAX_RANK)];
    size_t got;
    rc = stream_read(s, hdr, 4, &got, err);
    if (rc < 0)
        goto out;
    if (got < 4) {
        rc = fail(s, err, -EINVAL, "too short: %zu bytes, an IDX header needs at least 4", got);
        goto out;
    }
    if (hdr[0] != 0 || hdr[1] != 0) {
        rc = fail(s, err, -EINVAL,
                  "bad magic %02x %02x %02x %02x (an IDX file starts with 00 00 <type> <rank>)",
                  hdr[0], hdr[1], hdr[2], hdr[3]);
        goto out;
    }
    if (hdr[2] != 0x08) {
        rc = fail(s, err, -EINVAL,
                  "unsupported data type 0x%02X (%s); only 0x08 (unsigned byte) is supported",
                  hdr[2], type_name(hdr[2]));
        goto out;
    }
    int rank = hdr[3];
    if (rank < 1 || rank > HPT_IDX_MAX_RANK) {
        rc = fail(s, err, -EINVAL, "bad rank %d (must be 1..%d)", rank, HPT_IDX_MAX_RANK);
        goto out;
    }
    size_t hdr_len = 4 + 4 * (size_t)rank;
    rc = stream_read(s, hdr + 4, hdr_len - 4, &got, err);
    if (rc < 0)
        goto out;
    if (got < hdr_len - 4) {
        rc = fail(s, err, -EINVAL, "truncated header: rank %d needs %zu header bytes, file has %zu",
                  rank, hdr_len, 4 + got);
        goto out;
    }

    // Dimensions and their product.  The product is checked against the cap
    // after every factor: it stays <= 2^31 before a multiply and a factor is
    // < 2^32, so the uint64_t never overflows.
    uint32_t dims[HPT_IDX_MAX_RANK] = {0};
    uint64_t prod = 1;
    bool too_big = false;
    for (int i = 0; i < rank; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        if (dims[i] == 0) {
            rc = fail(s, err, -EINVAL, "dimension %d of %d is zero (every dimension must be > 0)",
                      i, rank);
            goto out;
        }
        if (!too_big) {
            prod *= dims[i];
            too_big = prod > HPT_IDX_MAX_BYTES;
        }
    }
    if (too_big) {
        char ds[96];
        dims_str(dims, rank, ds, sizeof ds);
        rc = fail(s, err, -EINVAL, "too large: dimensions %s exceed the %llu-byte limit", ds,
                  (unsigned long long)HPT_IDX_MAX_BYTES);
        goto out;
    }
    size_t n_bytes = (size_t)prod;
    size_t have = 0;
    if (scratch) {
        // Validation only: stream the payload through the scratch buffer.
        while (have < n_bytes) {
            size_t want = n_bytes - have < SCAN_CHUNK ? n_bytes - have : SCAN_CHUNK;
            rc = stream_read(s, scratch, want, &got, err);
            if (rc < 0)
                goto out;
            have += got;
            if (got < want)
                break;   // end of data
        }
        goto payload_read;
    }

    // The header is sane: now, and only now, allocate the payload.  The
    // header may still lie about the length (a 30-byte file can declare
    // 2 GiB), so unless the source is a raw file known to be long enough, the
    // buffer starts small and doubles as data actually arrives, up to the
    // declared size: memory use stays within twice what the file really
    // holds, which keeps a fuzzer's allocation limits happy too.
    size_t cap = n_bytes;
    if (s->gz || s->src_size == UINT64_MAX || s->src_size < s->src_used ||
        s->src_size - s->src_used < n_bytes)
        cap = n_bytes < GROW_START ? n_bytes : GROW_START;
    data = malloc(cap);
    if (!data) {
        rc = fail(s, err, -ENOMEM, "out of memory for %zu bytes of data", cap);
        goto out;
    }
    for (;;) {
        rc = stream_read(s, data + have, cap - have, &got, err);
        if (rc < 0)
            goto out;
        have += got;
        if (have < cap || cap == n_bytes)
            break;  // end of data, or all of it
        size_t new_cap = cap > n_bytes / 2 ? n_bytes : 2 * cap;
        uint8_t *p = realloc(data, new_cap);
        if (!p) {
            rc = fail(s, err, -ENOMEM, "out of memory for %zu bytes of data", new_cap);
            goto out;
        }
        data = p;
        cap = new_cap;
    }
payload_read:
    if (have < n_bytes) {
        rc = fail(s, err, -EINVAL, "truncated: header declares %zu bytes of data, file has %zu",
                  n_bytes, have);
        goto out;
    }

    // There must be nothing after the payload.  For gzip this read also runs
    // inflate to the end of the stream, which checks the CRC and length.
    uint8_t extra[4096];
    rc = stream_read(s, extra, 1, &got, err);
    if (rc < 0)
        goto out;
    if (got > 0) {
        // Count the excess for the message, within reason (a gzip bomb could
        // make it arbitrarily long).
        uint64_t more = got;
        while (got > 0 && more < TRAILING_COUNT_CAP) {
            rc = stream_read(s, extra, sizeof extra, &got, err);
            if (rc < 0)
                goto out;
            more += got;
        }
        rc = fail(s, err, -EINVAL,
                  "trailing bytes: header declares %zu bytes of data, file has %s%llu more",
                  n_bytes, more >= TRAILING_COUNT_CAP ? "at least " : "",
                  (unsigned long long)more);
        goto out;
    }

    *out = (hpt_idx_t){.rank = rank, .n_bytes = n_bytes, .data = data};
    memcpy(out->dims, dims, sizeof dims);
    crypto_hash_sha256_final(&s->sha, out->sha256);
    data = NULL;  // now owned by *out
    rc = 0;

out:
    free(data);
    if (s->gz)
        inflateEnd(&s->zs);
    return rc;
}

// ---------------------------------------------------------------------------
// Public API.

int hpt_idx_read(const char *path, hpt_idx_t *out, hpt_err *err)
{
    if (!out)
        return hpt_err_set(err, -EINVAL, "hpt_idx_read: NULL output");
    *out = (hpt_idx_t){0};
    if (!path)
        return hpt_err_set(err, -EINVAL, "hpt_idx_read: NULL path");

    stream s = {.name = path};
    int rc;
    FILE *fp = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return fail(&s, err, -e, "cannot open: %s", strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        rc = fail(&s, err, -e, "cannot stat: %s", strerror(e));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = fail(&s, err, -EISDIR, "is a directory, not an IDX file");
        goto out;
    }
    fp = fdopen(fd, "rb");
    if (!fp) {
        int e = errno;
        rc = fail(&s, err, -e, "cannot open: %s", strerror(e));
        goto out;
    }
    fd = -1;  // owned by fp now
    s.fp = fp;
    s.src_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : UINT64_MAX;
    s.buf = malloc(IN_CHUNK);
    if (!s.buf) {
        rc = fail(&s, err, -ENOMEM, "out of memory");
        goto out;
    }
    rc = idx_decode(&s, out, NULL, err);

out:
    free(s.buf);
    if (fp)
        fclose(fp);
    if (fd >= 0)
        close(fd);
    return rc;
}

int hpt_idx_scan_fd(int fd, const char *name, hpt_idx_t *out, hpt_err *err)
{
    if (!out)
        return hpt_err_set(err, -EINVAL, "hpt_idx_scan_fd: NULL output");
    *out = (hpt_idx_t){0};
    stream s = {.name = name ? name : "(fd)"};
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        return fail(&s, err, -e, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return fail(&s, err, -EINVAL, "not a regular file (%s)",
                    S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO"
                    : S_ISLNK(st.st_mode) ? "a symbolic link" : S_ISSOCK(st.st_mode) ? "a socket"
                    : "a device");
    /* Read through a FILE on a duplicate, from the start, so that the
     * caller's descriptor stays open for it (pread ignores the offset). */
    int rc;
    FILE *fp = NULL;
    uint8_t *scratch = NULL;
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0 || !(fp = fdopen(dfd, "rb"))) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return fail(&s, err, -e, "cannot read: %s", strerror(e));
    }
    s.fp = fp;
    s.src_size = (uint64_t)st.st_size;
    s.buf = malloc(IN_CHUNK);
    scratch = malloc(SCAN_CHUNK);
    if (!s.buf || !scratch) {
        rc = fail(&s, err, -ENOMEM, "out of memory");
        goto out;
    }
    if (fseeko(fp, 0, SEEK_SET) != 0) {
        int e = errno;
        rc = fail(&s, err, -e, "cannot seek: %s", strerror(e));
        goto out;
    }
    rc = idx_decode(&s, out, scratch, err);

out:
    free(scratch);
    free(s.buf);
    fclose(fp);
    return rc;
}

int hpt_idx_parse(const char *name, const uint8_t *buf, size_t len, hpt_idx_t *out, hpt_err *err)
{
    if (!out)
        return hpt_err_set(err, -EINVAL, "hpt_idx_parse: NULL output");
    *out = (hpt_idx_t){0};
    stream s = {.name = name ? name : "(buffer)", .mem = buf, .mem_len = buf ? len : 0,
                .src_size = buf ? len : 0};
    if (!buf && len > 0)
        return fail(&s, err, -EINVAL, "NULL buffer of %zu bytes", len);
    return idx_decode(&s, out, NULL, err);
}

void hpt_idx_free(hpt_idx_t *idx)
{
    if (!idx)
        return;
    free(idx->data);
    *idx = (hpt_idx_t){0};
}

void hpt_sha256_hex(const uint8_t digest[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}
