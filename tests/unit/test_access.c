/* access.c: --allow/--deny CIDR rules and --origin. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "access.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* A client address from text; "" is an unknown one (family 0). */
static struct addr
addr_of(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (s[0] == '\0')
		return a;
	if (inet_pton(AF_INET, s, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.bytes) == 1)
		a.family = AF_INET6;
	else {
		fprintf(stderr, "test bug: bad address %s\n", s);
		exit(2);
	}
	return a;
}

static struct cidr
cidr_of(const char *s)
{
	struct cidr c;

	if (!CHECK(cidr_parse(s, &c) == NULL, "cidr %s parses", s))
		exit(1);
	return c;
}

struct match_case {
	const char	*cidr;
	const char	*addr;
	int		 want;
};

static const struct match_case match_cases[] = {
	{ "10.0.0.0/8", "10.1.2.3", 1 },
	{ "10.0.0.0/8", "10.0.0.0", 1 },
	{ "10.0.0.0/8", "10.255.255.255", 1 },
	{ "10.0.0.0/8", "11.0.0.0", 0 },
	{ "10.0.0.0/8", "9.255.255.255", 0 },
	{ "10.0.0.0/8", "::ffff:10.1.2.3", 1 },
	{ "10.0.0.0/8", "::ffff:11.1.2.3", 0 },
	{ "10.0.0.0/8", "::a01:203", 0 },		/* IPv4-compatible */
	{ "10.0.0.0/8", "a01:203::", 0 },
	{ "10.0.0.0/8", "::1", 0 },
	{ "10.0.0.0/8", "", 0 },
	{ "192.168.0.0/23", "192.168.0.0", 1 },
	{ "192.168.0.0/23", "192.168.1.255", 1 },
	{ "192.168.0.0/23", "192.168.2.0", 0 },
	{ "192.168.0.0/23", "192.167.255.255", 0 },
	{ "192.168.1.0/23", "192.168.0.7", 1 },	/* host bits ignored */
	{ "10.0.0.0/31", "10.0.0.1", 1 },
	{ "10.0.0.0/31", "10.0.0.2", 0 },
	{ "128.0.0.0/1", "128.0.0.0", 1 },
	{ "128.0.0.0/1", "255.1.1.1", 1 },
	{ "128.0.0.0/1", "127.255.255.255", 0 },
	{ "192.168.1.1", "192.168.1.1", 1 },
	{ "192.168.1.1", "192.168.1.2", 0 },
	{ "192.168.1.1", "::ffff:192.168.1.1", 1 },
	{ "192.168.1.1/32", "192.168.1.1", 1 },
	{ "192.168.1.1/32", "192.168.1.0", 0 },
	{ "0.0.0.0/0", "1.2.3.4", 1 },
	{ "0.0.0.0/0", "255.255.255.255", 1 },
	{ "0.0.0.0/0", "::ffff:1.2.3.4", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "0.0.0.0/0", "", 0 },
	{ "::/0", "2001:db8::1", 1 },
	{ "::/0", "::", 1 },
	{ "::/0", "", 0 },
	{ "2001:db8::/32", "2001:db8::1", 1 },
	{ "2001:db8::/32", "2001:db8:ffff:ffff::1", 1 },
	{ "2001:db8::/32", "2001:db9::", 0 },
	{ "2001:db8::/32", "10.0.0.1", 0 },
	{ "2001:db8::/121", "2001:db8::", 1 },
	{ "2001:db8::/121", "2001:db8::7f", 1 },
	{ "2001:db8::/121", "2001:db8::80", 0 },
	{ "2001:db8::/121", "2001:db8::1:0", 0 },
	{ "2001:db8::/127", "2001:db8::1", 1 },
	{ "2001:db8::/127", "2001:db8::2", 0 },
	{ "::1/128", "::1", 1 },
	{ "::1/128", "::2", 0 },
	{ "::1/128", "::ffff:0.0.0.1", 0 },
	{ "::1", "::1", 1 },
	{ "::1", "::", 0 },
	{ "fe80::/10", "fe80::1", 1 },
	{ "fe80::/10", "febf::1", 1 },
	{ "fe80::/10", "fec0::1", 0 },
	/* IPv4 rules written as IPv4-mapped IPv6 */
	{ "::ffff:10.0.0.0/104", "10.9.9.9", 1 },
	{ "::ffff:10.0.0.0/104", "::ffff:10.9.9.9", 1 },
	{ "::ffff:10.0.0.0/104", "11.0.0.1", 0 },
	{ "::ffff:10.0.0.1", "10.0.0.1", 1 },
	{ "::ffff:10.0.0.1", "10.0.0.2", 0 },
	{ "::ffff:0.0.0.0/96", "1.2.3.4", 1 },
};

static void
test_cidr_match(void)
{
	struct cidr c;
	struct addr a;
	size_t i;

	for (i = 0; i < NITEMS(match_cases); i++) {
		const struct match_case *m = &match_cases[i];

		if (!CHECK(cidr_parse(m->cidr, &c) == NULL, "cidr %s parses",
		    m->cidr))
			continue;
		a = addr_of(m->addr);
		CHECK_INT(cidr_match(&c, &a), m->want, "%s matches \"%s\"",
		    m->cidr, m->addr);
	}

	/* what the parser keeps */
	c = cidr_of("192.168.0.0/23");
	CHECK_INT(c.net.family, AF_INET, "cidr /23: family");
	CHECK_INT(c.bits, 23, "cidr /23: bits");
	c = cidr_of("10.0.0.1");
	CHECK_INT(c.bits, 32, "cidr IPv4 without length: /32");
	c = cidr_of("2001:db8::/121");
	CHECK_INT(c.net.family, AF_INET6, "cidr /121: family");
	CHECK_INT(c.bits, 121, "cidr /121: bits");
	c = cidr_of("::1");
	CHECK_INT(c.bits, 128, "cidr IPv6 without length: /128");
	c = cidr_of("::ffff:10.0.0.0/104");
	CHECK_INT(c.net.family, AF_INET, "cidr mapped: IPv4");
	CHECK_INT(c.bits, 8, "cidr mapped /104: /8");
}

static const char *const bad_cidrs[] = {
	"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x",
	"10.0.0.0/x", "10.0.0.0/ 8", "10.0.0.0/8 ", " 10.0.0.0/8",
	"10.0.0.0/8/8", "10.0.0.0/1234", "10.0.0", "10.0.0.256", "10.0.0.0.0",
	"1.2.3.4:80", "example.com", "::/129", "::1/200", "[::1]", "[::1]/128",
	"::g", "2001:db8:::/32", "10.0.0.0//8", "10.0.0.0/+8",
};

static void
test_cidr_bad(void)
{
	struct cidr c;
	size_t i;

	for (i = 0; i < NITEMS(bad_cidrs); i++) {
		const char *why = cidr_parse(bad_cidrs[i], &c);

		CHECK(why != NULL && why[0] != '\0', "cidr \"%s\" refused",
		    bad_cidrs[i]);
	}
}

struct access_case {
	const char	*allow[3];
	const char	*deny[3];
	const char	*addr;
	int		 want;
};

static const struct access_case access_cases[] = {
	{ { NULL }, { NULL }, "1.2.3.4", 1 },
	{ { NULL }, { NULL }, "2001:db8::1", 1 },
	{ { NULL }, { NULL }, "", 1 },
	{ { NULL }, { "10.0.0.0/8" }, "10.1.1.1", 0 },
	{ { NULL }, { "10.0.0.0/8" }, "::ffff:10.1.1.1", 0 },
	{ { NULL }, { "10.0.0.0/8" }, "1.2.3.4", 1 },
	{ { NULL }, { "10.0.0.0/8" }, "", 1 },
	{ { NULL }, { "0.0.0.0/0", "::/0" }, "", 1 },
	{ { NULL }, { "0.0.0.0/0", "::/0" }, "1.2.3.4", 0 },
	{ { "10.0.0.0/8" }, { NULL }, "10.1.1.1", 1 },
	{ { "10.0.0.0/8" }, { NULL }, "1.2.3.4", 0 },
	{ { "10.0.0.0/8" }, { NULL }, "2001:db8::1", 0 },
	{ { "10.0.0.0/8" }, { NULL }, "", 0 },
	{ { "0.0.0.0/0", "::/0" }, { NULL }, "", 0 },
	{ { "0.0.0.0/0", "::/0" }, { NULL }, "2001:db8::1", 1 },
	{ { "10.0.0.0/8" }, { "10.1.0.0/16" }, "10.1.1.1", 0 },
	{ { "10.0.0.0/8" }, { "10.1.0.0/16" }, "10.2.1.1", 1 },
	{ { "10.0.0.0/8" }, { "10.1.0.0/16" }, "11.1.1.1", 0 },
	{ { "10.0.0.1" }, { "10.0.0.1" }, "10.0.0.1", 0 },
	{ { "0.0.0.0/0" }, { "10.0.0.1" }, "10.0.0.1", 0 },
	{ { "0.0.0.0/0" }, { "10.0.0.1" }, "10.0.0.2", 1 },
	{ { "10.0.0.0/8", "2001:db8::/32" }, { NULL }, "2001:db8::5", 1 },
	{ { "10.0.0.0/8", "2001:db8::/32" }, { NULL }, "::ffff:10.0.0.1", 1 },
	{ { "10.0.0.0/8", "2001:db8::/32" }, { NULL }, "192.0.2.1", 0 },
	{ { "10.0.0.0/8", "2001:db8::/32" }, { "2001:db8::5" }, "2001:db8::5",
	    0 },
};

static void
test_access_allowed(void)
{
	struct cidr allow[3], deny[3];
	struct addr a;
	size_t i, na, nd;

	for (i = 0; i < NITEMS(access_cases); i++) {
		const struct access_case *c = &access_cases[i];

		for (na = 0; na < 3 && c->allow[na] != NULL; na++)
			allow[na] = cidr_of(c->allow[na]);
		for (nd = 0; nd < 3 && c->deny[nd] != NULL; nd++)
			deny[nd] = cidr_of(c->deny[nd]);
		a = addr_of(c->addr);
		CHECK_INT(access_allowed(allow, na, deny, nd, &a), c->want,
		    "access for \"%s\" (allow %s%s%s, deny %s%s%s)", c->addr,
		    na > 0 ? c->allow[0] : "-", na > 1 ? " " : "",
		    na > 1 ? c->allow[1] : "", nd > 0 ? c->deny[0] : "-",
		    nd > 1 ? " " : "", nd > 1 ? c->deny[1] : "");
	}
}

struct origin_case {
	const char	*in;
	const char	*scheme, *host, *port;	/* NULL: refused */
};

static const struct origin_case origin_cases[] = {
	{ "https://example.com", "https", "example.com", "443" },
	{ "http://example.com", "http", "example.com", "80" },
	{ "ws://example.com", "ws", "example.com", "80" },
	{ "wss://example.com", "wss", "example.com", "443" },
	{ "HTTPS://Example.COM:8443", "https", "example.com", "8443" },
	{ "http://localhost:8080", "http", "localhost", "8080" },
	{ "http://192.0.2.1", "http", "192.0.2.1", "80" },
	{ "http://[::1]:8080", "http", "[::1]", "8080" },
	{ "https://*.example.com", "https", "*.example.com", "443" },
	{ "null", "null", "", "" },
	{ "example.com", NULL, NULL, NULL },
	{ "https://", NULL, NULL, NULL },
	{ "https:/example.com", NULL, NULL, NULL },
	{ "https:example.com", NULL, NULL, NULL },
	{ "://example.com", NULL, NULL, NULL },
	{ "https://example.com:", NULL, NULL, NULL },
	{ "https://example.com:abc", NULL, NULL, NULL },
	{ "https://example.com:123456", NULL, NULL, NULL },
	{ "https://example.com/", NULL, NULL, NULL },
	{ "https://example.com/path", NULL, NULL, NULL },
	{ "https://example.com?q", NULL, NULL, NULL },
	{ "https://user@example.com", NULL, NULL, NULL },
	{ "https://a*.example.com", NULL, NULL, NULL },
	{ "https://*example.com", NULL, NULL, NULL },
	{ "https://a.*.example.com", NULL, NULL, NULL },
	{ "https://exa mple.com", NULL, NULL, NULL },
	{ "https://[::1", NULL, NULL, NULL },
	{ "", NULL, NULL, NULL },
	{ "Null", NULL, NULL, NULL },
};

static void
test_origin_parse(void)
{
	struct origin o;
	size_t i;

	for (i = 0; i < NITEMS(origin_cases); i++) {
		const struct origin_case *c = &origin_cases[i];
		const char *why = origin_parse(c->in, strlen(c->in), &o);

		if (c->scheme == NULL) {
			CHECK(why != NULL && why[0] != '\0', "origin \"%s\" "
			    "refused", c->in);
			continue;
		}
		if (!CHECK(why == NULL, "origin \"%s\" accepted, got \"%s\"",
		    c->in, why != NULL ? why : ""))
			continue;
		CHECK_STR(o.scheme, c->scheme, "origin \"%s\": scheme", c->in);
		CHECK_STR(o.host, c->host, "origin \"%s\": host", c->in);
		CHECK_STR(o.port, c->port, "origin \"%s\": port", c->in);
	}
}

struct allowed_case {
	const char	*in;
	int		 want;
};

static void
run_allowed(const char *const *list, size_t n, const struct allowed_case *c,
    size_t nc)
{
	struct origin allow[8];
	size_t i;

	for (i = 0; i < n; i++)
		if (!CHECK(origin_parse(list[i], strlen(list[i]), &allow[i]) ==
		    NULL, "--origin %s", list[i]))
			return;
	for (i = 0; i < nc; i++)
		CHECK_INT(origin_allowed(allow, n, c[i].in, strlen(c[i].in)),
		    c[i].want, "Origin \"%s\" (allowed: %s...)", c[i].in,
		    n > 0 ? list[0] : "none");
}

static void
test_origin_allowed(void)
{
	static const char *const list1[] = {
		"https://example.com", "http://localhost:8080",
		"https://*.example.org", "http://[::1]:8000"
	};
	static const struct allowed_case c1[] = {
		{ "https://example.com", 1 },
		{ "https://EXAMPLE.com", 1 },
		{ "HTTPS://example.com", 1 },
		{ "https://example.com:443", 1 },
		{ "http://example.com", 0 },
		{ "https://example.com:8443", 0 },
		{ "https://a.example.com", 0 },
		{ "https://example.com.evil", 0 },
		{ "https://xexample.com", 0 },
		{ "http://localhost:8080", 1 },
		{ "http://localhost", 0 },
		{ "https://localhost:8080", 0 },
		{ "https://a.example.org", 1 },
		{ "https://A.Example.ORG", 1 },
		{ "https://a.b.example.org", 1 },
		{ "https://a.example.org:443", 1 },
		{ "https://example.org", 0 },
		{ "https://.example.org", 0 },
		{ "https://badexample.org", 0 },
		{ "https://a.example.org.evil", 0 },
		{ "http://a.example.org", 0 },
		{ "https://a.example.org:8443", 0 },
		{ "https://*.example.org", 0 },
		{ "http://[::1]:8000", 1 },
		{ "http://[::1]", 0 },
		{ "null", 0 },
		{ "", 0 },
		{ "https://example.com/", 0 },
		{ "example.com", 0 },
	};
	static const char *const list2[] = { "null", "https://example.com" };
	static const struct allowed_case c2[] = {
		{ "null", 1 },
		{ "https://example.com", 1 },
		{ "https://other.example", 0 },
	};
	static const struct allowed_case c3[] = {
		{ "https://example.com", 0 },
		{ "null", 0 },
	};

	run_allowed(list1, NITEMS(list1), c1, NITEMS(c1));
	run_allowed(list2, NITEMS(list2), c2, NITEMS(c2));
	run_allowed(NULL, 0, c3, NITEMS(c3));
}

int
main(void)
{
	test_cidr_match();
	test_cidr_bad();
	test_access_allowed();
	test_origin_parse();
	test_origin_allowed();
	return t_done();
}
