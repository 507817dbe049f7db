/*
 * weftd's side of the spawner (spawner.c): start it, ask it, hear of its
 * handlers' exits, and let it go. A request waits for its reply, as a
 * fork and exec in weftd would (REPLY_WAIT_MS at most); exit reports come
 * on their own socket, watched by the main loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "pool.h"
#include "spawner.h"
#include "spawner_int.h"
#include "weftd.h"

#define REPLY_WAIT_MS 10000
/* Reading the file looks users up (NSS): slow directories get longer. */
#define PREPARE_WAIT_MS 30000
#define STOP_WAIT_MS 2000

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
		spawner_serve(rq[1], ev[1], parent, &d->cfg, d->cfg_path);
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
hang_up(struct weftd *d)
{
	if (d->spawner_io)
		wf_io_stop(d->spawner_io);
	d->spawner_io = NULL;
	if (d->spawner_req >= 0) {
		close(d->spawner_req);
		close(d->spawner_ev);
		d->spawner_req = d->spawner_ev = -1;
	}
}

static void
lost(struct weftd *d, const char *why)
{
	if (d->spawner_req < 0)
		return;
	hang_up(d);
	weftd_spawner_lost(d, why);
}

static void
on_exits(wf_io *io, int fd, unsigned events, void *arg)
{
	struct weftd *d = arg;
	struct sp_exit e;
	ssize_t n = -1;

	(void)io;
	(void)fd;
	(void)events;
	/* A replacement's start may lose the spawner, and close its fd. */
	while (d->spawner_ev >= 0 &&
	    (n = recv(d->spawner_ev, &e, sizeof(e), MSG_DONTWAIT)) > 0)
		if (n == (ssize_t)sizeof(e))
			pool_exited(d, e.pid, e.st);
	if (d->spawner_ev >= 0 &&
	    (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)))
		lost(d, "closed its socket");
	pool_settle(d);
}

int
spawner_watch(struct weftd *d)
{
	return wf_io_start(d->main, &d->spawner_io, d->spawner_ev, WF_READ,
	    on_exits, d);
}

/*
 * The fds of every SCM_RIGHTS in m: the worker socket, its output and
 * maybe its statm; all closed unless two or three came.
 */
static int
take_fds(struct msghdr *m, int fds[3])
{
	struct cmsghdr *cm;
	size_t k, n = 0;
	int fd, got[3];

	for (cm = CMSG_FIRSTHDR(m); cm; cm = CMSG_NXTHDR(m, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		    k++, n++) {
			memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(fd));
			if (n < 3)
				got[n] = fd;
			else
				close(fd);
		}
	}
	if ((n == 2 || n == 3) && !(m->msg_flags & MSG_CTRUNC)) {
		fds[0] = got[0];
		fds[1] = got[1];
		fds[2] = n == 3 ? got[2] : -1;
		return 0;
	}
	for (k = 0; k < n && k < 3; k++)
		close(got[k]);
	return n ? -EMFILE : 0;
}

/* One request, its answer (and fds); one not answered in time (wait)
 * loses the spawner. */
static int
call(struct weftd *d, const struct sp_req *q, struct sp_reply *r, int fds[3])
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { r, sizeof(*r) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct pollfd pf = { .fd = d->spawner_req, .events = POLLIN };
	int rc, wait = q->op == OP_PREPARE ? PREPARE_WAIT_MS : REPLY_WAIT_MS;
	char why[64];
	ssize_t n;

	memset(r, 0, sizeof(*r));
	fds[0] = fds[1] = fds[2] = -1;
	if (d->spawner_req < 0)
		return -EPIPE;
	while ((n = send(d->spawner_req, q, sizeof(*q), MSG_NOSIGNAL)) < 0 &&
	    errno == EINTR)
		;
	if (n < 0) {
		rc = -errno;
		snprintf(why, sizeof(why), "cannot be asked (send: %s)",
		    strerror(errno));
		lost(d, why);
		return rc;
	}
	while ((rc = poll(&pf, 1, wait)) < 0 && errno == EINTR)
		;
	if (rc == 0) {
		snprintf(why, sizeof(why), "did not answer in %d ms", wait);
		lost(d, why);
		return -ETIMEDOUT;
	}
	while ((n = recvmsg(d->spawner_req, &m, MSG_CMSG_CLOEXEC)) < 0 &&
	    errno == EINTR)
		;
	if (n != (ssize_t)sizeof(*r)) {
		rc = n < 0 ? -errno : -EPIPE;
		(void)take_fds(&m, fds);
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
			if (fds[2] >= 0)
				close(fds[2]);
		}
		if (n < 0)
			snprintf(why, sizeof(why), "cannot be heard (recvmsg: "
			    "%s)", strerror(-rc));
		lost(d, n == 0 ? "closed its socket" : n < 0 ? why :
		    "answered garbage");
		return rc;
	}
	r->err[sizeof(r->err) - 1] = '\0';
	return take_fds(&m, fds);
}

int
spawner_spawn(struct weftd *d, const struct weftd_pool_cfg *p,
    struct weftd_child *c, char *err, size_t errlen)
{
	struct sp_req q = { .op = OP_SPAWN };
	struct sp_reply r;
	int fds[3], rc;

	q.uid = p->uid != (uid_t)-1 ? p->uid : d->cfg.uid;
	snprintf(q.pool, sizeof(q.pool), "%s", p->name);
	snprintf(q.cmd, sizeof(q.cmd), "%s", p->argv[0]);
	c->pid = -1;
	c->sock = c->out = c->statm = -1;
	rc = call(d, &q, &r, fds);
	if (rc == 0 && r.rc == 0 && fds[0] < 0)
		rc = -EPROTO;
	if (rc < 0) {
		snprintf(err, errlen, "%s", d->spawner_req < 0 ? "the spawner "
		    "is gone" : rc == -EPROTO ? "the spawner sent no sockets" :
		    strerror(-rc));
		if (r.rc == 0 && r.pid > 0)
			(void)spawner_kill(d, r.pid, SIGKILL);
		return rc;
	}
	if (r.rc < 0) {
		snprintf(err, errlen, "%s", r.err);
		return r.rc;
	}
	c->pid = r.pid;
	c->sock = fds[0];
	c->out = fds[1];
	c->statm = fds[2];
	return 0;
}

int
spawner_kill(struct weftd *d, pid_t pid, int sig)
{
	struct sp_req q = { .op = OP_KILL, .pid = pid, .sig = sig };
	struct sp_reply r;
	int fds[3], rc;

	return (rc = call(d, &q, &r, fds)) < 0 ? rc : r.rc;
}

int
spawner_kill_wait(struct weftd *d, pid_t pid, int *st)
{
	struct sp_req q = { .op = OP_KILL_WAIT, .pid = pid };
	struct sp_reply r;
	int fds[3], rc;

	if ((rc = call(d, &q, &r, fds)) < 0 || (rc = r.rc) < 0)
		return rc;
	*st = r.st;
	return 0;
}

int
spawner_prepare(struct weftd *d, uint64_t digest, char *err, size_t errlen)
{
	struct sp_req q = { .op = OP_PREPARE, .digest = digest };
	struct sp_reply r;
	int fds[3], rc;

	if ((rc = call(d, &q, &r, fds)) < 0) {
		snprintf(err, errlen, "the spawner: %s", d->spawner_req < 0 ?
		    "gone" : strerror(-rc));
		return rc;
	}
	if (r.rc < 0)
		snprintf(err, errlen, "the spawner: %s", r.err);
	return r.rc;
}

static void
finish_reload(struct weftd *d, uint32_t op)
{
	struct sp_req q = { .op = op };
	struct sp_reply r;
	int fds[3];

	(void)call(d, &q, &r, fds);
}

void
spawner_commit(struct weftd *d)
{
	finish_reload(d, OP_COMMIT);
}

void
spawner_abort(struct weftd *d)
{
	finish_reload(d, OP_ABORT);
}

/* Its end, and how: logged when it was lost (not when weftd let it go). */
static void
log_end(const struct weftd *d, int st)
{
	char how[64];

	weftd_log(LOG_ERR, "the spawner (pid %d) %s", (int)d->spawner_pid,
	    weftd_ended(st, how, sizeof(how)));
}

void
spawner_reaped(struct weftd *d, int st)
{
	char why[80], how[64];

	if (d->spawner_req >= 0) {
		snprintf(why, sizeof(why), "(pid %d) %s", (int)d->spawner_pid,
		    weftd_ended(st, how, sizeof(how)));
		lost(d, why);
	} else
		log_end(d, st);
	d->spawner_pid = 0;
}

void
spawner_stop(struct weftd *d)
{
	bool was_lost = d->spawner_req < 0;
	struct pollfd pf = { .events = POLLIN };
	pid_t r = 0;
	int st;

	hang_up(d);
	if (d->spawner_pid <= 0)
		return;
	/*
	 * It kills what is left and exits at once; one stuck (in a child's
	 * waitpid, say) does not hold weftd's exit: PR_SET_PDEATHSIG ends it.
	 */
	if ((pf.fd = pidfd_open(d->spawner_pid, 0)) >= 0) {
		(void)poll(&pf, 1, STOP_WAIT_MS);
		close(pf.fd);
	}
	while ((r = waitpid(d->spawner_pid, &st, WNOHANG)) < 0 &&
	    errno == EINTR)
		;
	if (r > 0 && was_lost)
		log_end(d, st);
	d->spawner_pid = 0;
}
