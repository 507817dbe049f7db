/*
 * A weft handler in C: answers every request with its own payload.
 * weftd runs it with the worker socket on fd 3 (WEFT_FD).
 */
#include <weft/handler.h>

static int
echo(const struct wf_frame *req, wf_buf *resp, uint16_t *status, void *arg)
{
	(void)arg;
	*status = 0;
	return wf_buf_append(resp, req->payload, req->len);
}

int
main(void)
{
	return wf_handler_run(wf_handler_fd(), 0, echo, NULL) < 0;
}
