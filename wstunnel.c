/*
 * wstunnel: a per-connection WebSocket reverse proxy.  A super-server starts
 * one process per client connection with the client on fd 0 and 1.  main()
 * checks the command line, then runs the phases of a session in order:
 *
 *	client_open	who the client is; TLS on fd 0/1 when configured
 *	client_request	read and validate the upgrade request, pick a route
 *	plain_requests	--http: plain requests, answered one after another
 *	client_admit	the route's rules: address, Origin, credentials
 *	backend_open	dial the route's backends in --balance order
 *	backend_exchange send the rewritten request, check the answer
 *	tunnel		relay until the session ends
 *
 * and ends with one access line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "admit.h"
#include "balance.h"
#include "config.h"
#include "conn.h"
#include "dial.h"
#include "http.h"
#include "httpx.h"
#include "log.h"
#include "negotiate.h"
#include "proxy.h"
#include "relay.h"
#include "rewrite.h"
#include "route.h"
#include "sandbox.h"
#include "session.h"
#include "sig.h"
#include "state.h"
#include "status.h"
#include "tls.h"
#include "util.h"
#include "version.h"

extern char **environ;

/* Who the client is, for the rules, the log and X-Forwarded-For. */
static void
client_identify(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *ip = NULL, *port = NULL;

	snprintf(s->ip, sizeof(s->ip), "unknown");
	snprintf(s->peer, sizeof(s->peer), "unknown");
	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == 0)
		addr_from_sockaddr((struct sockaddr *)&ss, &s->addr, s->ip,
		    sizeof(s->ip), s->peer, sizeof(s->peer));
	else if ((ip = getenv("TCPREMOTEIP")) != NULL) {
		/* ucspi-tcp's tcpserver and friends: the address is theirs */
		port = getenv("TCPREMOTEPORT");
		addr_from_string(ip, port, &s->addr, s->ip, sizeof(s->ip),
		    s->peer, sizeof(s->peer));
	}
}

/*
 * The PROXY header comes before anything else, TLS included.  It is read
 * exactly, never a byte further, so what follows is still in the socket for
 * TLS or the request; a v1 line is read one byte at a time once its shortest
 * form is in.
 */
static int
client_proxy(struct session *s)
{
	struct proxy_info pi;
	char buf[PROXY_V2_MAX];
	size_t len = 0;
	int r, w;

	while ((r = proxy_parse(buf, len, &pi)) == PROXY_INCOMPLETE) {
		ssize_t n = conn_read(&s->client, buf + len,
		    proxy_more(buf, len));
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0 || n == CONN_ERR)
			return session_fail(s, 0, n == 0 ? "client-closed" :
			    "timeout", "no PROXY header");
		w = conn_wait(&s->client, (int)n,
		    s->start + s->cfg->handshake_ms);
		if (w == CONN_STOPPED)
			return session_stopped(s);
		if (w <= 0)
			return session_fail(s, 0, "timeout", "no PROXY header");
	}
	if (r == PROXY_BAD) {
		log_msg(LOG_WARNING, "client %s: bad PROXY header", s->peer);
		return session_fail(s, 0, "refused", "bad PROXY header");
	}
	if (!pi.local) {
		s->addr = pi.src;
		addr_format(&s->addr, pi.port, s->ip, sizeof(s->ip), s->peer,
		    sizeof(s->peer));
	}
	return 0;
}

static int
client_open(struct session *s)
{
	struct conn *c = &s->client;
	int r;

	c->rfd = STDIN_FILENO;
	c->wfd = STDOUT_FILENO;
	c->name = "client";
	client_identify(s);
	conn_tune_socket(STDIN_FILENO);
	if (conn_set_nonblock(STDIN_FILENO) == -1 ||
	    conn_set_nonblock(STDOUT_FILENO) == -1) {
		log_msg(LOG_ERR, "client %s: fd 0/1: %s", s->peer,
		    strerror(errno));
		return session_fail(s, 0, "client-error", "bad fd 0/1");
	}
	if (s->cfg->proxy_protocol && client_proxy(s) == -1)
		return -1;
	if (s->cfg->tls_cert == NULL)
		return 0;
	if ((r = tls->start(c, s->client_tls_ctx, 1, NULL)) == 0 &&
	    (r = tls_handshake(c, s->start + s->cfg->handshake_ms)) == 0)
		return 0;
	if (r == CONN_STOPPED)
		return session_stopped(s);
	/* no HTTP answer: the client may not even speak TLS; what it sent is
	 * drained, so that closing sends a FIN and not a reset */
	log_msg(LOG_WARNING, "client %s: TLS: %s", s->peer,
	    c->why != NULL ? c->why : "failed");
	if (c->tls != NULL)
		tls->free(c);
	session_linger(s);
	return session_fail(s, 0, "tls-failed", c->why);
}

static int
parse_request(const char *buf, size_t len, void *arg)
{
	struct session *s = arg;

	return http_resume_request(buf, len, s->cfg->max_head, &s->req,
	    &s->req_at);
}

static int
client_request(struct session *s)
{
	const struct config *cfg = s->cfg;
	const char *why;
	char buf[3][256];
	int r;

	r = conn_read_head(&s->client, s->up, s->bufsize, &s->uplen,
	    s->head_deadline, -1, parse_request, s);
	if (s->req.target != NULL) {	/* the buffer will carry the tunnel */
		s->path_len = s->req.target_len;
		memcpy(s->path, s->req.target, s->path_len);
	}
	if (r == CONN_STOPPED)
		return session_stopped(s);
	if (r == CONN_EOF && s->uplen > 0)	/* it may still read */
		return reply_error(s, 400, "request head cut short", NULL);
	if (r == CONN_EOF || r == CONN_ERR || (r == CONN_TIMEOUT &&
	    s->uplen == 0))		/* nothing to answer */
		return session_fail(s, 0, r == CONN_TIMEOUT ? "timeout" :
		    r == CONN_EOF ? "client-closed" : "client-error", NULL);
	if (r == CONN_TIMEOUT)
		return reply_error(s, 408, "request head timed out", NULL);
	s->plain = (r >= 0 && httpx_applies(s));
	if (r == HTTP_BAD || (s->plain ? http_check_plain(&s->req, &s->ws) :
	    http_check_upgrade(&s->req, &s->ws)) == HTTP_BAD)
		return reply_error(s, s->req.err.status, s->req.err.why,
		    s->req.err.extra);
	s->head_len = (size_t)r;
	why = route_normalize(s->req.target, s->req.target_len, s->target,
	    &s->target_len);
	if (why != NULL)
		return reply_error(s, 400, why, NULL);
	r = route_match(cfg->routes, cfg->nroutes, s->target, s->target_len);
	if (r == -1)
		return reply_error(s, 404, "no route for this path", NULL);
	s->route = &cfg->routes[r];
	if (s->plain && httpx_framing(s) == -1)
		return -1;
	log_msg(LOG_DEBUG, "client %s: %s, Host %s, Origin %s, route %s",
	    s->peer, log_safe(s->path, s->path_len, buf[0], sizeof(buf[0])),
	    log_safe(s->ws.host, s->ws.host_len, buf[1], sizeof(buf[1])),
	    log_safe(s->ws.origin, s->ws.origin_len, buf[2], sizeof(buf[2])),
	    s->route->path);
	return 0;
}

/* the route's rules: admit.c */
static int
client_admit(struct session *s)
{
	return admit_client(s);
}

static int backend_open(struct session *);

/*
 * --http: each plain request is admitted, sent to a backend of its own and
 * answered, and the connection waits for the next, until the client
 * closes, asks for a WebSocket, or a limit is reached.
 */
static int
plain_requests(struct session *s)
{
	while (s->plain) {
		if (client_admit(s) == -1 || backend_open(s) == -1 ||
		    httpx_exchange(s) == -1 || httpx_next(s) == -1 ||
		    client_request(s) == -1)
			return -1;
	}
	return 0;
}

static int
backend_open(struct session *s)
{
	const struct route *r = s->route;
	struct dial_opts o;
	size_t order[ROUTE_MAX_BACKENDS], chosen, n;
	char preface[PROXY_V2_MAX];
	int status;

	n = state_order(s->cfg->balance, r, s->addr.family != 0 ? s->ip :
	    NULL, order);
	o.connect_ms = s->cfg->connect_ms;
	o.tls_ctx = s->backend_tls_ctx;
	o.sni = s->cfg->backend_sni;
	o.insecure = s->cfg->backend_insecure;
	o.preface = preface;
	o.preface_len = 0;
	if (s->cfg->send_proxy != 0) {
		ssize_t plen;

		if ((plen = session_proxy_header(s, preface,
		    sizeof(preface))) <= 0)
			return reply_error(s, 500,
			    "cannot build the PROXY header", NULL);
		o.preface_len = (size_t)plen;
	}
	status = dial_route(r, order, n, &o, &s->backend, &chosen, s->baddr,
	    sizeof(s->baddr));
	if (status == DIAL_STOPPED)
		return session_stopped(s);
	if (status != 0) {
		log_msg(LOG_ERR, "route %s: no backend reachable", r->path);
		return reply_error(s, status, "no backend reachable", NULL);
	}
	s->bend = &r->backends[chosen];
	setproctitle("%s -> %s", s->peer, s->baddr);
	return 0;
}

static void
tunnel(struct session *s)
{
	struct relay *r = &s->relay;
	struct ws_tunnel ws;

	relay_dir_init(&r->up, &s->client, &s->backend, s->up, s->bufsize,
	    s->head_len, s->uplen - s->head_len);
	relay_dir_init(&r->down, &s->backend, &s->client, s->down, s->bufsize,
	    s->res_len, s->downlen - s->res_len);
	r->idle_ms = s->cfg->idle_ms;
	r->close_ms = s->cfg->close_ms;
	r->splice = !s->cfg->no_splice;
	r->busy_us = s->cfg->busy_us;
	r->ws = NULL;
	if (sandbox_relay() == -1) {	/* the relay alone from here on */
		s->failed = 1;
		return;
	}
	if (s->cfg->ws_track) {
		ws_tunnel_init(&ws, negotiate_deflate(s->res.fields,
		    s->res.nfields), s->cfg->max_message, s->cfg->ws_ping_ms,
		    s->cfg->ws_pong_ms);
		r->ws = &ws;
	}
	relay_run(r);
	if (r->ws != NULL)
		ws_summary(r->ws, s->wsinfo, sizeof(s->wsinfo));
	log_msg(LOG_DEBUG, "relay through %s: %llu bytes up, %llu down, %s",
	    r->spliced ? "splice()" : "buffers",
	    (unsigned long long)r->up.bytes, (unsigned long long)r->down.bytes,
	    r->end);
	s->end = r->end;
	if (sig_caught())
		s->why = sig_name();
	s->failed = r->failed;
	s->upbytes = r->up.bytes;
	s->downbytes = r->down.bytes;
}

static int
session_run(struct session *s)
{
	s->bufsize = s->cfg->max_head < RELAY_BUFSIZE ? RELAY_BUFSIZE :
	    s->cfg->max_head + 1;
	if ((s->up = malloc(s->bufsize)) == NULL ||
	    (s->down = malloc(s->bufsize)) == NULL) {
		log_msg(LOG_ERR, "out of memory");
		return 1;
	}
	s->head_deadline = s->start + s->cfg->handshake_ms;
	if (client_open(s) == 0 && client_request(s) == 0 &&
	    plain_requests(s) == 0 && client_admit(s) == 0 &&
	    backend_open(s) == 0 && backend_exchange(s) == 0)
		tunnel(s);
	state_release();
	session_close(s);
	if (s->plain && !s->logged)
		httpx_log(s);
	else if (!s->logged)
		session_log(s);
	conn_restore_flags();
	/* plain requests answered and the connection closed: 0 too */
	return ((s->status == 101 || s->logged) && !s->failed) ? 0 : 1;
}

/* Nothing may land on fd 0, 1 or 2 by accident: a closed one is filled
 * with /dev/null.  -1 when the client fds themselves were closed. */
static int
guard_fds(void)
{
	int fd, missing = 0;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", O_RDWR) != fd)
			return -1;
		if (fd <= 1)
			missing = 1;
	}
	return missing ? -1 : 0;
}

/* Whether fd 2 is the client connection itself, as under inetd. */
static int
stderr_is_client(void)
{
	struct stat e, c;
	int fd;

	if (isatty(STDERR_FILENO))	/* a terminal is a person, not a peer */
		return 0;
	if (fstat(STDERR_FILENO, &e) == -1)
		return 1;
	for (fd = 0; fd <= 1; fd++)
		if (fstat(fd, &c) == 0 && c.st_dev == e.st_dev &&
		    c.st_ino == e.st_ino)
			return 1;
	return 0;
}

/* A FIFO that nobody reads yet is no error in the configuration: its
 * reader may come later.  Until then the log goes to syslog. */
static void
log_no_reader(const char *path, int tell)
{
	if (tell)
		fprintf(stderr, "wstunnel: warning: --log %s: a FIFO with no "
		    "reader; the log goes to syslog until one opens it\n",
		    path);
	log_msg(LOG_WARNING, "--log %s: a FIFO with no reader; logging to "
	    "syslog", path);
}

static int
usage_error(const char *why, int stderr_ok)
{
	if (stderr_ok && !log_to_stderr())
		fprintf(stderr, "wstunnel: %s\n", why);
	log_msg(LOG_ERR, "%s", why);
	return 64;	/* EX_USAGE */
}

/* --check's verdict goes where nginx -t puts it: stderr and the log, never
 * fd 1, which may be a client connection. */
static int
check_ok(int stderr_ok, const char *no_sandbox)
{
	char sb[128];

	snprintf(sb, sizeof(sb), "sandbox %s%s%s", no_sandbox == NULL ? "on" :
	    "off (", no_sandbox == NULL ? "" : no_sandbox,
	    no_sandbox == NULL ? "" : ")");
	if (stderr_ok && !log_to_stderr())
		fprintf(stderr, "wstunnel: configuration OK, %s\n", sb);
	log_msg(LOG_INFO, "configuration OK, %s", sb);
	return 0;
}

/* OpenSSL is loaded only for a configuration that uses it. */
static const char *
tls_setup(struct session *s, const struct config *cfg, char *msg,
    size_t size)
{
	struct tls_server_conf sc = { cfg->tls_cert, cfg->tls_key,
	    cfg->tls_client_ca };
	struct tls_client_conf cc = { cfg->backend_ca, cfg->backend_cert,
	    cfg->backend_key, cfg->backend_insecure };
	const char *why;

	if (cfg->tls_cert == NULL && !cfg->backend_tls)
		return NULL;
	if ((why = tls_load(msg, size)) != NULL)
		return why;
	if (cfg->tls_cert != NULL &&
	    (s->client_tls_ctx = tls->server_ctx(&sc, msg, size)) == NULL)
		return msg;
	if (cfg->backend_tls &&
	    (s->backend_tls_ctx = tls->client_ctx(&cc, msg, size)) == NULL)
		return msg;
	return NULL;
}

int
main(int argc, char *argv[])
{
	static struct config cfg;
	static struct session s;
	const char *why;
	char msg[1024];
	int stderr_ok, r;

	s.start = now_ms();
	s.cfg = &cfg;
	signal(SIGPIPE, SIG_IGN);
	sig_catch();
	if (guard_fds() == -1) {
		log_open(NULL, 0, 0);
		log_msg(LOG_ERR, "fd 0 or 1 is closed: no client to serve");
		return 1;
	}
	stderr_ok = !stderr_is_client();
	why = config_parse(argc, argv, &cfg, msg, sizeof(msg));
	if (why == NULL && cfg.help) {
		config_usage();
		return 0;
	}
	if (why == NULL && cfg.version) {
		printf("wstunnel %s\n", WSTUNNEL_VERSION);
		return 0;
	}
	if ((r = log_open(cfg.log, cfg.verbose, stderr_ok)) == -1 &&
	    why == NULL) {
		snprintf(msg, sizeof(msg), "--log %s: %s", cfg.log,
		    strerror(errno));
		why = msg;
	} else if (r == LOG_NO_READER && why == NULL)
		log_no_reader(cfg.log, cfg.check && stderr_ok);
	if (why == NULL)
		why = tls_setup(&s, &cfg, msg, sizeof(msg));
	if (why == NULL && (cfg.status != 0 || cfg.drain != 0))
		return status_main(&cfg, stderr_ok);
	if (why == NULL && cfg.state != NULL)
		why = state_open(cfg.state, STATE_SERVE, cfg.retry_ms, msg,
		    sizeof(msg));
	if (why == NULL)
		why = admit_open(&cfg, msg, sizeof(msg));
	if (why == NULL)	/* every file is open: root is no longer needed */
		why = sandbox_user(cfg.user, cfg.check, msg, sizeof(msg));
	if (why != NULL)
		return usage_error(why, stderr_ok);
	if (cfg.check) {
		admit_close(&cfg);
		return check_ok(stderr_ok, sandbox_off_why(cfg.no_sandbox));
	}
	setproctitle_init(argc, argv, environ);
	if (sandbox_request(cfg.no_sandbox, msg, sizeof(msg)) == -1) {
		log_msg(LOG_ERR, "%s", msg);
		return 1;
	}
	return session_run(&s);
}
