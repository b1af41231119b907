/**
 * What a Redis Cluster shard adds: runs the bench's rate steps against two dynos on one
 * Redis and then on a three-master cluster (sharded pub/sub), same harness, same machine,
 * and prints both tables plus each Redis process's CPU per relayed signal.
 * Usage: node bench/cluster-compare.ts [rates, default 1000,5000,10000,15000]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startDyno } from '../test/fixtures/dyno.ts';
import type { Dyno } from '../test/fixtures/dyno.ts';
import { startRedis } from '../test/fixtures/redis.ts';
import { startRedisCluster } from '../test/fixtures/redis-cluster.ts';

const rates = process.argv[2] ?? '1000,5000,10000,15000';
// info, not warn: the fixture waits for the "listening" line; signals log nothing at info anyway.
const DYNO_ENV = { LOG_LEVEL: 'info', RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };

function redisPids(): number[] {
  const out = spawnSync('pgrep', ['-f', 'redis-server'], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter(Boolean).map(Number);
}

function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function run(label: string, env: Record<string, string>): Promise<void> {
  const dynos: Dyno[] = [await startDyno({ env: { ...DYNO_ENV, ...env } }), await startDyno({ env: { ...DYNO_ENV, ...env } })];
  const pids = redisPids();
  const before = pids.map(cpuSeconds);
  console.log(`\n== ${label}`);
  const bench = spawnSync(
    process.execPath,
    [
      'bench/run.ts',
      '--targets',
      'signaling',
      '--phases',
      'rates',
      '--no-profile',
      '--rates',
      rates,
      '--dyno-urls',
      dynos.map((d) => d.wsUrl()).join(','),
    ],
    {
      encoding: 'utf8',
      env: { ...process.env, BENCH_REDIS_URL: env['REDIS_URL'] ?? `redis://${(env['REDIS_CLUSTER_NODES'] ?? '').split(',')[0]}` },
    },
  );
  console.log(
    bench.stdout
      .split('\n')
      .filter((l) => l.startsWith('|'))
      .join('\n'),
  );
  const cpu = pids.map((pid, i) => cpuSeconds(pid) - (before[i] ?? 0));
  console.log(`redis CPU seconds during the steps, per process: ${cpu.map((c) => c.toFixed(2)).join(' / ')}`);
  await Promise.all(dynos.map((d) => d.stop()));
}

const single = await startRedis();
await run('one Redis', { REDIS_URL: single.url });
await single.stop();
const cluster = await startRedisCluster({ masters: 3 });
await run('three-master Redis Cluster (SPUBLISH/SSUBSCRIBE)', { REDIS_CLUSTER_NODES: cluster.seeds });
await cluster.stop();
process.exit(0);
