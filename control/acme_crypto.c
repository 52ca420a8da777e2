/* SPDX-License-Identifier: BSD-3-Clause */
/* The ACME client's cryptography; see acme_crypto.h. */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "config/addr.h"
#include "control/acme_crypto.h"
#include "control/acme_msg.h"
#include "control/json_body.h"
#include "tls/cert.h"

/* The public JWK in its canonical member order (RFC 7638) and its SHA-256
 * thumbprint: the key authorization's suffix. */
int
acme_jwk(EVP_PKEY *account, char *jwk, size_t jwk_len, char *thumb, size_t thumb_len)
{
	uint8_t pt[65], md[32];
	char x[64], y[64];
	size_t n = 0;
	unsigned int ml = 0;

	if (!EVP_PKEY_get_octet_string_param(account, OSSL_PKEY_PARAM_PUB_KEY,
					     pt, sizeof(pt), &n) ||
	    n != 65 || pt[0] != 4)
		return -1;
	acme_b64url(pt + 1, 32, x, sizeof(x));
	acme_b64url(pt + 33, 32, y, sizeof(y));
	/* RFC 7638: the members in lexicographic order, no white space */
	if (!ctl_json_pack(jwk, jwk_len, "{s:s, s:s, s:s, s:s}",
			   "crv", "P-256", "kty", "EC", "x", x, "y", y) ||
	    !EVP_Digest(jwk, strlen(jwk), md, &ml, EVP_sha256(), NULL))
		return -1;
	return acme_b64url(md, sizeof(md), thumb, thumb_len) ? 0 : -1;
}

/* ES256 over data: the raw 64-byte r||s JWS wants, base64url. */
int
acme_sign_es256(EVP_PKEY *account, const char *data, char *out, size_t outlen)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	uint8_t der[128], raw[64];
	const uint8_t *p = der;
	size_t dl = sizeof(der);
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int rc = -1;

	if (m && EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, account) == 1 &&
	    EVP_DigestSign(m, der, &dl, (const uint8_t *)data, strlen(data)) == 1 &&
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)dl))) {
		ECDSA_SIG_get0(sig, &r, &s);
		if (BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32 &&
		    acme_b64url(raw, 64, out, outlen))
			rc = 0;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(m);
	return rc;
}

/* A CSR for the hostname with key (DER, base64url). */
int
acme_csr(const char *host, EVP_PKEY *key, char *out, size_t outlen)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san;
	char sanv[300];
	uint8_t *der = NULL;
	int n = -1, rc = -1;

	snprintf(sanv, sizeof(sanv), "%s:%s", cfg_is_ip_literal(host) ? "IP" : "DNS", host);
	san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv);
	if (req && exts && san && X509_REQ_set_version(req, 0) &&
	    (cfg_is_ip_literal(host) ||
	     X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
					MBSTRING_ASC, (const uint8_t *)host, -1, -1, 0)) &&
	    X509_REQ_set_pubkey(req, key) && sk_X509_EXTENSION_push(exts, san) &&
	    X509_REQ_add_extensions(req, exts) && X509_REQ_sign(req, key, EVP_sha256()) &&
	    (n = i2d_X509_REQ(req, &der)) > 0 && acme_b64url(der, (size_t)n, out, outlen))
		rc = 0;
	if (sk_X509_EXTENSION_num(exts) == 0)
		X509_EXTENSION_free(san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	OPENSSL_free(der);
	return rc;
}

/* The chain as PEM: the first certificate must be ours. */
int
acme_check_chain(const char *host, const char *pem, size_t len, EVP_PKEY *key,
		 time_t *nb, time_t *na)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int ok = 0;

	if (x && X509_check_private_key(x, key) == 1 &&
	    (cfg_is_ip_literal(host) ? X509_check_ip_asc(x, host, 0)
				     : X509_check_host(x, host, 0, 0, NULL)) == 1 &&
	    ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
		*na = timegm(&tm);
		if (ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm))
			*nb = timegm(&tm);
		ok = 1;
	}
	X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	return ok ? 0 : -1;
}

/* The TLS-ALPN-01 validation certificate (RFC 8737 §3): self-signed for
 * the name, with the critical acmeIdentifier extension holding
 * SHA-256(key authorization). */
X509 *
acme_alpn_cert(const char *name, const char *keyauth, EVP_PKEY *key)
{
	uint8_t md[32], der[2 + 32];
	unsigned int ml = 0;
	char san[300];
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	X509 *x;

	snprintf(san, sizeof(san), "DNS:%s", name);
	x = tls_cert_self_signed(key, name, san, 7);
	EVP_Digest(keyauth, strlen(keyauth), md, &ml, EVP_sha256(), NULL);
	der[0] = 0x04;		/* the extension value is an OCTET STRING */
	der[1] = 32;
	memcpy(der + 2, md, 32);
	if (!x || !oid || !os || !ASN1_OCTET_STRING_set(os, der, sizeof(der)) ||
	    !(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, os)) ||
	    !X509_add_ext(x, ext, -1) || !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		x = NULL;
	}
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return x;
}
