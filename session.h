/* One client connection from start to its access line. */
#ifndef SESSION_H
#define SESSION_H

#include <arpa/inet.h>
#include <stdint.h>
#include <sys/socket.h>

#include "access.h"
#include "config.h"
#include "conn.h"
#include "dial.h"
#include "http.h"
#include "relay.h"

#define RELAY_BUFSIZE	65536

struct session {
	const struct config	*cfg;
	int64_t		 start;
	struct conn	 client, backend;
	void		*client_tls_ctx, *backend_tls_ctx;

	struct addr	 addr;		/* the client's, family 0: unknown */
	char		 ip[INET6_ADDRSTRLEN];	/* for X-Forwarded-For */
	char		 peer[DIAL_ADDR_MAX];	/* ip:port, for the log */
	char		 via[INET6_ADDRSTRLEN];	/* the trusted proxy the
					 * client came through, or "" */
	char		 baddr[DIAL_ADDR_MAX];	/* the backend's */

	/* the heads are read into the relay buffers, so that whatever
	 * follows a head is already in place to be relayed */
	char		*up, *down;
	size_t		 bufsize, uplen, downlen;
	size_t		 head_len, res_len;	/* request, response heads */

	struct http_request	 req;
	struct http_response	 res;
	struct ws_request	 ws;
	char		 path[HTTP_MAX_LINE];	/* as received, for the log */
	size_t		 path_len;
	char		 target[HTTP_MAX_LINE];	/* normalised */
	size_t		 target_len;
	const struct route	*route;
	struct rules	*rules;		/* the route's */
	const struct backend	*bend;

	struct relay	 relay;
	int		 status;	/* sent to the client; 0: none */
	const char	*end;		/* why the session ended */
	const char	*why;		/* the detail, for the log */
	const char	*denied;	/* the rule that refused it */
	int		 failed;
	uint64_t	 upbytes, downbytes;
};

/* Records how a session ends before a tunnel; returns -1 for the phases. */
int	session_fail(struct session *s, int status, const char *end,
	    const char *why);
/* Answers the client with wstunnel's own error and ends the session. */
int	reply_error(struct session *s, int status, const char *why,
	    const char *extra);
/* Sends the rewritten request; tunnels on a valid 101, else relays. */
int	backend_exchange(struct session *s);
void	session_log(const struct session *s);
/* Closes the backend and frees what the session holds. */
void	session_close(struct session *s);
/* Shuts the client's write side, then reads and drops what it still sends
 * for a while, so that closing cannot reset away the answer. */
void	session_linger(struct session *s);

/* The PROXY header for the backend (--send-proxy): from the client (the
 * real one, after --proxy-protocol or --trust-forwarded) to the address it
 * connected to.  Its length, or -1. */
ssize_t	session_proxy_header(const struct session *s, char *out, size_t size);

void	addr_from_sockaddr(const struct sockaddr *sa, struct addr *a,
	    char *ip, size_t ipsize, char *peer, size_t peersize);
void	addr_from_string(const char *ipstr, const char *port, struct addr *a,
	    char *ip, size_t ipsize, char *peer, size_t peersize);

#endif
