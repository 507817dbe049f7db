/*
 * Asynchronous connect. One timer serves as attempt deadline, retry delay,
 * and the deferral of a result known at once (a Unix connect that fails
 * synchronously), so the callback never runs inside wf_connect_start().
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop_int.h"
#include "weft/connect.h"

struct wf_connect {
	wf_loop *loop;
	struct wf_addr addr;
	struct wf_connect_opts o;
	wf_connect_cb *cb;
	void *arg;
	int fd;
	wf_io *io;
	wf_timer *timer;
	unsigned attempts;
	uint64_t delay;
	int err;   /* result waiting for the timer, or 0 */
	int state; /* what the timer means now */
};

enum { S_CONNECTING, S_WAITING_RETRY, S_REPORT };

static void attempt(wf_connect *r);

static void
stop_attempt(wf_connect *r)
{
	wf_io_stop(r->io);
	r->io = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

/* err is a positive errno inside this file; the callback gets it negative. */
static void
finish(wf_connect *r, int fd, int err)
{
	r->cb(r, fd, -err, r->arg);
	wf_timer_free(r->timer); /* safe inside its own callback */
	free(r);
}

/* An attempt failed: retry after the backoff, or report. */
static void
failed(wf_connect *r, int err)
{
	stop_attempt(r);
	if (r->attempts > r->o.retries) {
		r->err = err;
		r->state = S_REPORT;
		if (wf_timer_start(r->timer, 0, 0) < 0)
			finish(r, -1, err);
		return;
	}
	r->err = err;
	r->state = S_WAITING_RETRY;
	if (wf_timer_start(r->timer, r->delay, 0) < 0) {
		finish(r, -1, ENOMEM); /* frees r */
		return;
	}
	r->delay = r->delay * 2 > r->o.backoff_max_ms ?
	    r->o.backoff_max_ms : r->delay * 2;
}

static void
on_writable(wf_io *io, int fd, unsigned events, void *arg)
{
	wf_connect *r = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)io;
	(void)events;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		failed(r, err);
		return;
	}
	wf_io_stop(r->io);
	r->io = NULL;
	r->fd = -1;
	finish(r, fd, 0);
}

static void
on_timer(wf_timer *t, void *arg)
{
	wf_connect *r = arg;

	(void)t;
	switch (r->state) {
	case S_CONNECTING:
		failed(r, ETIMEDOUT);
		break;
	case S_WAITING_RETRY:
		attempt(r);
		break;
	case S_REPORT:
		finish(r, r->fd, r->err);
		break;
	}
}

static void
attempt(wf_connect *r)
{
	const struct sockaddr *sa = (const struct sockaddr *)&r->addr.ss;
	int rc;

	r->attempts++;
	r->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (r->fd < 0) {
		failed(r, errno);
		return;
	}
	do
		rc = connect(r->fd, sa, r->addr.len);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		/* Done already (typical for Unix sockets): report from the timer. */
		r->err = 0;
		r->state = S_REPORT;
		if (wf_timer_start(r->timer, 0, 0) < 0) {
			stop_attempt(r);
			finish(r, -1, ENOMEM);
		}
		return;
	}
	if (errno != EINPROGRESS) {
		failed(r, errno);
		return;
	}
	if ((rc = wf_io_start(r->loop, &r->io, r->fd, WF_WRITE, on_writable,
	    r)) < 0) {
		failed(r, -rc);
		return;
	}
	r->state = S_CONNECTING;
	if (r->o.timeout_ms)
		rc = wf_timer_start(r->timer, r->o.timeout_ms, 0);
	else
		wf_timer_stop(r->timer);
	if (rc < 0)
		failed(r, ENOMEM);
}

/*
 * The loop is being freed with the request pending: no callback (as for
 * every watcher), but the socket and the request go. The watcher of the
 * socket is released by the loop itself.
 */
static void
released(void *arg)
{
	wf_connect *r = arg;

	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

_Static_assert(sizeof(struct wf_connect_opts) ==
    WF__SIZE_TO(struct wf_connect_opts, backoff_max_ms),
    "wf_connect_opts padding");

int
wf_connect_start(wf_loop *loop, wf_connect **reqp, const struct wf_addr *addr,
    const struct wf_connect_opts *opts, wf_connect_cb *cb, void *arg)
{
	wf_connect *r;
	int rc;

	if (reqp)
		*reqp = NULL;
	if (cb == NULL || addr == NULL)
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	if ((rc = wf__opts_copy(&r->o, sizeof(r->o), opts,
	    WF__SIZE_TO(struct wf_connect_opts, backoff_max_ms))) < 0) {
		free(r);
		return rc;
	}
	r->loop = loop;
	r->addr = *addr;
	if (r->o.backoff_ms == 0)
		r->o.backoff_ms = 100;
	if (r->o.backoff_max_ms == 0)
		r->o.backoff_max_ms = 10000;
	r->delay = r->o.backoff_ms;
	r->cb = cb;
	r->arg = arg;
	r->fd = -1;
	if ((rc = wf_timer_new(loop, &r->timer, on_timer, r)) < 0) {
		free(r);
		return rc;
	}
	/* The timer lives as long as the request: the loop's end frees both. */
	wf__timer_on_release(r->timer, released);
	if (reqp)
		*reqp = r;
	attempt(r);
	return 0;
}

void
wf_connect_cancel(wf_connect *r)
{
	if (r == NULL)
		return;
	stop_attempt(r);
	wf_timer_free(r->timer);
	free(r);
}
