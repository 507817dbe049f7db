/*
 * Dispatch, on the main loop: requests go to a worker with room (fewer
 * than `pipeline` requests outstanding; round-robin among them), else to a
 * bounded FIFO queue, else straight back as `overloaded`.
 *
 * A worker answers its requests in order, so its answers match its
 * outstanding list front to back. Anything else it writes (an answer with
 * nothing outstanding, a malformed header, one over max_frame) retires it.
 *
 * Answers are batched per IO loop: the first one of an iteration posts a
 * task to this loop, which runs after the iteration's IO and hands each IO
 * loop its whole batch in one post (one eventfd wake-up at most).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"

struct dispatch {
	struct weftd *d;
	struct job *qhead, **qtail;  /* waiting for a worker, oldest first */
	unsigned qlen;
	wf_timer *qtimer;            /* request_timeout of the oldest */
	struct worker *ahead, *atail; /* workers with room */
	unsigned running;            /* jobs on workers */
	bool replies_posted, closed;
};

static void assign(struct dispatch *ds, struct worker *w, struct job *j);

/* --- answers -------------------------------------------------------------- */

static void
free_list(struct job *j)
{
	struct job *next;

	for (; j; j = next) {
		next = j->next;
		job_free(j);
	}
}

static void
post_replies(void *arg)
{
	struct weftd *d = arg;
	struct dispatch *ds = d->dispatch;
	unsigned i;

	ds->replies_posted = false;
	for (i = 0; i < d->nfronts; i++) {
		struct front *f = &d->fronts[i];
		struct job *list = f->replies;

		if (list == NULL)
			continue;
		f->replies = NULL;
		f->replies_tail = &f->replies;
		if (ds->closed || f->loop == NULL ||
		    wf_loop_post(f->loop, front_deliver, list) < 0)
			free_list(list);
	}
}

static void
reply(struct dispatch *ds, struct job *j)
{
	struct front *f = j->client->front;

	atomic_fetch_add_explicit(&ds->d->served, 1, memory_order_relaxed);
	if (ds->closed || atomic_load_explicit(&j->client->gone,
	    memory_order_relaxed)) {
		job_free(j);
		return;
	}
	j->next = NULL;
	*f->replies_tail = j;
	f->replies_tail = &j->next;
	if (!ds->replies_posted &&
	    wf_loop_post(ds->d->main, post_replies, ds->d) == 0)
		ds->replies_posted = true;
}

void
dispatch_reply_error(struct weftd *d, struct job *j, uint16_t status,
    const char *msg)
{
	reply(d->dispatch, job_error(j, status, msg));
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

/* --- the queue ------------------------------------------------------------ */

/* t fires when the oldest job's request_timeout runs out (none: stopped). */
static void
arm_for(struct dispatch *ds, wf_timer *t, const struct job *oldest)
{
	uint64_t now = wf_loop_now(ds->d->main), due;

	if (oldest == NULL) {
		wf_timer_stop(t);
		return;
	}
	due = oldest->t0 + ds->d->cfg.handler.request_timeout_ms;
	(void)wf_timer_start(t, due > now ? due - now : 0, 0);
}

static void
arm_queue_timer(struct dispatch *ds)
{
	arm_for(ds, ds->qtimer, ds->qhead);
}

static struct job *
dequeue(struct dispatch *ds)
{
	struct job *j = ds->qhead;

	if (j == NULL)
		return NULL;
	if ((ds->qhead = j->next) == NULL)
		ds->qtail = &ds->qhead;
	ds->qlen--;
	return j;
}

/*
 * Requests wait at most request_timeout for a worker, too. Lazy like the
 * workers' deadline: dequeuing leaves the timer alone.
 */
static void
on_queue_timeout(wf_timer *t, void *arg)
{
	struct dispatch *ds = arg;
	uint64_t now = wf_loop_now(ds->d->main);
	uint64_t limit = ds->d->cfg.handler.request_timeout_ms;

	(void)t;
	while (ds->qhead && ds->qhead->t0 + limit <= now)
		dispatch_reply_error(ds->d, dequeue(ds), WEFTD_TIMEOUT,
		    "timeout: no worker was free in time");
	arm_queue_timer(ds);
}

/* --- workers with room ---------------------------------------------------- */

static void
avail_add(struct dispatch *ds, struct worker *w)
{
	if (w->avail || w->conn == NULL || w->leaving || w->probation)
		return;
	w->avail = true;
	w->anext = NULL;
	w->aprev = ds->atail;
	if (ds->atail)
		ds->atail->anext = w;
	else
		ds->ahead = w;
	ds->atail = w;
}

static void
avail_remove(struct dispatch *ds, struct worker *w)
{
	if (!w->avail)
		return;
	w->avail = false;
	if (w->aprev)
		w->aprev->anext = w->anext;
	else
		ds->ahead = w->anext;
	if (w->anext)
		w->anext->aprev = w->aprev;
	else
		ds->atail = w->aprev;
	w->anext = w->aprev = NULL;
}

/* Give queued requests to w while it has room. */
static void
pull(struct dispatch *ds, struct worker *w)
{
	struct job *j;

	if (w->leaving || w->probation)
		return;
	while (w->conn && w->njobs < ds->d->cfg.handler.pipeline &&
	    (j = dequeue(ds)) != NULL) {
		if (atomic_load(&j->client->gone))
			job_free(j);
		else
			assign(ds, w, j);
	}
	if (w->conn && w->njobs < ds->d->cfg.handler.pipeline)
		avail_add(ds, w);
}

static void
arm_worker_timer(struct dispatch *ds, struct worker *w)
{
	arm_for(ds, w->timer, w->head);
}

static void
assign(struct dispatch *ds, struct worker *w, struct job *j)
{
	int rc;

	j->t0 = wf_loop_now(ds->d->main);
	j->next = NULL;
	*w->tail = j;
	w->tail = &j->next;
	w->assigned++;
	if (w->njobs++ == 0)
		arm_worker_timer(ds, w);
	ds->running++;
	avail_remove(ds, w);
	if (w->njobs < ds->d->cfg.handler.pipeline)
		avail_add(ds, w); /* to the tail: round-robin */
	/* A tag the answer must bring back; never 0, which is untagged. */
	if (w->tagged && ++w->last_tag == 0)
		w->last_tag = 1;
	j->tag = w->tagged ? w->last_tag : 0;
	j->frame[6] = (unsigned char)(j->tag >> 8);
	j->frame[7] = (unsigned char)j->tag;
	if ((rc = wf_conn_send(w->conn, j->frame, WF_FRAME_HDR + job_len(j))) < 0)
		pool_retire(w, rc == -ENOBUFS ? "does not read its requests" :
		    "its socket failed");
	else
		charge_socket(w, &w->out_held, wf_conn_queued(w->conn));
}

static struct job *
pop(struct dispatch *ds, struct worker *w)
{
	struct job *j = w->head;

	if ((w->head = j->next) == NULL)
		w->tail = &w->head;
	w->njobs--;
	ds->running--;
	return j;
}

/* --- worker sockets ------------------------------------------------------- */

/* Answers, front to back; anything out of protocol retires the worker. */
static void
on_worker_data(wf_conn *conn, wf_buf *in, void *arg)
{
	struct worker *w = arg;
	struct dispatch *ds = w->d->dispatch;
	struct wf_frame f;
	struct job *j;
	int rc;

	while ((rc = wf_frame_decode_tagged(in, w->d->cfg.max_frame, &f)) == 1) {
		if (!w->tagged && f.flags == WF_TAGS_HELLO && f.len == 0 &&
		    f.status == 0) {
			w->tagged = true; /* from its next request on */
			wf_buf_consume(in, WF_FRAME_HDR);
			continue;
		}
		if (w->head == NULL)
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
			pool_retire(w, "answered out of turn (tag)");
			return;
		}
		j = pop(ds, w);
		if (job_set_response(&j, f.status, f.payload, f.len) < 0)
			dispatch_reply_error(w->d, j, WEFTD_WORKER_FAILED,
			    "worker failed: out of memory for its answer");
		else
			reply(ds, j);
		wf_buf_consume(in, WF_FRAME_HDR + f.len);
		w->served++;
	}
	charge_socket(w, &w->lib_in, wf_buf_len(in));
	charge_socket(w, &w->out_held, wf_conn_queued(conn));
	if (rc < 0) {
		pool_retire(w, "answer over max_frame");
		return;
	}
	if (w->head == NULL && wf_buf_len(in)) {
		pool_retire(w, "wrote with no request outstanding");
		return;
	}
	if (w->leaving && w->head == NULL) {
		pool_retire(w, "reload");
		return;
	}
	pull(ds, w);
}

static void
on_worker_close(wf_conn *conn, enum wf_close_reason why, int err, void *arg)
{
	struct worker *w = arg;

	(void)conn;
	if (w->conn == NULL)
		return; /* we closed it: retired already */
	w->conn = NULL;
	w->eof = why == WF_CLOSE_PEER;
	pool_retire(w, why == WF_CLOSE_PEER ? "closed its socket" :
	    why == WF_CLOSE_LIMIT ? "answer over max_frame" :
	    err == ECONNRESET ? "reset its socket" : "its socket failed");
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
	char msg[64];

	(void)t;
	if (w->head == NULL ||
	    w->head->t0 + w->d->cfg.handler.request_timeout_ms >
	    wf_loop_now(w->d->main)) {
		arm_worker_timer(w->d->dispatch, w); /* the next deadline */
		return;
	}
	snprintf(msg, sizeof(msg), "timeout: no answer within %llu ms",
	    (unsigned long long)w->d->cfg.handler.request_timeout_ms);
	dispatch_reply_error(w->d, pop(w->d->dispatch, w), WEFTD_TIMEOUT, msg);
	weftd_log(LOG_WARNING, "worker %d: request timed out; replacing it",
	    (int)w->pid);
	pool_retire(w, "request timeout");
}

int
dispatch_worker_up(struct worker *w, int sock)
{
	struct weftd *d = w->d;
	int rc;

	w->tail = &w->head;
	if ((rc = wf_timer_new(d->main, &w->timer, on_worker_timeout, w)) < 0) {
		close(sock);
		return rc;
	}
	if ((rc = wf_conn_adopt(d->main, &w->conn, sock, &worker_cbs, w)) < 0) {
		w->conn = NULL;
		return rc;
	}
	/*
	 * The high-water callback is not used. An answer is at most a frame;
	 * the requests weftd sends it at most `pipeline` frames.
	 */
	wf_conn_set_limits(w->conn, 0, (size_t)d->cfg.max_frame + WF_FRAME_HDR,
	    (size_t)d->cfg.handler.pipeline * (d->cfg.max_frame + WF_FRAME_HDR));
	pull(d->dispatch, w);
	return 0;
}

void
dispatch_worker_quiesce(struct worker *w)
{
	avail_remove(w->d->dispatch, w);
}

void
dispatch_worker_ready(struct worker *w)
{
	pull(w->d->dispatch, w);
}

/* Every request still on w fails; its socket closes. */
void
dispatch_worker_down(struct worker *w)
{
	struct dispatch *ds = w->d->dispatch;
	wf_conn *conn = w->conn;

	w->conn = NULL;
	avail_remove(ds, w);
	if (w->timer) {
		wf_timer_free(w->timer);
		w->timer = NULL;
	}
	while (w->head)
		dispatch_reply_error(w->d, pop(ds, w), WEFTD_WORKER_FAILED,
		    "worker failed");
	if (conn)
		wf_conn_abort(conn);
	charge_socket(w, &w->lib_in, 0);
	charge_socket(w, &w->out_held, 0);
}

/* --- requests ------------------------------------------------------------- */

static void
submit(struct dispatch *ds, struct job *j)
{
	char msg[64];

	if (atomic_load_explicit(&j->client->gone, memory_order_relaxed) ||
	    ds->closed) {
		job_free(j);
	} else if (ds->ahead) {
		assign(ds, ds->ahead, j);
	} else if (ds->qlen < ds->d->cfg.handler.queue_limit) {
		j->t0 = wf_loop_now(ds->d->main);
		j->next = NULL;
		*ds->qtail = j;
		ds->qtail = &j->next;
		if (ds->qlen++ == 0)
			arm_queue_timer(ds);
	} else {
		snprintf(msg, sizeof(msg), "overloaded: %u requests queued",
		    ds->qlen);
		dispatch_reply_error(ds->d, j, WEFTD_OVERLOADED, msg);
	}
}

void
dispatch_submit(void *arg)
{
	struct job *j = arg, *next;
	struct weftd *d = j->client->front->d;

	for (; j; j = next) {
		next = j->next;
		submit(d->dispatch, j);
	}
}

unsigned
dispatch_pending(const struct weftd *d)
{
	return d->dispatch->qlen + d->dispatch->running;
}

/* shutdown_timeout: whatever is still waiting or running is answered. */
void
dispatch_abandon(struct weftd *d)
{
	struct dispatch *ds = d->dispatch;
	struct worker *w;
	struct job *j;

	pool_no_respawn(d);
	while ((j = dequeue(ds)) != NULL)
		dispatch_reply_error(d, j, WEFTD_SHUTTING_DOWN, "shutting down");
	wf_timer_stop(ds->qtimer);
	for (w = pool_first(d); w; w = w->next) {
		while (w->head)
			dispatch_reply_error(d, pop(ds, w), WEFTD_SHUTTING_DOWN,
			    "shutting down");
		if (!w->retired)
			pool_retire(w, "shutdown timeout");
	}
}

int
dispatch_new(struct weftd *d)
{
	struct dispatch *ds = calloc(1, sizeof(*ds));

	if (ds == NULL)
		return -ENOMEM;
	ds->d = d;
	ds->qtail = &ds->qhead;
	d->dispatch = ds;
	return wf_timer_new(d->main, &ds->qtimer, on_queue_timeout, ds);
}

/*
 * After the IO threads and workers are gone: from here on every request
 * or answer still in a task queue is dropped.
 */
void
dispatch_close(struct weftd *d)
{
	struct dispatch *ds = d->dispatch;
	unsigned i;

	if (ds == NULL)
		return;
	ds->closed = true;
	free_list(ds->qhead);
	ds->qhead = NULL;
	ds->qtail = &ds->qhead;
	ds->qlen = 0;
	if (ds->qtimer)
		wf_timer_free(ds->qtimer);
	ds->qtimer = NULL;
	for (i = 0; i < d->nfronts; i++) {
		free_list(d->fronts[i].replies);
		d->fronts[i].replies = NULL;
		d->fronts[i].replies_tail = &d->fronts[i].replies;
	}
}

void
dispatch_free(struct weftd *d)
{
	free(d->dispatch);
	d->dispatch = NULL;
}
