/*
 * A client that connects by host name: the pattern for name resolution
 * with libweft. The library takes numeric addresses only, because
 * getaddrinfo() blocks; so a thread of the program's own resolves, and
 * wf_loop_post() hands the answer to the loop, which connects (2 s timeout,
 * 3 retries with backoff), sends a line, prints the reply and exits.
 *
 *   resolve HOST PORT [MESSAGE]
 *
 * Written in the common subset of C and C++: the tests build it as both.
 */
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/weft.h>

struct job {
	const char *host, *port, *msg;
	wf_loop *loop;
	struct wf_addr addr;
	int err; /* getaddrinfo()'s, or 0 */
	wf_conn *conn;
	size_t got;
	int status;
};

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	struct job *j = (struct job *)arg;

	fwrite(wf_buf_peek(in), 1, wf_buf_len(in), stdout);
	j->got += wf_buf_len(in);
	wf_buf_consume(in, wf_buf_len(in));
	if (j->got >= strlen(j->msg)) /* the echo is back */
		wf_conn_close(c, 0);
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	struct job *j = (struct job *)arg;

	(void)c;
	if (why != WF_CLOSE_LOCAL && why != WF_CLOSE_PEER) {
		fprintf(stderr, "resolve: connection: %s\n", strerror(-err));
		j->status = 1;
	}
	wf_loop_stop(j->loop);
}

static const struct wf_conn_cbs cbs = { on_data, NULL, NULL, on_close, NULL };

static void
on_connect(wf_connect *req, int fd, int err, void *arg)
{
	struct job *j = (struct job *)arg;
	int rc;

	(void)req;
	if (fd < 0) {
		fprintf(stderr, "resolve: connect: %s\n", strerror(-err));
		j->status = 1;
		wf_loop_stop(j->loop);
		return;
	}
	if ((rc = wf_conn_adopt(j->loop, &j->conn, fd, &cbs, j)) < 0 ||
	    (rc = wf_conn_send(j->conn, j->msg, strlen(j->msg))) < 0) {
		fprintf(stderr, "resolve: %s\n", strerror(-rc));
		j->status = 1;
		wf_loop_stop(j->loop);
	}
}

/* On the loop thread, with the resolver's answer. */
static void
resolved(void *arg)
{
	struct job *j = (struct job *)arg;
	struct wf_connect_opts o;
	int rc;

	if (j->err) {
		fprintf(stderr, "resolve: %s: %s\n", j->host, gai_strerror(j->err));
		j->status = 1;
		wf_loop_stop(j->loop);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.size = sizeof(o);
	o.timeout_ms = 2000;
	o.retries = 3;
	if ((rc = wf_connect_start(j->loop, NULL, &j->addr, &o, on_connect,
	    j)) < 0) {
		fprintf(stderr, "resolve: connect: %s\n", strerror(-rc));
		j->status = 1;
		wf_loop_stop(j->loop);
	}
}

/* The resolver thread: may block as long as it likes, the loop does not. */
static void *
resolver(void *arg)
{
	struct job *j = (struct job *)arg;
	struct addrinfo hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((j->err = getaddrinfo(j->host, j->port, &hints, &res)) == 0) {
		memcpy(&j->addr.ss, res->ai_addr, res->ai_addrlen);
		j->addr.len = res->ai_addrlen;
		freeaddrinfo(res);
	}
	if (wf_loop_post(j->loop, resolved, j) < 0)
		abort(); /* the loop outlives this thread here */
	return NULL;
}

int
main(int argc, char **argv)
{
	struct job j;
	pthread_t t;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: resolve HOST PORT [MESSAGE]\n");
		return 2;
	}
	memset(&j, 0, sizeof(j));
	j.host = argv[1];
	j.port = argv[2];
	j.msg = argc > 3 ? argv[3] : "hello\n";
	if (wf_loop_new(&j.loop) < 0 ||
	    pthread_create(&t, NULL, resolver, &j) != 0) {
		fprintf(stderr, "resolve: out of resources\n");
		return 1;
	}
	wf_loop_run(j.loop);
	pthread_join(t, NULL);
	wf_loop_free(j.loop);
	return j.status;
}
