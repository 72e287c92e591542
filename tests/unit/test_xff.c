/* The X-Forwarded-For walk behind trusted proxies, table by table. */
#include <arpa/inet.h>
#include <string.h>

#include "xff.h"
#include "t.h"

static const struct {
	const char	*v;
	int		 want;
	const char	*addr;		/* *a afterwards; NULL: unchanged */
} walks[] = {
	/* trusted: 10.0.0.0/8 and 2001:db8::/32; the peer came as 10.9.9.9 */
	{ "192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "192.0.2.7, 10.0.0.2", XFF_CLIENT, "192.0.2.7" },
	{ "198.51.100.1, 192.0.2.7, 10.0.0.2, 10.0.0.3", XFF_CLIENT,
	    "192.0.2.7" },		/* what the client wrote is not read */
	{ "forged, 192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "10.0.0.1, 10.0.0.2", XFF_TRUSTED, "10.0.0.1" },
	{ "10.0.0.1,,  ,10.0.0.2", XFF_TRUSTED, "10.0.0.1" },
	{ "", XFF_TRUSTED, NULL },
	{ " , ", XFF_TRUSTED, NULL },
	{ "192.0.2.7,", XFF_CLIENT, "192.0.2.7" },
	{ ",192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "\t192.0.2.7\t", XFF_CLIENT, "192.0.2.7" },
	{ "2001:db8::1, 192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "2001:db9::1, 2001:db8::1", XFF_CLIENT, "2001:db9::1" },
	{ "[2001:db9::1]", XFF_CLIENT, "2001:db9::1" },
	{ "::ffff:192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "::ffff:10.1.2.3, 192.0.2.7", XFF_CLIENT, "192.0.2.7" },
	{ "192.0.2.7, unknown", XFF_BAD, NULL },
	{ "unknown, 10.0.0.2", XFF_BAD, "10.0.0.2" },
	{ "192.0.2.7:1234", XFF_BAD, NULL },
	{ "[192.0.2.7]", XFF_BAD, NULL },
	{ "[]", XFF_BAD, NULL },
	{ "192.0.2.7 10.0.0.1", XFF_BAD, NULL },
	{ "192.0.2.07", XFF_BAD, NULL },
	{ "192.0.2.7, 10.0.0.2 x", XFF_BAD, NULL },
};

static void
check_addr(const struct addr *a, const char *want, size_t i)
{
	struct addr x = *a;
	char ip[INET6_ADDRSTRLEN] = "";
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (x.family == AF_INET6 && memcmp(x.bytes, mapped, 12) == 0) {
		memmove(x.bytes, x.bytes + 12, 4);
		x.family = AF_INET;
	}
	inet_ntop(x.family, x.bytes, ip, sizeof(ip));
	CHECK_STR(ip, want, "walk %zu address", i);
}

int
main(void)
{
	struct cidr t[2];
	struct addr a, peer;
	size_t i;

	CHECK(cidr_parse("10.0.0.0/8", &t[0]) == NULL, "cidr");
	CHECK(cidr_parse("2001:db8::/32", &t[1]) == NULL, "cidr");
	memset(&peer, 0, sizeof(peer));
	peer.family = AF_INET;
	inet_pton(AF_INET, "10.9.9.9", peer.bytes);
	for (i = 0; i < sizeof(walks) / sizeof(walks[0]); i++) {
		a = peer;
		CHECK_INT(xff_walk(walks[i].v, strlen(walks[i].v), t, 2, &a),
		    walks[i].want, "walk %zu: %s", i, walks[i].v);
		check_addr(&a, walks[i].addr != NULL ? walks[i].addr :
		    "10.9.9.9", i);
	}
	/* nothing trusted: the right-most element is the client */
	a = peer;
	CHECK_INT(xff_walk("10.0.0.1, 10.0.0.2", 18, t, 0, &a), XFF_CLIENT,
	    "no trusted set");
	check_addr(&a, "10.0.0.2", 99);
	return t_done();
}
