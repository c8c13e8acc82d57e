/*
 * wrk_name.c: the default worker name, HOST or HOST-n; see wrk_name.h.
 */
#include "wrk_name.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PREFIX "hptune-worker/"
#define HOST_MAX 80   // bytes of the host name used as is in the socket's name

/* The abstract address of index n for host: "\0hptune-worker/HOST/n".  A
 * host name too long for sun_path is replaced by its FNV-1a hash, which is
 * as good for telling hosts apart.  Returns the address length. */
static socklen_t claim_addr(struct sockaddr_un *a, const char *host, int n)
{
    *a = (struct sockaddr_un){.sun_family = AF_UNIX};
    char h[HOST_MAX + 1];
    if (strlen(host) <= HOST_MAX) {
        snprintf(h, sizeof h, "%s", host);
    } else {
        uint64_t x = 1469598103934665603ull;
        for (const char *c = host; *c; c++)
            x = (x ^ (unsigned char)*c) * 1099511628211ull;
        snprintf(h, sizeof h, "#%016llx", (unsigned long long)x);
    }
    // sun_path[0] stays '\0': the abstract namespace.  The name is not
    // NUL-terminated; its length is what the address length says.
    int len = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, PREFIX "%s/%d", h, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
}

int wrk_name_claim(const char *host, char *name, size_t cap, hpt_err *err)
{
    if (!host[0] || cap < 16)
        return hpt_err_set(err, -EINVAL, "no host name to build a worker name from");
    for (int n = 1; n <= HPT_WRK_NAME_MAX_INDEX; n++) {
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return hpt_err_set(err, -errno, "cannot create the socket that claims a name: %s",
                               strerror(errno));
        struct sockaddr_un a;
        socklen_t len = claim_addr(&a, host, n);
        if (bind(fd, (struct sockaddr *)&a, len) == 0) {
            if (n == 1) {
                snprintf(name, cap, "%s", host);
            } else {
                char suffix[16];
                int sl = snprintf(suffix, sizeof suffix, "-%d", n);
                // Cut the host, never the suffix: the suffix is what is unique.
                snprintf(name, cap, "%.*s%s", (int)(cap - 1 - (size_t)sl), host, suffix);
            }
            return fd;
        }
        int e = errno;
        close(fd);
        if (e != EADDRINUSE)
            return hpt_err_set(err, -e, "cannot claim a worker name: bind: %s", strerror(e));
    }
    return hpt_err_set(err, -EADDRINUSE, "every worker name from %s to %s-%d is taken", host,
                       host, HPT_WRK_NAME_MAX_INDEX);
}
