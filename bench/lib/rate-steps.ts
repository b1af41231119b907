import type { BenchCluster } from './cluster.ts';
import type { LoadgenPool } from './loadgen-pool.ts';
import { split } from './loadgen-pool.ts';
import type { BenchOptions } from './options.ts';
import type { LatencySummary } from './percentiles.ts';
import { concat, summarize } from './percentiles.ts';
import type { RoleUsage } from './proc-stats.ts';
import { load1, UsageWindow } from './proc-stats.ts';
import { commandCounts, commandDelta } from './redis-info.ts';
import type { StepReport, WorkerCommand, WorkerReply } from './worker-protocol.ts';

export interface StepResult {
  offered: number;
  achieved: number;
  sent: number;
  lost: number;
  lossPercent: number;
  latencyMs: LatencySummary;
  /** How late the generator sent, against its schedule: small means it kept up. */
  sendLagMs: LatencySummary;
  errors: Record<string, number>;
  usage: RoleUsage[];
  /** Redis commands run during the step, by name, and per relayed signal. */
  redisCommands: Record<string, number>;
  redisCommandsPerSignal: number | null;
  /** Load average (1 min) of the machine when the step ended: other work skews the numbers. */
  load1: number;
  sustained: boolean;
}

/** Opens the pairs the steps drive: pair i is room `${prefix}${i}`, "a" on node 0, "b" on node 1. */
export async function openPairs(pool: LoadgenPool, cluster: BenchCluster, count: number, roomPrefix: string): Promise<void> {
  let first = 0;
  const commands: WorkerCommand[] = split(count, pool.workers.length).map((n) => {
    const command: WorkerCommand = { cmd: 'pairs', kind: cluster.kind, urls: cluster.urls, roomPrefix, first, count: n };
    first += n;
    return command;
  });
  await pool.run(commands);
}

/** Runs one open-loop step at `rate` signals/s over the whole cluster. */
export async function runStep(
  pool: LoadgenPool,
  cluster: BenchCluster,
  options: BenchOptions,
  step: number,
  rate: number,
  loadgenPids: number[],
): Promise<StepResult> {
  const before = cluster.redis.url ? await commandCounts(cluster.redis.url).catch(() => null) : null;
  const usage = new UsageWindow([...cluster.watched(), { role: 'loadgen', pids: loadgenPids }]);
  const startAt = performance.timeOrigin + performance.now() + 200;
  const commands: WorkerCommand[] = split(rate, pool.workers.length).map((share) => ({
    cmd: 'step',
    step,
    rate: share,
    startAt,
    warmupMs: options.warmupMs,
    durationMs: options.measureMs,
    drainMs: options.drainMs,
  }));
  const replies = await pool.run<Extract<WorkerReply, { cmd: 'step' }>>(commands);
  const used = usage.stop();
  const after = before && cluster.redis.url ? await commandCounts(cluster.redis.url).catch(() => null) : null;
  const reports: StepReport[] = replies.map((r) => r.report);
  const sent = sum(reports.map((r) => r.sent + r.sendFailed));
  const received = sum(reports.map((r) => r.received));
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const closed = sum(reports.map((r) => r.closed));
  if (closed > 0) errors['socket-closed'] = closed;
  const latencyMs = summarize(concat(reports.map((r) => r.latencies)));
  const sendLagMs = summarize(concat(reports.map((r) => r.sendLags)));
  const achieved = Math.round(sum(reports.map((r) => r.receivedInWindow)) / (options.measureMs / 1000));
  const lost = sent - received;
  const lossPercent = sent === 0 ? 0 : Math.round((10000 * lost) / sent) / 100;
  const redisCommands = before && after ? commandDelta(before, after) : {};
  const totalCommands = sum(Object.values(redisCommands));
  return {
    offered: rate,
    achieved,
    sent,
    lost,
    lossPercent,
    latencyMs,
    sendLagMs,
    errors,
    usage: used,
    redisCommands,
    redisCommandsPerSignal: before && after && sent > 0 ? Math.round((100 * totalCommands) / sent) / 100 : null,
    load1: load1(),
    sustained: lost === 0 && Object.keys(errors).length === 0 && achieved >= 0.95 * rate && latencyMs.p99 <= options.p99BoundMs,
  };
}

/** Steps through the rates until loss or p99 explodes; prints a line per step as it goes. */
export async function runSteps(
  pool: LoadgenPool,
  cluster: BenchCluster,
  options: BenchOptions,
  loadgenPids: number[],
  print: (step: StepResult) => void,
): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const [i, rate] of options.rates.entries()) {
    // On a terminal, a line that says which step runs, replaced by its result; in a log, rows only.
    if (process.stdout.isTTY)
      process.stdout.write(`  ${cluster.kind} at ${rate}/s for ${(options.warmupMs + options.measureMs) / 1000} s ...`);
    const result = await runStep(pool, cluster, options, i + 1, rate, loadgenPids);
    if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
    results.push(result);
    print(result);
    if (result.lossPercent > 1 || !(result.latencyMs.p99 <= options.explodeP99Ms) || result.achieved < 0.8 * rate) break;
    // Let stragglers and GC settle so one step's backlog is not charged to the next.
    await new Promise((r) => setTimeout(r, 500));
  }
  return results;
}

/** The highest offered rate carried at all: nothing lost and >= 95% achieved, whatever the latency. */
export function highestCarried(steps: readonly StepResult[]): number {
  return Math.max(0, ...steps.filter((s) => s.lost === 0 && s.achieved >= 0.95 * s.offered).map((s) => s.offered));
}

/** The highest offered rate that held: nothing lost, >= 95% achieved, p99 within the bound. */
export function highestSustained(steps: readonly StepResult[]): number {
  return Math.max(0, ...steps.filter((s) => s.sustained).map((s) => s.offered));
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
