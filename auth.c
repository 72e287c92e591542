/*
 * HTTP Basic authentication against an htpasswd file.  The file is Apache's:
 * one user:hash per line, # comments; the hash formats are those htpasswd
 * writes, told apart by their prefix.  $apr1$ (htpasswd -m, its default) is
 * Apache's own variant of MD5-crypt that libxcrypt does not know; it is
 * recognised and refused rather than implemented here.
 */
#include <crypt.h>
#include <resolv.h>
#include <sha1.h>
#include <string.h>
#include <strings.h>

#include "auth.h"

static const struct {
	const char	*prefix;
	enum auth_kind	 kind;
} kinds[] = {
	{ "$2y$", AUTH_BCRYPT }, { "$2b$", AUTH_BCRYPT },
	{ "$2a$", AUTH_BCRYPT }, { "$6$", AUTH_SHA512 },
	{ "$5$", AUTH_SHA256 }, { "{SHA}", AUTH_SHA1 },
};

int
auth_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *p = a, *q = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= p[i] ^ q[i];
	return d == 0;
}

static enum auth_kind
hash_kind(const char *h, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);

		if (len > n && memcmp(h, kinds[i].prefix, n) == 0)
			return kinds[i].kind;
	}
	return AUTH_UNSUPPORTED;
}

int
auth_parse_line(const char *line, size_t len, struct auth_entry *e)
{
	const char *colon;
	size_t i;

	memset(e, 0, sizeof(*e));
	/* htpasswd files edited on other systems end lines with CRLF */
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
	    line[len - 1] == '\t'))
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return -1;
	if ((colon = memchr(line, ':', len)) == NULL || colon == line ||
	    (size_t)(colon - line) >= AUTH_USER_MAX || colon + 1 == line + len)
		return -1;
	e->user = line;
	e->user_len = (size_t)(colon - line);
	e->hash = colon + 1;
	e->hash_len = len - e->user_len - 1;
	e->kind = hash_kind(e->hash, e->hash_len);
	return 0;
}

static int
is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict base64 of src[0..len) into dst[size]: the length, or -1. */
static int
b64_decode(const char *src, size_t len, unsigned char *dst, size_t size)
{
	char tmp[(AUTH_USER_MAX + AUTH_PASS_MAX) * 4 / 3 + 8];
	size_t i, pad = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len >= sizeof(tmp))
		return -1;
	while (pad < 2 && src[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++)
		if (!is_b64(src[i]))
			return -1;
	memcpy(tmp, src, len);
	tmp[len] = '\0';
	/* b64_pton also refuses stray bits in the last character */
	n = b64_pton(tmp, dst, size);
	explicit_bzero(tmp, len);
	return n;
}

/* "user-id:password" (RFC 7617 section 2) of raw[0..n) into b. */
static int
split_user_pass(const unsigned char *raw, size_t n, struct auth_basic *b)
{
	const unsigned char *colon;
	size_t i;

	/* no control characters; the user-id has no ':' and is not empty */
	for (i = 0; i < n; i++)
		if (raw[i] < 0x20 || raw[i] == 0x7f)
			return -1;
	if ((colon = memchr(raw, ':', n)) == NULL || colon == raw)
		return -1;
	b->user_len = (size_t)(colon - raw);
	b->pass_len = n - b->user_len - 1;
	if (b->user_len >= sizeof(b->user) || b->pass_len >= sizeof(b->pass))
		return -1;
	memcpy(b->user, raw, b->user_len);
	memcpy(b->pass, colon + 1, b->pass_len);
	return 0;
}

int
auth_parse_basic(const char *v, size_t len, struct auth_basic *b)
{
	unsigned char raw[AUTH_USER_MAX + AUTH_PASS_MAX];
	size_t s, e;
	int n, r;

	memset(b, 0, sizeof(*b));
	/* credentials = auth-scheme 1*SP token68 (RFC 9110 section 11.4) */
	if (len < 6 || strncasecmp(v, "Basic ", 6) != 0)
		return -1;
	for (s = 6; s < len && v[s] == ' '; s++)
		;
	for (e = len; e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'); e--)
		;
	if ((n = b64_decode(v + s, e - s, raw, sizeof(raw))) <= 0)
		return -1;
	r = split_user_pass(raw, (size_t)n, b);
	explicit_bzero(raw, sizeof(raw));	/* it held the password */
	if (r == -1)
		explicit_bzero(b, sizeof(*b));
	return r;
}

static int
verify_sha1(const struct auth_entry *e, const char *pass, size_t pass_len)
{
	unsigned char want[SHA1_DIGEST_LENGTH + 3], got[SHA1_DIGEST_LENGTH];
	SHA1_CTX ctx;

	if (b64_decode(e->hash + 5, e->hash_len - 5, want, sizeof(want)) !=
	    SHA1_DIGEST_LENGTH)
		return 0;
	SHA1Init(&ctx);
	SHA1Update(&ctx, (const unsigned char *)pass, pass_len);
	SHA1Final(got, &ctx);
	return auth_equal(got, want, sizeof(got));
}

static int
verify_crypt(const struct auth_entry *e, const char *pass, size_t pass_len)
{
	static struct crypt_data cd;
	char key[AUTH_PASS_MAX], setting[CRYPT_OUTPUT_SIZE];
	const char *out;
	int ok;

	if (pass_len >= sizeof(key) || e->hash_len >= sizeof(setting) ||
	    memchr(pass, '\0', pass_len) != NULL)
		return 0;
	memcpy(key, pass, pass_len);
	key[pass_len] = '\0';
	memcpy(setting, e->hash, e->hash_len);
	setting[e->hash_len] = '\0';
	out = crypt_rn(key, setting, &cd, sizeof(cd));
	ok = out != NULL && out[0] != '*' && strlen(out) == e->hash_len &&
	    auth_equal(out, e->hash, e->hash_len);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(&cd, sizeof(cd));
	return ok;
}

int
auth_verify(const struct auth_entry *e, const char *pass, size_t pass_len)
{
	switch (e->kind) {
	case AUTH_SHA1:
		return verify_sha1(e, pass, pass_len);
	case AUTH_BCRYPT:
	case AUTH_SHA512:
	case AUTH_SHA256:
		return verify_crypt(e, pass, pass_len);
	default:
		return 0;
	}
}
