"use strict";
// canonical(v): v with object keys sorted at every level - the form whose
// SHA-256 the phala CLI (getComposeHash), the mock API and the simulated
// guest agent call compose_hash. One copy for both servers.
function canonical(v) {
	if (Array.isArray(v)) return v.map(canonical);
	if (v && typeof v === "object") {
		const o = {};
		for (const k of Object.keys(v).sort()) o[k] = canonical(v[k]);
		return o;
	}
	return v;
}
module.exports = { canonical };
