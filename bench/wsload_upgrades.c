/*
 * wsload upgrades: --conc threads, each in a loop: connect, upgrade, one
 * small frame echoed, close handshake.  Upgrades/s, and the time of one
 * whole cycle.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsload.h"

static uint8_t *small_pat;
static int64_t deadline;

struct upg_thread {
	pthread_t	th;
	long		done;
	double		*lat;		/* microseconds per upgrade */
	size_t		nlat, cap;
};

static void *
upg_main(void *arg)
{
	struct upg_thread *t = arg;
	struct reader *r = malloc(sizeof(*r));
	uint8_t extra[4096];
	uint64_t rng = conn_rng_seed(), q = 0;
	char err[300];

	if (r == NULL)
		return NULL;
	while (now_ns() < deadline && !verify_failed) {
		int64_t t0 = now_ns();
		size_t elen = sizeof(extra);
		struct sock s;
		int verify;

		if (conn_dial(&s, &verify, err, sizeof(err)) == -1) {
			report_error(verify, "%s", err);
			if (!verify)
				usleep(1000);
			continue;
		}
		if (conn_handshake(&s, "/echo", &rng, extra, &elen, &verify,
		    err, sizeof(err)) == -1 ||
		    (conn_reader_init(r, &s, extra, elen),
		    conn_echo_once(r, &rng, q++, opt.size, small_pat, &verify,
		    err, sizeof(err)) == -1) ||
		    conn_close_handshake(r, &rng, &verify, err,
		    sizeof(err)) == -1) {
			report_error(verify, "%s", err);
			sock_close(&s);
			continue;
		}
		sock_close(&s);
		t->done++;
		if (t->nlat == t->cap) {
			double *nl;

			t->cap = t->cap ? t->cap * 2 : 4096;
			nl = realloc(t->lat, t->cap * sizeof(double));
			if (nl == NULL)
				break;
			t->lat = nl;
		}
		t->lat[t->nlat++] = (double)(now_ns() - t0) / 1e3;
	}
	free(r);
	return NULL;
}

int
run_upgrades(void)
{
	struct upg_thread *t;
	double *all, secs;
	size_t nall = 0, k;
	long total = 0;
	int i;
	char extra[512];

	if (opt.conc <= 0)
		opt.conc = 16;
	if (opt.size == 0)
		opt.size = 32;
	if (opt.size > 256)
		opt.size = 256;
	small_pat = pat_make(opt.seed, 4096);
	t = calloc((size_t)opt.conc, sizeof(*t));
	if (small_pat == NULL || t == NULL) {
		report_error(0, "out of memory");
		return report_finish("");
	}
	deadline = now_ns() + (int64_t)(opt.duration * 1e9);
	for (i = 0; i < opt.conc; i++)
		pthread_create(&t[i].th, NULL, upg_main, &t[i]);
	for (i = 0; i < opt.conc; i++) {
		pthread_join(t[i].th, NULL);
		total += t[i].done;
		nall += t[i].nlat;
	}
	secs = (double)(now_ns() - (deadline - (int64_t)(opt.duration * 1e9)))
	    / 1e9;
	all = malloc((nall + 1) * sizeof(double));
	if (all == NULL) {
		report_error(0, "out of memory");
		return report_finish("");
	}
	for (i = 0, k = 0; i < opt.conc; i++) {
		if (t[i].nlat > 0)
			memcpy(all + k, t[i].lat, t[i].nlat * sizeof(double));
		k += t[i].nlat;
		free(t[i].lat);
	}
	free(t);
	qsort(all, nall, sizeof(double), report_cmp_double);
	snprintf(extra, sizeof(extra), ",\"concurrency\":%d,\"upgrades\":%ld,"
	    "\"secs\":%.3f,\"value\":%.1f,\"unit\":\"upgrades/s\","
	    "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f", opt.conc, total, secs,
	    (double)total / secs, report_pct(all, nall, 50),
	    report_pct(all, nall, 99));
	free(all);
	if (total == 0 && n_errors == 0)
		report_error(0, "no upgrade completed");
	return report_finish(extra);
}
