/*
 * A worker's socket, on the IO loop that owns it: requests written in one
 * writev per flush, answers matched to them, the request deadline, and the
 * posts that carry a worker's life between this loop and the main thread.
 *
 * A worker answers its requests in order, so its answers match its
 * outstanding list front to back. Anything else it writes (an answer with
 * nothing outstanding, a malformed header, one over max_frame) takes it out
 * of service. Its loop then answers the request at its head with the error,
 * sends the ones behind to other workers, and asks
 * the main thread to retire it; the main thread's own decisions (it
 * exited, a reload, shutdown) come as posts the other way. A worker is
 * reference-counted for those posts: pool.c holds one reference, its loop
 * one while it has it, and each post on its way one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lane.h"
#include "log.h"
#include "spawn.h"

#define IOV_BATCH 64
#define MAX_RESENDS 3
#define EXIT_READ_MS 500 /* it exited: its last answers, then its end */
#define SPARE_MS 200

/* --- workers' lifetimes --------------------------------------------------- */

static void
worker_ref(struct worker *w)
{
	atomic_fetch_add_explicit(&w->refs, 1, memory_order_relaxed);
}

void
dispatch_worker_new(struct worker *w)
{
	atomic_init(&w->refs, 1);
	atomic_fetch_add(&w->pool->ds->nworkers, 1);
}

void
worker_unref(struct worker *w)
{
	struct dispatch *ds = w->pool->ds;

	/* The pool outlives its workers: it waits for this count (pool.c). */
	if (atomic_fetch_sub(&w->refs, 1) == 1) {
		if (w->statm >= 0)
			close(w->statm);
		free(w);
		atomic_fetch_sub(&ds->nworkers, 1);
	}
}

/* Post fn(w) to loop (NULL: joined already), holding a reference for it. */
static void
post_worker(wf_loop *loop, wf_task_fn *fn, struct worker *w)
{
	worker_ref(w);
	if (loop == NULL || wf_loop_post(loop, fn, w) < 0)
		worker_unref(w);
}

/* What w's connection buffers, in (a partial answer) or out, charged. */
static void
charge_socket(struct worker *w, uint64_t *held, uint64_t now)
{
	if (now > *held)
		budget_charge(w->d, now - *held);
	else if (now < *held)
		budget_release(w->d, *held - now);
	*held = now;
}

/* --- a loop's workers ----------------------------------------------------- */

static bool
usable(const struct worker *w)
{
	return w->conn && !w->dead && w->io_ready && !w->quiet;
}

/* On the idle list exactly when usable with nothing outstanding. */
static void
idle_update(struct lane *l, struct worker *w)
{
	bool idle = usable(w) && w->njobs == 0;

	l->kicked = true; /* its load changed: the next flush publishes it */
	if (idle == w->idle)
		return;
	w->idle = idle;
	if (idle) {
		LIST_INSERT_HEAD(&l->idle, w, ilink);
		l->nidle++;
		return;
	}
	LIST_REMOVE(w, ilink);
	l->nidle--;
}

/*
 * How loaded a worker is, smaller is better: its requests outstanding,
 * then, between equals, the later its oldest one began the better (one
 * that has been stuck on a request for long is likely to stay so).
 */
uint64_t
worker_load(const struct worker *w)
{
	uint64_t t0 = w->head ? w->head->t0 & KEY_T0 : KEY_T0;

	return (uint64_t)w->njobs << 48 | (KEY_T0 - t0);
}

/*
 * How many requests a busy worker may have outstanding. pipeline = N: N.
 * auto: its share of every request in weftd (they wait that long anyway,
 * in the queue or behind each other), from PIPE_AUTO to PIPE_MAX. A
 * backlog then reaches the workers in batches, each of which costs one
 * wake-up of the worker and one write and read of weftd, where a fixed 16
 * left most of it in the queue (at 100 clients x 16 deep, 2.2 against 1.2
 * us of CPU per request); a light load still spreads over idle workers
 * first, one request each.
 */
static unsigned
depth(const struct lane *l)
{
	unsigned n = l->nworkers ? l->nworkers : 1, share;

	if (l->pipeline)
		return l->pipeline;
	share = (atomic_load_explicit(&l->ds->pending, memory_order_relaxed) +
	    n - 1) / n;
	return share < PIPE_AUTO ? PIPE_AUTO : share > PIPE_MAX ? PIPE_MAX :
	    share;
}

/*
 * The least-loaded worker that can take size more bytes, or NULL. A busy
 * worker qualifies only while its oldest request is younger than STUCK_MS:
 * a request is never sent to wait behind one that already takes long (it
 * waits in the queue for the first worker that frees instead).
 */
struct worker *
lane_best(struct lane *l, uint64_t size)
{
	uint64_t k, bk = NO_ROOM, now = wf_loop_now(l->f->loop);
	struct worker *w, *best = NULL;
	unsigned cap;

	if (!LIST_EMPTY(&l->idle))
		return LIST_FIRST(&l->idle);
	cap = depth(l);
	LIST_FOREACH(w, &l->workers, llink)
		if (usable(w) && w->njobs < cap &&
		    w->bytes + size <= PIPE_BYTES &&
		    w->head && w->head->t0 + STUCK_MS > now &&
		    (k = worker_load(w)) < bk) {
			best = w;
			bk = k;
		}
	return best;
}

static void
arm_timer(struct lane *l, struct worker *w)
{
	uint64_t now = wf_loop_now(l->f->loop), due;

	if (w->head == NULL) {
		wf_timer_stop(w->timer);
		return;
	}
	due = w->head->t0 + l->request_ms;
	if (l->slow_ms && !w->head->slow && w->head->t0 + l->slow_ms < due)
		due = w->head->t0 + l->slow_ms;
	(void)wf_timer_start(w->timer, due > now ? due - now : 0, 0);
}

/* j goes to w; it is written by this iteration's flush. */
void
worker_assign(struct lane *l, struct worker *w, struct job *j)
{
	j->t0 = wf_loop_now(l->f->loop);
	j->next = NULL;
	*w->tail = j;
	w->tail = &j->next;
	if (w->unsent == NULL)
		w->unsent = j;
	atomic_fetch_add_explicit(&w->assigned, 1, memory_order_relaxed);
	w->bytes += frame_size(j);
	if (w->njobs++ == 0) {
		atomic_store_explicit(&w->head_t0, j->t0, memory_order_relaxed);
		arm_timer(l, w);
	}
	idle_update(l, w);
	/* A tag the answer must bring back; never 0, which is untagged. */
	if (w->tagged && ++w->last_tag == 0)
		w->last_tag = 1;
	j->tag = w->tagged ? w->last_tag : 0;
	j->frame[6] = (unsigned char)(j->tag >> 8);
	j->frame[7] = (unsigned char)j->tag;
	if (!w->in_write) {
		w->in_write = true;
		w->wnext = l->to_write;
		l->to_write = w;
	}
	lane_kick(l);
}

static void slow_start(struct lane *l, struct worker *w, struct job *j,
    uint64_t now);
static void slow_done(struct worker *w, const struct job *j, uint64_t now);
static void ask_recycle(struct worker *w, int reason);

static struct job *
pop(struct worker *w)
{
	struct job *j = w->head;
	struct lane *l = w->lane;
	uint64_t now = wf_loop_now(l->f->loop);

	if ((w->head = j->next) == NULL)
		w->tail = &w->head;
	w->njobs--;
	w->bytes -= frame_size(j);
	atomic_store_explicit(&w->head_t0, w->head ? w->head->t0 : 0,
	    memory_order_relaxed);
	if (w->head == NULL)
		atomic_store_explicit(&w->idle_since, now, memory_order_relaxed);
	/*
	 * The timer was set for j's slow_request, which is not later than the
	 * new head's (it came first), unless j was slow already: then it is
	 * set for j's request_timeout, and the new head's comes sooner.
	 */
	else if (l->slow_ms && j->slow)
		arm_timer(l, w);
	/* One answered before its timer could say: slow all the same. */
	if (!j->slow && l->slow_ms && now - j->t0 >= l->slow_ms)
		slow_start(l, w, j, now);
	if (j->slow)
		slow_done(w, j, now);
	return j;
}

/* slow_request: the client's address, for the log. */
static const char *
peer_name(const struct client *c, char *buf, size_t len)
{
	if (c->peer_family == 0)
		return "unix";
	if (inet_ntop(c->peer_family, c->peer_addr, buf, (socklen_t)len) == NULL)
		return "?";
	snprintf(buf + strlen(buf), len - strlen(buf), " port %u", c->peer_port);
	return buf;
}

/* slow_request: the head of w has run that long; logged and counted once. */
static void
slow_start(struct lane *l, struct worker *w, struct job *j, uint64_t now)
{
	char peer[INET6_ADDRSTRLEN + 16];

	j->slow = true;
	atomic_store_explicit(&l->st.slow, atomic_load_explicit(&l->st.slow,
	    memory_order_relaxed) + 1, memory_order_relaxed);
	if (weftd_rl_allow(&l->f->slow_rl, now))
		weftd_log(LOG_WARNING, "%sslow request: worker %d, client %s, "
		    "%u bytes, running for %llu ms", w->pool->tag, (int)w->pid,
		    peer_name(j->client, peer, sizeof(peer)), job_len(j),
		    (unsigned long long)(now - j->t0));
}

static void
slow_done(struct worker *w, const struct job *j, uint64_t now)
{
	if (weftd_rl_allow(&w->lane->f->slow_rl, now))
		weftd_log(LOG_NOTICE, "%sslow request done: worker %d, after "
		    "%llu ms", w->pool->tag, (int)w->pid,
		    (unsigned long long)(now - j->t0));
}

/* Recycling: it is replaced, its successor first (main thread). Once. */
static void
ask_recycle(struct worker *w, int reason)
{
	w->recycle_asked = true;
	w->recycle_reason = reason;
	post_worker(w->d->main, pool_recycle_task, w);
}

/* A retire request to the main thread, once. */
static void
ask_retire(struct worker *w, const char *why, bool eof)
{
	if (w->retire_asked)
		return;
	w->retire_asked = true;
	w->io_why = why;
	w->io_eof = eof;
	post_worker(w->d->main, pool_retire_task, w);
}

/*
 * Out of service: the request at its head gets status (the worker had it),
 * the ones behind it, which it had not begun (it works in order), go
 * elsewhere: up to MAX_RESENDS times each (those never written, freely),
 * so a request that was sent to a handler that then misbehaved is not
 * run without end. Its socket is no longer read. It is closed when the main thread has
 * retired the worker (worker_down_task): so the worker, which exits when
 * its socket closes, is not reaped before it is retired, for a reason.
 */
void
worker_take_down(struct lane *l, struct worker *w, uint16_t status,
    const char *msg)
{
	struct job *list = w->head, *unsent = w->unsent, *j, *next;
	bool written = true;

	/* Half an answer is in its head: that request is spent. */
	if (w->in_place) {
		w->in_place = false;
		if (w->conn)
			(void)wf_conn_read_into(w->conn, NULL, 0, NULL);
		if (status == 0) {
			status = WEFTD_WORKER_FAILED;
			msg = "worker failed";
		}
	}
	/* Past shutdown_timeout, whatever fails it, everything is over. */
	if (status != 0 && atomic_load(&l->ds->abandoned)) {
		status = WEFTD_SHUTTING_DOWN;
		msg = "shutting down";
	}
	w->dead = true;
	idle_update(l, w);
	if (w->in_write) {
		struct worker **pp = &l->to_write;

		while (*pp != w)
			pp = &(*pp)->wnext;
		*pp = w->wnext;
		w->in_write = false;
	}
	w->head = w->unsent = NULL;
	w->tail = &w->head;
	w->njobs = 0;
	w->bytes = 0;
	atomic_store_explicit(&w->head_t0, 0, memory_order_relaxed);
	if (w->timer && !w->down_pending)
		wf_timer_stop(w->timer);
	/* Last: a pause that fails tears the connection down at once. */
	if (w->conn)
		wf_conn_pause(w->conn);
	for (j = list; j; j = next) {
		next = j->next;
		if (j == unsent)
			written = false;
		if (j == list && written && status != 0)
			lane_answer_error(l, j, status, msg);
		else if (!written)
			lane_place(l, j, true);
		else if (j->resends < MAX_RESENDS) {
			j->resends++;
			lane_place(l, j, true);
		} else
			lane_answer_error(l, j, WEFTD_WORKER_FAILED, "worker failed");
	}
}

static void
close_socket(struct worker *w)
{
	wf_conn *conn = w->conn;

	w->conn = NULL;
	if (conn)
		wf_conn_abort(conn);
	charge_socket(w, &w->lib_in, 0);
	charge_socket(w, &w->out_held, 0);
}

static void
fail(struct worker *w, const char *why, bool eof)
{
	/*
	 * It ended within SPARE_MS of its last answer: most likely a handler
	 * that exits after its n-th request, by design, and never began the
	 * request now at its head. That one is sent again too, if it was
	 * never sent before: a request that kills its worker costs two. Not
	 * if a part of its answer came (buffered, or read in place): then it
	 * had begun.
	 */
	bool spare = eof && w->head && w->head->resends == 0 &&
	    w->lib_in == 0 && !w->in_place &&
	    wf_loop_now(w->lane->f->loop) - w->answered_ms < SPARE_MS;

	worker_take_down(w->lane, w, spare ? 0 : WEFTD_WORKER_FAILED,
	    "worker failed");
	ask_retire(w, why, eof);
}

/* Write every worker's new requests: one writev per IOV_BATCH. */
void
lane_write(struct lane *l)
{
	struct iovec iov[IOV_BATCH];
	struct worker *w;
	struct job *j;
	int n, rc;

	while ((w = l->to_write) != NULL) {
		l->to_write = w->wnext;
		w->in_write = false;
		for (rc = 0; w->conn && w->unsent && rc == 0; ) {
			for (n = 0, j = w->unsent; j && n < IOV_BATCH; j = j->next) {
				iov[n].iov_base = j->frame;
				iov[n++].iov_len = frame_size(j);
			}
			if ((rc = wf_conn_sendv(w->conn, iov, n)) == 0)
				w->unsent = j;
		}
		if (rc < 0)
			fail(w, rc == -ENOBUFS ? "does not read its requests" :
			    "its socket failed", false);
		else if (w->conn)
			charge_socket(w, &w->out_held, wf_conn_queued(w->conn));
	}
}

static void finish_down(struct lane *l, struct worker *w);

/* --- worker sockets ------------------------------------------------------- */

static void answers_done(struct worker *w, wf_conn *conn, size_t in_len,
    int rc);

static void
answered(struct worker *w)
{
	unsigned long n = atomic_fetch_add_explicit(&w->served, 1,
	    memory_order_relaxed) + 1;

	w->answered_ms = wf_loop_now(w->lane->f->loop);
	if (w->recycle_asked)
		return;
	if (w->recycle_after && n >= w->recycle_after)
		ask_recycle(w, RECYCLE_REQUESTS);
	else if (w->max_rss && weftd_rss(w->statm) > (long long)w->max_rss)
		ask_recycle(w, RECYCLE_RSS);
}

static void
on_answer_fill(wf_conn *conn, size_t got, void *arg)
{
	struct worker *w = arg;
	struct job *j;

	/* Charged as it arrives, like a request (inside alloc: no move). */
	job_fill(w->head, WF_FRAME_HDR + w->ans_base + (uint32_t)got);
	if (w->ans_base + got < w->ans_len)
		return;
	w->in_place = false;
	j = pop(w); /* by the request's header, still in place */
	wf_frame_header(j->frame, w->ans_len, w->ans_status, 0);
	lane_answer(w->lane, j);
	answered(w);
	answers_done(w, conn, 0, 0);
}

/*
 * A large answer to the head is read straight into its job, reserved at the
 * answer's size first (the head may move then; nothing else points to it)
 * and charged as it arrives, from the payload on: the request's header
 * stays until the answer is whole. The request's bytes are lost from here on: if the worker fails
 * now, that request gets `worker failed`, it is not sent again.
 */
static bool
answer_in_place(struct worker *w, wf_buf *in, const struct wf_frame *f)
{
	struct job *j = w->head;
	bool last;
	size_t n;

	if (j == NULL || j == w->unsent || f->flags != j->tag)
		return false; /* on_worker_data judges it when it is whole */
	last = w->tail == &j->next;
	n = wf_buf_len(in) - WF_FRAME_HDR;
	if (job_reserve(&j, WF_FRAME_HDR + f->len) < 0)
		return false; /* buffered, then; it may fit later */
	job_fill(j, WF_FRAME_HDR + (uint32_t)n);
	w->head = j;
	if (last)
		w->tail = &j->next;
	memcpy(j->frame + WF_FRAME_HDR, (const char *)wf_buf_peek(in) +
	    WF_FRAME_HDR, n);
	wf_buf_consume(in, WF_FRAME_HDR + n);
	charge_socket(w, &w->lib_in, 0);
	w->in_place = true;
	w->ans_status = f->status;
	w->ans_len = f->len;
	w->ans_base = (uint32_t)n;
	/* Refused only if its input has ended: the answer never will. */
	if (wf_conn_read_into(w->conn, j->frame + WF_FRAME_HDR + n, f->len - n,
	    on_answer_fill) < 0)
		fail(w, "closed its socket inside an answer", true);
	return true;
}

/* Answers, front to back; anything out of protocol fails the worker. */
static void
on_worker_data(wf_conn *conn, wf_buf *in, void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;
	struct wf_frame f;
	struct job *j;
	int rc;

	while ((rc = wf_frame_decode_tagged(in, l->f->max_frame, &f)) == 1) {
		if (!w->tagged && f.flags == WF_TAGS_HELLO && f.len == 0 &&
		    f.status == 0) {
			w->tagged = true; /* from its next request on */
			wf_buf_consume(in, WF_FRAME_HDR);
			continue;
		}
		if (w->head == NULL || w->head == w->unsent)
			break;
		/*
		 * Only the answer to the request at the head may go to its
		 * client: a duplicate or stray answer must not reach the
		 * next one. Untagged requests need flags 0, as ever.
		 */
		if (f.flags != w->head->tag) {
			weftd_log(LOG_WARNING, "worker %d: an answer with tag %u, "
			    "expected %u: not delivered", (int)w->pid, f.flags,
			    w->head->tag);
			fail(w, "answered out of turn (tag)", false);
			return;
		}
		j = pop(w);
		if (job_set_response(&j, f.status, f.payload, f.len) < 0)
			lane_answer_error(l, j, WEFTD_WORKER_FAILED,
			    "worker failed: out of memory for its answer");
		else
			lane_answer(l, j);
		wf_buf_consume(in, WF_FRAME_HDR + f.len);
		answered(w);
	}
	if (rc == 0 && wf_buf_len(in) >= WF_FRAME_HDR && f.len > WHOLE_FRAME &&
	    answer_in_place(w, in, &f))
		return;
	answers_done(w, conn, wf_buf_len(in), rc);
}

/*
 * After the answers read: the socket's charges, and what the worker's
 * state asks for now (rc: the last decode's; in_len: bytes left unread).
 */
static void
answers_done(struct worker *w, wf_conn *conn, size_t in_len, int rc)
{
	struct lane *l = w->lane;

	charge_socket(w, &w->lib_in, in_len);
	charge_socket(w, &w->out_held, wf_conn_queued(conn));
	if (w->down_pending &&
	    (rc < 0 || w->head == NULL || w->head == w->unsent)) {
		finish_down(l, w); /* everything it answered is delivered */
		return;
	}
	if (rc < 0) {
		fail(w, "answer over max_frame", false);
		return;
	}
	if ((w->head == NULL || w->head == w->unsent) && in_len) {
		fail(w, "wrote with no request outstanding", false);
		return;
	}
	if (w->quiet && w->head == NULL) {
		worker_take_down(l, w, WEFTD_WORKER_FAILED, "worker failed");
		ask_retire(w, w->leave_why ? w->leave_why : "reload", false);
		return;
	}
	idle_update(l, w);
	lane_kick(l);
}

static void
on_worker_close(wf_conn *conn, enum wf_close_reason why, int err, void *arg)
{
	struct worker *w = arg;

	(void)conn;
	if (w->conn == NULL)
		return; /* we closed it */
	w->conn = NULL;
	/* A reset is how a handler that exits with input unread closes. */
	fail(w, why == WF_CLOSE_PEER ? "closed its socket" :
	    why == WF_CLOSE_LIMIT ? "answer over max_frame" :
	    err == -ECONNRESET ? "reset its socket" : "its socket failed",
	    why == WF_CLOSE_PEER || err == -ECONNRESET);
	if (w->down_pending)
		finish_down(w->lane, w);
}

static void
on_worker_drain(wf_conn *conn, void *arg)
{
	struct worker *w = arg;

	charge_socket(w, &w->out_held, wf_conn_queued(conn));
}

static const struct wf_conn_cbs worker_cbs = {
	.on_data = on_worker_data,
	.on_close = on_worker_close,
	.on_drain = on_worker_drain,
};

/*
 * The deadline is lazy: armed when an idle worker gets a request, left
 * alone when answers come, checked here against the oldest request still
 * outstanding. One timer operation per request, none per answer.
 */
static void
on_worker_timeout(wf_timer *t, void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;
	char msg[64];
	uint64_t now;

	(void)t;
	if (w->down_pending) {
		finish_down(l, w); /* it exited and its socket never ended */
		return;
	}
	now = wf_loop_now(l->f->loop);
	if (w->head && l->slow_ms && !w->head->slow &&
	    w->head->t0 + l->slow_ms <= now)
		slow_start(l, w, w->head, now);
	if (w->head == NULL || w->head->t0 + l->request_ms > now) {
		arm_timer(l, w); /* the next deadline */
		return;
	}
	snprintf(msg, sizeof(msg), "timeout: no answer within %llu ms",
	    (unsigned long long)l->request_ms);
	weftd_log(LOG_WARNING, "worker %d: request timed out; replacing it",
	    (int)w->pid);
	worker_take_down(l, w, WEFTD_TIMEOUT, msg);
	ask_retire(w, "request timeout", false);
}

/* --- the main thread's posts to a worker's loop --------------------------- */

/* The main thread has retired w: off this loop. Drops the loop's ref. */
static void
finish_down(struct lane *l, struct worker *w)
{
	if (!w->dead)
		worker_take_down(l, w, WEFTD_WORKER_FAILED, "worker failed");
	worker_unlink(w);
	lane_kick(l);
	worker_unref(w);
}

void
worker_unlink(struct worker *w)
{
	LIST_REMOVE(w, llink);
	if (w->timer)
		wf_timer_free(w->timer);
	w->timer = NULL;
	close_socket(w);
}

/* The loop takes w's socket; the post's reference becomes the loop's. */
static void
worker_up_task(void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;
	int rc;

	if (l->closed) {
		close(w->sock);
		worker_unref(w);
		return;
	}
	w->tail = &w->head;
	LIST_INSERT_HEAD(&l->workers, w, llink);
	if ((rc = wf_timer_new(l->f->loop, &w->timer, on_worker_timeout,
	    w)) < 0) {
		close(w->sock);
	} else if ((rc = wf_conn_adopt(l->f->loop, &w->conn, w->sock,
	    &worker_cbs, w)) < 0) {
		w->conn = NULL;
	}
	if (rc < 0) {
		weftd_log(LOG_ERR, "worker %d: setting up its socket: %s",
		    (int)w->pid, strerror(-rc));
		w->dead = true;
		ask_retire(w, "set-up failed", false);
		return;
	}
	/* Never more than PIPE_BYTES, or one request, is outstanding. */
	wf_conn_set_limits(w->conn, 0, (size_t)l->f->max_frame + WF_FRAME_HDR,
	    PIPE_BYTES + (size_t)l->f->max_frame + WF_FRAME_HDR);
	idle_update(l, w);
	lane_kick(l);
}

static void
worker_ready_task(void *arg)
{
	struct worker *w = arg;

	w->io_ready = true;
	if (!w->lane->closed) {
		idle_update(w->lane, w);
		lane_kick(w->lane);
	}
	worker_unref(w);
}

static void
worker_quiesce_task(void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;

	w->quiet = true;
	if (!l->closed && !w->dead) {
		idle_update(l, w);
		if (w->head == NULL) {
			worker_take_down(l, w, WEFTD_WORKER_FAILED, "worker failed");
			ask_retire(w, w->leave_why ? w->leave_why : "reload", false);
		}
	}
	worker_unref(w);
}

static void
worker_down_task(void *arg)
{
	struct worker *w = arg;
	struct lane *l = w->lane;

	if (l->closed) {
		worker_unref(w);
		return;
	}
	if (w->down_exited && w->conn && !w->dead) {
		/*
		 * It exited: what it answered first is still in its socket,
		 * ahead of the end of file. Read it; the end (or EXIT_READ_MS)
		 * finishes the worker.
		 */
		w->quiet = true;
		w->down_pending = true;
		idle_update(l, w);
		(void)wf_timer_start(w->timer, EXIT_READ_MS, 0);
	} else {
		finish_down(l, w);
	}
	worker_unref(w);
}

int
dispatch_worker_up(struct worker *w, int sock)
{
	struct dispatch *ds = w->pool->ds;
	struct lane *l = ds->lanes[0];
	unsigned i;
	int rc;

	for (i = 1; i < ds->nlanes; i++)
		if (ds->lanes[i]->placed < l->placed)
			l = ds->lanes[i];
	w->lane = l;
	w->sock = sock;
	w->io_ready = !w->probation;
	worker_ref(w); /* the loop's, from here */
	if ((rc = wf_loop_post(l->f->loop, worker_up_task, w)) < 0) {
		close(sock);
		worker_unref(w);
		return rc;
	}
	w->on_loop = true;
	l->placed++;
	return 0;
}

void
dispatch_worker_quiesce(struct worker *w, const char *why)
{
	w->leave_why = why; /* before the post: its loop reads it after */
	if (w->on_loop)
		post_worker(w->lane->f->loop, worker_quiesce_task, w);
}

void
dispatch_worker_ready(struct worker *w)
{
	if (w->on_loop)
		post_worker(w->lane->f->loop, worker_ready_task, w);
}

void
dispatch_worker_down(struct worker *w)
{
	if (!w->on_loop)
		return;
	w->on_loop = false;
	w->down_exited = w->exited;
	w->lane->placed--;
	post_worker(w->lane->f->loop, worker_down_task, w);
}
