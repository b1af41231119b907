import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { RedisClusterFixture } from '../fixtures/redis-cluster.ts';
import { startRedisCluster } from '../fixtures/redis-cluster.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * Many members joining at once over two dynos on a three-master cluster, while each dyno's
 * readiness probe publishes: a single client for commands and sharded subscriptions lost a
 * shard's messages in exactly this situation (every peer-joined and signal must arrive).
 */
describe('Redis Cluster under concurrent joins', () => {
  let cluster: RedisClusterFixture;
  const dynos: Dyno[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const env = { REDIS_CLUSTER_NODES: cluster.seeds, RATE_LIMIT_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };
    dynos.push(await startDyno({ env }), await startDyno({ env }));
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await Promise.all(dynos.map((d) => d.stop()));
    await cluster?.stop();
  });

  it('delivers every peer-joined and every signal for 60 rooms joined at once', async () => {
    const probes = setInterval(() => {
      for (const d of dynos) void fetch(`${d.httpUrl}/readyz`).catch(() => undefined);
    }, 50);
    try {
      const pairs = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const a = await TestClient.connect(dynos[0]!.wsUrl());
          const b = await TestClient.connect(dynos[1]!.wsUrl());
          clients.push(a, b);
          expect((await a.join(`load-${i}`, 'a')).type).toBe('joined');
          expect((await b.join(`load-${i}`, 'b')).type).toBe('joined');
          return { a, b, i };
        }),
      );
      const heard = await Promise.all(
        pairs.map((p) =>
          p.a.next(5000).then(
            (f) => f.type,
            () => 'nothing',
          ),
        ),
      );
      expect(heard.filter((t) => t === 'peer-joined')).toHaveLength(60);
      for (const p of pairs) p.a.send({ type: 'signal', to: 'b', data: { i: p.i } });
      const got = await Promise.all(
        pairs.map((p) =>
          p.b.next(5000).then(
            (f) => f['data'],
            () => null,
          ),
        ),
      );
      expect(got).toEqual(pairs.map((p) => ({ i: p.i })));
    } finally {
      clearInterval(probes);
    }
  });
});
