/*
 * The set of pools: making one, reaping every child, stopping them all,
 * and the steps of a pool a reload removed. One pool's workers are pool.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "pool.h"
#include "stats.h"
#include "spawner.h"

#define FOR_POOLS(d, i, p) \
	for ((i) = 0; (i) < MAX_POOLS; (i)++) \
		if (((p) = (d)->pools[i]) != NULL)

static void removed_step(struct pool *p);

/* --- a removed pool ------------------------------------------------------ */

/*
 * A removed pool goes in steps, each after a round of a task through every
 * IO loop (posted after whatever was posted to them before):
 *
 *   1. after the views that no longer route to it: no new request comes;
 *   2. once no request of its is left: its workers are retired;
 *   3. once they are gone, two more rounds, and its lanes are freed: after
 *      the first no loop is still in a call that began before (one that may
 *      post to another loop with a lane of the pool), after the second
 *      whatever such a call posted has run.
 */
struct sweep {
	struct pool *p;
	atomic_uint left;
	atomic_bool failed; /* a post failed: try again at the next tick */
	int round;          /* 0: unrouting; 1, 2: freeing */
};

static void sweep_post(struct sweep *sw);

static void
sweep_main(void *arg)
{
	struct sweep *sw = arg;
	struct pool *p = sw->p;
	struct weftd *d = p->d;

	if (atomic_load(&sw->failed)) {
		free(sw);
		p->sweeping = false;
		return;
	}
	if (sw->round == 0) {
		free(sw);
		p->sweeping = false;
		p->unrouted = true;
		removed_step(p);
		return;
	}
	if (sw->round++ == 1) {
		sweep_post(sw);
		return;
	}
	free(sw);
	weftd_log(LOG_INFO, "pool %s: removed", p->cfg->name);
	d->pools[p->slot] = NULL;
	wf_timer_free(p->respawn);
	scale_stop(p);
	dispatch_free(p);
	stats_pool_free(p);
	weftd_pool_cfg_free(p->cfg);
	free(p);
}

static void
sweep_loop(void *arg)
{
	struct sweep *sw = arg;
	struct weftd *d = sw->p->d;
	unsigned i;

	for (i = 0; sw->round > 0 && i < d->nfronts; i++)
		if (wf_loop_on_thread(d->fronts[i].loop))
			dispatch_forget(&d->fronts[i], sw->p->slot);
	/* Failing, the main loop is being freed: pool_free_all() frees it. */
	if (atomic_fetch_sub(&sw->left, 1) == 1)
		(void)wf_loop_post(d->main, sweep_main, sw);
}

static void
sweep_post(struct sweep *sw)
{
	struct weftd *d = sw->p->d;
	unsigned i;

	/* One count is ours while posting, so no loop finishes first. */
	atomic_store(&sw->left, d->nfronts + 1);
	for (i = 0; i < d->nfronts; i++)
		if (wf_loop_post(d->fronts[i].loop, sweep_loop, sw) < 0) {
			atomic_store(&sw->failed, true);
			atomic_fetch_sub(&sw->left, 1);
		}
	if (atomic_fetch_sub(&sw->left, 1) == 1)
		sweep_main(sw);
}

/* A removed pool's next step, when something changed (see above). */
static void
removed_step(struct pool *p)
{
	struct worker *w;
	struct sweep *sw;

	if (!p->removed || p->sweeping || !p->views_posted)
		return;
	if (p->unrouted) {
		if (dispatch_pool_pending(p) > 0)
			return;
		LIST_FOREACH(w, &p->all, plink)
			if (!w->retired)
				pool_retire(w, "pool removed");
		if (!LIST_EMPTY(&p->all) || dispatch_pool_workers(p) > 0)
			return;
	}
	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return; /* the next tick tries again */
	p->sweeping = true;
	sw->p = p;
	sw->round = p->unrouted ? 1 : 0;
	sweep_post(sw);
}

void
pool_remove(struct pool *p)
{
	p->removed = true;
	p->stopping = true;
	wf_timer_stop(p->respawn);
	weftd_log(LOG_NOTICE, "reload: pool %s removed: its listeners are "
	    "closed; it stops once its %u requests are answered",
	    p->cfg->name, dispatch_pool_pending(p));
}

int
pool_post_views(struct weftd *d)
{
	unsigned i;
	int rc;

	/* Out of memory: a loop kept its old view; the next tick tries again. */
	if ((rc = dispatch_views(d)) < 0) {
		if (!d->views_stale)
			weftd_log(LOG_ERR, "posting the pools' routes to the IO "
			    "loops: %s; trying again at each status tick",
			    strerror(-rc));
		d->views_stale = true;
		return rc;
	}
	d->views_stale = false;
	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i] && d->pools[i]->removed) {
			d->pools[i]->views_posted = true;
			removed_step(d->pools[i]);
		}
	return 0;
}

/* --- the pools ----------------------------------------------------------- */

struct pool *
pool_new(struct weftd *d, struct weftd_pool_cfg *cfg)
{
	struct pool *p;
	unsigned slot;

	for (slot = 0; slot < MAX_POOLS && d->pools[slot]; slot++)
		;
	if (slot == MAX_POOLS || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->d = d;
	p->slot = slot;
	/* 1 .. 2^24 - 1: what LMAP() has room for; never 0. */
	p->serial = d->pool_serial = d->pool_serial % 0xffffff + 1;
	if (pool_init(p, cfg) < 0 || dispatch_new(p) < 0) {
		if (p->respawn)
			wf_timer_free(p->respawn);
		dispatch_free(p);
		free(p);
		return NULL;
	}
	d->pools[slot] = p;
	return p;
}

static bool
all_reaped(const struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		if (!LIST_EMPTY(&p->all))
			return false;
	return true;
}

void
pool_exited(struct weftd *d, pid_t pid, int st)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		if (pool_reaped(p, pid, st))
			break;
}

void
pool_lost_all(struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		pool_lost_workers(p);
	pool_settle(d);
}

void
pool_reap(struct weftd *d)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (pid == d->spawner_pid)
			spawner_reaped(d, st);
		else
			pool_exited(d, pid, st);
	pool_settle(d);
}

void
pool_settle(struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		removed_step(p);
	if (d->pools_done && all_reaped(d)) {
		void (*done)(struct weftd *) = d->pools_done;

		d->pools_done = NULL;
		done(d);
	}
}

void
pool_no_respawn(struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p) {
		p->stopping = true;
		wf_timer_stop(p->respawn);
	}
}

void
pool_stop(struct weftd *d, void (*done)(struct weftd *))
{
	struct worker *w;
	struct pool *p;
	unsigned i;

	pool_no_respawn(d);
	d->pools_done = done;
	FOR_POOLS(d, i, p)
		LIST_FOREACH(w, &p->all, plink)
			pool_retire(w, "shutdown");
	if (all_reaped(d)) {
		d->pools_done = NULL;
		done(d);
	}
}

/* From the status timer: the suppressed-output summaries that are due. */
void
pool_tick(struct weftd *d)
{
	uint64_t now = wf_loop_now(d->main);
	struct pool *p;
	unsigned i;

	if (d->views_stale)
		(void)pool_post_views(d);
	FOR_POOLS(d, i, p) {
		pool_flush_output(p, now);
		pool_check_lifetimes(p);
		stats_tick(p);
		removed_step(p);
	}
}

void
pool_workers(const struct weftd *d, unsigned *live, unsigned *configured)
{
	struct pool *p;
	unsigned i;

	*live = *configured = 0;
	FOR_POOLS(d, i, p)
		if (!p->removed) {
			*live += p->live;
			*configured += p->cfg->workers;
		}
}

const char *
pool_trouble(const struct weftd *d)
{
	static _Thread_local char buf[128];
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		if (p->failing) {
			snprintf(buf, sizeof(buf), "%sreload failed: the new "
			    "handler's workers die at start; the previous ones "
			    "serve", p->tag);
			return buf;
		}
	return NULL;
}

void
pool_free(struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p)
		pool_kill(p);
}

/* After the IO loops are joined and the main loop freed: the memory. */
void
pool_free_all(struct weftd *d)
{
	struct pool *p;
	unsigned i;

	FOR_POOLS(d, i, p) {
		dispatch_free(p);
		stats_pool_free(p);
		weftd_pool_cfg_free(p->cfg);
		free(p);
		d->pools[i] = NULL;
	}
}
