#!/bin/bash
# vectors.sh: tests/data/lark-vectors.json re-derived with the openssl
# command line, independently of larkhook's code: every field of every
# vector (AES key, ciphertext, envelope, signature, lengths), the
# documented "test key" example, the legacy SHA-1 card signature and the
# negative cases. Where the vectors come from: tests/data/README.md.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VEC=$ROOT/tests/data/lark-vectors.json
T=$(mktemp -d /tmp/larkhook-vectors.XXXXXX)
trap 'rm -rf "$T"' EXIT

ok() { echo "ok - $1"; }
fail() { echo "FAIL - $1${2:+: $2}"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected [$2], got [$3]"; fi; }

for tool in openssl jq xxd; do
	command -v "$tool" >/dev/null || { fail "$tool is installed" "run: make deps"; exit 1; }
done
get() { jq -j "$1" "$VEC"; }
field() { jq -j --arg n "$1" --arg f "$2" '.vectors[] | select(.name == $n) | .[$f]' "$VEC"; }
# sha256 / sha1: lowercase hex of standard input
sha256() { openssl dgst -sha256 -r | cut -c1-64; }
sha1() { openssl dgst -sha1 -r | cut -c1-40; }

KEY=$(get .encrypt_key)
TS=$(get .timestamp)
NONCE=$(get .nonce)
KEYHEX=$(printf %s "$KEY" | sha256)
check "the AES key is SHA-256 of the Encrypt Key" "$(get .encrypt_key_sha256_hex)" "$KEYHEX"

names=$(jq -r '.vectors[].name' "$VEC")
check "six vectors" "challenge challenge16 perf comp v1 card_new" "$(echo $names)"
for n in $names; do
	field "$n" plaintext >"$T/plain"
	iv=$(field "$n" iv_hex)
	check "$n: plaintext_len is the plaintext's length" "$(field "$n" plaintext_len)" "$(wc -c <"$T/plain")"
	enc=$({ printf %s "$iv" | xxd -r -p; openssl enc -aes-256-cbc -K "$KEYHEX" -iv "$iv" <"$T/plain"; } |
		openssl base64 -A)
	check "$n: encrypt is base64(IV || AES-256-CBC PKCS#7 of the plaintext)" "$(field "$n" encrypt)" "$enc"
	check "$n: raw_body is the compact envelope" "{\"encrypt\":\"$enc\"}" "$(field "$n" raw_body)"
	sig=$({ printf %s "$TS$NONCE$KEY"; field "$n" raw_body; } | sha256)
	check "$n: x_lark_signature is SHA-256(timestamp nonce key body)" "$(field "$n" x_lark_signature)" "$sig"
	# and back: decrypt the given encrypt with openssl alone
	field "$n" encrypt | openssl base64 -d -A >"$T/sealed"
	dec=$(tail -c +17 "$T/sealed" | openssl enc -d -aes-256-cbc -K "$KEYHEX" \
		-iv "$(head -c 16 "$T/sealed" | xxd -p)" 2>/dev/null | sha256)
	check "$n: encrypt decrypts to the plaintext" "$(sha256 <"$T/plain")" "$dec"
	jq -e . "$T/plain" >/dev/null 2>&1
	check "$n: the plaintext is JSON" 0 $?
done
check "challenge16's plaintext is block aligned (a whole padding block)" 0 \
	$(($(field challenge16 plaintext_len) % 16))

# the example of Feishu's documentation
dk=$(get .documented_vector.encrypt_key)
dhex=$(printf %s "$dk" | sha256)
check "documented: the key's SHA-256" "$(get .documented_vector.key_sha256_hex)" "$dhex"
get .documented_vector.encrypt | openssl base64 -d -A >"$T/doc"
check "documented: the IV is the first 16 bytes" "$(get .documented_vector.iv_hex)" "$(head -c 16 "$T/doc" | xxd -p)"
check "documented: it decrypts to the plaintext" "$(get .documented_vector.plaintext)" \
	"$(tail -c +17 "$T/doc" | openssl enc -d -aes-256-cbc -K "$dhex" -iv "$(head -c 16 "$T/doc" | xxd -p)")"
check "documented: the padding is 5 bytes of 0x05" "0505050505" \
	"$(tail -c +17 "$T/doc" | openssl enc -d -nopad -aes-256-cbc -K "$dhex" \
		-iv "$(head -c 16 "$T/doc" | xxd -p)" | tail -c 5 | xxd -p)"

# the legacy card callback: SHA-1 over timestamp, nonce, token and body
check "card_legacy_sha1: SHA-1(timestamp nonce token body)" "$(get .card_legacy_sha1.x_lark_signature)" \
	"$({ get '.card_legacy_sha1.timestamp + .card_legacy_sha1.nonce + .card_legacy_sha1.verification_token'
		get .card_legacy_sha1.raw_body; } | sha1)"

# negative cases
body=$(get .negative.perf_body_with_space_after_colon.raw_body)
check "negative: the spaced perf body's signature is over its exact bytes" \
	"$(get .negative.perf_body_with_space_after_colon.x_lark_signature_over_these_exact_bytes)" \
	"$({ printf %s "$TS$NONCE$KEY"; printf %s "$body"; } | sha256)"
printf %s "$body" | jq -j .encrypt | openssl base64 -d -A >"$T/spaced"
check "negative: the spaced perf body holds the perf event" "$(field perf plaintext | sha256)" \
	"$(tail -c +17 "$T/spaced" | openssl enc -d -aes-256-cbc -K "$KEYHEX" \
		-iv "$(head -c 16 "$T/spaced" | xxd -p)" 2>/dev/null | sha256)"
field challenge encrypt | openssl base64 -d -A >"$T/ch"
tail -c +17 "$T/ch" | openssl enc -d -aes-256-cbc -K "$dhex" -iv "$(head -c 16 "$T/ch" | xxd -p)" \
	>/dev/null 2>&1
check "negative: challenge under the key \"test key\" fails the padding check" 1 $?
upper=$(get .negative.uppercase_hex | cut -d' ' -f1)
check "negative: the upper-case signature is the challenge's, upper-cased" \
	"$(field challenge x_lark_signature | tr a-f A-F)" "$upper"
