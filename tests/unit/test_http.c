/*
 * http.c: the client request (SPEC.md "The client request"), the backend's
 * answer, the accept value, token lists and response body framing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "t.h"

#define MAX_HEAD	16384	/* --max-header-bytes default */

#define LINE	"GET /chat HTTP/1.1\r\n"
#define HOST	"Host: server.example.com\r\n"
#define UPG	"Upgrade: websocket\r\n"
#define CONN	"Connection: Upgrade\r\n"
#define KEY	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
#define VER	"Sec-WebSocket-Version: 13\r\n"
#define GOOD	HOST UPG CONN KEY VER
#define S(s)	s, sizeof(s) - 1
/* a request: a request line (without CRLF) and field lines */
#define R(line, fields)	S(line "\r\n" fields "\r\n")
/* the standard request line with fields */
#define F(fields)	R("GET /chat HTTP/1.1", fields)

#define RFC_KEY		"dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

#define XUPG	"Upgrade: websocket\r\n"
#define XVER	"Sec-WebSocket-Version: 13\r\n"
#define XALLOW	"Allow: GET\r\n"

struct req_case {
	const char	*name;
	const char	*buf;
	size_t		 len;
	int		 status;	/* 0: accepted */
	const char	*extra1;	/* must be in err.extra; none: NULL */
	const char	*extra2;
};

static const struct req_case req_cases[] = {
	/* accepted */
	{ "valid", F(GOOD), 0, NULL, NULL },
	{ "header names in other case", F("host: server.example.com\r\n"
	    "UPGRADE: websocket\r\nconnection: upgrade\r\n"
	    "sec-websocket-key: " RFC_KEY "\r\nSEC-WEBSOCKET-VERSION: 13\r\n"),
	    0, NULL, NULL },
	{ "Upgrade: WebSocket", F(HOST "Upgrade: WebSocket\r\n" CONN KEY VER),
	    0, NULL, NULL },
	{ "Upgrade list containing websocket",
	    F(HOST "Upgrade: h2c, websocket\r\n" CONN KEY VER), 0, NULL, NULL },
	{ "Upgrade in two fields",
	    F(HOST "Upgrade: h2c\r\nUpgrade: websocket\r\n" CONN KEY VER), 0,
	    NULL, NULL },
	{ "Connection list with upgrade",
	    F(HOST UPG "Connection: keep-alive, Upgrade\r\n" KEY VER), 0, NULL,
	    NULL },
	{ "Connection list without spaces",
	    F(HOST UPG "Connection: keep-alive,upgrade\r\n" KEY VER), 0, NULL,
	    NULL },
	{ "Connection with empty elements and OWS",
	    F(HOST UPG "Connection: , ,\tUPGRADE ,\r\n" KEY VER), 0, NULL,
	    NULL },
	{ "Connection in two fields",
	    F(HOST UPG "Connection: keep-alive\r\nConnection: upgrade\r\n" KEY
	    VER), 0, NULL, NULL },
	{ "Host with port", F("Host: server.example.com:8080\r\n" UPG CONN KEY
	    VER), 0, NULL, NULL },
	{ "Host IPv6 literal", F("Host: [::1]:8080\r\n" UPG CONN KEY VER), 0,
	    NULL, NULL },
	{ "Content-Length: 0", F(GOOD "Content-Length: 0\r\n"), 0, NULL, NULL },
	{ "OWS around values", F("Host:server.example.com\r\n"
	    "Upgrade: \t websocket \t\r\n" CONN KEY
	    "Sec-WebSocket-Version:\t13 \r\n"), 0, NULL, NULL },
	{ "key of 16 zero bytes", F(HOST UPG CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" VER), 0, NULL,
	    NULL },
	{ "key of 16 0xff bytes", F(HOST UPG CONN
	    "Sec-WebSocket-Key: /////////////////////w==\r\n" VER), 0, NULL,
	    NULL },
	{ "key with + and /", F(HOST UPG CONN
	    "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n" VER), 0, NULL,
	    NULL },
	{ "query in target", R("GET /chat?x=1&y=/z HTTP/1.1", GOOD), 0, NULL,
	    NULL },
	{ "tab and obs-text in a value", F(GOOD "X-Tab: a\tb \xc3\xa9\r\n"), 0,
	    NULL, NULL },
	{ "end-to-end fields", F(GOOD "Origin: https://example.com\r\n"
	    "Cookie: a=b\r\nSec-WebSocket-Protocol: chat\r\n"), 0, NULL, NULL },
	{ "field names with every tchar", F(GOOD
	    "!#$%&'*+-.^_`|~09azAZ: x\r\n"), 0, NULL, NULL },

	/* method */
	{ "POST", R("POST /chat HTTP/1.1", GOOD), 405, XALLOW, NULL },
	{ "HEAD", R("HEAD /chat HTTP/1.1", GOOD), 405, XALLOW, NULL },
	{ "lower-case get", R("get /chat HTTP/1.1", GOOD), 405, XALLOW, NULL },
	{ "GETX", R("GETX /chat HTTP/1.1", GOOD), 405, XALLOW, NULL },

	/* version */
	{ "HTTP/1.0", R("GET /chat HTTP/1.0", GOOD), 400, NULL, NULL },
	{ "HTTP/1.2", R("GET /chat HTTP/1.2", GOOD), 400, NULL, NULL },
	{ "HTTP/2.0", R("GET /chat HTTP/2.0", GOOD), 505, NULL, NULL },
	{ "HTTP/3.0", R("GET /chat HTTP/3.0", GOOD), 505, NULL, NULL },
	{ "HTTP/0.9", R("GET /chat HTTP/0.9", GOOD), 505, NULL, NULL },
	{ "HTTP/2", R("GET /chat HTTP/2", GOOD), 400, NULL, NULL },
	{ "HTTP/1.10", R("GET /chat HTTP/1.10", GOOD), 400, NULL, NULL },
	{ "HTTP/11", R("GET /chat HTTP/11", GOOD), 400, NULL, NULL },
	{ "http/1.1", R("GET /chat http/1.1", GOOD), 400, NULL, NULL },
	{ "HTTPS/1.1", R("GET /chat HTTPS/1.1", GOOD), 400, NULL, NULL },
	{ "HTTP/ 1.1", R("GET /chat HTTP/ 1.1", GOOD), 400, NULL, NULL },

	/* malformed request line */
	{ "no version", R("GET /chat", GOOD), 400, NULL, NULL },
	{ "no target", R("GET HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "no method", R("/chat HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "two spaces after method", R("GET  /chat HTTP/1.1", GOOD), 400, NULL,
	    NULL },
	{ "two spaces before version", R("GET /chat  HTTP/1.1", GOOD), 400,
	    NULL, NULL },
	{ "tab as separator", R("GET\t/chat HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "leading space", R(" GET /chat HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "trailing space", R("GET /chat HTTP/1.1 ", GOOD), 400, NULL, NULL },
	{ "invalid method character", R("G(T /chat HTTP/1.1", GOOD), 400,
	    NULL, NULL },
	{ "control byte in target", R("GET /ch\x01" "at HTTP/1.1", GOOD), 400,
	    NULL, NULL },
	{ "DEL in target", R("GET /ch\x7f" "at HTTP/1.1", GOOD), 400, NULL,
	    NULL },
	{ "NUL in target", R("GET /ch\0at HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "non-ASCII in target", R("GET /ch\xc3\xa9 HTTP/1.1", GOOD), 400,
	    NULL, NULL },
	{ "bare CR in request line", R("GET /chat\rx HTTP/1.1", GOOD), 400,
	    NULL, NULL },
	{ "CR CR LF after request line", R("GET /chat HTTP/1.1\r", GOOD), 400,
	    NULL, NULL },
	{ "bare LF after request line", S("GET /chat HTTP/1.1\n" GOOD "\r\n"),
	    400, NULL, NULL },

	/* request-target forms */
	{ "absolute-form", R("GET http://server.example.com/chat HTTP/1.1",
	    GOOD), 400, NULL, NULL },
	{ "absolute-form ws", R("GET ws://server.example.com/chat HTTP/1.1",
	    GOOD), 400, NULL, NULL },
	{ "asterisk-form", R("GET * HTTP/1.1", GOOD), 400, NULL, NULL },
	{ "authority-form", R("GET server.example.com:80 HTTP/1.1", GOOD), 400,
	    NULL, NULL },

	/* field syntax */
	{ "obs-fold", F(GOOD "X-Fold: a\r\n b\r\n"), 400, NULL, NULL },
	{ "obs-fold with tab", F(GOOD "X-Fold: a\r\n\tb\r\n"), 400, NULL, NULL },
	{ "whitespace before the first field", F(" " GOOD), 400, NULL, NULL },
	{ "space before colon", F("Host : server.example.com\r\n" UPG CONN KEY
	    VER), 400, NULL, NULL },
	{ "tab before colon", F(HOST "Upgrade\t: websocket\r\n" CONN KEY VER),
	    400, NULL, NULL },
	{ "space before colon, other field", F(GOOD "X-A : b\r\n"), 400, NULL,
	    NULL },
	{ "bare CR in value", F(GOOD "X-A: a\rb\r\n"), 400, NULL, NULL },
	{ "bare CR at end of value", F(GOOD "X-A: a\r\r\n"), 400, NULL, NULL },
	{ "bare CR in name", F(GOOD "X\rA: a\r\n"), 400, NULL, NULL },
	{ "bare LF ending a field", F(HOST "X-A: a\n" UPG CONN KEY VER), 400,
	    NULL, NULL },
	{ "bare LF ending the head", S(LINE GOOD "\n"), 400, NULL, NULL },
	{ "NUL in value", F(GOOD "X-A: a\0b\r\n"), 400, NULL, NULL },
	{ "NUL in name", F(GOOD "X\0A: a\r\n"), 400, NULL, NULL },
	{ "NUL at start of line", F(GOOD "\0X-A: a\r\n"), 400, NULL, NULL },
	{ "0x01 in value", F(GOOD "X-A: a\x01" "b\r\n"), 400, NULL, NULL },
	{ "VT in value", F(GOOD "X-A: a\vb\r\n"), 400, NULL, NULL },
	{ "FF in value", F(GOOD "X-A: a\fb\r\n"), 400, NULL, NULL },
	{ "ESC in value", F(GOOD "X-A: a\x1b" "b\r\n"), 400, NULL, NULL },
	{ "0x1f in value", F(GOOD "X-A: a\x1f" "b\r\n"), 400, NULL, NULL },
	{ "DEL in value", F(GOOD "X-A: a\x7f" "b\r\n"), 400, NULL, NULL },
	{ "control byte in the Host value", F("Host: server\x01.example.com\r\n"
	    UPG CONN KEY VER), 400, NULL, NULL },
	{ "@ in name", F(GOOD "X@A: a\r\n"), 400, NULL, NULL },
	{ "( in name", F(GOOD "X(A): a\r\n"), 400, NULL, NULL },
	{ "quote in name", F(GOOD "X\"A: a\r\n"), 400, NULL, NULL },
	{ "slash in name", F(GOOD "X/A: a\r\n"), 400, NULL, NULL },
	{ "comma in name", F(GOOD "X,A: a\r\n"), 400, NULL, NULL },
	{ "= in name", F(GOOD "X=A: a\r\n"), 400, NULL, NULL },
	{ "non-ASCII in name", F(GOOD "X\xc3\xa9: a\r\n"), 400, NULL, NULL },
	{ "line without colon", F(GOOD "XA\r\n"), 400, NULL, NULL },
	{ "empty field name", F(GOOD ": a\r\n"), 400, NULL, NULL },
	{ "colon alone", F(GOOD ":\r\n"), 400, NULL, NULL },

	/* Host */
	{ "missing Host", F(UPG CONN KEY VER), 400, NULL, NULL },
	{ "duplicate Host", F(GOOD HOST), 400, NULL, NULL },
	{ "duplicate Host, other value", F(GOOD "Host: other.example\r\n"), 400,
	    NULL, NULL },
	{ "duplicate Host, other case", F(GOOD "host: server.example.com\r\n"),
	    400, NULL, NULL },
	{ "Host with a space", F("Host: server example.com\r\n" UPG CONN KEY
	    VER), 400, NULL, NULL },
	{ "Host with a slash", F("Host: server.example.com/x\r\n" UPG CONN
	    KEY VER), 400, NULL, NULL },
	{ "Host with userinfo", F("Host: user@server.example.com\r\n" UPG
	    CONN KEY VER), 400, NULL, NULL },

	/* body */
	{ "Content-Length: 1", F(GOOD "Content-Length: 1\r\n"), 400, NULL,
	    NULL },
	{ "Content-Length: 10", F(GOOD "Content-Length: 10\r\n"), 400, NULL,
	    NULL },
	{ "empty Content-Length", F(GOOD "Content-Length:\r\n"), 400, NULL,
	    NULL },
	{ "Content-Length: 0 twice", F(GOOD "Content-Length: 0\r\n"
	    "Content-Length: 0\r\n"), 400, NULL, NULL },
	{ "Content-Length 0 and 1", F(GOOD "Content-Length: 0\r\n"
	    "Content-Length: 1\r\n"), 400, NULL, NULL },
	{ "Transfer-Encoding: chunked", F(GOOD "Transfer-Encoding: chunked\r\n"),
	    400, NULL, NULL },
	{ "Transfer-Encoding: identity",
	    F(GOOD "Transfer-Encoding: identity\r\n"), 400, NULL, NULL },
	{ "Transfer-Encoding: gzip, chunked",
	    F(GOOD "Transfer-Encoding: gzip, chunked\r\n"), 400, NULL, NULL },
	{ "empty Transfer-Encoding", F(GOOD "Transfer-Encoding:\r\n"), 400,
	    NULL, NULL },
	{ "Transfer-Encoding and Content-Length: 0",
	    F(GOOD "Content-Length: 0\r\ntransfer-encoding: chunked\r\n"), 400,
	    NULL, NULL },

	/* Upgrade */
	{ "no Upgrade", F(HOST CONN KEY VER), 426, XUPG, NULL },
	{ "plain HTTP request", F(HOST), 426, XUPG, NULL },
	{ "Upgrade: h2c", F(HOST "Upgrade: h2c\r\n" CONN KEY VER), 426, XUPG,
	    NULL },
	{ "empty Upgrade", F(HOST "Upgrade:\r\n" CONN KEY VER), 426, XUPG,
	    NULL },
	{ "Upgrade: websockets", F(HOST "Upgrade: websockets\r\n" CONN KEY VER),
	    426, XUPG, NULL },
	{ "Upgrade: web socket", F(HOST "Upgrade: web socket\r\n" CONN KEY VER),
	    426, XUPG, NULL },

	/* Connection */
	{ "no Connection", F(HOST UPG KEY VER), 400, NULL, NULL },
	{ "Connection: keep-alive", F(HOST UPG "Connection: keep-alive\r\n" KEY
	    VER), 400, NULL, NULL },
	{ "Connection: close", F(HOST UPG "Connection: close\r\n" KEY VER), 400,
	    NULL, NULL },
	{ "Connection: upgraded", F(HOST UPG "Connection: upgraded\r\n" KEY
	    VER), 400, NULL, NULL },
	{ "Connection: keep-alive upgrade",
	    F(HOST UPG "Connection: keep-alive upgrade\r\n" KEY VER), 400, NULL,
	    NULL },

	/* Sec-WebSocket-Version */
	{ "Version missing", F(HOST UPG CONN KEY), 426, XUPG, XVER },
	{ "Version 8", F(HOST UPG CONN KEY "Sec-WebSocket-Version: 8\r\n"), 426,
	    XUPG, XVER },
	{ "Version 013", F(HOST UPG CONN KEY "Sec-WebSocket-Version: 013\r\n"),
	    426, XUPG, XVER },
	{ "Version empty", F(HOST UPG CONN KEY "Sec-WebSocket-Version:\r\n"),
	    426, XUPG, XVER },
	{ "Version list 13, 8", F(HOST UPG CONN KEY
	    "Sec-WebSocket-Version: 13, 8\r\n"), 426, XUPG, XVER },
	{ "Version duplicate", F(HOST UPG CONN KEY VER VER), 426, XUPG, XVER },
	{ "Version 8 and 13", F(HOST UPG CONN KEY
	    "Sec-WebSocket-Version: 8\r\n" VER), 426, XUPG, XVER },

	/* Sec-WebSocket-Key */
	{ "Key missing", F(HOST UPG CONN VER), 400, NULL, NULL },
	{ "Key duplicate", F(GOOD KEY), 400, NULL, NULL },
	{ "Key duplicate, other value", F(GOOD
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n"), 400, NULL,
	    NULL },
	{ "Key empty", F(HOST UPG CONN "Sec-WebSocket-Key:\r\n" VER), 400,
	    NULL, NULL },
	{ "Key of 15 bytes", F(HOST UPG CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n" VER), 400, NULL,
	    NULL },
	{ "Key of 17 bytes", F(HOST UPG CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER), 400, NULL,
	    NULL },
	{ "Key of 18 bytes", F(HOST UPG CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA\r\n" VER), 400, NULL,
	    NULL },
	{ "Key of 32 bytes", F(HOST UPG CONN "Sec-WebSocket-Key: "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with !", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j!Q==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with URL-safe -", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j-Q==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with URL-safe _", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j_Q==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with inner space", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j Q==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with inner =", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNh=XBsZSBub25jZQ==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with stray bits (R)", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with stray bits (f)", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZf==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with stray bits (B)", F(HOST UPG CONN
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\n" VER), 400, NULL,
	    NULL },
	{ "Key without padding", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with one =", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with three =", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n" VER), 400, NULL,
	    NULL },
	{ "Key with === padding", F(HOST UPG CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ===\r\n" VER), 400, NULL,
	    NULL },
};

/*
 * Parses buf and, when the head is complete, checks it as an upgrade: the
 * status wstunnel would answer, 0 when accepted, -2 when incomplete.
 */
static int
outcome(const char *buf, size_t len, size_t max_head, struct http_request *req,
    struct ws_request *ws, int *head_len)
{
	int r;

	memset(req, 0, sizeof(*req));
	r = http_parse_request(buf, len, max_head, req);
	*head_len = r;
	if (r == HTTP_INCOMPLETE)
		return -2;
	if (r == HTTP_BAD)
		return req->err.status;
	if (r < 0)
		return -3;
	if (http_check_upgrade(req, ws) != 0)
		return req->err.status;
	return 0;
}

static void
check_extra(const char *name, const struct http_error *e, const char *want1,
    const char *want2)
{
	if (want1 == NULL) {
		CHECK(e->extra == NULL, "%s: no extra header line expected, "
		    "got \"%s\"", name, e->extra != NULL ? e->extra : "");
		return;
	}
	if (!CHECK(e->extra != NULL, "%s: extra header lines missing", name))
		return;
	CHECK(strstr(e->extra, want1) != NULL, "%s: extra \"%s\" lacks %s",
	    name, e->extra, want1);
	if (want2 != NULL)
		CHECK(strstr(e->extra, want2) != NULL, "%s: extra \"%s\" lacks "
		    "%s", name, e->extra, want2);
}

static void
test_request_table(void)
{
	struct http_request req;
	struct ws_request ws;
	size_t i;
	int n;

	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		const struct req_case *c = &req_cases[i];
		int st = outcome(c->buf, c->len, MAX_HEAD, &req, &ws, &n);

		CHECK_INT(st, c->status, "request \"%s\": status", c->name);
		if (n >= 0)
			CHECK_INT(n, c->len, "request \"%s\": head length",
			    c->name);
		if (st > 0 && st == c->status) {
			check_extra(c->name, &req.err, c->extra1, c->extra2);
			CHECK(req.err.why != NULL && req.err.why[0] != '\0',
			    "request \"%s\": a reason is given", c->name);
		}
	}
}

/*
 * Host values (RFC 9110 section 7.2: uri-host [":" port], RFC 3986 section
 * 3.2.2): what is refused is never forwarded as X-Forwarded-Host, nor as Host
 * under --preserve-host.
 */
struct host_case {
	const char	*host;
	int		 ok;
};

static const struct host_case host_cases[] = {
	/* reg-name: unreserved, pct-encoded, sub-delims */
	{ "example.com", 1 },
	{ "EXAMPLE.Com", 1 },
	{ "localhost", 1 },
	{ "a-b.example", 1 },
	{ "a_b.example", 1 },
	{ "a~b.example", 1 },
	{ "example.com.", 1 },
	{ "1.example", 1 },
	{ "a.1b", 1 },
	{ "123abc", 1 },
	{ "0xg", 1 },
	{ "xn--caf-dma.example", 1 },
	{ "caf%C3%A9.example", 1 },
	{ "caf%c3%a9.example", 1 },
	{ "a!$&'()*+,;=b", 1 },
	/* port */
	{ "example.com:8080", 1 },
	{ "example.com:1", 1 },
	{ "example.com:65535", 1 },
	{ "example.com:08080", 1 },
	/* IPv4address */
	{ "127.0.0.1", 1 },
	{ "127.0.0.1:80", 1 },
	{ "0.0.0.0", 1 },
	{ "255.255.255.255", 1 },
	{ "192.0.2.10:8443", 1 },
	/* IP-literal */
	{ "[::1]", 1 },
	{ "[::1]:8080", 1 },
	{ "[2001:DB8::1]", 1 },
	{ "[::ffff:192.0.2.1]:443", 1 },

	/* issue 16: characters no host may hold */
	{ "exa#mple.com", 0 },
	{ "a|b.example", 0 },
	{ "a^b.example", 0 },
	{ "a`b.example", 0 },
	{ "a\"b", 0 },
	{ "a<b", 0 },
	{ "a>b", 0 },
	{ "a{b}", 0 },
	{ "a\\b", 0 },
	{ "a@b", 0 },
	{ "a/b", 0 },
	{ "a?b", 0 },
	{ "a b", 0 },
	{ "a\tb", 0 },
	{ "a[b", 0 },
	{ "a]b", 0 },
	{ "caf\xc3\xa9.example", 0 },
	/* pct-encoded: two hex digits, and only for non-ASCII (RFC 3986
	 * section 3.2.2: "unless it is used to represent a UTF-8 character
	 * sequence") */
	{ "a%", 0 },
	{ "a%4", 0 },
	{ "a%zz", 0 },
	{ "a%41", 0 },
	{ "a%2F", 0 },
	{ "a%00", 0 },
	{ "a%2e%2e", 0 },
	/* empty labels */
	{ "", 0 },
	{ ".", 0 },
	{ "..", 0 },
	{ ".example", 0 },
	{ "a..example", 0 },
	/* port */
	{ "example.com:", 0 },
	{ "example.com:0", 0 },
	{ "example.com:65536", 0 },
	{ "example.com:99999", 0 },
	{ "example.com:080800", 0 },
	{ "example.com:8080:80", 0 },
	{ "example.com:-1", 0 },
	{ "example.com:+80", 0 },
	{ "example.com:8o", 0 },
	{ ":80", 0 },
	{ ":", 0 },
	/* a name ending in a number is an IPv4address or nothing: URL
	 * parsers read "127.1" and "0x7f.0.0.1" as addresses */
	{ "1.2.3", 0 },
	{ "1.2.3.4.5", 0 },
	{ "256.1.1.1", 0 },
	{ "1.2.3.256", 0 },
	{ "01.2.3.4", 0 },
	{ "1.2.3.04", 0 },
	{ "127.1", 0 },
	{ "0x7f.0.0.1", 0 },
	{ "1234", 0 },
	{ "2130706433", 0 },
	{ "a.123", 0 },
	{ "a.0x1F", 0 },
	{ "a.0x", 0 },
	{ "1.2.3.4.", 0 },
	/* IP-literal: an IPv6address in brackets, nothing else */
	{ "[::1", 0 },
	{ "::1", 0 },
	{ "[::1]x", 0 },
	{ "[::1]:", 0 },
	{ "[::1]:x", 0 },
	{ "[::1]:0", 0 },
	{ "[zz::1]", 0 },
	{ "[]", 0 },
	{ "[127.0.0.1]", 0 },
	{ "[v1.x]", 0 },
	{ "[fe80::1%25eth0]", 0 },
	{ "[::1]]", 0 },
	{ "[[::1]]", 0 },
};

static void
test_request_host(void)
{
	static char buf[512];
	struct http_request req;
	struct ws_request ws;
	size_t i;
	int n;

	for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
		const struct host_case *c = &host_cases[i];
		int len = snprintf(buf, sizeof(buf), "%sHost: %s\r\n" UPG CONN
		    KEY VER "\r\n", LINE, c->host);
		int st = outcome(buf, (size_t)len, MAX_HEAD, &req, &ws, &n);

		CHECK_INT(st, c->ok ? 0 : 400, "Host \"%s\"", c->host);
		if (c->ok && st == 0)
			CHECK_MEM(ws.host, ws.host_len, c->host, "Host \"%s\": "
			    "value", c->host);
	}
}

/* What a valid request yields. */
static void
test_request_fields(void)
{
	static const char buf[] = LINE "Host: server.example.com\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: \t" RFC_KEY " \r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "Origin: https://a.example\r\nX-Empty:\r\n"
	    "origin: https://b.example\r\n\r\n";
	struct http_request req;
	struct ws_request ws;
	int n, st;

	st = outcome(buf, sizeof(buf) - 1, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 0, "fields: accepted");
	CHECK_INT(n, sizeof(buf) - 1, "fields: head length");
	if (st != 0)
		return;
	CHECK_MEM(req.method, req.method_len, "GET", "fields: method");
	CHECK_MEM(req.target, req.target_len, "/chat", "fields: target");
	CHECK_INT(req.major, 1, "fields: major");
	CHECK_INT(req.minor, 1, "fields: minor");
	CHECK_INT(req.nfields, 8, "fields: nfields");
	CHECK_MEM(req.fields[0].name, req.fields[0].name_len, "Host",
	    "fields: name 0");
	CHECK_MEM(req.fields[0].value, req.fields[0].value_len,
	    "server.example.com", "fields: value 0");
	CHECK_MEM(req.fields[3].value, req.fields[3].value_len, RFC_KEY,
	    "fields: value 3, OWS trimmed");
	CHECK_MEM(req.fields[6].name, req.fields[6].name_len, "X-Empty",
	    "fields: empty value name");
	CHECK_INT(req.fields[6].value_len, 0, "fields: empty value");
	CHECK_MEM(ws.host, ws.host_len, "server.example.com", "fields: ws.host");
	CHECK_MEM(ws.key, ws.key_len, RFC_KEY, "fields: ws.key");
	CHECK_INT(ws.norigin, 2, "fields: two Origin fields");
	CHECK_MEM(ws.origin, ws.origin_len, "https://a.example",
	    "fields: the first Origin");

	st = outcome(S(LINE GOOD "\r\n"), MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 0, "no Origin: accepted");
	CHECK(ws.origin == NULL, "no Origin: ws.origin is NULL");
	CHECK_INT(ws.norigin, 0, "no Origin: norigin");
}

/* Every strict prefix is incomplete; pipelined bytes are not the head's. */
static void
test_request_incomplete(void)
{
	static const char valid[] = LINE GOOD "Origin: http://x\r\n"
	    "X-A: \t a b \t\r\n\r\n";
	static const char after[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51"
	    "\x58" "GET / HTTP/1.1\r\n\r\n";
	char buf[sizeof(valid) + sizeof(after)];
	struct http_request req;
	size_t len = sizeof(valid) - 1, k;

	for (k = 0; k < len; k++) {
		int r;

		memset(&req, 0, sizeof(req));
		r = http_parse_request(valid, k, MAX_HEAD, &req);
		CHECK_INT(r, HTTP_INCOMPLETE, "prefix of %zu bytes of %zu", k,
		    len);
	}
	memset(&req, 0, sizeof(req));
	CHECK_INT(http_parse_request(valid, len, MAX_HEAD, &req), len,
	    "the full request");
	memcpy(buf, valid, len);
	memcpy(buf + len, after, sizeof(after) - 1);
	for (k = 1; k < sizeof(after); k++) {
		memset(&req, 0, sizeof(req));
		CHECK_INT(http_parse_request(buf, len + k, MAX_HEAD, &req), len,
		    "the full request and %zu bytes after it", k);
	}
	/* the same, the head ending exactly at max_head */
	memset(&req, 0, sizeof(req));
	CHECK_INT(http_parse_request(buf, len + sizeof(after) - 1, len, &req),
	    len, "max_head = head length, with bytes after it");
}

/* Heads that no continuation can make valid are HTTP_BAD already (http.h). */
static void
test_request_bad_prefix(void)
{
	static const struct {
		const char	*name;
		const char	*buf;
		size_t		 len;
	} cases[] = {
		{ "bad name in a complete line", S(LINE HOST "X A: b\r\n") },
		{ "bare LF after the request line", S("GET /chat HTTP/1.1\nHo") },
		{ "bare LF after a field", S(LINE "Host: a\nUp") },
		{ "obs-fold in a complete line", S(LINE HOST " folded\r\n") },
		{ "NUL in a complete line", S(LINE "X-A: \0\r\n") },
		/* the line is not complete, but no continuation can help */
		{ "bare CR then a byte, in a field", S(LINE "X-A: a\rb") },
		{ "NUL, in an unfinished field", S(LINE "X-A: a\0") },
		{ "bare CR then a byte, in the request line", S("GET /ch\rat") },
	};
	struct http_request req;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		memset(&req, 0, sizeof(req));
		r = http_parse_request(cases[i].buf, cases[i].len, MAX_HEAD,
		    &req);
		CHECK_INT(r, HTTP_BAD, "unfinished head, %s", cases[i].name);
		if (r == HTTP_BAD)
			CHECK_INT(req.err.status, 400, "unfinished head, %s: "
			    "status", cases[i].name);
	}
}

/* "GET /aaa...a HTTP/1.1" of exactly linelen bytes, then GOOD and the empty
 * line unless bare; returns the length. */
static size_t
long_request(char *buf, size_t linelen, int bare)
{
	size_t o = 0, pad = linelen - strlen("GET / HTTP/1.1");

	memcpy(buf, "GET /", 5);
	o = 5;
	memset(buf + o, 'a', pad);
	o += pad;
	memcpy(buf + o, " HTTP/1.1", 9);
	o += 9;
	if (!bare) {
		memcpy(buf + o, "\r\n" GOOD "\r\n", sizeof("\r\n" GOOD "\r\n") - 1);
		o += sizeof("\r\n" GOOD "\r\n") - 1;
	}
	return o;
}

static void
test_request_line_length(void)
{
	static char buf[HTTP_MAX_LINE * 2];
	struct http_request req;
	struct ws_request ws;
	size_t len;
	int st, n;

	len = long_request(buf, 8192, 0);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 0, "request line of 8192 bytes");
	CHECK_INT(n, len, "request line of 8192 bytes: head length");
	CHECK_INT(req.target_len, 8192 - 13, "request line of 8192 bytes: "
	    "target");

	len = long_request(buf, 8193, 0);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 414, "request line of 8193 bytes");

	len = long_request(buf, 9000, 0);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 414, "request line of 9000 bytes");

	/* before its CRLF has arrived */
	len = long_request(buf, 8192, 1);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, -2, "8192 bytes of request line, no CRLF yet");
	buf[len] = '\r';
	st = outcome(buf, len + 1, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, -2, "8192 bytes of request line and CR");
	len = long_request(buf, 8193, 1);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 414, "8193 bytes of request line, no CRLF yet");
}

/* A valid request padded with an X-Pad field to exactly total bytes. */
static size_t
padded_request(char *buf, size_t total)
{
	static const char head[] = LINE GOOD "X-Pad: ";
	size_t o = sizeof(head) - 1, pad = total - o - 4;

	memcpy(buf, head, o);
	memset(buf + o, 'p', pad);
	memcpy(buf + o + pad, "\r\n\r\n", 4);
	return total;
}

/* A valid request of exactly nfields field lines. */
static size_t
many_fields(char *buf, size_t nfields)
{
	size_t o, i;

	o = sizeof(LINE GOOD) - 1;
	memcpy(buf, LINE GOOD, o);
	for (i = 5; i < nfields; i++)
		o += (size_t)sprintf(buf + o, "X-F%03zu: v\r\n", i);
	memcpy(buf + o, "\r\n", 2);
	return o + 2;
}

static void
test_request_head_size(void)
{
	static char buf[MAX_HEAD + 4096];
	struct http_request req;
	struct ws_request ws;
	size_t len;
	int st, n;

	len = padded_request(buf, MAX_HEAD);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 0, "head of exactly max_head bytes");
	CHECK_INT(n, MAX_HEAD, "head of exactly max_head bytes: length");

	len = padded_request(buf, MAX_HEAD + 1);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 431, "head of max_head + 1 bytes");

	len = padded_request(buf, 300);
	st = outcome(buf, len, 300, &req, &ws, &n);
	CHECK_INT(st, 0, "head of 300 bytes, max_head 300");
	st = outcome(buf, len, 299, &req, &ws, &n);
	CHECK_INT(st, 431, "head of 300 bytes, max_head 299");
	st = outcome(buf, len - 2, 297, &req, &ws, &n);
	CHECK_INT(st, 431, "head not finished and over max_head");
	st = outcome(buf, 200, 199, &req, &ws, &n);
	CHECK_INT(st, 431, "200 bytes of an unfinished field, max_head 199");
	st = outcome(buf, 199, 199, &req, &ws, &n);
	CHECK_INT(st, -2, "199 bytes of an unfinished field, max_head 199");

	/* field count: every field line counts, Host included */
	len = many_fields(buf, 100);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 0, "exactly 100 fields");
	CHECK_INT(req.nfields, 100, "exactly 100 fields: nfields");
	len = many_fields(buf, 101);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 431, "101 fields");
	len = many_fields(buf, 150);
	st = outcome(buf, len, MAX_HEAD, &req, &ws, &n);
	CHECK_INT(st, 431, "150 fields");
}

/* http_ws_accept: RFC 6455 section 1.3 and two computed with Python. */
static void
test_ws_accept(void)
{
	static const struct {
		const char *key, *accept;
	} cases[] = {
		{ RFC_KEY, RFC_ACCEPT },
		{ "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI=" },
		{ "x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=" },
	};
	char out[29];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'X', sizeof(out));
		http_ws_accept(cases[i].key, strlen(cases[i].key), out);
		CHECK_INT(out[28], '\0', "accept for %s: terminated",
		    cases[i].key);
		CHECK_MEM(out, strnlen(out, 29), cases[i].accept, "accept for %s",
		    cases[i].key);
	}
	/* only key_len bytes of the key count */
	http_ws_accept(RFC_KEY "garbage", strlen(RFC_KEY), out);
	CHECK_STR(out, RFC_ACCEPT, "accept uses key_len");
}

struct res_case {
	const char	*name;
	const char	*buf;
	size_t		 len;
	int		 ret;		/* 1: the head, less tail bytes */
	size_t		 tail;
	int		 status;	/* the status, or err.status */
	const char	*reason;
};

#define ACCEPT	"Sec-WebSocket-Accept: " RFC_ACCEPT "\r\n"
#define SWITCH	"HTTP/1.1 101 Switching Protocols\r\n" UPG CONN ACCEPT "\r\n"

static const struct res_case res_cases[] = {
	{ "101", S(SWITCH), 1, 0, 101, "Switching Protocols" },
	{ "no reason, no space", S("HTTP/1.1 101\r\n\r\n"), 1, 0, 101, "" },
	{ "no reason", S("HTTP/1.1 101 \r\n\r\n"), 1, 0, 101, "" },
	{ "reason with spaces", S("HTTP/1.1 404 Not Found\r\n\r\n"), 1, 0, 404,
	    "Not Found" },
	{ "body after the head", S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
	    "\r\nhi"), 1, 2, 200, "OK" },
	{ "HTTP/1.0", S("HTTP/1.0 200 OK\r\n\r\n"), 1, 0, 200, "OK" },
	{ "status 599", S("HTTP/1.1 599 X\r\n\r\n"), 1, 0, 599, "X" },
	{ "two-digit status", S("HTTP/1.1 20 OK\r\n\r\n"), HTTP_BAD, 0, 502,
	    NULL },
	{ "four-digit status", S("HTTP/1.1 2000 OK\r\n\r\n"), HTTP_BAD, 0, 502,
	    NULL },
	{ "letters for status", S("HTTP/1.1 abc OK\r\n\r\n"), HTTP_BAD, 0, 502,
	    NULL },
	{ "two spaces", S("HTTP/1.1  200 OK\r\n\r\n"), HTTP_BAD, 0, 502, NULL },
	{ "no status", S("HTTP/1.1\r\n\r\n"), HTTP_BAD, 0, 502, NULL },
	{ "not HTTP", S("ICY 200 OK\r\n\r\n"), HTTP_BAD, 0, 502, NULL },
	{ "bare LF status line", S("HTTP/1.1 200 OK\n\r\n"), HTTP_BAD, 0, 502,
	    NULL },
	{ "control byte in reason", S("HTTP/1.1 200 O\x01K\r\n\r\n"), HTTP_BAD,
	    0, 502, NULL },
	{ "bare LF in a field", S("HTTP/1.1 200 OK\r\nX: a\nY: b\r\n\r\n"),
	    HTTP_BAD, 0, 502, NULL },
	{ "bad field name", S("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
	    HTTP_BAD, 0, 502, NULL },
	{ "obs-fold", S("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"), HTTP_BAD, 0,
	    502, NULL },
};

static void
test_response_parse(void)
{
	struct http_response res;
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(res_cases) / sizeof(res_cases[0]); i++) {
		const struct res_case *c = &res_cases[i];

		memset(&res, 0, sizeof(res));
		r = http_parse_response(c->buf, c->len, MAX_HEAD, &res);
		if (c->ret == 1) {
			CHECK_INT(r, c->len - c->tail, "response \"%s\": length",
			    c->name);
			CHECK_INT(res.status, c->status, "response \"%s\": status",
			    c->name);
			if (r > 0)
				CHECK_MEM(res.reason, res.reason_len, c->reason,
				    "response \"%s\": reason", c->name);
		} else {
			CHECK_INT(r, c->ret, "response \"%s\": result", c->name);
			CHECK_INT(res.err.status, c->status, "response \"%s\": "
			    "err.status", c->name);
		}
	}

	/* the 101's fields */
	memset(&res, 0, sizeof(res));
	http_parse_response(S(SWITCH), MAX_HEAD, &res);
	CHECK_INT(res.major, 1, "101: major");
	CHECK_INT(res.minor, 1, "101: minor");
	CHECK_INT(res.nfields, 3, "101: nfields");
	CHECK_MEM(res.fields[2].name, res.fields[2].name_len,
	    "Sec-WebSocket-Accept", "101: field 2 name");
	CHECK_MEM(res.fields[2].value, res.fields[2].value_len, RFC_ACCEPT,
	    "101: field 2 value");

	for (k = 0; k < sizeof(SWITCH) - 1; k++) {
		memset(&res, 0, sizeof(res));
		r = http_parse_response(SWITCH, k, MAX_HEAD, &res);
		CHECK_INT(r, HTTP_INCOMPLETE, "response prefix of %zu bytes", k);
	}
	memset(&res, 0, sizeof(res));
	r = http_parse_response(S(SWITCH), sizeof(SWITCH) - 2, &res);
	CHECK_INT(r, HTTP_BAD, "response over max_head");
	CHECK_INT(res.err.status, 502, "response over max_head: err.status");
	memset(&res, 0, sizeof(res));
	r = http_parse_response(SWITCH, sizeof(SWITCH) - 3,
	    sizeof(SWITCH) - 4, &res);
	CHECK_INT(r, HTTP_BAD, "unfinished response over max_head");
}

/* Interim answers (RFC 9110 section 15.2): a 1xx but 101 is not the answer,
 * and the answers follow one another in the buffer, each parsed alone. */
static void
test_response_interim(void)
{
	static const struct {
		const char	*buf;
		int		 interim;
	} cases[] = {
		{ "HTTP/1.1 100 Continue\r\n\r\n", 1 },
		{ "HTTP/1.1 102 Processing\r\n\r\n", 1 },
		{ "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n"
		    "Link: </b.js>; rel=preload\r\n\r\n", 1 },
		{ "HTTP/1.1 199\r\n\r\n", 1 },
		{ "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", 1 },
		{ SWITCH, 0 },
		{ "HTTP/1.1 101\r\n\r\n", 0 },
		{ "HTTP/1.1 200 OK\r\n\r\n", 0 },
		{ "HTTP/1.1 204 No Content\r\n\r\n", 0 },
		{ "HTTP/1.1 403 Forbidden\r\n\r\n", 0 },
	};
	static const char seq[] = "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
	    SWITCH "tunnel";
	static const int statuses[] = { 100, 103, 101 };
	struct http_response res;
	size_t i, off = 0;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&res, 0, sizeof(res));
		r = http_parse_response(cases[i].buf, strlen(cases[i].buf),
		    HTTP_MAX_RESPONSE_HEAD, &res);
		CHECK_INT(r, strlen(cases[i].buf), "interim %s: parsed",
		    cases[i].buf);
		CHECK_INT(http_is_interim(&res), cases[i].interim,
		    "interim %s", cases[i].buf);
	}
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		memset(&res, 0, sizeof(res));
		r = http_parse_response(seq + off, sizeof(seq) - 1 - off,
		    HTTP_MAX_RESPONSE_HEAD, &res);
		if (!CHECK(r > 0, "answer %zu of three: complete", i))
			return;
		CHECK_INT(res.status, statuses[i], "answer %zu of three", i);
		CHECK_INT(http_is_interim(&res), i < 2, "answer %zu of three: "
		    "interim", i);
		off += (size_t)r;
	}
	CHECK_MEM(seq + off, sizeof(seq) - 1 - off, "tunnel",
	    "after the final answer");
}

/* A 101 padded by an X-Pad field to exactly total bytes. */
static size_t
padded_response(char *buf, size_t total)
{
	static const char head[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    UPG CONN ACCEPT "X-Pad: ";
	size_t o = sizeof(head) - 1, pad = total - o - 4;

	memcpy(buf, head, o);
	memset(buf + o, 'p', pad);
	memcpy(buf + o + pad, "\r\n\r\n", 4);
	return total;
}

/* The backend's head has its own bound and its own words for it. */
static void
test_response_bound(void)
{
	static char buf[HTTP_MAX_RESPONSE_HEAD + 64];
	struct http_response res;
	size_t len, i;
	int r;

	len = padded_response(buf, HTTP_MAX_RESPONSE_HEAD);
	memset(&res, 0, sizeof(res));
	r = http_parse_response(buf, len, HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_MAX_RESPONSE_HEAD, "response head of the bound");
	CHECK(http_check_switch(&res, RFC_KEY, strlen(RFC_KEY)) == NULL,
	    "response head of the bound: a valid 101");

	len = padded_response(buf, HTTP_MAX_RESPONSE_HEAD + 1);
	r = http_parse_response(buf, len, HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_BAD, "response head of the bound + 1");
	CHECK_INT(res.err.status, 502, "response head of the bound + 1: 502");
	CHECK_STR(res.err.why, "response head too large",
	    "response head of the bound + 1: why");

	/* bytes that end no line count as they arrive */
	r = http_parse_response(buf, HTTP_MAX_RESPONSE_HEAD + 1,
	    HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_BAD, "unfinished field over the bound");
	CHECK_STR(res.err.why, "response head too large",
	    "unfinished field over the bound: why");
	r = http_parse_response(buf, HTTP_MAX_RESPONSE_HEAD,
	    HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_INCOMPLETE, "unfinished field of the bound");
	memcpy(buf, "HTTP/1.1 101 ", 13);
	memset(buf + 13, 'r', HTTP_MAX_RESPONSE_HEAD);
	r = http_parse_response(buf, HTTP_MAX_RESPONSE_HEAD + 1,
	    HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_BAD, "unfinished status line over the bound");
	CHECK_STR(res.err.why, "response head too large",
	    "unfinished status line over the bound: why");

	/* field lines: every one counts */
	len = sizeof("HTTP/1.1 101\r\n") - 1;
	memcpy(buf, "HTTP/1.1 101\r\n", len);
	for (i = 0; i < HTTP_MAX_FIELDS + 1; i++)
		len += (size_t)sprintf(buf + len, "X-F%03zu: v\r\n", i);
	memcpy(buf + len, "\r\n", 2);
	r = http_parse_response(buf, len + 2, HTTP_MAX_RESPONSE_HEAD, &res);
	CHECK_INT(r, HTTP_BAD, "response with 101 fields");
	CHECK_INT(res.err.status, 502, "response with 101 fields: 502");
}

/*
 * Resumed parsing (struct http_resume): the head given a piece at a time,
 * each call going on from the last, answers at every step what a parse of
 * the same bytes from the start answers, down to the reason and the fields.
 */
static const size_t pieces[] = { 1, 2, 3, 5, 8, 64, 100000 };

static void
resume_request(const char *name, const char *buf, size_t len, size_t max)
{
	static struct http_request a, b;
	struct http_resume rs;
	size_t k, n;
	int ra, rb;

	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		memset(&a, 0, sizeof(a));
		memset(&rs, 0, sizeof(rs));
		for (n = 0, ra = HTTP_INCOMPLETE; ra == HTTP_INCOMPLETE &&
		    n < len;) {
			n = len - n > pieces[k] ? n + pieces[k] : len;
			ra = http_resume_request(buf, n, max, &a, &rs);
			memset(&b, 0, sizeof(b));
			rb = http_parse_request(buf, n, max, &b);
			if (!CHECK_INT(ra, rb, "resumed request %s, pieces of "
			    "%zu, at %zu", name, pieces[k], n))
				break;
			if (ra == HTTP_BAD)
				CHECK(a.err.status == b.err.status &&
				    a.err.why == b.err.why, "resumed request "
				    "%s, pieces of %zu: %s, not %s", name,
				    pieces[k], a.err.why, b.err.why);
			if (ra > 0)
				CHECK(a.nfields == b.nfields && memcmp(a.fields,
				    b.fields, a.nfields * sizeof(a.fields[0]))
				    == 0 && a.target == b.target, "resumed "
				    "request %s, pieces of %zu: fields", name,
				    pieces[k]);
		}
	}
}

static void
resume_response(const char *name, const char *buf, size_t len, size_t max)
{
	static struct http_response a, b;
	struct http_resume rs;
	size_t k, n;
	int ra, rb;

	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		memset(&a, 0, sizeof(a));
		memset(&rs, 0, sizeof(rs));
		for (n = 0, ra = HTTP_INCOMPLETE; ra == HTTP_INCOMPLETE &&
		    n < len;) {
			n = len - n > pieces[k] ? n + pieces[k] : len;
			ra = http_resume_response(buf, n, max, &a, &rs);
			memset(&b, 0, sizeof(b));
			rb = http_parse_response(buf, n, max, &b);
			if (!CHECK_INT(ra, rb, "resumed response %s, pieces of "
			    "%zu, at %zu", name, pieces[k], n))
				break;
			if (ra == HTTP_BAD)
				CHECK(a.err.status == b.err.status &&
				    a.err.why == b.err.why, "resumed response "
				    "%s, pieces of %zu: %s, not %s", name,
				    pieces[k], a.err.why, b.err.why);
			if (ra > 0)
				CHECK(a.status == b.status && a.nfields ==
				    b.nfields && memcmp(a.fields, b.fields,
				    a.nfields * sizeof(a.fields[0])) == 0,
				    "resumed response %s, pieces of %zu: "
				    "fields", name, pieces[k]);
		}
	}
}

static void
test_resume(void)
{
	static const struct {
		const char	*name;
		const char	*buf;
		size_t		 len;
	} req_more[] = {
		/* a bad byte refused when it arrives, also at a piece's edge */
		{ "bare CR, then a byte", S(LINE HOST "X-A: a\rb\r\n\r\n") },
		{ "bare CR, then NUL", S(LINE HOST "X-A: a\r\0\r\n\r\n") },
		{ "CR CR LF", S(LINE HOST "X-A: a\r\r\n\r\n") },
		{ "NUL late in a line", S(LINE HOST "X-A: abcdefgh\0\r\n\r\n") },
		{ "bare CR in the request line", S("GET /a\rb HTTP/1.1\r\n\r\n") },
	}, res_more[] = {
		{ "interim", S("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
		    SWITCH) },
		{ "bare CR", S("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n") },
		{ "NUL", S("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n") },
	};
	static char buf[MAX_HEAD + 4096];
	size_t i, len;

	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++)
		resume_request(req_cases[i].name, req_cases[i].buf,
		    req_cases[i].len, MAX_HEAD);
	for (i = 0; i < sizeof(req_more) / sizeof(req_more[0]); i++)
		resume_request(req_more[i].name, req_more[i].buf,
		    req_more[i].len, MAX_HEAD);
	len = padded_request(buf, MAX_HEAD + 1);
	resume_request("one byte over max_head", buf, len, MAX_HEAD);
	resume_request("padded, max_head 300", buf, len, 300);
	len = many_fields(buf, 101);
	resume_request("101 fields", buf, len, MAX_HEAD);
	len = long_request(buf, 8193, 0);
	resume_request("request line of 8193 bytes", buf, len, MAX_HEAD);

	for (i = 0; i < sizeof(res_cases) / sizeof(res_cases[0]); i++)
		resume_response(res_cases[i].name, res_cases[i].buf,
		    res_cases[i].len, HTTP_MAX_RESPONSE_HEAD);
	for (i = 0; i < sizeof(res_more) / sizeof(res_more[0]); i++)
		resume_response(res_more[i].name, res_more[i].buf,
		    res_more[i].len, HTTP_MAX_RESPONSE_HEAD);
	len = padded_response(buf, MAX_HEAD);
	resume_response("padded, bound 16384", buf, len, MAX_HEAD);
	resume_response("padded, bound 300", buf, len, 300);
}

struct switch_case {
	const char	*name;
	const char	*buf;
	int		 ok;
};

static const struct switch_case switch_cases[] = {
	{ "valid", SWITCH, 1 },
	{ "valid, no reason", "HTTP/1.1 101\r\n" UPG CONN ACCEPT "\r\n", 1 },
	{ "Upgrade: WebSocket", "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: WebSocket\r\n" CONN ACCEPT "\r\n", 1 },
	{ "accept with OWS", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN
	    "Sec-WebSocket-Accept: \t" RFC_ACCEPT " \r\n\r\n", 1 },
	{ "no Upgrade", "HTTP/1.1 101 Switching Protocols\r\n" CONN ACCEPT
	    "\r\n", 0 },
	{ "Upgrade: h2c", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
	    CONN ACCEPT "\r\n", 0 },
	{ "no accept", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN "\r\n",
	    0 },
	{ "wrong accept", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN
	    "Sec-WebSocket-Accept: ICX+Yqv66kxgM0FcWaLWlFLwTAI=\r\n\r\n", 0 },
	{ "accept in other case", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN
	    "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n\r\n", 0 },
	{ "accept one character short", "HTTP/1.1 101 Switching Protocols\r\n"
	    UPG CONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n",
	    0 },
	{ "accept with a byte more", "HTTP/1.1 101 Switching Protocols\r\n"
	    UPG CONN "Sec-WebSocket-Accept: " RFC_ACCEPT "x\r\n\r\n", 0 },
	{ "empty accept", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN
	    "Sec-WebSocket-Accept:\r\n\r\n", 0 },
	{ "duplicate accept", "HTTP/1.1 101 Switching Protocols\r\n" UPG CONN
	    ACCEPT ACCEPT "\r\n", 0 },
	{ "HTTP/1.0 101", "HTTP/1.0 101 Switching Protocols\r\n" UPG CONN ACCEPT
	    "\r\n", 0 },
	{ "200 with the 101's fields", "HTTP/1.1 200 OK\r\n" UPG CONN ACCEPT
	    "\r\n", 0 },
	{ "100", "HTTP/1.1 100 Continue\r\n" UPG CONN ACCEPT "\r\n", 0 },
};

static void
test_check_switch(void)
{
	struct http_response res;
	size_t i;

	for (i = 0; i < sizeof(switch_cases) / sizeof(switch_cases[0]); i++) {
		const struct switch_case *c = &switch_cases[i];
		const char *why;
		int r;

		memset(&res, 0, sizeof(res));
		r = http_parse_response(c->buf, strlen(c->buf), MAX_HEAD, &res);
		if (!CHECK_INT(r, strlen(c->buf), "switch \"%s\": parsed",
		    c->name))
			continue;
		why = http_check_switch(&res, RFC_KEY, strlen(RFC_KEY));
		if (c->ok)
			CHECK(why == NULL, "switch \"%s\": accepted, got \"%s\"",
			    c->name, why != NULL ? why : "");
		else
			CHECK(why != NULL && why[0] != '\0',
			    "switch \"%s\": refused", c->name);
	}
	/* the accept belongs to the key */
	memset(&res, 0, sizeof(res));
	http_parse_response(S(SWITCH), MAX_HEAD, &res);
	CHECK(http_check_switch(&res, "AAAAAAAAAAAAAAAAAAAAAA==", 24) != NULL,
	    "switch: the accept of another key is refused");
}

struct token_case {
	const char	*value;
	size_t		 len;		/* 0: strlen(value) */
	const char	*token;
	int		 want;
};

static const struct token_case token_cases[] = {
	{ "websocket", 0, "websocket", 1 },
	{ "WebSocket", 0, "websocket", 1 },
	{ "websocket", 0, "WEBSOCKET", 1 },
	{ "h2c, websocket", 0, "websocket", 1 },
	{ "h2c,websocket", 0, "websocket", 1 },
	{ "websocket, h2c", 0, "websocket", 1 },
	{ " \t websocket \t ", 0, "websocket", 1 },
	{ ",,websocket,,", 0, "websocket", 1 },
	{ " , ,websocket", 0, "websocket", 1 },
	{ "h2c ,\twebsocket\t, x", 0, "websocket", 1 },
	{ "keep-alive, Upgrade", 0, "upgrade", 1 },
	{ "", 0, "websocket", 0 },
	{ ",", 0, "websocket", 0 },
	{ " , , ", 0, "websocket", 0 },
	{ "websockets", 0, "websocket", 0 },
	{ "xwebsocket", 0, "websocket", 0 },
	{ "websock", 0, "websocket", 0 },
	{ "web socket", 0, "websocket", 0 },
	{ "h2c websocket", 0, "websocket", 0 },
	{ "keep-alive", 0, "upgrade", 0 },
	{ "upgrade-insecure", 0, "upgrade", 0 },
	/* only len bytes count */
	{ "websocketX", 9, "websocket", 1 },
	{ "websocket", 8, "websocket", 0 },
	{ "h2c, websocket", 3, "websocket", 0 },
};

static void
test_list_has_token(void)
{
	size_t i;

	for (i = 0; i < sizeof(token_cases) / sizeof(token_cases[0]); i++) {
		const struct token_case *c = &token_cases[i];
		size_t len = c->len != 0 ? c->len : strlen(c->value);

		CHECK_INT(http_list_has_token(c->value, len, c->token,
		    strlen(c->token)), c->want, "token %s in \"%.*s\"",
		    c->token, (int)len, c->value);
	}
}

static void
test_field_find(void)
{
	static const char buf[] = "HTTP/1.1 200 OK\r\nA: 1\r\nConnection: x\r\n"
	    "a: 2\r\nconnection: Upgrade, y\r\nAB: 3\r\n\r\n";
	struct http_response res;

	memset(&res, 0, sizeof(res));
	http_parse_response(S(buf), MAX_HEAD, &res);
	CHECK_INT(http_field_find(res.fields, res.nfields, 0, "a"), 0,
	    "find a from 0");
	CHECK_INT(http_field_find(res.fields, res.nfields, 1, "A"), 2,
	    "find A from 1");
	CHECK_INT(http_field_find(res.fields, res.nfields, 3, "a"), -1,
	    "find a from 3");
	CHECK_INT(http_field_find(res.fields, res.nfields, 0, "B"), -1,
	    "find B");
	CHECK_INT(http_field_has_token(res.fields, res.nfields, "Connection",
	    "upgrade"), 1, "Connection has upgrade in its second field");
	CHECK_INT(http_field_has_token(res.fields, res.nfields, "Connection",
	    "z"), 0, "Connection has no z");
}

/* Parses head (which must be complete) and sets b up from it. */
static int
body_init(const char *head, struct http_body *b)
{
	struct http_response res;
	int r;

	memset(&res, 0, sizeof(res));
	r = http_parse_response(head, strlen(head), MAX_HEAD, &res);
	if (!CHECK_INT(r, strlen(head), "body head parses: %s", head))
		return -9;
	return http_body_init(&res, b);
}

struct init_case {
	const char	*head;
	int		 ret;
	enum http_body_kind kind;
	int		 done;
	uint64_t	 left;
};

#define H200	"HTTP/1.1 200 OK\r\n"

static const struct init_case init_cases[] = {
	{ H200 "Content-Length: 10\r\n\r\n", 0, HTTP_BODY_LENGTH, 0, 10 },
	{ H200 "Content-Length: 0\r\n\r\n", 0, HTTP_BODY_LENGTH, 1, 0 },
	{ H200 "Content-Length: 5\r\ncontent-length: 5\r\n\r\n", 0,
	    HTTP_BODY_LENGTH, 0, 5 },
	{ "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", 0,
	    HTTP_BODY_LENGTH, 0, 3 },
	{ H200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: 5\r\nContent-Length: x\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: abc\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length:\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: -1\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: +5\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: 1e3\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: 99999999999999999999999\r\n\r\n", -1, 0, 0, 0 },
	{ H200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", -1,
	    0, 0, 0 },
	{ H200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", -1,
	    0, 0, 0 },
	{ H200 "Transfer-Encoding: gzip\r\nContent-Length: 0\r\n\r\n", -1,
	    0, 0, 0 },
	{ H200 "Transfer-Encoding: chunked\r\n\r\n", 0, HTTP_BODY_CHUNKED, 0,
	    0 },
	{ H200 "transfer-encoding: Chunked\r\n\r\n", 0, HTTP_BODY_CHUNKED, 0,
	    0 },
	{ H200 "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, HTTP_BODY_CHUNKED,
	    0, 0 },
	{ H200 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	    0, HTTP_BODY_CHUNKED, 0, 0 },
	{ H200 "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, HTTP_BODY_EOF, 0,
	    0 },
	{ H200 "Transfer-Encoding: gzip\r\n\r\n", 0, HTTP_BODY_EOF, 0, 0 },
	{ H200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
	    0, HTTP_BODY_EOF, 0, 0 },
	{ H200 "\r\n", 0, HTTP_BODY_EOF, 0, 0 },
	{ "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0,
	    HTTP_BODY_NONE, 1, 0 },
	{ "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", 0,
	    HTTP_BODY_NONE, 1, 0 },
	{ "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	    HTTP_BODY_NONE, 1, 0 },
	{ "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, HTTP_BODY_NONE, 1, 0 },
	{ "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n", 0,
	    HTTP_BODY_NONE, 1, 0 },
	{ "HTTP/1.1 199 X\r\n\r\n", 0, HTTP_BODY_NONE, 1, 0 },
};

static void
test_body_init(void)
{
	struct http_body b;
	size_t i;

	for (i = 0; i < sizeof(init_cases) / sizeof(init_cases[0]); i++) {
		const struct init_case *c = &init_cases[i];
		ssize_t n;
		int r;

		memset(&b, 0xa5, sizeof(b));
		r = body_init(c->head, &b);
		CHECK_INT(r, c->ret, "body_init: %s", c->head);
		if (r != 0 || c->ret != 0)
			continue;
		CHECK_INT(b.kind, c->kind, "body kind: %s", c->head);
		CHECK_INT(b.done, c->done, "body done: %s", c->head);
		if (c->kind == HTTP_BODY_LENGTH)
			CHECK_INT(b.left, c->left, "body left: %s", c->head);
		if (c->kind == HTTP_BODY_NONE) {
			n = http_body_scan(&b, "abcdef", 6);
			CHECK_INT(n, 0, "no body, nothing of it belongs: %s",
			    c->head);
		}
		if (c->kind == HTTP_BODY_EOF) {
			n = http_body_scan(&b, "abcdef", 6);
			CHECK_INT(n, 6, "body to EOF takes all: %s", c->head);
			n = http_body_scan(&b, "0\r\n\r\n", 5);
			CHECK_INT(n, 5, "body to EOF takes all, again: %s",
			    c->head);
			CHECK_INT(b.done, 0, "body to EOF is never done: %s",
			    c->head);
		}
	}
}

/* A Content-Length body split in two at every byte boundary. */
static void
test_body_length(void)
{
	static const char data[] = "0123456789NEXT";
	struct http_body b;
	size_t k, len = sizeof(data) - 1;
	ssize_t n1;

	for (k = 0; k <= len; k++) {
		ssize_t n2;

		if (body_init(H200 "Content-Length: 10\r\n\r\n", &b) != 0)
			return;
		n1 = http_body_scan(&b, data, k);
		CHECK_INT(n1, k < 10 ? k : 10, "length body, first %zu bytes", k);
		CHECK_INT(b.done, k >= 10, "length body, done after %zu", k);
		n2 = http_body_scan(&b, data + k, len - k);
		CHECK_INT(n2, k < 10 ? 10 - k : 0, "length body, after %zu", k);
		CHECK_INT(b.done, 1, "length body, done at last (%zu)", k);
		CHECK_INT(http_body_scan(&b, "x", 1), 0, "length body, nothing "
		    "more after it (%zu)", k);
	}
	/* one byte at a time */
	if (body_init(H200 "Content-Length: 10\r\n\r\n", &b) != 0)
		return;
	for (k = 0; k < len; k++) {
		n1 = http_body_scan(&b, data + k, 1);
		CHECK_INT(n1, k < 10, "length body, byte %zu", k);
		CHECK_INT(b.done, k >= 9, "length body, done at byte %zu", k);
	}
}

/*
 * Lengths past 2^31 and 2^32, as a 2 GB answer has: counted to the byte
 * in 1 MiB reads, done exactly at the end, nothing after it taken.
 */
static void
test_body_length_large(void)
{
	static char mib[1 << 20];
	static const struct {
		const char	*head;
		uint64_t	 len;
	} cases[] = {
		{ H200 "Content-Length: 2147483653\r\n\r\n", 2147483653ULL },
		{ H200 "Content-Length: 4294967297\r\n\r\n", 4294967297ULL },
	};
	struct http_body b;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t seen = 0;
		ssize_t n = 0;

		if (!CHECK_INT(body_init(cases[i].head, &b), 0,
		    "large length accepted: %s", cases[i].head))
			continue;
		CHECK(b.left == cases[i].len, "large length parsed: %s",
		    cases[i].head);
		while (!b.done && (n = http_body_scan(&b, mib,
		    sizeof(mib))) > 0) {
			seen += (uint64_t)n;
			if (seen < cases[i].len)
				CHECK_INT(b.done, 0, "done early at %llu",
				    (unsigned long long)seen);
		}
		CHECK(seen == cases[i].len, "large body: %llu of %llu bytes",
		    (unsigned long long)seen,
		    (unsigned long long)cases[i].len);
		CHECK_INT(b.done, 1, "large body done: %s", cases[i].head);
		CHECK_INT(http_body_scan(&b, mib, 1), 0, "nothing after a "
		    "large body: %s", cases[i].head);
	}
}

struct chunk_case {
	const char	*name;
	const char	*body;		/* the body, then "NEXT" unless bad */
	ssize_t		 len;		/* -1: malformed */
};

#define WIKI	"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"

static const struct chunk_case chunk_cases[] = {
	{ "RFC example with extension", WIKI "0\r\n\r\nNEXT",
	    sizeof(WIKI "0\r\n\r\n") - 1 },
	{ "with trailers", WIKI "0\r\nExpires: x\r\nX-T: y\r\n\r\nNEXT",
	    sizeof(WIKI "0\r\nExpires: x\r\nX-T: y\r\n\r\n") - 1 },
	{ "only the last chunk", "0\r\n\r\nNEXT", 5 },
	{ "last chunk with extension", "0;a=b;c\r\n\r\nNEXT", 11 },
	{ "hex in both cases, leading zeros",
	    "a\r\n0123456789\r\n00B\r\n0123456789a\r\n000\r\n\r\nNEXT",
	    sizeof("a\r\n0123456789\r\n00B\r\n0123456789a\r\n000\r\n\r\n") - 1 },
	{ "quoted extension value", "1;x=\"a;b\"\r\nz\r\n0\r\n\r\nNEXT",
	    sizeof("1;x=\"a;b\"\r\nz\r\n0\r\n\r\n") - 1 },
	{ "CRLF inside chunk data", "4\r\n\r\n\r\n\r\n0\r\n\r\nNEXT",
	    sizeof("4\r\n\r\n\r\n\r\n0\r\n\r\n") - 1 },
	{ "BWS before extension", "4 ;x=y\r\nWiki\r\n0\r\n\r\nNEXT",
	    sizeof("4 ;x=y\r\nWiki\r\n0\r\n\r\n") - 1 },

	{ "size not hex", "x\r\nWiki\r\n0\r\n\r\n", -1 },
	{ "no size", "\r\nWiki\r\n0\r\n\r\n", -1 },
	{ "0x prefix", "0x4\r\nWiki\r\n0\r\n\r\n", -1 },
	{ "negative size", "-4\r\nWiki\r\n0\r\n\r\n", -1 },
	{ "size too long", "10000000000000000\r\nWiki\r\n0\r\n\r\n", -1 },
	{ "data longer than size", "4\r\nWikiXX\r\n0\r\n\r\n", -1 },
	{ "data shorter than size", "6\r\nWiki\r\n0\r\n\r\n\r\n", -1 },
	{ "bare LF after size", "4\nWiki\r\n0\r\n\r\n", -1 },
	{ "bare LF after data", "4\r\nWiki\n0\r\n\r\n", -1 },
	{ "CR CR after data", "4\r\nWiki\r\r\n0\r\n\r\n", -1 },
	{ "bare LF in extension", "4;a\nWiki\r\n0\r\n\r\n", -1 },
	{ "bare CR in extension", "4;a\rWiki\r\n0\r\n\r\n", -1 },
	{ "bare LF ending the body", "4\r\nWiki\r\n0\r\n\n", -1 },
	{ "bare LF in a trailer", "0\r\nX: y\nZ: w\r\n\r\n", -1 },
	{ "bare LF after a trailer", "0\r\nX: y\r\n\n", -1 },
	{ "CR x at the end", "0\r\n\rx", -1 },
	{ "garbage after the size", "4 x\r\nWiki\r\n0\r\n\r\n", -1 },
};

static int
chunked_init(struct http_body *b)
{
	return body_init(H200 "Transfer-Encoding: chunked\r\n\r\n", b);
}

/* Feeds body to a fresh chunked scanner in pieces of step bytes (0: all at
 * once); what the scanner took in total, or -1.  *first_done is the byte
 * after which done was first set, or -1. */
static ssize_t
feed_chunked(const char *body, size_t len, size_t step, ssize_t *first_done)
{
	struct http_body b;
	size_t o = 0;
	ssize_t total = 0;

	*first_done = -1;
	if (chunked_init(&b) != 0)
		return -9;
	do {
		size_t piece = (step == 0 || len - o < step) ? len - o : step;
		ssize_t n = http_body_scan(&b, body + o, piece);

		if (n < 0)
			return -1;
		total += n;
		o += piece;
		if (b.done && *first_done == -1)
			*first_done = (ssize_t)o - 1;
	} while (o < len);
	return total;
}

static void
test_body_chunked(void)
{
	struct http_body b;
	size_t i, k;
	ssize_t n1, n2, first_done, bad_split;

	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		const struct chunk_case *c = &chunk_cases[i];
		size_t len = strlen(c->body);
		ssize_t n = feed_chunked(c->body, len, 0, &first_done);

		CHECK_INT(n, c->len, "chunked \"%s\", all at once", c->name);
		n = feed_chunked(c->body, len, 1, &first_done);
		CHECK_INT(n, c->len, "chunked \"%s\", byte by byte", c->name);
		if (c->len >= 0)
			CHECK_INT(first_done, c->len - 1, "chunked \"%s\", byte "
			    "by byte: done exactly at the last byte", c->name);
		n = feed_chunked(c->body, len, 3, &first_done);
		CHECK_INT(n, c->len, "chunked \"%s\", 3 bytes at a time",
		    c->name);

		/* split in two at every boundary; the first bad split shown */
		for (k = 0, bad_split = -1; k <= len && bad_split < 0; k++) {
			if (chunked_init(&b) != 0)
				return;
			n1 = http_body_scan(&b, c->body, k);
			if (n1 < 0) {
				if (c->len >= 0)
					bad_split = (ssize_t)k;
				continue;
			}
			if (b.done) {
				if (n1 != c->len)
					bad_split = (ssize_t)k;
				continue;
			}
			n2 = http_body_scan(&b, c->body + k, len - k);
			if (c->len < 0 ? n2 != -1 : (n1 != (ssize_t)k ||
			    n2 < 0 || n1 + n2 != c->len || !b.done))
				bad_split = (ssize_t)k;
		}
		CHECK_INT(bad_split, -1, "chunked \"%s\", split in two: the "
		    "first split that went wrong", c->name);

		if (c->len >= 0) {
			if (chunked_init(&b) != 0)
				return;
			http_body_scan(&b, c->body, len);
			CHECK_INT(http_body_scan(&b, "0\r\n\r\n", 5), 0,
			    "chunked \"%s\": nothing belongs after the end",
			    c->name);
		}
	}
}

int
main(void)
{
	test_request_table();
	test_request_host();
	test_request_fields();
	test_request_incomplete();
	test_request_bad_prefix();
	test_request_line_length();
	test_request_head_size();
	test_ws_accept();
	test_response_parse();
	test_response_interim();
	test_response_bound();
	test_resume();
	test_check_switch();
	test_list_has_token();
	test_field_find();
	test_body_init();
	test_body_length();
	test_body_length_large();
	test_body_chunked();
	return t_done();
}
