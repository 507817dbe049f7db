/*
 * weftd's log: a sink that stops reading never blocks a caller; what could
 * not be kept is counted and reported in its place; rate limits.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>

#include "testutil.h"
#include "log.h"

static int saved_stderr = -1;

/* stderr into a pipe of one page that nobody reads yet; its read end. */
static int
stderr_to_pipe(void)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	fflush(stderr);
	saved_stderr = dup(2);
	assert_true(dup2(p[1], 2) == 2);
	close(p[1]);
	return p[0];
}

static void
stderr_back(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
}

/* Read fd until text holds want, or the writer falls silent. */
static char *
read_until(int fd, char *text, size_t cap, size_t *len, const char *want)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	int i;

	for (i = 0; i < 1000 && strstr(text, want) == NULL; i++) {
		/* 200 ms without a byte: the writer has nothing more. */
		if (poll(&p, 1, 200) <= 0)
			break;
		if (cap - 1 - *len < 512) { /* keep the tail: the end counts */
			memmove(text, text + *len / 2, *len - *len / 2);
			*len -= *len / 2;
		}
		if ((n = read(fd, text + *len, cap - 1 - *len)) > 0)
			*len += (size_t)n;
		text[*len] = '\0';
	}
	return text;
}

static void
a_stuck_sink_drops_counts_and_reports_in_order(void **state)
{
	static char text[1 << 20];
	char *note, *after, *last = NULL;
	unsigned long lost, n, reported = 0;
	size_t len = 0;
	int fd, i;

	(void)state;
	fd = stderr_to_pipe();
	assert_int_equal(weftd_log_open(1, LOG_DAEMON, LOG_INFO), 0);
	/* 20,000 lines of 200 bytes: far more than the ring and the pipe. */
	for (i = 0; i < 20000; i++)
		weftd_log(LOG_INFO, "line %05d %0190d", i, 0);
	lost = weftd_log_lost();
	assert_true(lost > 10000); /* and we got here: no call waited */
	/* The sink flows again: all that was kept comes out... */
	read_until(fd, text, sizeof(text), &len, "\x01never");
	/* ... and the next line finds room, after the count. */
	weftd_log(LOG_WARNING, "after the flood");
	read_until(fd, text, sizeof(text), &len, "after the flood");
	/*
	 * Each drop is reported where it happened: as many notes as the
	 * sink took gulps, their counts adding up, the last before "after".
	 */
	after = strstr(text, "after the flood");
	assert_non_null(after);
	for (note = text; (note = strstr(note, "log: ")) != NULL; note++) {
		if (sscanf(note, "log: %lu messages dropped", &n) == 1)
			reported += n;
		last = note;
	}
	assert_int_equal(reported, lost);
	assert_true(last != NULL && last < after);
	assert_int_equal(weftd_log_close(), 0);
	stderr_back();
	close(fd);
}

static void
rate_limit_keeps_a_burst_then_one_summary(void **state)
{
	struct weftd_rl rl = { .what = "test lines", .burst = 3,
	    .interval_ms = 1000, .start = 5000 };
	static char text[4096];
	size_t len = 0;
	int fd, i, allowed = 0;

	(void)state;
	fd = stderr_to_pipe();
	for (i = 0; i < 10; i++)
		allowed += weftd_rl_allow(&rl, 5000 + (uint64_t)i);
	assert_int_equal(allowed, 3);
	assert_int_equal(rl.suppressed, 7);
	/* Not due yet: nothing said. A new interval: the summary, once. */
	weftd_rl_flush(&rl, 5999, false);
	assert_int_equal(rl.suppressed, 7);
	assert_true(weftd_rl_allow(&rl, 6000));
	read_until(fd, text, sizeof(text), &len, "suppressed");
	assert_non_null(strstr(text, "test lines: 7 more lines suppressed in "
	    "1000 ms"));
	assert_int_equal(rl.suppressed, 0);
	/* force: said now, as when the source goes away. */
	for (i = 0; i < 5; i++)
		(void)weftd_rl_allow(&rl, 6100);
	weftd_rl_flush(&rl, 6200, true);
	read_until(fd, text, sizeof(text), &len, "3 more lines");
	if (strstr(text, "test lines: 3 more lines suppressed in 200 ms") == NULL)
		fail_msg("the log said: %s", text);
	stderr_back();
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(rate_limit_keeps_a_burst_then_one_summary),
		CASE(a_stuck_sink_drops_counts_and_reports_in_order),
	};

	RUN("log", cases);
}
