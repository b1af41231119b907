/**
 * `node bench/subscriber-drop.ts [--runs 10] [--only failover]`: the subscriber-drop
 * scenario, `--runs` times on one Redis (CLIENT KILL TYPE pubsub) and on a three-master
 * Redis Cluster (killing the room's shard subscriber): two dynos, one member on each, 600
 * signals at ~300/s, the kill after the 150th. Then the failover case on three masters with
 * one replica each: CLUSTER FAILOVER of the room's master after the 150th signal, once with
 * both dynos idle and once with the receiver's dyno frozen (SIGSTOP) until 300 ms after the
 * replica took over. Prints delivered / refused / lost-and-told / lost silently / out of
 * order per run and the recovery latency (kill to the first signal sent after it arriving).
 * npm test runs the same scenarios (test/integration/subscriber-drop.test.ts,
 * cluster-failover-loss.test.ts).
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
import { failOver } from '../test/fixtures/cluster-failover.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, only: { type: 'string' } } });
const runs = Number(values.runs);
const env = { RATE_LIMIT_PER_SEC: '2000', RATE_LIMIT_BURST: '2000', LOG_LEVEL: 'info' };
const say = (line: string): void => void process.stdout.write(`${line}\n`);

function row(target: string, i: number, r: DropRun): string {
  return `| ${target} | ${i + 1} | ${r.sent} | ${r.delivered} | ${r.refused} | ${r.lostTold} | ${r.lostSilently} | ${r.outOfOrder} | ${r.duplicates} | ${r.recoveryMs ?? 'n/a'} | ${r.handoverMs ?? 'n/a'} |`;
}

async function twoDynos(extra: Record<string, string>): Promise<Dyno[]> {
  return [await startDyno({ env: { ...env, ...extra } }), await startDyno({ env: { ...env, ...extra } })];
}

async function failovers(): Promise<void> {
  const cluster = await startRedisCluster({ replicas: 1 });
  const prefix = uniquePrefix('bench-failover');
  const dynos = await twoDynos({ REDIS_CLUSTER_NODES: cluster.seeds, REDIS_PREFIX: prefix });
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  try {
    for (const frozen of [false, true]) {
      for (let i = 0; i < runs; i++) {
        const room = `failover-${frozen ? 'frozen' : 'idle'}-${i}`;
        const master = await cluster.masterOf(new RoomKeys(prefix, 'v1', room).members);
        const receiver = dynos[1]!;
        const r = await runSubscriberDrop({
          senderUrl: dynos[0]!.wsUrl(),
          receiverUrl: receiver.wsUrl(),
          room,
          kill: async () => {
            if (frozen) receiver.process.kill('SIGSTOP');
            try {
              await failOver(cluster, master);
              if (frozen) await sleep(300);
            } finally {
              if (frozen) receiver.process.kill('SIGCONT');
            }
          },
        });
        say(row(`cluster failover, ${frozen ? 'receiver frozen' : 'dynos idle'}`, i, r));
        await cluster.waitUntilOk();
      }
    }
  } finally {
    for (const d of dynos) d.process.kill('SIGCONT');
    await Promise.all(dynos.map((d) => d.stop()));
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  say(
    '| backend | run | sent | delivered | refused | lost, both ends told | lost silently | out of order | duplicates | recovery ms | hand-over done ms |',
  );
  say('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  if (values.only === 'failover') return failovers();
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
  await failovers();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
