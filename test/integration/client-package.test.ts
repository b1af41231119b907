import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';

/**
 * client/ as an installable package: `npm pack` it, install the tarball into a fresh
 * project outside the repository, type-check a small TypeScript program against the
 * installed package (its own .d.ts, skipLibCheck off) and run it in Node against a real
 * dyno: join, signal, broadcast, leave. Node 24's own WebSocket is the transport, so the
 * package needs nothing but what the platform has.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLIENT = join(ROOT, 'client');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');

function run(command: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} timed out:\n${out}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const PROGRAM = `import { SignalingClient, type JoinedEvent, type SignalingClientEvents } from "webrtc-signaling-client";

const url = process.argv[2];
if (url === undefined) throw new Error("usage: node program.js ws://host/signaling");
const room = "package-" + Date.now();

function next<K extends keyof SignalingClientEvents>(client: SignalingClient, event: K): Promise<SignalingClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no " + String(event) + " for " + client.name)), 5000);
    client.once(event, (payload) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

const alice = new SignalingClient({ url, room, name: "alice", metadata: { displayName: "Alice A." } });
const bob = new SignalingClient({ url, room, name: "bob" });
const aliceJoined: Promise<JoinedEvent> = next(alice, "joined");
alice.connect();
await aliceJoined;
const bobJoined = next(bob, "joined");
const bobArrives = next(alice, "peer-joined");
bob.connect();
const joined = await bobJoined;
const arrived = await bobArrives;

const signal = next(bob, "signal");
alice.signal("bob", { description: { type: "offer", sdp: "v=0" } });
const relayed = await signal;

const broadcast = next(alice, "broadcast");
bob.broadcast({ chat: "hello room" });
const heard = await broadcast;

const left = next(alice, "peer-left");
bob.leave();
const gone = await left;
alice.leave();
console.log(JSON.stringify({
  peers: joined.peers,
  members: joined.members,
  arrived,
  relayed,
  heard,
  gone,
  states: [alice.state, bob.state],
}));
`;

describe('the client package', () => {
  let dyno: Dyno;
  let work: string;

  beforeAll(async () => {
    dyno = await startDyno();
    work = mkdtempSync(join(tmpdir(), 'client-package-'));
  });

  afterAll(async () => {
    await dyno?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs, installs into a fresh project, type-checks against its .d.ts and runs in Node against a dyno', async () => {
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work], CLIENT);
    expect(packed.code, packed.out).toBe(0);
    const info = JSON.parse(packed.out.slice(packed.out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = info[0]?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'LICENSE',
        'dist/index.js',
        'dist/types/client/src/index.d.ts',
        'dist/types/protocol/wire.d.ts',
      ]),
    );
    // Sources, the page and the build script stay out of the package.
    expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(f))).toEqual([]);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const installed = await run('npm', ['install', '--offline', '--no-package-lock', join(work, info[0]?.filename ?? '')], app);
    expect(installed.code, installed.out).toBe(0);
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/webrtc-signaling-client/package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(manifest['webrtcSignaling']).toMatchObject({ protocol: 'v1', protocolRevision: '1.1' });

    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['es2022', 'dom'],
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          strict: true,
          skipLibCheck: false,
          outDir: 'out',
          rootDir: '.',
        },
        include: ['program.ts'],
      }),
    );
    writeFileSync(join(app, 'program.ts'), PROGRAM);
    const checked = await run(process.execPath, [TSC, '-p', app], app);
    expect(checked.code, checked.out).toBe(0);

    // The check is real: a misuse of the package's API does not compile.
    writeFileSync(
      join(app, 'wrong.ts'),
      'import { SignalingClient } from "webrtc-signaling-client";\nnew SignalingClient({ url: "ws://x", room: "r", name: "n" }).broadcast("not an object");\n',
    );
    writeFileSync(
      join(app, 'tsconfig.wrong.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['wrong.ts'] }),
    );
    const wrong = await run(process.execPath, [TSC, '-p', join(app, 'tsconfig.wrong.json')], app);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/wrong\.ts.*not assignable to parameter of type 'object'/s);

    const ran = await run(process.execPath, [join(app, 'out/program.js'), dyno.wsUrl()], app, 30_000);
    expect(ran.code, ran.out).toBe(0);
    const result = JSON.parse(ran.out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    expect(result).toEqual({
      peers: ['alice'],
      members: [{ name: 'alice', metadata: { displayName: 'Alice A.' } }],
      arrived: { name: 'bob', metadata: {} },
      relayed: { from: 'alice', data: { description: { type: 'offer', sdp: 'v=0' } } },
      heard: { from: 'bob', data: { chat: 'hello room' } },
      gone: { name: 'bob' },
      states: ['closed', 'closed'],
    });
  }, 240_000);
});
