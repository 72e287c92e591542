/*
 * SIGTERM, SIGINT and SIGHUP end a session in any phase, with its access
 * line written and the flags of fd 0 and 1 given back.  They are blocked
 * from the start and let through only inside sig_poll() and the relay's
 * ppoll(), so that none is lost between a check and a wait, and none cuts a
 * write, a log line or a library call in two.
 */
#ifndef SIG_H
#define SIG_H

#include <poll.h>
#include <signal.h>

void	sig_catch(void);
/* The signal that came, 0 while none has. */
int	sig_caught(void);
/* "SIGTERM", ..., for the log; NULL while none has come. */
const char *sig_name(void);
/* The mask to wait with: the caller's, with the signals above let through. */
const sigset_t *sig_mask(void);
/*
 * poll() that a stop signal ends: -1 with errno EINTR once one has come,
 * at once when it came before the call.  Other interruptions are waited
 * through.
 */
int	sig_poll(struct pollfd *pfd, nfds_t n, int ms);

#endif
