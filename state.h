/*
 * State the per-connection processes of one service share (--state FILE):
 * a small file every process maps.  It holds a round-robin turn per route
 * and an entry per route and backend: tunnels served, failures, down
 * (--retry-after) and draining (--drain), each with since when.
 *
 * The tunnels open on a backend are never a counter: each one holds an
 * open-file-description lock on a byte of its entry's range, far past the
 * end of the file, and counting is probing those locks.  The kernel drops
 * a lock when its process ends, SIGKILL included, so no count is left high.
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>
#include <stdint.h>

#include "balance.h"
#include "route.h"

enum state_mode {
	STATE_SERVE,	/* a session: the file is created or rebuilt */
	STATE_ADMIN,	/* --drain/--undrain: the same, and root may use a
			 * file the service's user owns */
	STATE_READ	/* --status: read only, never changed */
};

#define STATE_ROUTE_LEN	256
#define STATE_URL_LEN	512

/* What --status shows of one entry. */
struct state_view {
	char		 route[STATE_ROUTE_LEN];
	char		 url[STATE_URL_LEN];
	unsigned	 open;
	uint64_t	 served, failures;
	int64_t		 down_since, down_until;	/* ms since the epoch */
	int64_t		 drain_since;			/* 0: not draining */
};

/* NULL, or why the file cannot be used.  retry_ms: --retry-after. */
const char *state_open(const char *path, enum state_mode mode, int retry_ms,
	    char *msg, size_t msgsize);
/*
 * order[0..ret) for route r: the backends to try, best first (balance.c),
 * knowing what every process knows when a --state file is open.  For
 * leastconn this session holds order[0] at once, so that processes
 * starting together spread out.
 */
size_t	state_order(enum balance method, const struct route *r,
	    const char *client, size_t *order);
/* Connecting to backend i of r failed: counted, and down for a while. */
void	state_failed(const struct route *r, size_t i);
/* The session is connected to backend i of r and holds it. */
void	state_use(const struct route *r, size_t i);
/* The session is over. */
void	state_release(void);

/* Entry i for --status: 0, or -1 when unused or past the end. */
int	state_view(size_t i, struct state_view *v);
size_t	state_entries(void);
/* --drain (on) or --undrain URL: the entries changed. */
int	state_drain(const char *url, int on);

#endif
