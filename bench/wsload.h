/*
 * wsload's units share these (bench/wsload.c says what wsload does):
 *
 *	wsload.c		main: options, the JSON line, the statistics
 *	wsload_tls.c		a connection's socket, plain or TLS
 *	wsload_conn.c		dialling, the upgrade, frames (blocking)
 *	wsload_upgrades.c	upgrades
 *	wsload_stream.c		echo, download, upload, pingpong
 *	wsload_idle.c		idle
 *	wsload_startup.c	startup and phases (seccomp user notification)
 *
 * One workload runs per process, so the run's state is a few globals: the
 * options, the target, the error count and the TLS context.
 */
#ifndef BENCH_WSLOAD_H
#define BENCH_WSLOAD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "ws.h"

#define MAX_STOPS	8	/* phases: --stop at most this often */

/* The command line (wsload.c). */
struct options {
	const char	*workload;
	const char	*host;
	int		port;
	double		duration;
	int		conc;
	long		n;
	size_t		size;
	long		window;
	uint64_t	seed;
	const char	*tag;
	int		timeout;
	double		hold_max;
	char		**cmd;
	int		tls;
	const char	*ca;
	const char	*sni;
	int		until_read;
	const char	*stop_specs[MAX_STOPS];
	int		nstop_specs;
};

extern struct options opt;
extern struct sockaddr_in target;	/* -H, -p */
extern long n_errors;
extern volatile int verify_failed;	/* a wrong byte: the run is void */

/* wsload.c: the run's errors, its JSON line, percentiles */
void	report_error(int verify, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	report_finish(const char *extra);
int	report_cmp_double(const void *a, const void *b);
double	report_pct(const double *v, size_t n, double p);

/* A connection: the socket, and its TLS session when there is one. */
struct sock {
	int	fd;
	SSL	*ssl;
};

/* wsload_tls.c */
extern SSL_CTX *tls_ctx;		/* NULL: plain TCP */
extern char tls_params[200];		/* of the first handshake */
extern long tls_handshakes;

int	tls_init(void);
int	tls_connect(struct sock *s, int *verify, char *err, size_t errsize);
const char *sock_strerror(int e);
ssize_t	sock_read(struct sock *s, void *buf, size_t n);
ssize_t	sock_write(struct sock *s, const void *buf, size_t n);
int	sock_pending(struct sock *s);
void	sock_close(struct sock *s);

/* Reading whole small frames from a blocking connection. */
struct reader {
	struct sock	s;
	uint8_t		buf[4096];
	size_t		off, len;
	struct ws_parser p;
	uint8_t		frame[4096];
	size_t		flen;
	int		opcode, done, toolong;
};

/* wsload_conn.c */
uint64_t conn_rng_seed(void);
void	conn_random_mask(uint64_t *rng, uint8_t m[4]);
int	conn_dial(struct sock *s, int *verify, char *err, size_t errsize);
int	conn_write_all(struct sock *s, const void *buf, size_t n, char *err,
	    size_t errsize);
ssize_t	conn_read_some(struct sock *s, void *buf, size_t n, char *err,
	    size_t errsize);
int	conn_handshake(struct sock *s, const char *path, uint64_t *rng,
	    uint8_t *extra, size_t *extralen, int *verify, char *err,
	    size_t errsize);
int	conn_send_frame(struct sock *s, int opcode, const uint8_t *payload,
	    size_t len, uint64_t *rng, char *err, size_t errsize);
void	conn_reader_init(struct reader *r, const struct sock *s,
	    const uint8_t *extra, size_t n);
int	conn_read_frame(struct reader *r, int *verify, char *err,
	    size_t errsize);
int	conn_echo_once(struct reader *r, uint64_t *rng, uint64_t q,
	    size_t size, const uint8_t *pat, int *verify, char *err,
	    size_t errsize);
int	conn_close_handshake(struct reader *r, uint64_t *rng, int *verify,
	    char *err, size_t errsize);
int	conn_open(struct sock *s, const char *path, uint64_t *rng,
	    uint8_t *extra, size_t *elen);

/* the workloads: each prints its JSON line, returns the exit status */
int	run_upgrades(void);			/* wsload_upgrades.c */
int	run_echo(void);				/* wsload_stream.c */
int	run_download(void);
int	run_upload(void);
int	run_pingpong(void);
int	run_idle(void);				/* wsload_idle.c */
int	run_startup(void);			/* wsload_startup.c */
int	run_startup_read(int with_client);	/* 1: phases */

#endif
