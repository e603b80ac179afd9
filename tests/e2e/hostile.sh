#!/bin/bash
# hostile.sh: larkhook under hostile input (doc/6-hostile.md, with the
# statuses of doc/1-flow.md §1.2-1.3 and the hook environment of doc/3-hooks.md).
# larkhook runs as a CGI; every case gets a site of its own and asserts, as
# one test: the exact status (the whole response for 401s: every 401 is the
# same bytes), how many jobs were spooled and how many hook runs happened
# (none for anything rejected), one request line in the log, no raw control
# byte in the log, and no secret or event value in it. Cases that need
# more (the hook's environment, files outside the spool) say so.
# The data comes from a generator written below in python3 (JSON matrix,
# PKCS#7 variants, a SHA-256 length extension).
# Single quotes in this file hold text for the hook's shell or for JSON.
# shellcheck disable=SC2016
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

for tool in python3 openssl strace curl lighttpd xxd; do
	command -v "$tool" >/dev/null || { fail "$tool is installed" "run: make deps"; exit 1; }
done

SAL=918273.64			# a salary: must never reach a log
HOOK='echo ran >>hook.ran; env -0 >hook.env; cp "$LARK_JSON_FILE" hook.json'
GEN=$T/gen.py
SITES=$T/s
SEQ=0			# numbers sites that have no name of their own
mkdir -p "$SITES" "$T/d"
D=$T/d

# mksite NAME MODE [CONFIG LINES...]: a fresh site in $SITES/NAME, set as S.
# MODE enc: token and key; plain: token only; star: enc plus [on *].
# The compensation (and [on *]) hook is $RUN, by default $HOOK: it counts
# its runs in hook.ran and leaves its environment and event file behind.
mksite() {
	local mode=$2 run=${RUN:-$HOOK}
	S=$SITES/$1
	shift 2
	mkdir -p "$S"
	{
		echo "verification_token = $TOKEN"
		[ "$mode" = plain ] || echo "encrypt_key = $KEY"
		echo "log = $S/larkhook.log"
		window_off "$@"
		printf '%s\n' "$@"
		printf '[on compensation.archive.changed_v1]\nrun = %s\n' "$run"
		printf '[on performance.review_data.changed_v2]\nrun = %s\neach = items\n' "$HOOK"
		[ "$mode" != star ] || printf '[on *]\nrun = %s\n' "$run"
	} >"$S/larkhook.conf"
	chmod 600 "$S/larkhook.conf"
	chown -R "$OWNER" "$S"
}
# post BODY [NAME=VALUE...]: unsigned; post_signed BODY: signed over BODY.
post() { local b=$1; shift; cgi "$S/larkhook.conf" "$b" "$@"; }
post_signed() { local b=$1; shift; cgi_signed "$S/larkhook.conf" "$b" "$(sign "$b")" "$@"; }
# bare INPUT [NAME=VALUE...]: a CGI run with only the variables given (no
# REQUEST_METHOD, no CONTENT_LENGTH unless given).
bare() {
	local in=$1; shift
	env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 LARKHOOK_CONFIG="$S/larkhook.conf" "$@" \
		"${RUNAS[@]}" "$BIN" <"$in" >"$T/resp" 2>"$T/stderr"
}
# rep STRING N: STRING N times
rep() { local s; printf -v s '%*s' "$2" ''; printf %s "${s// /$1}"; }
hook_runs() { if [ -f "$S/hook.ran" ]; then grep -c . "$S/hook.ran"; else echo 0; fi; }

# verdict NAME STATUS JOBS [BODY]: the assertions every case makes, as one
# test. STATUS 401 means the whole response equals the reference 401.
# (Built-ins where possible: it runs some 600 times.)
verdict() {
	local name=$1 want=$2 jobs=$3 body=${4-} why=() got='' n q resp='' rbody runs log=$S/larkhook.log
	local msg='^[{]"msg":"[a-z ]+"[}]$'
	IFS= read -r -d '' resp <"$T/resp"
	rbody=${resp#*$'\r\n\r\n'}
	[[ $resp =~ ^Status:\ ([0-9]+) ]] && got=${BASH_REMATCH[1]}
	if [ "$want" = 401 ]; then
		[ "$resp" = "$U401TEXT" ] || why+=("not the one 401 response (status ${got:-none}: $rbody)")
	else
		[ "$got" = "$want" ] || why+=("status ${got:-none}, want $want")
		[[ $resp == *$'\r\nContent-Type: application/json\r\n'* ]] || why+=("no JSON content type")
	fi
	[ -z "$body" ] || [ "$rbody" = "$body" ] || why+=("body ${rbody:0:200}")
	[[ $got = 200 || $rbody =~ $msg ]] || why+=("error body is not a short JSON message")
	[[ $resp != *"$SAL"* ]] || why+=("the response echoes an event value")
	if [ -d "$S/larkhook-spool" ]; then q=$(queued "$S/larkhook-spool"); else q=0; fi
	[ "$q" = "$jobs" ] || why+=("$q jobs spooled, want $jobs")
	n=0
	if [ -f "$S/hook.ran" ]; then mapfile -t runs <"$S/hook.ran"; n=${#runs[@]}; fi
	[ "$n" = "$jobs" ] || why+=("hook ran $n times, want $jobs")
	n=$(grep -c ']: status=[0-9]' "$log" 2>/dev/null)
	[ "$n" = 1 ] || why+=("${n:-0} request lines in the log, want 1")
	[ ! -s "$T/stderr" ] || why+=("output on standard error (the log is a file): $(head -c 100 "$T/stderr")")
	if [ -f "$log" ]; then
		# a NUL or control byte other than the line ends, or a secret
		LC_ALL=C grep -qaP '[\x00-\x09\x0b-\x1f\x7f]' "$log" && why+=("raw control bytes in the log")
		grep -qF -e "$KEY" -e "$TOKEN" -e "$SAL" "$log" && why+=("the log holds a secret or an event value")
	fi
	if [ ${#why[@]} -eq 0 ]; then ok "$name"; else fail "$name" "$(IFS=';'; echo "${why[*]}")"; fi
}

# Reading an `env -0` dump: its names, and one value.
env_names() { tr '\0\n' '\n\001' <"$1" | sed 's/=.*//'; }
env_val() {
	local kv
	while IFS= read -r -d '' kv; do
		if [ "${kv%%=*}" = "$2" ]; then printf '%s' "${kv#*=}"; return 0; fi
	done <"$1"
	return 1
}
# env_check NAME DUMP CONDITION...: each CONDITION is NAME=VALUE (that
# value), !NAME (unset) or NAME? (set); one test for all.
env_check() {
	local name=$1 dump=$2 why=() c v; shift 2
	if [ ! -s "$dump" ]; then fail "$name" "the hook left no environment"; return; fi
	for c in "$@"; do
		case $c in
		!*) env_val "$dump" "${c#!}" >/dev/null && why+=("${c#!} is set") ;;
		*\?) env_val "$dump" "${c%\?}" >/dev/null || why+=("${c%\?} is unset") ;;
		*) v=$(env_val "$dump" "${c%%=*}") || v="(unset)"
		   [ "$v" = "${c#*=}" ] || why+=("${c%%=*}=$(printf %s "$v" | head -c 80)") ;;
		esac
	done
	if [ ${#why[@]} -eq 0 ]; then ok "$name"; else fail "$name" "$(IFS=';'; echo "${why[*]}")"; fi
}
# safe_env NAME DUMP: only PATH (the configured one), HOME, PWD, LARKHOOK,
# LARKHOOK_CONFIG and LARK_* names, each a plain shell name.
safe_env() {
	local bad
	bad=$(env_names "$2" | grep -Ev '^(PATH|HOME|PWD|LARKHOOK|LARKHOOK_CONFIG|LARK_[A-Z0-9_]+)$' | tr '\n' ' ')
	if [ -s "$2" ] && [ -z "$bad" ] && [ "$(env_val "$2" PATH)" = /usr/local/bin:/usr/bin:/bin ]; then
		ok "$1"
	else
		fail "$1" "names outside the allowed set: [$bad] PATH=[$(env_val "$2" PATH)]"
	fi
}

# ev2 ID TYPE [EVENT]: a schema 2.0 plaintext; ID and TYPE are JSON string
# contents (escapes allowed), EVENT a JSON object.
EVDEF="{\"salary\":\"$SAL\"}"
ev2() {
	printf '{"schema":"2.0","header":{"event_id":"%s","event_type":"%s","create_time":"1700000001000","token":"%s","app_id":"cli_a1","tenant_key":"tk"},"event":%s}' \
		"$1" "$2" "$TOKEN" "${3:-$EVDEF}"
}
COMPTYPE=compensation.archive.changed_v1
# sealed NAME PLAINTEXT: $D/NAME.plain and its encrypted body $D/NAME.body.
sealed() { printf %s "$2" >"$D/$1.plain"; seal "$D/$1.plain" "$D/$1.body" >/dev/null; }
# enc_raw PADDED OUT [KEY]: AES-256-CBC of an already padded plaintext
# (openssl -nopad), as {"encrypt":…}.
enc_raw() {
	local keyhex iv
	keyhex=$(printf %s "${3:-$KEY}" | sha256sum | cut -c1-64)
	iv=$(openssl rand -hex 16)
	{
		printf '{"encrypt":"'
		{ printf %s "$iv" | xxd -r -p; openssl enc -aes-256-cbc -nopad -K "$keyhex" -iv "$iv" <"$1"; } | base64 -w0
		printf '"}'
	} >"$2"
}

# The generator (python3): see the comments in it.
cat >"$GEN" <<'PY'
# gen.py: data for hostile.sh (run by python3; writes files, prints little)
import os, struct, sys, hashlib

def build(tpl, **parts):
    for k in ('H', 'E', 'R', 'T'):
        tpl = tpl.replace(b'@' + k.encode() + b'@', parts.get(k, b''))
    return tpl

def matrix(out, token, sal, ev_b64, ch_b64):
    tok, sal = token.encode(), sal.encode()
    EV = (b'{"schema":"2.0","header":{"event_id":"ev-hostile-1","event_type":'
          b'"compensation.archive.changed_v1","create_time":"1700000001000","token":"'
          + tok + b'","app_id":"cli_a1","tenant_key":"tk"@H@},"event":{"salary":"'
          + sal + b'"@E@}@R@}@T@')
    CH = b'{"challenge":"c-hostile","token":"' + tok + b'","type":"url_verification"@R@}@T@'
    OE = b'{"encrypt":"' + ev_b64.encode() + b'"@R@}@T@'
    OC = b'{"encrypt":"' + ch_b64.encode() + b'"@R@}@T@'
    tpls = {'ev': EV, 'ch': CH, 'oe': OE, 'oc': OC}
    index = []

    def case(name, ok, **per):   # per: template -> dict of parts, or a function of the document
        for t, parts in per.items():
            if parts is None:
                continue
            if callable(parts):
                doc = parts(build(tpls[t]))
            else:
                doc = build(tpls[t], **parts)
            with open(os.path.join(out, name + '.' + t), 'wb') as f:
                f.write(doc)
        index.append('%s %s %s' % (name, 'ok' if ok else 'bad', ','.join(t for t in per if per[t] is not None)))

    def value(name, frag, ok=False):
        m = b',"x":' + frag
        case(name, ok, ev={'E': m}, ch={'R': m}, oe={'R': m}, oc={'R': m})

    def nest(k, o, c):
        return o * k + c * k

    # controls: the same placement with harmless content must pass
    value('control-plain-string', b'"plain"', True)
    value('control-valid-utf8', b'"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"', True)
    value('control-surrogate-pair', b'"\\ud83d\\ude00"', True)
    value('control-escaped-controls', b'"\\u001b\\r\\n\\t\\b\\f"', True)
    value('number-1e400', b'1e400', True)
    value('number-300-digits', b'1' * 300, True)
    value('number-negative-fraction', b'-0.5e-300', True)
    value('members-100000', b'{' + b','.join(b'"m%d":%d' % (i, i) for i in range(100000)) + b'}', True)
    # nesting: the outer object is depth 1; in the event the x array starts at depth 3
    case('depth-64-arrays', True, ev={'E': b',"x":' + nest(62, b'[', b']')},
         ch={'R': b',"x":' + nest(63, b'[', b']')}, oe={'R': b',"x":' + nest(63, b'[', b']')},
         oc={'R': b',"x":' + nest(63, b'[', b']')})
    case('depth-65-arrays', False, ev={'E': b',"x":' + nest(63, b'[', b']')},
         ch={'R': b',"x":' + nest(64, b'[', b']')}, oe={'R': b',"x":' + nest(64, b'[', b']')},
         oc={'R': b',"x":' + nest(64, b'[', b']')})
    o = lambda k: b'{"a":' * k + b'1' + b'}' * k
    case('depth-64-objects', True, ev={'E': b',"x":' + o(62)}, ch={'R': b',"x":' + o(63)},
         oe={'R': b',"x":' + o(63)}, oc={'R': b',"x":' + o(63)})
    case('depth-65-objects', False, ev={'E': b',"x":' + o(63)}, ch={'R': b',"x":' + o(64)},
         oe={'R': b',"x":' + o(64)}, oc={'R': b',"x":' + o(64)})
    value('depth-1000-arrays', nest(1000, b'[', b']'))
    value('depth-1000-objects', o(1000))
    # NUL, raw control characters
    value('nul-escaped', b'"a\\u0000b"')
    value('nul-escaped-in-key', b'{"a\\u0000":1}')
    value('nul-raw', b'"a\x00b"')
    value('nul-raw-in-key', b'{"a\x00":1}')
    for c in (1, 9, 10, 13, 27, 31):
        value('raw-control-0x%02x' % c, b'"a' + bytes([c]) + b'b"')
    # UTF-8
    for nm, bs in (('overlong-2-byte-slash', b'\xc0\xaf'), ('overlong-2-byte-c1', b'\xc1\xbf'),
                   ('overlong-nul-c080', b'\xc0\x80'), ('overlong-3-byte', b'\xe0\x80\xaf'),
                   ('overlong-4-byte', b'\xf0\x80\x80\xaf'), ('utf8-encoded-surrogate', b'\xed\xa0\x80'),
                   ('utf8-above-10ffff', b'\xf4\x90\x80\x80'), ('utf8-f5-lead', b'\xf5\x80\x80\x80'),
                   ('utf8-lone-continuation', b'\x80'), ('utf8-ff', b'\xff'),
                   ('utf8-truncated-sequence', b'\xe2\x82')):
        value(nm, b'"a' + bs + b'"')
    value('utf8-invalid-in-key', b'{"\xff":1}')
    # escaped surrogates
    value('lone-high-surrogate', b'"\\ud800"')
    value('lone-high-surrogate-uppercase', b'"\\uD800x"')
    value('lone-low-surrogate', b'"\\udc00"')
    value('high-surrogate-then-ascii', b'"\\ud800\\u0041"')
    value('reversed-surrogate-pair', b'"\\udc00\\ud800"')
    value('two-high-surrogates', b'"\\ud800\\ud800"')
    # numbers and literals strict JSON forbids
    for nm, v in (('leading-zero', b'01'), ('negative-leading-zero', b'-01'), ('plus-sign', b'+1'),
                  ('dot-without-digits', b'1.'), ('leading-dot', b'.5'), ('bare-exponent', b'1e'),
                  ('nan', b'NaN'), ('infinity', b'Infinity'), ('hex-number', b'0x10'),
                  ('capitalised-true', b'True'), ('single-quotes', b"'a'"), ('bad-escape', b'"\\x41"'),
                  ('short-unicode-escape', b'"\\u12"'), ('trailing-comma-array', b'[1,]'),
                  ('trailing-comma-object', b'{"a":1,}'), ('comment', b'/*c*/1'),
                  ('missing-colon', b'{"a" 1}'), ('unquoted-key', b'{a:1}')):
        value(nm, v)
    # duplicate keys, at every level
    value('duplicate-key-nested', b'{"a":1,"a":2}')
    value('duplicate-key-nested-escaped', b'{"a":1,"\\u0061":2}')
    value('duplicate-key-in-array-element', b'[{"a":1},{"b":1,"b":1}]')
    case('duplicate-key-top-same-value', False, ev={'R': b',"schema":"2.0"'},
         ch={'R': b',"type":"url_verification"'}, oe={'R': b',"encrypt":"' + ev_b64.encode() + b'"'},
         oc={'R': b',"encrypt":"' + ch_b64.encode() + b'"'})
    case('duplicate-key-top-other-value', False, ev={'R': b',"event":{"salary":"0"}'},
         ch={'R': b',"challenge":"other"'}, oe={'R': b',"encrypt":"' + ch_b64.encode() + b'"'},
         oc={'R': b',"encrypt":"' + ev_b64.encode() + b'"'})
    case('duplicate-key-top-escaped', False, ev={'R': b',"schem\\u0061":"2.0"'},
         ch={'R': b',"tok\\u0065n":"' + tok + b'"'}, oe={'R': b',"\\u0065ncrypt":"' + ev_b64.encode() + b'"'},
         oc={'R': b',"\\u0065ncrypt":"' + ch_b64.encode() + b'"'})
    case('duplicate-token', False, ev={'H': b',"token":"forged"'}, ch={'R': b',"token":"forged"'})
    case('duplicate-header-event-id', False, ev={'H': b',"event_id":"ev-other"'})
    case('duplicate-header-event-type', False, ev={'H': b',"event_type":"other.type"'})
    case('duplicate-event-member', False, ev={'E': b',"salary":"1"'})
    # what may follow the one value
    tails = (('trailing-garbage', b' x', False), ('two-values', b'{}', False),
             ('trailing-nul', b'\x00', False), ('trailing-comma', b',', False),
             ('trailing-whitespace', b' \r\n\t ', True))
    for nm, t, ok in tails:
        case(nm, ok, ev={'T': t}, ch={'T': t}, oe={'T': t}, oc={'T': t})
    lead = lambda d: b' \n\t' + d
    case('leading-whitespace', True, ev=lead, ch=lead, oe=lead, oc=lead)
    for nm, f in (('top-level-array', lambda d: b'[' + d + b']'), ('top-level-string', lambda d: b'"x"'),
                  ('top-level-number', lambda d: b'42'), ('top-level-null', lambda d: b'null'),
                  ('empty-document', lambda d: b''), ('whitespace-only', lambda d: b' \n')):
        case(nm, False, ev=f, ch=f, oe=f, oc=f)
    with open(os.path.join(out, 'index'), 'w') as f:
        f.write('\n'.join(index) + '\n')

# PKCS#7 variants of a plaintext: the file KIND.padded is a whole number of
# blocks whose last bytes are the padding under test.
def pad(out, plainfile):
    p = open(plainfile, 'rb').read().rstrip(b'\n')
    def to(mod):          # pad with JSON whitespace until len % 16 == mod
        q = p
        while len(q) % 16 != mod:
            q += b' '
        return q
    kinds = {
        'valid-1-byte': (to(15) + b'\x01', True),
        'valid-16-bytes': (to(0) + b'\x10' * 16, True),
        'pad-byte-0': (to(12) + b'\x00' * 4, False),
        'pad-byte-17': (to(12) + b'\x11' * 4, False),
        'pad-byte-255': (to(12) + b'\xff' * 4, False),
        'pad-17-bytes-of-17': (to(15) + b'\x11' * 17, False),
        'inconsistent-pad-bytes': (to(12) + b'\x04\x04\x03\x04', False),
        'inconsistent-first-of-16': (to(0) + b'\x0f' + b'\x10' * 15, False),
        'no-padding': (to(0), False),
    }
    names = []
    for k, (data, ok) in kinds.items():
        assert len(data) % 16 == 0
        open(os.path.join(out, k + '.padded'), 'wb').write(data)
        names.append('%s %s' % (k, 'ok' if ok else 'bad'))
    open(os.path.join(out, 'index'), 'w').write('\n'.join(names) + '\n')

# SHA-256 written out, so its state can be set from a digest.
def isqrt(n):
    x = 1 << ((n.bit_length() + 1) // 2)
    while True:
        y = (x + n // x) // 2
        if y >= x:
            return x
        x = y

def icbrt(n):
    lo, hi = 0, 1 << ((n.bit_length() + 2) // 3 + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid ** 3 <= n:
            lo = mid
        else:
            hi = mid - 1
    return lo

PRIMES = [p for p in range(2, 312) if all(p % d for d in range(2, p))][:64]
K = [icbrt(p << 96) & 0xffffffff for p in PRIMES]
H0 = [isqrt(p << 64) & 0xffffffff for p in PRIMES[:8]]

def rotr(x, n):
    return ((x >> n) | (x << (32 - n))) & 0xffffffff

def compress(h, block):
    w = list(struct.unpack('>16I', block))
    for i in range(16, 64):
        s0 = rotr(w[i-15], 7) ^ rotr(w[i-15], 18) ^ (w[i-15] >> 3)
        s1 = rotr(w[i-2], 17) ^ rotr(w[i-2], 19) ^ (w[i-2] >> 10)
        w.append((w[i-16] + s0 + w[i-7] + s1) & 0xffffffff)
    a, b, c, d, e, f, g, hh = h
    for i in range(64):
        t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) & 0xffffffff
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & 0xffffffff
        a, b, c, d, e, f, g, hh = (t1 + t2) & 0xffffffff, a, b, c, (d + t1) & 0xffffffff, e, f, g
    return [(x + y) & 0xffffffff for x, y in zip(h, [a, b, c, d, e, f, g, hh])]

def glue(n):
    return b'\x80' + b'\x00' * ((55 - n) % 64) + struct.pack('>Q', n * 8)

def run(h, data):
    for i in range(0, len(data), 64):
        h = compress(h, data[i:i+64])
    return ''.join('%08x' % x for x in h)

def lenext(sig, secret_len, bodyfile, extra, outfile):
    # sanity: this SHA-256 is SHA-256
    t = b'larkhook' * 20
    assert run(list(H0), t + glue(len(t))) == hashlib.sha256(t).hexdigest()
    body = open(bodyfile, 'rb').read()
    n = secret_len + len(body)
    g = glue(n)
    tail = extra.encode()
    total = n + len(g) + len(tail)
    forged = run(list(struct.unpack('>8I', bytes.fromhex(sig))), tail + glue(total))
    open(outfile, 'wb').write(body + g + tail)
    print(forged)

if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'matrix':
        matrix(*args)
    elif cmd == 'pad':
        pad(*args)
    elif cmd == 'lenext':
        lenext(args[0], int(args[1]), args[2], args[3], args[4])
PY

# --- the reference 401 and the one-response rule -------------------------------
vector comp raw_body >"$D/comp.body"
vector comp plaintext >"$D/comp.plain"
COMPSIG=$(vector comp x_lark_signature)
COMPLEN=$(stat -c %s "$D/comp.body")
U401=$T/u401
mksite ref enc
post "$D/comp.body"
cp "$T/resp" "$U401"
IFS= read -r -d '' U401TEXT <"$U401"
check "reference: an unsigned event gets 401 {\"msg\":\"rejected\"}" "401 {\"msg\":\"rejected\"}" "$(status) $(resp_body)"

# --- HTTP framing -----------------------------------------------------------------------
for m in GET PUT HEAD OPTIONS DELETE PATCH post Post "POST " ""; do
	mksite "method-$m" enc
	cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" REQUEST_METHOD="$m"
	verdict "method [$m]: 405, nothing spooled" 405 0
	check_true "method [$m]: Allow: POST" grep -q $'^Allow: POST\r$' "$T/resp"
done
mksite method-none enc
bare "$D/comp.body" CONTENT_LENGTH="$COMPLEN" HTTP_X_LARK_SIGNATURE="$COMPSIG" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
verdict "no REQUEST_METHOD: 405" 405 0

SIGENV=(HTTP_X_LARK_SIGNATURE="$COMPSIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE")
mksite cl-absent enc
bare "$D/comp.body" REQUEST_METHOD=POST "${SIGENV[@]}"
verdict "no CONTENT_LENGTH: read to end of input, 200, spooled" 200 1 '{"msg":"success"}'
mksite cl-empty enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH=
verdict "empty CONTENT_LENGTH: read to end of input, 200" 200 1
mksite cl-zeros enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH="000$COMPLEN"
verdict "CONTENT_LENGTH with leading zeros (plain decimal): 200" 200 1
hexlen=$(printf %x "$COMPLEN")
for cl in "+$COMPLEN" "${COMPLEN}x" "-1" " $COMPLEN" "$COMPLEN " "0x$hexlen" "${hexlen}h" "$COMPLEN.0" \
	"${COMPLEN}e0" $'\n'"$COMPLEN" "١٢" "$COMPLEN,$COMPLEN"; do
	mksite "cl-bad-$((++SEQ))" enc
	cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH="$cl"
	verdict "malformed CONTENT_LENGTH [$(printf %q "$cl")]: 400" 400 0
done
mksite cl-short enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH=$((COMPLEN + 1))
verdict "CONTENT_LENGTH one more than the body: 400" 400 0
mksite cl-short-many enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH=$((COMPLEN + 100000))
verdict "CONTENT_LENGTH 100000 more than the body: 400" 400 0
mksite cl-long enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH=$((COMPLEN - 1))
verdict "CONTENT_LENGTH one less than the body: the signature covers what was read, 401" 401 0
mksite cl-zero enc
cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH=0
verdict "CONTENT_LENGTH 0 with a body: 401" 401 0
{ cat "$D/comp.body"; printf '{"encrypt":"more"}'; } >"$D/comp-extra.body"
mksite cl-extra enc
cgi_signed "$S/larkhook.conf" "$D/comp-extra.body" "$COMPSIG" CONTENT_LENGTH="$COMPLEN"
verdict "bytes beyond CONTENT_LENGTH are not the request: 200" 200 1
for cl in 4294967296 9223372036854775808 18446744073709551616 99999999999999999999999999 \
	"$(rep 9 400)"; do
	mksite "cl-huge-${#cl}" enc
	cgi_signed "$S/larkhook.conf" "$D/comp.body" "$COMPSIG" CONTENT_LENGTH="$cl"
	verdict "CONTENT_LENGTH of ${#cl} digits: 413" 413 0
done
# the event padded with JSON whitespace to 1100 bytes (max_body is at least 1K)
{ cat "$D/comp.body"; rep ' ' $((1100 - COMPLEN)); } >"$D/c1100.body"
mksite max-exact enc "max_body = 1100"
post_signed "$D/c1100.body"
verdict "body of exactly max_body: 200" 200 1
mksite max-over enc "max_body = 1099"
post_signed "$D/c1100.body"
verdict "announced body one byte over max_body: 413" 413 0
mksite max-over-unannounced enc "max_body = 1099"
bare "$D/c1100.body" REQUEST_METHOD=POST HTTP_X_LARK_SIGNATURE="$(sign "$D/c1100.body")" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
verdict "unannounced body one byte over max_body: 413" 413 0
# the rest of the body is consumed (a writer never gets EPIPE) when answering early
head -c 300000 /dev/zero | tr '\0' ' ' >"$D/300k.body"
consumed() { # NAME STATUS [NAME=VALUE...]
	local name=$1 want=$2 rc; shift 2
	{ cat "$D/300k.body"; echo $? >"$T/writer.rc"; } |
		env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
			LARKHOOK_CONFIG="$S/larkhook.conf" "$@" "${RUNAS[@]}" "$BIN" >"$T/resp" 2>"$T/stderr"
	rc=$(cat "$T/writer.rc")
	verdict "$name: $want" "$want" 0
	check "$name: the whole body was read (writer exit status)" 0 "$rc"
}
mksite drain-413 enc "max_body = 1K"
consumed "300 KB announced, over max_body" 413 CONTENT_LENGTH=300000
mksite drain-413u enc "max_body = 1K"
consumed "300 KB unannounced, over max_body" 413
mksite drain-400 enc "max_body = 1K"
consumed "300 KB with a malformed CONTENT_LENGTH" 400 CONTENT_LENGTH=3e5

# slow bodies: read_timeout = 1; the writer keeps the fifo open
slow() { # NAME CONTENT_LENGTH|- WRITER...
	local name=$1 cl=$2 w; shift 2
	rm -f "$T/fifo"; mkfifo "$T/fifo"
	"$@" >"$T/fifo" &
	w=$!
	PIDS+=("$w")
	if [ "$cl" = - ]; then
		bare "$T/fifo" REQUEST_METHOD=POST "${SIGENV[@]}"
	else
		bare "$T/fifo" REQUEST_METHOD=POST CONTENT_LENGTH="$cl" "${SIGENV[@]}"
	fi
	# the writer runs for a minute or more: answered while it still
	# writes, the deadline ended the request, not the end of the body
	check_true "$name: answered while the body was still being written" kill -0 "$w"
	kill "$w" 2>/dev/null
	verdict "$name: 408" 408 0
}
stall() { head -c 100 "$D/comp.body"; exec sleep 60; }
trickle() { local i; for i in $(seq 1000); do printf '{'; sleep 0.2; done; exec sleep 60; }
mksite slow-stall enc "read_timeout = 1"
slow "body stalls after 100 bytes" "$COMPLEN" stall
mksite slow-trickle enc "read_timeout = 1"
slow "body trickles one byte per 0.2 s (the deadline is for the whole body)" 5000 trickle
mksite slow-unannounced enc "read_timeout = 1"
slow "unannounced body that never ends" - stall

# --- headers --------------------------------------------------------------------------
hdr_case() { # NAME STATUS JOBS NAME=VALUE...
	local name=$1 want=$2 jobs=$3; shift 3
	mksite "hdr-$((++SEQ))" enc
	cgi "$S/larkhook.conf" "$D/comp.body" "$@"
	verdict "$name" "$want" "$jobs"
}
big=$(head -c 100000 /dev/zero | tr '\0' a)
hdr_case "duplicated signature header, joined by the server (\"sig, sig\"): 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$COMPSIG, $COMPSIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
hdr_case "duplicated timestamp header (\"ts, ts\"): 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$COMPSIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS, $TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
hdr_case "duplicated nonce header (\"n, n\"): 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$COMPSIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE, $NONCE"
hdr_case "signature headers under lower-case variable names are not read: unsigned, 401" 401 0 \
	HTTP_x_lark_signature="$COMPSIG" HTTP_x_lark_request_timestamp="$TS" HTTP_x_lark_request_nonce="$NONCE"
hdr_case "100 KB signature header: 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$big" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
hdr_case "100 KB timestamp header: 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$COMPSIG" HTTP_X_LARK_REQUEST_TIMESTAMP="$big" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
hdr_case "100 KB nonce header, correctly signed: 401" 401 0 \
	HTTP_X_LARK_SIGNATURE="$(NONCE=$big sign "$D/comp.body")" HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$big"
hdr_case "only the timestamp header: 401" 401 0 HTTP_X_LARK_REQUEST_TIMESTAMP="$TS"
hdr_case "empty signature header: 401" 401 0 \
	HTTP_X_LARK_SIGNATURE= HTTP_X_LARK_REQUEST_TIMESTAMP="$TS" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
hdr_case "a 100 KB header larkhook does not read: 200" 200 1 "${SIGENV[@]}" HTTP_X_JUNK="$big"

# the replay window (max_age) with odd timestamps, each correctly signed
now=$(date +%s)
for ts in "+$now" " $now" "$now " "-$now" "$now.0" "0x$(printf %x "$now")" "$(rep 9 30)" ""; do
	mksite "ts-$((++SEQ))" enc "max_age = 8h"
	cgi "$S/larkhook.conf" "$D/comp.body" HTTP_X_LARK_SIGNATURE="$(TS=$ts sign "$D/comp.body")" \
		HTTP_X_LARK_REQUEST_TIMESTAMP="$ts" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
	verdict "max_age = 8h, timestamp [$ts], correctly signed: 401" 401 0
done
mksite ts-now enc "max_age = 8h"
cgi "$S/larkhook.conf" "$D/comp.body" HTTP_X_LARK_SIGNATURE="$(TS=$now sign "$D/comp.body")" \
	HTTP_X_LARK_REQUEST_TIMESTAMP="$now" HTTP_X_LARK_REQUEST_NONCE="$NONCE"
verdict "control: max_age = 8h, timestamp now: 200" 200 1

# Proxy: a CGI gets it as HTTP_PROXY. No outbound connection, and the hook
# sees neither it nor anything else of the server's environment.
mksite proxy enc
env -i PATH=/usr/bin:/bin GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST CONTENT_LENGTH="$COMPLEN" \
	LARKHOOK_CONFIG="$S/larkhook.conf" "${SIGENV[@]}" HTTP_PROXY=http://127.0.0.1:9 \
	http_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
	HTTP_USER_AGENT='() { :;}; echo VULN >vuln' BASH_ENV="$S/bashenv" SHELLOPTS=xtrace PS4='$(touch ps4)' \
	strace -f -qq -e trace=connect,sendto,sendmsg -o "$T/strace.out" "${RUNAS[@]}" "$BIN" \
	<"$D/comp.body" >"$T/resp" 2>"$T/stderr"
verdict "Proxy header (HTTP_PROXY) with a genuine event: 200" 200 1
check "Proxy header: no connection to any network address (strace)" "" \
	"$(grep -E 'AF_INET|sin_port|sin6_port' "$T/strace.out")"
safe_env "Proxy header: the hook's environment has nothing of the server's" "$S/hook.env"
# LARKHOOK_CONFIG is larkhook's own (the config's absolute path), not the server's
env_check "Proxy header: no proxy variable, no HTTP_*" "$S/hook.env" '!HTTP_PROXY' '!http_proxy' \
	'!HTTPS_PROXY' '!ALL_PROXY' '!HTTP_USER_AGENT' '!BASH_ENV' '!SHELLOPTS' '!PS4' '!REQUEST_METHOD' \
	"LARKHOOK_CONFIG=$(realpath "$S/larkhook.conf")" "LARKHOOK=$BIN"

# --- crypto ---------------------------------------------------------------------------
# flip CHAR POS FILE OUT: FILE with the byte at POS replaced by CHAR
flip() { { head -c "$2" "$3"; printf %s "$1"; tail -c +$(($2 + 2)) "$3"; } >"$4"; }
crypto_case() { # NAME STATUS JOBS BODY SIG
	mksite "crypto-$((++SEQ))" enc
	cgi_signed "$S/larkhook.conf" "$4" "$5"
	verdict "$1" "$2" "$3"
}
c=$(head -c 41 "$D/comp.body" | tail -c 1)
flip "$([ "$c" = A ] && echo B || echo A)" 40 "$D/comp.body" "$D/flipped.body"
crypto_case "one byte of a signed body changed: 401" 401 0 "$D/flipped.body" "$COMPSIG"
crypto_case "upper-case hex signature: 401" 401 0 "$D/comp.body" "${COMPSIG^^}"
crypto_case "signature of 63 hex digits: 401" 401 0 "$D/comp.body" "${COMPSIG:0:63}"
crypto_case "signature of 65 hex digits: 401" 401 0 "$D/comp.body" "${COMPSIG}0"
crypto_case "signature with a non-hex letter: 401" 401 0 "$D/comp.body" "g${COMPSIG:1}"
crypto_case "signature with a trailing newline: 401" 401 0 "$D/comp.body" "$COMPSIG"$'\n'
crypto_case "signature made with another key: 401" 401 0 "$D/comp.body" "$(KEY=other-key sign "$D/comp.body")"
crypto_case "control: the genuine signature: 200" 200 1 "$D/comp.body" "$COMPSIG"

# Every failure on the unsigned path is the one 401; the same input signed
# is authenticated, so it gets its precise 400.
both() { # NAME BODY: signed → 400, unsigned → the one 401
	mksite "both-$((++SEQ))" enc
	post_signed "$2"
	verdict "$1 [signed]: 400" 400 0
	mksite "both-$((++SEQ))" enc
	post "$2"
	verdict "$1 [unsigned]: the one 401" 401 0
}
encb() { printf '{"encrypt":"%s"}' "$1" >"$D/encb.body"; echo "$D/encb.body"; }
CHENC=$(vector challenge encrypt)	# has +, / and one = of padding
EVENC=$(vector comp encrypt)		# has two = of padding
B64A=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/
# noncanon B64: the last data character plus one, so unused bits are set
noncanon() {
	local s=${1%%=*} p=${1#"${1%%=*}"} c i
	c=${s: -1}
	i=${B64A%%"$c"*}
	printf '%s%s%s' "${s%?}" "${B64A:$((${#i} + 1)):1}" "$p"
}
for e in "$CHENC" "$EVENC"; do
	w=$([ "$e" = "$CHENC" ] && echo "a challenge" || echo "an event")
	both "encrypt of $w with a '!' in its base64" "$(encb "${e:0:20}!${e:21}")"
	both "encrypt of $w in the URL-safe alphabet" "$(encb "$(printf %s "$e" | tr '+/' '-_')")"
	both "encrypt of $w with a space inside" "$(encb "${e:0:20} ${e:20}")"
	both "encrypt of $w with a line break (\\n) inside" "$(encb "${e:0:76}\\n${e:76}")"
	both "encrypt of $w without its = padding" "$(encb "${e%%=*}")"
	both "encrypt of $w with = in the middle" "$(encb "${e:0:20}=${e:21}")"
	both "encrypt of $w with extra = padding" "$(encb "$e====")"
	both "encrypt of $w with non-canonical unused bits" "$(encb "$(noncanon "$e")")"
done
both "encrypt that is an empty string" "$(encb "")"
for n in 15 16 31 33 47; do
	both "encrypt decoding to $n bytes" "$(encb "$(head -c "$n" /dev/urandom | base64 -w0)")"
done
printf '{"encrypt":42}' >"$D/encnum.body"
both "encrypt that is a number" "$D/encnum.body"
printf '{"encrypt":["%s"]}' "$CHENC" >"$D/encarr.body"
both "encrypt that is an array" "$D/encarr.body"

# PKCS#7: every kind of bad padding, around a challenge (unsigned: would be
# answered 200 if the padding were ignored) and an event (signed)
mkdir -p "$D/padch" "$D/padev"
printf '{"challenge":"c-pad","token":"%s","type":"url_verification"}' "$TOKEN" >"$D/padch.plain"
ev2 ev-pad-1 "$COMPTYPE" >"$D/padev.plain"
python3 "$GEN" pad "$D/padch" "$D/padch.plain"
python3 "$GEN" pad "$D/padev" "$D/padev.plain"
while read -r kind verdict_; do
	enc_raw "$D/padch/$kind.padded" "$D/padch/$kind.body"
	enc_raw "$D/padev/$kind.padded" "$D/padev/$kind.body"
	mksite "pad-ch-$kind" enc
	post "$D/padch/$kind.body"
	if [ "$verdict_" = ok ]; then
		verdict "padding $kind, challenge, unsigned: 200" 200 0 '{"challenge":"c-pad"}'
	else
		verdict "padding $kind, challenge, unsigned: the one 401" 401 0
	fi
	mksite "pad-ev-$kind" enc
	post_signed "$D/padev/$kind.body"
	if [ "$verdict_" = ok ]; then
		verdict "padding $kind, event, signed: 200" 200 1
	else
		verdict "padding $kind, event, signed: 400" 400 0
	fi
done <"$D/padch/index"

# a wrong key: the ciphertext, or the whole request
"$ROOT/tools/seal" other-key "$TS" "$NONCE" "$D/padch.plain" "$D/wk-ch.body" >/dev/null
mksite wrongkey-ch enc
post "$D/wk-ch.body"
verdict "challenge encrypted with another key, unsigned: the one 401" 401 0
wksig=$("$ROOT/tools/seal" other-key "$TS" "$NONCE" "$D/padev.plain" "$D/wk-ev.body")
mksite wrongkey-ev enc
post_signed "$D/wk-ev.body"
verdict "event encrypted with another key, signed with ours: 400" 400 0
mksite wrongkey-all enc
cgi_signed "$S/larkhook.conf" "$D/wk-ev.body" "$wksig"
verdict "event encrypted and signed with another key: 401" 401 0

# SHA-256 length extension of a real signed request: body || glue || extra
# gets a signature computed without the key. It is a valid signature, so
# only the strict JSON rule (one value, nothing after it) stops it: 400.
forged=$(python3 "$GEN" lenext "$COMPSIG" $((${#TS} + ${#NONCE} + ${#KEY})) "$D/comp.body" \
	',"encrypt":"AAAA"}' "$D/ext.body")
check "length extension: the forged signature is valid for the extended body" "$(sign "$D/ext.body")" "$forged"
mksite lenext enc
cgi_signed "$S/larkhook.conf" "$D/ext.body" "$forged"
verdict "length-extended body with its forged signature: 400 (trailing data), nothing stored" 400 0

# --- the unsigned path: one response for every failure kind ---------------------------
unsigned_plain() { # NAME PLAINTEXT
	sealed us "$2"
	mksite "us-$((++SEQ))" enc
	post "$D/us.body"
	verdict "unsigned, $1: the one 401" 401 0
}
unsigned_plain "wrong token" '{"challenge":"c","token":"wrong","type":"url_verification"}'
unsigned_plain "token of another case" "{\"challenge\":\"c\",\"token\":\"${TOKEN^^}\",\"type\":\"url_verification\"}"
unsigned_plain "token a prefix of the real one" "{\"challenge\":\"c\",\"token\":\"${TOKEN%?}\",\"type\":\"url_verification\"}"
unsigned_plain "token as a number" '{"challenge":"c","token":1,"type":"url_verification"}'
unsigned_plain "no token" '{"challenge":"c","type":"url_verification"}'
unsigned_plain "not a challenge (an event)" "$(ev2 ev-us-1 "$COMPTYPE")"
unsigned_plain "not a challenge (another type)" "{\"challenge\":\"c\",\"token\":\"$TOKEN\",\"type\":\"event_callback\"}"
unsigned_plain "not a challenge (no type)" "{\"challenge\":\"c\",\"token\":\"$TOKEN\"}"
unsigned_plain "challenge not a string" "{\"challenge\":1,\"token\":\"$TOKEN\",\"type\":\"url_verification\"}"
unsigned_plain "challenge over 1 KiB" "{\"challenge\":\"$(head -c 1025 /dev/zero | tr '\0' c)\",\"token\":\"$TOKEN\",\"type\":\"url_verification\"}"
unsigned_plain "plaintext not JSON" "not json"
unsigned_plain "plaintext JSON but not an object" '["url_verification"]'
printf '{"challenge":"c","token":"%s","type":"url_verification"}' "$TOKEN" >"$D/plainch.body"
mksite us-plainbody enc
post "$D/plainch.body"
verdict "unsigned, a plaintext challenge while a key is set: the one 401" 401 0
printf '{"encrypt":' >"$D/trunc.body"
mksite us-trunc enc
post "$D/trunc.body"
verdict "unsigned, outer body not JSON: the one 401" 401 0
# signature and token failures are the same 401 too
sealed tokbad "$(ev2 ev-tok-1 "$COMPTYPE" | sed "s/$TOKEN/wrong-token/")"
mksite signed-badtoken enc
post_signed "$D/tokbad.body"
verdict "signed event with a wrong token: the same 401" 401 0
sealed chtokbad '{"challenge":"c","token":"wrong","type":"url_verification"}'
mksite signed-badtoken-ch enc
post_signed "$D/chtokbad.body"
verdict "signed challenge with a wrong token: the same 401" 401 0
mksite plain-badtoken plain
ev2 ev-tok-2 "$COMPTYPE" | sed "s/$TOKEN/wrong-token/" >"$D/plainbad.body"
post "$D/plainbad.body"
verdict "token-only mode, wrong token: the same 401" 401 0
sealed chok "{\"challenge\":\"c-ok\",\"token\":\"$TOKEN\",\"type\":\"url_verification\"}"
mksite signed-ch enc
post_signed "$D/chok.body"
verdict "control: signed challenge with the right token: 200" 200 0 '{"challenge":"c-ok"}'

# --- strict JSON, every rule on every path -----------------------------------------------
# Paths: inner = the decrypted plaintext (an event, sealed and signed: 400;
# a challenge, sealed, unsigned: the one 401), outer = the {"encrypt":…}
# body around a valid event (signed: 400) or challenge (unsigned: 401),
# token-only = the plaintext is the body (400). "ok" cases are controls:
# the same placement with acceptable content passes.
printf '{"challenge":"c-hostile","token":"%s","type":"url_verification"}' "$TOKEN" >"$D/mch.plain"
ev2 ev-hostile-1 "$COMPTYPE" >"$D/mev.plain"
seal "$D/mch.plain" "$D/mch.body" >/dev/null
seal "$D/mev.plain" "$D/mev.body" >/dev/null
M=$D/matrix
mkdir -p "$M"
python3 "$GEN" matrix "$M" "$TOKEN" "$SAL" "$(jq -r .encrypt "$D/mev.body")" "$(jq -r .encrypt "$D/mch.body")"
# matrix_case NAME ok|bad TEMPLATES: every path the case has
matrix_case() {
	local name=$1 kind=$2 ws=400 wu=401 jobs=0 chb='' t f
	if [ "$kind" = ok ]; then ws=200 wu=200 jobs=1 chb='{"challenge":"c-hostile"}'; fi
	for t in ${3//,/ }; do
		f=$M/$name.$t
		case $t in
		ev)
			fastseal "$f" "$f.body"
			mksite "m-$name-ev" enc "max_body = 4M"
			post_signed "$f.body"
			verdict "json $name [inner event, signed]: $ws" "$ws" "$jobs"
			mksite "m-$name-pl" plain "max_body = 4M"
			post "$f"
			verdict "json $name [token-only body]: $ws" "$ws" "$jobs"
			;;
		ch)
			fastseal "$f" "$f.body"
			mksite "m-$name-ch" enc "max_body = 4M"
			post "$f.body"
			verdict "json $name [inner challenge, unsigned]: $wu" "$wu" 0 "$chb"
			;;
		oe)
			mksite "m-$name-oe" enc "max_body = 4M"
			post_signed "$f"
			verdict "json $name [outer around an event, signed]: $ws" "$ws" "$jobs"
			;;
		oc)
			mksite "m-$name-oc" enc "max_body = 4M"
			post "$f"
			verdict "json $name [outer around a challenge, unsigned]: $wu" "$wu" 0 "$chb"
			;;
		esac
	done
}
# fastseal PLAIN OUT: what tools/seal makes, with one IV for the whole run
# (three processes instead of ten: the matrix seals some 160 plaintexts)
KEYHEX=$(printf %s "$KEY" | sha256sum | cut -c1-64)
IVHEX=$(openssl rand -hex 16)
printf %s "$IVHEX" | xxd -r -p >"$D/iv"
fastseal() {
	{
		printf '{"encrypt":"'
		{ cat "$D/iv"; openssl enc -aes-256-cbc -K "$KEYHEX" -iv "$IVHEX" <"$1"; } | base64 -w0
		printf '"}'
	} >"$2"
}
# Two workers, each with its own response files (T) and output; the
# output is printed in the index's order.
matrix_worker() { # PART: runs in the background, with its own T
	local T=$T/worker-$1 name kind tpls
	mkdir -p "$T"
	while read -r name kind tpls; do matrix_case "$name" "$kind" "$tpls"; done <"$M/part.$1"
}
split -n l/2 "$M/index" "$M/part."
workers=()
for part in aa ab; do
	matrix_worker "$part" >"$M/out.$part" 2>&1 &
	PIDS+=($!)
	workers+=($!)
done
wait "${workers[@]}"
cat "$M/out.aa" "$M/out.ab"
# what the hook saw of the numbers and of 100 000 members
env_check "json number-1e400: exported as its source text" "$SITES/m-number-1e400-ev/hook.env" LARK_EVENT_X=1e400
env_check "json number-300-digits: exported as its source text" "$SITES/m-number-300-digits-ev/hook.env" \
	"LARK_EVENT_X=$(rep 1 300)"
env_check "json number-negative-fraction: exported as its source text" "$SITES/m-number-negative-fraction-ev/hook.env" \
	LARK_EVENT_X=-0.5e-300
n=$(env_names "$SITES/m-members-100000-ev/hook.env" | grep -vcx PWD)
check_true "json members-100000: the hook ran with at most 1000 variables ($n) and LARK_TRUNCATED=1" \
	test "$n" -le 1000 -a "$(env_val "$SITES/m-members-100000-ev/hook.env" LARK_TRUNCATED)" = 1

# --- the hook's environment under hostile events (genuine, signed: 200) --------------------
export_case() { # NAME EVENT_JSON [CONFIG LINES...]: sets S; the hook ran once
	local name=$1 event=$2; shift 2
	sealed exp "$(ev2 "ev-$name" "$COMPTYPE" "$event")"
	mksite "exp-$name" enc "$@"
	post_signed "$D/exp.body"
	verdict "export $name: 200, one job, the hook ran" 200 1
}
RUN="$HOOK"'; tr "\0" " " </proc/$$/cmdline >cmdline' export_case names '{"A=B":"v1","PATH":"/evil","LD_PRELOAD":"/tmp/evil.so","BASH_FUNC_x%%":"() { echo PWNED; }","BASH_ENV":"/tmp/evil","SHELLOPTS":"xtrace","PS4":"$(touch ps4)","IFS":"x","HOME":"/evil","lark_id":"forged","":"empty","a\u001bb":"esc","клю":"utf8","salary":"1"}'
safe_env "export names: only PATH, HOME, PWD, LARKHOOK, LARKHOOK_CONFIG and LARK_* reach the hook" "$S/hook.env"
check "export names: the hook's command line is the config's alone" \
	"sh -c $HOOK; tr \"\\0\" \" \" </proc/\$\$/cmdline >cmdline " "$(cat "$S/cmdline")"
env_check "export names: event keys only ever become LARK_EVENT_ names" "$S/hook.env" \
	LARK_EVENT_A_B=v1 LARK_EVENT_PATH=/evil LARK_EVENT_LD_PRELOAD=/tmp/evil.so \
	"LARK_EVENT_BASH_FUNC_X__=() { echo PWNED; }" LARK_EVENT_BASH_ENV=/tmp/evil \
	LARK_EVENT_LARK_ID=forged LARK_ID=ev-names '!LD_PRELOAD' '!BASH_ENV' '!SHELLOPTS' '!PS4' '!IFS' \
	"HOME=$(getent passwd "$OWNER" | cut -d: -f6)"
RUN="$HOOK; bash -c 'x 2>/dev/null; echo date' >bash.out 2>&1; sh -c true" \
	export_case shellshock "$(python3 -c 'import json; print(json.dumps({"a": "() { :;}; echo VULN >vuln1", "b": "() { (a)=>\\", "c": "() { _; } >_[$($())] { echo VULN >vuln2; }", "d": "$(touch vuln3)", "e": "`touch vuln4`", "BASH_FUNC_x%%": "() { echo VULN >vuln5; }"}))')"
check "export shellshock: no value ran as code in sh or bash" "date" \
	"$(cat "$S/bash.out" 2>/dev/null)$(cd "$S" && ls vuln* echo ps4 2>/dev/null)"
env_check "export shellshock: values reach the hook verbatim" "$S/hook.env" \
	'LARK_EVENT_A=() { :;}; echo VULN >vuln1' 'LARK_EVENT_D=$(touch vuln3)'
a200k=$(head -c 200000 /dev/zero | tr '\0' a)
export_case value-200k "{\"big\":\"$a200k\",\"small\":\"s\"}"
env_check "export value-200k: left out, LARK_TRUNCATED=1, the rest kept" "$S/hook.env" \
	'!LARK_EVENT_BIG' LARK_TRUNCATED=1 LARK_EVENT_SMALL=s
safe_env "export value-200k: the hook's environment is safe" "$S/hook.env"
check "export value-200k: LARK_JSON_FILE holds the whole event" "$(stat -c %s "$D/exp.plain")" \
	"$(stat -c %s "$S/hook.json" 2>/dev/null)"
export_case value-32768 "{\"v\":\"${a200k:0:32768}\"}"
env_check "export a value of exactly 32 KiB is kept" "$S/hook.env" "LARK_EVENT_V=${a200k:0:32768}" '!LARK_TRUNCATED'
export_case value-32769 "{\"v\":\"${a200k:0:32769}\"}"
env_check "export a value of 32 KiB + 1 is left out" "$S/hook.env" '!LARK_EVENT_V' LARK_TRUNCATED=1
ev=$(for i in $(seq 10); do printf '"v%d":"%s",' "$i" "${a200k:0:30000}"; done)
export_case total-cap "{${ev%,}}"
n=$(tr '\0' '\n' <"$S/hook.env" | grep '^LARK_EVENT_' | wc -c)
check_true "export 10 values of 30 KB: at most 256 KiB of LARK_EVENT_ ($n bytes), LARK_TRUNCATED=1" \
	test "$n" -le 262144 -a "$(env_val "$S/hook.env" LARK_TRUNCATED)" = 1
row="[$(rep 0, 999)0]"
wide="{\"a\":[$(rep "$row," 999)$row]}"
export_case amplifier-wide "$wide" "max_body = 4M"
n=$(env_names "$S/hook.env" | grep -vcx PWD)
check_true "export amplifier-wide (a million leaves): at most 1000 variables ($n), LARK_TRUNCATED=1" \
	test "$n" -le 1000 -a "$(env_val "$S/hook.env" LARK_TRUNCATED)" = 1
safe_env "export amplifier-wide: the hook's environment is safe" "$S/hook.env"
deep="{\"a\":$(rep '[' 62)0$(rep ']' 62)}"
export_case amplifier-deep "$deep"
n=$(env_names "$S/hook.env" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
check_true "export amplifier-deep: no variable name over 128 bytes ($n), LARK_TRUNCATED=1" \
	test "$n" -le 128 -a "$(env_val "$S/hook.env" LARK_TRUNCATED)" = 1

# --- ids and types as paths ---------------------------------------------------------------
# star sites: [on *] routes every type, so a hostile type is spooled and run
TAG=pwn$RANDOM$RANDOM
# outside CASE: nothing named after TAG anywhere under /tmp, and every name
# in the spool is larkhook's own (hex, digits, dots, a state)
outside() {
	local stray names
	stray=$(find /tmp /var/tmp -name "*$TAG*" 2>/dev/null | head -3)
	names=$(find "$S/larkhook-spool" -mindepth 1 2>/dev/null | sed "s|^$S/larkhook-spool/||" |
		grep -Ev '^[a-z]+(/[A-Za-z0-9._:,-]+)?$|^[a-z]+\.lock$' | head -3)
	if [ -z "$stray$names" ] && ! find "$S" | grep -q "$TAG"; then ok "$1: nothing written outside the spool"
	else fail "$1: nothing written outside the spool" "[$stray] [$names]"; fi
}
path_case() { # NAME MODE STATUS JOBS ID TYPE
	sealed path "$(ev2 "$5" "$6")"
	mksite "path-$((++SEQ))" "$2"
	post_signed "$D/path.body"
	verdict "$1" "$3" "$4"
	outside "$1"
}
up='../../../../../../../../../../tmp'
k10=$(head -c 10240 /dev/zero | tr '\0' a)
path_case "event_id $up/TAG: 200, spooled under its hash" enc 200 1 "$up/$TAG" "$COMPTYPE"
check "event_id $up/TAG: the hook saw the id as sent" "$up/$TAG" "$(env_val "$S/hook.env" LARK_ID)"
path_case "event_id /tmp/TAG/x: 200" enc 200 1 "/tmp/$TAG/x" "$COMPTYPE"
path_case "event_id with a newline: 400" enc 400 0 "$TAG\\n../x" "$COMPTYPE"
path_case "event_id of 10 KB: 400" enc 400 0 "$TAG$k10" "$COMPTYPE"
path_case "event type $up/TAG, no hook for it: 200, nothing spooled" enc 200 0 ev-p1 "$up/$TAG"
path_case "event type $up/TAG with [on *]: 200, spooled, hook run" star 200 1 ev-p2 "$up/$TAG"
check "event type $up/TAG: LARK_TYPE as sent" "$up/$TAG" "$(env_val "$S/hook.env" LARK_TYPE)"
path_case "event type /tmp/TAG with [on *]: 200" star 200 1 ev-p3 "/tmp/$TAG"
path_case "event type with a newline, [on *]: 400" star 400 0 ev-p4 "a\\n$TAG"
path_case "event type of 10 KB, [on *]: 400" star 400 0 ev-p5 "$TAG$k10"
path_case "event type with a NUL escape: 400" star 400 0 ev-p6 "a\\u0000$TAG"
sealed v1path "{\"ts\":\"1\",\"uuid\":\"$up/$TAG.v1\",\"token\":\"$TOKEN\",\"type\":\"event_callback\",\"event\":{\"type\":\"$up/$TAG\"}}"
mksite path-v1 star
post_signed "$D/v1path.body"
verdict "schema 1.0: uuid and event.type $up/TAG: 200, spooled" 200 1
outside "schema 1.0 uuid and type as paths"

# --- log injection: one line per request, control bytes escaped -------------------------------
log_case() { # NAME MODE STATUS JOBS ID TYPE
	sealed logi "$(ev2 "$5" "$6")"
	mksite "log-$((++SEQ))" "$2"
	post_signed "$D/logi.body"
	verdict "$1" "$3" "$4"
}
log_case "type with CR: 400, one log line" enc 400 0 ev-l1 'a\rstatus=200 reason=\"forged\"'
# a refused identity is still shown, escaped (doc/6-hostile.md §6.4)
check_true "... the refused type is in the log, escaped, with its id" \
	grep -qF 'status=400 reason="event type is missing or not 1-256 printable ASCII bytes" type="a\x0dstatus=200 reason=\x22forged\x22" id="ev-l1"' "$S/larkhook.log"
log_case "type with LF: 400, one log line" enc 400 0 ev-l2 'a\n2000-01-01T00:00:00Z larkhook[1]: status=200'
log_case "type with ESC: 400, one log line" enc 400 0 ev-l3 'a\u001b[2Jb'
log_case "type with DEL: 400, one log line" enc 400 0 ev-l4 'a\u007fb'
log_case "event_id with CR LF ESC: 400, one log line" enc 400 0 'x\r\n\u001b' "$COMPTYPE"
check_true "... the refused id is in the log, escaped, with its type" \
	grep -qF "status=400 reason=\"event id is missing or not 1-256 printable ASCII bytes\" type=\"$COMPTYPE\" id=\"x\\x0d\\x0a\\x1b\"" "$S/larkhook.log"
x300=$(head -c 300 /dev/zero | tr '\0' x)
log_case "event_id of 300 bytes with a tab: 400, one log line" enc 400 0 "\\t$x300" "$COMPTYPE"
check_true "... the refused id is in the log, escaped and cut to 256 bytes" \
	grep -qF "type=\"$COMPTYPE\" id=\"\\x09${x300:0:255}...\"" "$S/larkhook.log"
# shellcheck disable=SC1003 # a JSON escape: one backslash
log_case "type with quote and backslash: 200 (printable), one log line" enc 200 0 ev-l5 'a\" status=200 reason=\"x\\'
check_true "... quote and backslash of the type are escaped in the log" \
	grep -qF 'type="a\x22 status=200 reason=\x22x\x5c"' "$S/larkhook.log"
log_case "event_id with quotes: 200, one log line" enc 200 1 'id\" status=500 reason=\"forged' "$COMPTYPE"
check_true "... the id's quotes are escaped in the log" grep -qF 'id="id\x22 status=500 reason=\x22forged"' "$S/larkhook.log"
q256=$(head -c 256 /dev/zero | tr '\0' '"' | sed 's/"/\\"/g')
log_case "type of 256 quotes: 200, one log line" enc 200 0 ev-l6 "$q256"
check_true "... all 256 escaped" grep -qF "type=\"$(head -c 256 /dev/zero | tr '\0' '"' | sed 's/"/\\x22/g')\"" "$S/larkhook.log"
RUN="$HOOK; printf 'out\\r\\033[31mred\\001\\n'" log_case "hook output with CR and ESC: 200" enc 200 1 ev-l7 "$COMPTYPE"
check_true "... the hook's output is logged escaped" grep -qF 'out\x0d\x1b[31mred\x01' "$S/larkhook.log"

# --- a real server: header names in any case, merged duplicates, Proxy -----------------------
RUN='echo ran >>hook.ran; env -0 >"env.$LARK_ID"' mksite lighttpd enc
if lighttpd_start hostile-lighttpd cgi "$S"; then
	URL=http://127.0.0.1:$PORT/larkhook
	ltpost() { # ID HEADERS...: prints the status
		local id=$1 sig h args=(); shift
		sealed "lt-$id" "$(ev2 "$id" "$COMPTYPE")"
		sig=$(sign "$D/lt-$id.body")
		for h in "$@"; do args+=(-H "${h//@SIG@/$sig}"); done
		curl -s -m 10 -o "$T/lt.out" -w '%{http_code}' "${args[@]}" --data-binary "@$D/lt-$id.body" "$URL"
	}
	check "lighttpd: lower-case header names: 200" 200 \
		"$(ltpost lt-lower "x-lark-signature: @SIG@" "x-lark-request-timestamp: $TS" "x-lark-request-nonce: $NONCE")"
	check "lighttpd: upper-case header names: 200" 200 \
		"$(ltpost lt-upper "X-LARK-SIGNATURE: @SIG@" "X-LARK-REQUEST-TIMESTAMP: $TS" "X-LARK-REQUEST-NONCE: $NONCE")"
	check "lighttpd: the signature header twice (merged \"a, b\"): 401" 401 \
		"$(ltpost lt-dup "X-Lark-Signature: @SIG@" "X-Lark-Signature: @SIG@" "X-Lark-Request-Timestamp: $TS" "X-Lark-Request-Nonce: $NONCE")"
	check "lighttpd: a Proxy header with a genuine event: 200" 200 \
		"$(ltpost lt-proxy "Proxy: http://127.0.0.1:9" "X-Lark-Signature: @SIG@" "X-Lark-Request-Timestamp: $TS" "X-Lark-Request-Nonce: $NONCE")"
	check "lighttpd: three events stored, three hook runs" "3 3" "$(queued "$S/larkhook-spool") $(hook_runs)"
	safe_env "lighttpd: Proxy header: the hook's environment has nothing of the server's" "$S/env.lt-proxy"
	check "lighttpd: the log holds no secret or event value" 0 \
		"$(grep -cF -e "$KEY" -e "$TOKEN" -e "$SAL" "$S/larkhook.log")"
fi
