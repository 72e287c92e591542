/*
 * rewrite.c: the backend request, the 101 and other answers relayed to the
 * client, and wstunnel's own error answers (SPEC.md "The backend request and
 * answer").  Outputs are parsed back with http.c, so they must be well-formed
 * heads; then fields are compared by name and value, in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "rewrite.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))
#define OUTSIZE		8192

#define RFC_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* the fields wstunnel writes itself in a backend request */
static const char *const own_request[] = {
	"Host", "Upgrade", "Connection", "X-Forwarded-For", "X-Forwarded-Proto",
	"X-Forwarded-Host", NULL
};
static const char *const own_switch[] = { "Upgrade", "Connection", NULL };
static const char *const own_response[] = { "Connection", NULL };

static int
listed(const struct http_field *f, const char *const *names)
{
	for (; *names != NULL; names++)
		if (f->name_len == strlen(*names) &&
		    strncasecmp(f->name, *names, f->name_len) == 0)
			return 1;
	return 0;
}

/* "Name: value\n" for every field not in skip, in order. */
static void
fields_except(const struct http_field *f, size_t n, const char *const *skip,
    char *out, size_t size)
{
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < n; i++)
		if (!listed(&f[i], skip))
			o += (size_t)snprintf(out + o, o < size ? size - o : 0,
			    "%.*s: %.*s\n", (int)f[i].name_len, f[i].name,
			    (int)f[i].value_len, f[i].value);
}

static size_t
count(const struct http_field *f, size_t n, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		if (f[i].name_len == strlen(name) &&
		    strncasecmp(f[i].name, name, f[i].name_len) == 0)
			c++;
	return c;
}

/* The values of every field called name, joined with ", " (one list). */
static const char *
joined(const struct http_field *f, size_t n, const char *name)
{
	static char buf[4096];
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++)
		if (f[i].name_len == strlen(name) &&
		    strncasecmp(f[i].name, name, f[i].name_len) == 0)
			o += (size_t)snprintf(buf + o, o < sizeof(buf) ?
			    sizeof(buf) - o : 0, "%s%.*s", o > 0 ? ", " : "",
			    (int)f[i].value_len, f[i].value);
	return buf;
}

/* The length of the first line of s[0..n), without its CRLF. */
static size_t
first_line(const char *s, size_t n)
{
	const char *cr = memmem(s, n, "\r\n", 2);

	return cr != NULL ? (size_t)(cr - s) : n;
}

/* No CR or LF but in CRLF pairs: no field can carry one. */
static void
check_crlf(const char *what, const char *s, size_t n)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++)
		if ((s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n')) ||
		    (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')))
			ok = 0;
	CHECK(ok, "%s: CR and LF only as line ends", what);
}

static int
parse_req(const char *what, const char *s, struct http_request *req)
{
	memset(req, 0, sizeof(*req));
	return CHECK_INT(http_parse_request(s, strlen(s), OUTSIZE, req),
	    strlen(s), "%s: input parses", what);
}

static int
parse_res(const char *what, const char *s, size_t len,
    struct http_response *res)
{
	memset(res, 0, sizeof(*res));
	return CHECK_INT(http_parse_response(s, len, OUTSIZE, res), len,
	    "%s: parses", what);
}

/*
 * Every buffer smaller than need is refused and not written past; a buffer
 * of exactly need bytes is enough.  call writes into zb[zs].
 */
#define CHECK_SIZES(what, need, call)					\
	do {								\
		static char sbuf_[OUTSIZE + 16];			\
		size_t size_;						\
		ssize_t r_;						\
		int bad_ = -1, over_ = -1;				\
		for (size_ = 0; size_ < (size_t)(need); size_++) {	\
			char *const zb = sbuf_;				\
			const size_t zs = size_;			\
			memset(sbuf_, '#', sizeof(sbuf_));		\
			r_ = (call);					\
			if (r_ != -1 && bad_ == -1)			\
				bad_ = (int)size_;			\
			if (sbuf_[size_] != '#' && over_ == -1)		\
				over_ = (int)size_;			\
		}							\
		CHECK_INT(bad_, -1, "%s: first size below %zu not refused", \
		    what, (size_t)(need));				\
		CHECK_INT(over_, -1, "%s: first size written past",	\
		    what);						\
		{							\
			char *const zb = sbuf_;				\
			const size_t zs = (size_t)(need);		\
			r_ = (call);					\
			CHECK_INT(r_, (need), "%s: exactly %zu bytes", what, \
			    (size_t)(need));				\
		}							\
	} while (0)

#define REQ_HEAD \
	"GET /chat HTTP/1.1\r\nHost: front.example\r\n" \
	"Upgrade: websocket\r\nConnection: Upgrade\r\n" \
	"Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"

struct req_case {
	const char	*name;
	const char	*in;		/* the client's head */
	struct forward	 fw;
	const char	*host, *xff, *xfp, *xfh;
	const char	*others;	/* the client's fields passed on */
};

#define FW(target, host, chost, addr, proto) \
	{ target, sizeof(target) - 1, host, sizeof(host) - 1, chost, \
	    sizeof(chost) - 1, addr, proto }
#define FW_PLAIN	FW("/ws/chat", "127.0.0.1:8000", "front.example", \
	    "192.0.2.7", "http")
#define KV	"Sec-WebSocket-Key: " RFC_KEY "\nSec-WebSocket-Version: 13\n"

static const struct req_case req_cases[] = {
	{ "end-to-end fields", REQ_HEAD "Origin: https://front.example\r\n"
	    "Cookie: a=b; c=d\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
	    "Authorization: Bearer t\r\nUser-Agent: test/1.0\r\n\r\n",
	    FW_PLAIN, "127.0.0.1:8000", "192.0.2.7", "http", "front.example",
	    KV "Origin: https://front.example\nCookie: a=b; c=d\n"
	    "Sec-WebSocket-Protocol: chat, superchat\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\n"
	    "Authorization: Bearer t\nUser-Agent: test/1.0\n" },
	{ "preserve-host, https", REQ_HEAD "\r\n",
	    FW("/x?y=1", "front.example", "front.example", "2001:db8::1",
	    "https"), "front.example", "2001:db8::1", "https", "front.example",
	    KV },
	{ "client address unknown", REQ_HEAD "\r\n",
	    FW("/", "b:1", "front.example", "unknown", "http"), "b:1",
	    "unknown", "http", "front.example", KV },
	{ "hop-by-hop fields removed", "GET /chat HTTP/1.1\r\n"
	    "Host: front.example\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade, X-Hop, keep-alive\r\n"
	    "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
	    "TE: trailers\r\nTrailer: X-T\r\n"
	    "Proxy-Authorization: Basic Zm9vOmJhcg==\r\nX-Hop: 1\r\n"
	    "X-Keep: 2\r\nconnection: x-hop2\r\nX-HOP2: 3\r\n"
	    "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
	    "\r\n", FW_PLAIN, "127.0.0.1:8000", "192.0.2.7", "http",
	    "front.example", "X-Keep: 2\n" KV },
	{ "fields named in Connection that always pass", "GET /c HTTP/1.1\r\n"
	    "Host: front.example\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade, Origin, Cookie, Authorization, "
	    "Sec-WebSocket-Key, Sec-WebSocket-Version, Sec-WebSocket-Protocol, "
	    "Sec-WebSocket-Extensions, X-Gone\r\n"
	    "Origin: https://o.example\r\nCookie: c=1\r\nAuthorization: x\r\n"
	    "Sec-WebSocket-Key: " RFC_KEY "\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: p\r\nSec-WebSocket-Extensions: e\r\n"
	    "X-Gone: 1\r\n\r\n", FW_PLAIN, "127.0.0.1:8000", "192.0.2.7",
	    "http", "front.example",
	    "Origin: https://o.example\nCookie: c=1\nAuthorization: x\n" KV
	    "Sec-WebSocket-Protocol: p\nSec-WebSocket-Extensions: e\n" },
	{ "other Sec-WebSocket-* named in Connection", REQ_HEAD
	    "connection: sec-websocket-foo\r\nSec-WebSocket-Foo: bar\r\n\r\n",
	    FW_PLAIN, "127.0.0.1:8000", "192.0.2.7", "http", "front.example",
	    KV "Sec-WebSocket-Foo: bar\n" },
	{ "X-Forwarded-* from the client", REQ_HEAD
	    "X-Forwarded-For: 198.51.100.1\r\n"
	    "x-forwarded-for: 203.0.113.5, 10.0.0.1\r\n"
	    "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
	    "X-Forwarded-Host: evil2.example\r\nx-forwarded-proto: ftp\r\n"
	    "X-Other: 1\r\n\r\n", FW_PLAIN, "127.0.0.1:8000",
	    "198.51.100.1, 203.0.113.5, 10.0.0.1, 192.0.2.7", "http",
	    "front.example", KV "X-Other: 1\n" },
	/* issue 16: names a CGI or WSGI backend reads as what wstunnel sets
	 * ('_' and '-' are one to it), and Forwarded and X-Real-IP, which
	 * wstunnel does not write and a backend may trust */
	{ "names that spoof X-Forwarded-*, Forwarded, X-Real-IP", REQ_HEAD
	    "X_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 198.51.100.1\r\n"
	    "x-forwarded_for: 6.6.6.7\r\nX-Forwarded_Host: evil.example\r\n"
	    "X_FORWARDED_PROTO: https\r\nx_forwarded_host: evil2.example\r\n"
	    "Forwarded: for=6.6.6.6;proto=https;host=evil.example\r\n"
	    "forwarded: for=6.6.6.8\r\nX-Real-IP: 6.6.6.6\r\n"
	    "x_real_ip: 6.6.6.9\r\nX-Real_Ip: 6.6.6.10\r\n"
	    "X_Other_Name: kept\r\nX-Forwarded-Port: 443\r\n"
	    "X-Forwarded-Fo: kept\r\nX-Forwarded-Forx: kept\r\n"
	    "Forwarded_: kept\r\nX-Real-IPs: kept\r\n\r\n", FW_PLAIN,
	    "127.0.0.1:8000", "198.51.100.1, 192.0.2.7", "http",
	    "front.example", KV "X_Other_Name: kept\nX-Forwarded-Port: 443\n"
	    "X-Forwarded-Fo: kept\nX-Forwarded-Forx: kept\nForwarded_: kept\n"
	    "X-Real-IPs: kept\n" },
	{ "names, case and order unchanged", REQ_HEAD "B: 1\r\na: 2\r\nA: 3\r\n"
	    "x-y: 4\r\nX-Tab: a\tb\r\nX-Sp:   v w  \r\nX-Empty:\r\n"
	    "X-8bit: caf\xc3\xa9\r\n\r\n", FW_PLAIN, "127.0.0.1:8000",
	    "192.0.2.7", "http", "front.example",
	    KV "B: 1\na: 2\nA: 3\nx-y: 4\nX-Tab: a\tb\nX-Sp: v w\nX-Empty: \n"
	    "X-8bit: caf\xc3\xa9\n" },
	{ "the client's Host is not passed", "GET /c HTTP/1.1\r\n"
	    "X-A: 1\r\nhost: front.example\r\nX-B: 2\r\n\r\n", FW_PLAIN,
	    "127.0.0.1:8000", "192.0.2.7", "http", "front.example",
	    "X-A: 1\nX-B: 2\n" },
};

static void
test_rewrite_request(void)
{
	static char out[OUTSIZE], got[OUTSIZE];
	struct http_request in, res;
	size_t i;
	ssize_t n;

	for (i = 0; i < NITEMS(req_cases); i++) {
		const struct req_case *c = &req_cases[i];

		if (!parse_req(c->name, c->in, &in))
			continue;
		n = rewrite_request(&in, &c->fw, out, sizeof(out));
		if (!CHECK(n > 0, "request \"%s\": rewritten (%zd)", c->name,
		    n))
			continue;
		check_crlf(c->name, out, (size_t)n);
		memset(&res, 0, sizeof(res));
		if (!CHECK_INT(http_parse_request(out, (size_t)n, OUTSIZE, &res),
		    n, "request \"%s\": output is one head", c->name))
			continue;
		CHECK_MEM(res.method, res.method_len, "GET", "request \"%s\": "
		    "method", c->name);
		CHECK_MEM(res.target, res.target_len, c->fw.target,
		    "request \"%s\": target", c->name);
		CHECK(res.major == 1 && res.minor == 1, "request \"%s\": "
		    "HTTP/1.1", c->name);
		CHECK_INT(count(res.fields, res.nfields, "Host"), 1,
		    "request \"%s\": one Host", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "Host"), c->host,
		    "request \"%s\": Host", c->name);
		CHECK_INT(count(res.fields, res.nfields, "Upgrade"), 1,
		    "request \"%s\": one Upgrade", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "Upgrade"),
		    "websocket", "request \"%s\": Upgrade", c->name);
		CHECK_INT(count(res.fields, res.nfields, "Connection"), 1,
		    "request \"%s\": one Connection", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "Connection"),
		    "Upgrade", "request \"%s\": Connection", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "X-Forwarded-For"),
		    c->xff, "request \"%s\": X-Forwarded-For", c->name);
		CHECK_INT(count(res.fields, res.nfields, "X-Forwarded-Proto"),
		    1, "request \"%s\": one X-Forwarded-Proto", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "X-Forwarded-Proto"),
		    c->xfp, "request \"%s\": X-Forwarded-Proto", c->name);
		CHECK_INT(count(res.fields, res.nfields, "X-Forwarded-Host"),
		    1, "request \"%s\": one X-Forwarded-Host", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "X-Forwarded-Host"),
		    c->xfh, "request \"%s\": X-Forwarded-Host", c->name);
		fields_except(res.fields, res.nfields, own_request, got,
		    sizeof(got));
		CHECK_STR(got, c->others, "request \"%s\": the client's fields",
		    c->name);

		CHECK_SIZES(c->name, n, rewrite_request(&in, &c->fw, zb, zs));
	}
}

#define SWITCH_LINE	"HTTP/1.1 101 Switching Protocols\r\n"
#define ACCEPT		"Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"

struct switch_case {
	const char	*name;
	const char	*in;
	const char	*status_line;
	const char	*upgrade;
	const char	*others;
};

static const struct switch_case switch_cases[] = {
	{ "hop-by-hop removed", SWITCH_LINE "Upgrade: WebSocket\r\n"
	    "Connection: Upgrade, X-Hop\r\nKeep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\nTE: x\r\nTrailer: y\r\n"
	    "Transfer-Encoding: chunked\r\n" ACCEPT
	    "Sec-WebSocket-Protocol: chat\r\nX-Hop: 1\r\nSet-Cookie: s=1\r\n"
	    "X-End: 2\r\n\r\n", "HTTP/1.1 101 Switching Protocols",
	    "WebSocket", "Sec-WebSocket-Accept: " RFC_ACCEPT "\n"
	    "Sec-WebSocket-Protocol: chat\nSet-Cookie: s=1\nX-End: 2\n" },
	{ "no Connection from the backend", SWITCH_LINE ACCEPT
	    "upgrade: websocket\r\n\r\n", "HTTP/1.1 101 Switching Protocols",
	    "websocket", "Sec-WebSocket-Accept: " RFC_ACCEPT "\n" },
	{ "Upgrade list kept verbatim", SWITCH_LINE
	    "Upgrade: websocket, x-other/2\r\nConnection: upgrade\r\n" ACCEPT
	    "\r\n", "HTTP/1.1 101 Switching Protocols", "websocket, x-other/2",
	    "Sec-WebSocket-Accept: " RFC_ACCEPT "\n" },
	{ "a 7-letter field named in Connection", SWITCH_LINE
	    "Upgrade: websocket\r\nConnection: Upgrade, X-Hop-1\r\n" ACCEPT
	    "X-Hop-1: secret\r\n\r\n", "HTTP/1.1 101 Switching Protocols",
	    "websocket", "Sec-WebSocket-Accept: " RFC_ACCEPT "\n" },
};

#define NO_REASON	"HTTP/1.1 101\r\nUpgrade: websocket\r\n" ACCEPT "\r\n"

static void
test_rewrite_switch(void)
{
	static char out[OUTSIZE], got[OUTSIZE];
	struct http_response in, res;
	const char *why;
	size_t i;
	ssize_t n;

	for (i = 0; i < NITEMS(switch_cases); i++) {
		const struct switch_case *c = &switch_cases[i];

		if (!parse_res(c->name, c->in, strlen(c->in), &in))
			continue;
		n = rewrite_switch(&in, out, sizeof(out));
		if (!CHECK(n > 0, "switch \"%s\": rewritten (%zd)", c->name, n))
			continue;
		check_crlf(c->name, out, (size_t)n);
		CHECK_MEM(out, first_line(out, (size_t)n), c->status_line,
		    "switch \"%s\": status line", c->name);
		if (!parse_res(c->name, out, (size_t)n, &res))
			continue;
		CHECK_STR(joined(res.fields, res.nfields, "Upgrade"), c->upgrade,
		    "switch \"%s\": Upgrade", c->name);
		CHECK_INT(count(res.fields, res.nfields, "Upgrade"), 1,
		    "switch \"%s\": one Upgrade", c->name);
		CHECK_INT(count(res.fields, res.nfields, "Connection"), 1,
		    "switch \"%s\": one Connection", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "Connection"),
		    "Upgrade", "switch \"%s\": Connection", c->name);
		fields_except(res.fields, res.nfields, own_switch, got,
		    sizeof(got));
		CHECK_STR(got, c->others, "switch \"%s\": other fields",
		    c->name);
		why = http_check_switch(&res, RFC_KEY, strlen(RFC_KEY));
		CHECK(why == NULL, "switch \"%s\": still a valid 101 (%s)",
		    c->name, why != NULL ? why : "");
		CHECK_SIZES(c->name, n, rewrite_switch(&in, zb, zs));
	}

	/* no reason phrase */
	if (parse_res("101 without reason", NO_REASON, strlen(NO_REASON),
	    &in)) {
		n = rewrite_switch(&in, out, sizeof(out));
		if (CHECK(n > 0, "101 without reason: rewritten") &&
		    parse_res("101 without reason, output", out, (size_t)n,
		    &res)) {
			CHECK_INT(res.status, 101, "101 without reason: status");
			CHECK_INT(res.reason_len, 0, "101 without reason: "
			    "reason");
		}
	}
}

/* What ProxyPassReverse is set up with. */
static const struct reverse rv_plain = {
	"/gateone/ws", 11, "/ws", 3, "127.0.0.1", "8000", "front.example",
	13, 0, 0
};
static const struct reverse rv_tls = {
	"/gateone/ws", 11, "/ws", 3, "127.0.0.1", "8000", "front.example",
	13, 1, 0
};
static const struct reverse rv_port = {
	"/gateone/ws", 11, "/ws", 3, "127.0.0.1", "8000", "front.example:8443",
	18, 1, 0
};
static const struct reverse rv_80 = {
	"/app", 4, "/b", 2, "backend.local", "80", "front.example", 13, 0, 0
};
static const struct reverse rv_443 = {
	"/app", 4, "/b", 2, "backend.local", "443", "front.example", 13, 0, 0
};
static const struct reverse rv_wss = {
	"/app", 4, "/b", 2, "backend.local", "443", "front.example", 13, 0, 1
};
static const struct reverse rv_v6 = {
	"/gateone/ws", 11, "/ws", 3, "::1", "8000", "front.example",
	13, 0, 0
};
static const struct reverse rv_root = {
	"", 0, "/ws", 3, "127.0.0.1", "8000", "front.example",
	13, 0, 0
};
static const struct reverse rv_nopath = {
	"/gateone/ws", 11, "", 0, "127.0.0.1", "8000", "front.example",
	13, 0, 0
};

struct loc_case {
	const struct reverse *rv;
	const char	*rvname;
	const char	*in;
	const char	*want;		/* NULL: unchanged */
};

#define RV(x)	&rv_##x, #x

static const struct loc_case loc_cases[] = {
	{ RV(plain), "http://127.0.0.1:8000/ws/login?x=1",
	    "http://front.example/gateone/ws/login?x=1" },
	{ RV(plain), "ws://127.0.0.1:8000/ws", "ws://front.example/gateone/ws" },
	{ RV(plain), "https://127.0.0.1:8000/ws/a",
	    "http://front.example/gateone/ws/a" },
	{ RV(plain), "wss://127.0.0.1:8000/ws/a",
	    "ws://front.example/gateone/ws/a" },
	{ RV(plain), "HTTP://127.0.0.1:8000/ws/a",
	    "http://front.example/gateone/ws/a" },
	{ RV(plain), "http://127.0.0.1:8000/ws?x",
	    "http://front.example/gateone/ws?x" },
	{ RV(plain), "/ws/a?b", "/gateone/ws/a?b" },
	{ RV(plain), "/ws", "/gateone/ws" },
	{ RV(plain), "/other", NULL },
	{ RV(plain), "/wsx", NULL },
	{ RV(plain), "http://other.example:8000/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1:8001/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1:800/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1/ws/a", NULL },
	{ RV(plain), "http://127.0.0.10:8000/ws/a", NULL },
	{ RV(plain), "ftp://127.0.0.1:8000/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1:8000/other", NULL },
	{ RV(plain), "http://127.0.0.1:8000/wsx", NULL },
	{ RV(plain), "relative/ws", NULL },
	{ RV(plain), "", NULL },
	{ RV(tls), "http://127.0.0.1:8000/ws/a",
	    "https://front.example/gateone/ws/a" },
	{ RV(tls), "ws://127.0.0.1:8000/ws/a",
	    "wss://front.example/gateone/ws/a" },
	{ RV(tls), "/ws/a", "/gateone/ws/a" },
	{ RV(port), "http://127.0.0.1:8000/ws/a",
	    "https://front.example:8443/gateone/ws/a" },
	{ RV(80), "http://backend.local/b/x", "http://front.example/app/x" },
	{ RV(80), "http://backend.local:80/b/x", "http://front.example/app/x" },
	{ RV(80), "ws://BACKEND.LOCAL/b", "ws://front.example/app" },
	{ RV(80), "https://backend.local/b/x", NULL },
	{ RV(80), "http://backend.local:8080/b/x", NULL },
	{ RV(443), "https://backend.local/b/x", "http://front.example/app/x" },
	{ RV(443), "wss://backend.local:443/b", "ws://front.example/app" },
	{ RV(443), "http://backend.local/b/x", NULL },
	{ RV(v6), "http://[::1]:8000/ws/a", "http://front.example/gateone/ws/a" },
	{ RV(v6), "http://[::2]:8000/ws/a", NULL },
	{ RV(v6), "http://[::1]/ws/a", NULL },
	{ RV(root), "/ws/x", "/x" },
	{ RV(root), "/ws", "/" },
	{ RV(root), "http://127.0.0.1:8000/ws/x?y", "http://front.example/x?y" },
	{ RV(root), "/x", NULL },
	/* issue 16: a protocol-relative (network-path) reference names the
	 * backend as much as an absolute one; its scheme is the backend's
	 * (ws: http, wss: https), and it stays protocol-relative for the
	 * client */
	{ RV(plain), "//127.0.0.1:8000/ws/x", "//front.example/gateone/ws/x" },
	{ RV(plain), "//127.0.0.1:8000/ws", "//front.example/gateone/ws" },
	{ RV(plain), "//127.0.0.1:8000/ws?x=1",
	    "//front.example/gateone/ws?x=1" },
	{ RV(plain), "//127.0.0.1:8000/ws/x?y=//z",
	    "//front.example/gateone/ws/x?y=//z" },
	{ RV(plain), "//127.0.0.1:08000/ws/x", "//front.example/gateone/ws/x" },
	{ RV(plain), "//127.0.0.1:8001/ws/x", NULL },
	{ RV(plain), "//127.0.0.1/ws/x", NULL },
	{ RV(plain), "//other.example:8000/ws/x", NULL },
	{ RV(plain), "//user@127.0.0.1:8000/ws/x", NULL },
	{ RV(plain), "//127.0.0.1:8000/other", NULL },
	{ RV(plain), "//127.0.0.1:8000", NULL },
	{ RV(plain), "///ws/x", NULL },
	{ RV(plain), "//", NULL },
	{ RV(tls), "//127.0.0.1:8000/ws/a", "//front.example/gateone/ws/a" },
	{ RV(port), "//127.0.0.1:8000/ws/a",
	    "//front.example:8443/gateone/ws/a" },
	{ RV(80), "//backend.local/b/x", "//front.example/app/x" },
	{ RV(80), "//BACKEND.LOCAL:80/b", "//front.example/app" },
	{ RV(80), "//backend.local:443/b/x", NULL },
	{ RV(443), "//backend.local/b/x", NULL },
	{ RV(443), "//backend.local:443/b/x", "//front.example/app/x" },
	{ RV(wss), "//backend.local/b/x", "//front.example/app/x" },
	{ RV(wss), "//backend.local:0443/b/x", "//front.example/app/x" },
	{ RV(wss), "//backend.local:80/b/x", NULL },
	{ RV(wss), "https://backend.local/b/x", "http://front.example/app/x" },
	{ RV(v6), "//[::1]:8000/ws/a", "//front.example/gateone/ws/a" },
	{ RV(v6), "//[::1]/ws/a", NULL },
	{ RV(root), "//127.0.0.1:8000/ws/x", "//front.example/x" },
	{ RV(root), "//127.0.0.1:8000/ws", "//front.example/" },
	/* the port as a number, as the backend's own is kept */
	{ RV(plain), "http://127.0.0.1:08000/ws/a",
	    "http://front.example/gateone/ws/a" },
	{ RV(plain), "http://127.0.0.1:000008000/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1:+8000/ws/a", NULL },
	{ RV(plain), "http://127.0.0.1:8000x/ws/a", NULL },
	{ RV(80), "http://backend.local:/b/x", "http://front.example/app/x" },
	{ RV(80), "http://backend.local:080/b/x", "http://front.example/app/x" },
	{ RV(nopath), "/a", "/gateone/ws/a" },
	{ RV(nopath), "http://127.0.0.1:8000/a?b",
	    "http://front.example/gateone/ws/a?b" },
};

static void
test_rewrite_location(void)
{
	static char in_buf[1024], out[OUTSIZE];
	static const char *const names[] = { "Location", "Content-Location" };
	struct http_response in, res;
	size_t i, j;
	ssize_t n;
	int len;

	for (i = 0; i < NITEMS(loc_cases); i++) {
		const struct loc_case *c = &loc_cases[i];

		for (j = 0; j < NITEMS(names); j++) {
			len = snprintf(in_buf, sizeof(in_buf), "HTTP/1.1 302 "
			    "Found\r\n%s: %s\r\nContent-Length: 0\r\n\r\n",
			    names[j], c->in);
			if (!parse_res(c->in, in_buf, (size_t)len, &in))
				continue;
			n = rewrite_response(&in, c->rv, out, sizeof(out));
			if (!CHECK(n > 0, "%s %s (%s): rewritten", names[j],
			    c->in, c->rvname))
				continue;
			if (!parse_res(c->in, out, (size_t)n, &res))
				continue;
			CHECK_INT(count(res.fields, res.nfields, names[j]), 1,
			    "%s %s (%s): one", names[j], c->in, c->rvname);
			CHECK_STR(joined(res.fields, res.nfields, names[j]),
			    c->want != NULL ? c->want : c->in, "%s %s (%s)",
			    names[j], c->in, c->rvname);
		}
	}
}

struct res_case {
	const char	*name;
	const char	*in;
	const char	*status_line;
	const char	*others;
};

static const struct res_case res_cases[] = {
	{ "302", "HTTP/1.1 302 Found\r\nConnection: keep-alive, X-Hop\r\n"
	    "Keep-Alive: timeout=5\r\nUpgrade: h2c\r\nProxy-Connection: x\r\n"
	    "TE: y\r\nTrailer: z\r\nX-Hop: 1\r\nLocation: /ws/a\r\n"
	    "Set-Cookie: s=1\r\nContent-Length: 5\r\nX-End: 2\r\n\r\n",
	    "HTTP/1.1 302 Found",
	    "Location: /gateone/ws/a\nSet-Cookie: s=1\nContent-Length: 5\n"
	    "X-End: 2\n" },
	{ "chunked 500", "HTTP/1.1 500 Internal Server Error\r\n"
	    "Transfer-Encoding: chunked\r\nContent-Type: text/html\r\n\r\n",
	    "HTTP/1.1 500 Internal Server Error",
	    "Transfer-Encoding: chunked\nContent-Type: text/html\n" },
	{ "framing named in Connection stays", "HTTP/1.1 403 Forbidden\r\n"
	    "Connection: Content-Length, Transfer-Encoding, X-A\r\n"
	    "Content-Length: 3\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
	    "HTTP/1.1 403 Forbidden", "Content-Length: 3\nX-B: 2\n" },
	{ "no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
	    "HTTP/1.1 200 ", "Content-Length: 0\n" },
};

static void
test_rewrite_response(void)
{
	static char out[OUTSIZE], got[OUTSIZE];
	struct http_response in, res;
	struct http_body b1, b2;
	size_t i;
	ssize_t n;

	for (i = 0; i < NITEMS(res_cases); i++) {
		const struct res_case *c = &res_cases[i];

		if (!parse_res(c->name, c->in, strlen(c->in), &in))
			continue;
		n = rewrite_response(&in, &rv_plain, out, sizeof(out));
		if (!CHECK(n > 0, "response \"%s\": rewritten (%zd)", c->name,
		    n))
			continue;
		check_crlf(c->name, out, (size_t)n);
		CHECK_MEM(out, first_line(out, (size_t)n), c->status_line,
		    "response \"%s\": status line", c->name);
		if (!parse_res(c->name, out, (size_t)n, &res))
			continue;
		CHECK_INT(res.status, in.status, "response \"%s\": status",
		    c->name);
		CHECK_INT(count(res.fields, res.nfields, "Connection"), 1,
		    "response \"%s\": one Connection", c->name);
		CHECK_STR(joined(res.fields, res.nfields, "Connection"), "close",
		    "response \"%s\": Connection: close", c->name);
		fields_except(res.fields, res.nfields, own_response, got,
		    sizeof(got));
		CHECK_STR(got, c->others, "response \"%s\": other fields",
		    c->name);
		/* the body is framed the same way */
		CHECK(http_body_init(&in, &b1) == 0 &&
		    http_body_init(&res, &b2) == 0 && b1.kind == b2.kind &&
		    b1.left == b2.left, "response \"%s\": same framing",
		    c->name);
		CHECK_SIZES(c->name, n, rewrite_response(&in, &rv_plain, zb,
		    zs));
	}
}

struct err_case {
	struct http_error e;
	const char	*status_line;
	const char	*extra;		/* "Name: value\n" lines expected */
};

static const struct err_case err_cases[] = {
	{ { 400, "missing Host", NULL }, "HTTP/1.1 400 Bad Request", "" },
	{ { 403, "origin refused", NULL }, "HTTP/1.1 403 Forbidden", "" },
	{ { 404, "no route", NULL }, "HTTP/1.1 404 Not Found", "" },
	{ { 404, NULL, NULL }, "HTTP/1.1 404 Not Found", "" },
	{ { 405, "method not allowed", "Allow: GET\r\n" },
	    "HTTP/1.1 405 Method Not Allowed", "Allow: GET\n" },
	{ { 408, "timeout", NULL }, "HTTP/1.1 408 Request Timeout", "" },
	{ { 414, "request line too long", NULL }, "HTTP/1.1 414 URI Too Long",
	    "" },
	{ { 426, "not a WebSocket upgrade", "Upgrade: websocket\r\n" },
	    "HTTP/1.1 426 Upgrade Required", "Upgrade: websocket\n" },
	{ { 426, "unsupported WebSocket version",
	    "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" },
	    "HTTP/1.1 426 Upgrade Required",
	    "Upgrade: websocket\nSec-WebSocket-Version: 13\n" },
	{ { 431, "too many header fields", NULL },
	    "HTTP/1.1 431 Request Header Fields Too Large", "" },
	{ { 502, "backend 10.9.8.7:8000: connection refused", NULL },
	    "HTTP/1.1 502 Bad Gateway", "" },
	{ { 504, "backend 10.9.8.7:8000: connect timeout", NULL },
	    "HTTP/1.1 504 Gateway Timeout", "" },
	{ { 505, "HTTP version not supported", NULL },
	    "HTTP/1.1 505 HTTP Version Not Supported", "" },
};

static const char *const own_error[] = {
	"Content-Type", "Content-Length", "Connection", NULL
};

static void
test_rewrite_error(void)
{
	static char out[OUTSIZE], got[OUTSIZE];
	struct http_response res;
	size_t i;

	for (i = 0; i < NITEMS(err_cases); i++) {
		const struct err_case *c = &err_cases[i];
		const char *body;
		size_t blen;
		ssize_t n = rewrite_error(&c->e, out, sizeof(out));
		int head;

		if (!CHECK(n > 0, "error %d: written (%zd)", c->e.status, n))
			continue;
		CHECK_MEM(out, first_line(out, (size_t)n), c->status_line,
		    "error %d: status line", c->e.status);
		memset(&res, 0, sizeof(res));
		head = http_parse_response(out, (size_t)n, OUTSIZE, &res);
		if (!CHECK(head > 0, "error %d: a head (%d)", c->e.status,
		    head))
			continue;
		CHECK_INT(res.status, c->e.status, "error %d: status",
		    c->e.status);
		CHECK_INT(count(res.fields, res.nfields, "Content-Type"), 1,
		    "error %d: one Content-Type", c->e.status);
		CHECK(strncmp(joined(res.fields, res.nfields, "Content-Type"),
		    "text/plain", 10) == 0, "error %d: text/plain (%s)",
		    c->e.status, joined(res.fields, res.nfields,
		    "Content-Type"));
		CHECK_STR(joined(res.fields, res.nfields, "Connection"), "close",
		    "error %d: Connection: close", c->e.status);
		body = out + head;
		blen = (size_t)n - (size_t)head;
		CHECK(blen > 0, "error %d: a body", c->e.status);
		CHECK_INT(count(res.fields, res.nfields, "Content-Length"), 1,
		    "error %d: one Content-Length", c->e.status);
		CHECK_INT(strtol(joined(res.fields, res.nfields,
		    "Content-Length"), NULL, 10), blen,
		    "error %d: Content-Length is the body's length",
		    c->e.status);
		CHECK(memchr(body, '\0', blen) == NULL && memchr(body, '\r',
		    blen) == NULL, "error %d: plain text body", c->e.status);
		if (c->e.status >= 500 && c->e.why != NULL)
			CHECK(memmem(body, blen, c->e.why, strlen(c->e.why)) ==
			    NULL && memmem(body, blen, "10.9.8.7", 8) == NULL,
			    "error %d: the body does not carry the reason",
			    c->e.status);
		fields_except(res.fields, res.nfields, own_error, got,
		    sizeof(got));
		CHECK_STR(got, c->extra, "error %d: extra fields", c->e.status);
		CHECK_SIZES("error", n, rewrite_error(&c->e, zb, zs));
	}
}

static void
test_reason(void)
{
	static const struct {
		int status;
		const char *reason;
	} cases[] = {
		{ 101, "Switching Protocols" }, { 400, "Bad Request" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 408, "Request Timeout" },
		{ 414, "URI Too Long" }, { 426, "Upgrade Required" },
		{ 431, "Request Header Fields Too Large" },
		{ 502, "Bad Gateway" }, { 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < NITEMS(cases); i++)
		CHECK_STR(http_reason(cases[i].status), cases[i].reason,
		    "reason for %d", cases[i].status);
	CHECK(http_reason(299) != NULL && http_reason(299)[0] != '\0',
	    "a reason for an unknown status");
}

int
main(void)
{
	test_rewrite_request();
	test_rewrite_switch();
	test_rewrite_location();
	test_rewrite_response();
	test_rewrite_error();
	test_reason();
	return t_done();
}
