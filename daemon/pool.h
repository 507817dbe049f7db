/* The handler processes: start, watch, retire, reap, replace. */
#ifndef WEFTD_POOL_H
#define WEFTD_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "log.h"
#include "weftd.h"

#define WORKER_LINE 256 /* a longer line of output is logged in pieces */

struct worker {
	struct weftd *d;
	struct pool *pool;
	LIST_ENTRY(worker) plink;   /* the pool's: every process not yet reaped */
	pid_t pid;
	int out;                    /* its stdout and stderr */
	wf_io *out_io;
	wf_timer *kill_timer;       /* probation's end; later SIGKILL */
	uint64_t started;           /* main loop ms */
	const char *why;            /* why it was retired, for the exit log */
	const char *replaces;       /* why the one it replaced went; NULL */
	int statm;                  /* its /proc/PID/statm; -1: none */
	/* Recycling: set before its loop has it, then read-only. */
	unsigned long recycle_after; /* answers; 0: never */
	uint64_t max_rss;           /* bytes; 0: not checked */
	uint64_t die_at;            /* main loop ms (max_lifetime); 0: never */
	const char *recycling;      /* main: being replaced, successor first,
	                               for this (RECYCLE_*); NULL: not */
	bool recycle_asked;         /* its loop: asked the main thread once */
	int recycle_reason;         /* ... for this (RECYCLE_*) */
	bool retired, exited;
	bool termed;                /* SIGTERM sent */
	unsigned gen;               /* the configuration it was started for */
	bool probation;             /* started by a reload: no requests until
	                               it has lived QUICK_MS (then it is up) */
	bool leaving;               /* replaced (reload, restart) or not needed
	                               (resize): no new requests, retired
	                               once idle, for leave_why */
	const char *leave_why;
	size_t linelen;
	char line[WORKER_LINE];
	struct weftd_rl out_rl;     /* its output lines in the log */
	bool eof;                   /* it closed its socket (its loop said) */
	/*
	 * worker.c. Set before its loop is given it, then written by that
	 * loop only (its pid, gen and the fields above never change there).
	 */
	atomic_uint refs;           /* pool.c's, its loop's, one per post */
	struct lane *lane;          /* the IO loop that owns its socket */
	bool on_loop;               /* main: its loop has it (up, not down) */
	int sock;                   /* until its loop takes it */
	bool io_ready;              /* out of probation */
	bool quiet;                 /* leaving: no new requests */
	bool dead;                  /* out of service on its loop */
	bool retire_asked;          /* its loop asked pool.c to retire it */
	bool down_exited;           /* main: it was down because it exited */
	bool down_pending;          /* ... and its loop reads what it left */
	uint64_t answered_ms;       /* loop ms of its last answer */
	const char *io_why;         /* ... why; and io_eof: it closed first */
	bool io_eof;
	bool idle, in_write;        /* on the lane's idle / to-write list */
	wf_conn *conn;              /* NULL once down */
	LIST_ENTRY(worker) llink;   /* the lane's workers */
	LIST_ENTRY(worker) ilink;   /* the lane's idle workers */
	struct worker *wnext;         /* the lane's workers with unsent jobs */
	struct job *head, **tail;   /* requests given it, oldest first */
	struct job *unsent;         /* of those, the first not yet written */
	unsigned njobs;
	uint64_t bytes;             /* of the requests given it */
	bool tagged;                /* it said hello: its answers carry tags */
	uint16_t last_tag;
	/* A large answer read into its head's job (no longer resendable). */
	bool in_place;
	uint16_t ans_status;
	uint32_t ans_len, ans_base; /* its length; bytes in before the read */
	wf_timer *timer;            /* request_timeout of the oldest */
	/* Charged to the budget: what its socket buffers, both ways. */
	uint64_t lib_in, out_held;
	atomic_ullong idle_since;   /* loop ms it last became idle; 0: never
	                               had a request (scale.c) */
	atomic_ullong head_t0;      /* loop ms its oldest request was given
	                               it; 0: it has none (stats.c) */
	atomic_ulong assigned;      /* requests given it, ever */
	atomic_ulong served;
};

/*
 * A pool: its configuration, its handler processes (main thread), and its
 * dispatch (the IO loops' side, lane.h). It keeps a slot (its index in
 * d->pools and in each front's lanes) for its whole life; serial tells a
 * pool from an earlier one that had the same slot.
 */
struct pool {
	struct weftd *d;
	struct weftd_pool_cfg *cfg; /* its own: a reload gives it the new one */
	unsigned slot, serial;
	struct dispatch *ds;
	LIST_HEAD(, worker) all;
	unsigned gen;         /* the configuration running: one per reload */
	unsigned live;        /* of gen: started and not retired */
	unsigned old_live;    /* of earlier ones: serving until replaced */
	bool failing;         /* gen's workers die in probation */
	bool rolling;         /* a restart: one new worker at a time */
	unsigned file_max;    /* max_workers as the file says (resize's cap
	                         under the spawner) */
	unsigned quick_fails; /* in a row */
	uint64_t not_before;  /* backoff: no start before this (ms) */
	wf_timer *respawn;
	bool stopping;
	bool removed;         /* by a reload: stops once its requests are done */
	bool sweeping;        /* removed, and on its way out (pool.c) */
	bool fresh;           /* added by a reload not committed yet: no routes */
	bool views_posted;    /* removed, and views without it are on their way */
	bool unrouted;        /* ... and every loop has them */
	struct weftd_rl life_rl;  /* worker start and exit lines */
	/* For weftctl status and /metrics (stats.c). */
	unsigned long long respawns; /* workers started to replace one */
	unsigned long long recycled[3]; /* by RECYCLE_ reason */
	const char *replacing;       /* the next start replaces one that went
	                                for this (a static string) */
	struct pool_exit {
		pid_t pid;
		char how[96];  /* weftd_ended()'s, and why it was retired */
		time_t at;
	} exits[8];            /* the last ones, a ring */
	unsigned nexits;       /* ever */
	struct pool_window *window; /* latency of the last minute (stats.c) */
	/* scale.c: a dynamic pool's size (cfg->workers is its target). */
	wf_timer *scale;
	uint64_t scaled_at;    /* main loop ms of the last look */
	uint64_t tokens;       /* spawn_rate's bucket, in thousandths */
	struct weftd_rl scale_rl;
	/* Before its log lines: "pool NAME: ", "" for `default` (as before pools). */
	char tag[POOL_NAME_MAX + 8];
};

/* Why a worker is recycled; also its pool's recycled[] index. */
enum { RECYCLE_REQUESTS, RECYCLE_LIFETIME, RECYCLE_RSS };
extern const char *const recycle_names[3]; /* "max_requests", ... */

/* pool.c: one pool's workers. */
/* p's worker list, log tag, rate limits and respawn timer, for cfg. */
int pool_init(struct pool *p, struct weftd_pool_cfg *cfg);
/* Start its workers; fails if the first cannot start (start only). */
int pool_start(struct pool *p, bool first_must_run);
/* If pid was p's worker: log how it ended, replace it; true. */
bool pool_reaped(struct pool *p, pid_t pid, int st);
/* Take w out of service: fail its requests, SIGTERM, SIGKILL later. */
void pool_retire(struct worker *w, const char *why);
/*
 * A reload of p with cfg (taken over): start its new workers; each that
 * comes up replaces one old worker (idle at once, busy when done). A new
 * handler that cannot start leaves the old workers serving.
 */
void pool_reload(struct pool *p, struct weftd_pool_cfg *cfg);
/*
 * weftctl restart-workers: every worker is replaced, one at a time, each
 * once its successor is up (pool_reload's way, same configuration).
 */
void pool_restart(struct pool *p);
/* weftctl pool NAME workers N: until the next reload. */
void pool_resize(struct pool *p, unsigned n);
/* The suppressed-output summaries of p that are due. */
void pool_flush_output(struct pool *p, uint64_t now);
/* SIGKILL what is left of p, reap it; its timer goes. Outside the loop too. */
void pool_kill(struct pool *p);
/* The spawner died, its workers with it: each is taken for killed. */
void pool_lost_workers(struct pool *p);

/* Posted by w's loop: retire w (w->io_why); drops the post's reference. */
void pool_retire_task(void *w);
/* Posted by w's loop: recycle w (w->recycle_reason); drops the reference. */
void pool_recycle_task(void *w);
/* Replace w for reason (RECYCLE_*): its successor starts first. */
void pool_recycle(struct worker *w, int reason);
/* From the status timer: workers past max_lifetime are recycled. */
void pool_check_lifetimes(struct pool *p);

/* dispatch.c, called by the pool (main thread). */
/* p's dispatch: a lane on every IO loop, its queue. */
int dispatch_new(struct pool *p);
/* Jobs of p queued, on their way, or on a worker (any thread). */
unsigned dispatch_pool_pending(const struct pool *p);
/* Workers of p not freed yet (any thread). */
unsigned dispatch_pool_workers(const struct pool *p);
void dispatch_free(struct pool *p);
/* On f's loop: slot's lanes are about to be freed; f forgets them. */
void dispatch_forget(struct front *f, unsigned slot);
/* Give w's socket to the IO loop with the fewest workers. */
int dispatch_worker_up(struct worker *w, int sock);
/* Its loop fails what w still has (`worker failed`) and closes its socket. */
void dispatch_worker_down(struct worker *w);
/* w (its pool set) is made: pool.c's reference, counted in its pool. */
void dispatch_worker_new(struct worker *w);
/* pool.c lets go of w; freed when its loop has too (any thread). */
void worker_unref(struct worker *w);
/* No new requests for w (it is leaving); its current ones finish. */
void dispatch_worker_quiesce(struct worker *w, const char *why);
/* w's probation is over: it may be given requests. */
void dispatch_worker_ready(struct worker *w);

/* scale.c: a dynamic pool grows while requests queue, shrinks when idle. */
int scale_start(struct pool *p);
void scale_stop(struct pool *p);
/* A worker that p may stop because it is not needed (no request): or
   NULL. Idle ones first, the longest idle first; idle_ms: at least. */
struct worker *pool_spare(struct pool *p, uint64_t idle_ms);
/* p's target size is n (within its limits, by the caller): workers are
   started, or spare ones let go (why). */
void pool_set_size(struct pool *p, unsigned n, const char *why);
/* w of p's current workers is not needed: no new request for it; it is
   retired, for why, once it has answered the ones it has. */
void pool_let_go(struct worker *w, const char *why);
/* Replaced and serving until its successor is up: of an earlier
   configuration, or recycled. Counted in old_live, not live. */
bool pool_is_old(const struct pool *p, const struct worker *w);

/* pools.c: all of them. */
/*
 * A pool for cfg (taken over) in a free slot of d->pools: its dispatch,
 * no workers yet. NULL when out of memory or slots (cfg is still yours).
 */
struct pool *pool_new(struct weftd *d, struct weftd_pool_cfg *cfg);
/* SIGCHLD: reap every exited child (the spawner's are reported). */
void pool_reap(struct weftd *d);
/* Worker pid of some pool exited with wait status st. */
void pool_exited(struct weftd *d, pid_t pid, int st);
/* After exits: removed pools' next steps, pool_stop()'s done. */
void pool_settle(struct weftd *d);
/* The spawner died: every pool's workers with it. */
void pool_lost_all(struct weftd *d);
/* Shutdown: dead or retired workers are no longer replaced. */
void pool_no_respawn(struct weftd *d);
/* Shutdown: retire every worker; done(d) once all are reaped. */
void pool_stop(struct weftd *d, void (*done)(struct weftd *));
/* A reload removed p: once its requests are answered, it stops and goes. */
void pool_remove(struct pool *p);
/*
 * Post every loop the pools' lanes and routes (dispatch_views()); once all
 * have them, the removed pools go on. Failing, the status tick retries.
 */
int pool_post_views(struct weftd *d);
/* Of the running configurations: workers started and not retired, and
   workers configured, all pools together. */
void pool_workers(const struct weftd *d, unsigned *live, unsigned *configured);
/* For STATUS: what is wrong with a pool, or NULL. */
const char *pool_trouble(const struct weftd *d);
/* From the status timer (2 s): summaries due, a failed pool_post_views()
   again, removed pools' next steps. */
void pool_tick(struct weftd *d);
/* SIGKILL what is left, reap it; its timers go. Outside the loop too. */
void pool_free(struct weftd *d);
/* After the IO loops are joined and the main loop freed: the pools go. */
void pool_free_all(struct weftd *d);

#endif
