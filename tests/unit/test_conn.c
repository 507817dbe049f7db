/* Stream connections: data, frames, backpressure, close, references. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <sys/socket.h>

#include "testutil.h"
#include "conn_int.h"
#include "weft/frame.h"
#include "weft/thread.h"

enum { ECHO, FRAMES };

struct srv {
	int mode;
	uint32_t max;      /* FRAMES: largest payload */
	int one_then_pause; /* FRAMES: answer one frame, then pause */
	int pause_first;    /* the first call: pause, consume nothing */
	int abort_in_data;
	int closes, highs, drains, eofs;
	enum wf_close_reason why;
	int err;
	wf_conn *c;
};

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	struct srv *s = arg;
	struct wf_frame f;
	int rc;

	if (s->abort_in_data) {
		wf_conn_abort(c);
		return;
	}
	if (s->pause_first) {
		s->pause_first = 0;
		wf_conn_pause(c);
		return;
	}
	if (s->mode == ECHO) {
		assert_int_equal(wf_conn_send(c, wf_buf_peek(in), wf_buf_len(in)), 0);
		wf_buf_consume(in, wf_buf_len(in));
		return;
	}
	while ((rc = wf_frame_decode(in, s->max, &f)) == 1) {
		assert_int_equal(wf_conn_send_frame(c, f.status, 0, f.payload,
		    f.len), 0);
		wf_buf_consume(in, WF_FRAME_HDR + f.len);
		if (s->one_then_pause) {
			wf_conn_pause(c);
			return;
		}
	}
	if (rc < 0)
		wf_conn_fail(c, WF_CLOSE_LIMIT, rc);
}

/* n frames of one payload byte each, 'first' then the next letters. */
static void
one_byte_frames(unsigned char *p, int n, char first)
{
	int i;

	for (i = 0; i < n; i++) {
		wf_frame_header(p + i * (WF_FRAME_HDR + 1), 1, (uint16_t)i, 0);
		p[i * (WF_FRAME_HDR + 1) + WF_FRAME_HDR] = (unsigned char)(first + i);
	}
}

static void
on_high(wf_conn *c, size_t queued, void *arg)
{
	(void)c;
	(void)queued;
	((struct srv *)arg)->highs++;
}

static void
on_drain(wf_conn *c, void *arg)
{
	(void)c;
	((struct srv *)arg)->drains++;
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	struct srv *s = arg;

	assert_ptr_equal(c, s->c);
	s->closes++;
	s->why = why;
	s->err = err;
}

static const struct wf_conn_cbs cbs = { .on_data = on_data,
    .on_high_water = on_high, .on_drain = on_drain, .on_close = on_close };

static void
on_eof(wf_conn *c, void *arg)
{
	(void)c;
	((struct srv *)arg)->eofs++;
}

/* A connection on sv[0]; the test plays the peer on the returned fd. */
static int
pair(wf_loop *loop, struct srv *s)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(wf_conn_adopt(loop, &s->c, sv[0], &cbs, s), 0);
	return sv[1];
}

/* Read exactly n bytes from a blocking fd while the loop runs. */
static void
read_all(wf_loop *loop, int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ssize_t r;

		if (poll(&p, 1, 0) == 0) {
			assert_int_equal(wf_loop_run_once(loop, 10), 0);
			continue;
		}
		r = read(fd, (char *)buf + got, n - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
}

static int
at_eof(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static void
echo_keeps_no_memory_when_idle(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = ECHO };
	int peer = pair(loop, &s);
	char buf[6];

	(void)state;
	assert_int_equal(write(peer, "abcdef", 6), 6);
	read_all(loop, peer, buf, 6);
	assert_memory_equal(buf, "abcdef", 6);
	/* Consumed at once: the bytes were lent, never copied or kept. */
	assert_null(s.c->in.data);
	assert_null(s.c->out.data);
	close(peer);
	while (s.closes == 0)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
	assert_int_equal(s.why, WF_CLOSE_PEER);
	loop_free_clean(loop);
}

static void
frames_split_at_every_byte(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = FRAMES, .max = 1000 };
	int peer = pair(loop, &s);
	unsigned char f[WF_FRAME_HDR + 5], back[sizeof(f)];
	size_t cut;

	(void)state;
	wf_frame_header(f, 5, 0, 0);
	memcpy(f + WF_FRAME_HDR, "fives", 5);
	for (cut = 1; cut < sizeof(f); cut++) {
		assert_int_equal(write(peer, f, cut), (ssize_t)cut);
		assert_int_equal(wf_loop_run_once(loop, 0), 0);
		assert_int_equal(write(peer, f + cut, sizeof(f) - cut),
		    (ssize_t)(sizeof(f) - cut));
		read_all(loop, peer, back, sizeof(back));
		assert_memory_equal(back, f, sizeof(f));
	}
	/* Pipelined: many frames in one write come back in order. */
	{
		unsigned char many[100 * sizeof(f)], got[sizeof(many)];
		int i;

		for (i = 0; i < 100; i++) {
			wf_frame_header(many + i * sizeof(f), 5, (uint16_t)i, 0);
			memcpy(many + i * sizeof(f) + WF_FRAME_HDR, "fives", 5);
		}
		assert_int_equal(write(peer, many, sizeof(many)), (ssize_t)sizeof(many));
		read_all(loop, peer, got, sizeof(got));
		assert_memory_equal(got, many, sizeof(many));
	}
	wf_conn_abort(s.c);
	close(peer);
	loop_free_clean(loop);
}

static void
oversize_closes_only_its_connection(void **state)
{
	static const uint32_t bad[] = { 101, 0xFFFFFFFFu };
	unsigned char h[WF_FRAME_HDR], f[WF_FRAME_HDR + 2];
	wf_loop *loop = loop_new();
	struct srv good = { .mode = FRAMES, .max = 100 };
	int gpeer = pair(loop, &good);
	size_t i;

	(void)state;
	wf_frame_header(f, 2, 0, 0);
	memcpy(f + WF_FRAME_HDR, "ok", 2);
	for (i = 0; i < 2; i++) {
		struct srv s = { .mode = FRAMES, .max = 100 };
		int peer = pair(loop, &s);
		unsigned char back[sizeof(f)];

		/* The header alone is enough: no payload is waited for. */
		wf_frame_header(h, bad[i], 0, 0);
		assert_int_equal(write(peer, h, sizeof(h)), (ssize_t)sizeof(h));
		while (s.closes == 0)
			assert_int_equal(wf_loop_run_once(loop, -1), 0);
		assert_int_equal(s.why, WF_CLOSE_LIMIT);
		assert_int_equal(s.err, -EMSGSIZE);
		assert_true(at_eof(peer));
		close(peer);
		/* The neighbour is untouched. */
		assert_int_equal(write(gpeer, f, sizeof(f)), (ssize_t)sizeof(f));
		read_all(loop, gpeer, back, sizeof(back));
		assert_memory_equal(back, f, sizeof(f));
		assert_int_equal(good.closes, 0);
	}
	wf_conn_abort(good.c);
	close(gpeer);
	loop_free_clean(loop);
}

static void
peer_that_never_reads_hits_high_water(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = ECHO };
	int peer = pair(loop, &s), rc, i;
	char chunk[16384], sink[65536];
	size_t sent = 0, got = 0;

	(void)state;
	memset(chunk, 'h', sizeof(chunk));
	wf_conn_set_limits(s.c, 256 << 10, 1 << 20, 1 << 20);
	while ((rc = wf_conn_send(s.c, chunk, sizeof(chunk))) == 0) {
		sent += sizeof(chunk);
		assert_true(sent < (64u << 20));
	}
	assert_int_equal(rc, -ENOBUFS);
	assert_int_equal(s.highs, 1); /* once per crossing, not per send */
	assert_true(wf_conn_queued(s.c) <= (1u << 20));
	assert_true(wf_conn_queued(s.c) > (256u << 10));
	/* The peer reads: everything arrives, on_drain says so. */
	while (got < sent) {
		ssize_t r = recv(peer, sink, sizeof(sink), MSG_DONTWAIT);

		if (r > 0) {
			for (i = 0; i < r; i++)
				assert_int_equal(sink[i], 'h');
			got += (size_t)r;
		} else
			assert_int_equal(wf_loop_run_once(loop, 10), 0);
	}
	while (s.drains == 0)
		assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(wf_conn_queued(s.c), 0);
	assert_null(s.c->out.data);
	wf_conn_abort(s.c);
	close(peer);
	loop_free_clean(loop);
}

struct reader {
	int fd;
	size_t got;
	int intact, eof;
};

static void *
read_to_eof(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[65536];
	ssize_t n;
	size_t i;

	r->intact = 1;
	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			if (buf[i] != (unsigned char)((r->got + i) % 251))
				r->intact = 0;
		r->got += (size_t)n;
	}
	r->eof = n == 0;
	close(r->fd); /* lets the lingering close finish */
	return NULL;
}

static void
graceful_close_delivers_10mb(void **state)
{
	enum { TOTAL = 10 << 20 };
	wf_loop *loop = loop_new();
	struct srv s = { .mode = ECHO };
	struct reader r = { 0 };
	unsigned char *data = malloc(TOTAL);
	pthread_t th;
	size_t i;

	(void)state;
	for (i = 0; i < TOTAL; i++)
		data[i] = (unsigned char)(i % 251);
	r.fd = pair(loop, &s);
	wf_conn_set_limits(s.c, 0, 1 << 20, TOTAL);
	assert_int_equal(wf_conn_send(s.c, data, TOTAL), 0);
	assert_true(wf_conn_queued(s.c) > 0);
	wf_conn_close(s.c, 20000);
	assert_int_equal(wf_conn_send(s.c, "x", 1), -ENOTCONN);
	assert_int_equal(pthread_create(&th, NULL, read_to_eof, &r), 0);
	while (s.closes == 0)
		assert_int_equal(wf_loop_run_once(loop, -1), 0);
	pthread_join(th, NULL);
	assert_int_equal(s.why, WF_CLOSE_LOCAL);
	assert_int_equal(r.got, TOTAL);
	assert_true(r.intact);
	assert_true(r.eof);
	free(data);
	loop_free_clean(loop);
}

static void
abort_inside_on_data(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = ECHO, .abort_in_data = 1 };
	int peer = pair(loop, &s);

	(void)state;
	assert_int_equal(write(peer, "x", 1), 1);
	assert_int_equal(wf_loop_run_once(loop, -1), 0);
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.why, WF_CLOSE_LOCAL);
	assert_true(at_eof(peer));
	close(peer);
	loop_free_clean(loop);
}

static void
resume_delivers_what_was_buffered(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = FRAMES, .max = 100, .one_then_pause = 1 };
	int peer = pair(loop, &s);
	unsigned char three[3 * (WF_FRAME_HDR + 1)], back[sizeof(three)];

	(void)state;
	one_byte_frames(three, 3, 'a');
	assert_int_equal(write(peer, three, sizeof(three)), (ssize_t)sizeof(three));
	read_all(loop, peer, back, 9);
	assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(recv(peer, back, 1, MSG_DONTWAIT), -1); /* paused */
	/* No new bytes will come: resume must hand over the buffered ones. */
	wf_conn_resume(s.c);
	read_all(loop, peer, back + 9, 9);
	wf_conn_resume(s.c);
	read_all(loop, peer, back + 18, 9);
	assert_memory_equal(back, three, sizeof(three));
	wf_conn_abort(s.c);
	close(peer);
	loop_free_clean(loop);
}

/*
 * Paused with max_in bytes kept, and more arriving: the kept bytes go to
 * on_data before the next read, which would otherwise find the buffer
 * full and close the connection for input it was never offered.
 */
static void
a_full_buffer_kept_while_paused_is_offered_first(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = FRAMES, .max = 100, .pause_first = 1 };
	int peer = pair(loop, &s), i;
	unsigned char four[4 * (WF_FRAME_HDR + 1)], back[sizeof(four)];

	(void)state;
	wf_conn_set_limits(s.c, 0, 2 * (WF_FRAME_HDR + 1), 1 << 20);
	one_byte_frames(four, 4, 'a');
	assert_int_equal(write(peer, four, 18), 18);
	for (i = 0; i < 5; i++)
		assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(wf_buf_len(&s.c->in), 18); /* kept: a full buffer */
	assert_int_equal(write(peer, four + 18, 18), 18);
	wf_conn_resume(s.c);
	read_all(loop, peer, back, sizeof(back));
	assert_memory_equal(back, four, sizeof(four));
	assert_int_equal(s.closes, 0);
	wf_conn_abort(s.c);
	close(peer);
	loop_free_clean(loop);
}

static const struct wf_conn_cbs eof_cbs = { .on_data = on_data,
    .on_close = on_close, .on_eof = on_eof };

/* Run the loop until the peer has n bytes, or a second passes. */
static void
spin(wf_loop *loop, int n)
{
	int i;

	for (i = 0; i < n; i++)
		assert_int_equal(wf_loop_run_once(loop, 10), 0);
}

/*
 * The peer sends three frames and half-closes; the caller pauses after
 * each. The end is reported only after all three were offered, each after
 * a resume: none is lost to an early end of file.
 */
static void
end_of_input_waits_for_what_was_kept(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = FRAMES, .max = 100, .one_then_pause = 1 };
	unsigned char three[3 * (WF_FRAME_HDR + 1)], back[sizeof(three)];
	int sv[2], i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(wf_conn_adopt(loop, &s.c, sv[0], &eof_cbs, &s), 0);
	one_byte_frames(three, 3, 'a');
	assert_int_equal(write(sv[1], three, sizeof(three)), (ssize_t)sizeof(three));
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	for (i = 0; i < 3; i++) {
		read_all(loop, sv[1], back + i * 9, 9);
		spin(loop, 5);
		assert_int_equal(s.eofs, 0);
		assert_int_equal(s.closes, 0);
		wf_conn_resume(s.c);
	}
	spin(loop, 5);
	assert_int_equal(s.eofs, 1);
	assert_memory_equal(back, three, sizeof(three));
	wf_conn_abort(s.c);
	close(sv[1]);
	loop_free_clean(loop);
}

/* shutdown_read: no more reads, what was kept is offered, then on_eof. */
static void
shutdown_read_offers_what_was_kept_then_ends(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = FRAMES, .max = 100, .one_then_pause = 1 };
	unsigned char two[2 * (WF_FRAME_HDR + 1)], back[sizeof(two)];
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(wf_conn_adopt(loop, &s.c, sv[0], &eof_cbs, &s), 0);
	one_byte_frames(two, 2, 'x');
	assert_int_equal(write(sv[1], two, sizeof(two)), (ssize_t)sizeof(two));
	read_all(loop, sv[1], back, 9); /* the second is kept: paused */
	wf_conn_shutdown_read(s.c);
	/* Sent after the shutdown: never read. */
	assert_int_equal(write(sv[1], two, 9), 9);
	spin(loop, 5);
	assert_int_equal(s.eofs, 0);
	wf_conn_resume(s.c);
	read_all(loop, sv[1], back + 9, 9);
	spin(loop, 5);
	assert_int_equal(s.eofs, 0); /* it paused again: not the end yet */
	wf_conn_resume(s.c);
	spin(loop, 5);
	assert_int_equal(s.eofs, 1);
	assert_memory_equal(back, two, sizeof(two));
	assert_int_equal(wf_buf_len(&s.c->in), 0);
	/* Still writable. */
	assert_int_equal(wf_conn_send(s.c, "w", 1), 0);
	read_all(loop, sv[1], back, 1);
	assert_int_equal(back[0], 'w');
	wf_conn_abort(s.c);
	close(sv[1]);
	loop_free_clean(loop);
}

/* With on_eof, a half-closed connection stays writable until closed. */
static void
half_closed_peer_still_gets_late_answers(void **state)
{
	wf_loop *loop = loop_new();
	struct srv s = { .mode = ECHO };
	char back[7];
	int sv[2], i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(wf_conn_adopt(loop, &s.c, sv[0], &eof_cbs, &s), 0);
	assert_int_equal(write(sv[1], "abc", 3), 3);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	for (i = 0; i < 100 && s.eofs == 0; i++)
		assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(s.eofs, 1);
	assert_int_equal(s.closes, 0);
	/* The answer that was still being worked on. */
	assert_int_equal(wf_conn_send(s.c, "late", 4), 0);
	read_all(loop, sv[1], back, sizeof(back));
	assert_memory_equal(back, "abclate", sizeof(back));
	wf_conn_close(s.c, 1000);
	for (i = 0; i < 100 && s.closes == 0; i++)
		assert_int_equal(wf_loop_run_once(loop, 10), 0);
	assert_int_equal(s.closes, 1);
	assert_int_equal(s.why, WF_CLOSE_LOCAL);
	assert_true(at_eof(sv[1]));
	assert_int_equal(s.eofs, 1);
	close(sv[1]);
	loop_free_clean(loop);
}

/* Other threads send and close through references while the conn dies. */
struct xref {
	wf_loop *loop;
	int fd;
	struct srv s;
	wf_conn_ref *ref;
	sem_t ready;
	atomic_int enotconn, bad;
};

static void
make_conn_and_ref(void *arg)
{
	struct xref *x = arg;

	/* On the loop thread: results go back through x, not cmocka. */
	if (wf_conn_adopt(x->loop, &x->s.c, x->fd, &cbs, &x->s) == 0)
		x->ref = wf_conn_ref_get(x->s.c);
	sem_post(&x->ready);
}

/*
 * Send until the connection is reported gone. No count bound: how long that
 * takes is the scheduler's business (the case alarm catches a hang), and a
 * yield now and then lets the loop thread run under valgrind's one-at-a-time
 * scheduling. cmocka asserts belong to the main thread: report through x.
 */
static void *
hammer(void *arg)
{
	struct xref *x = arg;
	wf_conn_ref *r = x->ref;
	long i;
	int rc;

	for (i = 0;; i++) {
		rc = wf_conn_ref_send(r, "ping", 4);
		if (rc == -ENOTCONN)
			break;
		if (rc != 0)
			atomic_fetch_add(&x->bad, 1);
		if (i % 64 == 0)
			sched_yield();
	}
	if (wf_conn_ref_close(r, 0) != -ENOTCONN)
		atomic_fetch_add(&x->bad, 1);
	atomic_fetch_add(&x->enotconn, 1);
	return NULL;
}

static void
references_from_threads_while_conn_dies(void **state)
{
	struct xref x = { .s.mode = ECHO };
	wf_loop_thread *t;
	pthread_t th[2];
	char buf[4096];
	int sv[2], i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	x.fd = sv[0];
	sem_init(&x.ready, 0, 0);
	assert_int_equal(wf_loop_thread_start(&t, "conn-test"), 0);
	x.loop = wf_loop_thread_loop(t);
	assert_int_equal(wf_loop_post(x.loop, make_conn_and_ref, &x), 0);
	while (sem_wait(&x.ready) != 0)
		;
	assert_non_null(x.ref);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &x), 0);
	/* Read a little, then hang up: the connection dies under them. */
	assert_true(read(sv[1], buf, sizeof(buf)) > 0);
	close(sv[1]);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&x.enotconn), 2);
	assert_int_equal(atomic_load(&x.bad), 0);
	wf_conn_ref_put(x.ref);
	wf_loop_thread_free(t);
	assert_int_equal(x.s.closes, 1);
	sem_destroy(&x.ready);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(echo_keeps_no_memory_when_idle),
		CASE(frames_split_at_every_byte),
		CASE(oversize_closes_only_its_connection),
		CASE(peer_that_never_reads_hits_high_water),
		CASE(graceful_close_delivers_10mb),
		CASE(abort_inside_on_data),
		CASE(resume_delivers_what_was_buffered),
		CASE(a_full_buffer_kept_while_paused_is_offered_first),
		CASE(end_of_input_waits_for_what_was_kept),
		CASE(shutdown_read_offers_what_was_kept_then_ends),
		CASE(half_closed_peer_still_gets_late_answers),
		CASE(references_from_threads_while_conn_dies),
	};

	RUN("conn", cases);
}
