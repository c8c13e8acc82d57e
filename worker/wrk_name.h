/*
 * wrk_name.h: a default worker name that is unique on its host.
 *
 * Without --name a worker used to call itself by its host name, so two
 * workers on one machine both showed as "vm" in `hptune workers` and on the
 * dashboard.  Now the worker claims the lowest free index n (1, 2, ...) on
 * its host and calls itself HOST for n = 1 and HOST-n otherwise: the first
 * worker keeps the plain host name, the second is HOST-2, the third HOST-3,
 * and a worker that restarts while the others run gets its old name back.
 *
 * The claim is a bound abstract AF_UNIX socket named
 * "\0hptune-worker/HOST/n" (Linux's abstract namespace).  The kernel
 * releases it however the process ends (even SIGKILL), it needs no file and
 * no writable directory, and it is shared by every process of the network
 * namespace, whatever its user, its mount namespace (systemd's PrivateTmp)
 * or its container image: what "one host" means for a network service.
 * Workers in different network namespaces (containers, pods) do not see
 * each other's claims; they normally have host names of their own.
 *
 * --name (or `name` in the config file) still wins: the claim is made only
 * when no name was given.  Everything here runs on the main thread.
 */
#ifndef HPT_WRK_NAME_H
#define HPT_WRK_NAME_H

#include <stddef.h>

#include "err.h"

#define HPT_WRK_NAME_MAX_INDEX 4096   // indices tried before giving up

/* Claim the lowest free index for host (borrowed, non-empty) and write the
 * name it gives into name (cap bytes; a host name too long for "-n" to fit
 * is cut).  Returns the socket that holds the claim (owned by the caller:
 * closing it releases the name; it is close-on-exec), or a negative errno
 * with err saying why: the socket cannot be created (a seccomp filter, say),
 * or every index up to HPT_WRK_NAME_MAX_INDEX is taken (-EADDRINUSE). */
int wrk_name_claim(const char *host, char *name, size_t cap, hpt_err *err);

#endif
