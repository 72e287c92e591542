/*
 * X-Forwarded-For behind trusted proxies (--trust-forwarded): who the
 * client is, read from the right, where each trusted proxy appended the
 * address it saw.  Pure.
 */
#ifndef XFF_H
#define XFF_H

#include <stddef.h>

#include "access.h"

enum {
	XFF_TRUSTED,	/* every element trusted (or none): go further left */
	XFF_CLIENT,	/* *a is the right-most element not trusted */
	XFF_BAD		/* an element that is no address: stop, *a stays */
};

/*
 * Walks the list v[0..len) from its right end.  *a comes in as the
 * right-most trusted address so far; each trusted element replaces it.
 * Elements are IPv4 or IPv6 addresses, IPv6 also in brackets; empty
 * elements are skipped.
 */
int	xff_walk(const char *v, size_t len, const struct cidr *trusted,
	    size_t ntrusted, struct addr *a);

#endif
