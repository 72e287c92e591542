#include <stdio.h>
#include <string.h>
#include <time.h>

#include "balance.h"
#include "log.h"
#include "route.h"
#include "state.h"
#include "status.h"

static struct state_view views[256];
static size_t nviews;

static int
fail(const char *why, int stderr_ok)
{
	if (stderr_ok && !log_to_stderr())
		fprintf(stderr, "wstunnel: %s\n", why);
	log_msg(LOG_ERR, "%s", why);
	return 1;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Since when the backend is down or draining; 0 when neither. */
static int64_t
since(const struct state_view *v, int64_t now)
{
	if (v->drain_since != 0)
		return v->drain_since;
	return v->down_until > now ? v->down_since : 0;
}

static const char *
state_word(const struct state_view *v, int64_t now)
{
	int down = v->down_until > now;

	if (v->drain_since != 0)
		return down ? "down,draining" : "draining";
	return down ? "down" : "up";
}

static void
print_table(int64_t now)
{
	char when[32];
	size_t i;

	printf("%-16s %-36s %6s %10s %8s %-13s %s\n", "ROUTE", "BACKEND",
	    "OPEN", "SERVED", "FAILED", "STATE", "SINCE");
	for (i = 0; i < nviews; i++) {
		const struct state_view *v = &views[i];
		time_t t = (time_t)(since(v, now) / 1000);
		struct tm tm;

		if (t == 0 || gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
			snprintf(when, sizeof(when), "-");
		printf("%-16s %-36s %6u %10llu %8llu %-13s %s\n",
		    v->route[0] != '\0' ? v->route : "*", v->url, v->open,
		    (unsigned long long)v->served,
		    (unsigned long long)v->failures, state_word(v, now), when);
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void
print_label(const char *name, const char *s)
{
	printf("%s=\"", name);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
	putchar('"');
}

enum metric { M_OPEN, M_SERVED, M_FAILURES, M_UP, M_DRAINING, M_SINCE };

static unsigned long long
metric_value(const struct state_view *v, enum metric which, int64_t now)
{
	switch (which) {
	case M_OPEN:
		return v->open;
	case M_SERVED:
		return v->served;
	case M_FAILURES:
		return v->failures;
	case M_UP:
		return !(v->down_until > now);
	case M_DRAINING:
		return v->drain_since != 0;
	case M_SINCE:
		return (unsigned long long)since(v, now) / 1000;
	}
	return 0;
}

/* One metric family: HELP, TYPE, then a sample per backend (the format
 * wants a family's samples together). */
static void
print_family(const char *name, const char *type, const char *help,
    enum metric which, int64_t now)
{
	size_t i;

	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < nviews; i++) {
		printf("%s{", name);
		print_label("route", views[i].route[0] != '\0' ?
		    views[i].route : "*");
		putchar(',');
		print_label("backend", views[i].url);
		printf("} %llu\n", metric_value(&views[i], which, now));
	}
}

/* The Prometheus text exposition format (version 0.0.4). */
static void
print_prometheus(int64_t now)
{
	print_family("wstunnel_backend_open_tunnels", "gauge",
	    "Tunnels open to the backend now.", M_OPEN, now);
	print_family("wstunnel_backend_served_total", "counter",
	    "Tunnels connected to the backend.", M_SERVED, now);
	print_family("wstunnel_backend_failures_total", "counter",
	    "Connects and TLS handshakes to the backend that failed.",
	    M_FAILURES, now);
	print_family("wstunnel_backend_up", "gauge",
	    "0 while the backend is skipped after a failure (--retry-after).",
	    M_UP, now);
	print_family("wstunnel_backend_draining", "gauge",
	    "1 while the backend is drained (--drain).", M_DRAINING,
	    now);
	print_family("wstunnel_backend_state_since_seconds", "gauge",
	    "Unix time the backend went down or began draining, 0 if neither.",
	    M_SINCE, now);
}

static int
status_print(const struct config *cfg, int stderr_ok)
{
	char msg[1024];
	int64_t now = wall_ms();
	size_t i;

	if (state_open(cfg->state, STATE_READ, 0, msg, sizeof(msg)) != NULL)
		return fail(msg, stderr_ok);
	for (i = 0; i < state_entries() && nviews < 256; i++)
		if (state_view(i, &views[nviews]) == 0)
			nviews++;
	if (cfg->status == STATUS_PROMETHEUS)
		print_prometheus(now);
	else
		print_table(now);
	return fflush(stdout) == 0 ? 0 : 1;
}

static int
status_drain(const struct config *cfg, int stderr_ok)
{
	char msg[1024], url[STATE_URL_LEN];
	const char *why;
	struct url u;
	size_t len;
	unsigned weight;
	int n;

	/* written as in the route, weight or not */
	why = balance_weight(cfg->drain_url, strlen(cfg->drain_url), &len,
	    &weight);
	if (why == NULL && len >= sizeof(url))
		why = "too long";
	if (why == NULL)
		why = url_parse(cfg->drain_url, len, &u);
	if (why != NULL) {
		snprintf(msg, sizeof(msg), "%s %s: %s", cfg->drain > 0 ?
		    "--drain" : "--undrain", cfg->drain_url, why);
		return fail(msg, stderr_ok);
	}
	memcpy(url, cfg->drain_url, len);
	url[len] = '\0';
	if (state_open(cfg->state, STATE_ADMIN, 0, msg, sizeof(msg)) != NULL)
		return fail(msg, stderr_ok);
	n = state_drain(url, cfg->drain > 0);
	if (n == 0) {
		snprintf(msg, sizeof(msg), "--undrain %s: no such backend in %s",
		    url, cfg->state);
		return fail(msg, stderr_ok);
	}
	log_msg(LOG_NOTICE, "backend %s: %s", url, cfg->drain > 0 ?
	    "draining" : "no longer draining");
	printf("%s: %s\n", url, cfg->drain > 0 ? "draining" :
	    "no longer draining");
	return 0;
}

int
status_main(const struct config *cfg, int stderr_ok)
{
	if (cfg->status != 0)
		return status_print(cfg, stderr_ok);
	return status_drain(cfg, stderr_ok);
}
