/**
 * `node bench/cpu-per-signal.ts`: CPU of both dynos per relayed signal (process CPU time
 * from /proc over the measured window, divided by the signals delivered in it), this build
 * beside the base build (--base) and socket.io, alternating in one run so that the load of a
 * shared machine falls on all of them alike. Also the Redis commands per signal.
 * Usage: node bench/cpu-per-signal.ts [--rates 2000,5000] [--rounds 3] [--seconds 8] [--base /path/to/base/src/main.ts] [--no-socketio]
 */
import { parseArgs } from 'node:util';
import type { TargetKind } from './lib/bench-client.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import type { StepResult } from './lib/rate-steps.ts';
import { openPairs, runStep } from './lib/rate-steps.ts';
import { killOnExit } from './lib/servers.ts';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '2000,5000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '8' },
    pairs: { type: 'string', default: '200' },
    base: { type: 'string' },
    'no-socketio': { type: 'boolean', default: false },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const rates = values.rates.split(',').map(Number);
const options = { ...parseOptions([]), measureMs: Number(values.seconds) * 1000 };

interface Target {
  label: string;
  kind: TargetKind;
  main?: string;
}
const targets: Target[] = [
  ...(values.base ? [{ label: 'before', kind: 'signaling' as const, main: values.base }] : []),
  { label: 'after', kind: 'signaling' },
  ...(values['no-socketio'] ? [] : [{ label: 'socket.io', kind: 'socketio' as const }]),
];

/** µs of dyno CPU (both) per signal delivered in the window. */
function usPerSignal(step: StepResult): number {
  const cores = step.usage.filter((u) => u.role === 'node-0' || u.role === 'node-1').reduce((n, u) => n + u.cores, 0);
  return step.achieved > 0 ? Math.round((cores / step.achieved) * 1e6 * 10) / 10 : NaN;
}

const results = new Map<string, number[]>();
killOnExit(liveServers);
say(`${values.pairs} pairs over two dynos, ${values.seconds} s windows, rates ${rates.join(', ')}; load ${load1()}`);
say(
  '| round | target | offered/s | achieved/s | loss | p50 ms | p99 ms | µs CPU per signal (both dynos) | redis cmds/signal | load1 |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
);
for (let round = 1; round <= Number(values.rounds); round++) {
  for (const target of targets) {
    const pool = new LoadgenPool(2);
    const cluster = await startCluster(target.kind, options, target.main ? { main: target.main } : {});
    try {
      await openPairs(pool, cluster, Number(values.pairs), `cpu-${Date.now().toString(36)}-`);
      for (const [i, rate] of rates.entries()) {
        const step = await runStep(pool, cluster, options, i + 1, rate, [...pool.pids, process.pid]);
        const us = usPerSignal(step);
        const key = `${target.label}@${rate}`;
        results.set(key, [...(results.get(key) ?? []), us]);
        say(
          `| ${round} | ${target.label} | ${rate} | ${step.achieved} | ${step.lossPercent}% | ${step.latencyMs.p50} | ${step.latencyMs.p99} | ${us} | ${step.redisCommandsPerSignal ?? '-'} | ${step.load1} |`,
        );
      }
    } finally {
      pool.stop();
      await cluster.stop();
    }
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
say('\nmedians: µs of CPU per signal, both dynos');
for (const rate of rates) {
  const m = new Map(targets.map((t) => [t.label, median(results.get(`${t.label}@${rate}`) ?? [])]));
  const after = m.get('after') ?? NaN;
  const parts = targets.map((t) => `${t.label} ${m.get(t.label)}`);
  const ratios = targets.filter((t) => t.label !== 'after').map((t) => `after/${t.label} ${(after / (m.get(t.label) ?? NaN)).toFixed(2)}`);
  say(`  at ${rate}/s: ${parts.join(', ')} (${ratios.join(', ')})`);
}
process.exit(0);
