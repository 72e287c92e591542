/* The order in which a route's backends are tried (--balance). */
#ifndef BALANCE_H
#define BALANCE_H

#include <stddef.h>

enum balance {
	BALANCE_FIRST, BALANCE_RANDOM, BALANCE_ROUNDROBIN, BALANCE_LEASTCONN,
	BALANCE_SOURCE
};

/* -1 when name is not a method. */
int	balance_parse(const char *name);
/* order[0..n) gets a permutation of 0..n-1; client is the client's
 * address without its port, NULL when unknown. */
void	balance_order(enum balance method, size_t n, const char *client,
	    size_t *order);

#endif
