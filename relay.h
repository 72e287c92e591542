/*
 * The tunnel: bytes both ways between client and backend with one poll()
 * loop, a fixed buffer per direction, back-pressure by polling a source only
 * while its buffer has room, and half-close passed on with shutdown().  The
 * relay does not care where its fds came from: sockets, pipes or TLS.
 */
#ifndef RELAY_H
#define RELAY_H

#include <stdint.h>

#include "conn.h"
#include "wsrelay.h"

/* A drain is judged stopped after no less than this without progress: a
 * reader that is only descheduled or collecting garbage is still reading. */
#define RELAY_STALL_MIN_MS	1000

struct relay_dir {
	struct conn	*src, *dst;
	char		*buf;
	size_t		 size, off, len;	/* data is buf[off, off+len) */
	uint64_t	 bytes;			/* delivered to dst */
	int		 rwant, wwant;		/* CONN_WANT_* of the last try */
	int		 eof;			/* src has ended */
	int		 hup;			/* src hung up while full */
	int		 shut;			/* dst's write side is closed */
	int		 pipe[2];		/* splice(): -1 when buffered */
	size_t		 plen, pcap;		/* bytes in the pipe, its size */
	int		 pfull;			/* the pipe took no more */
	int64_t		 moved_at;		/* after eof: dst last took bytes */
	int		 outq;			/* dst's kernel queue then, or -1 */
	struct ws_dir	*ws;			/* frame tracking, or NULL */
};

struct relay {
	struct relay_dir up;		/* client to backend */
	struct relay_dir down;		/* backend to client */
	int		 idle_ms;	/* 0: no idle timeout */
	int		 close_ms;	/* the other direction's time after an
					   end, and the longest stall of the
					   ended one's drain (at least
					   RELAY_STALL_MIN_MS) */
	int		 splice;	/* may splice() when neither side is TLS */
	int		 spliced;	/* did */
	int		 busy_us;	/* poll without sleeping this long
					   after bytes moved; 0: never */
	struct ws_tunnel *ws;		/* frame tracking, or NULL */
	const char	*end;		/* why the session ended */
	int		 failed;	/* it ended on an I/O error */
};

/* Sets up one direction; the buffer may already hold bytes to deliver. */
void	relay_dir_init(struct relay_dir *d, struct conn *src, struct conn *dst,
	    char *buf, size_t size, size_t off, size_t len);
/* Relays until the session ends, then sets r->end. */
void	relay_run(struct relay *r);

#endif
