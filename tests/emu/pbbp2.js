'use strict';
// pbbp2.js: the Feishu long connection's frame (protobuf, proto2), written
// here by hand so the emulator does not share code with the clients it
// checks (doc/10-connect.md §10.1):
//
//   message Header { required string key = 1; required string value = 2; }
//   message Frame {
//     required uint64 SeqID = 1;  required uint64 LogID = 2;
//     required int32  service = 3; required int32 method = 4;
//     repeated Header headers = 5;
//     optional string payload_encoding = 6; optional string payload_type = 7;
//     optional bytes  payload = 8;          optional string LogIDNew = 9;
//   }
//
// A frame here is a plain object: SeqID and LogID as BigInt (uint64: a
// Number would lose digits above 2^53), service and method as Numbers,
// headers as [{key, value}], payload as a Buffer, the optional strings
// under payload_encoding, payload_type and LogIDNew when present.

// varint(v) -> Buffer of the base-128 varint of a uint64 (BigInt or Number)
function varint(v) {
	if (typeof v === 'number' && v >= 0 && v < 0x80) return Buffer.from([v]);
	v = BigInt.asUintN(64, BigInt(v));
	const out = [];
	while (v >= 0x80n) {
		out.push(Number(v & 0x7fn) | 0x80);
		v >>= 7n;
	}
	out.push(Number(v));
	return Buffer.from(out);
}
const key = (field, wire) => varint((field << 3) | wire);
function bytesField(parts, field, buf) {
	parts.push(key(field, 2), varint(buf.length), buf);
}

// encode(frame) -> Buffer. Fields 1-4 are always written (required).
function encode(f) {
	const parts = [];
	parts.push(key(1, 0), varint(f.SeqID ?? 0n));
	parts.push(key(2, 0), varint(f.LogID ?? 0n));
	// int32: a negative value is sign-extended to ten bytes, as protobuf does
	parts.push(key(3, 0), varint(BigInt.asUintN(64, BigInt(f.service | 0))));
	parts.push(key(4, 0), varint(BigInt.asUintN(64, BigInt(f.method | 0))));
	for (const h of f.headers || []) {
		const inner = [];
		bytesField(inner, 1, Buffer.from(String(h.key)));
		bytesField(inner, 2, Buffer.from(String(h.value)));
		bytesField(parts, 5, Buffer.concat(inner));
	}
	if (f.payload_encoding != null) bytesField(parts, 6, Buffer.from(f.payload_encoding));
	if (f.payload_type != null) bytesField(parts, 7, Buffer.from(f.payload_type));
	if (f.payload != null) bytesField(parts, 8, Buffer.from(f.payload));
	if (f.LogIDNew != null) bytesField(parts, 9, Buffer.from(f.LogIDNew));
	return Buffer.concat(parts);
}

class Reader {
	constructor(buf, start = 0, end = buf.length) { this.b = buf; this.p = start; this.end = end; }
	more() { return this.p < this.end; }
	varint() {
		let v = 0n, shift = 0n;
		for (let i = 0; i < 10; i++) {
			if (this.p >= this.end) throw new Error('truncated varint');
			const c = this.b[this.p++];
			v |= BigInt(c & 0x7f) << shift;
			if (!(c & 0x80)) return BigInt.asUintN(64, v);
			shift += 7n;
		}
		throw new Error('varint longer than 10 bytes');
	}
	bytes() {
		const n = this.varint();
		if (n > BigInt(this.end - this.p)) throw new Error('length past the end');
		const s = this.p;
		this.p += Number(n);
		return this.b.subarray(s, this.p);
	}
	skip(wire) {
		if (wire === 0) this.varint();
		else if (wire === 2) this.bytes();
		else if (wire === 1 || wire === 5) {
			const n = wire === 1 ? 8 : 4;
			if (this.end - this.p < n) throw new Error('truncated fixed field');
			this.p += n;
		} else throw new Error('unsupported wire type ' + wire);
	}
}

function int32(v) { return Number(BigInt.asIntN(32, v)); }

function decodeHeader(buf) {
	const r = new Reader(buf);
	const h = {};
	while (r.more()) {
		const t = Number(r.varint());
		const field = t >>> 3, wire = t & 7;
		if (field === 1 && wire === 2) h.key = r.bytes().toString();
		else if (field === 2 && wire === 2) h.value = r.bytes().toString();
		else r.skip(wire);
	}
	if (h.key === undefined) throw new Error("header without its required 'key'");
	if (h.value === undefined) throw new Error("header without its required 'value'");
	return h;
}

// decode(Buffer) -> frame; throws on a malformed frame or one without a
// required field. Unknown fields are skipped.
function decode(buf) {
	const r = new Reader(buf);
	const f = { headers: [] };
	while (r.more()) {
		const t = Number(r.varint());
		const field = t >>> 3, wire = t & 7;
		if (field === 0) throw new Error('field number 0');
		const want = { 1: 0, 2: 0, 3: 0, 4: 0, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2 }[field];
		if (want === undefined || want !== wire) { r.skip(wire); continue; }
		switch (field) {
		case 1: f.SeqID = r.varint(); break;
		case 2: f.LogID = r.varint(); break;
		case 3: f.service = int32(r.varint()); break;
		case 4: f.method = int32(r.varint()); break;
		case 5: f.headers.push(decodeHeader(r.bytes())); break;
		case 6: f.payload_encoding = r.bytes().toString(); break;
		case 7: f.payload_type = r.bytes().toString(); break;
		case 8: f.payload = Buffer.from(r.bytes()); break;
		case 9: f.LogIDNew = r.bytes().toString(); break;
		}
	}
	for (const k of ['SeqID', 'LogID', 'service', 'method'])
		if (f[k] === undefined) throw new Error(`missing required '${k}'`);
	return f;
}

// headerMap(frame) -> {key: value} (the last value of a repeated key wins,
// as in the SDKs).
function headerMap(f) {
	const m = {};
	for (const h of f.headers) m[h.key] = h.value;
	return m;
}

module.exports = { encode, decode, headerMap };
