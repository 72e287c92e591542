/*
 * State the per-connection processes of one service share (--state FILE),
 * for --balance roundrobin and leastconn: a small file every process maps,
 * changed only under flock().  It holds a round-robin counter per route and
 * a slot per live session naming its backend; a slot whose process is gone
 * (SIGKILL, a crash) is freed by the next process that counts.
 */
#ifndef STATE_H
#define STATE_H

#include <stddef.h>

#include "balance.h"
#include "route.h"

/* NULL, or why the file cannot be used. */
const char *state_open(const char *path, char *msg, size_t msgsize);
/*
 * order[0..n) for route r by method (roundrobin or leastconn).  For
 * leastconn this session is counted against order[0] at once, so that
 * processes starting together spread out.
 */
void	state_order(enum balance method, const struct route *r,
	    size_t *order);
/* The session ended up on backend i of r (after a failover). */
void	state_use(const struct route *r, size_t i);
/* The session is over: its slot is freed. */
void	state_release(void);

#endif
