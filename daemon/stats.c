/*
 * The snapshot behind weftctl status and /metrics. Everything is read on
 * the main thread: the pools' and workers' own fields directly, what the
 * IO loops count through relaxed atomics (a snapshot may be a few answers
 * behind, never torn within one counter).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "spawn.h"
#include "stats.h"

#ifndef WEFT_VERSION
#define WEFT_VERSION "unknown"
#endif

#define WINDOW 31 /* status ticks (2 s): the last minute, both ends */

const char *const stats_status_names[STATUS_KINDS] = {
	"ok", "bad_request", "overloaded", "timeout", "worker_failed",
	"shutting_down", "no_route", "handler_error",
};

struct pool_window {
	struct {
		unsigned long long lat[LAT_BOUNDS + 1], sum_us;
	} at[WINDOW];
	unsigned pos, n;
};

/* --- text ---------------------------------------------------------------- */

void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t need;
	int n;
	char *p;

	if (o->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p ? o->p + o->len : NULL, o->cap - o->len, fmt,
		    ap);
		va_end(ap);
		if (n < 0) {
			o->failed = true;
			return;
		}
		if (o->len + (size_t)n < o->cap) {
			o->len += (size_t)n;
			return;
		}
		need = o->cap ? o->cap * 2 : 4096;
		while (need <= o->len + (size_t)n)
			need *= 2;
		if ((p = realloc(o->p, need)) == NULL) {
			o->failed = true;
			return;
		}
		o->p = p;
		o->cap = need;
	}
}

void
out_json(struct out *o, const char *s)
{
	const unsigned char *c;

	out_printf(o, "\"");
	for (c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			out_printf(o, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			out_printf(o, "\\u%04x", *c);
		else
			out_printf(o, "%c", *c);
	}
	out_printf(o, "\"");
}

void
out_free(struct out *o)
{
	free(o->p);
	memset(o, 0, sizeof(*o));
}

/* --- the latency of the last minute -------------------------------------- */

static unsigned long long
load(atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* p's latency counts now, all lanes together. */
static void
pool_lat(const struct pool *p, unsigned long long *lat,
    unsigned long long *sum_us)
{
	unsigned i, k;

	memset(lat, 0, (LAT_BOUNDS + 1) * sizeof(*lat));
	*sum_us = 0;
	for (i = 0; p->ds && i < p->ds->nlanes; i++) {
		struct lane *l = p->ds->lanes[i];

		for (k = 0; k <= LAT_BOUNDS; k++)
			lat[k] += load(&l->st.lat[k]);
		*sum_us += load(&l->st.lat_sum_us);
	}
}

void
stats_tick(struct pool *p)
{
	struct pool_window *w = p->window;

	if (w == NULL && (w = p->window = calloc(1, sizeof(*w))) == NULL)
		return;
	pool_lat(p, w->at[w->pos].lat, &w->at[w->pos].sum_us);
	w->pos = (w->pos + 1) % WINDOW;
	if (w->n < WINDOW)
		w->n++;
}

void
stats_pool_free(struct pool *p)
{
	free(p->window);
	p->window = NULL;
}

/*
 * The q quantile of a histogram (n answers), interpolated within its
 * bucket as Prometheus' histogram_quantile() does; in ms.
 */
static double
quantile(const unsigned long long *lat, unsigned long long n, double q)
{
	double rank = q * (double)n, below = 0, lo, hi;
	unsigned i;

	for (i = 0; i <= LAT_BOUNDS; i++) {
		if (below + (double)lat[i] >= rank && lat[i] > 0)
			break;
		below += (double)lat[i];
	}
	if (i >= LAT_BOUNDS) /* beyond the last bound: say the bound */
		return (double)lat_bounds_us[LAT_BOUNDS - 1] / 1000;
	lo = i ? (double)lat_bounds_us[i - 1] : 0;
	hi = (double)lat_bounds_us[i];
	return (lo + (hi - lo) * (rank - below) / (double)lat[i]) / 1000;
}

static void
window_figures(const struct pool *p, struct pool_snap *ps)
{
	const struct pool_window *w = p->window;
	unsigned long long d[LAT_BOUNDS + 1], n = 0, sum;
	unsigned i, old;

	memcpy(d, ps->lat, sizeof(d));
	sum = ps->lat_sum_us;
	if (w && w->n) {
		/* The oldest kept: a minute ago once the ring is full. */
		old = w->n < WINDOW ? 0 : w->pos;
		for (i = 0; i <= LAT_BOUNDS; i++)
			d[i] -= w->at[old].lat[i];
		sum -= w->at[old].sum_us;
	}
	for (i = 0; i <= LAT_BOUNDS; i++)
		n += d[i];
	ps->avg_ms = n ? (double)sum / (double)n / 1000 : -1;
	ps->p99_ms = n ? quantile(d, n, 0.99) : -1;
}

/* --- workers ------------------------------------------------------------- */

/* A worker that takes new requests. */
static bool
serving(const struct worker *w)
{
	return w->on_loop && !w->retired && !w->probation && !w->leaving;
}

static void
worker_snap(const struct weftd *d, const struct worker *w,
    struct worker_snap *ws, struct pool_snap *ps, time_t now,
    uint64_t now_ms)
{
	uint64_t t0 = atomic_load_explicit(&w->head_t0, memory_order_relaxed);

	ws->pid = w->pid;
	ws->served = atomic_load_explicit(&w->served, memory_order_relaxed);
	ws->age_ms = t0 && now_ms >= t0 ? (long long)(now_ms - t0) : -1;
	ws->rss = w->exited ? -1 : weftd_rss(w->statm);
	ws->started = now - (time_t)((wf_loop_now(d->main) - w->started) / 1000);
	ws->why = NULL;
	ws->replaces = w->replaces;
	ws->max_requests = w->recycle_after;
	ws->recycling = w->recycling;
	if (w->retired) {
		ws->state = "stopping";
		ws->why = w->why;
		ps->stopping++;
	} else if (w->probation) {
		ws->state = "starting";
		ps->starting++;
	} else if (w->leaving) {
		ws->state = "leaving";
		ps->leaving++;
	} else if (t0) {
		ws->state = "busy";
		ps->busy++;
	} else {
		ws->state = "idle";
		ps->idle++;
	}
	ps->ready += serving(w);
}

/* --- the snapshot -------------------------------------------------------- */

static int
pool_snap(struct weftd *d, struct pool *p, struct pool_snap *ps, time_t now)
{
	/* IO loop ms and main loop ms are one clock (CLOCK_MONOTONIC). */
	uint64_t now_ms = wf_loop_now(d->main);
	const struct worker *w;
	unsigned i, k, n = 0;

	ps->name = p->cfg->name;
	ps->command = p->cfg->argv[0];
	ps->workers = p->cfg->workers;
	ps->min = p->cfg->min_workers;
	ps->max = p->cfg->max_workers;
	ps->dynamic = p->cfg->dynamic;
	ps->queue_limit = p->cfg->queue_limit;
	ps->slow_ms = p->cfg->slow_request_ms;
	ps->respawns = p->respawns;
	memcpy(ps->recycled, p->recycled, sizeof(ps->recycled));
	if (p->ds) {
		ps->queued = atomic_load(&p->ds->qlen);
		ps->queue_max = atomic_load(&p->ds->qmax);
		for (i = 0; i < p->ds->nlanes; i++) {
			struct lane *l = p->ds->lanes[i];

			for (k = 0; k < STATUS_KINDS; k++)
				ps->answers[k] += load(&l->st.answers[k]);
			ps->max_reached += load(&l->st.max_reached);
			ps->slow += load(&l->st.slow);
		}
	}
	for (k = 0; k < STATUS_KINDS; k++)
		ps->requests += ps->answers[k];
	pool_lat(p, ps->lat, &ps->lat_sum_us);
	window_figures(p, ps);
	LIST_FOREACH(w, &p->all, plink)
		n++;
	if (n && (ps->w = calloc(n, sizeof(*ps->w))) == NULL)
		return -ENOMEM;
	LIST_FOREACH(w, &p->all, plink)
		worker_snap(d, w, &ps->w[ps->nw++], ps, now, now_ms);
	ps->exits = p->exits;
	ps->nexits = p->nexits < 8 ? p->nexits : 8;
	ps->exit0 = p->nexits < 8 ? 0 : p->nexits % 8;
	return 0;
}

static void
listener_snaps(struct weftd *d, struct snapshot *s)
{
	struct listener_snap *ls;
	struct wf_addr a;
	unsigned i, m;

	for (i = 0; i < MAX_ADDRS; i++) {
		if (d->ls_key[i][0] == '\0' && i >= d->adopted)
			continue;
		ls = &s->ls[s->nls];
		if (wf_server_listener_stats(d->server, i, &ls->st) < 0 ||
		    wf_server_addr(d->server, i, &a) < 0)
			continue;
		wf_addr_format(&a, ls->addr, sizeof(ls->addr));
		m = atomic_load(&d->lmap[i]);
		ls->pool = m && d->pools[(m & 0xff) - 1] ?
		    d->pools[(m & 0xff) - 1]->cfg->name : NULL;
		s->nls++;
	}
}

int
stats_take(struct weftd *d, struct snapshot *s)
{
	time_t now = time(NULL);
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->pid = getpid();
	s->version = WEFT_VERSION;
	s->config = d->cfg_path;
	s->started = d->started_at;
	s->loaded = d->loaded_at;
	s->uptime_s = (wf_loop_now(d->main) - d->started_ms) / 1000;
	s->reloads = d->reloads;
	s->reload_failures = d->reload_failures;
	s->io_threads = d->cfg.io_threads;
	s->clients = atomic_load(&d->clients);
	s->draining = d->stopping;
	s->served = atomic_load(&d->served);
	for (i = 0; i < CLOSE_REASONS; i++)
		s->closed[i] = atomic_load(&d->closed[i]);
	s->buffered = budget_used(d);
	s->budget = atomic_load(&d->budget_max);
	s->ready = stats_ready(d, NULL, 0);
	if (d->server)
		listener_snaps(d, s);
	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i] && !d->pools[i]->removed &&
		    pool_snap(d, d->pools[i], &s->pools[s->npools++], now) < 0)
			return -ENOMEM;
	return 0;
}

void
stats_free(struct snapshot *s)
{
	unsigned i;

	for (i = 0; i < s->npools; i++)
		free(s->pools[i].w);
	s->npools = 0;
}

bool
stats_ready(const struct weftd *d, char *why, size_t len)
{
	const struct worker *w;
	unsigned i;

	if (d->stopping) {
		if (why)
			snprintf(why, len, "draining");
		return false;
	}
	for (i = 0; i < MAX_POOLS; i++) {
		const struct pool *p = d->pools[i];

		if (p == NULL || p->removed || p->fresh)
			continue;
		LIST_FOREACH(w, &p->all, plink)
			if (serving(w))
				break;
		/* Started on demand: ready while its workers can start. */
		if (w == NULL && p->cfg->dynamic && p->cfg->min_workers == 0 &&
		    p->quick_fails == 0)
			continue;
		if (w == NULL) {
			if (why)
				snprintf(why, len, "pool %s has no worker ready",
				    p->cfg->name);
			return false;
		}
	}
	if (why)
		snprintf(why, len, "ready");
	return true;
}
