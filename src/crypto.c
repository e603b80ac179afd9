/* crypto.c: the cryptography larkhook needs, on OpenSSL's libcrypto */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto.h"

void
crypto_init(void)
{
	/* The host's openssl.cnf is not ours to read: it costs start-up time and
	 * could change which implementations we get. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}

int
crypto_sha256(const struct bytes *parts, int n, unsigned char out[32])
{
	EVP_MD_CTX *ctx;
	unsigned int len = 0;
	int ok;

	if (!(ctx = EVP_MD_CTX_new()))
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (int i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].n);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

void
crypto_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
b64value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
crypto_b64decode(const char *in, size_t n, unsigned char **out, size_t *outn)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf;
	size_t pad = 0, o = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if (!(buf = malloc(n / 4 * 3 + 1)))
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int last = i + 4 == n;

		for (int k = 0; k < 4; k++) {
			int pos_pad = last && k >= 4 - (int)pad;
			v[k] = pos_pad ? (s[i + k] == '=' ? 0 : -1) : b64value(s[i + k]);
			if (v[k] < 0)
				goto bad;
		}
		unsigned long w = (unsigned long)v[0] << 18 | v[1] << 12 | v[2] << 6 | v[3];
		buf[o++] = w >> 16;
		if (!(last && pad == 2))
			buf[o++] = w >> 8 & 0xff;
		else if (w & 0xffff)
			goto bad;	/* non-canonical: unused bits set */
		if (!(last && pad >= 1))
			buf[o++] = w & 0xff;
		else if (w & 0xff)
			goto bad;
	}
	*out = buf;
	*outn = o;
	return 0;
bad:
	free(buf);
	return -1;
}

char *
crypto_b64encode(const unsigned char *in, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1);

	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return out;
}

int
crypto_decrypt(const unsigned char key[32], const unsigned char *in, size_t n,
               char **plain, size_t *plainn)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	int len1 = 0, len2 = 0, rc = -1;

	/* at least the IV and one block, whole blocks only */
	if (n < 32 || n % 16 != 0 || n > 64 * 1024 * 1024)
		return -1;
	if (!(buf = malloc(n)))
		return -1;
	if (!(ctx = EVP_CIPHER_CTX_new()))
		goto out;
	if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, in))
		goto out;
	/* EVP's final step checks PKCS#7: 1..16 bytes, all of the same value */
	if (!EVP_DecryptUpdate(ctx, buf, &len1, in + 16, (int)(n - 16)))
		goto out;
	if (!EVP_DecryptFinal_ex(ctx, buf + len1, &len2))
		goto out;
	buf[len1 + len2] = '\0';
	*plain = (char *)buf;
	*plainn = (size_t)(len1 + len2);
	buf = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(buf);
	return rc;
}

int
crypto_encrypt(const unsigned char key[32], const unsigned char iv[16],
               const void *plain, size_t n, unsigned char **out, size_t *outn)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *buf;
	int len1 = 0, len2 = 0, rc = -1;

	if (n > 64 * 1024 * 1024 || !(buf = malloc(16 + n + 16)))
		return -1;
	memcpy(buf, iv, 16);
	if (!(ctx = EVP_CIPHER_CTX_new()))
		goto out;
	if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, iv) ||
	    !EVP_EncryptUpdate(ctx, buf + 16, &len1, plain, (int)n) ||
	    !EVP_EncryptFinal_ex(ctx, buf + 16 + len1, &len2))
		goto out;
	*out = buf;
	*outn = 16 + (size_t)len1 + (size_t)len2;
	buf = NULL;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	free(buf);
	return rc;
}

int
crypto_random(unsigned char *buf, size_t n)
{
	return RAND_bytes(buf, (int)n) == 1 ? 0 : -1;
}

int
crypto_equal(const void *a, size_t an, const void *b, size_t bn)
{
	unsigned char da[32], db[32];
	struct bytes pa = { a, an }, pb = { b, bn };

	if (crypto_sha256(&pa, 1, da) || crypto_sha256(&pb, 1, db))
		return 0;
	return CRYPTO_memcmp(da, db, 32) == 0;
}
