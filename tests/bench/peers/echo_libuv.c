/*
 * The echo server as a libuv user writes it, after the echo example in
 * libuv's guide: alloc_cb mallocs suggested_size for every read, the
 * filled buffer goes out with uv_write and is freed in the write
 * callback. That per-read malloc is what real libuv code pays, so it
 * stays. Single thread.
 *
 *   echo_libuv --port N
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <uv.h>

struct write_req {
	uv_write_t	req;	/* first, so the uv_write_t * is ours */
	uv_buf_t	buf;
};

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base != NULL ? suggested : 0;
}

static void
close_cb(uv_handle_t *h)
{
	free(h);
}

static void
write_cb(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;

	/* A failed write surfaces again as a read error, which closes. */
	(void)status;
	free(wr->buf.base);
	free(wr);
}

static void
read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct write_req *wr;

	if (nread > 0) {
		if ((wr = malloc(sizeof(*wr))) != NULL) {
			wr->buf = uv_buf_init(buf->base, (unsigned int)nread);
			if (uv_write(&wr->req, s, &wr->buf, 1, write_cb) == 0)
				return;
			free(wr);
		}
		nread = UV_ENOMEM;
	}
	/* nread == 0 is EAGAIN: nothing to do but give the buffer back. */
	free(buf->base);
	if (nread < 0 && !uv_is_closing((uv_handle_t *)s))
		uv_close((uv_handle_t *)s, close_cb);
}

static void
connection_cb(uv_stream_t *server, int status)
{
	uv_tcp_t *client;

	if (status < 0) {
		fprintf(stderr, "echo_libuv: accept: %s\n", uv_strerror(status));
		return;
	}
	if ((client = malloc(sizeof(*client))) == NULL)
		return;
	uv_tcp_init(server->loop, client);
	if (uv_accept(server, (uv_stream_t *)client) != 0) {
		uv_close((uv_handle_t *)client, close_cb);
		return;
	}
	uv_tcp_nodelay(client, 1);
	uv_read_start((uv_stream_t *)client, alloc_cb, read_cb);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	uv_loop_t *loop = uv_default_loop();
	uv_tcp_t server;
	int rc;

	if (argc != 3 || strcmp(argv[1], "--port") != 0) {
		fprintf(stderr, "usage: echo_libuv --port N\n");
		return 2;
	}
	/* libuv writes with write(); a reset peer must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	uv_ip4_addr("127.0.0.1", atoi(argv[2]), &sin);
	uv_tcp_init(loop, &server);
	if ((rc = uv_tcp_bind(&server, (struct sockaddr *)&sin, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&server, SOMAXCONN,
	    connection_cb)) != 0) {
		fprintf(stderr, "echo_libuv: listen(127.0.0.1:%s): %s\n",
		    argv[2], uv_strerror(rc));
		return 1;
	}
	return uv_run(loop, UV_RUN_DEFAULT);
}
