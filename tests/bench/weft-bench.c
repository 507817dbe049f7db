/*
 * weft-bench: a load client on libweft. Each connection keeps `depth`
 * requests in flight (raw bytes, or weft frames with --framed) and refills
 * as responses complete; latency is measured per request.
 *
 *   weft-bench [--host H] --port P [--conns N] [--size B] [--depth D]
 *              [--duration S] [--framed]
 *
 * The last line is for scripts:
 *   RESULT rps= mbps= p50_us= p99_us= p999_us= requests= errors=
 *
 * With --framed, an answer whose status is not 0 is an error: counted
 * apart, and in neither requests/s nor the latencies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <weft/weft.h>

#define BUCKETS 100000 /* 1 us each; slower requests land in the last */

struct client {
	wf_conn *c;
	uint64_t *sent; /* ring of send times, ns */
	unsigned head, inflight;
	size_t partial; /* raw mode: bytes of the current response so seen */
};

static struct {
	unsigned conns, depth, connected;
	size_t size;
	int framed, measuring, done;
	double duration;
	char *payload;
	uint64_t requests, errors, hist[BUCKETS + 1];
	wf_loop *loop;
	struct client *cl;
} B = { .conns = 100, .depth = 1, .size = 64, .duration = 5 };

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Queue n more requests: one send for all of them. */
static void
fire(struct client *k, unsigned n)
{
	unsigned char hdr[WF_FRAME_HDR];
	struct iovec iov[64];
	uint64_t t = now_ns();
	unsigned i, v = 0;

	for (i = 0; i < n; i++) {
		k->sent[(k->head + k->inflight++) % B.depth] = t;
		if (B.framed) {
			iov[v].iov_base = hdr;
			iov[v++].iov_len = sizeof(hdr);
		}
		iov[v].iov_base = B.payload;
		iov[v++].iov_len = B.size;
		if (v + 2 > 64 || i + 1 == n) {
			if (B.framed)
				wf_frame_header(hdr, (uint32_t)B.size, 0, 0);
			if (wf_conn_sendv(k->c, iov, (int)v) < 0) {
				fprintf(stderr, "weft-bench: send failed\n");
				exit(1);
			}
			v = 0;
		}
	}
}

static void
complete(struct client *k, uint64_t t, int ok)
{
	uint64_t us = (t - k->sent[k->head]) / 1000;

	k->head = (k->head + 1) % B.depth;
	k->inflight--;
	if (B.measuring && !ok) {
		B.errors++;
	} else if (B.measuring) {
		B.hist[us < BUCKETS ? us : BUCKETS]++;
		B.requests++;
	}
}

static void
on_data(wf_conn *c, wf_buf *in, void *arg)
{
	struct client *k = arg;
	struct wf_frame f;
	uint64_t t = now_ns();
	unsigned done = 0;
	int rc;

	(void)c;
	if (B.framed) {
		while ((rc = wf_frame_decode(in, (uint32_t)B.size, &f)) == 1) {
			wf_buf_consume(in, WF_FRAME_HDR + f.len);
			complete(k, t, f.status == 0);
			done++;
		}
		if (rc < 0) {
			fprintf(stderr, "weft-bench: bad frame from server\n");
			exit(1);
		}
	} else {
		size_t n = wf_buf_len(in);

		wf_buf_consume(in, n);
		for (k->partial += n; k->partial >= B.size; k->partial -= B.size) {
			complete(k, t, 1);
			done++;
		}
	}
	if (!B.done && done)
		fire(k, done);
}

static void
on_close(wf_conn *c, enum wf_close_reason why, int err, void *arg)
{
	(void)c;
	(void)arg;
	if (!B.done) {
		fprintf(stderr, "weft-bench: server closed a connection (%d, %s)\n",
		    why, strerror(-err));
		exit(1);
	}
}

static const struct wf_conn_cbs cbs = { .on_data = on_data,
	.on_close = on_close };

static void
on_end(wf_timer *t, void *arg)
{
	(void)t;
	(void)arg;
	B.done = 1;
	wf_loop_stop(B.loop);
}

static void
on_connect(wf_connect *req, int fd, int err, void *arg)
{
	struct client *k = arg;
	unsigned i;

	(void)req;
	if (fd < 0 || wf_conn_adopt(B.loop, &k->c, fd, &cbs, k) < 0) {
		fprintf(stderr, "weft-bench: connect: %s\n", strerror(-err));
		exit(1);
	}
	wf_conn_set_limits(k->c, 0, 64u << 20, 256u << 20);
	if (++B.connected < B.conns)
		return;
	/* Everyone is connected: go. */
	B.measuring = 1;
	for (i = 0; i < B.conns; i++)
		fire(&B.cl[i], B.depth);
}

static uint64_t
percentile(double p)
{
	uint64_t want = (uint64_t)((double)B.requests * p), seen = 0;
	size_t i;

	for (i = 0; i <= BUCKETS; i++)
		if ((seen += B.hist[i]) > want)
			return i;
	return BUCKETS;
}

int
main(int argc, char **argv)
{
	const char *host = "127.0.0.1", *port = NULL;
	struct rlimit rl;
	struct wf_addr a;
	wf_timer *end;
	char spec[128];
	uint64_t t0;
	double secs, rps;
	unsigned i;

	for (i = 1; i < (unsigned)argc; i++) {
		const char *o = argv[i], *v = i + 1 < (unsigned)argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--framed")) {
			B.framed = 1;
			continue;
		}
		if (v == NULL)
			goto usage;
		i++;
		if (!strcmp(o, "--host"))
			host = v;
		else if (!strcmp(o, "--port"))
			port = v;
		else if (!strcmp(o, "--conns"))
			B.conns = (unsigned)atoi(v);
		else if (!strcmp(o, "--size"))
			B.size = (size_t)atol(v);
		else if (!strcmp(o, "--depth"))
			B.depth = (unsigned)atoi(v);
		else if (!strcmp(o, "--duration"))
			B.duration = atof(v);
		else
			goto usage;
	}
	if (port == NULL || !B.conns || !B.depth || !B.size || B.duration <= 0)
		goto usage;
	snprintf(spec, sizeof(spec), strchr(host, ':') ? "[%s]:%s" : "%s:%s",
	    host, port);
	if (wf_addr_parse(&a, spec) < 0)
		goto usage;
	/* A thousand connections need a thousand fds. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	B.payload = malloc(B.size);
	memset(B.payload, 'w', B.size);
	B.cl = calloc(B.conns, sizeof(*B.cl));
	wf_loop_new(&B.loop);
	for (i = 0; i < B.conns; i++) {
		B.cl[i].sent = calloc(B.depth, sizeof(uint64_t));
		if (wf_connect_start(B.loop, NULL, &a, NULL, on_connect,
		    &B.cl[i]) < 0)
			return 1;
	}
	while (B.connected < B.conns)
		wf_loop_run_once(B.loop, -1);
	t0 = now_ns();
	wf_timer_new(B.loop, &end, on_end, NULL);
	wf_timer_start(end, (uint64_t)(B.duration * 1000), 0);
	wf_loop_run(B.loop);
	secs = (double)(now_ns() - t0) / 1e9;
	rps = (double)B.requests / secs;
	printf("weft-bench: %u conns, %zu B, depth %u, %.1f s, %s\n", B.conns,
	    B.size, B.depth, secs, B.framed ? "framed" : "raw");
	printf("requests/s: %.0f   MB/s: %.1f each way\n", rps,
	    rps * (double)B.size / 1e6);
	printf("latency us: p50 %llu  p99 %llu  p99.9 %llu\n",
	    (unsigned long long)percentile(0.50),
	    (unsigned long long)percentile(0.99),
	    (unsigned long long)percentile(0.999));
	if (B.errors)
		printf("errors: %llu answers with a status other than 0\n",
		    (unsigned long long)B.errors);
	printf("RESULT rps=%.1f mbps=%.2f p50_us=%llu p99_us=%llu p999_us=%llu "
	    "requests=%llu errors=%llu\n", rps, rps * (double)B.size / 1e6,
	    (unsigned long long)percentile(0.50),
	    (unsigned long long)percentile(0.99),
	    (unsigned long long)percentile(0.999),
	    (unsigned long long)B.requests, (unsigned long long)B.errors);
	return 0;
usage:
	fprintf(stderr, "usage: weft-bench [--host H] --port P [--conns N] "
	    "[--size B] [--depth D] [--duration S] [--framed]\n");
	return 2;
}
