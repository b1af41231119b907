/**
 * `npm run bench`: this signaling cluster against socket.io + @socket.io/redis-adapter, on one
 * machine. See docs/benchmarks.md for what it measures and how to read it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TargetKind } from './lib/bench-client.ts';
import type { BenchCluster, ClusterExtras } from './lib/cluster.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import type { ProfileSummary } from './lib/cpu-profile.ts';
import { summarizeProfile } from './lib/cpu-profile.ts';
import { measureIdleMemory } from './lib/idle-memory.ts';
import { Inspector } from './lib/inspector.ts';
import { runJoinStorm } from './lib/join-storm.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import type { BenchOptions } from './lib/options.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import type { StepResult } from './lib/rate-steps.ts';
import { highestCarried, highestSustained, openPairs, runStep, runSteps } from './lib/rate-steps.ts';
import { kb, STEP_HEADER, stepRow } from './lib/report.ts';
import { killOnExit } from './lib/servers.ts';
import type { TargetResult } from './lib/summary.ts';
import { summarize } from './lib/summary.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const stamp = (): string => new Date().toISOString().replace(/[:.]/g, '-');

interface ProfileResult {
  rate: number;
  step: StepResult;
  file: string;
  summary: ProfileSummary;
}

function machine(): Record<string, string | number> {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    // not installed: the bench was given a Redis URL
  }
  return { cpu, cores: availableParallelism(), node: process.version, redis, openFiles: openFilesLimit() };
}

function openFilesLimit(): number {
  return Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
}

async function withCluster<T>(
  kind: TargetKind,
  options: BenchOptions,
  run: (c: BenchCluster) => Promise<T>,
  extras: ClusterExtras = {},
): Promise<T> {
  const cluster = await startCluster(kind, options, extras);
  try {
    return await run(cluster);
  } finally {
    await cluster.stop();
  }
}

/** Rate steps, then (signaling only) the join storm on the same cluster. */
async function ratesAndStorm(
  pool: LoadgenPool,
  cluster: BenchCluster,
  options: BenchOptions,
  loadgenPids: number[],
  label: string = cluster.kind,
): Promise<TargetResult> {
  const kind = cluster.kind;
  const result: TargetResult = { steps: [], highestSustained: 0 };
  if (options.phases.has('rates')) {
    say(`== ${label}: rate steps\n${STEP_HEADER}`);
    await openPairs(pool, cluster, options.pairs, `rate-${Date.now().toString(36)}-`);
    result.steps = await runSteps(pool, cluster, options, loadgenPids, (step) => say(stepRow(label, step)));
    result.highestSustained = highestSustained(result.steps);
    await pool.all({ cmd: 'close' });
  }
  // socket.io has no presence (no peers list, no atomic membership), so the storm's "every
  // member heard of every peer" has no equivalent there.
  if (kind === 'signaling' && options.phases.has('storm') && label === kind) {
    say(`== ${kind}: join storm (${options.stormMembers} members, ${options.stormRooms} rooms)`);
    const storm = await runJoinStorm(pool, cluster, options.stormMembers, options.stormRooms);
    say(`   ${storm.ms} ms; ${storm.completed} complete, ${storm.incomplete} not; errors ${JSON.stringify(storm.errors)}; load ${load1()}`);
    result.storm = storm;
  }
  return result;
}

/** A CPU profile of node-0 during one step at `rate`, taken through the inspector. */
async function profileStep(pool: LoadgenPool, options: BenchOptions, rate: number, loadgenPids: number[]): Promise<ProfileResult> {
  const file = join(RESULTS, `node-0-${rate}-per-s-${stamp()}.cpuprofile`);
  say(`== signaling: CPU profile of node-0 during one ${options.profileSeconds} s step at ${rate}/s`);
  const step = await withCluster(
    'signaling',
    options,
    async (cluster) => {
      await openPairs(pool, cluster, options.pairs, `prof-${Date.now().toString(36)}-`);
      // The inspector rather than --cpu-prof, so the profile covers this step only, not the
      // process's start-up (module loading, TypeScript stripping). Same V8 sampling profiler.
      const inspector = await Inspector.connect(cluster.nodes[0].inspectorUrl as string);
      await inspector.startProfile();
      const s = await runStep(pool, cluster, { ...options, measureMs: options.profileSeconds * 1000 }, 1000, rate, loadgenPids);
      writeFileSync(file, JSON.stringify(await inspector.stopProfile()));
      inspector.close();
      await pool.all({ cmd: 'close' });
      return s;
    },
    { inspect: true },
  );
  const summary = summarizeProfile(file);
  say(`${STEP_HEADER}\n${stepRow('signaling (profiled)', step)}`);
  say(`   ${file}\n   node-0 main thread busy ${summary.busyPercent}% of the step; self time by area:`);
  for (const a of summary.byArea) say(`     ${a.percent.toFixed(1).padStart(5)}%  ${a.frame}`);
  say('   top frames:');
  for (const f of summary.topFrames) say(`     ${f.percent.toFixed(1).padStart(5)}%  ${f.frame}`);
  return { rate, step, file, summary };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const needed = Math.ceil(options.idleConnections / options.workers) + 1000;
  if (openFilesLimit() < needed) {
    throw new Error(
      `ulimit -n is ${openFilesLimit()}; each load generator needs ${needed} descriptors: raise it (ulimit -n 65536) or lower --idle-connections`,
    );
  }
  killOnExit(liveServers);
  mkdirSync(RESULTS, { recursive: true });
  const started = Date.now();
  const info = machine();
  say(
    `machine: ${info['cpu']}, ${info['cores']} cores, Node ${info['node']}, Redis ${info['redis']}; load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  say(
    `${options.pairs} pairs over 2 nodes, ${options.workers} load generators, ${options.measureMs / 1000} s per step after ${options.warmupMs / 1000} s warm-up; ~1 KB signals\n`,
  );
  const pool = new LoadgenPool(options.workers);
  const loadgenPids = [...pool.pids, process.pid];
  const results: Partial<Record<TargetKind, TargetResult>> = {};
  let base: TargetResult | undefined;
  let profile: ProfileResult | undefined;
  try {
    for (const kind of options.targets) {
      const target = await withCluster(kind, options, (cluster) => ratesAndStorm(pool, cluster, options, loadgenPids));
      results[kind] = target;
      if (kind === 'signaling' && options.baseMain !== undefined && options.phases.has('rates')) {
        const main = options.baseMain;
        base = await withCluster(kind, options, (cluster) => ratesAndStorm(pool, cluster, options, loadgenPids, 'signaling (base)'), {
          main,
        });
      }
      if (options.phases.has('idle') && !(kind === 'signaling' ? options.dynoUrls : options.socketioUrls)) {
        say(`== ${kind}: RSS per idle joined connection (${options.idleConnections} connections)`);
        target.idle = await withCluster(kind, options, (cluster) => measureIdleMemory(pool, cluster, options.idleConnections), {
          inspect: true,
        });
        await pool.all({ cmd: 'close' });
        say(
          `   ${kb(target.idle.rssPerConnection)} RSS, ${kb(target.idle.heapPerConnection)} heap per connection (redis ${kb(target.idle.redisRssPerConnection)}); load ${load1()}`,
        );
      }
    }
    if (options.phases.has('profile') && options.targets.includes('signaling') && !options.dynoUrls) {
      // The top rate the cluster carried before latency ran away (p99 under 5x the bound): where
      // the CPU goes when it is the limit. Any higher and the profiler's own cost tips it over.
      const carried = (results.signaling?.steps ?? []).filter((s) => s.latencyMs.p99 <= 5 * options.p99BoundMs);
      const rate = highestCarried(carried) || (options.rates.at(-1) ?? 1000);
      profile = await profileStep(pool, options, rate, loadgenPids);
    }
  } finally {
    pool.stop();
  }

  const summary = summarize(options, results.signaling, results.socketio);
  say(`\n${summary.lines.join('\n')}`);
  if (base && results.signaling) say(`\n${compareWithBase(results.signaling, base).join('\n')}`);
  const out = options.out ?? join(RESULTS, `bench-${stamp()}.json`);
  const seconds = Math.round((Date.now() - started) / 1000);
  const record = {
    machine: info,
    options: { ...options, phases: [...options.phases] },
    seconds,
    loadEnd: loadavg(),
    ...summary,
    lines: undefined,
    ...results,
    base,
    profile,
  };
  writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`);
  say(`\nresults: ${out} (${seconds} s)`);
}

/** This build's steps beside the base build's, rate by rate (the issue 21 check: no loss of throughput, one command per signal). */
function compareWithBase(ours: TargetResult, base: TargetResult): string[] {
  const lines = [
    `== this build against the base build (${ours.highestSustained}/s vs ${base.highestSustained}/s sustained)`,
    '| offered/s | achieved/s this / base | p50 ms this / base | p99 ms this / base | redis cmds/signal this / base |',
    '|--:|--:|--:|--:|--:|',
  ];
  for (const step of ours.steps) {
    const other = base.steps.find((s) => s.offered === step.offered);
    const pair = (a: number | null | undefined, b: number | null | undefined): string => `${a ?? '-'} / ${b ?? '-'}`;
    lines.push(
      `| ${step.offered} | ${pair(step.achieved, other?.achieved)} | ${pair(step.latencyMs.p50, other?.latencyMs.p50)} | ${pair(step.latencyMs.p99, other?.latencyMs.p99)} | ${pair(step.redisCommandsPerSignal, other?.redisCommandsPerSignal)} |`,
    );
  }
  return lines;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
