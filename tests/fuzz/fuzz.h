/*
 * Shared by the libFuzzer targets: the invariant check and a few byte-level
 * helpers.  An invariant that does not hold prints its name and aborts, so
 * libFuzzer reports the input.  FUZZ_IGNORE=name,name,... (environment)
 * lets a campaign go on past bugs already known and recorded.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline int
fuzz_ignored(const char *name)
{
	const char *list = getenv("FUZZ_IGNORE"), *p;
	size_t n = strlen(name);

	for (p = list; p != NULL && *p != '\0'; p += strcspn(p, ",")) {
		p += (*p == ',');
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

static inline void
fuzz_fail(const char *name, const char *cond, const char *file, int line)
{
	if (fuzz_ignored(name))
		return;
	fprintf(stderr, "\nINVARIANT %s FAILED: %s (%s:%d)\n", name, cond,
	    file, line);
	abort();
}

/* name: a short stable identifier, the unit of FUZZ_IGNORE */
#define CHECK(name, cond) do {						\
	if (!(cond))							\
		fuzz_fail(name, #cond, __FILE__, __LINE__);		\
} while (0)

/* Whether [p, p+n) lies inside [buf, buf+len). */
static inline int
inside(const void *p, size_t n, const void *buf, size_t len)
{
	const char *q = p, *b = buf;

	return q >= b && q <= b + len && n <= (size_t)(b + len - q);
}

static inline int
lower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 'a' - 'A' : c;
}

static inline int
toupper_ascii(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* ASCII case-insensitive equality of [a, a+n) and the string s. */
static inline int
eq_nocase(const char *a, size_t n, const char *s)
{
	size_t i;

	if (strlen(s) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (lower_ascii((unsigned char)a[i]) !=
		    lower_ascii((unsigned char)s[i]))
			return 0;
	return 1;
}

static inline int
one_of(const char *a, size_t n, const char *const *names)
{
	for (; *names != NULL; names++)
		if (eq_nocase(a, n, *names))
			return 1;
	return 0;
}

/* RFC 9110 section 5.6.2 */
static inline int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

/*
 * A reference for http_list_has_token(): whether the comma-separated list
 * v[0..len) has an element equal to tok (ASCII case-insensitive), elements
 * trimmed of SP and HTAB, empty elements ignored.
 */
static inline int
ref_has_token(const char *v, size_t len, const char *tok, size_t tlen)
{
	size_t i = 0, s, e, k;

	while (i <= len) {
		for (s = i; i < len && v[i] != ','; i++)
			;
		for (e = i; s < e && (v[s] == ' ' || v[s] == '\t'); s++)
			;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tlen && tlen > 0) {
			for (k = 0; k < tlen && lower_ascii((unsigned char)v[s +
			    k]) == lower_ascii((unsigned char)tok[k]); k++)
				;
			if (k == tlen)
				return 1;
		}
		i++;
	}
	return 0;
}

/*
 * NULL when h[0..n) is a well-formed head as wstunnel writes one: lines
 * ended by CRLF, no bare CR or LF, no NUL, and exactly one empty line,
 * its end.  Else what is wrong.
 */
static inline const char *
head_syntax(const char *h, size_t n)
{
	size_t i;

	if (n < 4 || memcmp(h + n - 4, "\r\n\r\n", 4) != 0)
		return "does not end with CRLF CRLF";
	if (h[0] == '\r')
		return "starts with an empty line";
	for (i = 0; i < n; i++) {
		if (h[i] == '\0')
			return "NUL";
		if (h[i] == '\r' && (i + 1 == n || h[i + 1] != '\n'))
			return "bare CR";
		if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r'))
			return "bare LF";
		if (h[i] == '\n' && i + 2 < n - 1 && h[i + 1] == '\r')
			return "empty line before the end";
	}
	return NULL;
}

/* A small deterministic PRNG for positions derived from the input. */
static inline uint32_t
mix(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline uint32_t
seed_of(const uint8_t *d, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ d[i]) * 16777619u;
	return h | 1;
}

#endif
