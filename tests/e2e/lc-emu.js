'use strict';
// lc-emu.js: the official Node SDK's WSClient against the long-connection
// emulator (tests/emu/lc.js), run by lc-emu.sh. An independent client
// checks the emulator before larkhook is tested against it: endpoint,
// handshake, pings and pongs (their ClientConfig applied), whole and
// fragmented events, acks and their echoed headers, ack data, reconnect
// after a close, and the emulator's codec against the SDK's own.
// Usage: node lc-emu.js EMU_URL APP_ID APP_SECRET; prints ok / FAIL lines.
const http = require('http');
const https = require('https');
const path = require('path');
const lark = require('@larksuiteoapi/node-sdk');
const pb = require(path.join(__dirname, '..', 'emu', 'pbbp2'));

const [EMU, APP_ID, APP_SECRET, MODE] = process.argv.slice(2);
const web = EMU.startsWith('https:') ? https : http;
let failed = 0;
const ok = (n) => console.log(`ok - ${n}`);
const fail = (n, why) => { failed++; console.log(`FAIL - ${n}${why ? ': ' + why : ''}`); };
const check = (n, want, got) => {
	const w = JSON.stringify(want), g = JSON.stringify(got);
	if (w === g) ok(n); else fail(n, `expected ${w}, got ${g}`);
};
const truthy = (n, v, why) => (v ? ok(n) : fail(n, why));

function req(method, p, body) {
	return new Promise((resolve, reject) => {
		const u = new URL(EMU + p);
		const data = body === undefined ? null : Buffer.from(JSON.stringify(body));
		const r = web.request(u, {
			method, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {},
		}, (res) => {
			const chunks = [];
			res.on('data', (d) => chunks.push(d));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString();
				let json = null;
				try { json = JSON.parse(text); } catch (e) { /* left null */ }
				resolve({ status: res.statusCode, json, text });
			});
		});
		r.on('error', reject);
		if (data) r.write(data);
		r.end();
	});
}
const get = (p) => req('GET', p);
const post = (p, b) => req('POST', p, b || {});
const wait = (q) => get(`/_emu/wait?${q}&timeout=15`);

// the SDK's own protobuf code: the SDK registers pbbp2 in protobufjs's
// default root when loaded
const sdkDir = path.dirname(require.resolve('@larksuiteoapi/node-sdk/package.json'));
const $pb = require(require.resolve('protobufjs/minimal', { paths: [sdkDir] }));
const SdkFrame = $pb.roots.default.pbbp2 && $pb.roots.default.pbbp2.Frame;

function codec() {
	if (!SdkFrame) return fail('the SDK exposes its pbbp2.Frame', 'not in protobufjs roots.default');
	const frames = [
		{ SeqID: 0n, LogID: 0n, service: 0, method: 0, headers: [] },
		{ SeqID: 1n, LogID: 2n, service: 33554678, method: 0, headers: [{ key: 'type', value: 'ping' }] },
		{
			SeqID: 18446744073709551615n, LogID: 9223372036854775809n, service: -7, method: 1,
			headers: [{ key: 'type', value: 'event' }, { key: 'message_id', value: 'm\u00e9' }, { key: 'sum', value: '1' }],
			payload_encoding: 'json', payload_type: 'x', payload: Buffer.from('{"a":"\u4e2d"}'), LogIDNew: 'n',
		},
	];
	// uint64 as protobufjs's {low, high} (its util.Long is not loaded here)
	const long = (v) => ({ low: Number(v & 0xffffffffn), high: Number(v >> 32n) });
	const toSdk = (f) => {
		const o = {
			SeqID: long(f.SeqID), LogID: long(f.LogID),
			service: f.service, method: f.method, headers: f.headers,
		};
		if (f.payload_encoding !== undefined) o.payloadEncoding = f.payload_encoding;
		if (f.payload_type !== undefined) o.payloadType = f.payload_type;
		if (f.payload !== undefined) o.payload = f.payload;
		if (f.LogIDNew !== undefined) o.LogIDNew = f.LogIDNew;
		return o;
	};
	let same = true, round = true;
	for (const f of frames) {
		const mine = pb.encode(f);
		const theirs = Buffer.from(SdkFrame.encode(toSdk(f)).finish());
		if (!mine.equals(theirs)) { same = false; console.log(`# mine ${mine.toString('hex')}\n# sdk  ${theirs.toString('hex')}`); }
		const back = SdkFrame.decode(mine);
		const d = pb.decode(theirs);
		// the SDK decodes uint64 into a Number: exact only up to 2^53
		const num = (v) => (v <= 2n ** 53n ? v.toString() : String(Number(v)));
		if (String(back.SeqID) !== num(f.SeqID) || String(back.LogID) !== num(f.LogID) ||
			d.SeqID !== f.SeqID || d.LogID !== f.LogID ||
			d.service !== f.service || back.service !== f.service ||
			JSON.stringify(d.headers) !== JSON.stringify(f.headers) ||
			String(d.payload) !== String(f.payload)) round = false;
	}
	truthy('the emulator encodes frames byte for byte as the SDK does', same);
	truthy('each decodes what the other encodes (uint64 above 2^63, negative int32, UTF-8)', round);
	let refused = false;
	try { pb.decode(Buffer.from(SdkFrame.encode({ SeqID: 1, LogID: 1, service: 1, method: 1 }).finish()).subarray(2)); } catch (e) { refused = true; }
	truthy('the emulator refuses a frame without a required field, as the SDK does', refused);

	// tests/data/frames.json (made by tests/emu/frame-vectors.js from the SDK)
	const vec = require(path.join(__dirname, '..', 'data', 'frames.json'));
	const bad = [];
	for (const v of vec.vectors) {
		const bytes = Buffer.from(v.hex, 'hex');
		let d = null, err = null;
		try { d = pb.decode(bytes); } catch (e) { err = e.message; }
		if (!v.valid) { if (!err) bad.push(`${v.name}: decoded`); continue; }
		if (err) { bad.push(`${v.name}: ${err}`); continue; }
		const f = v.frame;
		const pl = f.payload !== undefined ? Buffer.from(f.payload) : f.payload_hex !== undefined ? Buffer.from(f.payload_hex, 'hex') : undefined;
		const same = d.SeqID.toString() === f.SeqID && d.LogID.toString() === f.LogID && d.service === f.service &&
			d.method === f.method && JSON.stringify(d.headers) === JSON.stringify(f.headers) &&
			(pl === undefined ? d.payload === undefined : d.payload && d.payload.equals(pl)) &&
			['payload_encoding', 'payload_type', 'LogIDNew'].every((k) => d[k] === f[k]);
		if (!same) bad.push(`${v.name}: decoded differently`);
		// re-encoding gives the same bytes (not for the hand-made unknown fields)
		if (v.name !== 'unknown-fields' && !pb.encode(d).equals(bytes)) bad.push(`${v.name}: encodes differently`);
	}
	check(`the emulator's codec agrees with tests/data/frames.json (${vec.vectors.length} vectors from the SDK)`, [], bad);
}

// a bare WebSocket handshake: resolves {status, headers}
function handshake(url) {
	return new Promise((resolve, reject) => {
		const u = new URL(url.replace(/^ws:/, 'http:'));
		const r = http.get(u, {
			headers: {
				Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
				'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
			},
		});
		r.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode, headers: res.headers }); });
		r.on('response', (res) => { res.resume(); resolve({ status: res.statusCode, headers: res.headers }); });
		r.on('error', reject);
	});
}

// the gateway without the SDK in the way
async function gateway() {
	const body = { AppID: APP_ID, AppSecret: APP_SECRET };
	const ep = await new Promise((resolve, reject) => {
		const data = Buffer.from(JSON.stringify(body));
		const r = http.request(new URL(EMU + '/callback/ws/endpoint'), {
			method: 'POST', headers: { locale: 'zh', 'Content-Type': 'application/json', 'Content-Length': data.length },
		}, (res) => { const c = []; res.on('data', (d) => c.push(d)); res.on('end', () => resolve(JSON.parse(Buffer.concat(c)))); });
		r.on('error', reject);
		r.end(data);
	});
	const url = ep.data.URL;
	const q = new URL(url).searchParams;
	check('the endpoint URL: ws://127.0.0.1, device_id, service_id (int32), ticket',
		[true, true, true, true], [url.startsWith(EMU.replace(/^http:/, 'ws:') + '/'), /^\d+$/.test(q.get('device_id')),
			Number(q.get('service_id')) === (Number(q.get('service_id')) | 0), !!q.get('ticket')]);
	let h = await handshake(url);
	check('the gateway accepts that URL', 101, h.status);
	await post('/_emu/handshake-mode', { status: 514, times: 1 });
	h = await handshake(url);
	check('handshake-mode 514 (once): Handshake-Status 514, Handshake-Autherrcode 1000040350, a message',
		['514', '1000040350', true], [h.headers['handshake-status'], h.headers['handshake-autherrcode'], !!h.headers['handshake-msg']]);
	h = await handshake(url);
	check('then the handshake is accepted again', 101, h.status);
	await post('/_emu/handshake-mode', { status: 403, times: 1 });
	h = await handshake(url);
	check('handshake-mode 403: Handshake-Status 403, no autherrcode', ['403', undefined],
		[h.headers['handshake-status'], h.headers['handshake-autherrcode']]);
	const wrong = new URL(url);
	wrong.searchParams.set('device_id', '1');
	h = await handshake(wrong.toString());
	check('a device_id the endpoint never handed out: refused 403', '403', h.headers['handshake-status']);
	const r = await wait('live=0&closed=2');
	truthy('the bare handshakes are counted as connections opened and closed', r.status === 200, JSON.stringify(r.json));

	// with a bare WebSocket client: a silent connection records pings and
	// answers none; the connection limit; an abrupt reset
	const WebSocket = require('ws');
	const dial = async () => {
		const e = await new Promise((resolve, reject) => {
			const data = Buffer.from(JSON.stringify(body));
			const rq = http.request(new URL(EMU + '/callback/ws/endpoint'), {
				method: 'POST', headers: { locale: 'zh', 'Content-Type': 'application/json', 'Content-Length': data.length },
			}, (res) => { const c = []; res.on('data', (d) => c.push(d)); res.on('end', () => resolve(JSON.parse(Buffer.concat(c)))); });
			rq.on('error', reject);
			rq.end(data);
		});
		const w = new WebSocket(e.data.URL);
		w.frames = [];
		w.on('message', (m) => w.frames.push(pb.decode(m)));
		w.on('error', () => {});
		const opened = await new Promise((resolve) => { w.on('open', () => resolve(true)); w.on('unexpected-response', (q, res) => resolve(res)); });
		return { w, opened };
	};
	const ping = { SeqID: 0n, LogID: 0n, service: Number(q.get('service_id')), method: 0, headers: [{ key: 'type', value: 'ping' }] };
	await post('/_emu/reset');
	const a = await dial();
	a.w.send(pb.encode(ping));
	let r2 = await wait('pings=1');
	// resolves once the client holds n frames (or false after 10 s)
	const pongWait = (w, n) => new Promise((resolve) => {
		if (w.frames.length >= n) return resolve(true);
		const on = () => { if (w.frames.length >= n) { clearTimeout(t); w.off('message', on); resolve(true); } };
		const t = setTimeout(() => { w.off('message', on); resolve(false); }, 10000);
		w.on('message', on);
	});
	await pongWait(a.w, 1);
	check('a bare ping gets a pong carrying the ClientConfig', ['pong', true],
		[a.w.frames[0] && pb.headerMap(a.w.frames[0]).type, !!(a.w.frames[0] && JSON.parse(a.w.frames[0].payload).PingInterval)]);
	await post('/_emu/pong', { conn: 'all', config: { PingInterval: 7 } });
	await pongWait(a.w, 2);
	check('/_emu/pong: a pong with the given ClientConfig, unasked', ['pong', 7],
		[a.w.frames[1] && pb.headerMap(a.w.frames[1]).type, a.w.frames[1] && JSON.parse(a.w.frames[1].payload).PingInterval]);
	a.w.frames.length = 0;
	await post('/_emu/silence', { conn: 'all' });
	a.w.send(pb.encode(ping));
	r2 = await wait('pings=2');
	// a later frame on the same connection would come after a pong: push to it by name
	const st0 = (await get('/_emu/state')).json;
	await post('/_emu/push', { conn: st0.connections[0].id });
	await pongWait(a.w, 1);
	check('a silent connection records the ping and answers nothing, still delivers what is pushed to it by name',
		[200, 1, 'event'], [r2.status, a.w.frames.length, a.w.frames[0] && pb.headerMap(a.w.frames[0]).type]);
	check('push to "random" skips a silent connection', 409, (await post('/_emu/push', {})).status);
	await post('/_emu/config', { max_conns: 1 });
	const b = await dial();
	check('past max_conns a handshake is refused 514 / 1000040350', ['514', '1000040350'],
		[b.opened.headers && b.opened.headers['handshake-status'], b.opened.headers && b.opened.headers['handshake-autherrcode']]);
	await post('/_emu/config', { max_conns: 0 });
	const closedAt = await new Promise((resolve) => {
		a.w.on('close', (code) => resolve(code));
		post('/_emu/close', { conn: 'all', abrupt: 'rst' });
	});
	check('an abrupt close: the client sees no close frame (1006)', 1006, closedAt);
	await post('/_emu/reset');
}

// evt(ID, MORE): a compensation event with that event_id, MORE merged
// into its event body
function evt(id, more = {}) {
	return {
		schema: '2.0',
		header: {
			event_id: id, event_type: 'compensation.archive.changed_v1', create_time: String(Date.now()),
			token: '', app_id: APP_ID, tenant_key: '2ca1d211f64f6438',
		},
		event: { operate_type: 'modify', employment_id: '7140964208476371111', ...more },
	};
}
const state = async () => (await get('/_emu/state')).json;

// sdk(): the SDK's WSClient started on the emulator: its handlers keep what
// they get in x.seen, fail once for an event_id in x.failOnce, answer for
// performance.review_data.changed_v2
async function sdk() {
	const x = { seen: [], failOnce: new Set() };
	x.dispatcher = new lark.EventDispatcher({ loggerLevel: lark.LoggerLevel.error }).register({
		'compensation.archive.changed_v1': async (data) => {
			if (x.failOnce.delete(data.event_id)) throw new Error('failing once on purpose');
			x.seen.push(data);
		},
		'performance.review_data.changed_v2': async () => ({ answer: 'from the handler' }),
	});
	x.quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, trace: () => {} };
	// the endpoint's ClientConfig, then another one in pongs
	await post('/_emu/config', {
		client_config: { PingInterval: 120, ReconnectNonce: 0, ReconnectInterval: 0.2, ReconnectCount: -1 },
		pong_config: { PingInterval: 90, ReconnectNonce: 0, ReconnectInterval: 0.3, ReconnectCount: -1 },
	});
	x.client = new lark.WSClient({
		appId: APP_ID, appSecret: APP_SECRET, domain: EMU, logger: x.quiet, loggerLevel: lark.LoggerLevel.error,
	});
	x.client.start({ eventDispatcher: x.dispatcher });
	return x;
}

// the SDK's endpoint request and first ping
async function connected() {
	const r = await wait('conns=1&pings=1');
	truthy('the SDK asks the endpoint, connects and pings', r.status === 200, JSON.stringify(r.json));
	const st = await state();
	const ep = st.endpoint[0];
	check('endpoint request: method, locale, Content-Type, no problem',
		['POST', 'zh', true, []],
		[ep && ep.method, ep && ep.headers.locale, /^application\/json/.test(ep && ep.headers['content-type']), ep && ep.problems]);
	check('endpoint request body', { AppID: APP_ID, AppSecret: APP_SECRET }, ep && JSON.parse(ep.body));
	const ping = st.pings[0];
	check('a ping: method 0 frame, type=ping, service = the service_id of the URL',
		[true, 'type', 'ping'], [ping.service_ok, ping.headers[0].key, ping.headers[0].value]);
}

// events whole, in fragments, incomplete, answered, with big ids, in
// WebSocket continuations
async function events(x) {
	const seen = x.seen;
	let r, st, ack;
	// a whole event
	const ev1 = evt('lcemu-whole-0001', { note: 'whole' });
	r = await post('/_emu/push', { event: ev1, wait: true });
	truthy('a whole event is acked', r.status === 200, r.text);
	ack = r.json && r.json.ack;
	check('its ack: payload {"code":200}', '{"code":200}', ack && ack.payload);
	truthy('its ack echoes SeqID, LogID, service and every header of the frame', ack && ack.echo_ok,
		ack && ack.echo_problems.join('; '));
	check("its ack adds the SDK's biz_rt header", true, !!(ack && ack.headers.some((h) => h.key === 'biz_rt')));
	check('the handler got the event', ['lcemu-whole-0001', 'whole'], [seen[0]?.event_id, seen[0]?.note]);
	// the pong answered the first ping, before this event on the same socket
	const ws = x.client.wsConfig && x.client.wsConfig.getWS();
	check("the SDK took the pong's ClientConfig (ping 90 s, reconnect 0.3 s; the endpoint said 120 s, 0.2 s)",
		[90000, 300], [ws && ws.pingInterval, ws && ws.reconnectInterval]);

	// a fragmented event, fragments out of order, cut inside a UTF-8 character
	const ev2 = evt('lcemu-frag-0002', { note: '\u5206\u7247'.repeat(40) });
	r = await post('/_emu/push', { event: ev2, fragments: 5, order: [3, 0, 4, 2, 1], wait: true });
	truthy('a fragmented event (5 pieces, sent 3 0 4 2 1) is acked', r.status === 200, r.text);
	ack = r.json && r.json.ack;
	check('its ack: {"code":200}, headers echoed', ['{"code":200}', true], [ack && ack.payload, ack && ack.echo_ok]);
	check('its ack is for the fragment that completed the set (seq 1 of sum 5)', ['1', '5'],
		[ack && ack.headers.find((h) => h.key === 'seq').value, ack && ack.headers.find((h) => h.key === 'sum').value]);
	check('the handler got the reassembled event', ['lcemu-frag-0002', ev2.event.note], [seen[1]?.event_id, seen[1]?.note]);

	// an incomplete set is never handed on nor acked
	const ev3 = evt('lcemu-incomplete-0003');
	const inc = await post('/_emu/push', { event: ev3, fragments: 3, omit: [1] });
	// a later whole event is acked; by then the incomplete one would have been too
	const ev4 = evt('lcemu-after-0004');
	r = await post('/_emu/push', { event: ev4, wait: true });
	st = (await get('/_emu/state')).json;
	check('an incomplete set (fragment 1 of 3 never sent) is not acked nor handled',
		[0, false, 'lcemu-after-0004'],
		[st.acks.filter((a) => a.message_id === inc.json.message_id).length,
			seen.some((e) => e.event_id === 'lcemu-incomplete-0003'), seen[seen.length - 1]?.event_id]);

	// a handler's answer comes back as the ack's data (base64 of JSON)
	const ev5 = evt('lcemu-answer-0005');
	ev5.header.event_type = 'performance.review_data.changed_v2';
	r = await post('/_emu/push', { event: ev5, wait: true });
	ack = r.json && r.json.ack;
	check("a handler's answer is the ack's data, decoded by the emulator", { answer: 'from the handler' }, ack && ack.data_json);

	// the echo check can fail: ids above 2^53 come back changed from this SDK
	const ev7 = evt('lcemu-bigids-0007');
	r = await post('/_emu/push', { event: ev7, big_ids: true, wait: true });
	ack = r.json && r.json.ack;
	check('the echo check catches a changed SeqID (the SDK keeps uint64 in a Number: ids above 2^53 come back rounded)',
		[false, true], [ack && ack.echo_ok, !!(ack && ack.echo_problems.some((p) => /SeqID/.test(p)))]);

	// one frame as three WebSocket frames (continuations)
	const ev8 = evt('lcemu-wsfrag-0008');
	r = await post('/_emu/push', { event: ev8, ws_fragments: 3, wait: true });
	check('a frame sent as three WebSocket frames (binary + continuations) is acked', [200, 200, true],
		[r.status, r.json.ack && r.json.ack.code, seen.some((e) => e.event_id === 'lcemu-wsfrag-0008')]);
}

// redelivery, WebSocket pings, garbage, the benchmark's stream, the secret
async function faults(x) {
	let r, st;
	// a handler failing once: the SDK acks 500, the emulator redelivers the
	// same event as a new message, which is then acked 200
	x.failOnce.add('lcemu-redeliver-0009');
	const ev9 = evt('lcemu-redeliver-0009');
	const before = (await get('/_emu/state')).json.acks.length;
	r = await post('/_emu/push', { event: ev9, redeliver_ms: 200, redeliver_times: 2 });
	r = await wait(`acks=${before + 2}&ok=${(await get('/_emu/state')).json.acks.filter((a) => a.code === 200).length + 1}`);
	st = (await get('/_emu/state')).json;
	const re = st.pushes.filter((p) => p.event_id === 'lcemu-redeliver-0009');
	check('an ack of 500 (handler threw) is redelivered as a new message and then acked 200',
		[2, true, [500, 200]],
		[re.length, re[1] && re[1].redelivery_of === re[0].message_id,
			re.map((p) => (st.acks.find((a) => a.message_id === p.message_id) || {}).code)]);

	// a WebSocket-level ping is answered by the client's WebSocket library
	await post('/_emu/wsping', { conn: 'all', data: 'hello' });
	r = await wait('wspongs=1');
	check('a WebSocket ping (opcode 9) comes back as a pong', [200, 'hello'],
		[r.status, ((await get('/_emu/state')).json.wspongs[0] || {}).data]);

	// garbage: a binary message that is not a frame, a text message; the
	// client carries on
	await post('/_emu/raw', { hex: 'ffffffff' });
	await post('/_emu/raw', { text: 'not a frame' });
	await post('/_emu/raw', { frame: { SeqID: 1, LogID: 2, service: 3, method: 7, headers: [{ key: 'type', value: 'x' }] } });
	const ev10 = evt('lcemu-aftergarbage-0010');
	r = await post('/_emu/push', { event: ev10, wait: true });
	check('after garbage and an unknown method the connection still carries events', [200, 200], [r.status, r.json.ack && r.json.ack.code]);

	// the benchmark's stream, whole and fragmented, through the SDK
	const conn = (await get('/_emu/state')).json.connections.find((c) => c.open).id;
	for (const fragments of [1, 3]) {
		r = await post('/_emu/stream', { conn, count: 300, window: 16, fragments, timeout: 30 });
		check(`the benchmark stream (300 events, window 16, ${fragments} fragment(s)): all acked 200, every echo right`,
			[200, 300, { 200: 300 }, 0, true],
			[r.status, r.json.acked, r.json.codes, r.json.echo_bad, r.json.p50_us > 0 && r.json.p99_us >= r.json.p50_us]);
	}

	// the secret: only in the endpoint request
	r = await get(`/_emu/find?s=${encodeURIComponent(APP_SECRET)}`);
	check('the App Secret is in the endpoint requests only', { endpoint: 1, handshakes: 0, frames: 0 }, r.json);
}

// reconnects after a close and an abrupt one, a fatal endpoint code
async function reconnects(x) {
	let r, st;
	// a server close (code 1000): the SDK reconnects, asking the endpoint again
	st = (await get('/_emu/state')).json;
	const first = st.connections.find((c) => c.open).id;
	await post('/_emu/close', { conn: first, code: 1000 });
	r = await wait('opened=2&endpoint=2&conns=1');
	truthy('after a close (1000) the SDK asks the endpoint again and reconnects', r.status === 200, JSON.stringify(r.json));
	st = (await get('/_emu/state')).json;
	const c1 = st.connections.find((c) => c.id === first);
	check('the first connection is recorded closed by the emulator with 1000', [false, 1000, 'emulator'],
		[c1.open, c1.close_code, c1.closed_by]);
	const second = st.connections.find((c) => c.open).id;
	const ev6 = evt('lcemu-second-0006');
	r = await post('/_emu/push', { event: ev6, wait: true });
	check('an event on the new connection is acked there', [200, second, 200], [r.status, r.json.conn, r.json.ack && r.json.ack.code]);

	// an abrupt close, then one retryable refusal of the handshake and one
	// retryable endpoint answer: the SDK gets through
	await post('/_emu/endpoint-mode', { mode: 'code', code: 1000040343, times: 1 });
	await post('/_emu/close', { conn: second, abrupt: true });
	r = await wait('opened=3&conns=1');
	st = (await get('/_emu/state')).json;
	truthy('after an abrupt close and a 1000040343 from the endpoint, the SDK retries and reconnects',
		r.status === 200 && st.endpoint.some((e) => e.answer && e.answer.code === 1000040343), JSON.stringify(r.json));

	// a fatal endpoint code: the SDK gives up (its onError)
	const fatal = await new Promise((resolve) => {
		const c2 = new lark.WSClient({
			appId: APP_ID, appSecret: 'a wrong secret', domain: EMU, logger: x.quiet,
			onError: (e) => resolve(e.message),
		});
		c2.start({ eventDispatcher: x.dispatcher });
		setTimeout(() => { resolve(null); c2.close({ force: true }); }, 15000).unref();
	});
	truthy('a wrong secret gets a fatal code the SDK gives up on', /code=10014/.test(fatal || ''), String(fatal));

	x.client.close({ force: true });
	r = await wait('live=0');
	truthy('the client closed', r.status === 200, JSON.stringify(r.json));
}

async function main() {
	codec();
	await gateway();
	const x = await sdk();
	await connected();
	await events(x);
	await faults(x);
	await reconnects(x);
}

// over TLS: the emulator started with --tls-cert, the SDK trusting that
// certificate (NODE_EXTRA_CA_CERTS) and nothing else
async function tls() {
	const seen = [];
	const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, trace: () => {} };
	const dispatcher = new lark.EventDispatcher({ logger: quiet }).register({
		'compensation.archive.changed_v1': async (data) => { seen.push(data); },
	});
	const client = new lark.WSClient({ appId: APP_ID, appSecret: APP_SECRET, domain: EMU, logger: quiet });
	client.start({ eventDispatcher: dispatcher });
	let r = await wait('conns=1&pings=1');
	truthy('over TLS: the SDK gets the endpoint (https) and connects (wss)', r.status === 200, JSON.stringify(r.json));
	const st = (await get('/_emu/state')).json;
	check('over TLS: the URL the endpoint gave is wss://127.0.0.1', true,
		/^wss:\/\/127\.0\.0\.1:\d+\/ws\/v2\?/.test(st.endpoint[0] && st.endpoint[0].url));
	r = await post('/_emu/push', { fragments: 2, order: 'reverse', wait: true });
	check('over TLS: a fragmented event is handled and acked 200', [200, 200, 1],
		[r.status, r.json.ack && r.json.ack.code, seen.length]);
	client.close({ force: true });
	r = await wait('live=0');
	truthy('over TLS: the client closed', r.status === 200, JSON.stringify(r.json));
}

(MODE === 'tls' ? tls() : main()).then(() => process.exit(failed ? 1 : 0),
	(e) => { fail('the oracle test ran', e.stack); process.exit(1); });
