/*
 * Handler processes. The child does only async-signal-safe work between
 * fork and exec. If exec fails, the child writes its errno into a
 * close-on-exec pipe; a successful exec closes the pipe, so the parent's
 * read returns 0: a missing or non-executable handler is an error of this
 * call, with its cause, not a mystery exit later.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define WORKER_FD 3
#define MAX_ENV 256

/*
 * In the child: limits, then the user: setgroups, setgid, setuid, in that
 * order (each needs the privilege the next gives up), and each checked. A
 * failure is an exec failure: the handler never runs as the wrong user.
 */
static int
become(const struct weftd_spawn_as *as)
{
	struct rlimit rl;

	if (as->nofile) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)as->nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -1;
	}
	if (as->as) {
		rl.rlim_cur = rl.rlim_max = (rlim_t)as->as;
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return -1;
	}
	if (as->uid == (uid_t)-1 || (as->uid == geteuid() && as->gid ==
	    getegid()))
		return 0;
	if (setgroups((size_t)as->ngroups, as->groups) < 0 ||
	    setgid(as->gid) < 0 || setuid(as->uid) < 0)
		return -1;
	/* Dropped for good: no way back to root. */
	if (getuid() != as->uid || geteuid() != as->uid ||
	    getgid() != as->gid || (as->uid != 0 && setuid(0) == 0)) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* In the child: set fds 0-3 up, close the rest, reset signals, exec. */
static void __attribute__((noreturn))
child(char *const argv[], char *const envp[], int sock, int out, int errw,
    int gor, pid_t parent, const struct weftd_spawn_as *as)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int sig, devnull, e;
	char c;

	/* Dies with weftd; if weftd is already gone, do not run at all. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;
	/* Until the parent has our statm open (its end closes: EOF). */
	while (read(gor, &c, 1) < 0 && errno == EINTR)
		;
	/*
	 * A group of its own: a terminal's Ctrl-C reaches weftd, which
	 * drains, and not the workers, which would drop their requests.
	 */
	if (setpgid(0, 0) < 0)
		goto fail;
	/*
	 * Move the fds we keep above 3 first, so the dup2s below cannot
	 * clobber one another whatever numbers they came with.
	 */
	if ((sock = fcntl(sock, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (out = fcntl(out, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 ||
	    dup2(sock, WORKER_FD) < 0)
		goto fail;
	/* Everything above 3 goes: CLOEXEC or not, inherited or ours. */
	if (close_range(WORKER_FD + 1, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	/*
	 * weftd blocks signals for its signalfd; a handler starts clean.
	 * (glibc refuses 32 and 33, its own; it handles them itself.)
	 */
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (as && become(as) < 0) {
		e = -errno; /* negative: becoming its user failed, not exec */
		(void)!write(errw, &e, sizeof(e));
		_exit(127);
	}
	/* Again: a change of user clears it (prctl(2)). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;
	execve(argv[0], argv, envp);
fail:
	e = errno;
	(void)!write(errw, &e, sizeof(e));
	_exit(127);
}

int
weftd_spawn(char *const argv[], char *const env[], uint32_t max_frame,
    const struct weftd_spawn_as *as, struct weftd_child *c, char *err,
    size_t errlen)
{
	char *envp[MAX_ENV + 3], frame[32];
	int sv[2], outp[2], errp[2], gop[2], e = 0, n = 0, i, rc;
	char statm[64];
	pid_t parent = getpid(), pid;
	ssize_t r;

	c->pid = -1;
	c->sock = c->out = c->statm = -1;
	if (argv == NULL || argv[0] == NULL || argv[0][0] != '/') {
		snprintf(err, errlen, "handler command must be an absolute path");
		return -EINVAL;
	}
	/* First: getenv() returns the first match, so env cannot override them. */
	envp[n++] = (char *)(uintptr_t)"WEFT_FD=3";
	if (max_frame) {
		snprintf(frame, sizeof(frame), "WEFT_MAX_FRAME=%u", max_frame);
		envp[n++] = frame;
	}
	for (i = 0; env && env[i] && i < MAX_ENV; i++)
		envp[n++] = env[i];
	envp[n] = NULL;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return rc;
	}
	outp[0] = outp[1] = errp[0] = errp[1] = gop[0] = gop[1] = -1;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    pipe2(gop, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		close(gop[1]); /* or its read would wait for itself */
		child(argv, envp, sv[1], outp[1], errp[1], gop[0], parent, as);
	}
	/*
	 * Its memory, for max_rss and status: opened while it is still our
	 * user, as hidepid (ProtectProc=invisible) would hide it once it is
	 * another, and statm is read with no check of who reads.
	 */
	snprintf(statm, sizeof(statm), "/proc/%d/statm", (int)pid);
	c->statm = open(statm, O_RDONLY | O_CLOEXEC);
	close(gop[0]);
	close(gop[1]);
	close(sv[1]);
	close(outp[1]);
	close(errp[1]);
	do
		r = read(errp[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	close(errp[0]);
	if (r > 0) {
		/* The child failed before or at exec: reap it, report why. */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (e < 0)
			snprintf(err, errlen, "setting its user (uid %d, gid %d) "
			    "and limits: %s", (int)as->uid, (int)as->gid,
			    strerror(-e));
		else
			snprintf(err, errlen, "execve(%s): %s", argv[0],
			    strerror(e));
		close(sv[0]);
		close(outp[0]);
		if (c->statm >= 0)
			close(c->statm);
		c->statm = -1;
		return e < 0 ? e : -e;
	}
	c->pid = pid;
	c->sock = sv[0];
	c->out = outp[0];
	return 0;
fail:
	close(sv[0]);
	close(sv[1]);
	if (outp[0] >= 0) {
		close(outp[0]);
		close(outp[1]);
	}
	if (errp[0] >= 0) {
		close(errp[0]);
		close(errp[1]);
	}
	if (gop[0] >= 0) {
		close(gop[0]);
		close(gop[1]);
	}
	return rc;
}

long long
weftd_rss(int statm)
{
	unsigned long long size, res;
	char buf[128];
	ssize_t n;

	/* One pread: a few microseconds, no open, no path lookup. */
	if (statm < 0 || (n = pread(statm, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &res) != 2)
		return -1;
	return (long long)(res * (unsigned long long)sysconf(_SC_PAGESIZE));
}

const char *
weftd_ended(int st, char *buf, size_t n)
{
	if (WIFEXITED(st))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	return buf;
}
