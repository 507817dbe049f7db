/*
 * UDP echo server on libweft: every datagram goes back to its sender.
 * Datagrams that do not fit the socket buffer on the way back are dropped
 * and counted, as UDP has it; SIGINT or SIGTERM stops it.
 *
 *   udp_echo [--port N]
 *
 * Written in the common subset of C and C++: the tests build it as both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

static unsigned long dropped;

static void
on_datagram(wf_udp *u, const void *data, size_t len,
    const struct wf_addr *peer, int trunc, void *arg)
{
	(void)arg;
	if (trunc || wf_udp_send(u, data, len, peer) < 0)
		dropped++;
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
	const char *port = "7000";
	struct wf_udp_opts o;
	char spec[64];
	struct wf_addr a;
	wf_signal *sig;
	wf_loop *loop;
	wf_udp *u;
	sigset_t set;
	int rc;

	if (argc == 3 && !strcmp(argv[1], "--port"))
		port = argv[2];
	else if (argc != 1) {
		fprintf(stderr, "usage: udp_echo [--port N]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.max_datagram = 1500; /* 16 slots, 24 kB; longer ones are cut */
	snprintf(spec, sizeof(spec), "127.0.0.1:%s", port);
	if ((rc = wf_addr_parse(&a, spec)) < 0 ||
	    (rc = wf_loop_new(&loop)) < 0 ||
	    (rc = wf_udp_open(loop, &u, &a, &o, on_datagram, NULL)) < 0 ||
	    (rc = wf_signal_start(loop, &sig, &set, on_signal, loop)) < 0 ||
	    (rc = wf_udp_addr(u, &a)) < 0) {
		fprintf(stderr, "udp_echo: %s: %s\n", spec, strerror(-rc));
		return 1;
	}
	printf("udp_echo: listening on %s\n", wf_addr_format(&a, spec,
	    sizeof(spec)));
	fflush(stdout);
	rc = wf_loop_run(loop);
	printf("udp_echo: %lu dropped\n", dropped);
	wf_udp_close(u);
	wf_signal_stop(sig);
	wf_loop_free(loop);
	return rc < 0;
}
