#!/usr/bin/env node
'use strict';
// frame-vectors.js: pbbp2 frames encoded by the official Node SDK's own
// protobuf code (npm @larksuiteoapi/node-sdk, tests/node/package.json),
// printed as JSON: the test vectors of tests/data/frames.json, for the C
// codec's unit tests (doc/10-connect.md §10.1).
//
//   NODE_PATH=tests/node/node_modules node tests/emu/frame-vectors.js >tests/data/frames.json
//
// Each vector: name, note, hex (the frame's bytes), valid, and for a valid
// one the decoded frame (SeqID and LogID as decimal strings, headers,
// payload as text when UTF-8 else payload_hex, the optional fields when
// present); for an invalid one the SDK decoder's error. The ack vectors
// are what the SDK's WSClient itself sends back for an event frame (its
// private handleEventData, with sendMessage captured), not a re-creation.
// The emulator's codec (tests/emu/pbbp2.js) is checked against these too.
const path = require('path');
const lark = require('@larksuiteoapi/node-sdk');
const sdkDir = path.dirname(require.resolve('@larksuiteoapi/node-sdk/package.json'));
const $pb = require(require.resolve('protobufjs/minimal', { paths: [sdkDir] }));
const Frame = $pb.roots.default.pbbp2.Frame;
const SDK_VERSION = require('@larksuiteoapi/node-sdk/package.json').version;

const long = (v) => { v = BigInt(v); return { low: Number(v & 0xffffffffn), high: Number(v >> 32n) }; };
const hex = (b) => Buffer.from(b).toString('hex');

// described frame -> the SDK's message object
function sdkFrame(f) {
	const o = { SeqID: long(f.SeqID), LogID: long(f.LogID), service: f.service, method: f.method, headers: f.headers || [] };
	if (f.payload_encoding !== undefined) o.payloadEncoding = f.payload_encoding;
	if (f.payload_type !== undefined) o.payloadType = f.payload_type;
	if (f.payload !== undefined) o.payload = Buffer.from(f.payload);
	if (f.LogIDNew !== undefined) o.LogIDNew = f.LogIDNew;
	return o;
}
// what a decoder must find in the bytes
function describe(f) {
	const d = { SeqID: String(f.SeqID), LogID: String(f.LogID), service: f.service, method: f.method, headers: f.headers || [] };
	for (const k of ['payload_encoding', 'payload_type', 'LogIDNew']) if (f[k] !== undefined) d[k] = f[k];
	if (f.payload !== undefined) {
		const b = Buffer.from(f.payload);
		if (Buffer.from(b.toString()).equals(b)) d.payload = b.toString();
		else d.payload_hex = hex(b);
	}
	return d;
}

const SERVICE = 33554678;
const CC = { ReconnectCount: -1, ReconnectInterval: 120, ReconnectNonce: 30, PingInterval: 120 };
const event = JSON.stringify({
	schema: '2.0',
	header: {
		event_id: 'f7984f25108f8137722bb63cee927e66', event_type: 'compensation.archive.changed_v1',
		create_time: '1700000000000', token: '', app_id: 'cli_a1b2c3d4e5f60001', tenant_key: '2ca1d211f64f6438',
	},
	event: { operate_type: 'modify', employment_id: '7140964208476371111', note: '\u4e2d\u6587' },
});
const evHeaders = (sum, seq, type = 'event') => [
	{ key: 'type', value: type }, { key: 'message_id', value: 'a2f1c0de5b6e4f0f9c3b0e2d1a4b5c6d' },
	{ key: 'sum', value: String(sum) }, { key: 'seq', value: String(seq) },
	{ key: 'trace_id', value: '3c9e1f7a2b4d6e80' }, { key: 'timestamp', value: '1700000000123' },
];

const vectors = [];
function valid(name, note, f) {
	const bytes = Buffer.from(Frame.encode(sdkFrame(f)).finish());
	vectors.push({ name, note, valid: true, hex: hex(bytes), frame: describe(f) });
	return bytes;
}
function invalid(name, note, bytes) {
	let err = null;
	try { Frame.decode(bytes); } catch (e) { err = e.message; }
	if (!err) throw new Error(`${name}: the SDK decodes it`);
	vectors.push({ name, note, valid: false, hex: hex(bytes), sdk_error: err });
}

// as WSClient.pingLoop builds it
valid('ping', 'what the SDK sends every PingInterval: SeqID 0, LogID 0, service = service_id of the URL, method 0 (control)',
	{ SeqID: 0, LogID: 0, service: SERVICE, method: 0, headers: [{ key: 'type', value: 'ping' }] });
valid('pong-config', 'a pong carrying a ClientConfig JSON (seconds)',
	{ SeqID: 0, LogID: 0, service: SERVICE, method: 0, headers: [{ key: 'type', value: 'pong' }], payload: JSON.stringify(CC) });
valid('pong-empty', 'a pong without a payload', { SeqID: 0, LogID: 0, service: SERVICE, method: 0, headers: [{ key: 'type', value: 'pong' }] });
const whole = { SeqID: 1, LogID: 7300000000000001, service: SERVICE, method: 1, headers: evHeaders(1, 0), payload: event };
valid('event-whole', 'an event frame, sum 1 seq 0, payload the plaintext event JSON', whole);
const pb = Buffer.from(event);
const cut = 100;	// inside no multibyte character; the last piece ends in one
const frags = [pb.subarray(0, cut), pb.subarray(cut, 2 * cut), pb.subarray(2 * cut)];
frags.forEach((p, i) => valid(`event-fragment-${i}`, `fragment ${i} of 3 of event-whole's payload (joined in seq order they give it back)`,
	{ SeqID: 2 + i, LogID: 7300000000000002 + i, service: SERVICE, method: 1, headers: evHeaders(3, i), payload: p }));
const u8 = Buffer.from('{"k":"\u4e2d"}');
valid('event-fragment-utf8-cut', 'a fragment whose payload ends inside a UTF-8 character (bytes, not text)',
	{ SeqID: 5, LogID: 7300000000000005, service: SERVICE, method: 1, headers: evHeaders(2, 0), payload: u8.subarray(0, 7) });
valid('card-whole', 'a card callback frame (type=card)',
	{ SeqID: 6, LogID: 7300000000000006, service: SERVICE, method: 1, headers: evHeaders(1, 0, 'card'), payload: '{"schema":"2.0","header":{"event_type":"card.action.trigger"}}' });
valid('all-fields', 'every field set, uint64 at their maximum and above 2^63, a negative int32 service (ten-byte varint)',
	{ SeqID: 18446744073709551615n, LogID: 9223372036854775809n, service: -2, method: 1, headers: [{ key: 'k', value: '' }, { key: '', value: 'v' }],
		payload_encoding: 'json', payload_type: 'event', payload: '{}', LogIDNew: '02abc' });
valid('zero-required-only', 'only the four required fields, all 0', { SeqID: 0, LogID: 0, service: 0, method: 0 });
valid('empty-payload', 'payload present but empty (field 8, length 0)', { SeqID: 7, LogID: 8, service: SERVICE, method: 1, headers: evHeaders(1, 0), payload: '' });

// unknown fields: appended by hand (the SDK's encoder knows only its own)
{
	const base = Buffer.from(Frame.encode(sdkFrame(whole)).finish());
	const extra = Buffer.from([
		0x50, 0x2a,			// field 10, varint 42
		0x5a, 0x03, 0x61, 0x62, 0x63,	// field 11, bytes "abc"
		0x61, 1, 2, 3, 4, 5, 6, 7, 8,	// field 12, fixed64
		0x6d, 1, 2, 3, 4,		// field 13, fixed32
	]);
	const bytes = Buffer.concat([base, extra]);
	const d = Frame.decode(bytes);
	if (String(d.payload) !== event) throw new Error('unknown fields: the SDK does not skip them');
	vectors.push({ name: 'unknown-fields', note: 'event-whole followed by fields 10-13 (varint, bytes, fixed64, fixed32), appended by hand; the SDK skips them', valid: true, hex: hex(bytes), frame: describe(whole) });
}

// invalid: each a required field short, or cut short
{
	const ev = Buffer.from(Frame.encode(sdkFrame(whole)).finish());
	// field 1 is the first: 0x08 + varint(1)
	invalid('missing-seqid', 'event-whole without field 1 (SeqID)', ev.subarray(2));
	const noMethod = Buffer.from(Frame.encode(sdkFrame({ ...whole, method: 0 })).finish());
	// drop "0x20 0x00" (field 4, method 0)
	const i = noMethod.indexOf(Buffer.from([0x20, 0x00]));
	invalid('missing-method', 'event-whole with method 0 and field 4 left out', Buffer.concat([noMethod.subarray(0, i), noMethod.subarray(i + 2)]));
	invalid('truncated', 'event-whole cut 10 bytes short (inside the payload)', ev.subarray(0, ev.length - 10));
	invalid('bad-length', 'a header whose length runs past the end', Buffer.from('0800100018002001' + '2aff01', 'hex'));
	invalid('header-without-value', 'a header with a key and no value (Header.value is required)', Buffer.from('0800100018002001' + '2a03' + '0a0161', 'hex'));
}

// the SDK's own ack: WSClient.handleEventData on event-whole and on the three
// fragments, its sendMessage captured (biz_rt is start - end in ms, as the
// SDK computes it: "0" or negative)
async function acks() {
	const out = [];
	const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, trace: () => {} };
	const client = new lark.WSClient({ appId: 'cli_a1b2c3d4e5f60001', appSecret: 's', logger: quiet });
	client.eventDispatcher = new lark.EventDispatcher({ logger: quiet }).register({
		'compensation.archive.changed_v1': async () => undefined,
		'performance.review_data.changed_v2': async () => ({ toast: { type: 'info', content: 'ok' } }),
	});
	client.sendMessage = (m) => out.push(m);
	const run = async (bytes) => {
		out.length = 0;
		await client.handleEventData(Frame.decode(bytes));
		return out.length ? Buffer.from(Frame.encode(out[0]).finish()) : null;
	};
	const take = (name, note, bytes) => {
		const d = Frame.decode(bytes);
		vectors.push({ name, note, valid: true, hex: hex(bytes), frame: describe({
			SeqID: String(d.SeqID), LogID: String(d.LogID), service: d.service, method: d.method,
			headers: d.headers.map((h) => ({ key: h.key, value: h.value })), payload: Buffer.from(d.payload),
		}) });
	};
	take('sdk-ack-whole', "the SDK's ack of event-whole: same SeqID, LogID, service, method, its headers echoed, biz_rt added, payload {\"code\":200}",
		await run(Buffer.from(Frame.encode(sdkFrame(whole)).finish())));
	let last = null;
	for (const i of [2, 0, 1]) {
		last = await run(Buffer.from(Frame.encode(sdkFrame({ SeqID: 2 + i, LogID: 7300000000000002 + i, service: SERVICE, method: 1, headers: evHeaders(3, i), payload: frags[i] })).finish())) || last;
	}
	take('sdk-ack-fragments', "the SDK's ack of event-fragment-0..2 sent 2 0 1: one ack, echoing the frame that completed the set (fragment 1)", last);
	const rv = JSON.parse(event);
	rv.header.event_type = 'performance.review_data.changed_v2';
	rv.header.event_id = 'b7984f25108f8137722bb63cee927e67';
	take('sdk-ack-data', "the SDK's ack when the handler returns a value: payload {\"code\":200,\"data\":base64 of its JSON}",
		await run(Buffer.from(Frame.encode(sdkFrame({ ...whole, SeqID: 9, payload: JSON.stringify(rv) })).finish())));
	client.close({ force: true });
}

acks().then(() => {
	process.stdout.write(JSON.stringify({
		about: 'pbbp2.Frame test vectors (Feishu long connection), encoded by the official Node SDK\'s protobuf code ' +
			`(@larksuiteoapi/node-sdk ${SDK_VERSION}); made by: NODE_PATH=tests/node/node_modules node tests/emu/frame-vectors.js >tests/data/frames.json ` +
			'(see that script). "unknown-fields" and the invalid vectors are edited by hand from SDK output; the sdk-ack-* vectors are what WSClient itself sends. ' +
			'SeqID and LogID are decimal strings (uint64); payload is text when it is valid UTF-8, else payload_hex.',
		sdk: `@larksuiteoapi/node-sdk ${SDK_VERSION}`,
		vectors,
	}, null, 1) + '\n');
}, (e) => { console.error(e); process.exit(1); });
