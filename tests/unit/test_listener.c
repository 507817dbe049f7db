/*
 * Listening sockets. Everything binds 127.0.0.1 or ::1 on a port the
 * kernel picks, or a path in a fresh mkdtemp directory.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>

#include "testutil.h"
#include "weft/listener.h"

#define MAXACC 128
#define WAIT_MS 5000 /* readiness waits give up here: something hangs */

/* What the accept callback saw; it keeps the fds for the case to close. */
struct acc {
	int n;
	int fd[MAXACC];
	struct wf_addr peer[MAXACC];
	int pause; /* pause the listener from the callback */
};

static void
on_acc(wf_listener *l, int fd, const struct wf_addr *peer, void *arg)
{
	struct acc *a = arg;

	assert_true(a->n < MAXACC);
	a->fd[a->n] = fd;
	a->peer[a->n] = *peer;
	a->n++;
	if (a->pause)
		wf_listener_pause(l);
}

static void
acc_close(struct acc *a)
{
	int i;

	for (i = 0; i < a->n; i++)
		close(a->fd[i]);
	a->n = 0;
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

static wf_listener *
listen_at(wf_loop *loop, const char *s, const struct wf_listen_opts *o,
    struct acc *a)
{
	struct wf_addr addr;
	wf_listener *l;

	parse(&addr, s);
	assert_int_equal(wf_listener_open(loop, &l, &addr, o, on_acc, a), 0);
	assert_non_null(l);
	return l;
}

/* A blocking client: connect() returns once the kernel queued it. */
static int
dial(const struct wf_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (const struct sockaddr *)&a->ss, a->len),
	    0);
	return fd;
}

static struct wf_addr
bound(const wf_listener *l)
{
	struct wf_addr a;

	assert_int_equal(wf_listener_addr(l, &a), 0);
	return a;
}

/* A byte written at one end arrives at the other: a real connection. */
static void
pass_byte(int from, int to)
{
	char c = 0;

	assert_int_equal(write(from, "k", 1), 1);
	wait_readable(to);
	assert_int_equal(read(to, &c, 1), 1);
	assert_int_equal(c, 'k');
}

static void
assert_nonblock_cloexec(int fd)
{
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

static void
tcp4_accept_delivers_fd_and_peer(void **state)
{
	wf_loop *loop = loop_new();
	const struct sockaddr_in *sin, *psin;
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct wf_addr a;
	struct acc acc = { 0 };
	wf_listener *l;
	char buf[64];
	int c;

	(void)state;
	l = listen_at(loop, "127.0.0.1:0", NULL, &acc);
	assert_nonblock_cloexec(wf_listener_fd(l));
	a = bound(l);
	sin = (const struct sockaddr_in *)&a.ss;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_not_equal(sin->sin_port, 0);
	snprintf(buf, sizeof(buf), "127.0.0.1:%u", ntohs(sin->sin_port));
	assert_string_equal(wf_addr_format(&a, buf + 32, 32), buf);

	c = dial(&a);
	run_until(loop, &acc.n, 1);
	assert_nonblock_cloexec(acc.fd[0]);
	/* The peer is the client's own address. */
	assert_int_equal(getsockname(c, (struct sockaddr *)&me, &len), 0);
	psin = (const struct sockaddr_in *)&acc.peer[0].ss;
	assert_int_equal(acc.peer[0].len, sizeof(*psin));
	assert_int_equal(psin->sin_family, AF_INET);
	assert_int_equal(psin->sin_port, me.sin_port);
	assert_int_equal(psin->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	pass_byte(c, acc.fd[0]);
	pass_byte(acc.fd[0], c);

	close(c);
	acc_close(&acc);
	wf_listener_close(l);
	loop_free_clean(loop);
}

/* Some containers have the socket family but no ::1: that is no IPv6 too. */
static int
have_ipv6(void)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd, ok;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
	close(fd);
	return ok;
}

static void
tcp6_accept_on_loopback(void **state)
{
	const struct sockaddr_in6 *sin6, *psin6;
	struct sockaddr_in6 me;
	socklen_t len = sizeof(me);
	struct acc acc = { 0 };
	struct wf_addr a;
	wf_listener *l;
	wf_loop *loop;
	char buf[64], want[64];
	int c, v6only = 0;

	(void)state;
	if (!have_ipv6())
		skip();
	loop = loop_new();
	l = listen_at(loop, "[::1]:0", NULL, &acc);
	len = sizeof(v6only);
	assert_int_equal(getsockopt(wf_listener_fd(l), IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, &len), 0);
	assert_int_equal(v6only, 1);
	a = bound(l);
	sin6 = (const struct sockaddr_in6 *)&a.ss;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_not_equal(sin6->sin6_port, 0);
	snprintf(want, sizeof(want), "[::1]:%u", ntohs(sin6->sin6_port));
	assert_string_equal(wf_addr_format(&a, buf, sizeof(buf)), want);

	c = dial(&a);
	run_until(loop, &acc.n, 1);
	len = sizeof(me);
	assert_int_equal(getsockname(c, (struct sockaddr *)&me, &len), 0);
	psin6 = (const struct sockaddr_in6 *)&acc.peer[0].ss;
	assert_int_equal(psin6->sin6_family, AF_INET6);
	assert_int_equal(psin6->sin6_port, me.sin6_port);
	assert_true(IN6_IS_ADDR_LOOPBACK(&psin6->sin6_addr));
	pass_byte(c, acc.fd[0]);

	close(c);
	acc_close(&acc);
	wf_listener_close(l);
	loop_free_clean(loop);
}

/* A fresh directory for socket files, and "unix:<dir>/s.sock". */
struct tmp {
	char dir[64];
	char path[128];
	char spec[160];
	struct wf_addr addr;
};

static void
tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/weft-listener-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/s.sock", t->dir);
	snprintf(t->spec, sizeof(t->spec), "unix:%s", t->path);
	parse(&t->addr, t->spec);
}

static void
tmp_done(struct tmp *t)
{
	struct stat st;

	/* Whatever the case left at the path was checked; now it goes. */
	if (lstat(t->path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			assert_int_equal(rmdir(t->path), 0);
		else
			assert_int_equal(unlink(t->path), 0);
	}
	assert_int_equal(rmdir(t->dir), 0);
}

static int
path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* A socket file nobody accepts on: what a crashed server leaves. */
static void
make_stale(const struct tmp *t)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)&t->addr.ss,
	    t->addr.len), 0);
	close(fd);
}

static void
unix_stale_socket_is_replaced(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	struct stat st;
	struct wf_addr a;
	struct tmp t;
	wf_listener *l;
	char buf[160];
	int c;

	(void)state;
	tmp_make(&t);
	make_stale(&t);
	/* Stale indeed: nobody answers. */
	c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (const struct sockaddr *)&t.addr.ss,
	    t.addr.len), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(c);
	l = listen_at(loop, t.spec, NULL, &acc);
	assert_int_equal(lstat(t.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	a = bound(l);
	assert_string_equal(wf_addr_format(&a, buf, sizeof(buf)), t.spec);

	c = dial(&t.addr);
	run_until(loop, &acc.n, 1);
	assert_int_equal(acc.peer[0].ss.ss_family, AF_UNIX);
	pass_byte(c, acc.fd[0]);
	close(c);
	acc_close(&acc);
	wf_listener_close(l);
	assert_false(path_exists(t.path));
	tmp_done(&t);
	loop_free_clean(loop);
}

static void
unix_live_socket_is_in_use(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 }, acc2 = { 0 };
	wf_listener *l, *l2;
	struct tmp t;
	int c, before;

	(void)state;
	tmp_make(&t);
	l = listen_at(loop, t.spec, NULL, &acc);
	before = lowest_free_fd();
	assert_int_equal(wf_listener_open(loop, &l2, &t.addr, NULL, on_acc,
	    &acc2), -EADDRINUSE);
	assert_null(l2);
	assert_int_equal(lowest_free_fd(), before);

	/* The live listener keeps its path and its clients. */
	c = dial(&t.addr);
	run_until(loop, &acc.n, 1);
	assert_int_equal(acc2.n, 0);
	close(c);
	acc_close(&acc);
	wf_listener_close(l);
	tmp_done(&t);
	loop_free_clean(loop);
}

static void
unix_other_file_is_left_alone(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	struct stat st;
	wf_listener *l;
	struct tmp t;
	int fd, before;

	(void)state;
	tmp_make(&t);
	before = lowest_free_fd();

	fd = open(t.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(wf_listener_open(loop, &l, &t.addr, NULL, on_acc,
	    &acc), -EEXIST);
	assert_null(l);
	assert_int_equal(lstat(t.path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(unlink(t.path), 0);

	assert_int_equal(mkdir(t.path, 0700), 0);
	assert_int_equal(wf_listener_open(loop, &l, &t.addr, NULL, on_acc,
	    &acc), -EEXIST);
	assert_int_equal(rmdir(t.path), 0);

	/* Not even a link to a socket: we would unlink the link, not it. */
	assert_int_equal(symlink("/nonexistent", t.path), 0);
	assert_int_equal(wf_listener_open(loop, &l, &t.addr, NULL, on_acc,
	    &acc), -EEXIST);
	assert_int_equal(lowest_free_fd(), before);
	tmp_done(&t);
	loop_free_clean(loop);
}

static void
unix_mode_is_applied_and_path_unlinked_on_close(void **state)
{
	static const int modes[] = { 0600, 0660, 0666 };
	wf_loop *loop = loop_new();
	struct wf_listen_opts o = { .size = sizeof(o) };
	struct acc acc = { 0 };
	struct stat st;
	wf_listener *l;
	struct tmp t;
	size_t i;

	(void)state;
	tmp_make(&t);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		o.unix_mode = modes[i];
		l = listen_at(loop, t.spec, &o, &acc);
		assert_int_equal(lstat(t.path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		assert_int_equal(st.st_mode & 07777, modes[i]);
		wf_listener_close(l);
		assert_false(path_exists(t.path));
	}
	o.unix_mode = 010000;
	assert_int_equal(wf_listener_open(loop, &l, &t.addr, &o, on_acc, &acc),
	    -EINVAL);
	tmp_done(&t);
	loop_free_clean(loop);
}

/*
 * Owner and group are set with the mode, before listen(): nobody may
 * connect while the socket still has the umask's mode and our owner.
 * Changing the owner needs root (CAP_CHOWN); -1 keeps a field.
 */
static void
unix_owner_and_group_are_applied(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_listen_opts o = { .size = sizeof(o), .unix_mode = 0660, .unix_chown = 1 };
	struct acc acc = { 0 };
	struct stat st;
	wf_listener *l;
	struct tmp t;

	(void)state;
	if (geteuid() != 0) {
		loop_free_clean(loop);
		skip();
	}
	tmp_make(&t);
	o.unix_uid = 65534;
	o.unix_gid = 65534;
	l = listen_at(loop, t.spec, &o, &acc);
	assert_int_equal(lstat(t.path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(st.st_gid, 65534);
	assert_int_equal(st.st_mode & 07777, 0660);
	wf_listener_close(l);
	o.unix_uid = (uid_t)-1;
	o.unix_gid = 4321;
	l = listen_at(loop, t.spec, &o, &acc);
	assert_int_equal(lstat(t.path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	assert_int_equal(st.st_gid, 4321);
	wf_listener_close(l);
	tmp_done(&t);
	loop_free_clean(loop);
}

/*
 * Our file was replaced by someone else's socket (another instance found
 * ours stale, say): closing must not unlink theirs.
 */
static void
unix_close_keeps_a_replaced_path(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	wf_listener *l;
	struct tmp t;
	int other;

	(void)state;
	tmp_make(&t);
	l = listen_at(loop, t.spec, NULL, &acc);
	assert_int_equal(unlink(t.path), 0);
	other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(other >= 0);
	assert_int_equal(bind(other, (const struct sockaddr *)&t.addr.ss,
	    t.addr.len), 0);
	wf_listener_close(l);
	assert_true(path_exists(t.path));
	close(other);
	tmp_done(&t);
	loop_free_clean(loop);
}

/* weft/loop.h: the library's descriptors go with the loop. */
static void
loop_free_closes_an_open_listener(void **state)
{
	struct acc acc = { 0 };
	wf_loop *loop;
	struct tmp t;
	int before;

	(void)state;
	tmp_make(&t);
	before = lowest_free_fd();
	loop = loop_new();
	(void)listen_at(loop, t.spec, NULL, &acc);
	assert_true(path_exists(t.path));
	wf_loop_free(loop);
	assert_false(path_exists(t.path));
	assert_int_equal(lowest_free_fd(), before);
	tmp_done(&t);
}

static int
raw_listener(int type_flags)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static void
adopt_takes_a_listening_fd(void **state)
{
	wf_loop *loop = loop_new();
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct acc acc = { 0 };
	struct wf_addr a;
	wf_listener *l;
	int fd, c;

	(void)state;
	/* Blocking and inheritable, as systemd would pass it. */
	fd = raw_listener(0);
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(wf_listener_adopt(loop, &l, fd, on_acc, &acc), 0);
	assert_int_equal(wf_listener_fd(l), fd);
	assert_nonblock_cloexec(fd);
	a = bound(l);
	assert_int_equal(((struct sockaddr_in *)&a.ss)->sin_port, sin.sin_port);

	c = dial(&a);
	run_until(loop, &acc.n, 1);
	assert_nonblock_cloexec(acc.fd[0]);
	pass_byte(c, acc.fd[0]);
	close(c);
	acc_close(&acc);
	wf_listener_close(l);
	/* It was the listener's to close. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	loop_free_clean(loop);
}

/* The listener owns the fd from the call on, also when it refuses it. */
static void
adopt_refuses_and_closes_what_is_not_listening(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	wf_listener *l;
	int fd, p[2], before;

	(void)state;
	before = lowest_free_fd();
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(wf_listener_adopt(loop, &l, fd, on_acc, &acc),
	    -EINVAL);
	assert_null(l);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(wf_listener_adopt(loop, &l, p[0], on_acc, &acc),
	    -ENOTSOCK);
	assert_int_equal(fcntl(p[0], F_GETFD), -1);
	close(p[1]);

	fd = raw_listener(SOCK_CLOEXEC);
	assert_int_equal(wf_listener_adopt(loop, &l, fd, NULL, &acc), -EINVAL);
	assert_int_equal(fcntl(fd, F_GETFD), -1);

	assert_int_equal(wf_listener_adopt(loop, &l, -1, on_acc, &acc),
	    -EBADF);
	assert_int_equal(lowest_free_fd(), before);
	loop_free_clean(loop);
}

static void
open_rejects_bad_arguments(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_listen_opts o = { .size = sizeof(o), .backlog = -1 };
	struct acc acc = { 0 };
	struct wf_addr a, none = { 0 };
	wf_listener *l;
	int before = lowest_free_fd();

	(void)state;
	parse(&a, "127.0.0.1:0");
	assert_int_equal(wf_listener_open(loop, &l, NULL, NULL, on_acc, &acc),
	    -EINVAL);
	assert_null(l);
	assert_int_equal(wf_listener_open(loop, &l, &a, NULL, NULL, &acc),
	    -EINVAL);
	assert_int_equal(wf_listener_open(loop, &l, &a, &o, on_acc, &acc),
	    -EINVAL);
	assert_int_equal(wf_listener_open(loop, &l, &none, NULL, on_acc, &acc),
	    -EAFNOSUPPORT);
	/* Not an address of this machine. */
	parse(&a, "192.0.2.1:0");
	assert_int_equal(wf_listener_open(loop, &l, &a, NULL, on_acc, &acc),
	    -EADDRNOTAVAIL);
	assert_int_equal(lowest_free_fd(), before);
	loop_free_clean(loop);
}

/*
 * The accept callback closes its own listener, with more connections
 * queued, and at once binds a new one to the same port (a reload). Under
 * ASan this also proves the accept loop touches nothing freed.
 */
struct selfclose {
	wf_loop *loop;
	wf_listener *l, *l2;
	struct wf_addr addr;
	int calls;
	struct acc acc2;
};

static void
on_selfclose(wf_listener *l, int fd, const struct wf_addr *peer, void *arg)
{
	struct selfclose *s = arg;

	(void)peer;
	assert_ptr_equal(l, s->l);
	s->calls++;
	close(fd);
	wf_listener_close(l);
	s->l = NULL;
	assert_int_equal(wf_listener_open(s->loop, &s->l2, &s->addr, NULL,
	    on_acc, &s->acc2), 0);
}

static void
close_in_own_accept_callback(void **state)
{
	struct selfclose s = { 0 };
	int c[3], i, fd;
	char b;

	(void)state;
	s.loop = loop_new();
	parse(&s.addr, "127.0.0.1:0");
	assert_int_equal(wf_listener_open(s.loop, &s.l, &s.addr, NULL,
	    on_selfclose, &s), 0);
	s.addr = bound(s.l);
	for (i = 0; i < 3; i++)
		c[i] = dial(&s.addr);
	wait_readable(wf_listener_fd(s.l));
	wf_loop_run_once(s.loop, 0);
	assert_int_equal(s.calls, 1);
	assert_null(s.l);
	wf_loop_run_once(s.loop, 0);
	assert_int_equal(s.calls, 1);

	/* Each client was closed: served and closed, or reset in the queue. */
	for (i = 0; i < 3; i++) {
		wait_readable(c[i]);
		assert_true(read(c[i], &b, 1) == 0 || errno == ECONNRESET);
		close(c[i]);
	}
	/* The new listener has the port. */
	fd = dial(&s.addr);
	run_until(s.loop, &s.acc2.n, 1);
	close(fd);
	acc_close(&s.acc2);
	wf_listener_close(s.l2);
	loop_free_clean(s.loop);
}

static void
pause_stops_accepting_and_resume_restarts(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	struct wf_addr a;
	wf_listener *l;
	int c, c2, c3;

	(void)state;
	l = listen_at(loop, "127.0.0.1:0", NULL, &acc);
	a = bound(l);
	wf_listener_pause(l);
	wf_listener_pause(l);
	c = dial(&a);
	/* The connection is waiting, and the loop leaves it there. */
	wait_readable(wf_listener_fd(l));
	wf_loop_run_once(loop, 0);
	wf_loop_run_once(loop, 0);
	assert_int_equal(acc.n, 0);
	assert_int_equal(wf_listener_resume(l), 0);
	run_until(loop, &acc.n, 1);

	/* Pausing from the callback stops the accept loop at once. */
	acc.pause = 1;
	c2 = dial(&a);
	c3 = dial(&a);
	run_until(loop, &acc.n, 2);
	wf_loop_run_once(loop, 0);
	assert_int_equal(acc.n, 2);
	acc.pause = 0;
	assert_int_equal(wf_listener_resume(l), 0);
	run_until(loop, &acc.n, 3);

	close(c);
	close(c2);
	close(c3);
	acc_close(&acc);
	wf_listener_close(l);
	loop_free_clean(loop);
}

/* 100 queued connections, one wakeup: 64 of them, the rest next time. */
static void
accepts_are_bounded_per_wakeup(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	struct wf_addr a;
	wf_listener *l;
	int c[100], i;

	(void)state;
	l = listen_at(loop, "127.0.0.1:0", NULL, &acc);
	a = bound(l);
	for (i = 0; i < 100; i++)
		c[i] = dial(&a);
	wait_readable(wf_listener_fd(l));
	wf_loop_run_once(loop, 0);
	assert_int_equal(acc.n, 64);
	run_until(loop, &acc.n, 100);
	for (i = 0; i < 100; i++)
		close(c[i]);
	acc_close(&acc);
	wf_listener_close(l);
	loop_free_clean(loop);
}

static void
reuseport_shares_a_port(void **state)
{
	wf_loop *loop = loop_new();
	struct wf_listen_opts o = { .size = sizeof(o), .reuseport = 1 };
	struct acc acc1 = { 0 }, acc2 = { 0 }, acc3 = { 0 };
	wf_listener *l1, *l2, *l3;
	struct wf_addr a;
	int i, c, n;

	(void)state;
	l1 = listen_at(loop, "127.0.0.1:0", &o, &acc1);
	a = bound(l1);
	assert_int_equal(wf_listener_open(loop, &l2, &a, &o, on_acc, &acc2), 0);
	/* Both must ask for it. */
	assert_int_equal(wf_listener_open(loop, &l3, &a, NULL, on_acc, &acc3),
	    -EADDRINUSE);

	/* The kernel spreads clients by hash: each gets some soon. */
	for (i = 0; i < 100 && (acc1.n == 0 || acc2.n == 0); i++) {
		uint64_t deadline = ms_now() + WAIT_MS;

		n = acc1.n + acc2.n;
		c = dial(&a);
		while (acc1.n + acc2.n == n) {
			assert_true(ms_now() < deadline);
			wf_loop_run_once(loop, 50);
		}
		close(c);
	}
	assert_true(acc1.n > 0);
	assert_true(acc2.n > 0);
	acc_close(&acc1);
	acc_close(&acc2);
	wf_listener_close(l1);
	wf_listener_close(l2);
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

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * A listening socket shut down behind our back: epoll reports it hung up
 * and accept4() fails with EINVAL, for ever. The listener backs off and
 * says so once, instead of spinning.
 */
static void
broken_socket_backs_off_without_spinning(void **state)
{
	wf_loop *loop = loop_new();
	struct acc acc = { 0 };
	struct heard h = { 0 };
	char want[64];
	wf_listener *l;
	uint64_t t0, t1;
	double cpu0, cpu1;

	(void)state;
	l = listen_at(loop, "127.0.0.1:0", NULL, &acc);
	wf_log_set(on_log, &h);
	assert_int_equal(shutdown(wf_listener_fd(l), SHUT_RDWR), 0);
	t0 = ms_now();
	cpu0 = cpu_s();
	while (ms_now() - t0 < 200)
		wf_loop_run_once(loop, 10);
	cpu1 = cpu_s();
	t1 = ms_now();
	wf_log_set(NULL, NULL);
	assert_true((cpu1 - cpu0) * 1000 < 0.3 * (double)(t1 - t0));
	assert_int_equal(h.n, 1);
	assert_int_equal(h.level, WF_LOG_ERR);
	snprintf(want, sizeof(want), "accept4(fd=%d): %s", wf_listener_fd(l),
	    strerror(EINVAL));
	assert_ptr_equal(strstr(h.msg, want), h.msg);
	assert_int_equal(acc.n, 0);
	wf_listener_close(l);
	loop_free_clean(loop);
}

/*
 * Out of descriptors. In a child, so that the lowered RLIMIT_NOFILE stays
 * there; cmocka's asserts would jump back into the runner in the child, so
 * it checks with CHECK and reports through its exit status.
 */
#define EM_EXCESS 8  /* queued beyond the limit at once */
#define EM_WINDOW 15 /* arriving one by one during the pressure window */
#define EM_CLIENTS (1 + EM_EXCESS + EM_WINDOW + 1)
#define EM_WINDOW_MS 300
#define EM_SKIP 77   /* the child's status when the limit cannot be lowered */

#define CHECK(c) do {							\
	if (!(c))							\
		child_fail(__LINE__, #c);				\
} while (0)

static _Noreturn void
child_fail(int line, const char *what)
{
	dprintf(2, "# emfile child: line %d: %s (errno %s)\n", line, what,
	    strerror(errno));
	_exit(1);
}

struct em {
	wf_loop *loop;
	wf_listener *l;
	int acc[2];
	int nacc;
	wf_io *echo;
	int warnings;      /* EMFILE warnings heard */
	uint64_t last_ms;  /* when the last came */
	uint64_t min_gap;  /* shortest time between two, in ms */
	int told;          /* dropped connections they counted */
};

static void
em_on_log(int level, const char *msg, void *arg)
{
	struct em *e = arg;

	uint64_t now = ms_now();
	const char *p;
	unsigned long n;

	if (strstr(msg, "accept4(fd=") == NULL ||
	    strstr(msg, strerror(EMFILE)) == NULL)
		return;
	CHECK(level == WF_LOG_WARN);
	if (e->warnings++ > 0 && now - e->last_ms < e->min_gap)
		e->min_gap = now - e->last_ms;
	e->last_ms = now;
	/* "...: Too many open files; 8 connections dropped, ..." */
	CHECK((p = strstr(msg, "; ")) != NULL);
	if (sscanf(p + 2, "%lu", &n) == 1) {
		CHECK(strstr(p, "dropped") != NULL);
		e->told += (int)n;
	}
}

static void
em_on_accept(wf_listener *l, int fd, const struct wf_addr *peer, void *arg)
{
	struct em *e = arg;

	(void)l;
	(void)peer;
	CHECK(e->nacc < 2);
	e->acc[e->nacc++] = fd;
}

static void
em_on_echo(wf_io *io, int fd, unsigned events, void *arg)
{
	char b;

	(void)io;
	(void)events;
	(void)arg;
	if (read(fd, &b, 1) == 1)
		CHECK(write(fd, &b, 1) == 1);
}

#define em_run_until(e, n, want) em_run_until_at(e, n, want, __LINE__)

static void
em_run_until_at(struct em *e, const int *n, int want, int line)
{
	uint64_t deadline = ms_now() + WAIT_MS;

	while (*n < want) {
		if (ms_now() >= deadline) {
			dprintf(2, "# emfile child: line %d: %d of %d\n", line,
			    *n, want);
			_exit(1);
		}
		wf_loop_run_once(e->loop, 50);
	}
}

/* Run the loop until every client saw its connection closed. */
static void
em_wait_closed(struct em *e, const int *c, int n)
{
	uint64_t deadline = ms_now() + WAIT_MS;
	int done[EM_CLIENTS] = { 0 }, left = n, i;
	char b;

	while (left > 0) {
		CHECK(ms_now() < deadline); /* a client hangs */
		wf_loop_run_once(e->loop, 10);
		for (i = 0; i < n; i++) {
			ssize_t r;

			if (done[i])
				continue;
			r = recv(c[i], &b, 1, MSG_DONTWAIT);
			if (r == -1 && errno == EAGAIN)
				continue;
			CHECK(r == 0 || (r == -1 && errno == ECONNRESET));
			done[i] = 1;
			left--;
		}
	}
}

static void
em_dial(int fd, const struct wf_addr *a)
{
	CHECK(connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0);
}

static int
emfile_child(void)
{
	struct em e = { .acc = { -1, -1 }, .min_gap = UINT64_MAX };
	struct rlimit rl, low;
	int c[EM_CLIENTS], *excess = c + 1, *window = c + 1 + EM_EXCESS;
	int last, slot, i, fd, pl, pc, exact;
	uint64_t t0, t1, next;
	struct wf_addr a, pa;
	double cpu0, cpu1;
	char b = 0;

	alarm(CASE_TIMEOUT_S - 5);
	wf_log_set(em_on_log, &e);
	CHECK(wf_loop_new(&e.loop) == 0);
	CHECK(wf_addr_parse(&a, "127.0.0.1:0") == 0);
	CHECK(wf_listener_open(e.loop, &e.l, &a, NULL, em_on_accept, &e) == 0);
	CHECK(wf_listener_addr(e.l, &a) == 0);
	/* Every client socket exists before the limit drops. */
	for (i = 0; i < EM_CLIENTS; i++)
		CHECK((c[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) >= 0);
	last = c[EM_CLIENTS - 1];
	/* A plain listener with a client queued, to probe accept4() below. */
	CHECK(wf_addr_parse(&pa, "127.0.0.1:0") == 0);
	CHECK((pl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) >= 0);
	CHECK(bind(pl, (const struct sockaddr *)&pa.ss, pa.len) == 0);
	CHECK(listen(pl, 1) == 0);
	pa.len = sizeof(pa.ss);
	CHECK(getsockname(pl, (struct sockaddr *)&pa.ss, &pa.len) == 0);
	CHECK((pc = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	em_dial(pc, &pa);

	/*
	 * Allow exactly one more descriptor: the first connection fits, the
	 * next hits EMFILE. Descriptors are handed out lowest first, so every
	 * number below the lowest free one is taken (the listener's spare
	 * among them).
	 */
	CHECK((slot = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);
	close(slot);
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	low = rl;
	low.rlim_cur = (rlim_t)slot + 1;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
	/* A sandbox or emulator may ignore the new limit: nothing to test. */
	CHECK((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == slot);
	if (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		_exit(EM_SKIP); /* the fd goes with the process */
	CHECK(errno == EMFILE);
	/*
	 * The kernel fails accept4() with the connection left queued; valgrind
	 * takes it off the queue and closes it itself, so the library cannot
	 * count it. The drop count is exact only in the first case.
	 */
	CHECK(accept4(pl, NULL, NULL, SOCK_CLOEXEC) == -1 && errno == EMFILE);
	exact = recv(pc, &b, 1, MSG_DONTWAIT) == -1 && errno == EAGAIN;
	close(fd);

	/* 1. The one that fits is served, and echoes on the loop. */
	em_dial(c[0], &a);
	em_run_until(&e, &e.nacc, 1);
	CHECK(e.acc[0] == slot);
	CHECK(wf_io_start(e.loop, &e.echo, e.acc[0], WF_READ, em_on_echo,
	    NULL) == 0);

	/* 2. The excess is closed, not left hanging. */
	for (i = 0; i < EM_EXCESS; i++)
		em_dial(excess[i], &a);
	em_wait_closed(&e, excess, EM_EXCESS);
	CHECK(e.nacc == 1);
	CHECK(e.warnings >= 1);

	/* 3. The served connection still works. */
	CHECK(write(c[0], "e", 1) == 1);
	for (i = 0; recv(c[0], &b, 1, MSG_DONTWAIT) != 1; i++) {
		CHECK(errno == EAGAIN && i < WAIT_MS / 10);
		wf_loop_run_once(e.loop, 10);
	}
	CHECK(b == 'e');

	/*
	 * 4. Clients keep coming while the shortage lasts. A loop that spun
	 * on the queued connection would burn the whole window; this one
	 * sleeps. The resume calls are a server below its own connection
	 * limit: they must not cut the backoff short.
	 */
	t0 = next = ms_now();
	cpu0 = cpu_s();
	for (i = 0; ms_now() - t0 < EM_WINDOW_MS;) {
		if (i < EM_WINDOW && ms_now() >= next) {
			em_dial(window[i++], &a);
			next += EM_WINDOW_MS / EM_WINDOW;
		}
		CHECK(wf_listener_resume(e.l) == 0);
		wf_loop_run_once(e.loop, 5);
	}
	cpu1 = cpu_s();
	t1 = ms_now();
	if ((cpu1 - cpu0) * 1000 >= 0.3 * (double)(t1 - t0))
		dprintf(2, "# cpu %.3f s in %llu ms\n", cpu1 - cpu0,
		    (unsigned long long)(t1 - t0));
	CHECK((cpu1 - cpu0) * 1000 < 0.3 * (double)(t1 - t0));
	em_wait_closed(&e, window, i);
	CHECK(e.nacc == 1);
	/*
	 * Every drop is told, within a second or so; at most one message a
	 * second (the margin: the loop's clock is read once an iteration).
	 */
	em_run_until(&e, &e.told, exact ? EM_EXCESS + i : 1);
	CHECK(!exact || e.told == EM_EXCESS + i);
	CHECK(e.warnings == 1 || e.min_gap >= 900);

	/* 5. A descriptor comes free: accepting resumes. */
	wf_io_stop(e.echo);
	close(e.acc[0]);
	close(c[0]);
	em_dial(last, &a);
	em_run_until(&e, &e.nacc, 2);
	CHECK(write(last, "x", 1) == 1);
	for (i = 0; recv(e.acc[1], &b, 1, MSG_DONTWAIT) != 1; i++) {
		CHECK(errno == EAGAIN && i < WAIT_MS / 10);
		wf_loop_run_once(e.loop, 10);
	}
	CHECK(b == 'x');
	close(e.acc[1]);

	for (i = 1; i < EM_CLIENTS; i++)
		close(c[i]);
	close(pc);
	close(pl);
	wf_listener_close(e.l);
	CHECK(LIST_EMPTY(&e.loop->dead) && LIST_EMPTY(&e.loop->timers) &&
	    e.loop->heap_len == 0 && !LIST_EMPTY(&e.loop->ios) &&
	    LIST_NEXT(LIST_FIRST(&e.loop->ios), link) == NULL);
	wf_loop_free(e.loop);
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	wf_log_set(NULL, NULL);
	return 0;
}

/* The child checks its own loop; the parent has none (fork would copy it). */
static void
emfile_drops_excess_and_backs_off(void **state)
{
	pid_t pid, r;
	int status;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(emfile_child()); /* no atexit: LeakSanitizer needs fds */
	while ((r = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	assert_int_equal(r, pid);
	if (WIFSIGNALED(status))
		fail_msg("child killed by signal %d", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == EM_SKIP)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(tcp4_accept_delivers_fd_and_peer),
		CASE(tcp6_accept_on_loopback),
		CASE(unix_stale_socket_is_replaced),
		CASE(unix_live_socket_is_in_use),
		CASE(unix_other_file_is_left_alone),
		CASE(unix_mode_is_applied_and_path_unlinked_on_close),
		CASE(unix_owner_and_group_are_applied),
		CASE(unix_close_keeps_a_replaced_path),
		CASE(loop_free_closes_an_open_listener),
		CASE(adopt_takes_a_listening_fd),
		CASE(adopt_refuses_and_closes_what_is_not_listening),
		CASE(open_rejects_bad_arguments),
		CASE(close_in_own_accept_callback),
		CASE(pause_stops_accepting_and_resume_restarts),
		CASE(accepts_are_bounded_per_wakeup),
		CASE(reuseport_shares_a_port),
		CASE(broken_socket_backs_off_without_spinning),
		CASE(emfile_drops_excess_and_backs_off),
	};

	RUN("listener", cases);
}
