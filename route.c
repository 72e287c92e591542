/*
 * Backend URLs, routes, and the ProxyPass path mapping of SPEC.md: the part of
 * the request-target after the route's PATH is appended to the backend path.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "host.h"
#include "balance.h"
#include "route.h"
#include "util.h"

/* characters of a path as wstunnel accepts it in a backend URL or route */
static int
is_path_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '?' && c != '#' && c != '\\';
}

static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static const char *
check_path(const char *p, size_t len)
{
	size_t i;

	if (len > 0 && p[0] != '/')
		return "path must start with /";
	for (i = 0; i < len; i++) {
		if (p[i] == '?' || p[i] == '#')
			return "a query or fragment is not allowed here";
		if (!is_path_char(p[i]))
			return "invalid character in path";
	}
	return NULL;
}

static const char *
parse_unix(const char *p, const char *end, struct url *u)
{
	const char *q = memchr(p, ':', end - p);

	if (q == NULL)
		q = end;
	if (q == p || *p != '/')
		return "unix socket path must be absolute";
	if ((size_t)(q - p) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return "unix socket path too long";
	if (memchr(p, '\0', q - p) != NULL)
		return "NUL in unix socket path";
	u->is_unix = 1;
	u->host = p;
	u->host_len = q - p;
	u->path = end;		/* none: empty */
	if (q < end) {
		u->path = q + 1;
		u->path_len = end - q - 1;
		if (u->path_len == 0 || u->path[0] != '/')
			return "path after the unix socket must start with /";
		return check_path(u->path, u->path_len);
	}
	return NULL;
}

static const char *
parse_port(const char *p, size_t len, struct url *u)
{
	if (port_number(p, len) == -1)
		return "invalid port";
	u->port = p;
	u->port_len = len;
	return NULL;
}

/* host [":" port], host a name, an IPv4 address or a [bracketed IPv6] one */
static const char *
parse_authority(const char *p, const char *end, const char **rest,
    struct url *u)
{
	const char *q;

	if (p < end && *p == '[') {
		char v6[INET6_ADDRSTRLEN];
		unsigned char addr[16];

		if ((q = memchr(p, ']', end - p)) == NULL)
			return "unterminated [IPv6 address]";
		u->host = p + 1;
		u->host_len = q - p - 1;
		if (u->host_len == 0 || u->host_len >= sizeof(v6))
			return "invalid IPv6 address";
		memcpy(v6, u->host, u->host_len);
		v6[u->host_len] = '\0';
		if (inet_pton(AF_INET6, v6, addr) != 1)
			return "invalid IPv6 address";
		q++;
	} else {
		size_t i;

		for (q = p; q < end && *q != ':' && *q != '/'; q++)
			if (*q == '@')
				return "user information is not supported";
		u->host = p;
		u->host_len = q - p;
		if (u->host_len == 0)
			return "missing host";
		for (i = 0; i < u->host_len; i++)
			if (!is_unreserved(u->host[i]) || u->host[i] == '~')
				return "invalid character in host";
		/* it is sent as Host: only what a wstunnel would take from
		 * a client */
		if (!host_valid(u->host, u->host_len))
			return "invalid host (an empty label, or a name ending "
			    "in a number that is not an IPv4 address)";
	}
	if (q < end && *q == ':') {
		const char *ps = ++q;

		while (q < end && *q != '/')
			q++;
		if ((p = parse_port(ps, q - ps, u)) != NULL)
			return p;
	}
	if (q < end && *q != '/')
		return "unexpected character after host";
	*rest = q;
	return NULL;
}

const char *
url_parse(const char *s, size_t len, struct url *u)
{
	const char *p, *end = s + len, *why;

	memset(u, 0, sizeof(*u));
	if (len >= 5 && strncasecmp(s, "ws://", 5) == 0)
		p = s + 5;
	else if (len >= 6 && strncasecmp(s, "wss://", 6) == 0) {
		u->tls = 1;
		p = s + 6;
	} else
		return "backend URL must start with ws:// or wss://";
	if (end - p >= 5 && memcmp(p, "unix:", 5) == 0)
		return parse_unix(p + 5, end, u);
	if ((why = parse_authority(p, end, &p, u)) != NULL)
		return why;
	u->path = p;
	u->path_len = end - p;
	return check_path(u->path, u->path_len);
}

static int
is_ip_literal(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 ||
	    inet_pton(AF_INET6, host, addr) == 1;
}

/*
 * The authority a client would send in Host for u (RFC 9110 sections 4.2.3
 * and 7.2): the port as a number, and none when it is the scheme's
 * default, so "ws://h:080" and "ws://h" both send "h", as a browser does;
 * "ws://h:08000" sends "h:8000", which Location rewriting then matches.
 */
static char *
url_authority(const struct url *u, int port)
{
	char num[8] = "";
	char *s;
	int v6 = memchr(u->host, ':', u->host_len) != NULL;

	if (u->is_unix)
		return strdup("localhost");
	if (port != (u->tls ? 443 : 80))
		snprintf(num, sizeof(num), ":%d", port);
	if (asprintf(&s, "%s%.*s%s%s", v6 ? "[" : "", (int)u->host_len,
	    u->host, v6 ? "]" : "", num) == -1)
		return NULL;
	return s;
}

static const char *
backend_init(const char *s, size_t len, struct backend *b, char *msg,
    size_t msgsize)
{
	struct url u;
	const char *why;
	char num[8];
	int port;

	memset(b, 0, sizeof(*b));
	if ((why = url_parse(s, len, &u)) != NULL) {
		snprintf(msg, msgsize, "backend URL %.*s: %s", (int)len, s, why);
		return msg;
	}
	port = (u.port_len > 0 ? port_number(u.port, u.port_len) :
	    u.tls ? 443 : 80);
	snprintf(num, sizeof(num), "%d", port);
	b->url = strndup(s, len);
	b->tls = u.tls;
	b->is_unix = u.is_unix;
	b->host = strndup(u.host, u.host_len);
	b->port = strdup(num);
	b->path = strndup(u.path, u.path_len);
	b->authority = url_authority(&u, port);
	if (b->url == NULL || b->host == NULL || b->port == NULL ||
	    b->path == NULL || b->authority == NULL) {
		snprintf(msg, msgsize, "out of memory");
		return msg;
	}
	b->numeric = !u.is_unix && is_ip_literal(b->host);
	return NULL;
}

static void
backend_free(struct backend *b)
{
	free(b->url);
	free(b->host);
	free(b->port);
	free(b->path);
	free(b->authority);
}

/* A backend URL with an optional ";weight=N" after it (balance.c). */
static const char *
backend_weighted(const char *s, size_t len, struct backend *b, char *msg,
    size_t msgsize)
{
	const char *why;
	size_t urllen;
	unsigned weight;

	if ((why = balance_weight(s, len, &urllen, &weight)) != NULL) {
		snprintf(msg, msgsize, "backend URL %.*s: %s", (int)len, s, why);
		return msg;
	}
	if ((why = backend_init(s, urllen, b, msg, msgsize)) != NULL)
		return why;
	b->weight = weight;
	return NULL;
}

const char *
route_parse(const char *arg, struct route *r, char *msg, size_t msgsize)
{
	const char *list = arg, *eq = arg, *why, *p, *comma, *path;
	size_t plen = 1, n;

	memset(r, 0, sizeof(*r));
	if (arg[0] == '/') {
		if ((eq = strchr(arg, '=')) == NULL) {
			snprintf(msg, msgsize, "route %s: expected PATH=URL",
			    arg);
			return msg;
		}
		plen = eq - arg;
		list = eq + 1;
	}
	if ((r->path = malloc(plen + 1)) == NULL)
		return "out of memory";
	/* requests are matched normalised, so the route must be too */
	path = (list == arg ? "/" : arg);
	if ((why = check_path(path, plen)) != NULL ||
	    (why = route_normalize(path, plen, r->path, &plen)) != NULL) {
		snprintf(msg, msgsize, "route %.*s: %s", (int)(eq - arg),
		    arg, why);
		return msg;
	}
	r->path[plen] = '\0';
	r->path_len = plen;
	for (r->prefix_len = plen; r->prefix_len > 0 &&
	    r->path[r->prefix_len - 1] == '/'; r->prefix_len--)
		;
	r->prefix = strndup(r->path, r->prefix_len);
	for (n = 1, p = list; (p = strchr(p, ',')) != NULL; p++)
		n++;
	if (n > ROUTE_MAX_BACKENDS) {
		snprintf(msg, msgsize, "route %s: more than %d backends",
		    r->path, ROUTE_MAX_BACKENDS);
		return msg;
	}
	r->backends = calloc(n, sizeof(*r->backends));
	if (r->prefix == NULL || r->backends == NULL)
		return "out of memory";
	for (p = list; r->nbackends < n; p = comma + 1) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		if ((why = backend_weighted(p, comma - p,
		    &r->backends[r->nbackends++], msg, msgsize)) != NULL)
			return why;
	}
	return NULL;
}

void
route_free(struct route *r)
{
	size_t i;

	for (i = 0; i < r->nbackends; i++)
		backend_free(&r->backends[i]);
	free(r->backends);
	free(r->path);
	free(r->prefix);
	memset(r, 0, sizeof(*r));
}

/* Whether s starts with prefix on a segment boundary: /app matches /app,
 * /app/x and /app?q but not /apple. */
static int
under(const char *prefix, size_t plen, const char *s, size_t len)
{
	return len >= plen && memcmp(s, prefix, plen) == 0 &&
	    (len == plen || s[plen] == '/' || s[plen] == '?');
}

int
route_match(const struct route *r, size_t n, const char *target, size_t len)
{
	size_t i;
	int best = -1;

	for (i = 0; i < n; i++)
		if (under(r[i].prefix, r[i].prefix_len, target, len) &&
		    (best == -1 || r[i].prefix_len > r[best].prefix_len))
			best = (int)i;
	return best;
}

/* Whether the segment [seg, end) is "." or "..", alone or with path
 * parameters: servlet containers (Tomcat) strip ";..." from a segment
 * before they resolve dot-segments, so "/app/..;/admin" is their "/admin".
 * A ";" still encoded counts too, for servers that decode it first. */
static int
is_dot_segment(const char *seg, const char *end)
{
	const char *p = seg;

	while (p < end && p - seg < 2 && *p == '.')
		p++;
	if (p == seg)
		return 0;
	return p == end || *p == ';' || (end - p >= 3 && p[0] == '%' &&
	    p[1] == '3' && (p[2] == 'b' || p[2] == 'B'));
}

/* Whether the path part of a normalised target has a dot-segment. */
static int
has_dot_segment(const char *p, size_t len)
{
	const char *end = p + len, *seg, *q = memchr(p, '?', len);

	if (q != NULL)
		end = q;
	for (seg = p; seg < end; seg = q + 1) {
		if ((q = memchr(seg, '/', end - seg)) == NULL)
			q = end;
		if (is_dot_segment(seg, q))
			return 1;
	}
	return 0;
}

const char *
route_normalize(const char *t, size_t len, char *out, size_t *outlen)
{
	size_t i, o = 0;
	int query = 0, hi, lo;

	for (i = 0; i < len; i++) {
		if (t[i] == '#')
			return "fragment in request target";
		if (t[i] == '?')
			query = 1;
		if (query || t[i] != '%') {
			if (!query && t[i] == '\\')
				return "backslash in path";
			out[o++] = t[i];
			continue;
		}
		if (len - i < 3 || (hi = hexval(t[i + 1])) < 0 ||
		    (lo = hexval(t[i + 2])) < 0)
			return "malformed percent-encoding in path";
		switch (hi << 4 | lo) {
		case '/': case '\\': case '\0':
			return "encoded slash, backslash or NUL in path";
		}
		if (is_unreserved(hi << 4 | lo))
			out[o++] = (char)(hi << 4 | lo);
		else {
			memcpy(out + o, t + i, 3);
			o += 3;
		}
		i += 2;
	}
	*outlen = o;
	if (has_dot_segment(out, o))
		return "dot-segment in path";
	return NULL;
}

/* Appends [s, s+n) at *o in out[size]; -1 when it does not fit. */
static int
put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (n > size - *o)
		return -1;
	memcpy(out + *o, s, n);
	*o += n;
	return 0;
}

ssize_t
route_map(const char *rpath, size_t rplen, const char *bpath, size_t blen,
    const char *target, size_t len, char *out, size_t size)
{
	const char *rest, *end = target + len, *q;
	size_t plen = rplen, o = 0, rlen;

	while (plen > 0 && rpath[plen - 1] == '/')
		plen--;
	if (!under(rpath, plen, target, len))
		return -1;
	if ((q = memchr(target, '?', len)) == NULL)
		q = end;
	/* exactly the route's PATH goes to exactly the backend path: with a
	 * bare URL ws://h/ws, "/" is "/ws", never "/ws/" (SPEC.md) */
	rest = (size_t)(q - target) == rplen &&
	    memcmp(target, rpath, rplen) == 0 ? q : target + plen;
	rlen = q - rest;
	if (rlen > 0 && blen > 0 && bpath[blen - 1] == '/')
		blen--;		/* one slash between backend path and rest */
	if (blen == 0 && rlen == 0) {
		bpath = "/";
		blen = 1;
	}
	if (put(out, size, &o, bpath, blen) == -1 ||
	    put(out, size, &o, rest, end - rest) == -1)
		return -1;
	return (ssize_t)o;
}

ssize_t
route_unmap(const char *prefix, size_t plen, const char *bpath, size_t blen,
    const char *path, size_t len, char *out, size_t size)
{
	size_t o = 0;

	if (blen > 0 && bpath[blen - 1] == '/')
		blen--;
	if (!under(bpath, blen, path, len) || len == 0 || path[0] != '/')
		return 0;
	path += blen;
	len -= blen;
	if (put(out, size, &o, prefix, plen) == -1)
		return -1;
	if (plen == 0 && (len == 0 || path[0] == '?') &&
	    put(out, size, &o, "/", 1) == -1)
		return -1;
	if (put(out, size, &o, path, len) == -1)
		return -1;
	return (ssize_t)o;
}
