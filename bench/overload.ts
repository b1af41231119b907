/**
 * `node bench/overload.ts`: two dynos offered 2x and 4x what they carry, for 20 s each
 * (docs/benchmarks.md, "Overload"). Prints, per step: each dyno's peak RSS, the subscriber
 * connections Redis dropped, signals delivered / refused (by code) / lost without a word,
 * and how long after the load stopped signals crossed at normal latency again.
 *
 *   node bench/overload.ts [--carried 25000] [--factors 2,4] [--seconds 20] [--pairs 200]
 *
 * `--carried` is the rate the two dynos carry without loss on this machine (the bench's
 * "highest rate carried", docs/benchmarks.md). Not part of npm test.
 */
import { parseArgs } from 'node:util';
import { liveServers, startCluster } from './lib/cluster.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { sampleProcess } from './lib/proc-stats.ts';
import { outputBufferDisconnections, pubsubClientIds } from './lib/pubsub-clients.ts';
import { openPairs, runStep } from './lib/rate-steps.ts';
import { killOnExit } from './lib/servers.ts';

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const { values } = parseArgs({
  options: {
    carried: { type: 'string', default: '25000' },
    factors: { type: 'string', default: '2,4' },
    seconds: { type: 'string', default: '20' },
    pairs: { type: 'string', default: '200' },
    workers: { type: 'string', default: '2' },
  },
});
const carried = Number(values.carried);
const factors = String(values.factors).split(',').map(Number);
const seconds = Number(values.seconds);
const pairs = Number(values.pairs);

async function main(): Promise<void> {
  killOnExit(liveServers);
  const options = {
    ...parseOptions([]),
    pairs,
    workers: Number(values.workers),
    warmupMs: 1000,
    measureMs: seconds * 1000,
    drainMs: 120_000,
  };
  const pool = new LoadgenPool(options.workers);
  const loadgenPids = [...pool.pids, process.pid];
  const cluster = await startCluster('signaling', options);
  try {
    await openPairs(pool, cluster, pairs, `over-${Date.now().toString(36)}-`);
    say(`two dynos, ${pairs} pairs, carried rate ${carried}/s; each step ${seconds} s (+1 s warm-up)`);
    say(
      '| offered/s | x carried | sent | delivered | refused (by code) | lost silently | peak RSS MB node-0 / node-1 / redis | subscribers dropped (CLIENT LIST / INFO) | queued in clients, drained after the step | back to p99 <= 20 ms after that |',
    );
    say('|--:|--:|--:|--:|--|--:|--|--|--:|--:|');
    for (const factor of factors) {
      const rate = Math.round(carried * factor);
      const idsBefore = pubsubClientIds(cluster.redis.url);
      const cutBefore = outputBufferDisconnections(cluster.redis.url);
      const peak = new Map<string, number>();
      const sampler = setInterval(() => {
        for (const server of [...cluster.nodes, cluster.redis]) {
          const rss = server.pid === undefined ? null : sampleProcess(server.pid)?.rssBytes;
          if (rss) peak.set(server.role, Math.max(peak.get(server.role) ?? 0, rss));
        }
      }, 250);
      const stepStarted = Date.now();
      const step = await runStep(pool, cluster, options, 1, rate, loadgenPids);
      clearInterval(sampler);
      // runStep returns once every signal is delivered or refused (or after drainMs): what the
      // clients queued while the dynos read nothing is drained by then.
      const drainedMs = Date.now() - stepStarted - options.warmupMs - options.measureMs;
      // After the load: short probes at a tenth of the carried rate until p99 is back under 20 ms.
      const stoppedAt = Date.now();
      let recoveredMs: number | null = null;
      for (let probe = 0; probe < 30 && recoveredMs === null; probe++) {
        const check = await runStep(
          pool,
          cluster,
          { ...options, warmupMs: 0, measureMs: 500, drainMs: 2000 },
          2 + probe,
          Math.round(carried / 10),
          loadgenPids,
        );
        if (check.latencyMs.p99 <= 20 && check.lost === 0) recoveredMs = Date.now() - stoppedAt;
      }
      const idsAfter = pubsubClientIds(cluster.redis.url);
      const dropped = [...idsBefore].filter((id) => !idsAfter.has(id)).length;
      const cutAfter = outputBufferDisconnections(cluster.redis.url);
      const refused = Object.entries(step.errors)
        .filter(([code]) => code !== 'socket-closed')
        .reduce((sum, [, n]) => sum + n, 0);
      const delivered = step.sent - step.lost;
      const silent = step.sent - delivered - refused;
      const mb = (role: string): string => String(Math.round((peak.get(role) ?? 0) / 1e6));
      say(
        `| ${rate} | ${factor} | ${step.sent} | ${delivered} | ${refused} ${JSON.stringify(step.errors)} | ${silent} | ${mb('node-0')} / ${mb('node-1')} / ${mb('redis')} | ${dropped} / ${cutBefore === null || cutAfter === null ? 'n/a' : cutAfter - cutBefore} | ${drainedMs} ms | ${recoveredMs === null ? 'not within 30 probes' : `${recoveredMs} ms`} |`,
      );
      await sleep(1000);
    }
  } finally {
    await pool.all({ cmd: 'close' }).catch(() => undefined);
    await cluster.stop();
    pool.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
