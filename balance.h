/*
 * The order in which a route's backends are tried (--balance), and the
 * ";weight=N" suffix of a backend URL.  Pure: what other processes know
 * (open tunnels, down, draining, the round-robin turn) is passed in, and
 * randomness comes from the caller.
 */
#ifndef BALANCE_H
#define BALANCE_H

#include <stddef.h>
#include <stdint.h>

enum balance {
	BALANCE_FIRST, BALANCE_RANDOM, BALANCE_ROUNDROBIN, BALANCE_LEASTCONN,
	BALANCE_SOURCE
};

#define BALANCE_WEIGHT_MAX	256

/* What the ordering knows of one backend of a route. */
struct balance_peer {
	const char	*key;		/* the URL without its weight */
	unsigned	 weight;	/* 1 to BALANCE_WEIGHT_MAX */
	unsigned	 open;		/* tunnels open on it now */
	int		 down;		/* failed less than --retry-after ago */
	int		 draining;	/* --drain */
};

/* -1 when name is not a method. */
int	balance_parse(const char *name);

/*
 * Splits a trailing ";weight=N" off the backend URL s[0..len): *urllen gets
 * the URL's length and *weight N (1 when there is no suffix).  NULL, or why
 * the weight is refused.
 */
const char *balance_weight(const char *s, size_t len, size_t *urllen,
	    unsigned *weight);

/*
 * order[0..ret) gets the backends of p[0..n) to try, best first: those up
 * and not draining in the method's order, then those up but draining; only
 * when every one is down, all of them (the draining ones last).  client is
 * the client's address without its port (NULL when unknown), turn the
 * route's round-robin turn, rnd(k) a uniform random number below k.
 */
size_t	balance_order(enum balance method, const struct balance_peer *p,
	    size_t n, const char *client, uint32_t turn,
	    uint32_t (*rnd)(uint32_t), size_t *order);

/* The backend whose turn turn is in smooth weighted round robin. */
size_t	balance_wrr(const struct balance_peer *p, const size_t *idx,
	    size_t n, uint32_t turn);

/* The weighted rendezvous score of client on a backend: highest wins. */
double	balance_score(const char *client, const char *key, unsigned weight);

#endif
