/*
 * Dynamic pools (max_workers set): every SCALE_MS the main thread looks
 * at what the IO loops publish (the queue's length, each worker's oldest
 * request and when it last went idle) and moves the pool's target size
 * (cfg->workers) within min_workers .. max_workers:
 *
 *   grow   by the requests queued beyond the workers already starting,
 *          or to keep spare_workers idle; at most spawn_rate starts a
 *          second (a token bucket, as deep as one second's), so a spike
 *          is no fork storm;
 *   shrink by the workers idle longer than worker_idle_timeout beyond
 *          spare_workers, never below min_workers. A worker told to go
 *          takes no new request and is retired only once it has
 *          answered the ones it has: one that got a request meanwhile
 *          finishes it first.
 *
 * A respawn (a worker that died) is not growth: it is pool.c's, with its
 * own backoff.
 */
#include <stdio.h>

#include "lane.h"

#define SCALE_MS 100

struct counts {
	unsigned idle, starting;
};

static struct counts
count(const struct pool *p)
{
	struct counts c = { 0, 0 };
	const struct worker *w;

	LIST_FOREACH(w, &p->all, plink) {
		if (w->retired || w->leaving || pool_is_old(p, w))
			continue;
		if (w->probation || !w->on_loop)
			c.starting++;
		else if (atomic_load_explicit(&w->head_t0,
		    memory_order_relaxed) == 0)
			c.idle++;
	}
	return c;
}

static void
on_scale(wf_timer *t, void *arg)
{
	struct pool *p = arg;
	const struct weftd_pool_cfg *cfg = p->cfg;
	uint64_t now = wf_loop_now(p->d->main), cap = cfg->spawn_rate * 1000u;
	unsigned target = cfg->workers, queued, add = 0, n;
	struct counts c = count(p);

	(void)t;
	if (p->stopping || p->removed)
		return;
	p->tokens += (now - p->scaled_at) * cfg->spawn_rate;
	if (p->tokens > cap)
		p->tokens = cap;
	p->scaled_at = now;
	queued = p->ds ? atomic_load(&p->ds->qlen) : 0;
	if (queued > c.starting)
		add = queued - c.starting;
	if (cfg->spare_workers > c.idle + c.starting &&
	    cfg->spare_workers - c.idle - c.starting > add)
		add = cfg->spare_workers - c.idle - c.starting;
	if (target < cfg->min_workers)
		add = add > cfg->min_workers - target ? add :
		    cfg->min_workers - target;
	if (add > cfg->max_workers - target)
		add = cfg->max_workers - target;
	if (add > p->tokens / 1000)
		add = (unsigned)(p->tokens / 1000);
	if (add) {
		p->tokens -= add * 1000u;
		if (weftd_rl_allow(&p->scale_rl, now))
			weftd_log(LOG_INFO, "%sgrowing to %u workers (%u requests "
			    "queued, %u idle)", p->tag, target + add, queued,
			    c.idle);
		pool_set_size(p, target + add, "resized");
		return;
	}
	/* Shrink: one look per idle worker, the longest idle first. */
	for (n = target; queued == 0 && n > cfg->min_workers &&
	    c.idle > cfg->spare_workers; n--, c.idle--) {
		struct worker *w = pool_spare(p, cfg->worker_idle_timeout_ms);

		if (w == NULL)
			break;
		pool_let_go(w, "idle");
	}
	if (n != target) {
		if (weftd_rl_allow(&p->scale_rl, now))
			weftd_log(LOG_INFO, "%sshrinking to %u workers (idle over "
			    "%llu ms)", p->tag, n, (unsigned long long)
			    cfg->worker_idle_timeout_ms);
		p->cfg->workers = n;
		(void)pool_post_views(p->d);
	}
}

int
scale_start(struct pool *p)
{
	int rc;

	if (!p->cfg->dynamic || p->scale)
		return 0;
	p->scale_rl.burst = 20;
	p->scale_rl.interval_ms = 1000;
	snprintf(p->scale_rl.what, sizeof(p->scale_rl.what), "%sresize lines",
	    p->tag);
	p->scaled_at = wf_loop_now(p->d->main);
	p->tokens = p->cfg->spawn_rate * 1000u;
	if ((rc = wf_timer_new(p->d->main, &p->scale, on_scale, p)) < 0)
		return rc;
	return wf_timer_start(p->scale, SCALE_MS, SCALE_MS);
}

void
scale_stop(struct pool *p)
{
	if (p->scale)
		wf_timer_free(p->scale);
	p->scale = NULL;
}
