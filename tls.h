/*
 * TLS on either side of a session.  OpenSSL lives in a module of its own
 * (wstunnel-tls.so, built from tls.c) that is loaded only when a TLS option or
 * a wss:// backend is configured, so a plain ws:// tunnel never maps libssl or
 * libcrypto: start-up is this program's main cost.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "conn.h"

#define TLS_MODULE_ABI		1
#define TLS_MODULE_NAME		"wstunnel-tls.so"
#define TLS_MODULE_SYMBOL	"wstunnel_tls_module"

struct tls_server_conf {
	const char	*cert, *key;
	const char	*client_ca;	/* require client certificates */
};

struct tls_client_conf {
	const char	*ca;		/* NULL: the system store */
	const char	*cert, *key;	/* our certificate, for mutual TLS */
	int		 insecure;	/* no verification at all */
};

/* What the module exports, as one table. */
struct tls_module {
	int	 abi;
	/* contexts, one per process and side; NULL with msg set */
	void	*(*server_ctx)(const struct tls_server_conf *, char *msg,
		    size_t msgsize);
	void	*(*client_ctx)(const struct tls_client_conf *, char *msg,
		    size_t msgsize);
	/* c gets a TLS session over its fds; on the client side name is
	 * verified, and sent as SNI when it is not an address; 0 or
	 * CONN_ERR */
	int	 (*start)(struct conn *c, void *ctx, int server,
		    const char *name);
	/* 0 done, CONN_WANT_*, CONN_ERR with c->why */
	int	 (*handshake)(struct conn *c);
	ssize_t	 (*read)(struct conn *c, void *buf, size_t len);
	ssize_t	 (*write)(struct conn *c, const void *buf, size_t len);
	int	 (*pending)(const struct conn *c);
	int	 (*shutdown)(struct conn *c);
	void	 (*free)(struct conn *c);
	const char *(*version)(void);
};

/* Loads the module once; NULL, or why it could not be loaded. */
const char *tls_load(char *msg, size_t msgsize);
extern const struct tls_module *tls;

/* Calls through the module, for conn.c. */
ssize_t	tls_read(struct conn *c, void *buf, size_t len);
ssize_t	tls_write(struct conn *c, const void *buf, size_t len);
int	tls_pending(const struct conn *c);
int	tls_shutdown(struct conn *c);

/* Runs the handshake of a started TLS session until done or deadline:
 * 0, CONN_TIMEOUT or CONN_ERR with c->why, or CONN_STOPPED. */
int	tls_handshake(struct conn *c, int64_t deadline);

#endif
