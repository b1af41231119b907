/**
 * The crash-sweep index: how big a dyno's index gets over join/leave
 * cycles, and how long sweeping a dead dyno's members takes one script at a time versus the
 * batched sweep LeasesAndSweeps runs. Real Redis (a redis-server this script starts).
 * Usage: node bench/sweep-index.ts [members, default 2000] [runs, default 5]
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { RedisBackend } from '../src/backends/redis/redis-backend.ts';
import type { IndexedMember } from '../src/cluster/backend.ts';
import { NodeKeys, RoomKeys } from '../src/cluster/keys.ts';
import { LeasesAndSweeps } from '../src/cluster/leases-and-sweeps.ts';
import type { SessionSink } from '../src/cluster/session.ts';
import { SignalingNode } from '../src/cluster/signaling-node.ts';
import { startRedis } from '../test/fixtures/redis.ts';

const members = Number(process.argv[2] ?? 2000);
const runs = Number(process.argv[3] ?? 5);
const log = pino({ level: 'silent' });
const redis = await startRedis({ controllable: true });
const admin = new Redis(redis.url);

async function backend(prefix: string, nodeId: string): Promise<RedisBackend> {
  const b = new RedisBackend({ url: redis.url, tlsVerify: false, commandTimeoutMs: 10_000, prefix }, nodeId, log);
  await b.connect();
  return b;
}

const sink: SessionSink = { joined: () => undefined, peerJoined: () => undefined, peerLeft: () => undefined, deliver: () => undefined };

// 1. Index size after join/leave cycles through the core.
{
  const prefix = 'bench:cycles:';
  const b = await backend(prefix, 'cycler');
  const node = new SignalingNode(b, { nodeId: 'cycler', prefix, maxRoomSize: 16, graceMs: 0, leaseMs: 15_000, maxHeld: 16, logger: log });
  for (let i = 0; i < members; i++) {
    const session = node.createSession('v1', `c${i}`, sink, log);
    await session.join(`room-${i % 50}`, `m${i}`);
    await session.leave();
  }
  while (node.pendingCleanups > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const entries = await admin.scard(new NodeKeys(prefix).members('cycler'));
  console.log(`index entries after ${members} join/leave cycles: ${entries}`);
  node.stop();
  await b.close();
}

/** A dead dyno with `members` registered and indexed members, its lease over. */
async function deadDyno(prefix: string): Promise<{ b: RedisBackend; index: IndexedMember[] }> {
  const b = await backend(prefix, 'sweeper');
  const index: IndexedMember[] = [];
  await Promise.all(
    Array.from({ length: members }, async (_, i) => {
      const keys = new RoomKeys(prefix, 'v1', `room-${i % 50}`);
      const ref = { membersKey: keys.members, holdKey: keys.holdKey(`m${i}`), name: `m${i}` };
      const owner = `dead/c${i}`;
      await b.indexMember('dead', ref, owner);
      await b.register({ ...ref, owner, secretHash: 'x', maxRoomSize: members });
      index.push({ ...ref, owner });
    }),
  );
  await b.releaseLease('dead');
  return { b, index };
}

// 2. Sweeping: two passes (start the grace, then remove), one script at a time versus batched.
const sequential: number[] = [];
const batched: number[] = [];
for (let run = 0; run < runs; run++) {
  {
    const { b, index } = await deadDyno(`bench:seq${run}:`);
    const started = performance.now();
    for (let pass = 0; pass < 2; pass++) for (const m of index) await b.sweepMember('dead', m, 0);
    sequential.push(performance.now() - started);
    await b.close();
  }
  {
    const { b } = await deadDyno(`bench:batch${run}:`);
    const liveness = new LeasesAndSweeps(b, { nodeId: 'sweeper', leaseMs: 15_000, graceMs: 0, logger: log });
    const started = performance.now();
    await liveness.sweep();
    // The first pass starts each member's grace (0 ms here); the lock is held for the lease, so release it.
    await admin.del(new NodeKeys(`bench:batch${run}:`).sweepLock('dead'));
    await b.releaseLease('dead');
    await liveness.sweep();
    batched.push(performance.now() - started);
    await b.close();
  }
}
const median = (xs: number[]): number => [...xs].sort((a, c) => a - c)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`sweep of ${members} members, two passes, median of ${runs} runs:`);
console.log(`  one script at a time: ${median(sequential).toFixed(0)} ms`);
console.log(
  `  batched (LeasesAndSweeps): ${median(batched).toFixed(0)} ms  (${(median(sequential) / median(batched)).toFixed(1)}x faster)`,
);
admin.disconnect();
await redis.stop();
process.exit(0);
