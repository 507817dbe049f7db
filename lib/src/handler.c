/*
 * The handler SDK's request loop: blocking reads into a wf_buf until a frame
 * decodes, one callback, one write of header and payload (the header goes
 * into the response buffer's prepend room, so the frame leaves in a single
 * write with no copy of the payload). When the next request is already
 * buffered (weftd pipelined it), the answer is copied to a batch instead,
 * and the batch leaves in one write before the next blocking read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buffer_int.h"
#include "weft/handler.h"

#define DEFAULT_MAX (16u << 20)
#define BATCH_MAX (64u << 10)

/* $WEFT_MAX_FRAME, the largest request weftd may send; else 16 MiB. */
static uint32_t
default_max(void)
{
	const char *s = getenv("WEFT_MAX_FRAME");
	unsigned long long v;
	char *end;

	if (s && *s >= '0' && *s <= '9') {
		v = strtoull(s, &end, 10);
		if (*end == '\0' && v > 0 && v <= UINT32_MAX - WF_FRAME_HDR)
			return (uint32_t)v;
	}
	return DEFAULT_MAX;
}

int
wf_handler_fd(void)
{
	const char *s = getenv("WEFT_FD");
	char *end;
	long v;

	if (s && *s) {
		v = strtol(s, &end, 10);
		if (*end == '\0' && v >= 0 && v < 65536)
			return (int)v;
	}
	return 3;
}

/* The whole buffer, whatever it takes (the fd is blocking). */
static int
write_all(int fd, wf_buf *b)
{
	while (wf_buf_len(b)) {
		ssize_t n = wf_buf_write_fd(b, fd);

		if (n < 0)
			return (int)n;
	}
	return 0;
}

int
wf_handler_run(int fd, uint32_t max_frame, wf_handler_fn *fn, void *arg)
{
	wf_buf in = WF_BUF_INIT, out = WF_BUF_INIT, batch = WF_BUF_INIT;
	unsigned char hdr[WF_FRAME_HDR];
	struct wf_frame f;
	uint16_t status;
	ssize_t n;
	int rc, err;

	if (fn == NULL)
		return -EINVAL;
	if (max_frame == 0)
		max_frame = default_max();
	/* Tags: weftd then never hands an answer to the wrong client. */
	wf_frame_header(hdr, 0, 0, WF_TAGS_HELLO);
	if ((rc = wf_buf_append(&batch, hdr, sizeof(hdr))) < 0)
		goto done;
	rc = wf_frame_decode_tagged(&in, max_frame, &f);
	for (;;) {
		while (rc == 0) {
			if ((rc = write_all(fd, &batch)) < 0)
				goto done;
			n = wf_buf_read_fd(&in, fd, (size_t)max_frame + WF_FRAME_HDR);
			if (n <= 0) {
				rc = n < 0 ? (int)n :
				    wf_buf_len(&in) ? -ECONNRESET : 0;
				goto done;
			}
			rc = wf_frame_decode_tagged(&in, max_frame, &f);
		}
		if (rc < 0)
			goto done;
		status = 0;
		wf_buf_reset(&out, 0);
		if ((err = fn(&f, &out, &status, arg)) < 0)
			goto fail;
		if (wf_buf_len(&out) > UINT32_MAX) {
			err = -EMSGSIZE;
			goto fail;
		}
		/* The request's tag, back as it came. */
		wf_frame_header(hdr, (uint32_t)wf_buf_len(&out), status, f.flags);
		if ((err = wf_buf_prepend(&out, hdr, sizeof(hdr))) < 0)
			goto fail;
		wf_buf_consume(&in, WF_FRAME_HDR + f.len);
		/* The next request is here already: this answer waits for it. */
		rc = wf_frame_decode_tagged(&in, max_frame, &f);
		if (rc == 1 && wf_buf_len(&batch) + wf_buf_len(&out) <= BATCH_MAX) {
			err = wf_buf_append(&batch, wf_buf_peek(&out),
			    wf_buf_len(&out));
		} else if (wf_buf_len(&batch)) {
			if ((err = wf_buf_append(&batch, wf_buf_peek(&out),
			    wf_buf_len(&out))) == 0)
				err = write_all(fd, &batch);
		} else {
			err = write_all(fd, &out);
		}
		if (err < 0)
			goto fail;
	}
fail:
	rc = err;
done:
	/* Answers already made still go out before a protocol error ends us. */
	if (rc != -EPIPE && rc != -ECONNRESET)
		(void)write_all(fd, &batch);
	wf_buf_reset(&in, 1);
	wf_buf_reset(&out, 1);
	wf_buf_reset(&batch, 1);
	return rc;
}
