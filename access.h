/*
 * Access rules: client addresses (--allow, --deny) and browser origins
 * (--origin).  Parsers and matchers are pure.
 */
#ifndef ACCESS_H
#define ACCESS_H

#include <stddef.h>
#include <stdio.h>

#include "addr.h"

struct cidr {
	struct addr	 net;
	int		 bits;
};

struct origin {
	char		 scheme[16];
	char		 host[256];	/* lower case; "*.x" matches subdomains */
	char		 port[6];	/* the scheme's default when left out */
};

/*
 * What a request must pass before any backend is contacted: the global
 * rules, or a route's own (config.c).  auth_fp is the --auth-file opened
 * by this process, so that an edit applies to the next connection.
 */
struct rules {
	struct cidr	*allow, *deny;
	size_t		 nallow, ndeny;
	struct origin	*origins;
	size_t		 norigins;
	int		 require_origin;
	char		*auth_file;
	char		*realm;
	FILE		*auth_fp;	/* NULL when not open */
};

/* NULL, or why s is not an address or CIDR block. */
const char *cidr_parse(const char *s, struct cidr *c);
int	cidr_match(const struct cidr *c, const struct addr *a);
/* --deny first; then, when any --allow is given, one must match.
 * An unknown address matches no rule. */
int	access_allowed(const struct cidr *allow, size_t nallow,
	    const struct cidr *deny, size_t ndeny, const struct addr *a);

/* NULL, or why s[0..len) is not scheme://host[:port] ("null" is one). */
const char *origin_parse(const char *s, size_t len, struct origin *o);
int	origin_allowed(const struct origin *allow, size_t n, const char *s,
	    size_t len);

#endif
