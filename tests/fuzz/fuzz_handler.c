/*
 * The handler SDK's decoding: any byte stream from weftd's side of the
 * socket gets, for each complete valid request, one answer in order (here
 * the echo), and then a clean end or an error, never a crash or a hang.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <weft/handler.h>

#define MAX_INPUT (16 * 1024)

static int
echo(const struct wf_frame *req, wf_buf *resp, uint16_t *status, void *arg)
{
	(void)arg;
	*status = req->status;
	return wf_buf_append(resp, req->payload, req->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char back[2 * MAX_INPUT + 4096];
	int sv[2], rc;
	ssize_t n;
	size_t got = 0;

	if (size > MAX_INPUT)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* All of it fits the socket's buffers: nothing blocks. */
	if (write(sv[0], data, size) != (ssize_t)size)
		abort();
	shutdown(sv[0], SHUT_WR);
	rc = wf_handler_run(sv[1], 1024, echo, NULL);
	if (rc != 0 && rc != -EPROTO && rc != -EMSGSIZE && rc != -ECONNRESET)
		abort();
	close(sv[1]);
	while ((n = read(sv[0], back + got, sizeof(back) - got)) > 0)
		got += (size_t)n;
	close(sv[0]);
	/* The hello first; then, echoed, the answers are a prefix of the
	 * requests: all of them after a clean end. */
	if (got < WF_FRAME_HDR || wf_frame_length(back) != 0 ||
	    back[6] != 0x57 || back[7] != 0x54)
		abort();
	got -= WF_FRAME_HDR;
	if (got > size || memcmp(back + WF_FRAME_HDR, data, got) != 0 ||
	    (rc == 0 && got != size))
		abort();
	return 0;
}
