import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster, Dyno } from '../fixtures/dyno.ts';
import { startCluster } from '../fixtures/dyno.ts';
import type { Haproxy } from '../fixtures/haproxy.ts';
import { startHaproxy } from '../fixtures/haproxy.ts';
import type { RedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { joined } from '../fixtures/test-client.ts';
import type { Frame, TestClient } from '../fixtures/test-client.ts';

/** 'connection open' log lines of a dyno: one per WebSocket it accepted. */
function connectionsOpened(dyno: Dyno): number {
  return dyno.output.filter((line) => line.includes('"connection open"')).length;
}

/**
 * Connections each dyno logged since `before`, once `total` are logged: the log lines come
 * through a pipe, so they may trail the WebSocket replies by a moment.
 */
async function landedSince(dynos: Dyno[], before: number[], total: number): Promise<number[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const landed = dynos.map((d, i) => connectionsOpened(d) - (before[i] as number));
    if (landed.reduce((a, b) => a + b, 0) >= total || Date.now() > deadline) return landed;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The next frame of `type`, skipping room events that may arrive first. */
async function nextOf(client: TestClient, type: string): Promise<Frame> {
  for (;;) {
    const frame = await client.next();
    if (frame.type === type) return frame;
  }
}

/**
 * deploy/haproxy/haproxy.cfg, the file docker-compose.yml mounts, run by Debian's haproxy in
 * front of three real dyno processes sharing one Redis: the compose topology on loopback.
 */
describe('load balancer (deploy/haproxy/haproxy.cfg) in front of three dynos', () => {
  let redis: RedisFixture;
  let cluster: Cluster;
  let lb: Haproxy;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startCluster('redis', { redisUrl: redis.url, dynos: 3, env: { REDIS_PREFIX: uniquePrefix('lb') } });
    lb = await startHaproxy(cluster.dynos.map((d) => `127.0.0.1:${d.port}`));
  });

  afterAll(async () => {
    for (const c of clients) c.ws.terminate();
    await lb?.stop();
    await cluster?.stop();
    await redis?.stop();
  });

  it('spreads WebSockets over every dyno, and the members still signal each other', async () => {
    const before = cluster.dynos.map(connectionsOpened);
    const names = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
    for (const name of names) clients.push(await joined(lb.wsUrl(), 'lb-room', name));
    const landed = await landedSince(cluster.dynos, before, names.length);
    // Round robin without stickiness: six connections, two per dyno.
    expect(landed).toEqual([2, 2, 2]);

    const [first, ...others] = clients as [TestClient, ...TestClient[]];
    for (const [i, other] of others.entries()) {
      first.send({ type: 'signal', to: names[i + 1], data: { candidate: { candidate: `c${i}` } } });
      expect(await nextOf(other, 'signal')).toEqual({ type: 'signal', from: 'p0', data: { candidate: { candidate: `c${i}` } } });
      other.send({ type: 'signal', to: 'p0', data: { n: i } });
    }
    const replies = new Set<unknown>();
    while (replies.size < others.length) replies.add((await nextOf(first, 'signal'))['from']);
    expect([...replies].sort()).toEqual(names.slice(1));
  });

  it('answers plain HTTP through the balancer from different dynos', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${lb.httpUrl}/healthz`, { headers: { connection: 'close' } });
      seen.add(((await res.json()) as { node: string }).node);
    }
    expect(seen.size).toBe(3);
  });

  it('stops routing to a dyno that fails its /readyz health check', async () => {
    const victim = cluster.dynos[2] as Dyno;
    await victim.stop();
    const before = cluster.dynos.map(connectionsOpened);
    const deadline = Date.now() + 10_000;
    while (!/dynos,s3,[^\n]*,DOWN/.test(await lb.admin('show stat'))) {
      if (Date.now() > deadline) throw new Error('haproxy did not mark s3 DOWN');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const extra: TestClient[] = [];
    for (const name of ['q0', 'q1', 'q2', 'q3']) extra.push(await joined(lb.wsUrl(), 'lb-room-2', name));
    clients.push(...extra);
    expect(await landedSince(cluster.dynos, before, extra.length)).toEqual([2, 2, 0]);
  });
});
