'use strict';
// lc-peer.js: the official Node SDK's WSClient with an empty handler, the
// peer bench/lc.sh compares `larkhook connect` with on the same emulator
// stream (tests/emu/lc.js). Usage: node lc-peer.js EMU_URL APP_ID APP_SECRET
// (NODE_PATH holding @larksuiteoapi/node-sdk); runs until SIGTERM.
const lark = require('@larksuiteoapi/node-sdk');
const [domain, appId, appSecret] = process.argv.slice(2);
const quiet = { error: (...a) => console.error(...a), warn: () => {}, info: () => {}, debug: () => {}, trace: () => {} };
const dispatcher = new lark.EventDispatcher({ logger: quiet }).register({
	'compensation.archive.changed_v1': async () => {},
});
const client = new lark.WSClient({ appId, appSecret, domain, logger: quiet });
client.start({ eventDispatcher: dispatcher });
process.on('SIGTERM', () => { client.close({ force: true }); process.exit(0); });
