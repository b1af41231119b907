#!/usr/bin/env node
// `npm run cluster [-- --dynos N --port P]`: the docker-compose topology without Docker.
// Starts redis-server on a free port, N dynos (`node src/main.ts`, like `npm run dev`) and
// HAProxy with deploy/haproxy/haproxy.cfg, the file compose uses, then prints the URL.
// Ctrl-C (SIGINT) or SIGTERM stops everything it started, dynos first so they drain.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CFG = join(ROOT, 'deploy/haproxy/haproxy.cfg');
const CFG_SLOTS = 3;

const { values } = parseArgs({
  options: {
    dynos: { type: 'string', default: '3' },
    port: { type: 'string', default: '8080' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run cluster [-- --dynos N] [--port P]   (defaults: 3 dynos, port 8080)');
  process.exit(0);
}
const dynoCount = Number(values.dynos);
const lbPort = Number(values.port);
if (!Number.isInteger(dynoCount) || dynoCount < 1 || dynoCount > 32) fail('--dynos must be a whole number from 1 to 32');
if (!Number.isInteger(lbPort) || lbPort < 1 || lbPort > 65535) fail('--port must be a TCP port');

function fail(message) {
  console.error(`cluster: ${message}`);
  process.exit(1);
}

/** PATH first, then Debian's folders (PATH is often trimmed under sudo). */
function findTool(name, debianPackage) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/sbin', '/usr/bin', '/usr/local/bin']) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // keep looking
    }
  }
  fail(`${name} is not installed. On Debian or Ubuntu: sudo apt-get install ${debianPackage}`);
}

const redisServer = findTool('redis-server', 'redis-server');
const haproxy = findTool('haproxy', 'haproxy');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child we started, in start order: [{ name, child, exited }]. */
const children = [];
let stopping = false;

/** `quiet`: keep the child's output and show it only if the child dies unexpectedly. */
function start(name, command, args, options, quiet = false) {
  // Own process group: a terminal's Ctrl-C reaches only this script, which stops the children
  // in order (dynos drain while Redis is still there) instead of all of them at once.
  const child = spawn(command, args, { ...options, detached: true, ...(quiet ? { stdio: ['ignore', 'pipe', 'pipe'] } : {}) });
  let kept = '';
  if (quiet) {
    const keep = (chunk) => (kept = (kept + chunk).slice(-4000));
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const entry = { name, child, exited };
  children.push(entry);
  exited.then((how) => {
    if (!stopping) {
      console.error(`cluster: ${name} exited (${how}); stopping the rest${kept ? `. Its output:\n${kept}` : ''}`);
      void stopAll(1);
    }
  });
  return entry;
}

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  console.log('\ncluster: stopping (dynos drain, then haproxy and redis)');
  const stop = async (entries) => {
    for (const { child } of entries) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timeout = sleep(30_000).then(() => {
      for (const { child } of entries) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await Promise.race([Promise.all(entries.map((e) => e.exited)), timeout]);
  };
  // Dynos first: they close their sockets with 1012 and leave their rooms while Redis is still up.
  await stop(children.filter((e) => e.name.startsWith('web.')));
  await stop(children.filter((e) => !e.name.startsWith('web.')));
  rmSync(stateDir, { recursive: true, force: true });
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGHUP', () => void stopAll(0));
// Last resort if this script dies some other way: no orphans left listening.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Resolves when `check` passes; never resolves once stopping, so startup goes no further. */
async function waitFor(what, check, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stopping) return new Promise(() => undefined);
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      console.error(`cluster: ${what} did not come up within ${timeoutMs / 1000} s`);
      await stopAll(1);
    }
    await sleep(100);
  }
}

function admin(socket, command) {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let answer = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk) => (answer += chunk));
    conn.on('end', () => resolve(answer));
    conn.on('error', reject);
    conn.end(`${command}\n`);
  });
}

const stateDir = mkdtempSync(join(tmpdir(), 'signaling-cluster-'));
const adminSocket = join(stateDir, 'haproxy.sock');

// Redis: no persistence, loopback only; its log is shown only if it dies.
const redisPort = await freePort();
const redisUrl = `redis://127.0.0.1:${redisPort}`;
start('redis', redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, true);
await waitFor(
  'redis-server',
  () =>
    new Promise((resolve) => {
      const conn = createConnection(redisPort, '127.0.0.1');
      conn.setEncoding('utf8');
      conn.on('data', (reply) => {
        conn.destroy();
        resolve(reply.startsWith('+PONG'));
      });
      conn.on('error', () => resolve(false));
      conn.write('PING\r\n');
    }),
);

// Dynos: named like Heroku's (web.1, web.2, ...). They inherit the terminal, so their logs are
// pretty on a TTY and JSON when piped.
const dynos = [];
for (let i = 1; i <= dynoCount; i++) {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redisUrl, DYNO: `web.${i}` };
  start(`web.${i}`, process.execPath, [join(ROOT, 'src/main.ts')], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  dynos.push({ name: `web.${i}`, port });
}
for (const dyno of dynos) {
  await waitFor(dyno.name, async () => (await fetch(`http://127.0.0.1:${dyno.port}/readyz`)).ok);
}

// HAProxy with compose's cfg. Fewer dynos than slots: the spare slots get an address (the
// file needs one) and are put in maintenance. More: the rest are added through the runtime
// API with the same health check.
const lbEnv = { PATH: process.env.PATH ?? '', LB_BIND: `127.0.0.1:${lbPort}`, LB_ADMIN_SOCKET: adminSocket };
for (let slot = 1; slot <= CFG_SLOTS; slot++) lbEnv[`SIGNALING_${slot}`] = `127.0.0.1:${dynos[(slot - 1) % dynos.length].port}`;
start('haproxy', haproxy, ['-f', CFG, '-db'], { env: lbEnv, stdio: ['ignore', 'ignore', 'inherit'] });
await waitFor('haproxy', async () => (await admin(adminSocket, 'show info')).includes('Name: HAProxy'));
for (let slot = dynos.length + 1; slot <= CFG_SLOTS; slot++) await admin(adminSocket, `disable server dynos/s${slot}`);
for (const [i, dyno] of dynos.entries()) {
  if (i < CFG_SLOTS) continue;
  const server = `dynos/s${i + 1}`;
  const added = await admin(adminSocket, `add server ${server} 127.0.0.1:${dyno.port} check inter 2s fall 2 rise 1`);
  if (!/registered/i.test(added)) {
    console.error(`cluster: haproxy refused ${server}: ${added.trim()}`);
    await stopAll(1);
  }
  await admin(adminSocket, `enable health ${server}`);
  await admin(adminSocket, `enable server ${server}`);
}
await waitFor('haproxy health checks', async () => {
  const rows = (await admin(adminSocket, 'show stat')).split('\n').filter((l) => l.startsWith('dynos,s'));
  const up = rows.filter((l) => l.split(',')[17] === 'UP').length;
  return up === dynos.length && rows.every((l) => ['UP', 'MAINT'].includes(l.split(',')[17]));
});

console.log(
  [
    '',
    `cluster up: http://localhost:${lbPort}  (haproxy, round robin over ${dynoCount} dyno${dynoCount > 1 ? 's' : ''}, no stickiness)`,
    ...dynos.map((d) => `  ${d.name}  http://127.0.0.1:${d.port}`),
    `  redis   ${redisUrl}`,
    `  signaling WebSocket: ws://localhost:${lbPort}/signaling`,
    'Ctrl-C stops everything.',
    '',
  ].join('\n'),
);
