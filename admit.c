/*
 * The client admission, cheapest check first: the address, the Origin,
 * then the credentials, whose check costs a bcrypt.  Nothing here contacts
 * a backend; a refused request ends with its answer and one access line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "admit.h"
#include "auth.h"
#include "limit.h"
#include "log.h"
#include "xff.h"

/* A bcrypt hash an unknown user's password is checked against, the result
 * thrown away: it costs as much time as a known user's, so that timing
 * does not tell them apart. */
static const char decoy[] = "-:$2y$05$"
    "IhJbSaOLGpMxs.Dp/YKNg.odJn1Zgr9A9Ow/ERlepe/Xsw/bQJ6SO";

static int
refuse(struct session *s, int status, const char *denied, const char *why,
    const char *extra)
{
	s->denied = denied;
	return reply_error(s, status, why, extra);
}

const char *
admit_open(struct config *cfg, char *msg, size_t size)
{
	size_t i;

	if (cfg->max_per_client != 0 &&
	    limit_open(cfg->state, msg, size) != NULL)
		return msg;
	for (i = 0; i < cfg->nrules; i++) {
		struct rules *r = &cfg->rules[i];

		if (r->auth_file == NULL || r->auth_fp != NULL)
			continue;
		if ((r->auth_fp = fopen(r->auth_file, "re")) == NULL) {
			snprintf(msg, size, "--auth-file %s: %s", r->auth_file,
			    strerror(errno));
			return msg;
		}
	}
	return NULL;
}

void
admit_close(const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nrules; i++)
		if (cfg->rules[i].auth_fp != NULL) {
			fclose(cfg->rules[i].auth_fp);
			cfg->rules[i].auth_fp = NULL;
		}
}

static int
admit_address(struct session *s, const struct rules *r)
{
	if (!access_allowed(r->allow, r->nallow, r->deny, r->ndeny, &s->addr))
		return refuse(s, 403, "cidr", "client address not allowed",
		    NULL);
	return 0;
}

static int
admit_origin(struct session *s, const struct rules *r)
{
	/* browsers send Origin with every WebSocket handshake, but not with
	 * a page load: --require-origin is for upgrades */
	if (s->ws.norigin == 0 && r->require_origin && !s->plain)
		return refuse(s, 403, "origin", "no Origin", NULL);
	if (r->norigins == 0 || s->ws.norigin == 0)
		return 0;
	if (s->ws.norigin > 1)
		return refuse(s, 403, "origin", "more than one Origin", NULL);
	if (!origin_allowed(r->origins, r->norigins, s->ws.origin,
	    s->ws.origin_len))
		return refuse(s, 403, "origin", "Origin not allowed", NULL);
	return 0;
}

/*
 * 1 when the file has b's user with b's password, 0 when not; the file is
 * read to its end or to that user's line, never further than needed to
 * tell, and an unknown user is checked against the decoy.
 */
static int
lookup_user(struct session *s, FILE *fp, const struct auth_basic *b)
{
	struct auth_entry e;
	char line[1024], user[4 * AUTH_USER_MAX];

	rewind(fp);	/* every request of a keep-alive connection reads it */
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strlen(line);

		if (n > 0 && line[n - 1] == '\n')
			n--;
		else if (!feof(fp)) {	/* longer than any line htpasswd writes */
			int c;

			while ((c = getc(fp)) != EOF && c != '\n')
				;
			continue;
		}
		if (auth_parse_line(line, n, &e) == -1 || e.kind == AUTH_SKIP ||
		    e.user_len != b->user_len ||
		    memcmp(e.user, b->user, b->user_len) != 0)
			continue;
		if (e.kind == AUTH_UNSUPPORTED)
			log_msg(LOG_WARNING, "--auth-file: user %s: a hash "
			    "format wstunnel does not read (only bcrypt, "
			    "SHA-512, SHA-256 crypt and {SHA})", log_safe(
			    b->user, b->user_len, user, sizeof(user)));
		return auth_verify(&e, b->pass, b->pass_len);
	}
	if (ferror(fp))
		log_msg(LOG_ERR, "client %s: --auth-file: %s", s->peer,
		    strerror(errno));
	auth_parse_line(decoy, sizeof(decoy) - 1, &e);
	auth_verify(&e, b->pass, b->pass_len);
	return 0;
}

static int
is_field(const struct http_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

/* Fields wstunnel consumed, so that the backend never sees them. */
static void
drop_fields(struct http_request *req, const char *name)
{
	size_t i, j;

	for (i = j = 0; i < req->nfields; i++)
		if (!is_field(&req->fields[i], name))
			req->fields[j++] = req->fields[i];
	req->nfields = j;
}

static int
admit_auth(struct session *s, const struct rules *r)
{
	static struct auth_basic b;
	char extra[256], user[4 * AUTH_USER_MAX];
	const char *why = NULL;
	int i, ok = 0;

	if (r->auth_file == NULL)
		return 0;
	if (r->auth_fp == NULL)		/* never let a request through */
		return reply_error(s, 500, "--auth-file not open", NULL);
	snprintf(extra, sizeof(extra), "WWW-Authenticate: Basic realm=\"%s\", "
	    "charset=\"UTF-8\"\r\n", r->realm != NULL ? r->realm : "wstunnel");
	i = http_field_find(s->req.fields, s->req.nfields, 0, "Authorization");
	if (i == -1)
		why = "no credentials";
	else if (http_field_find(s->req.fields, s->req.nfields, i + 1,
	    "Authorization") != -1)
		why = "more than one Authorization";
	else if (auth_parse_basic(s->req.fields[i].value,
	    s->req.fields[i].value_len, &b) == -1)
		why = "malformed credentials";
	else if (!(ok = lookup_user(s, r->auth_fp, &b))) {
		why = "wrong user or password";
		log_msg(LOG_WARNING, "client %s: authentication failed for "
		    "user %s", s->peer, log_safe(b.user, b.user_len, user,
		    sizeof(user)));
	}
	explicit_bzero(&b, sizeof(b));
	if (!ok)
		return refuse(s, 401, "auth", why, extra);
	drop_fields(&s->req, "Authorization");
	return 0;
}

/* Last, so that a refused request never holds a slot. */
static int
admit_limit(struct session *s)
{
	int r;

	/* a client with no address (a pipe) is nobody to count */
	if (s->cfg->max_per_client == 0 || s->addr.family == 0)
		return 0;
	if ((r = limit_take(&s->addr, s->cfg->max_per_client)) == 1)
		return 0;
	if (r == -1) {
		log_msg(LOG_ERR, "client %s: --max-per-client: %s", s->peer,
		    strerror(errno));
		return refuse(s, 500, "limit", "cannot count tunnels", NULL);
	}
	log_msg(LOG_WARNING, "client %s: --max-per-client %u reached",
	    s->peer, s->cfg->max_per_client);
	return refuse(s, 429, "limit", "too many tunnels from this address",
	    "Retry-After: 1\r\n");
}

/*
 * --trust-forwarded: behind a trusted proxy the client is read from
 * X-Forwarded-For (xff.c), and the header goes on with the proxy's address
 * appended; from anyone else the header is the client's own say, and is
 * replaced.
 */
static void
admit_forwarded(struct session *s)
{
	const struct config *cfg = s->cfg;
	const struct http_field *f = s->req.fields;
	struct addr a;
	size_t i;
	int r = XFF_TRUSTED;

	if (cfg->ntrusted == 0)
		return;
	/* each request of a keep-alive connection is read from the proxy's
	 * own address again: a proxy may mix clients on one connection */
	if (s->direct.addr.family == 0 && s->direct.peer[0] == '\0') {
		s->direct.addr = s->addr;
		memcpy(s->direct.ip, s->ip, sizeof(s->ip));
		memcpy(s->direct.peer, s->peer, sizeof(s->peer));
	} else {
		s->addr = s->direct.addr;
		memcpy(s->ip, s->direct.ip, sizeof(s->ip));
		memcpy(s->peer, s->direct.peer, sizeof(s->peer));
	}
	s->via[0] = '\0';
	a = s->addr;
	if (!access_allowed(cfg->trusted, cfg->ntrusted, NULL, 0, &s->addr) ||
	    s->addr.family == 0) {
		drop_fields(&s->req, "X-Forwarded-For");
		return;
	}
	for (i = s->req.nfields; i-- > 0 && r == XFF_TRUSTED; )
		if (is_field(&f[i], "X-Forwarded-For"))
			r = xff_walk(f[i].value, f[i].value_len, cfg->trusted,
			    cfg->ntrusted, &a);
	if (memcmp(&a, &s->addr, sizeof(a)) == 0)
		return;
	memcpy(s->via, s->ip, sizeof(s->via));
	s->addr = a;
	addr_format(&s->addr, 0, s->ip, sizeof(s->ip), s->peer,
	    sizeof(s->peer));
	/* the client's port is not in the header: none is made up */
	snprintf(s->peer, sizeof(s->peer), s->addr.family == AF_INET6 ?
	    "[%s]" : "%s", s->ip);
	log_msg(LOG_DEBUG, "client %s via %s (X-Forwarded-For)", s->peer,
	    s->via);
}

int
admit_client(struct session *s)
{
	int r;

	admit_forwarded(s);

	s->rules = &s->cfg->rules[s->cfg->route_rules[s->route -
	    s->cfg->routes]];
	r = admit_address(s, s->rules) == 0 && admit_origin(s, s->rules) ==
	    0 && admit_auth(s, s->rules) == 0 && admit_limit(s) == 0 ? 0 : -1;
	/* a tunnel holds no more than it needs; a plain request may be
	 * followed by another on the same connection, to be checked too */
	if (!s->plain)
		admit_close(s->cfg);
	return r;
}
