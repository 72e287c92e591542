/*
 * Client addresses: one unit, so that every place that learns who the
 * client is (the socket, a PROXY header, TCPREMOTEIP, X-Forwarded-For)
 * makes and writes it the same way.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

void
addr_unmap(struct addr *a)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (a->family == AF_INET6 && memcmp(a->bytes, mapped, 12) == 0) {
		memmove(a->bytes, a->bytes + 12, 4);
		memset(a->bytes + 4, 0, 12);
		a->family = AF_INET;
	}
}

void
addr_format(struct addr *a, unsigned port, char *ip, size_t ipsize,
    char *peer, size_t peersize)
{
	addr_unmap(a);
	if (inet_ntop(a->family, a->bytes, ip, (socklen_t)ipsize) == NULL) {
		snprintf(ip, ipsize, "unknown");
		snprintf(peer, peersize, "unknown");
		a->family = 0;
		return;
	}
	snprintf(peer, peersize, a->family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    ip, port);
}

int
addr_parse(const char *p, size_t n, struct addr *a)
{
	char buf[INET6_ADDRSTRLEN];

	memset(a, 0, sizeof(*a));
	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a->bytes) == 1)
		a->family = AF_INET6;
	else
		return -1;
	return 0;
}

void
addr_from_sockaddr(const struct sockaddr *sa, struct addr *a, char *ip,
    size_t ipsize, char *peer, size_t peersize)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	unsigned port;

	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->bytes, &sin->sin_addr, 4);
		port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		a->family = AF_INET6;
		memcpy(a->bytes, &sin6->sin6_addr, 16);
		port = ntohs(sin6->sin6_port);
	} else {
		snprintf(ip, ipsize, "unknown");
		snprintf(peer, peersize, sa->sa_family == AF_UNIX ? "unix" :
		    "unknown");
		return;
	}
	addr_format(a, port, ip, ipsize, peer, peersize);
}

void
addr_from_string(const char *ipstr, const char *port, struct addr *a,
    char *ip, size_t ipsize, char *peer, size_t peersize)
{
	const char *errstr;
	unsigned p = 0;

	if (addr_parse(ipstr, strlen(ipstr), a) == -1)
		return;
	if (port != NULL)
		p = (unsigned)strtonum(port, 0, 65535, &errstr);
	addr_format(a, p, ip, ipsize, peer, peersize);
}
