#!/usr/bin/env node
// agent.js CVMDIR: the guest agent of one simulated CVM (issue 7), the dstack
// way (../shared/notes/dstack-formats.md §1-§3): HTTP on the unix socket
// CVMDIR/dstack.sock, which t/sim/sim bind-mounts at /var/run/dstack.sock in
// the CVM's mount namespace.
//   GET /Info                       AppInfo: tcb_info with the full event log
//   GET /GetQuote?report_data=HEX   a TDX quote (tdx-testpki, test PCK chain)
//                                   over the caller's report_data, stripped log
// CVMDIR/agent.json: {app_id, instance_id, compose (the deployed compose_file
// object, as the mock API stored it), testpki, pki,
// template (an Info answer whose boot events, MRTD, RTMR0-2, os_image_hash and
// vm_config are reused: the simulator's synthetic OS image, t/sim/sim images),
// app_cert (PEM), mode}. mode: good | wrong-app (app-id event of another app)
// | wrong-compose (a compose other than the deployed one) | stale (GetQuote
// ignores report_data: a quote over an old nonce).
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { execFileSync } = require("child_process");

const dir = process.argv[2];
const cfg = JSON.parse(fs.readFileSync(path.join(dir, "agent.json"), "utf8"));
const tpl = JSON.parse(fs.readFileSync(cfg.template, "utf8"));
const tcb = JSON.parse(tpl.tcb_info);
const RUNTIME = 0x08000001;

let appId = cfg.app_id;
// app_compose: the deployed compose as key-sorted JSON, the form whose
// SHA-256 the CLI and the mock API call compose_hash.
const { canonical } = require(path.join(__dirname, "canonical-json.js"));
// The CLI sends a sparse compose; like the service, the simulator fills in
// the fields it defaults (gateway on, KMS on) before the CVM measures it.
const DEFAULTS = { manifest_version: 2, runner: "docker-compose", gateway_enabled: true, kms_enabled: true,
	local_key_provider_enabled: false, no_instance_id: false, secure_time: false };
let compose = JSON.stringify(canonical(Object.assign({}, DEFAULTS, JSON.parse(fs.readFileSync(cfg.compose, "utf8")))));
// The deployed (honest) compose hash, for the API's record of this CVM.
fs.writeFileSync(path.join(dir, "compose_hash"), crypto.createHash("sha256").update(compose, "utf8").digest("hex") + "\n");
if (cfg.mode === "wrong-app") appId = crypto.randomBytes(20).toString("hex");
if (cfg.mode === "wrong-compose") {
	const c = JSON.parse(compose);
	c.docker_compose_file = "services:\n  miner:\n    image: evil/miner\n";
	compose = JSON.stringify(canonical(c));
}
const composeHash = crypto.createHash("sha256").update(compose, "utf8").digest("hex");

// v1 runtime event digest: SHA-384(LE32 type ":" name ":" payload bytes).
function runtimeDigest(e) {
	const t = Buffer.alloc(4);
	t.writeUInt32LE(e.event_type);
	return crypto.createHash("sha384").update(Buffer.concat([t, Buffer.from(":" + e.event + ":"),
		Buffer.from(e.event_payload, "hex")])).digest("hex");
}

const payloads = { "app-id": appId, "compose-hash": composeHash, "instance-id": cfg.instance_id };
const log = tcb.event_log.map((e) => {
	if (e.event_type !== RUNTIME || e.imr !== 3) return e;
	const n = Object.assign({}, e);
	if (payloads[n.event] !== undefined) n.event_payload = payloads[n.event];
	n.digest = runtimeDigest(n);
	return n;
});
const rtmr = [0, 1, 2, 3].map(() => Buffer.alloc(48));
for (const e of log) {
	rtmr[e.imr] = crypto.createHash("sha384").update(Buffer.concat([rtmr[e.imr], Buffer.from(e.digest, "hex")])).digest();
}
const rt = rtmr.map((b) => b.toString("hex"));
// MRCONFIGID v1 = 01 || compose_hash || 00*15 (notes §11), and mr_aggregated
// over MRTD, RTMR0-3, MRCONFIGID, MROWNER, MROWNERCONFIG (zeros).
const mrConfigId = "01" + composeHash + "00".repeat(15);
const mrAggregated = crypto.createHash("sha256").update(Buffer.concat([Buffer.from(tcb.mrtd, "hex"),
	...rtmr, Buffer.from(mrConfigId, "hex"), Buffer.alloc(96)])).digest("hex");
// GetQuote's log (>= v0.5.6, notes §3): runtime events lose their digest, boot
// events their payload, except the three "ACPI DATA" events, which keep it.
const acpiData = Buffer.from("ACPI DATA").toString("hex");
const stripped = log.map((e) => {
	if (e.event_type === RUNTIME) return Object.assign({}, e, { digest: "" });
	return e.event_payload === acpiData ? e : Object.assign({}, e, { event_payload: "" });
});

function quote(reportData) {
	const args = ["quote", cfg.pki, "--hex", "--report-data", reportData, "--mr-td", tcb.mrtd, "--mr-config-id", mrConfigId];
	for (let i = 0; i < 4; i++) args.push("--rtmr" + i, rt[i]);
	return execFileSync(cfg.testpki, args, { encoding: "utf8" }).trim();
}

const info = {
	app_id: appId, instance_id: cfg.instance_id, app_cert: cfg.app_cert,
	tcb_info: JSON.stringify({
		mrtd: tcb.mrtd, rtmr0: rt[0], rtmr1: rt[1], rtmr2: rt[2], rtmr3: rt[3],
		mr_aggregated: mrAggregated, os_image_hash: tcb.os_image_hash, compose_hash: composeHash,
		device_id: tcb.device_id, event_log: log, app_compose: compose,
	}, null, 2),
	app_name: JSON.parse(compose).name || "", device_id: tpl.device_id, mr_aggregated: mrAggregated,
	os_image_hash: tpl.os_image_hash, key_provider_info: tpl.key_provider_info, compose_hash: composeHash,
	vm_config: tpl.vm_config, cloud_vendor: "dstack-sim", cloud_product: "dstack-sim",
};
const stale = crypto.randomBytes(64).toString("hex"); // a nonce nobody asked for

function answer(res, code, obj) {
	const s = JSON.stringify(obj);
	res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(s) });
	res.end(s);
}

const sock = path.join(dir, "dstack.sock");
fs.rmSync(sock, { force: true });
const server = http.createServer((req, res) => {
	const u = new URL(req.url, "http://dstack");
	fs.appendFileSync(path.join(dir, "agent.log"), req.method + " " + u.pathname + u.search + "\n");
	if (u.pathname === "/Info") return answer(res, 200, info);
	if (u.pathname === "/GetQuote") {
		let rd = (u.searchParams.get("report_data") || "").toLowerCase();
		if (!/^([0-9a-f]{2}){0,64}$/.test(rd)) return answer(res, 400, { error: "report_data: at most 64 bytes of hex" });
		rd = rd.padEnd(128, "0");
		if (cfg.mode === "stale") rd = stale;
		try {
			return answer(res, 200, { quote: quote(rd), event_log: JSON.stringify(stripped), report_data: rd,
				vm_config: tpl.vm_config });
		} catch (e) {
			return answer(res, 500, { error: "quote: " + e.message });
		}
	}
	return answer(res, 404, { error: "not found" });
});
// The CVM's sshd runs as the unprivileged test user, who must be able to connect.
server.listen(sock, () => { fs.chmodSync(sock, 0o666); fs.writeFileSync(path.join(dir, "agent.ready"), "ok\n"); });
process.on("SIGTERM", () => { fs.rmSync(sock, { force: true }); process.exit(0); });
