/*
 * Byte streams over pipes and terminals: wf_conn_adopt takes any fd epoll
 * can watch, reads and writes it directly, and knows a pipe's direction.
 */
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <sys/stat.h>
#include <termios.h>

#include "testutil.h"
#include "weft/conn.h"

struct end {
	char got[256];
	size_t len;
	int closes;
	enum wf_close_reason why;
	int err;
};

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	struct end *e = arg;
	size_t n = wf_buf_len(in);

	(void)c;
	if (n > sizeof(e->got) - e->len)
		n = sizeof(e->got) - e->len;
	memcpy(e->got + e->len, wf_buf_peek(in), n);
	e->len += n;
	wf_buf_consume(in, wf_buf_len(in));
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	struct end *e = arg;

	(void)c;
	e->closes++;
	e->why = why;
	e->err = err;
}

static const struct wf_conn_cbs cbs = { .on_data = on_data,
    .on_close = on_close };

static void
turn(wf_loop *loop, const int *until)
{
	int i;

	for (i = 0; i < 200 && !*until; i++)
		assert_int_equal(wf_loop_run_once(loop, 20), 0);
}

static void
a_pipe_carries_a_stream_both_ends_adopted(void **state)
{
	struct end r = { 0 }, w = { 0 };
	wf_conn *rc, *wc;
	wf_loop *loop;
	int p[2];

	(void)state;
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(wf_conn_adopt(loop, &rc, p[0], &cbs, &r), 0);
	assert_int_equal(wf_conn_adopt(loop, &wc, p[1], &cbs, &w), 0);
	assert_int_equal(wf_conn_send(wc, "hello ", 6), 0);
	assert_int_equal(wf_conn_send(wc, "pipe", 4), 0);
	/* The read end cannot send. */
	assert_int_equal(wf_conn_send(rc, "x", 1), -EBADF);
	/* A graceful close of the write end: flushed, closed, no half-close. */
	wf_conn_close(wc, 0);
	assert_int_equal(w.closes, 1);
	assert_int_equal(w.why, WF_CLOSE_LOCAL);
	/* The reader has every byte, then the end of the stream. */
	turn(loop, &r.closes);
	assert_int_equal(r.len, 10);
	assert_memory_equal(r.got, "hello pipe", 10);
	assert_int_equal(r.why, WF_CLOSE_PEER);
	assert_int_equal(r.err, 0);
	assert_loop_clean(loop);
	wf_loop_free(loop);
}

/*
 * Output queued for a reader that goes: the connection closes as the
 * peer's doing, without a write that would raise SIGPIPE (left at its
 * default here, so such a write would kill the test).
 */
static void
a_vanished_reader_closes_the_writer_without_sigpipe(void **state)
{
	static char chunk[1 << 20];
	struct end w = { 0 };
	wf_conn *wc;
	wf_loop *loop;
	int p[2];

	(void)state;
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(wf_conn_adopt(loop, &wc, p[1], &cbs, &w), 0);
	/* More than the pipe holds (64 KiB): the rest waits in the buffer. */
	assert_int_equal(wf_conn_send(wc, chunk, sizeof(chunk)), 0);
	assert_true(wf_conn_queued(wc) > 0);
	close(p[0]);
	turn(loop, &w.closes);
	assert_int_equal(w.closes, 1);
	assert_int_equal(w.why, WF_CLOSE_PEER);
	assert_int_equal(w.err, -EPIPE);
	wf_loop_free(loop);
}

static void
a_terminal_is_read_and_written(void **state)
{
	struct end t = { 0 };
	struct termios raw;
	char buf[16];
	wf_conn *c;
	wf_loop *loop;
	int master, slave;
	ssize_t n = 0;

	(void)state;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0)
		skip();
	/* Raw: no line discipline between the two ends. */
	assert_int_equal(tcgetattr(slave, &raw), 0);
	cfmakeraw(&raw);
	assert_int_equal(tcsetattr(slave, TCSANOW, &raw), 0);
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_int_equal(wf_conn_adopt(loop, &c, slave, &cbs, &t), 0);
	assert_int_equal(write(master, "typed", 5), 5);
	while (t.len < 5) {
		assert_int_equal(wf_loop_run_once(loop, 1000), 0);
		assert_true(++n < 100);
	}
	assert_memory_equal(t.got, "typed", 5);
	assert_int_equal(wf_conn_send(c, "shown", 5), 0);
	n = read(master, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "shown", 5);
	wf_conn_abort(c);
	close(master);
	wf_loop_free(loop);
}

static void
a_regular_file_is_refused(void **state)
{
	char path[] = "/tmp/weft-pipe-XXXXXX";
	wf_loop *loop;
	wf_conn *c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(wf_loop_new(&loop), 0);
	/* The fd is the library's from the call: closed on failure too. */
	assert_int_equal(wf_conn_adopt(loop, &c, fd, &cbs, NULL), -EPERM);
	assert_null(c);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	wf_loop_free(loop);
}

/*
 * A loop freed with connections open closes their descriptors and frees
 * their buffers (no on_close, as for every watcher). Both leaked before.
 */
static void
loop_free_closes_open_connections(void **state)
{
	static char chunk[1 << 20];
	struct end w = { 0 };
	wf_conn *wc;
	wf_loop *loop;
	int p[2];
	char c;

	(void)state;
	assert_int_equal(wf_loop_new(&loop), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(wf_conn_adopt(loop, &wc, p[1], &cbs, &w), 0);
	assert_int_equal(wf_conn_send(wc, chunk, sizeof(chunk)), 0);
	assert_true(wf_conn_queued(wc) > 0); /* a buffer that must be freed */
	wf_loop_free(loop);
	assert_int_equal(w.closes, 0);
	assert_int_equal(fcntl(p[1], F_GETFD), -1);
	/* The reader sees the end of what was written. */
	while (read(p[0], &c, 1) == 1)
		;
	close(p[0]);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(a_pipe_carries_a_stream_both_ends_adopted),
		CASE(a_vanished_reader_closes_the_writer_without_sigpipe),
		CASE(a_terminal_is_read_and_written),
		CASE(a_regular_file_is_refused),
		CASE(loop_free_closes_open_connections),
	};

	RUN("pipe", cases);
}
