/*
 * Handler processes. A worker lives from spawn to reap; in between it may
 * be retired (taken out of service: its requests answered with an error,
 * its socket closed, SIGTERM, and SIGKILL after a grace). A replacement is
 * started at once, unless workers keep dying within a second of starting
 * before any request reached them: then each start waits twice as long as
 * the last (100 ms up to 30 s), so a broken handler costs a log line now
 * and then, not a fork storm.
 *
 * A worker is freed only when reaped: its pid is never signalled after
 * waitpid() may have released it for reuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "spawn.h"
#include "spawner.h"

#define KILL_GRACE_MS 2000
#define EXIT_GRACE_MS 500 /* closed its socket: SIGTERM if still there */
#define QUICK_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 30000
#define OUTPUT_READS 16 /* per wakeup: a chatty handler cannot hog us */
#define OUTPUT_BURST 50 /* lines logged per worker per OUTPUT_PER_MS */
#define OUTPUT_PER_MS 1000
/*
 * Start and exit lines, all workers together, per OUTPUT_PER_MS: requests
 * that kill their workers are replaced at once (no backoff), so a client
 * could otherwise make weftd log two lines per request.
 */
#define LIFE_BURST 20

static void fill(struct pool *p);

const char *const recycle_names[3] = { "max_requests", "max_lifetime",
	"max_rss" };
/* The retirement's reason, for the exit line: "retired: recycled: ...". */
static const char *const recycle_whys[3] = { "recycled: max_requests",
	"recycled: max_lifetime", "recycled: max_rss" };

bool
pool_is_old(const struct pool *p, const struct worker *w)
{
	return w->gen != p->gen || w->recycling;
}

/* n plus a uniform [0, jitter]: workers started together do not all
 * recycle together. */
static uint64_t
jittered(uint64_t n, uint64_t jitter)
{
	if (jitter == 0)
		return n;
	if (jitter >= UINT32_MAX)
		jitter = UINT32_MAX - 1;
	return n + arc4random_uniform((uint32_t)jitter + 1);
}

/* --- output: stdout and stderr, line by line ----------------------------- */

/* A line of output: logged, unless this worker is over its rate. */
static void
emit(struct worker *w)
{
	char esc[WORKER_LINE * 4 + 1];

	if (weftd_rl_allow(&w->out_rl, wf_loop_now(w->d->main)))
		weftd_log(LOG_NOTICE, "worker %d: %s", (int)w->pid,
		    weftd_log_escape(esc, sizeof(esc), w->line, w->linelen));
	w->linelen = 0;
}

static void
close_output(struct worker *w)
{
	if (w->linelen)
		emit(w);
	weftd_rl_flush(&w->out_rl, wf_loop_now(w->d->main), true);
	if (w->out_io)
		wf_io_stop(w->out_io);
	if (w->out >= 0)
		close(w->out);
	w->out_io = NULL;
	w->out = -1;
}

static void
on_output(wf_io *io, int fd, unsigned events, void *arg)
{
	struct worker *w = arg;
	char buf[16384];
	ssize_t n, i;
	int reads;

	(void)io;
	(void)events;
	for (reads = 0; reads < OUTPUT_READS; reads++) {
		if ((n = read(fd, buf, sizeof(buf))) < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			close_output(w);
			return;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				emit(w);
				continue;
			}
			w->line[w->linelen++] = buf[i];
			if (w->linelen == sizeof(w->line))
				emit(w);
		}
	}
}

static void came_up(struct worker *w);

/* Through the spawner when it started w (weftd may not signal it). */
static void
signal_worker(const struct worker *w, int sig)
{
	if (spawner_on(w->d))
		(void)spawner_kill(w->d, w->pid, sig);
	else
		(void)kill(w->pid, sig);
}

static void
on_kill(wf_timer *t, void *arg)
{
	struct worker *w = arg;

	(void)t;
	if (w->probation && !w->retired) {
		came_up(w);
		return;
	}
	if (w->exited)
		return;
	if (!w->termed) {
		/* It closed its socket a while ago but has not exited. */
		w->termed = true;
		signal_worker(w, SIGTERM);
		(void)wf_timer_start(w->kill_timer, KILL_GRACE_MS, 0);
		return;
	}
	weftd_log(LOG_WARNING, "worker %d: still running %d ms after SIGTERM; "
	    "sending SIGKILL", (int)w->pid, KILL_GRACE_MS);
	signal_worker(w, SIGKILL);
}

/* --- starting ------------------------------------------------------------ */

static int
spawn_one(struct pool *p)
{
	struct weftd *d = p->d;
	struct weftd_spawn_as as = {
		.uid = p->cfg->uid, .gid = p->cfg->gid,
		.groups = p->cfg->groups, .ngroups = p->cfg->ngroups,
		.nofile = p->cfg->rlimit_nofile, .as = p->cfg->rlimit_as,
	};
	struct weftd_child ch;
	struct worker *w;
	char err[256];
	int rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -ENOMEM;
	w->statm = -1;

	rc = spawner_on(d) ? spawner_spawn(d, p->cfg, &ch, err, sizeof(err)) :
	    weftd_spawn(p->cfg->argv, p->cfg->env, d->cfg.max_frame, &as, &ch,
	    err, sizeof(err));
	if (rc < 0) {
		weftd_log(LOG_ERR, "%sstarting handler %s: %s", p->tag,
		    p->cfg->argv[0], err);
		free(w);
		return rc;
	}
	w->d = d;
	w->pool = p;
	dispatch_worker_new(w);
	w->pid = ch.pid;
	w->gen = p->gen;
	w->replaces = p->replacing;
	p->replacing = NULL;
	w->statm = ch.statm;
	if (p->cfg->max_requests)
		w->recycle_after = jittered(p->cfg->max_requests,
		    p->cfg->max_requests_jitter);
	w->max_rss = p->cfg->max_rss;
	/* With old workers still serving, a new one proves itself first. */
	w->probation = p->old_live > 0;
	w->out_rl.burst = OUTPUT_BURST;
	w->out_rl.interval_ms = OUTPUT_PER_MS;
	w->out_rl.start = wf_loop_now(d->main);
	snprintf(w->out_rl.what, sizeof(w->out_rl.what), "worker %d: output",
	    (int)ch.pid);
	w->out = ch.out;
	w->started = wf_loop_now(d->main);
	if (p->cfg->max_lifetime_ms)
		w->die_at = w->started + jittered(p->cfg->max_lifetime_ms,
		    p->cfg->max_lifetime_jitter_ms);
	LIST_INSERT_HEAD(&p->all, w, plink);
	p->live++;
	(void)fcntl(w->out, F_SETFL, O_NONBLOCK);
	if ((rc = wf_io_start(d->main, &w->out_io, w->out, WF_READ, on_output,
	    w)) < 0 || (rc = wf_timer_new(d->main, &w->kill_timer, on_kill,
	    w)) < 0)
		close(ch.sock); /* dispatch_worker_up() owns it from here on */
	if (rc < 0 || (rc = dispatch_worker_up(w, ch.sock)) < 0) {
		weftd_log(LOG_ERR, "worker %d: setting up: %s", (int)w->pid,
		    strerror(-rc));
		pool_retire(w, "set-up failed");
		return rc;
	}
	if (w->probation)
		(void)wf_timer_start(w->kill_timer, QUICK_MS, 0);
	if (weftd_rl_allow(&p->life_rl, wf_loop_now(d->main)))
		weftd_log(LOG_INFO, "%sworker %d started", p->tag, (int)w->pid);
	return 0;
}

/*
 * Replace one old worker: it takes no new requests and is retired once
 * its loop has answered the ones it has (at once if none). 0 if there is
 * none left.
 */
static int
retire_one_old(struct pool *p)
{
	struct worker *w;

	LIST_FOREACH(w, &p->all, plink)
		if (!w->retired && !w->leaving && pool_is_old(p, w))
			break;
	if (w == NULL)
		return 0;
	w->leaving = true;
	p->old_live--;
	dispatch_worker_quiesce(w, w->recycling ? w->recycling : p->rolling ?
	    "restart" : "reload");
	return 1;
}

/* Starting or on probation: not up yet. */
static unsigned
coming_up(const struct pool *p)
{
	const struct worker *w;
	unsigned n = 0;

	LIST_FOREACH(w, &p->all, plink)
		n += w->probation && !w->retired;
	return n;
}

/* A new worker lived through its probation: it serves, an old one goes. */
static void
came_up(struct worker *w)
{
	struct pool *p = w->pool;
	struct worker *o;
	bool all_up = p->live >= p->cfg->workers;

	w->probation = false;
	if (p->failing)
		weftd_log(LOG_NOTICE, "reload: %sworker %d of %s is up; "
		    "replacing the old workers", p->tag, (int)w->pid,
		    p->cfg->argv[0]);
	p->failing = false;
	p->quick_fails = 0;
	dispatch_worker_ready(w);
	(void)retire_one_old(p);
	LIST_FOREACH(o, &p->all, plink)
		if (o->probation && !o->retired)
			all_up = false;
	if (all_up)
		while (retire_one_old(p))
			;
	fill(p); /* a restart's next, or what a backoff held back */
}

static void
on_respawn(wf_timer *t, void *arg)
{
	(void)t;
	fill(arg);
}

/* One more failed start in a row: the next waits twice as long. */
static uint64_t
back_off(struct pool *p, uint64_t now)
{
	uint64_t delay = BACKOFF_MIN_MS << (p->quick_fails < 9 ?
	    p->quick_fails : 9);

	p->quick_fails++;
	p->not_before = now + (delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS);
	return p->not_before - now;
}

/* Start workers until the pool is whole, or wait out the backoff. */
static void
fill(struct pool *p)
{
	struct weftd *d = p->d;
	uint64_t now = wf_loop_now(d->main);

	if (p->rolling && p->old_live == 0)
		p->rolling = false;
	while (!p->stopping && p->live < p->cfg->workers) {
		/* A restart goes one worker at a time. */
		if (p->rolling && coming_up(p) > 0)
			return;
		if (now < p->not_before) {
			if (!wf_timer_active(p->respawn))
				(void)wf_timer_start(p->respawn,
				    p->not_before - now, 0);
			return;
		}
		if (spawn_one(p) == 0)
			continue;
		/* Could not even start one: back off like a quick death. */
		(void)back_off(p, now);
	}
}

/* --- retiring and reaping ----------------------------------------------- */

void
pool_retire(struct worker *w, const char *why)
{
	struct pool *p = w->pool;
	uint64_t now = wf_loop_now(p->d->main), delay;

	if (w->retired)
		return;
	w->retired = true;
	w->why = why;
	/* A leaving worker left the counts when it began to leave. */
	if (w->leaving)
		;
	else if (pool_is_old(p, w))
		p->old_live--;
	else
		p->live--;
	dispatch_worker_down(w);
	if (!w->exited) {
		/*
		 * A worker that closed its own socket is probably exiting:
		 * let it, so its log line shows its own status, not ours.
		 */
		if (!w->eof) {
			w->termed = true;
			signal_worker(w, SIGTERM);
		}
		if (w->kill_timer)
			(void)wf_timer_start(w->kill_timer, w->eof ? EXIT_GRACE_MS :
			    KILL_GRACE_MS, 0);
	}
	if (p->stopping)
		return;
	/*
	 * Back off only for a handler that cannot start: a worker that died
	 * young before it was given any request. One a request killed is
	 * replaced at once (the request got `worker failed`), and weftd's own
	 * retirements (reload) are no failure at all.
	 */
	if (!pool_is_old(p, w) && !w->leaving && atomic_load(&w->assigned) == 0 &&
	    now - w->started < QUICK_MS) {
		delay = back_off(p, now);
		if (w->probation && !p->failing) {
			p->failing = true;
			weftd_log(LOG_ERR, "reload: %sworkers of %s die at "
			    "start; %u workers of the previous configuration "
			    "keep serving", p->tag, p->cfg->argv[0],
			    p->old_live);
		} else if (p->quick_fails > 1) {
			weftd_log(LOG_WARNING, "%sworkers keep failing at "
			    "start (%u in a row); next start in %llu ms",
			    p->tag, p->quick_fails, (unsigned long long)delay);
		}
	} else if (w->gen == p->gen) {
		p->quick_fails = 0;
	}
	if (!pool_is_old(p, w) && !w->leaving) {
		p->respawns++;
		p->replacing = why;
	}
	fill(p);
}

void
pool_retire_task(void *arg)
{
	struct worker *w = arg;

	if (!w->retired) {
		w->eof = w->io_eof;
		pool_retire(w, w->io_why);
	}
	worker_unref(w);
}

void
pool_recycle(struct worker *w, int reason)
{
	struct pool *p = w->pool;

	if (w->retired || w->leaving || pool_is_old(p, w) || w->probation ||
	    p->stopping || p->removed)
		return;
	w->recycling = recycle_whys[reason];
	p->recycled[reason]++;
	p->live--;
	p->old_live++;
	p->replacing = w->recycling;
	if (weftd_rl_allow(&p->life_rl, wf_loop_now(p->d->main)))
		weftd_log(LOG_INFO, "%sworker %d recycled (%s, after %lu "
		    "requests): its successor starts first", p->tag,
		    (int)w->pid, recycle_names[reason],
		    atomic_load(&w->served));
	fill(p);
}

void
pool_recycle_task(void *arg)
{
	struct worker *w = arg;

	pool_recycle(w, w->recycle_reason);
	worker_unref(w);
}

void
pool_check_lifetimes(struct pool *p)
{
	uint64_t now = wf_loop_now(p->d->main);
	struct worker *w;

	LIST_FOREACH(w, &p->all, plink)
		if (w->die_at && now >= w->die_at)
			pool_recycle(w, RECYCLE_LIFETIME);
}

static void
release(struct worker *w)
{
	if (w->out >= 0)
		on_output(w->out_io, w->out, WF_READ, w); /* what is left */
	close_output(w);
	if (w->kill_timer)
		wf_timer_free(w->kill_timer);
	LIST_REMOVE(w, plink);
	worker_unref(w);
}

static void
log_exit(struct worker *w, int st)
{
	struct pool *p = w->pool;
	struct pool_exit *e = &p->exits[p->nexits++ % 8];
	/* Retired for a reason of weftd's, not because it exited. */
	bool ours = w->retired && strcmp(w->why, "exited") != 0;
	char how[64];

	weftd_ended(st, how, sizeof(how));
	e->pid = w->pid;
	e->at = time(NULL);
	if (ours)
		snprintf(e->how, sizeof(e->how), "%.40s (%.50s)", w->why, how);
	else
		snprintf(e->how, sizeof(e->how), "%.90s", how);
	if (!weftd_rl_allow(&p->life_rl, wf_loop_now(w->d->main)))
		return;
	if (ours)
		weftd_log(LOG_INFO, "%sworker %d %s (retired: %s)", p->tag,
		    (int)w->pid, how, w->why);
	else
		weftd_log(w->retired ? LOG_INFO : LOG_WARNING, "%sworker %d %s "
		    "after %lu requests", p->tag, (int)w->pid, how,
		    atomic_load(&w->served));
}

/* w is p's worker pid, or NULL. */
static struct worker *
find(struct pool *p, pid_t pid)
{
	struct worker *w;

	LIST_FOREACH(w, &p->all, plink)
		if (w->pid == pid)
			return w;
	return NULL;
}

bool
pool_reaped(struct pool *p, pid_t pid, int st)
{
	struct worker *w = find(p, pid);

	if (w == NULL)
		return false;
	w->exited = true;
	pool_retire(w, "exited");
	log_exit(w, st);
	release(w);
	return true;
}

/* The spawner is gone, and with it (PR_SET_PDEATHSIG) every worker. */
void
pool_lost_workers(struct pool *p)
{
	struct worker *w;

	/* Anew each time: pool_reaped() takes w off the list. */
	for (;;) {
		LIST_FOREACH(w, &p->all, plink)
			if (!w->exited)
				break;
		if (w == NULL)
			return;
		(void)pool_reaped(p, w->pid, SIGKILL);
	}
}

/* --- a pool's life ------------------------------------------------------- */

int
pool_init(struct pool *p, struct weftd_pool_cfg *cfg)
{
	struct weftd *d = p->d;

	LIST_INIT(&p->all);
	p->life_rl.burst = LIFE_BURST;
	p->life_rl.interval_ms = OUTPUT_PER_MS;
	p->life_rl.start = wf_loop_now(d->main);
	if (strcmp(cfg->name, DEFAULT_POOL) != 0)
		snprintf(p->tag, sizeof(p->tag), "pool %s: ", cfg->name);
	snprintf(p->life_rl.what, sizeof(p->life_rl.what), "%sworker start "
	    "and exit lines", p->tag);
	p->cfg = cfg;
	p->file_max = cfg->max_workers;
	return wf_timer_new(d->main, &p->respawn, on_respawn, p);
}

int
pool_start(struct pool *p, bool first_must_run)
{
	unsigned i;
	int rc;

	/* The first start tells whether the handler can run at all. */
	for (i = 0; i < p->cfg->workers; i++)
		if ((rc = spawn_one(p)) < 0 && i == 0 && first_must_run)
			return rc;
	fill(p);
	return scale_start(p);
}

/* A new generation (why: "reload", "restart") replaces the running one. */
static void
renew(struct pool *p, const char *why)
{
	struct worker *w, *next;

	/* Everything running is old now... */
	p->old_live += p->live;
	p->live = 0;
	p->gen++;
	/* ... and what is still on probation never served: it goes. */
	for (w = LIST_FIRST(&p->all); w; w = next) {
		next = LIST_NEXT(w, plink);
		if (!w->retired && w->probation)
			pool_retire(w, why);
	}
	fill(p);
}

void
pool_reload(struct pool *p, struct weftd_pool_cfg *cfg)
{
	unsigned now = p->cfg->workers;

	/* A dynamic pool keeps the size it has grown to, within its new
	 * limits; the new workers replace as many old ones. */
	if (cfg->dynamic && p->cfg->dynamic)
		cfg->workers = now < cfg->min_workers ? cfg->min_workers :
		    now > cfg->max_workers ? cfg->max_workers : now;
	weftd_pool_cfg_free(p->cfg);
	p->cfg = cfg;
	p->file_max = cfg->max_workers;
	if (!cfg->dynamic)
		scale_stop(p);
	else if (scale_start(p) < 0)
		weftd_log(LOG_ERR, "%sno timer to resize it: it stays at %u "
		    "workers", p->tag, cfg->workers);
	/* The operator may have fixed a handler that kept failing. */
	p->quick_fails = 0;
	p->not_before = 0;
	p->failing = false;
	p->rolling = false;
	wf_timer_stop(p->respawn);
	renew(p, "reload");
}

void
pool_restart(struct pool *p)
{
	p->rolling = p->live + p->old_live > 0;
	renew(p, "restart");
}

struct worker *
pool_spare(struct pool *p, uint64_t idle_ms)
{
	uint64_t now = wf_loop_now(p->d->main), since, best_since = 0;
	struct worker *w, *best = NULL;
	int rank, best_rank = 3;

	LIST_FOREACH(w, &p->all, plink) {
		if (w->retired || w->leaving || pool_is_old(p, w))
			continue;
		since = atomic_load_explicit(&w->idle_since, memory_order_relaxed);
		if (since < w->started)
			since = w->started;
		rank = w->probation || !w->on_loop ? 0 :
		    atomic_load_explicit(&w->head_t0, memory_order_relaxed) == 0 ?
		    1 : 2;
		if (idle_ms && (rank != 1 || now - since < idle_ms))
			continue;
		if (rank < best_rank || (rank == best_rank && since < best_since)) {
			best = w;
			best_rank = rank;
			best_since = since;
		}
	}
	return best;
}

void
pool_let_go(struct worker *w, const char *why)
{
	/* Leaving: weftd's own choice, no failure (no backoff). */
	w->leaving = true;
	w->pool->live--;
	if (w->probation || !w->on_loop)
		pool_retire(w, why); /* it has no request */
	else
		dispatch_worker_quiesce(w, why); /* they finish first */
}

void
pool_set_size(struct pool *p, unsigned n, const char *why)
{
	struct worker *w;

	p->cfg->workers = n;
	while (p->live > n && (w = pool_spare(p, 0)) != NULL)
		pool_let_go(w, why);
	fill(p);
	(void)pool_post_views(p->d);
}

void
pool_resize(struct pool *p, unsigned n)
{
	if (p->cfg->dynamic) {
		p->cfg->max_workers = n;
		if (p->cfg->min_workers > n)
			p->cfg->min_workers = n;
		if (p->cfg->spare_workers > n)
			p->cfg->spare_workers = n;
		if (p->cfg->workers > n)
			pool_set_size(p, n, "resized");
		return;
	}
	p->cfg->min_workers = p->cfg->max_workers = n;
	pool_set_size(p, n, "resized");
}

/* From the status timer: p's suppressed-output summaries that are due. */
void
pool_flush_output(struct pool *p, uint64_t now)
{
	struct worker *w;

	weftd_rl_flush(&p->life_rl, now, false);
	LIST_FOREACH(w, &p->all, plink)
		if (w->out >= 0)
			weftd_rl_flush(&w->out_rl, now, false);
}

void
pool_kill(struct pool *p)
{
	int st;

	p->stopping = true;
	while (!LIST_EMPTY(&p->all)) {
		struct worker *w = LIST_FIRST(&p->all);

		pool_retire(w, "exit");
		if (!w->exited) {
			st = SIGKILL;
			if (spawner_on(p->d))
				(void)spawner_kill_wait(p->d, w->pid, &st);
			else {
				kill(w->pid, SIGKILL);
				while (waitpid(w->pid, &st, 0) < 0 &&
				    errno == EINTR)
					;
			}
			w->exited = true;
			log_exit(w, st);
		}
		release(w);
	}
	weftd_rl_flush(&p->life_rl, wf_loop_now(p->d->main), true);
	wf_timer_free(p->respawn);
	p->respawn = NULL;
	scale_stop(p);
}
