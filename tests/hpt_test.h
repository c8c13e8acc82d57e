/*
 * hpt_test.h: a minimal test harness in the style of libuv's task.h.
 *
 *   HPT_TEST(name) { ... }            defines and registers a test
 *   ASSERT(cond)                      fails with the expression and file:line
 *   ASSERT_EQ(a, b)                   integers; prints both values
 *   ASSERT_OK(rc)                     rc == 0, else prints rc and strerror
 *   ASSERT_NEAR(a, b, tol)            |a - b| <= tol; prints both values
 *   ASSERT_STR_CONTAINS(hay, needle)  substring check; prints both
 *   HPT_TEST_FAIL(fmt, ...)           fails with a printf-style message
 *   HPT_TEST_SKIP(why)                exits 77 (meson's "skipped")
 *
 * main() comes from HPT_TEST_MAIN(); with an argument it runs only the test of
 * that name.  Each test runs in the same process, in definition order; the
 * first failed assertion ends the process with exit status 1.
 */
#ifndef HPT_TEST_H
#define HPT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*hpt_test_fn)(void);
typedef struct {
    const char *name;
    hpt_test_fn fn;
} hpt_test_entry;

#define HPT_TEST_MAX 256
static hpt_test_entry hpt__tests[HPT_TEST_MAX];
static int hpt__n_tests;

static inline void hpt__register(const char *name, hpt_test_fn fn)
{
    if (hpt__n_tests < HPT_TEST_MAX)
        hpt__tests[hpt__n_tests++] = (hpt_test_entry){name, fn};
}

#define HPT_TEST(name)                                                  \
    static void test_##name(void);                                      \
    __attribute__((constructor)) static void register_##name(void)      \
    {                                                                   \
        hpt__register(#name, test_##name);                              \
    }                                                                   \
    static void test_##name(void)

#define HPT__FAIL(...)                                                  \
    do {                                                                \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);           \
        fprintf(stderr, __VA_ARGS__);                                   \
        fputc('\n', stderr);                                            \
        exit(1);                                                        \
    } while (0)

#define ASSERT(cond)                                                    \
    do {                                                                \
        if (!(cond))                                                    \
            HPT__FAIL("assertion failed: %s", #cond);                   \
    } while (0)

#define ASSERT_EQ(a, b)                                                 \
    do {                                                                \
        long long hpt__a = (long long)(a), hpt__b = (long long)(b);     \
        if (hpt__a != hpt__b)                                           \
            HPT__FAIL("%s == %s: %lld != %lld", #a, #b, hpt__a, hpt__b); \
    } while (0)

#define ASSERT_OK(rc)                                                   \
    do {                                                                \
        int hpt__rc = (rc);                                             \
        if (hpt__rc != 0)                                               \
            HPT__FAIL("%s returned %d (%s)", #rc, hpt__rc,             \
                      strerror(hpt__rc < 0 ? -hpt__rc : hpt__rc));     \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                          \
    do {                                                                \
        double hpt__a = (double)(a), hpt__b = (double)(b);              \
        double hpt__t = (double)(tol);                                  \
        if (!(fabs(hpt__a - hpt__b) <= hpt__t))                         \
            HPT__FAIL("%s ~= %s: %.9g vs %.9g (diff %.3g > tol %.3g)",  \
                      #a, #b, hpt__a, hpt__b, fabs(hpt__a - hpt__b), hpt__t); \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                \
    do {                                                                \
        const char *hpt__h = (hay), *hpt__n = (needle);                 \
        if (!hpt__h || !strstr(hpt__h, hpt__n))                         \
            HPT__FAIL("%s does not contain \"%s\": \"%s\"", #hay, hpt__n, \
                      hpt__h ? hpt__h : "(null)");                      \
    } while (0)

#define HPT_TEST_FAIL(...) HPT__FAIL(__VA_ARGS__)

#define HPT_TEST_SKIP(why)                                              \
    do {                                                                \
        fprintf(stderr, "SKIP: %s\n", (why));                           \
        exit(77);                                                       \
    } while (0)

#define HPT_TEST_MAIN()                                                 \
    int main(int argc, char **argv)                                     \
    {                                                                   \
        int ran = 0;                                                    \
        for (int i = 0; i < hpt__n_tests; i++) {                        \
            if (argc > 1 && strcmp(argv[1], hpt__tests[i].name) != 0)   \
                continue;                                               \
            fprintf(stderr, "RUN  %s\n", hpt__tests[i].name);           \
            hpt__tests[i].fn();                                         \
            fprintf(stderr, "OK   %s\n", hpt__tests[i].name);           \
            ran++;                                                      \
        }                                                               \
        if (ran == 0) {                                                 \
            fprintf(stderr, "no test ran\n");                           \
            return 1;                                                   \
        }                                                               \
        return 0;                                                       \
    }

#endif
