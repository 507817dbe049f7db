/*
 * weftd: options, signals, systemd, and the order of start and shutdown.
 *
 * Shutdown (SIGTERM/SIGINT): STOPPING=1; the listeners close; the IO
 * threads read no more requests and close each connection once everything
 * it is owed has been written; when the last one has closed, the workers
 * get SIGTERM (their sockets close too) and are reaped; exit 0. At
 * shutdown_timeout every request still waiting or running is answered
 * `shutting down`. A second signal ends it at once: exit 1.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "log.h"
#include "admin.h"
#include "pool.h"
#include "spawner.h"
#include "weftd.h"

#ifndef WEFTD_CONF
#define WEFTD_CONF "/etc/weft/weftd.conf"
#endif

#define STATUS_EVERY_MS 2000
#define FINAL_GRACE_MS 7000 /* after shutdown_timeout: linger + kill grace */

static void
usage(FILE *f)
{
	fprintf(f, "usage: weftd [-ft] [-c file]\n"
	    "  -c file  configuration (default %s)\n"
	    "  -f       log to stderr instead of syslog\n"
	    "  -t       check the configuration and exit\n", WEFTD_CONF);
}

/* n bytes as "12.3 MiB" (or KiB, or B). */
static const char *
human(uint64_t n, char *buf, size_t len)
{
	if (n >= 1u << 20)
		snprintf(buf, len, "%.1f MiB", (double)n / (1u << 20));
	else if (n >= 1u << 10)
		snprintf(buf, len, "%.1f KiB", (double)n / (1u << 10));
	else
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	return buf;
}

void
weftd_notify_status(struct weftd *d, const char *extra)
{
	char buf[768], used[24], max[24];
	unsigned long lost = weftd_log_lost(), n;
	unsigned live, configured;
	size_t off;
	int i, first = 1;

	pool_workers(d, &live, &configured);
	off = (size_t)snprintf(buf, sizeof(buf), "%sSTATUS=%s%u connections, "
	    "%llu requests served, %u/%u workers, %u pending, %s of %s "
	    "buffered", extra ? extra : "", d->stopping ? "stopping: " : "",
	    atomic_load(&d->clients), (unsigned long long)atomic_load(&d->served),
	    live, configured, dispatch_pending(d),
	    human(budget_used(d), used, sizeof(used)),
	    human(d->cfg.max_buffered, max, sizeof(max)));
	for (i = 0; i < CLOSE_REASONS && off < sizeof(buf); i++) {
		if ((n = atomic_load(&d->closed[i])) == 0)
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%lu %s",
		    first ? "; closed: " : ", ", n, weftd_close_names[i]);
		first = 0;
	}
	if (lost && off < sizeof(buf))
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "; %lu log "
		    "lines dropped", lost);
	if (pool_trouble(d) && off < sizeof(buf))
		snprintf(buf + off, sizeof(buf) - off, "; %s", pool_trouble(d));
	(void)sd_notify(0, buf);
}

static void
on_status(wf_timer *t, void *arg)
{
	(void)t;
	weftd_notify_status(arg, NULL);
	pool_tick(arg);
}

/*
 * WATCHDOG=1 only while every loop works: this timer proves the main loop,
 * an answered ping each IO loop. A stuck loop stops the pings, and systemd
 * restarts us.
 */
static void
on_watchdog(wf_timer *t, void *arg)
{
	struct weftd *d = arg;

	(void)t;
	if (front_alive(d)) {
		(void)sd_notify(0, "WATCHDOG=1");
		d->stuck = false;
	} else if (!d->stuck) {
		d->stuck = true;
		weftd_log(LOG_ERR, "watchdog: an IO thread does not respond; "
		    "not reassuring systemd");
	}
}

static int
start_watchdog(struct weftd *d)
{
	uint64_t usec;
	int rc;

	if (sd_watchdog_enabled(1, &usec) <= 0)
		return 0;
	if ((rc = wf_timer_new(d->main, &d->watchdog, on_watchdog, d)) < 0)
		return rc;
	usec = usec / 2000 ? usec / 2000 : 1;
	weftd_log(LOG_INFO, "watchdog: pinging systemd every %llu ms",
	    (unsigned long long)usec);
	on_watchdog(d->watchdog, d);
	return wf_timer_start(d->watchdog, usec, usec);
}

/* --- shutdown ------------------------------------------------------------ */

static void
workers_gone(struct weftd *d)
{
	wf_loop_stop(d->main);
}

void
weftd_drained(void *arg)
{
	struct weftd *d = arg;

	if (!d->stopping || d->workers_stopping || d->exiting ||
	    atomic_load(&d->clients) != 0)
		return;
	d->workers_stopping = true;
	weftd_log(LOG_INFO, "every connection is closed; stopping the workers");
	pool_stop(d, workers_gone);
}

static void drain(struct weftd *d, const char *cause);

/*
 * shutdown_timeout: whatever still waits or runs is answered `shutting
 * down`. The same timer then allows FINAL_GRACE_MS for those answers to be
 * written and the workers to exit, and after that the exit is forced.
 */
static void
on_stop_timer(wf_timer *t, void *arg)
{
	struct weftd *d = arg;

	if (d->delaying) {
		drain(d, "drain_delay over");
		return;
	}
	if (!d->abandoned) {
		d->abandoned = true;
		weftd_log(LOG_WARNING, "shutdown_timeout: %u requests still "
		    "pending get `shutting down`", dispatch_pending(d));
		dispatch_abandon(d);
		(void)wf_timer_start(t, FINAL_GRACE_MS, 0);
		return;
	}
	weftd_log(LOG_WARNING, "shutdown still not complete; %u connections "
	    "left: closing them", atomic_load(&d->clients));
	wf_loop_stop(d->main);
}

/* cause: "SIGTERM" and the like, or why weftd cannot go on. */
static void
begin_shutdown(struct weftd *d, const char *cause)
{
	if (d->stopping) {
		weftd_log(LOG_WARNING, "%s again: exiting at once", cause);
		d->forced = true;
		wf_loop_stop(d->main);
		return;
	}
	d->stopping = true;
	weftd_notify_status(d, "STOPPING=1\n");
	if (wf_timer_new(d->main, &d->stop_timer, on_stop_timer, d) < 0) {
		weftd_log(LOG_NOTICE, "%s: shutting down", cause);
		front_drain(d);
		return;
	}
	/* /readyz says 503 from now on: balancers stop sending first. */
	if (d->cfg.drain_delay_ms && !d->failed) {
		weftd_log(LOG_NOTICE, "%s: /readyz says 503; still serving for "
		    "drain_delay (%llu ms), then shutting down", cause,
		    (unsigned long long)d->cfg.drain_delay_ms);
		d->delaying = true;
		(void)wf_timer_start(d->stop_timer, d->cfg.drain_delay_ms, 0);
		return;
	}
	drain(d, cause);
}

/* The drain proper: no new connections, shutdown_timeout from here. */
static void
drain(struct weftd *d, const char *cause)
{
	d->delaying = false;
	weftd_log(LOG_NOTICE, "%s: shutting down (%u connections, %u "
	    "requests pending)", cause, atomic_load(&d->clients),
	    dispatch_pending(d));
	(void)wf_timer_start(d->stop_timer, d->cfg.shutdown_timeout_ms, 0);
	front_drain(d);
}

#define LOST_ABANDON_MS 100

/*
 * The spawner is gone (spawner.c let it go), and its handlers with it:
 * they are taken for killed (their requests answered `worker failed`),
 * and weftd drains and exits 1, for systemd to start it afresh.
 */
static void
on_spawner_lost(wf_timer *t, void *arg)
{
	struct weftd *d = arg;

	(void)t;
	pool_no_respawn(d);
	pool_lost_all(d);
	if (!d->stopping)
		begin_shutdown(d, "the spawner is gone");
	/*
	 * What waits in the queues can never run: answered `shutting down`
	 * now, not at shutdown_timeout (after the loops have had the lost
	 * workers' `worker failed`, posted just before).
	 */
	if (d->delaying)
		drain(d, "the spawner is gone");
	if (d->stop_timer && !d->abandoned)
		(void)wf_timer_start(d->stop_timer, LOST_ABANDON_MS, 0);
}

void
weftd_spawner_lost(struct weftd *d, const char *why)
{
	weftd_log(LOG_CRIT, "the spawner %s: no handler can be started or "
	    "stopped any more, and those running died with it", why);
	d->failed = true;
	/* Not from inside whatever pool code asked it: from the loop. */
	(void)wf_timer_start(d->lost_timer, 0, 0);
}

static void
on_signal(wf_signal *s, const struct signalfd_siginfo *si, void *arg)
{
	struct weftd *d = arg;
	char sig[16], err[512];

	(void)s;
	switch (si->ssi_signo) {
	case SIGCHLD:
		pool_reap(d);
		break;
	case SIGTERM:
	case SIGINT:
		snprintf(sig, sizeof(sig), "SIG%s",
		    sigabbrev_np((int)si->ssi_signo));
		begin_shutdown(d, sig);
		break;
	case SIGHUP:
		if (d->stopping)
			weftd_log(LOG_NOTICE, "SIGHUP while shutting down: ignored");
		else
			(void)weftd_reload(d, err, sizeof(err));
		break;
	}
}

/* --- start --------------------------------------------------------------- */

static void
our_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

/* Enough descriptors for max_connections, within the hard limit. */
static void
raise_nofile(const struct weftd_config *c)
{
	rlim_t want = (rlim_t)c->max_connections + 64 + MAX_ADDRS;
	struct rlimit rl;
	unsigned i;

	for (i = 0; i < c->npools; i++)
		want += 3 * (rlim_t)c->pools[i]->workers;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		weftd_log(LOG_WARNING, "max_connections %u needs %llu file "
		    "descriptors; the hard limit is %llu", c->max_connections,
		    (unsigned long long)want, (unsigned long long)rl.rlim_max);
}

/*
 * Started as root with a top-level user: listeners are bound, so become
 * it for good before anything is served or any handler started.
 * setgroups, setgid, setuid, in that order, each checked, and checked
 * again: a weftd that could not drop does not run.
 */
static int
drop_privileges(struct weftd *d)
{
	const struct weftd_config *c = &d->cfg;
	const struct pool *p;
	unsigned i;

	if (c->uid == (uid_t)-1 || (c->uid == geteuid() &&
	    c->gid == getegid())) {
		if (geteuid() == 0)
			weftd_log(LOG_WARNING, "running as root: weftd and its "
			    "handlers keep every privilege; set user (and "
			    "group) at the top of %s to drop them after the "
			    "listeners are bound, or user in a pool for its "
			    "handlers", d->cfg_path);
		return 0;
	}
	if (setgroups((size_t)c->ngroups, c->groups) < 0 ||
	    setgid(c->gid) < 0 || setuid(c->uid) < 0) {
		weftd_log(LOG_ERR, "becoming user %s: %s", c->user,
		    strerror(errno));
		return -EPERM;
	}
	if (getuid() != c->uid || geteuid() != c->uid || getgid() != c->gid ||
	    (c->uid != 0 && setuid(0) == 0)) {
		weftd_log(LOG_ERR, "becoming user %s: still privileged", c->user);
		return -EPERM;
	}
	/*
	 * Not dumpable: no process of this user (a handler of a pool without
	 * a user of its own) may ptrace weftd or read its memory. Signals it
	 * still may: say so.
	 */
	(void)prctl(PR_SET_DUMPABLE, 0);
	weftd_log(LOG_INFO, "running as user %s (uid %u, gid %u)", c->user,
	    (unsigned)c->uid, (unsigned)c->gid);
	for (i = 0; i < MAX_POOLS; i++)
		if ((p = d->pools[i]) && (p->cfg->uid == (uid_t)-1 ||
		    p->cfg->uid == c->uid))
			weftd_log(LOG_NOTICE, "%shandlers run as weftd's user %s "
			    "and could signal it: set user in the pool to keep "
			    "them apart", p->tag, c->user);
	return 0;
}

/*
 * One pool keeps the line operators have always grepped for; with several,
 * each pool says its own and the last line sums them up.
 */
static void
log_ready(const struct weftd *d)
{
	const struct pool *only = NULL;
	unsigned i, n = 0, live, configured;

	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i]) {
			only = d->pools[i];
			n++;
		}
	if (n == 1) {
		weftd_log(LOG_NOTICE, "%sready: %u IO threads, %u workers of %s",
		    only->tag, d->cfg.io_threads, only->cfg->workers,
		    only->cfg->argv[0]);
		return;
	}
	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i])
			weftd_log(LOG_NOTICE, "%sready: %u workers of %s",
			    d->pools[i]->tag, d->pools[i]->cfg->workers,
			    d->pools[i]->cfg->argv[0]);
	pool_workers(d, &live, &configured);
	weftd_log(LOG_NOTICE, "ready: %u IO threads, %u workers in %u pools",
	    d->cfg.io_threads, configured, n);
}

/*
 * The control socket, owner-only (weftd's user after the drop: root and it
 * may use it), and the metrics listener. The default control path may be
 * left out (weftd run by hand, with no /run/weft); one that was set not.
 */
int
admin_start(struct weftd *d)
{
	const struct weftd_config *c = &d->cfg;
	char addr[sizeof("unix:") + 4096];
	int rc;

	if (c->control[0]) {
		snprintf(addr, sizeof(addr), "unix:%s", c->control);
		rc = admin_open(d, addr, &control_proto, 0600, c->uid, c->gid,
		    &d->control);
		if (rc < 0 && c->control_set) {
			weftd_log(LOG_ERR, "control socket %s: %s", c->control,
			    strerror(-rc));
			return rc;
		}
		if (rc < 0)
			weftd_log(LOG_WARNING, "control socket %s: %s; weftctl "
			    "cannot reach this weftd (set control to a path it "
			    "can bind, or \"\" for none)", c->control,
			    strerror(-rc));
	}
	if (c->metrics_listen[0]) {
		if ((rc = admin_open(d, c->metrics_listen, &http_proto,
		    c->unix_socket.mode, c->unix_socket.uid, c->unix_socket.gid,
		    &d->metrics)) < 0) {
			weftd_log(LOG_ERR, "metrics_listen %s: %s",
			    c->metrics_listen, strerror(-rc));
			return rc;
		}
		weftd_log(LOG_INFO, "metrics on %s", c->metrics_listen);
	}
	return 0;
}

static int
start(struct weftd *d)
{
	sigset_t set;
	unsigned i;
	int rc;

	our_signals(&set);
	if ((rc = wf_loop_new(&d->main)) < 0) {
		weftd_log(LOG_ERR, "creating the main loop: %s", strerror(-rc));
		return rc;
	}
	d->started_at = d->loaded_at = time(NULL);
	d->started_ms = wf_loop_now(d->main);
	if ((rc = wf_signal_start(d->main, &d->signals, &set, on_signal, d)) < 0 ||
	    (rc = wf_timer_new(d->main, &d->status_timer, on_status, d)) < 0 ||
	    (rc = wf_timer_new(d->main, &d->lost_timer, on_spawner_lost, d)) < 0 ||
	    (spawner_on(d) && (rc = spawner_watch(d)) < 0)) {
		weftd_log(LOG_ERR, "setting up the main loop: %s", strerror(-rc));
		return rc;
	}
	raise_nofile(&d->cfg);
	if ((rc = front_start(d)) < 0)
		return rc;
	/* Each pool's lanes are on every loop before a listener opens. */
	for (i = 0; i < d->cfg.npools; i++) {
		if (pool_new(d, d->cfg.pools[i]) == NULL) {
			weftd_log(LOG_ERR, "setting up pool %s: out of memory",
			    d->cfg.pools[i]->name);
			return -ENOMEM;
		}
		d->cfg.pools[i] = NULL; /* the pool's from here */
	}
	d->cfg.npools = 0;
	if ((rc = dispatch_views(d)) < 0) {
		weftd_log(LOG_ERR, "setting up the dispatch: %s", strerror(-rc));
		return rc;
	}
	if ((rc = listen_start(d)) < 0 || (rc = admin_start(d)) < 0 ||
	    (rc = drop_privileges(d)) < 0)
		return rc;
	for (i = 0; i < MAX_POOLS; i++)
		if (d->pools[i] && (rc = pool_start(d->pools[i], true)) < 0)
			return rc;
	if ((rc = start_watchdog(d)) < 0)
		return rc;
	log_ready(d);
	weftd_notify_status(d, "READY=1\n");
	(void)wf_timer_start(d->status_timer, STATUS_EVERY_MS, STATUS_EVERY_MS);
	return 0;
}

static void
finish(struct weftd *d)
{
	d->exiting = true;
	admin_close(d->control);
	admin_close(d->metrics);
	d->control = d->metrics = NULL;
	dispatch_close(d);
	front_stop(d);
	pool_free(d);
	if (d->signals)
		wf_signal_stop(d->signals);
	if (d->status_timer)
		wf_timer_free(d->status_timer);
	if (d->stop_timer)
		wf_timer_free(d->stop_timer);
	if (d->watchdog)
		wf_timer_free(d->watchdog);
	if (d->lost_timer)
		wf_timer_free(d->lost_timer);
	spawner_stop(d);
	/* Runs what the IO threads posted last; the dispatch drops it. */
	if (d->main)
		wf_loop_free(d->main);
	pool_free_all(d);
	job_cache_drain();
	free(d->fronts);
	weftd_config_free(&d->cfg);
}

int
main(int argc, char **argv)
{
	static struct weftd d;
	const char *path = WEFTD_CONF;
	int opt, test = 0, foreground = 0, rc;
	char err[512];
	sigset_t set;

	while ((opt = getopt(argc, argv, "c:fth")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (weftd_config_load(path, &d.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "weftd: %s\n", err);
		return 1;
	}
	if (weftd_config_check(path, &d.cfg, false, err, sizeof(err)) < 0 ||
	    (geteuid() == 0 && spawner_needed(&d.cfg) &&
	    spawner_trust(path, &d.cfg, err, sizeof(err)) < 0)) {
		fprintf(stderr, "weftd: %s\n", err);
		weftd_config_free(&d.cfg);
		return 1;
	}
	if (test) {
		printf("weftd: %s: configuration OK\n", path);
		weftd_config_free(&d.cfg);
		return 0;
	}
	d.cfg_path = path;
	/*
	 * Frames above 64 KiB get pages of their own, given back when freed:
	 * glibc's moving threshold would otherwise keep the heap at its peak
	 * after a burst, and RSS above max_buffered.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	/* Before any thread exists, so every thread inherits the mask. */
	our_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d.spawner_req = d.spawner_ev = -1;
	if (geteuid() == 0 && spawner_needed(&d.cfg) &&
	    (rc = spawner_start(&d)) < 0) {
		fprintf(stderr, "weftd: starting the spawner: %s\n",
		    strerror(-rc));
		weftd_config_free(&d.cfg);
		return 1;
	}
	if ((rc = weftd_log_open(foreground, d.cfg.facility,
	    d.cfg.log_level)) < 0) {
		fprintf(stderr, "weftd: starting the log thread: %s\n",
		    strerror(-rc));
		weftd_config_free(&d.cfg);
		return 1;
	}
	if ((rc = start(&d)) == 0)
		rc = wf_loop_run(d.main);
	if (d.stopping)
		(void)sd_notify(0, "STATUS=stopped");
	finish(&d);
	weftd_log(rc < 0 ? LOG_ERR : LOG_NOTICE, "%s", rc < 0 ?
	    "could not start; exiting" : d.forced ? "exited at once" :
	    "stopped");
	rc = rc < 0 || d.forced || d.failed ? 1 : 0;
	/* A sink that never took the rest must not hold up the exit. */
	if (weftd_log_close() < 0) {
		fflush(stdout);
		_exit(rc);
	}
	return rc;
}
