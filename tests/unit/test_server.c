/* The multi-threaded server: spread, limits, idle timeout, address kinds. */
#include <poll.h>
#include <semaphore.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "testutil.h"
#include "weft/server.h"

static atomic_int closes, timeouts, evictions;
static atomic_int refused[3]; /* by enum wf_refuse_reason */
static _Atomic(wf_loop *) seen_loop[8];
static atomic_int opens;
static atomic_int seen_listener[8];
static atomic_int keep_idle, idle_asks;

static int
on_idle(wf_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	atomic_fetch_add(&idle_asks, 1);
	return atomic_load(&keep_idle);
}

static void
echo(wf_conn *c, wf_buf *in, void *arg)
{
	(void)arg;
	(void)wf_conn_send(c, wf_buf_peek(in), wf_buf_len(in));
	wf_buf_consume(in, wf_buf_len(in));
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	(void)c;
	(void)err;
	(void)arg;
	atomic_fetch_add(&closes, 1);
	if (why == WF_CLOSE_TIMEOUT)
		atomic_fetch_add(&timeouts, 1);
	if (why == WF_CLOSE_EVICTED)
		atomic_fetch_add(&evictions, 1);
}

static void
on_refuse(const struct wf_addr *peer, enum wf_refuse_reason why, void *arg)
{
	(void)arg;
	assert_true(peer->ss.ss_family == AF_INET || peer->ss.ss_family == AF_UNIX);
	atomic_fetch_add(&refused[why], 1);
}

static void
on_open(wf_conn *c, const struct wf_addr *peer, void *arg)
{
	int i = atomic_fetch_add(&opens, 1);

	(void)arg;
	(void)peer; /* test_server_shutdown.c checks it */
	if (i < 8) {
		atomic_store(&seen_loop[i], wf_conn_loop(c));
		atomic_store(&seen_listener[i], wf_conn_listener(c));
	}
}

static const struct wf_conn_cbs cbs = { .on_data = echo, .on_close = on_close };

static void
reset_counts(void)
{
	int i;

	atomic_store(&closes, 0);
	atomic_store(&timeouts, 0);
	atomic_store(&opens, 0);
	atomic_store(&keep_idle, 0);
	atomic_store(&idle_asks, 0);
	atomic_store(&evictions, 0);
	for (i = 0; i < 3; i++)
		atomic_store(&refused[i], 0);
	for (i = 0; i < 8; i++)
		atomic_store(&seen_loop[i], NULL);
}

/* A server with o's limits (NULL: none) and the test's callbacks. */
static wf_server *
server_with(const struct wf_server_opts *lim, const char *spec,
    struct wf_addr *bound)
{
	struct wf_server_opts o = { .size = sizeof(o) };
	struct wf_addr a;
	wf_server *s;

	if (lim)
		o = *lim;
	o.size = sizeof(o);
	o.cbs = &cbs;
	o.on_open = on_open;
	o.on_idle = on_idle;
	o.on_refuse = on_refuse;
	reset_counts();
	assert_int_equal(wf_addr_parse(&a, spec), 0);
	assert_int_equal(wf_server_start(&s, &o), 0);
	assert_int_equal(wf_server_listen(s, &a), 0);
	assert_int_equal(wf_server_addr(s, 0, bound), 0);
	return s;
}

static wf_server *
server(unsigned threads, int reuseport, unsigned max, uint64_t idle,
    const char *spec, struct wf_addr *bound)
{
	struct wf_server_opts o = { .threads = threads, .reuseport = reuseport,
	    .max_conns = max, .idle_timeout_ms = idle };

	return server_with(&o, spec, bound);
}

/* A blocking client with a receive timeout, so a bug cannot hang us. */
static int
client(const struct wf_addr *a)
{
	struct timeval tv = { 5, 0 };
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (const struct sockaddr *)&a->ss, a->len), 0);
	return fd;
}

/* The same, from source address src (any 127.x is local). */
static int
client_from(const struct wf_addr *a, const char *src)
{
	struct timeval tv = { 5, 0 };
	struct wf_addr from;
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(wf_addr_parse(&from, src), 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)&from.ss, from.len), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (const struct sockaddr *)&a->ss, a->len), 0);
	return fd;
}

static void
round_trip(int fd, const char *msg)
{
	char buf[64];
	size_t n = strlen(msg), got = 0;

	assert_int_equal(write(fd, msg, n), (ssize_t)n);
	while (got < n) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(buf, msg, n);
}

static int
closed_by_server(int fd)
{
	char c;
	ssize_t r = read(fd, &c, 1);

	return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void
wait_closes(int n)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	/* Bounded wait for the IO threads to report (not a fixed sleep). */
	for (i = 0; i < 5000 && atomic_load(&closes) < n; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&closes), n);
}

static void
spread_over_loops(int reuseport)
{
	struct wf_addr a;
	wf_server *s = server(2, reuseport, 0, 0, "127.0.0.1:0", &a);
	int fds[8], i, used[2] = { 0, 0 };
	char msg[32];

	for (i = 0; i < 8; i++) {
		fds[i] = client(&a);
		snprintf(msg, sizeof(msg), "hello %d", i);
		round_trip(fds[i], msg);
	}
	assert_int_equal(atomic_load(&opens), 8);
	assert_int_equal(wf_server_conns(s), 8);
	for (i = 0; i < 8; i++) {
		wf_loop *l = atomic_load(&seen_loop[i]);

		used[l == wf_loop_group_get(wf_server_loops(s), 1)]++;
	}
	if (!reuseport) {
		/* Handoff is round-robin: exactly even. */
		assert_int_equal(used[0], 4);
		assert_int_equal(used[1], 4);
	}
	for (i = 0; i < 8; i++)
		close(fds[i]);
	wait_closes(8);
	assert_int_equal(wf_server_conns(s), 0);
	wf_server_free(s);
}

static void
handoff_spreads_round_robin(void **state)
{
	(void)state;
	spread_over_loops(0);
}

static void
reuseport_listener_per_loop(void **state)
{
	(void)state;
	spread_over_loops(1);
}

static void
max_conns_closes_excess_at_once(void **state)
{
	struct wf_addr a;
	wf_server *s = server(1, 0, 2, 0, "127.0.0.1:0", &a);
	int c1 = client(&a), c2 = client(&a), c3;

	(void)state;
	round_trip(c1, "one");
	round_trip(c2, "two");
	c3 = client(&a);
	assert_true(closed_by_server(c3));
	round_trip(c1, "still");
	close(c3);
	close(c2);
	wait_closes(1);
	c3 = client(&a);
	round_trip(c3, "room again");
	close(c1);
	close(c3);
	wait_closes(3);
	wf_server_free(s);
}

/* Holds a loop: says when it has it, then waits to be let go. */
struct hold {
	sem_t held, release;
};

static void
hold_loop(void *arg)
{
	struct hold *h = arg;

	sem_post(&h->held);
	while (sem_wait(&h->release) != 0)
		;
}

/* Counts per listener, and the kernel's accept queue while loop 0 is held. */
static void
listener_stats_count_and_show_the_accept_queue(void **state)
{
	struct wf_listener_stats st;
	struct wf_addr a;
	wf_server *s = server(1, 0, 2, 0, "127.0.0.1:0", &a);
	int c1 = client(&a), c2 = client(&a), c3, q[3], i;
	struct hold hold;

	(void)state;
	round_trip(c1, "one");
	round_trip(c2, "two");
	c3 = client(&a);
	assert_true(closed_by_server(c3));
	assert_int_equal(wf_server_listener_stats(s, 0, &st), 0);
	assert_int_equal(st.accepted, 2);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.conns, 2);
	assert_int_equal(st.queued, 0);
	assert_true(st.queue_max > 0);
	assert_int_equal(wf_server_listener_stats(s, 1, &st), -ENOENT);
	close(c2);
	close(c3);
	wait_closes(1);
	/*
	 * Nobody accepts while the loop is held: the kernel queues them. Only
	 * once it is held: in the iteration that runs the task, a connection
	 * already queued would be accepted first (flaky under TSan before).
	 */
	sem_init(&hold.held, 0, 0);
	sem_init(&hold.release, 0, 0);
	assert_int_equal(wf_loop_post(wf_loop_group_get(wf_server_loops(s), 0),
	    hold_loop, &hold), 0);
	while (sem_wait(&hold.held) != 0)
		;
	for (i = 0; i < 3; i++)
		q[i] = client(&a);
	assert_int_equal(wf_server_listener_stats(s, 0, &st), 0);
	assert_int_equal(st.queued, 3);
	assert_int_equal(st.conns, 1);
	sem_post(&hold.release);
	round_trip(q[0], "queued");
	assert_int_equal(wf_server_listener_stats(s, 0, &st), 0);
	assert_int_equal(st.queued, 0);
	for (i = 0; i < 3; i++)
		close(q[i]);
	close(c1);
	wf_server_free(s);
	sem_destroy(&hold.held);
	sem_destroy(&hold.release);
}

static void
max_conns_per_addr_counts_addresses_not_ports(void **state)
{
	struct wf_server_opts o = { .threads = 2, .max_conns_per_addr = 2 };
	struct wf_addr a;
	wf_server *s = server_with(&o, "127.0.0.1:0", &a);
	int c1 = client(&a), c2 = client(&a), c3, other;

	(void)state;
	round_trip(c1, "one");
	round_trip(c2, "two");
	c3 = client(&a);
	assert_true(closed_by_server(c3));
	close(c3);
	assert_int_equal(atomic_load(&refused[WF_REFUSE_PER_ADDR]), 1);
	/* Another address has a count of its own. */
	other = client_from(&a, "127.0.0.2:0");
	round_trip(other, "elsewhere");
	/* A closed connection gives its address a slot back. */
	close(c2);
	wait_closes(1);
	c3 = client(&a);
	round_trip(c3, "room again");
	assert_int_equal(atomic_load(&refused[WF_REFUSE_PER_ADDR]), 1);
	close(c1);
	close(c3);
	close(other);
	wait_closes(4);
	wf_server_free(s);
}

/* At max_conns a newcomer replaces the connection idle longest. */
static void
evict_makes_room_from_the_idle_longest(void **state)
{
	struct wf_server_opts o = { .max_conns = 2, .evict = 1 };
	struct wf_addr a;
	wf_server *s = server_with(&o, "127.0.0.1:0", &a);
	int old = client(&a), recent = client(&a), fresh, late;

	(void)state;
	round_trip(old, "old");
	round_trip(recent, "recent");
	round_trip(old, "old again"); /* now recent is the idle longest */
	fresh = client(&a);
	round_trip(fresh, "fresh");
	assert_true(closed_by_server(recent));
	assert_int_equal(atomic_load(&evictions), 1);
	round_trip(old, "kept");
	/* Nothing may go (every one is busy): the newcomer is refused. */
	atomic_store(&keep_idle, 1);
	late = client(&a);
	assert_true(closed_by_server(late));
	assert_int_equal(atomic_load(&refused[WF_REFUSE_FULL]), 1);
	assert_int_equal(wf_server_conns(s), 2);
	round_trip(old, "still kept");
	round_trip(fresh, "fresh kept");
	close(late);
	close(recent);
	close(old);
	close(fresh);
	wait_closes(3);
	wf_server_free(s);
}

static void
idle_connections_time_out(void **state)
{
	struct timespec step = { 0, 30 * 1000000 };
	struct wf_addr a;
	wf_server *s = server(1, 0, 0, 150, "127.0.0.1:0", &a);
	int idle = client(&a), busy = client(&a), i;

	(void)state;
	round_trip(idle, "i");
	/* The busy one talks every 30 ms for 450 ms: it must survive. */
	for (i = 0; i < 15; i++) {
		round_trip(busy, "b");
		nanosleep(&step, NULL);
	}
	assert_true(closed_by_server(idle));
	assert_int_equal(atomic_load(&timeouts), 1);
	round_trip(busy, "alive");
	close(busy);
	close(idle);
	wait_closes(2);
	wf_server_free(s);
}

/* A connection waiting on work of its own is spared, then closed. */
static void
on_idle_can_keep_a_connection(void **state)
{
	struct timespec ms = { 0, 1000000 };
	struct wf_addr a;
	wf_server *s = server(1, 0, 0, 50, "127.0.0.1:0", &a);
	int fd, i;

	(void)state;
	atomic_store(&keep_idle, 1);
	fd = client(&a);
	round_trip(fd, "x");
	for (i = 0; i < 5000 && atomic_load(&idle_asks) < 3; i++)
		nanosleep(&ms, NULL);
	assert_true(atomic_load(&idle_asks) >= 3);
	round_trip(fd, "still open");
	atomic_store(&keep_idle, 0);
	assert_true(closed_by_server(fd));
	assert_int_equal(atomic_load(&timeouts), 1);
	close(fd);
	wf_server_free(s);
}

static void
ipv6_and_unix_listeners(void **state)
{
	char dir[] = "/tmp/weft-server-XXXXXX", spec[128];
	struct wf_addr a, u;
	wf_server *s;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0)
		skip();
	close(fd);
	s = server(1, 0, 0, 0, "[::1]:0", &a);
	snprintf(spec, sizeof(spec), "unix:%s/s.sock", dir);
	assert_int_equal(wf_addr_parse(&u, spec), 0);
	assert_int_equal(wf_server_listen(s, &u), 1);
	fd = client(&a);
	round_trip(fd, "over ipv6");
	close(fd);
	fd = client(&u);
	round_trip(fd, "over unix");
	close(fd);
	wait_closes(2);
	wf_server_free(s);
	rmdir(dir);
}

static void
free_closes_live_connections(void **state)
{
	struct wf_addr a;
	wf_server *s = server(2, 0, 0, 0, "127.0.0.1:0", &a);
	int fds[4], i;

	(void)state;
	for (i = 0; i < 4; i++) {
		fds[i] = client(&a);
		round_trip(fds[i], "x");
	}
	wf_server_free(s);
	assert_int_equal(atomic_load(&closes), 4);
	for (i = 0; i < 4; i++) {
		assert_true(closed_by_server(fds[i]));
		close(fds[i]);
	}
}

/* Which listener a connection came by; one closed, its index reused. */
static void
listeners_close_one_by_one(int reuseport)
{
	struct wf_addr a, b, c;
	wf_server *s = server(2, reuseport, 0, 0, "127.0.0.1:0", &a);
	int fa, fb, fc, fx, idx;

	assert_int_equal(wf_addr_parse(&b, "127.0.0.1:0"), 0);
	assert_int_equal(wf_server_listen(s, &b), 1);
	assert_int_equal(wf_server_addr(s, 1, &b), 0);
	fa = client(&a);
	round_trip(fa, "a");
	fb = client(&b);
	round_trip(fb, "b");
	assert_int_equal(atomic_load(&seen_listener[0]), 0);
	assert_int_equal(atomic_load(&seen_listener[1]), 1);
	/* Closing 0: its connection stays, nobody connects to it now. */
	assert_int_equal(wf_server_close_listener(s, 0), 0);
	assert_int_equal(wf_server_close_listener(s, 0), -ENOENT);
	assert_int_equal(wf_server_addr(s, 0, &c), -ENOENT);
	round_trip(fa, "still");
	fx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(fx, (const struct sockaddr *)&a.ss, a.len), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fx);
	/* The next listener takes the free index. */
	assert_int_equal(wf_server_next_listener(s), 0);
	assert_int_equal(wf_addr_parse(&c, "127.0.0.1:0"), 0);
	assert_int_equal((idx = wf_server_listen(s, &c)), 0);
	assert_int_equal(wf_server_addr(s, 0, &c), 0);
	fc = client(&c);
	round_trip(fc, "c");
	assert_int_equal(atomic_load(&seen_listener[2]), 0);
	round_trip(fb, "b again");
	close(fa);
	close(fb);
	close(fc);
	wf_server_free(s);
}

static void
listener_of_each_connection(void **state)
{
	(void)state;
	listeners_close_one_by_one(0);
}

static void
listener_of_each_connection_reuseport(void **state)
{
	(void)state;
	listeners_close_one_by_one(1);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(handoff_spreads_round_robin),
		CASE(reuseport_listener_per_loop),
		CASE(max_conns_closes_excess_at_once),
		CASE(listener_stats_count_and_show_the_accept_queue),
		CASE(max_conns_per_addr_counts_addresses_not_ports),
		CASE(evict_makes_room_from_the_idle_longest),
		CASE(idle_connections_time_out),
		CASE(on_idle_can_keep_a_connection),
		CASE(ipv6_and_unix_listeners),
		CASE(free_closes_live_connections),
		CASE(listener_of_each_connection),
		CASE(listener_of_each_connection_reuseport),
	};

	RUN("server", cases);
}
