/*
 * Backend URLs, routes and ProxyPass-style path mapping.  The parsers and
 * mappers are pure functions over the caller's strings.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stddef.h>
#include <sys/types.h>

#define ROUTE_MAX_BACKENDS	64

/* A backend URL as written, split into pieces that point into it. */
struct url {
	int		 tls;		/* wss:// */
	int		 is_unix;	/* ws://unix:/path.sock:/uri */
	const char	*host;		/* without brackets; unix: socket path */
	size_t		 host_len;
	const char	*port;		/* length 0 when not given */
	size_t		 port_len;
	const char	*path;		/* length 0 when not given */
	size_t		 path_len;
};

struct backend {
	char		*url;		/* as written, for messages */
	unsigned	 weight;	/* ";weight=N" after the URL, else 1 */
	int		 tls;
	int		 is_unix;
	int		 numeric;	/* host is an IP literal: no resolver */
	char		*host;		/* NUL-terminated copies of struct url */
	char		*port;
	char		*path;
	char		*authority;	/* Host sent to it */
};

struct route {
	char		*path;		/* as written, normalised */
	size_t		 path_len;
	char		*prefix;	/* path without trailing slashes */
	size_t		 prefix_len;
	struct backend	*backends;
	size_t		 nbackends;
	int		 http;		/* --http: plain requests pass too */
};

/* NULL when s[0..len) is a valid backend URL, else why not. */
const char *url_parse(const char *s, size_t len, struct url *u);

/*
 * Parses one command-line operand, PATH=URL[,URL...] or URL[,URL...], into
 * r (allocating its strings).  NULL, or a message naming the problem.
 */
const char *route_parse(const char *arg, struct route *r, char *msg,
	    size_t msgsize);
void	route_free(struct route *r);

/* Index of the longest route whose prefix matches target on a segment
 * boundary, or -1. */
int	route_match(const struct route *r, size_t n, const char *target,
	    size_t len);

/*
 * Validates a request-target in origin-form and normalises it into out (at
 * least len bytes): percent-encoded unreserved characters are decoded, as RFC
 * 3986 section 6.2.2.2 allows, so that routes and the dot-segment check see
 * the path the backend will see.  NULL, or why the target is refused.
 */
const char *route_normalize(const char *target, size_t len, char *out,
	    size_t *outlen);

/* The backend request-target for target under a route's path (as written:
 * "/" for a bare URL) and a backend path; its length, or -1 when out is too
 * small. */
ssize_t	route_map(const char *route_path, size_t route_path_len,
	    const char *bpath, size_t bpath_len, const char *target, size_t len,
	    char *out, size_t size);

/* The inverse, for Location: a backend path under bpath mapped back under the
 * route prefix; its length, 0 when path is not under bpath, -1 when out is
 * too small. */
ssize_t	route_unmap(const char *prefix, size_t prefix_len, const char *bpath,
	    size_t bpath_len, const char *path, size_t len, char *out,
	    size_t size);

#endif
