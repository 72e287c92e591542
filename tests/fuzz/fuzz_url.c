/*
 * fuzz_url: backend URLs, routes, path mapping, CIDR blocks and origins.
 * The input is up to six lines, each fed to one parser:
 *
 *   1  a backend URL            url_parse() (raw bytes)
 *   2  a route operand          route_parse(), route_free()
 *   3  a request-target         route_normalize(), route_match(),
 *                               route_map(), route_unmap()
 *   4  an address or CIDR       cidr_parse(), cidr_match(), access_allowed()
 *   5  an --origin value        origin_parse() (raw bytes)
 *   6  a request's Origin       origin_allowed() against line 5
 *
 * Checks:
 *   - url_parse(): host, port and path lie inside the input; the port is
 *     1..65535; a path starts with '/' and has only the characters of a
 *     request-target, no query or fragment (a unix socket's path too: it
 *     becomes the backend's request line);
 *   - route_parse(): the prefix is the path less its trailing slashes; each
 *     backend has a Host that is a valid Host value (host_valid(): a
 *     wstunnel in front of it accepts it), with the port in decimal without
 *     leading zeros and none when it is the scheme's default, a port and a
 *     path as above; the prefix is one a normalised target can match;
 *   - route_match(): the longest prefix matching on a segment boundary;
 *   - route_map(): for a target under the prefix, the result starts with '/'
 *     and is a valid request-target; route_unmap() maps it back to the
 *     target (with a '/' put back after the prefix when the target had no
 *     path after it); route_unmap() of any path lands under the prefix;
 *   - cidr_parse(): a family, a prefix length within it; the block matches
 *     its own address, also IPv4-mapped; printing and parsing it again gives
 *     the same block; cidr_match() agrees with a bitwise reference;
 *     addr_format() writes the address as inet_ntop() does, an IPv4-mapped
 *     one as IPv4, and the peer as ip:port or [ip]:port;
 *   - origin_parse(): scheme and host in lower case, a port of digits;
 *     an origin is allowed by itself, in any letter case;
 *     origin_allowed() agrees with a reference comparison;
 *   - balance_order(), for up to 64 backends whose weights, open tunnels,
 *     down and draining states are the input's first bytes, and line 4 as
 *     the client: each backend at most once, exactly those tried (the
 *     down ones only when all are down), up before draining before down,
 *     the same order each time for the same inputs.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "balance.h"
#include "host.h"
#include "route.h"
#include "fuzz.h"

static const char *const route_args[] = {
	"/=ws://127.0.0.1:8000",
	"/app=ws://backend.example:8080/ws/",
	"/app/ws=ws://[::1]/x",
};
#define NFIXED	(sizeof(route_args) / sizeof(route_args[0]))
static struct route routes[NFIXED + 1];

/* line i of the input (0-based), without its LF */
static const char *
line(const uint8_t *d, size_t n, int i, size_t *len)
{
	const char *p = (const char *)d, *end = p + n, *lf;

	for (; i > 0; i--) {
		if ((lf = memchr(p, '\n', end - p)) == NULL) {
			*len = 0;
			return end;
		}
		p = lf + 1;
	}
	lf = memchr(p, '\n', end - p);
	*len = (lf != NULL ? lf : end) - p;
	return p;
}

static char *
cstring(const char *p, size_t len)
{
	char *s = malloc(len + 1);

	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

static int
target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* a path of a backend URL or route: request-target characters, no query,
 * fragment or backslash */
static int
path_ok(const char *p, size_t len)
{
	size_t i;

	if (len > 0 && p[0] != '/')
		return 0;
	for (i = 0; i < len; i++)
		if (!target_char(p[i]) || p[i] == '?' || p[i] == '#' ||
		    p[i] == '\\')
			return 0;
	return 1;
}

static int
under(const char *p, size_t plen, const char *s, size_t len)
{
	return len >= plen && memcmp(s, p, plen) == 0 &&
	    (len == plen || s[plen] == '/' || s[plen] == '?');
}

static void
check_url(const char *s, size_t len)
{
	struct url u;
	unsigned long port = 0;
	size_t i;

	if (url_parse(s, len, &u) != NULL)
		return;
	CHECK("url-host", u.host_len > 0 && inside(u.host, u.host_len, s,
	    len));
	CHECK("url-port", u.port_len <= 5 && (u.port_len == 0 ||
	    inside(u.port, u.port_len, s, len)));
	for (i = 0; i < u.port_len; i++) {
		CHECK("url-port", u.port[i] >= '0' && u.port[i] <= '9');
		port = port * 10 + (unsigned long)(u.port[i] - '0');
	}
	CHECK("url-port", u.port_len == 0 || (port >= 1 && port <= 65535));
	CHECK("url-path", u.path_len == 0 || inside(u.path, u.path_len, s,
	    len));
	CHECK("url-path-chars", path_ok(u.path, u.path_len));
	CHECK("url-scheme", u.tls == (s[2] == 's' || s[2] == 'S'));
	if (u.is_unix)
		CHECK("url-unix", u.host[0] == '/' && u.host_len < 108 &&
		    memchr(u.host, '\0', u.host_len) == NULL);
}

/* a Host field value, as http.c's valid_host() has it */
static int
host_ok(const char *h)
{
	if (*h == '\0')
		return 0;
	for (; *h != '\0'; h++)
		if (!tchar((unsigned char)*h) &&
		    strchr(":[]!$&'()*+,;=", *h) == NULL)
			return 0;
	return 1;
}

/* Whether the authority ends in ":" port exactly when the port is not the
 * scheme's default. */
static int
default_port_left_out(const struct backend *b)
{
	const char *a = b->authority, *c = strrchr(a, ':'), *br = strrchr(a,
	    ']');
	int dflt = strcmp(b->port, b->tls ? "443" : "80") == 0;

	if (c != NULL && br != NULL && c < br)	/* inside [IPv6] */
		c = NULL;
	if (dflt)
		return c == NULL;
	return c != NULL && strcmp(c + 1, b->port) == 0;
}

static void
check_route(const struct route *r)
{
	char *norm = malloc(r->prefix_len + 1);
	size_t i, nlen;
	const char *errstr = NULL;

	CHECK("route-prefix", strlen(r->prefix) == r->prefix_len &&
	    strncmp(r->path, r->prefix, r->prefix_len) == 0 &&
	    strspn(r->path + r->prefix_len, "/") ==
	    strlen(r->path + r->prefix_len) &&
	    (r->prefix_len == 0 || r->prefix[r->prefix_len - 1] != '/') &&
	    path_ok(r->prefix, r->prefix_len));
	/* a prefix that route_normalize() would change can never match */
	CHECK("route-prefix-normalized", route_normalize(r->prefix,
	    r->prefix_len, norm, &nlen) == NULL && nlen == r->prefix_len &&
	    memcmp(norm, r->prefix, nlen) == 0);
	free(norm);
	CHECK("route-backends", r->nbackends >= 1 &&
	    r->nbackends <= ROUTE_MAX_BACKENDS);
	for (i = 0; i < r->nbackends; i++) {
		const struct backend *b = &r->backends[i];

		CHECK("backend-strings", b->url != NULL && b->host != NULL &&
		    b->port != NULL && b->path != NULL && b->authority != NULL);
		CHECK("backend-authority", host_ok(b->authority) &&
		    host_valid(b->authority, strlen(b->authority)));
		CHECK("backend-port", strtonum(b->port, 1, 65535, &errstr) > 0 &&
		    errstr == NULL && b->port[0] != '0');
		CHECK("backend-authority-port", b->is_unix ||
		    default_port_left_out(b));
		CHECK("backend-path", path_ok(b->path, strlen(b->path)));
		CHECK("backend-weight", b->weight >= 1 &&
		    b->weight <= BALANCE_WEIGHT_MAX);
	}
}

/* route_map() and route_unmap() for target t under r. */
static void
check_map(const struct route *r, const char *t, size_t tlen)
{
	size_t i;

	if (!under(r->prefix, r->prefix_len, t, tlen))
		return;
	for (i = 0; i < r->nbackends; i++) {
		const struct backend *b = &r->backends[i];
		size_t j, rest, blen = strlen(b->path);
		size_t msize = blen + tlen + 2;		/* as backend.c */
		char *m = malloc(msize), *u;
		ssize_t ml, ul;

		ml = route_map(r->prefix, r->prefix_len, b->path, blen, t, tlen,
		    m, msize);
		CHECK("map-fits", ml > 0);
		if (ml <= 0) {
			free(m);
			continue;
		}
		CHECK("map-slash", m[0] == '/');
		for (j = 0; j < (size_t)ml; j++)
			CHECK("map-chars", target_char(m[j]));
		u = malloc(r->prefix_len + (size_t)ml + 1);
		ul = route_unmap(r->prefix, r->prefix_len, b->path, blen, m,
		    (size_t)ml, u, r->prefix_len + (size_t)ml + 1);
		CHECK("unmap-under", ul > 0 && under(r->prefix, r->prefix_len,
		    u, (size_t)ul));
		/* the target back, or with '/' after the prefix when nothing
		 * of a path followed it */
		for (rest = 0; r->prefix_len + rest < tlen &&
		    t[r->prefix_len + rest] != '?'; rest++)
			;
		CHECK("unmap-inverse", ((size_t)ul == tlen &&
		    memcmp(u, t, tlen) == 0) || (rest == 0 &&
		    (size_t)ul == tlen + 1 && memcmp(u, t, r->prefix_len) == 0 &&
		    u[r->prefix_len] == '/' && memcmp(u + r->prefix_len + 1,
		    t + r->prefix_len, tlen - r->prefix_len) == 0));
		free(u);
		free(m);
	}
}

static void
check_routes(const uint8_t *d, size_t n)
{
	char msg[512], *arg, *t, *tnorm;
	const char *l, *target;
	size_t len, tlen, nlen, nroutes = NFIXED, i;
	int ok;

	l = line(d, n, 1, &len);
	arg = cstring(l, len);
	ok = (route_parse(arg, &routes[NFIXED], msg, sizeof(msg)) == NULL);
	if (ok) {
		check_route(&routes[NFIXED]);
		nroutes++;
	}
	free(arg);

	target = line(d, n, 2, &tlen);
	t = cstring(target, tlen);
	tnorm = malloc(tlen + 1);
	for (i = 0; i < tlen && target_char(t[i]); i++)
		;
	if (tlen > 0 && i == tlen && t[0] == '/' &&
	    route_normalize(t, tlen, tnorm, &nlen) == NULL) {
		int best = route_match(routes, nroutes, tnorm, nlen);

		CHECK("match-found", best >= 0);
		for (i = 0; best >= 0 && i < nroutes; i++)
			CHECK("match-longest", !under(routes[i].prefix,
			    routes[i].prefix_len, tnorm, nlen) ||
			    routes[i].prefix_len <= routes[best].prefix_len);
		for (i = 0; i < nroutes; i++)
			check_map(&routes[i], tnorm, nlen);
	}
	if (ok && routes[NFIXED].nbackends > 0) {
		/* a Location path of the backend's, mapped back */
		const struct route *r = &routes[NFIXED];
		const char *bp = r->backends[0].path;
		size_t usize = r->prefix_len + tlen + 1;
		char *u = malloc(usize);
		ssize_t ul = route_unmap(r->prefix, r->prefix_len, bp,
		    strlen(bp), t, tlen, u, usize);

		CHECK("unmap-bounds", ul >= 0);
		if (ul > 0) {
			CHECK("unmap-under", under(r->prefix, r->prefix_len, u,
			    (size_t)ul) && (r->prefix_len > 0 || u[0] == '/'));
			/* one byte less does not fit */
			CHECK("unmap-small", route_unmap(r->prefix,
			    r->prefix_len, bp, strlen(bp), t, tlen, u,
			    (size_t)ul - 1) == -1);
		}
		free(u);
	}
	route_free(&routes[NFIXED]);	/* after a failure too */
	free(t);
	free(tnorm);
}

/* cidr_match(), bit by bit */
static int
ref_match(const struct cidr *c, const struct addr *a)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	struct addr x = *a;
	int i;

	if (x.family == AF_INET6 && memcmp(x.bytes, mapped, 12) == 0) {
		memmove(x.bytes, x.bytes + 12, 4);
		memset(x.bytes + 4, 0, 12);
		x.family = AF_INET;
	}
	if (x.family == 0 || x.family != c->net.family)
		return 0;
	for (i = 0; i < c->bits; i++)
		if (((x.bytes[i / 8] ^ c->net.bytes[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

static void
check_cidr(const uint8_t *d, size_t n)
{
	struct cidr c, c2;
	struct addr a;
	char *s, ip[INET6_ADDRSTRLEN], again[INET6_ADDRSTRLEN + 8];
	char ip2[INET6_ADDRSTRLEN], peer[INET6_ADDRSTRLEN + 8];
	const char *l;
	size_t len, i;
	uint32_t seed = seed_of(d, n);

	l = line(d, n, 3, &len);
	s = cstring(l, len);
	if (cidr_parse(s, &c) != NULL) {
		free(s);
		return;
	}
	free(s);
	CHECK("cidr-family", (c.net.family == AF_INET && c.bits >= 0 &&
	    c.bits <= 32) || (c.net.family == AF_INET6 && c.bits >= 0 &&
	    c.bits <= 128));
	CHECK("cidr-self", cidr_match(&c, &c.net));
	CHECK("cidr-allow-deny", access_allowed(&c, 1, NULL, 0, &c.net) &&
	    !access_allowed(NULL, 0, &c, 1, &c.net));
	if (c.net.family == AF_INET) {
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.bytes[10] = a.bytes[11] = 0xff;
		memcpy(a.bytes + 12, c.net.bytes, 4);
		CHECK("cidr-mapped", cidr_match(&c, &a));
	}
	inet_ntop(c.net.family, c.net.bytes, ip, sizeof(ip));
	a = c.net;
	addr_format(&a, 65535, ip2, sizeof(ip2), peer, sizeof(peer));
	snprintf(again, sizeof(again), c.net.family == AF_INET6 ?
	    "[%s]:65535" : "%s:65535", ip);
	CHECK("addr-format", strcmp(ip, ip2) == 0 && strcmp(peer, again) == 0);
	if (c.net.family == AF_INET) {
		memset(&a, 0, sizeof(a));
		a.family = AF_INET6;
		a.bytes[10] = a.bytes[11] = 0xff;
		memcpy(a.bytes + 12, c.net.bytes, 4);
		addr_format(&a, 1, ip2, sizeof(ip2), peer, sizeof(peer));
		CHECK("addr-format-mapped", a.family == AF_INET &&
		    strcmp(ip, ip2) == 0);
	}
	snprintf(again, sizeof(again), "%s/%d", ip, c.bits);
	CHECK("cidr-roundtrip", cidr_parse(again, &c2) == NULL &&
	    c2.net.family == c.net.family && c2.bits == c.bits &&
	    cidr_match(&c2, &c.net) && cidr_match(&c, &c2.net));
	/* addresses near the block: its own with one bit flipped, and the
	 * unknown address */
	for (i = 0; i < 8; i++) {
		uint32_t r = mix(&seed);

		a = c.net;
		if (c.net.family == AF_INET6 && i == 0) {
			a.family = AF_INET;	/* an IPv4 client, same bytes */
		} else {
			r %= (c.net.family == AF_INET ? 32 : 128);
			a.bytes[r / 8] ^= (unsigned char)(0x80 >> (r % 8));
		}
		CHECK("cidr-match", cidr_match(&c, &a) == ref_match(&c, &a));
	}
	memset(&a, 0, sizeof(a));
	CHECK("cidr-unknown", !cidr_match(&c, &a));
}

static int
has_upper(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return 1;
	return 0;
}

static void
check_origin(const uint8_t *d, size_t n)
{
	struct origin o, q;
	const char *l, *l2;
	size_t len, len2;
	int got, want;

	/* neither caller can pass a NUL: --origin comes from argv, and the
	 * HTTP parser refuses one in a field value */
	l = line(d, n, 4, &len);
	l2 = line(d, n, 5, &len2);
	if (memchr(l, '\0', len) != NULL || memchr(l2, '\0', len2) != NULL ||
	    origin_parse(l, len, &o) != NULL)
		return;
	CHECK("origin-lower", !has_upper(o.scheme) && !has_upper(o.host));
	CHECK("origin-port", strspn(o.port, "0123456789") == strlen(o.port) &&
	    strlen(o.port) <= 5);
	CHECK("origin-host", strcmp(o.scheme, "null") == 0 ||
	    o.host[0] != '\0');
	if (o.host[0] != '*') {
		CHECK("origin-self", origin_allowed(&o, 1, l, len));
		if (strcmp(o.scheme, "null") != 0) {
			char *up = cstring(l, len);
			size_t i;

			for (i = 0; i < len; i++)
				up[i] = (char)toupper_ascii(up[i]);
			CHECK("origin-case", origin_allowed(&o, 1, up, len));
			free(up);
		}
	}

	/* line 6 against line 5, by a reference comparison */
	got = origin_allowed(&o, 1, l2, len2);
	want = 0;
	if (origin_parse(l2, len2, &q) == NULL && q.host[0] != '*' &&
	    strcmp(q.scheme, o.scheme) == 0 && strcmp(q.port, o.port) == 0) {
		size_t hl = strlen(q.host), pl = strlen(o.host);

		if (o.host[0] == '*')
			want = hl > pl - 1 && strcmp(q.host + hl - (pl - 1),
			    o.host + 1) == 0;
		else
			want = strcmp(q.host, o.host) == 0;
	}
	CHECK("origin-allowed", got == want);
}

static uint32_t
rnd_fixed(uint32_t below)
{
	return below / 2;
}

/* The class balance.h tries a peer in: 0 up, 1 up but draining, 2 down,
 * 3 down and draining; -1 when it is not tried (down while another is up). */
static int
class_of(const struct balance_peer *p, size_t nb, size_t i)
{
	size_t j;
	int any_up = 0;

	for (j = 0; j < nb; j++)
		any_up |= !p[j].down;
	if (p[i].down && any_up)
		return -1;
	return (p[i].down ? 2 : 0) + (p[i].draining ? 1 : 0);
}

static void
check_balance(const uint8_t *d, size_t n)
{
	static const char *const names[] = {
		"first", "random", "roundrobin", "leastconn", "source"
	};
	static char keys[ROUTE_MAX_BACKENDS][24];
	struct balance_peer p[ROUTE_MAX_BACKENDS];
	size_t order[ROUTE_MAX_BACKENDS], again[ROUTE_MAX_BACKENDS];
	size_t nb = n > 0 ? d[0] % ROUTE_MAX_BACKENDS + 1 : 1, i, k, want = 0;
	unsigned char seen[ROUTE_MAX_BACKENDS] = { 0 };
	uint32_t turn = n > 1 ? d[1] * 65537u : 0;
	const char *l;
	char *client;
	size_t len;
	int m = balance_parse(names[n % 5]);

	CHECK("balance-parse", m == (int)(n % 5));
	/* the peers' weights, counts and states from the input's bytes */
	for (i = 0; i < nb; i++) {
		uint8_t b = i + 2 < n ? d[i + 2] : 0;

		snprintf(keys[i], sizeof(keys[i]), "ws://10.0.0.%zu", i);
		p[i].key = keys[i];
		p[i].weight = (unsigned)b % BALANCE_WEIGHT_MAX + 1;
		p[i].open = b >> 3;
		p[i].down = (b & 1) != 0;
		p[i].draining = (b & 6) == 6;
	}
	for (i = 0; i < nb; i++)
		want += class_of(p, nb, i) >= 0;
	l = line(d, n, 3, &len);
	client = cstring(l, len);
	k = balance_order((enum balance)m, p, nb, len > 0 ? client : NULL,
	    turn, rnd_fixed, order);
	CHECK("balance-tier-size", k == want && k >= 1);
	for (i = 0; i < k; i++) {
		CHECK("balance-distinct", order[i] < nb && !seen[order[i]]);
		CHECK("balance-class", class_of(p, nb, order[i]) >= 0 &&
		    (i == 0 || class_of(p, nb, order[i - 1]) <=
		    class_of(p, nb, order[i])));
		seen[order[i]] = 1;
	}
	/* with the same inputs, the same order (rnd is fixed here) */
	balance_order((enum balance)m, p, nb, len > 0 ? client : NULL, turn,
	    rnd_fixed, again);
	CHECK("balance-stable", memcmp(order, again, k * sizeof(order[0])) ==
	    0);
	free(client);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int ready;
	const char *l;
	size_t len;

	if (!ready) {
		char msg[256];
		size_t i;

		for (i = 0; i < NFIXED; i++)
			if (route_parse(route_args[i], &routes[i], msg,
			    sizeof(msg)) != NULL)
				abort();
		ready = 1;
	}
	l = line(d, n, 0, &len);
	check_url(l, len);
	check_routes(d, n);
	check_cidr(d, n);
	check_origin(d, n);
	check_balance(d, n);
	return 0;
}
