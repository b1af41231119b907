import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster, startDyno } from '../fixtures/dyno.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { joined, TestClient } from '../fixtures/test-client.ts';

/**
 * The protocol v1 contract (docs/protocol.md), run against the embedded backend (one
 * process), against Redis with two dyno processes, and against a three-master Redis Cluster
 * (sharded pub/sub) with two dynos. In the Redis runs, dyno(0) and dyno(1) are different
 * processes, so every "a on dyno 0, b on dyno 1" case crosses Redis.
 */
describe.each(['embedded', 'redis', 'redis-cluster'] as const)('protocol v1 (%s)', (backend) => {
  let redis: RedisFixture | undefined;
  let redisCluster: RedisClusterFixture | undefined;
  let cluster: Cluster;
  let roomSeq = 0;
  const room = (label: string): string => `${label}-${backend}-${++roomSeq}`;
  const url = (i: number): string => cluster.dyno(i).wsUrl();
  const open: TestClient[] = [];
  const track = <T extends TestClient>(c: T): T => (open.push(c), c);
  const join = async (i: number, r: string, n: string): Promise<TestClient> => track(await joined(url(i), r, n));
  const connect = async (i: number): Promise<TestClient> => track(await TestClient.connect(url(i)));

  beforeAll(async () => {
    if (backend === 'redis') redis = await startRedis();
    if (backend === 'redis-cluster') redisCluster = await startRedisCluster();
    cluster = await startCluster(backend, {
      redisUrl: redis?.url,
      redisClusterNodes: redisCluster?.seeds,
      // A short grace: a dropped socket's peer-left comes after RESUME_GRACE_MS.
      env: { REDIS_PREFIX: uniquePrefix('v1'), MAX_ROOM_SIZE: '4', MAX_MESSAGE_BYTES: '4096', RESUME_GRACE_MS: '200' },
    });
  });

  afterAll(async () => {
    for (const c of open) c.ws.terminate();
    await cluster?.stop();
    await redis?.stop();
    await redisCluster?.stop();
  });

  it('lists peers in join order and tells existing members about newcomers', async () => {
    const r = room('order');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'b' });
    const c = track(await TestClient.connect(url(0)));
    const reply = await c.join(r, 'c');
    expect(reply).toEqual({
      type: 'joined',
      room: r,
      name: 'c',
      peers: ['a', 'b'],
      members: [
        { name: 'a', metadata: {} },
        { name: 'b', metadata: {} },
      ],
      resume: expect.any(String),
      resumed: false,
      iceServers: [],
    });
    expect(String(reply['resume']).length).toBeGreaterThanOrEqual(20);
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'c' });
    expect(await b.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'c' });
    await Promise.all([a.expectSilence(100), b.expectSilence(100), c.expectSilence(100)]);
  });

  it('relays signals both ways across dynos and stamps from with the sender', async () => {
    const r = room('relay');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    await a.expect('peer-joined');
    const offer = { description: { type: 'offer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n' } };
    a.send({ type: 'signal', to: 'b', data: offer, from: 'mallory' });
    expect(await b.expect('signal')).toEqual({ type: 'signal', from: 'a', data: offer });
    const candidate = { candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host', sdpMid: '0' } };
    b.send({ type: 'signal', to: 'a', data: candidate });
    expect(await a.expect('signal')).toEqual({ type: 'signal', from: 'b', data: candidate });
  });

  it('keeps signal order for a burst of candidates', async () => {
    const r = room('burst');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    await a.expect('peer-joined');
    for (let i = 0; i < 50; i++) a.send({ type: 'signal', to: 'b', data: { i } });
    for (let i = 0; i < 50; i++) expect((await b.expect('signal')).data).toEqual({ i });
  });

  it('isolates rooms: no reach into, and nothing learned about, another room', async () => {
    const r1 = room('iso1');
    const r2 = room('iso2');
    const a = await join(0, r1, 'a');
    const other = await join(1, r2, 'x');
    const sameName = await join(1, r2, 'a');
    await other.expect('peer-joined');
    a.send({ type: 'signal', to: 'x', data: { probe: 1 }, id: 'p1' });
    expect(await a.expect('error')).toMatchObject({ code: 'peer-not-found', id: 'p1' });
    const b = await join(1, r1, 'b');
    await a.expect('peer-joined');
    // "a" exists in both rooms: b's signal reaches only r1's a.
    b.send({ type: 'signal', to: 'a', data: { hello: 'r1' } });
    expect(await a.expect('signal')).toEqual({ type: 'signal', from: 'b', data: { hello: 'r1' } });
    await Promise.all([other.expectSilence(200), sameName.expectSilence(200)]);
  });

  it('gives exactly one joined and one name-taken to racing same-name joins on two dynos', async () => {
    for (let round = 0; round < 10; round++) {
      const r = room('race');
      const [x, y] = await Promise.all([connect(0), connect(1)]);
      x.send({ type: 'join', room: r, name: 'same' });
      y.send({ type: 'join', room: r, name: 'same' });
      const replies = await Promise.all([x.next(), y.next()]);
      const types = replies.map((f) => (f.type === 'error' ? f['code'] : f.type)).sort();
      expect(types).toEqual(['joined', 'name-taken']);
      x.ws.terminate();
      y.ws.terminate();
    }
  });

  it('answers a signal to an unknown name with peer-not-found, echoing id', async () => {
    const a = await join(0, room('nf'), 'a');
    a.send({ type: 'signal', to: 'ghost', data: {}, id: 42 });
    expect(await a.expect('error')).toMatchObject({ type: 'error', code: 'peer-not-found', id: 42 });
  });

  it('sends peer-left on leave and on socket close, and allows re-joining after leave', async () => {
    const r = room('left');
    const a = await join(0, r, 'a');
    const b = await join(1, r, 'b');
    const c = await join(1, r, 'c');
    await a.expect('peer-joined');
    await a.expect('peer-joined');
    await b.expect('peer-joined');
    b.send({ type: 'leave' });
    expect(await a.expect('peer-left')).toEqual({ type: 'peer-left', name: 'b' });
    expect(await c.expect('peer-left')).toEqual({ type: 'peer-left', name: 'b' });
    c.ws.terminate();
    expect(await a.expect('peer-left')).toEqual({ type: 'peer-left', name: 'c' });
    expect(await b.join(r, 'b2')).toMatchObject({ type: 'joined', room: r, name: 'b2', peers: ['a'], resumed: false });
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'b2' });
  });

  it('answers every error code', async () => {
    const r = room('errors');
    const c = await connect(0);
    c.send({ type: 'signal', to: 'a', data: {}, id: 's1' });
    expect(await c.expect('error')).toMatchObject({ code: 'not-joined', id: 's1' });
    c.send({ type: 'leave' });
    expect(await c.expect('error')).toMatchObject({ code: 'not-joined' });
    expect(await c.join(r, 'a')).toMatchObject({ type: 'joined' });
    c.send({ type: 'join', room: r, name: 'again', id: 'j2' });
    expect(await c.expect('error')).toMatchObject({ code: 'already-joined', id: 'j2' });
    const d = await connect(1);
    expect(await d.join(r, 'a')).toMatchObject({ type: 'error', code: 'name-taken' });
    for (const n of ['b', 'c', 'd']) await join(1, r, n);
    expect(await d.join(r, 'e')).toMatchObject({ type: 'error', code: 'room-full' });
  });

  it('answers malformed frames with bad-request and keeps the socket open', async () => {
    const c = await connect(1);
    const bad: Array<[unknown, string]> = [
      ['{not json', 'not valid JSON'],
      ['[1,2]', 'JSON object'],
      ['"text"', 'JSON object'],
      ['null', 'JSON object'],
      [{ room: 'r' }, 'type'],
      [{ type: 'dance' }, 'unknown message type'],
      [{ type: 'join', room: 'r' }, 'join.name'],
      [{ type: 'join', room: '', name: 'n' }, 'join.room'],
      [{ type: 'join', room: 'r', name: 'x'.repeat(65) }, 'join.name'],
      [{ type: 'join', room: 'r', name: 'tab\there' }, 'control'],
      [{ type: 'join', room: 'r', name: '\ud800' }, 'well-formed'],
      [{ type: 'join', room: 7, name: 'n' }, 'join.room'],
      [{ type: 'signal', to: 'b', data: 'sdp' }, 'signal.data'],
      [{ type: 'signal', to: 'b', data: [1] }, 'signal.data'],
      [{ type: 'signal', data: {} }, 'signal.to'],
      [{ type: 'ping', id: { nested: true } }, 'id'],
    ];
    for (const [frame, hint] of bad) {
      c.send(frame);
      const reply = await c.expect('error');
      expect(reply['code']).toBe('bad-request');
      expect(String(reply['message'])).toContain(hint);
    }
    c.send({ type: 'signal', to: 'b', data: 'x', id: 'bad-1' });
    expect(await c.expect('error')).toMatchObject({ code: 'bad-request', id: 'bad-1' });
    c.ws.send(Buffer.from([0, 1, 2]), { binary: true });
    expect(await c.expect('error')).toMatchObject({ code: 'bad-request', message: expect.stringContaining('binary') });
    c.send({ type: 'ping' });
    expect(await c.next()).toEqual({ type: 'pong' });
  });

  it('closes the socket with 1009 on a frame over MAX_MESSAGE_BYTES, leaving others alone', async () => {
    const r = room('big');
    const a = await join(0, r, 'a');
    const big = await join(1, r, 'big');
    await a.expect('peer-joined');
    big.send({ type: 'signal', to: 'a', data: { sdp: 'x'.repeat(5000) } });
    expect((await big.closed).code).toBe(1009);
    expect(await a.expect('peer-left')).toEqual({ type: 'peer-left', name: 'big' });
    a.send({ type: 'ping' });
    expect(await a.next()).toEqual({ type: 'pong' });
  });

  it('accepts non-ASCII rooms and names, up to 64 characters', async () => {
    const r = `会議室-${backend}-🎥`;
    const long = '山'.repeat(64);
    const a = await join(0, r, 'たろう');
    const b = await join(1, r, long);
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: long });
    b.send({ type: 'signal', to: 'たろう', data: { note: 'こんにちは' } });
    expect(await a.expect('signal')).toEqual({ type: 'signal', from: long, data: { note: 'こんにちは' } });
    // Names that differ only where a naive key encoding would collide stay distinct.
    const c = await join(1, r, 'たろう%');
    expect(await a.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'たろう%' });
    await c.expectSilence(50);
  });

  it('refuses WebSocket upgrades on unknown paths', async () => {
    const ws = new WebSocket(cluster.dyno(0).wsUrl('/nope'));
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(404);
  });
});

describe('protocol v1 with Redis unreachable', () => {
  it('keeps the socket open and answers joins with unavailable', async () => {
    const dyno = await startDyno({ env: { REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      const c = await TestClient.connect(dyno.wsUrl());
      expect(await c.join('r', 'n')).toMatchObject({ type: 'error', code: 'unavailable' });
      c.send({ type: 'ping' });
      expect(await c.next()).toEqual({ type: 'pong' });
      const ready = await fetch(`${dyno.httpUrl}/readyz`);
      expect(ready.status).toBe(503);
      await c.close();
    } finally {
      await dyno.stop();
    }
  });
});
