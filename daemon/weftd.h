/*
 * weftd's shared state. Three roles, one file each:
 *
 *   front.c     IO threads: client connections, framing, response order
 *   dispatch.c  main thread: the queue, the worker sockets, timeouts
 *   pool.c      main thread: handler processes, their output, reaping
 *
 * A request travels as one struct job, allocated by the IO thread that read
 * it: to the main thread in a batch (one task per IO-loop iteration), to a
 * worker, and back, rewritten in place into the response, to the IO thread
 * in a batch again. The client it belongs to is reference-counted, so a job
 * can outlive its connection; its response is then dropped.
 */
#ifndef WEFTD_H
#define WEFTD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <weft/weft.h>

#include "config.h"

/* Response status codes 1-99 are weftd's own (weftd(8), weft-protocol(7)). */
enum {
	WEFTD_OK = 0,
	WEFTD_BAD_REQUEST = 1,   /* the client broke the protocol */
	WEFTD_OVERLOADED = 2,    /* the queue was full */
	WEFTD_TIMEOUT = 3,       /* request_timeout passed */
	WEFTD_WORKER_FAILED = 4, /* the handler died or misbehaved */
	WEFTD_SHUTTING_DOWN = 5, /* shutdown_timeout passed */
};

struct client;

struct job {
	struct job *next;
	struct client *client;
	uint64_t seq;     /* the request's place on its connection */
	uint64_t t0;      /* main loop ms: queued, then sent to the worker */
	uint32_t cap;     /* bytes of frame[] allocated */
	unsigned char frame[]; /* header + payload, request then response */
};

struct client {
	atomic_uint refs; /* the connection's, plus one per job */
	atomic_bool gone; /* the connection is closed: skip its jobs */
	struct front *front; /* the IO loop that owns it */
	/* IO thread only: */
	wf_conn *conn;
	struct client *prev, *next, *dirty_next;
	uint64_t next_seq, send_seq;
	struct job *pending; /* answers waiting for earlier ones, by seq */
	struct job *pending_tail; /* valid while pending is not empty */
	unsigned inflight;   /* requests read and not yet answered */
	bool paused;  /* by us: max_pipeline requests in flight */
	bool closing; /* read no more; close once nothing is owed */
	bool dirty;   /* on the loop's dirty list */
};

/* One per IO loop. */
struct front {
	struct weftd *d;
	wf_loop *loop;
	unsigned index;
	/* Copies: the IO threads never read d->cfg, which a reload rewrites. */
	uint32_t max_frame;
	unsigned max_pipeline;
	/* IO thread only: */
	struct client *clients;      /* every open one, for draining */
	struct job *out, **out_tail; /* requests read this iteration */
	struct client *dirty;        /* clients with answers to write */
	bool out_posted;
	/* The watchdog's pings (main thread) and their answers. */
	unsigned long pings;
	atomic_ulong pongs;
	/* Main thread only (dispatch.c): answers for this loop. */
	struct job *replies, **replies_tail;
};

struct weftd {
	struct weftd_config cfg;
	const char *cfg_path;
	wf_loop *main;
	wf_server *server;
	struct front *fronts;
	unsigned nfronts;
	struct dispatch *dispatch;
	struct pool *pool;
	atomic_uint clients;       /* open client connections */
	atomic_ullong served;      /* responses handed to the IO threads */
	atomic_bool draining;      /* read by the IO threads */
	bool stopping;             /* a graceful shutdown is under way */
	bool workers_stopping;     /* ... and has reached the workers */
	bool abandoned;            /* ... and passed shutdown_timeout */
	bool exiting;              /* the main loop has returned */
	bool forced;               /* a second signal: exit at once, status 1 */
	wf_signal *signals;
	wf_timer *status_timer, *stop_timer, *watchdog;
	bool stuck; /* an IO loop missed the watchdog's ping */
};

/* weftd.c: every client connection is closed while draining (main loop). */
void weftd_drained(void *d);
/* STATUS= (connections, requests, workers), after extra ("READY=1\n"). */
void weftd_notify_status(struct weftd *d, const char *extra);

/* front.c */
int front_start(struct weftd *d);
int front_listen(struct weftd *d);
bool front_alive(struct weftd *d);
void front_drain(struct weftd *d);
void front_stop(struct weftd *d);
/* Runs on the IO loop: a batch of answered jobs (wf_loop_post target). */
void front_deliver(void *jobs);

/* dispatch.c */
int dispatch_new(struct weftd *d);
void dispatch_close(struct weftd *d);
void dispatch_free(struct weftd *d);
/* Runs on the main loop: a batch of new requests (wf_loop_post target). */
void dispatch_submit(void *jobs);
/* Answer j with a weftd status; its payload becomes msg. */
void dispatch_reply_error(struct weftd *d, struct job *j, uint16_t status,
    const char *msg);
/* Jobs queued or on a worker. */
unsigned dispatch_pending(const struct weftd *d);
/* At shutdown_timeout: every pending job gets `shutting down`. */
void dispatch_abandon(struct weftd *d);

/* reload.c: SIGHUP. */
void weftd_reload(struct weftd *d);

/* job.c: one allocation per request, reused for its response. */
struct job *job_new(struct client *c, uint64_t seq, uint32_t len);
int job_set_response(struct job **jp, uint16_t status, const void *p,
    uint32_t len);
uint32_t job_len(const struct job *j); /* payload length from the header */
void job_free(struct job *j);
void client_unref(struct client *c);

#endif
