/*
 * The server's graceful shutdown, a server on the caller's own loop, the
 * peer address in on_open, and option structs that can grow.
 */
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "testutil.h"
#include "weft/server.h"

#define BIG (4u << 20)

static atomic_int closes, timeouts, locals, dones;
static sem_t done_sem;
static struct wf_addr last_peer;

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	static char big[BIG];

	(void)arg;
	/* "big": far more than the socket takes at once, so most is queued. */
	if (wf_buf_len(in) >= 3 && memcmp(wf_buf_peek(in), "big", 3) == 0)
		assert_int_equal(wf_conn_send(c, big, sizeof(big)), 0);
	else
		(void)wf_conn_send(c, wf_buf_peek(in), wf_buf_len(in));
	wf_buf_consume(in, wf_buf_len(in));
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	(void)c;
	(void)err;
	(void)arg;
	if (why == WF_CLOSE_TIMEOUT)
		atomic_fetch_add(&timeouts, 1);
	if (why == WF_CLOSE_LOCAL)
		atomic_fetch_add(&locals, 1);
	atomic_fetch_add(&closes, 1);
}

static void
on_open(wf_conn *c, const struct wf_addr *peer, void *arg)
{
	(void)c;
	(void)arg;
	last_peer = *peer;
}

static const struct wf_conn_cbs cbs = { .on_data = on_data,
    .on_close = on_close };

static void
on_done(wf_server *s, void *arg)
{
	assert_ptr_equal(arg, &done_sem);
	assert_int_equal(wf_server_conns(s), 0);
	atomic_fetch_add(&dones, 1);
	sem_post(&done_sem);
}

static void
reset(void)
{
	atomic_store(&closes, 0);
	atomic_store(&timeouts, 0);
	atomic_store(&locals, 0);
	atomic_store(&dones, 0);
	sem_init(&done_sem, 0, 0);
}

static wf_server *
start(unsigned threads, wf_loop *loop, struct wf_addr *bound)
{
	struct wf_server_opts o = { .size = sizeof(o), .threads = threads,
	    .loop = loop, .cbs = &cbs, .on_open = on_open };
	struct wf_addr a;
	wf_server *s;

	assert_int_equal(wf_addr_parse(&a, "127.0.0.1:0"), 0);
	assert_int_equal(wf_server_start(&s, &o), 0);
	assert_int_equal(wf_server_listen(s, &a), 0);
	assert_int_equal(wf_server_addr(s, 0, bound), 0);
	return s;
}

static int
client(const struct wf_addr *a)
{
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (const struct sockaddr *)&a->ss, a->len), 0);
	return fd;
}

static void
wait_done(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	assert_int_equal(sem_timedwait(&done_sem, &until), 0);
}

/* Read until end of file; the byte count, or -1 on a reset. */
static ssize_t
drain(int fd)
{
	static char buf[65536];
	ssize_t total = 0, n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	return n == 0 ? total : -1;
}

static void
shutdown_flushes_queued_output_then_reports(void **state)
{
	struct wf_addr a;
	wf_server *s;
	int fd, quiet;

	(void)state;
	reset();
	s = start(2, NULL, &a);
	fd = client(&a);
	quiet = client(&a); /* idle: closed at once, no output owed */
	assert_int_equal(write(fd, "big", 3), 3);
	/* The answer is queued once its first bytes arrive. */
	{
		struct pollfd p = { fd, POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	assert_int_equal(wf_server_shutdown(s, 5000, on_done, &done_sem), 0);
	assert_int_equal(wf_server_shutdown(s, 5000, on_done, &done_sem),
	    -EALREADY);
	/* Nothing is accepted any more. */
	{
		int late = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_int_equal(connect(late, (const struct sockaddr *)&a.ss,
		    a.len), -1);
		assert_int_equal(errno, ECONNREFUSED);
		close(late);
	}
	assert_int_equal(drain(quiet), 0);
	/* Every byte queued before the shutdown arrives, then the end. */
	assert_int_equal(drain(fd), BIG);
	close(fd);
	close(quiet);
	wait_done();
	assert_int_equal(atomic_load(&dones), 1);
	assert_int_equal(atomic_load(&closes), 2);
	assert_int_equal(atomic_load(&locals), 2);
	wf_server_free(s);
	assert_int_equal(atomic_load(&dones), 1);
}

static void
shutdown_aborts_what_linger_does_not_flush(void **state)
{
	struct wf_addr a;
	wf_server *s;
	int fd;

	(void)state;
	reset();
	s = start(1, NULL, &a);
	fd = client(&a);
	assert_int_equal(write(fd, "big", 3), 3);
	{
		struct pollfd p = { fd, POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 5000), 1);
	}
	/* The client reads nothing: the linger deadline ends it. */
	assert_int_equal(wf_server_shutdown(s, 100, on_done, &done_sem), 0);
	wait_done();
	assert_int_equal(atomic_load(&timeouts), 1);
	assert_true(drain(fd) < (ssize_t)BIG);
	close(fd);
	wf_server_free(s);
}

static void
shutdown_without_connections_reports_too(void **state)
{
	struct wf_addr a;
	wf_server *s;

	(void)state;
	reset();
	s = start(2, NULL, &a);
	assert_int_equal(wf_server_shutdown(s, 0, on_done, &done_sem), 0);
	wait_done();
	wf_server_free(s);
	/* And a server freed in the middle of one never reports. */
	reset();
	s = start(1, NULL, &a);
	{
		int fd = client(&a);

		assert_int_equal(write(fd, "big", 3), 3);
		{
			struct pollfd p = { fd, POLLIN, 0 };

			assert_int_equal(poll(&p, 1, 5000), 1);
		}
		assert_int_equal(wf_server_shutdown(s, 5000, on_done,
		    &done_sem), 0);
		wf_server_free(s);
		close(fd);
	}
	assert_int_equal(atomic_load(&dones), 0);
}

/* --- on the caller's loop ------------------------------------------------ */

struct own {
	wf_loop *loop;
	int freed;
};

static void
free_in_done(wf_server *s, void *arg)
{
	struct own *o = arg;

	wf_server_free(s); /* allowed on a caller's loop */
	o->freed = 1;
	wf_loop_stop(o->loop);
}

static void
runs_on_the_callers_loop(void **state)
{
	wf_loop *loop;
	struct own own = { 0 };
	struct wf_addr a, mine;
	socklen_t len = sizeof(mine.ss);
	wf_server *s;
	char buf[8];
	int fd, i;
	ssize_t n = -1;

	(void)state;
	reset();
	assert_int_equal(wf_loop_new(&loop), 0);
	own.loop = loop;
	s = start(0, loop, &a);
	assert_null(wf_server_loops(s));
	fd = client(&a);
	assert_int_equal(write(fd, "hi", 2), 2);
	/* One thread: the loop runs only while we turn it. */
	for (i = 0; i < 100 && n < 0; i++) {
		assert_int_equal(wf_loop_run_once(loop, 50), 0);
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	}
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "hi", 2);
	/* on_open had the peer: the client's own address and port. */
	assert_int_equal(getsockname(fd, (struct sockaddr *)&mine.ss, &len), 0);
	assert_int_equal(last_peer.len, len);
	assert_memory_equal(&last_peer.ss, &mine.ss, len);
	assert_int_equal(wf_server_shutdown(s, 1000, free_in_done, &own), 0);
	assert_int_equal(own.freed, 0); /* never inside the call */
	assert_int_equal(wf_loop_run(loop), 0);
	assert_int_equal(own.freed, 1);
	assert_int_equal(drain(fd), 0);
	close(fd);
	assert_loop_clean(loop);
	wf_loop_free(loop);
}

/* --- growable options ---------------------------------------------------- */

struct newer {
	struct wf_server_opts o;
	uint64_t unknown; /* a field a later library might have */
};

static void
options_carry_their_size(void **state)
{
	struct newer n = { .o = { .cbs = &cbs } };
	struct wf_listen_opts lo = { .size = 1 };
	wf_loop *loop;
	wf_server *s;

	(void)state;
	assert_int_equal(wf_server_start(&s, &n.o), -EINVAL); /* size 0 */
	assert_null(s);
	assert_int_equal(wf_server_start(&s, NULL), -EINVAL);
	n.o.size = sizeof(n);
	assert_int_equal(wf_server_start(&s, &n.o), 0); /* zero: taken */
	wf_server_free(s);
	n.unknown = 1;
	assert_int_equal(wf_server_start(&s, &n.o), -E2BIG);
	/* An unset or garbage size is refused unread (ASan: no overflow). */
	n.o.size = 1u << 16;
	assert_int_equal(wf_server_start(&s, &n.o), -E2BIG);
	n.o.size = sizeof(n);
	n.unknown = 0;
	n.o.listen = &lo;
	assert_int_equal(wf_server_start(&s, &n.o), -EINVAL);
	n.o.listen = NULL;
	assert_int_equal(wf_loop_new(&loop), 0);
	n.o.loop = loop;
	n.o.threads = 2;
	assert_int_equal(wf_server_start(&s, &n.o), -EINVAL);
	wf_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(shutdown_flushes_queued_output_then_reports),
		CASE(shutdown_aborts_what_linger_does_not_flush),
		CASE(shutdown_without_connections_reports_too),
		CASE(runs_on_the_callers_loop),
		CASE(options_carry_their_size),
	};

	RUN("server_shutdown", cases);
}
