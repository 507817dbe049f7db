/* Buffers and the frame codec. */
#include <fcntl.h>
#include <sys/socket.h>

#include "testutil.h"
#include "buffer_int.h"
#include "weft/frame.h"

static void
append_consume_prepend(void **state)
{
	wf_buf b = WF_BUF_INIT;
	char big[5000];

	(void)state;
	memset(big, 'x', sizeof(big));
	assert_int_equal(wf_buf_append(&b, "hello", 5), 0);
	assert_int_equal(wf_buf_len(&b), 5);
	assert_memory_equal(wf_buf_peek(&b), "hello", 5);
	/* Room in front: a header goes there without moving the payload. */
	assert_int_equal(wf_buf_prepend(&b, "<<", 2), 0);
	assert_memory_equal(wf_buf_peek(&b), "<<hello", 7);
	wf_buf_consume(&b, 3);
	assert_memory_equal(wf_buf_peek(&b), "ello", 4);
	assert_int_equal(wf_buf_append(&b, big, sizeof(big)), 0);
	assert_int_equal(wf_buf_len(&b), 4 + sizeof(big));
	assert_memory_equal(wf_buf_peek(&b), "ello", 4);
	assert_memory_equal(wf_buf_peek(&b) + 4, big, sizeof(big));
	/* Prepend more than the room in front: moved once, still right. */
	wf_buf_consume(&b, 4);
	assert_int_equal(wf_buf_prepend(&b, big, 100), 0);
	assert_int_equal(wf_buf_len(&b), 100 + sizeof(big));
	wf_buf_consume(&b, wf_buf_len(&b));
	assert_int_equal(wf_buf_len(&b), 0);
	wf_buf_reset(&b, 1);
	assert_null(b.data);
	assert_int_equal(b.cap, 0);
}

/*
 * Prepend into the front room of a full buffer, then grow: the room and
 * the sizes must add up without wrapping (a heap overflow before).
 * Each step is checked against a plain copy.
 */
static void
prepend_into_a_full_buffer_then_grow(void **state)
{
	static const struct { char op; size_t n; } steps[][5] = {
		{ { 'a', 240 }, { 'p', 8 }, { 'a', 1 } },
		{ { 'a', 200 }, { 'p', 16 }, { 'a', 40 }, { 'p', 8 } },
		{ { 'a', 10 }, { 'p', 16 }, { 'p', 16 }, { 'a', 300 }, { 'p', 3 } },
	};
	char shadow[1024], bytes[512];
	size_t i, k, len;

	(void)state;
	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (char)('A' + i % 26);
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		wf_buf b = WF_BUF_INIT;

		len = 0;
		for (i = 0; i < 5 && steps[k][i].op; i++) {
			size_t n = steps[k][i].n;

			if (steps[k][i].op == 'a') {
				assert_int_equal(wf_buf_append(&b, bytes, n), 0);
				memcpy(shadow + len, bytes, n);
			} else {
				assert_int_equal(wf_buf_prepend(&b, bytes + 100, n), 0);
				memmove(shadow + n, shadow, len);
				memcpy(shadow, bytes + 100, n);
			}
			len += n;
			assert_int_equal(wf_buf_len(&b), len);
			assert_true(b.off + b.len <= b.cap);
			assert_memory_equal(wf_buf_peek(&b), shadow, len);
		}
		wf_buf_reset(&b, 1);
	}
	/* Sizes near 4 GiB are refused, not wrapped. */
	{
		wf_buf b = WF_BUF_INIT;

		assert_int_equal(wf_buf_append(&b, "x", 1), 0);
		assert_int_equal(wf_buf_reserve(&b, (size_t)UINT32_MAX - 8), -ENOMEM);
		assert_int_equal(wf_buf_reserve(&b, SIZE_MAX), -ENOMEM);
		assert_int_equal(wf_buf_len(&b), 1);
		wf_buf_reset(&b, 1);
	}
	/* A buffer that never held anything peeks as NULL, not NULL + 0, and
	 * takes an empty prepend (found by fuzz_buffer: NULL + 0 before). */
	{
		wf_buf b = WF_BUF_INIT;

		assert_null(wf_buf_peek(&b));
		assert_int_equal(wf_buf_prepend(&b, "", 0), 0);
		assert_int_equal(wf_buf_len(&b), 0);
	}
}

static void
compaction_reuses_memory(void **state)
{
	wf_buf b = WF_BUF_INIT;
	char chunk[100];
	char *mem;
	int i;

	(void)state;
	memset(chunk, 'c', sizeof(chunk));
	assert_int_equal(wf_buf_reserve(&b, 1000), 0);
	mem = b.data;
	/* A steady stream that is consumed as it comes never reallocates. */
	for (i = 0; i < 1000; i++) {
		assert_int_equal(wf_buf_append(&b, chunk, sizeof(chunk)), 0);
		wf_buf_consume(&b, i % 2 ? sizeof(chunk) + 50 : 50);
	}
	assert_ptr_equal(b.data, mem);
	wf_buf_reset(&b, 1);
}

static void
borrowed_bytes_are_copied_only_when_kept(void **state)
{
	wf_buf b = WF_BUF_INIT;
	char stack[16] = "0123456789abcdef";

	(void)state;
	wf__buf_borrow(&b, stack, sizeof(stack));
	assert_ptr_equal(wf_buf_peek(&b), stack);
	wf_buf_consume(&b, 10);
	assert_int_equal(wf__buf_keep(&b), 0);
	assert_ptr_not_equal(b.data, stack);
	memset(stack, 0, sizeof(stack));
	assert_memory_equal(wf_buf_peek(&b), "abcdef", 6);
	wf_buf_reset(&b, 1);

	/* All consumed: nothing to keep, nothing allocated. */
	wf__buf_borrow(&b, stack, sizeof(stack));
	wf_buf_consume(&b, sizeof(stack));
	assert_int_equal(wf__buf_keep(&b), 0);
	assert_null(b.data);
}

static void
read_fd_spills_and_bounds(void **state)
{
	enum { N = 200000 };
	char *src = malloc(N);
	wf_buf b = WF_BUF_INIT;
	int sv[2], i;
	ssize_t n;
	size_t got = 0;

	(void)state;
	for (i = 0; i < N; i++)
		src[i] = (char)(i * 7);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	i = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &i, sizeof(i));
	n = send(sv[0], src, N, 0);
	assert_true(n > 65536);
	/* An empty buffer takes more than 64 KiB in one call: the spill. */
	n = wf_buf_read_fd(&b, sv[1], SIZE_MAX);
	assert_true(n > 0);
	got = (size_t)n;
	/* A limit is a limit. */
	assert_int_equal(wf_buf_read_fd(&b, sv[1], got), -ENOBUFS);
	while ((n = wf_buf_read_fd(&b, sv[1], got + 1000)) > 0) {
		assert_true(wf_buf_len(&b) <= got + 1000);
		got += (size_t)n;
		wf_buf_consume(&b, 500);
		got -= 500;
	}
	assert_int_equal(n, -EAGAIN);
	wf_buf_reset(&b, 1);
	close(sv[0]);
	close(sv[1]);
	free(src);
}

static void
frame_bytes(unsigned char *out, uint32_t len, uint16_t status,
    const char *payload)
{
	wf_frame_header(out, len, status, 0);
	memcpy(out + WF_FRAME_HDR, payload, len);
}

/* A frame split at every byte boundary is assembled, and only then. */
static void
decode_split_at_every_boundary(void **state)
{
	unsigned char f[WF_FRAME_HDR + 11];
	struct wf_frame fr;
	size_t cut;

	(void)state;
	frame_bytes(f, 11, 300, "hello world");
	assert_memory_equal(f, "\0\0\0\x0b\x01\x2c\0\0", 8);
	for (cut = 0; cut <= sizeof(f); cut++) {
		wf_buf b = WF_BUF_INIT;

		assert_int_equal(wf_buf_append(&b, f, cut), 0);
		assert_int_equal(wf_frame_decode(&b, 100, &fr),
		    cut == sizeof(f) ? 1 : 0);
		assert_int_equal(wf_buf_append(&b, f + cut, sizeof(f) - cut), 0);
		assert_int_equal(wf_frame_decode(&b, 100, &fr), 1);
		assert_int_equal(fr.len, 11);
		assert_int_equal(fr.status, 300);
		assert_memory_equal(fr.payload, "hello world", 11);
		/* Zero-copy: the payload is the buffer's own bytes. */
		assert_ptr_equal(fr.payload, wf_buf_peek(&b) + WF_FRAME_HDR);
		wf_buf_reset(&b, 1);
	}
}

static void
decode_rejects_from_header_alone(void **state)
{
	unsigned char h[WF_FRAME_HDR];
	struct wf_frame fr;
	wf_buf b = WF_BUF_INIT;

	(void)state;
	wf_frame_header(h, 101, 0, 0);
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	assert_int_equal(wf_frame_decode(&b, 100, &fr), -EMSGSIZE);
	wf_buf_reset(&b, 0);
	wf_frame_header(h, 0xFFFFFFFFu, 0, 0);
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	assert_int_equal(wf_frame_decode(&b, 100, &fr), -EMSGSIZE);
	wf_buf_reset(&b, 0);
	wf_frame_header(h, 100, 0, 0);
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	assert_int_equal(wf_frame_decode(&b, 100, &fr), 0); /* max is allowed */
	wf_buf_reset(&b, 0);
	wf_frame_header(h, 3, 0, 1);
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	assert_int_equal(wf_frame_decode(&b, 100, &fr), -EPROTO);
	wf_buf_reset(&b, 0);
	wf_frame_header(h, 0, 7, 0);
	assert_int_equal(wf_buf_append(&b, h, sizeof(h)), 0);
	assert_int_equal(wf_frame_decode(&b, 100, &fr), 1); /* empty payload */
	assert_int_equal(fr.len, 0);
	assert_int_equal(fr.status, 7);
	wf_buf_reset(&b, 1);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(append_consume_prepend),
		CASE(compaction_reuses_memory),
		CASE(borrowed_bytes_are_copied_only_when_kept),
		CASE(read_fd_spills_and_bounds),
		CASE(prepend_into_a_full_buffer_then_grow),
		CASE(decode_split_at_every_boundary),
		CASE(decode_rejects_from_header_alone),
	};

	RUN("buffer", cases);
}
