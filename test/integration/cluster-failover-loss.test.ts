import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { uniquePrefix } from '../fixtures/redis.ts';
import type { DropRun } from '../fixtures/subscriber-drop.ts';
import { runSubscriberDrop } from '../fixtures/subscriber-drop.ts';
import type { RoomReport } from '../fixtures/room-traffic.ts';
import { startRoomTraffic } from '../fixtures/room-traffic.ts';
import { WebhookReceiver } from '../fixtures/webhook-receiver.ts';
import { failOver, replicaOf, untilMaster } from '../fixtures/cluster-failover.ts';

/**
 * Failovers on a Redis Cluster of three masters with one replica each, two dynos with
 * webhooks and the server API on, one cluster for the whole file.
 *
 * First, a failover that ioredis handles with a slot refresh: `CLUSTER FAILOVER` of the room's
 * master while the receiving member's dyno is frozen (SIGSTOP) for a few hundred ms, so it
 * is away when its shard moves. Signals sent meanwhile reach no subscriber on the new
 * master and are held there; every one must still be delivered (in order, once), refused,
 * or covered by `signals-lost` to both ends. Three masters with one replica each.
 */
const prefix = uniquePrefix('fo-loss');
const RUNS = 2;
const API_KEY = 'k'.repeat(24) + 'failover-api-key';
let receiver: WebhookReceiver;
let redis: RedisClusterFixture;
const dynos: Dyno[] = [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  redis = await startRedisCluster({ replicas: 1 });
  receiver = new WebhookReceiver();
  await receiver.up();
  const env = {
    REDIS_CLUSTER_NODES: redis.seeds,
    REDIS_PREFIX: prefix,
    RATE_LIMIT_PER_SEC: '2000',
    RATE_LIMIT_BURST: '2000',
    API_KEY,
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: receiver.secret,
    WEBHOOK_POLL_MS: '200',
    // Short enough that a hung master answers `unavailable` quickly; leases long enough
    // that nobody is swept while the lease set's master is away for a few seconds.
    REDIS_COMMAND_TIMEOUT_MS: '2000',
    NODE_LEASE_MS: '15000',
    // This file is about Redis failing, not the dyno's overload protection, which refuses
    // signals when the event loop lags on a loaded machine.
    MAX_LOOP_LAG_MS: '60000',
  };
  for (let i = 0; i < 2; i++) dynos.push(await startDyno({ env, timeoutMs: 40_000 }));
}, 120_000);

afterAll(async () => {
  for (const d of dynos) d.process.kill('SIGCONT');
  await Promise.all(dynos.map((d) => d.stop()));
  await receiver?.down();
  await redis?.stop();
});

describe('a failover while the receiving dyno is busy', () => {
  it(`loses nothing silently: ${RUNS} runs of CLUSTER FAILOVER with the receiver's dyno frozen around it`, async () => {
    const runs: DropRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      const room = `busy-${run}`;
      const master = await redis.masterOf(new RoomKeys(prefix, 'v1', room).members);
      const receiverDyno = dynos[1] as Dyno;
      runs.push(
        await runSubscriberDrop({
          senderUrl: (dynos[0] as Dyno).wsUrl(),
          receiverUrl: receiverDyno.wsUrl(),
          room,
          count: 300,
          perSecond: 150,
          killAfter: 100,
          kill: async () => {
            receiverDyno.process.kill('SIGSTOP');
            try {
              await failOver(redis, master);
              await sleep(300);
            } finally {
              receiverDyno.process.kill('SIGCONT');
            }
          },
        }),
      );
      await redis.waitUntilOk();
    }
    console.log(`failover with a frozen receiver: ${JSON.stringify(runs)}`);
    for (const run of runs) {
      expect(run.lostSilently, JSON.stringify(run)).toBe(0);
      expect(run.delivered + run.refused + run.lostTold, JSON.stringify(run)).toBe(run.sent);
      expect(run.outOfOrder, JSON.stringify(run)).toBe(0);
      expect(run.duplicates, JSON.stringify(run)).toBe(0);
    }
  }, 300_000);
});

/** Checks a room's webhook events tell a story we could have caused: seq order, turns, no stranger. */
function checkStory(room: string, names: readonly string[]): { events: number; problems: string[] } {
  const events = receiver.room(room);
  const problems: string[] = [];
  const state = new Map<string, 'in' | 'out'>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (i > 0 && e.data.seq <= events[i - 1]!.data.seq) problems.push(`seq ${e.data.seq} after ${events[i - 1]!.data.seq}`);
    if (e.type === 'room.started' && i !== 0) problems.push(`room.started at ${i}`);
    if (e.type === 'room.finished' && i !== events.length - 1) problems.push(`room.finished at ${i}`);
    if (e.type !== 'member.joined' && e.type !== 'member.left') continue;
    const name = e.data.name ?? '';
    if (!names.includes(name)) problems.push(`${e.type} of ${name}, who never tried to join`);
    const want = e.type === 'member.joined' ? 'out' : 'in';
    if ((state.get(name) ?? 'out') !== want) problems.push(`${e.type} ${name} out of turn`);
    state.set(name, e.type === 'member.joined' ? 'in' : 'out');
  }
  if (events[0]?.type !== 'room.started') problems.push('no room.started first');
  if (events.at(-1)?.type !== 'room.finished') problems.push('no room.finished last');
  if (problems.length > 0)
    problems.push(`story: ${events.map((e) => [e.type, e.data.name, e.data.reason].filter(Boolean).join(' ')).join(', ')}`);
  return { events: events.length, problems };
}

describe('the whole product through a manual failover and a hung master', () => {
  it('refuses nothing in rooms on the healthy master and loses nothing silently anywhere', async () => {
    const masters = (await redis.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
    const [failedOver, hung] = masters as [number, number];
    const rooms: Array<{ room: string; master: number }> = [];
    for (let i = 0; rooms.length < 6; i++) {
      const room = `scene-${i}`;
      const master = await redis.masterOf(new RoomKeys(prefix, 'v1', room).members);
      if (rooms.filter((r) => r.master === master).length < 2) rooms.push({ room, master });
    }
    const urls: [string, string] = [(dynos[0] as Dyno).wsUrl(), (dynos[1] as Dyno).wsUrl()];
    const traffic = await Promise.all(rooms.map(({ room }) => startRoomTraffic({ room, urls, perSecond: 10, joinEveryMs: 1000 })));
    await sleep(3000);
    // A manual failover of one shard: the replica takes over once it has caught up.
    await failOver(redis, failedOver);
    await sleep(3000);
    // Another shard's master hangs until its replica is promoted, then comes back as a replica.
    const replica = await replicaOf(redis, hung);
    redis.pause(hung);
    try {
      await untilMaster(redis, replica);
    } finally {
      redis.resume(hung);
    }
    await sleep(3000);
    const reports: Array<RoomReport & { master: string }> = [];
    for (const [i, t] of traffic.entries()) {
      const master = rooms[i]!.master;
      reports.push({ ...(await t.stop()), master: master === failedOver ? 'failed over' : master === hung ? 'hung' : 'healthy' });
    }
    await redis.waitUntilOk(30_000);
    // Webhooks: every room started and finished, events in seq order, none invented.
    for (
      const deadline = Date.now() + 30_000;
      Date.now() < deadline && rooms.some(({ room }) => receiver.room(room).at(-1)?.type !== 'room.finished');
    )
      await sleep(200);
    const stories = reports.map((r) => ({ room: r.room, ...checkStory(r.room, r.names) }));
    if (process.env['SCENARIO_DEBUG'])
      for (const [i, d] of dynos.entries())
        for (const l of d.output) if (/"level":(40|50)/.test(l)) console.log(`dyno${i} ${l.slice(0, 400)}`);
    for (const r of reports) {
      const { names: _names, ...shown } = r;
      console.log(`scenario ${JSON.stringify({ ...shown, webhookEvents: stories.find((s) => s.room === r.room)?.events })}`);
    }
    for (const r of reports) {
      expect(r.silentlyLost, JSON.stringify(r)).toBe(0);
      expect(r.delivered + r.refused + r.toldLost, JSON.stringify(r)).toBe(r.sent);
      // Rooms of the healthy master see nothing of it. (In a failed-over room a signal may
      // arrive twice: SPUBLISH counts the new master's subscribers only, so a signal that
      // reached this dyno through the old master, now its replica, was also held and handed
      // over; docs/scaling.md.)
      if (r.master === 'healthy') {
        const seen = { joinsRefused: r.joinsRefused, refused: r.refused, duplicates: r.duplicates, outOfOrder: r.outOfOrder };
        expect(seen, JSON.stringify(r)).toEqual({ joinsRefused: 0, refused: 0, duplicates: 0, outOfOrder: 0 });
      }
    }
    expect(stories.flatMap((s) => s.problems.map((p) => `${s.room}: ${p}`))).toEqual([]);
    expect(receiver.rejected).toEqual([]);
  }, 240_000);
});
