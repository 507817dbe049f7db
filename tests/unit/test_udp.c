/*
 * Datagram sockets. Everything binds 127.0.0.1 or ::1 on a port the kernel
 * picks, or a path in a fresh mkdtemp directory.
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>

#include "testutil.h"
#include "weft/log.h"
#include "weft/udp.h"

#define MAXRX 256
#define WAIT_MS 5000 /* readiness waits give up here: something hangs */

/* What the callback saw, and what it should do about it. */
struct rx {
	int n;
	char data[MAXRX][24];
	size_t len[MAXRX];
	struct wf_addr peer[MAXRX];
	int trunc[MAXRX];
	wf_udp *u;          /* the watcher of the last call */
	int echo;           /* send each datagram back to its peer */
	int pause_at;       /* pause after this many calls (0: never) */
	int close_at;       /* close after this many calls (0: never) */
	struct rx *move_to; /* set_arg to it after the first call */
	wf_loop *loop;      /* with close_at: reopen at reopen_addr */
	struct wf_addr reopen_addr;
	wf_udp *reopened;
	struct rx *reopened_rx;
};

static void
on_rx(wf_udp *u, const void *data, size_t len, const struct wf_addr *peer,
    int trunc, void *arg)
{
	struct rx *r = arg;
	int i = r->n;
	char copy[24];
	size_t keep = len < sizeof(copy) ? len : sizeof(copy);

	assert_true(i < MAXRX);
	assert_ptr_equal(wf_udp_arg(u), arg);
	memcpy(r->data[i], data, keep);
	r->len[i] = len;
	r->peer[i] = *peer;
	r->trunc[i] = trunc;
	r->u = u;
	r->n++;
	if (r->echo)
		assert_int_equal(wf_udp_send(u, data, len, peer), 0);
	if (r->move_to != NULL) {
		wf_udp_set_arg(u, r->move_to);
		r->move_to = NULL;
	}
	if (r->pause_at == r->n)
		wf_udp_pause(u);
	if (r->close_at == r->n) {
		memcpy(copy, data, keep);
		wf_udp_close(u);
		/* data stays readable until the callback returns. */
		assert_memory_equal(data, copy, keep);
		if (r->loop != NULL)
			assert_int_equal(wf_udp_open(r->loop, &r->reopened,
			    &r->reopen_addr, NULL, on_rx, r->reopened_rx), 0);
	}
}

static uint64_t
ms_now(void)
{
	return wf__clock_ns() / WF__NSEC_PER_MSEC;
}

/* Iterate (each iteration sleeps in epoll_wait) until *n reaches want. */
static void
run_until(wf_loop *loop, const int *n, int want)
{
	uint64_t deadline = ms_now() + WAIT_MS;

	while (*n < want) {
		assert_true(ms_now() < deadline);
		wf_loop_run_once(loop, 50);
	}
}

static void
wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
}

/* The lowest free descriptor: unchanged after a call means no fd leaked. */
static int
lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void
parse(struct wf_addr *a, const char *s)
{
	assert_int_equal(wf_addr_parse(a, s), 0);
}

static wf_udp *
open_at(wf_loop *loop, const char *s, const struct wf_udp_opts *o,
    struct rx *r)
{
	struct wf_addr addr;
	wf_udp *u;

	parse(&addr, s);
	assert_int_equal(wf_udp_open(loop, &u, &addr, o, on_rx, r), 0);
	assert_non_null(u);
	return u;
}

static struct wf_addr
bound(const wf_udp *u)
{
	struct wf_addr a;

	assert_int_equal(wf_udp_addr(u, &a), 0);
	return a;
}

/* A plain blocking datagram socket bound to s: the other end. */
static int
raw_at(const char *s, struct wf_addr *a)
{
	struct wf_addr tmp;
	int fd;

	parse(&tmp, s);
	fd = socket(tmp.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)&tmp.ss, tmp.len),
	    0);
	if (a != NULL) {
		memset(a, 0, sizeof(*a));
		a->len = sizeof(a->ss);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&a->ss,
		    &a->len), 0);
	}
	return fd;
}

static void
send_raw(int fd, const struct wf_addr *to, const char *s)
{
	assert_int_equal(sendto(fd, s, strlen(s), 0,
	    (const struct sockaddr *)&to->ss, to->len), (ssize_t)strlen(s));
}

/* Wait for one datagram at fd; returns its length, peer into *from. */
static ssize_t
recv_raw(int fd, char *buf, size_t size, struct wf_addr *from)
{
	struct wf_addr tmp;
	ssize_t n;

	if (from == NULL)
		from = &tmp;
	from->len = sizeof(from->ss);
	wait_readable(fd);
	n = recvfrom(fd, buf, size, MSG_DONTWAIT,
	    (struct sockaddr *)&from->ss, &from->len);
	assert_true(n >= 0);
	return n;
}

static void
assert_same_addr(const struct wf_addr *a, const struct wf_addr *b)
{
	char x[160], y[160];

	assert_string_equal(wf_addr_format(a, x, sizeof(x)),
	    wf_addr_format(b, y, sizeof(y)));
}

static void
assert_got(const struct rx *r, int i, const char *s)
{
	assert_int_equal(r->len[i], strlen(s));
	assert_memory_equal(r->data[i], s, strlen(s));
	assert_false(r->trunc[i]);
}

static void
assert_nonblock_cloexec(int fd)
{
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* Two watchers: one echoes, the other hears its own datagram come back. */
static void
echo_round_trip(const char *spec)
{
	wf_loop *loop = loop_new();
	struct rx srv = { .echo = 1 }, cli = { 0 };
	struct wf_addr sa, ca;
	wf_udp *s, *c;

	s = open_at(loop, spec, NULL, &srv);
	c = open_at(loop, spec, NULL, &cli);
	assert_nonblock_cloexec(wf_udp_fd(s));
	sa = bound(s);
	ca = bound(c);
	assert_int_equal(sa.ss.ss_family, ca.ss.ss_family);
	assert_int_not_equal(((struct sockaddr_in *)&sa.ss)->sin_port, 0);

	assert_int_equal(wf_udp_send(c, "ping", 4, &sa), 0);
	run_until(loop, &cli.n, 1);
	assert_int_equal(srv.n, 1);
	assert_got(&srv, 0, "ping");
	assert_got(&cli, 0, "ping");
	/* Each saw the other's bound address as the peer. */
	assert_int_equal(srv.peer[0].len, ca.len);
	assert_same_addr(&srv.peer[0], &ca);
	assert_same_addr(&cli.peer[0], &sa);
	assert_ptr_equal(srv.u, s);
	assert_ptr_equal(cli.u, c);

	wf_udp_close(s);
	wf_udp_close(c);
	loop_free_clean(loop);
}

static void
ipv4_echo_round_trip(void **state)
{
	(void)state;
	echo_round_trip("127.0.0.1:0");
}

/* Some containers have the socket family but no ::1: that is no IPv6 too. */
static int
have_ipv6(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd, ok;

	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

static void
ipv6_echo_round_trip(void **state)
{
	struct rx r = { 0 };
	socklen_t len;
	wf_loop *loop;
	wf_udp *u;
	int v6only = 0;

	(void)state;
	if (!have_ipv6())
		skip();
	loop = loop_new();
	u = open_at(loop, "[::1]:0", NULL, &r);
	len = sizeof(v6only);
	assert_int_equal(getsockopt(wf_udp_fd(u), IPPROTO_IPV6, IPV6_V6ONLY,
	    &v6only, &len), 0);
	assert_int_equal(v6only, 1);
	wf_udp_close(u);
	loop_free_clean(loop);
	echo_round_trip("[::1]:0");
}

static void
truncation_is_flagged(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_udp_opts o = { .size = sizeof(o), .max_datagram = 8 };
	struct rx r = { 0 };
	struct wf_addr a;
	wf_udp *u;
	int fd;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", &o, &r);
	a = bound(u);
	fd = raw_at("127.0.0.1:0", NULL);
	send_raw(fd, &a, "0123456789abcdefghij");
	send_raw(fd, &a, "ABCDEFGH");
	send_raw(fd, &a, "short");
	run_until(loop, &r.n, 3);
	assert_int_equal(r.len[0], 8);
	assert_memory_equal(r.data[0], "01234567", 8);
	assert_true(r.trunc[0]);
	/* Exactly max_datagram fits. */
	assert_got(&r, 1, "ABCDEFGH");
	assert_got(&r, 2, "short");
	close(fd);
	wf_udp_close(u);
	loop_free_clean(loop);
}

/*
 * 200 datagrams, in two rounds of 100 (a round fits the default receive
 * buffer): 64 per wakeup, the rest the next time, all in order.
 */
static void
burst_arrives_in_order_over_wakeups(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_udp_opts o = { .size = sizeof(o), .max_datagram = 1500 };
	struct rx *r = calloc(1, sizeof(*r));
	struct wf_addr a;
	char buf[16];
	wf_udp *u;
	int fd, round, i;

	(void)state;
	assert_non_null(r);
	u = open_at(loop, "127.0.0.1:0", &o, r);
	a = bound(u);
	fd = raw_at("127.0.0.1:0", NULL);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 100; i++) {
			snprintf(buf, sizeof(buf), "%d", round * 100 + i);
			send_raw(fd, &a, buf);
		}
		wait_readable(wf_udp_fd(u));
		wf_loop_run_once(loop, 0);
		assert_int_equal(r->n, round * 100 + 64);
		wf_loop_run_once(loop, 0);
		assert_int_equal(r->n, round * 100 + 100);
	}
	for (i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_got(r, i, buf);
	}
	close(fd);
	wf_udp_close(u);
	free(r);
	loop_free_clean(loop);
}

/*
 * The callback closes its watcher with more datagrams queued, and at once
 * binds a new one to the same port. Under ASan and valgrind this also
 * proves the receive loop touches nothing freed.
 */
static void
close_in_own_callback(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { .close_at = 1 }, r2 = { 0 };
	struct wf_addr a;
	wf_udp *u;
	int fd;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", NULL, &r);
	a = bound(u);
	r.loop = loop;
	r.reopen_addr = a;
	r.reopened_rx = &r2;
	fd = raw_at("127.0.0.1:0", NULL);
	send_raw(fd, &a, "one");
	send_raw(fd, &a, "two");
	send_raw(fd, &a, "three");
	wait_readable(wf_udp_fd(u));
	wf_loop_run_once(loop, 0);
	assert_int_equal(r.n, 1);
	assert_got(&r, 0, "one");
	assert_non_null(r.reopened);
	wf_loop_run_once(loop, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r2.n, 0);

	/* The new watcher has the port. */
	send_raw(fd, &a, "four");
	run_until(loop, &r2.n, 1);
	assert_got(&r2, 0, "four");
	close(fd);
	wf_udp_close(r.reopened);
	loop_free_clean(loop);
}

/* A fresh directory for socket files. */
struct tmp {
	char dir[64];
	char path[128], cpath[128];
	char spec[160], cspec[160];
	struct wf_addr addr, caddr;
};

static void
tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/weft-udp-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/s.sock", t->dir);
	snprintf(t->spec, sizeof(t->spec), "unix:%s", t->path);
	parse(&t->addr, t->spec);
	snprintf(t->cpath, sizeof(t->cpath), "%s/c.sock", t->dir);
	snprintf(t->cspec, sizeof(t->cspec), "unix:%s", t->cpath);
	parse(&t->caddr, t->cspec);
}

static void
tmp_done(struct tmp *t)
{
	(void)unlink(t->path);
	(void)unlink(t->cpath);
	assert_int_equal(rmdir(t->dir), 0);
}

static int
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* weft/loop.h: the library's descriptors and memory go with the loop. */
static void
loop_free_releases_open_watchers(void **state)
{
	struct rx r1 = { .pause_at = 1 }, r2 = { 0 }, r3 = { 0 };
	struct wf_addr a;
	wf_loop *loop;
	struct tmp t;
	wf_udp *u1, *u3;
	int before, fd;

	(void)state;
	tmp_make(&t);
	before = lowest_free_fd();
	loop = loop_new();
	u1 = open_at(loop, "127.0.0.1:0", NULL, &r1);
	(void)open_at(loop, t.spec, NULL, &r2);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(wf_udp_adopt(loop, &u3, fd, on_rx, &r3), 0);
	assert_true(path_exists(t.path));
	/* u1 keeps two read but undelivered datagrams at the end. */
	a = bound(u1);
	fd = raw_at("127.0.0.1:0", NULL);
	send_raw(fd, &a, "a");
	send_raw(fd, &a, "b");
	send_raw(fd, &a, "c");
	close(fd);
	run_until(loop, &r1.n, 1);
	wf_loop_free(loop);
	assert_false(path_exists(t.path));
	assert_int_equal(lowest_free_fd(), before);
	tmp_done(&t);
}

static void
connect_fixes_the_default_peer_and_filters(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { 0 }, rs = { 0 };
	struct iovec iov[3] = { { "con", 3 }, { "cat", 3 }, { "enated", 6 } };
	struct wf_addr sa, oa, ua, from;
	wf_udp *u, *s;
	char buf[32];
	int other;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", NULL, &r);
	s = open_at(loop, "127.0.0.1:0", NULL, &rs);
	sa = bound(s);
	other = raw_at("127.0.0.1:0", &oa);
	/* No peer yet. */
	assert_int_equal(wf_udp_send(u, "x", 1, NULL), -EDESTADDRREQ);

	assert_int_equal(wf_udp_connect(u, &sa), 0);
	assert_int_equal(wf_udp_send(u, "hello", 5, NULL), 0);
	assert_int_equal(wf_udp_sendv(u, iov, 3, NULL), 0);
	run_until(loop, &rs.n, 2);
	assert_got(&rs, 0, "hello");
	assert_got(&rs, 1, "concatenated");
	ua = bound(u);
	assert_same_addr(&rs.peer[0], &ua);

	/* Only the connected peer gets through. */
	send_raw(other, &rs.peer[0], "stranger");
	assert_int_equal(wf_udp_send(s, "friend", 6, &rs.peer[0]), 0);
	run_until(loop, &r.n, 1);
	wf_loop_run_once(loop, 20);
	assert_int_equal(r.n, 1);
	assert_got(&r, 0, "friend");

	/* Dissolved: anyone again, sends need a peer, the port stays. */
	assert_int_equal(wf_udp_connect(u, NULL), 0);
	from = bound(u);
	assert_same_addr(&from, &ua);
	assert_int_equal(wf_udp_send(u, "x", 1, NULL), -EDESTADDRREQ);
	send_raw(other, &rs.peer[0], "stranger");
	run_until(loop, &r.n, 2);
	assert_got(&r, 1, "stranger");
	assert_same_addr(&r.peer[1], &oa);
	assert_int_equal(wf_udp_send(u, "back", 4, &oa), 0);
	assert_int_equal(recv_raw(other, buf, sizeof(buf), &from), 4);
	assert_memory_equal(buf, "back", 4);

	close(other);
	wf_udp_close(u);
	wf_udp_close(s);
	loop_free_clean(loop);
}

/*
 * A datagram to a closed port on a connected socket: the ICMP port
 * unreachable leaves ECONNREFUSED on the socket, which then polls as an
 * error. It is read once and swallowed: no callback, no busy loop, and a
 * datagram from the peer, once it is up, still arrives.
 */
static void
refused_on_connected_socket_does_not_spin(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { 0 };
	struct pollfd p;
	struct wf_addr pa, ua;
	char spec[64];
	uint64_t t0;
	wf_udp *u;
	int fd, iterations = 0;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", NULL, &r);
	ua = bound(u);
	/* A port that was just free: nobody listens there now. */
	fd = raw_at("127.0.0.1:0", &pa);
	close(fd);
	assert_int_equal(wf_udp_connect(u, &pa), 0);
	assert_int_equal(wf_udp_send(u, "anyone?", 7, NULL), 0);
	p = (struct pollfd){ .fd = wf_udp_fd(u), .events = POLLIN };
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	assert_true(p.revents & POLLERR);

	t0 = ms_now();
	while (ms_now() - t0 < 200) {
		wf_loop_run_once(loop, 10);
		iterations++;
	}
	/* Sleeping 10 ms each: about 20. A spin would be thousands. */
	assert_true(iterations < 60);
	assert_int_equal(r.n, 0);
	p.revents = 0;
	assert_int_equal(poll(&p, 1, 0), 0);

	/* The peer comes up on that port: its datagram gets through. */
	snprintf(spec, sizeof(spec), "127.0.0.1:%u",
	    ntohs(((struct sockaddr_in *)&pa.ss)->sin_port));
	fd = raw_at(spec, NULL);
	send_raw(fd, &ua, "here");
	run_until(loop, &r.n, 1);
	assert_got(&r, 0, "here");
	close(fd);
	wf_udp_close(u);
	loop_free_clean(loop);
}

struct heard {
	int n;
	int level;
	char msg[256];
};

static void
on_log(int level, const char *msg, void *arg)
{
	struct heard *h = arg;

	if (h->n++ == 0) {
		h->level = level;
		snprintf(h->msg, sizeof(h->msg), "%s", msg);
	}
}

/*
 * Shut down for reading behind the library's back, a socket polls
 * readable for ever with nothing to read. Receiving stalls, said once.
 */
static void
shut_down_socket_stalls_without_spinning(void **state)
{
	wf_loop *loop = loop_new();
	struct heard h = { 0 };
	struct rx r = { 0 };
	struct wf_addr pa;
	char want[64];
	uint64_t t0;
	wf_udp *u;
	int fd, iterations = 0;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", NULL, &r);
	fd = raw_at("127.0.0.1:0", &pa);
	assert_int_equal(wf_udp_connect(u, &pa), 0);
	assert_int_equal(shutdown(wf_udp_fd(u), SHUT_RD), 0);
	wf_log_set(on_log, &h);
	t0 = ms_now();
	while (ms_now() - t0 < 200) {
		wf_loop_run_once(loop, 10);
		iterations++;
	}
	wf_log_set(NULL, NULL);
	assert_true(iterations < 60);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.level, WF_LOG_ERR);
	snprintf(want, sizeof(want), "recvmmsg(fd=%d): shut down for reading",
	    wf_udp_fd(u));
	assert_ptr_equal(strstr(h.msg, want), h.msg);
	/* Sending still works. */
	assert_int_equal(wf_udp_send(u, "out", 3, NULL), 0);
	close(fd);
	wf_udp_close(u);
	loop_free_clean(loop);
}

static int
raw_stream(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

/* The watcher owns the fd from the call on, also when it refuses it. */
static void
adopt_refuses_and_closes_what_is_not_datagram(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { 0 };
	wf_udp *u;
	int fd, p[2], before;

	(void)state;
	before = lowest_free_fd();
	fd = raw_stream();
	assert_int_equal(wf_udp_adopt(loop, &u, fd, on_rx, &r), -EINVAL);
	assert_null(u);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(wf_udp_adopt(loop, &u, p[0], on_rx, &r), -ENOTSOCK);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	close(p[1]);

	fd = raw_at("127.0.0.1:0", NULL);
	assert_int_equal(wf_udp_adopt(loop, &u, fd, NULL, &r), -EINVAL);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	assert_int_equal(wf_udp_adopt(loop, &u, -1, on_rx, &r), -EBADF);
	assert_int_equal(lowest_free_fd(), before);
	loop_free_clean(loop);
}

static void
adopt_takes_a_datagram_socket(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_addr a, fa;
	struct rx r = { 0 };
	wf_udp *u;
	int fd, c;

	(void)state;
	/* Blocking and inheritable, as systemd would pass it. */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	parse(&a, "127.0.0.1:0");
	assert_int_equal(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
	assert_int_equal(wf_udp_adopt(loop, &u, fd, on_rx, &r), 0);
	assert_int_equal(wf_udp_fd(u), fd);
	assert_nonblock_cloexec(fd);
	a = bound(u);
	c = raw_at("127.0.0.1:0", &fa);
	send_raw(c, &a, "adopted");
	run_until(loop, &r.n, 1);
	assert_got(&r, 0, "adopted");
	assert_same_addr(&r.peer[0], &fa);
	close(c);
	wf_udp_close(u);
	/* It was the watcher's to close. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	loop_free_clean(loop);
}

static void
open_rejects_bad_arguments(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_udp_opts o = { 0 };
	struct {
		struct wf_udp_opts o;
		int future;
	} big = { .o.size = sizeof(big), .future = 1 };
	struct wf_addr a, none = { 0 };
	struct rx r = { 0 };
	wf_udp *u;
	int before = lowest_free_fd();

	(void)state;
	parse(&a, "127.0.0.1:0");
	/* size 0: a caller that forgot it. */
	assert_int_equal(wf_udp_open(loop, &u, &a, &o, on_rx, &r), -EINVAL);
	assert_null(u);
	o.size = sizeof(size_t);
	assert_int_equal(wf_udp_open(loop, &u, &a, &o, on_rx, &r), -EINVAL);
	assert_int_equal(wf_udp_open(loop, &u, &a, &big.o, on_rx, &r), -E2BIG);
	o.size = sizeof(o);
	o.max_datagram = (16u << 20) + 1;
	assert_int_equal(wf_udp_open(loop, &u, &a, &o, on_rx, &r), -EINVAL);
	assert_int_equal(wf_udp_open(loop, &u, NULL, NULL, on_rx, &r),
	    -EINVAL);
	assert_int_equal(wf_udp_open(loop, &u, &a, NULL, NULL, &r), -EINVAL);
	assert_int_equal(wf_udp_open(loop, &u, &none, NULL, on_rx, &r),
	    -EAFNOSUPPORT);
	/* Not an address of this machine. */
	parse(&a, "192.0.2.1:0");
	assert_int_equal(wf_udp_open(loop, &u, &a, NULL, on_rx, &r),
	    -EADDRNOTAVAIL);
	assert_null(u);
	assert_int_equal(lowest_free_fd(), before);
	loop_free_clean(loop);
}

/* A datagram socket file nobody is bound to: what a crash leaves. */
static void
make_stale(const struct wf_addr *a)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)&a->ss, a->len), 0);
	close(fd);
}

static void
unix_datagram_path_removed_on_close(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { 0 }, r2 = { 0 };
	struct wf_addr from;
	struct stat st;
	struct tmp t;
	wf_udp *u, *u2;
	char buf[160];
	int c, anon;

	(void)state;
	tmp_make(&t);
	make_stale(&t.addr);
	u = open_at(loop, t.spec, NULL, &r);
	assert_int_equal(lstat(t.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	from = bound(u);
	assert_string_equal(wf_addr_format(&from, buf, sizeof(buf)), t.spec);
	/* Live: not replaced. */
	assert_int_equal(wf_udp_open(loop, &u2, &t.addr, NULL, on_rx, &r2),
	    -EADDRINUSE);
	assert_null(u2);

	/* A bound sender is named and can be answered. */
	c = raw_at(t.cspec, NULL);
	send_raw(c, &t.addr, "named");
	run_until(loop, &r.n, 1);
	assert_got(&r, 0, "named");
	assert_string_equal(wf_addr_format(&r.peer[0], buf, sizeof(buf)),
	    t.cspec);
	assert_int_equal(wf_udp_send(u, "reply", 5, &r.peer[0]), 0);
	assert_int_equal(recv_raw(c, buf, sizeof(buf), &from), 5);
	assert_memory_equal(buf, "reply", 5);
	/* One that never bound has an empty name. */
	anon = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(anon >= 0);
	send_raw(anon, &t.addr, "anon");
	run_until(loop, &r.n, 2);
	assert_got(&r, 1, "anon");
	assert_int_equal(r.peer[1].ss.ss_family, AF_UNIX);
	assert_string_equal(wf_addr_format(&r.peer[1], buf, sizeof(buf)),
	    "unix:");

	wf_udp_close(u);
	assert_false(path_exists(t.path));
	close(anon);
	close(c);
	tmp_done(&t);
	loop_free_clean(loop);
}

/* Our file replaced by someone else's socket: closing leaves theirs. */
static void
unix_close_keeps_a_replaced_path(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { 0 };
	struct tmp t;
	wf_udp *u;
	int other;

	(void)state;
	tmp_make(&t);
	u = open_at(loop, t.spec, NULL, &r);
	assert_int_equal(unlink(t.path), 0);
	other = raw_at(t.spec, NULL);
	wf_udp_close(u);
	assert_true(path_exists(t.path));
	close(other);
	tmp_done(&t);
	loop_free_clean(loop);
}

/* The next call sees the new arg, also within the same batch. */
static void
set_arg_changes_later_callbacks(void **state)
{
	wf_loop *loop = loop_new();
	struct rx a = { 0 }, b = { 0 }, c = { 0 };
	struct wf_addr addr;
	wf_udp *u;
	int fd;

	(void)state;
	a.move_to = &b;
	u = open_at(loop, "127.0.0.1:0", NULL, &a);
	addr = bound(u);
	fd = raw_at("127.0.0.1:0", NULL);
	send_raw(fd, &addr, "1");
	send_raw(fd, &addr, "2");
	wait_readable(wf_udp_fd(u));
	wf_loop_run_once(loop, 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(b.n, 1);
	assert_got(&a, 0, "1");
	assert_got(&b, 0, "2");
	assert_ptr_equal(wf_udp_arg(u), &b);

	wf_udp_set_arg(u, &c);
	send_raw(fd, &addr, "3");
	run_until(loop, &c.n, 1);
	assert_int_equal(b.n, 1);
	assert_got(&c, 0, "3");
	close(fd);
	wf_udp_close(u);
	loop_free_clean(loop);
}

/*
 * Paused from the callback in the middle of a batch: the datagrams already
 * read wait, and come first, in order, on resume, with nothing new sent.
 */
static void
pause_keeps_the_rest_of_a_batch(void **state)
{
	wf_loop *loop = loop_new();
	struct rx r = { .pause_at = 2 };
	struct wf_addr a;
	char buf[16];
	wf_udp *u;
	int fd, i;

	(void)state;
	u = open_at(loop, "127.0.0.1:0", NULL, &r);
	a = bound(u);
	fd = raw_at("127.0.0.1:0", NULL);
	for (i = 0; i < 6; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		send_raw(fd, &a, buf);
	}
	run_until(loop, &r.n, 2);
	wf_loop_run_once(loop, 20);
	assert_int_equal(r.n, 2);
	assert_int_equal(wf_udp_resume(u), 0);
	run_until(loop, &r.n, 6);
	for (i = 0; i < 6; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		assert_got(&r, i, buf);
	}

	/* Paused from outside: datagrams wait in the kernel. */
	wf_udp_pause(u);
	send_raw(fd, &a, "later");
	wait_readable(wf_udp_fd(u));
	wf_loop_run_once(loop, 20);
	assert_int_equal(r.n, 6);
	assert_int_equal(wf_udp_resume(u), 0);
	run_until(loop, &r.n, 7);
	assert_got(&r, 6, "later");
	close(fd);
	wf_udp_close(u);
	loop_free_clean(loop);
}

static void
reuseport_shares_a_port(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_udp_opts o = { .size = sizeof(o), .reuseport = 1 };
	struct rx r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	wf_udp *u1, *u2, *u3;
	struct wf_addr a;

	(void)state;
	u1 = open_at(loop, "127.0.0.1:0", &o, &r1);
	a = bound(u1);
	assert_int_equal(wf_udp_open(loop, &u2, &a, &o, on_rx, &r2), 0);
	/* Both must ask for it. */
	assert_int_equal(wf_udp_open(loop, &u3, &a, NULL, on_rx, &r3),
	    -EADDRINUSE);
	wf_udp_close(u1);
	wf_udp_close(u2);
	loop_free_clean(loop);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(ipv4_echo_round_trip),
		CASE(ipv6_echo_round_trip),
		CASE(truncation_is_flagged),
		CASE(burst_arrives_in_order_over_wakeups),
		CASE(close_in_own_callback),
		CASE(loop_free_releases_open_watchers),
		CASE(connect_fixes_the_default_peer_and_filters),
		CASE(refused_on_connected_socket_does_not_spin),
		CASE(shut_down_socket_stalls_without_spinning),
		CASE(adopt_refuses_and_closes_what_is_not_datagram),
		CASE(adopt_takes_a_datagram_socket),
		CASE(open_rejects_bad_arguments),
		CASE(unix_datagram_path_removed_on_close),
		CASE(unix_close_keeps_a_replaced_path),
		CASE(set_arg_changes_later_callbacks),
		CASE(pause_keeps_the_rest_of_a_batch),
		CASE(reuseport_shares_a_port),
	};

	RUN("udp", cases);
}
