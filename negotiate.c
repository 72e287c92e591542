/*
 * The subprotocol and the extensions of a 101 against the client's offer.
 */
#include <string.h>
#include <strings.h>

#include "negotiate.h"

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The next element of a comma list at *p (before end): its first byte and
 * length, OWS trimmed, up to the first ';' when params is set (an
 * extension's name without its parameters).  0 at the list's end.
 */
static int
list_next(const char **p, const char *end, int params, const char **e,
    size_t *len)
{
	const char *s = *p, *t, *stop;

	while (s < end && (is_ows(*s) || *s == ','))
		s++;
	if (s == end)
		return 0;
	for (t = s; t < end && *t != ','; t++)
		;
	*p = t;
	stop = params ? memchr(s, ';', t - s) : NULL;
	if (stop == NULL)
		stop = t;
	while (stop > s && is_ows(stop[-1]))
		stop--;
	*e = s;
	*len = stop - s;
	return 1;
}

static int
name_is(const struct http_field *f, const char *name)
{
	return f->name_len == strlen(name) &&
	    strncasecmp(f->name, name, f->name_len) == 0;
}

/* Whether the element e[0..len) is in any field called name; extension
 * names compare without case (they are tokens), subprotocols exactly. */
static int
offered(const struct http_field *f, size_t n, const char *name, int ext,
    const char *e, size_t len)
{
	const char *p, *end, *o;
	size_t i, olen;

	for (i = 0; i < n; i++) {
		if (!name_is(&f[i], name))
			continue;
		p = f[i].value;
		end = p + f[i].value_len;
		while (list_next(&p, end, ext, &o, &olen))
			if (olen == len && (ext ? strncasecmp(o, e, len) == 0 :
			    memcmp(o, e, len) == 0))
				return 1;
	}
	return 0;
}

static const char *
check_protocol(const struct http_field *req, size_t nreq,
    const struct http_field *res, size_t nres)
{
	const char *p, *end, *e, *seen = NULL;
	size_t i, len;

	for (i = 0; i < nres; i++) {
		if (!name_is(&res[i], "Sec-WebSocket-Protocol"))
			continue;
		p = res[i].value;
		end = p + res[i].value_len;
		while (list_next(&p, end, 0, &e, &len)) {
			if (seen != NULL)
				return "101 chose more than one subprotocol";
			if (!offered(req, nreq, "Sec-WebSocket-Protocol", 0,
			    e, len))
				return "101 chose a subprotocol the client "
				    "did not offer";
			seen = e;
		}
	}
	return NULL;
}

const char *
negotiate_check(const struct http_field *req, size_t nreq,
    const struct http_field *res, size_t nres)
{
	const char *p, *end, *e, *why;
	size_t i, len;

	if ((why = check_protocol(req, nreq, res, nres)) != NULL)
		return why;
	for (i = 0; i < nres; i++) {
		if (!name_is(&res[i], "Sec-WebSocket-Extensions"))
			continue;
		p = res[i].value;
		end = p + res[i].value_len;
		while (list_next(&p, end, 1, &e, &len))
			if (!offered(req, nreq, "Sec-WebSocket-Extensions", 1,
			    e, len))
				return "101 chose an extension the client "
				    "did not offer";
	}
	return NULL;
}

int
negotiate_deflate(const struct http_field *res, size_t nres)
{
	static const char name[] = "permessage-deflate";
	const char *p, *end, *e;
	size_t i, len;

	for (i = 0; i < nres; i++) {
		if (!name_is(&res[i], "Sec-WebSocket-Extensions"))
			continue;
		p = res[i].value;
		end = p + res[i].value_len;
		while (list_next(&p, end, 1, &e, &len))
			if (len == sizeof(name) - 1 &&
			    strncasecmp(e, name, len) == 0)
				return 1;
	}
	return 0;
}
