import type { TargetKind } from './bench-client.ts';
import type { LoadgenPool } from './loadgen-pool.ts';
import type { StormPrepareCommand, WorkerReply } from './worker-protocol.ts';

/**
 * Opens `count` members in rooms of `size` (member j of a room on dyno j % 2, so each room
 * spans both) and joins them; they stay open and idle until the pool is told to close.
 * socket.io has no peers list, so its members only wait for their own `joined`. Resolves
 * to the number of members that completed their join.
 */
export async function joinIdleRooms(
  pool: LoadgenPool,
  kind: TargetKind,
  urls: [string, string],
  count: number,
  size: number,
  prefix: string,
): Promise<number> {
  const byWorker: Array<StormPrepareCommand['members']> = pool.workers.map(() => []);
  for (let r = 0; r * size < count; r++) {
    const n = Math.min(size, count - r * size);
    for (let j = 0; j < n; j++) {
      byWorker[r % byWorker.length]?.push({
        room: `${prefix}${r}`,
        name: `m${j}`,
        dyno: (j % 2) as 0 | 1,
        expectedPeers: kind === 'signaling' ? n - 1 : 0,
      });
    }
  }
  await pool.run(byWorker.map((list) => ({ cmd: 'storm-prepare', kind, urls, members: list })));
  const replies = await pool.all<Extract<WorkerReply, { cmd: 'storm-go' }>>({
    cmd: 'storm-go',
    startAt: performance.timeOrigin + performance.now() + 300,
    timeoutMs: 120_000,
  });
  const incomplete = replies.reduce((n, r) => n + r.report.incomplete, 0);
  // On a loaded machine some joins miss the deadline: say so, and count only the ones that joined.
  if (incomplete > 0)
    process.stderr.write(
      `${incomplete} of ${count} members did not complete their join: ${JSON.stringify(replies.map((r) => r.report.errors))}\n`,
    );
  return count - incomplete;
}
