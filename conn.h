/*
 * One side of the session, the client (fd 0 to read, fd 1 to write) or the
 * backend (one socket), plain or TLS.  Everything above this layer reads and
 * writes through it and never asks which.
 */
#ifndef CONN_H
#define CONN_H

#include <stdint.h>
#include <sys/types.h>

/* Results apart from the parsers' HTTP_BAD and HTTP_INCOMPLETE, since
 * conn_read_head() returns either kind. */
#define CONN_ERR		(-11)
#define CONN_WANT_READ		(-12)	/* retry when rfd is readable */
#define CONN_WANT_WRITE		(-13)	/* retry when wfd is writable */
#define CONN_TIMEOUT		(-14)
#define CONN_EOF		(-15)
#define CONN_GONE		(-16)	/* the watched other side ended */
#define CONN_STOPPED		(-17)	/* a stop signal came (sig.h) */

struct tls_conn;

struct conn {
	int		 rfd, wfd;
	struct tls_conn	*tls;		/* NULL: plain */
	const char	*name;		/* "client" or "backend" */
	int		 err;		/* errno of the last CONN_ERR, or 0 */
	const char	*why;		/* what failed, in words */
};

ssize_t	conn_read(struct conn *c, void *buf, size_t len);
ssize_t	conn_write(struct conn *c, const void *buf, size_t len);
/* Decrypted bytes wait inside TLS, where poll() cannot see them. */
int	conn_pending(const struct conn *c);
/* Bytes written to c that its reader has not taken yet, in the kernel's
 * queue (in its own units); -1 when that cannot be told. */
int	conn_outq(const struct conn *c);
/* Ends the write direction: TLS close_notify, then FIN, or EOF on a pipe.
 * 0 when done, CONN_WANT_* to be called again, CONN_ERR. */
int	conn_shutdown(struct conn *c);
/* Waits until c can do what want (CONN_WANT_*) asks: 1, 0 at deadline,
 * CONN_STOPPED or CONN_ERR. */
int	conn_wait(struct conn *c, int want, int64_t deadline);
/* 0, CONN_TIMEOUT, CONN_STOPPED or CONN_ERR */
int	conn_write_all(struct conn *c, const void *buf, size_t len,
	    int64_t deadline);
/*
 * Reads into buf until parse(buf, len, arg) stops saying HTTP_INCOMPLETE, and
 * returns what it said then, or CONN_EOF, CONN_TIMEOUT, CONN_STOPPED or
 * CONN_ERR.  Bytes
 * past the head stay in buf after it.  While it waits, the fd watch (-1:
 * none) is watched for its peer's end: CONN_GONE, with what was read so far
 * kept in buf and len, so that the call can be made again without the watch.
 */
int	conn_read_head(struct conn *c, char *buf, size_t size, size_t *len,
	    int64_t deadline, int watch,
	    int (*parse)(const char *, size_t, void *), void *arg);

/* Socket options every socket of a session gets: keepalive finds dead
 * peers, no Nagle delay on small frames.  Harmless on pipes. */
void	conn_tune_socket(int fd);
/* O_NONBLOCK on fd, remembering the flags to give back at exit: fd 0 and 1
 * may be shared with the process that started wstunnel. */
int	conn_set_nonblock(int fd);
void	conn_restore_flags(void);
/* /dev/null opened now for conn_shutdown() of fd 1 when it is no socket,
 * as no file may be opened later (the relay's sandbox); -1 when it cannot
 * be. */
int	conn_keep_null(void);

#endif
