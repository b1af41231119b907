/**
 * `node bench/heap-breakdown.ts`: what one idle joined member costs in a dyno's JS heap, by
 * kind of object. Heap snapshots of node-0 (after a full GC) before and after `--members`
 * members join over two dynos in rooms of `--room-size` and sit idle; prints the growth per
 * member on node-0 by constructor (objects), by function (closures), strings, arrays and
 * V8's internal kinds. With --base, another checkout's dynos are measured first, in the same run.
 * Usage: node bench/heap-breakdown.ts [--members 6000] [--room-size 4] [--base /path/to/base/src/main.ts]
 */
import { parseArgs } from 'node:util';
import { liveServers, startCluster } from './lib/cluster.ts';
import { growth, heapByKind } from './lib/heap-snapshot.ts';
import { joinIdleRooms } from './lib/idle-rooms.ts';
import { LoadgenPool } from './lib/loadgen-pool.ts';
import { parseOptions } from './lib/options.ts';
import { load1 } from './lib/proc-stats.ts';
import { killOnExit } from './lib/servers.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '6000' },
    'room-size': { type: 'string', default: '4' },
    base: { type: 'string' },
    top: { type: 'string', default: '30' },
  },
});
const say = (line: string): void => void process.stdout.write(`${line}\n`);
const members = Number(values.members);
const roomSize = Number(values['room-size']);
const builds: Array<{ label: string; main?: string }> = [
  ...(values.base ? [{ label: 'before', main: values.base }] : []),
  { label: 'after' },
];

killOnExit(liveServers);
say(`${members} idle members in rooms of ${roomSize} over two dynos; node-0's heap; load ${load1()}`);
for (const build of builds) {
  const pool = new LoadgenPool(2);
  const cluster = await startCluster('signaling', parseOptions([]), {
    inspect: true,
    env: { REDIS_COMMAND_TIMEOUT_MS: '60000' },
    ...(build.main ? { main: build.main } : {}),
  });
  try {
    const url = cluster.nodes[0].inspectorUrl as string;
    const before = await heapByKind(url);
    await joinIdleRooms(pool, 'signaling', cluster.urls, members, roomSize, `heap-${Date.now().toString(36)}-`);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await heapByKind(url);
    const perNode = members / 2;
    const rows = growth(before, after, perNode, Number(values.top));
    const total = growth(before, after, perNode, Infinity).reduce((n, r) => n + r.bytes, 0);
    say(`\n== ${build.label}: ${total.toFixed(0)} B of JS heap per member on node-0 (${perNode} members); load ${load1()}`);
    say('| kind | per member | bytes per member |\n|---|--:|--:|');
    for (const r of rows) say(`| ${r.kind.replace(/\|/g, '\\|')} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} |`);
  } finally {
    await pool.all({ cmd: 'close' }).catch(() => undefined);
    pool.stop();
    await cluster.stop();
  }
}
process.exit(0);
