/* Handler processes get exactly what the issue says, and nothing else. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"
#include "spawn.h"
#include "weft/frame.h"

/* The echo handler of this build tree (TEST_HANDLER, from the Makefile). */
static char handler[PATH_MAX];

static void
read_file(const char *path, char *buf, size_t len, size_t *got)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	if (got)
		*got = (size_t)n;
	close(fd);
}

static void
handler_answers_on_fd3(void **state)
{
	char *argv[] = { handler, NULL };
	unsigned char frame[WF_FRAME_HDR + 2];
	struct weftd_child c;
	char err[256];
	int st;

	(void)state;
	assert_int_equal(weftd_spawn(argv, NULL, 0, NULL, &c, err, sizeof(err)), 0);
	wf_frame_header(frame, 2, 0, 0);
	memcpy(frame + WF_FRAME_HDR, "hi", 2);
	assert_int_equal(write(c.sock, frame, sizeof(frame)), (ssize_t)sizeof(frame));
	/* The SDK's hello (tags), then the answer. */
	memset(frame, 0, sizeof(frame));
	assert_int_equal(recv(c.sock, frame, WF_FRAME_HDR, MSG_WAITALL),
	    WF_FRAME_HDR);
	assert_int_equal(frame[6] << 8 | frame[7], WF_TAGS_HELLO);
	assert_int_equal(recv(c.sock, frame, sizeof(frame), MSG_WAITALL),
	    (ssize_t)sizeof(frame));
	assert_memory_equal(frame + WF_FRAME_HDR, "hi", 2);
	close(c.sock); /* end of file: the handler exits 0 */
	assert_int_equal(waitpid(c.pid, &st, 0), c.pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	close(c.out);
}

/*
 * Nothing blocked, nothing ignored. Signals 32 and 33 are glibc's own
 * (thread cancellation, setxid): its sigaction refuses them, so an ignore
 * inherited from whatever started the tests cannot be undone, and glibc
 * installs its handlers for them when it needs them. They are left out.
 */
static int
settled_signals(const char *status)
{
	const unsigned long long glibc_own = 3ull << 31; /* bits of 32, 33 */
	const char *ign = strstr(status, "SigIgn:\t");

	if (strstr(status, "SigBlk:\t0000000000000000") == NULL || ign == NULL)
		return 0;
	return (strtoull(ign + 8, NULL, 16) & ~glibc_own) == 0;
}

/*
 * Inspected from outside, on an uninstrumented program (a sanitizer's
 * runtime in the child would change its own fds).
 */
static void
child_has_fd3_devnull_env_and_nothing_else(void **state)
{
	char *argv[] = { "/bin/sleep", "30", NULL };
	char *env[] = { "A=1", "WEFT_FD=9", NULL };
	struct weftd_child c;
	char err[256], p[64], buf[4096], link[64];
	struct timespec tick = { 0, 10 * 1000000 };
	struct dirent *d;
	sigset_t set;
	size_t n;
	DIR *dir;
	int fds = 0, high = 0, tries, sig_ok, leak = dup(1); /* inheritable */

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGUSR2, SIG_IGN);
	assert_int_equal(weftd_spawn(argv, env, 4096, NULL, &c, err, sizeof(err)), 0);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	signal(SIGUSR2, SIG_DFL);

	/*
	 * weftd_spawn returned, so exec has happened; but right after exec the
	 * program is still in ld.so and setlocale, which open files for a
	 * moment. Wait (bounded) for the settled state, then judge it.
	 */
	for (tries = 0; tries < 500; tries++) {
		fds = 0;
		high = 0;
		snprintf(p, sizeof(p), "/proc/%d/fd", (int)c.pid);
		assert_non_null(dir = opendir(p));
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.')
				continue;
			if (atoi(d->d_name) > 3)
				high++;
			fds++;
		}
		closedir(dir);
		snprintf(p, sizeof(p), "/proc/%d/status", (int)c.pid);
		read_file(p, buf, sizeof(buf), NULL);
		if (fds == 4 && high == 0 && settled_signals(buf))
			break;
		nanosleep(&tick, NULL);
	}
	sig_ok = settled_signals(buf);
	if (!sig_ok)
		fprintf(stderr, "# child %d: %.100s\n", (int)c.pid,
		    strstr(buf, "SigBlk:"));
	assert_int_equal(high, 0);
	assert_int_equal(fds, 4);
	snprintf(p, sizeof(p), "/proc/%d/fd/0", (int)c.pid);
	n = (size_t)readlink(p, link, sizeof(link) - 1);
	link[n] = '\0';
	assert_string_equal(link, "/dev/null");
	snprintf(p, sizeof(p), "/proc/%d/environ", (int)c.pid);
	read_file(p, buf, sizeof(buf), &n);
	assert_int_equal(n, sizeof("WEFT_FD=3\0WEFT_MAX_FRAME=4096\0A=1\0WEFT_FD=9"));
	assert_memory_equal(buf, "WEFT_FD=3\0WEFT_MAX_FRAME=4096\0A=1\0WEFT_FD=9", n);
	kill(c.pid, SIGKILL);
	assert_int_equal(waitpid(c.pid, NULL, 0), c.pid);
	close(c.sock);
	close(c.out);
	close(leak);
	assert_true(sig_ok); /* nothing blocked or ignored across exec */
}

static void
stdout_and_stderr_reach_the_pipe(void **state)
{
	char *argv[] = { "/bin/sh", "-c", "echo to-out; echo to-err >&2", NULL };
	struct weftd_child c;
	char err[256], buf[64];
	size_t got = 0;
	ssize_t n;

	(void)state;
	assert_int_equal(weftd_spawn(argv, NULL, 0, NULL, &c, err, sizeof(err)), 0);
	while ((n = read(c.out, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	assert_string_equal(buf, "to-out\nto-err\n");
	assert_int_equal(waitpid(c.pid, NULL, 0), c.pid);
	close(c.sock);
	close(c.out);
}

static void
exec_failure_is_reported_with_its_cause(void **state)
{
	char *missing[] = { "/nonexistent/handler", NULL };
	char *relative[] = { "handler", NULL };
	struct weftd_child c;
	char err[256];

	(void)state;
	assert_int_equal(weftd_spawn(missing, NULL, 0, NULL, &c, err, sizeof(err)),
	    -ENOENT);
	assert_string_equal(err,
	    "execve(/nonexistent/handler): No such file or directory");
	assert_int_equal(c.pid, -1);
	assert_int_equal(weftd_spawn(relative, NULL, 0, NULL, &c, err, sizeof(err)),
	    -EINVAL);
	/* No zombie left behind by the failed child. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

int
main(void)
{
	const struct CMUnitTest cases[] = {
		CASE(handler_answers_on_fd3),
		CASE(child_has_fd3_devnull_env_and_nothing_else),
		CASE(stdout_and_stderr_reach_the_pipe),
		CASE(exec_failure_is_reported_with_its_cause),
	};

	if (realpath(TEST_HANDLER, handler) == NULL) {
		fprintf(stderr, "test_spawn: %s: %s\n", TEST_HANDLER,
		    strerror(errno));
		return 1;
	}
	RUN("spawn", cases);
}
