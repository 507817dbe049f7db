/* Jobs (one allocation per request, reused for its answer) and clients. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "weftd.h"

struct job *
job_new(struct client *c, uint64_t seq, uint32_t len)
{
	size_t cap = (size_t)WF_FRAME_HDR + len;
	struct job *j = malloc(sizeof(*j) + cap);

	if (j == NULL)
		return NULL;
	j->next = NULL;
	j->client = c;
	j->seq = seq;
	j->t0 = 0;
	j->cap = (uint32_t)cap;
	atomic_fetch_add(&c->refs, 1);
	return j;
}

uint32_t
job_len(const struct job *j)
{
	const unsigned char *h = j->frame;

	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

/* Rewrite j into the answer; *jp moves if the answer needs more room. */
int
job_set_response(struct job **jp, uint16_t status, const void *p,
    uint32_t len)
{
	struct job *j = *jp;
	size_t need = (size_t)WF_FRAME_HDR + len;

	if (need > j->cap) {
		if ((j = realloc(j, sizeof(*j) + need)) == NULL)
			return -ENOMEM;
		j->cap = (uint32_t)need;
		*jp = j;
	}
	wf_frame_header(j->frame, len, status, 0);
	if (len)
		memcpy(j->frame + WF_FRAME_HDR, p, len);
	return 0;
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
	client_unref(j->client);
	free(j);
}
