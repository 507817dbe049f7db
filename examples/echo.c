/*
 * Raw echo server on libweft: every byte comes back.
 *
 *   echo [--port N] [--threads N] [--reuseport]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	(void)arg;
	if (wf_conn_send(c, wf_buf_peek(in), wf_buf_len(in)) < 0)
		wf_conn_abort(c);
	else
		wf_buf_consume(in, wf_buf_len(in));
}

static void
on_signal(wf_signal *s, const struct signalfd_siginfo *si, void *loop)
{
	(void)s;
	(void)si;
	wf_loop_stop(loop);
}

int
main(int argc, char **argv)
{
	static const struct wf_conn_cbs cbs = { .on_data = on_data };
	struct wf_server_opts o = { .threads = 1, .cbs = &cbs };
	const char *port = "7000";
	char spec[64];
	struct wf_addr a;
	wf_server *srv;
	wf_signal *sig;
	wf_loop *loop;
	sigset_t set;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			o.threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reuseport"))
			o.reuseport = 1;
		else {
			fprintf(stderr, "usage: echo [--port N] [--threads N] [--reuseport]\n");
			return 2;
		}
	}
	/* Block before any thread starts: only the signalfd sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	snprintf(spec, sizeof(spec), "127.0.0.1:%s", port);
	if ((rc = wf_addr_parse(&a, spec)) < 0 ||
	    (rc = wf_server_start(&srv, &o)) < 0 ||
	    (rc = wf_server_listen(srv, &a)) < 0) {
		fprintf(stderr, "echo: %s: %s\n", spec, strerror(-rc));
		return 1;
	}
	wf_loop_new(&loop);
	wf_signal_start(loop, &sig, &set, on_signal, loop);
	wf_server_addr(srv, 0, &a); /* port 0: the kernel's choice */
	printf("echo: listening on %s with %u threads\n",
	    wf_addr_format(&a, spec, sizeof(spec)), o.threads);
	fflush(stdout);
	wf_loop_run(loop);
	wf_server_free(srv);
	wf_signal_stop(sig);
	wf_loop_free(loop);
	return 0;
}
