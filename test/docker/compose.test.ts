import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../fixtures/free-port.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';
import { buildAppImage, composeCommand, docker, IMAGES, requireEngine, ROOT, run } from './docker-cli.ts';

/**
 * The repository's docker-compose.yml, run by the Compose on this machine (Debian's
 * docker-compose 1.29 in CI) with the images pointed at local ones through its overrides:
 * Redis, three signaling replicas, HAProxy, one port published on 127.0.0.1.
 */
const GRACE_MS = 12_000;
const LEASE_MS = 2_000;
const REPLICAS = ['signaling-1', 'signaling-2', 'signaling-3'];
const NAMES = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];

/** The next frame of `type`, skipping room events that may arrive first. */
async function nextOf(client: TestClient, type: string, timeoutMs = 5_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = await client.next(Math.max(1, deadline - Date.now()));
    if (frame.type === type) return frame;
  }
}

/** Every frame that has arrived so far (waiting `quietMs` for stragglers). */
async function drain(client: TestClient, quietMs = 100): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    try {
      frames.push(await client.next(quietMs));
    } catch {
      return frames;
    }
  }
}

describe('docker-compose.yml: Redis, three replicas and HAProxy', () => {
  // sigtest-*: scripts/test.sh removes containers of such projects a crashed run left behind.
  const project = `sigtest-${process.pid}-${randomBytes(3).toString('hex')}`;
  const [composeBin, ...composeArgs] = composeCommand() as [string, ...string[]];
  let env: NodeJS.ProcessEnv;
  let port: number;
  let down = false;
  const clients = new Map<string, TestClient>();
  const resumeSecrets = new Map<string, string>();

  const compose = async (...args: string[]): Promise<string> => {
    const result = await run(composeBin, [...composeArgs, '-p', project, '-f', join(ROOT, 'docker-compose.yml'), ...args], {
      env,
      timeoutMs: 180_000,
    });
    if (result.code !== 0) throw new Error(`compose ${args.join(' ')} exited with ${result.code}:\n${result.stderr}${result.stdout}`);
    return result.stdout.trim();
  };
  /** Container id of a service, straight from docker (each docker-compose call costs a second or two). */
  const containerOf = async (service: string): Promise<string> => {
    const rows = await docker([
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.ID}} {{.Label "com.docker.compose.service"}}',
    ]);
    const row = rows.split('\n').find((r) => r.endsWith(` ${service}`));
    if (!row) throw new Error(`no container for ${service} in compose project ${project}:\n${rows}`);
    return row.split(' ')[0] as string;
  };
  const wsUrl = (): string => `ws://127.0.0.1:${port}/signaling`;

  /** Which replica logged `msg` ("joined", "resumed") for each name in `room`. */
  async function landings(room: string, msg: string, names: readonly string[]): Promise<Map<string, string>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = new Map<string, string>();
      for (const service of REPLICAS) {
        const id = await containerOf(service);
        // The server logs JSON lines on stdout; docker keeps them per container.
        const { stdout } = await run('docker', ['logs', id]);
        for (const line of stdout.split('\n')) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { msg?: string; room?: string; name?: string };
          if (entry.msg === msg && entry.room === room && entry.name && names.includes(entry.name)) found.set(entry.name, service);
        }
      }
      if (found.size === names.length || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    await requireEngine();
    const image = await buildAppImage();
    port = await freePort();
    env = {
      ...process.env,
      SIGNALING_IMAGE: image,
      NODE_IMAGE: IMAGES.node,
      REDIS_IMAGE: IMAGES.redis,
      HAPROXY_IMAGE: IMAGES.haproxy,
      PUBLISH_HOST: '127.0.0.1',
      PUBLISH_PORT: String(port),
      RESUME_GRACE_MS: String(GRACE_MS),
      NODE_LEASE_MS: String(LEASE_MS),
    };
    await compose('up', '-d', '--no-build');
    // Up means HAProxy routes to all three: /healthz answers from three different replicas.
    const nodes = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (nodes.size < 3) {
      if (Date.now() > deadline)
        throw new Error(`HAProxy reached ${nodes.size} replicas within 60 s:\n${await compose('logs', '--tail', '40')}`);
      const node = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } }).then(
        async (r) => (r.ok ? ((await r.json()) as { node: string }).node : undefined),
        () => undefined,
      );
      if (node) nodes.add(node);
      else await new Promise((r) => setTimeout(r, 250));
    }
  });

  afterAll(async () => {
    for (const c of clients.values()) c.ws.terminate();
    if (!down) await compose('down', '-v', '--remove-orphans', '--timeout', '10').catch(() => undefined);
  });

  it('publishes one port, on 127.0.0.1 only', async () => {
    const published = await compose('port', 'haproxy', '8080');
    expect(published).toBe(`127.0.0.1:${port}`);
    for (const service of ['redis', ...REPLICAS]) {
      const id = await containerOf(service);
      expect(await docker(['inspect', '-f', '{{json .HostConfig.PortBindings}}', id])).toMatch(/^(\{\}|null)$/);
    }
  });

  it('six clients land on three different replicas and every pair signals across them', async () => {
    const room = `compose-${randomBytes(3).toString('hex')}`;
    for (const name of NAMES) {
      const client = await TestClient.connect(wsUrl());
      client.send({ type: 'join', room, name });
      const joined = await nextOf(client, 'joined');
      clients.set(name, client);
      resumeSecrets.set(name, joined['resume'] as string);
    }
    const landed = await landings(room, 'joined', NAMES);
    const perReplica = REPLICAS.map((s) => [...landed.values()].filter((v) => v === s).length);
    // Round robin without stickiness: two per replica.
    expect(perReplica).toEqual([2, 2, 2]);

    for (const [i, from] of NAMES.entries()) {
      for (const to of NAMES.slice(i + 1)) {
        clients.get(from)?.send({ type: 'signal', to, data: { sdp: `${from}->${to}` } });
        expect(await nextOf(clients.get(to) as TestClient, 'signal')).toEqual({ type: 'signal', from, data: { sdp: `${from}->${to}` } });
        clients.get(to)?.send({ type: 'signal', to: from, data: { sdp: `${to}->${from}` } });
        expect(await nextOf(clients.get(from) as TestClient, 'signal')).toEqual({
          type: 'signal',
          from: to,
          data: { sdp: `${to}->${from}` },
        });
      }
    }

    // docker-compose kill of one replica: its members resume on the others, nobody sees peer-left.
    const victim = landed.get('p0') as string;
    const victims = NAMES.filter((n) => landed.get(n) === victim);
    const survivors = NAMES.filter((n) => landed.get(n) !== victim);
    const killedAt = Date.now();
    await compose('kill', victim);
    // HAProxy closes the dead replica's tunnels once its health check marks it down.
    for (const name of victims) {
      const closed = await (clients.get(name) as TestClient).closed;
      expect(closed.code).not.toBe(1000);
    }
    // Reconnect through the balancer until a replica takes the resume; HAProxy may still
    // send a connection or two to the dead replica before its health check marks it down.
    for (const name of victims) {
      const deadline = killedAt + GRACE_MS;
      const attempts: string[] = [];
      for (;;) {
        if (Date.now() > deadline) throw new Error(`${name} could not resume within the grace:\n${attempts.join('\n')}`);
        try {
          const client = await TestClient.connect(wsUrl());
          client.send({ type: 'join', room, name, resume: resumeSecrets.get(name) });
          const reply = await client.next(3_000);
          if (reply.type === 'joined') {
            expect(reply['resumed']).toBe(true);
            clients.set(name, client);
            break;
          }
          attempts.push(`${Date.now() - killedAt} ms: ${JSON.stringify(reply)}`);
          client.ws.terminate();
        } catch (err) {
          if (err instanceof Error && err.name === 'AssertionError') throw err;
          attempts.push(`${Date.now() - killedAt} ms: ${err instanceof Error ? err.message : String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const resumed = await landings(room, 'resumed', victims);
    for (const name of victims) expect(REPLICAS.filter((s) => s !== victim)).toContain(resumed.get(name));

    // Past the dead replica's lease and a full grace: had the survivors' sweep not seen the
    // resumes, peer-left would have gone out by now.
    await new Promise((r) => setTimeout(r, Math.max(0, killedAt + LEASE_MS + GRACE_MS + 1_500 - Date.now())));
    for (const name of survivors) {
      const frames = await drain(clients.get(name) as TestClient);
      expect(frames.filter((f) => f.type === 'peer-left')).toEqual([]);
    }
    // And the resumed members still signal the rest of the room across replicas.
    for (const from of victims) {
      for (const to of survivors) {
        clients.get(from)?.send({ type: 'signal', to, data: { after: from } });
        expect(await nextOf(clients.get(to) as TestClient, 'signal')).toEqual({ type: 'signal', from, data: { after: from } });
      }
    }
  });

  it('docker-compose down leaves nothing running', async () => {
    // Open tunnels would hold HAProxy's graceful stop until the timeout.
    for (const c of clients.values()) c.ws.terminate();
    await compose('down', '-v', '--remove-orphans', '--timeout', '10');
    down = true;
    const label = `label=com.docker.compose.project=${project}`;
    expect(await docker(['ps', '-aq', '--filter', label])).toBe('');
    expect(await docker(['network', 'ls', '-q', '--filter', label])).toBe('');
    expect(await docker(['volume', 'ls', '-q', '--filter', label])).toBe('');
  });
});
