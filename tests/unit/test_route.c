/*
 * route.c: backend URLs, routes, longest-prefix matching, ProxyPass path
 * mapping and its inverse, and request-target normalisation (SPEC.md
 * "Command line" and the dot-segment row of "The client request").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

struct url_case {
	const char	*in;
	int		 ok;
	int		 tls, is_unix;
	const char	*host, *port, *path;	/* "" when not given */
};

static const struct url_case url_cases[] = {
	{ "ws://example.com", 1, 0, 0, "example.com", "", "" },
	{ "ws://example.com/", 1, 0, 0, "example.com", "", "/" },
	{ "ws://example.com:8080/ws", 1, 0, 0, "example.com", "8080", "/ws" },
	{ "wss://example.com/x/y", 1, 1, 0, "example.com", "", "/x/y" },
	{ "wss://example.com:8443", 1, 1, 0, "example.com", "8443", "" },
	{ "WS://example.com/a", 1, 0, 0, "example.com", "", "/a" },
	{ "WSS://example.com/a", 1, 1, 0, "example.com", "", "/a" },
	{ "ws://127.0.0.1:8000/ws", 1, 0, 0, "127.0.0.1", "8000", "/ws" },
	{ "ws://127.0.0.1", 1, 0, 0, "127.0.0.1", "", "" },
	{ "ws://[::1]:8080/ws", 1, 0, 0, "::1", "8080", "/ws" },
	{ "ws://[::1]", 1, 0, 0, "::1", "", "" },
	{ "wss://[2001:db8::1]/p", 1, 1, 0, "2001:db8::1", "", "/p" },
	{ "ws://[::ffff:192.0.2.1]:81", 1, 0, 0, "::ffff:192.0.2.1", "81", "" },
	{ "ws://a-b_c.example:1/", 1, 0, 0, "a-b_c.example", "1", "/" },
	{ "ws://h:65535", 1, 0, 0, "h", "65535", "" },
	{ "ws://h/a/b%20c/d;e", 1, 0, 0, "h", "", "/a/b%20c/d;e" },
	{ "ws://unix:/run/app.sock", 1, 0, 1, "/run/app.sock", "", "" },
	{ "ws://unix:/run/app.sock:/uri", 1, 0, 1, "/run/app.sock", "", "/uri" },
	{ "wss://unix:/run/app.sock:/a/b", 1, 1, 1, "/run/app.sock", "",
	    "/a/b" },

	{ "ws://a.example./", 1, 0, 0, "a.example.", "", "/" },
	{ "ws://h:08000/ws", 1, 0, 0, "h", "08000", "/ws" },

	/* a host the backend, if it is another wstunnel, would refuse in
	 * Host: empty labels, and names ending in a number that are not an
	 * IPv4 address (getaddrinfo() reads "127.1" as 127.0.0.1) */
	{ "ws://127.1:8000", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://0x7f.0.0.1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://1.2.3.4.5/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://01.2.3.4/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h.123", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://2130706433", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://a..example", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://.example", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://./", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://", 0, 0, 0, NULL, NULL, NULL },
	{ "ws:///path", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://:80/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:0", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:65536", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:99999", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:123456", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:abc", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:80a/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:-1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h:/x", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h/path?x=1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h?x=1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h/p#frag", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h/p q", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h/p\\q", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://user@h/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://user:pw@h:80/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://h x/", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://[::1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://[]", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://[zz::1]", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://[::1]x", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://[::1]:0", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:run/app.sock", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:/run/app.sock:", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:/run/app.sock:uri", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:/run/app.sock:/uri?x=1", 0, 0, 0, NULL, NULL, NULL },
	{ "ws://unix:/run/app.sock:/a b", 0, 0, 0, NULL, NULL, NULL },
	{ "http://h/", 0, 0, 0, NULL, NULL, NULL },
	{ "https://h/", 0, 0, 0, NULL, NULL, NULL },
	{ "tcp://h:80", 0, 0, 0, NULL, NULL, NULL },
	{ "ws:/h", 0, 0, 0, NULL, NULL, NULL },
	{ "h:80", 0, 0, 0, NULL, NULL, NULL },
	{ "/app", 0, 0, 0, NULL, NULL, NULL },
	{ "", 0, 0, 0, NULL, NULL, NULL },
};

static void
test_url_parse(void)
{
	struct url u;
	const char *why;
	size_t i;

	for (i = 0; i < NITEMS(url_cases); i++) {
		const struct url_case *c = &url_cases[i];

		memset(&u, 0xa5, sizeof(u));
		why = url_parse(c->in, strlen(c->in), &u);
		if (!c->ok) {
			CHECK(why != NULL && why[0] != '\0',
			    "url \"%s\" refused", c->in);
			continue;
		}
		if (!CHECK(why == NULL, "url \"%s\" accepted, got \"%s\"", c->in,
		    why != NULL ? why : ""))
			continue;
		/* even when empty (crash-unix-url-without-path-strndup-null:
		 * NULL for a unix: URL without a path) */
		CHECK(u.path != NULL, "url \"%s\": path not NULL", c->in);
		CHECK_INT(u.tls, c->tls, "url \"%s\": tls", c->in);
		CHECK_INT(u.is_unix, c->is_unix, "url \"%s\": is_unix", c->in);
		CHECK_MEM(u.host, u.host_len, c->host, "url \"%s\": host", c->in);
		CHECK_MEM(u.port_len > 0 ? u.port : "", u.port_len, c->port,
		    "url \"%s\": port", c->in);
		CHECK_MEM(u.path_len > 0 ? u.path : "", u.path_len, c->path,
		    "url \"%s\": path", c->in);
	}
	/* only len bytes count */
	why = url_parse("ws://h:80/a?x", strlen("ws://h:80/a"), &u);
	CHECK(why == NULL, "url: only len bytes are parsed");
	if (why == NULL)
		CHECK_MEM(u.path, u.path_len, "/a", "url: len-bounded path");
}

struct backend_want {
	int		 tls, is_unix, numeric;
	const char	*host, *port, *path, *authority;
};

struct route_case {
	const char	*arg;
	int		 ok;
	const char	*path, *prefix;
	size_t		 n;
	struct backend_want b[3];
};

static const struct route_case route_cases[] = {
	{ "ws://127.0.0.1:8000/ws", 1, "/", "", 1, {
	    { 0, 0, 1, "127.0.0.1", "8000", "/ws", "127.0.0.1:8000" } } },
	{ "wss://example.com", 1, "/", "", 1, {
	    { 1, 0, 0, "example.com", "443", "", "example.com" } } },
	{ "ws://example.com/", 1, "/", "", 1, {
	    { 0, 0, 0, "example.com", "80", "/", "example.com" } } },
	{ "/gateone/ws=ws://127.0.0.1:8000/ws", 1, "/gateone/ws",
	    "/gateone/ws", 1, {
	    { 0, 0, 1, "127.0.0.1", "8000", "/ws", "127.0.0.1:8000" } } },
	{ "/app/=ws://a,wss://b:8443/x,ws://[::1]:9000", 1, "/app/", "/app", 3, {
	    { 0, 0, 0, "a", "80", "", "a" },
	    { 1, 0, 0, "b", "8443", "/x", "b:8443" },
	    { 0, 0, 1, "::1", "9000", "", "[::1]:9000" } } },
	{ "/app//=ws://a", 1, "/app//", "/app", 1, {
	    { 0, 0, 0, "a", "80", "", "a" } } },
	{ "/=ws://[2001:db8::1]", 1, "/", "", 1, {
	    { 0, 0, 1, "2001:db8::1", "80", "", "[2001:db8::1]" } } },
	{ "/s=ws://unix:/run/app.sock:/ws", 1, "/s", "/s", 1, {
	    { 0, 1, 0, "/run/app.sock", NULL, "/ws", "localhost" } } },
	{ "ws://a,ws://b", 1, "/", "", 2, {
	    { 0, 0, 0, "a", "80", "", "a" },
	    { 0, 0, 0, "b", "80", "", "b" } } },
	/* fuzzing finds, fixed in 1ef69cf: line 2 of each corpus file */
	/* tests/fuzz/corpus/url/crash-route-prefix-percent-encoded-unreserved:
	 * requests are matched normalised, so the route is too ("/a%41" was
	 * kept and could never match) */
	{ "/a%41=ws://h", 1, "/aA", "/aA", 1, {
	    { 0, 0, 0, "h", "80", "", "h" } } },
	/* tests/fuzz/corpus/url/crash-unix-url-without-path-strndup-null: the
	 * backend path is empty (was strndup(NULL, 0)) */
	{ "/=ws://unix:/run/app.sock", 1, "/", "", 1, {
	    { 0, 1, 0, "/run/app.sock", NULL, "", "localhost" } } },

	/* issue 16: the port as a number (":08000" was sent in Host as
	 * written, and Location rewriting then never matched), left out of
	 * Host when it is the scheme's default, as a browser sends it (RFC
	 * 9110 section 4.2.3) */
	{ "ws://h:08000/ws", 1, "/", "", 1, {
	    { 0, 0, 0, "h", "8000", "/ws", "h:8000" } } },
	{ "ws://127.0.0.1:00001", 1, "/", "", 1, {
	    { 0, 0, 1, "127.0.0.1", "1", "", "127.0.0.1:1" } } },
	{ "ws://h:80/ws", 1, "/", "", 1, {
	    { 0, 0, 0, "h", "80", "/ws", "h" } } },
	{ "ws://h:0080", 1, "/", "", 1, {
	    { 0, 0, 0, "h", "80", "", "h" } } },
	{ "ws://h:443", 1, "/", "", 1, {
	    { 0, 0, 0, "h", "443", "", "h:443" } } },
	{ "wss://h:443/x", 1, "/", "", 1, {
	    { 1, 0, 0, "h", "443", "/x", "h" } } },
	{ "wss://h:80", 1, "/", "", 1, {
	    { 1, 0, 0, "h", "80", "", "h:80" } } },
	{ "/a=ws://[::1]:080,wss://[2001:db8::1]:08443/p", 1, "/a", "/a", 2, {
	    { 0, 0, 1, "::1", "80", "", "[::1]" },
	    { 1, 0, 1, "2001:db8::1", "8443", "/p", "[2001:db8::1]:8443" } } },
	{ "/u=wss://unix:/run/app.sock", 1, "/u", "/u", 1, {
	    { 1, 1, 0, "/run/app.sock", NULL, "", "localhost" } } },

	{ "/app", 0, NULL, NULL, 0, { { 0 } } },
	{ "/app=", 0, NULL, NULL, 0, { { 0 } } },
	{ "/app=http://x", 0, NULL, NULL, 0, { { 0 } } },
	{ "/app=ws://a,", 0, NULL, NULL, 0, { { 0 } } },
	{ "/app=ws://a,,ws://b", 0, NULL, NULL, 0, { { 0 } } },
	{ "/app=ws://a,ws://b:0", 0, NULL, NULL, 0, { { 0 } } },
	{ "/a?b=ws://x", 0, NULL, NULL, 0, { { 0 } } },
	{ "/a#b=ws://x", 0, NULL, NULL, 0, { { 0 } } },
	{ "/a b=ws://x", 0, NULL, NULL, 0, { { 0 } } },
	{ "app=ws://x", 0, NULL, NULL, 0, { { 0 } } },
	{ "ws://h/p?q", 0, NULL, NULL, 0, { { 0 } } },
	/* tests/fuzz/corpus/url/crash-route-prefix-dot-segment: a route no
	 * request can match, refused (was accepted as "/a/../b") */
	{ "/a/../b=ws://h", 0, NULL, NULL, 0, { { 0 } } },
	{ "", 0, NULL, NULL, 0, { { 0 } } },
};

static void
check_backend(const char *arg, size_t i, const struct backend *b,
    const struct backend_want *w)
{
	CHECK_INT(b->tls, w->tls, "route %s[%zu]: tls", arg, i);
	CHECK_INT(b->is_unix, w->is_unix, "route %s[%zu]: is_unix", arg, i);
	CHECK_INT(b->numeric, w->numeric, "route %s[%zu]: numeric", arg, i);
	CHECK_STR(b->host, w->host, "route %s[%zu]: host", arg, i);
	if (w->port != NULL)
		CHECK_STR(b->port, w->port, "route %s[%zu]: port", arg, i);
	CHECK_STR(b->path, w->path, "route %s[%zu]: path", arg, i);
	CHECK_STR(b->authority, w->authority, "route %s[%zu]: authority", arg,
	    i);
}

static void
test_route_parse(void)
{
	struct route r;
	char msg[256], arg[64 * 12 + 16];
	const char *why;
	size_t i, j, o;

	for (i = 0; i < NITEMS(route_cases); i++) {
		const struct route_case *c = &route_cases[i];

		msg[0] = '\0';
		why = route_parse(c->arg, &r, msg, sizeof(msg));
		if (!c->ok) {
			CHECK(why != NULL && why[0] != '\0',
			    "route \"%s\" refused", c->arg);
			route_free(&r);
			continue;
		}
		if (!CHECK(why == NULL, "route \"%s\" accepted, got \"%s\"",
		    c->arg, why != NULL ? why : "")) {
			route_free(&r);
			continue;
		}
		CHECK_STR(r.path, c->path, "route \"%s\": path", c->arg);
		CHECK_STR(r.prefix, c->prefix, "route \"%s\": prefix", c->arg);
		CHECK_INT(r.prefix_len, strlen(c->prefix), "route \"%s\": "
		    "prefix_len", c->arg);
		CHECK_INT(r.nbackends, c->n, "route \"%s\": nbackends", c->arg);
		for (j = 0; j < c->n && j < r.nbackends; j++)
			check_backend(c->arg, j, &r.backends[j], &c->b[j]);
		route_free(&r);
	}

	/* ROUTE_MAX_BACKENDS URLs, and one more */
	o = (size_t)snprintf(arg, sizeof(arg), "/m=");
	for (i = 0; i < ROUTE_MAX_BACKENDS; i++)
		o += (size_t)snprintf(arg + o, sizeof(arg) - o, "%sws://h%zu",
		    i > 0 ? "," : "", i);
	why = route_parse(arg, &r, msg, sizeof(msg));
	CHECK(why == NULL, "route with %d backends accepted",
	    ROUTE_MAX_BACKENDS);
	if (why == NULL) {
		CHECK_INT(r.nbackends, ROUTE_MAX_BACKENDS, "route with %d "
		    "backends: nbackends", ROUTE_MAX_BACKENDS);
		CHECK_STR(r.backends[ROUTE_MAX_BACKENDS - 1].host, "h63",
		    "route with %d backends: the last host",
		    ROUTE_MAX_BACKENDS);
	}
	route_free(&r);
	snprintf(arg + o, sizeof(arg) - o, ",ws://x");
	why = route_parse(arg, &r, msg, sizeof(msg));
	CHECK(why != NULL, "route with %d backends refused",
	    ROUTE_MAX_BACKENDS + 1);
	route_free(&r);
}

static void
make_routes(struct route *r, const char *const *args, size_t n)
{
	char msg[256];
	size_t i;

	for (i = 0; i < n; i++)
		if (!CHECK(route_parse(args[i], &r[i], msg, sizeof(msg)) ==
		    NULL, "route %s", args[i]))
			exit(1);
}

static void
free_routes(struct route *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		route_free(&r[i]);
}

struct match_case {
	const char	*target;
	int		 want;
};

static void
run_matches(const char *set, const struct route *r, size_t nr,
    const struct match_case *m, size_t nm)
{
	size_t i;

	for (i = 0; i < nm; i++)
		CHECK_INT(route_match(r, nr, m[i].target, strlen(m[i].target)),
		    m[i].want, "%s: match %s", set, m[i].target);
}

static void
test_route_match(void)
{
	static const char *const set1[] = {
		"/app=ws://a", "/app/ws=ws://b", "ws://root", "/app/ws/deep/=ws://c"
	};
	static const struct match_case m1[] = {
		{ "/app", 0 }, { "/app/", 0 }, { "/app/x", 0 }, { "/app?q", 0 },
		{ "/app?q=/app/ws", 0 }, { "/apple", 2 }, { "/app/ws", 1 },
		{ "/app/ws/", 1 }, { "/app/ws/x", 1 }, { "/app/ws?x", 1 },
		{ "/app/wsx", 0 }, { "/app/ws/deep", 3 }, { "/app/ws/deep/x", 3 },
		{ "/app/ws/deeper", 1 }, { "/", 2 }, { "/other", 2 },
		{ "/APP", 2 }, { "/ap", 2 }, { "?x", 2 },
	};
	/* longest first, and without a root route */
	static const char *const set2[] = {
		"/a/b/c=ws://x", "/a=ws://y", "/a/b=ws://z"
	};
	static const struct match_case m2[] = {
		{ "/a/b/c/d", 0 }, { "/a/b/c", 0 }, { "/a/b/cd", 2 }, { "/a/b", 2 },
		{ "/a/bc", 1 }, { "/a", 1 }, { "/ab", -1 }, { "/", -1 },
		{ "/b", -1 }, { "", -1 },
	};
	/* a route written percent-encoded matches the normalised target
	 * (tests/fuzz/corpus/url/crash-route-prefix-percent-encoded-unreserved) */
	static const char *const set4[] = { "/a%41=ws://h", "ws://root" };
	static const struct match_case m4[] = {
		{ "/aA", 0 }, { "/aA/x", 0 }, { "/aA?q", 0 }, { "/a%41", 1 },
		{ "/a", 1 },
	};
	/* "/" written out matches everything, as a bare URL does */
	static const char *const set3[] = { "/=ws://x" };
	static const struct match_case m3[] = {
		{ "/", 0 }, { "/a", 0 }, { "/a/b?c", 0 }, { "/?x", 0 },
	};
	struct route r[4];

	make_routes(r, set1, NITEMS(set1));
	run_matches("set1", r, NITEMS(set1), m1, NITEMS(m1));
	/* only len bytes of the target count */
	CHECK_INT(route_match(r, NITEMS(set1), "/app/ws", 4), 0,
	    "set1: match bounded by len");
	CHECK_INT(route_match(r, 0, "/app", 4), -1, "no routes: no match");
	free_routes(r, NITEMS(set1));

	make_routes(r, set2, NITEMS(set2));
	run_matches("set2", r, NITEMS(set2), m2, NITEMS(m2));
	free_routes(r, NITEMS(set2));

	make_routes(r, set3, NITEMS(set3));
	run_matches("set3", r, NITEMS(set3), m3, NITEMS(m3));
	free_routes(r, NITEMS(set3));

	make_routes(r, set4, NITEMS(set4));
	run_matches("set4", r, NITEMS(set4), m4, NITEMS(m4));
	free_routes(r, NITEMS(set4));
}

struct map_case {
	const char	*prefix, *bpath, *target;
	const char	*want;		/* NULL: -1 */
};

static const struct map_case map_cases[] = {
	/* SPEC.md: route /gateone/ws=ws://127.0.0.1:8000/ws */
	{ "/gateone/ws", "/ws", "/gateone/ws/a?x=1", "/ws/a?x=1" },
	{ "/gateone/ws", "/ws", "/gateone/ws?x=1", "/ws?x=1" },
	{ "/gateone/ws", "/ws", "/gateone/ws", "/ws" },
	{ "/gateone/ws", "/ws", "/gateone/ws/", "/ws/" },
	{ "/gateone/ws", "/ws", "/gateone/ws/a/b/c", "/ws/a/b/c" },
	{ "/gateone/ws", "/ws", "/gateone/ws?next=/x/y", "/ws?next=/x/y" },
	{ "/gateone/ws", "/ws/", "/gateone/ws/a", "/ws/a" },
	/* a backend URL without a path: the rest, with / put in front */
	{ "/gateone/ws", "", "/gateone/ws/a/b?x", "/a/b?x" },
	{ "/gateone/ws", "", "/gateone/ws", "/" },
	{ "/gateone/ws", "", "/gateone/ws?x=1", "/?x=1" },
	{ "/gateone/ws", "/", "/gateone/ws/a", "/a" },
	{ "/gateone/ws", "/", "/gateone/ws", "/" },
	/* the route "/", a bare URL: exactly "/" is exactly the backend path */
	{ "/", "", "/a/b?c", "/a/b?c" },
	{ "/", "", "/", "/" },
	{ "/", "", "/?q=1", "/?q=1" },
	{ "/", "/ws", "/", "/ws" },
	{ "/", "/ws", "/?q=1", "/ws?q=1" },
	{ "/", "/ws", "/x", "/ws/x" },
	{ "/", "/ws", "/a", "/ws/a" },
	{ "/", "/ws", "/a?b", "/ws/a?b" },
	{ "/", "/ws", "/a/", "/ws/a/" },
	{ "/", "/ws", "/?next=/x/", "/ws?next=/x/" },
	{ "/", "/ws/", "/", "/ws/" },
	{ "/", "/ws/", "/x", "/ws/x" },
	{ "/", "/", "/a", "/a" },
	{ "/", "/", "/", "/" },
	/* a route written with a trailing slash: that path exactly is the
	 * backend path, the path without the slash too */
	{ "/app/", "/ws", "/app/", "/ws" },
	{ "/app/", "/ws", "/app/?q", "/ws?q" },
	{ "/app/", "/ws", "/app", "/ws" },
	{ "/app/", "/ws", "/app/x", "/ws/x" },
	/* not under the prefix */
	{ "/app", "/b", "/apple", NULL },
	{ "/app", "/b", "/ap", NULL },
	{ "/app", "/b", "/other/app", NULL },
};

static void
test_route_map(void)
{
	char out[256], small[256];
	size_t i, size, want;
	ssize_t n;

	for (i = 0; i < NITEMS(map_cases); i++) {
		const struct map_case *c = &map_cases[i];

		n = route_map(c->prefix, strlen(c->prefix), c->bpath,
		    strlen(c->bpath), c->target, strlen(c->target), out,
		    sizeof(out));
		if (c->want == NULL) {
			CHECK_INT(n, -1, "map %s under %s: not under it",
			    c->target, c->prefix);
			continue;
		}
		if (!CHECK(n > 0, "map %s (prefix %s, backend path %s): got %zd",
		    c->target, c->prefix, c->bpath, n))
			continue;
		CHECK_MEM(out, (size_t)n, c->want, "map %s (prefix \"%s\", "
		    "backend path \"%s\")", c->target, c->prefix, c->bpath);

		/* every smaller buffer is refused, without writing past it */
		want = strlen(c->want);
		for (size = 0; size < want; size++) {
			memset(small, '#', sizeof(small));
			n = route_map(c->prefix, strlen(c->prefix), c->bpath,
			    strlen(c->bpath), c->target, strlen(c->target),
			    small, size);
			CHECK_INT(n, -1, "map %s into %zu bytes", c->target,
			    size);
			CHECK_INT(small[size], '#', "map %s into %zu bytes: "
			    "nothing written past it", c->target, size);
		}
		n = route_map(c->prefix, strlen(c->prefix), c->bpath,
		    strlen(c->bpath), c->target, strlen(c->target), small, want);
		CHECK_INT(n, want, "map %s into exactly %zu bytes", c->target,
		    want);
	}
	/* only len bytes of the target count */
	n = route_map("/g", 2, "/ws", 3, "/g/a?xyz", 4, out, sizeof(out));
	CHECK_MEM(out, n > 0 ? (size_t)n : 0, "/ws/a", "map bounded by len");
}

struct unmap_case {
	const char	*prefix, *bpath, *path;
	const char	*want;		/* NULL: 0, not under bpath */
};

static const struct unmap_case unmap_cases[] = {
	{ "/gateone/ws", "/ws", "/ws/a?x=1", "/gateone/ws/a?x=1" },
	{ "/gateone/ws", "/ws", "/ws?x=1", "/gateone/ws?x=1" },
	{ "/gateone/ws", "/ws", "/ws", "/gateone/ws" },
	{ "/gateone/ws", "/ws", "/ws/", "/gateone/ws/" },
	{ "/gateone/ws", "/ws", "/ws/a/b", "/gateone/ws/a/b" },
	{ "/gateone/ws", "/ws/", "/ws/a", "/gateone/ws/a" },
	{ "/gateone/ws", "", "/a/b?x", "/gateone/ws/a/b?x" },
	{ "/gateone/ws", "/", "/a", "/gateone/ws/a" },
	{ "", "/ws", "/ws/a", "/a" },
	{ "", "/ws", "/ws", "/" },
	{ "", "/ws", "/ws?x", "/?x" },
	{ "", "", "/a?b", "/a?b" },
	{ "/gateone/ws", "/ws", "/wsx", NULL },
	{ "/gateone/ws", "/ws", "/w", NULL },
	{ "/gateone/ws", "/ws", "/other/ws", NULL },
	{ "/gateone/ws", "/ws", "ws/a", NULL },
	{ "/gateone/ws", "/ws", "", NULL },
	{ "/gateone/ws", "/a/b", "/a", NULL },
	{ "/gateone/ws", "", "a", NULL },
};

static void
test_route_unmap(void)
{
	char out[256], small[256];
	size_t i, size, want;
	ssize_t n;

	for (i = 0; i < NITEMS(unmap_cases); i++) {
		const struct unmap_case *c = &unmap_cases[i];

		n = route_unmap(c->prefix, strlen(c->prefix), c->bpath,
		    strlen(c->bpath), c->path, strlen(c->path), out,
		    sizeof(out));
		if (c->want == NULL) {
			CHECK_INT(n, 0, "unmap \"%s\" (backend path \"%s\"): "
			    "not under it", c->path, c->bpath);
			continue;
		}
		if (!CHECK(n > 0, "unmap %s (prefix \"%s\", backend path "
		    "\"%s\"): got %zd", c->path, c->prefix, c->bpath, n))
			continue;
		CHECK_MEM(out, (size_t)n, c->want, "unmap %s (prefix \"%s\", "
		    "backend path \"%s\")", c->path, c->prefix, c->bpath);
		want = strlen(c->want);
		for (size = 0; size < want; size++) {
			memset(small, '#', sizeof(small));
			n = route_unmap(c->prefix, strlen(c->prefix), c->bpath,
			    strlen(c->bpath), c->path, strlen(c->path), small,
			    size);
			CHECK_INT(n, -1, "unmap %s into %zu bytes", c->path,
			    size);
			CHECK_INT(small[size], '#', "unmap %s into %zu bytes: "
			    "nothing written past it", c->path, size);
		}
	}
	/* unmap inverts map for the SPEC.md route */
	for (i = 0; i < NITEMS(map_cases); i++) {
		const struct map_case *c = &map_cases[i];
		char back[256];
		ssize_t m;

		size_t plen = strlen(c->prefix);

		/* the SPEC.md routes */
		if (c->want == NULL || strcmp(c->bpath, "/ws") != 0 ||
		    (strcmp(c->prefix, "/gateone/ws") != 0 &&
		    strcmp(c->prefix, "/") != 0))
			continue;
		n = route_map(c->prefix, plen, c->bpath,
		    strlen(c->bpath), c->target, strlen(c->target), out,
		    sizeof(out));
		if (n <= 0)
			continue;
		if (strcmp(c->prefix, "/") == 0)
			plen = 0;	/* the route's prefix, its slash cut */
		m = route_unmap(c->prefix, plen, c->bpath,
		    strlen(c->bpath), out, (size_t)n, back, sizeof(back));
		CHECK_MEM(back, m > 0 ? (size_t)m : 0, c->target,
		    "unmap(map(%s))", c->target);
	}
}

struct norm_case {
	const char	*in;
	const char	*want;		/* NULL: refused */
};

static const struct norm_case norm_cases[] = {
	{ "/", "/" },
	{ "/a/b?x=1", "/a/b?x=1" },
	{ "/%41%62c", "/Abc" },
	{ "/%7e%7E", "/~~" },
	{ "/%2d%2E%5f%30", "/-._0" },
	{ "/%61%7A%5A", "/azZ" },
	{ "/a%20b", "/a%20b" },
	{ "/%3F", "/%3F" },
	{ "/%3f%23%25", "/%3f%23%25" },
	{ "/a%2eb", "/a.b" },
	{ "/a/.b", "/a/.b" },
	{ "/a/..b", "/a/..b" },
	{ "/a/b.", "/a/b." },
	{ "/a/b..", "/a/b.." },
	{ "/...", "/..." },
	{ "/a/.../b", "/a/.../b" },
	{ "//a//b//", "//a//b//" },
	/* the query is left alone */
	{ "/a?x=/../", "/a?x=/../" },
	{ "/a?x=/./y", "/a?x=/./y" },
	{ "/a?x=%41%2e%2F", "/a?x=%41%2e%2F" },
	{ "/a?%", "/a?%" },
	{ "/a?x=%zz", "/a?x=%zz" },
	{ "/a?..", "/a?.." },
	{ "/.?x", NULL },
	{ "/..?x", NULL },

	/* dot-segments, also percent-encoded */
	{ "/./a", NULL },
	{ "/a/./b", NULL },
	{ "/a/../b", NULL },
	{ "/a/.", NULL },
	{ "/a/..", NULL },
	{ "/.", NULL },
	{ "/..", NULL },
	{ "/../", NULL },
	{ "/%2e", NULL },
	{ "/%2E/a", NULL },
	{ "/a/%2e%2e/b", NULL },
	{ "/a/%2E%2E", NULL },
	{ "/a/.%2e", NULL },
	{ "/a/%2e.", NULL },
	{ "/a/%2e%2E/", NULL },
	/* issue 16: a dot-segment with path parameters, which servlet
	 * containers (Tomcat) strip before they resolve "..": "/app/..;/admin"
	 * is their "/admin" */
	{ "/app/..;/admin", NULL },
	{ "/..;", NULL },
	{ "/..;/", NULL },
	{ "/..;?x", NULL },
	{ "/a/.;/b", NULL },
	{ "/a/.;", NULL },
	{ "/a/.;x=1/b", NULL },
	{ "/a/..;jsessionid=1/b", NULL },
	{ "/a/..;;/b", NULL },
	{ "/a/%2e%2e;/b", NULL },
	{ "/a/.%2E;/b", NULL },
	{ "/a/%2E.;", NULL },
	{ "/a/%2e;/b", NULL },
	{ "/a/..%3b/b", NULL },
	{ "/a/..%3B/b", NULL },
	{ "/a/.%3b", NULL },
	{ "/a/%2e%2e%3B/b", NULL },
	{ "/a/b;c", "/a/b;c" },
	{ "/a/b;../c", "/a/b;../c" },
	{ "/a/;../c", "/a/;../c" },
	{ "/a/...;/b", "/a/...;/b" },
	{ "/a/x..;/b", "/a/x..;/b" },
	{ "/a/.x;/b", "/a/.x;/b" },
	{ "/a/..x;/b", "/a/..x;/b" },
	{ "/a/..%3c/b", "/a/..%3c/b" },
	{ "/a?/..;/b", "/a?/..;/b" },
	/* encoded slash, backslash, NUL */
	{ "/a%2Fb", NULL },
	{ "/a%2fb", NULL },
	{ "/a%5Cb", NULL },
	{ "/a%5cb", NULL },
	{ "/a%00b", NULL },
	{ "/..%2f", NULL },
	/* malformed percent-encoding */
	{ "/a%", NULL },
	{ "/a%4", NULL },
	{ "/a%4?x", NULL },
	{ "/a%zz", NULL },
	{ "/a%4g", NULL },
	{ "/a%g4", NULL },
	{ "/a%%41", NULL },
	/* fragment and backslash */
	{ "/a#f", NULL },
	{ "/a?x#f", NULL },
	{ "/#", NULL },
	{ "/a\\b", NULL },
	{ "/a\\..\\b", NULL },
	{ "\\", NULL },
};

static void
test_route_normalize(void)
{
	char out[256];
	size_t i, outlen;
	const char *why;

	for (i = 0; i < NITEMS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];

		outlen = 9999;
		why = route_normalize(c->in, strlen(c->in), out, &outlen);
		if (c->want == NULL) {
			CHECK(why != NULL && why[0] != '\0',
			    "normalize \"%s\" refused", c->in);
			continue;
		}
		if (!CHECK(why == NULL, "normalize \"%s\" accepted, got \"%s\"",
		    c->in, why != NULL ? why : ""))
			continue;
		CHECK_MEM(out, outlen, c->want, "normalize \"%s\"", c->in);
	}
	/* only len bytes of the target count */
	why = route_normalize("/a/..", 3, out, &outlen);
	CHECK(why == NULL, "normalize bounded by len");
	CHECK_MEM(out, why == NULL ? outlen : 0, "/a/", "normalize bounded by "
	    "len: output");
}

int
main(void)
{
	test_url_parse();
	test_route_parse();
	test_route_match();
	test_route_map();
	test_route_unmap();
	test_route_normalize();
	return t_done();
}
