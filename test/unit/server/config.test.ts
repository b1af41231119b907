import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';
import { DEFAULTS, WEBHOOK_DEFAULTS } from '../../../src/config/defaults.ts';

describe('loadConfig', () => {
  it('has working defaults: embedded backend on port 3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, redisUrl: undefined, maxMessageBytes: 65536, maxRoomSize: 8, redisPrefix: 'sig:' });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      REDIS_URL: 'rediss://:pw@example.test:6380',
      REDIS_PREFIX: 'app:',
      REDIS_TLS_VERIFY: 'true',
      MAX_MESSAGE_BYTES: '1024',
      MAX_ROOM_SIZE: '4',
      LOG_LEVEL: 'debug',
      DYNO: 'web.3',
    });
    expect(config).toMatchObject({
      port: 8080,
      redisUrl: 'rediss://:pw@example.test:6380',
      redisPrefix: 'app:',
      redisTlsVerify: true,
      maxMessageBytes: 1024,
      maxRoomSize: 4,
      logLevel: 'debug',
    });
    expect(config.nodeId).toMatch(/^web\.3-[0-9a-f]{6}$/);
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', MAX_MESSAGE_BYTES: '-1', REDIS_PREFIX: '{x}' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'REDIS_URL', 'MAX_MESSAGE_BYTES', 'REDIS_PREFIX']) expect(message).toContain(name);
    expect((error as ConfigError).problems).toHaveLength(4);
  });

  it('admission control: MAX_CONNECTIONS and MAX_JOINS_PER_SEC on by default, per-address limits off unless set', () => {
    expect(loadConfig({}).admission).toEqual({
      maxConnections: 40_000,
      maxConnectionsPerIp: undefined,
      connectionsPerIpPerMin: undefined,
      maxJoinsPerSec: 1000,
    });
    expect(
      loadConfig({ MAX_CONNECTIONS: '500', MAX_CONNECTIONS_PER_IP: '20', CONNECTIONS_PER_IP_PER_MIN: '60', MAX_JOINS_PER_SEC: '50' })
        .admission,
    ).toEqual({
      maxConnections: 500,
      maxConnectionsPerIp: 20,
      connectionsPerIpPerMin: 60,
      maxJoinsPerSec: 50,
    });
    let error: unknown;
    try {
      loadConfig({ MAX_CONNECTIONS: '0', MAX_CONNECTIONS_PER_IP: 'ten', CONNECTIONS_PER_IP_PER_MIN: '-3', MAX_JOINS_PER_SEC: '1.5' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['MAX_CONNECTIONS=', 'MAX_CONNECTIONS_PER_IP=', 'CONNECTIONS_PER_IP_PER_MIN=', 'MAX_JOINS_PER_SEC='])
      expect(problems).toContain(name);
  });

  it('validates REDIS_COMMAND_TIMEOUT_MS (default 5000, 100 to 60000)', () => {
    expect(loadConfig({}).redisCommandTimeoutMs).toBe(5000);
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '250' }).redisCommandTimeoutMs).toBe(250);
    for (const bad of ['0', '99', '60001', 'soon']) {
      expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: bad })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
    }
  });
});

describe('byte limits (MAX_INFLIGHT_BYTES and friends)', () => {
  it('has defaults sized for a 512 MB dyno and a 16 KB SDP', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      maxInflightBytes: 32 * 1024 * 1024,
      maxLoopLagMs: 200,
      maxSignalBytes: 24 * 1024,
      maxHeldBytes: 512 * 1024,
      rateLimitBytesPerSec: 128 * 1024,
      rateLimitBytesBurst: 512 * 1024,
    });
  });

  it('refuses limits that contradict each other, naming both variables', () => {
    const problems = (env: Record<string, string>): string[] => {
      try {
        loadConfig(env);
        return [];
      } catch (error) {
        return (error as ConfigError).problems;
      }
    };
    expect(problems({ MAX_SIGNAL_BYTES: '70000' }).join()).toMatch(/MAX_SIGNAL_BYTES.*MAX_MESSAGE_BYTES/);
    expect(problems({ MAX_HELD_BYTES: '2000000' }).join()).toMatch(/MAX_HELD_BYTES.*MAX_BUFFERED_BYTES/);
    expect(problems({ RATE_LIMIT_BYTES_BURST: '2048' }).join()).toMatch(/RATE_LIMIT_BYTES_BURST.*MAX_MESSAGE_BYTES/);
    expect(problems({ MAX_INFLIGHT_BYTES: '65536' }).join()).toMatch(/MAX_INFLIGHT_BYTES/);
    expect(problems({ MAX_INFLIGHT_BYTES: 'lots' }).join()).toMatch(/MAX_INFLIGHT_BYTES="lots"/);
    expect(problems({ MAX_LOOP_LAG_MS: '0' }).join()).toMatch(/MAX_LOOP_LAG_MS/);
  });

  it('HANDOVER_TIMEOUT_MS: 1000 by default, validated at start', () => {
    expect(loadConfig({}).handoverTimeoutMs).toBe(1000);
    expect(loadConfig({ HANDOVER_TIMEOUT_MS: '2500' }).handoverTimeoutMs).toBe(2500);
    for (const bad of ['5', 'soon', '600000']) expect(() => loadConfig({ HANDOVER_TIMEOUT_MS: bad }), bad).toThrow(/HANDOVER_TIMEOUT_MS/);
  });

  it('documents every default as [NAME=default] beside the defaults object, and README lists each variable', () => {
    const source = readFileSync(new URL('../../../src/config/defaults.ts', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const documented = [...source.matchAll(/\[([A-Z_]+)=([^\]]+)\]/g)].map(
      ([, name, value]) => [name as string, (value as string).replace(/^'|'$/g, '')] as const,
    );
    const values = [...Object.values(DEFAULTS), ...Object.values(WEBHOOK_DEFAULTS)].map(String);
    expect(documented.length).toBe(values.length);
    for (const [name, value] of documented) {
      expect(values, name).toContain(value);
      expect(readme, name).toContain(`\`${name}\``);
    }
  });
});
