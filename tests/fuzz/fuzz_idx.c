/*
 * fuzz_idx.c: fuzz target for the IDX reader (common/idx.c), raw or gzip.
 *
 * A dataset directory is input we do not control (a download, a user's
 * idx:DIR), so hpt_idx_parse must refuse anything malformed with a message
 * and otherwise return exactly what the header declares.  Checked here: a
 * rejected buffer leaves *out zeroed with an error naming the buffer; an
 * accepted one has rank 1..4, non-zero dimensions whose product is n_bytes,
 * and the SHA-256 of the decompressed bytes; for raw input those bytes are
 * the input itself, so the payload must equal its tail.
 */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hpt_idx_t idx;
    memset(&idx, 0xa5, sizeof idx);   // the parser must overwrite all of it
    hpt_err err = {0};
    int rc = hpt_idx_parse("fuzz.idx", data, size, &idx, &err);
    if (rc < 0) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
        FUZZ_CHECK(idx.data == NULL && idx.rank == 0 && idx.n_bytes == 0);
        FUZZ_CHECK(strncmp(err.msg, "fuzz.idx: ", 10) == 0);
        return 0;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(idx.rank >= 1 && idx.rank <= HPT_IDX_MAX_RANK);
    uint64_t prod = 1;
    for (int i = 0; i < idx.rank; i++) {
        FUZZ_CHECK(idx.dims[i] > 0);
        prod *= idx.dims[i];
    }
    FUZZ_CHECK(prod == idx.n_bytes && prod <= HPT_IDX_MAX_BYTES);
    FUZZ_CHECK(idx.data != NULL);
    bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (!gz) {
        size_t hdr = 4 + 4 * (size_t)idx.rank;
        FUZZ_CHECK(size == hdr + idx.n_bytes);
        FUZZ_CHECK(memcmp(idx.data, data + hdr, idx.n_bytes) == 0);
        uint8_t sha[32];
        crypto_hash_sha256(sha, data, size);
        FUZZ_CHECK(memcmp(sha, idx.sha256, sizeof sha) == 0);
    }
    // Touch every payload byte, so a short buffer shows up under ASan.
    unsigned sum = 0;
    for (size_t i = 0; i < idx.n_bytes; i++)
        sum += idx.data[i];
    volatile unsigned sink = sum;
    (void)sink;
    hpt_idx_free(&idx);
    FUZZ_CHECK(idx.data == NULL);
    return 0;
}
