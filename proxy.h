/*
 * The PROXY protocol, versions 1 and 2 (HAProxy's doc/proxy-protocol.txt):
 * the header a load balancer sends before the client's bytes to say who the
 * client is.  Pure functions over the caller's buffer.
 */
#ifndef PROXY_H
#define PROXY_H

#include <stddef.h>
#include <sys/types.h>

#include "access.h"

#define PROXY_V1_MAX		107	/* the longest line, CRLF included */
#define PROXY_V2_MAX		(16 + 4096)	/* addresses and TLVs we accept */

#define PROXY_INCOMPLETE	(-2)
#define PROXY_BAD		(-1)

struct proxy_info {
	int		 local;		/* no address given: keep the socket's */
	struct addr	 src;
	unsigned	 port;
};

/* The header's length when buf starts with a complete valid one,
 * PROXY_INCOMPLETE, or PROXY_BAD. */
int	proxy_parse(const char *buf, size_t len, struct proxy_info *pi);
/* How many more bytes certainly belong to the header begun in buf: reading
 * no more than that never takes bytes of what follows it. */
size_t	proxy_more(const char *buf, size_t len);

/*
 * The header wstunnel sends a backend (--send-proxy): version 1 or 2, for
 * a connection from src:sport to dst:dport.  A src of family 0 is sent as
 * v1 UNKNOWN or v2 LOCAL; a dst of family 0 as the any address of src's
 * family, port 0; with one address of each family the IPv4 one is written
 * IPv4-mapped.  The length written into out[size], or -1.
 */
ssize_t	proxy_build(int version, const struct addr *src, unsigned sport,
	    const struct addr *dst, unsigned dport, char *out, size_t size);

#endif
