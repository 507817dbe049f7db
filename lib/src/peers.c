/*
 * Per-address connection counts: a chained hash table under one mutex. An
 * entry lives while its address has a connection, so the table holds at
 * most one entry per open connection and an attacker cycling through
 * addresses cannot grow it past that.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

static unsigned
hash(const unsigned char *key, unsigned len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	unsigned i;

	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
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
	b = hash(key, len) & p->mask;
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
	b = hash(slot->key, slot->len) & p->mask;
	pthread_mutex_lock(&p->lock);
	if (--slot->count == 0) {
		for (pp = &p->bucket[b]; *pp != slot; pp = &(*pp)->next)
			;
		*pp = slot->next;
		free(slot);
	}
	pthread_mutex_unlock(&p->lock);
}
