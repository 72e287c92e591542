/*
 * wsload idle: N tunnels opened (--conc at a time), one echo each, held
 * until stdin ends or a signal comes, then each checked with one more echo
 * and closed; the runner measures memory while they are held.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "wsload.h"

static uint8_t *small_pat;

struct idle_thread {
	pthread_t	th;
	struct reader	*r;		/* r[i].s.fd == -1: not open */
	long		first, count, opened, verified;
	int		phase;		/* 0 open, 1 check and close */
};

static void *
idle_main(void *arg)
{
	struct idle_thread *t = arg;
	uint8_t extra[4096];
	uint64_t rng = conn_rng_seed();
	char err[300];
	long i;

	for (i = t->first; i < t->first + t->count && !verify_failed; i++) {
		struct reader *r = &t->r[i];
		int verify;

		if (t->phase == 0) {
			size_t elen = sizeof(extra);
			struct sock s;

			r->s.fd = -1;
			if (conn_open(&s, "/echo", &rng, extra, &elen) == -1)
				continue;
			conn_reader_init(r, &s, extra, elen);
			if (conn_echo_once(r, &rng, (uint64_t)i, opt.size,
			    small_pat, &verify, err, sizeof(err)) == -1) {
				report_error(verify, "tunnel %ld: %s", i, err);
				sock_close(&r->s);
				continue;
			}
			t->opened++;
			continue;
		}
		if (r->s.fd == -1)
			continue;
		if (conn_echo_once(r, &rng, (uint64_t)i + 1, opt.size,
		    small_pat, &verify, err, sizeof(err)) == -1 ||
		    conn_close_handshake(r, &rng, &verify, err,
		    sizeof(err)) == -1)
			report_error(verify, "tunnel %ld after the hold: %s",
			    i, err);
		else
			t->verified++;
		sock_close(&r->s);
	}
	return NULL;
}

static void
idle_phase(struct idle_thread *t, int nt, int phase)
{
	int i;

	for (i = 0; i < nt; i++) {
		t[i].phase = phase;
		pthread_create(&t[i].th, NULL, idle_main, &t[i]);
	}
	for (i = 0; i < nt; i++)
		pthread_join(t[i].th, NULL);
}

int
run_idle(void)
{
	struct idle_thread *t;
	struct reader *r;
	struct pollfd pfd[2];
	sigset_t set;
	int nt, i, sfd;
	long opened = 0, verified = 0, per, i0;
	int64_t t0, t_open, t_hold;
	char buf[256], out[512];
	const char *why = "hold-max";

	if (opt.n <= 0)
		opt.n = 1000;
	if (opt.conc <= 0)
		opt.conc = 32;
	if (opt.size == 0 || opt.size > 256)
		opt.size = 32;
	nt = opt.conc < opt.n ? opt.conc : (int)opt.n;
	small_pat = pat_make(opt.seed, 4096);
	r = calloc((size_t)opt.n, sizeof(*r));
	t = calloc((size_t)nt, sizeof(*t));
	if (small_pat == NULL || r == NULL || t == NULL) {
		report_error(0, "out of memory");
		free(r);
		free(t);
		return report_finish("");
	}
	for (i0 = 0; i0 < opt.n; i0++)
		r[i0].s.fd = -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the threads inherit it */
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	per = opt.n / nt;
	for (i = 0, i0 = 0; i < nt; i++) {
		t[i].r = r;
		t[i].first = i0;
		t[i].count = per + (i < opt.n % nt ? 1 : 0);
		i0 += t[i].count;
	}
	t0 = now_ns();
	idle_phase(t, nt, 0);
	t_open = now_ns();
	for (i = 0; i < nt; i++)
		opened += t[i].opened;
	printf("{\"event\":\"open\",\"workload\":\"idle\",\"tag\":\"%s\","
	    "\"n\":%ld,\"opened\":%ld,\"open_secs\":%.3f,\"errors\":%ld}\n",
	    opt.tag, opt.n, opened, (double)(t_open - t0) / 1e9, n_errors);
	fflush(stdout);

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = sfd;
	pfd[1].events = POLLIN;
	for (;;) {
		int ms = (int)((double)(t_open - now_ns()) / 1e6 +
		    opt.hold_max * 1000);

		if (ms <= 0)
			break;
		if (poll(pfd, 2, ms) <= 0)
			continue;
		if (pfd[1].revents) {
			why = "signal";
			break;
		}
		if (pfd[0].revents && read(STDIN_FILENO, buf, sizeof(buf))
		    <= 0) {
			why = "stdin-closed";
			break;
		}
	}
	t_hold = now_ns();
	idle_phase(t, nt, 1);
	for (i = 0; i < nt; i++)
		verified += t[i].verified;
	free(t);
	free(r);
	if (verified != opened)
		report_error(0, "%ld tunnels opened, %ld still working after "
		    "the hold", opened, verified);
	snprintf(out, sizeof(out), ",\"n\":%ld,\"opened\":%ld,\"open_secs\":"
	    "%.3f,\"held_secs\":%.3f,\"hold_end\":\"%s\",\"verified_after_hold"
	    "\":%ld,\"value\":%ld,\"unit\":\"tunnels\"", opt.n, opened,
	    (double)(t_open - t0) / 1e9, (double)(t_hold - t_open) / 1e9, why,
	    verified, opened);
	return report_finish(out);
}
