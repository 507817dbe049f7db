/*
 * Framed echo server on libweft: each weft frame comes back with its status.
 * A malformed or oversize frame closes only its own connection.
 *
 *   frame_echo [--port N] [--threads N] [--max-frame BYTES]
 *
 * Written in the common subset of C and C++: the tests build it as both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

static uint32_t max_frame = 1 << 20;

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	struct wf_frame f;
	int rc;

	(void)arg;
	while ((rc = wf_frame_decode(in, max_frame, &f)) == 1) {
		if (wf_conn_send_frame(c, f.status, 0, f.payload, f.len) < 0) {
			wf_conn_abort(c);
			return;
		}
		wf_buf_consume(in, WF_FRAME_HDR + f.len);
	}
	if (rc < 0)
		wf_conn_fail(c, WF_CLOSE_LIMIT, rc);
}

static void
on_signal(wf_signal *s, const struct signalfd_siginfo *si, void *loop)
{
	(void)s;
	(void)si;
	wf_loop_stop((wf_loop *)loop);
}

int
main(int argc, char **argv)
{
	static const struct wf_conn_cbs cbs = { on_data, NULL, NULL, NULL,
	    NULL };
	struct wf_server_opts o;
	const char *port = "7000";
	char spec[64];
	struct wf_addr a;
	wf_server *srv;
	wf_signal *sig;
	wf_loop *loop;
	sigset_t set;
	int i, rc;

	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.threads = 1;
	o.cbs = &cbs;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			o.threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--max-frame") && i + 1 < argc)
			max_frame = (uint32_t)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: frame_echo [--port N] [--threads N] "
			    "[--max-frame BYTES]\n");
			return 2;
		}
	}
	o.max_in = (size_t)max_frame + WF_FRAME_HDR; /* one whole frame */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	snprintf(spec, sizeof(spec), "127.0.0.1:%s", port);
	if ((rc = wf_addr_parse(&a, spec)) < 0 ||
	    (rc = wf_server_start(&srv, &o)) < 0 ||
	    (rc = wf_server_listen(srv, &a)) < 0 ||
	    (rc = wf_loop_new(&loop)) < 0 ||
	    (rc = wf_signal_start(loop, &sig, &set, on_signal, loop)) < 0 ||
	    (rc = wf_server_addr(srv, 0, &a)) < 0) { /* port 0: the kernel's */
		fprintf(stderr, "frame_echo: %s: %s\n", spec, strerror(-rc));
		return 1;
	}
	printf("frame_echo: listening on %s with %u threads\n",
	    wf_addr_format(&a, spec, sizeof(spec)), o.threads);
	fflush(stdout);
	wf_loop_run(loop);
	wf_server_free(srv);
	wf_signal_stop(sig);
	wf_loop_free(loop);
	return 0;
}
