#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "proxy.h"

static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A decimal in [0, max] without leading zeros, exactly [p, end). */
static int
parse_number(const char *p, const char *end, unsigned max, unsigned *n)
{
	if (p == end || end - p > 5 || (*p == '0' && end - p > 1))
		return -1;
	for (*n = 0; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		*n = *n * 10 + (unsigned)(*p - '0');
	}
	return *n <= max ? 0 : -1;
}

/* The next space-separated word of [*p, end) as a string in out. */
static int
word(const char **p, const char *end, char *out, size_t size)
{
	const char *sp = memchr(*p, ' ', end - *p);
	size_t n;

	if (sp == NULL)
		sp = end;
	n = sp - *p;
	if (n == 0 || n >= size)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p = (sp < end ? sp + 1 : sp);
	return 0;
}

/* canonical IPv4: four decimals without leading zeros */
static int
canonical_v4(const char *s)
{
	const char *dot;
	unsigned n;
	int i;

	for (i = 0; i < 4; i++) {
		dot = strchr(s, '.');
		if ((i < 3) != (dot != NULL))
			return 0;
		if (dot == NULL)
			dot = s + strlen(s);
		if (parse_number(s, dot, 255, &n) == -1)
			return 0;
		s = dot + (i < 3);
	}
	return 1;
}

static int
parse_v1(const char *buf, size_t len, struct proxy_info *pi)
{
	const char *p = buf + 6, *end, *lf = memchr(buf, '\n', len);
	char proto[8], src[48], dst[48], sport[8], dport[8];
	unsigned char tmp[16];
	unsigned dp;
	int af;

	if (lf == NULL)
		return len >= PROXY_V1_MAX ? PROXY_BAD : PROXY_INCOMPLETE;
	if (lf - buf + 1 > PROXY_V1_MAX || lf == buf || lf[-1] != '\r')
		return PROXY_BAD;
	end = lf - 1;
	if (memchr(buf, '\r', end - buf) != NULL ||
	    word(&p, end, proto, sizeof(proto)) == -1)
		return PROXY_BAD;
	if (strcmp(proto, "UNKNOWN") == 0) {
		pi->local = 1;	/* the rest of the line is ignored */
		return (int)(lf - buf + 1);
	}
	/* word() stops at a NUL and eats a final space: neither may be */
	if (memchr(buf, '\0', end - buf) != NULL || end[-1] == ' ')
		return PROXY_BAD;
	af = strcmp(proto, "TCP4") == 0 ? AF_INET :
	    strcmp(proto, "TCP6") == 0 ? AF_INET6 : 0;
	if (af == 0 || word(&p, end, src, sizeof(src)) == -1 ||
	    word(&p, end, dst, sizeof(dst)) == -1 ||
	    word(&p, end, sport, sizeof(sport)) == -1 ||
	    word(&p, end, dport, sizeof(dport)) == -1 || p != end ||
	    inet_pton(af, src, pi->src.bytes) != 1 ||
	    inet_pton(af, dst, tmp) != 1 ||
	    (af == AF_INET && (!canonical_v4(src) || !canonical_v4(dst))) ||
	    parse_number(sport, sport + strlen(sport), 65535, &pi->port) ||
	    parse_number(dport, dport + strlen(dport), 65535, &dp))
		return PROXY_BAD;
	pi->src.family = af;
	return (int)(lf - buf + 1);
}

static int
parse_v2(const unsigned char *b, size_t len, struct proxy_info *pi)
{
	size_t total;

	if (len < 16)
		return PROXY_INCOMPLETE;
	total = 16 + ((size_t)b[14] << 8 | b[15]);
	if ((b[12] & 0xf0) != 0x20 || (b[12] & 0x0f) > 1 || total > PROXY_V2_MAX)
		return PROXY_BAD;
	if (len < total)
		return PROXY_INCOMPLETE;
	if ((b[12] & 0x0f) == 0 || b[13] == 0x00) {	/* LOCAL, or UNSPEC */
		pi->local = 1;
		return (int)total;
	}
	switch (b[13]) {
	case 0x11: case 0x12:
		if (total < 16 + 12)
			return PROXY_BAD;
		pi->src.family = AF_INET;
		memcpy(pi->src.bytes, b + 16, 4);
		pi->port = (unsigned)b[24] << 8 | b[25];
		return (int)total;
	case 0x21: case 0x22:
		if (total < 16 + 36)
			return PROXY_BAD;
		pi->src.family = AF_INET6;
		memcpy(pi->src.bytes, b + 16, 16);
		pi->port = (unsigned)b[48] << 8 | b[49];
		return (int)total;
	case 0x31: case 0x32:
		if (total < 16 + 216)
			return PROXY_BAD;
		pi->local = 1;	/* a unix client has no address to filter */
		return (int)total;
	}
	return PROXY_BAD;
}

int
proxy_parse(const char *buf, size_t len, struct proxy_info *pi)
{
	size_t n = len < sizeof(v2sig) ? len : sizeof(v2sig);

	memset(pi, 0, sizeof(*pi));
	if (memcmp(buf, v2sig, n) == 0)
		return len < sizeof(v2sig) ? PROXY_INCOMPLETE :
		    parse_v2((const unsigned char *)buf, len, pi);
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) != 0)
		return PROXY_BAD;
	return len < 6 ? PROXY_INCOMPLETE : parse_v1(buf, len, pi);
}

size_t
proxy_more(const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;

	/* "PROXY UNKNOWN\r\n", the shortest header, is 15 bytes */
	if (len < 15)
		return 15 - len;
	if (memcmp(buf, v2sig, sizeof(v2sig)) == 0)
		return len < 16 ? 16 - len :
		    16 + ((size_t)b[14] << 8 | b[15]) - len;
	return 1;	/* a v1 line ends at its CRLF */
}

/* a and b in one family: an IPv4 one is mapped when the other is IPv6 */
static void
same_family(struct addr *a, struct addr *b)
{
	struct addr *v4 = a->family == AF_INET ? a : b;

	if (a->family == b->family)
		return;
	memmove(v4->bytes + 12, v4->bytes, 4);
	memset(v4->bytes, 0, 10);
	v4->bytes[10] = v4->bytes[11] = 0xff;
	v4->family = AF_INET6;
}

static ssize_t
build_v1(const struct addr *src, unsigned sport, const struct addr *dst,
    unsigned dport, char *out, size_t size)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int n;

	if (src->family == 0)
		n = snprintf(out, size, "PROXY UNKNOWN\r\n");
	else if (inet_ntop(src->family, src->bytes, s, sizeof(s)) == NULL ||
	    inet_ntop(dst->family, dst->bytes, d, sizeof(d)) == NULL)
		return -1;
	else
		n = snprintf(out, size, "PROXY %s %s %s %u %u\r\n",
		    src->family == AF_INET ? "TCP4" : "TCP6", s, d, sport,
		    dport);
	return n > 0 && (size_t)n < size ? n : -1;
}

static ssize_t
build_v2(const struct addr *src, unsigned sport, const struct addr *dst,
    unsigned dport, unsigned char *out, size_t size)
{
	size_t alen = src->family == AF_INET ? 4 : 16;
	size_t len = src->family == 0 ? 0 : 2 * alen + 4;

	if (size < 16 + len)
		return -1;
	memcpy(out, v2sig, sizeof(v2sig));
	out[12] = src->family == 0 ? 0x20 : 0x21;	/* LOCAL or PROXY */
	out[13] = src->family == 0 ? 0x00 : src->family == AF_INET ? 0x11 :
	    0x21;					/* TCP over IPv4, IPv6 */
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	if (len == 0)
		return 16;
	memcpy(out + 16, src->bytes, alen);
	memcpy(out + 16 + alen, dst->bytes, alen);
	out[16 + 2 * alen] = (unsigned char)(sport >> 8);
	out[17 + 2 * alen] = (unsigned char)sport;
	out[18 + 2 * alen] = (unsigned char)(dport >> 8);
	out[19 + 2 * alen] = (unsigned char)dport;
	return (ssize_t)(16 + len);
}

ssize_t
proxy_build(int version, const struct addr *src, unsigned sport,
    const struct addr *dst, unsigned dport, char *out, size_t size)
{
	struct addr s = *src, d = *dst;

	if (sport > 65535 || dport > 65535)
		return -1;
	if (s.family != 0 && d.family == 0) {
		memset(&d, 0, sizeof(d));
		d.family = s.family;
		dport = 0;
	}
	if (s.family != 0)
		same_family(&s, &d);
	if (version == 1)
		return build_v1(&s, sport, &d, dport, out, size);
	if (version == 2)
		return build_v2(&s, sport, &d, dport, (unsigned char *)out,
		    size);
	return -1;
}
