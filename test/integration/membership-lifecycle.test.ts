import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';
import { WebhookReceiver } from '../fixtures/webhook-receiver.ts';
import type { BlackHoleProxy } from '../fixtures/black-hole-proxy.ts';
import { startBlackHoleProxy } from '../fixtures/black-hole-proxy.ts';

/**
 * The four ways a membership was lost, locked out or brought back, each with real dynos on
 * a real Redis: a removal whose bus notice never arrives, a join or resume answered into a
 * socket that just closed, a swept member put back by its stalled dyno, and frames written
 * into a half-open socket.
 */
const API_KEY = 'lifecycle-test-api-key-0123456789abcdef';
const TEST_TIMEOUT_MS = 90_000;

let redis: RedisFixture;
let redisCluster: RedisClusterFixture | undefined;
const open: TestClient[] = [];
const dynos: Dyno[] = [];
const admins: Redis[] = [];
const proxies: BlackHoleProxy[] = [];

type Backend = 'redis' | 'redis-cluster';

async function dyno(backend: Backend, prefix: string, name: string, extra: Record<string, string> = {}): Promise<Dyno> {
  const env: Record<string, string | undefined> = { REDIS_PREFIX: prefix, DYNO: name, API_KEY, ...extra };
  if (backend === 'redis') env['REDIS_URL'] = redis.url;
  else env['REDIS_CLUSTER_NODES'] = redisCluster?.seeds;
  const d = await startDyno({ env, timeoutMs: 40_000 });
  dynos.push(d);
  return d;
}

async function connect(url: string): Promise<TestClient> {
  const client = await TestClient.connect(url);
  open.push(client);
  return client;
}

async function member(
  url: string,
  room: string,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<{ client: TestClient; joined: Frame }> {
  const client = await connect(url);
  client.send({ type: 'join', room, name, ...extra });
  return { client, joined: await client.expect('joined', 20_000) };
}

function admin(port: number): Redis {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1 });
  admins.push(client);
  return client;
}

async function api(d: Dyno, method: string, path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${d.httpUrl}/api/v1${path}`, { method, headers: { authorization: `Bearer ${API_KEY}` } });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function closedWithin(client: TestClient, ms: number): Promise<{ code: number; reason: string }> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms));
  return Promise.race([client.closed, timeout]);
}

/** Every frame a client gets within `ms`. */
async function framesWithin(client: TestClient, ms: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return frames;
    const frame = await client.next(left).catch(() => null);
    if (frame) frames.push(frame);
  }
}

/** The ids of the connections named `signaling:<dyno id>:<role>` on one Redis server. */
async function connectionIds(server: Redis, dynoName: string, role: string): Promise<string[]> {
  const list = String(await server.call('CLIENT', 'LIST'));
  const lines = list.split('\n').filter((l) => new RegExp(`name=\\S*signaling:${dynoName}-[0-9a-f]+:${role} `).test(l));
  if (lines.length === 0) throw new Error(`no ${role} connection of ${dynoName} in CLIENT LIST:\n${list}`);
  return lines.map((line) => (/\bid=(\d+)/.exec(line) as RegExpExecArray)[1] as string);
}

/** The id of the one connection named `signaling:<dyno id>:<role>` on one Redis server. */
async function connectionId(server: Redis, dynoName: string, role: string): Promise<string> {
  return (await connectionIds(server, dynoName, role))[0] as string;
}

afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate();
  for (const a of admins.splice(0)) {
    await a.call('CONFIG', 'SET', 'maxclients', '10000').catch(() => undefined);
    a.disconnect();
  }
  for (const p of proxies.splice(0)) await p.close();
  await Promise.all(dynos.splice(0).map((d) => d.stop('SIGKILL')));
});

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
});

afterAll(async () => {
  await redisCluster?.stop();
  await redis?.stop();
});

describe.each<Backend>(['redis', 'redis-cluster'])('a removal that misses its notice (%s)', (backend) => {
  it(
    'is enforced anyway: removed then 4001 within seconds while the subscriber is down, and never restored',
    async () => {
      if (backend === 'redis-cluster') redisCluster ??= await startRedisCluster({ masters: 3 });
      const prefix = uniquePrefix('kick-missed');
      const d0 = await dyno(backend, prefix, 'kicka');
      const d1 = await dyno(backend, prefix, 'kickb');
      const alice = await member(d0.wsUrl(), 'kick', 'alice');
      const bob = await member(d1.wsUrl(), 'kick', 'bob');
      await alice.client.expect('peer-joined');
      // alice's dyno loses its subscriber connection (to the room's shard) and cannot get a new
      // one: the server takes no new connections; those it has keep working.
      const port =
        backend === 'redis' ? Number(new URL(redis.url).port) : await redisCluster!.masterOf(new RoomKeys(prefix, 'v1', 'kick').members);
      const server = admin(port);
      // Every subscriber connection of alice's dyno there (one, unless ioredis is replacing it).
      const subscribers = await connectionIds(server, 'kicka', 'sub');
      await server.call('CONFIG', 'SET', 'maxclients', '1');
      for (const id of subscribers) await server.call('CLIENT', 'KILL', 'ID', id);
      // Redis may free a killed client after this turn: the removal goes out once it is gone.
      await until('the subscriber connection to be gone', async () =>
        connectionIds(server, 'kicka', 'sub').then(
          () => false,
          () => true,
        ),
      );
      expect((await api(d1, 'DELETE', '/rooms/kick/members/alice')).status).toBe(204);
      expect(await bob.client.expect('peer-left')).toEqual({ type: 'peer-left', name: 'alice' });
      // Whatever the bus did, alice hears she was removed and her socket closes with 4001.
      const removedAt = Date.now();
      expect(await alice.client.expectError('removed', 8000)).toMatchObject({ code: 'removed' });
      expect((await closedWithin(alice.client, 3000)).code).toBe(4001);
      expect(Date.now() - removedAt).toBeLessThan(8000);
      // Her dyno gets its connections back, then its command connection resets (a restore):
      // she is not written back, and bob hears nothing more.
      await server.call('CONFIG', 'SET', 'maxclients', '10000');
      await until('alice dyno to subscribe again', async () =>
        connectionId(server, 'kicka', 'sub').then(
          () => true,
          () => false,
        ),
      );
      if (backend === 'redis') await server.call('CLIENT', 'KILL', 'ID', await connectionId(server, 'kicka', 'cmd'));
      else await server.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await bob.client.expectSilence(2500);
      expect((await api(d0, 'GET', '/rooms/kick')).body).toMatchObject({ members: [{ name: 'bob' }] });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a membership that ended stays ended', () => {
  it(
    'a swept member of a dyno stopped past lease + grace is not put back when the dyno continues',
    async () => {
      const receiver = new WebhookReceiver();
      await receiver.up();
      try {
        const prefix = uniquePrefix('stop-cont');
        const env = {
          NODE_LEASE_MS: '2000',
          RESUME_GRACE_MS: '2000',
          WEBHOOK_URL: receiver.url,
          WEBHOOK_SECRET: receiver.secret,
          WEBHOOK_POLL_MS: '100',
          WEBHOOK_BACKOFF_MS: '100',
        };
        const d0 = await dyno('redis', prefix, 'stopa', env);
        const d1 = await dyno('redis', prefix, 'stopb', env);
        const alice = await member(d0.wsUrl(), 'stall', 'alice');
        const bob = await member(d1.wsUrl(), 'stall', 'bob');
        const story = (): string[] => receiver.room('stall').map((e) => [e.type, e.data.name, e.data.reason].filter(Boolean).join(' '));
        await until('the joins as webhooks', () => story().length >= 3);
        d0.process.kill('SIGSTOP');
        try {
          expect(await bob.client.expect('peer-left', 30_000)).toEqual({ type: 'peer-left', name: 'alice' });
          await until('member.left dyno-lost', () => story().includes('member.left alice dyno-lost'));
        } finally {
          d0.process.kill('SIGCONT');
        }
        // member.left meant gone for good: alice's old socket is told to start over (1012), her
        // peers hear nothing, the API does not list her, and no webhook says she joined again.
        await bob.client.expectSilence(5000);
        expect((await closedWithin(alice.client, 5000)).code).toBe(1012);
        expect(story()).toEqual(['room.started', 'member.joined alice', 'member.joined bob', 'member.left alice dyno-lost']);
        expect((await api(d1, 'GET', '/rooms/stall')).body).toMatchObject({ members: [{ name: 'bob' }] });
      } finally {
        await receiver.down();
      }
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a join or resume answered into a socket that just closed', () => {
  it(
    'a resume: the secret the client holds still resumes, and the held signals are still there',
    async () => {
      const prefix = uniquePrefix('closed-resume');
      const d0 = await dyno('redis', prefix, 'resa', { RESUME_GRACE_MS: '20000' });
      const d1 = await dyno('redis', prefix, 'resb', { RESUME_GRACE_MS: '20000' });
      const alice = await member(d0.wsUrl(), 'rs', 'alice');
      const bob = await member(d1.wsUrl(), 'rs', 'bob');
      await alice.client.expect('peer-joined');
      const secret = String(alice.joined['resume']);
      alice.client.ws.terminate();
      await until('alice reconnecting', async () => JSON.stringify((await api(d1, 'GET', '/rooms/rs')).body).includes('reconnecting'));
      for (let i = 1; i <= 3; i++) bob.client.send({ type: 'signal', to: 'alice', data: { i }, id: i });
      await bob.client.expectSilence(300);
      // The resume goes out and the socket closes in the same tick: `joined` cannot reach it.
      const lost = await connect(d1.wsUrl());
      lost.send({ type: 'join', room: 'rs', name: 'alice', resume: secret });
      lost.ws.close();
      await lost.closed;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const again = await member(d0.wsUrl(), 'rs', 'alice', { resume: secret });
      expect(again.joined).toMatchObject({ type: 'joined', resumed: true, peers: ['bob'] });
      const frames = await framesWithin(again.client, 1500);
      expect(frames.filter((f) => f.type === 'signal').map((f) => (f['data'] as { i: number }).i)).toEqual([1, 2, 3]);
      await bob.client.expectSilence(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a first join: the name is not locked against the same person joining again',
    async () => {
      const prefix = uniquePrefix('closed-join');
      const d0 = await dyno('redis', prefix, 'joina', { RESUME_GRACE_MS: '20000' });
      const lost = await connect(d0.wsUrl());
      lost.send({ type: 'join', room: 'fj', name: 'carol' });
      lost.ws.close();
      await lost.closed;
      // A client that never got `joined` has no secret: its retry is a plain join.
      let reply: Frame = {};
      await until(
        'carol to join again',
        async () => {
          const retry = await connect(d0.wsUrl());
          reply = await retry.join('fj', 'carol');
          return reply.type === 'joined';
        },
        5000,
      );
      expect(reply).toMatchObject({ type: 'joined', resumed: false });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('frames written into a half-open socket', () => {
  it(
    'are replayed on resume from the last frame the client processed',
    async () => {
      const prefix = uniquePrefix('black-hole');
      const d0 = await dyno('redis', prefix, 'holea');
      const d1 = await dyno('redis', prefix, 'holeb');
      const proxy = await startBlackHoleProxy(d0.port);
      proxies.push(proxy);
      const alice = await member(proxy.url(), 'bh', 'alice', { lastSeq: 0 });
      const bob = await member(d1.wsUrl(), 'bh', 'bob');
      await alice.client.expect('peer-joined');
      bob.client.send({ type: 'signal', to: 'alice', data: { i: 0 } });
      const first = await alice.client.expect('signal');
      const lastSeq = typeof first['seq'] === 'number' ? first['seq'] : 1;
      // The link goes silent: alice's dyno keeps writing into a socket nobody reads.
      proxy.blackHole();
      for (let i = 1; i <= 3; i++) bob.client.send({ type: 'signal', to: 'alice', data: { i }, id: i });
      await bob.client.expectSilence(500);
      const again = await member(d1.wsUrl(), 'bh', 'alice', { resume: String(alice.joined['resume']), lastSeq });
      expect(again.joined).toMatchObject({ type: 'joined', resumed: true });
      const frames = await framesWithin(again.client, 2000);
      const signals = frames.filter((f) => f.type === 'signal').map((f) => (f['data'] as { i: number }).i);
      const told = frames.some((f) => f.type === 'signals-lost' && (f['peers'] as string[]).includes('bob'));
      // Her old dyno is alive: what it wrote after her last frame is replayed, once, in order.
      expect({ signals, told }).toEqual({ signals: [1, 2, 3], told: false });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a room the store lost, put back by its members dynos one after the other', () => {
  it(
    'tells nobody a member left while its dyno has yet to put it back, even across a bus recovery',
    async () => {
      const prefix = uniquePrefix('room-lost');
      const env = { NODE_LEASE_MS: '2000' };
      const d0 = await dyno('redis', prefix, 'losta', env);
      const d1 = await dyno('redis', prefix, 'lostb', env);
      const alice = await member(d0.wsUrl(), 'lost', 'alice');
      const bob = await member(d1.wsUrl(), 'lost', 'bob');
      await alice.client.expect('peer-joined');
      const server = admin(Number(new URL(redis.url).port));
      // bob's dyno stalls while Redis loses everything of this deployment (an empty restart):
      // alice's dyno notices its lease gone and puts alice back alone.
      d1.process.kill('SIGSTOP');
      try {
        const since = Date.now();
        const keys = (await server.call('KEYS', `${prefix}*`)) as string[];
        if (keys.length > 0) await server.del(...keys);
        const putBack = (line: string): boolean =>
          line.includes('local members re-registered') && (JSON.parse(line) as { time: number }).time >= since;
        await until('alice put back by her dyno', () => d0.output.some(putBack));
        // Then alice's dyno loses its subscriber: its catch-up reads the room with alice back
        // and bob not yet.
        await server.call('CLIENT', 'KILL', 'ID', await connectionId(server, 'losta', 'sub'));
        await until('alice dyno to subscribe again', async () =>
          connectionId(server, 'losta', 'sub').then(
            () => true,
            () => false,
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
      } finally {
        d1.process.kill('SIGCONT');
      }
      // bob's dyno puts him back; signals flow both ways; alice was never told bob left.
      await until('bob put back by his dyno', () => d1.output.some((l) => l.includes('local members re-registered')));
      bob.client.send({ type: 'signal', to: 'alice', data: { after: 1 } });
      const frames = await framesWithin(alice.client, 2000);
      expect(frames.filter((f) => f.type !== 'signals-lost')).toEqual([{ type: 'signal', from: 'bob', data: { after: 1 } }]);
      alice.client.send({ type: 'signal', to: 'bob', data: { back: 1 } });
      // Both ends of the recovered bus may be told signals-lost; nothing else reaches bob.
      const toBob = (await framesWithin(bob.client, 2000)).filter((f) => f.type !== 'signals-lost');
      expect(toBob).toEqual([{ type: 'signal', from: 'alice', data: { back: 1 } }]);
    },
    TEST_TIMEOUT_MS,
  );
});
