#!/usr/bin/env node
// A small stand-in for the Phala Cloud API (phala-cli.md §13) for the contract
// test that drives the real `phala` CLI: loopback only, checks X-API-Key,
// records every request as one JSON line, keeps the CVMs it created.
//   node mock-phala-api.js DIR    writes DIR/port, appends DIR/requests.jsonl
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const dir = process.argv[2];
const KEY = process.env.MOCK_API_KEY || 'test-key';
const DOMAIN = process.env.MOCK_GATEWAY_DOMAIN || 'gw.test.example';
const cvms = new Map(); // app_id -> { name, vm_uuid, id }

function record(req, body) {
	const line = JSON.stringify({
		method: req.method,
		url: req.url,
		version: req.headers['x-phala-version'] || null,
		key: req.headers['x-api-key'] === KEY,
		body: body ? safeJson(body) : null,
	});
	fs.appendFileSync(path.join(dir, 'requests.jsonl'), line + '\n');
}
function safeJson(s) {
	try { return JSON.parse(s); } catch (e) { return s; }
}
function send(res, code, obj) {
	if (code === 204) { res.writeHead(204); res.end(); return; }
	const s = JSON.stringify(obj);
	res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
	res.end(s);
}
function cvmObject(app, c) {
	return {
		id: 'cvm_' + c.id, name: c.name, app_id: app, vm_uuid: c.vm_uuid, instance_id: null,
		resource: { instance_type: 'tdx.small', vcpu: 1, memory_in_gb: 2, disk_in_gb: 20, gpus: 0,
			compute_billing_price: '0.058', billing_period: 'hourly' },
		node_info: { object_type: 'node', id: 12, name: 'prod7', region: 'us-west', device_id: null, ppid: null,
			status: 'online', version: '0.5.3' },
		os: { name: 'dstack-dev-0.5.3', version: '0.5.3', is_dev: true, os_image_hash: null },
		kms_type: 'phala', status: 'running', progress: null, compose_hash: c.compose_hash,
		gateway: { base_domain: DOMAIN, cname: null }, services: [], endpoints: [],
		public_logs: true, public_sysinfo: true, public_tcbinfo: true, gateway_enabled: true,
		secure_time: false, listed: false, storage_fs: 'zfs',
	};
}
function lookup(id) {
	id = id.replace(/^app_/, '');
	if (cvms.has(id)) return id;
	for (const [app, c] of cvms) if (c.name === id || c.vm_uuid.replace(/-/g, '') === id) return app;
	return null;
}

const server = http.createServer((req, res) => {
	let body = '';
	req.on('data', (d) => { body += d; });
	req.on('end', () => {
		record(req, body);
		if (req.headers['x-api-key'] !== KEY) return send(res, 401, { detail: 'Invalid API key' });
		const u = new URL(req.url, 'http://mock');
		const p = u.pathname.replace(/^\/api\/v1/, '');
		let m;
		if (req.method === 'GET' && p === '/auth/me') {
			return send(res, 200, {
				user: { username: 'alice', email: 'alice@example.com', role: 'admin', avatar: '', email_verified: true,
					totp_enabled: false, has_backup_codes: false, flag_has_password: true },
				workspace: { id: 'ws_1', name: 'my-team', slug: 'my-team', tier: 'free', role: 'owner' },
				credits: { balance: 10, granted_balance: 0, is_post_paid: false, outstanding_amount: 0 },
			});
		}
		if (req.method === 'POST' && p === '/cvms/provision') {
			const b = safeJson(body);
			const app = crypto.createHash('sha1').update(String(b.name)).digest('hex');
			return send(res, 200, {
				compose_hash: crypto.createHash('sha256').update(String(body)).digest('hex'),
				app_id: app,
				app_env_encrypt_pubkey: crypto.createHash('sha256').update('env' + app).digest('hex'),
				kms_info: null, fmspc: null, device_id: null, os_image_hash: null,
				instance_type: b.instance_type || 'tdx.small', teepod_id: 12, kms_id: null,
			});
		}
		if (req.method === 'POST' && p === '/cvms') {
			const b = safeJson(body);
			const prov = fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8').trim().split('\n')
				.map((l) => JSON.parse(l)).filter((r) => r.method === 'POST' && /\/cvms\/provision$/.test(r.url)).pop();
			const name = prov.body.name;
			const vm = crypto.randomUUID();
			const c = { id: cvms.size + 1, name, vm_uuid: vm, compose_hash: b.compose_hash };
			cvms.set(b.app_id, c);
			return send(res, 200, {
				id: c.id, name, status: 'creating', teepod_id: 12, teepod: { id: 12, name: 'prod7' }, user_id: 1,
				app_id: b.app_id, vm_uuid: vm, instance_id: null, base_image: 'dstack-dev-0.5.3', vcpu: 1,
				memory: 2048, disk_size: 20, docker_compose_file: '', created_at: new Date().toISOString(),
			});
		}
		if ((m = p.match(/^\/cvms\/([^/]+)$/))) {
			const app = lookup(m[1]);
			if (req.method === 'GET') {
				if (!app) return send(res, 404, { detail: 'CVM not found' });
				return send(res, 200, cvmObject(app, cvms.get(app)));
			}
			if (req.method === 'DELETE') {
				if (!app) return send(res, 404, { detail: 'CVM not found' });
				cvms.delete(app);
				return send(res, 204);
			}
			return send(res, 405, { detail: 'Method not allowed' }); // PATCH (update mode) is never expected
		}
		if (req.method === 'GET' && p === '/apps') {
			const search = u.searchParams.get('search');
			const items = [];
			for (const [app, c] of cvms) {
				if (search && search !== c.name) continue;
				items.push({ id: 'app-' + c.id, name: c.name, app_id: app, created_at: '2026-11-25T00:00:00Z', kms_type: 'phala',
					current_cvm: cvmObject(app, c), cvms: [], cvm_count: 1 });
			}
			return send(res, 200, { dstack_apps: items, page: Number(u.searchParams.get('page') || 1),
				page_size: Number(u.searchParams.get('page_size') || 50), total: items.length, total_pages: 1 });
		}
		if (req.method === 'POST' && p === '/status/batch') {
			const out = {};
			for (const vm of (safeJson(body).vm_uuids || [])) {
				out[vm] = { vm_uuid: vm, status: 'running', uptime: '1m', in_progress: false, boot_progress: null,
					boot_error: null, operation_type: null, operation_started_at: null, correlation_id: null };
			}
			return send(res, 200, out);
		}
		return send(res, 404, { detail: 'Not Found' });
	});
});
server.listen(0, '127.0.0.1', () => {
	fs.writeFileSync(path.join(dir, 'port'), String(server.address().port));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
