/*
 * The IO threads' side: client connections, framing, response order.
 *
 * Each request gets the next sequence number of its connection. Answers
 * come back in any order (different workers); an answer that is not the
 * next one waits on the client's pending list, sorted by sequence, and
 * every answer that has become sendable leaves in one writev.
 *
 * At most max_pipeline requests of one connection are in flight; beyond
 * that the connection stops reading (TCP pushes back on the client) until
 * answers go out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "weftd.h"

#define LINGER_MS 5000
#define IOV_BATCH 64

static struct front *
front_of(struct weftd *d, const wf_loop *loop)
{
	unsigned i;

	for (i = 0; i < d->nfronts; i++)
		if (d->fronts[i].loop == loop)
			return &d->fronts[i];
	return NULL;
}

static void
peer_name(wf_conn *conn, char *buf, size_t len)
{
	struct wf_addr a;

	a.len = sizeof(a.ss);
	if (getpeername(wf_conn_fd(conn), (struct sockaddr *)&a.ss, &a.len) < 0)
		snprintf(buf, len, "fd %d", wf_conn_fd(conn));
	else
		wf_addr_format(&a, buf, len);
}

/* Close once nothing is owed to the client. */
static void
maybe_close(struct client *c)
{
	if (c->closing && c->inflight == 0 && c->conn)
		wf_conn_close(c->conn, LINGER_MS);
}

/* --- requests: client -> main thread ------------------------------------ */

static void deliver(struct front *f, struct job *j);
static void flush_dirty(struct front *f);

/* Once per loop iteration: this iteration's requests, in one task. */
static void
post_requests(void *arg)
{
	struct front *f = arg;
	struct job *list = f->out, *j, *next;

	f->out = NULL;
	f->out_tail = &f->out;
	f->out_posted = false;
	if (list == NULL || wf_loop_post(f->d->main, dispatch_submit, list) == 0)
		return;
	/*
	 * Out of memory for the task (the main loop outlives the IO
	 * threads): answer here, so the client is not left waiting.
	 */
	for (j = list; j; j = next) {
		next = j->next;
		if (job_set_response(&j, WEFTD_OVERLOADED, "overloaded", 10) < 0)
			job_set_response(&j, WEFTD_OVERLOADED, NULL, 0);
		deliver(f, j);
	}
	flush_dirty(f);
}

static void
queue_request(struct front *f, struct job *j)
{
	j->next = NULL;
	*f->out_tail = j;
	f->out_tail = &j->next;
	if (!f->out_posted && wf_loop_post(f->loop, post_requests, f) == 0)
		f->out_posted = true;
}

/* The client broke the protocol: answer that, in order, then close. */
static void
bad_request(struct front *f, struct client *c, const wf_buf *in, int rc)
{
	const unsigned char *h = (const unsigned char *)wf_buf_peek(in);
	char msg[96], peer[128];
	struct job *j;
	int n;

	if (rc == -EMSGSIZE)
		n = snprintf(msg, sizeof(msg), "frame of %u bytes is over "
		    "max_frame (%u)", (unsigned)h[0] << 24 | (unsigned)h[1] << 16 |
		    (unsigned)h[2] << 8 | h[3], f->max_frame);
	else
		n = snprintf(msg, sizeof(msg), "frame flags must be 0");
	peer_name(c->conn, peer, sizeof(peer));
	weftd_log(LOG_NOTICE, "client %s: %s; closing", peer, msg);
	c->closing = true;
	wf_conn_pause(c->conn);
	if ((j = job_new(c, c->next_seq++, 0)) == NULL) {
		wf_conn_abort(c->conn);
		return;
	}
	c->inflight++;
	if (job_set_response(&j, WEFTD_BAD_REQUEST, msg, (uint32_t)n) < 0)
		job_set_response(&j, WEFTD_BAD_REQUEST, NULL, 0);
	deliver(f, j);
	flush_dirty(f);
}

static void
on_data(wf_conn *conn, wf_buf *in, void *arg)
{
	struct client *c = arg;
	struct front *f = c->front;
	uint32_t max = f->max_frame;
	struct wf_frame fr;
	struct job *j;
	int rc;

	if (c->closing) {
		wf_buf_consume(in, wf_buf_len(in));
		return;
	}
	while (c->inflight < f->max_pipeline) {
		if ((rc = wf_frame_decode(in, max, &fr)) == 0)
			return;
		if (rc < 0) {
			bad_request(f, c, in, rc);
			wf_buf_consume(in, wf_buf_len(in));
			return;
		}
		if ((j = job_new(c, c->next_seq++, fr.len)) == NULL) {
			weftd_log(LOG_ERR, "out of memory for a request; "
			    "closing its connection");
			wf_conn_abort(conn);
			return;
		}
		memcpy(j->frame, wf_buf_peek(in), WF_FRAME_HDR + fr.len);
		wf_buf_consume(in, WF_FRAME_HDR + fr.len);
		c->inflight++;
		queue_request(f, j);
	}
	wf_conn_pause(conn);
	c->paused = true;
}

/* --- answers: main thread -> client ------------------------------------- */

static void
deliver(struct front *f, struct job *j)
{
	struct client *c = j->client;
	struct job **pp;

	if (c->conn == NULL) {
		job_free(j);
		return;
	}
	/*
	 * Answers mostly come in request order: behind a slow one, each goes
	 * at the tail in O(1), not after a walk of everything waiting.
	 */
	if (c->pending == NULL || c->pending_tail->seq < j->seq) {
		pp = c->pending ? &c->pending_tail->next : &c->pending;
	} else {
		for (pp = &c->pending; (*pp)->seq < j->seq; pp = &(*pp)->next)
			;
	}
	j->next = *pp;
	*pp = j;
	if (j->next == NULL)
		c->pending_tail = j;
	if (c->pending->seq == c->send_seq && !c->dirty) {
		c->dirty = true;
		atomic_fetch_add(&c->refs, 1); /* the dirty list's */
		c->dirty_next = f->dirty;
		f->dirty = c;
	}
}

/* Write every answer that is next in line, up to IOV_BATCH per writev. */
static void
send_ready(struct client *c)
{
	struct iovec iov[IOV_BATCH];
	struct job *sent[IOV_BATCH];
	int n, i, rc = 0;

	while (c->conn && c->pending && c->pending->seq == c->send_seq) {
		for (n = 0; n < IOV_BATCH && c->pending &&
		    c->pending->seq == c->send_seq; n++) {
			sent[n] = c->pending;
			c->pending = sent[n]->next;
			iov[n].iov_base = sent[n]->frame;
			iov[n].iov_len = WF_FRAME_HDR + job_len(sent[n]);
			c->send_seq++;
		}
		rc = wf_conn_sendv(c->conn, iov, n);
		c->inflight -= (unsigned)n;
		for (i = 0; i < n; i++)
			job_free(sent[i]);
		if (rc < 0) {
			/*
			 * The write failed (the connection is torn down
			 * already) or is over max_out: the client does not
			 * read its answers.
			 */
			if (c->conn)
				wf_conn_abort(c->conn);
			return;
		}
	}
	if (c->conn == NULL)
		return;
	if (c->paused && !c->closing &&
	    c->inflight < c->front->max_pipeline) {
		c->paused = false;
		wf_conn_resume(c->conn);
	}
	maybe_close(c);
}

static void
flush_dirty(struct front *f)
{
	struct client *c;

	while ((c = f->dirty) != NULL) {
		f->dirty = c->dirty_next;
		c->dirty = false;
		send_ready(c);
		client_unref(c);
	}
}

void
front_deliver(void *arg)
{
	struct job *j = arg, *next;
	struct front *f = j->client->front;

	for (; j; j = next) {
		next = j->next;
		deliver(f, j);
	}
	flush_dirty(f);
}

/* --- connections --------------------------------------------------------- */

static void
on_open(wf_conn *conn, void *arg)
{
	struct weftd *d = arg;
	struct front *f = front_of(d, wf_conn_loop(conn));
	struct client *c = calloc(1, sizeof(*c));

	wf_conn_set_arg(conn, c);
	if (c == NULL || f == NULL) {
		weftd_log(LOG_ERR, "out of memory for a connection");
		wf_conn_abort(conn);
		return;
	}
	atomic_init(&c->refs, 1);
	c->front = f;
	c->conn = conn;
	c->next = f->clients;
	if (f->clients)
		f->clients->prev = c;
	f->clients = c;
	atomic_fetch_add(&d->clients, 1);
	if (atomic_load(&d->draining)) {
		c->closing = true;
		maybe_close(c);
	}
}

static void
on_close(wf_conn *conn, enum wf_close_reason why, int err, void *arg)
{
	struct client *c = arg;
	struct front *f;
	struct job *j;

	(void)conn;
	(void)why;
	(void)err;
	if (c == NULL)
		return;
	f = c->front;
	c->conn = NULL;
	atomic_store(&c->gone, true);
	if (c->prev)
		c->prev->next = c->next;
	else
		f->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	while ((j = c->pending) != NULL) {
		c->pending = j->next;
		job_free(j);
	}
	if (atomic_fetch_sub(&f->d->clients, 1) == 1 &&
	    atomic_load(&f->d->draining))
		(void)wf_loop_post(f->d->main, weftd_drained, f->d);
	client_unref(c);
}

/* The client sent all it will (half-close): answer it all, then close. */
static void
on_eof(wf_conn *conn, void *arg)
{
	struct client *c = arg;

	(void)conn;
	c->closing = true;
	maybe_close(c);
}

/* Not idle while the handler still works on one of its requests. */
static int
on_idle(wf_conn *conn, void *arg)
{
	struct client *c = wf_conn_arg(conn);

	(void)arg;
	return c && c->inflight > 0;
}

static const struct wf_conn_cbs client_cbs = {
	.on_data = on_data,
	.on_close = on_close,
	.on_eof = on_eof,
};

int
front_start(struct weftd *d)
{
	struct wf_server_opts o = {
		.threads = d->cfg.io_threads,
		.max_conns = d->cfg.max_connections,
		.idle_timeout_ms = d->cfg.idle_timeout_ms,
		.max_in = (size_t)d->cfg.max_frame + WF_FRAME_HDR,
		.cbs = &client_cbs,
		.arg = d,
		.on_open = on_open,
		.on_idle = on_idle,
		.listen = {
			.unix_mode = d->cfg.unix_socket.mode,
			.unix_chown = d->cfg.unix_socket.uid != (uid_t)-1 ||
			    d->cfg.unix_socket.gid != (gid_t)-1,
			.unix_uid = d->cfg.unix_socket.uid,
			.unix_gid = d->cfg.unix_socket.gid,
		},
	};
	wf_loop_group *g;
	unsigned i;
	int rc;

	d->nfronts = d->cfg.io_threads;
	if ((d->fronts = calloc(d->nfronts, sizeof(*d->fronts))) == NULL)
		return -ENOMEM;
	if ((rc = wf_server_start(&d->server, &o)) < 0) {
		weftd_log(LOG_ERR, "starting %u IO threads: %s", o.threads,
		    strerror(-rc));
		return rc;
	}
	g = wf_server_loops(d->server);
	for (i = 0; i < d->nfronts; i++) {
		struct front *f = &d->fronts[i];

		f->d = d;
		f->index = i;
		f->loop = wf_loop_group_get(g, i);
		f->max_frame = d->cfg.max_frame;
		f->max_pipeline = d->cfg.max_pipeline;
		f->out_tail = &f->out;
		f->replies_tail = &f->replies;
	}
	return 0;
}

static void
log_listener(struct weftd *d, int idx, const char *how)
{
	char buf[160];
	struct wf_addr a;

	if (wf_server_addr(d->server, (unsigned)idx, &a) == 0)
		weftd_log(LOG_INFO, "listening on %s%s",
		    wf_addr_format(&a, buf, sizeof(buf)), how);
}

/* Socket activation: systemd's sockets replace the listen setting. */
static int
adopt_sockets(struct weftd *d, int n)
{
	int i, fd, idx;

	for (i = 0; i < n; i++) {
		fd = SD_LISTEN_FDS_START + i;
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			weftd_log(LOG_ERR, "socket activation: fd %d is not a "
			    "listening stream socket", fd);
			return -EINVAL;
		}
		if ((idx = wf_server_adopt(d->server, fd)) < 0) {
			weftd_log(LOG_ERR, "socket activation: fd %d: %s", fd,
			    strerror(-idx));
			return idx;
		}
		log_listener(d, idx, " (from systemd)");
	}
	weftd_log(LOG_INFO, "socket activation: %d sockets from systemd; the "
	    "listen setting is not used", n);
	return 0;
}

/* Bind every configured address; the first failure is fatal. */
int
front_listen(struct weftd *d)
{
	struct wf_addr a;
	unsigned i;
	int idx, n;

	/* Also unsets LISTEN_FDS and LISTEN_PID: they were meant for us. */
	if ((n = sd_listen_fds(1)) < 0) {
		weftd_log(LOG_ERR, "sd_listen_fds: %s", strerror(-n));
		return n;
	}
	if (n > 0)
		return adopt_sockets(d, n);
	for (i = 0; i < d->cfg.nlisten; i++) {
		(void)wf_addr_parse(&a, d->cfg.listen[i]); /* checked at load */
		if ((idx = wf_server_listen(d->server, &a)) < 0) {
			weftd_log(LOG_ERR, "listen %s: %s", d->cfg.listen[i],
			    strerror(-idx));
			return idx;
		}
		log_listener(d, idx, "");
	}
	return 0;
}

/* On each IO loop: read no more requests; close what owes nothing. */
static void
drain_loop(void *arg)
{
	struct front *f = arg;
	struct client *c, *next;

	for (c = f->clients; c; c = next) {
		next = c->next;
		c->closing = true;
		if (c->conn)
			wf_conn_pause(c->conn);
		maybe_close(c);
	}
}

/* The watchdog's question to an IO loop: are you running? */
static void
pong(void *arg)
{
	struct front *f = arg;

	atomic_fetch_add(&f->pongs, 1);
}

/* Are all IO loops alive? Each answered the last ping; ping them again. */
bool
front_alive(struct weftd *d)
{
	bool alive = true;
	unsigned i;

	for (i = 0; i < d->nfronts; i++) {
		struct front *f = &d->fronts[i];

		if (atomic_load(&f->pongs) != f->pings) {
			alive = false;
			continue; /* one ping at a time */
		}
		if (wf_loop_post(f->loop, pong, f) == 0)
			f->pings++;
	}
	return alive;
}

void
front_drain(struct weftd *d)
{
	unsigned i;

	atomic_store(&d->draining, true);
	wf_server_stop_accepting(d->server);
	for (i = 0; i < d->nfronts; i++)
		(void)wf_loop_post(d->fronts[i].loop, drain_loop, &d->fronts[i]);
	if (atomic_load(&d->clients) == 0)
		(void)wf_loop_post(d->main, weftd_drained, d);
}

/* Join the IO threads; d->fronts stays until the main loop is freed. */
void
front_stop(struct weftd *d)
{
	unsigned i;

	if (d->server)
		wf_server_free(d->server);
	d->server = NULL;
	for (i = 0; i < d->nfronts; i++)
		d->fronts[i].loop = NULL;
}
