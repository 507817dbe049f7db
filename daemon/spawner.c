/*
 * The privileged spawner, OpenBSD privsep style: this file is its side.
 *
 * Why a process and not retained capabilities: weftd parses what clients
 * send. Kept in it, CAP_SETUID would let a bug there become any user, root
 * included, and CAP_KILL signal any process. The spawner reads nothing but
 * fixed-size requests from weftd, and what it grants is narrow: start a
 * handler of a pool its own reading of the configuration names (command,
 * environment, user and limits all from that reading, none from weftd;
 * never as root), signal or reap a handler it started (no other pid). The
 * file and the programs must be root's alone (spawner_trust): a
 * compromised weftd can do no more than restart the configured handlers.
 *
 * It is forked before any thread exists, keeps fds 0-2 and its two
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "spawner.h"
#include "spawner_int.h"

struct kid {
	pid_t pid;
	int st;
	bool reaped; /* its exit not reported yet */
};

/* The spawner's own state (its process only). */
static struct {
	struct weftd_config cfg, next; /* next: a reload's, until commit */
	bool has_next;
	const char *path;
	/* Fixed for weftd's life, as weftd keeps them across reloads. */
	struct weftd_spawn_as base; /* the top-level user */
	uint32_t max_frame;
	struct kid *kids;
	size_t nkids, cap, max_kids;
} sp;

/* --- what it trusts ------------------------------------------------------ */

static bool
writable_by(const struct stat *st, const struct weftd_config *c)
{
	int i;

	if (st->st_uid == c->uid || (st->st_mode & S_IWOTH))
		return true;
	if (!(st->st_mode & S_IWGRP))
		return false;
	if (st->st_gid == c->gid)
		return true;
	for (i = 0; i < c->ngroups; i++)
		if (c->groups[i] == st->st_gid)
			return true;
	return false;
}

int
spawner_trust(const char *path, const struct weftd_config *c, char *err,
    size_t errlen)
{
	struct stat st;
	unsigned i, k;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_uid != 0 || writable_by(&st, c)) {
		snprintf(err, errlen, "%s: weftd drops to user %s, and the "
		    "file it reads to start handlers must be root's alone (owned "
		    "by root, not writable by %s, its group or others)", path,
		    c->user, c->user);
		return -1;
	}
	for (i = 0; i < c->npools; i++) {
		const struct weftd_pool_cfg *p = c->pools[i];

		if (p->uid == 0) {
			snprintf(err, errlen, "%s:%d: pool \"%s\": user %s: weftd "
			    "drops to user %s, and starts no handler as root",
			    path, p->line, p->name, p->user, c->user);
			return -1;
		}
		/* The program, and any file it is given (a script, say). */
		for (k = 0; k < p->argc; k++)
			if (p->argv[k][0] == '/' && stat(p->argv[k], &st) == 0 &&
			    S_ISREG(st.st_mode) && writable_by(&st, c)) {
				snprintf(err, errlen, "%s:%d: pool \"%s\": command "
				    "%s is writable by user %s, which weftd drops "
				    "to: it could run as the pool's user", path,
				    p->line, p->name, p->argv[k], c->user);
				return -1;
			}
	}
	return 0;
}

/* --- its handlers -------------------------------------------------------- */

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

static unsigned
workers_of(const struct weftd_config *c)
{
	unsigned i, n = 0;

	for (i = 0; i < c->npools; i++)
		n += c->pools[i]->max_workers;
	return n;
}

/*
 * However weftd asks, no more handlers than twice what the files named
 * (a reload's overlap of old and new), and some for the respawns.
 */
static void
set_max_kids(const struct weftd_config *old, const struct weftd_config *c)
{
	sp.max_kids = 2 * ((old ? workers_of(old) : 0) + workers_of(c)) + 64;
}

static void
do_spawn(const struct sp_req *q, struct sp_reply *r, int fds[3])
{
	const struct weftd_pool_cfg *p = weftd_config_pool(&sp.cfg, q->pool);
	struct weftd_spawn_as as = sp.base;
	struct weftd_child ch;

	if (p == NULL || strcmp(p->argv[0], q->cmd) != 0 ||
	    (p->uid != (uid_t)-1 ? p->uid : sp.base.uid) != q->uid) {
		r->rc = -ESTALE;
		snprintf(r->err, sizeof(r->err), "pool %s: not what the "
		    "spawner read from %s", q->pool, sp.path);
		return;
	}
	if (sp.nkids >= sp.max_kids) {
		r->rc = -EAGAIN;
		snprintf(r->err, sizeof(r->err), "the spawner has %zu handlers "
		    "running, its most", sp.nkids);
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
	if ((r->rc = kid_add(0)) < 0) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	if ((r->rc = weftd_spawn(p->argv, p->env, sp.max_frame, &as, &ch,
	    r->err, sizeof(r->err))) < 0) {
		sp.nkids--;
		return;
	}
	sp.kids[sp.nkids - 1].pid = r->pid = ch.pid;
	fds[0] = ch.sock;
	fds[1] = ch.out;
	fds[2] = ch.statm; /* -1: not opened, not sent */
}

static void
do_kill(const struct sp_req *q, struct sp_reply *r)
{
	struct kid *k = kid_of(q->pid);

	if (k == NULL || (k->reaped && q->op == OP_KILL)) {
		r->rc = -ESRCH;
		return;
	}
	if (q->op == OP_KILL) {
		/* Not reaped yet: it is ours, its pid cannot be anyone's. */
		r->rc = kill(k->pid, q->sig) < 0 ? -errno : 0;
		return;
	}
	if (!k->reaped) {
		(void)kill(k->pid, SIGKILL);
		while (waitpid(k->pid, &k->st, 0) < 0 && errno == EINTR)
			;
	}
	/* Reaped now, or before with its report pending: this is it. */
	r->st = k->st;
	kid_forget(k);
}

/* A reload's reading, kept aside: the same file weftd read, trusted. */
static void
do_prepare(const struct sp_req *q, struct sp_reply *r)
{
	struct weftd_config n;

	if (sp.has_next) {
		weftd_config_free(&sp.next);
		sp.has_next = false;
	}
	if ((r->rc = weftd_config_load(sp.path, &n, r->err,
	    sizeof(r->err))) < 0)
		return;
	if (n.digest != q->digest) {
		r->rc = -ESTALE;
		snprintf(r->err, sizeof(r->err), "%s changed while it was "
		    "read; reload again", sp.path);
	} else if (spawner_trust(sp.path, &n, r->err, sizeof(r->err)) < 0)
		r->rc = -EPERM;
	if (r->rc < 0) {
		weftd_config_free(&n);
		return;
	}
	sp.next = n;
	sp.has_next = true;
}

static void
do_commit(bool commit)
{
	if (!sp.has_next)
		return;
	if (commit) {
		set_max_kids(&sp.cfg, &sp.next);
		weftd_config_free(&sp.cfg);
		sp.cfg = sp.next;
	} else
		weftd_config_free(&sp.next);
	sp.has_next = false;
}

/* --- its loop ------------------------------------------------------------ */

static void
answer(int fd, const struct sp_req *q)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct sp_reply r = { 0 };
	struct iovec iov = { &r, sizeof(r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int fds[3] = { -1, -1, -1 };
	size_t nfds;

	switch (q->op) {
	case OP_SPAWN:
		do_spawn(q, &r, fds);
		break;
	case OP_KILL:
	case OP_KILL_WAIT:
		do_kill(q, &r);
		break;
	case OP_PREPARE:
		do_prepare(q, &r);
		break;
	case OP_COMMIT:
	case OP_ABORT:
		do_commit(q->op == OP_COMMIT);
		break;
	default:
		r.rc = -EINVAL;
	}
	if (fds[0] >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		m.msg_control = ctl.buf;
		m.msg_controllen = sizeof(ctl.buf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		nfds = fds[2] >= 0 ? 3 : 2;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
		m.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	}
	while (sendmsg(fd, &m, MSG_NOSIGNAL) < 0)
		if (errno != EINTR) {
			dprintf(2, "weftd-spawner: sendmsg: %s\n",
			    strerror(errno));
			break;
		}
	if (fds[0] >= 0) {
		close(fds[0]);
		close(fds[1]);
		if (fds[2] >= 0)
			close(fds[2]);
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
			k->reaped = true;
			k->st = st;
		}
}

/* Send what exited; false while the socket is full. */
static bool
report(int fd)
{
	struct sp_exit e;
	size_t i = 0;

	while (i < sp.nkids) {
		if (!sp.kids[i].reaped) {
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
		{ .fd = SP_REQ_FD, .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = SP_EV_FD },
	};
	struct signalfd_siginfo si;
	struct sp_req q;
	ssize_t n;
	size_t i;

	for (;;) {
		pf[0].revents = pf[1].revents = 0;
		pf[2].events = report(SP_EV_FD) ? 0 : POLLOUT;
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN) {
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			reap();
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(SP_REQ_FD, &q, sizeof(q), 0);
			if (n == 0 || (n < 0 && errno != EINTR))
				break; /* weftd is gone */
			if (n == (ssize_t)sizeof(q)) {
				q.pool[sizeof(q.pool) - 1] = '\0';
				q.cmd[sizeof(q.cmd) - 1] = '\0';
				answer(SP_REQ_FD, &q);
			}
		}
	}
	for (i = 0; i < sp.nkids; i++)
		if (!sp.kids[i].reaped)
			(void)kill(sp.kids[i].pid, SIGKILL);
	_exit(0);
}

void
spawner_serve(int req, int ev, pid_t parent, struct weftd_config *c,
    const char *path)
{
	const char *what = "prctl";
	sigset_t chld;
	int sfd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;
	(void)prctl(PR_SET_NAME, "weftd-spawner");
	/* Above SP_EV_FD first, so the dup3s cannot clobber each other. */
	what = "moving its sockets";
	if ((req = fcntl(req, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (ev = fcntl(ev, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup3(req, SP_REQ_FD, O_CLOEXEC) < 0 ||
	    dup3(ev, SP_EV_FD, O_CLOEXEC) < 0 ||
	    close_range(SP_EV_FD + 1, ~0u, 0) < 0)
		goto fail;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	(void)sigprocmask(SIG_BLOCK, &chld, NULL);
	what = "signalfd";
	if ((sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		goto fail;
	/* weftd's copy of the configuration is its own: ours to keep. */
	sp.cfg = *c;
	sp.path = path;
	sp.base = (struct weftd_spawn_as){ .uid = c->uid, .gid = c->gid,
	    .groups = c->groups, .ngroups = c->ngroups };
	sp.cfg.groups = NULL; /* sp.base's, for good: a reload frees cfg */
	sp.max_frame = c->max_frame;
	set_max_kids(NULL, &sp.cfg);
	serve(sfd);
fail:
	dprintf(2, "weftd-spawner: %s: %s\n", what, strerror(errno));
	_exit(1);
}
