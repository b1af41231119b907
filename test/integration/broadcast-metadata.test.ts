import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Dyno } from '../fixtures/dyno.ts';
import { startCluster, startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * Room broadcast and member metadata (issue 14) on every backend: the embedded one, one
 * Redis with two dyno processes, and a three-master Redis Cluster with two dynos. dyno(0)
 * and dyno(1) are different processes in the Redis runs, so "a on 0, b on 1" crosses Redis.
 */
describe.each(['embedded', 'redis', 'redis-cluster'] as const)('broadcast and metadata (%s)', (backend) => {
  let redis: RedisFixture | undefined;
  let redisCluster: RedisClusterFixture | undefined;
  let cluster: Cluster;
  let roomSeq = 0;
  const room = (label: string): string => `${label}-${backend}-${++roomSeq}`;
  const open: TestClient[] = [];
  const connect = async (i: number): Promise<TestClient> => {
    const c = await TestClient.connect(cluster.dyno(i).wsUrl());
    open.push(c);
    return c;
  };
  const join = async (i: number, r: string, name: string, metadata?: unknown): Promise<{ c: TestClient; joined: Frame }> => {
    const c = await connect(i);
    c.send(metadata === undefined ? { type: 'join', room: r, name } : { type: 'join', room: r, name, metadata });
    const joined = await c.expect('joined');
    return { c, joined };
  };

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedis();
    if (backend === 'redis-cluster') redisCluster = await startRedisCluster();
    cluster = await startCluster(backend, {
      redisUrl: redis?.url,
      redisClusterNodes: redisCluster?.seeds,
      env: { REDIS_PREFIX: uniquePrefix('bcast'), RESUME_GRACE_MS: '5000', MAX_SIGNAL_BYTES: '2048' },
    });
  });

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await cluster?.stop();
    await redis?.stop();
    await redisCluster?.stop();
  });

  it('gives peers the metadata: peer-joined.metadata, joined.members in the order of peers', async () => {
    const r = room('meta');
    const { c: a, joined: aJoined } = await join(0, r, 'a', { displayName: 'Ana | 🎥', team: { id: 7 } });
    expect(aJoined).toMatchObject({ peers: [], members: [] });
    const { c: b } = await join(1, r, 'b');
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'b' });
    const { joined } = await join(1, r, 'c', { displayName: 'Carl' });
    expect(joined['peers']).toEqual(['a', 'b']);
    expect(joined['members']).toEqual([
      { name: 'a', metadata: { displayName: 'Ana | 🎥', team: { id: 7 } } },
      { name: 'b', metadata: {} },
    ]);
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'c', metadata: { displayName: 'Carl' } });
    expect(await b.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'c', metadata: { displayName: 'Carl' } });
  });

  it('keeps a member metadata across a resume (its record is rewritten, the metadata stays)', async () => {
    const r = room('resume');
    const { c: a, joined } = await join(0, r, 'a', { displayName: 'Ana' });
    const { c: b } = await join(1, r, 'b', { displayName: 'Bo' });
    await a.expect('peer-joined');
    a.ws.terminate();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const again = await connect(1);
    again.send({ type: 'join', room: r, name: 'a', resume: joined['resume'] });
    const resumed = await again.expect('joined');
    expect(resumed).toMatchObject({ resumed: true, peers: ['b'], members: [{ name: 'b', metadata: { displayName: 'Bo' } }] });
    const { joined: late } = await join(0, r, 'c');
    expect(late['members']).toEqual([
      { name: 'a', metadata: { displayName: 'Ana' } },
      { name: 'b', metadata: { displayName: 'Bo' } },
    ]);
    await b.expect('peer-joined');
  });

  it('refuses metadata over 1 KB or that is not an object, with a bad-request naming the limit', async () => {
    const r = room('limit');
    const c = await connect(0);
    // {"x":"..."} is 8 bytes of JSON around the string: 1016 characters make exactly 1024 bytes.
    c.send({ type: 'join', room: r, name: 'big', metadata: { x: 'y'.repeat(1017) } });
    const error = await c.expectError('bad-request');
    expect(error['message']).toMatch(/1024 bytes/);
    c.send({ type: 'join', room: r, name: 'list', metadata: ['displayName'] });
    expect((await c.expectError('bad-request'))['message']).toMatch(/join.metadata must be a JSON object/);
    c.send({ type: 'join', room: r, name: 'fits', metadata: { x: 'y'.repeat(1016) } });
    expect(await c.expect('joined')).toMatchObject({ name: 'fits' });
    // Nothing of the refused joins exists: the next member sees only `fits`.
    const { joined } = await join(1, r, 'other');
    expect(joined['peers']).toEqual(['fits']);
  });

  it('broadcasts across dynos to every other member, once each, not echoed to the sender', async () => {
    const r = room('bcast');
    const { c: a } = await join(0, r, 'a');
    const { c: b } = await join(1, r, 'b');
    const { c: c } = await join(0, r, 'c');
    await a.expect('peer-joined');
    await a.expect('peer-joined');
    await b.expect('peer-joined');
    const data = { chat: 'hello | world', n: [1, 2, { deep: true }] };
    a.send({ type: 'broadcast', data, from: 'forged' });
    expect(await b.text()).toBe(`{"type":"broadcast","from":"a","data":${JSON.stringify(data)}}`);
    expect(await c.expect('broadcast')).toEqual({ type: 'broadcast', from: 'a', data });
    for (let i = 0; i < 5; i++) b.send({ type: 'broadcast', data: { i } });
    for (let i = 0; i < 5; i++) {
      expect(await a.expect('broadcast')).toEqual({ type: 'broadcast', from: 'b', data: { i } });
      expect(await c.expect('broadcast')).toEqual({ type: 'broadcast', from: 'b', data: { i } });
    }
    await Promise.all([a.expectSilence(300), b.expectSilence(0), c.expectSilence(0)]);
  });

  it('answers broadcasts it cannot carry: not joined, too large, bad data', async () => {
    const c = await connect(1);
    c.send({ type: 'broadcast', data: { x: 1 }, id: 1 });
    expect(await c.expectError('not-joined')).toMatchObject({ id: 1 });
    c.send({ type: 'join', room: room('bad'), name: 'x' });
    await c.expect('joined');
    c.send({ type: 'broadcast', data: 'text', id: 2 });
    expect(await c.expectError('bad-request')).toMatchObject({ id: 2 });
    c.send({ type: 'broadcast', data: { blob: 'z'.repeat(3000) }, id: 3 });
    expect((await c.expectError('bad-request'))['message']).toMatch(/MAX_SIGNAL_BYTES \(2048 bytes\)/);
  });
});

/** Every frame that arrives until none has come for 400 ms. */
async function drain(c: TestClient): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (;;) {
    try {
      frames.push(await c.next(400));
    } catch {
      return frames;
    }
  }
}

describe('broadcast rate limit and trusted metadata (embedded)', () => {
  const SECRET = 't'.repeat(40);
  let limited: Dyno;
  let secured: Dyno;
  const open: TestClient[] = [];
  const client = async (d: Dyno): Promise<TestClient> => {
    const c = await TestClient.connect(d.wsUrl());
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    [limited, secured] = await Promise.all([
      startDyno({ env: { RATE_LIMIT_PER_SEC: '5', RATE_LIMIT_BURST: '10' } }),
      startDyno({ env: { TOKEN_SECRET: SECRET } }),
    ]);
  });

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await Promise.all([limited?.stop(), secured?.stop()]);
  });

  it('rate-limits broadcasts like signals: the excess is refused and never reaches the room', async () => {
    const a = await client(limited);
    const b = await client(limited);
    a.send({ type: 'join', room: 'rl', name: 'a' });
    await a.expect('joined');
    b.send({ type: 'join', room: 'rl', name: 'b' });
    await b.expect('joined');
    await a.expect('peer-joined');
    // A burst of 10 tokens, one spent on the join, 5 a second back: of 15 at once, 4 or more are refused.
    for (let i = 0; i < 15; i++) a.send({ type: 'broadcast', data: { i } });
    const refused = await drain(a);
    const got = await drain(b);
    expect(refused.every((f) => f['type'] === 'error' && f['code'] === 'rate-limited')).toBe(true);
    expect(got.every((f) => f['type'] === 'broadcast' && f['from'] === 'a')).toBe(true);
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused.length + got.length).toBe(15);
    // What passed arrives in the order sent.
    const order = got.map((f) => (f['data'] as { i: number }).i);
    expect(order).toEqual([...order].sort((x, y) => x - y));
  });

  it('uses the token metadata claim under TOKEN_SECRET and ignores what the client sends', async () => {
    const key = new TextEncoder().encode(SECRET);
    const exp = Math.floor(Date.now() / 1000) + 600;
    const claimed = await new SignJWT({ room: 'trust', name: 'ana', metadata: { displayName: 'Ana (verified)' } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(key);
    const bare = await new SignJWT({ room: 'trust', name: 'eve' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key);
    const tooBig = await new SignJWT({ room: 'trust', name: 'big', metadata: { x: 'y'.repeat(2000) } })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(key);
    const watcher = await client(secured);
    const watcherToken = await new SignJWT({ room: 'trust', name: 'w' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(exp)
      .sign(key);
    watcher.send({ type: 'join', room: 'trust', name: 'w', token: watcherToken });
    await watcher.expect('joined');

    const ana = await client(secured);
    ana.send({ type: 'join', room: 'trust', name: 'ana', token: claimed, metadata: { displayName: 'The CEO' } });
    await ana.expect('joined');
    expect(await watcher.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'ana', metadata: { displayName: 'Ana (verified)' } });

    const eve = await client(secured);
    eve.send({ type: 'join', room: 'trust', name: 'eve', token: bare, metadata: { displayName: 'Ana (verified)' } });
    expect((await eve.expect('joined'))['members']).toEqual([
      { name: 'w', metadata: {} },
      { name: 'ana', metadata: { displayName: 'Ana (verified)' } },
    ]);
    expect(await watcher.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'eve' });

    const big = await client(secured);
    big.send({ type: 'join', room: 'trust', name: 'big', token: tooBig });
    expect((await big.expectError('unauthorized'))['message']).toMatch(/1024 bytes/);
    await watcher.expectSilence(200);
  });
});
