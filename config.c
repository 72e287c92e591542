#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "limit.h"
#include "version.h"

enum {
	OPT_HANDSHAKE_TIMEOUT = 256, OPT_CONNECT_TIMEOUT, OPT_IDLE_TIMEOUT,
	OPT_CLOSE_TIMEOUT, OPT_MAX_HEADER_BYTES, OPT_PRESERVE_HOST, OPT_ORIGIN,
	OPT_ALLOW, OPT_DENY, OPT_TLS_CERT, OPT_TLS_KEY, OPT_TLS_CLIENT_CA,
	OPT_BACKEND_CA, OPT_BACKEND_INSECURE, OPT_BACKEND_CERT,
	OPT_BACKEND_KEY, OPT_BACKEND_SNI, OPT_BALANCE, OPT_STATE,
	OPT_PROXY_PROTOCOL, OPT_LOG, OPT_CHECK, OPT_NO_SPLICE, OPT_BUSY_POLL, OPT_VERSION,
	OPT_NO_SANDBOX, OPT_WS_PING, OPT_WS_PONG_TIMEOUT, OPT_MAX_MESSAGE_BYTES,
	OPT_USER, OPT_HTTP, OPT_HTTP_ROUTE, OPT_HTTP_IDLE, OPT_HTTP_REQUESTS,
	/* access rules (set_rule) */
	OPT_AUTH_FILE, OPT_REALM, OPT_REQUIRE_ORIGIN, OPT_TRUST_FORWARDED,
	OPT_SEND_PROXY, OPT_MAX_PER_CLIENT,
	/* balancing that runs for months: health, draining, status */
	OPT_RETRY_AFTER, OPT_STATUS, OPT_DRAIN, OPT_UNDRAIN
};

static const struct option options[] = {
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "close-timeout", required_argument, NULL, OPT_CLOSE_TIMEOUT },
	{ "max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES },
	{ "preserve-host", no_argument, NULL, OPT_PRESERVE_HOST },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "allow", required_argument, NULL, OPT_ALLOW },
	{ "deny", required_argument, NULL, OPT_DENY },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-client-ca", required_argument, NULL, OPT_TLS_CLIENT_CA },
	{ "backend-ca", required_argument, NULL, OPT_BACKEND_CA },
	{ "backend-insecure", no_argument, NULL, OPT_BACKEND_INSECURE },
	{ "backend-cert", required_argument, NULL, OPT_BACKEND_CERT },
	{ "backend-key", required_argument, NULL, OPT_BACKEND_KEY },
	{ "backend-sni", required_argument, NULL, OPT_BACKEND_SNI },
	{ "balance", required_argument, NULL, OPT_BALANCE },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL },
	{ "log", required_argument, NULL, OPT_LOG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "no-splice", no_argument, NULL, OPT_NO_SPLICE },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "user", required_argument, NULL, OPT_USER },
	{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
	{ "ws-ping", required_argument, NULL, OPT_WS_PING },
	{ "ws-pong-timeout", required_argument, NULL, OPT_WS_PONG_TIMEOUT },
	{ "max-message-bytes", required_argument, NULL, OPT_MAX_MESSAGE_BYTES },
	{ "http", no_argument, NULL, OPT_HTTP },
	{ "http-route", required_argument, NULL, OPT_HTTP_ROUTE },
	{ "http-idle", required_argument, NULL, OPT_HTTP_IDLE },
	{ "http-requests", required_argument, NULL, OPT_HTTP_REQUESTS },
	/* access rules */
	{ "auth-file", required_argument, NULL, OPT_AUTH_FILE },
	{ "realm", required_argument, NULL, OPT_REALM },
	{ "require-origin", no_argument, NULL, OPT_REQUIRE_ORIGIN },
	{ "trust-forwarded", required_argument, NULL, OPT_TRUST_FORWARDED },
	{ "send-proxy", required_argument, NULL, OPT_SEND_PROXY },
	{ "max-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "retry-after", required_argument, NULL, OPT_RETRY_AFTER },
	{ "status", optional_argument, NULL, OPT_STATUS },
	{ "drain", required_argument, NULL, OPT_DRAIN },
	{ "undrain", required_argument, NULL, OPT_UNDRAIN },
	{ NULL, 0, NULL, 0 }
};

static const char *
option_name(int opt)
{
	const struct option *o;

	for (o = options; o->name != NULL; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

/* S or S.fff seconds into milliseconds, within [min_ms, max_ms]. */
static const char *
parse_seconds(const char *s, int min_ms, int max_ms, int *ms)
{
	const char *errstr, *dot = strchr(s, '.');
	char whole[16];
	long long sec;
	int frac = 0, scale = 100;

	if (dot == NULL)
		dot = s + strlen(s);
	if (dot == s || (size_t)(dot - s) >= sizeof(whole))
		return "not a number of seconds";
	memcpy(whole, s, dot - s);
	whole[dot - s] = '\0';
	sec = strtonum(whole, 0, max_ms / 1000, &errstr);
	if (errstr != NULL)
		return "not a number of seconds in range";
	if (*dot == '.') {
		if (dot[1] == '\0' || strlen(dot + 1) > 3)
			return "at most three decimals";
		for (dot++; *dot != '\0'; dot++, scale /= 10) {
			if (*dot < '0' || *dot > '9')
				return "not a number of seconds";
			frac += (*dot - '0') * scale;
		}
	}
	*ms = (int)sec * 1000 + frac;
	if (*ms < min_ms || *ms > max_ms)
		return "out of range";
	return NULL;
}

/* Appends one element to a growing array. */
static void *
grow(void *array, size_t *n, size_t size)
{
	char *p = reallocarray(array, *n + 1, size);

	if (p == NULL)
		return NULL;
	memset(p + *n * size, 0, size);
	(*n)++;
	return p;
}

static const char *
set_string(char **dst, const char *arg)
{
	free(*dst);
	return (*dst = strdup(arg)) == NULL ? "out of memory" : NULL;
}

static const char *
add_cidr(struct cidr **list, size_t *n, const char *arg)
{
	if ((*list = grow(*list, n, sizeof(**list))) == NULL)
		return "out of memory";
	return cidr_parse(arg, &(*list)[*n - 1]);
}

static const char *
add_origin(struct rules *r, const char *arg)
{
	r->origins = grow(r->origins, &r->norigins, sizeof(*r->origins));
	if (r->origins == NULL)
		return "out of memory";
	return origin_parse(arg, strlen(arg), &r->origins[r->norigins - 1]);
}

/* A realm is written inside a quoted-string: no quote, backslash or
 * control byte, so that it needs no escaping. */
static const char *
set_realm(struct rules *r, const char *arg)
{
	size_t i;

	if (arg[0] == '\0' || strlen(arg) > 128)
		return "a realm is 1 to 128 characters";
	for (i = 0; arg[i] != '\0'; i++)
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f ||
		    arg[i] == '"' || arg[i] == '\\')
			return "no quote, backslash or control character";
	return set_string(&r->realm, arg);
}

/* The access options, into the rules being written (see config_parse). */
static const char *
set_rule(struct rules *r, int opt, const char *arg)
{
	switch (opt) {
	case OPT_ORIGIN:
		return add_origin(r, arg);
	case OPT_ALLOW:
		return add_cidr(&r->allow, &r->nallow, arg);
	case OPT_DENY:
		return add_cidr(&r->deny, &r->ndeny, arg);
	case OPT_AUTH_FILE:
		return set_string(&r->auth_file, arg);
	case OPT_REALM:
		return set_realm(r, arg);
	case OPT_REQUIRE_ORIGIN:
		r->require_origin = 1;
		return NULL;
	}
	return NULL;
}

static int
is_rule(int opt)
{
	return opt == OPT_ORIGIN || opt == OPT_ALLOW || opt == OPT_DENY ||
	    opt == OPT_AUTH_FILE || opt == OPT_REALM ||
	    opt == OPT_REQUIRE_ORIGIN;
}

/* The options that make the relay follow the WebSocket's frames. */
static const char *
set_ws_option(struct config *cfg, int opt, const char *arg)
{
	const char *errstr = NULL;

	cfg->ws_track = 1;
	switch (opt) {
	case OPT_WS_PING:
		return parse_seconds(arg, 1, 86400000, &cfg->ws_ping_ms);
	case OPT_WS_PONG_TIMEOUT:
		return parse_seconds(arg, 1, 3600000, &cfg->ws_pong_ms);
	}
	cfg->max_message = (uint64_t)strtonum(arg, 1, INT64_MAX, &errstr);
	return errstr != NULL ? "not a number of bytes from 1" : NULL;
}

/* The options of --state's health, draining and status. */
static const char *
set_admin(struct config *cfg, int opt, const char *arg)
{
	switch (opt) {
	case OPT_RETRY_AFTER:
		return parse_seconds(arg, 0, 3600000, &cfg->retry_ms);
	case OPT_STATUS:
		if (arg == NULL || strcmp(arg, "table") == 0)
			cfg->status = STATUS_TABLE;
		else if (strcmp(arg, "prometheus") == 0)
			cfg->status = STATUS_PROMETHEUS;
		else
			return "expected --status or --status=prometheus";
		return NULL;
	case OPT_DRAIN:
	case OPT_UNDRAIN:
		cfg->drain = (opt == OPT_DRAIN) ? 1 : -1;
		return set_string(&cfg->drain_url, arg);
	}
	return "unknown option";
}

static const char *
set_option(struct config *cfg, int opt, const char *arg)
{
	const char *errstr = NULL;
	int b;

	switch (opt) {
	case OPT_HANDSHAKE_TIMEOUT:
		return parse_seconds(arg, 1, 3600000, &cfg->handshake_ms);
	case OPT_CONNECT_TIMEOUT:
		return parse_seconds(arg, 1, 3600000, &cfg->connect_ms);
	case OPT_IDLE_TIMEOUT:
		return parse_seconds(arg, 0, 604800000, &cfg->idle_ms);
	case OPT_CLOSE_TIMEOUT:
		return parse_seconds(arg, 0, 3600000, &cfg->close_ms);
	case OPT_MAX_HEADER_BYTES:
		cfg->max_head = (size_t)strtonum(arg, 256, 1048576, &errstr);
		return errstr != NULL ? "not a number from 256 to 1048576" :
		    NULL;
	case OPT_TLS_CERT:
		return set_string(&cfg->tls_cert, arg);
	case OPT_TLS_KEY:
		return set_string(&cfg->tls_key, arg);
	case OPT_TLS_CLIENT_CA:
		return set_string(&cfg->tls_client_ca, arg);
	case OPT_BACKEND_CA:
		return set_string(&cfg->backend_ca, arg);
	case OPT_BACKEND_CERT:
		return set_string(&cfg->backend_cert, arg);
	case OPT_BACKEND_KEY:
		return set_string(&cfg->backend_key, arg);
	case OPT_BACKEND_SNI:
		return set_string(&cfg->backend_sni, arg);
	case OPT_STATE:
		return set_string(&cfg->state, arg);
	case OPT_LOG:
		return set_string(&cfg->log, arg);
	case OPT_USER:
		return set_string(&cfg->user, arg);
	case OPT_BUSY_POLL:
		cfg->busy_us = (int)strtonum(arg, 0, 1000000, &errstr);
		return errstr != NULL ? "not a number of microseconds from 0 "
		    "to 1000000" : NULL;
	case OPT_WS_PING:
	case OPT_WS_PONG_TIMEOUT:
	case OPT_MAX_MESSAGE_BYTES:
		return set_ws_option(cfg, opt, arg);
	case OPT_HTTP_ROUTE:
		cfg->http_routes = grow(cfg->http_routes, &cfg->nhttp_routes,
		    sizeof(*cfg->http_routes));
		if (cfg->http_routes == NULL)
			return "out of memory";
		return set_string(&cfg->http_routes[cfg->nhttp_routes - 1],
		    arg);
	case OPT_HTTP_IDLE:
		return parse_seconds(arg, 0, 3600000, &cfg->http_idle_ms);
	case OPT_HTTP_REQUESTS:
		cfg->http_requests = (int)strtonum(arg, 1, 1000000, &errstr);
		return errstr != NULL ? "not a number from 1 to 1000000" : NULL;
	case OPT_RETRY_AFTER:
	case OPT_STATUS:
	case OPT_DRAIN:
	case OPT_UNDRAIN:
		return set_admin(cfg, opt, arg);
	case OPT_BALANCE:
		if ((b = balance_parse(arg)) == -1)
			return "expected first, random, roundrobin, leastconn "
			    "or source";
		cfg->balance = (enum balance)b;
		return NULL;
	}
	return "unknown option";
}

static int
set_flag(struct config *cfg, int opt)
{
	switch (opt) {
	case OPT_PRESERVE_HOST:
		return cfg->preserve_host = 1;
	case OPT_BACKEND_INSECURE:
		return cfg->backend_insecure = 1;
	case OPT_PROXY_PROTOCOL:
		return cfg->proxy_protocol = 1;
	case OPT_CHECK:
		return cfg->check = 1;
	case OPT_NO_SPLICE:
		return cfg->no_splice = 1;
	case OPT_NO_SANDBOX:
		return cfg->no_sandbox = 1;
	case OPT_HTTP:
		return cfg->http_all = 1;
	case OPT_VERSION:
		return cfg->version = 1;
	case 'h':
		return cfg->help = 1;
	case 'v':
		return ++cfg->verbose;
	}
	return 0;
}

static const char *
add_route(struct config *cfg, const char *arg, char *msg, size_t msgsize)
{
	struct route *r;
	const char *why;
	size_t i;

	cfg->routes = grow(cfg->routes, &cfg->nroutes, sizeof(*cfg->routes));
	if (cfg->routes == NULL)
		return "out of memory";
	r = &cfg->routes[cfg->nroutes - 1];
	if ((why = route_parse(arg, r, msg, msgsize)) != NULL)
		return why;
	for (i = 0; i + 1 < cfg->nroutes; i++)
		if (strcmp(cfg->routes[i].prefix, r->prefix) == 0) {
			snprintf(msg, msgsize, "route %s given twice", r->path);
			return msg;
		}
	for (i = 0; i < r->nbackends; i++)
		cfg->backend_tls |= r->backends[i].tls;
	return NULL;
}

/* --http and --http-route: which routes pass plain requests.  A route is
 * named as written or without its trailing slashes. */
static const char *
mark_http_routes(struct config *cfg, char *msg, size_t msgsize)
{
	size_t i, j;

	for (j = 0; j < cfg->nroutes; j++)
		cfg->routes[j].http = cfg->http_all;
	for (i = 0; i < cfg->nhttp_routes; i++) {
		const char *p = cfg->http_routes[i];

		for (j = 0; j < cfg->nroutes; j++)
			if (strcmp(p, cfg->routes[j].path) == 0 ||
			    strcmp(p, cfg->routes[j].prefix) == 0)
				break;
		if (j == cfg->nroutes) {
			snprintf(msg, msgsize, "--http-route %s: no such route",
			    p);
			return msg;
		}
		cfg->routes[j].http = 1;
	}
	cfg->http = cfg->http_all || cfg->nhttp_routes > 0;
	return NULL;
}

static const char *
check_rules(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].realm != NULL &&
		    cfg->rules[i].auth_file == NULL)
			return "--realm needs --auth-file";
	return NULL;
}

/* What the options mean only together. */
static const char *
check_combinations(struct config *cfg)
{
	const char *why;

	if (cfg->nroutes == 0)
		return "no backend URL given (see --help)";
	if ((why = check_rules(cfg)) != NULL)
		return why;
	if (cfg->tls_key != NULL && cfg->tls_cert == NULL)
		return "--tls-key needs --tls-cert";
	if (cfg->tls_client_ca != NULL && cfg->tls_cert == NULL)
		return "--tls-client-ca needs --tls-cert";
	if (cfg->backend_key != NULL && cfg->backend_cert == NULL)
		return "--backend-key needs --backend-cert";
	/* one process per connection: a turn or a count lives in a file */
	if ((cfg->balance == BALANCE_ROUNDROBIN ||
	    cfg->balance == BALANCE_LEASTCONN) && cfg->state == NULL)
		return "--balance roundrobin and leastconn need --state FILE";
	if (cfg->max_per_client != 0 && cfg->state == NULL)
		return "--max-per-client needs --state FILE";
	/* a certificate file may hold its key, as with stunnel */
	if (cfg->tls_cert != NULL && cfg->tls_key == NULL &&
	    (cfg->tls_key = strdup(cfg->tls_cert)) == NULL)
		return "out of memory";
	if (cfg->backend_cert != NULL && cfg->backend_key == NULL &&
	    (cfg->backend_key = strdup(cfg->backend_cert)) == NULL)
		return "out of memory";
	return NULL;
}

/*
 * The rules an access option writes into.  Before the first route operand
 * they are the rules of every route without its own; after one, that
 * route's own (made on its first access option), so that an inetd.conf
 * line reads route by route.
 */
static struct rules *
rules_for(struct config *cfg, size_t nops)
{
	struct rules *r;
	size_t *own;

	if (nops == 0)
		return &cfg->rules[0];
	own = &cfg->route_rules[nops - 1];
	if (*own == 0) {
		if ((r = grow(cfg->rules, &cfg->nrules, sizeof(*r))) == NULL)
			return NULL;
		cfg->rules = r;
		*own = cfg->nrules - 1;
	}
	return &cfg->rules[*own];
}

/* A route operand, kept in order until the options are all read. */
static const char *
add_operand(struct config *cfg, char ***ops, size_t *nops, char *arg)
{
	size_t n = *nops;

	if ((*ops = grow(*ops, nops, sizeof(**ops))) == NULL ||
	    (cfg->route_rules = grow(cfg->route_rules, &n,
	    sizeof(*cfg->route_rules))) == NULL)
		return "out of memory";
	(*ops)[*nops - 1] = arg;
	return NULL;
}

static const char *
set_any(struct config *cfg, int opt, const char *arg, size_t nops)
{
	const char *errstr = NULL;
	struct rules *r;

	if (opt == OPT_MAX_PER_CLIENT) {
		cfg->max_per_client = (unsigned)strtonum(arg, 1, LIMIT_MAX,
		    &errstr);
		return errstr != NULL ? "not a number from 1 to 1024" : NULL;
	}
	if (opt == OPT_TRUST_FORWARDED)
		return add_cidr(&cfg->trusted, &cfg->ntrusted, arg);
	if (opt == OPT_SEND_PROXY) {
		cfg->send_proxy = strcmp(arg, "v1") == 0 ? 1 :
		    strcmp(arg, "v2") == 0 ? 2 : 0;
		return cfg->send_proxy == 0 ? "expected v1 or v2" : NULL;
	}
	if (!is_rule(opt))
		return set_option(cfg, opt, arg);
	if ((r = rules_for(cfg, nops)) == NULL)
		return "out of memory";
	return set_rule(r, opt, arg);
}

/* The options, in order; the route operands among them go to ops. */
static const char *
parse_options(int argc, char *argv[], struct config *cfg, char ***ops,
    size_t *nops, char *msg, size_t msgsize)
{
	const char *why;
	int opt;

	opterr = 0;	/* fd 2 may be the client: messages are ours */
	/* "-": operands come back in place, as option 1 */
	while ((opt = getopt_long(argc, argv, "-:hv", options, NULL)) != -1) {
		if (opt == '?' && optopt != 0)
			snprintf(msg, msgsize, "unknown option -%c", optopt);
		else if (opt == '?')
			snprintf(msg, msgsize, "unknown option %s",
			    argv[optind - 1]);
		else if (opt == ':')
			snprintf(msg, msgsize, "option --%s needs an argument",
			    option_name(optopt));
		if (opt == '?' || opt == ':')
			return msg;
		if (opt == 1)
			why = add_operand(cfg, ops, nops, optarg);
		else if (set_flag(cfg, opt))
			continue;
		else if ((why = set_any(cfg, opt, optarg, *nops)) != NULL) {
			snprintf(msg, msgsize, "--%s %s: %s", option_name(opt),
			    optarg != NULL ? optarg : "", why);
			return msg;
		}
		if (why != NULL)
			return why;
	}
	for (; optind < argc; optind++)		/* after "--" */
		if ((why = add_operand(cfg, ops, nops, argv[optind])) != NULL)
			return why;
	return NULL;
}

const char *
config_parse(int argc, char *argv[], struct config *cfg, char *msg,
    size_t msgsize)
{
	const char *why;
	char **ops = NULL;
	size_t i, nops = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->handshake_ms = 10000;
	cfg->connect_ms = 5000;
	cfg->close_ms = 5000;
	cfg->max_head = 16384;
	cfg->balance = BALANCE_RANDOM;
	cfg->retry_ms = 10000;
	cfg->ws_pong_ms = 10000;
	cfg->http_idle_ms = 15000;
	cfg->http_requests = 100;
	if ((cfg->rules = grow(NULL, &cfg->nrules, sizeof(*cfg->rules))) ==
	    NULL)
		return "out of memory";
	why = parse_options(argc, argv, cfg, &ops, &nops, msg, msgsize);
	if (why == NULL && !cfg->help && !cfg->version &&
	    (cfg->status != 0 || cfg->drain != 0)) {
		free(ops);
		if (cfg->state == NULL || nops > 0 ||
		    (cfg->status != 0 && cfg->drain != 0)) {
			snprintf(msg, msgsize, "--status, --drain and --undrain "
			    "take --state FILE and nothing else");
			return msg;
		}
		return NULL;
	}
	for (i = 0; why == NULL && !cfg->help && !cfg->version && i < nops;
	    i++)
		why = add_route(cfg, ops[i], msg, msgsize);
	free(ops);
	if (why != NULL || cfg->help || cfg->version)
		return why;
	if ((why = check_combinations(cfg)) != NULL) {
		snprintf(msg, msgsize, "%s", why);
		return msg;
	}
	return mark_http_routes(cfg, msg, msgsize);
}
