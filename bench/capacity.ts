/**
 * `npm run bench:capacity`: idle joined members one dyno holds with heartbeats running
 * (issue 17's aim: 50,000 in a 512 MB dyno): RSS per member after the heap settles, and the
 * heartbeat's CPU. Reported in docs/benchmarks.md (Capacity), not asserted anywhere.
 * Every member is on node-0; the steps are cumulative. Each process needs a descriptor per
 * socket, so the largest step is clipped to the open-files limit (`ulimit -n`), and the
 * 512 MB figure is extrapolated from the RSS per member measured at the largest step.
 * Usage: npm run bench:capacity -- [--members 5000,10000,15000,19000] [--heartbeat-ms 5000] [--cpu-seconds 20]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureCapacity } from './lib/capacity.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import { killOnExit } from './lib/servers.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '5000,10000,15000,19000,50000' },
    'heartbeat-ms': { type: 'string', default: '5000' },
    'cpu-seconds': { type: 'string', default: '20' },
    workers: { type: 'string', default: '2' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const DYNO_MB = 512;

const openFiles = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? Infinity);
const workers = Number(values.workers);
// node-0 holds every member's socket plus ~100 of its own (Redis, inspector, files).
const ceiling = Math.min(openFiles - 200, (openFiles - 1000) * workers);
const wanted = values.members.split(',').map(Number);
const targets = [...new Set(wanted.map((n) => Math.min(n, ceiling)))].filter((n) => n > 0).sort((a, b) => a - b);
const heartbeatMs = Number(values['heartbeat-ms']);
const cpuWindowMs = Number(values['cpu-seconds']) * 1000;

killOnExit(liveServers);
mkdirSync(RESULTS, { recursive: true });
say(
  `open files limit ${openFiles}: steps ${targets.join(', ')} members${Math.max(...wanted) > ceiling ? ` (clipped from ${Math.max(...wanted)}; raise ulimit -n for more)` : ''}`,
);
say(`HEARTBEAT_MS=${heartbeatMs}, CPU read over ${cpuWindowMs / 1000} s per step; load ${load1()}`);
const pool = new LoadgenPool(workers);
// A bench client does not retry a refused join: on a busy box a Redis command may outlast
// the default 5 s timeout while thousands of members join at once.
const cluster = await startCluster('signaling', parseOptions([]), {
  inspect: true,
  env: { HEARTBEAT_MS: String(heartbeatMs), REDIS_COMMAND_TIMEOUT_MS: '60000' },
});
try {
  const result = await measureCapacity(pool, cluster, targets, heartbeatMs, cpuWindowMs, say);
  const last = result.steps.at(-1);
  if (last) {
    const fit = Math.floor((DYNO_MB * 2 ** 20 - result.baseline.rssBytes) / last.rssPerMember);
    const at25s = (last.cpuMsPerRound / 25_000) * 100 + result.baseline.cores * 100;
    say(
      `\nat ${last.members} members: ${(last.rssPerMember / 1024).toFixed(2)} KB RSS per member over an idle ${(result.baseline.rssBytes / 2 ** 20).toFixed(0)} MB: ` +
        `${fit} members fit in ${DYNO_MB} MB; heartbeat ${last.cpuMsPerRound} ms CPU per round = ${at25s.toFixed(2)} % of a core at the default HEARTBEAT_MS=25000; load ${load1()}`,
    );
  }
  const out = join(RESULTS, `capacity-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify({ openFiles, node: process.version, ...result }, null, 2)}\n`);
  say(`results: ${out}`);
} finally {
  await pool.all({ cmd: 'close' }).catch(() => undefined);
  pool.stop();
  await cluster.stop();
}
process.exit(0);
