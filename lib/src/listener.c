/*
 * Listening sockets.
 *
 * A listener is a library-owned watcher (wf__io_start_internal with a
 * release hook): wf_listener_close() stops the watcher and closes the
 * socket at once, but the struct is freed only when the loop releases the
 * watcher, after the dispatch. So the accept callback may close its own
 * listener; the accept loop looks at l->closed before going on.
 *
 * Out of descriptors, accept4() fails while the connection stays queued,
 * and a level-triggered watcher would wake at once, forever. Instead, a
 * spare descriptor is given up to accept and close what is queued (the
 * clients see a close, not a hang), and accepting pauses on a timer with a
 * backoff that doubles while the shortage lasts (libuv's "EMFILE trick",
 * plus nginx's pause).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_int.h"
#include "unix_path.h"
#include "weft/listener.h"

#define ACCEPTS_PER_WAKEUP 64
#define DEFAULT_BACKLOG 511
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000
#define WARN_INTERVAL_MS 1000

struct wf_listener {
	wf_loop *loop;
	wf_io *io;
	int fd;
	int spare;           /* /dev/null held for the EMFILE trick, or -1 */
	wf_accept_cb *cb;
	void *arg;
	int paused;          /* by the caller (wf_listener_pause) */
	int closed;          /* wf_listener_close() ran; freed after dispatch */

	wf_timer *backoff;   /* resumes accepting after a shortage */
	uint64_t delay_ms;   /* the next backoff */
	wf_timer *report;    /* tells drops the rate limit held back */
	int warned;          /* warn_ms is valid */
	uint64_t warn_ms;    /* loop time of the last message */
	int last_err;        /* of the last accept4() that backed off */
	unsigned long dropped; /* connections closed unserved, not yet told */

	struct wf__upath upath; /* a Unix socket path we bound */
};

static int
open_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Everything but the watcher and the timer; safe to repeat. */
static void
teardown(wf_listener *l)
{
	wf__upath_unlink(&l->upath);
	if (l->spare >= 0) {
		close(l->spare);
		l->spare = -1;
	}
	if (l->fd >= 0) {
		close(l->fd);
		l->fd = -1;
	}
}

/*
 * The watcher's release hook: after wf_listener_close() (the dispatch is
 * over), or from wf_loop_free() with the listener still open. In the second
 * case the loop has already freed the timers: do not touch them.
 */
static void
release(void *arg)
{
	wf_listener *l = arg;

	teardown(l);
	free(l);
}

/*
 * At most one message a second per listener, however often the shortage
 * comes back. Drops held back by the limit are told by the report timer
 * when the second is over, so none goes untold when the shortage ends.
 */
static void
warn(wf_listener *l, int level, uint64_t delay)
{
	uint64_t now = wf_loop_now(l->loop);
	const char *err = strerror(l->last_err);

	if (l->warned && now - l->warn_ms < WARN_INTERVAL_MS) {
		if (l->dropped > 0 && !wf_timer_active(l->report))
			(void)wf_timer_start(l->report,
			    l->warn_ms + WARN_INTERVAL_MS - now, 0);
		return;
	}
	l->warned = 1;
	l->warn_ms = now;
	if (l->dropped > 0)
		wf__log(level, "accept4(fd=%d): %s; %lu connection%s dropped, "
		    "accepting again in %llu ms", l->fd, err, l->dropped,
		    l->dropped == 1 ? "" : "s", (unsigned long long)delay);
	else
		wf__log(level, "accept4(fd=%d): %s; accepting again in %llu ms",
		    l->fd, err, (unsigned long long)delay);
	l->dropped = 0;
	wf_timer_stop(l->report);
}

static void
on_report(wf_timer *t, void *arg)
{
	wf_listener *l = arg;

	(void)t;
	if (l->dropped == 0)
		return;
	l->warn_ms = wf_loop_now(l->loop);
	wf__log(WF_LOG_WARN, "accept4(fd=%d): %s; %lu more connection%s "
	    "dropped", l->fd, strerror(l->last_err), l->dropped,
	    l->dropped == 1 ? "" : "s");
	l->dropped = 0;
}

/*
 * Out of descriptors: give up the spare, accept and close what is queued
 * (up to budget), take the spare back.
 */
static void
drop_queued(wf_listener *l, int budget)
{
	int fd;

	if (l->spare < 0)
		return;
	close(l->spare);
	l->spare = -1;
	while (budget-- > 0) {
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break; /* EAGAIN: all gone; EMFILE: the slot was taken */
		}
		close(fd);
		l->dropped++;
	}
	/* Fails while another thread holds the slot; retried later. */
	l->spare = open_spare();
}

/*
 * accept4() failed for a reason that does not go away by itself: pause
 * accepting and try again after a growing delay, so the queued connection
 * cannot wake the loop in a busy loop.
 */
static void
back_off(wf_listener *l, int err, int budget)
{
	uint64_t delay = l->delay_ms;
	int level = WF_LOG_WARN;

	switch (err) {
	case EMFILE:
	case ENFILE:
		drop_queued(l, budget);
		break;
	case ENOBUFS:
	case ENOMEM:
		/* A spare descriptor frees no memory: just wait. */
		break;
	default:
		/* Not a shortage; maybe the socket was shut down behind us. */
		level = WF_LOG_ERR;
		break;
	}
	if (l->spare < 0)
		l->spare = open_spare();
	(void)wf_io_modify(l->io, 0);
	if (wf_timer_start(l->backoff, delay, 0) < 0) {
		/*
		 * No memory for the timer heap: stay armed rather than stuck
		 * paused forever. Level-triggered, this can spin until memory
		 * comes back, but the listener is not lost.
		 */
		if (!l->paused)
			(void)wf_io_modify(l->io, WF_READ);
	}
	l->delay_ms = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
	l->last_err = err;
	warn(l, level, delay);
}

static void
on_backoff(wf_timer *t, void *arg)
{
	wf_listener *l = arg;
	int rc;

	(void)t;
	if (l->spare < 0)
		l->spare = open_spare();
	if (l->paused)
		return;
	if ((rc = wf_io_modify(l->io, WF_READ)) < 0) {
		wf__log(WF_LOG_ERR, "epoll_ctl(listener fd=%d): %s", l->fd,
		    strerror(-rc));
		(void)wf_timer_start(l->backoff, l->delay_ms, 0);
	}
}

static void
on_accept(wf_io *io, int lfd, unsigned events, void *arg)
{
	wf_listener *l = arg;
	struct wf_addr peer;
	int n, fd;

	(void)io;
	(void)events;
	/* Bounded: the other watchers of the loop get their turn. */
	for (n = 0; n < ACCEPTS_PER_WAKEUP; n++) {
		memset(&peer, 0, sizeof(peer));
		peer.len = sizeof(peer.ss);
		fd = accept4(lfd, (struct sockaddr *)&peer.ss, &peer.len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
				return;
			case EINTR:
			/* The connection died in the queue: take the next. */
			case ECONNABORTED:
			case EPROTO:
			case EPERM: /* refused by a firewall rule */
			/* Linux reports the new socket's pending errors here. */
			case ENETDOWN:
			case ENOPROTOOPT:
			case EHOSTDOWN:
			case ENONET:
			case EHOSTUNREACH:
			case ENETUNREACH:
			case ETIMEDOUT:
				continue;
			default:
				back_off(l, errno, ACCEPTS_PER_WAKEUP - n);
				return;
			}
		}
		/* A success ends a shortage: the backoff starts over. */
		l->delay_ms = BACKOFF_MIN_MS;
		l->cb(l, fd, &peer, l->arg);
		/* Closed: l lives until the dispatch ends, its socket not. */
		if (l->closed || l->paused)
			return;
	}
}

static int
listener_new(wf_loop *loop, wf_listener **lp, wf_accept_cb *cb, void *arg)
{
	wf_listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -ENOMEM;
	l->loop = loop;
	l->fd = -1;
	l->cb = cb;
	l->arg = arg;
	l->delay_ms = BACKOFF_MIN_MS;
	/* Without it (no /dev/null in a chroot) a shortage only pauses. */
	l->spare = open_spare();
	*lp = l;
	return 0;
}

/* Watch the socket in l->fd. On failure l is torn down and freed. */
static int
listener_start(wf_listener *l, wf_listener **lp)
{
	int rc;

	if ((rc = wf_timer_new(l->loop, &l->backoff, on_backoff, l)) < 0 ||
	    (rc = wf_timer_new(l->loop, &l->report, on_report, l)) < 0)
		goto fail;
	rc = wf__io_start_internal(l->loop, &l->io, l->fd, WF_READ, on_accept,
	    l, release);
	if (rc < 0)
		goto fail;
	*lp = l;
	return 0;
fail:
	wf_timer_free(l->backoff);
	wf_timer_free(l->report);
	release(l);
	return rc;
}

/* Owner and mode are set before listen(), while connect() is refused. */
static int
unix_bind(wf_listener *l, const struct wf_addr *addr,
    const struct wf_listen_opts *o)
{
	int rc;

	if ((rc = wf__upath_bind(&l->upath, l->fd, SOCK_STREAM, addr)) < 0 ||
	    !l->upath.own)
		return rc;
	if (o->unix_chown &&
	    lchown(l->upath.path, o->unix_uid, o->unix_gid) == -1)
		return -errno;
	if (o->unix_mode != 0 && chmod(l->upath.path, (mode_t)o->unix_mode) == -1)
		return -errno;
	return 0;
}

static int
setopt(int fd, int level, int name)
{
	int one = 1;

	if (setsockopt(fd, level, name, &one, sizeof(one)) == -1)
		return -errno;
	return 0;
}

_Static_assert(sizeof(struct wf_listen_opts) ==
    WF__SIZE_TO(struct wf_listen_opts, unix_gid), "wf_listen_opts padding");

int
wf_listener_open(wf_loop *loop, wf_listener **lp, const struct wf_addr *addr,
    const struct wf_listen_opts *caller, wf_accept_cb *cb, void *arg)
{
	struct wf_listen_opts o;
	const struct wf_listen_opts *opts = &o;
	wf_listener *l;
	int family, backlog, rc;

	*lp = NULL;
	if ((rc = wf__opts_copy(&o, sizeof(o), caller, WF__SIZE_TO(struct
	    wf_listen_opts, unix_gid))) < 0)
		return rc;
	if (addr == NULL || cb == NULL || opts->backlog < 0 ||
	    (opts->unix_mode & ~07777) != 0)
		return -EINVAL;
	family = addr->ss.ss_family;
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return -EAFNOSUPPORT;
	backlog = opts->backlog ? opts->backlog : DEFAULT_BACKLOG;
	if ((rc = listener_new(loop, &l, cb, arg)) < 0)
		return rc;
	l->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd == -1) {
		rc = -errno;
		goto fail;
	}
	if (family == AF_UNIX) {
		rc = unix_bind(l, addr, opts);
	} else {
		/* Restart without waiting out TIME_WAIT of the last run. */
		rc = setopt(l->fd, SOL_SOCKET, SO_REUSEADDR);
		/* One socket per family, whatever net.ipv6.bindv6only says. */
		if (rc == 0 && family == AF_INET6)
			rc = setopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY);
		if (rc == 0 && opts->reuseport)
			rc = setopt(l->fd, SOL_SOCKET, SO_REUSEPORT);
		if (rc == 0 && bind(l->fd, (const struct sockaddr *)&addr->ss,
		    addr->len) == -1)
			rc = -errno;
	}
	if (rc == 0 && listen(l->fd, backlog) == -1)
		rc = -errno;
	if (rc < 0)
		goto fail;
	return listener_start(l, lp);
fail:
	release(l);
	return rc;
}

int
wf_listener_adopt(wf_loop *loop, wf_listener **lp, int fd, wf_accept_cb *cb,
    void *arg)
{
	socklen_t len = sizeof(int);
	wf_listener *l;
	int on = 0, fl, rc;

	*lp = NULL;
	if (fd < 0)
		return -EBADF;
	if (cb == NULL) {
		rc = -EINVAL;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1) {
		rc = -errno;
		goto fail;
	}
	if (!on) {
		rc = -EINVAL;
		goto fail;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1 ||
	    (fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) {
		rc = -errno;
		goto fail;
	}
	if ((rc = listener_new(loop, &l, cb, arg)) < 0)
		goto fail;
	l->fd = fd;
	return listener_start(l, lp);
fail:
	close(fd);
	return rc;
}

void
wf_listener_pause(wf_listener *l)
{
	l->paused = 1;
	(void)wf_io_modify(l->io, 0);
}

int
wf_listener_resume(wf_listener *l)
{
	l->paused = 0;
	/* A pending backoff resumes by itself; resuming now would spin. */
	if (wf_timer_active(l->backoff))
		return 0;
	return wf_io_modify(l->io, WF_READ);
}

int
wf_listener_fd(const wf_listener *l)
{
	return l->fd;
}

int
wf_listener_addr(const wf_listener *l, struct wf_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->len = sizeof(a->ss);
	if (getsockname(l->fd, (struct sockaddr *)&a->ss, &a->len) == -1) {
		a->len = 0;
		return -errno;
	}
	return 0;
}

void
wf_listener_close(wf_listener *l)
{
	int fd;

	if (l == NULL)
		return;
	l->closed = 1;
	wf_timer_free(l->backoff);
	wf_timer_free(l->report);
	l->backoff = l->report = NULL;
	/* The socket outlives teardown() until its watcher is stopped. */
	fd = l->fd;
	l->fd = -1;
	teardown(l);
	/* Releases l now, or after the dispatch when inside a callback. */
	wf_io_stop(l->io);
	/*
	 * Close now rather than at release: the address must be free for a
	 * new listener opened in the same callback (a reload).
	 */
	close(fd);
}
