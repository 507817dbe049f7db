/*
 * The privileged spawner, OpenBSD privsep style.
 *
 * Why a process and not retained capabilities: weftd parses what clients
 * send. Kept in it, CAP_SETUID would let a bug there become any user, root
 * included, and CAP_KILL signal any process. The spawner reads nothing but
 * fixed-size requests from weftd, and what it grants is narrow: start a
 * handler of a pool its own reading of the configuration names (command,
 * environment, user and limits all from that reading, none from weftd),
 * signal or reap a handler it started (no other pid). A compromised weftd
 * can do no more than restart the configured handlers.
 *
 * It is forked before any thread exists, closes every fd but its two
 * sockets, keeps the signals weftd blocked blocked (a stray SIGTERM is not
 * for it), and dies with weftd (PR_SET_PDEATHSIG), its handlers with it.
 * Exits go to weftd on their own socket, queued while that one is full, so
 * a slow weftd never blocks the spawner and a request never waits behind
 * an exit report.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "spawner.h"
#include "weftd.h"

#define REQ_FD 3
#define EV_FD 4
#define REPLY_WAIT_MS 10000

enum { OP_SPAWN = 1, OP_KILL, OP_KILL_WAIT, OP_RELOAD };

struct req {
	uint32_t op;
	int32_t pid, sig;
	uint32_t uid; /* SPAWN: the pool's user and command as weftd read */
	char pool[POOL_NAME_MAX + 1];
	char cmd[256];
};

struct reply {
	int32_t rc, pid, st;
	char err[256];
};

struct exit_ev {
	int32_t pid, st;
};

struct kid {
	pid_t pid;
	int st;
	bool exited; /* reaped, its report not sent yet */
};

/* The spawner's own state (its process only). */
static struct {
	struct weftd_config cfg;
	const char *path;
	struct weftd_spawn_as base; /* the top-level user: fixed at start */
	struct kid *kids;
	size_t nkids, cap;
} sp;

bool
spawner_needed(const struct weftd_config *c)
{
	return c->uid != (uid_t)-1 && c->uid != 0;
}

bool
spawner_on(const struct weftd *d)
{
	return d->privsep;
}

/* --- in the spawner ------------------------------------------------------ */

static struct kid *
kid_of(pid_t pid)
{
	size_t i;

	for (i = 0; i < sp.nkids; i++)
		if (sp.kids[i].pid == pid)
			return &sp.kids[i];
	return NULL;
}

static void
kid_forget(struct kid *k)
{
	*k = sp.kids[--sp.nkids];
}

static int
kid_add(pid_t pid)
{
	struct kid *k;

	if (sp.nkids == sp.cap) {
		size_t cap = sp.cap ? 2 * sp.cap : 64;

		if ((k = realloc(sp.kids, cap * sizeof(*k))) == NULL)
			return -ENOMEM;
		sp.kids = k;
		sp.cap = cap;
	}
	sp.kids[sp.nkids++] = (struct kid){ .pid = pid };
	return 0;
}

static void
do_spawn(const struct req *q, struct reply *r, int fds[2])
{
	const struct weftd_pool_cfg *p = weftd_config_pool(&sp.cfg, q->pool);
	struct weftd_spawn_as as = sp.base;
	struct weftd_child ch;
	int rc;

	if (p == NULL || strcmp(p->argv[0], q->cmd) != 0 ||
	    (p->uid != (uid_t)-1 ? p->uid : sp.base.uid) != q->uid) {
		r->rc = -ESTALE;
		snprintf(r->err, sizeof(r->err), "pool %s: the spawner read "
		    "another configuration from %s (changed since?); reload "
		    "again", q->pool, sp.path);
		return;
	}
	if (p->uid != (uid_t)-1) {
		as.uid = p->uid;
		as.gid = p->gid;
		as.groups = p->groups;
		as.ngroups = p->ngroups;
	}
	as.nofile = p->rlimit_nofile;
	as.as = p->rlimit_as;
	if ((rc = kid_add(0)) < 0) {
		r->rc = rc;
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	rc = weftd_spawn(p->argv, p->env, sp.cfg.max_frame, &as, &ch, r->err,
	    sizeof(r->err));
	if ((r->rc = rc) < 0) {
		sp.nkids--;
		return;
	}
	sp.kids[sp.nkids - 1].pid = r->pid = ch.pid;
	fds[0] = ch.sock;
	fds[1] = ch.out;
}

static void
do_kill(const struct req *q, struct reply *r)
{
	struct kid *k = kid_of(q->pid);

	if (k == NULL || (k->exited && q->op == OP_KILL)) {
		r->rc = -ESRCH;
		return;
	}
	if (q->op == OP_KILL) {
		/* Not reaped yet: it is ours, its pid cannot be anyone's. */
		r->rc = kill(k->pid, q->sig) < 0 ? -errno : 0;
		return;
	}
	if (!k->exited) {
		(void)kill(k->pid, SIGKILL);
		while (waitpid(k->pid, &k->st, 0) < 0 && errno == EINTR)
			;
	}
	/* Reaped now, or before with its report pending: this is it. */
	r->st = k->st;
	kid_forget(k);
}

static void
do_reload(struct reply *r)
{
	struct weftd_config n;

	memset(&n, 0, sizeof(n));
	if ((r->rc = weftd_config_load(sp.path, &n, r->err,
	    sizeof(r->err))) < 0)
		return;
	weftd_config_free(&sp.cfg);
	sp.cfg = n;
}

static void
answer(int fd, const struct req *q)
{
	char ctl[CMSG_SPACE(2 * sizeof(int))] = { 0 };
	struct reply r = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int fds[2] = { -1, -1 };

	switch (q->op) {
	case OP_SPAWN:
		do_spawn(q, &r, fds);
		break;
	case OP_KILL:
	case OP_KILL_WAIT:
		do_kill(q, &r);
		break;
	case OP_RELOAD:
		do_reload(&r);
		break;
	default:
		r.rc = -EINVAL;
	}
	if (fds[0] >= 0) {
		m.msg_control = ctl;
		m.msg_controllen = sizeof(ctl);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(fds));
		memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	}
	while (sendmsg(fd, &m, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
	}
}

static void
reap(void)
{
	struct kid *k;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((k = kid_of(pid)) != NULL) {
			k->exited = true;
			k->st = st;
		}
}

/* Send what exited; false while the socket is full. */
static bool
report(int fd)
{
	struct exit_ev e;
	size_t i = 0;

	while (i < sp.nkids) {
		if (!sp.kids[i].exited) {
			i++;
			continue;
		}
		e.pid = sp.kids[i].pid;
		e.st = sp.kids[i].st;
		if (send(fd, &e, sizeof(e), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
			if (errno == EINTR)
				continue;
			return errno != EAGAIN;
		}
		kid_forget(&sp.kids[i]);
	}
	return true;
}

static void __attribute__((noreturn))
serve(int sfd)
{
	struct pollfd pf[3] = {
		{ .fd = REQ_FD, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = EV_FD },
	};
	struct signalfd_siginfo si;
	struct req q;
	ssize_t n;
	size_t i;

	for (;;) {
		pf[0].revents = pf[1].revents = 0;
		pf[2].events = report(EV_FD) ? 0 : POLLOUT;
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN) {
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap();
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(REQ_FD, &q, sizeof(q), 0);
			if (n == 0 || (n < 0 && errno != EINTR))
				break; /* weftd is gone */
			if (n == (ssize_t)sizeof(q)) {
				q.pool[sizeof(q.pool) - 1] = '\0';
				q.cmd[sizeof(q.cmd) - 1] = '\0';
				answer(REQ_FD, &q);
			}
		}
	}
	for (i = 0; i < sp.nkids; i++)
		if (!sp.kids[i].exited)
			(void)kill(sp.kids[i].pid, SIGKILL);
	_exit(0);
}

/* In the spawner, just forked: fds, name, signals, then serve. */
static void __attribute__((noreturn))
become_spawner(struct weftd *d, int req, int ev, pid_t parent)
{
	sigset_t chld;
	int sfd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	(void)prctl(PR_SET_NAME, "weftd-spawner");
	/* Above EV_FD first, so the dup2s cannot clobber each other. */
	if ((req = fcntl(req, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (ev = fcntl(ev, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup3(req, REQ_FD, O_CLOEXEC) < 0 || dup3(ev, EV_FD, O_CLOEXEC) < 0 ||
	    close_range(EV_FD + 1, ~0u, 0) < 0)
		_exit(1);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &chld, NULL);
	if ((sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		_exit(1);
	/* The top-level user is fixed for weftd's life: a reload keeps it. */
	sp.cfg = d->cfg;
	sp.path = d->cfg_path;
	sp.base = (struct weftd_spawn_as){ .uid = d->cfg.uid,
	    .gid = d->cfg.gid, .groups = d->cfg.groups,
	    .ngroups = d->cfg.ngroups };
	d->cfg.groups = NULL; /* sp.cfg's reload frees its own, not these */
	sp.cfg.groups = NULL;
	serve(sfd);
}

/* --- in weftd ------------------------------------------------------------ */

int
spawner_start(struct weftd *d)
{
	int rq[2], ev[2];
	pid_t parent = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rq) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ev) < 0) {
		close(rq[0]);
		close(rq[1]);
		return -errno;
	}
	if ((pid = fork()) < 0) {
		close(rq[0]);
		close(rq[1]);
		close(ev[0]);
		close(ev[1]);
		return -errno;
	}
	if (pid == 0)
		become_spawner(d, rq[1], ev[1], parent);
	close(rq[1]);
	close(ev[1]);
	d->privsep = true;
	d->spawner_pid = pid;
	d->spawner_req = rq[0];
	d->spawner_ev = ev[0];
	(void)fcntl(ev[0], F_SETFL, O_NONBLOCK);
	return 0;
}

/*
 * Gone, or not answering: weftd cannot signal it (it is root), so it is
 * let go; it exits, killing what is left, when it sees its socket closed.
 */
static void
lost(struct weftd *d, const char *why)
{
	if (d->spawner_req < 0)
		return;
	if (d->spawner_io)
		wf_io_stop(d->spawner_io);
	d->spawner_io = NULL;
	close(d->spawner_req);
	close(d->spawner_ev);
	d->spawner_req = d->spawner_ev = -1;
	weftd_spawner_lost(d, why);
}

static void
on_exits(wf_io *io, int fd, unsigned events, void *arg)
{
	struct weftd *d = arg;
	struct exit_ev e;
	ssize_t n;

	(void)io;
	(void)events;
	while ((n = recv(fd, &e, sizeof(e), MSG_DONTWAIT)) > 0)
		if (n == (ssize_t)sizeof(e))
			pool_exited(d, e.pid, e.st);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		lost(d, "closed its socket");
	pool_settle(d);
}

int
spawner_watch(struct weftd *d)
{
	return wf_io_start(d->main, &d->spawner_io, d->spawner_ev, WF_READ,
	    on_exits, d);
}

/* One request, its answer (and fds); a spawner that does not answer in
 * REPLY_WAIT_MS is taken for lost. */
static int
call(struct weftd *d, const struct req *q, struct reply *r, int fds[2])
{
	char ctl[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct pollfd pf = { .fd = d->spawner_req, .events = POLLIN };
	struct cmsghdr *cm;
	ssize_t n;
	int rc;

	memset(r, 0, sizeof(*r));
	if (d->spawner_req < 0)
		return -EPIPE;
	while ((n = send(d->spawner_req, q, sizeof(*q), MSG_NOSIGNAL)) < 0 &&
	    errno == EINTR)
		;
	if (n < 0) {
		rc = -errno;
		lost(d, "cannot be asked");
		return rc;
	}
	while ((rc = poll(&pf, 1, REPLY_WAIT_MS)) < 0 && errno == EINTR)
		;
	if (rc == 0) {
		lost(d, "did not answer in 10 s");
		return -ETIMEDOUT;
	}
	while ((n = recvmsg(d->spawner_req, &m, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*r)) {
		rc = n < 0 ? -errno : -EPIPE;
		lost(d, n == 0 ? "closed its socket" : "answered garbage");
		return rc;
	}
	r->err[sizeof(r->err) - 1] = '\0';
	for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type ==
		    SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(2 * sizeof(int)))
			memcpy(fds, CMSG_DATA(cm), 2 * sizeof(int));
	return 0;
}

int
spawner_spawn(struct weftd *d, const struct weftd_pool_cfg *p,
    struct weftd_child *c, char *err, size_t errlen)
{
	struct req q = { .op = OP_SPAWN };
	struct reply r;
	int fds[2] = { -1, -1 }, rc;

	q.uid = p->uid != (uid_t)-1 ? p->uid : d->cfg.uid;
	snprintf(q.pool, sizeof(q.pool), "%s", p->name);
	snprintf(q.cmd, sizeof(q.cmd), "%s", p->argv[0]);
	c->pid = -1;
	c->sock = c->out = -1;
	if ((rc = call(d, &q, &r, fds)) < 0) {
		snprintf(err, errlen, "%s", d->spawner_req < 0 ? "the spawner "
		    "is gone" : strerror(-rc));
		return rc;
	}
	if (r.rc < 0) {
		snprintf(err, errlen, "%s", r.err);
		return r.rc;
	}
	if (fds[0] < 0) {
		snprintf(err, errlen, "the spawner sent no sockets");
		(void)spawner_kill(d, r.pid, SIGKILL);
		return -EPROTO;
	}
	c->pid = r.pid;
	c->sock = fds[0];
	c->out = fds[1];
	return 0;
}

int
spawner_kill(struct weftd *d, pid_t pid, int sig)
{
	struct req q = { .op = OP_KILL, .pid = pid, .sig = sig };
	struct reply r;
	int fds[2] = { -1, -1 }, rc;

	return (rc = call(d, &q, &r, fds)) < 0 ? rc : r.rc;
}

int
spawner_kill_wait(struct weftd *d, pid_t pid, int *st)
{
	struct req q = { .op = OP_KILL_WAIT, .pid = pid };
	struct reply r;
	int fds[2] = { -1, -1 }, rc;

	if ((rc = call(d, &q, &r, fds)) < 0 || (rc = r.rc) < 0)
		return rc;
	*st = r.st;
	return 0;
}

int
spawner_reload(struct weftd *d, char *err, size_t errlen)
{
	struct req q = { .op = OP_RELOAD };
	struct reply r;
	int fds[2] = { -1, -1 }, rc;

	if ((rc = call(d, &q, &r, fds)) < 0) {
		snprintf(err, errlen, "asking the spawner: %s", strerror(-rc));
		return rc;
	}
	if (r.rc < 0)
		snprintf(err, errlen, "the spawner: %s", r.err);
	return r.rc;
}

/* How it ended, in words: "was killed by SIGKILL". */
static void
ended(int st, char *why, size_t n)
{
	if (WIFSIGNALED(st))
		snprintf(why, n, "was killed by SIG%s", sigabbrev_np(WTERMSIG(st)));
	else
		snprintf(why, n, "exited with status %d", WEXITSTATUS(st));
}

void
spawner_stop(struct weftd *d)
{
	bool was_lost = d->spawner_req < 0;
	char why[64];
	pid_t r;
	int st;

	if (d->spawner_io)
		wf_io_stop(d->spawner_io);
	d->spawner_io = NULL;
	if (d->spawner_pid <= 0)
		return;
	if (d->spawner_req >= 0) {
		close(d->spawner_req);
		close(d->spawner_ev);
		d->spawner_req = d->spawner_ev = -1;
	}
	/* It kills what is left and exits at once. */
	while ((r = waitpid(d->spawner_pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (was_lost && r > 0) {
		ended(st, why, sizeof(why));
		weftd_log(LOG_ERR, "the spawner (pid %d) %s", (int)d->spawner_pid,
		    why);
	}
	d->spawner_pid = 0;
}

void
spawner_reaped(struct weftd *d, int st)
{
	char why[64];

	ended(st, why, sizeof(why));
	if (d->spawner_req >= 0)
		lost(d, why);
	else
		weftd_log(LOG_ERR, "the spawner (pid %d) %s",
		    (int)d->spawner_pid, why);
	d->spawner_pid = 0;
}
