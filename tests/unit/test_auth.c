/* The htpasswd line parser, the Basic decoder and the hash checks, table by
 * table.  The hashes were written by Debian's htpasswd (apache2-utils). */
#include <string.h>

#include "auth.h"
#include "t.h"

static const struct {
	const char	*in;
	int		 want;		/* 0 or -1 */
	enum auth_kind	 kind;
	const char	*user;
} lines[] = {
	{ "alice:$2y$05$IhJbSaOLGpMxs.Dp/YKNg.odJn1Zgr9A9Ow/ERlepe/Xsw/bQJ6SO",
	    0, AUTH_BCRYPT, "alice" },
	{ "a:$2b$05$x", 0, AUTH_BCRYPT, "a" },
	{ "a:$6$salt$x", 0, AUTH_SHA512, "a" },
	{ "a:$5$salt$x", 0, AUTH_SHA256, "a" },
	{ "a:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", 0, AUTH_SHA1, "a" },
	{ "a:$apr1$IYAl16Ky$Auh32oEQbTNgKR5XI/eOq.", 0, AUTH_UNSUPPORTED,
	    "a" },
	{ "a:.zylmRRoOD4uI", 0, AUTH_UNSUPPORTED, "a" },
	{ "a:secret", 0, AUTH_UNSUPPORTED, "a" },
	{ "a:$6$", 0, AUTH_UNSUPPORTED, "a" },	/* the prefix alone */
	{ "a:{SHA}x\r", 0, AUTH_SHA1, "a" },	/* CRLF files */
	{ "a:{SHA}x  \t", 0, AUTH_SHA1, "a" },
	{ "", 0, AUTH_SKIP, NULL },
	{ "\r", 0, AUTH_SKIP, NULL },
	{ "# a:{SHA}x", 0, AUTH_SKIP, NULL },
	{ ":{SHA}x", -1, AUTH_SKIP, NULL },	/* no user */
	{ "a:", -1, AUTH_SKIP, NULL },		/* no hash */
	{ "a", -1, AUTH_SKIP, NULL },
	{ "a\x01:{SHA}x", -1, AUTH_SKIP, NULL },
	{ "a:{SHA}\x7fx", -1, AUTH_SKIP, NULL },
	{ "a:b:c", 0, AUTH_UNSUPPORTED, "a" },	/* the hash is the rest */
};

static void
test_lines(void)
{
	struct auth_entry e;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int r = auth_parse_line(lines[i].in, strlen(lines[i].in), &e);

		CHECK_INT(r, lines[i].want, "line %zu: %s", i, lines[i].in);
		if (r != 0)
			continue;
		CHECK_INT(e.kind, lines[i].kind, "line %zu kind", i);
		if (lines[i].user != NULL)
			CHECK_MEM(e.user, e.user_len, lines[i].user,
			    "line %zu user", i);
	}
	CHECK_INT(auth_parse_line("a:{SHA}x\r", 9, &e), 0, "CRLF");
	CHECK_MEM(e.hash, e.hash_len, "{SHA}x", "CRLF: the CR is not hashed");
}

static const struct {
	const char	*in;
	int		 want;
	const char	*user, *pass;
} basics[] = {
	{ "Basic YWxpY2U6b3BlbiBzZXNhbWU=", 0, "alice", "open sesame" },
	{ "basic YWxpY2U6b3BlbiBzZXNhbWU=", 0, "alice", "open sesame" },
	{ "BASIC   YWxpY2U6b3BlbiBzZXNhbWU=  ", 0, "alice", "open sesame" },
	{ "Basic Ym9iOnA6dw==", 0, "bob", "p:w" },	/* ':' in a password */
	{ "Basic dTo=", 0, "u", "" },			/* an empty password */
	{ "Basic Ong=", -1, NULL, NULL },		/* an empty user */
	{ "Basic bm9jb2xvbg==", -1, NULL, NULL },	/* no ':' */
	{ "Basic YQE6Yg==", -1, NULL, NULL },		/* a control byte */
	{ "Basic YWxpY2U6b3BlbiBzZXNhbWU", -1, NULL, NULL },	/* no pad */
	{ "Basic YWxpY2U6b3Blb iBzZXNhbWU=", -1, NULL, NULL },
	{ "Basic YWxpY2U6b3BlbiBzZXNhbWU=x", -1, NULL, NULL },
	{ "Basic Y*xpY2U6b3BlbiBzZXNhbWU=", -1, NULL, NULL },
	{ "Basic ====", -1, NULL, NULL },
	{ "Basic dTp=", -1, NULL, NULL },		/* stray bits */
	{ "Basic ", -1, NULL, NULL },
	{ "Basic", -1, NULL, NULL },
	{ "Basicdx==", -1, NULL, NULL },
	{ "Bearer YWxpY2U6b3BlbiBzZXNhbWU=", -1, NULL, NULL },
	{ "Digest username=\"alice\"", -1, NULL, NULL },
	{ "", -1, NULL, NULL },
};

static void
test_basic(void)
{
	struct auth_basic b;
	char big[1200];
	size_t i;

	for (i = 0; i < sizeof(basics) / sizeof(basics[0]); i++) {
		int r = auth_parse_basic(basics[i].in, strlen(basics[i].in),
		    &b);

		CHECK_INT(r, basics[i].want, "basic %zu: %s", i, basics[i].in);
		if (r != 0)
			continue;
		CHECK_MEM(b.user, b.user_len, basics[i].user, "basic %zu", i);
		CHECK_MEM(b.pass, b.pass_len, basics[i].pass, "basic %zu", i);
	}
	/* far longer than any user-pass it may hold */
	memcpy(big, "Basic ", 6);
	memset(big + 6, 'Q', sizeof(big) - 6);
	CHECK_INT(auth_parse_basic(big, sizeof(big), &b), -1, "too long");
}

static const struct {
	const char	*line, *pass;
	int		 want;
} verifies[] = {
	{ "alice:$2y$04$/gMYY80YAv3lGaACEENkxueX4HIMKVlPOOzEz5cWgKUk7."
	    "P7gWffS", "open sesame", 1 },
	{ "alice:$2y$04$/gMYY80YAv3lGaACEENkxueX4HIMKVlPOOzEz5cWgKUk7."
	    "P7gWffS", "open sesamE", 0 },
	{ "alice:$2y$04$/gMYY80YAv3lGaACEENkxueX4HIMKVlPOOzEz5cWgKUk7."
	    "P7gWffS", "", 0 },
	{ "bob:$6$9exTOht1a7/B/JG3$OUmMHan.NgHl6GPA9cmhq2JFODp7iO5c14DUWJZ8P"
	    "cPOcuNNmpReQoeHxQJIQLqdzPQDMhAwq.5pW.i0yImch.", "p:w", 1 },
	{ "bob:$6$9exTOht1a7/B/JG3$OUmMHan.NgHl6GPA9cmhq2JFODp7iO5c14DUWJZ8P"
	    "cPOcuNNmpReQoeHxQJIQLqdzPQDMhAwq.5pW.i0yImch.", "p:", 0 },
	{ "carol:$5$vSCnKCfB5Evkgiej$/7c4Mw94c5ZTkouTHGvfUtk9NvI0cKBnpXtIfQJ"
	    "yufD", "x", 1 },
	{ "carol:$5$vSCnKCfB5Evkgiej$/7c4Mw94c5ZTkouTHGvfUtk9NvI0cKBnpXtIfQJ"
	    "yufD", "y", 0 },
	{ "dave:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "secret", 1 },
	{ "dave:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "Secret", 0 },
	{ "dave:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ", "secret", 0 },
	{ "a:$apr1$IYAl16Ky$Auh32oEQbTNgKR5XI/eOq.", "secret", 0 },
	{ "a:secret", "secret", 0 },		/* plain text: never */
	{ "a:$6$salt", "secret", 0 },		/* a setting, not a hash */
	{ "a:$2y$04$short", "secret", 0 },
};

static void
test_verify(void)
{
	struct auth_entry e;
	size_t i;

	for (i = 0; i < sizeof(verifies) / sizeof(verifies[0]); i++) {
		CHECK_INT(auth_parse_line(verifies[i].line,
		    strlen(verifies[i].line), &e), 0, "verify %zu line", i);
		CHECK_INT(auth_verify(&e, verifies[i].pass,
		    strlen(verifies[i].pass)), verifies[i].want,
		    "verify %zu: %s with %s", i, verifies[i].line,
		    verifies[i].pass);
	}
	auth_parse_line("carol:$5$vSCnKCfB5Evkgiej$/7c4Mw94c5ZTkouTHGvfUtk9Nv"
	    "I0cKBnpXtIfQJyufD", 69, &e);
	CHECK_INT(auth_verify(&e, "x\0y", 3), 0, "a NUL in a password");
	CHECK_INT(auth_equal("abc", "abc", 3), 1, "equal");
	CHECK_INT(auth_equal("abc", "abd", 3), 0, "not equal");
}

int
main(void)
{
	test_lines();
	test_basic();
	test_verify();
	return t_done();
}
