// Runs a dcap-qvl npm peer on one quote and collateral; prints
// {"status","advisory_ids","report":{...hex}} or {"error"} (exit 1).
// usage: node dcap-qvl-peer.js js|wasm QUOTE COLLATERAL NOW
'use strict';
const fs = require('fs');
const [, , which, quoteFile, collFile, now] = process.argv;
const quote = fs.readFileSync(quoteFile);
const coll = JSON.parse(fs.readFileSync(collFile, 'utf8'));
const hex = (k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex')
	: v instanceof Uint8Array ? Buffer.from(v).toString('hex')
	: typeof v === 'bigint' ? v.toString() : v);
try {
	let r;
	if (which === 'js') {
		r = require('@phala/dcap-qvl').verify(quote, coll, Number(now));
	} else {
		const w = require('@phala/dcap-qvl-web');
		w.initSync({ module: fs.readFileSync(require.resolve('@phala/dcap-qvl-web/dcap-qvl-web_bg.wasm')) });
		r = w.js_verify(quote, coll, BigInt(now));
	}
	console.log(JSON.stringify(r, hex));
} catch (e) {
	console.log(JSON.stringify({ error: String((e && e.message) || e) }));
	process.exit(1);
}
