import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis } from '../fixtures/redis.ts';
import { DEFAULT_REDIS_IMAGE } from '../fixtures/redis-container.ts';
import { docker, requireEngine } from './docker-cli.ts';

/**
 * The testcontainers path of the Redis fixture, against a real engine: what every
 * Redis-backed suite runs on when `npm test` has an engine (REDIS_URL unset).
 */
describe('Redis fixture with a container engine', () => {
  // REDIS_URL would come first (the users' order of preference); this file is about the next way.
  const givenUrl = process.env['REDIS_URL'];
  beforeAll(() => {
    delete process.env['REDIS_URL'];
  });
  afterAll(() => {
    if (givenUrl !== undefined) process.env['REDIS_URL'] = givenUrl;
  });

  it('starts REDIS_IMAGE through testcontainers, on 127.0.0.1 only, and removes it on stop()', async () => {
    await requireEngine();
    const before = new Set((await docker(['ps', '-aq', '--no-trunc'])).split('\n'));
    const redis = await startRedis();
    try {
      expect(redis.kind).toBe('testcontainers');
      const ids = (await docker(['ps', '-aq', '--no-trunc'])).split('\n').filter((id) => id && !before.has(id));
      expect(ids).toHaveLength(1);
      const id = ids[0] as string;
      expect(await docker(['inspect', '-f', '{{.Config.Image}}', id])).toBe(process.env['REDIS_IMAGE'] || DEFAULT_REDIS_IMAGE);
      const bindings = JSON.parse(await docker(['inspect', '-f', '{{json .HostConfig.PortBindings}}', id])) as Record<
        string,
        Array<{ HostIp: string }>
      >;
      expect(bindings['6379/tcp']?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);

      const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      client.disconnect();
      await redis.stop();
      expect(await docker(['ps', '-aq', '--no-trunc', '--filter', `id=${id}`])).toBe('');
    } finally {
      await redis.stop().catch(() => undefined);
    }
  });

  it('controllable: kill() takes the container down, restart() brings an empty Redis back on the same port', async () => {
    const redis = await startRedis({ controllable: true });
    try {
      expect(redis.kind).toBe('testcontainers');
      const client = new Redis(redis.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      client.on('error', () => {});
      await client.connect();
      await client.set('k', 'v');
      await redis.kill();
      await expect(client.ping()).rejects.toThrow();
      await redis.restart();
      const again = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      await again.connect();
      expect(await again.get('k')).toBeNull();
      again.disconnect();
      client.disconnect();
    } finally {
      await redis.stop();
    }
  });
});
