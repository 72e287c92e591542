/*
 * Diagnostics and the access line: to syslog (ident wstunnel, facility
 * daemon), to stderr, or appended to a file.  Never to fd 2 when fd 2 is the
 * client connection, as it is under inetd.  Never blocking: a line that
 * cannot be written at once is dropped.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <syslog.h>

#define LOG_NO_READER	1	/* see log_open() */

/* dest: "syslog", "stderr" or a file name; NULL is syslog.  stderr_ok is
 * false when fd 2 is the client.  -1 when the file cannot be opened (the log
 * then goes to syslog and the caller reports the problem); LOG_NO_READER
 * when it is a FIFO that no process reads now (the log goes to syslog, and
 * the session goes on). */
int	log_open(const char *dest, int verbose, int stderr_ok);
int	log_to_stderr(void);
/* From now on the syslog socket is never made again: the relay's sandbox
 * allows no new socket.  A daemon that restarts loses the lines after. */
void	log_seal(void);
void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* s[0..len) made safe to log, as vis(3) does it, cut to fit buf. */
const char *log_safe(const char *s, size_t len, char *buf, size_t size);

#endif
