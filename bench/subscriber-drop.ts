/**
 * `node bench/subscriber-drop.ts [--runs 10]`: the subscriber-drop scenario of issue 17,
 * `--runs` times on one Redis (CLIENT KILL TYPE pubsub) and on a three-master Redis Cluster
 * (killing the room's shard subscriber): two dynos, one member on each, 600 signals at
 * ~300/s, the kill after the 150th. Prints delivered / refused / lost-and-told / lost
 * silently / out of order per run and the recovery latency (kill to the first signal sent
 * after it arriving). npm test runs the same scenario (test/integration/subscriber-drop.test.ts).
 */
import { parseArgs } from 'node:util';
import { RoomKeys } from '../src/cluster/keys.ts';
import { startDyno } from '../test/fixtures/dyno.ts';
import type { Dyno } from '../test/fixtures/dyno.ts';
import { startRedis, uniquePrefix } from '../test/fixtures/redis.ts';
import { redisCli } from '../test/fixtures/redis-cli.ts';
import { startRedisCluster } from '../test/fixtures/redis-cluster.ts';
import type { DropRun } from '../test/fixtures/subscriber-drop.ts';
import { runSubscriberDrop } from '../test/fixtures/subscriber-drop.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' } } });
const runs = Number(values.runs);
const env = { RATE_LIMIT_PER_SEC: '2000', RATE_LIMIT_BURST: '2000', LOG_LEVEL: 'info' };
const say = (line: string): void => void process.stdout.write(`${line}\n`);

function row(target: string, i: number, r: DropRun): string {
  return `| ${target} | ${i + 1} | ${r.sent} | ${r.delivered} | ${r.refused} | ${r.lostTold} | ${r.lostSilently} | ${r.outOfOrder} | ${r.duplicates} | ${r.recoveryMs ?? 'n/a'} | ${r.handoverMs ?? 'n/a'} |`;
}

async function twoDynos(extra: Record<string, string>): Promise<Dyno[]> {
  return [await startDyno({ env: { ...env, ...extra } }), await startDyno({ env: { ...env, ...extra } })];
}

async function main(): Promise<void> {
  say('| backend | run | sent | delivered | refused | lost, both ends told | lost silently | out of order | duplicates | recovery ms | hand-over done ms |');
  say('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  const redis = await startRedis({ controllable: true });
  const single = await twoDynos({ REDIS_URL: redis.url, REDIS_PREFIX: uniquePrefix('bench-drop') });
  try {
    const port = Number(new URL(redis.url).port);
    for (let i = 0; i < runs; i++) {
      const r = await runSubscriberDrop({
        senderUrl: single[0]!.wsUrl(),
        receiverUrl: single[1]!.wsUrl(),
        room: `drop-${i}`,
        kill: async () => void (await redisCli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')),
      });
      say(row('one Redis', i, r));
    }
  } finally {
    await Promise.all(single.map((d) => d.stop()));
    await redis.stop();
  }
  const cluster = await startRedisCluster({ masters: 3 });
  const prefix = uniquePrefix('bench-drop-c');
  const sharded = await twoDynos({ REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: prefix });
  try {
    for (let i = 0; i < runs; i++) {
      const room = `drop-${i}`;
      const master = await cluster.masterOf(new RoomKeys(prefix, 'v1', room).members);
      const r = await runSubscriberDrop({
        senderUrl: sharded[0]!.wsUrl(),
        receiverUrl: sharded[1]!.wsUrl(),
        room,
        kill: async () => void (await cluster.cli(master, 'CLIENT', 'KILL', 'TYPE', 'pubsub')),
      });
      say(row('3-master cluster', i, r));
    }
  } finally {
    await Promise.all(sharded.map((d) => d.stop()));
    await cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
