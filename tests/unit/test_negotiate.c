/* The backend's 101 against the client's offer (negotiate.c), table by
 * table: subprotocols, extensions, permessage-deflate. */
#include <string.h>

#include "negotiate.h"
#include "t.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* "Name: value" lines, NULL-terminated, as parsed fields. */
static size_t
fields(const char *const *lines, struct http_field *f)
{
	size_t n = 0;

	for (; lines[n] != NULL; n++) {
		const char *c = strchr(lines[n], ':');

		f[n].name = lines[n];
		f[n].name_len = (size_t)(c - lines[n]);
		f[n].value = c + 2;
		f[n].value_len = strlen(c + 2);
	}
	return n;
}

#define L(...)	((const char *const []){ __VA_ARGS__, NULL })
#define NONE	((const char *const []){ NULL })

static const struct {
	const char		*name;
	const char *const	*req;
	const char *const	*res;
	int			 ok;
} cases[] = {
	{ "nothing offered, nothing chosen", NONE, NONE, 1 },
	{ "other fields", L("Host: a"), L("Server: b"), 1 },
	{ "protocol offered and chosen", L("Sec-WebSocket-Protocol: chat"),
	    L("Sec-WebSocket-Protocol: chat"), 1 },
	{ "protocol from a list", L("Sec-WebSocket-Protocol: a, chat , b"),
	    L("Sec-WebSocket-Protocol: chat"), 1 },
	{ "protocol from a second field", L("Sec-WebSocket-Protocol: a",
	    "sec-websocket-protocol: chat"), L("Sec-WebSocket-Protocol: chat"),
	    1 },
	{ "protocol offered, none chosen", L("Sec-WebSocket-Protocol: chat"),
	    NONE, 1 },
	{ "protocol not offered", NONE, L("Sec-WebSocket-Protocol: chat"), 0 },
	{ "protocol other than offered", L("Sec-WebSocket-Protocol: a, b"),
	    L("Sec-WebSocket-Protocol: c"), 0 },
	{ "protocol case differs", L("Sec-WebSocket-Protocol: Chat"),
	    L("Sec-WebSocket-Protocol: chat"), 0 },
	{ "two protocols chosen", L("Sec-WebSocket-Protocol: a, b"),
	    L("Sec-WebSocket-Protocol: a, b"), 0 },
	{ "two protocol fields", L("Sec-WebSocket-Protocol: a, b"),
	    L("Sec-WebSocket-Protocol: a", "Sec-WebSocket-Protocol: b"), 0 },
	{ "prefix of an offer", L("Sec-WebSocket-Protocol: chat.v2"),
	    L("Sec-WebSocket-Protocol: chat"), 0 },
	{ "deflate offered and chosen",
	    L("Sec-WebSocket-Extensions: permessage-deflate; "
	    "client_max_window_bits"),
	    L("Sec-WebSocket-Extensions: permessage-deflate; "
	    "server_no_context_takeover"), 1 },
	{ "extension case", L("Sec-WebSocket-Extensions: Permessage-Deflate"),
	    L("Sec-WebSocket-Extensions: permessage-deflate"), 1 },
	{ "extension from a list",
	    L("Sec-WebSocket-Extensions: x-a, permessage-deflate;a=1, x-b"),
	    L("Sec-WebSocket-Extensions: x-b"), 1 },
	{ "extension not offered", NONE,
	    L("Sec-WebSocket-Extensions: permessage-deflate"), 0 },
	{ "one of two not offered",
	    L("Sec-WebSocket-Extensions: permessage-deflate"),
	    L("Sec-WebSocket-Extensions: permessage-deflate, x-other"), 0 },
	{ "extension prefix", L("Sec-WebSocket-Extensions: permessage"),
	    L("Sec-WebSocket-Extensions: permessage-deflate"), 0 },
	{ "empty answer field", L("Sec-WebSocket-Protocol: a"),
	    L("Sec-WebSocket-Protocol: ", "Sec-WebSocket-Extensions: ,"), 1 },
};

static void
test_check(void)
{
	struct http_field req[8], res[8];
	size_t i;

	for (i = 0; i < NITEMS(cases); i++) {
		size_t nreq = fields(cases[i].req, req);
		size_t nres = fields(cases[i].res, res);
		const char *why;

		why = negotiate_check(req, nreq, res, nres);
		CHECK(cases[i].ok ? why == NULL : why != NULL, "%s: %s",
		    cases[i].name, why != NULL ? why : "accepted");
	}
}

static void
test_deflate(void)
{
	struct http_field res[4];

	CHECK_INT(negotiate_deflate(res, fields(NONE, res)), 0, "none");
	CHECK_INT(negotiate_deflate(res, fields(L("Sec-WebSocket-Extensions: "
	    "permessage-deflate; server_max_window_bits=10"), res)), 1,
	    "deflate");
	CHECK_INT(negotiate_deflate(res, fields(L("Sec-WebSocket-Extensions: "
	    "x-a", "Sec-WebSocket-Extensions: permessage-deflate"), res)), 1,
	    "deflate in a second field");
	CHECK_INT(negotiate_deflate(res, fields(L("Sec-WebSocket-Extensions: "
	    "permessage-deflatex"), res)), 0, "another name");
	CHECK_INT(negotiate_deflate(res, fields(L("Sec-WebSocket-Protocol: "
	    "permessage-deflate"), res)), 0, "another field");
}

int
main(void)
{
	test_check();
	test_deflate();
	return t_done();
}
