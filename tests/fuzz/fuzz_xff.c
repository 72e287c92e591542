/*
 * fuzz_xff: the X-Forwarded-For walk of xff.c, on what a client (or a
 * chain of proxies) sent, against the trusted set 10.0.0.0/8,
 * 2001:db8::/32 and 127.0.0.1, the direct peer being 10.9.9.9.
 *
 * Checks:
 *   - the result is XFF_TRUSTED, XFF_CLIENT or XFF_BAD;
 *   - XFF_CLIENT: the address is not trusted, and nothing to the left of
 *     it is read: "x," or a trusted address put in front changes nothing;
 *   - XFF_TRUSTED: the address is the peer's or a trusted one, and an
 *     untrusted address put in front becomes the client;
 *   - XFF_BAD: the address is the peer's or a trusted one (a client can
 *     never make itself anyone with a malformed list).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xff.h"
#include "fuzz.h"

static struct cidr trusted[3];
static struct addr peer;

static void
setup(void)
{
	if (peer.family != 0)
		return;
	cidr_parse("10.0.0.0/8", &trusted[0]);
	cidr_parse("2001:db8::/32", &trusted[1]);
	cidr_parse("127.0.0.1", &trusted[2]);
	peer.family = AF_INET;
	inet_pton(AF_INET, "10.9.9.9", peer.bytes);
}

static int
is_trusted(const struct addr *a)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (cidr_match(&trusted[i], a))
			return 1;
	return 0;
}

static int
same(const struct addr *a, const struct addr *b)
{
	return a->family == b->family &&
	    memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}

/* The walk of front followed by d[0..n). */
static int
walk_with(const char *front, const uint8_t *d, size_t n, struct addr *a)
{
	size_t fl = strlen(front);
	char *b = malloc(fl + n + 1);
	int r;

	memcpy(b, front, fl);
	memcpy(b + fl, d, n);
	*a = peer;
	r = xff_walk(b, fl + n, trusted, 3, a);
	free(b);
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct addr a, b;
	int r;

	setup();
	a = peer;
	r = xff_walk((const char *)d, n, trusted, 3, &a);
	CHECK("result", r == XFF_TRUSTED || r == XFF_CLIENT || r == XFF_BAD);
	if (r == XFF_CLIENT) {
		CHECK("client-untrusted", !is_trusted(&a));
		CHECK("left-unread", walk_with("x,", d, n, &b) == XFF_CLIENT &&
		    same(&a, &b));
		CHECK("left-unread", walk_with("10.0.0.1,", d, n, &b) ==
		    XFF_CLIENT && same(&a, &b));
	} else
		CHECK("not-forged", same(&a, &peer) || is_trusted(&a));
	if (r == XFF_TRUSTED)
		CHECK("next-is-client", walk_with("192.0.2.1,", d, n, &b) ==
		    XFF_CLIENT && b.family == AF_INET &&
		    memcmp(b.bytes, "\xc0\x00\x02\x01", 4) == 0);
	return 0;
}
