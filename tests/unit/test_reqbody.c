/* reqbody.c: which framing a request declares, and the chunked decoder. */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "reqbody.h"
#include "t.h"
#include "util.h"

#define HEAD	"POST /x HTTP/1.1\r\nHost: a\r\n"

static const struct {
	const char	*fields;	/* between the Host line and the end */
	int		 ok;
	enum reqbody_kind kind;
	unsigned long long length;
} inits[] = {
	{ "", 1, REQBODY_NONE, 0 },
	{ "Content-Length: 0\r\n", 1, REQBODY_NONE, 0 },
	{ "Content-Length: 5\r\n", 1, REQBODY_LENGTH, 5 },
	{ "Content-Length: 000012\r\n", 1, REQBODY_LENGTH, 12 },
	{ "content-length:10485760\r\n", 1, REQBODY_LENGTH, 10485760 },
	{ "Content-Length: 999999999999999999\r\n", 1, REQBODY_LENGTH,
	    999999999999999999ULL },
	{ "Transfer-Encoding: chunked\r\n", 1, REQBODY_CHUNKED, 0 },
	{ "transfer-encoding: CHUNKED\r\n", 1, REQBODY_CHUNKED, 0 },
	/* smuggling: each refused */
	{ "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", 0, 0, 0 },
	{ "Content-Length: 5\r\nContent-Length: 5\r\n", 0, 0, 0 },
	{ "Content-Length: 5\r\nContent-Length: 6\r\n", 0, 0, 0 },
	{ "Content-Length: 5, 5\r\n", 0, 0, 0 },
	{ "Content-Length: +5\r\n", 0, 0, 0 },
	{ "Content-Length: -1\r\n", 0, 0, 0 },
	{ "Content-Length: 0x10\r\n", 0, 0, 0 },
	{ "Content-Length: 1e3\r\n", 0, 0, 0 },
	{ "Content-Length: 1 0\r\n", 0, 0, 0 },
	{ "Content-Length:\r\n", 0, 0, 0 },
	{ "Content-Length: 1234567890123456789\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: chunked, gzip\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: gzip, chunked\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: chunked,\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: identity\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: \"chunked\"\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: xchunked\r\n", 0, 0, 0 },
	{ "Transfer-Encoding:\r\n", 0, 0, 0 },
	{ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 0,
	    0, 0 },
};

static void
test_init(void)
{
	struct http_request req;
	struct reqbody b;
	const char *why;
	char buf[512];
	size_t i;

	for (i = 0; i < nitems(inits); i++) {
		int n;

		snprintf(buf, sizeof(buf), HEAD "%s\r\n", inits[i].fields);
		n = http_parse_request(buf, strlen(buf), 16384, &req);
		if (!CHECK(n > 0, "row %zu parses", i))
			continue;
		n = reqbody_init(&req, &b, &why);
		CHECK_INT(n, inits[i].ok ? 0 : -1, "row %zu: %s", i,
		    inits[i].fields);
		CHECK(n == 0 || why != NULL, "row %zu says why", i);
		if (n != 0 || !inits[i].ok)
			continue;
		CHECK_INT(b.kind, inits[i].kind, "row %zu kind", i);
		CHECK_INT(b.length, inits[i].length, "row %zu length", i);
		CHECK_INT(b.done, b.kind == REQBODY_NONE, "row %zu done", i);
	}
}

static const struct {
	const char	*in;
	const char	*data;		/* NULL: refused */
	size_t		 rest;		/* bytes after the body's end */
} chunks[] = {
	{ "0\r\n\r\n", "", 0 },
	{ "5\r\nhello\r\n0\r\n\r\n", "hello", 0 },
	{ "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0 },
	{ "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
	{ "a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
	{ "000000000000003\r\nabc\r\n0\r\n\r\n", "abc", 0 },
	{ "3;a\r\nabc\r\n0\r\n\r\n", "abc", 0 },
	{ "3;a=b;c\r\nabc\r\n0;x=\"q\\\"t\"\r\n\r\n", "abc", 0 },
	{ "3;name=\"v a l\"\r\nabc\r\n0\r\n\r\n", "abc", 0 },
	{ "3\r\nabc\r\n0\r\nX-T: 1\r\nY: \r\n\r\n", "abc", 0 },
	{ "0\r\n\r\nGET /admin HTTP/1.1\r\n", "", 21 },
	{ "3\r\nabc\r\n0\r\n\r\n0\r\n\r\n", "abc", 5 },
	/* sizes */
	{ "\r\n", NULL, 0 },
	{ "x\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "-3\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "+3\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "0x3\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ " 3\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3 \r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3\t\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "1000000000000000\r\n", NULL, 0 },
	{ "ffffffffffffffff1\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "0000000000000003\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	/* line ends */
	{ "3\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3\r\nabc\n0\r\n\r\n", NULL, 0 },
	{ "3\r\nabcd\r\n0\r\n\r\n", NULL, 0 },
	{ "3\r\nab\r\n0\r\n\r\n", NULL, 0 },
	{ "3\r\nabc\r\n0\r\n\n", NULL, 0 },
	{ "3\r\rabc\r\n0\r\n\r\n", NULL, 0 },
	/* extensions */
	{ "3;\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3 ;a\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3; a\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a =b\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a=\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;=b\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a=\"b\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a=\"b\"c\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a=b=c\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a\x01\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "3;a=\"\x7f\"\r\nabc\r\n0\r\n\r\n", NULL, 0 },
	/* trailers */
	{ "0\r\nX-T : 1\r\n\r\n", NULL, 0 },
	{ "0\r\n X-T: 1\r\n\r\n", NULL, 0 },
	{ "0\r\nX-T: 1\n\r\n", NULL, 0 },
	{ "0\r\nX-T: \x01\r\n\r\n", NULL, 0 },
	{ "0\r\n: 1\r\n\r\n", NULL, 0 },
	{ "0\r\nX-T\r\n\r\n", NULL, 0 },
};

/* Feeds in[0..len) in pieces of step bytes (0: all at once); returns 1
 * when it decoded, with the data in out and the unread bytes in *rest. */
static int
decode(const char *in, size_t len, size_t step, char *out, size_t *olen,
    size_t *rest)
{
	struct reqbody b;
	size_t off = 0, avail = 0, dlen;
	const char *data;

	memset(&b, 0, sizeof(b));
	b.kind = REQBODY_CHUNKED;
	*olen = 0;
	while (!b.done) {
		ssize_t n;
		size_t end = step == 0 ? len : off + avail + step;

		avail = (end > len ? len : end) - off;
		n = reqbody_decode(&b, in + off, avail, &data, &dlen);
		if (n < 0)
			return 0;
		if (dlen > 0) {
			memcpy(out + *olen, data, dlen);
			*olen += dlen;
		}
		off += (size_t)n;
		avail -= (size_t)n;
		if (n == 0 && off + avail == len)
			return 0;	/* incomplete */
	}
	*rest = len - off;
	return 1;
}

static void
test_chunked(void)
{
	static const size_t steps[] = { 0, 1, 2, 7 };
	char out[256];
	size_t i, j, olen, rest;
	int ok;

	for (i = 0; i < nitems(chunks); i++)
		for (j = 0; j < nitems(steps); j++) {
			ok = decode(chunks[i].in, strlen(chunks[i].in),
			    steps[j], out, &olen, &rest);
			CHECK_INT(ok, chunks[i].data != NULL, "row %zu step %zu",
			    i, steps[j]);
			if (!ok || chunks[i].data == NULL)
				continue;
			CHECK_MEM(out, olen, chunks[i].data, "row %zu data", i);
			CHECK_INT(rest, chunks[i].rest, "row %zu rest", i);
		}
}

/* An incomplete body stays incomplete: no byte is refused early and none
 * is taken for the end. */
static void
test_incomplete(void)
{
	const char *in = "5;a=\"b\"\r\nhello\r\n0\r\nX: y\r\n\r\n";
	char out[64];
	size_t len, olen, rest;

	for (len = 0; len < strlen(in); len++)
		CHECK(!decode(in, len, 1, out, &olen, &rest),
		    "prefix of %zu bytes is not a body", len);
}

static void
test_length(void)
{
	struct reqbody b;
	const char *data;
	size_t dlen;
	ssize_t n;

	memset(&b, 0, sizeof(b));
	b.kind = REQBODY_LENGTH;
	b.left = 5;
	n = reqbody_decode(&b, "abc", 3, &data, &dlen);
	CHECK_INT(n, 3, "first piece");
	CHECK_MEM(data, dlen, "abc", "first data");
	CHECK(!b.done, "not done");
	n = reqbody_decode(&b, "deGET / HTTP/1.1", 16, &data, &dlen);
	CHECK_INT(n, 2, "only the body is consumed");
	CHECK_MEM(data, dlen, "de", "second data");
	CHECK(b.done, "done");
	n = reqbody_decode(&b, "GET", 3, &data, &dlen);
	CHECK_INT(n, 0, "nothing after the end");
	CHECK_INT(dlen, 0, "no data after the end");
}

static void
test_limits(void)
{
	char in[REQBODY_MAX_EXT + 64], out[16];
	size_t len, olen, rest;

	/* extensions on one line are bounded */
	len = (size_t)snprintf(in, sizeof(in), "1;");
	memset(in + len, 'a', REQBODY_MAX_EXT);
	len += REQBODY_MAX_EXT;
	memcpy(in + len, "\r\nx\r\n0\r\n\r\n", 10);
	len += 10;
	CHECK(!decode(in, len, 0, out, &olen, &rest), "long extension");
	len = (size_t)snprintf(in, sizeof(in), "1;");
	memset(in + len, 'a', REQBODY_MAX_EXT - 2);
	len += REQBODY_MAX_EXT - 2;
	memcpy(in + len, "\r\nx\r\n0\r\n\r\n", 10);
	len += 10;
	CHECK(decode(in, len, 0, out, &olen, &rest), "extension at the limit");
}

int
main(void)
{
	test_init();
	test_chunked();
	test_incomplete();
	test_length();
	test_limits();
	return t_done();
}
