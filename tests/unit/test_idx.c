/*
 * test_idx.c: the IDX reader on good files (raw, gzip, multi-member gzip, in
 * memory) and on every kind of bad one.  Each bad case checks the error code
 * and a piece of the message, which must start with the file's path.
 *
 * Fixtures are built here, in a mkdtemp directory removed at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>
#include <zlib.h>

#include "hpt_test.h"
#include "idx.h"

// ---------------------------------------------------------------------------
// Fixture helpers: a temp dir, files in it, IDX and gzip encoders.

static char tmp_dir[64];
static char *tmp_files[64];
static int n_tmp_files;

static void cleanup(void)
{
    for (int i = n_tmp_files - 1; i >= 0; i--) {
        unlink(tmp_files[i]);
        rmdir(tmp_files[i]);
        free(tmp_files[i]);
    }
    if (tmp_dir[0])
        rmdir(tmp_dir);
}

static const char *tmp_path(const char *name)
{
    if (!tmp_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_dir, sizeof tmp_dir, "%s/hpt-test-idx-XXXXXX",
                 t && strlen(t) < 30 ? t : "/tmp");
        ASSERT(mkdtemp(tmp_dir) != NULL);
        atexit(cleanup);
    }
    ASSERT(n_tmp_files < 64);
    char *p = malloc(strlen(tmp_dir) + strlen(name) + 2);
    ASSERT(p != NULL);
    sprintf(p, "%s/%s", tmp_dir, name);
    tmp_files[n_tmp_files++] = p;
    return p;
}

static const char *write_file(const char *name, const uint8_t *buf, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(buf, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
    return path;
}

/* An IDX file: magic 00 00 type rank, big-endian dims, then payload bytes
 * i * 7 + 3 (mod 256).  payload_len may differ from the dims' product to make
 * broken files.  Returns malloc'd bytes. */
static uint8_t *make_idx(uint8_t type, int rank, const uint32_t *dims, size_t payload_len,
                         size_t *len)
{
    size_t hdr = 4 + 4 * (size_t)rank;
    uint8_t *b = malloc(hdr + payload_len + 1);
    ASSERT(b != NULL);
    b[0] = 0;
    b[1] = 0;
    b[2] = type;
    b[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++) {
        b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        b[7 + 4 * i] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < payload_len; i++)
        b[hdr + i] = (uint8_t)(i * 7 + 3);
    *len = hdr + payload_len;
    return b;
}

/* gzip-compress (one member, level 9).  Returns malloc'd bytes. */
static uint8_t *gzip_bytes(const uint8_t *src, size_t len, size_t *out_len)
{
    z_stream zs = {0};
    ASSERT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)len) + 64;
    uint8_t *out = malloc(cap);
    ASSERT(out != NULL);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ASSERT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void sha256_of(const uint8_t *buf, size_t len, uint8_t digest[32])
{
    ASSERT(sodium_init() >= 0);
    crypto_hash_sha256(digest, buf, len);
}

/* Expect hpt_idx_read(path) to fail with code and a message that starts
 * with the path and contains `what`. */
static void expect_read_error(const char *path, int code, const char *what)
{
    hpt_idx_t idx;
    hpt_err err = {0};
    int rc = hpt_idx_read(path, &idx, &err);
    if (rc != code)
        fprintf(stderr, "message: %s\n", err.msg);
    ASSERT_EQ(rc, code);
    ASSERT_EQ(err.code, code);
    ASSERT_EQ(strncmp(err.msg, path, strlen(path)), 0);
    ASSERT_STR_CONTAINS(err.msg, what);
    ASSERT(idx.data == NULL);
    hpt_idx_free(&idx);  // harmless on the zeroed struct
}

static void expect_file_error(const char *name, const uint8_t *buf, size_t len, int code,
                              const char *what)
{
    expect_read_error(write_file(name, buf, len), code, what);
}

// ---------------------------------------------------------------------------
// Good files.

HPT_TEST(sha256_hex_known_vector)
{
    // FIPS 180-2 test vector: SHA-256("abc").
    uint8_t d[32];
    char hex[65];
    sha256_of((const uint8_t *)"abc", 3, d);
    hpt_sha256_hex(d, hex);
    ASSERT_STR_CONTAINS(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ(strlen(hex), 64);
}

HPT_TEST(raw_rank1_known_hash)
{
    // 00 00 08 01 | 00 00 00 03 | 01 02 03; its SHA-256 computed with
    // Python's hashlib, independently of this code.
    static const uint8_t file[] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    const char *path = write_file("small-idx1-ubyte", file, sizeof file);
    hpt_idx_t idx;
    hpt_err err = {0};
    ASSERT_OK(hpt_idx_read(path, &idx, &err));
    ASSERT_EQ(idx.rank, 1);
    ASSERT_EQ(idx.dims[0], 3);
    ASSERT_EQ(idx.n_bytes, 3);
    ASSERT_EQ(idx.data[0], 1);
    ASSERT_EQ(idx.data[2], 3);
    char hex[65];
    hpt_sha256_hex(idx.sha256, hex);
    ASSERT_STR_CONTAINS(hex, "398a8a7fbd9531f1d9aa2ae368533e137cb53c202c3665f25affcf1ca88844ab");
    hpt_idx_free(&idx);
    ASSERT(idx.data == NULL);
    hpt_idx_free(&idx);  // twice is fine
    hpt_idx_free(NULL);
}

HPT_TEST(raw_and_gzip_rank3)
{
    uint32_t dims[3] = {5, 28, 28};
    size_t len;
    uint8_t *raw = make_idx(0x08, 3, dims, 5 * 28 * 28, &len);
    uint8_t want[32];
    sha256_of(raw, len, want);

    size_t gz_len;
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    const char *paths[2] = {write_file("x-idx3-ubyte", raw, len),
                            write_file("x-idx3-ubyte.gz", gz, gz_len)};
    for (int i = 0; i < 2; i++) {
        hpt_idx_t idx;
        hpt_err err = {0};
        ASSERT_OK(hpt_idx_read(paths[i], &idx, &err));
        ASSERT_EQ(idx.rank, 3);
        ASSERT_EQ(idx.dims[0], 5);
        ASSERT_EQ(idx.dims[1], 28);
        ASSERT_EQ(idx.dims[2], 28);
        ASSERT_EQ(idx.dims[3], 0);
        ASSERT_EQ(idx.n_bytes, 5 * 28 * 28);
        ASSERT_EQ(memcmp(idx.data, raw + 16, idx.n_bytes), 0);
        ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
        hpt_idx_free(&idx);
    }
    free(gz);
    free(raw);
}

/* hpt_idx_scan_fd: the same checks and digest as hpt_idx_read, without the
 * payload; only regular files. */
HPT_TEST(scan_fd)
{
    // 3 MiB of payload: more than one scan buffer.
    uint32_t dims[3] = {4000, 28, 28};
    size_t len;
    uint8_t *raw = make_idx(0x08, 3, dims, 4000 * 28 * 28, &len);
    uint8_t want[32];
    sha256_of(raw, len, want);
    size_t gz_len;
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    const char *paths[2] = {write_file("s-idx3-ubyte", raw, len),
                            write_file("s-idx3-ubyte.gz", gz, gz_len)};
    for (int i = 0; i < 2; i++) {
        int fd = open(paths[i], O_RDONLY);
        ASSERT(fd >= 0);
        hpt_idx_t idx;
        hpt_err err = {0};
        ASSERT_OK(hpt_idx_scan_fd(fd, paths[i], &idx, &err));
        ASSERT_EQ(idx.rank, 3);
        ASSERT_EQ(idx.dims[0], 4000);
        ASSERT_EQ(idx.n_bytes, 4000 * 28 * 28);
        ASSERT(idx.data == NULL);
        ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
        // Twice on one descriptor: it reads from the start each time.
        ASSERT_OK(hpt_idx_scan_fd(fd, paths[i], &idx, &err));
        ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
        hpt_idx_free(&idx);
        ASSERT_EQ(close(fd), 0);
    }
    // Trailing bytes and a bad magic are refused as by hpt_idx_read.
    raw = realloc(raw, len + 1);
    raw[len] = 7;
    const char *trail = write_file("t-idx3-ubyte", raw, len + 1);
    raw[0] = 'r';
    const char *magic = write_file("m-idx3-ubyte", raw, len);
    const char *bad[2] = {trail, magic};
    const char *why[2] = {"trailing bytes", "bad magic"};
    for (int i = 0; i < 2; i++) {
        int fd = open(bad[i], O_RDONLY);
        hpt_idx_t idx;
        hpt_err err = {0};
        ASSERT_EQ(hpt_idx_scan_fd(fd, bad[i], &idx, &err), -EINVAL);
        ASSERT_STR_CONTAINS(err.msg, why[i]);
        ASSERT_STR_CONTAINS(err.msg, bad[i]);
        close(fd);
    }
    // A FIFO is refused without being read (no writer: a read would block).
    const char *fifo = tmp_path("fifo-idx3-ubyte");
    ASSERT_EQ(mkfifo(fifo, 0600), 0);
    int fd = open(fifo, O_RDONLY | O_NONBLOCK);
    ASSERT(fd >= 0);
    hpt_idx_t idx;
    hpt_err err = {0};
    ASSERT_EQ(hpt_idx_scan_fd(fd, fifo, &idx, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "a FIFO");
    close(fd);
    free(gz);
    free(raw);
}

HPT_TEST(gzip_larger_than_one_input_chunk)
{
    // Incompressible payload, so the .gz spans several 64 KiB reads.
    uint32_t dims[3] = {300, 28, 28};
    size_t len;
    uint8_t *raw = make_idx(0x08, 3, dims, 300 * 28 * 28, &len);
    uint32_t x = 12345;
    for (size_t i = 16; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        raw[i] = (uint8_t)(x >> 24);
    }
    uint8_t want[32];
    sha256_of(raw, len, want);
    size_t gz_len;
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    ASSERT(gz_len > 3 * 65536);
    const char *path = write_file("big-idx3-ubyte.gz", gz, gz_len);
    hpt_idx_t idx;
    hpt_err err = {0};
    ASSERT_OK(hpt_idx_read(path, &idx, &err));
    ASSERT_EQ(idx.dims[0], 300);
    ASSERT_EQ(memcmp(idx.data, raw + 16, idx.n_bytes), 0);
    ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
    hpt_idx_free(&idx);
    free(gz);
    free(raw);
}

HPT_TEST(gzip_multi_member)
{
    // Two members (header+half, rest) concatenated decompress as one file.
    uint32_t dims[2] = {10, 10};
    size_t len;
    uint8_t *raw = make_idx(0x08, 2, dims, 100, &len);
    uint8_t want[32];
    sha256_of(raw, len, want);
    size_t l1, l2;
    uint8_t *g1 = gzip_bytes(raw, 50, &l1);
    uint8_t *g2 = gzip_bytes(raw + 50, len - 50, &l2);
    uint8_t *cat = malloc(l1 + l2);
    ASSERT(cat != NULL);
    memcpy(cat, g1, l1);
    memcpy(cat + l1, g2, l2);
    hpt_idx_t idx;
    hpt_err err = {0};
    ASSERT_OK(hpt_idx_read(write_file("multi.gz", cat, l1 + l2), &idx, &err));
    ASSERT_EQ(idx.n_bytes, 100);
    ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
    hpt_idx_free(&idx);
    ASSERT_OK(hpt_idx_parse("multi", cat, l1 + l2, &idx, &err));
    ASSERT_EQ(memcmp(idx.sha256, want, 32), 0);
    hpt_idx_free(&idx);
    free(cat);
    free(g2);
    free(g1);
    free(raw);
}

HPT_TEST(parse_in_memory)
{
    static const uint8_t file[] = {0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5};
    hpt_idx_t idx;
    hpt_err err = {0};
    ASSERT_OK(hpt_idx_parse("mem", file, sizeof file, &idx, &err));
    ASSERT_EQ(idx.rank, 2);
    ASSERT_EQ(idx.dims[0], 2);
    ASSERT_EQ(idx.dims[1], 3);
    ASSERT_EQ(idx.data[5], 5);
    char hex[65];
    hpt_sha256_hex(idx.sha256, hex);
    ASSERT_STR_CONTAINS(hex, "ef281b2f6ca26b683c34e0a40444d29c348ee4a3c57f3e1e955e1b5419e5e3c9");
    hpt_idx_free(&idx);

    size_t gz_len;
    uint8_t *gz = gzip_bytes(file, sizeof file, &gz_len);
    ASSERT_OK(hpt_idx_parse("mem.gz", gz, gz_len, &idx, &err));
    hpt_sha256_hex(idx.sha256, hex);
    ASSERT_STR_CONTAINS(hex, "ef281b2f6ca26b683c34e0a40444d29c348ee4a3c57f3e1e955e1b5419e5e3c9");
    hpt_idx_free(&idx);
    free(gz);

    // Errors name the buffer.
    ASSERT_EQ(hpt_idx_parse("the-buffer", file, 3, &idx, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "the-buffer: too short");
    ASSERT_EQ(hpt_idx_parse("nul", NULL, 0, &idx, &err), -EINVAL);
    ASSERT_EQ(hpt_idx_parse("nul", NULL, 5, &idx, &err), -EINVAL);
    ASSERT_EQ(hpt_idx_parse(NULL, file, 1, &idx, NULL), -EINVAL);  // NULL err is allowed
}

// ---------------------------------------------------------------------------
// Bad files: every one must fail cleanly, naming the file and the problem.

HPT_TEST(missing_file)
{
    const char *path = tmp_path("does-not-exist.gz");
    expect_read_error(path, -ENOENT, "cannot open");
}

HPT_TEST(directory)
{
    const char *path = tmp_path("a-dir");
    ASSERT_EQ(mkdir(path, 0700), 0);
    expect_read_error(path, -EISDIR, "directory");
}

HPT_TEST(header_too_short)
{
    static const uint8_t three[] = {0, 0, 8};
    expect_file_error("short", three, sizeof three, -EINVAL, "too short: 3 bytes");
    expect_file_error("empty", three, 0, -EINVAL, "too short: 0 bytes");
    static const uint8_t gz1[] = {0x1f};  // one byte of gzip magic is not gzip
    expect_file_error("one-byte", gz1, 1, -EINVAL, "too short: 1 bytes");
}

HPT_TEST(bad_magic)
{
    static const uint8_t b[] = {0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1, 7};
    expect_file_error("bad-magic", b, sizeof b, -EINVAL, "bad magic 01 00 08 01");
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    expect_file_error("png", png, sizeof png, -EINVAL, "bad magic");
}

HPT_TEST(unsupported_type)
{
    uint32_t dims[1] = {2};
    size_t len;
    uint8_t *b = make_idx(0x0D, 1, dims, 8, &len);
    expect_file_error("float", b, len, -EINVAL, "unsupported data type 0x0D (float)");
    free(b);
    b = make_idx(0x0B, 1, dims, 4, &len);
    expect_file_error("short-type", b, len, -EINVAL, "0x0B (short)");
    free(b);
}

HPT_TEST(bad_rank)
{
    static const uint8_t r0[] = {0, 0, 8, 0, 1, 2, 3};
    expect_file_error("rank0", r0, sizeof r0, -EINVAL, "bad rank 0 (must be 1..4)");
    uint32_t dims[5] = {1, 1, 1, 1, 1};
    size_t len;
    uint8_t *b = make_idx(0x08, 5, dims, 1, &len);
    expect_file_error("rank5", b, len, -EINVAL, "bad rank 5");
    free(b);
}

HPT_TEST(truncated_header)
{
    static const uint8_t b[] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0};
    expect_file_error("trunc-hdr", b, sizeof b, -EINVAL,
                      "truncated header: rank 3 needs 16 header bytes, file has 10");
}

HPT_TEST(zero_dimension)
{
    uint32_t dims[3] = {4, 0, 28};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 0, &len);
    expect_file_error("zero-dim", b, len, -EINVAL, "dimension 1 of 3 is zero");
    free(b);
}

HPT_TEST(truncated_payload)
{
    uint32_t dims[3] = {60000, 28, 28};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 1000, &len);
    expect_file_error("trunc.idx", b, len, -EINVAL,
                      "truncated: header declares 47040000 bytes of data, file has 1000");
    // The same, compressed: the gzip stream itself is fine, the IDX is short.
    size_t gz_len;
    uint8_t *gz = gzip_bytes(b, len, &gz_len);
    expect_file_error("trunc.idx.gz", gz, gz_len, -EINVAL,
                      "truncated: header declares 47040000 bytes of data, file has 1000");
    free(gz);
    free(b);
}

HPT_TEST(trailing_bytes)
{
    uint32_t dims[2] = {3, 4};
    size_t len;
    uint8_t *b = make_idx(0x08, 2, dims, 12 + 5, &len);
    expect_file_error("trailing", b, len, -EINVAL,
                      "trailing bytes: header declares 12 bytes of data, file has 5 more");
    size_t gz_len;
    uint8_t *gz = gzip_bytes(b, len, &gz_len);
    expect_file_error("trailing.gz", gz, gz_len, -EINVAL, "trailing bytes");
    free(gz);
    free(b);
}

HPT_TEST(huge_declared_size)
{
    // 10^15 bytes: must be refused from the header alone, before any
    // allocation (an attempt would fail or take the machine down).
    uint32_t dims[3] = {100000, 100000, 100000};
    size_t len;
    uint8_t *b = make_idx(0x08, 3, dims, 16, &len);
    expect_file_error("huge", b, len, -EINVAL,
                      "too large: dimensions 100000 x 100000 x 100000 exceed the 2147483648-byte "
                      "limit");
    size_t gz_len;
    uint8_t *gz = gzip_bytes(b, len, &gz_len);
    expect_file_error("huge.gz", gz, gz_len, -EINVAL, "too large");
    free(gz);
    free(b);
    // A product that overflows 64 bits must not wrap to something small.
    uint32_t max4[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    b = make_idx(0x08, 4, max4, 0, &len);
    expect_file_error("overflow", b, len, -EINVAL, "too large");
    free(b);
    // 2^16 * 2^16 * 2^16 * 2^16 = 2^64 would wrap to 0 in uint64_t.
    uint32_t wrap[4] = {65536, 65536, 65536, 65536};
    b = make_idx(0x08, 4, wrap, 0, &len);
    expect_file_error("wrap", b, len, -EINVAL, "too large");
    free(b);
}

HPT_TEST(bad_gzip)
{
    // Valid gzip magic, then garbage.
    uint8_t b[64];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (uint8_t)(0xA5 ^ i * 13);
    b[0] = 0x1f;
    b[1] = 0x8b;
    expect_file_error("garbage.gz", b, sizeof b, -EINVAL, "corrupt gzip stream");

    // A valid member followed by junk that is not another member.
    uint32_t dims[1] = {4};
    size_t len, gz_len;
    uint8_t *raw = make_idx(0x08, 1, dims, 4, &len);
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    uint8_t *junk = malloc(gz_len + 8);
    ASSERT(junk != NULL);
    memcpy(junk, gz, gz_len);
    memcpy(junk + gz_len, "JUNKJUNK", 8);
    expect_file_error("junk-after.gz", junk, gz_len + 8, -EINVAL, "corrupt gzip stream");

    // A flipped CRC in the trailer.
    memcpy(junk, gz, gz_len);
    junk[gz_len - 8] ^= 0x55;
    expect_file_error("bad-crc.gz", junk, gz_len, -EINVAL, "incorrect data check");
    free(junk);
    free(gz);
    free(raw);
}

HPT_TEST(truncated_gzip)
{
    uint32_t dims[3] = {20, 28, 28};
    size_t len, gz_len;
    uint8_t *raw = make_idx(0x08, 3, dims, 20 * 28 * 28, &len);
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    // Cut in the middle of the deflate data, inside the 8-byte trailer, and
    // right after the 10-byte gzip header.
    expect_file_error("half.gz", gz, gz_len / 2, -EINVAL, "truncated gzip stream");
    expect_file_error("no-trailer.gz", gz, gz_len - 3, -EINVAL, "truncated gzip stream");
    expect_file_error("header-only.gz", gz, 10, -EINVAL, "truncated gzip stream");
    expect_file_error("magic-only.gz", gz, 2, -EINVAL, "truncated gzip stream");
    free(gz);
    free(raw);
}

HPT_TEST(every_prefix_fails)
{
    // No proper prefix of a valid file is a valid file, raw or gzip; and none
    // may crash (run under ASan in CI).
    uint32_t dims[2] = {6, 7};
    size_t len, gz_len;
    uint8_t *raw = make_idx(0x08, 2, dims, 42, &len);
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    hpt_idx_t idx;
    hpt_err err;
    for (size_t i = 0; i < len; i++) {
        ASSERT_EQ(hpt_idx_parse("raw-prefix", raw, i, &idx, &err), -EINVAL);
        ASSERT(idx.data == NULL);
    }
    for (size_t i = 0; i < gz_len; i++)
        ASSERT_EQ(hpt_idx_parse("gz-prefix", gz, i, &idx, &err), -EINVAL);
    free(gz);
    free(raw);
}

HPT_TEST(random_corruption_never_crashes)
{
    // A small deterministic fuzz: flip bytes of a valid raw and gzip file.
    // The result may parse or not, but must return 0 or -EINVAL and leave
    // *out consistent.
    uint32_t dims[3] = {3, 5, 5};
    size_t len, gz_len;
    uint8_t *raw = make_idx(0x08, 3, dims, 75, &len);
    uint8_t *gz = gzip_bytes(raw, len, &gz_len);
    uint32_t x = 7;
    for (int round = 0; round < 2000; round++) {
        uint8_t *src = round % 2 ? gz : raw;
        size_t n = round % 2 ? gz_len : len;
        uint8_t *b = malloc(n);
        ASSERT(b != NULL);
        memcpy(b, src, n);
        for (int flips = 0; flips < 1 + round % 3; flips++) {
            x = x * 1664525u + 1013904223u;
            b[(x >> 8) % n] ^= (uint8_t)(1u << (x >> 29));
        }
        hpt_idx_t idx;
        hpt_err err = {0};
        int rc = hpt_idx_parse("fuzz", b, n, &idx, &err);
        ASSERT(rc == 0 || rc == -EINVAL);
        if (rc == 0)
            ASSERT(idx.data != NULL && idx.n_bytes > 0);
        else
            ASSERT_STR_CONTAINS(err.msg, "fuzz: ");
        hpt_idx_free(&idx);
        free(b);
    }
    free(gz);
    free(raw);
}

HPT_TEST_MAIN()
