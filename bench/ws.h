/*
 * What the benchmark's client (wsload.c) and backend (wsecho.c) share: the
 * Sec-WebSocket-Accept computation, a streaming RFC 6455 frame parser, frame
 * headers, masking, and the deterministic payload pattern every byte is
 * checked against.
 *
 * The pattern: PAT_LEN random bytes from a seed (splitmix64), extended by
 * the largest frame so that any frame's payload is one contiguous slice.
 * Frame number q of a stream carries pat[(q * PAT_STRIDE) % PAT_LEN ...], so
 * a byte that is changed, lost, duplicated or reordered, or a frame that is
 * dropped, repeated or swapped, makes the comparison fail.
 */
#ifndef BENCH_WS_H
#define BENCH_WS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <resolv.h>
#include <sha1.h>

#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define PAT_LEN		65521u		/* prime */
#define PAT_STRIDE	4099u

enum { OP_CONT = 0, OP_TEXT = 1, OP_BIN = 2, OP_CLOSE = 8, OP_PING = 9,
    OP_PONG = 10 };

static inline int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The pattern for seed, long enough for frames of up to maxframe bytes. */
static inline uint8_t *
pat_make(uint64_t seed, size_t maxframe)
{
	size_t n = PAT_LEN + maxframe + 8, i;
	uint8_t *p = malloc(n);
	uint64_t s = seed, v;

	if (p == NULL)
		return NULL;
	for (i = 0; i < PAT_LEN; i += 8) {
		v = splitmix64(&s);
		memcpy(p + i, &v, 8);	/* p has room past PAT_LEN */
	}
	for (i = PAT_LEN; i < n; i++)
		p[i] = p[i - PAT_LEN];
	return p;
}

static inline size_t
pat_off(uint64_t q)
{
	return (size_t)((q % PAT_LEN) * PAT_STRIDE % PAT_LEN);
}

/* Sec-WebSocket-Accept for key (base64 text), into out (at least 29). */
static inline void
ws_accept(const char *key, size_t keylen, char *out, size_t outsize)
{
	SHA1_CTX c;
	uint8_t d[SHA1_DIGEST_LENGTH];

	SHA1Init(&c);
	SHA1Update(&c, (const uint8_t *)key, keylen);
	SHA1Update(&c, (const uint8_t *)WS_GUID, sizeof(WS_GUID) - 1);
	SHA1Final(d, &c);
	if (b64_ntop(d, sizeof(d), out, outsize) < 0)
		out[0] = '\0';
}

/* XORs n bytes at p with the mask, starting at mask byte pos % 4. */
static inline void
ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t pos)
{
	uint8_t m[8];
	uint64_t m64, w;
	size_t i = 0, k;

	for (k = 0; k < 8; k++)
		m[k] = mask[(pos + k) & 3];
	memcpy(&m64, m, 8);
	for (; i + 32 <= n; i += 32) {
		for (k = 0; k < 32; k += 8) {
			memcpy(&w, p + i + k, 8);
			w ^= m64;
			memcpy(p + i + k, &w, 8);
		}
	}
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= m64;
		memcpy(p + i, &w, 8);
	}
	for (; i < n; i++)
		p[i] ^= m[i & 7];
}

/* dst = src ^ mask (mask position 0), n bytes. */
static inline void
ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4])
{
	memcpy(dst, src, n);
	ws_mask(dst, n, mask, 0);
}

/* A frame header into h (14 bytes room): its length. */
static inline size_t
ws_header(uint8_t *h, int opcode, uint64_t len, const uint8_t *mask)
{
	size_t n = 2;
	int k;

	h[0] = (uint8_t)(0x80 | opcode);
	if (len < 126)
		h[1] = (uint8_t)len;
	else if (len < 65536) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 127;
		for (k = 0; k < 8; k++)
			h[2 + k] = (uint8_t)(len >> (56 - 8 * k));
		n = 10;
	}
	if (mask != NULL) {
		h[1] |= 0x80;
		memcpy(h + n, mask, 4);
		n += 4;
	}
	return n;
}

/*
 * The streaming parser: bytes go in as they arrive, in any pieces; the
 * callback sees each frame's header (WS_EV_HEADER), its payload in pieces
 * (WS_EV_DATA, already unmasked, at p->pos) and its end (WS_EV_END).
 */
enum { WS_EV_HEADER, WS_EV_DATA, WS_EV_END };

struct ws_parser {
	uint8_t		hdr[14];
	size_t		hlen, hneed;
	int		in_payload;
	int		opcode, fin, masked;
	uint8_t		mask[4];
	uint64_t	plen, pos;
	const char	*error;
	size_t		used;	/* bytes the last ws_feed() consumed */
};

typedef int (*ws_cb)(void *arg, struct ws_parser *p, int ev, uint8_t *data,
    size_t len);

static inline void
ws_parser_init(struct ws_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->hneed = 2;
}

/* A header is complete: 0, or -1 with p->error set. */
static inline int
ws_header_done(struct ws_parser *p)
{
	const uint8_t *h = p->hdr;
	size_t n = 2;
	int k;

	if (h[0] & 0x70) {
		p->error = "RSV bits set";
		return -1;
	}
	p->fin = (h[0] & 0x80) != 0;
	p->opcode = h[0] & 0x0f;
	p->masked = (h[1] & 0x80) != 0;
	p->plen = h[1] & 0x7f;
	if (p->plen == 126) {
		p->plen = ((uint64_t)h[2] << 8) | h[3];
		n = 4;
	} else if (p->plen == 127) {
		p->plen = 0;
		for (k = 0; k < 8; k++)
			p->plen = (p->plen << 8) | h[2 + k];
		n = 10;
	}
	if (p->masked)
		memcpy(p->mask, h + n, 4);
	p->pos = 0;
	return 0;
}

/*
 * Feeds n bytes: 0, the callback's non-zero answer, or -1 (p->error).  A
 * callback may answer non-zero at WS_EV_END to stop after that frame: p->used
 * then says how many bytes were consumed, and the rest can be fed later.
 */
static inline int
ws_feed(struct ws_parser *p, uint8_t *data, size_t n, ws_cb cb, void *arg)
{
	uint8_t *start = data;
	int r, ext;

	p->used = 0;
	while (n > 0) {
		if (!p->in_payload) {
			while (n > 0 && p->hlen < p->hneed) {
				p->hdr[p->hlen++] = *data++;
				n--;
				if (p->hlen == 2) {
					ext = (p->hdr[1] & 0x7f) == 126 ? 2 :
					    (p->hdr[1] & 0x7f) == 127 ? 8 : 0;
					p->hneed = 2 + (size_t)ext +
					    ((p->hdr[1] & 0x80) ? 4 : 0);
				}
			}
			p->used = (size_t)(data - start);
			if (p->hlen < p->hneed)
				return 0;
			if (ws_header_done(p) == -1)
				return -1;
			if ((r = cb(arg, p, WS_EV_HEADER, NULL, 0)) != 0)
				return r;
			p->in_payload = 1;
		}
		size_t take = (size_t)(p->plen - p->pos < n ? p->plen - p->pos :
		    n);

		if (take > 0) {
			if (p->masked)
				ws_mask(data, take, p->mask, p->pos);
			if ((r = cb(arg, p, WS_EV_DATA, data, take)) != 0)
				return r;
			p->pos += take;
			data += take;
			n -= take;
			p->used = (size_t)(data - start);
		}
		if (p->pos == p->plen) {
			p->in_payload = 0;
			p->hlen = 0;
			p->hneed = 2;
			if ((r = cb(arg, p, WS_EV_END, NULL, 0)) != 0)
				return r;
		}
	}
	return 0;
}

/* The value of header name in an HTTP head (NUL-terminated), or NULL;
 * its length in *len. */
static inline const char *
http_header(const char *head, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *l = strstr(head, "\r\n"), *v, *e;

	while (l != NULL && l[2] != '\r' && l[2] != '\0') {
		l += 2;
		e = strstr(l, "\r\n");
		if (e == NULL)
			return NULL;
		if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 &&
		    l[nl] == ':') {
			v = l + nl + 1;
			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*len = (size_t)(e - v);
			return v;
		}
		l = e;
	}
	return NULL;
}

/* Whether the comma list value[0..len) holds token (case-insensitive). */
static inline int
http_has_token(const char *value, size_t len, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < len) {
		size_t s, e;

		while (i < len && (value[i] == ' ' || value[i] == ','))
			i++;
		s = i;
		while (i < len && value[i] != ',')
			i++;
		e = i;
		while (e > s && value[e - 1] == ' ')
			e--;
		if (e - s == tl && strncasecmp(value + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

#endif
