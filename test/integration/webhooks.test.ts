import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { ArticleClient, TestClient } from '../fixtures/test-client.ts';
import { WebhookReceiver } from '../fixtures/webhook-receiver.ts';

/**
 * Webhooks end to end: real dynos, real Redis (one, and a three-master cluster), and a real
 * receiver in this process that verifies every Standard Webhooks signature on its own and
 * de-duplicates by webhook-id. Timings are shortened through the environment.
 */
const GRACE_MS = 800;
const LEASE_MS = 800;
/** Per test: each waits on grace periods, leases and process starts, slower on a loaded machine. */
const TEST_TIMEOUT_MS = 90_000;

let redis: RedisFixture;
let redisCluster: RedisClusterFixture | undefined;
let receiver: WebhookReceiver;
const open: TestClient[] = [];
const dynos: Dyno[] = [];

type Backend = 'embedded' | 'redis' | 'redis-cluster';

function webhookEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: receiver.secret,
    WEBHOOK_TIMEOUT_MS: '1000',
    WEBHOOK_BACKOFF_MS: '100',
    WEBHOOK_BACKOFF_MAX_MS: '400',
    WEBHOOK_POLL_MS: '100',
    RESUME_GRACE_MS: String(GRACE_MS),
    NODE_LEASE_MS: String(LEASE_MS),
    ...extra,
  };
}

async function dyno(backend: Backend, prefix: string, extra: Record<string, string> = {}): Promise<Dyno> {
  const env: Record<string, string | undefined> = { ...webhookEnv(extra), REDIS_PREFIX: prefix };
  if (backend === 'redis') env['REDIS_URL'] = redis.url;
  if (backend === 'redis-cluster') env['REDIS_CLUSTER_NODES'] = redisCluster?.seeds;
  // A loaded CI machine can take a while to start a process: wait longer than the default.
  const d = await startDyno({ env, timeoutMs: 40_000 });
  dynos.push(d);
  return d;
}

async function member(d: Dyno, room: string, name: string, resume?: string): Promise<{ client: TestClient; joined: Frame }> {
  const client = await TestClient.connect(d.wsUrl());
  open.push(client);
  client.send(resume ? { type: 'join', room, name, resume } : { type: 'join', room, name });
  return { client, joined: await client.expect('joined') };
}

async function until(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** "type name reason" of a room's unique events in seq order, checking seq rises strictly. */
function story(room: string): string[] {
  const events = receiver.room(room);
  for (let i = 1; i < events.length; i++) expect(events[i]?.data.seq).toBeGreaterThan(events[i - 1]?.data.seq ?? 0);
  return events.map((e) => [e.type, e.data.name, e.data.reason].filter(Boolean).join(' '));
}

async function storyIs(room: string, expected: string[], timeoutMs = 15_000): Promise<void> {
  await until(
    `${expected.length} events in ${room} (have: ${story(room).join(', ')})`,
    () => receiver.room(room).length >= expected.length,
    timeoutMs,
  );
  expect(story(room)).toEqual(expected);
}

async function metric(d: Dyno, name: string): Promise<number> {
  const text = await (await fetch(`${d.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

beforeAll(async () => {
  redis = await startRedis();
  receiver = new WebhookReceiver();
  await receiver.up();
});

afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate();
  await Promise.all(dynos.splice(0).map((d) => d.stop('SIGKILL')));
  expect(receiver.rejected).toEqual([]);
  receiver.mode = 'ok';
  await receiver.up().catch(() => undefined);
});

afterAll(async () => {
  await receiver?.down();
  await redisCluster?.stop();
  await redis?.stop();
});

describe.each(['embedded', 'redis', 'redis-cluster'] as const)('membership events (%s)', (backend) => {
  it(
    'join, leave, resume, grace expiry and (with Redis) a SIGKILLed dyno give exactly the documented events in seq order',
    async () => {
      if (backend === 'redis-cluster') redisCluster ??= await startRedisCluster();
      const prefix = uniquePrefix('wh');
      const d0 = await dyno(backend, prefix);
      const d1 = backend === 'embedded' ? d0 : await dyno(backend, prefix);
      const room = `r-${backend}`;
      const alice = await member(d0, room, 'alice');
      const bob = await member(d1, room, 'bob');
      bob.client.send({ type: 'leave' });
      await alice.client.expect('peer-joined');
      await alice.client.expect('peer-left');
      // Dropped and resumed within the grace: no event at all.
      const carol = await member(d1, room, 'carol');
      await alice.client.expect('peer-joined');
      carol.client.ws.terminate();
      const back = await member(d0, room, 'carol', String(carol.joined['resume']));
      expect(back.joined['resumed']).toBe(true);
      // Dropped for good: member.left with reason disconnected once the grace is over.
      const dave = await member(d1, room, 'dave');
      await alice.client.expect('peer-joined');
      dave.client.ws.terminate();
      await alice.client.expect('peer-left', GRACE_MS + 5000);
      const expected = [
        'room.started',
        'member.joined alice',
        'member.joined bob',
        'member.left bob left',
        'member.joined carol',
        'member.joined dave',
        'member.left dave disconnected',
      ];
      await storyIs(room, expected);
      if (backend !== 'embedded') {
        // A dyno SIGKILLed with a member on it: a survivor sweeps it once lease and grace are over.
        const lone = `lone-${backend}`;
        await member(d1, lone, 'erin');
        await storyIs(lone, ['room.started', 'member.joined erin']);
        await d1.stop('SIGKILL');
        await storyIs(
          lone,
          ['room.started', 'member.joined erin', 'member.left erin dyno-lost', 'room.finished'],
          LEASE_MS * 3 + GRACE_MS + 10_000,
        );
      }
      alice.client.send({ type: 'leave' });
      back.client.send({ type: 'leave' });
      await storyIs(room, [...expected, 'member.left alice left', 'member.left carol left', 'room.finished']);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(story(room)).toHaveLength(expected.length + 3);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('article protocol rooms (embedded)', () => {
  it(
    'report their own events, told apart by data.protocol',
    async () => {
      const d = await dyno('embedded', uniquePrefix('wh-article'));
      const v1 = await member(d, 'same-name', 'ann');
      const article = await ArticleClient.connect(d.wsUrl('/video_chat/signaling'));
      open.push(article);
      expect((await article.open('same-name', 'ann'))['method']).toBe('opened');
      article.ws.close();
      await until('both rooms', () => receiver.room('same-name').length >= 6);
      const events = receiver.room('same-name').map((e) => `${e.data.protocol} ${e.type} ${e.data.reason ?? ''}`.trim());
      expect(events.filter((e) => e.startsWith('article'))).toEqual([
        'article room.started',
        'article member.joined',
        'article member.left left',
        'article room.finished',
      ]);
      expect(events.filter((e) => e.startsWith('v1'))).toEqual(['v1 room.started', 'v1 member.joined']);
      v1.client.send({ type: 'leave' });
    },
    TEST_TIMEOUT_MS,
  );
});

describe('delivery (one Redis)', () => {
  it(
    'delivers everything queued while the receiver was down for 5 s',
    async () => {
      const prefix = uniquePrefix('wh-down');
      const [d0, d1] = [await dyno('redis', prefix), await dyno('redis', prefix)];
      await receiver.down();
      const alice = await member(d0, 'down', 'alice');
      const bob = await member(d1, 'down', 'bob');
      await alice.client.expect('peer-joined');
      bob.client.send({ type: 'leave' });
      await alice.client.expect('peer-left');
      await new Promise((resolve) => setTimeout(resolve, 5000));
      expect(receiver.room('down')).toEqual([]);
      await receiver.up();
      await storyIs('down', ['room.started', 'member.joined alice', 'member.joined bob', 'member.left bob left']);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a dyno SIGKILLed mid-delivery loses nothing: another dyno delivers once its lease runs out',
    async () => {
      const prefix = uniquePrefix('wh-kill');
      const d0 = await dyno('redis', prefix);
      const d1 = await dyno('redis', prefix);
      receiver.mode = 'hang';
      const posts = receiver.posts;
      await member(d0, 'kill', 'alice');
      // d0 emitted both events and is POSTing the first one when it dies.
      await until('the first POST', () => receiver.posts > posts);
      await d0.stop('SIGKILL');
      receiver.mode = 'ok';
      await storyIs('kill', ['room.started', 'member.joined alice', 'member.left alice dyno-lost', 'room.finished'], 20_000);
      expect(d1.output.join('\n')).not.toContain('"level":50');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a receiver answering 500 forever: retries back off, give-ups are logged and counted, queues stay capped, signaling goes on',
    async () => {
      const prefix = uniquePrefix('wh-500');
      const env = { WEBHOOK_MAX_AGE_MS: '2000', WEBHOOK_MAX_QUEUED: '4', WEBHOOK_CONCURRENCY: '2' };
      const d0 = await dyno('redis', prefix, env);
      const d1 = await dyno('redis', prefix, env);
      receiver.mode = 'fail';
      const alice = await member(d0, 'dead', 'alice');
      const bob = await member(d1, 'dead', 'bob');
      await alice.client.expect('peer-joined');
      // Seven events for a queue of four: the ones past the cap are refused and counted as queue-full.
      for (let i = 0; i < 2; i++) {
        bob.client.send({ type: 'leave' });
        await alice.client.expect('peer-left');
        bob.client.send({ type: 'join', room: 'dead', name: 'bob' });
        await bob.client.expect('joined');
        await alice.client.expect('peer-joined');
      }
      const check = new Redis(redis.url);
      try {
        expect(await check.llen(`${prefix}{v1.dead}:wh`)).toBeLessThanOrEqual(4);
      } finally {
        check.disconnect();
      }
      // Signals still flow both ways while every delivery fails.
      alice.client.send({ type: 'signal', to: 'bob', data: { ping: 1 } });
      expect(await bob.client.expect('signal')).toMatchObject({ from: 'alice', data: { ping: 1 } });
      const dropped = async (reason: string): Promise<number> =>
        (await metric(d0, `webhook_events_dropped_total{reason="${reason}"`)) +
        (await metric(d1, `webhook_events_dropped_total{reason="${reason}"`));
      const deadline = Date.now() + 15_000;
      const total = async (): Promise<number> => (await dropped('max-age')) + (await dropped('queue-full'));
      while ((await total()) < 7 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      // Every event is accounted for, once: given up after the max age, or refused at the cap.
      expect(await total()).toBe(7);
      expect(await dropped('max-age')).toBeGreaterThanOrEqual(4);
      expect(await dropped('queue-full')).toBeGreaterThanOrEqual(1);
      const logs = [...d0.output, ...d1.output].join('\n');
      expect(logs).toContain('webhook event dropped: the receiver did not accept it within WEBHOOK_MAX_AGE_MS');
      expect(logs).toContain('webhook events dropped: the room already had WEBHOOK_MAX_QUEUED events waiting');
      expect(await metric(d0, 'webhook_deliveries_in_flight')).toBeLessThanOrEqual(2);
      expect(await metric(d0, 'webhook_deliveries_total{outcome="failed"')).toBeGreaterThan(0);
      expect(receiver.room('dead')).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a dyno stalled past its lease is swept (dyno-lost); when it wakes up its member is told, and joins again as a new membership',
    async () => {
      const prefix = uniquePrefix('wh-stall');
      const d0 = await dyno('redis', prefix);
      const d1 = await dyno('redis', prefix);
      const alice = await member(d0, 'stall', 'alice');
      const bob = await member(d1, 'stall', 'bob');
      await storyIs('stall', ['room.started', 'member.joined alice', 'member.joined bob']);
      d0.process.kill('SIGSTOP');
      try {
        await bob.client.expect('peer-left', LEASE_MS * 3 + GRACE_MS + 10_000);
      } finally {
        d0.process.kill('SIGCONT');
      }
      // alice's socket was never closed: her dyno finds its lease lapsed and her membership
      // ended, and closes her socket with 1012; her client reconnects and resumes, which finds
      // the membership gone and starts a new one (as the client library does).
      expect((await alice.client.closed).code).toBe(1012);
      const again = await member(d1, 'stall', 'alice', String(alice.joined['resume']));
      expect(again.joined['resumed']).toBe(false);
      await bob.client.expect('peer-joined', 15_000);
      await storyIs('stall', [
        'room.started',
        'member.joined alice',
        'member.joined bob',
        'member.left alice dyno-lost',
        'member.joined alice',
      ]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'a whole-cluster restart (every dyno SIGTERM, new ones started) loses and invents nothing',
    async () => {
      const prefix = uniquePrefix('wh-restart');
      // Long enough for a new dyno to start under a loaded CI machine before alice resumes.
      const env = { RESUME_GRACE_MS: '6000' };
      const d0 = await dyno('redis', prefix, env);
      const d1 = await dyno('redis', prefix, env);
      const alice = await member(d0, 'restart', 'alice');
      const bob = await member(d1, 'restart', 'bob');
      await member(d1, 'restart-2', 'carol');
      const carl = await member(d0, 'restart', 'carl');
      await storyIs('restart', ['room.started', 'member.joined alice', 'member.joined bob', 'member.joined carl']);
      // Queued while the receiver is down, and still queued when every dyno is gone.
      await receiver.down();
      carl.client.send({ type: 'leave' });
      await bob.client.expect('peer-joined');
      await bob.client.expect('peer-left');
      await Promise.all([d0.stop('SIGTERM'), d1.stop('SIGTERM')]);
      const d2 = await dyno('redis', prefix, env);
      // alice comes back within the grace (no event); bob and carol do not (dyno-lost).
      const back = await member(d2, 'restart', 'alice', String(alice.joined['resume']));
      expect(back.joined['resumed']).toBe(true);
      await dyno('redis', prefix, env);
      await receiver.up();
      await storyIs('restart-2', ['room.started', 'member.joined carol', 'member.left carol dyno-lost', 'room.finished'], 25_000);
      const before = ['room.started', 'member.joined alice', 'member.joined bob', 'member.joined carl', 'member.left carl left'];
      await storyIs('restart', [...before, 'member.left bob dyno-lost'], 20_000);
      back.client.send({ type: 'leave' });
      await storyIs('restart', [...before, 'member.left bob dyno-lost', 'member.left alice left', 'room.finished']);
    },
    TEST_TIMEOUT_MS,
  );
});
