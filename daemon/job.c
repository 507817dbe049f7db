/*
 * Jobs (one allocation per request, reused for its answer) and clients.
 * Every byte of a job is charged to the budget while it exists; the
 * client's own count (held) is kept by its IO thread (front.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "weftd.h"

uint64_t
job_charge(const struct job *j)
{
	return sizeof(*j) + (uint64_t)j->cap;
}

struct job *
job_new(struct client *c, uint64_t seq, uint32_t cap)
{
	struct job *j = malloc(sizeof(*j) + cap);

	if (j == NULL)
		return NULL;
	j->next = NULL;
	j->client = c;
	j->seq = seq;
	j->t0 = 0;
	j->cap = cap;
	j->held = 0;
	j->tag = 0;
	atomic_fetch_add(&c->refs, 1);
	budget_charge(c->front->d, job_charge(j));
	return j;
}

int
job_grow(struct job **jp, uint32_t cap)
{
	struct job *j = *jp;
	struct weftd *d = j->client->front->d;
	uint32_t old = j->cap;

	if (cap <= old)
		return 0;
	if ((j = realloc(j, sizeof(*j) + cap)) == NULL)
		return -ENOMEM;
	j->cap = cap;
	*jp = j;
	budget_charge(d, cap - old);
	return 0;
}

uint32_t
job_len(const struct job *j)
{
	return wf_frame_length(j->frame);
}

/* Rewrite j into the answer; *jp moves if the answer needs more room. */
int
job_set_response(struct job **jp, uint16_t status, const void *p,
    uint32_t len)
{
	int rc;

	if ((rc = job_grow(jp, WF_FRAME_HDR + len)) < 0)
		return rc;
	wf_frame_header((*jp)->frame, len, status, 0);
	if (len)
		memcpy((*jp)->frame + WF_FRAME_HDR, p, len);
	return 0;
}

struct job *
job_error(struct job *j, uint16_t status, const char *msg)
{
	uint32_t len = (uint32_t)strlen(msg);
	struct job *e;

	if ((e = job_new(j->client, j->seq, WF_FRAME_HDR + len)) == NULL) {
		/* The request's own room holds the header, at least. */
		(void)job_set_response(&j, status, NULL, 0);
		return j;
	}
	e->t0 = j->t0;
	e->held = j->held;
	(void)job_set_response(&e, status, msg, len);
	job_free(j);
	return e;
}

void
client_unref(struct client *c)
{
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		free(c);
}

void
job_free(struct job *j)
{
	budget_release(j->client->front->d, job_charge(j));
	client_unref(j->client);
	free(j);
}
