/*
 * The pure parts of --http: http_check_plain() (http.c) and the plain heads
 * of rewrite.c, rewrite_plain_request() and rewrite_plain_response() with
 * Refresh mapped back.
 */
#include <string.h>

#include "http.h"
#include "rewrite.h"
#include "t.h"
#include "util.h"

static const struct {
	const char	*head;
	int		 status;	/* 0: accepted */
} checks[] = {
	{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "HEAD /x HTTP/1.1\r\nHost: a:80\r\n\r\n", 0 },
	{ "POST /x HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "PUT /x HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "PATCH /x HTTP/1.1\r\nHost: a\r\n\r\n", 0 },
	{ "TRACE /x HTTP/1.1\r\nHost: a\r\n\r\n", 405 },
	{ "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 405 },
	{ "get / HTTP/1.1\r\nHost: a\r\n\r\n", 405 },
	{ "GET / HTTP/1.0\r\nHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505 },
	{ "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400 },
};

static void
test_check_plain(void)
{
	struct http_request req;
	struct ws_request ws;
	size_t i;

	for (i = 0; i < nitems(checks); i++) {
		const char *h = checks[i].head;
		int r = http_parse_request(h, strlen(h), 16384, &req);

		if (!CHECK(r > 0, "row %zu parses", i))
			continue;
		r = http_check_plain(&req, &ws);
		CHECK_INT(r == 0 ? 0 : req.err.status, checks[i].status,
		    "row %zu: %s", i, h);
		if (checks[i].status == 405)
			CHECK_STR(req.err.extra, "Allow: GET, HEAD, POST, PUT, "
			    "DELETE, OPTIONS, PATCH\r\n", "row %zu Allow", i);
	}
}

static void
test_is_upgrade(void)
{
	struct http_request req;
	const char *up = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, "
	    "WebSocket\r\n\r\n";
	const char *h2c = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n";

	CHECK(http_parse_request(up, strlen(up), 16384, &req) > 0, "parses");
	CHECK(http_is_upgrade(&req), "websocket in a list");
	CHECK(http_parse_request(h2c, strlen(h2c), 16384, &req) > 0, "parses");
	CHECK(!http_is_upgrade(&req), "h2c is not a WebSocket");
}

static void
test_plain_request(void)
{
	const char *h = "POST /a/b?q HTTP/1.1\r\nHost: front\r\n"
	    "Content-Length: 3\r\nExpect: 100-continue\r\nConnection: x-h\r\n"
	    "X-H: 1\r\nTE: trailers\r\nCookie: c\r\nConnection: x-h, cookie\r\n"
	    "\r\n";
	struct forward fw = { "/in/b?q", 7, "back:81", 7, "front", 5,
	    "192.0.2.7", "https" };
	struct http_request req;
	char out[1024];
	ssize_t n;

	CHECK(http_parse_request(h, strlen(h), 16384, &req) > 0, "parses");
	n = rewrite_plain_request(&req, &fw, "Content-Length: 3\r\n", out,
	    sizeof(out));
	CHECK_MEM(out, n > 0 ? (size_t)n : 0, "POST /in/b?q HTTP/1.1\r\n"
	    "Host: back:81\r\nCookie: c\r\nContent-Length: 3\r\n"
	    "Connection: close\r\nX-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: https\r\nX-Forwarded-Host: front\r\n\r\n",
	    "plain request");
	CHECK_INT(rewrite_plain_request(&req, &fw, "", out, 40), -1,
	    "does not fit");
}

static const struct reverse rv = {
	"/app", 4, "/in", 3, "back", "81", "front", 5, 0, 0
};

static const struct {
	const char	*field;		/* as the backend sent it */
	const char	*want;		/* as the client gets it */
} refreshes[] = {
	{ "Refresh: 5; url=http://back:81/in/x", "Refresh: 5; "
	    "url=http://front/app/x" },
	{ "Refresh: 0;URL=/in/y?z", "Refresh: 0;URL=/app/y?z" },
	{ "Refresh: 1; url = '/in/q'", "Refresh: 1; url = '/app/q'" },
	{ "Refresh: 1; /in/bare", "Refresh: 1; /app/bare" },
	{ "Refresh: 1; url=http://other/in/x", "Refresh: 1; "
	    "url=http://other/in/x" },
	{ "Refresh: 1; url=/elsewhere", "Refresh: 1; url=/elsewhere" },
	{ "Refresh: 7", "Refresh: 7" },
	{ "Refresh: 1; url='/in/x", "Refresh: 1; url='/in/x" },
	{ "Location: ws://back:81/in/w", "Location: ws://front/app/w" },
	{ "Content-Location: /in/c", "Content-Location: /app/c" },
};

static void
test_plain_response(void)
{
	struct http_response res;
	char head[512], out[1024], want[512];
	size_t i;
	ssize_t n;

	for (i = 0; i < nitems(refreshes); i++) {
		snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n%s\r\n\r\n",
		    refreshes[i].field);
		if (!CHECK(http_parse_response(head, strlen(head), 16384,
		    &res) > 0, "row %zu parses", i))
			continue;
		n = rewrite_plain_response(&res, &rv, 1, out, sizeof(out));
		snprintf(want, sizeof(want), "HTTP/1.1 200 OK\r\n%s\r\n\r\n",
		    refreshes[i].want);
		CHECK_MEM(out, n > 0 ? (size_t)n : 0, want, "row %zu", i);
	}
	snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nKeep-Alive: 5\r\n"
	    "Connection: keep-alive, X-A\r\nX-A: 1\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n");
	CHECK(http_parse_response(head, strlen(head), 16384, &res) > 0,
	    "parses");
	n = rewrite_plain_response(&res, &rv, 0, out, sizeof(out));
	CHECK_MEM(out, n > 0 ? (size_t)n : 0, "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
	    "hop-by-hop removed, framing kept, close");
}

int
main(void)
{
	test_check_plain();
	test_is_upgrade();
	test_plain_request();
	test_plain_response();
	return t_done();
}
