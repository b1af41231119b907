import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/fixtures/free-port.ts';
import { findRedisServer } from '../../test/fixtures/redis-binary.ts';
import { waitForPing } from '../../test/fixtures/redis-ping.ts';

/** BENCH_DYNO_MAIN runs another build of the dyno (a copy of src/ before a change: A/B runs). */
const DYNO_MAIN = process.env['BENCH_DYNO_MAIN'] ?? fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const SOCKETIO_MAIN = fileURLToPath(new URL('../socketio-node.ts', import.meta.url));

/** A process the bench started (or only knows the address of, when given URLs). */
export interface Server {
  role: string;
  url: string;
  /** Absent for a server the bench was pointed at: its CPU and RSS cannot be read. */
  pid?: number;
  /** ws:// address of the V8 inspector, when started with `inspect`. */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

export type ServerKind = 'dyno' | 'socketio';

export interface NodeOptions {
  env?: Record<string, string>;
  /** Open the V8 inspector so the bench can force a GC without any server-side hook. */
  inspect?: boolean;
  /** Another build's src/main.ts (a checkout of the base commit), for before/after in one run. */
  main?: string;
}

/** redis-server on a free port, without persistence: every target starts from an empty one. */
export async function startRedis(): Promise<Server> {
  const executable = findRedisServer();
  if (!executable) throw new Error('redis-server not found: `apt-get install redis-server`, or pass --redis-url');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '50000'];
  const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collect(child);
  let gone: Error | undefined;
  child.once('exit', (code) => (gone = new Error(`redis-server exited (${String(code)}):\n${output.join('')}`)));
  await waitForPing(port, 10_000, () => gone);
  return { role: 'redis', url: `redis://127.0.0.1:${port}`, pid: child.pid as number, stop: () => kill(child, 'SIGKILL') };
}

/** A signaling dyno (`node src/main.ts`) or a socket.io node, ready to take connections. */
export async function startNode(kind: ServerKind, role: string, redisUrl: string, options: NodeOptions = {}): Promise<Server> {
  const port = await freePort();
  const execArgv = options.inspect ? ['--inspect=127.0.0.1:0'] : [];
  const env = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    NODE_ENV: 'production',
    ...options.env,
  };
  const child = spawn(process.execPath, [...execArgv, kind === 'dyno' ? (options.main ?? DYNO_MAIN) : SOCKETIO_MAIN], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collect(child);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
  // LOG_LEVEL=warn hides the dyno's "listening" line, so readiness is asked over HTTP:
  // /readyz answers 200 once Redis is connected and the bus round trip works.
  const path = kind === 'dyno' ? '/readyz' : '/healthz';
  const deadline = Date.now() + 20_000;
  for (;;) {
    const state = await Promise.race([exited.then((code) => `exited ${code}`), probe(`http://127.0.0.1:${port}${path}`)]);
    if (state === 'ok') break;
    if (state.startsWith('exited') || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${role} did not become ready (${state}):\n${output.join('').slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // BENCH_NODE_LOG_DIR: every node's log also goes to <dir>/<role>.log, to see what it did.
  const logDir = process.env['BENCH_NODE_LOG_DIR'];
  if (logDir) {
    const file = createWriteStream(join(logDir, `${role}.log`));
    child.stdout?.pipe(file);
    child.stderr?.pipe(file);
  }
  const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(output.join(''))?.[1];
  return {
    role,
    url: `ws://127.0.0.1:${port}${kind === 'dyno' ? '/signaling' : ''}`,
    pid: child.pid as number,
    ...(inspector ? { inspectorUrl: inspector } : {}),
    // SIGTERM: the dyno drains (its members leave) as it would on Heroku.
    stop: () => kill(child, 'SIGTERM'),
  };
}

async function probe(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.ok ? 'ok' : `HTTP ${res.status}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Keeps the output (for error messages) and drains the pipes so a chatty child never blocks. */
function collect(child: ChildProcess): string[] {
  const output: string[] = [];
  let size = 0;
  const keep = (chunk: Buffer): void => {
    output.push(chunk.toString('utf8'));
    size += chunk.length;
    while (size > 64_000 && output.length > 1) size -= (output.shift() ?? '').length;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return output;
}

async function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Kills every child still running if the bench dies, so no server outlives it. */
export function killOnExit(servers: () => readonly Server[]): void {
  process.once('exit', () => {
    for (const s of servers())
      if (s.pid)
        try {
          process.kill(s.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
  });
}
