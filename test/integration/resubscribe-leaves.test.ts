import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { uniquePrefix } from '../fixtures/redis.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * After a dropped subscriber the dyno re-subscribes what it holds, in chunks. Members that
 * leave while that runs must stay unsubscribed: afterwards the sharded channels the dyno
 * subscribes (PUBSUB SHARDCHANNELS on every master, this dyno being the only subscriber)
 * are exactly the member and room channels of the members it still holds. One dyno holds
 * over 500 channels; the first ones are on two masters, the last ones (rooms on the third
 * master, whose second members leave) come after them. Every master's subscriber is
 * killed, and one of the first two masters hangs (SIGSTOP) for a moment, so the
 * re-subscription is still busy with it while the leaves run on the third.
 */
const prefix = uniquePrefix('resub-leave');
const FILLER_ROOMS = 110;
const FILLER_SIZE = 4;
const LEAVING_ROOMS = 20;
let redis: RedisClusterFixture;
let dyno: Dyno;
const open: TestClient[] = [];

const keys = (room: string): RoomKeys => new RoomKeys(prefix, 'v1', room);

/** The next frame of `kind`, skipping others (peer-joined, signals-lost after the drop). */
async function nextOf(client: TestClient, kind: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = await client.next(Math.max(1, deadline - Date.now()));
    if (frame.type === kind) return frame;
  }
}

async function roomsWhere(count: number, label: string, where: (master: number) => boolean): Promise<string[]> {
  const rooms: string[] = [];
  for (let i = 0; rooms.length < count; i++) {
    const room = `${label}-${i}`;
    if (where(await redis.masterOf(keys(room).members))) rooms.push(room);
  }
  return rooms;
}

async function joinAll(members: Array<[string, string]>): Promise<Map<string, TestClient>> {
  const clients = new Map<string, TestClient>();
  for (let i = 0; i < members.length; i += 40) {
    await Promise.all(
      members.slice(i, i + 40).map(async ([room, name]) => {
        const client = await TestClient.connect(dyno.wsUrl());
        open.push(client);
        expect(await client.join(room, name)).toMatchObject({ type: 'joined' });
        clients.set(`${room}/${name}`, client);
      }),
    );
  }
  return clients;
}

/** Every sharded channel under our prefix that has a subscriber, over all masters. */
async function subscribedChannels(): Promise<Set<string>> {
  const masters = (await redis.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
  const lists = await Promise.all(masters.map((port) => redis.cli(port, 'PUBSUB', 'SHARDCHANNELS', `${prefix}*`)));
  return new Set(lists.flatMap((list) => list.split('\n').filter(Boolean)));
}

async function untilLogged(text: string, since: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = (): boolean => dyno.output.some((line) => line.includes(text) && (JSON.parse(line) as { time: number }).time >= since);
  while (!seen()) {
    if (Date.now() > deadline) throw new Error(`the dyno did not log "${text}" within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  redis = await startRedisCluster({ masters: 3 });
  dyno = await startDyno({ env: { REDIS_CLUSTER_NODES: redis.seeds, REDIS_PREFIX: prefix }, timeoutMs: 40_000 });
}, 120_000);

afterAll(async () => {
  for (const c of open) c.ws.terminate();
  await dyno?.stop();
  await redis?.stop();
});

describe('re-subscription after a dropped subscriber on a Redis Cluster', () => {
  it('subscribes exactly the channels of the members the dyno still holds when members leave meanwhile', async () => {
    const masters = (await redis.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
    const [leavingMaster, hungMaster] = masters as [number, number];
    const filler = await roomsWhere(FILLER_ROOMS, 'filler', (m) => m !== leavingMaster);
    expect(await Promise.all(filler.map((room) => redis.masterOf(keys(room).members)))).toContain(hungMaster);
    const leaving = await roomsWhere(LEAVING_ROOMS, 'leaving', (m) => m === leavingMaster);
    await joinAll(filler.flatMap((room) => Array.from({ length: FILLER_SIZE }, (_, i): [string, string] => [room, `f${i}`])));
    // Joined last, so their channels come after the first 500 in the dyno's list.
    const stayers = await joinAll(leaving.map((room): [string, string] => [room, 'stays']));
    const leavers = await joinAll(leaving.map((room): [string, string] => [room, 'leaves']));
    const expected = new Set<string>();
    for (const room of filler) {
      expected.add(keys(room).events);
      for (let i = 0; i < FILLER_SIZE; i++) expected.add(keys(room).memberChannel(`f${i}`));
    }
    for (const room of leaving) expected.add(keys(room).events).add(keys(room).memberChannel('stays'));
    expect(expected.size).toBeGreaterThan(500);

    const killed = Date.now();
    await Promise.all(masters.map((port) => redis.cli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')));
    redis.pause(hungMaster);
    try {
      // The subscribers are back on the healthy masters; the re-subscription waits for the hung one.
      // ioredis replays its own channel list on the new subscribers, then the dyno's recovery
      // starts in the same tick: once a channel is back on the healthy master, it is running.
      const probe = keys(leaving[0] as string).memberChannel('stays');
      for (const deadline = Date.now() + 8000; Date.now() < deadline;) {
        if ((await redis.cli(leavingMaster, 'PUBSUB', 'SHARDNUMSUB', probe)).split('\n')[1] === '1') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      // Their SUNSUBSCRIBEs go to the healthy master at once; the hang ends well within
      // the command timeout, so the re-subscription is delayed, not failed.
      for (const room of leaving) leavers.get(`${room}/leaves`)?.send({ type: 'leave' });
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      redis.resume(hungMaster);
    }
    await untilLogged('bus subscriptions restored', killed, 30_000);
    const left = (): number =>
      dyno.output.filter((l) => l.includes('"msg":"left"') && (JSON.parse(l) as { time: number }).time >= killed).length;
    for (const deadline = Date.now() + 10_000; left() < LEAVING_ROOMS && Date.now() < deadline;)
      await new Promise((r) => setTimeout(r, 50));
    expect(left()).toBe(LEAVING_ROOMS);
    for (const room of leaving)
      expect(await nextOf(stayers.get(`${room}/stays`) as TestClient, 'peer-left')).toEqual({ type: 'peer-left', name: 'leaves' });
    await new Promise((r) => setTimeout(r, 500));

    const subscribed = await subscribedChannels();
    // The dyno's own control channel is not a member's.
    const extra = [...subscribed].filter((c) => !expected.has(c) && !c.startsWith(`${prefix}node:`));
    const missing = [...expected].filter((c) => !subscribed.has(c));
    console.log(
      `after the re-subscription: ${subscribed.size} channels subscribed, ${expected.size} expected, ${extra.length} extra, ${missing.length} missing`,
    );
    expect({ extra, missing }).toEqual({ extra: [], missing: [] });
    // A signal to a member that left is refused, not counted as delivered to nobody.
    const stays = stayers.get(`${leaving[0]}/stays`) as TestClient;
    stays.send({ type: 'signal', to: 'leaves', data: {}, id: 'after' });
    expect(await nextOf(stays, 'error')).toMatchObject({ code: 'peer-not-found', id: 'after' });
  }, 240_000);
});
