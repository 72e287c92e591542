/*
 * wsload: a connection's socket, plain TCP or TLS (OpenSSL).  The server's
 * certificate is verified against --ca and for --sni; no session is kept,
 * so every connection is a full handshake, as a new visitor's would be.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "wsload.h"

SSL_CTX *tls_ctx;
static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
char tls_params[200];
long tls_handshakes;
static __thread char tls_why[256];	/* what the last EPROTO was */

int
tls_init(void)
{
	static const unsigned char http11[] = "\x08http/1.1";

	tls_ctx = SSL_CTX_new(TLS_client_method());
	if (tls_ctx == NULL) {
		report_error(0, "TLS: cannot create a context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
	if (opt.ca != NULL ? SSL_CTX_load_verify_locations(tls_ctx, opt.ca,
	    NULL) != 1 : SSL_CTX_set_default_verify_paths(tls_ctx) != 1) {
		report_error(0, "TLS: cannot load the CAs %s: %s",
		    opt.ca != NULL ? opt.ca : "(system)",
		    ERR_reason_error_string(ERR_get_error()));
		return -1;
	}
	/* every connection a full handshake, as a new visitor's */
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_alpn_protos(tls_ctx, http11, sizeof(http11) - 1) != 0) {
		report_error(0, "TLS: cannot set ALPN");
		return -1;
	}
	return 0;
}

/* The reason of the first queued OpenSSL error into tls_why, errno EPROTO. */
static void
tls_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(tls_why, sizeof(tls_why), "TLS %s: %s", what, r != NULL ? r :
	    e != 0 ? "error" : "failed");
	ERR_clear_error();
	errno = EPROTO;
}

/* Like strerror(e), with the TLS reason for EPROTO. */
const char *
sock_strerror(int e)
{
	if (e == EPROTO && tls_why[0] != '\0')
		return tls_why;
	return e == EAGAIN ? "timed out" : strerror(e);
}

/* After a failed SSL_read/SSL_write (r <= 0): -1 with errno set (EAGAIN:
 * try again, EPROTO: tls_why), or 0 at a clean end (close_notify). */
static int
tls_result(SSL *ssl, int r, const char *what)
{
	int e = errno;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			errno = e != 0 ? e : EPIPE;
			return -1;
		}
		tls_fail(what);
		return -1;
	default:
		tls_fail(what);
		return -1;
	}
}

ssize_t
sock_read(struct sock *s, void *buf, size_t n)
{
	int r;

	if (s->ssl == NULL)
		return read(s->fd, buf, n);
	ERR_clear_error();
	errno = 0;
	r = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	return r > 0 ? r : tls_result(s->ssl, r, "read");
}

ssize_t
sock_write(struct sock *s, const void *buf, size_t n)
{
	int r;

	if (s->ssl == NULL)
		return write(s->fd, buf, n);
	ERR_clear_error();
	errno = 0;
	r = SSL_write(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	if (tls_result(s->ssl, r, "write") == 0)
		errno = EPIPE;		/* the peer's close_notify came */
	return -1;
}

/* Bytes TLS has decrypted and not yet handed out: poll() cannot see them. */
int
sock_pending(struct sock *s)
{
	return s->ssl != NULL && SSL_pending(s->ssl) > 0;
}

/* Sends our close_notify (the peer's came, or the run is over), closes. */
void
sock_close(struct sock *s)
{
	if (s->ssl != NULL) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		ERR_clear_error();
		s->ssl = NULL;
	}
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
}

/* The TLS handshake on s->fd: 0, or -1 with err set (*verify when the
 * server's certificate did not verify). */
int
tls_connect(struct sock *s, int *verify, char *err, size_t errsize)
{
	int r;

	s->ssl = SSL_new(tls_ctx);
	if (s->ssl == NULL || SSL_set_fd(s->ssl, s->fd) != 1 ||
	    SSL_set_tlsext_host_name(s->ssl, opt.sni) != 1 ||
	    SSL_set1_host(s->ssl, opt.sni) != 1) {
		snprintf(err, errsize, "TLS: cannot set up a session");
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_connect(s->ssl);
	if (r != 1) {
		long vr = SSL_get_verify_result(s->ssl);

		if (vr != X509_V_OK) {
			snprintf(err, errsize, "TLS: certificate verification "
			    "failed: %s", X509_verify_cert_error_string(vr));
			*verify = 1;
			ERR_clear_error();
			return -1;
		}
		if (tls_result(s->ssl, r, "handshake") == 0)
			errno = EPIPE;
		snprintf(err, errsize, "%s", errno == EPROTO ? tls_why :
		    errno == EAGAIN ? "TLS handshake: timed out" :
		    strerror(errno));
		return -1;
	}
	pthread_mutex_lock(&tls_lock);
	if (tls_handshakes++ == 0) {
		const unsigned char *alpn;
		unsigned int alen;
		int g = SSL_get_negotiated_group(s->ssl);
		const char *gn = g != 0 ? OBJ_nid2sn(g & ~TLSEXT_nid_unknown) :
		    NULL;

		SSL_get0_alpn_selected(s->ssl, &alpn, &alen);
		snprintf(tls_params, sizeof(tls_params), "%s %s %s ALPN %.*s",
		    SSL_get_version(s->ssl), SSL_get_cipher_name(s->ssl),
		    gn != NULL ? gn : "-", alen > 0 ? (int)alen : 1,
		    alen > 0 ? (const char *)alpn : "-");
	}
	pthread_mutex_unlock(&tls_lock);
	return 0;
}
