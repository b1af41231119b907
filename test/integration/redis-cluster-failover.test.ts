import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Cluster } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { uniquePrefix } from '../fixtures/redis.ts';
import type { Frame } from '../fixtures/test-client.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * The "Redis trouble" behaviour of resilience.test.ts, on a three-master Redis Cluster with
 * one replica each and two dynos: one shard loses its master while the other shards keep
 * serving. Open sockets stay open, the dead shard's rooms get `unavailable`, and within 5 s
 * after a new master serves the slot, signaling in those rooms works again and newcomers see
 * the right peers. The second case loses the whole shard (master and replica restart empty),
 * so the rooms only come back through the dynos' re-registration.
 */
const prefix = uniquePrefix('cluster-fo');
let redis: RedisClusterFixture;
let dynos: Cluster;
const open: TestClient[] = [];

async function member(dyno: number, room: string, name: string): Promise<TestClient> {
  const client = await TestClient.connect(dynos.dyno(dyno).wsUrl());
  open.push(client);
  expect(await client.join(room, name)).toMatchObject({ type: 'joined' });
  return client;
}

/** A fresh room whose slot is served by `master` (or, with `not`, by any other master). */
async function roomOn(master: number, label: string, not = false): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const room = `${label}-${i}`;
    const owner = await redis.masterOf(new RoomKeys(prefix, 'v1', room).members);
    if ((owner === master) !== not) return room;
  }
  throw new Error(`no room name maps to ${not ? 'a master other than' : 'master'} ${master}`);
}

/**
 * Sends signals from `from` to `to` until one arrives. Each one is either answered with an
 * error (the shard is still away: try again) or delivered; frames of any other kind are
 * collected in `unexpected`. Both sockets are polled in short turns so that neither waits.
 */
async function untilSignalingWorks(from: TestClient, to: TestClient, toName: string, unexpected: Frame[]): Promise<void> {
  const started = Date.now();
  for (let attempt = 0; Date.now() - started < 10_000; attempt++) {
    from.send({ type: 'signal', to: toName, data: { attempt }, id: `try-${attempt}` });
    for (const sent = Date.now(); Date.now() - sent < 3000;) {
      const got = await to.next(20).catch(() => null);
      if (got?.type === 'signal' && (got['data'] as { attempt?: number }).attempt === attempt) return;
      if (got && got.type !== 'signal') unexpected.push(got);
      const reply = await from.next(20).catch(() => null);
      if (reply?.type === 'error') break;
      if (reply) unexpected.push(reply);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('signaling did not come back within 10 s');
}

/**
 * The shard's subscriber connections dropped, so both ends of the pair are told that signals
 * in flight may be lost (`signals-lost`, docs/protocol.md): one notice each from its own
 * dyno's recovery and one from the peer's, per recovery, and one recovery per dyno, or two if
 * the shard is reported lost again after it was re-subscribed. Not one per reconnect attempt
 * of the client library during the failover (that flooded the members with 247 notices).
 * Anything else (peer-left above all) is a failure.
 */
function expectOnlyLossNotices(frames: Frame[]): void {
  const notices = frames.filter((f) => f.type === 'signals-lost');
  console.log(`signals-lost notices after the failover: ${notices.length}`);
  expect(notices.length).toBeLessThanOrEqual(8);
  expect(frames.filter((f) => f.type !== 'signals-lost')).toEqual([]);
}

/** Resolves once every dyno has logged putting its members back after `since`. */
async function untilReregistered(since: number): Promise<void> {
  const done = (line: string): boolean => {
    if (!line.includes('local members re-registered')) return false;
    return (JSON.parse(line) as { time: number }).time >= since;
  };
  const deadline = Date.now() + 10_000;
  while (!dynos.dynos.every((d) => d.output.some(done))) {
    if (Date.now() > deadline) throw new Error('the dynos did not re-register their members within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once a master other than `old` serves `key`'s slot. */
async function untilPromoted(key: string, old: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await redis.masterOf(key).catch(() => old)) === old) {
    if (Date.now() > deadline) throw new Error(`no replica took over from ${old} within 20 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Stays down until told: a replica with automatic failover off cannot take over yet. */
async function holdFailover(masterPort: number, hold: boolean): Promise<number[]> {
  const nodes = await redis.nodes();
  const master = nodes.find((n) => n.port === masterPort);
  const replicas = nodes.filter((n) => n.role === 'replica' && n.masterId === master?.id).map((n) => n.port);
  await Promise.all(replicas.map((port) => redis.cli(port, 'CONFIG', 'SET', 'cluster-replica-no-failover', hold ? 'yes' : 'no')));
  return replicas;
}

async function expectUnavailable(bob: TestClient, roomName: string, newcomerDyno: number): Promise<void> {
  // Each answer may take a command timeout (REDIS_COMMAND_TIMEOUT_MS, 5 s) or two: a join
  // subscribes, then writes. 20 s leaves room for a loaded CI box; the point is the answer.
  bob.send({ type: 'signal', to: 'alice', data: { down: true }, id: 'down' });
  expect(await bob.expect('error', 20_000)).toMatchObject({ code: 'unavailable', id: 'down' });
  const newcomer = await TestClient.connect(dynos.dyno(newcomerDyno).wsUrl());
  open.push(newcomer);
  newcomer.send({ type: 'join', room: roomName, name: 'early' });
  expect(await newcomer.next(20_000)).toMatchObject({ type: 'error', code: 'unavailable' });
}

/** Rooms on other shards are untouched by the outage. */
async function expectBystandersServed(x: TestClient, y: TestClient): Promise<void> {
  x.send({ type: 'signal', to: 'y', data: { still: 'here' } });
  expect(await y.expect('signal', 5000)).toMatchObject({ from: 'x', data: { still: 'here' } });
}

beforeAll(async () => {
  redis = await startRedisCluster({ replicas: 1 });
  dynos = await startCluster('redis-cluster', {
    redisClusterNodes: redis.seeds,
    env: { REDIS_PREFIX: prefix, NODE_LEASE_MS: '5000', RESUME_GRACE_MS: '1500' },
  });
});

afterAll(async () => {
  for (const c of open) c.ws.terminate();
  await dynos?.stop();
  await redis?.stop();
});

describe('Redis Cluster: a shard loses its master', () => {
  it('answers unavailable for that shard only, then signals flow again within 5 s of the replica taking over', async () => {
    const firstMaster = await redis.masterOf(new RoomKeys(prefix, 'v1', 'probe').members);
    const room = await roomOn(firstMaster, 'failover');
    const other = await roomOn(firstMaster, 'bystanders', true);
    const alice = await member(0, room, 'alice');
    const bob = await member(1, room, 'bob');
    expect(await alice.expect('peer-joined')).toEqual({ type: 'peer-joined', name: 'bob' });
    const x = await member(0, other, 'x');
    const y = await member(1, other, 'y');
    await x.expect('peer-joined');

    await holdFailover(firstMaster, true);
    await redis.kill(firstMaster);
    await expectUnavailable(bob, room, 0);
    await expectBystandersServed(x, y);

    // Let the replica take over; the clock starts once a new master serves the slot.
    await holdFailover(firstMaster, false);
    await untilPromoted(new RoomKeys(prefix, 'v1', room).members, firstMaster);
    const promoted = Date.now();
    const unexpected: Frame[] = [];
    await untilSignalingWorks(bob, alice, 'alice', unexpected);
    await untilSignalingWorks(alice, bob, 'bob', unexpected);
    expect(Date.now() - promoted).toBeLessThan(5000);
    const carol = await TestClient.connect(dynos.dyno(0).wsUrl());
    open.push(carol);
    expect(await carol.join(room, 'carol')).toMatchObject({ type: 'joined', peers: ['alice', 'bob'] });
    // Nobody was told anyone left: the replica had the room, or the dynos put it back.
    expectOnlyLossNotices(unexpected);
    for (const c of [alice, bob, x, y]) expect(c.ws.readyState).toBe(WebSocket.OPEN);
    // The old master comes back as a replica of the new one, for the next case.
    await redis.restart(firstMaster);
    await redis.waitUntilOk();
  }, 60_000);

  it('puts rooms back through re-registration when the whole shard restarts empty', async () => {
    const master = await redis.masterOf(new RoomKeys(prefix, 'v1', 'probe-2').members);
    const room = await roomOn(master, 'wiped');
    const other = await roomOn(master, 'calm', true);
    const alice = await member(0, room, 'alice');
    const bob = await member(1, room, 'bob');
    await alice.expect('peer-joined');
    const x = await member(1, other, 'x');
    const y = await member(0, other, 'y');
    await x.expect('peer-joined');

    const replicas = await holdFailover(master, true);
    await Promise.all([master, ...replicas].map((port) => redis.kill(port)));
    await expectUnavailable(bob, room, 1);
    await expectBystandersServed(x, y);

    // No persistence: master and replica come back with their cluster identity and no data.
    // The clock starts once the cluster has taken the master back.
    const restarting = Date.now();
    for (const port of [master, ...replicas]) await redis.restart(port);
    await redis.waitUntilOk();
    const restarted = Date.now();
    const unexpected: Frame[] = [];
    await untilSignalingWorks(bob, alice, 'alice', unexpected);
    await untilSignalingWorks(alice, bob, 'bob', unexpected);
    // The shard came back empty: only the dynos' re-registration puts alice and bob back.
    await untilReregistered(restarting);
    expect(Date.now() - restarted).toBeLessThan(5000);
    const carol = await TestClient.connect(dynos.dyno(0).wsUrl());
    open.push(carol);
    expect(await carol.join(room, 'carol')).toMatchObject({ type: 'joined', peers: ['alice', 'bob'] });
    expectOnlyLossNotices(unexpected);
    for (const c of [alice, bob, x, y]) expect(c.ws.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${dynos.dyno(0).httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${dynos.dyno(1).httpUrl}/readyz`)).status).toBe(200);
  }, 60_000);
});
