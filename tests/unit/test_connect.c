/* Asynchronous connect: success, refusal, retries, timeout, cancel. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "testutil.h"
#include "weft/connect.h"
#include "weft/timer.h"

struct result {
	int calls, fd, err;
	uint64_t at_ms;
};

/*
 * Linked with -Wl,--wrap=realloc (Makefile): the library's reallocs come
 * here, and fail_next_realloc makes the next one fail, as out of memory.
 */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static int fail_next_realloc;

void *
__wrap_realloc(void *p, size_t n)
{
	if (fail_next_realloc) {
		fail_next_realloc = 0;
		return NULL;
	}
	return __real_realloc(p, n);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_connect(wf_connect *req, int fd, int err, void *arg)
{
	struct result *r = arg;

	(void)req;
	r->calls++;
	r->fd = fd;
	r->err = err;
	r->at_ms = mono_ms();
}

/* A TCP listener on 127.0.0.1 with a kernel-chosen port. */
static int
tcp_listener(struct wf_addr *a, int backlog)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&a->ss;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(a, 0, sizeof(*a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a->len = sizeof(*sin);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, a->len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a->ss, &a->len), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static void
wait_result(wf_loop *loop, struct result *r)
{
	while (r->calls == 0)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
}

static void
connects_over_tcp(void **state)
{
	wf_loop *loop = loop_new();
	struct result r = { 0 };
	struct wf_addr a;
	int lfd = tcp_listener(&a, 8), afd;

	(void)state;
	assert_int_equal(wf_connect_start(loop, NULL, &a, NULL, on_connect, &r), 0);
	assert_int_equal(r.calls, 0); /* never inside the start call */
	wait_result(loop, &r);
	assert_int_equal(r.err, 0);
	assert_true(r.fd >= 0);
	assert_true(fcntl(r.fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(r.fd, F_GETFL) & O_NONBLOCK);
	afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	assert_int_equal(write(r.fd, "z", 1), 1);
	close(afd);
	close(r.fd);
	close(lfd);
	loop_free_clean(loop);
}

static void
refused_with_retries_and_backoff(void **state)
{
	struct wf_connect_opts o = { .size = sizeof(o), .retries = 2, .backoff_ms = 20 };
	wf_loop *loop = loop_new();
	struct result r = { 0 };
	struct wf_addr a;
	uint64_t t0;

	(void)state;
	close(tcp_listener(&a, 1)); /* a port nobody listens on */
	t0 = mono_ms();
	assert_int_equal(wf_connect_start(loop, NULL, &a, &o, on_connect, &r), 0);
	wait_result(loop, &r);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, -1);
	assert_int_equal(r.err, -ECONNREFUSED);
	assert_true(r.at_ms >= t0 + 20 + 40); /* two retries, doubling */
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	assert_int_equal(r.calls, 1);
	loop_free_clean(loop);
}

static void
nothing(wf_timer *t, void *arg)
{
	(void)t;
	(void)arg;
}

/*
 * Out of memory for the retry's timer: the request reports ENOMEM and is
 * freed, and nothing touches it afterwards (it did: a use after free).
 */
static void
retry_timer_out_of_memory_reports_and_stops(void **state)
{
	struct wf_connect_opts o = { .size = sizeof(o), .retries = 3, .backoff_ms = 20 };
	wf_loop *loop = loop_new();
	struct result r = { 0 };
	wf_timer *fill[64];
	struct wf_addr a;
	int i;

	(void)state;
	/* 64 timers fill the timer heap: one more needs a realloc. */
	for (i = 0; i < 64; i++) {
		assert_int_equal(wf_timer_new(loop, &fill[i], nothing, NULL), 0);
		assert_int_equal(wf_timer_start(fill[i], 60000, 0), 0);
	}
	close(tcp_listener(&a, 1)); /* a port nobody listens on */
	fail_next_realloc = 1;
	assert_int_equal(wf_connect_start(loop, NULL, &a, &o, on_connect, &r), 0);
	wait_result(loop, &r);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, -1);
	assert_int_equal(r.err, -ENOMEM);
	assert_int_equal(fail_next_realloc, 0); /* the injected failure hit */
	for (i = 0; i < 64; i++)
		wf_timer_free(fill[i]);
	loop_free_clean(loop);
}

static void
unix_connect_and_missing_path(void **state)
{
	char dir[] = "/tmp/weft-connect-XXXXXX";
	wf_loop *loop = loop_new();
	struct result r = { 0 }, miss = { 0 };
	struct wf_addr a, gone;
	char spec[128];
	int lfd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(spec, sizeof(spec), "unix:%s/s", dir);
	assert_int_equal(wf_addr_parse(&a, spec), 0);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a.ss, a.len), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(wf_connect_start(loop, NULL, &a, NULL, on_connect, &r), 0);
	snprintf(spec, sizeof(spec), "unix:%s/none", dir);
	assert_int_equal(wf_addr_parse(&gone, spec), 0);
	assert_int_equal(wf_connect_start(loop, NULL, &gone, NULL, on_connect,
	    &miss), 0);
	assert_int_equal(r.calls + miss.calls, 0);
	wait_result(loop, &r);
	wait_result(loop, &miss);
	assert_int_equal(r.err, 0);
	assert_true(r.fd >= 0);
	assert_int_equal(miss.err, -ENOENT);
	close(r.fd);
	close(lfd);
	unlink(a.ss.ss_family == AF_UNIX ? ((struct sockaddr_un *)&a.ss)->sun_path : "");
	rmdir(dir);
	loop_free_clean(loop);
}

/*
 * A listener with backlog 0 and a full accept queue drops further SYNs:
 * the connect neither succeeds nor fails, so only the timeout ends it.
 */
static int
black_hole(struct wf_addr *a, int filler[2])
{
	int lfd = tcp_listener(a, 0), i;

	for (i = 0; i < 2; i++) {
		filler[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(filler[i], (struct sockaddr *)&a->ss, a->len);
	}
	return lfd;
}

static void
timeout_then_cancel(void **state)
{
	struct wf_connect_opts o = { .size = sizeof(o), .timeout_ms = 50 };
	wf_loop *loop = loop_new();
	struct result r = { 0 }, never = { 0 };
	struct wf_addr a;
	wf_connect *req;
	int filler[2], lfd = black_hole(&a, filler);
	uint64_t t0 = mono_ms();

	(void)state;
	assert_int_equal(wf_connect_start(loop, NULL, &a, &o, on_connect, &r), 0);
	wait_result(loop, &r);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_int_equal(r.fd, -1);
	assert_true(r.at_ms >= t0 + 50);

	/* Cancelled: no callback, nothing left on the loop. */
	assert_int_equal(wf_connect_start(loop, &req, &a, &o, on_connect,
	    &never), 0);
	assert_int_equal(wf_loop_run_once(loop, 0), 0);
	wf_connect_cancel(req);
	assert_int_equal(wf_loop_run_once(loop, 80), 0);
	assert_int_equal(never.calls, 0);
	close(filler[0]);
	close(filler[1]);
	close(lfd);
	loop_free_clean(loop);
}

static int
open_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/*
 * A loop freed with requests pending (one waiting for its socket, one whose
 * Unix connect is done but not yet reported) releases them and their
 * sockets; valgrind sees no leak, and no fd stays open. Both leaked before.
 */
static void
loop_free_releases_pending_requests(void **state)
{
	struct result r = { 0 }, u = { 0 };
	struct sockaddr_un *sun;
	struct wf_addr a, ua = { .len = sizeof(*sun) };
	char path[] = "/tmp/weft-connect-XXXXXX";
	wf_loop *loop;
	int lfd = tcp_listener(&a, 8), ufd, before, mine;
	struct wf_connect_opts o = { .size = sizeof(o), .timeout_ms = 60000 };

	(void)state;
	assert_non_null(mkdtemp(path));
	sun = (struct sockaddr_un *)&ua.ss;
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/s", path);
	ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(ufd, (struct sockaddr *)sun, ua.len), 0);
	assert_int_equal(listen(ufd, 8), 0);
	before = open_fds();
	loop = loop_new();
	mine = open_fds() - before; /* the loop's own */
	assert_int_equal(wf_connect_start(loop, NULL, &a, &o, on_connect, &r), 0);
	assert_int_equal(wf_connect_start(loop, NULL, &ua, &o, on_connect, &u),
	    0);
	assert_int_equal(open_fds(), before + mine + 2);
	wf_loop_free(loop);
	assert_int_equal(r.calls + u.calls, 0); /* released, not called */
	assert_int_equal(open_fds(), before);
	close(lfd);
	close(ufd);
	unlink(sun->sun_path);
	rmdir(path);
}

static void
options_carry_their_size(void **state)
{
	struct { struct wf_connect_opts o; int later; } n = { { 0 }, 0 };
	wf_loop *loop = loop_new();
	struct result r = { 0 };
	struct wf_addr a;
	int lfd = tcp_listener(&a, 8);

	(void)state;
	assert_int_equal(wf_connect_start(loop, NULL, &a, &n.o, on_connect, &r),
	    -EINVAL);
	n.o.size = sizeof(n);
	n.later = 1;
	assert_int_equal(wf_connect_start(loop, NULL, &a, &n.o, on_connect, &r),
	    -E2BIG);
	assert_int_equal(r.calls, 0);
	close(lfd);
	wf_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(connects_over_tcp),
		CASE(refused_with_retries_and_backoff),
		CASE(retry_timer_out_of_memory_reports_and_stops),
		CASE(unix_connect_and_missing_path),
		CASE(timeout_then_cancel),
		CASE(loop_free_releases_pending_requests),
		CASE(options_carry_their_size),
	};

	RUN("connect", cases);
}
