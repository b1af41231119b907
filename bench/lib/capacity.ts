import type { BenchCluster } from './cluster.ts';
import { settledMemory } from './idle-memory.ts';
import { Inspector } from './inspector.ts';
import type { LoadgenPool } from './loadgen-pool.ts';
import { split } from './loadgen-pool.ts';
import { sampleProcess } from './proc-stats.ts';
import type { WorkerCommand } from './worker-protocol.ts';

/** One dyno's memory and idle CPU with `members` joined and heartbeats running. */
export interface CapacityStep {
  members: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** (RSS - RSS with no member) / members, after the heap settled. */
  rssPerMember: number;
  heapPerMember: number;
  /** CPU seconds per second over the window: heartbeats, lease renewals, metrics sampling. */
  cores: number;
  /** Of that, above the no-member level, per heartbeat round (one ping to every socket). */
  cpuMsPerRound: number;
  /** The same per member: the cost of one ping-pong, server side. */
  cpuUsPerMemberPerRound: number;
  /** Longest event-loop stall over the window (prom-client's monitor): a signal arriving then waits this long. */
  maxLoopDelayMs: number;
}

export interface CapacityResult {
  heartbeatMs: number;
  cpuWindowMs: number;
  /** With no member; its loop stall is the noise floor (other work on the box deschedules the dyno too). */
  baseline: { rssBytes: number; heapUsedBytes: number; cores: number; maxLoopDelayMs: number };
  steps: CapacityStep[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Capacity of one dyno (issue 17): node-0 alone takes every member (both ends of each pair,
 * so every room is local to it and nothing crosses Redis); at each target the heap settles
 * (forced GC), RSS is sampled, and node-0's CPU is read from /proc over `cpuWindowMs` while
 * the members sit idle and the server's heartbeat pings them every `heartbeatMs` (the bench
 * clients answer pings, as browsers do). The dyno must run with the inspector open.
 */
export async function measureCapacity(
  pool: LoadgenPool,
  cluster: BenchCluster,
  targets: readonly number[],
  heartbeatMs: number,
  cpuWindowMs: number,
  say: (line: string) => void,
): Promise<CapacityResult> {
  const node = cluster.nodes[0];
  const pid = node.pid as number;
  const inspector = await Inspector.connect(node.inspectorUrl as string);
  const metricsUrl = cluster.urls[0].replace(/^ws/, 'http').replace(/\/signaling$/, '/metrics');
  // prom-client resets its event-loop delay histogram on every scrape: scraping before and
  // after the window gives the longest stall inside it.
  const maxLoopDelay = async (): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    return Number(/^nodejs_eventloop_lag_max_seconds\{[^}]*\} (\S+)/m.exec(text)?.[1] ?? NaN) * 1000;
  };
  const cpuOver = async (): Promise<{ cores: number; maxLoopDelayMs: number }> => {
    await maxLoopDelay();
    const before = sampleProcess(pid)?.cpuSeconds ?? 0;
    await sleep(cpuWindowMs);
    const cores = ((sampleProcess(pid)?.cpuSeconds ?? 0) - before) / (cpuWindowMs / 1000);
    return { cores, maxLoopDelayMs: round(await maxLoopDelay(), 1) };
  };
  const [base] = await settledMemory([inspector], [pid]);
  const { cores: baseCores, maxLoopDelayMs: baseStall } = await cpuOver();
  const baseline = { rssBytes: base?.rss ?? 0, heapUsedBytes: base?.heapUsed ?? 0, cores: baseCores, maxLoopDelayMs: baseStall };
  say(
    `   0 members: RSS ${mb(baseline.rssBytes)}, heap ${mb(baseline.heapUsedBytes)}, ${(baseCores * 100).toFixed(2)} % of a core; longest loop stall ${baseStall} ms`,
  );
  const steps: CapacityStep[] = [];
  let members = 0;
  let room = 0;
  const rounds = cpuWindowMs / heartbeatMs;
  for (const target of targets) {
    const pairs = Math.floor((target - members) / 2);
    if (pairs <= 0) continue;
    const opened = Date.now();
    // Both ends of every pair on node-0: [url0, url0].
    const commands: WorkerCommand[] = split(pairs, pool.workers.length).map((count) => {
      const command: WorkerCommand = {
        cmd: 'pairs',
        kind: cluster.kind,
        urls: [cluster.urls[0], cluster.urls[0]],
        roomPrefix: `cap-${Date.now().toString(36)}-`,
        first: room,
        count,
      };
      room += count;
      return command;
    });
    await pool.run(commands);
    members += 2 * pairs;
    const openMs = Date.now() - opened;
    const [settled] = await settledMemory([inspector], [pid], 5000);
    const { cores, maxLoopDelayMs } = await cpuOver();
    const rss = settled?.rss ?? 0;
    const heap = settled?.heapUsed ?? 0;
    const aboveIdle = Math.max(0, cores - baseCores) * cpuWindowMs;
    const step: CapacityStep = {
      members,
      rssBytes: rss,
      heapUsedBytes: heap,
      rssPerMember: Math.round((rss - baseline.rssBytes) / members),
      heapPerMember: Math.round((heap - baseline.heapUsedBytes) / members),
      cores: round(cores, 4),
      cpuMsPerRound: round(aboveIdle / rounds, 1),
      cpuUsPerMemberPerRound: round(((aboveIdle / rounds) * 1000) / members, 2),
      maxLoopDelayMs,
    };
    steps.push(step);
    say(
      `   ${members} members (opened in ${(openMs / 1000).toFixed(1)} s): RSS ${mb(rss)} (${kb(step.rssPerMember)}/member), heap ${mb(heap)} (${kb(step.heapPerMember)}/member), ` +
        `${(cores * 100).toFixed(2)} % of a core; heartbeat ${step.cpuMsPerRound} ms CPU per round, ${step.cpuUsPerMemberPerRound} µs per member; longest loop stall ${maxLoopDelayMs} ms`,
    );
  }
  inspector.close();
  return { heartbeatMs, cpuWindowMs, baseline, steps };
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(2)} KB`;
const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;
