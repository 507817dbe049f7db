/*
 * Socket addresses as operators write them:
 *   "127.0.0.1:7000", "[::1]:7000", "*:7000" (IPv4 any), "[::]:7000",
 *   "unix:/run/weft/weft.sock".
 * Numeric hosts only (no DNS: a daemon must not block resolving).
 */
#ifndef WEFT_ADDR_H
#define WEFT_ADDR_H

#include <sys/socket.h>
#include <weft/defs.h>

struct wf_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* 0, or -EINVAL for a malformed address (bad port, host, or path too long). */
WF_EXPORT int wf_addr_parse(struct wf_addr *a, const char *s);

/* Format back into the notation above; returns buf. */
WF_EXPORT const char *wf_addr_format(const struct wf_addr *a, char *buf,
    size_t size);

#endif
