import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomKeys } from '../../src/cluster/keys.ts';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { uniquePrefix } from '../fixtures/redis.ts';
import type { DropRun } from '../fixtures/subscriber-drop.ts';
import { runSubscriberDrop } from '../fixtures/subscriber-drop.ts';

/**
 * A failover that ioredis handles with a slot refresh: `CLUSTER FAILOVER` of the room's
 * master while the receiving member's dyno is frozen (SIGSTOP) for a few hundred ms, so it
 * is away when its shard moves. Signals sent meanwhile reach no subscriber on the new
 * master and are held there; every one must still be delivered (in order, once), refused,
 * or covered by `signals-lost` to both ends. Three masters with one replica each.
 */
const prefix = uniquePrefix('fo-loss');
const RUNS = 2;
const env = { RATE_LIMIT_PER_SEC: '2000', RATE_LIMIT_BURST: '2000' };
let redis: RedisClusterFixture;
const dynos: Dyno[] = [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Promotes the replica of `master` with CLUSTER FAILOVER; resolves once it says it is a master. */
async function failOver(master: number): Promise<number> {
  const nodes = await redis.nodes();
  const id = nodes.find((n) => n.port === master)?.id;
  const replica = nodes.find((n) => n.role === 'replica' && n.masterId === id && !n.failing)?.port;
  if (replica === undefined) throw new Error(`master ${master} has no replica to fail over to`);
  await redis.cli(replica, 'CLUSTER', 'FAILOVER');
  for (const deadline = Date.now() + 20_000; !(await redis.cli(replica, 'ROLE')).startsWith('master');) {
    if (Date.now() > deadline) throw new Error(`replica ${replica} did not take over within 20 s`);
    await sleep(20);
  }
  return replica;
}

beforeAll(async () => {
  redis = await startRedisCluster({ replicas: 1 });
  for (let i = 0; i < 2; i++)
    dynos.push(await startDyno({ env: { ...env, REDIS_CLUSTER_NODES: redis.seeds, REDIS_PREFIX: prefix }, timeoutMs: 40_000 }));
}, 120_000);

afterAll(async () => {
  for (const d of dynos) d.process.kill('SIGCONT');
  await Promise.all(dynos.map((d) => d.stop()));
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
              await failOver(master);
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
