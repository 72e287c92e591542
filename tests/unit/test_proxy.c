/* PROXY protocol v1 and v2 headers, table by table. */
#include <arpa/inet.h>
#include <string.h>

#include "proxy.h"
#include "t.h"

static const struct {
	const char	*in;
	int		 want;		/* length, PROXY_BAD or _INCOMPLETE */
	int		 family;	/* 0: local */
	const char	*addr;
	unsigned	 port;
} v1[] = {
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\nGET", 40, AF_INET,
	    "192.0.2.7", 51234 },
	{ "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n", 36, AF_INET6,
	    "2001:db8::1", 0 },
	{ "PROXY UNKNOWN\r\n", 15, 0, NULL, 0 },
	{ "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", 35, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r", PROXY_INCOMPLETE, 0,
	    NULL, 0 },
	{ "PROXY TCP4 192.0.2.7", PROXY_INCOMPLETE, 0, NULL, 0 },
	{ "PROX", PROXY_INCOMPLETE, 0, NULL, 0 },
	{ "", PROXY_INCOMPLETE, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 ::1 10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP6 192.0.2.7 ::1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 1 2 3\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY TCP4 192.0.2.7\r10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n", PROXY_BAD, 0, NULL, 0 },
	{ "GET / HTTP/1.1\r\n", PROXY_BAD, 0, NULL, 0 },
};

static void
test_v1(void)
{
	struct proxy_info pi;
	char ip[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		int r = proxy_parse(v1[i].in, strlen(v1[i].in), &pi);

		CHECK_INT(r, v1[i].want, "v1 row %zu: %s", i, v1[i].in);
		if (r <= 0)
			continue;
		CHECK_INT(pi.local, v1[i].family == 0, "v1 row %zu local", i);
		if (v1[i].family == 0)
			continue;
		CHECK_INT(pi.src.family, v1[i].family, "v1 row %zu family", i);
		inet_ntop(pi.src.family, pi.src.bytes, ip, sizeof(ip));
		CHECK_STR(ip, v1[i].addr, "v1 row %zu address", i);
		CHECK_INT(pi.port, v1[i].port, "v1 row %zu port", i);
	}
}

/*
 * Lines fuzzing found accepted (fixed in 1ef69cf), byte for byte as the
 * corpus files named: word() split them as if they were valid.  Given by
 * length, for the NUL.
 */
#define BYTES(s)	(s), sizeof(s) - 1
static const struct {
	const char	*in;
	size_t		 len;
	int		 want;
} v1_found[] = {
	/* tests/fuzz/corpus/proxy/crash-v1-nul-inside-address: the NUL ended
	 * the source address for inet_pton(), "junk" went unseen */
	{ BYTES("PROXY TCP4 192.0.2.7\0junk 10.0.0.1 51234 80\r\n"),
	    PROXY_BAD },
	/* tests/fuzz/corpus/proxy/crash-v1-trailing-space: the last word()
	 * ate the space before the CRLF */
	{ BYTES("PROXY TCP4 192.0.2.7 10.0.0.1 51234 80 \r\n"), PROXY_BAD },
};

static void
test_v1_found(void)
{
	struct proxy_info pi;
	size_t i;

	for (i = 0; i < sizeof(v1_found) / sizeof(v1_found[0]); i++) {
		memset(&pi, 0, sizeof(pi));
		CHECK_INT(proxy_parse(v1_found[i].in, v1_found[i].len, &pi),
		    v1_found[i].want, "v1 found by fuzzing, row %zu: %s", i,
		    v1_found[i].in);
	}
}

static void
test_v1_too_long(void)
{
	char line[200];
	struct proxy_info pi;

	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	CHECK_INT(proxy_parse(line, PROXY_V1_MAX - 1, &pi), PROXY_INCOMPLETE,
	    "a 106-byte start may still end");
	CHECK_INT(proxy_parse(line, PROXY_V1_MAX, &pi), PROXY_BAD,
	    "no CRLF within 107 bytes");
	memcpy(line + PROXY_V1_MAX - 2, "\r\n", 2);
	CHECK_INT(proxy_parse(line, PROXY_V1_MAX, &pi), PROXY_V1_MAX,
	    "CRLF at 107 bytes");
}

/* A v2 header: command, family/protocol, address block. */
static size_t
v2(unsigned char *b, int cmd, int fam, const unsigned char *addr,
    size_t alen)
{
	memcpy(b, "\r\n\r\n\0\r\nQUIT\n", 12);
	b[12] = (unsigned char)(0x20 | cmd);
	b[13] = (unsigned char)fam;
	b[14] = (unsigned char)(alen >> 8);
	b[15] = (unsigned char)alen;
	memcpy(b + 16, addr, alen);
	return 16 + alen;
}

static void
test_v2(void)
{
	static const unsigned char tcp4[12] = { 192, 0, 2, 7, 10, 0, 0, 1,
	    0xc8, 0x22, 0, 80 };
	unsigned char tcp6[36 + 7] = { 0x20, 0x01, 0x0d, 0xb8 }, b[600];
	struct proxy_info pi;
	size_t n, i;

	n = v2(b, 1, 0x11, tcp4, sizeof(tcp4));
	CHECK_INT(proxy_parse((char *)b, n, &pi), 28, "v2 TCP4");
	CHECK_INT(pi.src.family, AF_INET, "v2 TCP4 family");
	CHECK(memcmp(pi.src.bytes, tcp4, 4) == 0, "v2 TCP4 address");
	CHECK_INT(pi.port, 51234, "v2 TCP4 port");
	for (i = 0; i < n; i++) {
		CHECK_INT(proxy_parse((char *)b, i, &pi), PROXY_INCOMPLETE,
		    "v2 TCP4 prefix of %zu bytes", i);
		CHECK(i + proxy_more((char *)b, i) <= n,
		    "proxy_more never reads past the header (at %zu)", i);
	}
	tcp6[32] = 0x01;	/* source port 0x0102 after two addresses */
	tcp6[33] = 0x02;
	n = v2(b, 1, 0x21, tcp6, sizeof(tcp6));	/* 7 bytes of TLV space */
	CHECK_INT(proxy_parse((char *)b, n, &pi), (int)n, "v2 TCP6 + TLVs");
	CHECK_INT(pi.src.family, AF_INET6, "v2 TCP6 family");
	CHECK_INT(pi.port, 0x0102, "v2 TCP6 port");
	n = v2(b, 0, 0x00, tcp4, 0);
	CHECK_INT(proxy_parse((char *)b, n, &pi), 16, "v2 LOCAL");
	CHECK_INT(pi.local, 1, "v2 LOCAL keeps the socket's address");
	n = v2(b, 1, 0x11, tcp4, 8);
	CHECK_INT(proxy_parse((char *)b, n, &pi), PROXY_BAD, "v2 TCP4 short");
	n = v2(b, 2, 0x11, tcp4, sizeof(tcp4));
	CHECK_INT(proxy_parse((char *)b, n, &pi), PROXY_BAD, "v2 command 2");
	n = v2(b, 1, 0x41, tcp4, sizeof(tcp4));
	CHECK_INT(proxy_parse((char *)b, n, &pi), PROXY_BAD, "v2 family 4");
	b[12] = 0x11;
	CHECK_INT(proxy_parse((char *)b, n, &pi), PROXY_BAD, "v2 version 1");
	v2(b, 1, 0x11, tcp4, sizeof(tcp4));
	b[14] = 0x20;		/* 8192 bytes of addresses: over the limit */
	CHECK_INT(proxy_parse((char *)b, 16, &pi), PROXY_BAD, "v2 too long");
	CHECK_INT(proxy_more("", 0), 15, "first read: the shortest header");
}

static struct addr
addr_of(const char *s)
{
	struct addr a;

	memset(&a, 0, sizeof(a));
	if (s == NULL)
		return a;
	if (inet_pton(AF_INET, s, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.bytes) == 1)
		a.family = AF_INET6;
	return a;
}

static const struct {
	const char	*src, *dst;
	unsigned	 sport, dport;
	const char	*want;		/* v1 */
} builds_v1[] = {
	{ "192.0.2.7", "10.0.0.1", 51234, 80,
	    "PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\n" },
	{ "2001:db8::1", "::1", 0, 65535,
	    "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n" },
	/* one of each family: the IPv4 one is written IPv4-mapped */
	{ "192.0.2.7", "2001:db8::2", 1, 2,
	    "PROXY TCP6 ::ffff:192.0.2.7 2001:db8::2 1 2\r\n" },
	{ "2001:db8::1", "10.0.0.1", 1, 2,
	    "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 2\r\n" },
	/* the local side not known (a pipe): the family's any address */
	{ "192.0.2.7", NULL, 5, 9, "PROXY TCP4 192.0.2.7 0.0.0.0 5 0\r\n" },
	{ NULL, "10.0.0.1", 5, 9, "PROXY UNKNOWN\r\n" },
	{ NULL, NULL, 0, 0, "PROXY UNKNOWN\r\n" },
};

static void
test_build_v1(void)
{
	struct proxy_info pi;
	struct addr src, dst;
	char out[PROXY_V2_MAX];
	size_t i;

	for (i = 0; i < sizeof(builds_v1) / sizeof(builds_v1[0]); i++) {
		ssize_t n;

		src = addr_of(builds_v1[i].src);
		dst = addr_of(builds_v1[i].dst);
		n = proxy_build(1, &src, builds_v1[i].sport, &dst,
		    builds_v1[i].dport, out, sizeof(out));
		CHECK(n > 0, "build v1 row %zu", i);
		if (n <= 0)
			continue;
		CHECK_MEM(out, (size_t)n, builds_v1[i].want, "build v1 row %zu",
		    i);
		/* what wstunnel sends, wstunnel's own parser reads back */
		CHECK_INT(proxy_parse(out, (size_t)n, &pi), (int)n,
		    "build v1 row %zu parses", i);
		CHECK_INT(pi.port, builds_v1[i].src != NULL ?
		    builds_v1[i].sport : 0, "build v1 row %zu port", i);
	}
	src = addr_of("192.0.2.7");
	dst = addr_of("10.0.0.1");
	CHECK_INT(proxy_build(1, &src, 1, &dst, 2, out, 20), -1,
	    "v1 does not fit");
	CHECK_INT(proxy_build(3, &src, 1, &dst, 2, out, sizeof(out)), -1,
	    "version 3");
}

static void
test_build_v2(void)
{
	static const unsigned char tcp4[] = {
		'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n',
		0x21, 0x11, 0x00, 0x0c, 192, 0, 2, 7, 10, 0, 0, 1,
		0xc8, 0x22, 0x00, 0x50
	};
	static const unsigned char local[] = {
		'\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n',
		0x20, 0x00, 0x00, 0x00
	};
	struct proxy_info pi;
	struct addr src = addr_of("192.0.2.7"), dst = addr_of("10.0.0.1");
	unsigned char out[PROXY_V2_MAX];
	ssize_t n;

	n = proxy_build(2, &src, 51234, &dst, 80, (char *)out, sizeof(out));
	CHECK_INT(n, (int)sizeof(tcp4), "v2 TCP4 length");
	CHECK(n == sizeof(tcp4) && memcmp(out, tcp4, sizeof(tcp4)) == 0,
	    "v2 TCP4 bytes");
	CHECK_INT(proxy_parse((char *)out, (size_t)n, &pi), (int)n,
	    "v2 TCP4 parses");
	CHECK_INT(pi.port, 51234, "v2 TCP4 port");
	src = addr_of("2001:db8::1");
	n = proxy_build(2, &src, 1, &dst, 2, (char *)out, sizeof(out));
	CHECK_INT(n, 16 + 36, "v2 TCP6 length");
	CHECK_INT(out[13], 0x21, "v2 TCP6 family");
	CHECK_INT(out[15], 36, "v2 TCP6 address length");
	CHECK(memcmp(out + 16 + 16, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\0\0\x01",
	    16) == 0, "v2 TCP6: the IPv4 side mapped");
	CHECK_INT(proxy_parse((char *)out, (size_t)n, &pi), (int)n,
	    "v2 TCP6 parses");
	memset(&src, 0, sizeof(src));
	n = proxy_build(2, &src, 0, &dst, 0, (char *)out, sizeof(out));
	CHECK(n == sizeof(local) && memcmp(out, local, sizeof(local)) == 0,
	    "v2 LOCAL bytes");
	CHECK_INT(proxy_build(2, &dst, 1, &dst, 2, (char *)out, 27), -1,
	    "v2 does not fit");
}

int
main(void)
{
	test_build_v1();
	test_build_v2();
	test_v1();
	test_v1_found();
	test_v1_too_long();
	test_v2();
	return t_done();
}
