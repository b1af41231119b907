import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';

describe('loadConfig', () => {
  it('has working defaults: embedded backend on port 3000', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 3000, redisUrl: undefined, maxMessageBytes: 65536, maxRoomSize: 16, redisPrefix: 'sig:' });
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
    expect(config).toMatchObject({ port: 8080, redisUrl: 'rediss://:pw@example.test:6380', redisPrefix: 'app:', redisTlsVerify: true, maxMessageBytes: 1024, maxRoomSize: 4, logLevel: 'debug' });
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

  it('validates REDIS_COMMAND_TIMEOUT_MS (default 5000, 100 to 60000)', () => {
    expect(loadConfig({}).redisCommandTimeoutMs).toBe(5000);
    expect(loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '250' }).redisCommandTimeoutMs).toBe(250);
    for (const bad of ['0', '99', '60001', 'soon']) {
      expect(() => loadConfig({ REDIS_COMMAND_TIMEOUT_MS: bad })).toThrow(/REDIS_COMMAND_TIMEOUT_MS/);
    }
  });
});
