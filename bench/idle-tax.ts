/**
 * `node bench/idle-tax.ts`: what idle and departing members cost live signals. Two dynos, one
 * Redis; 200 pairs exchange 1,000 signals/s while (a) nobody else is there, (b) 8,000 idle
 * members are held (the window spans a whole HEARTBEAT_MS), (c) those 8,000 drop at once
 * (their load generators are killed, so the dynos see abrupt closes and start grace periods
 * that end inside the window). p99 of each, per build, side by side in one run.
 * Usage: node bench/idle-tax.ts [--idle 8000] [--rate 1000] [--seconds 30] [--base /path/to/base/src/main.ts] [--rounds 1]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchCluster } from './lib/cluster.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import type { StepResult } from './lib/rate-steps.ts';
import { openPairs, runStep } from './lib/rate-steps.ts';
import { killOnExit } from './lib/servers.ts';

const { values } = parseArgs({
  options: {
    idle: { type: 'string', default: '8000' },
    rate: { type: 'string', default: '1000' },
    pairs: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '30' },
    'grace-ms': { type: 'string', default: '15000' },
    base: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const idle = Number(values.idle);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const graceMs = Number(values['grace-ms']);
const builds: Array<{ label: string; main?: string }> = [
  ...(values.base ? [{ label: 'before', main: values.base }] : []),
  { label: 'after' },
];

interface Phase {
  build: string;
  phase: 'none' | 'held' | 'dropping';
  step: StepResult;
}

const options = { ...parseOptions([]), warmupMs: 1000, measureMs: seconds * 1000, drainMs: 3000 };

async function measure(build: { label: string; main?: string }): Promise<Phase[]> {
  const live = new LoadgenPool(2);
  const idlers = new LoadgenPool(2);
  // RESUME_GRACE_MS shorter than the window, so the expiries run inside it.
  const cluster: BenchCluster = await startCluster('signaling', options, {
    env: { RESUME_GRACE_MS: String(graceMs), REDIS_COMMAND_TIMEOUT_MS: '60000' },
    ...(build.main ? { main: build.main } : {}),
  });
  const pids = [...live.pids, process.pid];
  const out: Phase[] = [];
  const row = (phase: Phase['phase'], step: StepResult): void => {
    out.push({ build: build.label, phase, step });
    const l = step.latencyMs;
    say(
      `| ${build.label} | ${phase} | ${step.achieved} | ${step.lossPercent}% | ${l.p50.toFixed(2)} | ${l.p99.toFixed(2)} | ${l.max.toFixed(1)} | ${step.load1} |`,
    );
  };
  try {
    await openPairs(live, cluster, Number(values.pairs), `live-${Date.now().toString(36)}-`);
    row('none', await runStep(live, cluster, { ...options, measureMs: Math.min(10, seconds) * 1000 }, 1, rate, pids));
    // Rooms of 4: two pairs per room would need another worker command; pairs of 2 per room
    // are what openPairs makes, one end on each dyno.
    await openPairs(idlers, cluster, Math.floor(idle / 2), `idle-${Date.now().toString(36)}-`);
    await new Promise((r) => setTimeout(r, 2000));
    row('held', await runStep(live, cluster, options, 2, rate, pids));
    // Killed one second into the measured window: every idle socket closes abruptly.
    const kill = setTimeout(() => idlers.stop(), options.warmupMs + 1000);
    row('dropping', await runStep(live, cluster, options, 3, rate, pids));
    clearTimeout(kill);
  } finally {
    live.stop();
    idlers.stop();
    await cluster.stop();
  }
  return out;
}

killOnExit(liveServers);
mkdirSync(RESULTS, { recursive: true });
say(
  `${rate} signals/s over ${values.pairs} pairs; ${idle} idle members; ${seconds} s windows; RESUME_GRACE_MS=${graceMs}; load ${load1()}`,
);
say('| build | idle members | achieved/s | loss | p50 ms | p99 ms | max ms | load1 |\n|---|---|--:|--:|--:|--:|--:|--:|');
const all: Phase[] = [];
for (let round = 0; round < Number(values.rounds); round++) for (const build of builds) all.push(...(await measure(build)));
const file = join(RESULTS, `idle-tax-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ idle, rate, seconds, graceMs, phases: all }, null, 2)}\n`);
say(`results: ${file}`);
process.exit(0);
