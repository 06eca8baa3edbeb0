#!/usr/bin/env node
// gateway.js SIMDIR [WATCH_PID]: the simulated dstack gateway (issue 7): one TLS
// terminator on 127.0.0.1 for every simulated CVM, routing by SNI
// "<app_id>-22.<domain>" to that CVM's sshd (SIMDIR/cvms/APP/ssh-port).
// Certificate: SIMDIR/gw/gw.pem (from the simulator's CA); for a CVM with
// SIMDIR/cvms/APP/rogue-tls, SIMDIR/gw/rogue.pem (another CA). Writes
// SIMDIR/gw/port when listening; logs one line a connection to SIMDIR/gw/log.
"use strict";
const tls = require("tls");
const net = require("net");
const fs = require("fs");
const path = require("path");

const dir = process.argv[2];
const gw = path.join(dir, "gw");
const ctx = (name) => tls.createSecureContext({ cert: fs.readFileSync(path.join(gw, name)), key: fs.readFileSync(path.join(gw, name)) });
const good = ctx("gw.pem");
const rogue = ctx("rogue.pem");
const log = (s) => fs.appendFileSync(path.join(gw, "log"), s + "\n");

function appOf(sni) {
	const m = /^([0-9a-f]{40})-22\./.exec(sni || "");
	return m ? m[1] : null;
}

const server = tls.createServer({
	SNICallback: (sni, cb) => {
		const app = appOf(sni);
		cb(null, app && fs.existsSync(path.join(dir, "cvms", app, "rogue-tls")) ? rogue : good);
	},
}, (s) => {
	const app = appOf(s.servername);
	let port = null;
	try { port = app && parseInt(fs.readFileSync(path.join(dir, "cvms", app, "ssh-port"), "utf8"), 10); } catch (e) { /* no such CVM */ }
	log("sni=" + s.servername + " route=" + (port || "none"));
	if (!port) return s.destroy();
	const up = net.connect(port, "127.0.0.1");
	s.pipe(up).pipe(s);
	up.on("error", () => s.destroy());
	s.on("error", () => up.destroy());
});
server.on("tlsClientError", (e) => log("tls error: " + e.message));
server.listen(0, "127.0.0.1", () => {
	fs.writeFileSync(path.join(gw, "port.tmp"), server.address().port + "\n");
	fs.renameSync(path.join(gw, "port.tmp"), path.join(gw, "port"));
});
process.on("SIGTERM", () => process.exit(0));
// Orphan guard, as the mock API's: gone with its directory or the watched process.
const watch = Number(process.argv[3] || 0);
setInterval(() => {
	if (!fs.existsSync(gw)) process.exit(0);
	if (watch) try { process.kill(watch, 0); } catch (e) { if (e.code === "ESRCH") process.exit(0); }
}, 1000).unref();
