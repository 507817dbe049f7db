/*
 * weft-cat: send requests to a weft server and print the responses.
 *
 *   weft-cat [-a] [-w SECONDS] ADDRESS
 *
 * ADDRESS is HOST:PORT, [IPV6]:PORT or unix:/path. Each line of standard
 * input (without its newline) is one request, and each response is printed
 * on a line of its own; with -a all of standard input is one request and
 * the response is printed as is. A response with a non-zero status goes to
 * standard error as "weft-cat: status N: payload" and makes the exit status
 * 1; a connection or protocol failure exits 2.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <weft/weft.h>

#define MAX_RESPONSE (64u << 20)

static int sock = -1;

static void
die(const char *what, int err)
{
	fprintf(stderr, "weft-cat: %s: %s\n", what, strerror(err));
	exit(2);
}

/* A clean end of stream is the server's choice, not a reset. */
static void
closed(const wf_buf *in)
{
	fprintf(stderr, "weft-cat: the server closed the connection %s\n",
	    wf_buf_len(in) ? "in the middle of a response" :
	    "before answering");
	exit(2);
}

/* b holds the payload: put the header in its prepend room, write it all. */
static void
send_request(wf_buf *b)
{
	unsigned char hdr[WF_FRAME_HDR];
	ssize_t n;

	if (wf_buf_len(b) > UINT32_MAX)
		die("request", EMSGSIZE);
	wf_frame_header(hdr, (uint32_t)wf_buf_len(b), 0, 0);
	if (wf_buf_prepend(b, hdr, sizeof(hdr)) < 0)
		die("request", ENOMEM);
	while (wf_buf_len(b))
		if ((n = wf_buf_write_fd(b, sock)) < 0)
			die("write", (int)-n);
}

/* Read one response; print it; 1 if its status says failure. */
static int
read_response(wf_buf *in, int line_mode)
{
	struct wf_frame f;
	ssize_t n;
	int rc;

	while ((rc = wf_frame_decode(in, MAX_RESPONSE, &f)) == 0) {
		n = wf_buf_read_fd(in, sock, MAX_RESPONSE + WF_FRAME_HDR);
		if (n == 0)
			closed(in);
		if (n < 0)
			die("read", n == -EAGAIN ? ETIMEDOUT : (int)-n);
	}
	if (rc < 0)
		die("response", -rc);
	if (f.status) {
		fprintf(stderr, "weft-cat: status %u: %.*s\n", f.status,
		    (int)f.len, f.payload);
	} else {
		fwrite(f.payload, 1, f.len, stdout);
		if (line_mode)
			putchar('\n');
		fflush(stdout);
	}
	wf_buf_consume(in, WF_FRAME_HDR + f.len);
	return f.status != 0;
}

int
main(int argc, char **argv)
{
	struct timeval tv = { 30, 0 };
	wf_buf in = WF_BUF_INIT, all = WF_BUF_INIT;
	int opt, whole = 0, failed = 0, rc;
	struct wf_addr a;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((opt = getopt(argc, argv, "aw:")) != -1) {
		if (opt == 'a')
			whole = 1;
		else if (opt == 'w')
			tv.tv_sec = atol(optarg);
		else
			goto usage;
	}
	if (optind + 1 != argc)
		goto usage;
	/* A server that closes on us is exit status 2, not a silent 141. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = wf_addr_parse(&a, argv[optind])) < 0) {
		fprintf(stderr, "weft-cat: %s: not an address (HOST:PORT, "
		    "[IPV6]:PORT or unix:/path)\n", argv[optind]);
		return 2;
	}
	sock = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket", errno);
	/* A server that never answers must not hang a script. */
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(sock, (struct sockaddr *)&a.ss, a.len) < 0)
		die(argv[optind], errno);

	if (whole) {
		while ((len = wf_buf_read_fd(&all, 0, MAX_RESPONSE)) > 0)
			;
		if (len < 0)
			die("stdin", (int)-len);
		send_request(&all);
		failed = read_response(&in, 0);
	} else {
		while ((len = getline(&line, &cap, stdin)) >= 0) {
			if (len > 0 && line[len - 1] == '\n')
				len--;
			if (wf_buf_append(&all, line, (size_t)len) < 0)
				die("request", ENOMEM);
			send_request(&all);
			failed |= read_response(&in, 1);
		}
	}
	free(line);
	wf_buf_reset(&in, 1);
	wf_buf_reset(&all, 1);
	close(sock);
	return failed;
usage:
	fprintf(stderr, "usage: weft-cat [-a] [-w SECONDS] ADDRESS\n");
	return 2;
}
