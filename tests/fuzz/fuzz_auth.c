/*
 * fuzz_auth: the htpasswd line parser and the Authorization: Basic decoder
 * of auth.c.  The input is both a line of a file someone could write and a
 * field value a client sent.
 *
 * Checks:
 *   - auth_parse_line: user and hash lie inside the line, the user is
 *     non-empty, holds no ':' and no control byte, the hash is non-empty
 *     and is the rest of the line; a comment or empty line is AUTH_SKIP;
 *     re-parsing the line with a CR appended gives the same entry;
 *   - auth_parse_basic: an accepted value starts with "Basic " (any case),
 *     its user is non-empty and free of ':' and control bytes, the
 *     password free of control bytes, and base64 of "user:password" is
 *     exactly the token that was sent (no bytes lost or made up);
 *   - auth_verify of an accepted {SHA} or unsupported line never reads
 *     outside the entry (AddressSanitizer), and an unsupported format
 *     never matches.
 */
#include <resolv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "fuzz.h"

static int
has_ctl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 1;
	return 0;
}

static void
check_line(const char *buf, size_t n)
{
	struct auth_entry e, e2;
	char *b;
	int r = auth_parse_line(buf, n, &e);

	CHECK("line-result", r == 0 || r == -1);
	if (r != 0 || e.kind == AUTH_SKIP)
		return;
	CHECK("line-inside", inside(e.user, e.user_len, buf, n) &&
	    inside(e.hash, e.hash_len, buf, n));
	CHECK("line-user", e.user == buf && e.user_len > 0 &&
	    memchr(e.user, ':', e.user_len) == NULL &&
	    !has_ctl(e.user, e.user_len));
	CHECK("line-hash", e.hash == e.user + e.user_len + 1 &&
	    e.hash_len > 0 && !has_ctl(e.hash, e.hash_len));
	if ((b = malloc(n + 1)) == NULL)
		return;
	memcpy(b, buf, n);
	b[n] = '\r';
	CHECK("line-crlf", auth_parse_line(b, n + 1, &e2) == 0 &&
	    e2.kind == e.kind && e2.user_len == e.user_len &&
	    e2.hash_len == e.hash_len);
	free(b);
	/* a crypt with a high cost or many rounds would only make the run
	 * slow: the others go through auth_verify */
	if (e.kind == AUTH_SHA1 || e.kind == AUTH_UNSUPPORTED)
		CHECK("verify", auth_verify(&e, buf, n) == 0 ||
		    e.kind == AUTH_SHA1);
}

static void
check_basic(const char *buf, size_t n)
{
	static struct auth_basic b;
	char raw[AUTH_USER_MAX + AUTH_PASS_MAX], enc[sizeof(raw) * 2];
	size_t s, e, rl;
	int len;

	if (auth_parse_basic(buf, n, &b) != 0)
		return;
	CHECK("basic-scheme", n > 6 && strncasecmp(buf, "Basic ", 6) == 0);
	CHECK("basic-user", b.user_len > 0 && b.user_len < AUTH_USER_MAX &&
	    memchr(b.user, ':', b.user_len) == NULL &&
	    !has_ctl(b.user, b.user_len));
	CHECK("basic-pass", b.pass_len < AUTH_PASS_MAX &&
	    !has_ctl(b.pass, b.pass_len));
	memcpy(raw, b.user, b.user_len);
	raw[b.user_len] = ':';
	memcpy(raw + b.user_len + 1, b.pass, b.pass_len);
	rl = b.user_len + 1 + b.pass_len;
	len = b64_ntop((unsigned char *)raw, rl, enc, sizeof(enc));
	for (s = 6; s < n && buf[s] == ' '; s++)
		;
	for (e = n; e > s && (buf[e - 1] == ' ' || buf[e - 1] == '\t'); e--)
		;
	CHECK("basic-roundtrip", len > 0 && (size_t)len == e - s &&
	    memcmp(enc, buf + s, e - s) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	check_line((const char *)d, n);
	check_basic((const char *)d, n);
	return 0;
}
