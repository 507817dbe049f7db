/*
 * Jobs (one allocation per request, reused for its answer) and clients.
 * Every byte of a job is charged to the budget while it exists; the
 * client's own count (held) is kept by its IO thread (front.c).
 *
 * Jobs of the common sizes are reused, not freed: each thread keeps up to
 * CACHE_JOBS free ones per size class (a request is mostly made and freed
 * by the same IO thread, and malloc's own per-thread cache stops near
 * 1 KiB). A job is made at its class's size, so it rarely grows for its
 * answer. A thread's cache is freed when the thread exits.
 *
 * A large request is allocated at its full size when its header is in, so
 * it is read in place, but charged only as its bytes arrive (cap grows
 * inside alloc): untouched pages cost no memory (weftd.c has glibc map
 * every allocation over 64 KiB afresh), and a header that claims max_frame
 * costs what was sent. A large answer is read into its request's job the
 * same way (job_reserve).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "weftd.h"

#define CACHE_JOBS 8 /* 8 x (512 B + ... + 16 KiB): 252 KiB a thread */
#define NCLASS 6 /* struct and frame[] fill 512 B, 1 KiB, ... 16 KiB */

static uint32_t
class_cap(int k)
{
	return (512u << k) - (uint32_t)sizeof(struct job);
}

struct cache {
	struct job *free[NCLASS];
	unsigned n[NCLASS];
	bool registered; /* for at_thread_exit */
};

static _Thread_local struct cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

void
job_cache_drain(void)
{
	struct job *j;
	int k;

	for (k = 0; k < NCLASS; k++) {
		while ((j = cache.free[k]) != NULL) {
			cache.free[k] = j->next;
			free(j);
		}
		cache.n[k] = 0;
	}
}

static void
at_thread_exit(void *arg)
{
	(void)arg;
	job_cache_drain();
}

static void
cache_init(void)
{
	(void)pthread_key_create(&cache_key, at_thread_exit);
}

static int
class_of(uint32_t cap)
{
	int k;

	for (k = 0; k < NCLASS; k++)
		if (cap <= class_cap(k))
			return k;
	return -1;
}

uint64_t
job_charge(const struct job *j)
{
	return sizeof(*j) + (uint64_t)j->cap;
}

static struct job *
job_init(struct job *j, struct client *c, uint64_t seq, uint32_t cap,
    uint32_t alloc)
{
	j->next = NULL;
	j->client = c;
	j->seq = seq;
	j->t0 = 0;
	j->cap = cap;
	j->alloc = alloc;
	j->held = 0;
	j->tag = 0;
	j->resends = 0;
	j->born = 0;
	j->slow = false;
	atomic_fetch_add(&c->refs, 1);
	budget_charge(c->front->d, job_charge(j));
	return j;
}

struct job *
job_new(struct client *c, uint64_t seq, uint32_t cap)
{
	int k = class_of(cap);
	struct job *j = NULL;

	if (k >= 0) {
		cap = class_cap(k);
		if ((j = cache.free[k]) != NULL) {
			cache.free[k] = j->next;
			cache.n[k]--;
		}
	}
	if (j == NULL && (j = malloc(sizeof(*j) + cap)) == NULL)
		return NULL;
	return job_init(j, c, seq, cap, cap);
}

struct job *
job_new_large(struct client *c, uint64_t seq, uint32_t size)
{
	struct job *j;

	if ((j = malloc(sizeof(*j) + size)) == NULL)
		return NULL;
	return job_init(j, c, seq, WF_FRAME_HDR, size);
}

void
job_fill(struct job *j, uint32_t cap)
{
	if (cap <= j->cap)
		return;
	budget_charge(j->client->front->d, cap - j->cap);
	j->cap = cap;
}

int
job_reserve(struct job **jp, uint32_t size)
{
	struct job *j = *jp;

	if (size <= j->alloc)
		return 0;
	if ((j = realloc(j, sizeof(*j) + size)) == NULL)
		return -ENOMEM;
	j->alloc = size;
	*jp = j;
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

	if ((rc = job_reserve(jp, WF_FRAME_HDR + len)) < 0)
		return rc;
	job_fill(*jp, WF_FRAME_HDR + len);
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
	e->born = j->born;
	e->slow = j->slow;
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
	int k = class_of(j->alloc);

	budget_release(j->client->front->d, job_charge(j));
	client_unref(j->client);
	if (k < 0 || j->alloc != class_cap(k) || cache.n[k] >= CACHE_JOBS) {
		free(j);
		return;
	}
	/* The first one a thread keeps makes sure it is freed at its exit. */
	if (!cache.registered) {
		cache.registered = true;
		pthread_once(&cache_once, cache_init);
		(void)pthread_setspecific(cache_key, &cache);
	}
	j->next = cache.free[k];
	cache.free[k] = j;
	cache.n[k]++;
}
