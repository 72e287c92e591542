/*
 * wsload: the benchmark's WebSocket load client.  Every payload byte that
 * comes back is compared with what it must be (bench/ws.h: the pattern), and
 * every 101 is checked down to its Sec-WebSocket-Accept, so a broken tunnel
 * fails the run instead of posting a number.
 *
 *	wsload upgrades  [-c 16] [-d SECS]	connect, upgrade, one 32-byte
 *			frame echoed, close handshake, again: upgrades/s
 *	wsload echo      [-s 1048576] [-w FRAMES] [-d SECS]   one connection,
 *			frames echoed with a bounded window: MB/s
 *	wsload download  [-s 1048576] [-d SECS]  the backend streams: MB/s
 *	wsload upload    [-s 1048576] [-d SECS]  the backend checks and
 *			counts, and acknowledges at the end: MB/s
 *	wsload pingpong  [-s 16] [-d SECS]	round trips of one small frame:
 *			RTT percentiles in microseconds
 *	wsload idle      [-n 1000] [-c 32]	N upgraded tunnels, one echo each;
 *			a line when all are open, then held until stdin ends
 *			or SIGTERM/SIGINT (at most --hold-max seconds), then
 *			each is checked with one more echo and closed
 *	wsload startup   [-n 200] [--until exit|read] -- PROG ARGS...
 *			PROG run with stdin, stdout and stderr on /dev/null,
 *			spawn to exit timed; or (--until read) with stdin on
 *			an empty pipe, spawn to the moment PROG first calls
 *			read(2) (or readv, recvfrom, recvmsg) on fd 0, seen
 *			through a seccomp user notification, then killed
 *	wsload phases    [-n 200] --stop CALL[:FD] ... -- PROG ARGS...
 *			PROG as a super-server's child: fd 0 and 1 a fresh
 *			TCP connection whose client has sent an upgrade
 *			request (and sends one frame once the 101 is in);
 *			each run stops at one of the given points, the first
 *			CALL (read, write, socket, connect, splice,
 *			getpeername, futex, readlink; read and write with
 *			their vector and socket relatives) on FD or any fd:
 *			spawn to that point, per point
 *
 * Common: -H HOST (127.0.0.1), -p PORT, --seed N, --tag TEXT, --timeout S
 * (each blocking step, 10).  TLS: --ca FILE (or --tls) makes every
 * connection TLS (OpenSSL), the server's certificate verified against the
 * CAs in FILE and for the name --sni NAME (localhost), which is also sent as
 * SNI; ALPN http/1.1; no session resumption (every connection a full
 * handshake); the server's close_notify is required at the end of the
 * stream, and a close_notify is sent before closing.
 *
 * Output: one JSON line on stdout per run (idle: one more when all are
 * open); "ok":false and exit status 1 on any failure.  MB is 10^6 bytes of
 * WebSocket payload.
 *
 * This file has main, the options and the JSON line; bench/wsload.h says
 * which file has the rest.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "wsload.h"

struct options opt = {
	.host = "127.0.0.1", .duration = 5, .conc = 0, .n = 0, .size = 0,
	.window = 0, .seed = 1, .tag = "", .timeout = 10, .hold_max = 600,
	.sni = "localhost",
};

struct sockaddr_in target;
static int64_t t_start;

/* The first error of the run, for the JSON line. */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[512];
long n_errors;
volatile int verify_failed;

void
report_error(int verify, const char *fmt, ...)
{
	pthread_mutex_lock(&err_lock);
	n_errors++;
	if (verify)
		verify_failed = 1;
	if (first_error[0] == '\0') {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(first_error, sizeof(first_error), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&err_lock);
}

/* JSON string escaping of s into a static buffer. */
static const char *
jstr(const char *s)
{
	static char buf[1200];
	size_t o = 0;

	for (; *s != '\0' && o + 8 < sizeof(buf); s++) {
		if (*s == '"' || *s == '\\') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if ((unsigned char)*s < 0x20)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "\\u%04x", *s);
		else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

/* Prints the JSON line: the workload's fields in extra (", ..." or ""). */
int
report_finish(const char *extra)
{
	struct rusage ru;
	double wall = (double)(now_ns() - t_start) / 1e9, cpu;
	int ok = (n_errors == 0 && !verify_failed);

	getrusage(RUSAGE_SELF, &ru);
	cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"workload\":\"%s\",\"tag\":\"%s\",\"ok\":%s,"
	    "\"errors\":%ld,\"verify_failed\":%s,", opt.workload,
	    opt.tag, ok ? "true" : "false", n_errors,
	    verify_failed ? "true" : "false");
	if (tls_ctx != NULL)
		printf("\"tls\":\"%s\",\"tls_handshakes\":%ld,",
		    tls_params, tls_handshakes);
	printf("\"error\":\"%s\",\"client_cpu_s\":%.3f,\"client_wall_s\":%.3f"
	    "%s}\n", jstr(first_error), cpu, wall, extra);
	fflush(stdout);
	return ok ? 0 : 1;
}

/* For qsort: doubles in ascending order. */
int
report_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile of the sorted v[n] (nearest rank), 0 when empty. */
double
report_pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* ------------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr, "usage: wsload upgrades|echo|download|upload|pingpong|"
	    "idle [-H HOST] -p PORT\n"
	    "         [-d SECS] [-c CONC] [-n N] [-s SIZE] [-w WINDOW] "
	    "[--seed N] [--tag T]\n"
	    "         [--timeout S] [--hold-max S] [--tls] [--ca FILE] "
	    "[--sni NAME]\n"
	    "       wsload startup [-n RUNS] [--until exit|read] -- PROG "
	    "ARGS...\n"
	    "       wsload phases [-n RUNS] --stop CALL[:FD] [--stop ...] -- "
	    "PROG ARGS...\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 'O' },
		{ "hold-max", required_argument, NULL, 'M' },
		{ "tls", no_argument, NULL, 'L' },
		{ "ca", required_argument, NULL, 'A' },
		{ "sni", required_argument, NULL, 'N' },
		{ "until", required_argument, NULL, 'U' },
		{ "stop", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct rlimit rl;
	int c;

	if (argc < 2)
		usage();
	opt.workload = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "+H:p:d:c:n:s:w:", lo, NULL))
	    != -1) {
		switch (c) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'c': opt.conc = atoi(optarg); break;
		case 'n': opt.n = atol(optarg); break;
		case 's': opt.size = (size_t)strtoull(optarg, NULL, 10); break;
		case 'w': opt.window = atol(optarg); break;
		case 'S': opt.seed = strtoull(optarg, NULL, 10); break;
		case 'T': opt.tag = optarg; break;
		case 'O': opt.timeout = atoi(optarg); break;
		case 'M': opt.hold_max = atof(optarg); break;
		case 'L': opt.tls = 1; break;
		case 'A': opt.ca = optarg; opt.tls = 1; break;
		case 'N': opt.sni = optarg; break;
		case 'P':
			if (opt.nstop_specs == MAX_STOPS)
				usage();
			opt.stop_specs[opt.nstop_specs++] = optarg;
			break;
		case 'U':
			if (strcmp(optarg, "read") == 0)
				opt.until_read = 1;
			else if (strcmp(optarg, "exit") != 0)
				usage();
			break;
		default: usage();
		}
	}
	opt.cmd = argv + optind;
	if (strchr(opt.tag, '"') != NULL || strchr(opt.tag, '\\') != NULL)
		opt.tag = "";
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	t_start = now_ns();
	/* a watchdog: no run outlives its duration by much */
	if (strcmp(opt.workload, "idle") != 0 &&
	    strcmp(opt.workload, "startup") != 0 &&
	    strcmp(opt.workload, "phases") != 0)
		alarm((unsigned)(opt.duration + 3 * opt.timeout + 30));
	if (strcmp(opt.workload, "startup") == 0)
		return run_startup();
	if (strcmp(opt.workload, "phases") == 0) {
		if (opt.cmd == NULL || opt.cmd[0] == NULL)
			usage();
		return run_startup_read(1);
	}
	memset(&target, 0, sizeof(target));
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)opt.port);
	if (opt.port <= 0 || inet_pton(AF_INET, opt.host, &target.sin_addr)
	    != 1)
		usage();
	if (opt.tls && tls_init() == -1)
		return report_finish("");
	if (strcmp(opt.workload, "upgrades") == 0)
		return run_upgrades();
	if (strcmp(opt.workload, "echo") == 0)
		return run_echo();
	if (strcmp(opt.workload, "download") == 0)
		return run_download();
	if (strcmp(opt.workload, "upload") == 0)
		return run_upload();
	if (strcmp(opt.workload, "pingpong") == 0)
		return run_pingpong();
	if (strcmp(opt.workload, "idle") == 0)
		return run_idle();
	usage();
	return 64;
}

