/* The handler processes: start, watch, retire, reap, replace. */
#ifndef WEFTD_POOL_H
#define WEFTD_POOL_H

#include <stdbool.h>
#include <sys/types.h>

#include "log.h"
#include "weftd.h"

#define WORKER_LINE 256 /* a longer line of output is logged in pieces */

struct worker {
	struct weftd *d;
	struct pool *pool;
	struct worker *prev, *next; /* every process not yet reaped */
	pid_t pid;
	int out;                    /* its stdout and stderr */
	wf_io *out_io;
	wf_timer *kill_timer;       /* probation's end; later SIGKILL */
	uint64_t started;           /* main loop ms */
	unsigned long served;
	unsigned long assigned;     /* requests sent to it, ever */
	const char *why;            /* why it was retired, for the exit log */
	bool retired, exited;
	bool eof;                   /* it closed its socket: likely exiting */
	bool termed;                /* SIGTERM sent */
	unsigned gen;               /* the configuration it was started for */
	bool probation;             /* started by a reload: no requests until
	                               it has lived QUICK_MS (then it is up) */
	bool leaving;               /* of an old configuration, replaced: no
	                               new requests, retired once idle */
	size_t linelen;
	char line[WORKER_LINE];
	struct weftd_rl out_rl;     /* its output lines in the log */
	/* dispatch.c: */
	wf_conn *conn;              /* NULL once retired */
	struct worker *anext, *aprev; /* the available list */
	bool avail;
	struct job *head, **tail;   /* requests sent, oldest first */
	bool tagged;                /* it said hello: its answers carry tags */
	uint16_t last_tag;
	unsigned njobs;
	wf_timer *timer;            /* request_timeout of the oldest */
	/* Charged to the budget: what its socket buffers, both ways. */
	uint64_t lib_in, out_held;
};

/* Start cfg.handler.workers processes; fails if the first cannot start. */
int pool_new(struct weftd *d);
/* SIGCHLD: reap every exited child, log how it ended, replace it. */
void pool_reap(struct weftd *d);
/* Take w out of service: fail its requests, SIGTERM, SIGKILL later. */
void pool_retire(struct worker *w, const char *why);
/* Shutdown: dead or retired workers are no longer replaced. */
void pool_no_respawn(struct weftd *d);
/* Shutdown: retire every worker; done(d) once all are reaped. */
void pool_stop(struct weftd *d, void (*done)(struct weftd *));
/*
 * A reload: start the new configuration's workers; each that comes up
 * replaces one old worker (idle at once, busy when done). A new handler
 * that cannot start leaves the old workers serving.
 */
void pool_reload(struct weftd *d);
/* Workers of the running configuration, started and not retired. */
unsigned pool_live(const struct weftd *d);
/* For STATUS: what is wrong with the pool, or NULL. */
const char *pool_trouble(const struct weftd *d);
void pool_tick(struct weftd *d);
struct worker *pool_first(const struct weftd *d);
/* SIGKILL what is left, reap it, free everything. Outside the loop too. */
void pool_free(struct weftd *d);

/* dispatch.c, called by the pool. */
int dispatch_worker_up(struct worker *w, int sock);
void dispatch_worker_down(struct worker *w);
/* No new requests for w (it is leaving); its current ones finish. */
void dispatch_worker_quiesce(struct worker *w);
/* w's probation is over: it may be given requests. */
void dispatch_worker_ready(struct worker *w);

#endif
