/*
 * --max-per-client N: at most N open tunnels per client address across
 * the per-connection processes.  Each tunnel holds one of its address's N
 * slots as an open-file-description byte-range lock on the --state file,
 * so that the kernel gives it back the moment the process ends, SIGKILL
 * included; nothing is ever written to the file.
 */
#ifndef LIMIT_H
#define LIMIT_H

#include <stddef.h>

#include "access.h"

#define LIMIT_MAX	1024	/* the largest --max-per-client */

/* NULL, or why path cannot be used. */
const char *limit_open(const char *path, char *msg, size_t msgsize);
/* 1 when a slot of a's was taken (held until exit), 0 when all n are
 * held, -1 on an error. */
int	limit_take(const struct addr *a, unsigned n);
/* Gives the slot back: a keep-alive connection waiting for its next
 * request holds none. */
void	limit_release(void);

#endif
