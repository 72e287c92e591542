#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "util.h"

const char *
cidr_parse(const char *s, struct cidr *c)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int max, bits = 0;

	memset(c, 0, sizeof(*c));
	if (hlen == 0 || hlen >= sizeof(host))
		return "not an address";
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, c->net.bytes) == 1)
		c->net.family = AF_INET;
	else if (inet_pton(AF_INET6, host, c->net.bytes) == 1)
		c->net.family = AF_INET6;
	else
		return "not an address";
	max = (c->net.family == AF_INET ? 32 : 128);
	if (slash == NULL)
		bits = max;
	else {
		int i;

		if (slash[1] == '\0' || strlen(slash + 1) > 3)
			return "bad prefix length";
		for (i = 1; slash[i] != '\0'; i++) {
			if (slash[i] < '0' || slash[i] > '9')
				return "bad prefix length";
			bits = bits * 10 + slash[i] - '0';
		}
		if (bits > max)
			return "prefix length too long";
	}
	c->bits = bits;
	addr_unmap(&c->net);
	if (c->net.family == AF_INET && max == 128)
		c->bits = bits >= 96 ? bits - 96 : 0;
	return NULL;
}

int
cidr_match(const struct cidr *c, const struct addr *a)
{
	struct addr x = *a;
	int full = c->bits / 8, rest = c->bits % 8;

	addr_unmap(&x);
	if (x.family == 0 || x.family != c->net.family)
		return 0;
	if (memcmp(x.bytes, c->net.bytes, full) != 0)
		return 0;
	return rest == 0 || ((x.bytes[full] ^ c->net.bytes[full]) &
	    (0xff << (8 - rest)) & 0xff) == 0;
}

int
access_allowed(const struct cidr *allow, size_t nallow,
    const struct cidr *deny, size_t ndeny, const struct addr *a)
{
	size_t i;

	for (i = 0; i < ndeny; i++)
		if (cidr_match(&deny[i], a))
			return 0;
	if (nallow == 0)
		return 1;
	for (i = 0; i < nallow; i++)
		if (cidr_match(&allow[i], a))
			return 1;
	return 0;
}

static const char *
default_port(const char *scheme)
{
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "ws") == 0)
		return "80";
	if (strcmp(scheme, "https") == 0 || strcmp(scheme, "wss") == 0)
		return "443";
	return "";
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 'a' - 'A';
}

/* Copies [p, p+n) into dst[size] as a string; -1 when it does not fit. */
static int
copy(char *dst, size_t size, const char *p, size_t n)
{
	if (n >= size)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

static const char *
parse_host_port(const char *p, const char *end, struct origin *o)
{
	const char *h = p, *hend, *port = NULL;
	size_t i;

	if (p < end && *p == '[') {
		if ((hend = memchr(p, ']', end - p)) == NULL)
			return "unterminated [IPv6 address]";
		hend++;
	} else if ((hend = memchr(p, ':', end - p)) == NULL)
		hend = end;
	if (hend < end) {
		if (*hend != ':' || hend + 1 == end)
			return "expected scheme://host[:port]";
		port = hend + 1;
		if (port_number(port, end - port) == -1)
			return "bad port";
	}
	if (hend == h || copy(o->host, sizeof(o->host), h, hend - h) == -1)
		return "bad host";
	for (i = 0; o->host[i] != '\0'; i++)
		if (strchr("/?#@ ", o->host[i]) != NULL ||
		    (o->host[i] == '*' && i != 0))
			return "bad host";
	if (o->host[0] == '*' && o->host[1] != '.')
		return "a wildcard is written *.domain";
	if (port == NULL)
		strcpy(o->port, default_port(o->scheme));
	else if (copy(o->port, sizeof(o->port), port, end - port) == -1)
		return "bad port";
	lower(o->host);
	return NULL;
}

const char *
origin_parse(const char *s, size_t len, struct origin *o)
{
	const char *end = s + len, *colon;

	memset(o, 0, sizeof(*o));
	if (len == 4 && memcmp(s, "null", 4) == 0) {
		strcpy(o->scheme, "null");
		return NULL;
	}
	colon = memchr(s, ':', len);
	if (colon == NULL || colon == s || end - colon < 4 ||
	    memcmp(colon, "://", 3) != 0 ||
	    copy(o->scheme, sizeof(o->scheme), s, colon - s) == -1)
		return "expected scheme://host[:port]";
	lower(o->scheme);
	return parse_host_port(colon + 3, end, o);
}

static int
host_matches(const char *pattern, const char *host)
{
	size_t plen = strlen(pattern), hlen = strlen(host);

	if (pattern[0] != '*')
		return strcmp(pattern, host) == 0;
	/* "*.example.com": a subdomain, not example.com itself */
	return hlen > plen - 1 && strcmp(host + hlen - (plen - 1),
	    pattern + 1) == 0;
}

int
origin_allowed(const struct origin *allow, size_t n, const char *s,
    size_t len)
{
	struct origin o;
	size_t i;

	if (origin_parse(s, len, &o) != NULL || o.host[0] == '*')
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(allow[i].scheme, o.scheme) == 0 &&
		    host_matches(allow[i].host, o.host) &&
		    strcmp(allow[i].port, o.port) == 0)
			return 1;
	return 0;
}
