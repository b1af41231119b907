import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis, uniquePrefix, type RedisFixture } from '../fixtures/redis.ts';
import { pingOnce } from '../fixtures/redis-ping.ts';

// The fixture is what every Redis-backed suite stands on; if it lies (wrong URL,
// stale data after restart, a second port) those suites fail confusingly or pass wrongly.

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function client(fixture: RedisFixture): Redis {
  // No retries: a test asserting "this server is down" must see the failure at once.
  const redis = new Redis(fixture.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // expected while the server is killed; assertions cover it
  cleanup.push(async () => {
    redis.disconnect();
  });
  return redis;
}

function port(fixture: RedisFixture): number {
  return Number(new URL(fixture.url).port);
}

describe('startRedis()', () => {
  it('gives a Redis that answers PING and keeps keys under a unique prefix', async () => {
    const fixture = await startRedis();
    cleanup.push(() => fixture.stop());
    const redis = client(fixture);
    await redis.connect();
    expect(await redis.ping()).toBe('PONG');

    const a = uniquePrefix('fixture test');
    const b = uniquePrefix('fixture test');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_:-]+$/);
    await redis.set(`${a}k`, '1');
    expect(await redis.get(`${b}k`)).toBeNull();
    await redis.del(`${a}k`);
  });

  it('controllable: kill() takes Redis down and restart() brings an empty one back on the same port', async () => {
    const fixture = await startRedis({ controllable: true });
    cleanup.push(() => fixture.stop());
    expect(['binary', 'testcontainers']).toContain(fixture.kind);
    const key = `${uniquePrefix('restart')}k`;

    const before = client(fixture);
    await before.connect();
    await before.set(key, 'v');
    expect(await before.get(key)).toBe('v');

    await fixture.kill();
    // Raw PING, not ioredis: its error text for a refused connection varies by state.
    expect(await pingOnce(port(fixture))).toBe(false);
    await expect(before.get(key)).rejects.toThrow();

    await fixture.restart();
    const after = client(fixture);
    await after.connect();
    expect(await after.ping()).toBe('PONG');
    expect(await after.get(key)).toBeNull(); // no persistence: a fresh server
  });

  it('stop() frees the server', async () => {
    const fixture = await startRedis({ controllable: true });
    expect(await pingOnce(port(fixture))).toBe(true);
    await fixture.stop();
    expect(await pingOnce(port(fixture))).toBe(false);
  });
});
