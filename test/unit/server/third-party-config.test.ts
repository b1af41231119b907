import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';
import { describeThirdParty } from '../../../src/config/third-party-config.ts';

const SECRET = 's'.repeat(32);

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('PeerJS and y-webrtc configuration', () => {
  it('has the documented defaults: both on, PeerJS at / and /peerjs with key peerjs', () => {
    const { peerjs, ywebrtc } = loadConfig({}).thirdParty;
    expect(peerjs).toMatchObject({
      enabled: true,
      bases: ['/', '/peerjs/'],
      key: 'peerjs',
      discovery: false,
      aliveTimeoutMs: 60_000,
      expireTimeoutMs: 5000,
    });
    expect(ywebrtc).toMatchObject({ enabled: true, paths: ['/y-webrtc'] });
    expect(describeThirdParty(loadConfig({}).thirdParty)).toEqual({
      peerjs: 'on at /peerjs, /peerjs/peerjs (default (no TOKEN_SECRET))',
      ywebrtc: 'on at /y-webrtc (default (no TOKEN_SECRET))',
    });
  });

  it('turns both off with TOKEN_SECRET unless asked for, and off with PEERJS=false / YWEBRTC=false', () => {
    expect(loadConfig({ TOKEN_SECRET: SECRET }).thirdParty.peerjs.enabled).toBe(false);
    expect(loadConfig({ TOKEN_SECRET: SECRET }).thirdParty.ywebrtc.enabled).toBe(false);
    expect(loadConfig({ TOKEN_SECRET: SECRET, PEERJS: 'true', YWEBRTC: 'true' }).thirdParty.peerjs.enabled).toBe(true);
    expect(loadConfig({ PEERJS: 'false', YWEBRTC: 'false' }).thirdParty).toMatchObject({
      peerjs: { enabled: false, reason: 'PEERJS=false' },
      ywebrtc: { enabled: false, reason: 'YWEBRTC=false' },
    });
  });

  it('reads every variable', () => {
    const { peerjs, ywebrtc } = loadConfig({
      PEERJS_PATHS: '/a, /b/',
      PEERJS_KEY: 'k1',
      PEERJS_DISCOVERY: 'true',
      PEERJS_ALIVE_TIMEOUT_MS: '30000',
      PEERJS_EXPIRE_TIMEOUT_MS: '2000',
      YWEBRTC_PATHS: '/y1,/y2',
    }).thirdParty;
    expect(peerjs).toMatchObject({ bases: ['/a/', '/b/'], key: 'k1', discovery: true, aliveTimeoutMs: 30_000, expireTimeoutMs: 2000 });
    expect(ywebrtc.paths).toEqual(['/y1', '/y2']);
  });

  it('refuses malformed values and paths that collide with other endpoints', () => {
    expect(problems({ PEERJS: 'maybe' })[0]).toMatch(/^PEERJS="maybe" must be true or false/);
    expect(problems({ PEERJS_PATHS: 'peerjs' })[0]).toMatch(/absolute paths/);
    expect(problems({ PEERJS_KEY: 'a/b' })[0]).toMatch(/without \//);
    expect(problems({ YWEBRTC_PATHS: '/signaling' })[0]).toMatch(/YWEBRTC_PATHS uses \/signaling, which is a built-in endpoint/);
    expect(problems({ YWEBRTC_PATHS: '/peerjs' })[0]).toMatch(/YWEBRTC_PATHS uses \/peerjs, which is PEERJS_PATHS/);
    expect(problems({ YWEBRTC_PATHS: '/peerjs', PEERJS: 'false' })).toEqual([]);
  });
});
