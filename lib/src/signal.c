/*
 * Signals through signalfd: a signal becomes an ordinary readable fd, read
 * on the loop thread, so callbacks may do anything (no async-signal-safety
 * rules). The caller blocks the signals; see weft/signal.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop_int.h"
#include "weft/signal.h"

#define READS_PER_WAKEUP 4

struct wf_signal {
	wf_io *io;
	int fd;
	int stopped;
	wf_signal_cb *cb;
	void *arg;
};

static void
release(void *arg)
{
	wf_signal *s = arg;

	close(s->fd);
	free(s);
}

static void
on_readable(wf_io *io, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si[8];
	wf_signal *s = arg;
	int r;

	(void)io;
	(void)events;
	for (r = 0; r < READS_PER_WAKEUP; r++) {
		ssize_t n = read(fd, si, sizeof(si));
		size_t i;

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				wf__log(WF_LOG_ERR, "read(signalfd %d): %s",
				    fd, strerror(errno));
			return;
		}
		for (i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			s->cb(s, &si[i], s->arg);
			if (s->stopped)
				return;
		}
		if ((size_t)n < sizeof(si))
			return;
	}
}

/*
 * Reading the calling thread's mask changes nothing. Only this thread can be
 * checked; the header asks for the signals to be blocked in every thread.
 */
static int
all_blocked(const sigset_t *set)
{
	sigset_t cur;
	int sig, any = 0;

	if (pthread_sigmask(SIG_BLOCK, NULL, &cur) != 0)
		return 0;
	for (sig = 1; sig < NSIG; sig++) {
		/* These two cannot be blocked; signalfd ignores them too. */
		if (sigismember(set, sig) != 1 || sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigismember(&cur, sig) != 1)
			return 0;
		any = 1;
	}
	return any;
}

int
wf_signal_start(wf_loop *loop, wf_signal **sp, const sigset_t *set,
    wf_signal_cb *cb, void *arg)
{
	wf_signal *s;
	int rc;

	*sp = NULL;
	if (set == NULL || cb == NULL || !all_blocked(set))
		return -EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->cb = cb;
	s->arg = arg;
	if ((s->fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		rc = -errno;
		free(s);
		return rc;
	}
	rc = wf__io_start_internal(loop, &s->io, s->fd, WF_READ, on_readable,
	    s, release);
	if (rc < 0) {
		close(s->fd);
		free(s);
		return rc;
	}
	*sp = s;
	return 0;
}

void
wf_signal_stop(wf_signal *s)
{
	if (s == NULL)
		return;
	/* The fd and s go when the loop releases the watcher. */
	s->stopped = 1;
	wf_io_stop(s->io);
}

void *
wf_signal_arg(const wf_signal *s)
{
	return s->arg;
}

void
wf_signal_set_arg(wf_signal *s, void *arg)
{
	s->arg = arg;
}
