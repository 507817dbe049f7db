/*
 * weftd's shared state. Four roles, one file each:
 *
 *   front.c     IO threads: client connections, framing, response order
 *   dispatch.c  IO threads: where each request goes, the shared queue
 *   worker.c    IO threads: the worker sockets each loop owns
 *   pool.c      main thread: handler processes, their output, reaping
 *
 * A request travels as one struct job, allocated by the IO thread that read
 * it, to a worker of the same loop and back, rewritten in place into the
 * answer: no other thread sees it. Only when another loop has a less busy
 * worker does it cross to that loop (or, when none has room, wait in the
 * shared queue), and its answer comes back in that loop's batch for this
 * one. The client is reference-counted for those, so a job can outlive its
 * connection; its answer is then dropped.
 */
#ifndef WEFTD_H
#define WEFTD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <weft/weft.h>

#include "config.h"
#include "log.h"

/* Response status codes 1-99 are weftd's own (weftd(8), weft-protocol(7)). */
enum {
	WEFTD_OK = 0,
	WEFTD_BAD_REQUEST = 1,   /* the client broke the protocol */
	WEFTD_OVERLOADED = 2,    /* the queue was full */
	WEFTD_TIMEOUT = 3,       /* request_timeout passed */
	WEFTD_WORKER_FAILED = 4, /* the handler died or misbehaved */
	WEFTD_SHUTTING_DOWN = 5, /* shutdown_timeout passed */
	WEFTD_NO_ROUTE = 6,      /* no pool claims the request's route */
};

/* Why weftd closed or refused a connection: counted, and in STATUS. */
enum weftd_close {
	CLOSE_BAD_REQUEST,  /* broke the protocol */
	CLOSE_FRAME_TIMEOUT, /* a frame did not arrive whole in time */
	CLOSE_SEND_TIMEOUT, /* did not read its answers in time */
	CLOSE_IDLE,         /* idle_timeout */
	CLOSE_EVICTED,      /* made room for a new one at max_connections */
	CLOSE_UNREAD,       /* answers owed over max_buffered_per_client */
	REFUSED_FULL,       /* max_connections, nothing to evict */
	REFUSED_PER_IP,     /* max_connections_per_ip */
	CLOSE_REASONS
};

extern const char *const weftd_close_names[CLOSE_REASONS];

struct client;

/* Frames up to this are read whole into memory; larger ones in place. */
#define WHOLE_FRAME (64 * 1024)

/*
 * A request, then its answer. Its memory (struct and frame[]) is charged
 * to the budget while it exists: job_charge(j) bytes.
 */
struct job {
	struct job *next;
	struct client *client;
	struct dispatch *ds; /* its pool's, once submitted */
	uint64_t seq;     /* the request's place on its connection */
	uint64_t t0;      /* loop ms: queued, then given to its worker */
	uint64_t born;    /* loop ns (CLOCK_MONOTONIC): submitted (latency) */
	uint32_t cap;     /* bytes of frame[] usable, and charged */
	uint32_t alloc;   /* bytes of frame[] allocated: cap or more */
	uint32_t held;    /* of its charge, what its client's count has */
	uint16_t tag;     /* its worker's tag for it; 0: untagged */
	uint8_t resends;  /* sent again, its worker having failed before it */
	bool slow;        /* logged as slow: its end is logged too */
	unsigned char frame[]; /* header + payload, request then response */
};

/* Why a connection is not being read (client.stop); any one stops it. */
enum {
	STOP_PIPELINE = 1, /* max_pipeline requests in flight */
	STOP_CLIENT = 2,   /* it holds max_buffered_per_client */
	STOP_BUDGET = 4,   /* max_buffered: until the budget frees */
};

struct client {
	atomic_uint refs; /* the connection's, plus one per job */
	atomic_bool gone; /* the connection is closed: skip its jobs */
	struct front *front; /* the IO loop that owns it */
	/* IO thread only: */
	wf_conn *conn;
	LIST_ENTRY(client) link; /* the front's clients */
	struct client *dirty_next;
	uint64_t next_seq, send_seq;
	struct job *pending; /* answers waiting for earlier ones, by seq */
	struct job *pending_tail; /* valid while pending is not empty */
	struct job *partial; /* the request being read, not complete yet */
	uint32_t have;       /* bytes of it read, header included */
	uint32_t fill_base;  /* have when it began to be read in place */
	unsigned inflight;   /* requests read and not yet answered */
	unsigned stop;       /* STOP_*: reading paused by us, and why */
	uint64_t held;       /* bytes it holds, all of it charged */
	uint64_t want;       /* STOP_CLIENT: what the next frame needs */
	uint64_t lib_in;     /* of held: input the connection buffers */
	uint64_t out_held;   /* of held: answers in its output buffer */
	uint64_t frame_t0;   /* loop ms: first byte of the frame being read */
	unsigned home_slot, home_serial; /* its listener's pool (route 0) */
	/* Its peer (getpeername at open), for slow_request's log on any loop:
	 * AF_INET or AF_INET6 (0: a Unix peer), the address, the port. */
	uint8_t peer_family;
	uint16_t peer_port;
	unsigned char peer_addr[16];
	/* send_timeout: when the bytes up to each end were queued. */
	uint64_t appended;   /* bytes given to wf_conn_sendv, ever */
	struct { uint64_t end, at; } marks[8];
	unsigned nmarks;
	/* Either: answer what is owed, then close. */
	bool discard; /* drop its input: it broke the protocol or a deadline */
	bool eof;     /* no more input: it half-closed, or weftd drains */
	bool dirty;   /* on the loop's dirty list */
};

/* One per IO loop; cache-line aligned (aligned_alloc), see below. */
struct front {
	struct weftd *d;
	wf_loop *loop;
	unsigned index;
	/*
	 * dispatch.c: each pool's lane on this loop, by slot, and the route
	 * table (in the view); set by the main thread's posts
	 * (dispatch_views()), before any connection opens.
	 */
	struct lane *lanes[MAX_POOLS];
	struct lane *active[MAX_POOLS]; /* the lanes, packed */
	unsigned nactive;
	struct view *view;
	/* Copies: the IO threads never read d->cfg, which a reload rewrites. */
	uint32_t max_frame;
	unsigned max_pipeline;
	uint64_t max_client;         /* max_buffered_per_client */
	uint64_t frame_ms, send_ms;  /* frame_timeout, send_timeout */
	/* IO thread only: */
	LIST_HEAD(, client) clients; /* every open one, for draining */
	struct client *dirty;        /* clients with answers to write */
	bool flush_posted;           /* front_kick(): the flush task is queued */
	bool starved;                /* the budget is spent: nothing reads */
	wf_timer *tick;              /* deadlines and log summaries */
	struct weftd_rl rl;          /* lines clients cause */
	struct weftd_rl slow_rl;     /* slow_request's lines, this loop's */
	/*
	 * The watchdog's pings (main thread) and their answers (this loop):
	 * each on a line of its own, away from what the loop writes.
	 */
	_Alignas(64) unsigned long pings;
	_Alignas(64) atomic_ulong pongs;
};

/* What a listener delivers to: its pool's slot + 1 and serial << 8; 0: none. */
#define LMAP(slot, serial) (((unsigned)(slot) + 1) | (unsigned)(serial) << 8)

struct weftd {
	struct weftd_config cfg;
	const char *cfg_path;
	wf_loop *main;
	wf_server *server;
	struct front *fronts;
	unsigned nfronts;
	struct pool *pools[MAX_POOLS]; /* main thread; by slot */
	unsigned pool_serial;
	void (*pools_done)(struct weftd *); /* pool_stop(): when all are reaped */
	bool views_stale;          /* pool_post_views() failed: tick retries */
	/*
	 * Listeners (by wf_server's index): their address as formatted, or a
	 * socket from systemd's FileDescriptorName; "": not open. Main thread.
	 */
	char ls_key[MAX_ADDRS][128];
	unsigned adopted; /* socket activation: listeners 0.., fixed */
	atomic_uint lmap[MAX_ADDRS];    /* LMAP() */
	atomic_uint clients;       /* open client connections */
	atomic_ullong served;      /* answers given to clients' loops */
	/* budget.c: max_buffered, and what is held against it. */
	atomic_ullong budget_max;
	atomic_ullong buffered;
	atomic_bool budget_waiting; /* someone stopped reading for it */
	atomic_ulong closed[CLOSE_REASONS];
	atomic_bool draining;      /* read by the IO threads */
	bool stopping;             /* a graceful shutdown is under way */
	bool delaying;             /* ... and waits out drain_delay */
	bool workers_stopping;     /* ... and has reached the workers */
	bool abandoned;            /* ... and passed shutdown_timeout */
	bool exiting;              /* the main loop has returned */
	bool forced;               /* a second signal: exit at once, status 1 */
	bool failed;               /* exit 1 after the drain: spawner lost */
	/* spawner.c: handlers come from it (even once it is lost); its
	 * sockets (-1: none, or lost), its pid (0: none, or reaped). */
	bool privsep;
	int spawner_req, spawner_ev;
	pid_t spawner_pid;
	wf_io *spawner_io;
	wf_timer *lost_timer;      /* weftd_spawner_lost(): from the loop */
	wf_signal *signals;
	wf_timer *status_timer, *stop_timer, *watchdog;
	time_t started_at, loaded_at; /* wall clock: start, last (re)load */
	uint64_t started_ms;          /* main loop ms at start */
	unsigned long long reloads, reload_failures;
	struct admin *control, *metrics; /* admin.c; NULL: none */
	bool stuck; /* an IO loop missed the watchdog's ping */
};

/* weftd.c: the spawner is gone (why: "exited", ...): drain, exit 1. */
void weftd_spawner_lost(struct weftd *d, const char *why);
/* weftd.c: every client connection is closed while draining (main loop). */
void weftd_drained(void *d);
/* STATUS= (connections, requests, workers), after extra ("READY=1\n"). */
void weftd_notify_status(struct weftd *d, const char *extra);

/* budget.c: charge and release bytes (any thread); see there. */
void budget_charge(struct weftd *d, uint64_t n);
void budget_release(struct weftd *d, uint64_t n);
bool budget_full(const struct weftd *d);
bool budget_tight(const struct weftd *d);
void budget_wait(struct weftd *d);
uint64_t budget_used(const struct weftd *d);

/* front.c */
int front_start(struct weftd *d);
/* A reload: the IO threads take the limits they may change at run time. */
void front_apply(struct weftd *d);
/* Posted by budget.c to each IO loop (arg: its front). */
void front_budget_freed(void *f);
bool front_alive(struct weftd *d);
void front_drain(struct weftd *d);
void front_stop(struct weftd *d);
/* On f's loop: have the flush task run at the end of this iteration. */
void front_kick(struct front *f);
/* On f's loop: j's answer, for a client of f (written by the flush). */
void front_answer(struct front *f, struct job *j);
/* Runs on the client's loop: answers from another loop (wf_loop_post). */
void front_deliver(void *jobs);

/* dispatch.c */
/* Each IO loop gets the pools' lanes and routes as they are now. */
int dispatch_views(struct weftd *d);
/* On f's loop: the lane of j's route (0: c's listener's pool), or NULL. */
struct lane *dispatch_route(struct front *f, const struct client *c,
    uint16_t route);
/* Before the IO threads are joined: each loop lets go of its workers. */
void dispatch_close(struct weftd *d);
/* On l's loop: a request read whole; its answer comes to front_answer. */
void dispatch_submit(struct lane *l, struct job *j);
/* On f's loop, from its flush task: write to the workers, post batches. */
void dispatch_flush(struct front *f);
/* On f's loop, every tick: requests that waited in the queue too long. */
void dispatch_tick(struct front *f);
/* Jobs queued, on their way, or on a worker (any thread). */
unsigned dispatch_pending(const struct weftd *d);
/* At shutdown_timeout: every pending job gets `shutting down`. */
void dispatch_abandon(struct weftd *d);

/* listen.c: listeners, and the pool each delivers to (d->lmap). */
int listen_start(struct weftd *d);
/*
 * The listeners become those top (for `default`) and the pools (n, NULL
 * skipped) name; all or nothing. Main thread.
 */
struct pool;
int listen_apply(struct weftd *d, char *const *top, unsigned ntop,
    struct weftd_pool_cfg *const *cfgs, struct pool *const *pools,
    unsigned n);

/*
 * reload.c: SIGHUP, weftctl reload. 0, or -1 with why in err (logged): the
 * running configuration stays.
 */
int weftd_reload(struct weftd *d, char *err, size_t errlen);

/*
 * job.c: one allocation per request, reused for its response; cap bytes of
 * frame[] to begin with. Every byte is charged to the budget.
 */
struct job *job_new(struct client *c, uint64_t seq, uint32_t cap);
/*
 * For a frame over WHOLE_FRAME: size bytes allocated at once (so it can be
 * read in place), the header's charged; job_fill() charges the rest.
 */
struct job *job_new_large(struct client *c, uint64_t seq, uint32_t size);
/* size bytes of frame[] allocated, not charged; *jp may move. */
int job_reserve(struct job **jp, uint32_t size);
/* cap (<= alloc) bytes are in use now: charge them; j does not move. */
void job_fill(struct job *j, uint32_t cap);
int job_set_response(struct job **jp, uint16_t status, const void *p,
    uint32_t len);
/*
 * j's answer is weftd's own error: a small job of its own replaces j
 * (freed), so a large request's memory is not kept for a short message.
 * Returns the job to answer with (j itself, with no text, when out of
 * memory).
 */
struct job *job_error(struct job *j, uint16_t status, const char *msg);
uint64_t job_charge(const struct job *j);
uint32_t job_len(const struct job *j); /* payload length from the header */
void job_free(struct job *j);
/* The calling thread's cache of free jobs (done at thread exit anyway). */
void job_cache_drain(void);
void client_unref(struct client *c);

#endif
