/*
 * Dispatch, on the IO loops. Each loop owns a share of the workers'
 * sockets (the main thread forks a worker and posts its socket to the loop
 * with the fewest), so a request normally goes from the client's loop to a
 * worker and back without another thread. In this order, a request goes to
 *
 *   1. an idle worker of its own loop;
 *   2. an idle worker of another loop, in that loop's batch of the
 *      iteration (its answer comes back the same way);
 *   3. the least-loaded worker with room (fewer than `pipeline`
 *      requests outstanding, or with auto its share of those in flight,
 *      at most PIPE_BYTES of them, the oldest younger than STUCK_MS), of
 *      its loop unless another loop has a less loaded one;
 *   4. the shared queue (queue_limit), which each loop pulls from as its
 *      workers get room; while it holds anything, every new request joins
 *      it, so none overtakes those waiting;
 *   5. else straight back as `overloaded`.
 *
 * So no request waits behind another while a worker anywhere is idle, and
 * a client that pipelines still keeps the workers full when all are busy.
 * Loops publish how many idle workers and workers with room they have; a
 * loop stores its figures before it looks at the queue's length, and a
 * request is queued before its loop looks at those figures (all
 * sequentially consistent), so a queued request always finds a loop that
 * will pull it.
 *
 * Each loop's own workers, and the posts between a worker's loop and the
 * main thread, are in worker.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lane.h"
#include "log.h"

/* --- answers -------------------------------------------------------------- */

/*
 * Prometheus' default buckets, widened both ways: 100 us to 60 s. Times
 * are the loops' (read once per iteration): no clock call per request.
 */
const uint64_t lat_bounds_us[LAT_BOUNDS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
	60000000,
};

static void
add(atomic_ullong *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) +
	    n, memory_order_relaxed);
}

/*
 * One more answer of l's: its status, and for a handler's answer its
 * latency (weftd's own errors, often instant, would flatter it).
 */
static void
count_answer(struct lane *l, const struct job *j, bool handler)
{
	unsigned status = (unsigned)j->frame[4] << 8 | j->frame[5], i;
	uint64_t now = wf_loop_now_ns(l->f->loop);
	uint64_t us = j->born && now > j->born ? (now - j->born) / 1000 : 0;

	add(&l->st.answers[status < STATUS_HANDLER ? status : STATUS_HANDLER],
	    1);
	if (!handler)
		return;
	for (i = 0; i < LAT_BOUNDS && us > lat_bounds_us[i]; i++)
		;
	add(&l->st.lat[i], 1);
	add(&l->st.lat_sum_us, us);
}

static bool
gone(const struct job *j)
{
	return atomic_load_explicit(&j->client->gone, memory_order_relaxed);
}

static void
drop(struct lane *l, struct job *j)
{
	atomic_fetch_sub_explicit(&l->ds->pending, 1, memory_order_relaxed);
	job_free(j);
}

static void
xfer_add(struct lane *l, struct xfer *x, struct job *j)
{
	j->next = NULL;
	if (x->head == NULL)
		x->tail = &x->head;
	*x->tail = j;
	x->tail = &j->next;
	l->xdirty = true;
	lane_kick(l);
}

/* j is answered: to its client, on this loop or in the batch for its own. */
static void
answer(struct lane *l, struct job *j)
{
	struct front *cf = j->client->front;

	if (l->closed || gone(j)) {
		drop(l, j);
		return;
	}
	atomic_fetch_sub_explicit(&l->ds->pending, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&l->f->d->served, 1, memory_order_relaxed);
	if (cf == l->f)
		front_answer(cf, j);
	else
		xfer_add(l, &l->ans[cf->index], j);
}

void
lane_answer(struct lane *l, struct job *j)
{
	count_answer(l, j, true);
	answer(l, j);
}

void
lane_answer_error(struct lane *l, struct job *j, uint16_t status,
    const char *msg)
{
	j = job_error(j, status, msg);
	count_answer(l, j, false);
	answer(l, j);
}

/* --- the shared queue ----------------------------------------------------- */

static void
nudge_task(void *arg)
{
	struct lane *l = arg;

	atomic_store(&l->nudged, false);
	lane_kick(l);
}

static void
enqueue(struct lane *l, struct job *j)
{
	struct dispatch *ds = l->ds;
	unsigned i, n;
	char msg[64];
	bool first;

	pthread_mutex_lock(&ds->qlock);
	if ((n = atomic_load(&ds->qlen)) >= l->queue_limit) {
		pthread_mutex_unlock(&ds->qlock);
		snprintf(msg, sizeof(msg), "overloaded: %u requests queued", n);
		lane_answer_error(l, j, WEFTD_OVERLOADED, msg);
		return;
	}
	first = j->resends == 0; /* a resend was counted the first time */
	j->t0 = wf_loop_now(l->f->loop);
	j->next = NULL;
	*ds->qtail = j;
	ds->qtail = &j->next;
	atomic_fetch_add(&ds->qlen, 1);
	if (n + 1 > atomic_load_explicit(&ds->qmax, memory_order_relaxed))
		atomic_store_explicit(&ds->qmax, n + 1, memory_order_relaxed);
	pthread_mutex_unlock(&ds->qlock);
	if (first) /* j is not ours to read any more */
		add(&l->st.max_reached, 1);
	lane_kick(l); /* this loop's flush pulls, if it has room by then */
	/* A loop that got room since we looked pulls it. */
	for (i = 0; i < ds->nlanes; i++) {
		struct lane *m = ds->lanes[i];

		if (m != l && atomic_load(&m->pub_key) != NO_ROOM &&
		    !atomic_exchange(&m->nudged, true) &&
		    wf_loop_post(m->f->loop, nudge_task, m) < 0)
			atomic_store(&m->nudged, false);
	}
}

/* Queued requests, oldest first, while a worker of l has room. */
static void
pull(struct lane *l)
{
	struct dispatch *ds = l->ds;
	struct worker *w;
	struct job *j;

	/* Saturated, a request is queued with no worker free: one lock, not two. */
	if (atomic_load(&ds->qlen) == 0 || lane_best(l, 0) == NULL)
		return;
	pthread_mutex_lock(&ds->qlock);
	while ((j = ds->qhead) != NULL) {
		w = gone(j) ? NULL : lane_best(l, frame_size(j));
		if (w == NULL && !gone(j))
			break;
		if ((ds->qhead = j->next) == NULL)
			ds->qtail = &ds->qhead;
		atomic_fetch_sub(&ds->qlen, 1);
		if (w == NULL)
			drop(l, j);
		else
			worker_assign(l, w, j);
	}
	pthread_mutex_unlock(&ds->qlock);
}

static void
publish(struct lane *l)
{
	struct worker *w = lane_best(l, 0);

	atomic_store(&l->pub_idle, l->nidle);
	atomic_store(&l->pub_key, w ? worker_load(w) : NO_ROOM);
}

static void
lane_tick(struct lane *l)
{
	struct front *f = l->f;
	struct dispatch *ds = l->ds;
	uint64_t now = wf_loop_now(f->loop);
	struct job *late = NULL, **tail = &late, *j, *next;

	if (atomic_load(&ds->qlen) == 0)
		return;
	/*
	 * The queued requests of closed clients go too: with no worker free,
	 * pull() does not look at the queue, and they would hold their
	 * bytes and places in it.
	 */
	pthread_mutex_lock(&ds->qlock);
	while ((j = ds->qhead) != NULL &&
	    (gone(j) || j->t0 + l->request_ms <= now)) {
		if ((ds->qhead = j->next) == NULL)
			ds->qtail = &ds->qhead;
		atomic_fetch_sub(&ds->qlen, 1);
		*tail = j;
		tail = &j->next;
	}
	pthread_mutex_unlock(&ds->qlock);
	*tail = NULL;
	for (j = late; j; j = next) {
		next = j->next;
		if (gone(j))
			drop(l, j);
		else
			lane_answer_error(l, j, WEFTD_TIMEOUT,
			    "timeout: no worker was free in time");
	}
}

void
dispatch_tick(struct front *f)
{
	unsigned i;

	for (i = 0; i < f->nactive; i++)
		lane_tick(f->active[i]);
}

/* --- requests ------------------------------------------------------------- */

/* Another loop with an idle worker, taking one of its count. */
static struct lane *
other_idle(struct lane *l)
{
	struct dispatch *ds = l->ds;
	unsigned i, k = l->f->index, n;

	for (i = 1; i < ds->nlanes; i++) {
		struct lane *m = ds->lanes[(k + i) % ds->nlanes];

		n = atomic_load_explicit(&m->pub_idle, memory_order_relaxed);
		while (n > 0)
			if (atomic_compare_exchange_weak(&m->pub_idle, &n, n - 1))
				return m;
	}
	return NULL;
}

/* Another loop whose least-loaded worker is less loaded than key. */
static struct lane *
other_lighter(struct lane *l, uint64_t key)
{
	struct dispatch *ds = l->ds;
	struct lane *best = NULL;
	unsigned i;
	uint64_t k;

	for (i = 0; i < ds->nlanes; i++)
		if (ds->lanes[i] != l && (k = atomic_load_explicit(
		    &ds->lanes[i]->pub_key, memory_order_relaxed)) < key) {
			best = ds->lanes[i];
			key = k;
		}
	return best;
}

void
lane_place(struct lane *l, struct job *j, bool may_hand)
{
	struct worker *w;
	struct lane *m;

	if (l->closed || gone(j)) {
		drop(l, j);
		return;
	}
	if (atomic_load_explicit(&l->ds->abandoned, memory_order_relaxed)) {
		lane_answer_error(l, j, WEFTD_SHUTTING_DOWN, "shutting down");
		return;
	}
	/*
	 * Requests already waiting go first: workers freed in this iteration
	 * take them now, and a new one joins those still waiting.
	 */
	if (atomic_load(&l->ds->qlen) > 0) {
		pull(l);
		if (atomic_load(&l->ds->qlen) > 0) {
			enqueue(l, j);
			return;
		}
	}
	if (!LIST_EMPTY(&l->idle)) {
		worker_assign(l, LIST_FIRST(&l->idle), j);
		return;
	}
	if (may_hand && (m = other_idle(l)) != NULL) {
		xfer_add(l, &l->req[m->f->index], j);
		return;
	}
	w = lane_best(l, frame_size(j));
	if (may_hand && (m = other_lighter(l, w ? worker_load(w) : NO_ROOM)))
		xfer_add(l, &l->req[m->f->index], j);
	else if (w)
		worker_assign(l, w, j);
	else
		enqueue(l, j);
}

void
dispatch_submit(struct lane *l, struct job *j)
{
	j->ds = l->ds;
	j->born = wf_loop_now_ns(l->f->loop);
	atomic_fetch_add_explicit(&l->ds->pending, 1, memory_order_relaxed);
	lane_place(l, j, true);
}

/* ds's lane on the loop this runs on. */
static struct lane *
here(struct dispatch *ds)
{
	unsigned i;

	for (i = 0; i < ds->nlanes; i++)
		if (wf_loop_on_thread(ds->lanes[i]->f->loop))
			return ds->lanes[i];
	return NULL;
}

/* Requests another loop handed to this one: placed here, or queued. */
static void
take_requests(void *arg)
{
	struct job *j = arg, *next;
	struct lane *l = here(j->ds);

	for (; j; j = next) {
		next = j->next;
		lane_place(l, j, false);
	}
}

static void
post_batches(struct lane *l)
{
	struct dispatch *ds = l->ds;
	struct job *list, *j, *next;
	unsigned i;

	l->xdirty = false;
	for (i = 0; i < ds->nlanes; i++) {
		wf_loop *loop = ds->lanes[i]->f->loop;

		if ((list = l->req[i].head) != NULL) {
			l->req[i].head = NULL;
			if (wf_loop_post(loop, take_requests, list) < 0)
				for (j = list; j; j = next) {
					next = j->next;
					lane_place(l, j, false);
				}
		}
		if ((list = l->ans[i].head) != NULL) {
			l->ans[i].head = NULL;
			if (wf_loop_post(loop, front_deliver, list) < 0)
				for (j = list; j; j = next) {
					next = j->next;
					job_free(j);
				}
		}
	}
}

void
dispatch_flush(struct front *f)
{
	struct lane *l;
	unsigned i;

	for (i = 0; i < f->nactive; i++) {
		l = f->active[i];
		/* Another pool's traffic costs this one nothing. */
		if (!l->kicked && !l->xdirty && l->to_write == NULL &&
		    atomic_load(&l->ds->qlen) == 0)
			continue;
		l->kicked = false;
		publish(l);
		if (atomic_load(&l->ds->qlen)) {
			pull(l);
			publish(l);
		}
		lane_write(l);
		if (l->xdirty)
			post_batches(l);
	}
}

unsigned
dispatch_pool_pending(const struct pool *p)
{
	return atomic_load(&p->ds->pending);
}

unsigned
dispatch_pool_workers(const struct pool *p)
{
	return atomic_load(&p->ds->nworkers);
}

unsigned
dispatch_pending(const struct weftd *d)
{
	unsigned i, n = 0;

	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i])
			n += dispatch_pool_pending(d->pools[i]);
	return n;
}

/* --- shutdown ------------------------------------------------------------- */

static void
abandon_task(void *arg)
{
	struct lane *l = arg;
	struct dispatch *ds = l->ds;
	struct job *list, *j, *next;
	struct worker *w;

	pthread_mutex_lock(&ds->qlock);
	list = ds->qhead;
	ds->qhead = NULL;
	ds->qtail = &ds->qhead;
	atomic_store(&ds->qlen, 0);
	pthread_mutex_unlock(&ds->qlock);
	for (j = list; j; j = next) {
		next = j->next;
		lane_answer_error(l, j, WEFTD_SHUTTING_DOWN, "shutting down");
	}
	LIST_FOREACH(w, &l->workers, llink)
		if (!w->dead)
			worker_take_down(l, w, WEFTD_SHUTTING_DOWN, "shutting down");
}

/* shutdown_timeout: whatever is still waiting or running is answered. */
void
dispatch_abandon(struct weftd *d)
{
	struct dispatch *ds;
	struct worker *w;
	unsigned i, k;

	pool_no_respawn(d);
	for (k = 0; k < MAX_POOLS; k++) {
		if (d->pools[k] == NULL)
			continue;
		ds = d->pools[k]->ds;
		atomic_store(&ds->abandoned, true);
		for (i = 0; i < ds->nlanes; i++)
			(void)wf_loop_post(ds->lanes[i]->f->loop, abandon_task,
			    ds->lanes[i]);
		LIST_FOREACH(w, &d->pools[k]->all, plink)
			if (!w->retired)
				pool_retire(w, "shutdown timeout");
	}
}

static void
free_list(struct job *j)
{
	struct job *next;

	for (; j; j = next) {
		next = j->next;
		job_free(j);
	}
}

/* On each loop, before it stops: its workers go, its batches are dropped. */
static void
close_task(void *arg)
{
	struct lane *l = arg;
	struct worker *w;
	unsigned i;

	l->closed = true;
	while ((w = LIST_FIRST(&l->workers)) != NULL) {
		if (!w->dead)
			worker_take_down(l, w, WEFTD_SHUTTING_DOWN, "shutting down");
		worker_unlink(w);
		worker_unref(w);
	}
	LIST_INIT(&l->idle);
	l->to_write = NULL;
	/* Without them (dispatch_new ran out of memory) nothing was sent. */
	for (i = 0; l->req && l->ans && i < l->ds->nlanes; i++) {
		free_list(l->req[i].head);
		free_list(l->ans[i].head);
		l->req[i].head = l->ans[i].head = NULL;
	}
	atomic_store(&l->pub_idle, 0);
	atomic_store(&l->pub_key, NO_ROOM);
}

int
dispatch_new(struct pool *p)
{
	struct weftd *d = p->d;
	struct dispatch *ds;
	struct lane *l;
	unsigned i;

	if ((ds = aligned_alloc(_Alignof(struct dispatch), (sizeof(*ds) + 63) /
	    64 * 64)) == NULL)
		return -ENOMEM;
	memset(ds, 0, sizeof(*ds));
	ds->d = d;
	ds->pool = p;
	ds->qtail = &ds->qhead;
	pthread_mutex_init(&ds->qlock, NULL);
	p->ds = ds;
	if ((ds->lanes = calloc(d->nfronts, sizeof(*ds->lanes))) == NULL)
		return -ENOMEM;
	for (i = 0; i < d->nfronts; i++) {
		if ((l = aligned_alloc(_Alignof(struct lane), (sizeof(*l) + 63) /
		    64 * 64)) == NULL)
			return -ENOMEM;
		memset(l, 0, sizeof(*l));
		ds->lanes[i] = l;
		ds->nlanes++;
		l->ds = ds;
		l->f = &d->fronts[i];
		l->serial = p->serial;
		atomic_store(&l->pub_key, NO_ROOM);
		l->req = calloc(d->nfronts, sizeof(*l->req));
		l->ans = calloc(d->nfronts, sizeof(*l->ans));
		if (l->req == NULL || l->ans == NULL)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Before the IO threads are joined: each loop drops its workers and what
 * it holds for others; from then on every request or answer is dropped.
 */
void
dispatch_close(struct weftd *d)
{
	struct dispatch *ds;
	unsigned i, k;

	for (k = 0; k < MAX_POOLS; k++) {
		if (d->pools[k] == NULL || (ds = d->pools[k]->ds) == NULL)
			continue;
		for (i = 0; i < ds->nlanes; i++)
			if (ds->lanes[i]->f->loop == NULL ||
			    wf_loop_post(ds->lanes[i]->f->loop, close_task,
			    ds->lanes[i]) < 0)
				ds->lanes[i]->closed = true;
	}
}

void
dispatch_free(struct pool *p)
{
	struct dispatch *ds = p->ds;
	unsigned i;

	if (ds == NULL)
		return;
	free_list(ds->qhead);
	for (i = 0; i < ds->nlanes; i++) {
		free(ds->lanes[i]->req);
		free(ds->lanes[i]->ans);
		free(ds->lanes[i]);
	}
	free(ds->lanes);
	pthread_mutex_destroy(&ds->qlock);
	free(ds);
	p->ds = NULL;
}

/* --- views: each loop's lanes and routes --------------------------------- */

/* A route id and the slot of the pool that claims it. */
struct route {
	uint16_t id;
	uint16_t slot;
};

/* What a loop knows of the pools; it keeps the last it was given. */
struct view {
	struct front *f;
	struct lane *lanes[MAX_POOLS];
	struct {
		bool routable;
		unsigned pipeline, queue_limit, nworkers;
		uint64_t request_ms, slow_ms;
	} lim[MAX_POOLS];
	unsigned nroutes;
	struct route routes[]; /* by id */
};

static void
take_view(void *arg)
{
	struct view *v = arg;
	struct front *f = v->f;
	struct lane *l;
	unsigned s;

	f->nactive = 0;
	for (s = 0; s < MAX_POOLS; s++) {
		if ((l = f->lanes[s] = v->lanes[s]) == NULL)
			continue;
		f->active[f->nactive++] = l;
		l->routable = v->lim[s].routable;
		l->pipeline = v->lim[s].pipeline;
		l->queue_limit = v->lim[s].queue_limit;
		l->nworkers = v->lim[s].nworkers;
		l->request_ms = v->lim[s].request_ms;
		l->slow_ms = v->lim[s].slow_ms;
	}
	free(f->view); /* the loop keeps the view: its routes */
	f->view = v;
}

static int
by_id(const void *a, const void *b)
{
	return (int)((const struct route *)a)->id -
	    (int)((const struct route *)b)->id;
}

int
dispatch_views(struct weftd *d)
{
	unsigned i, s, k, n = 0;
	struct pool *p;
	struct view *v;
	int rc = 0, err;

	for (s = 0; s < MAX_POOLS; s++)
		if ((p = d->pools[s]) && !p->removed && !p->fresh)
			n += p->cfg->nroutes;
	for (i = 0; i < d->nfronts; i++) {
		if ((v = calloc(1, sizeof(*v) + n * sizeof(v->routes[0]))) ==
		    NULL) {
			rc = -ENOMEM;
			continue; /* that loop keeps what it has */
		}
		v->f = &d->fronts[i];
		for (s = 0; s < MAX_POOLS; s++) {
			if ((p = d->pools[s]) == NULL || p->ds == NULL)
				continue;
			v->lanes[s] = p->ds->lanes[i];
			v->lim[s].routable = !p->removed;
			v->lim[s].pipeline = p->cfg->pipeline;
			v->lim[s].queue_limit = p->cfg->queue_limit;
			v->lim[s].nworkers = p->cfg->workers;
			v->lim[s].request_ms = p->cfg->request_timeout_ms;
			v->lim[s].slow_ms = p->cfg->slow_request_ms;
			for (k = 0; !p->removed && !p->fresh &&
			    k < p->cfg->nroutes; k++) {
				v->routes[v->nroutes].id = p->cfg->routes[k];
				v->routes[v->nroutes++].slot = (uint16_t)s;
			}
		}
		qsort(v->routes, v->nroutes, sizeof(v->routes[0]), by_id);
		if ((err = wf_loop_post(d->fronts[i].loop, take_view, v)) < 0) {
			free(v);
			rc = err;
		}
	}
	return rc;
}

/* On f's loop: pool slot's lanes are about to be freed (pool.c). */
void
dispatch_forget(struct front *f, unsigned slot)
{
	unsigned i;

	f->lanes[slot] = NULL;
	for (i = 0; i < f->nactive; i++)
		if (f->active[i]->ds->pool->slot == slot) {
			f->active[i] = f->active[--f->nactive];
			break;
		}
}

struct lane *
dispatch_route(struct front *f, const struct client *c, uint16_t route)
{
	struct route key = { .id = route }, *r;
	struct lane *l;

	if (route == 0) {
		l = c->home_slot < MAX_POOLS ? f->lanes[c->home_slot] : NULL;
		return l && l->routable && l->serial == c->home_serial ? l :
		    NULL;
	}
	r = bsearch(&key, f->view->routes, f->view->nroutes, sizeof(*r), by_id);
	return r ? f->lanes[r->slot] : NULL;
}
