#!/usr/bin/env node
'use strict';
/*
 * openapi.js: a local emulator of the Feishu / Lark OpenAPI, for the tests of
 * `larkhook token` and `larkhook api` and for `make demo`. Node's standard
 * library only. The Feishu facts it follows are those the token and api
 * commands are documented with (doc/7-feishu.md §7.9); it is checked against
 * the official Node SDK by tests/e2e/openapi-emu.sh before larkhook is
 * tested against it.
 *
 * START
 *   node tests/emu/openapi.js [--port N] [--app-id ID] [--app-secret S]
 *        [--expire SECONDS] [--token-len N] [--tenant-key K] [--app-ticket T]
 *        [--ticket-push URL] [--encrypt-key K] [--tls-cert PEM --tls-key PEM]
 *   Listens on 127.0.0.1 only (port 0, the default, picks a free port) and
 *   prints `port=N` and `url=http://127.0.0.1:N` (https:// with --tls-cert:
 *   then it speaks HTTPS only, with that certificate, for tests of TLS
 *   verification) on stdout once it accepts connections. Stop it with
 *   SIGTERM (exits 0). tests/emu/lib.sh has shell helpers for all this.
 *   Defaults: app id cli_a1b2c3d4e5f60001, app secret emu-app-secret-0001,
 *   tenant key 2ca1d211f64f6438, app_ticket dummy-ticket-0001 (the ids of
 *   tests/data/lark-vectors.json), expire 7200, token length 42.
 *
 * FEISHU SIDE (every path under /open-apis/; replies are JSON
 * {"code":N,"msg":...,...}, HTTP 200 unless said)
 *   POST /open-apis/auth/v3/tenant_access_token/internal {app_id, app_secret}
 *       -> {code:0, msg:"ok", tenant_access_token, expire}. While the current
 *       token has >= 30 min left (emulator clock) the same token comes back
 *       with the seconds it has left; otherwise a new one is minted (counted
 *       in counters.tenant_mints; the old one stays valid until it expires).
 *       Malformed body or app_id not like cli_... -> 10003 "invalid param";
 *       unknown app_id -> 10014 "app id not exists"; wrong secret (or the
 *       bad_credentials mode) -> 10014 "app secret invalid".
 *   POST /open-apis/auth/v3/app_access_token/internal {app_id, app_secret}
 *       -> {code:0, app_access_token, expire} (self-built app token).
 *   Store-app flow:
 *   POST /open-apis/auth/v3/app_ticket/resend {app_id, app_secret}
 *       -> {code:0, msg:"ok"}; counted in counters.ticket_resends; when
 *       ticket_push_url is set, the current app_ticket event (schema 1.0,
 *       plaintext, or encrypted when encrypt_key is set) is POSTed there.
 *   POST /open-apis/auth/v3/app_access_token {app_id, app_secret, app_ticket}
 *       -> {code:0, msg:"ok", app_access_token:"a-...", expire};
 *       a ticket other than the current one -> 10012 "app_ticket is invalid".
 *   POST /open-apis/auth/v3/tenant_access_token {app_access_token, tenant_key}
 *       -> {code:0, msg:"ok", tenant_access_token, expire}, one token per
 *       tenant (same 30-min rule); an unknown app token -> 99991664; an
 *       empty tenant_key (or one outside config.tenants when that is set)
 *       -> 10003.
 *   API calls (any other /open-apis/ path) need `Authorization: Bearer T`:
 *       none or not Bearer -> HTTP 400 {code:99991661}; a token never issued,
 *       expired (emulator clock) or revoked -> HTTP 400 {code:99991663}.
 *   POST /open-apis/compensation/v1/archives/query
 *       ?user_id_type=people_corehr_id&page_size=N[&page_token=P]
 *       body {user_id_list:[...], tid_list?:[...], effective_start_date?,
 *       effective_end_date?} -> data {items:[archive...], has_more,
 *       page_token?}. page_size (1..100, clamped to config.page_size_max)
 *       and user_id_type are required (else HTTP 400 code 99992402); another
 *       user_id_type than people_corehr_id finds nothing. The last page has
 *       no page_token (unless config.last_page_token is a string: then that).
 *   POST /open-apis/performance/v2/review_datas/query?user_id_type=open_id
 *       body {semester_ids:[..<=10], reviewee_user_ids:[..<=10],
 *       stage_ids?:[..<=50], stage_types?} -> data {datas:[...]} (not paged).
 *   Seed data: employment 7140964208476371111 has archive versions tid
 *   7303487035893753387 (before) and 7303487035893753388 (after, effective
 *   2024-01-01); employment 7140964208476372222 has 7 versions (for paging);
 *   reviewee ou_7dab8a3d3cdcc9da365777c7ad535d62 (user_id e33ggbyz) has
 *   data for semester 7194320234327572499, activity 7194320234327572500,
 *   stage 7194320234327572501 (the review event of the vectors).
 *   Any other /open-apis/ path: a route added with /_emu/route, else
 *   HTTP 404 text "404 page not found".
 *
 * CONTROL API (loopback, JSON in and out; never logged in the request log)
 *   GET  /_emu/state      {counters, config, clock, faults, held, tokens, requests}
 *        counters: tenant_token_requests (calls of .../internal and the store
 *        tenant endpoint), tenant_mints (new tenant tokens), app_token_requests,
 *        app_mints, ticket_resends, ticket_pushes, api_calls (every request
 *        to /open-apis/ outside auth/, faults included), api_ok (code 0), token_rejects (99991661/3 answers),
 *        faults_served, ratelimited, per_path {path: n}.
 *        requests: the last 5000 non-control requests, oldest first: {seq, t (ms,
 *        real clock), method, target (the request line's target as sent),
 *        path (that target's path, dot segments resolved, %-escapes kept),
 *        query {k: v}, headers {lowercase: v},
 *        body (string), status, code (the reply's code or null), token_kind
 *        (tenant|app|null), tenant_key}. ?requests=0 leaves them out;
 *        ?path=P keeps those whose path starts with P.
 *        tokens: [{kind, tenant_key, token, len, expires_in, revoked}].
 *   POST /_emu/config {key: value...}: any of
 *        expire (s, lifetime of new tokens), token_len (length of new tokens;
 *        > 64 gives a JWT-shaped token), bad_credentials (bool: every mint
 *        answers 10014), app_id, app_secret (rotate: the old one is now
 *        wrong), app_ticket, tenant_key (self-built tenant), tenants ([keys]
 *        allowed for store tokens; [] = any), page_size_max, same_token_window
 *        (s, default 1800), ticket_push_url, encrypt_key, verification_token,
 *        token_status (HTTP status of 99991661/3, default 400),
 *        last_page_token (null, or a page_token the last page carries too,
 *        for clients that must stop on has_more=false alone),
 *        rate_limits {path: {max, window}} (a real sliding-window limit on the
 *        emulator clock: over it -> 429 + x-ogw-ratelimit-reset, code 99991400)
 *        -> {code:0, config}.
 *   POST /_emu/fault {kind, count=1, where="api", path?, ...}: queue a fault
 *        for the next `count` requests that match (`where`: "api" = API calls,
 *        "token" = /open-apis/auth/v3/..., "any"; `path`: a path prefix). Faults
 *        are served in the order queued. Kinds:
 *          ratelimit {reset=1, status=429, limit=10}: HTTP 429 (or status),
 *            headers x-ogw-ratelimit-limit, x-ogw-ratelimit-reset: reset,
 *            body {code:99991400, msg:"request trigger frequency limit"};
 *          status {status=500, body?}: that HTTP status, body given or
 *            {code:<status>, msg:"internal error"} ... (5xx, 502 html, etc.);
 *          code {code=99991663, status=400, msg?}: a Feishu error code, e.g.
 *            a one-time 99991663 ("invalid token") whatever the token was,
 *            or 99991672 (missing scope);
 *          hang {}: never answer (the socket stays open until the client
 *            gives up or the emulator stops): timeouts;
 *          close {}: close the connection without an answer;
 *          delay {ms}: answer normally after ms;
 *          hold {}: park the request (state.held counts them) until
 *            POST /_emu/release, then answer it normally: a request
 *            provably in flight, e.g. a mint while other callers queue.
 *        -> {code:0, queued: n}.
 *   POST /_emu/release {count?}: let held requests go on (all, or the
 *        oldest count) -> {code:0, released: n}.
 *   POST /_emu/revoke {kind?, tenant_key?}: revoke issued tokens (all by
 *        default) so their next use gets 99991663 and the next mint is new.
 *   POST /_emu/clock {advance: s} | {set_offset: s}: move the emulator clock
 *        (token lifetimes, the 30-min rule, rate-limit windows) -> {offset}.
 *   POST /_emu/reset {tokens?: bool, config?: bool}: zero counters, clear the
 *        request log and queued faults; tokens:true also forgets every token;
 *        config:true puts everything back as it was at start (config, data,
 *        routes, clock, tokens). Held requests stay held.
 *   POST /_emu/archives {items:[archive...]}: add archive versions (user_id
 *        and tid required; missing fields filled in) -> {count}.
 *   POST /_emu/reviews {datas:[...]}: add review data entries (user_id
 *        {open_id,user_id}, semester_id required) -> {count}.
 *   POST /_emu/route {method?, path, status=200, body? | items?, list_key?,
 *        page_size_default=20}: answer an API path (exact match, after the
 *        token check): `body` as is, or `items` paginated like the archives
 *        (page_size, default page_size_default, and page_token in the query;
 *        data.{list_key="items"}, has_more, page_token).
 *   POST /_emu/ticket {}: push the app_ticket event now (needs
 *        ticket_push_url) -> {code:0, status: <HTTP status of the push>}.
 */
const http = require('http');
const https = require('https');
const fs = require('fs');
const crypto = require('crypto');

const argv = process.argv.slice(2);
function opt(name, def) {
	const i = argv.indexOf('--' + name);
	if (i >= 0 && i + 1 < argv.length) return argv[i + 1];
	return def;
}

const START = {
	app_id: opt('app-id', 'cli_a1b2c3d4e5f60001'),
	app_secret: opt('app-secret', 'emu-app-secret-0001'),
	tenant_key: opt('tenant-key', '2ca1d211f64f6438'),
	app_ticket: opt('app-ticket', 'dummy-ticket-0001'),
	expire: Number(opt('expire', 7200)),
	token_len: Number(opt('token-len', 42)),
	bad_credentials: false,
	tenants: [],
	page_size_max: 100,
	same_token_window: 1800,
	ticket_push_url: opt('ticket-push', ''),
	encrypt_key: opt('encrypt-key', ''),
	verification_token: opt('verification-token', 'lark-test-verification-token-01'),
	token_status: 400,
	rate_limits: {},
	last_page_token: null,
};

let config;
let counters;
let requests;
let faults;
let tokens; // token string -> {kind, tenant_key, expires_at (emu ms), revoked}
let current; // "tenant:<key>" | "app" -> token string most recently minted
let clockOffset = 0; // ms added to Date.now()
let seq = 0;
let archives;
let reviews;
let routes;
const rateWindows = {}; // path -> [emu ms of accepted calls]
const MAX_LOG = 5000;

function now() { return Date.now() + clockOffset; }

function resetCounters() {
	counters = {
		tenant_token_requests: 0, tenant_mints: 0, app_token_requests: 0, app_mints: 0,
		ticket_resends: 0, ticket_pushes: 0, api_calls: 0, api_ok: 0, token_rejects: 0,
		faults_served: 0, ratelimited: 0, per_path: {},
	};
	requests = [];
	faults = [];
}
function resetTokens() { tokens = new Map(); current = {}; }

/* ---- seed data ---- */
const SEED_USER = '7140964208476371111';
const PLAN = '7213563741295818284';
const CURRENCY_CNY = '6863329932261459464';
const ITEM_BASE = '7213568185773066284';
const ITEM_ALLOW = '7213568185773066290';
const IND_ANNUAL = '7213570081204930604';

function archive(user, id, tid, eff, exp, base, allow, reason, desc) {
	const fmt = (n) => n.toFixed(2);
	return {
		user_id: user, id, tid, plan_id: PLAN, plan_tid: '7303487035893750001',
		currency_id: CURRENCY_CNY, change_reason_id: reason, change_description: desc,
		effective_date: eff, expiration_date: exp, salary_level_id: '7269391262146627116',
		created_time: eff + ' 09:30:00', updated_time: eff + ' 09:30:00',
		archive_items: [
			{ item_id: ITEM_BASE, item_result: fmt(base), item_result_regular: fmt(base) },
			{ item_id: ITEM_ALLOW, item_result: fmt(allow), item_result_regular: fmt(allow) },
		],
		archive_indicators: [
			{ indicator_id: IND_ANNUAL, indicator_result: fmt((base + allow) * 12),
				indicator_result_regular: fmt((base + allow) * 12) },
		],
	};
}
function seedArchives() {
	const a = [
		archive(SEED_USER, '7303487035893750111', '7303487035893753387', '2023-01-01', '2023-12-31',
			27000, 1500, '7213565474290712108', 'Annual review 2023'),
		archive(SEED_USER, '7303487035893750111', '7303487035893753388', '2024-01-01', '9999-12-31',
			30000, 1500, '7213565474290712108', 'Annual review 2024'),
	];
	const bulk = '7140964208476372222';
	for (let i = 0; i < 7; i++) {
		const y = 2017 + i;
		a.push(archive(bulk, '7303487035893750222', String(7303487035893760000n + BigInt(i)),
			`${y}-04-01`, i === 6 ? '9999-12-31' : `${y + 1}-03-31`, 20000 + 1000 * i, 800,
			'7213565474290712109', `Step ${i + 1}`));
	}
	return a;
}
const REVIEWEE = { open_id: 'ou_7dab8a3d3cdcc9da365777c7ad535d62', user_id: 'e33ggbyz' };
const LEADER = { open_id: 'ou_1d2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b', user_id: 'a81fbc2d' };
function seedReviews() {
	return [{
		user_id: REVIEWEE, semester_id: '7194320234327572499', activity_id: '7194320234327572500',
		review_template_id: '7194320234327572510',
		stages: [{
			stage_id: '7194320234327572501', stage_type: 'review', template_id: '7194320234327572511',
			review_stage_role: 'solid_line_leader',
			records: [{
				progress: 4, record_id: '7194320234327572520',
				units: [{
					unit_id: '7194320234327572530', is_unknown: false,
					data: [
						{ field_id: '7194320234327572540', reviewer_user_id: LEADER,
							submit_time: '1700000000000', indicator_id: '7194320234327572550',
							option_id: '7194320234327572560', score: '4.5', text: 'Exceeds expectations' },
						{ field_id: '7194320234327572541', reviewer_user_id: LEADER,
							submit_time: '1700000000000', text: 'Led the payroll migration; mentor two juniors.' },
					],
				}],
			}],
		}, {
			stage_id: '7194320234327572502', stage_type: 'summarize_key_outputs',
			template_id: '7194320234327572512', review_stage_role: 'reviewee',
			records: [{
				progress: 4, record_id: '7194320234327572521',
				units: [{
					unit_id: '7194320234327572531', is_unknown: false,
					data: [{ field_id: '7194320234327572542', reviewer_user_id: REVIEWEE,
						submit_time: '1699990000000', text: 'Shipped the archive sync.' }],
				}],
			}],
		}],
	}];
}

function resetAll() {
	config = JSON.parse(JSON.stringify(START));
	archives = seedArchives();
	reviews = seedReviews();
	routes = [];
	clockOffset = 0;
	resetCounters();
	resetTokens();
}
resetAll();

/* ---- tokens ---- */
function b64url(buf) { return Buffer.from(buf).toString('base64url'); }
function newToken(prefix) {
	const len = Math.max(8, Number(config.token_len) || 42);
	if (len <= 64) {
		let t = prefix + crypto.randomBytes(len).toString('hex');
		return t.slice(0, len);
	}
	// JWT-shaped, as the OAuth v3 endpoint hands out: header.payload.signature
	const head = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'emu' })) + '.';
	const sig = '.' + b64url(crypto.randomBytes(64));
	let body = b64url(JSON.stringify({ app_id: config.app_id, jti: crypto.randomUUID() }));
	const need = len - head.length - sig.length;
	if (need <= body.length) return (head + b64url(crypto.randomBytes(len)) + sig).slice(0, len);
	body += b64url(crypto.randomBytes(Math.ceil(need * 3 / 4) + 3)).slice(0, need - body.length);
	return head + body + sig;
}
// The token for slot (tenant:<key> or app), minted anew unless the current
// one has same_token_window seconds or more left. Returns {token, expire, minted}.
function issue(slot, kind, tenantKey) {
	const cur = current[slot];
	const t = cur && tokens.get(cur);
	if (t && !t.revoked) {
		const left = Math.floor((t.expires_at - now()) / 1000);
		if (left >= config.same_token_window) return { token: cur, expire: left, minted: false };
	}
	let tok;
	do tok = newToken(kind === 'app' ? 'a-' : 't-'); while (tokens.has(tok));
	const expire = Math.max(1, Math.floor(Number(config.expire) || 7200));
	tokens.set(tok, { kind, tenant_key: tenantKey, expires_at: now() + expire * 1000, revoked: false });
	current[slot] = tok;
	return { token: tok, expire, minted: true };
}
function credError(body) {
	if (!body || typeof body.app_id !== 'string' || !/^cli_[0-9A-Za-z]+$/.test(body.app_id) ||
		typeof body.app_secret !== 'string' || body.app_secret === '')
		return { code: 10003, msg: 'invalid param', data: {} };
	if (body.app_id !== config.app_id) return { code: 10014, msg: 'app id not exists' };
	if (config.bad_credentials || body.app_secret !== config.app_secret)
		return { code: 10014, msg: 'app secret invalid' };
	return null;
}

/* ---- helpers ---- */
function send(res, status, obj, headers) {
	const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
	const h = Object.assign({
		'Content-Type': typeof obj === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
		'Content-Length': Buffer.byteLength(body),
		'X-Tt-Logid': crypto.randomBytes(12).toString('hex'),
	}, headers || {});
	res.writeHead(status, h);
	res.end(body);
	if (res.logEntry) {
		res.logEntry.status = status;
		res.logEntry.code = typeof obj === 'object' && obj && typeof obj.code === 'number' ? obj.code : null;
	}
}
function parseJSON(s) { try { return JSON.parse(s); } catch (e) { return undefined; } }
function fieldError(res, what) {
	send(res, 400, { code: 99992402, msg: 'field validation failed', error: { field_violations: [
		{ field: what, description: what + ' is invalid or missing' }] } });
}
function strList(v) { return Array.isArray(v) && v.every((x) => typeof x === 'string'); }
function pageToken(offset) { return Buffer.from('emu:' + offset).toString('base64url'); }
function pageOffset(tok) {
	if (tok === undefined || tok === '') return 0;
	const m = /^emu:(\d+)$/.exec(Buffer.from(String(tok), 'base64url').toString());
	return m ? Number(m[1]) : -1;
}
// page(res, query, list, key, def, max): answer one page of list; page_size
// (1..max) is required unless def (its default) is given.
function page(res, query, list, key, def, max) {
	const raw = query.page_size === undefined && def ? String(def) : String(query.page_size || '');
	const ps = Number(raw);
	if (!/^\d+$/.test(raw) || ps < 1 || ps > (max || 100)) {
		fieldError(res, 'page_size');
		return;
	}
	const size = Math.min(ps, Math.max(1, Number(config.page_size_max) || 100));
	const off = pageOffset(query.page_token);
	if (off < 0 || off > list.length) {
		fieldError(res, 'page_token');
		return;
	}
	const items = list.slice(off, off + size);
	const more = off + size < list.length;
	const data = { [key]: items, has_more: more };
	if (more) data.page_token = pageToken(off + size);
	else if (typeof config.last_page_token === 'string') data.page_token = config.last_page_token;
	send(res, 200, { code: 0, msg: 'success', data });
}

/* ---- the OpenAPI ---- */
function authToken(req) {
	const a = req.headers.authorization;
	if (typeof a !== 'string') return null;
	const m = /^Bearer ([^\s]+)$/.exec(a);
	return m ? m[1] : null;
}

function rateLimited(res, path) {
	const lim = config.rate_limits && config.rate_limits[path];
	if (!lim) return false;
	const win = (Number(lim.window) || 60) * 1000;
	const t = now();
	const w = (rateWindows[path] || []).filter((x) => x > t - win);
	rateWindows[path] = w;
	if (w.length >= (Number(lim.max) || 1)) {
		const reset = Math.max(1, Math.ceil((w[0] + win - t) / 1000));
		counters.ratelimited++;
		send(res, 429, { code: 99991400, msg: 'request trigger frequency limit' },
			{ 'x-ogw-ratelimit-limit': String(lim.max), 'x-ogw-ratelimit-reset': String(reset) });
		return true;
	}
	w.push(t);
	return false;
}

function handleAuth(req, res, path, body) {
	const b = parseJSON(body);
	if (req.method !== 'POST') return send(res, 404, '404 page not found');
	if (b === undefined || b === null || typeof b !== 'object')
		return send(res, 400, { code: 9499, msg: 'Bad Request' });
	switch (path) {
	case '/open-apis/auth/v3/tenant_access_token/internal': {
		counters.tenant_token_requests++;
		const e = credError(b);
		if (e) return send(res, 200, e);
		const r = issue('tenant:' + config.tenant_key, 'tenant', config.tenant_key);
		if (r.minted) counters.tenant_mints++;
		if (res.logEntry) { res.logEntry.token_kind = 'tenant'; res.logEntry.tenant_key = config.tenant_key; }
		return send(res, 200, { code: 0, msg: 'ok', tenant_access_token: r.token, expire: r.expire });
	}
	case '/open-apis/auth/v3/app_access_token/internal': {
		counters.app_token_requests++;
		const e = credError(b);
		if (e) return send(res, 200, e);
		const r = issue('app', 'app', null);
		if (r.minted) counters.app_mints++;
		return send(res, 200, { code: 0, msg: 'ok', app_access_token: r.token, expire: r.expire });
	}
	case '/open-apis/auth/v3/app_ticket/resend': {
		counters.ticket_resends++;
		const e = credError(b);
		if (e) return send(res, 200, e);
		send(res, 200, { code: 0, msg: 'ok' });
		if (config.ticket_push_url) setImmediate(() => pushTicket(() => {}));
		return;
	}
	case '/open-apis/auth/v3/app_access_token': {
		counters.app_token_requests++;
		const e = credError(b);
		if (e) return send(res, 200, e);
		if (typeof b.app_ticket !== 'string' || b.app_ticket !== config.app_ticket)
			return send(res, 200, { code: 10012, msg: 'app_ticket is invalid' });
		const r = issue('app', 'app', null);
		if (r.minted) counters.app_mints++;
		return send(res, 200, { code: 0, msg: 'ok', app_access_token: r.token, expire: r.expire });
	}
	case '/open-apis/auth/v3/tenant_access_token': {
		counters.tenant_token_requests++;
		const at = typeof b.app_access_token === 'string' ? tokens.get(b.app_access_token) : null;
		if (!at || at.kind !== 'app' || at.revoked || at.expires_at <= now())
			return send(res, 200, { code: 99991664, msg: 'invalid app access token' });
		const tk = b.tenant_key;
		if (typeof tk !== 'string' || tk === '' ||
			(config.tenants.length && !config.tenants.includes(tk)))
			return send(res, 200, { code: 10003, msg: 'invalid param', data: {} });
		const r = issue('tenant:' + tk, 'tenant', tk);
		if (r.minted) counters.tenant_mints++;
		if (res.logEntry) { res.logEntry.token_kind = 'tenant'; res.logEntry.tenant_key = tk; }
		return send(res, 200, { code: 0, msg: 'ok', tenant_access_token: r.token, expire: r.expire });
	}
	default:
		return send(res, 404, '404 page not found');
	}
}

function archivesQuery(res, query, b) {
	if (!query.user_id_type) return fieldError(res, 'user_id_type');
	if (!b || !strList(b.user_id_list) || b.user_id_list.length === 0) return fieldError(res, 'user_id_list');
	if (b.tid_list !== undefined && !strList(b.tid_list)) return fieldError(res, 'tid_list');
	let list = [];
	if (query.user_id_type === 'people_corehr_id') {
		list = archives.filter((a) => b.user_id_list.includes(a.user_id) &&
			(!b.tid_list || b.tid_list.length === 0 || b.tid_list.includes(a.tid)) &&
			(!b.effective_start_date || a.expiration_date >= b.effective_start_date) &&
			(!b.effective_end_date || a.effective_date <= b.effective_end_date));
	}
	return page(res, query, list, 'items');
}

function reviewsQuery(res, query, b) {
	if (!b || !strList(b.semester_ids) || b.semester_ids.length < 1 || b.semester_ids.length > 10)
		return fieldError(res, 'semester_ids');
	if (!strList(b.reviewee_user_ids) || b.reviewee_user_ids.length < 1 || b.reviewee_user_ids.length > 10)
		return fieldError(res, 'reviewee_user_ids');
	if (b.stage_ids !== undefined && (!strList(b.stage_ids) || b.stage_ids.length > 50))
		return fieldError(res, 'stage_ids');
	const idType = query.user_id_type || 'open_id';
	if (idType !== 'open_id' && idType !== 'user_id') return fieldError(res, 'user_id_type');
	const datas = [];
	for (const d of reviews) {
		if (!b.semester_ids.includes(d.semester_id)) continue;
		if (!b.reviewee_user_ids.includes(d.user_id[idType])) continue;
		const stages = (d.stages || []).filter((s) =>
			(!b.stage_ids || b.stage_ids.length === 0 || b.stage_ids.includes(s.stage_id)) &&
			(!b.stage_types || b.stage_types.length === 0 || b.stage_types.includes(s.stage_type)));
		datas.push(Object.assign({}, d, { stages }));
	}
	send(res, 200, { code: 0, msg: 'success', data: { datas } });
}

function handleApi(req, res, path, query, body) {
	const tok = authToken(req);
	const ts = config.token_status || 400;
	if (!tok) {
		counters.token_rejects++;
		return send(res, ts, { code: 99991661,
			msg: 'Missing access token for authorization. Please make a request with token attached.' });
	}
	const t = tokens.get(tok);
	if (res.logEntry && t) { res.logEntry.token_kind = t.kind; res.logEntry.tenant_key = t.tenant_key; }
	if (!t || t.revoked || t.expires_at <= now() || t.kind !== 'tenant') {
		counters.token_rejects++;
		return send(res, ts, { code: 99991663,
			msg: 'Invalid access token for authorization. Please make a request with token attached.' });
	}
	if (rateLimited(res, path)) return;
	const route = routes.find((r) => r.path === path && (!r.method || r.method === req.method));
	const b = parseJSON(body);
	const ok = () => { if (res.statusCode === 200 && res.logEntry && res.logEntry.code === 0) counters.api_ok++; };
	if (route) {
		if (route.items) page(res, query, route.items, route.list_key || 'items', route.page_size_default || 20, 500);
		else send(res, route.status || 200, route.body === undefined ? { code: 0, msg: 'success', data: {} } : route.body);
		return ok();
	}
	if (req.method === 'POST' && (path === '/open-apis/compensation/v1/archives/query' ||
		path === '/open-apis/performance/v2/review_datas/query')) {
		if (body.length && b === undefined) return send(res, 400, { code: 9499, msg: 'Bad Request' });
		if (path.startsWith('/open-apis/compensation/')) archivesQuery(res, query, b);
		else reviewsQuery(res, query, b);
		return ok();
	}
	return send(res, 404, '404 page not found');
}

/* ---- faults ---- */
function takeFault(path) {
	const isToken = path.startsWith('/open-apis/auth/');
	for (let i = 0; i < faults.length; i++) {
		const f = faults[i];
		const where = f.where || 'api';
		if (where === 'api' && isToken) continue;
		if (where === 'token' && !isToken) continue;
		if (f.path && !path.startsWith(f.path)) continue;
		f.count--;
		if (f.count <= 0) faults.splice(i, 1);
		return f;
	}
	return null;
}
// serveFault: true when the fault answered (or swallowed) the request.
function serveFault(f, req, res, go) {
	counters.faults_served++;
	switch (f.kind) {
	case 'ratelimit':
		counters.ratelimited++;
		send(res, f.status || 429, { code: 99991400, msg: 'request trigger frequency limit' }, {
			'x-ogw-ratelimit-limit': String(f.limit || 10),
			'x-ogw-ratelimit-reset': String(f.reset === undefined ? 1 : f.reset),
		});
		return;
	case 'status': {
		const st = f.status || 500;
		send(res, st, f.body !== undefined ? f.body : { code: st, msg: 'internal error' });
		return;
	}
	case 'code':
		send(res, f.status || (f.code === 99991663 || f.code === 99991661 ? config.token_status : 400) || 400,
			{ code: f.code || 99991663, msg: f.msg || 'emulated error' });
		return;
	case 'hang':
		if (res.logEntry) res.logEntry.status = 'hang';
		hanging.add(res);
		res.on('close', () => hanging.delete(res));
		return;
	case 'close':
		if (res.logEntry) res.logEntry.status = 'closed';
		req.socket.destroy();
		return;
	case 'delay':
		setTimeout(go, Math.max(0, Number(f.ms) || 0));
		return;
	case 'hold':
		held.push(go);
		return;
	default:
		send(res, 500, { code: 500, msg: 'unknown fault kind ' + f.kind });
	}
}
const hanging = new Set();
const held = []; // continuations of held requests, oldest first

/* ---- app_ticket push ---- */
function encrypt(key, plain) {
	const k = crypto.createHash('sha256').update(key).digest();
	const iv = crypto.randomBytes(16);
	const c = crypto.createCipheriv('aes-256-cbc', k, iv);
	return Buffer.concat([iv, c.update(plain), c.final()]).toString('base64');
}
function pushTicket(done) {
	const ev = JSON.stringify({
		ts: String(Math.floor(now() / 1000)) + '.000000', uuid: crypto.randomBytes(16).toString('hex'),
		token: config.verification_token, type: 'event_callback',
		event: { type: 'app_ticket', app_id: config.app_id, app_ticket: config.app_ticket },
	});
	let body = ev;
	const headers = { 'Content-Type': 'application/json; charset=utf-8' };
	if (config.encrypt_key) {
		body = JSON.stringify({ encrypt: encrypt(config.encrypt_key, ev) });
		const ts = String(Math.floor(Date.now() / 1000));
		const nonce = crypto.randomBytes(8).toString('hex');
		headers['X-Lark-Request-Timestamp'] = ts;
		headers['X-Lark-Request-Nonce'] = nonce;
		headers['X-Lark-Signature'] = crypto.createHash('sha256')
			.update(ts + nonce + config.encrypt_key + body).digest('hex');
	}
	let u;
	try { u = new URL(config.ticket_push_url); } catch (e) { return done(0, 'bad ticket_push_url'); }
	headers['Content-Length'] = Buffer.byteLength(body);
	const r = http.request({ host: u.hostname, port: u.port || 80, path: u.pathname + u.search,
		method: 'POST', headers, timeout: 10000 }, (resp) => {
		resp.resume();
		resp.on('end', () => { counters.ticket_pushes++; done(resp.statusCode); });
	});
	r.on('timeout', () => r.destroy(new Error('timeout')));
	r.on('error', (e) => done(0, e.message));
	r.end(body);
}

/* ---- control ---- */
function control(req, res, path, query, body) {
	const b = body.length ? parseJSON(body) : {};
	if (b === undefined || b === null || typeof b !== 'object')
		return send(res, 400, { code: 1, msg: 'control body must be a JSON object' });
	if (req.method === 'GET' && path === '/_emu/state') {
		const out = {
			code: 0, counters, config, clock: { offset_s: clockOffset / 1000, now_ms: now() },
			faults, held: held.length,
			tokens: [...tokens].map(([k, v]) => ({ kind: v.kind, tenant_key: v.tenant_key, token: k,
				len: k.length, expires_in: Math.floor((v.expires_at - now()) / 1000), revoked: v.revoked })),
		};
		if (query.requests !== '0')
			out.requests = query.path ? requests.filter((r) => r.path.startsWith(query.path)) : requests;
		return send(res, 200, out);
	}
	if (req.method !== 'POST') return send(res, 404, { code: 1, msg: 'unknown control ' + path });
	switch (path) {
	case '/_emu/config':
		for (const [k, v] of Object.entries(b)) {
			if (!(k in START)) return send(res, 400, { code: 1, msg: 'unknown config key ' + k });
			config[k] = v;
		}
		return send(res, 200, { code: 0, config });
	case '/_emu/fault': {
		const kinds = ['ratelimit', 'status', 'code', 'hang', 'close', 'delay', 'hold'];
		if (!kinds.includes(b.kind)) return send(res, 400, { code: 1, msg: 'kind must be one of ' + kinds });
		const f = Object.assign({}, b, { count: Math.max(1, Number(b.count) || 1) });
		faults.push(f);
		return send(res, 200, { code: 0, queued: faults.length });
	}
	case '/_emu/release': {
		const n = Math.min(held.length, b.count === undefined ? held.length : Math.max(0, Number(b.count) || 0));
		const go = held.splice(0, n);
		send(res, 200, { code: 0, released: go.length });
		for (const g of go) g();
		return;
	}
	case '/_emu/revoke': {
		let n = 0;
		for (const [k, v] of tokens) {
			if (b.kind && v.kind !== b.kind) continue;
			if (b.tenant_key && v.tenant_key !== b.tenant_key) continue;
			if (b.token && k !== b.token) continue;
			v.revoked = true;
			n++;
		}
		return send(res, 200, { code: 0, revoked: n });
	}
	case '/_emu/clock':
		if (typeof b.set_offset === 'number') clockOffset = b.set_offset * 1000;
		if (typeof b.advance === 'number') clockOffset += b.advance * 1000;
		return send(res, 200, { code: 0, offset_s: clockOffset / 1000 });
	case '/_emu/reset':
		if (b.config) resetAll();
		resetCounters();
		if (b.tokens) resetTokens();
		return send(res, 200, { code: 0 });
	case '/_emu/archives': {
		if (!Array.isArray(b.items)) return send(res, 400, { code: 1, msg: 'items must be an array' });
		for (const it of b.items) {
			if (!it || typeof it.user_id !== 'string' || typeof it.tid !== 'string')
				return send(res, 400, { code: 1, msg: 'each item needs user_id and tid' });
		}
		for (const it of b.items) {
			archives.push(Object.assign(archive(it.user_id, '7303487035893759999', it.tid, '2024-01-01',
				'9999-12-31', 10000, 0, '7213565474290712108', 'Added by a test'), it));
		}
		return send(res, 200, { code: 0, count: archives.length });
	}
	case '/_emu/reviews':
		if (!Array.isArray(b.datas) || !b.datas.every((d) => d && d.user_id && d.semester_id))
			return send(res, 400, { code: 1, msg: 'datas: [{user_id:{open_id,user_id}, semester_id, ...}]' });
		reviews.push(...b.datas);
		return send(res, 200, { code: 0, count: reviews.length });
	case '/_emu/route':
		if (typeof b.path !== 'string' || !b.path.startsWith('/open-apis/'))
			return send(res, 400, { code: 1, msg: 'path must start with /open-apis/' });
		routes = routes.filter((r) => !(r.path === b.path && r.method === b.method));
		routes.unshift(b);
		return send(res, 200, { code: 0, routes: routes.length });
	case '/_emu/ticket':
		if (!config.ticket_push_url) return send(res, 400, { code: 1, msg: 'no ticket_push_url' });
		return pushTicket((status, err) => send(res, 200, { code: 0, status, error: err || null }));
	default:
		return send(res, 404, { code: 1, msg: 'unknown control ' + path });
	}
}

/* ---- server ---- */
const TLS = opt('tls-cert', '') ? { cert: fs.readFileSync(opt('tls-cert')), key: fs.readFileSync(opt('tls-key')) } : null;
const server = (TLS ? https : http).createServer(Object.assign({ maxHeaderSize: 256 * 1024 }, TLS || {}), (req, res) => {
	const chunks = [];
	let size = 0;
	req.on('data', (c) => {
		size += c.length;
		if (size <= 8 * 1024 * 1024) chunks.push(c);
	});
	req.on('end', () => {
		const body = Buffer.concat(chunks).toString('utf8');
		const u = new URL(req.url, 'http://127.0.0.1');
		const path = u.pathname;
		const query = {};
		for (const [k, v] of u.searchParams) query[k] = v;
		if (path.startsWith('/_emu/')) return control(req, res, path, query, body);
		counters.per_path[path] = (counters.per_path[path] || 0) + 1;
		if (path.startsWith('/open-apis/') && !path.startsWith('/open-apis/auth/')) counters.api_calls++;
		const entry = { seq: ++seq, t: Date.now(), method: req.method, target: req.url, path, query,
			headers: Object.assign({}, req.headers), body, status: null, code: null,
			token_kind: null, tenant_key: null };
		requests.push(entry);
		if (requests.length > MAX_LOG) requests.shift();
		res.logEntry = entry;
		const go = () => {
			if (!path.startsWith('/open-apis/')) return send(res, 404, '404 page not found');
			if (path.startsWith('/open-apis/auth/v3/')) return handleAuth(req, res, path, body);
			return handleApi(req, res, path, query, body);
		};
		const f = takeFault(path);
		return f ? serveFault(f, req, res, go) : go();
	});
});
server.keepAliveTimeout = 5000;
function stop() {
	for (const r of hanging) r.socket && r.socket.destroy();
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 2000).unref();
	if (server.closeAllConnections) server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.on('error', (e) => { process.stderr.write('openapi emulator: ' + e.message + '\n'); process.exit(1); });
server.listen(Number(opt('port', 0)), '127.0.0.1', () => {
	const port = server.address().port;
	process.stdout.write(`port=${port}\nurl=${TLS ? 'https' : 'http'}://127.0.0.1:${port}\n`);
});
