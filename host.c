/*
 * Host values (RFC 9110 section 7.2, RFC 3986 section 3.2.2): what a client
 * may send in Host, which wstunnel passes on as X-Forwarded-Host (and as
 * Host with --preserve-host), and what a backend URL's host may be, since
 * it is sent as Host in turn.  Strict on purpose: a backend builds URLs and
 * redirects from these.
 */
#include <arpa/inet.h>
#include <string.h>

#include "host.h"
#include "util.h"

/* RFC 3986 section 2.3 */
static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 3986 section 2.2 */
static int
is_sub_delim(unsigned char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* dec-octet (RFC 3986 section 3.2.2): 0 to 255, no leading zero; where it
 * ends, or NULL. */
static const char *
dec_octet(const char *p, const char *end)
{
	const char *q;
	int n = 0;

	for (q = p; q < end && q - p < 3 && *q >= '0' && *q <= '9'; q++)
		n = n * 10 + (*q - '0');
	if (q == p || n > 255 || (*p == '0' && q - p > 1))
		return NULL;
	return q;
}

static int
valid_ipv4(const char *p, size_t len)
{
	const char *end = p + len;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0 && (p == end || *p++ != '.'))
			return 0;
		if ((p = dec_octet(p, end)) == NULL)
			return 0;
	}
	return p == end;
}

/* Whether the last label of a name is a number: URL parsers (WHATWG) read
 * such a name as an IPv4 address in another notation ("127.1",
 * "0x7f.0.0.1"), and no top-level domain is one (RFC 3696 section 2). */
static int
ends_in_number(const char *p, size_t len)
{
	const char *end = p + len, *l;

	if (end > p && end[-1] == '.')
		end--;
	for (l = end; l > p && l[-1] != '.'; l--)
		;
	if (l == end)
		return 0;
	if (end - l >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X'))
		for (l += 2; l < end && hexval(*l) >= 0; l++)
			;
	else
		for (; l < end && *l >= '0' && *l <= '9'; l++)
			;
	return l == end;
}

/* reg-name: unreserved, sub-delims, and pct-encoded only for the bytes of
 * UTF-8 ("unless it is used to represent a UTF-8 character sequence", RFC
 * 3986 section 3.2.2); no empty label but a final one. */
static int
valid_reg_name(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '.') {
			if (i == 0 || p[i - 1] == '.')
				return 0;
		} else if (p[i] == '%') {
			if (len - i < 3 || hexval(p[i + 1]) < 8 ||
			    hexval(p[i + 2]) < 0)
				return 0;
			i += 2;
		} else if (!is_unreserved(p[i]) && !is_sub_delim(p[i]))
			return 0;
	}
	return 1;
}

/* The inside of an IP-literal: an IPv6address; no IPvFuture (none is
 * defined) and no zone (RFC 6874 is for URIs a user types, not Host). */
static int
valid_ipv6(const char *p, size_t len)
{
	char s[INET6_ADDRSTRLEN];
	unsigned char addr[16];

	if (len == 0 || len >= sizeof(s))
		return 0;
	memcpy(s, p, len);
	s[len] = '\0';
	return inet_pton(AF_INET6, s, addr) == 1;
}

int
host_valid(const char *p, size_t len)
{
	const char *end = p + len, *h;

	if (len > 0 && *p == '[') {
		if ((h = memchr(p, ']', len)) == NULL ||
		    !valid_ipv6(p + 1, h - p - 1))
			return 0;
		p = h + 1;
	} else {
		if ((h = memchr(p, ':', len)) == NULL)
			h = end;
		if (ends_in_number(p, h - p) ? !valid_ipv4(p, h - p) :
		    !valid_reg_name(p, h - p))
			return 0;
		p = h;
	}
	return p == end || (*p == ':' && port_number(p + 1, end - p - 1) > 0);
}
