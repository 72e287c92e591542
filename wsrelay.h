/*
 * The tunnel when it follows the WebSocket it carries (--ws-ping,
 * --ws-pong-timeout, --max-message-bytes): frames checked as they are
 * written, wstunnel's own Pings to a quiet side and the Pongs that answer
 * them, Close frames when wstunnel ends a session itself.  The relay calls
 * in here only when it is on; it then moves bytes through its buffers.
 */
#ifndef WSRELAY_H
#define WSRELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "track.h"

struct relay;
struct relay_dir;

/* One direction: the frames of its source, and control frames of
 * wstunnel's own waiting to go to its destination. */
struct ws_dir {
	struct track	 trk;
	uint8_t		 inj[FRAME_MAX];
	size_t		 injlen, injoff;
	int		 retry;		/* what the last write that must be
					   repeated (TLS) was: WS_* */
	int		 need;		/* trk waits for more bytes */
	int		 failed;	/* the source broke RFC 6455 */
	unsigned	 code;		/* to close with */
	const char	*why;
	int64_t		 heard;		/* ms: last byte from the source */
	int64_t		 pinged;	/* ms: a Ping went to it, 0: none */
	int64_t		 rtt;		/* ms of the last round trip, -1 */
};

struct ws_tunnel {
	struct ws_dir	 up, down;	/* sources: the client, the backend */
	int		 ping_ms;	/* 0: no pings */
	int		 pong_ms;
	const char	*closer;	/* who sent a Close first */
};

void	ws_tunnel_init(struct ws_tunnel *w, int deflate, uint64_t max,
	    int ping_ms, int pong_ms);
/* Whether d has something it may write now. */
int	ws_ready(const struct relay_dir *d);
/* Writes what d may: 0, or -1 on an error (d->ws->failed for a broken
 * stream). */
int	ws_drain(struct relay_dir *d);
/* Bytes were read into d. */
void	ws_heard(struct relay_dir *d);
/* Pings and their deadlines, the close handshake: 1 with r->end set when
 * the session is over; *next gets the ms of the next thing to do, 0 none. */
int	ws_tick(struct relay *r, int64_t *next);
/* The session ends: a Close to each side that can still take one. */
void	ws_goodbye(struct relay *r);
/* " ws_msgs=... ws_close=..." for the access line. */
void	ws_summary(const struct ws_tunnel *w, char *buf, size_t size);

#endif
