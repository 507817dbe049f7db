/*
 * Raw echo server on libweft: every byte comes back. Idle connections are
 * closed after --idle seconds; SIGINT or SIGTERM stops accepting and lets
 * every connection take what it is owed (up to 5 s), a second signal ends
 * it at once. --threads 0 runs the server on the main loop itself: one
 * thread in all.
 *
 *   echo [--port N] [--threads N] [--reuseport] [--idle SECONDS]
 *
 * Written in the common subset of C and C++: the tests build it as both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

struct app {
	wf_loop *loop; /* the main thread's: signals, and the server at -t 0 */
	wf_server *srv;
	int stopping;
};

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	(void)arg;
	if (wf_conn_send(c, wf_buf_peek(in), wf_buf_len(in)) < 0)
		wf_conn_abort(c);
	else
		wf_buf_consume(in, wf_buf_len(in));
}

/* No connection is left: on a server thread, or on the main loop. */
static void
on_done(wf_server *s, void *arg)
{
	(void)s;
	wf_loop_stop(((struct app *)arg)->loop); /* any thread may */
}

static void
on_signal(wf_signal *s, const struct signalfd_siginfo *si, void *arg)
{
	struct app *app = (struct app *)arg;
	int rc;

	(void)s;
	(void)si;
	if (app->stopping++) {
		wf_loop_stop(app->loop);
		return;
	}
	if ((rc = wf_server_shutdown(app->srv, 5000, on_done, app)) < 0) {
		fprintf(stderr, "echo: shutdown: %s\n", strerror(-rc));
		wf_loop_stop(app->loop);
	}
}

int
main(int argc, char **argv)
{
	static const struct wf_conn_cbs cbs = { on_data, NULL, NULL, NULL,
	    NULL };
	struct wf_server_opts o;
	const char *port = "7000";
	struct app app;
	char spec[64];
	struct wf_addr a;
	wf_signal *sig;
	sigset_t set;
	int i, rc;

	memset(&o, 0, sizeof(o));
	memset(&app, 0, sizeof(app));
	o.size = sizeof(o);
	o.threads = 1;
	o.cbs = &cbs;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--port") && i + 1 < argc)
			port = argv[++i];
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			o.threads = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--reuseport"))
			o.reuseport = 1;
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			o.idle_timeout_ms = 1000 * strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: echo [--port N] [--threads N] "
			    "[--reuseport] [--idle SECONDS]\n");
			return 2;
		}
	}
	/* Block before any thread starts: only the signalfd sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	snprintf(spec, sizeof(spec), "127.0.0.1:%s", port);
	if ((rc = wf_loop_new(&app.loop)) < 0 ||
	    (rc = wf_addr_parse(&a, spec)) < 0)
		goto fail;
	if (o.threads == 0)
		o.loop = app.loop;
	if ((rc = wf_server_start(&app.srv, &o)) < 0 ||
	    (rc = wf_server_listen(app.srv, &a)) < 0 ||
	    (rc = wf_signal_start(app.loop, &sig, &set, on_signal, &app)) < 0 ||
	    (rc = wf_server_addr(app.srv, 0, &a)) < 0) /* port 0: the kernel's */
		goto fail;
	printf("echo: listening on %s with %u threads\n",
	    wf_addr_format(&a, spec, sizeof(spec)), o.threads);
	fflush(stdout);
	rc = wf_loop_run(app.loop);
	wf_server_free(app.srv);
	wf_signal_stop(sig);
	wf_loop_free(app.loop);
	return rc < 0;
fail:
	fprintf(stderr, "echo: %s: %s\n", spec, strerror(-rc));
	return 1;
}
