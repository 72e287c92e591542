/* The command line, parsed once into one read-only structure. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "access.h"
#include "balance.h"
#include "route.h"

enum { STATUS_TABLE = 1, STATUS_PROMETHEUS };

struct config {
	struct route	*routes;
	size_t		 nroutes;
	int		 handshake_ms, connect_ms, idle_ms, close_ms;
	size_t		 max_head;
	int		 preserve_host;
	struct rules	*rules;		/* [0]: of routes without their own */
	size_t		 nrules;
	size_t		*route_rules;	/* per route: its index in rules */
	struct cidr	*trusted;	/* --trust-forwarded */
	size_t		 ntrusted;
	int		 send_proxy;	/* PROXY version to backends; 0: none */
	unsigned	 max_per_client;	/* 0: no limit */
	char		*tls_cert, *tls_key, *tls_client_ca;
	char		*backend_ca, *backend_cert, *backend_key, *backend_sni;
	int		 backend_insecure;
	enum balance	 balance;
	char		*state;
	int		 proxy_protocol;
	char		*log;
	int		 verbose;
	int		 check, help, version;
	int		 no_splice;
	int		 no_sandbox;
	char		*user;		/* --user */
	int		 busy_us;	/* --busy-poll */
	int		 ws_ping_ms;	/* --ws-ping */
	int		 ws_pong_ms;	/* --ws-pong-timeout */
	uint64_t	 max_message;	/* --max-message-bytes, 0: any */
	int		 ws_track;	/* any of the three: follow frames */
	int		 backend_tls;	/* some backend is wss:// */
	/* --http, --http-route, --http-idle, --http-requests */
	int		 http;		/* some route passes plain requests */
	int		 http_all;	/* every route does */
	char		**http_routes;
	size_t		 nhttp_routes;
	int		 http_idle_ms;
	int		 http_requests;
	int		 retry_ms;	/* --retry-after */
	int		 status;	/* --status: STATUS_TABLE, ... */
	int		 drain;		/* 1: --drain, -1: --undrain */
	char		*drain_url;
};

/*
 * Fills cfg from argv, copying every string it keeps (the process title will
 * overwrite argv).  NULL, or a one-line message naming the problem.
 */
const char *config_parse(int argc, char *argv[], struct config *cfg,
	    char *msg, size_t msgsize);
void	config_usage(void);

#endif
