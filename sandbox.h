#ifndef SANDBOX_H
#define SANDBOX_H

#include <stddef.h>

/*
 * A pledge-style seccomp filter per phase (sandbox.c).  sandbox_request()
 * is called once every file is loaded, before the client's first byte is
 * read; sandbox_relay() when the tunnel starts.  Each phase keeps only the
 * system calls what remains of the session needs; any other kills the
 * process with SIGSYS.
 */

/* Why the sandbox will be off, or NULL when it will be on. */
const char	*sandbox_off_why(int disabled);
/* Phase 1: 0, or -1 with msg filled when the filter could not be set. */
int		 sandbox_request(int disabled, char *msg, size_t size);
/* Phase 2: the relay alone; -1 when the filter could not be set. */
int		 sandbox_relay(void);

/* --user NAME: NULL, or why the user cannot be taken (msg). */
const char	*sandbox_user(const char *name, int check, char *msg,
		    size_t size);

#endif
