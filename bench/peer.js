// peer.js: the peer larkhook is compared with by make bench (doc/8-performance.md):
// the official Lark / Feishu Node SDK's own event server, as its README shows
// it (adaptDefault on node's http module), on 127.0.0.1:$PEER_PORT, with the
// same Encrypt Key and Verification Token. The handler does nothing: the SDK
// decrypts and checks the signature, then answers; it stores nothing.
// GET /stats answers how many events reached the handler, so make bench can
// tell a verified event from one the SDK dropped (it answers 200 to both).
'use strict';
const http = require('http');
const lark = require('@larksuiteoapi/node-sdk');

let handled = 0;
const dispatcher = new lark.EventDispatcher({
	encryptKey: process.env.LARK_ENCRYPT_KEY,
	verificationToken: process.env.LARK_VERIFICATION_TOKEN,
}).register({
	'compensation.archive.changed_v1': async () => { handled++; },
});
const sdk = lark.adaptDefault('/larkhook', dispatcher);

http.createServer((req, res) => {
	if (req.url === '/stats') {
		res.end(String(handled));
		return;
	}
	sdk(req, res);
}).listen(Number(process.env.PEER_PORT), '127.0.0.1');
