/* fuzz_decrypt.c: libFuzzer target for decryption (crypto.h): strict
 * base64, then AES-256-CBC with strict PKCS#7, under the vectors' key.
 *
 * Input layout: one mode byte, then the payload.
 *   mode bit 0 clear: the payload is iv || ciphertext, given to crypto_decrypt
 *   mode bit 0 set:   the payload is the "encrypt" text: crypto_b64decode,
 *                     then crypto_decrypt on what it gives
 *
 * Invariants: strict base64 is canonical (decoding then encoding gives the
 * input back) and decodes to at most 3/4 of its length; a decryption that
 * succeeds needs whole blocks after the IV, returns 0 to 15+1 bytes fewer
 * than the ciphertext, NUL-terminated, and encrypting the plaintext again
 * with the same IV gives the input back byte for byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#ifndef FUZZ_KEY
#define FUZZ_KEY "lark-test-encrypt-key-0001"
#endif

#define BUG(...) do { fprintf(stderr, "fuzz_decrypt: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static unsigned char key[32];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct bytes k = { FUZZ_KEY, sizeof FUZZ_KEY - 1 };

	(void)argc;
	(void)argv;
	if (crypto_sha256(&k, 1, key))
		abort();
	return 0;
}

static void
decrypt(const unsigned char *in, size_t n)
{
	char *plain = NULL;
	size_t pn = 0;
	unsigned char *again = NULL;
	size_t an = 0;

	if (crypto_decrypt(key, in, n, &plain, &pn)) {
		if (plain)
			BUG("failed decryption left a buffer");
		return;
	}
	if (n < 32 || n % 16 != 0)
		BUG("decrypted %zu bytes: not an IV and whole blocks", n);
	if (pn > n - 16 - 1 || pn < n - 32)
		BUG("plaintext of %zu bytes from %zu bytes of ciphertext", pn, n - 16);
	if (plain[pn] != '\0')
		BUG("plaintext not NUL-terminated");
	if (crypto_encrypt(key, in, plain, pn, &again, &an))
		BUG("cannot encrypt the plaintext again");
	if (an != n || memcmp(again, in, n) != 0)
		BUG("padding not strict: encrypting the plaintext again gives other bytes");
	free(again);
	free(plain);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char *raw = NULL, *copy;
	size_t rawn = 0;
	char *back;

	if (size < 1)
		return 0;
	if (!(data[0] & 1)) {
		decrypt(data + 1, size - 1);
		return 0;
	}
	/* a private copy of exactly the text, so an over-read is caught */
	if (!(copy = malloc(size - 1 ? size - 1 : 1)))
		abort();
	memcpy(copy, data + 1, size - 1);
	if (crypto_b64decode((const char *)copy, size - 1, &raw, &rawn) == 0) {
		if (rawn > (size - 1) / 4 * 3)
			BUG("base64 of %zu characters decoded to %zu bytes", size - 1, rawn);
		if (!(back = crypto_b64encode(raw, rawn)))
			abort();
		if (strlen(back) != size - 1 || memcmp(back, copy, size - 1) != 0)
			BUG("accepted base64 is not canonical");
		free(back);
		decrypt(raw, rawn);
		free(raw);
	}
	free(copy);
	return 0;
}
