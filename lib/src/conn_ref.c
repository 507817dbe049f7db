/*
 * References to a connection for other threads. The connection's loop is
 * the only thread that reads or clears ref->conn, so a task that finds it
 * NULL knows the connection is gone; `alive` lets a caller learn that early.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conn_int.h"

struct wf_conn_ref {
	atomic_int refs;
	atomic_int alive;
	wf_loop *loop;
	wf_conn *conn; /* loop thread only */
};

enum { REF_SEND, REF_CLOSE, REF_CALL };

struct ref_task {
	wf_conn_ref *r;
	int kind;
	uint64_t linger_ms;
	void (*fn)(wf_conn *c, void *arg);
	void *arg;
	size_t n;
	char data[];
};

wf_conn_ref *
wf_conn_ref_get(wf_conn *c)
{
	wf_conn_ref *r = c->ref;

	if (r == NULL) {
		if ((r = malloc(sizeof(*r))) == NULL)
			return NULL;
		atomic_init(&r->refs, 1); /* the connection's own */
		atomic_init(&r->alive, 1);
		r->loop = c->io.loop;
		r->conn = c;
		c->ref = r;
	}
	atomic_fetch_add(&r->refs, 1);
	return r;
}

void
wf_conn_ref_put(wf_conn_ref *r)
{
	if (r && atomic_fetch_sub(&r->refs, 1) == 1)
		free(r);
}

void
wf__conn_ref_detach(wf_conn_ref *r)
{
	r->conn = NULL;
	atomic_store(&r->alive, 0);
	wf_conn_ref_put(r);
}

static void
run_task(void *arg)
{
	struct ref_task *t = arg;
	wf_conn *c = t->r->conn;

	switch (t->kind) {
	case REF_SEND:
		if (c)
			(void)wf_conn_send(c, t->data, t->n);
		break;
	case REF_CLOSE:
		if (c)
			wf_conn_close(c, t->linger_ms);
		break;
	case REF_CALL:
		t->fn(c, t->arg);
		break;
	}
	wf_conn_ref_put(t->r);
	free(t);
}

static int
post(wf_conn_ref *r, struct ref_task *t)
{
	int rc;

	t->r = r;
	atomic_fetch_add(&r->refs, 1);
	if ((rc = wf_loop_post(r->loop, run_task, t)) < 0) {
		wf_conn_ref_put(r);
		free(t);
	}
	return rc;
}

/* A task for a connection still alive, with room for extra bytes. */
static struct ref_task *
task_new(wf_conn_ref *r, int kind, size_t extra, int *rc)
{
	struct ref_task *t;

	*rc = -ENOTCONN;
	if (!atomic_load(&r->alive))
		return NULL;
	*rc = -ENOMEM;
	if ((t = malloc(sizeof(*t) + extra)) == NULL)
		return NULL;
	t->kind = kind;
	return t;
}

int
wf_conn_ref_send(wf_conn_ref *r, const void *p, size_t n)
{
	struct ref_task *t;
	int rc;

	if ((t = task_new(r, REF_SEND, n, &rc)) == NULL)
		return rc;
	t->n = n;
	memcpy(t->data, p, n);
	return post(r, t);
}

int
wf_conn_ref_close(wf_conn_ref *r, uint64_t linger_ms)
{
	struct ref_task *t;
	int rc;

	if ((t = task_new(r, REF_CLOSE, 0, &rc)) == NULL)
		return rc;
	t->linger_ms = linger_ms;
	return post(r, t);
}

int
wf_conn_ref_call(wf_conn_ref *r, void (*fn)(wf_conn *c, void *arg),
    void *arg)
{
	struct ref_task *t;
	int rc;

	if ((t = task_new(r, REF_CALL, 0, &rc)) == NULL)
		return rc;
	t->fn = fn;
	t->arg = arg;
	return post(r, t);
}
