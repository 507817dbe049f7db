/* The loop and its fd watchers. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>

#include "testutil.h"
#include "weft/signal.h"
#include "weft/timer.h"

struct probe {
	int calls;
	unsigned last;
	int drain; /* read what is there, so level-triggered goes quiet */
};

static void
on_probe(wf_io *io, int fd, unsigned events, void *arg)
{
	struct probe *p = arg;
	char buf[64];

	(void)io;
	p->calls++;
	p->last = events;
	if (p->drain)
		(void)!read(fd, buf, sizeof(buf));
}

static void
make_pipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void
put(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void
level_read_repeats_until_drained(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_io *io;
	int fds[2];

	(void)state;
	make_pipe(fds);
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ, on_probe, &p), 0);
	assert_int_equal(wf_io_fd(io), fds[0]);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 0);
	put(fds[1]);
	wf_loop_run_once(loop, 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.last, WF_READ);
	p.drain = 1;
	wf_loop_run_once(loop, 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 3);
	wf_io_stop(io);
	close(fds[0]);
	close(fds[1]);
	loop_free_clean(loop);
}

static void
edge_fires_once_per_arrival(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_io *io;
	int fds[2];

	(void)state;
	make_pipe(fds);
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ | WF_EDGE,
	    on_probe, &p), 0);
	put(fds[1]);
	wf_loop_run_once(loop, 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	put(fds[1]);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 2);
	wf_io_stop(io);
	close(fds[0]);
	close(fds[1]);
	loop_free_clean(loop);
}

static void
modify_changes_interest(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_io *io;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(wf_io_start(loop, &io, sv[0], WF_WRITE, on_probe, &p), 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.last, WF_WRITE);

	assert_int_equal(wf_io_modify(io, WF_READ), 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	put(sv[1]);

	/* Paused: data waits, nothing is delivered. */
	assert_int_equal(wf_io_modify(io, 0), 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);

	assert_int_equal(wf_io_modify(io, WF_READ | WF_WRITE), 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 2);
	assert_int_equal(p.last, WF_READ | WF_WRITE);
	assert_int_equal(wf_io_modify(io, 0x100), -EINVAL);
	wf_io_stop(io);
	close(sv[0]);
	close(sv[1]);
	loop_free_clean(loop);
}

static void
hangup_wakes_reader_and_paused_watcher_stays_quiet(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_io *io;
	int fds[2];

	(void)state;
	make_pipe(fds);
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ, on_probe, &p), 0);
	close(fds[1]);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	assert_true(p.last & WF_READ);
	assert_true(p.last & WF_HUP);
	/* epoll reports HUP whatever the mask: a paused watcher must not spin. */
	assert_int_equal(wf_io_modify(io, 0), 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	wf_io_stop(io);
	close(fds[0]);
	loop_free_clean(loop);
}

static void
double_watch_is_refused(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_io *io, *io2;
	int fds[2];

	(void)state;
	make_pipe(fds);
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ, on_probe, &p), 0);
	assert_int_equal(wf_io_start(loop, &io2, fds[0], WF_READ, on_probe, &p),
	    -EEXIST);
	assert_null(io2);
	assert_int_equal(wf_io_modify(io, 0), 0);
	assert_int_equal(wf_io_start(loop, &io2, fds[0], WF_READ, on_probe, &p),
	    -EEXIST);
	assert_int_equal(wf_io_start(loop, &io2, -1, WF_READ, on_probe, &p),
	    -EINVAL);
	assert_int_equal(wf_io_start(loop, &io2, fds[1], WF_READ, NULL, &p),
	    -EINVAL);
	/* The original is intact. */
	assert_int_equal(wf_io_modify(io, WF_READ), 0);
	put(fds[1]);
	wf_loop_run_once(loop, 0);
	assert_int_equal(p.calls, 1);
	wf_io_stop(io);
	close(fds[0]);
	close(fds[1]);
	loop_free_clean(loop);
}

/*
 * The classic stale-event bug. Two fds are ready in one epoll_wait batch.
 * Whichever callback runs first closes the other fd and opens a new one that
 * takes its number; the closed fd's event, still in the batch, must reach
 * neither the new watcher nor the old one.
 */
struct reuse {
	wf_loop *loop;
	int fds[2][2];
	wf_io *io[2];
	int calls[2];
	int victim_fd;
	int newfds[2];
	wf_io *newio;
	struct probe newp;
	int stop_victim; /* 0: close the fd behind the loop's back */
};

static void
on_reuse(wf_io *io, int fd, unsigned events, void *arg)
{
	struct reuse *r = arg;
	int me = io == r->io[0] ? 0 : 1, other = !me;

	(void)fd;
	(void)events;
	r->calls[me]++;
	if (r->victim_fd >= 0)
		return;
	r->victim_fd = r->fds[other][0];
	if (r->stop_victim) {
		wf_io_stop(r->io[other]);
		r->io[other] = NULL;
	}
	close(r->fds[other][0]);
	make_pipe(r->newfds);
	assert_int_equal(r->newfds[0], r->victim_fd);
	put(r->newfds[1]); /* the new fd is ready too: a fd lookup would hit it */
	assert_int_equal(wf_io_start(r->loop, &r->newio, r->newfds[0], WF_READ,
	    on_probe, &r->newp), 0);
}

/* What the library said through the log callback. */
struct heard {
	int level;
	char msg[256];
};

static void
on_log(int level, const char *msg, void *arg)
{
	struct heard *h = arg;

	h->level = level;
	snprintf(h->msg, sizeof(h->msg), "%s", msg);
}

static void
run_reuse(int stop_victim)
{
	struct reuse r = { .victim_fd = -1, .stop_victim = stop_victim };
	struct heard h = { 0 };
	int i, first;

	wf_log_set(on_log, &h);
	r.loop = loop_new();
	for (i = 0; i < 2; i++) {
		make_pipe(r.fds[i]);
		put(r.fds[i][1]);
		assert_int_equal(wf_io_start(r.loop, &r.io[i], r.fds[i][0],
		    WF_READ, on_reuse, &r), 0);
	}
	wf_loop_run_once(r.loop, 0);
	assert_int_not_equal(r.victim_fd, -1);
	first = r.calls[0] ? 0 : 1;
	assert_int_equal(r.calls[first], 1);
	assert_int_equal(r.calls[!first], 0); /* its stale event was dropped */
	assert_int_equal(r.newp.calls, 0);    /* and did not reach the new fd */
	wf_log_set(NULL, NULL);
	if (stop_victim) {
		assert_int_equal(h.level, 0);
	} else {
		/* Closing a watched fd is a caller's bug: the library says so. */
		assert_int_equal(h.level, WF_LOG_WARN);
		assert_non_null(strstr(h.msg, "closed while watched"));
	}

	/* The new watcher is live and gets its own event next time. */
	r.newp.drain = 1;
	wf_loop_run_once(r.loop, 0);
	assert_int_equal(r.newp.calls, 1);
	assert_int_equal(r.calls[!first], 0);

	wf_io_stop(r.io[first]);
	wf_io_stop(r.io[!first]); /* NULL when stopped, an orphan otherwise */
	wf_io_stop(r.newio);
	for (i = 0; i < 2; i++) {
		if (i == first)
			close(r.fds[i][0]);
		close(r.fds[i][1]);
	}
	close(r.newfds[0]);
	close(r.newfds[1]);
	loop_free_clean(r.loop);
}

static void
stale_event_of_reused_fd_is_dropped(void **state)
{
	(void)state;
	run_reuse(1);
}

static void
fd_closed_without_stop_and_reused_is_dropped(void **state)
{
	(void)state;
	run_reuse(0);
}

struct selfstop {
	wf_io *io;
	int calls;
};

static void
on_selfstop(wf_io *io, int fd, unsigned events, void *arg)
{
	struct selfstop *s = arg;

	(void)fd;
	(void)events;
	s->calls++;
	wf_io_stop(io);
	/* Released after the batch, not now: still readable here. */
	assert_int_equal(wf_io_fd(io), fd);
	s->io = NULL;
}

static void
stop_in_own_callback(void **state)
{
	wf_loop *loop = loop_new();
	struct selfstop s = { 0 };
	int fds[2];

	(void)state;
	make_pipe(fds);
	put(fds[1]);
	assert_int_equal(wf_io_start(loop, &s.io, fds[0], WF_READ, on_selfstop,
	    &s), 0);
	wf_loop_run_once(loop, 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(s.calls, 1);
	close(fds[0]);
	close(fds[1]);
	loop_free_clean(loop);
}

#define MANY 300

struct many {
	int fds[MANY][2];
	wf_io *io[MANY];
	struct probe p[MANY];
};

static int
calls_total(struct many *m)
{
	int i, n = 0;

	for (i = 0; i < MANY; i++)
		n += m->p[i].calls;
	return n;
}

static void
work_per_wakeup_is_bounded(void **state)
{
	wf_loop *loop = loop_new();
	struct many *m = calloc(1, sizeof(*m));
	int i;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < MANY; i++) {
		make_pipe(m->fds[i]);
		put(m->fds[i][1]);
		m->p[i].drain = 1;
		assert_int_equal(wf_io_start(loop, &m->io[i], m->fds[i][0],
		    WF_READ, on_probe, &m->p[i]), 0);
	}
	wf_loop_run_once(loop, 0);
	assert_int_equal(calls_total(m), WF__MAX_EVENTS);
	wf_loop_run_once(loop, 0);
	assert_int_equal(calls_total(m), MANY);
	for (i = 0; i < MANY; i++) {
		assert_int_equal(m->p[i].calls, 1);
		wf_io_stop(m->io[i]);
		close(m->fds[i][0]);
		close(m->fds[i][1]);
	}
	free(m);
	loop_free_clean(loop);
}

static void
on_reenter(wf_io *io, int fd, unsigned events, void *arg)
{
	wf_loop *loop = arg;

	(void)fd;
	(void)events;
	assert_true(wf_loop_on_thread(loop));
	assert_int_equal(wf_loop_run_once(loop, 0), -EBUSY);
	assert_int_equal(wf_loop_run(loop), -EBUSY);
	wf_io_stop(io);
}

static void
run_is_not_reentrant(void **state)
{
	wf_loop *loop = loop_new();
	wf_io *io;
	int fds[2];

	(void)state;
	make_pipe(fds);
	put(fds[1]);
	assert_false(wf_loop_on_thread(loop));
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ, on_reenter,
	    loop), 0);
	wf_loop_run_once(loop, 0);
	assert_false(wf_loop_on_thread(loop));
	close(fds[0]);
	close(fds[1]);
	loop_free_clean(loop);
}

static void
on_stop_timer(wf_timer *t, void *arg)
{
	(void)t;
	wf_loop_stop(arg);
}

static void
run_returns_after_stop(void **state)
{
	wf_loop *loop = loop_new();
	wf_timer *t;

	(void)state;
	/* A stop before run makes run return at once. */
	wf_loop_stop(loop);
	assert_int_equal(wf_loop_run(loop), 0);

	assert_int_equal(wf_timer_new(loop, &t, on_stop_timer, loop), 0);
	assert_int_equal(wf_timer_start(t, 5, 0), 0);
	assert_int_equal(wf_loop_run(loop), 0);
	assert_false(wf_timer_active(t));
	wf_timer_free(t);
	loop_free_clean(loop);
}

static void
on_count_task(void *arg)
{
	(*(int *)arg)++;
}

static void
on_never_signal(wf_signal *s, const struct signalfd_siginfo *si, void *arg)
{
	(void)s;
	(void)si;
	(void)arg;
	fail();
}

static void
on_never_timer(wf_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	fail();
}

/*
 * Freeing a loop that still has watchers: documented in weft/loop.h.
 * Queued tasks run, callbacks do not, everything of the library's is
 * released (ASan and valgrind check), the caller's fds stay open.
 */
static void
free_with_live_watchers(void **state)
{
	wf_loop *loop = loop_new();
	struct probe p = { 0 };
	wf_timer *armed, *idle;
	wf_signal *sig;
	sigset_t set;
	wf_io *io;
	int fds[2], ran = 0;

	(void)state;
	make_pipe(fds);
	put(fds[1]);
	assert_int_equal(wf_io_start(loop, &io, fds[0], WF_READ, on_probe, &p), 0);
	assert_int_equal(wf_timer_new(loop, &armed, on_never_timer, NULL), 0);
	assert_int_equal(wf_timer_start(armed, 0, 1), 0);
	assert_int_equal(wf_timer_new(loop, &idle, on_never_timer, NULL), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGURG);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	assert_int_equal(wf_signal_start(loop, &sig, &set, on_never_signal,
	    NULL), 0);
	assert_int_equal(wf_loop_post(loop, on_count_task, &ran), 0);
	wf_loop_free(loop);
	assert_int_equal(ran, 1);
	assert_int_equal(p.calls, 0);
	assert_int_not_equal(fcntl(fds[0], F_GETFD), -1);
	close(fds[0]);
	close(fds[1]);
}

static void
now_follows_monotonic_clock(void **state)
{
	wf_loop *loop = loop_new();
	struct timespec a, b;
	uint64_t lo, hi, now;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	wf_loop_update_time(loop);
	now = wf_loop_now(loop);
	clock_gettime(CLOCK_MONOTONIC, &b);
	lo = (uint64_t)a.tv_sec * 1000 + (uint64_t)a.tv_nsec / 1000000;
	hi = (uint64_t)b.tv_sec * 1000 + (uint64_t)b.tv_nsec / 1000000;
	assert_in_range(now, lo, hi);
	loop_free_clean(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(level_read_repeats_until_drained),
		CASE(edge_fires_once_per_arrival),
		CASE(modify_changes_interest),
		CASE(hangup_wakes_reader_and_paused_watcher_stays_quiet),
		CASE(double_watch_is_refused),
		CASE(stale_event_of_reused_fd_is_dropped),
		CASE(fd_closed_without_stop_and_reused_is_dropped),
		CASE(stop_in_own_callback),
		CASE(work_per_wakeup_is_bounded),
		CASE(run_is_not_reentrant),
		CASE(run_returns_after_stop),
		CASE(free_with_live_watchers),
		CASE(now_follows_monotonic_clock),
	};

	RUN("loop", cases);
}
