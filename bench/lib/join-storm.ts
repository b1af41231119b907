import type { BenchCluster } from './cluster.ts';
import type { LoadgenPool } from './loadgen-pool.ts';
import type { StormPrepareCommand, WorkerReply } from './worker-protocol.ts';

export interface JoinStormResult {
  members: number;
  rooms: number;
  /** From the first join sent to the last member that had its joined and all its peers. */
  ms: number;
  completed: number;
  incomplete: number;
  errors: Record<string, number>;
}

/**
 * `members` sockets are opened first (not timed); then every member sends its join at once.
 * Member j of a room connects to node j % 2, so each room spans both nodes. A member is
 * complete when it has `joined` and has heard of every other member of its room, in `peers`
 * or by `peer-joined`.
 */
export async function runJoinStorm(pool: LoadgenPool, cluster: BenchCluster, members: number, rooms: number): Promise<JoinStormResult> {
  const perRoom = Math.ceil(members / rooms);
  const prefix = `storm-${Date.now().toString(36)}-`;
  const byWorker: Array<StormPrepareCommand['members']> = pool.workers.map(() => []);
  for (let r = 0; r < rooms; r++) {
    const size = Math.min(perRoom, members - r * perRoom);
    for (let j = 0; j < size; j++) {
      // Rooms are dealt to workers whole, so every worker's members see the same storm.
      byWorker[r % byWorker.length]?.push({ room: `${prefix}${r}`, name: `m${j}`, dyno: (j % 2) as 0 | 1, expectedPeers: size - 1 });
    }
  }
  await pool.run(byWorker.map((list) => ({ cmd: 'storm-prepare', kind: cluster.kind, urls: cluster.urls, members: list })));
  const startAt = performance.timeOrigin + performance.now() + 300;
  const replies = await pool.all<Extract<WorkerReply, { cmd: 'storm-go' }>>({ cmd: 'storm-go', startAt, timeoutMs: 15_000 });
  const reports = replies.map((r) => r.report);
  const errors: Record<string, number> = {};
  for (const r of reports) for (const [code, n] of Object.entries(r.errors)) errors[code] = (errors[code] ?? 0) + n;
  const first = Math.min(...reports.map((r) => r.firstSend));
  const last = Math.max(...reports.map((r) => r.lastComplete));
  await pool.all({ cmd: 'close' });
  return {
    members,
    rooms,
    ms: Math.round(last - first),
    completed: reports.reduce((n, r) => n + r.completed, 0),
    incomplete: reports.reduce((n, r) => n + r.incomplete, 0),
    errors,
  };
}
