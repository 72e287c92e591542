/*
 * X-Forwarded-For, walked from the right.  Only the part a trusted proxy
 * wrote can be believed: the right-most element was written by the direct
 * peer, the next by the proxy named in it, and so on while those are
 * trusted.  The first element that is not trusted is the client; anything
 * to its left is the client's own say and is never read.
 */
#include <arpa/inet.h>
#include <string.h>

#include "util.h"
#include "xff.h"

/* One element, trimmed: an address (IPv6 may be in brackets), or -1. */
static int
element_addr(const char *p, size_t n, struct addr *a)
{
	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
		if (memchr(p, ':', n) == NULL)
			return -1;
	}
	return addr_parse(p, n, a);
}

static int
trusted_addr(const struct cidr *t, size_t n, const struct addr *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&t[i], a))
			return 1;
	return 0;
}

int
xff_walk(const char *v, size_t len, const struct cidr *trusted,
    size_t ntrusted, struct addr *a)
{
	size_t end = len, s, e;
	struct addr x;

	for (;;) {
		for (s = end; s > 0 && v[s - 1] != ','; s--)
			;
		for (e = end; e > s && is_ows(v[e - 1]); e--)
			;
		while (s < e && is_ows(v[s]))
			s++;
		if (s < e) {		/* empty elements do not count */
			if (element_addr(v + s, e - s, &x) == -1)
				return XFF_BAD;
			*a = x;
			if (!trusted_addr(trusted, ntrusted, &x))
				return XFF_CLIENT;
		}
		while (s > 0 && v[s - 1] != ',')	/* back to the comma */
			s--;
		if (s == 0)
			return XFF_TRUSTED;
		end = s - 1;
	}
}
