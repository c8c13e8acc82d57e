/*
 * test_wrk_name.c: the worker's default name, HOST or HOST-n
 * (worker/wrk_name.c, compiled in): the lowest free index, released when
 * its holder closes it or dies, one sequence per host, long host names cut
 * before the suffix.  Each run uses host names of its own (with the pid),
 * so real workers on the machine and parallel runs do not interfere.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hpt_test.h"
#include "wrk_name.h"

static void host_name(char *buf, size_t len, const char *tag)
{
    snprintf(buf, len, "unit-%s-%ld", tag, (long)getpid());
}

HPT_TEST(lowest_free_index)
{
    char host[64], want[96], n1[256], n2[256], n3[256], n4[256];
    host_name(host, sizeof host, "a");
    hpt_err err = {0};
    int a = wrk_name_claim(host, n1, sizeof n1, &err);
    int b = wrk_name_claim(host, n2, sizeof n2, &err);
    int c = wrk_name_claim(host, n3, sizeof n3, &err);
    ASSERT(a >= 0 && b >= 0 && c >= 0);
    ASSERT(strcmp(n1, host) == 0);          // the first worker keeps the host name
    snprintf(want, sizeof want, "%s-2", host);
    ASSERT(strcmp(n2, want) == 0);
    snprintf(want, sizeof want, "%s-3", host);
    ASSERT(strcmp(n3, want) == 0);
    // The second stops: the next worker takes its name, not HOST-4.
    close(b);
    int d = wrk_name_claim(host, n4, sizeof n4, &err);
    ASSERT(d >= 0);
    snprintf(want, sizeof want, "%s-2", host);
    ASSERT(strcmp(n4, want) == 0);
    close(a);
    close(c);
    close(d);
}

HPT_TEST(hosts_are_independent)
{
    char h1[64], h2[64], n1[256], n2[256];
    host_name(h1, sizeof h1, "b");
    host_name(h2, sizeof h2, "c");
    int a = wrk_name_claim(h1, n1, sizeof n1, NULL);
    int b = wrk_name_claim(h2, n2, sizeof n2, NULL);
    ASSERT(a >= 0 && b >= 0);
    ASSERT(strcmp(n1, h1) == 0 && strcmp(n2, h2) == 0);
    close(a);
    close(b);
}

/* A worker killed with SIGKILL cannot clean up: the kernel releases its name. */
HPT_TEST(released_when_the_holder_dies)
{
    char host[64], n1[256], n2[256], want[96];
    host_name(host, sizeof host, "d");
    int a = wrk_name_claim(host, n1, sizeof n1, NULL);
    ASSERT(a >= 0);
    int p[2];
    ASSERT_OK(pipe(p));
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        char n[256];
        int fd = wrk_name_claim(host, n, sizeof n, NULL);
        char ok = fd >= 0 ? '1' : '0';
        if (write(p[1], &ok, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char ok = 0;
    ASSERT_EQ(read(p[0], &ok, 1), 1);
    ASSERT_EQ(ok, '1');
    // While the child holds HOST-2 the next claim is HOST-3 ...
    int b = wrk_name_claim(host, n2, sizeof n2, NULL);
    snprintf(want, sizeof want, "%s-3", host);
    ASSERT(b >= 0 && strcmp(n2, want) == 0);
    close(b);
    kill(pid, SIGKILL);
    ASSERT_EQ(waitpid(pid, NULL, 0), pid);
    // ... and once it is killed, HOST-2 is free again.
    b = wrk_name_claim(host, n2, sizeof n2, NULL);
    snprintf(want, sizeof want, "%s-2", host);
    ASSERT(b >= 0 && strcmp(n2, want) == 0);
    close(a);
    close(b);
    close(p[0]);
    close(p[1]);
}

/* A host name longer than the name's buffer is cut before the suffix, and
 * one longer than an abstract socket's name still gets its own sequence. */
HPT_TEST(long_host_names)
{
    char host[300], other[300], n1[40], n2[40];
    memset(host, 'x', 290);
    host[290] = '\0';
    snprintf(host + 250, 40, "-%ld", (long)getpid());
    memcpy(other, host, sizeof other);
    other[0] = 'y';   // the same first 80 bytes but one, and the same tail
    int a = wrk_name_claim(host, n1, sizeof n1, NULL);
    int b = wrk_name_claim(host, n2, sizeof n2, NULL);
    ASSERT(a >= 0 && b >= 0);
    ASSERT_EQ(strlen(n1), sizeof n1 - 1);
    ASSERT(strncmp(n1, host, sizeof n1 - 1) == 0);
    ASSERT_EQ(strlen(n2), sizeof n2 - 1);
    ASSERT(strcmp(n2 + strlen(n2) - 2, "-2") == 0);
    ASSERT(strncmp(n2, host, strlen(n2) - 2) == 0);
    char n3[40];
    int c = wrk_name_claim(other, n3, sizeof n3, NULL);
    ASSERT(c >= 0);
    ASSERT(n3[0] == 'y' && strchr(n3, '-') == NULL);   // index 1: its own sequence
    close(a);
    close(b);
    close(c);
}

HPT_TEST(no_host)
{
    char n[64];
    hpt_err err = {0};
    ASSERT(wrk_name_claim("", n, sizeof n, &err) < 0);
    ASSERT_STR_CONTAINS(err.msg, "host name");
}

HPT_TEST_MAIN()
