/* test_crypto.c: SHA-256, strict base64, AES-256-CBC with PKCS#7 and the
 * constant-time comparison, against the shared vectors */
#include "t.h"
#include "crypto.h"

static void
unhex(const char *h, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
}

static void
sha_hex(const char *s, char out[65])
{
	struct bytes b = { s, strlen(s) };
	unsigned char md[32];

	crypto_sha256(&b, 1, md);
	crypto_hex(md, 32, out);
}

static void
key_of(const char *s, unsigned char key[32])
{
	struct bytes b = { s, strlen(s) };

	crypto_sha256(&b, 1, key);
}

static void
vector(const cJSON *v, const unsigned char key[32])
{
	const char *name = t_str(v, "name"), *enc = t_str(v, "encrypt");
	const char *plain_want = t_str(v, "plaintext");
	unsigned char *raw = NULL, iv[16], *sealed = NULL;
	size_t rawn = 0, plainn = 0, sealedn = 0;
	char *plain = NULL, *b64;

	CHECK(crypto_b64decode(enc, strlen(enc), &raw, &rawn) == 0, "%s: encrypt is strict base64", name);
	unhex(t_str(v, "iv_hex"), iv, 16);
	CHECK(raw && memcmp(raw, iv, 16) == 0, "%s: the IV leads the decoded bytes", name);
	CHECK(raw && crypto_decrypt(key, raw, rawn, &plain, &plainn) == 0, "%s: decrypts", name);
	CHECK(plain && plainn == strlen(plain_want) && memcmp(plain, plain_want, plainn) == 0,
	      "%s: plaintext as documented", name);
	CHECK(plainn == (size_t)cJSON_GetObjectItem(v, "plaintext_len")->valueint, "%s: plaintext length", name);
	CHECK(crypto_encrypt(key, iv, plain_want, strlen(plain_want), &sealed, &sealedn) == 0,
	      "%s: encrypts", name);
	b64 = sealed ? crypto_b64encode(sealed, sealedn) : NULL;
	CHECK(b64 && strcmp(b64, enc) == 0, "%s: encrypting with the same IV gives the same text", name);
	free(raw);
	free(plain);
	free(sealed);
	free(b64);
}

static void
base64(void)
{
	static const char *bad[] = {
		"", "A", "AB", "ABC", "AB=", "A===", "====", "AB=A", "A=BC", "AAA=AAAA",
		"AB==", "AAB=", "AA AA", "AAAA\n", "AA-_", "AAA", "AA=\0", "ZZZ=",
	};
	unsigned char *out = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		/* case 16 includes its NUL byte */
		CHECK(crypto_b64decode(bad[i], strlen(bad[i]) + (i == 16), &out, &n) != 0,
		      "base64 case %zu (\"%.*s\") is rejected", i, (int)strcspn(bad[i], "\n"), bad[i]);
	}
	CHECK(crypto_b64decode("AAA=", 4, &out, &n) == 0 && n == 2, "base64 AAA= is two bytes");
	free(out);
	CHECK(crypto_b64decode("AA==", 4, &out, &n) == 0 && n == 1, "base64 AA== is one byte");
	free(out);
	CHECK(crypto_b64decode("aGVsbG8gd29ybGQ=", 16, &out, &n) == 0 && n == 11 &&
	      memcmp(out, "hello world", 11) == 0, "base64 of hello world");
	free(out);
	CHECK(crypto_b64decode("AAAA\xff" "\x80" "AA", 8, &out, &n) != 0, "base64 with bytes over 0x7f is rejected");

	/* every length up to 3 quads, every byte value: decode(encode(x)) == x */
	{
		unsigned char in[12];
		int same = 1;

		for (int len = 1; len <= 12; len++)
			for (int b = 0; b < 256; b++) {
				char *e;

				for (int i = 0; i < len; i++)
					in[i] = (unsigned char)(b * 31 + i * 97);
				e = crypto_b64encode(in, (size_t)len);
				if (!e || crypto_b64decode(e, strlen(e), &out, &n) != 0 || n != (size_t)len ||
				    memcmp(out, in, n) != 0)
					same = 0;
				else
					free(out);
				free(e);
			}
		CHECK(same, "base64 round trip for every length 1-12 and byte value");
	}
}

/* iv || the CBC encryption of exactly blocks[0..n): no padding added, so the
 * last bytes of blocks are what the decryptor takes for padding. */
static void
raw_cbc(const unsigned char key[32], const unsigned char *blocks, size_t n,
        unsigned char *out)
{
	unsigned char iv[16] = { 7 }, *sealed = NULL;
	size_t sn = 0;

	crypto_encrypt(key, iv, blocks, n, &sealed, &sn);
	memcpy(out, sealed, 16 + n);	/* drop the padding block */
	free(sealed);
}

static void
padding(const unsigned char key[32])
{
	struct {
		const char *name;
		unsigned char tail[16];
		int ok;
		size_t len;
	} cases[] = {
		{ "pad byte 0", { [15] = 0 }, 0, 0 },
		{ "pad byte 17", { [15] = 17 }, 0, 0 },
		{ "pad byte 255", { [15] = 255 }, 0, 0 },
		{ "pad 3 bytes of 3", { [13] = 3, 3, 3 }, 1, 29 },
		{ "pad 3 with one byte 4", { [13] = 4, 3, 3 }, 0, 0 },
		{ "pad 1 byte of 1", { [15] = 1 }, 1, 31 },
		{ "pad 16 bytes of 16", { 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16 }, 1, 16 },
		{ "pad 16 with the first byte 15", { 15, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16 }, 0, 0 },
	};
	unsigned char blocks[32], ct[48], junk[48];
	char *plain = NULL;
	size_t n = 0;

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		memset(blocks, 'x', 16);
		memcpy(blocks + 16, cases[i].tail, 16);
		raw_cbc(key, blocks, 32, ct);
		plain = NULL;
		int rc = crypto_decrypt(key, ct, 48, &plain, &n);
		CHECK(cases[i].ok ? rc == 0 && n == cases[i].len : rc != 0, "padding: %s %s",
		      cases[i].name, cases[i].ok ? "accepted" : "rejected");
		free(plain);
	}
	for (size_t len = 0; len <= 48; len++) {
		int rc;

		memset(junk, 0, sizeof junk);
		plain = NULL;
		rc = crypto_decrypt(key, junk, len, &plain, &n);
		free(plain);
		if (len < 32 || len % 16)
			CHECK(rc != 0, "length %zu is rejected before decryption", len);
	}
}

/* The decryptor in use against the public AES_cbc_encrypt behind
 * crypto_encrypt: plaintexts of every length 0-80 and some larger ones, with
 * keys and IVs that change each time. In the default (static) build on a CPU
 * with AES-NI the decryptor must be libcrypto's AES-NI code, so this is the
 * cross-check of the two implementations. */
static void
aes_paths(void)
{
	static const size_t big[] = { 255, 256, 1000, 4099, 65536 };
	unsigned char key[32], iv[16], *sealed, *plain_in;
	unsigned int seed = 7;
	size_t sealedn, n, wrong = 0, tried = 0;
	char *plain;

	printf("# AES decryption: %s\n", crypto_aes_impl());
#ifdef AESNI_LINKED
	if (__builtin_cpu_supports("aes"))
		CHECK(strcmp(crypto_aes_impl(), "aesni") == 0,
		      "static build, CPU with AES-NI: libcrypto's AES-NI code decrypts (%s)", crypto_aes_impl());
#endif
	if (!(plain_in = malloc(65536)))
		return;
	for (size_t i = 0; i < 81 + sizeof big / sizeof *big; i++, tried++) {
		size_t len = i < 81 ? i : big[i - 81];

		for (size_t b = 0; b < 32; b++)
			key[b] = (unsigned char)(seed = seed * 1103515245 + 12345) >> 3;
		for (size_t b = 0; b < 16; b++)
			iv[b] = (unsigned char)(seed = seed * 1103515245 + 12345) >> 5;
		for (size_t b = 0; b < len; b++)
			plain_in[b] = (unsigned char)(seed = seed * 1103515245 + 12345) >> 7;
		sealed = NULL;
		plain = NULL;
		if (crypto_encrypt(key, iv, plain_in, len, &sealed, &sealedn) ||
		    crypto_decrypt(key, sealed, sealedn, &plain, &n) || n != len ||
		    memcmp(plain, plain_in, len) != 0)
			wrong++;
		free(sealed);
		free(plain);
	}
	free(plain_in);
	CHECK(wrong == 0, "%zu of %zu plaintexts (0-80, 255, 256, 1000, 4099, 65536 bytes) come back from "
	      "encryption by AES_cbc_encrypt and decryption by the %s code", tried - wrong, tried,
	      crypto_aes_impl());
}

int
main(void)
{
	cJSON *vec = t_vectors();
	const cJSON *v;
	const cJSON *doc = cJSON_GetObjectItem(vec, "documented_vector");
	unsigned char key[32], other[32], *raw = NULL;
	char hex[65], *plain = NULL;
	size_t rawn = 0, n = 0;

	sha_hex(t_str(vec, "encrypt_key"), hex);
	CHECK(strcmp(hex, t_str(vec, "encrypt_key_sha256_hex")) == 0, "AES key is SHA-256 of the Encrypt Key");
	key_of(t_str(vec, "encrypt_key"), key);
	cJSON_ArrayForEach(v, cJSON_GetObjectItem(vec, "vectors"))
		vector(v, key);

	/* the documented "test key" vector */
	sha_hex(t_str(doc, "encrypt_key"), hex);
	CHECK(strcmp(hex, t_str(doc, "key_sha256_hex")) == 0, "documented vector: key digest");
	key_of(t_str(doc, "encrypt_key"), other);
	CHECK(crypto_b64decode(t_str(doc, "encrypt"), strlen(t_str(doc, "encrypt")), &raw, &rawn) == 0 &&
	      crypto_decrypt(other, raw, rawn, &plain, &n) == 0 && n == 11 &&
	      strcmp(plain, t_str(doc, "plaintext")) == 0, "documented vector: decrypts to hello world");
	free(raw);
	free(plain);

	/* negative: the challenge under the wrong key fails its padding check */
	v = t_vector(vec, "challenge");
	raw = NULL;
	plain = NULL;
	crypto_b64decode(t_str(v, "encrypt"), strlen(t_str(v, "encrypt")), &raw, &rawn);
	CHECK(crypto_decrypt(other, raw, rawn, &plain, &n) != 0, "challenge with key \"test key\": rejected");
	free(raw);
	free(plain);

	base64();
	CHECK(crypto_b64_alphabet("AZaz09+/==", 10) && crypto_b64_alphabet("", 0) &&
	      !crypto_b64_alphabet("AB\"C", 4) && !crypto_b64_alphabet("AB\\C", 4) &&
	      !crypto_b64_alphabet("AB C", 4) && !crypto_b64_alphabet("AB-_", 4) && !crypto_b64_alphabet("A\xc3", 2),
	      "base64 alphabet: digits, + / and = only (no quote, backslash, space, URL-safe or high bytes)");
	padding(key);
	aes_paths();

	CHECK(crypto_equal("abc", 3, "abc", 3), "equal secrets compare equal");
	CHECK(!crypto_equal("abc", 3, "abd", 3), "different secrets differ");
	CHECK(!crypto_equal("abc", 3, "abcd", 4), "a prefix is not equal");
	CHECK(!crypto_equal("", 0, "a", 1), "empty is not equal to one byte");
	cJSON_Delete(vec);
	return t_done();
}
