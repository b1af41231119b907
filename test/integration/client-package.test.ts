import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Dyno, startDyno } from '../fixtures/dyno.ts';

/**
 * The client library as a package (issue 14): `npm pack` of client/, installed from the
 * tarball into a fresh project with nothing else, type-checked against its .d.ts and run in
 * Node against a real dyno (embedded backend).
 */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const programs = fileURLToPath(new URL('../package/', import.meta.url));

let work: string;
let tarball: string;
let dyno: Dyno;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'client-package-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: join(root, 'client'), maxBuffer: 16 << 20 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no package: ${packed.stdout}`);
  tarball = join(work, info.filename);
  await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: work });
  await writeFile(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'es2023', module: 'nodenext', moduleResolution: 'nodenext', strict: true, lib: ['es2023', 'dom'], types: [], noEmit: true },
      files: ['app.ts'],
    }),
  );
  for (const file of ['app.ts', 'misuse.ts', 'bare-import.mjs']) await writeFile(join(work, file), await readFile(join(programs, file)));
  dyno = await startDyno();
}, 180_000);

afterAll(async () => {
  await dyno?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the client package', () => {
  it('packs its build, types, README and license, and nothing of the page or the server', async () => {
    const listing = (await run('tar', ['-tzf', tarball])).stdout.split('\n').filter(Boolean);
    expect(listing).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/LICENSE', 'package/dist/index.js', 'package/dist/index.d.ts']));
    expect(listing.filter((p) => !p.startsWith('package/dist/') && !['package/package.json', 'package/README.md', 'package/LICENSE'].includes(p))).toEqual([]);
    const manifest = JSON.parse(await readFile(join(work, 'node_modules/webrtc-signaling-client/package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest['dependencies']).toBeUndefined();
    expect(manifest['exports']).toMatchObject({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
  });

  it('type-checks a program against the installed declarations, and refuses a wrong one', async () => {
    const checked = await run(process.execPath, [tsc, '-p', work], { cwd: work }).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? 'failed',
    );
    expect(checked).toBe('ok');
    // The types are real, not `any`: a wrong call is a compile error.
    await writeFile(join(work, 'tsconfig.misuse.json'), JSON.stringify({ extends: './tsconfig.json', files: ['misuse.ts'] }));
    const wrong = await run(process.execPath, [tsc, '-p', join(work, 'tsconfig.misuse.json')], { cwd: work }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? 'failed',
    );
    expect(wrong).toMatch(/misuse\.ts\(\d+,\d+\): error TS2345/);
  });

  it('imports with no browser globals (no WebSocket, navigator, RTCPeerConnection, crypto)', async () => {
    const out = await run(process.execPath, [join(work, 'bare-import.mjs')], { cwd: work });
    expect(out.stdout.trim()).toBe('imported: ExponentialBackoffPolicy,MeshCall,SignalingClient,SignalingError');
  });

  it('joins, signals, broadcasts and leaves against a real dyno, in Node', async () => {
    const out = await run(process.execPath, [join(work, 'app.ts'), dyno.wsUrl()], { cwd: work, timeout: 30_000 });
    const events = out.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown);
    expect(events).toEqual([
      { alice: 'joined', peers: [] },
      { bob: 'joined', peers: ['alice'], members: [{ name: 'alice', metadata: { displayName: 'Alice' } }] },
      { alice: 'peer-joined', name: 'bob', metadata: { displayName: 'Bob' } },
      { alice: 'signal', from: 'bob', data: { hello: 1 } },
      { bob: 'broadcast', from: 'alice', data: { text: 'hi all' } },
      { alice: 'peer-left', name: 'bob' },
      { bob: 'state', state: 'closed' },
    ]);
  });
});
