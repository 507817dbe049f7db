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

WF_BEGIN_DECLS

struct wf_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * 0, or -EINVAL for a malformed address: a host that is not a numeric
 * address, a port missing or outside 0..65535 or not plain decimal, junk
 * after it, or an empty Unix path or one that does not fit sun_path. On
 * failure *a is zeroed.
 */
WF_EXPORT int wf_addr_parse(struct wf_addr *a, const char *s);

/*
 * Format back into the notation above (IPv4 any as "*"); returns buf,
 * truncated to size. A Unix peer that never bound prints as "unix:", a
 * Linux abstract name as "unix:@name" (for logs; parse takes neither).
 * INET6_ADDRSTRLEN + 8 bytes hold any IP address, 6 + 108 a Unix one.
 */
WF_EXPORT const char *wf_addr_format(const struct wf_addr *a, char *buf,
    size_t size);

WF_END_DECLS

#endif
