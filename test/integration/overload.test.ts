import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dyno } from '../fixtures/dyno.ts';
import { startDyno } from '../fixtures/dyno.ts';
import type { ControllableRedisFixture } from '../fixtures/redis.ts';
import { startRedis, uniquePrefix } from '../fixtures/redis.ts';
import { redisCli } from '../fixtures/redis-cli.ts';
import { TestClient } from '../fixtures/test-client.ts';

/**
 * The lean version of bench/overload.ts: senders on one dyno flood receivers on the other
 * with 20 KB signals far faster than MAX_INFLIGHT_BYTES lets through. Every signal is either
 * delivered or refused with `overloaded` (none vanish), the bound was really hit, the dynos'
 * RSS stays bounded and Redis keeps both subscriber connections. No timings are asserted.
 */
const SENDERS = 12;
const PER_SENDER = 150;

let redis: ControllableRedisFixture;
const dynos: Dyno[] = [];

function rssMb(d: Dyno): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${d.process.pid}/status`, 'utf8'))?.[1]) / 1024;
}

async function pubsubIds(port: number): Promise<string[]> {
  return [...(await redisCli(port, 'CLIENT', 'LIST', 'TYPE', 'pubsub')).matchAll(/id=(\d+)/g)].map((m) => m[1] as string).sort();
}

beforeAll(async () => {
  redis = await startRedis({ controllable: true });
  const env = {
    REDIS_URL: redis.url,
    REDIS_PREFIX: uniquePrefix('overload'),
    // The lowest bound config allows (four signals of MAX_SIGNAL_BYTES): twelve senders with a
    // 20 KB signal each in flight pass it every run, not only when the box is slow.
    MAX_INFLIGHT_BYTES: String(96 * 1024),
    // The receivers here are test clients sharing this process's CPU: not cut as slow readers.
    MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
    RATE_LIMIT_PER_SEC: '100000',
    RATE_LIMIT_BURST: '100000',
    RATE_LIMIT_BYTES_PER_SEC: String(1024 ** 3),
    RATE_LIMIT_BYTES_BURST: String(1024 ** 3),
  };
  for (let i = 0; i < 2; i++) dynos.push(await startDyno({ env }));
});

afterAll(async () => {
  await Promise.all(dynos.map((d) => d.stop()));
  await redis?.stop();
});

describe('overload', () => {
  it('refuses with overloaded past MAX_INFLIGHT_BYTES, loses nothing silently, keeps RSS and the subscribers', async () => {
    const port = Number(new URL(redis.url).port);
    const subscribersBefore = await pubsubIds(port);
    const pairs = await Promise.all(
      Array.from({ length: SENDERS }, async (_, p) => {
        const sender = await TestClient.connect(dynos[0]!.wsUrl());
        const receiver = await TestClient.connect(dynos[1]!.wsUrl());
        expect((await receiver.join(`o-${p}`, 'r')).type).toBe('joined');
        expect((await sender.join(`o-${p}`, 's')).type).toBe('joined');
        await receiver.expect('peer-joined');
        return { sender, receiver };
      }),
    );
    const payload = 'a=candidate '.repeat(1700);
    for (const { sender } of pairs)
      for (let i = 0; i < PER_SENDER; i++) sender.send({ type: 'signal', to: 'r', data: { i, payload }, id: i });
    let delivered = 0;
    let refused = 0;
    const other: string[] = [];
    let peakRss = 0;
    await Promise.all(
      pairs.map(async ({ sender, receiver }) => {
        const settled = new Set<number>();
        const deadline = Date.now() + 30_000;
        while (settled.size < PER_SENDER && Date.now() < deadline) {
          peakRss = Math.max(peakRss, ...dynos.map(rssMb));
          const got = await receiver.next(20).catch(() => null);
          if (got?.type === 'signal') {
            settled.add((got['data'] as { i: number }).i);
            delivered++;
          }
          const reply = await sender.next(5).catch(() => null);
          if (reply?.type === 'error' && reply['code'] === 'overloaded') {
            settled.add(Number(reply['id']));
            refused++;
          } else if (reply) other.push(JSON.stringify(reply));
        }
      }),
    );
    console.log(`overload: sent ${SENDERS * PER_SENDER}, delivered ${delivered}, refused ${refused}, peak RSS ${peakRss.toFixed(0)} MB`);
    expect(other).toEqual([]);
    expect(delivered + refused).toBe(SENDERS * PER_SENDER);
    expect(refused).toBeGreaterThan(0);
    expect(peakRss).toBeLessThan(400);
    expect(await pubsubIds(port)).toEqual(subscribersBefore);
    for (const { sender, receiver } of pairs) {
      sender.ws.terminate();
      receiver.ws.terminate();
    }
  }, 60_000);
});
