/*
 * test_policy.c: the coordinator's roles, principals, rate-limit table and
 * quotas (coordinator/coord_policy.c), under a fake clock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coord_policy.h"
#include "curve.h"
#include "hpt_test.h"
#include "hptune.pb-c.h"

static const uint8_t SEED[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// --- roles ------------------------------------------------------------------

HPT_TEST(roles_of_kinds)
{
    const unsigned W = HPT_CURVE_ROLE_WORKER, C = HPT_CURVE_ROLE_CLIENT,
                   R = HPT_CURVE_ROLE_READER;
    int worker[] = {HPT__ENVELOPE__BODY_HELLO,    HPT__ENVELOPE__BODY_HEARTBEAT,
                    HPT__ENVELOPE__BODY_PROGRESS, HPT__ENVELOPE__BODY_RESULT,
                    HPT__ENVELOPE__BODY_GOODBYE,  HPT__ENVELOPE__BODY_DATASETS,
                    HPT__ENVELOPE__BODY_FETCH_CHUNK};
    for (size_t i = 0; i < sizeof worker / sizeof worker[0]; i++) {
        ASSERT_EQ(coord_policy_needs(worker[i]), W);
        ASSERT(!coord_policy_is_request(worker[i]));
    }
    ASSERT_EQ(coord_policy_needs(HPT__ENVELOPE__BODY_SUBMIT), C);
    ASSERT_EQ(coord_policy_needs(HPT__ENVELOPE__BODY_CANCEL_SWEEP), C);
    int read[] = {HPT__ENVELOPE__BODY_STATUS, HPT__ENVELOPE__BODY_WORKERS,
                  HPT__ENVELOPE__BODY_RESULTS, HPT__ENVELOPE__BODY_SUBSCRIBE,
                  HPT__ENVELOPE__BODY_UNSUBSCRIBE};
    for (size_t i = 0; i < sizeof read / sizeof read[0]; i++) {
        ASSERT_EQ(coord_policy_needs(read[i]), C | R);
        ASSERT(coord_policy_is_request(read[i]));
    }
    // Least privilege: no role both works and submits, a reader only reads.
    ASSERT(!(coord_policy_needs(HPT__ENVELOPE__BODY_HELLO) & (C | R)));
    ASSERT(!(coord_policy_needs(HPT__ENVELOPE__BODY_SUBMIT) & (W | R)));
    ASSERT(!(coord_policy_needs(HPT__ENVELOPE__BODY_STATUS) & W));
    // Nobody sends the coordinator its own messages or replies.
    int none[] = {HPT__ENVELOPE__BODY_WELCOME, HPT__ENVELOPE__BODY_ASSIGN,
                  HPT__ENVELOPE__BODY_DISCONNECT, HPT__ENVELOPE__BODY_STATUS_REPLY,
                  HPT__ENVELOPE__BODY_ERROR, HPT__ENVELOPE__BODY_DATASET_CHUNK,
                  HPT__ENVELOPE__BODY__NOT_SET, 999};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ASSERT_EQ(coord_policy_needs(none[i]), 0);
    ASSERT(strcmp(coord_policy_kind(HPT__ENVELOPE__BODY_CANCEL_SWEEP), "cancel") == 0);
    ASSERT(strcmp(coord_policy_kind(HPT__ENVELOPE__BODY_SUBSCRIBE), "logs") == 0);
}

HPT_TEST(principals)
{
    char p[COORD_PRINCIPAL_LEN];
    const char *key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    ASSERT(strcmp(coord_policy_principal(true, key, "10.0.0.7", p), "key:rq:rM>}U?@Lns47E1%"
                                                                      "kR.o@n%FcmmsL/@{H8]yf7")
           == 0);
    // With CURVE a connection without a key's User-Id has no principal.
    ASSERT(strcmp(coord_policy_principal(true, NULL, "10.0.0.7", p), "") == 0);
    ASSERT(strcmp(coord_policy_principal(true, "alice.pub", "10.0.0.7", p), "") == 0);
    ASSERT(strcmp(coord_policy_principal(false, NULL, "10.0.0.7", p), "addr:10.0.0.7") == 0);
    ASSERT(strcmp(coord_policy_principal(false, key, "127.0.0.1", p), "addr:127.0.0.1") == 0);
    ASSERT(strcmp(coord_policy_principal(false, NULL, "localhost:1000:1000:4242", p),
                  "uid:1000") == 0);
    ASSERT(strcmp(coord_policy_principal(false, NULL, "", p), "local") == 0);
    ASSERT(strcmp(coord_policy_principal(false, NULL, NULL, p), "local") == 0);
}

// --- rate limits --------------------------------------------------------------

static coord_lim_id_t peer_id(const char *s)
{
    return (coord_lim_id_t){COORD_SCOPE_PEER, s, strlen(s)};
}

static coord_lim_id_t key_id(const char *s)
{
    return (coord_lim_id_t){COORD_SCOPE_PRINCIPAL, s, strlen(s)};
}

HPT_TEST(bucket_burst_and_refill)
{
    coord_bucket_cfg_t cfg[COORD_LIM__N] = {
        [COORD_LIM_HELLO] = {60, 5},   // one a second, five at once
        [COORD_LIM_SUBMIT] = {0, 0},   // no limit
        [COORD_LIM_BAD] = {6, 2},
    };
    coord_limits_t *l = NULL;
    ASSERT_OK(coord_limits_new(&l, 64, cfg, SEED));
    coord_lim_id_t a = peer_id("peer-a"), b = peer_id("peer-b");
    double t = 100.0;
    int ok = 0;
    for (int i = 0; i < 1000; i++)   // 1,000 Hellos in one instant: the burst passes
        ok += coord_limits_take(l, t, COORD_LIM_HELLO, &a, 1);
    ASSERT_EQ(ok, 5);
    // Another peer has its own bucket.
    ASSERT(coord_limits_take(l, t, COORD_LIM_HELLO, &b, 1));
    // Kinds are separate buckets of the same entry.
    ASSERT(coord_limits_take(l, t, COORD_LIM_BAD, &a, 1));
    ASSERT(coord_limits_take(l, t, COORD_LIM_BAD, &a, 1));
    ASSERT(!coord_limits_take(l, t, COORD_LIM_BAD, &a, 1));
    // No limit: always.
    for (int i = 0; i < 100; i++)
        ASSERT(coord_limits_take(l, t, COORD_LIM_SUBMIT, &a, 1));
    // Refill: half a second gives nothing, a second gives one, a minute the burst.
    ASSERT(!coord_limits_take(l, t + 0.5, COORD_LIM_HELLO, &a, 1));
    ASSERT(coord_limits_take(l, t + 1.01, COORD_LIM_HELLO, &a, 1));
    ASSERT(!coord_limits_take(l, t + 1.02, COORD_LIM_HELLO, &a, 1));
    ok = 0;
    for (int i = 0; i < 100; i++)
        ok += coord_limits_take(l, t + 61, COORD_LIM_HELLO, &a, 1);
    ASSERT_EQ(ok, 5);
    // A sustained rate of 2/s passes at 1/s.
    ok = 0;
    for (int i = 0; i < 600; i++)
        ok += coord_limits_take(l, t + 200 + i * 0.5, COORD_LIM_HELLO, &a, 1);
    ASSERT(ok >= 300 && ok <= 306);
    coord_limits_destroy(&l);
    ASSERT(l == NULL);
}

HPT_TEST(bucket_peer_and_principal)
{
    coord_bucket_cfg_t cfg[COORD_LIM__N] = {
        [COORD_LIM_HELLO] = {60, 5},
        [COORD_LIM_SUBMIT] = {10, 3},
        [COORD_LIM_BAD] = {60, 10},
    };
    coord_limits_t *l = NULL;
    ASSERT_OK(coord_limits_new(&l, 256, cfg, SEED));
    /* One key, a new connection per submission (as the CLI does): the
     * key's bucket ends it, though every connection's bucket is full. */
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        char peer[32];
        snprintf(peer, sizeof peer, "conn-%d", i);
        coord_lim_id_t ids[2] = {peer_id(peer), key_id("key:alice")};
        ok += coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, ids, 2);
    }
    ASSERT_EQ(ok, 3);
    // All or nothing: a refusal by the key takes nothing from the connection.
    coord_lim_id_t fresh[2] = {peer_id("conn-fresh"), key_id("key:alice")};
    ASSERT(!coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, fresh, 2));
    coord_lim_id_t alone = peer_id("conn-fresh");
    for (int i = 0; i < 3; i++)
        ASSERT(coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, &alone, 1));
    ASSERT(!coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, &alone, 1));
    // Another key is not affected.
    coord_lim_id_t bob[2] = {peer_id("conn-bob"), key_id("key:bob")};
    ASSERT(coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, bob, 2));
    // The same bytes as a peer and as a principal are two buckets.
    coord_lim_id_t p = peer_id("key:alice");
    ASSERT(coord_limits_take(l, 10.0, COORD_LIM_SUBMIT, &p, 1));
    coord_limits_destroy(&l);
}

HPT_TEST(bounded_table)
{
    coord_bucket_cfg_t cfg[COORD_LIM__N] = {
        [COORD_LIM_HELLO] = {60, 5},
        [COORD_LIM_SUBMIT] = {60, 5},
        [COORD_LIM_BAD] = {60, 5},
    };
    coord_limits_t *l = NULL;
    ASSERT_OK(coord_limits_new(&l, 128, cfg, SEED));
    // 100,000 peers pass through a table of 128 entries: it stays 128.
    double t = 1000.0;
    for (int i = 0; i < 100000; i++) {
        char peer[32];
        snprintf(peer, sizeof peer, "peer-%d", i);
        coord_lim_id_t id = peer_id(peer);
        ASSERT(coord_limits_take(l, t, COORD_LIM_BAD, &id, 1));   // each a fresh bucket
    }
    ASSERT_EQ(coord_limits_used(l), 128);
    ASSERT(coord_limits_evicted(l) > 0);
    /* A principal that keeps sending survives the churn of peers: peers are
     * replaced first, so its empty bucket is not handed a new burst. */
    coord_lim_id_t k = key_id("key:flooder");
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += coord_limits_take(l, t, COORD_LIM_BAD, &k, 1);
    ASSERT_EQ(ok, 5);
    for (int i = 0; i < 100000; i++) {
        char peer[32];
        snprintf(peer, sizeof peer, "peer2-%d", i);
        coord_lim_id_t ids[2] = {peer_id(peer), k};
        ASSERT(!coord_limits_take(l, t, COORD_LIM_BAD, ids, 2));
    }
    ASSERT_EQ(coord_limits_used(l), 128);
    /* Idle entries (full again) are replaced before anything else: after a
     * minute every peer entry is full, and the principal's too. */
    uint64_t ev = coord_limits_evicted(l);
    for (int i = 0; i < 64; i++) {
        char peer[32];
        snprintf(peer, sizeof peer, "late-%d", i);
        coord_lim_id_t id = peer_id(peer);
        ASSERT(coord_limits_take(l, t + 60, COORD_LIM_BAD, &id, 1));
    }
    ASSERT_EQ(coord_limits_evicted(l), ev);
    coord_limits_destroy(&l);
    coord_limits_destroy(&l);   // NULL is fine
}

// --- quotas -----------------------------------------------------------------------

HPT_TEST(quotas)
{
    coord_quota_cfg_t q = {.spec_bytes = 1000, .active_per_key = 2, .active_total = 3};
    hpt_err err = {0};
    coord_quota_use_t u = {.spec_bytes = 1000, .active_key = 1, .active_total = 2};
    ASSERT_OK(coord_quota_check(&q, &u, "key clients/alice.pub", &err));
    u.spec_bytes = 1001;
    ASSERT_EQ(coord_quota_check(&q, &u, "key clients/alice.pub", &err), -EDQUOT);
    ASSERT_STR_CONTAINS(err.msg, "1001 bytes");
    ASSERT_STR_CONTAINS(err.msg, "max_spec_bytes");
    u.spec_bytes = 10;
    u.active_key = 2;
    ASSERT_EQ(coord_quota_check(&q, &u, "key clients/alice.pub", &err), -EDQUOT);
    ASSERT_STR_CONTAINS(err.msg, "key clients/alice.pub has 2 active sweeps");
    ASSERT_STR_CONTAINS(err.msg, "max_active_sweeps_per_key");
    u.active_key = 0;
    u.active_total = 3;
    ASSERT_EQ(coord_quota_check(&q, &u, "x", &err), -EDQUOT);
    ASSERT_STR_CONTAINS(err.msg, "max_active_sweeps allows");
    // 0 turns a quota off.
    q = (coord_quota_cfg_t){0};
    u = (coord_quota_use_t){.spec_bytes = 1 << 30, .active_key = 1000, .active_total = 1000};
    ASSERT_OK(coord_quota_check(&q, &u, "x", &err));
}

HPT_TEST(retention)
{
    double fin[6] = {100, 200, 300, 400, 500, 600};   // oldest first
    ASSERT_EQ(coord_retain_count(fin, 6, 10, 0, 1000), 0);
    ASSERT_EQ(coord_retain_count(fin, 6, 4, 0, 1000), 2);
    ASSERT_EQ(coord_retain_count(fin, 6, 0, 0, 1000), 6);
    // By age: finished more than 650 s before 1000 (before 350): three.
    ASSERT_EQ(coord_retain_count(fin, 6, 10, 650, 1000), 3);
    // Both: whichever removes more.
    ASSERT_EQ(coord_retain_count(fin, 6, 2, 650, 1000), 4);
    ASSERT_EQ(coord_retain_count(fin, 6, 5, 650, 1000), 3);
    ASSERT_EQ(coord_retain_count(fin, 0, 0, 1, 1000), 0);
    ASSERT_EQ(coord_retain_count(fin, 6, 10, 10000, 1000), 0);
}

HPT_TEST(open_connections_per_address)
{
    coord_conns_t *t = NULL;
    ASSERT_OK(coord_conns_new(&t, 16, 1000));
    // Three from one address, one from another; a local one has "".
    coord_conns_open(t, 10, "10.0.0.7");
    coord_conns_open(t, 11, "10.0.0.7");
    coord_conns_open(t, 12, "::ffff:10.0.0.7");   // the same address, mapped
    coord_conns_open(t, 13, "10.0.0.8");
    coord_conns_open(t, 14, "");
    ASSERT_EQ(coord_conns_count(t, "10.0.0.7"), 3);
    ASSERT_EQ(coord_conns_count(t, "10.0.0.8"), 1);
    ASSERT_EQ(coord_conns_count(t, ""), 1);
    ASSERT_EQ(coord_conns_count(t, "10.0.0.9"), 0);
    ASSERT_EQ(coord_conns_total(t), 5);
    // Closing counts down; a descriptor closed twice, or never opened, is nothing.
    coord_conns_close(t, 11);
    coord_conns_close(t, 11);
    coord_conns_close(t, 99);
    ASSERT_EQ(coord_conns_count(t, "10.0.0.7"), 2);
    ASSERT_EQ(coord_conns_total(t), 4);
    // A descriptor reopened without its close moves to the new address.
    coord_conns_open(t, 10, "10.0.0.8");
    ASSERT_EQ(coord_conns_count(t, "10.0.0.7"), 1);
    ASSERT_EQ(coord_conns_count(t, "10.0.0.8"), 2);
    ASSERT_EQ(coord_conns_total(t), 4);
    // Out-of-range descriptors are not counted.
    coord_conns_open(t, 5000, "10.0.0.7");
    coord_conns_open(t, -1, "10.0.0.7");
    ASSERT_EQ(coord_conns_total(t), 4);
    for (int fd = 10; fd < 15; fd++)
        coord_conns_close(t, fd);
    ASSERT_EQ(coord_conns_total(t), 0);
    // Churn through many more addresses than the table holds: those without
    // connections are forgotten, so counts stay exact.
    char a[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(a, sizeof a, "10.1.%d.%d", i / 256, i % 256);
        coord_conns_open(t, 20, a);
        ASSERT_EQ(coord_conns_count(t, a), 1);
        coord_conns_close(t, 20);
        ASSERT_EQ(coord_conns_count(t, a), 0);
    }
    // A table full of addresses that all have connections: the next ones
    // share the overflow entry, and are still limited together.
    for (int i = 0; i < 100; i++) {
        snprintf(a, sizeof a, "10.2.0.%d", i);
        coord_conns_open(t, 100 + i, a);
    }
    ASSERT_EQ(coord_conns_total(t), 100);
    ASSERT_EQ(coord_conns_count(t, "10.2.0.0"), 1);
    ASSERT(coord_conns_count(t, "10.2.0.99") >= 1);
    ASSERT(coord_conns_count(t, "10.9.9.9") >= 80);   // the overflow: most of the 100
    for (int i = 0; i < 100; i++)
        coord_conns_close(t, 100 + i);
    ASSERT_EQ(coord_conns_total(t), 0);
    coord_conns_destroy(&t);
    ASSERT(t == NULL);
}

HPT_TEST(connection_rate_per_address)
{
    coord_bucket_cfg_t cfg[COORD_LIM__N] = {[COORD_LIM_CONN] = {60, 3}};
    coord_limits_t *l = NULL;
    ASSERT_OK(coord_limits_new(&l, 64, cfg, SEED));
    coord_lim_id_t a = key_id("conn:10.0.0.7"), b = key_id("conn:10.0.0.8");
    int ok = 0;
    for (int i = 0; i < 100; i++)
        ok += coord_limits_take(l, 5.0, COORD_LIM_CONN, &a, 1);
    ASSERT_EQ(ok, 3);
    ASSERT(coord_limits_take(l, 5.0, COORD_LIM_CONN, &b, 1));
    ASSERT(coord_limits_take(l, 6.01, COORD_LIM_CONN, &a, 1));
    // Other kinds have no limit here.
    ASSERT(coord_limits_take(l, 6.01, COORD_LIM_HELLO, &a, 1));
    coord_limits_destroy(&l);
}

HPT_TEST_MAIN()
