/* The command line, parsed once into one read-only structure. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>

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
	struct origin	*origins;
	size_t		 norigins;
	struct cidr	*allow, *deny;
	size_t		 nallow, ndeny;
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
	int		 busy_us;	/* --busy-poll */
	int		 backend_tls;	/* some backend is wss:// */
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
