/*
 * max_buffered: one count, in bytes, of the requests and answers weftd
 * holds (frames being read, queued, at a worker, waiting for their turn,
 * and answers the client's socket has not taken yet), charged where the
 * memory is taken and released where it is given back, by any thread.
 *
 * Reading requests stops before the count can run away: a connection that
 * already holds something stops reading at 7/8 of the budget (a client
 * between requests can still send one), every connection at the whole
 * budget. Whoever stops says so (budget_wait); the release that brings the
 * count under 3/4 wakes every IO loop at once (front_budget_freed posted),
 * so that no loop is kept waiting by a release it cannot see.
 *
 * Worker sockets are always read: an answer is what frees its request,
 * and the answers being made are bounded by the requests let in.
 */
#include "weftd.h"

static uint64_t
limit(const struct weftd *d)
{
	return atomic_load_explicit(&d->budget_max, memory_order_relaxed);
}

static void
wake_all(struct weftd *d)
{
	unsigned i;

	for (i = 0; i < d->nfronts; i++)
		if (d->fronts[i].loop)
			(void)wf_loop_post(d->fronts[i].loop, front_budget_freed,
			    &d->fronts[i]);
}

void
budget_charge(struct weftd *d, uint64_t n)
{
	atomic_fetch_add_explicit(&d->buffered, n, memory_order_relaxed);
}

void
budget_release(struct weftd *d, uint64_t n)
{
	uint64_t now = atomic_fetch_sub_explicit(&d->buffered, n,
	    memory_order_relaxed) - n;

	if (now < limit(d) / 4 * 3 && atomic_load(&d->budget_waiting) &&
	    atomic_exchange(&d->budget_waiting, false))
		wake_all(d);
}

bool
budget_full(const struct weftd *d)
{
	return atomic_load_explicit(&d->buffered, memory_order_relaxed) >=
	    limit(d);
}

bool
budget_tight(const struct weftd *d)
{
	return atomic_load_explicit(&d->buffered, memory_order_relaxed) >=
	    limit(d) / 8 * 7;
}

/*
 * A loop has stopped reading for the budget. If the count fell under the
 * mark meanwhile, the release that did it may have seen no waiter: wake
 * everyone now rather than wait for a release that may never come.
 */
void
budget_wait(struct weftd *d)
{
	atomic_store(&d->budget_waiting, true);
	if (atomic_load_explicit(&d->buffered, memory_order_relaxed) <
	    limit(d) / 4 * 3 && atomic_exchange(&d->budget_waiting, false))
		wake_all(d);
}

uint64_t
budget_used(const struct weftd *d)
{
	return atomic_load_explicit(&d->buffered, memory_order_relaxed);
}
