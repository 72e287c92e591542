/* Host values (RFC 9110 section 7.2).  A pure function. */
#ifndef HOST_H
#define HOST_H

#include <stddef.h>

/*
 * Whether p[0..len) is uri-host [":" port]: uri-host an IP-literal holding
 * an IPv6 address, an IPv4address, or a reg-name (RFC 3986 section 3.2.2)
 * with no empty label but a final one, pct-encoded only for non-ASCII
 * bytes, and whose last label is not a number; port 1 to 65535.
 */
int	host_valid(const char *p, size_t len);

#endif
