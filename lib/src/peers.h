/*
 * Open connections per client address, for a server's per-address cap:
 * IPv4 and IPv6 peers are counted by address (any port); Unix peers are
 * not counted. Any thread: accepts and teardowns happen on different loops.
 */
#ifndef WEFT_PEERS_H
#define WEFT_PEERS_H

#include "weft/addr.h"

struct wf__peers;
struct wf__peer;

/* buckets: about the number of addresses expected (rounded to a power of 2). */
int wf__peers_new(struct wf__peers **pp, unsigned max_per_addr,
    unsigned buckets);
void wf__peers_free(struct wf__peers *p);

/*
 * One more connection from a. 0 with *slot to release later (NULL for an
 * address that is not counted), -EMFILE when a has max_per_addr already,
 * -ENOMEM.
 */
int wf__peers_add(struct wf__peers *p, const struct wf_addr *a,
    struct wf__peer **slot);
void wf__peers_remove(struct wf__peers *p, struct wf__peer *slot);

#endif
