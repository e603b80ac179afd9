#!/usr/bin/env node
'use strict';
/*
 * lc.js: an emulator of Feishu's long connection, as doc/10-connect.md §10.1
 * describes it: the endpoint that hands out the WebSocket URL, the
 * WebSocket gateway speaking pbbp2 frames (codec: tests/emu/pbbp2.js,
 * hand-written, shares nothing with the clients it checks), and a control
 * API for the tests, all on one port of 127.0.0.1.
 * Checked against the official Node SDK's WSClient by tests/e2e/lc-emu.sh.
 *
 * Start:  node tests/emu/lc.js [--port N] [--app-id ID] [--app-secret S]
 *                              [--client-config JSON] [--quiet]
 *                              [--tls-cert PEM --tls-key PEM]
 * With --tls-cert and --tls-key everything is served over TLS (https://
 * endpoint and control API, wss:// gateway URL) with that certificate.
 * It prints "port=N" (then "url=http[s]://127.0.0.1:N") on stdout once
 * listening; port 0 (the default) takes a free port. Defaults: app id
 * cli_a1b2c3d4e5f60001, app secret "lc-emu-secret" (env LC_APP_ID and
 * LC_APP_SECRET too). Needs the npm package ws (tests/node/package.json;
 * found through NODE_PATH or tests/node/node_modules). Stop it by PID
 * (SIGTERM). It logs one line per event of interest to stderr (not with
 * --quiet).
 *
 * --- What a client sees -------------------------------------------------
 * POST /callback/ws/endpoint, headers "locale: zh" and "Content-Type:
 *   application/json", body {"AppID":..,"AppSecret":..}. Answers HTTP 200
 *   {"code":0,"msg":"ok","data":{"URL":"ws://127.0.0.1:N/ws/v2?fpid=493&
 *   aid=552564&device_id=D&access_key=K&service_id=S&ticket=T",
 *   "ClientConfig":{"ReconnectCount":-1,"ReconnectInterval":120,
 *   "ReconnectNonce":30,"PingInterval":120}}}: a fresh device_id and
 *   ticket per request, service_id fixed per emulator (int32).
 *   A missing header, a wrong method or a body that is not that JSON is
 *   answered HTTP 400 {"code":400,...} (set "strict":false to accept it).
 *   Wrong AppID or AppSecret: HTTP 200 {"code":10014,"msg":"app secret
 *   invalid","data":{}} (a fatal code; the emulator's choice: the real
 *   code is not documented in the sources read). A non-zero code comes
 *   with "data":{}: the Node SDK destructures data.URL before it looks at
 *   the code, so a null data would make every code retryable for it.
 *   Other answers: endpoint-mode below.
 * GET /ws/v2?...: the WebSocket gateway. The device_id, ticket and
 *   service_id must be ones the endpoint handed out (else refused 403,
 *   fatal), unless a handshake-mode says otherwise. A refusal is an HTTP
 *   answer (400 by default) with headers Handshake-Status, Handshake-Msg
 *   and, for 514, Handshake-Autherrcode. With "max_conns" set, a handshake
 *   past that many live connections is refused 514 / 1000040350.
 * Frames: every WebSocket message is a binary pbbp2.Frame.
 *   - a ping from the client (method 0, header type=ping, service =
 *     service_id) is recorded and answered with a pong (method 0, SeqID 0,
 *     LogID 0, service = service_id, header type=pong) whose payload is the
 *     current ClientConfig JSON (pong "config", the default), empty (pong
 *     "empty") or absent (pong "none": no pong is sent at all);
 *   - an event pushed by a test goes out as method 1 frames with headers
 *     type (event|card), message_id, sum, seq, trace_id, timestamp (ms)
 *     and the payload (the event JSON; fragment i of sum when fragmented).
 *     SeqID: a counter, one per frame; LogID: another, from
 *     7300000000000001; both below 2^53 unless big_ids (then above 2^63:
 *     the Node SDK 1.74.0 decodes uint64 into a JS Number and echoes such
 *     ids wrongly; larkhook must not); service: service_id;
 *   - a method 1 frame from the client is an ack: recorded with its
 *     headers, its JSON payload ({"code":200} or 500, optional "data":
 *     base64 of a JSON answer, decoded into data_json), its latency from
 *     the push (the first frame of the message written) and whether it
 *     echoes the pushed frame: SeqID, LogID, service and every header of
 *     that frame (found by SeqID) present with the same value (echo_ok,
 *     echo_problems);
 *   - anything else, a frame that does not decode and a text message go
 *     to "other".
 *
 * --- Control API (HTTP on the same port; JSON bodies; JSON answers) -----
 * Connection ids are 1, 2, ... in the order of handshakes accepted.
 * POST /_emu/push      {event, type, fragments, order, omit, conn, not,
 *                       message_id, trace_id, headers, wait, timeout}
 *     Sends one message. event: an object or a string (the payload, sent
 *     as is; default: a compensation.archive.changed_v1 event with a fresh
 *     event_id). type: "event" (default) or "card". fragments: N pieces
 *     (default 1: whole, sum=1, seq=0), split by bytes (a UTF-8 character
 *     may be cut). order: "in" (default), "reverse", "shuffle" or an array
 *     of seq indexes in sending order. omit: seq indexes not sent (an
 *     incomplete set). conn: a connection id, "random" (default: Feishu
 *     picks one live connection at random) or "all" (every live one, same
 *     message_id: not what Feishu does, for tests of dedupe). not: a
 *     connection id to avoid. message_id, trace_id: default fresh ones.
 *     headers: [{key,value}] appended to each frame's headers. wait: true
 *     answers only once the ack came (or 408 after timeout seconds, 10).
 *     Answer: {message_id, conn, seq_ids, frames, event_id, ack?}; 409
 *     when no live connection can take it.
 * POST /_emu/raw       {conn, hex | text | frame}: one WebSocket message
 *     as is: binary bytes (hex), a text message, or a pbbp2 frame given as
 *     an object ({SeqID, LogID, service, method, headers, payload}).
 * POST /_emu/pong      {conn: id|"all", config}: a pong nobody pinged for,
 *     now (Feishu pongs only in answer to a ping: a client applying a new
 *     PingInterval only after its current one would otherwise need a whole
 *     old interval to show it); config: a ClientConfig object, a string sent
 *     as is, null for no payload; default the pongs' current one.
 * POST /_emu/wsping    {conn: id|"all", data}: a WebSocket-level ping
 *     (RFC 6455 opcode 9); the pongs that come back are in "wspongs".
 * POST /_emu/close     {conn: id|"all", code: 1000, reason, abrupt}
 *     Closes with a close frame (code, reason), or abrupt: true drops the
 *     TCP connection without one ("rst": with a reset).
 * POST /_emu/silence   {conn: id|"all", on: true, new: bool}
 *     A silent connection stays open but sends nothing: no pongs (the
 *     pings are still recorded), no pushes (push refuses it unless named).
 *     new: true makes connections accepted from now on silent too.
 * POST /_emu/endpoint-mode {mode, code, msg, status, times}
 *     How the next `times` endpoint requests are answered (default: every
 *     one until changed): mode "ok" (normal), "code" (HTTP 200 with that
 *     code and msg: 1 and 1000040343 are retryable, others fatal), "http"
 *     (HTTP status, e.g. 503, body {"code":status}), "garbage" (HTTP 200,
 *     not JSON), "hang" (no answer, connection held), "drop" (connection
 *     closed without an answer). After `times` requests it goes back to ok.
 * POST /_emu/handshake-mode {mode, status, autherrcode, msg, http, times}
 *     How the next `times` handshakes are answered: "ok", "refuse" (HTTP
 *     `http` (400) with Handshake-Status `status` (514), Handshake-Msg,
 *     Handshake-Autherrcode `autherrcode` (1000040350 when status is 514)),
 *     "drop" (TCP closed), "hang" (never answered).
 * POST /_emu/config    {client_config: {...}, pong: "config"|"empty"|"none",
 *                       pong_config: {...}|null, max_conns, strict, big_ids}
 *     client_config: fields merged into the ClientConfig the endpoint and
 *     pongs hand out (seconds). pong_config: a ClientConfig pongs carry
 *     instead of the endpoint's (null: the same). max_conns: refuse past
 *     that many live connections (0: no limit).
 * POST /_emu/stream    {count, window, conn, fragments, event, timeout}
 *     The benchmark: count distinct events (event_id numbered) through
 *     one connection, at most `window` unacked at a time (default 64; 0:
 *     all at once); answers when all are acked (or 408 after timeout s,
 *     120): {count, acked, codes: {200: n}, echo_bad, elapsed_ms, eps,
 *     p50_us, p99_us, max_us}, latency from writing an event's frame to
 *     its ack arriving. Acks of a stream are counted, not recorded.
 * POST /_emu/reset     {keep_config} clears the records (acks, pings,
 *     pushes, endpoint, handshakes, other), every mode and the
 *     ClientConfig (unless keep_config); forgets closed connections: opened
 *     counts the live ones, closed 0. Live connections stay; ids go on
 *     increasing (never reused).
 * GET  /_emu/state     {port, app_id, service_id, client_config, live,
 *     opened, closed, connections: [{id, device_id, open, silent, pings,
 *     acks, close_code, closed_by}], acks: [...], pings: [...], pushes,
 *     endpoint: [{method, path, headers, body, problems, answer}],
 *     handshakes: [{url, headers, answer}], other: [...]}.
 * GET  /_emu/wait?COND...&timeout=S  blocks until every condition holds
 *     (200 + state counts) or timeout seconds (default 10) pass (408):
 *     acks=N, ok=N (acks with code 200), pings=N (at least N recorded;
 *     with conn=ID only that connection's), conns=N (at least N live), live=N (exactly N live),
 *     opened=N, closed=N (connections ever), endpoint=N, handshakes=N
 *     (requests ever), pushes=N, wspongs=N, ack=MESSAGE_ID (an ack of that
 *     message). Use
 *     `curl -sf` so a timeout fails.
 * GET  /_emu/find?s=STRING  where STRING occurs: {endpoint: n requests
 *     (headers or body), handshakes: n (URL or headers), frames: n frames
 *     received from clients (raw bytes)}: e.g. the App Secret must be
 *     only in endpoint requests.
 */

const http = require('http');
const https = require('https');
const fs = require('fs');
const crypto = require('crypto');
const path = require('path');
const pb = require('./pbbp2');

function dep(name) {
	try { return require(name); } catch (e) {
		return require(path.join(__dirname, '..', 'node', 'node_modules', name));
	}
}
const WebSocket = dep('ws');

// --- options ---------------------------------------------------------------
const args = process.argv.slice(2);
function opt(name, dflt) {
	const i = args.indexOf(name);
	return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
}
const APP_ID = opt('--app-id', process.env.LC_APP_ID || 'cli_a1b2c3d4e5f60001');
const APP_SECRET = opt('--app-secret', process.env.LC_APP_SECRET || 'lc-emu-secret');
const QUIET = args.includes('--quiet');
const TLS_CERT = opt('--tls-cert', null), TLS_KEY = opt('--tls-key', null);
const TLS = !!(TLS_CERT && TLS_KEY);
const SERVICE_ID = 33554678;
const DEFAULT_CC = { ReconnectCount: -1, ReconnectInterval: 120, ReconnectNonce: 30, PingInterval: 120 };

function log(...a) { if (!QUIET) process.stderr.write(`lc-emu: ${a.join(' ')}\n`); }
const now = () => Date.now();
const hr = () => process.hrtime.bigint();
const hex = (n) => crypto.randomBytes(n).toString('hex');

// --- state -----------------------------------------------------------------
let S;
function fresh() {
	return {
		clientConfig: { ...DEFAULT_CC },
		pong: 'config', pongConfig: null, maxConns: 0, strict: true, bigIds: false,
		endpointMode: { mode: 'ok', times: -1 },
		handshakeMode: { mode: 'ok', times: -1 },
		silenceNew: false,
		acks: [], pings: [], pushes: [], endpoint: [], handshakes: [], other: [], wspongs: [],
		raw: [],		// frames received (Buffers), for /_emu/find
	};
}
S = fresh();
S.clientConfig = { ...DEFAULT_CC, ...JSON.parse(opt('--client-config', '{}')) };
const conns = new Map();	// id -> conn
let nextConn = 1;
let opened = 0, closed = 0;
const tickets = new Map();	// device_id -> ticket issued by the endpoint
let seqCounter = 0n;
let logCounter = 7300000000000000n;	// below 2^53: see big_ids
const BIG = 0x8000000000000000n;
const sent = new Map();		// SeqID string -> {message_id, headers, LogID, service, conn, t}
const messages = new Map();	// message_id -> {t (hrtime of the first frame), acks}
let stream = null;		// the running /_emu/stream, if any
const lastPayload = new Map();	// message_id -> payload, for redelivery

function live() { return [...conns.values()].filter((c) => c.open); }

// --- waiters ---------------------------------------------------------------
const waiters = new Set();
function poke() { for (const w of [...waiters]) w(); }

function counts(q) {
	const cid = q.conn !== undefined ? Number(q.conn) : undefined;
	const mine = (r) => cid === undefined || r.conn === cid;
	return {
		acks: S.acks.filter(mine).length,
		ok: S.acks.filter((a) => mine(a) && a.code === 200).length,
		pings: S.pings.filter(mine).length,
		live: live().length,
		opened, closed,
		endpoint: S.endpoint.length,
		handshakes: S.handshakes.length,
		wspongs: S.wspongs.filter(mine).length,
		pushes: S.pushes.filter(mine).length,
	};
}
function holds(q) {
	const c = counts(q);
	const ge = (k, v) => v === undefined || c[k] >= Number(v);
	return ge('acks', q.acks) && ge('ok', q.ok) && ge('pings', q.pings) && ge('live', q.conns) &&
		(q.live === undefined || c.live === Number(q.live)) &&
		ge('opened', q.opened) && ge('closed', q.closed) &&
		ge('endpoint', q.endpoint) && ge('handshakes', q.handshakes) &&
		ge('wspongs', q.wspongs) && ge('pushes', q.pushes) &&
		(q.ack === undefined || S.acks.some((a) => a.message_id === q.ack));
}
function waitFor(pred, timeoutS) {
	return new Promise((resolve) => {
		if (pred()) return resolve(true);
		const w = () => { if (pred()) done(true); };
		const timer = setTimeout(() => done(false), timeoutS * 1000);
		function done(v) { clearTimeout(timer); waiters.delete(w); resolve(v); }
		waiters.add(w);
	});
}

// --- frames out --------------------------------------------------------------
function sendFrame(c, f) {
	if (!c.open) return false;
	c.ws.send(pb.encode(f), { binary: true });
	return true;
}

const DEFAULT_EVENT = () => ({
	schema: '2.0',
	header: {
		event_id: hex(16), event_type: 'compensation.archive.changed_v1',
		create_time: String(now()), token: '', app_id: APP_ID, tenant_key: '2ca1d211f64f6438',
	},
	event: {
		operate_type: 'modify', employment_id: '7140964208476371111', effective_date: '2024-01-01',
		before_tid: '7303487035893753387', after_tid: '7303487035893753388',
	},
});

function split(buf, n) {
	const parts = [];
	const size = Math.ceil(buf.length / n);
	for (let i = 0; i < n; i++) parts.push(buf.subarray(i * size, Math.min(buf.length, (i + 1) * size)));
	return parts;
}

function order(n, how) {
	const idx = [...Array(n).keys()];
	if (Array.isArray(how)) return how.map(Number);
	if (how === 'reverse') return idx.reverse();
	if (how === 'shuffle') {
		for (let i = n - 1; i > 0; i--) {
			const j = crypto.randomInt(i + 1);
			[idx[i], idx[j]] = [idx[j], idx[i]];
		}
		// a shuffle that happens to keep the order proves nothing
		if (n > 1 && idx.every((v, i) => v === i)) idx.reverse();
		return idx;
	}
	return idx;
}

// frames of one message: payload split into `fragments` pieces
function buildFrames(o, payload, msgId, traceId) {
	const n = Math.max(1, Number(o.fragments || 1));
	const parts = n === 1 ? [payload] : split(payload, n);
	const ts = String(now());
	return parts.map((p, i) => {
		seqCounter += 1n;
		logCounter += 1n;
		const big = o.big_ids ?? S.bigIds;
		return {
			SeqID: big ? BIG + seqCounter : seqCounter, LogID: big ? BIG + logCounter : logCounter,
			service: SERVICE_ID, method: 1,
			headers: [
				{ key: 'type', value: o.type || 'event' },
				{ key: 'message_id', value: msgId },
				{ key: 'sum', value: String(n) },
				{ key: 'seq', value: String(i) },
				{ key: 'trace_id', value: traceId },
				{ key: 'timestamp', value: ts },
				...(o.headers || []),
			],
			payload: p,
		};
	});
}

function pickConns(o) {
	const avoid = o.not !== undefined ? Number(o.not) : undefined;
	if (o.conn === 'all') return live().filter((c) => !c.silent && c.id !== avoid);
	if (o.conn !== undefined && o.conn !== 'random') {
		const c = conns.get(Number(o.conn));
		return c && c.open ? [c] : [];
	}
	const l = live().filter((c) => !c.silent && c.id !== avoid);
	return l.length ? [l[crypto.randomInt(l.length)]] : [];
}

function push(o) {
	const targets = pickConns(o);
	if (!targets.length) return { status: 409, body: { error: 'no live connection to take it' } };
	let payload, eventId = null;
	if (typeof o.event === 'string') {
		payload = Buffer.from(o.event);
		try {
			const ev = JSON.parse(o.event);
			eventId = ev.header?.event_id ?? ev.uuid ?? null;
		} catch (e) { /* not JSON: sent as is all the same */ }
	} else {
		const ev = o.event || DEFAULT_EVENT();
		eventId = ev.header?.event_id ?? ev.uuid ?? null;
		payload = Buffer.from(JSON.stringify(ev));
	}
	const msgId = o.message_id || hex(16);
	const traceId = o.trace_id || hex(8);
	if (o.redeliver_ms) lastPayload.set(msgId, payload.toString());
	const out = [];
	for (const c of targets) {
		const frames = buildFrames(o, payload, msgId, traceId);
		const omit = new Set((o.omit || []).map(Number));
		const t = hr();
		if (!messages.has(msgId)) messages.set(msgId, { t, acks: 0 });
		const seqIds = [];
		for (const i of order(frames.length, o.order)) {
			const f = frames[i];
			if (!f || omit.has(i)) continue;
			sent.set(f.SeqID.toString(), {
				message_id: msgId, headers: f.headers, LogID: f.LogID, service: f.service, conn: c.id,
			});
			if (o.ws_fragments > 1) sendPieces(c, pb.encode(f), Number(o.ws_fragments));
			else sendFrame(c, f);
			seqIds.push(f.SeqID.toString());
		}
		const rec = {
			t_ms: now(), message_id: msgId, type: o.type || 'event', conn: c.id, event_id: eventId,
			frames: frames.length, seq_ids: seqIds, bytes: payload.length,
		};
		S.pushes.push(rec);
		out.push(rec);
		log(`push ${rec.type} ${msgId} to conn ${c.id} in ${frames.length} frame(s), sent ${seqIds.length}`);
	}
	if (o.redeliver_ms) redeliver(o, msgId, eventId, o.redeliver_times ?? 3);
	const body = { ...out[0] };
	if (out.length > 1) body.conns = out.map((r) => r.conn);
	return { status: 200, body };
}

// One message as several WebSocket frames: a binary frame without FIN,
// then continuations.
function sendPieces(c, buf, n) {
	if (!c.open) return;
	const parts = split(buf, n);
	parts.forEach((p, i) => c.ws.send(p, { binary: true, fin: i === parts.length - 1 }));
}

// Feishu's redelivery: when no {"code":200} ack of message_id came within
// redeliver_ms, the same event goes out again as a new message (fresh
// message_id) to a live connection (the same choice rules: o.conn, o.not),
// at most `times` more times.
function redeliver(o, msgId, eventId, times) {
	if (times <= 0) return;
	const t = setTimeout(() => {
		if (S.acks.some((a) => a.message_id === msgId && a.code === 200)) return;
		const again = { ...o, message_id: undefined, wait: false, redeliver_times: times - 1 };
		if (o.event === undefined) again.event = lastPayload.get(msgId);
		const r = push(again);
		if (r.status === 200) {
			const rec = S.pushes[S.pushes.length - 1];
			rec.redelivery_of = msgId;
			log(`redelivered ${msgId} as ${r.body.message_id}`);
			poke();
		} else redeliver(o, msgId, eventId, times - 1);	// no connection now: try later
	}, Number(o.redeliver_ms));
	t.unref();
}

// --- frames in ---------------------------------------------------------------
function onFrame(c, data) {
	const buf = Buffer.isBuffer(data) ? data : Buffer.concat(data);
	if (stream && stream.conn === c && stream.onRaw(buf)) return;
	S.raw.push(buf);
	let f;
	try { f = pb.decode(buf); } catch (e) {
		S.other.push({ conn: c.id, t_ms: now(), error: e.message, hex: buf.toString('hex') });
		log(`conn ${c.id}: undecodable frame: ${e.message}`);
		poke();
		return;
	}
	const h = pb.headerMap(f);
	if (f.method === 0 && h.type === 'ping') {
		const rec = {
			conn: c.id, t_ms: now(), service: f.service, seq_id: f.SeqID.toString(),
			log_id: f.LogID.toString(), headers: f.headers, payload_len: f.payload ? f.payload.length : 0,
			service_ok: f.service === SERVICE_ID,
		};
		S.pings.push(rec);
		c.pings++;
		if (!c.silent && S.pong !== 'none') {
			const pong = {
				SeqID: 0n, LogID: 0n, service: SERVICE_ID, method: 0,
				headers: [{ key: 'type', value: 'pong' }],
			};
			if (S.pong === 'config') pong.payload = Buffer.from(JSON.stringify(S.pongConfig || S.clientConfig));
			sendFrame(c, pong);
		}
		poke();
		return;
	}
	if (f.method === 1) {
		onAck(c, f, h);
		return;
	}
	S.other.push({
		conn: c.id, t_ms: now(), method: f.method, headers: f.headers,
		payload: f.payload ? f.payload.toString() : null,
	});
	poke();
}

function onAck(c, f, h) {
	const t = hr();
	const key = f.SeqID.toString();
	const orig = sent.get(key);
	const problems = [];
	if (!orig) problems.push(`SeqID ${key} was never sent`);
	else {
		if (orig.LogID !== f.LogID) problems.push(`LogID ${f.LogID} is not ${orig.LogID}`);
		if (orig.service !== f.service) problems.push(`service ${f.service} is not ${orig.service}`);
		for (const oh of orig.headers)
			if (!f.headers.some((x) => x.key === oh.key && x.value === oh.value))
				problems.push(`header ${oh.key}=${oh.value} not echoed`);
		if (orig.conn !== c.id) problems.push(`acked on conn ${c.id}, sent on conn ${orig.conn}`);
	}
	const payload = f.payload ? f.payload.toString() : '';
	let json = null;
	try { json = JSON.parse(payload); } catch (e) { problems.push('payload is not JSON'); }
	const msgId = h.message_id;
	const m = messages.get(msgId);
	const latency = m ? Number(t - m.t) / 1000 : null;
	if (m) m.acks++;

	let dataJson = null, dataText = null;
	if (json && typeof json.data === 'string') {
		dataText = Buffer.from(json.data, 'base64').toString();
		try { dataJson = JSON.parse(dataText); } catch (e) { /* kept as text */ }
	}
	const rec = {
		conn: c.id, t_ms: now(), message_id: msgId, type: h.type, seq_id: key,
		log_id: f.LogID.toString(), service: f.service, method: f.method, headers: f.headers,
		payload, code: json ? json.code : null, data: json ? json.data ?? null : null,
		data_text: dataText, data_json: dataJson, biz_rt: h.biz_rt ?? null,
		latency_us: latency, echo_ok: problems.length === 0, echo_problems: problems,
	};
	S.acks.push(rec);
	c.acks++;
	log(`ack ${msgId} on conn ${c.id}: ${payload}${problems.length ? ' PROBLEMS: ' + problems.join('; ') : ''}`);
	poke();
}

// --- the endpoint ------------------------------------------------------------
function consume(modeKey) {
	const m = S[modeKey];
	if (m.mode === 'ok') return m;
	if (m.times > 0 && --m.times === 0) S[modeKey] = { mode: 'ok', times: -1 };
	return m;
}

function answer(res, status, obj, extra = {}) {
	const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
	res.writeHead(status, { 'Content-Type': 'application/json', ...extra });
	res.end(body);
}

function endpoint(req, res, body) {
	const rec = {
		t_ms: now(), method: req.method, path: req.url, headers: req.headers,
		body: body.toString(), problems: [], answer: null,
	};
	S.endpoint.push(rec);
	poke();
	const done = (status, obj) => { rec.answer = { http: status, code: obj?.code ?? null }; answer(res, status, obj); };
	if (req.method !== 'POST') rec.problems.push(`method ${req.method}, not POST`);
	if (req.headers.locale !== 'zh') rec.problems.push(`locale header ${req.headers.locale ?? 'missing'}, not zh`);
	if (!/^application\/json\b/.test(req.headers['content-type'] || ''))
		rec.problems.push(`Content-Type ${req.headers['content-type'] ?? 'missing'}, not application/json`);
	let j = null;
	try { j = JSON.parse(body.toString()); } catch (e) { rec.problems.push('body is not JSON'); }
	if (j && (typeof j.AppID !== 'string' || typeof j.AppSecret !== 'string'))
		rec.problems.push('body lacks AppID or AppSecret strings');
	if (rec.problems.length) log(`endpoint request problems: ${rec.problems.join('; ')}`);
	if (rec.problems.length && S.strict)
		return done(400, { code: 400, msg: rec.problems.join('; ') });

	const m = consume('endpointMode');
	switch (m.mode) {
	case 'code': return done(200, { code: Number(m.code), msg: m.msg ?? `emulated code ${m.code}`, data: {} });
	case 'http': return done(Number(m.status || 503), { code: Number(m.status || 503), msg: 'emulated HTTP status' });
	case 'garbage': rec.answer = { http: 200, code: null }; res.writeHead(200); return res.end('<html>not json');
	case 'hang': rec.answer = { hang: true }; return;	// held until the client gives up
	case 'drop': rec.answer = { drop: true }; return req.socket.destroy();
	}
	if (!j || j.AppID !== APP_ID || j.AppSecret !== APP_SECRET)
		return done(200, { code: 10014, msg: 'app secret invalid', data: {} });
	const deviceId = String(7000000000000000000n + BigInt(crypto.randomInt(2 ** 47)));
	const ticket = crypto.randomUUID();
	tickets.set(deviceId, ticket);
	const port = server.address().port;
	const URL = `${TLS ? 'wss' : 'ws'}://127.0.0.1:${port}/ws/v2?fpid=493&aid=552564&device_id=${deviceId}` +
		`&access_key=${hex(16)}&service_id=${SERVICE_ID}&ticket=${ticket}`;
	rec.device_id = deviceId;
	rec.url = URL;
	done(200, { code: 0, msg: 'ok', data: { URL, ClientConfig: S.clientConfig } });
}

// --- the gateway ---------------------------------------------------------------
const wss = new WebSocket.Server({ noServer: true, perMessageDeflate: false, maxPayload: 64 << 20 });

function refuse(socket, http, status, msg, autherr) {
	const lines = [`HTTP/1.1 ${http} Refused`, `Handshake-Status: ${status}`, `Handshake-Msg: ${msg}`];
	if (autherr !== undefined) lines.push(`Handshake-Autherrcode: ${autherr}`);
	lines.push('Content-Length: 0', 'Connection: close', '', '');
	socket.end(lines.join('\r\n'));
}

function upgrade(req, socket, head) {
	const rec = { t_ms: now(), url: req.url, headers: req.headers, answer: null };
	S.handshakes.push(rec);
	poke();
	const u = new URL(req.url, 'http://127.0.0.1');
	const m = consume('handshakeMode');
	if (m.mode === 'drop') { rec.answer = 'drop'; return socket.destroy(); }
	if (m.mode === 'hang') { rec.answer = 'hang'; return; }
	if (m.mode === 'refuse') {
		const st = Number(m.status ?? 514);
		const ae = m.autherrcode ?? (st === 514 ? 1000040350 : undefined);
		rec.answer = { refused: st, autherrcode: ae ?? null };
		log(`handshake refused ${st} ${ae ?? ''}`);
		return refuse(socket, m.http || 400, st, m.msg || 'emulated refusal', ae);
	}
	const dev = u.searchParams.get('device_id');
	if (u.pathname !== '/ws/v2' || !dev || !tickets.has(dev) ||
		u.searchParams.get('ticket') !== tickets.get(dev) ||
		u.searchParams.get('service_id') !== String(SERVICE_ID)) {
		rec.answer = { refused: 403, why: 'unknown device_id, ticket or service_id' };
		log(`handshake refused 403: ${req.url}`);
		return refuse(socket, 403, 403, 'unknown device_id, ticket or service_id');
	}
	if (S.maxConns && live().length >= S.maxConns) {
		rec.answer = { refused: 514, autherrcode: 1000040350 };
		return refuse(socket, 400, 514, 'exceed connection limit', 1000040350);
	}
	wss.handleUpgrade(req, socket, head, (ws) => {
		const c = {
			id: nextConn++, ws, device_id: dev, open: true, silent: S.silenceNew, pings: 0, acks: 0,
			t_ms: now(), close_code: null, closed_by: null, remote_port: socket.remotePort,
		};
		rec.answer = { conn: c.id };
		conns.set(c.id, c);
		opened++;
		log(`conn ${c.id} open (device ${dev})`);
		ws.on('message', (d, isBinary) => {
			if (!c.open) return;
			if (!isBinary) {
				S.other.push({ conn: c.id, t_ms: now(), text: d.toString() });
				poke();
				return;
			}
			onFrame(c, d);
		});
		ws.on('pong', (d) => { S.wspongs.push({ conn: c.id, t_ms: now(), data: d.toString() }); poke(); });
		ws.on('close', (code) => {
			if (!c.open) return;
			c.open = false;
			c.close_code = code;
			c.closed_by = c.closed_by || 'client';
			closed++;
			log(`conn ${c.id} closed (${code}) by ${c.closed_by}`);
			if (stream && stream.conn === c) stream.fail('connection closed');
			poke();
		});
		ws.on('error', () => {});
		poke();
	});
}

function closeConn(c, o) {
	if (!c.open) return;
	c.closed_by = 'emulator';
	if (o.abrupt === 'rst' && c.ws._socket?.resetAndDestroy) c.ws._socket.resetAndDestroy();
	else if (o.abrupt) c.ws.terminate();
	else c.ws.close(Number(o.code ?? 1000), String(o.reason ?? ''));
}

// --- the benchmark stream --------------------------------------------------------
// scan(buf): the fields the benchmark needs from a frame, without building
// it: SeqID, LogID (Numbers: stream ids stay below 2^53), method, the number
// of headers and where the payload is; null when it is not a plain frame.
function scan(buf) {
	let p = 0, seq = -1, logId = -1, method = -1, nh = 0, ps = -1, pe = -1;
	const n = buf.length;
	const num = () => {
		let v = 0, mul = 1, c;
		do {
			if (p >= n) return -1;
			c = buf[p++];
			v += (c & 0x7f) * mul;
			mul *= 128;
		} while (c & 0x80);
		return v;
	};
	while (p < n) {
		const t = num();
		if (t < 0) return null;
		const field = t >>> 3, wire = t & 7;
		if (wire === 0) {
			const v = num();
			if (v < 0) return null;
			if (field === 1) seq = v; else if (field === 2) logId = v; else if (field === 4) method = v;
		} else if (wire === 2) {
			const len = num();
			if (len < 0 || p + len > n) return null;
			if (field === 5) nh++;
			else if (field === 8) { ps = p; pe = p + len; }
			p += len;
		} else return null;
	}
	return { seq, logId, method, nh, ps, pe };
}
const CODE200 = Buffer.from('{"code":200}');

// streamFrames(template, count, nf): count distinct events (the template,
// its event_id numbered), each encoded into nf frames, before the clock
// starts; the SeqID and LogID of the first, the headers per frame.
function streamFrames(tmpl, count, nf) {
	const prefix = hex(6);
	// the template serialised once, its event_id a placeholder
	const t = JSON.parse(JSON.stringify(tmpl));
	if (t.header) t.header.event_id = '@@ID@@'; else t.uuid = '@@ID@@';
	const [head, tail] = JSON.stringify(t).split('"@@ID@@"');
	const frames = new Array(count);	// per message, its encoded frames
	const seqBase = Number(seqCounter) + 1, logBase = Number(logCounter) + 1;
	let nheaders = 0;
	for (let i = 0; i < count; i++) {
		const id = (prefix + i.toString(16).padStart(8, '0')).padEnd(32, '0');
		const fs = buildFrames({ fragments: nf, big_ids: false }, Buffer.from(`${head}"${id}"${tail}`), 'm' + id, hex(8));
		nheaders = fs[0].headers.length;
		frames[i] = fs.map((f) => pb.encode(f));
	}
	return { frames, seqBase, logBase, nheaders };
}

// summary(lat, n): p50, p99 and max of the first n latencies (us).
function summary(lat, n) {
	const l = Array.from(lat.subarray(0, n)).sort((a, b) => a - b);
	const q = (p) => (l.length ? Math.round(l[Math.min(l.length - 1, Math.floor(p * l.length))]) : null);
	return { p50_us: q(0.5), p99_us: q(0.99), max_us: l.length ? Math.round(l[l.length - 1]) : null };
}

// The benchmark: every frame is built before the clock starts; an ack is
// matched by its SeqID (the frames of one message have consecutive ids);
// the echo is checked for SeqID, LogID, the number of headers (all the
// sent ones plus biz_rt at most) and the code.
function runStream(o) {
	return new Promise((resolve) => {
		const c = o.conn !== undefined ? conns.get(Number(o.conn)) : live().find((x) => !x.silent);
		if (!c || !c.open) return resolve({ status: 409, body: { error: 'no live connection' } });
		if (stream) return resolve({ status: 409, body: { error: 'a stream is running' } });
		const count = Number(o.count || 1000);
		const window = o.window === undefined ? 64 : Number(o.window);
		const nf = Math.max(1, Number(o.fragments || 1));
		const { frames, seqBase, logBase, nheaders } = streamFrames(o.event || DEFAULT_EVENT(), count, nf);
		const lat = new Float64Array(count);
		const sentAt = new Float64Array(count);	// ns since t0, of writing; -1 once acked
		const codes = {};
		let next = 0, inflight = 0, acked = 0, echoBad = 0, t0 = hr(), finished = false, corked = false;
		const since = () => Number(hr() - t0);
		const sock = c.ws._socket;
		const st = {
			conn: c,
			// true when the frame was the stream's; false: for the ordinary path
			onRaw(buf) {
				const f = scan(buf);
				if (!f || f.method !== 1) return false;
				const k = f.seq - seqBase;
				const i = Math.floor(k / nf);
				if (k < 0 || i >= next || sentAt[i] < 0) { echoBad++; return true; }
				lat[acked++] = (since() - sentAt[i]) / 1000;
				sentAt[i] = -1;
				inflight--;
				if (f.logId !== logBase + k || f.nh < nheaders || f.nh > nheaders + 1) echoBad++;
				let code = 'bad';
				const pl = f.ps >= 0 ? buf.subarray(f.ps, f.pe) : Buffer.alloc(0);
				if (pl.equals(CODE200)) code = 200;
				else { try { code = JSON.parse(pl.toString()).code; } catch (e) { /* bad */ } }
				codes[code] = (codes[code] || 0) + 1;
				if (acked === count) finish();
				else fill();
				return true;
			},
			fail(why) { finish(why); },
		};
		function fill() {
			if (!corked && sock) {
				// the frames written in one tick leave in one write
				corked = true;
				sock.cork();
				process.nextTick(() => { corked = false; sock.uncork(); });
			}
			while (next < count && (window === 0 || inflight < window)) {
				sentAt[next] = since();
				for (const b of frames[next]) c.ws.send(b, { binary: true });
				next++;
				inflight++;
			}
		}
		const timer = setTimeout(() => finish('timeout'), Number(o.timeout || 120) * 1000);
		function finish(why) {
			if (finished) return;
			finished = true;
			clearTimeout(timer);
			const ms = since() / 1e6;
			stream = null;
			const body = {
				count, window, fragments: nf, acked, codes, echo_bad: echoBad,
				elapsed_ms: Math.round(ms * 1000) / 1000, eps: ms > 0 ? Math.round(acked / (ms / 1000)) : null,
				...summary(lat, acked),
			};
			if (why) body.error = why;
			log(`stream: ${JSON.stringify(body)}`);
			resolve({ status: why ? 408 : 200, body });
		}
		stream = st;
		t0 = hr();
		fill();
	});
}

// --- HTTP --------------------------------------------------------------------
function publicState() {
	return {
		port: server.address().port, app_id: APP_ID, service_id: SERVICE_ID,
		client_config: S.clientConfig, pong: S.pong, pong_config: S.pongConfig, max_conns: S.maxConns,
		endpoint_mode: S.endpointMode, handshake_mode: S.handshakeMode,
		live: live().length, opened, closed,
		connections: [...conns.values()].map((c) => ({
			id: c.id, device_id: c.device_id, open: c.open, silent: c.silent, pings: c.pings,
			acks: c.acks, t_ms: c.t_ms, close_code: c.close_code, closed_by: c.closed_by,
		})),
		acks: S.acks, pings: S.pings, pushes: S.pushes, endpoint: S.endpoint,
		handshakes: S.handshakes, other: S.other, wspongs: S.wspongs,
	};
}

async function control(req, res, body) {
	const u = new URL(req.url, 'http://127.0.0.1');
	const q = Object.fromEntries(u.searchParams);
	let o = {};
	if (req.method === 'POST' && body.length) {
		try { o = JSON.parse(body.toString()); } catch (e) { return answer(res, 400, { error: 'body is not JSON' }); }
	}
	const reply = (r) => answer(res, r.status, r.body);
	const each = (sel, fn) => {
		const list = sel === 'all' || sel === undefined ? [...conns.values()] : [conns.get(Number(sel))].filter(Boolean);
		list.forEach(fn);
		return list.map((c) => c.id);
	};
	switch (`${req.method} ${u.pathname}`) {
	case 'POST /_emu/push': {
		const r = push(o);
		if (r.status !== 200 || !o.wait) return reply(r);
		const id = r.body.message_id;
		const okk = await waitFor(() => S.acks.some((a) => a.message_id === id), Number(o.timeout || 10));
		r.body.ack = S.acks.find((a) => a.message_id === id) || null;
		return answer(res, okk ? 200 : 408, r.body);
	}
	case 'POST /_emu/pong': {
		const cfg = o.config === undefined ? (S.pongConfig || S.clientConfig) : o.config;
		const ids = each(o.conn, (c) => sendFrame(c, {
			SeqID: 0n, LogID: 0n, service: SERVICE_ID, method: 0, headers: [{ key: 'type', value: 'pong' }],
			...(cfg === null ? {} : { payload: Buffer.from(typeof cfg === 'string' ? cfg : JSON.stringify(cfg)) }),
		}));
		return answer(res, 200, { ponged: ids });
	}
	case 'POST /_emu/wsping': {
		const ids = each(o.conn, (c) => { if (c.open) c.ws.ping(Buffer.from(String(o.data ?? 'emu'))); });
		return answer(res, 200, { pinged: ids });
	}
	case 'POST /_emu/raw': {
		const c = conns.get(Number(o.conn)) || live()[0];
		if (!c || !c.open) return answer(res, 409, { error: 'no live connection' });
		if (o.text !== undefined) c.ws.send(String(o.text), { binary: false });
		else if (o.frame) {
			const f = { ...o.frame };
			for (const k of ['SeqID', 'LogID']) if (f[k] !== undefined) f[k] = BigInt(f[k]);
			if (typeof f.payload === 'string') f.payload = Buffer.from(f.payload);
			c.ws.send(pb.encode(f), { binary: true });
		} else c.ws.send(Buffer.from(String(o.hex || ''), 'hex'), { binary: true });
		return answer(res, 200, { conn: c.id });
	}
	case 'POST /_emu/close': {
		const ids = each(o.conn, (c) => closeConn(c, o));
		return answer(res, 200, { closed: ids });
	}
	case 'POST /_emu/silence': {
		const on = o.on !== false;
		if (o.new !== undefined) S.silenceNew = !!o.new;
		const ids = o.conn === undefined && o.new !== undefined ? [] : each(o.conn, (c) => { c.silent = on; });
		return answer(res, 200, { silent: on, conns: ids, new: S.silenceNew });
	}
	case 'POST /_emu/endpoint-mode':
		S.endpointMode = { mode: o.mode || 'ok', code: o.code, msg: o.msg, status: o.status, times: o.times ?? -1 };
		return answer(res, 200, S.endpointMode);
	case 'POST /_emu/handshake-mode':
		S.handshakeMode = {
			mode: o.mode || 'refuse', status: o.status, autherrcode: o.autherrcode, msg: o.msg,
			http: o.http, times: o.times ?? -1,
		};
		if (o.mode === undefined && o.status === undefined) S.handshakeMode.mode = 'ok';
		return answer(res, 200, S.handshakeMode);
	case 'POST /_emu/config':
		if (o.client_config) S.clientConfig = { ...S.clientConfig, ...o.client_config };
		if (o.pong !== undefined) S.pong = o.pong;
		if (o.pong_config !== undefined) S.pongConfig = o.pong_config;
		if (o.max_conns !== undefined) S.maxConns = Number(o.max_conns);
		if (o.strict !== undefined) S.strict = !!o.strict;
		if (o.big_ids !== undefined) S.bigIds = !!o.big_ids;
		return answer(res, 200, {
			client_config: S.clientConfig, pong: S.pong, pong_config: S.pongConfig, max_conns: S.maxConns,
			strict: S.strict, big_ids: S.bigIds,
		});
	case 'POST /_emu/stream':
		return reply(await runStream(o));
	case 'POST /_emu/reset': {
		const cc = S.clientConfig;
		S = fresh();
		S.clientConfig = o.keep_config ? cc : { ...DEFAULT_CC };
		sent.clear();
		messages.clear();
		for (const c of conns.values()) { c.silent = false; c.pings = 0; c.acks = 0; }
		for (const [id, c] of conns) if (!c.open) conns.delete(id);
		opened = conns.size;
		closed = 0;
		return answer(res, 200, { reset: true, live: opened });
	}
	case 'GET /_emu/state':
		return answer(res, 200, publicState());
	case 'GET /_emu/wait': {
		const okk = await waitFor(() => holds(q), Number(q.timeout || 10));
		return answer(res, okk ? 200 : 408, { ok: okk, ...counts(q) });
	}
	case 'GET /_emu/find': {
		const s = q.s || '';
		if (!s) return answer(res, 400, { error: 'find what? ?s=STRING' });
		const inObj = (x) => JSON.stringify(x).includes(s);
		return answer(res, 200, {
			endpoint: S.endpoint.filter((r) => r.body.includes(s) || inObj(r.headers)).length,
			handshakes: S.handshakes.filter((r) => r.url.includes(s) || inObj(r.headers)).length,
			frames: S.raw.filter((b) => b.includes(s)).length,
		});
	}
	}
	return answer(res, 404, { error: `no such control: ${req.method} ${u.pathname}` });
}

const handler = (req, res) => {
	const chunks = [];
	req.on('data', (d) => chunks.push(d));
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const p = req.url.split('?')[0];
		if (p === '/callback/ws/endpoint') return endpoint(req, res, body);
		if (p.startsWith('/_emu/')) {
			return control(req, res, body).catch((e) => answer(res, 500, { error: String(e.stack || e) }));
		}
		answer(res, 404, { code: 404, msg: 'not found' });
	});
};
const server = TLS
	? https.createServer({ cert: fs.readFileSync(TLS_CERT), key: fs.readFileSync(TLS_KEY) }, handler)
	: http.createServer(handler);
server.on('upgrade', upgrade);
process.stdout.on('error', () => {});	// the reader may have closed after port=
server.keepAliveTimeout = 60000;
server.listen(Number(opt('--port', 0)), '127.0.0.1', () => {
	const port = server.address().port;
	process.stdout.write(`port=${port}\nurl=${TLS ? 'https' : 'http'}://127.0.0.1:${port}\n`);
	log(`listening on 127.0.0.1:${port}, app ${APP_ID}, service ${SERVICE_ID}`);
});
process.on('SIGTERM', () => {
	for (const c of conns.values()) if (c.open) c.ws.terminate();
	server.close();
	process.exit(0);
});
