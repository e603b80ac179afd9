/* crypto.c: the cryptography larkhook needs, on OpenSSL's libcrypto */

/* SHA-256 and AES come from libcrypto's primitives, not from EVP. In
 * OpenSSL 3 the first EVP digest or cipher initialises the library and its
 * provider machinery (algorithm tables, name maps, property parsing, and
 * openssl.cnf unless told not to): about 4 million instructions, 30 times
 * the request's own work, paid again by every CGI process. The primitives
 * are the same assembly implementations without that layer, and need no
 * initialisation at all, so openssl.cnf is never read. OpenSSL 3.0 marks
 * them deprecated; API level 1.1.1 keeps them declared without warnings,
 * and this file is the only one to change should they go. */
#define OPENSSL_API_COMPAT 10101

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/aes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "crypto.h"

int
crypto_sha256(const struct bytes *parts, int n, unsigned char out[32])
{
	SHA256_CTX ctx;
	int ok = SHA256_Init(&ctx);

	for (int i = 0; ok && i < n; i++)
		ok = SHA256_Update(&ctx, parts[i].p, parts[i].n);
	ok = ok && SHA256_Final(out, &ctx);
	OPENSSL_cleanse(&ctx, sizeof ctx);
	return ok ? 0 : -1;
}

int
crypto_sha1(const void *in, size_t n, unsigned char out[20])
{
	SHA_CTX ctx;
	int ok = SHA1_Init(&ctx) && SHA1_Update(&ctx, in, n) && SHA1_Final(out, &ctx);

	OPENSSL_cleanse(&ctx, sizeof ctx);
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

/* Each base64 digit's value plus one; 0 for every other byte. */
static const unsigned char b64[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
	['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
	['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
	['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64,
};

static int
b64value(unsigned char c)
{
	return (int)b64[c] - 1;
}

int
crypto_b64_alphabet(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != '=' && b64value((unsigned char)s[i]) < 0)
			return 0;
	return 1;
}

int
crypto_b64decode(const char *in, size_t n, unsigned char **out, size_t *outn)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf;
	size_t pad = 0, o = 0;
	unsigned long w;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	if (!(buf = malloc(n / 4 * 3 + 1)))
		return -1;
	/* every quad but the last: four digits, no padding */
	for (size_t i = 0; i + 4 < n; i += 4) {
		int a = b64value(s[i]), b = b64value(s[i + 1]);
		int c = b64value(s[i + 2]), d = b64value(s[i + 3]);

		if ((a | b | c | d) < 0)
			goto bad;
		w = (unsigned long)a << 18 | (unsigned long)b << 12 | (unsigned long)c << 6 | (unsigned long)d;
		buf[o++] = w >> 16;
		buf[o++] = w >> 8 & 0xff;
		buf[o++] = w & 0xff;
	}
	/* the last: pad '=' stand for zero digits, whose bits must be unused */
	w = 0;
	for (int k = 0; k < 4; k++) {
		unsigned char ch = s[n - 4 + k];
		int v = k >= 4 - (int)pad ? (ch == '=' ? 0 : -1) : b64value(ch);

		if (v < 0)
			goto bad;
		w = w << 6 | (unsigned long)v;
	}
	buf[o++] = w >> 16;
	if (pad == 2 && (w & 0xffff))
		goto bad;	/* non-canonical: unused bits set */
	if (pad < 2)
		buf[o++] = w >> 8 & 0xff;
	if (pad == 1 && (w & 0xff))
		goto bad;
	if (pad == 0)
		buf[o++] = w & 0xff;
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

/* The length of the PKCS#7 padding that ends the n-byte block-aligned
 * plaintext p (1 to 16 bytes, all equal to it), or 0 when it is not valid.
 * Every byte of the last block is looked at whatever the verdict, so the
 * time taken does not tell which check failed. */
static size_t
unpad(const unsigned char *p, size_t n)
{
	unsigned pad = p[n - 1], bad = (pad == 0) | (pad > 16);

	for (unsigned i = 1; i <= 16; i++) {
		unsigned inside = i <= pad;	/* p[n - i] belongs to the padding */

		bad |= inside & (p[n - i] != pad);
	}
	return bad ? 0 : pad;
}

/* Decryption runs on every event. AES_cbc_encrypt is libcrypto's table code
 * (its compact variant whenever the CPU reports hyper-threading): about a
 * tenth of a FastCGI intake's CPU. libcrypto reaches its AES-NI code
 * publicly only through EVP, and linking EVP in adds some 16 000
 * relocations that every CGI process pays at start-up. So the AES-NI
 * functions EVP itself calls are named here, weakly: the static link (the
 * default) pulls them out of libcrypto.a (-u in the Makefile); with
 * CRYPTO_LINK=shared, where libcrypto.so does not export them, they are
 * null and the public functions do the work. The prototypes are those of
 * OpenSSL's include/crypto/aes_platform.h, unchanged since 1.0.1.
 * test_crypto checks the two paths against each other and the vectors. */
int aesni_set_decrypt_key(const unsigned char *user_key, int bits, AES_KEY *key)
	__attribute__((weak));
void aesni_cbc_encrypt(const unsigned char *in, unsigned char *out, size_t length,
                       const AES_KEY *key, unsigned char *ivec, int enc)
	__attribute__((weak));

static int
use_aesni(void)
{
#if defined(__x86_64__)
	return aesni_set_decrypt_key && aesni_cbc_encrypt && __builtin_cpu_supports("aes");
#else
	return 0;
#endif
}

const char *
crypto_aes_impl(void)
{
	return use_aesni() ? "aesni" : "portable";
}

/* AES-256-CBC decryption of n bytes (whole blocks) from in to out. The two
 * implementations share their types and AES_KEY. */
static int
cbc_decrypt(const unsigned char key[32], const unsigned char *in, unsigned char *out,
            size_t n, unsigned char iv[16])
{
	int aesni = use_aesni();
	AES_KEY k;
	int rc = (aesni ? aesni_set_decrypt_key : AES_set_decrypt_key)(key, 256, &k) ? -1 : 0;

	if (rc == 0)
		(aesni ? aesni_cbc_encrypt : AES_cbc_encrypt)(in, out, n, &k, iv, AES_DECRYPT);
	OPENSSL_cleanse(&k, sizeof k);
	return rc;
}

int
crypto_decrypt(const unsigned char key[32], const unsigned char *in, size_t n,
               char **plain, size_t *plainn)
{
	unsigned char iv[16], *buf;
	size_t pad;

	/* at least the IV and one block, whole blocks only */
	if (n < 32 || n % 16 != 0 || n > 64 * 1024 * 1024)
		return -1;
	if (!(buf = malloc(n - 16 + 1)))
		return -1;
	memcpy(iv, in, 16);	/* the CBC functions advance the IV they are given */
	if (cbc_decrypt(key, in + 16, buf, n - 16, iv)) {
		free(buf);
		return -1;
	}
	if (!(pad = unpad(buf, n - 16))) {
		OPENSSL_cleanse(buf, n - 16);
		free(buf);
		return -1;
	}
	buf[n - 16 - pad] = '\0';
	*plain = (char *)buf;
	*plainn = n - 16 - pad;
	return 0;
}

int
crypto_encrypt(const unsigned char key[32], const unsigned char iv[16],
               const void *plain, size_t n, unsigned char **out, size_t *outn)
{
	size_t pad = 16 - n % 16;
	unsigned char ivc[16], *buf;
	AES_KEY k;

	if (n > 64 * 1024 * 1024 || !(buf = malloc(16 + n + pad)))
		return -1;
	if (AES_set_encrypt_key(key, 256, &k) != 0) {
		free(buf);
		return -1;
	}
	memcpy(buf, iv, 16);
	memcpy(buf + 16, plain, n);
	memset(buf + 16 + n, (int)pad, pad);
	memcpy(ivc, iv, 16);
	AES_cbc_encrypt(buf + 16, buf + 16, n + pad, &k, ivc, AES_ENCRYPT);
	OPENSSL_cleanse(&k, sizeof k);
	*out = buf;
	*outn = 16 + n + pad;
	return 0;
}

/* The kernel's generator: RAND_bytes would initialise the provider
 * machinery (see the top of this file) for one IV. */
int
crypto_random(unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t got = getrandom(buf, n, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		buf += got;
		n -= (size_t)got;
	}
	return 0;
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
