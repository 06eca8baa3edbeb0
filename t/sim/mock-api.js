#!/usr/bin/env node
// A loopback mock of the Phala Cloud API, for driving the real `phala` CLI in
// tests (PHALA_CLOUD_API_PREFIX=http://127.0.0.1:PORT/api/v1). Dependency-free.
//
// Shapes: ../../../shared/notes/phala-cli.md §13 (A1-A11); every value is
// invented. State lives in one directory (see t/sim/README.md):
//
//   DIR/config.json        options given at start (key, gateway domain, hook, ...)
//   DIR/os-images.json     optional: the release list GET /os-images serves
//   DIR/port, DIR/prefix   the listening port and the API prefix, once ready
//   DIR/cvms/APP_ID.json   one file per CVM (the mock re-reads them on every request)
//   DIR/cvms/APP_ID.env    decrypted environment of a deploy (JSON), e.g. DSTACK_AUTHORIZED_KEYS
//   DIR/cvms/APP_ID.compose  the app compose the provision request carried (JSON)
//   DIR/provisions/APP_ID.json  pending provisions (the x25519 key the env is sealed to)
//   DIR/faults/ENDPOINT.json   injected failure for one endpoint (or "any")
//   DIR/requests.txt       one line per request: SEQ METHOD PATH key=ok|missing|bad ver=V status=S
//   DIR/requests.jsonl     the same with query and body, one JSON object a line
//
// Usage: node mock-api.js serve DIR
//        node mock-api.js add DIR KEY=VALUE...      seed a CVM (name=, app_id=, status=, ...)
//        node mock-api.js fault DIR ENDPOINT JSON   e.g. '{"status":400,"body":{"detail":"x"},"times":1}'
//        node mock-api.js clear DIR [ENDPOINT]
"use strict";

const http = require("http");
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const { spawn } = require("child_process");

const ENDPOINTS = ["auth_me", "provision", "create", "get", "delete", "patch", "apps",
	"status_batch", "attestation", "user_config", "os_images", "any"];

function die(msg, code) {
	process.stderr.write("mock-api: " + msg + "\n");
	process.exit(code);
}

function readJson(file, fallback) {
	try {
		return JSON.parse(fs.readFileSync(file, "utf8"));
	} catch (e) {
		if (e.code === "ENOENT") return fallback;
		throw e;
	}
}

function writeJson(file, value) {
	const tmp = file + ".tmp" + process.pid;
	fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + "\n", { mode: 0o600 });
	fs.renameSync(tmp, file);
}

function hex(n) {
	return crypto.randomBytes(n).toString("hex");
}

function uuid() {
	return crypto.randomUUID();
}

// ---- state -----------------------------------------------------------------

class State {
	constructor(dir) {
		this.dir = dir;
		this.cvmDir = path.join(dir, "cvms");
		this.provDir = path.join(dir, "provisions");
		this.faultDir = path.join(dir, "faults");
		for (const d of [this.cvmDir, this.provDir, this.faultDir]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
		this.config = readJson(path.join(dir, "config.json"), {});
		this.seq = 0;
	}

	cvmFile(appId) {
		return path.join(this.cvmDir, appId + ".json");
	}

	all() {
		const out = [];
		for (const f of fs.readdirSync(this.cvmDir).sort()) {
			if (!f.endsWith(".json") || f.includes(".tmp")) continue;
			const c = readJson(path.join(this.cvmDir, f), null);
			if (c) out.push(c);
		}
		out.sort((a, b) => a.num_id - b.num_id);
		return out;
	}

	save(c) {
		writeJson(this.cvmFile(c.app_id), c);
	}

	remove(c) {
		for (const ext of [".json", ".env", ".compose"]) fs.rmSync(path.join(this.cvmDir, c.app_id + ext), { force: true });
	}

	nextNumId() {
		return this.all().reduce((m, c) => Math.max(m, c.num_id || 0), 1000) + 1;
	}

	// The CLI's id forms (phala-cli.md §10): app_HEX, a 32-hex uuid, a name, the id string.
	find(id) {
		const all = this.all();
		let m = /^app_([0-9a-f]{40})$/.exec(id);
		if (m) return all.find((c) => c.app_id === m[1]);
		if (/^[0-9a-f]{32}$/.test(id)) return all.find((c) => c.vm_uuid.replace(/-/g, "") === id);
		return all.find((c) => c.name === id || c.id === id || c.instance_id === id || String(c.num_id) === id);
	}

	// A new CVM record, from a seed (add) or a create.
	make(fields) {
		const c = Object.assign({
			num_id: this.nextNumId(),
			id: "cvm_" + hex(5),
			name: "cvm-" + hex(3),
			app_id: hex(20),
			vm_uuid: uuid(),
			instance_id: hex(20),
			status: "running",
			instance_type: "tdx.small",
			vcpu: 1,
			memory_gb: 2,
			disk_gb: 20,
			is_dev: true,
			compose_hash: hex(32),
			base_domain: this.config.gateway_domain || "dstack-sim.invalid",
			boot_gets: 0,
			delete_gets: -1,
			created_at: new Date().toISOString(),
		}, fields);
		return c;
	}

	fault(endpoint) {
		for (const name of [endpoint, "any"]) {
			const file = path.join(this.faultDir, name + ".json");
			const f = readJson(file, null);
			if (!f) continue;
			if (typeof f.times === "number") {
				if (f.times <= 1) fs.rmSync(file, { force: true });
				else writeJson(file, Object.assign({}, f, { times: f.times - 1 }));
			}
			return f;
		}
		return null;
	}
}

// ---- response shapes (phala-cli.md §5, §13) ------------------------------

function transitional(status) {
	return status !== "running" && status !== "stopped" && status.endsWith("ing");
}

function domainOf(c) {
	return c.status === "running" && c.base_domain ? c.base_domain : null;
}

// A4: GET /cvms/{id}, version 2026-01-21.
function cvmV2(c) {
	const dom = domainOf(c);
	return {
		id: c.id,
		name: c.name,
		app_id: c.app_id,
		vm_uuid: c.vm_uuid,
		instance_id: c.instance_id,
		resource: {
			instance_type: c.instance_type, vcpu: c.vcpu, memory_in_gb: c.memory_gb, disk_in_gb: c.disk_gb,
			gpus: 0, compute_billing_price: "0.058", billing_period: "hourly",
		},
		node_info: {
			object_type: "node", id: 12, name: "sim-node", region: "local", device_id: null, ppid: null,
			status: "online", version: "0.5.3",
		},
		os: { name: c.is_dev ? "dstack-dev-0.5.3" : "dstack-0.5.3", version: "0.5.3", is_dev: c.is_dev, os_image_hash: null },
		kms_type: "phala",
		kms_info: {
			chain_id: null, dstack_kms_address: null, dstack_app_address: null, deployer_address: null,
			rpc_endpoint: null, encrypted_env_pubkey: c.env_pubkey || null,
		},
		status: c.status,
		progress: null,
		compose_hash: c.compose_hash,
		gateway: { base_domain: dom, cname: null },
		services: [],
		endpoints: dom ? [{ app: "https://" + c.app_id + "." + dom, instance: "https://" + c.instance_id + "." + dom }] : [],
		public_logs: true,
		public_sysinfo: true,
		public_tcbinfo: true,
		gateway_enabled: true,
		secure_time: false,
		listed: false,
		storage_fs: "zfs",
		workspace: { object_type: "workspace", id: "ws_1", name: "sim-team", slug: "sim-team", avatar_url: null },
		creator: { object_type: "user", id: "u_1", username: "sim-user", avatar_url: null },
		mock_extra_field: "the CLI drops unknown fields",
	};
}

// A5: GET /cvms/{id}, version 2025-10-28 (flat legacy shape).
function cvmV1(c) {
	const dom = domainOf(c);
	return {
		id: c.num_id, name: c.name, status: c.status, in_progress: transitional(c.status),
		teepod_id: 12, teepod: { id: 12, name: "sim-node", region_identifier: "local" },
		app_id: c.app_id, vm_uuid: c.vm_uuid, instance_id: c.instance_id,
		vcpu: c.vcpu, memory: c.memory_gb * 1024, disk_size: c.disk_gb,
		base_image: c.is_dev ? "dstack-dev-0.5.3" : "dstack-0.5.3",
		encrypted_env_pubkey: c.env_pubkey || null, listed: false, project_id: null, project_type: null,
		public_sysinfo: true, public_logs: true, dapp_dashboard_url: null, syslog_endpoint: null,
		kms_info: null, contract_address: null, deployer_address: null, scheduled_delete_at: null,
		public_urls: dom ? [{ app: "https://" + c.app_id + "." + dom, instance: "https://" + c.instance_id + "." + dom }] : [],
		gateway_domain: dom, machine_info: null, updated_at: c.created_at,
	};
}

function authMe() {
	return {
		user: {
			username: "sim-user", email: "sim-user@example.invalid", role: "admin", avatar: "",
			email_verified: true, totp_enabled: false, has_backup_codes: false, flag_has_password: true,
		},
		workspace: { id: "ws_1", name: "sim-team", slug: "sim-team", tier: "free", role: "owner" },
		credits: { balance: "100.00", granted_balance: "0", is_post_paid: false, outstanding_amount: "0" },
	};
}

// ---- the x25519 + AES-256-GCM env sealing the CLI does (hex: pub32 | iv12 | ct+tag)

const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");

function newEnvKey() {
	const { publicKey, privateKey } = crypto.generateKeyPairSync("x25519");
	const pub = publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("hex");
	const priv = privateKey.export({ type: "pkcs8", format: "der" }).toString("hex");
	return { pub, priv };
}

function openEnv(privDerHex, sealedHex) {
	const b = Buffer.from(sealedHex, "hex");
	if (b.length < 32 + 12 + 16) throw new Error("encrypted_env too short");
	const priv = crypto.createPrivateKey({ key: Buffer.from(privDerHex, "hex"), format: "der", type: "pkcs8" });
	const pub = crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI, b.subarray(0, 32)]), format: "der", type: "spki" });
	const key = crypto.diffieHellman({ privateKey: priv, publicKey: pub });
	const d = crypto.createDecipheriv("aes-256-gcm", key, b.subarray(32, 44));
	d.setAuthTag(b.subarray(b.length - 16));
	const pt = Buffer.concat([d.update(b.subarray(44, b.length - 16)), d.final()]);
	return JSON.parse(pt.toString("utf8"));
}

// getComposeHash of the CLI: sha256 over JSON with keys sorted at every level.
const { canonical } = require(path.join(__dirname, "canonical-json.js"));

// ---- hooks (issue 7: a deploy starts a simulated CVM, a delete stops it) ---

const running = new Set(); // hook processes in flight
const creating = new Map(); // app id -> promise of its create hook

// runHook(state, action, cvm) -> Promise<{code, out}>; the hook gets
// ACTION APP_ID and the env MOCK_API_DIR, MOCK_API_CVM (the record file).
function runHook(st, action, c) {
	const hook = st.config.hook;
	if (!hook) return Promise.resolve({ code: 0, out: "" });
	return new Promise((resolve) => {
		const env = Object.assign({}, process.env, {
			MOCK_API_DIR: st.dir, MOCK_API_CVM: st.cvmFile(c.app_id),
			MOCK_API_ENV: path.join(st.cvmDir, c.app_id + ".env"),
			MOCK_API_COMPOSE: path.join(st.cvmDir, c.app_id + ".compose"),
		});
		const p = spawn(hook, [action, c.app_id], { env, stdio: ["ignore", "pipe", "inherit"] });
		running.add(p);
		let out = "";
		p.stdout.on("data", (d) => { out += d; });
		const timer = setTimeout(() => p.kill("SIGKILL"), (st.config.hook_timeout || 60) * 1000);
		p.on("error", () => { clearTimeout(timer); running.delete(p); resolve({ code: 127, out: "" }); });
		p.on("close", (code) => { clearTimeout(timer); running.delete(p); resolve({ code: code === null ? 128 : code, out }); });
	});
}

// A hook may print one JSON object: its fields are merged into the record
// (e.g. {"base_domain":"localhost:8443"}).
function mergeHookOutput(c, out) {
	const t = out.trim();
	if (!t) return c;
	try {
		const o = JSON.parse(t);
		if (o && typeof o === "object" && !Array.isArray(o)) return Object.assign(c, o);
	} catch (e) { /* not JSON: ignored */ }
	return c;
}

// ---- the server ------------------------------------------------------------

function route(method, p) {
	let m;
	if (p === "/auth/me" && method === "GET") return ["auth_me"];
	if (p === "/cvms/provision" && method === "POST") return ["provision"];
	if (p === "/cvms" && method === "POST") return ["create"];
	if (p === "/apps" && method === "GET") return ["apps"];
	if (p === "/status/batch" && method === "POST") return ["status_batch"];
	if (p === "/os-images" && method === "GET") return ["os_images"];
	if ((m = /^\/cvms\/app_([0-9a-f]{40})\/attestation$/.exec(p)) && method === "GET") return ["attestation", "app_" + m[1]];
	if ((m = /^\/cvms\/([^/]+)\/user_config$/.exec(p)) && method === "GET") return ["user_config", m[1]];
	if ((m = /^\/cvms\/([^/]+)$/.exec(p))) {
		if (method === "GET") return ["get", m[1]];
		if (method === "DELETE") return ["delete", m[1]];
		if (method === "PATCH") return ["patch", m[1]];
	}
	return [null];
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function handle(st, req, body) {
	const url = new URL(req.url, "http://mock");
	const prefix = "/api/v1";
	const p = url.pathname.startsWith(prefix + "/") ? url.pathname.slice(prefix.length) : null;
	const [endpoint, id] = p ? route(req.method, p) : [null];
	const key = req.headers["x-api-key"];
	const keyState = key === undefined ? "missing" : key === st.config.api_key ? "ok" : "bad";
	const ver = req.headers["x-phala-version"] || "-";
	let parsed = null;
	if (body.length) {
		try { parsed = JSON.parse(body); } catch (e) { parsed = body; }
	}
	const rec = {
		seq: ++st.seq, method: req.method, path: p === null ? url.pathname : p,
		query: Object.fromEntries(url.searchParams), endpoint, key: keyState, version: ver, body: parsed,
	};
	const res = await respond(st, rec, endpoint, id, keyState, ver, parsed, url);
	rec.status = res.status;
	fs.appendFileSync(path.join(st.dir, "requests.jsonl"), JSON.stringify(rec) + "\n");
	const q = url.search || "";
	fs.appendFileSync(path.join(st.dir, "requests.txt"),
		`${rec.seq} ${rec.method} ${rec.path}${q} key=${keyState} ver=${ver} status=${res.status}\n`);
	return res;
}

// The size of each instance type, as the API reports it (vcpu, memory_in_gb)
// and as the simulator's CVMs boot it (t/sim/sim sized). Modelled on Phala
// Cloud's published tdx.* sizes [UNCONFIRMED]; another type gets tdx.small's.
const SIZES = {
	"tdx.small": { vcpu: 1, memory_gb: 2 },
	"tdx.medium": { vcpu: 2, memory_gb: 4 },
	"tdx.large": { vcpu: 4, memory_gb: 8 },
	"tdx.xlarge": { vcpu: 8, memory_gb: 16 },
};

const J = (status, body) => ({ status, body });
// os_image_hash of the samples' releases: testdata/phala-info.json (0.5.9)
// and the lite GetQuote fixture's vm_config (0.6.0).
const OS_IMAGES = [
	{ name: "dstack-dev-0.5.9", slug: "dstack-dev-0-5-9", version: "0.5.9", is_dev: true, requires_gpu: false,
		os_image_hash: "de9c74f0c85d0820ce075cb4a99f8e39f7b681be632907c5bf8bdc95ea72feb9" },
	{ name: "dstack-0.6.0", slug: "dstack-0-6-0", version: "0.6.0", is_dev: false, requires_gpu: false,
		os_image_hash: "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db" },
];
const notFound = () => J(404, { detail: "CVM not found" });

async function respond(st, rec, endpoint, id, keyState, ver, body, url) {
	if (!endpoint) return J(404, { detail: "Not Found" });
	const f = st.fault(endpoint);
	if (f) {
		rec.fault = f;
		if (f.delay_ms) await sleep(f.delay_ms);
		if (f.hang) return { hang: true, status: 0 };
		if (f.status) return J(f.status, f.body === undefined ? { detail: "injected failure" } : f.body);
	}
	if (keyState === "missing") return J(401, { detail: "Not authenticated" });
	if (keyState === "bad") return J(401, { detail: "Invalid API key" });

	switch (endpoint) {
	case "auth_me":
		return J(200, authMe());

	case "provision": {
		if (!body || typeof body !== "object" || typeof body.name !== "string" || !body.compose_file)
			return J(422, { detail: "invalid provision request" });
		const appId = hex(20);
		const k = newEnvKey();
		const compose = body.compose_file;
		const composeHash = crypto.createHash("sha256").update(JSON.stringify(canonical(compose)), "utf8").digest("hex");
		writeJson(path.join(st.provDir, appId + ".json"), {
			app_id: appId, name: body.name, request: body, compose_hash: composeHash, env_pub: k.pub, env_priv: k.priv,
		});
		return J(200, {
			app_id: appId, app_env_encrypt_pubkey: k.pub, compose_hash: composeHash,
			fmspc: "00806f050000", device_id: hex(32), os_image_hash: hex(32),
			instance_type: body.instance_type || "tdx.small", teepod_id: 12, kms_id: "kms-sim",
			kms_info: null,
		});
	}

	case "create": {
		if (!body || typeof body !== "object") return J(422, { detail: "invalid create request" });
		const provFile = path.join(st.provDir, String(body.app_id) + ".json");
		const prov = readJson(provFile, null);
		if (!prov || prov.compose_hash !== body.compose_hash) return J(400, { detail: "unknown provision (app_id/compose_hash)" });
		let env = null;
		if (body.encrypted_env) {
			try { env = openEnv(prov.env_priv, body.encrypted_env); } catch (e) { return J(400, { detail: "encrypted_env does not open: " + e.message }); }
		}
		const r = prov.request;
		const type = r.instance_type || "tdx.small";
		const c = st.make(Object.assign({}, SIZES[type] || SIZES["tdx.small"], {
			name: r.name, app_id: prov.app_id, compose_hash: prov.compose_hash, env_pubkey: prov.env_pub,
			instance_type: type, is_dev: r.prefer_dev !== false,
			status: st.config.hook ? "starting" : (st.config.boot_gets > 0 ? "starting" : "running"),
			boot_gets: st.config.hook ? -1 : (st.config.boot_gets || 0),
			delete_gets: st.config.delete_gets > 0 ? st.config.delete_gets : -1,
		}));
		if (env) writeJson(path.join(st.cvmDir, c.app_id + ".env"), env);
		writeJson(path.join(st.cvmDir, c.app_id + ".compose"), r.compose_file);
		st.save(c);
		fs.rmSync(provFile, { force: true });
		if (st.config.hook) {
			const done = runHook(st, "create", c).then(({ code, out }) => {
				creating.delete(c.app_id);
				const cur = readJson(st.cvmFile(c.app_id), null);
				if (!cur) return;
				mergeHookOutput(cur, out);
				cur.status = code === 0 ? "running" : "error";
				st.save(cur);
			});
			creating.set(c.app_id, done);
		}
		return J(200, {
			id: c.num_id, name: c.name, status: "creating", teepod_id: 12, teepod: { id: 12, name: "sim-node" },
			user_id: 1, app_id: c.app_id, vm_uuid: c.vm_uuid, instance_id: c.instance_id,
			base_image: c.is_dev ? "dstack-dev-0.5.3" : "dstack-0.5.3", vcpu: c.vcpu, memory: c.memory_gb * 1024,
			disk_size: c.disk_gb, docker_compose_file: r.compose_file.docker_compose_file || null, created_at: c.created_at,
		});
	}

	case "get": {
		const c = st.find(id);
		if (!c) return notFound();
		if (c.boot_gets > 0) { c.boot_gets--; st.save(c); } else if (c.boot_gets === 0 && c.status === "starting") {
			c.status = "running"; st.save(c);
		}
		if (c.status === "deleting") {
			if (c.delete_gets <= 0) { st.remove(c); return notFound(); }
			c.delete_gets--; st.save(c);
		}
		return J(200, ver === "2025-10-28" ? cvmV1(c) : cvmV2(c));
	}

	case "delete": {
		let c = st.find(id);
		if (!c) return notFound();
		if (c.status === "deleting") return J(204, null);
		// A delete while the create hook still runs waits for it, so the
		// delete hook always sees a finished create.
		if (creating.has(c.app_id)) {
			await creating.get(c.app_id);
			c = st.find(id);
			if (!c) return notFound();
		}
		const h = await runHook(st, "delete", c);
		if (h.code !== 0) return J(500, { detail: "delete hook failed" });
		if (c.delete_gets > 0) { c.status = "deleting"; st.save(c); } else st.remove(c);
		return J(204, null);
	}

	case "patch":
		return J(405, { detail: "the mock refuses update mode (PATCH /cvms/{id})" });

	case "apps": {
		const page = Math.max(1, parseInt(url.searchParams.get("page") || "1", 10) || 1);
		const size = Math.max(1, parseInt(url.searchParams.get("page_size") || "50", 10) || 50);
		const s = url.searchParams.get("search");
		let all = st.all();
		if (s) all = all.filter((c) => [c.name, c.app_id, c.vm_uuid, c.instance_id].some((v) => v && v.includes(s)));
		const items = all.slice((page - 1) * size, page * size).map((c) => ({
			id: "app-" + c.num_id, name: c.name, app_id: c.app_id, created_at: c.created_at, kms_type: "phala",
			current_cvm: cvmV2(c), cvms: [], cvm_count: 1,
		}));
		return J(200, { dstack_apps: items, page, page_size: size, total: all.length, total_pages: Math.max(1, Math.ceil(all.length / size)) });
	}

	case "os_images": {
		// The service's release identities (DIR/os-images.json, else the
		// two real releases of the samples), paged and filtered like the API.
		const page = Math.max(1, parseInt(url.searchParams.get("page") || "1", 10) || 1);
		const size = Math.max(1, parseInt(url.searchParams.get("page_size") || "30", 10) || 30);
		const dev = url.searchParams.get("is_dev");
		let all = readJson(path.join(st.dir, "os-images.json"), OS_IMAGES);
		if (dev === "true" || dev === "false") all = all.filter((i) => i.is_dev === (dev === "true"));
		return J(200, { items: all.slice((page - 1) * size, page * size), total: all.length, page, page_size: size,
			pages: Math.max(1, Math.ceil(all.length / size)) });
	}

	case "status_batch": {
		const out = {};
		const ids = body && Array.isArray(body.vm_uuids) ? body.vm_uuids : [];
		for (const c of st.all()) {
			if (!ids.includes(c.vm_uuid)) continue;
			out[c.vm_uuid] = {
				vm_uuid: c.vm_uuid, status: c.status, uptime: c.status === "running" ? "3m 12s" : null,
				in_progress: transitional(c.status), boot_progress: null, boot_error: null, operation_type: null,
				operation_started_at: null, correlation_id: null,
			};
		}
		return J(200, out);
	}

	case "user_config": {
		const c = st.find(id);
		if (!c) return notFound();
		const env = readJson(path.join(st.cvmDir, c.app_id + ".env"), null);
		const keys = [];
		for (const e of (env && env.env) || []) {
			if (e.key === "DSTACK_AUTHORIZED_KEYS") keys.push(...String(e.value).split("\n").filter(Boolean));
		}
		return J(200, { hostname: c.app_id, ssh_authorized_keys: keys, default_gateway_domain: domainOf(c) });
	}

	case "attestation": {
		const c = st.find(id);
		if (!c) return notFound();
		return J(200, c.attestation || {
			is_online: c.status === "running", is_public: true, error: null, app_certificates: null, tcb_info: null,
			compose_file: null,
		});
	}
	}
	return J(404, { detail: "Not Found" });
}

// ownGroup(): whether this process leads its own process group (setsid).
function ownGroup() {
	try {
		const stat = fs.readFileSync("/proc/self/stat", "utf8");
		const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return Number(f[2]) === process.pid;
	} catch (e) { return false; }
}

function serve(dir) {
	const st = new State(dir);
	if (!st.config.api_key) die("no api_key in " + path.join(dir, "config.json"), 2);
	const sockets = new Set();
	const server = http.createServer((req, res) => {
		const chunks = [];
		req.on("data", (d) => chunks.push(d));
		req.on("end", () => {
			handle(st, req, Buffer.concat(chunks).toString("utf8")).then((r) => {
				if (r.hang) return; // accepted, never answered
				const payload = r.body === null ? "" : JSON.stringify(r.body);
				res.writeHead(r.status, payload ? { "Content-Type": "application/json" } : {});
				res.end(payload);
			}, (e) => {
				process.stderr.write("mock-api: " + (e && e.stack || e) + "\n");
				res.writeHead(500, { "Content-Type": "application/json" });
				res.end(JSON.stringify({ detail: "mock internal error" }));
			});
		});
	});
	server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
	server.listen(st.config.port || 0, "127.0.0.1", () => {
		const port = server.address().port;
		fs.writeFileSync(path.join(dir, "prefix.tmp"), `http://127.0.0.1:${port}/api/v1\n`);
		fs.renameSync(path.join(dir, "prefix.tmp"), path.join(dir, "prefix"));
		fs.writeFileSync(path.join(dir, "port.tmp"), port + "\n");
		fs.renameSync(path.join(dir, "port.tmp"), path.join(dir, "port"));
	});
	server.on("error", (e) => die("listen: " + e.message, 4));
	let stopping = false;
	const stop = async () => {
		if (stopping) return;
		stopping = true;
		server.close();
		for (const s of sockets) s.destroy();
		for (const p of running) p.kill("SIGTERM"); // create hooks still starting a CVM
		// Every simulated CVM still alive is torn down through the hook.
		try {
			if (st.config.hook) for (const c of st.all()) await runHook(st, "delete", c);
		} catch (e) { /* the state directory is gone */ }
		// Started by mock-api.sh under setsid: end whatever is left in our group.
		if (ownGroup()) process.kill(-process.pid, "SIGKILL");
		process.exit(0);
	};
	process.on("SIGTERM", stop);
	process.on("SIGINT", stop);
	// Orphan guard: stop when the watched process (the test) or the state
	// directory is gone, so a killed test run leaves no server behind.
	const watch = st.config.watch_pid;
	setInterval(() => {
		if (!fs.existsSync(path.join(dir, "config.json"))) return stop();
		if (!watch) return;
		try { process.kill(watch, 0); } catch (e) { if (e.code === "ESRCH") stop(); }
	}, 1000);
}

// ---- control commands --------------------------------------------------------

function parseValue(v) {
	if (/^-?[0-9]+$/.test(v)) return parseInt(v, 10);
	if (v === "true" || v === "false" || v === "null") return JSON.parse(v);
	if (/^[[{]/.test(v)) {
		try { return JSON.parse(v); } catch (e) { die("add: bad JSON value: " + v, 2); }
	}
	return v;
}

function main(argv) {
	const [cmd, dir, ...rest] = argv;
	if (!cmd || !dir) die("usage: mock-api.js serve|add|fault|clear DIR ...", 2);
	if (cmd === "serve") return serve(dir);
	const st = new State(dir);
	if (cmd === "add") {
		const fields = {};
		for (const a of rest) {
			const i = a.indexOf("=");
			if (i <= 0) die("add: expected KEY=VALUE, got " + a, 2);
			fields[a.slice(0, i)] = parseValue(a.slice(i + 1));
		}
		if (fields.app_id !== undefined && !/^[0-9a-f]{40}$/.test(String(fields.app_id))) die("add: app_id must be 40 hex", 2);
		const c = st.make(fields);
		if (st.find("app_" + c.app_id)) die("add: app_id exists: " + c.app_id, 1);
		st.save(c);
		process.stdout.write(c.app_id + "\n");
		return;
	}
	if (cmd === "fault") {
		const [endpoint, spec] = rest;
		if (!ENDPOINTS.includes(endpoint)) die("fault: endpoint is one of " + ENDPOINTS.join(" "), 2);
		let f;
		try { f = JSON.parse(spec); } catch (e) { die("fault: JSON: " + e.message, 2); }
		writeJson(path.join(st.faultDir, endpoint + ".json"), f);
		return;
	}
	if (cmd === "clear") {
		const [endpoint] = rest;
		for (const e of endpoint ? [endpoint] : ENDPOINTS) fs.rmSync(path.join(st.faultDir, e + ".json"), { force: true });
		return;
	}
	die("unknown command " + cmd, 2);
}

main(process.argv.slice(2));
