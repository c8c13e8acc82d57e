/*
 * test_logfmt.c: the logfmt reader of the hptune client (cli_format.c,
 * compiled in): cli_logfmt_next, which `hptune logs --worker` filters with,
 * and cli_logfmt_json, the `fields` object of `hptune logs --format json`.
 * Bare and quoted values, escaped quotes and backslashes, '=' inside values,
 * empty values, bare keys, repeated keys, odd spacing, cut lines, a value cut
 * to a small buffer, and a round trip through common/log.c's writer
 * (hpt_log_quote) for values that need quoting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_format.h"
#include "hpt_test.h"
#include "log.h"
#include "proto_io.h"

/* cli_logfmt_json(fields) as a string (owned by the caller). */
static char *to_json(const char *fields)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    int rc = cli_logfmt_json(f, fields);
    fclose(f);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void expect_json(const char *fields, const char *want)
{
    char *got = to_json(fields);
    if (!got || strcmp(got, want) != 0)
        fprintf(stderr, "fields: %s\n  want: %s\n  got:  %s\n", fields ? fields : "(null)",
                want, got ? got : "(error)");
    ASSERT(got && strcmp(got, want) == 0);
    free(got);
}

HPT_TEST(json_plain)
{
    expect_json("sweep=3 trial=2 worker=w1",
                "{\"sweep\":\"3\",\"trial\":\"2\",\"worker\":\"w1\"}");
    expect_json("", "{}");
    expect_json(NULL, "{}");
    expect_json("   ", "{}");
    expect_json("  a=1   b=2  ", "{\"a\":\"1\",\"b\":\"2\"}");
    /* Values stay strings, whatever they look like. */
    expect_json("score=0.920000 n=-1 ok=true",
                "{\"score\":\"0.920000\",\"n\":\"-1\",\"ok\":\"true\"}");
}

HPT_TEST(json_quoted)
{
    /* Escaped quotes inside a quoted value, then a pair after it. */
    expect_json("error=\"no \\\"x\\\" here\" attempt=2",
                "{\"error\":\"no \\\"x\\\" here\",\"attempt\":\"2\"}");
    /* A backslash, a newline escape, and a quoted value ending in an
     * escaped backslash (the quote after it closes the value). */
    expect_json("path=\"C:\\\\tmp\" m=\"a\\nb\" e=\"x\\\\\" z=1",
                "{\"path\":\"C:\\\\tmp\",\"m\":\"a\\nb\",\"e\":\"x\\\\\",\"z\":\"1\"}");
    /* A quoted empty value. */
    expect_json("name=\"\" x=1", "{\"name\":\"\",\"x\":\"1\"}");
    /* A cut line: an unclosed quote runs to the end. */
    expect_json("a=1 msg=\"unfinished sent", "{\"a\":\"1\",\"msg\":\"unfinished sent\"}");
}

HPT_TEST(json_equals_in_values)
{
    expect_json("expr=a=b c=1", "{\"expr\":\"a=b\",\"c\":\"1\"}");
    expect_json("q=\"k=v w=x\" r==", "{\"q\":\"k=v w=x\",\"r\":\"=\"}");
}

HPT_TEST(json_odd_tokens)
{
    /* An empty bare value, a bare key with no '=', a repeated key (first
     * value kept, as harness readers and people do), control bytes. */
    expect_json("a= b=1", "{\"a\":\"\",\"b\":\"1\"}");
    expect_json("flag x=1", "{\"flag\":\"\",\"x\":\"1\"}");
    expect_json("a=1 b=2 a=3", "{\"a\":\"1\",\"b\":\"2\"}");
    expect_json("t=\"a\tb\"", "{\"t\":\"a\\tb\"}");
    expect_json("u=\"\x01\"", "{\"u\":\"\\u0001\"}");
}

HPT_TEST(next_pairs)
{
    const char *p = "worker=w1 name=\"gpu \\\"one\\\"\" n=5";
    const char *k;
    size_t kl;
    char v[64];
    ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
    ASSERT(kl == 6 && strncmp(k, "worker", kl) == 0 && strcmp(v, "w1") == 0);
    ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
    ASSERT(kl == 4 && strncmp(k, "name", kl) == 0 && strcmp(v, "gpu \"one\"") == 0);
    ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
    ASSERT(kl == 1 && *k == 'n' && strcmp(v, "5") == 0);
    const char *end = p;
    ASSERT(!cli_logfmt_next(&p, &k, &kl, v, sizeof v));
    ASSERT(p == end);
    /* A small buffer cuts the value, NUL-terminated, and the reader still
     * moves past the whole pair. */
    p = "long=\"abcdefghij\" next=1";
    char small[4];
    ASSERT(cli_logfmt_next(&p, &k, &kl, small, sizeof small));
    ASSERT(strcmp(small, "abc") == 0);
    ASSERT(cli_logfmt_next(&p, &k, &kl, small, sizeof small));
    ASSERT(kl == 4 && strncmp(k, "next", kl) == 0 && strcmp(small, "1") == 0);
}

HPT_TEST(round_trip_with_the_writer)
{
    /* What common/log.c writes, this reads back: a value quoted by
     * hpt_log_quote unquotes to itself. */
    static const char *const values[] = {
        "plain", "two words", "say \"hi\"", "a=b", "back\\slash", "trailing\\",
        "\"", "=", "line\nbreak", "mixed \\\" = \"", "",
        /* Control characters and bytes that are not UTF-8 (a peer's name or
         * error text) come back byte for byte. */
        "\x1b[31mred\x1b[0m", "a\tb\rc", "del\x7f", "csi\xc2\x9b" "2J", "bad\xff\xfe",
        "\x01\x1f", "caf\xc3\xa9",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char q[256], fields[300], v[256];
        hpt_log_quote(values[i], q, sizeof q);
        snprintf(fields, sizeof fields, "before=1 key=%s after=2", q);
        const char *p = fields, *k;
        size_t kl;
        ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
        ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
        if (strcmp(v, values[i]) != 0)
            fprintf(stderr, "value %zu: wrote %s, read back '%s'\n", i, q, v);
        ASSERT(kl == 3 && strncmp(k, "key", 3) == 0 && strcmp(v, values[i]) == 0);
        ASSERT(cli_logfmt_next(&p, &k, &kl, v, sizeof v));
        ASSERT(kl == 5 && strncmp(k, "after", 5) == 0 && strcmp(v, "2") == 0);
        ASSERT(!cli_logfmt_next(&p, &k, &kl, v, sizeof v));
    }
}

/* The logfmt escapes of common/text.c, read back. */
HPT_TEST(json_escapes)
{
    expect_json("e=\"\\x1b[2J\\u009b\\t\"", "{\"e\":\"\\u001b[2J\\u009b\\t\"}");
    expect_json("b=\"\\xff\"", "{\"b\":\"\\ufffd\"}");   // not UTF-8: U+FFFD in JSON
    expect_json("x=\"\\xZZ\"", "{\"x\":\"xZZ\"}");       // not an escape: as before
}

/* cli_sanitize: every string of a reply (nested, repeated) that is not
 * plain text is replaced by its visible escape; the rest is untouched. */
HPT_TEST(sanitize_reply)
{
    Hpt__DatasetInfo ds = HPT__DATASET_INFO__INIT;
    ds.name = "d\nlevel=error";
    ds.fingerprint = "dry-run";
    Hpt__DatasetInfo *dsv[1] = {&ds};
    Hpt__WorkerInfo wi = HPT__WORKER_INFO__INIT;
    wi.id = "id\xc2\x9b";
    wi.name = "evil\x1b]0;title\x07";
    wi.host = "caf\xc3\xa9";
    wi.version = "v\x7f";
    wi.state = "ready";
    wi.datasets = dsv;
    wi.n_datasets = 1;
    Hpt__WorkerInfo *wv[1] = {&wi};
    Hpt__WorkersReply r = HPT__WORKERS_REPLY__INIT;
    r.workers = wv;
    r.n_workers = 1;
    hpt_env_t env = HPT__ENVELOPE__INIT;
    env.protocol = HPT__VERSION__PROTOCOL_VERSION;
    env.body_case = HPT__ENVELOPE__BODY_WORKERS_REPLY;
    env.workers_reply = &r;
    size_t len = hpt__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(len);
    ASSERT(buf != NULL);
    hpt__envelope__pack(&env, buf);
    hpt_env_t *got = NULL;
    hpt_err err = {0};
    ASSERT(hpt_proto_decode(buf, len, &got, &err) == 0);
    free(buf);
    ASSERT(cli_sanitize((ProtobufCMessage *)got) == 0);
    const Hpt__WorkerInfo *w = got->workers_reply->workers[0];
    ASSERT(strcmp(w->name, "evil\\x1b]0;title\\x07") == 0);
    ASSERT(strcmp(w->id, "id\\u009b") == 0);
    ASSERT(strcmp(w->host, "caf\xc3\xa9") == 0);
    ASSERT(strcmp(w->version, "v\\x7f") == 0);
    ASSERT(strcmp(w->state, "ready") == 0);
    ASSERT(strcmp(w->datasets[0]->name, "d\\nlevel=error") == 0);
    hpt_proto_free(&got);   // the swapped strings are freed with the message
    char e[32];
    ASSERT(strcmp(cli_esc("a\x1b", e, sizeof e), "a\\x1b") == 0);
    ASSERT(strcmp(cli_esc(NULL, e, sizeof e), "") == 0);
}

HPT_TEST_MAIN()
