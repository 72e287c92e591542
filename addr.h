/*
 * Client addresses, in one place: made from a socket, from a string (the
 * PROXY header, TCPREMOTEIP, an X-Forwarded-For element), and written for
 * the log and X-Forwarded-For.  Pure functions.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* A client address: family 0 when it is not known (a pipe, a unix socket). */
struct addr {
	int		 family;	/* AF_INET, AF_INET6 or 0 */
	unsigned char	 bytes[16];
};

/* An IPv4 client of an IPv6 socket arrives as ::ffff:a.b.c.d; rules are
 * written for a.b.c.d, and so is the log. */
void	addr_unmap(struct addr *a);
/* p[0..n) as an IPv4 or IPv6 address: 0, or -1 when it is neither. */
int	addr_parse(const char *p, size_t n, struct addr *a);
/* ip and "ip:port" (IPv6 in brackets) for a, an IPv4-mapped address
 * written as IPv4. */
void	addr_format(struct addr *a, unsigned port, char *ip, size_t ipsize,
	    char *peer, size_t peersize);
/* The same from a socket's address (family 0 for a unix socket, logged as
 * "unix"), and from a string and a port (family 0 when not an address). */
void	addr_from_sockaddr(const struct sockaddr *sa, struct addr *a,
	    char *ip, size_t ipsize, char *peer, size_t peersize);
void	addr_from_string(const char *ipstr, const char *port, struct addr *a,
	    char *ip, size_t ipsize, char *peer, size_t peersize);

#endif
