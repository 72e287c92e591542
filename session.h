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
#include "reqbody.h"
#include "rewrite.h"

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
	struct {			/* the peer itself, behind which
					 * --trust-forwarded may read another */
		struct addr	 addr;
		char		 ip[INET6_ADDRSTRLEN];
		char		 peer[DIAL_ADDR_MAX];
	}		 direct;

	/* the heads are read into the relay buffers, so that whatever
	 * follows a head is already in place to be relayed */
	char		*up, *down;
	size_t		 bufsize, uplen, downlen;
	size_t		 head_len, res_len;	/* request, response heads */
	struct http_resume	 req_at, res_at;	/* how far each is read */

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
	char		 wsinfo[768];	/* frame tracking's, for the log */

	/* --http: plain requests on one connection, one after another */
	int64_t		 head_deadline;	/* for the request head being read */
	int		 plain;		/* this request is not an upgrade */
	int		 expect;	/* it has Expect: 100-continue */
	int		 keep;		/* the connection stays for another */
	int		 nplain;	/* plain requests served */
	int		 logged;	/* this request has its access line */
	char		 method[8];	/* of this request, for the log */
	struct reqbody	 body;
};

/* Records how a session ends before a tunnel; returns -1 for the phases. */
int	session_fail(struct session *s, int status, const char *end,
	    const char *why);
/* A stop signal (sig.h) ends the session before its tunnel: no answer;
 * the status is what was sent already, if anything. */
int	session_stopped(struct session *s);
/* Answers the client with wstunnel's own error and ends the session. */
int	reply_error(struct session *s, int status, const char *why,
	    const char *extra);
/* Sends the rewritten request; tunnels on a valid 101, else relays. */
int	backend_exchange(struct session *s);
/* What a request to the backend says: the mapped target (in mapped), Host,
 * X-Forwarded-*; -1 when the target does not fit. */
int	backend_forward(const struct session *s, struct forward *fw,
	    char *mapped, size_t msize);
/* How the backend's URLs map back to the client's (Location and the like). */
void	backend_reverse(const struct session *s, struct reverse *rv);
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

#endif
