/*
 * Numbers the lines of its input, like nl(1): stdin and stdout as libweft
 * streams, whether pipes, terminals or sockets. When stdout falls behind,
 * reading stops until it drains (backpressure); at the end of the input
 * the output is flushed and both are closed.
 *
 *   producer | lines | consumer
 *
 * stdin and stdout are pipes, terminals or sockets: epoll cannot watch a
 * regular file (`lines < file` fails with EPERM; use `cat file | lines`).
 *
 * Written in the common subset of C and C++: the tests build it as both.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <weft/weft.h>

struct app {
	wf_conn *in, *out;
	unsigned long line;
	int at_start, status;
};

static void
on_input(wf_conn *c, wf_buf *in, void *arg)
{
	struct app *app = (struct app *)arg;
	const char *p = wf_buf_peek(in), *end = p + wf_buf_len(in);
	char num[32];

	(void)c;
	while (p < end) {
		const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		int len = app->at_start ? snprintf(num, sizeof(num), "%6lu\t",
		    ++app->line) : 0;

		/* A failed send closed stdout, and on_out_close stdin. */
		if ((len && wf_conn_send(app->out, num, (size_t)len) < 0) ||
		    wf_conn_send(app->out, p, n) < 0)
			return;
		app->at_start = nl != NULL;
		p += n;
	}
	wf_buf_consume(in, wf_buf_len(in));
}

/* stdout is behind: stop reading stdin until it has drained. */
static void
on_out_high(wf_conn *c, size_t queued, void *arg)
{
	(void)c;
	(void)queued;
	wf_conn_pause(((struct app *)arg)->in);
}

static void
on_out_drain(wf_conn *c, void *arg)
{
	(void)c;
	wf_conn_resume(((struct app *)arg)->in);
}

/* The input ended (or failed): flush stdout, then everything is closed. */
static void
on_in_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	struct app *app = (struct app *)arg;

	(void)c;
	app->in = NULL;
	if (why == WF_CLOSE_ERROR) {
		fprintf(stderr, "lines: stdin: %s\n", strerror(-err));
		app->status = 1;
	}
	if (app->out)
		wf_conn_close(app->out, 60000);
}

static void
on_out_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	struct app *app = (struct app *)arg;

	(void)c;
	app->out = NULL;
	if (why != WF_CLOSE_LOCAL) {
		fprintf(stderr, "lines: stdout: %s\n", strerror(-err));
		app->status = 1;
		if (app->in)
			wf_conn_abort(app->in); /* no one to write to */
	}
}

int
main(void)
{
	static const struct wf_conn_cbs in_cbs = { on_input, NULL, NULL,
	    on_in_close, NULL };
	static const struct wf_conn_cbs out_cbs = { on_input, on_out_high,
	    on_out_drain, on_out_close, NULL };
	struct app app;
	wf_loop *loop;
	int fl0 = fcntl(0, F_GETFL), fl1 = fcntl(1, F_GETFL), in, out, rc;

	memset(&app, 0, sizeof(app));
	app.at_start = 1;
	/* A reader of stdout that goes away is an EPIPE, not a death. */
	signal(SIGPIPE, SIG_IGN);
	/* Their own descriptors: closing them leaves 0 and 1 in place. */
	if ((in = fcntl(0, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (out = fcntl(1, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (rc = wf_loop_new(&loop)) < 0) {
		perror("lines");
		return 1;
	}
	if ((rc = wf_conn_adopt(loop, &app.in, in, &in_cbs, &app)) < 0 ||
	    (rc = wf_conn_adopt(loop, &app.out, out, &out_cbs, &app)) < 0) {
		fprintf(stderr, "lines: %s\n", strerror(-rc));
		return 1;
	}
	wf_conn_pause(app.out); /* a terminal is readable too: not this one */
	while (app.in || app.out)
		if (wf_loop_run_once(loop, -1) < 0)
			break;
	wf_loop_free(loop);
	/* O_NONBLOCK was set on files the shell shares (a terminal). */
	fcntl(0, F_SETFL, fl0);
	fcntl(1, F_SETFL, fl1);
	return app.status;
}
