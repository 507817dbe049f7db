/*
 * A small server for operators' requests, on the main loop. Nothing here
 * blocks: a client that sends slowly, or never reads, is cut off at the
 * deadline; one that sends too much gets its error and the close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "admin.h"
#include "pool.h"

#define ADMIN_READ_MS 2000 /* a whole request; the answer has the rest */

struct admin_conn {
	struct admin *a;
	wf_conn *conn;
	wf_timer *deadline;
	TAILQ_ENTRY(admin_conn) link; /* oldest first */
	bool answered;
};

struct admin {
	struct weftd *d;
	const struct admin_proto *p;
	wf_listener *l;
	TAILQ_HEAD(, admin_conn) conns;
	unsigned n;
};

static void
on_deadline(wf_timer *t, void *arg)
{
	struct admin_conn *c = arg;

	(void)t;
	wf_conn_abort(c->conn);
}

static void
on_data(wf_conn *conn, wf_buf *in, void *arg)
{
	struct admin_conn *c = arg;
	struct out o = { 0 };
	size_t len = wf_buf_len(in);
	bool full = len >= c->a->p->max_request;

	if (c->answered) {
		wf_buf_consume(in, len); /* past the request: not read */
		return;
	}
	if (c->a->p->handle(c->a->d, wf_buf_peek(in), full ?
	    c->a->p->max_request : len, full, &o) == 0)
		return;
	c->answered = true;
	wf_buf_consume(in, len);
	wf_timer_stop(c->deadline); /* the close's linger bounds the rest */
	if (o.failed)
		wf_conn_abort(conn);
	else if (wf_conn_send(conn, o.p, o.len) < 0)
		wf_conn_abort(conn);
	else
		wf_conn_close(conn, ADMIN_DEADLINE_MS);
	out_free(&o);
}

/* It half-closed before a whole request: nothing to answer. */
static void
on_eof(wf_conn *conn, void *arg)
{
	struct admin_conn *c = arg;

	if (!c->answered)
		wf_conn_abort(conn);
}

static void
on_close(wf_conn *conn, enum wf_close_reason why, int err, void *arg)
{
	struct admin_conn *c = arg;

	(void)conn;
	(void)why;
	(void)err;
	TAILQ_REMOVE(&c->a->conns, c, link);
	c->a->n--;
	wf_timer_free(c->deadline);
	free(c);
}

static const struct wf_conn_cbs admin_cbs = {
	.on_data = on_data,
	.on_eof = on_eof,
	.on_close = on_close,
};

static void
on_accept(wf_listener *l, int fd, const struct wf_addr *peer, void *arg)
{
	struct admin *a = arg;
	struct admin_conn *c;

	(void)l;
	(void)peer;
	if (a->p->refuse && a->p->refuse(a->d, fd)) {
		close(fd);
		return;
	}
	/*
	 * Full: the oldest still sending its request makes room, so holding
	 * every slot open keeps nobody out for long.
	 */
	if (a->n >= ADMIN_CONNS) {
		TAILQ_FOREACH(c, &a->conns, link)
			if (!c->answered)
				break;
		if (c)
			wf_conn_abort(c->conn);
	}
	if (a->n >= ADMIN_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->a = a;
	if (wf_timer_new(a->d->main, &c->deadline, on_deadline, c) < 0) {
		free(c);
		close(fd);
		return;
	}
	if (wf_conn_adopt(a->d->main, &c->conn, fd, &admin_cbs, c) < 0) {
		wf_timer_free(c->deadline);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&a->conns, c, link);
	a->n++;
	/* Input past the request is never buffered beyond this. */
	wf_conn_set_limits(c->conn, 0, a->p->max_request + 1, 64u << 20);
	(void)wf_timer_start(c->deadline, ADMIN_READ_MS, 0);
}

int
admin_open(struct weftd *d, const char *addr, const struct admin_proto *p,
    int mode, uid_t uid, gid_t gid, struct admin **ap)
{
	struct wf_listen_opts o = { .size = sizeof(o), .backlog = ADMIN_CONNS, .unix_mode = mode,
	    .unix_chown = uid != (uid_t)-1 || gid != (gid_t)-1,
	    .unix_uid = uid, .unix_gid = gid };
	struct wf_addr wa;
	struct admin *a;
	int rc;

	*ap = NULL;
	if ((rc = wf_addr_parse(&wa, addr)) < 0)
		return rc;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->d = d;
	a->p = p;
	TAILQ_INIT(&a->conns);
	if ((rc = wf_listener_open(d->main, &a->l, &wa, &o, on_accept, a)) < 0) {
		free(a);
		return rc;
	}
	*ap = a;
	return 0;
}

void
admin_close(struct admin *a)
{
	if (a == NULL)
		return;
	wf_listener_close(a->l);
	while (!TAILQ_EMPTY(&a->conns))
		wf_conn_abort(TAILQ_FIRST(&a->conns)->conn);
	free(a);
}
