/*
 * Per-address connection counts: a chained hash table under one mutex. An
 * entry lives while its address has a connection, so the table holds at
 * most one entry per open connection and an attacker cycling through
 * addresses cannot grow it past that. The hash is seeded at random per
 * table: an attacker who picks its addresses (any host in an IPv6 /64)
 * cannot aim them all at one chain, which every accept would walk.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "peers.h"

struct wf__peer {
	struct wf__peer *next;
	unsigned count;
	unsigned char len;
	unsigned char key[17]; /* family byte, then the 4 or 16 address bytes */
};

struct wf__peers {
	pthread_mutex_t lock;
	unsigned max, mask;
	uint64_t seed;
	struct wf__peer **bucket;
};

int
wf__peers_new(struct wf__peers **pp, unsigned max_per_addr, unsigned buckets)
{
	struct wf__peers *p;
	unsigned n = 64;

	*pp = NULL;
	while (n < buckets && n < (1u << 20))
		n <<= 1;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->bucket = calloc(n, sizeof(*p->bucket))) == NULL) {
		free(p);
		return -ENOMEM;
	}
	if (getrandom(&p->seed, sizeof(p->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(p->seed)) {
		struct timespec ts; /* no entropy yet: still not guessable offline */

		clock_gettime(CLOCK_MONOTONIC, &ts);
		p->seed = (uint64_t)(uintptr_t)p ^ (uint64_t)ts.tv_nsec << 20 ^
		    (uint64_t)ts.tv_sec;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->max = max_per_addr;
	p->mask = n - 1;
	*pp = p;
	return 0;
}

void
wf__peers_free(struct wf__peers *p)
{
	struct wf__peer *e, *next;
	unsigned i;

	if (p == NULL)
		return;
	for (i = 0; i <= p->mask; i++)
		for (e = p->bucket[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	pthread_mutex_destroy(&p->lock);
	free(p->bucket);
	free(p);
}

/* The address without its port; 0 for a family that is not counted. */
static unsigned
make_key(const struct wf_addr *a, unsigned char *key)
{
	const struct sockaddr_in *in = (const void *)&a->ss;
	const struct sockaddr_in6 *in6 = (const void *)&a->ss;

	key[0] = (unsigned char)a->ss.ss_family;
	if (a->ss.ss_family == AF_INET) {
		memcpy(key + 1, &in->sin_addr, 4);
		return 5;
	}
	if (a->ss.ss_family == AF_INET6) {
		memcpy(key + 1, &in6->sin6_addr, 16);
		return 17;
	}
	return 0;
}

/* FNV-1a from the table's seed; the high bits folded into the low ones. */
static unsigned
hash(const struct wf__peers *p, const unsigned char *key, unsigned len)
{
	uint64_t h = p->seed ^ UINT64_C(14695981039346656037);
	unsigned i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * UINT64_C(1099511628211);
	h ^= h >> 29;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return (unsigned)(h ^ h >> 32);
}

int
wf__peers_add(struct wf__peers *p, const struct wf_addr *a,
    struct wf__peer **slot)
{
	unsigned char key[17];
	unsigned len = make_key(a, key), b;
	struct wf__peer *e;
	int rc = 0;

	*slot = NULL;
	if (len == 0)
		return 0;
	b = hash(p, key, len) & p->mask;
	pthread_mutex_lock(&p->lock);
	for (e = p->bucket[b]; e; e = e->next)
		if (e->len == len && memcmp(e->key, key, len) == 0)
			break;
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		e->len = (unsigned char)len;
		memcpy(e->key, key, len);
		e->next = p->bucket[b];
		p->bucket[b] = e;
	}
	if (e->count >= p->max) {
		rc = -EMFILE;
		goto out;
	}
	e->count++;
	*slot = e;
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void
wf__peers_remove(struct wf__peers *p, struct wf__peer *slot)
{
	struct wf__peer **pp;
	unsigned b;

	if (slot == NULL)
		return;
	b = hash(p, slot->key, slot->len) & p->mask;
	pthread_mutex_lock(&p->lock);
	if (--slot->count == 0) {
		for (pp = &p->bucket[b]; *pp != slot; pp = &(*pp)->next)
			;
		*pp = slot->next;
		free(slot);
	}
	pthread_mutex_unlock(&p->lock);
}
