/*
 * fuzz_proxy: the PROXY protocol header, v1 and v2, the way wstunnel.c's
 * client_proxy() reads it: proxy_parse() on what has arrived, and while it
 * is INCOMPLETE, reading proxy_more() more bytes into a PROXY_V2_MAX buffer.
 * The input is what the load balancer sent.
 *
 * Checks:
 *   - a returned length is <= len, a v1 line <= PROXY_V1_MAX ending in
 *     CRLF, a v2 header <= PROXY_V2_MAX; the address is IPv4 or IPv6, or
 *     the header says to keep the socket's; a port <= 65535;
 *   - an accepted v1 TCP4/TCP6 line is the grammar's exactly: five words
 *     of printable ASCII, one space between each, none after the last;
 *   - stability: re-parsing exactly the header gives the same length and
 *     the same result, and so does the header followed by other bytes;
 *     a BAD input stays BAD whatever follows;
 *   - every proper prefix of a complete header is INCOMPLETE, and there
 *     proxy_more() asks for at least one byte and never for a byte past
 *     the header's end (what follows belongs to TLS or HTTP);
 *   - whenever the parse is INCOMPLETE, proxy_more() asks for at least one
 *     byte and never more than the caller's buffer holds;
 *   - a reader that starts with nothing and reads exactly proxy_more()
 *     bytes at a time stops at the header's end, with the same result.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "fuzz.h"

static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* "PROXY " then five words, one SP apart, then CRLF */
static int
v1_strict(const char *l, size_t len)
{
	size_t i, words = 1;

	if (len < 8 || memcmp(l + 6, "UNKNOWN", 7) == 0)
		return 1;		/* the rest of that line is ignored */
	for (i = 6; i < len - 2; i++) {
		if (l[i] == ' ') {
			if (i == 6 || l[i - 1] == ' ' || i + 1 == len - 2)
				return 0;
			words++;
		} else if (l[i] <= 0x20 || l[i] >= 0x7f)
			return 0;
	}
	return words == 5;
}

static int
same_info(const struct proxy_info *a, const struct proxy_info *b)
{
	return a->local == b->local && a->port == b->port &&
	    a->src.family == b->src.family &&
	    memcmp(a->src.bytes, b->src.bytes, sizeof(a->src.bytes)) == 0;
}

/* The input's first len bytes, then other bytes, in a buffer of its own. */
static int
parse_with_tail(const uint8_t *d, size_t len, const char *tail,
    struct proxy_info *pi)
{
	size_t tl = strlen(tail);
	char *b = malloc(len + tl);
	int r;

	memcpy(b, d, len);
	memcpy(b + len, tail, tl);
	r = proxy_parse(b, len + tl, pi);
	free(b);
	return r;
}

/* client_proxy(), byte for byte as proxy_more() allows. */
static void
check_reader(const uint8_t *d, size_t n, int r, const struct proxy_info *pi)
{
	static char buf[PROXY_V2_MAX];
	struct proxy_info pi2;
	size_t len = 0;
	int r2;

	while ((r2 = proxy_parse(buf, len, &pi2)) == PROXY_INCOMPLETE) {
		size_t more = proxy_more(buf, len);

		CHECK("more-progress", more >= 1);
		CHECK("more-buffer", len + more <= sizeof(buf));
		if (r > 0)
			CHECK("more-within-header", len + more <= (size_t)r);
		if (more > n - len)
			more = n - len;
		if (more == 0)	/* the input ends here */
			return;
		memcpy(buf + len, d + len, more);
		len += more;
	}
	CHECK("reader-same", r2 == r);
	if (r2 > 0)
		CHECK("reader-stops-at-end", (size_t)r2 == len &&
		    same_info(pi, &pi2));
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *buf = (const char *)d;
	struct proxy_info pi, pi2;
	size_t k, more, lim;
	int r;

	r = proxy_parse(buf, n, &pi);
	CHECK("result", r == PROXY_BAD || r == PROXY_INCOMPLETE ||
	    (r > 0 && (size_t)r <= n));

	if (r == PROXY_INCOMPLETE) {
		more = proxy_more(buf, n);
		CHECK("more-progress", more >= 1);
		CHECK("more-buffer", n + more <= PROXY_V2_MAX);
	}
	if (r > 0) {
		if (n >= 12 && memcmp(buf, v2sig, 12) == 0)
			CHECK("v2-length", r >= 16 && r <= PROXY_V2_MAX &&
			    (size_t)r == 16 + ((size_t)d[14] << 8 | d[15]));
		else
			CHECK("v1-line", r >= 15 && r <= PROXY_V1_MAX &&
			    memcmp(buf, "PROXY ", 6) == 0 &&
			    memcmp(buf + r - 2, "\r\n", 2) == 0 &&
			    memchr(buf, '\n', r - 1) == NULL);
		if (memcmp(buf, "PROXY ", 6) == 0)
			CHECK("v1-strict", v1_strict(buf, (size_t)r));
		CHECK("address", pi.local ? pi.src.family == 0 :
		    (pi.src.family == AF_INET || pi.src.family == AF_INET6) &&
		    pi.port <= 65535);
		CHECK("reparse", proxy_parse(buf, (size_t)r, &pi2) == r &&
		    same_info(&pi, &pi2));
		CHECK("appended", parse_with_tail(d, (size_t)r,
		    "GET / HTTP/1.1\r\n\r\n", &pi2) == r && same_info(&pi, &pi2));
		CHECK("appended", parse_with_tail(d, (size_t)r,
		    "\r\n\r\n\0\r\nQUIT\n", &pi2) == r && same_info(&pi, &pi2));
	}
	if (r == PROXY_BAD) {
		CHECK("bad-stays-bad", parse_with_tail(d, n, "\r\n", &pi2) ==
		    PROXY_BAD && parse_with_tail(d, n, " 1 2\r\n", &pi2) ==
		    PROXY_BAD);
	}

	/* prefixes: all of a complete header's, else the first 256 */
	lim = r > 0 ? (size_t)r : n < 256 ? n : 256;
	for (k = 0; k < lim; k++) {
		int rk = proxy_parse(buf, k, &pi2);

		if (r > 0) {
			CHECK("prefix-incomplete", rk == PROXY_INCOMPLETE);
			more = proxy_more(buf, k);
			CHECK("more-progress", more >= 1);
			CHECK("more-within-header", k + more <= (size_t)r);
		}
		if (rk > 0)
			CHECK("prefix-stable", rk == r);
		if (rk == PROXY_BAD)
			CHECK("prefix-bad-stays-bad", r == PROXY_BAD);
	}
	check_reader(d, n, r, &pi);
	return 0;
}
