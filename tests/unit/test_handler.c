/* The handler SDK, served by a forked child over a socketpair. */
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testutil.h"
#include "weft/handler.h"

/* Upper-cases; a payload starting with '!' answers with status 150. */
static int
upcase(const struct wf_frame *req, wf_buf *resp, uint16_t *status, void *arg)
{
	uint32_t i;
	int rc;

	(void)arg;
	if (req->len && req->payload[0] == '!')
		*status = 150;
	if ((rc = wf_buf_append(resp, req->payload, req->len)) < 0)
		return rc;
	for (i = 0; i < req->len; i++)
		if (resp->data[resp->off + i] >= 'a' && resp->data[resp->off + i] <= 'z')
			resp->data[resp->off + i] -= 32;
	return 0;
}

/* Fork a handler on one end; its exit status is 100 + the negated result. */
static pid_t
spawn_type(int *peer, int type)
{
	int sv[2];
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(100 - wf_handler_run(sv[1], 64, upcase, NULL));
	}
	close(sv[1]);
	*peer = sv[0];
	return pid;
}

/* The hello a tagging handler sends before anything else. */
static void
expect_hello(int fd)
{
	unsigned char h[WF_FRAME_HDR], want[WF_FRAME_HDR];
	size_t got = 0;
	ssize_t r;

	wf_frame_header(want, 0, 0, WF_TAGS_HELLO);
	while (got < sizeof(h)) {
		r = read(fd, h + got, sizeof(h) - got);
		assert_true(r > 0);
		got += (size_t)r;
	}
	assert_memory_equal(h, want, sizeof(h));
}

static pid_t
spawn(int *peer)
{
	pid_t pid = spawn_type(peer, SOCK_STREAM);

	expect_hello(*peer);
	return pid;
}

static int
reap(pid_t pid)
{
	int st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st) - 100; /* the negated result */
}

static void
send_tagged(int fd, const char *p, uint32_t len, uint16_t tag)
{
	unsigned char h[WF_FRAME_HDR];

	wf_frame_header(h, len, 0, tag);
	assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	if (len)
		assert_int_equal(write(fd, p, len), (ssize_t)len);
}

static void
send_frame(int fd, const char *p, uint32_t len)
{
	send_tagged(fd, p, len, 0);
}

static void
read_exact(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		assert_true(r > 0);
		got += (size_t)r;
	}
}

static void
expect_tagged(int fd, const char *payload, uint16_t status, uint16_t tag)
{
	unsigned char h[WF_FRAME_HDR];
	struct wf_frame f;
	wf_buf b = WF_BUF_INIT;
	char body[64];
	size_t n = strlen(payload);

	read_exact(fd, h, sizeof(h));
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	read_exact(fd, body, n);
	assert_int_equal(wf_buf_append(&b, body, n), 0);
	assert_int_equal(wf_frame_decode_tagged(&b, 64, &f), 1);
	assert_int_equal(f.len, n);
	assert_int_equal(f.status, status);
	assert_int_equal(f.flags, tag);
	assert_memory_equal(f.payload, payload, n);
	wf_buf_reset(&b, 1);
}

static void
expect(int fd, const char *payload, uint16_t status)
{
	expect_tagged(fd, payload, status, 0);
}

static void
answers_in_order_and_ends_clean(void **state)
{
	char msg[32], want[32];
	int fd, i;
	pid_t pid = spawn(&fd);

	(void)state;
	/* Pipelined: all requests first, then all answers, in order. */
	for (i = 0; i < 100; i++) {
		snprintf(msg, sizeof(msg), "req %d", i);
		send_frame(fd, msg, (uint32_t)strlen(msg));
	}
	send_frame(fd, "!oops", 5);
	send_frame(fd, "", 0);
	for (i = 0; i < 100; i++) {
		snprintf(want, sizeof(want), "REQ %d", i);
		expect(fd, want, 0);
	}
	expect(fd, "!OOPS", 150);
	expect(fd, "", 0);
	close(fd);
	assert_int_equal(reap(pid), 0);
}

/* Each answer carries its request's tag back, whatever weftd chose. */
static void
tags_come_back_with_their_answers(void **state)
{
	static const uint16_t tags[] = { 1, 2, 7, 65535, 0, 3 };
	char msg[16], want[16];
	int fd;
	size_t i;
	pid_t pid = spawn(&fd);

	(void)state;
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		snprintf(msg, sizeof(msg), "t%zu", i);
		send_tagged(fd, msg, (uint32_t)strlen(msg), tags[i]);
	}
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		snprintf(want, sizeof(want), "T%zu", i);
		expect_tagged(fd, want, 0, tags[i]);
	}
	close(fd);
	assert_int_equal(reap(pid), 0);
}

static void
bad_requests_end_the_handler(void **state)
{
	unsigned char h[WF_FRAME_HDR];
	int fd;
	pid_t pid;

	(void)state;
	pid = spawn(&fd);
	wf_frame_header(h, 65, 0, 0); /* over the handler's max of 64 */
	assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(reap(pid), EMSGSIZE);
	close(fd);

	pid = spawn(&fd);
	wf_frame_header(h, 10, 0, 0);
	assert_int_equal(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	close(fd); /* the stream ends inside the frame */
	assert_int_equal(reap(pid), ECONNRESET);
}

/*
 * Requests that arrive together are answered with one write. A seqpacket
 * socket keeps write boundaries, so one recv shows what one write sent
 * (and a read takes at most max_frame + 8 = 72 bytes of the record).
 */
static void
pipelined_requests_get_one_write(void **state)
{
	unsigned char req[6 * (WF_FRAME_HDR + 2)], resp[sizeof(req) + 1];
	unsigned char *p = req;
	struct wf_buf b = WF_BUF_INIT;
	struct wf_frame f;
	int fd, i;
	pid_t pid;

	(void)state;
	pid = spawn_type(&fd, SOCK_SEQPACKET);
	expect_hello(fd);
	for (i = 0; i < 6; i++, p += WF_FRAME_HDR + 2) {
		wf_frame_header(p, 2, 0, 0);
		p[WF_FRAME_HDR] = 'a';
		p[WF_FRAME_HDR + 1] = (unsigned char)('a' + i);
	}
	assert_int_equal(send(fd, req, sizeof(req), 0), (ssize_t)sizeof(req));
	assert_int_equal(recv(fd, resp, sizeof(resp), 0), (ssize_t)sizeof(req));
	assert_int_equal(wf_buf_append(&b, resp, sizeof(req)), 0);
	for (i = 0; i < 6; i++) {
		assert_int_equal(wf_frame_decode(&b, 64, &f), 1);
		assert_int_equal(f.len, 2);
		assert_int_equal(f.payload[0], 'A');
		assert_int_equal(f.payload[1], 'A' + i);
		wf_buf_consume(&b, WF_FRAME_HDR + f.len);
	}
	wf_buf_reset(&b, 1);
	close(fd);
	assert_int_equal(reap(pid), 0);
}

static void
fd_comes_from_weft_fd(void **state)
{
	(void)state;
	unsetenv("WEFT_FD");
	assert_int_equal(wf_handler_fd(), 3);
	setenv("WEFT_FD", "7", 1);
	assert_int_equal(wf_handler_fd(), 7);
	setenv("WEFT_FD", "7x", 1);
	assert_int_equal(wf_handler_fd(), 3);
	unsetenv("WEFT_FD");
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(answers_in_order_and_ends_clean),
		CASE(bad_requests_end_the_handler),
		CASE(tags_come_back_with_their_answers),
		CASE(pipelined_requests_get_one_write),
		CASE(fd_comes_from_weft_fd),
	};

	RUN("handler", cases);
}
