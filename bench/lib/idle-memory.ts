import type { BenchCluster } from './cluster.ts';
import { Inspector } from './inspector.ts';
import type { LoadgenPool } from './loadgen-pool.ts';
import { sampleProcess } from './proc-stats.ts';
import { openPairs } from './rate-steps.ts';

export interface NodeMemory {
  role: string;
  connections: number;
  rssBefore: number;
  rssAfter: number;
  heapUsedBefore: number;
  heapUsedAfter: number;
  rssPerConnection: number;
  heapPerConnection: number;
}

export interface IdleMemoryResult {
  connections: number;
  /** RSS growth per idle joined connection, averaged over the two nodes (bytes). */
  rssPerConnection: number;
  heapPerConnection: number;
  /** Redis's RSS growth per connection (membership hash, channels), for the record. */
  redisRssPerConnection: number | null;
  nodes: NodeMemory[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * RSS per idle joined connection: each node's RSS after a forced full GC, before and after
 * `connections` members (connections / 2 pairs, one end on each node) join and sit idle.
 * The GC is forced through the inspector, so the server needs no bench-only hook; RSS is the
 * median of several samples after a settle period, because RSS moves as V8 returns pages.
 */
export async function measureIdleMemory(pool: LoadgenPool, cluster: BenchCluster, connections: number): Promise<IdleMemoryResult> {
  const inspectors = await Promise.all(cluster.nodes.map((n) => Inspector.connect(n.inspectorUrl as string)));
  const settle = (): Promise<SettledMemory[]> =>
    settledMemory(
      inspectors,
      cluster.nodes.map((n) => n.pid as number),
    );
  const redisBefore = cluster.redis.pid ? (sampleProcess(cluster.redis.pid)?.rssBytes ?? null) : null;
  const before = await settle();
  await openPairs(pool, cluster, Math.floor(connections / 2), `idle-${Date.now().toString(36)}-`);
  const after = await settle();
  const redisAfter = cluster.redis.pid ? (sampleProcess(cluster.redis.pid)?.rssBytes ?? null) : null;
  for (const inspector of inspectors) inspector.close();
  const perNode = Math.floor(connections / 2);
  const nodes: NodeMemory[] = cluster.nodes.map((n, i) => {
    const b = before[i] as { rss: number; heapUsed: number };
    const a = after[i] as { rss: number; heapUsed: number };
    return {
      role: n.role,
      connections: perNode,
      rssBefore: b.rss,
      rssAfter: a.rss,
      heapUsedBefore: b.heapUsed,
      heapUsedAfter: a.heapUsed,
      rssPerConnection: Math.round((a.rss - b.rss) / perNode),
      heapPerConnection: Math.round((a.heapUsed - b.heapUsed) / perNode),
    };
  });
  return {
    connections: perNode * 2,
    rssPerConnection: Math.round(nodes.reduce((n, m) => n + m.rssPerConnection, 0) / nodes.length),
    heapPerConnection: Math.round(nodes.reduce((n, m) => n + m.heapPerConnection, 0) / nodes.length),
    redisRssPerConnection: redisBefore !== null && redisAfter !== null ? Math.round((redisAfter - redisBefore) / (perNode * 2)) : null,
    nodes,
  };
}

export interface SettledMemory {
  rss: number;
  heapUsed: number;
}

/**
 * Each process's memory once the heap has settled: 2 s of quiet, a full GC forced through
 * the inspector, then the median of 5 RSS samples 200 ms apart (RSS moves as V8 returns pages).
 */
export async function settledMemory(inspectors: readonly Inspector[], pids: readonly number[], quietMs = 2000): Promise<SettledMemory[]> {
  await sleep(quietMs);
  const out: SettledMemory[] = [];
  for (const [i, inspector] of inspectors.entries()) {
    await inspector.collectGarbage();
    const rss: number[] = [];
    for (let s = 0; s < 5; s++) {
      await sleep(200);
      rss.push(sampleProcess(pids[i] as number)?.rssBytes ?? 0);
    }
    out.push({ rss: median(rss), heapUsed: (await inspector.memoryUsage()).heapUsed });
  }
  return out;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}
