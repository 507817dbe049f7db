/* Connection internals shared with the server. */
#ifndef WEFT_CONN_INT_H
#define WEFT_CONN_INT_H

#include "loop_int.h"
#include "weft/conn.h"

/* The most one read puts in a wf_conn_read_into() target. */
#define WF__TARGET_READ (256 * 1024)

/* How a server follows its connections: activity and teardown. */
struct wf__conn_owner {
	void (*touch)(wf_conn *c, void *owner);
	void (*gone)(wf_conn *c, void *owner);
	void *owner;
};

struct wf_conn {
	wf_io io; /* first: the connection is freed when its watcher is */
	wf_buf in, out;
	const struct wf_conn_cbs *cbs;
	void *arg;
	uint32_t high, max_in, max_out;
	unsigned flags;
	wf_timer *linger;
	wf_conn_ref *ref;
	/* wf_conn_read_into(): where the next bytes go, and how many. */
	char *rd;
	size_t rd_len, rd_got;
	wf_fill_cb rd_cb;
	const struct wf__conn_owner *owner;
	/* The server's idle list, ordered by last activity. */
	TAILQ_ENTRY(wf_conn) idle_link;
	uint64_t active; /* loop time of the last activity, ns */
	struct wf__peer *peer; /* the server's count for its address */
	int listener; /* the server's listener it came from, plus one; 0: none */
};

void wf__conn_set_owner(wf_conn *c, const struct wf__conn_owner *o);

/* The connection is gone: references find NULL from now on (conn_ref.c). */
void wf__conn_ref_detach(wf_conn_ref *r);

#endif
