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
import type { BenchCluster } from './lib/cluster.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import type { ProfileSummary } from './lib/cpu-profile.ts';
import { summarizeProfile } from './lib/cpu-profile.ts';
import type { IdleMemoryResult } from './lib/idle-memory.ts';
import { measureIdleMemory } from './lib/idle-memory.ts';
import type { JoinStormResult } from './lib/join-storm.ts';
import { runJoinStorm } from './lib/join-storm.ts';
import { Inspector } from './lib/inspector.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import type { BenchOptions } from './lib/options.ts';
import { parseOptions } from './lib/options.ts';
import type { StepResult } from './lib/rate-steps.ts';
import { highestSustained, openPairs, runStep, runSteps } from './lib/rate-steps.ts';
import { kb, ratio, STEP_HEADER, stepRow } from './lib/report.ts';
import { load1 } from './lib/proc-stats.ts';
import { killOnExit } from './lib/servers.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface TargetResult {
  steps: StepResult[];
  highestSustained: number;
  idle?: IdleMemoryResult;
  storm?: JoinStormResult;
}

function machine(): Record<string, string | number> {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  let redis = 'unknown';
  try {
    redis = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? redis;
  } catch {
    // not installed: the bench was given a Redis URL
  }
  const limit = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? '?';
  return { cpu, cores: availableParallelism(), node: process.version, redis, openFilesLimit: limit };
}

function checkFileLimit(options: BenchOptions): void {
  const limit = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
  const needed = Math.ceil(options.idleConnections / options.workers) + 1000;
  if (limit < needed) {
    throw new Error(`ulimit -n is ${limit}; each load generator needs ${needed} descriptors. Raise it (\`ulimit -n 65536\`) or lower --idle-connections.`);
  }
}

async function withCluster<T>(kind: TargetKind, options: BenchOptions, run: (c: BenchCluster) => Promise<T>, extras = {}): Promise<T> {
  const cluster = await startCluster(kind, options, extras);
  try {
    return await run(cluster);
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  checkFileLimit(options);
  killOnExit(liveServers);
  const started = Date.now();
  const info = machine();
  say(`machine: ${info['cpu']}, ${info['cores']} cores, Node ${info['node']}, Redis ${info['redis']}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  say(`${options.pairs} pairs over 2 nodes, ${options.workers} load generators, ${options.measureMs / 1000} s per step after ${options.warmupMs / 1000} s warm-up; ~1 KB signals\n`);
  const pool = new LoadgenPool(options.workers);
  const loadgenPids = [...pool.pids, process.pid];
  const results: Partial<Record<TargetKind, TargetResult>> = {};
  let profile: { rate: number; step: StepResult; file: string; summary: ProfileSummary } | undefined;
  try {
    for (const kind of options.targets) {
      const target: TargetResult = await withCluster(kind, options, async (cluster) => {
        const result: TargetResult = { steps: [], highestSustained: 0 };
        if (options.phases.has('rates')) {
          say(`== ${kind}: rate steps`);
          say(STEP_HEADER);
          await openPairs(pool, cluster, options.pairs, `rate-${Date.now().toString(36)}-`);
          result.steps = await runSteps(pool, cluster, options, loadgenPids, (step) => say(stepRow(kind, step)));
          result.highestSustained = highestSustained(result.steps);
          await pool.all({ cmd: 'close' });
        }
        // socket.io has no presence (no peers list, no atomic membership), so the storm's
        // "every member heard of every peer" has no equivalent there.
        if (kind === 'signaling' && options.phases.has('storm')) {
          say(`== ${kind}: join storm (${options.stormMembers} members, ${options.stormRooms} rooms)`);
          result.storm = await runJoinStorm(pool, cluster, options.stormMembers, options.stormRooms);
          say(`   ${result.storm.ms} ms; ${result.storm.completed} complete, ${result.storm.incomplete} not; errors ${JSON.stringify(result.storm.errors)}; load ${load1()}`);
        }
        return result;
      });
      results[kind] = target;
      if (options.phases.has('idle') && !(kind === 'signaling' ? options.dynoUrls : options.socketioUrls)) {
        say(`== ${kind}: RSS per idle joined connection (${options.idleConnections} connections)`);
        target.idle = await withCluster(kind, options, (cluster) => measureIdleMemory(pool, cluster, options.idleConnections), { inspect: true });
        await pool.all({ cmd: 'close' });
        say(`   ${kb(target.idle.rssPerConnection)} RSS, ${kb(target.idle.heapPerConnection)} heap per connection (redis ${kb(target.idle.redisRssPerConnection)}); load ${load1()}`);
      }
    }
    const sustained = results.signaling?.highestSustained ?? 0;
    if (options.phases.has('profile') && results.signaling && !options.dynoUrls) {
      const rate = sustained || (options.rates.at(-1) ?? 1000);
      const file = join(RESULTS, `node-0-${rate}-per-s-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`);
      say(`== signaling: CPU profile of node-0 during one ${options.profileSeconds} s step at ${rate}/s`);
      const step = await withCluster(
        'signaling',
        options,
        async (cluster) => {
          await openPairs(pool, cluster, options.pairs, `prof-${Date.now().toString(36)}-`);
          // Through the inspector rather than --cpu-prof, so the profile covers this step only,
          // not the process's start-up (module loading and TypeScript stripping).
          const inspector = await Inspector.connect(cluster.nodes[0].inspectorUrl as string);
          await inspector.startProfile();
          const s = await runStep(pool, cluster, { ...options, measureMs: options.profileSeconds * 1000 }, 1000, rate, loadgenPids);
          mkdirSync(RESULTS, { recursive: true });
          writeFileSync(file, JSON.stringify(await inspector.stopProfile()));
          inspector.close();
          await pool.all({ cmd: 'close' });
          return s;
        },
        { inspect: true },
      );
      say(STEP_HEADER);
      say(stepRow('signaling (profiled)', step));
      profile = { rate, step, file, summary: summarizeProfile(file) };
      say(`   ${file}\n   busy ${profile.summary.busyPercent}% of wall time; self time by area:`);
      for (const a of profile.summary.byArea) say(`     ${a.percent.toFixed(1).padStart(5)}%  ${a.frame}`);
      say('   top frames:');
      for (const f of profile.summary.topFrames) say(`     ${f.percent.toFixed(1).padStart(5)}%  ${f.frame}`);
    }
  } finally {
    pool.stop();
  }

  const ours = results.signaling;
  const theirs = results.socketio;
  const at1k = (t: TargetResult | undefined): StepResult | undefined => t?.steps.find((s) => s.offered === 1000);
  const ratios = {
    highestSustainedRate: ratio(ours?.highestSustained ?? null, theirs?.highestSustained ?? null),
    p50At1k: ratio(at1k(ours)?.latencyMs.p50 ?? null, at1k(theirs)?.latencyMs.p50 ?? null, true),
    p99At1k: ratio(at1k(ours)?.latencyMs.p99 ?? null, at1k(theirs)?.latencyMs.p99 ?? null, true),
    rssPerIdleConnection: ratio(ours?.idle?.rssPerConnection ?? null, theirs?.idle?.rssPerConnection ?? null, true),
  };
  say(`\n== summary (p99 bound ${options.p99BoundMs} ms)`);
  say(`highest sustained rate: signaling ${ours?.highestSustained ?? '-'}/s, socket.io ${theirs?.highestSustained ?? '-'}/s -> ${ratios.highestSustainedRate}`);
  say(`latency at 1k/s: p50 ${at1k(ours)?.latencyMs.p50 ?? '-'} vs ${at1k(theirs)?.latencyMs.p50 ?? '-'} ms (${ratios.p50At1k}), p99 ${at1k(ours)?.latencyMs.p99 ?? '-'} vs ${at1k(theirs)?.latencyMs.p99 ?? '-'} ms (${ratios.p99At1k})`);
  say(`RSS per idle joined connection: ${kb(ours?.idle?.rssPerConnection ?? null)} vs ${kb(theirs?.idle?.rssPerConnection ?? null)} (${ratios.rssPerIdleConnection})`);
  if (ours?.storm) say(`join storm: ${ours.storm.members} members / ${ours.storm.rooms} rooms in ${ours.storm.ms} ms`);

  mkdirSync(RESULTS, { recursive: true });
  const out = options.out ?? join(RESULTS, `bench-${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`);
  const toJson = (t: TargetResult | undefined): unknown => t && { ...t };
  writeFileSync(
    out,
    `${JSON.stringify({ machine: info, options, seconds: Math.round((Date.now() - started) / 1000), loadEnd: loadavg(), ratios, signaling: toJson(ours), socketio: toJson(theirs), profile }, null, 2)}\n`,
  );
  say(`\nresults: ${out} (${Math.round((Date.now() - started) / 1000)} s)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
