/*
 * The server. Each IO loop keeps its connections on a list ordered by last
 * activity: activity moves a connection to the tail (O(1)), and one timer
 * per loop, armed for the head's deadline, closes whatever has been idle too
 * long. No per-read timer update, no heap. The head is also the first
 * candidate when a full server evicts to make room.
 *
 * Calls that touch listeners run on loop 0 through run_on(), which waits for
 * the result: listeners belong to their loop's thread. On a caller's loop
 * the caller is on that thread already, and run_on() calls directly.
 *
 * A graceful shutdown closes the listeners first, everywhere, so the count
 * of open connections can only fall; the loop whose connection brings it to
 * zero reports, from a timer (never inside a teardown, and a timer, unlike
 * a posted task, is cancelled when the server is freed first).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn_int.h"
#include "peers.h"
#include "weft/server.h"

#define MAX_LISTENERS 64
#define EVICT_SCAN 16 /* idle-list entries looked at for one eviction */

struct ioloop;

/* A listener's accept callback learns its loop and its index. */
struct lslot {
	struct ioloop *l;
	unsigned idx;
};

struct ioloop {
	wf_server *s;
	wf_loop *loop;
	struct wf__conn_owner owner;
	TAILQ_HEAD(, wf_conn) idle_list; /* oldest activity first */
	wf_timer *idle;
	wf_timer *done; /* shutdown: no connection left */
	wf_listener *ls[MAX_LISTENERS]; /* reuseport mode: this loop's own */
	struct lslot slot[MAX_LISTENERS];
};

/* A listener index's counts (any thread, relaxed). */
struct lcount {
	atomic_ullong accepted, refused;
	atomic_uint conns;
};

struct wf_server {
	struct wf_server_opts o;
	struct wf_listen_opts listen;
	struct lcount count[MAX_LISTENERS];
	wf_loop_group *g; /* NULL on a caller's loop */
	unsigned nloops;
	/*
	 * Shutdown: called once (the first caller wins); done_cb and linger
	 * are set before shutting publishes them. done_pending: no report
	 * armed yet; done_armed: a report may still be made (free clears it).
	 */
	atomic_int called, shutting, done_pending, done_armed;
	uint64_t linger_ms;
	wf_server_done_cb *done_cb;
	void *done_arg;
	struct wf__peers *peers; /* max_conns_per_addr only */
	atomic_uint conns;
	unsigned nls; /* indexes ever used: the highest, plus one */
	bool used[MAX_LISTENERS]; /* calling thread: which are open */
	unsigned rr; /* loop 0 only */
	struct ioloop *io;
};

/* --- idle list ---------------------------------------------------------- */


static void
arm_idle(struct ioloop *l)
{
	uint64_t now = wf_loop_now(l->loop), due;

	wf_conn *c = TAILQ_FIRST(&l->idle_list);

	if (c == NULL || l->s->o.idle_timeout_ms == 0 ||
	    wf_timer_active(l->idle))
		return;
	due = c->active / WF__NSEC_PER_MSEC + l->s->o.idle_timeout_ms;
	(void)wf_timer_start(l->idle, due > now ? due - now : 0, 0);
}

static void
touch(wf_conn *c, void *arg)
{
	struct ioloop *l = arg;

	c->active = l->loop->now;
	if (TAILQ_NEXT(c, idle_link) != NULL) {
		TAILQ_REMOVE(&l->idle_list, c, idle_link);
		TAILQ_INSERT_TAIL(&l->idle_list, c, idle_link);
	}
}

/* One connection fewer; during a shutdown the last one is reported. */
static void
uncount(wf_server *s, struct ioloop *l)
{
	if (atomic_fetch_sub(&s->conns, 1) == 1 && atomic_load(&s->shutting) &&
	    atomic_exchange(&s->done_pending, 0))
		(void)wf_timer_start(l->done, 0, 0);
}

static void
gone(wf_conn *c, void *arg)
{
	struct ioloop *l = arg;

	TAILQ_REMOVE(&l->idle_list, c, idle_link);
	atomic_fetch_sub_explicit(&l->s->count[c->listener - 1].conns, 1,
	    memory_order_relaxed);
	if (c->peer)
		wf__peers_remove(l->s->peers, c->peer);
	c->peer = NULL;
	uncount(l->s, l);
}

static void
on_idle(wf_timer *t, void *arg)
{
	struct ioloop *l = arg;
	uint64_t limit = l->s->o.idle_timeout_ms * WF__NSEC_PER_MSEC;

	wf_conn *c;

	(void)t;
	while ((c = TAILQ_FIRST(&l->idle_list)) &&
	    c->active + limit <= l->loop->now) {
		if (l->s->o.on_idle && l->s->o.on_idle(c, l->s->o.arg))
			touch(c, l); /* to the tail: the loop moves on */
		else
			wf_conn_fail(c, WF_CLOSE_TIMEOUT, ETIMEDOUT);
	}
	arm_idle(l);
}

/* --- accepting ----------------------------------------------------------- */

/* A new connection that is not taken: undo its counts, close, tell. */
static void
refuse(struct ioloop *l, int fd, const struct wf_addr *peer,
    struct wf__peer *slot, int counted, enum wf_refuse_reason why, unsigned idx)
{
	wf_server *s = l->s;

	atomic_fetch_add_explicit(&s->count[idx].refused, 1,
	    memory_order_relaxed);
	if (counted)
		uncount(s, l);
	if (slot)
		wf__peers_remove(s->peers, slot);
	if (s->o.on_refuse)
		s->o.on_refuse(peer, why, s->o.arg);
	close(fd);
}

/* Over max_conns: close the connection idle longest that may go. */
static int
evict_one(struct ioloop *l)
{
	wf_conn *c = TAILQ_FIRST(&l->idle_list);
	int i;

	for (i = 0; c && i < EVICT_SCAN; i++, c = TAILQ_NEXT(c, idle_link)) {
		if (l->s->o.on_idle && l->s->o.on_idle(c, l->s->o.arg))
			continue;
		wf_conn_fail(c, WF_CLOSE_EVICTED, 0);
		return 1;
	}
	return 0;
}

static void
open_conn(struct ioloop *l, int fd, const struct wf_addr *peer,
    struct wf__peer *slot, unsigned idx)
{
	wf_server *s = l->s;
	wf_conn *c;

	if (atomic_load(&s->shutting)) {
		refuse(l, fd, peer, slot, 1, WF_REFUSE_SHUTDOWN, idx);
		return;
	}
	if (s->o.max_conns && atomic_load(&s->conns) > s->o.max_conns &&
	    !evict_one(l)) {
		refuse(l, fd, peer, slot, 1, WF_REFUSE_FULL, idx);
		return;
	}
	if (wf_conn_adopt(l->loop, &c, fd, s->o.cbs, s->o.arg) < 0) {
		if (slot)
			wf__peers_remove(s->peers, slot);
		uncount(s, l);
		return;
	}
	wf_conn_set_limits(c, s->o.high ? s->o.high : 1u << 20,
	    s->o.max_in ? s->o.max_in : 1u << 20,
	    s->o.max_out ? s->o.max_out : 64u << 20);
	c->active = l->loop->now;
	c->peer = slot;
	c->listener = (int)idx + 1;
	atomic_fetch_add_explicit(&s->count[idx].accepted, 1,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&s->count[idx].conns, 1, memory_order_relaxed);
	TAILQ_INSERT_TAIL(&l->idle_list, c, idle_link);
	wf__conn_set_owner(c, &l->owner);
	arm_idle(l);
	if (s->o.on_open)
		s->o.on_open(c, peer, s->o.arg);
}

struct handoff {
	struct ioloop *l;
	int fd;
	struct wf__peer *slot;
	struct wf_addr peer;
	unsigned idx;
};

static void
on_handoff(void *arg)
{
	struct handoff *h = arg;

	open_conn(h->l, h->fd, &h->peer, h->slot, h->idx);
	free(h);
}

static void
on_accept(wf_listener *ls, int fd, const struct wf_addr *peer, void *arg)
{
	struct lslot *ls_slot = arg;
	struct ioloop *l = ls_slot->l, *to;
	wf_server *s = l->s;
	struct wf__peer *slot = NULL;
	struct handoff *h;
	unsigned n = s->nloops;
	int rc;

	(void)ls;
	if (s->peers && (rc = wf__peers_add(s->peers, peer, &slot)) < 0) {
		refuse(l, fd, peer, NULL, 0, rc == -EMFILE ?
		    WF_REFUSE_PER_ADDR : WF_REFUSE_FULL, ls_slot->idx);
		return;
	}
	/* With evict, the loop that gets it makes room (open_conn). */
	if (atomic_fetch_add(&s->conns, 1) >= s->o.max_conns &&
	    s->o.max_conns && !s->o.evict) {
		refuse(l, fd, peer, slot, 1, WF_REFUSE_FULL, ls_slot->idx);
		return;
	}
	/* Handoff listeners all live on loop 0: rr needs no atomics. */
	to = s->o.reuseport ? l : &s->io[s->rr++ % n];
	if (to == l) {
		open_conn(l, fd, peer, slot, ls_slot->idx);
		return;
	}
	if ((h = malloc(sizeof(*h))) != NULL) {
		h->l = to;
		h->fd = fd;
		h->slot = slot;
		h->peer = *peer;
		h->idx = ls_slot->idx;
		if (wf_loop_post(to->loop, on_handoff, h) == 0)
			return;
		free(h);
	}
	refuse(l, fd, peer, slot, 1, WF_REFUSE_FULL, ls_slot->idx);
}

/* --- calls on a loop's thread ------------------------------------------- */

struct call {
	int (*fn)(struct call *);
	struct ioloop *l;
	const struct wf_addr *addr;
	int fd, reuseport, rc;
	unsigned idx;
	sem_t done;
};

static void
run_call(void *arg)
{
	struct call *c = arg;

	c->rc = c->fn(c);
	sem_post(&c->done);
}

/* Run c->fn on l's loop thread and wait for its result. */
static int
run_on(struct ioloop *l, struct call *c)
{
	int rc;

	c->l = l;
	if (l->s->g == NULL)
		return c->fn(c);
	sem_init(&c->done, 0, 0);
	if ((rc = wf_loop_post(l->loop, run_call, c)) == 0) {
		while (sem_wait(&c->done) != 0)
			;
		rc = c->rc;
	}
	sem_destroy(&c->done);
	return rc;
}

static void
on_done(wf_timer *t, void *arg)
{
	struct ioloop *l = arg;

	(void)t;
	/* wf_server_free may have begun after the timer was armed. */
	if (atomic_exchange(&l->s->done_armed, 0) && l->s->done_cb)
		l->s->done_cb(l->s, l->s->done_arg); /* may free the server */
}

static int
do_init(struct call *c)
{
	int rc;

	if ((rc = wf_timer_new(c->l->loop, &c->l->idle, on_idle, c->l)) < 0)
		return rc;
	return wf_timer_new(c->l->loop, &c->l->done, on_done, c->l);
}

static int
do_listen(struct call *c)
{
	struct wf_listen_opts o = c->l->s->listen;

	o.reuseport |= c->reuseport;
	if (c->fd >= 0)
		return wf_listener_adopt(c->l->loop, &c->l->ls[c->idx], c->fd,
		    on_accept, &c->l->slot[c->idx]);
	return wf_listener_open(c->l->loop, &c->l->ls[c->idx], c->addr, &o,
	    on_accept, &c->l->slot[c->idx]);
}

static int
do_close_listener(struct call *c)
{
	wf_listener_close(c->l->ls[c->idx]);
	c->l->ls[c->idx] = NULL;
	return 0;
}

static int
do_stop_accepting(struct call *c)
{
	unsigned i;

	for (i = 0; i < MAX_LISTENERS; i++) {
		wf_listener_close(c->l->ls[i]);
		c->l->ls[i] = NULL;
	}
	return 0;
}

/*
 * Each connection once, in list order: the head goes to the tail as it is
 * closed. An on_close that tears down others only shortens the list, and
 * what is left unclosed is always at its front, so n turns reach it all.
 */
static int
do_close_all(struct call *c)
{
	struct ioloop *l = c->l;
	wf_conn *conn;
	size_t n = 0;

	TAILQ_FOREACH(conn, &l->idle_list, idle_link)
		n++;
	while (n-- > 0 && (conn = TAILQ_FIRST(&l->idle_list)) != NULL) {
		TAILQ_REMOVE(&l->idle_list, conn, idle_link);
		TAILQ_INSERT_TAIL(&l->idle_list, conn, idle_link);
		wf_conn_close(conn, l->s->linger_ms);
	}
	return 0;
}

/* Nothing was open, or it all went while the loops were being told. */
static int
do_check_done(struct call *c)
{
	wf_server *s = c->l->s;

	if (atomic_load(&s->conns) == 0 && atomic_exchange(&s->done_pending, 0))
		(void)wf_timer_start(c->l->done, 0, 0);
	return 0;
}

static int
do_shutdown(struct call *c)
{
	do_stop_accepting(c);
	while (!TAILQ_EMPTY(&c->l->idle_list))
		wf_conn_abort(TAILQ_FIRST(&c->l->idle_list));
	wf_timer_free(c->l->idle);
	c->l->idle = NULL;
	wf_timer_free(c->l->done);
	c->l->done = NULL;
	return 0;
}

/* --- the server ---------------------------------------------------------- */

/* No tail padding a later field could hide in (see opts.c). */
_Static_assert(sizeof(struct wf_server_opts) ==
    WF__SIZE_TO(struct wf_server_opts, on_refuse), "wf_server_opts padding");

int
wf_server_start(wf_server **sp, const struct wf_server_opts *opts)
{
	struct call c = { .fn = do_init };
	const struct wf_server_opts *o;
	unsigned i, j, n;
	wf_server *s;
	int rc;

	*sp = NULL;
	if (opts == NULL)
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	o = &s->o;
	if ((rc = wf__opts_copy(&s->o, sizeof(s->o), opts,
	    WF__SIZE_TO(struct wf_server_opts, on_refuse))) < 0 ||
	    (rc = wf__opts_copy(&s->listen, sizeof(s->listen), o->listen,
	    WF__SIZE_TO(struct wf_listen_opts, unix_gid))) < 0) {
		free(s);
		return rc;
	}
	s->o.listen = NULL; /* the copy is s->listen */
	s->listen.size = sizeof(s->listen);
	n = o->threads ? o->threads : 1;
	if (o->cbs == NULL || o->cbs->on_data == NULL || (o->loop && n > 1)) {
		free(s);
		return -EINVAL;
	}
	if (o->max_conns_per_addr && (rc = wf__peers_new(&s->peers,
	    o->max_conns_per_addr, o->max_conns ? o->max_conns / 4 : 1024)) < 0) {
		free(s);
		return rc;
	}
	if ((s->io = calloc(n, sizeof(*s->io))) == NULL) {
		wf__peers_free(s->peers);
		free(s);
		return -ENOMEM;
	}
	if (o->loop == NULL && (rc = wf_loop_group_start(&s->g, n,
	    "weft-io")) < 0) {
		wf__peers_free(s->peers);
		free(s->io);
		free(s);
		return rc;
	}
	s->nloops = n;
	for (i = 0; i < n; i++) {
		struct ioloop *l = &s->io[i];

		l->s = s;
		TAILQ_INIT(&l->idle_list);
		l->loop = s->g ? wf_loop_group_get(s->g, i) : o->loop;
		l->owner.touch = touch;
		l->owner.gone = gone;
		l->owner.owner = l;
		for (j = 0; j < MAX_LISTENERS; j++) {
			l->slot[j].l = l;
			l->slot[j].idx = j;
		}
		if ((rc = run_on(l, &c)) < 0) {
			wf_server_free(s);
			return rc;
		}
	}
	*sp = s;
	return 0;
}

static int
add_listener(wf_server *s, const struct wf_addr *addr, int fd)
{
	struct call c = { .fn = do_listen, .fd = fd };
	struct wf_addr bound;
	unsigned i, n = s->o.reuseport && fd < 0 ? s->nloops : 1;
	int rc;

	/* The lowest free index: a closed listener's is used again. */
	if ((rc = wf_server_next_listener(s)) < 0)
		return rc;
	c.idx = (unsigned)rc;
	c.addr = addr;
	c.reuseport = n > 1;
	for (i = 0; i < n; i++) {
		if ((rc = run_on(&s->io[i], &c)) < 0) {
			/* Undo the loops already listening, on their threads. */
			c.fn = do_close_listener;
			while (i-- > 0)
				(void)run_on(&s->io[i], &c);
			return rc;
		}
		/* Port 0: the other loops must share the port the first got. */
		if (i == 0 && n > 1) {
			if ((rc = wf_listener_addr(s->io[0].ls[c.idx], &bound)) < 0)
				return rc;
			c.addr = &bound;
		}
	}
	s->used[c.idx] = true;
	/* conns is not reset: an earlier listener's connections may be open. */
	atomic_store(&s->count[c.idx].accepted, 0);
	atomic_store(&s->count[c.idx].refused, 0);
	if (c.idx >= s->nls)
		s->nls = c.idx + 1;
	return (int)c.idx;
}

int
wf_server_listen(wf_server *s, const struct wf_addr *addr)
{
	return add_listener(s, addr, -1);
}

int
wf_server_adopt(wf_server *s, int fd)
{
	return fd < 0 ? -EBADF : add_listener(s, NULL, fd);
}

int
wf_server_next_listener(const wf_server *s)
{
	unsigned i;

	for (i = 0; i < MAX_LISTENERS && s->used[i]; i++)
		;
	return i < MAX_LISTENERS ? (int)i : -ENOSPC;
}

int
wf_server_addr(wf_server *s, unsigned i, struct wf_addr *a)
{
	if (i >= s->nls || s->io[0].ls[i] == NULL)
		return -ENOENT;
	return wf_listener_addr(s->io[0].ls[i], a);
}

int
wf_server_listener_stats(wf_server *s, unsigned i,
    struct wf_listener_stats *st)
{
	unsigned k, n = s->o.reuseport ? s->nloops : 1;
	struct tcp_info ti;
	socklen_t len;

	if (i >= MAX_LISTENERS || !s->used[i])
		return -ENOENT;
	st->accepted = atomic_load_explicit(&s->count[i].accepted,
	    memory_order_relaxed);
	st->refused = atomic_load_explicit(&s->count[i].refused,
	    memory_order_relaxed);
	st->conns = atomic_load_explicit(&s->count[i].conns,
	    memory_order_relaxed);
	/*
	 * A listening TCP socket's tcp_info has its accept queue: unacked the
	 * connections waiting, sacked the backlog (tcp_get_info()). Reuseport
	 * listeners have a queue each: their sum, and the sum of the maxima.
	 */
	st->queued = st->queue_max = -1;
	for (k = 0; k < n; k++) {
		if (s->io[k].ls[i] == NULL)
			continue;
		len = sizeof(ti);
		if (getsockopt(wf_listener_fd(s->io[k].ls[i]), IPPROTO_TCP,
		    TCP_INFO, &ti, &len) < 0 || len < offsetof(struct tcp_info,
		    tcpi_sacked) + sizeof(ti.tcpi_sacked))
			break;
		if (st->queued < 0)
			st->queued = st->queue_max = 0;
		st->queued += (long)ti.tcpi_unacked;
		st->queue_max += (long)ti.tcpi_sacked;
	}
	return 0;
}

int
wf_server_close_listener(wf_server *s, unsigned i)
{
	struct call c = { .fn = do_close_listener, .idx = i };
	unsigned k, n = s->o.reuseport ? s->nloops : 1;

	if (i >= MAX_LISTENERS || !s->used[i])
		return -ENOENT;
	/* Adopted sockets live on loop 0 only; closing NULL is a no-op. */
	for (k = 0; k < n; k++)
		(void)run_on(&s->io[k], &c);
	s->used[i] = false;
	return 0;
}

int
wf_conn_listener(const wf_conn *c)
{
	return c->listener - 1;
}

unsigned
wf_server_conns(const wf_server *s)
{
	return atomic_load(&s->conns);
}

wf_loop_group *
wf_server_loops(const wf_server *s)
{
	return s->g;
}

void
wf_server_stop_accepting(wf_server *s)
{
	struct call c = { .fn = do_stop_accepting };
	unsigned i;

	for (i = 0; i < s->nloops; i++)
		(void)run_on(&s->io[i], &c);
	memset(s->used, 0, sizeof(s->used));
}

int
wf_server_shutdown(wf_server *s, uint64_t linger_ms, wf_server_done_cb *done,
    void *arg)
{
	struct call c = { .fn = do_stop_accepting };
	unsigned i;

	if (atomic_exchange(&s->called, 1))
		return -EALREADY;
	for (i = 0; i < s->nloops; i++)
		(void)run_on(&s->io[i], &c);
	memset(s->used, 0, sizeof(s->used));
	s->linger_ms = linger_ms;
	s->done_cb = done;
	s->done_arg = arg;
	atomic_store(&s->done_armed, 1);
	/* The loops read the fields above once they see this (seq_cst). */
	atomic_store(&s->shutting, 1);
	c.fn = do_close_all;
	for (i = 0; i < s->nloops; i++)
		(void)run_on(&s->io[i], &c);
	/*
	 * Only now may the last connection report, so done runs no earlier
	 * than the final step; one that went meanwhile is seen by the check.
	 */
	atomic_store(&s->done_pending, 1);
	c.fn = do_check_done;
	(void)run_on(&s->io[0], &c);
	return 0;
}

void
wf_server_free(wf_server *s)
{
	struct call c = { .fn = do_shutdown };
	unsigned i;

	if (s == NULL)
		return;
	atomic_store(&s->done_pending, 0);
	atomic_store(&s->done_armed, 0);
	for (i = 0; i < s->nloops; i++)
		if (s->io[i].loop)
			(void)run_on(&s->io[i], &c);
	wf_loop_group_free(s->g);
	wf__peers_free(s->peers);
	free(s->io);
	free(s);
}
