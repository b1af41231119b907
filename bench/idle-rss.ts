/**
 * `node bench/idle-rss.ts`: anonymous RSS per idle joined member after a forced GC, rooms of
 * 4, members spread over two dynos; this build, the base build (--base) and socket.io with
 * its Redis adapter, side by side in one run, at each size in --members (totals over both dynos).
 * Usage: node bench/idle-rss.ts [--members 4000,16000] [--room-size 4] [--base /path/to/base/src/main.ts] [--rounds 1]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TargetKind } from './lib/bench-client.ts';
import { liveServers, startCluster } from './lib/cluster.ts';
import { settledMemory } from './lib/idle-memory.ts';
import { joinIdleRooms } from './lib/idle-rooms.ts';
import { Inspector } from './lib/inspector.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import { killOnExit } from './lib/servers.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '4000,16000' },
    'room-size': { type: 'string', default: '4' },
    base: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const sizes = values.members.split(',').map(Number);
const roomSize = Number(values['room-size']);

interface Target {
  label: string;
  kind: TargetKind;
  main?: string;
}
const targets: Target[] = [
  ...(values.base ? [{ label: 'before', kind: 'signaling' as const, main: values.base }] : []),
  { label: 'after', kind: 'signaling' },
  { label: 'socket.io', kind: 'socketio' },
];

interface Row {
  label: string;
  members: number;
  rssPerMember: number;
  heapPerMember: number;
  rssMb: number[];
  load1: number;
}

async function measure(target: Target, members: number): Promise<Row> {
  const pool = new LoadgenPool(2);
  const cluster = await startCluster(target.kind, parseOptions([]), {
    inspect: true,
    env: { REDIS_COMMAND_TIMEOUT_MS: '60000' },
    ...(target.main ? { main: target.main } : {}),
  });
  try {
    const inspectors = await Promise.all(cluster.nodes.map((n) => Inspector.connect(n.inspectorUrl as string)));
    const pids = cluster.nodes.map((n) => n.pid as number);
    const before = await settledMemory(inspectors, pids);
    const joined = await joinIdleRooms(pool, target.kind, cluster.urls, members, roomSize, `rss-${Date.now().toString(36)}-`);
    const after = await settledMemory(inspectors, pids, 3000);
    for (const i of inspectors) i.close();
    const perNode = joined / 2;
    const rss = after.map((a, i) => (a.rss - (before[i]?.rss ?? 0)) / perNode);
    const heap = after.map((a, i) => (a.heapUsed - (before[i]?.heapUsed ?? 0)) / perNode);
    const row: Row = {
      label: target.label,
      members: joined,
      rssPerMember: Math.round((rss[0]! + rss[1]!) / 2),
      heapPerMember: Math.round((heap[0]! + heap[1]!) / 2),
      rssMb: after.map((a) => Math.round(a.rss / 2 ** 20)),
      load1: load1(),
    };
    say(
      `| ${row.label} | ${joined} | ${(row.rssPerMember / 1024).toFixed(2)} KB | ${(row.heapPerMember / 1024).toFixed(2)} KB | ${row.rssMb.join(' / ')} | ${row.load1} |`,
    );
    return row;
  } finally {
    await pool.all({ cmd: 'close' }).catch(() => undefined);
    pool.stop();
    await cluster.stop();
  }
}

killOnExit(liveServers);
mkdirSync(RESULTS, { recursive: true });
say(`idle joined members in rooms of ${roomSize}, half on each dyno; RSS after a forced GC; load ${load1()}`);
say('| target | members | RSS per member | heap per member | RSS MB node-0 / node-1 | load1 |\n|---|--:|--:|--:|--:|--:|');
const rows: Row[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const members of sizes) for (const target of targets) rows.push(await measure(target, members));
}
const file = join(RESULTS, `idle-rss-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify({ roomSize, rows }, null, 2)}\n`);
say(`results: ${file}`);
process.exit(0);
