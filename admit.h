/*
 * The client admission: a request is checked against its route's rules
 * (--allow/--deny, --origin, --auth-file) before any backend is contacted.
 * Every refusal is answered here and named in the access line (denied=).
 */
#ifndef ADMIT_H
#define ADMIT_H

#include "config.h"
#include "session.h"

/* Opens every --auth-file, so that a missing one is a usage error.  NULL,
 * or a message in msg. */
const char *admit_open(struct config *cfg, char *msg, size_t size);
void	admit_close(const struct config *cfg);
/* 0 when s may go on to a backend; -1 once the refusal has been sent. */
int	admit_client(struct session *s);

#endif
