/*
 * The operator's listeners, on the main loop: the control socket
 * (control.c, for weftctl) and the metrics listener (http.c). One request
 * per connection, one answer, then the connection closes. Every phase is
 * bounded: ADMIN_CONNS connections at once per listener (a new one beyond
 * them replaces the oldest still sending its request), the request's
 * bytes, 2 s to send it, ADMIN_DEADLINE_MS for the answer to be taken.
 */
#ifndef WEFTD_ADMIN_H
#define WEFTD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "stats.h"

#define ADMIN_CONNS 16
#define ADMIN_DEADLINE_MS 10000

struct admin_proto {
	const char *name;   /* for the log: "control socket" */
	size_t max_request; /* bytes */
	/*
	 * The request's bytes so far (len, full: max_request of them, and no
	 * more will be read). 0: not whole yet; 1: the answer is in o.
	 */
	int (*handle)(struct weftd *d, const char *req, size_t len, bool full,
	    struct out *o);
	/* Optional: true if the peer on fd may not use it (closed at once). */
	bool (*refuse)(struct weftd *d, int fd);
};

/*
 * Listen on addr (as wf_addr_parse() takes it); a Unix socket gets mode,
 * and uid/gid unless (uid_t)-1. 0 or -errno, logged by the caller.
 */
int admin_open(struct weftd *d, const char *addr, const struct admin_proto *p,
    int mode, uid_t uid, gid_t gid, struct admin **ap);
void admin_close(struct admin *a);

/* control.c and http.c */
extern const struct admin_proto control_proto, http_proto;

/* weftd.c: the control socket and the metrics listener, if configured. */
int admin_start(struct weftd *d);

#endif
