/* crypto.h: SHA-256, strict base64, AES-256-CBC and constant-time comparison;
 * the only module that talks to OpenSSL (Feishu's scheme: doc/7-feishu.md
 * §7.2, §7.3) */
#ifndef CRYPTO_H
#define CRYPTO_H

#include <stddef.h>

struct bytes {
	const void *p;
	size_t n;
};

/* SHA-256 of the concatenation of n parts into out. 0 on success. */
int crypto_sha256(const struct bytes *parts, int n, unsigned char out[32]);

/* SHA-1 of in[0..n) into out, for the WebSocket handshake's
 * Sec-WebSocket-Accept (RFC 6455 fixes the hash; no secret is involved).
 * 0 on success. */
int crypto_sha1(const void *in, size_t n, unsigned char out[20]);

/* Lowercase hex of in[0..n) into out, which holds 2n + 1 bytes. */
void crypto_hex(const unsigned char *in, size_t n, char *out);

/* Strict standard base64 (padded, canonical) of in[0..n). On success *out is
 * a malloc'd buffer the caller frees and 0 is returned; -1 otherwise. */
int crypto_b64decode(const char *in, size_t n, unsigned char **out, size_t *outn);

/* 1 when every byte of s[0..n) is a base64 digit or '='. */
int crypto_b64_alphabet(const char *s, size_t n);

/* Padded standard base64 of in[0..n), NUL-terminated, malloc'd: caller frees. */
char *crypto_b64encode(const unsigned char *in, size_t n);

/* AES-256-CBC decryption of iv||ciphertext with key, strict PKCS#7.
 * On success *plain is malloc'd (caller frees), NUL-terminated, and 0 is
 * returned; -1 when the length, key or padding is wrong. */
int crypto_decrypt(const unsigned char key[32], const unsigned char *in, size_t n,
                   char **plain, size_t *plainn);

/* Which AES decrypts: "aesni" (libcrypto's AES-NI code, when linked in
 * and the CPU has it) or "portable" (AES_cbc_encrypt). */
const char *crypto_aes_impl(void);

/* AES-256-CBC encryption of plain with key and iv, PKCS#7 padded; *out is
 * malloc'd iv||ciphertext (caller frees). 0 on success. */
int crypto_encrypt(const unsigned char key[32], const unsigned char iv[16],
                   const void *plain, size_t n, unsigned char **out, size_t *outn);

/* Fill buf with n random bytes. 0 on success. */
int crypto_random(unsigned char *buf, size_t n);

/* Constant-time equality of two secrets of any length: both are hashed and
 * the digests compared with CRYPTO_memcmp, so neither the position of the
 * first difference nor the expected length leaks. 1 when equal. */
int crypto_equal(const void *a, size_t an, const void *b, size_t bn);

#endif
