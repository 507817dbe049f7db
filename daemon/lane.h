/*
 * The dispatch's state, shared by dispatch.c (where requests go, the
 * shared queue, batches between loops) and worker.c (a worker's socket on
 * the IO loop that owns it). Nothing here is for the rest of weftd.
 */
#ifndef WEFTD_LANE_H
#define WEFTD_LANE_H

#include <pthread.h>
#include <stdatomic.h>

#include "pool.h"

#define PIPE_BYTES (64 * 1024) /* requests outstanding on a busy worker */
#define PIPE_AUTO 16  /* pipeline = auto: requests on a busy worker, at least */
#define PIPE_MAX 256  /* ... and at most, its share of a backlog */
#define STUCK_MS 10 /* nothing is sent behind a request older than this */
#define KEY_T0 ((UINT64_C(1) << 48) - 1)
#define NO_ROOM UINT64_MAX

/*
 * Answers by status: weftd's own codes 0-6 (0 is the handler's success),
 * and any other code a handler sent (STATUS_HANDLER).
 */
#define STATUS_HANDLER 7
#define STATUS_KINDS 8
/* Latency buckets' upper bounds in microseconds; one more for the rest. */
#define LAT_BOUNDS 18
extern const uint64_t lat_bounds_us[LAT_BOUNDS];

/*
 * A lane's counts: written by its loop only, read by the main thread
 * (stats.c) which sums the lanes. Relaxed: they are counts, not signals.
 */
struct lane_stats {
	atomic_ullong answers[STATUS_KINDS];
	atomic_ullong lat[LAT_BOUNDS + 1];
	atomic_ullong lat_sum_us;
	atomic_ullong max_reached; /* requests queued: no worker had room */
	atomic_ullong slow;        /* requests logged by slow_request */
};

struct xfer {
	struct job *head, **tail;
};

/*
 * A loop's share of a pool's dispatch. Its own loop only, but for the
 * atomics; the limits are copies of the pool's, set by dispatch_views().
 */
struct lane {
	struct dispatch *ds;
	struct front *f;
	unsigned serial;         /* its pool's (struct pool) */
	bool routable;           /* not removed: requests may come to it */
	unsigned pipeline, queue_limit; /* pipeline 0: auto */
	unsigned nworkers;       /* the pool's size, as configured */
	uint64_t request_ms;     /* request_timeout */
	LIST_HEAD(, worker) workers; /* given to this loop and not down yet */
	LIST_HEAD(, worker) idle;    /* usable, with nothing outstanding */
	struct worker *to_write; /* with requests not yet written */
	unsigned nidle;
	struct xfer *req, *ans;  /* per loop: requests and answers for it */
	bool xdirty;             /* some xfer is not empty */
	bool kicked;             /* changed since the last flush (lane_kick) */
	bool closed;             /* dispatch_close(): drop everything */
	uint64_t slow_ms;        /* slow_request; 0: off */
	struct lane_stats st;
	unsigned placed;         /* main thread: workers given it */
	/* Read by the other loops. */
	_Alignas(64) atomic_uint pub_idle; /* idle workers */
	atomic_ullong pub_key;  /* the least-loaded one's, or NO_ROOM */
	atomic_bool nudged;
};

/* A pool's dispatch: its lane on each loop, its shared queue. */
struct dispatch {
	struct weftd *d;
	struct pool *pool;
	struct lane **lanes;
	unsigned nlanes;
	atomic_uint pending;   /* jobs submitted and not answered or dropped */
	atomic_uint nworkers;  /* workers not freed yet */
	atomic_bool abandoned; /* shutdown_timeout passed */
	/* The shared queue, oldest first, on a line of its own. */
	_Alignas(64) pthread_mutex_t qlock;
	struct job *qhead, **qtail;
	atomic_uint qlen;
	atomic_uint qmax;      /* the longest qlen has been */
};

static inline uint64_t
frame_size(const struct job *j)
{
	return WF_FRAME_HDR + (uint64_t)job_len(j);
}

/*
 * Something of l changed: the flush at the end of this iteration looks at
 * it (and at no lane that did not change, but for one with a queue).
 */
static inline void
lane_kick(struct lane *l)
{
	l->kicked = true;
	front_kick(l->f);
}

/* dispatch.c: on l's loop. */
/* j goes to a worker, another loop (may_hand), the queue, or back. */
void lane_place(struct lane *l, struct job *j, bool may_hand);
/* j is answered: to its client, here or in the batch for its loop. */
void lane_answer(struct lane *l, struct job *j);
void lane_answer_error(struct lane *l, struct job *j, uint16_t status,
    const char *msg);

/* worker.c: on l's loop. */
/* The least-loaded worker that can take size more bytes, or NULL. */
struct worker *lane_best(struct lane *l, uint64_t size);
/* How loaded w is, smaller is better (lane_best's order). */
uint64_t worker_load(const struct worker *w);
/* j goes to w; written by lane_write(), in this iteration's flush. */
void worker_assign(struct lane *l, struct worker *w, struct job *j);
/* Write every worker's new requests. */
void lane_write(struct lane *l);
/* Out of service: its head gets status (0: is resent), the rest resent. */
void worker_take_down(struct lane *l, struct worker *w, uint16_t status,
    const char *msg);
/* Off the loop's list; its timer and socket closed. */
void worker_unlink(struct worker *w);

#endif
