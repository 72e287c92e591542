/*
 * Connecting to a backend: a unix-domain socket, or every address of a
 * name in turn, each within --connect-timeout, then TLS for wss://.
 */
#ifndef DIAL_H
#define DIAL_H

#include <stddef.h>

#include "conn.h"
#include "route.h"

#define DIAL_ADDR_MAX	128

struct dial_opts {
	int		 connect_ms;
	void		*tls_ctx;	/* for wss:// backends */
	const char	*sni;		/* --backend-sni, or NULL */
	int		 insecure;	/* --backend-insecure */
	const char	*preface;	/* sent first, before TLS (--send-proxy) */
	size_t		 preface_len;
};

#define DIAL_STOPPED	(-3)	/* a stop signal came: no status */

/*
 * Tries the backends order[0..n) of r, each at most once; a failure is
 * recorded in the --state file, and so is the backend that answered.  0
 * with c connected (and *chosen, addr set), else the status for the
 * client: 504 when every attempt timed out, 502 otherwise; or
 * DIAL_STOPPED.  A name is resolved to its end first: getaddrinfo() cannot
 * be cut short.
 */
int	dial_route(const struct route *r, const size_t *order, size_t n,
	    const struct dial_opts *o, struct conn *c, size_t *chosen,
	    char *addr, size_t addrsize);

#endif
