/*
 * HTTP/1.1 head parsing for the WebSocket opening handshake.
 *
 * Every function here is pure: it reads the caller's buffer and writes only
 * the caller's structures, so it can be re-run as bytes arrive, unit-tested on
 * literals and fuzzed.  Parsed strings point into the caller's buffer and are
 * not NUL-terminated.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_FIELDS		100	/* field lines in one head, Host included */
#define HTTP_MAX_LINE		8192	/* request line, without its CRLF */
/*
 * The backend's answer head, a fixed bound: --max-header-bytes is the
 * client's.  A 101 is a few hundred bytes; an error or redirect relayed
 * may carry cookies and security headers.  nginx refuses a head over
 * proxy_buffer_size (4 or 8 KiB by default), HAProxy one over tune.bufsize
 * less tune.maxrewrite (15 KiB): whatever passes those passes here, and
 * the head still leaves half of the 64 KiB relay buffer it is read into.
 */
#define HTTP_MAX_RESPONSE_HEAD	32768
#define HTTP_MAX_INTERIM	8	/* 1xx answers before the final one */

#define HTTP_INCOMPLETE		(-2)
#define HTTP_BAD		(-1)

/* Why a head was refused: the status to answer, a short reason, and any header
 * line the answer must carry ("Allow: GET\r\n"). */
struct http_error {
	int		 status;
	const char	*why;
	const char	*extra;
};

struct http_field {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* optional whitespace trimmed */
	size_t		 value_len;
};

struct http_request {
	const char	*method;
	size_t		 method_len;
	const char	*target;
	size_t		 target_len;
	int		 major, minor;
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t		 nfields;
	struct http_error err;
};

struct http_response {
	int		 major, minor;
	int		 status;
	const char	*reason;
	size_t		 reason_len;
	struct http_field fields[HTTP_MAX_FIELDS];
	size_t		 nfields;
	struct http_error err;
};

/*
 * Where a parse that ran out of bytes stopped, so that the next call, on the
 * same buffer grown by what arrived since, goes on from there: a head that
 * arrives in small pieces is then read once, not once per piece, as
 * picohttpparser's last_len has it.  All zero: from the start.
 */
struct http_resume {
	size_t		 line;		/* where the first unparsed line starts */
	size_t		 seen;		/* how far its end was looked for */
};

/* What a valid upgrade request carries that the rest of the program needs. */
struct ws_request {
	const char	*host;
	size_t		 host_len;
	const char	*key;
	size_t		 key_len;
	const char	*origin;	/* NULL when absent */
	size_t		 origin_len;
	int		 norigin;
};

/*
 * Both parsers return the length of the head (through its empty line) when it
 * is complete and well formed, HTTP_INCOMPLETE when more bytes could still
 * make it so, and HTTP_BAD with ->err set when no continuation can.
 * max_head bounds the whole head: a buffer longer than that without a complete
 * head is HTTP_BAD (431 for a request).
 */
int	http_parse_request(const char *buf, size_t len, size_t max_head,
	    struct http_request *req);
int	http_parse_response(const char *buf, size_t len, size_t max_head,
	    struct http_response *res);
/*
 * The same, resumed at rs, which the call moves on: after HTTP_INCOMPLETE,
 * call again with the same req or res and the same bytes with more after
 * them; the answer is what a parse of the whole buffer from its start gives.
 */
int	http_resume_request(const char *buf, size_t len, size_t max_head,
	    struct http_request *req, struct http_resume *rs);
int	http_resume_response(const char *buf, size_t len, size_t max_head,
	    struct http_response *res, struct http_resume *rs);

/* Whether res is an interim answer, a 1xx other than 101 (which is final for
 * an upgrade): the final answer follows it (RFC 9110 section 15.2). */
int	http_is_interim(const struct http_response *res);

/* The semantic checks of the upgrade request; 0, or -1 with req->err set. */
int	http_check_upgrade(struct http_request *req, struct ws_request *ws);

/*
 * Plain HTTP (--http): whether req asks for a WebSocket at all, and the
 * checks of a request that does not (version, method, origin-form, Host);
 * 0, or -1 with req->err set.  Body framing is reqbody.c's.
 */
#define HTTP_PLAIN_METHODS	"GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"
int	http_is_upgrade(const struct http_request *req);
int	http_check_plain(struct http_request *req, struct ws_request *ws);

/* NULL when res is a 101 that opens a WebSocket for key, else why not. */
const char *http_check_switch(const struct http_response *res,
	    const char *key, size_t key_len);

/* base64(SHA-1(key GUID)), RFC 6455 section 4.2.2; out gets 28 chars + NUL. */
void	http_ws_accept(const char *key, size_t key_len, char out[29]);

/* The field named name (case-insensitive): the index of the first at or after
 * from, or -1. */
/* RFC 9110 section 5.6.2: a byte of a token (a field name, a method). */
int	http_is_tchar(unsigned char c);
/* Content-Length: 1*DIGIT, at most 18 digits so it cannot overflow; 0, or
 * -1 when p[0..len) is not that. */
int	http_parse_length(const char *p, size_t len, uint64_t *n);
int	http_field_find(const struct http_field *f, size_t n, size_t from,
	    const char *name);
/* Whether any field named name has token in its comma-separated list. */
int	http_field_has_token(const struct http_field *f, size_t n,
	    const char *name, const char *token);
/* Whether value is a comma-separated list containing token (case-insensitive). */
int	http_list_has_token(const char *value, size_t len, const char *token,
	    size_t token_len);

/*
 * Where a response body ends.  The framing is decided once from the head;
 * http_body_scan() is then fed the body bytes as they arrive.
 */
enum http_body_kind {
	HTTP_BODY_NONE,		/* 1xx, 204, 304 */
	HTTP_BODY_LENGTH,	/* Content-Length */
	HTTP_BODY_CHUNKED,	/* Transfer-Encoding: chunked */
	HTTP_BODY_EOF		/* until the backend closes */
};

struct http_body {
	enum http_body_kind kind;
	uint64_t	 left;		/* LENGTH: bytes; CHUNKED: of this chunk */
	int		 state;		/* CHUNKED: where in the framing */
	int		 digits;
	int		 done;
};

/* 0, or -1 when the framing headers are contradictory or malformed. */
int	http_body_init(const struct http_response *res, struct http_body *b);
/* Bytes of buf that belong to the body (all of them, or up to its end, then
 * b->done is set); -1 on malformed chunked framing. */
ssize_t	http_body_scan(struct http_body *b, const char *buf, size_t len);

#endif
