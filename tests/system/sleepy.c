/*
 * A handler for the system tests: "sleep:MS" prints "sleeping MS" (to
 * weftd's log, hence the journal: the test's sign that the request is in
 * flight), sleeps, then echoes; anything else is echoed at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weft/handler.h>

static int
answer(const struct wf_frame *req, wf_buf *resp, uint16_t *status, void *arg)
{
	char ms[16] = "";
	struct timespec ts;
	long v;

	(void)status;
	(void)arg;
	if (req->len > 6 && req->len - 6 < sizeof(ms) &&
	    memcmp(req->payload, "sleep:", 6) == 0) {
		memcpy(ms, req->payload + 6, req->len - 6);
		v = atol(ms);
		printf("sleeping %ld\n", v);
		fflush(stdout);
		ts.tv_sec = v / 1000;
		ts.tv_nsec = v % 1000 * 1000000;
		while (nanosleep(&ts, &ts) != 0)
			;
	}
	return wf_buf_append(resp, req->payload, req->len);
}

int
main(void)
{
	return wf_handler_run(wf_handler_fd(), 0, answer, NULL) < 0;
}
