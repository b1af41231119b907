/**
 * Reproduced a bug of the Redis Cluster backend, now fixed (docs/scaling.md, "Fixed"):
 * with N pairs joining concurrently over two dynos on a three-master cluster, a dyno using
 * one ioredis client for commands and sharded subscriptions stopped receiving one shard's
 * messages. Kept to check a dyno against it: every peer-joined and signal must arrive.
 * Usage: node bench/cluster-loss-repro.ts [pairs, default 60]
 */
import { startDyno } from '../test/fixtures/dyno.ts';
import { startRedisCluster } from '../test/fixtures/redis-cluster.ts';
import { TestClient } from '../test/fixtures/test-client.ts';

const cluster = await startRedisCluster({ masters: 3 });
const env = { REDIS_CLUSTER_NODES: cluster.seeds, RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };
const dynos = [await startDyno({ env }), await startDyno({ env })];
const n = Number(process.argv[2] ?? 60);
const pairs = await Promise.all(
  Array.from({ length: n }, async (_, i) => {
    const a = await TestClient.connect(dynos[0]!.wsUrl());
    const b = await TestClient.connect(dynos[1]!.wsUrl());
    const joined = (await a.join(`room-${i}`, 'a')).type === 'joined' && (await b.join(`room-${i}`, 'b')).type === 'joined';
    return { a, b, joined, i };
  }),
);
const peerJoined = await Promise.all(
  pairs.map((p) =>
    p.a.next(3000).then(
      (f) => f.type === 'peer-joined',
      () => false,
    ),
  ),
);
for (const p of pairs) p.a.send({ type: 'signal', to: 'b', data: { i: p.i } });
const delivered = await Promise.all(
  pairs.map((p) =>
    p.b.next(3000).then(
      (f) => f.type === 'signal',
      () => false,
    ),
  ),
);
console.log(
  `${n} pairs: joined ${pairs.filter((p) => p.joined).length}, peer-joined heard ${peerJoined.filter(Boolean).length}, signals delivered ${delivered.filter(Boolean).length}`,
);
for (const p of pairs) {
  p.a.ws.terminate();
  p.b.ws.terminate();
}
await Promise.all(dynos.map((d) => d.stop()));
await cluster.stop();
process.exit(0);
