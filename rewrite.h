/*
 * Building the heads wstunnel sends: the backend request, the 101 or other
 * answer relayed to the client, and wstunnel's own error answers.  Pure
 * functions: each writes into out[size] and returns the length, or -1 when
 * the head does not fit.
 */
#ifndef REWRITE_H
#define REWRITE_H

#include <sys/types.h>

#include "http.h"

/* What the backend request says beyond the client's own headers. */
struct forward {
	const char	*target;	/* the mapped request-target */
	size_t		 target_len;
	const char	*host;		/* Host for the backend */
	size_t		 host_len;
	const char	*client_host;	/* the client's Host: X-Forwarded-Host */
	size_t		 client_host_len;
	const char	*client_addr;	/* X-Forwarded-For; "unknown" if none */
	const char	*proto;		/* X-Forwarded-Proto: http or https */
};

/* What ProxyPassReverse needs to map a backend Location back. */
struct reverse {
	const char	*prefix;	/* the route's path, as matched */
	size_t		 prefix_len;
	const char	*bpath;		/* the backend URL's path */
	size_t		 bpath_len;
	const char	*bhost;		/* the backend's host and port */
	const char	*bport;
	const char	*front_host;	/* the client's Host */
	size_t		 front_host_len;
	int		 front_tls;	/* the client side is TLS */
	int		 btls;		/* the backend is wss://: the scheme
					 * of a "//host" Location */
};

ssize_t	rewrite_request(const struct http_request *req,
	    const struct forward *fw, char *out, size_t size);
ssize_t	rewrite_switch(const struct http_response *res, char *out,
	    size_t size);
ssize_t	rewrite_response(const struct http_response *res,
	    const struct reverse *rv, char *out, size_t size);
/* --http: a plain request for the backend, framing being the body's
 * framing field line (or ""); the answer for the client, with Location,
 * Content-Location and Refresh mapped back, and "Connection: close"
 * unless keep. */
ssize_t	rewrite_plain_request(const struct http_request *req,
	    const struct forward *fw, const char *framing, char *out,
	    size_t size);
ssize_t	rewrite_plain_response(const struct http_response *res,
	    const struct reverse *rv, int keep, char *out, size_t size);
/* A Location-style URL under the backend mapped to the client-facing
 * route (ProxyPassReverse): its length, 0 when v is not under the backend,
 * -1 when out is too small. */
ssize_t	rewrite_url(const char *v, size_t len, const struct reverse *rv,
	    char *out, size_t size);
/* wstunnel's own short text/plain answer for e (status, why, extra). */
ssize_t	rewrite_error(const struct http_error *e, char *out, size_t size);

const char *http_reason(int status);

#endif
