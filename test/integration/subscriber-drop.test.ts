import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { ControllableRedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { redisCli } from '../fixtures/redis-cli.ts';
import type { DropRun } from '../fixtures/subscriber-drop.ts';
import { runSubscriberDrop } from '../fixtures/subscriber-drop.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * Redis drops a dyno's subscriber connection (here `CLIENT KILL TYPE pubsub`, as it does
 * itself to a subscriber over its output-buffer limit) in the middle of 600 signals at
 * ~300/s from a member on one dyno to a member on the other. Nothing may vanish silently:
 * every signal is delivered once and in order, or refused to its sender; one in flight at
 * the drop may be neither only when both ends got `signals-lost`. Ten runs on one Redis,
 * and RUNS_CLUSTER on a three-master cluster killing one shard's subscriber
 * (bench/subscriber-drop.ts runs ten of those and prints the numbers).
 */
const RUNS = 10;
const RUNS_CLUSTER = 4;
const env = { RATE_LIMIT_PER_SEC: '2000', RATE_LIMIT_BURST: '2000' };

function expectNothingSilentlyLost(runs: DropRun[]): void {
  for (const run of runs) {
    expect(run.delivered + run.refused + run.lostTold, JSON.stringify(run)).toBe(run.sent);
    expect(run.lostSilently, JSON.stringify(run)).toBe(0);
    expect(run.outOfOrder, JSON.stringify(run)).toBe(0);
    expect(run.duplicates, JSON.stringify(run)).toBe(0);
  }
  // The drop happened at all: some signals were sent while the subscriber was away and
  // still arrived (held, then handed over), which was the silent loss before.
  expect(runs.some((run) => run.delivered > 0)).toBe(true);
}

describe('a dropped subscriber connection on one Redis', () => {
  let redis: ControllableRedisFixture;
  const dynos: Dyno[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    const prefix = uniquePrefix('sub-drop');
    for (let i = 0; i < 2; i++) dynos.push(await startDyno({ env: { ...env, REDIS_URL: redis.url, REDIS_PREFIX: prefix } }));
  });

  afterAll(async () => {
    await Promise.all(dynos.map((d) => d.stop()));
    await redis?.stop();
  });

  it(`loses nothing silently and keeps order, ${RUNS} runs of 600 signals with CLIENT KILL TYPE pubsub after the 150th`, async () => {
    const port = Number(new URL(redis.url).port);
    const runs: DropRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      runs.push(
        await runSubscriberDrop({
          senderUrl: dynos[0]!.wsUrl(),
          receiverUrl: dynos[1]!.wsUrl(),
          room: `drop-${run}`,
          kill: async () => void (await redisCli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')),
        }),
      );
    }
    console.log(
      `single Redis: ${JSON.stringify(runs.map(({ delivered, refused, lostTold, recoveryMs }) => ({ delivered, refused, lostTold, recoveryMs })))}`,
    );
    expectNothingSilentlyLost(runs);
  }, 240_000);
});

describe('subscriptions after a dropped subscriber connection', () => {
  let redis: ControllableRedisFixture;
  const prefix = uniquePrefix('sub-own');
  const dynos: Dyno[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis({ controllable: true });
    for (let i = 0; i < 2; i++) dynos.push(await startDyno({ env: { ...env, REDIS_URL: redis.url, REDIS_PREFIX: prefix } }));
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all(dynos.map((d) => d.stop()));
    await redis?.stop();
  });

  it('keeps no subscription of a member that left while the subscriber was away (issue 18, item 3)', async () => {
    const port = Number(new URL(redis.url).port);
    const alice = await TestClient.connect(dynos[0]!.wsUrl());
    const bob = await TestClient.connect(dynos[1]!.wsUrl());
    clients.push(alice, bob);
    expect((await alice.join('own', 'alice')).type).toBe('joined');
    expect((await bob.join('own', 'alice-peer')).type).toBe('joined');
    await alice.expect('peer-joined');
    await redisCli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub');
    // The UNSUBSCRIBE of this leave fails at once: the subscriber is reconnecting.
    alice.send({ type: 'leave' });
    expect(await bob.expect('peer-left', 5000)).toEqual({ type: 'peer-left', name: 'alice' });
    const channel = new RoomKeys(prefix, 'v1', 'own').memberChannel('alice');
    const deadline = Date.now() + 5000;
    // Wait for both dynos to be subscribed again (their own member channel is back).
    const bobChannel = new RoomKeys(prefix, 'v1', 'own').memberChannel('alice-peer');
    while (Date.now() < deadline && (await redisCli(port, 'PUBSUB', 'NUMSUB', bobChannel)).split('\n')[1] !== '1') {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await redisCli(port, 'PUBSUB', 'NUMSUB', channel)).split('\n')[1]).toBe('0');
    bob.send({ type: 'signal', to: 'alice', data: { late: true }, id: 'late' });
    expect(await bob.expectError('peer-not-found')).toMatchObject({ id: 'late' });
  });
});

describe('a dropped shard subscriber on a three-master Redis Cluster', () => {
  let cluster: RedisClusterFixture;
  const prefix = uniquePrefix('sub-drop-c');
  const dynos: Dyno[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    for (let i = 0; i < 2; i++) dynos.push(await startDyno({ env: { ...env, REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: prefix } }));
  });

  afterAll(async () => {
    await Promise.all(dynos.map((d) => d.stop()));
    await cluster?.stop();
  });

  it(`loses nothing silently and keeps order, ${RUNS_CLUSTER} runs killing the room's shard subscriber after the 150th signal`, async () => {
    const runs: DropRun[] = [];
    for (let run = 0; run < RUNS_CLUSTER; run++) {
      const room = `drop-${run}`;
      const master = await cluster.masterOf(new RoomKeys(prefix, 'v1', room).members);
      runs.push(
        await runSubscriberDrop({
          senderUrl: dynos[0]!.wsUrl(),
          receiverUrl: dynos[1]!.wsUrl(),
          room,
          kill: async () => void (await cluster.cli(master, 'CLIENT', 'KILL', 'TYPE', 'pubsub')),
        }),
      );
    }
    console.log(
      `cluster: ${JSON.stringify(runs.map(({ delivered, refused, lostTold, recoveryMs }) => ({ delivered, refused, lostTold, recoveryMs })))}`,
    );
    expectNothingSilentlyLost(runs);
  }, 240_000);
});
