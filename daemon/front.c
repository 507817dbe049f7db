/*
 * The IO threads' side: client connections, framing, response order, and
 * the limits a client meets.
 *
 * Each request gets the next sequence number of its connection. Answers
 * come back in any order (different workers); an answer that is not the
 * next one waits on the client's pending list, sorted by sequence, and
 * every answer that has become sendable leaves in one writev.
 *
 * A frame is read into its job, allocated at the frame's size when its
 * header is in. A large one (over WHOLE_FRAME) is then read straight into
 * its place (wf_conn_read_into: no copy, no growing), and charged as its
 * bytes arrive, so a header that claims 1 GiB costs what was sent.
 * Every byte a client makes weftd hold is counted (client.held, and the
 * budget of budget.c). Reading stops (client.stop) at max_pipeline requests
 * in flight, at max_buffered_per_client bytes, and for the budget; TCP then
 * pushes back on the client.
 *
 * Deadlines, checked by one timer per IO loop (TICK_MS): a frame must
 * arrive whole within frame_timeout of its first byte (while we read);
 * the oldest answer byte owed must be written within send_timeout.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "weftd.h"

#define LINGER_MS 5000
#define IOV_BATCH 64
#define READ_CHUNK (64 * 1024)  /* the most a connection buffers (not in place) */
#define TICK_MS 250
#define LOG_BURST 20            /* client-caused lines per IO loop, ... */
#define LOG_PER_MS 1000         /* ... per this interval */

const char *const weftd_close_names[CLOSE_REASONS] = {
	[CLOSE_BAD_REQUEST] = "bad_request",
	[CLOSE_FRAME_TIMEOUT] = "frame_timeout",
	[CLOSE_SEND_TIMEOUT] = "send_timeout",
	[CLOSE_IDLE] = "idle_timeout",
	[CLOSE_EVICTED] = "evicted",
	[CLOSE_UNREAD] = "unread_answers",
	[REFUSED_FULL] = "refused_max_connections",
	[REFUSED_PER_IP] = "refused_max_connections_per_ip",
};

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

/* Count a close, and log it unless clients have caused too many lines. */
static void
count_close(struct client *c, enum weftd_close why, const char *detail)
{
	struct front *f = c->front;
	char peer[128];

	atomic_fetch_add_explicit(&f->d->closed[why], 1, memory_order_relaxed);
	if (c->conn == NULL || !weftd_rl_allow(&f->rl, wf_loop_now(f->loop)))
		return;
	peer_name(c->conn, peer, sizeof(peer));
	weftd_log(LOG_INFO, "client %s: %s%s%s; closing", peer,
	    weftd_close_names[why], detail ? ": " : "", detail ? detail : "");
}

/* --- what a client holds ------------------------------------------------ */

static void
held_add(struct client *c, uint64_t n)
{
	c->held += n;
}

static void go_on(struct client *c, unsigned why);

static void
held_sub(struct client *c, uint64_t n)
{
	c->held -= n;
	if ((c->stop & STOP_CLIENT) &&
	    (c->held == 0 || c->held + c->want <= c->front->max_client))
		go_on(c, STOP_CLIENT);
}

/* A job of c is done on this thread (written, or dropped). */
static void
job_done(struct client *c, struct job *j)
{
	uint32_t h = j->held;

	job_free(j);
	held_sub(c, h);
}

/* A part of what c holds is n bytes now: charge or release the change. */
static void
held_set(struct client *c, uint64_t *part, uint64_t n)
{
	struct weftd *d = c->front->d;

	if (n > *part) {
		budget_charge(d, n - *part);
		held_add(c, n - *part);
	} else if (n < *part) {
		budget_release(d, *part - n);
		held_sub(c, *part - n);
	}
	*part = n;
}

/* The connection keeps n bytes of input for us. */
static void
set_lib_in(struct client *c, size_t n)
{
	held_set(c, &c->lib_in, n);
}

/*
 * The connection's output buffer, charged; and the marks send_timeout is
 * judged by: when each stretch of it was queued.
 */
static void
out_update(struct client *c, uint64_t now)
{
	uint64_t q = c->conn ? wf_conn_queued(c->conn) : 0, written;
	unsigned i;

	held_set(c, &c->out_held, q);
	if (q == 0) {
		c->nmarks = 0;
		return;
	}
	written = c->appended - q;
	for (i = 0; i < c->nmarks && c->marks[i].end <= written; i++)
		;
	if (i) {
		memmove(c->marks, c->marks + i, (c->nmarks - i) *
		    sizeof(c->marks[0]));
		c->nmarks -= i;
	}
	/* Everything queued up to appended was there by now at the latest. */
	if (c->nmarks && c->marks[c->nmarks - 1].end == c->appended)
		return;
	if (c->nmarks && c->marks[c->nmarks - 1].at == now)
		c->marks[c->nmarks - 1].end = c->appended;
	else if (c->nmarks < sizeof(c->marks) / sizeof(c->marks[0])) {
		c->marks[c->nmarks].end = c->appended;
		c->marks[c->nmarks++].at = now;
	} else {
		c->marks[c->nmarks - 1].end = c->appended; /* older: stricter */
	}
}

/* --- reading, and not reading -------------------------------------------- */

static void
stop_reading(struct client *c, unsigned why)
{
	if (c->stop == 0 && c->conn)
		wf_conn_pause(c->conn);
	c->stop |= why;
	c->frame_t0 = 0; /* our pause is not the client's delay */
}

static void
go_on(struct client *c, unsigned why)
{
	if (!(c->stop & why))
		return;
	c->stop &= ~why;
	if (c->stop || c->discard || c->conn == NULL)
		return;
	if (c->partial || c->lib_in)
		c->frame_t0 = wf_loop_now(c->front->loop);
	wf_conn_resume(c->conn);
}

/* The budget is spent: no connection of this loop reads until it frees. */
static void
starve(struct front *f)
{
	struct client *c, *next;

	if (f->starved)
		return;
	f->starved = true;
	/* A pause that fails closes its connection: take the next first. */
	for (c = LIST_FIRST(&f->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		stop_reading(c, STOP_BUDGET);
	}
	budget_wait(f->d);
}

void
front_budget_freed(void *arg)
{
	struct front *f = arg;
	struct client *c, *next;

	f->starved = false;
	for (c = LIST_FIRST(&f->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		go_on(c, STOP_BUDGET);
	}
}

/*
 * Close once nothing is owed to the client, when it will send nothing more
 * that counts: its input is dropped, or it has ended (everything it sent
 * was read; a frame left incomplete never will be).
 */
static void
maybe_close(struct client *c)
{
	if ((c->discard || c->eof) && c->inflight == 0 && c->conn)
		wf_conn_close(c->conn, LINGER_MS);
}

/* The frame being read is dropped (the connection is closing). */
static void
drop_partial(struct client *c)
{
	if (c->conn)
		(void)wf_conn_read_into(c->conn, NULL, 0, NULL);
	if (c->partial)
		job_done(c, c->partial);
	c->partial = NULL;
	c->have = 0;
}

/* Drop its input: what is owed is answered, then the connection closes. */
static void
discard_input(struct client *c)
{
	c->discard = true;
	c->frame_t0 = 0;
	if (c->conn)
		wf_conn_pause(c->conn);
	drop_partial(c);
}

/* --- the flush: once per loop iteration ---------------------------------- */

static void flush_dirty(struct front *f);
static void deliver(struct front *f, struct job *j);

/*
 * After the iteration's IO: what this iteration gave the workers goes in
 * one writev each, batches for other loops in one post each, and every
 * answer that became sendable in one writev per client.
 */
static void
flush_task(void *arg)
{
	struct front *f = arg;

	f->flush_posted = false;
	dispatch_flush(f);
	flush_dirty(f);
}

void
front_kick(struct front *f)
{
	int rc;

	if (f->flush_posted)
		return;
	if ((rc = wf_loop_post(f->loop, flush_task, f)) == 0)
		f->flush_posted = true;
	else if (rc == -ESHUTDOWN)
		flush_task(f); /* the loop is being freed: no later iteration */
	/* Out of memory: the next kick, or the tick, tries again. */
}

void
front_answer(struct front *f, struct job *j)
{
	deliver(f, j);
	front_kick(f);
}

/* The client broke the protocol: answer that, in order, then close. */
static void
bad_request(struct front *f, struct client *c, const wf_buf *in, int rc)
{
	char msg[96];
	struct job *j;
	int n;

	if (rc == -EMSGSIZE)
		n = snprintf(msg, sizeof(msg), "frame of %u bytes is over "
		    "max_frame (%u)", wf_frame_length(wf_buf_peek(in)),
		    f->max_frame);
	else
		n = snprintf(msg, sizeof(msg), "frame flags must be 0");
	count_close(c, CLOSE_BAD_REQUEST, msg);
	discard_input(c);
	if ((j = job_new(c, c->next_seq++, WF_FRAME_HDR + (uint32_t)n)) == NULL) {
		wf_conn_abort(c->conn);
		return;
	}
	j->held = (uint32_t)job_charge(j);
	held_add(c, j->held);
	c->inflight++;
	(void)job_set_response(&j, WEFTD_BAD_REQUEST, msg, (uint32_t)n);
	deliver(f, j);
	flush_dirty(f);
}

/*
 * Start the next frame, whose header is at the front of in, if its limits
 * allow: 1 started, 0 not now (reading stopped, and why), -1 the
 * connection is gone.
 */
static int
start_frame(struct front *f, struct client *c, wf_buf *in)
{
	uint32_t need = WF_FRAME_HDR + wf_frame_length(wf_buf_peek(in));
	uint64_t cost = sizeof(struct job) + need;
	struct job *j;

	if (c->inflight >= f->max_pipeline) {
		stop_reading(c, STOP_PIPELINE);
		return 0;
	}
	if (c->held > 0 && c->held + cost > f->max_client) {
		c->want = cost;
		stop_reading(c, STOP_CLIENT);
		return 0;
	}
	if (budget_full(f->d)) {
		starve(f);
		return 0;
	}
	/* Near the limit, a client that holds something waits. */
	if (c->held > 0 && budget_tight(f->d)) {
		stop_reading(c, STOP_BUDGET);
		budget_wait(f->d);
		return 0;
	}
	if ((j = need <= WHOLE_FRAME ? job_new(c, c->next_seq++, need) :
	    job_new_large(c, c->next_seq++, need)) == NULL) {
		weftd_log(LOG_ERR, "out of memory for a request; closing its "
		    "connection");
		wf_conn_abort(c->conn);
		return -1;
	}
	j->held = (uint32_t)job_charge(j);
	held_add(c, j->held);
	c->partial = j;
	c->have = 0;
	return 1;
}

/* The frame being read has n bytes now: charge them (it does not move). */
static void
frame_has(struct client *c, uint32_t n)
{
	struct job *j = c->partial;
	uint32_t old = j->cap;

	job_fill(j, n);
	j->held += j->cap - old;
	held_add(c, j->cap - old);
	c->have = n;
}

/* The frame being read is whole: off to a worker. */
static void
frame_done(struct front *f, struct client *c)
{
	struct job *j = c->partial;
	uint16_t route = (uint16_t)(j->frame[4] << 8 | j->frame[5]);
	struct lane *l = dispatch_route(f, c, route);
	char msg[48];

	c->inflight++;
	c->partial = NULL;
	c->have = 0;
	c->frame_t0 = 0; /* the next frame's clock starts at its byte */
	if (l) {
		dispatch_submit(l, j);
		return;
	}
	/* Answered in its turn; the connection goes on. */
	snprintf(msg, sizeof(msg), "no such route: %u", route);
	front_answer(f, job_error(j, WEFTD_NO_ROUTE, msg));
}

static void
on_fill(wf_conn *conn, size_t got, void *arg)
{
	struct client *c = arg;

	(void)conn;
	frame_has(c, c->fill_base + (uint32_t)got);
	if (c->have == WF_FRAME_HDR + job_len(c->partial))
		frame_done(c->front, c);
}

/*
 * Copy what in has of the frame being read (allocated whole): 1 when it is
 * complete, 0 when it needs more. The rest of a large one is read in place.
 */
static int
fill_frame(struct client *c, wf_buf *in)
{
	struct job *j = c->partial;
	uint32_t need;
	size_t n = wf_buf_len(in), take;

	if (c->have < WF_FRAME_HDR) {
		memcpy(j->frame, wf_buf_peek(in), WF_FRAME_HDR);
		wf_buf_consume(in, WF_FRAME_HDR);
		c->have = WF_FRAME_HDR;
		n -= WF_FRAME_HDR;
	}
	need = WF_FRAME_HDR + job_len(j);
	take = n < need - c->have ? n : need - c->have;
	memcpy(j->frame + c->have, wf_buf_peek(in), take);
	frame_has(c, c->have + (uint32_t)take);
	wf_buf_consume(in, take);
	if (c->have == need)
		return 1;
	if (need > WHOLE_FRAME && wf_conn_read_into(c->conn, j->frame + c->have,
	    need - c->have, on_fill) == 0)
		c->fill_base = c->have;
	return 0;
}

static void
on_data(wf_conn *conn, wf_buf *in, void *arg)
{
	struct client *c = arg;
	struct front *f = c->front;
	struct wf_frame fr;
	int rc;

	(void)conn;
	if (c->discard) {
		wf_buf_consume(in, wf_buf_len(in));
		set_lib_in(c, 0);
		return;
	}
	while (c->stop == 0) {
		if (c->partial == NULL) {
			if ((rc = wf_frame_decode(in, f->max_frame, &fr)) < 0) {
				bad_request(f, c, in, rc);
				wf_buf_consume(in, wf_buf_len(in));
				set_lib_in(c, 0);
				return;
			}
			if (wf_buf_len(in) < WF_FRAME_HDR)
				break;
			if ((rc = start_frame(f, c, in)) < 0)
				return;
			if (rc == 0)
				break;
		}
		if (fill_frame(c, in) == 0)
			break;
		frame_done(f, c);
	}
	set_lib_in(c, wf_buf_len(in));
	if (c->stop == 0 && (c->partial || wf_buf_len(in)) && c->frame_t0 == 0)
		c->frame_t0 = wf_loop_now(f->loop);
}

/* --- answers -> client ---------------------------------------------------- */

static void
deliver(struct front *f, struct job *j)
{
	struct client *c = j->client;
	struct job **pp;
	uint64_t charge = job_charge(j);

	if (c->conn == NULL) {
		job_free(j);
		return;
	}
	/* The answer replaced the request: count it instead. */
	if (charge > j->held)
		held_add(c, charge - j->held);
	else if (charge < j->held)
		held_sub(c, j->held - charge);
	j->held = (uint32_t)charge;
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
	size_t total;

	while (c->conn && c->pending && c->pending->seq == c->send_seq) {
		total = 0;
		for (n = 0; n < IOV_BATCH && c->pending &&
		    c->pending->seq == c->send_seq; n++) {
			sent[n] = c->pending;
			c->pending = sent[n]->next;
			iov[n].iov_base = sent[n]->frame;
			iov[n].iov_len = WF_FRAME_HDR + job_len(sent[n]);
			total += iov[n].iov_len;
			c->send_seq++;
		}
		rc = wf_conn_sendv(c->conn, iov, n);
		c->inflight -= (unsigned)n;
		if (rc == 0)
			c->appended += total;
		for (i = 0; i < n; i++)
			job_done(c, sent[i]);
		if (rc < 0) {
			/*
			 * Over max_out: the client owes itself more than
			 * max_buffered_per_client and does not read. Or the
			 * write failed: the connection is torn down already.
			 */
			if (rc == -ENOBUFS)
				count_close(c, CLOSE_UNREAD, NULL);
			if (c->conn)
				wf_conn_abort(c->conn);
			return;
		}
	}
	if (c->conn == NULL)
		return;
	out_update(c, wf_loop_now(c->front->loop));
	if (c->inflight < c->front->max_pipeline)
		go_on(c, STOP_PIPELINE);
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

/* --- deadlines ------------------------------------------------------------ */

static void
on_tick(wf_timer *t, void *arg)
{
	struct front *f = arg;
	uint64_t now = wf_loop_now(f->loop);
	struct client *c, *next;

	(void)t;
	for (c = LIST_FIRST(&f->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->conn == NULL)
			continue;
		if (c->frame_t0 && c->stop == 0 && !c->discard && !c->eof &&
		    now - c->frame_t0 >= f->frame_ms) {
			/* Answer what it sent whole, then close. */
			count_close(c, CLOSE_FRAME_TIMEOUT, NULL);
			discard_input(c);
			maybe_close(c);
			continue;
		}
		if (c->out_held == 0)
			continue;
		out_update(c, now);
		if (c->nmarks && now - c->marks[0].at >= f->send_ms) {
			count_close(c, CLOSE_SEND_TIMEOUT, NULL);
			wf_conn_abort(c->conn);
		}
	}
	dispatch_tick(f);
	front_kick(f);
	weftd_rl_flush(&f->rl, now, false);
	weftd_rl_flush(&f->slow_rl, now, false);
	if (LIST_EMPTY(&f->clients))
		wf_timer_stop(t);
}

static void
on_drain(wf_conn *conn, void *arg)
{
	struct client *c = arg;

	(void)conn;
	out_update(c, wf_loop_now(c->front->loop));
}

/* --- connections --------------------------------------------------------- */

/* The server had the address at accept: no getpeername() per client. */
static void
set_peer(struct client *c, const struct wf_addr *peer)
{
	const struct sockaddr_storage *ss = &peer->ss;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

		c->peer_family = AF_INET;
		c->peer_port = ntohs(in->sin_port);
		memcpy(c->peer_addr, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

		c->peer_family = AF_INET6;
		c->peer_port = ntohs(in6->sin6_port);
		memcpy(c->peer_addr, &in6->sin6_addr, 16);
	}
}

static void
on_open(wf_conn *conn, const struct wf_addr *peer, void *arg)
{
	struct weftd *d = arg;
	struct front *f = front_of(d, wf_conn_loop(conn));
	struct client *c = f ? calloc(1, sizeof(*c)) : NULL;
	unsigned home;
	int li;

	if (c == NULL) {
		/* on_close sees no client (arg NULL) and does nothing. */
		wf_conn_set_arg(conn, NULL);
		weftd_log(LOG_ERR, "out of memory for a connection");
		wf_conn_abort(conn);
		return;
	}
	wf_conn_set_arg(conn, c);
	atomic_init(&c->refs, 1);
	c->front = f;
	c->conn = conn;
	li = wf_conn_listener(conn);
	home = li >= 0 && li < MAX_ADDRS ? atomic_load(&d->lmap[li]) : 0;
	c->home_slot = home ? (home & 0xff) - 1 : MAX_POOLS;
	c->home_serial = home >> 8;
	set_peer(c, peer);
	/* Answers owed over the client's share: it does not read them. */
	wf_conn_set_limits(conn, 0, READ_CHUNK, f->max_client + f->max_frame +
	    WF_FRAME_HDR);
	LIST_INSERT_HEAD(&f->clients, c, link);
	/* The deadlines' timer runs while the loop has clients. */
	if (f->tick || wf_timer_new(f->loop, &f->tick, on_tick, f) == 0)
		if (!wf_timer_active(f->tick))
			(void)wf_timer_start(f->tick, TICK_MS, TICK_MS);
	atomic_fetch_add(&d->clients, 1);
	if (f->starved)
		stop_reading(c, STOP_BUDGET);
	if (atomic_load(&d->draining))
		wf_conn_shutdown_read(conn);
}

static void
on_close(wf_conn *conn, enum wf_close_reason why, int err, void *arg)
{
	struct client *c = arg;
	struct front *f;
	struct job *j;

	(void)conn;
	(void)err;
	if (c == NULL)
		return;
	f = c->front;
	if (why == WF_CLOSE_EVICTED)
		count_close(c, CLOSE_EVICTED, NULL);
	else if (why == WF_CLOSE_TIMEOUT && !c->discard && !c->eof)
		count_close(c, CLOSE_IDLE, NULL);
	c->conn = NULL;
	atomic_store(&c->gone, true);
	LIST_REMOVE(c, link);
	while ((j = c->pending) != NULL) {
		c->pending = j->next;
		job_free(j);
	}
	drop_partial(c);
	set_lib_in(c, 0);
	out_update(c, 0);
	if (atomic_fetch_sub(&f->d->clients, 1) == 1 &&
	    atomic_load(&f->d->draining))
		(void)wf_loop_post(f->d->main, weftd_drained, f->d);
	client_unref(c);
}

/*
 * Everything the client sent has been read (it half-closed, or weftd
 * drains): answer every request in it, then close.
 */
static void
on_eof(wf_conn *conn, void *arg)
{
	struct client *c = arg;

	(void)conn;
	c->eof = true;
	c->frame_t0 = 0;
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

/*
 * Refusals happen on whichever loop accepts: one rate limit for all of
 * them, under a lock (they are rare unless an attack is on, and then most
 * are not logged).
 */
static void
on_refuse(const struct wf_addr *peer, enum wf_refuse_reason why, void *arg)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct weftd_rl rl = { .what = "refused connections",
	    .burst = LOG_BURST, .interval_ms = LOG_PER_MS };
	struct weftd *d = arg;
	enum weftd_close r = why == WF_REFUSE_PER_ADDR ? REFUSED_PER_IP :
	    REFUSED_FULL;
	struct timespec ts;
	char name[128];
	bool log;

	atomic_fetch_add_explicit(&d->closed[r], 1, memory_order_relaxed);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&lock);
	log = weftd_rl_allow(&rl, (uint64_t)ts.tv_sec * 1000 +
	    (uint64_t)ts.tv_nsec / 1000000);
	pthread_mutex_unlock(&lock);
	if (log)
		weftd_log(LOG_INFO, "client %s: %s", wf_addr_format(peer, name,
		    sizeof(name)), r == REFUSED_PER_IP ? "over "
		    "max_connections_per_ip; closed" : "over max_connections "
		    "with nothing to evict; closed");
}

static const struct wf_conn_cbs client_cbs = {
	.on_data = on_data,
	.on_close = on_close,
	.on_eof = on_eof,
	.on_drain = on_drain,
};

/* The limits of d->cfg that the IO threads copy (and a reload changes). */
struct limits {
	struct front *f;
	uint64_t max_client, frame_ms, send_ms;
};

static void
take_limits(void *arg)
{
	struct limits *l = arg;

	l->f->max_client = l->max_client;
	l->f->frame_ms = l->frame_ms;
	l->f->send_ms = l->send_ms;
	free(l);
}

void
front_apply(struct weftd *d)
{
	struct limits *l;
	unsigned i;

	atomic_store(&d->budget_max, d->cfg.max_buffered);
	for (i = 0; i < d->nfronts; i++) {
		if ((l = malloc(sizeof(*l))) == NULL)
			continue; /* this loop keeps its limits */
		l->f = &d->fronts[i];
		l->max_client = d->cfg.max_buffered_per_client;
		l->frame_ms = d->cfg.frame_timeout_ms;
		l->send_ms = d->cfg.send_timeout_ms;
		if (wf_loop_post(d->fronts[i].loop, take_limits, l) < 0)
			free(l);
	}
}

int
front_start(struct weftd *d)
{
	const struct wf_listen_opts lo = {
		.size = sizeof(lo),
		.unix_mode = d->cfg.unix_socket.mode,
		.unix_chown = d->cfg.unix_socket.uid != (uid_t)-1 ||
		    d->cfg.unix_socket.gid != (gid_t)-1,
		.unix_uid = d->cfg.unix_socket.uid,
		.unix_gid = d->cfg.unix_socket.gid,
	};
	struct wf_server_opts o = {
		.size = sizeof(o),
		.threads = d->cfg.io_threads,
		.max_conns = d->cfg.max_connections,
		.max_conns_per_addr = d->cfg.max_connections_per_ip,
		.evict = 1,
		.idle_timeout_ms = d->cfg.idle_timeout_ms,
		.max_in = READ_CHUNK,
		.cbs = &client_cbs,
		.arg = d,
		.on_open = on_open,
		.on_idle = on_idle,
		.on_refuse = on_refuse,
		.listen = &lo,
	};
	wf_loop_group *g;
	size_t size;
	unsigned i;
	int rc;

	atomic_store(&d->budget_max, d->cfg.max_buffered);
	d->nfronts = d->cfg.io_threads;
	/* Aligned, so what different threads write shares no cache line. */
	size = (d->nfronts * sizeof(*d->fronts) + 63) / 64 * 64;
	if ((d->fronts = aligned_alloc(_Alignof(struct front), size)) == NULL)
		return -ENOMEM;
	memset(d->fronts, 0, size);
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
		f->max_client = d->cfg.max_buffered_per_client;
		f->frame_ms = d->cfg.frame_timeout_ms;
		f->send_ms = d->cfg.send_timeout_ms;
		f->rl.burst = LOG_BURST;
		f->rl.interval_ms = LOG_PER_MS;
		snprintf(f->rl.what, sizeof(f->rl.what), "client lines on IO "
		    "thread %u", i);
		f->slow_rl.burst = LOG_BURST;
		f->slow_rl.interval_ms = LOG_PER_MS;
		snprintf(f->slow_rl.what, sizeof(f->slow_rl.what), "slow "
		    "request lines on IO thread %u", i);
	}
	return 0;
}

/* On each IO loop: read no more requests; close what owes nothing. */
static void
drain_loop(void *arg)
{
	struct front *f = arg;
	struct client *c, *next;

	/* Each is read to its end: every request in it is answered. */
	for (c = LIST_FIRST(&f->clients); c; c = next) {
		next = LIST_NEXT(c, link);
		if (c->conn)
			wf_conn_shutdown_read(c->conn);
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
	for (i = 0; i < d->nfronts; i++) {
		/* The loop is gone: its timer with it. */
		d->fronts[i].tick = NULL;
		d->fronts[i].loop = NULL;
		free(d->fronts[i].view);
		d->fronts[i].view = NULL;
	}
}
