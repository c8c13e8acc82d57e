/*
 * test_text.c: what a peer's string may hold and how one that holds anything
 * else is shown (common/text.c), and the writers that use it: logfmt values
 * (hpt_log_quote) and JSON strings (hpt_json_str).  Also the Hello check of
 * common/proto_io.c (hpt_proto_hello_text_check) and the memory estimate of
 * a training run (hpt_train_mem_bytes) against a real session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpt_test.h"
#include "json.h"
#include "log.h"
#include "proto_io.h"
#include "text.h"
#include "train.h"

static char *json_of(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ASSERT(f != NULL);
    hpt_json_str(f, s);
    fclose(f);
    return buf;
}

static void expect_escape(const char *in, unsigned flags, const char *want)
{
    char buf[256];
    size_t n = hpt_text_escape(in, flags, buf, sizeof buf);
    if (strcmp(buf, want) != 0 || n != strlen(want))
        HPT_TEST_FAIL("escape of %zu bytes: got '%s' (%zu), want '%s'", strlen(in), buf, n, want);
}

HPT_TEST(check_plain_text)
{
    hpt_err err = {0};
    ASSERT_OK(hpt_text_check("", &err));
    ASSERT_OK(hpt_text_check("gpu-1 \"x\" = y \\ ", &err));
    ASSERT_OK(hpt_text_check("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", &err));   // é € 😀
    ASSERT_OK(hpt_text_check("\xc2\xa0", &err));   // U+00A0, just past C1
    static const struct {
        const char *s, *msg;
    } bad[] = {
        {"a\x1b[31m", "control character U+001B at byte 1"},
        {"\n", "control character U+000A at byte 0"},
        {"tab\there", "control character U+0009 at byte 3"},
        {"del\x7f", "control character U+007F at byte 3"},
        {"csi\xc2\x9b" "2J", "control character U+009B at byte 3"},
        {"\xc2\x80", "control character U+0080 at byte 0"},
        {"x\xff", "invalid UTF-8 at byte 1"},
        {"\xc0\x80", "invalid UTF-8 at byte 0"},        // overlong NUL
        {"\xe0\x80\xaf", "invalid UTF-8 at byte 0"},    // overlong '/'
        {"\xed\xa0\x80", "invalid UTF-8 at byte 0"},    // a UTF-16 surrogate
        {"\xf4\x90\x80\x80", "invalid UTF-8 at byte 0"},  // past U+10FFFF
        {"ab\xe2\x82", "invalid UTF-8 at byte 2"},      // cut short
        {"\x80", "invalid UTF-8 at byte 0"},            // a lone continuation byte
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = (hpt_err){0};
        ASSERT(hpt_text_check(bad[i].s, &err) == -EINVAL);
        if (strcmp(err.msg, bad[i].msg) != 0)
            HPT_TEST_FAIL("case %zu: '%s', want '%s'", i, err.msg, bad[i].msg);
    }
}

HPT_TEST(escape_visible)
{
    expect_escape("plain é", 0, "plain é");
    expect_escape("a\x1b[31mb", 0, "a\\x1b[31mb");
    expect_escape("l1\nl2\r\t", 0, "l1\\nl2\\r\\t");
    expect_escape("\x7f\x01", 0, "\\x7f\\x01");
    expect_escape("\xc2\x9b" "2J", 0, "\\u009b2J");
    expect_escape("\xff\xc0\x80", 0, "\\xff\\xc0\\x80");
    expect_escape("q\"b\\", 0, "q\"b\\");
    expect_escape("q\"b\\", HPT_TEXT_ESC_QUOTES, "q\\\"b\\\\");
    ASSERT(!hpt_text_needs_escape("a b=c", 0));
    ASSERT(hpt_text_needs_escape("a\"", HPT_TEXT_ESC_QUOTES));
    ASSERT(!hpt_text_needs_escape("a\"", 0));
    ASSERT(hpt_text_needs_escape("\x1b", 0));
    /* A cut never splits an escape or a character; the return value is the
     * whole length. */
    char small[6];
    ASSERT_EQ(hpt_text_escape("ab\x1b" "c", 0, small, sizeof small), 7);
    ASSERT(strcmp(small, "ab") == 0);
    ASSERT_EQ(hpt_text_escape("a\xc3\xa9\xc3\xa9\xc3\xa9", 0, small, sizeof small), 7);
    ASSERT(strcmp(small, "a\xc3\xa9\xc3\xa9") == 0);
    ASSERT_EQ(hpt_text_escape("x\x1b", 0, NULL, 0), 5);
}

HPT_TEST(logfmt_quote)
{
    char q[128];
    ASSERT(strcmp(hpt_log_quote("w1", q, sizeof q), "w1") == 0);
    ASSERT(strcmp(hpt_log_quote("", q, sizeof q), "\"\"") == 0);
    ASSERT(strcmp(hpt_log_quote(NULL, q, sizeof q), "\"\"") == 0);
    ASSERT(strcmp(hpt_log_quote("two words", q, sizeof q), "\"two words\"") == 0);
    /* A name built to add a field stays one value. */
    ASSERT(strcmp(hpt_log_quote("w\" level=error", q, sizeof q), "\"w\\\" level=error\"") == 0);
    ASSERT(strcmp(hpt_log_quote("C:\\tmp", q, sizeof q), "\"C:\\\\tmp\"") == 0);
    ASSERT(strcmp(hpt_log_quote("a\nts=1 level=error", q, sizeof q),
                  "\"a\\nts=1 level=error\"") == 0);
    ASSERT(strcmp(hpt_log_quote("\x1b]0;t\x07", q, sizeof q), "\"\\x1b]0;t\\x07\"") == 0);
    ASSERT(strcmp(hpt_log_quote("\xc2\x9b", q, sizeof q), "\"\\u009b\"") == 0);
    ASSERT(strcmp(hpt_log_quote("\xff", q, sizeof q), "\"\\xff\"") == 0);
    ASSERT(strcmp(hpt_log_quote("caf\xc3\xa9", q, sizeof q), "caf\xc3\xa9") == 0);
    /* Cut to fit: the closing quote stays, no half escape. */
    char s[8];
    hpt_log_quote("a b \x1b\x1b", s, sizeof s);
    ASSERT(strcmp(s, "\"a b \"") == 0);
}

static char sunk[2048];   // the last line the sink got

static void sink(const hpt_log_event_t *ev, void *ud)
{
    (void)ud;
    snprintf(sunk, sizeof sunk, "%s", ev->line);
}

HPT_TEST(log_line_has_no_control_bytes)
{
    /* A call site that forgot to quote still cannot put a control byte into
     * the line or the sink: the fields are escaped by the writer. */
    sunk[0] = '\0';
    hpt_log_set_stderr(0);
    hpt_log_set_sink(sink, NULL);
    hpt_log(HPT_LOG_ERROR, "test", "m\x1bsg", "name=%s", "x\x1b[2J\ny");
    hpt_log_set_sink(NULL, NULL);
    hpt_log_set_stderr(1);
    ASSERT(sunk[0] != '\0');
    for (const char *p = sunk; *p; p++)
        ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
    ASSERT_STR_CONTAINS(sunk, "name=x\\x1b[2J\\ny");
    ASSERT_STR_CONTAINS(sunk, "msg=\"m\\x1bsg\"");
}

HPT_TEST(json_strings_are_valid_json)
{
    static const struct {
        const char *in, *want;
    } c[] = {
        {"plain", "\"plain\""},
        {"q\"b\\", "\"q\\\"b\\\\\""},
        {"a\nb\tc", "\"a\\nb\\tc\""},
        {"\x1b[31m", "\"\\u001b[31m\""},
        {"\x7f", "\"\\u007f\""},
        {"\xc2\x9b", "\"\\u009b\""},
        {"x\xffy", "\"x\\ufffdy\""},
        {"\xe2\x80\xa8", "\"\\u2028\""},
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *got = json_of(c[i].in);
        if (strcmp(got, c[i].want) != 0)
            HPT_TEST_FAIL("case %zu: %s, want %s", i, got, c[i].want);
        free(got);
    }
}

HPT_TEST(hello_text_check)
{
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "mnist";
    ds.fingerprint = "dry-run";
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__Hello m = HPT__HELLO__INIT;
    m.worker_id = "h:1:2";
    m.name = "gpu \"1\"";
    m.host = "h";
    m.version = "0.1.0";
    m.datasets = dsv;
    m.n_datasets = 1;
    hpt_err err = {0};
    ASSERT_OK(hpt_proto_hello_text_check(&m, &err));
    m.version = "0.1\n";
    ASSERT(hpt_proto_hello_text_check(&m, &err) == -EINVAL);
    ASSERT(strcmp(err.msg, "version: control character U+000A at byte 3") == 0);
    m.version = "0.1.0";
    ds.name = "a\x1b";
    ASSERT(hpt_proto_hello_text_check(&m, &err) == -EINVAL);
    ASSERT(strcmp(err.msg, "datasets[0].name: control character U+001B at byte 1") == 0);
}

/* The estimate a worker checks its budget with covers what a session really
 * holds, and stays finite for the largest shapes params.h allows. */
HPT_TEST(train_mem_bytes)
{
    enum { N = 600, D = 64, K = 4 };
    uint8_t *img = calloc((size_t)N * D, 1), lab[N];
    ASSERT(img != NULL);
    for (int i = 0; i < N; i++)
        lab[i] = (uint8_t)(i % K);
    hpt_view_t tr = {.images = img, .labels = lab, .n = 500};
    hpt_view_t va = {.images = img, .labels = lab, .n = 100};
    hpt_hparams_t hp = HPT_HPARAMS_DEFAULT;
    hp.layers = 2;
    hp.units[0] = 300;
    hp.units[1] = 70;
    hp.batch_size = 64;
    hp.dropout = 0.2;
    hp.input_dropout = 0.1;
    hpt_train_session_t *s = NULL;
    hpt_err err = {0};
    ASSERT_OK(hpt_train_begin(&s, &hp, D, K, &tr, &va, &err));
    size_t est = hpt_train_mem_bytes(&hp, D, K, tr.n, va.n);
    ASSERT(est >= hpt_train_session_bytes(s));
    hpt_train_end(&s);
    free(img);
    /* 8 layers of 65536 units: about 2^38 parameters' worth of bytes, and
     * never an overflow to something small. */
    for (int l = 0; l < HPT_MAX_LAYERS; l++)
        hp.units[l] = HPT_MAX_UNITS;
    hp.layers = HPT_MAX_LAYERS;
    hp.batch_size = HPT_MAX_BATCH;
    size_t huge = hpt_train_model_bytes(&hp, 784, 10, HPT_MAX_BATCH);
    ASSERT(huge > (400ull << 30));
}

HPT_TEST_MAIN()
