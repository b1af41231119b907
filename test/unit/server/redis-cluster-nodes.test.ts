import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';
import { redisClusterNodes } from '../../../src/config/redis-cluster-nodes.ts';

describe('REDIS_CLUSTER_NODES', () => {
  it('takes plain host:port seeds', () => {
    expect(redisClusterNodes(' 10.0.0.1:7000, redis-2.internal:7001 ,')).toEqual({
      ok: true,
      value: {
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: 'redis-2.internal', port: 7001 },
        ],
        tls: false,
        username: undefined,
        password: undefined,
      },
    });
  });

  it('takes URLs as REDIS_URL does: TLS, user and password shared by plain seeds', () => {
    expect(redisClusterNodes('rediss://default:p%40ss@a.example:6380,b.example:6380,[::1]:6381')).toEqual({
      ok: true,
      value: {
        nodes: [
          { host: 'a.example', port: 6380 },
          { host: 'b.example', port: 6380 },
          { host: '::1', port: 6381 },
        ],
        tls: true,
        username: 'default',
        password: 'p@ss',
      },
    });
  });

  it.each([
    ['', 'lists no nodes'],
    ['http://a:1', 'http:'],
    ['a', 'without a port'],
    ['redis://a:1/2', 'database 2'],
    ['redis://a:1,rediss://b:1', 'mixes'],
    ['redis://:one@a:1,redis://:two@b:1', 'different credentials'],
  ])('refuses %j', (raw, problem) => {
    const parsed = redisClusterNodes(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(problem);
  });

  it('never shows a password in the start-up error, and refuses REDIS_URL alongside', () => {
    let error: unknown;
    try {
      loadConfig({ REDIS_CLUSTER_NODES: 'redis://:hunter2@a:1,redis://:other@b:1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('REDIS_CLUSTER_NODES');
    expect((error as ConfigError).message).not.toContain('hunter2');
    expect(() => loadConfig({ REDIS_URL: 'redis://x:1', REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/REDIS_URL and REDIS_CLUSTER_NODES/);
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:1' }).redisCluster?.nodes).toEqual([{ host: 'a', port: 1 }]);
  });
});
