/*
 * HTTP Basic authentication (RFC 7617) against an Apache htpasswd file.
 * The line parser and the Authorization decoder are pure; auth_verify()
 * hashes through crypt(3) (libxcrypt) and libmd's SHA-1, nothing else.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#define AUTH_USER_MAX	256
#define AUTH_PASS_MAX	256

enum auth_kind {
	AUTH_SKIP,		/* an empty line or a # comment */
	AUTH_BCRYPT,		/* $2y$, $2b$, $2a$ */
	AUTH_SHA512,		/* $6$ */
	AUTH_SHA256,		/* $5$ */
	AUTH_SHA1,		/* {SHA}, base64 of the digest */
	AUTH_UNSUPPORTED	/* $apr1$, DES crypt, plain text */
};

/* One line of the file; user and hash point into it. */
struct auth_entry {
	enum auth_kind	 kind;
	const char	*user;
	size_t		 user_len;
	const char	*hash;
	size_t		 hash_len;
};

/* What an Authorization: Basic value carries. */
struct auth_basic {
	char		 user[AUTH_USER_MAX];
	size_t		 user_len;
	char		 pass[AUTH_PASS_MAX];
	size_t		 pass_len;
};

/* line[0..len), without its LF: 0 with e filled, -1 when it is not
 * user:hash, a comment or empty. */
int	auth_parse_line(const char *line, size_t len, struct auth_entry *e);
/* An Authorization field value: 0 when it is Basic with a well-formed
 * user-pass, -1 for any other scheme or anything malformed. */
int	auth_parse_basic(const char *v, size_t len, struct auth_basic *b);
/* 1 when pass matches e's hash, 0 when not or when e's format is not
 * supported. */
int	auth_verify(const struct auth_entry *e, const char *pass,
	    size_t pass_len);
/* Whether a[0..n) equals b[0..n), in a time that depends on n alone. */
int	auth_equal(const void *a, const void *b, size_t n);

#endif
